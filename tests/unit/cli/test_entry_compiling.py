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
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.cli.entry import parse_compiling
from cfgc.cli.main import cli, register_commands

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


def _run(cwd: Path, fast: bool, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CFGC_JOBS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    head = [sys.executable, "-X", "importtime", "-m", "cfgc"] if fast else [
        sys.executable, "-c", "import sys; from cfgc.cli.main import main; sys.argv[0] = 'cfgc'; main()"]
    p = subprocess.run([*head, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    lines = p.stderr.splitlines(keepends=True)
    # A failure reports through the error edge (cfgc.cli.main), which imports click; success does not.
    imported_click = p.returncode in (0, 1) and any(line.rstrip().endswith((" click", " cfgc.cli.main"))
                                                    for line in lines)
    err = "".join(line for line in lines if not line.startswith("import time:"))
    return p.returncode, p.stdout, err + ("(click imported)" if fast and imported_click else "")


def _git(d: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=d, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def test_the_click_free_validate_and_check_print_what_click_does(tmp_path: Path) -> None:
    d = tmp_path / "w"
    shutil.copytree(ROOT / "examples" / "repo", d / "repo")
    (d / "empty").mkdir()
    _git(d / "repo", "init", "-q")
    _git(d / "repo", "add", "-A")
    _git(d / "repo", "commit", "-qm", "base")
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
