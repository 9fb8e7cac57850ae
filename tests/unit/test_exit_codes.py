"""The CLI edge: environment failures exit 4 with a plain message; only bugs exit 3."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from click.testing import CliRunner

import cfgc.bundle.build as build_core
from cfgc.base.errors import EXIT_BUG, EXIT_EXTERNAL, environment_error
from cfgc.cli.main import cli

ENVIRONMENT = ["ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "EMFILE", "ENFILE", "EADDRINUSE"]


@pytest.mark.parametrize("name", ENVIRONMENT)
def test_environment_errnos_map_to_exit_4(name: str, tmp_path: Path) -> None:
    code = getattr(errno, name)
    err = environment_error(OSError(code, "strerror", str(tmp_path / "b" / "x.json")))
    assert err is not None and err.exit_code == EXIT_EXTERNAL
    assert str(tmp_path / "b" / "x.json") in str(err)


def test_other_oserrors_stay_bugs() -> None:
    assert environment_error(OSError(errno.ENOENT, "gone", "x")) is None
    assert environment_error(ValueError("x")) is None


def test_path_override_and_missing_path() -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    assert str(environment_error(full)) == "error: no space left on device"
    assert str(environment_error(full, "build/bundle/targets/a.json")) == (
        "error: no space left on device writing build/bundle/targets/a.json"
    )


def _run_build(monkeypatch, tmp_path: Path, exc: BaseException):
    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(build_core, "build_bundle", boom)  # what `cfgc build` calls, via cfgc.bundle.build()
    (tmp_path / "cfgc.yaml").write_text("version: 1\nhierarchy: [svc/{service}.yaml]\ntargets: '{service}'\n")
    return CliRunner().invoke(cli, ["build", "--repo", str(tmp_path), "--out", str(tmp_path / "out")])


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "out/targets/a.json"),
         "error: no space left on device writing out/targets/a.json"),
        (PermissionError(errno.EACCES, "Permission denied", "out"), "error: permission denied: out"),
        (OSError(errno.EADDRINUSE, "Address already in use"), "error: address already in use"),
        (OSError(errno.EMFILE, "Too many open files", "x"), "error: too many open files"),
        (MemoryError(), "error: out of memory"),
    ],
)
def test_cli_environment_failure_exit_4(monkeypatch, tmp_path: Path, exc: BaseException, message: str) -> None:
    result = _run_build(monkeypatch, tmp_path, exc)
    assert result.exit_code == EXIT_EXTERNAL, result.output
    assert message in result.output
    assert "bug" not in result.output


def test_cli_real_bug_is_exit_3(monkeypatch, tmp_path: Path) -> None:
    result = _run_build(monkeypatch, tmp_path, KeyError("oops"))
    assert result.exit_code == EXIT_BUG
    assert "this is a bug in cfgc" in result.output
    result = _run_build(monkeypatch, tmp_path, FileNotFoundError(errno.ENOENT, "gone", "x"))
    assert result.exit_code == EXIT_BUG
