#!/usr/bin/env bash
# PersistentKeepalive: a peer with it gets an empty datagram (plain mode)
# or an empty transport message (sealed mode) after every idle interval,
# which keeps NAT mappings open; without it nothing is sent while idle.
# Counted by the receiving tcpud (keepalives_received, tcpu show --json).
. "$(dirname "$0")/lib.sh"
[[ -n "$TCPU" && -x "$TCPU" ]] && "$TCPU" genkey --help >/dev/null 2>&1 ||
  skip "the tcpu command is not built"

counter() { # NAME FIELD
  "$TCPU" show --json --socket "$WORK/$1.sock" >"$WORK/$1.json" ||
    fail "tcpu show --json of $1"
  json_num "$WORK/$1.json" "$2"
}

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))

log "plain mode: A keeps 1 s keepalives towards B; C has none towards D"
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 80=$((P + 2))
tcpud_up A --peer b=127.0.0.1:$((P + 1)) --persistent-keepalive 1 -L $((P + 4)):80
tcpud_up D --listen 127.0.0.1:$((P + 3)) --service 80=$((P + 2))
tcpud_up C --peer d=127.0.0.1:$((P + 3)) -L $((P + 5)):80
client 127.0.0.1:$((P + 4)) --bytes 10000
client 127.0.0.1:$((P + 5)) --bytes 10000

log "sealed mode: F keeps 1 s keepalives towards E (from its file)"
umask 077
"$TCPU" genkey >"$WORK/e.key" && "$TCPU" genkey >"$WORK/f.key" || fail "genkey"
PUB_E=$("$TCPU" pubkey <"$WORK/e.key")
PUB_F=$("$TCPU" pubkey <"$WORK/f.key")
tcpud_up E --listen 127.0.0.1:$((P + 6)) --mode sealed --private-key "$WORK/e.key" \
  --peer f --public-key "$PUB_F" --service 80=$((P + 2))
cat >"$WORK/f.conf" <<CONF
$(sealed_dialer F "$WORK/f.key" e 127.0.0.1:$((P + 6)) "$PUB_E")
PersistentKeepalive = 1
[Forward]
Local = 127.0.0.1:$((P + 7))
Service = 80
CONF
tcpud_conf F "$WORK/f.conf"
client 127.0.0.1:$((P + 7)) --bytes 10000

log "idle for 4 s"
sleep 4
for pair in "A B" "F E"; do
  set -- $pair
  sent=$(counter "$1" keepalives_sent)
  got=$(counter "$2" keepalives_received)
  log "$1 -> $2: $sent keepalives sent, $got received"
  ((${sent:-0} >= 2 && ${got:-0} >= 2)) ||
    fail "$2 received ${got:-none} keepalives from $1 (sent ${sent:-none}) in 4 idle seconds"
done
grep -qF '"persistent_keepalive_s":1' "$WORK/A.json" || fail "A's peer b has no persistent_keepalive_s of 1"
for n in C D; do
  for f in keepalives_sent keepalives_received; do
    v=$(counter "$n" "$f")
    [[ $v == 0 ]] || fail "$n: $f is '$v' without PersistentKeepalive"
  done
done
"$TCPU" show --socket "$WORK/A.sock" >"$WORK/a.txt" || fail "tcpu show"
grep -q "keepalives: [1-9][0-9]* sent" "$WORK/a.txt" || fail "no keepalive counters in tcpu show: $(head -8 "$WORK/a.txt")"
grep -q "keepalive every 1 s" "$WORK/a.txt" || fail "no keepalive interval in A's peer b: $(cat "$WORK/a.txt")"

log "reload: F's PersistentKeepalive off, and nothing more is sent"
sed -i 's/^PersistentKeepalive = 1/PersistentKeepalive = off/' "$WORK/f.conf"
kill -HUP "$PID_F"
sleep 0.5
f_before=$(counter F keepalives_sent)
sleep 2.5
f_after=$(counter F keepalives_sent)
[[ $f_before == "$f_after" ]] || fail "F still sends keepalives after PersistentKeepalive = off ($f_before, then $f_after)"
client 127.0.0.1:$((P + 7)) --bytes 10000
log ok
