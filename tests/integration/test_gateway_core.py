"""Helpers for the gateway integration tests: start/stop deckhand-gateway on a
free loopback port with a temp state dir, run Debian's aws CLI v2 against it,
and sign raw requests with botocore (HMAC) or RSA-PSS (hybrid instance key),
sending them with http.client (optionally with a chunked body)."""
import base64
import datetime
import http.client
import json
import os
import pathlib
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conftest import ROOT, hermetic_env

AWS = "/usr/bin/aws"
MODELS = ROOT / "tests" / "data" / "models"
REGION = "us-east-1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Gateway:
    def __init__(self, build, state, env_extra=None):
        self.build = pathlib.Path(build)
        self.state = pathlib.Path(state)
        self.env_extra = env_extra or {}
        self.proc = None
        self.port = None
        self.log = None

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    @property
    def ca(self):
        return self.state / "ca.pem"

    def start(self, env_extra=None, port=None):
        self.port = port or self.port or free_port()
        env = hermetic_env()
        env.update(self.env_extra)
        env.update(env_extra or {})
        self.log = open(str(self.state) + ".log", "ab")
        self.proc = subprocess.Popen(
            [str(self.build / "deckhand-gateway"), "serve", "--state", str(self.state),
             "--listen", "127.0.0.1:%d" % self.port, "--region", REGION],
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

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def logtext(self):
        p = pathlib.Path(str(self.state) + ".log")
        return p.read_text(errors="replace") if p.exists() else ""

    def admin(self):
        text = (self.state / "admin.credentials").read_text()
        kv = dict(l.split(" = ", 1) for l in text.splitlines() if " = " in l)
        return kv["aws_access_key_id"], kv["aws_secret_access_key"]

    def env(self, akid=None, secret=None, token=None, **extra):
        if akid is None:
            akid, secret = self.admin()
        env = hermetic_env(ca=self.ca, AWS_ACCESS_KEY_ID=akid,
                           AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION=REGION,
                           AWS_DATA_PATH=str(MODELS), AWS_MAX_ATTEMPTS="1", **extra)
        if token:
            env["AWS_SESSION_TOKEN"] = token
        return env

    def aws(self, *args, env=None, check=False):
        argv = [AWS, "--endpoint-url", self.url, "--output", "json"] + list(args)
        p = subprocess.run(argv, env=env or self.env(), capture_output=True, text=True, timeout=60)
        if p.returncode < 0:
            # Debian's aws CLI (python, threaded s3transfer) has been seen
            # dying of SIGSEGV after a completed `s3 cp` download; a client
            # that dies of a signal is run once more, and says so.
            print("aws %s died of signal %d; running it again" % (" ".join(args[:2]), -p.returncode),
                  file=sys.stderr)
            p = subprocess.run(argv, env=env or self.env(), capture_output=True, text=True, timeout=60)
        if check:
            assert p.returncode == 0, p.stderr
        return p

    def aws_json(self, *args, env=None):
        p = self.aws(*args, env=env, check=True)
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def boto(self, service, akid=None, secret=None, token=None):
        import boto3
        from botocore.config import Config
        if akid is None:
            akid, secret = self.admin()
        return boto3.client(service, region_name=REGION, endpoint_url=self.url,
                            aws_access_key_id=akid, aws_secret_access_key=secret,
                            aws_session_token=token, verify=str(self.ca),
                            config=Config(retries={"max_attempts": 1}))

    def ssl_context(self):
        return ssl.create_default_context(cafile=str(self.ca))

    def raw(self, method, path, headers, body=b"", chunked=False):
        """Send a request; returns (status, headers dict lower-case, body)."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl_context(),
                                           timeout=20)
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                if part:
                    conn.send(b"%x\r\n" % len(part) + part + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        conn.close()
        return r.status, hdrs, data


def amz_now(shift=0):
    t = datetime.datetime.utcnow() + datetime.timedelta(seconds=shift)
    return t.strftime("%Y%m%dT%H%M%SZ")


def _prepare(gw, target, body, service, path="/", method="POST", ctype="application/x-amz-json-1.1",
             ts=None, token=None):
    headers = {"Content-Type": ctype}
    if target:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method=method, url=gw.url + path, data=body, headers=headers)
    ts = ts or amz_now()
    req.context["timestamp"] = ts
    req.headers["X-Amz-Date"] = ts
    if token:
        req.headers["X-Amz-Security-Token"] = token
    return req, ts


def hmac_request(gw, target, payload, akid, secret, token=None, service="ssm", ts=None,
                 path="/", ctype="application/x-amz-json-1.1"):
    """Sign with botocore (fixed timestamp) and send; returns (status, hdrs, body)."""
    body = json.dumps(payload).encode()
    req, ts = _prepare(gw, target, body, service, path=path, ctype=ctype, ts=ts, token=token)
    auth = SigV4Auth(Credentials(akid, secret, token), service, REGION)
    auth._modify_request_before_signing = lambda r: None
    cr = auth.canonical_request(req)
    sts = auth.string_to_sign(req, cr)
    sig = auth.signature(sts, req)
    signed = auth.signed_headers(auth.headers_to_sign(req))
    req.headers["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                                    "SignedHeaders=%s, Signature=%s" % (akid, ts[:8], REGION,
                                                                       service, signed, sig))
    h = dict(req.headers.items())
    h["Host"] = "127.0.0.1:%d" % gw.port
    return gw.raw("POST", path, h, body)


class Instance:
    """A hybrid instance identity: RSA-2048 key + fingerprint."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public_b64 = base64.b64encode(der).decode()
        self.fingerprint = "1d0987b9-5b6e-4e4c-9d1a-0c1f2e3d4a5b"
        self.instance_id = None

    def register(self, gw, code, act_id):
        body = json.dumps({"ActivationCode": code, "ActivationId": act_id,
                           "Fingerprint": self.fingerprint, "PublicKey": self.public_b64,
                           "PublicKeyType": "Rsa"}).encode()
        st, _, data = gw.raw("POST", "/", {
            "Host": "127.0.0.1:%d" % gw.port,
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonSSM.RegisterManagedInstance",
            "User-Agent": "aws-sdk-go/1.51.20 (go1.19.8; linux; amd64) amazon-ssm-agent/3.3.0.0"},
            body)
        out = json.loads(data)
        if st == 200:
            self.instance_id = out["InstanceId"]
        return st, out

    def rsa_call(self, gw, target, payload, ts=None):
        """RSA-PSS signed call exactly like the reference agent: chunked body,
        X-Amz-Content-Sha256 sent but not signed."""
        import hashlib
        body = json.dumps(payload).encode()
        req, ts = _prepare(gw, target, body, "ssm", ts=ts)
        auth = SigV4Auth(Credentials(self.instance_id, "unused"), "ssm", REGION)
        cr = auth.canonical_request(req)
        sts = auth.string_to_sign(req, cr)
        sig = self.key.sign(sts.encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                      salt_length=32), hashes.SHA256())
        signed = auth.signed_headers(auth.headers_to_sign(req))
        h = {"Host": "127.0.0.1:%d" % gw.port,
             "User-Agent": "aws-sdk-go/1.51.20 (go1.19.8; linux; amd64) amazon-ssm-agent/3.3.0.0"}
        h.update(dict(req.headers.items()))
        h["X-Amz-Content-Sha256"] = hashlib.sha256(body).hexdigest()
        h["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s/%s/ssm/aws4_request, "
                              "SignedHeaders=%s, Signature=%s" % (
                                  self.instance_id, ts[:8], REGION, signed,
                                  base64.b64encode(sig).decode()))
        st, hdrs, data = gw.raw("POST", "/", h, body, chunked=True)
        return st, json.loads(data) if data else {}


