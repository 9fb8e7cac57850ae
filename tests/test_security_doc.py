"""docs/security.md: every test, test file and hostile case it cites exists.

The threat model promises a test behind each guarantee; this keeps the
citations honest as tests are renamed or moved.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "security.md").read_text()
HOSTILE = ROOT / "tests" / "data" / "hostile"
CODE = [c.strip("`") for c in re.findall(r"`[^`\n]+`", DOC)]


def _test_names() -> set[str]:
    names: set[str] = set()
    for p in (ROOT / "tests").rglob("test_*.py"):
        names.add(p.stem)  # a module cited by name
        names |= set(re.findall(r"^\s*def (test_\w+)", p.read_text(), re.M))
    return names


def test_cited_test_files_exist() -> None:
    cited = {c.split("::")[0] for c in CODE if c.startswith("tests/")}
    assert cited, "the threat model cites its tests"
    missing = sorted(c for c in cited if "<" not in c and not list(ROOT.glob(c.rstrip("/"))))
    assert not missing


def test_cited_test_functions_exist() -> None:
    names = _test_names()
    cited = set()
    for c in CODE:
        cited |= {m for m in re.findall(r"\b(test_\w+)", c) if not m.endswith("_")}
    cited = {c for c in cited if not c.startswith("test_corpus")}
    missing = sorted(c for c in cited if c not in names and not any(n.startswith(c) for n in names))
    assert not missing


def test_cited_hostile_cases_exist() -> None:
    cases = [p.name for p in HOSTILE.iterdir() if p.is_dir()]
    prefixes = {c.split("-")[0] for c in cases}
    cited = set()
    for c in CODE:
        for word in re.split(r"[\s,]+", c):
            if word.split("-")[0] in prefixes and "-" in word and "/" not in word:
                cited.add(word)
    assert cited
    missing = sorted(w for w in cited if not fnmatch.filter(cases, w if "*" in w else w))
    assert not missing
