"""The fast path for ordinary layer files: yaml-rs (Rust) builds the values.

Most layer files are plain block mappings of plain or quoted scalars.  For
them, composing with libyaml and walking its node tree in Python costs about
ten times what yaml-rs takes to hand back finished Python values, so the
careful loader (:mod:`cfgc.base.loading`) becomes the fallback, not the rule.

The fast path may only ever answer what the careful loader would answer.  It
therefore declines (returns :data:`MISS`), and the careful loader decides, on
any doubt:

* before parsing, from the text: anything that may be an anchor, alias or tag
  (``!``, alias-size limits) other than a cfgc tag on a block mapping's value
  in the one form :mod:`cfgc.base.yaml_fast_tags` rewrites, a block scalar, a complex
  key, a plain scalar starting with an indicator, a directive or a second
  document, a character libyaml refuses or reads differently (controls, tabs,
  CR, NEL and the Unicode line separators, a BOM), a backslash (escapes
  differ), and the numbers the two
  parsers resolve differently (``1_000``, ``0b1``, ``-0x1``, ``0X1F``: YAML 1.2 core
  keeps them strings, yaml-rs makes them integers);
* from yaml-rs: any error (the careful loader words it and gives the
  location), and an empty document;
* after parsing, from the values: a key that is not a string or could be
  ``null`` or a merge key, an integer outside 64 bits, a float that is not
  finite, nesting near the depth limit, any other type.

Source positions never come from here: a document loaded this way re-reads
its file through the careful loader the first time a location is needed.
tests/unit/base/test_yaml_fast_differential.py holds the two paths to the same
values over the test data, the example repo and generated YAML.  Without
yaml-rs installed every file takes the careful path.
"""

from __future__ import annotations

import re
from typing import Any

from cfgc.base.limits import INT_MAX, INT_MIN
from cfgc.base.sentinel import Sentinel
from cfgc.base.yaml_fast_tags import MARK, Marked, Tag, rewrite_tags, untag

yaml_rs: Any
try:
    import yaml_rs
except ImportError:  # pragma: no cover - yaml-rs is a dependency; keep working without it
    yaml_rs = None
    import logging  # only here: importing it costs every build a few milliseconds

    logging.getLogger(__name__).debug("yaml-rs is not importable: every file takes the libyaml path")

AVAILABLE = yaml_rs is not None
MISS = Sentinel("MISS")
"""The fast path declines: the careful loader must decide."""

# Each check is a cheap substring test first (most files have none of these
# characters), then a precise pattern.  Matching more than needed (inside a
# quoted string, say) only costs speed.

# A node property (anchor &, alias *, tag !), a block scalar (| or >), a
# complex key (?), a reserved indicator (@ `) or a plain scalar starting with
# ":" begins a node: at the start, or after whitespace, a flow indicator or a
# JSON-like key's colon.  Block scalars and ":"-first plain scalars are left
# out because the parsers disagree on edge cases (an empty "|" is "" to
# libyaml and "\n" to yaml-rs; "{:: 0}" is an error to libyaml only).
_NODE_START = re.compile(r"(?:\A|[\s\[{,:])[&*!|>?@`:]")
# A line whose value is a whole double-quoted scalar without escapes
# (``endpoint: "https://{{ a | lower }}"``, templates' filters): what lies between
# its quotes is content, never a node's start.
_QUOTED_VALUE = re.compile(r'^( *(?:- )*[A-Za-z0-9_$][A-Za-z0-9_$.-]*: )"[^"\\\n]*"( *)$', re.M)


def _unquoted(text: str) -> str:
    """``text`` with the insides of :data:`_QUOTED_VALUE` lines emptied, when
    every double quote in it is on such a line and it has no single quote: then
    no quoted scalar spans lines, so the emptied text is content for certain
    (anything else is searched as it is: a false alarm only costs the careful path)."""
    if '"' not in text or "'" in text:
        return text
    emptied, lines = _QUOTED_VALUE.subn(r'\1""\2', text)
    return emptied if text.count('"') == 2 * lines else text


# A token made only of number characters that contains "_", a signed hex or
# octal integer, a binary one, or one with an upper-case prefix (0X1F): yaml-rs
# reads these as numbers, the core schema as strings.  A token without digits (``dead_beef``) is a word.
_NUMBER_LIKE = re.compile(
    r"(?<![\w.+-])(?:[-+.0-9a-fA-FxXoO]*_[-+._0-9a-fA-FxXoO]*|[-+]0[xXoObB]\w*|0[bBXO]\w*)(?![\w.+-])"
)
# Starts with a literal "_", which keeps the search fast on keys like max_tokens.
_UNDERSCORE_BY_DIGIT = re.compile(r"_(?:[0-9.]|(?<=[0-9._]_))")
_DIGIT = re.compile(r"[0-9]")
# 0x, 0o or 0b starting a token (not the "70b" of a model name).
_RADIX_PREFIX = re.compile(r"0(?<![\w.]0)[xXoObB]")


