"""Docs that are generated must be current; docs that show commands must show real ones."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_cli_reference.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_cli_reference_lists_the_short_help_option() -> None:
    text = (ROOT / "docs" / "cli-reference.md").read_text()
    sections = text.count("\n## `cfgc")
    assert sections > 10 and text.count("-h, --help") == sections


def test_readme_quick_start_has_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0].strip() for b in quick.split("```sh\n")[1:]]
    assert len(blocks) == 2
    assert "examples/repo" in blocks[0] and "file://" in blocks[0]
    assert blocks[1] == "bash scripts/test.sh"
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_docs_link_targets_exist() -> None:
    import re

    for md in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", md.read_text()):
            assert (md.parent / target).exists(), f"{md.name} links to missing {target}"
