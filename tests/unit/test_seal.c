/*
 * test_seal.c — seal.c (transport data messages) and session.c (a peer's
 * sessions and timers), driven through whole handshakes in virtual time.
 *
 * Banners: the envelope; tampering and replays; session rotation and key
 * confirmation; the limits (REKEY/REJECT after time and messages); the
 * timers (keepalive, new handshake, retransmission, giving up, zeroing,
 * persistent keepalive).
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

#include "crypto/handshake.h"
#include "crypto/seal.h"
#include "crypto/session.h"

#define S(x) ((tcpu_tstamp)(x) * TCPU_NS_PER_S)
#define MS(x) ((tcpu_tstamp)(x) * TCPU_NS_PER_MS)
#define WALL0 (UINT64_C(1704067200) * TCPU_NS_PER_S)
#define NONE TCPU_TSTAMP_NONE
#define W TCPU_NOISE_REPLAY_WINDOW

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

/* A initiates to B. */
typedef struct pair {
  det_rng ra, rb;
  tcpu_noise_identity a, b;
  tcpu_noise_peer pa, pb;
  uint32_t index;
  tcpu_tstamp now;
  uint64_t wall;
  uint8_t buf[2048], out[2048];
} pair;

static tcpu_noise_peer *lookup_b(void *ctx, const uint8_t *pub) {
  pair *w = ctx;
  return memcmp(pub, w->pb.remote_static, 32) == 0 ? &w->pb : NULL;
}

static int dropped_n;
static uint32_t dropped[64];

static void log_drop(void *ctx, uint32_t index) {
  (void)ctx;
  if (dropped_n < 64)
    dropped[dropped_n++] = index;
}

static int was_dropped(uint32_t index) {
  for (int i = 0; i < dropped_n; i++)
    if (dropped[i] == index)
      return 1;
  return 0;
}

static pair *pair_new_cipher(tcpu_noise_cipher cipher) {
  pair *w = calloc(1, sizeof *w);
  uint8_t ka[32], kb[32], psk[32];
  assert_non_null(w);
  memset(w->ra.seed, 0xaa, 32);
  memset(w->rb.seed, 0xbb, 32);
  memset(ka, 0x61, 32);
  memset(kb, 0x62, 32);
  memset(psk, 0x63, 32);
  tcpu_noise_rng rga = {det_fill, &w->ra}, rgb = {det_fill, &w->rb};
  assert_int_equal(tcpu_noise_identity_init(&w->a, ka, cipher, &rga), 0);
  assert_int_equal(tcpu_noise_identity_init(&w->b, kb, cipher, &rgb), 0);
  assert_int_equal(tcpu_noise_peer_init(&w->pa, &w->a, w->b.pub, psk), 0);
  assert_int_equal(tcpu_noise_peer_init(&w->pb, &w->b, w->a.pub, psk), 0);
  tcpu_noise_peer_set_index_hook(&w->pa, log_drop, NULL);
  tcpu_noise_peer_set_index_hook(&w->pb, log_drop, NULL);
  dropped_n = 0;
  w->index = 0xa000;
  w->now = S(7);
  w->wall = WALL0;
  return w;
}

static pair *pair_new(void) {
  return pair_new_cipher(TCPU_NOISE_CHACHAPOLY);
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

/* Messages 1 and 2, no transport yet. */
static void handshake(pair *w) {
  uint8_t m1[148], m2[92];
  tcpu_noise_peer *p = NULL;
  assert_int_equal(tcpu_noise_create_initiation(&w->pa, w->index++, w->wall,
                                                m1, 148, w->now),
                   148);
  assert_int_equal(tcpu_noise_consume_initiation(&w->b, m1, 148, lookup_b, w,
                                                 &p, w->now),
                   0);
  assert_int_equal(tcpu_noise_create_response(&w->pb, w->index++, m2, 92,
                                              w->now),
                   92);
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 92, w->now), 0);
}

/* Seals len pattern bytes on `from` into w->buf; returns the length. */
static tcpu_ssize seal_from(pair *w, tcpu_noise_peer *from, size_t len,
                            uint8_t tag) {
  uint8_t pt[1500] = {0}; /* len may be 0: a keepalive */
  for (size_t i = 0; i < len; i++)
    pt[i] = (uint8_t)(tag + i * 7);
  return tcpu_noise_peer_seal(from, pt, len, w->buf, sizeof w->buf, w->now);
}

/* from seals, to opens; checks the bytes.  Returns the open's result. */
static tcpu_ssize send_to(pair *w, tcpu_noise_peer *from, tcpu_noise_peer *to,
                          size_t len, uint8_t tag) {
  tcpu_ssize n = seal_from(w, from, len, tag);
  assert_int_equal(n, (tcpu_ssize)len + 32);
  tcpu_ssize m =
      tcpu_noise_peer_open(to, w->buf, (size_t)n, w->out, sizeof w->out, w->now);
  if (m >= 0) {
    assert_int_equal(m, len);
    for (size_t i = 0; i < len; i++)
      assert_int_equal(w->out[i], (uint8_t)(tag + i * 7));
  }
  return m;
}

