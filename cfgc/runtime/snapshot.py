"""Immutable snapshots of a verified version: what every read looks at.

A :class:`BundleSnapshot` is built once per version (off the read path) and
never changes; the client swaps the reference to the current one in a single
assignment, so a reader sees either the old version or the new one, never a
mix.  Each target has a flat dict of every dotted path (``models.primary``,
``models.primary.timeout_s``, ``routing.fallbacks.0``) to its value, so a read
is one dict lookup; containers are frozen (:class:`FrozenDict`, tuples) so no
reader can change what another reader sees.

Memory: a snapshot keeps each target's published JSON bytes, and its parsed
form (frozen tree, flat dict: about 10x the bytes) only for the targets read
recently: parsed on first use, at most ``parsed_max`` per version (least
recently used dropped first; :class:`ParsedCache`).  A version is checked to
be JSON when it is built, so a broken target is refused before it is served.
The snapshot holds no reference back to itself (no cycle), so the old version
is freed as soon as nothing serves it any more.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import orjson

from cfgc.base.errors import InputError
from cfgc.base.secretrefs import SECRET_KEY
from cfgc.runtime.fetch import Verified, used_manifest
from cfgc.runtime.pack import PackedFiles, StringTable

if TYPE_CHECKING:
    from cfgc.base.jsonvalue import JSONValue
    from cfgc.runtime.prompts import Prompt

# A configuration value as readers get it: JSON with read-only containers.
Frozen: TypeAlias = "None | bool | int | float | str | FrozenDict | tuple[Frozen, ...]"


class ConfigError(InputError, KeyError):
    """A path that is not in the configuration (also a KeyError)."""

    def __str__(self) -> str:
        return f"error: {self.message}"


class FrozenDict(dict[str, "Frozen"]):
    """A dict that refuses changes (json.dumps still works: it is a dict)."""

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("configuration values are read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = __ior__ = _readonly

    def __reduce__(self) -> tuple[type[dict[str, Frozen]], tuple[dict[str, Frozen]]]:
        return (dict, (dict(self),))


@dataclass(frozen=True)
class SecretReference:
    """Where a secret lives: SOPS document (bundle-relative name), key path, declared type."""

    file: str
    path: tuple[str | int, ...]
    type: str

    def __repr__(self) -> str:
        return f"<secret {self.file}:{'.'.join(map(str, self.path))}>"


def secret_reference(value: object) -> SecretReference | None:
    """The reference a compiled ``{"$secret": {...}}`` value holds, if it is one."""
    if type(value) is dict and len(value) == 1 and SECRET_KEY in value:
        ref = value[SECRET_KEY]
        if isinstance(ref, dict) and isinstance(ref.get("file"), str) and isinstance(ref.get("path"), list):
            return SecretReference(ref["file"], tuple(ref["path"]), str(ref.get("type", "str")))
    return None


def freeze(value: JSONValue) -> Frozen:
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def flatten(value: JSONValue) -> tuple[dict[str, Frozen | SecretReference], dict[str, SecretReference]]:
    """(dotted path -> frozen value, dotted path -> secret reference) of a target."""
    parsed = parse_value(value)
    return parsed.flat, parsed.secrets


@dataclass(frozen=True, eq=False)
class Parsed:
    """A target's parsed form: frozen tree, flat dict of every dotted path, secret references."""

    tree: Frozen
    flat: dict[str, Frozen | SecretReference]  # a secret's path holds its reference
    secrets: dict[str, SecretReference]


def parse_value(value: JSONValue) -> Parsed:
    """Freeze and flatten a compiled target value in one walk."""
    flat: dict[str, Frozen | SecretReference] = {}
    secrets: dict[str, SecretReference] = {}

    # ``v`` is a JSONValue; typed Any because the dispatch is on ``type(v)`` held in a variable, which
    # mypy does not narrow through; two isinstance calls per node instead measured slower.
    def walk(v: Any, prefix: str) -> Frozen:
        ref = secret_reference(v)
        if ref is not None:
            secrets[prefix] = ref
            flat[prefix] = ref
            return freeze(v)
        t = type(v)
        if t is dict:
            frozen: Frozen = FrozenDict({k: walk(x, f"{prefix}.{k}" if prefix else str(k)) for k, x in v.items()})
        elif t is list:
            frozen = tuple(walk(x, f"{prefix}.{i}" if prefix else str(i)) for i, x in enumerate(v))
        else:
            frozen = v
        if prefix:
            flat[prefix] = frozen
        return frozen

    tree = walk(value, "")
    return Parsed(tree, flat, secrets)


PARSED_MAX = 64  # default: parsed targets kept per version (docs/runtime.md, `cfgc agent --parsed-targets`)


class ParsedCache:
    """The parsed form of at most ``bound`` targets of one version, least recently used dropped first.

    ``parses`` counts the parses (a target dropped and read again is parsed again).
    """

    def __init__(self, bound: int = PARSED_MAX) -> None:
        if bound < 1:
            raise ValueError("the parsed-target bound must be at least 1")
        self.bound = bound
        self.parses = 0
        self._items: OrderedDict[str, Parsed] = OrderedDict()
        self._lock = threading.Lock()  # the agent's loop and a client's readers may share a snapshot

    def __len__(self) -> int:
        return len(self._items)

    def get(self, name: str, raw: bytes) -> Parsed:
        with self._lock:
            p = self._items.get(name)
            if p is not None:
                self._items.move_to_end(name)
                return p
        p = parse_value(json.loads(raw))  # outside the lock: two first reads may both parse; one is kept
        with self._lock:
            self.parses += 1
            self._items[name] = p
            while len(self._items) > self.bound:
                self._items.popitem(last=False)
        return p


