"""Differential: ``Provenance.locate`` from the merge alone (the fast path a
diff takes when ``$extends`` touched nothing on the path, and the one a check
takes for a key the layers set under an ``$extends``) gives the location
the full traced tree gives, for every path of every target of the example repo
and of generated corpora (merge tags, ``$extends`` chains, templates, prompts,
SOPS files), and for paths the target does not have."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.loading import load_yaml
from cfgc.compile.compiler import CompiledTarget, Compiler
from cfgc.compile.extends import resolve_extends
from cfgc.compile.merging import merge_layers
from cfgc.compile.provenance import Provenance
from cfgc.compile.walk import scan
from cfgc.repo.sources import open_source

ROOT = Path(__file__).resolve().parents[3]


def paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path, (*path, "absent-key"), (*path, 99)]
    if type(value) is dict:
        for k, v in value.items():
            out += paths(v, (*path, k))
    elif type(value) is list:
        for i, v in enumerate(value):
            out += paths(v, (*path, i))
    return out


def check_target(target: CompiledTarget) -> tuple[int, int, int]:
    """(paths compared, of which answered by the fast path, of which under an
    ``$extends`` yet answered without resolving the target)."""
    full = Provenance(target.docs, target.origins)
    full.tree  # noqa: B018 - built first: every locate below walks the resolved tree
    fast_paths = own = 0
    every = paths(target.value) + [("models", "primary", "$extends"), ("$extends",)]
    for path in every:
        fresh = Provenance(target.docs, target.origins)
        if not fresh._extended(path):
            fast_paths += 1
        got = fresh.locate(path)
        assert fresh._tree is None or fresh._extended(path), path  # the fast path built no resolved tree
        assert got == full.locate(path), (target.name, path)
        own += fresh._extended(path) and fresh._tree is None
    return len(every), fast_paths, own


def check_repo(repo: Path) -> tuple[int, int, int]:
    compiler = Compiler(open_source(repo, None))
    total = fast = extended = own = 0
    for spec in compiler.specs():
        target = compiler.compile(spec)
        n, f, o = check_target(target)
        total, fast, extended, own = total + n, fast + f, extended + bool(target.origins), own + o
    assert own or not extended  # the layers' own answer under an $extends was exercised
    return total, fast, extended


def test_the_example_repo_locates_the_same_either_way() -> None:
    total, fast, extended = check_repo(ROOT / "examples" / "repo")
    assert total > 500 and 0 < fast < total and extended  # both paths exercised


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_corpora_locate_the_same_either_way(tmp_path: Path, seed: int) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from corpus import generate
    finally:
        sys.path.pop(0)
    generate(tmp_path / "repo", tenants=2, envs=2, services=3, seed=seed)
    total, fast, extended = check_repo(tmp_path / "repo")
    assert total > 200 and 0 < fast < total and extended


def test_a_path_under_an_extended_node_takes_the_inherited_location() -> None:
    docs = (load_yaml(b"base: {x: 1, y: 2}\n", "l0.yaml"),
            load_yaml(b"m:\n  $extends: base\n  y: 3\n", "l1.yaml"))
    origins = {("m",): (("base",),)}
    p = Provenance(docs, origins)
    inherited = p.locate(("m", "x"))  # the merge alone would say l1's 'm' (line 1)
    assert (inherited.path, inherited.line) == ("l0.yaml", 1)
    assert inherited == Provenance(docs, origins).locate(("base", "x"))
    own = Provenance(docs, origins).locate(("m", "y"))
    assert (own.path, own.line) == ("l1.yaml", 3)


LAYERED = [
    # a key the own layer deletes that the base supplies: the base's value is in force
    (b"base: {x: 1, y: [a]}\nm: {x: 0}\n", b"m:\n  $extends: base\n  x: !delete\n  y: !append [b]\n"),
    # a replaced node under an $extends, and a nested $extends chain
    (b"base: {x: {p: 1}, y: 2}\nmid: {$extends: base, z: 3}\n",
     b"m:\n  $extends: mid\n  x: !replace {q: 2}\n  z: 4\n"),
    # a list and a mapping the layers set deeper than the base
    (b"base: {l: [1, 2], d: {a: 1}}\n", b"m:\n  $extends: base\n  l: !prepend [0]\n  d: {b: 2}\n"),
]


@pytest.mark.parametrize(("low", "high"), LAYERED)
def test_layered_edge_cases_locate_the_same_under_extends(low: bytes, high: bytes) -> None:
    docs = (load_yaml(low, "l0.yaml"), load_yaml(high, "l1.yaml"))
    origins: dict[Any, Any] = {}
    value = merge_layers(docs)
    value, inherited = resolve_extends(value, Provenance(docs, origins).locate, scan(value, False).extends)
    origins.update(inherited)
    full = Provenance(docs, origins)
    full.tree  # noqa: B018 - built first: every locate below walks the resolved tree
    own = 0
    for path in [*paths(value), ("m", "x", "p"), ("m", "x", "q")]:
        fresh = Provenance(docs, origins)
        assert fresh.locate(path) == full.locate(path), path
        own += fresh._extended(path) and fresh._tree is None
    assert own  # some answered from the layers alone


def test_a_key_the_last_layer_spells_out_is_located_without_tracing() -> None:
    """The last layer's own keys (a policy finding in a service file) are
    answered from that file alone; what it does not spell out, deletes or
    reaches through a tag still traces, and every answer is the full tree's."""
    docs = (load_yaml(b"base: {x: 1}\nm: {x: 0, l: [1]}\nd: {k: 1}\n", "l0.yaml"),
            load_yaml(b"m:\n  $extends: base\n  y: 3\n  l: !append [2]\nd: !replace\n  k: 2\ngone: !delete\n",
                      "l1.yaml"))
    origins = {("m",): (("base",),)}
    full = Provenance(docs, origins)
    full.tree  # noqa: B018 - the resolved tree answers every path below
    untraced = []
    for path in [("m", "y"), ("m",), ("m", "l"), ("m", "x"), ("d", "k"), ("gone",), ("m", "l", 0), ("absent",)]:
        fresh = Provenance(docs, origins)
        assert fresh.locate(path) == full.locate(path), path
        if fresh._layers is None and fresh._tree is None:
            untraced.append(path)
    assert untraced == [("m", "y"), ("m",), ("m", "l")]
