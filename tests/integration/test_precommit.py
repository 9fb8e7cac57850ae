"""The pre-commit hook, run by the real ``pre-commit try-repo``.

try-repo needs the hook in a git repository: a temporary repository holds
this checkout's ``.pre-commit-hooks.yaml`` with one change, ``language:
system`` instead of ``python``, so pre-commit runs the ``cfgc`` console
script of this environment (with ``PYTHONPATH`` at this checkout) rather
than pip-installing cfgc into a virtualenv of its own, which needs the
network.  Everything else (entry, files, pass_filenames) is the real hook.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixtures.repos import ROOT, git, git_init, write_files
from tests.unit.review.report.scenario import CONFIG, FILES


def hook_repo(tmp: Path) -> Path:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["language"] for h in hooks] == ["python"]
    for h in hooks:
        h["language"] = "system"
    repo = tmp / "hooks"
    repo.mkdir()
    (repo / ".pre-commit-hooks.yaml").write_text(yaml.safe_dump(hooks))
    git_init(repo)
    return repo


def try_repo(hooks: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "pre-commit"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pre_commit"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PRE_COMMIT_HOME": str(work.parent / "pre-commit-home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([*cmd, "try-repo", str(hooks), "cfgc-check", "--verbose", *args], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.integration
@pytest.mark.parametrize("sub", ["", "config/"])
def test_hook_finds_the_config_repo_from_the_changed_files(tmp_path: Path, sub: str) -> None:
    hooks = hook_repo(tmp_path)
    work = tmp_path / "work"
    repo = work / sub
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "cfgc.yaml").write_text(CONFIG)
    write_files(repo, FILES)
    (work / "README.md").write_text("the platform\n")
    git_init(work)

    # A valid change passes; the hook ran on the staged layer.
    write_files(repo, {"envs/prod.yaml": "limits:\n  rpm: 2500\n"})
    git(work, "add", "-A")
    r = try_repo(hooks, work)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cfgc check" in r.stdout and "Passed" in r.stdout
    assert "ok: 3 targets pass every check" in r.stdout

    # A broken layer fails, with the file:line of the break (relative to the config repo).
    (repo / "envs/prod.yaml").write_text("limits:\n  rpm: [3000\n")
    git(work, "add", "-A")
    r = try_repo(hooks, work)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Failed" in r.stdout and re.search(r"^envs/prod\.yaml:\d+:\d+: error: invalid YAML", r.stdout, re.M)

    # A YAML file outside any config repo is not a cfgc file: nothing to check.
    git(work, "checkout", "-q", "--", ".")
    git(work, "reset", "-q", "--hard")
    (work / ".github").mkdir()
    (work / ".github/other.yml").write_text("x: [1\n")
    git(work, "add", "-A")
    r = try_repo(hooks, work)
    if sub:
        assert r.returncode == 0 and "none of the 1 files is inside a config repo" in r.stdout, r.stdout
    else:
        # At the root every YAML file belongs to the config repo; this one is
        # not a layer of any target, so the check still passes.
        assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.integration
def test_hook_with_repo_args_and_without_files(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    (work / "config/cfgc.yaml").write_text(CONFIG)
    write_files(work / "config", FILES)
    git_init(work)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cfgc = [sys.executable, "-c", "from cfgc.cli.main import main; main()", "check"]
    # No files and no cfgc.yaml above the cwd: exit 2, and the message says what to add.
    r = subprocess.run(cfgc, cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "args: [--repo, DIR]" in r.stderr and "config" in r.stderr, r.stderr
    r = subprocess.run([*cfgc, "--repo", "config", "README.md"], cwd=work, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "targets pass every check" in r.stdout, r.stdout + r.stderr
