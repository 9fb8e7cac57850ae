"""The bundle manifest's names and the files it lists, for readers of published bundles.

The runtime (``cfgc agent``, ``ConfigClient``) verifies manifests but never
builds bundles: it imports this module, which imports nothing from the
compiler, the repository or YAML, instead of :mod:`cfgc.bundle.layout` and
:mod:`cfgc.bundle.attest` (which pull in all three; measured: +16 MB RSS).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cfgc.base.errors import IntegrityError
from cfgc.base.repopath import relative_problem, target_name_problem

FORMAT = "cfgc.bundle/v1"
MANIFEST = "manifest.json"
MANIFEST_TYPE = "application/vnd.cfgc.manifest+json"
SIGNATURE = "manifest.sig.json"
PROVENANCE = "provenance.intoto.json"
SECTIONS = ("prompts", "secrets")  # manifest sections whose entries carry their own "path"


def listed_files(manifest: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """Every file a manifest lists: (bundle path, kind, entry), targets first, each kind sorted.

    Kinds: ``target``, ``prompt``, ``secret`` (SOPS documents, still encrypted).
    A manifest is read from a bundle or a store someone else wrote: a target
    name or a path that would leave the bundle (``../x``, ``/etc/x``) is an
    IntegrityError, so nothing outside the bundle is ever read or written.
    """
    out: list[tuple[str, str, Mapping[str, Any]]] = []
    for name, entry in sorted(manifest["targets"].items()):
        problem = target_name_problem(str(name))
        if problem:
            raise IntegrityError(f"{MANIFEST}: {problem}: not a path inside the bundle")
        out.append((f"targets/{name}.json", "target", entry))
    for section in SECTIONS:
        for key, entry in sorted((manifest.get(section) or {}).items()):
            path = str(entry.get("path"))
            problem = relative_problem(path)
            if problem is None and not path.startswith(section + "/"):
                problem = f"{path!r} is not under {section}/"
            if problem:
                raise IntegrityError(f"{MANIFEST}: {section} entry {key!r}: {problem}: not a path inside the bundle")
            out.append((path, section[:-1], entry))
    return out
