/*
 * test_cookie.c — cookie.c (mac1, mac2, cookie replies) and ratelimit.c
 * (the per-source token buckets in front of the handshake).
 *
 * The MAC and key derivation are checked against Python's hashlib
 * (noise_vectors.h); then the gate an endpoint puts in front of
 * tcpu_noise_consume_*: mac1 first, the cookie dance under load, the
 * secret's rotation, the cookie's lifetime and its binding to the source
 * address and to the message it answers.
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

#include "crypto/cookie.h"
#include "crypto/handshake.h"
#include "crypto/ratelimit.h"
#include "noise_vectors.h"

#define S(x) ((tcpu_tstamp)(x) * TCPU_NS_PER_S)
#define MS(x) ((tcpu_tstamp)(x) * TCPU_NS_PER_MS)
#define WALL0 (UINT64_C(1704067200) * TCPU_NS_PER_S)

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

/* A initiates to B, which is the one under load. */
typedef struct pair {
  det_rng ra, rb;
  tcpu_noise_identity a, b;
  tcpu_noise_peer pa, pb;
  tcpu_addr src; /* A's address as B sees it */
  uint32_t index;
  tcpu_tstamp now;
  uint64_t wall;
} pair;

static tcpu_noise_peer *lookup_b(void *ctx, const uint8_t *pub) {
  pair *w = ctx;
  return memcmp(pub, w->pb.remote_static, 32) == 0 ? &w->pb : NULL;
}

static pair *pair_new(void) {
  pair *w = calloc(1, sizeof *w);
  uint8_t ka[32], kb[32], ip[4] = {203, 0, 113, 9};
  assert_non_null(w);
  memset(w->ra.seed, 0x0a, 32);
  memset(w->rb.seed, 0x0b, 32);
  memset(ka, 0x41, 32);
  memset(kb, 0x42, 32);
  tcpu_noise_rng rga = {det_fill, &w->ra}, rgb = {det_fill, &w->rb};
  assert_int_equal(tcpu_noise_identity_init(&w->a, ka, TCPU_NOISE_CHACHAPOLY,
                                            &rga),
                   0);
  assert_int_equal(tcpu_noise_identity_init(&w->b, kb, TCPU_NOISE_CHACHAPOLY,
                                            &rgb),
                   0);
  assert_int_equal(tcpu_noise_peer_init(&w->pa, &w->a, w->b.pub, NULL), 0);
  assert_int_equal(tcpu_noise_peer_init(&w->pb, &w->b, w->a.pub, NULL), 0);
  tcpu_addr_ipv4(&w->src, ip, 40000);
  w->index = 100;
  w->now = S(50);
  w->wall = WALL0;
  return w;
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

static void initiation(pair *w, uint8_t m[148]) {
  assert_int_equal(tcpu_noise_create_initiation(&w->pa, w->index++, w->wall,
                                                m, 148, w->now),
                   148);
}

static int mac2_is_zero(const uint8_t *m, size_t len) {
  static const uint8_t zero[16];
  return memcmp(m + len - 16, zero, 16) == 0;
}

/* B under load answers, A takes the cookie. */
static void get_cookie(pair *w, const uint8_t m[148]) {
  uint8_t reply[64];
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 1,
                                        w->now),
                   TCPU_COOKIE_SEND_REPLY);
  assert_int_equal(tcpu_cookie_create_reply(&w->b.cookies, reply,
                                            sizeof reply, m, 148, &w->src,
                                            w->now),
                   64);
  assert_int_equal(tcpu_noise_consume_cookie(&w->pa, reply, 64, w->now), 0);
}

/* ============================================================= MACs */

static void test_cookie_mac_and_keys_match_reference(void **state) {
  (void)state;
  uint8_t key[32], mac[16];
  for (size_t i = 0; i < sizeof nv_macs / sizeof nv_macs[0]; i++) {
    const nv_mac *c = &nv_macs[i];
    tcpu_cookie_derive_key(key, c->label, c->pub.p);
    assert_memory_equal(key, c->key.p, 32);
    tcpu_cookie_mac(mac, key, 32, c->msg.p, c->msg.len);
    assert_memory_equal(mac, c->mac.p, 16);
    /* A 16-byte digest is a BLAKE2 parameter, not BLAKE2b-512 cut. */
    uint8_t full[64];
    crypto_generichash_blake2b(full, 64, c->msg.p, c->msg.len, key, 32);
    assert_memory_not_equal(full, mac, 16);
  }
}

