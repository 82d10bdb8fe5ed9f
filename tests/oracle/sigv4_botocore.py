"""botocore as a SigV4 oracle (Debian python3-botocore, run with /usr/bin/python3).

sign(case) signs one request description with botocore's SigV4Auth or
S3SigV4Auth at a pinned timestamp and returns the canonical request, the
string to sign, the Authorization value and the final header list.  It follows
the four harness rules of the reference notes: duplicate headers are passed as
repeated headers, X-Amz-Content-SHA256 comes from the auth class (S3) or from
payload_signing_enabled=False (UNSIGNED-PAYLOAD), path normalisation is
skipped (but the path still encoded) when normalize is off, and the query is
given already percent-encoded, exactly as on the wire.

A case is a dict: method, host, path (wire form), query (wire form, no '?'),
headers [(name, value)], body (bytes), service, region, access_key,
secret_key, token (or None), timestamp (YYYYMMDDTHHMMSSZ), normalize (bool),
unsigned (bool).
"""
from urllib.parse import quote

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials


class _NoNormalizeSigV4Auth(SigV4Auth):
    """SigV4Auth that keeps dot segments and '//' but still URI-encodes."""

    def _normalize_url_path(self, path):
        return quote(path, safe='/~')


def _auth_for(case):
    creds = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    if case["service"] == "s3":
        return S3SigV4Auth(creds, "s3", case["region"])
    if not case.get("normalize", True):
        return _NoNormalizeSigV4Auth(creds, case["service"], case["region"])
    return SigV4Auth(creds, case["service"], case["region"])


def build_request(case):
    url = "https://" + case["host"] + case["path"]
    if case.get("query"):
        url += "?" + case["query"]
    req = AWSRequest(method=case["method"], url=url, data=case.get("body") or b"")
    for name, value in case["headers"]:
        req.headers[name] = value  # email.message semantics: appends repeats
    if case.get("unsigned"):
        req.context["payload_signing_enabled"] = False
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    else:
        req.context["client_config"] = Config(s3={"payload_signing_enabled": True})
    return req


def sign(case):
    """Sign case with botocore; returns dict creq, sts, authorization, headers, request."""
    auth = _auth_for(case)
    req = build_request(case)
    req.context["timestamp"] = case["timestamp"]
    auth._modify_request_before_signing(req)
    creq = auth.canonical_request(req)
    sts = auth.string_to_sign(req, creq)
    sig = auth.signature(sts, req)
    auth._inject_signature_to_request(req, sig)
    return {"creq": creq, "sts": sts, "authorization": req.headers["Authorization"],
            "headers": list(req.headers.items()), "request": req}


def string_to_sign(case, signed_headers_req):
    """Canonical request and string to sign botocore builds for an already
    prepared AWSRequest (used to RSA-sign with Python cryptography)."""
    auth = _auth_for(case)
    signed_headers_req.context["timestamp"] = case["timestamp"]
    creq = auth.canonical_request(signed_headers_req)
    return creq, auth.string_to_sign(signed_headers_req, creq)


def raw_http(method, path, query, headers, body):
    """Raw HTTP/1.1 request text (bytes) as it would go on the wire."""
    target = path + ("?" + query if query else "")
    head = f"{method} {target} HTTP/1.1\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    return head.encode("utf-8") + b"\r\n" + (body or b"")
