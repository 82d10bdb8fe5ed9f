"""Shell sessions end to end: deckhand-gateway + a registered deckhand-agent
+ `deckhand session start` driven through a pty (os.openpty), on loopback.

Covered: commands run and their output arrives, the terminal size reaches
the remote shell and a SIGWINCH resize is seen by `stty size`, a 50 MB file
`cat` arrives byte for byte (sha256 of the bytes between two markers),
the shell's exit ends the session with the plugin's exit message, a KMS
session (gateway KMS key: GenerateDataKey/Decrypt, EncChallenge) and Run As
(runAsEnabled with runAsDefaultUser=nobody).  Numbers are printed, never
asserted.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from peers import ConnectProxy
from conftest import hermetic_env
from test_agent_register import Gateway, _register, _wait_log, _wait_online, _agent_env, REGION


@pytest.fixture
def gateway(build, tmp_path, request):
    if not (pathlib.Path(build) / "deckhand-gateway").exists():
        pytest.skip("deckhand-gateway is not built")
    m = request.node.get_closest_marker("gateway_args")
    gw = Gateway(build, tmp_path / "gw", extra=m.args if m else ())
    yield gw
    gw.stop()


@contextlib.contextmanager
def start_agent(build, gateway, tmp_path, **env_extra):
    """Register an agent with gateway and run it (env_extra: more
    environment): {"iid", "log", "proc"}, stopped when the block ends."""
    act = gateway.aws("ssm", "create-activation", "--iam-role", "SSMServiceRole",
                      "--registration-limit", "1")
    state = tmp_path / "agent"
    reg = _register(build, gateway, act, state)
    assert reg.returncode == 0, reg.stderr
    iid = re.search(r"instance (mi-[0-9a-f]+)", reg.stdout).group(1)
    log_path = tmp_path / "agent.log"
    log = open(log_path, "wb")
    env = _agent_env(gateway, DECKHAND_SESSION_SPOOL_DIR=str(tmp_path / "spool"), **env_extra)
    proc = subprocess.Popen([str(pathlib.Path(build) / "deckhand-agent"), "run", "--state", str(state)],
                            stdout=log, stderr=log, env=env)
    try:
        assert _wait_online(gateway, iid) is not None, log_path.read_text()
        assert _wait_log(log_path, r"control channel: open"), log_path.read_text()
        yield {"iid": iid, "log": log_path, "proc": proc}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def agent(build, gateway, tmp_path):
    with start_agent(build, gateway, tmp_path) as a:
        yield a


def start_session_boto(gateway, target):
    """StartSession through botocore as the gateway's admin: the response."""
    import configparser
    import botocore.session
    cp = configparser.ConfigParser()
    cp.read(gateway.state / "admin.credentials")
    ssm = botocore.session.Session().create_client(
        "ssm", region_name=REGION, endpoint_url=gateway.url, verify=str(gateway.ca),
        aws_access_key_id=cp["default"]["aws_access_key_id"],
        aws_secret_access_key=cp["default"]["aws_secret_access_key"])
    return ssm.start_session(Target=target)


