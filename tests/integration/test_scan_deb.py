"""Debian scanner against real peers: dpkg's version order, apt's upgradable
set on this host, a fixture root built from this host's real dpkg status and
apt lists in every compression apt uses, malformed inputs through the CLI,
and a synthetic 5,000-package root.

Oracles: `dpkg --compare-versions` (exit 0 true, 1 false, 2 syntax error),
python3-apt's apt_pkg.version_compare (the same algorithm, in process) and
`apt list --upgradable`.
"""
import gzip
import json
import os
import pathlib
import random
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, ROOT

DECKHAND = BUILD / "deckhand"
CMP_TOOL = BUILD / "tools" / "pt_debver_cmp"
MINI = ROOT / "tests" / "data" / "deb" / "mini"
LISTS = pathlib.Path("/var/lib/apt/lists")


# ---------------------------------------------------------------- versions

EPOCHS = [""] * 12 + ["0:", "1:", "2:", "00:", "10:", "1a:", ":"]
DIGITS = ["0", "00", "1", "01", "001", "2", "9", "10", "010", "99", "100"]
LETTERS = ["a", "b", "z", "A", "Z", "rc", "pre", "beta", "dfsg", "deb"]
SEPS = [".", ".", ".", "+", "~", "~~", "-", "+~"]
REVS = ["", "", "", "-1", "-0", "-1.1", "-1~", "-1+b1", "-0ubuntu1", "-a",
        "-~", "-1~deb12u1", "-2+deb12u3", "-1.0-2", "-00", "-b1.2"] * 3 + ["-"]


def rand_version(rng):
    parts = [rng.choice(DIGITS)] if rng.random() < 0.9 else []
    for _ in range(rng.randint(0, 5)):
        r = rng.random()
        if r < 0.35:
            parts.append(rng.choice(SEPS))
        elif r < 0.7:
            parts.append(rng.choice(DIGITS))
        else:
            parts.append(rng.choice(LETTERS))
    up = "".join(parts)
    return rng.choice(EPOCHS) + up + rng.choice(REVS)


def mutate(rng, v):
    """A close neighbour of v: one character inserted, removed or changed."""
    alphabet = "0123456789aZz.+~" * 4 + "-:"
    i = rng.randint(0, len(v))
    r = rng.random()
    if r < 0.4 or not v:
        return v[:i] + rng.choice(alphabet) + v[i:]
    if r < 0.7:
        return v[:i] + v[i + 1:]
    return v[:i] + rng.choice(alphabet) + v[i + 1:]


def corpus(n, seed):
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        a = rand_version(rng)
        b = mutate(rng, a) if rng.random() < 0.5 else rand_version(rng)
        if "\t" in a + b or " " in a + b or not a or not b:
            continue
        pairs.append((a, b))
    return pairs


def ours(pairs):
    data = "".join("%s\t%s\n" % p for p in pairs)
    out = subprocess.run([str(CMP_TOOL)], input=data, capture_output=True,
                         text=True, check=True).stdout.split("\n")
    res = []
    for line in out[:len(pairs)]:
        r, va, vb = line.split()
        res.append((int(r), va == "1" and vb == "1"))
    return res


