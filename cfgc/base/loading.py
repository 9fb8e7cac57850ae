"""YAML loading with provenance and YAML 1.2 core semantics.

libyaml (through PyYAML's C parser) does the scanning and composing; the node
tree is then walked once to build plain Python values together with a flat
map from key paths to source positions.  Doing the construction ourselves gives
us, in one pass:

* YAML 1.2 core scalars (``yes``/``no``/``off`` stay strings, ``0o17`` is octal),
* refusal of duplicate keys, unknown tags, merge keys, alias bombs and deep
  nesting, each with the exact ``line:col``,
* the cfgc merge tags as small marker objects (:mod:`cfgc.base.tags`).

The steps, one module each: reading the text (:mod:`~cfgc.base.yaml_read`: UTF-8,
the nesting guard, cfgc's wording of parse errors), composing
(:mod:`~cfgc.base.yaml_compose`), the alias bounds (:mod:`~cfgc.base.yaml_alias`),
building values and marks (:mod:`~cfgc.base.yaml_build`) with the core schema
(:mod:`~cfgc.base.yaml_core`) and the tags (:mod:`~cfgc.base.yaml_tags`).  The
common file skips composing and building: :mod:`cfgc.base.yaml_fast`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cfgc.base.errors import Location
from cfgc.base.kept import Kept
from cfgc.base.paths import Path
from cfgc.base.tags import DELETE, Append, Prepend, PromptRef, Replace
from cfgc.base.yaml_core import NumberError, resolve_plain
from cfgc.base.yaml_fast import MISS, Candidate, fast_load
from cfgc.base.yaml_read import (
    MAX_DEPTH,
    MAX_EXPANDED_CHARS,
    MAX_EXPANDED_NODES,
    decode,
    diagnose,
    guard_depth,
)

Mark = tuple[int, int]  # 1-based line, column (as cfgc.base.yaml_build.Mark)
# Values the careful path built for files the fast path declines (SOPS files'
# block scalars), by their text: an in-place build is handed those the last
# build kept (cfgc.base.kept), so such an unchanged file does not import PyYAML.
CAREFUL = Kept(evict=False, distinct=True)  # values the credential scan reads: aliases matter

# The names other stages import from here (every stage imports Path from here).
__all__ = [
    "MAX_DEPTH", "MAX_EXPANDED_CHARS", "MAX_EXPANDED_NODES", "Document", "Mark",
    "NumberError", "Path", "decode", "diagnose", "guard_depth", "load_yaml", "resolve_plain",
]


@dataclass(frozen=True)
class Document:
    """One parsed YAML file: its value and where each key path was set.

    Marks may be computed lazily: a build that finds no error never needs
    them, so the compiler loads without them and re-reads the file (through
    ``reload``) the first time a location is asked for.
    """

    path: str  # relative to the repo root, POSIX separators
    data: Any
    _marks: dict[Path, Mark] | None = field(default=None, repr=False, compare=False)
    # Which late stages this file may need, judged from its text: the compiler
    # skips a stage for a target when none of its layers needs it.
    features: frozenset[str] = frozenset()
    reload: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    # Set by the fast path only: every float in ``data`` is one orjson and json
    # write alike (cfgc.base.canonical.plain_float), so canonical JSON of a
    # merge of such files needs no search for floats written differently.
    plain_floats: bool = field(default=False, repr=False, compare=False)
    # Set by the fast path only: ``data`` with the string leaves the credential
    # scan collects from it, found by the walk that checked the value (the
    # data object itself, so a document rebuilt with other data is walked again).
    scanned: tuple[Any, list[Candidate]] | None = field(default=None, repr=False, compare=False)
    # ``plain_floats`` whichever path loaded it: a careful load of a layer
    # walks its value once for it (SOPS documents, files with anchors).
    floats_plain: bool = field(default=False, repr=False, compare=False)

    @property
    def marks(self) -> dict[Path, Mark]:
        """Source positions of every key path (computed on first use)."""
        marks = self._marks
        if marks is None:
            marks = load_yaml(self.reload(), self.path).marks if self.reload else {(): (1, 1)}
            object.__setattr__(self, "_marks", marks)
        return marks

    def location(self, keypath: Path = ()) -> Location:
        """The source location of ``keypath``, or of its closest ancestor."""
        p = keypath
        while True:
            m = self.marks.get(p)
            if m is not None:
                return Location(self.path, m[0], m[1])
            if not p:
                return Location(self.path, 1, 1)
            p = p[:-1]


def load_yaml(raw: bytes | str, path: str, reload: Callable[[], bytes] | None = None) -> Document:
    """Parse one YAML file into a :class:`Document`.

    With ``reload`` (a way to read the file again), source positions are not
    recorded now but on first use, and an ordinary file is parsed by the
    fast path (:mod:`cfgc.base.yaml_fast`).  Raises :class:`~cfgc.base.errors.InputError`
    with the exact location for any syntax error or refused construct.
    """
    text = decode(raw, path) if isinstance(raw, bytes) else raw
    guard_depth(text, path)
    if reload is not None:
        # Marks come later from the careful path, so the common file can skip it.
        value, plain_floats, found = fast_load(text, MAX_DEPTH, path)
        if value is not MISS:
            scanned = (value, found) if found is not None else None
            return Document(path, value, None, _features(text), reload, plain_floats, scanned, plain_floats)
        value = CAREFUL.get(text.encode("utf-8", "surrogatepass"))
        if value is not None:
            return Document(path, value, None, _features(text), reload, floats_plain=_floats_plain(value))
    # The careful path needs PyYAML, imported here: a build whose files all take
    # the fast path never imports it (tests/unit/bundle/test_incremental_light.py).
    from cfgc.base.yaml_build import Builder, Duplicate

    node = compose(text, path)
    if node is None:
        return Document(path, None, {(): (1, 1)})
    builder = Builder(path, text, track=reload is None)
    try:
        data = builder.build(node)
    except Duplicate:
        return load_yaml(text, path)  # again with marks, to name the first definition
    if reload is not None:
        CAREFUL.put(text.encode("utf-8", "surrogatepass"), data)
        return Document(path, data, None, _features(text), reload, floats_plain=_floats_plain(data))
    return Document(path, data, builder.marks, _features(text))


def compose(text: str, path: str) -> Any:
    """The careful path's node tree (:func:`cfgc.base.yaml_compose.compose`, imported on first use)."""
    from cfgc.base import yaml_compose

    return yaml_compose.compose(text, path)


