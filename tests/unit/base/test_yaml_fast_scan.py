"""The fast path's text scans that skip work are the scans they replace:
tag lines found from each ``": !"`` are the regex's matches over the whole
text, and the substring prefilter of a node start never changes what
``_eligible`` answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base import yaml_fast, yaml_fast_tags
from tests.unit.base.test_yaml_fast_differential import ROOT, yaml_files
from tests.unit.base.test_yaml_fast_tags import _block

_PIECES = st.sampled_from(
    ["a", "k-1", "_x", ":", ": ", ": !", "!", "!append", "!prompt", "!delete", " ", "  ", "\n", "\t", "\r", "@", ">",
     "*", "&", "|", "?", "`", "[", "]", "{", "}", ",", "#", '"', "'", "x@1", "\x85", "\u2028", "\xa0", "\u3000", "-"]
)
_TEXTS = st.lists(_PIECES, max_size=40).map("".join)


def _old_prefilter(text: str) -> bool:
    # The prefilter before this change: every indicator anywhere.
    return (
        "&" in text or "*" in text or "!" in text or "|" in text or ">" in text
        or "?" in text or "@" in text or "`" in text or text.startswith(":")
        or " :" in text or "\n:" in text or "[:" in text or "{:" in text or ",:" in text or "::" in text
    )


def _pairs_prefilter(text: str) -> bool:
    # The prefilter before the one-search form: each indicator present, then
    # each of the characters that may precede a node's start before it.
    if text.startswith(("&", "*", "!", "|", ">", "?", "@", "`", ":")):
        return True
    return any(c in text and any(p + c in text for p in " \n[{,:") for c in "&*!|>?@`:")


def _same_matches(text: str) -> None:
    def spans(ms: object) -> list[tuple[int, int, tuple[str | None, ...]]]:
        return [(m.start(), m.end(), m.groups()) for m in ms]  # type: ignore[attr-defined]

    assert spans(yaml_fast_tags._tag_lines(text)) == spans(yaml_fast_tags._LINE.finditer(text)), text  # noqa: SLF001


def _same_eligibility(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    new = yaml_fast._eligible(text)  # noqa: SLF001
    with monkeypatch.context() as m:
        m.setattr(yaml_fast, "_may_start_a_node_oddly", _old_prefilter)
        old = yaml_fast._eligible(text)  # noqa: SLF001
    assert new == old, text


@settings(max_examples=600, deadline=None)
@given(_TEXTS)
def test_generated_texts(text: str) -> None:
    _same_matches(text)
    assert yaml_fast._may_start_a_node_oddly(text) == _pairs_prefilter(text), text  # noqa: SLF001
    with pytest.MonkeyPatch.context() as mp:
        _same_eligibility(text, mp)


@settings(max_examples=300, deadline=None)
@given(_block(0, 0))
def test_generated_tagged_files(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    _same_matches(text)
    rewritten = yaml_fast_tags.rewrite_tags(text)
    with pytest.MonkeyPatch.context() as mp:
        _same_eligibility(text if rewritten is None else rewritten[0], mp)


def test_repo_and_corpus_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import corpus

    corpus.generate(tmp_path, 2, 2, 8, plain=False, seed=5)
    files = yaml_files(tmp_path) + yaml_files(ROOT / "examples") + yaml_files(ROOT / "tests" / "data")
    assert len(files) > 20
    for path in files:
        text = path.read_text(errors="surrogateescape")
        _same_matches(text)
        rewritten = yaml_fast_tags.rewrite_tags(text)
        for scanned in (text, text if rewritten is None else rewritten[0]):
            assert yaml_fast._may_start_a_node_oddly(scanned) == _pairs_prefilter(scanned), path  # noqa: SLF001
        _same_eligibility(text if rewritten is None else rewritten[0], monkeypatch)


def test_an_indicator_after_other_whitespace_is_still_refused() -> None:
    # "\t@" starts a node for the search but not for the substring prefilter:
    # the text is refused all the same (a tab is not printable).
    for text in ["a\t@x\n", "a\r*x\n", "a\x85&x\n", "a\u3000|x\n"]:
        assert yaml_fast._NODE_START.search(text)  # noqa: SLF001
        assert not yaml_fast._may_start_a_node_oddly(text)  # noqa: SLF001
        assert not yaml_fast._eligible(text)  # noqa: SLF001


def test_the_prefilter_at_each_pair_and_the_start() -> None:
    # Every indicator at the very start, after each preceding character, and
    # after one that may not precede a node's start (the search must look back
    # exactly one character, also at the text's second character).
    for c in "&*!|>?@`:":
        for text in (c, c + "x", "x" + c, "xy" + c, *(p + c for p in " \n[{,:"), *(f"ab{p}{c}z" for p in " \n[{,:")):
            assert yaml_fast._may_start_a_node_oddly(text) == _pairs_prefilter(text), repr(text)  # noqa: SLF001


@pytest.mark.parametrize("tail", ["", " @", "\n*", "[>", "x&", "a`", ",|", ":?"])
def test_many_rare_indicators_take_one_search(tail: str) -> None:
    # Past _FIND_TRIES occurrences of one indicator, one search answers for
    # every rare indicator: the same answer, wherever the one that counts sits.
    for head in ("a@" * 40, "b*" * 40 + "c@" * 40):
        for text in (head + tail, tail + head, head + tail + head):
            assert yaml_fast._may_start_a_node_oddly(text) == _pairs_prefilter(text), repr(text)  # noqa: SLF001


def test_a_line_of_many_tag_lookalikes_is_tried_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile file cannot make the tag-line scan quadratic: each line start is tried at most once."""
    from cfgc.base import yaml_fast_tags

    real = yaml_fast_tags._LINE
    tries: list[int] = []

    class Counting:
        def match(self, text: str, pos: int) -> object:
            tries.append(pos)
            return real.match(text, pos)

    monkeypatch.setattr(yaml_fast_tags, "_LINE", Counting())
    text = 'k: "x' + ": !a" * 5000 + '"\n' + "b: !x: !y\n" * 3 + "c: !append [1]\n"
    found = [m.group(2) for m in yaml_fast_tags._tag_lines(text)]
    assert found == [m.group(2) for m in real.finditer(text)] == ["c"]
    assert len(tries) == len(set(tries)) <= text.count("\n")


def test_only_a_parser_panic_is_a_refusal_a_signal_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # A SIGTERM handler raises (cfgc.bundle.outdir.Terminated, a BaseException)
    # as yaml-rs returns; taking that for a refusal lost the signal and the build
    # went on to exit 0.  pyo3's PanicException (also a BaseException) is a refusal.
    from cfgc.base import yaml_fast
    from cfgc.bundle.outdir import Terminated

    class PanicException(BaseException):
        pass

    def raising(exc: BaseException) -> Any:
        def loads(*_args: Any, **_kwargs: Any) -> Any:
            raise exc
        return loads

    monkeypatch.setattr(yaml_fast.yaml_rs, "loads", raising(PanicException("boom")))
    assert yaml_fast.fast_load("a: 1\n", 64)[0] is yaml_fast.MISS
    for exc in (Terminated(15), KeyboardInterrupt(), SystemExit(1)):
        monkeypatch.setattr(yaml_fast.yaml_rs, "loads", raising(exc))
        with pytest.raises(type(exc)):
            yaml_fast.fast_load("a: 1\n", 64)