def ws_connect(gw, path, akid, secret, token):
    """SigV4-signed websocket upgrade (signed headers host;x-amz-date;
    x-amz-security-token, like the agent); returns (status line, socket)."""
    url = gw.url + path
    req = AWSRequest(method="GET", url=url, data=b"", headers={})
    ts = amz_now()
    req.context["timestamp"] = ts
    req.headers["X-Amz-Date"] = ts
    req.headers["X-Amz-Security-Token"] = token
    auth = SigV4Auth(Credentials(akid, secret, token), "ssmmessages", REGION)
    auth._modify_request_before_signing = lambda r: None
    cr = auth.canonical_request(req)
    sig = auth.signature(auth.string_to_sign(req, cr), req)
    signed = auth.signed_headers(auth.headers_to_sign(req))
    authz = ("AWS4-HMAC-SHA256 Credential=%s/%s/%s/ssmmessages/aws4_request, "
             "SignedHeaders=%s, Signature=%s" % (akid, ts[:8], REGION, signed, sig))
    raw = socket.create_connection(("127.0.0.1", gw.port), 10)
    s = gw.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: Go-http-client/1.1\r\n"
               "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: %s\r\nAuthorization: %s\r\nX-Amz-Date: %s\r\n"
               "X-Amz-Security-Token: %s\r\n\r\n" % (path, gw.port, key, authz, ts, token)
               ).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return head.split(b"\r\n", 1)[0].decode(errors="replace"), s


