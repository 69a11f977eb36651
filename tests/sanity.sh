#!/usr/bin/env bash
# ansible-test sanity on the collection exactly as it ships: build the tarball, install it under
# build/sanity/ansible_collections/msp/conditional_access, and run the sanity tests there.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"
# ansible-test downloads a pip bootstrap script from a host this machine cannot reach; give it ours
PIP_VERSION=$(grep -oP "pip='\K[0-9.]+" .venv/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py)
CACHE=~/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py
mkdir -p "$(dirname "$CACHE")" && cp tests/get_pip_offline.py "$CACHE"
OUT=build/sanity
rm -rf "$OUT" && mkdir -p "$OUT/dist"
"$BIN/ansible-galaxy" collection build --force --output-path "$OUT/dist" . >/dev/null
"$BIN/ansible-galaxy" collection install --force -p "$OUT" "$OUT"/dist/msp-conditional_access-*.tar.gz >/dev/null
REPO_ROOT=$PWD
cd "$OUT/ansible_collections/msp/conditional_access"
# ansible-test wants a version-control root; a throwaway one is enough
git init -q . && git add -A >/dev/null && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity
export PATH="$BIN:$PATH"
"$BIN/ansible-test" sanity --python 3.11 --requirements ${SANITY_ARGS:-} \
  > sanity.log 2>&1 && status=0 || status=$?
# pip noise hides the findings: show the findings, keep the full log
grep -E "^(ERROR|FATAL|Running sanity test)" sanity.log || true
cp sanity.log "$REPO_ROOT/build/sanity.log" 2>/dev/null || true
exit "$status"
