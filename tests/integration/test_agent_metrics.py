"""A real agent's /metrics parses as Prometheus text 0.0.4 and as OpenMetrics 1.0.0, by Accept."""

from __future__ import annotations

import http.client
import os
import sys
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from cfgc.bundle.signing import load_signer
from cfgc.stores.file import FileStore
from tests.integration.test_agent import Agent, T
from tests.unit.runtime.bundles import Publisher, chat

pytestmark = pytest.mark.integration
PROCESS = ("process_resident_memory_bytes", "process_virtual_memory_bytes", "process_cpu_seconds_total",
           "process_open_fds", "process_max_fds", "process_start_time_seconds")


def scrape(agent: Agent, accept: str | None) -> tuple[str, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=5)
    try:
        conn.request("GET", "/metrics", headers={"Host": "localhost", **({"Accept": accept} if accept else {})})
        r = conn.getresponse()
        assert r.status == 200
        return r.getheader("Content-Type") or "", r.getheader("Vary") or "", r.read().decode()
    finally:
        conn.close()


def samples(families: object) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for f in families:  # type: ignore[attr-defined]
        for s in f.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process_* metrics are read from /proc")
def test_metrics_in_both_formats_from_a_real_agent(tmp_path: Path, signing_key) -> None:
    store = FileStore(tmp_path / "store")
    Publisher(store, tmp_path, load_signer(signing_key[0])).publish({T: chat(1)})
    a = Agent(tmp_path, store.root, signing_key[1], "--target", "acme/*")
    try:
        a.wait(lambda: a.get("/health/ready")[0] == 200, "ready")
        ctype, vary, body = scrape(a, None)
        assert ctype == "text/plain; version=0.0.4; charset=utf-8" and vary == "Accept"
        assert "# EOF" not in body
        text = samples(parse_text(body))

        # what Prometheus 3 sends: OpenMetrics preferred, text as fallback
        ctype, _, body = scrape(a, "application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.3")
        assert ctype == "application/openmetrics-text; version=1.0.0; charset=utf-8"
        assert body.endswith("# EOF\n")
        om = samples(parse_openmetrics(body))  # the strict parser: raises on any format error

        for got in (text, om):
            for name in PROCESS:
                assert got[name][0][1] > 0, name
            assert got["process_open_fds"][0][1] <= got["process_max_fds"][0][1]
            # process_* are this agent's, not the test's
            assert got["process_start_time_seconds"][0][1] >= _start_time(os.getpid()) - 1
            assert got["cfgc_runtime_ready"] == [({}, 1.0)]
            assert got["cfgc_runtime_targets"] == [({}, 1.0)]
            assert got["cfgc_runtime_info"][0][0]["channel"] == "prod"
            assert {lb["reason"] for lb, _ in got["cfgc_runtime_refresh_failures_total"]} >= {"rollback", "expired"}
            assert "cfgc_runtime_pointer_expired" in got and "cfgc_runtime_refreshes_total" in got
            assert got["cfgc_agent_request_duration_seconds_count"][0][1] >= 1
        rss = om["process_resident_memory_bytes"][0][1]
        assert rss == pytest.approx(_rss(a.proc.pid), rel=0.5)

        # a scraper that does not ask for OpenMetrics (or refuses it with q=0) gets text
        assert scrape(a, "application/openmetrics-text;q=0, text/plain")[0].startswith("text/plain; version=0.0.4")
    finally:
        a.stop()


def _start_time(pid: int) -> float:
    """Boot time + the process's start ticks: how process_start_time_seconds is defined."""
    btime = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                 if line.startswith("btime "))
    ticks = float(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def _rss(pid: int) -> float:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return float(pages * os.sysconf("SC_PAGE_SIZE"))


def test_the_manifest_probe_commands_work_against_a_real_agent(tmp_path: Path, signing_key) -> None:
    """deploy/deployment.yaml's exec probes, run as written (port and interpreter substituted)."""
    import subprocess

    import yaml

    dep = next(d for d in yaml.safe_load_all((Path(__file__).parents[2] / "deploy" / "deployment.yaml").read_text()))
    c = dep["spec"]["template"]["spec"]["initContainers"][0]
    listen = c["args"][c["args"].index("--listen") + 1]
    store = FileStore(tmp_path / "store")
    a = Agent(tmp_path, store.root, signing_key[1])  # nothing published: live, not ready

    def probe(name: str) -> int:
        cmd = [sys.executable, *c[name]["exec"]["command"][1:]]
        cmd = [x.replace(listen, f"127.0.0.1:{a.port}") for x in cmd]
        return subprocess.run(cmd, capture_output=True, timeout=10).returncode

    try:
        a.wait(lambda: a.get("/health/live")[0] == 200, "live")
        assert probe("livenessProbe") == 0
        assert probe("readinessProbe") != 0 and probe("startupProbe") != 0
        Publisher(store, tmp_path, load_signer(signing_key[0])).publish({T: chat(1)})
        a.wait(lambda: a.get("/health/ready")[0] == 200, "ready")
        assert probe("readinessProbe") == 0 and probe("startupProbe") == 0
    finally:
        a.stop()
