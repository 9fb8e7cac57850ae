#!/usr/bin/env python3
"""Generate a synthetic LLM-platform config repo for benchmarks and scale tests.

    python3 benchmarks/corpus.py --targets 10000 --seed 1 OUT
    python3 benchmarks/corpus.py --tenants 10 --envs 4 --services 250 OUT
    python3 benchmarks/corpus.py --targets 10000 --plain OUT      # for the hand-written baseline

The repo has the shape of examples/repo: tenants x environments x services,
with base, environment, tenant, tenant-environment and service layers, merge
tags (!replace, !delete, !append, !prepend), $extends chains, templates,
!prompt references into a versioned prompt library, JSON Schemas (one per
production environment too), Rego policies, and one SOPS-encrypted secrets
file per tenant for that tenant's own age key.  --plain leaves out everything
cfgc-specific (tags, $extends, templates, prompts, secrets, policies): plain
layered YAML and one schema, which benchmarks/baseline_handwritten.py also reads.

The same arguments give a byte-identical tree: every file's content comes
from its own random.Random seeded with (seed, path), and the SOPS files use
keys and IVs derived from the seed (benchmarks/corpus_secrets.py).  --keys DIR
writes each tenant's age identity (<tenant>.agekey) outside the repo;
--git makes OUT a git repository with one commit (fixed author and date).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus_layers as layers  # noqa: E402
import corpus_static as static  # noqa: E402
from corpus_secrets import age_identity, write_sops_file  # noqa: E402

# Files the harness edits to measure incremental work (relative globs).
SERVICE_GLOB = "tenants/*/*/services/*.yaml"  # reaches one target
TENANT_ENV_GLOB = "tenants/*/*/env.yaml"  # reaches one tenant's services in one environment
BASE_GLOB = "base/*.yaml"  # reaches every target
MAX_SERVICES = 250  # per tenant and environment when only --targets is given
SERVICE_WORDS = ("chat", "search", "summarizer", "support", "rag", "classifier", "agent", "extract")


def shape_for(targets: int, envs: int = 4) -> tuple[int, int, int]:
    """(tenants, envs, services) with at least ``targets`` slots, at most MAX_SERVICES per tenant and env."""
    if targets < 1:
        raise ValueError("--targets must be at least 1")
    envs = min(envs, targets)
    tenants = math.ceil(targets / (envs * MAX_SERVICES))
    return tenants, envs, math.ceil(targets / (tenants * envs))


def env_names(envs: int) -> list[str]:
    return [layers.ENVS[e] if e < len(layers.ENVS) else f"env-{e}" for e in range(envs)]


def tenant_names(tenants: int) -> list[str]:
    return [f"tenant-{t:03d}" for t in range(tenants)]


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _rng(seed: int, rel: str) -> random.Random:
    # One generator per file: a file's content depends on the seed and its path
    # only, not on how many files were written before it.
    return random.Random(f"{seed}:{rel}")


def _fixed_files(out: Path, seed: int, plain: bool, envs: list[str], tenants: list[str]) -> None:
    production = tuple(e for e in envs if e in layers.PROD_ENVS)
    _write(out, "cfgc.yaml", static.cfgc_yaml(plain, production))
    for name, text in static.schema_files(plain).items():
        _write(out, f"schemas/{name}", text)
    for name, layer in layers.base_layers(_rng(seed, "base"), plain).items():
        _write(out, f"base/{name}", layers.to_yaml(layer))
    for env in envs:
        _write(out, f"envs/{env}.yaml", layers.to_yaml(layers.env_layer(_rng(seed, f"envs/{env}"), env, plain)))
    if plain:
        return
    for name, versions in layers.PROMPTS.items():
        for version in versions:
            _write(out, f"prompts/{name}/{version}.j2", static.prompt_text(name, version))
    for name, text in static.POLICIES.items():
        _write(out, f"policies/{name}", text)
    rules = "".join(f"  - path_regex: tenants/{t}/.*\n    age: {age_identity(seed, t)[1]}\n" for t in tenants)
    _write(out, ".sops.yaml", "# One rule per tenant: only its runtime can decrypt its files.\ncreation_rules:\n" + rules)


def generate(out: Path, tenants: int, envs: int, services: int, *, plain: bool = False, seed: int = 1,
             targets: int | None = None, jobs: int = 1) -> int:
    """Write the corpus into ``out`` (created; must not hold files); returns the number of targets.

    ``targets`` stops after that many service files (the last tenant/env may get fewer services).
    ``jobs`` processes write the tenants' files; the tree is the same for any number.
    """
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    limit = targets if targets is not None else tenants * envs * services
    env_list, tenant_list = env_names(envs), tenant_names(tenants)
    _fixed_files(out, seed, plain, env_list, tenant_list)
    work: list[tuple[Path, int, bool, str, list[tuple[str, int]]]] = []
    count = 0
    for tenant in tenant_list:
        if count >= limit:
            break
        shape = []
        for env in env_list:
            if count >= limit:
                break
            shape.append((env, min(services, limit - count)))
            count += shape[-1][1]
        work.append((out, seed, plain, tenant, shape))
    if jobs > 1 and len(work) > 1:
        # fork: the workers inherit the imported modules; every file depends on
        # (seed, path) only, so the split between processes changes nothing.
        with multiprocessing.get_context("fork").Pool(min(jobs, len(work))) as pool:
            for _ in pool.imap_unordered(_tenant_files, work, chunksize=1):
                pass
    else:
        for item in work:
            _tenant_files(item)
    return count


def _tenant_files(item: tuple[Path, int, bool, str, list[tuple[str, int]]]) -> None:
    """One tenant's layers, secrets and services (``shape``: services per environment)."""
    out, seed, plain, tenant, shape = item
    base = f"tenants/{tenant}"
    _write(out, f"{base}/tenant.yaml", layers.to_yaml(layers.tenant_layer(_rng(seed, base), tenant, plain)))
    if not plain:
        write_sops_file(out / base / "secrets.enc.yaml", layers.tenant_secrets(tenant),
                        age_identity(seed, tenant)[1], seed, f"{base}/secrets.enc.yaml")
    for env, count in shape:
        _write(out, f"{base}/{env}/env.yaml", layers.to_yaml(layers.tenant_env_layer(_rng(seed, f"{base}/{env}"))))
        services_dir = f"{base}/{env}/services/"
        os.makedirs(out / services_dir, exist_ok=True)
        dir_fd = os.open(out / services_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for s in range(count):
                name = f"{SERVICE_WORDS[s % len(SERVICE_WORDS)]}-{s:04d}"
                rng = _rng(seed, f"{services_dir}{name}.yaml")
                text = (layers.to_yaml(layers.service_layer(rng, name, True)) if plain
                        else layers.service_text(rng, name))
                # Three system calls a file, relative to the open directory: a
                # million of them are a large part of generating 1M targets.
                fd = os.open(f"{name}.yaml", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666, dir_fd=dir_fd)
                try:
                    os.write(fd, text.encode())
                finally:
                    os.close(fd)
        finally:
            os.close(dir_fd)


def write_keys(keys_dir: Path, seed: int, tenants: int) -> None:
    """Each tenant's age identity as ``<tenant>.agekey`` (keep it out of the repo)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    for tenant in tenant_names(tenants):
        secret, public = age_identity(seed, tenant)
        _write(keys_dir, f"{tenant}.agekey", f"# public key: {public}\n{secret}\n")


def git_commit(out: Path) -> None:
    """Make ``out`` a git repository with one commit (fixed identity and dates: same commit id)."""
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    for words in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "--no-gpg-sign", "-m", "corpus"]):
        subprocess.run(["git", *words], cwd=out, env=env, check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--targets", type=int, help="number of targets (shape chosen: 4 envs, at most 250 services)")
    p.add_argument("--tenants", type=int, default=10)
    p.add_argument("--envs", type=int, default=4)
    p.add_argument("--services", type=int, default=250, help="per tenant and environment")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--plain", action="store_true", help="no cfgc-specific features (peer comparison)")
    p.add_argument("--git", action="store_true", help="make OUT a git repository with one commit")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="processes writing files (default: one per core; the tree is the same for any number)")
    p.add_argument("--keys", type=Path, help="write each tenant's age identity here (not inside OUT)")
    args = p.parse_args(argv)
    if args.targets is not None:
        args.tenants, args.envs, args.services = shape_for(args.targets, args.envs)
    if min(args.tenants, args.envs, args.services) < 1:
        p.error("--tenants, --envs and --services must be at least 1")
    try:
        n = generate(args.out, args.tenants, args.envs, args.services, plain=args.plain, seed=args.seed,
                     targets=args.targets, jobs=max(1, args.jobs))
    except FileExistsError as e:
        p.error(str(e))
    if args.keys is not None and not args.plain:
        write_keys(args.keys, args.seed, args.tenants)
    if args.git:
        git_commit(args.out)
    print(f"{n} targets in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
