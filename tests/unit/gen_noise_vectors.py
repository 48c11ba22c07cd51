#!/usr/bin/env python3
"""gen_noise_vectors.py -- writes tests/unit/noise_vectors.h for test_noise.c
and test_cookie.c.

    python3 tests/unit/gen_noise_vectors.py [ik-vectors.json] [out.h]

Defaults: ../shared/testdata/noise/ik-vectors.json beside the repository
(the cacophony vectors of DESIGN §6) and noise_vectors.h next to this script.

Two kinds of tables:
  * the cacophony Noise_IK / Noise_IKpsk2 vectors, byte for byte from the
    JSON file;
  * reference values for the primitives built on BLAKE2b (HASH, HMAC per
    RFC 2104 with a 128-byte block, Noise's HKDF, keyed BLAKE2b with a
    16-byte digest for mac1/mac2), computed here with Python's hashlib and
    hmac -- an implementation independent of libsodium's;
  * for each vector, the handshake hash (GetHandshakeHash(), the final h)
    and the Split() keys, computed here by a second implementation of the
    Noise SymmetricState (RFC 7748 X25519 in Python, hashlib, hmac) from the
    vector's keys and its own ciphertexts.

The JSON's "handshake_hash" fields do not hold the final h: for every one
of the four protocols the value is h two MixHash steps before the end of
the handshake (after message 1 for IK; after the responder's "e" for
IKpsk2), while every ciphertext in the file agrees with the final h
computed here (and with test_noise.c).  The header keeps both, and the
test checks both, so a corrected file shows up as a failing test.
"""
import hashlib
import hmac
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JSON = os.path.join(HERE, "..", "..", "..", "shared", "testdata",
                            "noise", "ik-vectors.json")
DEFAULT_OUT = os.path.join(HERE, "noise_vectors.h")


def c_bytes(name, data):
    if not data:
        return "static const uint8_t %s[1] = {0};\n" % name
    lines = []
    for i in range(0, len(data), 12):
        lines.append("    " + ", ".join("0x%02x" % b for b in data[i:i + 12]))
    return "static const uint8_t %s[%d] = {\n%s};\n" % (
        name, len(data), ",\n".join(lines))


def ref(name, data):
    return "{%s, %d}" % (name, len(data))


def hmac_b2b(key, data):
    return hmac.new(key, data, hashlib.blake2b).digest()


def hkdf(ck, ikm, n):
    temp = hmac_b2b(ck, ikm)
    outs, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac_b2b(temp, prev + bytes([i]))
        outs.append(prev)
    return outs


P25519 = 2**255 - 19


def x25519(k, u):
    """RFC 7748 section 5, the Montgomery ladder."""
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    u = bytearray(u)
    u[31] &= 127
    x1 = int.from_bytes(u, "little")
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        kt = (k >> t) & 1
        swap ^= kt
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = kt
        a, b = x2 + z2, x2 - z2
        aa, bb = a * a, b * b
        e = aa - bb
        c, d = x3 + z3, x3 - z3
        da, cb = d * a, c * b
        x3 = (da + cb) ** 2 % P25519
        z3 = x1 * (da - cb) ** 2 % P25519
        x2 = aa * bb % P25519
        z2 = e * (aa + 121665 * e) % P25519
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P25519 - 2, P25519) % P25519).to_bytes(32, "little")


def noise_ik_transcript(v):
    """Runs the SymmetricState of Noise_IK[psk2] over the vector's keys and
    ciphertexts; returns (final h, k1, k2, h two MixHash steps early)."""
    blake = lambda x: hashlib.blake2b(x).digest()
    base = (9).to_bytes(32, "little")
    psk2 = "psk2" in v["protocol_name"]
    name = v["protocol_name"].encode()
    h = name + bytes(64 - len(name)) if len(name) <= 64 else blake(name)
    ck = h
    hist = []

    def mix_hash(data):
        nonlocal h
        hist.append(h)
        h = blake(h + data)

    def mix_key(ikm):
        nonlocal ck
        ck = hkdf(ck, ikm, 2)[0]

    i_s = bytes.fromhex(v["init_static"])
    i_e = bytes.fromhex(v["init_ephemeral"])
    r_s = bytes.fromhex(v["resp_static"])
    r_e = bytes.fromhex(v["resp_ephemeral"])
    rs = bytes.fromhex(v["init_remote_static"])
    assert x25519(r_s, base) == rs
    m0 = bytes.fromhex(v["messages"][0]["ciphertext"])
    m1 = bytes.fromhex(v["messages"][1]["ciphertext"])
    mix_hash(bytes.fromhex(v["init_prologue"]))
    mix_hash(rs)
    # -> e, es, s, ss, payload
    assert m0[:32] == x25519(i_e, base)
    mix_hash(m0[:32])
    if psk2:
        mix_key(m0[:32])
    mix_key(x25519(i_e, rs))
    mix_hash(m0[32:80])
    mix_key(x25519(i_s, rs))
    mix_hash(m0[80:])
    # <- e, ee, se, [psk], payload
    assert m1[:32] == x25519(r_e, base)
    mix_hash(m1[:32])
    if psk2:
        mix_key(m1[:32])
    mix_key(x25519(i_e, m1[:32]))
    mix_key(x25519(i_s, m1[:32]))
    if psk2:
        ck, temp_h, _ = hkdf(ck, bytes.fromhex(v["init_psk"]), 3)
        mix_hash(temp_h)
    mix_hash(m1[32:])
    k1, k2 = hkdf(ck, b"", 2)
    return h, k1[:32], k2[:32], hist[-2]


