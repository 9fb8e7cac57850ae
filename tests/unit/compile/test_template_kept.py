"""Render results kept for the next process give exactly what a fresh Jinja2 render gives, and need no Jinja2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cfgc
from cfgc.base.limits import DEFAULT_LIMITS
from cfgc.compile import template_kept, templating
from cfgc.compile.template_kept import KeptRenders, key_text
from cfgc.compile.template_memo import MISS, RenderMemo, make_key
from tests.unit.compile.test_template_memo import ATOMS, CONFIGS, SMALL, TEMPLATES, outcome


def handed_on(kept: KeptRenders) -> KeptRenders:
    """What the next process takes back: through JSON bytes, as the out state stores it."""
    fresh = KeptRenders()
    fresh.assume(orjson.loads(orjson.dumps(kept.kept())))
    return fresh


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEMPLATES,
    first=st.lists(st.tuples(CONFIGS, st.sampled_from(["chat", "ops"]), st.sampled_from([DEFAULT_LIMITS, SMALL])),
                   min_size=1, max_size=4),  # fmt: skip
    then=st.lists(st.tuples(CONFIGS, st.sampled_from(["chat", "ops"]), st.sampled_from([DEFAULT_LIMITS, SMALL])),
                  min_size=1, max_size=4),  # fmt: skip
)
def test_a_kept_result_is_a_fresh_render(text: str, first: list[Any], then: list[Any]) -> None:
    recording = KeptRenders()
    recording.assume({})
    with mock.patch.object(templating, "KEPT", recording):
        for root, service, limits in first:
            outcome(root, text, RenderMemo(), limits, service)
    with mock.patch.object(templating, "KEPT", handed_on(recording)):
        for root, service, limits in [*first, *then]:  # a new process: a new memo, only the kept results
            assert outcome(root, text, RenderMemo(), limits, service) == outcome(root, text, None, limits, service)


def _root(usd: Any, ratio: float) -> dict[str, Any]:
    return {"budget": {"usd": usd}, "org": {"name": "acme", "t": "x", "later": "z", "key": "budget", "items": "s",
                                             "_hidden": "h"},
            "flags": {"on": True, "ratio": ratio, "none": None}, "list": [1], "db": {}}


ROOTS = [_root(usd, ratio) for usd in (0, 3, 30, -0.0, 1.5, True, "7", None) for ratio in (0.5, 1e300)]


@pytest.mark.parametrize("atom", ATOMS)
def test_every_whole_expression_gives_the_fresh_result_from_a_kept_one(atom: str) -> None:
    """Each result type (int, float, bool, str, None) crosses to the next process, for every value read."""
    text = "{{ " + atom + " }}"
    recording = KeptRenders()
    recording.assume({})
    with mock.patch.object(templating, "KEPT", recording):
        for root in ROOTS:
            outcome(root, text, RenderMemo(), DEFAULT_LIMITS, "chat")
    with mock.patch.object(templating, "KEPT", handed_on(recording)):
        for root in ROOTS:
            assert outcome(root, text, RenderMemo(), DEFAULT_LIMITS, "chat") == outcome(root, text, None,
                                                                                        DEFAULT_LIMITS, "chat")


def test_a_kept_result_needs_no_jinja2(tmp_path: Path) -> None:
    text = "{{ (config.budget.usd / 30) | round(2) }}"
    recording = KeptRenders()
    recording.assume({})
    with mock.patch.object(templating, "KEPT", recording):
        assert outcome({"budget": {"usd": 300}, "org": {}}, text, RenderMemo(), DEFAULT_LIMITS, "a")[2] == "10.0"
    (tmp_path / "kept.json").write_bytes(orjson.dumps(recording.kept()))
    code = (
        "import sys, orjson\n"
        "from cfgc.base.errors import Location\n"
        "from cfgc.compile import templating\n"
        "from cfgc.compile.template_kept import KEPT\n"
        "from cfgc.compile.template_memo import RenderMemo\n"
        "KEPT.assume(orjson.loads(open(sys.argv[1], 'rb').read()))\n"
        "loc = lambda p: Location('t.yaml', 1, 1)\n"
        "for usd in (300, 600):\n"
        "    v = templating.render_target({'v': sys.argv[2], 'budget': {'usd': usd}}, {}, 't', loc, [('v',)],\n"
        "                                 memo=RenderMemo())['v']\n"
        "    print(repr(v), 'jinja2' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(Path(cfgc.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "kept.json"), text], capture_output=True,
                          text=True, env=env, check=True)
    # The kept key renders without Jinja2; another value read is rendered by Jinja2.
    assert done.stdout.split("\n")[:2] == ["10.0 False", "20.0 True"]


def test_values_of_different_types_are_different_keys() -> None:
    parts = [(int, 1), (float, "1.0"), (bool, True), (str, "1"), (type(None), None), ("bound",), ("global",)]
    texts = {key_text(make_key("{{ x }}", DEFAULT_LIMITS, [p])) for p in parts}
    assert None not in texts and len(texts) == len(parts)
    assert key_text(make_key("t", DEFAULT_LIMITS, [(int, 1)])) != key_text(make_key("t", SMALL, [(int, 1)]))
    assert key_text(make_key("t", DEFAULT_LIMITS, [(int, True)])) is None  # a part the memo never makes


def test_results_keep_their_exact_type() -> None:
    kept = KeptRenders()
    kept.assume({})
    values = [1, 1.0, True, "1", None, -0.0, 0.0, 10**30, 1e300, "x\u2028y"]
    for i, v in enumerate(values):
        kept.note_result(make_key(f"t{i}", DEFAULT_LIMITS, []), v)
    back = handed_on(kept)
    for i, v in enumerate(values):
        got = back.result(make_key(f"t{i}", DEFAULT_LIMITS, []))
        assert type(got) is type(v) and repr(got) == repr(v)


def test_hostile_kept_entries_are_ignored() -> None:
    key = key_text(make_key("t", DEFAULT_LIMITS, []))
    kept = KeptRenders()
    kept.assume({
        "results": [[key, ["i", "1.0"]], [key + "x", ["b", "yes"]], [key + "y", ["f", "nan "]], [1, ["s", "a"]],
                    [key + "z", ["q", "a"]], "junk", [key + "w", ["s", "a"], 3], [key + "v", ["n", "x"]]],
        "reads": [["t", True, [[]], [], []], ["t", "yes", [], [], []], ["t", True, [["a", 1]], [], []],
                  ["t", True, [], ["x" * (template_kept.MAX_ENTRY_CHARS + 1)], []], "junk"],
    })
    assert kept.result(make_key("t", DEFAULT_LIMITS, [])) is MISS
    assert not kept._results and not kept._reads
    kept.assume(["not", "a", "dict"])
    assert not kept._results


def test_kept_entries_are_bounded() -> None:
    kept = KeptRenders()
    kept.assume({})
    for i in range(template_kept.MAX_ENTRIES + 10):
        kept.note_result(make_key(f"t{i}", DEFAULT_LIMITS, []), i)
        kept.note_reads(f"t{i}", False, ((), (), frozenset()))
    kept.note_result(make_key("big", DEFAULT_LIMITS, []), "x" * template_kept.MAX_ENTRY_CHARS)
    assert len(kept._results) == len(kept._reads) == template_kept.MAX_ENTRIES
    assert kept.result(make_key("t0", DEFAULT_LIMITS, [])) is MISS  # the oldest went first
    assert kept.result(make_key("big", DEFAULT_LIMITS, [])) is MISS
    stored = kept.kept()
    big = {"results": stored["results"] * 3, "reads": stored["reads"] * 3}
    back = KeptRenders()
    back.assume(big)
    assert len(back._results) <= template_kept.MAX_ENTRIES and len(back._reads) <= template_kept.MAX_ENTRIES


def test_nothing_is_recorded_unless_assumed() -> None:
    kept = KeptRenders()
    kept.note_result(make_key("t", DEFAULT_LIMITS, []), 1)
    kept.note_reads("t", False, ((), (), frozenset()))
    assert kept.kept() == {"reads": [], "results": []}


def test_a_drained_share_taken_elsewhere_is_what_was_recorded() -> None:
    worker, parent = KeptRenders(), KeptRenders()
    worker.assume(None)
    parent.assume(None)
    for i in range(5):
        worker.note_result(make_key(f"t{i}", DEFAULT_LIMITS, []), i)
        worker.note_reads(f"t{i}", i % 2 == 0, ((("a", str(i)),), ("a",), frozenset({"x"})))
    parent.take(worker.drain())
    assert parent.kept() == worker.kept()
    assert worker.drain() == ([], [])  # each share is sent once
    worker.note_result(make_key("t9", DEFAULT_LIMITS, []), 9)
    parent.take(worker.drain())
    assert parent.result(make_key("t9", DEFAULT_LIMITS, [])) == 9
    idle = KeptRenders()  # not recording (no state will be left): takes nothing
    idle.take(worker.kept() and parent.drain())
    assert idle.kept() == {"reads": [], "results": []}


def test_an_undrained_record_stays_bounded() -> None:
    kept = KeptRenders()
    kept.assume(None)
    for i in range(20 * template_kept.MAX_ENTRIES):
        kept.note_result(make_key(f"t{i % (2 * template_kept.MAX_ENTRIES)}", DEFAULT_LIMITS, []), i)
    assert len(kept._fresh) <= 4 * template_kept.MAX_ENTRIES + 1
    reads, results = kept.drain()
    assert not reads and [k for k, _ in results] == list(kept._results)