class Cli:
    """`deckhand session start` on a pty we own."""

    def __init__(self, build, gw, target, rows=40, cols=120, extra=(), env_extra=None, argv=None):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = gw.aws_env()
        env.update(env_extra or {})
        self.proc = subprocess.Popen(
            argv or [str(pathlib.Path(build) / "deckhand"), "session", "start", "--target", target,
                     "--endpoint-url", gw.url] + list(extra),
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.buf = bytearray()

    def read_until(self, pattern, timeout=30):
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        pos = 0
        while time.time() < deadline:
            m = rx.search(self.buf, pos)
            if m:
                return m
            pos = max(0, len(self.buf) - 256)
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(self.master, 1 << 20)
                except OSError:
                    break
                if not chunk:
                    break
                self.buf += chunk
        raise AssertionError("timeout waiting for %r; got %r" % (pattern, bytes(self.buf[-2000:])))

    def send(self, text):
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc.send_signal(signal.SIGWINCH)

    def finish(self, timeout=20):
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    self.buf += os.read(self.master, 1 << 20)
                except OSError:
                    pass
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait()
        try:
            while True:
                r, _, _ = select.select([self.master], [], [], 0.1)
                if not r:
                    break
                chunk = os.read(self.master, 1 << 20)
                if not chunk:
                    break
                self.buf += chunk
        except OSError:
            pass
        os.close(self.master)
        return rc


def echo_session(cli, cmd, expect):
    """One command in a fresh session, then exit: the session starts,
    `expect` (a bytes pattern) appears, the shell's exit ends the session
    with the plugin's message, and the CLI exits 0."""
    try:
        cli.read_until(rb"Starting session with SessionId")
        cli.send(cmd + "\r")
        cli.read_until(expect)
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0, bytes(cli.buf[-2000:])


def test_shell_commands_resize_exit(build, gateway, agent, capsys):
    cli = Cli(build, gateway, agent["iid"], rows=33, cols=111)
    try:
        m = cli.read_until(rb"Starting session with SessionId: (\S+)")
        sid = m.group(1).decode()
        cli.send("echo marker-$((6*7))\r")
        cli.read_until(rb"marker-42")
        cli.send("stty size\r")
        cli.read_until(rb"33 111")
        cli.resize(50, 140)
        time.sleep(0.3)
        cli.send("stty size; echo TERM=$TERM\r")
        cli.read_until(rb"50 140")
        cli.read_until(rb"TERM=xterm-256color")
        cli.send("id -un\r")
        cli.read_until(rb"ssm-user")
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId: " + re.escape(sid).encode() +
                       rb"|SessionId: " + re.escape(sid).encode(), timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0, bytes(cli.buf[-2000:])
    assert _wait_log(agent["log"], r"session %s: agent_task_complete acknowledged" % re.escape(sid)), \
        agent["log"].read_text()[-3000:]


def _status(pid, key):
    txt = pathlib.Path("/proc/%d/status" % pid).read_text()
    return re.search(r"^%s:\s+(.*)$" % key, txt, re.M).group(1).strip()


def test_worker_forked_by_single_threaded_spawner(build, gateway, agent):
    """The agent runs several threads (HTTPS worker, transcript shipper), so
    it never forks workers itself: its single-threaded spawner, started
    before those threads, does.  Checked in /proc while a session runs."""
    cli = Cli(build, gateway, agent["iid"])
    try:
        cli.read_until(rb"Starting session with SessionId")
        cli.send("echo up-$((2+3))\r")
        cli.read_until(rb"up-5")
        wpid = int(re.findall(r"worker (\d+) started", agent["log"].read_text())[-1])
        spawner = int(_status(wpid, "PPid"))
        assert spawner != agent["proc"].pid
        assert pathlib.Path("/proc/%d/comm" % spawner).read_text().strip() == "dh-spawner"
        assert pathlib.Path("/proc/%d/comm" % wpid).read_text().strip() == "deckhand-agent"
        assert int(_status(spawner, "PPid")) == agent["proc"].pid
        assert _status(spawner, "Threads") == "1"
        assert int(_status(agent["proc"].pid, "Threads")) > 1
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0, bytes(cli.buf[-2000:])


def test_spawner_killed_sessions_go_on(build, gateway, agent):
    """kill -9 of the spawner: the running session goes on and its end is
    still reported (agent_task_complete acknowledged); the next session's
    worker is forked by the agent itself, and says so in the log."""
    cli = Cli(build, gateway, agent["iid"])
    try:
        sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
        cli.send("echo one-$((1+1))\r")
        cli.read_until(rb"one-2")
        wpid = int(re.findall(r"worker (\d+) started", agent["log"].read_text())[-1])
        spawner = int(_status(wpid, "PPid"))
        os.kill(spawner, signal.SIGKILL)
        cli.send("echo still-$((2+2))\r")
        cli.read_until(rb"still-4")
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0, bytes(cli.buf[-2000:])
    assert _wait_log(agent["log"], r"session %s: agent_task_complete acknowledged" % re.escape(sid)), \
        agent["log"].read_text()[-3000:]
    echo_session(Cli(build, gateway, agent["iid"]), "echo two-$((3+3))", rb"two-6")
    assert "the agent forks this worker itself" in agent["log"].read_text()


def test_typeahead_is_not_lost(build, gateway, agent):
    """A line typed before the session is up (before the CLI switches the
    terminal to raw mode) still runs: the switch must not flush input."""
    cli = Cli(build, gateway, agent["iid"])
    try:
        cli.send("echo early-$((3*3))\r")
        cli.read_until(rb"early-9", timeout=30)
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0, bytes(cli.buf[-2000:])


def test_session_through_https_proxy(build, gateway, agent):
    """With https_proxy set, StartSession (libcurl) and the data-channel
    websocket (dh_wsc) both go through the CONNECT proxy."""
    port = gateway.url.rsplit(":", 1)[1]
    with ConnectProxy() as proxy:
        echo_session(Cli(build, gateway, agent["iid"], env_extra={"https_proxy": proxy.url}),
                     "echo proxied-$((5*5))", rb"proxied-25")
        assert len(proxy.connects) >= 2, proxy.connects
        assert all(c == "127.0.0.1:" + port for c in proxy.connects), proxy.connects


def test_worker_data_channel_refuses_what_it_cannot_verify(build, gateway, tmp_path):
    """The session worker's data-channel websocket verifies the gateway as
    every TLS client of the agent does.  The agent runs behind a CONNECT
    proxy that, once the control channel is up, answers new tunnels itself:
    first with a certificate for the right address from a CA the agent does
    not trust, then with one from a CA the agent does trust (it is in its
    bundle) for another host name; each met by CreateDataChannel (libcurl)
    and by the websocket (lws).  Nothing is sent to the impostor (lws
    aborts the handshake; libcurl closes after it, on the wrong name), no
    shell output arrives; with honest tunnelling again the next session
    runs."""
    from conftest import make_cert
    from test_wsc_peer import other_name_cert
    (tmp_path / "bad").mkdir()
    bad = make_cert(tmp_path / "bad")                   # untrusted, 127.0.0.1
    other = other_name_cert(tmp_path)                   # trusted, other.example
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pathlib.Path(gateway.ca).read_bytes() + other[0].read_bytes())
    gateway.ca = bundle
    with ConnectProxy() as proxy:
        with start_agent(build, gateway, tmp_path, https_proxy=proxy.url) as ag:
            iid, log_path = ag["iid"], ag["log"]
            for cert, skip in ((bad, 0), (bad, 1), (other, 0), (other, 1)):
                # skip 0: CreateDataChannel (libcurl) meets the impostor;
                # skip 1: it goes through, the websocket (lws) meets it
                proxy.mitm_skip = skip
                proxy.mitm = cert
                n0 = len(proxy.mitm_results)
                cli = Cli(build, gateway, iid)
                try:
                    deadline = time.time() + 30
                    while len(proxy.mitm_results) == n0 and time.time() < deadline:
                        time.sleep(0.1)
                    time.sleep(1)
                    cli.send("echo mitm-$((3*3))\r")
                    time.sleep(1)
                finally:
                    cli.proc.kill()
                    cli.finish(timeout=5)
                proxy.mitm = None
                assert proxy.mitm_results[n0:], "the worker never dialled its data channel"
                assert "leaked" not in proxy.mitm_results[n0:], proxy.mitm_results
                assert b"mitm-9" not in cli.buf, bytes(cli.buf[-2000:])
                if skip:
                    assert _wait_log(log_path, r"data channel: connection error"), \
                        log_path.read_text()[-3000:]
            proxy.mitm = None
            echo_session(Cli(build, gateway, iid), "echo honest-$((4*4))", rb"honest-16")