static void test_cookie_mac1_over_message_up_to_mac1(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m[148], key[32], mac[16];
  initiation(w, m);
  tcpu_cookie_derive_key(key, "mac1----", w->b.pub);
  tcpu_cookie_mac(mac, key, 32, m, 116);
  assert_memory_equal(m + 116, mac, 16);
  assert_true(mac2_is_zero(m, 148));
  assert_int_equal(tcpu_cookie_check_mac1(&w->b.cookies, m, 148), 1);
  /* Not for A, nor cut short, nor of the wrong type. */
  assert_int_equal(tcpu_cookie_check_mac1(&w->a.cookies, m, 148), 0);
  assert_int_equal(tcpu_cookie_check_mac1(&w->b.cookies, m, 147), 0);
  m[0] = 2;
  assert_int_equal(tcpu_cookie_check_mac1(&w->b.cookies, m, 148), 0);
  pair_del(w);
}

/* ========================================================= the gate */

static void test_cookie_mac1_wrong_dropped_under_any_load(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m[148];
  initiation(w, m);
  m[116] ^= 1;
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 0,
                                        w->now),
                   TCPU_COOKIE_DROP);
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 1,
                                        w->now),
                   TCPU_COOKIE_DROP);
  /* Nor is a reply made for what is not an initiation or response. */
  uint8_t reply[64];
  m[116] ^= 1;
  m[1] = 1;
  assert_int_equal(tcpu_cookie_create_reply(&w->b.cookies, reply, 64, m, 148,
                                            &w->src, w->now),
                   TCPU_ERR_PROTO);
  pair_del(w);
}

static void test_cookie_not_under_load_accepts_without_mac2(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m[148];
  initiation(w, m);
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 0,
                                        w->now),
                   TCPU_COOKIE_ACCEPT);
  pair_del(w);
}

/* The whole round trip: under load B answers the initiation with a cookie
 * reply instead of a response; A's next initiation carries mac2 and goes
 * through; B completes the handshake. */
static void test_cookie_round_trip_under_load(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m[148], reply[64], resp[92];
  tcpu_noise_peer *p = NULL;

  initiation(w, m);
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 1,
                                        w->now),
                   TCPU_COOKIE_SEND_REPLY);
  assert_int_equal(tcpu_cookie_create_reply(&w->b.cookies, reply, 63, m, 148,
                                            &w->src, w->now),
                   TCPU_ERR_NOBUF);
  assert_int_equal(tcpu_cookie_create_reply(&w->b.cookies, reply,
                                            sizeof reply, m, 148, &w->src,
                                            w->now),
                   64);
  /* Smaller than what caused it, addressed to A's handshake index. */
  assert_true(sizeof reply < 148);
  assert_int_equal(tcpu_noise_msg_type(reply, 64), TCPU_NOISE_MSG_COOKIE);
  uint32_t idx;
  assert_int_equal(tcpu_noise_msg_receiver_index(reply, 64, &idx), 0);
  assert_true(idx == w->pa.hs_local_index);
  /* B kept no state for it. */
  assert_int_equal(w->pb.hs_state, TCPU_NOISE_HS_ZEROED);

  assert_int_equal(tcpu_noise_consume_cookie(&w->pa, reply, 64, w->now), 0);
  assert_true(w->pa.cookie.have_cookie);
  /* The retransmission, REKEY_TIMEOUT later, proves the address. */
  advance(w, S(5));
  initiation(w, m);
  assert_false(mac2_is_zero(m, 148));
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 1,
                                        w->now),
                   TCPU_COOKIE_ACCEPT);
  assert_int_equal(tcpu_noise_consume_initiation(&w->b, m, 148, lookup_b, w,
                                                 &p, w->now),
                   0);
  assert_ptr_equal(p, &w->pb);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 7, resp, 92, w->now),
                   92);
  assert_int_equal(tcpu_noise_consume_response(&w->pa, resp, 92, w->now), 0);
  pair_del(w);
}

