"""Port sessions end to end (issue 4): deckhand-gateway + a registered
deckhand-agent + a client, with a TCP echo server on the instance side as
the destination.

  - AWS-StartSSHSession (no properties.type: stdio mode, the shape of an
    ssh ProxyCommand): 2 MiB of random bytes written to the CLI's stdin come
    back on its stdout unchanged and nothing else is on stdout (no banner);
    bytes that look like a shell command are echoed literally, the agent
    starts no shell; closing stdin ends the session with exit 0;
  - the same through Debian's `/usr/bin/aws ssm start-session`, unchanged,
    with deckhand installed as its session-manager-plugin;
  - AWS-StartPortForwardingSession (LocalPortForwarding, basic mode): the
    CLI listens on the local port; two TCP clients one after the other
    both reach the destination (the agent redials after DisconnectToPort);
    ^C ends the session;
  - a destination that is the instance metadata service is refused and
    the session fails with that reason.

No timing assertions.
"""
import hashlib
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from test_agent_register import _wait_log
from test_session_e2e import agent, gateway  # noqa: F401  (fixtures)


class EchoServer:
    """TCP echo on 127.0.0.1, one thread per connection; counts accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        with c:
            while True:
                try:
                    b = c.recv(65536)
                except OSError:
                    return
                if not b:
                    return
                c.sendall(b)

    def close(self):
        self.stop = True
        self.sock.close()


@pytest.fixture
def echo():
    e = EchoServer()
    yield e
    e.close()


def _pump(proc, data, timeout=60):
    """Write data to proc's stdin while reading the same length back from
    its stdout; returns what came back (shorter on timeout or EOF)."""
    def writer():
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    got = bytearray()
    fd = proc.stdout.fileno()
    deadline = time.time() + timeout
    import select
    while len(got) < len(data) and time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            got += b
    t.join(5)
    return bytes(got)


def _stdio_session(argv, env, data):
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        got = _pump(proc, data)
        proc.stdin.close()
        rest = proc.stdout.read()
        rc = proc.wait(timeout=30)
        err = proc.stderr.read().decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return got + rest, rc, err


def test_ssh_document_forwards_bytes_never_a_shell(build, gateway, agent, echo):
    data = b"echo must-not-run-$((3+4))\n" + os.urandom(2 << 20)
    argv = [str(pathlib.Path(build) / "deckhand"), "session", "start", "--target", agent["iid"],
            "--endpoint-url", gateway.url, "--document-name", "AWS-StartSSHSession",
            "--parameters", '{"portNumber":["%d"]}' % echo.port]
    out, rc, err = _stdio_session(argv, gateway.aws_env(), data)
    assert hashlib.sha256(out).hexdigest() == hashlib.sha256(data).hexdigest(), \
        (len(out), len(data), err[-2000:])
    assert rc == 0, err[-2000:]
    log = agent["log"].read_text()
    m = re.search(r"session (\S+): port session to localhost port %d \(stdio\)" % echo.port, log)
    assert m, log[-3000:]
    assert not re.search(r"session %s: shell \d+ started" % re.escape(m.group(1)), log)
    assert _wait_log(agent["log"], r"session %s: agent_task_complete acknowledged" %
                     re.escape(m.group(1))), agent["log"].read_text()[-3000:]
    print("\n[port] stdio: %d bytes echoed through the session" % len(out))


def test_aws_cli_ssh_document_through_deckhand_plugin(build, gateway, agent, echo, tmp_path):
    plugdir = tmp_path / "bin"
    plugdir.mkdir()
    (plugdir / "session-manager-plugin").symlink_to(pathlib.Path(build).resolve() / "deckhand")
    env = gateway.aws_env()
    env["PATH"] = "%s:%s" % (plugdir, os.environ.get("PATH", "/usr/bin:/bin"))
    data = os.urandom(256 * 1024)
    argv = ["/usr/bin/aws", "ssm", "start-session", "--target", agent["iid"], "--endpoint-url",
            gateway.url, "--document-name", "AWS-StartSSHSession",
            "--parameters", "portNumber=%d" % echo.port]
    out, rc, err = _stdio_session(argv, env, data)
    assert out == data, (len(out), len(data), err[-2000:])
    assert rc == 0, err[-2000:]


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _read_until(proc, pattern, timeout=30):
    import select
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, buf)
        if m:
            return m, buf
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            b = os.read(proc.stdout.fileno(), 65536)
            if not b:
                break
            buf += b
    raise AssertionError("no %r in %r (stderr %r)" % (pattern, buf[-2000:], proc.stderr.read()[-2000:] if proc.poll() is not None else b""))


def test_local_port_forwarding_two_clients(build, gateway, agent, echo):
    local = _free_port()
    argv = [str(pathlib.Path(build) / "deckhand"), "session", "start", "--target", agent["iid"],
            "--endpoint-url", gateway.url, "--document-name", "AWS-StartPortForwardingSession",
            "--parameters", '{"portNumber":["%d"],"localPortNumber":["%d"]}' % (echo.port, local)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=gateway.aws_env())
    try:
        _read_until(proc, rb"Port %d opened for sessionId \S+\.\s+Waiting for connections" % local)
        for i in range(2):
            payload = os.urandom(100000) + b"client-%d" % i
            with socket.create_connection(("127.0.0.1", local), timeout=30) as s:
                s.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    b = s.recv(65536)
                    if not b:
                        break
                    got += b
            assert got == payload, (i, len(got))
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0, proc.stderr.read().decode(errors="replace")[-2000:]
    assert echo.accepted >= 2    # the agent redialled for the second client


def test_metadata_service_destination_refused(build, gateway, agent):
    argv = [str(pathlib.Path(build) / "deckhand"), "session", "start", "--target", agent["iid"],
            "--endpoint-url", gateway.url, "--document-name",
            "AWS-StartPortForwardingSessionToRemoteHost", "--parameters",
            '{"host":["169.254.169.254"],"portNumber":["80"],"localPortNumber":["%d"]}' % _free_port()]
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=gateway.aws_env(),
                         timeout=60)
    text = (out.stdout + out.stderr).decode(errors="replace")
    assert "Connection to destination port failed" in text, text[-2000:]
    assert out.returncode == 1, text[-2000:]
    assert re.search(r"port failed: 169\.254\.169\.254 port 80 is not an allowed destination",
                     agent["log"].read_text()), agent["log"].read_text()[-3000:]


@pytest.fixture
def sshd(tmp_path):
    """Debian's OpenSSH server on a loopback port, its own keys and config."""
    if not os.path.exists("/usr/sbin/sshd") or not os.path.exists("/usr/bin/ssh"):
        pytest.skip("OpenSSH is not installed")
    d = tmp_path / "ssh"
    d.mkdir()
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                       check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    port = _free_port()
    (d / "sshd_config").write_text(
        "Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\nPidFile %s\n"
        % (port, d / "host", d / "authorized_keys", d / "sshd.pid"))
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "wb"))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield {"port": port, "key": d / "client", "log": d / "sshd.log"}
    proc.terminate()
    proc.wait(timeout=10)


