"""The layer files of the synthetic corpus, as Python values, and a tiny YAML writer.

The shape follows examples/repo: provider defaults that models inherit with
``$extends``, per-environment overrides, tenants with their own limits and
SOPS secrets, and services that add models, fallbacks and pinned prompts.
Every function takes the generator's ``random.Random`` so one seed gives one
corpus.  ``plain`` layers use nothing but mappings, lists and scalars: what a
hand-written PyYAML + deep-merge script can read too.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

ENVS = ("dev", "staging", "prod", "canary", "perf", "eu-prod", "us-prod", "sandbox")
PROD_ENVS = ("prod", "eu-prod", "us-prod")
MODELS = {
    "openai": ("gpt-4o", "gpt-4o-mini", "o3-mini"),
    "anthropic": ("claude-sonnet-4", "claude-haiku-3-5"),
    "bedrock": ("llama-3-70b", "mistral-large"),
    "azure": ("gpt-4o-azure",),
    "vertex": ("gemini-2-flash", "gemini-2-pro"),
}
PROVIDERS = tuple(MODELS)
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1")
PROMPTS = {"chat-system": ("1.0.0", "1.1.0", "1.2.0"), "summarize": ("1.0.0", "1.2.0", "2.0.0"),
           "classify": ("1.0.0", "1.0.3"), "support-reply": ("1.0.0", "1.1.0", "2.0.0")}
PROMPT_RANGES = ("^1.0", "^1", "~1.0", "1.x", "*", ">=1.0 <2.0")


@dataclass(frozen=True)
class Tag:
    """A value written with a cfgc tag: ``Tag("!append", ["x"])``, ``Tag("!delete")``."""

    tag: str
    value: Any = None


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    plain = text and text[0].isalnum() and all(c.isalnum() or c in "-_./ " for c in text)
    return text if plain and text not in ("true", "false", "null") and not text[0].isdigit() else json.dumps(text)


def _flow(items: list[Any]) -> str:
    return "[" + ", ".join(_scalar(i) for i in items) + "]"


def to_yaml(data: dict[str, Any], indent: int = 0) -> str:
    """Block-style YAML for the value shapes the layers use (deterministic)."""
    pad, lines = " " * indent, []
    for key, value in data.items():
        if isinstance(value, Tag) and isinstance(value.value, dict):
            lines.append(f"{pad}{key}: {value.tag}\n{to_yaml(value.value, indent + 2)}".rstrip("\n"))
        elif isinstance(value, Tag):
            body = "" if value.value is None else " " + (
                _flow(value.value) if isinstance(value.value, list) else str(value.value))
            lines.append(f"{pad}{key}: {value.tag}{body}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{key}:\n{to_yaml(value, indent + 2)}".rstrip("\n"))
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: {_flow(value)}")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def model(rng: random.Random, provider: str) -> dict[str, Any]:
    """A complete model endpoint (the plain corpus spells every model out)."""
    return {"provider": provider, "model_id": rng.choice(MODELS[provider]),
            "endpoint_url": f"https://api.{provider}.example.com/v1",
            "timeout_s": rng.choice([10, 20, 30, 60]), "max_retries": rng.randint(0, 4),
            "max_tokens": rng.choice([1024, 4096, 8192]), "temperature": rng.choice([0.0, 0.2, 0.7, 1.0])}


def base_layers(rng: random.Random, plain: bool) -> dict[str, dict[str, Any]]:
    """``base/*.yaml``: provider defaults and the service skeleton."""
    providers = {p: {"provider": p, "endpoint_url": f"https://api.{p}.example.com/v1",
                     "timeout_s": rng.choice([30, 45, 60]), "max_retries": rng.randint(1, 3)} for p in PROVIDERS}
    service: dict[str, Any] = {
        "service": {"tier": "standard"},
        "org": {"region": "us-east-1", "domain": "llm.example.com"},
        "routing": {"default_model": "primary", "fallbacks": ["fallback"], "strategy": "priority"},
        "limits": {"rpm": 600, "tpm": 200000, "burst": 50},
        "budget": {"monthly_usd": 3000},
        "guardrails": {"pii_redaction": True, "blocked_topics": ["weapons", "self-harm"]},
        "logging": {"level": "info", "sample_rate": 0.1},
    }
    if plain:
        service["endpoint"] = "https://api.llm.example.com"
        service["models"] = {"primary": model(rng, "openai"), "fallback": model(rng, "anthropic")}
        return {"00-providers.yaml": {"providers": providers}, "10-service.yaml": service}
    providers["bedrock"]["endpoint_url"] = "https://bedrock-runtime.{{ config.org.region }}.amazonaws.com"
    service["endpoint"] = "https://{{ service }}.{{ env }}.{{ tenant }}.{{ config.org.domain }}"
    service["models"] = {
        "primary": {"$extends": "providers.openai", "model_id": "gpt-4o", "max_tokens": 4096, "temperature": 0.2},
        "fast": {"$extends": "providers.openai", "model_id": "gpt-4o-mini", "timeout_s": 10},
        "fallback": {"$extends": "providers.anthropic", "model_id": "claude-sonnet-4"},
    }
    service["budget"]["daily_usd"] = "{{ (config.budget.monthly_usd / 30) | round(2) }}"
    service["prompts"] = {"system": Tag("!prompt", "chat-system@^1.0")}
    return {"00-providers.yaml": {"providers": providers}, "10-service.yaml": service}


def env_layer(rng: random.Random, env: str, plain: bool) -> dict[str, Any]:
    """``envs/{env}.yaml``: production spells its routing out, dev drops the burst."""
    layer: dict[str, Any] = {"logging": {"level": "warn" if env in PROD_ENVS else "debug",
                                         "sample_rate": rng.choice([0.01, 0.05, 0.1, 1.0])}}
    if env in PROD_ENVS:
        layer["service"] = {"tier": "critical"}
        layer["logging"]["retain_days"] = rng.choice([30, 90])
        routing = {"default_model": "primary", "fallbacks": ["fallback", "fast"], "strategy": "priority"}
        if plain:
            layer["models"] = {"fast": model(rng, "openai")}
        layer["routing"] = routing if plain else Tag("!replace", routing)
    elif not plain and env in ("dev", "sandbox"):
        layer["limits"] = {"rpm": 60, "tpm": 20000, "burst": Tag("!delete")}
    else:
        layer["limits"] = {"rpm": 120, "tpm": 40000}
    return layer


def tenant_layer(rng: random.Random, tenant: str, plain: bool) -> dict[str, Any]:
    """``tenants/{tenant}/tenant.yaml``: identity, region, owner, extra blocked topics."""
    region = rng.choice(REGIONS)
    layer: dict[str, Any] = {"org": {"tenant": tenant, "region": region, "owner_team": f"{tenant}-platform"},
                             "service": {"owner": f"{tenant}-platform@example.com"}}
    topics = [f"{tenant}-competitors"]
    layer["guardrails"] = {"blocked_topics": ["weapons", "self-harm", *topics] if plain else Tag("!prepend", topics)}
    return layer


def tenant_secrets(tenant: str) -> dict[str, Any]:
    """The plaintext of ``tenants/{tenant}/secrets.enc.yaml`` (fake values, clearly so)."""
    fake = f"fake-{tenant}"
    return {"providers": {"openai": {"api_key": f"{fake}-openai-not-a-real-key"},
                          "anthropic": {"api_key": f"{fake}-anthropic-not-a-real-key"}},
            "webhooks": {"signing_secret": f"{fake}-webhook-not-a-real-secret"},
            "key_id_unencrypted": f"{tenant}-2026-01"}


def tenant_env_layer(rng: random.Random) -> dict[str, Any]:
    """``tenants/{tenant}/{env}/env.yaml``: this tenant's budget and limits here."""
    return {"budget": {"monthly_usd": rng.choice([500, 3000, 12000, 25000])},
            "limits": {"rpm": rng.choice([300, 600, 1200, 3000]), "tpm": rng.choice([100000, 400000, 2000000])}}


def service_layer(rng: random.Random, name: str, plain: bool) -> dict[str, Any]:
    """``tenants/{tenant}/{env}/services/{name}.yaml``."""
    provider = rng.choice(PROVIDERS)
    layer: dict[str, Any] = {"service": {"name": name}}
    if rng.random() < 0.3:
        layer["service"]["tier"] = rng.choice(["critical", "standard", "batch"])
    if plain:
        layer["models"] = {"primary": {"timeout_s": rng.choice([10, 20, 30])}, "extra": model(rng, provider)}
        layer["routing"] = {"fallbacks": ["fallback", "extra"]}
        return layer
    layer["models"] = {"primary": {"timeout_s": rng.choice([10, 20, 30])},
                       "extra": {"$extends": f"providers.{provider}", "model_id": rng.choice(MODELS[provider]),
                                 "temperature": rng.choice([0.0, 0.3, 0.7])}}
    if rng.random() < 0.25:
        layer["models"]["long"] = {"$extends": "models.extra", "max_tokens": 16000, "timeout_s": 120}
    layer["routing"] = {"fallbacks": Tag("!append", ["extra"])}
    prompt = rng.choice([p for p in PROMPTS if p != "chat-system"])
    layer["prompts"] = {prompt.replace("-", "_"): Tag("!prompt", f"{prompt}@{rng.choice(PROMPT_RANGES)}")}
    return layer


def service_text(rng: random.Random, name: str) -> str:
    """``to_yaml(service_layer(rng, name, False))``, byte for byte, without building the mapping.

    A million service files are most of the corpus's generation time; this
    draws the same random values in the same order and formats them directly
    (tests/benchmarks/test_corpus.py compares the two on many seeds).
    """
    provider = rng.choice(PROVIDERS)
    tier = f"  tier: {rng.choice(['critical', 'standard', 'batch'])}\n" if rng.random() < 0.3 else ""
    timeout = rng.choice([10, 20, 30])
    model_id = rng.choice(MODELS[provider])
    temperature = rng.choice([0.0, 0.3, 0.7])
    long = ("  long:\n    $extends: models.extra\n    max_tokens: 16000\n    timeout_s: 120\n"
            if rng.random() < 0.25 else "")
    prompt = rng.choice(_SERVICE_PROMPTS)
    pinned = f"{prompt}@{rng.choice(PROMPT_RANGES)}"
    return (f"service:\n  name: {_scalar(name)}\n{tier}models:\n  primary:\n    timeout_s: {timeout}\n"
            f"  extra:\n    $extends: providers.{provider}\n    model_id: {_scalar(model_id)}\n"
            f"    temperature: {temperature!r}\n{long}routing:\n  fallbacks: !append [extra]\n"
            f"prompts:\n  {prompt.replace('-', '_')}: !prompt {pinned}\n")


_SERVICE_PROMPTS = [p for p in PROMPTS if p != "chat-system"]
