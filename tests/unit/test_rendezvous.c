/*
 * test_rendezvous.c — libtcpu/nat/: the rendezvous wire format
 * (rendezvous.c) and the server's table and answers (rdv_server.c).
 *
 * The codec: every type round-trips to the same bytes; the requests'
 * fixed lengths cover the replies they cause (anti-amplification); a
 * table of malformed datagrams, each derived from a valid one by one
 * change, is refused; a message never passes for tunnel traffic (the
 * segment codec refuses it).  The server: registration, expiry and
 * refresh, lookups and pushes, the looker check, rate limits and a full
 * table, all in injected time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/seg.h"
#include "nat/rdv_server.h"
#include "nat/rendezvous.h"

#define S TCPU_NS_PER_S
#define MS TCPU_NS_PER_MS

/* ---------------------------------------------------------- fixtures */

static tcpu_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                    uint16_t port) {
  tcpu_addr x;
  const uint8_t ip[4] = {a, b, c, d};

  memset(&x, 0, sizeof(x));
  tcpu_addr_ipv4(&x, ip, port);
  return x;
}

static tcpu_addr v6(uint8_t last, uint16_t port) {
  tcpu_addr x;

  memset(&x, 0, sizeof(x));
  x.family = TCPU_AF_INET6;
  x.ip[0] = 0x20;
  x.ip[1] = 0x01;
  x.ip[2] = 0x0d;
  x.ip[3] = 0xb8;
  x.ip[15] = last;
  x.port = port;
  return x;
}

static tcpu_rdv_name name(const char *s) {
  tcpu_rdv_name n;

  assert_int_equal(tcpu_rdv_name_set(&n, s), 0);
  return n;
}

static tcpu_rdv_msg msg_register(uint64_t txid, const char *self) {
  tcpu_rdv_msg m;

  memset(&m, 0, sizeof(m));
  m.type = TCPU_RDV_REGISTER;
  m.txid = txid;
  m.name = name(self);
  return m;
}

static tcpu_rdv_msg msg_lookup(uint64_t txid, const char *self,
                               const char *peer) {
  tcpu_rdv_msg m = msg_register(txid, self);

  m.type = TCPU_RDV_LOOKUP;
  m.peer = name(peer);
  return m;
}

static size_t enc(const tcpu_rdv_msg *m, uint8_t *buf) {
  tcpu_ssize n = tcpu_rdv_encode(m, buf, TCPU_RDV_MAX_LEN);

  assert_true(n > 0);
  return (size_t)n;
}

/* Deterministic randomness for the server's keys. */
static void fake_rng(void *ctx, void *buf, size_t len) {
  (void)ctx;
  for (size_t i = 0; i < len; i++)
    ((uint8_t *)buf)[i] = (uint8_t)(i * 37 + 11);
}
static const tcpu_noise_rng rng = {fake_rng, NULL};

/* ------------------------------------------------------------- codec */

static void check_same(const tcpu_rdv_msg *a, const tcpu_rdv_msg *b) {
  assert_int_equal(a->type, b->type);
  assert_true(a->txid == b->txid);
  assert_true(tcpu_rdv_name_equal(&a->name, &b->name));
  assert_true(tcpu_rdv_name_equal(&a->peer, &b->peer));
  assert_true(tcpu_addr_equal(&a->addr, &b->addr));
}

/* encode -> decode -> encode gives the same message and the same bytes. */
static void round_trip(const tcpu_rdv_msg *m, size_t want_len) {
  uint8_t a[TCPU_RDV_MAX_LEN], b[TCPU_RDV_MAX_LEN];
  tcpu_rdv_msg d;
  size_t n = enc(m, a);

  assert_int_equal(n, want_len);
  assert_int_equal(tcpu_rdv_encoded_len(m), want_len);
  assert_true(tcpu_rdv_is_message(a, n));
  assert_int_equal(tcpu_rdv_decode(&d, a, n), 0);
  check_same(m, &d);
  assert_int_equal(enc(&d, b), n);
  assert_memory_equal(a, b, n);
  /* One byte short of room. */
  assert_int_equal(tcpu_rdv_encode(m, a, n - 1), TCPU_ERR_NOBUF);
}

