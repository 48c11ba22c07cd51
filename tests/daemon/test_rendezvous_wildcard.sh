#!/usr/bin/env bash
# A rendezvous server on a wildcard address of a host with several
# addresses answers each request from the address it was sent to
# (cli/udp_pktinfo.h).  On loopback every 127.0.0.0/8 address is the
# host's own: `tcpu rendezvous` listens on 0.0.0.0 (then on [::], dual
# stack), alice registers at 127.0.0.2 and bob at 127.0.0.3, and both send
# from 127.0.0.1, whose route would be the answers' source otherwise.
# Clients take answers only from their server's address, so each
# registers, alice's lookup pushes alice to bob from 127.0.0.3, and a
# hash-verified transfer runs through the tunnel they then open.
. "$(dirname "$0")/lib.sh"
[[ -n "$TCPU" && -x "$TCPU" ]] || skip "the tcpu command is not built"
ip -4 addr show dev lo | grep -q "127.0.0.1/8" || skip "no 127.0.0.0/8 on lo"

start hash "$TESTPEER" hash 127.0.0.1:$((P + 3))
RDV_PORT=$((P + 10))

run() { # LISTEN_HOST ROUND
  local host=$1 r=$2
  start "rdv$r" "$TCPU" rendezvous --listen "$host:$RDV_PORT" -v
  for _ in $(seq 50); do
    grep -q "listening on" "$WORK/rdv$r.log" && break
    sleep 0.1
  done
  grep_log "rdv$r" "listening on"
  tcpud_up "bob$r" --listen $((P + 4)) --rendezvous 127.0.0.3:$RDV_PORT \
    --name bob --peer alice=rendezvous \
    --service 80=127.0.0.1:$((P + 3))@alice
  tcpud_up "alice$r" --listen $((P + 5)) --rendezvous 127.0.0.2:$RDV_PORT \
    --name alice --peer bob=rendezvous -L $((P + 6)):80@bob
  for _ in $(seq 100); do
    grep -q "peer bob: at 127.0.0.1:$((P + 4)) via rendezvous" \
      "$WORK/alice$r.log" &&
      grep -q "peer alice: at 127.0.0.1:$((P + 5)) via rendezvous" \
        "$WORK/bob$r.log" && break
    sleep 0.1
  done
  grep_log "alice$r" "registered with 127.0.0.2:$RDV_PORT as alice"
  grep_log "bob$r" "registered with 127.0.0.3:$RDV_PORT as bob"
  grep_log "alice$r" "peer bob: at 127.0.0.1:$((P + 4)) via rendezvous"
  grep_log "bob$r" "peer alice: at 127.0.0.1:$((P + 5)) via rendezvous"
  retry_client 10 127.0.0.1:$((P + 6)) --mode hash --conns 2 \
    --bytes 1000000 --timeout 10
  client 127.0.0.1:$((P + 6)) --mode hash --conns 4 --bytes 2000000 \
    --timeout 20
  for n in "alice$r" "bob$r" "rdv$r"; do
    pidvar="PID_$n"
    kill -TERM "${!pidvar}"
    wait_exit "$n" 10
  done
}

log "1. listening on 0.0.0.0"
run 0.0.0.0 1
log "2. listening on [::] (dual stack)"
if [[ "$(sysctl -n net.ipv6.bindv6only 2>/dev/null)" == 0 ]] &&
  ip -6 addr show dev lo | grep -q "::1/128"; then
  run "[::]" 2
else
  log "no dual-stack IPv6 on loopback: round 2 skipped"
fi
log ok
