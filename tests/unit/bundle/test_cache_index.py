"""The build cache index: authenticated, bounded, and safe to read from any bytes."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc import __version__
from cfgc.bundle import cache_index
from cfgc.bundle.cache_index import (
    MAGIC,
    CacheCorrupt,
    cache_key,
    decode_index,
    default_cache_dir,
    encode_index,
    file_entry,
    target_entry,
)
from cfgc.repo.sources import DirSource

KEY = b"k" * 32
DIGEST = "sha256:" + "ab" * 32
ENTRY = [DIGEST, 12, ["hi@1.0.0"], ["secrets/a.enc.yaml"]]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


def _signed(body: bytes, key: bytes = KEY) -> bytes:
    return MAGIC + hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n" + body


def test_round_trip() -> None:
    data = encode_index(KEY, "/repo", {"a.yaml": ["1:2:3:4", "cd" * 32]}, {"k": ENTRY})
    assert decode_index(KEY, data) == ("/repo", {"a.yaml": ["1:2:3:4", "cd" * 32]}, {"k": ENTRY})
    assert target_entry(ENTRY) == (DIGEST, 12, ("hi@1.0.0",), ("secrets/a.enc.yaml",))


@pytest.mark.parametrize("damage", ["other key", "flipped byte", "truncated", "garbage", "marshal", "empty"])
def test_damaged_index_is_refused_before_parsing(damage: str) -> None:
    data = encode_index(KEY, "/repo", {}, {"k": ENTRY})
    bad = {
        "other key": encode_index(b"x" * 32, "/repo", {}, {"k": ENTRY}),
        "flipped byte": data[:-3] + bytes([data[-3] ^ 1]) + data[-2:],
        "truncated": data[: len(data) // 2],
        "garbage": os.urandom(200),
        "marshal": __import__("marshal").dumps({"targets": {"k": ENTRY}}),
        "empty": b"",
    }[damage]
    with pytest.raises(CacheCorrupt):
        decode_index(KEY, bad)


def test_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode_index(KEY, "/repo", {}, {str(i): ENTRY for i in range(10)})
    monkeypatch.setattr(cache_index, "MAX_ENTRIES", 9)
    with pytest.raises(CacheCorrupt, match="more than 9 entries"):
        decode_index(KEY, data)
    monkeypatch.setattr(cache_index, "MAX_INDEX_BYTES", len(data) - 1)
    with pytest.raises(CacheCorrupt, match="larger than"):
        decode_index(KEY, data)


def test_other_version_is_stale_not_corrupt() -> None:
    body = json.dumps({"cfgc": "0.0.0-other", "root": "/r", "files": {}, "targets": {"k": ENTRY}}).encode()
    assert decode_index(KEY, _signed(body)) == ("", {}, {})
    assert decode_index(KEY, b"cfgc-build-cache 99\nwhatever") == ("", {}, {})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_raise_only_the_handled_error(data: bytes) -> None:
    for candidate in (data, MAGIC + data):
        with contextlib.suppress(CacheCorrupt):
            decode_index(KEY, candidate)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                 st.integers(1, 5000).map(lambda n: b"[" * n)))
def test_any_authenticated_body_raises_only_the_handled_error(body: bytes) -> None:
    # Even with the key (a leaked secret), a body is parsed within bounds.
    try:
        _root, files, targets = decode_index(KEY, _signed(body))
    except CacheCorrupt:
        return
    for v in targets.values():
        target_entry(v)
    for v in files.values():
        file_entry(v)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_entries_are_checked_or_refused(raw: object) -> None:
    entry = target_entry(raw)
    if entry is not None:
        assert len(entry[0]) == 71 and entry[0].startswith("sha256:")
    file_entry(raw)


@pytest.mark.parametrize("digest", [
    "sha256:../../../../etc/hostname", "../../../../etc/hostname", "sha256:" + "AB" * 32,
    "sha256:" + "ab" * 31 + "a/", "sha256:" + "ab" * 32 + "\n", "sha1:" + "ab" * 20, "sha256:/etc/passwd",
])
def test_digest_must_be_sha256_hex_before_any_path_join(digest: str) -> None:
    assert target_entry([digest, 1, [], []]) is None


@pytest.mark.parametrize("secret", ["../outside.yaml", "/etc/passwd", "a/../../b", ""])
def test_secret_files_stay_inside_the_repo(secret: str) -> None:
    assert target_entry([DIGEST, 1, [], [secret]]) is None


def test_file_entry_digest_is_hex() -> None:
    assert file_entry(["1:2:3:4", "cd" * 32]) == ("1:2:3:4", "cd" * 32)
    assert file_entry(["1:2:3:4", "../x"]) is None
    assert file_entry(["1:2:3:4", 5]) is None


def test_default_location_is_outside_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    ca, cb = default_cache_dir(DirSource(a)), default_cache_dir(DirSource(b))
    assert ca is not None and cb is not None and ca != cb
    assert ca.parent == tmp_path / "xdg" / "cfgc" and not ca.is_relative_to(a)
    assert default_cache_dir(DirSource(a / ".." / "a")) == ca  # the resolved root
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # invalid per the XDG spec: ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir(DirSource(a)) == tmp_path / "home" / ".cache" / "cfgc" / ca.name
    monkeypatch.setenv("CFGC_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir(DirSource(a)) == tmp_path / "explicit"


def test_key_is_private_stable_and_outside_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    k1 = cache_key()
    path = tmp_path / "state" / "cfgc" / "cache-secret"
    assert path.stat().st_mode & 0o777 == 0o600 and len(k1) == 64
    assert cache_key() == k1
    monkeypatch.setenv("CFGC_CACHE_SECRET", "ci-secret")
    assert cache_key() not in (k1, b"ci-secret")
    monkeypatch.delenv("CFGC_CACHE_SECRET")
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").write_text("x" * 64)
    with pytest.raises(OSError):
        cache_key()


def test_version_is_in_the_body() -> None:
    assert __version__.encode() in encode_index(KEY, "/r", {}, {})


def test_a_cache_secret_that_is_not_utf8_keys_by_its_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """CFGC_CACHE_SECRET=$'\\xff' reaches Python with a surrogate; its bytes are the secret
    (it raised UnicodeEncodeError, and `cfgc diff` ended with exit 3)."""
    monkeypatch.setenv("CFGC_CACHE_SECRET", "\udcff")
    assert cache_key() == hashlib.sha256(b"cfgc build cache\0\xff").digest()
    monkeypatch.setenv("CFGC_CACHE_SECRET", "s\u00e9cret")  # valid UTF-8 keys as before
    assert cache_key() == hashlib.sha256("cfgc build cache\0s\u00e9cret".encode()).digest()