static void test_rendezvous_round_trip_every_type(void **state) {
  tcpu_rdv_msg m;
  char longest[TCPU_RDV_NAME_MAX + 1];

  (void)state;
  memset(longest, '~', TCPU_RDV_NAME_MAX);
  longest[TCPU_RDV_NAME_MAX] = 0;

  m = msg_register(0x0102030405060708ull, "alice");
  round_trip(&m, TCPU_RDV_REGISTER_LEN);
  m = msg_register(1, longest);
  round_trip(&m, TCPU_RDV_REGISTER_LEN);
  m = msg_lookup(UINT64_MAX, "alice", "bob");
  round_trip(&m, TCPU_RDV_LOOKUP_LEN);
  m = msg_lookup(7, longest, longest);
  round_trip(&m, TCPU_RDV_LOOKUP_LEN);

  memset(&m, 0, sizeof(m));
  m.type = TCPU_RDV_OBSERVED;
  m.txid = 42;
  m.addr = v4(192, 0, 2, 1, 7000);
  round_trip(&m, TCPU_RDV_OBSERVED_LEN);
  m.addr = v6(9, 65535);
  round_trip(&m, TCPU_RDV_OBSERVED_LEN);

  memset(&m, 0, sizeof(m));
  m.type = TCPU_RDV_PEER;
  m.txid = 0; /* pushed */
  m.name = name("b");
  m.addr = v4(198, 51, 100, 7, 1);
  round_trip(&m, TCPU_RDV_HDR_LEN + 1 + 1 + TCPU_RDV_ADDR_LEN);
  m.txid = 99;
  m.name = name(longest);
  m.addr = v6(1, 4000);
  round_trip(&m, TCPU_RDV_PEER_MAX);

  memset(&m, 0, sizeof(m));
  m.type = TCPU_RDV_NOT_FOUND;
  m.txid = 5;
  round_trip(&m, TCPU_RDV_NOT_FOUND_LEN);
}

/* The header as rendezvous.h draws it, byte for byte. */
static void test_rendezvous_header_layout(void **state) {
  uint8_t b[TCPU_RDV_MAX_LEN];
  tcpu_rdv_msg m = msg_register(0x1122334455667788ull, "xy");
  static const uint8_t want[] = {'t', 'c', 'p', 'u', 'r', 'd', 'v', '1',
                                 1,   0,   0,   0,   0,   0,   0,   0,
                                 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                 0x88, 2,  'x', 'y'};

  (void)state;
  assert_int_equal(enc(&m, b), TCPU_RDV_REGISTER_LEN);
  assert_memory_equal(b, want, sizeof(want));
  for (size_t i = sizeof(want); i < TCPU_RDV_REGISTER_LEN; i++)
    assert_int_equal(b[i], 0);
}

/* Requests are longer than everything they cause (rendezvous.h). */
static void test_rendezvous_requests_outweigh_replies(void **state) {
  (void)state;
  assert_true(TCPU_RDV_REGISTER_LEN >= TCPU_RDV_OBSERVED_LEN);
  assert_true(TCPU_RDV_LOOKUP_LEN >= 2 * TCPU_RDV_PEER_MAX);
  assert_true(TCPU_RDV_LOOKUP_LEN >= TCPU_RDV_NOT_FOUND_LEN);
  /* And long enough to hold their longest content. */
  assert_true(TCPU_RDV_REGISTER_LEN >= TCPU_RDV_HDR_LEN + 1 +
                                           TCPU_RDV_NAME_MAX);
  assert_true(TCPU_RDV_LOOKUP_LEN >= TCPU_RDV_HDR_LEN + 2 +
                                         2 * TCPU_RDV_NAME_MAX);
}

/* A rendezvous message on the tunnel's socket is no TCP segment (data
 * offset 0, RFC 9293 §3.1) and no sealed-mode message (type 1..4). */
static void test_rendezvous_never_tunnel_traffic(void **state) {
  uint8_t b[TCPU_RDV_MAX_LEN];
  tcpu_rdv_msg m = msg_lookup(3, "a", "b");
  tcpu_seg seg;
  size_t n = enc(&m, b);

  (void)state;
  assert_int_equal(b[12] >> 4, 0);
  assert_int_equal(tcpu_seg_decode(&seg, b, n, 0), TCPU_SEG_BAD_OFFSET);
  assert_true(b[0] < 1 || b[0] > 4);
}

static void test_rendezvous_recognizer(void **state) {
  uint8_t b[TCPU_RDV_MAX_LEN];
  tcpu_rdv_msg m = msg_register(3, "a");
  size_t n = enc(&m, b);

  (void)state;
  assert_true(tcpu_rdv_is_message(b, n));
  assert_true(tcpu_rdv_is_message(b, TCPU_RDV_HDR_LEN));
  assert_false(tcpu_rdv_is_message(b, TCPU_RDV_HDR_LEN - 1));
  assert_false(tcpu_rdv_is_message(NULL, 100));
  for (int i = 0; i < TCPU_RDV_MAGIC_LEN; i++) {
    b[i] ^= 0x20;
    assert_false(tcpu_rdv_is_message(b, n));
    b[i] ^= 0x20;
  }
}

