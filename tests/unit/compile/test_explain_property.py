"""Property: every key and list item of every target explains, at a line that holds it.

Runs on examples/repo and on small generated corpora (benchmarks/corpus.py:
merge tags, $extends chains, templates, prompts, SOPS files).  For each path
the explanation renders as text and JSON without error, its last contribution
is in one of the target's layer files, and for a scalar that last
contribution's value is the resolved value (unless a template or ``!prompt``
produced it) and is written at that line of the file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.secretrefs import SecretRef, jsonable
from cfgc.cli.explain import json_doc, text_lines
from cfgc.compile.compiler import CompiledTarget, Compiler
from cfgc.compile.explain import explain
from cfgc.repo.sources import open_source
from cfgc.secrets.redact import MARKER

ROOT = Path(__file__).resolve().parents[3]


def paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out = [(path, value)]
    if type(value) is dict:
        for k, v in value.items():
            out += paths(v, (*path, k))
    elif type(value) is list:
        for i, v in enumerate(value):
            out += paths(v, (*path, i))
    return out


def spellings(v: Any) -> list[str]:
    if isinstance(v, bool):
        return ["true", "false"] if v else ["false"]
    if isinstance(v, str):
        return [v.splitlines()[0] if v.strip() else v]
    return [str(v), json.dumps(v)]


def check_target(repo: Path, target: CompiledTarget) -> int:
    texts = {p: (repo / p).read_text().splitlines() for p in target.spec.layers}
    checked = 0
    for path, value in paths(target.value):
        ex = explain(target, path)
        text_lines(ex)
        json.dumps(json_doc(ex), default=jsonable)
        if type(value) in (dict, list) and not value and not ex.contributions:
            continue
        assert ex.contributions, (target.name, path)
        last = ex.contributions[-1]
        assert last.location.path in texts, (target.name, path, last)
        if type(value) in (dict, list) or value is None or type(value) is SecretRef:
            continue
        raw = target.provenance.history(path)[-1].value  # unredacted, as written
        templated = isinstance(raw, str) and ("{{" in raw or "{%" in raw or raw.startswith("!prompt "))
        if not templated and not (isinstance(ex.value, str) and MARKER.fullmatch(ex.value)):
            assert raw == value, (target.name, path, raw, value)
        lines = texts[last.location.path]
        near = "\n".join(lines[last.location.line - 1 : last.location.line + 40]).lower()
        want = spellings(raw[len("!prompt "):] if templated and raw.startswith("!prompt ") else raw)
        assert any(s.lower() in near for s in want), (target.name, path, last.location, raw)
        if type(path[-1]) is int:  # a list item is located at the item itself, not its list
            at = lines[last.location.line - 1][last.location.col - 1 :].lstrip("\"'").lower()
            assert any(at.startswith(s.lower()) for s in want), (target.name, path, last.location, raw)
        checked += 1
    return checked


def check_repo(repo: Path) -> int:
    compiler = Compiler(open_source(repo, None))
    return sum(check_target(repo, compiler.compile(spec)) for spec in compiler.specs())


def test_every_path_of_the_example_repo_explains_at_its_line() -> None:
    assert check_repo(ROOT / "examples" / "repo") > 500


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_path_of_a_generated_corpus_explains_at_its_line(tmp_path: Path, seed: int) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from corpus import generate
    finally:
        sys.path.pop(0)
    generate(tmp_path / "repo", tenants=2, envs=2, services=3, seed=seed)
    assert check_repo(tmp_path / "repo") > 200
