"""dh_http / dh_aws transport behaviour against scripted TLS peers.

Each test drives the C client through $DH_BUILD/tools/awscall against a
peers.ScriptedPeer (or through a peers.ConnectProxy) on 127.0.0.1 and
asserts what the peer saw: attempt counts for retry policy, the size cap,
timeouts, Expect: 100-continue, chunked replies, TLS verification failures
and proxy tunnelling.
"""
import json
import pathlib
import subprocess

import pytest

from conftest import PROXY_VARS, hermetic_env, make_cert
from peers import ConnectProxy, Reply, ScriptedPeer, json_error

DH_OK = 0
DH_E_TOOBIG = -3
DH_E_ARG = -6
DH_E_NET = -8
DH_E_TLS = -9
DH_E_SERVICE = -11
DH_E_TIMEOUT = -13

FAST = ["--backoff-base-ms", "1", "--backoff-cap-ms", "5"]
CREDS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
         "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         "AWS_SESSION_TOKEN": "DUMMYSESSIONTOKEN"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    a = tmp_path_factory.mktemp("ca-a")
    b = tmp_path_factory.mktemp("ca-b")
    wrong_name = tmp_path_factory.mktemp("wrong-name")
    cert_a, key_a = make_cert(a)
    cert_b, _ = make_cert(b)
    # A certificate whose names do not include 127.0.0.1.
    wn_cert, wn_key = wrong_name / "cert.pem", wrong_name / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(wn_key), "-out", str(wn_cert), "-days", "2",
                    "-subj", "/CN=other.invalid",
                    "-addext", "subjectAltName=DNS:other.invalid",
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    return {"cert": cert_a, "key": key_a, "other_ca": cert_b,
            "wrong_name": (wn_cert, wn_key)}


def run_env(**extra):
    env = hermetic_env(**extra)
    for k in PROXY_VARS:
        if k not in extra:
            env.pop(k, None)
    return env


def awscall(build, *args, env=None, timeout=60):
    exe = pathlib.Path(build) / "tools" / "awscall"
    p = subprocess.run([str(exe), *map(str, args)], capture_output=True,
                       env=env if env is not None else run_env(),
                       timeout=timeout)
    text = p.stdout.decode("utf-8", "replace").strip()
    out = json.loads(text.splitlines()[-1]) if text else {}
    out["exit"] = p.returncode
    out["stderr"] = p.stderr.decode("utf-8", "replace")
    return out


@pytest.fixture
def peer(certs):
    p = ScriptedPeer(certs["cert"], certs["key"]).start()
    yield p
    p.stop()


def test_get_returns_status_headers_body(build, certs, peer):
    peer.set_script([Reply(200, b"hello", [("X-Test", "yes")])])
    r = awscall(build, "--ca", certs["cert"], "http", "GET", peer.url + "/a?b=c")
    assert r["rc"] == DH_OK and r["exit"] == 0
    assert r["status"] == 200 and r["body"] == "hello"
    assert r["headers"]["x-test"] == "yes"
    assert r["attempts"] == 1
    assert [q.path for q in peer.requests] == ["/a?b=c"]


def test_503_503_200_is_retried(build, certs, peer):
    peer.set_script([Reply(503, b"busy"), Reply(503, b"busy"), Reply(200, b"ok")])
    r = awscall(build, "--ca", certs["cert"], *FAST, "http", "GET", peer.url + "/")
    assert r["rc"] == DH_OK and r["status"] == 200 and r["body"] == "ok"
    assert r["attempts"] == 3
    assert len(peer.requests) == 3


def test_5xx_stops_after_max_attempts(build, certs, peer):
    peer.set_script([Reply(500, b"down")])
    r = awscall(build, "--ca", certs["cert"], *FAST, "--attempts", "3",
                "http", "GET", peer.url + "/")
    assert r["rc"] == DH_OK and r["status"] == 500
    assert r["attempts"] == 3 and len(peer.requests) == 3


def test_429_is_retried(build, certs, peer):
    peer.set_script([Reply(429, b"slow down"), Reply(200, b"ok")])
    r = awscall(build, "--ca", certs["cert"], *FAST, "http", "GET", peer.url + "/")
    assert r["status"] == 200 and len(peer.requests) == 2


def test_throttling_exception_code_is_retried(build, certs, peer):
    # 400 + ThrottlingException: only the AWS error code marks it retryable.
    peer.set_script([json_error(400, "ThrottlingException", "Rate exceeded"),
                     Reply(200, b'{"ok": true}')])
    r = awscall(build, "--ca", certs["cert"], *FAST, "json", peer.url, "ssm",
                "AmazonSSM.DescribeInstanceInformation", "{}",
                env=run_env(**CREDS))
    assert r["rc"] == DH_OK, r
    assert r["json"] == {"ok": True}
    assert len(peer.requests) == 2
    # Re-signed per attempt: each attempt carries its own Authorization.
    assert all(q.header("Authorization") for q in peer.requests)


