"""RPM scanner (plugins/patch/pt_rpm) against the real RPM toolchain.

A fixture root is built in the test with Debian's rpm/rpmbuild (trivial
packages from generated specs), published with createrepo_c plus a written
updateinfo.xml (modifyrepo_c), the "installed" versions registered with
`rpm --root R -i --justdb`, and a dnf cache created with
`dnf --installroot R makecache` from a file:// repository.  The scanner
(tests/tools/rpm_scan) must then give exactly the upgradable set of
`dnf check-update` and the security set of `dnf updateinfo list --security`,
including epochs, `^`/`~` versions, x86_64 vs i686 and advisories that name
an intermediate version.  Corrupt caches must fail with a clear error, and a
synthetic root (500 packages, 5,000 with DH_BENCH=1) is scanned for
timing and peak RSS (reported, never asserted).
"""
import gzip
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import BUILD

TOOLS = ("/usr/bin/rpm", "/usr/bin/rpmbuild", "/usr/bin/createrepo_c",
         "/usr/bin/modifyrepo_c", "/usr/bin/dnf")
pytestmark = pytest.mark.skipif(
    not all(os.access(t, os.X_OK) for t in TOOLS),
    reason="needs rpm, rpmbuild, createrepo_c, modifyrepo_c and dnf "
           "(install/deps.sh installs them)")

SCAN = BUILD / "tools" / "rpm_scan"