/* Handshake plus A's confirming keepalive: both sides on cur. */
static void establish(pair *w) {
  handshake(w);
  assert_int_equal(tcpu_noise_peer_handle_expiry(&w->pa, w->now),
                   TCPU_NOISE_ACT_KEEPALIVE);
  assert_int_equal(send_to(w, &w->pa, &w->pb, 0, 0), 0);
  assert_true(w->pb.cur.valid && !w->pb.next.valid);
}

/* ======================================================= the envelope */

static void test_seal_handshake_then_data_both_ways(void **state) {
  (void)state;
  pair *w = pair_new();
  handshake(w);
  /* B may not send before A confirms. */
  assert_int_equal(seal_from(w, &w->pb, 10, 1), TCPU_ERR_NOTCONN);
  /* A sends at once; its data is the confirmation. */
  assert_int_equal(send_to(w, &w->pa, &w->pb, 1200, 2), 1200);
  assert_true(w->pb.cur.valid && !w->pb.next.valid);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 1200, 3), 1200);
  for (int i = 0; i < 100; i++) {
    assert_int_equal(send_to(w, &w->pa, &w->pb, (size_t)i * 13, (uint8_t)i),
                     i * 13);
    assert_int_equal(send_to(w, &w->pb, &w->pa, (size_t)i * 11, (uint8_t)~i),
                     i * 11);
  }
  /* Keepalives both ways. */
  assert_int_equal(send_to(w, &w->pa, &w->pb, 0, 0), 0);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 0, 0), 0);
  assert_true(w->pa.cur.send_counter == 102 && w->pb.cur.send_counter == 102);
  pair_del(w);
}

static void test_seal_wire_layout(void **state) {
  (void)state;
  pair *w = pair_new();
  establish(w);
  w->pa.cur.send_counter = UINT64_C(0x0102030405060708);
  tcpu_ssize n = seal_from(w, &w->pa, 5, 0);
  assert_int_equal(n, 37);
  const uint8_t hdr[16] = {4, 0, 0, 0, 0, 0, 0, 0,
                           8, 7, 6, 5, 4, 3, 2, 1};
  assert_memory_equal(w->buf, hdr, 4);
  assert_true(tcpu_noise_get_le32(w->buf + 4) == w->pa.cur.remote_index);
  assert_memory_equal(w->buf + 8, hdr + 8, 8);
  assert_int_equal(tcpu_noise_msg_type(w->buf, (size_t)n),
                   TCPU_NOISE_MSG_TRANSPORT);
  uint32_t idx;
  assert_int_equal(tcpu_noise_msg_receiver_index(w->buf, (size_t)n, &idx), 0);
  assert_true(idx == w->pb.cur.local_index);
  /* The AEAD is the session cipher under the header as associated data. */
  uint8_t pt[5];
  assert_int_equal(tcpu_noise_aead_decrypt(TCPU_NOISE_CHACHAPOLY,
                                           w->pb.cur.recv_key,
                                           UINT64_C(0x0102030405060708),
                                           w->buf, 16, w->buf + 16, 21, pt),
                   0);
  pair_del(w);
}

static void test_seal_in_place(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t msg[16 + 300 + 16];
  establish(w);
  for (int i = 0; i < 300; i++)
    msg[16 + i] = (uint8_t)i;
  assert_int_equal(tcpu_noise_peer_seal(&w->pa, msg + 16, 300, msg,
                                        sizeof msg, w->now),
                   332);
  assert_int_equal(tcpu_noise_peer_open(&w->pb, msg, 332, msg + 16, 300,
                                        w->now),
                   300);
  for (int i = 0; i < 300; i++)
    assert_int_equal(msg[16 + i], (uint8_t)i);
  pair_del(w);
}

static void test_seal_aesgcm_sessions(void **state) {
  (void)state;
  if (!tcpu_noise_cipher_available(TCPU_NOISE_AESGCM))
    skip();
  pair *w = pair_new_cipher(TCPU_NOISE_AESGCM);
  establish(w);
  assert_int_equal(w->pa.cur.cipher, TCPU_NOISE_AESGCM);
  for (int i = 0; i < 20; i++) {
    assert_int_equal(send_to(w, &w->pa, &w->pb, 100, (uint8_t)i), 100);
    assert_int_equal(send_to(w, &w->pb, &w->pa, 1400, (uint8_t)i), 1400);
  }
  /* The session seals with keys expanded once; the message is still
   * AEAD(send_key, counter, header, plaintext) as the cipher defines it. */
  uint8_t pt[1408], msg[1408 + 32], want[1408 + 16];
  for (size_t i = 0; i < sizeof pt; i++)
    pt[i] = (uint8_t)(i * 5);
  uint64_t counter = w->pa.cur.send_counter;
  assert_int_equal(tcpu_noise_peer_seal(&w->pa, pt, sizeof pt, msg,
                                        sizeof msg, w->now),
                   (tcpu_ssize)sizeof msg);
  assert_int_equal(tcpu_noise_aead_encrypt(TCPU_NOISE_AESGCM,
                                           w->pa.cur.send_key, counter, msg,
                                           16, pt, sizeof pt, want),
                   0);
  assert_memory_equal(msg + 16, want, sizeof want);
  pair_del(w);
}

