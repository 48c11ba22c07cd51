#!/usr/bin/env bash
# 200 forwarded connections at once, each echoing 64 KiB, all verified.
. "$(dirname "$0")/lib.sh"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 80=$((P + 2))
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 4)):80
client 127.0.0.1:$((P + 4)) --conns 200 --bytes 65536 --timeout 90
client 127.0.0.1:$((P + 4)) --conns 250 --bytes 4096 --timeout 90
log ok
