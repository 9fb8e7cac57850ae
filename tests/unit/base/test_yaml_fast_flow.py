"""The fast path's flow-bracket check against the line-by-line count it replaced.

``_flow_spans_lines`` only looks at the lines that hold a bracket; it must say
exactly what counting every line says, for any text (brackets at the start or
end, on the last line without a newline, several per line, empty lines).
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cfgc.base import yaml_fast


def every_line(text: str) -> bool:
    """The reference: count the brackets of every line."""
    for line in text.split("\n"):
        if line.count("{") + line.count("[") != line.count("}") + line.count("]"):
            return True
    return False


_TEXT = st.text(alphabet=st.sampled_from("{}[]\n ab:,-\"'#"), max_size=80)


@settings(max_examples=2000, deadline=None)
@given(_TEXT)
@example("")
@example("[")
@example("a: [1, 2]\nb: {c: 1}\n")
@example("a: [1,\n  2]\n")
@example("\n\n]")
@example("x: [a]]\n")
@example("{}\n[")
def test_same_as_counting_every_line(text: str) -> None:
    assert yaml_fast._flow_spans_lines(text) == every_line(text)


def test_bracket_free_text_is_not_flow() -> None:
    assert not yaml_fast._flow_spans_lines("a: 1\nb: two\n" * 50)
    assert yaml_fast._flow_spans_lines("a: 1\n" * 50 + "b: [x,\n  y]\n")
