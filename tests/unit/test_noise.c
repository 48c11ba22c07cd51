/*
 * test_noise.c — noise.c (the Noise framework, revision 34) and
 * handshake.c (the WireGuard-style messages 1 and 2 built on it).
 *
 * The primitives are checked against Python's hashlib/hmac and the whole
 * framework against the cacophony vectors of shared/testdata/noise: every
 * handshake and transport ciphertext of Noise_IK and Noise_IKpsk2 with
 * ChaChaPoly and AESGCM, byte for byte, and the handshake hashes
 * (noise_vectors.h, made by gen_noise_vectors.py).  The handshake messages
 * are then pushed through everything an attacker can do to them: every
 * byte flipped, replays, floods, wrong and unknown keys.
 *
 * noise.c is compiled into this file with crypto_scalarmult counted, so a
 * test can tell that a message was dropped before any DH.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

static unsigned long dh_count;

static int counted_scalarmult(unsigned char *q, const unsigned char *n,
                              const unsigned char *p) {
  dh_count++;
  return crypto_scalarmult(q, n, p);
}

#define crypto_scalarmult(q, n, p) counted_scalarmult(q, n, p)
#include "crypto/noise.c"
#undef crypto_scalarmult

#include "crypto/cookie.h"
#include "crypto/handshake.h"
#include "crypto/session.h"
#include "noise_vectors.h"

#define S(x) ((tcpu_tstamp)(x) * TCPU_NS_PER_S)
#define MS(x) ((tcpu_tstamp)(x) * TCPU_NS_PER_MS)
/* 2024-01-01T00:00:00Z */
#define WALL0 (UINT64_C(1704067200) * TCPU_NS_PER_S)

/* ---- a repeatable random source: ChaCha20 under a seed and a counter */

typedef struct det_rng {
  uint8_t seed[32];
  uint64_t ctr;
} det_rng;

static void det_fill(void *ctx, void *buf, size_t len) {
  det_rng *r = ctx;
  uint8_t s[32];
  memcpy(s, r->seed, sizeof s);
  memcpy(s, &r->ctr, sizeof r->ctr);
  r->ctr++;
  randombytes_buf_deterministic(buf, len, s);
}

/* ---- two sides: A initiates to B */

typedef struct pair {
  det_rng ra, rb;
  tcpu_noise_identity a, b;
  tcpu_noise_peer pa; /* A's view of B */
  tcpu_noise_peer pb; /* B's view of A */
  uint32_t next_index;
  tcpu_tstamp now;
  uint64_t wall;
} pair;

static tcpu_noise_peer *lookup_b(void *ctx, const uint8_t *pub) {
  pair *w = ctx;
  return memcmp(pub, w->pb.remote_static, 32) == 0 ? &w->pb : NULL;
}

static tcpu_noise_peer *lookup_none(void *ctx, const uint8_t *pub) {
  (void)ctx;
  (void)pub;
  return NULL;
}

static pair *pair_new_psk(tcpu_noise_cipher ca, tcpu_noise_cipher cb,
                          const uint8_t *psk_a, const uint8_t *psk_b) {
  pair *w = calloc(1, sizeof *w);
  uint8_t ka[32], kb[32];
  assert_non_null(w);
  memset(w->ra.seed, 0xa1, 32);
  memset(w->rb.seed, 0xb2, 32);
  memset(ka, 0x11, 32);
  memset(kb, 0x22, 32);
  tcpu_noise_rng rga = {det_fill, &w->ra}, rgb = {det_fill, &w->rb};
  assert_int_equal(tcpu_noise_identity_init(&w->a, ka, ca, &rga), 0);
  assert_int_equal(tcpu_noise_identity_init(&w->b, kb, cb, &rgb), 0);
  assert_int_equal(tcpu_noise_peer_init(&w->pa, &w->a, w->b.pub, psk_a), 0);
  assert_int_equal(tcpu_noise_peer_init(&w->pb, &w->b, w->a.pub, psk_b), 0);
  w->next_index = 0x1000;
  w->now = S(1000);
  w->wall = WALL0;
  return w;
}

static pair *pair_new(void) {
  return pair_new_psk(TCPU_NOISE_CHACHAPOLY, TCPU_NOISE_CHACHAPOLY, NULL,
                      NULL);
}

static void pair_del(pair *w) {
  tcpu_noise_peer_free(&w->pa);
  tcpu_noise_peer_free(&w->pb);
  tcpu_noise_identity_free(&w->a);
  tcpu_noise_identity_free(&w->b);
  free(w);
}

static void advance(pair *w, tcpu_duration d) {
  w->now += d;
  w->wall += d;
}

static void make_initiation(pair *w, uint8_t msg[148]) {
  assert_int_equal(tcpu_noise_create_initiation(&w->pa, w->next_index++,
                                                w->wall, msg, 148, w->now),
                   148);
}

static int consume_init(pair *w, const uint8_t *msg, size_t len) {
  tcpu_noise_peer *p = NULL;
  int rc = tcpu_noise_consume_initiation(&w->b, msg, len, lookup_b, w, &p,
                                         w->now);
  if (rc == 0)
    assert_ptr_equal(p, &w->pb);
  else
    assert_null(p);
  return rc;
}

/* A full handshake; returns with both sessions in place. */
static void handshake(pair *w) {
  uint8_t m1[148], m2[92];
  make_initiation(w, m1);
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  assert_int_equal(tcpu_noise_create_response(&w->pb, w->next_index++, m2,
                                              sizeof m2, w->now),
                   92);
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, sizeof m2, w->now),
                   0);
}

/* ======================================================== primitives */

static void test_noise_hash_matches_reference_blake2b(void **state) {
  (void)state;
  uint8_t h[64];
  for (size_t i = 0; i < sizeof nv_hashes / sizeof nv_hashes[0]; i++) {
    const nv_hash *c = &nv_hashes[i];
    tcpu_noise_hash(h, c->a.p, c->a.len, c->b.p, c->b.len);
    assert_memory_equal(h, c->h.p, 64);
  }
}

