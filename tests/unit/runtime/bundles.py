"""Helpers for runtime tests: small signed bundles with prompts and secrets, published for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cfgc.bundle.signing import Signer
from cfgc.stores.base import Store
from cfgc.stores.publish import publish
from tests.fixtures.bundles import COMMIT, references, write_bundle

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "repo"
ACME_SECRETS = "tenants/acme/secrets.enc.yaml"
GLOBEX_SECRETS = "tenants/globex/secrets.enc.yaml"
ACME_KEY = EXAMPLE / "test-keys-DO-NOT-USE" / "acme.agekey"
GLOBEX_KEY = EXAMPLE / "test-keys-DO-NOT-USE" / "globex.agekey"

PROMPTS = {
    "summarize@1.2.0": "Summarize for {{ audience }} in {{ max_words | default(150) }} words:\n{{ text }}\n",
    "summarize@2.0.0": "V2 summary for {{ audience }}:\n{{ text }}\n",
}


def secret(file: str, *path: str) -> dict[str, Any]:
    return {"$secret": {"file": file, "path": list(path), "type": "str"}}


def chat(timeout: int = 20, tenant: str = "acme", **extra: Any) -> dict[str, Any]:
    """A small target with a secret, a prompt and A/B variants."""
    file = ACME_SECRETS if tenant == "acme" else GLOBEX_SECRETS
    return {
        "models": {"primary": {"model_id": "gpt-4o", "timeout_s": timeout,
                               "api_key": secret(file, "providers", "openai", "api_key")}},
        "routing": {"fallbacks": ["fast", "fallback"]},
        "prompts": {"summary": "summarize@1.2.0",
                    "ab": {"variants": [{"prompt": "summarize@1.2.0", "weight": 90},
                                        {"prompt": "summarize@2.0.0", "weight": 10}]}},
        **extra,
    }


def write(out: Path, targets: dict[str, Any], signers: list[Signer], commit: str = COMMIT) -> Path:
    """A signed bundle directory: targets list the prompts and SOPS documents they use."""
    used_p: set[str] = set()
    used_s: set[str] = set()
    for value in targets.values():
        p, s = references(value)
        used_p |= p
        used_s |= s
    return write_bundle(out, targets, prompts={p: PROMPTS[p] for p in used_p},
                        secrets={f: (EXAMPLE / f).read_bytes() for f in used_s}, signers=signers, commit=commit)


class Publisher:
    """Publish successive versions of a set of targets to a store's channel."""

    def __init__(self, store: Store, tmp: Path, signer: Signer, channel: str = "prod") -> None:
        self.store, self.tmp, self.signer, self.channel = store, tmp, signer, channel
        self.n = 0

    def bundle(self, targets: dict[str, Any], signers: list[Signer] | None = None) -> Path:
        self.n += 1
        return write(self.tmp / f"bundle{self.n}", targets, signers or [self.signer])

    def publish(self, targets: dict[str, Any], bundle_signers: list[Signer] | None = None,
                pointer_signers: list[Signer] | None = None) -> str:
        b = self.bundle(targets, bundle_signers)
        return publish(self.store, b, self.channel, pointer_signers or [self.signer]).version
