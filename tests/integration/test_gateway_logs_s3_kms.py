"""deckhand-gateway's CloudWatch Logs, S3 and KMS subsets against real
clients: Debian's aws CLI v2 (/usr/bin/aws logs/kms/s3/s3api) and boto3,
every call through the gateway with its own CA.  Covers the PutLogEvents
limits (oversized batch, order, tooOld), GetLogEvents/FilterLogEvents,
GenerateDataKey with the Session Manager encryption context and Decrypt,
S3 single and multipart uploads (20 MB, "-N" ETag), ranges, listings,
bucket encryption, S3 errors (NoSuchKey, NoSuchBucket, BadDigest,
EntityTooSmall, NoSuchUpload, BucketAlreadyOwnedByYou), auth failures
(SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed with the
15-minute window), instance temporary credentials and IAM policy on S3,
and kill -9 + restart keeping objects and log events."""
import hashlib
import json
import os
import signal
import time

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from test_gateway_core import REGION, Gateway, amz_now, err_code, register_online


@pytest.fixture
def gw(build, tmp_path):
    g = Gateway(build, tmp_path / "gw").start()
    yield g
    g.stop()


def now_ms():
    return int(time.time() * 1000)


def code_of(exc):
    return exc.value.response["Error"]["Code"]


# ------------------------------------------------------------------ Logs

def test_logs_cli(gw):
    gw.aws("logs", "create-log-group", "--log-group-name", "/hybrid/agent", check=True)
    p = gw.aws("logs", "create-log-group", "--log-group-name", "/hybrid/agent")
    assert p.returncode == 254 and err_code(p) == "ResourceAlreadyExistsException"
    gw.aws("logs", "create-log-stream", "--log-group-name", "/hybrid/agent",
           "--log-stream-name", "mi-0123456789abcdef0", check=True)
    t = now_ms()
    out = gw.aws_json("logs", "put-log-events", "--log-group-name", "/hybrid/agent",
                      "--log-stream-name", "mi-0123456789abcdef0", "--log-events",
                      "timestamp=%d,message=hello" % t, "timestamp=%d,message=disk full" % (t + 1))
    assert out["nextSequenceToken"]
    ev = gw.aws_json("logs", "get-log-events", "--log-group-name", "/hybrid/agent",
                     "--log-stream-name", "mi-0123456789abcdef0", "--start-from-head")
    assert [e["message"] for e in ev["events"]] == ["hello", "disk full"]
    assert ev["events"][0]["timestamp"] == t
    assert ev["nextForwardToken"].startswith("f/") and ev["nextBackwardToken"].startswith("b/")
    f = gw.aws_json("logs", "filter-log-events", "--log-group-name", "/hybrid/agent",
                    "--filter-pattern", '"disk full"')
    assert [e["message"] for e in f["events"]] == ["disk full"]
    assert f["events"][0]["logStreamName"] == "mi-0123456789abcdef0"
    s = gw.aws_json("logs", "describe-log-streams", "--log-group-name", "/hybrid/agent")
    assert s["logStreams"][0]["storedBytes"] == len("hello") + len("disk full")
    g = gw.aws_json("logs", "describe-log-groups", "--log-group-name-prefix", "/hybrid")
    assert [x["logGroupName"] for x in g["logGroups"]] == ["/hybrid/agent"]
    p = gw.aws("logs", "put-log-events", "--log-group-name", "/hybrid/agent",
               "--log-stream-name", "missing", "--log-events", "timestamp=%d,message=x" % t)
    assert err_code(p) == "ResourceNotFoundException"


