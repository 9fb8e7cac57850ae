"""Rendering ``{{ }}`` strings after merging, in a sandboxed Jinja2.

The context holds the hierarchy variables, ``target`` and ``config``: a lazy
view of the resolved target, so ``{{ config.org.region }}`` works even when
``org.region`` is itself templated.  A string that is one whole expression
(``"{{ config.limits.rpm * 2 }}"``) keeps the expression's type, so numbers
stay numbers; any other template renders to a string.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache, lru_cache
from typing import Any

from cfgc.base.errors import InputError, Location
from cfgc.base.limits import DEFAULT_LIMITS, Limits
from cfgc.base.loading import Path
from cfgc.compile import template_bounds
from cfgc.compile.merging import dotted
from cfgc.compile.sandbox import bounded_sandbox
from cfgc.compile.template_kept import KEPT
from cfgc.compile.template_lookup import simple as _simple
from cfgc.compile.template_memo import MISS, PURE_GLOBALS, RenderMemo, make_key, reads, scalar_key
from cfgc.compile.walk import scan, shape

Locator = Callable[[Path], Location]
WHOLE = re.compile(r"\s*\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%).)*)\}\}\s*\Z", re.DOTALL)


@cache
def sandbox() -> Any:
    """The one sandboxed Jinja2 environment cfgc renders with (Jinja2 is imported on first use)."""
    import jinja2

    class _Undefined(jinja2.StrictUndefined):
        """StrictUndefined that names config paths the way users write them."""

        @property
        def _undefined_message(self) -> str:
            obj = self._undefined_obj
            if isinstance(obj, (_MappingView, _ListView)) and self._undefined_hint is None:
                where = "config" + ("." + dotted(obj._p) if obj._p else "")
                return f"{where} has no key {self._undefined_name!r}"
            # cfgc's wording, not Jinja2's (which differs between releases).
            if self._undefined_hint is not None:
                return str(self._undefined_hint)
            if obj is jinja2.utils.missing:
                return f"{self._undefined_name!r} is undefined"
            return f"{type(obj).__name__} value has no attribute or key {self._undefined_name!r}"

    return bounded_sandbox(_Undefined)


def is_template(s: str) -> bool:
    """Whether a string needs rendering."""
    return "{{" in s or "{%" in s


def has_templates(value: Any) -> bool:
    """Whether any string in ``value`` needs rendering."""
    t = type(value)
    if t is str:
        return is_template(value)
    if t is dict:
        return any(has_templates(v) for v in value.values())
    if t is list:
        return any(has_templates(v) for v in value)
    return False


@lru_cache(maxsize=4096)
def _compiled(text: str) -> tuple[bool, Any]:
    m = WHOLE.match(text)
    env = sandbox()
    if m:
        return True, env.compile_expression(m.group("expr"), undefined_to_none=False)
    return False, env.from_string(text)


def render_target(
    root: Any,
    variables: Mapping[str, str],
    target: str,
    locate: Locator,
    paths: list[Path] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    memo: RenderMemo | None = None,
) -> Any:
    """Render every template string of ``root``; returns a new value.

    ``paths`` lists the template strings when the caller has found them; each
    template runs under ``limits`` (a template over one fails at its location).
    ``memo`` (kept across the targets of one compiler) reuses the result of a
    Jinja2 render with the same text, limits and values read
    (:mod:`cfgc.compile.template_memo`).
    """
    if paths is None:
        paths = scan(root).templates
    if not paths:
        return root
    r = _Renderer(root, variables, target, locate, limits, memo)
    kids = shape(paths)[1]
    try:
        return _build(r, kids, (), root)
    finally:
        # The renderer's context holds views that hold the renderer: broken here,
        # so a target's render is freed by reference counting, not left to the
        # cyclic collector (a build worker's young collections ran every 20
        # targets or so for these cycles alone).
        r.context.clear()


# At most this many frames are cleared after a failed render (a traceback is as deep as the
# template's recursion limit allows; what is left past this is for the collector).
FORGET_FRAMES = 10_000


def _forget(e: BaseException) -> None:
    """Drop the traceback and context of Jinja2's exception ``e``, clearing its finished frames.

    Jinja2 rewrites a render's traceback through frames of its own (jinja2.debug) that hold
    each other and the exception: without this every failed render is a cycle.
    """
    tb = e.__traceback__
    e.__traceback__ = e.__context__ = None
    left = FORGET_FRAMES
    seen: set[int] = set()  # each frame once: the f_back chains of a deep traceback overlap
    while tb is not None and left > 0:
        frame: Any = tb.tb_frame
        while frame is not None and left > 0 and id(frame) not in seen:
            seen.add(id(frame))
            left -= 1
            try:
                frame.clear()
            except RuntimeError:  # still running: this render's own frames, and their callers
                break
            frame = frame.f_back
        tb = tb.tb_next


def _build(r: _Renderer, kids: dict[Path, Any], path: Path, raw: Any) -> Any:
    """``raw`` at ``path`` with its template strings rendered; called only for paths at
    or above one (a module function: a nested one refers to itself, a cycle per target)."""
    t = type(raw)
    if t is dict:
        ks = kids.get(path, ())
        return {k: _build(r, kids, (*path, k), v) if k in ks else v for k, v in raw.items()}
    if t is list:
        ks = kids.get(path, ())
        return [_build(r, kids, (*path, i), v) if i in ks else v for i, v in enumerate(raw)]
    return r.leaf(path, raw)


class _Renderer:
    def __init__(
        self,
        root: Any,
        variables: Mapping[str, str],
        target: str,
        locate: Locator,
        limits: Limits,
        memo: RenderMemo | None = None,
    ) -> None:
        self.root = root
        self.limits = limits
        self.memo = memo
        self.locate = locate
        self.done: dict[Path, Any] = {}
        self.stack: list[Path] = []
        self.context = {**variables, "target": target, "config": self.view((), root)}

    def view(self, path: Path, raw: Any) -> Any:
        t = type(raw)
        if t is dict:
            return _MappingView(self, path, raw)
        if t is list:
            return _ListView(self, path, raw)
        if t is str and is_template(raw):
            return self.leaf(path, raw)
        return raw

    def leaf(self, path: Path, text: str) -> Any:
        if path in self.done:
            return self.done[path]
        if path in self.stack:
            chain = self.stack[self.stack.index(path) :] + [path]
            raise InputError("template cycle: " + " -> ".join(dotted(p) for p in chain), self.locate(path))
        self.stack.append(path)
        try:
            value = self._render(path, text)
        finally:
            self.stack.pop()
        self.done[path] = value
        return value

    def _render(self, path: Path, text: str) -> Any:
        budget = template_bounds.enter(self.limits)
        try:
            simple = _simple(text)
            if simple is not None:
                done = self._lookups(*simple)
                if done is not _NO:
                    return done
            # The memo before Jinja2: a result kept for this very key (this process's, or
            # one an earlier in-place build kept, cfgc.compile.template_kept) needs no Jinja2.
            # A hit is always for a text that compiled and rendered under the same limits.
            whole = WHOLE.match(text) is not None
            key = None if self.memo is None else self._memo_key(text, whole)
            if key is not None:
                assert self.memo is not None
                hit = self.memo.get(key)
                if hit is MISS:
                    hit = KEPT.result(key)
                if hit is not MISS:
                    return hit
            import jinja2

            _, compiled = _compiled(text)
            if whole:
                out = compiled(**self.context)
                if isinstance(out, jinja2.Undefined):
                    str(out)  # StrictUndefined raises with the name
                value = plain(out)
                template_bounds.check_result(value)
            else:
                value = compiled.render(**self.context)
            if key is not None:
                assert self.memo is not None
                self.memo.put(key, value)
                KEPT.note_result(key, value)
            return value
        except InputError:
            raise
        except template_bounds.LimitExceeded as e:
            _forget(e)
            raise InputError(f"template in '{dotted(path)}' exceeds a limit: {e}", self.locate(path)) from None
        except RecursionError as e:
            _forget(e)
            raise InputError(f"template in '{dotted(path)}' recurses too deeply", self.locate(path)) from None
        except Exception as e:  # noqa: BLE001 - Jinja2's own errors, named once Jinja2 is imported
            error = self._jinja_error(path, e)
            if error is None:
                raise
            # Jinja2's exception and its traceback hold each other through Jinja2's frames; the
            # error's traceback holds this frame, whose local would hold the error; and its
            # (never shown) context holds Jinja2's: cycles the collector would have to find
            # for every failing render.  Broken here; the error's text and location stay.
            _forget(e)
            try:
                raise error from None
            finally:
                error.__context__ = None
                del error
        finally:
            template_bounds.leave(budget)

    def _jinja_error(self, path: Path, e: Exception) -> InputError | None:
        """What a failure of the template at ``path`` is reported as (None: raise it as it is).

        Jinja2 is imported here, not before the render: a render the memo answers never needs it.
        """
        import jinja2

        where = dotted(path)
        if isinstance(e, jinja2.TemplateSyntaxError):
            message = f"template syntax error in '{where}' (Jinja2: {e.message})"
        elif isinstance(e, jinja2.exceptions.SecurityError):
            message = f"template in '{where}' is not allowed: {e}"
        elif isinstance(e, jinja2.UndefinedError):
            message = f"template error in '{where}': {e.message}"
        # The rest of Jinja2's own (an unknown filter named in map(...)) and Python's.
        elif isinstance(e, (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError)):
            message = f"template error in '{where}': {e}"
        else:
            return None
        return InputError(self._safe(message), self.locate(path))

    def _lookups(self, whole: bool, literals: tuple[str, ...], names: tuple[tuple[str, ...], ...]) -> Any:
        """What Jinja2 would give for a template of plain lookups, or _NO to let Jinja2 decide.

        Every lookup that would not simply succeed in Jinja2 (an unknown name, a
        key that is also an attribute of the view, a value that is not a string
        or an integer inside text) is _NO, so Jinja2 raises its own error.
        """
        values = []
        for name in names:
            v = self._lookup(name)
            if v is _NO:
                return _NO
            values.append(v)
        if whole:
            value = plain(values[0])
            template_bounds.check_result(value)
            return value
        out = [literals[0]] if literals[0] else []
        for v, lit in zip(values, literals[1:], strict=True):
            if type(v) is not str and type(v) is not int:
                return _NO
            s = str(v)
            if s:
                out.append(s)
            if lit:
                out.append(lit)
        # Counted as the rewritten Jinja2 template counts its output, part by part.
        return template_bounds.emit_strs(out)

    def _memo_key(self, text: str, whole: bool) -> tuple[Any, ...] | None:
        """The memo key of this render, or None to render without the memo
        (see :mod:`cfgc.compile.template_memo`; renders nothing, cannot fail)."""
        found = KEPT.reads(text, whole)
        if found is MISS:
            found = reads(text, whole)
            KEPT.note_reads(text, whole, found)
        if found is None:
            return None
        chains, names, bound = found
        parts: list[Any] = []
        for name in names:
            if name in self.context:
                part = scalar_key(self.context[name])
            elif name in bound or name == "loop":
                part = ("bound",)
            elif name in PURE_GLOBALS:
                part = ("global",)
            else:
                return None
            if part is MISS:
                return None
            parts.append(part)
        for chain in chains:
            raw = self.root
            for key in chain:
                if type(raw) is not dict or key[0] == "_" or hasattr(_MappingView, key) or key not in raw:
                    return None
                raw = raw[key]
            if type(raw) is str and is_template(raw):
                raw = self.done.get(chain, MISS)  # rendered already, or not keyed: nothing is rendered here
            part = scalar_key(raw)
            if part is MISS:
                return None
            parts.append(part)
        return make_key(text, self.limits, parts)

    def _lookup(self, name: tuple[str, ...]) -> Any:
        obj = self.context.get(name[0], _NO)
        if len(name) > 1 and type(obj) is _MappingView:
            # Down plain mappings without a view per level (every lookup of
            # every target): a view matters only for the value found last.  A
            # non-mapping part-way (a template there renders first) takes the
            # loop below from the start: nothing was read but mappings.
            raw = obj._raw
            last = len(name) - 1
            for i in range(1, last + 1):
                key = name[i]
                if key[0] == "_" or hasattr(_MappingView, key) or key not in raw:
                    return _NO
                if i == last:
                    return obj._r.view((*obj._p, *name[1:]), raw[key])
                raw = raw[key]
                if type(raw) is not dict:
                    break
        return self._lookup_views(obj, name)

    def _lookup_views(self, obj: Any, name: tuple[str, ...]) -> Any:
        """:meth:`_lookup` through a view per level (what the sandbox's getattr sees)."""
        for key in name[1:]:
            # The sandbox's getattr finds an attribute first (``items``, ``_raw``), then the key.
            if type(obj) is not _MappingView or key[0] == "_" or hasattr(_MappingView, key) or key not in obj._raw:
                return _NO
            obj = obj[key]
        return obj

    def _safe(self, message: str) -> str:
        """The error text with the target's credentials as redaction markers: an
        error can quote any value a template reads (``{{ {}[config.db.password] }}``)."""
        from cfgc.secrets.redact import mask, sensitive_strings

        return mask(message, sensitive_strings(self.root))

    def materialize(self, path: Path, raw: Any) -> Any:
        t = type(raw)
        if t is dict:
            return {k: self.materialize((*path, k), v) for k, v in raw.items()} if has_templates(raw) else raw
        if t is list:
            return [self.materialize((*path, i), v) for i, v in enumerate(raw)] if has_templates(raw) else raw
        if t is str and is_template(raw):
            return self.leaf(path, raw)
        return raw


def plain(value: Any) -> Any:
    """Turn views (and other mappings/sequences from templates) into plain data."""
    if isinstance(value, (_MappingView, _ListView)):
        return value._r.materialize(value._p, value._raw)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    jinja2 = sys.modules.get("jinja2")  # only Jinja2's own output can hold its Undefined
    if jinja2 is not None and isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises with the name, also inside a list or a mapping
    return value


_NO: Any = object()  # "not a plain lookup": render with Jinja2


class _MappingView(Mapping[str, Any]):
    """Read-only, lazily rendered view of a mapping of the target."""

    __slots__ = ("_r", "_p", "_raw")

    def __init__(self, renderer: _Renderer, path: Path, raw: dict[str, Any]) -> None:
        self._r = renderer
        self._p = path
        self._raw = raw

    def __getitem__(self, key: str) -> Any:
        return self._r.view((*self._p, key), self._raw[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"<config {dotted(self._p)}>"


class _ListView(Sequence[Any]):
    """Read-only, lazily rendered view of a list of the target."""

    __slots__ = ("_r", "_p", "_raw")

    def __init__(self, renderer: _Renderer, path: Path, raw: list[Any]) -> None:
        self._r = renderer
        self._p = path
        self._raw = raw

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._raw)))]
        i = index + len(self._raw) if index < 0 else index
        return self._r.view((*self._p, i), self._raw[index])

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"<config {dotted(self._p)}>"