# (name, epoch, version, release, arch) of what is installed ...
INSTALLED = [
    ("sec-a", 0, "1.0", "1", "noarch"),
    ("bug-b", 0, "2.0", "1", "noarch"),
    ("enh-c", 0, "1.0", "1", "noarch"),
    ("same-d", 0, "1.0", "1", "noarch"),
    ("epoch-e", 0, "5.0", "1", "noarch"),
    ("caret-f", 0, "1.0", "1", "noarch"),
    ("tilde-g", 0, "1.0", "1", "noarch"),
    ("mid-h", 0, "1.0", "1", "noarch"),
    ("rel-i", 0, "1.0", "1", "noarch"),
    ("arch-j", 0, "1.0", "1", "x86_64"),
    ("arch-j", 0, "1.0", "1", "i686"),
    ("multi-k", 0, "1.0", "1", "noarch"),
    ("notinrepo-l", 0, "1.0", "1", "noarch"),
    ("newer-m", 0, "3.0", "1", "noarch"),
]
# ... and what the repository offers.
AVAILABLE = [
    ("sec-a", 0, "1.0", "1", "noarch"), ("sec-a", 0, "1.1", "1", "noarch"),
    ("bug-b", 0, "2.1", "1", "noarch"),
    ("enh-c", 0, "1.5", "1", "noarch"),
    ("same-d", 0, "1.0", "1", "noarch"),
    ("epoch-e", 1, "0.5", "1", "noarch"),
    ("caret-f", 0, "1.0^git1", "1", "noarch"),
    ("tilde-g", 0, "1.0~rc1", "1", "noarch"),
    ("mid-h", 0, "1.2", "1", "noarch"),
    ("rel-i", 0, "1.0", "2", "noarch"),
    ("arch-j", 0, "1.1", "1", "x86_64"), ("arch-j", 0, "1.0", "1", "i686"),
    ("multi-k", 0, "1.1", "1", "noarch"), ("multi-k", 0, "1.2", "1", "noarch"),
    ("multi-k", 0, "1.3", "1", "noarch"),
    ("newer-m", 0, "2.0", "1", "noarch"),
]
# (id, type, severity, issued, updated, reboot, [(name, ver, rel, arch)], cves)
ADVISORIES = [
    ("SEC-A", "security", "Important", "2024-01-10 00:00:00",
     "2024-01-20 00:00:00", False, [("sec-a", "1.1", "1", "noarch")],
     ["CVE-2024-1000", "CVE-2024-1001"]),
    ("BUG-B", "bugfix", None, "2024-02-01 00:00:00", None, False,
     [("bug-b", "2.1", "1", "noarch")], []),
    ("ENH-C", "enhancement", None, "2024-02-02", None, False,
     [("enh-c", "1.5", "1", "noarch")], []),
    ("SEC-F", "security", "Critical", "1706745600", None, True,
     [("caret-f", "1.0^git1", "1", "noarch")], ["CVE-2024-1002"]),
    ("SEC-G", "security", "Low", "2024-01-01", None, False,
     [("tilde-g", "1.0~rc1", "1", "noarch")], []),
    ("SEC-H", "security", "Moderate", "2024-03-01 10:00:00", None, False,
     [("mid-h", "1.1", "1", "noarch")], ["CVE-2024-1003"]),
    ("BUG-H", "bugfix", None, "2024-03-05 10:00:00", None, False,
     [("mid-h", "1.2", "1", "noarch")], []),
    ("SEC-I", "security", "Low", "2024-03-06", None, False,
     [("rel-i", "1.0", "2", "noarch")], []),
    ("SEC-J", "security", "Important", "2024-03-07", None, False,
     [("arch-j", "1.1", "1", "x86_64")], []),
    ("SEC-K1", "security", "Important", "2024-03-08", None, False,
     [("multi-k", "1.2", "1", "noarch")], []),
    ("SEC-K2", "security", "Critical", "2024-03-09", None, False,
     [("multi-k", "1.3", "1", "noarch")], ["CVE-2024-1004"]),
    ("SEC-M", "security", "Critical", "2024-03-10", None, False,
     [("newer-m", "2.0", "1", "noarch")], []),
]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def build_rpms(topdir, pkgs):
    """Build trivial rpms for (name, epoch, version, release, arch) tuples:
    one rpmbuild per arch and "layer" (a spec names each package once)."""
    topdir = pathlib.Path(topdir)
    topdir.mkdir(parents=True, exist_ok=True)
    layers = {}
    for p in pkgs:
        key = p[4]
        placed = False
        for layer in layers.setdefault(key, []):
            if p[0] not in {q[0] for q in layer}:
                layer.append(p)
                placed = True
                break
        if not placed:
            layers[key].append([p])
    out = []
    n = 0
    for arch, group in layers.items():
        for layer in group:
            n += 1
            spec = topdir / ("fixture%d.spec" % n)
            text = ["Name: fixture-base", "Version: 1", "Release: 1",
                    "Summary: fixture", "License: MIT"]
            if arch == "noarch":
                text.append("BuildArch: noarch")
            text += ["%description", "fixture", ""]
            for name, epoch, ver, rel, _ in layer:
                text += ["%package -n " + name, "Summary: " + name,
                         "Version: " + ver, "Release: " + rel]
                if epoch:
                    text.append("Epoch: %d" % epoch)
                text += ["%description -n " + name, name,
                         "%files -n " + name, ""]
            spec.write_text("\n".join(text) + "\n")
            cmd = ["rpmbuild", "-bb", "--define", "_topdir %s" % topdir,
                   "--define", "_binary_payload w0.ufdio", str(spec)]
            if arch != "noarch":
                cmd[2:2] = ["--target", arch]
            r = run(cmd, env={"PATH": "/usr/bin:/bin", "HOME": str(topdir),
                              "LC_ALL": "C"})
            assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for path in sorted((topdir / "RPMS").rglob("*.rpm")):
        out.append(path)
    return out


