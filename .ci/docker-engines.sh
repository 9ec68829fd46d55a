#!/usr/bin/env bash
# The test bed of the multi-engine Docker runtime: two extra Docker engines on this machine, each
# in its own network namespace, reached over TCP with mutual TLS (certificates made here with
# openssl), each with the sandbox image built on it. The tests and the benchmark read what they
# need from $dir/engines.json (see TOOLEXEC_DOCKER_ENGINES in the tests).
#
#   bash .ci/docker-engines.sh up        start the bed; torn down when the calling shell exits
#   bash .ci/docker-engines.sh up --keep start it and leave it running (local work)
#   bash .ci/docker-engines.sh down      tear everything down (idempotent)
#   bash .ci/docker-engines.sh kill b    SIGKILL engine b's dockerd (a dying sandbox host)
#   bash .ci/docker-engines.sh start b   start engine b again, wait until it answers
#   bash .ci/docker-engines.sh env b     print DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH for b
#
# How it is wired (see ENGINES.md): `ip netns exec` fails for dockerd ("Devices cgroup isn't
# mounted"), so each engine starts under `nsenter --net=`; the main dockerd's firewall drops
# forwarded traffic in the root namespace, so the namespaces (and one veth end in the root
# namespace, for the tests) meet on a bridge inside a hub namespace: one L2 segment, nothing is
# routed. Each engine has its own data root, exec root, pid file and unix socket, no bridge and no
# iptables rules (sandboxes never have a network), and gVisor registered when runsc is installed.
#
# Environment:
#   TOOLEXEC_ENGINES_DIR     state, certificates and logs (default /var/lib/toolexec-engines)
#   TOOLEXEC_ENGINES_SUBNET  first three octets of the test subnet (default 10.231.0)
#   TOOLEXEC_ENGINES_WAIT_S  how long an engine may take to answer (default 60)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
dir="${TOOLEXEC_ENGINES_DIR:-/var/lib/toolexec-engines}"
subnet="${TOOLEXEC_ENGINES_SUBNET:-10.231.0}"
wait_s="${TOOLEXEC_ENGINES_WAIT_S:-60}"
names=(a b)
hub=txe-hub
bridge=txebr0
root_if=txe-root
root_ip="$subnet.1"
port=2376

say() { echo "docker-engines: $*" >&2; }
die() { echo "docker-engines: error: $*" >&2; exit 1; }

ip_of() { case "$1" in a) echo "$subnet.11" ;; b) echo "$subnet.12" ;; *) die "unknown engine '$1' (known: ${names[*]})" ;; esac; }
ns_of() { echo "txe-$1"; }
# Exec roots hold unix sockets (containerd's among them): short paths, under /run.
exec_root_of() { echo "/run/txe-$1"; }

need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and dockerd)"; }

# ---- certificates ---------------------------------------------------------------------------

