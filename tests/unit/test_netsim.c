/*
 * test_netsim.c — the lab's virtual-time driver (libtcpu/lab/netsim.c):
 * setup errors, how runs end (idle, time limit, step limit, predicate),
 * wake-ups, routing (unroutable, black holes), the DELIVER event and its
 * corrupted flag, the reordering jitter of the link, and replay from a
 * seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lab/netsim.h"

#define MS TCPU_NS_PER_MS
#define SEC TCPU_NS_PER_S
#define T0 (1000 * SEC)

typedef struct counts {
  unsigned ev[TCPU_NETSIM_EV_EXPIRY + 1];
  unsigned deliver_corrupted, deliver_reordered;
  uint64_t hash;
} counts;

static void count_trace(void *arg, const tcpu_netsim_trace_rec *r) {
  counts *c = arg;
  c->ev[r->ev]++;
  if (r->ev == TCPU_NETSIM_EV_DELIVER) {
    c->deliver_corrupted += r->corrupted;
    c->deliver_reordered += r->reordered;
  }
  uint64_t f[4] = {(uint64_t)r->ev, r->now, (uint64_t)r->len, r->arrive};
  const uint8_t *b = (const uint8_t *)f;
  for (size_t i = 0; i < sizeof(f); i++)
    c->hash = (c->hash ^ b[i]) * 0x100000001b3ull;
  for (size_t i = 0; r->data && i < r->len; i++)
    c->hash = (c->hash ^ r->data[i]) * 0x100000001b3ull;
}

static void addr(tcpu_addr *a, uint8_t last) {
  memset(a, 0, sizeof(*a));
  tcpu_addr_ipv4(a, (const uint8_t[]){10, 0, 0, last}, 9000);
}

static tcpu_endpoint *new_ep(uint8_t tag) {
  tcpu_settings s;
  tcpu_settings_default(&s);
  memset(s.secret, tag, sizeof(s.secret));
  tcpu_endpoint *ep = NULL;
  assert_int_equal(tcpu_endpoint_new(&ep, &s, NULL, NULL, T0), 0);
  return ep;
}

/* ---------------------------------------------------------------- setup */

static void test_netsim_setup_errors(void **state) {
  (void)state;
  tcpu_netsim sim;
  assert_int_equal(tcpu_netsim_init(&sim, 1, T0), 0);
  tcpu_addr a, b;
  addr(&a, 1);
  addr(&b, 2);
  assert_int_equal(tcpu_netsim_add_node(&sim, &a, NULL), 0);
  assert_int_equal(tcpu_netsim_add_node(&sim, &a, NULL), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_netsim_add_node(&sim, &b, NULL), 1);
  tcpu_link_cfg cfg = {.delay = MS};
  assert_int_equal(tcpu_netsim_add_link(&sim, 0, 0, &cfg), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_netsim_add_link(&sim, 0, 2, &cfg), TCPU_ERR_INVAL);
  tcpu_link_cfg bad = {.loss = 1.5};
  assert_int_equal(tcpu_netsim_add_link(&sim, 0, 1, &bad), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_netsim_add_link(&sim, 0, 1, &cfg), 0);
  assert_int_equal(tcpu_netsim_add_link(&sim, 0, 1, &cfg), TCPU_ERR_INVAL);
  assert_non_null(tcpu_netsim_get_link(&sim, 0, 1));
  assert_null(tcpu_netsim_get_link(&sim, 1, 0));
  assert_int_equal(tcpu_netsim_set_endpoint(&sim, 5, NULL), TCPU_ERR_INVAL);
  tcpu_netsim_free(&sim);
}

/* ---------------------------------------------------------------- runs */

static void test_netsim_empty_is_idle(void **state) {
  (void)state;
  tcpu_netsim sim;
  assert_int_equal(tcpu_netsim_init(&sim, 1, T0), 0);
  assert_true(tcpu_netsim_next_event(&sim) == TCPU_TSTAMP_NONE);
  assert_int_equal(tcpu_netsim_run(&sim, NULL, NULL, T0 + SEC, 100),
                   TCPU_NETSIM_IDLE);
  assert_true(sim.now == T0);
  tcpu_netsim_free(&sim);
}

