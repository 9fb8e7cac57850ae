"""The in-place checks in a forked child (cfgc.bundle.overlap): same plan, same bytes, any failure falls back."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import cfgc
from cfgc.bundle import journal, overlap
from tests.unit.bundle.test_incremental import build, clean, edit, repo, tree

__all__ = ["repo"]  # the fixture, shared with test_incremental

REAL_BUSY = overlap._busy
REAL_THREADED = overlap._threaded
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")


@pytest.fixture(autouse=True)
def idle(monkeypatch) -> None:
    """The machine counts as idle (the fork is skipped when the load average says the cores are busy)."""
    monkeypatch.setattr(overlap, "_busy", lambda cores: False)
    monkeypatch.setattr(overlap, "_threaded", lambda: False)  # a test runner may have threads of its own


@pytest.fixture
def probe(tmp_path: Path, monkeypatch) -> str:
    """A module nobody imported yet: whether beside_imports imported it shows in sys.modules."""
    name = f"overlap_probe_{os.getpid()}_{len(list(tmp_path.parent.iterdir()))}"
    (tmp_path / f"{name}.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def checker(results: list, after_early=lambda: None):
    """A check that calls early() and then answers (which process answered shows in the pid)."""

    def check(early):
        results.append(os.getpid())
        early()
        after_early()
        return (os.getpid(), b"x" * 300_000)

    return check


def test_the_answer_is_the_childs_and_the_modules_are_imported(probe: str) -> None:
    handoff = overlap.Handoff(2, modules=[probe])
    calls: list[int] = []
    pid, data = handoff.run(checker(calls))
    assert handoff.forked and calls == [os.getpid()]  # the parent stopped at early(), never re-ran
    assert pid != os.getpid() and data == b"x" * 300_000  # computed in the child, bytes whole
    assert sys.modules[probe].LOADED


def test_no_early_no_fork_no_imports(probe: str) -> None:
    handoff = overlap.Handoff(2, modules=[probe])
    assert handoff.run(lambda early: os.getpid()) == os.getpid()
    assert not handoff.forked and probe not in sys.modules


@pytest.mark.parametrize("how", ["raises", "exits", "killed", "unpicklable"])
def test_a_failing_child_means_the_parent_checks_itself(probe: str, how: str) -> None:
    parent = os.getpid()

    def fail() -> None:
        if os.getpid() == parent:
            return
        if how == "raises":
            raise OSError("gone")
        if how == "exits":
            os._exit(0)  # no answer at all, exit status 0
        if how == "killed":
            os.kill(os.getpid(), 9)

    handoff = overlap.Handoff(2, modules=[probe])
    calls: list[int] = []
    check = checker(calls, fail)
    if how == "unpicklable":
        def check(early):  # noqa: F811 - pickle refuses a lambda
            calls.append(os.getpid())
            early()
            return (lambda: None) if os.getpid() != parent else "here"
    answer = handoff.run(check)
    assert not handoff.forked and calls == [parent, parent]  # checked again, whole, here
    assert answer == "here" if how == "unpicklable" else answer[0] == parent


def test_an_answer_past_the_bound_is_refused_and_checked_here(probe: str, monkeypatch) -> None:
    monkeypatch.setattr(overlap, "MAX_ANSWER_BYTES", 100_000)  # the answer is 300,000 bytes
    handoff = overlap.Handoff(2, modules=[probe])
    calls: list[int] = []
    assert handoff.run(checker(calls))[0] == os.getpid()
    assert not handoff.forked and calls == [os.getpid(), os.getpid()]


def test_an_error_in_the_parents_recheck_is_raised_as_without_a_fork(probe: str) -> None:
    def check(early):
        early()
        raise OSError("vanished")

    with pytest.raises(OSError, match="vanished"):
        overlap.Handoff(2, modules=[probe]).run(check)


def test_no_fork_on_a_busy_machine(probe: str, monkeypatch) -> None:
    monkeypatch.setattr(overlap, "_busy", REAL_BUSY)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 2.0, 2.0))
    assert not overlap.Handoff(2, modules=[probe]).enabled
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 2.0, 2.0))
    assert overlap.Handoff(2, modules=[probe]).enabled


def test_no_fork_while_other_threads_run(probe: str, monkeypatch) -> None:
    """A lock another thread holds at the fork (an import, logging) would stay held in the child."""
    import threading

    monkeypatch.setattr(overlap, "_threaded", REAL_THREADED)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        handoff = overlap.Handoff(2, modules=[probe])
        assert not handoff.enabled
        assert handoff.run(checker([]))[0] == os.getpid() and not handoff.forked
    finally:
        stop.set()
        t.join()


def test_no_fork_on_one_core_or_when_already_imported(probe: str) -> None:
    for handoff in (overlap.Handoff(1, modules=[probe]), overlap.Handoff(2, modules=["os"])):
        assert handoff.run(checker([]))[0] == os.getpid() and not handoff.forked


def test_random_edits_through_the_child_give_the_bytes_of_a_clean_build(repo: Path, tmp_path: Path,
                                                                         monkeypatch) -> None:
    # In-process the compiler is imported already, so no fork would happen: force it.
    monkeypatch.setattr(overlap, "_worth_it", lambda modules, jobs: True)
    answers: list[bool] = []
    real = overlap.Handoff.run

    def spy(self, check):
        got = real(self, check)
        answers.append(self.forked)
        return got

    monkeypatch.setattr(overlap.Handoff, "run", spy)
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    rng = random.Random(1515)
    in_place, inode = 0, out.stat().st_ino
    for _ in range(20):
        edit(repo, rng)
        build(repo, out, cache)
        in_place += out.stat().st_ino == inode
        inode = out.stat().st_ino
        assert tree(out) == clean(repo, tmp_path / "clean")
        assert not journal.commit_dir(out.resolve()).exists()
    assert in_place >= 8 and sum(answers) >= 8  # the plans of the changed builds came from the child


def test_a_tampered_target_is_still_caught_through_the_child(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(overlap, "_worth_it", lambda modules, jobs: True)
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    (repo / "svc/dev/s1.yaml").write_text("id: 1\nchanged: true\n")
    target = next((out / "targets").rglob("*.json"))
    target.write_bytes(target.read_bytes().replace(b"{", b"{ ", 1))  # edited in place
    build(repo, out, cache)
    assert tree(out) == clean(repo, tmp_path / "clean")


@pytest.mark.parametrize("git", [False, True], ids=["plain folder", "git checkout"])
def test_the_cli_forks_and_matches_a_clean_build(repo: Path, tmp_path: Path, git: bool) -> None:
    """The console path as a user runs it: a cold process, both cores, one changed file (git asked by the parent)."""
    if git:
        run = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run([*run, "init", "-q"], check=True)
        subprocess.run([*run, "add", "-A"], check=True)
        subprocess.run([*run, "commit", "-qm", "one"], check=True)
    out, cache = tmp_path / "out", tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(Path(cfgc.__file__).parents[1]), "CFGC_JOBS": "2"}
    cmd = [sys.executable, "-m", "cfgc", "build", "--repo", str(repo), "--out", str(out), "--cache-dir", str(cache)]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    inode = out.stat().st_ino
    (repo / "svc/prod/s2.yaml").write_text("id: 2\nw: 7\n")
    code = (
        "import runpy, sys; from cfgc.bundle import overlap; real = overlap.Handoff.run\n"
        "def spy(self, check):\n    got = real(self, check); print('forked', self.forked, file=sys.stderr); return got\n"
        "overlap.Handoff.run = spy; overlap._busy = lambda cores: False\n"
        "sys.argv = ['cfgc', *sys.argv[1:]]; runpy.run_module('cfgc', run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", code, *cmd[3:]], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "forked True" in done.stderr
    assert out.stat().st_ino == inode  # updated in place
    assert tree(out) == clean(repo, tmp_path / "clean")
    source = json.loads((out / "manifest.json").read_bytes())["source"]
    assert (source["commit"] is not None, source["dirty"]) == ((True, True) if git else (False, None))
