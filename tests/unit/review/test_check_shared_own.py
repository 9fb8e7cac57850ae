"""A file that is one target's own file and a later target's shared layer,
saved during a cold check: every entry is kept under the key of the bytes its
compile parsed (cfgc.review.checks releases no file another target layers on).

The target ``y/x`` has ``x-y.yaml`` as its own file; ``z/x-y`` layers on it
(``{tenant}.yaml`` with tenant ``x-y``).  Both are keyed before either compiles
(a burst ahead, cfgc.review.check_ahead), with one digest of ``x-y.yaml``;
releasing it after ``y/x`` made ``z/x-y`` parse it again from disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource
from cfgc.review.checks import run_checks

GOOD = "level: 1\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "cfgc.yaml").write_text(
        'version: 1\nhierarchy:\n  - "{tenant}.yaml"\n  - "{tenant}-{env}.yaml"\ntargets: "{env}/{tenant}"\n')
    (root / "x-y.yaml").write_text(GOOD)
    (root / "x-y-z.yaml").write_text("other: 2\n")
    return root


def _report(result: Any) -> list[Any]:
    return [(d.severity, d.message, d.location, d.rule, d.targets) for d in result.diagnostics]


def test_the_layout_has_a_file_that_is_own_and_shared(repo: Path) -> None:
    specs = {s.name: s.layers for s in Compiler(DirSource(repo)).specs()}
    assert specs == {"y/x": ("x-y.yaml",), "z/x-y": ("x-y.yaml", "x-y-z.yaml")}


@pytest.mark.parametrize("cold_jobs", [1, 2])
def test_a_shared_own_file_saved_mid_check_keeps_no_entry_under_its_old_key(
        repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cold_jobs: int) -> None:
    shared = repo / "x-y.yaml"
    real = Compiler.try_compile
    compiled_in = tmp_path / "pids"
    if cold_jobs > 1:
        # Forked: the pool's threshold lowered, and a third target in a chunk of
        # its own, so two workers start and one compiles y/x then z/x-y in order.
        from cfgc.base import parallel

        (repo / "zz-zz.yaml").write_text("other: 3\n")
        monkeypatch.setattr(parallel, "PARALLEL_MIN_TARGETS", 1)
        monkeypatch.setattr(parallel, "chunk_size", lambda items, jobs=None: 2)

    def saving_after_its_own_target(self: Compiler, spec: Any) -> Any:
        got = real(self, spec)
        with compiled_in.open("a") as f:
            f.write(f"{os.getpid()}\n")
        if spec.name == "y/x":  # its own file is compiled (and was keyed): now saved, broken
            shared.write_text("broken: [unclosed\n")
        return got

    monkeypatch.setattr(Compiler, "try_compile", saving_after_its_own_target)
    cold = run_checks(DirSource(repo), cache=tmp_path / "cache", jobs=cold_jobs)
    monkeypatch.setattr(Compiler, "try_compile", real)
    pids = set(compiled_in.read_text().split())
    assert (str(os.getpid()) not in pids) == (cold_jobs > 1)  # a worker compiled them, or this process
    assert cold.ok, _report(cold)  # both compiled from the bytes their keys name
    shared.write_text(GOOD)  # back to the bytes both keys name
    warm = run_checks(DirSource(repo), cache=tmp_path / "cache", jobs=1)
    fresh = run_checks(DirSource(repo), cache=False, jobs=1)
    assert fresh.ok
    assert _report(warm) == _report(fresh)


def test_a_layer_broken_when_first_read_stays_broken_for_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # base.yaml is broken when keyed and first parsed, then fixed after target
    # a failed on it: target b (same key, naming the broken bytes) must fail on
    # them too, not parse the fixed file, or its entry would be kept under the
    # broken bytes' key and a later check of those bytes would pass.
    root = tmp_path / "repo"
    (root / "envs").mkdir(parents=True)
    (root / "cfgc.yaml").write_text('version: 1\nhierarchy:\n  - "base.yaml"\n  - "envs/{env}.yaml"\ntargets: "{env}"\n')
    (root / "envs/a.yaml").write_text("x: 1\n")
    (root / "envs/b.yaml").write_text("y: 1\n")
    base = root / "base.yaml"
    base.write_text("broken: [unclosed\n")
    real = Compiler.try_compile

    def fixing_after_a(self: Compiler, spec: Any) -> Any:
        got = real(self, spec)
        if spec.name == "a":
            base.write_text(GOOD)
        return got

    monkeypatch.setattr(Compiler, "try_compile", fixing_after_a)
    cold = run_checks(DirSource(root), cache=tmp_path / "cache", jobs=1)
    monkeypatch.setattr(Compiler, "try_compile", real)
    assert [d.targets for d in cold.diagnostics] == [("a", "b")]  # both failed on the bytes first read
    base.write_text("broken: [unclosed\n")  # the bytes both keys name
    warm = run_checks(DirSource(root), cache=tmp_path / "cache", jobs=1)
    fresh = run_checks(DirSource(root), cache=False, jobs=1)
    assert not fresh.ok
    assert _report(warm) == _report(fresh)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_schema_saved_around_the_keying_is_keyed_as_validated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    # Saved just before or just after the run keys its inputs: the findings are
    # those of the schema bytes the key names, so a later run that finds those
    # bytes serves them rightly.
    import cfgc.review.checks as checks

    root = tmp_path / "repo"
    (root / "envs").mkdir(parents=True)
    (root / "schemas").mkdir()
    (root / "cfgc.yaml").write_text('version: 1\nhierarchy:\n  - "envs/{env}.yaml"\ntargets: "{env}"\n'
                                    'schemas:\n  - schema: schemas/s.json\n')
    (root / "envs/a.yaml").write_text("x: 1\n")
    schema = root / "schemas/s.json"
    schema.write_text('{"type": "object"}')
    strict = '{"type": "object", "required": ["must"]}'
    real = checks.EntryKeys

    class Saving(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if when == "before":
                schema.write_text(strict)
            super().__init__(*args, **kwargs)
            if when == "after":
                schema.write_text(strict)

    monkeypatch.setattr(checks, "EntryKeys", Saving)
    run_checks(DirSource(root), cache=tmp_path / "cache", jobs=1)
    monkeypatch.setattr(checks, "EntryKeys", real)
    warm = run_checks(DirSource(root), cache=tmp_path / "cache", jobs=1)  # the schema is strict now
    fresh = run_checks(DirSource(root), cache=False, jobs=1)
    assert not fresh.ok
    assert _report(warm) == _report(fresh)


def test_a_file_past_the_keep_bound_is_not_kept_under_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Past DirSource's keep bound (256 MiB held; lowered here) a compile reads its
    # file from disk again, so a key naming the bytes hashed before may not be used.
    import cfgc.repo.sources as sources

    root = tmp_path / "repo"
    (root / "envs").mkdir(parents=True)
    (root / "cfgc.yaml").write_text('version: 1\nhierarchy:\n  - "envs/{env}.yaml"\ntargets: "{env}"\n')
    for name in "abc":
        (root / f"envs/{name}.yaml").write_text(f"{name}: {'x' * 100}\n")
    z = root / "envs/z.yaml"
    z.write_text(GOOD)
    run_checks(DirSource(root), cache=tmp_path / "cache", jobs=1)
    z.write_text("broken: [unclosed\n")  # z is checked again next run
    monkeypatch.setattr(sources, "KEEP_MAX_BYTES", 0)
    real = Compiler.try_compile

    def saving_before_z(self: Compiler, spec: Any) -> Any:
        if spec.name == "z":
            z.write_text(GOOD)  # after its key was made, before its compile reads it
        return real(self, spec)

    monkeypatch.setattr(Compiler, "try_compile", saving_before_z)
    run_checks(DirSource(root), cache=tmp_path / "cache", jobs=1)
    monkeypatch.setattr(Compiler, "try_compile", real)
    z.write_text("broken: [unclosed\n")
    warm = run_checks(DirSource(root), cache=tmp_path / "cache", jobs=1)
    fresh = run_checks(DirSource(root), cache=False, jobs=1)
    assert not fresh.ok
    assert _report(warm) == _report(fresh)
