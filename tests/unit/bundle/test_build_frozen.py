"""cfgc.bundle.build: the listing and the gathered outputs are kept out of the
collector's generations for the build (gc.freeze inside a frozen_scope), and
nothing stays frozen once it returns, whatever way it ends."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from cfgc.base import parallel
from cfgc.base.gc_phases import frozen_scope
from cfgc.bundle import build, pipeline
from cfgc.bundle.build import build_bundle
from cfgc.repo.sources import DirSource
from tests.fixtures.repos import GRID_CONFIG


@pytest.fixture
def repo(make_repo) -> Path:
    files = {"base/a.yaml": "limits: {rpm: 10}\n", "envs/dev.yaml": "x: 1\n",
             "schemas/s.json": json.dumps({"type": "object"})}
    for i in range(6):
        files[f"svc/dev/s{i}.yaml"] = f"id: {i}\n"
    return make_repo(files, config=GRID_CONFIG)


@pytest.fixture(autouse=True)
def _nothing_frozen():
    if gc.get_freeze_count():
        pytest.skip("objects were frozen before this test: a frozen scope would not be its own")
    yield
    assert gc.get_freeze_count() == 0


def _spy_frozen(monkeypatch: pytest.MonkeyPatch, module: object, name: str, seen: dict[str, int]) -> None:
    real = getattr(module, name)

    def wrapped(*args, **kwargs):
        seen.setdefault(name, gc.get_freeze_count())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_listing_is_frozen_before_the_compile_and_released_after_the_build(
    jobs: int, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if jobs > 1 and not parallel.can_fork():
        pytest.skip("needs fork workers")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_TARGETS", 1)
    monkeypatch.setattr(pipeline, "CHUNK", 2)  # chunks enough for two workers
    seen: dict[str, int] = {}
    _spy_frozen(monkeypatch, build, "refuse_own_files", seen)
    _spy_frozen(monkeypatch, pipeline, "sops_file_findings", seen)  # after the outputs are gathered
    _spy_frozen(monkeypatch, build, "swap_into", seen)  # after the manifest
    assert build_bundle(DirSource(repo), tmp_path / "out", jobs=jobs).written
    assert seen["refuse_own_files"] > 0
    assert seen["sops_file_findings"] >= seen["refuse_own_files"]
    assert seen["swap_into"] >= seen["sops_file_findings"]


def test_a_failed_build_leaves_nothing_frozen(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"base/a.yaml": "a: [\n", "envs/dev.yaml": "x: 1\n", "svc/dev/s1.yaml": "a: 1\n",
                      "schemas/s.json": "{}"}, config=GRID_CONFIG)
    assert not build_bundle(DirSource(repo), tmp_path / "out", jobs=1).written


def test_a_freeze_made_before_the_fork_is_left_to_its_scope() -> None:
    # imap_chunks freezes what exists at the fork; unfreezing at its end handed a
    # caller's frozen listing back to the collector, which then walked it again.
    if not parallel.can_fork():
        pytest.skip("needs fork workers")
    held = [[i] for i in range(1000)]
    with frozen_scope() as freeze:
        freeze()
        frozen = gc.get_freeze_count()
        assert list(parallel.imap_chunks(len, [[1]] * 4, jobs=2)) == [1] * 4
        assert gc.get_freeze_count() >= frozen
    assert gc.get_freeze_count() == 0 and held