def ws_send_text(s, text):
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    if n < 126:
        hdr = struct.pack("!BB", 0x81, 0x80 | n)
    else:
        hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def ws_ping(s, payload=b"keepalive"):
    mask = os.urandom(4)
    s.sendall(struct.pack("!BB", 0x89, 0x80 | len(payload)) + mask +
              bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    hdr = s.recv(2)
    n = hdr[1] & 0x7f
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return hdr[0] & 0x0f, body


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------
import pytest  # noqa: E402


@pytest.fixture
def gw(build, tmp_path):
    g = Gateway(build, tmp_path / "gw").start()
    yield g
    g.stop()


def err_code(p):
    """The AWS error code the CLI printed: 'An error occurred (X) when ...'."""
    import re
    m = re.search(r"An error occurred \(([^)]+)\)", p.stderr)
    return m.group(1) if m else p.stderr


def create_activation(gw, limit=1, cli=False, **kw):
    if cli:
        args = ["ssm", "create-activation", "--iam-role", "deckhand-test",
                "--registration-limit", str(limit), "--default-instance-name", "host-a"]
        for k, v in kw.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        out = gw.aws_json(*args)
    else:
        out = gw.boto("ssm").create_activation(IamRole="deckhand-test", RegistrationLimit=limit,
                                               DefaultInstanceName="host-a", **kw)
    return out["ActivationCode"], out["ActivationId"]


def register_online(gw, cli=False):
    """Register an instance, fetch role credentials (RSA, chunked) and send a
    heartbeat (with the CLI + hand-written model when cli, else botocore
    signed); returns (instance, creds)."""
    code, aid = create_activation(gw)
    inst = Instance()
    st, out = inst.register(gw, code, aid)
    assert st == 200, out
    assert inst.instance_id.startswith("mi-") and len(inst.instance_id) == 20
    st, creds = inst.rsa_call(gw, "AmazonSSM.RequestManagedInstanceRoleToken",
                              {"Fingerprint": inst.fingerprint})
    assert st == 200, creds
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["TokenExpirationDate"] > time.time()
    if cli:
        env = gw.env(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        gw.aws("ssm-agentapi", "update-instance-information", "--instance-id", inst.instance_id,
               "--agent-name", "amazon-ssm-agent", "--agent-version", "3.3.987.0",
               "--agent-status", "Active", "--platform-type", "Linux", "--platform-name",
               "Debian", "--platform-version", "12", "--computer-name", "host1",
               "--ip-address", "10.0.0.5", env=env, check=True)
    else:
        st, _, data = hmac_request(gw, "AmazonSSM.UpdateInstanceInformation", {
            "AgentName": "amazon-ssm-agent", "AgentVersion": "3.3.987.0",
            "InstanceId": inst.instance_id, "PlatformType": "Linux",
            "PlatformName": "Debian", "PlatformVersion": "12", "IPAddress": "10.0.0.5"},
            creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        assert st == 200, data
    return inst, creds


def test_first_start_layout(gw):
    st = gw.state
    assert (os.stat(st).st_mode & 0o777) == 0o700
    assert (os.stat(st / "admin.credentials").st_mode & 0o777) == 0o600
    text = (st / "admin.credentials").read_text()
    assert "[default]" in text and "aws_access_key_id = AKIA" in text
    assert "listening on https://127.0.0.1:%d" % gw.port in gw.logtext()
    # The server cert verifies against ca.pem for both 127.0.0.1 and localhost.
    subprocess.run(["openssl", "verify", "-CAfile", str(st / "ca.pem"), str(st / "server.pem")],
                   check=True, capture_output=True)
    san = subprocess.run(["openssl", "x509", "-in", str(st / "server.pem"), "-noout", "-ext",
                          "subjectAltName"], capture_output=True, text=True).stdout
    assert "DNS:localhost" in san and "IP Address:127.0.0.1" in san
    # Secrets never reach the log.
    assert gw.admin()[1] not in gw.logtext()


def test_activation_lifecycle_cli(gw):
    code, aid = create_activation(gw, limit=3, cli=True, description="first batch")
    assert len(code) >= 20
    acts = gw.aws_json("ssm", "describe-activations")["ActivationList"]
    assert [a["ActivationId"] for a in acts] == [aid]
    a = acts[0]
    assert a["RegistrationLimit"] == 3 and a["RegistrationsCount"] == 0
    assert a["Expired"] is False and a["Description"] == "first batch"
    one = gw.boto("ssm").describe_activations(Filters=[
        {"FilterKey": "ActivationIds", "FilterValues": [aid]}])["ActivationList"]
    assert len(one) == 1
    gw.aws("ssm", "delete-activation", "--activation-id", aid, check=True)
    assert gw.boto("ssm").describe_activations()["ActivationList"] == []
    p = gw.aws("ssm", "delete-activation", "--activation-id", aid)
    assert p.returncode == 254 and err_code(p) == "InvalidActivationId"


def test_register_heartbeat_online_and_tags(gw):
    inst, creds = register_online(gw, cli=True)
    info = gw.aws_json("ssm", "describe-instance-information")["InstanceInformationList"]
    assert len(info) == 1
    i = info[0]
    assert i["InstanceId"] == inst.instance_id
    assert i["PingStatus"] == "Online"
    assert i["PlatformName"] == "Debian" and i["IPAddress"] == "10.0.0.5"
    assert i["ResourceType"] == "ManagedInstance" and i["Name"] == "host-a"
    ssm = gw.boto("ssm")
    filt = ssm.describe_instance_information(Filters=[
        {"Key": "PingStatus", "Values": ["ConnectionLost"]}])["InstanceInformationList"]
    assert filt == []
    # activation counted the registration
    acts = ssm.describe_activations()["ActivationList"]
    assert acts[0]["RegistrationsCount"] == 1
    # tags on the managed instance
    gw.aws("ssm", "add-tags-to-resource", "--resource-type", "ManagedInstance",
           "--resource-id", inst.instance_id, "--tags", "Key=env,Value=prod", check=True)
    tags = ssm.list_tags_for_resource(ResourceType="ManagedInstance",
                                      ResourceId=inst.instance_id)["TagList"]
    assert tags == [{"Key": "env", "Value": "prod"}]
    # key rotation, signed with the old key; the new key then works
    new = Instance()
    st, out = inst.rsa_call(gw, "AmazonSSM.UpdateManagedInstancePublicKey",
                            {"NewPublicKey": new.public_b64, "NewPublicKeyType": "Rsa"})
    assert st == 200, out
    new.instance_id, new.fingerprint = inst.instance_id, inst.fingerprint
    st, out = new.rsa_call(gw, "AmazonSSM.RequestManagedInstanceRoleToken",
                           {"Fingerprint": inst.fingerprint})
    assert st == 200, out
    st, out = inst.rsa_call(gw, "AmazonSSM.RequestManagedInstanceRoleToken",
                            {"Fingerprint": inst.fingerprint})
    assert st == 400 and out["__type"] == "InvalidSignatureException"
    # the reference agent's ec2messages long poll is answered with no messages
    st, _, data = hmac_request(gw, "EC2WindowsMessageDeliveryService.GetMessages",
                               {"Destination": inst.instance_id, "MessagesRequestId": "x",
                                "VisibilityTimeoutInSeconds": 10},
                               creds["AccessKeyId"], creds["SecretAccessKey"],
                               creds["SessionToken"], service="ec2messages")
    assert st == 200 and json.loads(data)["Messages"] == []
    # deregister removes the instance and revokes its credentials
    ssm.deregister_managed_instance(InstanceId=inst.instance_id)
    assert ssm.describe_instance_information()["InstanceInformationList"] == []
    st, _, data = hmac_request(gw, "AmazonSSM.UpdateInstanceInformation",
                               {"InstanceId": inst.instance_id}, creds["AccessKeyId"],
                               creds["SecretAccessKey"], creds["SessionToken"])
    assert json.loads(data)["__type"] == "UnrecognizedClientException"


def test_control_channel(gw):
    inst, creds = register_online(gw)
    path = "/v1/control-channel/" + inst.instance_id
    st, hdrs, data = hmac_request(gw, None, {"MessageSchemaVersion": "1.0", "RequestId": "r1"},
                                  creds["AccessKeyId"], creds["SecretAccessKey"],
                                  creds["SessionToken"], service="ssmmessages", path=path,
                                  ctype="application/json")
    assert st == 201, data
    import re
    token = re.search(rb"<TokenValue>([^<]+)</TokenValue>", data).group(1).decode()
    assert b"<MessageSchemaVersion>1.0</MessageSchemaVersion>" in data
    assert hdrs.get("x-amzn-requestid")
    # wrong secret on the upgrade: refused
    line, s = ws_connect(gw, path + "?role=subscribe&stream=input", creds["AccessKeyId"],
                         "x" * 40, creds["SessionToken"])
    s.close()
    assert " 101 " not in line
    line, s = ws_connect(gw, path + "?role=subscribe&stream=input", creds["AccessKeyId"],
                         creds["SecretAccessKey"], creds["SessionToken"])
    assert " 101 " in line, line
    ws_send_text(s, json.dumps({"Cookie": None, "MessageSchemaVersion": "1.0",
                                "RequestId": "r2", "TokenValue": token,
                                "AgentVersion": "3.3.987.0", "PlatformType": "linux"}))
    op, body = ws_ping(s)
    assert op == 0xA and body == b"keepalive"   # pong
    s.close()


def test_refusals(gw, tmp_path):
    akid, secret = gw.admin()
    # wrong secret
    p = gw.aws("ssm", "describe-activations", env=gw.env(akid, "W" * 40))
    assert p.returncode == 254 and err_code(p) == "InvalidSignatureException"
    # unknown key
    import botocore.exceptions
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        gw.boto("ssm", "AKIAUNKNOWNKEY000000", secret).describe_activations()
    assert ei.value.response["Error"]["Code"] == "UnrecognizedClientException"
    # skewed clock: botocore-signed 10 minutes in the past
    st, hdrs, data = hmac_request(gw, "AmazonSSM.DescribeActivations", {}, akid, secret,
                                  ts=amz_now(-600))
    assert st == 400 and json.loads(data)["__type"] == "InvalidSignatureException"
    assert "Signature expired" in json.loads(data)["message"]
    assert hdrs["content-type"] == "application/x-amz-json-1.1" and hdrs["x-amzn-requestid"]
    st, _, data = hmac_request(gw, "AmazonSSM.DescribeActivations", {}, akid, secret,
                               ts=amz_now(-60))
    assert st == 200
    # unsigned request to a signed operation
    st, _, data = gw.raw("POST", "/", {"Host": "127.0.0.1:%d" % gw.port,
                                       "X-Amz-Target": "AmazonSSM.DescribeActivations",
                                       "Content-Type": "application/x-amz-json-1.1"}, b"{}")
    assert json.loads(data)["__type"] == "MissingAuthenticationTokenException"
    # registration limit
    code, aid = create_activation(gw, limit=1)
    assert Instance().register(gw, code, aid)[0] == 200
    st, out = Instance().register(gw, code, aid)
    assert st == 400 and out["__type"] == "ActivationLimitExceeded"
    st, out = Instance().register(gw, "A" * 20, aid)
    assert st == 400 and out["__type"] == "InvalidActivation"
    # the same through the CLI and the hand-written model (unsigned op)
    pub = Instance().public_b64
    p = gw.aws("ssm-agentapi", "register-managed-instance", "--activation-code", code,
               "--activation-id", aid, "--public-key", pub, "--public-key-type", "Rsa",
               "--fingerprint", "f1")
    assert p.returncode == 254 and err_code(p) == "ActivationLimitExceeded"
    # Deny policy: a key allowed ssm:* except CreateActivation
    pol = tmp_path / "pol.json"
    pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "ssm:CreateActivation", "Resource": "*"}]}))
    out = subprocess.run([str(gw.build / "deckhand-gateway"), "keys", "create", "--state",
                          str(gw.state), "--name", "ops", "--policy", str(pol)],
                         capture_output=True, text=True, check=True).stdout
    key = json.loads(out)["AccessKey"]
    env = gw.env(key["AccessKeyId"], key["SecretAccessKey"])
    p = gw.aws("ssm", "create-activation", "--iam-role", "r", env=env)
    assert p.returncode == 254 and err_code(p) == "AccessDeniedException"
    assert "explicit deny" in p.stderr
    ops = gw.boto("ssm", key["AccessKeyId"], key["SecretAccessKey"])
    assert "ActivationList" in ops.describe_activations()
    with pytest.raises(botocore.exceptions.ClientError) as ei:   # implicit deny
        gw.boto("cloudtrail", key["AccessKeyId"], key["SecretAccessKey"]).lookup_events()
    assert ei.value.response["Error"]["Code"] == "AccessDeniedException"
    # audit trail has the refused call with its error code
    ev = gw.aws_json("cloudtrail", "lookup-events", "--lookup-attributes",
                     "AttributeKey=EventName,AttributeValue=CreateActivation")["Events"]
    recs = [json.loads(e["CloudTrailEvent"]) for e in ev]
    assert any(r.get("errorCode") == "AccessDeniedException" for r in recs)
    assert any("errorCode" not in r or r.get("errorCode") is None for r in recs)


