"""Reading a bundle part's ``part.json`` as hostile input: bounded, strict, every field checked.

A part arrives through CI artifacts, so nothing in it is trusted before it is
checked here: the document is at most :data:`MAX_PART_JSON` bytes, a key may
not repeat, every field has the type and form ``cfgc build --shard`` writes,
every path it names is the one its entry implies (``targets/<name>.json``,
``prompts/<name>/<version>.j2``, ``secrets/<file>``) and stays inside the part.
A part that is not what cfgc writes is an integrity failure (exit 5); a
directory with no ``part.json`` at all, or a part format this cfgc does not
know, is a usage error (exit 2).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgc.base.bounded_read import NotRegular, read_capped
from cfgc.base.errors import ExternalError, IntegrityError, UsageError
from cfgc.base.repopath import relative_problem, target_name_problem
from cfgc.bundle.manifest import FORMAT
from cfgc.bundle.shard import MAX_SHARDS, PART, PART_FORMAT

# 1,000,000 targets in one part take about 250 MB of part.json.
MAX_PART_JSON = 1 << 30
# The largest file a part may carry (the runtime's limit for one bundle file).
MAX_FILE = 64 << 20
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_SLICES = ("targets", "prompts", "secrets")


@dataclass(frozen=True)
class Part:
    """A checked part: its shard, what it shares with the other parts, and its slice of the manifest."""

    root: Path
    index: int
    count: int
    select: str | None
    build: dict[str, Any]
    header: dict[str, Any]  # the manifest without its targets, prompts and secrets
    targets: dict[str, Any]
    prompts: dict[str, Any]
    secrets: dict[str, Any]

    @property
    def source(self) -> dict[str, Any]:
        """The manifest's ``source``."""
        src: dict[str, Any] = self.header["source"]
        return src

    def files(self) -> dict[str, tuple[str, int]]:
        """Every file the part holds besides part.json: path -> (digest, size)."""
        found = {f"targets/{n}.json": (e["digest"], e["size"]) for n, e in self.targets.items()}
        for table in (self.prompts, self.secrets):
            found.update({e["path"]: (e["digest"], e["size"]) for e in table.values()})
        return found


def load_part(root: Path) -> Part:
    """Read and check the part in directory ``root``."""
    root = root.resolve()
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory; give the part directories `cfgc build --shard` wrote")
    path = root / PART
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise UsageError(f"{root} is not a bundle part (no {PART}); make parts with `cfgc build --shard I/N`") from None
    if not stat.S_ISREG(st.st_mode):
        raise IntegrityError(f"{path}: not a regular file")
    if st.st_size > MAX_PART_JSON:
        raise IntegrityError(f"{path}: {st.st_size} bytes, the limit is {MAX_PART_JSON}")
    try:
        # The lstat above gives the message for the usual case; this open is what holds
        # if a FIFO or a link is swapped in meanwhile (non-blocking, no link followed).
        raw = read_capped(path, MAX_PART_JSON, follow_links=False)
    except NotRegular:
        raise IntegrityError(f"{path}: not a regular file") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise IntegrityError(f"{path}: not a regular file") from None
        raise ExternalError(f"cannot read {path}: {e.strerror}") from None
    if len(raw) > MAX_PART_JSON:
        raise IntegrityError(f"{path}: more than {MAX_PART_JSON} bytes")
    try:
        doc = json.loads(raw, object_pairs_hook=_no_repeats)
    except (ValueError, RecursionError) as e:
        raise IntegrityError(f"{path}: not the JSON cfgc writes ({str(e)[:200]})") from None
    try:
        return _check(root, doc)
    except _Bad as e:
        raise IntegrityError(f"{path}: {e}") from None


class _Bad(Exception):
    pass


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return d


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise _Bad(what)


