"""deckhand-agent keeps its event loop free while an HTTPS call hangs.

The agent's SSM endpoint is a TLS forwarder in front of a real
deckhand-gateway: RequestManagedInstanceRoleToken (and everything else) is
relayed to the gateway, and so is the first UpdateInstanceInformation; later
heartbeats are read and never answered.  Once the control channel (straight
to the gateway) is open it must stay up past two ping intervals while a
heartbeat hangs, the
gateway must see the instance Online through it, and SIGTERM must end the
agent promptly (bounded loosely, < 3 s; a blocking call on the loop would
take the HTTP client's 20 s timeout twice).  The stop time is printed.
"""
import http.client
import http.server
import json
import re
import socketserver
import ssl
import subprocess
import threading
import time

from conftest import hermetic_env, make_cert
from test_agent_register import REGION, Gateway, _agent_bin, _register, _stop, _wait_log, _wait_online

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        fw = self.server.fw
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        target = self.headers.get("X-Amz-Target", "")
        with fw.lock:
            fw.targets.append(target)
        if target.endswith(".UpdateInstanceInformation"):
            with fw.lock:
                fw.heartbeats += 1
                hang = fw.heartbeats > 1  # the first one goes through
                fw.hung += hang
            if hang:
                fw.stop_ev.wait(120)      # never answer
                self.close_connection = True
                return
        ctx = ssl.create_default_context(cafile=str(fw.upstream_ca))
        conn = http.client.HTTPSConnection("127.0.0.1", fw.upstream_port, context=ctx, timeout=20)
        try:
            conn.request("POST", self.path, body, dict(self.headers.items()))
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class HangingForwarder:
    """TLS on 127.0.0.1:0; relays to the gateway, swallows heartbeats."""

    def __init__(self, cert, key, upstream_port, upstream_ca):
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.targets, self.hung, self.heartbeats = [], 0, 0
        self.upstream_port, self.upstream_ca = upstream_port, upstream_ca
        self.server = _TLSServer(("127.0.0.1", 0), _Handler)
        self.server.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.ctx.load_cert_chain(str(cert), str(key))
        self.server.fw = self
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        self.stop_ev.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_hung_heartbeat_keeps_loop_alive(build, tmp_path, capsys):
    if not (build / "deckhand-gateway").exists():
        pytest.skip("deckhand-gateway is not built in %s" % build)
    gw = Gateway(build, tmp_path / "gw")
    fw = None
    try:
        act = gw.aws("ssm", "create-activation", "--iam-role", "SSMServiceRole",
                     "--registration-limit", "1")
        state = tmp_path / "agent"
        reg = _register(build, gw, act, state)
        assert reg.returncode == 0, reg.stderr
        iid = re.search(r"instance (mi-[0-9a-f]+)", reg.stdout).group(1)

        certdir = tmp_path / "fwcert"
        certdir.mkdir()
        cert, key = make_cert(certdir)
        fw = HangingForwarder(cert, key, gw.port, gw.ca)
        bundle = tmp_path / "bundle.pem"
        bundle.write_text(gw.ca.read_text() + cert.read_text())
        cfg = tmp_path / "agent.json"
        cfg.write_text(json.dumps({
            "endpoints": {"ssm": fw.url, "ssmmessages": gw.url},
            "control_channel": {"ping_seconds": 5, "initial_backoff_ms": 200,
                                "max_backoff_seconds": 2}}))
        log_path = tmp_path / "agent.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(_agent_bin(build)), "run", "--config", str(cfg), "--state", str(state)],
                stdout=log, stderr=log, env=hermetic_env(ca=bundle))
            try:
                assert _wait_log(log_path, r"control channel: open"), log_path.read_text()
                # the heartbeat sent when the channel opened hangs
                deadline = time.time() + 20
                while time.time() < deadline and fw.hung < 1:
                    time.sleep(0.05)
                with fw.lock:
                    assert fw.hung >= 1, fw.targets
                assert _wait_online(gw, iid) is not None, log_path.read_text()
                # past two ping intervals with the heartbeat still unanswered
                time.sleep(11)
                text = log_path.read_text()
                assert proc.poll() is None, text
                assert len(re.findall(r"heartbeat sent", text)) == 1, text
                assert "control channel: closed" not in text, text
                assert len(re.findall(r"control channel: open", text)) == 1, text
                assert _wait_online(gw, iid) is not None
            finally:
                rc, stop_s = _stop(proc)
        text = log_path.read_text()
        assert rc == 0, text
        assert stop_s < 3.0, "SIGTERM took %.3f s: %s" % (stop_s, text)
        assert "abandoned" in text
        with capsys.disabled():
            print("\n[agent] SIGTERM -> exit with a hung heartbeat: %.3f s" % stop_s)
    finally:
        if fw is not None:
            fw.stop()
        gw.stop()