def updateinfo_xml(advisories):
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<updates>"]
    for (aid, typ, sev, issued, updated, reboot, pkgs, cves) in advisories:
        parts.append('<update from="test@example.com" status="final" '
                     'type="%s" version="2">' % typ)
        parts.append("<id>%s</id><title>%s</title>" % (aid, aid))
        parts.append('<issued date="%s"/>' % issued)
        if updated:
            parts.append('<updated date="%s"/>' % updated)
        if sev:
            parts.append("<severity>%s</severity>" % sev)
        parts.append("<summary>s</summary><description>d</description>")
        parts.append("<references>")
        for c in cves:
            parts.append('<reference href="https://www.cve.org/%s" id="%s" '
                         'type="cve" title="%s"/>' % (c, c, c))
        parts.append("</references>")
        if reboot:
            parts.append("<reboot_suggested>True</reboot_suggested>")
        parts.append('<pkglist><collection short="c"><name>c</name>')
        for (n, v, r, a) in pkgs:
            parts.append('<package name="%s" version="%s" release="%s" '
                         'epoch="0" arch="%s"><filename>%s-%s-%s.%s.rpm'
                         '</filename></package>' % (n, v, r, a, n, v, r, a))
        parts.append("</collection></pkglist></update>")
    parts.append("</updates>")
    return "\n".join(parts) + "\n"


def dnf(root, *args):
    cmd = ["dnf", "-q", "-y", "--installroot=%s" % root, "--releasever=1",
           "--setopt=reposdir=%s/etc/yum.repos.d" % root] + list(args)
    return run(cmd, env={"PATH": "/usr/bin:/bin", "HOME": "/root",
                         "LC_ALL": "C.UTF-8"})


def scan(root):
    r = run([str(SCAN), str(root)])
    return r


def parse_scan(stdout):
    rows = {}
    for line in stdout.splitlines():
        f = line.split("\t")
        assert len(f) == 12, line
        rows[(f[0], f[1])] = {
            "version": f[2], "candidate": f[3], "repo": f[4], "class": f[5],
            "severity": f[6], "advisory": f[7], "security": f[8] == "1",
            "release": int(f[9]), "reboot": f[10] == "1",
            "cves": [] if f[11] == "-" else f[11].split(",")}
    return rows


@pytest.fixture(scope="module")
def rpmroot(tmp_path_factory):
    base = tmp_path_factory.mktemp("rpmroot")
    root = base / "root"
    repo = base / "repo"
    (root / "etc" / "yum.repos.d").mkdir(parents=True)
    repo.mkdir()
    (root / "etc" / "os-release").write_text(
        'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\n'
        'ID_LIKE="fedora"\nVERSION_ID="2023"\n')

    inst = build_rpms(base / "inst", INSTALLED)
    avail = build_rpms(base / "avail", AVAILABLE)
    assert len(inst) == len(INSTALLED) and len(avail) == len(AVAILABLE)
    for p in avail:
        shutil.copy(p, repo)
    r = run(["createrepo_c", "-q", str(repo)])
    assert r.returncode == 0, r.stderr
    ui = base / "updateinfo.xml"
    ui.write_text(updateinfo_xml(ADVISORIES))
    r = run(["modifyrepo_c", "--mdtype=updateinfo", str(ui),
             str(repo / "repodata")])
    assert r.returncode == 0, r.stderr
    # Debian's rpm keeps its database in ~/.rpmdb (HOME=/root): inside the
    # root that is root/.rpmdb, which is where dnf looks too.
    r = run(["rpm", "--root", str(root), "-i", "--nodeps", "--justdb",
             "--ignorearch", "--noscripts"] + [str(p) for p in inst],
            env={"PATH": "/usr/bin:/bin", "HOME": "/root", "LC_ALL": "C"})
    assert r.returncode == 0, r.stderr
    (root / "etc" / "yum.repos.d" / "fixture.repo").write_text(
        "[fixture]\nname=fixture\nbaseurl=file://%s\nenabled=1\n"
        "gpgcheck=0\n" % repo)
    r = dnf(root, "makecache")
    assert r.returncode == 0, r.stderr
    caches = list((root / "var" / "cache" / "dnf").glob("fixture-*/repodata"))
    assert len(caches) == 1, caches
    return root


def dnf_check_update(root):
    r = dnf(root, "check-update")
    assert r.returncode in (0, 100), r.stderr
    got = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) != 3 or "." not in f[0]:
            continue
        name, arch = f[0].rsplit(".", 1)
        got[(name, arch)] = (f[1], f[2])
    return got


