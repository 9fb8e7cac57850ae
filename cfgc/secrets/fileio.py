"""Read and write SOPS documents (format from the extension, as sops chooses it).

YAML is written as sops writes it (4-space indentation, ``sops`` last, sorted
metadata keys); JSON with tab indentation, as sops does.  Any other extension is
sops' binary store: the whole file is the value ``data``, and the encrypted
file is JSON.  ``.env`` and ``.ini`` (sops' dotenv and ini stores) are refused
before anything is read or written: cfgc does not implement them.  Document key
order is kept.  Writes are atomic (temporary file + rename) and keep the file's
mode, owner and group; they never write through or replace a symbolic link.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfgc.base.bounded_read import read_file
from cfgc.base.errors import InputError
from cfgc.secrets import comments, yamlemit, yamlio
from cfgc.secrets.cipher import format_go_time

FORMATS = ("yaml", "json", "binary")
_UNSUPPORTED = {".env": "dotenv", ".ini": "ini"}


class EmptyDocument(dict[str, Any]):
    """What an empty (or comment-only) YAML file loads as: sops refuses to encrypt it."""


def format_for(path: str | os.PathLike[str], override: str | None = None) -> str:
    """The store sops would use for ``path`` (or the explicit override).

    ``.json`` → json, ``.yaml``/``.yml`` → yaml, ``.env``/``.ini`` → refused,
    anything else → binary.
    """
    if override:
        if override not in FORMATS:
            raise InputError(f"unsupported format {override!r} (use yaml, json or binary)")
        return override
    suffix = Path(str(path)).suffix.lower()
    if suffix in _UNSUPPORTED:
        raise InputError(
            f"{path}: sops {_UNSUPPORTED[suffix]} files are not supported by cfgc; "
            "use the sops binary (or a .yaml/.json file)"
        )
    if suffix == ".json":
        return "json"
    return "yaml" if suffix in (".yaml", ".yml") else "binary"


def _binary_load(raw: str | bytes) -> dict[str, Any]:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if data.lstrip().startswith(b"{"):
        try:
            doc = _json_load(data)
        except InputError:
            doc = None
        if isinstance(doc, dict) and "sops" in doc:
            return doc  # an encrypted binary file is JSON
    try:
        return {"data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"data": data}


def loads(text: str | bytes, fmt: str, origin: str = "<input>") -> dict[str, Any]:
    """Parse a document; the top level must be a mapping."""
    if fmt == "binary":
        return _binary_load(text)
    try:
        data = _json_load(text) if fmt == "json" else yamlio.load(text)
    except InputError as e:
        raise InputError(f"{origin}: {e.message}") from None
    if data is None:
        return EmptyDocument()
    if not isinstance(data, dict):
        raise InputError(f"{origin}: the top level of a secrets file must be a mapping")
    return data


def _json_load(text: str | bytes) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise InputError(f"duplicate key {k!r}")
            out[k] = v
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as e:
        raise InputError(f"line {e.lineno}: invalid JSON: {e.msg}") from None


def _json_default(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return format_go_time(v)
    if isinstance(v, bytes):
        raise InputError("JSON cannot hold a binary (non-UTF-8) value; use YAML")
    raise InputError(f"cannot write a {type(v).__name__} value as JSON")


def _check_finite(v: object) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        raise InputError("JSON cannot hold NaN or infinite numbers")
    if isinstance(v, Mapping):
        for x in v.values():
            _check_finite(x)
    elif isinstance(v, list):
        for x in v:
            _check_finite(x)


def dump_bytes(doc: Any, fmt: str) -> bytes:
    """:func:`dumps` as bytes; a decrypted binary file is its ``data``, byte for byte."""
    if fmt == "binary" and isinstance(doc, Mapping) and "sops" not in doc:
        data = doc.get("data", "")
        if not isinstance(data, str | bytes):
            raise InputError("a binary file holds one string value, 'data'")
        return data if isinstance(data, bytes) else data.encode("utf-8")
    return dumps(doc, fmt).encode("utf-8")


def dumps(doc: object, fmt: str) -> str:
    """Serialise a document in ``fmt`` (an encrypted binary file is JSON)."""
    if fmt == "binary":
        if isinstance(doc, Mapping) and "sops" not in doc:
            return dump_bytes(doc, fmt).decode("utf-8", errors="surrogateescape")
        fmt = "json"
    if fmt == "json":
        doc = comments.strip(doc)  # JSON has no comments (sops' JSON store neither)
        _check_finite(doc)
        text = json.dumps(doc, indent="\t", ensure_ascii=False, default=_json_default)
        # Go's encoding/json escapes these; keep output identical to sops.
        for ch in ("<", ">", "&", "\u2028", "\u2029"):
            text = text.replace(ch, f"\\u{ord(ch):04x}")
        return text + "\n"
    return yamlemit.dump(doc)


def read(path: str | os.PathLike[str], fmt: str | None = None) -> dict[str, Any]:
    p = Path(path)
    try:
        raw = read_file(p)
    except OSError as e:
        raise InputError(f"cannot read {p}: {e.strerror}") from None
    return loads(raw, format_for(p, fmt), str(p))


def refuse_symlink(path: str | os.PathLike[str]) -> None:
    """Refuse (exit 1) to rewrite ``path`` when it is a symbolic link.

    Renaming over a link would replace the link by a regular file and leave its
    target (the real secrets file) with the old value, data key and recipients;
    writing through it would change a file elsewhere.  cfgc does neither: the
    user runs the command on the target.
    """
    p = Path(path)
    if p.is_symlink():
        raise InputError(
            f"{p}: is a symbolic link (to {os.readlink(p)}); cfgc does not rewrite secrets "
            "files through links: run the command on the link's target"
        )


def write_atomic(path: str | os.PathLike[str], text: str, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` atomically and durably, keeping mode, owner and group.

    The text goes to a temporary file in the same directory, is fsynced, then
    renamed over ``path`` and the directory fsynced: a crash leaves either the
    old or the new file, never a truncated one.  A symbolic link is refused
    (:func:`refuse_symlink`).  The owner and group are copied to the temporary
    file before the rename when the process may (root, or a group it is in);
    otherwise the new file belongs to the runner, as any rename-based editor does.
    """
    p = Path(path)
    refuse_symlink(p)
    try:
        st: os.stat_result | None = p.stat()
    except FileNotFoundError:
        st = None
    if mode is None:
        mode = st.st_mode & 0o777 if st is not None else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            if st is not None:
                _keep_owner(f.fileno(), st)
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(p.parent)


def _keep_owner(fd: int, st: os.stat_result) -> None:
    """Give the temporary file the replaced file's owner and group, as far as allowed."""
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) == (st.st_uid, st.st_gid):
        return
    for uid, gid in ((st.st_uid, st.st_gid), (-1, st.st_gid)):
        try:
            os.fchown(fd, uid, gid)
            return
        except PermissionError:
            continue  # not root: at least keep the group when we are a member of it
        except OSError:
            return


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # not supported here; the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write(path: str | os.PathLike[str], doc: object, fmt: str | None = None) -> None:
    write_atomic(path, dumps(doc, format_for(path, fmt)))
