"""The compiler: layers → merged → prompts pinned → $extends → templates → validated.

A :class:`Compiler` reads one source (a working tree or a commit).  Each layer
file is parsed once, and the merge of the layers that targets share (all but
their own service file) is computed once and reused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cfgc.base.canonical import floats_plain
from cfgc.base.diagnostics import Diagnostic, rule_of
from cfgc.base.errors import CfgcError, UsageError
from cfgc.base.loading import Document, Path, load_yaml
from cfgc.base.secretrefs import (
    SecretRef,
    is_sops_document,
    secret_document,
    secret_refs,
)
from cfgc.base.shared_nodes import SharedNodes
from cfgc.compile.extends import Memo, resolve_extends
from cfgc.compile.hygiene import plaintext_findings
from cfgc.compile.late_refs import refs_after
from cfgc.compile.merging import MISSING, get_path, merge_layers, merge_value
from cfgc.compile.prompts import PromptLibrary
from cfgc.compile.provenance import Provenance
from cfgc.compile.schema_split import valid_by_parts
from cfgc.compile.template_memo import RenderMemo
from cfgc.compile.templating import render_target
from cfgc.compile.trace import Prefixes
from cfgc.compile.walk import replace_at, scan, templates_after_extends
from cfgc.repo.config import RepoConfig, SchemaRule, load_config
from cfgc.repo.hierarchy import Hierarchy, TargetSpec
from cfgc.repo.sources import Source
from cfgc.secrets.scan import Hit

if TYPE_CHECKING:
    from cfgc.compile.schema import SchemaSet

_LATE_STAGES = frozenset(("prompt", "extends", "template"))


@dataclass(frozen=True)
class CompiledTarget:
    """A compiled target and what is needed to explain it."""

    spec: TargetSpec
    value: Any
    docs: tuple[Document, ...] = field(repr=False)
    origins: dict[Path, tuple[Path, ...]] = field(repr=False, default_factory=dict)
    prompts: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()  # the SOPS documents its secret references need
    # Every secret reference in ``value`` with its path, found once for both
    # the bundle's secret list and schema validation.
    refs: tuple[tuple[Path, SecretRef], ...] = field(repr=False, default=())
    # The compiler's traced layer prefixes, shared by its targets' provenance.
    prefixes: Prefixes | None = field(repr=False, compare=False, default=None)
    # The value known to be a merge of files whose floats all are plain
    # (Document.plain_floats) with no late stage making new values: the very
    # object, so a target rebuilt with another value (dataclasses.replace) is
    # not vouched for.
    plain_value: Any = field(repr=False, compare=False, default=None)
    # The value known to hold only plain floats (canonical.floats_plain), a
    # wider word than ``plain_value``'s: a merge of files whose floats all are
    # (Document.floats_plain, either loader), with prompt pins (strings),
    # $extends (the files' own leaves), secret references and rendered values
    # that are too.  The very object, as ``plain_value``.
    encode_plain: Any = field(repr=False, compare=False, default=None)

    @property
    def name(self) -> str:
        """The target name."""
        return self.spec.name

    @property
    def plain_floats(self) -> bool:
        """Every float in ``value`` is one orjson and json write alike
        (:func:`cfgc.base.canonical.plain_float`): canonical JSON may skip its search."""
        return self.plain_value is self.value and self.value is not None

    @property
    def encodes_plain(self) -> bool:
        """``value`` may go to canonical JSON with ``plain_floats`` (see ``encode_plain``)."""
        return self.encode_plain is self.value and self.value is not None

    @cached_property
    def provenance(self) -> Provenance:
        """Source locations of this target's values."""
        return Provenance(self.docs, self.origins, self.prefixes)