static void test_rendezvous_names(void **state) {
  tcpu_rdv_name n;
  char s[TCPU_RDV_NAME_MAX + 2];

  (void)state;
  assert_int_equal(tcpu_rdv_name_set(&n, "!~"), 0);
  assert_int_equal(n.len, 2);
  assert_int_equal(tcpu_rdv_name_set(&n, ""), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_rdv_name_set(&n, "a b"), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_rdv_name_set(&n, "tab\there"), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_rdv_name_set(&n, "del\x7f"), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_rdv_name_set(&n, "h\xc3\xa9"), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_rdv_name_set(NULL, "a"), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_rdv_name_set(&n, NULL), TCPU_ERR_INVAL);
  memset(s, 'k', sizeof(s));
  s[TCPU_RDV_NAME_MAX] = 0;
  assert_int_equal(tcpu_rdv_name_set(&n, s), 0);
  s[TCPU_RDV_NAME_MAX] = 'k';
  s[TCPU_RDV_NAME_MAX + 1] = 0;
  assert_int_equal(tcpu_rdv_name_set(&n, s), TCPU_ERR_INVAL);
  /* A base64 X25519 key, as sealed mode names peers. */
  assert_int_equal(
      tcpu_rdv_name_set(&n, "q+7hJz0o7gVfV8YlGyQ0k6m4pYx0Zr1b3cK2uW9sPxM="), 0);
}

static void test_rendezvous_encode_refuses_invalid(void **state) {
  uint8_t b[TCPU_RDV_MAX_LEN];
  tcpu_rdv_msg m;

  (void)state;
  m = msg_register(0, "a"); /* requests need a txid */
  assert_int_equal(tcpu_rdv_encode(&m, b, sizeof(b)), TCPU_ERR_INVAL);
  m = msg_lookup(0, "a", "b");
  assert_int_equal(tcpu_rdv_encode(&m, b, sizeof(b)), TCPU_ERR_INVAL);
  m = msg_register(1, "a");
  m.name.len = 0;
  assert_int_equal(tcpu_rdv_encode(&m, b, sizeof(b)), TCPU_ERR_INVAL);
  m = msg_lookup(1, "a", "b");
  m.peer.s[0] = ' ';
  assert_int_equal(tcpu_rdv_encode(&m, b, sizeof(b)), TCPU_ERR_INVAL);
  memset(&m, 0, sizeof(m));
  m.type = TCPU_RDV_OBSERVED;
  m.addr = v4(1, 2, 3, 4, 0); /* port 0 */
  assert_int_equal(tcpu_rdv_encode(&m, b, sizeof(b)), TCPU_ERR_INVAL);
  m.addr = v4(1, 2, 3, 4, 5);
  m.addr.ip[7] = 1; /* IPv4 with stray bytes */
  assert_int_equal(tcpu_rdv_encode(&m, b, sizeof(b)), TCPU_ERR_INVAL);
  m.addr.family = TCPU_AF_PEER;
  assert_int_equal(tcpu_rdv_encode(&m, b, sizeof(b)), TCPU_ERR_INVAL);
  m.type = (tcpu_rdv_type)6;
  assert_int_equal(tcpu_rdv_encode(&m, b, sizeof(b)), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_rdv_encode(NULL, b, sizeof(b)), TCPU_ERR_INVAL);
  m = msg_register(1, "a");
  assert_int_equal(tcpu_rdv_encode(&m, NULL, 0), TCPU_ERR_INVAL);
}

/* Malformed input, one change to a valid message per row.  Offsets: 24
 * is the first body byte. */
typedef struct bad_row {
  int line;
  uint8_t type;      /* which valid message to start from */
  int len_delta;     /* added to the valid length */
  int off, val;      /* b[off] = val when off >= 0 */
} bad_row;

#define BAD(t, d, o, v) {__LINE__, (t), (d), (o), (v)}

