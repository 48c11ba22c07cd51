/*
 * test_nat.c — NAT traversal in the core (issue 8): persistent keepalives
 * in both modes, hole punching, simultaneous open through two filtering
 * NATs with the sealed handshake's tie-break, and what a NAT rebinding
 * does to plain and sealed connections.
 *
 * Two endpoints exchange datagrams through a toy model of two NATs with
 * endpoint-independent mapping and address-and-port-dependent filtering
 * (RFC 4787 §4.1, §5), the kind nftables masquerade makes: each host has
 * a public address; a datagram into a host is let through only after that
 * host has sent one to the source.  Time is virtual: 1 ms a round, zero
 * latency.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcpu/tcpu.h"

#define MS TCPU_NS_PER_MS
#define WALL ((uint64_t)1700000000 * TCPU_NS_PER_S)

typedef struct host {
  tcpu_endpoint *ep;
  tcpu_addr pub;        /* what the other side sees */
  int filtering;        /* behind a NAT that filters */
  int opened;           /* this host has sent to the other's public addr */
  tcpu_conn *conn, *accepted;
  uint64_t dropped_by_nat;
  size_t got;
  uint8_t rx[1 << 16];
} host;

typedef struct world {
  host h[2];
  tcpu_tstamp now;
} world;

static int on_accept(tcpu_conn *l, void *ud) {
  host *h = ud;
  return tcpu_accept(l, &h->accepted) == 0 ? 0 : -1;
}

static void host_init(world *w, int i, int sealed, const uint8_t *priv,
                      int filtering) {
  host *h = &w->h[i];
  tcpu_settings s;
  tcpu_callbacks cb = {0};
  tcpu_settings_default(&s);
  memset(s.secret, i + 1, sizeof s.secret);
  s.wall_clock_offset = WALL;
  if (sealed) {
    s.mode = TCPU_MODE_SEALED;
    memcpy(s.private_key, priv, TCPU_KEY_LEN);
  }
  cb.accept = on_accept;
  assert_int_equal(tcpu_endpoint_new(&h->ep, &s, &cb, h, w->now), 0);
  memset(&h->pub, 0, sizeof h->pub);
  h->pub.family = TCPU_AF_INET;
  h->pub.ip[0] = 198;
  h->pub.ip[1] = 51;
  h->pub.ip[3] = (uint8_t)(10 + i);
  h->pub.port = (uint16_t)(40000 + i);
  h->filtering = filtering;
}

/* One round: timers, then every datagram each side has, through the
 * NATs. */
static void round_trip(world *w) {
  uint8_t buf[2048];
  w->now += MS;
  for (int i = 0; i < 2; i++)
    assert_true(tcpu_endpoint_handle_expiry(w->h[i].ep, w->now) >= 0);
  for (int i = 0; i < 2; i++) {
    host *src = &w->h[i], *dst = &w->h[!i];
    tcpu_addr to;
    tcpu_ssize n;
    for (int k = 0; k < 1000; k++) {
      n = tcpu_endpoint_send(src->ep, &to, buf, sizeof buf, w->now);
      assert_true(n >= 0);
      if (n == 0)
        break;
      assert_true(tcpu_addr_equal(&to, &dst->pub));
      src->opened = 1;
      if (dst->filtering && !dst->opened) {
        dst->dropped_by_nat++;
        continue;
      }
      assert_int_equal(
          tcpu_endpoint_recv(dst->ep, &src->pub, buf, (size_t)n, w->now), 0);
    }
  }
  for (int i = 0; i < 2; i++) {
    host *h = &w->h[i];
    tcpu_conn *c = h->accepted ? h->accepted : h->conn;
    tcpu_ssize n;
    while (c != NULL &&
           (n = tcpu_conn_read(c, h->rx + h->got, sizeof h->rx - h->got,
                               w->now)) > 0)
      h->got += (size_t)n;
  }
}