def pattern(n, seed):
    return bytes(((i * 131 + seed * 7 + 3) & 0xff) for i in range(n))


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_JSON
    dst = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT
    with open(src) as f:
        vectors = json.load(f)["vectors"]

    out = []
    out.append("/* noise_vectors.h -- generated by gen_noise_vectors.py from\n"
               " * shared/testdata/noise/ik-vectors.json and Python's hashlib;"
               "\n * do not edit. */\n")
    out.append("#ifndef TCPU_TESTS_NOISE_VECTORS_H\n"
               "#define TCPU_TESTS_NOISE_VECTORS_H\n\n"
               "#include <stddef.h>\n#include <stdint.h>\n\n")
    out.append("typedef struct nv_bytes {\n  const uint8_t *p;\n  size_t len;\n"
               "} nv_bytes;\n\n")
    out.append("typedef struct nv_message {\n  nv_bytes payload, ciphertext;\n"
               "} nv_message;\n\n")
    out.append("#define NV_MAX_MESSAGES 8\n\n")
    out.append("typedef struct noise_vector {\n"
               "  const char *protocol_name;\n"
               "  int psk2, aesgcm;\n"
               "  nv_bytes init_prologue, init_static, init_ephemeral,\n"
               "      init_remote_static, init_psk;\n"
               "  nv_bytes resp_prologue, resp_static, resp_ephemeral, "
               "resp_psk;\n"
               "  nv_bytes handshake_hash; /* the JSON field, see above */\n"
               "  nv_bytes spec_hash, split_k1, split_k2; /* computed */\n"
               "  nv_bytes lag2_hash; /* h two MixHash steps early */\n"
               "  size_t nmessages;\n"
               "  nv_message messages[NV_MAX_MESSAGES];\n"
               "} noise_vector;\n\n")

    entries = []
    for vi, v in enumerate(vectors):
        name = v["protocol_name"]
        psk2 = "psk2" in name
        aesgcm = "AESGCM" in name
        assert name.startswith("Noise_IK") and name.endswith("_BLAKE2b"), name
        assert len(v["messages"]) <= 8
        fields = {}
        for key in ("init_prologue", "init_static", "init_ephemeral",
                    "init_remote_static", "init_psk", "resp_prologue",
                    "resp_static", "resp_ephemeral", "resp_psk",
                    "handshake_hash"):
            data = bytes.fromhex(v.get(key, ""))
            cname = "nv%d_%s" % (vi, key)
            out.append(c_bytes(cname, data))
            fields[key] = ref(cname, data)
        spec, k1, k2, lag2 = noise_ik_transcript(v)
        for key, data in (("spec_hash", spec), ("split_k1", k1),
                          ("split_k2", k2), ("lag2_hash", lag2)):
            cname = "nv%d_%s" % (vi, key)
            out.append(c_bytes(cname, data))
            fields[key] = ref(cname, data)
        msgs = []
        for mi, m in enumerate(v["messages"]):
            p = bytes.fromhex(m["payload"])
            c = bytes.fromhex(m["ciphertext"])
            pn, cn = "nv%d_m%d_payload" % (vi, mi), "nv%d_m%d_ct" % (vi, mi)
            out.append(c_bytes(pn, p))
            out.append(c_bytes(cn, c))
            msgs.append("{%s, %s}" % (ref(pn, p), ref(cn, c)))
        out.append("\n")
        entries.append(
            "  {\"%s\", %d, %d,\n   %s, %s, %s,\n   %s, %s,\n"
            "   %s, %s, %s, %s,\n   %s,\n   %s, %s, %s,\n   %s,\n"
            "   %d,\n   {%s}}" % (
                name, psk2, aesgcm, fields["init_prologue"],
                fields["init_static"], fields["init_ephemeral"],
                fields["init_remote_static"], fields["init_psk"],
                fields["resp_prologue"], fields["resp_static"],
                fields["resp_ephemeral"], fields["resp_psk"],
                fields["handshake_hash"], fields["spec_hash"],
                fields["split_k1"], fields["split_k2"], fields["lag2_hash"],
                len(msgs), ",\n    ".join(msgs)))
    out.append("static const noise_vector noise_vectors[] = {\n%s};\n\n" %
               ",\n".join(entries))
    out.append("#define NV_COUNT (sizeof noise_vectors / sizeof "
               "noise_vectors[0])\n\n")

    # Primitive references: HASH, HMAC-BLAKE2b (keys shorter than, equal to
    # and longer than the 128-byte block), HKDF, keyed BLAKE2b-128.
    prim = []
    cases = [(b"", b""), (pattern(32, 1), b"Hi There"),
             (pattern(64, 2), pattern(200, 3)), (pattern(128, 4), b"abc"),
             (pattern(129, 5), pattern(1, 6)), (pattern(300, 7), b"")]
    for i, (key, msg) in enumerate(cases):
        names = ("hm%d_key" % i, "hm%d_msg" % i, "hm%d_mac" % i)
        mac = hmac_b2b(key, msg)
        for n, d in zip(names, (key, msg, mac)):
            out.append(c_bytes(n, d))
        prim.append("  {%s, %s, %s}" % (ref(names[0], key), ref(names[1], msg),
                                        ref(names[2], mac)))
    out.append("typedef struct nv_hmac {\n  nv_bytes key, msg, mac;\n"
               "} nv_hmac;\n")
    out.append("static const nv_hmac nv_hmacs[] = {\n%s};\n\n" %
               ",\n".join(prim))

    hk = []
    for i, (ikm_len, seed) in enumerate([(0, 1), (32, 2), (100, 3)]):
        ck = hashlib.blake2b(pattern(16, seed)).digest()
        ikm = pattern(ikm_len, seed + 10)
        o = hkdf(ck, ikm, 3)
        names = ["hk%d_%s" % (i, s) for s in ("ck", "ikm", "o1", "o2", "o3")]
        for n, d in zip(names, [ck, ikm] + o):
            out.append(c_bytes(n, d))
        hk.append("  {%s}" % ", ".join(
            ref(n, d) for n, d in zip(names, [ck, ikm] + o)))
    out.append("typedef struct nv_hkdf {\n  nv_bytes ck, ikm, o1, o2, o3;\n"
               "} nv_hkdf;\n")
    out.append("static const nv_hkdf nv_hkdfs[] = {\n%s};\n\n" % ",\n".join(hk))

    hs = []
    for i, (a, b) in enumerate([(b"", b""), (b"abc", b""),
                                (pattern(64, 8), pattern(77, 9))]):
        h = hashlib.blake2b(a + b).digest()
        names = ["hh%d_%s" % (i, s) for s in ("a", "b", "h")]
        for n, d in zip(names, (a, b, h)):
            out.append(c_bytes(n, d))
        hs.append("  {%s}" % ", ".join(ref(n, d)
                                       for n, d in zip(names, (a, b, h))))
    out.append("typedef struct nv_hash {\n  nv_bytes a, b, h;\n} nv_hash;\n")
    out.append("static const nv_hash nv_hashes[] = {\n%s};\n\n" % ",\n".join(hs))

    # mac1 / mac2: keyed BLAKE2b with a 16-byte digest (a BLAKE2 parameter,
    # not a truncation); key derivation HASH32(label || static public key).
    mk = []
    for i, (label, seed, n) in enumerate([(b"mac1----", 11, 116),
                                          (b"cookie--", 12, 60)]):
        pub = pattern(32, seed)
        key = hashlib.blake2b(label + pub, digest_size=32).digest()
        msg = pattern(n, seed + 1)
        mac = hashlib.blake2b(msg, digest_size=16, key=key).digest()
        names = ["mk%d_%s" % (i, s) for s in ("pub", "key", "msg", "mac")]
        out.append("static const char mk%d_label[] = \"%s\";\n" %
                   (i, label.decode()))
        for nm, d in zip(names, (pub, key, msg, mac)):
            out.append(c_bytes(nm, d))
        mk.append("  {mk%d_label, %s}" % (i, ", ".join(
            ref(nm, d) for nm, d in zip(names, (pub, key, msg, mac)))))
    out.append("typedef struct nv_mac {\n  const char *label;\n"
               "  nv_bytes pub, key, msg, mac;\n} nv_mac;\n")
    out.append("static const nv_mac nv_macs[] = {\n%s};\n\n" % ",\n".join(mk))

    out.append("#endif /* TCPU_TESTS_NOISE_VECTORS_H */\n")
    with open(dst, "w") as f:
        f.write("".join(out))


if __name__ == "__main__":
    main()
