"""Transcript spool -> CloudWatch Logs + S3 against moto_server (TLS, SigV4
verification on via INITIAL_NO_AUTH_ACTION_COUNT, the `moto` fixture of
test_aws_moto.py).

$DH_BUILD/tools/ss_feed plays a byte stream through ss_transcript_write
(feeder) and runs the shipper (ss_shipper_*) against moto.  The shipper
reaches moto through a small TCP forwarder owned by the test, so an
outage can be staged without losing moto's state: while the forwarder is
"down" every connection is cut and new ones are closed at once.

Checked:
  - outage mid-stream: the feeder keeps writing, the backlog ships after
    the endpoint is back, and 0 bytes are lost: the asciicast in S3 gives
    back the input byte for byte, the CloudWatch events' sessionData equal
    the cleaned text object in S3, `deckhand transcript verify` accepts
    the chain object;
  - kill -9 of the feeder mid-stream, then a shipper run: everything the
    feeder had accepted arrives, the session is sealed as abandoned and
    its chain verifies;
  - a tampered chain object in S3: `deckhand transcript verify
    s3://...` fails naming the record;
  - encryption checks: a log group without kmsKeyId is refused when
    cloudWatchEncryptionEnabled is set, and the records stay in the
    spool.
Skipped, with the reason, when moto_server is not installed.
"""
import gzip
import json
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import hermetic_env
from peers import pipe_bytes
from test_aws_moto import PROXY_VARS, moto  # noqa: F401  (fixture reuse)

REGION = "us-east-1"


