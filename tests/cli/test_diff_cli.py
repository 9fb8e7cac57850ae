"""``cfgc diff`` end to end: the real console script on real git history."""

from __future__ import annotations

import json

from tests.fixtures.repos import git, git_init


def test_diff_between_tags_and_exit_code(example_repo, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    git_init(example_repo)
    git(example_repo, "tag", "v1")
    chat = example_repo / "tenants/acme/prod/services/chat.yaml"
    chat.write_text(chat.read_text().replace("timeout_s: 20 ", "timeout_s: 25 "))
    git(example_repo, "commit", "-qam", "tighter")
    git(example_repo, "tag", "v2")
    r = run_cfgc("diff", "--repo", example_repo, "--base", "v1", "--head", "v2", "--format", "json", "--exit-code")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["compiled_targets"] == 1
    [t] = doc["targets"]
    assert t["name"] == "acme/prod/chat" and t["production"] is True
    assert t["changes"] == [{"path": "models.primary.timeout_s", "kind": "changed", "before": 20, "after": 25,
                             "source": "tenants/acme/prod/services/chat.yaml:5:5"}]
    same = run_cfgc("diff", "--repo", example_repo, "--base", "v2", "--exit-code")
    assert same.returncode == 0 and "no target changed" in same.stdout


def test_diff_text_and_markdown(example_repo, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    git_init(example_repo)
    prod = example_repo / "envs/prod.yaml"
    prod.write_text(prod.read_text().replace("sample_rate: 0.05", "sample_rate: 0.1"))
    r = run_cfgc("diff", "--repo", example_repo, "--base", "HEAD")
    assert r.returncode == 0, r.stderr
    assert "5 of 13 targets changed (5 changed)" in r.stdout
    assert "logging.sample_rate: 0.05 → 0.1  (envs/prod.yaml:" in r.stdout
    assert "targets compiled in" in r.stderr
    md = run_cfgc("diff", "--repo", example_repo, "--base", "HEAD", "--format", "markdown").stdout
    assert md.startswith("### Config diff: 5 of 13 targets changed") and "| env | prod 5 |" in md


def test_diff_unknown_ref(example_repo, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    git_init(example_repo)
    r = run_cfgc("diff", "--repo", example_repo, "--base", "nope")
    assert r.returncode == 2 and "--base nope: unknown revision 'nope'" in r.stderr
