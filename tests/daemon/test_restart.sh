#!/usr/bin/env bash
# The peer daemon is killed (SIGKILL) while connections are moving data:
# every client sees an RST or EOF (none hangs), and once the peer is back
# new connections work.
. "$(dirname "$0")/lib.sh"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 80=$((P + 2))
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 4)):80
client 127.0.0.1:$((P + 4)) --conns 2 --bytes 10000
"$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 6 --bytes 4000000 --pace 10 \
  --expect closed --timeout 60 >"$WORK/busy.out" 2>&1 &
BUSY=$!
PIDS+=("$BUSY")
sleep 1
log "killing B"
kill -KILL "$PID_B"
wait "$PID_B" 2>/dev/null
sleep 0.5
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 80=$((P + 2))
wait "$BUSY" || fail "clients did not all end with RST or EOF: $(cat "$WORK/busy.out")"
log "$(cat "$WORK/busy.out")"
client 127.0.0.1:$((P + 4)) --conns 10 --bytes 100000
log ok