class TargetSnapshot:
    """One target of one version: its published bytes, parsed on first use (see :class:`ParsedCache`)."""

    __slots__ = ("_files", "_parsed", "name", "version")

    def __init__(self, name: str, version: str, files: PackedFiles, parsed: ParsedCache) -> None:
        self.name = name
        self.version = version
        self._files = files
        self._parsed = parsed

    def __repr__(self) -> str:
        return f"TargetSnapshot({self.name!r}, {self.version!r})"

    @property
    def raw(self) -> bytes:
        """The canonical JSON bytes as published (a copy)."""
        return self._files[f"targets/{self.name}.json"]

    def view(self) -> memoryview:
        """The same bytes without a copy (valid while the version is held)."""
        return self._files.view(f"targets/{self.name}.json")

    def parsed(self) -> Parsed:
        return self._parsed.get(self.name, self.raw)

    @property
    def value(self) -> JSONValue:
        """The compiled JSON value, a fresh (mutable) copy; readers get :attr:`tree`."""
        value: JSONValue = json.loads(self.raw)
        return value

    @property
    def tree(self) -> Frozen:
        return self.parsed().tree

    @property
    def flat(self) -> dict[str, Frozen | SecretReference]:
        return self.parsed().flat

    @property
    def secrets(self) -> dict[str, SecretReference]:
        return self.parsed().secrets

    def missing(self, path: str) -> ConfigError:
        p = self.parsed()
        parent, _, _ = path.rpartition(".")
        while parent and parent not in p.flat:
            parent, _, _ = parent.rpartition(".")
        near = p.flat.get(parent, p.tree) if parent else p.tree
        keys = ", ".join(sorted(map(str, near))[:12]) if isinstance(near, dict) else ""
        hint = f" ({parent or 'the root'} has: {keys})" if keys else ""
        return ConfigError(f"{self.name}@{self.version}: no value at {path!r}{hint}")


@dataclass(frozen=True, eq=False)
class BundleSnapshot:
    """Everything readers need from one verified version."""

    verified: Verified = field(repr=False)
    targets: Mapping[str, TargetSnapshot] = field(repr=False)
    origin: str  # "source" or "cache"
    manifest: Mapping[str, Any] = field(repr=False, default_factory=dict)  # see used_manifest()
    loaded_at: float = field(default_factory=time.time)
    prompts: dict[str, Prompt] = field(repr=False, default_factory=dict)  # pinned -> Prompt, filled on first use
    parsed: ParsedCache = field(repr=False, default_factory=ParsedCache)

    @property
    def version(self) -> str:
        return self.verified.version

    @property
    def serial(self) -> int:
        return self.verified.pointer.serial

    @property
    def manifest_digest(self) -> str:
        return self.verified.pointer.manifest_digest

    def file(self, path: str) -> bytes | None:
        return self.verified.files.get(path)


class TargetIndex(Mapping[str, TargetSnapshot]):
    """Target name -> :class:`TargetSnapshot` of one version, made on lookup (no object per target kept)."""

    __slots__ = ("_files", "_names", "_parsed", "_version")

    def __init__(self, names: StringTable, version: str, files: PackedFiles, parsed: ParsedCache) -> None:
        self._names, self._version, self._files, self._parsed = names, version, files, parsed

    def __getitem__(self, name: str) -> TargetSnapshot:
        if name not in self._names:
            raise KeyError(name)
        return TargetSnapshot(name, self._version, self._files, self._parsed)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def check_targets(v: Verified) -> None:
    """Every selected target of ``v`` is JSON (InputError otherwise): refused now rather than on first read."""
    for name in v.targets:
        try:
            json.loads(v.files[f"targets/{name}.json"])  # not kept
        except ValueError:
            raise InputError(f"version {v.version}: target {name} is not JSON") from None


def build(v: Verified, origin: str, parsed_max: int = PARSED_MAX, *, checked: bool = False) -> BundleSnapshot:
    """The snapshot of a verified version (keeps the bytes).

    Runs :func:`check_targets` unless ``checked`` says it ran already (in the verifying process,
    runtime/isolate.py).  A version is kept as a few large objects (runtime/pack.py says why): the
    files' map, a :class:`StringTable` of the target names, and the manifest entries the runtime uses.
    """
    slim = v.used or orjson.dumps(used_manifest(v.manifest, v.targets))  # the whole manifest is freed here
    names = v.targets if isinstance(v.targets, StringTable) else StringTable(v.targets)
    files = v.files if isinstance(v.files, PackedFiles) else PackedFiles.of(v.files)
    if not checked:
        check_targets(v)
    v = dataclasses.replace(v, targets=names, files=files)
    parsed = ParsedCache(parsed_max)
    # Not kept with the version: the bytes downloaded for the cache (written before the swap), and
    # the manifest and its signature envelope (7 MB for 10,000 targets; read again if ever needed).
    kept = dataclasses.replace(v, manifest_raw=b"", signature=b"", new_blobs={}, used=b"", digests=())
    return BundleSnapshot(kept, TargetIndex(names, v.version, files, parsed), origin, orjson.loads(slim),
                          parsed=parsed)
