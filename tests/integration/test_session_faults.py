"""Shell-session fault tolerance (issue 4): deckhand-gateway + a registered
deckhand-agent + `deckhand session start` on a pty, on loopback, with
connections broken under a live session.  Transcripts go to the gateway's
own S3 and CloudWatch Logs (session document with s3BucketName,
cloudWatchLogGroupName, cloudWatchStreamingEnabled).

  - kill -9 of the gateway while numbered output streams, 3 s down, restart
    on the same state dir and port: the gateway adopts the stored session
    (SQLite), the agent's worker reopens its data channel with a fresh
    CreateDataChannel token, the CLI (through a front end that holds new
    connections during the restart) calls ResumeSession; every line
    arrives once, in order, in the CLI, in the S3 text transcript and in
    CloudWatch; a marker typed after the restart runs once; the chain
    record verifies with `deckhand transcript verify`, sealed, no gaps;
  - the same with the CLI talking to the gateway directly: its
    ResumeSession fails while the gateway is down and is retried;
  - gateway and CLI both killed, gateway restarted: the agent rejoins the
    adopted session and TerminateSession ends it cleanly with a sealed,
    verifying transcript;
  - the CLI's websocket cut by a TCP forwarder (TLS passes through) during
    line output and again during an 8 MiB cat: the CLI resumes each time,
    lines arrive once and in order, the cat's bytes hash like the file, a
    line typed while disconnected runs once;
  - CloudWatch Logs unreachable for a while (the agent's logs endpoint is
    a forwarder that drops and refuses connections): keystrokes and output
    go on, nothing reaches the log stream during the outage, and after it
    the backlog ships: every line once and in order in CloudWatch, and the
    S3 transcript verifies;
  - the agent worker's data-channel websocket cut the same way (the agent's
    ssmmessages endpoint is a forwarder; only connections opened after the
    control channel are cut): the worker reconnects and the session goes
    on with nothing lost or duplicated, the control channel untouched.

No timing assertions.
"""
import hashlib
import json
import os
import pathlib
import re
import select
import socket
import subprocess
import threading
import time

import pytest

from conftest import hermetic_env
from peers import pipe_bytes
from test_agent_register import Gateway, _register, _wait_log, _wait_online, _agent_env, REGION
from test_session_e2e import Cli

LOG_GROUP = "/deckhand/faults"
BUCKET = "fault-transcripts"
DOC = "deckhand-faults-audit"
KLINES = 3000         # numbered lines streamed across the gateway crash
DOWN_S = 3.0          # the gateway stays down this long before its restart


# ----------------------------------------------------------------- helpers

def _restart(build, gw):
    """A new gateway on gw's state dir and port, returned once it really
    listens (Gateway() alone would match the old 'listening on' line)."""
    log = gw.state.parent / "gateway.log"
    before = len(re.findall(r"listening on https://", log.read_text(errors="replace")))
    new = Gateway(build, gw.state, port=gw.port)
    deadline = time.time() + 15
    while time.time() < deadline:
        if len(re.findall(r"listening on https://", log.read_text(errors="replace"))) > before:
            break
        if new.proc.poll() is not None:
            break
        time.sleep(0.02)
    if new.proc.poll() is not None or new.url != gw.url:
        new.stop()
        pytest.fail("gateway did not restart on %s: %s" % (gw.url, log.read_text()[-2000:]))
    return new