def _floats_plain(data: Any) -> bool:
    """Whether every float of a careful load's ``data`` is :func:`~cfgc.base.canonical.plain_float`
    and every object one the fast path's walk accepts or a cfgc tag (the
    careful path's files, SOPS documents mostly, are few and shared: one walk each)."""
    stack = [data]
    seen: set[int] = set()  # aliases share containers: each walked once, however often it is used
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict or t is list or t is Append or t is Prepend or t is Replace:
            if id(v) in seen:
                continue
            seen.add(id(v))
            stack.extend(v.values() if t is dict else v if t is list else (v.value,) if t is Replace else v.items)
        elif t is float:
            if not (1e-4 <= v < 1e16 or -1e16 < v <= -1e-4 or v == 0.0):  # plain_float, inlined
                return False
        elif not (v is None or t is str or t is int or t is bool or t is PromptRef or v is DELETE):
            return False
    return True


def _features(text: str) -> frozenset[str]:
    # Each word only where its first character is (a one-character test is a
    # memchr; a longer one a slower scan of its own, 0.7 µs a service file for
    # the four): most layer files hold no "!", "$" or "{" at all.
    found = set()
    if "!" in text and "!prompt" in text:
        found.add("prompt")
    if "$" in text and "$extends" in text:
        found.add("extends")
    if "{" in text and ("{{" in text or "{%" in text):
        found.add("template")
    return frozenset(found)
