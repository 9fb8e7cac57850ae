"""``cfgc check`` end to end, each format, on the example repo and its policies."""

from __future__ import annotations

import json

from tests.fixtures.repos import git_init


def test_example_repo_passes_with_warnings(example_repo, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    r = run_cfgc("check", "--repo", example_repo)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 errors" in r.stdout
    doc = json.loads(run_cfgc("check", "--repo", example_repo, "--format", "json").stdout)
    assert doc["ok"] is True and doc["changed"] is None and len(doc["targets"]) == 13
    assert all(d["severity"] == "warning" for d in doc["diagnostics"])


def test_prod_temperature_policy_fails_at_its_line(example_repo, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    git_init(example_repo)
    chat = example_repo / "tenants/acme/prod/services/chat.yaml"
    chat.write_text(chat.read_text().replace("    timeout_s: 20", "    temperature: 1.4\n    timeout_s: 20"))
    r = run_cfgc("check", "--repo", example_repo, "--base", "HEAD", "--format", "github")
    assert r.returncode == 1
    [err] = [ln for ln in r.stdout.splitlines() if ln.startswith("::error")]
    assert err.startswith("::error file=tenants/acme/prod/services/chat.yaml,line=5,col=5,")
    assert chat.read_text().splitlines()[4].strip() == "temperature: 1.4"
    assert "models.primary.temperature is 1.4; production allows at most 1" in err
    sarif = json.loads(run_cfgc("check", "--repo", example_repo, "--format", "sarif").stdout)
    assert sarif["version"] == "2.1.0"
    md = run_cfgc("check", "--repo", example_repo, "--format", "markdown").stdout
    assert md.startswith("### Config check: ❌ 1 error")


def test_v0_policy_refused(example_repo, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    (example_repo / "policies/old.rego").write_text('package main\n\ndeny[msg] {\n  msg := "x"\n}\n')
    r = run_cfgc("check", "--repo", example_repo)
    assert r.returncode == 1
    assert "policies/old.rego:3:1: error: Rego v0 syntax is not supported" in r.stdout
