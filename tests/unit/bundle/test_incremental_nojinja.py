"""An in-place rebuild of one service file whose base file holds a Jinja2 filter renders it from the
results the last build kept (cfgc.compile.template_kept; a full build's workers hand theirs back):
no Jinja2, the same bundle; a changed value the template reads is rendered by Jinja2 again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import cfgc
from tests.unit.bundle.test_incremental import clean, tree
from tests.unit.bundle.test_incremental_noyaml import SERVICE, example, fresh_kept  # noqa: F401 - fixtures

CODE = (
    "import sys, cfgc; r = cfgc.build_bundle(sys.argv[1], sys.argv[2], cache=sys.argv[3], jobs=1); "
    "print(r.unchanged, 'jinja2' in sys.modules)"
)


def rebuild(repo: Path, out: Path, cache: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(cfgc.__file__).parents[1]), "CFGC_JOBS": "1"}
    done = subprocess.run([sys.executable, "-c", CODE, str(repo), str(out), str(cache)],
                          capture_output=True, text=True, env=env, check=True)
    return done.stdout.split()


def test_a_changed_service_file_is_rebuilt_without_jinja2(example: Path, tmp_path: Path) -> None:  # noqa: F811
    out, cache = tmp_path / "out", tmp_path / "cache"
    base = example / "base/10-service.yaml"
    assert "| round" in base.read_text()  # a template only Jinja2 renders
    cfgc.build_bundle(example, out, cache=cache, jobs=1)
    seen = []
    for v in (1, 2, 3):  # the first in-place build renders with Jinja2 and keeps the result
        with open(example / SERVICE, "a") as f:
            f.write(f"marker_{v}: {v}\n")
        seen.append(rebuild(example, out, cache))
        assert tree(out) == clean(example, tmp_path / "clean")
    # The full build recorded its renders too: not even the first in-place build imports Jinja2.
    assert seen == [["False", "False"], ["False", "False"], ["False", "False"]]
    with open(example / SERVICE, "a") as f:  # a value the template reads: rendered again, by Jinja2
        f.write("budget:\n  monthly_usd: 1234\n")
    assert rebuild(example, out, cache) == ["False", "True"]
    assert tree(out) == clean(example, tmp_path / "clean")


def test_forked_workers_hand_their_renders_back(example: Path, tmp_path: Path) -> None:  # noqa: F811
    out, cache = tmp_path / "out", tmp_path / "cache"
    # Every target on forked workers: this process renders nothing itself.
    with mock.patch("cfgc.base.parallel.PARALLEL_MIN_TARGETS", 2), mock.patch("cfgc.bundle.pipeline.CHUNK", 1):
        cfgc.build_bundle(example, out, cache=cache, jobs=2)
    with open(example / SERVICE, "a") as f:
        f.write("marker: 1\n")
    assert rebuild(example, out, cache) == ["False", "False"]
    assert tree(out) == clean(example, tmp_path / "clean")
