#!/usr/bin/env bash
# Sealed mode end to end: two tcpud on loopback, peers known by their keys
# (and a pre-shared key), -L forwards, data checked by hash and echo;
# `tcpu show` counts the handshake.  A key file others may read is used
# with a warning that names it.  A third tcpud whose key B does not list
# gets nothing through, and one that has the wrong key for B times out
# cleanly; B logs nothing per datagram (garbage included), only a summary.
# SIGHUP adds peers, changes a key and removes a peer while an unchanged
# peer's transfer runs on.
. "$(dirname "$0")/lib.sh"
[[ -n "$TCPU" && -x "$TCPU" ]] && "$TCPU" genkey --help >/dev/null 2>&1 ||
  skip "the tcpu command is not built (keys come from tcpu genkey)"

umask 077
for k in a b c; do
  "$TCPU" genkey >"$WORK/$k.key" || fail "tcpu genkey"
  printf -v "PUB_$k" '%s' "$("$TCPU" pubkey <"$WORK/$k.key")"
done
"$TCPU" genpsk >"$WORK/ab.psk" || fail "tcpu genpsk"
# Whoever dials B with this key for it can never complete a handshake.
WRONG=$("$TCPU" genkey | "$TCPU" pubkey)
# A's key is readable by others: used, with a warning.
chmod 0644 "$WORK/a.key"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
start hash "$TESTPEER" hash 127.0.0.1:$((P + 3))
b_conf() { # extra [Peer] sections
  cat >"$WORK/b.conf" <<CONF
[Interface]
Address = 127.0.0.1
ListenPort = $((P + 1))
Mode = sealed
PrivateKeyFile = $WORK/b.key
ControlSocket = $WORK/B.sock
LogLevel = debug

[Peer]
Name = a
PublicKey = $PUB_a
PresharedKeyFile = $WORK/ab.psk
AllowReverse = $((P + 9))

[Service]
Name = hash
Port = 80
Target = 127.0.0.1:$((P + 3))
Peers = *

[Service]
Name = echo
Port = 81
Target = 127.0.0.1:$((P + 2))
Peers = a
$1
CONF
}
b_conf ""
cat >"$WORK/a.conf" <<CONF
$(sealed_dialer A "$WORK/a.key" b 127.0.0.1:$((P + 1)) "$PUB_b")
PresharedKeyFile = $WORK/ab.psk

[Forward]
Local = 127.0.0.1:$((P + 4))
Service = 80

[Forward]
Local = 127.0.0.1:$((P + 5))
Service = 81

[Forward]
Reverse = $((P + 9))
Target = 127.0.0.1:$((P + 2))
CONF
tcpud_conf B "$WORK/b.conf"
tcpud_conf A "$WORK/a.conf"
grep_log A "PrivateKeyFile = $WORK/a.key: the file is readable by group or others (mode 0644)"
grep_log B "sealed mode (chachapoly, public key $PUB_b)"
if grep -q "readable by group or others" "$WORK/B.log"; then
  fail "a warning about B's private key file, which is mode 0600"
fi

log "sealed transfers, checked by hash and by echo"
client 127.0.0.1:$((P + 4)) --conns 4 --bytes 3000000 --mode hash
client 127.0.0.1:$((P + 5)) --conns 4 --bytes 1000000
log "-R: B listens for A, connections come back to A's key"
retry_client 10 127.0.0.1:$((P + 9)) --bytes 100
client 127.0.0.1:$((P + 9)) --conns 4 --bytes 1000000
grep_log B "control channel from peer a"
"$TCPU" show --json --socket "$WORK/A.sock" >"$WORK/a.json" || fail "tcpu show --json"
"$TCPU" show --json --socket "$WORK/B.sock" >"$WORK/b.json" || fail "tcpu show --json"
"$TCPU" show --socket "$WORK/B.sock" >"$WORK/b.txt" || fail "tcpu show"
for f in a b; do
  n=$(json_num "$WORK/$f.json" handshakes_done)
  ((${n:-0} >= 1)) || fail "$f: handshakes_done is '${n}', not >= 1"
done
grep -qF '"mode":"sealed","cipher":"chachapoly","public_key":"'"$PUB_b"'"' "$WORK/b.json" ||
  fail "B's tunnel in tcpu show --json: $(head -c 400 "$WORK/b.json")"
grep -qF '"name":"b","endpoint":"127.0.0.1:'$((P + 1))'","public_key":"'"$PUB_b"'","session":true' "$WORK/a.json" ||
  fail "peer b in A's tcpu show --json: $(grep -o '"peers":.\{300\}' "$WORK/a.json")"
if command -v python3 >/dev/null; then
  python3 -m json.tool "$WORK/b.json" >/dev/null || fail "tcpu show --json is not JSON"
fi
for want in "sealed mode" "handshakes: " "public key: $PUB_b (chachapoly)" \
  "peer a: endpoint 127.0.0.1:" "key ${PUB_a:0:8}, session yes, last handshake" \
  "control channel from a@127.0.0.1:" "listening on 127.0.0.1:$((P + 9))" \
  "ESTABLISHED" " a@127.0.0.1:"; do
  grep -qF -- "$want" "$WORK/b.txt" || fail "no '$want' in tcpu show of B"
done

log "an unlisted key (C) and a wrong key for B (W): nothing gets through"
cat >"$WORK/c.conf" <<CONF
$(sealed_dialer C "$WORK/c.key" b 127.0.0.1:$((P + 1)) "$PUB_b")
[Forward]
Local = 127.0.0.1:$((P + 6))
Service = 80
CONF
tcpud_conf C "$WORK/c.conf"
# W: A's own key (B knows it) but the wrong key for B, as flags.
tcpud_up W --mode sealed --private-key "$WORK/a.key" \
  --peer b=127.0.0.1:$((P + 1)) --public-key "$WRONG" -L $((P + 7)):80
