"""The click-free start of ``cfgc build`` (cfgc/cli/entry.py) against click.

The parse is held to click's over generated command lines (whenever the
click-free parser takes one, click gives the same parameters); whole runs are
held to the click path's output, exit code and ``OUT`` bytes over a full
build, an unchanged and an in-place rebuild, and two failures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.cli.entry import parse_build
from cfgc.cli.main import cli, register_commands

ROOT = Path(__file__).resolve().parents[3]
TOKENS = ["--repo", "--out", "--cache-dir", "--no-cache", "--format", "json", "--repo=dir", "-j", "2", "--",
          "--help", "-h", "build", "dir", "file", "missing", "sub/missing", "", "-x", "a b", "\x1b[31mred",
          "locked", "--verify-out", "--target", "a/*/*"]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("argv")
    (d / "dir").mkdir()
    (d / "file").write_text("x")
    (d / "locked").mkdir(mode=0)
    return d


def _click_params(argv: list[str]) -> dict[str, object] | None:
    register_commands(["cfgc.cli.build"])
    try:
        ctx = cli.commands["build"].make_context("build", list(argv[1:]))
    except Exception:  # noqa: BLE001 - click refused the line
        return None
    return dict(ctx.params)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(TOKENS), max_size=7))
def test_the_click_free_parse_is_clicks(place: Path, tokens: list[str]) -> None:
    cwd = os.getcwd()
    os.chdir(place)
    try:
        argv = ["build", *tokens]
        ours = parse_build(argv)
        if ours is not None:
            assert _click_params(argv) == ours
    finally:
        os.chdir(cwd)


def test_plain_build_lines_take_the_click_free_start(place: Path) -> None:
    cwd = os.getcwd()
    os.chdir(place)
    try:
        for argv in (["build"], ["build", "--repo", "dir", "--out", "missing", "--cache-dir", "dir"],
                     ["build", "--cache-dir", "sub/missing", "--repo", "dir"]):
            assert parse_build(argv) is not None and parse_build(argv) == _click_params(argv)
        if os.geteuid() != 0:  # root reads any directory: click accepts it then
            assert parse_build(["build", "--repo", "locked"]) is None
        for argv in (["build", "--out", "file"], ["build", "--repo", "dir", "--repo", "dir"], ["validate"],
                     ["build", "--out"], ["--debug", "build"], ["build", "--help"]):
            assert parse_build(argv) is None
    finally:
        os.chdir(cwd)


def test_shell_completion_is_clicks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_CFGC_COMPLETE", "bash_complete")
    assert parse_build(["build"]) is None


def _run(cwd: Path, fast: bool, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CFGC_JOBS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    head = [sys.executable, "-X", "importtime", "-m", "cfgc"] if fast else [
        sys.executable, "-c", "import sys; from cfgc.cli.main import main; sys.argv[0] = 'cfgc'; main()"]
    p = subprocess.run([*head, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    lines = p.stderr.splitlines(keepends=True)
    # A failure reports through the error edge (cfgc.cli.main), which imports click; success
    # does not: a fast run that imported click differs from the click run's output.
    imported_click = p.returncode in (0, 1) and any(line.rstrip().endswith((" click", " cfgc.cli.main"))
                                                    for line in lines)
    err = "".join(line for line in lines if not line.startswith("import time:"))
    return p.returncode, p.stdout, err + ("(click imported)" if fast and imported_click else "")


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_the_click_free_build_prints_and_writes_what_click_does(tmp_path: Path) -> None:
    sides = {}
    for side in ("fast", "click"):
        d = tmp_path / side
        shutil.copytree(ROOT / "examples" / "repo", d / "repo")
        sides[side] = d
    args = ("build", "--repo", "repo", "--out", "out", "--cache-dir", "cache")
    service = Path("repo/tenants/acme/dev/services/summarizer.yaml")
    steps = [
        ("full build", lambda d: None),
        ("nothing changed", lambda d: None),
        ("one service file", lambda d: (d / service).write_text((d / service).read_text() + "entry_marker: 1\n")),
        ("invalid YAML", lambda d: (d / service).write_text((d / service).read_text() + "bad: [1,\n")),
    ]
    for label, edit in steps:
        got = {}
        for side, d in sides.items():
            edit(d)
            got[side] = _run(d, side == "fast", *args)
        assert got["fast"] == got["click"], label
        assert _tree(sides["fast"] / "out") == _tree(sides["click"] / "out"), label
    assert got["fast"][0] == 1 and "summarizer.yaml:" in got["fast"][2]
    # A repo without cfgc.yaml: the same error edge, message and exit code.
    for d in sides.values():
        (d / "empty").mkdir()
    empty = {side: _run(d, side == "fast", "build", "--repo", "empty", "--out", "o2") for side, d in sides.items()}
    assert empty["fast"] == empty["click"] and empty["fast"][0] != 0


def test_the_default_out_is_checked_as_click_checks_it(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "bundle").write_text("not a folder")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert _click_params(["build"]) is None  # click refuses the default --out: a file
        assert parse_build(["build"]) is None
        assert parse_build(["build", "--out", "dir"]) is not None  # given, the default is not checked
    finally:
        os.chdir(cwd)


def test_an_out_path_that_is_not_utf8_builds_without_in_place_state(tmp_path: Path) -> None:
    out = os.fsdecode(b"o\xff")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CFGC_JOBS": "1"}
    for head in (["-m", "cfgc"], ["-c", "import sys; from cfgc.cli.main import main; sys.argv[0] = 'cfgc'; main()"]):
        shutil.rmtree(tmp_path / out, ignore_errors=True)
        p = subprocess.run([sys.executable, *head, "build", "--repo", str(ROOT / "examples" / "repo"), "--out", out,
                            "--cache-dir", "c"], cwd=tmp_path, env=env, capture_output=True, timeout=300)
        assert p.returncode == 0, p.stderr
        assert (tmp_path / out / "manifest.json").is_file()
