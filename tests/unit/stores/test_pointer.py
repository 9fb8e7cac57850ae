"""Channel pointers: repository and expiry are signed, legacy pointers are recognised, durations are bounded."""

from __future__ import annotations

import base64
import json
import time

import pytest

from cfgc.errors import IntegrityError, UsageError
from cfgc.signing import load_signer, load_verifier
from cfgc.stores.pointer import Pointer, decode_pointer, encode_pointer, format_time, parse_duration

DIGEST = "sha256:" + "a" * 64


def test_repository_and_times_round_trip_under_the_signature(signing_key) -> None:
    now = time.time()
    p = Pointer("prod", "0123456789ab", DIGEST, 4, "ba9876543210", "acme-llm", format_time(now),
                format_time(now + 3600))
    doc = encode_pointer(p, [load_signer(signing_key[0])])
    back = decode_pointer("prod", doc, [load_verifier(signing_key[1])])
    assert back == p and not back.legacy and not back.expired(now)
    assert back.expired(now + 3601)
    # changing the repository (or the expiry) in the payload breaks the signature
    env = json.loads(doc)
    payload = json.loads(base64.b64decode(env["payload"]))
    for field, value in (("repository", "other"), ("expires", format_time(now + 10**7))):
        forged = dict(env, payload=base64.b64encode(json.dumps({**payload, field: value}).encode()).decode())
        with pytest.raises(IntegrityError):
            decode_pointer("prod", json.dumps(forged).encode(), [load_verifier(signing_key[1])])


def test_legacy_pointer_is_recognised_and_never_expires(signing_key) -> None:
    doc = encode_pointer(Pointer("prod", "0123456789ab", DIGEST, 1), [load_signer(signing_key[0])])
    assert b"expires" not in base64.b64decode(json.loads(doc)["payload"])
    p = decode_pointer("prod", doc, [load_verifier(signing_key[1])])
    assert p.legacy and not p.expired(time.time() + 10**9)


@pytest.mark.parametrize("bad", [{"serial": True}, {"serial": -1}, {"expires": "tomorrow"},
                                 {"issued": "2026-13-40T00:00:00Z"}, {"repository": 5}])
def test_malformed_fields_are_refused(signing_key, bad) -> None:
    from cfgc.signing import sign_envelope
    from cfgc.stores.layout import CHANNEL_TYPE

    value = {"channel": "prod", "version": "0123456789ab", "manifest_digest": DIGEST, "serial": 1,
             "repository": "r", "issued": "2026-01-01T00:00:00Z", "expires": "2026-01-08T00:00:00Z", **bad}
    env = sign_envelope(json.dumps(value).encode(), CHANNEL_TYPE, [load_signer(signing_key[0])])
    with pytest.raises(IntegrityError):
        decode_pointer("prod", json.dumps(env).encode(), [load_verifier(signing_key[1])])


@pytest.mark.parametrize(("text", "seconds"), [("60s", 60), ("30m", 1800), ("12h", 43200), ("7d", 604800)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "7w", "-1d", "59s", "367d", "1.5d"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)
