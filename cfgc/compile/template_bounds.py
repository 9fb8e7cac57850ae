"""Bounded cost for templates: output size, value size, loop iterations, time.

Jinja2's sandbox stops templates from reaching Python internals but not from
asking for ``'x' * 10**9`` or ten billion loop iterations.  The environment
built here checks every template operation that can allocate or spin against
the current :class:`Budget`:

* binary operators (``*``, ``+``, ``%``, ``**``) through ``intercepted_binops``;
  ``~`` concatenation, ``{% for %}`` iterables and every output expression are
  rewritten at compile time into calls of :class:`_Hooks`;
* calls (string methods with widths, ``str.format``, recursive loops), the
  filters and globals that take widths or counts (``center``, ``indent``,
  ``wordwrap``, ``format``, ``batch``, ``slice``, ``replace``, ``join``, ``sum``,
  ``tojson``, ``lipsum``, ``range``) are checked before they allocate;
* time is checked cooperatively at each of those points.  A signal (SIGALRM)
  would not be safe in forked workers and threads, and every loop iteration
  passes through a hook, so a template cannot spin without meeting a check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from cfgc.base.limits import DEFAULT_LIMITS, INT_MAX, INT_MIN, TEMPLATE_INT_BITS, Limits

_CURRENT: ContextVar[Budget | None] = ContextVar("cfgc_template_budget", default=None)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\d+|\*)?(?:\.(\d+|\*))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")
_NESTED_BRACE = re.compile(r"\{[^{}]*:[^{}]*\{")
_DIGITS = re.compile(r"\d+")
_WIDTH_METHODS = frozenset(("center", "ljust", "rjust", "zfill", "expandtabs"))


class LimitExceeded(Exception):
    """A template went over one of its limits (reported as an input error)."""


class Budget:
    """What one template evaluation may still spend (mutable: it counts)."""

    __slots__ = ("limits", "deadline", "iterations", "emitted")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.template_seconds
        self.iterations = 0
        self.emitted = 0

    def tick(self) -> None:
        """Fail once the template's wall-clock time is spent."""
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"template ran longer than {self.limits.template_seconds:g} s (limits.template_seconds)")

    def size(self, n: int, what: str) -> None:
        """Fail if a value of size ``n`` is larger than a template may build."""
        cap = self.limits.template_output_chars
        if n > cap:
            raise LimitExceeded(f"{what} would hold more than {cap} characters or items (limits.template_output_chars)")

    def count(self, n: int, what: str) -> None:
        """Fail if ``n`` loop iterations or range items are more than allowed."""
        cap = self.limits.template_loop_iterations
        if n > cap:
            raise LimitExceeded(f"{what} more than {cap} times (limits.template_loop_iterations)")

    def measure(self, value: Any, what: str) -> int:
        """Expanded size of plain data (a shared item counts each time: JSON repeats it)."""
        cap = self.limits.template_output_chars
        n = 0
        stack = [value]
        while stack:
            v = stack.pop()
            t = type(v)
            if t is str:
                n += len(v)
            elif t is list or t is tuple:
                n += 1  # an empty list still costs: [[]] * 10**9 is a bomb
                if n + len(v) <= cap:
                    stack.extend(v)
                else:
                    n += len(v)
            elif t is dict:
                n += 1 + len(v)  # keys and values
                if n <= cap:
                    stack.extend(v.keys())
                    stack.extend(v.values())
            else:
                n += 1
            if n > cap:
                self.size(n, what)
        return n


def current() -> Budget:
    """The budget of the template being evaluated (a default one outside renders)."""
    b = _CURRENT.get()
    if b is None:
        b = Budget(DEFAULT_LIMITS)
        _CURRENT.set(b)
    return b


def enter(limits: Limits) -> Any:
    """Start a fresh budget for one template; pass the result to :func:`leave`."""
    return _CURRENT.set(Budget(limits))


def leave(token: Any) -> None:
    """Restore the enclosing template's budget."""
    _CURRENT.reset(token)


def check_result(value: object) -> None:
    """A template's value: within the size limit, numbers that JSON carries."""
    b = current()
    b.measure(value, "the template's value")
    _check_numbers(value)


def _check_numbers(value: Any) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is int and not INT_MIN <= v <= INT_MAX:
            raise LimitExceeded("the template's value holds an integer outside the 64-bit range")
        if t is float and (v != v or v in (float("inf"), float("-inf"))):
            raise LimitExceeded("the template's value holds NaN or infinity, which JSON cannot carry")
        if t is list or t is tuple:
            stack.extend(v)
        elif t is dict:
            stack.extend(v.values())


def int_arg(b: Budget, n: object, what: str) -> None:
    """Refuse an integer width or count larger than a template may build."""
    if isinstance(n, int) and not isinstance(n, bool):
        b.size(n, what)


def _seq_size(b: Budget, v: object) -> int | None:
    if isinstance(v, (str, list, tuple)):
        return b.measure(v, "a value")
    return None


