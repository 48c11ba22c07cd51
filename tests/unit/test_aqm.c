/*
 * test_aqm.c — the lab's bottleneck queue (libtcpu/lab/aqm.c): the
 * constant-rate server and its limits, CoDel per RFC 8289 (when it starts
 * dropping, how the drop spacing shrinks, when it stops, the MAXPACKET
 * rule), RED's three regions, and that the result does not depend on how
 * often the owner calls tcpu_aqm_advance; and the queue inside the link
 * model (link.c): drops reported, trace-paced arrivals, reconfiguration.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lab/aqm.h"
#include "lab/link.h"

#define MS TCPU_NS_PER_MS
#define US ((tcpu_duration)1000)
#define T0 (1000 * TCPU_NS_PER_S)
#define MAXOUT 200000

typedef struct sink {
  size_t n, drops, served;
  uintptr_t pkt[MAXOUT];
  tcpu_tstamp t[MAXOUT];
  int dropped[MAXOUT];
} sink;

static sink S1, S2;

static void on_out(void *arg, void *pkt, int dropped, tcpu_tstamp t) {
  sink *s = arg;
  assert_true(s->n < MAXOUT);
  s->pkt[s->n] = (uintptr_t)pkt;
  s->t[s->n] = t;
  s->dropped[s->n] = dropped;
  s->n++;
  if (dropped)
    s->drops++;
  else
    s->served++;
}

static void reset(sink *s) { memset(s, 0, sizeof(*s)); }

/* Offers n packets of `wire` bytes, one every gap from t0, advancing the
 * queue before each as the link does; packets are numbered from 1. */
static void offer(tcpu_aqm *q, sink *s, size_t n, uint32_t wire,
                  tcpu_tstamp t0, tcpu_duration gap) {
  for (size_t i = 0; i < n; i++) {
    tcpu_tstamp now = t0 + i * gap;
    tcpu_aqm_advance(q, now, on_out, s);
    tcpu_aqm_enqueue(q, (void *)(uintptr_t)(i + 1), wire, now);
  }
}

/* ------------------------------------------------------------ server */

static void test_aqm_rate_server_serialises_in_order(void **state) {
  (void)state;
  tcpu_aqm q;
  tcpu_aqm_cfg cfg = {0};
  /* 12 Mbit/s: 1500 bytes take 1 ms. */
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 12000000, NULL, T0, 0, 0, NULL),
                   0);
  reset(&S1);
  offer(&q, &S1, 5, 1500, T0, 0);
  /* The first went into service when the second arrived. */
  assert_int_equal(S1.n, 1);
  assert_true(tcpu_aqm_next_start(&q) == T0 + 1 * MS);
  tcpu_aqm_advance(&q, T0 + 10 * MS, on_out, &S1);
  assert_int_equal(S1.n, 5);
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(S1.pkt[i], i + 1);
    assert_true(S1.t[i] == T0 + (i + 1) * MS);
  }
  assert_true(tcpu_aqm_next_start(&q) == TCPU_TSTAMP_NONE);
  tcpu_aqm_free(&q, NULL);
}

static void test_aqm_limits_tail_drop(void **state) {
  (void)state;
  tcpu_aqm q;
  tcpu_aqm_cfg cfg = {0};
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 12000000, NULL, T0, 0, 3, NULL),
                   0);
  /* The first starts service at once and leaves the queue; three wait;
   * the fifth finds the queue full. */
  reset(&S1);
  for (int i = 0; i < 5; i++) {
    tcpu_aqm_advance(&q, T0, on_out, &S1);
    int rc = tcpu_aqm_enqueue(&q, NULL, 1500, T0);
    assert_int_equal(rc, i < 4 ? TCPU_AQM_QUEUED : TCPU_AQM_TAIL_DROP);
  }
  assert_int_equal(q.stats.tail_drops, 1);
  tcpu_aqm_free(&q, NULL);
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 12000000, NULL, T0, 4000, 0,
                                 NULL),
                   0);
  assert_int_equal(tcpu_aqm_enqueue(&q, NULL, 3000, T0), TCPU_AQM_QUEUED);
  assert_int_equal(tcpu_aqm_enqueue(&q, NULL, 1001, T0), TCPU_AQM_TAIL_DROP);
  assert_int_equal(tcpu_aqm_enqueue(&q, NULL, 1000, T0), TCPU_AQM_QUEUED);
  tcpu_aqm_free(&q, NULL);
}

