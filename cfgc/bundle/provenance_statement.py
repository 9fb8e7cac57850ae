"""The in-toto Statement v1 with a SLSA provenance v1 predicate for a bundle.

Subjects are the bundle's targets (their manifest digests); the predicate
records the source commit, the builder (cfgc and its version) and the digests
of the inputs: every file of the config repo when the statement is made at
build time, otherwise the prompts and schemas the manifest lists.  Nothing in
it comes from the clock, so the same commit gives the same statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cfgc import __version__

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://cfgc.dev/build/v1"
BUILDER_ID = "https://cfgc.dev/builder/cfgc"
PAYLOAD_TYPE = "application/vnd.in-toto+json"


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1] if ":" in digest else digest


def statement(manifest: Mapping[str, Any], inputs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The provenance statement of a bundle.

    ``inputs`` maps source file paths (relative to the config repo) to
    ``sha256:<hex>`` digests; without it the manifest's prompts and schemas
    stand in.
    """
    source = manifest.get("source") or {}
    subjects = [
        {"name": f"targets/{name}.json", "digest": {"sha256": _hex(str(entry["digest"]))}}
        for name, entry in sorted((manifest.get("targets") or {}).items())
    ]
    deps: list[dict[str, Any]] = []
    if source.get("commit"):
        uri = f"git+{source.get('repo_url') or 'local'}"
        if source.get("ref"):
            uri += f"@{source['ref']}"
        deps.append({"uri": uri, "digest": {"gitCommit": source["commit"]}})
    if inputs is None:
        inputs = {str(p["path"]): str(p["digest"]) for p in (manifest.get("prompts") or {}).values()}
        inputs.update({str(k): str(v["digest"]) for k, v in (manifest.get("schemas") or {}).items()})
    prefix = f"{source['path']}/" if source.get("path") else ""
    deps.extend({"uri": f"file:{prefix}{path}", "digest": {"sha256": _hex(d)}} for path, d in sorted(inputs.items()))
    metadata: dict[str, Any] = {}
    if source.get("commit_time"):
        metadata["startedOn"] = source["commit_time"]
        metadata["finishedOn"] = source["commit_time"]
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "repository": source.get("repo_url"),
                    "ref": source.get("ref"),
                    "path": source.get("path") or "",
                    "dirty": source.get("dirty"),
                },
                "internalParameters": {"format": manifest.get("format")},
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": {"cfgc": str(manifest.get("cfgc_version") or __version__)},
                },
                "metadata": metadata,
            },
        },
    }


def check_subjects(stmt: Any, manifest: Mapping[str, Any]) -> list[str]:
    """Problems with ``stmt`` as the provenance of ``manifest`` (empty when it fits)."""
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        return ["provenance: not an in-toto Statement v1"]
    if stmt.get("predicateType") != PREDICATE_TYPE:
        return [f"provenance: predicate type {stmt.get('predicateType')!r} is not SLSA provenance v1"]
    want = {f"targets/{n}.json": _hex(str(e["digest"])) for n, e in (manifest.get("targets") or {}).items()}
    got = {str(s.get("name")): str((s.get("digest") or {}).get("sha256")) for s in stmt.get("subject") or []}
    problems = [f"provenance: subject {n} has digest {got[n][:12]}…, manifest says {d[:12]}…"
                for n, d in sorted(want.items()) if n in got and got[n] != d]
    problems += [f"provenance: target {n} is not a subject" for n in sorted(set(want) - set(got))]
    problems += [f"provenance: subject {n} is not in the manifest" for n in sorted(set(got) - set(want))]
    return problems