static void world_free(world *w) {
  for (int i = 0; i < 2; i++)
    tcpu_endpoint_del(w->h[i].ep);
}

static tcpu_endpoint_stats stats(const host *h) {
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(h->ep, &st);
  return st;
}

/* Sealed pair: each knows the other by key and public address. */
static void sealed_pair(world *w, int filtering, tcpu_peer *peers[2]) {
  uint8_t priv[2][32], pub[2][32];
  for (int i = 0; i < 2; i++)
    assert_int_equal(tcpu_keypair(priv[i], pub[i]), 0);
  for (int i = 0; i < 2; i++)
    host_init(w, i, 1, priv[i], filtering);
  for (int i = 0; i < 2; i++)
    assert_int_equal(tcpu_peer_add(w->h[i].ep, pub[!i], NULL, &w->h[!i].pub,
                                   &peers[i], w->now),
                     0);
}

/* Rounds until both hosts' connections are established (at most max);
 * returns how many it took, and fails unless both are. */
static int until_established(world *w, int max) {
  int rounds = 0;
  while (rounds < max &&
         (tcpu_conn_state(w->h[0].conn) != TCPU_ESTABLISHED ||
          tcpu_conn_state(w->h[1].conn) != TCPU_ESTABLISHED)) {
    round_trip(w);
    rounds++;
  }
  assert_int_equal(tcpu_conn_state(w->h[0].conn), TCPU_ESTABLISHED);
  assert_int_equal(tcpu_conn_state(w->h[1].conn), TCPU_ESTABLISHED);
  return rounds;
}

/* msg from host `from` arrives at the other, whole. */
static void message_gets_through(world *w, int from, const char *msg) {
  size_t len = strlen(msg) + 1;
  host *dst = &w->h[!from];
  assert_int_equal(tcpu_conn_write(w->h[from].conn, (const uint8_t *)msg, len,
                                   w->now),
                   len);
  for (int i = 0; i < 100; i++)
    round_trip(w);
  assert_int_equal(dst->got, len);
  assert_memory_equal(dst->rx, msg, len);
}

/* Each host punches towards its peer and dials it from and to port
 * 7000; host 1 starts `lag` rounds after host 0. */
static void dial_each_other(world *w, tcpu_peer *p[2], int lag) {
  for (int i = 0; i < 2; i++) {
    tcpu_addr a;
    tcpu_peer_addr(p[i], &a);
    assert_int_equal(tcpu_peer_punch(p[i], w->now), 0);
    assert_int_equal(tcpu_connect(w->h[i].ep, &a, 7000, 7000, &w->h[i].conn,
                                  w->now),
                     0);
    for (int r = 0; i == 0 && r < lag; r++)
      round_trip(w);
  }
}

/* Both hosts plain, each knowing the other as a peer. */
static void plain_pair(world *w, int filtering, tcpu_peer *p[2]) {
  host_init(w, 0, 0, NULL, filtering);
  host_init(w, 1, 0, NULL, filtering);
  for (int i = 0; i < 2; i++)
    assert_int_equal(tcpu_peer_add(w->h[i].ep, NULL, NULL, &w->h[!i].pub,
                                   &p[i], w->now),
                     0);
}

/* ------------------------------------------------------------ keepalive */

