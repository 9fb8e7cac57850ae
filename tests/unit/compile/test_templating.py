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


# --- Pinned by mutation testing (scripts/mutation.sh templating) ---

@pytest.mark.parametrize(("text", "expect"), [
    ("{{ x }}", True), ("a {% if x %}b{% endif %}", True), ("{{", True), ("{%", True),
    ("plain", False), ("{ {", False), ("}}", False), ("%}", False), ("{#", False), ("", False),
])
def test_is_template(text: str, expect: bool) -> None:
    from cfgc.compile.templating import is_template

    assert is_template(text) is expect


@pytest.mark.parametrize(("value", "expect"), [
    ("{{ x }}", True), ("x", False), (5, False), (None, False),
    ({"a": 1, "b": "{{ x }}"}, True), ({"a": "x", "b": 2}, False), ({}, False),
    (["x", "{% if %}"], True), (["x", 1], False), ([], False),
    ({"a": [1, {"b": ["{{ x }}"]}]}, True), ({"a": [1, {"b": ["x"]}]}, False),
    (("{{ x }}",), False),  # YAML loads only dicts and lists: other containers are not looked into
])
def test_has_templates(value: object, expect: bool) -> None:
    from cfgc.compile.templating import has_templates

    assert has_templates(value) is expect


def test_whole_expression_of_a_mapping_or_list_is_plain_rendered_data() -> None:
    org = {"a": 1, "b": "{{ config.org.a + 1 }}", "l": [1, "{{ config.org.a * 5 }}", {"m": "{{ 7 }}"}],
           "p": {"x": [1]}}
    out = render({"org": org, "copy": "{{ config.org }}", "l": "{{ config.org.l }}", "p": "{{ config.org.p }}",
                  "last": "{{ config.org.l[-2] }}", "sl": "{{ config.org.l[:2] }}", "m": "{{ config.org.l[2] }}"})
    want = {"a": 1, "b": 2, "l": [1, 5, {"m": 7}], "p": {"x": [1]}}
    assert out["org"] == want and out["copy"] == want
    assert type(out["copy"]) is dict and type(out["copy"]["l"]) is list and type(out["copy"]["l"][2]) is dict
    assert out["l"] == [1, 5, {"m": 7}] and type(out["l"]) is list
    assert out["p"] == {"x": [1]} and out["last"] == 5 and out["sl"] == [1, 5] and out["m"] == {"m": 7}
    assert org["b"] == "{{ config.org.a + 1 }}"  # the input is not modified


def test_views_iterate_and_count_like_the_data() -> None:
    out = render({"org": {"a": 1, "b": "{{ 2 }}", "l": ["x", "{{ 'y' }}", "z"]},
                  "keys": "{{ config.org|list }}", "n": "{{ config.org|length }}", "ln": "{{ config.org.l|length }}",
                  "loop": "{% for k, v in config.org.items() %}{{ k }}={{ v }};{% endfor %}",
                  "items": "{% for v in config.org.l %}{{ v }}{% endfor %}"})
    assert out["keys"] == ["a", "b", "l"] and out["n"] == 3 and out["ln"] == 3
    assert out["loop"] == "a=1;b=2;l=<config org.l>;"
    assert out["items"] == "xyz"


def test_a_view_rendered_into_text_names_its_config_path() -> None:
    out = render({"org": {"p": {"x": 1}, "l": [1]}, "s": "{{ config.org.p }}!", "t": "{{ config.org.l }}!",
                  "u": "{{ config }}!"})
    assert out["s"] == "<config org.p>!" and out["t"] == "<config org.l>!" and out["u"] == "<config (root)>!"


def test_missing_key_and_attribute_messages() -> None:
    for root, fragment in [({"a": {"b": 1}, "v": "{{ config.a.c }}"}, "template error in 'v': config.a has no key 'c'"),
                           ({"v": "{{ config.zz }}"}, "template error in 'v': config has no key 'zz'"),
                           ({"l": [1], "v": "{{ config.l[5] }}"}, "template error in 'v'")]:
        with pytest.raises(InputError) as info:
            render(root)
        assert fragment in info.value.message, info.value.message
        assert str(info.value.location) == "f.yaml:7:3"



@pytest.mark.parametrize("text", ["{{ [config.nope, 1] }}", "{{ {'a': config.nope} }}", "{{ (config.nope, 1) }}",
                                  "{{ [[config.org.nope]] }}"])
def test_an_undefined_name_inside_a_whole_value_is_a_template_error(text: str) -> None:
    # It reached the JSON encoder as Jinja2's Undefined: an internal error (exit 3).
    with pytest.raises(InputError) as info:
        render({"org": {"p": 1}, "v": text})
    assert "template error in 'v'" in info.value.message and "has no key 'no" in info.value.message

