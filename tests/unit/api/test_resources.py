"""A long-lived ``cfgc.api`` user does not run out of descriptors.

Each call opens sources (a working tree's folder fds, a commit's ``git
cat-file`` processes); nothing process-wide may keep them after the call
(the traced-prefix memo once did: cfgc/compile/trace.py).
"""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

import cfgc.api as api
from tests.fixtures.repos import EXAMPLE, git_init

CALLS = 12


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _children() -> int:
    pid = os.getpid()
    return len(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())


def test_repeated_diff_and_check_calls_keep_fds_and_git_processes_bounded(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CFGC_JOBS", "1")
    root = tmp_path / "ex"
    shutil.copytree(EXAMPLE, root)
    base = git_init(root)
    f = root / "envs/prod.yaml"
    f.write_text(f.read_text() + "\nenv_extra: 1\n")
    counts = []
    for _ in range(CALLS):
        api.diff_refs(root, base=base, cache=False)
        api.check(root, base=base, cache=False)
        counts.append((_fds(), _children()))
    # Closed by the calls themselves, not left to a garbage collection.
    first_fds, first_kids = counts[1]
    last_fds, last_kids = counts[-1]
    assert last_fds <= first_fds + 4, counts
    assert last_kids <= first_kids, counts
    gc.collect()
    assert _fds() <= first_fds + 4
    assert _children() <= first_kids


def test_a_dropped_compiler_lets_its_source_go_after_provenance_was_traced() -> None:
    import weakref

    from cfgc.compile.compiler import Compiler
    from cfgc.repo.sources import DirSource

    source = DirSource(EXAMPLE)
    compiler = Compiler(source)
    for spec in compiler.specs():
        compiled = compiler.compile(spec)
        compiled.provenance.locate(next(iter((k,) for k in compiled.value), ()))
        compiled.provenance.history(())
    gone = weakref.ref(source)
    del source, compiler, compiled
    gc.collect()
    assert gone() is None  # nothing process-wide kept it (and its open folders)
