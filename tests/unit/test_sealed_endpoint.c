/*
 * test_sealed_endpoint.c — the sealed-mode endpoint without the simulator
 * (tcpu.h, "peers"; DESIGN §3, §6): settings and keys, adding, finding and
 * removing peers and their errors, the synthetic TCPU_AF_PEER addresses,
 * malformed sealed datagrams (wrong type, wrong size, reserved bytes set,
 * unknown receiver index, a plain TCP segment) dropped in silence and
 * counted once each, and a pair of endpoints back to back: the accepted
 * connection names its peer by key, datagrams go to real UDP addresses,
 * removing a peer aborts its connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcpu/tcpu.h"

#define T_START (1000 * TCPU_NS_PER_S)
#define WALL ((uint64_t)1700000000 * TCPU_NS_PER_S)

/* ------------------------------------------------------------- fixtures */

/* A fixed private key per number, and its public key. */
static void key(int n, uint8_t priv[TCPU_KEY_LEN], uint8_t pub[TCPU_KEY_LEN]) {
  for (int i = 0; i < TCPU_KEY_LEN; i++)
    priv[i] = (uint8_t)(n * 37 + i * 11 + 1);
  assert_int_equal(tcpu_public_key(pub, priv), 0);
}

static tcpu_endpoint *make_ep_bufs(tcpu_mode mode, int keyno,
                                   const tcpu_callbacks *cb, void *ud,
                                   uint32_t bufsize) {
  tcpu_settings s;
  tcpu_settings_default(&s);
  if (bufsize > 0)
    s.sndbuf = s.rcvbuf = bufsize;
  memset(s.secret, 3, sizeof s.secret);
  s.mode = mode;
  if (mode == TCPU_MODE_SEALED) {
    uint8_t pub[TCPU_KEY_LEN];
    key(keyno, s.private_key, pub);
    s.wall_clock_offset = WALL;
  }
  tcpu_endpoint *ep = NULL;
  assert_int_equal(tcpu_endpoint_new(&ep, &s, cb, ud, T_START), 0);
  return ep;
}

static tcpu_endpoint *make_ep(tcpu_mode mode, int keyno,
                              const tcpu_callbacks *cb, void *ud) {
  return make_ep_bufs(mode, keyno, cb, ud, 0);
}

static tcpu_addr udp(uint8_t last, uint16_t port) {
  tcpu_addr a;
  memset(&a, 0, sizeof a);
  tcpu_addr_ipv4(&a, (const uint8_t[]){10, 0, 0, last}, port);
  return a;
}

static uint64_t drops(const tcpu_endpoint_stats *st) {
  return st->handshakes_failed + st->handshakes_ratelimited +
         st->auth_failures + st->replays_dropped + st->drop_not_sealed +
         st->drop_short + st->drop_bad_offset + st->drop_bad_option +
         st->drop_bad_sack + st->drop_bad_checksum + st->drop_bad_flags +
         st->drop_no_conn;
}

/* A sealed endpoint (key 1) with one peer: key 2, whose public key goes
 * to pub, at the UDP endpoint `at` (NULL: none yet). */
static tcpu_endpoint *ep_with_peer(uint8_t pub[TCPU_KEY_LEN],
                                   const tcpu_addr *at, tcpu_peer **p) {
  tcpu_endpoint *ep = make_ep(TCPU_MODE_SEALED, 1, NULL, NULL);
  uint8_t priv[TCPU_KEY_LEN];
  key(2, priv, pub);
  *p = NULL;
  assert_int_equal(tcpu_peer_add(ep, pub, NULL, at, p, T_START), 0);
  return ep;
}

/* ------------------------------------------------------ settings, keys */

static void test_sealed_settings_default_plain_mode(void **state) {
  (void)state;
  tcpu_settings s;
  tcpu_settings_default(&s);
  assert_int_equal(s.mode, TCPU_MODE_PLAIN);
  assert_int_equal(s.cipher, TCPU_CIPHER_CHACHAPOLY);
  assert_int_equal(s.handshake_load, 64);
  assert_int_equal(s.wall_clock_offset, 0);
  static const uint8_t zero[TCPU_KEY_LEN];
  assert_memory_equal(s.private_key, zero, TCPU_KEY_LEN);
}

static void test_sealed_endpoint_new_without_key_inval(void **state) {
  (void)state;
  tcpu_settings s;
  tcpu_settings_default(&s);
  s.mode = TCPU_MODE_SEALED;
  tcpu_endpoint *ep = NULL;
  assert_int_equal(tcpu_endpoint_new(&ep, &s, NULL, NULL, T_START),
                   TCPU_ERR_INVAL);
  assert_null(ep);
}

static void test_sealed_endpoint_public_key_matches(void **state) {
  (void)state;
  uint8_t priv[TCPU_KEY_LEN], pub[TCPU_KEY_LEN], got[TCPU_KEY_LEN];
  key(1, priv, pub);
  tcpu_endpoint *ep = make_ep(TCPU_MODE_SEALED, 1, NULL, NULL);
  assert_int_equal(tcpu_endpoint_public_key(ep, got), 0);
  assert_memory_equal(got, pub, TCPU_KEY_LEN);
  assert_int_equal(tcpu_endpoint_public_key(ep, NULL), TCPU_ERR_INVAL);
  tcpu_endpoint *plain = make_ep(TCPU_MODE_PLAIN, 0, NULL, NULL);
  assert_int_equal(tcpu_endpoint_public_key(plain, got), TCPU_ERR_INVAL);
  tcpu_endpoint_del(plain);
  tcpu_endpoint_del(ep);
}