def _at(path: tuple[object, ...]) -> Location:
    """A location that names the path, so a test sees which value an error was located at."""
    return Location(".".join(map(str, path)) + ".yaml", len(path), 1)


def _error(root: dict[str, object]) -> InputError:
    with pytest.raises(InputError) as info:
        render_target(root, {}, "t", _at)
    return info.value


@pytest.mark.parametrize(("root", "message", "where"), [
    ({"a": {"b": "{{ config.a.c }}"}}, "template error in 'a.b': config.a has no key 'c'", "a.b.yaml:2:1"),
    ({"a": ["{{ 1 + 'x' }}"]}, "template error in 'a[0]': unsupported operand", "a.0.yaml:2:1"),
    ({"a": {"b": "{{ oops( }}"}}, "template syntax error in 'a.b' (Jinja2: ", "a.b.yaml:2:1"),
    ({"a": {"b": "{{ ''.__class__.__mro__ }}"}}, "template in 'a.b' is not allowed: ", "a.b.yaml:2:1"),
    ({"a": {"b": "{{ 'x' * 2000000 }}"}}, "template in 'a.b' exceeds a limit: ", "a.b.yaml:2:1"),
    ({"a": {"b": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"}}, "template in 'a.b' recurses too deeply",
     "a.b.yaml:2:1"),
    ({"a": {"b": "{{ config.a.c }}", "c": "{{ config.a.b }}"}}, "template cycle: a.b -> a.c -> a.b", "a.b.yaml:2:1"),
])
def test_each_error_names_and_locates_the_failing_template(root: dict[str, object], message: str, where: str) -> None:
    e = _error(root)
    assert e.message.startswith(message), e.message
    assert str(e.location) == where


@pytest.mark.parametrize(("root", "message"), [
    # The path of a list item reached by index is its real index, whatever the sign.
    ({"l": ["{{ config.l[-1] }}"]}, "template cycle: l[0] -> l[0]"),
    ({"l": ["{{ config.l[0] }}"]}, "template cycle: l[0] -> l[0]"),
    ({"l": ["a", "{{ config.l[-1] }}"]}, "template cycle: l[1] -> l[1]"),
    ({"v": "{{ config.l[-1] }}", "l": ["a", "{{ config.nope }}"]}, "template error in 'l[1]'"),
    ({"v": "{{ config.l[1] }}", "l": ["a", "{{ config.nope }}"]}, "template error in 'l[1]'"),
    ({"v": "{{ config.l[0] }}", "l": ["{{ config.nope }}"]}, "template error in 'l[0]'"),
    ({"v": "{{ config.l[:1] }}", "l": ["{{ config.nope }}"]}, "template error in 'l[0]'"),
    ({"v": "{{ config.m }}", "m": {"k": ["{{ config.nope }}"]}}, "template error in 'm.k[0]'"),
])
def test_values_reached_through_config_keep_their_own_path(root: dict[str, object], message: str) -> None:
    assert _error(root).message.startswith(message)


def test_errors_do_not_quote_the_targets_credentials() -> None:
    e = _error({"db": {"password": "hunter2hunter2"}, "v": "{{ {}[config.db.password] }}"})
    assert e.message.startswith("template error in 'v': ")
    assert "hunter2hunter2" not in e.message and "<redacted hmac:" in e.message


def test_a_whole_expression_read_before_its_templates_are_rendered() -> None:
    # "copy" comes first: materialising it renders org's templates, which build() then reuses.
    org = {"b": "{{ 1 + 1 }}", "l": ["{{ 'x' }}", [1, 2]], "p": {"x": [1]}}
    out = render({"copy": "{{ config.org }}", "org": org})
    assert out["copy"] == out["org"] == {"b": 2, "l": ["x", [1, 2]], "p": {"x": [1]}}
    # An untemplated subtree is shared, not copied.
    assert out["copy"]["p"] is org["p"] and out["copy"]["l"][1] is org["l"][1]


def test_mappings_built_by_a_template_become_plain_data_with_string_keys() -> None:
    out = render({"p": {"x": "{{ 3 }}"}, "v": "{{ {1: 'one', 'p': config.p, 'l': (1, config.p)} }}"})
    assert out["v"] == {"1": "one", "p": {"x": 3}, "l": [1, {"x": 3}]}
    assert type(out["v"]["p"]) is dict and type(out["v"]["l"]) is list


@pytest.mark.parametrize("text", ["{{ [1, 2] | map('nope') | list }}", "x{{ [1] | selectattr('a', 'nope') | list }}"])
def test_jinja2s_runtime_errors_are_template_errors(text: str) -> None:
    # An unknown filter or test named as a string is found only at render time
    # (TemplateRuntimeError): an input error at the template, not exit 3.
    with pytest.raises(InputError) as info:
        render({"a": text})
    assert info.value.message.startswith("template error in 'a': No ")
    assert str(info.value.location) == "f.yaml:7:3"
