"""The agent's credential and heartbeat path with boto3 as the operator client.

boto3 creates a tagged activation on deckhand-gateway, `deckhand-agent
register` + `run` join (short heartbeat and backoff via the agent's config
file; the gateway issues 10-second credentials with --token-ttl-seconds so
the agent refreshes every ~5 s), boto3 sees the instance Online through the
describe_instance_information paginator, lists the tags it inherited from
the activation, deregisters it, and the agent's next credential refresh is
refused (the agent log names the refused call and the AWS error code).
"""
import json
import pathlib
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import hermetic_env

REGION = "us-east-1"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return None


def _count(path, pattern):
    return len(re.findall(pattern, path.read_text(errors="replace")))


@pytest.fixture
def gateway(build, tmp_path):
    state = tmp_path / "gw"
    logp = tmp_path / "gateway.log"
    port = _free_port()
    with open(logp, "wb") as log:
        proc = subprocess.Popen(
            [str(pathlib.Path(build) / "deckhand-gateway"), "serve", "--state", str(state),
             "--listen", "127.0.0.1:%d" % port, "--region", REGION,
             "--token-ttl-seconds", "10"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=hermetic_env())
    try:
        url = "https://127.0.0.1:%d" % port
        assert _wait(lambda: proc.poll() is not None or
                     ("listening on " + url) in logp.read_text(errors="replace"), 20)
        assert proc.poll() is None, logp.read_text()
        yield {"url": url, "state": state, "ca": state / "ca.pem", "log": logp}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _boto(gw, service):
    import boto3
    from botocore.config import Config
    text = (gw["state"] / "admin.credentials").read_text()
    kv = dict(l.split(" = ", 1) for l in text.splitlines() if " = " in l)
    return boto3.client(service, region_name=REGION, endpoint_url=gw["url"],
                        aws_access_key_id=kv["aws_access_key_id"],
                        aws_secret_access_key=kv["aws_secret_access_key"],
                        verify=str(gw["ca"]), config=Config(retries={"max_attempts": 1}))


def _online(ssm, iid):
    pages = ssm.get_paginator("describe_instance_information").paginate(
        Filters=[{"Key": "PingStatus", "Values": ["Online"]}],
        PaginationConfig={"PageSize": 5})
    for page in pages:
        for i in page["InstanceInformationList"]:
            if i["InstanceId"] == iid:
                return i
    return None


def test_agent_credentials_and_heartbeat_with_boto3(build, gateway, tmp_path):
    ssm = _boto(gateway, "ssm")
    act = ssm.create_activation(IamRole="SSMServiceRole", RegistrationLimit=1,
                                DefaultInstanceName="boto3-host",
                                Tags=[{"Key": "env", "Value": "ci"},
                                      {"Key": "owner", "Value": "h8"}])
    state = tmp_path / "agent"
    env = hermetic_env(ca=gateway["ca"])
    reg = subprocess.run(
        [str(build / "deckhand-agent"), "register", "--code", act["ActivationCode"], "--id",
         act["ActivationId"], "--region", REGION, "--endpoint", gateway["url"], "--ca",
         str(gateway["ca"]), "--state", str(state)],
        env=env, capture_output=True, text=True, timeout=60)
    assert reg.returncode == 0, reg.stderr
    iid = re.search(r"instance (mi-[0-9a-f]+)", reg.stdout).group(1)

    cfg = tmp_path / "agent.json"
    cfg.write_text(json.dumps({
        "heartbeat": {"interval_seconds": 10},
        "control_channel": {"initial_backoff_ms": 200, "max_backoff_seconds": 2}}))
    logp = tmp_path / "agent.log"
    with open(logp, "wb") as log:
        proc = subprocess.Popen([str(build / "deckhand-agent"), "run", "--config", str(cfg),
                                 "--state", str(state)], stdout=log, stderr=log, env=env)
    try:
        info = _wait(lambda: _online(ssm, iid))
        assert info is not None, logp.read_text()
        assert info["Name"] == "boto3-host" and info["PlatformType"] == "Linux"
        assert info["ActivationId"] == act["ActivationId"]
        tags = ssm.list_tags_for_resource(ResourceType="ManagedInstance",
                                          ResourceId=iid)["TagList"]
        assert tags == [{"Key": "env", "Value": "ci"}, {"Key": "owner", "Value": "h8"}]
        # 10-second credentials: the agent refreshes them and keeps heartbeating
        assert _wait(lambda: _count(logp, r"credentials obtained") >= 2, 30), logp.read_text()
        assert _wait(lambda: _count(logp, r"heartbeat sent") >= 2, 30), logp.read_text()
        assert _online(ssm, iid) is not None

        ssm.deregister_managed_instance(InstanceId=iid)
        assert _online(ssm, iid) is None
        assert ssm.describe_instance_information(Filters=[
            {"Key": "InstanceIds", "Values": [iid]}])["InstanceInformationList"] == []
        refused = r"credentials: RequestManagedInstanceRoleToken: UnrecognizedClientException"
        assert _wait(lambda: _count(logp, refused) >= 1, 30), logp.read_text()
        assert proc.poll() is None      # refused, not crashed: it keeps retrying
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
    assert rc == 0, logp.read_text()
    assert act["ActivationCode"] not in logp.read_text()
    # the operator's calls are in the audit trail, seen through boto3 too
    ct = _boto(gateway, "cloudtrail")
    ev = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                             "AttributeValue": "DeregisterManagedInstance"}])
    assert len(ev["Events"]) == 1
    assert json.loads(ev["Events"][0]["CloudTrailEvent"])["requestParameters"][
        "instanceId"] == iid
