"""SigV4 and RSA-PSS against real oracles.

* A generated corpus (fixed seed) of varied requests is signed by
  `deckhand sigv4 sign` and by botocore's SigV4Auth/S3SigV4Auth at the same
  pinned time; canonical request, string to sign and Authorization must be
  byte-for-byte equal.
* `deckhand sigv4 verify` must accept every botocore-signed request and reject
  a mutated copy of each.
* RSA-PSS (SHA-256, MGF1-SHA-256, salt 32): C signatures verify with
  `openssl pkeyutl` and Python `cryptography`; Python-signed requests verify in
  C; a C-signed agent request verifies with cryptography over botocore's
  string to sign.
"""
import base64
import os
import pathlib
import random
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "oracle"))
import sigv4_botocore as oracle  # noqa: E402

from conftest import hermetic_env  # noqa: E402

SEED = 20261127
# Under sanitizers (make asan sets DH_SANITIZED) each CLI start costs ~0.5 s,
# so the sanitized run checks a prefix of the same deterministic corpus.
N_CASES = 40 if os.environ.get("DH_SANITIZED") else 240
AK = "AKIDEXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SERVICES = ["ssm", "logs", "s3", "kms", "ssmmessages"]
REGIONS = ["us-east-1", "eu-west-2", "ap-southeast-1"]
HOSTS = ["127.0.0.1:8443", "ssm.us-east-1.amazonaws.com", "localhost:443",
         "example.amazonaws.com", "10.0.0.5:4569"]
TIMES = ["20150830T123600Z", "20261127T161931Z", "20240229T235959Z"]
SEGMENTS = ["a", "b c", "caf\u00e9", "\u20ac", ".", "..", "", "x.y", "~tilde",
            "k=v", "a+b", "(p)", "*", "!$&'", "%", "dir", "bucket", "key.txt",
            "\u1234", ":@"]
QCHARS = ["a", "Z", "0", " ", "/", "?", "=", "&", "+", "%", "~", "-", "_", ".",
          "\u00e9", "\u20ac", "*", "'", ",", ";", ":", "@", "!", "$"]
HNAMES = ["X-Custom", "x-custom", "My-Header", "Content-Type", "X-Amz-Target",
          "Accept", "Content-MD5", "X-Amz-Meta-Owner", "Cache-Control"]
HVALUES = ["value", "  lead", "trail  ", "in   ner  runs", "a\tb", "\"q  u\"",
           "application/x-amz-json-1.1", "AmazonSSM.SendCommand", "", "x,y",
           "0JPsHv0Eh6VRPhfgII557w==", "v=1; w=2"]


def enc_path_segment(seg):
    # What a client puts on the wire: percent-encode everything but
    # unreserved and the sub-delims/':'/'@' (dots and '~' stay).
    return "".join(c if (c.isascii() and (c.isalnum() or c in "-._~!$&'()*+,;=:@"))
                   else "".join("%%%02X" % b for b in c.encode("utf-8")) for c in seg)


def enc_q(s):
    return "".join(c if (c.isascii() and (c.isalnum() or c in "-_.~"))
                   else "".join("%%%02X" % b for b in c.encode("utf-8")) for c in s)


