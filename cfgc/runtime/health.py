"""A syncer's counters and the failure reasons they are counted by."""

from __future__ import annotations

from dataclasses import dataclass, field

from cfgc.base.errors import CfgcError, ExternalError, IntegrityError
from cfgc.runtime.fetch import RollbackError
from cfgc.runtime.freshness import ExpiredError


@dataclass
class Metrics:
    """Counters and timestamps of a syncer (read them through ``Syncer.status()``)."""

    polls: int = 0
    unchanged: int = 0
    updates: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # reason -> count
    verification_failures: int = 0
    rollback_rejections: int = 0
    cache_failures: int = 0
    last_attempt: float | None = None
    last_success: float | None = None  # last poll that reached the source and verified (or was unchanged)
    last_update: float | None = None
    last_error: str | None = None
    last_error_reason: str | None = None

    @property
    def refresh_failures(self) -> int:
        return sum(self.failures.values())


def reason_of(e: BaseException) -> str:
    if isinstance(e, ExpiredError):
        return "expired"
    if isinstance(e, RollbackError):
        return "rollback"
    if isinstance(e, IntegrityError):
        return "verification"
    if isinstance(e, ExternalError):
        return "unreachable"
    if isinstance(e, CfgcError):
        return "invalid"
    return "error"
