"""The build cache's index file, where the cache lives, and the key that authenticates it.

A build cache is data that may come from anywhere (a CI cache restored from
another run, a directory someone committed), so nothing in it is trusted:

- the index is authenticated with HMAC-SHA256 under a secret that never lives
  in the cache directory (``$CFGC_CACHE_SECRET``, else a random key kept in
  ``$XDG_STATE_HOME/cfgc/cache-secret``): an index written anywhere else, or
  edited, is rejected before its bytes are parsed;
- it is parsed as JSON only (never marshal or pickle), with explicit bounds;
- every entry is checked again when it is used (a digest is ``sha256:`` and
  64 lowercase hex digits before it is ever joined to a path), and every blob
  is hashed as it is read (see :mod:`cfgc.bundle.cache`).

Layout of the index file::

    cfgc-build-cache 3\\n
    <hex HMAC-SHA256 of the body>\\n
    <body: JSON {"cfgc": version, "root": repo root, "files": {...}, "targets": {...}}>
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Any

import orjson

from cfgc import __version__
from cfgc.base.bounded_read import NotRegular, read_capped
from cfgc.base.interrupts import temp_file

MAGIC = b"cfgc-build-cache 3\n"
INDEX_NAME = "index"
MAX_INDEX_BYTES = 256 * 1024 * 1024  # about 700,000 targets; a bigger file is not ours
MAX_ENTRIES = 2_000_000  # per section (files, targets)
MAX_BLOB_BYTES = 64 * 1024 * 1024  # one compiled target
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-f]{64}")


class CacheCorrupt(ValueError):
    """The cache holds something cfgc did not write; never leaves :mod:`cfgc.bundle.cache`."""


def encode_index(key: bytes, root: str, files: dict[str, Any], targets: dict[str, Any]) -> bytes:
    """The bytes of an index file."""
    doc = {"cfgc": __version__, "root": root, "files": files, "targets": targets}
    try:  # a tenth of the time of json for an index of 10,000 targets
        body = orjson.dumps(doc)
    except (TypeError, ValueError):  # a path that is no valid UTF-8 (surrogate escapes): json escapes it
        import json  # rare: not on every command's start-up

        body = json.dumps(doc, separators=(",", ":")).encode()
    return MAGIC + hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n" + body


def decode_index(key: bytes, data: bytes) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The repo root, file memo and target entries of an index; raises only :class:`CacheCorrupt`.

    An index of another cfgc version is not corrupt, only stale: it gives no
    entries.  Entries are checked one by one when used (:func:`target_entry`).
    """
    if len(data) > MAX_INDEX_BYTES:
        raise CacheCorrupt(f"index larger than {MAX_INDEX_BYTES} bytes")
    if not data.startswith(MAGIC):
        if data.startswith(b"cfgc-build-cache "):
            return "", {}, {}  # another format version: stale, not hostile
        raise CacheCorrupt("not a cfgc build cache index")
    mac, sep, body = data[len(MAGIC) :].partition(b"\n")
    if not sep or len(mac) != 64:
        raise CacheCorrupt("truncated index")
    expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(mac, expected):
        raise CacheCorrupt("index not written with this machine's cache key: edited, truncated or copied")
    try:
        doc = load_entry(body)
    except (ValueError, RecursionError):  # cannot happen for a body we wrote; kept for defence in depth
        raise CacheCorrupt("index is not JSON") from None
    if not isinstance(doc, dict):
        raise CacheCorrupt("index is not a JSON object")
    if doc.get("cfgc") != __version__:
        return "", {}, {}
    files, targets = doc.get("files"), doc.get("targets")
    if not isinstance(files, dict) or not isinstance(targets, dict):
        raise CacheCorrupt("index lacks its files or targets")
    if len(files) > MAX_ENTRIES or len(targets) > MAX_ENTRIES:
        raise CacheCorrupt(f"index has more than {MAX_ENTRIES} entries")
    root = doc.get("root")
    return (root if isinstance(root, str) else ""), files, targets