static const bad_row bad_rows[] = {
    /* header */
    BAD(TCPU_RDV_REGISTER, 0, 0, 'T'),  /* magic */
    BAD(TCPU_RDV_REGISTER, 0, 7, '2'),  /* magic: another version */
    BAD(TCPU_RDV_REGISTER, 0, 8, 0),    /* type 0 */
    BAD(TCPU_RDV_REGISTER, 0, 8, 6),    /* type 6 */
    BAD(TCPU_RDV_REGISTER, 0, 8, 255),  /* type 255 */
    BAD(TCPU_RDV_REGISTER, 0, 9, 1),    /* reserved */
    BAD(TCPU_RDV_REGISTER, 0, 12, 0x50), /* reserved: a TCP data offset */
    BAD(TCPU_RDV_REGISTER, 0, 15, 0x80), /* reserved */
    /* REGISTER: "alice" at 24..29 */
    BAD(TCPU_RDV_REGISTER, -1, -1, 0),  /* short */
    BAD(TCPU_RDV_REGISTER, 1, -1, 0),   /* long */
    BAD(TCPU_RDV_REGISTER, -104, -1, 0), /* header only */
    BAD(TCPU_RDV_REGISTER, 0, 24, 0),   /* name length 0 */
    BAD(TCPU_RDV_REGISTER, 0, 24, 65),  /* name too long */
    BAD(TCPU_RDV_REGISTER, 0, 24, 200), /* name past the end */
    BAD(TCPU_RDV_REGISTER, 0, 24, 6),   /* name takes a padding zero */
    BAD(TCPU_RDV_REGISTER, 0, 25, ' '), /* space */
    BAD(TCPU_RDV_REGISTER, 0, 27, 0),   /* NUL */
    BAD(TCPU_RDV_REGISTER, 0, 29, 0x7f), /* DEL */
    BAD(TCPU_RDV_REGISTER, 0, 29, 0xe9), /* not ASCII */
    BAD(TCPU_RDV_REGISTER, 0, 30, 1),   /* padding */
    BAD(TCPU_RDV_REGISTER, 0, 127, 1),  /* padding, last byte */
    BAD(TCPU_RDV_REGISTER, 0, 16, 0),   /* txid 0: all its bytes cleared */
    /* LOOKUP: "alice" at 24..29, "bob" at 30..33 */
    BAD(TCPU_RDV_LOOKUP, -1, -1, 0),
    BAD(TCPU_RDV_LOOKUP, 1, -1, 0),
    BAD(TCPU_RDV_LOOKUP, -128, -1, 0),  /* a REGISTER's length */
    BAD(TCPU_RDV_LOOKUP, 0, 30, 0),     /* peer name length 0 */
    BAD(TCPU_RDV_LOOKUP, 0, 30, 65),
    BAD(TCPU_RDV_LOOKUP, 0, 30, 250),   /* past the end */
    BAD(TCPU_RDV_LOOKUP, 0, 32, ' '),
    BAD(TCPU_RDV_LOOKUP, 0, 34, 'x'),   /* padding */
    BAD(TCPU_RDV_LOOKUP, 0, 255, 1),
    /* OBSERVED: 192.0.2.1:7000 at 24..42 */
    BAD(TCPU_RDV_OBSERVED, -1, -1, 0),
    BAD(TCPU_RDV_OBSERVED, 1, -1, 0),
    BAD(TCPU_RDV_OBSERVED, 0, 24, 0),   /* family 0 */
    BAD(TCPU_RDV_OBSERVED, 0, 24, 5),
    BAD(TCPU_RDV_OBSERVED, 0, 24, TCPU_AF_PEER),
    BAD(TCPU_RDV_OBSERVED, 0, 26, 0),   /* port 80 -> 0 */
    BAD(TCPU_RDV_OBSERVED, 0, 31, 1),   /* IPv4 stray byte */
    BAD(TCPU_RDV_OBSERVED, 0, 42, 1),   /* IPv4 stray last byte */
    /* PEER: "bob" at 24..27, address at 28..46 */
    BAD(TCPU_RDV_PEER, -1, -1, 0),
    BAD(TCPU_RDV_PEER, 1, -1, 0),
    BAD(TCPU_RDV_PEER, 0, 24, 4),       /* name swallows the family */
    BAD(TCPU_RDV_PEER, 0, 24, 2),       /* name leaves a byte over */
    BAD(TCPU_RDV_PEER, 0, 24, 0),
    BAD(TCPU_RDV_PEER, 0, 26, ' '),
    BAD(TCPU_RDV_PEER, 0, 28, 7),       /* family */
    BAD(TCPU_RDV_PEER, -19, -1, 0),     /* no address */
    /* NOT_FOUND */
    BAD(TCPU_RDV_NOT_FOUND, 1, -1, 0),
    BAD(TCPU_RDV_NOT_FOUND, -1, -1, 0),
    BAD(TCPU_RDV_NOT_FOUND, 0, 9, 1),
};

static size_t valid_of(uint8_t type, uint8_t *b) {
  tcpu_rdv_msg m;

  memset(&m, 0, sizeof(m));
  switch (type) {
  case TCPU_RDV_REGISTER: m = msg_register(0x55, "alice"); break;
  case TCPU_RDV_LOOKUP: m = msg_lookup(0x66, "alice", "bob"); break;
  case TCPU_RDV_OBSERVED:
    m.type = TCPU_RDV_OBSERVED;
    m.txid = 1;
    m.addr = v4(192, 0, 2, 1, 80);
    break;
  case TCPU_RDV_PEER:
    m.type = TCPU_RDV_PEER;
    m.name = name("bob");
    m.addr = v4(192, 0, 2, 1, 7000);
    break;
  default:
    m.type = TCPU_RDV_NOT_FOUND;
    break;
  }
  memset(b, 0, TCPU_RDV_MAX_LEN + 1);
  return enc(&m, b);
}

