"""A shared layer saved while a cold check runs must not leave an entry kept
under a key that names bytes its compile never parsed (the next, warm check
would serve it and miss the new file's findings)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource
from cfgc.review.checks import run_checks


def _small_repo(root: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
    try:
        import corpus
    finally:
        sys.path.pop(0)
    corpus.generate(root, 2, 2, 6, seed=5)
    return root


def _flagged(result: Any, layer: str) -> set[str]:
    return {t for d in result.diagnostics if d.severity == "error" and d.location is not None
            and d.location.path == layer for t in (d.targets or ())}


def test_a_layer_saved_after_the_first_compile_is_not_hidden_by_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _small_repo(tmp_path / "repo")
    layer = repo / "envs" / "dev.yaml"
    real = Compiler.try_compile
    calls: list[str] = []

    def saving_midway(self: Compiler, spec: Any) -> Any:
        out = real(self, spec)
        calls.append(spec.name)
        if len(calls) == 1:
            layer.write_text(layer.read_text() + "\nbroken: [unclosed\n")
        return out

    monkeypatch.setattr(Compiler, "try_compile", saving_midway)
    run_checks(DirSource(repo), cache=tmp_path / "cache", jobs=1)
    monkeypatch.setattr(Compiler, "try_compile", real)
    warm = run_checks(DirSource(repo), cache=tmp_path / "cache", jobs=1)
    fresh = run_checks(DirSource(repo), cache=False, jobs=1)
    assert _flagged(fresh, "envs/dev.yaml")  # the saved file is broken for every dev target
    assert _flagged(warm, "envs/dev.yaml") == _flagged(fresh, "envs/dev.yaml")