static void test_plain_persistent_keepalive(void **state) {
  (void)state;
  world w = {.now = TCPU_NS_PER_S};
  tcpu_peer *p;
  host_init(&w, 0, 0, NULL, 0);
  host_init(&w, 1, 0, NULL, 0);
  assert_int_equal(tcpu_peer_add(w.h[0].ep, NULL, NULL, &w.h[1].pub, &p,
                                 w.now),
                   0);
  /* Off by default: a minute of silence. */
  for (int i = 0; i < 60000; i++)
    round_trip(&w);
  assert_int_equal(stats(&w.h[1]).keepalives_received, 0);
  tcpu_peer_set_persistent_keepalive(p, 25 * TCPU_NS_PER_S, w.now);
  for (int i = 0; i < 100000; i++) /* 100 s */
    round_trip(&w);
  assert_int_equal(stats(&w.h[0]).keepalives_sent, 4);
  assert_int_equal(stats(&w.h[1]).keepalives_received, 4);
  tcpu_peer_info pi;
  tcpu_peer_get_info(p, &pi);
  assert_int_equal(pi.tx_bytes, 4);
  assert_int_equal(pi.persistent_keepalive, 25 * TCPU_NS_PER_S);
  tcpu_peer *back;
  assert_int_equal(tcpu_peer_add(w.h[1].ep, NULL, NULL, &w.h[0].pub, &back,
                                 w.now),
                   0);
  for (int i = 0; i < 26000; i++)
    round_trip(&w);
  tcpu_peer_get_info(back, &pi);
  assert_int_equal(pi.rx_bytes, 1);
  assert_true(w.now - pi.last_received < 26 * TCPU_NS_PER_S);
  /* Keepalives are not TCP: nothing answered, nothing counted as bad. */
  assert_int_equal(stats(&w.h[1]).drop_short, 0);
  assert_int_equal(stats(&w.h[1]).dgrams_out, 0);
  tcpu_peer_set_persistent_keepalive(p, 0, w.now);
  for (int i = 0; i < 60000; i++)
    round_trip(&w);
  assert_int_equal(stats(&w.h[1]).keepalives_received, 5);
  world_free(&w);
}

static void test_sealed_persistent_keepalive(void **state) {
  (void)state;
  world w = {.now = TCPU_NS_PER_S};
  tcpu_peer *peers[2];
  sealed_pair(&w, 0, peers);
  tcpu_peer_set_persistent_keepalive(peers[0], 25 * TCPU_NS_PER_S, w.now);
  for (int i = 0; i < 80000; i++) /* 80 s */
    round_trip(&w);
  /* The first keepalive needs keys: a handshake, then one per 25 s. */
  assert_int_equal(stats(&w.h[0]).handshakes_done, 1);
  assert_true(stats(&w.h[1]).keepalives_received >= 3);
  tcpu_peer_info pi;
  tcpu_peer_get_info(peers[1], &pi);
  assert_true(pi.session);
  assert_true(tcpu_addr_equal(&pi.endpoint, &w.h[0].pub));
  world_free(&w);
}

/* --------------------------------------------------------- hole punching */

static void test_plain_punch_schedule(void **state) {
  (void)state;
  world w = {.now = TCPU_NS_PER_S};
  tcpu_peer *p;
  host_init(&w, 0, 0, NULL, 0);
  host_init(&w, 1, 0, NULL, 0);
  assert_int_equal(tcpu_peer_add(w.h[0].ep, NULL, NULL, &w.h[1].pub, &p,
                                 w.now),
                   0);
  assert_int_equal(tcpu_peer_punch(p, w.now), 0);
  uint64_t at[8];
  int seen = 0;
  uint64_t last = 0, start = w.now;
  for (int i = 0; i < 3000; i++) {
    round_trip(&w);
    uint64_t k = stats(&w.h[1]).keepalives_received;
    if (k != last && seen < 8)
      at[seen++] = w.now - start;
    last = k;
  }
  /* 0, 100, 300, 700 and 1500 ms; the first leaves with the first round. */
  assert_int_equal(seen, 5);
  const uint64_t want[5] = {1, 100, 300, 700, 1500};
  for (int i = 0; i < 5; i++)
    assert_true(at[i] / MS == want[i] || at[i] / MS == want[i] + 1);
  /* Without an endpoint there is nowhere to punch. */
  tcpu_peer *q;
  tcpu_addr other = w.h[1].pub;
  other.port++;
  assert_int_equal(tcpu_peer_add(w.h[0].ep, NULL, NULL, &other, &q, w.now),
                   0);
  assert_int_equal(tcpu_peer_add(w.h[0].ep, NULL, NULL, &other, NULL, w.now),
                   TCPU_ERR_ADDRINUSE);
  assert_int_equal(tcpu_peer_punch(NULL, w.now), TCPU_ERR_INVAL);
  world_free(&w);
}

