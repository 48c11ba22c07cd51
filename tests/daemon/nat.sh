# nat.sh — network namespaces with NATs for the NAT traversal tests;
# sourced after lib.sh.
#
#   nat_public            makes the public network's namespace $PUB_NS
#   nat_site ID [OPTS]    a host $HOST_<ID> (10.ID.1.2) behind a router
#                         $ROUTER_<ID> that masquerades (nftables, RFC 4787
#                         endpoint-independent mapping, address-and-port-
#                         dependent filtering) onto its outside address
#                         10.ID.2.1, facing $PUB_NS at 10.ID.2.2.  OPTS are
#                         masquerade options ("random": a fresh mapping gets
#                         a fresh port, so a flushed mapping is a rebinding).
#                         Sets NAT_TIMEOUTS=1 when the router's idle UDP
#                         mappings could be set to expire after 3 s.
#                         Like a home router's firewall it drops what
#                         arrives unasked at its outside address: without
#                         that, a hole-punching datagram that comes before
#                         the host behind has sent to its source leaves a
#                         conntrack entry whose tuple the host's own reply
#                         would clash with, and masquerade gives the reply
#                         another port (the peer then drops it): no two
#                         such NATs could ever meet.  ("random" maps every
#                         destination to its own port, which no hole
#                         punching gets through: only for one-NAT tests.)
#   nat_flush ID          forgets the router's mappings (conntrack -F)
#   in_ns NS CMD...       runs CMD in a namespace
#
# Only loopback-free private addresses inside namespaces this test made;
# every namespace is deleted when the test ends.
[[ $EUID == 0 ]] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v nft >/dev/null || skip "no nft command (nftables)"
NAT_NS=()
CLEANUP_EXTRA='for ns in "${NAT_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done'
NAT_TIMEOUTS=1

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

nat_ns() { # NAME: creates it, records it for cleanup
  ip netns add "$1" 2>/dev/null || skip "ip netns is not available here"
  NAT_NS+=("$1")
  ip -n "$1" link set lo up
}

nat_public() {
  PUB_NS=tcpud-$$-pub
  nat_ns "$PUB_NS"
  in_ns "$PUB_NS" sysctl -qw net.ipv4.ip_forward=1
}

nat_site() {
  local id=$1 opts=${2:-} h=tcpud-$$-h$1 r=tcpud-$$-r$1
  nat_ns "$h"
  nat_ns "$r"
  printf -v "HOST_$id" %s "$h"
  printf -v "ROUTER_$id" %s "$r"
  ip link add "h$id-$$" netns "$h" type veth peer name "ri$id-$$" netns "$r" &&
    ip link add "ro$id-$$" netns "$r" type veth peer name "p$id-$$" netns "$PUB_NS" ||
    skip "cannot create veth pairs"
  ip -n "$h" addr add "10.$id.1.2/24" dev "h$id-$$"
  ip -n "$r" addr add "10.$id.1.1/24" dev "ri$id-$$"
  ip -n "$r" addr add "10.$id.2.1/24" dev "ro$id-$$"
  ip -n "$PUB_NS" addr add "10.$id.2.2/24" dev "p$id-$$"
  ip -n "$h" link set "h$id-$$" up
  ip -n "$r" link set "ri$id-$$" up
  ip -n "$r" link set "ro$id-$$" up
  ip -n "$PUB_NS" link set "p$id-$$" up
  ip -n "$h" route add default via "10.$id.1.1"
  ip -n "$r" route add default via "10.$id.2.2"
  in_ns "$r" sysctl -qw net.ipv4.ip_forward=1
  in_ns "$r" nft -f - <<NFT || skip "nftables NAT is not available"
table ip nat {
  chain post {
    type nat hook postrouting priority 100;
    oifname "ro$id-$$" masquerade $opts
  }
}
NFT
  in_ns "$r" nft -f - <<NFT || skip "nftables filtering is not available"
table ip filter {
  chain input {
    type filter hook input priority 0;
    iifname "ro$id-$$" ct state new drop
  }
}
NFT
  # The public side cannot route to 10.ID.1.0/24: only the NAT gets out.
  for k in nf_conntrack_udp_timeout nf_conntrack_udp_timeout_stream; do
    in_ns "$r" sysctl -qw "net.netfilter.$k=3" 2>/dev/null || NAT_TIMEOUTS=0
  done
}

nat_flush() {
  local r="ROUTER_$1"
  command -v conntrack >/dev/null || skip "no conntrack command"
  in_ns "${!r}" conntrack -F >/dev/null 2>&1 || fail "conntrack -F in ${!r}"
}