static void test_cookie_bound_to_source_address(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m[148], ip[4] = {203, 0, 113, 10};
  tcpu_addr other = w->src, v6;
  initiation(w, m);
  get_cookie(w, m);
  advance(w, S(5));
  initiation(w, m);
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 1,
                                        w->now),
                   TCPU_COOKIE_ACCEPT);
  /* Another address, another port, another family: no. */
  tcpu_addr_ipv4(&other, ip, w->src.port);
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &other, 1,
                                        w->now),
                   TCPU_COOKIE_SEND_REPLY);
  other = w->src;
  other.port++;
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &other, 1,
                                        w->now),
                   TCPU_COOKIE_SEND_REPLY);
  v6 = w->src;
  v6.family = TCPU_AF_INET6;
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &v6, 1,
                                        w->now),
                   TCPU_COOKIE_SEND_REPLY);
  pair_del(w);
}

/* B's secret lasts 120 s: a cookie made late in its life stops working
 * when it is renewed, though A still uses it. */
static void test_cookie_secret_rotates_every_120_s(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m[148], secret[32], reply[64], ip[4] = {198, 18, 0, 1};
  tcpu_addr someone;

  /* Someone else's reply brings B's secret to life. */
  tcpu_addr_ipv4(&someone, ip, 9);
  initiation(w, m);
  assert_int_equal(tcpu_cookie_create_reply(&w->b.cookies, reply, 64, m, 148,
                                            &someone, w->now),
                   64);
  tcpu_tstamp born = w->now;
  memcpy(secret, w->b.cookies.secret, 32);

  advance(w, S(100));
  initiation(w, m);
  get_cookie(w, m); /* 100 s into the secret's life */
  assert_memory_equal(w->b.cookies.secret, secret, 32);
  advance(w, S(19));
  initiation(w, m);
  assert_false(mac2_is_zero(m, 148));
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 1,
                                        w->now),
                   TCPU_COOKIE_ACCEPT);

  /* At 120 s the secret is renewed and the cookie A holds is worthless. */
  advance(w, S(1));
  assert_true(w->now == born + S(120));
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 1,
                                        w->now),
                   TCPU_COOKIE_SEND_REPLY);
  assert_memory_not_equal(w->b.cookies.secret, secret, 32);
  assert_true(w->b.cookies.secret_birth == w->now);
  advance(w, S(5));
  initiation(w, m);
  assert_false(mac2_is_zero(m, 148));
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 1,
                                        w->now),
                   TCPU_COOKIE_SEND_REPLY);
  /* A fresh cookie under the new secret works again. */
  get_cookie(w, m);
  advance(w, S(5));
  initiation(w, m);
  assert_int_equal(tcpu_cookie_validate(&w->b.cookies, m, 148, &w->src, 1,
                                        w->now),
                   TCPU_COOKIE_ACCEPT);
  pair_del(w);
}

/* A uses a cookie for 120 - 5 s after receiving it, then sends zeros. */
static void test_cookie_used_for_115_s(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m[148];
  initiation(w, m);
  get_cookie(w, m);
  tcpu_tstamp got = w->now;
  advance(w, S(110));
  initiation(w, m);
  assert_false(mac2_is_zero(m, 148));
  tcpu_cookie_add_macs(&w->pa.cookie, m, 148, got + S(115) - 1);
  assert_false(mac2_is_zero(m, 148));
  tcpu_cookie_add_macs(&w->pa.cookie, m, 148, got + S(115));
  assert_true(mac2_is_zero(m, 148));
  pair_del(w);
}

static void test_cookie_reply_tampered_refused(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m[148], reply[64], bad[64];
  unsigned taken = 0;
  initiation(w, m);
  assert_int_equal(tcpu_cookie_create_reply(&w->b.cookies, reply, 64, m, 148,
                                            &w->src, w->now),
                   64);
  for (size_t i = 0; i < sizeof reply; i++)
    for (int bit = 0; bit < 8; bit++) {
      /* The receiver index only routes the reply to the peer. */
      if (i >= TCPU_NOISE_COOKIE_RECEIVER_OFF &&
          i < TCPU_NOISE_COOKIE_NONCE_OFF)
        continue;
      memcpy(bad, reply, sizeof bad);
      bad[i] ^= (uint8_t)(1u << bit);
      if (tcpu_noise_consume_cookie(&w->pa, bad, 64, w->now) == 0)
        taken++;
    }
  assert_int_equal(taken, 0);
  assert_false(w->pa.cookie.have_cookie);
  assert_int_equal(tcpu_noise_consume_cookie(&w->pa, reply, 63, w->now),
                   TCPU_ERR_PROTO);
  assert_int_equal(tcpu_noise_consume_cookie(&w->pa, reply, 64, w->now), 0);
  pair_del(w);
}

