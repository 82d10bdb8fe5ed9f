"""dh_wsc (the CLI's websocket client) against a third-party server:
Debian's python3-websockets over TLS.  Checks the upgrade, messages of every
length class (0, 125, 126, 65535, 65536 and 1 MiB bytes), a fragmented
message, a ping answered with a pong, echoes arriving intact, the closing
handshake, and refusals: an untrusted CA, a certificate for another host
name, a message over the size limit and a server that does not upgrade."""
import asyncio
import hashlib
import os
import pathlib
import ssl
import subprocess
import threading

import pytest
import websockets

from conftest import hermetic_env, make_cert
from peers import ConnectProxy

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]


def _payload(n):
    return bytes((i * 31 + 7) & 0xff for i in range(n)) if n < 4096 else os.urandom(n)


def other_name_cert(tmp):
    """A CA-capable self-signed certificate for other.example only."""
    cert, key = tmp / "other-cert.pem", tmp / "other-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=other.example",
                    "-addext", "subjectAltName=DNS:other.example",
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    return cert, key


class Server:
    """A websockets server on a thread; `script` runs per connection."""

    def __init__(self, tmp, script, cert=None):
        self.cert, self.key = cert or make_cert(tmp)
        self.script = script
        self.result = {}
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()
        assert self.ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)

        async def handler(ws, *args):
            try:
                await self.script(ws, self.result)
            except Exception as e:   # noqa: BLE001 - recorded for the test
                self.result["error"] = repr(e)

        async def main():
            self.stop = asyncio.Event()
            async with websockets.serve(handler, "127.0.0.1", 0, ssl=ctx,
                                        max_size=None, compression=None) as srv:
                self.port = srv.sockets[0].getsockname()[1]
                self.ready.set()
                await self.stop.wait()
        self.loop.run_until_complete(main())

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.th.join(10)


def probe(build, url, ca, *extra, timeout=30, **env):
    return subprocess.run([str(pathlib.Path(build) / "tools" / "wsc_probe"), url, str(ca)] +
                          [str(x) for x in extra], capture_output=True, text=True,
                          timeout=timeout, env=hermetic_env(ca=str(ca), **env))


async def full_script(ws, result):
    result["hello"] = await ws.recv()
    sent = []
    for n in SIZES:
        p = _payload(n)
        sent.append(p)
        await ws.send(p)
    await ws.send("text-message")
    await ws.send([b"frag-", b"mented-", b"message"])   # one message, three frames
    pong = await ws.ping(b"are-you-there")
    await asyncio.wait_for(pong, 10)
    result["pong"] = True
    echoed = []
    for _ in SIZES + [b"frag-mented-message"]:
        echoed.append(await ws.recv())
    result["sent"] = sent + [b"frag-mented-message"]
    result["echoed"] = echoed
    await ws.close(code=1000, reason="done")
    result["close_code"] = ws.close_code


def test_messages_ping_fragments_close(build, tmp_path):
    srv = Server(tmp_path, full_script)
    try:
        r = probe(build, "wss://127.0.0.1:%d/v1/data-channel/x" % srv.port, srv.cert)
    finally:
        srv.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error" not in srv.result, srv.result
    assert srv.result["hello"] == "hello"
    assert srv.result.get("pong") is True
    lines = [l.split() for l in r.stdout.splitlines() if l.startswith("msg ")]
    got = [(l[1], int(l[2]), l[3]) for l in lines]
    assert got[:len(SIZES)] == [("binary", len(p), hashlib.sha256(p).hexdigest())
                                for p in srv.result["sent"][:len(SIZES)]]
    assert got[len(SIZES)] == ("text", 12, hashlib.sha256(b"text-message").hexdigest())
    assert got[len(SIZES) + 1][:2] == ("binary", 19)
    assert srv.result["echoed"] == srv.result["sent"], "echoes differ"
    assert "closed" in r.stdout and "1000" in r.stdout, r.stdout
    assert srv.result["close_code"] == 1000


async def quiet_script(ws, result):
    result["hello"] = await ws.recv()
    await ws.close()