def _obj(value: Any, keys: set[str], optional: set[str], where: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise _Bad(f"{where} is not an object")
    have = set(value)
    _need(keys <= have <= keys | optional, f"{where} has keys {sorted(have)}, expected {sorted(keys | optional)}")
    return value


def _map(value: Any, where: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise _Bad(f"{where} is not an object")
    return value


def _int(value: object, low: int, high: int, where: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _Bad(f"{where} is not an integer from {low} to {high}")
    return value


def _strs(value: object, where: str) -> None:
    _need(type(value) is list and all(type(v) is str for v in value), f"{where} is not a list of strings")


def _file_entry(entry: object, path: str, where: str, extra: frozenset[str] = frozenset()) -> None:
    e = _obj(entry, {"path", "digest", "size"} | extra, set(), where)
    problem = relative_problem(path)
    _need(problem is None and e["path"] == path, f"{where}: path must be {path!r}" + (f" ({problem})" if problem else ""))
    _need(type(e["digest"]) is str and DIGEST.fullmatch(e["digest"]) is not None, f"{where}: bad digest")
    _int(e["size"], 0, MAX_FILE, f"{where}.size")


def _check(root: Path, doc: Any) -> Part:
    doc = _obj(doc, {"format", "shard", "select", "build", "manifest"}, set(), "the document")
    if doc["format"] != PART_FORMAT:
        raise UsageError(f"{root}: part format {str(doc['format'])[:40]!r}; this cfgc reads {PART_FORMAT}")
    shard = _obj(doc["shard"], {"index", "count"}, set(), "shard")
    count = _int(shard["count"], 1, MAX_SHARDS, "shard.count")
    index = _int(shard["index"], 1, count, "shard.index")
    _need(doc["select"] is None or type(doc["select"]) is str, "select is not a string")
    build = _obj(doc["build"], {"inputs", "toolchain", "targets"}, set(), "build")
    _need(type(build["inputs"]) is str and DIGEST.fullmatch(build["inputs"]) is not None, "build.inputs: bad digest")
    _need(type(build["toolchain"]) is str, "build.toolchain is not a string")
    every = _obj(build["targets"], {"count", "digest"}, set(), "build.targets")
    _int(every["count"], 1, 1 << 40, "build.targets.count")
    _need(type(every["digest"]) is str and DIGEST.fullmatch(every["digest"]) is not None, "build.targets: bad digest")
    m = _obj(doc["manifest"], {"format", "cfgc_version", "source", *_SLICES, "schemas"}, set(), "manifest")
    _need(m["format"] == FORMAT, f"manifest.format is not {FORMAT}")
    _need(type(m["source"]) is dict and type(m["schemas"]) is dict, "manifest.source or schemas is not an object")
    for name, entry in _map(m["targets"], "manifest.targets").items():
        _check_target(name, entry)
    for key, entry in _map(m["prompts"], "manifest.prompts").items():
        name, at, version = key.rpartition("@")
        _need(bool(at and name and version), f"prompt {key[:80]!r} is not name@version")
        _file_entry(entry, f"prompts/{name}/{version}.j2", f"prompt {key[:80]!r}", frozenset({"variables"}))
        _strs(entry["variables"], f"prompt {key[:80]!r}.variables")
    for key, entry in _map(m["secrets"], "manifest.secrets").items():
        _file_entry(entry, f"secrets/{key}", f"secret {key[:80]!r}")
    header = {k: v for k, v in m.items() if k not in _SLICES}
    return Part(root, index, count, doc["select"], build, header, m["targets"], m["prompts"], m["secrets"])


def _check_target(name: str, entry: object) -> None:
    problem = target_name_problem(name)
    _need(problem is None, f"target {name[:80]!r}: {problem}")
    e = _obj(entry, {"digest", "size", "vars"}, {"prompts", "secrets"}, f"target {name}")
    _need(type(e["digest"]) is str and DIGEST.fullmatch(e["digest"]) is not None, f"target {name}: bad digest")
    _int(e["size"], 0, MAX_FILE, f"target {name}.size")
    v = e["vars"]
    _need(type(v) is dict and all(type(x) is str for x in (*v, *v.values())), f"target {name}.vars is not strings")
    for k in ("prompts", "secrets"):
        if k in e:
            _strs(e[k], f"target {name}.{k}")