static void test_seal_short_buffers_and_bad_input(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t pt[64] = {0}, out[128];
  establish(w);
  assert_int_equal(tcpu_noise_peer_seal(&w->pa, pt, 64, out, 95, w->now),
                   TCPU_ERR_NOBUF);
  assert_int_equal(tcpu_noise_peer_seal(&w->pa, pt, 0, out, 31, w->now),
                   TCPU_ERR_NOBUF);
  assert_true(w->pa.cur.send_counter == 1); /* nothing spent */
  tcpu_ssize n = tcpu_noise_peer_seal(&w->pa, pt, 64, out, 96, w->now);
  assert_int_equal(n, 96);
  assert_int_equal(tcpu_noise_peer_open(&w->pb, out, 96, w->buf, 63, w->now),
                   TCPU_ERR_NOBUF);
  /* Too short, wrong type, unknown index. */
  assert_int_equal(tcpu_noise_peer_open(&w->pb, out, 31, w->buf, 64, w->now),
                   TCPU_ERR_PROTO);
  out[0] = 1;
  assert_int_equal(tcpu_noise_peer_open(&w->pb, out, 96, w->buf, 64, w->now),
                   TCPU_ERR_PROTO);
  out[0] = 4;
  out[4] ^= 0xff;
  assert_int_equal(tcpu_noise_peer_open(&w->pb, out, 96, w->buf, 64, w->now),
                   TCPU_ERR_PROTO);
  assert_int_equal(tcpu_open(&w->pb.cur, out, 96, w->buf, 64, w->now),
                   TCPU_ERR_PROTO);
  out[4] ^= 0xff;
  /* The NOBUF attempt spent nothing: the message still opens. */
  assert_int_equal(tcpu_noise_peer_open(&w->pb, out, 96, w->buf, 64, w->now),
                   64);
  /* An invalid session does nothing. */
  tcpu_noise_session dead;
  memset(&dead, 0, sizeof dead);
  assert_int_equal(tcpu_seal(&dead, pt, 1, out, sizeof out, w->now),
                   TCPU_ERR_STATE);
  pair_del(w);
}

/* ============================================== tampering and replays */

static void test_seal_every_byte_flip_refused(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t msg[16 + 100 + 16], bad[sizeof msg];
  unsigned accepted = 0;
  establish(w);
  assert_int_equal(seal_from(w, &w->pa, 100, 9), 132);
  memcpy(msg, w->buf, 132);
  for (size_t i = 0; i < sizeof msg; i++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(bad, msg, sizeof bad);
      bad[i] ^= (uint8_t)(1u << bit);
      if (tcpu_noise_peer_open(&w->pb, bad, sizeof bad, w->out, sizeof w->out,
                               w->now) >= 0)
        accepted++;
    }
  /* Cut short or lengthened. */
  for (size_t len = 0; len < sizeof msg; len++)
    if (tcpu_noise_peer_open(&w->pb, msg, len, w->out, sizeof w->out,
                             w->now) >= 0)
      accepted++;
  memcpy(bad, msg, sizeof msg);
  uint8_t longer[sizeof msg + 1];
  memcpy(longer, msg, sizeof msg);
  longer[sizeof msg] = 0;
  if (tcpu_noise_peer_open(&w->pb, longer, sizeof longer, w->out,
                           sizeof w->out, w->now) >= 0)
    accepted++;
  assert_int_equal(accepted, 0);
  /* The window was not touched: the real one goes in, once. */
  assert_int_equal(tcpu_noise_peer_open(&w->pb, msg, sizeof msg, w->out,
                                        sizeof w->out, w->now),
                   100);
  assert_int_equal(tcpu_noise_peer_open(&w->pb, msg, sizeof msg, w->out,
                                        sizeof w->out, w->now),
                   TCPU_ERR_AGAIN);
  pair_del(w);
}

static void test_seal_recorded_messages_replayed_refused(void **state) {
  (void)state;
  pair *w = pair_new();
  enum { N = 200 };
  static uint8_t rec[N][16 + 40 + 16];
  size_t order[N];
  unsigned accepted = 0;
  establish(w);
  for (int i = 0; i < N; i++) {
    assert_int_equal(seal_from(w, &w->pa, 40, (uint8_t)i), 72);
    memcpy(rec[i], w->buf, 72);
    order[i] = (size_t)i;
  }
  /* Delivered out of order: all fresh, all in. */
  for (int i = N - 1; i > 0; i--) {
    size_t j = (size_t)(((unsigned)i * 2654435761u) % (unsigned)(i + 1));
    size_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (int i = 0; i < N; i++)
    assert_int_equal(tcpu_noise_peer_open(&w->pb, rec[order[i]], 72, w->out,
                                          sizeof w->out, w->now),
                     40);
  /* Every one of them again, in any order: none. */
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < N; i++)
      if (tcpu_noise_peer_open(&w->pb, rec[round ? order[i] : (size_t)i], 72,
                               w->out, sizeof w->out, w->now) >= 0)
        accepted++;
  assert_int_equal(accepted, 0);
  pair_del(w);
}

