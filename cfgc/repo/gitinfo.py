"""What a working tree's git checkout says about it: commit, ref, time, remote, dirty.

The answers are git's own (no reading of ``.git`` by hand: worktrees, packed
refs, ``insteadOf`` rewrites and the index all stay git's business), but the
questions go out as four independent processes started together, and a caller
can start them early and collect them later (an in-place build starts them
before it stats the repo, so they cost about nothing of its wall time):

* ``rev-parse --show-toplevel HEAD --abbrev-ref HEAD`` (one process, three answers),
* ``log -1 --format=%ct HEAD``,
* ``status --porcelain -- .`` (the slow one on a large tree),
* ``remote``, then ``remote get-url`` of the first name it lists.

The result is the one the seven sequential commands gave before (a test
compares both over clean, dirty, detached, sub-folder and multi-remote repos).

No process is started where git could not find a repository (:func:`may_be_repo`):
four ``fork``/``exec`` of git cost a build outside git about 5 ms of CPU and more
of wall time, to learn it is not under version control.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfgc.base.errors import ExternalError

if TYPE_CHECKING:
    import subprocess

GIT_TIMEOUT = 30  # seconds, for each git process (as the sequential commands had)
STOP_TIMEOUT = 5  # seconds to reap a killed git process group


def utc(epoch: int) -> str:
    """``epoch`` as ISO 8601 UTC (``2024-01-02T03:04:05Z``)."""
    import datetime as dt  # only when a commit is dated: start-up stays light

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def strip_credentials(url: str) -> str:
    """``url`` without the user and token a remote URL may embed (``https://x-access-token:T@host/``)."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


# Environment variables git reads that cannot make it find a repository where
# no ``.git`` and no ``HEAD`` is; any other ``GIT_*`` (``GIT_DIR`` first) lets git decide.
_HARMLESS_ENV = ("GIT_SSL_", "GIT_SSH", "GIT_ASKPASS", "GIT_TERMINAL_PROMPT", "GIT_TRACE", "GIT_AUTHOR_",
                 "GIT_COMMITTER_", "GIT_PAGER", "GIT_EDITOR", "GIT_HTTP_", "GIT_CURL_", "GIT_PROXY_",
                 "GIT_OPTIONAL_LOCKS", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM")


def may_be_repo(root: Path) -> bool:
    """False only when ``git -C root`` cannot find a repository; True whenever in doubt.

    git looks for a repository in ``GIT_DIR``, else in each folder from the real
    path of ``root`` up to ``/``: a ``.git`` there (folder, or file naming one
    elsewhere), or the folder itself a bare repository (which holds ``HEAD``).
    This answers True for any ``GIT_*`` variable not known to be unrelated, and
    for any ``.git`` or ``HEAD`` entry (even a dangling link) above the real or
    the given path, without reading them: a superset of git's own discovery,
    whose ceilings and ownership checks only ever find less.
    """
    if any(k.startswith("GIT_") and not k.startswith(_HARMLESS_ENV) for k in os.environ):
        return True
    try:
        starts = {os.path.realpath(root), os.path.abspath(root)}
        for start in starts:
            folder = start
            while True:
                if os.path.lexists(os.path.join(folder, ".git")) or os.path.lexists(os.path.join(folder, "HEAD")):
                    return True
                parent = os.path.dirname(folder)
                if parent == folder:
                    break
                folder = parent
    except (OSError, ValueError):
        return True
    return False


class GitQuery:
    """The git processes for one working tree, running; :meth:`fields` waits for them.

    Always end one with :meth:`fields` or :meth:`close` (a ``with`` block closes it).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._procs: dict[str, subprocess.Popen[str] | None] = {}
        if not may_be_repo(root):
            return  # every answer would be "not a repository": fields() says dirty=None
        for name, args in (
            ("head", ("rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD")),
            ("time", ("log", "-1", "--format=%ct", "HEAD")),
            ("status", ("status", "--porcelain", "--", ".")),
            ("remote", ("remote",)),
        ):
            self._procs[name] = self._start(args)

    def _start(self, args: tuple[str, ...]) -> subprocess.Popen[str] | None:
        import subprocess  # here: a build outside git never starts one (about 3 ms of imports)

        try:
            # GIT_OPTIONAL_LOCKS=0: git status takes no index.lock to refresh the
            # index, so a query stopped early (close) never leaves one behind to
            # fail the user's next commit.  Its own session: a stop kills what it
            # started too (hooks, fsmonitor), which would otherwise hold the pipe.
            return subprocess.Popen(["git", "-C", str(self.root), *args], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
                                    env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}, start_new_session=True)
        except OSError:  # no git: the tree is reported as not under version control
            return None

    def _out(self, name: str) -> str | None:
        """The stripped output of one process; None if it failed (or could not start)."""
        proc = self._procs.pop(name, None)
        if proc is None:
            return None
        import subprocess

        try:
            out, _ = proc.communicate(timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return None
        return out.strip() if proc.returncode == 0 else None

    def fields(self) -> dict[str, Any]:
        """The :class:`~cfgc.repo.sources.SourceInfo` fields; only ``dirty=None`` outside git."""
        try:
            head = self._out("head")
            if head is None:
                return {"dirty": None}  # not a repo, no git, or no commit yet
            *top, commit, abbrev = head.split("\n")
            toplevel = "\n".join(top)
            names = self._out("remote")
            url = None
            if names:
                self._procs["url"] = self._start(("remote", "get-url", names.splitlines()[0]))
                found = self._out("url")
                url = strip_credentials(found) if found is not None else None
            status, when = self._out("status"), self._out("time")
            if status is None or when is None:  # HEAD resolved, yet git cannot say more: not ours to guess
                raise ExternalError(f"git status or git log failed in {self.root}")
            subdir = os.path.relpath(self.root.resolve(), Path(toplevel).resolve()).replace(os.sep, "/")
            return {
                "repo_url": url,
                "ref": os.environ.get("CFGC_REF_NAME") or abbrev or None,
                "commit": commit,
                "commit_time": utc(int(when)),
                "dirty": bool(status),
                "subdir": "" if subdir == "." else subdir,
            }
        finally:
            self.close()

    def close(self) -> None:
        """Stop what still runs (a caller that no longer needs the answers)."""
        for proc in self._procs.values():
            if proc is not None:
                _stop(proc)
        self._procs.clear()

    def __enter__(self) -> GitQuery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc``'s process group if it still runs, and reap it within a bound."""
    import signal
    import subprocess

    if proc.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=STOP_TIMEOUT)
