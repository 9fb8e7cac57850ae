"""The credential scan with a memo of classify() answers finds exactly what
it finds without one, whatever files came before it.

A compiler keeps one memo for every layer file it loads
(``plaintext_findings(doc, encrypted, memo)``): a pair judged in one file is
not judged again in the next.  The reference is the scan without a memo.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.loading import Document, load_yaml
from cfgc.compile import hygiene
from cfgc.secrets.scan import Hit

ROOT = Path(__file__).resolve().parents[3]
OPENAI = "sk-proj-C4nary0penAIk3yDoNotEcho9x"
ENTROPY = "Qz7Xk2Lp9Wm4Rt8Vn3Bc"

_KEYS = st.sampled_from(["api_key", "token", "endpoint_url", "name", "password", "note", "auth"])
_VALUES = st.one_of(
    st.sampled_from([OPENAI, ENTROPY, "https://user:pw@example.com/x", "https://api.example.com/v1",
                     "@", "a@b", "${OPENAI_KEY}", "x" * 300, ENTROPY * 20, "ENC[AES256_GCM,data:x]"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
)
_DOC = st.dictionaries(_KEYS, st.one_of(_VALUES, st.lists(_VALUES, max_size=3),
                                       st.dictionaries(_KEYS, _VALUES, max_size=3)), max_size=5)


def _as_doc(data: object, n: int) -> Document:
    return Document(f"f{n}.yaml", data, {(): (1, 1)})


def _found(findings: list[Diagnostic]) -> list[tuple[str, str, str]]:
    return [(d.severity, d.message, d.rule) for d in findings]


@settings(max_examples=300, deadline=None)
@given(st.lists(_DOC, min_size=1, max_size=6))
def test_memo_changes_no_finding(docs: list[dict[str, object]]) -> None:
    memo: dict[tuple[str | None, str], Hit | None] = {}
    for n, data in enumerate(docs):
        doc = _as_doc(data, n)
        assert _found(hygiene.plaintext_findings(doc, memo=memo)) == _found(hygiene.plaintext_findings(doc))
    assert len(memo) <= hygiene.MEMO_ENTRIES
    assert all(len(value) <= hygiene.MEMO_MAX_CHARS for _, value in memo)


def test_memo_over_the_example_repo_and_test_data() -> None:
    memo: dict[tuple[str | None, str], Hit | None] = {}
    files = sorted([*(ROOT / "examples" / "repo").rglob("*.yaml"), *(ROOT / "tests" / "data" / "hygiene").rglob("*.yaml")])
    assert files
    for _ in range(2):  # the second round answers from the memo
        for f in files:
            raw = f.read_bytes()
            doc = load_yaml(raw, f.name, reload=lambda raw=raw: raw)
            got = hygiene.plaintext_findings(doc, memo=memo)
            assert [(d.severity, d.message, str(d.location)) for d in got] == [
                (d.severity, d.message, str(d.location)) for d in hygiene.plaintext_findings(doc)
            ]


def test_memo_stays_bounded() -> None:
    memo: dict[tuple[str | None, str], Hit | None] = {}
    data = {"items": [f"{ENTROPY}{i:06d}" for i in range(hygiene.MEMO_ENTRIES + 50)]}
    hygiene.plaintext_findings(_as_doc(data, 0), memo=memo)
    assert len(memo) == hygiene.MEMO_ENTRIES