static void test_sealed_keypair_public_is_x25519_of_private(void **state) {
  (void)state;
  uint8_t priv[TCPU_KEY_LEN], pub[TCPU_KEY_LEN], again[TCPU_KEY_LEN];
  uint8_t priv2[TCPU_KEY_LEN], pub2[TCPU_KEY_LEN];
  assert_int_equal(tcpu_keypair(priv, pub), 0);
  assert_int_equal(tcpu_public_key(again, priv), 0);
  assert_memory_equal(pub, again, TCPU_KEY_LEN);
  assert_int_equal(tcpu_keypair(priv2, pub2), 0);
  assert_memory_not_equal(priv, priv2, TCPU_KEY_LEN);
  assert_int_equal(tcpu_keypair(NULL, pub), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_public_key(NULL, priv), TCPU_ERR_INVAL);
}

/* ---------------------------------------------------------- peer table */

/* Points of small order (RFC 7748 §7, libsodium's blocklist): no shared
 * secret with them, so no session could ever start. */
static const uint8_t low_order[][TCPU_KEY_LEN] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
     0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
     0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

static void test_sealed_peer_add_bad_arguments_inval(void **state) {
  (void)state;
  tcpu_endpoint *ep = make_ep(TCPU_MODE_SEALED, 1, NULL, NULL);
  uint8_t own_priv[TCPU_KEY_LEN], own[TCPU_KEY_LEN];
  uint8_t priv[TCPU_KEY_LEN], pub[TCPU_KEY_LEN];
  key(1, own_priv, own);
  key(2, priv, pub);
  tcpu_addr ok = udp(2, 51820);
  tcpu_peer *p = NULL;

  assert_int_equal(tcpu_peer_add(NULL, pub, NULL, &ok, &p, T_START),
                   TCPU_ERR_INVAL);
  assert_int_equal(tcpu_peer_add(ep, NULL, NULL, &ok, &p, T_START),
                   TCPU_ERR_INVAL);
  assert_int_equal(tcpu_peer_add(ep, own, NULL, &ok, &p, T_START),
                   TCPU_ERR_INVAL);
  for (size_t i = 0; i < sizeof low_order / sizeof low_order[0]; i++)
    assert_int_equal(tcpu_peer_add(ep, low_order[i], NULL, NULL, &p, T_START),
                     TCPU_ERR_INVAL);
  /* An endpoint is a UDP address, never a synthetic one. */
  tcpu_addr bad = ok;
  bad.family = TCPU_AF_PEER;
  assert_int_equal(tcpu_peer_add(ep, pub, NULL, &bad, &p, T_START),
                   TCPU_ERR_INVAL);
  bad.family = 0;
  assert_int_equal(tcpu_peer_add(ep, pub, NULL, &bad, &p, T_START),
                   TCPU_ERR_INVAL);
  assert_null(p);
  assert_null(tcpu_peer_find(ep, pub));
  /* None of the refusals left anything behind. */
  assert_int_equal(tcpu_peer_add(ep, pub, NULL, &ok, &p, T_START), 0);
  assert_non_null(p);
  tcpu_endpoint_del(ep);
}

static void test_sealed_peer_add_same_key_twice_addrinuse(void **state) {
  (void)state;
  tcpu_endpoint *ep = make_ep(TCPU_MODE_SEALED, 1, NULL, NULL);
  uint8_t priv[TCPU_KEY_LEN], pub[TCPU_KEY_LEN], psk[TCPU_KEY_LEN];
  key(2, priv, pub);
  memset(psk, 0x42, sizeof psk);
  tcpu_peer *p = NULL, *q = NULL;
  assert_int_equal(tcpu_peer_add(ep, pub, psk, NULL, &p, T_START), 0);
  assert_int_equal(tcpu_peer_add(ep, pub, NULL, NULL, &q, T_START),
                   TCPU_ERR_ADDRINUSE);
  tcpu_addr other = udp(9, 9);
  assert_int_equal(tcpu_peer_add(ep, pub, NULL, &other, &q, T_START),
                   TCPU_ERR_ADDRINUSE);
  assert_null(q);
  assert_ptr_equal(tcpu_peer_find(ep, pub), p);
  tcpu_endpoint_del(ep);
}

static void test_plain_peer_add_errors(void **state) {
  (void)state;
  tcpu_endpoint *ep = make_ep(TCPU_MODE_PLAIN, 0, NULL, NULL);
  uint8_t priv[TCPU_KEY_LEN], pub[TCPU_KEY_LEN], psk[TCPU_KEY_LEN];
  key(2, priv, pub);
  memset(psk, 1, sizeof psk);
  tcpu_addr a = udp(2, 7000);
  tcpu_peer *p = NULL, *q = NULL;
  assert_int_equal(tcpu_peer_add(ep, pub, NULL, &a, &p, T_START),
                   TCPU_ERR_INVAL);
  assert_int_equal(tcpu_peer_add(ep, NULL, psk, &a, &p, T_START),
                   TCPU_ERR_INVAL);
  assert_int_equal(tcpu_peer_add(ep, NULL, NULL, NULL, &p, T_START),
                   TCPU_ERR_INVAL);
  assert_null(p);
  assert_int_equal(tcpu_peer_add(ep, NULL, NULL, &a, &p, T_START), 0);
  assert_int_equal(tcpu_peer_add(ep, NULL, NULL, &a, &q, T_START),
                   TCPU_ERR_ADDRINUSE);
  /* A plain peer's address is its UDP endpoint. */
  tcpu_addr got;
  tcpu_peer_addr(p, &got);
  assert_true(tcpu_addr_equal(&got, &a));
  assert_ptr_equal(tcpu_peer_by_addr(ep, &a), p);
  assert_null(tcpu_peer_find(ep, pub));
  tcpu_peer_info pi;
  tcpu_peer_get_info(p, &pi);
  assert_int_equal(pi.sealed, 0);
  tcpu_endpoint_del(ep);
}

