"""The key each target's ``cfgc check`` entry is kept under (:mod:`cfgc.review.check_cache`
says what it covers and why that suffices)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from cfgc.base.errors import CfgcError
from cfgc.base.installed import install_stamps
from cfgc.bundle.target_keys import TargetKeys, content_digest, global_key
from cfgc.compile.compiler import Compiler
from cfgc.repo.hierarchy import TargetSpec


def entry_keys(compiler: Compiler, specs: Sequence[TargetSpec], policies: str,
               changed: AbstractSet[str] | None) -> list[str | None]:
    """The entry key of each target (None: it cannot be keyed and is checked): :class:`EntryKeys`."""
    keyer = EntryKeys(compiler, policies, changed)
    return [keyer.key(spec) for spec in specs]


class EntryKeys:
    """Entry keys of one run's targets, one at a time (a cold check keys each
    target in the worker that checks it: the parent would key all 10,000 first).

    Layer digests are sha256 of the bytes; on a working tree those bytes are
    kept for the compile of a target checked again, which then reads exactly
    what its key names.
    """

    def __init__(self, compiler: Compiler, policies: str, changed: AbstractSet[str] | None) -> None:
        try:
            self._keys: TargetKeys | None = TargetKeys(global_key(compiler), content_digest(compiler.source, kept_only=True))
        except CfgcError:
            self._keys = None
        self._stamp = policies + "\0" + validator_versions()
        self._changed = changed

    def key(self, spec: TargetSpec) -> str | None:
        """The entry key of ``spec``, or None."""
        if self._keys is None:
            return None
        try:
            tkey = self._keys.key(spec)
        except CfgcError:  # a layer that cannot be read (a symlink, say): its compile reports it
            return None
        changed = self._changed
        return entry_key(tkey, self._stamp, None if changed is None else spec.name in changed)


def validator_versions() -> str:
    """Where each installed schema validator is and its ``__init__``'s size and mtime, as one line."""
    return ", ".join(install_stamps(("jsonschema", "jsonschema_rs", "referencing")))


def entry_key(target_key: str, stamp: str, changed: bool | None) -> str:
    """The key of one target's entry (``stamp``: the policy digest and the
    validators): see the module docstring for why these suffice."""
    flag = "none" if changed is None else "true" if changed else "false"
    return hashlib.sha256(f"check\0{target_key}\0{stamp}\0{flag}".encode()).hexdigest()
