"""Rego policies: v1 only, findings located at the line that set the value."""

from __future__ import annotations

import shutil
from pathlib import Path

from cfgc.repo.sources import DirSource, GitSource
from cfgc.review.checks import run_checks
from cfgc.review.policy import PolicySet
from cfgc.review.rego_errors import v0_rule
from tests.fixtures.repos import STANDARD_CONFIG, git, git_init

POLICIES = Path(__file__).resolve().parents[2] / "data" / "policies"
CONFIG = STANDARD_CONFIG + "policies: policies/\n"
FILES = {
    "base/a.yaml": "owner: platform\nlimits:\n  rpm: 600\ntags: [x]\n",
    "envs/prod.yaml": "limits:\n  burst: 5\n",
    "envs/dev.yaml": "{}\n",
    "tenants/acme/tenant.yaml": "{}\n",
    "tenants/acme/prod/chat.yaml": "limits:\n  rpm: 50\n",
    "tenants/acme/dev/chat.yaml": "limits:\n  rpm: 10\n",
}


def _repo(make_repo, *policies: str, files=None) -> Path:  # type: ignore[no-untyped-def]
    root = make_repo({**FILES, **(files or {})}, config=CONFIG)
    (root / "policies").mkdir()
    for name in policies:
        shutil.copy(POLICIES / name, root / "policies" / name)
    return root


def test_v0_detection() -> None:
    assert v0_rule("package main\n\ndeny[msg] {\n  true\n}\n") == (3, "deny[msg] {")
    assert v0_rule("package main\nallow = true {\n  true\n}\n") == (2, "allow = true {")
    assert v0_rule("package main\nimport rego.v1\ndeny contains msg if {\n  x[y] == 1\n}\nis_prod if true\n") is None
    assert v0_rule("package main\nobj := {\n  \"a\": 1,\n}\n") is None
    assert v0_rule("package main\nlabels[name] := value if {\n  some name, value in input.x\n}\n") is None


def test_v0_policy_is_refused_at_its_line(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo, "v0.rego", "limits.rego")
    policies = PolicySet(DirSource(root), "policies")
    [err] = policies.errors
    assert str(err.location) == "policies/v0.rego:4:1" and err.severity == "error"
    assert "v0 syntax" in err.message and "deny contains msg if" in err.message
    assert not policies.active  # nothing is evaluated while a policy is broken


def test_syntax_error_is_located(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo, "syntax_error.rego")
    [err] = PolicySet(DirSource(root), "policies").errors
    assert err.location is not None
    assert (err.location.path, err.location.line) == ("policies/syntax_error.rego", 6)
    assert err.message.startswith("Rego: ")


def test_findings_at_the_line_that_set_the_value(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo, "limits.rego", files={"tenants/acme/dev/chat.yaml": "owner: !delete\n"})
    result = run_checks(DirSource(root))
    found = {(d.severity, d.message): d for d in result.diagnostics}
    rpm = found[("error", "prod rpm must be at least 100")]
    assert str(rpm.location) == "tenants/acme/prod/chat.yaml:2:3" and rpm.rule == "policy.deny"
    assert rpm.targets == ("acme/prod/chat",)
    line = (root / "tenants/acme/prod/chat.yaml").read_text().splitlines()[1]
    assert line.strip().startswith("rpm:")
    owner = found[("error", "every target needs an owner")]
    assert str(owner.location) == "tenants/acme/dev/chat.yaml:1:1"  # no path: the target's own file
    assert not any(d.rule == "policy.warn" for d in result.diagnostics)  # changed is null
    assert not result.ok


def test_changed_input_with_base(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo, "limits.rego")
    git_init(root)
    (root / "tenants/acme/dev/chat.yaml").write_text("limits:\n  rpm: 11\n")
    result = run_checks(DirSource(root), base=GitSource(root, "HEAD"))
    warns = {d.message: d.targets for d in result.diagnostics if d.severity == "warning"}
    assert warns == {"changed: true": ("acme/dev/chat",), "changed: false": ("acme/prod/chat",)}
    assert result.changed == frozenset({"acme/dev/chat"})
    git(root, "status")


