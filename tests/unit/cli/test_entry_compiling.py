"""The click-free start of ``cfgc validate`` and ``cfgc check`` (cfgc/cli/entry.py) against click.

As for ``cfgc build`` (test_entry.py): whenever the click-free parser takes a
command line, click gives the same parameters; whole runs print the same
bytes on stdout and stderr and exit with the same code, without importing
click, over the example repo (every format, a failing repo, --base, and the
usage errors found after parsing).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.cli.entry import parse_compiling
from cfgc.cli.main import cli, register_commands
from tests.fixtures.repos import git_init
from tests.unit.cli.test_entry import _run

ROOT = Path(__file__).resolve().parents[3]
TOKENS = ["--repo", "--cache-dir", "--no-cache", "--format", "json", "text", "sarif", "github", "markdown", "JSON",
          "--format=json", "--base", "HEAD", "HEAD~1", "--fail-on-existing", "--ref", "-j", "2", "--jobs", "--",
          "--help", "-h", "dir", "file", "missing", "", "-x", "\x1b[31mred", "locked", "--target", "a/*/*",
          "validate", "check", "f.yaml"]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("argv")
    (d / "dir").mkdir()
    (d / "file").write_text("x")
    (d / "locked").mkdir(mode=0)
    return d


def _click_params(argv: list[str]) -> tuple[str, dict[str, object]] | None:
    register_commands(["cfgc.cli.validate", "cfgc.cli.check"])
    try:
        ctx = cli.commands[argv[0]].make_context(argv[0], list(argv[1:]))
    except Exception:  # noqa: BLE001 - click refused the line
        return None
    return argv[0], dict(ctx.params)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["validate", "check"]), st.lists(st.sampled_from(TOKENS), max_size=7))
def test_the_click_free_parse_is_clicks(place: Path, command: str, tokens: list[str]) -> None:
    cwd = os.getcwd()
    os.chdir(place)
    try:
        argv = [command, *tokens]
        ours = parse_compiling(argv)
        if ours is not None:
            assert _click_params(argv) == ours
    finally:
        os.chdir(cwd)


def test_plain_lines_take_the_click_free_start(place: Path) -> None:
    cwd = os.getcwd()
    os.chdir(place)
    try:
        for argv in (["validate"], ["check"], ["validate", "--repo", "dir", "--no-cache", "--format", "json"],
                     ["check", "--repo", "dir", "--format", "sarif", "--cache-dir", "missing"],
                     ["check", "--base", "HEAD~1", "--fail-on-existing", "--format", "github"]):
            assert parse_compiling(argv) is not None and parse_compiling(argv) == _click_params(argv)
        for argv in (["validate", "--format", "sarif"], ["check", "--repo", "file"], ["validate", "--base", "x"],
                     ["check", "--no-cache", "--no-cache"], ["check", "f.yaml"], ["validate", "--help"],
                     ["--debug", "check"], ["check", "--base", "--format"], ["build"], []):
            assert parse_compiling(argv) is None
    finally:
        os.chdir(cwd)


def test_shell_completion_is_clicks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_CFGC_COMPLETE", "bash_complete")
    assert parse_compiling(["check"]) is None


def test_the_click_free_validate_and_check_print_what_click_does(tmp_path: Path) -> None:
    d = tmp_path / "w"
    shutil.copytree(ROOT / "examples" / "repo", d / "repo")
    (d / "empty").mkdir()
    git_init(d / "repo")
    service = d / "repo/tenants/acme/dev/services/summarizer.yaml"
    runs = [("validate", "--repo", "repo"), ("validate", "--repo", "repo", "--format", "json", "--no-cache")]
    runs += [("check", "--repo", "repo", "--no-cache", "--format", fmt)
             for fmt in ("text", "json", "github", "sarif", "markdown")]
    runs += [("check", "--repo", "repo", "--cache-dir", "cache", "--format", "json")] * 2  # cold, then warm
    failing = [*runs, ("check", "--repo", "repo", "--no-cache", "--base", "HEAD", "--format", "json"),
               ("check", "--repo", "repo", "--no-cache", "--base", "HEAD", "--fail-on-existing"),
               ("check", "--repo", "repo", "--no-cache", "--base", "no-such-ref", "--format", "json"),
               ("check", "--repo", "empty"), ("check", "--repo", "empty", "--format", "json"),
               ("validate", "--repo", "empty", "--format", "json"), ("validate", "--repo", "missing")]
    for label, args_list in (("clean", runs), ("failing", failing)):
        if label == "failing":
            service.write_text(service.read_text() + "bad: [1,\n")
        for args in args_list:
            fast, slow = _run(d, True, *args), _run(d, False, *args)
            assert fast == slow, args
    codes = {args: _run(d, True, *args)[0] for args in (("check", "--repo", "empty"), ("validate", "--repo", "repo"))}
    assert codes == {("check", "--repo", "empty"): 2, ("validate", "--repo", "repo"): 1}
