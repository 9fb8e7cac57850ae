"""Resource limits of a build (the ``limits`` section of cfgc.yaml).

A config repo is untrusted input to the CI runner that compiles it: every
template runs under these limits, so a hostile template fails at its line
instead of exhausting the runner's memory or time.  YAML limits that must hold
before cfgc.yaml itself is read are constants of :mod:`cfgc.base.loading`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from cfgc.base.jsonvalue import JSONObject

# The largest integer a config value (YAML or template result) may hold: JSON
# consumers in most languages read numbers into 64-bit integers or doubles.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
# Integers inside a template (intermediate results) stay below this many bits.
TEMPLATE_INT_BITS = 4096
# The largest file cfgc reads whole: any file of a repo (working tree or git
# blob: layers, cfgc.yaml, schemas, policies, prompts, SOPS files), of a bundle
# read back, or named on the command line.  A pull request may commit a file
# of any size, and each is held in memory (cfgc.base.bounded_read).
MAX_FILE_BYTES = 64 * 1024 * 1024
# Files and folders one listing of a repo holds (working tree or git tree),
# checked while listing: each costs memory for the whole build (about 200 bytes
# listed, more once hashed).  The project's own 1,000,000-target corpus
# (benchmarks/shards.py) lists about 1,010,000; twice that leaves room.
MAX_REPO_FILES = 2_000_000
# Folder levels below the repo root a working-tree walk enters.
MAX_REPO_DEPTH = 64
# Bytes of one path in a git tree listing (a working tree is held to the
# kernel's PATH_MAX, the same 4096, by the kernel itself).
MAX_PATH_BYTES = 4096
# Bytes of one `git ls-tree` listing in all: paths reused under nested trees let
# a commit of a few KB list millions of long paths.  2,000,000 entries of about
# 250 bytes; the 1,000,000-target corpus lists about 110 MB.
MAX_LISTING_BYTES = 512 * 1024 * 1024
# Seconds one `git ls-tree` may take from start to its last byte.
LISTING_SECONDS = 600
# Layer files one target stacks: hierarchy levels times the files each '*'
# matches.  Every layer is merged for every target that stacks it.
MAX_TARGET_LAYERS = 1000


@dataclass(frozen=True)
class Limits:
    """Per-template limits; the defaults are generous for configuration."""

    # Characters a template may emit in total, and the size (characters, or
    # items for lists) of any string or list it builds on the way.
    template_output_chars: int = 1_048_576
    # Loop iterations per template (all loops, nested ones included), and the
    # largest range() a template may ask for.
    template_loop_iterations: int = 100_000
    # Wall-clock seconds per template, checked between template operations.
    template_seconds: float = 5.0

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None, ceiling: Limits | None = None) -> Limits:
        """The limits of cfgc.yaml's ``limits`` mapping (already schema-checked).

        cfgc.yaml is part of the pull request, so it may only *lower* a limit:
        each value is capped by ``ceiling`` (the defaults, or what the operator
        sets in ``CFGC_LIMITS``).  Otherwise a hostile PR would simply raise
        the limits that protect the runner from it.
        """
        top = ceiling or DEFAULT_LIMITS
        known = {f.name for f in fields(cls)}
        asked = {k: v for k, v in (data or {}).items() if k in known}
        return cls(**{k: min(v, getattr(top, k)) for k, v in asked.items()} | {
            k: getattr(top, k) for k in known - asked.keys()})


DEFAULT_LIMITS = Limits()
CEILING_ENV = "CFGC_LIMITS"


def operator_ceiling(text: str | None) -> Limits:
    """The highest limits a repo may ask for, from ``CFGC_LIMITS``.

    ``CFGC_LIMITS="template_seconds=30,template_output_chars=4194304"`` is set
    by whoever runs cfgc (a trusted CI workflow), never by the repo; unset, the
    ceiling is the defaults.  A malformed value is a usage error (exit 2).
    """
    if not text or not text.strip():
        return DEFAULT_LIMITS
    known = {f.name: f.type for f in fields(Limits)}
    values: JSONObject = {}
    for part in text.split(","):
        name, sep, raw = part.partition("=")
        name = name.strip()
        try:
            if not sep or name not in known:
                raise ValueError
            number = float(raw) if name == "template_seconds" else int(raw)
            if not 0 < number < float("inf"):
                raise ValueError
        except ValueError:
            from cfgc.base.errors import UsageError

            raise UsageError(
                f"{CEILING_ENV}: {part.strip()!r} is not NAME=POSITIVE_NUMBER "
                f"(names: {', '.join(sorted(known))})"
            ) from None
        values[name] = number
    return Limits(**{**{f.name: getattr(DEFAULT_LIMITS, f.name) for f in fields(Limits)}, **values})
