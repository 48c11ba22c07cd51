#!/usr/bin/env bash
# -R: host A (as if behind a NAT) asks relay B to listen; connections to
# B's port come back through the tunnel to the echo server on A's side.
# Also: a port B does not allow is refused, and B restarting brings the
# listener back through A's reconnecting control channel.
. "$(dirname "$0")/lib.sh"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --allow-reverse $((P + 4))-$((P + 5))
tcpud_up A --peer relay=127.0.0.1:$((P + 1)) \
  -R $((P + 4)):127.0.0.1:$((P + 2)) -R 127.0.0.1:$((P + 6)):127.0.0.1:$((P + 2))
retry_client 10 127.0.0.1:$((P + 4)) --bytes 1000
client 127.0.0.1:$((P + 4)) --conns 8 --bytes 500000
for _ in $(seq 50); do
  grep -q "refused: not allowed" "$WORK/A.log" && break
  sleep 0.1
done
grep_log A "127.0.0.1:$((P + 6)): peer relay refused: not allowed"
grep_log B "listening on 127.0.0.1:$((P + 4)) for its service $((P + 4))"

log "restarting the relay"
kill -KILL "$PID_B"
wait "$PID_B" 2>/dev/null
tcpud_up B --listen 127.0.0.1:$((P + 1)) --allow-reverse $((P + 4))-$((P + 5))
retry_client 30 127.0.0.1:$((P + 4)) --bytes 1000
client 127.0.0.1:$((P + 4)) --conns 4 --bytes 200000
log ok