static int count_peer(const tcpu_peer *p, void *arg) {
  (void)p;
  (*(int *)arg)++;
  return 0;
}

static void test_sealed_peer_find_and_remove(void **state) {
  (void)state;
  tcpu_endpoint *ep = make_ep(TCPU_MODE_SEALED, 1, NULL, NULL);
  uint8_t priv[5][TCPU_KEY_LEN], pub[5][TCPU_KEY_LEN];
  tcpu_peer *p[5];
  tcpu_addr pa[5];
  for (int i = 0; i < 5; i++) {
    key(10 + i, priv[i], pub[i]);
    assert_int_equal(tcpu_peer_add(ep, pub[i], NULL, NULL, &p[i], T_START), 0);
    tcpu_peer_addr(p[i], &pa[i]);
  }
  uint8_t upriv[TCPU_KEY_LEN], unknown[TCPU_KEY_LEN];
  key(99, upriv, unknown);
  for (int i = 0; i < 5; i++) {
    assert_ptr_equal(tcpu_peer_find(ep, pub[i]), p[i]);
    assert_ptr_equal(tcpu_peer_by_addr(ep, &pa[i]), p[i]);
  }
  assert_null(tcpu_peer_find(ep, unknown));
  int n = 0;
  assert_int_equal(tcpu_endpoint_foreach_peer(ep, count_peer, &n), 0);
  assert_int_equal(n, 5);

  tcpu_peer_remove(p[2], T_START);
  assert_null(tcpu_peer_find(ep, pub[2]));
  assert_null(tcpu_peer_by_addr(ep, &pa[2]));
  for (int i = 0; i < 5; i++)
    if (i != 2)
      assert_ptr_equal(tcpu_peer_find(ep, pub[i]), p[i]);
  n = 0;
  tcpu_endpoint_foreach_peer(ep, count_peer, &n);
  assert_int_equal(n, 4);
  /* The key can come back; its old synthetic address then names it
   * again only if it is the same address. */
  tcpu_peer *back = NULL;
  assert_int_equal(tcpu_peer_add(ep, pub[2], NULL, NULL, &back, T_START), 0);
  assert_ptr_equal(tcpu_peer_find(ep, pub[2]), back);
  tcpu_addr ba;
  tcpu_peer_addr(back, &ba);
  assert_ptr_equal(tcpu_peer_by_addr(ep, &ba), back);
  tcpu_peer_remove(NULL, T_START); /* ignored */
  tcpu_endpoint_del(ep);
}

static void test_sealed_peer_addr_is_synthetic(void **state) {
  (void)state;
  uint8_t pub[TCPU_KEY_LEN];
  tcpu_addr ua = udp(2, 51820);
  tcpu_peer *p;
  tcpu_endpoint *ep = ep_with_peer(pub, &ua, &p);
  tcpu_addr a;
  tcpu_peer_addr(p, &a);
  assert_int_equal(a.family, TCPU_AF_PEER);
  assert_int_equal(a.port, 0);
  assert_memory_equal(a.ip, pub, sizeof a.ip);
  assert_ptr_equal(tcpu_peer_by_addr(ep, &a), p);
  /* Another key's prefix names nobody. */
  tcpu_addr b = a;
  b.ip[5] ^= 1;
  assert_null(tcpu_peer_by_addr(ep, &b));
  assert_null(tcpu_peer_by_addr(ep, NULL));

  tcpu_peer_info pi;
  tcpu_peer_get_info(p, &pi);
  assert_int_equal(pi.sealed, 1);
  assert_memory_equal(pi.public_key, pub, TCPU_KEY_LEN);
  assert_true(tcpu_addr_equal(&pi.addr, &a));
  assert_true(tcpu_addr_equal(&pi.endpoint, &ua));
  assert_int_equal(pi.session, 0);
  assert_int_equal(pi.handshaking, 0);
  assert_int_equal(pi.last_handshake, TCPU_TSTAMP_NONE);
  assert_int_equal(pi.handshakes, 0);
  assert_int_equal(pi.roams, 0);
  assert_int_equal(pi.persistent_keepalive, 0);

  /* Without an endpoint, the endpoint's family is 0. */
  uint8_t priv3[TCPU_KEY_LEN], pub3[TCPU_KEY_LEN];
  key(3, priv3, pub3);
  tcpu_peer *q = NULL;
  assert_int_equal(tcpu_peer_add(ep, pub3, NULL, NULL, &q, T_START), 0);
  tcpu_peer_get_info(q, &pi);
  assert_int_equal(pi.endpoint.family, 0);
  int ud = 7;
  tcpu_peer_set_user_data(q, &ud);
  assert_ptr_equal(tcpu_peer_get_user_data(q), &ud);
  tcpu_endpoint_del(ep);
}

