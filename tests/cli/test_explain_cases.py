"""``cfgc explain`` on the paths that used to crash or misattribute (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path


def test_deleted_key_shows_the_value_it_removed_then_the_delete(run_cfgc, example_repo: Path) -> None:
    proc = run_cfgc("explain", "acme/dev/chat", "limits.burst", "--repo", example_repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1:] == ["  base/10-service.yaml:28:3: 50",
                                            "  envs/dev.yaml:4:3: (deleted) [delete]  <- in force"]


def test_mapping_that_lost_a_key_explains_in_text_and_json(run_cfgc, example_repo: Path) -> None:
    proc = run_cfgc("explain", "acme/dev/chat", "limits", "--repo", example_repo)
    assert proc.returncode == 0, proc.stderr
    assert '"burst": "!delete"' in proc.stdout
    proc = run_cfgc("explain", "acme/dev/chat", "limits", "--repo", example_repo, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["value"] == {"rpm": 60, "tpm": 20000}
    assert [c["file"] for c in doc["contributions"]] == ["base/10-service.yaml", "envs/dev.yaml"]


def test_list_items_are_attributed_to_their_own_lines(run_cfgc, example_repo: Path) -> None:
    proc = run_cfgc("explain", "acme/prod/chat", "guardrails.blocked_topics[0]", "--repo", example_repo,
                    "--format", "json")
    assert proc.returncode == 0, proc.stderr
    [c] = json.loads(proc.stdout)["contributions"]
    assert (c["file"], c["line"], c["col"], c["value"], c["action"]) == (
        "tenants/acme/tenant.yaml", 8, 29, "competitor-pricing", "prepend")
    proc = run_cfgc("explain", "acme/prod/chat", "routing.fallbacks[0]", "--repo", example_repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1] == '  envs/prod.yaml:5:15: "fallback"  <- in force'


def test_whole_target_gives_each_appended_item_its_line(run_cfgc, example_repo: Path) -> None:
    proc = run_cfgc("explain", "acme/prod/chat", "", "--repo", example_repo)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.rsplit("# ", 1)[1] for line in proc.stdout.splitlines()}
    assert rows["routing.fallbacks[0]"] == "envs/prod.yaml:5:15"
    assert rows["routing.fallbacks[1]"] == "envs/prod.yaml:5:25"
    assert rows["routing.fallbacks[2]"] == "tenants/acme/prod/services/chat.yaml:10:23"
    assert rows["guardrails.blocked_topics[1]"] == "base/10-service.yaml:34:20"
    key = next(line for line in proc.stdout.splitlines() if line.startswith("models.primary.api_key "))
    assert "<redacted hmac:" in key  # redaction still applies
