#!/usr/bin/env bash
# Mutation testing of the core modules, each against its OWN unit tests only.
#
#   bash scripts/mutation.sh                 # every module in the table below, one after another
#   bash scripts/mutation.sh merging semver  # just these
#   MUTATION_SHOW=1 bash scripts/mutation.sh merging   # also print each survivor's diff
#   MUTATION_JOBS=2 bash scripts/mutation.sh           # parallel mutant runs (default 1)
#
# Each module runs in a throwaway copy of the tree (so a run never touches the
# working copy and two runs never share mutmut state), with a [tool.mutmut]
# section naming that one module and its test files.  Prints one line per module:
#   <module> killed=K survived=S no_tests=N timeout=T total=M score=P%
# where score = (killed + timeout) / (total - skipped).  Survivors are listed
# under it.  docs/testing.md holds the current scores and why each survivor left
# is equivalent.  Exit status 1 if any module scored under MUTATION_MIN (default 0).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

# module name -> "source files|test files" (space separated, repo-relative).
# The tests are the module's own unit tests: never tests that reach it only
# through the pipeline, and never integration tests.
declare -A MODULES=(
  [merging]="cfgc/compile/merging.py|tests/unit/compile/test_merging.py"
  [semver]="cfgc/compile/semver.py cfgc/compile/semver_desugar.py cfgc/compile/semver_re.py|tests/unit/compile/test_semver.py"
  [loading]="cfgc/base/loading.py cfgc/base/yaml_read.py cfgc/base/yaml_compose.py cfgc/base/yaml_core.py cfgc/base/yaml_alias.py cfgc/base/yaml_build.py cfgc/base/yaml_tags.py|tests/unit/base/test_loading.py tests/unit/base/test_loading_bounds.py tests/unit/base/test_yaml_core_schema.py tests/unit/base/test_loading_steps.py tests/unit/base/test_yaml_read.py tests/unit/base/test_yaml_build_core.py"
  [extends]="cfgc/compile/extends.py|tests/unit/compile/test_extends.py"
  [templating]="cfgc/compile/templating.py|tests/unit/compile/test_templating.py tests/unit/compile/test_template_bounds.py"
  [secrets/mac]="cfgc/secrets/mac.py|tests/unit/secrets/test_mac.py tests/unit/secrets/test_secrets_rules_mac.py"
  [secrets/document]="cfgc/secrets/document.py|tests/unit/secrets/test_secrets_document.py tests/unit/secrets/test_secrets_document_edges.py"
  [stores/pointer]="cfgc/stores/pointer.py|tests/unit/stores/test_pointer.py"
  [runtime/sync]="cfgc/runtime/sync.py|tests/unit/runtime/test_sync.py"
)
ORDER=(merging semver loading extends templating secrets/mac secrets/document stores/pointer runtime/sync)

if [ $# -gt 0 ]; then ORDER=("$@"); fi
for m in "${ORDER[@]}"; do
  [ -n "${MODULES[$m]+x}" ] || { echo "unknown module: $m (known: ${!MODULES[*]})" >&2; exit 2; }
done
python3 -c 'import importlib.metadata as md; md.version("mutmut")' 2>/dev/null || { echo "mutmut is not installed: pip install -e '.[test]'" >&2; exit 4; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for m in "${ORDER[@]}"; do
  spec=${MODULES[$m]}
  sources=${spec%%|*}
  tests=${spec#*|}
  d="$work/${m//\//_}"
  mkdir -p "$d"
  # tests/ whole (helpers, conftest, data), cfgc/ whole (the mutated module imports its siblings).
  cp -r "$src/cfgc" "$src/tests" "$d/"
  find "$d" -name __pycache__ -prune -exec rm -rf {} +
  existing=()
  for t in $tests; do [ -e "$src/$t" ] && existing+=("$t"); done
  python3 - "$src/pyproject.toml" "$d/pyproject.toml" "$sources" "${existing[@]}" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
out, sources, tests = sys.argv[2], sys.argv[3].split(), sys.argv[4:]
args = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", "-o", "addopts="]
text += (
    "\n[tool.mutmut]\n"
    'source_paths = ["cfgc"]\n'
    f"only_mutate = {json.dumps(sources)}\n"
    f"pytest_add_cli_args = {json.dumps(args)}\n"
    f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
    "use_git_change_detection = false\n"
    # Each mutant in a child of a process that only collected the tests: with
    # mutmut's default (fork from the process that ran the stats pass) module
    # caches filled then (lru_cache, lazily compiled patterns) outlive the
    # mutation and hide it.
    'process_isolation = "forkserver"\n'
)
open(out, "w").write(text)
PY
  echo "== $m: mutating $sources against ${existing[*]}" >&2
  (
    cd "$d"
    # The project's own tree must not shadow the mutated copy.
    unset PYTHONPATH
    python3 -m mutmut run --max-children "${MUTATION_JOBS:-1}" >"$d/run.log" 2>&1 || {
      tail -30 "$d/run.log" >&2
      exit 1
    }
    python3 -m mutmut export-cicd-stats >/dev/null
    python3 -m mutmut results >"$d/survivors.txt"
  ) || { echo "$m: mutmut failed" >&2; status=1; continue; }
  line=$(python3 - "$m" "$d/mutants/mutmut-cicd-stats.json" "${MUTATION_MIN:-0}" <<'PY'
import json, sys
m, s, floor = sys.argv[1], json.load(open(sys.argv[2])), float(sys.argv[3])
tested = s["total"] - s["skipped"]
score = 100.0 * (s["killed"] + s["timeout"]) / tested if tested else 0.0
print(f"{m} killed={s['killed']} survived={s['survived']} no_tests={s['no_tests']} "
      f"timeout={s['timeout']} total={s['total']} score={score:.1f}%"
      + ("" if score >= floor else f"  BELOW {floor:g}%"))
PY
)
  echo "$line"
  case $line in *BELOW*) status=1 ;; esac
  [ -n "${MUTATION_SHOW:-}" ] || sed 's/^ */  /' "$d/survivors.txt"
  if [ -n "${MUTATION_SHOW:-}" ]; then
    # One process for all diffs: `mutmut show` per survivor costs a second each.
    (cd "$d" && python3 - "$d/survivors.txt" <<'PY'
import sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
for line in open(sys.argv[1]):
    name = line.strip().split(":")[0]
    if not name:
        continue
    print(f"  {name}")
    for d in get_diff_for_mutant(name).splitlines():
        if d[:1] in "+-" and d[:3] not in ("+++", "---"):
            print(f"    {d}")
PY
    )
  fi
done
exit $status
