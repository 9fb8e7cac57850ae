"""The incremental path: lazy imports, shared work between a diff's sides, git tree listing, layer prefixes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cfgc.base.loading import load_yaml
from cfgc.compile import trace
from cfgc.compile.compiler import Compiler
from cfgc.compile.provenance import Provenance
from cfgc.repo.hierarchy import Hierarchy
from cfgc.repo.sources import GitSource
from cfgc.review.diff import compare, open_sides
from tests.fixtures.repos import commit_files, git_init
from tests.unit.review.test_diff import BASE

ROOT = Path(__file__).resolve().parents[2]


def _imported_after(code: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, env=env).stdout
    return {m.split(".")[0] for m in out.split()}


def test_cli_entry_point_imports_no_heavy_library() -> None:
    loaded = _imported_after("import cfgc.cli.main")
    assert loaded.isdisjoint({"jinja2", "boto3", "botocore", "regopy", "cryptography", "deepdiff", "yaml"})


def test_build_command_defers_what_a_warm_build_does_not_use() -> None:
    # Templates, SSH keys, fork pools and policies are needed only when targets compile.
    loaded = _imported_after("import cfgc.cli.build")
    assert loaded.isdisjoint({"jinja2", "cryptography", "multiprocessing", "regopy", "deepdiff", "boto3"})


def test_semver_patterns_compile_on_first_use_and_unknown_names_fail() -> None:
    from cfgc.compile import semver_re
    from cfgc.compile.semver import Range, Version

    assert Range.parse("^1.2 || ~0.9").matches(Version.parse("1.2.3"))
    assert not Range.parse("1.x - 1.1").matches(Version.parse("1.2.3"))
    assert semver_re.FULL.match("1.2.3") and semver_re.FULL is semver_re.FULL
    with pytest.raises(AttributeError):
        semver_re.NOT_A_PATTERN  # noqa: B018


def _git_repo(make_repo) -> Path:  # type: ignore[no-untyped-def]
    root = make_repo({**BASE, "sub dir/odd name.yaml": "a: 1\n"})
    os.symlink("envs/dev.yaml", root / "link.yaml")
    git_init(root)
    return root


def test_git_tree_listing_matches_gitpython(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _git_repo(make_repo)
    src = GitSource(root, "HEAD")
    want = {str(b.path): b for b in src.tree.traverse() if b.type == "blob"}
    got = src._index()
    assert sorted(got) == sorted(want)
    for path, blob in want.items():
        assert (got[path].hexsha, got[path].mode, got[path].binsha) == (blob.hexsha, blob.mode, blob.binsha)
    assert src.read("envs/prod.yaml") == (root / "envs/prod.yaml").read_bytes()


def test_git_tree_listing_of_a_subdirectory_is_relative_to_it(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = make_repo({**{f"cfg/{k}": v for k, v in BASE.items()}, "other.yaml": "x: 1\n"})
    git_init(root)
    src = GitSource(root / "cfg", "HEAD")
    assert sorted(src.files()) == sorted(BASE)


def _diff_both_ways(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    shared = compare(*open_sides(root, "HEAD~1", "HEAD"), None, "HEAD~1", "HEAD")
    monkeypatch.setattr(Compiler, "share_documents", lambda self, other, changed: None)
    monkeypatch.setattr(trace, "MAX_TRACED_PREFIXES", 0)  # every prefix traced afresh
    alone = compare(*open_sides(root, "HEAD~1", "HEAD"), None, "HEAD~1", "HEAD")
    return shared, alone


def test_diff_sharing_parsed_files_gives_the_same_result(make_repo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = make_repo(BASE)
    git_init(root)
    commit_files(root, {
        "base/00-providers.yaml": "providers:\n  openai:\n    endpoint_url: https://x.example/v1\n    timeout_s: 31\n",
        "tenants/acme/prod/chat.yaml": "service: {name: chat}\nlimits: {rpm: 7}\n",
    })
    shared, alone = _diff_both_ways(root, monkeypatch)
    assert shared == alone
    assert len(shared.targets) == 3  # type: ignore[attr-defined]


def test_a_changed_file_is_never_taken_from_the_other_side(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = make_repo(BASE)
    git_init(root)
    commit_files(root, {"envs/prod.yaml": "limits:\n  rpm: 601\n"})
    base, head = open_sides(root, "HEAD~1", "HEAD")
    b, h = Compiler(base), Compiler(head)
    h.share_documents(b, ["envs/prod.yaml"])
    assert b.document("envs/prod.yaml").data["limits"]["rpm"] == 600
    assert h.document("envs/prod.yaml").data["limits"]["rpm"] == 601
    assert h.document("envs/dev.yaml") is not b.document("envs/dev.yaml")  # head parsed it first
    assert h.document("tenants/acme/tenant.yaml") is not None
    b.document("base/10-service.yaml")
    assert h.document("base/10-service.yaml") is b.document("base/10-service.yaml")


def _docs(*texts: str, start: int = 0):  # type: ignore[no-untyped-def]
    return tuple(load_yaml(t.encode(), f"l{i}.yaml") for i, t in enumerate(texts, start))


def test_traced_prefix_is_shared_and_not_changed_by_later_layers() -> None:
    low = _docs("a: {b: 1, c: [1, 2]}\nd: 1\n", "a: {b: 2}\n")
    one = (*low, *_docs("a: {c: !append [3]}\n", start=2))
    two = (*low, *_docs("a: !replace {z: 1}\nd: !delete\n", start=3))
    first = [Provenance(one, {}).history(p) for p in (("a", "b"), ("a", "c", 2), ("d",))]
    Provenance(two, {}).history(("a", "z"))
    again = [Provenance(one, {}).history(p) for p in (("a", "b"), ("a", "c", 2), ("d",))]
    assert first == again
    assert [(c.location.path, c.action) for c in Provenance(two, {}).history(("d",))] == [
        ("l0.yaml", "set"), ("l3.yaml", "delete")]
    assert [c.location.path for c in first[0]] == ["l0.yaml", "l1.yaml"]
    assert [(c.location.path, c.action) for c in first[1]] == [("l2.yaml", "append")]


def test_hierarchy_still_refuses_an_unsafe_name_after_safe_ones(make_repo) -> None:  # type: ignore[no-untyped-def]
    from cfgc.base.errors import InputError
    from cfgc.repo.config import load_config
    from cfgc.repo.sources import DirSource

    root = make_repo({**BASE, "tenants/acme/dev/-bad.yaml": "x: 1\n"})
    config = load_config(DirSource(root))
    with pytest.raises(InputError, match="not a safe name"):
        Hierarchy(config, DirSource(root).files()).targets()