static void test_rendezvous_decode_table_malformed(void **state) {
  uint8_t b[TCPU_RDV_MAX_LEN + 1];
  tcpu_rdv_msg m;

  (void)state;
  for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
    const bad_row *r = &bad_rows[i];
    size_t n = valid_of(r->type, b);

    assert_int_equal(tcpu_rdv_decode(&m, b, n), 0);
    n = (size_t)((int)n + r->len_delta);
    if (r->off >= 0)
      b[r->off] = (uint8_t)r->val;
    if (r->off == 16) /* the whole txid */
      memset(b + 16, 0, 8);
    if (tcpu_rdv_decode(&m, b, n) != TCPU_ERR_PROTO)
      fail_msg("row at line %d accepted", r->line);
  }
}

/* Every truncation of every valid message and every nonzero byte where
 * zeros belong is refused; no out-of-range read (ASan/valgrind watch). */
static void test_rendezvous_decode_truncations_and_zeros(void **state) {
  static const uint8_t types[] = {TCPU_RDV_REGISTER, TCPU_RDV_LOOKUP,
                                  TCPU_RDV_OBSERVED, TCPU_RDV_PEER,
                                  TCPU_RDV_NOT_FOUND};
  uint8_t b[TCPU_RDV_MAX_LEN + 1];
  tcpu_rdv_msg m;

  (void)state;
  for (size_t t = 0; t < sizeof(types); t++) {
    size_t n = valid_of(types[t], b);
    for (size_t k = 0; k < n; k++) {
      uint8_t *copy = malloc(k ? k : 1); /* exact size: ASan sees overreads */
      memcpy(copy, b, k);
      assert_int_equal(tcpu_rdv_decode(&m, copy, k), TCPU_ERR_PROTO);
      free(copy);
    }
    assert_int_equal(tcpu_rdv_decode(&m, b, n + 1), TCPU_ERR_PROTO);
    /* Reserved header bytes and the requests' padding. */
    for (size_t k = 9; k < n; k++) {
      int zero_place = k < 16 || (types[t] == TCPU_RDV_REGISTER && k >= 30) ||
                       (types[t] == TCPU_RDV_LOOKUP && k >= 34);
      if (!zero_place)
        continue;
      b[k] = 1;
      assert_int_equal(tcpu_rdv_decode(&m, b, n), TCPU_ERR_PROTO);
      b[k] = 0;
    }
    assert_int_equal(tcpu_rdv_decode(&m, b, n), 0);
  }
  assert_int_equal(tcpu_rdv_decode(NULL, b, 24), TCPU_ERR_PROTO);
  assert_int_equal(tcpu_rdv_decode(&m, NULL, 24), TCPU_ERR_PROTO);
}

/* ------------------------------------------------------------ server */

static tcpu_rdv_server srv;
static tcpu_rdv_reply out[2];

static int setup_server(void **state) {
  (void)state;
  return tcpu_rdv_server_init(&srv, 16, 0, 0, &rng);
}

static int teardown_server(void **state) {
  (void)state;
  tcpu_rdv_server_free(&srv);
  return 0;
}

/* Feeds m from `from`; returns the number of replies, each checked for
 * the anti-amplification rule. */
static int feed_at(const tcpu_addr *from, const tcpu_addr *local,
                   const tcpu_rdv_msg *m, tcpu_tstamp now) {
  uint8_t b[TCPU_RDV_MAX_LEN];
  size_t n = enc(m, b);
  int k = local != NULL
              ? tcpu_rdv_server_recv_at(&srv, from, local, b, n, out, now)
              : tcpu_rdv_server_recv(&srv, from, b, n, out, now);
  size_t sum = 0;

  assert_true(k >= 0 && k <= 2);
  for (int i = 0; i < k; i++)
    sum += out[i].len;
  assert_true(sum <= n);
  return k;
}

static int feed(const tcpu_addr *from, const tcpu_rdv_msg *m,
                tcpu_tstamp now) {
  return feed_at(from, NULL, m, now);
}

static tcpu_rdv_msg reply_msg(int i) {
  tcpu_rdv_msg m;

  assert_int_equal(tcpu_rdv_decode(&m, out[i].buf, out[i].len), 0);
  return m;
}

static void reg(const tcpu_addr *from, const char *n, tcpu_tstamp now) {
  tcpu_rdv_msg m = msg_register(1000, n);

  assert_int_equal(feed(from, &m, now), 1);
}

static void test_rdv_server_register_answers_observed(void **state) {
  tcpu_addr a = v4(203, 0, 113, 5, 40000);
  tcpu_rdv_msg m = msg_register(0xabcdef, "alice"), r;
  tcpu_rdv_name n = name("alice");

  (void)state;
  assert_int_equal(feed(&a, &m, 1 * S), 1);
  assert_true(tcpu_addr_equal(&out[0].to, &a));
  r = reply_msg(0);
  assert_int_equal(r.type, TCPU_RDV_OBSERVED);
  assert_true(r.txid == 0xabcdef);
  assert_true(tcpu_addr_equal(&r.addr, &a));
  assert_non_null(tcpu_rdv_server_find(&srv, &n, 1 * S));
  assert_int_equal(tcpu_rdv_server_count(&srv, 1 * S), 1);
  assert_int_equal(srv.stats.registers, 1);
}

