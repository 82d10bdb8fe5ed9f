"""Packaging: `make install` layout and modes, the two .deb packages built with
dpkg-deb and installed with the real dpkg into a scratch root, man pages that
render, unit files systemd accepts, and install.sh's argument checks."""
import os
import pathlib
import re
import shutil
import stat
import subprocess

from conftest import ROOT


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, **kw)


def test_install_layout(build, tmp_path):
    r = run("sh", str(ROOT / "install/install-files.sh"), str(build), str(tmp_path), "/usr")
    assert r.returncode == 0, r.stderr
    for rel, mode in (("usr/sbin/deckhand-agent", 0o755), ("usr/sbin/deckhand-gateway", 0o755),
                      ("usr/bin/deckhand", 0o755), ("etc/deckhand/agent.json", 0o644),
                      ("lib/systemd/system/deckhand-agent.service", 0o644),
                      ("lib/systemd/system/deckhand-gateway.service", 0o644),
                      ("usr/share/man/man8/deckhand-agent.8.gz", 0o644),
                      ("usr/share/man/man8/deckhand-gateway.8.gz", 0o644),
                      ("usr/share/man/man1/deckhand.1.gz", 0o644)):
        p = tmp_path / rel
        assert p.is_file(), rel
        assert stat.S_IMODE(p.stat().st_mode) == mode, rel
    link = tmp_path / "usr/lib/deckhand/session-manager-plugin"
    assert os.readlink(link) == "/usr/bin/deckhand"
    st = (tmp_path / "var/lib/deckhand").stat()
    assert stat.S_IMODE(st.st_mode) == 0o700
    # the shipped default config is accepted by the agent's own validator
    r = run(str(build / "deckhand-agent"), "config", "show", "--config",
            str(tmp_path / "etc/deckhand/agent.json"))
    assert r.returncode == 0, r.stderr
    # an existing config is never overwritten by a reinstall
    (tmp_path / "etc/deckhand/agent.json").write_text('{"region": "eu-west-1"}\n')
    run("sh", str(ROOT / "install/install-files.sh"), str(build), str(tmp_path), "/usr")
    assert "eu-west-1" in (tmp_path / "etc/deckhand/agent.json").read_text()


def test_debs_install_with_dpkg(build, tmp_path):
    r = run("sh", str(ROOT / "packaging/build-deb.sh"), str(build), "0.1.0")
    assert r.returncode == 0, r.stderr
    debs = sorted((build / "deb").glob("*.deb"))
    names = {d.name.split("_")[0] for d in debs}
    assert {"deckhand-agent", "deckhand-gateway"} <= names
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/status").touch()
    r = run("dpkg", "--root=" + str(root), "--force-depends", "--force-script-chrootless",
            "--force-not-root", "-i", *[str(d) for d in debs])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("dpkg", "--root=" + str(root), "-l", "deckhand-agent", "deckhand-gateway")
    assert r.stdout.count("\nii ") == 2, r.stdout
    agent = root / "usr/sbin/deckhand-agent"
    out = run(str(agent), "--version")
    assert out.returncode == 0 and "0.1.0" in out.stdout + out.stderr
    # binaries are stripped in the package and stay small (sanitizer builds
    # carry their instrumentation, so the bound only holds for release builds)
    if not os.environ.get("DH_SANITIZED"):
        assert agent.stat().st_size < 1024 * 1024
    r = run("dpkg-deb", "-f", str([d for d in debs if "agent" in d.name][0]), "Depends")
    assert "libwebsockets17" in r.stdout
    for d in debs:
        listing = run("dpkg-deb", "-c", str(d)).stdout
        assert listing.splitlines()[0].startswith("drwxr-xr-x"), listing.splitlines()[0]


def test_man_pages_render(tmp_path):
    if shutil.which("groff") is None and shutil.which("nroff") is None:
        import pytest
        pytest.skip("no roff formatter installed")
    for page in ("deckhand-agent.8", "deckhand-gateway.8", "deckhand.1"):
        r = run("nroff", "-man", str(ROOT / "packaging/man" / page))
        text = re.sub(".\b", "", r.stdout)
        assert r.returncode == 0 and "SYNOPSIS" in text, page
        assert "warning" not in r.stderr, r.stderr


def test_units_verify():
    if shutil.which("systemd-analyze") is None:
        import pytest
        pytest.skip("systemd-analyze not installed")
    for unit in ("deckhand-agent.service", "deckhand-gateway.service"):
        r = run("systemd-analyze", "verify", str(ROOT / "packaging/systemd" / unit))
        bad = [l for l in (r.stdout + r.stderr).splitlines()
               if l and "is not executable" not in l and "man " not in l]
        assert not bad, bad


def test_install_sh_requires_arguments():
    r = run("sh", str(ROOT / "install/install.sh"), "--code", "x")
    assert r.returncode == 2
    assert "required" in r.stderr
    r = run("sh", str(ROOT / "install/install.sh"), "--bogus")
    assert r.returncode == 2