/* Reordering within the window is fine; beyond it, refused. */
static void test_seal_reordering_window(void **state) {
  (void)state;
  pair *w = pair_new();
  enum { N = W + 20 };
  uint8_t(*rec)[32] = malloc((size_t)N * 32);
  assert_non_null(rec);
  establish(w); /* counter 0 used by the keepalive */
  for (int i = 0; i < N; i++) {
    assert_int_equal(seal_from(w, &w->pa, 0, 0), 32);
    memcpy(rec[i], w->buf, 32);
  }
  /* Counters 1..N: the newest first. */
  assert_int_equal(tcpu_noise_peer_open(&w->pb, rec[N - 1], 32, w->out, 16,
                                        w->now),
                   0);
  int in = 0, out = 0;
  for (int i = 0; i < N - 1; i++) {
    if (tcpu_noise_peer_open(&w->pb, rec[i], 32, w->out, 16, w->now) == 0)
      in++;
    else
      out++;
  }
  /* Counter N is the top: counters N - W .. N - 1 are within reach. */
  assert_int_equal(in, W);
  assert_int_equal(out, N - 1 - W);
  free(rec);
  pair_del(w);
}

/* ================================== session rotation and confirmation */

/* A rekey: messages in flight under the old keys still open on both
 * sides, the new keys take over once confirmed, and the session two
 * generations back lets its index go. */
static void test_seal_rekey_cycle_keeps_in_flight_messages(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t old_ab[64], old_ba[64], m1[148], m2[92];
  tcpu_noise_peer *p;
  establish(w);
  uint32_t a_first = w->pa.cur.local_index, b_first = w->pb.cur.local_index;

  advance(w, S(120));
  /* A's keys are 120 s old: sending asks for a handshake. */
  assert_int_equal(seal_from(w, &w->pa, 10, 1), 42);
  memcpy(old_ab, w->buf, 42);
  assert_true(tcpu_noise_peer_get_expiry(&w->pa) == w->now);
  assert_int_equal(tcpu_noise_peer_handle_expiry(&w->pa, w->now),
                   TCPU_NOISE_ACT_INITIATE);
  assert_int_equal(seal_from(w, &w->pb, 10, 2), 42);
  memcpy(old_ba, w->buf, 42);
  /* B, the responder, never rekeys on time. */
  assert_true(w->pb.t_initiate == NONE);

  assert_int_equal(tcpu_noise_create_initiation(&w->pa, 0xa100, w->wall, m1,
                                                148, w->now),
                   148);
  assert_int_equal(tcpu_noise_consume_initiation(&w->b, m1, 148, lookup_b, w,
                                                 &p, w->now),
                   0);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 0xb100, m2, 92, w->now),
                   92);
  /* B keeps sending with the old session until confirmed. */
  assert_true(w->pb.cur.local_index == b_first && w->pb.next.valid);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 20, 3), 20);
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 92, w->now), 0);
  assert_true(w->pa.cur.local_index == 0xa100 &&
              w->pa.prev.local_index == a_first);
  /* B's old message, sent before, arrives now: prev opens it. */
  assert_int_equal(tcpu_noise_peer_open(&w->pa, old_ba, 42, w->out,
                                        sizeof w->out, w->now),
                   10);
  /* A's new-key data confirms B's next. */
  assert_int_equal(send_to(w, &w->pa, &w->pb, 30, 4), 30);
  assert_true(w->pb.cur.local_index == 0xb100 &&
              w->pb.prev.local_index == b_first && !w->pb.next.valid);
  /* A's old message arrives late: B's prev opens it. */
  assert_int_equal(tcpu_noise_peer_open(&w->pb, old_ab, 42, w->out,
                                        sizeof w->out, w->now),
                   10);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 30, 5), 30);
  assert_int_equal(dropped_n, 0);

  /* One more cycle: the first sessions go, and their indexes. */
  advance(w, S(120));
  assert_int_equal(seal_from(w, &w->pa, 1, 1), 33);
  assert_int_equal(tcpu_noise_peer_handle_expiry(&w->pa, w->now),
                   TCPU_NOISE_ACT_INITIATE);
  assert_int_equal(tcpu_noise_create_initiation(&w->pa, 0xa200, w->wall, m1,
                                                148, w->now),
                   148);
  assert_int_equal(tcpu_noise_consume_initiation(&w->b, m1, 148, lookup_b, w,
                                                 &p, w->now),
                   0);
  assert_int_equal(tcpu_noise_create_response(&w->pb, 0xb200, m2, 92, w->now),
                   92);
  assert_true(was_dropped(b_first)); /* B's prev made way */
  assert_int_equal(tcpu_noise_consume_response(&w->pa, m2, 92, w->now), 0);
  assert_true(was_dropped(a_first));
  assert_int_equal(tcpu_noise_peer_open(&w->pa, old_ba, 42, w->out,
                                        sizeof w->out, w->now),
                   TCPU_ERR_PROTO);
  assert_int_equal(send_to(w, &w->pa, &w->pb, 7, 7), 7);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 7, 7), 7);
  pair_del(w);
}