static void test_rdv_server_registration_expires_and_refreshes(void **state) {
  tcpu_addr a = v6(1, 5000);
  tcpu_rdv_name n = name("alice");
  tcpu_tstamp t = 10 * S;

  (void)state;
  reg(&a, "alice", t);
  assert_non_null(tcpu_rdv_server_find(&srv, &n, t + TCPU_RDV_EXPIRY_NS - 1));
  assert_null(tcpu_rdv_server_find(&srv, &n, t + TCPU_RDV_EXPIRY_NS));
  /* Refreshes every 15 s keep it alive far beyond 60 s. */
  for (int i = 1; i <= 10; i++)
    reg(&a, "alice", t + (tcpu_tstamp)i * TCPU_RDV_REFRESH_NS);
  assert_non_null(tcpu_rdv_server_find(
      &srv, &n, t + 10 * TCPU_RDV_REFRESH_NS + TCPU_RDV_EXPIRY_NS - 1));
  assert_int_equal(tcpu_rdv_server_count(&srv, t + 10 * TCPU_RDV_REFRESH_NS),
                   1);
}

/* A NAT may rebind: the latest REGISTER's source is the address. */
static void test_rdv_server_latest_register_wins(void **state) {
  tcpu_addr a1 = v4(203, 0, 113, 5, 40000), a2 = v4(203, 0, 113, 5, 40001);
  tcpu_rdv_name n = name("alice");

  (void)state;
  reg(&a1, "alice", S);
  reg(&a2, "alice", 2 * S);
  assert_true(tcpu_addr_equal(&tcpu_rdv_server_find(&srv, &n, 2 * S)->addr,
                              &a2));
  assert_int_equal(tcpu_rdv_server_count(&srv, 2 * S), 1);
}

static void test_rdv_server_lookup_found_replies_and_pushes(void **state) {
  tcpu_addr a = v4(203, 0, 113, 5, 40000), b = v6(7, 50000);
  tcpu_rdv_msg m = msg_lookup(0x77, "alice", "bob"), r;

  (void)state;
  reg(&a, "alice", S);
  reg(&b, "bob", S);
  assert_int_equal(feed(&a, &m, 2 * S), 2);
  /* First the push to the peer: the looker's name and address, txid 0. */
  assert_true(tcpu_addr_equal(&out[0].to, &b));
  r = reply_msg(0);
  assert_int_equal(r.type, TCPU_RDV_PEER);
  assert_true(r.txid == 0);
  assert_string_equal(r.name.s, "alice");
  assert_true(tcpu_addr_equal(&r.addr, &a));
  /* Then the answer to the looker. */
  assert_true(tcpu_addr_equal(&out[1].to, &a));
  r = reply_msg(1);
  assert_int_equal(r.type, TCPU_RDV_PEER);
  assert_true(r.txid == 0x77);
  assert_string_equal(r.name.s, "bob");
  assert_true(tcpu_addr_equal(&r.addr, &b));
  assert_int_equal(srv.stats.found, 1);
  assert_int_equal(srv.stats.sent, 4);
}

/* A server on several addresses answers each request from the address it
 * came to, and pushes to a peer from the address the peer registered at:
 * its NAT knows only that one.  Without a local address, "any". */
static void test_rdv_server_replies_from_the_address_asked(void **state) {
  tcpu_addr a = v4(203, 0, 113, 5, 40000), b = v4(198, 51, 100, 1, 9);
  tcpu_addr x = v4(192, 0, 2, 10, 7400), y = v6(9, 7400);
  tcpu_rdv_msg ra = msg_register(1, "alice"), rb = msg_register(2, "bob");
  tcpu_rdv_msg lk = msg_lookup(3, "alice", "bob");

  (void)state;
  x.port = y.port = 0; /* the local port is not part of it */
  assert_int_equal(feed_at(&a, &x, &ra, S), 1);
  assert_true(tcpu_addr_equal(&out[0].from, &x));
  assert_int_equal(feed_at(&b, &y, &rb, S), 1);
  assert_true(tcpu_addr_equal(&out[0].from, &y));
  assert_int_equal(feed_at(&a, &x, &lk, 2 * S), 2);
  assert_true(tcpu_addr_equal(&out[0].to, &b));
  assert_true(tcpu_addr_equal(&out[0].from, &y));
  assert_true(tcpu_addr_equal(&out[1].to, &a));
  assert_true(tcpu_addr_equal(&out[1].from, &x));
  /* The port a caller may pass along is dropped. */
  tcpu_addr xp = x;
  xp.port = 7400;
  assert_int_equal(feed_at(&a, &xp, &ra, 3 * S), 1);
  assert_true(tcpu_addr_equal(&out[0].from, &x));
  /* Unknown: family 0 from here on, for the answer and for the push of
   * a registration made without one. */
  assert_int_equal(feed(&b, &rb, 4 * S), 1);
  assert_int_equal(out[0].from.family, 0);
  assert_int_equal(feed_at(&a, &x, &lk, 5 * S), 2);
  assert_int_equal(out[0].from.family, 0);
  assert_true(tcpu_addr_equal(&out[1].from, &x));
}

