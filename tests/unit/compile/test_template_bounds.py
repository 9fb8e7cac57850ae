"""Every template limit: the bomb fails with its limit named at the template's
location, and a template just inside the same limit still renders."""

import time

import pytest

from cfgc.base.errors import InputError, Location
from cfgc.base.limits import Limits
from cfgc.compile.templating import render_target

SMALL = Limits(template_output_chars=1000, template_loop_iterations=100, template_seconds=30)


def loc(path):
    return Location("f.yaml", 7, 3)


def render(text, limits=SMALL, **root):
    return render_target({"v": text, **root}, {}, "t", loc, limits=limits)["v"]


def refused(text, fragment, limits=SMALL, **root):
    with pytest.raises(InputError) as info:
        render(text, limits, **root)
    assert str(info.value.location) == "f.yaml:7:3"
    assert fragment in info.value.message, info.value.message
    return info.value.message


@pytest.mark.parametrize(
    ("bomb", "ok", "limit"),
    [
        ("{{ 'x' * 1001 }}", "{{ ('x' * 1000)|length }}", "template_output_chars"),
        ("{{ [1] * 1001 }}", "{{ ([1] * 999)|length }}", "template_output_chars"),
        ("{{ ['abc'] * 400 }}", "{{ (['abc'] * 300)|length }}", "template_output_chars"),  # expanded size
        ("{{ 'x' * 600 + 'y' * 600 }}", "{{ ('x' * 400 + 'y' * 400)|length }}", "template_output_chars"),
        ("{{ 'x' * 600 ~ 'y' * 600 }}", "{{ ('x' * 400 ~ 'y' * 400)|length }}", "template_output_chars"),
        ("{{ lipsum(n=100) }}", "{{ lipsum(n=1, min=5, max=10)|length > 0 }}", "template_output_chars"),
        ("{{ 'a'|center(1001) }}", "{{ 'a'|center(999)|length }}", "template_output_chars"),
        ("{{ 'a\nb'|indent(600) }}", "{{ 'a\nb'|indent(4)|length }}", "template_output_chars"),
        ("{{ ('w ' * 100)|wordwrap(1, wrapstring='y' * 50) }}", "{{ 'a b'|wordwrap(1)|length }}", "template_output_chars"),
        ("{{ '%2000d'|format(1) }}", "{{ '%5d'|format(1)|length }}", "template_output_chars"),
        ("{{ '%*d'|format(2000, 1) }}", "{{ '%*d'|format(5, 1)|length }}", "template_output_chars"),
        ("{{ '%2000d' % 1 }}", "{{ ('%5d' % 1)|length }}", "template_output_chars"),
        ("{{ '{:>2000}'.format(1) }}", "{{ '{:>5}'.format(1)|length }}", "template_output_chars"),
        ("{{ '{:>{}}'.format(1, 2000) }}", "{{ '{:>{}}'.format(1, 5)|length }}", "template_output_chars"),
        ("{{ 'x'.ljust(2000) }}", "{{ 'x'.ljust(5)|length }}", "template_output_chars"),
        ("{{ 'x'.zfill(2000) }}", "{{ 'x'.zfill(5)|length }}", "template_output_chars"),
        ("{{ ('x' * 100).replace('x', 'y' * 20) }}", "{{ 'xx'.replace('x', 'yy')|length }}", "template_output_chars"),
        ("{{ ('x' * 100)|replace('', 'y' * 20) }}", "{{ 'xx'|replace('x', 'yy')|length }}", "template_output_chars"),
        ("{{ range(10)|join('y' * 200) }}", "{{ range(10)|join('-')|length }}", "template_output_chars"),
        ("{{ ('y' * 200).join(['a'] * 10) }}", "{{ '-'.join(['a'] * 10)|length }}", "template_output_chars"),
        ("{{ [1]|batch(2000, 0)|list }}", "{{ [1]|batch(3, 0)|list|length }}", "template_output_chars"),
        ("{{ [1]|slice(2000)|list }}", "{{ [1]|slice(3)|list|length }}", "template_output_chars"),
        ("{{ ([['x'] * 100] * 20)|sum(start=[]) }}", "{{ [[1], [2]]|sum(start=[])|length }}", "template_output_chars"),
        ("{{ (['x'] * 10)|tojson(indent=200) }}", "{{ [1]|tojson(indent=2)|length }}", "template_output_chars"),
        ("{% for i in range(100) %}{{ 'x' * 20 }}{% endfor %}", "{% for i in range(10) %}x{% endfor %}", "template_output_chars"),
        ("{% set c %}{% for i in range(60) %}{{ 'x' * 20 }}{% endfor %}{% endset %}", "{% set c %}ab{% endset %}{{ c }}",
         "template_output_chars"),
        ("{% set ns = namespace(s='xx') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
         "{% set ns = namespace(s='x') %}{% for i in range(3) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
         "template_output_chars"),
        ("{{ range(101)|list }}", "{{ range(100)|list|length }}", "template_loop_iterations"),
        ("{% for i in range(20) %}{% for j in range(20) %}{% endfor %}{% endfor %}",
         "{% for i in range(9) %}{% for j in range(9) %}{% endfor %}{% endfor %}", "template_loop_iterations"),
        ("{% for a in 'x' * 50 %}{% for b in 'x' * 50 %}{% endfor %}{% endfor %}",
         "{% for a in 'x' * 5 %}{% for b in 'x' * 5 %}{% endfor %}{% endfor %}", "template_loop_iterations"),
        ("{% for x in 'x' * 500 recursive %}{% if loop.depth < 3 %}{{ loop('x' * 500) }}{% endif %}{% endfor %}",
         "{% for x in [[1], [2]] recursive %}{{ loop(x) if x is iterable else x }}{% endfor %}", "template_loop_iterations"),
    ],
)
def test_each_bomb_fails_and_its_small_twin_renders(bomb: str, ok: str, limit: str) -> None:
    refused(bomb, f"limits.{limit}")
    render(ok)  # the same construct inside the limit is fine


