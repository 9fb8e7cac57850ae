"""A loose smoke check that the benchmark harness runs end to end (no timing assertions)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT.parent / "shared" / "bench" / "gen_corpus.py"


@pytest.mark.skipif(not GEN.exists(), reason="../shared/bench/gen_corpus.py is not beside the checkout")
def test_harness_quick_run(tmp_path: Path) -> None:
    report = tmp_path / "perf.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--work", str(tmp_path / "w"),
         "--report", str(report)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = report.read_text()
    assert "| cfgc build, cold (plain) |" in text
    assert "hand-written baseline / cfgc" in text
    assert "cfgc: decrypt 20 files, 1 core" in text and "in-process" in text
