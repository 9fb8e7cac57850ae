"""The build cache: compiled targets keyed by the digests of everything they read.

A target's key covers the cfgc version, cfgc.yaml, every schema, the prompt
library and the content of each of its layer files; its value is the target's
canonical JSON, stored once by digest.  A warm build reads only the files that
changed (file digests are remembered by stat, as git's index does) and compiles
only the targets whose inputs changed.

Layout (under ``<repo>/.cfgc/cache`` unless ``--cache-dir``/``CFGC_CACHE_DIR``)::

    index-<python>.marshal  {"files": {path: [stat, digest]}, "targets": {key: [digest, size, prompts, secrets]}}
    blobs/<hex>             canonical JSON of one compiled target (read-only)

The index is in marshal format: several times faster than JSON for the tens of
thousands of entries of a large repo, and, unlike pickle, loading it runs no
code (a cache restored from elsewhere in CI is data, not a program).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from cfgc import __version__
from cfgc.bundle import TargetOutput, target_path, write_file
from cfgc.hierarchy import TargetSpec
from cfgc.sources import DirSource, GitSource, Source

INDEX_VERSION = 2
INDEX_NAME = f"index-py{sys.version_info.major}{sys.version_info.minor}.marshal"


class BuildCache:
    """A content-keyed cache of compiled targets in one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self._files: dict[str, list[Any]] = {}
        self._targets: dict[str, list[Any]] = {}
        self._used: dict[str, list[Any]] = {}
        self._digests: dict[str, str] = {}  # this build's file digests
        self._prefix_hashes: dict[tuple[str, ...], Any] = {}
        self._dirty = False
        self._load()

    def _load(self) -> None:
        try:
            doc = marshal.loads((self.root / INDEX_NAME).read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return  # no cache yet, or a damaged one: start afresh
        if not isinstance(doc, dict) or doc.get("version") != INDEX_VERSION or doc.get("cfgc") != __version__:
            return
        files, targets = doc.get("files"), doc.get("targets")
        if isinstance(files, dict) and isinstance(targets, dict):
            self._files, self._targets = files, targets

    # -- keys ---------------------------------------------------------------
    def file_digest(self, source: Source, path: str) -> str:
        """A content digest of one file, reading it only when its stat changed."""
        memo = self._digests.get(path)
        if memo is not None:
            return memo
        if isinstance(source, GitSource):
            digest = "git:" + source.blob_sha(path)
        elif isinstance(source, DirSource):
            try:
                st = os.stat(os.path.join(source.root, path))
            except OSError:
                return "missing"
            stamp = f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_size}:{st.st_ino}"
            hit = self._files.get(path)
            if hit is not None and hit[0] == stamp:
                digest = str(hit[1])
            else:
                digest = hashlib.sha256(source.read(path)).hexdigest()
                self._files[path] = [stamp, digest]
                self._dirty = True
        else:
            digest = hashlib.sha256(source.read(path)).hexdigest()
        self._digests[path] = digest
        return digest

    def target_key(self, spec: TargetSpec, global_key: str, source: Source) -> str:
        """The cache key of one target."""
        # Targets share all layers but their last: hash that prefix once.
        prefix = spec.layers[:-1]
        base = self._prefix_hashes.get(prefix)
        if base is None:
            base = hashlib.sha256(global_key.encode())
            for p in prefix:
                base.update(b"\0" + p.encode() + b"\0" + self.file_digest(source, p).encode())
            self._prefix_hashes[prefix] = base
        h = base.copy()
        last = spec.layers[-1]
        h.update(b"\0" + last.encode() + b"\0" + self.file_digest(source, last).encode() + b"\0" + spec.name.encode())
        return h.hexdigest()

    # -- entries -------------------------------------------------------------
    def get_many(
        self, keyed: list[tuple[TargetSpec, str]], staging: Path | None
    ) -> tuple[list[TargetOutput], list[tuple[TargetSpec, str | None]]]:
        """Cached outputs for many targets, and the ones to compile.

        (Placing cached targets with a few threads was measured slower than
        one: the links are quick and the threads contend for the GIL.)
        """
        found: list[TargetOutput] = []
        misses: list[tuple[TargetSpec, str | None]] = []
        for spec, key in keyed:
            out = self.get(key, spec, staging)
            if out is None:
                misses.append((spec, key))
            else:
                found.append(out)
        return found, misses

    def get(self, key: str, spec: TargetSpec, staging: Path | None) -> TargetOutput | None:
        """The cached output for ``key``; links its bytes into ``staging``."""
        entry = self._targets.get(key)
        if entry is None:
            return None
        digest, size, prompts, secrets = entry
        blob = os.path.join(self.blobs, digest)
        if staging is not None:
            try:
                _link(blob, os.path.join(staging, target_path(spec.name)))
            except OSError:
                return None  # the blob went missing: compile again
        elif not os.path.exists(blob):
            return None
        self._used[key] = entry
        return TargetOutput(spec.name, spec.variables, "sha256:" + digest, size, tuple(prompts), tuple(secrets))

    def store(self, digest: str, data: bytes) -> None:
        """Store the bytes of a compiled target (safe from several processes)."""
        hexdigest = digest.removeprefix("sha256:")
        blob = self.blobs / hexdigest
        if blob.exists():
            return
        self.blobs.mkdir(parents=True, exist_ok=True)
        tmp = blob.with_name(f".{hexdigest}.{os.getpid()}")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o444)  # bundles hard-link blobs: keep them from being edited in place
        os.replace(tmp, blob)

    def link(self, digest: str, dest: Path) -> None:
        """Put a stored target into a bundle being written (a hard link where possible)."""
        _link(os.path.join(self.blobs, digest.removeprefix("sha256:")), str(dest))

    def record(self, key: str, out: TargetOutput) -> None:
        """Remember that ``key`` compiles to ``out`` (whose bytes are stored)."""
        self._used[key] = [out.digest.removeprefix("sha256:"), out.size, list(out.prompts), list(out.secrets)]
        self._dirty = True

    def save(self) -> None:
        """Write the index (atomically) and drop blobs no entry refers to."""
        if not self._dirty and len(self._used) == len(self._targets):
            return  # a fully warm build: the index already says all of it
        targets = dict(self._used)
        # Keep older entries too (a branch switch back should stay warm), bounded.
        budget = 2 * len(targets) + 1000
        for k, v in self._targets.items():
            if len(targets) >= budget:
                break
            targets.setdefault(k, v)
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root.parent / ".gitignore"
        if self.root.parent.name == ".cfgc" and not ignore.exists():
            ignore.write_text("# cfgc build cache\n*\n")
        doc = {"version": INDEX_VERSION, "cfgc": __version__, "files": self._files, "targets": targets}
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".index.")
        with os.fdopen(fd, "wb") as f:
            f.write(marshal.dumps(doc))
        os.replace(tmp, self.root / INDEX_NAME)
        self._prune({v[0] for v in targets.values()})

    def _prune(self, keep: set[str]) -> None:
        if not self.blobs.is_dir():
            return
        names = os.listdir(self.blobs)
        if len(names) <= 2 * len(keep) + 100:
            return
        for name in names:
            if name not in keep:
                with contextlib.suppress(OSError):
                    (self.blobs / name).unlink()

    def clear(self) -> None:
        """Remove the whole cache."""
        shutil.rmtree(self.root, ignore_errors=True)


def _link(blob: str, dest: str) -> None:
    try:
        os.link(blob, dest)
    except FileNotFoundError:
        if not os.path.exists(blob):
            raise
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        try:
            os.link(blob, dest)
        except OSError:
            _copy(blob, dest)
    except OSError:  # another filesystem, or links not allowed: copy
        if not os.path.exists(blob):
            raise
        _copy(blob, dest)


def _copy(blob: str, dest: str) -> None:
    with open(blob, "rb") as f:
        data = f.read()
    write_file(Path(os.path.dirname(dest)), os.path.basename(dest), data)


def default_cache_dir(source: Source) -> Path | None:
    """``$CFGC_CACHE_DIR``, else ``<repo>/.cfgc/cache``."""
    env = os.environ.get("CFGC_CACHE_DIR")
    if env:
        return Path(env)
    root = getattr(source, "root", None)
    return Path(root) / ".cfgc" / "cache" if root is not None else None
