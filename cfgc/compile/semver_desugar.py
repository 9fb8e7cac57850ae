"""Desugaring of one npm range alternative into plain comparators (classes/range.js).

``1.2.3 - 2``, ``~1.2``, ``^0.1``, ``1.x``, ``>1.2`` and ``*`` become lists of
``<op><version>`` strings exactly as node-semver's ``parseRange`` rewrites
them, step for step, so that odd inputs (``>=*``, ``~> 1``, ``<=0.7.x``) mean
what they mean to npm.  Parsing the resulting comparators is the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cfgc.compile import semver_re as R


def _is_x(part: str | None) -> bool:
    return not part or part.lower() == "x" or part == "*"


def _inc(part: str) -> str:
    return str(int(part) + 1)


def _hyphen(m: re.Match[str], inc_pre: bool) -> str:
    frm, f_maj, f_min, f_pat, f_pre = m.group(1, 2, 3, 4, 5)
    to, t_maj, t_min, t_pat, t_pre = m.group(7, 8, 9, 10, 11)
    z = "-0" if inc_pre else ""
    if _is_x(f_maj):
        frm = ""
    elif _is_x(f_min):
        frm = f">={f_maj}.0.0{z}"
    elif _is_x(f_pat):
        frm = f">={f_maj}.{f_min}.0{z}"
    else:
        frm = f">={frm}" if f_pre else f">={frm}{z}"
    if _is_x(t_maj):
        to = ""
    elif _is_x(t_min):
        to = f"<{_inc(t_maj)}.0.0-0"
    elif _is_x(t_pat):
        to = f"<{t_maj}.{_inc(t_min)}.0-0"
    elif t_pre:
        to = f"<={t_maj}.{t_min}.{t_pat}-{t_pre}"
    elif inc_pre:
        to = f"<{t_maj}.{t_min}.{_inc(t_pat)}-0"
    else:
        to = f"<={to}"
    return R.js_trim(f"{frm} {to}")


def _tilde(m: re.Match[str], inc_pre: bool) -> str:
    M, mi, p, pr = m.group(1, 2, 3, 4)
    z = "-0" if inc_pre else ""
    if _is_x(M):
        return ""
    if _is_x(mi):
        return f">={M}.0.0{z} <{_inc(M)}.0.0-0"
    if _is_x(p):
        return f">={M}.{mi}.0{z} <{M}.{_inc(mi)}.0-0"
    low = f"{M}.{mi}.{p}-{pr}" if pr else f"{M}.{mi}.{p}"
    return f">={low} <{M}.{_inc(mi)}.0-0"


def _caret(m: re.Match[str], inc_pre: bool) -> str:
    M, mi, p, pr = m.group(1, 2, 3, 4)
    z = "-0" if inc_pre else ""
    if _is_x(M):
        return ""
    if _is_x(mi):
        return f">={M}.0.0{z} <{_inc(M)}.0.0-0"
    if _is_x(p):
        hi = f"{M}.{_inc(mi)}.0-0" if M == "0" else f"{_inc(M)}.0.0-0"
        return f">={M}.{mi}.0{z} <{hi}"
    low = f"{M}.{mi}.{p}-{pr}" if pr else f"{M}.{mi}.{p}"
    if M != "0":
        hi = f"{_inc(M)}.0.0-0"
    elif mi != "0":
        hi = f"{M}.{_inc(mi)}.0-0"
    else:
        hi = f"{M}.{mi}.{_inc(p)}-0"
    return f">={low} <{hi}"


def _xrange(comp: str, inc_pre: bool) -> str:
    m = R.XRANGE.search(comp)
    if m is None:
        return comp
    gtlt, M, mi, p = m.group(1, 2, 3, 4)
    if (_is_x(M) and not _is_x(mi)) or (_is_x(mi) and p and not _is_x(p)):
        return comp  # '1.x.5', 'x.1': left as is, so the comparator parse refuses it
    x_maj = _is_x(M)
    x_min = x_maj or _is_x(mi)
    any_x = x_min or _is_x(p)
    if gtlt == "=" and any_x:
        gtlt = ""
    pr = "-0" if inc_pre else ""
    if x_maj:
        return "<0.0.0-0" if gtlt in (">", "<") else "*"
    if gtlt and any_x:
        mi_n, p_n = (0 if x_min else int(mi)), 0
        maj_n = int(M)
        if gtlt == ">":
            gtlt = ">="  # >1 => >=2.0.0, >1.2 => >=1.3.0
            maj_n, mi_n = (maj_n + 1, 0) if x_min else (maj_n, mi_n + 1)
        elif gtlt == "<=":
            gtlt = "<"  # <=0.7.x => <0.8.0-0
            maj_n, mi_n = (maj_n + 1, mi_n) if x_min else (maj_n, mi_n + 1)
        if gtlt == "<":
            pr = "-0"
        return f"{gtlt}{maj_n}.{mi_n}.{p_n}{pr}"
    if x_min:
        return f">={M}.0.0{pr} <{_inc(M)}.0.0-0"
    if any_x:
        return f">={M}.{mi}.0{pr} <{M}.{_inc(mi)}.0-0"
    return comp


def _each(comp: str, pattern: re.Pattern[str], fn: Callable[[re.Match[str], bool], str], inc_pre: bool) -> str:
    return " ".join(pattern.sub(lambda m: fn(m, inc_pre), c, count=1) for c in R.js_split_ws(R.js_trim(comp)))


def _comparator(comp: str, inc_pre: bool) -> str:
    comp = R.BUILD.sub("", comp, count=1)
    comp = _each(comp, R.CARET, _caret, inc_pre)
    comp = _each(comp, R.TILDE, _tilde, inc_pre)
    comp = " ".join(_xrange(R.js_trim(c), inc_pre) for c in R.js_split_ws(comp))
    return R.STAR.sub("", R.js_trim(comp), count=1)


def desugar(alternative: str, inc_pre: bool) -> list[str]:
    """The comparator strings of one ``||`` alternative (already whitespace-normalised)."""
    text = R.BUILD_STRIP.sub("", alternative)
    text = R.HYPHEN_RANGE.sub(lambda m: _hyphen(m, inc_pre), text, count=1)
    text = R.COMPARATOR_TRIM.sub(r"\1\2\3", text)
    text = R.TILDE_TRIM.sub(r"\1~", text)
    text = R.CARET_TRIM.sub(r"\1^", text)
    joined = " ".join(_comparator(c, inc_pre) for c in text.split(" "))
    gte0 = R.GTE0_PRE if inc_pre else R.GTE0
    return [gte0.sub("", R.js_trim(c), count=1) for c in R.js_split_ws(joined)]
