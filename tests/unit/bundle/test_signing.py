"""Signing: keys, DSSE envelopes, bundle sign/verify, provenance, and the CLI."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from cfgc.base.canonical import canonical_json
from cfgc.base.errors import IntegrityError, UsageError
from cfgc.bundle.attest import PROVENANCE, SIGNATURE, sign_bundle, verify_bundle
from cfgc.bundle.signing import (
    generate_keypair,
    load_signer,
    load_verifier,
    pae,
    sign_envelope,
    verify_envelope,
)
from tests.fixtures.cli import run

T = "application/vnd.cfgc.manifest+json"


def test_pae_matches_the_dsse_spec() -> None:
    # The worked example from the DSSE protocol document.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_generate_writes_private_key_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    key, pub = generate_keypair(tmp_path / "ci")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes() and b"PUBLIC KEY" in pub.read_bytes()
    assert load_signer(key).keyid == load_verifier(pub).keyid
    with pytest.raises(UsageError, match="exists"):
        generate_keypair(tmp_path / "ci")


def test_envelope_roundtrip_and_tampering(tmp_path: Path) -> None:
    key, pub = generate_keypair(tmp_path / "k")
    other_key, other_pub = generate_keypair(tmp_path / "o")
    env = sign_envelope(b'{"a":1}', T, [load_signer(key)])
    assert base64.b64decode(env["payload"]) == b'{"a":1}'
    payload, ids = verify_envelope(env, T, [load_verifier(other_pub), load_verifier(pub)])
    assert payload == b'{"a":1}' and ids == [load_verifier(pub).keyid]
    with pytest.raises(IntegrityError, match="no valid signature"):
        verify_envelope(env, T, [load_verifier(other_pub)])
    forged = {**env, "payload": base64.b64encode(b'{"a":2}').decode()}
    with pytest.raises(IntegrityError, match="no valid signature"):
        verify_envelope(forged, T, [load_verifier(pub)])
    with pytest.raises(IntegrityError, match="payload type"):
        verify_envelope(env, "application/other", [load_verifier(pub)])


def test_signed_bundle_verifies_and_carries_provenance(make_bundle, signing_key) -> None:
    b = make_bundle({"acme/prod/chat": {"model": "m1"}, "acme/dev/chat": {"model": "m0"}})
    report = verify_bundle(b, [load_verifier(signing_key[1])])
    assert report.checked == 2 and report.provenance
    env = json.loads((b / PROVENANCE).read_bytes())
    stmt = json.loads(base64.b64decode(env["payload"]))
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    assert stmt["predicateType"] == "https://slsa.dev/provenance/v1"
    assert [s["name"] for s in stmt["subject"]] == ["targets/acme/dev/chat.json", "targets/acme/prod/chat.json"]
    deps = stmt["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert deps[0]["digest"] == {"gitCommit": "c0ffee" * 6 + "abcd"}
    assert stmt["predicate"]["runDetails"]["builder"]["version"] == {"cfgc": "0.1.0"}


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda b: (b / "targets/acme/prod/chat.json").write_bytes(b'{"model":"evil"}'), "digest"),
        (lambda b: (b / "targets/acme/prod/chat.json").unlink(), "missing"),
        (lambda b: (b / "targets/acme/extra.json").write_bytes(b"{}"), "not listed"),
        (lambda b: (b / "manifest.json").write_bytes((b / "manifest.json").read_bytes().replace(b"\"main\"", b"\"evil\"")),
         "differs from the manifest that was signed"),
        (lambda b: (b / SIGNATURE).unlink(), "not signed"),
    ],
)
def test_verify_names_what_failed(make_bundle, signing_key, damage, expected) -> None:
    b = make_bundle({"acme/prod/chat": {"model": "m1"}})
    damage(b)
    with pytest.raises(IntegrityError, match=expected):
        verify_bundle(b, [load_verifier(signing_key[1])])


def test_resigning_adds_a_second_signature(make_bundle, tmp_path: Path, signing_key) -> None:
    b = make_bundle({"a/b/c": {"x": 1}})
    key2, pub2 = generate_keypair(tmp_path / "second")
    sign_bundle(b, [load_signer(key2)])
    env = json.loads((b / SIGNATURE).read_bytes())
    assert len(env["signatures"]) == 2
    assert verify_bundle(b, [load_verifier(pub2)]).keyids == (load_verifier(pub2).keyid,)
    assert verify_bundle(b, [load_verifier(signing_key[1])]).checked == 1


def test_cli_keys_sign_verify(tmp_path: Path, make_bundle) -> None:
    b = make_bundle({"a/b/c": {"x": 1}}, sign=False)
    code, out = run("keys", "generate", str(tmp_path / "rel"))
    assert code == 0 and "0600" in out
    assert run("sign", str(b), "--key", str(tmp_path / "rel.key"))[0] == 0
    code, out = run("verify", str(b), "--key", str(tmp_path / "rel.pub"), "--format", "json")
    assert code == 0 and json.loads(out)["ok"] is True
    (b / "targets/a/b/c.json").write_bytes(canonical_json({"x": 2}))
    code, out = run("verify", str(b), "--key", str(tmp_path / "rel.pub"))
    assert code == 5
    assert "targets/a/b/c.json: digest" in out and "Traceback" not in out


def test_cli_verify_with_the_wrong_key_exits_5(tmp_path: Path, make_bundle) -> None:
    b = make_bundle({"a/b/c": {"x": 1}})
    _, pub = generate_keypair(tmp_path / "stranger")
    code, out = run("verify", str(b), "--key", str(pub))
    assert code == 5 and "no valid signature" in out


def test_build_sign_key_signs_with_source_inputs(tmp_path: Path, make_repo) -> None:
    repo = make_repo({
        "base/a.yaml": "model: m1\n",
        "envs/prod.yaml": "x: 1\n",
        "tenants/acme/tenant.yaml": "t: acme\n",
        "tenants/acme/prod/chat.yaml": "s: chat\n",
    })
    key, pub = generate_keypair(tmp_path / "k")
    out = tmp_path / "out"
    code, text = run("build", "--repo", str(repo), "--out", str(out), "--sign-key", str(key))
    assert code == 0, text
    assert verify_bundle(out, [load_verifier(pub)]).provenance
    stmt = json.loads(base64.b64decode(json.loads((out / PROVENANCE).read_bytes())["payload"]))
    uris = [d["uri"] for d in stmt["predicate"]["buildDefinition"]["resolvedDependencies"]]
    assert any(u.endswith("tenants/acme/prod/chat.yaml") for u in uris)


def test_resigning_keeps_the_build_time_provenance(tmp_path: Path, make_repo) -> None:
    repo = make_repo({
        "base/a.yaml": "model: m1\n",
        "envs/prod.yaml": "x: 1\n",
        "tenants/acme/tenant.yaml": "t: acme\n",
        "tenants/acme/prod/chat.yaml": "s: chat\n",
    })
    key, _ = generate_keypair(tmp_path / "k")
    key2, pub2 = generate_keypair(tmp_path / "k2")
    out = tmp_path / "out"
    assert run("build", "--repo", str(repo), "--out", str(out), "--sign-key", str(key))[0] == 0
    before = json.loads((out / PROVENANCE).read_bytes())
    assert run("sign", str(out), "--key", str(key2))[0] == 0
    after = json.loads((out / PROVENANCE).read_bytes())
    assert after["payload"] == before["payload"] and len(after["signatures"]) == 2
    assert verify_bundle(out, [load_verifier(pub2)]).provenance


def test_build_with_a_bad_sign_key_writes_nothing(tmp_path: Path, make_repo) -> None:
    repo = make_repo({"base/a.yaml": "model: m1\n", "envs/prod.yaml": "x: 1\n",
                      "tenants/acme/tenant.yaml": "t: acme\n", "tenants/acme/prod/chat.yaml": "s: chat\n"})
    _, pub = generate_keypair(tmp_path / "k")
    code, out = run("build", "--repo", str(repo), "--out", str(tmp_path / "out"), "--sign-key", str(pub))
    assert code == 1 and "private key" in out
    assert not (tmp_path / "out").exists()