def fast_value(text: str, max_depth: int, path: str = "") -> Any:
    """The value of the single YAML document ``text``, or :data:`MISS`.

    ``text`` is already decoded and its depth guarded (as the careful loader
    does first); values nested near ``max_depth`` are left to the careful
    loader, which refuses them with a location.  Never raises for bad input: an error is the careful
    loader's to report.  ``path`` is the file's, for the locations ``!prompt`` references carry.
    """
    return fast_load(text, max_depth, path)[0]


Candidate = tuple[tuple[str | int, ...], str]
"""A string leaf the credential scan judges: its key path and the string."""
# Strings shorter than this without an "@" can be no credential
# (cfgc.secrets.scan.MIN_ENTROPY_LENGTH; cfgc.compile.hygiene checks they agree).
CANDIDATE_LENGTH = 16


def fast_load(text: str, max_depth: int, path: str = "") -> tuple[Any, bool, list[Candidate] | None]:
    """:func:`fast_value`, whether every float in it is :func:`~cfgc.base.canonical.plain_float`,
    and the string leaves the credential scan would collect from it (None: not collected).

    Both extra answers come from the walk that checks the value anyway: canonical
    JSON can skip its search for floats the two encoders write differently, and
    the scan need not walk the value a second time.  The leaves are
    :func:`cfgc.compile.hygiene.candidates`' in its order (each string object
    once per nearest key name; containers are never shared without aliases,
    which this path refuses); a moved tag's value is left out (the scan does
    not enter the tag object it becomes).
    """
    if yaml_rs is None:
        return MISS, False, None
    tags: list[Tag] = []
    if "!" in text:
        rewritten = rewrite_tags(text)
        if rewritten is None:
            return MISS, False, None
        text, tags = rewritten
    if not _eligible(text):
        return MISS, False, None
    try:
        value = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # any refusal (YAMLDecodeError, a Rust panic surfaces differently)
        return MISS, False, None
    except BaseException as e:  # pyo3's PanicException derives from BaseException
        # Only the panic is a refusal: anything else (Ctrl-C, exit, a signal a
        # handler raised as it returned, cfgc.bundle.outdir.Terminated) goes on.
        if type(e).__name__ != "PanicException":
            raise
        return MISS, False, None
    odd: list[float] = []
    # A tagged value is an object the scan does not enter, so a marked key's
    # subtree is left out; every other key keeps its name and value object
    # through untag, so the rest are the scan's candidates as they stand.
    found: list[Candidate] = []
    # The mappings that hold a moved tag, found by the same walk (untag rebuilds only those).
    marked: list[Marked] | None = [] if tags else None
    if value is None:
        return MISS, False, None
    if type(value) is dict or type(value) is list:
        if not _plain(value, max_depth - 1, odd, (), None, found, set(), marked):
            return MISS, False, None
    elif not _plain([value], 1, odd, (), None, None, set(), None):  # a scalar document: the scan finds nothing
        return MISS, False, None
    if marked is not None:
        value = untag(value, tags, path, marked)
        if value is None:
            return MISS, False, None
        # Candidates found under a moved tag name its key as the file spells it.
        found = [(tuple([_unmarked(p) for p in at]), v) if any(MARK in p for p in at if type(p) is str) else (at, v)
                 for at, v in found]
        return value, not odd, found
    return value, not odd, found


def _unmarked(key: str | int) -> str | int:
    return key[: key.index(MARK)] if type(key) is str and MARK in key else key


def _eligible(text: str) -> bool:
    if _may_start_a_node_oddly(text) and _NODE_START.search(_unquoted(text)):
        return False
    # Escapes in double-quoted scalars differ (libyaml refuses the surrogate
    # pairs JSON writes for emoji, yaml-rs joins them), so a backslash anywhere
    # sends the file to libyaml.
    if "\\" in text:
        return False
    # A flow collection over several lines: yaml-rs folds a plain scalar broken
    # across its lines ("{x\n  b: 1}" gives the key "x b") where libyaml refuses it.
    if ("{" in text or "[" in text) and _flow_spans_lines(text):
        return False
    # LF and printable characters only: Python's printable set lies within
    # YAML's and leaves out NEL, LS/PS, the BOM, tabs and CR, which YAML 1.1
    # (libyaml) and 1.2 (yaml-rs) read differently or which libyaml refuses.
    if not text.replace("\n", " ").isprintable():
        return False
    # Directives and document markers ("---" at the very start is the usual header).
    if "\n---" in text or "\n..." in text or "\n%" in text:
        return False
    if text.startswith(("---", "...", "%")) and not text.startswith("---\n"):
        return False
    if _UNDERSCORE_BY_DIGIT.search(text) or _RADIX_PREFIX.search(text):
        return not any(_DIGIT.search(m.group()) for m in _NUMBER_LIKE.finditer(text))
    return True


def _flow_spans_lines(text: str) -> bool:
    """Whether a line opens more flow brackets than it closes, or the reverse
    (brackets inside quotes count too: a false alarm only costs the careful path)."""
    # Only the lines holding a bracket are counted (usually one or two of a
    # file): splitting every file into lines cost more than parsing it.
    # tests/unit/base/test_yaml_fast_flow.py holds this to the line-by-line count.
    end = len(text)
    at = 0
    while True:
        m = _BRACKET.search(text, at)
        if m is None:
            return False
        start = text.rfind("\n", 0, m.start()) + 1
        at = text.find("\n", m.start())
        if at < 0:
            at = end
        line = text[start:at]
        if line.count("{") + line.count("[") != line.count("}") + line.count("]"):
            return True


