"""Patch compliance end to end: deckhand-gateway + a registered deckhand-agent
whose scan root is a small fixture dpkg root (copied from tests/data/deb/mini:
4 installed packages, 2 with security updates), driven by Debian's aws CLI v2.

* create-patch-baseline + register-patch-baseline-for-patch-group + the
  instance's "Patch Group" tag; send-command AWS-RunPatchBaseline
  Operation=Scan -> the agent scans in a child and uploads; the invocation
  ends Success and list-compliance-items / describe-instance-patch-states /
  describe-instance-patches show the scan against that baseline.
* A maintenance window with an at() schedule a few seconds ahead fires, the
  agent scans, the execution ends SUCCESS and the compliance data is fresh.
* An instance offline at window start gets the scan when it reconnects
  before the cutoff.

Debian's aws CLI takes several seconds per call on the test machines, so
setup and polling use boto3 (the same botocore model in-process) and the
aws CLI carries the calls the feature is about.
"""
import datetime
import json
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ROOT, hermetic_env

REGION = "us-east-1"
MINI = ROOT / "tests" / "data" / "deb" / "mini"


class Gateway:
    def __init__(self, build, state):
        self.state = state
        state.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = state.parent / "gateway.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(pathlib.Path(build) / "deckhand-gateway"), "serve", "--state", str(state),
             "--listen", "127.0.0.1:0", "--region", REGION],
            stdout=self.log, stderr=self.log, env=hermetic_env())
        self.url = None
        deadline = time.time() + 15
        while time.time() < deadline and self.url is None:
            found = re.findall(r"listening on (https://127\.0\.0\.1:\d+)",
                               self.log_path.read_text(errors="replace"))
            if found:
                self.url = found[-1]
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.url is None:
            self.stop()
            pytest.fail("gateway did not start: " + self.log_path.read_text()[-2000:])
        self.ca = state / "ca.pem"

    def aws(self, *args):
        env = hermetic_env(ca=self.ca, AWS_SHARED_CREDENTIALS_FILE=self.state / "admin.credentials",
                           AWS_REGION=REGION)
        out = subprocess.run(["/usr/bin/aws", "--endpoint-url", self.url, "--output", "json"] + list(args),
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    def ssm(self):
        """boto3 (same botocore model) for fast setup and polling; the
        assertions that matter go through the aws CLI."""
        import configparser
        import boto3
        from botocore.config import Config
        cp = configparser.ConfigParser()
        cp.read(self.state / "admin.credentials")
        return boto3.client("ssm", region_name=REGION, endpoint_url=self.url,
                            aws_access_key_id=cp["default"]["aws_access_key_id"],
                            aws_secret_access_key=cp["default"]["aws_secret_access_key"],
                            verify=str(self.ca), config=Config(retries={"max_attempts": 1}))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Agent:
    def __init__(self, build, gw, tmp):
        self.build, self.gw = pathlib.Path(build), gw
        self.state = tmp / "agent"
        self.root = tmp / "root"
        shutil.copytree(MINI, self.root)
        self.config = tmp / "agent.json"
        self.config.write_text(json.dumps({"patch": {"scan_root": str(self.root)}}))
        self.log_path = tmp / "agent.log"
        self.proc = None
        act = gw.aws("ssm", "create-activation", "--iam-role", "SSMServiceRole")
        reg = subprocess.run(
            [str(self.build / "deckhand-agent"), "register", "--code", act["ActivationCode"],
             "--id", act["ActivationId"], "--region", REGION, "--endpoint", gw.url,
             "--ca", str(gw.ca), "--state", str(self.state)],
            env=hermetic_env(ca=gw.ca), capture_output=True, text=True, timeout=60)
        assert reg.returncode == 0, reg.stderr
        self.iid = re.search(r"instance (mi-[0-9a-f]+)", reg.stdout).group(1)

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.build / "deckhand-agent"), "run", "--state", str(self.state),
             "--config", str(self.config)],
            stdout=self.log, stderr=self.log,
            env=hermetic_env(ca=self.gw.ca, DECKHAND_CONTROL_CHANNEL_INITIAL_BACKOFF_MS="200",
                             DECKHAND_CONTROL_CHANNEL_MAX_BACKOFF_SECONDS="2"))
        opens = len(re.findall(r"control channel: open", self.log_path.read_text(errors="replace")))
        assert wait(lambda: len(re.findall(r"control channel: open",
                                           self.log_path.read_text(errors="replace"))) > opens), \
            self.log_path.read_text()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        self.proc = None


