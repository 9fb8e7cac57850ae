"""Microseconds of CPU per target in each stage of compiling a repo, in one process.

    python3 benchmarks/compile_stages.py REPO [--targets N] [--repeat 3]

Compiles the targets of REPO (all, or the first N in build order) the way one
build worker does (compile, validate, encode; nothing is written) and prints,
per target, the CPU time of each stage: parsing layer files, the credential
scan of each file, merging a target's own file over its shared layers, the
walk that finds the late stages' paths, ``$extends``, templates, secret
references, schema validation and the canonical encoding.  Each stage is timed
by wrapping the compiler's own functions (about a microsecond per call of
overhead, included); "compile, other" is what ``Compiler.compile`` spends
outside the named stages (reading files, prompt pins, bookkeeping).  Prints
the median over the repeats, each with a fresh compiler (cold memos, warm
imports).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cfgc.bundle.layout import target_output
from cfgc.compile import compiler as compiler_module
from cfgc.repo.sources import DirSource

# The compiler's module-level names each stage goes through.
STAGES = {
    "load_yaml": "parse layer files",
    "plaintext_findings": "credential scan of files",
    "merge_value": "merge own file",
    "scan": "find late-stage paths",
    "resolve_extends": "$extends",
    "templates_after_extends": "templates after $extends",
    "render_target": "templates",
    "secret_refs": "secret references",
    "refs_after": "secret references",
}


def _timed(fn: Callable[..., Any], label: str, spent: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - start

    return wrapper


def run_once(repo: Path, limit: int | None) -> tuple[int, dict[str, float]]:
    """Seconds of CPU per stage for one pass over the targets of ``repo``."""
    spent: dict[str, float] = defaultdict(float)
    saved = {name: getattr(compiler_module, name) for name in STAGES}
    for name, label in STAGES.items():
        setattr(compiler_module, name, _timed(saved[name], label, spent))
    try:
        comp = compiler_module.Compiler(DirSource(str(repo)))
        specs = comp.specs()
        specs.sort(key=lambda s: (s.layers[:-1], s.name))  # the build's order: shared layers together
        specs = specs[:limit] if limit else specs
        start = time.process_time()
        for spec in specs:
            t0 = time.process_time()
            target = comp.compile(spec)
            t1 = time.process_time()
            comp.validate(target)
            t2 = time.process_time()
            target_output(target)
            t3 = time.process_time()
            comp.release(spec)
            spent["compile"] += t1 - t0
            spent["schema validation"] += t2 - t1
            spent["encode"] += t3 - t2
        spent["total"] = time.process_time() - start
    finally:
        for name, fn in saved.items():
            setattr(compiler_module, name, fn)
    spent["compile, other"] = spent["compile"] - sum(spent[label] for label in set(STAGES.values()))
    return len(specs), spent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", type=Path)
    ap.add_argument("--targets", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    runs = [run_once(args.repo, args.targets) for _ in range(args.repeat)]
    n = runs[0][0]
    labels = [*dict.fromkeys(STAGES.values()), "compile, other", "schema validation", "encode", "total"]
    print(f"{n} targets, median of {args.repeat} runs, CPU microseconds per target")
    for label in labels:
        print(f"  {label:28s} {statistics.median(r[1][label] for r in runs) / n * 1e6:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
