"""Differential: the check's locating shortcuts (a key the layers set under an
``$extends`` located from the merge alone, the pinned-reference memo, each
target's own file released once it is checked) give byte-identical JSON and
SARIF to the slow path (every location from the fully resolved tree, nothing
remembered or released), on a generated corpus whose policy findings point at
one line many targets share, at lines a tenant overrides (a plain key, a key
under an ``$extends``, a key deleted so that the base supplies it) and at each
target's own file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cfgc.compile import provenance
from cfgc.compile.compiler import Compiler
from cfgc.review import llm_prompts
from tests.fixtures.cli import run

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"


SHARED = """\
package main

import rego.v1

warn contains {"msg": sprintf("models.%s.timeout_s is %v", [name, m.timeout_s]),
               "path": sprintf("models.%s.timeout_s", [name])} if {
	some name, m in input.config.models
	name in {"fast", "long"}
	m.timeout_s >= 0
}

warn contains {"msg": "org.region is set", "path": "org.region"} if {
	input.config.org.region
}
"""


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(BENCH))
    try:
        import corpus
    finally:
        sys.path.pop(0)
    root = tmp_path_factory.mktemp("locate") / "repo"
    corpus.generate(root, 3, 2, 4, seed=5)
    (root / "policies" / "shared.rego").write_text(SHARED)
    # tenant-001 overrides a key set under an $extends; tenant-002 deletes it,
    # so the provider the model extends supplies it again.
    _append(root / "tenants/tenant-001/tenant.yaml", "models:\n  fast:\n    timeout_s: 11\n")
    _append(root / "tenants/tenant-002/tenant.yaml", "models:\n  fast:\n    timeout_s: !delete\n")
    return root


def _outputs(repo: Path) -> list[str]:
    out = []
    for fmt in ("json", "sarif"):
        code, text = run("check", "--repo", str(repo), "--format", fmt, "-j", "1", "--no-cache")
        assert code in (0, 1), text
        out.append(text)
    return out


# A target's locations come from one Provenance, which keeps the resolved tree
# once a location needed it: the policy names only keys the layers set (or the
# deleted one) so that each is the first the target asks for.


def test_shortcuts_give_the_slow_paths_output(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _outputs(repo)
    findings = json.loads(fast[0])["diagnostics"]
    shared = [d for d in findings if d["message"] == "models.fast.timeout_s is 10"]
    assert shared and len(shared[0]["targets"]) > 1  # one line, many targets
    assert any(d["file"].endswith("tenant-001/tenant.yaml") for d in findings if "timeout_s is 11" in d["message"])
    assert any("/services/" in d["file"] for d in findings)  # each target's own file too
    with monkeypatch.context() as m:
        m.setattr(provenance, "_own_location", lambda root, path, text: None)
        m.setattr(Compiler, "release", lambda self, spec: None)
        m.setattr(llm_prompts, "MAX_REMEMBERED_REF_CHARS", -1)
        slow = _outputs(repo)
    assert fast == slow


def test_kept_findings_give_the_same_output(repo: Path, tmp_path: Path) -> None:
    expected = _outputs(repo)
    cache = ("--cache-dir", str(tmp_path / "cache"))
    for _ in range(2):  # cold, then every target's findings kept
        got = [run("check", "--repo", str(repo), "--format", fmt, "-j", "1", *cache)[1] for fmt in ("json", "sarif")]
        assert got == expected
