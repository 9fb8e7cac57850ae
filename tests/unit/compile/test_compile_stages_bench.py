"""benchmarks/compile_stages.py times the compiler's own stages: every name it
wraps is one the compiler calls, and its split adds up."""

from __future__ import annotations

import sys
from pathlib import Path

from cfgc.compile import compiler as compiler_module

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import compile_stages  # noqa: E402


def test_every_stage_is_a_name_the_compiler_calls() -> None:
    for name in compile_stages.STAGES:
        assert callable(getattr(compiler_module, name)), name


def test_the_stages_of_the_example_repo_add_up() -> None:
    n, spent = compile_stages.run_once(ROOT / "examples" / "repo", None)
    assert n > 0
    named = sum(spent[label] for label in compile_stages.STAGES.values())
    assert spent["compile"] >= named
    assert spent["total"] >= spent["compile"] + spent["schema validation"] + spent["encode"] - 1e-3
    assert spent["parse layer files"] > 0  # the wrappers were in place
    # The compiler's own functions are back after the run.
    assert all(not getattr(compiler_module, name).__qualname__.startswith("_timed") for name in compile_stages.STAGES)