static tcpu_noise_peer *lookup_a(void *ctx, const uint8_t *pub) {
  pair *w = ctx;
  return memcmp(pub, w->pa.remote_static, 32) == 0 ? &w->pa : NULL;
}

/* Both sides initiate at once: each answers the other, neither response
 * finds its handshake any more, and the next round settles it. */
static void test_seal_simultaneous_initiations_settle(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t ia[148], ib[148], ra[92], rb[92];
  tcpu_noise_peer *p;
  assert_int_equal(tcpu_noise_create_initiation(&w->pa, 0xa1, w->wall, ia,
                                                148, w->now),
                   148);
  assert_int_equal(tcpu_noise_create_initiation(&w->pb, 0xb1, w->wall, ib,
                                                148, w->now),
                   148);
  assert_int_equal(tcpu_noise_consume_initiation(&w->b, ia, 148, lookup_b, w,
                                                 &p, w->now),
                   0);
  assert_int_equal(tcpu_noise_consume_initiation(&w->a, ib, 148, lookup_a, w,
                                                 &p, w->now),
                   0);
  assert_ptr_equal(p, &w->pa);
  assert_true(was_dropped(0xa1) && was_dropped(0xb1));
  assert_int_equal(tcpu_noise_create_response(&w->pb, 0xb2, rb, 92, w->now),
                   92);
  assert_int_equal(tcpu_noise_create_response(&w->pa, 0xa2, ra, 92, w->now),
                   92);
  assert_int_equal(tcpu_noise_consume_response(&w->pa, rb, 92, w->now),
                   TCPU_ERR_PROTO);
  assert_int_equal(tcpu_noise_consume_response(&w->pb, ra, 92, w->now),
                   TCPU_ERR_PROTO);
  /* Two unconfirmed sessions, nothing to send with. */
  assert_true(w->pa.next.valid && w->pb.next.valid);
  assert_int_equal(seal_from(w, &w->pa, 10, 1), TCPU_ERR_NOTCONN);
  tcpu_tstamp t = tcpu_noise_peer_get_expiry(&w->pa);
  assert_true(t == w->now + TCPU_NOISE_REKEY_TIMEOUT_NS);
  advance(w, t - w->now);
  assert_true(tcpu_noise_peer_handle_expiry(&w->pa, w->now) &
              TCPU_NOISE_ACT_INITIATE);
  handshake(w);
  /* A's new session is cur; B's crossed one made way for the new one. */
  assert_true(w->pa.cur.valid && w->pb.next.valid);
  assert_true(was_dropped(0xb2));
  assert_int_equal(send_to(w, &w->pa, &w->pb, 10, 1), 10);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 10, 2), 10);
  pair_del(w);
}

/* ========================================================== the limits */

static void test_seal_reject_after_time(void **state) {
  (void)state;
  pair *w = pair_new();
  establish(w);
  assert_int_equal(seal_from(w, &w->pb, 8, 1), 40);
  advance(w, S(180) - 1);
  assert_int_equal(seal_from(w, &w->pa, 8, 1), 40);
  assert_int_equal(tcpu_noise_peer_open(&w->pb, w->buf, 40, w->out,
                                        sizeof w->out, w->now),
                   8);
  advance(w, 1);
  /* 180 s: neither side seals nor opens under these keys. */
  assert_int_equal(tcpu_seal(&w->pa.cur, w->out, 8, w->buf, sizeof w->buf,
                             w->now),
                   TCPU_ERR_STATE);
  assert_int_equal(seal_from(w, &w->pa, 8, 1), TCPU_ERR_NOTCONN);
  /* B's session was born a little later (it waited for confirmation):
   * what it still sends, A can no longer open. */
  w->pb.cur.birth += 1;
  assert_int_equal(seal_from(w, &w->pb, 8, 1), 40);
  assert_int_equal(tcpu_noise_peer_open(&w->pa, w->buf, 40, w->out,
                                        sizeof w->out, w->now),
                   TCPU_ERR_STATE);
  /* A wants a new handshake. */
  assert_true(tcpu_noise_peer_get_expiry(&w->pa) <= w->now);
  assert_true(tcpu_noise_peer_handle_expiry(&w->pa, w->now) &
              TCPU_NOISE_ACT_INITIATE);
  pair_del(w);
}

