"""A layer file whose name is not UTF-8 (``base/\\xff.yaml``): a build with a cache
and a diff with a cache each end as they do without one (exit 0, the same bundle),
run after run, instead of an internal error where a cache key or state names it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import cfgc
from tests.fixtures.repos import git, git_init

ODD = os.fsdecode(b"base/\xff.yaml")


def _cfgc(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(cfgc.__file__).parents[1]), "CFGC_CACHE_SECRET": "test",
           "SOPS_AGE_KEY_FILE": str(repo / "test-keys-DO-NOT-USE/acme.agekey")}
    return subprocess.run([sys.executable, "-m", "cfgc", *args], cwd=repo, capture_output=True, env=env)


@pytest.fixture
def odd_repo(example_repo: Path) -> Path:
    try:
        (example_repo / ODD).write_text("odd_layer: 1\n")
    except (UnicodeEncodeError, OSError):
        pytest.skip("this filesystem takes only UTF-8 names")
    return example_repo


def test_a_cached_build_of_a_non_utf8_layer_name_is_a_build(odd_repo: Path, tmp_path: Path) -> None:
    plain = _cfgc(odd_repo, "build", "--repo", ".", "--out", str(tmp_path / "plain"), "--no-cache")
    assert plain.returncode == 0, plain.stderr
    for run in (1, 2):  # the second one is served from the cache
        done = _cfgc(odd_repo, "build", "--repo", ".", "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"))
        assert done.returncode == 0, (run, done.stderr)
        assert b"internal error" not in done.stderr
        assert (tmp_path / "out/manifest.json").read_bytes() == (tmp_path / "plain/manifest.json").read_bytes()


def test_a_cached_diff_of_a_non_utf8_layer_name_is_a_diff(odd_repo: Path, tmp_path: Path) -> None:
    git_init(odd_repo)
    (odd_repo / ODD).write_text("odd_layer: 2\n")
    plain = _cfgc(odd_repo, "diff", "--base", "HEAD", "--format", "json", "--no-cache")
    assert plain.returncode == 0, plain.stderr
    for run in (1, 2):  # the second one from records
        done = _cfgc(odd_repo, "diff", "--base", "HEAD", "--format", "json", "--cache-dir", str(tmp_path / "c"))
        assert done.returncode == 0, (run, done.stderr)
        assert done.stdout == plain.stdout
    assert git(odd_repo, "status", "--porcelain")  # (the edit is there to be diffed)