/* Both behind filtering NATs, both dial the same port pair at once: the
 * first SYNs die at the far NAT, the punch opens both, and a simultaneous
 * open (RFC 9293 §3.5, figure 8) connects them. */
static void test_plain_simultaneous_open_through_nats(void **state) {
  (void)state;
  world w = {.now = TCPU_NS_PER_S};
  tcpu_peer *p[2];
  plain_pair(&w, 1, p);
  dial_each_other(&w, p, 0);
  int rounds = until_established(&w, 5000);
  /* Host 0's first datagrams met a closed NAT. */
  assert_true(w.h[1].dropped_by_nat > 0);
  assert_true(rounds < 10);
  message_gets_through(&w, 0, "through two NATs");
  world_free(&w);
}

/* No NAT in between and one side late: its peer's SYN arrives before it
 * has heard of the peer and is answered with RST; the early side, still
 * punching, does not take that as a refusal, and its SYN's retransmission
 * meets the late side's SYN_SENT: still one connection. */
static void test_plain_punch_late_side_not_refused(void **state) {
  (void)state;
  world w = {.now = TCPU_NS_PER_S};
  tcpu_peer *p[2];
  plain_pair(&w, 0, p);
  dial_each_other(&w, p, 50); /* host 1 hears 50 ms later */
  until_established(&w, 3000);
  assert_int_equal(stats(&w.h[1]).rst_sent, 1);
  /* Outside the punch window (3 s) a RST refuses, as always. */
  for (int r = 0; r < 3000; r++)
    round_trip(&w);
  tcpu_conn *c;
  assert_int_equal(tcpu_connect(w.h[0].ep, &w.h[1].pub, 7001, 7001, &c,
                                w.now),
                   0);
  for (int r = 0; r < 100; r++)
    round_trip(&w);
  assert_int_equal(tcpu_conn_error(c), TCPU_ERR_REFUSED);
  assert_int_equal(stats(&w.h[1]).rst_sent, 2);
  tcpu_conn_close(c, w.now);
  world_free(&w);
}

/* Sealed: both punch and dial at once, so both send initiations.  The
 * tie-break lets exactly one handshake finish, within a few rounds, not
 * after REKEY_TIMEOUT (5 s). */
static void sealed_simultaneous(int filtering) {
  world w = {.now = TCPU_NS_PER_S};
  tcpu_peer *peers[2];
  sealed_pair(&w, filtering, peers);
  dial_each_other(&w, peers, 0);
  tcpu_conn_info ci;
  tcpu_conn_get_info(w.h[0].conn, &ci);
  assert_int_equal(ci.peer.family, TCPU_AF_PEER);
  int rounds = until_established(&w, 10000);
  assert_true(rounds < 200); /* the punch schedule, not REKEY_TIMEOUT */
  assert_int_equal(stats(&w.h[0]).handshakes_done, 1);
  assert_int_equal(stats(&w.h[1]).handshakes_done, 1);
  assert_int_equal(stats(&w.h[0]).handshakes_failed +
                       stats(&w.h[1]).handshakes_failed,
                   0);
  message_gets_through(&w, 1, "sealed through two NATs");
  world_free(&w);
}

static void test_sealed_simultaneous_initiation(void **state) {
  (void)state;
  sealed_simultaneous(0); /* both initiations arrive */
}

static void test_sealed_simultaneous_initiation_nat(void **state) {
  (void)state;
  sealed_simultaneous(1); /* the first dies at the far NAT */
}

/* ------------------------------------------------------------- rebinding */

