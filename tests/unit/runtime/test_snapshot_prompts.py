"""Snapshots (flat paths, frozen values) and prompts (variables, sandbox, sticky A/B)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from cfgc.runtime.prompts import Prompt, PromptError, choose
from cfgc.runtime.snapshot import FrozenDict, SecretReference, flatten, freeze


def test_flatten_every_dotted_path_and_secret_refs() -> None:
    value = {"a": {"b": 1, "c": [10, {"d": "x"}]},
             "k": {"$secret": {"file": "f.yaml", "path": ["p", "q"], "type": "str"}}}
    flat, secrets = flatten(value)
    assert flat["a.b"] == 1 and flat["a.c.0"] == 10 and flat["a.c.1.d"] == "x"
    assert flat["a.c"] == (10, {"d": "x"}) and isinstance(flat["a"], FrozenDict)
    assert secrets == {"k": SecretReference("f.yaml", ("p", "q"), "str")}
    assert isinstance(flat["k"], SecretReference) and "k.$secret" not in flat
    assert "CANARY" not in repr(flat["k"])


def test_frozen_values_refuse_changes_and_stay_json() -> None:
    frozen = freeze({"a": {"b": [1, 2]}})
    with pytest.raises(TypeError):
        frozen["a"]["x"] = 1
    with pytest.raises(TypeError):
        frozen.update({})
    assert json.loads(json.dumps(frozen)) == {"a": {"b": [1, 2]}}


def test_render_checks_declared_variables() -> None:
    p = Prompt("summarize", "1.2.0", "For {{ audience }} ({{ n | default(3) }}): {{ text }}", ("audience", "n", "text"))
    assert p.render(audience="ops", text="hi") == "For ops (3): hi"
    with pytest.raises(PromptError, match="unknown variable.*nope"):
        p.render(audience="ops", text="hi", nope=1)
    with pytest.raises(PromptError, match="missing variable.*text"):
        p.render(audience="ops")


def test_render_is_sandboxed() -> None:
    p = Prompt("evil", "1.0.0", "{{ x.__class__.__mro__[1].__subclasses__() }}", ("x",))
    with pytest.raises(PromptError, match="sandbox|missing"):
        p.render(x="s")


def test_ab_variants_are_sticky_and_weighted() -> None:
    spec = {"variants": [{"prompt": "s@1.0.0", "weight": 90}, {"prompt": "s@2.0.0", "weight": 10}]}
    picks = {f"user-{i}": choose("summary", spec, f"user-{i}") for i in range(4000)}
    assert all(choose("summary", spec, k) == v for k, v in list(picks.items())[:200])  # sticky
    share = Counter(p for p, _ in picks.values())["s@2.0.0"] / len(picks)
    assert 0.07 < share < 0.13
    assert choose("summary", spec, None) == ("s@1.0.0", 0)  # no key: the control
    assert choose("summary", "s@1.0.0", "k") == ("s@1.0.0", None)
    for bad in ({"variants": []}, {"variants": [{"prompt": "s@1.0.0", "weight": -1}]},
                {"variants": [{"prompt": "s@1.0.0", "weight": 0}]}, 42):
        with pytest.raises(PromptError):
            choose("summary", bad, "k")
