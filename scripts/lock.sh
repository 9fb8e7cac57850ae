#!/usr/bin/env bash
# Regenerate requirements/lock.txt: the exact versions the test suite runs
# against (runtime and test dependencies), resolved from pyproject.toml.
#
#   bash scripts/lock.sh              # keep locked versions that still satisfy pyproject.toml
#   bash scripts/lock.sh --upgrade    # move every package to its newest allowed release
#
# Uses pip-tools (pip's own resolver, the machine's pip configuration) in a
# throwaway virtualenv.  Commit the result together with the pyproject change
# that needed it, after `bash scripts/test.sh` passes on it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check "pip-tools>=7.4"
"$tmp/venv/bin/pip-compile" --quiet --extra test --strip-extras --no-emit-index-url \
  --no-emit-find-links --output-file requirements/lock.txt "$@" pyproject.toml
echo "wrote requirements/lock.txt" >&2