static void test_noise_hmac_matches_rfc2104_reference(void **state) {
  (void)state;
  uint8_t mac[64], keyed[64];
  for (size_t i = 0; i < sizeof nv_hmacs / sizeof nv_hmacs[0]; i++) {
    const nv_hmac *c = &nv_hmacs[i];
    tcpu_noise_hmac(mac, c->key.p, c->key.len, c->msg.p, c->msg.len, NULL, 0);
    assert_memory_equal(mac, c->mac.p, 64);
    /* Split input hashes the same as one piece. */
    if (c->msg.len > 1) {
      tcpu_noise_hmac(mac, c->key.p, c->key.len, c->msg.p, 1, c->msg.p + 1,
                      c->msg.len - 1);
      assert_memory_equal(mac, c->mac.p, 64);
    }
    /* And it is not keyed BLAKE2b, which Noise does not use. */
    if (c->key.len >= 16 && c->key.len <= 64) {
      crypto_generichash_blake2b(keyed, 64, c->msg.p, c->msg.len, c->key.p,
                                 c->key.len);
      assert_memory_not_equal(keyed, c->mac.p, 64);
    }
  }
}

static void test_noise_hkdf_matches_reference(void **state) {
  (void)state;
  uint8_t o1[64], o2[64], o3[64], ck[64];
  for (size_t i = 0; i < sizeof nv_hkdfs / sizeof nv_hkdfs[0]; i++) {
    const nv_hkdf *c = &nv_hkdfs[i];
    tcpu_noise_hkdf(o1, o2, o3, c->ck.p, c->ikm.p, c->ikm.len);
    assert_memory_equal(o1, c->o1.p, 64);
    assert_memory_equal(o2, c->o2.p, 64);
    assert_memory_equal(o3, c->o3.p, 64);
    /* Two outputs are the first two of three; out1 may be ck itself. */
    memcpy(ck, c->ck.p, 64);
    tcpu_noise_hkdf(ck, o2, NULL, ck, c->ikm.p, c->ikm.len);
    assert_memory_equal(ck, c->o1.p, 64);
    assert_memory_equal(o2, c->o2.p, 64);
  }
}

