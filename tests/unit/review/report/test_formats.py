"""Every output format of check and diff: golden text/markdown, SARIF, GitHub annotations."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from cfgc.review.report.diff import render_json, render_markdown, render_text
from cfgc.review.report.github import git_prefix, render_github
from cfgc.review.report.markdown import check_markdown, pr_comment
from cfgc.review.report.sarif import render_sarif
from cfgc.secrets import redact
from tests.unit.review.report.scenario import CANARIES, Scenario, build

DATA = Path(__file__).resolve().parents[3] / "data"
GOLDEN = DATA / "golden"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    # Redaction markers are keyed per process; a fixed key makes them golden.
    old = redact.set_key(b"golden-files-only")
    try:
        yield build(tmp_path_factory.mktemp("scenario"))
    finally:
        redact.set_key(old)


def golden(name: str, text: str) -> None:
    """Compare with tests/data/golden/NAME; CFGC_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("CFGC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; rerun with CFGC_UPDATE_GOLDEN=1 and review the diff"


def test_diff_text_golden(scenario: Scenario) -> None:
    golden("diff.txt", render_text(scenario.diff))


def test_diff_markdown_golden(scenario: Scenario) -> None:
    golden("diff.md", render_markdown(scenario.diff))


def test_pr_comment_golden(scenario: Scenario) -> None:
    golden("pr-comment.md", pr_comment(scenario.check, scenario.diff))


def test_check_markdown_passed_and_failed(scenario: Scenario) -> None:
    assert check_markdown(scenario.check).startswith("### Config check: ❌ 2 new errors, 4 new warnings (4 targets)")


def test_no_secret_material_in_any_output(scenario: Scenario) -> None:
    text = (render_text(scenario.diff) + render_markdown(scenario.diff) + render_json(scenario.diff)
            + render_sarif(scenario.check.diagnostics) + render_github(scenario.check.diagnostics))
    for canary in CANARIES:
        assert canary not in text
    changes = json.loads(render_json(scenario.diff))["targets"][0]["changes"]
    assert [c for c in changes if c.get("secret")] == [
        {"path": "webhooks.signing_secret", "kind": "changed", "secret": True,
         "before": "<redacted hmac:5e3aa357>", "after": "<redacted hmac:3ccd3f1c>", "redacted": True,
         "source": "tenants/acme/secrets.enc.yaml:2:3"}]


def test_sarif_validates_against_the_schema(scenario: Scenario) -> None:
    schema_path = DATA / "sarif-schema-2.1.0.json"
    schema = json.loads(schema_path.read_text())
    log = json.loads(render_sarif(scenario.check.diagnostics, git_prefix(scenario.repo)))
    jsonschema.Draft7Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert len(results) == len(scenario.check.diagnostics) == 6
    rules = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    for r in results:
        assert rules[r["ruleIndex"]] == r["ruleId"]
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("config/") and (scenario.git_root / uri).is_file()


_CMD = re.compile(r"^::(error|warning) file=([^,]+),line=(\d+),col=(\d+),title=([^:]+)::(.*)$")


def test_github_annotations_point_at_real_lines(scenario: Scenario) -> None:
    prefix = git_prefix(scenario.repo)
    assert prefix == "config/"
    lines = render_github(scenario.check.diagnostics, prefix).splitlines()
    assert len(lines) == 6
    seen = {}
    for line in lines:
        m = _CMD.match(line)
        assert m, line
        kind, file, n, col, _title, msg = m.groups()
        text = (scenario.git_root / file).read_text().splitlines()[int(n) - 1]
        seen[msg.split(" (targets")[0]] = (kind, file, text[int(col) - 1 :])
    assert seen["prod rpm must be at least 100"] == ("error", "config/tenants/acme/prod/chat.yaml", "rpm: 50")
    assert seen["routing.fallbacks[1] names model 'fallback_eu', which is not under models (have: fast, primary)"] \
        == ("error", "config/tenants/acme/prod/chat.yaml", "fallback_eu]")  # the appended item itself
    assert seen["changed: true"][0] == "warning"


def test_github_escaping() -> None:
    from cfgc.base.diagnostics import Diagnostic
    from cfgc.base.errors import Location

    d = Diagnostic("error", "50% bad\nsecond line", Location("a,b:c.yaml", 2, 3), "policy.deny")
    assert render_github([d]) == "::error file=a%2Cb%3Ac.yaml,line=2,col=3,title=cfgc policy.deny::50%25 bad%0Asecond line\n"
