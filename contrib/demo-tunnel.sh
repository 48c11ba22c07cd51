#!/usr/bin/env bash
# demo-tunnel.sh — tcpud end to end on one machine, in a few seconds.
#
#   contrib/demo-tunnel.sh [BUILD_DIR]      (default: build)
#
# Two tcpud daemons on loopback: B serves tunnel port 80 from a TCP server
# that answers each connection with the BLAKE2b-256 of what it received;
# A forwards its local port to B's service 80 (-L).  Clients push data
# into A's port, and the hashes the server computed must match the ones of
# what was sent.  `tcpu show` prints A's connections while a slower
# transfer runs; then SIGTERM drains both daemons.
#
# Needs the build's tcpud, tests/daemon/tcpud_testpeer (the TCP server and
# clients) and, for the show step, cli/tcpu.  Ports: DEMO_PORT_BASE
# (27100) to +3 on 127.0.0.1.  DEMO_BYTES (64 MiB) per connection,
# DEMO_CONNS (4) connections.  Stops itself after 120 s; it only ever
# signals the processes it started.  Exit status 0 when everything was
# verified.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top/build}
TCPUD=$build/tcpud/tcpud
TCPU=$build/cli/tcpu
PEER=$build/tests/daemon/tcpud_testpeer
BYTES=${DEMO_BYTES:-67108864}
CONNS=${DEMO_CONNS:-4}
base=${DEMO_PORT_BASE:-27100}
S=$base B=$((base + 1)) L=$((base + 2))

for p in "$TCPUD" "$PEER"; do
  [[ -x "$p" ]] || { echo "demo-tunnel: $p is missing; build first (cmake --build $build)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tcpud-demo.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  # The watchdog's sleep is its child: end it too, or it keeps our stdout
  # open for the rest of its two minutes.
  local sleeper
  sleeper=$(pgrep -P "$watchdog" 2>/dev/null || true)
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  [[ -n "$sleeper" ]] && kill -TERM $sleeper 2>/dev/null || true
  wait 2>/dev/null || true
  if ((rc != 0)); then
    for f in "$work"/*.log; do
      [[ -f "$f" ]] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; }
    done
    echo "demo-tunnel: FAILED" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' TERM INT
(sleep 120 && echo "demo-tunnel: time limit" >&2 && kill -TERM $$) &
watchdog=$!
pids+=("$watchdog")

bg() { # NAME CMD...
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
}
ready() { # SOCKET
  for _ in $(seq 100); do
    "$PEER" ping "$1" && return 0
    sleep 0.05
  done
  echo "demo-tunnel: no answer on $1" >&2
  return 1
}
step() { printf '\n== %s\n' "$*"; }

step "service: a TCP server on 127.0.0.1:$S answering with the BLAKE2b-256 of its input"
bg server "$PEER" hash 127.0.0.1:$S
step "tcpud B: tunnel on UDP 127.0.0.1:$B, tunnel port 80 served by 127.0.0.1:$S"
echo "   tcpud --listen 127.0.0.1:$B --service 80=127.0.0.1:$S"
bg B "$TCPUD" --listen 127.0.0.1:$B --service 80=127.0.0.1:$S --socket "$work/B.sock"
step "tcpud A: its port 127.0.0.1:$L forwarded to B's service 80"
echo "   tcpud --peer 127.0.0.1:$B -L $L:80"
bg A "$TCPUD" --peer 127.0.0.1:$B -L $L:80 --socket "$work/A.sock"
ready "$work/B.sock"
ready "$work/A.sock"

step "$CONNS clients each send $BYTES bytes into 127.0.0.1:$L and half-close"
"$PEER" client 127.0.0.1:$L --conns "$CONNS" --bytes "$BYTES" --mode hash --verbose --timeout 100

step "tcpu show (A) during a slower transfer"
"$PEER" client 127.0.0.1:$L --conns 3 --bytes 6000000 --pace 10 --mode hash \
  --timeout 60 >"$work/slow.log" 2>&1 &
slow=$!
pids+=("$slow")
sleep 1
if [[ -x "$TCPU" ]]; then
  "$TCPU" show --socket "$work/A.sock"
else
  echo "   ($TCPU is not built; the raw answer of A's control socket:)"
  "$PEER" ping "$work/A.sock" && echo "   A answers"
fi
wait "$slow"
cat "$work/slow.log"

step "SIGTERM: both daemons drain and exit"
kill -TERM "$pid_A" "$pid_B"
wait "$pid_A"
wait "$pid_B"
grep -h "drained\|stopped" "$work/A.log" "$work/B.log" | sed 's/^/   /'
printf '\ndemo-tunnel: verified\n'
