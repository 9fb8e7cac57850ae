"""What ``cfgc diff`` reports beside the changes: what ``cfgc validate`` finds on each side.

A diff that lists ``temperature: 0.3 → 3`` must also say that 3 breaks the
schema: a reviewer reads the diff, not the CI log of ``validate``.  The head's
findings keep their severity (an error makes ``cfgc diff`` exit 1, as
``validate`` would); the base's are warnings marked ``at the base:`` (they are
not the change's fault, but a reviewer should know the base was already broken).
"""

from __future__ import annotations

from dataclasses import replace

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import CfgcError
from cfgc.compile.compiler import CompiledTarget, Compiler

BASE_PREFIX = "at the base: "


def schema_inputs(compiler: Compiler) -> set[str]:
    """Every file the schemas of one side read (declared, beside them, reached by ``$ref``)."""
    from cfgc.compile.schema import schema_files

    try:
        return set(schema_files(compiler.source, compiler.config))
    except CfgcError:  # reported when a target is validated; the declared files still count
        return {rule.schema for rule in compiler.config.schemas}


def as_base(d: Diagnostic) -> Diagnostic:
    """A finding of the base side: a warning, marked as the base's."""
    return replace(d, severity="warning", message=BASE_PREFIX + d.message)


class SideValidator:
    """Validates the compiled targets of one side; a schema that does not load
    is one finding per target, read and reported once, not once per target."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self._broken: CfgcError | None = None

    def findings(self, target: CompiledTarget) -> list[Diagnostic]:
        """The findings of ``cfgc validate`` for ``target`` (schemas, credentials left in clear)."""
        if self._broken is None:
            try:
                return self.compiler.validate(target)
            except CfgcError as e:
                self._broken = e
        return [Diagnostic.from_error(self._broken, "schema", target.name)]
