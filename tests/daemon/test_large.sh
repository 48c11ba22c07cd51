#!/usr/bin/env bash
# A large transfer: 64 MiB echoed (both directions at once) and 128 MiB
# one way, verified by BLAKE2b.
. "$(dirname "$0")/lib.sh"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
start hash "$TESTPEER" hash 127.0.0.1:$((P + 3))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 80=$((P + 2)) --service 81=$((P + 3))
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 4)):80 -L $((P + 5)):81
client 127.0.0.1:$((P + 4)) --bytes $((64 << 20)) --timeout 100
client 127.0.0.1:$((P + 5)) --bytes $((128 << 20)) --mode hash --timeout 100
log ok