def test_400_validation_is_not_retried(build, certs, peer):
    peer.set_script([json_error(400, "com.amazonaws.ssm#ValidationException",
                                "1 validation error detected")])
    r = awscall(build, "--ca", certs["cert"], *FAST, "json", peer.url, "ssm",
                "AmazonSSM.DescribeInstanceInformation", "{}",
                env=run_env(**CREDS))
    assert r["rc"] == DH_E_SERVICE and r["exit"] == 1
    assert r["code"] == "ValidationException"
    assert r["message"] == "1 validation error detected"
    assert r["status"] == 400
    assert r["request_id"] == "req-com.amazonaws.ssm#ValidationException"
    assert len(peer.requests) == 1


def test_403_and_404_are_not_retried(build, certs, peer):
    for status in (403, 404):
        peer.set_script([Reply(status, b"no")])
        before = len(peer.requests)
        r = awscall(build, "--ca", certs["cert"], *FAST, "http", "GET", peer.url + "/")
        assert r["status"] == status
        assert len(peer.requests) - before == 1


def test_body_over_cap_is_toobig(build, certs, peer):
    # Content-Length announces 4 MiB: refused without reading it all.
    peer.set_script([Reply(200, stream=4 << 20)])
    r = awscall(build, "--ca", certs["cert"], *FAST, "--max-body", "65536",
                "http", "GET", peer.url + "/big")
    assert r["rc"] == DH_E_TOOBIG, r
    assert "65536" in r["error"]
    assert r["body_len"] == 0
    assert len(peer.requests) == 1


def test_chunked_body_over_cap_is_toobig(build, certs, peer):
    # No Content-Length: the write callback stops at the cap.
    peer.set_script([Reply(200, stream=4 << 20, chunked=True)])
    r = awscall(build, "--ca", certs["cert"], *FAST, "--max-body", "100000",
                "http", "GET", peer.url + "/big")
    assert r["rc"] == DH_E_TOOBIG, r
    assert r["body_len"] <= 100000
    assert len(peer.requests) == 1


def test_chunked_response_is_reassembled(build, certs, peer):
    body = b"".join(b"line %d\n" % i for i in range(5000))
    peer.set_script([Reply(200, body, chunked=True)])
    r = awscall(build, "--ca", certs["cert"], "http", "GET", peer.url + "/c")
    assert r["rc"] == DH_OK and r["body"].encode() == body


def test_slow_response_times_out(build, certs, peer):
    peer.set_script([Reply(200, b"late", delay=10)])
    r = awscall(build, "--ca", certs["cert"], "--timeout-ms", "300",
                "--attempts", "1", "http", "GET", peer.url + "/slow")
    assert r["rc"] == DH_E_TIMEOUT, r
    assert "127.0.0.1" in r["error"]


def test_timeout_then_success_is_retried(build, certs, peer):
    peer.set_script([Reply(200, b"late", delay=10), Reply(200, b"ok")])
    r = awscall(build, "--ca", certs["cert"], *FAST, "--timeout-ms", "300",
                "http", "GET", peer.url + "/")
    assert r["rc"] == DH_OK and r["body"] == "ok" and r["attempts"] == 2


def test_dropped_connection_is_retried(build, certs, peer):
    peer.set_script([Reply(drop=True), Reply(200, b"ok")])
    r = awscall(build, "--ca", certs["cert"], *FAST, "http", "GET", peer.url + "/")
    assert r["rc"] == DH_OK and r["body"] == "ok" and r["attempts"] == 2


def test_connection_refused_is_net_error(build, certs, peer):
    url = peer.url + "/"
    peer.stop()
    r = awscall(build, "--ca", certs["cert"], *FAST, "--attempts", "2",
                "http", "GET", url)
    assert r["rc"] == DH_E_NET and r["attempts"] == 2
    assert "127.0.0.1" in r["error"]


def test_expect_100_continue_for_large_body(build, certs, peer):
    peer.set_script([Reply(200, b"stored")])
    size = 2 << 20
    r = awscall(build, "--ca", certs["cert"], "--body-size", size,
                "http", "PUT", peer.url + "/obj")
    assert r["rc"] == DH_OK and r["body"] == "stored"
    q = peer.requests[-1]
    assert q.header("Expect") == "100-continue"
    assert q.sent_100
    assert len(q.body) == size and q.body == b"x" * size