def dpkg_batch(pairs):
    """One shell loop per half of the corpus (two in parallel): prints
    'lt', 'eq', 'gt' or 'err' per pair from dpkg --compare-versions."""
    script = r'''
while IFS="$(printf '\t')" read -r a b; do
  dpkg --compare-versions -- "$a" lt "$b" 2>/dev/null; r=$?
  if [ $r = 0 ]; then echo lt
  elif [ $r = 2 ]; then echo err
  elif dpkg --compare-versions -- "$a" eq "$b" 2>/dev/null; then echo eq
  else echo gt; fi
done
'''
    half = len(pairs) // 2
    chunks = [pairs[:half], pairs[half:]]
    procs = [subprocess.Popen(["sh", "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
             for _ in chunks]
    outs = []
    for p, c in zip(procs, chunks):
        out, _ = p.communicate("".join("%s\t%s\n" % x for x in c))
        outs.extend(out.split())
    return outs


def test_version_order_matches_dpkg_compare_versions():
    pairs = corpus(1600, seed=12)
    want = dpkg_batch(pairs)
    got = ours(pairs)
    assert len(want) == len(pairs)
    names = {-1: "lt", 0: "eq", 1: "gt"}
    bad = []
    n_err = 0
    for (a, b), w, (r, valid) in zip(pairs, want, got):
        if w == "err":
            n_err += 1
            if valid:
                bad.append((a, b, w, "we accept both"))
            continue
        if not valid or names[r] != w:
            bad.append((a, b, w, names[r], valid))
    assert not bad, bad[:20]
    # the corpus exercises syntax errors too, but mostly comparisons
    assert 0 < n_err < len(pairs) // 3


def test_version_order_matches_apt_pkg_large():
    apt_pkg = pytest.importorskip("apt_pkg")
    apt_pkg.init()
    pairs = corpus(60000, seed=99)
    got = ours(pairs)
    bad = []
    for (a, b), (r, valid) in zip(pairs, got):
        # apt's parser does not take strtol's sign on an epoch ("+1:2");
        # dpkg does, and dpkg is the reference (checked above)
        if not valid or a[0] in "+-" or b[0] in "+-":
            continue
        w = apt_pkg.version_compare(a, b)
        w = (w > 0) - (w < 0)
        if w != r:
            bad.append((a, b, w, r))
    assert not bad, bad[:20]


# ---------------------------------------------------------------- host

def ensure_lists():
    if not any(LISTS.glob("*_Packages*")):
        subprocess.run(["apt-get", "update", "-qq"], check=True,
                       capture_output=True)


def apt_upgradable(extra=()):
    out = subprocess.run(["apt", "list", "--upgradable"] + list(extra),
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, LC_ALL="C")).stdout
    res = set()
    for line in out.splitlines():
        if "/" not in line or "[upgradable from" not in line:
            continue
        name_arch, ver, arch = line.split()[:3]
        name, archives = name_arch.split("/", 1)
        res.add((name, arch, ver, "-security" in archives))
    return res


@pytest.fixture(scope="module")
def apt_now():
    """apt's answer on this host, computed once per module."""
    ensure_lists()
    return apt_upgradable()


def deckhand_upgradable(root=None):
    cmd = [str(DECKHAND), "scan", "--upgradable", "--format", "json"]
    if root is not None:
        cmd += ["--root", str(root)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return {(e["name"], e["arch"], e["version"], e["security"])
            for e in json.loads(p.stdout)}


def test_host_upgradable_set_matches_apt(apt_now):
    want = apt_now
    got = deckhand_upgradable()
    assert got == want, (sorted(got - want), sorted(want - got))


def test_host_compliance_exit_code_and_json(apt_now):
    sec = {x for x in apt_now if x[3]}
    p = subprocess.run([str(DECKHAND), "scan", "--format", "json",
                        "--quiet"], capture_output=True, text=True)
    assert p.returncode in (0, 1), p.stderr
    doc = json.loads(p.stdout)
    missing = {x["Name"] for x in doc["Patches"] if x["State"] == "MISSING"}
    # the Debian default baseline approves exactly the security updates
    assert missing == {x[0] for x in sec}
    assert p.returncode == (1 if sec else 0)
    assert doc["Product"] == "Debian12"


# ---------------------------------------------------------------- fixtures

def decompress(path):
    n = path.name
    tools = {".lz4": ["lz4", "-dc"], ".zst": ["zstd", "-dc"],
             ".xz": ["xz", "-dc"], ".bz2": ["bzip2", "-dc"],
             ".gz": ["gzip", "-dc"], ".lzma": ["xz", "-dc"]}
    for ext, cmd in tools.items():
        if n.endswith(ext):
            return subprocess.run(cmd + [str(path)], capture_output=True,
                                  check=True).stdout
    return path.read_bytes()


COMPRESSORS = {
    "": None,
    ".gz": ["gzip", "-c", "-6"],
    ".xz": ["xz", "-c", "-1"],
    ".bz2": ["bzip2", "-c", "-1"],
    ".lz4": ["lz4", "-c", "-q"],
    ".zst": ["zstd", "-c", "-q"],
}


def stanza_subset(raw, keep_names, extra_every=25):
    """Stanzas whose Package is installed, plus every extra_every-th other."""
    out = []
    for i, st in enumerate(raw.split(b"\n\n")):
        if not st.strip():
            continue
        name = st.split(b"\n", 1)[0].partition(b": ")[2]
        if name in keep_names or i % extra_every == 0:
            out.append(st.strip(b"\n"))
    return b"\n\n".join(out) + b"\n"


def write_lists(root, plain, ext):
    lists = root / "var/lib/apt/lists"
    lists.mkdir(parents=True, exist_ok=True)
    for name, data in plain.items():
        target = lists / (name + ext)
        if COMPRESSORS[ext] is None:
            target.write_bytes(data)
        else:
            target.write_bytes(subprocess.run(
                COMPRESSORS[ext], input=data, capture_output=True,
                check=True).stdout)


@pytest.fixture(scope="module")
def host_fixture(tmp_path_factory):
    """Real data: this host's status, os-release, Release files and a subset
    of its Packages indexes (every installed name), decompressed."""
    ensure_lists()
    base = tmp_path_factory.mktemp("hostroot")
    status = pathlib.Path("/var/lib/dpkg/status").read_bytes()
    installed = {line.partition(b": ")[2] for line in status.splitlines()
                 if line.startswith(b"Package: ")}
    plain = {}
    for f in sorted(LISTS.iterdir()):
        n = f.name
        if "_Packages" in n:
            base_name = n[:n.index("_Packages") + len("_Packages")]
            plain[base_name] = stanza_subset(decompress(f), installed)
    releases = {f.name: f.read_bytes() for f in LISTS.iterdir()
                if f.name.endswith("Release")}
    return status, plain, releases


def make_root(dest, status, plain, releases, ext):
    (dest / "etc").mkdir(parents=True)
    shutil.copy("/etc/os-release", dest / "etc/os-release")
    (dest / "var/lib/dpkg").mkdir(parents=True)
    (dest / "var/lib/dpkg/status").write_bytes(status)
    write_lists(dest, plain, ext)
    for n, data in releases.items():
        (dest / "var/lib/apt/lists" / n).write_bytes(data)


def test_fixture_root_identical_across_compressions(tmp_path, host_fixture,
                                                    apt_now):
    status, plain, releases = host_fixture
    want = apt_now
    results = {}
    for ext in COMPRESSORS:
        root = tmp_path / ("root" + (ext or ".plain"))
        make_root(root, status, plain, releases, ext)
        results[ext] = deckhand_upgradable(root)
    for ext, got in results.items():
        assert got == results[""], ext
    # every installed package's stanzas were kept: same answer as apt here
    assert results[""] == want


def test_fixture_root_dpkg_journal(tmp_path, host_fixture, apt_now):
    """An unmerged dpkg journal entry must be seen: the package is then at
    its candidate version and no longer upgradable."""
    status, plain, releases = host_fixture
    want = apt_now
    if not want:
        pytest.skip("nothing upgradable on this host")
    name, arch, ver, _ = sorted(want)[0]
    root = tmp_path / "root"
    make_root(root, status, plain, releases, ".gz")
    stanza = next(s for s in status.split(b"\n\n")
                  if s.strip().startswith(b"Package: " + name.encode() + b"\n"))
    lines = [ln for ln in stanza.strip(b"\n").split(b"\n")
             if not ln.startswith(b"Version: ")]
    lines.append(b"Version: " + ver.encode())
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/updates/0000").write_bytes(b"\n".join(lines) + b"\n")
    got = deckhand_upgradable(root)
    assert got == {x for x in want if x[0] != name}


# ---------------------------------------------------------------- malformed

def copy_mini(tmp_path):
    root = tmp_path / "mini"
    shutil.copytree(MINI, root)
    return root


def run_scan(root, *args):
    return subprocess.run([str(DECKHAND), "scan", "--root", str(root)]
                          + list(args), capture_output=True, text=True)


def test_mini_fixture(tmp_path):
    root = copy_mini(tmp_path)
    got = deckhand_upgradable(root)
    assert got == {("libssl3", "amd64", "3.0.16-1~deb12u1", True),
                   ("tzdata", "all", "2025c-0+deb12u1", True),
                   ("nano", "amd64", "7.2-1+deb12u1", False)}
    p = run_scan(root)
    assert p.returncode == 1, p.stderr
    assert "NON_COMPLIANT" in p.stdout
    # drop the security lists: nothing approved is missing any more
    for f in (root / "var/lib/apt/lists").glob("security.*"):
        f.unlink()
    p = run_scan(root)
    assert p.returncode == 0, p.stdout + p.stderr


PKGS = "var/lib/apt/lists/deb.example.org_debian_dists_bookworm_main_binary-amd64_Packages"


def corrupt_cases():
    def truncated_gz(root):
        f = root / PKGS
        data = gzip.compress(f.read_bytes() * 20)
        f.unlink()
        (root / (PKGS + ".gz")).write_bytes(data[:len(data) // 2])

    def junk_status(root):
        (root / "var/lib/dpkg/status").write_bytes(
            bytes(random.Random(5).randrange(256) for _ in range(4096)))

    def nul_status(root):
        f = root / "var/lib/dpkg/status"
        f.write_bytes(f.read_bytes().replace(b"Version: 7.2-1",
                                             b"Version: 7.2\x00-1"))

    def huge_field(root):
        f = root / "var/lib/dpkg/status"
        f.write_bytes(f.read_bytes() + b"\nPackage: big\nDescription: "
                      + b"x" * (6 << 20) + b"\n")

    def no_package(root):
        f = root / PKGS
        f.write_bytes(f.read_bytes().replace(b"Package: nano\n", b""))

    def truncated_status(root):
        f = root / "var/lib/dpkg/status"
        f.write_bytes(f.read_bytes()[:300] + b"\nStatus")

    def junk_release(root):
        f = root / "var/lib/apt/lists/deb.example.org_debian_dists_bookworm_InRelease"
        f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00garbage")

    def bad_xz(root):
        f = root / PKGS
        f.unlink()
        (root / (PKGS + ".xz")).write_bytes(b"\xfd7zXZ\x00" + b"\x01" * 300)

    return [("truncated .gz index", truncated_gz, "gzip"),
            ("binary junk status", junk_status, "status"),
            ("NUL in status", nul_status, "NUL byte"),
            ("6 MiB field", huge_field, "field longer than"),
            ("stanza without Package", no_package, "no Package field"),
            ("truncated status", truncated_status, "expected 'Field: value'"),
            ("junk InRelease", junk_release, "InRelease"),
            ("corrupt .xz index", bad_xz, "Packages.xz")]


@pytest.mark.parametrize("label,corrupt,needle", corrupt_cases(),
                         ids=[c[0] for c in corrupt_cases()])
def test_malformed_inputs_fail_cleanly(tmp_path, label, corrupt, needle):
    root = copy_mini(tmp_path)
    corrupt(root)
    p = run_scan(root)
    assert p.returncode == 2, (label, p.returncode, p.stdout, p.stderr)
    assert p.stderr.startswith("deckhand scan: "), p.stderr
    assert needle.lower() in p.stderr.lower(), p.stderr
    assert p.stdout == ""


# ---------------------------------------------------------------- synthetic

def synthetic_root(dest, n=5000):
    rng = random.Random(7)
    shutil.copytree(MINI / "etc", dest / "etc")
    (dest / "var/lib/dpkg").mkdir(parents=True)
    lists = dest / "var/lib/apt/lists"
    lists.mkdir(parents=True)
    st, main, secu, upd = [], [], [], []
    expect = set()
    for i in range(n):
        name = "pkg%04d" % i
        arch = "all" if i % 7 == 0 else "amd64"
        inst = "%d.%d-%d" % (i % 13, i % 5, 1 + i % 3)
        st.append("Package: %s\nStatus: install ok installed\nPriority: "
                  "optional\nSection: misc\nArchitecture: %s\nVersion: %s\n"
                  "Description: synthetic %d\n long text\n .\n more\n"
                  % (name, arch, inst, i))
        main.append("Package: %s\nVersion: %s\nArchitecture: %s\n"
                    "Priority: optional\nSection: misc\nFilename: p/%s.deb\n"
                    "Size: %d\nSHA256: %064x\n" % (name, inst, arch, name,
                                                    rng.randrange(1 << 20), i))
        if i % 5 == 0:
            v = inst + "+deb12u1"
            secu.append("Package: %s\nVersion: %s\nArchitecture: %s\n"
                        "Priority: optional\nSection: misc\n" % (name, v, arch))
            expect.add((name, arch, v, True))
        elif i % 11 == 0:
            v = inst + ".1"
            upd.append("Package: %s\nVersion: %s\nArchitecture: %s\n"
                       "Priority: optional\nSection: misc\n" % (name, v, arch))
            expect.add((name, arch, v, False))
    for i in range(n, 3 * n):  # not installed
        main.append("Package: other%05d\nVersion: 1.0\nArchitecture: amd64\n"
                    % i)
    (dest / "var/lib/dpkg/status").write_text("\n".join(st))
    pre = "deb.example.org_debian_dists_"
    for suite, label, body in (("bookworm", "Debian", main),
                               ("bookworm-security", "Debian-Security", secu),
                               ("bookworm-updates", "Debian", upd)):
        (lists / (pre + suite + "_Release")).write_text(
            "Origin: Debian\nLabel: %s\nSuite: %s\nCodename: %s\n"
            % (label, suite, suite))
        data = ("\n".join(body)).encode()
        (lists / (pre + suite + "_main_binary-amd64_Packages.lz4")).write_bytes(
            subprocess.run(["lz4", "-c", "-q"], input=data,
                           capture_output=True, check=True).stdout)
    return expect


def test_synthetic_5000_package_root(tmp_path):
    root = tmp_path / "synth"
    expect = synthetic_root(root)
    t0 = time.monotonic()
    got = deckhand_upgradable(root)
    elapsed = time.monotonic() - t0
    assert got == expect
    p = run_scan(root, "--format", "json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert len(doc["Patches"]) == 5000
    assert doc["Counts"]["Missing"] == len([x for x in expect if x[3]])
    print("synthetic 5000-package scan: %.3f s" % elapsed)
