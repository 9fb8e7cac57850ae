"""Which parts of ``input`` a set of Rego modules can read, found statically.

regopy parses an input at about 1 µs a byte, and policies usually read a few
small subtrees of a target's input.  When every use of ``input`` is a static
reference, each target is given only those subtrees
(:mod:`cfgc.review.rego_projection`) and equal cut inputs are evaluated once.

regopy exposes no parse tree: the modules are read with a tokenizer of the
Rego lexical grammar (comments, ``"..."`` strings with escapes, `` `raw` ``
strings, names, numbers, operators); a character it does not know, or a
module over :data:`_MAX_TEXT`, gives up.  What is understood:

* ``input.a.b``, ``input["a"]``, ``input[`a`]`` (spaces between the parts,
  no line break): the subtree at ``a.b``, whole.  A reference stops, keeping
  the subtree it reached, at anything else (``[x]``, ``[0]``, an operator);
* ``object.get(<reference>, "k" or ["k", ...], default)``, literal keys: the
  reference plus the keys; only when no module can define a rule named
  ``object...`` (it shadows the built-in in regopy): every ``object`` inside
  brackets and followed by ``.name(``;
* ``some [K,] V in <reference>`` (or ``every``) ending the expression, when
  every other use of the name V in the module is ``V.x...`` (static): the
  reference's every item cut down to those paths.

Anything else gives up (the whole input, :data:`WHOLE`): bare ``input``
(``x := input``, ``walk(input, ...)``, ``some x in input``), ``import
input``, any ``data`` reference, ``with``, ``.input`` after a line break,
more than :data:`MAX_PATHS` references in a module.  A value that is not an
object where a path goes on is kept whole.  Policies that print, trace or
call a non-deterministic built-in (:data:`NONDETERMINISTIC`) are not cut at
all (``pure`` False): they get the whole input once per target, as before.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cfgc.review.rego_projection import EVERY, WHOLE, Trie, trie

# Built-ins whose answer is not a function of the input (or that write output
# a user could compare between runs): the policy is evaluated per target.
# A name matches an entry equal to it, or one ending in "." or "*" that it extends.
NONDETERMINISTIC = ("print", "trace", "time.now_ns", "rand.", "http.send", "opa.runtime", "uuid.",
                    "net.lookup_ip_addr", "io.jwt.encode_sign*", "io.jwt.decode_verify",
                    "crypto.x509.parse_and_verify_certificates*")

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f]+) | (?P<nl>\n) | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*") | (?P<raw>`[^`]*`)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[0-9][0-9.eE+\-]*)
  | (?P<op>:=|==|!=|<=|>=|[.\[\](){},;:=<>+\-*/%|&!])
""", re.X)
_MAX_TEXT = 4 * 1024 * 1024  # a bigger module is not analysed (the whole input is used)
MAX_PATHS = 1000  # input paths of one module; with more the whole input is used


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind (a :data:`_TOKEN` group), text and whether
    a line break comes between it and the token before it."""

    kind: str
    text: str
    newline_before: bool


@dataclass(frozen=True)
class InputUse:
    """What the modules read of ``input``: ``paths`` (WHOLE, or a trie) and
    whether their answer depends on the input alone (``pure``)."""

    paths: Trie
    pure: bool

    @property
    def projects(self) -> bool:
        """Whether a projection is smaller than the input."""
        return self.pure and self.paths is not WHOLE


def tokens(text: str) -> list[Token] | None:
    """The tokens of a Rego module without whitespace and comments; None
    when a character is not part of the lexical grammar handled here."""
    if len(text) > _MAX_TEXT:
        return None
    out: list[Token] = []
    pos, nl = 0, False
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            return None
        kind = m.lastgroup or ""
        if kind == "nl":
            nl = True
        elif kind == "comment" or kind == "ws":
            pass
        else:
            out.append(Token(kind, m.group(), nl))
            nl = False
        pos = m.end()
    return out


class _GiveUp(Exception):
    """The analysis cannot bound what the modules read."""


def analyse(texts: list[str]) -> InputUse:
    """The parts of ``input`` that the modules ``texts`` (one package) can read."""
    streams = [tokens(t) for t in texts]
    if any(s is None for s in streams):
        return InputUse(WHOLE, True)
    toks = [s for s in streams if s is not None]
    if any(_impure(s) for s in toks):
        return InputUse(WHOLE, False)
    builtin_get = all(_object_is_builtin(s) for s in toks)
    paths: list[tuple[Any, ...]] = []
    try:
        for s in toks:
            paths += _references(s, builtin_get)
    except _GiveUp:
        return InputUse(WHOLE, True)
    return InputUse(trie(paths), True)


def _dotted_names(toks: list[Token]) -> list[str]:
    """Each name with the ``.name`` parts that follow it (``time.now_ns``)."""
    out: list[str] = []
    for i, t in enumerate(toks):
        if t.kind != "name" or (i and toks[i - 1].text == "."):
            continue
        parts, j = [t.text], i + 1
        while j + 1 < len(toks) and toks[j].text == "." and toks[j + 1].kind == "name":
            parts.append(toks[j + 1].text)
            j += 2
        out.append(".".join(parts))
    return out


def _impure(toks: list[Token]) -> bool:
    for name in _dotted_names(toks):
        for bad in NONDETERMINISTIC:
            if name == bad.rstrip("*") or (bad[-1] in ".*" and name.startswith(bad.rstrip("*"))):
                return True
    return False


def _object_is_builtin(toks: list[Token]) -> bool:
    """No rule of this module can be named ``object...`` (see the module docstring)."""
    depth = 0
    for i, t in enumerate(toks):
        if t.text in "([{" and t.kind == "op":
            depth += 1
        elif t.text in ")]}" and t.kind == "op":
            depth -= 1
        elif t.kind == "name" and t.text == "object" and not (i and toks[i - 1].text == "."):
            nxt = [x.text for x in toks[i + 1 : i + 4]]
            if depth <= 0 or len(nxt) < 3 or nxt[0] != "." or not re.fullmatch(r"[A-Za-z_]\w*", nxt[1]) \
                    or nxt[2] != "(":
                return False
    return True


def _literal(t: Token) -> str | None:
    """The value of a string token, or None when it is not a string."""
    if t.kind == "raw":
        return t.text[1:-1]
    if t.kind == "string":
        try:
            value = json.loads(t.text)
        except ValueError:  # an escape JSON does not have: not a key this analysis knows
            return None
        return value if isinstance(value, str) else None
    return None


def _references(toks: list[Token], builtin_get: bool) -> list[tuple[Any, ...]]:
    """Every static path into ``input`` of one module; raises :class:`_GiveUp`."""
    out: list[tuple[Any, ...]] = []
    uses: dict[str, tuple[int, list[tuple[str, ...]]] | None] = {}  # per name: see _var_paths
    where: dict[str, list[int]] = {}  # each name's tokens: every token is looked at once
    for i, t in enumerate(toks):
        if t.kind == "name":
            where.setdefault(t.text, []).append(i)
    for i, t in enumerate(toks):
        if t.kind != "name":
            continue
        after_dot = i > 0 and toks[i - 1].text == "."
        if t.text in ("data", "with") and not after_dot:
            raise _GiveUp
        if t.text != "input":
            continue
        if after_dot:
            if t.newline_before or toks[i - 1].newline_before:  # x NEWLINE .input: not sure how regopy reads it
                raise _GiveUp
            continue  # a field named input: x.input
        if i > 0 and toks[i - 1].text == "import":
            raise _GiveUp
        path, end = _static_path(toks, i + 1)
        if not path:
            raise _GiveUp
        if builtin_get and _is_get_argument(toks, i) and end < len(toks) and toks[end].text == ",":
            path += _get_keys(toks, end + 1)
        var = _bound_var(toks, i, end)
        if var is not None and var not in uses:
            uses[var] = _var_paths(toks, where[var])
        found = uses.get(var) if var is not None else None
        # The binding itself is the one use of the name without a path.
        out += [(*path, EVERY, *use) for use in found[1]] if found is not None and found[0] == 1 else [path]
        if len(out) > MAX_PATHS:
            raise _GiveUp
    return out


def _bound_var(toks: list[Token], i: int, end: int) -> str | None:
    """V when ``toks[i]`` starts the whole collection of ``some [K,] V in
    <reference>`` (or ``every``), ending at ``toks[end]``."""
    if end < len(toks) and toks[end].text not in (";", "{", "}", "]") \
            and (not toks[end].newline_before or toks[end].text in (".", "[")):
        return None  # the collection is more than the reference (input.a[x], input.a NEWLINE .b...)
    if i < 3 or toks[i - 1].text != "in" or toks[i - 2].kind != "name":
        return None
    j = i - 3
    if toks[j].text == "," and j >= 2 and toks[j - 1].kind == "name":
        j -= 2
    var = toks[i - 2].text
    return var if toks[j].text in ("some", "every") and var not in ("_", "input") else None


def _var_paths(toks: list[Token], places: list[int]) -> tuple[int, list[tuple[str, ...]]] | None:
    """How many uses of a name (at ``places``) in the module have no static path
    after them, and the static paths of the others; None when a use is
    unclear.  All the module's uses of the name are taken: a superset of the
    uses in one binding's scope."""
    bare, out = 0, []
    for n in places:
        t = toks[n]
        if n and toks[n - 1].text == ".":
            if t.newline_before or toks[n - 1].newline_before:
                return None
            continue  # a field with the same name: x.var
        path, _ = _static_path(toks, n + 1)
        if path:
            out.append(path)
        else:
            bare += 1
    return bare, out


