"""cfgc.sign_bundle / verify_bundle / generate_keys / key_id."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

import cfgc


def test_generated_keys_sign_what_they_verify(make_bundle, tmp_path: Path) -> None:
    pair = cfgc.generate_keys(tmp_path / "release")
    assert stat.S_IMODE(pair.private.stat().st_mode) == 0o600
    assert cfgc.key_id(pair.public) == cfgc.key_id(pair.private) == pair.keyid
    bundle = make_bundle({"acme/prod/chat": {"t": 1}}, sign=False)
    signed = cfgc.sign_bundle(bundle, keys=[pair.private])
    manifest = (bundle / "manifest.json").read_bytes()
    assert signed.manifest_digest == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert (bundle / signed.signature).is_file() and (bundle / signed.provenance).is_file()
    report = cfgc.verify_bundle(bundle, keys=[pair.public])
    assert list(report.keyids) == [pair.keyid] and not report.problems and report.provenance


def test_generate_refuses_to_replace_a_key_unless_forced(tmp_path: Path) -> None:
    first = cfgc.generate_keys(tmp_path / "k")
    with pytest.raises(cfgc.UsageError):
        cfgc.generate_keys(tmp_path / "k")
    assert cfgc.key_id(first.public) == first.keyid  # untouched
    assert cfgc.generate_keys(tmp_path / "k", force=True).keyid != first.keyid


def test_a_changed_file_fails_verification_naming_it(make_bundle, tmp_path: Path) -> None:
    pair = cfgc.generate_keys(tmp_path / "k")
    bundle = make_bundle({"acme/prod/chat": {"t": 1}}, sign=False)
    cfgc.sign_bundle(bundle, keys=[pair.private])
    target = bundle / "targets/acme/prod/chat.json"
    target.write_text(json.dumps({"t": 2}))
    with pytest.raises(cfgc.VerificationFailed) as e:
        cfgc.verify_bundle(bundle, keys=[pair.public])
    assert e.value.exit_code == 5 and isinstance(e.value, cfgc.IntegrityError)
    assert any("targets/acme/prod/chat.json" in p for p in e.value.report.problems)


def test_a_key_that_did_not_sign_is_refused(make_bundle, tmp_path: Path) -> None:
    signer, other = cfgc.generate_keys(tmp_path / "a"), cfgc.generate_keys(tmp_path / "b")
    bundle = make_bundle({"acme/prod/chat": {"t": 1}}, sign=False)
    cfgc.sign_bundle(bundle, keys=[signer.private])
    with pytest.raises(cfgc.IntegrityError):
        cfgc.verify_bundle(bundle, keys=[other.public])


def test_no_key_is_a_usage_error(make_bundle) -> None:
    bundle = make_bundle({"acme/prod/chat": {"t": 1}}, sign=False)
    with pytest.raises(cfgc.UsageError):
        cfgc.sign_bundle(bundle)
    with pytest.raises(cfgc.UsageError):
        cfgc.verify_bundle(bundle)
