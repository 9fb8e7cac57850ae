"""``cfgc build`` into the --out it wrote last: the summary says "unchanged", and the bytes are a clean build's."""

from __future__ import annotations

import json
from pathlib import Path


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_rebuild_into_the_same_out(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    out = tmp_path / "bundle"
    first = run_cfgc("build", "--repo", example_repo, "--out", out)
    assert first.returncode == 0, first.stderr
    again = run_cfgc("build", "--repo", example_repo, "--out", out, "--format", "json")
    doc = json.loads(again.stdout)
    assert doc["unchanged"] is True and doc["written"] is True
    assert doc["cache_hits"] == len(doc["targets"]) == 13
    text = run_cfgc("build", "--repo", example_repo, "--out", out)
    assert "compiled 13 targets, 13 from cache into" in text.stdout and "(unchanged, manifest sha256:" in text.stdout

    layer = next(example_repo.glob("tenants/acme/prod/services/*.yaml"))
    layer.write_text(layer.read_text() + "\nin_place_marker: 1\n")
    changed = run_cfgc("build", "--repo", example_repo, "--out", out, "--verify-out")
    assert changed.returncode == 0, changed.stderr
    assert "unchanged" not in changed.stdout
    clean = tmp_path / "clean"
    assert run_cfgc("build", "--repo", example_repo, "--out", clean, "--no-cache").returncode == 0
    assert files(out) == files(clean)