def test_expired_activation_and_token(build, tmp_path):
    g = Gateway(build, tmp_path / "gw").start()
    try:
        code, aid = create_activation(g, limit=5)
        inst, creds = register_online(g)
        port = g.port
    finally:
        g.stop()
    # Two days later (the gateway's clock via DH_FAKE_TIME; the client signs
    # with the same shifted time so only expiry is at stake).
    later = int(time.time()) + 2 * 86400
    g.start(env_extra={"DH_FAKE_TIME": str(later)}, port=port)
    try:
        st, out = Instance().register(g, code, aid)
        assert st == 400 and out["__type"] == "ActivationExpired"
        ts = datetime.datetime.utcfromtimestamp(later).strftime("%Y%m%dT%H%M%SZ")
        st, _, data = hmac_request(g, "AmazonSSM.UpdateInstanceInformation",
                                   {"InstanceId": inst.instance_id},
                                   creds["AccessKeyId"], creds["SecretAccessKey"],
                                   creds["SessionToken"], ts=ts)
        assert st == 400 and json.loads(data)["__type"] == "ExpiredTokenException"
        # a client on the real clock is now 2 days off: refused as skewed
        import botocore.exceptions
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            g.boto("ssm").describe_activations()
        assert ei.value.response["Error"]["Code"] == "InvalidSignatureException"
    finally:
        g.stop()


