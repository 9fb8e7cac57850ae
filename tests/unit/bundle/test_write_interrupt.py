"""A Ctrl-C just after a write path made its temporary file or folder leaves nothing behind.

Every test runs cfgc in a process of its own in which ``os.open``/``os.mkdir``
send a signal to the process right after they made the first file or folder
whose name holds a given mark (no timing luck): the window between creating a
temporary thing and entering the ``try`` that removes it.  Then it looks for
leftovers.  The build's own staging folder is covered by test_build_interrupt.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIG = "version: 1\nhierarchy:\n  - svc/{service}.yaml\ntargets: '{service}'\n"
FILES = {f"svc/s{i}.yaml": f"x: {i}\nname: s{i}\n" for i in range(30)}

# Run in the process before cfgc: signal it right after a file or folder named with MARK is made.
HOOK = """
import os
real_open, real_mkdir = os.open, os.mkdir
fired = []
def _made(path):
    if not fired and MARK in os.path.basename(os.fsdecode(path)):
        fired.append(path)
        os.kill(os.getpid(), SIG)
def _open(path, *a, **k):
    fd = real_open(path, *a, **k)
    _made(path)
    return fd
def _mkdir(path, *a, **k):
    real_mkdir(path, *a, **k)
    _made(path)
os.open, os.mkdir = _open, _mkdir
"""


def _run(code: str, env: dict[str, str], mark: str = "", sig: int = signal.SIGINT) -> subprocess.CompletedProcess[str]:
    script = "\n".join([
        "import os, signal, sys",
        # pytest-xdist's workers ignore SIGINT, and a child inherits that (as it does
        # a SIGHUP ignored by nohup): start from Python's own handlers.
        "signal.signal(signal.SIGINT, signal.default_int_handler)",
        "signal.signal(signal.SIGTERM, signal.SIG_DFL)",
        "signal.signal(signal.SIGHUP, signal.SIG_DFL)",
        f"SIG, MARK = {int(sig)}, {mark!r}",
        textwrap.dedent(HOOK) if mark else "",
        textwrap.dedent(code),
    ])
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=env)


def _cli(*args: object) -> str:
    return f"sys.argv = ['cfgc', *{[str(a) for a in args]!r}]\nfrom cfgc.cli.entry import main\nmain()"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "CFGC_CACHE_SECRET"}
    e["XDG_STATE_HOME"] = str(tmp_path / "state")
    e["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    return e


def _leftovers(folder: Path, *marks: str) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if any(m in p.name for m in marks))


def _stopped(done: subprocess.CompletedProcess[str], sig: int = signal.SIGINT) -> None:
    if sig == signal.SIGINT:
        assert done.returncode == 130, done.stdout + done.stderr
    else:
        assert done.returncode == -sig, done.stdout + done.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_merge_interrupted_as_its_staging_folder_is_made_leaves_nothing(make_repo, tmp_path: Path, env, sig: int) -> None:
    # Fails on int12: merge called open_staging before its try.
    repo = make_repo(FILES, config=CONFIG)
    parts = [tmp_path / f"part-{i}" for i in (1, 2)]
    for i, part in enumerate(parts, 1):
        done = _run(_cli("build", "--repo", repo, "--shard", f"{i}/2", "--out", part, "--no-cache"), env)
        assert done.returncode == 0, done.stderr
    out = tmp_path / "o" / "out"
    done = _run(_cli("bundle", "merge", *parts, "--out", out), env, f".{out.name}.tmp-", sig)
    _stopped(done, sig)
    assert sorted(p.name for p in out.parent.iterdir()) == []
    assert _run(_cli("bundle", "merge", *parts, "--out", out), env).returncode == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_in_place_update_interrupted_as_its_commit_folder_is_made_leaves_nothing(
    make_repo, tmp_path: Path, env, sig: int
) -> None:
    # Fails on int12: open_commit came before the try, and .out.commit (no journal) stayed.
    repo = make_repo(FILES, config=CONFIG)
    out, cache = tmp_path / "o" / "out", tmp_path / "cache"
    build = _cli("build", "--repo", repo, "--out", out, "-j", "1", "--cache-dir", cache)
    assert _run(build, env).returncode == 0
    before = (out / "manifest.json").read_bytes()
    (repo / "svc" / "s0.yaml").write_text("x: 100\nname: s0\n")
    done = _run(build, env, f".{out.name}.commit", sig)
    _stopped(done, sig)
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]
    assert (out / "manifest.json").read_bytes() == before


@pytest.mark.parametrize("mark", [".cache-secret.", ".state.", ".index."])
def test_a_ctrl_c_as_a_cache_file_is_made_leaves_no_temporary_file(make_repo, tmp_path: Path, env, mark: str) -> None:
    # Fails on int12 for each: the cache key (.cache-secret.<pid>), a build's saved
    # state (.state.*) and the cache index (.index.*) were made before their try.
    repo = make_repo(FILES, config=CONFIG)
    out, cache = tmp_path / "o" / "out", tmp_path / "cache"
    done = _run(_cli("build", "--repo", repo, "--out", out, "-j", "1", "--cache-dir", cache), env, mark)
    _stopped(done)
    assert _leftovers(tmp_path, mark) == []
    # And the next build works (a key file named with a reused pid once blocked it).
    assert _run(_cli("build", "--repo", repo, "--out", out, "-j", "1", "--cache-dir", cache), env).returncode == 0


def test_a_ctrl_c_as_a_runtime_file_is_made_leaves_no_temporary_file(tmp_path: Path, env) -> None:
    # Fails on int12: write_private's mkstemp came before its try.
    target = tmp_path / "rt" / "serials.json"
    done = _run(f"from pathlib import Path\nfrom cfgc.runtime.privfile import write_private\n"
                f"write_private(Path({str(target)!r}), b'{{}}')", env, ".serials.json.tmp-")
    assert done.returncode == -signal.SIGINT and "KeyboardInterrupt" in done.stderr, done.stderr
    assert sorted(p.name for p in target.parent.iterdir()) == []


@pytest.mark.parametrize("mark", [".tmp-"])
def test_a_ctrl_c_as_a_store_file_is_made_leaves_no_temporary_file(make_repo, tmp_path: Path, env, mark: str) -> None:
    # Fails on int12: the file store wrote its temporary file outside any try.
    repo = make_repo(FILES, config=CONFIG)
    out, store = tmp_path / "out", tmp_path / "store"
    assert _run(_cli("build", "--repo", repo, "--out", out, "--no-cache"), env).returncode == 0
    done = _run(_cli("publish", out, "--to", f"file://{store}"), env, mark)
    _stopped(done)
    assert _leftovers(store, mark) == []


def test_a_ctrl_c_as_pull_stages_leaves_nothing_and_pull_names_its_folder_with_its_pid(
    make_repo, tmp_path: Path, env
) -> None:
    # Fails on int12: pull made its pid-less .out.tmp-* before its try.
    repo = make_repo(FILES, config=CONFIG)
    built, store, out = tmp_path / "built", tmp_path / "store", tmp_path / "p" / "out"
    assert _run(_cli("build", "--repo", repo, "--out", built, "--no-cache"), env).returncode == 0
    done = _run(_cli("publish", built, "--to", f"file://{store}", "--format", "json"), env)
    assert done.returncode == 0, done.stderr
    pull = _cli("pull", json.loads(done.stdout)["version"], "--from", f"file://{store}", "--out", out)
    done = _run(pull, env, f".{out.name}.tmp-")
    _stopped(done)
    assert sorted(p.name for p in out.parent.iterdir()) == []
    # Killed, it leaves a folder named with its pid, which the next pull or build removes at once.
    done = _run(pull, env, f".{out.name}.tmp-", signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    left = [p.name for p in out.parent.iterdir() if ".tmp-" in p.name]
    assert len(left) == 1 and left[0].split(".tmp-", 1)[1].split("-", 1)[0].isdigit(), left
    assert _run(pull, env).returncode == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]
    assert (out / "manifest.json").read_bytes() == (built / "manifest.json").read_bytes()


def test_a_key_file_an_interrupted_run_with_this_pid_left_does_not_disable_the_cache(tmp_path: Path, monkeypatch) -> None:
    # Fails on int12: the temporary key was named .cache-secret.<pid> and opened O_EXCL,
    # so a leftover of a run with the same pid (a container) meant "build cache disabled".
    from cfgc.bundle.cache_index import cache_key, secret_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("CFGC_CACHE_SECRET", raising=False)
    path = secret_path()
    path.parent.mkdir(parents=True)
    (path.parent / f".{path.name}.{os.getpid()}").write_bytes(b"left by a killed run")
    assert len(cache_key()) == 64
