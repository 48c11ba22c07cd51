/*
 * fuzz_sealed.c — every sealed-mode parser (crypto/) against arbitrary
 * datagrams, with fixed identities: A (initiator) and B (responder).
 *
 * Setup (once, deterministic: fixed keys, a seeded random source, fixed
 * clocks) runs a handshake and keeps snapshots: B before any message, A
 * with its initiation out, B with a session waiting for confirmation, and
 * the valid messages of each type (the seed corpus, corpus/sealed/).  Each
 * input then goes, on fresh copies of those states, to:
 *   1. tcpu_noise_msg_type / _receiver_index, tcpu_cookie_validate (under
 *      load and not), tcpu_noise_consume_initiation (B),
 *      tcpu_noise_consume_response and tcpu_noise_consume_cookie (A),
 *      tcpu_noise_peer_open (B).  Nothing may be accepted unless it is the
 *      valid message itself, byte for byte where bytes are authenticated
 *      (mac2 means nothing outside load; the receiver index of a cookie
 *      reply only routes it);
 *   2. the same with mac1 recomputed, so that mutated Noise payloads reach
 *      the DH and AEAD code: still only the real Noise bytes pass;
 *   3. the bytes read as a list of counters, each sealed by A and opened
 *      by B: accepted exactly when a model of the replay window says so,
 *      with the plaintext intact.
 * Any disagreement aborts.
 *
 * The seeds are written by this file built with FUZZ_SEALED_WRITE_SEEDS:
 *   cc -DFUZZ_SEALED_WRITE_SEEDS -Ilibtcpu -Ilibtcpu/include \
 *      tests/fuzz/fuzz_sealed.c build/libtcpu/libtcpu.a -lsodium -lm \
 *      -o gen && ./gen tests/fuzz/corpus/sealed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/cookie.h"
#include "crypto/handshake.h"
#include "crypto/seal.h"
#include "crypto/session.h"
#include "fuzz.h"

#define T0 ((tcpu_tstamp)1000 * TCPU_NS_PER_S)
#define WALL (UINT64_C(1704067200) * TCPU_NS_PER_S)

static void check(int ok) {
  if (!ok)
    abort();
}

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

static struct {
  int ready;
  det_rng ra, rb;
  tcpu_noise_identity a, b;
  tcpu_cookie_checker b_cookies; /* B's checker as setup left it */
  tcpu_noise_peer a_sent;        /* A, initiation out */
  tcpu_noise_peer b_fresh;       /* B, nothing received */
  tcpu_noise_peer b_next;        /* B, response sent, next unconfirmed */
  tcpu_noise_peer a_cur;         /* A, session established */
  tcpu_noise_peer pa, pb;        /* scratch copies for one input */
  tcpu_addr src;
  uint8_t init[TCPU_NOISE_INITIATION_LEN];
  uint8_t resp[TCPU_NOISE_RESPONSE_LEN];
  uint8_t cookie[TCPU_NOISE_COOKIE_REPLY_LEN];
  uint8_t data[TCPU_NOISE_DATA_OVERHEAD + 24];
  uint8_t keepalive[TCPU_NOISE_DATA_OVERHEAD];
  uint8_t out[65536 + 64];
} g;

static const uint8_t payload[24] = "sealed mode fuzz payload";

static tcpu_noise_peer *lookup(void *ctx, const uint8_t *pub) {
  tcpu_noise_peer *p = ctx;
  return memcmp(pub, p->remote_static, 32) == 0 ? p : NULL;
}