static void free_count(void *pkt) {
  (void)pkt;
  S2.n++;
}

static void test_aqm_free_hands_back_waiting(void **state) {
  (void)state;
  tcpu_aqm q;
  tcpu_aqm_cfg cfg = {0};
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 1000000, NULL, T0, 0, 0, NULL),
                   0);
  for (int i = 0; i < 7; i++)
    tcpu_aqm_enqueue(&q, NULL, 1500, T0);
  reset(&S2);
  tcpu_aqm_free(&q, free_count);
  assert_int_equal(S2.n, 7);
}

/* ------------------------------------------------------------- CoDel */

static void codel_init(tcpu_aqm *q, uint64_t rate) {
  tcpu_aqm_cfg cfg = {.kind = TCPU_AQM_CODEL};
  assert_int_equal(tcpu_aqm_init(q, &cfg, rate, NULL, T0, 0, 0, NULL), 0);
}

static void test_aqm_codel_below_target_never_drops(void **state) {
  (void)state;
  tcpu_aqm q;
  codel_init(&q, 12000000);
  reset(&S1);
  /* Bursts of 4 every 5 ms: at most 4 ms of queue. */
  for (int b = 0; b < 2000; b++)
    offer(&q, &S1, 4, 1500, T0 + (uint64_t)b * 5 * MS, 0);
  tcpu_aqm_advance(&q, T0 + 20 * TCPU_NS_PER_S, on_out, &S1);
  assert_int_equal(S1.drops, 0);
  assert_int_equal(S1.served, 8000);
  tcpu_aqm_free(&q, NULL);
}

static void test_aqm_codel_rfc8289_first_drop_after_interval(void **state) {
  (void)state;
  tcpu_aqm q;
  codel_init(&q, 12000000);
  reset(&S1);
  /* 200 packets at once, one dequeued per millisecond: the 6th is the
   * first to have waited TARGET (5 ms) when it reaches the head, so
   * first_above_time = 105 ms, and the dequeue then (the 106th) drops. */
  offer(&q, &S1, 200, 1500, T0, 0);
  tcpu_aqm_advance(&q, T0 + 1000 * MS, on_out, &S1);
  size_t first = SIZE_MAX;
  for (size_t i = 0; i < S1.n && first == SIZE_MAX; i++)
    if (S1.dropped[i])
      first = i;
  assert_true(first != SIZE_MAX);
  assert_true(S1.t[first] == T0 + 105 * MS);
  assert_int_equal(S1.pkt[first], 106);
  tcpu_aqm_free(&q, NULL);
}

static void test_aqm_codel_drop_spacing_shrinks_sqrt(void **state) {
  (void)state;
  tcpu_aqm q;
  codel_init(&q, 12000000);
  reset(&S1);
  /* Persistent overload: 1.5 packets per service time for 3 s. */
  offer(&q, &S1, 4500, 1500, T0, 2 * MS / 3);
  tcpu_aqm_advance(&q, T0 + 3 * TCPU_NS_PER_S, on_out, &S1);
  tcpu_tstamp drops[64];
  size_t nd = 0;
  for (size_t i = 0; i < S1.n && nd < 64; i++)
    if (S1.dropped[i])
      drops[nd++] = S1.t[i];
  assert_true(nd >= 10);
  /* RFC 8289 §5.5: the n-th gap is interval / sqrt(n) (dequeues happen
   * once a millisecond, so each drop waits for the next one). */
  for (size_t n = 1; n < 10; n++) {
    double gap = (double)(drops[n] - drops[n - 1]) / 1e6;
    double want = 100.0 / sqrt((double)n);
    assert_true(gap >= want - 1.001 && gap <= want + 1.001);
  }
  tcpu_aqm_free(&q, NULL);
}