static void test_noise_protocol_names(void **state) {
  (void)state;
  char name[48];
  tcpu_noise_protocol_name(name, TCPU_NOISE_CHACHAPOLY, 1);
  assert_string_equal(name, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b");
  tcpu_noise_protocol_name(name, TCPU_NOISE_AESGCM, 0);
  assert_string_equal(name, "Noise_IK_25519_AESGCM_BLAKE2b");
}

/* §12.3/§12.4 nonces, against libsodium called with hand-made ones. */
static void test_noise_aead_nonce_le_chachapoly_be_aesgcm(void **state) {
  (void)state;
  uint8_t key[32], nonce[12] = {0}, a[40], b[40];
  const uint8_t pt[24] = "nonce encoding check....";
  const uint64_t n = UINT64_C(0x0102030405060708);
  memset(key, 7, sizeof key);

  for (int i = 0; i < 8; i++)
    nonce[4 + i] = (uint8_t)(n >> (8 * i));
  crypto_aead_chacha20poly1305_ietf_encrypt(a, NULL, pt, sizeof pt, NULL, 0,
                                            NULL, nonce, key);
  assert_int_equal(tcpu_noise_aead_encrypt(TCPU_NOISE_CHACHAPOLY, key, n, NULL,
                                           0, pt, sizeof pt, b),
                   0);
  assert_memory_equal(a, b, sizeof pt + 16);

  if (!tcpu_noise_cipher_available(TCPU_NOISE_AESGCM))
    return;
  for (int i = 0; i < 8; i++)
    nonce[11 - i] = (uint8_t)(n >> (8 * i));
  crypto_aead_aes256gcm_encrypt(a, NULL, pt, sizeof pt, NULL, 0, NULL, nonce,
                                key);
  assert_int_equal(tcpu_noise_aead_encrypt(TCPU_NOISE_AESGCM, key, n, NULL, 0,
                                           pt, sizeof pt, b),
                   0);
  assert_memory_equal(a, b, sizeof pt + 16);
  assert_int_equal(tcpu_noise_aead_decrypt(TCPU_NOISE_AESGCM, key, n, NULL, 0,
                                           b, sizeof pt + 16, a),
                   0);
  assert_memory_equal(a, pt, sizeof pt);
}

static void test_noise_dh_low_order_point_rejected(void **state) {
  (void)state;
  uint8_t priv[32], zero[32] = {0}, out[32];
  memset(priv, 0x42, sizeof priv);
  assert_int_equal(tcpu_noise_dh(out, priv, zero), TCPU_ERR_PROTO);
  assert_memory_equal(out, zero, 32);
}

/* ====================================================== CipherState */

static void test_noise_cs_nonce_exhausted_refuses(void **state) {
  (void)state;
  tcpu_noise_cs cs = {.has_key = 1, .cipher = TCPU_NOISE_CHACHAPOLY};
  uint8_t out[32];
  cs.n = UINT64_MAX - 1;
  assert_int_equal(tcpu_noise_cs_encrypt(&cs, NULL, 0, (const uint8_t *)"x", 1,
                                         out, sizeof out),
                   17);
  assert_true(cs.n == UINT64_MAX);
  assert_int_equal(tcpu_noise_cs_encrypt(&cs, NULL, 0, (const uint8_t *)"x", 1,
                                         out, sizeof out),
                   TCPU_ERR_STATE);
  assert_int_equal(tcpu_noise_cs_decrypt(&cs, NULL, 0, out, 17, out, 32),
                   TCPU_ERR_STATE);
}

static void test_noise_cs_failed_decrypt_keeps_nonce(void **state) {
  (void)state;
  tcpu_noise_cs tx = {.has_key = 1, .cipher = TCPU_NOISE_CHACHAPOLY}, rx;
  uint8_t ct[32], pt[16];
  memset(tx.k, 9, 32);
  rx = tx;
  assert_int_equal(tcpu_noise_cs_encrypt(&tx, (const uint8_t *)"ad", 2,
                                         (const uint8_t *)"hello", 5, ct,
                                         sizeof ct),
                   21);
  ct[3] ^= 1;
  assert_int_equal(tcpu_noise_cs_decrypt(&rx, (const uint8_t *)"ad", 2, ct, 21,
                                         pt, sizeof pt),
                   TCPU_ERR_PROTO);
  assert_true(rx.n == 0);
  ct[3] ^= 1;
  assert_int_equal(tcpu_noise_cs_decrypt(&rx, (const uint8_t *)"AD", 2, ct, 21,
                                         pt, sizeof pt),
                   TCPU_ERR_PROTO);
  assert_int_equal(tcpu_noise_cs_decrypt(&rx, (const uint8_t *)"ad", 2, ct, 21,
                                         pt, 4),
                   TCPU_ERR_NOBUF);
  assert_int_equal(tcpu_noise_cs_decrypt(&rx, (const uint8_t *)"ad", 2, ct, 21,
                                         pt, sizeof pt),
                   5);
  assert_memory_equal(pt, "hello", 5);
  assert_true(rx.n == 1);
  assert_int_equal(tcpu_noise_cs_decrypt(&rx, NULL, 0, ct, 15, pt, sizeof pt),
                   TCPU_ERR_PROTO);
}

static void test_noise_cs_without_key_passes_through(void **state) {
  (void)state;
  tcpu_noise_cs cs = {0};
  uint8_t out[8];
  assert_int_equal(tcpu_noise_cs_encrypt(&cs, NULL, 0, (const uint8_t *)"abc",
                                         3, out, sizeof out),
                   3);
  assert_memory_equal(out, "abc", 3);
  assert_true(cs.n == 0);
}

static void test_noise_hs_out_of_turn_state(void **state) {
  (void)state;
  tcpu_noise_hs hs;
  uint8_t s[32], rs[32], buf[256];
  memset(s, 1, 32);
  memset(rs, 9, 32);
  assert_int_equal(tcpu_noise_hs_init(&hs, TCPU_NOISE_CHACHAPOLY, 1, 1,
                                      NULL, 0, s, NULL, NULL),
                   TCPU_ERR_INVAL);
  assert_int_equal(tcpu_noise_hs_init(&hs, TCPU_NOISE_CHACHAPOLY, 1, 1, NULL,
                                      0, s, rs, NULL),
                   0);
  assert_int_equal(tcpu_noise_hs_read(&hs, buf, 96, buf, sizeof buf),
                   TCPU_ERR_STATE);
  assert_int_equal(tcpu_noise_hs_write(&hs, NULL, NULL, 0, buf, 95),
                   TCPU_ERR_NOBUF);
  tcpu_noise_cs c1, c2;
  assert_int_equal(tcpu_noise_hs_split(&hs, &c1, &c2), TCPU_ERR_STATE);
  assert_int_equal(tcpu_noise_hs_write(&hs, NULL, NULL, 0, buf, sizeof buf),
                   96);
  assert_int_equal(tcpu_noise_hs_write(&hs, NULL, NULL, 0, buf, sizeof buf),
                   TCPU_ERR_STATE);
  tcpu_noise_hs_wipe(&hs);
}

/* ======================================================== the vectors */

static int vector_messages_checked;

static void run_vector(const char *name) {
  const noise_vector *v = NULL;
  tcpu_noise_hs ini, res;
  tcpu_noise_cs ic1, ic2, rc1, rc2;
  uint8_t buf[512], pl[512], pub[32], h0[64];
  char proto[48];
  tcpu_ssize n;

  for (size_t i = 0; i < NV_COUNT; i++)
    if (strcmp(noise_vectors[i].protocol_name, name) == 0)
      v = &noise_vectors[i];
  assert_non_null(v);
  tcpu_noise_cipher cipher =
      v->aesgcm ? TCPU_NOISE_AESGCM : TCPU_NOISE_CHACHAPOLY;
  if (!tcpu_noise_cipher_available(cipher)) {
    print_message("%s: AES-GCM unavailable on this CPU\n", name);
    skip();
  }
  tcpu_noise_protocol_name(proto, cipher, v->psk2);
  assert_string_equal(proto, v->protocol_name);

  assert_int_equal(tcpu_noise_hs_init(&ini, cipher, v->psk2, 1,
                                      v->init_prologue.p, v->init_prologue.len,
                                      v->init_static.p,
                                      v->init_remote_static.p,
                                      v->psk2 ? v->init_psk.p : NULL),
                   0);
  tcpu_noise_hs_set_ephemeral(&ini, v->init_ephemeral.p);
  assert_int_equal(tcpu_noise_hs_init(&res, cipher, v->psk2, 0,
                                      v->resp_prologue.p, v->resp_prologue.len,
                                      v->resp_static.p, NULL,
                                      v->psk2 ? v->resp_psk.p : NULL),
                   0);
  tcpu_noise_hs_set_ephemeral(&res, v->resp_ephemeral.p);
  assert_true(v->nmessages >= 2);

  /* -> e, es, s, ss */
  const nv_message *m = &v->messages[0];
  n = tcpu_noise_hs_write(&ini, NULL, m->payload.p, m->payload.len, buf,
                          sizeof buf);
  assert_int_equal(n, m->ciphertext.len);
  assert_memory_equal(buf, m->ciphertext.p, m->ciphertext.len);
  n = tcpu_noise_hs_read(&res, m->ciphertext.p, m->ciphertext.len, pl,
                         sizeof pl);
  assert_int_equal(n, m->payload.len);
  assert_memory_equal(pl, m->payload.p, m->payload.len);
  tcpu_noise_pubkey(pub, v->init_static.p);
  assert_memory_equal(res.rs, pub, 32);
  assert_memory_equal(tcpu_noise_hs_hash(&ini), tcpu_noise_hs_hash(&res), 64);
  memcpy(h0, tcpu_noise_hs_hash(&ini), 64);
  vector_messages_checked++;

  /* <- e, ee, se[, psk] */
  m = &v->messages[1];
  n = tcpu_noise_hs_write(&res, NULL, m->payload.p, m->payload.len, buf,
                          sizeof buf);
  assert_int_equal(n, m->ciphertext.len);
  assert_memory_equal(buf, m->ciphertext.p, m->ciphertext.len);
  n = tcpu_noise_hs_read(&ini, m->ciphertext.p, m->ciphertext.len, pl,
                         sizeof pl);
  assert_int_equal(n, m->payload.len);
  assert_memory_equal(pl, m->payload.p, m->payload.len);
  vector_messages_checked++;

  /* GetHandshakeHash(): the final h, on both sides, as the independent
   * Python transcript of gen_noise_vectors.py computes it. */
  assert_memory_equal(tcpu_noise_hs_hash(&ini), v->spec_hash.p, 64);
  assert_memory_equal(tcpu_noise_hs_hash(&res), v->spec_hash.p, 64);
  /* The file's "handshake_hash" is not that value but h two MixHash steps
   * before the end: after message 1 for IK, after the responder's "e"
   * (one MixHash further) for IKpsk2, whose psk token adds a MixHash.
   * Checked from our own transcript, so the field is held to our bytes
   * too, and a corrected file fails here instead of passing unseen. */
  if (v->psk2)
    tcpu_noise_hash(h0, h0, 64, v->messages[1].ciphertext.p, 32);
  assert_memory_equal(h0, v->handshake_hash.p, 64);
  assert_memory_equal(v->lag2_hash.p, v->handshake_hash.p, 64);

  assert_int_equal(tcpu_noise_hs_split(&ini, &ic1, &ic2), 0);
  assert_int_equal(tcpu_noise_hs_split(&res, &rc1, &rc2), 0);
  assert_memory_equal(ic1.k, v->split_k1.p, 32);
  assert_memory_equal(ic2.k, v->split_k2.p, 32);
  assert_memory_equal(rc1.k, v->split_k1.p, 32);
  assert_memory_equal(rc2.k, v->split_k2.p, 32);
  /* Transport: the sides take turns, the initiator first, c1 from the
   * initiator to the responder, c2 back. */
  for (size_t i = 2; i < v->nmessages; i++) {
    tcpu_noise_cs *tx = i % 2 == 0 ? &ic1 : &rc2;
    tcpu_noise_cs *rx = i % 2 == 0 ? &rc1 : &ic2;
    m = &v->messages[i];
    n = tcpu_noise_cs_encrypt(tx, NULL, 0, m->payload.p, m->payload.len, buf,
                              sizeof buf);
    assert_int_equal(n, m->ciphertext.len);
    assert_memory_equal(buf, m->ciphertext.p, m->ciphertext.len);
    n = tcpu_noise_cs_decrypt(rx, NULL, 0, m->ciphertext.p, m->ciphertext.len,
                              pl, sizeof pl);
    assert_int_equal(n, m->payload.len);
    assert_memory_equal(pl, m->payload.p, m->payload.len);
    vector_messages_checked++;
  }
  print_message("%s: %zu/%zu ciphertexts, final handshake hash and split "
                "keys match; the file's handshake_hash is h two MixHash "
                "steps early\n",
                name, v->nmessages, v->nmessages);
  tcpu_noise_hs_wipe(&ini);
  tcpu_noise_hs_wipe(&res);
}

static void test_noise_vector_ik_chachapoly(void **state) {
  (void)state;
  run_vector("Noise_IK_25519_ChaChaPoly_BLAKE2b");
}

static void test_noise_vector_ikpsk2_chachapoly(void **state) {
  (void)state;
  run_vector("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b");
}

static void test_noise_vector_ik_aesgcm(void **state) {
  (void)state;
  run_vector("Noise_IK_25519_AESGCM_BLAKE2b");
}

static void test_noise_vector_ikpsk2_aesgcm(void **state) {
  (void)state;
  run_vector("Noise_IKpsk2_25519_AESGCM_BLAKE2b");
}

static void test_noise_vectors_cover_the_file(void **state) {
  (void)state;
  size_t total = 0;
  assert_int_equal(NV_COUNT, 4);
  for (size_t i = 0; i < NV_COUNT; i++)
    total += noise_vectors[i].nmessages;
  assert_int_equal(total, 24);
}

/* A vector's first message with any one byte flipped is refused. */
static void test_noise_vector_any_flip_refused(void **state) {
  (void)state;
  const noise_vector *v = &noise_vectors[0];
  for (size_t i = 0; i < NV_COUNT; i++)
    if (strcmp(noise_vectors[i].protocol_name,
               "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b") == 0)
      v = &noise_vectors[i];
  const nv_bytes *ct = &v->messages[0].ciphertext;
  uint8_t msg[256], pl[256];
  for (size_t i = 0; i < ct->len; i++) {
    tcpu_noise_hs res;
    memcpy(msg, ct->p, ct->len);
    msg[i] ^= 0x01;
    assert_int_equal(tcpu_noise_hs_init(&res, TCPU_NOISE_CHACHAPOLY, 1, 0,
                                        v->resp_prologue.p,
                                        v->resp_prologue.len, v->resp_static.p,
                                        NULL, v->resp_psk.p),
                     0);
    assert_true(tcpu_noise_hs_read(&res, msg, ct->len, pl, sizeof pl) < 0);
  }
}

/* ================================================ handshake messages */

static void test_noise_message_shapes(void **state) {
  (void)state;
  uint8_t ts[12];
  uint32_t idx = 0;
  uint8_t m[148] = {1};
  assert_int_equal(tcpu_noise_msg_type(m, 148), 1);
  assert_int_equal(tcpu_noise_msg_type(m, 147), 0);
  m[2] = 1;
  assert_int_equal(tcpu_noise_msg_type(m, 148), 0);
  m[2] = 0;
  m[0] = 2;
  assert_int_equal(tcpu_noise_msg_type(m, 92), 2);
  tcpu_noise_put_le32(m + 8, 0xdeadbeef);
  assert_int_equal(tcpu_noise_msg_receiver_index(m, 92, &idx), 0);
  assert_true(idx == 0xdeadbeef);
  m[0] = 3;
  assert_int_equal(tcpu_noise_msg_type(m, 64), 3);
  m[0] = 4;
  assert_int_equal(tcpu_noise_msg_type(m, 31), 0);
  assert_int_equal(tcpu_noise_msg_type(m, 32), 4);
  assert_int_equal(tcpu_noise_msg_type(m, 1500), 4);
  m[0] = 5;
  assert_int_equal(tcpu_noise_msg_type(m, 64), 0);
  m[0] = 1;
  assert_int_equal(tcpu_noise_msg_receiver_index(m, 148, &idx),
                   TCPU_ERR_PROTO);
  assert_int_equal(tcpu_noise_msg_type(m, 3), 0);

  /* TAI64N: 2^62 + 10 + seconds, then ns rounded down to 2^24. */
  tcpu_noise_tai64n(ts, WALL0 + 123456789);
  const uint8_t want[12] = {0x40, 0, 0, 0, 0x65, 0x92, 0x00, 0x8a,
                            0x07, 0x00, 0x00, 0x00};
  assert_memory_equal(ts, want, 12);
}

static void test_noise_handshake_completes_with_matching_sessions(void **s) {
  (void)s;
  pair *w = pair_new();
  uint8_t m1[148], m2[92];
  make_initiation(w, m1);
  assert_int_equal(m1[0], 1);
  assert_true(tcpu_noise_get_le32(m1 + 4) == 0x1000);
  assert_int_equal(w->pa.hs_state, TCPU_NOISE_HS_CREATED_INITIATION);
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  assert_int_equal(w->pb.hs_state, TCPU_NOISE_HS_CONSUMED_INITIATION);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 0x2000, m2, 92, w->now),
                   92);
  assert_true(tcpu_noise_get_le32(m2 + 4) == 0x2000);
  assert_true(tcpu_noise_get_le32(m2 + 8) == 0x1000);
  /* The responder's session waits for confirmation. */
  assert_true(w->pb.next.valid && !w->pb.cur.valid);
  assert_null(tcpu_noise_peer_send_session(&w->pb, w->now));
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 92, w->now), 0);
  assert_true(w->pa.cur.valid && w->pa.cur.initiator);
  assert_memory_equal(w->pa.cur.send_key, w->pb.next.recv_key, 32);
  assert_memory_equal(w->pa.cur.recv_key, w->pb.next.send_key, 32);
  assert_memory_not_equal(w->pa.cur.send_key, w->pa.cur.recv_key, 32);
  assert_true(w->pa.cur.local_index == 0x1000 &&
              w->pa.cur.remote_index == 0x2000);
  assert_true(w->pb.next.local_index == 0x2000 &&
              w->pb.next.remote_index == 0x1000);
  /* Both handshakes are spent and wiped. */
  assert_int_equal(w->pa.hs_state, TCPU_NOISE_HS_ZEROED);
  assert_int_equal(w->pb.hs_state, TCPU_NOISE_HS_ZEROED);
  uint8_t zero[sizeof w->pa.hs];
  memset(zero, 0, sizeof zero);
  assert_memory_equal(&w->pa.hs, zero, sizeof zero);
  assert_memory_equal(&w->pb.hs, zero, sizeof zero);
  /* The initiator owes a confirmation right away. */
  assert_true(tcpu_noise_peer_get_expiry(&w->pa) == w->now);
  pair_del(w);
}

