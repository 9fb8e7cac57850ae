"""Channel pointers: repository and expiry are signed, legacy pointers are recognised, durations are bounded."""

from __future__ import annotations

import base64
import json
import time

import pytest

from cfgc.base.errors import IntegrityError, UsageError
from cfgc.bundle.signing import load_signer, load_verifier
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
    from cfgc.bundle.signing import sign_envelope
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


# --- Behaviour pinned by mutation testing (scripts/mutation.sh stores/pointer) ---

from cfgc.bundle.signing import sign_envelope  # noqa: E402
from cfgc.stores.layout import CHANNEL_TYPE  # noqa: E402
from cfgc.stores.pointer import MAX_EXPIRES, check_repository, parse_time  # noqa: E402

VALUE = {"channel": "prod", "version": "0123456789ab", "manifest_digest": DIGEST, "serial": 0,
         "previous": "ba9876543210", "repository": "r", "issued": "2026-01-01T00:00:00Z",
         "expires": "2026-01-08T00:00:00Z"}


def _unsigned(value: object, payload_type: str = CHANNEL_TYPE) -> bytes:
    payload = base64.b64encode(json.dumps(value).encode()).decode()
    return json.dumps({"payloadType": payload_type, "payload": payload, "signatures": []}).encode()


def _message(exc: pytest.ExceptionInfo) -> str:
    return str(exc.value.message)


def test_every_field_is_decoded_previous_and_serial_zero_included(signing_key) -> None:
    env = sign_envelope(json.dumps(VALUE).encode(), CHANNEL_TYPE, [load_signer(signing_key[0])])
    p = decode_pointer("prod", json.dumps(env).encode(), [load_verifier(signing_key[1])])
    assert p == Pointer(**VALUE)
    assert p.previous == "ba9876543210" and p.serial == 0
    # Without verifiers (a publisher taking the serial) the same fields come back.
    assert decode_pointer("prod", _unsigned(VALUE)) == p


def test_a_non_string_previous_is_refused() -> None:
    with pytest.raises(IntegrityError) as info:
        decode_pointer("prod", _unsigned({**VALUE, "previous": 7}))
    assert _message(info) == "channel prod: malformed pointer payload"


def test_payload_keys_of_legacy_and_current_pointers(signing_key) -> None:
    def keys(p: Pointer) -> set[str]:
        env = json.loads(encode_pointer(p, [load_signer(signing_key[0])]))
        return set(json.loads(base64.b64decode(env["payload"])))

    base = {"channel", "version", "manifest_digest", "serial", "previous"}
    assert keys(Pointer("prod", "v", DIGEST, 1)) == base
    assert keys(Pointer(**VALUE)) == base | {"repository", "issued", "expires"}


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "channel prod: pointer is not JSON"),
    (b"[1]", "channel prod: pointer is not a cfgc channel envelope"),
    (_unsigned(VALUE, "application/json"), "channel prod: pointer is not a cfgc channel envelope"),
    (_unsigned({**VALUE, "channel": "staging"}), "channel prod: the stored pointer is for channel 'staging'"),
    (_unsigned({**VALUE, "serial": "1"}), "channel prod: malformed pointer payload"),
])
def test_unverified_decoding_errors(data: bytes, message: str) -> None:
    with pytest.raises(IntegrityError) as info:
        decode_pointer("prod", data)
    assert _message(info) == message


def test_verification_errors_name_the_channel(signing_key) -> None:
    with pytest.raises(IntegrityError) as info:
        decode_pointer("prod", _unsigned(VALUE), [load_verifier(signing_key[1])])
    assert _message(info).startswith("channel prod: ")


def test_expiry_boundary_and_default_clock() -> None:
    at = parse_time("2026-01-08T00:00:00Z")
    p = Pointer(**VALUE)
    assert p.expires_at() == at == 1767830400.0
    assert p.expired(at) and not p.expired(at - 1)
    assert p.expired()  # the real clock is past 2026-01-08
    assert not Pointer(**{**VALUE, "expires": format_time(time.time() + 3600)}).expired()


def test_time_errors() -> None:
    with pytest.raises(IntegrityError) as info:
        parse_time("2026-01-01 00:00:00")
    assert _message(info) == "pointer time '2026-01-01 00:00:00' is not YYYY-MM-DDTHH:MM:SSZ"
    with pytest.raises(IntegrityError) as info:
        parse_time("2026-02-30T00:00:00Z")
    assert _message(info) == "pointer time '2026-02-30T00:00:00Z' is not a valid date"


def test_repository_names() -> None:
    assert check_repository("acme/llm-1.0_x") == "acme/llm-1.0_x"
    assert check_repository("a" * 128) == "a" * 128
    for bad in ("", "-a", "a b", "a" * 129):
        with pytest.raises(UsageError) as info:
            check_repository(bad)
        assert _message(info) == (f"bad repository name {bad!r}: letters, digits, '.', '_', '/' and '-', "
                                  "at most 128, starting with a letter or digit")


def test_duration_bounds_and_messages() -> None:
    assert parse_duration(" 366d ") == MAX_EXPIRES
    with pytest.raises(UsageError) as info:
        parse_duration("367d")
    assert _message(info) == "duration '367d' is out of range: between 60s and 366d"
    with pytest.raises(UsageError) as info:
        parse_duration("7w")
    assert _message(info) == "bad duration '7w': a number and a unit s, m, h or d (e.g. 7d, 12h)"