static void test_aqm_codel_leaves_drop_state_when_drained(void **state) {
  (void)state;
  tcpu_aqm q;
  codel_init(&q, 12000000);
  reset(&S1);
  /* A 300-packet burst, then a gentle stream: CoDel drops while the
   * standing queue lasts, then never again. */
  offer(&q, &S1, 300, 1500, T0, 0);
  offer(&q, &S1, 1000, 1500, T0 + 400 * MS, 2 * MS);
  tcpu_aqm_advance(&q, T0 + 10 * TCPU_NS_PER_S, on_out, &S1);
  assert_true(S1.drops > 0);
  tcpu_tstamp last_drop = 0;
  for (size_t i = 0; i < S1.n; i++)
    if (S1.dropped[i])
      last_drop = S1.t[i];
  assert_true(last_drop < T0 + 400 * MS);
  assert_false(q.dropping);
  tcpu_aqm_free(&q, NULL);
}

static void test_aqm_codel_maxpacket_keeps_last_packet(void **state) {
  (void)state;
  tcpu_aqm q;
  /* 120 kbit/s: a 1500-byte packet takes 100 ms.  Two packets: the
   * second waits 100 ms, but with nothing behind it (bytes() <= MAXPACKET)
   * it is not a standing queue. */
  codel_init(&q, 120000);
  reset(&S1);
  for (int r = 0; r < 20; r++)
    offer(&q, &S1, 2, 1500, T0 + (uint64_t)r * 200 * MS, 0);
  tcpu_aqm_advance(&q, T0 + 10 * TCPU_NS_PER_S, on_out, &S1);
  assert_int_equal(S1.drops, 0);
  tcpu_aqm_free(&q, NULL);
}

static void test_aqm_advance_granularity_irrelevant(void **state) {
  (void)state;
  /* The same arrivals, advanced only at arrivals (S1) or also every
   * 100 us in between (S2): the same drops and departures. */
  tcpu_aqm a, b;
  codel_init(&a, 12000000);
  codel_init(&b, 12000000);
  reset(&S1);
  reset(&S2);
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, 7);
  tcpu_tstamp now = T0;
  for (int i = 0; i < 20000; i++) {
    tcpu_duration gap = tcpu_link_rng_below(&r, 1500 * US);
    for (tcpu_tstamp t = now; t < now + gap; t += 100 * US)
      tcpu_aqm_advance(&b, t, on_out, &S2);
    now += gap;
    tcpu_aqm_advance(&a, now, on_out, &S1);
    tcpu_aqm_advance(&b, now, on_out, &S2);
    tcpu_aqm_enqueue(&a, (void *)(uintptr_t)(i + 1), 1500, now);
    tcpu_aqm_enqueue(&b, (void *)(uintptr_t)(i + 1), 1500, now);
  }
  tcpu_aqm_advance(&a, now + 60 * TCPU_NS_PER_S, on_out, &S1);
  tcpu_aqm_advance(&b, now + 60 * TCPU_NS_PER_S, on_out, &S2);
  assert_true(S1.drops > 0);
  assert_int_equal(S1.n, S2.n);
  assert_memory_equal(S1.pkt, S2.pkt, S1.n * sizeof(S1.pkt[0]));
  assert_memory_equal(S1.t, S2.t, S1.n * sizeof(S1.t[0]));
  assert_memory_equal(S1.dropped, S2.dropped, S1.n * sizeof(S1.dropped[0]));
  tcpu_aqm_free(&a, NULL);
  tcpu_aqm_free(&b, NULL);
}

/* --------------------------------------------------------------- RED */