def test_warnings_do_not_fail(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo, files={"tenants/acme/prod/chat.yaml": "{}\n"})
    (root / "policies/w.rego").write_text(
        'package main\n\nwarn contains {"msg": "high", "path": "limits.rpm"} if input.config.limits.rpm > 100\n')
    result = run_checks(DirSource(root))
    [w] = result.diagnostics
    assert (w.severity, str(w.location), w.targets) == ("warning", "base/a.yaml:3:3", ("acme/prod/chat",))
    assert result.ok


def test_other_packages_are_reported_not_run(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo)
    (root / "policies/lib.rego").write_text("package lib\n\nimport rego.v1\n\nx := 1\n")
    [d] = PolicySet(DirSource(root), "policies").errors
    assert d.severity == "warning" and "package lib" in d.message


def test_secrets_reach_policies_as_references(make_repo) -> None:  # type: ignore[no-untyped-def]
    cfg = CONFIG.replace("  - tenants/{tenant}/tenant.yaml\n",
                         "  - tenants/{tenant}/tenant.yaml\n  - tenants/{tenant}/secrets.enc.yaml\n")
    enc = "ENC[AES256_GCM,data:Q0FOQVJZ,iv:aXZpdml2,tag:dGFndGFn,type:str]"
    secrets = f"tags:\n  - {enc}\nsops:\n  mac: {enc}\n  version: 3.9.0\n"
    root = make_repo({**FILES, "tenants/acme/secrets.enc.yaml": secrets}, config=cfg)
    (root / "policies").mkdir()
    shutil.copy(POLICIES / "limits.rego", root / "policies" / "limits.rego")
    found = [d for d in run_checks(DirSource(root)).diagnostics if d.rule == "policy.violation"]
    assert [(d.message, str(d.location), len(d.targets)) for d in found] == [
        ("no secrets in tags", "tenants/acme/secrets.enc.yaml:2:5", 2)]


UNKNOWN_CALL = """package main

import rego.v1

deny contains msg if {
\tmsg := no_such_function(input.config.owner)
}
"""


def test_an_evaluation_error_is_a_located_finding_not_a_crash(make_repo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # regopy answers an unknown function with an error S-expression where JSON
    # is expected; that expression echoes the whole input, config included.
    canary = "CANARY-owner-9f3b2c71d4"
    root = _repo(make_repo, files={"base/a.yaml": f"owner: {canary}\n"})
    (root / "policies/bad.rego").write_text(UNKNOWN_CALL)
    result = run_checks(DirSource(root), cache=tmp_path / "cache")
    [d] = [d for d in result.diagnostics if d.rule == "policy"]
    assert d.severity == "error" and d.message == "Rego evaluation failed: Function not found: no_such_function"
    assert str(d.location) == "policies/bad.rego:6:9" and len(d.targets) == 2
    assert canary not in repr(result.diagnostics)
    # Not kept: once the policy is fixed, it is evaluated again.
    (root / "policies/bad.rego").write_text(UNKNOWN_CALL.replace("no_such_function(", "lower("))
    found = [d for d in run_checks(DirSource(root), cache=tmp_path / "cache").diagnostics if d.rule.startswith("policy")]
    assert [(d.rule, d.message) for d in found] == [("policy.deny", canary.lower())] * 2  # one per target file


ECHO = """package main

import rego.v1

deny contains sprintf("config is %v", [input.config]) if { input.config.api_key }
warn contains input.config.api_key if { input.config.api_key }
"""


def test_a_rule_that_echoes_a_credential_is_not_kept_in_the_cache_folder(make_repo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A credential left in clear is reported (masked) in every output; a rule's
    # raw answer quoting it must not be written to the cache folder either.
    canary = "sk-live-CANARYc4n4ry0123456789abcdef"
    root = _repo(make_repo, files={"tenants/acme/prod/chat.yaml": f"limits:\n  rpm: 50\napi_key: {canary}\n"})
    (root / "policies/echo.rego").write_text(ECHO)
    cache = tmp_path / "cache"
    runs = [run_checks(DirSource(root), cache=cache) for _ in range(2)]
    found = [[(d.rule, d.message) for d in r.diagnostics if d.rule.startswith("policy.")] for r in runs]
    assert len(found[0]) == 2 and found[0] == found[1]  # reported both times, from a fresh evaluation
    assert canary not in repr(runs[0].diagnostics)
    written = [p for p in cache.rglob("*") if p.is_file()]
    assert any(p.name == "policy-results" for p in written)
    assert not [p for p in written if canary.encode() in p.read_bytes()]