def test_small_body_has_no_expect(build, certs, peer):
    r = awscall(build, "--ca", certs["cert"], "--body", "tiny",
                "--header", "Content-Type: text/plain",
                "http", "POST", peer.url + "/small")
    assert r["rc"] == DH_OK
    q = peer.requests[-1]
    assert q.header("Expect") is None
    assert q.body == b"tiny"
    assert q.header("Content-Type") == "text/plain"


def test_body_without_content_type_gets_none(build, certs, peer):
    awscall(build, "--ca", certs["cert"], "--body", "x", "http", "PUT", peer.url + "/o")
    assert peer.requests[-1].header("Content-Type") is None


def test_wrong_ca_is_tls_error(build, certs, peer):
    r = awscall(build, "--ca", certs["other_ca"], *FAST, "http", "GET", peer.url + "/")
    assert r["rc"] == DH_E_TLS, r
    assert "certificate" in r["error"].lower()
    assert r["attempts"] == 1          # a certificate problem is never retried
    assert peer.requests == []


def test_missing_ca_file_is_tls_error(build, certs, peer):
    r = awscall(build, "--ca", "/nonexistent/ca.pem", *FAST, "http", "GET", peer.url + "/")
    assert r["rc"] == DH_E_TLS, r
    assert peer.requests == []


def test_default_store_rejects_self_signed_peer(build, certs, peer):
    r = awscall(build, *FAST, "http", "GET", peer.url + "/")
    assert r["rc"] == DH_E_TLS, r
    assert peer.requests == []


def test_hostname_mismatch_is_tls_error(build, certs):
    wn_cert, wn_key = certs["wrong_name"]
    with ScriptedPeer(wn_cert, wn_key) as p:
        r = awscall(build, "--ca", wn_cert, *FAST, "http", "GET", p.url + "/")
        assert r["rc"] == DH_E_TLS, r
        assert p.requests == []


def test_no_way_to_skip_verification(build, root, certs, peer):
    for flag in ("--insecure", "-k", "--no-verify-ssl"):
        r = subprocess.run([str(pathlib.Path(build) / "tools" / "awscall"), flag,
                            "http", "GET", peer.url + "/"], capture_output=True,
                           env=run_env(), timeout=30)
        assert r.returncode == 2          # usage error, no request made
    assert peer.requests == []
    src = (pathlib.Path(root) / "common" / "dh_http.c").read_text()
    assert "SSL_VERIFYPEER, 1L" in src and "SSL_VERIFYHOST, 2L" in src
    for bad in ("VERIFYPEER, 0", "VERIFYHOST, 0", "VERIFYPEER, 0L", "VERIFYHOST, 0L"):
        assert bad not in src
    hdr = (pathlib.Path(root) / "common" / "dh_http.h").read_text()
    assert "verify" not in hdr.split("struct dh_http_config {")[1].split("};")[0]


def test_plain_http_url_is_refused(build, certs, peer):
    r = awscall(build, "http", "GET", "http://127.0.0.1:%d/" % peer.port)
    assert r["rc"] == DH_E_ARG
    assert peer.requests == []


def test_proxy_from_config_tunnels_with_connect(build, certs, peer):
    with ConnectProxy() as proxy:
        r = awscall(build, "--ca", certs["cert"], "--proxy", proxy.url,
                    "http", "GET", peer.url + "/via-proxy")
        assert r["rc"] == DH_OK and r["status"] == 200, r
        assert proxy.connects == ["127.0.0.1:%d" % peer.port]
    assert peer.requests[-1].path == "/via-proxy"


def test_proxy_from_environment(build, certs, peer):
    with ConnectProxy() as proxy:
        for var in ("https_proxy", "HTTPS_PROXY"):
            r = awscall(build, "--ca", certs["cert"], "http", "GET", peer.url + "/env",
                        env=run_env(**{var: proxy.url}))
            assert r["rc"] == DH_OK, r
        assert len(proxy.connects) == 2
        # no_proxy bypasses it.
        r = awscall(build, "--ca", certs["cert"], "http", "GET", peer.url + "/direct",
                    env=run_env(https_proxy=proxy.url, no_proxy="127.0.0.1"))
        assert r["rc"] == DH_OK
        assert len(proxy.connects) == 2
    assert peer.requests[-1].path == "/direct"


def test_dead_proxy_is_net_error(build, certs, peer):
    proxy = ConnectProxy().start()
    url = proxy.url
    proxy.stop()
    r = awscall(build, "--ca", certs["cert"], *FAST, "--attempts", "1",
                "--proxy", url, "http", "GET", peer.url + "/")
    assert r["rc"] == DH_E_NET, r
    assert peer.requests == []


