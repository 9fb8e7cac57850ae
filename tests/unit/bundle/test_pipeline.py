"""The build pipeline: parallel workers and the build cache give the same bundle as a serial build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfgc.bundle import pipeline
from cfgc.bundle.cache import BuildCache
from cfgc.bundle.layout import assemble, commit_staging, open_staging
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource
from tests.fixtures.repos import GRID_CONFIG

CONFIG = GRID_CONFIG


@pytest.fixture
def many(make_repo) -> Path:
    files: dict[str, str] = {
        "base/a.yaml": "limits: {rpm: 10}\nurl: 'https://{{ service }}.{{ env }}'\np: !prompt hi@^1\n",
        "envs/dev.yaml": "limits: {rpm: 20}\n", "envs/prod.yaml": "limits: {rpm: 30}\n",
        "schemas/s.json": json.dumps({"type": "object", "properties": {"limits": {"properties": {"rpm": {"maximum": 100}}}}}),
        "prompts/hi/1.0.0.j2": "hi {{ name }}\n",
    }
    for env in ("dev", "prod"):
        for i in range(260):
            files[f"svc/{env}/s{i:03}.yaml"] = f"id: {i}\nm: {{$extends: limits, extra: {i}}}\n"
    return make_repo(files, config=CONFIG)


def build(root: Path, out: Path, **kw) -> tuple[pipeline.PipelineResult, bytes]:
    compiler = Compiler(DirSource(root))
    staging = open_staging(out)
    result = pipeline.run(compiler, staging=staging, **kw)
    assert result.ok, result.diagnostics
    manifest, files = assemble(result.outputs, result.prompts, compiler.schema_entries(),
                               DirSource(root).info(), result.secret_files)
    commit_staging(staging, out, manifest, files)
    return result, (out / "manifest.json").read_bytes()


def tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_parallel_equals_serial(many: Path, tmp_path: Path) -> None:
    r1, m1 = build(many, tmp_path / "serial", jobs=1)
    r2, m2 = build(many, tmp_path / "parallel", jobs=2)
    assert len(r1.outputs) == 520
    assert m1 == m2
    assert tree(tmp_path / "serial") == tree(tmp_path / "parallel")
    t = json.loads((tmp_path / "parallel/targets/prod/s007.json").read_text())
    assert t == {"id": 7, "limits": {"rpm": 30}, "m": {"rpm": 30, "extra": 7}, "p": "hi@1.0.0",
                 "url": "https://s007.prod"}


def test_cache_is_warm_and_invalidated_by_inputs(many: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cold, m_cold = build(many, tmp_path / "a", cache=BuildCache(cache_dir), jobs=2)
    assert cold.cache_hits == 0
    warm, m_warm = build(many, tmp_path / "b", cache=BuildCache(cache_dir), jobs=2)
    assert warm.cache_hits == 520 and m_warm == m_cold
    assert tree(tmp_path / "a") == tree(tmp_path / "b")

    (many / "svc/dev/s001.yaml").write_text("id: 1001\n")
    one, _ = build(many, tmp_path / "c", cache=BuildCache(cache_dir))
    assert one.cache_hits == 519
    assert json.loads((tmp_path / "c/targets/dev/s001.json").read_text())["id"] == 1001

    (many / "envs/prod.yaml").write_text("limits: {rpm: 40}\n")
    env, _ = build(many, tmp_path / "d", cache=BuildCache(cache_dir))
    assert env.cache_hits == 260  # only the prod targets recompile

    (many / "prompts/hi/1.1.0.j2").write_text("hello {{ name }}\n")
    pr, _ = build(many, tmp_path / "e", cache=BuildCache(cache_dir))
    assert pr.cache_hits == 0
    assert json.loads((tmp_path / "e/targets/dev/s002.json").read_text())["p"] == "hi@1.1.0"


def test_damaged_cache_is_ignored(many: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    _, m1 = build(many, tmp_path / "a", cache=BuildCache(cache_dir))
    (cache_dir / "index").write_bytes(b"\x00garbage")
    r, m2 = build(many, tmp_path / "b", cache=BuildCache(cache_dir))
    assert r.cache_hits == 0 and m1 == m2
    for blob in list((cache_dir / "blobs").iterdir())[:10]:
        blob.chmod(0o644)
        blob.unlink()
    r, m3 = build(many, tmp_path / "c", cache=BuildCache(cache_dir))
    assert r.cache_hits == 510 and m3 == m1
    assert tree(tmp_path / "a") == tree(tmp_path / "c")


def test_findings_are_reported_on_warm_builds_too(make_repo, tmp_path: Path) -> None:
    root = make_repo({
        "base/a.yaml": "token: sk-proj-abcdefghijklmnopqrstuvwxyz0123\n",
        "envs/dev.yaml": "x: 1\n", "svc/dev/a.yaml": "y: 1\n",
        "schemas/s.json": "{}",
    }, config=CONFIG)
    for _ in range(2):
        result = pipeline.run(Compiler(DirSource(root)), cache=BuildCache(tmp_path / "c"))
        assert not result.ok
        [d] = result.diagnostics
        assert str(d.location) == "base/a.yaml:1:1" and "OpenAI" in d.message
        assert "sk-proj" not in d.message


def test_credential_is_reported_even_when_the_target_fails_to_compile(make_repo) -> None:
    root = make_repo({
        "base/a.yaml": "token: sk-proj-abcdefghijklmnopqrstuvwxyz0123\nurl: '{{ nope }}'\n",
        "envs/dev.yaml": "x: 1\n", "svc/dev/a.yaml": "y: 1\n", "schemas/s.json": "{}",
    }, config=CONFIG)
    for jobs in (1, 2):
        result = pipeline.run(Compiler(DirSource(root)), jobs=jobs)
        messages = [d.message for d in result.diagnostics]
        assert any("OpenAI" in m for m in messages), messages
        assert any("template error" in m for m in messages), messages


def test_a_serial_build_holds_no_target_file_once_compiled(many: Path, tmp_path: Path) -> None:
    compiler = Compiler(DirSource(many))
    result = pipeline.run(compiler, jobs=1)
    assert result.ok and len(result.outputs) == 520
    held = set(compiler._docs)
    assert held and not any(p.startswith("svc/") for p in held)  # shared layers stay parsed
    assert {"envs/dev.yaml", "envs/prod.yaml"} <= held
    again = compiler.compile(compiler.specs()[0])  # a forgotten file is parsed again
    assert again.value["id"] == 0