static void test_noise_handshake_aesgcm_and_psk(void **state) {
  (void)state;
  if (!tcpu_noise_cipher_available(TCPU_NOISE_AESGCM))
    skip();
  uint8_t psk[32];
  memset(psk, 0x5a, sizeof psk);
  pair *w = pair_new_psk(TCPU_NOISE_AESGCM, TCPU_NOISE_AESGCM, psk, psk);
  handshake(w);
  assert_int_equal(w->pa.cur.cipher, TCPU_NOISE_AESGCM);
  assert_memory_equal(w->pa.cur.send_key, w->pb.next.recv_key, 32);
  pair_del(w);
}

static void test_noise_psk_mismatch_response_refused(void **state) {
  (void)state;
  uint8_t psk_a[32], psk_b[32], m1[148], m2[92];
  memset(psk_a, 1, 32);
  memset(psk_b, 2, 32);
  pair *w = pair_new_psk(TCPU_NOISE_CHACHAPOLY, TCPU_NOISE_CHACHAPOLY, psk_a,
                         psk_b);
  make_initiation(w, m1);
  /* The PSK enters in the second message only. */
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 7, m2, 92, w->now), 92);
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 92, w->now),
                   TCPU_ERR_PROTO);
  assert_int_equal(w->pa.hs_state, TCPU_NOISE_HS_CREATED_INITIATION);
  assert_false(w->pa.cur.valid);
  pair_del(w);
}

