"""JSON Schema validation of compiled targets, located at the source line."""

from __future__ import annotations

import fnmatch
import json
from typing import TYPE_CHECKING, Any

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import InputError, Location
from cfgc.base.loading import Path, load_yaml
from cfgc.base.repopath import NotFound
from cfgc.compile.merging import dotted
from cfgc.compile.provenance import Provenance
from cfgc.compile.schema_refs import MAX_SCHEMA_FILES, keyword_index, pointer, referenced_files, uri
from cfgc.compile.schema_split import Split, split_of
from cfgc.repo.config import RepoConfig, SchemaRule
from cfgc.repo.sources import Source
from cfgc.secrets.redact import mask, sensitive_strings

if TYPE_CHECKING:
    import jsonschema
    import referencing

# jsonschema and referencing are imported when a schema is first compiled:
# a build whose targets all come from the cache never needs them.


def _jsonschema_rs() -> Any:
    try:  # a much faster validator for the accept path; optional
        import jsonschema_rs
    except ImportError:  # pragma: no cover - depends on the platform's wheels
        return None
    return jsonschema_rs


def schema_files(source: Source, config: RepoConfig) -> dict[str, bytes]:
    """The bytes of every declared schema, of each JSON file beside one, and of
    every file their ``$ref`` name (transitively): all a validation may read."""
    return _load(source, config)[0]


def _load(source: Source, config: RepoConfig) -> tuple[dict[str, bytes], dict[str, Any]]:
    raw: dict[str, bytes] = {}
    for rule in config.schemas:
        try:
            raw[rule.schema] = source.read(rule.schema)
        except NotFound:
            raise InputError(f"schema file not found: {rule.schema}", rule.location) from None
    folders = {r.schema.rpartition("/")[0] for r in config.schemas}
    for f in source.files():
        if f.endswith(".json") and f.rpartition("/")[0] in folders and f not in raw:
            raw[f] = source.read(f)
    docs = {path: _parse(path, data) for path, data in raw.items()}
    # Declared schemas and the files they reach are searched for references;
    # a JSON file beside them that nothing names is registered, not read as a schema.
    pending = [rule.schema for rule in config.schemas]
    seen = set(pending)
    while pending:
        path = pending.pop()
        for target in referenced_files(path, docs[path]):
            if target in seen:
                continue
            seen.add(target)
            pending.append(target)
            if target not in raw:
                if len(raw) >= MAX_SCHEMA_FILES:
                    raise InputError(f"more than {MAX_SCHEMA_FILES} schema files are referenced", Location(path))
                try:
                    raw[target] = source.read(target)
                except NotFound:
                    raise InputError(f"$ref names {target}, which is not in the repo", Location(path)) from None
                docs[target] = _parse(target, raw[target])
    return raw, docs


class LoadedSchema:
    """One schema file: a fast validator for the accept path and, compiled on
    first need, a jsonschema validator for detailed errors with paths."""

    def __init__(self, rule: SchemaRule, schema: Any, raw: bytes, fast: Any, detailed: Any) -> None:
        self.rule = rule
        self.schema = schema
        self.raw = raw
        self.fast = fast  # jsonschema-rs, or None
        self.split: Split | None = None  # the accept path key by key, when the shape allows (schema_split)
        self._detailed = detailed  # a validator, or a function that makes one

    @property
    def validator(self) -> Any:
        """The jsonschema validator (compiled now if it was not yet)."""
        if callable(self._detailed) and not hasattr(self._detailed, "iter_errors"):
            self._detailed = self._detailed()
        return self._detailed