def load_entry(body: bytes) -> Any:
    """A cache index or entry document parsed from its JSON bytes."""
    try:
        return orjson.loads(body)
    except ValueError:  # orjson refuses escaped lone surrogates, which json wrote for odd paths
        import json

        return json.loads(body)


def target_entry(raw: Any) -> tuple[str, int, tuple[str, ...], tuple[str, ...]] | None:
    """A checked target entry ``(digest, size, prompts, secrets)``, or None if malformed."""
    # Exact types (JSON gives no subclasses) and no generator for empty lists:
    # this runs for every target of a warm build.
    if type(raw) is not list or len(raw) != 4:
        return None
    digest, size, prompts, secret_files = raw
    if type(digest) is not str or not _DIGEST.fullmatch(digest):
        return None
    if type(size) is not int or not 0 <= size <= MAX_BLOB_BYTES:
        return None
    if type(prompts) is not list or type(secret_files) is not list:
        return None
    if (prompts and not _str_list(prompts)) or (secret_files and not _str_list(secret_files)):
        return None
    if secret_files and any(not _repo_path(f) for f in secret_files):
        return None  # secret files are read from the repo: keep them inside it
    return digest, size, tuple(prompts), tuple(secret_files)


def file_entry(raw: Any) -> tuple[str, str] | None:
    """A checked file memo entry ``(stat stamp, sha256 hex)``, or None if malformed."""
    if not isinstance(raw, list) or len(raw) != 2:
        return None
    stamp, digest = raw
    if not isinstance(stamp, str) or not isinstance(digest, str) or not _HEX.fullmatch(digest):
        return None
    return stamp, digest


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(type(s) is str for s in v)


def _repo_path(p: str) -> bool:
    return bool(p) and not p.startswith("/") and "\0" not in p and ".." not in p.split("/")


# -- where the cache lives ------------------------------------------------------
def default_cache_dir(source: Any) -> Path | None:
    """``$CFGC_CACHE_DIR``, else ``$XDG_CACHE_HOME/cfgc/<repo id>`` (``~/.cache`` by default).

    The repo id is a digest of the resolved repo root, so each checkout has its
    own cache and none of it is inside the repo (nothing to commit by mistake,
    nothing a fork can commit for a build to pick up).
    """
    env = os.environ.get("CFGC_CACHE_DIR")
    if env:
        return Path(env)
    root = getattr(source, "root", None)
    if root is None:
        return None
    repo_id = hashlib.sha256(os.fsencode(Path(root).resolve())).hexdigest()[:24]
    return _xdg("XDG_CACHE_HOME", ".cache") / "cfgc" / repo_id


def secret_path() -> Path:
    """Where the cache key is kept when ``$CFGC_CACHE_SECRET`` is not set."""
    return _xdg("XDG_STATE_HOME", ".local/state") / "cfgc" / "cache-secret"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    # The XDG spec says relative values are invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def cache_key() -> bytes:
    """The HMAC key of the index; raises OSError when no key can be kept."""
    env = os.environ.get("CFGC_CACHE_SECRET")
    if env:
        # The variable's own bytes: one that is not UTF-8 reaches Python with surrogates.
        return hashlib.sha256(b"cfgc build cache\0" + os.fsencode(env)).digest()
    path = secret_path()
    for _ in range(2):
        try:
            data = read_capped(path, 64, follow_links=False)
        except FileNotFoundError:
            _create_key(path)
            continue
        except NotRegular:
            raise OSError(f"{path} is not a regular file") from None
        if len(data) != 64:
            raise OSError(f"{path} does not hold a cache key")
        return data
    raise OSError(f"cannot create {path}")


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # A random name, not the pid: a file an older cfgc's interrupt left (a later run
    # with the same pid, as in a container, could never create it) is no obstacle,
    # and an interrupt now leaves no copy of the key (temp_file removes it).
    with temp_file(path.parent, f".{path.name}.") as (f, tmp):
        with f:
            f.write(os.urandom(32).hex().encode())  # as secrets.token_hex, without importing random
        try:
            os.link(tmp, path)  # never replaces a key another build created meanwhile
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
