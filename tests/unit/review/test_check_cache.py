"""Each target's check findings kept between runs: the output is the same as
checking everything, and only targets whose inputs changed are compiled again."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from cfgc.base.diagnostics import Diagnostic
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource
from cfgc.review import check_cache
from cfgc.review.check_cache import FILE_NAME, MAGIC, CheckCache, Entry, entry_key
from cfgc.review.checks import run_checks
from tests.fixtures.cli import run
from tests.unit.review.sealed_damage import DAMAGES, damaged

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture(scope="module")
def corpus_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(BENCH))
    import corpus

    out = tmp_path_factory.mktemp("corpus") / "full"
    corpus.generate(out, 2, 2, 4, seed=11)  # policies, schemas, prompts, SOPS files, findings
    return out


@pytest.fixture
def repo(corpus_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(corpus_template, root)
    return root


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the targets really compiled."""
    names: list[str] = []
    real = Compiler.try_compile

    def try_compile(self: Compiler, spec):  # type: ignore[no-untyped-def]
        names.append(spec.name)
        return real(self, spec)

    monkeypatch.setattr(Compiler, "try_compile", try_compile)
    return names


def _outputs(repo: Path, *cache: str) -> tuple[tuple[int, str], tuple[int, str]]:
    return (run("check", "--repo", str(repo), "--format", "json", "-j", "1", *cache),
            run("check", "--repo", str(repo), "--format", "sarif", "-j", "1", *cache))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


EDITS = {
    "service": lambda r: _edit(r / "tenants/tenant-000/dev/services/chat-0000.yaml",
                               "temperature: 0.0", "temperature: 7\n    max_tokens: 20000"),
    "env": lambda r: _edit(r / "envs/dev.yaml", "level: debug", "level: [debug]"),
    "schema": lambda r: _edit(r / "schemas/service.json", '"required": [\n    "service",',
                              '"required": [\n    "service",\n    "nothing_sets_this",'),
    "policy": lambda r: _edit(r / "policies/cost.rego", "model.max_tokens > 8192", "model.max_tokens > 100"),
    "cfgc.yaml": lambda r: _edit(r / "cfgc.yaml", 'targets: "{tenant}/{env}/', 'targets: "{tenant}/{env}-'),
    "secrets": lambda r: _edit(r / "tenants/tenant-001/secrets.enc.yaml", "openai:", "openai:\n        token: sk-"
                               + "a1B2c3D4e5F6g7H8i9J0" * 2),
    "broken yaml": lambda r: _edit(r / "tenants/tenant-001/tenant.yaml", "\n", "\n  : [\n"),
}


def test_warm_output_is_byte_identical_after_each_edit(repo: Path, tmp_path: Path, compiled: list[str]) -> None:
    cache = ("--cache-dir", str(tmp_path / "cache"))
    first = _outputs(repo, *cache)
    total = len(json.loads(first[0][1])["targets"])
    assert total == 16 and json.loads(first[0][1])["diagnostics"]  # there is something to keep
    compiled.clear()
    assert _outputs(repo, *cache) == first == _outputs(repo, "--no-cache")
    assert len(compiled) == 2 * total  # only the --no-cache runs compiled anything
    for name, edit in EDITS.items():
        before = _outputs(repo, "--no-cache")
        edit(repo)
        compiled.clear()
        expected = _outputs(repo, "--no-cache")
        assert expected != before, name  # each edit changes the report
        uncached = len(compiled)
        compiled.clear()
        assert _outputs(repo, *cache) == expected, name  # stale entries not served
        assert 0 < len(compiled) <= uncached // 2, name  # the sarif run compiled nothing again
        if name == "service":
            assert compiled == ["tenant-000/dev/chat-0000"]  # one file, one target
        compiled.clear()
        assert _outputs(repo, *cache) == expected and compiled == [], name


def test_changed_flag_is_part_of_the_key(repo: Path, tmp_path: Path) -> None:
    # A policy that reads input.changed: the same target, marked or not, has
    # different findings, so an entry keyed without the flag would be served wrong.
    (repo / "policies/changed.rego").write_text(
        'package main\n\nimport rego.v1\n\nwarn contains "touched by this change" if input.changed == true\n')
    src, cache = DirSource(repo), tmp_path / "cache"
    name = "tenant-000/dev/chat-0000"
    plain = run_checks(src, cache=cache)
    marked = run_checks(src, cache=cache, delta=_Delta(name))
    assert marked.changed == {name}
    assert [d.targets for d in marked.diagnostics if d.message == "touched by this change"] == [(name,)]
    assert not any(d.message == "touched by this change" for d in plain.diagnostics)
    assert marked.diagnostics == run_checks(src, cache=False, delta=_Delta(name)).diagnostics
    assert plain.diagnostics == run_checks(src, cache=cache).diagnostics


class _Delta:
    """A diff result with one changed target (what --base computes)."""

    def __init__(self, name: str) -> None:
        self.targets = [type("T", (), {"name": name})()]


@pytest.mark.parametrize("damage", [*DAMAGES, "wrong entry"])
def test_damaged_or_forged_file_is_ignored(repo: Path, tmp_path: Path, compiled: list[str], damage: str) -> None:
    cache = tmp_path / "cache"
    first = run_checks(DirSource(repo), cache=cache).diagnostics
    path = cache / FILE_NAME
    data = path.read_bytes()
    body = data[len(MAGIC):].partition(b"\n")[2]
    # A forged file says no target has any finding.
    doc = json.loads(body)
    for v in doc["entries"].values():
        v[3] = []
    empty = json.dumps(doc).encode()
    if damage == "wrong entry":  # a well-formed, authentic file whose entries name other targets
        keeper = CheckCache(cache)
        for k in doc["entries"]:
            keeper.put(k, Entry("someone/else", True, (), ()))
        keeper.save()
    else:
        path.write_bytes(damaged(data, MAGIC, empty, damage))
    compiled.clear()
    assert run_checks(DirSource(repo), cache=cache).diagnostics == first
    assert len(compiled) == 16  # every target checked again
    compiled.clear()
    assert run_checks(DirSource(repo), cache=cache).diagnostics == first and compiled == []  # rewritten


def test_entry_round_trip_and_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper = CheckCache(tmp_path)
    keys = [entry_key(f"{i:064x}", "", None) for i in range(3)]
    for i, k in enumerate(keys):
        keeper.put(k, Entry(f"t{i}", True, ("a.yaml",), ()))
    keeper.put(entry_key("f" * 64, "", True), Entry("slow", True, (), (_timeout(),)))
    failed = Diagnostic("error", "Rego evaluation failed: Function not found: x", None, "policy", ("bad",))
    keeper.put(entry_key("e" * 64, "", None), Entry("bad", True, (), (failed,)))
    keeper.save()
    again = CheckCache(tmp_path)
    assert again.get(keys[1], "t1") == Entry("t1", True, ("a.yaml",), ())
    assert again.get(keys[1], "t2") is None  # an entry answers for its own target only
    assert again.get(entry_key("f" * 64, "", True), "slow") is None  # a time-out is never kept
    assert again.get(entry_key("e" * 64, "", None), "bad") is None  # nor a failed evaluation
    monkeypatch.setattr(check_cache, "MAX_FILE_BYTES", 10)
    assert CheckCache(tmp_path).get(keys[1], "t1") is None  # too big: not ours


def _timeout() -> Diagnostic:
    return Diagnostic("error", "template ran longer than 1 s (limits.template_seconds)", None, "template", ("slow",))