def test_logs_limits_boto3(gw):
    logs = gw.boto("logs")
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    t = now_ms()
    # 5 x (262118 + 26) bytes = 1,310,720 > 1,048,576: refused as a whole.
    big = [{"timestamp": t - 5000, "message": "x" * 262118} for _ in range(5)]
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=big)
    assert code_of(e) == "InvalidParameterException"
    assert "Upload too large" in e.value.response["Error"]["Message"]
    # Exactly at the limit (4 events) is accepted.
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=big[:4])
    assert "rejectedLogEventsInfo" not in r
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}])
    assert code_of(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": t, "message": "x" * 262119}])
    assert code_of(e) == "InvalidParameterException"
    old = t - 15 * 86400 * 1000
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": old, "message": "old"}, {"timestamp": old + 1, "message": "old2"}])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": t - 1000, "message": "fresh"}])
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": t, "message": "now"}, {"timestamp": t + 3 * 3600 * 1000, "message": "late"}])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    ev = logs.get_log_events(logGroupName="g", logStreamName="s", limit=2)
    assert [e["message"] for e in ev["events"]] == ["fresh", "now"]
    back = logs.get_log_events(logGroupName="g", logStreamName="s",
                               nextToken=ev["nextBackwardToken"], limit=100)
    assert len(back["events"]) == 4
    page = logs.filter_log_events(logGroupName="g", filterPattern="?fresh ?now", limit=1)
    assert [e["message"] for e in page["events"]] == ["fresh"] and "nextToken" in page
    page = logs.filter_log_events(logGroupName="g", filterPattern="?fresh ?now",
                                  nextToken=page["nextToken"])
    assert [e["message"] for e in page["events"]] == ["now"]


# ------------------------------------------------------------------- KMS

def test_kms_cli(gw, tmp_path):
    kid = gw.aws_json("kms", "create-key", "--description", "sessions")["KeyMetadata"]["KeyId"]
    meta = gw.aws_json("kms", "describe-key", "--key-id", kid)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["Arn"].endswith(kid)
    ctx = "aws:ssm:SessionId=s-0123,aws:ssm:TargetId=mi-0123456789abcdef0"
    out = gw.aws_json("kms", "generate-data-key", "--key-id", kid, "--number-of-bytes", "64",
                      "--encryption-context", ctx)
    import base64
    plain = base64.b64decode(out["Plaintext"])
    assert len(plain) == 64 and out["KeyId"] == meta["Arn"]
    blob = tmp_path / "blob"
    blob.write_bytes(base64.b64decode(out["CiphertextBlob"]))
    dec = gw.aws_json("kms", "decrypt", "--ciphertext-blob", "fileb://%s" % blob,
                      "--encryption-context", ctx)
    assert base64.b64decode(dec["Plaintext"]) == plain
    p = gw.aws("kms", "decrypt", "--ciphertext-blob", "fileb://%s" % blob,
               "--encryption-context", "aws:ssm:SessionId=s-other,aws:ssm:TargetId=mi-0123456789abcdef0")
    assert p.returncode == 254 and err_code(p) == "InvalidCiphertextException"
    mk = gw.state / "kms-master.key"
    assert (os.stat(mk).st_mode & 0o777) == 0o600 and mk.stat().st_size == 32
    # The database never holds key material in the clear.
    assert plain not in (gw.state / "gateway.db").read_bytes()


def test_kms_boto3(gw):
    kms = gw.boto("kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/deckhand-sessions", TargetKeyId=arn)
    ctx = {"aws:ssm:SessionId": "s-1", "aws:ssm:TargetId": "mi-0123456789abcdef0"}
    dk = kms.generate_data_key(KeyId="alias/deckhand-sessions", NumberOfBytes=64,
                               EncryptionContext=ctx)
    assert dk["KeyId"] == arn and len(dk["Plaintext"]) == 64
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] \
        == dk["Plaintext"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])
    assert code_of(e) == "InvalidCiphertextException"
    tampered = bytearray(dk["CiphertextBlob"])
    tampered[-1] ^= 1
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=bytes(tampered), EncryptionContext=ctx)
    assert code_of(e) == "InvalidCiphertextException"
    enc = kms.encrypt(KeyId=arn, Plaintext=b"secret")
    assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == b"secret"
    with pytest.raises(ClientError) as e:
        kms.generate_data_key(KeyId="alias/none", KeySpec="AES_256")
    assert code_of(e) == "NotFoundException"
    assert len(kms.generate_data_key(KeyId=arn, KeySpec="AES_256")["Plaintext"]) == 32
    # A log group can be associated with a gateway KMS key.
    gw.boto("logs").create_log_group(logGroupName="enc", kmsKeyId=arn)
    g = gw.boto("logs").describe_log_groups(logGroupNamePrefix="enc")["logGroups"][0]
    assert g["kmsKeyId"] == arn