static void setup(void) {
  uint8_t ka[32], kb[32], ip[4] = {192, 0, 2, 33};
  tcpu_noise_peer *p = NULL;

  memset(g.ra.seed, 0x5a, 32);
  memset(g.rb.seed, 0xa5, 32);
  memset(ka, 0x01, 32);
  memset(kb, 0x02, 32);
  tcpu_noise_rng rga = {det_fill, &g.ra}, rgb = {det_fill, &g.rb};
  check(tcpu_noise_identity_init(&g.a, ka, TCPU_NOISE_CHACHAPOLY, &rga) == 0);
  check(tcpu_noise_identity_init(&g.b, kb, TCPU_NOISE_CHACHAPOLY, &rgb) == 0);
  check(tcpu_noise_peer_init(&g.pa, &g.a, g.b.pub, NULL) == 0);
  check(tcpu_noise_peer_init(&g.pb, &g.b, g.a.pub, NULL) == 0);
  tcpu_addr_ipv4(&g.src, ip, 51820);

  g.b_fresh = g.pb;
  check(tcpu_noise_create_initiation(&g.pa, 0x11111111, WALL, g.init,
                                     sizeof g.init, T0) == sizeof g.init);
  g.a_sent = g.pa;
  /* Under load B answers with a cookie reply (its secret is born now). */
  check(tcpu_cookie_validate(&g.b.cookies, g.init, sizeof g.init, &g.src, 1,
                             T0) == TCPU_COOKIE_SEND_REPLY);
  check(tcpu_cookie_create_reply(&g.b.cookies, g.cookie, sizeof g.cookie,
                                 g.init, sizeof g.init, &g.src,
                                 T0) == sizeof g.cookie);
  g.b_cookies = g.b.cookies;
  check(tcpu_noise_consume_initiation(&g.b, g.init, sizeof g.init, lookup,
                                      &g.pb, &p, T0) == 0);
  check(tcpu_noise_create_response(&g.pb, 0x22222222, g.resp, sizeof g.resp,
                                   T0) == sizeof g.resp);
  g.b_next = g.pb;
  check(tcpu_noise_consume_response(&g.pa, g.resp, sizeof g.resp, T0) == 0);
  g.a_cur = g.pa;
  check(tcpu_noise_peer_seal(&g.pa, payload, sizeof payload, g.data,
                             sizeof g.data, T0) == sizeof g.data);
  check(tcpu_noise_peer_seal(&g.pa, NULL, 0, g.keepalive, sizeof g.keepalive,
                             T0) == sizeof g.keepalive);
  g.ready = 1;
}

/* ---- 1. the raw bytes */

static void raw(const uint8_t *d, size_t n) {
  tcpu_noise_peer *p = NULL;
  uint32_t idx;
  int type = tcpu_noise_msg_type(d, n);
  tcpu_ssize m;

  check(type >= 0 && type <= 4);
  if (type != 0)
    check(d[0] == type && !(d[1] | d[2] | d[3]));
  if (tcpu_noise_msg_receiver_index(d, n, &idx) == 0)
    check(type >= 2);

  for (int load = 0; load < 2; load++) {
    tcpu_cookie_checker cc = g.b_cookies;
    tcpu_cookie_verdict v = tcpu_cookie_validate(&cc, d, n, &g.src, load, T0);
    if (v != TCPU_COOKIE_DROP)
      check(n == sizeof g.init &&
            memcmp(d, g.init, TCPU_NOISE_INIT_MAC2_OFF) == 0);
    if (v == TCPU_COOKIE_ACCEPT && load)
      check(memcmp(d, g.init, n) == 0);
    if (v == TCPU_COOKIE_SEND_REPLY)
      check(tcpu_cookie_create_reply(&cc, g.out, sizeof g.out, d, n, &g.src,
                                     T0) == TCPU_NOISE_COOKIE_REPLY_LEN);
  }

  g.pb = g.b_fresh;
  if (tcpu_noise_consume_initiation(&g.b, d, n, lookup, &g.pb, &p,
                                    T0 + 1) == 0) {
    check(p == &g.pb && n == sizeof g.init &&
          memcmp(d, g.init, TCPU_NOISE_INIT_MAC2_OFF) == 0);
    check(tcpu_noise_create_response(&g.pb, 7, g.out, sizeof g.out, T0 + 1) ==
          TCPU_NOISE_RESPONSE_LEN);
  } else {
    check(g.pb.hs_state == TCPU_NOISE_HS_ZEROED);
  }

  g.pa = g.a_sent;
  if (tcpu_noise_consume_response(&g.pa, d, n, T0 + 1) == 0)
    check(n == sizeof g.resp &&
          memcmp(d, g.resp, TCPU_NOISE_RESP_MAC2_OFF) == 0 && g.pa.cur.valid);
  else
    check(g.pa.hs_state == TCPU_NOISE_HS_CREATED_INITIATION);

  g.pa = g.a_sent;
  if (tcpu_noise_consume_cookie(&g.pa, d, n, T0 + 1) == 0)
    check(n == sizeof g.cookie && memcmp(d, g.cookie, 4) == 0 &&
          memcmp(d + 8, g.cookie + 8, n - 8) == 0 && g.pa.cookie.have_cookie);

  g.pb = g.b_next;
  m = tcpu_noise_peer_open(&g.pb, d, n, g.out, sizeof g.out, T0 + 1);
  if (m >= 0) {
    check((n == sizeof g.data && memcmp(d, g.data, n) == 0 &&
           m == sizeof payload && memcmp(g.out, payload, sizeof payload) == 0) ||
          (n == sizeof g.keepalive && memcmp(d, g.keepalive, n) == 0 &&
           m == 0));
    check(g.pb.cur.valid && !g.pb.next.valid);
  }
}

/* ---- 2. mac1 made valid, so the Noise bytes are what gets tested */

