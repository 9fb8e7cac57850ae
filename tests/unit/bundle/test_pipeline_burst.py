"""A worker writes a chunk's target files after the chunk's compiles (one burst), and
what it writes is what it compiled: the bundle files, the cache's blobs and the records agree."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cfgc.bundle import pipeline, pipeline_workers
from cfgc.bundle.cache import BuildCache
from cfgc.bundle.folder_writer import FolderWriter
from cfgc.bundle.layout import open_staging, target_path
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource
from tests.unit.bundle.test_pipeline import many  # noqa: F401 - a fixture


def _logged(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The order of compiles ("c") and file writes ("w") from now on."""
    events: list[str] = []
    compile_, write = Compiler.try_compile, FolderWriter.write

    def logged_compile(self: Compiler, spec):  # type: ignore[no-untyped-def]
        events.append("c")
        return compile_(self, spec)

    def logged_write(self: FolderWriter, rel: str, data: bytes, mode: int = 0o644) -> str:
        events.append("w")
        return write(self, rel, data, mode)

    monkeypatch.setattr(Compiler, "try_compile", logged_compile)
    monkeypatch.setattr(FolderWriter, "write", logged_write)
    return events


@pytest.mark.parametrize("cached", [False, True])
def test_a_chunk_is_written_after_its_compiles(
    many: Path, tmp_path: Path, cached: bool, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    events = _logged(monkeypatch)
    cache = BuildCache(tmp_path / "cache") if cached else None
    result = pipeline.run(Compiler(DirSource(many)), staging=open_staging(tmp_path / "out"), cache=cache, jobs=1)
    assert result.ok and len(result.outputs) == 520
    # One run of compiles, then one run of writes, per chunk.
    runs = "".join(events).replace("cw", "c|w").replace("wc", "w|c").split("|")
    chunks = -(-520 // pipeline.CHUNK)
    assert runs == ["c" * len(r) if r[0] == "c" else "w" * len(r) for r in runs]
    assert len(runs) == 2 * chunks and sum(len(r) for r in runs[1::2]) == 520


@pytest.mark.parametrize(("staged", "cached"), [(True, False), (True, True), (False, True)])
def test_what_a_chunk_writes_is_what_it_compiled(
    many: Path, tmp_path: Path, staged: bool, cached: bool  # noqa: F811
) -> None:
    compiler = Compiler(DirSource(many))
    todo = [(spec, None) for spec in compiler.selected(None)][:150]
    for spec, _ in todo:  # a target that fails in the middle of the chunk is neither written nor stored
        if spec.name.endswith("s005"):
            (many / spec.layers[-1]).write_text("id: [unclosed\n")
            failed = spec.name
    staging = open_staging(tmp_path / "out") if staged else None
    cache = BuildCache(tmp_path / "cache") if cached else None
    key = "k" * 64 if cached else None
    records, diags, _, keys = pipeline_workers.compile_chunk(
        compiler, staging, cache, [(s, key) for s, _ in todo], list(range(len(todo)))
    )
    assert diags and all(failed in d.targets for d in diags)
    assert len(records) == len(todo) - 1 and keys == [key] * len(records)
    for i, digest, size, _, _ in records:
        name = todo[i][0].name
        if staging is not None:
            data = (staging / target_path(name)).read_bytes()
            assert "sha256:" + hashlib.sha256(data).hexdigest() == digest and len(data) == size
        if cache is not None:
            blob = cache.blobs / digest.removeprefix("sha256:")
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest.removeprefix("sha256:")
    if staging is not None:
        assert not (staging / target_path(failed)).exists()
        written = sorted(p for p in staging.rglob("*.json"))
        assert len(written) == len(records)


@pytest.mark.parametrize("jobs", [1, 2])
def test_prefetching_a_chunk_changes_no_byte_and_no_finding(
    make_repo, tmp_path: Path, jobs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.repos import GRID_CONFIG

    files = {"base/a.yaml": "x: 1\n", "envs/dev.yaml": "y: 2\n", "schemas/s.json": "{}"}
    for i in range(150):
        files[f"svc/dev/s{i:03}.yaml"] = f"id: {i}\nname: s{i}\n"
    files["svc/dev/s040.yaml"] = "id: 40\n  bad: [\n"  # a parse error, in the middle of a chunk
    files["svc/dev/s100.yaml"] = "id: !nope 100\n"
    root = make_repo(files, config=GRID_CONFIG)
    fetched: list[int] = []
    prefetch = DirSource.prefetch

    def counted(self: DirSource, paths) -> list[str]:  # type: ignore[no-untyped-def]
        paths = list(paths)
        fetched.append(len(paths))
        return prefetch(self, paths)

    def run() -> tuple[list[str], dict[str, bytes]]:
        out = tmp_path / f"out{len(fetched)}-{jobs}"
        result = pipeline.run(Compiler(DirSource(root)), staging=open_staging(out), jobs=jobs)
        staging = next(out.parent.glob(f".{out.name}.tmp-*"))
        return ([f"{d.location}: {d.message}" for d in result.diagnostics],
                {str(p.relative_to(staging)): p.read_bytes() for p in sorted(staging.rglob("*.json"))})

    monkeypatch.setattr(DirSource, "prefetch", lambda self, paths: [])
    without = run()
    monkeypatch.setattr(DirSource, "prefetch", counted)
    with_prefetch = run()
    assert with_prefetch == without
    assert len(without[0]) == 2 and any("svc/dev/s040.yaml:2:" in d for d in without[0])
    assert len(without[1]) == 148
    if jobs == 1:  # the workers' counts stay in the workers
        assert sum(fetched) == 150


def test_files_prefetched_for_targets_that_failed_first_are_not_held(make_repo) -> None:
    from tests.fixtures.repos import GRID_CONFIG

    files = {"base/a.yaml": "x: 1\n", "envs/dev.yaml": "y: [unclosed\n", "schemas/s.json": "{}"}
    for i in range(100):
        files[f"svc/dev/s{i:03}.yaml"] = f"id: {i}\n"
    source = DirSource(make_repo(files, config=GRID_CONFIG))
    result = pipeline.run(Compiler(source), jobs=1)  # every target fails at the shared layer
    assert not result.ok and not result.outputs
    assert source._kept == {} and source._kept_bytes == 0


def test_large_targets_are_written_as_the_burst_bound_is_passed(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    # Past BURST_MAX_BYTES held, a worker writes what it holds before compiling on:
    # a chunk of megabyte targets is never held at once.  The bundle is the same.
    one, two = open_staging(tmp_path / "whole"), open_staging(tmp_path / "bounded")
    whole = pipeline.run(Compiler(DirSource(many)), staging=one, jobs=1)
    monkeypatch.setattr(pipeline_workers, "BURST_MAX_BYTES", 1)  # every target passes it
    events = _logged(monkeypatch)
    bounded = pipeline.run(Compiler(DirSource(many)), staging=two, jobs=1)
    assert "".join(events) == "cw" * 520  # each target written before the next compile
    assert [(o.name, o.digest) for o in bounded.outputs] == [(o.name, o.digest) for o in whole.outputs]
    for o in whole.outputs:
        rel = target_path(o.name)
        assert (two / rel).read_bytes() == (one / rel).read_bytes()
