"""Session Manager on deckhand-gateway against real peers: Debian's aws CLI v2
(create/get/describe/update/list-documents with --document-type Session,
start-session's error path and its no-plugin StartSession+TerminateSession),
boto3 (StartSession/ResumeSession/TerminateSession/DescribeSessions JSON), and
two hand-rolled RFC 6455 clients: the client leg (unsigned upgrade,
OpenDataChannel with the session token) and the agent leg (SigV4-signed
upgrade with botocore, CreateDataChannel token) plus the agent's control
channel.  Proves: interactive_shell content, byte-exact relay both ways,
malformed and oversized frames never forwarded (a wrong digest is relayed as
it came, as the service does), pause/start_publication
when the client leg drops and returns after ResumeSession, TerminateSession
and idle/max-duration timeouts ending both legs with channel_closed,
agent_task_complete acknowledged and recorded, Active -> History."""
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import time
import uuid

import pytest

from conftest import hermetic_env
from test_gateway_core import (REGION, Gateway, err_code, hmac_request, register_online,
                               ws_connect)

MINUTE_MS = 1000    # the gateway's session "minute" in these tests


class SessionGateway(Gateway):
    """Gateway with a short session minute (idleSessionTimeout etc.)."""

    def start(self, env_extra=None, port=None):
        import pathlib
        from test_gateway_core import free_port
        self.port = port or self.port or free_port()
        env = hermetic_env()
        env.update(self.env_extra)
        env.update(env_extra or {})
        self.log = open(str(self.state) + ".log", "ab")
        self.proc = subprocess.Popen(
            [str(pathlib.Path(self.build) / "deckhand-gateway"), "serve", "--state",
             str(self.state), "--listen", "127.0.0.1:%d" % self.port, "--region", REGION,
             "--session-minute-ms", str(MINUTE_MS)],
            stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            assert self.proc.poll() is None, self.logtext()
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                if (self.state / "admin.credentials").exists():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("gateway did not start: " + self.logtext())


@pytest.fixture
def gw(build, tmp_path):
    g = SessionGateway(build, tmp_path / "gw").start()
    yield g
    g.stop()


# --------------------------------------------------------------- MGS frames

def uuid_wire(u):
    b = u.bytes
    return b[8:] + b[:8]


def mgs(mtype, payload, seq=0, ptype=0, flags=0, msg_id=None, created=None):
    payload = payload.encode() if isinstance(payload, str) else payload
    msg_id = msg_id or uuid.uuid4()
    hdr = struct.pack(">I32sIQqQ16s32sII", 116, mtype.encode().ljust(32), 1,
                      created if created is not None else int(time.time() * 1000), seq,
                      flags, uuid_wire(msg_id), hashlib.sha256(payload).digest(), ptype,
                      len(payload))
    return hdr + payload


def parse(frame):
    hl, = struct.unpack(">I", frame[:4])
    mtype = frame[4:36].rstrip(b" \0").decode()
    seq, = struct.unpack(">q", frame[48:56])
    wid = frame[64:80]
    mid = uuid.UUID(bytes=wid[8:] + wid[:8])
    ptype, plen = struct.unpack(">II", frame[112:120])
    return {"type": mtype, "seq": seq, "id": mid, "ptype": ptype,
            "payload": frame[hl + 4:hl + 4 + plen]}


# ----------------------------------------------------------- websocket I/O

class WS:
    """Minimal RFC 6455 client over an upgraded TLS socket."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def send(self, data, opcode=2):
        if isinstance(data, str):
            data = data.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        m = (mask * (n // 4 + 1))[:n]
        body = (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big") \
            if n else b""
        self.s.sendall(hdr + mask + body)

    def text(self, obj):
        self.send(json.dumps(obj), opcode=1)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self, timeout=10.0):
        """Next data message as (opcode, bytes); ('close', code) on close."""
        self.s.settimeout(timeout)
        while True:
            b0, b1 = self._need(2)
            n = b1 & 0x7f
            if n == 126:
                n, = struct.unpack("!H", self._need(2))
            elif n == 127:
                n, = struct.unpack("!Q", self._need(8))
            body = self._need(n)
            op = b0 & 0x0f
            if op == 9:
                self.send(body, opcode=10)
                continue
            if op == 10:
                continue
            if op == 8:
                code = struct.unpack("!H", body[:2])[0] if len(body) >= 2 else None
                return "close", code
            return op, body

    def recv_mgs(self, timeout=10.0, skip=()):
        while True:
            op, body = self.recv(timeout)
            if op == "close":
                return {"type": "CLOSE", "code": body}
            m = parse(body)
            m["raw"] = body
            if m["type"] not in skip:
                return m

    def quiet(self, wait=0.3):
        """True when nothing arrives within wait seconds."""
        try:
            self.recv(wait)
        except (socket.timeout, TimeoutError):
            return True
        return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def ws_unsigned(gw, path):
    raw = socket.create_connection(("127.0.0.1", gw.port), 10)
    s = gw.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: Go-http-client/1.1\r\n"
               "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: %s\r\n\r\n" % (path, gw.port, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    ws = WS(s)
    ws.buf = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
    return head.split(b"\r\n", 1)[0].decode(errors="replace"), ws


def ws_signed(gw, path, creds):
    line, s = ws_connect(gw, path, creds["AccessKeyId"], creds["SecretAccessKey"],
                         creds["SessionToken"])
    return line, WS(s)


# ------------------------------------------------------------------- agent

class Agent:
    """A registered instance holding an open control channel."""

    def __init__(self, gw):
        self.gw = gw
        self.inst, self.creds = register_online(gw)
        self.id = self.inst.instance_id
        path = "/v1/control-channel/" + self.id
        token = self._token(path)
        line, self.ctrl = ws_signed(gw, path + "?role=subscribe&stream=input", self.creds)
        assert " 101 " in line, line
        self.ctrl.text({"Cookie": None, "MessageSchemaVersion": "1.0", "RequestId": "r",
                        "TokenValue": token, "AgentVersion": "3.3.987.0",
                        "PlatformType": "linux"})
        # The channel is open once the gateway sees the instance connected.
        deadline = time.time() + 10
        while time.time() < deadline:
            info = gw.boto("ssm").describe_instance_information()
            if any(i["InstanceId"] == self.id and i["PingStatus"] == "Online"
                   for i in info["InstanceInformationList"]):
                break
            time.sleep(0.05)

    def _token(self, path):
        st, _, data = hmac_request(self.gw, None, {"MessageSchemaVersion": "1.0",
                                                   "RequestId": str(uuid.uuid4()),
                                                   "ClientId": ""},
                                   self.creds["AccessKeyId"], self.creds["SecretAccessKey"],
                                   self.creds["SessionToken"], service="ssmmessages",
                                   path=path, ctype="application/json")
        assert st == 201, data
        return re.search(rb"<TokenValue>([^<]+)</TokenValue>", data).group(1).decode()

    def data_leg(self, sid):
        path = "/v1/data-channel/" + sid
        token = self._token(path)
        line, leg = ws_signed(self.gw, path + "?role=publish_subscribe", self.creds)
        assert " 101 " in line, line
        leg.text({"MessageSchemaVersion": "1.0", "RequestId": str(uuid.uuid4()),
                  "TokenValue": token, "ClientInstanceId": self.id, "ClientId": ""})
        leg.send(mgs("agent_session_state", json.dumps(
            {"SchemaVersion": 1, "SessionState": "Connected", "SessionId": sid}), flags=3))
        return leg


def client_leg(gw, start, sid):
    path = start["StreamUrl"].split("://", 1)[1]
    path = path[path.index("/"):]
    line, leg = ws_unsigned(gw, path)
    assert " 101 " in line, line
    leg.text({"MessageSchemaVersion": "1.0", "RequestId": str(uuid.uuid4()),
              "TokenValue": start["TokenValue"], "ClientId": str(uuid.uuid4()),
              "ClientVersion": "1.2.677.0"})
    return leg


def start_session(gw, agent, **kw):
    out = gw.boto("ssm").start_session(Target=agent.id, **kw)
    shell = agent.ctrl.recv_mgs()
    assert shell["type"] == "interactive_shell"
    return out, json.loads(shell["payload"])


def session_status(gw, sid, state):
    out = gw.boto("ssm").describe_sessions(State=state, Filters=[
        {"key": "SessionId", "value": sid}])
    return out["Sessions"][0] if out["Sessions"] else None


# ------------------------------------------------------------------- tests

def test_session_relay_end_to_end(gw):
    agent = Agent(gw)
    start, shell = start_session(gw, agent, Reason="debugging")
    sid = start["SessionId"]
    assert re.fullmatch(r"admin-[0-9a-f]{17}", sid), sid
    assert start["StreamUrl"] == ("wss://127.0.0.1:%d/v1/data-channel/%s"
                                  "?role=publish_subscribe" % (gw.port, sid))
    assert len(start["TokenValue"]) >= 32
    # interactive_shell: double-encoded Content with the document.
    assert shell["TaskId"] == sid and shell["SchemaVersion"] == 1
    content = json.loads(shell["Content"])
    assert content["SessionId"] == sid
    assert content["DocumentName"] == "SSM-SessionManagerRunShell"
    assert content["RunAsUser"] == ""
    assert content["SessionOwner"].endswith(":user/admin")
    doc = content["DocumentContent"]
    assert doc["sessionType"] == "Standard_Stream"
    assert doc["inputs"]["idleSessionTimeout"] == "20"
    assert session_status(gw, sid, "Active")["Status"] == "Connecting"

    # Agent leg first: told to pause while no client is there.
    aleg = agent.data_leg(sid)
    assert aleg.recv_mgs()["type"] == "pause_publication"
    # A client with a wrong token is refused.
    bad = dict(start, TokenValue="0" * 64)
    leg = client_leg(gw, bad, sid)
    assert leg.recv_mgs()["type"] == "CLOSE"
    leg.close()
    cleg = client_leg(gw, start, sid)
    assert aleg.recv_mgs()["type"] == "start_publication"
    sess = session_status(gw, sid, "Active")
    assert sess["Status"] == "Connected" and sess["Reason"] == "debugging"
    assert sess["Target"] == agent.id

    # Byte-exact relay both ways, including a large frame.
    out = mgs("output_stream_data", b"hello\r\n$ ", seq=0, ptype=1, flags=1)
    aleg.send(out)
    got = cleg.recv_mgs()
    assert got["raw"] == out
    big = mgs("output_stream_data", os.urandom(200000), seq=1, ptype=1)
    aleg.send(big)
    assert cleg.recv_mgs()["raw"] == big
    inp = mgs("input_stream_data", b"ls\r", seq=0, ptype=1)
    cleg.send(inp)
    assert aleg.recv_mgs()["raw"] == inp
    ack = mgs("acknowledge", json.dumps({
        "AcknowledgedMessageType": "output_stream_data",
        "AcknowledgedMessageId": str(got["id"]), "AcknowledgedMessageSequenceNumber": 0,
        "IsSequentialMessage": True}), flags=3)
    cleg.send(ack)
    assert aleg.recv_mgs()["raw"] == ack

    # A wrong payload digest is the endpoints' business (the plugin checks
    # it, the agent does not): relayed byte for byte, as the service does.
    bad_digest = bytearray(mgs("output_stream_data", b"xyz", seq=2, ptype=1))
    bad_digest[-1] ^= 1
    aleg.send(bytes(bad_digest))
    assert cleg.recv_mgs()["raw"] == bytes(bad_digest)
    # Malformed frames are dropped, never forwarded.
    aleg.send(mgs("output_stream_data", b"zero date", seq=2, ptype=1, created=0))
    aleg.send(b"\x00\x00\x00\x74" + b"short")
    bad_hl = bytearray(mgs("output_stream_data", b"abc", seq=2, ptype=1))
    bad_hl[3] = 200
    aleg.send(bytes(bad_hl))
    good = mgs("output_stream_data", b"after", seq=2, ptype=1)
    aleg.send(good)
    assert cleg.recv_mgs()["raw"] == good

    # The client leg drops: pause; ResumeSession gives a new token for the
    # same StreamUrl; the rejoined client gets start_publication and data.
    cleg.close()
    assert aleg.recv_mgs()["type"] == "pause_publication"
    assert session_status(gw, sid, "Active")["Status"] == "Disconnected"
    res = gw.boto("ssm").resume_session(SessionId=sid)
    assert res["SessionId"] == sid and res["StreamUrl"] == start["StreamUrl"]
    assert res["TokenValue"] and res["TokenValue"] != start["TokenValue"]
    cleg = client_leg(gw, res, sid)
    assert aleg.recv_mgs()["type"] == "start_publication"
    more = mgs("output_stream_data", b"still here", seq=3, ptype=1)
    aleg.send(more)
    assert cleg.recv_mgs()["raw"] == more

    # TerminateSession: channel_closed to both legs and the control channel.
    assert gw.boto("ssm").terminate_session(SessionId=sid)["SessionId"] == sid
    cc = cleg.recv_mgs()
    assert cc["type"] == "channel_closed"
    body = json.loads(cc["payload"])
    assert body["SessionId"] == sid and body["MessageType"] == "channel_closed"
    assert cleg.recv_mgs()["type"] == "CLOSE"
    assert aleg.recv_mgs()["type"] == "channel_closed"
    assert agent.ctrl.recv_mgs()["type"] == "channel_closed"
    hist = session_status(gw, sid, "History")
    assert hist["Status"] == "Terminated" and "EndDate" in hist
    assert session_status(gw, sid, "Active") is None
    # Resume of an ended session: empty token (the plugin reports a timeout).
    assert gw.boto("ssm").resume_session(SessionId=sid)["TokenValue"] == ""

    # agent_task_complete is acknowledged with its MessageId and recorded.
    done = mgs("agent_task_complete", json.dumps({
        "SchemaVersion": 1, "TaskId": sid, "Topic": "agent_task_complete",
        "FinalTaskStatus": "Success", "IsRoutingFailure": False, "AwsAccountId": "",
        "InstanceId": agent.id, "Output": "", "S3Bucket": "logs",
        "S3UrlSuffix": "ssm/%s.log" % sid, "CwlGroup": "/ssm/sessions",
        "CwlStream": sid, "RetryNumber": 1}))
    agent.ctrl.send(done)
    ackd = agent.ctrl.recv_mgs()
    assert ackd["type"] == "agent_task_acknowledge"
    body = json.loads(ackd["payload"])
    assert body["MessageId"] == str(parse(done)["id"]) and body["TaskId"] == sid
    hist = session_status(gw, sid, "History")
    assert hist["OutputUrl"]["S3OutputUrl"] == "s3://logs/ssm/%s.log" % sid
    assert hist["OutputUrl"]["CloudWatchOutputUrl"].endswith(
        ":log-group:/ssm/sessions:log-stream:" + sid)
    aleg.close()
    cleg.close()


def test_oversized_frame_closes_leg(gw):
    agent = Agent(gw)
    start, _ = start_session(gw, agent)
    sid = start["SessionId"]
    aleg = agent.data_leg(sid)
    assert aleg.recv_mgs()["type"] == "pause_publication"
    cleg = client_leg(gw, start, sid)
    assert aleg.recv_mgs()["type"] == "start_publication"
    cleg.send(b"\0" * (1024 * 1024 + 200))
    got = cleg.recv_mgs()
    assert got["type"] == "CLOSE" and got["code"] == 1009
    assert aleg.quiet()
    aleg.close()


PREFS = {"schemaVersion": "1.0", "description": "test preferences",
         "sessionType": "Standard_Stream",
         "inputs": {"s3BucketName": "", "s3KeyPrefix": "", "s3EncryptionEnabled": False,
                    "cloudWatchLogGroupName": "", "cloudWatchEncryptionEnabled": False,
                    "cloudWatchStreamingEnabled": False, "kmsKeyId": "",
                    "runAsEnabled": False, "runAsDefaultUser": "",
                    "idleSessionTimeout": "2", "maxSessionDuration": "",
                    "shellProfile": {"linux": "echo profile-ran", "windows": ""}}}


def test_documents_with_cli(gw, tmp_path):
    f = tmp_path / "prefs.json"
    f.write_text(json.dumps(PREFS))
    out = gw.aws_json("ssm", "create-document", "--name", "SSM-SessionManagerRunShell",
                      "--document-type", "Session", "--content", "file://%s" % f)
    d = out["DocumentDescription"]
    assert d["Name"] == "SSM-SessionManagerRunShell" and d["DocumentType"] == "Session"
    assert d["DocumentVersion"] == "1" and d["Status"] == "Active"
    assert d["Hash"] == hashlib.sha256(f.read_bytes()).hexdigest()
    ssm = gw.boto("ssm")
    with pytest.raises(ssm.exceptions.DocumentAlreadyExists):
        ssm.create_document(Name="SSM-SessionManagerRunShell", DocumentType="Session",
                            Content=f.read_text())
    y = tmp_path / "prefs.yaml"
    y.write_text("schemaVersion: '1.0'\nsessionType: Standard_Stream\n")
    p = gw.aws("ssm", "create-document", "--name", "Yaml-Prefs", "--document-type", "Session",
               "--document-format", "YAML", "--content", "file://%s" % y)
    assert err_code(p) == "InvalidDocumentContent" and "JSON" in p.stderr
    badp = dict(PREFS, inputs=dict(PREFS["inputs"], idleSessionTimeout="90"))
    with pytest.raises(ssm.exceptions.InvalidDocumentContent) as ei:
        ssm.create_document(Name="Bad-Prefs", DocumentType="Session",
                            Content=json.dumps(badp))
    assert "idleSessionTimeout" in str(ei.value)
    got = gw.aws_json("ssm", "get-document", "--name", "SSM-SessionManagerRunShell")
    assert json.loads(got["Content"]) == PREFS and got["DocumentFormat"] == "JSON"
    desc = ssm.describe_document(Name="SSM-SessionManagerRunShell")
    names = {p["Name"] for p in desc["Document"].get("Parameters", [])}
    assert names == set() and desc["Document"]["LatestVersion"] == "1"
    newp = dict(PREFS, inputs=dict(PREFS["inputs"], maxSessionDuration="3"))
    f.write_text(json.dumps(newp))
    up = gw.aws_json("ssm", "update-document", "--name", "SSM-SessionManagerRunShell",
                     "--content", "file://%s" % f, "--document-version", "$LATEST")
    assert up["DocumentDescription"]["DocumentVersion"] == "2"
    with pytest.raises(ssm.exceptions.DuplicateDocumentContent):
        ssm.update_document(Name="SSM-SessionManagerRunShell", Content=f.read_text(),
                            DocumentVersion="$LATEST")
    assert ssm.describe_document(Name="SSM-SessionManagerRunShell")["Document"][
        "DefaultVersion"] == "1"
    lst = ssm.list_documents(Filters=[{"Key": "DocumentType", "Values": ["Session"]}])
    names = [d["Name"] for d in lst["DocumentIdentifiers"]]
    assert "SSM-SessionManagerRunShell" in names and "AWS-StartSSHSession" in names
    port = ssm.describe_document(Name="AWS-StartPortForwardingSession")
    assert {p["Name"] for p in port["Document"]["Parameters"]} == {"portNumber",
                                                                    "localPortNumber"}
    assert port["Document"]["Owner"] == "Amazon"


def test_start_session_cli_error_paths(gw):
    p = gw.aws("ssm", "start-session", "--target", "mi-00000000000000000")
    assert err_code(p) == "TargetNotConnected", p.stderr
    assert "mi-00000000000000000 is not connected" in p.stderr
    agent = Agent(gw)
    ssm = gw.boto("ssm")
    with pytest.raises(ssm.exceptions.InvalidDocument):
        ssm.start_session(Target=agent.id, DocumentName="No-Such-Doc")
    # Without session-manager-plugin the CLI starts and then terminates.
    env = gw.env(PATH="/usr/bin:/bin")
    p = gw.aws("ssm", "start-session", "--target", agent.id, env=env)
    assert p.returncode == 255 and "SessionManagerPlugin is not found" in p.stderr
    assert agent.ctrl.recv_mgs()["type"] == "interactive_shell"
    assert agent.ctrl.recv_mgs()["type"] == "channel_closed"
    hist = gw.boto("ssm").describe_sessions(State="History")["Sessions"]
    assert len(hist) == 1 and hist[0]["Status"] == "Terminated"
    assert hist[0]["Target"] == agent.id


def test_idle_timeout_and_max_duration(gw, tmp_path):
    f = tmp_path / "prefs.json"
    f.write_text(json.dumps(dict(PREFS, inputs=dict(PREFS["inputs"], idleSessionTimeout="1"))))
    ssm = gw.boto("ssm")
    ssm.create_document(Name="SSM-SessionManagerRunShell", DocumentType="Session",
                        Content=f.read_text())
    agent = Agent(gw)
    start, shell = start_session(gw, agent)
    sid = start["SessionId"]
    content = json.loads(shell["Content"])
    assert content["DocumentContent"]["inputs"]["idleSessionTimeout"] == "1"
    assert content["DocumentContent"]["inputs"]["shellProfile"]["linux"] == "echo profile-ran"
    aleg = agent.data_leg(sid)
    aleg.recv_mgs()
    cleg = client_leg(gw, start, sid)
    # No input: the session times out; both legs get channel_closed.
    cc = cleg.recv_mgs(timeout=20, skip=("output_stream_data",))
    assert cc["type"] == "channel_closed"
    assert json.loads(cc["payload"])["Output"] == \
        "Your session timed out due to inactivity and has been terminated."
    assert aleg.recv_mgs(timeout=20, skip=("start_publication",))["type"] == "channel_closed"
    assert agent.ctrl.recv_mgs()["type"] == "channel_closed"
    assert session_status(gw, sid, "History")["Status"] == "Terminated"
    aleg.close()
    cleg.close()

    # Max duration ends a busy session.
    f.write_text(json.dumps(dict(PREFS, inputs=dict(PREFS["inputs"], idleSessionTimeout="60",
                                                    maxSessionDuration="2"))))
    ssm.update_document(Name="SSM-SessionManagerRunShell", Content=f.read_text(),
                        DocumentVersion="$LATEST")
    start, _ = start_session(gw, agent)
    sid = start["SessionId"]
    assert session_status(gw, sid, "Active")["MaxSessionDuration"] == "2"
    aleg = agent.data_leg(sid)
    aleg.recv_mgs()
    cleg = client_leg(gw, start, sid)
    seq = 0
    while True:
        cleg.send(mgs("input_stream_data", b"x", seq=seq, ptype=1))
        seq += 1
        try:
            m = cleg.recv_mgs(timeout=0.2)
        except (socket.timeout, TimeoutError):
            continue
        if m["type"] == "channel_closed":
            break
    assert "maximum duration" in json.loads(m["payload"])["Output"]
    hist = session_status(gw, sid, "History")
    assert hist["Status"] == "Terminated"
    aleg.close()
    cleg.close()
