#!/usr/bin/env bash
# A rendezvous server on a wildcard address of a host with several
# addresses answers each request from the address it was sent to
# (cli/udp_pktinfo.h).  On loopback every 127.0.0.0/8 address is the
# host's own: `tcpu rendezvous` listens on 0.0.0.0 (then on [::], dual
# stack), alice registers at 127.0.0.2 and bob at 127.0.0.3, and both send
# from 127.0.0.1, whose route would be the answers' source otherwise.
# Clients take answers only from their server's address, so each
# registers, alice's lookup pushes alice to bob from 127.0.0.3, and a
# hash-verified transfer runs through the tunnel they then open.  As root,
# the same over IPv6 link-local addresses in two network namespaces.
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

# 3. IPv6 link-local: the server's namespace has fe80::1 and fe80::2 on its
#    veth; alice registers at fe80::2, bob at fe80::1, both from the
#    other namespace.  Each must hear from the address it asked, by the
#    interface the request came in on.  Link-local peers cannot reach
#    each other by what the server observed (the wire carries no scope),
#    so this round checks the registrations and the lookup only.
if [[ $EUID == 0 ]] && command -v ip >/dev/null; then
  NS_S=tcpud-$$-s
  NS_C=tcpud-$$-c
  if ip netns add "$NS_S" 2>/dev/null; then
    CLEANUP_EXTRA='ip netns del "$NS_S" 2>/dev/null; ip netns del "$NS_C" 2>/dev/null'
    ip netns add "$NS_C" || fail "ip netns add"
    ip link add "vs$$" netns "$NS_S" type veth peer name "vc$$" netns "$NS_C" ||
      fail "cannot create a veth pair"
    ip -n "$NS_S" addr add fe80::1/64 dev "vs$$" nodad
    ip -n "$NS_S" addr add fe80::2/64 dev "vs$$" nodad
    ip -n "$NS_C" addr add fe80::c/64 dev "vc$$" nodad
    for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
    ip -n "$NS_S" link set "vs$$" up
    ip -n "$NS_C" link set "vc$$" up
    log "3. IPv6 link-local, two addresses on one interface"
    start rdv3 ip netns exec "$NS_S" "$TCPU" rendezvous --listen "[::]:$RDV_PORT" -v
    for _ in $(seq 50); do
      grep -q "listening on" "$WORK/rdv3.log" && break
      sleep 0.1
    done
    start bob3 ip netns exec "$NS_C" "$TCPUD" --listen $((P + 4)) \
      --rendezvous "[fe80::1%vc$$]:$RDV_PORT" --name bob \
      --peer alice=rendezvous --service 80=127.0.0.1:$((P + 3))@alice \
      --socket "$WORK/bob3.sock" --log-level debug
    wait_ready bob3 "$WORK/bob3.sock"
    start alice3 ip netns exec "$NS_C" "$TCPUD" --listen $((P + 5)) \
      --rendezvous "[fe80::2%vc$$]:$RDV_PORT" --name alice \
      --peer bob=rendezvous -L $((P + 6)):80@bob \
      --socket "$WORK/alice3.sock" --log-level debug
    wait_ready alice3 "$WORK/alice3.sock"
    for _ in $(seq 100); do
      grep -q "peer bob: at .*:$((P + 4)) via rendezvous" "$WORK/alice3.log" &&
        grep -q "registered with \[fe80::1" "$WORK/bob3.log" && break
      sleep 0.1
    done
    grep_log alice3 "registered with \[fe80::2%[0-9]*\]:$RDV_PORT as alice"
    grep_log bob3 "registered with \[fe80::1%[0-9]*\]:$RDV_PORT as bob"
    grep_log alice3 "peer bob: at \[fe80::c\]:$((P + 4)) via rendezvous"
  else
    log "no ip netns here: round 3 skipped"
  fi
fi
log ok
