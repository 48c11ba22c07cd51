#!/usr/bin/env bash
# tunnel-bench.sh — throughput through a tcpud pair on loopback, side by
# side in one run with a direct kernel TCP connection and with kcptun
# (Debian's kcptun package, skipped with a note when absent), for one and
# for eight parallel connections; then through `tcpu netem` at 100 Mbit/s,
# 50 ms RTT, 1% loss.  Prints one JSON object.  Every transfer is bounded
# by testpeer's --timeout and the whole run by a watchdog; only processes
# started here are stopped.
#
#   bash contrib/bench/tunnel-bench.sh [BUILD_DIR] [MIB_PER_CONN]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$top/build}
mib=${2:-64}
TCPUD=$build/tcpud/tcpud
TCPU=$build/cli/tcpu
PEER=$build/tests/daemon/tcpud_testpeer
for p in "$TCPUD" "$TCPU" "$PEER"; do
  [[ -x "$p" ]] || { echo "tunnel-bench: $p missing; build first" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tunnel-bench.XXXXXX")
pids=()
cleanup() {
  local sleeper
  sleeper=$(pgrep -P "$watchdog" 2>/dev/null || true)
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  [[ -n "$sleeper" ]] && kill -TERM $sleeper 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' TERM INT
(sleep 600 && echo "tunnel-bench: time limit" >&2 && kill -TERM $$) &
watchdog=$!
pids+=("$watchdog")

bg() { "$@" >"$work/bg.$#.$RANDOM.log" 2>&1 & pids+=($!); }
ready() {
  for _ in $(seq 100); do "$PEER" ping "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "tunnel-bench: no answer on $1" >&2; return 1
}

read -r base < <("$PEER" ports 12)
S=$base B=$((base + 1)) L=$((base + 2)) R=$((base + 3)) L2=$((base + 4))
KS=$((base + 5)) KL=$((base + 6)) SB=$((base + 7)) SL=$((base + 8))

# Mbit/s of one client run (testpeer prints "... sent in T s (X MB/s)"),
# or null when it failed.
measure() { # PORT CONNS BYTES [EXPECT]
  local out
  if out=$("$PEER" client "127.0.0.1:$1" --conns "$2" --bytes "$3" \
             --mode hash --timeout 120 --verbose --expect "${4:-ok}" 2>&1); then
    echo "$out" | sed -n 's/.*(\([0-9.]*\) MB\/s).*/\1/p' | tail -n 1 |
      awk '{ printf "%.1f", $1 * 8 * 1.048576 }'
  else
    echo null
  fi
}

bytes=$((mib * 1048576))
bg "$PEER" hash 127.0.0.1:$S
bg "$TCPUD" --listen 127.0.0.1:$B --service 80=127.0.0.1:$S --socket "$work/B.sock"
bg "$TCPUD" --peer 127.0.0.1:$B -L $L:80 --socket "$work/A.sock"
ready "$work/B.sock"
ready "$work/A.sock"
sleep 0.2

kernel1=$(measure $S 1 $bytes)
kernel8=$(measure $S 8 $((bytes / 8)))
tcpud1=$(measure $L 1 $bytes)
tcpud8=$(measure $L 8 $((bytes / 8)))

# The same pair sealed (Noise IK, ChaCha20-Poly1305): the encrypted
# tunnel next to kcptun's encrypted one.
(umask 077; "$TCPU" genkey >"$work/a.key"; "$TCPU" genkey >"$work/b.key")
bg "$TCPUD" --listen 127.0.0.1:$SB --mode sealed --private-key "$work/b.key" \
  --peer a --public-key "$("$TCPU" pubkey <"$work/a.key")" \
  --service 80=127.0.0.1:$S --socket "$work/SB.sock"
bg "$TCPUD" --mode sealed --private-key "$work/a.key" \
  --peer b=127.0.0.1:$SB --public-key "$("$TCPU" pubkey <"$work/b.key")" \
  -L $SL:80 --socket "$work/SA.sock"
ready "$work/SB.sock"
ready "$work/SA.sock"
sealed1=$(measure $SL 1 $bytes)
sealed8=$(measure $SL 8 $((bytes / 8)))

kcp1=null kcp8=null kcp_note="kcptun not installed (apt-get install kcptun)"
if command -v kcptun-server >/dev/null && command -v kcptun-client >/dev/null; then
  bg kcptun-server --listen "127.0.0.1:$KS" --target "127.0.0.1:$S" --quiet
  bg kcptun-client --localaddr "127.0.0.1:$KL" --remoteaddr "127.0.0.1:$KS" --quiet
  sleep 1
  # kcptun ends the whole stream at the client's EOF (no half-close), so
  # the hash answer never comes back: measured as sent, not verified.
  kcp1=$(measure $KL 1 $bytes closed)
  kcp8=$(measure $KL 8 $((bytes / 8)) closed)
  kcp_note="kcptun defaults (mode fast, crypt aes, no congestion control); no half-close, so its bytes are sent but not hash-verified"
fi

# The lossy path: tcpu netem between a second tcpud client and B.  Its
# --link describes client->B; the reverse copies rate and delay.
bg "$TCPU" netem --listen 127.0.0.1:$R --to 127.0.0.1:$B \
  --link rate=100mbit,delay=25ms,loss=0.01
bg "$TCPUD" --peer 127.0.0.1:$R -L $L2:80 --socket "$work/A2.sock" \
  --cc bbr
ready "$work/A2.sock"
sleep 0.5
lossy_bytes=$((16 * 1048576))
relay1=$(measure $L2 1 $lossy_bytes)

cat <<EOF
{
  "program": "tunnel-bench", "mib_per_single_connection": $mib,
  "loopback_mbps": {
    "kernel_tcp_direct": {"one": $kernel1, "eight": $kernel8},
    "tcpud_pair": {"one": $tcpud1, "eight": $tcpud8},
    "tcpud_pair_sealed_chachapoly": {"one": $sealed1, "eight": $sealed8},
    "kcptun": {"one": $kcp1, "eight": $kcp8, "note": "$kcp_note"}
  },
  "relay_100mbit_50ms_1pct_loss_mbps": {"tcpud_pair_bbr_one": $relay1, "mib": 16}
}
EOF