def test_openssh_through_ssh_document(build, gateway, agent, sshd, tmp_path):
    """Real OpenSSH at both ends: ssh with the ProxyCommand AWS documents
    (`aws ssm start-session --document-name AWS-StartSSHSession`, Debian's
    aws CLI v2 with deckhand as its plugin) and once with deckhand itself,
    to Debian's sshd on the instance: a command runs and 1 MiB of stdin
    arrives intact."""
    plugdir = tmp_path / "bin"
    plugdir.mkdir()
    (plugdir / "session-manager-plugin").symlink_to(pathlib.Path(build).resolve() / "deckhand")
    env = gateway.aws_env()
    env["PATH"] = "%s:%s" % (plugdir, os.environ.get("PATH", "/usr/bin:/bin"))
    proxies = [
        "/usr/bin/aws ssm start-session --endpoint-url %s --target %%h --document-name"
        " AWS-StartSSHSession --parameters portNumber=%%p" % gateway.url,
        "%s session start --endpoint-url %s --target %%h --document-name AWS-StartSSHSession"
        " --parameters '{\"portNumber\":[\"%%p\"]}'" % (pathlib.Path(build) / "deckhand", gateway.url),
    ]
    data = os.urandom(1 << 20)
    for proxy in proxies:
        out = subprocess.run(
            ["/usr/bin/ssh", "-F", "/dev/null", "-i", str(sshd["key"]), "-p", str(sshd["port"]),
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "BatchMode=yes", "-o", "ProxyCommand=" + proxy,
             "root@" + agent["iid"], "echo ssh-ok-$((6*7)); sha256sum"],
            input=data, capture_output=True, env=env, timeout=120)
        text = out.stdout.decode(errors="replace")
        assert out.returncode == 0, (proxy, out.stderr.decode(errors="replace")[-2000:])
        assert "ssh-ok-42" in text, text
        assert hashlib.sha256(data).hexdigest() in text, text
