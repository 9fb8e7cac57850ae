"""A change that reaches hundreds of targets is compared on every core, with the same result."""

from __future__ import annotations

import json
from pathlib import Path

from cfgc.repo.sources import GitSource
from tests.fixtures.repos import git, git_init

CONFIG = """\
version: 1
hierarchy:
  - base/*.yaml
  - svc/{env}/{service}.yaml
targets: "{env}/{service}"
"""


def many(make_repo) -> Path:
    files = {"base/a.yaml": "limits:\n  rpm: 10\nmodel: {$extends: limits, id: x}\n"}
    for env in ("dev", "prod"):
        for i in range(210):
            files[f"svc/{env}/s{i:03}.yaml"] = f"id: {i}\n"
    root = make_repo(files, config=CONFIG)
    git_init(root)
    return root


def test_parallel_diff_equals_serial(make_repo, run_cfgc) -> None:
    root = many(make_repo)
    (root / "base/a.yaml").write_text("limits:\n  rpm: 20\nmodel: {$extends: limits, id: x}\n")
    outs = []
    for jobs in ("1", "2"):
        proc = run_cfgc("diff", "--repo", root, "--base", "HEAD", "--format", "json", env={"CFGC_JOBS": jobs})
        assert proc.returncode == 0, proc.stderr
        outs.append(json.loads(proc.stdout))
    assert outs[0] == outs[1]
    targets = outs[1]["targets"]
    assert len(targets) == 420 and [t["name"] for t in targets] == sorted(t["name"] for t in targets)
    change = {c["path"]: c for c in targets[0]["changes"]}
    assert change["limits.rpm"]["before"] == 10 and change["limits.rpm"]["after"] == 20
    assert change["model.rpm"]["source"].startswith("base/a.yaml:2:")


def test_git_prefetch_reads_the_same_bytes(make_repo) -> None:
    root = many(make_repo)
    (root / "base/a.yaml").write_text("changed: 1\n")  # the working tree must not leak in
    git(root, "status", "--short")
    plain = GitSource(root, "HEAD")
    fetched = GitSource(root, "HEAD")
    fetched.prefetch(fetched.files())
    for f in plain.files():
        assert fetched.read(f) == plain.read(f)
    assert fetched.read("base/a.yaml").startswith(b"limits:")
