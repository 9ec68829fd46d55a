#!/usr/bin/env bash
# Makes redis-server available for the Redis execution-store tests (test/store/redis.test.ts).
# Installs Debian's redis-server when it is missing; starts nothing: each test file starts its
# own server on a free 127.0.0.1 port with its own data dir, and kills it after. The package's
# service is left stopped so that no shared server on 6379 outlives CI. Idempotent and quick.
set -euo pipefail

say() { echo "redis-setup: $*" >&2; }
die() { echo "redis-setup: error: $*" >&2; exit 1; }

if ! command -v redis-server >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "redis-server is missing and installing it needs root: apt-get install -y redis-server"
  say "installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d 101: the package must not start its own daemon (no init system here anyway).
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  [ "$had_policy" = 1 ] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; }
  apt-get install -y -qq redis-server >/dev/null || die "apt-get install redis-server failed"
  [ "$had_policy" = 1 ] || rm -f "$policy"
fi
command -v redis-server >/dev/null 2>&1 || die "redis-server is still missing after the install"
say "$(redis-server --version | head -n1)"
