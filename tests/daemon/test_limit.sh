#!/usr/bin/env bash
# MaxConnections: connections over the limit are reset, with one log line
# per second saying why; the ones within it work.
. "$(dirname "$0")/lib.sh"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 80=$((P + 2))
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 4)):80 --max-connections 20
# 20 slow connections hold the limit; 10 more are refused.
"$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 20 --bytes 1600000 --pace 20 \
  >"$WORK/slow.out" 2>&1 &
SLOW=$!
PIDS+=("$SLOW")
sleep 0.5
client 127.0.0.1:$((P + 4)) --conns 10 --bytes 1000 --expect reset
wait "$SLOW" || fail "the connections within the limit failed: $(cat "$WORK/slow.out")"
grep_log A "connection limit reached (MaxConnections = 20)"
client 127.0.0.1:$((P + 4)) --conns 20 --bytes 1000
log ok
