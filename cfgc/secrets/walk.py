"""Finding the SOPS files under directories for ``updatekeys`` / ``rotate``.

A re-keying run that silently passes over a SOPS file leaves it with the
recipient that was meant to be removed.  So every file that holds sops
ciphertext (``ENC[AES256_GCM,``) but that cfgc will not process is returned as
*skipped*, with the reason, and the CLI names it and exits non-zero.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cfgc.base.bounded_read import FileTooLarge, NotRegular, read_file
from cfgc.base.errors import InputError
from cfgc.base.limits import MAX_FILE_BYTES
from cfgc.secrets import fileio
from cfgc.secrets.document import is_encrypted

MARKER = b"ENC[AES256_GCM,"
SUFFIXES = (".yaml", ".yml", ".json")
MAX_SCAN_BYTES = MAX_FILE_BYTES  # bytes; a larger file is reported as skipped, not read


@dataclass(frozen=True)
class Skipped:
    """A file holding sops ciphertext that cfgc did not process, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Scan:
    """SOPS files to process, and those that hold sops ciphertext but were skipped."""

    files: tuple[Path, ...]
    skipped: tuple[Skipped, ...]


def scan(roots: list[Path]) -> Scan:
    """SOPS files under ``roots`` (files given directly are taken as they are).

    Directories are walked without following directory links and without
    ``.git``.  A symbolic link to a file is not processed (cfgc does not
    rewrite through links); it is skipped unless its target is processed too.
    """
    files: list[Path] = []
    skipped: list[Skipped] = []
    links: list[Path] = []
    for root in roots:
        if not root.is_dir():
            files.append(root)
            continue
        for dirpath, dirnames, names in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for name in sorted(names):
                p = Path(dirpath) / name
                if p.is_symlink():
                    links.append(p)
                    continue
                _classify(p, files, skipped)
    done = {f.resolve() for f in files}
    for link in links:
        if link.resolve() in done or not _has_marker(link):
            continue
        skipped.append(Skipped(link, f"symbolic link (to {os.readlink(link)}); run on its target"))
    return Scan(tuple(files), tuple(skipped))


def _has_marker(p: Path) -> bool:
    try:
        return MARKER in read_file(p)
    except (OSError, InputError):  # not a regular file, or too large
        return False


def _classify(p: Path, files: list[Path], skipped: list[Skipped]) -> None:
    try:
        # One bounded read checked from fstat (a FIFO met in the walk is not
        # opened for reading: it would wait for a writer forever).
        raw = read_file(p)
    except NotRegular:
        return
    except FileTooLarge:
        if p.suffix.lower() in SUFFIXES:
            skipped.append(Skipped(p, f"larger than {MAX_SCAN_BYTES >> 20} MiB, not read"))
        return
    except OSError as e:
        if p.suffix.lower() in SUFFIXES:
            skipped.append(Skipped(p, f"cannot read: {e.strerror}"))
        return
    if MARKER not in raw:
        return
    if p.suffix.lower() not in SUFFIXES:
        skipped.append(Skipped(p, "not a .yaml/.yml/.json file (dotenv/ini/binary: use sops)"))
        return
    try:
        doc = fileio.loads(raw, fileio.format_for(p), str(p))
    except InputError as e:
        skipped.append(Skipped(p, f"cannot parse: {_strip(e.message, p)}"))
        return
    if not is_encrypted(doc):
        skipped.append(Skipped(p, "holds sops ciphertext but no sops metadata"))
        return
    files.append(p)


def _strip(message: str, p: Path) -> str:
    prefix = f"{p}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
