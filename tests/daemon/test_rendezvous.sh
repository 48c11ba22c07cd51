#!/usr/bin/env bash
# Both peers behind different NATs, meeting through the rendezvous (issue
# 8).  A sits in HOST_31 behind ROUTER_31 (10.31.2.1), B in HOST_32 behind
# ROUTER_32 (10.32.2.1); both routers masquerade and drop what comes
# unasked (nat.sh), so neither can reach the other until both have sent
# towards it.  `tcpu rendezvous` runs on the public side.  Each tcpud
# registers there and looks the other up (Rendezvous = yes); each learns
# the other's public address, punches and keeps the holes open.
#   1. Sealed mode (configuration files): -L both ways, hash-verified, over
#      the direct path between the two routers' public addresses (the
#      daemons' peer endpoints and both routers' conntrack say so).
#   2. B restarts on another port, so its NAT mapping is new: the server
#      pushes its new address to A, which moves there within a few seconds
#      and carries data again.  A's SIGHUP removes peer b and adds it back:
#      it is looked up again and works.
#   3. The same in plain mode (one-line flags).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nat.sh"
[[ -n "$TCPU" && -x "$TCPU" ]] || skip "the tcpu command is not built"
command -v conntrack >/dev/null || skip "no conntrack command"

nat_public
nat_site 31
nat_site 32
# Realistic NAT timeouts (Linux's defaults) instead of nat.sh's 3 s: the
# registration is refreshed every 15 s and the keepalives come every 25 s.
for r in "$ROUTER_31" "$ROUTER_32"; do
  in_ns "$r" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=30 2>/dev/null
  in_ns "$r" sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream=120 2>/dev/null
done
A_() { in_ns "$HOST_31" "$@"; }
B_() { in_ns "$HOST_32" "$@"; }
RDV=10.31.2.2:7400

# wait_log NAME PATTERN SECONDS: until the pattern is in NAME's log.
wait_log() {
  for _ in $(seq $(($3 * 10))); do
    grep -q -- "$2" "$WORK/$1.log" && return 0
    sleep 0.1
  done
  fail "no '$2' in $1's log within $3 s"
}
# peer_endpoint SOCKET PEER: the peer's endpoint as `tcpu show --json` has it.
peer_endpoint() {
  "$TCPU" show --json --socket "$1" | tr '{' '\n' |
    grep -o "\"name\":\"$2\",\"endpoint\":\"[^\"]*\"" | sed 's/.*"endpoint":"//; s/"$//'
}
# direct ROUTER HOST_IP PORT PEER_IP PEER_PORT: the router's conntrack has the
# flow from the host's tunnel port to the other NAT's public address, and
# has seen answers on it (not [UNREPLIED]).
direct() {
  in_ns "$1" conntrack -L -p udp 2>/dev/null |
    grep "src=$2 dst=$4 sport=$3 dport=$5 " | grep -qv UNREPLIED ||
    fail "$1 has no answered flow $2:$3 -> $4:$5: $(in_ns "$1" conntrack -L -p udp 2>/dev/null)"
}
# transfers: hash-verified data both ways through the -L forwards.
transfers() { # A_PORT B_PORT
  A_ "$TESTPEER" client 127.0.0.1:$1 --mode hash --conns 4 --bytes 2000000 \
    --timeout 20 || fail "A's -L $1 to B's service"
  B_ "$TESTPEER" client 127.0.0.1:$2 --mode hash --conns 4 --bytes 2000000 \
    --timeout 20 || fail "B's -L $2 to A's service"
}

umask 077
"$TCPU" genkey >"$WORK/a.key" && "$TCPU" genkey >"$WORK/b.key" || fail "genkey"
PUB_a=$("$TCPU" pubkey <"$WORK/a.key")
PUB_b=$("$TCPU" pubkey <"$WORK/b.key")

# On one address: listening on 0.0.0.0, its answers to B would leave from
# 10.32.2.2 (the route's source), not from the 10.31.2.2 B asked, and B's
# NAT lets only answers from the address asked in.
start rdv ip netns exec "$PUB_NS" "$TCPU" rendezvous --listen $RDV -v
start hash_a ip netns exec "$HOST_31" "$TESTPEER" hash 127.0.0.1:$((P + 2))
start hash_b ip netns exec "$HOST_32" "$TESTPEER" hash 127.0.0.1:$((P + 3))

log "1. sealed mode: A and B meet through the rendezvous"
# sealed_conf KEY LISTENPORT PEER PEERKEY SERVICE TARGET LOCAL PEERSERVICE:
# serves SERVICE from 127.0.0.1:TARGET to PEER, forwards 127.0.0.1:LOCAL to
# PEER's PEERSERVICE; PEER is found through the rendezvous.
sealed_conf() {
  cat <<CONF
[Interface]
ListenPort = $2
Mode = sealed
PrivateKeyFile = $1
Rendezvous = $RDV

[Peer]
Name = $3
PublicKey = $4
Rendezvous = yes

[Service]
Port = $5
Target = 127.0.0.1:$6
Peers = $3

[Forward]
Local = $7
Peer = $3
Service = $8
CONF
}
sealed_conf "$WORK/a.key" 7000 b "$PUB_b" 81 $((P + 2)) $((P + 4)) 80 >"$WORK/a.conf"
for port in 7001 7002; do
  sealed_conf "$WORK/b.key" $port a "$PUB_a" 80 $((P + 3)) $((P + 5)) 81 \
    >"$WORK/b-$port.conf"
