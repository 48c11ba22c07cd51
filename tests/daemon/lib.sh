# lib.sh — sourced by every tests/daemon/test_*.sh.
#
# ctest passes the programs in TCPUD, TCPU (the tcpu command, which may
# not be built) and TESTPEER.  P is the first of 20 ports free on
# 127.0.0.1 (testpeer ports), or PORT_BASE when set, so that tests of
# several build trees can run at once.  Every process a test starts is
# recorded and only those are stopped, by PID, when the test ends; the
# work directory is removed unless KEEP=1.  A test skips with status 77.
set -u
: "${TCPUD:?}" "${TESTPEER:?}"
TCPU=${TCPU:-}
NAME=$(basename "$0" .sh)
NAME=${NAME#test_}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tcpud-$NAME.XXXXXX")
PIDS=()
T0=$(date +%s%N)

log() { echo "[$(( ($(date +%s%N) - T0) / 1000000 )) ms] $NAME: $*"; }

cleanup() {
  local rc=$?
  # SIGTERM drains tcpud; a second one stops it at once.
  for sig in TERM TERM KILL; do
    for pid in "${PIDS[@]}"; do
      kill -"$sig" "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
  done
  wait 2>/dev/null
  if [[ -n "${CLEANUP_EXTRA:-}" ]]; then eval "$CLEANUP_EXTRA"; fi
  if [[ "${KEEP:-0}" == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

dump_logs() {
  for f in "$WORK"/*.log; do
    [[ -f "$f" ]] || continue
    echo "----- $(basename "$f") (last 40 lines)"
    tail -n 40 "$f"
  done
}

fail() {
  echo "FAIL: $NAME: $*"
  dump_logs
  exit 1
}

skip() {
  echo "SKIP: $NAME: $*"
  exit 77
}

# start NAME CMD...: runs CMD in the background, output in $WORK/NAME.log;
# sets PID_<NAME>.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  printf -v "PID_$name" '%s' "$pid"
}

# wait_ready NAME SOCKET: until tcpud NAME answers on its control socket.
wait_ready() {
  local name=$1 sock=$2 pidvar="PID_$1"
  for _ in $(seq 100); do
    "$TESTPEER" ping "$sock" && return 0
    kill -0 "${!pidvar}" 2>/dev/null || fail "tcpud $name exited at start"
    sleep 0.05
  done
  fail "tcpud $name did not come up"
}

# tcpud_up NAME ARGS...: starts tcpud with a control socket of its own.
tcpud_up() {
  local name=$1
  shift
  start "$name" "$TCPUD" --socket "$WORK/$name.sock" --log-level debug "$@"
  wait_ready "$name" "$WORK/$name.sock"
}

# tcpud_conf NAME FILE: starts tcpud -c FILE, whose ControlSocket is
# $WORK/NAME.sock, and waits until it answers there.
tcpud_conf() {
  start "$1" "$TCPUD" -c "$2"
  wait_ready "$1" "$WORK/$1.sock"
}

# sealed_dialer NAME KEYFILE PEER HOST:PORT PUBKEY: the head of a
# sealed-mode configuration for tcpud NAME (private key file KEYFILE,
# control socket $WORK/NAME.sock for tcpud_conf, debug logging) that
# dials PEER at HOST:PORT by its public key; the rest of the [Peer]
# section and the others follow it.
sealed_dialer() {
  printf '%s\n' "[Interface]" "Mode = sealed" "PrivateKeyFile = $2" \
    "ControlSocket = $WORK/$1.sock" "LogLevel = debug" "[Peer]" \
    "Name = $3" "Endpoint = $4" "PublicKey = $5"
}

# json_num FILE FIELD: the first number of "FIELD":N in FILE (tcpu show
# --json).
json_num() {
  grep -o "\"$2\":[0-9]*" "$1" | head -n 1 | cut -d: -f2
}

# wait_exit NAME SECONDS: waits for the process to end; sets RC.
wait_exit() {
  local pidvar="PID_$1"
  local pid=${!pidvar}
  for _ in $(seq $(($2 * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "$1 still running after $2 s"
  wait "$pid"
  RC=$?
}

# client ADDR:PORT ARGS...: testpeer client; fails the test unless it passes.
client() {
  log "client $*"
  "$TESTPEER" client "$@" || fail "client $* did not pass"
}

# retry_client SECONDS ADDR:PORT ARGS...: until one run passes.
retry_client() {
  local secs=$1
  shift
  for _ in $(seq $((secs * 5))); do
    "$TESTPEER" client "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "client $* never passed within $secs s"
}

# grep_log NAME PATTERN: the pattern must appear in NAME's log.
grep_log() {
  grep -q -- "$2" "$WORK/$1.log" || fail "no '$2' in $1's log"
}

P=${PORT_BASE:-$("$TESTPEER" ports 20)} || fail "no free ports"
