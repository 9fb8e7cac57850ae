"""A cold check keys a burst of targets ahead of their compiles (cfgc.review.check_ahead):
the same keys and entries as keying each just before its compile, within the
prefetch's byte bound, and a key always names the bytes its compile parsed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from cfgc.compile.compiler import Compiler
from cfgc.repo import sources
from cfgc.repo.sources import DirSource
from cfgc.review import check_ahead
from cfgc.review.check_cache import FILE_NAME, MAGIC, MAX_FILE_BYTES, EntryKeys
from cfgc.review.checks import run_checks
from cfgc.review.sealed import read_sealed


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
    try:
        import corpus
    finally:
        sys.path.pop(0)
    root = tmp_path / "repo"
    corpus.generate(root, 2, 2, 40, seed=7)  # 160 targets: more than one burst
    return root


def _entries(folder: Path) -> bytes:
    from cfgc.bundle.cache_index import cache_key

    return read_sealed(folder / FILE_NAME, MAGIC, cache_key(), MAX_FILE_BYTES)


def _report(result: Any) -> list[Any]:
    return [(d.severity, d.message, d.location, d.rule, d.targets) for d in result.diagnostics]


def test_a_cold_check_reads_its_own_files_a_burst_ahead(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    bursts: list[int] = []
    real = DirSource.prefetch

    def spy(self: DirSource, paths: Any) -> list[str]:
        kept = real(self, paths)
        bursts.append(len(kept))
        return kept

    monkeypatch.setattr(DirSource, "prefetch", spy)
    run_checks(DirSource(repo), cache=tmp_path / "cache", jobs=1)
    assert bursts == [64, 64, 32]  # 160 targets: every own file read ahead of its compile
    bursts.clear()
    run_checks(DirSource(repo), cache=tmp_path / "cache", jobs=1)  # warm: nothing compiled, nothing read ahead
    assert bursts == []


@pytest.mark.parametrize("bound", [None, 3000])
def test_keys_made_ahead_are_the_keys_made_one_by_one(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path, bound: int | None) -> None:
    if bound is not None:  # only the first few own files fit: the rest are keyed before their compile
        monkeypatch.setattr(sources, "PREFETCH_MAX_BYTES", bound)
    ahead = run_checks(DirSource(repo), cache=tmp_path / "ahead", jobs=1)
    with monkeypatch.context() as m:
        m.setattr(check_ahead, "key_ahead", lambda keyer, source, specs: ({}, []))
        one_by_one = run_checks(DirSource(repo), cache=tmp_path / "one", jobs=1)
    assert _report(ahead) == _report(one_by_one)
    assert _entries(tmp_path / "ahead") == _entries(tmp_path / "one")
    compiler = Compiler(DirSource(repo))
    specs = compiler.specs()
    keyer = EntryKeys(compiler, "", None)
    got = dict(check_ahead.keyed(keyer, compiler.source, specs, range(len(specs)), [None] * len(specs)))
    assert got == {i: EntryKeys(Compiler(DirSource(repo)), "", None).key(s) for i, s in enumerate(specs)}


def test_nothing_is_held_after_a_burst_whose_targets_did_not_read_their_files(repo: Path) -> None:
    compiler = Compiler(DirSource(repo))
    specs = compiler.specs()[:10]
    keyer = EntryKeys(compiler, "", None)
    source = compiler.source
    assert isinstance(source, DirSource)
    for _ in check_ahead.keyed(keyer, source, specs, range(len(specs)), [None] * len(specs)):
        pass  # no compile takes the bytes kept for it
    assert not any(s.layers[-1] in source._kept for s in specs)  # noqa: SLF001 - what the source still holds


def test_an_own_file_saved_after_its_key_is_compiled_as_keyed(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    # Every own file of the first burst is keyed before the first compile; one
    # saved then (broken) must be compiled from the bytes its key names, so the
    # entry kept under that key is right, and a warm check after it recompiles it.
    specs = Compiler(DirSource(repo)).specs()
    victim = repo / specs[5].layers[-1]
    real = Compiler.try_compile
    calls: list[str] = []

    def saving_midway(self: Compiler, spec: Any) -> Any:
        if not calls:
            victim.write_text(victim.read_text() + "\nbroken: [unclosed\n")
        calls.append(spec.name)
        return real(self, spec)

    monkeypatch.setattr(Compiler, "try_compile", saving_midway)
    cold = run_checks(DirSource(repo), cache=tmp_path / "cache", jobs=1)
    monkeypatch.setattr(Compiler, "try_compile", real)
    assert not any(d.location is not None and d.location.path == specs[5].layers[-1] and d.severity == "error"
                   for d in cold.diagnostics)  # compiled as keyed: the bytes read ahead
    warm = run_checks(DirSource(repo), cache=tmp_path / "cache", jobs=1)
    fresh = run_checks(DirSource(repo), cache=False, jobs=1)
    assert _report(warm) == _report(fresh)
    assert any(d.location is not None and d.location.path == specs[5].layers[-1] for d in fresh.diagnostics)