class Compiler:
    """Compiles the targets of one source."""

    def __init__(self, source: Source, config: RepoConfig | None = None) -> None:
        self.source = source
        self.config = config or load_config(source)
        self.hierarchy = Hierarchy(self.config, source.files())
        self.prompts = PromptLibrary(source, self.config.prompts)
        self._docs: dict[str, Document] = {}
        self._failed: dict[str, CfgcError] = {}  # files whose read or parse failed, with the error
        self.secret_files: dict[str, bytes] = {}
        self._findings: dict[str, list[Diagnostic]] = {}
        self._specs: dict[str | None, list[TargetSpec]] = {}
        self._prefix: dict[tuple[str, ...], tuple[Any, tuple[Document, ...]]] = {}
        self._schemas: SchemaSet | None = None
        self._twin: tuple[Compiler, frozenset[str]] | None = None
        self._classified: dict[tuple[str | None, str], Hit | None] = {}  # plaintext_findings' memo
        self._shared = SharedNodes()  # the merged shared layers: walked once, not once per target
        self._extends = Memo(shared=self._shared, by_content=True)  # $extends resolutions the targets of shared layers share
        self._renders = RenderMemo()  # Jinja2 results by template, limits and the values read
        self._placed: dict[int, tuple[Any, Any]] = {}  # shared subtrees with placeholders for secrets (schema_split)
        self._traced: Prefixes = {}  # traced layer prefixes for provenance: this compiler's, not the process's

    @property
    def schemas(self) -> SchemaSet:
        """The schemas of cfgc.yaml, compiled on first use (a fully cached build never needs them)."""
        if self._schemas is None:
            from cfgc.compile.schema import SchemaSet

            self._schemas = SchemaSet(self.source, self.config)
        return self._schemas

    def schema_entries(self) -> list[tuple[SchemaRule, bytes]]:
        """Each declared schema with its file bytes (for digests), without compiling any."""
        from cfgc.compile.schema import schema_files

        raw = schema_files(self.source, self.config)
        return [(rule, raw[rule.schema]) for rule in self.config.schemas]

    def specs(self, select: str | None = None) -> list[TargetSpec]:
        """The targets to compile, sorted by name (found once per selection)."""
        found = self._specs.get(select)
        if found is None:
            found = self._specs[select] = self.hierarchy.targets(select)
        return list(found)

    def assume_specs(self, select: str | None, specs: list[TargetSpec]) -> None:
        """Take ``specs`` as :meth:`specs` of ``select`` without listing: for a
        diff side kept by the digest of its tree (:mod:`cfgc.review.diff_sides`)."""
        self._specs[select] = list(specs)

    def selected(self, select: str | None = None) -> list[TargetSpec]:
        """Like :meth:`specs`, but a ``--target`` glob that matches nothing is
        a usage error: "0 targets passed" would read as success."""
        found = self.specs(select)
        if select is not None and not found:
            raise no_match(select, len(self.specs()))
        return found

    def share_documents(self, other: Compiler, changed: Iterable[str]) -> None:
        """Take layer files ``other`` has parsed, except ``changed`` ones.

        For the two sides of a diff: a file with the same bytes on both sides
        parses the same, so the second side need not parse it again.
        """
        self._twin = (other, frozenset(changed))
        self._traced = other._traced  # keyed by document identity: shared documents trace once

    def document(self, path: str) -> Document:
        """A layer file, parsed once."""
        doc = self._docs.get(path)
        if doc is None and self._twin is not None:
            twin, changed = self._twin
            doc = twin._docs.get(path) if path not in changed else None
            if doc is not None:
                self._docs[path] = doc
                if path in twin.secret_files:
                    self.secret_files[path] = twin.secret_files[path]
                if path in twin._findings:
                    self._findings[path] = twin._findings[path]
        if doc is None:
            failed = self._failed.get(path)
            if failed is not None:
                # As a parsed file is: a later target gets what the first read gave
                # (keys name those bytes), never a second reading of the disk.
                raise failed.with_traceback(None)
            try:
                raw = self.source.read(path)
                # Locations come from the bytes compiled, never from a second read: a file
                # saved mid-build must not move a finding to a line of its new text.
                doc = load_yaml(raw, path, reload=lambda: raw)
            except CfgcError as e:
                self._failed[path] = e
                raise
            encrypted = is_sops_document(doc.data)
            # Credentials left in clear are findings of every target that reads the file.
            found = plaintext_findings(doc, encrypted, self._classified)
            if found:
                self._findings[path] = found
            if encrypted:
                doc = secret_document(doc)
                self.secret_files[path] = raw
            self._docs[path] = doc
        return doc

    def release(self, spec: TargetSpec) -> None:
        """Forget the parsed file of ``spec``'s own layer once the target is done.

        No other target reads it, and a build of 100,000 targets would
        otherwise hold every one of them (memory, and every full garbage
        collection walks them); a later :meth:`compile` of it parses it again.
        """
        self._docs.pop(spec.layers[-1], None)
        self._failed.pop(spec.layers[-1], None)

    def plain_files(self) -> set[str]:
        """Layer files loaded so far that are not SOPS documents (their
        values were checked for plaintext credentials as they loaded)."""
        return {p for p in self._docs if p not in self.secret_files}

    def loaded_plain(self, spec: TargetSpec) -> tuple[str, ...]:
        """The plain layer files of ``spec`` its compile loaded: its layers in
        order up to the first that did not load (a compile stops there), less
        SOPS documents (per target, what :meth:`plain_files` adds up)."""
        out = []
        for p in spec.layers:
            if p not in self._docs:
                break
            if p not in self.secret_files:
                out.append(p)
        return tuple(out)

    def compile(self, spec: TargetSpec) -> CompiledTarget:
        """Compile one target; raises InputError at the first problem."""
        # Lists, not generators, below: this runs once per target of every build.
        docs = tuple([self.document(p) for p in spec.layers])
        value = self._merged(docs)
        features: frozenset[str] = frozenset()
        for d in docs:
            if d.features:  # usually empty: a plain layer file
                features |= d.features
        origins: dict[Path, tuple[Path, ...]] = {}
        pinned: list[str] = []
        rendered_plain = True
        found = None
        if features & _LATE_STAGES:
            prov = Provenance(docs, origins, self._traced)
            found = scan(value, "template" in features, self._shared)
            if found.prompts:
                value = self._pin_prompts(value, found.prompts, pinned)
            if found.extends:
                value, inherited = resolve_extends(value, prov.locate, found.extends, self._extends)
                origins.update(inherited)
                if found.templates:  # $extends may have copied template strings
                    found.templates = templates_after_extends(value, found.templates, found.extends, self._shared)
            if found.templates:
                value = render_target(
                    value, spec.variables, spec.name, prov.locate, found.templates, self.config.limits, self._renders
                )
                # The one late stage that makes values of its own ({{ x / 3 }} is a float).
                rendered_plain = all([floats_plain(get_path(value, p)) for p in found.templates])
        secrets: tuple[str, ...] = ()
        refs: tuple[tuple[Path, SecretRef], ...] = ()
        if "secret" in features:
            # The scan before the late stages listed them; only what those rebuilt is walked again.
            refs = tuple(refs_after(value, found, self._shared) if found is not None else secret_refs(value, (), self._shared))
            secrets = tuple(sorted({ref.file for _, ref in refs}))
        # Only leaves of the files reach a target that no late stage or secret
        # touched; besides the rendered values, only they reach any target.
        if not features and all([d.plain_floats for d in docs]):
            plain = encode_plain = value  # plain_floats implies floats_plain
        else:
            plain = None
            encode_plain = value if rendered_plain and all([d.floats_plain for d in docs]) else None
        return CompiledTarget(
            spec, value, docs, origins, tuple(sorted(set(pinned))), secrets, refs, self._traced, plain, encode_plain
        )

    def try_compile(self, spec: TargetSpec) -> tuple[CompiledTarget | None, list[Diagnostic]]:
        """Compile one target, or None and the findings of its failure
        (:meth:`error_findings`): what every command that reports on many
        targets does with one that does not compile."""
        try:
            return self.compile(spec), []
        except CfgcError as e:
            return None, self.error_findings(spec, e)

    def error_findings(self, spec: TargetSpec, error: CfgcError) -> list[Diagnostic]:
        """A target that failed: the error as its finding, then those of the
        files it reads (a credential left in clear is reported either way)."""
        return [Diagnostic.from_error(error, rule_of(error), spec.name), *self.layer_findings(spec)]

    def _merged(self, docs: tuple[Document, ...]) -> Any:
        prefix = docs[:-1]
        key = tuple([d.path for d in prefix])
        kept = self._prefix.get(key)
        # Kept with the very documents it was merged from: a layer read again (it is
        # also a target's own file, released after that target) may hold other bytes,
        # and a target must never mix two readings of a file (nor be judged on one
        # reading's floats while holding the other's values).
        if kept is not None and all([a is b for a, b in zip(kept[1], prefix, strict=True)]):
            base = kept[0]
        else:
            base = merge_layers(prefix)
            self._prefix[key] = (base, prefix)
            self._shared.add(base)
        last = docs[-1]
        if last.data is None:
            return base
        if not isinstance(last.data, dict):
            return merge_layers(docs)  # raises the located error
        value = merge_value(base, last.data, last, ())
        return {} if value is MISSING else value

    def _pin_prompts(self, value: Any, paths: list[Path], pinned: list[str]) -> Any:
        new = {}
        for path in paths:
            pin = self.prompts.pin(get_path(value, path))
            pinned.append(pin)
            new[path] = pin
        return replace_at(value, new)

    def validate(self, target: CompiledTarget) -> list[Diagnostic]:
        """Schema findings for one compiled target, and those of the files it reads."""
        return self.layer_findings(target.spec) + self._validate_schemas(target)

    def layer_findings(self, spec: TargetSpec) -> list[Diagnostic]:
        """Findings about the files a target reads (credentials left in clear), as its own."""
        return [replace(d, targets=(spec.name,)) for p in spec.layers for d in self._findings.get(p, ())]

    def _validate_schemas(self, target: CompiledTarget) -> list[Diagnostic]:
        # valid_by_parts is imported with this module, not here: an import
        # statement in this method cost every target 0.45 µs.
        # The accept path by top-level keys, shared subtrees validated once (schema_split).
        if valid_by_parts([s.split for s in self.schemas.for_target(target.name)], target.value, target.refs, self._shared, self._placed):
            return []
        if not target.secrets:
            return self.schemas.validate(target.name, target.value, target.provenance)
        # Schemas see each secret as a value of its declared type; constraints
        # on the (unknowable) plaintext are not checked.
        refs = list(target.refs)
        secret_types = {p: ref.type for p, ref in refs}
        # ``refs`` names every reference (secret_refs found them in this very
        # value), so only the paths to them are copied, not the whole target;
        # equal to with_placeholders(target.value) (tests/unit/compile/test_walk.py).
        placed = replace_at(target.value, {p: ref.placeholder() for p, ref in refs})
        return self.schemas.validate(target.name, placed, target.provenance, secret_types)


def no_match(select: str, total: int) -> UsageError:
    """The error for a ``--target`` glob that selects no target."""
    hint = " (quotes are part of the glob: pass it unquoted in YAML)" if select[:1] in "'\"" else ""
    return UsageError(f"--target {select!r} matches none of the {total} targets{hint}")