class Forwarder:
    """127.0.0.1:<free port> -> 127.0.0.1:target, bytes passed through
    unchanged (TLS end to end).  cut() closes connections (all, or those
    accepted after mark()) and keeps accepting new ones.  With hold_s > 0
    a new connection waits up to hold_s seconds for the target to listen
    (as a socket-activated or load-balanced service does across a restart)
    instead of being closed at once."""

    def __init__(self, target_port, hold_s=0.0):
        self.target = target_port
        self.hold_s = hold_s
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.url = "https://127.0.0.1:%d" % self.port
        self.lock = threading.Lock()
        self.conns = []          # (serial, client socket, upstream socket)
        self.accepted = 0
        self.mark_at = 0
        self.stopped = False
        self.down = False        # outage: new connections are closed at once
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                serial = self.accepted
            threading.Thread(target=self._serve, args=(serial, c), daemon=True).start()

    def _serve(self, serial, c):
        if self.down:
            c.close()
            return
        deadline = time.time() + self.hold_s
        while True:
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
                break
            except OSError:
                if self.stopped or time.time() >= deadline:
                    c.close()
                    return
                time.sleep(0.05)
        with self.lock:
            self.conns.append((serial, c, u))
        for a, b in ((c, u), (u, c)):
            threading.Thread(target=pipe_bytes, args=(a, b), daemon=True).start()

    def mark(self):
        with self.lock:
            self.mark_at = self.accepted

    def cut(self, only_after_mark=False):
        """Close the chosen connections; returns how many were cut."""
        with self.lock:
            keep, cut = [], []
            for e in self.conns:
                (cut if not only_after_mark or e[0] > self.mark_at else keep).append(e)
            self.conns = keep
        for _, c, u in cut:
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        return len(cut)

    def outage(self, on):
        """Start (cut everything, refuse new connections) or end an outage."""
        self.down = on
        if on:
            self.cut()

    def stop(self):
        self.stopped = True
        self.lsock.close()
        self.cut()


@pytest.fixture
def gw(build, tmp_path):
    if not (pathlib.Path(build) / "deckhand-gateway").exists():
        pytest.skip("deckhand-gateway is not built")
    holder = {"gw": Gateway(build, tmp_path / "gw")}
    yield holder
    holder["gw"].stop()


def _start_agent(build, gateway, tmp_path, **env_extra):
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
    agent = {"iid": iid, "log": log_path, "proc": proc, "fh": log}
    try:
        assert _wait_online(gateway, iid) is not None, log_path.read_text()
        assert _wait_log(log_path, r"control channel: open"), log_path.read_text()
    except BaseException:
        _stop_agent(agent)
        raise
    return agent


def _stop_agent(agent):
    proc = agent["proc"]
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    agent["fh"].close()


@pytest.fixture
def agent(build, gw, tmp_path):
    a = _start_agent(build, gw["gw"], tmp_path)
    yield a
    _stop_agent(a)


def _audit_doc(gateway, tmp_path):
    logs, s3 = _clients(gateway)
    logs.create_log_group(logGroupName=LOG_GROUP)
    s3.create_bucket(Bucket=BUCKET)
    content = {"schemaVersion": "1.0", "description": "fault test preferences",
               "sessionType": "Standard_Stream",
               "inputs": {"s3BucketName": BUCKET, "s3KeyPrefix": "faults/",
                          "s3EncryptionEnabled": False,
                          "cloudWatchLogGroupName": LOG_GROUP,
                          "cloudWatchStreamingEnabled": True,
                          "cloudWatchEncryptionEnabled": False}}
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(content))
    gateway.aws("ssm", "create-document", "--name", DOC, "--document-type", "Session",
                "--content", "file://%s" % path)


def _clients(gateway):
    """botocore logs and s3 clients on gateway with its admin key (polling
    in-process instead of one aws CLI process per poll)."""
    import configparser
    import botocore.config
    import botocore.session
    cp = configparser.ConfigParser()
    cp.read(gateway.state / "admin.credentials")
    kw = dict(region_name=REGION, endpoint_url=gateway.url, verify=str(gateway.ca),
              aws_access_key_id=cp["default"]["aws_access_key_id"],
              aws_secret_access_key=cp["default"]["aws_secret_access_key"],
              config=botocore.config.Config(s3={"addressing_style": "path"}))
    sess = botocore.session.Session()
    return sess.create_client("logs", **kw), sess.create_client("s3", **kw)


def _cw_text(gateway, sid):
    """The sessionData lines of sid's CloudWatch stream, joined by newlines
    ('' while the stream does not exist)."""
    from botocore.exceptions import ClientError
    logs, _ = _clients(gateway)
    lines, token = [], None
    while True:
        kw = dict(logGroupName=LOG_GROUP, logStreamName=sid, startFromHead=True)
        if token:
            kw["nextToken"] = token
        try:
            r = logs.get_log_events(**kw)
        except ClientError:
            return ""
        for ev in r["events"]:
            lines += json.loads(ev["message"])["sessionData"]
        if not r["events"] or r.get("nextForwardToken") in (None, token):
            return "\n".join(lines)
        token = r["nextForwardToken"]