static void test_noise_cipher_mismatch_refused(void **state) {
  (void)state;
  if (!tcpu_noise_cipher_available(TCPU_NOISE_AESGCM))
    skip();
  pair *w = pair_new_psk(TCPU_NOISE_CHACHAPOLY, TCPU_NOISE_AESGCM, NULL, NULL);
  uint8_t m1[148];
  make_initiation(w, m1);
  /* Different protocol names: mac1 passes, decryption does not. */
  assert_int_equal(consume_init(w, m1, sizeof m1), TCPU_ERR_PROTO);
  pair_del(w);
}

/* The receive path of an endpoint: the cookie gate, then the consumer. */
static int responder_receives(pair *w, const uint8_t *msg, size_t len,
                              int under_load, const tcpu_addr *src) {
  if (tcpu_cookie_validate(&w->b.cookies, msg, len, src, under_load, w->now) !=
      TCPU_COOKIE_ACCEPT)
    return TCPU_ERR_PROTO;
  return consume_init(w, msg, len);
}

static void test_noise_initiation_every_byte_flip_refused(void **state) {
  (void)state;
  pair *w = pair_new();
  tcpu_addr src;
  uint8_t ip[4] = {192, 0, 2, 1}, m1[148], bad[148], reply[64];
  unsigned accepted = 0;
  tcpu_addr_ipv4(&src, ip, 51820);

  /* Under load, with a cookie: every byte counts. */
  make_initiation(w, m1);
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m1, 148, &src, 1,
                                        w->now),
                   TCPU_COOKIE_SEND_REPLY);
  assert_int_equal(tcpu_cookie_create_reply(&w->b.cookies, reply, 64, m1, 148,
                                            &src, w->now),
                   64);
  assert_int_equal(tcpu_noise_consume_cookie(&w->pa, reply, 64, w->now), 0);
  advance(w, S(5));
  make_initiation(w, m1);
  for (size_t i = 0; i < sizeof m1; i++)
    for (int bit = 0; bit < 8; bit += 7) {
      memcpy(bad, m1, sizeof bad);
      bad[i] ^= (uint8_t)(1u << bit);
      unsigned long before = dh_count;
      if (responder_receives(w, bad, sizeof bad, 1, &src) == 0)
        accepted++;
      /* mac1 covers every byte before it, mac2 the rest: no flip gets
       * as far as a DH. */
      assert_true(dh_count == before);
    }
  assert_int_equal(accepted, 0);
  assert_int_equal(w->pb.hs_state, TCPU_NOISE_HS_ZEROED);
  /* None of it disturbed the responder: the real one still goes in. */
  assert_int_equal(responder_receives(w, m1, sizeof m1, 1, &src), 0);

  /* Not under load mac2 means nothing (as in WireGuard); every byte up to
   * it still counts. */
  advance(w, S(5));
  make_initiation(w, m1);
  for (size_t i = 0; i < TCPU_NOISE_INIT_MAC2_OFF; i++) {
    memcpy(bad, m1, sizeof bad);
    bad[i] ^= 0x80;
    if (responder_receives(w, bad, sizeof bad, 0, &src) == 0)
      accepted++;
  }
  assert_int_equal(accepted, 0);
  memcpy(bad, m1, sizeof bad);
  bad[TCPU_NOISE_INIT_MAC2_OFF] ^= 0x80;
  assert_int_equal(responder_receives(w, bad, sizeof bad, 0, &src), 0);
  pair_del(w);
}

