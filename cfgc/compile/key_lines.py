"""Where a block-style YAML file sets a key path, read from its lines.

A check locates policy findings in thousands of targets' own service files,
each loaded by the fast path without source marks; asking for one location
used to parse the whole file again with libyaml and build every value and
mark (about 0.3 ms a file inside a check of the 10,000-target corpus) for a
single line.  :func:`key_line` answers the common case from the text alone
and declines (None) whenever the text holds anything whose lines might not be
what they look like, so the careful parse decides:

* anything that could move lines or columns: CR, tabs, the other Unicode
  line breaks and non-printable characters (the BOM);
* a line with an odd number of quotes or unbalanced brackets (a quoted
  scalar or a flow collection over several lines: its continuation could
  look like a key where there is none);
* along the path: a sibling that is not a plain key followed by ``:`` and a
  blank or the end of the line (a list item, a quoted, complex or anchored
  key, a directive or document marker...), an indentation that is not the
  block's, the key found twice (the careful loader's error), a key the core
  schema would not read as that string, or a path that goes through a list
  or an inline value.

Block scalars, anchors and aliases need no refusal: their content lines are
indented deeper than the key that holds them (skipped), and a path through an
alias has no lines under its key (declined).  Only paths a compiled value has
are asked for, so a key that appears only inside a scalar is never looked up.

When it answers, it answers what :attr:`cfgc.base.loading.Document.marks`
holds for the path (the key's first character): tests/unit/compile/
test_key_lines.py holds the two to each other over the repo's YAML files,
generated corpora and generated documents.
"""

from __future__ import annotations

import re

from cfgc.base.loading import NumberError, Path, resolve_plain

_KEY = re.compile(r"([A-Za-z0-9_$][A-Za-z0-9_$.\-]*):(?: |$)")
# Characters whose presence anywhere sends the file to the careful parse.
_ODD = ("\t", "\r")


def key_line(text: str, path: Path) -> tuple[int, int] | None:
    """The (line, column), both 1-based, of the key that sets ``path``, or None."""
    if not path or not _plain_lines(text):
        return None
    lines = text.split("\n")
    i, parent = 0, -1
    at: tuple[int, int] | None = None
    for key in path:
        if type(key) is not str:
            return None  # a list item: its line and column are the parser's
        found = _find(lines, i, parent, key)
        if found is None:
            return None
        i, parent = found[0] + 1, found[1]
        at = (found[0] + 1, found[1] + 1)
    return at


def _plain_lines(text: str) -> bool:
    if any(c in text for c in _ODD) or not text.replace("\n", " ").isprintable():
        return False
    for line in text.split("\n"):
        if line.startswith(("---", "...")):
            return False
        if line.count('"') % 2 or line.count("'") % 2:
            return False
        quoted = '"' in line or "'" in line
        if quoted and "\\" in line:
            return False  # an escaped quote ("a \\" b) keeps the count even with the string still open
        if "[" in line or "{" in line or "]" in line or "}" in line:
            if quoted:
                return False  # a quoted bracket ([a, "]") balances a flow collection that is still open
            if line.count("[") + line.count("{") != line.count("]") + line.count("}"):
                return False
    return True


def _find(lines: list[str], start: int, parent: int, key: str) -> tuple[int, int] | None:
    """(line index, indentation) of ``key`` in the block after ``start`` that is
    indented deeper than ``parent``; None unless found exactly once among plain keys."""
    child = -1
    found: tuple[int, int] | None = None
    for i in range(start, len(lines)):
        raw = lines[i]
        s = raw.lstrip(" ")
        if not s or s[0] == "#":
            continue
        indent = len(raw) - len(s)
        if indent <= parent:
            break
        if child < 0:
            child = indent
        if indent < child:
            return None
        if indent > child:
            continue
        m = _KEY.match(s)
        if m is None:
            return None
        if m.group(1) == key:
            try:
                value = resolve_plain(key)
            except NumberError:
                return None
            if found is not None or type(value) is not str or value != key:
                return None  # a duplicate (an error), or a key that reads as a number, bool or null
            found = (i, indent)
    return found