def _wait_cw(gateway, sid, marker, timeout=30):
    deadline = time.time() + timeout
    data = ""
    while time.time() < deadline:
        data = _cw_text(gateway, sid)
        if marker in data:
            break
        time.sleep(0.2)
    return data


def _wait_transcript(gateway, sid, tmp_path, timeout=40):
    """The S3 objects of sid (text, asciicast, chain) saved into tmp_path
    once the chain object exists; {suffix: path}."""
    _, s3 = _clients(gateway)
    deadline = time.time() + timeout
    keys = []
    while time.time() < deadline:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
                if sid in o["Key"]]
        if any(k.endswith(".dtr") for k in keys):
            break
        time.sleep(0.2)
    got = {}
    for k in keys:
        dst = tmp_path / pathlib.Path(k).name
        dst.write_bytes(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())
        for suffix in (".log", ".cast.gz", ".dtr"):
            if k.endswith(suffix):
                got[suffix] = dst
    return got


def _resumes(gateway, sid):
    """ResumeSession calls for sid in the gateway's CloudTrail-style trail."""
    ev = gateway.aws("cloudtrail", "lookup-events", "--lookup-attributes",
                     "AttributeKey=EventName,AttributeValue=ResumeSession")["Events"]
    return sum(1 for e in ev if sid in e.get("CloudTrailEvent", ""))


def _numbered_lines(buf, tag):
    """Numbers n of the output lines '<tag>n' in the order they arrived."""
    return [int(n) for n in re.findall(rb"(?:^|\n)" + tag + rb"(\d+)\r?(?=\n)", bytes(buf))]


def _read_at_least(cli, n, timeout=30):
    deadline = time.time() + timeout
    while len(cli.buf) < n and time.time() < deadline:
        r, _, _ = select.select([cli.master], [], [], 0.2)
        if r:
            chunk = os.read(cli.master, 1 << 20)
            if not chunk:
                break
            cli.buf += chunk
    assert len(cli.buf) >= n, bytes(cli.buf[-2000:])


