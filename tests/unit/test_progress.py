"""Long runs show a progress bar on a terminal, never in CI logs."""

import io

import pytest

from cfgc.cli import common


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("tty", "ci", "shown"), [(True, None, True), (True, "true", False), (False, None, False)])
def test_progress_only_on_an_interactive_terminal(monkeypatch, tty: bool, ci: str | None, shown: bool) -> None:
    err = Tty() if tty else io.StringIO()
    monkeypatch.setattr(common.sys, "stderr", err)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    bar = common.Progress("compiling", threshold=10)
    for i in range(1, 21):
        bar(i, 20)
    bar.close()
    assert ("compiling" in err.getvalue()) is shown


def test_small_runs_show_no_bar(monkeypatch) -> None:
    err = Tty()
    monkeypatch.setattr(common.sys, "stderr", err)
    monkeypatch.delenv("CI", raising=False)
    bar = common.Progress("compiling", threshold=200)
    bar(5, 5)
    assert err.getvalue() == ""