static void test_sealed_peer_set_endpoint_and_punch_errors(void **state) {
  (void)state;
  uint8_t pub[TCPU_KEY_LEN];
  tcpu_peer *p;
  tcpu_endpoint *ep = ep_with_peer(pub, NULL, &p);
  assert_int_equal(tcpu_peer_punch(p, T_START), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_peer_set_endpoint(p, NULL, T_START), TCPU_ERR_INVAL);
  tcpu_addr syn;
  tcpu_peer_addr(p, &syn);
  assert_int_equal(tcpu_peer_set_endpoint(p, &syn, T_START), TCPU_ERR_INVAL);
  tcpu_addr ua = udp(2, 51820);
  assert_int_equal(tcpu_peer_set_endpoint(p, &ua, T_START), 0);
  tcpu_peer_info pi;
  tcpu_peer_get_info(p, &pi);
  assert_true(tcpu_addr_equal(&pi.endpoint, &ua));
  /* The connections' address does not follow the endpoint. */
  assert_true(tcpu_addr_equal(&pi.addr, &syn));
  tcpu_peer_set_persistent_keepalive(p, 25 * TCPU_NS_PER_S, T_START);
  tcpu_peer_get_info(p, &pi);
  assert_int_equal(pi.persistent_keepalive, 25 * TCPU_NS_PER_S);
  tcpu_endpoint_del(ep);
}

static void test_sealed_connect_names_peers_only(void **state) {
  (void)state;
  uint8_t pub[TCPU_KEY_LEN];
  tcpu_addr ua = udp(2, 51820);
  tcpu_peer *p;
  tcpu_endpoint *ep = ep_with_peer(pub, &ua, &p);
  tcpu_conn *c = NULL;
  /* A key nobody added, a UDP address that is no peer's: nothing to
   * seal for. */
  uint8_t upriv[TCPU_KEY_LEN], unknown[TCPU_KEY_LEN];
  key(98, upriv, unknown);
  tcpu_addr ghost;
  memset(&ghost, 0, sizeof ghost);
  ghost.family = TCPU_AF_PEER;
  memcpy(ghost.ip, unknown, sizeof ghost.ip);
  assert_int_equal(tcpu_connect(ep, &ghost, 0, 80, &c, T_START),
                   TCPU_ERR_INVAL);
  tcpu_addr stranger = udp(77, 51820);
  assert_int_equal(tcpu_connect(ep, &stranger, 0, 80, &c, T_START),
                   TCPU_ERR_INVAL);
  assert_null(c);
  /* By its synthetic address, or by the UDP endpoint it was added with:
   * either way the connection carries the synthetic address. */
  tcpu_addr syn;
  tcpu_peer_addr(p, &syn);
  tcpu_conn_info ci;
  assert_int_equal(tcpu_connect(ep, &syn, 0, 80, &c, T_START), 0);
  tcpu_conn_get_info(c, &ci);
  assert_true(tcpu_addr_equal(&ci.peer, &syn));
  assert_int_equal(ci.state, TCPU_SYN_SENT);
  tcpu_conn *d = NULL;
  assert_int_equal(tcpu_connect(ep, &ua, 0, 81, &d, T_START), 0);
  tcpu_conn_get_info(d, &ci);
  assert_true(tcpu_addr_equal(&ci.peer, &syn));
  tcpu_endpoint_del(ep);
}

/* ---------------------------------------------------- malformed input */

typedef enum counter {
  CNT_NOT_SEALED,
  CNT_AUTH,
  CNT_HANDSHAKE
} counter;

static uint64_t counter_of(const tcpu_endpoint_stats *st, counter c) {
  switch (c) {
  case CNT_NOT_SEALED:
    return st->drop_not_sealed;
  case CNT_AUTH:
    return st->auth_failures;
  default:
    return st->handshakes_failed;
  }
}

typedef struct malformed {
  const char *name;
  uint8_t type;
  size_t len;
  int reserved; /* 1..3: that reserved byte set to 0x01 */
  counter expect;
} malformed;

/*   name                               type  len  rsv  counted as */
#define M(n, t, l, r, c) {n, t, l, r, c}
static const malformed malformed_cases[] = {
    M("one byte", 4, 1, 0, CNT_NOT_SEALED),
    M("header only", 4, 4, 0, CNT_NOT_SEALED),
    M("type 0", 0, 148, 0, CNT_NOT_SEALED),
    M("type 5", 5, 32, 0, CNT_NOT_SEALED),
    M("type 255", 255, 148, 0, CNT_NOT_SEALED),
    M("initiation short", 1, 147, 0, CNT_NOT_SEALED),
    M("initiation long", 1, 149, 0, CNT_NOT_SEALED),
    M("response short", 2, 91, 0, CNT_NOT_SEALED),
    M("response long", 2, 93, 0, CNT_NOT_SEALED),
    M("cookie short", 3, 63, 0, CNT_NOT_SEALED),
    M("cookie long", 3, 65, 0, CNT_NOT_SEALED),
    M("transport short", 4, 31, 0, CNT_NOT_SEALED),
    M("initiation reserved 1", 1, 148, 1, CNT_NOT_SEALED),
    M("response reserved 2", 2, 92, 2, CNT_NOT_SEALED),
    M("cookie reserved 3", 3, 64, 3, CNT_NOT_SEALED),
    M("transport reserved 1", 4, 32, 1, CNT_NOT_SEALED),
    M("transport reserved 3", 4, 1400, 3, CNT_NOT_SEALED),
    M("keepalive, unknown index", 4, 32, 0, CNT_AUTH),
    M("transport, unknown index", 4, 1400, 0, CNT_AUTH),
    M("transport, index 0", 4, 200, 0, CNT_AUTH),
    M("response, unknown receiver", 2, 92, 0, CNT_HANDSHAKE),
    M("cookie, unknown receiver", 3, 64, 0, CNT_HANDSHAKE),
    M("initiation, bad mac1", 1, 148, 0, CNT_HANDSHAKE),
};
#undef M

