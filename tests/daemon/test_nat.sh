#!/usr/bin/env bash
# -R through a NAT: "home" sits behind a router that masquerades it
# (nftables) and publishes its echo server on "relay"'s port; clients on
# the relay reach it through home's control channel and NAT mapping.  The
# router forgets idle UDP mappings after 3 s; home's PersistentKeepalive of
# 1 s keeps them, so the service still works after an idle 6 s.
. "$(dirname "$0")/lib.sh"

[[ $EUID == 0 ]] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v nft >/dev/null || skip "no nft command (nftables)"
HOME_NS=tcpud-$$-home
ROUTER=tcpud-$$-router
RELAY=tcpud-$$-relay
ip netns add "$HOME_NS" 2>/dev/null || skip "ip netns is not available here"
CLEANUP_EXTRA='for ns in "$HOME_NS" "$ROUTER" "$RELAY"; do ip netns del "$ns" 2>/dev/null; done'
ip netns add "$ROUTER" && ip netns add "$RELAY" || fail "ip netns add"
ip link add "h$$" netns "$HOME_NS" type veth peer name "ri$$" netns "$ROUTER" &&
  ip link add "ro$$" netns "$ROUTER" type veth peer name "x$$" netns "$RELAY" ||
  skip "cannot create veth pairs"
ip -n "$HOME_NS" addr add 10.202.1.2/24 dev "h$$"
ip -n "$ROUTER" addr add 10.202.1.1/24 dev "ri$$"
ip -n "$ROUTER" addr add 10.202.2.1/24 dev "ro$$"
ip -n "$RELAY" addr add 10.202.2.2/24 dev "x$$"
for l in "$HOME_NS h$$" "$ROUTER ri$$" "$ROUTER ro$$" "$RELAY x$$"; do
  set -- $l
  ip -n "$1" link set "$2" up
  ip -n "$1" link set lo up
done
ip -n "$HOME_NS" route add default via 10.202.1.1
ip netns exec "$ROUTER" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$ROUTER" nft -f - <<NFT || skip "nftables NAT is not available"
table ip nat {
  chain post {
    type nat hook postrouting priority 100;
    oifname "ro$$" masquerade
  }
}
NFT
# The relay cannot route to 10.202.1.0/24: only the NAT gets home out.
timeouts=1
for k in nf_conntrack_udp_timeout nf_conntrack_udp_timeout_stream; do
  ip netns exec "$ROUTER" sysctl -qw net.netfilter.$k=3 2>/dev/null || timeouts=0
done

cat >"$WORK/home.conf" <<CONF
[Interface]
ControlSocket = $WORK/home.sock
LogLevel = debug

[Peer]
Name = relay
Endpoint = 10.202.2.2:7000
PersistentKeepalive = 1

[Forward]
Reverse = 0.0.0.0:$((P + 4))
Target = 127.0.0.1:$((P + 2))
CONF
start echo ip netns exec "$HOME_NS" "$TESTPEER" echo 127.0.0.1:$((P + 2))
start relay ip netns exec "$RELAY" "$TCPUD" --listen 10.202.2.2:7000 \
  --allow-reverse $((P + 4)) --socket "$WORK/relay.sock" --log-level debug
wait_ready relay "$WORK/relay.sock"
start home ip netns exec "$HOME_NS" "$TCPUD" -c "$WORK/home.conf"
wait_ready home "$WORK/home.sock"

R() { ip netns exec "$RELAY" "$@"; }
for _ in $(seq 50); do
  R "$TESTPEER" client 127.0.0.1:$((P + 4)) --bytes 100 >/dev/null 2>&1 && break
  sleep 0.2
done
R "$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 10 --bytes 500000 ||
  fail "no echo through the relay"
grep_log relay "control channel from peer any at 10.202.2.1:"
if ((timeouts)); then
  log "idle for 6 s; the NAT forgets mappings idle for 3 s"
  sleep 6
  R "$TESTPEER" client 127.0.0.1:$((P + 4)) --conns 3 --bytes 100000 ||
    fail "the service did not survive an idle period behind the NAT"
else
  log "conntrack timeouts are not settable here: the idle part is skipped"
fi
log ok
