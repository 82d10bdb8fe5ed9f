"""deckhand-agent against the real deckhand-gateway on loopback.

An operator creates an activation with Debian's aws CLI v2, the agent
registers with it, `deckhand-agent run` fetches RSA-signed role credentials,
heartbeats and opens the control channel, and the instance shows up Online
in `aws ssm describe-instance-information`.  Also: refusing to overwrite an
identity, a used-up activation, SIGHUP reload, clean SIGTERM, and reconnect
after the gateway is killed with SIGKILL and restarted.  Measured numbers
(register -> Online, idle RSS, stop time) are printed, never asserted.
"""
import json
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from conftest import hermetic_env

REGION = "us-east-1"


def _gateway_bin(build):
    return pathlib.Path(build) / "deckhand-gateway"


def _agent_bin(build):
    return pathlib.Path(build) / "deckhand-agent"


class Gateway:
    def __init__(self, build, state, port=0, extra=()):
        self.build, self.state = build, state
        self.log = open(state.parent / "gateway.log", "ab")
        self.proc = subprocess.Popen(
            [str(_gateway_bin(build)), "serve", "--state", str(state),
             "--listen", "127.0.0.1:%d" % port, "--region", REGION] + list(extra),
            stdout=self.log, stderr=self.log, env=hermetic_env())
        self.url = None
        deadline = time.time() + 15
        while time.time() < deadline and self.url is None:
            text = (state.parent / "gateway.log").read_text(errors="replace")
            found = re.findall(r"listening on (https://127\.0\.0\.1:\d+)", text)
            if found:
                self.url = found[-1]
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.url is None:
            self.stop()
            pytest.fail("gateway did not start: " + text[-2000:])
        self.port = int(self.url.rsplit(":", 1)[1])
        self.ca = state / "ca.pem"

    def aws_env(self):
        return hermetic_env(ca=self.ca, AWS_SHARED_CREDENTIALS_FILE=self.state / "admin.credentials",
                            AWS_REGION=REGION)

    def aws(self, *args):
        out = subprocess.run(["/usr/bin/aws", "--endpoint-url", self.url, "--output", "json"] + list(args),
                             env=self.aws_env(), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def gateway(build, tmp_path):
    if not _gateway_bin(build).exists():
        pytest.skip("deckhand-gateway is not built in %s" % build)
    gw = Gateway(build, tmp_path / "gw")
    yield gw
    gw.stop()


def _register(build, gw, act, state, *extra, env=None):
    return subprocess.run(
        [str(_agent_bin(build)), "register", "--code", act["ActivationCode"], "--id", act["ActivationId"],
         "--region", REGION, "--endpoint", gw.url, "--ca", str(gw.ca), "--state", str(state)] + list(extra),
        env=env or hermetic_env(ca=gw.ca), capture_output=True, text=True, timeout=60)


def _agent_env(gw, **extra):
    # Fast reconnects in tests; the config schema's environment overrides.
    return hermetic_env(ca=gw.ca, DECKHAND_CONTROL_CHANNEL_INITIAL_BACKOFF_MS="200",
                        DECKHAND_CONTROL_CHANNEL_MAX_BACKOFF_SECONDS="2", **extra)


def _start_agent(build, gw, state, log, config=None):
    cmd = [str(_agent_bin(build)), "run", "--state", str(state)]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.Popen(cmd, stdout=log, stderr=log, env=_agent_env(gw))


def _wait_online(gw, iid, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = gw.aws("ssm", "describe-instance-information")
        for i in info.get("InstanceInformationList", []):
            if i["InstanceId"] == iid and i.get("PingStatus") == "Online":
                return i
        time.sleep(0.05)
    return None


def _wait_log(path, pattern, count=1, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(re.findall(pattern, path.read_text(errors="replace"))) >= count:
            return True
        time.sleep(0.05)
    return False


def _iso(text):
    from datetime import datetime
    return datetime.fromisoformat(text).timestamp()


def _stop(proc):
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=10)
    return rc, time.monotonic() - t0


def test_register_run_online(build, gateway, tmp_path, capsys):
    act = gateway.aws("ssm", "create-activation", "--iam-role", "SSMServiceRole",
                      "--registration-limit", "3")
    state = tmp_path / "agent"
    t0 = time.monotonic()
    reg = _register(build, gateway, act, state)
    assert reg.returncode == 0, reg.stderr
    iid = re.search(r"instance (mi-[0-9a-f]+)", reg.stdout).group(1)
    ident = json.loads((state / "identity.json").read_text())
    assert ident["InstanceId"] == iid
    assert (state / "identity.json").stat().st_mode & 0o777 == 0o600
    assert state.stat().st_mode & 0o777 == 0o700
    assert len(ident["HardwareHash"]) == 9

    log_path = tmp_path / "agent.log"
    with open(log_path, "wb") as log:
        proc = _start_agent(build, gateway, state, log)
        try:
            info = _wait_online(gateway, iid)
            online_s = time.monotonic() - t0
            assert info is not None, log_path.read_text()
            assert info["PlatformType"] == "Linux"
            assert info["AgentVersion"]
            assert info["PlatformName"]
            assert info["ComputerName"]
            assert _wait_log(log_path, r"control channel: open"), log_path.read_text()
            time.sleep(1.0)
            rss = re.search(r"VmRSS:\s+(\d+) kB", pathlib.Path("/proc/%d/status" % proc.pid).read_text())
            anon = re.search(r"RssAnon:\s+(\d+) kB", pathlib.Path("/proc/%d/status" % proc.pid).read_text())

            # SIGHUP reloads and keeps running.
            proc.send_signal(signal.SIGHUP)
            assert _wait_log(log_path, r"configuration reloaded"), log_path.read_text()
            assert proc.poll() is None
        finally:
            rc, stop_s = _stop(proc)
    assert rc == 0, log_path.read_text()
    text = log_path.read_text()
    for secret in (ident["PrivateKey"][:40], act["ActivationCode"]):
        assert secret not in text
    server_s = (_iso(info["LastPingDateTime"]) - _iso(info["RegistrationDate"]))
    with capsys.disabled():
        print("\n[agent] register -> Online: %.3f s by the gateway's clocks (RegistrationDate -> LastPing), "
              "%.3f s wall clock incl. aws CLI polling; idle VmRSS %s kB (RssAnon %s kB); "
              "SIGTERM -> exit %.3f s" % (server_s, online_s, rss.group(1), anon.group(1), stop_s))


def test_register_refusals(build, gateway, tmp_path):
    act = gateway.aws("ssm", "create-activation", "--iam-role", "SSMServiceRole",
                      "--registration-limit", "1")
    state = tmp_path / "a"
    first = _register(build, gateway, act, state)
    assert first.returncode == 0, first.stderr
    before = (state / "identity.json").read_text()

    again = _register(build, gateway, act, state)
    assert again.returncode != 0
    assert "--force" in again.stderr
    assert (state / "identity.json").read_text() == before

    used_up = _register(build, gateway, act, tmp_path / "b")
    assert used_up.returncode != 0
    assert "registration refused" in used_up.stderr
    assert act["ActivationCode"] not in used_up.stderr
    assert not (tmp_path / "b" / "identity.json").exists()

    bogus = dict(act, ActivationCode="AAAAAAAAAAAAAAAAAAAA")
    wrong = _register(build, gateway, bogus, tmp_path / "c")
    assert wrong.returncode != 0
    assert "registration refused" in wrong.stderr

    missing = subprocess.run([str(_agent_bin(build)), "run", "--state", str(tmp_path / "none")],
                             env=hermetic_env(), capture_output=True, text=True, timeout=10)
    assert missing.returncode != 0
    assert "not registered" in missing.stderr


def test_reconnect_after_gateway_kill(build, gateway, tmp_path):
    act = gateway.aws("ssm", "create-activation", "--iam-role", "SSMServiceRole")
    state = tmp_path / "agent"
    reg = _register(build, gateway, act, state)
    assert reg.returncode == 0, reg.stderr
    log_path = tmp_path / "agent.log"
    with open(log_path, "wb") as log:
        proc = _start_agent(build, gateway, state, log)
        try:
            assert _wait_log(log_path, r"control channel: open"), log_path.read_text()
            port = gateway.port
            gateway.kill9()
            assert _wait_log(log_path, r"control channel: (closed|connection error)"), log_path.read_text()
            restarted = Gateway(build, gateway.state, port=port)
            try:
                assert _wait_log(log_path, r"control channel: open", count=2, timeout=30), \
                    log_path.read_text()
                assert proc.poll() is None
            finally:
                restarted.stop()
        finally:
            rc, _ = _stop(proc)
    assert rc == 0


def test_config_show_and_bad_config(build, tmp_path):
    cfg = tmp_path / "agent.json"
    cfg.write_text(json.dumps({"endpoints": {"ssm": "https://gw.example:8443"},
                               "heartbeat": {"interval_seconds": 60}}))
    out = subprocess.run([str(_agent_bin(build)), "config", "show", "--config", str(cfg)],
                         env=hermetic_env(), capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["endpoints"]["ssm"] == "https://gw.example:8443"
    assert shown["heartbeat"]["interval_seconds"] == 60
    cfg.write_text(json.dumps({"heartbeat": {"interval_seconds": "soon"}}))
    bad = subprocess.run([str(_agent_bin(build)), "config", "show", "--config", str(cfg)],
                         env=hermetic_env(), capture_output=True, text=True, timeout=10)
    assert bad.returncode != 0
    assert "heartbeat.interval_seconds" in bad.stderr
    ver = subprocess.run([str(_agent_bin(build)), "--version"], capture_output=True, text=True)
    assert ver.returncode == 0 and ver.stdout.startswith("deckhand-agent ")