/* Feeds d from `from` and checks the silent drop: counted once, in
 * `expect` (unless expect < 0), no reply, no timer moved, no connection,
 * no peer learning an endpoint. */
static void expect_silent_drop(tcpu_endpoint *ep, tcpu_peer *peer,
                               const tcpu_addr *from, const uint8_t *d,
                               size_t len, int expect, const char *name,
                               tcpu_tstamp now) {
  tcpu_endpoint_stats a, b;
  tcpu_peer_info pa, pb;
  uint8_t out[2048];
  tcpu_addr to;
  tcpu_endpoint_get_stats(ep, &a);
  tcpu_peer_get_info(peer, &pa);
  tcpu_tstamp exp = tcpu_endpoint_get_expiry(ep);
  assert_int_equal(tcpu_endpoint_recv(ep, from, d, len, now), 0);
  tcpu_endpoint_get_stats(ep, &b);
  tcpu_peer_get_info(peer, &pb);
  if (b.dgrams_in != a.dgrams_in + 1 || drops(&b) != drops(&a) + 1 ||
      (expect >= 0 && counter_of(&b, (counter)expect) !=
                          counter_of(&a, (counter)expect) + 1))
    fail_msg("%s: dgrams_in +%u, drops +%u, not_sealed +%u, auth +%u, "
             "handshakes_failed +%u, short +%u", name,
             (unsigned)(b.dgrams_in - a.dgrams_in),
             (unsigned)(drops(&b) - drops(&a)),
             (unsigned)(b.drop_not_sealed - a.drop_not_sealed),
             (unsigned)(b.auth_failures - a.auth_failures),
             (unsigned)(b.handshakes_failed - a.handshakes_failed),
             (unsigned)(b.drop_short - a.drop_short));
  if (tcpu_endpoint_send(ep, &to, out, sizeof out, now) != 0)
    fail_msg("%s: answered", name);
  if (tcpu_endpoint_get_expiry(ep) != exp)
    fail_msg("%s: moved a timer", name);
  if (b.conns_opened != a.conns_opened || b.rst_sent != a.rst_sent ||
      b.cookies_sent != a.cookies_sent ||
      b.handshakes_done != a.handshakes_done)
    fail_msg("%s: opened, reset or shook hands", name);
  if (!tcpu_addr_equal(&pa.endpoint, &pb.endpoint) || pb.roams != pa.roams)
    fail_msg("%s: moved the peer's endpoint", name);
}

static void test_sealed_malformed_dropped_silently_counted_once(void **st) {
  (void)st;
  uint8_t pub[TCPU_KEY_LEN];
  tcpu_addr ua = udp(2, 51820);
  tcpu_peer *p;
  tcpu_endpoint *ep = ep_with_peer(pub, &ua, &p);
  tcpu_conn *l;
  assert_int_equal(tcpu_listen(ep, 80, 4, &l, T_START), 0);
  tcpu_addr from = udp(66, 4444);
  uint8_t d[1400];
  for (size_t i = 0; i < sizeof malformed_cases / sizeof malformed_cases[0];
       i++) {
    const malformed *m = &malformed_cases[i];
    for (size_t k = 0; k < m->len; k++)
      d[k] = (uint8_t)(k * 131 + i * 7 + 5);
    d[0] = m->type;
    for (size_t k = 1; k < 4 && k < m->len; k++)
      d[k] = (int)k == m->reserved ? 1 : 0;
    if (m->len >= 8 && strstr(m->name, "index 0"))
      memset(d + 4, 0, 4);
    expect_silent_drop(ep, p, &from, d, m->len, (int)m->expect, m->name,
                       T_START + TCPU_NS_PER_S);
    /* The same from the peer's own address: no different. */
    expect_silent_drop(ep, p, &ua, d, m->len, (int)m->expect, m->name,
                       T_START + TCPU_NS_PER_S);
  }
  /* Nothing of it ever reached the TCP parser. */
  tcpu_endpoint_stats s;
  tcpu_endpoint_get_stats(ep, &s);
  assert_int_equal(s.drop_short + s.drop_bad_offset + s.drop_bad_option +
                       s.drop_bad_sack + s.drop_bad_checksum +
                       s.drop_bad_flags + s.drop_no_conn,
                   0);
  tcpu_endpoint_del(ep);
}

