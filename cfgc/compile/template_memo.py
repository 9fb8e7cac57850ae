"""Rendering a Jinja2 template once per distinct tuple of the values it reads.

A repo's templates are mostly the same few strings in every target
(``daily_usd: "{{ (config.budget.monthly_usd / 30) | round(2) }}"`` in a base
file reaches all 10,000 targets), and most targets give them the same
inputs.  A template's result is a pure function of its text, the limits it
runs under and the values it reads, provided it reads nothing else and does
nothing random; :func:`reads` finds those values from the parsed template
and :class:`RenderMemo` keeps the results.

What a template may read, found soundly from Jinja2's own parse (anything
not understood makes :func:`reads` return None, and the template is rendered
by Jinja2 every time, exactly as without the memo):

* ``config`` only as the head of a chain of constant keys
  (``config.budget.monthly_usd``, ``config['org'].region``); a bare
  ``config``, a computed key or a chain under a call is refused;
* other names by their value in the context (hierarchy variables,
  ``target``), the names the template binds itself (``set``, ``for``), and the
  pure globals ``range``, ``dict`` and ``namespace``;
* no ``random`` filter, no ``lipsum``, no macros, blocks, imports or includes.

At render time every chain is looked up in the target's raw mappings with
the rules of the lookup fast path (``_Renderer._lookup``: a key that is also
an attribute of the view, a key starting with ``_``, a missing key or a
non-mapping on the way gives up); the lookup renders nothing, so a value
that is itself a template is keyed only once it has been rendered (else the
template is rendered without the memo), and computing a key can neither fail
nor recurse.  Only a plain scalar
(str, int, float, bool, None, by exact type) may be keyed on; a float is
keyed by its ``repr`` so ``-0.0`` and ``0.0`` stay apart, and every value
by its type so ``1``, ``1.0`` and ``True`` do too.  Only a successful
render with a scalar result is stored; an error is never memoised, so every
failure is raised by Jinja2 with its own message and location.  The limits
are part of the key: a render that stayed within them stays within them for
the same inputs (the time limit excepted, which is wall-clock and only ever
makes a slower render fail).

Bounded: at most ``entries`` entries and ``max_bytes`` characters of keys
and results (least recently used first out); an entry larger than
``max_entry`` characters is not stored.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cfgc.base.limits import Limits

Chain = tuple[str, ...]
# Names a template may read that are neither context values nor its own
# bindings: globals whose result depends only on their arguments.
PURE_GLOBALS = frozenset(("range", "dict", "namespace"))
_IMPURE_FILTERS = frozenset(("random",))
_SCALARS = (str, int, bool, type(None))
MISS: Any = object()  # what :func:`scalar_key` gives for a non-scalar and :meth:`RenderMemo.get` for a miss


@lru_cache(maxsize=4096)
def reads(text: str, whole: bool) -> tuple[tuple[Chain, ...], tuple[str, ...], frozenset[str]] | None:
    """``(chains, names, bound)`` a template reads, or None if it may read anything else.

    ``chains`` are the ``config`` lookups (without the ``config`` head),
    ``names`` every other name it loads and ``bound`` the names it binds
    itself.  ``whole`` parses ``text`` as the one expression that templating
    evaluates for a whole-expression string.
    """
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError

    from cfgc.compile.templating import WHOLE, sandbox

    env = sandbox()
    try:
        if whole:
            from jinja2.parser import Parser

            m = WHOLE.match(text)
            if m is None:
                return None
            parser = Parser(env, m.group("expr"), state="variable")
            tree: Any = parser.parse_expression()
            if not parser.stream.eos:
                return None
        else:
            tree = env.parse(text)
    except (TemplateSyntaxError, RecursionError):  # the render reports it (it parses first)
        return None
    refused = (
        nodes.Macro, nodes.CallBlock, nodes.Block, nodes.Extends, nodes.Include, nodes.Import,
        nodes.FromImport, nodes.EvalContextModifier, nodes.ContextReference, nodes.DerivedContextReference,
    )  # fmt: skip
    chains: list[Chain] = []
    names: set[str] = set()
    bound: set[str] = set()

    def visit(node: Any) -> bool:
        chain = _chain(node, nodes)
        if chain is not None:
            chains.append(chain)
            return True
        if isinstance(node, refused):
            return False
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                if node.name == "config":
                    return False  # all of config: no finite key
                names.add(node.name)
            elif node.name in env.globals:
                # A loop variable named like a global (lipsum) is the global again after its loop:
                # keyed as "bound", the global's random text would be memoised.
                return False
            else:
                bound.add(node.name)
        if isinstance(node, nodes.Const) and isinstance(node.value, str) and node.value in _IMPURE_FILTERS:
            return False  # map('random'): a filter named by a string argument
        if isinstance(node, nodes.Filter) and (node.name in _IMPURE_FILTERS or node.name not in env.filters):
            return False
        if isinstance(node, nodes.Test) and node.name not in env.tests:
            return False
        return all(visit(child) for child in node.iter_child_nodes())

    try:
        if not visit(tree):
            return None
    except RecursionError:  # deeper than Jinja2's parser goes; refused rather than trusted
        return None
    return tuple(dict.fromkeys(chains)), tuple(sorted(names)), frozenset(bound)


def _chain(node: Any, nodes: Any) -> Chain | None:
    keys: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            keys.append(node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and type(node.arg.value) is str:
            keys.append(node.arg.value)
        else:
            break
        node = node.node
    if keys and isinstance(node, nodes.Name) and node.name == "config" and node.ctx == "load":
        return tuple(reversed(keys))
    return None


def scalar_key(value: Any) -> Any:
    """``value`` as a key part, or :data:`MISS` if it is not a plain scalar."""
    t = type(value)
    if t is float:
        return (float, repr(value))
    if t in _SCALARS:
        return (t, value)
    return MISS


def _size(key: tuple[Any, ...], result: Any) -> int:
    n = len(key[0]) + (len(result) if type(result) is str else 8)
    for part in key[2:]:
        n += sum(len(v) if type(v) is str else 8 for v in part)
    return n


class RenderMemo:
    """Results of Jinja2 renders by (text, limits, the values read): see the module docstring.

    One per compiler, kept across its targets.
    """

    def __init__(self, entries: int = 4096, max_bytes: int = 16 << 20, max_entry: int = 64 << 10) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self.max_entry = max_entry
        self.bytes = 0
        self._items: dict[tuple[Any, ...], tuple[Any, int]] = {}

    def get(self, key: tuple[Any, ...]) -> Any:
        """The stored result for ``key``, or :data:`MISS`."""
        hit = self._items.pop(key, None)
        if hit is None:
            return MISS
        self._items[key] = hit  # the most recently used goes last
        return hit[0]

    def put(self, key: tuple[Any, ...], result: Any) -> None:
        """Store a scalar ``result``; anything else, or an entry too large, is not stored."""
        if scalar_key(result) is MISS:
            return
        size = _size(key, result)
        if size > self.max_entry or key in self._items:
            return
        self._items[key] = (result, size)
        self.bytes += size
        while len(self._items) > self.entries or self.bytes > self.max_bytes:
            oldest = next(iter(self._items))
            self.bytes -= self._items.pop(oldest)[1]


def make_key(text: str, limits: Limits, parts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The memo key of one render."""
    return (text, limits, *parts)
