"""dh_aws against moto_server, the only SigV4-verifying AWS peer available.

moto_server runs over TLS on 127.0.0.1 (port 0, the bound port read from its
start-up line) with INITIAL_NO_AUTH_ACTION_COUNT=3: the first three calls
are free and create an IAM user with an allow-all inline policy and an
access key (made with Debian's botocore); from then on moto verifies every
request's SigV4 signature against that key.  Our client is driven through
$DH_BUILD/tools/awscall: CloudWatch Logs and KMS (JSON 1.1), S3 (REST-XML),
and a wrong secret key that moto must refuse.

Skipped, with the reason, when moto_server is not installed.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import threading

import pytest

from conftest import PROXY_VARS, hermetic_env, make_cert

DH_OK = 0
DH_E_SERVICE = -11
MOTO_CANDIDATES = ("/root/.pyenv/shims/moto_server",)


def find_moto():
    for c in MOTO_CANDIDATES:
        if os.access(c, os.X_OK):
            return c
    return shutil.which("moto_server")


class Moto:
    def __init__(self, exe, cert, key):
        env = hermetic_env(INITIAL_NO_AUTH_ACTION_COUNT="3")
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", "0", "-c", str(cert),
                                      "-k", str(key)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
        self.port = None
        found = threading.Event()

        def reader():
            for line in self.proc.stdout:
                m = re.search(rb"Running on https://127\.0\.0\.1:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()
            found.set()
        threading.Thread(target=reader, daemon=True).start()
        if not found.wait(60) or self.port is None:
            self.stop()
            raise RuntimeError("moto_server did not start")
        self.url = "https://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    exe = find_moto()
    if exe is None:
        pytest.skip("moto_server not installed (pyenv moto 5.x provides it; "
                    "it cannot be installed from Debian or npm)")
    d = tmp_path_factory.mktemp("moto")
    cert, key = make_cert(d)
    m = Moto(exe, cert, key)
    try:
        import botocore.session
        iam = botocore.session.Session().create_client(
            "iam", region_name="us-east-1", endpoint_url=m.url, verify=str(cert),
            aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="deckhand-test")
        iam.put_user_policy(UserName="deckhand-test", PolicyName="all",
                            PolicyDocument=json.dumps({
                                "Version": "2012-10-17",
                                "Statement": [{"Effect": "Allow", "Action": "*",
                                               "Resource": "*"}]}))
        k = iam.create_access_key(UserName="deckhand-test")["AccessKey"]
        m.cert = cert
        m.key_id = k["AccessKeyId"]
        m.secret = k["SecretAccessKey"]
        yield m
    finally:
        m.stop()


def call(build, moto, *args, secret=None, key_id=None):
    env = hermetic_env(AWS_ACCESS_KEY_ID=key_id or moto.key_id,
                       AWS_SECRET_ACCESS_KEY=secret or moto.secret)
    for k in PROXY_VARS:
        env.pop(k, None)
    exe = pathlib.Path(build) / "tools" / "awscall"
    p = subprocess.run([str(exe), "--ca", str(moto.cert), "--backoff-base-ms", "1",
                        *map(str, args)], capture_output=True, env=env, timeout=60)
    out = json.loads(p.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    out["exit"] = p.returncode
    return out


def test_logs_create_and_describe(build, moto):
    r = call(build, moto, "json", moto.url, "logs", "Logs_20140328.CreateLogGroup",
             '{"logGroupName": "/deckhand/moto"}')
    assert r["rc"] == DH_OK and r["status"] == 200, r
    r = call(build, moto, "json", moto.url, "logs", "Logs_20140328.DescribeLogGroups",
             '{"logGroupNamePrefix": "/deckhand/"}')
    assert r["rc"] == DH_OK, r
    names = [g["logGroupName"] for g in r["json"]["logGroups"]]
    assert names == ["/deckhand/moto"]
    # A service error in JSON form, code taken from __type.
    r = call(build, moto, "json", moto.url, "logs", "Logs_20140328.CreateLogGroup",
             '{"logGroupName": "/deckhand/moto"}')
    assert r["rc"] == DH_E_SERVICE
    assert r["code"] == "ResourceAlreadyExistsException"
    assert r["status"] == 400 and r["attempts"] == 1


def test_kms_create_key_and_generate_data_key(build, moto):
    import base64
    r = call(build, moto, "json", moto.url, "kms", "TrentService.CreateKey",
             '{"Description": "deckhand"}')
    assert r["rc"] == DH_OK, r
    key_id = r["json"]["KeyMetadata"]["KeyId"]
    r = call(build, moto, "json", moto.url, "kms", "TrentService.GenerateDataKey",
             json.dumps({"KeyId": key_id, "KeySpec": "AES_256"}))
    assert r["rc"] == DH_OK, r
    assert len(base64.b64decode(r["json"]["Plaintext"])) == 32
    assert r["json"]["KeyId"].startswith("arn:aws:kms:us-east-1:")
    assert len(base64.b64decode(r["json"]["CiphertextBlob"])) > 32


def test_s3_object_round_trip(build, moto, tmp_path):
    data = os.urandom(300000)
    src = tmp_path / "obj.bin"
    src.write_bytes(data)
    r = call(build, moto, "s3", moto.url, "PUT", "deckhand-bucket")
    assert r["rc"] == DH_OK, r
    # UNSIGNED-PAYLOAD with Content-MD5, a key that needs encoding.  (moto
    # 5.2.1 refuses keys with '+' or '=' even from botocore, so the key
    # sticks to characters its verifier handles; the botocore oracle test
    # in test_http_client.py covers '+'.)
    r = call(build, moto, "--body-file", src, "--unsigned-payload", "--content-md5",
             "--header", "Content-Type: application/octet-stream",
             "s3", moto.url, "PUT", "deckhand-bucket", "run/a b~c.bin")
    assert r["rc"] == DH_OK, r
    etag = r["headers"]["etag"]
    # Real payload hash.
    r = call(build, moto, "--body", "second", "s3", moto.url, "PUT", "deckhand-bucket",
             "run/second.txt")
    assert r["rc"] == DH_OK, r
    out = tmp_path / "got.bin"
    r = call(build, moto, "--out", out, "s3", moto.url, "GET", "deckhand-bucket",
             "run/a b~c.bin")
    assert r["rc"] == DH_OK, r
    assert out.read_bytes() == data
    assert r["headers"]["etag"] == etag
    r = call(build, moto, "s3", moto.url, "HEAD", "deckhand-bucket", "run/a b~c.bin")
    assert r["rc"] == DH_OK and int(r["headers"]["content-length"]) == len(data)
    # (moto also refuses an encoded '/' in the query, from botocore too.)
    r = call(build, moto, "--query", "list-type=2", "--query", "prefix=run",
             "s3", moto.url, "GET", "deckhand-bucket")
    assert r["rc"] == DH_OK
    assert "<Key>run/a b~c.bin</Key>" in r["body"] and "<Key>run/second.txt</Key>" in r["body"]


def test_s3_errors(build, moto):
    call(build, moto, "s3", moto.url, "PUT", "deckhand-errors")
    r = call(build, moto, "s3", moto.url, "GET", "deckhand-errors", "missing")
    assert r["rc"] == DH_E_SERVICE and r["code"] == "NoSuchKey" and r["status"] == 404
    assert r["attempts"] == 1
    r = call(build, moto, "s3", moto.url, "HEAD", "deckhand-errors", "missing")
    assert r["rc"] == DH_E_SERVICE and r["code"] == "404" and r["message"] == "Not Found"
    r = call(build, moto, "s3", moto.url, "GET", "no-such-bucket-dh", "k")
    assert r["rc"] == DH_E_SERVICE and r["code"] == "NoSuchBucket"


def test_s3_multipart_upload(build, moto, tmp_path):
    call(build, moto, "s3", moto.url, "PUT", "deckhand-mpu")
    r = call(build, moto, "--query", "uploads", "s3", moto.url, "POST", "deckhand-mpu",
             "big.bin")
    assert r["rc"] == DH_OK, r
    upload_id = re.search(r"<UploadId>([^<]+)</UploadId>", r["body"]).group(1)
    part1 = b"a" * (5 << 20)
    part2 = b"b" * 1000
    etags = []
    for n, part in ((1, part1), (2, part2)):
        f = tmp_path / ("p%d" % n)
        f.write_bytes(part)
        r = call(build, moto, "--body-file", f, "--unsigned-payload", "--content-md5",
                 "--query", "partNumber=%d" % n, "--query", "uploadId=" + upload_id,
                 "s3", moto.url, "PUT", "deckhand-mpu", "big.bin")
        assert r["rc"] == DH_OK, r
        etags.append(r["headers"]["etag"])
    done = ('<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
            "".join("<Part><ETag>%s</ETag><PartNumber>%d</PartNumber></Part>" % (e, i + 1)
                    for i, e in enumerate(etags)) + "</CompleteMultipartUpload>")
    r = call(build, moto, "--body", done, "--query", "uploadId=" + upload_id,
             "s3", moto.url, "POST", "deckhand-mpu", "big.bin")
    assert r["rc"] == DH_OK, r
    assert '-2' in r["body"]          # multipart ETag "<md5>-2"
    r = call(build, moto, "s3", moto.url, "HEAD", "deckhand-mpu", "big.bin")
    assert int(r["headers"]["content-length"]) == len(part1) + len(part2)


def test_wrong_secret_is_refused(build, moto):
    r = call(build, moto, "json", moto.url, "logs", "Logs_20140328.DescribeLogGroups",
             "{}", secret="wrong-secret-key-0000000000000000000000")
    assert r["rc"] == DH_E_SERVICE and r["status"] == 403, r
    assert r["code"] == "SignatureDoesNotMatch"
    assert r["attempts"] == 1
    r = call(build, moto, "s3", moto.url, "GET", "deckhand-bucket", "run/second.txt",
             secret="wrong-secret-key-0000000000000000000000")
    assert r["rc"] == DH_E_SERVICE and r["code"] == "SignatureDoesNotMatch"
    r = call(build, moto, "json", moto.url, "kms", "TrentService.ListKeys", "{}",
             key_id="AKIAUNKNOWNKEY000000")
    assert r["rc"] == DH_E_SERVICE and r["status"] == 403
    assert r["code"] == "InvalidClientTokenId"
    # The right key still works after the refusals.
    r = call(build, moto, "json", moto.url, "kms", "TrentService.ListKeys", "{}")
    assert r["rc"] == DH_OK
