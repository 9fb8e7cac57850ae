"""The benchmark harness runs end to end from a clone (no timing assertions).

A tiny corpus (1 tenant x 2 environments x 5 services) keeps it short; every
row of the harness still runs, on corpora from benchmarks/corpus.py.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_harness_quick_run(tmp_path: Path) -> None:
    report = tmp_path / "perf.md"
    report.write_text("# Performance\n\nkept text\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--size", "1x2x5",
         "--work", str(tmp_path / "w"), "--report", str(report)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = report.read_text()
    assert "kept text" in text  # only the generated section is rewritten
    assert "`python3 benchmarks/run.py --quick --size 1x2x5`" in text
    assert "| cfgc build, cold (plain) |" in text
    assert "| cfgc build, cold, filling the cache (plain) |" in text
    assert "cfgc build filling the cache / parse-only floor" in text
    assert "| cfgc build, warm cache, one env file changed (5 targets) |" in text
    assert "| cfgc diff HEAD~1..HEAD (one env file: 5 targets) |" in text
    assert "hand-written baseline / cfgc" in text
    assert "cfgc: decrypt 20 files, 1 core" in text and "in-process" in text
    assert re.search(r"\| cfgc check \(full corpus[^|]*\| \d+\.\d{3} \|", text)
    assert "10 targets" in proc.stdout  # the corpus has the size asked for
    assert not (tmp_path / "w" / "out").exists()  # outputs go once nothing is measured


def test_harness_refuses_a_bad_size() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--size", "2x0x5", "--no-report"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "at least 1" in proc.stderr


def test_harness_names_the_interpreter_and_its_cfgc(tmp_path: Path) -> None:
    """--python's probe reports the cfgc that interpreter imports, and how it got it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    import cfgc

    interp = run.probe_interpreter()
    assert interp.path == sys.executable and interp.version == ".".join(map(str, sys.version_info[:3]))
    assert Path(interp.pkg) == Path(cfgc.__file__).resolve().parent
    assert interp.how and interp.how in interp.describe()
