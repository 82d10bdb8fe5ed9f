"""Shell sessions opened by a Session Manager client nobody here wrote:
ssm-session 1.0.6 from npm (github.com/bertrandmartel/aws-ssm-session),
driven the way its README drives it (tests/peers/ssm-session/client.js):
StartSession through botocore, then the library's own token message, its
terminal-size message, its keystroke frames and an acknowledgement for
every message it receives.

The library was written against the real service and agent, and has
quirks they tolerate: its PayloadDigest is the first 32 characters of the
hex SHA-256 (not the 32 digest bytes), its acknowledgements carry
PayloadType 3 and always name output_stream_data, it acknowledges the
agent's acknowledgements, and its token message has no ClientId or
ClientVersion.  The gateway, like the service, relays frames whose header
is sound without judging their digest, and the agent, like the reference
agent, does not check client digests.
"""
import json
import pathlib
import re
import shutil
import subprocess

import pytest

from test_agent_register import _wait_log
from test_session_e2e import agent, gateway, start_session_boto  # noqa: F401  (fixtures)

PEER = pathlib.Path(__file__).resolve().parents[1] / "peers" / "ssm-session"


@pytest.fixture
def ssmjs(build):
    """The peer installed from the npm registry (pinned by the lockfile)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed (install/deps.sh installs them)")
    d = pathlib.Path(build) / "peers" / "ssm-session"
    d.mkdir(parents=True, exist_ok=True)
    for f in ("package.json", "package-lock.json", "client.js"):
        shutil.copy(PEER / f, d / f)
    if not (d / "node_modules" / "ssm-session" / "package.json").exists():
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=d,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    return [node, str(d / "client.js")]


def _run(ssmjs, gateway, r, steps):
    env = gateway.aws_env()
    p = subprocess.run(ssmjs + [r["StreamUrl"], r["TokenValue"]], input=json.dumps(steps),
                       capture_output=True, text=True, env=env, timeout=60)
    out = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    return p.returncode, out, p.stderr


def test_js_client_runs_a_shell(build, gateway, agent, ssmjs):
    r = start_session_boto(gateway, agent["iid"])
    rc, out, err = _run(ssmjs, gateway, r, [
        [r"\$ $", "stty size; echo js-$((6*7))\r"],
        [r"js-42", "exit\r"],
        [r"exit", None]])
    assert rc == 0, (out, err)
    assert "30 100" in out["output"], out            # its size message
    assert "js-42" in out["output"], out
    assert out["closed"], out                       # channel_closed at exit
    assert _wait_log(agent["log"], r"session %s: agent_task_complete acknowledged"
                     % re.escape(r["SessionId"])), agent["log"].read_text()[-3000:]


def test_js_client_long_output_arrives_whole(build, gateway, agent, ssmjs):
    """5000 numbered lines, each one acked by the library (and its acks of
    the agent's acks ignored): every line arrives, in order, once."""
    r = start_session_boto(gateway, agent["iid"])
    rc, out, err = _run(ssmjs, gateway, r, [
        [r"\$ $", "seq 1 5000 | sed 's/^/L/'; echo DONE-$((2*3))\r"],
        [r"DONE-6", "exit\r"],
        [r"exit", None]])
    assert rc == 0, (out, err)
    lines = re.findall(r"^L(\d+)\r?$", out["output"], re.M)
    assert [int(x) for x in lines] == list(range(1, 5001)), lines[:5] + lines[-5:]
