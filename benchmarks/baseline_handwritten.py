#!/usr/bin/env python3
"""The baseline a team would write by hand: PyYAML + deep merge + jsonschema.

For the --plain corpus of benchmarks/corpus.py: every layer file is parsed
once with the libyaml loader (a cache by path), the five levels (base/*.yaml,
envs/{env}.yaml, tenants/{tenant}/tenant.yaml, tenants/{tenant}/{env}/env.yaml,
the service file) are deep-merged per target, each target is validated with a jsonschema validator
compiled once, and written as sorted JSON.  No provenance, no error locations.

    baseline_handwritten.py REPO OUT
"""

from __future__ import annotations

import glob
import json
import os
import sys
from typing import Any

import jsonschema
import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(out[k], v) if k in out else v
        return out
    return over


def main(repo: str, out: str) -> int:
    cache: dict[str, Any] = {}

    def load(path: str) -> Any:
        if path not in cache:
            if os.path.exists(path):
                with open(path, "rb") as f:
                    cache[path] = yaml.load(f, Loader=Loader) or {}
            else:
                cache[path] = {}
        return cache[path]

    with open(os.path.join(repo, "schemas", "service.json")) as f:
        validator = jsonschema.Draft202012Validator(json.load(f))
    base: Any = {}
    for g in sorted(glob.glob(os.path.join(repo, "base", "*.yaml"))):
        base = deep_merge(base, load(g))
    errors = 0
    n = 0
    for svc in sorted(glob.glob(os.path.join(repo, "tenants", "*", "*", "services", "*.yaml"))):
        parts = svc.split(os.sep)
        tenant, env, service = parts[-4], parts[-3], parts[-1][: -len(".yaml")]
        value = base
        for layer in (
            os.path.join(repo, "envs", env + ".yaml"),
            os.path.join(repo, "tenants", tenant, "tenant.yaml"),
            os.path.join(repo, "tenants", tenant, env, "env.yaml"),
            svc,
        ):
            value = deep_merge(value, load(layer))
        for err in validator.iter_errors(value):
            errors += 1
            print(f"{tenant}/{env}/{service}: {err.message}", file=sys.stderr)
        dest = os.path.join(out, tenant, env, service + ".json")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as f:
            json.dump(value, f, sort_keys=True, separators=(",", ":"))
        n += 1
    print(f"{n} targets, {errors} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