def _static_path(toks: list[Token], j: int) -> tuple[tuple[str, ...], int]:
    """The static keys of the reference whose parts start at ``toks[j]``
    and the index of the first token after them."""
    path: list[str] = []
    while j < len(toks) and not toks[j].newline_before:
        if toks[j].text == "." and j + 1 < len(toks) and toks[j + 1].kind == "name" \
                and not toks[j + 1].newline_before:
            path.append(toks[j + 1].text)
            j += 2
        elif toks[j].text == "[" and j + 2 < len(toks) and toks[j + 2].text == "]" \
                and (key := _literal(toks[j + 1])) is not None:
            path.append(key)
            j += 3
        else:
            break
    return tuple(path), j


def _is_get_argument(toks: list[Token], i: int) -> bool:
    """``toks[i]`` is the first token of object.get's first argument."""
    return i >= 4 and [t.text for t in toks[i - 4 : i]] == ["object", ".", "get", "("] \
        and (i == 4 or toks[i - 5].text != ".")


def _get_keys(toks: list[Token], j: int) -> tuple[str, ...]:
    """The literal key (or key path) of object.get at ``toks[j]``, if it is
    one and is followed by the default's comma; else no keys."""
    one = _literal(toks[j]) if j < len(toks) else None
    if one is not None:
        return (one,) if j + 1 < len(toks) and toks[j + 1].text == "," else ()
    if j >= len(toks) or toks[j].text != "[":
        return ()
    keys: list[str] = []
    j += 1
    while j < len(toks) and toks[j].text != "]":
        key = _literal(toks[j])
        if key is None:
            return ()
        keys.append(key)
        j += 1
        if j < len(toks) and toks[j].text == ",":
            j += 1
        elif j >= len(toks) or toks[j].text != "]":
            return ()
    return tuple(keys) if j + 1 < len(toks) and toks[j + 1].text == "," else ()
