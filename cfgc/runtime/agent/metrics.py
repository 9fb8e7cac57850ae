"""Prometheus text exposition for the agent (no client library needed)."""

from __future__ import annotations

import bisect
from typing import Any

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Histogram:
    """A cumulative latency histogram (observed on the event loop thread only)."""

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.n += 1

    def lines(self, name: str) -> list[str]:
        out, acc = [], 0
        for bound, c in zip(BUCKETS, self.counts, strict=False):
            acc += c
            out.append(f'{name}_bucket{{le="{bound}"}} {acc}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{name}_sum {self.total:.6f}")
        out.append(f"{name}_count {self.n}")
        return out


def _esc(v: Any) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(status: dict[str, Any], requests: dict[str, int], latency: Histogram, targets: int) -> bytes:
    """The /metrics document."""
    s = status
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, Any]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value}" for labels, value in samples)

    info = f'{{channel="{_esc(s["channel"])}",version="{_esc(s["version"] or "")}",origin="{_esc(s["origin"] or "")}"}}'
    metric("cfgc_runtime_info", "gauge", "The version being served (1 per channel).", [(info, 1)])
    metric("cfgc_runtime_ready", "gauge", "1 once a verified version is loaded.", [("", int(bool(s["ready"])))])
    metric("cfgc_runtime_serial", "gauge", "Channel serial of the version served.", [("", s["serial"] or 0)])
    metric("cfgc_runtime_serial_seen", "gauge", "Highest channel serial seen (replay protection).",
           [("", s["serial_seen"])])
    metric("cfgc_runtime_targets", "gauge", "Targets served.", [("", targets)])
    metric("cfgc_runtime_last_success_timestamp_seconds", "gauge",
           "When the source was last reached and verified (or unchanged).", [("", s["last_success"] or 0)])
    metric("cfgc_runtime_last_update_timestamp_seconds", "gauge", "When a new version was last swapped in.",
           [("", s["last_update"] or 0)])
    metric("cfgc_runtime_staleness_seconds", "gauge", "Seconds since the last successful refresh.",
           [("", f'{s["staleness_seconds"]:.3f}' if s["staleness_seconds"] is not None else "NaN")])
    metric("cfgc_runtime_stale", "gauge", "1 when the version served may be out of date.", [("", int(s["stale"]))])
    metric("cfgc_runtime_pointer_expired", "gauge",
           "1 when the channel pointer served is past its expiry (frozen store or no refresh).",
           [("", int(bool(s["expired"])))])
    metric("cfgc_runtime_pointer_expiry_timestamp_seconds", "gauge", "When the served channel pointer expires.",
           [("", s["pointer_expires_at"] or 0)])
    metric("cfgc_runtime_refreshes_total", "counter", "Channel polls.", [("", s["polls"])])
    metric("cfgc_runtime_updates_total", "counter", "New versions swapped in.", [("", s["updates"])])
    failures = s["refresh_failures"] or {}
    metric("cfgc_runtime_refresh_failures_total", "counter", "Failed refreshes by reason.",
           [(f'{{reason="{r}"}}', failures.get(r, 0))
            for r in sorted({"unreachable", "verification", "rollback", "expired", "invalid", "cache", "error",
                            *failures})])
    metric("cfgc_runtime_verification_failures_total", "counter",
           "Versions refused: bad signature or digest, replayed pointer.", [("", s["verification_failures"])])
    metric("cfgc_runtime_rollback_rejections_total", "counter", "Channel pointers refused as older than one seen.",
           [("", s["rollback_rejections"])])
    metric("cfgc_runtime_cache_corrupt_blobs_total", "counter", "Cache files found corrupt (and replaced).",
           [("", s["cache_corrupt_blobs"])])
    metric("cfgc_agent_requests_total", "counter", "HTTP requests by status code.",
           [(f'{{code="{c}"}}', n) for c, n in sorted(requests.items())])
    lines.append("# HELP cfgc_agent_request_duration_seconds Time to answer a request (parse to write).")
    lines.append("# TYPE cfgc_agent_request_duration_seconds histogram")
    lines.extend(latency.lines("cfgc_agent_request_duration_seconds"))
    return ("\n".join(lines) + "\n").encode()
