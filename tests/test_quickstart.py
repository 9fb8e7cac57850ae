"""The README's Quick start stays true: its first command, run twice in a row.

The command is read from the README, so editing one without the other fails
here.  The ``pip install -e .`` step is left to scripts/quickstart_check.sh
(a fresh clone in a new virtualenv, run by CI); this test runs the rest with
the cfgc under test, in a copy of the example repo.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.fixtures.repos import cfgc_bin

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [" ".join(line.strip() for line in b.strip().splitlines()) for b in blocks]


def test_the_readme_has_the_two_commands_ci_runs() -> None:
    cmds = quickstart_commands()
    assert len(cmds) == 2
    assert cmds[1] == "bash scripts/test.sh"
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_the_main_job_runs_twice_from_a_fresh_copy(tmp_path: Path) -> None:
    cmd = quickstart_commands()[0]
    assert cmd.startswith("pip install -e . && ")
    cmd = cmd.removeprefix("pip install -e . && ")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "cfgc"
    shim.write_text("#!/bin/sh\nexec " + " ".join(f"'{a}'" for a in cfgc_bin()) + ' "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    for run in (1, 2):
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", cmd], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"run {run}:\n{proc.stdout}\n{proc.stderr}"
        assert "prod" in proc.stdout, proc.stdout
    assert (tmp_path / "build" / "bundle" / "manifest.json").is_file()
    assert not (tmp_path / "examples" / "repo" / "build").exists()