static void test_seal_reject_after_messages(void **state) {
  (void)state;
  pair *w = pair_new();
  const uint64_t rej = TCPU_NOISE_REJECT_AFTER_MESSAGES;
  establish(w);
  w->pa.cur.send_counter = rej - 1;
  assert_int_equal(seal_from(w, &w->pa, 8, 1), 40);
  assert_int_equal(tcpu_noise_peer_open(&w->pb, w->buf, 40, w->out,
                                        sizeof w->out, w->now),
                   8);
  assert_int_equal(tcpu_seal(&w->pa.cur, w->out, 8, w->buf, sizeof w->buf,
                             w->now),
                   TCPU_ERR_STATE);
  assert_int_equal(seal_from(w, &w->pa, 8, 1), TCPU_ERR_NOTCONN);
  /* A receiver refuses the counter even when it authenticates. */
  tcpu_noise_session forged = w->pa.cur;
  forged.send_counter = rej;
  forged.birth = w->now;
  uint8_t hdr_pt[8] = {0};
  forged.valid = 1;
  /* tcpu_seal itself refuses to use it... */
  assert_int_equal(tcpu_seal(&forged, hdr_pt, 8, w->buf, sizeof w->buf,
                             w->now),
                   TCPU_ERR_STATE);
  /* ...so build it by hand. */
  uint8_t msg[40] = {4, 0, 0, 0};
  tcpu_noise_put_le32(msg + 4, forged.remote_index);
  tcpu_noise_put_le64(msg + 8, rej);
  assert_int_equal(tcpu_noise_aead_encrypt(TCPU_NOISE_CHACHAPOLY,
                                           forged.send_key, rej, msg, 16,
                                           hdr_pt, 8, msg + 16),
                   0);
  assert_int_equal(tcpu_noise_peer_open(&w->pb, msg, 40, w->out,
                                        sizeof w->out, w->now),
                   TCPU_ERR_PROTO);
  tcpu_noise_session_wipe(&forged);
  pair_del(w);
}

static void test_seal_rekey_after_messages(void **state) {
  (void)state;
  pair *w = pair_new();
  establish(w);
  /* 2^60 messages sent (counters 0 .. 2^60 - 1): not yet. */
  w->pa.cur.send_counter = TCPU_NOISE_REKEY_AFTER_MESSAGES - 1;
  assert_int_equal(seal_from(w, &w->pa, 8, 1), 40);
  assert_true(w->pa.t_initiate == NONE);
  /* Past them, as WireGuard counts: a handshake is wanted, no sooner
   * than REKEY_TIMEOUT after the last one. */
  assert_int_equal(seal_from(w, &w->pa, 8, 1), 40);
  assert_true(w->pa.t_initiate ==
              w->pa.last_sent_handshake + TCPU_NOISE_REKEY_TIMEOUT_NS);
  w->pa.t_initiate = NONE;
  advance(w, S(6));
  assert_int_equal(seal_from(w, &w->pa, 8, 1), 40);
  assert_true(w->pa.t_initiate == w->now);
  /* The responder's counters never ask. */
  w->pb.cur.send_counter = TCPU_NOISE_REKEY_AFTER_MESSAGES + 5;
  assert_int_equal(seal_from(w, &w->pb, 8, 1), 40);
  assert_true(w->pb.t_initiate == NONE);
  pair_del(w);
}

/* The initiator's keys at 120 s: sending asks for a handshake; the
 * responder's never do. */
static void test_seal_rekey_after_time_initiator_only(void **state) {
  (void)state;
  pair *w = pair_new();
  establish(w);
  advance(w, S(120) - 1);
  assert_int_equal(send_to(w, &w->pa, &w->pb, 8, 1), 8);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 8, 1), 8);
  assert_true(w->pa.t_initiate == NONE && w->pb.t_initiate == NONE);
  advance(w, 1);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 8, 1), 8);
  assert_true(w->pb.t_initiate == NONE && w->pa.t_initiate == NONE);
  assert_int_equal(send_to(w, &w->pa, &w->pb, 8, 1), 8);
  assert_true(w->pa.t_initiate == w->now && w->pb.t_initiate == NONE);
  pair_del(w);
}

/* Receiving under keys REJECT - KEEPALIVE - REKEY_TIMEOUT = 165 s old,
 * the initiator asks for a handshake, once. */
static void test_seal_receive_side_rekey_at_165_s(void **state) {
  (void)state;
  pair *w = pair_new();
  establish(w);
  advance(w, S(165) - 1);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 8, 1), 8);
  assert_true(w->pa.t_initiate == NONE);
  advance(w, 1);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 8, 1), 8);
  assert_true(w->pa.t_initiate == w->now);
  assert_true(w->pa.sent_lastminute_handshake);
  w->pa.t_initiate = NONE;
  assert_int_equal(send_to(w, &w->pb, &w->pa, 8, 1), 8);
  assert_true(w->pa.t_initiate == NONE);
  pair_del(w);
}

/* ========================================================== the timers */

/* Data one way only: the receiver owes a keepalive 10 s after the first
 * unanswered message, and sending anything cancels it. */