def binop(op: str, left: object, right: object) -> None:
    """Refuse ``'x' * 10**9``, ``s + s`` past the limit, huge powers and format widths."""
    b = current()
    b.tick()
    if op == "*":
        for seq, n in ((left, right), (right, left)):
            size = _seq_size(b, seq)
            if size is not None and isinstance(n, int):
                shell = 0 if isinstance(seq, str) else 1  # the list itself, counted once
                b.size(shell + (size - shell) * max(n, 0), f"'*' on a {type(seq).__name__}")
                return
        if isinstance(left, int) and isinstance(right, int):
            _int_bits(left.bit_length() + right.bit_length())
    elif op == "+":
        ls, rs = _seq_size(b, left), _seq_size(b, right)
        if ls is not None and rs is not None:
            b.size(ls + rs, "'+'")
    elif op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        _int_bits(max(left.bit_length(), 1) * right)
    elif op == "%" and isinstance(left, str):
        args = right if isinstance(right, tuple) else (right,)
        format_widths(b, left, args, {})


def _int_bits(bits: int) -> None:
    if bits > TEMPLATE_INT_BITS:
        raise LimitExceeded(f"integer result would have more than {TEMPLATE_INT_BITS} bits")


def format_widths(b: Budget, fmt: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    """Widths and precisions of a ``%`` or ``{}`` format string, before formatting."""
    b.size(len(fmt), "a format string")
    star = False
    for m in _PERCENT_SPEC.finditer(fmt):
        for g in m.groups():
            star = star or g == "*"
            if g and g != "*":
                b.size(_number(g), "a format width")
    for spec in _BRACE_SPEC.findall(fmt):
        for d in _DIGITS.findall(spec):
            b.size(_number(d), "a format width")
    if star or _NESTED_BRACE.search(fmt):  # widths taken from the arguments
        for a in (*args, *kwargs.values()):
            int_arg(b, a, "a format width")


def _number(digits: str) -> int:
    return int(digits) if len(digits) < 20 else 10**20


def precheck_call(obj: object, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """String methods that allocate from a small argument: widths, replace, join, format."""
    b = current()
    b.tick()
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    wrapped = getattr(obj, "__wrapped__", None)
    if wrapped is not None and isinstance(getattr(wrapped, "__self__", None), str):
        if name == "format":  # the sandbox's str.format wrapper
            format_widths(b, wrapped.__self__, args, kwargs)
        return
    if not isinstance(owner, str):
        return
    if name in _WIDTH_METHODS:
        for a in (*args, *kwargs.values()):
            int_arg(b, a, f"str.{name} width")
        if name == "expandtabs" and args and isinstance(args[0], int):
            b.size(owner.count("\t") * args[0] + len(owner), "str.expandtabs")
    elif name == "replace" and len(args) >= 2:
        replace_size(b, owner, args[0], args[1])
    elif name == "join" and args:
        join_size(b, owner, args[0])


def replace_size(b: Budget, s: object, old: object, new: object) -> None:
    """Refuse a ``replace`` whose result would be too large, before building it."""
    if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
        hits = len(s) + 1 if old == "" else s.count(old)
        b.size(len(s) + hits * max(len(new) - len(old), 0), "replace")


def join_size(b: Budget, sep: str, items: object) -> None:
    """Refuse a ``join`` whose result would be too large, before building it."""
    if isinstance(items, (list, tuple)):
        b.size(b.measure(items, "join") + max(len(items) - 1, 0) * len(sep), "join")


def bounded_range(*args: int) -> range:
    """``range`` with at most ``limits.template_loop_iterations`` items."""
    b = current()
    b.tick()
    r = range(*args)
    b.count(len(r), "range() would produce items")
    return r


def counted(iterable: Any) -> Iterator[Any]:
    """A loop's iterable, each iteration counted against the budget."""
    b = current()
    b.tick()
    limit = b.limits.template_loop_iterations
    for item in iterable:
        b.iterations += 1
        if b.iterations > limit:
            b.count(b.iterations, "loops would run")
        if not b.iterations & 63:
            b.tick()
        yield item


def emit(value: object) -> str:
    """One output expression: counted against the template's output limit."""
    b = current()
    s = value if type(value) is str else str(value)
    b.emitted += len(s)
    if b.emitted > b.limits.template_output_chars:
        b.size(b.emitted, "the template's output")
    return s


def emit_strs(parts: list[str]) -> str:
    """The strings ``parts`` joined, each counted as :func:`emit` counts it.

    One check for the lot when they fit (a lookup template's parts, every
    render of every target); otherwise part by part, so an overflow fails at
    the same part with the same count as :func:`emit` one at a time.
    """
    b = current()
    total = b.emitted + sum(map(len, parts))
    if total <= b.limits.template_output_chars:
        b.emitted = total
        return "".join(parts)
    return "".join([emit(p) for p in parts])


def concat(parts: list[Any]) -> str:
    """``a ~ b``: the joined length is checked before joining."""
    b = current()
    b.tick()
    strs = [p if type(p) is str else str(p) for p in parts]
    b.size(sum(map(len, strs)), "'~'")
    return "".join(strs)
