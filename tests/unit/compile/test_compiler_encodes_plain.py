"""A compiled target ``encodes_plain`` (canonical JSON skips its search for
floats written differently) when every float its files hold is plain, whichever
loader read them, and every value a template rendered is plain too: prompt
pins, ``$extends`` and secret references bring no float of their own.  Its
canonical JSON is json's either way; what could break the word is checked here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.base.canonical import canonical_json, floats_plain, plain_float, reference_json
from cfgc.base.loading import load_yaml
from cfgc.bundle.layout import target_output
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource
from tests.unit.compile.test_compiler_plain_floats import two_level_compiler

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus  # noqa: E402


def _compile(tmp_path: Path, base: str, services: dict[str, str]) -> dict[str, bool]:
    c = two_level_compiler(tmp_path, base, services)
    out = {}
    for spec in c.specs():
        ct = c.compile(spec)
        assert target_output(ct).data == reference_json(ct.value), spec.name
        assert not ct.encodes_plain or floats_plain(ct.value), spec.name
        out[spec.name] = ct.encodes_plain
    return out


def test_rendered_values_decide(tmp_path: Path) -> None:
    got = _compile(
        tmp_path,
        "rate: 0.1\nlimits: {rpm: 600, ratio: 2.5}\nm:\n  base: {t: 0.5}\n",
        {
            "name": 'name: "{{ target }}"\n',
            "third": 'x: "{{ config.limits.rpm / 3 }}"\n',  # a float of its own, and a plain one
            "tiny": 'x: "{{ config.limits.rpm / 6e9 }}"\n',  # 1e-07: json writes 1e-07, orjson 1e-7
            "huge": 'x: "{{ config.limits.rpm * 1e14 }}"\n',  # 6e+16
            "copied": 'x: "{{ config.m.base }}"\ny:\n  $extends: m.base\n',
            "file": "temperature: 0.00001\n",
        },
    )
    assert got == {"name": True, "third": True, "tiny": False, "huge": False, "copied": True, "file": False}


def test_careful_loads_are_walked_for_their_floats(tmp_path: Path) -> None:
    got = _compile(
        tmp_path,
        "rate: &r 0.1\nalso: *r\nnote: |\n  block\n",  # anchors and a block scalar: the careful loader
        {"plain": "temperature: 0.7\n", "tagged": "list: !append [0.5]\n"},
    )
    assert got == {"plain": True, "tagged": True}
    for text, plain in [
        ("a: &x 0.5\nb: *x\n", True),
        ("a: &x 1e-7\nb: *x\n", False),
        ("a: |\n  x\nb: !append [1.0e+16]\n", False),
        ("a: |\n  x\nb: !replace {c: [0.25]}\nd: !prompt p@1\ne: !delete\n", True),
    ]:
        raw = text.encode()
        doc = load_yaml(raw, "f.yaml", reload=lambda raw=raw: raw)
        assert doc.floats_plain is plain, text


_floats = st.floats() | st.sampled_from([1e-4, 1e-5, 1e16, 9999999999999998.0, -0.0, 0.1])
_leaves = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | _floats | st.text(max_size=8)
_values = st.recursive(
    _leaves,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=4), kids, max_size=4)
    | st.tuples(kids, kids),
    max_leaves=20,
)


def _floats_in(v: object) -> list[float]:
    if type(v) is float:
        return [v]
    if type(v) is dict:
        return [f for x in v.values() for f in _floats_in(x)]
    if type(v) is list or type(v) is tuple:
        return [f for x in v for f in _floats_in(x)]
    return []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_floats_plain_is_the_walk_and_vouches_for_json_bytes(value: object) -> None:
    assert floats_plain(value) == all(plain_float(f) for f in _floats_in(value))
    if floats_plain(value):
        try:
            expected: bytes | type = reference_json(value)
        except Exception as e:  # noqa: BLE001 - json refuses it: so must the plain path
            expected = type(e)
        try:
            got: bytes | type = canonical_json(value, plain_floats=True)
        except Exception as e:  # noqa: BLE001
            got = type(e)
        assert got == expected


@pytest.mark.parametrize("plain", [True, False])
def test_generated_corpus_and_example_repo(tmp_path: Path, plain: bool) -> None:
    corpus.generate(tmp_path, 2, 2, 6, plain=plain, seed=3)
    for repo in (tmp_path, ROOT / "examples" / "repo"):
        c = Compiler(DirSource(repo))
        specs = c.specs()
        vouched = 0
        for spec in specs:
            ct = c.compile(spec)
            if ct.encodes_plain:
                vouched += 1
                assert floats_plain(ct.value)
                assert canonical_json(ct.value, plain_floats=True) == reference_json(ct.value)
        assert vouched == len(specs)  # every target of these repos: the test is not vacuous


def test_a_layer_read_again_with_other_bytes_is_merged_again(tmp_path: Path) -> None:
    """A shared layer that is also a target's own file is released after that target and
    read again; if it changed meanwhile, the next target is merged from the new reading
    alone, and encoded as json encodes it (the merged prefix was kept by paths, so the
    target held the old reading's 1e20 while its documents said every float was plain)."""
    (tmp_path / "cfgc.yaml").write_text(
        'version: 1\nhierarchy:\n  - "svc/*.yaml"\n  - "svc/{service}.yaml"\ntargets: "{service}"\n'
    )
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc/a.yaml").write_text("x: 1.0e+20\n")
    (tmp_path / "svc/b.yaml").write_text("y: 1\n")
    c = Compiler(DirSource(tmp_path))
    a, b = c.specs()
    assert target_output(c.compile(a)).data == b'{"x":1e+20,"y":1}'
    c.release(a)
    (tmp_path / "svc/a.yaml").write_text("x: 1\n")
    done = c.compile(b)
    assert done.value == {"x": 1, "y": 1}
    assert target_output(done).data == reference_json(done.value) == b'{"x":1,"y":1}'
