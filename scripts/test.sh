#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it.
#
#   bash scripts/test.sh [--latest | --lowest] [pytest args...]
#
#   (default)   the locked environment: every package at the exact version of
#               requirements/lock.txt, so every machine runs the same suite;
#   --latest    the newest versions pyproject.toml allows (no lock): catches a
#               dependency release that changes behaviour before users meet it;
#   --lowest    every runtime dependency at its declared lower bound
#               (scripts/lowest_constraints.py): keeps the bounds honest.
#
# Each mode installs into its own virtualenv under .venv/ (reused while the
# lock file and pyproject.toml are unchanged), so the machine's Python is left
# alone.  Debian packages (docker-registry, age, skopeo, openssh-client) are installed with
# apt-get when missing and we are root; then every external tool is required:
# a missing tool fails its tests instead of skipping them (CFGC_REQUIRE_TOOLS).
# The servers the tests use (moto, the OCI registry) are started by pytest
# session fixtures on free 127.0.0.1 ports and stopped at the end of the run.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=lock
case "${1:-}" in
  --latest) mode=latest; shift ;;
  --lowest) mode=lowest; shift ;;
esac

need_apt=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
command -v age >/dev/null 2>&1 || need_apt+=(age)
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "warning: not root; missing ${need_apt[*]} (their tests are skipped, see the summary)" >&2
  fi
fi
if [ "$(id -u)" = 0 ] || { [ ${#need_apt[@]} -eq 0 ]; }; then
  export CFGC_REQUIRE_TOOLS=1
fi

venv=".venv/test-$mode"
stamp="$venv/.cfgc-stamp"
want=$(cat requirements/lock.txt pyproject.toml | sha256sum | cut -d' ' -f1)
[ "$mode" = lock ] || want="$want-$(date +%Y-%m-%d)"  # unlocked modes resolve again each day
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "preparing $venv ($mode versions)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
  case "$mode" in
    lock)   "${pip[@]}" -r requirements/lock.txt && "${pip[@]}" --no-deps -e . ;;
    latest) "${pip[@]}" --upgrade --upgrade-strategy eager -e ".[test]" ;;
    lowest) "$venv/bin/python" scripts/lowest_constraints.py > "$venv/lowest.txt"
            "${pip[@]}" -c "$venv/lowest.txt" -e ".[test]" ;;
  esac
  echo "$want" > "$stamp"
fi
export PATH="$PWD/$venv/bin:$PATH"
if [ "$mode" != lock ]; then
  echo "versions under test ($mode):" >&2
  python -m pip list --format=freeze 2>/dev/null | grep -i -E "^(pyyaml|jsonschema|jsonschema-rs|jinja2|click|gitpython|cryptography|pyrage|boto3|deepdiff|regopy)==" | tr '\n' ' ' >&2
  echo >&2
fi

# Lint and types are part of the suite: a red lint is a red build.
python -m ruff check cfgc tests scripts benchmarks
python -m mypy cfgc

n=$(nproc 2>/dev/null || echo 2)
exec python -m pytest -n "$n" --dist loadgroup -q "$@"
