"""The console examples in docs/*.md are real: each is run and its output compared.

A fenced block with a line ``$ cfgc ...`` is a console example.  The line before
its fence names the scenario that sets up the directory it runs in::

    <!-- doc-test: pull-request -->

(``<!-- doc-test: skip: reason -->`` exempts one; an example with neither fails
this test, so a new example cannot go unchecked).  Each ``$ COMMAND`` runs with
the real console script in the scenario's directory; the lines up to the next
``$`` are its stdout followed by its stderr.  ``$ echo $?`` shows the previous
exit code.  Before comparing, both sides are normalised with these placeholders:

=================================  ===============
``2026-01-01T00:00:00Z``           ``<timestamp>``
10-64 lowercase hex digits         ``<hex>`` (commits, versions, digests)
``0.52s``                          ``<seconds>``
the scenario's temporary folder    its documented path (``/srv/bundles``)
=================================  ===============

A last expected line ``...`` means "more output follows" (only the lines before
it are compared).  Regenerate the outputs after a deliberate change with::

    CFGC_UPDATE_DOCS=1 python3 -m pytest tests/test_doc_examples.py -p no:cacheprovider
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.repos import EXAMPLE, cfgc_bin, git, git_init

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
MARK = re.compile(r"^<!-- doc-test: (.+?) -->$")
UPDATE = os.environ.get("CFGC_UPDATE_DOCS") == "1"

PLACEHOLDERS = [
    (re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"), "<timestamp>"),
    (re.compile(r"\b[0-9a-f]{10,64}\b"), "<hex>"),
    (re.compile(r"\b\d+\.\d+s\b"), "<seconds>"),
]


@dataclass
class Example:
    doc: Path
    start: int  # index of the first line inside the fence
    end: int  # index of the closing fence
    scenario: str
    lines: list[str]


@dataclass
class Scenario:
    cwd: Path
    args: dict[str, str] = field(default_factory=dict)  # documented argument -> real one
    shown: dict[str, str] = field(default_factory=dict)  # real text in output -> documented text
    env: dict[str, str] = field(default_factory=dict)


def _examples() -> list[Example]:
    out = []
    for doc in DOCS:
        lines = doc.read_text().split("\n")
        i = 0
        while i < len(lines):
            if not lines[i].startswith("```"):
                i += 1
                continue
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            body = lines[i + 1 : end]
            if any(line.startswith("$ cfgc ") for line in body):
                m = MARK.match(lines[i - 1]) if i else None
                out.append(Example(doc, i + 1, end, m.group(1) if m else "", body))
            i = end + 1
    return out


# -- scenarios ---------------------------------------------------------------


def _cfgc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([*cfgc_bin(), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, check=True)
    return proc.stdout


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found (the scenario is stale)"
    path.write_text(text.replace(old, new, 1))


def _init(tmp: Path) -> Scenario:
    _cfgc(tmp, "init", "my-config")
    return Scenario(tmp / "my-config")


def _init_broken(tmp: Path) -> Scenario:
    s = _init(tmp)
    _edit(s.cwd / "tenants/example/prod/services/chat.yaml", "timeout_s: 20", "timeout_s: 900")
    return s


def _example(tmp: Path) -> Scenario:
    shutil.copytree(EXAMPLE, tmp / "repo")
    return Scenario(tmp / "repo")


def _pr_edits(repo: Path) -> None:
    """The pull request docs/pull-requests.md describes."""
    _edit(repo / "base/00-providers.yaml", "timeout_s: 45", "timeout_s: 50")
    _edit(repo / "tenants/acme/prod/services/chat.yaml", "timeout_s: 20 ", "timeout_s: 25 ")
    _edit(repo / "tenants/acme/prod/services/summarizer.yaml", "max_tokens: 16000\n",
          "max_tokens: 16000\n    temperature: 1.3\n")


def _pull_request(tmp: Path) -> Scenario:
    s = _example(tmp)
    git_init(s.cwd)
    _pr_edits(s.cwd)
    return s


def _history(tmp: Path) -> Scenario:
    s = _example(tmp)
    git_init(s.cwd)
    _edit(s.cwd / "tenants/acme/prod/services/chat.yaml", "timeout_s: 20 ", "timeout_s: 25 ")
    _edit(s.cwd / "base/00-providers.yaml", "timeout_s: 45", "timeout_s: 50")
    git(s.cwd, "commit", "-qam", "acme: tighter chat timeout, slower anthropic",
        "--author", "Ann Lee <ann@example.com>")
    return s


def _rollback(tmp: Path) -> Scenario:
    """Two versions published to channel prod; the doc promotes back to the first."""
    repo, work, store = _example(tmp).cwd, tmp / "work", tmp / "store"
    work.mkdir()
    env = {"CFGC_REPOSITORY": "acme-config"}
    _cfgc(work, "keys", "generate", "ci")
    versions = []
    for timeout in ("20 ", "25 "):
        _edit(repo / "tenants/acme/prod/services/chat.yaml", "timeout_s: 20 ", f"timeout_s: {timeout}")
        _cfgc(work, "build", "--repo", str(repo), "--out", f"b{timeout.strip()}", "--no-cache")
        doc = json.loads(_cfgc(work, "publish", f"b{timeout.strip()}", "--to", f"file://{store}", "--channel",
                               "prod", "--key", "ci.key", "--format", "json", env=env))
        versions.append(doc["version"])
    return Scenario(work, args={"file:///srv/bundles": f"file://{store}", "e7508f41a210": versions[0]},
                    shown={str(store): "/srv/bundles", versions[0]: "e7508f41a210", versions[1]: "7268b7af567f"},
                    env=env)


SCENARIOS: dict[str, Callable[[Path], Scenario]] = {
    "init": _init, "init-broken": _init_broken, "example": _example, "pull-request": _pull_request,
    "history": _history, "rollback": _rollback,
}


# -- running and comparing ---------------------------------------------------


def normalise(text: str) -> str:
    """``text`` with the placeholders of the module docstring."""
    for pattern, placeholder in PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return text


def _run(example: Example, s: Scenario) -> list[str]:
    """The block as the commands print it today (``...`` truncation kept)."""
    out: list[str] = []
    rc = 0
    commands = [(i, line[2:]) for i, line in enumerate(example.lines) if line.startswith("$ ")]
    for n, (i, command) in enumerate(commands):
        nxt = commands[n + 1][0] if n + 1 < len(commands) else len(example.lines)
        expected = example.lines[i + 1 : nxt]
        out.append(f"$ {command}")
        if command == "echo $?":
            text = f"{rc}\n"
        else:
            argv = [s.args.get(a, a) for a in shlex.split(command)]
            assert argv[0] == "cfgc", f"{example.doc.name}: only cfgc commands run: {command}"
            proc = subprocess.run([*cfgc_bin(), *argv[1:]], cwd=s.cwd, capture_output=True, text=True,
                                  timeout=120, env={**os.environ, "COLUMNS": "100", **s.env})
            rc, text = proc.returncode, proc.stdout + proc.stderr
        for real, shown in s.shown.items():
            text = text.replace(real, shown)
        got = text.rstrip("\n").split("\n") if text.strip() else []
        trailing = len(expected) - len("\n".join(expected).rstrip("\n").split("\n")) if expected else 0
        if "..." in expected:
            got = [*got[: expected.index("...")], "..."]
        out.extend([*got, *[""] * trailing])
    return out


EXAMPLES = _examples()


def test_every_console_example_names_a_scenario() -> None:
    assert EXAMPLES, "no console examples found in docs/"
    for ex in EXAMPLES:
        assert ex.scenario, f"{ex.doc.name}:{ex.start}: console example without a <!-- doc-test: ... --> line"
        assert ex.scenario.startswith("skip:") or ex.scenario in SCENARIOS, \
            f"{ex.doc.name}:{ex.start}: unknown scenario {ex.scenario!r}"


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.scenario in SCENARIOS],
                         ids=lambda e: f"{e.doc.stem}:{e.start}")
def test_console_example_output_is_current(example: Example, tmp_path: Path) -> None:
    got = _run(example, SCENARIOS[example.scenario](tmp_path))
    want = normalise("\n".join(example.lines))
    if UPDATE and normalise("\n".join(got)) != want:  # only real changes: no churn of digests and times
        lines = example.doc.read_text().split("\n")
        # Earlier examples of the same file may have moved it: find the block again, nearest first.
        found = [j for j in range(2, len(lines)) if lines[j - 2 : j + len(example.lines)] ==
                 [f"<!-- doc-test: {example.scenario} -->", *lines[j - 1 : j], *example.lines]]
        start = min(found, key=lambda j: abs(j - example.start))
        lines[start : start + len(example.lines)] = got
        example.doc.write_text("\n".join(lines))
        return
    assert normalise("\n".join(got)) == want, (
        f"{example.doc.name}:{example.start} differs from what cfgc prints; if the change is intended run "
        "CFGC_UPDATE_DOCS=1 python3 -m pytest tests/test_doc_examples.py")
