"""Helpers for runtime tests: small signed bundles with prompts and secrets, published for real."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.bundle.attest import sign_bundle
from cfgc.bundle.layout import BundleFile, write_bundle
from cfgc.bundle.signing import Signer
from cfgc.stores.base import Store
from cfgc.stores.publish import publish

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "repo"
ACME_SECRETS = "tenants/acme/secrets.enc.yaml"
GLOBEX_SECRETS = "tenants/globex/secrets.enc.yaml"
ACME_KEY = EXAMPLE / "test-keys-DO-NOT-USE" / "acme.agekey"
GLOBEX_KEY = EXAMPLE / "test-keys-DO-NOT-USE" / "globex.agekey"
_PINNED = re.compile(r"^[a-z0-9][a-z0-9-]*@\d+\.\d+\.\d+$")

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


def _refs(value: Any, prompts: set[str], secrets: set[str]) -> None:
    if isinstance(value, dict):
        if set(value) == {"$secret"}:
            secrets.add(value["$secret"]["file"])
            return
        for v in value.values():
            _refs(v, prompts, secrets)
    elif isinstance(value, list):
        for v in value:
            _refs(v, prompts, secrets)
    elif isinstance(value, str) and _PINNED.match(value):
        prompts.add(value)


def write(out: Path, targets: dict[str, Any], signers: list[Signer], commit: str = "c0ffee" * 6 + "abcd") -> Path:
    """A signed bundle directory: targets list the prompts and SOPS documents they use."""
    files: list[BundleFile] = []
    entries: dict[str, Any] = {}
    used_p: set[str] = set()
    used_s: set[str] = set()
    for name, value in sorted(targets.items()):
        data = canonical_json(value)
        p: set[str] = set()
        s: set[str] = set()
        _refs(value, p, s)
        used_p |= p
        used_s |= s
        files.append(BundleFile(f"targets/{name}.json", data))
        entries[name] = {"digest": sha256_digest(data), "size": len(data), "vars": {},
                         "prompts": sorted(p), "secrets": sorted(s)}
    prompts: dict[str, Any] = {}
    for pinned in sorted(used_p):
        pname, version = pinned.split("@")
        text = PROMPTS[pinned].encode()
        path = f"prompts/{pname}/{version}.j2"
        files.append(BundleFile(path, text))
        names = sorted(set(re.findall(r"\{\{\s*(\w+)", PROMPTS[pinned])))
        prompts[pinned] = {"path": path, "digest": sha256_digest(text), "size": len(text), "variables": names}
    secrets: dict[str, Any] = {}
    for file in sorted(used_s):
        data = (EXAMPLE / file).read_bytes()
        files.append(BundleFile(f"secrets/{file}", data))
        secrets[file] = {"path": f"secrets/{file}", "digest": sha256_digest(data), "size": len(data)}
    manifest = {
        "format": "cfgc.bundle/v1", "cfgc_version": "0.1.0",
        "source": {"repo_url": "https://git.example.com/acme/config.git", "ref": "main", "commit": commit,
                   "commit_time": "2026-01-02T03:04:05Z", "dirty": False, "path": ""},
        "targets": entries, "prompts": prompts, "secrets": secrets, "schemas": {},
    }
    write_bundle(out, manifest, files)
    sign_bundle(out, signers)
    return out


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
