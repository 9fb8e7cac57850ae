"""Checked versions of the Jinja2 filters and globals that take widths or counts.

Each check runs before the filter allocates (a width of 10**9 is refused, not
built); every wrapped filter's result is measured after it runs too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from cfgc.compile.template_bounds import (
    Budget,
    current,
    format_widths,
    int_arg,
    join_size,
    replace_size,
)


def wrap_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Replace the built-in filters that take widths or counts with checked ones."""
    for name, check in _FILTER_CHECKS.items():
        if name in filters:
            filters[name] = _checked(filters[name], check)


def _checked(f: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
    @wraps(f)
    def run(*args: Any, **kwargs: Any) -> Any:
        b = current()
        b.tick()
        # Filters marked pass_context/pass_eval_context get that first.
        plain = args[1:] if getattr(f, "jinja_pass_arg", None) else args
        check(b, *plain, **kwargs)
        out = f(*args, **kwargs)
        if isinstance(out, (str, list)):
            b.measure(out, f"filter {f.__name__}")
        return out

    return run


def _center(b: Budget, value: object = "", width: object = 80, *_: object, **__: object) -> None:
    int_arg(b, width, "center width")


def _indent(b: Budget, s: object = "", width: object = 4, *_: object, **__: object) -> None:
    w = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    b.size(w, "indent width")
    b.size(len(str(s)) + (str(s).count("\n") + 1) * w, "indent")


def _wordwrap(b: Budget, s: object = "", width: object = 79, *a: object, wrapstring: object = None, **__: object) -> None:
    if len(a) >= 2 and wrapstring is None:
        wrapstring = a[1]
    if isinstance(wrapstring, str):
        b.size(len(str(s)) + (len(str(s)) + 1) * len(wrapstring), "wordwrap")


def _format(b: Budget, value: object = "", *args: object, **kwargs: object) -> None:
    if isinstance(value, str):
        format_widths(b, value, args, kwargs)


def _count_arg(b: Budget, value: object = None, n: object = 1, *_: object, **__: object) -> None:
    int_arg(b, n, "batch/slice count")


def _replace(b: Budget, s: object = "", old: object = "", new: object = "", *_: object, **__: object) -> None:
    replace_size(b, str(s), old, new)


def _join(b: Budget, value: object = (), d: object = "", *_: object, **__: object) -> None:
    if isinstance(d, str):
        join_size(b, d, value)


def _sum(b: Budget, iterable: object = (), attribute: object = None, start: object = 0, **__: object) -> None:
    if isinstance(start, (list, tuple, str)) and isinstance(iterable, (list, tuple)):
        b.measure([start, *iterable], "sum")


def _tojson(b: Budget, value: object = None, indent: object = None, **__: object) -> None:
    if isinstance(indent, int):
        b.size(b.measure(value, "tojson") * (indent + 1), "tojson")


_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "format": _format,
    "batch": _count_arg,
    "slice": _count_arg,
    "replace": _replace,
    "join": _join,
    "sum": _sum,
    "tojson": _tojson,
}


def bounded_lipsum(f: Callable[..., str]) -> Callable[..., str]:
    """``lipsum`` with at most the output limit's worth of words."""

    @wraps(f)
    def run(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
        b = current()
        b.tick()
        for v in (n, min, max):
            int_arg(b, v, "lipsum")
        b.size(n * max * 12, "lipsum")  # a word is at most 11 characters and a space
        return f(n=n, html=html, min=min, max=max)

    return run
