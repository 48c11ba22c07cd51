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
expect_msg "$WORK/bad.conf:3: sealed mode needs PrivateKeyFile"
expect_msg "$WORK/bad.conf:4: peer a: sealed mode needs its PublicKey"
expect_msg "$WORK/bad.conf:6: Endpoint: '::1:7000': write IPv6 addresses in brackets"
expect_msg "$WORK/bad.conf:14: Service = 1: tunnel port 1 is reserved"
expect_msg "$WORK/bad.conf:15: expected 'Key = Value' or '[Section]'"
expect_msg "$WORK/bad.conf:16: unknown section [Colour]"
expect_msg "$WORK/bad.conf:7: Peers: no peer named nobody"
expect_msg "$WORK/bad.conf:11: Peer = zz: no such peer"
expect_rc 3 "$TCPUD" -c "$WORK/bad.conf" --socket off
expect_msg "$WORK/bad.conf:3: sealed mode needs PrivateKeyFile"
expect_rc 3 "$TCPUD" --check-config "$WORK/missing.conf"
expect_msg "$WORK/missing.conf: No such file or directory"

printf '[Interface]\nListenPort = 7000\n[Service]\nPort = 80\nTarget = 127.0.0.1:80\nPeers = *\n' >"$WORK/good.conf"
expect_rc 0 "$TCPUD" --check-config "$WORK/good.conf"
expect_msg "good.conf: ok (0 peers, 1 service, 0 forwards)"
# Sealed-mode examples name key files under /etc/tcpud: point them at
# keys made here.
umask 077
head -c 32 /dev/urandom | base64 >"$WORK/ex.key"
head -c 32 /dev/urandom | base64 >"$WORK/ex.psk"
for f in "$SRC"/contrib/examples/*.conf; do
  sed -e "s|^\(PrivateKeyFile *= *\).*|\1$WORK/ex.key|" \
    -e "s|^\(PresharedKeyFile *= *\).*|\1$WORK/ex.psk|" "$f" >"$WORK/example.conf"
  expect_rc 0 "$TCPUD" --check-config "$WORK/example.conf"
  grep -q "warning" "$WORK/out.log" && fail "$f: $(cat "$WORK/out.log")"
done

log "sealed mode: keys from files, file:line errors"
head -c 32 /dev/urandom | base64 >"$WORK/good.key"
printf 'not a key\n' >"$WORK/bad.key"
PUB=$(head -c 32 /dev/urandom | base64)
cat >"$WORK/sealed.conf" <<CONF
[Interface]
Mode = sealed
PrivateKeyFile = $WORK/good.key
Cipher = chachapoly
[Peer]
Name = p
PublicKey = $PUB
PresharedKeyFile = $WORK/good.key
PersistentKeepalive = 25
[Service]
Port = 80
Target = 127.0.0.1:80
Peers = p
CONF
expect_rc 0 "$TCPUD" --check-config "$WORK/sealed.conf"
[[ -s "$WORK/out.log" ]] && grep -q warning "$WORK/out.log" && fail "warnings: $(cat "$WORK/out.log")"
chmod 0640 "$WORK/good.key"
expect_rc 0 "$TCPUD" --check-config "$WORK/sealed.conf"
expect_msg "warning: $WORK/sealed.conf:3: PrivateKeyFile = $WORK/good.key: the file is readable by group or others (mode 0640)"
expect_msg "warning: $WORK/sealed.conf:8: PresharedKeyFile = $WORK/good.key: the file is readable"
chmod 0600 "$WORK/good.key"
sed -e "s|good.key$|bad.key|" "$WORK/sealed.conf" >"$WORK/s2.conf"
sed -i -e "s|^PresharedKeyFile.*|PresharedKeyFile = $WORK/none.psk|" \
  -e "s|^PublicKey.*|PublicKey = $PUB\nAllowedIPs = 10.0.0.0/8|" "$WORK/s2.conf"
printf '[Peer]\nName = q\n[Peer]\nName = r\nPublicKey = %s\n' "$PUB" >>"$WORK/s2.conf"
expect_rc 3 "$TCPUD" --check-config "$WORK/s2.conf"
expect_msg "$WORK/s2.conf:3: PrivateKeyFile = $WORK/bad.key: not a key (one line of 44 characters of base64"
expect_msg "$WORK/s2.conf:9: PresharedKeyFile = $WORK/none.psk: No such file or directory"
expect_msg "$WORK/s2.conf:15: peer q: sealed mode needs its PublicKey"
expect_msg "$WORK/s2.conf:17: peer r: the same PublicKey as peer p"
expect_msg "warning: $WORK/s2.conf:5: peer p: AllowedIPs is not used in sealed mode"
sed -e "s|^PrivateKeyFile.*|PrivateKeyFile = $WORK|" -e "s|^Cipher.*|Cipher = rot13|" \
  "$WORK/sealed.conf" >"$WORK/s3.conf"
expect_rc 3 "$TCPUD" --check-config "$WORK/s3.conf"
expect_msg "$WORK/s3.conf:3: PrivateKeyFile = $WORK: not a regular file"
expect_msg "$WORK/s3.conf:4: Cipher = 'rot13': expected chachapoly or aesgcm"
sed -e "s|^Cipher.*|Cipher = aesgcm|" "$WORK/sealed.conf" >"$WORK/s4.conf"
if grep -qw aes /proc/cpuinfo 2>/dev/null && grep -qw pclmulqdq /proc/cpuinfo; then
  expect_rc 0 "$TCPUD" --check-config "$WORK/s4.conf"
else
  expect_rc 3 "$TCPUD" --check-config "$WORK/s4.conf"
  expect_msg "$WORK/s4.conf:4: Cipher = aesgcm: this CPU has no AES-NI"
fi
# Our own key as a peer's.
OWN=$([[ -n "$TCPU" && -x "$TCPU" ]] && "$TCPU" pubkey <"$WORK/good.key")
if [[ -n "$OWN" ]]; then
  sed -e "s|^PublicKey.*|PublicKey = $OWN|" "$WORK/sealed.conf" >"$WORK/s5.conf"
  expect_rc 3 "$TCPUD" --check-config "$WORK/s5.conf"
  expect_msg "$WORK/s5.conf:5: peer p: PublicKey is this host's own public key"
fi
printf '[Interface]\nPrivateKeyFile = %s\n[Peer]\nName = p\nEndpoint = 127.0.0.1:1\nPublicKey = %s\n[Forward]\nLocal = 1234\nService = 80\n' \
  "$WORK/good.key" "$PUB" >"$WORK/plain.conf"
expect_rc 0 "$TCPUD" --check-config "$WORK/plain.conf"
expect_msg "warning: $WORK/plain.conf:2: PrivateKeyFile is used only in sealed mode"
expect_msg "warning: $WORK/plain.conf:3: PublicKey and PresharedKeyFile are used only in sealed mode"

expect_rc 2 "$TCPUD"
expect_rc 2 "$TCPUD" --no-such-flag
expect_rc 2 "$TCPUD" -c "$WORK/good.conf" -L 1:2
expect_msg "use either a configuration file"
expect_rc 2 "$TCPUD" --listen
expect_rc 3 "$TCPUD" --peer 127.0.0.1:1 -L 99999:80 --socket off
expect_msg "-L 99999:80: local address: '99999': port must be"
expect_rc 3 "$TCPUD" --listen 7000 --mode sealed --socket off
expect_msg "--mode sealed: sealed mode needs PrivateKeyFile (--private-key)"
expect_rc 3 "$TCPUD" --mode sealed --private-key "$WORK/good.key" --public-key "$PUB" \
  --peer 127.0.0.1:7000 -L 80:80 --socket off
expect_msg "--public-key $PUB: --public-key belongs to a peer: put it after that --peer"
expect_msg "--peer 127.0.0.1:7000: peer peer: sealed mode needs its PublicKey (--public-key)"
expect_rc 3 "$TCPUD" --mode sealed --private-key "$WORK/missing.key" --peer p \
  --public-key "$PUB" --service 80=80 --socket off
expect_msg "--private-key $WORK/missing.key: PrivateKeyFile = $WORK/missing.key: No such file or directory"
expect_rc 3 "$TCPUD" --peer laptop --service 80=80 --socket off
expect_msg "--peer laptop: a peer without HOST:PORT is for sealed mode"
expect_rc 3 "$TCPUD" --peer 127.0.0.1:7000 --persistent-keepalive soon -L 80:80 --socket off
expect_msg "--persistent-keepalive soon: PersistentKeepalive = 'soon': expected a number from 0 to 65535"

log "rendezvous: file:line errors, defaults, flags"
cat >"$WORK/rdv.conf" <<'CONF'
[Interface]
Name = has space
[Peer]
Name = p
Rendezvous = maybe
[Peer]
Name = q
Endpoint = 192.0.2.1:7000
Rendezvous = yes
[Peer]
Name = r
AllowedIPs = 192.0.2.9
RendezvousName = r
CONF
expect_rc 3 "$TCPUD" --check-config "$WORK/rdv.conf"
expect_msg "$WORK/rdv.conf:2: Name = 'has space': rendezvous names are 1 to 64 printable characters without spaces"
expect_msg "$WORK/rdv.conf:5: Rendezvous = 'maybe': expected yes or no"
expect_msg "$WORK/rdv.conf:6: peer q: Rendezvous = yes needs the server: [Interface] Rendezvous = HOST:PORT"
expect_msg "$WORK/rdv.conf:6: peer q: Endpoint and Rendezvous = yes exclude each other"
expect_msg "warning: $WORK/rdv.conf:10: peer r: RendezvousName is used only with Rendezvous = yes"
cat >"$WORK/rdv2.conf" <<'CONF'
[Interface]
Rendezvous = 192.0.2.7:7400
[Peer]
Name = b
Rendezvous = yes
[Peer]
Name = c
Rendezvous = yes
RendezvousName = b
CONF
expect_rc 3 "$TCPUD" --check-config "$WORK/rdv2.conf"
expect_msg "$WORK/rdv2.conf:2: plain mode needs Name (--name) with Rendezvous"
expect_msg "$WORK/rdv2.conf:6: peer c: the same RendezvousName as peer b ($WORK/rdv2.conf:3)"
# Plain mode, peer found through the rendezvous: the forward's only peer,
# no Endpoint needed, no keepalive warning.
printf '[Interface]\nRendezvous = 192.0.2.7:7400\nName = a\n[Peer]\nName = b\nRendezvous = yes\n[Forward]\nLocal = 8080\nService = 80\n' >"$WORK/rdv3.conf"
expect_rc 0 "$TCPUD" --check-config "$WORK/rdv3.conf"
[[ -s "$WORK/out.log" ]] && grep -q warning "$WORK/out.log" && fail "warnings: $(cat "$WORK/out.log")"
printf '[Interface]\nRendezvous = 192.0.2.7:7400\nName = b\n[Peer]\nName = b\nRendezvous = yes\n' >"$WORK/rdv4.conf"
expect_rc 3 "$TCPUD" --check-config "$WORK/rdv4.conf"
expect_msg "$WORK/rdv4.conf:4: peer b: RendezvousName b is this host's own Name"
expect_rc 3 "$TCPUD" --peer bob=rendezvous -L 8080:80 --socket off
expect_msg "--peer bob=rendezvous: peer bob: Rendezvous = yes needs the server"
expect_rc 3 "$TCPUD" --rendezvous 192.0.2.7:7400 --peer bob=rendezvous -L 8080:80 --socket off
expect_msg "--rendezvous 192.0.2.7:7400: plain mode needs Name (--name) with Rendezvous"
expect_rc 3 "$TCPUD" --rendezvous 192.0.2.7 --name a --peer bob=rendezvous -L 8080:80 --socket off
expect_msg "--rendezvous 192.0.2.7: Rendezvous:"
expect_rc 3 "$TCPUD" --rendezvous-name bob --socket off
expect_msg "--rendezvous-name belongs to a peer"

expect_rc 0 "$TCPUD" --help
expect_rc 0 "$TCPUD" --version
log ok