static void transfer_then_rebind(world *w, int sealed, size_t total) {
  static uint8_t data[1 << 16];
  size_t sent = 0;
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)(i * 31 + 7);
  assert_true(total <= sizeof data);
  for (int i = 0; i < 20000 && w->h[1].got < total; i++) {
    if (sent < total && tcpu_conn_state(w->h[0].conn) == TCPU_ESTABLISHED) {
      tcpu_ssize n = tcpu_conn_write(w->h[0].conn, data + sent,
                                     (total - sent) < 1000 ? total - sent
                                                           : 1000,
                                     w->now);
      if (n > 0)
        sent += (size_t)n;
    }
    if (sent >= total / 2 && w->h[0].pub.port == 40000) {
      w->h[0].pub.port = 41234; /* the NAT gave the client a new port */
      (void)sealed;
    }
    round_trip(w);
    if (tcpu_conn_state(w->h[0].conn) == TCPU_CLOSED)
      break;
  }
  assert_memory_equal(w->h[1].rx, data, w->h[1].got);
}

static void test_plain_rebinding_resets(void **state) {
  (void)state;
  world w = {.now = TCPU_NS_PER_S};
  tcpu_conn *l;
  host_init(&w, 0, 0, NULL, 0);
  host_init(&w, 1, 0, NULL, 0);
  assert_int_equal(tcpu_listen(w.h[1].ep, 80, 8, &l, w.now), 0);
  assert_int_equal(tcpu_connect(w.h[0].ep, &w.h[1].pub, 0, 80, &w.h[0].conn,
                                w.now),
                   0);
  transfer_then_rebind(&w, 0, 60000);
  /* Plain mode keys connections by UDP address: the server sees a
   * stranger and answers RST (RFC 9293 §3.10.7.1), which the client
   * accepts — a clean ECONNRESET, not a hang. */
  assert_int_equal(tcpu_conn_state(w.h[0].conn), TCPU_CLOSED);
  assert_int_equal(tcpu_conn_error(w.h[0].conn), TCPU_ERR_RESET);
  assert_true(w.h[1].got < 60000);
  assert_true(stats(&w.h[1]).rst_sent >= 1);
  tcpu_conn_close(w.h[0].conn, w.now);
  world_free(&w);
}

static void test_sealed_rebinding_survives(void **state) {
  (void)state;
  world w = {.now = TCPU_NS_PER_S};
  tcpu_peer *peers[2];
  tcpu_conn *l;
  tcpu_addr a;
  sealed_pair(&w, 0, peers);
  assert_int_equal(tcpu_listen(w.h[1].ep, 80, 8, &l, w.now), 0);
  tcpu_peer_addr(peers[0], &a);
  assert_int_equal(tcpu_connect(w.h[0].ep, &a, 0, 80, &w.h[0].conn, w.now),
                   0);
  transfer_then_rebind(&w, 1, 60000);
  assert_int_equal(w.h[1].got, 60000);
  assert_int_equal(tcpu_conn_state(w.h[0].conn), TCPU_ESTABLISHED);
  tcpu_peer_info pi;
  tcpu_peer_get_info(peers[1], &pi);
  assert_int_equal(pi.endpoint.port, 41234);
  assert_int_equal(pi.roams, 1);
  assert_int_equal(stats(&w.h[1]).roams, 1);
  world_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_persistent_keepalive),
      cmocka_unit_test(test_sealed_persistent_keepalive),
      cmocka_unit_test(test_plain_punch_schedule),
      cmocka_unit_test(test_plain_simultaneous_open_through_nats),
      cmocka_unit_test(test_plain_punch_late_side_not_refused),
      cmocka_unit_test(test_sealed_simultaneous_initiation),
      cmocka_unit_test(test_sealed_simultaneous_initiation_nat),
      cmocka_unit_test(test_plain_rebinding_resets),
      cmocka_unit_test(test_sealed_rebinding_survives),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