/* One cookie per message sent: a replayed reply, or a reply to an older
 * message, is refused. */
static void test_cookie_reply_replayed_or_stale_refused(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m1[148], m2[148], r1[64], r2[64];
  tcpu_noise_peer stranger;

  /* No message sent yet: nothing to take. */
  assert_int_equal(tcpu_noise_peer_init(&stranger, &w->a, w->b.pub, NULL), 0);
  initiation(w, m1);
  assert_int_equal(tcpu_cookie_create_reply(&w->b.cookies, r1, 64, m1, 148,
                                            &w->src, w->now),
                   64);
  assert_int_equal(tcpu_noise_consume_cookie(&stranger, r1, 64, w->now),
                   TCPU_ERR_PROTO);
  tcpu_noise_peer_free(&stranger);

  advance(w, S(5));
  initiation(w, m2);
  /* r1 answers m1, whose mac1 is no longer A's last. */
  assert_int_equal(tcpu_noise_consume_cookie(&w->pa, r1, 64, w->now),
                   TCPU_ERR_PROTO);
  assert_int_equal(tcpu_cookie_create_reply(&w->b.cookies, r2, 64, m2, 148,
                                            &w->src, w->now),
                   64);
  assert_int_equal(tcpu_noise_consume_cookie(&w->pa, r2, 64, w->now), 0);
  assert_int_equal(tcpu_noise_consume_cookie(&w->pa, r2, 64, w->now),
                   TCPU_ERR_PROTO);
  pair_del(w);
}

/* A response can draw a cookie reply too: the initiator under load. */
static void test_cookie_reply_to_a_response(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m[148], resp[92], reply[64];
  tcpu_noise_peer *p;
  tcpu_addr b_addr;
  uint8_t ip[4] = {192, 0, 2, 200};
  tcpu_addr_ipv4(&b_addr, ip, 51820);
  initiation(w, m);
  assert_int_equal(tcpu_noise_consume_initiation(&w->b, m, 148, lookup_b, w,
                                                 &p, w->now),
                   0);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 0x55, resp, 92, w->now),
                   92);
  assert_int_equal(tcpu_cookie_validate(&w->a.cookies, resp, 92, &b_addr, 1,
                                        w->now),
                   TCPU_COOKIE_SEND_REPLY);
  assert_int_equal(tcpu_cookie_create_reply(&w->a.cookies, reply, 64, resp, 92,
                                            &b_addr, w->now),
                   64);
  uint32_t idx;
  assert_int_equal(tcpu_noise_msg_receiver_index(reply, 64, &idx), 0);
  assert_true(idx == 0x55);
  assert_int_equal(tcpu_noise_consume_cookie(&w->pb, reply, 64, w->now), 0);
  assert_true(w->pb.cookie.have_cookie);
  pair_del(w);
}

/* ====================================================== rate limit */

static void test_ratelimit_burst_then_rate(void **state) {
  (void)state;
  tcpu_ratelimit rl;
  tcpu_addr a;
  uint8_t ip[4] = {10, 0, 0, 1};
  tcpu_tstamp now = S(10);
  int allowed = 0;
  tcpu_addr_ipv4(&a, ip, 1);
  assert_int_equal(tcpu_ratelimit_init(&rl, 64, 0, 0, NULL), 0);
  /* A burst of 5 at once, then nothing. */
  for (int i = 0; i < 10; i++)
    allowed += tcpu_ratelimit_allow(&rl, &a, now);
  assert_int_equal(allowed, TCPU_NOISE_HANDSHAKES_BURST);
  /* 20 a second: one every 50 ms. */
  now += MS(49);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &a, now), 0);
  now += MS(1);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &a, now), 1);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &a, now), 0);
  /* Over 10 s at 100 a second offered, 20 a second get through. */
  allowed = 0;
  for (int i = 0; i < 1000; i++) {
    now += MS(10);
    allowed += tcpu_ratelimit_allow(&rl, &a, now);
  }
  assert_true(allowed >= 199 && allowed <= 201);
  /* After a long pause the bucket is full again, no more. */
  now += S(60);
  allowed = 0;
  for (int i = 0; i < 10; i++)
    allowed += tcpu_ratelimit_allow(&rl, &a, now);
  assert_int_equal(allowed, TCPU_NOISE_HANDSHAKES_BURST);
  tcpu_ratelimit_free(&rl);
}