def test_signing_secrets_never_logged(build, certs, peer):
    peer.set_script([Reply(503, b"busy"), Reply(200, b"{}")])
    r = awscall(build, "--ca", certs["cert"], *FAST, "--debug", "json", peer.url,
                "logs", "Logs_20140328.DescribeLogGroups", "{}", env=run_env(**CREDS))
    assert r["rc"] == DH_OK and len(peer.requests) == 2
    assert "retrying" in r["stderr"]      # debug output was produced
    auth = peer.requests[0].header("Authorization")
    sig = auth.split("Signature=")[1]
    for secret in (CREDS["AWS_SECRET_ACCESS_KEY"], CREDS["AWS_SESSION_TOKEN"], sig):
        assert secret not in r["stderr"]


# ---- AWS wire shapes (dh_aws) against the scripted peer, checked with
# ---- Debian's botocore as the SigV4 oracle and `cryptography` for RSA-PSS.

def oracle(req, port, service, region, creds, s3=False):
    """Rebuild (auth, canonical request, string to sign) for a recorded
    request with botocore, signing exactly the headers it listed."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    authz = req.header("Authorization")
    signed = authz.split("SignedHeaders=")[1].split(",")[0].strip().split(";")
    headers = {name: req.header(name) for name in signed}
    ar = AWSRequest(method=req.method, url="https://127.0.0.1:%d%s" % (port, req.path),
                    headers=headers, data=req.body)
    ar.context["timestamp"] = req.header("X-Amz-Date")
    cls = S3SigV4Auth if s3 else SigV4Auth
    auth = cls(Credentials(*creds), service, region)
    canonical = auth.canonical_request(ar)
    return auth, ar, canonical, auth.string_to_sign(ar, canonical)


def signature_of(req):
    return req.header("Authorization").split("Signature=")[1].strip()


def test_json_call_wire_shape_and_signature(build, certs, peer):
    peer.set_script([Reply(200, b'{"InstanceInformationList": []}')])
    body = '{"MaxResults": 5}'
    r = awscall(build, "--ca", certs["cert"], "--region", "eu-west-1", "json", peer.url,
                "ssm", "AmazonSSM.DescribeInstanceInformation", body,
                env=run_env(**CREDS))
    assert r["rc"] == DH_OK and r["json"] == {"InstanceInformationList": []}
    q = peer.requests[-1]
    assert q.method == "POST" and q.path == "/"
    assert q.header("X-Amz-Target") == "AmazonSSM.DescribeInstanceInformation"
    assert q.header("Content-Type") == "application/x-amz-json-1.1"
    assert q.header("Host") == "127.0.0.1:%d" % peer.port
    assert q.header("X-Amz-Security-Token") == CREDS["AWS_SESSION_TOKEN"]
    assert q.body == body.encode()
    authz = q.header("Authorization")
    assert authz.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/ssm/aws4_request" in authz
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target" in authz
    auth, ar, _, sts = oracle(q, peer.port, "ssm", "eu-west-1",
                              (CREDS["AWS_ACCESS_KEY_ID"], CREDS["AWS_SECRET_ACCESS_KEY"],
                               CREDS["AWS_SESSION_TOKEN"]))
    assert auth.signature(sts, ar) == signature_of(q)


def test_anonymous_call_has_no_auth_headers(build, certs, peer):
    peer.set_script([Reply(200, b'{"InstanceId": "mi-0123456789abcdef0"}')])
    r = awscall(build, "--ca", certs["cert"], "--anon", "json", peer.url, "ssm",
                "AmazonSSM.RegisterManagedInstance", '{"ActivationId": "x"}')
    assert r["rc"] == DH_OK and r["json"]["InstanceId"] == "mi-0123456789abcdef0"
    q = peer.requests[-1]
    assert q.header("Authorization") is None
    assert q.header("X-Amz-Date") is None
    assert q.header("X-Amz-Security-Token") is None
    assert q.header("X-Amz-Target") == "AmazonSSM.RegisterManagedInstance"


def test_rsa_custom_signer_verifies(build, certs, peer, tmp_path):
    import base64
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.private_bytes(serialization.Encoding.DER,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    kf = tmp_path / "key.b64"
    kf.write_text(base64.b64encode(der).decode())
    peer.set_script([Reply(500, b"oops"), Reply(200, b'{"AccessKeyId": "ASIA..."}')])
    r = awscall(build, "--ca", certs["cert"], *FAST, "--rsa-key", kf,
                "--instance-id", "mi-0123456789abcdef0", "json", peer.url, "ssm",
                "AmazonSSM.RequestManagedInstanceRoleToken", '{"Fingerprint": "f"}')
    assert r["rc"] == DH_OK, r
    assert len(peer.requests) == 2
    for q in peer.requests:      # both attempts signed, each verifies
        authz = q.header("Authorization")
        assert authz.startswith("AWS4-HMAC-SHA256 Credential=mi-0123456789abcdef0/")
        assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target," in authz
        _, _, _, sts = oracle(q, peer.port, "ssm", "us-east-1",
                              ("mi-0123456789abcdef0", "unused"))
        sig = base64.b64decode(signature_of(q))
        assert len(sig) == 256
        key.public_key().verify(sig, sts.encode(),
                                padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                            salt_length=32), hashes.SHA256())


def test_s3_put_unsigned_payload_and_md5(build, certs, peer):
    peer.set_script([Reply(200, b"", [("ETag", '"abc"')])])
    r = awscall(build, "--ca", certs["cert"], "--body", "small object\n",
                "--header", "Content-Type: text/plain", "--unsigned-payload",
                "--content-md5", "s3", peer.url, "PUT", "hybrid-bucket",
                "run/a b+c~d.txt", env=run_env(**CREDS))
    assert r["rc"] == DH_OK and r["headers"]["etag"] == '"abc"'
    q = peer.requests[-1]
    assert q.path == "/hybrid-bucket/run/a%20b%2Bc~d.txt"
    assert q.header("X-Amz-Content-SHA256") == "UNSIGNED-PAYLOAD"
    assert q.header("Content-MD5") == "0JPsHv0Eh6VRPhfgII557w=="
    assert q.body == b"small object\n"
    auth, ar, _, sts = oracle(q, peer.port, "s3", "us-east-1",
                              tuple(CREDS.values()), s3=True)
    assert auth.signature(sts, ar) == signature_of(q)


def test_s3_query_subresources_and_payload_hashes(build, certs, peer):
    import hashlib
    peer.set_script([Reply(200, b"<InitiateMultipartUploadResult/>")])
    r = awscall(build, "--ca", certs["cert"], "--query", "uploads", "s3", peer.url,
                "POST", "b", "big.bin", env=run_env(**CREDS))
    assert r["rc"] == DH_OK
    q = peer.requests[-1]
    assert q.path == "/b/big.bin?uploads"
    assert q.header("X-Amz-Content-SHA256") == hashlib.sha256(b"").hexdigest()
    auth, ar, canonical, sts = oracle(q, peer.port, "s3", "us-east-1",
                                      tuple(CREDS.values()), s3=True)
    assert "\nuploads=\n" in canonical
    assert auth.signature(sts, ar) == signature_of(q)

    r = awscall(build, "--ca", certs["cert"], "--query", "partNumber=2",
                "--query", "uploadId=UP/ID+1", "--body", "part-two",
                "s3", peer.url, "PUT", "b", "big.bin", env=run_env(**CREDS))
    q = peer.requests[-1]
    assert q.path == "/b/big.bin?partNumber=2&uploadId=UP%2FID%2B1"
    assert q.header("X-Amz-Content-SHA256") == hashlib.sha256(b"part-two").hexdigest()
    auth, ar, _, sts = oracle(q, peer.port, "s3", "us-east-1",
                              tuple(CREDS.values()), s3=True)
    assert auth.signature(sts, ar) == signature_of(q)


def test_s3_error_xml_and_head_status(build, certs, peer):
    from peers import s3_error
    peer.set_script([s3_error(404, "NoSuchKey", "The specified key does not exist.")])
    r = awscall(build, "--ca", certs["cert"], "s3", peer.url, "GET", "b", "k",
                env=run_env(**CREDS))
    assert r["rc"] == DH_E_SERVICE and r["code"] == "NoSuchKey"
    assert r["message"] == "The specified key does not exist."
    assert r["request_id"] == "RID123" and r["status"] == 404
    peer.set_script([Reply(403, b"")])
    r = awscall(build, "--ca", certs["cert"], "s3", peer.url, "HEAD", "b", "k",
                env=run_env(**CREDS))
    assert r["rc"] == DH_E_SERVICE and r["code"] == "403" and r["message"] == "Forbidden"
    # SlowDown (503) is throttling: retried.
    peer.set_script([s3_error(503, "SlowDown"), Reply(200, b"data")])
    r = awscall(build, "--ca", certs["cert"], *FAST, "s3", peer.url, "GET", "b", "k",
                env=run_env(**CREDS))
    assert r["rc"] == DH_OK and r["body"] == "data" and r["attempts"] == 2
