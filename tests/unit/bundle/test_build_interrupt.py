"""An interrupt at any point of a build leaves OUT whole and nothing of the build beside it.

Each test runs ``cfgc build`` in a process of its own that signals itself at one
chosen point (a wrapper around the function that ends there: no timing luck),
then looks at what is beside OUT.  SIGINT exits 130; SIGTERM and SIGHUP remove
what the build made, then the process ends of the signal.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cfgc.bundle.outdir import clean_stale, exclusive

ROOT = Path(__file__).resolve().parents[3]
CONFIG = "version: 1\nhierarchy:\n  - svc/{service}.yaml\ntargets: '{service}'\n"
FILES = {f"svc/s{i}.yaml": f"x: {i}\nname: s{i}\n" for i in range(12)}

# Code run in the build's process before ``cfgc build``: signal this process at a point.
SERIAL_END = """
import cfgc.bundle.build as b
real = b.finish_staging
def finish_staging(*a, **k):
    digest = real(*a, **k)  # the manifest is written: the workers are long done
    os.kill(os.getpid(), SIG)
    return digest
b.finish_staging = finish_staging
"""
OPEN_STAGING = """
import cfgc.bundle.build as b
real = b.open_staging
def open_staging(out):
    made = real(out)
    os.kill(os.getpid(), SIG)  # the folder exists, the caller has not got its name yet
    return made
b.open_staging = open_staging
"""
SECOND_INTERRUPT = SERIAL_END + """
import shutil
real_rmtree = shutil.rmtree
def rmtree(path, *a, **k):
    if ".tmp-" in str(path):
        os.kill(os.getpid(), SIG)  # a second Ctrl-C while the first one's cleanup runs
    return real_rmtree(path, *a, **k)
shutil.rmtree = rmtree
"""
BETWEEN_RENAMES = """
import cfgc.bundle.outdir as d
d.exchange = lambda new, out: False  # a file system without renameat2's exchange
real_rename = os.rename
def rename(src, dst):
    real_rename(src, dst)
    if ".old-" in str(dst):
        os.kill(os.getpid(), SIG)  # OUT is moved aside, the new bundle not yet in its place
os.rename = rename
"""
IN_PLACE_COMMIT = """
import cfgc.bundle.incremental as inc
real = inc.commit
def commit(*a, **k):
    os.kill(os.getpid(), SIG)  # the commit folder holds the new files, no journal yet
    return real(*a, **k)
inc.commit = commit
"""


def _build(repo: Path, out: Path, hook: str = "", sig: int = signal.SIGINT, *extra: str) -> subprocess.CompletedProcess[str]:
    script = "\n".join([
        "import os, signal, sys",
        # pytest-xdist's workers ignore SIGINT, and a child inherits that (as it does
        # a SIGHUP ignored by nohup): start from Python's own handlers.
        "signal.signal(signal.SIGINT, signal.default_int_handler)",
        "signal.signal(signal.SIGTERM, signal.SIG_DFL)",
        "signal.signal(signal.SIGHUP, signal.SIG_DFL)",
        f"SIG = {int(sig)}",
        textwrap.dedent(hook),
        f"sys.argv = ['cfgc', 'build', '--repo', {str(repo)!r}, '--out', {str(out)!r}, '-j', '1', *{list(extra)!r}]",
        "from cfgc.cli.entry import main",
        "main()",
    ])
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _digest(out: Path) -> str:
    return hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()


def _beside(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.fixture
def built(make_repo, tmp_path: Path) -> tuple[Path, Path, str]:
    repo = make_repo(FILES, config=CONFIG)
    out = tmp_path / "o" / "out"
    done = _build(repo, out, "", signal.SIGINT, "--no-cache")
    assert done.returncode == 0, done.stderr
    (repo / "svc" / "s0.yaml").write_text("x: 100\nname: s0\n")  # the next build changes OUT
    return repo, out, _digest(out)


def _expect_stopped(done: subprocess.CompletedProcess[str], sig: int) -> None:
    if sig == signal.SIGINT:
        assert done.returncode == 130, done.stderr
        assert "interrupted" in done.stderr
    else:
        assert done.returncode == -sig, done.stderr  # ended of the signal, as without cfgc's handler


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_in_the_serial_end_removes_the_staging_folder(built, sig: int) -> None:
    # Fails on main for SIGTERM and SIGHUP: the process died with .out.tmp-<pid>-* beside OUT.
    repo, out, before = built
    done = _build(repo, out, SERIAL_END, sig, "--no-cache")
    _expect_stopped(done, sig)
    assert _digest(out) == before
    assert _beside(out) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_as_the_staging_folder_is_made_removes_it(built, sig: int) -> None:
    # Fails on main: the interrupt came before the try that removes the folder.
    repo, out, before = built
    done = _build(repo, out, OPEN_STAGING, sig, "--no-cache")
    _expect_stopped(done, sig)
    assert _digest(out) == before
    assert _beside(out) == []


def test_a_second_interrupt_during_the_cleanup_does_not_stop_it(built) -> None:
    # Fails on main: the second KeyboardInterrupt stopped rmtree before it removed anything.
    repo, out, before = built
    done = _build(repo, out, SECOND_INTERRUPT, signal.SIGINT, "--no-cache")
    _expect_stopped(done, signal.SIGINT)
    assert _digest(out) == before
    assert _beside(out) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_between_the_two_renames_of_a_swap_never_leaves_out_missing(built, sig: int) -> None:
    # Fails on main: OUT was renamed aside and the interrupt removed the new bundle: no OUT at all.
    repo, out, before = built
    done = _build(repo, out, BETWEEN_RENAMES, sig, "--no-cache")
    _expect_stopped(done, sig)
    assert (out / "manifest.json").is_file()
    assert _digest(out) != before  # the swap is finished, then the interrupt is acted on
    assert _beside(out) == []


def test_sigterm_in_an_in_place_update_removes_its_commit_folder(make_repo, tmp_path: Path) -> None:
    # Fails on main: the process died with .out.commit (new files, no journal) beside OUT.
    repo = make_repo(FILES, config=CONFIG)
    out, cache = tmp_path / "o" / "out", tmp_path / "cache"
    assert _build(repo, out, "", signal.SIGINT, "--cache-dir", str(cache)).returncode == 0
    before = _digest(out)
    (repo / "svc" / "s0.yaml").write_text("x: 100\nname: s0\n")
    done = _build(repo, out, IN_PLACE_COMMIT, signal.SIGTERM, "--cache-dir", str(cache))
    _expect_stopped(done, signal.SIGTERM)
    assert _digest(out) == before
    assert _beside(out) == []
    again = _build(repo, out, "", signal.SIGINT, "--cache-dir", str(cache))
    assert again.returncode == 0, again.stderr
    assert _digest(out) != before


# A signal sent to the process after the in-place commit's first rename: OUT is
# half new.  The manifest's hash runs on a thread meanwhile, which the kernel
# may hand the signal to, so the hold must not rest on the main thread's mask.
BETWEEN_COMMIT_RENAMES = """
import threading, time
# Another thread, as the hash's: the kernel hands it a signal the main thread blocks.
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
import cfgc.bundle.journal as j
real_replace, done = os.replace, []
def replace(src, dst, **k):
    real_replace(src, dst, **k)
    if ".out.commit" in str(src) and not str(src).endswith(".tmp") and not done:
        done.append(dst)
        os.kill(os.getpid(), SIG)
