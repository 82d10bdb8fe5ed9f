"""Shared fixtures for deckhand's integration tests (pytest, /usr/bin/python3).

Every test gets a hermetic environment: the machine may preset CA-bundle
variables (AWS_CA_BUNDLE, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE,
NODE_EXTRA_CA_CERTS, SSL_CERT_DIR) and AWS settings, so `hermetic_env()`
removes them all and the test sets its own CA explicitly.
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(os.environ.get("DH_ROOT", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("DH_BUILD", ROOT / "build" / "release"))

CA_VARS = ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
           "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
AWS_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
            "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE", "AWS_DATA_PATH")
# loopback peers only: a proxy preset on the machine must not be used
PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")


def hermetic_env(ca=None, **extra):
    """A copy of os.environ without CA/AWS/proxy settings; `ca` (a path) is
    set as every CA variable when given. Extra keyword pairs are added."""
    env = {k: v for k, v in os.environ.items()
           if k not in CA_VARS + AWS_VARS + PROXY_VARS}
    env.update({"AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_PAGER": ""})
    if ca is not None:
        for k in ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
                  "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
            env[k] = str(ca)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def build():
    return BUILD


@pytest.fixture
def root():
    return ROOT


def make_cert(dirpath, cn="localhost"):
    """Self-signed CA-capable cert for loopback peers; returns (cert, key)."""
    dirpath = pathlib.Path(dirpath)
    cert, key = dirpath / "cert.pem", dirpath / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    return cert, key


def pytest_configure(config):
    config.addinivalue_line("markers", "gateway_args(*args): extra deckhand-gateway"
                            " serve arguments for the gateway fixture")
