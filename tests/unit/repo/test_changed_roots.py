"""Which config repo a changed file belongs to (the pre-commit hook)."""

from __future__ import annotations

from pathlib import Path

from cfgc.repo.changed_roots import config_root, config_roots


def _tree(tmp: Path) -> Path:
    (tmp / ".git").mkdir(parents=True)
    for d in ("", "config/", "config/tenants/acme/"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    (tmp / "config/cfgc.yaml").write_text("version: 1\n")
    (tmp / "config/tenants/acme/chat.yaml").write_text("{}\n")
    (tmp / "other.yml").write_text("x: 1\n")
    return tmp


def test_nearest_cfgc_yaml_above_the_file(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert config_root(root / "config/tenants/acme/chat.yaml") == root / "config"
    assert config_root(root / "config/cfgc.yaml") == root / "config"
    assert config_root(root / "other.yml") is None


def test_walk_stops_at_the_git_work_tree(tmp_path: Path) -> None:
    # A cfgc.yaml above the repository must not adopt the repository's files.
    (tmp_path / "cfgc.yaml").write_text("version: 1\n")
    root = _tree(tmp_path / "checkout")
    assert config_root(root / "other.yml") is None
    assert config_root(tmp_path / "loose.yaml") == tmp_path


def test_roots_are_distinct_and_sorted(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "b").mkdir()
    (root / "b/cfgc.yaml").write_text("version: 1\n")
    files = [root / "config/tenants/acme/chat.yaml", root / "b/cfgc.yaml", root / "config/cfgc.yaml",
             root / "other.yml"]
    assert config_roots(files) == [root / "b", root / "config"]
