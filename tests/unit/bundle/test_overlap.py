"""The in-place checks in a forked child (cfgc.bundle.overlap): same plan, same bytes, any failure falls back."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import cfgc
from cfgc.bundle import incremental, journal, overlap
from tests.unit.bundle.test_incremental import build, clean, edit, repo, tree

__all__ = ["repo"]  # the fixture, shared with test_incremental

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")


@pytest.fixture
def probe(tmp_path: Path, monkeypatch) -> str:
    """A module nobody imported yet: whether beside_imports imported it shows in sys.modules."""
    name = f"overlap_probe_{os.getpid()}_{len(list(tmp_path.parent.iterdir()))}"
    (tmp_path / f"{name}.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_the_answer_is_the_childs_and_imports_wait_for_early(probe: str) -> None:
    pid = os.getpid()
    forked, answer = overlap.beside_imports(lambda early: (os.getpid(), [1, 2, b"x" * 300_000]), jobs=2,
                                            modules=[probe])
    assert forked and answer is not None
    assert answer[0] != pid and answer[1:] == ([1, 2, b"x" * 300_000],)  # computed in the child, bytes whole
    assert probe not in sys.modules  # early() never called: nothing imported


def test_early_starts_the_imports(probe: str) -> None:
    def work(early):
        early()
        early()  # said once
        return "done"

    assert overlap.beside_imports(work, jobs=2, modules=[probe]) == (True, "done")
    assert sys.modules[probe].LOADED


@pytest.mark.parametrize("how", ["raises", "exits", "killed", "unpicklable"])
def test_a_failing_child_means_the_caller_checks_itself(probe: str, how: str) -> None:
    def work(early):
        early()
        if how == "raises":
            raise OSError("gone")
        if how == "exits":
            os._exit(0)  # no answer at all, exit status 0
        if how == "killed":
            os.kill(os.getpid(), 9)
        return lambda: None  # pickle refuses a lambda

    assert overlap.beside_imports(work, jobs=2, modules=[probe]) == (False, None)


def test_no_fork_on_one_core_or_when_already_imported(probe: str) -> None:
    assert overlap.beside_imports(lambda early: 1, jobs=1, modules=[probe]) == (False, None)
    assert overlap.beside_imports(lambda early: 1, jobs=2, modules=["os"]) == (False, None)


def test_random_edits_through_the_child_give_the_bytes_of_a_clean_build(repo: Path, tmp_path: Path,
                                                                         monkeypatch) -> None:
    # In-process the compiler is imported already, so no fork would happen: force it.
    monkeypatch.setattr(overlap, "_worth_it", lambda modules, jobs: True)
    answers: list[bool] = []
    real = overlap.beside_imports

    def spy(work, **kw):
        got = real(work, **kw)
        answers.append(got[0])
        return got

    monkeypatch.setattr(incremental, "beside_imports", spy)
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
    assert in_place >= 8 and answers and all(answers)  # every plan came from the child


def test_a_tampered_target_is_still_caught_through_the_child(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(overlap, "_worth_it", lambda modules, jobs: True)
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    (repo / "svc/dev/s1.yaml").write_text("id: 1\nchanged: true\n")
    target = next((out / "targets").rglob("*.json"))
    target.write_bytes(target.read_bytes().replace(b"{", b"{ ", 1))  # edited in place
    build(repo, out, cache)
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_the_cli_forks_and_matches_a_clean_build(repo: Path, tmp_path: Path) -> None:
    """The console path as a user runs it: a cold process, both cores, one changed file."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(Path(cfgc.__file__).parents[1]), "CFGC_JOBS": "2"}
    cmd = [sys.executable, "-m", "cfgc", "build", "--repo", str(repo), "--out", str(out), "--cache-dir", str(cache)]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    inode = out.stat().st_ino
    (repo / "svc/prod/s2.yaml").write_text("id: 2\nw: 7\n")
    code = (
        "import runpy, sys; from cfgc.bundle import overlap; real = overlap.beside_imports\n"
        "def spy(*a, **k):\n    got = real(*a, **k); print('forked', got[0], file=sys.stderr); return got\n"
        "overlap.beside_imports = spy\n"
        "import cfgc.bundle.incremental as inc; inc.beside_imports = spy\n"
        "sys.argv = ['cfgc', *sys.argv[1:]]; runpy.run_module('cfgc', run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", code, *cmd[3:]], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "forked True" in done.stderr
    assert out.stat().st_ino == inode  # updated in place
    assert tree(out) == clean(repo, tmp_path / "clean")
