"""The digests of the files every target depends on, taken before a build's compile.

Apart from :mod:`cfgc.bundle.outrecord` (which records them in the in-place state)
so that a build imports the state's modules only once its workers compile
(:mod:`cfgc.bundle.build`): before the fork the parent's imports are serial.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from cfgc.base.errors import CfgcError

if TYPE_CHECKING:
    from cfgc.compile.compiler import Compiler


def global_digests(compiler: Compiler) -> dict[str, str] | None:
    """sha256 of every file all targets depend on: cfgc.yaml, schemas, prompts, SOPS rules.

    Taken before the compile, so a file changed during the build is seen as
    changed by the next one.  None when one cannot be read: the build reports it.
    """
    try:
        return _global_digests(compiler)
    except (CfgcError, OSError):
        return None


def _global_digests(compiler: Compiler) -> dict[str, str]:
    from cfgc.compile.schema import schema_files
    from cfgc.secrets.creation_rules import CONFIG_NAMES

    src = compiler.source
    found = {"cfgc.yaml": src.read("cfgc.yaml"), **schema_files(src, compiler.config)}
    for versions in compiler.prompts.versions.values():
        for path in versions.values():
            found[path] = src.read(path)
    listed = set(src.files())
    for name in CONFIG_NAMES:
        if name in listed:
            found[name] = src.read(name)
    return {p: hashlib.sha256(raw).hexdigest() for p, raw in sorted(found.items())}
