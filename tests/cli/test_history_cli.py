"""``cfgc history``: commits that changed one resolved value, newest first."""

from __future__ import annotations

import json

from tests.fixtures.repos import git, git_init


def test_history_follows_extends_and_skips_overridden(example_repo, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    first = git_init(example_repo)
    providers = example_repo / "base/00-providers.yaml"
    providers.write_text(providers.read_text().replace("timeout_s: 30", "timeout_s: 35"))
    git(example_repo, "commit", "-qam", "slower openai")
    chat = example_repo / "tenants/acme/prod/services/chat.yaml"
    chat.write_text(chat.read_text().replace("timeout_s: 20 ", "timeout_s: 25 "))
    git(example_repo, "commit", "-qam", "chat timeout")
    (example_repo / "README.txt").write_text("unrelated\n")
    git(example_repo, "add", "-A")
    git(example_repo, "commit", "-qm", "docs")
    r = run_cfgc("history", "acme/prod/chat", "models.primary.timeout_s", "--repo", example_repo,
                 "--format", "json")
    assert r.returncode == 0, r.stderr
    commits = json.loads(r.stdout)["commits"]
    # 'slower openai' does not reach the value: the service file overrides it.
    assert [(c["subject"], c["before"], c["after"]) for c in commits] == [
        ("chat timeout", 20, 25), ("initial", None, 20)]
    assert commits[1]["commit"] == first and commits[0]["author"] == "Test"
    r = run_cfgc("history", "acme/prod/chat", "models.fast.timeout_s", "--repo", example_repo, "-n", "1")
    assert r.stdout.splitlines()[0] == "acme/prod/chat models.fast.timeout_s: 1 change"
    fb = run_cfgc("history", "acme/dev/chat", "models.fallback.max_retries", "--repo", example_repo)
    assert "(absent) → 2" in fb.stdout


def test_history_unknown_target(example_repo, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    git_init(example_repo)
    r = run_cfgc("history", "nope/prod/x", "a.b", "--repo", example_repo)
    assert r.returncode == 1 and "no target 'nope/prod/x' at HEAD" in r.stderr