class Forwarder:
    """127.0.0.1:<free port> -> target port; down() cuts every connection
    and refuses service until up()."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.url = "https://127.0.0.1:%d" % self.port
        self.is_down = False
        self.conns = []
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.is_down:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=pipe_bytes, args=(a, b),
                                 daemon=True).start()

    def down(self):
        self.is_down = True
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns = []

    def up(self):
        self.is_down = False

    def stop(self):
        self.stopped = True
        self.down()
        self.lsock.close()


@pytest.fixture(scope="module")
def aws(moto):  # noqa: F811
    import botocore.session
    sess = botocore.session.Session()
    kw = dict(region_name=REGION, endpoint_url=moto.url, verify=str(moto.cert),
              aws_access_key_id=moto.key_id, aws_secret_access_key=moto.secret)
    logs = sess.create_client("logs", **kw)
    s3 = sess.create_client("s3", **kw)
    logs.create_log_group(logGroupName="/deckhand/sessions")
    s3.create_bucket(Bucket="deckhand-transcripts")
    fwd = Forwarder(moto.port)
    try:
        yield moto, logs, s3, fwd
    finally:
        fwd.stop()


def env_for(moto):  # noqa: F811
    env = hermetic_env(ca=moto.cert, AWS_ACCESS_KEY_ID=moto.key_id,
                       AWS_SECRET_ACCESS_KEY=moto.secret, AWS_REGION=REGION)
    for k in PROXY_VARS:
        env.pop(k, None)
    return env


def feed_args(build, spool, session, *extra):
    return [str(pathlib.Path(build) / "tools" / "ss_feed"), "feed", "--spool",
            str(spool), "--session", session, "--cw-group", "/deckhand/sessions",
            "--s3-bucket", "deckhand-transcripts", "--s3-prefix", "audit/",
            "--resize", "100x30", *map(str, extra)]


def ship(build, moto, spool, url, timeout_ms=60000):  # noqa: F811
    p = subprocess.run([str(pathlib.Path(build) / "tools" / "ss_feed"), "ship",
                        "--spool", str(spool), "--endpoint", url, "--ca",
                        str(moto.cert), "--timeout-ms", str(timeout_ms)],
                       capture_output=True, env=env_for(moto), timeout=120)
    out = p.stdout.decode().strip().splitlines()
    return p.returncode, (json.loads(out[-1]) if out else {}), p.stderr.decode()


def cast_unescape(s):
    """Inverse of ss_cast_escape: \\u0000-\\u00ff escapes are raw bytes,
    everything else is UTF-8 text."""
    out = bytearray()
    i = 0
    simple = {'"': b'"', "\\": b"\\", "/": b"/", "b": b"\b", "f": b"\f",
              "n": b"\n", "r": b"\r", "t": b"\t"}
    while i < len(s):
        c = s[i]
        if c != "\\":
            j = s.find("\\", i)
            j = len(s) if j < 0 else j
            out += s[i:j].encode("utf-8")
            i = j
            continue
        e = s[i + 1]
        if e in simple:
            out += simple[e]
            i += 2
            continue
        cp = int(s[i + 2:i + 6], 16)
        if cp <= 0xFF:
            out.append(cp)
            i += 6
            continue
        if 0xD800 <= cp <= 0xDBFF and s[i + 6:i + 8] == "\\u":
            lo = int(s[i + 8:i + 12], 16)
            out += chr(0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)).encode()
            i += 12
            continue
        out += chr(cp).encode("utf-8")
        i += 6
    return bytes(out)


def cast_output(gz):
    """Output bytes of a gzip'd asciicast, read without json.loads for the
    data field (which would lose the raw-byte escapes)."""
    lines = gzip.decompress(gz).decode("utf-8").split("\n")
    header = json.loads(lines[0])
    assert header["version"] == 2 and header["width"] == 100
    out = bytearray()
    for ln in lines[1:]:
        if not ln:
            continue
        t, rest = ln[1:].split(", ", 1)
        float(t)
        code, data = rest[1], rest[6:-2]
        assert rest[5] == '"' and rest.endswith('"]'), ln
        if code == "o":
            out += cast_unescape(data)
    return bytes(out)


def cw_lines(logs, session):
    lines, token, seqs = [], None, []
    while True:
        kw = dict(logGroupName="/deckhand/sessions", logStreamName=session,
                  startFromHead=True)
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        for ev in r["events"]:
            m = json.loads(ev["message"])
            assert m["sessionId"] == session and m["eventVersion"] == "1.0"
            assert m["target"]["id"].startswith("mi-")
            seqs.append((m["deckhand"]["firstSeq"], m["deckhand"]["lastSeq"]))
            lines += m["sessionData"]
        if r.get("nextForwardToken") in (None, token) or not r["events"]:
            break
        token = r["nextForwardToken"]
    return lines, seqs


def sample_stream(n_blocks):
    """Terminal-like output: text lines, colours, CR overwrites, UTF-8,
    invalid bytes and a multi-byte character split across writes."""
    parts = []
    for i in range(n_blocks):
        parts.append(b"\x1b[1;32mline %06d\x1b[0m ok \xc3\xa9t\xc3\xa9\r\n" % i)
        parts.append(b"progress 10%\rprogress 99%\r\n")
        if i % 7 == 0:
            parts.append(b"bad \xff\xfe bytes \xe2\x82")   # split euro sign
            parts.append(b"\xac tail\r\n")
        parts.append(b"\x1b]0;title %d\x07plain text %d\n" % (i, i))
    return b"".join(parts)


def s3_get(s3, key):
    return s3.get_object(Bucket="deckhand-transcripts", Key=key)["Body"].read()


def deckhand(build, moto, *args):  # noqa: F811
    return subprocess.run([str(pathlib.Path(build) / "deckhand"), "transcript",
                           *args], capture_output=True, env=env_for(moto),
                          timeout=60)


def test_outage_backlog_zero_loss(build, aws, tmp_path):
    moto_, logs, s3, fwd = aws
    spool = tmp_path / "spool"
    data = sample_stream(6000)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    session = "alice-0a1b2c3d4e5f60001"
    feeder = subprocess.Popen(feed_args(build, spool, session, "--input", src,
                                        "--chunk", 3000, "--delay-us", 5000),
                              stdout=subprocess.PIPE, env=env_for(moto_))
    shipper = None
    try:
        written = 0
        for line in feeder.stdout:
            written = int(line.split()[1]) if line.startswith(b"written") else written
            if written >= len(data) // 8:
                break
        shipper = subprocess.Popen(
            [str(pathlib.Path(build) / "tools" / "ss_feed"), "ship", "--spool",
             str(spool), "--endpoint", fwd.url, "--ca", str(moto_.cert),
             "--timeout-ms", "90000"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env_for(moto_))
        # Outage while the feeder is mid-stream (and the shipper streams).
        for line in feeder.stdout:
            written = int(line.split()[1]) if line.startswith(b"written") else written
            if written >= len(data) // 4:
                break
        fwd.down()
        for line in feeder.stdout:
            if line.startswith(b"written"):
                written = int(line.split()[1])
            if written >= len(data) * 3 // 4:
                break
        # Keystrokes (writes) went on while the sink was unreachable.
        assert feeder.poll() is None or feeder.returncode == 0
        time.sleep(1.0)
        fwd.up()
        rest = feeder.stdout.read()
        assert feeder.wait(60) == 0
        assert rest.strip().endswith(b"sealed %d" % len(data))
        out, err = shipper.communicate(timeout=120)
        assert shipper.returncode == 0, err.decode()
        stats = json.loads(out.decode().strip().splitlines()[-1])
        assert stats["sink_failures"] > 0, stats      # the outage was seen
        assert stats["sessions_done"] == 1 and stats["s3_objects"] == 3
    finally:
        for p in (feeder, shipper):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        fwd.up()
    assert [p.name for p in spool.iterdir() if not p.name.startswith(".")] == []
    # 0 bytes lost: the recording gives back the input exactly.
    cast = s3_get(s3, "audit/%s.cast.gz" % session)
    assert cast_output(cast) == data
    # CloudWatch's cleaned lines equal the text object's body.
    text = s3_get(s3, "audit/%s.log" % session).decode("utf-8")
    body = [ln for ln in text.split("\n") if not ln.startswith("# ") and ln]
    lines, seqs = cw_lines(logs, session)
    assert [ln for ln in lines if ln] == body
    assert body[:2] == ["line 000000 ok été", "progress 99%"]
    assert "line 005999 ok été" in body
    assert "bad \ufffd\ufffd bytes \u20ac tail" in body
    assert all(a <= b for a, b in seqs)
    assert [s for s in seqs] == sorted(seqs)
    # The chain object verifies straight from S3.
    p = deckhand(build, moto_, "verify", "--endpoint-url", moto_.url, "--ca",
                 moto_.cert, "s3://deckhand-transcripts/audit/%s.dtr" % session)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    assert b"output %d bytes" % len(data) in p.stdout


def test_kill9_feeder_then_ship(build, aws, tmp_path):
    moto_, logs, s3, fwd = aws
    spool = tmp_path / "spool"
    data = sample_stream(3000)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    session = "bob-0a1b2c3d4e5f60002"
    feeder = subprocess.Popen(feed_args(build, spool, session, "--input", src,
                                        "--chunk", 1000, "--delay-us", 500),
                              stdout=subprocess.PIPE, env=env_for(moto_))
    accepted = 0
    for line in feeder.stdout:
        if line.startswith(b"written"):
            accepted = int(line.split()[1])
        if accepted >= len(data) // 2:
            break
    feeder.send_signal(signal.SIGKILL)
    feeder.wait()
    rc, stats, err = ship(build, moto_, spool, moto_.url)
    assert rc == 0, err
    assert stats["sessions_done"] == 1
    got = cast_output(s3_get(s3, "audit/%s.cast.gz" % session))
    # Everything accepted before the kill arrived, in order.
    assert len(got) >= accepted and data.startswith(got)
    p = deckhand(build, moto_, "verify", "--endpoint-url", moto_.url, "--ca",
                 moto_.cert, "s3://deckhand-transcripts/audit/%s.dtr" % session)
    assert p.returncode == 0, p.stdout.decode()
    assert b"abandoned" in p.stdout
    text = s3_get(s3, "audit/%s.log" % session).decode()
    assert "abandoned" in text.splitlines()[-1]


def test_tampered_object_fails_verify(build, aws, tmp_path):
    moto_, logs, s3, fwd = aws
    spool = tmp_path / "spool"
    session = "carol-0a1b2c3d4e5f60003"
    src = tmp_path / "in.bin"
    src.write_bytes(sample_stream(200))
    p = subprocess.run(feed_args(build, spool, session, "--input", src,
                                 "--chunk", 2048), capture_output=True,
                       env=env_for(moto_))
    assert p.returncode == 0, p.stderr
    rc, stats, err = ship(build, moto_, spool, moto_.url)
    assert rc == 0, err
    key = "audit/%s.dtr" % session
    blob = bytearray(s3_get(s3, key))
    # Change one byte of the payload of record 5 (OPEN, RESIZE, 3 outputs
    # of 2048 bytes come before it).
    off, seq = 0, 0
    while seq < 4:
        off += 64 + int.from_bytes(blob[off + 8:off + 12], "big")
        seq += 1
    assert int.from_bytes(blob[off + 16:off + 24], "big") == 5
    blob[off + 64 + 100] ^= 0x20
    s3.put_object(Bucket="deckhand-transcripts", Key=key, Body=bytes(blob))
    p = deckhand(build, moto_, "verify", "--endpoint-url", moto_.url, "--ca",
                 moto_.cert, "s3://deckhand-transcripts/" + key)
    assert p.returncode == 1, p.stdout.decode()
    assert b"record 5 (output, 2048 bytes): chain link mismatch" in p.stdout


def test_encryption_required_refused(build, aws, tmp_path):
    moto_, logs, s3, fwd = aws
    tool = str(pathlib.Path(build) / "tools" / "ss_feed")
    base = [tool, "check", "--endpoint", moto_.url, "--ca", str(moto_.cert),
            "--session", "precheck-1", "--cw-group", "/deckhand/sessions",
            "--s3-bucket", "deckhand-transcripts"]
    # Up-front checks as AWS does them, before a shell would start.
    p = subprocess.run(base, capture_output=True, env=env_for(moto_))
    assert p.returncode == 0 and p.stdout == b"check ok\n", p.stdout
    for flag, what in (("--cw-enc", b"CloudWatch Logs log group"),
                       ("--s3-enc", b"S3 bucket")):
        p = subprocess.run(base + [flag], capture_output=True,
                           env=env_for(moto_))
        assert p.returncode == 1
        assert b"encryption is not set up" in p.stdout and what in p.stdout
    # Encrypted destinations pass.
    s3.create_bucket(Bucket="deckhand-enc")
    s3.put_bucket_encryption(Bucket="deckhand-enc",
                             ServerSideEncryptionConfiguration={"Rules": [
                                 {"ApplyServerSideEncryptionByDefault":
                                  {"SSEAlgorithm": "AES256"}}]})
    logs.create_log_group(logGroupName="/deckhand/enc", kmsKeyId=(
        "arn:aws:kms:us-east-1:123456789012:key/"
        "11111111-2222-3333-4444-555555555555"))
    p = subprocess.run(base[:-4] + ["--cw-group", "/deckhand/enc", "--cw-enc",
                                    "--s3-bucket", "deckhand-enc", "--s3-enc"],
                       capture_output=True, env=env_for(moto_))
    assert p.returncode == 0, p.stdout
    p = subprocess.run(base[:-4] + ["--cw-group", "/no/such/group"],
                       capture_output=True, env=env_for(moto_))
    assert p.returncode == 1 and b"does not exist" in p.stdout
    spool = tmp_path / "spool"
    session = "dave-0a1b2c3d4e5f60004"
    src = tmp_path / "in.bin"
    src.write_bytes(b"secret output\n")
    args = feed_args(build, spool, session, "--input", src, "--cw-enc")
    p = subprocess.run(args, capture_output=True, env=env_for(moto_))
    assert p.returncode == 0, p.stderr
    rc, stats, err = ship(build, moto_, spool, moto_.url, timeout_ms=1500)
    assert rc != 0
    assert "encryption is not set up" in err
    # Nothing was sent and the records are still spooled.
    assert (spool / session).is_dir()
    streams = logs.describe_log_streams(logGroupName="/deckhand/sessions",
                                        logStreamNamePrefix=session)
    assert streams["logStreams"] == []
