"""YAML loading with provenance and YAML 1.2 core semantics.

libyaml (through PyYAML's C parser) does the scanning and composing; the node
tree is then walked once here to build plain Python values together with a flat
map from key paths to source positions.  Doing the construction ourselves gives
us, in one pass:

* YAML 1.2 core scalars (``yes``/``no``/``off`` stay strings, ``0o17`` is octal),
* refusal of duplicate keys, unknown tags, merge keys, alias bombs and deep
  nesting, each with the exact ``line:col``,
* the cfgc merge tags as small marker objects (:mod:`cfgc.base.tags`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from cfgc.base.errors import InputError, Location
from cfgc.base.limits import INT_MAX, INT_MIN  # numbers JSON consumers read: 64-bit integers
from cfgc.base.tags import DELETE, Append, Prepend, PromptRef, Replace
from cfgc.base.yaml_fast import MISS, fast_value
from cfgc.base.yaml_messages import describe

MAX_DEPTH = 64
MAX_EXPANDED_NODES = 200_000
# Characters of scalars (keys included) once aliases are expanded: compiling,
# scanning and writing a value all cost its expanded size, not its file size.
MAX_EXPANDED_CHARS = 16 * 1024 * 1024
# libyaml composes recursively in C: a document nested tens of thousands of
# levels deep overflows the C stack.  Such depth needs many brackets or very
# long lines, so only those documents pay for an event scan first.
_DEPTH_SCAN_THRESHOLD = 2_000

PLAIN_TAG = "tag:cfgc,2024:plain"
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
Path = tuple[str | int, ...]
Mark = tuple[int, int]  # 1-based line, column


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


class _Resolver(yaml.resolver.BaseResolver):
    """Tags every untagged plain scalar as PLAIN; we resolve YAML 1.2 ourselves."""

    yaml_implicit_resolvers = {None: [(PLAIN_TAG, re.compile(r".*", re.DOTALL))]}
    yaml_path_resolvers: dict[Any, Any] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None  # no path resolvers: skip PyYAML's bookkeeping per node

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        # Called by the C parser for every untagged node: keep it trivial.
        if kind is yaml.ScalarNode:
            return PLAIN_TAG if implicit[0] else _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


class _NodeLoader(Protocol):
    """What :func:`load_yaml` needs of a loader: libyaml's or PyYAML's."""

    def get_single_node(self) -> yaml.Node | None: ...

    def dispose(self) -> None: ...


class _PyLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver):
    """The loader where PyYAML was built without libyaml."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


_Loader: Callable[[str], _NodeLoader] = _PyLoader
try:
    # libyaml's parser, which the yaml package does not re-export (yaml.CParser
    # does not exist): without it loading is several times slower.
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    pass
else:

    class _CLoader(_CParser, _Resolver):
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _Resolver.__init__(self)

    _Loader = _CLoader


_INT10 = re.compile(r"[-+]?[0-9]+\Z")
_INT8 = re.compile(r"0o[0-7]+\Z")
_INT16 = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
_NULLS = frozenset(["", "~", "null", "Null", "NULL"])
_TRUE = frozenset(["true", "True", "TRUE"])
_FALSE = frozenset(["false", "False", "FALSE"])


class NumberError(ValueError):
    """A number JSON cannot carry (the loader adds the location)."""


def _int(text: str, digits: str, base: int, most: int) -> int:
    # Checking the digit count first keeps int() away from 100,000-digit
    # strings (Python refuses more than 4300 digits with a ValueError).
    if len(digits.lstrip("0")) <= most:
        n = int(text) if base == 10 else int(digits, base)
        if INT_MIN <= n <= INT_MAX:
            return n
    shown = text if len(text) <= 24 else text[:20] + "..."
    raise NumberError(f"integer {shown} is outside the 64-bit range (-2**63 to 2**63-1) that JSON consumers read")


def resolve_plain(text: str) -> Any:
    """Resolve a plain scalar by the YAML 1.2 core schema.

    Numbers JSON cannot carry (integers outside 64 bits, floats that overflow,
    ``.inf``, ``.nan``) raise :class:`NumberError`.
    """
    if text in _NULLS:
        return None
    c = text[0]
    if c in "tTfF":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return text
    if c in "0123456789-+.":
        if _INT10.match(text):
            return _int(text, text.lstrip("+-"), 10, 19)
        if _INT8.match(text):
            return _int(text, text[2:], 8, 21)
        if _INT16.match(text):
            return _int(text, text[2:], 16, 16)
        if _FLOAT.match(text):
            f = float(text)
            if math.isinf(f):
                raise NumberError(f"{text[:24]!r} overflows a 64-bit float")
            return f
        if _INF.match(text) or _NAN.match(text):
            raise NumberError(f"{text} (infinity or NaN) cannot be carried by JSON")
    return text


