#!/usr/bin/env bash
# Every test of the project. pytest exit status 5 ("no tests collected") counts as a failure here:
# a suite that collects nothing has not proven anything.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0

"$BIN/python" -m pytest -q -p no:cacheprovider tests/unit tests/sandbox tests/integration tests/faults tests/adversarial ${PYTEST_ARGS:-} || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
[ "$status" -eq 0 ] || exit "$status"

bash tests/sanity.sh || exit $?