def wait(pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return None


@pytest.fixture
def env(build, tmp_path):
    if not (pathlib.Path(build) / "deckhand-gateway").exists():
        pytest.skip("not built")
    gw = Gateway(build, tmp_path / "gw" / "state")
    agent = None
    try:
        agent = Agent(build, gw, tmp_path)
        agent.start()
        yield gw, agent
    finally:
        if agent is not None:
            agent.stop()
        gw.stop()


RULES = json.dumps({"PatchRules": [{
    "PatchFilterGroup": {"PatchFilters": [
        {"Key": "PRIORITY", "Values": ["Required", "Important", "Standard", "Optional", "Extra"]}]},
    "ComplianceLevel": "HIGH", "ApproveAfterDays": 0}]})


def items_of(gw, iid, cli=False):
    if cli:
        return gw.aws("ssm", "list-compliance-items", "--resource-ids", iid,
                      "--resource-types", "ManagedInstance")["ComplianceItems"]
    return gw.ssm().list_compliance_items(ResourceIds=[iid], ResourceTypes=["ManagedInstance"])[
        "ComplianceItems"]


def put_marker(gw, iid):
    gw.aws("ssm", "put-compliance-items", "--resource-id", iid, "--resource-type", "ManagedInstance",
           "--compliance-type", "Patch", "--execution-summary", "ExecutionTime=2024-01-01T00:00:00Z",
           "--items", "Id=marker,Title=marker,Severity=LOW,Status=COMPLIANT")
    assert [i["Id"] for i in items_of(gw, iid)] == ["marker"]


def scanned(gw, iid):
    items = items_of(gw, iid)
    return items if any(i["Id"] != "marker" for i in items) else None


def at_in(seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return "at(%s)" % t.strftime("%Y-%m-%dT%H:%M:%S")


def window_with_task(gw, iid, seconds):
    ssm = gw.ssm()
    wid = ssm.create_maintenance_window(Name="scan-%d" % seconds, Schedule=at_in(seconds), Duration=2,
                                        Cutoff=1, AllowUnassociatedTargets=False)["WindowId"]
    assert ssm.get_maintenance_window(WindowId=wid)["NextExecutionTime"]
    tid = ssm.register_target_with_maintenance_window(
        WindowId=wid, ResourceType="INSTANCE",
        Targets=[{"Key": "InstanceIds", "Values": [iid]}])["WindowTargetId"]
    ssm.register_task_with_maintenance_window(
        WindowId=wid, TaskArn="AWS-RunPatchBaseline", TaskType="RUN_COMMAND",
        Targets=[{"Key": "WindowTargetIds", "Values": [tid]}],
        TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": ["Scan"]}}},
        MaxConcurrency="1", MaxErrors="1", Priority=1)
    assert not executions(gw, wid), "the window fired before its task was registered"
    return wid


def executions(gw, wid):
    return gw.ssm().describe_maintenance_window_executions(WindowId=wid)["WindowExecutions"]


def test_send_command_scan_and_views(env):
    gw, agent = env
    iid = agent.iid
    bid = gw.aws("ssm", "create-patch-baseline", "--name", "deb-prod", "--operating-system", "DEBIAN",
                 "--approval-rules", RULES)["BaselineId"]
    gw.aws("ssm", "register-patch-baseline-for-patch-group", "--baseline-id", bid, "--patch-group", "prod")
    ssm = gw.ssm()
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=iid,
                             Tags=[{"Key": "Patch Group", "Value": "prod"}])
    assert ssm.get_patch_baseline_for_patch_group(PatchGroup="prod",
                                                  OperatingSystem="DEBIAN")["BaselineId"] == bid
    names = [b["BaselineName"] for b in ssm.describe_patch_baselines()["BaselineIdentities"]]
    assert "deb-prod" in names and "AWS-DebianDefaultPatchBaseline" in names

    cmd = gw.aws("ssm", "send-command", "--document-name", "AWS-RunPatchBaseline",
                 "--parameters", "Operation=Scan", "--instance-ids", iid)["Command"]
    cid = cmd["CommandId"]

    def done():
        inv = gw.ssm().list_command_invocations(CommandId=cid)["CommandInvocations"]
        return inv if inv and inv[0]["Status"] not in ("Pending", "InProgress") else None
    assert wait(done, 60), agent.log_path.read_text()[-3000:]
    inv = ssm.list_command_invocations(CommandId=cid, Details=True)["CommandInvocations"]
    assert inv, agent.log_path.read_text()[-3000:]
    assert inv[0]["Status"] == "Success", inv
    assert inv[0]["CommandPlugins"][0]["Name"] == "PatchLinux"
    got = ssm.get_command_invocation(CommandId=cid, InstanceId=iid)
    assert got["Status"] == "Success"
    assert "NON_COMPLIANT" in got["StandardOutputContent"]
    assert ssm.list_commands(CommandId=cid)["Commands"][0]["Status"] == "Success"
    # the scan ran in a child of the agent's spawner, not a direct fork
    log = agent.log_path.read_text(errors="replace")
    assert re.search(r"patch: scan job started \(pid \d+\)", log), log[-3000:]
    assert "forks this child itself" not in log and "forks its children itself" not in log, log[-3000:]

    items = {i["Id"]: i for i in items_of(gw, iid, cli=True)}
    assert len(items) == 4, items
    missing = [i for i in items.values() if i["Details"]["PatchState"] == "MISSING"]
    assert sorted(i["Title"].split(".")[0].split(":")[0] for i in missing) == ["libssl3", "tzdata"]
    for i in missing:
        assert i["Status"] == "NON_COMPLIANT" and i["Severity"] == "HIGH"
        assert i["Details"]["PatchBaselineId"] == bid
        assert i["Details"]["PatchGroup"] == "prod"
    assert all(i["ExecutionSummary"]["ExecutionId"] == cid for i in items.values())

    state = gw.aws("ssm", "describe-instance-patch-states", "--instance-ids", iid)["InstancePatchStates"]
    assert len(state) == 1
    assert state[0]["BaselineId"] == bid and state[0]["PatchGroup"] == "prod"
    assert state[0]["MissingCount"] == 2 and state[0]["Operation"] == "Scan"
    assert state[0]["InstalledOtherCount"] + state[0]["InstalledCount"] == 2
    by_group = ssm.describe_instance_patch_states_for_patch_group(PatchGroup="prod")
    assert [s["InstanceId"] for s in by_group["InstancePatchStates"]] == [iid]
    patches = gw.aws("ssm", "describe-instance-patches", "--instance-id", iid,
                     "--filters", "Key=State,Values=Missing")["Patches"]
    assert len(patches) == 2 and {p["State"] for p in patches} == {"Missing"}
    summ = ssm.list_resource_compliance_summaries()["ResourceComplianceSummaryItems"]
    assert [(s["ResourceId"], s["Status"], s["OverallSeverity"]) for s in summ] == \
        [(iid, "NON_COMPLIANT", "HIGH")]
    inv = ssm.get_inventory()["Entities"]
    assert inv[0]["Id"] == iid and "AWS:PatchSummary" in inv[0]["Data"]


def test_maintenance_window_fires_and_scans(env):
    gw, agent = env
    iid = agent.iid
    put_marker(gw, iid)
    wid = window_with_task(gw, iid, 3)
    assert wait(lambda: executions(gw, wid), 30), gw.log_path.read_text()[-2000:]
    items = wait(lambda: scanned(gw, iid), 60)
    assert items, agent.log_path.read_text()[-3000:]
    items = items_of(gw, iid, cli=True)
    assert len(items) == 4 and "marker" not in [i["Id"] for i in items]
    ex = wait(lambda: [e for e in executions(gw, wid) if e["Status"] == "SUCCESS"], 30)
    assert ex, executions(gw, wid)
    ssm = gw.ssm()
    tasks = ssm.describe_maintenance_window_execution_tasks(
        WindowExecutionId=ex[0]["WindowExecutionId"])["WindowExecutionTaskIdentities"]
    assert [t["Status"] for t in tasks] == ["SUCCESS"]
    invs = ssm.describe_maintenance_window_execution_task_invocations(
        WindowExecutionId=ex[0]["WindowExecutionId"], TaskId=tasks[0]["TaskExecutionId"])
    assert [i["InvocationId"] for i in invs["WindowExecutionTaskInvocationIdentities"]] == [iid]
    # at() fires once: no next execution time any more.
    assert "NextExecutionTime" not in ssm.get_maintenance_window(WindowId=wid)


def test_offline_instance_scans_on_reconnect(env):
    gw, agent = env
    iid = agent.iid
    agent.stop()
    put_marker(gw, iid)
    wid = window_with_task(gw, iid, 3)
    ex = wait(lambda: executions(gw, wid), 30)
    assert ex and ex[0]["Status"] == "IN_PROGRESS", ex
    time.sleep(1.5)
    assert [i["Id"] for i in items_of(gw, iid)] == ["marker"]
    agent.start()
    items = wait(lambda: scanned(gw, iid), 60)
    assert items, agent.log_path.read_text()[-3000:]
    assert len(items_of(gw, iid, cli=True)) == 4
    assert wait(lambda: [e for e in executions(gw, wid) if e["Status"] == "SUCCESS"], 30)
