#!/usr/bin/env bash
# SIGTERM drains: listeners close at once, every forwarded connection gets
# a FIN both ways (the clients see EOF, not RST), tcpud exits 0 once they
# are closed and well within DrainTimeout.  A second signal stops at once.
. "$(dirname "$0")/lib.sh"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 80=$((P + 2))
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 4)):80 --drain-timeout 8
"$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 5 --bytes 8000000 --pace 10 \
  --expect eof --timeout 60 >"$WORK/busy.out" 2>&1 &
BUSY=$!
PIDS+=("$BUSY")
sleep 1
log "SIGTERM to A"
kill -TERM "$PID_A"
wait_exit A 8
[[ $RC == 0 ]] || fail "A exited with $RC after draining"
wait "$BUSY" || fail "clients did not see EOF: $(cat "$WORK/busy.out")"
log "$(cat "$WORK/busy.out")"
grep_log A "draining 5 connections"
grep_log A "drained: every connection closed"
"$TESTPEER" client 127.0.0.1:$((P + 4)) --bytes 10 --expect refused ||
  fail "A's listener still accepts"

log "second signal stops at once"
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 4)):80 --drain-timeout 30
"$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 2 --bytes 8000000 --pace 10 \
  --expect closed --timeout 60 >"$WORK/busy2.out" 2>&1 &
BUSY=$!
PIDS+=("$BUSY")
sleep 0.5
kill -STOP "$BUSY"   # the clients stop reading: the drain cannot finish
kill -TERM "$PID_A"
sleep 0.5
kill -INT "$PID_A"
wait_exit A 5
[[ $RC == 0 ]] || fail "A exited with $RC after a second signal"
grep_log A "second signal: stopping now"
kill -CONT "$BUSY"
wait "$BUSY" || fail "clients did not end: $(cat "$WORK/busy2.out")"
log ok