def decode(raw: bytes, path: str) -> str:
    """Decode UTF-8 (with or without BOM), or fail at the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        raise InputError(
            f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x})", Location(path, line, col)
        ) from None


def load_yaml(raw: bytes | str, path: str, reload: Callable[[], bytes] | None = None) -> Document:
    """Parse one YAML file into a :class:`Document`.

    With ``reload`` (a way to read the file again), source positions are not
    recorded now but on first use, and an ordinary file is parsed by the
    fast path (:mod:`cfgc.base.yaml_fast`).  Raises :class:`InputError` with the exact
    location for any syntax error or refused construct.
    """
    text = decode(raw, path) if isinstance(raw, bytes) else raw
    guard_depth(text, path)
    if reload is not None:
        # Marks come later from the careful path, so the common file can skip it.
        value = fast_value(text, MAX_DEPTH)
        if value is not MISS:
            return Document(path, value, None, _features(text), reload)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as e:
        raise diagnose(text, path, e) from None
    finally:
        loader.dispose()
    builder = _Builder(path, "&" in text, track=reload is None, text=text)
    if node is None:
        return Document(path, None, {(): (1, 1)})
    try:
        data = builder.build(node)
    except _Duplicate:
        return load_yaml(text, path)  # again with marks, to name the first definition
    return Document(path, data, builder.marks if reload is None else None, _features(text), reload)


def _features(text: str) -> frozenset[str]:
    found = set()
    if "!prompt" in text:
        found.add("prompt")
    if "$extends" in text:
        found.add("extends")
    if "{{" in text or "{%" in text:
        found.add("template")
    return frozenset(found)


def _longest_line(text: str) -> int:
    if len(text) <= _DEPTH_SCAN_THRESHOLD:
        return 0
    return max(map(len, text.splitlines()), default=0)


def guard_depth(text: str, path: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before anything composes it.

    Cheap for ordinary files: only text with many brackets or very long lines
    (the only way to nest thousands of levels) pays for an event scan.
    """
    if text.count("[") + text.count("{") + _longest_line(text) > _DEPTH_SCAN_THRESHOLD:
        _scan_depth(text, path)


