"""The new/unchanged split in the SARIF, markdown and GitHub annotation outputs."""

from __future__ import annotations

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.review.checks import CheckResult
from cfgc.review.report.github import render_github
from cfgc.review.report.markdown import check_markdown
from cfgc.review.report.sarif import sarif_log

NEW = Diagnostic("error", "too slow", Location("tenants/acme/prod/chat.yaml", 2, 3), "policy.deny", ("acme/prod/chat",))
OLD = Diagnostic("error", "too slow", Location("envs/dev.yaml", 3, 3), "policy.deny", ("acme/dev/chat",))
RESULT = CheckResult((OLD, NEW), ("acme/dev/chat", "acme/prod/chat"), frozenset(), ("unchanged", "new"))


def test_sarif_baseline_state_per_result() -> None:
    results = sarif_log(RESULT.diagnostics, "config/", RESULT.states)["runs"][0]["results"]
    assert [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["baselineState"]) for r in results] \
        == [("config/envs/dev.yaml", "unchanged"), ("config/tenants/acme/prod/chat.yaml", "new")]
    assert "baselineState" not in sarif_log(RESULT.diagnostics)["runs"][0]["results"][0]


def test_markdown_splits_and_links_each_location() -> None:
    def link(loc: Location) -> str:
        return f"https://github.com/o/r/blob/abc/config/{loc.path}#L{loc.line}"

    text = check_markdown(RESULT, link)
    new, _, old = text.partition("already on the base")
    assert new.startswith("### Config check: ❌ 1 new error, 0 new warnings (2 targets)")
    assert "[`tenants/acme/prod/chat.yaml:2:3`](https://github.com/o/r/blob/abc/config/tenants/acme/prod/chat.yaml#L2)" in new
    assert "envs/dev.yaml" not in new and "(https://github.com/o/r/blob/abc/config/envs/dev.yaml#L3)" in old
    only_old = CheckResult((OLD,), RESULT.targets, frozenset(), ("unchanged",))
    assert check_markdown(only_old).startswith("### Config check: ✅ 0 new errors")
    assert check_markdown(only_old, fail_on_existing=True).startswith("### Config check: ❌ 0 new errors")


def test_markdown_escapes_html_from_messages() -> None:
    evil = Diagnostic("error", "x</details><!-- cfgc:sticky-comment -->|y", Location("a.yaml", 1), "policy.deny")
    text = check_markdown(CheckResult((evil,), (), None))
    assert "</details>" not in text and "<!--" not in text and "x&lt;/details>&lt;!-- cfgc:sticky-comment -->\\|y" in text


def test_existing_findings_are_notices_in_annotations() -> None:
    lines = render_github(RESULT.diagnostics, "config/", RESULT.states).splitlines()
    assert lines[0].startswith("::notice file=config/envs/dev.yaml,line=3,col=3,title=cfgc policy.deny (error%2C")
    assert lines[1].startswith("::error file=config/tenants/acme/prod/chat.yaml,line=2,col=3,")
