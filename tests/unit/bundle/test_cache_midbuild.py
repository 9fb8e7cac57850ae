"""A layer file saved during a build: no entry is kept under a key naming other
bytes than its compile parsed (the next build, with the file back as it was,
would serve the wrong target).  Two ways a compile reads a file again after its
key was made: a file known by its stat stamp (not read for the key), and a file
past DirSource.keep's bound."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cfgc.bundle import pipeline, target_keys
from cfgc.bundle.cache import BuildCache
from cfgc.compile.compiler import Compiler
from cfgc.repo import sources
from cfgc.repo.sources import DirSource
from tests.unit.bundle.test_pipeline import build, many  # noqa: F401

V1 = "id: 0\nm: {$extends: limits, extra: 0}\n"
V2 = "id: 999\nm: {$extends: limits, extra: 0}\n"


def _settled(root: Path) -> BuildCache:
    cache = BuildCache(root)
    cache.digests._racy = time.time_ns() + 10**12  # files count as settled (as after 2 s)
    return cache


@pytest.mark.parametrize("jobs", [1, 2])
def test_stat_hit_then_rewrite(many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:  # noqa: F811
    f = many / "svc/dev/s000.yaml"
    build(many, tmp_path / "o0", cache=_settled(tmp_path / "c"), jobs=jobs)  # fill: s000 remembered by stat
    (many / "envs/dev.yaml").write_text("limits: {rpm: 21}\n")  # every dev target misses next time
    real = Compiler.try_compile

    def racing(self: Compiler, spec: Any) -> Any:  # an editor saves s000 after the keys were made
        if spec.name == "dev/s000" and f.read_text() == V1:
            f.write_text(V2)
        return real(self, spec)

    monkeypatch.setattr(Compiler, "try_compile", racing)
    build(many, tmp_path / "o1", cache=_settled(tmp_path / "c"), jobs=jobs)
    monkeypatch.setattr(Compiler, "try_compile", real)
    f.write_text(V1)  # and undoes it
    build(many, tmp_path / "o2", cache=BuildCache(tmp_path / "c"), jobs=jobs)
    build(many, tmp_path / "ref", jobs=jobs)  # --no-cache
    got = json.loads((tmp_path / "o2/targets/dev/s000.json").read_text())["id"]
    ref = json.loads((tmp_path / "ref/targets/dev/s000.json").read_text())["id"]
    assert got == ref


@pytest.mark.parametrize("keep_max", [0, sources.KEEP_MAX_BYTES])
@pytest.mark.parametrize("in_workers", [True, False])
def test_rewrite_between_key_and_compile(many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                         keep_max: int, in_workers: bool) -> None:
    monkeypatch.setattr(sources, "KEEP_MAX_BYTES", keep_max)
    if not in_workers:
        monkeypatch.setattr(BuildCache, "keys_in_workers", lambda self, source: False)
    f = many / "svc/dev/s000.yaml"
    assert f.read_text() == V1
    real = Compiler.try_compile
    done = []

    def racing(self: Compiler, spec: Any) -> Any:  # a concurrent editor: the file changes after the chunk was keyed
        if spec.name == "dev/s000" and not done:
            done.append(1)
            f.write_text(V2)
        return real(self, spec)

    monkeypatch.setattr(Compiler, "try_compile", racing)
    build(many, tmp_path / "o1", cache=BuildCache(tmp_path / "c"), jobs=1)
    monkeypatch.setattr(Compiler, "try_compile", real)
    f.write_text(V1)  # the editor reverts
    build(many, tmp_path / "o2", cache=BuildCache(tmp_path / "c"), jobs=1)
    build(many, tmp_path / "ref", jobs=1)  # --no-cache
    got = json.loads((tmp_path / "o2/targets/dev/s000.json").read_text())["id"]
    ref = json.loads((tmp_path / "ref/targets/dev/s000.json").read_text())["id"]
    assert got == ref, "the warm build reused a target compiled from other bytes than its key names"


STRICT = json.dumps({"type": "object", "properties": {"limits": {"properties": {"rpm": {"maximum": 100}}}}})
LOOSE = json.dumps({"type": "object"})


@pytest.mark.parametrize("in_workers", [True, False])
def test_a_schema_saved_after_the_global_key_is_not_cached_under_it(
    many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_workers: bool  # noqa: F811
) -> None:
    if not in_workers:
        monkeypatch.setattr(BuildCache, "keys_in_workers", lambda self, source: False)
    (many / "envs/dev.yaml").write_text("limits: {rpm: 500}\n")
    s = many / "schemas/s.json"
    assert json.loads(s.read_text()) == json.loads(STRICT)
    real = target_keys.global_key

    def racing(compiler: Compiler) -> str:
        k = real(compiler)
        s.write_text(LOOSE)  # an editor saves the schema just after it was hashed
        return k

    monkeypatch.setattr(target_keys, "global_key", racing)
    r1 = pipeline.run(Compiler(DirSource(many)), cache=BuildCache(tmp_path / "c"), jobs=1)
    monkeypatch.setattr(target_keys, "global_key", real)
    s.write_text(STRICT)  # and reverts
    warm = pipeline.run(Compiler(DirSource(many)), cache=BuildCache(tmp_path / "c"), jobs=1)
    cold = pipeline.run(Compiler(DirSource(many)), jobs=1)

    def errs(r: pipeline.PipelineResult) -> list[str]:
        return sorted(t for d in r.diagnostics if d.severity == "error" for t in d.targets)

    assert errs(r1) == errs(cold)  # validated by the schema bytes its key names (the strict ones)
    assert errs(cold)  # the strict schema refuses rpm 500
    assert errs(warm) == errs(cold)


def test_a_sops_file_saved_before_the_backfill_stops_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cached targets name a SOPS file's digest; a file saved since is not bundled with them."""
    import shutil

    from cfgc.base.errors import ExternalError

    root = Path(__file__).resolve().parents[3]
    repo = tmp_path / "repo"
    shutil.copytree(root / "examples" / "repo", repo, ignore=shutil.ignore_patterns("test-keys-DO-NOT-USE"))
    sec = repo / "tenants/acme/secrets.enc.yaml"
    old = time.time() - 10  # settled: the fill remembers its stat stamp
    for p in repo.rglob("*"):
        os.utime(p, (old, old), follow_symlinks=False)
    first = pipeline.run(Compiler(DirSource(repo)), cache=_settled(tmp_path / "c"), jobs=1)
    assert sec.relative_to(repo).as_posix() in first.secret_files
    real = pipeline._backfill_secrets

    def racing(*args: Any) -> None:
        sec.write_text(sec.read_text().replace("acme-2026-11", "acme-2026-12"))  # an editor saves mid-build
        real(*args)

    monkeypatch.setattr(pipeline, "_backfill_secrets", racing)
    with pytest.raises(ExternalError, match="changed while cfgc was building"):
        pipeline.run(Compiler(DirSource(repo)), cache=_settled(tmp_path / "c"), jobs=1)
