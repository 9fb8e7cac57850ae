"""docs/api.md's example test file passes, run the way a platform team runs it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tests" / "test_platform_config.py"


def test_the_platform_config_example_passes(tmp_path: Path) -> None:
    # Its own pytest process, outside this suite's fixtures and conftest, as in a config repo's CI.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLE), "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(tmp_path), "-o", "addopts="],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    assert str(EXAMPLE.relative_to(ROOT)) in (ROOT / "docs" / "api.md").read_text()
