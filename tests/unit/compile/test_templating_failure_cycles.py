"""A failed render leaves no reference cycle behind, and keeps its error's text and location.

The error's traceback held the render's frame, whose local held the error; its
(never shown) context held Jinja2's exception, whose rewritten traceback runs
through Jinja2's own frames that hold each other: every failing template left
40 to 60 objects for the collector, so a build with many failing renders
made it run.
"""

from __future__ import annotations

import gc

import pytest

from cfgc.base.errors import InputError, Location
from cfgc.compile.template_bounds import Limits
from cfgc.compile.templating import render_target
from tests.unit.compile.test_templating_no_cycles import _collector_off  # noqa: F401 - autouse: the collector off


def _loc(path: tuple[str | int, ...]) -> Location:
    return Location("t.yaml", 7, len(path))




FAILURES = [
    ("{{ nope }}", "'nope' is undefined"),  # a whole-value expression
    ("at {{ nope }}", "'nope' is undefined"),  # text: Jinja2 rewrites the traceback
    ("at {{ config.n + 'a' }}", "unsupported operand"),
    ("{{ 1 // (config.n - 1) }}", "by zero"),
    ("at {{ ", "template syntax error"),
    ("{{ config.n.__class__.__mro__ }}", "not allowed"),  # the sandbox
    ("{{ range(10**9) | list }}", "exceeds a limit"),
]


def _fail(text: str) -> InputError:
    try:
        render_target({"n": 1, "a": {"b": text}}, {}, "t", _loc, limits=Limits())
    except InputError as e:
        return e
    raise AssertionError(f"{text!r} rendered")


@pytest.mark.parametrize(("text", "says"), FAILURES)
def test_a_failed_render_leaves_no_cycle_and_keeps_its_message_and_location(text: str, says: str) -> None:
    _fail(text)  # first: Jinja2 imported, lazily made classes made
    gc.collect()
    for _ in range(5):
        e = _fail(text)
        assert says in str(e) and "'a.b'" in str(e)
        assert e.location == Location("t.yaml", 7, 2)
        del e
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        found = gc.collect()
        kinds = sorted({type(o).__name__ for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert found == 0, kinds


def test_an_error_that_is_not_an_input_error_keeps_its_traceback() -> None:
    # Only the errors reported as the repo's are cut from their frames; a bug keeps them for --debug.
    class Boom(Exception):
        pass

    def boom() -> None:
        raise Boom("x")

    with pytest.raises(Boom) as info:
        render_target({"a": "at {{ f() }}"}, {"f": boom}, "t", _loc)
    assert info.value.__traceback__ is not None
