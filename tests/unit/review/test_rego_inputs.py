"""Projected, deduplicated Rego inputs answer exactly what whole inputs answer.

:mod:`cfgc.review.rego_inputs` finds the parts of ``input`` a policy set can
read and :class:`cfgc.review.policy.PolicySet` gives each target only those,
once per distinct projection.  The slow path is the whole input per target
(an analysis that always gives up).  Both run here over hand-written and
generated policies (a grammar of input references: static, dynamic,
aliasing, object.get, walk, ``some`` bindings, comments and strings that
mention input) and generated inputs, and must agree on every raw answer, and
on the rendered JSON and SARIF of whole check runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.repo.sources import DirSource
from cfgc.review import policy as policy_module
from cfgc.review.checks import run_checks
from cfgc.review.policy import PolicySet
from cfgc.review.rego_inputs import NONDETERMINISTIC, InputUse, analyse
from cfgc.review.report.diagnostics import render_json
from cfgc.review.report.sarif import render_sarif

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus  # noqa: E402

HEAD = "package main\n\nimport rego.v1\n\n"


def _load(tmp: Path, *modules: str) -> PolicySet:
    (tmp / "policies").mkdir(exist_ok=True)
    for old in (tmp / "policies").glob("*.rego"):
        old.unlink()
    for n, text in enumerate(modules):
        (tmp / "policies" / f"p{n}.rego").write_text(HEAD + text)
    ps = PolicySet(DirSource(tmp), "policies")
    assert ps.active, ps.errors
    return ps


def _outcome(ps: PolicySet, doc: Any) -> Any:
    try:
        return ps._query(json.dumps(doc))  # noqa: SLF001 - the path under test
    except Exception as e:  # noqa: BLE001 - a regopy failure must be the same on both paths
        return type(e).__name__, str(e)


def _agree(ps: PolicySet, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        assert _outcome(ps, ps.inputs.document(doc)) == _outcome(ps, doc), (ps.inputs.use, doc)


def _doc(config: Any, env: str = "prod", target: str = "t", changed: Any = None) -> dict[str, Any]:
    return {"target": target, "vars": {"env": env}, "config": config, "changed": changed}


# Inputs where cutting the wrong subtree changes an answer: siblings of every
# referenced key, a list and a string where an object is expected.
DOCS = [
    _doc({"a": {"b": 1, "c": [1, 2], "d": {"e": "x"}}, "models": {"m": {"t": 2, "k": 9}, "n": {"t": 0.5}},
          "secret": "input.secret"}),
    _doc({"a": [{"b": 1}], "models": {"m": "flat"}, "x": 1}, env="dev", changed=True),
    _doc({"a": "text", "models": [{"t": 3}], "routing": {"fallbacks": []}}),
    _doc({"models": {}, "b": {"a": 1}}, target="other", changed=False),
    _doc([1, 2]),
    _doc({"a": {"d": {"z": {"b": 5}}}}),
]

# (policy, what analyse must find: "whole", "impure" or the projection of DOCS[0])
CASES: list[tuple[str, Any]] = [
    ('deny contains sprintf("%v", [input.config.a.b])', {"config": {"a": {"b": 1}}}),
    ('deny contains sprintf("%v", [input["config"][`a`]])', {"config": {"a": {"b": 1, "c": [1, 2], "d": {"e": "x"}}}}),
    ('deny contains sprintf("%v", [object.get(input.config, ["a", "d"], 0)])', {"config": {"a": {"d": {"e": "x"}}}}),
    ('deny contains sprintf("%v", [object.get(input.config, "secret", 0)])', {"config": {"secret": "input.secret"}}),
    ('deny contains sprintf("%v", [input.config.a[k]]) if { some k in ["b", "c"] }',
     {"config": {"a": {"b": 1, "c": [1, 2], "d": {"e": "x"}}}}),
    ('deny contains sprintf("%v", [v.b]) if { some k in ["d"]; some v in input.config.a[k] }',
     {"config": {"a": DOCS[0]["config"]["a"]}}),
    ('deny contains sprintf("%v", [input.config.a.c[0]])', {"config": {"a": {"c": [1, 2]}}}),
    ('deny contains sprintf("%s %v", [k, m.t]) if { some k, m in input.config.models }',
     {"config": {"models": {"m": {"t": 2}, "n": {"t": 0.5}}}}),
    ('deny contains sprintf("%v", [m]) if { some m in input.config.models }', {"config": {"models": {
        "m": {"t": 2, "k": 9}, "n": {"t": 0.5}}}}),
    ('# input.config.secret\ndeny contains "input.secret" if input.vars.env == `input`', {"vars": {"env": "prod"}}),
    ('deny contains "x" if { x := input; x.config.secret }', "whole"),
    ('deny contains sprintf("%v", [count(p)]) if { walk(input, [p, v]); v == 2 }', "whole"),
    ('deny contains sprintf("%v", [object.get(input, "config", 0)])', "whole"),
    ('deny contains sprintf("%v", [v]) if { some v in input }', "whole"),
    ('deny contains "x" if { input.vars.env == "prod" with input as {"vars": {"env": "dev"}} }', "whole"),
    ('deny contains sprintf("%v", [data.main.r]) if true\nr := input.config.secret', "whole"),
    ('deny contains sprintf("%v", [object.get(input.config, "a", 0)]) if true\n'  # shadowed: not the built-in
     'object.get(x, k, d) := x.secret', {"config": DOCS[0]["config"]}),
    ('deny contains sprintf("%v", [$"{input.config.secret}"])', "whole"),
    ('deny contains sprintf("%v %v", [input.config.a.b, count(input.config)])', {"config": DOCS[0]["config"]}),
    ('deny contains sprintf("%v", [x.input]) if { x := {"input": input.config.secret} }',
     {"config": {"secret": "input.secret"}}),
    ('deny contains sprintf("%v", [input\n.config])', "whole"),
    ('deny contains sprintf("%v", [x\n.input]) if { x := {"input": 1} }', "whole"),
    # regopy reads a reference across a line break: the collection is input.config.a
    ('deny contains sprintf("%v", [v.b]) if {\n\tsome v in input.config\n\t.a\n}', {"config": DOCS[0]["config"]}),
    ('deny contains sprintf("%v", [rand.intn("k", 9), input.config.a])', "impure"),
    ('deny contains "x" if { print(input.config.a); true }', "impure"),
]


@pytest.mark.parametrize(("text", "expect"), CASES)
def test_hand_cases(tmp_path: Path, text: str, expect: Any) -> None:
    use = analyse([HEAD + text])
    if expect == "impure":
        assert not use.pure and not use.projects
    elif expect == "whole":
        assert use.pure and not use.projects
    else:
        assert _load(tmp_path, text).inputs.document(DOCS[0]) == expect
    if "$" not in text and "print" not in text:  # regopy 1.5.2 has no template strings
        _agree(_load(tmp_path, text), DOCS)


@pytest.mark.parametrize("name", [n.rstrip(".*") + ("." if n.endswith(".") else "") for n in NONDETERMINISTIC])
def test_every_nondeterministic_builtin_is_impure(name: str) -> None:
    call = f"{name}x" if name.endswith(".") else name
    assert not analyse([HEAD + f'deny contains sprintf("%v", [{call}("a"), input.vars.env])']).pure


def test_fallbacks_give_the_whole_input_where_a_projection_would_differ(tmp_path: Path) -> None:
    # Each of these reads input.config.secret only through a use the analysis
    # cannot follow; a projection to input.vars.env (the only static
    # reference) would drop it and change the answer.
    for imports, hidden in (("", 'x := input\n\tx.config.secret'), ("", 'walk(input, [p, "input.secret"])'),
                            ("", 'object.get(input, ["config", "secret"], false)'),
                            ("", 'some v in input\n\tv.secret'), ("import input.config as c\n", "c.secret")):
        ps = _load(tmp_path, f'{imports}deny contains "found" if {{\n\tinput.vars.env\n\t{hidden}\n}}\n')
        assert not ps.inputs.use.projects, hidden
        whole = [_outcome(ps, d) for d in DOCS]
        assert whole[0] != _outcome(ps, {"vars": DOCS[0]["vars"]}), hidden  # what a projection would answer
        _agree(ps, DOCS)


def test_one_evaluation_per_distinct_projection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "full"
    corpus.generate(root, 2, 2, 5, seed=3)
    calls: list[str] = []
    real = PolicySet._query
    monkeypatch.setattr(PolicySet, "_query", lambda self, text: calls.append(text) or real(self, text))
    run_checks(DirSource(root), cache=False, jobs=1)
    assert calls and len(calls) == len(set(calls)) < 20  # 20 targets share fewer projections
    calls.clear()
    (root / "policies" / "print.rego").write_text(HEAD + 'warn contains "p" if { print("x"); false }\n')
    run_checks(DirSource(root), cache=False, jobs=1)
    assert len(calls) == 20 and all('"target"' in c for c in calls)  # impure: every target, whole input


def _whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_module, "analyse", lambda texts: InputUse(None, False))


@pytest.mark.parametrize("extra", ["", "warn contains sprintf(\"%v\", [object.keys(input.config.models)]) if true\n"])
def test_same_reports_on_the_generated_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str) -> None:
    root = tmp_path / "full"
    corpus.generate(root, 2, 3, 6, seed=5)
    if extra:
        (root / "policies" / "extra.rego").write_text(HEAD + extra)

    def reports() -> tuple[str, str]:
        r = run_checks(DirSource(root), cache=False, jobs=1)
        return render_json(r.diagnostics, r.targets), render_sarif(r.diagnostics)

    fast = reports()
    with monkeypatch.context() as m:
        _whole(m)
        slow = reports()
    assert fast == slow
    assert fast[0].count('"policy.') >= 5  # grouped across targets


# A grammar of input references: each rule echoes what it read.
_KEY = st.sampled_from(["a", "b", "models", "input", "secret"])
_REF = st.builds(lambda ks: "input.config" + "".join(f'["{k}"]' if k == "input" else f".{k}" for k in ks),
                 st.lists(_KEY, max_size=3))
_USE = st.one_of(  # "@" is the use's number: its variables are its own
    _REF.map(lambda r: f"x@ := {r}"),
    st.tuples(_REF, st.lists(_KEY, max_size=3)).map(lambda t: f"x@ := object.get({t[0]}, {json.dumps(t[1])}, 0)"),
    st.tuples(_REF, _KEY).map(lambda t: f'x@ := object.get({t[0]}, "{t[1]}", 0)'),
    st.tuples(_REF, _KEY).map(lambda t: f"some k@, v@ in {t[0]}\n\tx@ := [k@, v@.{t[1]}]"),
    _REF.map(lambda r: f"some v@ in {r}\n\tx@ := v@"),
    _REF.map(lambda r: f"some k@ in object.keys({r})\n\tx@ := {r}[k@]"),
    _REF.map(lambda r: f"x@ := {r}[0]"),
    _REF.map(lambda r: f"walk({r}, [p@, x@])"),
    st.just("y@ := input\n\tx@ := y@.config.a"),
    st.just('x@ := "input.config.secret" # input.config.secret'),
    st.just("x@ := `input.config`"),
    st.just("x@ := input.vars.env"),
)
_RULE = st.tuples(st.sampled_from(["deny", "warn", "violation"]), st.lists(_USE, min_size=1, max_size=3))
_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["s", "input"])


def _nest(kids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(kids, max_size=3) | st.dictionaries(_KEY, kids, max_size=4)


_VALUE = st.recursive(_scalars, _nest, max_leaves=12)


def _rules(rules: list[tuple[str, list[str]]]) -> str:
    out = []
    for n, (kind, uses) in enumerate(rules):
        body = "\n\t".join(u.replace("@", str(i)) for i, u in enumerate(uses))
        vals = ", ".join(f"x{i}" for i in range(len(uses)))
        out.append(f'{kind} contains sprintf("{n} %v", [[{vals}]]) if {{\n\t{body}\n}}\n')
    return "".join(out)


@pytest.fixture(scope="module")
def gen_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gen")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=st.lists(_RULE, min_size=1, max_size=3), configs=st.lists(st.dictionaries(_KEY, _VALUE, max_size=4),
                                                                        min_size=1, max_size=4))
def test_generated_policies_answer_alike(gen_root: Path, rules: list[tuple[str, list[str]]],
                                         configs: list[dict[str, Any]]) -> None:
    ps = _load(gen_root, _rules(rules))
    _agree(ps, [_doc(c, target=f"t{n}") for n, c in enumerate(configs)])


def test_bounds_give_the_whole_input() -> None:
    from cfgc.review import rego_inputs

    many = "".join(f"r{n} := input.config.k{n}\n" for n in range(rego_inputs.MAX_PATHS + 1))
    assert analyse([HEAD + many]).pure and not analyse([HEAD + many]).projects
    assert analyse([HEAD + "r0 := input.config.k0\n"]).projects
    huge = HEAD + "r := input.config.a\n" + "#" * rego_inputs._MAX_TEXT  # noqa: SLF001
    assert not analyse([huge]).projects


def test_answers_are_kept_within_the_bound_and_only_for_cut_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    from cfgc.review import rego_projection
    from cfgc.review.rego_projection import Inputs

    monkeypatch.setattr(rego_projection, "MAX_REMEMBERED_BYTES", 10)
    cut = Inputs(analyse([HEAD + "r := input.vars.env\n"]))
    cut.remember("12345", (True, {}))
    cut.remember("123456", (True, {}))  # 11 bytes in all: over the bound
    assert cut.recall("12345") == (True, {}) and cut.recall("123456") is None
    whole = Inputs(analyse([HEAD + "r := input\n"]))
    whole.remember("1", (True, {}))
    assert whole.recall("1") is None and whole.document(DOCS[0]) is DOCS[0]
