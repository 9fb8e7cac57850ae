"""Secret hygiene over a whole repo: the values-first, fanned-out scan finds
what the one-file-at-a-time scan with the careful loader (and its marks) finds.

:func:`cfgc.compile.hygiene.hygiene_findings` loads each file without source
positions (the fast path when the file allows it), parses positions again only
for a file with a finding, and scans the files on every core.  The reference
here is the scan as it was: every file through the careful loader, serially.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import InputError
from cfgc.base.loading import load_yaml
from cfgc.base.secretrefs import is_sops_document
from cfgc.compile import hygiene
from cfgc.repo.config import load_config
from cfgc.repo.sources import DirSource

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus  # noqa: E402

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
OPENAI = "sk-proj-C4nary0penAIk3yDoNotEcho9x"
AWS = "AKIAC4NARY0DONOTECH0"
ENTROPY = "Qz7Xk2Lp9Wm4Rt8Vn3Bc"


def _reference(source: DirSource, root: Path) -> list[tuple[Any, ...]]:
    config = load_config(source)
    rules, out = hygiene._creation_rules(source)  # noqa: SLF001 - the reference reuses the rule parsing
    for path in hygiene.candidate_files(source, config):
        raw = source.read(path)
        if path.lower().endswith(".json"):
            raw = raw.replace(b"\t", b" ")
        try:
            doc = load_yaml(raw, path)  # the careful loader, marks recorded as it parses
        except InputError:
            continue
        if not isinstance(doc.data, dict):
            continue
        encrypted = is_sops_document(doc.data)
        out += hygiene.plaintext_findings(doc, encrypted)
        if encrypted:
            out += hygiene._sops_checks(doc, rules, config, NOW)  # noqa: SLF001
    return [_row(d) for d in out]


def _row(d: Diagnostic) -> tuple[Any, ...]:
    return d.severity, d.rule, d.message, str(d.location), d.targets


def _plant(root: Path) -> None:
    """Credentials in files of every kind: plain YAML, tagged YAML, JSON with tabs, flow style."""
    for i, layer in enumerate(sorted(root.glob("tenants/*/*/services/*.yaml"))[::7]):
        with open(layer, "a", encoding="utf-8") as f:
            f.write(f"extra_{i}:\n  api_key: {OPENAI}\n  nested: {{token: {ENTROPY}}}\n")
    (root / "tenants" / "plain.yaml").write_text(f"aws:\n  access_key_id: {AWS}\nlist:\n  - password: {ENTROPY}\n")
    (root / "tenants" / "tagged.yaml").write_text(f"a: &x {{secret: {ENTROPY}}}\nb: *x\nc: !append [{OPENAI}]\n")
    (root / "tenants" / "data.json").write_text('{\n\t"client_secret":\t"' + ENTROPY + '",\n\t"n": [1, "' + AWS + '"]\n}\n')
    (root / "tenants" / "broken.yaml").write_text("a: [\n")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_same_findings_as_the_careful_serial_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str) -> None:
    root = tmp_path / "full"
    corpus.generate(root, 2, 3, 70, seed=5)  # 420 targets: enough files to fan out
    _plant(root)
    monkeypatch.setenv("CFGC_JOBS", jobs)
    source = DirSource(root)
    found = [_row(d) for d in hygiene.hygiene_findings(source, load_config(source), NOW)]
    assert found == _reference(source, root)
    assert sum(OPENAI[:3] not in r[2] and "openai" in r[2].lower() for r in found) >= 5  # planted ones found
    assert any(r[3].startswith("tenants/data.json:2:") for r in found)
    assert all(OPENAI not in r[2] and ENTROPY not in r[2] for r in found)
