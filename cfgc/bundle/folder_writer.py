"""Writing many files of one staging directory, the folder kept open between them.

:func:`cfgc.bundle.layout.write_file` opens each file by its whole path, so
the kernel walks every component of it again for each of 10,000 targets, and
Python joins and splits the path each time.  A build writes its targets folder
by folder (the work list is sorted by the targets' shared layers, which are
their folders), so :class:`FolderWriter` keeps the last folder open and
creates each file by its name in it (``openat``): measured on this machine's
ext4, creating 10,000 files of 1.2 KB in 40 folders took 0.90x the CPU and
0.83x the wall time of opening each by its full path (paired runs, medians of 9).
A folder is opened at its second file in a row: files that change folder
each time (another hierarchy's order) are written by path, as before, with no
folder opened for one file.

The checks are :func:`~cfgc.bundle.layout.write_file`'s: the relative path is
refused if it could leave the bundle, a folder is resolved and checked to lie
inside the staging directory once (when it is opened), and the file itself is
never a link (``O_NOFOLLOW``).  Holding the folder open means a folder swapped
for a link after its check is not followed either.  At most one descriptor is
open at a time; :meth:`FolderWriter.close` (or the ``with`` block) closes it.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from cfgc.base.errors import InputError
from cfgc.base.repopath import relative_problem
from cfgc.bundle.layout import WRITE_FLAGS, inside_folder, write_all, write_file

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class FolderWriter:
    """Writes files into one staging directory (see the module docstring)."""

    def __init__(self, staging: Path) -> None:
        self.root = staging
        self.staging = str(staging)
        self._folder: str | None = None  # the folder held open
        self._fd = -1
        self._last: str | None = None  # the folder of the last file written by path

    def write(self, rel: str, data: bytes, mode: int = 0o644) -> str:
        """What ``write_file(staging, rel, data, mode)`` does; returns the file's path."""
        folder, _, name = rel.rpartition("/")
        if folder != self._folder and folder != self._last:
            self._last = folder
            return write_file(self.root, rel, data, mode)
        problem = relative_problem(rel)
        if problem:
            raise InputError(f"refusing to write outside the bundle: {problem}")
        if folder != self._folder:
            self._open(folder, rel)
        dest = f"{self.staging}/{rel}"
        try:
            fd = os.open(name, WRITE_FLAGS, mode, dir_fd=self._fd)
        except OSError as e:  # it names only the base name: say which file, as write_file does
            raise OSError(e.errno, e.strerror, dest) from None
        write_all(fd, data, dest)
        return dest

    def link(self, rel: str, dst_dir_fd: int, dst: str) -> None:
        """Hard-link the file ``rel`` just written to ``dst`` in the folder open as ``dst_dir_fd``.

        Relative to the open folder when ``rel`` is in it (``linkat``: no path
        walked again); by path otherwise.  Never follows a link.  Raises OSError.
        """
        folder, _, name = rel.rpartition("/")
        if folder == self._folder and self._fd >= 0:
            os.link(name, dst, src_dir_fd=self._fd, dst_dir_fd=dst_dir_fd, follow_symlinks=False)
        else:
            os.link(f"{self.staging}/{rel}", dst, dst_dir_fd=dst_dir_fd, follow_symlinks=False)

    def _open(self, folder: str, rel: str) -> None:
        self.close()
        path = f"{self.staging}/{folder}" if folder else self.staging
        if not inside_folder(self.staging, path):
            raise InputError(f"refusing to write outside the bundle: {rel}")
        try:
            fd = os.open(path, _FOLDER_FLAGS)
        except FileNotFoundError:
            os.makedirs(path, exist_ok=True)
            fd = os.open(path, _FOLDER_FLAGS)
        self._fd, self._folder = fd, folder

    def close(self) -> None:
        """Close the folder held open (the writer may be used again)."""
        if self._fd >= 0:
            fd, self._fd, self._folder = self._fd, -1, None
            os.close(fd)

    def __enter__(self) -> FolderWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
