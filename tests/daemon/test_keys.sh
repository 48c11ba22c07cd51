#!/usr/bin/env bash
# tcpu genkey, pubkey, genpsk: WireGuard's key format (32 bytes, base64),
# the X25519 public key of RFC 7748 §6.1's test vector, clamping, fresh
# keys every time, and a warning when a secret lands in a readable file.
. "$(dirname "$0")/lib.sh"
[[ -x "$TCPU" ]] && "$TCPU" genkey --help >/dev/null 2>&1 || skip "the tcpu command is not built"

# RFC 7748 §6.1: Alice's private and public keys.
pub=$(echo "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=" | "$TCPU" pubkey) ||
  fail "pubkey of the RFC 7748 key"
[[ $pub == "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=" ]] ||
  fail "pubkey: $pub is not RFC 7748's"

umask 077
k1=$("$TCPU" genkey) && k2=$("$TCPU" genkey) || fail "genkey"
[[ ${#k1} == 44 && $k1 != "$k2" ]] || fail "genkey: '$k1' '$k2'"
# Clamped (RFC 7748 §5): the first byte's low 3 bits clear, the last
# byte's top bit clear and next bit set.
bytes=$(echo "$k1" | base64 -d | od -An -tu1 | tr -s ' \n' ' ')
set -- $bytes
(($# == 32 && ($1 & 7) == 0 && (${32} & 0xc0) == 0x40)) || fail "genkey is not clamped: $bytes"
p1=$(echo "$k1" | "$TCPU" pubkey) || fail "pubkey"
[[ ${#p1} == 44 && $p1 != "$k1" ]] || fail "pubkey: '$p1'"
psk=$("$TCPU" genpsk) || fail "genpsk"
[[ ${#psk} == 44 && $(echo "$psk" | base64 -d | wc -c) == 32 ]] || fail "genpsk: '$psk'"

echo "not a key" | "$TCPU" pubkey >/dev/null 2>&1 && fail "pubkey accepted garbage"
"$TCPU" genkey extra >/dev/null 2>&1
[[ $? == 2 ]] || fail "genkey with an argument is not a usage error"

umask 022
"$TCPU" genkey >"$WORK/readable.key" 2>"$WORK/warn.txt" || fail "genkey to a file"
grep -q "others may read" "$WORK/warn.txt" || fail "no warning for a readable key file"
umask 077
"$TCPU" genkey >"$WORK/private.key" 2>"$WORK/warn.txt" || fail "genkey to a file"
[[ ! -s "$WORK/warn.txt" ]] || fail "a warning for a private file: $(cat "$WORK/warn.txt")"

# A key made here is what tcpud.conf's PublicKey accepts.
printf '[Interface]\n[Peer]\nName = p\nPublicKey = %s\n' "$p1" >"$WORK/k.conf"
"$TCPUD" --check-config "$WORK/k.conf" >/dev/null 2>&1 || fail "PublicKey from tcpu pubkey refused"
log ok