_BRACKET = re.compile(r"[\[\]{}]")


def _may_start_a_node_oddly(text: str) -> bool:
    # A prefilter for _NODE_START: whether an indicator sits at the start or
    # right after space, newline, "[", "{", "," or ":".  Of the whitespace
    # that _NODE_START also allows, only space and newline are printable, and
    # _eligible refuses a text with any other (tests/unit/base/test_yaml_fast_scan.py
    # holds this to the search).  ":" is in every file: one search that starts
    # at the literal and looks back one character.  The others are rare ("@",
    # ">" and "*" of prompt references): each one present is found by
    # str.find, then its one preceding character tested (linear: each find
    # starts past the last).  The 54 substring tests this replaced scanned the
    # whole text six times for each indicator present: a full-corpus service
    # file 3.5 µs against 0.7 (26k instructions against 14k), a plain one 1.8
    # against 0.6 (15k against 10k).
    if text.startswith(_INDICATORS) or _COLON_START.search(text) is not None:
        return True
    for c in _RARE:
        if c in text:  # a membership test costs less than a call of find
            at = text.find(c)
            tries = 0
            while at != -1:  # never 0: the start was tested above
                if text[at - 1] in _BEFORE_NODE:
                    return True
                tries += 1
                if tries > _FIND_TRIES:
                    # Many of them (a hostile file of "a@a@..."): one search at C
                    # speed answers for every rare indicator, not a loop per occurrence.
                    return _RARE_START.search(text) is not None
                at = text.find(c, at + 1)
    return False


_INDICATORS = ("&", "*", "!", "|", ">", "?", "@", "`", ":")
_RARE = "&*!|>?@`"
_BEFORE_NODE = " \n[{,:"
_COLON_START = re.compile(r":(?<=[ \n\[{,:]:)")
_RARE_START = re.compile(r"[&*!|>?@`](?<=[ \n\[{,:].)")
_FIND_TRIES = 16  # occurrences of one rare indicator tried one by one before _RARE_START


def _plain(
    value: Any,
    room: int,
    odd: list[float],
    path: tuple[str | int, ...],
    near: str | None,
    found: list[Candidate] | None,
    seen: set[tuple[int, str | int | None]],
    marked: list[Marked] | None,
) -> bool:
    """Whether every node of the container ``value`` is one the careful loader
    builds the same way (``room``: levels of nesting still allowed below it);
    finite floats outside :func:`~cfgc.base.canonical.plain_float`'s range are
    added to ``odd``, the credential scan's candidates (at ``path``, ``near``
    the nearest key name) to ``found`` unless it is None, and each mapping
    with a key that holds :data:`~cfgc.base.yaml_fast_tags.MARK`, with its
    path, to ``marked`` (parents before children) unless it is None.

    This walk runs over every value of every file, so it avoids a call per
    scalar and checks a mapping's keys at C speed.
    """
    if type(value) is dict:
        if room <= 0 or "" in value or "<<" in value:
            return False
        try:
            keys = "\n".join(value)  # every key a str: join refuses anything else
        except TypeError:
            return False
        # MARK has no newline, so it is found in the joined keys only inside one of them.
        tagged = False
        if marked is not None and MARK in keys:
            marked.append((value, path))
            tagged = True
        is_dict = True
        items: Any = value.items()
    else:
        if room <= 0:
            return False
        is_dict = tagged = False
        items = enumerate(value)
    for k, v in items:
        vt = type(v)
        if vt is str:
            # A moved tag's value is checked like any other but is no
            # candidate: the scan skips the tag object untag makes of it.
            if found is not None and (len(v) >= CANDIDATE_LENGTH or "@" in v) and not (tagged and MARK in k):
                mark = (id(v), k if is_dict else near)
                if mark not in seen:
                    seen.add(mark)
                    found.append(((*path, k), v))
            continue
        if vt is bool or v is None:
            continue
        if vt is int:
            if not INT_MIN <= v <= INT_MAX:
                return False
        elif vt is float:
            # The range test is cfgc.base.canonical.plain_float, inlined: NaN fails every comparison.
            if not (1e-4 <= v < 1e16 or -1e16 < v <= -1e-4 or v == 0.0):
                if v - v != 0.0:  # inf - inf and nan - nan are nan
                    return False
                odd.append(v)
        elif vt is not dict and vt is not list:
            return False  # a date, a tuple key's mapping, anything else: not ours
        else:
            # A moved tag's mapping or list (!append, !prepend, !replace) reaches the
            # target as any other: its candidates are at the tag's own key.
            # (The path keeps the moved key, which marked needs; fast_load restores its name.)
            near_k = (k[: k.index(MARK)] if tagged and MARK in k else k) if is_dict else near
            if not _plain(v, room - 1, odd, (*path, k), near_k, found, seen, marked):
                return False
    return True