static void test_seal_keepalive_due_after_10_s_one_way(void **state) {
  (void)state;
  pair *w = pair_new();
  establish(w);
  tcpu_tstamp first = w->now;
  assert_true(w->pb.t_send_keepalive == NONE);
  for (int i = 0; i < 9; i++) {
    assert_int_equal(send_to(w, &w->pa, &w->pb, 100, (uint8_t)i), 100);
    advance(w, S(1));
  }
  assert_true(tcpu_noise_peer_get_expiry(&w->pb) == first + S(10));
  assert_int_equal(tcpu_noise_peer_handle_expiry(&w->pb, w->now), 0);
  w->now = first + S(10);
  assert_int_equal(tcpu_noise_peer_handle_expiry(&w->pb, w->now),
                   TCPU_NOISE_ACT_KEEPALIVE);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 0, 0), 0);
  /* A heard back: no new handshake on its side. */
  assert_true(w->pa.t_new_handshake == NONE);
  /* Data B sends itself counts as the answer. */
  assert_int_equal(send_to(w, &w->pa, &w->pb, 100, 1), 100);
  assert_true(w->pb.t_send_keepalive == w->now + S(10));
  assert_int_equal(send_to(w, &w->pb, &w->pa, 50, 1), 50);
  assert_true(w->pb.t_send_keepalive == NONE);
  /* A keepalive received does not call for one back. */
  assert_int_equal(send_to(w, &w->pa, &w->pb, 0, 0), 0);
  assert_true(w->pb.t_send_keepalive == NONE);
  pair_del(w);
}

/* Data sent and nothing heard for 15 s (+ jitter): a new handshake. */
static void test_seal_new_handshake_after_15_s_silence(void **state) {
  (void)state;
  pair *w = pair_new();
  establish(w);
  tcpu_tstamp sent = w->now;
  assert_int_equal(seal_from(w, &w->pa, 100, 1), 132);
  tcpu_tstamp due = w->pa.t_new_handshake;
  assert_true(due >= sent + S(15) &&
              due < sent + S(15) + TCPU_NOISE_REKEY_TIMEOUT_JITTER_NS);
  /* More data does not push it back. */
  advance(w, S(3));
  assert_int_equal(seal_from(w, &w->pa, 100, 1), 132);
  assert_true(w->pa.t_new_handshake == due);
  assert_true(tcpu_noise_peer_get_expiry(&w->pa) == due);
  assert_int_equal(tcpu_noise_peer_handle_expiry(&w->pa, due),
                   TCPU_NOISE_ACT_INITIATE);
  /* Something heard (a keepalive) would have cancelled it. */
  assert_int_equal(seal_from(w, &w->pa, 100, 1), 132);
  assert_true(w->pa.t_new_handshake != NONE);
  assert_int_equal(send_to(w, &w->pb, &w->pa, 0, 0), 0);
  assert_true(w->pa.t_new_handshake == NONE);
  pair_del(w);
}

/* No response: the initiation goes again every REKEY_TIMEOUT (+ jitter),
 * 20 in all, then the peer gives up and its remains are wiped later. */
static void test_seal_handshake_retransmit_then_give_up(void **state) {
  (void)state;
  pair *w = pair_new();
  uint8_t m1[148];
  int sent = 0;
  unsigned act = 0;
  /* Data waits for keys: it asks for a handshake at once. */
  assert_int_equal(seal_from(w, &w->pa, 10, 1), TCPU_ERR_NOTCONN);
  assert_true(tcpu_noise_peer_get_expiry(&w->pa) == w->now);
  tcpu_tstamp start = w->now;
  for (;;) {
    tcpu_tstamp t = tcpu_noise_peer_get_expiry(&w->pa);
    assert_true(t != NONE);
    if (sent > 0) {
      assert_true(t >= w->now + TCPU_NOISE_REKEY_TIMEOUT_NS);
      assert_true(t < w->now + TCPU_NOISE_REKEY_TIMEOUT_NS +
                          TCPU_NOISE_REKEY_TIMEOUT_JITTER_NS);
    }
    w->wall += t - w->now;
    w->now = t;
    act = tcpu_noise_peer_handle_expiry(&w->pa, w->now);
    if (act != TCPU_NOISE_ACT_INITIATE)
      break;
    assert_int_equal(tcpu_noise_create_initiation(&w->pa, w->index++, w->wall,
                                                  m1, 148, w->now),
                     148);
    sent++;
    /* More data meanwhile asks for nothing new: one is on its way. */
    assert_int_equal(seal_from(w, &w->pa, 10, 1), TCPU_ERR_NOTCONN);
    assert_true(w->pa.t_initiate == NONE);
  }
  assert_int_equal(act, TCPU_NOISE_ACT_GAVE_UP);
  assert_int_equal(sent, 1 + TCPU_NOISE_MAX_TIMER_HANDSHAKES + 1);
  assert_true(w->now - start >= 19 * TCPU_NOISE_REKEY_TIMEOUT_NS);
  /* Each replaced handshake let its index go. */
  assert_int_equal(dropped_n, sent - 1);
  /* What is left is wiped 540 s later. */
  assert_true(tcpu_noise_peer_get_expiry(&w->pa) ==
              w->now + 3 * TCPU_NOISE_REJECT_AFTER_TIME_NS);
  w->now += 3 * TCPU_NOISE_REJECT_AFTER_TIME_NS;
  assert_int_equal(tcpu_noise_peer_handle_expiry(&w->pa, w->now),
                   TCPU_NOISE_ACT_ZEROED);
  assert_int_equal(w->pa.hs_state, TCPU_NOISE_HS_ZEROED);
  assert_int_equal(dropped_n, sent);
  assert_true(tcpu_noise_peer_get_expiry(&w->pa) == NONE);
  /* New data starts over, with a fresh count. */
  assert_int_equal(seal_from(w, &w->pa, 10, 1), TCPU_ERR_NOTCONN);
  assert_int_equal(tcpu_noise_peer_handle_expiry(&w->pa, w->now),
                   TCPU_NOISE_ACT_INITIATE);
  assert_int_equal(tcpu_noise_create_initiation(&w->pa, w->index++, w->wall,
                                                m1, 148, w->now),
                   148);
  assert_int_equal(w->pa.handshake_attempts, 0);
  pair_del(w);
}