static void test_aqm_red_regions(void **state) {
  (void)state;
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, 3);
  tcpu_aqm q;
  /* Thresholds 10 and 30 packets, a quick average so the queue length
   * decides. */
  tcpu_aqm_cfg cfg = {.kind = TCPU_AQM_RED, .red_min = 15000,
                      .red_max = 45000, .red_max_p = 0.1, .red_wq = 0.5};
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 0, NULL, T0, 0, 0, NULL),
                   TCPU_ERR_INVAL); /* RED needs its rng */
  /* An infinitely fast server would never queue: a slow one. */
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 1000, NULL, T0, 0, 0, &r), 0);
  int early = 0;
  for (int i = 0; i < 10; i++)
    early += tcpu_aqm_enqueue(&q, NULL, 1500, T0) == TCPU_AQM_EARLY_DROP;
  assert_int_equal(early, 0); /* below red_min */
  /* Fill to 35 packets without RED (which would refuse the last ones),
   * then switch it on. */
  tcpu_aqm_cfg tail = {.kind = TCPU_AQM_DROPTAIL};
  assert_int_equal(tcpu_aqm_set_cfg(&q, &tail, 0, 0), 0);
  while (tcpu_aqm_len(&q) < 35)
    tcpu_aqm_enqueue(&q, NULL, 1500, T0);
  assert_int_equal(tcpu_aqm_set_cfg(&q, &cfg, 0, 0), 0);
  early = 0;
  for (int i = 0; i < 50; i++)
    early += tcpu_aqm_enqueue(&q, NULL, 1500, T0) == TCPU_AQM_EARLY_DROP;
  assert_true(early >= 45); /* the average passes red_max */
  tcpu_aqm_free(&q, NULL);

  /* Between the thresholds: some, not all.  A 20-packet limit holds the
   * backlog at 20 packets, 30000 bytes: half way from red_min to
   * red_max. */
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 1000, NULL, T0, 0, 20, &r), 0);
  while (tcpu_aqm_len(&q) < 20)
    tcpu_aqm_enqueue(&q, NULL, 1500, T0);
  early = 0;
  for (int i = 0; i < 2000; i++)
    early += tcpu_aqm_enqueue(&q, NULL, 1500, T0) == TCPU_AQM_EARLY_DROP;
  /* p_b = 0.1 * (30000 - 15000) / 30000 = 0.05, spread evenly over the
   * arrivals since the last drop: about one in ten. */
  assert_true(early > 100 && early < 400);
  tcpu_aqm_free(&q, NULL);
}

static void test_aqm_cfg_check(void **state) {
  (void)state;
  tcpu_aqm_cfg red = {.kind = TCPU_AQM_RED};
  assert_int_equal(tcpu_aqm_cfg_check(&red, 0), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_aqm_cfg_check(&red, 100000), 0);
  red.red_min = 50;
  red.red_max = 40;
  assert_int_equal(tcpu_aqm_cfg_check(&red, 100000), TCPU_ERR_INVAL);
  red.red_max = 60;
  red.red_max_p = 1.5;
  assert_int_equal(tcpu_aqm_cfg_check(&red, 100000), TCPU_ERR_INVAL);
  tcpu_aqm_cfg bad = {.kind = (tcpu_aqm_kind)9};
  assert_int_equal(tcpu_aqm_cfg_check(&bad, 0), TCPU_ERR_INVAL);
}

/* ------------------------------------------------- through the link */

typedef struct link_log {
  size_t queued_no_arrive, drop_aqm, drop_queue;
} link_log;

static void on_link_trace(void *arg, const tcpu_link_trace_rec *r) {
  link_log *lg = arg;
  if (r->ev == TCPU_LINK_EV_QUEUED && r->arrive == TCPU_TSTAMP_NONE)
    lg->queued_no_arrive++;
  else if (r->ev == TCPU_LINK_EV_DROP_AQM)
    lg->drop_aqm++;
  else if (r->ev == TCPU_LINK_EV_DROP_QUEUE)
    lg->drop_queue++;
}

/* Drains a link by stepping to each next arrival, as netsim does;
 * returns the datagrams handed out and checks they never arrive before
 * the time asked for. */
static size_t drain(tcpu_link *l, tcpu_tstamp *last) {
  uint8_t buf[2048];
  size_t n = 0;
  for (;;) {
    tcpu_tstamp t = tcpu_link_next_arrival(l);
    if (t == TCPU_TSTAMP_NONE)
      return n;
    size_t len = 0;
    while (tcpu_link_dequeue(l, t, buf, sizeof(buf), &len) == 1) {
      assert_true(t >= *last);
      *last = t;
      n++;
    }
  }
}

static void test_aqm_link_codel_reports_drops(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.rate_bps = 12000000, .delay = 10 * MS,
                       .aqm = {.kind = TCPU_AQM_CODEL}};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  link_log lg = {0};
  tcpu_link_set_trace(&l, on_link_trace, &lg);
  uint8_t buf[1500] = {0};
  for (int i = 0; i < 300; i++)
    assert_int_equal(tcpu_link_submit(&l, buf, 1500, T0), TCPU_LINK_QUEUED);
  assert_int_equal(tcpu_link_held(&l), 300);
  assert_int_equal(lg.queued_no_arrive, 300);
  tcpu_tstamp last = 0;
  size_t got = drain(&l, &last);
  assert_true(l.stats.dropped_aqm > 0);
  assert_int_equal(lg.drop_aqm, l.stats.dropped_aqm);
  assert_int_equal(got + l.stats.dropped_aqm, 300);
  assert_int_equal(l.stats.delivered, got);
  assert_int_equal(tcpu_link_held(&l), 0);
  tcpu_link_free(&l);
}