static int stop_after_wake(tcpu_netsim *sim, void *arg) {
  tcpu_tstamp *seen = arg;
  if (sim->now >= 5 * MS + T0) {
    *seen = sim->now;
    return 1;
  }
  return 0;
}

static void test_netsim_wake_at_steps_there(void **state) {
  (void)state;
  tcpu_netsim sim;
  assert_int_equal(tcpu_netsim_init(&sim, 1, T0), 0);
  tcpu_netsim_wake_at(&sim, T0 + 9 * MS);
  tcpu_netsim_wake_at(&sim, T0 + 5 * MS); /* the earlier one is kept */
  assert_true(tcpu_netsim_next_event(&sim) == T0 + 5 * MS);
  tcpu_tstamp seen = 0;
  assert_int_equal(tcpu_netsim_run(&sim, stop_after_wake, &seen, T0 + SEC,
                                   100),
                   TCPU_NETSIM_DONE);
  assert_true(seen == T0 + 5 * MS);
  /* Reached, so cleared: nothing else is scheduled. */
  assert_true(tcpu_netsim_next_event(&sim) == TCPU_TSTAMP_NONE);
  assert_int_equal(sim.stats.steps, 1);
  tcpu_netsim_free(&sim);
}

static void test_netsim_time_limit_moves_clock(void **state) {
  (void)state;
  tcpu_netsim sim;
  assert_int_equal(tcpu_netsim_init(&sim, 1, T0), 0);
  tcpu_netsim_wake_at(&sim, T0 + 2 * SEC);
  assert_int_equal(tcpu_netsim_run(&sim, NULL, NULL, T0 + SEC, 100),
                   TCPU_NETSIM_TIME_LIMIT);
  assert_true(sim.now == T0 + SEC);
  /* The wake-up is still pending and runs later. */
  assert_int_equal(tcpu_netsim_step(&sim, T0 + 3 * SEC), 1);
  assert_true(sim.now == T0 + 2 * SEC);
  tcpu_netsim_free(&sim);
}

/* A SYN to a black hole is retried until the client gives up: a run that
 * keeps the simulation busy long enough to hit a step limit. */
static void test_netsim_step_limit_and_black_hole(void **state) {
  (void)state;
  tcpu_netsim sim;
  assert_int_equal(tcpu_netsim_init(&sim, 3, T0), 0);
  tcpu_addr a, b;
  addr(&a, 1);
  addr(&b, 2);
  tcpu_endpoint *ep = new_ep(1);
  assert_int_equal(tcpu_netsim_add_node(&sim, &a, ep), 0);
  assert_int_equal(tcpu_netsim_add_node(&sim, &b, NULL), 1);
  tcpu_link_cfg cfg = {.delay = 10 * MS};
  assert_int_equal(tcpu_netsim_add_path(&sim, 0, 1, &cfg, NULL), 0);
  tcpu_conn *c = NULL;
  assert_int_equal(tcpu_connect(ep, &b, 0, 80, &c, T0), 0);
  assert_int_equal(tcpu_netsim_run(&sim, NULL, NULL, T0 + 3600 * SEC, 3),
                   TCPU_NETSIM_STEP_LIMIT);
  assert_int_equal(sim.stats.steps, 3);
  assert_int_equal(tcpu_netsim_run(&sim, NULL, NULL, T0 + 3600 * SEC,
                                   1000000),
                   TCPU_NETSIM_IDLE);
  assert_int_equal(tcpu_conn_state(c), TCPU_CLOSED);
  assert_int_equal(tcpu_conn_error(c), TCPU_ERR_TIMEDOUT);
  assert_true(sim.stats.swallowed >= 2);
  assert_int_equal(sim.stats.delivered, 0);
  tcpu_conn_close(c, sim.now);
  tcpu_netsim_free(&sim);
  tcpu_endpoint_del(ep);
}

