#!/usr/bin/env bash
# Every test of the project. pytest exit status 5 ("no tests collected") counts as a failure here:
# a suite that collects nothing has not proven anything.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0

# The report's browser test needs Chromium: Debian's package, installed here when missing and we are root
# (CI runs as root on a fresh machine). Elsewhere the test says how to get it.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "could not install chromium; the browser test will fail under CI" >&2
fi

"$BIN/python" -m pytest -q -p no:cacheprovider tests/unit tests/sandbox tests/integration tests/faults tests/adversarial ${PYTEST_ARGS:-} || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
[ "$status" -eq 0 ] || exit "$status"

bash tests/sanity.sh || exit $?