static void test_ratelimit_per_source(void **state) {
  (void)state;
  tcpu_ratelimit rl;
  tcpu_addr a, b, a2, v6a, v6b, v6c;
  uint8_t ipa[4] = {10, 0, 0, 1}, ipb[4] = {10, 0, 0, 2};
  tcpu_tstamp now = S(1);
  assert_int_equal(tcpu_ratelimit_init(&rl, 256, 2, 1, NULL), 0);
  tcpu_addr_ipv4(&a, ipa, 1000);
  tcpu_addr_ipv4(&a2, ipa, 2000);
  tcpu_addr_ipv4(&b, ipb, 1000);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &a, now), 1);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &a, now), 0);
  /* Another port of the same host shares the bucket. */
  assert_int_equal(tcpu_ratelimit_allow(&rl, &a2, now), 0);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &b, now), 1);
  /* IPv6: one /64 is one source. */
  memset(&v6a, 0, sizeof v6a);
  v6a.family = TCPU_AF_INET6;
  v6a.ip[0] = 0x20;
  v6a.ip[1] = 0x01;
  v6a.ip[15] = 1;
  v6b = v6a;
  v6b.ip[15] = 2;
  v6c = v6a;
  v6c.ip[7] = 1;
  assert_int_equal(tcpu_ratelimit_allow(&rl, &v6a, now), 1);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &v6b, now), 0);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &v6c, now), 1);
  /* 2 a second. */
  now += MS(500);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &a, now), 1);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &v6b, now), 1);
  tcpu_ratelimit_free(&rl);
}

/* A table full of busy sources refuses newcomers; sources that went quiet
 * give their slots up. */
static void test_ratelimit_full_table_refuses_then_recovers(void **state) {
  (void)state;
  tcpu_ratelimit rl;
  tcpu_addr x;
  uint8_t ip[4] = {172, 16, 0, 0};
  tcpu_tstamp now = S(1);
  int refused = 0;
  assert_int_equal(tcpu_ratelimit_init(&rl, 8, 0, 0, NULL), 0);
  assert_int_equal(rl.nslots, 8);
  for (int i = 0; i < 64; i++) {
    ip[3] = (uint8_t)i;
    tcpu_addr_ipv4(&x, ip, 1);
    if (!tcpu_ratelimit_allow(&rl, &x, now))
      refused++;
  }
  assert_int_equal(refused, 64 - 8);
  /* A quarter of a second later every bucket is full again (5 at 20/s):
   * the slots are free for anyone. */
  now += MS(250);
  ip[3] = 200;
  tcpu_addr_ipv4(&x, ip, 1);
  assert_int_equal(tcpu_ratelimit_allow(&rl, &x, now), 1);
  tcpu_ratelimit_free(&rl);
}

static void test_ratelimit_sizes(void **state) {
  (void)state;
  tcpu_ratelimit rl;
  assert_int_equal(tcpu_ratelimit_init(&rl, 1000, 0, 0, NULL), 0);
  assert_int_equal(rl.nslots, 1024);
  assert_true(rl.cost == TCPU_NS_PER_S / 20 && rl.max == 5 * rl.cost);
  tcpu_ratelimit_free(&rl);
  assert_int_equal(tcpu_ratelimit_init(&rl, (size_t)1 << 30, 0, 0, NULL),
                   TCPU_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cookie_mac_and_keys_match_reference),
      cmocka_unit_test(test_cookie_mac1_over_message_up_to_mac1),
      cmocka_unit_test(test_cookie_mac1_wrong_dropped_under_any_load),
      cmocka_unit_test(test_cookie_not_under_load_accepts_without_mac2),
      cmocka_unit_test(test_cookie_round_trip_under_load),
      cmocka_unit_test(test_cookie_bound_to_source_address),
      cmocka_unit_test(test_cookie_secret_rotates_every_120_s),
      cmocka_unit_test(test_cookie_used_for_115_s),
      cmocka_unit_test(test_cookie_reply_tampered_refused),
      cmocka_unit_test(test_cookie_reply_replayed_or_stale_refused),
      cmocka_unit_test(test_cookie_reply_to_a_response),
      cmocka_unit_test(test_ratelimit_burst_then_rate),
      cmocka_unit_test(test_ratelimit_per_source),
      cmocka_unit_test(test_ratelimit_full_table_refuses_then_recovers),
      cmocka_unit_test(test_ratelimit_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