done
"$TCPUD" --check-config "$WORK/a.conf" >"$WORK/check.out" 2>&1 ||
  fail "a.conf: $(cat "$WORK/check.out")"

sealed_b() { # LISTENPORT
  start B ip netns exec "$HOST_32" "$TCPUD" -c "$WORK/b-$1.conf" \
    --socket "$WORK/B.sock" --log-level debug
  wait_ready B "$WORK/B.sock"
}
plain_b() { # LISTENPORT
  start B2 ip netns exec "$HOST_32" "$TCPUD" --listen "$1" --rendezvous "$RDV" \
    --name bob --peer alice=rendezvous --service 80=127.0.0.1:$((P + 3))@alice \
    -L $((P + 7)):81@alice --socket "$WORK/B2.sock" --log-level debug
  wait_ready B2 "$WORK/B2.sock"
}
# restart NAME START LISTENPORT: stops B (NAME) and starts it again on
# another port with START, which is a new mapping on its NAT.
restart() {
  local pidvar="PID_$1"
  kill -TERM "${!pidvar}"
  wait_exit "$1" 10
  mv "$WORK/$1.log" "$WORK/$1-first.log"
  T_RESTART=$(date +%s%N)
  "$2" "$3"
}
# met A PEER_B ADDR_B B PEER_A ADDR_A: each daemon has the other at the
# other NAT's public address, and both routers' conntrack has the direct
# flow between them (the rendezvous server is no part of it).
met() {
  local e
  e=$(peer_endpoint "$WORK/$1.sock" "$2")
  [[ $e == "$3" ]] || fail "$1's peer $2 is at '$e', not $3"
  e=$(peer_endpoint "$WORK/$4.sock" "$5")
  [[ $e == "$6" ]] || fail "$4's peer $5 is at '$e', not $6"
  direct "$ROUTER_31" 10.31.1.2 "${6#*:}" 10.32.2.1 "${3#*:}"
  direct "$ROUTER_32" 10.32.1.2 "${3#*:}" 10.31.2.1 "${6#*:}"
}

start A ip netns exec "$HOST_31" "$TCPUD" -c "$WORK/a.conf" \
  --socket "$WORK/A.sock" --log-level debug
wait_ready A "$WORK/A.sock"
sealed_b 7001
wait_log A "peer b: at 10.32.2.1:7001 via rendezvous" 10
wait_log B "peer a: at 10.31.2.1:7000 via rendezvous" 10
grep_log A "rendezvous: registered with 10.31.2.2:7400 as $PUB_a; seen at 10.31.2.1:7000"
transfers $((P + 4)) $((P + 5))
met A b 10.32.2.1:7001 B a 10.31.2.1:7000
"$TCPU" show --socket "$WORK/A.sock" >"$WORK/a-show.txt" || fail "tcpu show"
grep -q "rendezvous: 10.31.2.2:7400 as $PUB_a, registered, seen at 10.31.2.1:7000" "$WORK/a-show.txt" ||
  fail "tcpu show: $(cat "$WORK/a-show.txt")"
grep -q "rendezvous: $PUB_b, found" "$WORK/a-show.txt" || fail "tcpu show: $(cat "$WORK/a-show.txt")"

log "2. sealed: B restarts on another port (a new NAT mapping)"
restart B sealed_b 7002
wait_log A "peer b: at 10.32.2.1:7002 via rendezvous" 10
log "A found B again after $((($(date +%s%N) - T_RESTART) / 1000000)) ms"
transfers $((P + 4)) $((P + 5))
met A b 10.32.2.1:7002 B a 10.31.2.1:7000

log "2b. sealed: SIGHUP removes peer b from A, a second one brings it back"
cp "$WORK/a.conf" "$WORK/a-full.conf"
sed -n '1,/^$/p' "$WORK/a-full.conf" >"$WORK/a.conf" # [Interface] only
kill -HUP "$PID_A"
wait_log A "peer b removed" 5
cp "$WORK/a-full.conf" "$WORK/a.conf"
kill -HUP "$PID_A"
wait_log A "peer b: at 10.32.2.1:7002 via rendezvous (looked up)" 10
transfers $((P + 4)) $((P + 5))
kill -TERM "$PID_A" "$PID_B"
wait_exit A 10
wait_exit B 10

log "3. plain mode (flags): the same, and B restarts"
start A2 ip netns exec "$HOST_31" "$TCPUD" --listen 7100 --rendezvous "$RDV" \
  --name alice --peer bob=rendezvous --service 81=127.0.0.1:$((P + 2))@bob \
  -L $((P + 6)):80@bob --socket "$WORK/A2.sock" --log-level debug
wait_ready A2 "$WORK/A2.sock"
plain_b 7101
wait_log A2 "peer bob: at 10.32.2.1:7101 via rendezvous" 10
wait_log B2 "peer alice: at 10.31.2.1:7100 via rendezvous" 10
transfers $((P + 6)) $((P + 7))
met A2 bob 10.32.2.1:7101 B2 alice 10.31.2.1:7100
restart B2 plain_b 7102
wait_log A2 "peer bob: at 10.32.2.1:7102 via rendezvous" 10
log "A2 found B2 again after $((($(date +%s%N) - T_RESTART) / 1000000)) ms"
transfers $((P + 6)) $((P + 7))
met A2 bob 10.32.2.1:7102 B2 alice 10.31.2.1:7100
log ok
