"""A small config repo in a subfolder of a git repo, with a pull-request-like change.

Shared by the renderer tests: golden text/markdown, SARIF, GitHub annotations.
"""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from cfgc.repo.sources import DirSource, GitSource
from cfgc.review.checks import CheckResult, run_checks
from cfgc.review.diff import DiffResult, compare
from tests.fixtures.repos import STANDARD_CONFIG, git_init, write_files

POLICIES = Path(__file__).resolve().parents[3] / "data" / "policies"
ENC = "ENC[AES256_GCM,data:{},iv:aXZpdml2,tag:dGFndGFn,type:str]"
SECRETS = """\
webhooks:
  signing_secret: {key}
sops:
  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]
  lastmodified: "2026-01-01T00:00:00Z"
  version: 3.9.0
"""
CONFIG = STANDARD_CONFIG.replace(
    "  - tenants/{tenant}/tenant.yaml\n",
    "  - tenants/{tenant}/tenant.yaml\n  - tenants/{tenant}/secrets.enc.yaml\n",
) + "policies: policies/\n"
FILES = {
    "base/00-providers.yaml": """\
        providers:
          openai:
            endpoint_url: https://api.openai.com/v1
            timeout_s: 30
        """,
    "base/10-service.yaml": """\
        owner: platform
        org:
          domain: llm.example.com
        endpoint: "https://{{ service }}.{{ env }}.{{ tenant }}.{{ config.org.domain }}"
        models:
          primary:
            $extends: providers.openai
            model_id: gpt-4o
          fast:
            $extends: providers.openai
            model_id: gpt-4o-mini
        routing:
          default_model: primary
          fallbacks: [fast]
        limits:
          rpm: 600
        """,
    "envs/dev.yaml": "limits:\n  rpm: 60\n",
    "envs/prod.yaml": "limits:\n  rpm: 3000\n",
    "tenants/acme/tenant.yaml": "org:\n  tenant: acme\n",
    "tenants/acme/secrets.enc.yaml": SECRETS.format(key=ENC.format("Q0FOQVJZLU9MRA==")),
    "tenants/acme/dev/chat.yaml": "{}\n",
    "tenants/acme/prod/chat.yaml": "{}\n",
    "tenants/globex/tenant.yaml": "org:\n  tenant: globex\n",
    "tenants/globex/prod/chat.yaml": "{}\n",
}
CHANGES = {
    "base/00-providers.yaml": FILES["base/00-providers.yaml"].replace("30", "45"),
    "tenants/acme/secrets.enc.yaml": SECRETS.format(key=ENC.format("Q0FOQVJZLU5FVw==")),
    "tenants/acme/prod/chat.yaml": """\
        limits:
          rpm: 50
        routing:
          fallbacks: !append [fallback_eu]
        """,
    "tenants/globex/prod/search.yaml": "{}\n",
}
CANARIES = ("Q0FOQVJZ", "ENC[")


@dataclass
class Scenario:
    """The git root, the config repo inside it, and the results."""

    git_root: Path
    repo: Path
    check: CheckResult
    diff: DiffResult


def build(tmp: Path) -> Scenario:
    """Commit the base, apply the change to the working tree, check and diff."""
    git_root = tmp / "platform"
    repo = git_root / "config"
    repo.mkdir(parents=True)
    (repo / "cfgc.yaml").write_text(CONFIG)
    write_files(repo, FILES)
    (repo / "policies").mkdir()
    shutil.copy(POLICIES / "limits.rego", repo / "policies" / "limits.rego")
    git_init(git_root)
    for rel, text in CHANGES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(textwrap.dedent(text))
    check = run_checks(DirSource(repo), None, GitSource(repo, "HEAD"))
    diff = compare(GitSource(repo, "HEAD"), DirSource(repo), None, "main", "working tree")
    return Scenario(git_root, repo, check, diff)