def gen_case(rng, i):
    service = SERVICES[i % len(SERVICES)]
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"])
    nseg = rng.randint(0, 5)
    segs = [enc_path_segment(rng.choice(SEGMENTS)) for _ in range(nseg)]
    path = "/" + "/".join(segs)
    if rng.random() < 0.2:
        path = path.replace("/", "//", 1)
    if rng.random() < 0.2:
        path += "/"
    params = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        key = "".join(rng.choice(QCHARS) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.25 and params:
            key = params[-1][0]  # repeated key
        form = rng.random()
        if form < 0.15:
            params.append((key, None))          # "k"
        elif form < 0.3:
            params.append((key, ""))            # "k="
        else:
            params.append((key, "".join(rng.choice(QCHARS)
                                        for _ in range(rng.randint(1, 6)))))
    query = "&".join(enc_q(k) if v is None else enc_q(k) + "=" + enc_q(v)
                     for k, v in params)
    host = rng.choice(HOSTS)
    headers = [("Host", host)]
    for _ in range(rng.randint(0, 5)):
        name = rng.choice(HNAMES)
        if rng.random() < 0.3:
            name = name.upper() if rng.random() < 0.5 else name.lower()
        headers.append((name, rng.choice(HVALUES)))
    if headers and rng.random() < 0.3:
        headers.append((headers[-1][0], rng.choice(HVALUES)))  # duplicate
    if rng.random() < 0.2:
        headers.append(("User-Agent", "aws-cli/2.9.19 test"))
    if rng.random() < 0.1:
        headers.append(("Expect", "100-continue"))
    rng.shuffle(headers)
    body = b""
    if method in ("POST", "PUT", "PATCH") and rng.random() < 0.8:
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        if rng.random() < 0.5:
            body = ('{"Name": "x", "n": %d}' % i).encode()
    if body and rng.random() < 0.3:
        headers.append(("Content-Length", str(len(body))))
    token = None
    if rng.random() < 0.4:
        token = "".join(rng.choice("ABCDEFabcdef0123456789+/=") for _ in range(40))
    return {
        "method": method, "host": host, "path": path, "query": query,
        "headers": headers, "body": body, "service": service,
        "region": rng.choice(REGIONS), "access_key": AK, "secret_key": SK,
        "token": token, "timestamp": rng.choice(TIMES),
        "normalize": service == "s3" or rng.random() < 0.75,
        "unsigned": rng.random() < (0.5 if service == "s3" else 0.1),
    }


def corpus():
    rng = random.Random(SEED)
    return [gen_case(rng, i) for i in range(N_CASES)]


def run_cli(build, args, stdin):
    return subprocess.run([str(build / "deckhand")] + args, input=stdin,
                          capture_output=True, env=hermetic_env(), timeout=30)


def sections(out):
    """Split `deckhand sigv4` output into {section: text}."""
    res, cur, buf = {}, None, []
    for line in out.split(b"\n"):
        if line.startswith(b"=== ") and line.endswith(b" ==="):
            if cur is not None:
                res[cur] = b"\n".join(buf)
            cur, buf = line[4:-4].decode(), []
        else:
            buf.append(line)
    if cur is not None:
        res[cur] = b"\n".join(buf)
    return res


def sign_args(case):
    args = ["sigv4", "sign", "--access-key", case["access_key"], "--secret-key",
            case["secret_key"], "--region", case["region"], "--service",
            case["service"], "--date", case["timestamp"]]
    if case["token"]:
        args += ["--token", case["token"]]
    if not case["normalize"]:
        args.append("--no-normalize")
    if case["unsigned"]:
        args.append("--unsigned-payload")
    return args


def verify_args(case):
    args = ["sigv4", "verify", "--secret-key", case["secret_key"], "--region",
            case["region"], "--service", case["service"], "--now", case["timestamp"]]
    if not case["normalize"]:
        args.append("--no-normalize")
    return args


def signed_raw(case, signed):
    req = signed["request"]
    return oracle.raw_http(case["method"], case["path"], case["query"],
                           signed["headers"], req.body or b"")


def test_corpus_matches_botocore_byte_for_byte(build):
    cases = corpus()
    mismatches = []
    for i, case in enumerate(cases):
        ref = oracle.sign(case)
        raw = oracle.raw_http(case["method"], case["path"], case["query"],
                              case["headers"], case["body"])
        p = run_cli(build, sign_args(case), raw)
        assert p.returncode == 0, (i, p.stderr.decode())
        sec = sections(p.stdout)
        ours = (sec["canonical request"].decode("utf-8").rstrip("\n"),
                sec["string to sign"].decode().rstrip("\n"),
                sec["authorization"].decode().rstrip("\n"))
        theirs = (ref["creq"], ref["sts"], ref["authorization"])
        if ours != theirs:
            mismatches.append((i, case, ours, theirs))
    print(f"sigv4 oracle: {len(cases)} cases, {len(mismatches)} mismatches")
    if mismatches:
        i, case, ours, theirs = mismatches[0]
        pytest.fail(f"case {i} {case!r}\nours:\n{ours[0]}\n--\nbotocore:\n{theirs[0]}"
                    f"\n{ours[2]}\n{theirs[2]}")
    assert len(cases) >= (40 if os.environ.get("DH_SANITIZED") else 200)


def test_verifier_accepts_botocore_and_rejects_mutations(build):
    cases = corpus()
    accepted = rejected = 0
    for i, case in enumerate(cases):
        signed = oracle.sign(case)
        raw = signed_raw(case, signed)
        p = run_cli(build, verify_args(case), raw)
        assert p.returncode == 0, (i, case, p.stdout.decode(errors="replace"))
        accepted += 1
        # Mutation 1: one more path segment.
        bad = dict(case, path=case["path"].rstrip("/") + "/tampered")
        p = run_cli(build, verify_args(case), signed_raw(bad, signed))
        assert p.returncode == 1 and b"SignatureDoesNotMatch" in p.stdout, (i, p.stdout)
        rejected += 1
        # Mutation 2: body tampered when the body hash is signed.
        if not case["unsigned"]:
            req = signed["request"]
            body = (req.body or b"") + b"!"
            hdrs = [(n, str(len(body)) if n.lower() == "content-length" else v)
                    for n, v in signed["headers"]]
            raw2 = oracle.raw_http(case["method"], case["path"], case["query"], hdrs, body)
            p = run_cli(build, verify_args(case), raw2)
            assert p.returncode == 1, (i, p.stdout)
            assert (b"SignatureDoesNotMatch" in p.stdout
                    or b"XAmzContentSHA256Mismatch" in p.stdout), p.stdout
            rejected += 1
    print(f"sigv4 verify: {accepted} botocore-signed accepted, {rejected} mutations rejected")


def test_verifier_rejects_wrong_secret_and_skew(build):
    case = corpus()[1]
    signed = oracle.sign(case)
    raw = signed_raw(case, signed)
    args = verify_args(case)
    p = run_cli(build, [a if a != SK else SK[:-1] + "X" for a in args], raw)
    assert p.returncode == 1 and b"SignatureDoesNotMatch" in p.stdout
    args = [a for a in verify_args(case)]
    args[args.index("--now") + 1] = "20300101T000000Z"
    p = run_cli(build, args, raw)
    assert p.returncode == 1 and b"RequestTimeTooSkewed" in p.stdout


def test_captured_cli_signatures_reproduce(build):
    # Reference §1.3 (logs put-log-events) and §1.4 (s3 PUT, UNSIGNED-PAYLOAD).
    body = (b'{"logGroupName": "/hybrid/agent", "logStreamName": "mi-0123456789abcdef0", '
            b'"logEvents": [{"timestamp": 1700000000000, "message": "hello"}, '
            b'{"timestamp": 1700000000001, "message": "world"}]}')
    raw = oracle.raw_http("POST", "/", "", [
        ("Host", "127.0.0.1:8443"), ("X-Amz-Target", "Logs_20140328.PutLogEvents"),
        ("Content-Type", "application/x-amz-json-1.1")], body)
    p = run_cli(build, ["sigv4", "sign", "--access-key", AK, "--secret-key", SK,
                        "--token", "DUMMYSESSIONTOKEN", "--region", "us-east-1",
                        "--service", "logs", "--date", "20261127T161931Z"], raw)
    assert p.returncode == 0, p.stderr
    assert b"Signature=52854da3fff69eb6969326aa7abdbcc3b5426a5dfc5d32068e831d13f4a5d9fe" \
        in sections(p.stdout)["authorization"]
    raw = oracle.raw_http("PUT", "/hybrid-bucket/run/small.txt", "", [
        ("Host", "127.0.0.1:8443"), ("Content-Type", "text/plain"),
        ("Content-MD5", "0JPsHv0Eh6VRPhfgII557w==")], b"small object\n")
    p = run_cli(build, ["sigv4", "sign", "--access-key", AK, "--secret-key", SK,
                        "--token", "DUMMYSESSIONTOKEN", "--region", "us-east-1",
                        "--service", "s3", "--date", "20261127T161939Z",
                        "--unsigned-payload"], raw)
    assert p.returncode == 0, p.stderr
    assert b"Signature=a3e117a0ae9d20fc1297b0de981a064b8fec2c5d8c5a60c8076684a687446964" \
        in sections(p.stdout)["authorization"]


def test_cli_usage_errors(build):
    p = run_cli(build, ["sigv4", "sign", "--region", "us-east-1"], b"")
    assert p.returncode == 2 and b"required" in p.stderr
    p = run_cli(build, ["sigv4", "sign", "--access-key", AK, "--secret-key", SK,
                        "--region", "us-east-1", "--service", "ssm"], b"GARBAGE\r\n\r\n")
    assert p.returncode == 2 and b"malformed request" in p.stderr
    p = run_cli(build, ["--version"], b"")
    assert p.returncode == 0 and p.stdout.startswith(b"deckhand ")
    p = run_cli(build, ["nosuch"], b"")
    assert p.returncode == 2
    env = hermetic_env(AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK, AWS_REGION="us-east-1")
    p = subprocess.run([str(build / "deckhand"), "sigv4", "sign", "--service", "ssm",
                        "--date", "20150830T123600Z"],
                       input=b"GET / HTTP/1.1\r\nHost: example.amazonaws.com\r\n\r\n",
                       capture_output=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    assert b"Credential=AKIDEXAMPLE/20150830/us-east-1/ssm/aws4_request" in p.stdout


# ------------------------------------------------------------------ RSA-PSS

def tool(build, args, stdin=b""):
    p = subprocess.run([str(build / "tools" / "sigv4_corpus")] + args, input=stdin,
                       capture_output=True, env=hermetic_env(), timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


@pytest.fixture(scope="module")
def keypair(tmp_path_factory):
    from conftest import BUILD
    out = tool(BUILD, ["genkey"]).decode().split()
    priv, pub = out[0], out[1]
    d = tmp_path_factory.mktemp("rsa")
    (d / "priv.b64").write_text(priv)
    return d, priv, pub


def test_rsa_key_encodings(keypair):
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import (
        load_der_private_key, load_der_public_key)
    _, priv, pub = keypair
    assert len(pub) == 392
    der = base64.b64decode(priv)
    assert der[:4] == bytes.fromhex("308204a5") or der[:2] == b"\x30\x82"
    k = load_der_private_key(der, password=None)
    assert isinstance(k, rsa.RSAPrivateKey) and k.key_size == 2048
    assert k.public_key().public_numbers().e == 65537
    assert load_der_public_key(base64.b64decode(pub)).public_numbers() == \
        k.public_key().public_numbers()


def test_rsa_c_sign_verifies_with_openssl_and_cryptography(build, keypair, tmp_path):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    d, _, pub = keypair
    msg = b"AWS4-HMAC-SHA256\n20261127T162341Z\n20261127/us-east-1/ssm/aws4_request\n" + \
        b"0" * 64
    sig = base64.b64decode(tool(build, ["sign", str(d / "priv.b64")], msg).strip())
    assert len(sig) == 256
    (tmp_path / "msg").write_bytes(msg)
    (tmp_path / "sig").write_bytes(sig)
    (tmp_path / "pub.der").write_bytes(base64.b64decode(pub))
    p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER",
                        "-inkey", str(tmp_path / "pub.der"), "-rawin", "-in",
                        str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig"),
                        "-digest", "sha256", "-pkeyopt", "rsa_padding_mode:pss",
                        "-pkeyopt", "rsa_pss_saltlen:32", "-pkeyopt", "rsa_mgf1_md:sha256"],
                       capture_output=True)
    assert p.returncode == 0 and b"Signature Verified Successfully" in p.stdout, p.stderr
    load_der_public_key(base64.b64decode(pub)).verify(
        sig, msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256())
    # And a tampered message must fail in openssl too.
    (tmp_path / "msg").write_bytes(msg + b"x")
    p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER",
                        "-inkey", str(tmp_path / "pub.der"), "-rawin", "-in",
                        str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig"),
                        "-digest", "sha256", "-pkeyopt", "rsa_padding_mode:pss",
                        "-pkeyopt", "rsa_pss_saltlen:32"], capture_output=True)
    assert p.returncode != 0