def _scan_depth(text: str, path: str) -> None:
    depth = 0
    try:
        for ev in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(ev, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(path, ev.start_mark)
            elif isinstance(ev, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as e:
        raise diagnose(text, path, e) from None


def diagnose(text: str, path: str, err: yaml.YAMLError) -> InputError:
    """Turn a refusal by libyaml into cfgc's own error.

    libyaml's limits and wording change between releases (0.2.5 stops at 1,000
    nesting levels with its own message), so what the user sees must not come
    from it.  The file is read again with PyYAML's pure-Python parser, which has
    no nesting limit of its own: cfgc's depth limit is applied on its events, and
    any syntax error is worded by :func:`_yaml_error`.  This only runs for a file
    that is already refused, and the parse stops at the first problem.
    """
    depth = 0
    try:
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(ev, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return _too_deep(path, ev.start_mark)
            elif isinstance(ev, yaml.CollectionEndEvent):
                depth -= 1
        # Aliases and anchors are checked by the composer; the depth is now known
        # to be small enough for its recursion.
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        return _yaml_error(e, path, text)
    except yaml.YAMLError:
        pass
    if isinstance(err, yaml.MarkedYAMLError):
        return _yaml_error(err, path, text)
    return InputError("invalid YAML", Location(path))


class _Mark(Protocol):
    """A position in the text, from PyYAML or libyaml (two classes with the same fields)."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


def _too_deep(path: str, mark: _Mark | None) -> InputError:
    return InputError(
        f"nesting deeper than {MAX_DEPTH} levels",
        Location(path, mark.line + 1, mark.column + 1) if mark else Location(path),
    )


def _yaml_error(e: yaml.MarkedYAMLError, path: str, text: str) -> InputError:
    mark = e.problem_mark or e.context_mark
    loc = _clamped(path, text, mark.line, mark.column) if mark else Location(path)
    return InputError(describe(e), loc)


def _clamped(path: str, text: str, line: int, column: int) -> Location:
    """A 0-based mark as a location inside the file: an error at the end of
    the stream (past the last line) points just after the last non-blank line."""
    lines = text.splitlines()
    if line < len(lines):
        return Location(path, line + 1, column + 1)
    last = len(lines)
    while last > 1 and not lines[last - 1].strip():
        last -= 1
    return Location(path, max(last, 1), len(lines[last - 1]) + 1 if lines else 1)


_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_STD + "str", _STD + "int", _STD + "float", _STD + "bool", _STD + "null"}
KNOWN_TAGS = ("!replace", "!delete", "!append", "!prepend", "!prompt")


class _Duplicate(Exception):
    """A duplicate key met while not tracking marks."""


class _Builder:
    def __init__(self, path: str, has_anchors: bool, track: bool = True, text: str = "") -> None:
        self.path = path
        # libyaml reports ``! 12`` (the non-specific tag) as an untagged plain
        # scalar; only the source text tells them apart, so it is kept when a
        # "!" could be such a tag.
        self.text = text if "! " in text or "!\t" in text else ""
        self._line_starts: list[int] | None = None
        self.marks: dict[Path, Mark] = {(): (1, 1)}
        self.has_anchors = has_anchors
        self.track = track
        self._active: set[int] = set()
        self._culprit: yaml.Node | None = None

    def non_specific(self, node: yaml.Node) -> bool:
        """Whether a plain scalar carries the non-specific tag ``!`` (YAML 1.2:
        it is then a string, never a number, boolean or null)."""
        if not self.text:
            return False
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        m = node.start_mark
        if m.line >= len(self._line_starts):
            return False
        pos = self._line_starts[m.line] + m.column
        text = self.text
        if text.startswith("&", pos):  # an anchor may come before the tag
            anchor = re.compile(r"&\S+\s+").match(text, pos)
            pos = anchor.end() if anchor else pos
        return text.startswith("!", pos) and text[pos + 1 : pos + 2] in (" ", "\t", "\n", "\r", "")

    def plain(self, node: yaml.Node) -> Any:
        """A plain scalar by the core schema, or a string under ``!``."""
        if self.text and self.non_specific(node):
            return node.value
        try:
            return resolve_plain(node.value)
        except NumberError as e:
            raise InputError(str(e), self.loc(node)) from None

    def loc(self, node: yaml.Node) -> Location:
        m = node.start_mark
        return Location(self.path, m.line + 1, m.column + 1)

    def build(self, root: yaml.Node) -> Any:
        if self.has_anchors:
            nodes, chars = self._expanded_size(root, {})
            where = self.loc(self._culprit or root)
            if nodes > MAX_EXPANDED_NODES:
                raise InputError(f"aliases expand to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)", where)
            if chars > MAX_EXPANDED_CHARS:
                raise InputError(
                    f"aliases expand to more than {MAX_EXPANDED_CHARS} characters of scalars (alias bomb?)", where
                )
        return self._value(root, (), 0)

    def _expanded_size(self, node: yaml.Node, memo: dict[int, tuple[int, int]]) -> tuple[int, int]:
        """Nodes and scalar characters of ``node`` with aliases expanded; each
        distinct node is visited once (memoised by identity), so this costs
        the file's size, not the expansion's.  The innermost collection that
        crosses a limit is remembered as the place to report."""
        key = id(node)
        if key in memo:
            return memo[key]
        over = (MAX_EXPANDED_NODES + 1, MAX_EXPANDED_CHARS + 1)
        memo[key] = over  # a cycle counts as unbounded
        if isinstance(node, yaml.ScalarNode):
            size = (1, len(node.value))
        else:
            kids = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
            nodes, chars = 1, 0
            for child in kids:
                n, c = self._expanded_size(child, memo)
                nodes += n
                chars += c
            size = (min(nodes, over[0]), min(chars, over[1]))
            if self._culprit is None and (size[0] >= over[0] or size[1] >= over[1]):
                self._culprit = node
        memo[key] = size
        return size

    def _value(self, node: yaml.Node, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise InputError(f"nesting deeper than {MAX_DEPTH} levels", self.loc(node))
        tag = node.tag
        if tag == PLAIN_TAG:
            return self.plain(node)
        if isinstance(node, yaml.ScalarNode):
            if tag == _STR:
                return node.value
            if tag in _SCALAR_TAGS:
                try:
                    return self._explicit_scalar(node)
                except NumberError as e:
                    raise InputError(str(e), self.loc(node)) from None
            return self._tagged(node, path, depth)
        key = id(node)
        if key in self._active:
            raise InputError("recursive alias", self.loc(node))
        self._active.add(key)
        try:
            if isinstance(node, yaml.SequenceNode):
                value: Any = self._seq(node, path, depth)
            else:
                assert isinstance(node, yaml.MappingNode)
                value = self._map(node, path, depth)
        finally:
            self._active.discard(key)
        if tag in (_SEQ, _MAP):
            if (tag == _SEQ) != isinstance(node, yaml.SequenceNode):
                raise InputError(f"tag {tag.replace(_STD, '!!')} does not fit this node", self.loc(node))
            return value
        return self._wrap(tag, value, node)

    def _seq(self, node: yaml.SequenceNode, path: Path, depth: int) -> list[Any]:
        if not self.track:
            return [self._value(child, path, depth + 1) for child in node.value]
        out = []
        marks = self.marks
        for i, child in enumerate(node.value):
            p = (*path, i)
            m = child.start_mark
            marks[p] = (m.line + 1, m.column + 1)
            out.append(self._value(child, p, depth + 1))
        return out

    def _fast_map(self, node: yaml.MappingNode, depth: int) -> dict[str, Any] | None:
        """The common case without marks: plain keys, scalar or nested values.

        Returns None at the first key that needs the careful path (a tag,
        null, ``<<``, a duplicate), which then redoes the mapping with checks.
        """
        if depth >= MAX_DEPTH:  # its scalars would be too deep: the careful path refuses them
            return None
        out: dict[str, Any] = {}
        value = self._value
        child = depth + 1
        for knode, vnode in node.value:
            k = knode.value
            ktag = knode.tag
            if ktag == PLAIN_TAG:
                if k in _NULLS or k == "<<" or k in out:
                    return None
            elif ktag != _STR or k in out or not isinstance(knode, yaml.ScalarNode):
                return None
            vtag = vnode.tag
            if vtag == PLAIN_TAG:
                out[k] = self.plain(vnode)
            elif vtag == _STR and isinstance(vnode, yaml.ScalarNode):
                out[k] = vnode.value
            else:
                out[k] = value(vnode, (), child)
        return out

    def _map(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        if not self.track:
            fast = self._fast_map(node, depth)
            if fast is not None:
                return fast
        out: dict[str, Any] = {}
        marks = self.marks
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise InputError("mapping keys must be scalars", self.loc(knode))
            k = knode.value
            if knode.tag == _MERGE or (k == "<<" and knode.tag == PLAIN_TAG):
                raise InputError(
                    "YAML merge keys (<<) are not supported; use $extends or layers",
                    self.loc(knode),
                )
            if knode.tag == PLAIN_TAG and k in _NULLS and not self.non_specific(knode):
                raise InputError("mapping key is null", self.loc(knode))
            if k in out:
                if not self.track:
                    raise _Duplicate()
                first = marks[(*path, k)]
                raise InputError(
                    f"duplicate key {k!r} (first defined at line {first[0]})", self.loc(knode)
                )
            if self.track:
                p = (*path, k)
                m = knode.start_mark
                marks[p] = (m.line + 1, m.column + 1)
                out[k] = self._value(vnode, p, depth + 1)
            else:
                out[k] = self._value(vnode, path, depth + 1)
        return out

    def _explicit_scalar(self, node: yaml.ScalarNode) -> Any:
        kind = node.tag[len(_STD) :]
        v = resolve_plain(node.value) if node.value else (None if kind == "null" else "")
        want: Any = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[kind]
        if isinstance(v, bool) and kind in ("int", "float") or not isinstance(v, want):
            raise InputError(f"{node.value!r} is not a valid !!{kind}", self.loc(node))
        return float(v) if kind == "float" else v

    def _tagged(self, node: yaml.ScalarNode, path: Path, depth: int) -> Any:
        tag = node.tag
        if tag == "!delete":
            if node.value not in ("", "~", "null"):
                raise InputError("!delete takes no value", self.loc(node))
            return DELETE
        if tag == "!prompt":
            return PromptRef.parse(node.value, self.loc(node))
        if tag in ("!append", "!prepend", "!replace"):
            raise InputError(f"{tag} needs a {'list' if tag != '!replace' else 'mapping or list'}", self.loc(node))
        raise self._unknown(tag, node)

    def _wrap(self, tag: str, value: Any, node: yaml.Node) -> Any:
        if tag == "!replace":
            return Replace(value)
        if tag in ("!append", "!prepend"):
            if not isinstance(value, list):
                raise InputError(f"{tag} needs a list", self.loc(node))
            return Append(tuple(value)) if tag == "!append" else Prepend(tuple(value))
        if tag in ("!delete", "!prompt"):
            raise InputError(f"{tag} needs a scalar", self.loc(node))
        raise self._unknown(tag, node)

    def _unknown(self, tag: str, node: yaml.Node) -> InputError:
        shown = tag.replace(_STD, "!!")
        return InputError(
            f"unknown tag {shown} (cfgc knows {', '.join(KNOWN_TAGS)})", self.loc(node)
        )