def test_exit_code_reaches_cli(build, gateway, agent):
    """The shell's exit status travels agent (Terminating) -> gateway
    (channel_closed ExitCode) -> CLI exit status."""
    cli = Cli(build, gateway, agent["iid"])
    try:
        cli.read_until(rb"Starting session with SessionId: (\S+)")
        cli.send("echo ready-$((2+3))\r")
        cli.read_until(rb"ready-5")
        cli.send("exit 7\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 7, bytes(cli.buf[-2000:])


def _session_doc(gateway, tmp_path, name, inputs):
    content = {"schemaVersion": "1.0", "description": "deckhand test preferences",
               "sessionType": "Standard_Stream", "inputs": inputs}
    path = tmp_path / (name + ".json")
    path.write_text(json.dumps(content))
    gateway.aws("ssm", "create-document", "--name", name, "--document-type", "Session",
                "--content", "file://%s" % path)


def test_cat_50mb_every_byte(build, gateway, agent, capsys):
    size = 50 * 1024 * 1024
    cli = Cli(build, gateway, agent["iid"])
    try:
        cli.read_until(rb"Starting session with SessionId: (\S+)")
        cli.send("f=$(mktemp); head -c %d /dev/urandom > $f; echo SUM=$(sha256sum < $f | cut -c1-64)\r" % size)
        want = cli.read_until(rb"SUM=([0-9a-f]{64})", timeout=60).group(1).decode()
        cli.buf.clear()
        cli.send("stty raw -echo; printf 'BEGIN-%s' XYZZY; cat $f; printf 'END-%s' XYZZY; stty sane; rm -f $f\r")
        cli.read_until(rb"BEGIN-XYZZY", timeout=30)
        t0 = time.monotonic()
        cli.read_until(rb"END-XYZZY", timeout=240)
        dt = time.monotonic() - t0
        data = bytes(cli.buf)
        body = data[data.index(b"BEGIN-XYZZY") + 11:data.rindex(b"END-XYZZY")]
        assert len(body) == size
        assert hashlib.sha256(body).hexdigest() == want
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0
    with capsys.disabled():
        print("\n[session] cat 50 MiB through gateway -> deckhand: %.2f s, %.1f MB/s"
              % (dt, size / dt / 1e6))


def test_kms_session(build, gateway, agent, tmp_path):
    key = gateway.aws("kms", "create-key", "--description", "session test")["KeyMetadata"]["KeyId"]
    _session_doc(gateway, tmp_path, "deckhand-kms", {"kmsKeyId": key})
    cli = Cli(build, gateway, agent["iid"], extra=("--document-name", "deckhand-kms"))
    try:
        cli.read_until(rb"Starting session with SessionId: (\S+)")
        cli.read_until(rb"This session is encrypted using AWS KMS\.")
        cli.send("echo kms-$((40+2))\r")
        cli.read_until(rb"kms-42")
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0
    log = agent["log"].read_text()
    assert "kms on" in log


def test_run_as(build, gateway, agent, tmp_path):
    _session_doc(gateway, tmp_path, "deckhand-runas", {"runAsEnabled": True, "runAsDefaultUser": "nobody"})
    cli = Cli(build, gateway, agent["iid"], extra=("--document-name", "deckhand-runas"))
    try:
        cli.read_until(rb"Starting session with SessionId: (\S+)")
        # Type at the first prompt, as a person would: under ASan on a loaded
        # machine a line typed before the shell started was once not run
        # (recorded in the issue notes).
        cli.read_until(rb"\$ ", timeout=60)
        cli.send("echo who=$(id -un)\r")
        cli.read_until(rb"who=nobody", timeout=60)
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0


def test_run_as_root_refused(build, gateway, agent, tmp_path):
    _session_doc(gateway, tmp_path, "deckhand-root", {"runAsEnabled": True, "runAsDefaultUser": "root"})
    cli = Cli(build, gateway, agent["iid"], extra=("--document-name", "deckhand-root"))
    try:
        cli.read_until(rb"Starting session with SessionId: (\S+)")
        cli.read_until(rb"sessions as root are refused")
        cli.read_until(rb"Exiting session with sessionId|SessionId: \S+ : ", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0


def test_transcript_shipped_to_logs_and_s3(build, gateway, agent, tmp_path):
    gateway.aws("logs", "create-log-group", "--log-group-name", "/deckhand/sessions")
    gateway.aws("s3api", "create-bucket", "--bucket", "session-logs")
    _session_doc(gateway, tmp_path, "deckhand-audit",
                 {"cloudWatchLogGroupName": "/deckhand/sessions", "cloudWatchStreamingEnabled": True,
                  "cloudWatchEncryptionEnabled": False, "s3EncryptionEnabled": False,
                  "s3BucketName": "session-logs", "s3KeyPrefix": "ssm/"})
    cli = Cli(build, gateway, agent["iid"], extra=("--document-name", "deckhand-audit"))
    try:
        sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
        cli.send("echo audited-$((20+3))\r")
        cli.read_until(rb"audited-23")
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0
    deadline = time.time() + 30
    events, objects = "", []
    while time.time() < deadline:
        try:
            events = json.dumps(gateway.aws("logs", "get-log-events", "--log-group-name", "/deckhand/sessions",
                                            "--log-stream-name", sid))
        except AssertionError:
            events = ""
        objects = [o["Key"] for o in gateway.aws("s3api", "list-objects-v2", "--bucket",
                                                 "session-logs").get("Contents", [])]
        if "audited-23" in events and any(sid in k for k in objects):
            break
        time.sleep(0.5)
    assert "audited-23" in events, agent["log"].read_text()[-3000:]
    assert any(sid in k for k in objects), (objects, agent["log"].read_text()[-3000:])


def _failed_session(build, gateway, agent, doc):
    cli = Cli(build, gateway, agent["iid"], extra=("--document-name", doc))
    try:
        cli.read_until(rb"Starting session with SessionId: (\S+)")
        cli.read_until(rb"We couldn't start the session because encryption is not set up", timeout=30)
        cli.read_until(rb"Exiting session with sessionId|SessionId: \S+ : ", timeout=30)
    finally:
        cli.finish()
    return bytes(cli.buf)


def test_encryption_checks_before_the_shell(build, gateway, agent, tmp_path):
    """cloudWatchEncryptionEnabled / s3EncryptionEnabled: the worker checks
    the log group's kmsKeyId and the bucket's default encryption before the
    shell starts and fails the session when encryption is missing, as AWS
    does.  Buckets always have SSE-S3 by default (as on AWS since 2023, and
    DeleteBucketEncryption resets to it), so the S3 refusal is covered
    against moto_server in test_transcript_moto.py."""
    gateway.aws("s3api", "create-bucket", "--bucket", "enc-bucket")
    gateway.aws("logs", "create-log-group", "--log-group-name", "/plain/group")
    _session_doc(gateway, tmp_path, "needs-cw-enc",
                 {"cloudWatchLogGroupName": "/plain/group", "cloudWatchEncryptionEnabled": True,
                  "cloudWatchStreamingEnabled": True})
    _session_doc(gateway, tmp_path, "needs-s3-enc",
                 {"s3BucketName": "enc-bucket", "s3EncryptionEnabled": True,
                  "cloudWatchEncryptionEnabled": False})
    out = _failed_session(build, gateway, agent, "needs-cw-enc")
    assert b"CloudWatch Logs log group /plain/group" in out, out[-2000:]
    echo_session(Cli(build, gateway, agent["iid"], extra=("--document-name", "needs-s3-enc")),
                 "echo enc-ok-$((40+2))", rb"enc-ok-42")


def test_profile_credential_process(build, gateway, agent, tmp_path):
    """`--profile P` whose credentials come from credential_process (as SSO
    helpers and aws-vault provide them): the same config works for Debian's
    aws CLI v2 (botocore runs the process too) and for `deckhand session
    start`; expired process credentials are refused with a clear message."""
    import configparser
    cp = configparser.ConfigParser()
    cp.read(gateway.state / "admin.credentials")
    ak, sk = cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"]
    calls = tmp_path / "calls"
    helper = tmp_path / "creds helper.py"     # a space: the line is split like shlex
    helper.write_text(
        "import json, sys\n"
        "open(%r, 'a').write('x')\n"
        "exp = '2020-01-01T00:00:00Z' if sys.argv[1] == 'old' else '2999-01-01T00:00:00Z'\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': %r, 'SecretAccessKey': %r,"
        " 'Expiration': exp}))\n" % (str(calls), ak, sk))
    cfg = tmp_path / "config"
    cfg.write_text("[profile ops]\nregion = %s\ncredential_process = /usr/bin/python3 '%s' fresh\n"
                   "[profile stale]\nregion = %s\ncredential_process = /usr/bin/python3 '%s' old\n"
                   % (REGION, helper, REGION, helper))
    env = {"AWS_CONFIG_FILE": str(cfg), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_REGION": ""}
    peer_env = gateway.aws_env()
    peer_env.update(env)
    del peer_env["AWS_REGION"]    # the profile's region, for both clients
    out = subprocess.run(["/usr/bin/aws", "--endpoint-url", gateway.url, "--profile", "ops",
                          "ssm", "describe-instance-information", "--output", "json"],
                         env=peer_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert agent["iid"] in out.stdout
    peer_calls = len(calls.read_text())
    echo_session(Cli(build, gateway, agent["iid"], extra=("--profile", "ops"), env_extra=env),
                 "echo via-process-$((6*6))", rb"via-process-36")
    assert len(calls.read_text()) > peer_calls
    stale_env = dict(peer_env)
    stale = subprocess.run([str(pathlib.Path(build) / "deckhand"), "session", "start", "--target",
                            agent["iid"], "--endpoint-url", gateway.url, "--profile", "stale"],
                           env=stale_env, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    assert stale.returncode != 0
    assert "profile stale" in stale.stderr and "expired" in stale.stderr, stale.stderr
    assert sk not in stale.stderr + stale.stdout


def test_aws_cli_start_session_runs_deckhand_as_plugin(build, gateway, agent, tmp_path):
    """`/usr/bin/aws ssm start-session` (Debian's aws CLI v2, unchanged)
    against the gateway, with deckhand installed as session-manager-plugin:
    the aws CLI's StartSession is answered as it expects, it hands the
    session to deckhand with the plugin's command line, and the shell works
    end to end, KMS included; the token is blanked from the plugin's argv."""
    plugdir = tmp_path / "bin"
    plugdir.mkdir()
    (plugdir / "session-manager-plugin").symlink_to(pathlib.Path(build).resolve() / "deckhand")
    env = {"PATH": "%s:%s" % (plugdir, os.environ.get("PATH", "/usr/bin:/bin"))}
    key = gateway.aws("kms", "create-key", "--description", "plugin test")["KeyMetadata"]["KeyId"]
    _session_doc(gateway, tmp_path, "deckhand-plugin-kms", {"kmsKeyId": key})
    for doc in (None, "deckhand-plugin-kms"):
        argv = ["/usr/bin/aws", "ssm", "start-session", "--target", agent["iid"],
                "--endpoint-url", gateway.url] + (["--document-name", doc] if doc else [])
        cli = Cli(build, gateway, agent["iid"], env_extra=env, argv=argv)
        try:
            sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
            if doc:
                cli.read_until(rb"This session is encrypted using AWS KMS\.")
            cli.send("echo via-aws-$((4*4))\r")
            cli.read_until(rb"via-aws-16")
            kids = subprocess.run(["pgrep", "-P", str(cli.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
            assert kids, "the aws CLI runs no plugin"
            cmdline = pathlib.Path("/proc/%s/cmdline" % kids[0]).read_bytes()
            assert b"session-manager-plugin" in cmdline and b"TokenValue" not in cmdline, cmdline
            cli.send("exit\r")
            cli.read_until(rb"Exiting session with sessionId: %s" % re.escape(sid).encode(), timeout=30)
        finally:
            rc = cli.finish()
        assert rc == 0, bytes(cli.buf[-2000:])
    assert "kms on" in agent["log"].read_text()


def test_plugin_legacy_three_argument_form(build, gateway, agent, tmp_path):
    """Older aws CLIs call the plugin with RESPONSE REGION StartSession
    only: the session runs (the data channel comes from the StreamUrl)."""
    r = start_session_boto(gateway, agent["iid"])
    resp = json.dumps({k: r[k] for k in ("SessionId", "TokenValue", "StreamUrl")})
    plug = tmp_path / "session-manager-plugin"
    plug.symlink_to(pathlib.Path(build).resolve() / "deckhand")
    cli = Cli(build, gateway, agent["iid"], argv=[str(plug), resp, REGION, "StartSession"])
    try:
        cli.read_until(rb"Starting session with SessionId: " + re.escape(r["SessionId"]).encode())
        cli.send("echo legacy-$((5*5))\r")
        cli.read_until(rb"legacy-25")
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0, bytes(cli.buf[-2000:])


def test_interactive_command_document(build, gateway, agent, tmp_path):
    """AWS-StartInteractiveCommand (sessionType InteractiveCommands): the
    agent runs the document's properties.linux.commands with the command
    parameter substituted, on a pty as the session user, instead of a
    shell; the session ends with the command and its exit status."""
    cli = Cli(build, gateway, agent["iid"], extra=(
        "--document-name", "AWS-StartInteractiveCommand",
        "--parameters", '{"command":["echo ic-$((6*7)) $(id -un); exit 3"]}'))
    try:
        cli.read_until(rb"Starting session with SessionId")
        cli.read_until(rb"ic-42 ssm-user")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 3, bytes(cli.buf[-2000:])


@pytest.mark.gateway_args("--session-minute-ms", "1000")
def test_idle_timeout_and_max_duration_end_sessions(build, gateway, agent, tmp_path):
    """With the gateway's session minute shortened to 1 s: a session left
    idle for idleSessionTimeout ends with the service's text, and a busy
    one ends at maxSessionDuration; the CLI exits 0 as the plugin does and
    the worker reports the session cancelled."""
    _session_doc(gateway, tmp_path, "short-idle", {"idleSessionTimeout": "2"})
    cli = Cli(build, gateway, agent["iid"], extra=("--document-name", "short-idle"))
    try:
        sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
        cli.send("echo idle-$((1+1))\r")
        cli.read_until(rb"idle-2")
        cli.read_until(rb"Your session timed out due to inactivity", timeout=30)
    finally:
        rc = cli.finish()
    assert rc == 0, bytes(cli.buf[-2000:])
    assert _wait_log(agent["log"], r"session %s: .*Cancelled" % re.escape(sid)), \
        agent["log"].read_text()[-3000:]

    _session_doc(gateway, tmp_path, "short-max", {"idleSessionTimeout": "60",
                                                   "maxSessionDuration": "6"})
    cli = Cli(build, gateway, agent["iid"], extra=("--document-name", "short-max"))
    try:
        sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
        cli.send("echo busy-$((2+2))\r")
        # a slow start (sanitizer builds) may already use up the 6 s
        cli.read_until(rb"busy-4|maximum duration")
        t0 = time.time()
        while time.time() - t0 < 30 and b"maximum duration" not in cli.buf:
            cli.send("echo tick\r")   # input keeps the idle timer away
            try:
                cli.read_until(rb"maximum duration", timeout=0.5)
            except AssertionError:
                pass
        assert b"maximum duration" in cli.buf, bytes(cli.buf[-2000:])
    finally:
        rc = cli.finish()
    assert rc == 0, bytes(cli.buf[-2000:])
