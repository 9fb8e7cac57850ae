"""``cfgc history``: commits that changed one resolved value, newest first."""

from __future__ import annotations

import json

from cfgc.secrets.redact import MARKER
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


def test_history_of_a_secret_is_by_path_only(make_repo) -> None:  # type: ignore[no-untyped-def]
    from cfgc.review.history import entry_json, value_history

    enc = "ENC[AES256_GCM,data:{},iv:aXZpdml2,tag:dGFndGFn,type:str]"
    meta = "sops:\n  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]\n  version: 3.9.0\n"
    cfg = ("version: 1\nhierarchy:\n  - base.yaml\n  - secrets.enc.yaml\n  - svc/{service}.yaml\n"
           'targets: "{service}"\n')
    root = make_repo({"base.yaml": "a: 1\n", "svc/chat.yaml": "{}\n",
                      "secrets.enc.yaml": "api_key: " + enc.format("T0xEQ0FOQVJZ") + "\n" + meta}, config=cfg)
    git_init(root)
    (root / "secrets.enc.yaml").write_text("api_key: " + enc.format("TkVXQ0FOQVJZ") + "\n" + meta)
    git(root, "commit", "-qam", "rotate")
    (root / "base.yaml").write_text("a: 2\n")
    git(root, "commit", "-qam", "unrelated")
    entries = value_history(root, "chat", ("api_key",))
    docs = [entry_json(e) for e in entries]
    assert [(d["subject"], d.get("secret")) for d in docs] == [("rotate", True), ("initial", True)]
    # Markers, not values: the rotation shows as two different markers, and the
    # marker of the first version is the "before" of the rotation.
    rotate, initial = docs
    assert initial["before"] is None and MARKER.fullmatch(initial["after"])
    assert rotate["before"] == initial["after"] and MARKER.fullmatch(rotate["after"]) and rotate["after"] != rotate["before"]
    assert "Q0FOQVJZ" not in json.dumps(docs) and "T0xEQ0FOQVJZ" not in json.dumps(docs)
