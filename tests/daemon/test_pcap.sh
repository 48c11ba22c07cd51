#!/usr/bin/env bash
# --pcap: tcpud and tcpu cat write every tunnelled segment as TCP/IP.  The
# capture must be sound on its own (IP headers, TCP checksums over the
# synthetic addresses: testpeer pcapcheck) and, when tshark is installed,
# read by tshark's TCP analysis as ordinary TCP conversations.
. "$(dirname "$0")/lib.sh"

# A binding without a datagram tap cannot capture: tcpud says so at once.
timeout 5 "$TCPUD" --listen 127.0.0.1:$((P + 1)) --service 81=1 --socket off \
  --pcap "$WORK/probe.pcap" >"$WORK/probe.log" 2>&1 &
probe=$!
sleep 0.3
if grep -q "shows no datagrams to a capture" "$WORK/probe.log"; then
  wait "$probe"
  skip "$(grep -o "this build's libuv binding.*" "$WORK/probe.log")"
fi
kill -TERM "$probe" 2>/dev/null
wait "$probe"

start hash "$TESTPEER" hash 127.0.0.1:$((P + 3))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 81=$((P + 3)) --pcap "$WORK/b.pcap"
tcpud_up A --peer 127.0.0.1:$((P + 1)) -L $((P + 4)):81 --pcap "$WORK/a.pcap"
client 127.0.0.1:$((P + 4)) --conns 3 --bytes 500000 --mode hash
kill -TERM "$PID_A" "$PID_B"
wait_exit A 10
wait_exit B 10
for f in a b; do
  "$TESTPEER" pcapcheck "$WORK/$f.pcap" >"$WORK/$f.check" || fail "$(cat "$WORK/$f.check")"
  log "$(cat "$WORK/$f.check")"
  # 3 connections: 3 SYN and 3 SYN-ACK, and at least a FIN each way.
  grep -qE " 6 SYN, ([6-9]|[1-9][0-9]) FIN," "$WORK/$f.check" ||
    fail "expected 3 connections in $f.pcap"
done

# Sealed mode: the capture shows the opened segments.  Only S captures,
# so what it receives was sent without the inner checksum (the AEAD covers
# it) and the capture must have computed it.
"$TCPU" genkey >"$WORK/s.key" && "$TCPU" genkey >"$WORK/c.key" || fail "genkey"
chmod 600 "$WORK/s.key" "$WORK/c.key"
tcpud_up S --listen 127.0.0.1:$((P + 6)) --mode sealed --private-key "$WORK/s.key" \
  --peer c --public-key "$("$TCPU" pubkey <"$WORK/c.key")" \
  --service 81=$((P + 3)) --pcap "$WORK/s.pcap"
tcpud_up C --mode sealed --private-key "$WORK/c.key" --peer s=127.0.0.1:$((P + 6)) \
  --public-key "$("$TCPU" pubkey <"$WORK/s.key")" -L $((P + 7)):81
client 127.0.0.1:$((P + 7)) --conns 3 --bytes 500000 --mode hash
kill -TERM "$PID_S" "$PID_C"
wait_exit S 10
wait_exit C 10
"$TESTPEER" pcapcheck "$WORK/s.pcap" >"$WORK/s.check" || fail "sealed: $(cat "$WORK/s.check")"
log "sealed: $(cat "$WORK/s.check")"
grep -qE " 6 SYN, ([6-9]|[1-9][0-9]) FIN," "$WORK/s.check" ||
  fail "expected 3 connections in s.pcap"

if [[ -x "$TCPU" ]] && "$TCPU" cat --help >/dev/null 2>&1; then
  head -c 300000 /dev/urandom >"$WORK/in.bin"
  start catl "$TCPU" cat -l 127.0.0.1:$((P + 5)) 90 --pcap "$WORK/l.pcap"
  sleep 0.2
  "$TCPU" cat --pcap "$WORK/c.pcap" 127.0.0.1:$((P + 5)) 90 <"$WORK/in.bin" ||
    fail "tcpu cat --pcap"
  wait_exit catl 10
  for f in l c; do
    "$TESTPEER" pcapcheck "$WORK/$f.pcap" >"$WORK/$f.check" || fail "$(cat "$WORK/$f.check")"
    log "$(cat "$WORK/$f.check")"
  done
fi

if command -v tshark >/dev/null; then
  tshark -r "$WORK/a.pcap" -q -z conv,tcp >"$WORK/conv.txt" 2>/dev/null ||
    fail "tshark cannot read a.pcap"
  [[ $(grep -c "<->.*:81 " "$WORK/conv.txt") == 3 ]] ||
    fail "tshark does not see 3 TCP conversations: $(cat "$WORK/conv.txt")"
  bad=$(tshark -r "$WORK/a.pcap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
    -Y "tcp.checksum.status != 1 || ip.checksum.status == 0" 2>/dev/null | wc -l)
  [[ $bad == 0 ]] || fail "tshark finds $bad segments with bad checksums"
  log "tshark: 3 TCP conversations, checksums good"
else
  log "tshark is not installed: its part is skipped"
fi
log ok