static void test_noise_response_every_byte_flip_refused(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m1[148], m2[92], bad[92];
  unsigned accepted = 0;
  make_initiation(w, m1);
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 0x77, m2, 92, w->now),
                   92);
  for (size_t i = 0; i < TCPU_NOISE_RESP_MAC2_OFF; i++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(bad, m2, sizeof bad);
      bad[i] ^= (uint8_t)(1u << bit);
      if (tcpu_noise_consume_response(&w->pa, bad, sizeof bad, w->now) == 0)
        accepted++;
    }
  /* mac2 under load: the initiator's gate (its cookie checker). */
  tcpu_addr src;
  uint8_t ip[4] = {198, 51, 100, 7};
  tcpu_addr_ipv4(&src, ip, 4000);
  for (size_t i = TCPU_NOISE_RESP_MAC2_OFF; i < 92; i++) {
    memcpy(bad, m2, sizeof bad);
    bad[i] ^= 0x10;
    if (tcpu_cookie_validate(&w->a.cookies, bad, 92, &src, 1, w->now) ==
            TCPU_COOKIE_ACCEPT &&
        tcpu_noise_consume_response(&w->pa, bad, sizeof bad, w->now) == 0)
      accepted++;
  }
  assert_int_equal(accepted, 0);
  assert_int_equal(w->pa.hs_state, TCPU_NOISE_HS_CREATED_INITIATION);
  assert_false(w->pa.cur.valid);
  /* Shorter, longer: refused. */
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 91, w->now),
                   TCPU_ERR_PROTO);
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 92, w->now), 0);
  /* And once more: the handshake is spent. */
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 92, w->now),
                   TCPU_ERR_PROTO);
  pair_del(w);
}

static void test_noise_initiation_replay_refused(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t old[148], m1[148];
  make_initiation(w, old);
  advance(w, S(6));
  make_initiation(w, m1);
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  uint8_t ts[12];
  memcpy(ts, w->pb.latest_timestamp, 12);
  /* The very same message later: its timestamp is not newer. */
  advance(w, S(1));
  assert_int_equal(consume_init(w, m1, sizeof m1), TCPU_ERR_PROTO);
  /* An older initiation, never seen before, is just as stale. */
  assert_int_equal(consume_init(w, old, sizeof old), TCPU_ERR_PROTO);
  assert_memory_equal(w->pb.latest_timestamp, ts, 12);
  /* A fresh one goes in. */
  advance(w, S(5));
  make_initiation(w, m1);
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  /* A responder restarted with the same keys forgets timestamps: the
   * initiator's wall clock alone keeps it safe; a wall clock that went
   * backwards makes initiations stale until it catches up. */
  w->wall -= S(60);
  advance(w, S(5));
  make_initiation(w, m1);
  assert_int_equal(consume_init(w, m1, sizeof m1), TCPU_ERR_PROTO);
  pair_del(w);
}