static void test_sealed_plain_syn_gets_no_answer(void **state) {
  (void)state;
  tcpu_endpoint *plain = make_ep(TCPU_MODE_PLAIN, 0, NULL, NULL);
  uint8_t pub[TCPU_KEY_LEN];
  tcpu_peer *p;
  tcpu_endpoint *sealed = ep_with_peer(pub, NULL, &p);
  tcpu_conn *l, *c;
  assert_int_equal(tcpu_listen(sealed, 80, 4, &l, T_START), 0);
  tcpu_addr sa = udp(2, 51820), pa = udp(1, 40000);
  assert_int_equal(tcpu_connect(plain, &sa, 0, 80, &c, T_START), 0);
  uint8_t syn[2048];
  tcpu_addr to;
  tcpu_ssize n = tcpu_endpoint_send(plain, &to, syn, sizeof syn, T_START);
  assert_true(n >= 20);
  /* Whatever its first byte (the source port's high byte), a bare TCP
   * segment is no sealed message, nor is one rewritten to look like a
   * transport message. */
  expect_silent_drop(sealed, p, &pa, syn, (size_t)n, -1, "plain SYN",
                     T_START);
  syn[0] = 4;
  syn[1] = syn[2] = syn[3] = 0;
  expect_silent_drop(sealed, p, &pa, syn, (size_t)n, -1, "SYN as type 4",
                     T_START);
  tcpu_endpoint_del(plain);
  tcpu_endpoint_del(sealed);
}

/* ------------------------------------------------------- back to back */

typedef struct pair {
  tcpu_endpoint *ep[2]; /* 0 client, 1 server */
  tcpu_addr addr[2];
  tcpu_peer *peer[2]; /* each one's peer object for the other */
  tcpu_tstamp now;
  tcpu_conn *accepted;
  unsigned accepts, connects, closes;
  int last_err;
  tcpu_conn *last_closed;
  int bad_destination; /* a datagram went to a non-UDP address */
  unsigned drop_every;    /* lose every n-th client datagram over 100 bytes */
  unsigned data_dgrams;   /* client datagrams over 100 bytes */
  unsigned full_dgrams;   /* of those, as long as the MSS allows */
  unsigned misaligned;    /* full ones whose plaintext is no multiple of 128 */
} pair;

static int p_accept(tcpu_conn *l, void *ud) {
  pair *p = ud;
  tcpu_conn *c;
  while (tcpu_accept(l, &c) == 0) {
    p->accepts++;
    p->accepted = c;
  }
  return 0;
}

static int p_connected(tcpu_conn *c, void *ud) {
  (void)c;
  ((pair *)ud)->connects++;
  return 0;
}

static int p_closed(tcpu_conn *c, int err, void *ud) {
  pair *p = ud;
  p->closes++;
  p->last_err = err;
  p->last_closed = c;
  return 0;
}

static void pair_init_bufs(pair *p, uint32_t bufsize) {
  memset(p, 0, sizeof *p);
  tcpu_callbacks cb = {.accept = p_accept, .connected = p_connected,
                       .closed = p_closed};
  uint8_t priv[2][TCPU_KEY_LEN], pub[2][TCPU_KEY_LEN];
  for (int i = 0; i < 2; i++) {
    key(i + 1, priv[i], pub[i]);
    p->ep[i] = make_ep_bufs(TCPU_MODE_SEALED, i + 1, &cb, p, bufsize);
    p->addr[i] = udp((uint8_t)(i + 1), (uint16_t)(40000 + i));
  }
  p->now = T_START;
  assert_int_equal(tcpu_peer_add(p->ep[0], pub[1], NULL, &p->addr[1],
                                 &p->peer[0], p->now),
                   0);
  assert_int_equal(
      tcpu_peer_add(p->ep[1], pub[0], NULL, NULL, &p->peer[1], p->now), 0);
}

static void pair_init(pair *p) { pair_init_bufs(p, 0); }

/* A client datagram on its way: counted, and lost if drop_every says so.
 * A full data segment is the 32-byte envelope around 20 header bytes and
 * the MSS (which counts the timestamp option). */
static int pair_deliver(pair *p, int from, size_t n) {
  if (from != 0 || n <= 100)
    return 1;
  p->data_dgrams++;
  tcpu_conn_info ci;
  if (p->accepted != NULL) {
    tcpu_conn_get_info(p->accepted, &ci);
    if (n == 32 + 20 + (size_t)ci.rcv_mss) {
      p->full_dgrams++;
      if ((n - 32) % 128 != 0)
        p->misaligned++;
    }
  }
  return p->drop_every == 0 || p->data_dgrams % p->drop_every != 0;
}

static void pair_free(pair *p) {
  tcpu_endpoint_del(p->ep[0]);
  tcpu_endpoint_del(p->ep[1]);
}

/* Moves every due datagram across an instant wire, timers included,
 * until quiet or `until`. */
static void pair_run(pair *p, tcpu_tstamp until) {
  uint8_t buf[2048];
  for (int steps = 0; steps < 100000; steps++) {
    int moved = 0;
    for (int i = 0; i < 2; i++) {
      tcpu_addr to;
      tcpu_ssize n;
      for (int k = 0; k < 10000 &&
                      (n = tcpu_endpoint_send(p->ep[i], &to, buf, sizeof buf,
                                              p->now)) > 0;
           k++) {
        moved++;
        if (to.family != TCPU_AF_INET && to.family != TCPU_AF_INET6)
          p->bad_destination = 1;
        assert_true(tcpu_addr_equal(&to, &p->addr[!i]));
        if (!pair_deliver(p, i, (size_t)n))
          continue;
        assert_int_equal(
            tcpu_endpoint_recv(p->ep[!i], &p->addr[i], buf, (size_t)n, p->now),
            0);
      }
    }
    if (moved)
      continue;
    tcpu_tstamp e0 = tcpu_endpoint_get_expiry(p->ep[0]);
    tcpu_tstamp e1 = tcpu_endpoint_get_expiry(p->ep[1]);
    tcpu_tstamp e = e0 < e1 ? e0 : e1;
    if (e == TCPU_TSTAMP_NONE || e > until)
      return;
    if (e > p->now)
      p->now = e;
    tcpu_endpoint_handle_expiry(p->ep[0], p->now);
    tcpu_endpoint_handle_expiry(p->ep[1], p->now);
  }
  fail_msg("no quiescence after 100000 steps");
}

