"""Policy messages are masked as before: mask_messages skips classifying the
target's leaves only when that cannot change a message."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.review.policy_findings import mask_messages
from cfgc.secrets.redact import mask, sensitive_strings

OPENAI = "sk-proj-C4nary0penAIk3yDoNotEcho9x"
ENTROPY = "Qz7Xk2Lp9Wm4Rt8Vn3Bc"
_leaves = st.sampled_from([OPENAI, ENTROPY, "redacted", "hmac", "prod", "gpt-4o", "it's \"q\"", "é-ü-long",
                           "ENC[AES256_GCM,data:abc]", "a\\b", "x" * 3]) | st.text(max_size=10)
_keys = st.sampled_from(["api_key", "password", "token", "model", "name", "note"]) | st.text(max_size=5)
_values = st.recursive(_leaves | st.integers() | st.none(),
                       lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_keys, kids, max_size=4),
                       max_leaves=12)


def _slow(messages: list[str], value: object) -> list[str]:
    known = sensitive_strings(value)
    return [mask(m, known) for m in messages]


@settings(max_examples=300, deadline=None)
@given(value=_values, parts=st.lists(st.lists(_leaves | st.sampled_from([" is ", ": ", "<redacted hmac:"]),
                                              max_size=5), min_size=1, max_size=3))
def test_same_as_masking_with_every_sensitive_leaf(value: object, parts: list[list[str]]) -> None:
    messages = ["".join(p) for p in parts]
    assert mask_messages(messages, value) == _slow(messages, value)


def test_a_quoted_credential_is_masked_and_an_unquoted_message_kept() -> None:
    value = {"providers": {"openai": {"api_key": ENTROPY}}, "model": "gpt-4o"}
    quoted, plain = mask_messages([f"key {ENTROPY} leaked", "model gpt-4o is old"], value)
    assert ENTROPY not in quoted and "<redacted hmac:" in quoted
    assert plain == "model gpt-4o is old"