def test_numbers_json_cannot_carry_are_refused() -> None:
    refused("{{ 2**62 + 2**62 }}", "64-bit range")
    refused("{{ 1e308 * 10 }}", "NaN or infinity")
    assert render("{{ 2**62 + (2**62 - 1) }}") == 2**63 - 1


def test_huge_integer_arithmetic_is_refused_before_it_runs() -> None:
    start = time.monotonic()
    refused("{{ 10 ** (10 ** 9) }}", "bits")
    refused("{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}", "bits")
    assert time.monotonic() - start < 60  # safety net, not a timing target


def test_time_limit_is_checked_inside_loops() -> None:
    limits = Limits(template_output_chars=10**6, template_loop_iterations=10**9, template_seconds=0.2)
    refused("{% for i in range(10**8) %}{% endfor %}", "limits.template_seconds", limits)


def test_unbounded_recursion_is_an_input_error() -> None:
    refused("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recurses")


def test_lists_cannot_be_grown_in_place() -> None:
    # The immutable sandbox: append/extend would grow a value past every hook.
    with pytest.raises(InputError) as info:
        render("{% set l = [1] %}{{ l.append(2) }}")
    assert "not safely callable" in info.value.message or "unsafe" in info.value.message


def test_limits_are_per_template() -> None:
    root = {"a": "{{ 'x' * 900 }}", "b": "{{ config.a ~ 'y' * 50 }}", "c": "{{ 'z' * 900 }}"}
    out = render_target(root, {}, "t", loc, limits=SMALL)
    assert len(out["a"]) == 900 and len(out["b"]) == 950 and len(out["c"]) == 900


def test_defaults_allow_ordinary_templates() -> None:
    out = render_target(
        {"rpm": 100, "v": "{% for i in range(3) %}{{ config.rpm * i }},{% endfor %}", "w": "{{ config.rpm * 2 }}"},
        {}, "t", loc,
    )
    assert out["v"] == "0,100,200," and out["w"] == 200