static void test_noise_initiation_flood_refused(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m1[148], m2[148];
  make_initiation(w, m1);
  /* A second initiator state with a later wall clock, built the same way
   * (the first's REKEY_TIMEOUT would refuse to make it so soon). */
  w->pa.last_sent_handshake = TCPU_TSTAMP_NONE;
  w->wall += MS(40);
  make_initiation(w, m2);
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  w->now += MS(19);
  assert_int_equal(consume_init(w, m2, sizeof m2), TCPU_ERR_PROTO);
  w->now += MS(1);
  assert_int_equal(consume_init(w, m2, sizeof m2), 0);
  pair_del(w);
}

static void test_noise_wrong_responder_key_dropped_before_dh(void **state) {
  (void)state;
  pair *w = pair_new();
  tcpu_noise_peer wrong;
  uint8_t other[32], m1[148];
  memset(other, 0x33, sizeof other);
  tcpu_noise_pubkey(other, other);
  assert_int_equal(tcpu_noise_peer_init(&wrong, &w->a, other, NULL), 0);
  assert_int_equal(tcpu_noise_create_initiation(&wrong, 1, w->wall, m1, 148,
                                                w->now),
                   148);
  unsigned long before = dh_count;
  assert_int_equal(consume_init(w, m1, sizeof m1), TCPU_ERR_PROTO);
  assert_true(dh_count == before);
  assert_int_equal(w->pb.hs_state, TCPU_NOISE_HS_ZEROED);

  /* The same initiation with mac1 made for B: B gets as far as the
   * static key, which does not decrypt. */
  tcpu_cookie_maker cm;
  tcpu_cookie_maker_init(&cm, w->b.pub);
  tcpu_cookie_add_macs(&cm, m1, 148, w->now);
  assert_int_equal(consume_init(w, m1, sizeof m1), TCPU_ERR_PROTO);
  assert_true(dh_count > before);
  assert_int_equal(w->pb.hs_state, TCPU_NOISE_HS_ZEROED);
  tcpu_noise_peer_free(&wrong);
  pair_del(w);
}

static void test_noise_mac1_wrong_dropped_before_dh(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m1[148];
  make_initiation(w, m1);
  m1[TCPU_NOISE_INIT_MAC1_OFF + 5] ^= 0x20;
  unsigned long before = dh_count;
  assert_int_equal(consume_init(w, m1, sizeof m1), TCPU_ERR_PROTO);
  assert_true(dh_count == before);
  /* A response is checked the same way. */
  uint8_t m2[92] = {2};
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 92, w->now),
                   TCPU_ERR_PROTO);
  assert_true(dh_count == before);
  m1[TCPU_NOISE_INIT_MAC1_OFF + 5] ^= 0x20;
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  assert_true(dh_count > before);
  pair_del(w);
}

static void test_noise_unknown_initiator_refused(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m1[148];
  tcpu_noise_peer *p = NULL;
  make_initiation(w, m1);
  assert_int_equal(tcpu_noise_consume_initiation(&w->b, m1, 148, lookup_none,
                                                 w, &p, w->now),
                   TCPU_ERR_PROTO);
  assert_null(p);
  assert_int_equal(tcpu_noise_consume_initiation(&w->b, m1, 148, NULL, NULL,
                                                 &p, w->now),
                   TCPU_ERR_PROTO);
  /* A lookup that answers with another identity's peer is not believed. */
  assert_int_equal(tcpu_noise_consume_initiation(&w->a, m1, 148, lookup_b, w,
                                                 &p, w->now),
                   TCPU_ERR_PROTO);
  assert_null(p);
  assert_int_equal(w->pb.hs_state, TCPU_NOISE_HS_ZEROED);
  pair_del(w);
}

static void test_noise_out_of_turn_and_short_buffers(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m1[148], m2[92];
  assert_int_equal(tcpu_noise_create_response(&w->pb, 1, m2, 92, w->now),
                   TCPU_ERR_STATE);
  assert_int_equal(tcpu_noise_create_initiation(&w->pa, 1, w->wall, m1, 147,
                                                w->now),
                   TCPU_ERR_NOBUF);
  make_initiation(w, m1);
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 1, m2, 91, w->now),
                   TCPU_ERR_NOBUF);
  assert_int_equal(w->pb.hs_state, TCPU_NOISE_HS_CONSUMED_INITIATION);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 1, m2, 92, w->now), 92);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 1, m2, 92, w->now),
                   TCPU_ERR_STATE);
  /* A response to the wrong index, or with no initiation out. */
  tcpu_noise_put_le32(m2 + 8, 0xbad);
  tcpu_cookie_add_macs(&w->pb.cookie, m2, 92, w->now);
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 92, w->now),
                   TCPU_ERR_PROTO);
  assert_int_equal(tcpu_noise_consume_response(&w->pb, m2, 92, w->now),
                   TCPU_ERR_PROTO);
  pair_del(w);
}

static void test_noise_initiation_rate_limited_per_rekey_timeout(void **st) {
  (void)st;
  pair *w = pair_new();
  uint8_t m1[148];
  make_initiation(w, m1);
  advance(w, S(4));
  assert_int_equal(tcpu_noise_create_initiation(&w->pa, 9, w->wall, m1, 148,
                                                w->now),
                   TCPU_ERR_AGAIN);
  advance(w, S(1));
  make_initiation(w, m1);
  pair_del(w);
}

static int index_log_n;
static uint32_t index_log[16];

