"""cfgc diff reports what validate would find on each side, in every format."""

from __future__ import annotations

import json
from pathlib import Path

from cfgc.review.diff import compare, open_sides
from cfgc.review.report.diff import render_json, render_markdown, render_text
from tests.fixtures.repos import git, git_init

CONFIG = """\
version: 1
hierarchy: ['base/*.yaml', 'envs/{env}.yaml']
targets: '{env}/chat'
schemas:
  - schema: schemas/app.json
"""
SCHEMA = {"type": "object", "properties": {"models": {"additionalProperties": {"$ref": "model.json"}}}}
MODEL = {"type": "object", "properties": {"temperature": {"type": "number", "maximum": 2},
                                          "api_key": {"type": "string", "pattern": "^env:"}}}
KEY = "sk-live-4f9a8b7c6d5e4f3a2b1c"


def _repo(make_repo, model: str = "temperature: 0.3") -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    root = make_repo({"base/a.yaml": f"models:\n  primary:\n    {model}\n", "envs/dev.yaml": "x: 1\n",
                      "envs/prod.yaml": "x: 2\n", "schemas/app.json": json.dumps(SCHEMA),
                      "schemas/model.json": json.dumps(MODEL)}, config=CONFIG)
    return root, git_init(root)


def _diff(root: Path, base: str):  # type: ignore[no-untyped-def]
    b, h = open_sides(root, base, None)
    return compare(b, h, None, base, "working tree")


def test_an_invalid_head_is_reported_in_every_format(make_repo) -> None:
    root, base = _repo(make_repo)
    (root / "base/a.yaml").write_text("models:\n  primary:\n    temperature: 3\n")
    result = _diff(root, base)
    finding = ("base/a.yaml:3:5: error: models.primary.temperature: 3 is greater than the maximum of 2 "
               "(schemas/model.json#/properties/temperature/maximum)")
    text = render_text(result)
    assert "the head does not validate: 1 error" in text and finding in text
    assert "models.primary.temperature: 0.3 → 3" in text  # the change is still shown
    md = render_markdown(result)
    assert "**❌ The head does not validate: 1 error" in md and f"- ❌ `{finding}`" in md
    doc = json.loads(render_json(result))
    assert doc["ok"] is False and doc["errors"] == [finding]
    [d] = doc["diagnostics"]
    assert (d["side"], d["severity"], d["file"], d["line"], d["rule"]) == ("head", "error", "base/a.yaml", 3, "schema")
    assert d["targets"] == ["dev/chat", "prod/chat"]  # one finding, grouped over the targets


def test_base_findings_are_warnings_marked_as_the_base(make_repo) -> None:
    root, base = _repo(make_repo, "temperature: 5")
    (root / "base/a.yaml").write_text("models:\n  primary:\n    temperature: 1\n")
    result = _diff(root, base)
    assert [d.severity for d in result.errors] == ["warning"]
    assert result.errors[0].message.startswith("at the base: models.primary.temperature: 5 is greater")
    doc = json.loads(render_json(result))
    assert doc["ok"] is True and doc["diagnostics"][0]["side"] == "base"
    assert "1 finding at the base" in render_text(result)
    assert "does not validate" not in render_markdown(result)


def test_a_schema_edit_reaches_the_targets_it_breaks(make_repo) -> None:
    root, base = _repo(make_repo)
    (root / "schemas/model.json").write_text(json.dumps({"properties": {"temperature": {"maximum": 0.1}}}))
    result = _diff(root, base)
    assert result.targets == ()  # no value changed...
    assert [d.severity for d in result.errors] == ["error"]  # ...but the head no longer validates
    assert "(schemas/model.json#/properties/temperature/maximum)" in result.errors[0].message


def test_a_broken_head_schema_is_one_finding(make_repo) -> None:
    root, base = _repo(make_repo)
    (root / "schemas/app.json").write_text(json.dumps({"properties": {"a": {"$ref": "../../x.json"}}}))
    (root / "base/a.yaml").write_text("models:\n  primary:\n    temperature: 1\n")
    result = _diff(root, base)
    assert [(d.severity, str(d.location)) for d in result.errors] == [("error", "schemas/app.json")]
    assert "leaves the repo" in result.errors[0].message


def test_values_in_findings_are_redacted_in_every_format(make_repo) -> None:
    root, base = _repo(make_repo)
    (root / "base/a.yaml").write_text(f"models:\n  primary:\n    temperature: 1\n    api_key: {KEY}\n")
    result = _diff(root, base)
    assert any("does not match the pattern" in d.message for d in result.errors)
    for out in (render_text(result), render_markdown(result), render_json(result)):
        assert KEY not in out and KEY[:12] not in out
        assert "<redacted hmac:" in out


def test_exit_code_is_1_for_an_invalid_head_only(make_repo, run_cfgc) -> None:
    root, base = _repo(make_repo)
    (root / "base/a.yaml").write_text("models:\n  primary:\n    temperature: 3\n")
    for fmt in ("text", "markdown", "json"):
        proc = run_cfgc("diff", "--repo", root, "--base", base, "--format", fmt)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "maximum of 2" in proc.stdout and "Traceback" not in proc.stderr
    git(root, "commit", "-qam", "break")
    (root / "base/a.yaml").write_text("models:\n  primary:\n    temperature: 1\n")
    proc = run_cfgc("diff", "--repo", root, "--base", "HEAD")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "at the base: models.primary.temperature: 3" in proc.stdout


def test_a_head_that_does_not_compile_reports_its_credentials_as_validate_does(make_repo) -> None:
    root, base = _repo(make_repo)
    (root / "base/a.yaml").write_text(f"token: {KEY}\nurl: '{{{{ nope }}}}'\n")
    result = _diff(root, base)
    rules = {d.rule for d in result.errors}
    assert "template" in rules, result.errors  # the compile error, with validate's rule
    assert any(d.rule == "secrets" and d.severity == "error" for d in result.errors), result.errors
    assert all(KEY not in str(d) for d in result.errors)


def test_a_base_that_does_not_compile_is_warnings_at_the_base(make_repo) -> None:
    root = make_repo({"base/a.yaml": f"token: {KEY}\nurl: '{{{{ nope }}}}'\n", "envs/dev.yaml": "x: 1\n",
                      "envs/prod.yaml": "x: 2\n", "schemas/app.json": json.dumps(SCHEMA),
                      "schemas/model.json": json.dumps(MODEL)}, config=CONFIG)
    base = git_init(root)
    (root / "base/a.yaml").write_text("url: fine\n")
    result = _diff(root, base)
    assert result.errors and all(d.severity == "warning" and d.message.startswith("at the base: ")
                                 for d in result.errors)
    assert {"template", "secrets"} <= {d.rule for d in result.errors}