# -------------------------------------------------------------------- S3

def test_s3_cli_single_and_multipart(gw, tmp_path):
    gw.aws("s3api", "create-bucket", "--bucket", "hybrid-bucket", check=True)
    p = gw.aws("s3api", "create-bucket", "--bucket", "hybrid-bucket")
    assert err_code(p) == "BucketAlreadyOwnedByYou"
    p = gw.aws("s3api", "create-bucket", "--bucket", "other-region",
               "--create-bucket-configuration", "LocationConstraint=eu-west-1")
    assert err_code(p) == "IllegalLocationConstraintException"
    small = tmp_path / "small.txt"
    small.write_bytes(b"small object\n")
    gw.aws("s3", "cp", str(small), "s3://hybrid-bucket/run/small.txt", check=True)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1000 * 1000))
    gw.aws("s3", "cp", str(big), "s3://hybrid-bucket/run/big.bin", check=True)
    head = gw.aws_json("s3api", "head-object", "--bucket", "hybrid-bucket", "--key", "run/big.bin")
    assert head["ContentLength"] == 20 * 1000 * 1000
    assert head["ETag"].strip('"').endswith("-3")   # 8 MiB parts: 3 of them
    head = gw.aws_json("s3api", "head-object", "--bucket", "hybrid-bucket",
                       "--key", "run/small.txt")
    assert head["ETag"] == '"%s"' % hashlib.md5(b"small object\n").hexdigest()
    back = tmp_path / "back.bin"
    gw.aws("s3", "cp", "s3://hybrid-bucket/run/big.bin", str(back), check=True)
    assert back.read_bytes() == big.read_bytes()
    ls = gw.aws("s3", "ls", "s3://hybrid-bucket/run/", check=True).stdout
    assert "small.txt" in ls and "big.bin" in ls
    rng = tmp_path / "rng"
    out = gw.aws_json("s3api", "get-object", "--bucket", "hybrid-bucket", "--key",
                      "run/small.txt", "--range", "bytes=0-4", str(rng))
    assert rng.read_bytes() == b"small" and out["ContentRange"] == "bytes 0-4/13"
    p = gw.aws("s3api", "head-object", "--bucket", "hybrid-bucket", "--key", "nope")
    assert p.returncode == 254 and "(404)" in p.stderr
    p = gw.aws("s3api", "get-object", "--bucket", "hybrid-bucket", "--key", "nope", str(rng))
    assert err_code(p) == "NoSuchKey"
    p = gw.aws("s3", "cp", str(small), "s3://no-such-bucket/x")
    assert p.returncode == 1 and "NoSuchBucket" in p.stderr
    enc = gw.aws_json("s3api", "get-bucket-encryption", "--bucket", "hybrid-bucket")
    assert enc["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3 = gw.boto("s3")
    kid = gw.boto("kms").create_key()["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(Bucket="hybrid-bucket", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                          "KMSMasterKeyID": kid}}]})
    rule = s3.get_bucket_encryption(Bucket="hybrid-bucket")[
        "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kid}
    s3.delete_object(Bucket="hybrid-bucket", Key="run/small.txt")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="hybrid-bucket")["Contents"]] == \
        ["run/big.bin"]
    # Objects are files under <state>/s3/<bucket>/, no temporaries left.
    assert len(list((gw.state / "s3" / "hybrid-bucket").glob("*.obj"))) == 1
    assert list((gw.state / "s3" / ".tmp").iterdir()) == []


def test_s3_boto3_listing_and_errors(gw):
    s3 = gw.boto("s3")
    s3.create_bucket(Bucket="lst")
    for k in ["a.txt", "logs/2026/01.txt", "logs/2026/02.txt", "logs/top.txt", "z b+c.txt"]:
        s3.put_object(Bucket="lst", Key=k, Body=k.encode())
    r = s3.list_objects_v2(Bucket="lst", Delimiter="/")
    assert [c["Key"] for c in r["Contents"]] == ["a.txt", "z b+c.txt"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["logs/"]
    keys, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket="lst", MaxKeys=2, **kw)
        keys += [c["Key"] for c in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert keys == ["a.txt", "logs/2026/01.txt", "logs/2026/02.txt", "logs/top.txt", "z b+c.txt"]
    r = s3.list_objects_v2(Bucket="lst", Prefix="logs/", Delimiter="/")
    assert [c["Key"] for c in r["Contents"]] == ["logs/top.txt"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["logs/2026/"]
    assert s3.get_object(Bucket="lst", Key="z b+c.txt")["Body"].read() == b"z b+c.txt"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="lst", Key="k", Body=b"abc",
                      ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")   # MD5 of ""
    assert code_of(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="nobucket")
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="lst")
    assert code_of(e) == "BucketNotEmpty"
    # Multipart: a small first part is refused at completion.
    up = s3.create_multipart_upload(Bucket="lst", Key="mp")["UploadId"]
    e1 = s3.upload_part(Bucket="lst", Key="mp", UploadId=up, PartNumber=1, Body=b"a" * 100)["ETag"]
    e2 = s3.upload_part(Bucket="lst", Key="mp", UploadId=up, PartNumber=2, Body=b"b" * 100)["ETag"]
    parts = {"Parts": [{"ETag": e1, "PartNumber": 1}, {"ETag": e2, "PartNumber": 2}]}
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="lst", Key="mp", UploadId=up, MultipartUpload=parts)
    assert code_of(e) == "EntityTooSmall"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="lst", Key="mp", UploadId=up, MultipartUpload={
            "Parts": [{"ETag": '"00000000000000000000000000000000"', "PartNumber": 1}]})
    assert code_of(e) == "InvalidPart"
    # A single (last) small part completes.
    r = s3.complete_multipart_upload(Bucket="lst", Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"ETag": e1, "PartNumber": 1}]})
    assert r["ETag"].strip('"').endswith("-1")
    assert s3.get_object(Bucket="lst", Key="mp")["Body"].read() == b"a" * 100
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="lst", Key="mp", UploadId=up, PartNumber=1, Body=b"x")
    assert code_of(e) == "NoSuchUpload"
    up = s3.create_multipart_upload(Bucket="lst", Key="ab")["UploadId"]
    s3.upload_part(Bucket="lst", Key="ab", UploadId=up, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="lst", Key="ab", UploadId=up)
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket="lst", Key="ab", UploadId=up)
    assert code_of(e) == "NoSuchUpload"
    assert list((gw.state / "s3" / "lst").glob("*.part")) == []