def test_kill9_restart_keeps_data_and_boto3(build, tmp_path):
    g = Gateway(build, tmp_path / "gw").start()
    code, aid = create_activation(g, limit=2)
    inst, _ = register_online(g)
    assert g.stop(signal.SIGKILL) == -signal.SIGKILL
    g.start()
    try:
        acts = g.boto("ssm").describe_activations()["ActivationList"]
        counts = {a["ActivationId"]: a["RegistrationsCount"] for a in acts}
        assert len(counts) == 2 and counts[aid] == 0 and 1 in counts.values()
        # boto3 as a second client
        import boto3
        akid, secret = g.admin()
        c = boto3.client("ssm", region_name=REGION, endpoint_url=g.url,
                         aws_access_key_id=akid, aws_secret_access_key=secret,
                         verify=str(g.ca))
        info = c.describe_instance_information()["InstanceInformationList"]
        assert [i["InstanceId"] for i in info] == [inst.instance_id]
        assert info[0]["PingStatus"] == "Online"
        act = c.create_activation(IamRole="r2", RegistrationLimit=1)
        assert act["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        with pytest.raises(c.exceptions.InvalidActivationId):
            c.delete_activation(ActivationId="00000000-0000-0000-0000-000000000000")
        # the instance's RSA key still works after the restart
        st, out = inst.rsa_call(g, "AmazonSSM.RequestManagedInstanceRoleToken",
                                {"Fingerprint": inst.fingerprint})
        assert st == 200, out
        st, out = inst.rsa_call(g, "AmazonSSM.RequestManagedInstanceRoleToken",
                                {"Fingerprint": "other"})
        assert out["__type"] == "MachineFingerprintDoesNotMatch"
    finally:
        assert g.stop() == 0   # SIGTERM exits cleanly


def test_request_framing(gw):
    akid, secret = gw.admin()
    host = {"Host": "127.0.0.1:%d" % gw.port}
    # body over the cap -> 413 before reading it
    conn = http.client.HTTPSConnection("127.0.0.1", gw.port, context=gw.ssl_context(), timeout=10)
    conn.putrequest("POST", "/", skip_host=True)
    conn.putheader("Host", host["Host"])
    conn.putheader("Content-Length", str(64 * 1024 * 1024))
    conn.endheaders()
    r = conn.getresponse()
    assert r.status == 413 and json.loads(r.read())["__type"] == "RequestEntityTooLarge"
    conn.close()
    # malformed chunked framing -> clean 400
    conn = http.client.HTTPSConnection("127.0.0.1", gw.port, context=gw.ssl_context(), timeout=10)
    conn.putrequest("POST", "/", skip_host=True)
    conn.putheader("Host", host["Host"])
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"zz\r\nhello\r\n0\r\n\r\n")
    r = conn.getresponse()
    assert r.status == 400
    conn.close()
    # bad JSON -> SerializationException
    st, _, data = hmac_request(gw, "AmazonSSM.DescribeActivations", {}, akid, secret)
    assert st == 200
    st, _, data = gw.raw("POST", "/", dict(host, **{
        "X-Amz-Target": "AmazonSSM.RegisterManagedInstance",
        "Content-Type": "application/x-amz-json-1.1"}), b"{not json")
    assert st == 400 and json.loads(data)["__type"] == "SerializationException"
    # unknown target
    st, _, data = hmac_request(gw, "AmazonSSM.NoSuchThing", {}, akid, secret)
    assert json.loads(data)["__type"] == "UnknownOperationException"


