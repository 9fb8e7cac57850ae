"""One diff of a repo's working tree against HEAD, and the check that two results say the same,
for the tests of the diff's records, side files and kept results."""

from __future__ import annotations

from pathlib import Path

from cfgc.repo.sources import GitSource
from cfgc.review.diff import DiffResult, compare, open_sides
from cfgc.review.report.diff import render_json, render_markdown, render_text


def diff_worktree(root: Path, cache: Path | None, select: str | None = None) -> DiffResult:
    """``cfgc diff --base HEAD`` of ``root``'s working tree (its git processes closed after)."""
    base, head = open_sides(root, "HEAD", None)
    try:
        return compare(base, head, select, "HEAD", "working tree", cache=cache)
    finally:  # the generated examples would otherwise run the worker out of descriptors
        for side in (base, head):
            if isinstance(side, GitSource):
                side.close()


def same(got: DiffResult, want: DiffResult) -> None:
    """Equal results, and equal in every format a user reads."""
    assert got == want
    for render in (render_json, render_text, render_markdown):
        assert render(got) == render(want)
