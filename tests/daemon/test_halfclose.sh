#!/usr/bin/env bash
# Half-close both ways: the client's FIN must reach the server (which only
# answers after EOF) while the other direction stays open, and the
# server's FIN must come back.  Also for an empty request, and from the
# -R side.
. "$(dirname "$0")/lib.sh"

start hash "$TESTPEER" hash 127.0.0.1:$((P + 3))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 81=$((P + 3)) --allow-reverse $((P + 6))
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 5)):81 -R $((P + 6)):127.0.0.1:$((P + 3))
client 127.0.0.1:$((P + 5)) --conns 3 --bytes 2000000 --mode hash
client 127.0.0.1:$((P + 5)) --conns 3 --bytes 0 --mode hash
retry_client 10 127.0.0.1:$((P + 6)) --bytes 10 --mode hash
client 127.0.0.1:$((P + 6)) --conns 3 --bytes 100000 --mode hash
log ok
