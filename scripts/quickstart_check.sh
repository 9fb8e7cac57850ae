#!/usr/bin/env bash
# Prove the README's Quick start as a new user meets it: a fresh clone of the
# committed tree, a brand-new virtualenv, the first Quick start command run twice
# in a row (the second run starts from the first one's output).
#
#   bash scripts/quickstart_check.sh [--tests]   # --tests also runs the second command
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
git clone -q "$src" "$d/cfgc"
python3 -m venv "$d/venv"
# The commands are read from the README itself, so the check cannot drift from it.
mapfile -t cmds < <(python3 - "$src/README.md" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
for block in re.findall(r"```sh\n(.*?)```", section, re.S):
    print(" ".join(line.strip() for line in block.strip().splitlines()))
PY
)
[ ${#cmds[@]} -ge 2 ] || { echo "README Quick start must hold two sh blocks" >&2; exit 1; }
cd "$d/cfgc"
export PATH="$d/venv/bin:$PATH"
for run in 1 2; do
  echo "quick start, run $run: ${cmds[0]}" >&2
  bash -euo pipefail -c "${cmds[0]}"
done
if [ "${1:-}" = --tests ]; then
  echo "quick start: ${cmds[1]}" >&2
  bash -euo pipefail -c "${cmds[1]}"
fi
echo "quick start: ok" >&2