static void test_netsim_unroutable(void **state) {
  (void)state;
  tcpu_netsim sim;
  assert_int_equal(tcpu_netsim_init(&sim, 1, T0), 0);
  tcpu_addr a, nowhere;
  addr(&a, 1);
  addr(&nowhere, 99);
  tcpu_endpoint *ep = new_ep(1);
  assert_int_equal(tcpu_netsim_add_node(&sim, &a, ep), 0);
  counts n;
  memset(&n, 0, sizeof(n));
  tcpu_netsim_set_trace(&sim, count_trace, &n);
  tcpu_conn *c = NULL;
  assert_int_equal(tcpu_connect(ep, &nowhere, 0, 80, &c, T0), 0);
  assert_int_equal(tcpu_netsim_drain(&sim), 0);
  assert_int_equal(sim.stats.sent, 1);
  assert_int_equal(sim.stats.unroutable, 1);
  assert_int_equal(n.ev[TCPU_NETSIM_EV_UNROUTABLE], 1);
  assert_int_equal(n.ev[TCPU_NETSIM_EV_SEND], 0);
  tcpu_conn_abort(c, sim.now);
  tcpu_netsim_free(&sim);
  tcpu_endpoint_del(ep);
}

/* -------------------------------------------------- delivery and faults */

typedef struct hs {
  tcpu_netsim sim;
  tcpu_endpoint *ep_a, *ep_b;
  tcpu_conn *listener, *client;
  counts n;
} hs;

/* A handshake a -> b over links with cfg both ways, run to idleness
 * (it never completes when every datagram is corrupted). */
static void handshake(hs *h, uint64_t seed, const tcpu_link_cfg *cfg) {
  memset(h, 0, sizeof(*h));
  assert_int_equal(tcpu_netsim_init(&h->sim, seed, T0), 0);
  tcpu_netsim_set_trace(&h->sim, count_trace, &h->n);
  h->n.hash = 0xcbf29ce484222325ull;
  tcpu_addr a, b;
  addr(&a, 1);
  addr(&b, 2);
  h->ep_a = new_ep(1);
  h->ep_b = new_ep(2);
  assert_int_equal(tcpu_netsim_add_node(&h->sim, &a, h->ep_a), 0);
  assert_int_equal(tcpu_netsim_add_node(&h->sim, &b, h->ep_b), 1);
  assert_int_equal(tcpu_netsim_add_path(&h->sim, 0, 1, cfg, NULL), 0);
  assert_int_equal(tcpu_listen(h->ep_b, 80, 4, &h->listener, T0), 0);
  assert_int_equal(tcpu_connect(h->ep_a, &b, 0, 80, &h->client, T0), 0);
  int how = tcpu_netsim_run(&h->sim, NULL, NULL, T0 + 3600 * SEC, 1000000);
  assert_int_equal(how, TCPU_NETSIM_IDLE);
}

static void hs_free(hs *h) {
  tcpu_netsim_free(&h->sim);
  tcpu_endpoint_del(h->ep_a);
  tcpu_endpoint_del(h->ep_b);
}

static void test_netsim_clean_handshake_events(void **state) {
  (void)state;
  hs h;
  tcpu_link_cfg cfg = {.delay = 10 * MS};
  handshake(&h, 1, &cfg);
  /* SYN, SYN-ACK, ACK; idle afterwards with the connection established
   * (keepalive is off by default). */
  assert_int_equal(h.sim.stats.sent, 3);
  assert_int_equal(h.sim.stats.delivered, 3);
  assert_int_equal(h.n.ev[TCPU_NETSIM_EV_SEND], 3);
  assert_int_equal(h.n.ev[TCPU_NETSIM_EV_DELIVER], 3);
  assert_int_equal(h.n.deliver_corrupted, 0);
  assert_int_equal(h.sim.stats.delivered_corrupted, 0);
  assert_int_equal(tcpu_conn_state(h.client), TCPU_ESTABLISHED);
  assert_true(h.sim.now == T0 + 30 * MS);
  hs_free(&h);
}

