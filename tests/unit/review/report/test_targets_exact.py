"""The loops that find a diff's targets exact (and the quick TargetDiff) say
what the plain calls say."""

from __future__ import annotations

import pickle
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import Location
from cfgc.compile.merging import MISSING
from cfgc.review.diff_result import TargetDiff, target_diff
from cfgc.review.diff_values import Change
from cfgc.review.report.diff import _targets_exact
from cfgc.review.report.json_text import exact
from tests.unit.review.report.test_json_text import _SCALARS, _VALUES

_VARS = st.one_of(st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3),
                  st.dictionaries(st.one_of(st.text(max_size=2), st.integers()), _SCALARS, max_size=3),
                  _VALUES)
_CHANGE = st.builds(Change, st.tuples(st.text(max_size=3)), st.one_of(_VALUES, st.just(MISSING)),
                    st.one_of(_VALUES, st.just(MISSING)), st.just(Location("f.yaml", 1, 1)), st.booleans())


@st.composite
def _targets(draw: Any) -> tuple[TargetDiff, ...]:
    shared = draw(st.lists(_CHANGE, min_size=1, max_size=3))  # targets share Change objects
    out = []
    for name in draw(st.lists(st.text(max_size=4), max_size=5)):
        changes = draw(st.lists(st.one_of(st.sampled_from(shared), _CHANGE), max_size=3))
        out.append(TargetDiff(name, "changed", draw(_VARS), draw(st.booleans()), tuple(changes)))
    return tuple(out)


def _plain(targets: tuple[TargetDiff, ...]) -> bool:
    def value(v: Any) -> bool:
        return v is MISSING or exact(v)

    return all(exact(t.vars) and all(value(c.before) and value(c.after) for c in t.changes) for t in targets)


@settings(max_examples=200, deadline=None)
@given(_targets())
def test_the_loops_say_what_exact_says(targets: tuple[TargetDiff, ...]) -> None:
    assert _targets_exact(targets) is _plain(targets)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=4), st.sampled_from(["added", "removed", "changed"]),
       st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3), st.booleans(),
       st.lists(_CHANGE, max_size=2))
def test_a_quick_target_diff_is_the_dataclass(name: str, status: str, variables: dict[str, str], prod: bool,
                                              changes: list[Change]) -> None:
    want = TargetDiff(name, status, variables, prod, tuple(changes))
    got = target_diff(name, status, variables, prod, tuple(changes))
    assert type(got) is TargetDiff and got == want and repr(got) == repr(want)
    assert vars(got) == vars(want) and repr(pickle.loads(pickle.dumps(got))) == repr(want)  # (forked workers send them back)
