#!/usr/bin/env bash
# A refused target, a service the peer does not have, a peer a service
# does not admit: the local client sees an RST (never a silent close).
. "$(dirname "$0")/lib.sh"

cat >"$WORK/b.conf" <<CONF
[Interface]
Address = 127.0.0.1
ListenPort = $((P + 1))
ControlSocket = $WORK/B.sock
LogLevel = debug

[Peer]
Name = friend
Endpoint = 127.0.0.1:$((P + 9))

[Service]
Name = dead
Port = 80
Target = 127.0.0.1:$((P + 2))
Peers = *

[Service]
Name = private
Port = 82
Target = 127.0.0.1:$((P + 2))
Peers = friend
CONF
tcpud_conf B "$WORK/b.conf"
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 4)):80 -L $((P + 5)):81 -L $((P + 6)):82
client 127.0.0.1:$((P + 4)) --conns 5 --bytes 1000 --expect reset
client 127.0.0.1:$((P + 5)) --conns 5 --bytes 1000 --expect reset
client 127.0.0.1:$((P + 6)) --conns 5 --bytes 1000 --expect reset
grep_log B "connecting to the target failed: connection refused"
grep_log B "not allowed by Peers"
log ok