def _agent_case(token=None):
    return {"method": "POST", "host": "127.0.0.1:8443", "path": "/", "query": "",
            "headers": [("Host", "127.0.0.1:8443"),
                        ("Content-Type", "application/x-amz-json-1.1"),
                        ("X-Amz-Target", "AmazonSSM.RequestManagedInstanceRoleToken")],
            "body": b'{"Fingerprint":"1d0987b9-0000-4000-8000-000000000000"}',
            "service": "ssm", "region": "us-east-1", "access_key": "mi-0123456789abcdef0",
            "secret_key": "unused", "token": token, "timestamp": "20261127T162341Z",
            "normalize": True, "unsigned": False}


def test_rsa_python_signed_request_verifies_in_c(build, keypair):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import load_der_private_key
    _, priv, pub = keypair
    key = load_der_private_key(base64.b64decode(priv), password=None)
    case = _agent_case()
    req = oracle.build_request(case)
    req.headers["X-Amz-Date"] = case["timestamp"]
    creq, sts = oracle.string_to_sign(case, req)
    sig = key.sign(sts.encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                             salt_length=32), hashes.SHA256())
    sh = "content-type;host;x-amz-date;x-amz-target"
    assert creq.split("\n")[-2] == sh
    authz = ("AWS4-HMAC-SHA256 Credential=mi-0123456789abcdef0/20261127/us-east-1/ssm/"
             f"aws4_request, SignedHeaders={sh}, Signature={base64.b64encode(sig).decode()}")
    hdrs = case["headers"] + [("X-Amz-Date", case["timestamp"]), ("Authorization", authz)]
    raw = oracle.raw_http("POST", "/", "", hdrs, case["body"])
    args = ["sigv4", "verify", "--public-key", pub, "--service", "ssm",
            "--now", case["timestamp"]]
    p = run_cli(build, args, raw)
    assert p.returncode == 0, p.stdout
    bad = oracle.raw_http("POST", "/", "", hdrs, case["body"] + b" ")
    p = run_cli(build, args, bad)
    assert p.returncode == 1 and b"SignatureDoesNotMatch" in p.stdout


