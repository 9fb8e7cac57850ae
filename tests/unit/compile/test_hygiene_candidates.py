"""The fast YAML path hands the credential scan the string leaves it collected
while it checked the value; they are exactly those the scan's own walk finds,
in the same order (the walk is the reference)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.base import yaml_fast
from cfgc.base.loading import load_yaml
from cfgc.compile import hygiene
from cfgc.secrets.scan import MIN_ENTROPY_LENGTH

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus  # noqa: E402

pytestmark = pytest.mark.skipif(not yaml_fast.AVAILABLE, reason="yaml-rs is not installed")


def _fast_and_walked(raw: bytes) -> tuple[list[Any] | None, list[Any]]:
    doc = load_yaml(raw, "f.yaml", reload=lambda: raw)
    fast = doc.scanned[1] if doc.scanned is not None else None
    return fast, list(hygiene._walk(doc.data, ()))  # noqa: SLF001 - the walk is the reference


def test_the_lengths_agree() -> None:
    assert yaml_fast.CANDIDATE_LENGTH == MIN_ENTROPY_LENGTH


_STRINGS = st.sampled_from(["@", "a@b", "x" * 16, "x" * 15, "https://api.example.com/v1", "sk-" + "A" * 30, "k"])
_KEYS = st.sampled_from(["api_key", "token", "url", "a", "b"])
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False) | _STRINGS
    | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(_KEYS, kids, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_VALUES, st.sampled_from([False, True]))
def test_generated_documents(value: Any, flow: bool) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True)
    fast, walked = _fast_and_walked(text.encode("utf-8", "surrogatepass"))
    if fast is not None:
        assert fast == walked


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


@pytest.mark.parametrize("plain", [True, False])
def test_generated_corpus_and_repo_files(tmp_path: Path, plain: bool) -> None:
    corpus.generate(tmp_path, 2, 2, 6, plain=plain, seed=3)
    used = 0
    for path in _yaml_files(tmp_path) + _yaml_files(ROOT / "examples") + _yaml_files(ROOT / "tests" / "data"):
        raw = path.read_bytes()
        try:
            fast, walked = _fast_and_walked(raw)
        except Exception:  # noqa: BLE001 - files that do not load are another test's business
            continue
        if fast is not None:
            used += 1
            assert fast == walked, path
    assert used > 10  # the fast path answered for most files


def test_a_document_with_other_data_is_walked_again() -> None:
    raw = b"url: https://api.example.com/v1\n"
    doc = load_yaml(raw, "f.yaml", reload=lambda: raw)
    assert list(hygiene.candidates(doc)) == [(("url",), "https://api.example.com/v1")]
    other = dataclasses.replace(doc, data={"token": "sk-" + "A" * 30})
    assert list(hygiene.candidates(other)) == [(("token",), "sk-" + "A" * 30)]


def test_a_tagged_file_hands_the_scan_its_candidates_with_the_tagged_values() -> None:
    # A merge tag's values reach the target as any other, so the scan's walk
    # enters the tag objects (not a !prompt's name), and the parse hands it the
    # same candidates at the tags' own keys: the scan need not walk the file again.
    raw = (
        b"routing:\n  fallbacks: !append [https://api.example.com/v1]\n"
        b"  system: !prompt chat@^1.0\n  extra: !replace {token: sk-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA}\n"
        b"  gone: !delete\nendpoint_url: https://api.example.com/v1\n"
    )
    doc = load_yaml(raw, "f.yaml", reload=lambda: raw)
    assert doc.scanned is not None and doc.scanned[0] is doc.data
    walked = list(hygiene._walk(doc.data, ()))  # noqa: SLF001 - the walk is the reference
    assert list(hygiene.candidates(doc)) == walked == [
        (("routing", "fallbacks", 0), "https://api.example.com/v1"),
        (("routing", "extra", "token"), "sk-" + "A" * 30),
        (("endpoint_url",), "https://api.example.com/v1"),
    ]


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("line", [
    "extra: !append [sk-ant-api03-AAAAbbbbCCCCddddEEEEffffGGGGhhhh1234]",
    "extra: !prepend [{token: sk-ant-api03-AAAAbbbbCCCCddddEEEEffffGGGGhhhh1234}]",
    "extra: !replace {token: sk-ant-api03-AAAAbbbbCCCCddddEEEEffffGGGGhhhh1234}",
])
def test_a_credential_inside_a_merge_tag_is_found(line: str, careful: bool) -> None:
    # Missed before: the scan did not enter tag objects, so validate said ok and
    # the build wrote the credential into the bundle.  Both loaders find it.
    raw = (("# \\\\ the careful loader\n" if careful else "") + "name: x\n" + line + "\n").encode()
    doc = load_yaml(raw, "f.yaml", reload=lambda: raw)
    [finding] = hygiene.plaintext_findings(doc)
    assert "Anthropic API key" in finding.message and "sk-ant" not in finding.message
    assert finding.location is not None and finding.location.line == (3 if careful else 2)


@pytest.mark.parametrize("careful", [False, True])
def test_merge_tags_under_the_same_key_name_are_each_scanned(careful: bool) -> None:
    # Each tag's values are marked seen by the tag's own value, never by a copy
    # whose id the next tag's copy could reuse.
    raw = (("# \\\\ the careful loader\n" if careful else "")
           + "".join(f"s{i}:\n  extra: !append [sk-ant-api03-{i:04}bbbbCCCCddddEEEEffffGGGGhhhh]\n" for i in range(20)))
    doc = load_yaml(raw.encode(), "f.yaml", reload=lambda: raw.encode())
    assert len(hygiene.plaintext_findings(doc)) == 20