make_certs() {
  local c="$dir/certs"
  rm -rf "$c" && mkdir -p "$c"
  local ossl=(openssl)
  # P-256 keys: as strong as RSA-3072 for this purpose and made in milliseconds.
  newkey() { "${ossl[@]}" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
  ca() { # ca DIR CN
    newkey "$1/ca-key.pem"
    "${ossl[@]}" req -x509 -new -key "$1/ca-key.pem" -out "$1/ca.pem" -days 3 -subj "/CN=$2" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  }
  sign() { # sign CADIR OUTDIR CN EXT
    newkey "$2/key.pem"
    "${ossl[@]}" req -new -key "$2/key.pem" -out "$2/req.csr" -subj "/CN=$3" 2>/dev/null
    printf '%s\n' "$4" > "$2/ext.cnf"
    "${ossl[@]}" x509 -req -in "$2/req.csr" -CA "$1/ca.pem" -CAkey "$1/ca-key.pem" -CAcreateserial \
      -out "$2/cert.pem" -days 3 -extfile "$2/ext.cnf" 2>/dev/null
    rm -f "$2/req.csr" "$2/ext.cnf"
    cp "$1/ca.pem" "$2/ca.pem"
  }
  mkdir -p "$c/ca" "$c/client" "$c/rogue-ca" "$c/rogue-client" "$c/rogue-server-ca"
  ca "$c/ca" toolexec-test-ca
  ca "$c/rogue-ca" toolexec-rogue-ca
  for n in "${names[@]}"; do
    mkdir -p "$c/server-$n"
    sign "$c/ca" "$c/server-$n" "engine-$n" "subjectAltName=IP:$(ip_of "$n"),DNS:engine-$n
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
  done
  sign "$c/ca" "$c/client" toolexec-client "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
  # A client certificate the engines never issued: signed by another CA.
  sign "$c/rogue-ca" "$c/rogue-client" toolexec-rogue-client "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
  cp "$c/ca/ca.pem" "$c/rogue-client/ca.pem"
  # The right client certificate with a CA that did not sign the engines' certificates: the
  # client must refuse the engine.
  cp "$c/client/cert.pem" "$c/client/key.pem" "$c/rogue-server-ca/"
  cp "$c/rogue-ca/ca.pem" "$c/rogue-server-ca/ca.pem"
  chmod 600 "$c"/*/key.pem "$c"/*/ca-key.pem 2>/dev/null || true
}

# ---- network --------------------------------------------------------------------------------

make_network() {
  ip netns add "$hub"
  ip -n "$hub" link set lo up
  ip -n "$hub" link add "$bridge" type bridge
  ip -n "$hub" link set "$bridge" up
  # The root namespace's end, so the tests can reach the engines.
  ip link add "$root_if" type veth peer name "$root_if-p" netns "$hub"
  ip -n "$hub" link set "$root_if-p" master "$bridge" up
  ip addr add "$root_ip/24" dev "$root_if"
  ip link set "$root_if" up
  for n in "${names[@]}"; do
    local ns; ns="$(ns_of "$n")"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "txe-$n-p" type veth peer name eth0 netns "$ns"
    ip link set "txe-$n-p" netns "$hub"
    ip -n "$hub" link set "txe-$n-p" master "$bridge" up
    ip -n "$ns" addr add "$(ip_of "$n")/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

# ---- engines --------------------------------------------------------------------------------

engine_dir() { echo "$dir/engine-$1"; }

start_engine() {
  local n="$1" e ns er
  e="$(engine_dir "$n")"; ns="$(ns_of "$n")"; er="$(exec_root_of "$n")"
  [ -e "/run/netns/$ns" ] || die "the test bed is not up (no namespace $ns); run: bash .ci/docker-engines.sh up"
  mkdir -p "$e/data" "$er"
  # Its own config file: /etc/docker/daemon.json belongs to the main engine.
  if command -v runsc >/dev/null 2>&1; then
    printf '{ "runtimes": { "runsc": { "path": "%s", "runtimeArgs": ["--network=none"] } } }\n' "$(command -v runsc)" > "$e/daemon.json"
  else
    echo '{}' > "$e/daemon.json"
  fi
  local c="$dir/certs"
  # setsid + nohup: the engine must outlive this script (the watcher stops it).
  setsid nohup nsenter --net="/run/netns/$ns" dockerd \
    --config-file "$e/daemon.json" \
    --data-root "$e/data" --exec-root "$er" --pidfile "$e/dockerd.pid" \
    -H "unix://$e/docker.sock" -H "tcp://$(ip_of "$n"):$port" \
    --tlsverify --tlscacert "$c/server-$n/ca.pem" --tlscert "$c/server-$n/cert.pem" --tlskey "$c/server-$n/key.pem" \
    --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
    >>"$e/dockerd.log" 2>&1 < /dev/null &
}

engine_answers() { timeout 5 docker -H "unix://$(engine_dir "$1")/docker.sock" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

wait_engine() {
  local n="$1" deadline=$(( $(date +%s) + wait_s ))
  until engine_answers "$n"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "docker-engines: error: engine $n did not answer within ${wait_s}s; last lines of its log:" >&2
      tail -n 30 "$(engine_dir "$n")/dockerd.log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

engine_pid() { local f; f="$(engine_dir "$1")/dockerd.pid"; [ -s "$f" ] && cat "$f"; }

# The processes of engine $1 outside dockerd: its containerd and the shims of its containers
# (found by their command lines, which name the engine's exec root).
engine_helpers() {
  local er p; er="$(exec_root_of "$1")"
  cat "$er/containerd/containerd.pid" 2>/dev/null || true
  echo
  for p in /proc/[0-9]*; do
    if { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -q -- "-address $er/containerd"; then echo "${p#/proc/}"; fi
  done
}

# A sandbox host dying: dockerd, its containerd and every container's shim, all at once.
kill_engine() {
  local n="$1" pid p
  pid="$(engine_pid "$n" || true)"
  # Its dockerd may be dead already (killed by pid); what it left is killed all the same.
  local helpers; helpers="$(engine_helpers "$n")"
  kill -KILL $pid $helpers 2>/dev/null || true
  while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  # A killed dockerd leaves its pid files; the next start would refuse to run.
  rm -f "$(engine_dir "$n")/dockerd.pid" "$(exec_root_of "$n")/containerd/containerd.pid"
}

stop_engine() {
  local n="$1" pid e
  e="$(engine_dir "$n")"
  pid="$(engine_pid "$n" || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # Remove what is left first (a clean engine stops fast), then ask, wait, kill.
    local ids
    ids="$(timeout 10 docker -H "unix://$e/docker.sock" ps -aq 2>/dev/null || true)"
    [ -n "$ids" ] && timeout 30 docker -H "unix://$e/docker.sock" rm -f $ids >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # The engine's own containerd (a child it started; a killed dockerd may leave it running), and
  # the shims of containers that outlived their engine.
  local helpers; helpers="$(engine_helpers "$n")"
  [ -n "${helpers//[[:space:]]/}" ] && kill -KILL $helpers 2>/dev/null || true
  local er; er="$(exec_root_of "$n")"
  for m in $(awk -v a="$e/" -v b="$er/" 'index($2, a) == 1 || index($2, b) == 1 || $2 == substr(b, 1, length(b) - 1) { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -f "$e/dockerd.pid"
}

write_state() {
  local c="$dir/certs" out="$dir/engines.json.tmp"
  {
    echo '{'
    echo "  \"script\": \"$here/docker-engines.sh\","
    echo "  \"certs\": {"
    echo "    \"client\": { \"ca\": \"$c/client/ca.pem\", \"cert\": \"$c/client/cert.pem\", \"key\": \"$c/client/key.pem\" },"
    echo "    \"rogueClient\": { \"ca\": \"$c/rogue-client/ca.pem\", \"cert\": \"$c/rogue-client/cert.pem\", \"key\": \"$c/rogue-client/key.pem\" },"
    echo "    \"rogueServerCa\": { \"ca\": \"$c/rogue-server-ca/ca.pem\", \"cert\": \"$c/rogue-server-ca/cert.pem\", \"key\": \"$c/rogue-server-ca/key.pem\" }"
    echo "  },"
    echo "  \"unreachable\": \"tcp://$subnet.99:$port\","
    echo "  \"refused\": \"tcp://$(ip_of a):2399\","
    echo "  \"runsc\": $(command -v runsc >/dev/null 2>&1 && echo true || echo false),"
    echo "  \"engines\": ["
    local first=1
    for n in "${names[@]}"; do
      [ $first = 1 ] || echo ','
      first=0
      printf '    { "name": "%s", "host": "tcp://%s:%s", "socket": "%s", "certPath": "%s", "pidfile": "%s" }' "$n" "$(ip_of "$n")" "$port" "$(engine_dir "$n")/docker.sock" "$c/client" "$(engine_dir "$n")/dockerd.pid"
    done
    echo
    echo '  ]'
    echo '}'
  } > "$out"
  mv "$out" "$dir/engines.json"
}

down() {
  for n in "${names[@]}"; do stop_engine "$n"; done
  for n in "${names[@]}"; do ip netns del "$(ns_of "$n")" 2>/dev/null || true; rm -rf "$(exec_root_of "$n")"; done
  ip link del "$root_if" 2>/dev/null || true
  ip netns del "$hub" 2>/dev/null || true
  rm -rf "$dir"
}

up() {
  local keep="$1"
  need_root
  command -v dockerd >/dev/null 2>&1 || die "dockerd is missing; run .ci/docker-setup.sh first"
  local missing=()
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || die "could not install ${missing[*]}"
  fi
  local t0; t0=$(date +%s.%N)
  down
  mkdir -p "$dir"
  make_certs
  make_network
  for n in "${names[@]}"; do start_engine "$n"; done
  for n in "${names[@]}"; do wait_engine "$n"; done
  local t1; t1=$(date +%s.%N)
  say "engines up in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: $(for n in "${names[@]}"; do printf 'tcp://%s:%s ' "$(ip_of "$n")" "$port"; done)"
  # Build the sandbox image on each engine through its TCP+TLS address, the way a user would.
  for n in "${names[@]}"; do
    (cd "$root" && DOCKER_HOST="tcp://$(ip_of "$n"):$port" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$dir/certs/client" npm run --silent sandbox:build) \
      || die "could not build the sandbox image on engine $n"
  done
  write_state
  local t2; t2=$(date +%s.%N)
  say "images built in $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s; state in $dir/engines.json"
  if [ "$keep" != 1 ]; then
    # Torn down when the shell that called us exits, however it exits (CI's `set -e` included).
    local parent=$PPID
    setsid nohup bash -c '
      while kill -0 "$1" 2>/dev/null; do sleep 1; done
      bash "$2" down
    ' _ "$parent" "$here/docker-engines.sh" >>/tmp/toolexec-engines-teardown.log 2>&1 < /dev/null &
  fi
}

cmd="${1:-up}"
case "$cmd" in
  up) need_root; up "$([ "${2:-}" = --keep ] && echo 1 || echo 0)" ;;
  down) need_root; down ;;
  kill) need_root; kill_engine "${2:?engine name}" ;;
  start) need_root; ip_of "${2:?engine name}" >/dev/null; start_engine "$2"; wait_engine "$2" ;;
  env)
    n="${2:?engine name}"
    echo "export DOCKER_HOST=tcp://$(ip_of "$n"):$port DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$dir/certs/client"
    ;;
  *) die "unknown command '$cmd' (up [--keep], down, kill NAME, start NAME, env NAME)" ;;
esac