lines_before=$(wc -l <"$WORK/B.log")
"$TESTPEER" client 127.0.0.1:$((P + 6)) --conns 2 --bytes 1000 --expect reset \
  --timeout 60 >"$WORK/c.out" 2>&1 &
CPID=$!
PIDS+=("$CPID")
"$TESTPEER" client 127.0.0.1:$((P + 7)) --conns 2 --bytes 1000 --expect reset \
  --timeout 60 >"$WORK/w.out" 2>&1 &
WPID=$!
PIDS+=("$WPID")
# Garbage and plain-mode segments at B's tunnel port meanwhile.
for i in $(seq 200); do
  printf 'garbage %d %s' "$i" "$RANDOM$RANDOM" >/dev/udp/127.0.0.1/$((P + 1))
done
tcpud_up X --peer 127.0.0.1:$((P + 1)) -L $((P + 8)):80
"$TESTPEER" client 127.0.0.1:$((P + 8)) --bytes 10 --expect reset --timeout 60 \
  >"$WORK/x.out" 2>&1 &
XPID=$!
PIDS+=("$XPID")
wait "$CPID" || fail "C's clients did not end with a reset: $(cat "$WORK/c.out")"
wait "$WPID" || fail "W's clients did not end with a reset: $(cat "$WORK/w.out")"
wait "$XPID" || fail "a plain-mode client did not end with a reset: $(cat "$WORK/x.out")"
log "C: $(cat "$WORK/c.out"); W: $(cat "$WORK/w.out")"
grep_log C "-L 127.0.0.1:$((P + 6)) (peer b, service 80) from 127.0.0.1:[0-9]*: tunnel connection to service 80 failed: connection timed out"
grep_log W "peer b: no handshake with 127.0.0.1:$((P + 1)) for"
grep_log W "with our public key $PUB_a in a \[Peer\]"
grep_log C "peer b: no handshake with 127.0.0.1:$((P + 1)) for"
"$TCPU" show --json --socket "$WORK/B.sock" >"$WORK/b2.json" || fail "tcpu show --json"
n=$(json_num "$WORK/b2.json" handshakes_failed)
((${n:-0} >= 2)) || fail "B: handshakes_failed is '$n' after C's and W's attempts"
n=$(json_num "$WORK/b2.json" drop_not_sealed)
((${n:-0} >= 200)) || fail "B: drop_not_sealed is '$n' after 200 garbage datagrams"
grep -q '"peer_address":"key:' "$WORK/b2.json" && fail "B has a connection of an unknown key"
new_lines=$(($(wc -l <"$WORK/B.log") - lines_before))
sed -n "$((lines_before + 1)),\$p" "$WORK/B.log" >"$WORK/b_new.log"
((new_lines <= 3)) || fail "B logged $new_lines lines while it was attacked: $(cat "$WORK/b_new.log")"
grep -q "failed to authenticate since the last report" "$WORK/b_new.log" ||
  fail "no summary of failed handshakes in B's log: $(cat "$WORK/b_new.log")"

if grep -qw aes /proc/cpuinfo; then
  log "a listed key with the other Cipher: silence, and B says why"
  tcpud_up M --mode sealed --private-key "$WORK/a.key" --cipher aesgcm \
    --peer b=127.0.0.1:$((P + 1)) --public-key "$PUB_b" \
    --preshared-key "$WORK/ab.psk" -L $((P + 10)):80
  "$TESTPEER" client 127.0.0.1:$((P + 10)) --bytes 10 --expect reset \
    --timeout 60 >/dev/null 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 100); do
    grep -q "handshake refused: it uses Cipher = aesgcm, this side chachapoly" \
      "$WORK/B.log" && break
    sleep 0.1
  done
  grep_log B "peer a at 127.0.0.1:[0-9]*: handshake refused: it uses Cipher = aesgcm, this side chachapoly; both ends must set the same Cipher"
else
  log "no AES-NI: the cipher mismatch part is skipped"
fi

log "SIGHUP: B adds peer c with a wrong key, then its right key, while A's transfer runs"
"$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 2 --bytes 16000000 --mode hash \
  --pace 10 --timeout 90 >"$WORK/busy.out" 2>&1 &
BUSY=$!
PIDS+=("$BUSY")
sleep 0.5
b_conf "
[Peer]
Name = c
PublicKey = $WRONG"
kill -HUP "$PID_B"
sleep 0.3
grep_log B "peer c: key ${WRONG:0:8}, endpoint none"
b_conf "
[Peer]
Name = c
PublicKey = $PUB_c"
kill -HUP "$PID_B"
sleep 0.3
grep_log B "peer c: its PublicKey changed; its connections end and a new session starts"
retry_client 20 127.0.0.1:$((P + 6)) --bytes 100000 --mode hash
client 127.0.0.1:$((P + 6)) --conns 2 --bytes 1000000 --mode hash
kill -0 "$BUSY" 2>/dev/null || fail "A's transfer ended before the last reload: $(cat "$WORK/busy.out")"

log "SIGHUP: B removes peer c again; A's transfer still runs"
b_conf ""
kill -HUP "$PID_B"
sleep 0.3
grep_log B "peer c removed"
"$TCPU" show --json --socket "$WORK/B.sock" >"$WORK/b3.json" || fail "tcpu show --json"
grep -qF '"name":"c"' "$WORK/b3.json" && fail "peer c still listed after its removal"
wait "$BUSY" || fail "A's transfer across the reloads failed: $(cat "$WORK/busy.out")"
log "A across three reloads: $(cat "$WORK/busy.out")"
client 127.0.0.1:$((P + 5)) --conns 2 --bytes 100000
log ok
