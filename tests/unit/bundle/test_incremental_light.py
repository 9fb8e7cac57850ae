"""What an in-place rebuild of one changed file leaves out: the prompt templates' parser, the repo walk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cfgc
from tests.unit.bundle.test_incremental import build, clean, repo, tree

__all__ = ["repo"]  # the fixture, shared with test_incremental

CODE = (
    "import sys, cfgc; r = cfgc.build_bundle(sys.argv[1], sys.argv[2], cache=sys.argv[3]); "
    "print(r.unchanged, 'jinja2' in sys.modules)"
)


def test_a_changed_file_that_pins_a_prompt_does_not_parse_templates(repo: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    (repo / "svc/dev/s1.yaml").write_text("id: 1\np: !prompt hi@^1\n")
    build(repo, out, cache)
    inode = out.stat().st_ino
    (repo / "svc/dev/s1.yaml").write_text("id: 1\np: !prompt hi@^1\nv: 2\n")
    env = {**os.environ, "PYTHONPATH": str(Path(cfgc.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", CODE, str(repo), str(out), str(cache)],
                          capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["False", "False"]  # rebuilt, without importing Jinja2
    assert out.stat().st_ino == inode
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_a_range_resolved_by_an_earlier_in_place_build_is_not_matched_again(repo: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    (repo / "svc/dev/s1.yaml").write_text("id: 1\np: !prompt hi@^1\n")
    build(repo, out, cache)
    code = (
        "import sys, cfgc\nfrom cfgc.compile.semver import Range\ncalls = []\nreal = Range.parse\n"
        "Range.parse = staticmethod(lambda spec: calls.append(spec) or real(spec))\n"
        "cfgc.build_bundle(sys.argv[1], sys.argv[2], cache=sys.argv[3])\nprint(calls)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(cfgc.__file__).parents[1])}
    seen = []
    for v in (2, 3):
        (repo / "svc/dev/s1.yaml").write_text(f"id: 1\np: !prompt hi@^1\nv: {v}\n")
        done = subprocess.run([sys.executable, "-c", code, str(repo), str(out), str(cache)],
                              capture_output=True, text=True, env=env, check=True)
        seen.append(done.stdout.strip())
    assert seen == ["['^1']", "[]"]  # matched once, then taken from the state
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_a_changed_pin_is_resolved_and_the_manifest_lists_the_new_version(repo: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    (repo / "svc/dev/s1.yaml").write_text("id: 1\np: !prompt hi@^1\n")
    build(repo, out, cache)
    (repo / "svc/dev/s1.yaml").write_text("id: 1\np: !prompt hi@^2\n")
    build(repo, out, cache)
    assert b'"hi@2.0.0"' in (out / "targets/dev/s1.json").read_bytes()
    assert tree(out) == clean(repo, tmp_path / "clean")