def test_untrusted_ca_refused(build, tmp_path):
    srv = Server(tmp_path, quiet_script)
    other = tmp_path / "other"
    other.mkdir()
    other_ca, _ = make_cert(other)
    try:
        r = probe(build, "wss://127.0.0.1:%d/" % srv.port, other_ca)
    finally:
        srv.close()
    assert r.returncode == 1
    assert "not trusted" in r.stdout, r.stdout
    assert "hello" not in srv.result


def test_wrong_host_name_refused(build, tmp_path):
    # a trusted certificate, but for other.example, not 127.0.0.1/localhost
    srv = Server(tmp_path, quiet_script, cert=other_name_cert(tmp_path))
    try:
        r1 = probe(build, "wss://127.0.0.1:%d/" % srv.port, srv.cert)
        r2 = probe(build, "wss://localhost:%d/" % srv.port, srv.cert)
    finally:
        srv.close()
    for r in (r1, r2):
        assert r.returncode == 1, r.stdout
        assert "not trusted" in r.stdout and "mismatch" in r.stdout, r.stdout
    assert "hello" not in srv.result


async def big_script(ws, result):
    result["hello"] = await ws.recv()
    await ws.send(b"x" * 70000)
    try:
        await ws.recv()
    except websockets.ConnectionClosed:
        pass


def test_message_over_limit_refused(build, tmp_path):
    srv = Server(tmp_path, big_script)
    try:
        r = probe(build, "wss://127.0.0.1:%d/" % srv.port, srv.cert, 65536)
    finally:
        srv.close()
    assert r.returncode == 1
    assert "over the 65536 byte limit" in r.stdout, r.stdout


def test_no_upgrade_refused(build, tmp_path):
    cert, key = make_cert(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    import socket
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def serve():
        c, _ = ls.accept()
        with ctx.wrap_socket(c, server_side=True) as t:
            t.recv(4096)
            t.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    r = probe(build, "wss://127.0.0.1:%d/" % ls.getsockname()[1], cert)
    th.join(5)
    ls.close()
    assert r.returncode == 1
    assert "websocket upgrade refused: HTTP/1.1 403 Forbidden" in r.stdout, r.stdout


def test_through_connect_proxy(build, tmp_path):
    """https_proxy is honoured with a CONNECT tunnel (TLS end to end through
    it); no_proxy naming the host goes direct."""
    srv = Server(tmp_path, full_script)
    try:
        with ConnectProxy() as proxy:
            r = probe(build, "wss://127.0.0.1:%d/v1/data-channel/x" % srv.port, srv.cert,
                      https_proxy=proxy.url)
            assert r.returncode == 0, r.stdout + r.stderr
            assert proxy.connects == ["127.0.0.1:%d" % srv.port]
            assert srv.result["echoed"] == srv.result["sent"]
            srv.result.clear()
            r = probe(build, "wss://127.0.0.1:%d/v1/data-channel/x" % srv.port, srv.cert,
                      https_proxy=proxy.url, no_proxy="localhost,127.0.0.1")
            assert r.returncode == 0, r.stdout + r.stderr
            assert proxy.connects == ["127.0.0.1:%d" % srv.port], "no_proxy ignored"
    finally:
        srv.close()


async def burst_script(ws, result):
    result["hello"] = await ws.recv()
    sent = [os.urandom(1 << 20) for _ in range(5)]
    for p in sent:
        await ws.send(p)
    echoed = [await ws.recv() for _ in sent]
    result["ok"] = echoed == sent
    await ws.close()


def test_burst_larger_than_one_read(build, tmp_path):
    """5 MiB sent back to back and then nothing: the client reads at most
    1 MiB per call (a fairness cap) and must come back for the rest
    (dh_wsc_pending) until every message is delivered and echoed."""
    srv = Server(tmp_path, burst_script)
    try:
        r = probe(build, "wss://127.0.0.1:%d/" % srv.port, srv.cert)
    finally:
        srv.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert srv.result.get("ok") is True, srv.result.keys()
    assert len([l for l in r.stdout.splitlines() if l.startswith("msg binary 1048576")]) == 5
