"""The serial start of a full build: a first build into a missing OUT makes no in-place
attempt (nor imports its modules), and the in-place state's modules are imported while the
workers compile (``pipeline.run``'s ``meanwhile``), not before they fork."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cfgc.api import _repo
from cfgc.base.parallel import can_fork
from cfgc.bundle import pipeline
from cfgc.bundle.layout import open_staging
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource
from tests.unit.bundle.test_pipeline import many  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[3]
TAIL = ("cfgc.bundle.outrecord", "cfgc.bundle.outscan", "cfgc.bundle.outstate", "cfgc.bundle.outpatch")
IN_PLACE = ("cfgc.bundle.incremental", "cfgc.bundle.inplace")

_PROBE = """
import json, sys
from cfgc.base import forkpool
seen = {}
imap = forkpool.imap
def probe(*a, **k):
    seen["fork"] = sorted(m for m in sys.modules if m.startswith("cfgc."))
    yield from imap(*a, **k)
forkpool.imap = probe
from cfgc import api
done = api.build_bundle(sys.argv[1], sys.argv[2], cache=sys.argv[3], jobs=2)
seen["end"] = sorted(m for m in sys.modules if m.startswith("cfgc."))
seen["digest"] = done.digest
print(json.dumps(seen))
"""


def _probe(repo: Path, out: Path, cache: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(repo), str(out), str(cache)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


@pytest.mark.skipif(not can_fork(), reason="no fork on this platform")
def test_a_first_build_imports_the_state_s_modules_only_while_the_workers_compile(
    many: Path, tmp_path: Path  # noqa: F811
) -> None:
    first = _probe(many, tmp_path / "out", tmp_path / "cache")
    fork, end = set(first["fork"]), set(first["end"])  # type: ignore[call-overload]
    assert not fork & {*TAIL, *IN_PLACE}, "imported before the workers forked"
    assert set(TAIL) <= end and not end & set(IN_PLACE)
    # The next build into the same OUT still goes in place, to the same bundle.
    again = _probe(many, tmp_path / "out", tmp_path / "cache")
    assert set(IN_PLACE) <= set(again["end"])  # type: ignore[call-overload]
    assert again["digest"] == first["digest"]


def test_nothing_in_place_only_without_out_and_without_an_interrupted_update(tmp_path: Path) -> None:
    out = tmp_path / "b" / "out"
    assert _repo._nothing_in_place(out)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / ".out.commit").mkdir()  # an update the journal may roll forward
    assert not _repo._nothing_in_place(out)
    (tmp_path / "b" / ".out.commit").rmdir()
    out.mkdir()
    assert not _repo._nothing_in_place(out)
    out.rmdir()
    out.symlink_to(tmp_path / "nowhere")  # a dangling link names the missing target, as resolve() does
    assert _repo._nothing_in_place(out)


@pytest.mark.parametrize("jobs", [1, 2])
def test_meanwhile_runs_once_after_the_first_chunk(many: Path, tmp_path: Path, jobs: int) -> None:  # noqa: F811
    compiler = Compiler(DirSource(many))
    calls: list[int] = []
    gathered: list[int] = []

    def progress(done: int, total: int) -> None:
        gathered.append(done)

    result = pipeline.run(compiler, staging=open_staging(tmp_path / "out"), jobs=jobs, progress=progress,
                          meanwhile=lambda: calls.append(gathered[-1]))
    assert result.ok and len(result.outputs) == 520
    assert len(calls) == 1 and 0 < calls[0] < 520  # after the first chunk, before the last


def test_meanwhile_is_not_called_without_work(many: Path, tmp_path: Path) -> None:  # noqa: F811
    compiler = Compiler(DirSource(many))
    calls: list[int] = []
    result = pipeline.run(compiler, staging=open_staging(tmp_path / "out"), specs=[], meanwhile=lambda: calls.append(1))
    assert result.outputs == () and calls == []
