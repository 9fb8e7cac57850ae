"""The example repo's encrypted tenant secrets: right keys, no plaintext, hygiene clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgc.base.errors import InputError
from cfgc.compile.hygiene import hygiene_findings, parse_time
from cfgc.repo.config import load_config
from cfgc.repo.sources import DirSource
from cfgc.secrets import fileio, ops
from cfgc.secrets.creation_rules import rule_for
from cfgc.secrets.keysources import default_keyring

EXAMPLE = Path(__file__).parents[3] / "examples" / "repo"
KEYS = EXAMPLE / "test-keys-DO-NOT-USE"
# The fake plaintext values; they must never appear in the repo's ciphertext,
# in bundles or in any message.
CANARIES = {
    "acme": (
        "sk-test-acme-openai-CANARY-7f3k9q2x-fake",
        "sk-ant-test-acme-CANARY-4m8p1z6w-fake",
        "whsec-test-acme-CANARY-9d2h5j8n",
    ),
    "globex": (
        "sk-test-globex-openai-CANARY-3b6v8c1r-fake",
        "sk-ant-test-globex-CANARY-5t2y7u4e-fake",
        "whsec-test-globex-CANARY-1g4k7l0s",
    ),
}


@pytest.mark.parametrize("tenant", sorted(CANARIES))
def test_tenant_key_decrypts_own_file_only(tenant: str, no_env_keys: None) -> None:
    path = EXAMPLE / "tenants" / tenant / "secrets.enc.yaml"
    text = path.read_text(encoding="utf-8")
    assert all(c not in text for c in CANARIES[tenant])
    assert "CANARY" not in text
    tree = ops.decrypt_file(path, default_keyring(str(KEYS / f"{tenant}.agekey")))
    openai, anthropic, webhook = CANARIES[tenant]
    assert tree == {
        "providers": {"openai": {"api_key": openai}, "anthropic": {"api_key": anthropic}},
        "webhooks": {"signing_secret": webhook},
        "key_id_unencrypted": f"{tenant}-2026-11",
    }
    (other,) = set(CANARIES) - {tenant}
    with pytest.raises(InputError) as e:
        ops.decrypt_file(path, default_keyring(str(KEYS / f"{other}.agekey")))
    assert "CANARY" not in str(e.value)


@pytest.mark.parametrize("tenant", sorted(CANARIES))
def test_creation_rule_names_only_the_tenant(tenant: str) -> None:
    rule, _ = rule_for(EXAMPLE / "tenants" / tenant / "secrets.enc.yaml")
    public = next(
        line.split()[-1]
        for line in (KEYS / f"{tenant}.agekey").read_text().splitlines()
        if "public key" in line
    )
    assert rule.recipients() == [public]


def test_example_repo_hygiene_is_clean() -> None:
    src = DirSource(EXAMPLE)
    # a fixed clock: the example files are encrypted once and age in git
    modified = fileio.read(EXAMPLE / "tenants" / "acme" / "secrets.enc.yaml")["sops"][
        "lastmodified"
    ]
    now = parse_time(modified)
    assert now is not None
    assert hygiene_findings(src, load_config(src), now) == []
