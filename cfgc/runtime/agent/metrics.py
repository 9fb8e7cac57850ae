"""The agent's /metrics: cfgc_* families plus process_*, through prometheus_client.

Both exposition formats scrapers use are served: the Prometheus text format 0.0.4 and, when
``Accept`` asks for ``application/openmetrics-text``, OpenMetrics 1.0.0 (ending ``# EOF``).
The process collector reads /proc, so process_* families exist on Linux only.

prometheus_client is imported on the first scrape, not with the agent: with what it pulls in
(http.server, email, wsgiref, ssl) it is ~10 MB of RSS, a quarter of a sidecar's floor, that an
agent nobody scrapes never needs (docs/runtime.md, *Memory sizing*).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"  # openmetrics.CONTENT_TYPE_LATEST
FAILURE_REASONS = ("unreachable", "verification", "rollback", "expired", "invalid", "cache", "error")


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

    def family(self, name: str, help_: str) -> HistogramMetricFamily:
        from prometheus_client.core import HistogramMetricFamily
        from prometheus_client.utils import floatToGoString

        buckets, acc = [], 0
        for bound, c in zip(BUCKETS, self.counts, strict=False):
            acc += c
            buckets.append((floatToGoString(bound), acc))
        buckets.append(("+Inf", self.n))
        return HistogramMetricFamily(name, help_, buckets=buckets, sum_value=self.total)


def wants_openmetrics(accept: str | None) -> bool:
    """True when a media range of ``Accept`` is application/openmetrics-text with q > 0."""
    for media in (accept or "").split(","):
        kind, *params = (p.strip() for p in media.split(";"))
        if kind.lower() != "application/openmetrics-text":
            continue
        q = next((p.partition("=")[2] for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False


def _gauge(name: str, help_: str, value: float) -> GaugeMetricFamily:
    from prometheus_client.core import GaugeMetricFamily

    return GaugeMetricFamily(name, help_, value=value)


def _counter(name: str, help_: str, value: float) -> CounterMetricFamily:
    from prometheus_client.core import CounterMetricFamily

    return CounterMetricFamily(name, help_, value=value)


def _families(s: dict[str, Any], requests: dict[str, int], latency: Histogram,
              targets: int) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    info = GaugeMetricFamily("cfgc_runtime_info", "The version being served (1 per channel).",
                             labels=["channel", "version", "origin"])
    info.add_metric([str(s["channel"]), str(s["version"] or ""), str(s["origin"] or "")], 1)
    yield info
    yield _gauge("cfgc_runtime_ready", "1 once a verified version is loaded.", int(bool(s["ready"])))
    yield _gauge("cfgc_runtime_serial", "Channel serial of the version served.", s["serial"] or 0)
    yield _gauge("cfgc_runtime_serial_seen", "Highest channel serial seen (replay protection).", s["serial_seen"])
    yield _gauge("cfgc_runtime_targets", "Targets served.", targets)
    yield _gauge("cfgc_runtime_last_success_timestamp_seconds",
                 "When the source was last reached and verified (or unchanged).", s["last_success"] or 0)
    yield _gauge("cfgc_runtime_last_update_timestamp_seconds", "When a new version was last swapped in.",
                 s["last_update"] or 0)
    staleness = s["staleness_seconds"]
    yield _gauge("cfgc_runtime_staleness_seconds", "Seconds since the last successful refresh.",
                 round(staleness, 3) if staleness is not None else float("nan"))
    yield _gauge("cfgc_runtime_stale", "1 when the version served may be out of date.", int(s["stale"]))
    yield _gauge("cfgc_runtime_pointer_expired",
                 "1 when the channel pointer served is past its expiry (frozen store or no refresh).",
                 int(bool(s["expired"])))
    yield _gauge("cfgc_runtime_pointer_expiry_timestamp_seconds", "When the served channel pointer expires.",
                 s["pointer_expires_at"] or 0)
    yield _counter("cfgc_runtime_refreshes_total", "Channel polls.", s["polls"])
    yield _counter("cfgc_runtime_updates_total", "New versions swapped in.", s["updates"])
    failures = s["refresh_failures"] or {}
    by_reason = CounterMetricFamily("cfgc_runtime_refresh_failures_total", "Failed refreshes by reason.",
                                    labels=["reason"])
    for r in sorted({*FAILURE_REASONS, *failures}):
        by_reason.add_metric([r], failures.get(r, 0))
    yield by_reason
    yield _counter("cfgc_runtime_verification_failures_total",
                   "Versions refused: bad signature or digest, replayed pointer.", s["verification_failures"])
    yield _counter("cfgc_runtime_rollback_rejections_total", "Channel pointers refused as older than one seen.",
                   s["rollback_rejections"])
    yield _counter("cfgc_runtime_cache_corrupt_blobs_total", "Cache files found corrupt (and replaced).",
                   s["cache_corrupt_blobs"])
    by_code = CounterMetricFamily("cfgc_agent_requests_total", "HTTP requests by status code.", labels=["code"])
    for code, n in sorted(requests.items()):
        by_code.add_metric([code], n)
    yield by_code
    yield latency.family("cfgc_agent_request_duration_seconds", "Time to answer a request (parse to write).")


class _Snapshot:
    """A collector over one status dict (the registry calls ``collect`` once per exposition)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


_process: Any = None


def render(status: dict[str, Any], requests: dict[str, int], latency: Histogram, targets: int,
           accept: str | None = None) -> tuple[bytes, str]:
    """The /metrics document and its Content-Type, in the format ``accept`` asks for."""
    global _process
    from prometheus_client import CollectorRegistry, ProcessCollector
    from prometheus_client import exposition as text
    from prometheus_client.openmetrics import exposition as openmetrics

    if _process is None:
        _process = ProcessCollector(registry=None)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(list(_families(status, requests, latency, targets))))
    registry.register(_process)
    if wants_openmetrics(accept):
        return openmetrics.generate_latest(registry, version="1.0.0"), OPENMETRICS
    return text.generate_latest(registry), TEXT