static void test_rdv_server_lookup_absent_or_expired_not_found(void **state) {
  tcpu_addr a = v4(203, 0, 113, 5, 40000), b = v4(198, 51, 100, 1, 9);
  tcpu_rdv_msg m = msg_lookup(0x78, "alice", "carol"), r;

  (void)state;
  /* bob registered at 30 s and went silent: gone at 90 s. */
  reg(&b, "bob", 30 * S);
  reg(&a, "alice", 100 * S);
  assert_int_equal(feed(&a, &m, 100 * S), 1); /* carol never came */
  r = reply_msg(0);
  assert_int_equal(r.type, TCPU_RDV_NOT_FOUND);
  assert_true(r.txid == 0x78);
  m = msg_lookup(0x79, "alice", "bob");
  assert_int_equal(feed(&a, &m, 100 * S), 1);
  assert_int_equal(reply_msg(0).type, TCPU_RDV_NOT_FOUND);
  /* Looking oneself up finds nothing either. */
  m = msg_lookup(0x7a, "alice", "alice");
  assert_int_equal(feed(&a, &m, 100 * S), 1);
  assert_int_equal(reply_msg(0).type, TCPU_RDV_NOT_FOUND);
  assert_int_equal(srv.stats.not_found, 3);
  assert_int_equal(srv.stats.found, 0);
}

/* Only a looker registered under `self` from the same address gets a
 * push sent on its behalf. */
static void test_rdv_server_lookup_needs_registered_looker(void **state) {
  tcpu_addr a = v4(203, 0, 113, 5, 40000), b = v6(7, 50000),
            spoof = v4(192, 0, 2, 66, 53);
  tcpu_rdv_msg m = msg_lookup(0x80, "alice", "bob");

  (void)state;
  reg(&b, "bob", S);
  assert_int_equal(feed(&a, &m, S), 1); /* alice never registered */
  assert_int_equal(reply_msg(0).type, TCPU_RDV_NOT_FOUND);
  reg(&a, "alice", S);
  assert_int_equal(feed(&spoof, &m, S), 1); /* alice's name, other source */
  assert_int_equal(reply_msg(0).type, TCPU_RDV_NOT_FOUND);
  assert_true(tcpu_addr_equal(&out[0].to, &spoof));
  assert_int_equal(srv.stats.unregistered, 2);
  assert_int_equal(feed(&a, &m, S), 2);
  assert_true(tcpu_addr_equal(&out[1].to, &a));
}

static void test_rdv_server_drops_malformed_and_replies(void **state) {
  tcpu_addr a = v4(203, 0, 113, 5, 40000), bad = a;
  uint8_t b[TCPU_RDV_MAX_LEN];
  tcpu_rdv_msg m;
  size_t n;

  (void)state;
  memset(b, 0, sizeof(b));
  assert_int_equal(tcpu_rdv_server_recv(&srv, &a, b, 0, out, S), 0);
  assert_int_equal(tcpu_rdv_server_recv(&srv, &a, b, sizeof(b), out, S), 0);
  /* Server-to-client types sent to the server. */
  memset(&m, 0, sizeof(m));
  m.type = TCPU_RDV_NOT_FOUND;
  n = enc(&m, b);
  assert_int_equal(tcpu_rdv_server_recv(&srv, &a, b, n, out, S), 0);
  m.type = TCPU_RDV_PEER;
  m.name = name("x");
  m.addr = a;
  n = enc(&m, b);
  assert_int_equal(tcpu_rdv_server_recv(&srv, &a, b, n, out, S), 0);
  /* A source no reply could go to. */
  m = msg_register(1, "alice");
  n = enc(&m, b);
  bad.port = 0;
  assert_int_equal(tcpu_rdv_server_recv(&srv, &bad, b, n, out, S), 0);
  assert_int_equal(srv.stats.malformed, 5);
  assert_int_equal(srv.stats.received, 5);
  assert_int_equal(srv.stats.sent, 0);
  assert_int_equal(tcpu_rdv_server_count(&srv, S), 0);
}

