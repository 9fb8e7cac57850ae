"""The render memo gives exactly what rendering every target afresh gives (value, type or error)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.base.errors import InputError, Location
from cfgc.base.limits import DEFAULT_LIMITS, Limits
from cfgc.base.secretrefs import SecretRef
from cfgc.compile import template_memo, templating
from cfgc.compile.template_memo import RenderMemo, reads
from cfgc.compile.templating import render_target

SMALL = Limits(template_output_chars=40, template_loop_iterations=5)

# Expressions and statements over a config whose values change between targets.
ATOMS = [
    "config.budget.usd", "config['budget'].usd", "config.budget['usd']", "config.org.name", "config.org.t",
    "config.org.later", "config.org", "config.org.items", "config.org._hidden", "config.org.missing",
    "config.db.password", "config.flags.on", "config.flags.ratio", "config.flags.none", "config.list",
    "service", "env", "target", "nope", "range(3) | list", "dict(a=1)", "config.budget.usd * 3",
    "(config.budget.usd / 7) | round(2)", "config.org.name | upper", "config.org.name ~ '-' ~ service",
    "config.org.name * config.budget.usd", "config[config.org.key].usd", "config.flags.ratio | int",
    "config.org.name | length", "config.budget.usd is even", "config.org.name.upper()",
]
TEMPLATES = st.one_of(
    st.sampled_from(ATOMS).map(lambda a: "{{ " + a + " }}"),
    st.tuples(st.sampled_from(ATOMS), st.sampled_from(ATOMS)).map(lambda p: f"x{{{{ {p[0]} }}}}-{{{{ {p[1]} }}}}"),
    st.tuples(st.sampled_from(ATOMS), st.sampled_from(ATOMS), st.sampled_from(ATOMS)).map(
        lambda p: f"{{% if {p[0]} %}}{{{{ {p[1]} }}}}{{% else %}}{{{{ {p[2]} }}}}{{% endif %}}"
    ),
    st.sampled_from(ATOMS).map(lambda a: "{% for i in range(config.budget.usd) %}{{ i }}" + "{{ " + a + " }}{% endfor %}"),
    st.sampled_from(ATOMS).map(lambda a: "{% set service = 'x' %}{{ service }}{{ " + a + " }}"),
)
CONFIGS = st.fixed_dictionaries(
    {
        "budget": st.fixed_dictionaries({"usd": st.sampled_from([0, 1, 3, 30, -0.0, 0.0, 1.5, True, "7", None])}),
        "org": st.fixed_dictionaries(
            {
                "name": st.sampled_from(["acme", "b", "", "x" * 30]),
                "t": st.sampled_from(["{{ config.org.name }}!", "{{ config.budget.usd }}", "{{ config.org.later }}"]),
                "later": st.sampled_from(["z", "{{ config.org.name }}", "{{ config.org.t }}"]),
                "key": st.sampled_from(["budget", "org"]),
                "items": st.just("shadowed"),
                "_hidden": st.just("h"),
            }
        ),
        "flags": st.fixed_dictionaries(
            {"on": st.booleans(), "ratio": st.sampled_from([0.5, 2.0, 1e300]), "none": st.none()}
        ),
        "list": st.lists(st.integers(0, 3), max_size=2),
        "db": st.just({"password": SecretRef("s.enc.yaml", ("db", "password"), "str")}),
    }
)


def loc(path: Any) -> Location:
    return Location("t.yaml", 1, 1)


def outcome(root: dict[str, Any], text: str, memo: RenderMemo | None, limits: Limits, service: str) -> Any:
    try:
        out = render_target({**root, "value": text}, {"service": service, "env": "prod"}, f"a/prod/{service}",
                            loc, [("value",), *templates_of(root)], limits, memo)  # fmt: skip
        value = out["value"]
        return "ok", type(value), "<callable>" if callable(value) else repr(value)
    except InputError as e:
        return "error", str(e)


def templates_of(root: dict[str, Any]) -> list[tuple[str, ...]]:
    return [("org", k) for k, v in root["org"].items() if "{{" in v]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEMPLATES,
    targets=st.lists(st.tuples(CONFIGS, st.sampled_from(["chat", "ops"]), st.sampled_from([DEFAULT_LIMITS, SMALL])),
                     min_size=2, max_size=5),  # fmt: skip
)
def test_a_memoised_render_is_a_fresh_render(text: str, targets: list[Any]) -> None:
    memo = RenderMemo()
    for root, service, limits in targets:
        assert outcome(root, text, memo, limits, service) == outcome(root, text, None, limits, service)


def test_the_same_inputs_render_once(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = RenderMemo()
    root = {"budget": {"usd": 300}, "org": {"name": "a"}}
    text = "{{ (config.budget.usd / 30) | round(2) }}"
    compiled = templating._compiled(text)[1]
    calls = []

    class Spy:
        def __call__(self, **kw: Any) -> Any:
            calls.append(1)
            return compiled(**kw)

    monkeypatch.setattr(templating, "_compiled", lambda t: (True, Spy()))
    for service in ("a", "b", "c"):  # a name it does not read does not matter
        assert outcome(root, text, memo, DEFAULT_LIMITS, service)[2] == "10.0"
    assert len(calls) == 1
    outcome({**root, "budget": {"usd": 600}}, text, memo, DEFAULT_LIMITS, "a")
    outcome(root, text, memo, SMALL, "a")  # the limits are part of the key
    assert len(calls) == 3


@pytest.mark.parametrize(
    "text",
    [
        "{{ config.org.name | random }}", "{{ lipsum(1) }}", "{{ config }}", "{{ config | length }}",
        "{% with c = config %}{{ c.org }}{% endwith %}", "{% macro m() %}{{ config.org.name }}{% endmacro %}{{ m() }}",
        "{{ self }}", "{{ config.org.name | nofilter }}", "{{ x is notatest }}", "{{ (",
    ],
)  # fmt: skip
def test_what_may_read_anything_is_not_memoised(text: str) -> None:
    found = reads(text, templating.WHOLE.match(text) is not None)
    # lipsum and self are names no context holds: the renderer refuses them.
    assert found is None or found[1] in (("lipsum",), ("self",))
    memo = RenderMemo()
    outcome({"org": {"name": "a"}}, text, memo, DEFAULT_LIMITS, "chat")
    assert not memo._items


def test_a_chain_of_constant_keys_is_read_and_nothing_else() -> None:
    found = reads("{{ config.a.b + config['c'].d ~ service }}{% for i in range(2) %}{{ i }}{% endfor %}", False)
    assert found is not None
    chains, names, bound = found
    assert set(chains) == {("a", "b"), ("c", "d")}
    assert set(names) == {"service", "range", "i"} and bound == {"i"}


def test_the_memo_is_bounded_in_entries_and_bytes() -> None:
    memo = RenderMemo(entries=3, max_bytes=200, max_entry=100)
    for i in range(5):
        memo.put(template_memo.make_key(f"t{i}", DEFAULT_LIMITS, [(str, "v")]), "r")
    assert len(memo._items) == 3 and memo.get(template_memo.make_key("t0", DEFAULT_LIMITS, [(str, "v")])) is template_memo.MISS
    memo.put(template_memo.make_key("big", DEFAULT_LIMITS, [(str, "v" * 200)]), "r")  # over max_entry: not kept
    assert memo.get(template_memo.make_key("big", DEFAULT_LIMITS, [(str, "v" * 200)])) is template_memo.MISS
    for i in range(3):
        memo.put(template_memo.make_key(f"m{i}", DEFAULT_LIMITS, [(str, "v" * 90)]), "r")
    assert memo.bytes <= 200
    memo.put(template_memo.make_key("list", DEFAULT_LIMITS, []), ["not", "a", "scalar"])
    assert memo.get(template_memo.make_key("list", DEFAULT_LIMITS, [])) is template_memo.MISS


def test_a_template_too_deep_to_parse_is_not_memoised() -> None:
    assert reads("{{ " + "(" * 2000 + "config.a" + ")" * 2000 + " }}", True) is None
    assert reads("{{ " + "(" * 20 + "config.a" + ")" * 20 + " }}", True) == ((("a",),), (), frozenset())


@pytest.mark.parametrize("text", [
    "{{ ['abcdefgh', 'abcdefgh', 'abcdefgh'] | map('random') | list | join }}x",  # a filter named by a string
    "{% for lipsum in [1] %}{% endfor %}{{ lipsum(1, False) }}",  # a global again after its loop
    "{% set lipsum = 1 %}{{ lipsum }}",
])
def test_randomness_behind_a_name_is_not_memoised(text: str) -> None:
    """Each target renders its own random text, memo or not."""
    assert reads(text, False) is None
    memo = RenderMemo()
    loc = lambda p: Location("f.yaml", 1, 1)  # noqa: E731
    outs = {str(render_target({"a": text}, {}, f"t{i}", loc, memo=memo)["a"]) for i in range(20)}
    fresh = {str(render_target({"a": text}, {}, f"t{i}", loc)["a"]) for i in range(20)}
    assert len(outs) > 1 or len(fresh) == 1
