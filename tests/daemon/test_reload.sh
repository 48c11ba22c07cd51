#!/usr/bin/env bash
# SIGHUP reloads without dropping established connections: while data
# flows on service 80, B's configuration drops service 80 and adds 83, and
# A's adds a -L for 83.  The running transfers finish intact, new
# connections follow the new configuration, and a broken file is refused
# with the running configuration kept.
. "$(dirname "$0")/lib.sh"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
b_conf() {
  cat >"$WORK/b.conf" <<CONF
[Interface]
Address = 127.0.0.1
ListenPort = $((P + 1))
ControlSocket = $WORK/B.sock
LogLevel = debug
$1
CONF
}
a_conf() {
  cat >"$WORK/a.conf" <<CONF
[Interface]
ControlSocket = $WORK/A.sock
LogLevel = debug

[Peer]
Name = b
Endpoint = 127.0.0.1:$((P + 1))

[Forward]
Local = 127.0.0.1:$((P + 4))
Peer = b
Service = 80
$1
CONF
}
b_conf "
[Service]
Name = echo
Port = 80
Target = 127.0.0.1:$((P + 2))
Peers = *"
a_conf ""
start B "$TCPUD" -c "$WORK/b.conf"
wait_ready B "$WORK/B.sock"
start A "$TCPUD" -c "$WORK/a.conf"
wait_ready A "$WORK/A.sock"
client 127.0.0.1:$((P + 4)) --conns 2 --bytes 10000

"$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 4 --bytes 3000000 --pace 10 \
  --timeout 60 >"$WORK/busy.out" 2>&1 &
BUSY=$!
PIDS+=("$BUSY")
sleep 0.7
b_conf "
[Service]
Name = echo2
Port = 83
Target = 127.0.0.1:$((P + 2))
Peers = *"
a_conf "
[Forward]
Local = 127.0.0.1:$((P + 5))
Peer = b
Service = 83"
log "reloading A and B"
kill -HUP "$PID_B" "$PID_A"
sleep 0.5
grep_log B "reloaded $WORK/b.conf"
grep_log A "reloaded $WORK/a.conf"
grep_log B "service echo (port 80) removed"
client 127.0.0.1:$((P + 5)) --conns 3 --bytes 100000
client 127.0.0.1:$((P + 4)) --conns 2 --bytes 1000 --expect reset
echo "[Interface]" >"$WORK/a.conf"
echo "Bogus = 1" >>"$WORK/a.conf"
kill -HUP "$PID_A"
sleep 0.3
grep_log A "a.conf:2: unknown key 'Bogus' in \[Interface\]"
grep_log A "keeping the running configuration"
"$TESTPEER" ctl "$WORK/A.sock" reload >"$WORK/ctl.out" && fail "reload of a broken file answered ok"
grep -q "^error: reload failed" "$WORK/ctl.out" || fail "control socket reload: $(cat "$WORK/ctl.out")"
"$TESTPEER" ctl "$WORK/A.sock" "show" >/dev/null || fail "show after a failed reload"
"$TESTPEER" ctl "$WORK/A.sock" "bogus" >"$WORK/ctl.out" && fail "an unknown request answered ok"
grep -q "^error: unknown request" "$WORK/ctl.out" || fail "unknown request: $(cat "$WORK/ctl.out")"
wait "$BUSY" || fail "transfers across the reload failed: $(cat "$WORK/busy.out")"
log "$(cat "$WORK/busy.out")"
client 127.0.0.1:$((P + 5)) --conns 2 --bytes 100000
kill -0 "$PID_A" || fail "A died"
log "reload through the control socket"
a_conf "
[Forward]
Local = 127.0.0.1:$((P + 6))
Peer = b
Service = 83"
"$TESTPEER" ctl "$WORK/A.sock" reload >"$WORK/ctl.out" || fail "reload: $(cat "$WORK/ctl.out")"
client 127.0.0.1:$((P + 6)) --conns 2 --bytes 100000
"$TESTPEER" client 127.0.0.1:$((P + 5)) --bytes 10 --expect refused || fail "-L $((P + 5)) still listens"
log ok
