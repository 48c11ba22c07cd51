#!/usr/bin/env bash
# `tcpu show` and `tcpu show --json` while connections are open: the
# tunnel, peers, services, forwards and per-connection TCP state.
. "$(dirname "$0")/lib.sh"
[[ -n "$TCPU" && -x "$TCPU" ]] && "$TCPU" --version >/dev/null 2>&1 ||
  skip "the tcpu command is not built"

start echo "$TESTPEER" echo 127.0.0.1:$((P + 2))
tcpud_up B --listen 127.0.0.1:$((P + 1)) --service 80=$((P + 2)) --allow-reverse $((P + 6))
tcpud_up A --peer b=127.0.0.1:$((P + 1)) -L $((P + 4)):80 -R $((P + 6)):127.0.0.1:$((P + 2))
retry_client 10 127.0.0.1:$((P + 6)) --bytes 10
"$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 3 --bytes 3000000 --pace 10 \
  --timeout 60 >"$WORK/busy.out" 2>&1 &
BUSY=$!
PIDS+=("$BUSY")
sleep 0.7
[[ $(stat -c %a "$WORK/A.sock") == 600 ]] || fail "the control socket is not mode 0600"
"$TCPU" show --socket "$WORK/A.sock" >"$WORK/show_a.txt" || fail "tcpu show failed"
"$TCPU" show --socket "$WORK/B.sock" >"$WORK/show_b.txt" || fail "tcpu show failed"
"$TCPU" show --json --socket "$WORK/A.sock" >"$WORK/show_a.json" || fail "tcpu show --json failed"
cat "$WORK/show_a.txt"
for want in "tunnel: UDP" "peer b: endpoint 127.0.0.1:$((P + 1))" \
  "control channel to it: up" "-R 127.0.0.1:$((P + 6))" "active" \
  "forward -L 127.0.0.1:$((P + 4)) -> peer b, service 80" "ESTABLISHED" \
  "rtt:" "cwnd:" "bytes_acked:" "retrans:" "forward 127.0.0.1:$((P + 4)) <- 127.0.0.1:"; do
  grep -qF -- "$want" "$WORK/show_a.txt" || fail "no '$want' in tcpu show of A"
done
for want in "service port-80: tunnel port 80" "control channel from 127.0.0.1:" \
  "listening on 127.0.0.1:$((P + 6)) for its service $((P + 6))" "LISTEN"; do
  grep -qF -- "$want" "$WORK/show_b.txt" || fail "no '$want' in tcpu show of B"
done
for want in '"connections":[' '"state":"ESTABLISHED"' '"kind":"forward"' \
  '"rtt_ms":' '"cwnd":' '"retransmits":' '"bytes_acked":' '"peers":[{"name":"b"'; do
  grep -qF -- "$want" "$WORK/show_a.json" || fail "no '$want' in tcpu show --json"
done
if command -v python3 >/dev/null; then
  python3 -m json.tool "$WORK/show_a.json" >/dev/null || fail "tcpu show --json is not JSON"
fi
"$TCPU" show --socket "$WORK/none.sock" 2>"$WORK/err.txt" && fail "tcpu show without a daemon succeeded"
grep -q "cannot reach tcpud" "$WORK/err.txt" || fail "unclear error: $(cat "$WORK/err.txt")"
wait "$BUSY" || fail "transfers failed: $(cat "$WORK/busy.out")"
log ok
