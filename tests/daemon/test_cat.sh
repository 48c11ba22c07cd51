#!/usr/bin/env bash
# tcpu cat: a listener and a client move a file intact; as a tunnel client
# it talks to a tcpud service directly, half-closing (the hash server
# answers after EOF, checked with b2sum); a tunnel port nobody serves fails
# with status 1.
. "$(dirname "$0")/lib.sh"
[[ -x "$TCPU" ]] && "$TCPU" cat --help >/dev/null 2>&1 || skip "tcpu cat is not built"

head -c 3000000 /dev/urandom >"$WORK/in.bin"
start catl "$TCPU" cat -l 127.0.0.1:$((P + 1)) 90
sleep 0.2
log "tcpu cat to tcpu cat -l"
"$TCPU" cat -v 127.0.0.1:$((P + 1)) 90 <"$WORK/in.bin" >"$WORK/back.bin" ||
  fail "tcpu cat exited $?"
wait_exit catl 10
[[ $RC == 0 ]] || fail "tcpu cat -l exited $RC"
cmp "$WORK/in.bin" "$WORK/catl.log" || fail "the listener received other bytes"
[[ ! -s "$WORK/back.bin" ]] || fail "the client received bytes the listener never sent"

log "tcpu cat to a tcpud service"
start hash "$TESTPEER" hash 127.0.0.1:$((P + 3))
tcpud_up B --listen 127.0.0.1:$((P + 2)) --service 81=$((P + 3))
"$TCPU" cat 127.0.0.1:$((P + 2)) 81 <"$WORK/in.bin" >"$WORK/answer" || fail "tcpu cat exited $?"
want=$(b2sum -l 256 "$WORK/in.bin" | cut -d' ' -f1)
[[ "$(cat "$WORK/answer")" == "$want" ]] ||
  fail "hash $(cat "$WORK/answer"), expected $want"

log "a tunnel port nobody serves"
"$TCPU" cat 127.0.0.1:$((P + 2)) 99 </dev/null >/dev/null 2>"$WORK/err" && fail "succeeded"
grep -q "connection refused" "$WORK/err" || fail "unclear error: $(cat "$WORK/err")"
"$TCPU" cat 127.0.0.1:$((P + 2)) 99999 </dev/null 2>/dev/null
[[ $? == 2 ]] || fail "a bad port is not a usage error"
log ok