static void log_index(void *ctx, uint32_t index) {
  (void)ctx;
  if (index_log_n < 16)
    index_log[index_log_n++] = index;
}

static void test_noise_replaced_handshake_index_reported(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m1[148], m2[148];
  index_log_n = 0;
  tcpu_noise_peer_set_index_hook(&w->pa, log_index, NULL);
  tcpu_noise_peer_set_index_hook(&w->pb, log_index, NULL);
  make_initiation(w, m1); /* 0x1000 */
  advance(w, S(5));
  make_initiation(w, m1); /* 0x1001 replaces it */
  assert_int_equal(index_log_n, 1);
  assert_true(index_log[0] == 0x1000);
  /* B initiates too, then takes A's initiation: its own is dropped. */
  assert_int_equal(tcpu_noise_create_initiation(&w->pb, 0xb0, w->wall, m2, 148,
                                                w->now),
                   148);
  assert_int_equal(consume_init(w, m1, sizeof m1), 0);
  assert_int_equal(index_log_n, 2);
  assert_true(index_log[1] == 0xb0);
  /* A consumes nothing of B's stale initiation: it still waits. */
  assert_int_equal(w->pa.hs_state, TCPU_NOISE_HS_CREATED_INITIATION);
  /* Freeing reports what is left. */
  tcpu_noise_peer_clear(&w->pa);
  assert_int_equal(index_log_n, 3);
  assert_true(index_log[2] == 0x1001);
  pair_del(w);
}

static int taken_below_5(void *ctx, uint32_t index) {
  int *calls = ctx;
  return ++*calls < 5 || index == 0;
}

static void test_noise_new_index_skips_taken(void **state) {
  (void)state;
  pair *w = pair_new();
  int calls = 0;
  uint32_t a = tcpu_noise_new_index(&w->a, taken_below_5, &calls);
  assert_true(calls >= 5);
  (void)a;
  assert_true(tcpu_noise_new_index(&w->a, NULL, NULL) !=
              tcpu_noise_new_index(&w->a, NULL, NULL));
  pair_del(w);
}

static void test_noise_peer_init_refuses_bad_keys(void **state) {
  (void)state;
  pair *w = pair_new();
  tcpu_noise_peer p;
  uint8_t zero[32] = {0};
  assert_int_equal(tcpu_noise_peer_init(&p, &w->a, zero, NULL),
                   TCPU_ERR_INVAL);
  assert_int_equal(tcpu_noise_peer_init(&p, &w->a, w->a.pub, NULL),
                   TCPU_ERR_INVAL);
  pair_del(w);
}

static void test_noise_identity_free_wipes(void **state) {
  (void)state;
  tcpu_noise_identity *id = malloc(sizeof *id);
  uint8_t k[32], zero[sizeof *id];
  assert_non_null(id);
  memset(k, 0x77, sizeof k);
  memset(zero, 0, sizeof zero);
  assert_int_equal(tcpu_noise_identity_init(id, k, TCPU_NOISE_CHACHAPOLY,
                                            NULL),
                   0);
  assert_memory_not_equal(id, zero, sizeof zero);
  tcpu_noise_identity_free(id);
  assert_memory_equal(id, zero, sizeof zero);
  free(id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_noise_hash_matches_reference_blake2b),
      cmocka_unit_test(test_noise_hmac_matches_rfc2104_reference),
      cmocka_unit_test(test_noise_hkdf_matches_reference),
      cmocka_unit_test(test_noise_protocol_names),
      cmocka_unit_test(test_noise_aead_nonce_le_chachapoly_be_aesgcm),
      cmocka_unit_test(test_noise_dh_low_order_point_rejected),
      cmocka_unit_test(test_noise_cs_nonce_exhausted_refuses),
      cmocka_unit_test(test_noise_cs_failed_decrypt_keeps_nonce),
      cmocka_unit_test(test_noise_cs_without_key_passes_through),
      cmocka_unit_test(test_noise_hs_out_of_turn_state),
      cmocka_unit_test(test_noise_vectors_cover_the_file),
      cmocka_unit_test(test_noise_vector_ik_chachapoly),
      cmocka_unit_test(test_noise_vector_ikpsk2_chachapoly),
      cmocka_unit_test(test_noise_vector_ik_aesgcm),
      cmocka_unit_test(test_noise_vector_ikpsk2_aesgcm),
      cmocka_unit_test(test_noise_vector_any_flip_refused),
      cmocka_unit_test(test_noise_message_shapes),
      cmocka_unit_test(test_noise_handshake_completes_with_matching_sessions),
      cmocka_unit_test(test_noise_handshake_aesgcm_and_psk),
      cmocka_unit_test(test_noise_psk_mismatch_response_refused),
      cmocka_unit_test(test_noise_cipher_mismatch_refused),
      cmocka_unit_test(test_noise_initiation_every_byte_flip_refused),
      cmocka_unit_test(test_noise_response_every_byte_flip_refused),
      cmocka_unit_test(test_noise_initiation_replay_refused),
      cmocka_unit_test(test_noise_initiation_flood_refused),
      cmocka_unit_test(test_noise_wrong_responder_key_dropped_before_dh),
      cmocka_unit_test(test_noise_mac1_wrong_dropped_before_dh),
      cmocka_unit_test(test_noise_unknown_initiator_refused),
      cmocka_unit_test(test_noise_out_of_turn_and_short_buffers),
      cmocka_unit_test(test_noise_initiation_rate_limited_per_rekey_timeout),
      cmocka_unit_test(test_noise_replaced_handshake_index_reported),
      cmocka_unit_test(test_noise_new_index_skips_taken),
      cmocka_unit_test(test_noise_peer_init_refuses_bad_keys),
      cmocka_unit_test(test_noise_identity_free_wipes),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  print_message("vector messages reproduced: %d\n", vector_messages_checked);
  return rc;
}
