"""cfgc.bundle.build: the collector is paused while the parent lists targets and
assembles the manifest (no cycles, one object per target), and is on during
the compile and after the build."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from cfgc.base.errors import InputError
from cfgc.bundle import build, pipeline
from cfgc.bundle.build import build_bundle
from cfgc.repo.sources import DirSource
from tests.fixtures.repos import GRID_CONFIG


@pytest.fixture
def repo(make_repo) -> Path:
    files = {"base/a.yaml": "limits: {rpm: 10}\n", "envs/dev.yaml": "x: 1\n",
             "schemas/s.json": json.dumps({"type": "object"})}
    for i in range(3):
        files[f"svc/dev/s{i}.yaml"] = f"id: {i}\n"
    return make_repo(files, config=GRID_CONFIG)


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_collector_off_for_listing_and_manifest_on_for_the_compile(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, bool] = {}

    def spy(name, fn):
        def wrapped(*args, **kwargs):
            seen.setdefault(name, gc.isenabled())
            return fn(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(build, "assemble", spy("assemble", build.assemble))
    monkeypatch.setattr(build, "finish_staging", spy("finish", build.finish_staging))
    monkeypatch.setattr(build, "refuse_own_files", spy("refuse", build.refuse_own_files))
    monkeypatch.setattr(pipeline, "compile_chunk", spy("compile", pipeline.compile_chunk))
    from cfgc.repo import hierarchy

    monkeypatch.setattr(hierarchy.Hierarchy, "listing", spy("listing", hierarchy.Hierarchy.listing))
    outcome = build_bundle(DirSource(repo), tmp_path / "out", jobs=1)
    assert outcome.written
    assert seen == {"listing": False, "refuse": True, "compile": True, "assemble": False, "finish": False}
    assert gc.isenabled()


def test_a_failed_listing_leaves_the_collector_on(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"base/a.yaml": "a: 1\n", "envs/dev.yaml": "x: 1\n", "svc/dev/s*.yaml": "a: 1\n",
                      "schemas/s.json": "{}"}, config=GRID_CONFIG)
    with pytest.raises(InputError, match="variable"):
        build_bundle(DirSource(repo), tmp_path / "out", jobs=1)
    assert gc.isenabled()


@pytest.mark.parametrize("forked", [True, False])
def test_the_parent_gathers_worker_records_with_its_collector_paused(
    forked: bool, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With workers the parent only gathers records (no cycles); compiling here, it collects.
    from cfgc.base import parallel

    monkeypatch.setattr(pipeline, "parallel", lambda items, jobs=None: forked)
    monkeypatch.setattr(pipeline, "CHUNK", 1)  # chunks enough for two workers
    monkeypatch.setattr(parallel, "parallel", lambda items, jobs=None: False)  # run the chunks here
    seen: list[bool] = []
    real = pipeline.compile_chunk

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "compile_chunk", spy)
    assert build_bundle(DirSource(repo), tmp_path / "out", jobs=2).written
    assert seen and set(seen) == {not forked}
    assert gc.isenabled()


def test_a_forked_build_writes_the_same_bundle_as_one_process(make_repo, tmp_path: Path) -> None:
    from cfgc.base import parallel

    if not parallel.can_fork():
        pytest.skip("needs fork workers")
    files = {"base/a.yaml": "limits: {rpm: 10}\n", "envs/dev.yaml": "x: 1\n", "envs/prod.yaml": "x: 2\n",
             "schemas/s.json": json.dumps({"type": "object"})}
    for env in ("dev", "prod"):
        for i in range(parallel.PARALLEL_MIN_TARGETS // 2 + 10):
            files[f"svc/{env}/s{i:04d}.yaml"] = f"id: {i}\nname: s{i}-{env}\n"
    repo = make_repo(files, config=GRID_CONFIG)
    one = build_bundle(DirSource(repo), tmp_path / "one", jobs=1)
    two = build_bundle(DirSource(repo), tmp_path / "two", jobs=2)
    assert one.digest == two.digest and one.digest is not None
    assert gc.isenabled()


def test_the_pause_and_the_fork_count_the_cores_once(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A core count that drops between the pause's decision and the fork's (taskset on a
    # running build) must not leave this process compiling with its collector off.
    from cfgc.base import parallel

    if not parallel.can_fork():
        pytest.skip("needs fork workers")
    answers = iter([2])
    monkeypatch.setattr(parallel, "cores", lambda: next(answers, 1))
    monkeypatch.setattr(pipeline, "cores", parallel.cores, raising=False)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_TARGETS", 1)
    log = tmp_path / "compiles"  # appended to by whichever process compiles
    real = pipeline.compile_chunk

    def spy(*args, **kwargs):
        with open(log, "a") as f:
            f.write("on\n" if gc.isenabled() else "off\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "compile_chunk", spy)
    assert build_bundle(DirSource(repo), tmp_path / "out").written
    assert set(log.read_text().split()) == {"on"}