static void test_aqm_link_trace_paces_deliveries(void **state) {
  (void)state;
  tcpu_mm_trace t;
  char err[64];
  const char *text = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
  assert_int_equal(tcpu_mm_trace_parse(&t, text, strlen(text), err,
                                       sizeof(err)),
                   0);
  tcpu_link l;
  tcpu_link_cfg cfg = {.delay = 10 * MS, .overhead = 28, .trace = &t,
                       .trace_origin = T0};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  uint8_t buf[1472] = {0};
  for (int i = 0; i < 30; i++)
    tcpu_link_submit(&l, buf, sizeof(buf), T0);
  /* 1472 + 28 bytes: one opportunity each, one a millisecond. */
  for (int i = 0; i < 30; i++) {
    tcpu_tstamp want = T0 + (tcpu_duration)(i + 1) * MS + 10 * MS;
    size_t len = 0;
    assert_int_equal(tcpu_link_dequeue(&l, want - 1, buf, sizeof(buf), &len),
                     0);
    assert_int_equal(tcpu_link_dequeue(&l, want, buf, sizeof(buf), &len), 1);
    assert_int_equal(len, 1472);
  }
  tcpu_link_free(&l);
  tcpu_mm_trace_free(&t);
}

static void test_aqm_link_set_cfg_keeps_waiting_ones(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg plain = {.rate_bps = 12000000};
  tcpu_link_cfg codel = plain;
  codel.aqm.kind = TCPU_AQM_CODEL;
  assert_int_equal(tcpu_link_init(&l, &codel, 1), 0);
  uint8_t buf[1500] = {0};
  for (int i = 0; i < 10; i++)
    tcpu_link_submit(&l, buf, sizeof(buf), T0);
  /* Leaving the AQM while datagrams wait for its server is refused;
   * changing its parameters is not. */
  assert_int_equal(tcpu_link_set_cfg(&l, &plain), TCPU_ERR_INVAL);
  codel.aqm.codel_target = 10 * MS;
  assert_int_equal(tcpu_link_set_cfg(&l, &codel), 0);
  tcpu_tstamp last = 0;
  assert_int_equal(drain(&l, &last), 10);
  assert_int_equal(tcpu_link_set_cfg(&l, &plain), 0);
  assert_null(l.aqm);
  /* And back: the FIFO's datagrams in flight keep their times. */
  tcpu_link_submit(&l, buf, sizeof(buf), last);
  assert_int_equal(tcpu_link_set_cfg(&l, &codel), 0);
  assert_int_equal(tcpu_link_held(&l), 1);
  assert_int_equal(drain(&l, &last), 1);
  tcpu_link_free(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_aqm_rate_server_serialises_in_order),
      cmocka_unit_test(test_aqm_limits_tail_drop),
      cmocka_unit_test(test_aqm_free_hands_back_waiting),
      cmocka_unit_test(test_aqm_codel_below_target_never_drops),
      cmocka_unit_test(test_aqm_codel_rfc8289_first_drop_after_interval),
      cmocka_unit_test(test_aqm_codel_drop_spacing_shrinks_sqrt),
      cmocka_unit_test(test_aqm_codel_leaves_drop_state_when_drained),
      cmocka_unit_test(test_aqm_codel_maxpacket_keeps_last_packet),
      cmocka_unit_test(test_aqm_advance_granularity_irrelevant),
      cmocka_unit_test(test_aqm_red_regions),
      cmocka_unit_test(test_aqm_cfg_check),
      cmocka_unit_test(test_aqm_link_codel_reports_drops),
      cmocka_unit_test(test_aqm_link_trace_paces_deliveries),
      cmocka_unit_test(test_aqm_link_set_cfg_keeps_waiting_ones),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
