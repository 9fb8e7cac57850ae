"""Every refused input: exit 1, the exact file:line:col, no traceback."""

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "bad"
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["validate", "build"])
def test_bad_input(case: str, command: str, run_cfgc, tmp_path: Path) -> None:
    expected = (DATA / case / "expected.txt").read_text().strip()
    args = [command, "--repo", DATA / case]
    if command == "build":
        args += ["--out", tmp_path / "out"]
    proc = run_cfgc(*args)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert expected in output
    assert "Traceback" not in output
    if command == "build":
        assert not (tmp_path / "out").exists()


def test_cases_cover_every_refusal_of_the_issue() -> None:
    for needed in ["yaml-duplicate-key", "yaml-unknown-tag", "yaml-not-utf8", "yaml-alias-bomb",
                   "yaml-deep-nesting", "config-bad-version", "config-unknown-key", "config-unbound-variable"]:
        assert needed in CASES


def test_json_format_reports_the_same_location(run_cfgc) -> None:
    import json

    proc = run_cfgc("validate", "--repo", DATA / "schema-maximum", "--format", "json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["errors"] == 1
    d = doc["diagnostics"][0]
    assert (d["file"], d["line"], d["col"]) == ("envs/dev/chat.yaml", 3, 3)
    assert d["rule"] == "schema" and d["targets"] == ["dev/chat"]


def test_debug_shows_the_traceback(run_cfgc) -> None:
    proc = run_cfgc("--debug", "validate", "--repo", DATA / "yaml-duplicate-key")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr  # findings are reported, not raised
    proc = run_cfgc("--debug", "validate", "--repo", DATA / "config-bad-version")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