NEVRA = re.compile(r"^(?P<name>.+)-(?:(?P<epoch>\d+):)?(?P<ver>[^-]+)-"
                   r"(?P<rel>[^-]+)\.(?P<arch>[^.]+)$")


def dnf_updateinfo(root, *filt):
    r = dnf(root, "updateinfo", "list", *filt)
    assert r.returncode == 0, r.stderr
    got = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) != 3:
            continue
        m = NEVRA.match(f[2])
        assert m, line
        got.append((f[0], f[1], m.group("name"), m.group("arch")))
    return got


def test_scan_matches_dnf(rpmroot):
    r = scan(rpmroot)
    assert r.returncode == 0, r.stderr
    rows = parse_scan(r.stdout)
    assert "product=AmazonLinux2023" in r.stderr
    assert set(rows) == {(p[0], p[4]) for p in INSTALLED}

    # upgradable set: exactly dnf check-update, same candidate and repo
    ours = {k: (v["candidate"], v["repo"]) for k, v in rows.items()
            if v["candidate"] != "-"}
    theirs = dnf_check_update(rpmroot)
    assert ours == theirs
    assert ours[("epoch-e", "noarch")][0] == "1:0.5-1"
    assert ours[("caret-f", "noarch")][0] == "1.0^git1-1"
    assert ours[("multi-k", "noarch")][0] == "1.3-1"
    assert ("tilde-g", "noarch") not in ours
    assert ("newer-m", "noarch") not in ours
    assert ("arch-j", "i686") not in ours and ("arch-j", "x86_64") in ours

    # security set: exactly the packages dnf lists under --security
    sec = dnf_updateinfo(rpmroot, "--security")
    assert {(n, a) for (_, _, n, a) in sec} == \
        {k for k, v in rows.items() if v["security"]}
    # our advisory and severity are among dnf's for that package
    for (name, arch), v in rows.items():
        if v["security"]:
            assert v["class"] == "Security"
            assert (v["advisory"], v["severity"] + "/Sec.", name, arch) in sec

    # every classified update names an advisory dnf shows for it
    allinfo = dnf_updateinfo(rpmroot)
    for (name, arch), v in rows.items():
        if v["advisory"] != "-":
            assert any(a == v["advisory"] and n == name and ar == arch
                       for (a, _, n, ar) in allinfo), (name, v)
    assert rows[("bug-b", "noarch")]["class"] == "Bugfix"
    assert rows[("enh-c", "noarch")]["class"] == "Enhancement"
    assert rows[("epoch-e", "noarch")]["class"] == "-"

    # details: the most severe applicable advisory, later of issued/updated,
    # CVE references, reboot flag, build time as fallback date
    k = rows[("multi-k", "noarch")]
    assert (k["advisory"], k["severity"]) == ("SEC-K2", "Critical")
    a = rows[("sec-a", "noarch")]
    assert a["release"] == 1705708800  # 2024-01-20 00:00:00 UTC (updated)
    assert sorted(a["cves"]) == ["CVE-2024-1000", "CVE-2024-1001"]
    h = rows[("mid-h", "noarch")]
    assert (h["advisory"], h["severity"]) == ("SEC-H", "Moderate")
    assert "CVE-2024-1003" in h["cves"]
    f = rows[("caret-f", "noarch")]
    assert f["reboot"] and f["release"] == 1706745600
    e = rows[("epoch-e", "noarch")]
    assert e["release"] > 1700000000  # build time of the fixture rpm


def test_scan_var_lib_rpm_dbpath(rpmroot, tmp_path):
    """A root whose database is in var/lib/rpm (RHEL/AL layout) is found."""
    root = tmp_path / "root"
    shutil.copytree(rpmroot, root, symlinks=True)
    (root / "var" / "lib").mkdir(parents=True, exist_ok=True)
    shutil.move(str(root / "root" / ".rpmdb"), str(root / "var" / "lib" / "rpm"))
    r = scan(root)
    assert r.returncode == 0, r.stderr
    assert parse_scan(r.stdout) == parse_scan(scan(rpmroot).stdout)


