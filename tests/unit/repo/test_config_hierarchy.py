from pathlib import Path

import pytest

from cfgc.base.errors import InputError, MultipleErrors
from cfgc.repo.config import load_config
from cfgc.repo.hierarchy import Hierarchy, pattern_regex
from cfgc.repo.sources import DirSource


def config_of(make_repo, text: str, files=None):
    return load_config(DirSource(make_repo(files or {}, config=text)))


def test_targets_and_layers(make_repo) -> None:
    root = make_repo({
        "base/a.yaml": "a: 1\n", "base/b.yaml": "b: 1\n", "envs/prod.yaml": "e: 1\n",
        "tenants/t1/tenant.yaml": "t: 1\n",
        "tenants/t1/prod/chat.yaml": "s: 1\n", "tenants/t1/dev/chat.yaml": "s: 1\n",
        "tenants/t2/prod/search.yaml": "s: 1\n", "README.md": "x",
    })
    src = DirSource(root)
    h = Hierarchy(load_config(src), src.files())
    specs = {s.name: s for s in h.targets()}
    assert list(specs) == ["t1/dev/chat", "t1/prod/chat", "t2/prod/search"]
    # missing levels are skipped; '*' merges in lexical order
    assert specs["t1/prod/chat"].layers == (
        "base/a.yaml", "base/b.yaml", "envs/prod.yaml", "tenants/t1/tenant.yaml", "tenants/t1/prod/chat.yaml")
    assert specs["t2/prod/search"].layers == ("base/a.yaml", "base/b.yaml", "envs/prod.yaml", "tenants/t2/prod/search.yaml")
    assert specs["t1/dev/chat"].variables == {"tenant": "t1", "env": "dev", "service": "chat"}
    assert [s.name for s in h.targets("*/prod/*")] == ["t1/prod/chat", "t2/prod/search"]


def test_pattern_regex_matches_one_segment_per_variable() -> None:
    rx = pattern_regex("tenants/{tenant}/{env}/{service}.yaml")
    assert rx.match("tenants/a/b/c.yaml").groupdict() == {"tenant": "a", "env": "b", "service": "c"}
    assert rx.match("tenants/a/b/c/d.yaml") is None
    assert pattern_regex("a/{x}/{x}.yaml").match("a/q/q.yaml")
    assert not pattern_regex("a/{x}/{x}.yaml").match("a/q/r.yaml")


def test_targets_must_use_every_variable(make_repo) -> None:
    with pytest.raises(InputError) as info:
        config_of(make_repo, "version: 1\nhierarchy: ['s/{env}/{service}.yaml']\ntargets: '{service}'\n")
    assert "missing {env}" in info.value.message
    assert str(info.value.location) == "cfgc.yaml:3:1"


def test_several_config_errors_are_reported_together(make_repo) -> None:
    with pytest.raises(MultipleErrors) as info:
        config_of(make_repo, "version: 1\nhierarchy: ['a/{x}.yaml', 'b/{y}.yaml']\ntargets: '{z}/{y}'\n")
    text = str(info.value)
    assert "cfgc.yaml:2:13: error: variable {x} is not bound" in text
    assert "cfgc.yaml:3:1: error: targets uses {z}" in text


def test_missing_required_key(make_repo) -> None:
    with pytest.raises(InputError, match="'targets' is a required property"):
        config_of(make_repo, "version: 1\nhierarchy: ['a/{x}.yaml']\n")


def test_two_files_one_target_is_an_error(make_repo) -> None:
    root = make_repo({"s/a.yaml": "x: 1\n", "s/a.yml": "x: 2\n"},
                     config="version: 1\nhierarchy: ['s/{svc}.y*']\ntargets: '{svc}'\n")
    # '.y*' is not a valid ending per the schema
    with pytest.raises(InputError):
        load_config(DirSource(root))


def test_config_schema_file_is_published_at_top_level() -> None:
    top = Path(__file__).resolve().parents[3] / "schemas" / "cfgc.schema.json"
    pkg = Path(__file__).resolve().parents[3] / "cfgc" / "data" / "cfgc.schema.json"
    assert top.read_bytes() == pkg.read_bytes()
