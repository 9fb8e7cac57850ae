"""Cache keys: each layer file is read once per build, the stat memo never hides a
change, and a blob changed in place (stat made to look the same) is not used."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from cfgc.base import repopath
from cfgc.bundle import cache_digests as cache_mod
from cfgc.bundle import pipeline
from cfgc.bundle.cache import BuildCache
from cfgc.bundle.layout import assemble, commit_staging, open_staging
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource

CONFIG = """\
version: 1
hierarchy:
  - base/*.yaml
  - svc/{service}.yaml
targets: "{service}"
"""


@pytest.fixture
def repo(make_repo) -> Path:
    files = {"base/a.yaml": "tier: gold\nlimits: {rpm: 10}\n"}
    for i in range(12):
        files[f"svc/s{i:02}.yaml"] = f"id: {i}\nmodel: m-{i:02}\n"
    return make_repo(files, config=CONFIG)


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files just written count as settled, so the stat memo is used (as for files minutes old)."""
    monkeypatch.setattr(cache_mod, "RACY_NS", -60_000_000_000)


@pytest.fixture
def disk_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each repo file is read from disk."""
    counts: Counter[str] = Counter()
    real = repopath.Tree.read_stat

    def spy(self: repopath.Tree, rel: str):  # type: ignore[no-untyped-def]
        counts[rel] += 1
        return real(self, rel)

    monkeypatch.setattr(repopath.Tree, "read_stat", spy)
    return counts


def build(root: Path, out: Path, cache: BuildCache | None) -> tuple[pipeline.PipelineResult, bytes]:
    compiler = Compiler(DirSource(root))
    staging = open_staging(out)
    result = pipeline.run(compiler, staging=staging, cache=cache, jobs=1)
    assert result.ok, result.diagnostics
    manifest, files = assemble(result.outputs, result.prompts, compiler.schema_entries(),
                               DirSource(root).info(), result.secret_files)
    commit_staging(staging, out, manifest, files)
    return result, (out / "manifest.json").read_bytes()


def tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_a_cold_fill_reads_each_layer_file_once(repo: Path, tmp_path: Path, disk_reads: Counter[str]) -> None:
    build(repo, tmp_path / "a", BuildCache(tmp_path / "cache"))
    layers = {p: n for p, n in disk_reads.items() if p.startswith(("svc/", "base/"))}
    assert len(layers) == 13
    assert set(layers.values()) == {1}, layers  # hashed for the key, compiled from the same bytes


def test_warm_and_cold_give_the_no_cache_bundle(repo: Path, tmp_path: Path, settled: None) -> None:
    _, plain = build(repo, tmp_path / "plain", None)
    cold, m_cold = build(repo, tmp_path / "cold", BuildCache(tmp_path / "cache"))
    warm, m_warm = build(repo, tmp_path / "warm", BuildCache(tmp_path / "cache"))
    assert (cold.cache_hits, warm.cache_hits) == (0, 12)
    assert plain == m_cold == m_warm
    assert tree(tmp_path / "plain") == tree(tmp_path / "cold") == tree(tmp_path / "warm")


def test_a_rewrite_with_the_same_size_and_mtime_is_seen(
    repo: Path, tmp_path: Path, settled: None, disk_reads: Counter[str]
) -> None:
    build(repo, tmp_path / "a", BuildCache(tmp_path / "cache"))
    svc = repo / "svc/s03.yaml"
    before = os.stat(svc)
    svc.write_text(svc.read_text().replace("m-03", "x-03"))  # same size
    os.utime(svc, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime: only ctime tells
    after = os.stat(svc)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    disk_reads.clear()
    warm, _ = build(repo, tmp_path / "b", BuildCache(tmp_path / "cache"))
    assert json.loads((tmp_path / "b/targets/s03.json").read_bytes())["model"] == "x-03"
    assert warm.cache_hits == 11
    # The memo did serve the files that did not change: they were not read at all.
    assert disk_reads["svc/s04.yaml"] == 0 and disk_reads["svc/s03.yaml"] == 1


def test_a_racy_file_is_never_remembered_by_stat(repo: Path, tmp_path: Path, disk_reads: Counter[str]) -> None:
    # Without the settled fixture every file here is younger than RACY_NS.
    build(repo, tmp_path / "a", BuildCache(tmp_path / "cache"))
    disk_reads.clear()
    build(repo, tmp_path / "b", BuildCache(tmp_path / "cache"))
    assert disk_reads["svc/s04.yaml"] == 1  # hashed again: its stat could still hide a change


def test_a_blob_changed_in_place_with_its_stat_restored_is_not_used(
    repo: Path, tmp_path: Path, settled: None
) -> None:
    warnings: list[str] = []
    _, m_cold = build(repo, tmp_path / "a", BuildCache(tmp_path / "cache"))
    blobs = sorted(p for p in (tmp_path / "cache/blobs").iterdir() if not p.name.startswith("."))
    for blob in blobs:
        st = os.stat(blob)
        data = bytearray(blob.read_bytes())
        data[data.index(b"gold")] = ord("G")  # same size, still valid JSON
        blob.chmod(0o644)
        with open(blob, "r+b") as f:  # the same inode, written in place
            f.write(bytes(data))
        blob.chmod(0o444)
        os.utime(blob, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert os.stat(blob).st_ino == st.st_ino
    r, m_warm = build(repo, tmp_path / "b", BuildCache(tmp_path / "cache", warn=warnings.append))
    assert r.cache_hits == 0 and m_warm == m_cold
    assert b"Gold" not in b"".join(tree(tmp_path / "b").values())
    assert len(warnings) == 1 and "corrupt" in warnings[0]


def test_a_target_built_under_a_raised_limit_is_not_served_under_a_lower_one(
    make_repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2,000 characters of template output: over a ceiling of 1,000, under the default.
    root = make_repo({"base/a.yaml": "tier: gold\n", "svc/s.yaml": "text: \"{{ 'x' * 2000 }}\"\n"}, config=CONFIG)
    monkeypatch.setenv("CFGC_LIMITS", "template_output_chars=1000")
    cache = tmp_path / "cache"
    low = pipeline.run(Compiler(DirSource(root)), cache=BuildCache(cache), jobs=1)
    assert not low.ok
    monkeypatch.delenv("CFGC_LIMITS")
    default = pipeline.run(Compiler(DirSource(root)), cache=BuildCache(cache), jobs=1)
    assert default.ok and default.cache_hits == 0
    monkeypatch.setenv("CFGC_LIMITS", "template_output_chars=1000")
    again = pipeline.run(Compiler(DirSource(root)), cache=BuildCache(cache), jobs=1)
    assert again.cache_hits == 0 and not again.ok  # the cached target does not fit this ceiling