static void pair_open(pair *p, tcpu_conn **cl) {
  tcpu_conn *l;
  assert_int_equal(tcpu_listen(p->ep[1], 80, 4, &l, p->now), 0);
  tcpu_addr syn;
  tcpu_peer_addr(p->peer[0], &syn);
  assert_int_equal(tcpu_connect(p->ep[0], &syn, 0, 80, cl, p->now), 0);
  pair_run(p, p->now + TCPU_NS_PER_S);
  assert_int_equal(tcpu_conn_state(*cl), TCPU_ESTABLISHED);
  assert_int_equal(p->accepts, 1);
  assert_non_null(p->accepted);
}

static void test_sealed_pair_accepted_conn_names_peer_by_key(void **state) {
  (void)state;
  pair p;
  pair_init(&p);
  tcpu_conn *c;
  pair_open(&p, &c);
  assert_false(p.bad_destination);
  assert_int_equal(p.connects, 1);

  /* The server's connection names the client by its key. */
  tcpu_addr want;
  tcpu_peer_addr(p.peer[1], &want);
  tcpu_conn_info ci;
  tcpu_conn_get_info(p.accepted, &ci);
  assert_int_equal(ci.peer.family, TCPU_AF_PEER);
  assert_true(tcpu_addr_equal(&ci.peer, &want));
  assert_ptr_equal(tcpu_peer_by_addr(p.ep[1], &ci.peer), p.peer[1]);
  /* The MSS leaves room for the envelope (1500 - 20 - 8 - 32 - 20 =
   * 1420), cut so a full segment's plaintext is 11 AEAD blocks of 128
   * bytes: 1408 - 20 = 1388, less 12 bytes of timestamps per segment. */
  assert_int_equal(ci.rcv_mss, 1388);
  assert_int_equal(ci.snd_mss, 1376);

  /* One handshake each way, the responder learnt the initiator's
   * endpoint from it. */
  tcpu_endpoint_stats s0, s1;
  tcpu_endpoint_get_stats(p.ep[0], &s0);
  tcpu_endpoint_get_stats(p.ep[1], &s1);
  assert_int_equal(s0.handshakes_initiated, 1);
  assert_int_equal(s1.handshakes_initiated, 0);
  assert_int_equal(s0.handshakes_done, 1);
  assert_int_equal(s1.handshakes_done, 1);
  tcpu_peer_info pi;
  tcpu_peer_get_info(p.peer[1], &pi);
  assert_true(tcpu_addr_equal(&pi.endpoint, &p.addr[0]));
  assert_int_equal(pi.session, 1);
  assert_int_equal(pi.handshakes, 1);
  assert_int_not_equal(pi.last_handshake, TCPU_TSTAMP_NONE);
  assert_int_equal(pi.handshaking, 0);

  /* Data both ways, byte-exact. */
  uint8_t out[20000], in[20000];
  for (size_t i = 0; i < sizeof out; i++)
    out[i] = (uint8_t)(i * 7 + 3);
  assert_int_equal(tcpu_conn_write(c, out, sizeof out, p.now),
                   (tcpu_ssize)sizeof out);
  pair_run(&p, p.now + TCPU_NS_PER_S);
  size_t got = 0;
  for (int k = 0; k < 100 && got < sizeof in; k++) {
    tcpu_ssize r = tcpu_conn_read(p.accepted, in + got, sizeof in - got,
                                  p.now);
    if (r <= 0)
      break;
    got += (size_t)r;
    pair_run(&p, p.now + TCPU_NS_PER_S);
  }
  assert_int_equal(got, sizeof out);
  assert_memory_equal(in, out, sizeof out);
  assert_false(p.bad_destination);
  tcpu_peer_get_info(p.peer[0], &pi);
  assert_true(pi.tx_bytes > sizeof out);
  tcpu_endpoint_get_stats(p.ep[1], &s1);
  assert_int_equal(s1.auth_failures + s1.replays_dropped + s1.drop_not_sealed,
                   0);
  pair_free(&p);
}

/* Sealed output seals data segments straight from the send buffer, with
 * the header written for a moment over the bytes before the payload
 * (endpoint.h, tcpu_splice).  A buffer that wraps many times, every
 * fifth data datagram lost so that resends read spliced-over bytes: the
 * stream arrives byte-exact, and full segments end on AEAD blocks. */