static void with_mac1(const uint8_t *d, size_t n) {
  static uint8_t m[TCPU_NOISE_INITIATION_LEN];
  tcpu_noise_peer *p = NULL;

  if (n == sizeof g.init) {
    memcpy(m, d, n);
    m[0] = TCPU_NOISE_MSG_INITIATION;
    m[1] = m[2] = m[3] = 0;
    g.pa = g.a_sent; /* its maker MACs for B */
    tcpu_cookie_add_macs(&g.pa.cookie, m, n, T0);
    g.pb = g.b_fresh;
    if (tcpu_noise_consume_initiation(&g.b, m, n, lookup, &g.pb, &p,
                                      T0 + 1) == 0)
      check(memcmp(m + TCPU_NOISE_INIT_NOISE_OFF,
                   g.init + TCPU_NOISE_INIT_NOISE_OFF,
                   TCPU_NOISE_INIT_NOISE_LEN) == 0);
  }
  if (n == sizeof g.resp) {
    memcpy(m, d, n);
    m[0] = TCPU_NOISE_MSG_RESPONSE;
    m[1] = m[2] = m[3] = 0;
    /* Addressed to A's handshake, MACed as B would. */
    memcpy(m + TCPU_NOISE_RESP_RECEIVER_OFF,
           g.resp + TCPU_NOISE_RESP_RECEIVER_OFF, 4);
    g.pb = g.b_next;
    tcpu_cookie_add_macs(&g.pb.cookie, m, n, T0);
    g.pa = g.a_sent;
    if (tcpu_noise_consume_response(&g.pa, m, n, T0 + 1) == 0)
      check(memcmp(m + TCPU_NOISE_RESP_NOISE_OFF,
                   g.resp + TCPU_NOISE_RESP_NOISE_OFF,
                   TCPU_NOISE_RESP_NOISE_LEN) == 0);
  }
}

/* ---- 3. counters through seal and open, against a model window */

#define MAXC 256

static void counters(const uint8_t *d, size_t n) {
  static uint64_t seen[MAXC];
  size_t nseen = 0;
  uint64_t top = 0; /* highest accepted + 1 */
  uint64_t c = 0;
  uint8_t msg[TCPU_NOISE_DATA_OVERHEAD + 4], pt[4];

  g.pa = g.a_cur;
  g.pb = g.b_next;
  for (size_t i = 0; i + 4 <= n && nseen < MAXC; i += 4) {
    /* A signed step, scaled so both the window and its edges are hit. */
    int32_t step;
    memcpy(&step, d + i, 4);
    uint64_t mag = (uint64_t)(step < 0 ? -(int64_t)step : step);
    if (mag > 3 * TCPU_NOISE_REPLAY_WINDOW)
      mag = mag % (3 * TCPU_NOISE_REPLAY_WINDOW);
    c = step < 0 ? (c > mag ? c - mag : 0) : c + mag;

    g.pa.cur.send_counter = c;
    check(tcpu_noise_peer_seal(&g.pa, d + i, 4, msg, sizeof msg, T0) ==
          (tcpu_ssize)sizeof msg);
    tcpu_ssize m = tcpu_noise_peer_open(&g.pb, msg, sizeof msg, pt, sizeof pt,
                                        T0);
    int fresh = !(top > c + 1 && top - (c + 1) > TCPU_NOISE_REPLAY_WINDOW);
    for (size_t k = 0; fresh && k < nseen; k++)
      if (seen[k] == c)
        fresh = 0;
    check((m == 4) == fresh);
    if (m == 4) {
      check(memcmp(pt, d + i, 4) == 0);
      seen[nseen++] = c;
      if (c + 1 > top)
        top = c + 1;
    } else {
      check(m == TCPU_ERR_AGAIN); /* a replay */
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t ra, rb;

  if (size > 65535)
    return 0;
  if (!g.ready)
    setup();
  ra = g.ra.ctr;
  rb = g.rb.ctr;
  raw(data, size);
  with_mac1(data, size);
  counters(data, size);
  g.ra.ctr = ra; /* every input sees the same randomness */
  g.rb.ctr = rb;
  return 0;
}

#ifdef FUZZ_SEALED_WRITE_SEEDS
static int write_seed(const char *dir, const char *name, const uint8_t *p,
                      size_t n) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(p, 1, n, f) != n) {
    perror(path);
    return 1;
  }
  return fclose(f) != 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  setup();
  return write_seed(argv[1], "initiation", g.init, sizeof g.init) |
         write_seed(argv[1], "response", g.resp, sizeof g.resp) |
         write_seed(argv[1], "cookie_reply", g.cookie, sizeof g.cookie) |
         write_seed(argv[1], "transport", g.data, sizeof g.data) |
         write_seed(argv[1], "keepalive", g.keepalive, sizeof g.keepalive);
}
#endif
