"""The Jinja2 environment templates run in: sandboxed, immutable and bounded.

Jinja2 is imported only when a template is rendered.  The bounds themselves
live in :mod:`cfgc.compile.template_bounds`; this module wires them into Jinja2:

* the sandbox hooks ``call``, ``getattr``, ``getitem`` and ``call_binop``;
* a compile-time rewrite of the template tree: each ``{% for %}`` iterable,
  each output expression and each ``~`` becomes a call of a hook, reached
  through an extension attribute that templates cannot shadow.

The sandbox is the immutable one: ``list.append`` and friends could grow a
value without passing through any hook.
"""

from __future__ import annotations

from typing import Any

from cfgc.compile import template_bounds as tb
from cfgc.compile import template_filters


def bounded_sandbox(undefined: Any) -> Any:
    """A new bounded sandboxed environment whose undefined values are ``undefined``."""
    from jinja2 import nodes
    from jinja2.ext import Extension
    from jinja2.runtime import LoopContext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import generate_lorem_ipsum
    from jinja2.visitor import NodeTransformer

    class _Hooks(Extension):
        """Exposes the budget hooks to compiled templates (``environment.extensions[...]``)."""

        counted = staticmethod(tb.counted)
        emit = staticmethod(tb.emit)
        concat = staticmethod(tb.concat)

    def hook(name: str, args: list[Any], lineno: int) -> Any:
        return nodes.Call(nodes.ExtensionAttribute(_Hooks.identifier, name, lineno=lineno), args, [], None, None, lineno=lineno)

    class _Rewrite(NodeTransformer):
        def visit_For(self, node: Any) -> Any:
            self.generic_visit(node)
            node.iter = hook("counted", [node.iter], node.lineno)
            return node

        def visit_Output(self, node: Any) -> Any:
            self.generic_visit(node)
            node.nodes = [hook("emit", [n], n.lineno) for n in node.nodes]
            return node

        def visit_Concat(self, node: Any) -> Any:
            self.generic_visit(node)
            return hook("concat", [nodes.List(node.nodes, lineno=node.lineno)], node.lineno)

    class _Bounded(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset(("*", "+", "%", "**"))

        def _generate(self, source: Any, name: Any, filename: Any, defer_init: bool = False) -> Any:
            # Every compiled template passes here, from_string and
            # compile_expression alike, after parsing and before code generation.
            tree = _Rewrite().visit(source)
            tree.set_environment(self)
            return super()._generate(tree, name, filename, defer_init)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            tb.binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def getattr(self, obj: Any, attribute: str) -> Any:
            tb.current().tick()
            return super().getattr(obj, attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            tb.current().tick()
            return super().getitem(obj, argument)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
                args = (tb.counted(args[0]), *args[1:])
            tb.precheck_call(__obj, args, kwargs)
            out = super().call(__context, __obj, *args, **kwargs)
            if isinstance(out, (str, list)):
                tb.current().measure(out, "a call's result")
            return out

    env = _Bounded(undefined=undefined, autoescape=False, keep_trailing_newline=True, extensions=[_Hooks])
    env.globals["range"] = tb.bounded_range
    env.globals["lipsum"] = template_filters.bounded_lipsum(generate_lorem_ipsum)  # the default lipsum
    template_filters.wrap_filters(env.filters)
    return env
