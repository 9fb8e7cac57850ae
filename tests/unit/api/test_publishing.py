"""cfgc.publish / promote / refresh_channel / list_versions: what a store holds afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

import cfgc


def test_publish_uploads_only_what_is_missing(make_bundle, signing_key, tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    b1 = make_bundle({"acme/prod/chat": {"t": 1}, "acme/dev/chat": {"t": 2}}, name="b1")
    first = cfgc.publish(b1, url, channel="prod", keys=[signing_key[0]], repository="acme-config")
    assert first.version_created and first.uploaded and first.channel is not None
    assert first.channel.pointer.repository == "acme-config" and first.channel.pointer.version == first.version
    again = cfgc.publish(b1, url)
    assert again.version == first.version and again.uploaded == () and not again.version_created
    b2 = make_bundle({"acme/prod/chat": {"t": 3}, "acme/dev/chat": {"t": 2}}, name="b2")
    second = cfgc.publish(b2, url, channel="prod", keys=[signing_key[0]])
    # The unchanged target is skipped; the pointer keeps the channel's repository.
    assert any(n for p, n in second.skipped) and second.channel is not None
    assert second.channel.pointer.repository == "acme-config" and second.channel.pointer.previous == first.version
    rows = cfgc.list_versions(url)
    assert [r.version for r in rows if r.channels == ("prod",)] == [second.version]
    assert {r.version for r in rows} == {first.version, second.version}


def test_promote_back_is_a_rollback_with_a_higher_serial(make_bundle, signing_key, tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    v1 = cfgc.publish(make_bundle({"a/b/c": {"x": 1}}, name="b1"), url, channel="prod", keys=[signing_key[0]])
    v2 = cfgc.publish(make_bundle({"a/b/c": {"x": 2}}, name="b2"), url, channel="prod", keys=[signing_key[0]])
    assert v1.channel is not None and v2.channel is not None
    back = cfgc.promote(url, "prod", v1.version, keys=[signing_key[0]])
    assert back.action == "moved" and back.pointer.version == v1.version
    assert back.pointer.serial == v2.channel.pointer.serial + 1 and back.pointer.previous == v2.version
    fresh = cfgc.refresh_channel(cfgc.open_store(url), "prod", keys=[signing_key[0]], expires="12h")
    assert fresh.pointer.version == v1.version and fresh.pointer.serial == back.pointer.serial + 1
    assert fresh.pointer.expires != back.pointer.expires


def test_dry_run_writes_nothing(make_bundle, signing_key, tmp_path: Path) -> None:
    store = tmp_path / "store"
    report = cfgc.publish(make_bundle({"a/b/c": {"x": 1}}), f"file://{store}", channel="prod",
                          keys=[signing_key[0]], dry_run=True)
    assert report.dry_run and report.uploaded and report.channel is not None
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        # A channel pointer is signed: no key, no move.
        (lambda b, url, key: cfgc.publish(b, url, channel="prod"), cfgc.UsageError),
        (lambda b, url, key: cfgc.publish(b, url, channel="prod", keys=[key], expires="5s"), cfgc.UsageError),
        (lambda b, url, key: cfgc.publish(b, url, channel="prod", keys=[key], repository="bad name"),
         cfgc.UsageError),
        # Promoting needs a published version: a store that is not there is not an empty one.
        (lambda b, url, key: cfgc.promote(url + "-missing", "prod", "0123456789ab", keys=[key]), cfgc.ExternalError),
        (lambda b, url, key: cfgc.list_versions("file://relative/path"), cfgc.UsageError),
    ],
)
def test_refusals_are_cfgc_errors(make_bundle, signing_key, tmp_path: Path, call, kind) -> None:
    url = f"file://{tmp_path / 'store'}"
    with pytest.raises(kind) as e:
        call(make_bundle({"a/b/c": {"x": 1}}), url, signing_key[0])
    assert e.value.exit_code in (2, 4)
    assert not (tmp_path / "store" / "channels").exists()


def test_the_registry_password_is_not_in_the_repr_of_an_agent_config() -> None:
    config = cfgc.AgentConfig("oci://127.0.0.1:5000/config", "prod", "127.0.0.1:8500", username="ci",
                              password="hunter2-s3cret")
    assert "hunter2" not in repr(config) and "ci" in repr(config)


def test_run_agent_refuses_secrets_on_a_public_address(signing_key, tmp_path: Path) -> None:
    config = cfgc.AgentConfig(f"file://{tmp_path}", "prod", "0.0.0.0:0", keys=(signing_key[1],), serve_secrets=True)
    with pytest.raises(cfgc.UsageError, match="loopback"):
        cfgc.run_agent(config)
