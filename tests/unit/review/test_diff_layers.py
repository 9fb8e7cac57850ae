"""cfgc diff when the *set* of layer files changes: nothing may be hidden.

A target whose layer list changes is compared value by value with the other
side; it is added or removed only when it really appears or disappears.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cfgc.base.errors import InputError
from cfgc.compile.merging import MISSING
from cfgc.review.diff import DiffResult, compare, open_sides
from cfgc.review.report.diff import render_json, render_markdown, render_text
from tests.fixtures.repos import commit_files, git, git_init

CONFIG = """\
version: 1
hierarchy:
  - base/*.yaml
  - envs/{env}.yaml
  - tenants/{tenant}/tenant.yaml
  - tenants/{tenant}/{env}/env.yaml
  - tenants/{tenant}/{env}/services/{service}.yaml
targets: "{tenant}/{env}/{service}"
"""
FILES = {
    "base/00-providers.yaml": "endpoint_url: https://api.openai.com/v1\ntimeout_s: 30\n",
    "envs/dev.yaml": "limits:\n  rpm: 60\n",
    "envs/prod.yaml": "limits:\n  rpm: 600\n",
    "tenants/acme/tenant.yaml": "owner: acme\n",
    "tenants/acme/prod/env.yaml": "timeout_s: 20\n",
    "tenants/acme/dev/services/chat.yaml": "service: chat\n",
    "tenants/acme/prod/services/chat.yaml": "service: chat\n",
    "tenants/globex/tenant.yaml": "owner: globex\n",
    "tenants/globex/prod/services/chat.yaml": "service: chat\n",
}
ATTACK = "https://attacker.example/v1"


def _repo(make_repo: Any) -> Path:
    root: Path = make_repo(FILES, config=CONFIG)
    git_init(root)
    return root


def _diff(root: Path, head: str | None = "HEAD") -> DiffResult:
    b, h = open_sides(root, "HEAD~1" if head else "HEAD", head)
    return compare(b, h)


def _changes(result: DiffResult) -> dict[str, dict[str, tuple[Any, Any, str]]]:
    from cfgc.compile.merging import dotted

    return {t.name: {dotted(c.path): (c.before, c.after, str(c.source)) for c in t.changes} for t in result.targets}


def test_new_optional_layer_shows_its_values(make_repo: Any) -> None:
    root = _repo(make_repo)
    commit_files(root, {"tenants/globex/prod/env.yaml": f"endpoint_url: {ATTACK}\n"})
    result = _diff(root)
    assert [(t.name, t.status) for t in result.targets] == [("globex/prod/chat", "changed")]
    assert _changes(result)["globex/prod/chat"] == {
        "endpoint_url": ("https://api.openai.com/v1", ATTACK, "tenants/globex/prod/env.yaml:1:1")}
    for text in (render_text(result), render_markdown(result), render_json(result)):
        assert ATTACK in text and "added" not in text.split("\n", 2)[1]


def test_new_base_layer_is_a_change_of_every_target_not_an_addition(make_repo: Any) -> None:
    root = _repo(make_repo)
    commit_files(root, {"base/05-x.yaml": f"endpoint_url: {ATTACK}\n"})
    result = _diff(root)
    assert {t.status for t in result.targets} == {"changed"} and len(result.targets) == 3
    assert all(c["endpoint_url"][1] == ATTACK for c in _changes(result).values())
    assert "3 of 3 targets changed (3 changed)" in render_text(result)


def test_deleted_layer_shows_the_values_it_took_away(make_repo: Any) -> None:
    root = _repo(make_repo)
    commit_files(root, {"tenants/acme/prod/env.yaml": None})
    result = _diff(root)
    assert [(t.name, t.status) for t in result.targets] == [("acme/prod/chat", "changed")]
    assert _changes(result)["acme/prod/chat"]["timeout_s"][:2] == (20, 30)


def test_renamed_layer_is_compared_not_added(make_repo: Any) -> None:
    root = _repo(make_repo)
    git(root, "mv", "tenants/acme/prod/env.yaml", "tenants/globex/prod/env.yaml")
    git(root, "commit", "-q", "-m", "rename")
    result = _diff(root)
    assert [(t.name, t.status) for t in result.targets] == [("acme/prod/chat", "changed"), ("globex/prod/chat", "changed")]
    changes = _changes(result)
    assert changes["acme/prod/chat"]["timeout_s"][:2] == (20, 30)
    assert changes["globex/prod/chat"]["timeout_s"] == (30, 20, "tenants/globex/prod/env.yaml:1:1")


def test_value_moved_between_levels(make_repo: Any) -> None:
    root = _repo(make_repo)
    commit_files(root, {"envs/prod.yaml": "{}\n", "tenants/acme/tenant.yaml": "owner: acme\nlimits:\n  rpm: 600\n"})
    changes = _changes(_diff(root))
    assert changes["globex/prod/chat"]["limits.rpm"][:2] == (600, MISSING)
    assert changes["acme/dev/chat"]["limits.rpm"][:2] == (60, 600)
    assert "acme/prod/chat" not in changes  # same value, now from the tenant layer


def test_added_and_removed_targets_show_every_value(make_repo: Any) -> None:
    root = _repo(make_repo)
    commit_files(root, {"tenants/globex/dev/services/chat.yaml": f"endpoint_url: {ATTACK}\n",
                   "tenants/acme/dev/services/chat.yaml": None})
    result = _diff(root)
    status = {t.name: t.status for t in result.targets}
    assert status == {"acme/dev/chat": "removed", "globex/dev/chat": "added"}
    changes = _changes(result)
    assert changes["globex/dev/chat"]["endpoint_url"] == (
        MISSING, ATTACK, "tenants/globex/dev/services/chat.yaml:1:1")
    assert changes["globex/dev/chat"]["limits.rpm"][:2] == (MISSING, 60)
    assert changes["acme/dev/chat"]["owner"] == ("acme", MISSING, "tenants/acme/tenant.yaml:1:1")
    md = render_markdown(result)
    assert ATTACK in md and "**added**" in md and "**removed**" in md
    assert ATTACK in render_json(result)


def test_layer_turned_into_a_symlink_is_not_silent(make_repo: Any, tmp_path: Path) -> None:
    root = _repo(make_repo)
    outside = tmp_path / "outside.yaml"
    outside.write_text(f"endpoint_url: {ATTACK}\n")
    env = root / "tenants/acme/prod/env.yaml"
    env.unlink()
    os.symlink(outside, env)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "symlink")
    for head in ("HEAD", None):  # committed (git reads the link), working tree (reads the file)
        try:
            result = _diff(root, head) if head else compare(*open_sides(root, "HEAD~1", None))
        except InputError as e:  # the working tree's link refused outright
            assert "symbolic link" in e.message and str(e.location) == "tenants/acme/prod/env.yaml"
            continue
        # Either the link is refused (an error) or what it brings in is shown.
        shown = any(t.changes for t in result.targets)
        assert result.errors or shown, head
        assert "tenants/acme/prod/env.yaml" in result.changed_files