def test_scan_yum_primary_db(rpmroot, tmp_path):
    """yum (AL2, RHEL 7) caches keep primary_db, not primary.xml: a flat
    var/cache/yum/<arch>/<ver>/<repo>/ directory with repomd.xml, the
    bz2-compressed SQLite primary (later also its decompressed copy) and
    updateinfo gives the same result as the dnf cache."""
    want = parse_scan(scan(rpmroot).stdout)
    root = tmp_path / "root"
    shutil.copytree(rpmroot, root, symlinks=True)
    dnfcache = root / "var" / "cache" / "dnf"
    repodata = next(dnfcache.glob("fixture-*/repodata"))
    yum = root / "var" / "cache" / "yum" / "x86_64" / "2" / "fixture"
    yum.mkdir(parents=True)
    shutil.copy(repodata / "repomd.xml", yum)
    srcdata = next((rpmroot.parent / "repo" / "repodata").glob(
        "*-primary.sqlite.bz2"))
    shutil.copy(srcdata, yum)
    shutil.copy(next(repodata.glob("*-updateinfo.xml*")), yum)
    shutil.rmtree(dnfcache)
    r = scan(root)
    assert r.returncode == 0, r.stderr
    assert parse_scan(r.stdout) == want

    # yum's decompressed copy next to the archive is used as it is
    plain = yum / srcdata.name[:-len(".bz2")]
    subprocess.run(["bunzip2", "-k", str(yum / srcdata.name)], check=True)
    assert plain.exists()
    (yum / srcdata.name).unlink()
    r = scan(root)
    assert r.returncode == 0, r.stderr
    assert parse_scan(r.stdout) == want

    # a corrupt database is a clear error, not a crash
    plain.write_bytes(b"SQLite format 3\0" + b"\xff" * 3000)
    r = scan(root)
    assert r.returncode == 2 and plain.name in r.stderr