static void test_netsim_corrupted_flag_and_count(void **state) {
  (void)state;
  hs h;
  tcpu_link_cfg cfg = {.delay = 10 * MS, .corrupt = 1.0};
  handshake(&h, 7, &cfg);
  /* Every copy is damaged: each delivery says so, and each is dropped as
   * malformed; the SYN is retried until the client gives up. */
  assert_true(h.sim.stats.delivered > 1);
  assert_int_equal(h.n.deliver_corrupted, h.n.ev[TCPU_NETSIM_EV_DELIVER]);
  assert_int_equal(h.sim.stats.delivered_corrupted, h.sim.stats.delivered);
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(h.ep_b, &st);
  assert_int_equal(st.drop_bad_checksum + st.drop_bad_offset,
                   h.sim.stats.delivered);
  assert_int_equal(tcpu_conn_error(h.client), TCPU_ERR_TIMEDOUT);
  hs_free(&h);
}

static void test_netsim_same_seed_same_events(void **state) {
  (void)state;
  tcpu_link_cfg cfg = {.delay = 10 * MS, .jitter = 3 * MS, .loss = 0.3,
                       .dup = 0.3, .reorder = 0.3, .reorder_delay = 5 * MS,
                       .reorder_jitter = 5 * MS, .corrupt = 0.1};
  hs h1, h2, h3;
  handshake(&h1, 42, &cfg);
  handshake(&h2, 42, &cfg);
  handshake(&h3, 43, &cfg);
  assert_true(h1.n.hash == h2.n.hash);
  assert_true(h1.sim.now == h2.sim.now);
  assert_true(h1.n.hash != h3.n.hash);
  hs_free(&h1);
  hs_free(&h2);
  hs_free(&h3);
}

/* ------------------------------------------------------------ the link */

static void test_link_reorder_jitter_bounds(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.delay = 10 * MS, .reorder = 1.0,
                       .reorder_delay = 5 * MS, .reorder_jitter = 10 * MS};
  assert_int_equal(tcpu_link_init(&l, &cfg, 5), 0);
  uint8_t d[8] = {0};
  tcpu_tstamp lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < 2000; i++) {
    assert_int_equal(tcpu_link_submit(&l, d, sizeof(d), T0),
                     TCPU_LINK_QUEUED);
    tcpu_tstamp t = tcpu_link_next_arrival(&l);
    uint8_t out[8];
    size_t len = 0;
    assert_int_equal(tcpu_link_dequeue(&l, t, out, sizeof(out), &len), 1);
    if (t < lo)
      lo = t;
    if (t > hi)
      hi = t;
  }
  /* Uniform over [15, 25] ms: 2000 draws come close to both ends. */
  assert_true(lo >= T0 + 15 * MS && lo < T0 + 15 * MS + 100000);
  assert_true(hi <= T0 + 25 * MS && hi > T0 + 25 * MS - 100000);
  assert_int_equal(l.stats.reordered, 2000);
  tcpu_link_free(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_netsim_setup_errors),
      cmocka_unit_test(test_netsim_empty_is_idle),
      cmocka_unit_test(test_netsim_wake_at_steps_there),
      cmocka_unit_test(test_netsim_time_limit_moves_clock),
      cmocka_unit_test(test_netsim_step_limit_and_black_hole),
      cmocka_unit_test(test_netsim_unroutable),
      cmocka_unit_test(test_netsim_clean_handshake_events),
      cmocka_unit_test(test_netsim_corrupted_flag_and_count),
      cmocka_unit_test(test_netsim_same_seed_same_events),
      cmocka_unit_test(test_link_reorder_jitter_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
