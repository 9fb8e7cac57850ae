"""cfgc's own wording for YAML syntax errors.

PyYAML's C binding passes libyaml's messages through, and those differ from
PyYAML's pure-Python parser and between libyaml releases ("mapping values are
not allowed in this context" vs "... here"; 0.2.5 adds its own nesting limit).
A refused file is therefore always re-read with the pure-Python parser
(:func:`cfgc.base.loading.load_yaml`), and its problem is mapped here to a message
cfgc owns.  A problem not in the table keeps a generic cfgc message with the
parser's words after it, marked as such, so nothing is lost and tests can rely
on the cfgc part only.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

# Patterns stay strings until an error needs them (re caches what it compiles):
# compiling all of them cost every build that loads YAML a few milliseconds.
_Rule = tuple[str, Callable[[re.Match[str]], str]]


def _r(pattern: str, render: Callable[[re.Match[str]], str]) -> _Rule:
    return pattern, render


# Matched against "context: problem" of PyYAML's pure-Python parser.
_RULES: list[_Rule] = [
    _r(r"found character '\\t' that cannot start any token",
       lambda m: "a tab character here: YAML indents with spaces only"),
    _r(r"found character (.*) that cannot start any token",
       lambda m: f"character {m[1]} cannot start a plain value; quote the value"),
    _r(r"mapping values are not allowed here",
       lambda m: "unexpected ':' (quote a value that contains ': ', or check the indentation)"),
    _r(r"while scanning a simple key: could not find expected ':'",
       lambda m: "a key without ':' (or a multi-line plain value)"),
    _r(r"while scanning a (?:double-)?quoted scalar: found unexpected end of stream",
       lambda m: "a quoted string is not closed"),
    _r(r"found unknown escape character (.*)",
       lambda m: f"unknown escape sequence \\{m[1].strip(chr(39))} in a double-quoted string"),
    _r(r"found undefined alias '(.*)'", lambda m: f"undefined alias *{m[1]}"),
    _r(r"found duplicate anchor '(.*)'; first occurrence: second occurrence",
       lambda m: f"duplicate anchor &{m[1]}"),
    _r(r"expected a single document in the stream: but found another document",
       lambda m: "more than one YAML document in the file ('---' separates documents)"),
    _r(r"while parsing a flow sequence: expected ',' or '\]'",
       lambda m: "a '[' list is not closed, or an item lacks a ','"),
    _r(r"while parsing a flow mapping: expected ',' or '\}'",
       lambda m: "a '{' mapping is not closed, or an entry lacks a ','"),
    _r(r"while parsing a flow node: expected the node content",
       lambda m: "a value is missing here"),
    _r(r"while parsing a block (?:mapping|collection): expected <block end>",
       lambda m: "bad indentation: this line does not belong to the block above"),
    _r(r"expected '<document start>'",
       lambda m: "bad indentation: this line is less indented than the first one"),
    _r(r"while scanning an? (anchor|alias): expected alphabetic or numeric character",
       lambda m: f"an {m[1]} needs a name of letters, digits, '-' or '_'"),
    _r(r"while (?:parsing|scanning) a tag",
       lambda m: "malformed tag"),
    _r(r"while scanning a block scalar",
       lambda m: "malformed block scalar header ('|' or '>')"),
    _r(r"while scanning a directive",
       lambda m: "malformed directive ('%' starts a directive line)"),
]


def describe(err: yaml.MarkedYAMLError) -> str:
    """cfgc's message for a pure-Python PyYAML error (without location)."""
    text = f"{err.context}: {err.problem}" if err.context else str(err.problem or "")
    for pattern, render in _RULES:
        m = re.search(pattern, text, re.S)
        if m:
            return f"invalid YAML: {render(m)}"
    return f"invalid YAML: syntax error (parser: {text})" if text else "invalid YAML: syntax error"
