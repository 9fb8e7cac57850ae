import pytest

from cfgc.base.errors import InputError, Location
from cfgc.compile.templating import render_target


def loc(path):
    return Location("f.yaml", 7, 3)


def render(root, **variables):
    return render_target(root, variables, "acme/prod/chat", loc)


def test_variables_target_and_config() -> None:
    out = render({"org": {"d": "ex.com"}, "url": "https://{{ service }}.{{ env }}.{{ config.org.d }}", "t": "{{ target }}"},
                 service="chat", env="prod")
    assert out["url"] == "https://chat.prod.ex.com"
    assert out["t"] == "acme/prod/chat"


def test_whole_expression_keeps_type() -> None:
    out = render({"a": 10, "b": "{{ config.a * 3 }}", "c": "{{ config.a > 5 }}", "d": "x{{ config.a }}"})
    assert out["b"] == 30 and out["c"] is True and out["d"] == "x10"


def test_chains_of_templates() -> None:
    out = render({"a": "{{ config.b }}-a", "b": "{{ config.c }}-b", "c": "c"})
    assert out["a"] == "c-b-a"


def test_cycle_is_an_error() -> None:
    with pytest.raises(InputError, match=r"template cycle: a -> b -> a"):
        render({"a": "{{ config.b }}", "b": "{{ config.a }}"})


def test_undefined_is_an_error_with_location() -> None:
    with pytest.raises(InputError) as info:
        render({"a": {"b": "{{ config.nope }}"}})
    assert "template error in 'a.b'" in info.value.message
    assert "nope" in info.value.message
    assert str(info.value.location) == "f.yaml:7:3"


def test_undefined_variable_is_an_error() -> None:
    with pytest.raises(InputError, match="undefined"):
        render({"a": "{{ region }}"})


def test_sandbox_blocks_unsafe_access() -> None:
    with pytest.raises(InputError, match="not allowed|unsafe|undefined"):
        render({"a": "{{ ''.__class__.__mro__ }}"})


def test_syntax_error_is_located() -> None:
    with pytest.raises(InputError, match="syntax error"):
        render({"a": "{{ oops( }}"})


def test_untemplated_value_is_returned_as_is() -> None:
    root = {"a": [1, {"b": "plain"}]}
    assert render(root) is root


def test_lists_in_config_are_reachable() -> None:
    out = render({"l": ["x", "{{ config.l[0] }}y"], "first": "{{ config.l[1] }}"})
    assert out == {"l": ["x", "xy"], "first": "xy"}


def test_undefined_names_are_worded_by_cfgc() -> None:
    """Jinja2's own wording of an undefined name changes between releases."""
    from cfgc.base.errors import InputError as _InputError
    from cfgc.compile.templating import sandbox

    env = sandbox()
    for text, expected in [("{{ nope }}", "'nope' is undefined"),
                           ("{{ (1).nope }}", "int value has no attribute or key 'nope'")]:
        with pytest.raises(Exception) as info:
            env.from_string(text).render()
        assert str(info.value) == expected, text
    assert _InputError  # the compiler wraps these with the location (tests/data/bad/template-undefined)
