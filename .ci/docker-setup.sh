#!/usr/bin/env bash
# Prepares Docker for the toolexec Docker runtime and its tests: installs docker.io and gVisor
# (runsc) when missing, registers runsc in /etc/docker/daemon.json, starts dockerd when it is not
# answering, and builds the sandbox image offline. Idempotent and quick when everything is in place.
# No registry is assumed reachable: nothing is pulled, the image is built from local files.
#
# Environment:
#   TOOLEXEC_DOCKERD_LOG      where dockerd's output goes (default /var/log/toolexec-dockerd.log)
#   TOOLEXEC_DOCKERD_WAIT_S   how long to wait for dockerd to answer (default 60)
#   TOOLEXEC_DOCKERD_ARGS     extra arguments for dockerd when this script starts it
#   TOOLEXEC_SKIP_IMAGE=1     do not build the sandbox image
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
log_file="${TOOLEXEC_DOCKERD_LOG:-/var/log/toolexec-dockerd.log}"
wait_s="${TOOLEXEC_DOCKERD_WAIT_S:-60}"
daemon_json=/etc/docker/daemon.json

say() { echo "docker-setup: $*" >&2; }
die() { echo "docker-setup: error: $*" >&2; exit 1; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  # Without root we can still use an engine someone else started; installing needs sudo.
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo_cmd=(sudo -n); fi
fi
as_root() {
  if [ "$(id -u)" -eq 0 ] || [ ${#sudo_cmd[@]} -gt 0 ]; then "${sudo_cmd[@]}" "$@"; else
    die "need root for: $* (run as root, or start Docker yourself and re-run)"; fi
}

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

# 1. Packages. apt-get update only when something is actually missing.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v runsc >/dev/null 2>&1 || missing+=(runsc)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  if ! as_root apt-get install -y -qq "${missing[@]}" >/dev/null; then
    # runsc is optional (the gVisor tests skip without it); docker.io is not.
    command -v dockerd >/dev/null 2>&1 || die "could not install docker.io"
    say "warning: could not install ${missing[*]}; gVisor tests will be skipped"
  fi
fi
command -v docker >/dev/null 2>&1 || die "the docker CLI is missing after install"

# 2. Register runsc. gVisor refuses to start with host networking in the root namespace unless
# told --network=none; our containers never have a network anyway. The merge keeps every other
# key the file already has and only rewrites it when something changes.
config_changed=0
if command -v runsc >/dev/null 2>&1; then
  runsc_path="$(command -v runsc)"
  as_root mkdir -p /etc/docker
  merge_out="$(as_root node -e '
    const fs = require("fs");
    const [file, runscPath] = process.argv.slice(1);
    let cfg = {};
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, "utf8");
      if (text.trim()) {
        try { cfg = JSON.parse(text); } catch (e) { console.error(`${file} is not valid JSON: ${e.message}`); process.exit(2); }
      }
    }
    const want = { path: runscPath, runtimeArgs: ["--network=none"] };
    cfg.runtimes = cfg.runtimes || {};
    const before = JSON.stringify(cfg.runtimes.runsc || null);
    cfg.runtimes.runsc = { ...(cfg.runtimes.runsc || {}), ...want };
    if (JSON.stringify(cfg.runtimes.runsc) === before) { console.log("same"); process.exit(0); }
    fs.writeFileSync(file + ".tmp", JSON.stringify(cfg, null, 2) + "\n");
    fs.renameSync(file + ".tmp", file);
    console.log("changed");
  ' "$daemon_json" "$runsc_path")" || die "could not update $daemon_json"
  if [ "$merge_out" = changed ]; then config_changed=1; say "registered runsc in $daemon_json"; fi
fi

# 3. dockerd. A running daemon keeps its old config until it reloads: runtimes are reloadable
# with SIGHUP, so there is no need to restart it.
if docker_answers; then
  if [ "$config_changed" = 1 ]; then
    pid="$(pgrep -xo dockerd || true)"
    if [ -n "$pid" ]; then as_root kill -HUP "$pid"; sleep 1; say "reloaded dockerd config"; fi
  fi
else
  start_dockerd() {
    say "starting dockerd $* (log: $log_file)"
    as_root mkdir -p "$(dirname "$log_file")"
    # setsid + nohup: the daemon must outlive this script and the CI step's process group.
    as_root sh -c "setsid nohup dockerd $* >>'$log_file' 2>&1 < /dev/null &"
  }
  retried=0
  if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd is running but not answering yet; waiting"
  else
    start_dockerd ${TOOLEXEC_DOCKERD_ARGS:-}
  fi
  deadline=$(( $(date +%s) + wait_s ))
  until docker_answers; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "docker-setup: error: dockerd did not answer within ${wait_s}s; last lines of $log_file:" >&2
      tail -n 30 "$log_file" >&2 2>/dev/null || true
      exit 1
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
      # In a nested container the daemon often cannot program iptables or create its bridge.
      # The sandboxes never use a network (NetworkMode none), so run without both.
      if [ "$retried" = 0 ] && tail -n 30 "$log_file" 2>/dev/null | grep -qiE 'iptables|bridge|nat'; then
        retried=1
        say "dockerd could not set up networking; retrying without iptables and the default bridge"
        start_dockerd ${TOOLEXEC_DOCKERD_ARGS:-} --iptables=false --bridge=none
        continue
      fi
      echo "docker-setup: error: dockerd exited; last lines of $log_file:" >&2
      tail -n 30 "$log_file" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.5
  done
  say "dockerd is up"
fi

if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
  say "runtimes: runc, runsc"
else
  say "runtimes: runc only (runsc not registered)"
fi

# 4. The sandbox image (build.mjs skips the build when the image for this content exists).
if [ "${TOOLEXEC_SKIP_IMAGE:-0}" != 1 ]; then
  (cd "$root" && npm run --silent sandbox:build)
fi
