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


class Recorder:
    """Stands in for click's bar: records how far it was moved."""

    def __init__(self) -> None:
        self.pos = 0
        self.closed_at: int | None = None

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed_at = self.pos

    def update(self, n: int) -> None:
        self.pos += n


@pytest.mark.parametrize(("total", "chunk", "hits"), [(300, 64, 0), (300, 64, 100), (1000, 64, 7), (250, 1, 0)])
def test_bar_follows_running_totals_reported_per_chunk(monkeypatch, total: int, chunk: int, hits: int) -> None:
    """The pipeline calls progress(done, total) once per chunk of targets (and
    once with the cache hits first): the bar must end full, moved in order."""
    bars: list[Recorder] = []

    def fake_bar(**_: object) -> Recorder:
        bars.append(Recorder())
        return bars[-1]

    monkeypatch.setattr(common.click, "progressbar", fake_bar)
    monkeypatch.setattr(common, "show_progress", lambda: True)
    bar = common.Progress("compiling", threshold=10)
    seen = []
    done = hits
    bar(done, total)
    while done < total:
        done = min(done + chunk, total)
        bar(done, total)
        seen.append(bars[0].pos)
    [b] = bars
    assert b.closed_at == total
    assert seen == sorted(seen) and seen[-1] == total
