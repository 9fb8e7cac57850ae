"""Comparing two compiled targets (or their records) as data, leaf by leaf.

Split from :mod:`cfgc.review.diff`, which decides what to compare: here is
how one target's two sides are compared, located and redacted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from cfgc.base.errors import Location
from cfgc.base.loading import Path
from cfgc.base.secretrefs import SecretRef
from cfgc.compile.compiler import Compiler
from cfgc.compile.merging import MISSING, get_path
from cfgc.repo.sources import Source
from cfgc.review.diff_validation import SideValidator
from cfgc.secrets.redact import SECRET_TOKEN, redact, sensitive_strings


@dataclass(frozen=True)
class Change:
    """One changed leaf: ``before``/``after`` are MISSING where absent.

    Sensitive values (:mod:`cfgc.secrets.redact`) are already their markers here: a
    diff result never holds a credential, whichever renderer prints it.
    """

    path: Path
    before: Any
    after: Any
    source: Location | None
    secret: bool = False

    @property
    def kind(self) -> str:
        """``added``, ``removed`` or ``changed``."""
        return "added" if self.before is MISSING else "removed" if self.after is MISSING else "changed"


class Locator(Protocol):
    """Where a compared target's values were set (its provenance, or a record's)."""

    def locate(self, path: Path) -> Location:
        """The location of the layer that set ``path``."""
        ...


class Compared(Protocol):
    """A compiled target, or its record kept by an earlier diff (:mod:`cfgc.review.diff_cache`)."""

    @property
    def value(self) -> Any:
        """The compiled value, with its SecretRefs."""
        ...

    @property
    def secrets(self) -> tuple[str, ...]:
        """The SOPS documents its secret references read."""
        ...

    @property
    def provenance(self) -> Locator:
        """Its head-side locations."""
        ...


class Side:
    """One side of a diff: its compiler and the SOPS documents it read."""

    def __init__(self, source: Source) -> None:
        self.compiler = Compiler(source)
        self.validator = SideValidator(self.compiler)
        self._sops: dict[str, Any] = {}
        # Comparison tokens from records: within one side a reference's token
        # depends only on its SOPS file's bytes there, which every record's key covers.
        self.tokens: dict[SecretRef, str] = {}

    @property
    def read_secrets(self) -> bool:
        """Whether a comparison token was made from a SOPS file's bytes (not taken from a record)."""
        return bool(self._sops)

    def comparable(self, value: Any) -> Any:
        """The value with each secret as a token of its reference and ciphertext."""
        t = type(value)
        if t is SecretRef:
            return self._token(value)
        if t is dict:
            out = {k: self.comparable(v) for k, v in value.items()}
            # Unchanged subtrees stay the same objects: targets share them, and
            # the comparison below is memoised by identity.
            return out if any(out[k] is not value[k] for k in out) else value
        if t is list:
            items = [self.comparable(v) for v in value]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        return value

    def _token(self, ref: SecretRef) -> str:
        known = self.tokens.get(ref)
        if known is not None:
            return known
        doc = self._sops.get(ref.file)
        if doc is None:
            # (PyYAML and cryptography: a diff from records seldom needs them.)
            from cfgc.secrets import yamlio

            raw = self.compiler.secret_files.get(ref.file, b"")
            doc = self._sops[ref.file] = yamlio.load(raw) if raw else {}
        enc = get_path(doc, ref.path)
        digest = hashlib.sha256(repr((ref.file, ref.path, ref.type, enc)).encode()).hexdigest()
        return SECRET_TOKEN + digest


def is_secret(value: object) -> bool:
    """Whether a comparable value stands for (or, as a list, holds) a secret."""
    if type(value) is list:
        return any(is_secret(v) for v in value)
    return type(value) is str and value.startswith(SECRET_TOKEN)


Memo = dict[tuple[int, int], tuple[Any, Any, list[Path]]]


def whole_target(side: Side | None, target: Compared | None, added: bool = False) -> list[Change]:
    """Every leaf of an added (or removed) target as a change from (to) nothing, redacted."""
    if side is None or target is None:
        return []
    value = side.comparable(target.value) if target.secrets else target.value
    known = sensitive_strings(value)
    out = []
    for p, v in sorted(leaves(value, ()), key=lambda pv: sort_key(pv[0])):
        shown = redact(v, p, known)
        before, after = (MISSING, shown) if added else (shown, MISSING)
        out.append(Change(p, before, after, target.provenance.locate(p), is_secret(v)))
    return out

def same(a: object, b: object) -> bool:
    """Equal as compiled values, of the same types all the way down."""
    return a is b or (a == b and _strict_same(a, b))


def has_str(value: Any) -> bool:
    t = type(value)
    if t is str:
        return True
    if t is dict:
        return any(has_str(v) for v in value.values())
    if t is list:
        return any(has_str(v) for v in value)
    return False


def sensitive(value: Any, memo: Memo) -> set[str]:
    """:func:`sensitive_strings`, once per shared top-level subtree (as above)."""
    if type(value) is not dict:
        return sensitive_strings(value)
    out: set[str] = set()
    for k, v in value.items():
        hit = memo.get((-1, id(v)))
        if hit is None or hit[2] != [(k,)]:
            hit = memo[(-1, id(v))] = (v, sensitive_strings(v, (k,)), [(k,)])  # keeps v alive
        out |= hit[1]
    return out


def changed_paths(lv: Any, rv: Any) -> list[Path]:
    if lv is MISSING or rv is MISSING:
        return [()]
    if lv == rv and _strict_same(lv, rv):
        return []
    # Imported here: deepdiff pulls in numpy and pydantic, which every command
    # that merely lists `cfgc --help` or loads this module would pay for.
    from deepdiff import DeepDiff

    tree = DeepDiff(lv, rv, view="tree", verbose_level=2)
    return [tuple(level.path(output_format="list")) for levels in tree.values() for level in levels]


def _strict_same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``1 == True`` is a change)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return all(_strict_same(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return all(_strict_same(x, y) for x, y in zip(a, b, strict=True))
    return True


def collapse(path: Path, left: Any, right: Any) -> Path:
    """A change inside a list of scalars is reported as the whole list."""
    for i, key in enumerate(path):
        if type(key) is int and (_scalar_list(get_path(left, path[:i])) or _scalar_list(get_path(right, path[:i]))):
            return path[:i]
    return path


def _scalar_list(value: object) -> bool:
    return type(value) is list and all(type(v) not in (dict, list) for v in value)


def leaves(value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if value is MISSING:
        return
    if type(value) is dict and value:
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif type(value) is list and value and not _scalar_list(value):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    else:
        yield path, value


def sort_key(path: Path) -> tuple[tuple[int, str], ...]:
    return tuple((0, f"{k:09d}") if type(k) is int else (1, str(k)) for k in path)