static void test_sealed_resends_from_spliced_send_buffer_exact(void **state) {
  (void)state;
  enum { BUF = 16384, TOTAL = 400000 };
  static uint8_t out[TOTAL], in[TOTAL];
  for (size_t i = 0; i < TOTAL; i++)
    out[i] = (uint8_t)(i * 131 + (i >> 9));
  pair p;
  pair_init_bufs(&p, BUF);
  tcpu_conn *c;
  pair_open(&p, &c);
  p.drop_every = 5;
  size_t sent = 0, got = 0;
  for (int round = 0; round < 20000 && got < TOTAL; round++) {
    if (sent < TOTAL) {
      tcpu_ssize w = tcpu_conn_write(c, out + sent, TOTAL - sent, p.now);
      if (w > 0)
        sent += (size_t)w;
    }
    pair_run(&p, p.now + 50 * TCPU_NS_PER_MS);
    tcpu_ssize r;
    while ((r = tcpu_conn_read(p.accepted, in + got, TOTAL - got, p.now)) > 0)
      got += (size_t)r;
  }
  assert_int_equal(got, TOTAL);
  assert_memory_equal(in, out, TOTAL);
  tcpu_conn_info ci;
  tcpu_conn_get_info(c, &ci);
  assert_true(ci.retransmits > 0);
  assert_true(p.full_dgrams > TOTAL / 1400 / 2);
  assert_int_equal(p.misaligned, 0);
  tcpu_endpoint_stats s1;
  tcpu_endpoint_get_stats(p.ep[1], &s1);
  assert_int_equal(s1.auth_failures + s1.replays_dropped, 0);
  pair_free(&p);
}

static void test_sealed_peer_remove_aborts_its_connections(void **state) {
  (void)state;
  pair p;
  pair_init(&p);
  tcpu_conn *c;
  pair_open(&p, &c);
  uint8_t pub[TCPU_KEY_LEN], priv[TCPU_KEY_LEN];
  key(2, priv, pub);
  tcpu_peer_remove(p.peer[0], p.now);
  assert_null(tcpu_peer_find(p.ep[0], pub));
  assert_int_equal(tcpu_conn_state(c), TCPU_CLOSED);
  assert_int_equal(tcpu_conn_error(c), TCPU_ERR_ABORTED);
  /* Callbacks run at the end of the endpoint's next driving call. */
  pair_run(&p, p.now + TCPU_NS_PER_S);
  assert_int_equal(p.closes, 1);
  assert_ptr_equal(p.last_closed, c);
  assert_int_equal(p.last_err, TCPU_ERR_ABORTED);
  uint8_t b = 0;
  assert_true(tcpu_conn_write(c, &b, 1, p.now) < 0);
  tcpu_conn_close(c, p.now);
  pair_run(&p, p.now + TCPU_NS_PER_S);
  pair_free(&p);
}

/* Transport messages that name a live session but do not authenticate:
 * counted as auth failures, nothing answered, the session unharmed. */
static void test_sealed_forged_transport_for_live_session_dropped(void **st) {
  (void)st;
  pair p;
  pair_init(&p);
  tcpu_conn *c;
  pair_open(&p, &c);
  /* Capture a real transport message from the client. */
  uint8_t b = 'x', msg[2048];
  assert_int_equal(tcpu_conn_write(c, &b, 1, p.now), 1);
  tcpu_addr to;
  tcpu_ssize n = tcpu_endpoint_send(p.ep[0], &to, msg, sizeof msg, p.now);
  assert_true(n > 32);
  assert_int_equal(msg[0], 4);
  uint8_t forged[2048];
  for (tcpu_ssize pos = 0; pos < n; pos++) {
    memcpy(forged, msg, (size_t)n);
    forged[pos] ^= 0x20;
    expect_silent_drop(p.ep[1], p.peer[1], &p.addr[0], forged, (size_t)n, -1,
                       "forged transport", p.now);
  }
  /* The original still goes through. */
  assert_int_equal(
      tcpu_endpoint_recv(p.ep[1], &p.addr[0], msg, (size_t)n, p.now), 0);
  uint8_t in[4];
  pair_run(&p, p.now + TCPU_NS_PER_S);
  assert_int_equal(tcpu_conn_read(p.accepted, in, sizeof in, p.now), 1);
  assert_int_equal(in[0], 'x');
  /* And again it is a replay. */
  tcpu_endpoint_stats a, z;
  tcpu_endpoint_get_stats(p.ep[1], &a);
  expect_silent_drop(p.ep[1], p.peer[1], &p.addr[0], msg, (size_t)n, -1,
                     "replayed transport", p.now);
  tcpu_endpoint_get_stats(p.ep[1], &z);
  assert_int_equal(z.replays_dropped, a.replays_dropped + 1);
  pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sealed_settings_default_plain_mode),
      cmocka_unit_test(test_sealed_endpoint_new_without_key_inval),
      cmocka_unit_test(test_sealed_endpoint_public_key_matches),
      cmocka_unit_test(test_sealed_keypair_public_is_x25519_of_private),
      cmocka_unit_test(test_sealed_peer_add_bad_arguments_inval),
      cmocka_unit_test(test_sealed_peer_add_same_key_twice_addrinuse),
      cmocka_unit_test(test_plain_peer_add_errors),
      cmocka_unit_test(test_sealed_peer_find_and_remove),
      cmocka_unit_test(test_sealed_peer_addr_is_synthetic),
      cmocka_unit_test(test_sealed_peer_set_endpoint_and_punch_errors),
      cmocka_unit_test(test_sealed_connect_names_peers_only),
      cmocka_unit_test(test_sealed_malformed_dropped_silently_counted_once),
      cmocka_unit_test(test_sealed_plain_syn_gets_no_answer),
      cmocka_unit_test(test_sealed_pair_accepted_conn_names_peer_by_key),
      cmocka_unit_test(test_sealed_resends_from_spliced_send_buffer_exact),
      cmocka_unit_test(test_sealed_peer_remove_aborts_its_connections),
      cmocka_unit_test(test_sealed_forged_transport_for_live_session_dropped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
