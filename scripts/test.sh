#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it.
#
#   bash scripts/test.sh [pytest args...]
#
# Debian packages (docker-registry, age, skopeo) are installed with apt-get when
# missing and we are root.  The servers the tests use (moto, the OCI registry)
# are started by pytest session fixtures on free 127.0.0.1 ports and stopped at
# the end of the run; nothing is left running.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
command -v age >/dev/null 2>&1 || need_apt+=(age)
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "warning: not root; missing ${need_apt[*]} (their tests will be skipped)" >&2
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 | grep -v -E "^(WARNING: (Running pip|Location))" || true

# Lint and types are part of the suite: a red lint is a red build.
python3 -m ruff check cfgc tests
python3 -m mypy cfgc

n=$(nproc 2>/dev/null || echo 2)
exec python3 -m pytest -n "$n" --dist loadgroup -q "$@"
