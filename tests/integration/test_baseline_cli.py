"""pt_baseline / pt_report against botocore's SSM model (Debian's botocore).

Every evaluable case in tests/data/baseline/ is run through the
pt_report_dump tool; each PutComplianceItems body and the PutInventory
AWS:PatchSummary body must pass botocore.validate.validate_parameters for
the operation's input shape, must also satisfy the model's max-length,
enum and pattern constraints (which botocore's validator does not check),
and must serialise with botocore's JSON 1.1 serializer.  A request over
10,000 items is split into calls that each validate.  A broken request is
refused, proving the validator is live.
"""
import json
import pathlib
import re
import subprocess

import botocore.session
import botocore.validate
import botocore.serialize
import pytest

from conftest import ROOT

DATA = ROOT / "tests" / "data" / "baseline"
NOW = "1763596800"  # 2025-11-20T00:00:00Z
RID = "mi-0123456789abcdef0"


@pytest.fixture(scope="module")
def ssm():
    return botocore.session.get_session().get_service_model("ssm")


def dump(build, case_dir, extra=()):
    tool = pathlib.Path(build) / "tools" / "pt_report_dump"
    default = case_dir / "default"
    if default.exists():
        args = ["--default", default.read_text().strip()]
    else:
        args = [str(case_dir / "baseline.json")]
    now = (case_dir / "now").read_text().strip() if (case_dir / "now").exists() else NOW
    if not now.isdigit():
        import datetime
        now = str(int(datetime.datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ")
                      .replace(tzinfo=datetime.timezone.utc).timestamp()))
    p = subprocess.run([str(tool)] + args + [str(case_dir / "inventory.json"), now, RID]
                       + list(extra), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def strict(shape, value, path="$"):
    """Constraints botocore's ParamValidator leaves out: max, enum, pattern."""
    t = shape.type_name
    md = shape.metadata
    if t == "structure":
        for k, v in value.items():
            assert k in shape.members, f"{path}: unknown member {k}"
            strict(shape.members[k], v, f"{path}.{k}")
    elif t == "list":
        if "max" in md:
            assert len(value) <= md["max"], f"{path}: {len(value)} > {md['max']}"
        for i, v in enumerate(value):
            strict(shape.member, v, f"{path}[{i}]")
    elif t == "map":
        if "max" in md:
            assert len(value) <= md["max"], f"{path}: {len(value)} > {md['max']}"
        for k, v in value.items():
            strict(shape.key, k, f"{path}<key>")
            strict(shape.value, v, f"{path}.{k}")
    elif t == "string":
        if "max" in md:
            assert len(value) <= md["max"], f"{path}: longer than {md['max']}"
        if "enum" in md:
            assert value in md["enum"], f"{path}: {value!r} not in enum"
        if "pattern" in md:
            assert re.search(md["pattern"], value), f"{path}: {value!r} !~ {md['pattern']}"


def validate(ssm, op, params):
    shape = ssm.operation_model(op).input_shape
    botocore.validate.validate_parameters(params, shape)
    strict(shape, params)
    ser = botocore.serialize.create_serializer("json")
    req = ser.serialize_to_request(params, ssm.operation_model(op))
    assert req["headers"]["X-Amz-Target"] == "AmazonSSM." + op
    return json.loads(req["body"])


def cases():
    out = []
    for d in sorted(DATA.iterdir()):
        exp = json.loads((d / "expected.json").read_text())
        if "parse_error" in exp or "eval_error" in exp:
            continue
        out.append(d.name)
    return out


@pytest.mark.parametrize("case", cases())
def test_case_requests_validate(build, ssm, case):
    doc = dump(build, DATA / case)
    assert len(doc["compliance"]) == 1
    call = doc["compliance"][0]
    wire = validate(ssm, "PutComplianceItems", call)
    assert wire["ComplianceType"] == "Patch"
    assert wire["UploadType"] == "COMPLETE"
    assert isinstance(wire["ExecutionSummary"]["ExecutionTime"], (int, float))
    assert wire["ExecutionSummary"]["ExecutionTime"] == int(call["ExecutionSummary"]["ExecutionTime"])
    exp = json.loads((DATA / case / "expected.json").read_text())
    if (DATA / case / "opts.json").exists():
        exp = {"overall": doc["result"]["Status"]}  # install history: unit test only
    states = {i["Id"]: i["Details"]["PatchState"] for i in call["Items"]}
    for key, want in exp.get("states", {}).items():
        got = [s for k, s in states.items() if k == key or k.startswith(key + ".")]
        assert got and all(s == want for s in got), (key, got, want)
    noncompliant = [i for i in call["Items"] if i["Status"] == "NON_COMPLIANT"]
    assert (exp["overall"] == "COMPLIANT") == (not noncompliant)
    for i in call["Items"]:
        assert set(i["Details"]) >= {"PatchState", "Classification", "PatchSeverity",
                                     "PatchBaselineId", "PatchGroup", "InstalledTime",
                                     "DocumentName"}
        if i["Details"]["PatchState"] == "INSTALLED_OTHER":
            assert i["Details"]["Classification"] == "" and i["Details"]["PatchSeverity"] == ""
    inv = doc["inventory"]
    validate(ssm, "PutInventory", inv)
    summary = inv["Items"][0]["Content"][0]
    assert inv["Items"][0]["TypeName"] == "AWS:PatchSummary"
    assert int(summary["MissingCount"]) == sum(
        1 for i in call["Items"] if i["Details"]["PatchState"] == "MISSING")
    assert doc["result"]["Status"] == exp["overall"]


def test_split_over_10000_items(build, ssm, tmp_path):
    pkgs = [{"name": "pkg%05d" % i, "arch": "amd64", "version": "1.0-1",
             "priority": "optional",
             "update": {"version": "1.0-2", "security": i % 3 == 0}}
            for i in range(12345)]
    inv = {"family": "deb", "os_id": "debian", "os_version": "12",
           "product": "Debian12", "packages": pkgs}
    case = tmp_path / "big"
    case.mkdir()
    (case / "inventory.json").write_text(json.dumps(inv))
    (case / "default").write_text("DEBIAN\n")
    doc = dump(build, case)
    calls = doc["compliance"]
    assert [len(c["Items"]) for c in calls] == [10000, 2345]
    assert [c["UploadType"] for c in calls] == ["COMPLETE", "PARTIAL"]
    ids = set()
    for c in calls:
        validate(ssm, "PutComplianceItems", c)
        ids.update(i["Id"] for i in c["Items"])
    assert len(ids) == 12345
    missing = sum(1 for c in calls for i in c["Items"] if i["Status"] == "NON_COMPLIANT")
    assert missing == len([p for p in pkgs if p["update"]["security"]])
    validate(ssm, "PutInventory", doc["inventory"])
    # a smaller per-call limit still validates
    doc = dump(build, case, extra=["4000"])
    assert [len(c["Items"]) for c in doc["compliance"]] == [4000, 4000, 4000, 345]


def test_validator_refuses_broken_requests(build, ssm):
    doc = dump(build, DATA / "deb-levels-highest")
    call = doc["compliance"][0]
    bad = json.loads(json.dumps(call))
    del bad["Items"][0]["Severity"]
    with pytest.raises(botocore.exceptions.ParamValidationError):
        validate(ssm, "PutComplianceItems", bad)
    bad = json.loads(json.dumps(call))
    bad["Items"][0]["Status"] = "MISSING"
    with pytest.raises(AssertionError):
        strict(ssm.operation_model("PutComplianceItems").input_shape, bad)
    bad = json.loads(json.dumps(doc["inventory"]))
    bad["Items"][0]["CaptureTime"] = "2025-11-20 00:00:00"
    with pytest.raises(AssertionError):
        strict(ssm.operation_model("PutInventory").input_shape, bad)
