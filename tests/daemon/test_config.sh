#!/usr/bin/env bash
# Configuration errors name the file, the line and the problem; exit
# codes: 0 ok, 2 usage, 3 configuration.  The shipped examples pass.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

expect_rc() { # CODE CMD...
  local want=$1
  shift
  "$@" >"$WORK/out.log" 2>&1
  local rc=$?
  [[ $rc == "$want" ]] || fail "$* exited $rc, not $want: $(cat "$WORK/out.log")"
}
expect_msg() { grep -qF -- "$1" "$WORK/out.log" || fail "no '$1' in: $(cat "$WORK/out.log")"; }

cat >"$WORK/bad.conf" <<'CONF'
[Interface]
ListenPort = 70000
Mode = sealed
[Peer]
Name = a
Endpoint = ::1:7000
[Service]
Port = 80
Target = 127.0.0.1:8080
Peers = nobody
[Forward]
Local = 8080
Peer = zz
Service = 1
frobnicate
[Colour]
CONF
expect_rc 3 "$TCPUD" --check-config "$WORK/bad.conf"
expect_msg "$WORK/bad.conf:2: ListenPort = '70000': expected a number from 0 to 65535"
expect_msg "$WORK/bad.conf:3: Mode = sealed is not supported yet"
expect_msg "$WORK/bad.conf:6: Endpoint: '::1:7000': write IPv6 addresses in brackets"
expect_msg "$WORK/bad.conf:14: Service = 1: tunnel port 1 is reserved"
expect_msg "$WORK/bad.conf:15: expected 'Key = Value' or '[Section]'"
expect_msg "$WORK/bad.conf:16: unknown section [Colour]"
expect_msg "$WORK/bad.conf:7: Peers: no peer named nobody"
expect_msg "$WORK/bad.conf:11: Peer = zz: no such peer"
expect_rc 3 "$TCPUD" -c "$WORK/bad.conf" --socket off
expect_msg "$WORK/bad.conf:3: Mode = sealed is not supported yet"
expect_rc 3 "$TCPUD" --check-config "$WORK/missing.conf"
expect_msg "$WORK/missing.conf: No such file or directory"

printf '[Interface]\nListenPort = 7000\n[Service]\nPort = 80\nTarget = 127.0.0.1:80\nPeers = *\n' >"$WORK/good.conf"
expect_rc 0 "$TCPUD" --check-config "$WORK/good.conf"
expect_msg "good.conf: ok (0 peers, 1 service, 0 forwards)"
for f in "$SRC"/contrib/examples/*.conf; do
  expect_rc 0 "$TCPUD" --check-config "$f"
done

expect_rc 2 "$TCPUD"
expect_rc 2 "$TCPUD" --no-such-flag
expect_rc 2 "$TCPUD" -c "$WORK/good.conf" -L 1:2
expect_msg "use either a configuration file"
expect_rc 2 "$TCPUD" --listen
expect_rc 3 "$TCPUD" --peer 127.0.0.1:1 -L 99999:80 --socket off
expect_msg "-L 99999:80: local address: '99999': port must be"
expect_rc 3 "$TCPUD" --listen 7000 --mode sealed --socket off
expect_msg "--mode sealed: Mode = sealed is not supported yet"
expect_rc 0 "$TCPUD" --help
expect_rc 0 "$TCPUD" --version
log ok