def _bulk_across_cut(cli, cut, mib=8):
    """cat a file of mib MiB of base64 text made on the remote side and cut
    the connection (cut()) when a quarter of it arrived: the bytes between
    the markers must hash like the file (nothing lost or duplicated)."""
    cli.send("stty sane; f=$(mktemp); head -c %d /dev/urandom | base64 -w 100 > $f;"
             " echo SUM=$(sha256sum < $f | cut -c1-64) SIZE=$(wc -c < $f)\r" % (mib << 20))
    m = cli.read_until(rb"SUM=([0-9a-f]{64}) SIZE=(\d+)", timeout=60)
    want, size = m.group(1).decode(), int(m.group(2))
    cli.buf.clear()
    cli.send("stty raw -echo; printf 'BEGIN-%s' XYZZY; cat $f; printf 'END-%s' XYZZY; stty sane; rm -f $f\r")
    cli.read_until(rb"BEGIN-XYZZY", timeout=30)
    _read_at_least(cli, size // 4)
    assert cut() >= 1
    cli.read_until(rb"END-XYZZY", timeout=60)
    data = bytes(cli.buf)
    body = data[data.index(b"BEGIN-XYZZY") + 11:data.rindex(b"END-XYZZY")]
    assert len(body) == size
    assert hashlib.sha256(body).hexdigest() == want


# ------------------------------------------------------------------ tests

def _kill9_restart(build, gw, agent, tmp_path, fwd):
    """A session with audited transcripts; the gateway is killed with
    SIGKILL after a first marker and restarted DOWN_S seconds later on the
    same state dir and port; a second marker is typed after the restart,
    the shell exits, and the transcript in S3 and CloudWatch must hold both
    markers and verify.  The CLI talks to the gateway through fwd when
    given (its connections wait there while the gateway is down)."""
    gateway = gw["gw"]
    _audit_doc(gateway, tmp_path)
    front = gateway if fwd is None else type("Front", (), {"url": fwd.url, "aws_env": gateway.aws_env})()
    cli = Cli(build, front, agent["iid"], extra=("--document-name", DOC))
    try:
        sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
        cli.read_until(rb"\$ ", timeout=30)
        cli.send("echo before-kill-$((6*7))\r")
        cli.read_until(rb"before-kill-42")
        cli.read_until(rb"\$ ", timeout=30)
        # Numbered output streams across the crash.
        cli.send("stty -echo; for i in $(seq 1 %d); do echo K$i; [ $((i %% 100)) = 0 ] && sleep 0.05;"
                 " done; echo DONE-$((2+3))\r" % KLINES)
        cli.read_until(rb"\nK500\r", timeout=30)
        gateway.kill9()
        time.sleep(DOWN_S)
        gateway = gw["gw"] = _restart(build, gateway)
        cli.read_until(rb"DONE-5", timeout=45)
        # The session lives on: a line typed after the restart runs once.
        cli.send("echo after-restart-$((8*8))\r")
        cli.read_until(rb"after-restart-64", timeout=30)
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
    out = bytes(cli.buf)
    assert rc == 0, out[-2000:]
    assert out.count(b"after-restart-64") == 1, out[-2000:]
    assert _numbered_lines(out, rb"K") == list(range(1, KLINES + 1)), out[-3000:]
    assert re.search(r"session %s: data channel open again" % re.escape(sid),
                     agent["log"].read_text()), agent["log"].read_text()[-3000:]
    assert _wait_log(agent["log"], r"session %s: agent_task_complete acknowledged" % re.escape(sid),
                     timeout=30), agent["log"].read_text()[-3000:]
    hist = gateway.aws("ssm", "describe-sessions", "--state", "History")["Sessions"]
    assert [s["Status"] for s in hist if s["SessionId"] == sid] == ["Terminated"], hist
    assert _resumes(gateway, sid) >= 1

    objs = _wait_transcript(gateway, sid, tmp_path)
    assert set(objs) == {".log", ".cast.gz", ".dtr"}, (objs, agent["log"].read_text()[-3000:])
    text = objs[".log"].read_text(errors="replace")
    assert "before-kill-42" in text and "after-restart-64" in text, text[-2000:]
    assert [int(n) for n in re.findall(r"(?m)^K(\d+)$", text)] == list(range(1, KLINES + 1)), text[-3000:]
    ver = subprocess.run([str(pathlib.Path(build) / "deckhand"), "transcript", "verify", str(objs[".dtr"])],
                         capture_output=True, text=True, env=hermetic_env(), timeout=60)
    assert ver.returncode == 0, ver.stdout + ver.stderr
    assert "gaps: 0 " in ver.stdout and "seal: present" in ver.stdout, ver.stdout
    assert "abandoned" not in ver.stdout and "result: OK" in ver.stdout, ver.stdout
    # CloudWatch streamed both markers (what was written while the gateway
    # was down shipped after the restart).
    data = _wait_cw(gateway, sid, "after-restart-64")
    assert "before-kill-42" in data and "after-restart-64" in data, data[-2000:]
    assert [int(n) for n in re.findall(r"(?m)^K(\d+)$", data)] == list(range(1, KLINES + 1)), data[-3000:]


def test_gateway_kill9_restart_mid_session(build, gw, agent, tmp_path):
    """The CLI reaches the gateway through a front end that holds new
    connections while the gateway restarts (socket activation, a TCP load
    balancer); the agent reaches it directly and sees it refuse
    connections while it is down."""
    fwd = Forwarder(gw["gw"].port, hold_s=20)
    try:
        _kill9_restart(build, gw, agent, tmp_path, fwd)
    finally:
        fwd.stop()


def test_gateway_kill9_restart_cli_direct(build, gw, agent, tmp_path):
    """The same with the CLI talking to the gateway directly: while the
    gateway is down the CLI's ResumeSession cannot connect, which counts as
    one failed reconnect attempt on the backoff, not as the end."""
    _kill9_restart(build, gw, agent, tmp_path, None)


def test_gateway_kill9_restart_then_terminate(build, gw, agent, tmp_path):
    """The other clean ending: the gateway and the operator's CLI both die
    (kill -9); after the gateway's restart the agent rejoins the adopted
    session and TerminateSession ends it: the worker closes the shell,
    the task completes, and the transcript is sealed (not abandoned) and
    complete in S3 and CloudWatch."""
    gateway = gw["gw"]
    _audit_doc(gateway, tmp_path)
    cli = Cli(build, gateway, agent["iid"], extra=("--document-name", DOC))
    try:
        sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
        cli.read_until(rb"\$ ", timeout=30)
        cli.send("echo orphaned-$((9*9))\r")
        cli.read_until(rb"orphaned-81")
        cli.proc.kill()
        gateway.kill9()
    finally:
        cli.finish()
    gateway = gw["gw"] = _restart(build, gateway)
    assert _wait_log(agent["log"], r"session %s: data channel open again" % re.escape(sid),
                     timeout=30), agent["log"].read_text()[-3000:]
    live = gateway.aws("ssm", "describe-sessions", "--state", "Active")["Sessions"]
    assert [s["SessionId"] for s in live] == [sid], live
    gateway.aws("ssm", "terminate-session", "--session-id", sid)
    assert _wait_log(agent["log"], r"session %s: agent_task_complete acknowledged" % re.escape(sid),
                     timeout=30), agent["log"].read_text()[-3000:]
    hist = gateway.aws("ssm", "describe-sessions", "--state", "History")["Sessions"]
    assert [s["Status"] for s in hist if s["SessionId"] == sid] == ["Terminated"], hist
    objs = _wait_transcript(gateway, sid, tmp_path)
    assert set(objs) == {".log", ".cast.gz", ".dtr"}, (objs, agent["log"].read_text()[-3000:])
    assert "orphaned-81" in objs[".log"].read_text(errors="replace")
    ver = subprocess.run([str(pathlib.Path(build) / "deckhand"), "transcript", "verify", str(objs[".dtr"])],
                         capture_output=True, text=True, env=hermetic_env(), timeout=60)
    assert ver.returncode == 0, ver.stdout + ver.stderr
    assert "seal: present" in ver.stdout and "abandoned" not in ver.stdout, ver.stdout
    data = _wait_cw(gateway, sid, "orphaned-81")
    assert "orphaned-81" in data, data[-2000:]


def test_cli_connection_cut_resumes(build, gw, agent, tmp_path):
    gateway = gw["gw"]
    fwd = Forwarder(gateway.port)
    fgw = type("Fwd", (), {"url": fwd.url, "aws_env": gateway.aws_env})()
    n = 4000
    cli = Cli(build, fgw, agent["iid"])
    try:
        sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
        cli.read_until(rb"\$ ", timeout=30)
        cli.buf.clear()
        cli.send("stty -echo; for i in $(seq 1 %d); do echo L$i; [ $((i %% 100)) = 0 ] && sleep 0.05; done;"
                 " echo DONE-$((2+3))\r" % n)
        cli.read_until(rb"\nL1000\r", timeout=30)
        cut = fwd.cut()
        assert cut >= 1
        # Typed while the websocket is down: it must run exactly once.
        cli.send("echo typed-during-cut-$((5*5))\r")
        cli.read_until(rb"DONE-5", timeout=45)
        cli.read_until(rb"typed-during-cut-25", timeout=30)
        cli.send("echo after-cut-$((3*3))\r")
        cli.read_until(rb"after-cut-9", timeout=30)
        lines = bytes(cli.buf)
        _bulk_across_cut(cli, fwd.cut)
        cli.send("exit\r")
        cli.read_until(rb"Exiting session with sessionId", timeout=30)
    finally:
        rc = cli.finish()
        fwd.stop()
    assert rc == 0, bytes(cli.buf[-2000:])
    assert _numbered_lines(lines, rb"L") == list(range(1, n + 1)), lines[-3000:]
    assert lines.count(b"typed-during-cut-25") == 1
    assert lines.count(b"after-cut-9") == 1
    # The CLI came back through the forwarder after each cut: ResumeSession
    # (an HTTPS connection) and a new websocket.
    assert fwd.accepted >= 6, fwd.accepted
    assert _resumes(gateway, sid) >= 2


def test_agent_data_channel_cut_continues(build, gw, tmp_path):
    gateway = gw["gw"]
    fwd = Forwarder(gateway.port)
    a = _start_agent(build, gateway, tmp_path, DECKHAND_ENDPOINTS_SSMMESSAGES=fwd.url)
    n = 4000
    try:
        fwd.mark()      # the control channel's connections are before this
        cli = Cli(build, gateway, a["iid"])
        try:
            sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
            cli.read_until(rb"\$ ", timeout=30)
            assert _wait_log(a["log"], r"session %s: data channel open" % re.escape(sid))
            cli.buf.clear()
            cli.send("stty -echo; for i in $(seq 1 %d); do echo L$i; [ $((i %% 100)) = 0 ] && sleep 0.05; done;"
                     " echo DONE-$((2+3))\r" % n)
            cli.read_until(rb"\nL1000\r", timeout=30)
            assert fwd.cut(only_after_mark=True) >= 1
            cli.send("echo typed-during-cut-$((5*5))\r")
            cli.read_until(rb"DONE-5", timeout=45)
            cli.read_until(rb"typed-during-cut-25", timeout=30)
            lines = bytes(cli.buf)
            _bulk_across_cut(cli, lambda: fwd.cut(only_after_mark=True))
            cli.send("exit\r")
            cli.read_until(rb"Exiting session with sessionId", timeout=30)
        finally:
            rc = cli.finish()
        assert rc == 0, bytes(cli.buf[-2000:])
        assert _numbered_lines(lines, rb"L") == list(range(1, n + 1)), lines[-3000:]
        assert lines.count(b"typed-during-cut-25") == 1
        log = a["log"].read_text(errors="replace")
        assert len(re.findall(r"session %s: data channel open again" % re.escape(sid), log)) == 2, log[-3000:]
        # Only the data channel was cut: the control channel opened once.
        assert len(re.findall(r"control channel: open", log)) == 1, log[-3000:]
    finally:
        _stop_agent(a)
        fwd.stop()


def test_logs_outage_keystrokes_continue_backlog_ships(build, gw, tmp_path):
    gateway = gw["gw"]
    _audit_doc(gateway, tmp_path)
    fwd = Forwarder(gateway.port)
    a = _start_agent(build, gateway, tmp_path, DECKHAND_ENDPOINTS_LOGS=fwd.url)
    typed, n = 20, 2000
    try:
        cli = Cli(build, gateway, a["iid"], extra=("--document-name", DOC))
        try:
            sid = cli.read_until(rb"Starting session with SessionId: (\S+)").group(1).decode()
            cli.read_until(rb"\$ ", timeout=30)
            cli.send("echo before-$((6*7))\r")
            cli.read_until(rb"before-42")
            assert "before-42" in _wait_cw(gateway, sid, "before-42"), a["log"].read_text()[-3000:]
            fwd.outage(True)
            for i in range(typed):
                cli.send("echo typed-$((%d+1000))\r" % i)
                cli.read_until(rb"\ntyped-%d\r" % (1000 + i))
            cli.send("seq -f 'out-%%g' 1 %d\r" % n)
            cli.read_until(rb"\nout-%d\r" % n)
            assert _wait_log(a["log"], r"transcripts: .*(PutLogEvents|CreateLogStream).*\(retrying\)",
                             timeout=30), \
                a["log"].read_text()[-3000:]
            assert "typed-" not in _cw_text(gateway, sid)
            fwd.outage(False)
            cli.send("echo after-$((7*7))\r")
            cli.read_until(rb"after-49")
            data = _wait_cw(gateway, sid, "after-49", timeout=90)
            assert "after-49" in data, a["log"].read_text()[-3000:]
            assert [int(x) for x in re.findall(r"(?m)^typed-(\d+)$", data)] == \
                list(range(1000, 1000 + typed)), data[-3000:]
            assert [int(x) for x in re.findall(r"(?m)^out-(\d+)$", data)] == list(range(1, n + 1))
            assert data.count("before-42\n") == 1
            cli.send("exit\r")
            cli.read_until(rb"Exiting session with sessionId", timeout=30)
        finally:
            rc = cli.finish()
        assert rc == 0, bytes(cli.buf[-2000:])
        objs = _wait_transcript(gateway, sid, tmp_path)
        assert set(objs) == {".log", ".cast.gz", ".dtr"}, (objs, a["log"].read_text()[-3000:])
        text = objs[".log"].read_text(errors="replace")
        assert [int(x) for x in re.findall(r"(?m)^out-(\d+)\r?$", text)] == list(range(1, n + 1))
        ver = subprocess.run([str(pathlib.Path(build) / "deckhand"), "transcript", "verify",
                              str(objs[".dtr"])], capture_output=True, text=True,
                             env=hermetic_env(), timeout=60)
        assert ver.returncode == 0, ver.stdout + ver.stderr
        assert "gaps: 0 (0 bytes dropped)" in ver.stdout and "seal: present" in ver.stdout, ver.stdout
    finally:
        _stop_agent(a)
        fwd.stop()