/* A response stops the retransmissions. */
static void test_seal_response_stops_retransmission(void **state) {
  (void)state;
  pair *w = pair_new();
  handshake(w);
  assert_true(w->pa.t_retransmit_handshake == NONE);
  assert_int_equal(w->pa.handshake_attempts, 0);
  pair_del(w);
}

/* Keys derived and never renewed are wiped 540 s later, with their
 * indexes. */
static void test_seal_zero_key_material_after_540_s(void **state) {
  (void)state;
  pair *w = pair_new();
  establish(w);
  uint32_t ia = w->pa.cur.local_index, ib = w->pb.cur.local_index;
  tcpu_tstamp derived = w->now;
  w->now = derived + 3 * TCPU_NOISE_REJECT_AFTER_TIME_NS - 1;
  assert_false(tcpu_noise_peer_handle_expiry(&w->pb, w->now) &
               TCPU_NOISE_ACT_ZEROED);
  w->now += 1;
  assert_true(tcpu_noise_peer_handle_expiry(&w->pa, w->now) &
              TCPU_NOISE_ACT_ZEROED);
  assert_true(tcpu_noise_peer_handle_expiry(&w->pb, w->now) &
              TCPU_NOISE_ACT_ZEROED);
  assert_false(w->pa.cur.valid || w->pb.cur.valid);
  assert_true(was_dropped(ia) && was_dropped(ib));
  tcpu_noise_session zero;
  memset(&zero, 0, sizeof zero);
  assert_memory_equal(&w->pa.cur, &zero, sizeof zero);
  pair_del(w);
}

static void test_seal_persistent_keepalive(void **state) {
  (void)state;
  pair *w = pair_new();
  establish(w);
  tcpu_noise_peer_set_persistent_keepalive(&w->pa, S(25), w->now);
  assert_true(w->pa.t_persistent_keepalive == w->now + S(25));
  advance(w, S(10));
  assert_int_equal(send_to(w, &w->pb, &w->pa, 5, 1), 5); /* traffic */
  assert_true(w->pa.t_persistent_keepalive == w->now + S(25));
  advance(w, S(25));
  assert_true(tcpu_noise_peer_handle_expiry(&w->pa, w->now) &
              TCPU_NOISE_ACT_KEEPALIVE);
  assert_int_equal(send_to(w, &w->pa, &w->pb, 0, 0), 0);
  assert_true(w->pa.t_persistent_keepalive == w->now + S(25));
  tcpu_noise_peer_set_persistent_keepalive(&w->pa, 0, w->now);
  assert_true(w->pa.t_persistent_keepalive == NONE);
  pair_del(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seal_handshake_then_data_both_ways),
      cmocka_unit_test(test_seal_wire_layout),
      cmocka_unit_test(test_seal_in_place),
      cmocka_unit_test(test_seal_aesgcm_sessions),
      cmocka_unit_test(test_seal_short_buffers_and_bad_input),
      cmocka_unit_test(test_seal_every_byte_flip_refused),
      cmocka_unit_test(test_seal_recorded_messages_replayed_refused),
      cmocka_unit_test(test_seal_reordering_window),
      cmocka_unit_test(test_seal_rekey_cycle_keeps_in_flight_messages),
      cmocka_unit_test(test_seal_simultaneous_initiations_settle),
      cmocka_unit_test(test_seal_reject_after_time),
      cmocka_unit_test(test_seal_reject_after_messages),
      cmocka_unit_test(test_seal_rekey_after_messages),
      cmocka_unit_test(test_seal_rekey_after_time_initiator_only),
      cmocka_unit_test(test_seal_receive_side_rekey_at_165_s),
      cmocka_unit_test(test_seal_keepalive_due_after_10_s_one_way),
      cmocka_unit_test(test_seal_new_handshake_after_15_s_silence),
      cmocka_unit_test(test_seal_handshake_retransmit_then_give_up),
      cmocka_unit_test(test_seal_response_stops_retransmission),
      cmocka_unit_test(test_seal_zero_key_material_after_540_s),
      cmocka_unit_test(test_seal_persistent_keepalive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