class SchemaSet:
    """The schemas of cfgc.yaml, each read and compiled once."""

    def __init__(self, source: Source, config: RepoConfig) -> None:
        self.schemas: list[LoadedSchema] = []
        self._tops: dict[int, tuple[str, str]] = {}  # copies given a base $id
        raw, docs = _load(source, config)
        self._docs = docs
        self._index: dict[int, tuple[str, str]] | None = None
        fast_registry = _fast_registry(docs)
        registry: list[Any] = []

        def python_registry() -> Any:
            if not registry:
                registry.append(_registry(docs))
            return registry[0]

        for rule in config.schemas:
            schema = docs[rule.schema]
            if not isinstance(schema, dict):
                raise InputError("a JSON Schema must be an object", Location(rule.schema))
            if "$id" not in schema:
                schema = {**schema, "$id": uri(rule.schema)}
                self._tops[id(schema)] = (rule.schema, "")
            fast = _fast_validator(schema, fast_registry)
            base = schema.get("$id") if "$id" in docs[rule.schema] else uri(rule.schema)
            split = None
            if fast is not None and isinstance(base, str) and "://" in base:
                split = split_of(schema, base, docs, lambda d: _fast_validator(d, fast_registry))

            def detailed(rule: SchemaRule = rule, schema: Any = schema) -> Any:
                return _compile(rule, schema, python_registry())

            # Without a fast validator (or when it refused the schema), compile
            # now: an invalid schema is reported before any target is checked.
            self.schemas.append(
                LoadedSchema(rule, schema, raw[rule.schema], fast, detailed if fast is not None else detailed())
            )
            self.schemas[-1].split = split

    def for_target(self, name: str) -> list[LoadedSchema]:
        """The schemas whose ``match`` glob admits the target ``name``."""
        return [s for s in self.schemas if s.rule.match == "*" or fnmatch.fnmatchcase(name, s.rule.match)]

    def validate(
        self, name: str, value: Any, prov: Provenance, secret_types: dict[Path, str] | None = None
    ) -> list[Diagnostic]:
        """Findings for one compiled target; empty when it is valid."""
        out: list[Diagnostic] = []
        known: set[str] | None = None
        for s in self.for_target(name):
            if s.fast is not None and s.fast.is_valid(value):
                continue  # the common case: valid, and the Rust validator says so quickly
            import referencing.exceptions

            from cfgc.compile.schema_messages import describe

            try:
                errors = list(s.validator.iter_errors(value))
            except referencing.exceptions.Unresolvable as e:
                raise InputError(
                    f"cannot resolve $ref {e.ref!r}: put the schema in the repo "
                    "(cfgc never fetches schemas over the network)",
                    Location(s.rule.schema),
                ) from None
            for err in errors:
                path: Path = tuple(err.absolute_path)
                message = describe(err)
                if secret_types and path in secret_types:
                    if err.validator != "type":
                        continue  # constraints on the plaintext cannot be checked without a key
                    message = f"a secret of type {secret_types[path]} is not of type {err.validator_value!r}"
                else:
                    # jsonschema quotes the failing value: credentials become markers,
                    # also those a template copied from elsewhere in the target.
                    if known is None:
                        known = sensitive_strings(value)
                    message = mask(message, known | sensitive_strings(err.instance, path))
                out.append(
                    Diagnostic(
                        "error",
                        f"{dotted(path)}: {message} ({self._rule_of(err, s.rule.schema)})",
                        _where(err, path, prov),
                        "schema",
                        (name,),
                    )
                )
        return out


    def _rule_of(self, err: jsonschema.ValidationError, top: str) -> str:
        """``file#pointer`` of the keyword that failed, in the file that holds it."""
        if self._index is None:
            self._index = {**keyword_index(self._docs), **self._tops}
        keyword = err.validator
        found = self._index.get(id(err.schema)) if isinstance(err.schema, dict) else None
        if found is None:  # a boolean subschema: its path, when no $ref was crossed
            path = list(err.absolute_schema_path)
            if any(p in ("$ref", "$dynamicRef") for p in path):
                return top
            found, keyword = (top, pointer(path)), None
        file, at = found
        return f"{file}#{at}" + (pointer([keyword]) if keyword is not None else "")


def _where(err: jsonschema.ValidationError, path: Path, prov: Provenance) -> Location:
    # A missing required key is best explained by the layer that deleted it.
    if err.validator == "required" and isinstance(err.instance, dict):
        for prop in err.validator_value:
            if prop not in err.instance:
                hist = prov.history((*path, prop))
                if hist and hist[-1].action == "delete":
                    return hist[-1].location
    return prov.locate(path)


def _parse(path: str, raw: bytes) -> Any:
    if path.endswith((".yaml", ".yml")):
        return load_yaml(raw, path).data
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise InputError(f"schema is not valid JSON: {e.msg}", Location(path, e.lineno, e.colno)) from None
    except UnicodeDecodeError:
        raise InputError("schema is not valid UTF-8", Location(path)) from None


def _refuse(uri: str) -> referencing.Resource[Any]:
    import referencing.exceptions

    # referencing declares its classes with its own wrapper of attrs' ``frozen``, which mypy's attrs
    # plugin does not recognise, so it sees no keyword arguments (the runtime signature has ``ref``).
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]


def _registry(docs: dict[str, Any]) -> referencing.Registry[Any]:
    import referencing
    from referencing.jsonschema import DRAFT202012

    resources = []
    for path, schema in docs.items():
        if not isinstance(schema, dict):
            continue
        res = DRAFT202012.create_resource(schema)
        resources.append((uri(path), res))
        if isinstance(schema.get("$id"), str):
            resources.append((schema["$id"], res))
    # Same as in _refuse: ``retrieve`` is an attrs field mypy cannot see.
    return referencing.Registry(retrieve=_refuse).with_resources(resources)  # type: ignore[call-arg]


def _fast_registry(docs: dict[str, Any]) -> Any:
    jsonschema_rs = _jsonschema_rs()
    if jsonschema_rs is None:
        return None
    resources = []
    for path, schema in docs.items():
        if isinstance(schema, dict):
            resources.append((uri(path), schema))
            if isinstance(schema.get("$id"), str):
                resources.append((schema["$id"], schema))
    try:
        return jsonschema_rs.Registry(resources=resources, retriever=_refuse_fast)
    except Exception:  # noqa: BLE001 - the fast path is optional
        return None


def _refuse_fast(uri: str) -> Any:
    raise ValueError(f"cfgc never fetches schemas over the network: {uri}")


def _fast_validator(schema: dict[str, Any], registry: Any) -> Any:
    jsonschema_rs = _jsonschema_rs()
    if jsonschema_rs is None or registry is None:
        return None
    try:
        return jsonschema_rs.validator_for(
            schema, registry=registry, validate_formats=True, retriever=_refuse_fast
        )
    except Exception:  # noqa: BLE001 - anything it cannot compile, jsonschema still checks
        return None


def _compile(rule: SchemaRule, schema: Any, registry: referencing.Registry[Any]) -> Any:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        where = dotted(tuple(e.absolute_path))
        from cfgc.compile.schema_messages import describe

        raise InputError(f"invalid JSON Schema at {where}: {describe(e)}", Location(rule.schema)) from None
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