def s3_raw(gw, method, path, body, akid, secret, shift=0, sha=None):
    """A botocore-signed S3 request at now+shift seconds; (status, hdrs, body)."""
    ts = amz_now(shift)
    req = AWSRequest(method=method, url=gw.url + path, data=body, headers={
        "X-Amz-Date": ts,
        "X-Amz-Content-SHA256": sha or hashlib.sha256(body).hexdigest()})
    req.context["timestamp"] = ts
    auth = S3SigV4Auth(Credentials(akid, secret), "s3", REGION)
    auth._modify_request_before_signing = lambda r: None
    sig = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
    signed = auth.signed_headers(auth.headers_to_sign(req))
    req.headers["Authorization"] = (
        "AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/aws4_request, SignedHeaders=%s, "
        "Signature=%s" % (akid, ts[:8], REGION, signed, sig))
    h = dict(req.headers.items())
    h["Host"] = "127.0.0.1:%d" % gw.port
    return gw.raw(method, path, h, body)


def test_s3_auth_failures(gw):
    akid, secret = gw.admin()
    gw.boto("s3").create_bucket(Bucket="authb")
    st, _, body = s3_raw(gw, "PUT", "/authb/k", b"data", akid, secret)
    assert st == 200, body
    # S3 allows 15 minutes of skew (other services 5).
    st, _, body = s3_raw(gw, "PUT", "/authb/k", b"data", akid, secret, shift=600)
    assert st == 200, body
    st, hdrs, body = s3_raw(gw, "PUT", "/authb/k", b"data", akid, secret, shift=-1200)
    assert st == 403 and b"<Code>RequestTimeTooSkewed</Code>" in body
    assert hdrs["content-type"] == "application/xml" and "x-amz-request-id" in hdrs
    st, _, body = s3_raw(gw, "PUT", "/authb/k", b"data", akid, secret,
                         sha=hashlib.sha256(b"other").hexdigest())
    assert st == 400 and b"XAmzContentSHA256Mismatch" in body
    bad = gw.boto("s3", akid=akid, secret="WRONG" + secret[5:])
    with pytest.raises(ClientError) as e:
        bad.put_object(Bucket="authb", Key="k", Body=b"x")
    assert code_of(e) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        gw.boto("s3", akid="AKIANOSUCHKEY0000000", secret=secret).list_buckets()
    assert code_of(e) == "InvalidAccessKeyId"
    p = gw.aws("s3", "ls", env=gw.env(akid, "WRONG" + secret[5:]))
    assert p.returncode != 0 and "SignatureDoesNotMatch" in p.stderr