def test_rsa_c_signed_agent_request_verifies_with_cryptography(build, keypair):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import load_der_public_key
    d, _, pub = keypair
    for token in (None, "DUMMYSESSIONTOKEN"):
        case = _agent_case(token)
        raw = oracle.raw_http("POST", "/", "", case["headers"], case["body"])
        args = ["sign-request", str(d / "priv.b64"), case["access_key"], "us-east-1",
                "ssm", case["timestamp"]] + ([token] if token else [])
        out = sections(tool(build, args, raw))
        authz = out["authorization"].decode().strip()
        assert authz.startswith("AWS4-HMAC-SHA256 Credential=mi-0123456789abcdef0/20261127/"
                                "us-east-1/ssm/aws4_request, SignedHeaders=")
        sig = base64.b64decode(authz.split("Signature=")[1])
        assert len(sig) == 256
        # botocore's string to sign over the same request and headers.
        req = oracle.build_request(case)
        req.headers["X-Amz-Date"] = case["timestamp"]
        if token:
            req.headers["X-Amz-Security-Token"] = token
        _, sts = oracle.string_to_sign(case, req)
        assert out["string to sign"].decode().strip() == sts
        load_der_public_key(base64.b64decode(pub)).verify(
            sig, sts.encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                           salt_length=32), hashes.SHA256())
        # Our own verifier accepts the signed request as the gateway would.
        signed = out["signed request"]
        p = run_cli(build, ["sigv4", "verify", "--public-key", pub, "--service", "ssm",
                            "--now", case["timestamp"]], signed)
        assert p.returncode == 0, p.stdout