# --------------------------------------------------------------------------
# Configured certificate, paging, tag removal, audit atomicity, query strings
# --------------------------------------------------------------------------

def _serve(build, state, *extra, port=None):
    """Start deckhand-gateway serve with extra arguments; returns (proc, port,
    log path) once it logs its URL, or (proc, None, log) if it exited."""
    port = port or free_port()
    logp = pathlib.Path(str(state) + ".log")
    log = open(logp, "ab")
    proc = subprocess.Popen([str(pathlib.Path(build) / "deckhand-gateway"), "serve", "--state",
                             str(state), "--listen", "127.0.0.1:%d" % port, "--region", REGION]
                            + list(extra), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            env=hermetic_env())
    log.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            return proc, None, logp
        if "listening on https://127.0.0.1:%d" % port in logp.read_text(errors="replace"):
            return proc, port, logp
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError("gateway did not start: " + logp.read_text(errors="replace"))


def _openssl_cert(d, name, days="2"):
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / (name + ".pem"), d / (name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", days, "-subj", "/CN=gw.example.test",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def test_configured_certificate(build, tmp_path):
    cert, key = _openssl_cert(tmp_path / "pki", "server")
    other_cert, other_key = _openssl_cert(tmp_path / "pki", "other")
    state = tmp_path / "gw"
    proc, port, logp = _serve(build, state, "--cert", str(cert), "--key", str(key))
    try:
        assert port is not None, logp.read_text()
        log = logp.read_text()
        assert "with certificate %s (CN=gw.example.test" % cert in log
        # nothing TLS-related is generated in the state dir
        assert not (state / "ca.pem").exists() and not (state / "server.pem").exists()
        assert not (state / "ca.key").exists() and not (state / "server.key").exists()
        # the aws CLI trusts the configured certificate (self-signed: it is its own issuer)
        text = (state / "admin.credentials").read_text()
        kv = dict(l.split(" = ", 1) for l in text.splitlines() if " = " in l)
        env = hermetic_env(ca=cert, AWS_ACCESS_KEY_ID=kv["aws_access_key_id"],
                           AWS_SECRET_ACCESS_KEY=kv["aws_secret_access_key"],
                           AWS_DEFAULT_REGION=REGION)
        p = subprocess.run([AWS, "--endpoint-url", "https://127.0.0.1:%d" % port, "--output",
                            "json", "ssm", "describe-activations"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["ActivationList"] == []
        # a client trusting some other certificate refuses the connection
        p = subprocess.run([AWS, "--endpoint-url", "https://127.0.0.1:%d" % port,
                            "ssm", "describe-activations"],
                           env=dict(env, **{k: str(other_cert) for k in (
                               "AWS_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and "SSL" in p.stderr
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0

    # refusals: clear message, exit 1, nothing served
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = datetime.datetime.utcnow()
    old = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
           .public_key(k.public_key()).serial_number(7)
           .not_valid_before(now - datetime.timedelta(days=10))
           .not_valid_after(now - datetime.timedelta(days=1)).sign(k, hashes.SHA256()))
    expired, expired_key = tmp_path / "pki" / "expired.pem", tmp_path / "pki" / "expired.key"
    expired.write_bytes(old.public_bytes(serialization.Encoding.PEM))
    expired_key.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    locked = tmp_path / "pki" / "locked.key"
    locked.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(b"pw")))
    cases = [
        ((str(cert), str(other_key)), "does not match the public key of certificate"),
        ((str(expired), str(expired_key)), "has expired"),
        ((str(expired), str(locked)), "no unencrypted PEM private key"),
        ((str(key), str(key)), "no PEM certificate"),
        ((str(tmp_path / "missing.pem"), str(key)), "cannot open"),
    ]
    for i, ((c, kf), msg) in enumerate(cases):
        proc, port, logp = _serve(build, tmp_path / ("bad%d" % i), "--cert", c, "--key", kf)
        rc = proc.wait(timeout=10)
        assert port is None and rc == 1, logp.read_text()
        assert msg in logp.read_text(), logp.read_text()
    # --cert without --key (and with --name) is a usage error
    for extra in (["--cert", str(cert)], ["--cert", str(cert), "--key", str(key), "--name", "x"]):
        p = subprocess.run([str(build / "deckhand-gateway"), "serve", "--state",
                            str(tmp_path / "usage"), "--listen", "127.0.0.1:0"] + extra,
                           capture_output=True, text=True, timeout=20, env=hermetic_env())
        assert p.returncode == 2 and "--cert and --key go together" in p.stderr


def _register_many(gw, n):
    """n instances through unsigned RegisterManagedInstance (one key pair)."""
    code, aid = create_activation(gw, limit=n)
    inst = Instance()
    ids = []
    for _ in range(n):
        st, out = inst.register(gw, code, aid)
        assert st == 200, out
        ids.append(out["InstanceId"])
    return aid, ids


def test_paging_sixty_instances(gw):
    aid, ids = _register_many(gw, 60)
    # the CLI follows NextToken on its own: 50 + 10
    info = gw.aws_json("ssm", "describe-instance-information")["InstanceInformationList"]
    assert [i["InstanceId"] for i in info] == ids
    first = gw.aws_json("ssm", "describe-instance-information", "--no-paginate")
    assert len(first["InstanceInformationList"]) == 50 and first["NextToken"]
    small = gw.aws_json("ssm", "describe-instance-information", "--page-size", "7",
                        "--filters", "Key=PingStatus,Values=ConnectionLost")
    assert [i["InstanceId"] for i in small["InstanceInformationList"]] == ids
    some = gw.aws_json("ssm", "describe-instance-information", "--max-items", "12")
    assert len(some["InstanceInformationList"]) == 12 and some["NextToken"]
    rest = gw.aws_json("ssm", "describe-instance-information", "--starting-token",
                       some["NextToken"])
    assert [i["InstanceId"] for i in rest["InstanceInformationList"]] == ids[12:]
    # boto3 paginator with page size 5: 12 pages
    ssm = gw.boto("ssm")
    pages = list(ssm.get_paginator("describe_instance_information").paginate(
        PaginationConfig={"PageSize": 5}))
    assert len(pages) == 12
    assert [i["InstanceId"] for p in pages for i in p["InstanceInformationList"]] == ids
    # DescribeActivations pages too
    for _ in range(4):
        create_activation(gw)
    pages = list(ssm.get_paginator("describe_activations").paginate(
        PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3 and sum(len(p["ActivationList"]) for p in pages) == 5
    assert len(gw.aws_json("ssm", "describe-activations", "--page-size", "1")[
        "ActivationList"]) == 5
    # server-side checks (botocore validates min client-side, so sign raw)
    akid, secret = gw.admin()
    for target, body, code in [
            ("AmazonSSM.DescribeInstanceInformation", {"MaxResults": 4}, "ValidationException"),
            ("AmazonSSM.DescribeInstanceInformation", {"MaxResults": 51}, "ValidationException"),
            ("AmazonSSM.DescribeActivations", {"MaxResults": 0}, "ValidationException"),
            ("AmazonSSM.DescribeInstanceInformation", {"NextToken": "garbage"},
             "InvalidNextToken")]:
        st, _, data = hmac_request(gw, target, body, akid, secret)
        assert st == 400 and json.loads(data)["__type"] == code, data
    tok = first["NextToken"]
    raw = bytearray(base64.b64decode(tok))
    raw[5] ^= 0x01                      # edit the cursor, keep the MAC
    with pytest.raises(ssm.exceptions.InvalidNextToken):
        ssm.describe_instance_information(NextToken=base64.b64encode(bytes(raw)).decode())
    with pytest.raises(ssm.exceptions.InvalidNextToken):
        ssm.describe_activations(NextToken=tok)   # another operation's token
    # the token stays valid across a restart (paging key kept in the store)
    gw.stop()
    gw.start()
    out = gw.boto("ssm").describe_instance_information(NextToken=tok)
    assert [i["InstanceId"] for i in out["InstanceInformationList"]] == ids[50:]
    assert "NextToken" not in out


def test_tags_remove_and_activation_tags(gw):
    out = gw.aws_json("ssm", "create-activation", "--iam-role", "r", "--tags",
                      "Key=env,Value=prod", "Key=team,Value=ops")
    st, reg = Instance().register(gw, out["ActivationCode"], out["ActivationId"])
    assert st == 200, reg
    iid = reg["InstanceId"]
    acts = gw.aws_json("ssm", "describe-activations")["ActivationList"]
    assert sorted((t["Key"], t["Value"]) for t in acts[0]["Tags"]) == [
        ("env", "prod"), ("team", "ops")]
    tags = gw.aws_json("ssm", "list-tags-for-resource", "--resource-type", "ManagedInstance",
                       "--resource-id", iid)["TagList"]
    assert tags == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ops"}]
    gw.aws("ssm", "remove-tags-from-resource", "--resource-type", "ManagedInstance",
           "--resource-id", iid, "--tag-keys", "env", "nope", check=True)
    ssm = gw.boto("ssm")
    assert ssm.list_tags_for_resource(ResourceType="ManagedInstance",
                                      ResourceId=iid)["TagList"] == [
        {"Key": "team", "Value": "ops"}]
    p = gw.aws("ssm", "remove-tags-from-resource", "--resource-type", "ManagedInstance",
               "--resource-id", "mi-0123456789abcdef0", "--tag-keys", "team")
    assert p.returncode == 254 and err_code(p) == "InvalidResourceId"
    ev = gw.aws_json("cloudtrail", "lookup-events", "--lookup-attributes",
                     "AttributeKey=EventName,AttributeValue=RemoveTagsFromResource")["Events"]
    assert len(ev) == 2


def test_audit_failure_fails_the_call(gw):
    import sqlite3
    code, aid = create_activation(gw, limit=3)
    db = sqlite3.connect(str(gw.state / "gateway.db"), timeout=10)
    db.execute("CREATE TRIGGER audit_ro BEFORE INSERT ON gw_audit_events "
               "BEGIN SELECT RAISE(ABORT, 'audit store is read-only'); END")
    db.commit()
    before = db.execute("SELECT COUNT(*) FROM activations").fetchone()[0]
    try:
        import botocore.exceptions
        ssm = gw.boto("ssm")
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            ssm.create_activation(IamRole="r")
        assert ei.value.response["Error"]["Code"] == "InternalServerError"
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        st, out = Instance().register(gw, code, aid)
        assert st == 500 and out["__type"] == "InternalServerError"
        p = gw.aws("ssm", "describe-activations")
        assert p.returncode != 0 and "InternalServerError" in p.stderr
        # nothing the refused calls did was kept
        assert db.execute("SELECT COUNT(*) FROM activations").fetchone()[0] == before
        assert db.execute("SELECT COUNT(*) FROM instances").fetchone()[0] == 0
        assert db.execute("SELECT reg_count FROM activations WHERE id = ?",
                          (aid,)).fetchone()[0] == 0
        assert "audit: recording CreateActivation failed" in gw.logtext()
    finally:
        db.execute("DROP TRIGGER audit_ro")
        db.commit()
        db.close()
    st, out = Instance().register(gw, code, aid)
    assert st == 200, out
    ev = gw.aws_json("cloudtrail", "lookup-events", "--lookup-attributes",
                     "AttributeKey=EventName,AttributeValue=RegisterManagedInstance")["Events"]
    assert len(ev) == 1


def test_signed_query_string_encoding(gw):
    """botocore signs query parameters with %26, %3D, %20, %2B and UTF-8;
    libwebsockets decodes them, the gateway re-encodes for SigV4."""
    akid, secret = gw.admin()
    params = {"amp": "a&b", "eq": "k=v", "sp": "a b", "plus": "a+b", "uni": "été ✓",
              "tilde": "x~y-z_.", "empty": ""}

    def send(params, wire_query=None):
        body = b"{}"
        req = AWSRequest(method="POST", url=gw.url + "/", data=body, params=params,
                         headers={"Content-Type": "application/x-amz-json-1.1",
                                  "X-Amz-Target": "AmazonSSM.DescribeActivations"})
        SigV4Auth(Credentials(akid, secret), "ssm", REGION).add_auth(req)
        prepared = req.prepare()
        path = prepared.url[len(gw.url):]
        if wire_query is not None:
            path = path.split("?", 1)[0] + "?" + wire_query
        h = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
        h["Host"] = "127.0.0.1:%d" % gw.port
        return path, gw.raw("POST", path, h, body)

    from botocore.utils import percent_encode_sequence
    path, (st, _, data) = send(params, wire_query=percent_encode_sequence(params))
    for enc in ("%26", "%3D", "%20", "%2B", "%C3%A9", "%E2%9C%93"):
        assert enc in path, path
    assert st == 200, data
    assert "ActivationList" in json.loads(data)
    # botocore's own wire form (and Go's): '+' for a space, signed as %20
    path, (st, _, data) = send(params)
    assert "sp=a+b" in path and st == 200, data
    # a tampered value is still caught
    _, (st, _, data) = send({"q": "a&b"}, wire_query="q=a%26c")
    assert st == 400 and json.loads(data)["__type"] == "InvalidSignatureException"
    # documented limit: an encoded '=' inside a parameter name cannot be
    # recovered from libwebsockets' fragments (it becomes '_'): refused
    _, (st, _, data) = send({"k=x": "1"})
    assert st == 400 and json.loads(data)["__type"] == "InvalidSignatureException"
