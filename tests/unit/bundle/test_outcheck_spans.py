"""check_out hashes a target file whose stat it cannot trust against its entry alone (cfgc/bundle/outcheck.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgc.bundle import incremental, outcheck, outstate
from tests.unit.bundle.test_incremental import build, clean, repo, tree  # noqa: F401 - the fixture


@pytest.fixture
def untrusted_stats(monkeypatch) -> None:
    """Every file cfgc writes into OUT counts as just written: each build hashes them all again."""
    monkeypatch.setattr(outstate, "FINE_RACY_NS", 10**18)
    monkeypatch.setattr(outstate, "RACY_NS", 10**18)


def _spy(monkeypatch, module: object, name: str) -> list[object]:
    calls: list[object] = []
    real = getattr(module, name)

    def spy(*a, **k):  # noqa: ANN002, ANN003, ANN202
        done = real(*a, **k)
        calls.append(done)
        return done

    monkeypatch.setattr(module, name, spy)
    return calls


@pytest.mark.usefixtures("untrusted_stats")
def test_entries_from_spans_give_a_clean_builds_bytes(repo: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    whole = _spy(monkeypatch, outcheck, "_by_path")
    alone = _spy(monkeypatch, outcheck, "_spliced_entry")
    runs = _spy(monkeypatch, incremental, "build_in_place")
    for i in range(3):
        (repo / "svc/dev/s2.yaml").write_text(f"id: {200 + i}\n")
        build(repo, out, cache)
        assert tree(out) == clean(repo, tmp_path / "clean")
    assert all(r is not None for r in runs) and len(runs) == 3
    assert alone and all(e is not None for e in alone)  # every target file checked from its span
    assert whole == []  # the manifest was never parsed whole


@pytest.mark.usefixtures("untrusted_stats")
def test_a_tampered_target_file_is_caught_through_its_span(repo: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    (repo / "svc/prod/s3.yaml").write_text("id: 303\n")
    build(repo, out, cache)  # in place: OUT's target files are now hashed on every build
    victim = next((out / "targets").rglob("*.json"))
    data = victim.read_bytes()
    victim.write_bytes(data.replace(b"1", b"7") if b"1" in data else data.replace(b"0", b"9"))
    assert victim.read_bytes() != data
    runs = _spy(monkeypatch, incremental, "build_in_place")
    build(repo, out, cache)
    assert runs == [None]  # OUT is not what cfgc wrote: built whole
    assert tree(out) == clean(repo, tmp_path / "clean")
