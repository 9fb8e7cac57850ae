"""What ``cfgc build`` leaves unimported when it rebuilds one service file of the example repo
in place: each module here was once imported on that path and cost start-up time
(docs/performance.md, "Rebuilding into the same `--out`").  A module that comes back fails
this test; the bundle must still equal a clean build's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cfgc
from tests.unit.bundle.test_incremental import clean, tree
from tests.unit.bundle.test_incremental_noyaml import fresh_kept

__all__ = ["fresh_kept"]  # the fixture: this process's kept values start empty

ROOT = Path(__file__).resolve().parents[3]
SERVICE = "tenants/acme/dev/services/chat.yaml"
# The results of the commands a build does not run; tempfile (and random) for the build
# cache's index, which a one-target update does not write; the age key source, for a
# .sops.yaml rule whose recipients need only their spelling checked; Jinja2, for templates
# whose results the state kept; subprocess, for git processes a tree outside any
# repository does not start (gitinfo.may_be_repo).
LEFT_OUT = ("cfgc.api._results", "tempfile", "cfgc.secrets.keysources.age", "cfgc.secrets.keysources", "jinja2",
            "subprocess")
CODE = (
    "import runpy, sys\n"
    "before = set(sys.modules)  # the interpreter's own start-up (site's .pth files) is not cfgc's\n"
    "sys.argv = ['cfgc', 'build', '--repo', sys.argv[1], '--out', sys.argv[2], '--cache-dir', sys.argv[3]]\n"
    "try:\n"
    "    runpy.run_module('cfgc', run_name='__main__')\n"
    "finally:\n"
    f"    print(*[m for m in {LEFT_OUT!r} if m in sys.modules and m not in before], file=sys.stderr)\n"
)


def test_a_one_service_rebuild_imports_none_of_the_left_out_modules(tmp_path: Path) -> None:
    repo, out, cache = tmp_path / "repo", tmp_path / "out", tmp_path / "cache"
    shutil.copytree(ROOT / "examples/repo", repo, ignore=shutil.ignore_patterns("test-keys-DO-NOT-USE"))
    cfgc.build_bundle(repo, out, cache=cache, jobs=1)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
           "PYTHONPATH": str(Path(cfgc.__file__).parents[1]), "CFGC_JOBS": "1"}
    folder = out.stat().st_ino  # a full build swaps a new folder in; an in-place one keeps OUT
    # The full build's workers hand their template results back into the state, so
    # from the first in-place build on, none of LEFT_OUT is imported (Jinja2 among
    # them: it imports tempfile for its bytecode cache).  Under this machine's own
    # python3, site start-up imports tempfile first: a plain venv shows more.
    for v in (0, 1, 2):
        with open(repo / SERVICE, "a") as f:
            f.write(f"marker_{v}: {v}\n")
        done = subprocess.run([sys.executable, "-c", CODE, str(repo), str(out), str(cache)],
                              capture_output=True, text=True, env=env, check=True)
        assert "from cache" in done.stdout and "unchanged" not in done.stdout
        assert out.stat().st_ino == folder  # rebuilt in place
        assert done.stderr.split() == []
        assert tree(out) == clean(repo, tmp_path / "clean")