def test_scan_corrupt_cache(rpmroot, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(rpmroot, root, symlinks=True)
    cache = next((root / "var" / "cache" / "dnf").glob("fixture-*/repodata"))
    primary = next(cache.glob("*-primary.xml*"))
    data = primary.read_bytes()
    primary.write_bytes(data[: len(data) // 2])
    r = scan(root)
    assert r.returncode == 2
    assert primary.name in r.stderr and "truncated" in r.stderr.lower()

    primary.write_bytes(data)
    info = next(cache.glob("*-updateinfo.xml*"))
    bomb = (b'<?xml version="1.0"?>\n<!DOCTYPE u [<!ENTITY a "aaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<updates>&b;</updates>')
    info.write_bytes(gzip.compress(bomb) if info.name.endswith(".gz")
                     else bomb)
    r = scan(root)
    assert r.returncode == 2
    assert "DOCTYPE" in r.stderr and info.name in r.stderr

    # no rpm database at all
    shutil.rmtree(root / "root" / ".rpmdb")
    r = scan(root)
    assert r.returncode == 2 and "no rpm database" in r.stderr


def test_scan_synthetic_root(tmp_path):
    """Synthetic root: N installed rpms (one rpmbuild with N subpackages,
    registered in var/lib/rpm), a hand-written primary with a newer version
    for every second package and a security advisory for every fourth.
    N is 500 by default (building rpms dominates the test's time) and 5,000
    with DH_BENCH=1.  Timing and peak RSS go to test-logs/rpm_scan_N.txt."""
    n = 5000 if os.environ.get("DH_BENCH") else 500
    top = tmp_path / "top"
    top.mkdir()
    spec = ["Name: bench-base", "Version: 1.0", "Release: 1", "Summary: b",
            "License: MIT", "BuildArch: noarch", "%description", "b", ""]
    for i in range(n):
        spec += ["%%package -n bench-%05d" % i, "Summary: b",
                 "%%description -n bench-%05d" % i, "b",
                 "%%files -n bench-%05d" % i, ""]
    (top / "bench.spec").write_text("\n".join(spec) + "\n")
    r = run(["rpmbuild", "-bb", "--define", "_topdir %s" % top,
             "--define", "_binary_payload w0.ufdio", str(top / "bench.spec")],
            env={"PATH": "/usr/bin:/bin", "HOME": str(top), "LC_ALL": "C"})
    assert r.returncode == 0, r.stderr[-2000:]
    rpms = sorted(str(p) for p in (top / "RPMS" / "noarch").glob("*.rpm"))
    assert len(rpms) == n
    root = tmp_path / "root"
    root.mkdir()
    r = run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i",
             "--nodeps", "--justdb", "--noscripts", "--nodigest",
             "--nosignature"] + rpms,
            env={"PATH": "/usr/bin:/bin", "HOME": "/root", "LC_ALL": "C"})
    assert r.returncode == 0, r.stderr[-2000:]

    repodata = root / "var/cache/dnf/bench-0123456789abcdef/repodata"
    repodata.mkdir(parents=True)
    with gzip.open(repodata / "bench-primary.xml.gz", "wt") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<metadata '
                'xmlns="http://linux.duke.edu/metadata/common" '
                'xmlns:rpm="http://linux.duke.edu/metadata/rpm">\n')
        for i in range(n):
            for v in ["1.0"] + (["1.1"] if i % 2 == 0 else []):
                f.write('<package type="rpm"><name>bench-%05d</name>'
                        '<arch>noarch</arch><version epoch="0" ver="%s" '
                        'rel="1"/><checksum type="sha256" pkgid="YES">%s'
                        '</checksum><summary>bench</summary><description>'
                        'A synthetic package for the scan benchmark.'
                        '</description><time file="1700000000" '
                        'build="1700000000"/><location href="b.rpm"/>'
                        '<format><rpm:license>MIT</rpm:license><rpm:sourcerpm>'
                        'bench-base-1.0-1.src.rpm</rpm:sourcerpm><rpm:provides>'
                        '<rpm:entry name="bench-%05d" flags="EQ" epoch="0" '
                        'ver="%s" rel="1"/></rpm:provides></format></package>\n'
                        % (i, v, "ab" * 32, i, v))
        f.write("</metadata>\n")
    with gzip.open(repodata / "bench-updateinfo.xml.gz", "wt") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n')
        for i in range(0, n, 4):
            f.write('<update type="security"><id>BENCH-%d</id><issued '
                    'date="2024-01-01 00:00:00"/><severity>Important'
                    '</severity><references><reference type="cve" '
                    'id="CVE-2024-%d"/></references><pkglist><collection>'
                    '<package name="bench-%05d" version="1.1" release="1" '
                    'epoch="0" arch="noarch"/></collection></pkglist>'
                    '</update>\n' % (i, 10000 + i, i))
        f.write("</updates>\n")
    (repodata / "repomd.xml").write_text(
        '<repomd xmlns="http://linux.duke.edu/metadata/repo">'
        '<data type="primary"><location href="repodata/bench-primary.xml.gz"/>'
        '</data><data type="updateinfo"><location '
        'href="repodata/bench-updateinfo.xml.gz"/></data></repomd>')

    r = run(["/usr/bin/time", "-f", "time: wall=%e maxrss_kb=%M",
             str(SCAN), str(root)])
    assert r.returncode == 0, r.stderr
    rows = parse_scan(r.stdout)
    assert len(rows) == n
    assert sum(1 for v in rows.values() if v["candidate"] != "-") == n // 2
    assert sum(1 for v in rows.values() if v["security"]) == n // 4
    log = BUILD / "test-logs"
    log.mkdir(parents=True, exist_ok=True)
    (log / ("rpm_scan_%d.txt" % n)).write_text(r.stderr)
