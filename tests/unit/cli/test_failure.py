"""``--format json`` failures print one JSON document (cfgc/cli/failure.py)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cfgc.base.errors import Location
from cfgc.cli.failure import failure_json
from cfgc.cli.main import cli


def test_failure_document_shape() -> None:
    doc = failure_json(1, [("bad value", Location("base/a.yaml", 3, 5)), ("whole file", Location("b.yaml"))])
    assert doc["ok"] is False and doc["exit_code"] == 1 and doc["errors"] == 2
    first, second = doc["diagnostics"]
    assert (first["file"], first["line"], first["col"], first["rule"]) == ("base/a.yaml", 3, 5, "input")
    assert (second["line"], second["col"]) == (None, None)


def test_json_failure_only_with_format_json(tmp_path: Path) -> None:
    runner = CliRunner()
    as_json = runner.invoke(cli, ["versions", "--from", f"file://{tmp_path}/none", "--format", "json"])
    assert as_json.exit_code == 4
    doc = json.loads(as_json.stdout)
    assert doc["diagnostics"][0]["rule"] == "external" and "does not exist" in doc["diagnostics"][0]["message"]
    # The mode does not leak into the next invocation of the same process.
    text = runner.invoke(cli, ["versions", "--from", f"file://{tmp_path}/none"])
    assert text.exit_code == 4 and text.stdout == ""
