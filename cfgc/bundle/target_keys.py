"""Target keys: one digest of everything a target's compile reads.

The build cache keys its entries with these, and ``cfgc diff`` compares them
across its two sides.  A target's key covers

- the global key: the cfgc version, the versions of the libraries that shape a
  target's bytes, the path and bytes of cfgc.yaml, the template limits in force
  (cfgc.yaml's under the operator's ``CFGC_LIMITS`` ceiling), every schema file
  (declared, beside one, reached by ``$ref``) and every prompt template of the
  library;
- the path and content digest of each of its layer files, in order (SOPS
  documents are layers: a secret reference names the layer it came from, so
  the ciphertext behind it is keyed too);
- its name (its variables come from its name and cfgc.yaml).

Nothing else reaches a compile: ``$extends`` resolves within the target's own
merged value, templates run in a sandbox with no loader (no include, no
import) and a prompt is pinned from the library's file list.  So two targets
with equal keys compile to the same value, the same secret references with
the same ciphertext, and the same findings (compile errors, credentials left
in clear, schema findings).  The one exception is a template that runs out
of its time budget, which depends on the machine's load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from cfgc import __version__
from cfgc.base.errors import CfgcError
from cfgc.base.installed import declared_version, install_stamps
from cfgc.base.limits import DEFAULT_LIMITS
from cfgc.base.repopath import NotFound
from cfgc.compile.compiler import Compiler
from cfgc.repo.hierarchy import TargetSpec
from cfgc.repo.inputs import unwrapped
from cfgc.repo.sources import DirSource, Source

Digest = Callable[[str], str]


class Unkept(CfgcError):
    """A layer's bytes were hashed but could not be kept for its compile (past
    the source's bound), so no key may name them: the compile reads the disk again."""


def content_digest(source: Source, kept_only: bool = False) -> Digest:
    """A :data:`Digest` that hashes what ``source`` holds now ("missing" for
    an absent file).  A working tree keeps the bytes it hashed, so a compile
    that follows reads the very bytes the key was made from; with
    ``kept_only``, a file whose bytes the source declines to keep raises
    :class:`Unkept` instead of naming bytes the compile may not read.

    Each path is hashed once per digest function: a compiler keeps shared
    layers parsed across targets, so a file saved while targets are keyed one
    at a time (a cold check keys each target just before compiling it) must not
    give a later target a key naming bytes its compile never parsed.
    """
    memo: dict[str, str] = {}

    def digest(path: str) -> str:
        found = memo.get(path)
        if found is not None:
            return found
        try:
            data = source.read(path)
        except NotFound:
            found = "missing"
        else:
            if isinstance(source, DirSource) and not source.keep(path, data) and kept_only:
                raise Unkept(f"{path}: not kept for its compile")
            found = hashlib.sha256(data).hexdigest()
        memo[path] = found
        return found

    return digest


def global_key(compiler: Compiler) -> str:
    """Digest of everything every target depends on besides its own layers.

    Raises :class:`cfgc.base.errors.CfgcError` when a schema cannot be read.
    """
    # The libraries that shape a target's bytes (YAML parsing, templates, number
    # formatting) are part of the key, so upgrading one never serves stale output.
    h = hashlib.sha256(f"cfgc {__version__}\n{library_versions()}\n".encode())
    hash_inputs(h, compiler)
    # The template limits a compile runs under are cfgc.yaml's capped by the
    # operator's CFGC_LIMITS, which no file holds: a target that fits under a
    # raised ceiling must not be served from the cache under a lower one.
    # Default limits add nothing, so the keys of a default setup stay as they were.
    if compiler.config.limits != DEFAULT_LIMITS:
        h.update(f"\0limits\0{compiler.config.limits!r}".encode())
    return h.hexdigest()


def hash_inputs(h: Any, compiler: Compiler) -> None:
    """Feed ``h`` cfgc.yaml, every schema and every prompt template, each
    framed by its kind, path and length: a file's bytes (a template may hold
    NULs) can never pass for the end of one file and the start of another."""
    from cfgc.compile.schema import schema_files

    src = compiler.source

    def part(kind: str, path: str, raw: bytes) -> None:
        name = path.encode("utf-8", "surrogateescape")  # a name that is not UTF-8: its own bytes
        h.update(b"%s %d:%s %d:" % (kind.encode(), len(name), name, len(raw)) + raw)

    # The bytes the compile uses, never a second read of a file that may have
    # been saved since: cfgc.yaml as it was parsed, and on a working tree the
    # schemas and prompts kept for the compile's own (first) read of each.
    plain = unwrapped(src)
    keep = plain.keep if isinstance(plain, DirSource) else None
    part("config", compiler.config.document.path, compiler.config.raw or src.read("cfgc.yaml"))
    for path, raw in sorted(schema_files(src, compiler.config).items()):
        part("schema", path, raw)
        if keep is not None:
            keep(path, raw)
    for name in sorted(compiler.prompts.versions):
        for path in sorted(compiler.prompts.versions[name].values()):
            raw = src.read(path)
            part("prompt", path, raw)
            if keep is not None:
                keep(path, raw)


def library_versions() -> str:
    """Python's, PyYAML's and Jinja2's versions, as one line."""
    import sys

    # Read from PyYAML's __init__ rather than imported: a diff from records
    # parses no YAML (the same text either way: see declared_version).
    parts = [f"python {sys.version}", f"PyYAML {declared_version('yaml')}"]
    # Importing Jinja2 would cost a fully warm build a tenth of its time; the
    # stat of its installed __init__.py changes with every install instead.
    parts += install_stamps(("jinja2",), label={"jinja2": "Jinja2"})
    return ", ".join(parts)


class TargetKeys:
    """Keys of the targets of one source, with ``digest`` giving a layer file's content digest.

    Targets share all layers but their last: that prefix is hashed once.
    """

    def __init__(self, global_key: str, digest: Digest) -> None:
        self.global_key = global_key
        self.digest = digest
        self._prefix: dict[tuple[str, ...], Any] = {}

    def key(self, spec: TargetSpec) -> str:
        """The key of one target (hex)."""
        prefix = spec.layers[:-1]
        base = self._prefix.get(prefix)
        if base is None:
            base = hashlib.sha256(self.global_key.encode())
            for p in prefix:
                base.update(b"\0" + p.encode("utf-8", "surrogateescape") + b"\0" + self.digest(p).encode())
            self._prefix[prefix] = base
        h = base.copy()
        last = spec.layers[-1]
        h.update(b"\0" + last.encode("utf-8", "surrogateescape") + b"\0" + self.digest(last).encode() + b"\0"
                 + spec.name.encode("utf-8", "surrogateescape"))
        return h.hexdigest()