def test_s3_instance_credentials_and_policy(gw, tmp_path):
    gw.boto("s3").create_bucket(Bucket="transcripts")
    inst, creds = register_online(gw)
    s3 = gw.boto("s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    s3.head_bucket(Bucket="transcripts")
    s3.put_object(Bucket="transcripts", Key="%s/s-1.log" % inst.instance_id, Body=b"$ ls\n")
    s3.get_bucket_encryption(Bucket="transcripts")
    with pytest.raises(ClientError) as e:
        s3.list_buckets()
    assert code_of(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="transcripts")
    assert code_of(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="transcripts", Key="%s/s-1.log" % inst.instance_id)
    assert code_of(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="transcripts", Key="%s/s-1.log" % inst.instance_id)
    assert code_of(e) == "AccessDenied"
    # The instance's credentials also write CloudWatch Logs.
    logs = gw.boto("logs", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    logs.create_log_group(logGroupName="sessions")
    logs.create_log_stream(logGroupName="sessions", logStreamName="s-1")
    logs.put_log_events(logGroupName="sessions", logStreamName="s-1",
                        logEvents=[{"timestamp": now_ms(), "message": "$ ls"}])
    # An operator key limited to reading one bucket.
    pol = tmp_path / "ro.json"
    pol.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::transcripts", "arn:aws:s3:::transcripts/*"]}]}))
    import subprocess
    out = subprocess.run([str(gw.build / "deckhand-gateway"), "keys", "create", "--state",
                          str(gw.state), "--name", "reader", "--policy", str(pol)],
                         capture_output=True, text=True, check=True).stdout
    key = json.loads(out)["AccessKey"]
    ro = gw.boto("s3", key["AccessKeyId"], key["SecretAccessKey"])
    assert ro.get_object(Bucket="transcripts", Key="%s/s-1.log" % inst.instance_id)[
        "Body"].read() == b"$ ls\n"
    with pytest.raises(ClientError) as e:
        ro.put_object(Bucket="transcripts", Key="x", Body=b"x")
    assert code_of(e) == "AccessDenied"


def test_kill9_keeps_objects_and_events(build, tmp_path):
    g = Gateway(build, tmp_path / "gw").start()
    try:
        s3 = g.boto("s3")
        s3.create_bucket(Bucket="durable")
        data = os.urandom(3 * 1024 * 1024)
        s3.put_object(Bucket="durable", Key="obj", Body=data)
        logs = g.boto("logs")
        logs.create_log_group(logGroupName="d")
        logs.create_log_stream(logGroupName="d", logStreamName="s")
        t = now_ms()
        logs.put_log_events(logGroupName="d", logStreamName="s", logEvents=[
            {"timestamp": t + i, "message": "line %d" % i} for i in range(100)])
        kid = g.boto("kms").create_key()["KeyMetadata"]["KeyId"]
        blob = g.boto("kms").encrypt(KeyId=kid, Plaintext=b"kept")["CiphertextBlob"]
        assert g.stop(sig=signal.SIGKILL) == -signal.SIGKILL
        g.start()
        assert g.boto("s3").get_object(Bucket="durable", Key="obj")["Body"].read() == data
        ev = g.boto("logs").get_log_events(logGroupName="d", logStreamName="s",
                                           startFromHead=True)["events"]
        assert [e["message"] for e in ev] == ["line %d" % i for i in range(100)]
        assert g.boto("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    finally:
        g.stop()
