"""``cfgc build`` through the real console script: signed builds into an --out inside
the repo, concurrent builds, kill -9 mid-build, and environment failures (exit 4)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.repos import cfgc_bin

pytestmark = pytest.mark.xdist_group("build-safety")


def provenance_files(bundle: Path) -> set[str]:
    env = json.loads((bundle / "provenance.intoto.json").read_text())
    stmt = json.loads(base64.b64decode(env["payload"]))
    deps = stmt["predicate"]["buildDefinition"]["resolvedDependencies"]
    return {d["uri"].removeprefix("file:") for d in deps if d["uri"].startswith("file:")}


def test_signed_builds_into_the_repo_repeat_and_list_only_compile_inputs(run_cfgc, example_repo: Path) -> None:
    assert run_cfgc("keys", "generate", example_repo / "release").returncode == 0
    for _ in range(3):  # used to fail every second run: the previous bundle was hashed as an input
        proc = run_cfgc("build", "--sign-key", "release.key", "--out", "build/bundle", cwd=example_repo)
        assert proc.returncode == 0, proc.stderr
        assert "signed, manifest sha256:" in proc.stdout
    verify = run_cfgc("verify", "build/bundle", "--key", "release.pub", cwd=example_repo)
    assert verify.returncode == 0, verify.stderr
    listed = provenance_files(example_repo / "build" / "bundle")
    assert "cfgc.yaml" in listed and "tenants/acme/prod/services/chat.yaml" in listed
    assert not [p for p in listed if p.startswith("build/") or p.startswith("release.")]
    # Files the compile does not read (Rego policies, test keys) are not inputs either.
    assert not [p for p in listed if p.startswith(("policies/", "test-keys-DO-NOT-USE/"))]
    assert all((example_repo / p).is_file() for p in listed)


def test_concurrent_signed_builds_into_one_out_all_succeed(example_repo: Path, tmp_path: Path) -> None:
    subprocess.run([*cfgc_bin(), "keys", "generate", str(tmp_path / "k")], check=True, capture_output=True)
    out = tmp_path / "out"
    procs = [
        subprocess.Popen([*cfgc_bin(), "build", "--repo", str(example_repo), "--out", str(out),
                          "--sign-key", str(tmp_path / "k.key"), "--cache-dir", str(tmp_path / f"cache{i}")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    for p in procs:
        for f in (p.stdout, p.stderr):
            if f:
                f.close()
    assert [rc for rc, _ in results] == [0, 0, 0, 0], results
    verify = subprocess.run([*cfgc_bin(), "verify", str(out), "--key", str(tmp_path / "k.pub")],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def _big_repo(root: Path, n: int) -> None:
    (root / "base").mkdir(parents=True)
    (root / "cfgc.yaml").write_text(
        "version: 1\nhierarchy:\n  - base/*.yaml\n  - svc/{service}.yaml\ntargets: \"{service}\"\n")
    (root / "base" / "a.yaml").write_text("limits: {rpm: 10}\n" + "".join(f"k{i}: {i}\n" for i in range(200)))
    (root / "svc").mkdir()
    for i in range(n):
        (root / "svc" / f"s{i:04}.yaml").write_text(f"id: {i}\n")


def test_kill_9_mid_build_leaves_staging_that_the_next_build_removes(tmp_path: Path) -> None:
    repo, out = tmp_path / "repo", tmp_path / "out"
    _big_repo(repo, 1000)
    argv = [*cfgc_bin(), "build", "--repo", str(repo), "--out", str(out), "--no-cache", "-j", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    staged: list[Path] = []
    while not staged and proc.poll() is None and time.monotonic() < deadline:
        staged = [p for p in tmp_path.glob(".out.tmp-*") if (p / "targets").is_dir()]
        time.sleep(0.005)
    if not staged:
        proc.wait()
        pytest.skip("the build finished before it could be killed mid-way")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert staged[0].is_dir() and not out.exists()  # what a killed build leaves
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    assert (out / "manifest.json").is_file()


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):
    if not _can_mount():
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("mount not permitted here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_is_exit_4_naming_the_path_and_keeps_the_previous_bundle(
    run_cfgc, example_repo: Path, tiny_tmpfs: Path
) -> None:
    out = tiny_tmpfs / "bundle"
    assert run_cfgc("build", "--repo", example_repo, "--out", out, "--no-cache").returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    filler = tiny_tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the file system: not even one more target fits
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    proc = run_cfgc("build", "--repo", example_repo, "--out", out, "--no-cache")
    assert proc.returncode == 4, proc.stderr
    assert "error: no space left on device writing" in proc.stderr
    assert str(out) in proc.stderr and ".tmp-" not in proc.stderr  # the path the user asked for
    assert "bug" not in proc.stderr and "Traceback" not in proc.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tiny_tmpfs.iterdir()) == ["bundle", "filler"]


def test_read_only_output_directory_is_exit_4_permission_denied(run_cfgc, example_repo: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    argv: list[str | Path] = ["build", "--repo", example_repo, "--out", ro / "bundle", "--no-cache"]
    if os.geteuid() == 0:  # root ignores modes: drop the capabilities that let it
        if not shutil.which("setpriv"):
            pytest.skip("setpriv not available to drop root's file capabilities")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cfgc_bin(), *map(str, argv)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    else:
        proc = run_cfgc(*argv)
    ro.chmod(0o755)
    assert proc.returncode == 4, proc.stderr
    assert "error: permission denied:" in proc.stderr and "ro/" in proc.stderr
    assert "bug" not in proc.stderr and "Traceback" not in proc.stderr