j.os = type(os)("os_shim")
j.os.__dict__.update(os.__dict__)
j.os.replace = replace
"""


def _whole(out: Path) -> bool:
    import json

    targets = json.loads((out / "manifest.json").read_bytes())["targets"]
    return all("sha256:" + hashlib.sha256((out / "targets" / f"{name}.json").read_bytes()).hexdigest() == t["digest"]
               for name, t in targets.items())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_between_the_in_place_commits_renames_waits_until_out_is_whole(make_repo, tmp_path: Path, sig: int) -> None:
    # Failed before the hold: OUT was left with new files under the old manifest, the journal beside it.
    repo = make_repo(FILES, config=CONFIG)
    out, cache = tmp_path / "o" / "out", tmp_path / "cache"
    assert _build(repo, out, "", signal.SIGINT, "--cache-dir", str(cache)).returncode == 0
    before = _digest(out)
    for i in range(6):
        (repo / "svc" / f"s{i}.yaml").write_text(f"x: {100 + i}\nname: s{i}\n")
    done = _build(repo, out, BETWEEN_COMMIT_RENAMES, sig, "--cache-dir", str(cache))
    _expect_stopped(done, sig)
    assert _digest(out) != before and _whole(out)  # the commit finished, then the signal was acted on
    assert _beside(out) == []


def test_after_a_kill_the_next_build_removes_the_staging_folder(built) -> None:
    # SIGKILL cannot be cleaned up after: the next build does it (the pid is gone).
    repo, out, before = built
    killed = _build(repo, out, SERIAL_END, signal.SIGKILL, "--no-cache")
    assert killed.returncode == -signal.SIGKILL
    assert [n for n in _beside(out) if ".tmp-" in n]
    assert _digest(out) == before
    done = _build(repo, out, "", signal.SIGINT, "--no-cache")
    assert done.returncode == 0, done.stderr
    assert _beside(out) == []


def test_leftovers_named_with_this_process_pid_are_stale_under_the_lock(tmp_path: Path) -> None:
    # Fails on main: in a container every run may get the same pid, and such a folder stayed forever.
    out = tmp_path / "out"
    mine = tmp_path / f".out.tmp-{os.getpid()}-abc"
    old = tmp_path / f".out.old-{os.getpid()}"
    for d in (mine, old):
        (d / "targets").mkdir(parents=True)
    with exclusive(out):
        assert not mine.exists() and not old.exists()


def test_only_directories_of_this_user_are_removed_never_what_a_link_points_to(tmp_path: Path) -> None:
    out = tmp_path / "out"
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    dead = 2**22 + 17  # above pid_max's default: no process has it
    link = tmp_path / f".out.tmp-{dead}-lnk"
    link.symlink_to(victim, target_is_directory=True)
    planted = tmp_path / f".out.old-{dead}"
    planted.write_text("not a folder")
    assert clean_stale(out) == []
    assert (victim / "keep").is_dir() and link.is_symlink() and planted.is_file()


def test_a_large_old_bundle_goes_to_an_rm_that_signals_still_reach(built) -> None:
    # The renames hold signals back; the detached rm started after them must not inherit that mask.
    repo, out, _ = built
    hook = BETWEEN_RENAMES.replace("os.kill(os.getpid(), SIG)", "pass") + """
import subprocess, cfgc.bundle.swap as sw
sw.BACKGROUND_DELETE_MIN = 1
real_popen = subprocess.Popen
def popen(*a, **k):
    sys.stderr.write("MASK %s\\n" % sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    return real_popen(*a, **k)
subprocess.Popen = popen
"""
    done = _build(repo, out, hook, signal.SIGINT, "--no-cache")
    assert done.returncode == 0, done.stderr
    assert "MASK []" in done.stderr
