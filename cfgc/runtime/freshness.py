"""What a runtime requires of a channel pointer beyond a valid signature.

A pointer is accepted only when it is (in this order):

1. not legacy: it names its repository and carries ``issued``/``expires``;
2. for the expected repository: the one the runtime was told
   (``--repository``), else the one this source's channel was first seen
   with (pinned in the serial state file), else it is pinned now;
3. not older than the newest serial recorded for (repository, channel) in the
   serial state file, nor than ``min_serial``, and not the same serial naming
   other content (a fork);
4. not expired, unless allowed (``--allow-expired``).

The channel name itself is checked when the pointer is decoded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cfgc.base.errors import IntegrityError, UsageError
from cfgc.runtime.fetch import RollbackError
from cfgc.runtime.serials import SerialState
from cfgc.stores.pointer import Pointer, check_repository


class ExpiredError(IntegrityError):
    """A channel pointer past its ``expires`` time (a frozen or neglected store): exit 5."""


class LegacyPointerError(IntegrityError):
    """A channel pointer without repository, issued and expires (written by an older cfgc): exit 5."""


@dataclass(frozen=True)
class PointerPolicy:
    """The checks of one runtime for one source (see the module docstring)."""

    source: str
    repository: str | None = None
    state: SerialState | None = None
    min_serial: int = 0
    allow_expired: bool = False

    def expected_repository(self, channel: str) -> str | None:
        """The repository pointers of ``channel`` must name (None: not known yet)."""
        if self.repository is not None:
            return self.repository
        return self.state.pinned(self.source, channel) if self.state is not None else None

    def check(self, p: Pointer, now: float | None = None, allow_expired: bool | None = None) -> None:
        """Raise unless ``p`` (already signature-checked) may be used; records nothing."""
        if p.legacy or p.repository is None:  # (legacy implies no repository; spelled out for the type)
            raise LegacyPointerError(
                f"channel {p.channel}: the pointer (serial {p.serial}) names no repository or expiry "
                "(written by an older cfgc); re-sign it with `cfgc channel refresh`")
        want = self.expected_repository(p.channel)
        if want is not None and p.repository != want:
            raise IntegrityError(f"channel {p.channel}: the pointer belongs to repository {p.repository!r}, "
                                 f"this runtime follows {want!r} (a pointer copied from another store?)")
        seen = self.state.seen(p.repository, p.channel) if self.state is not None else None
        floor = max(self.min_serial, seen.serial if seen else 0)
        if p.serial < floor:
            raise RollbackError(f"channel {p.channel}: pointer serial {p.serial} is older than serial {floor} "
                                f"already seen (replayed or rolled-back store)")
        if seen is not None and seen.serial == p.serial and seen.manifest_digest != p.manifest_digest:
            raise RollbackError(f"channel {p.channel}: serial {p.serial} now names {p.version}, but it named "
                                f"{seen.version} before; refusing a forked channel")
        if p.expired(now) and not (self.allow_expired if allow_expired is None else allow_expired):
            raise ExpiredError(f"channel {p.channel}: the pointer to {p.version} (serial {p.serial}) expired at "
                               f"{p.expires} (a frozen store, or CI stopped running `cfgc channel refresh`)")

    def record(self, p: Pointer) -> None:
        """Remember ``p`` as the newest pointer of its (repository, channel)."""
        if self.state is not None:
            self.state.record(p, self.source)


def runtime_policy(source: str, repository: str | None = None, state_file: str | os.PathLike[str] | None = None,
                   min_serial: int = 0, allow_expired: bool = False) -> PointerPolicy:
    """The policy of a runtime: serials in ``state_file`` (default :func:`default_state_file`)."""
    if repository is not None:
        check_repository(repository)
    if min_serial < 0:
        raise UsageError(f"min_serial must be >= 0, not {min_serial}")
    state = SerialState(Path(state_file) if state_file is not None else None)
    return PointerPolicy(source, repository, state, min_serial, allow_expired)