static void test_rdv_server_rate_limits_per_source(void **state) {
  tcpu_addr a = v4(203, 0, 113, 5, 40000), other = v4(203, 0, 113, 6, 1);
  tcpu_rdv_msg m = msg_register(9, "alice");
  int answered = 0;

  (void)state;
  /* A burst at one instant: the bucket's worth, then nothing. */
  for (int i = 0; i < 2 * TCPU_RDV_RATE_BURST; i++)
    answered += feed(&a, &m, S);
  assert_int_equal(answered, TCPU_RDV_RATE_BURST);
  assert_int_equal(srv.stats.ratelimited, TCPU_RDV_RATE_BURST);
  /* Another source is unaffected; the same source on another port is
   * the same host. */
  assert_int_equal(feed(&other, &m, S), 1);
  a.port = 40001;
  assert_int_equal(feed(&a, &m, S), 0);
  /* Time refills the bucket at the rate. */
  assert_int_equal(feed(&a, &m, S + S / TCPU_RDV_RATE_PER_S), 1);
  assert_int_equal(feed(&a, &m, S + S / TCPU_RDV_RATE_PER_S), 0);
}

/* 16 slots (the fixture's table): 16 names fit, the 17th is dropped until
 * one expires, and its slot is then reused. */
static void test_rdv_server_table_full_then_reuse(void **state) {
  char n[8];
  tcpu_rdv_msg m;

  (void)state;
  for (int i = 0; i < 16; i++) {
    tcpu_addr a = v4(10, 0, 0, (uint8_t)i, 1000);
    snprintf(n, sizeof(n), "n%d", i);
    reg(&a, n, (tcpu_tstamp)(i + 1) * S);
  }
  assert_int_equal(tcpu_rdv_server_count(&srv, 16 * S), 16);
  {
    tcpu_addr a = v4(10, 0, 1, 0, 1000);
    m = msg_register(5, "late");
    assert_int_equal(feed(&a, &m, 17 * S), 0);
    assert_int_equal(srv.stats.table_full, 1);
    /* n0 (registered at 1 s) expires at 61 s. */
    assert_int_equal(feed(&a, &m, 61 * S), 1);
    assert_int_equal(reply_msg(0).type, TCPU_RDV_OBSERVED);
  }
  assert_int_equal(tcpu_rdv_server_count(&srv, 61 * S), 16);
  m = msg_register(5, "late");
  assert_non_null(tcpu_rdv_server_find(&srv, &m.name, 61 * S));
}

static void test_rdv_server_init_bounds(void **state) {
  tcpu_rdv_server s2;

  (void)state;
  assert_int_equal(tcpu_rdv_server_init(&s2, 0, 0, 0, &rng), 0);
  assert_int_equal(s2.nslots, TCPU_RDV_DEFAULT_ENTRIES);
  tcpu_rdv_server_free(&s2);
  assert_int_equal(tcpu_rdv_server_init(&s2, 1000, 0, 0, &rng), 0);
  assert_int_equal(s2.nslots, 1024);
  tcpu_rdv_server_free(&s2);
  assert_int_equal(tcpu_rdv_server_init(&s2, ((size_t)1 << 24) + 1, 0, 0,
                                        &rng),
                   TCPU_ERR_INVAL);
  tcpu_rdv_server_free(NULL);
}

#define SRV_TEST(f) cmocka_unit_test_setup_teardown(f, setup_server, \
                                                    teardown_server)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rendezvous_round_trip_every_type),
      cmocka_unit_test(test_rendezvous_header_layout),
      cmocka_unit_test(test_rendezvous_requests_outweigh_replies),
      cmocka_unit_test(test_rendezvous_never_tunnel_traffic),
      cmocka_unit_test(test_rendezvous_recognizer),
      cmocka_unit_test(test_rendezvous_names),
      cmocka_unit_test(test_rendezvous_encode_refuses_invalid),
      cmocka_unit_test(test_rendezvous_decode_table_malformed),
      cmocka_unit_test(test_rendezvous_decode_truncations_and_zeros),
      SRV_TEST(test_rdv_server_register_answers_observed),
      SRV_TEST(test_rdv_server_registration_expires_and_refreshes),
      SRV_TEST(test_rdv_server_latest_register_wins),
      SRV_TEST(test_rdv_server_lookup_found_replies_and_pushes),
      SRV_TEST(test_rdv_server_replies_from_the_address_asked),
      SRV_TEST(test_rdv_server_lookup_absent_or_expired_not_found),
      SRV_TEST(test_rdv_server_lookup_needs_registered_looker),
      SRV_TEST(test_rdv_server_drops_malformed_and_replies),
      SRV_TEST(test_rdv_server_rate_limits_per_source),
      SRV_TEST(test_rdv_server_table_full_then_reuse),
      cmocka_unit_test(test_rdv_server_init_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
