"""The regular expressions of npm's ``semver`` package (internal/re.js), strict mode.

They are built from the same source fragments as node-semver and bounded the
same way (its ``safeRe``: ``\\s*`` -> ``\\s{0,1}``, ``\\d+`` -> ``\\d{1,256}``...),
then translated to Python: JavaScript's ``\\s`` is a fixed Unicode set and its
``\\d`` is ASCII only, and ``$`` must not match before a final newline.
"""

from __future__ import annotations

import re

MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1

# JavaScript's \s and String.prototype.trim() set (WhiteSpace + LineTerminator).
_JS_WS_BODY = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_WS = f"[{_JS_WS_BODY}]"
_LDN = "[a-zA-Z0-9-]"


def _safe(src: str) -> str:
    for token, bound in ((r"\s", 1), (r"\d", MAX_LENGTH), (_LDN, MAX_LENGTH - 6)):
        src = src.replace(token + "*", f"{token}{{0,{bound}}}").replace(token + "+", f"{token}{{1,{bound}}}")
    return src


def _compile(src: str) -> re.Pattern[str]:
    src = _safe(src).replace(r"[v=\s]", f"[v={_JS_WS_BODY}]")
    return re.compile(src.replace(r"\s", _JS_WS).replace(r"\d", "[0-9]").replace("$", r"\Z"))


_NI = r"0|[1-9]\d*"
_NIL = r"\d+"
_NNI = rf"\d*[a-zA-Z-]{_LDN}*"
_MAIN = rf"({_NI})\.({_NI})\.({_NI})"
_MAINL = rf"({_NIL})\.({_NIL})\.({_NIL})"
_PRI = f"(?:{_NNI}|{_NI})"
_PRIL = f"(?:{_NNI}|{_NIL})"
_PRERELEASE = rf"(?:-({_PRI}(?:\.{_PRI})*))"
_PRERELEASEL = rf"(?:-?({_PRIL}(?:\.{_PRIL})*))"
_BI = f"{_LDN}+"
BUILD_SRC = rf"(?:\+({_BI}(?:\.{_BI})*))"
_FULLPLAIN = f"v?{_MAIN}{_PRERELEASE}?{BUILD_SRC}?"
_LOOSEPLAIN = rf"[v=\s]*{_MAINL}{_PRERELEASEL}?{BUILD_SRC}?"
_GTLT = "((?:<|>)?=?)"
_XRI = rf"{_NI}|x|X|\*"
_XRANGEPLAIN = (rf"[v=\s]*({_XRI})(?:\.({_XRI})(?:\.({_XRI})(?:{_PRERELEASE})?{BUILD_SRC}?)?)?")
_LONETILDE = "(?:~>?)"
_LONECARET = r"(?:\^)"

# Compiled on first use (module __getattr__): building all of them costs a
# command that never reads a version range (a warm build) a noticeable part of
# its start-up.
_SOURCES: dict[str, tuple[str, bool]] = {  # name -> (source, bounded like node-semver's safeRe)
    "FULL": (f"^{_FULLPLAIN}$", True),
    "BUILD": (BUILD_SRC, True),
    # parseRange strips build metadata with the unbounded source (BUILDSTRIPRE).
    "BUILD_STRIP": (BUILD_SRC, False),
    "XRANGE": (rf"^{_GTLT}\s*{_XRANGEPLAIN}$", True),
    "TILDE_TRIM": (rf"(\s*){_LONETILDE}\s+", True),
    "TILDE": (f"^{_LONETILDE}{_XRANGEPLAIN}$", True),
    "CARET_TRIM": (rf"(\s*){_LONECARET}\s+", True),
    "CARET": (f"^{_LONECARET}{_XRANGEPLAIN}$", True),
    "COMPARATOR": (rf"^{_GTLT}\s*({_FULLPLAIN})$|^$", True),
    "COMPARATOR_TRIM": (rf"(\s*){_GTLT}\s*({_LOOSEPLAIN}|{_XRANGEPLAIN})", True),
    "HYPHEN_RANGE": (rf"^\s*({_XRANGEPLAIN})\s+-\s+({_XRANGEPLAIN})\s*$", True),
    "STAR": (r"(<|>)?=?\s*\*", True),
    "GTE0": (r"^\s*>=\s*0\.0\.0\s*$", True),
    "GTE0_PRE": (r"^\s*>=\s*0\.0\.0-0\s*$", True),
}


WS_RUN = re.compile(_JS_WS + "+")
NUMERIC = re.compile(r"[0-9]+\Z")


def __getattr__(name: str) -> re.Pattern[str]:
    try:
        src, bounded = _SOURCES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    pattern = _compile(src) if bounded else re.compile(src)
    globals()[name] = pattern
    return pattern


_JS_WS_CHARS = "\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"


def js_trim(text: str) -> str:
    """``String.prototype.trim``: strips JavaScript's whitespace set only."""
    return text.strip(_JS_WS_CHARS)


def js_split_ws(text: str) -> list[str]:
    """``text.split(/\\s+/)``, with JavaScript's whitespace set."""
    return WS_RUN.split(text)
