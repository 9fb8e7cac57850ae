"""docs/bundle-format.md's table of how cfgc's canonical JSON differs from RFC 8785 is true."""

import json
import re
from pathlib import Path

from cfgc.base.canonical import canonical_json

DOC = Path(__file__).resolve().parents[3] / "docs" / "bundle-format.md"
ROW = re.compile(r"^\| `(?P<input>[^|]+)` \| `(?P<cfgc>[^|]+)` \| `(?P<jcs>[^|]+)` \|")


def _rows() -> list[tuple[str, str, str]]:
    text = DOC.read_text().split("**Not RFC 8785 (JCS).**", 1)[1].split("\n## ", 1)[0]
    return [(m["input"], m["cfgc"], m["jcs"]) for m in map(ROW.match, text.splitlines()) if m]


def test_the_documented_bytes_are_what_cfgc_writes() -> None:
    rows = _rows()
    assert len(rows) >= 6
    for given, cfgc_bytes, _ in rows:
        assert canonical_json(json.loads(given)).decode() == cfgc_bytes, given

