#!/usr/bin/env bash
# -L: a local listener on host A, a service on host B (two tcpud on
# loopback), echo and hash servers behind B; data checked by hash both ways.
. "$(dirname "$0")/lib.sh"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
start hash "$TESTPEER" hash 127.0.0.1:$((P + 3))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 80=127.0.0.1:$((P + 2)) \
  --service 81=$((P + 3))
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 4)):80 -L 127.0.0.1:$((P + 5)):81
client 127.0.0.1:$((P + 4)) --conns 4 --bytes 1000000
client 127.0.0.1:$((P + 5)) --conns 4 --bytes 3000000 --mode hash
client 127.0.0.1:$((P + 4)) --conns 1 --bytes 0
grep_log A "forwarding to peer peer, service 80"

if grep -qs "^0\{31\}1 " /proc/net/if_inet6; then
  log "IPv6: tunnel over ::1, IPv6 listener and target"
  start echo6 "$TESTPEER" echo "[::1]:$((P + 10))"
  tcpud_up B6 --listen "[::1]:$((P + 11))" --service "80=[::1]:$((P + 10))"
  tcpud_up A6 --peer "[::1]:$((P + 11))" -L "[::1]:$((P + 12)):80" -L "$((P + 13)):80"
  client "[::1]:$((P + 12))" --conns 4 --bytes 500000
  client "127.0.0.1:$((P + 13))" --conns 2 --bytes 500000
else
  log "no IPv6 loopback: the IPv6 part is skipped"
fi
log ok
