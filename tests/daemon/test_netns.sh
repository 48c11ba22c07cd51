#!/usr/bin/env bash
# Two network namespaces joined by a veth pair, as two hosts: tcpud A in
# one with a -L forward, tcpud B in the other with the service, over real
# (virtual) interfaces with an MTU of 1400.  Then the same through a
# `tcpu netem` relay (delay and loss) when the tcpu command has it.
. "$(dirname "$0")/lib.sh"

[[ $EUID == 0 ]] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "no ip command (iproute2)"
NS_A=tcpud-$$-a
NS_B=tcpud-$$-b
ip netns add "$NS_A" 2>/dev/null || skip "ip netns is not available here"
CLEANUP_EXTRA='ip netns del "$NS_A" 2>/dev/null; ip netns del "$NS_B" 2>/dev/null'
ip netns add "$NS_B" || fail "ip netns add"
ip link add "va$$" netns "$NS_A" type veth peer name "vb$$" netns "$NS_B" ||
  skip "cannot create a veth pair"
ip -n "$NS_A" addr add 10.201.0.1/24 dev "va$$"
ip -n "$NS_B" addr add 10.201.0.2/24 dev "vb$$"
for ns in "$NS_A" "$NS_B"; do
  ip -n "$ns" link set lo up
done
ip -n "$NS_A" link set "va$$" mtu 1400 up
ip -n "$NS_B" link set "vb$$" mtu 1400 up
A() { ip netns exec "$NS_A" "$@"; }
B() { ip netns exec "$NS_B" "$@"; }

start echo ip netns exec "$NS_B" "$TESTPEER" echo 127.0.0.1:$((P + 2))
start B ip netns exec "$NS_B" "$TCPUD" --listen 10.201.0.2:7000 --service 80=$((P + 2)) --mtu 1400 \
  --socket "$WORK/B.sock" --log-level debug
wait_ready B "$WORK/B.sock"
start A ip netns exec "$NS_A" "$TCPUD" --peer 10.201.0.2:7000 -L $((P + 4)):80 --mtu 1400 \
  --socket "$WORK/A.sock" --log-level debug
wait_ready A "$WORK/A.sock"
log "client in A's namespace"
A "$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 20 --bytes 1000000 ||
  fail "transfer across namespaces failed"
A "$TESTPEER" client 127.0.0.1:$((P + 4)) --bytes $((16 << 20)) ||
  fail "large transfer across namespaces failed"

if [[ -n "$TCPU" && -x "$TCPU" ]] && "$TCPU" netem --help >/dev/null 2>&1; then
  log "through tcpu netem (50 Mbit/s, 10 ms each way, 1% loss)"
  start netem ip netns exec "$NS_A" "$TCPU" netem --listen 127.0.0.1:$((P + 7)) --to 10.201.0.2:7000 \
    --link rate=50mbit,delay=10ms,loss=0.01
  sleep 0.3
  start A2 ip netns exec "$NS_A" "$TCPUD" --peer 127.0.0.1:$((P + 7)) -L $((P + 5)):80 \
    --socket "$WORK/A2.sock" --log-level debug
  wait_ready A2 "$WORK/A2.sock"
  A "$TESTPEER" client 127.0.0.1:$((P + 5)) --conns 5 --bytes 2000000 --timeout 100 ||
    fail "transfer through tcpu netem failed"
else
  log "tcpu netem is not available: the relay part is skipped"
fi
log ok
