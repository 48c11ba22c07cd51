/*
 * test_link.c — the lab's link model (libtcpu/lab/link.c).  Time is
 * injected; statistical checks use fixed seeds and bounds of several
 * standard deviations, so they are deterministic and still fail when the
 * model is wrong.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lab/link.h"

#define MS TCPU_NS_PER_MS
#define US ((tcpu_duration)1000)

static void fill(uint8_t *buf, size_t len, uint32_t tag) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(tag * 131u + i * 7u);
  if (len >= 4) {
    buf[0] = (uint8_t)(tag >> 24);
    buf[1] = (uint8_t)(tag >> 16);
    buf[2] = (uint8_t)(tag >> 8);
    buf[3] = (uint8_t)tag;
  }
}

static uint32_t tag_of(const uint8_t *buf) {
  return (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
         (uint32_t)buf[2] << 8 | buf[3];
}

/* Submits n packets of len bytes, one every gap, tags 0..n-1. */
static void submit_n(tcpu_link *l, size_t n, size_t len, tcpu_tstamp t0,
                     tcpu_duration gap) {
  uint8_t buf[2048];
  for (size_t i = 0; i < n; i++) {
    fill(buf, len, (uint32_t)i);
    int rc = tcpu_link_submit(l, buf, len, t0 + i * gap);
    assert_true(rc == TCPU_LINK_QUEUED || rc == TCPU_LINK_DROPPED);
  }
}

/* ------------------------------------------------------------ timing */

static void test_link_empty_next_arrival_none(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.delay = 5 * MS};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  assert_true(tcpu_link_next_arrival(&l) == TCPU_TSTAMP_NONE);
  uint8_t buf[16];
  size_t len = 0;
  assert_int_equal(tcpu_link_dequeue(&l, UINT64_MAX - 1, buf, sizeof(buf),
                                     &len), 0);
  tcpu_link_free(&l);
}

static void test_link_propagation_delay_exact(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.delay = 10 * MS};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  uint8_t in[100], out[100];
  fill(in, sizeof(in), 7);
  assert_int_equal(tcpu_link_submit(&l, in, sizeof(in), 3 * MS),
                   TCPU_LINK_QUEUED);
  assert_true(tcpu_link_next_arrival(&l) == 13 * MS);
  size_t len = 0;
  assert_int_equal(tcpu_link_dequeue(&l, 13 * MS - 1, out, sizeof(out), &len),
                   0);
  assert_int_equal(tcpu_link_dequeue(&l, 13 * MS, out, sizeof(out), &len), 1);
  assert_int_equal(len, sizeof(in));
  assert_memory_equal(in, out, sizeof(in));
  assert_true(tcpu_link_next_arrival(&l) == TCPU_TSTAMP_NONE);
  assert_int_equal(l.stats.submitted, 1);
  assert_int_equal(l.stats.delivered, 1);
  tcpu_link_free(&l);
}

static void test_link_rate_serialisation_delay(void **state) {
  (void)state;
  tcpu_link l;
  /* 1000 bytes at 8 Mbit/s take exactly 1 ms. */
  tcpu_link_cfg cfg = {.rate_bps = 8000000, .delay = 2 * MS};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  submit_n(&l, 3, 1000, 0, 0);
  uint8_t out[1000];
  size_t len;
  for (uint32_t i = 0; i < 3; i++) {
    tcpu_tstamp expect = (i + 1) * MS + 2 * MS;
    assert_true(tcpu_link_next_arrival(&l) == expect);
    assert_int_equal(tcpu_link_dequeue(&l, expect - 1, out, sizeof(out), &len),
                     0);
    assert_int_equal(tcpu_link_dequeue(&l, expect, out, sizeof(out), &len), 1);
    assert_int_equal(tag_of(out), i);
  }
  /* An idle link does not bank time: a packet after a pause starts anew. */
  submit_n(&l, 1, 1000, 100 * MS, 0);
  assert_true(tcpu_link_next_arrival(&l) == 103 * MS);
  tcpu_link_free(&l);
}

static void test_link_rate_counts_overhead(void **state) {
  (void)state;
  tcpu_link l;
  /* 972 bytes + 28 bytes of IPv4/UDP overhead = 1000 bytes = 1 ms. */
  tcpu_link_cfg cfg = {.rate_bps = 8000000, .overhead = 28};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  submit_n(&l, 1, 972, 0, 0);
  assert_true(tcpu_link_next_arrival(&l) == 1 * MS);
  uint8_t out[1000];
  size_t len = 0;
  assert_int_equal(tcpu_link_dequeue(&l, MS, out, sizeof(out), &len), 1);
  assert_int_equal(len, 972); /* the overhead is not delivered */
  tcpu_link_free(&l);
}

static void test_link_rate_throughput_matches(void **state) {
  (void)state;
  tcpu_link l;
  /* 10 Mbit/s, offered 2x faster than it drains, no queue limit: the last
   * of 1000 packets of 1250 bytes (1 ms each) arrives after 1 s. */
  tcpu_link_cfg cfg = {.rate_bps = 10000000};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  submit_n(&l, 1000, 1250, 0, 500 * US);
  uint8_t out[1250];
  size_t len;
  tcpu_tstamp last = 0;
  while (tcpu_link_next_arrival(&l) != TCPU_TSTAMP_NONE) {
    last = tcpu_link_next_arrival(&l);
    assert_int_equal(tcpu_link_dequeue(&l, last, out, sizeof(out), &len), 1);
  }
  assert_true(last == 1000 * MS);
  assert_int_equal(l.stats.delivered, 1000);
  tcpu_link_free(&l);
}

static void test_link_jitter_bounded_never_reorders(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.delay = 10 * MS, .jitter = 5 * MS};
  assert_int_equal(tcpu_link_init(&l, &cfg, 99), 0);
  submit_n(&l, 2000, 100, 0, 1 * MS);
  uint8_t out[100];
  size_t len;
  uint32_t expect = 0;
  tcpu_tstamp min_extra = UINT64_MAX, max_extra = 0;
  while (tcpu_link_next_arrival(&l) != TCPU_TSTAMP_NONE) {
    tcpu_tstamp t = tcpu_link_next_arrival(&l);
    assert_int_equal(tcpu_link_dequeue(&l, t, out, sizeof(out), &len), 1);
    uint32_t i = tag_of(out);
    assert_int_equal(i, expect++); /* FIFO despite jitter */
    tcpu_tstamp sent = (tcpu_tstamp)i * MS;
    assert_true(t >= sent + 10 * MS);
    assert_true(t <= sent + 15 * MS);
    tcpu_tstamp extra = t - sent - 10 * MS;
    if (extra < min_extra)
      min_extra = extra;
    if (extra > max_extra)
      max_extra = extra;
  }
  assert_int_equal(expect, 2000);
  /* The jitter really spreads over its range. */
  assert_true(min_extra < 1 * MS);
  assert_true(max_extra > 4 * MS);
  tcpu_link_free(&l);
}

/* -------------------------------------------------------------- loss */

static void test_link_loss_rate_near_p(void **state) {
  (void)state;
  const size_t n = 100000;
  const double p = 0.1;
  tcpu_link l;
  tcpu_link_cfg cfg = {.loss = p};
  assert_int_equal(tcpu_link_init(&l, &cfg, 12345), 0);
  uint8_t buf[64];
  size_t len;
  size_t delivered = 0;
  for (size_t i = 0; i < n; i++) {
    fill(buf, sizeof(buf), (uint32_t)i);
    tcpu_link_submit(&l, buf, sizeof(buf), i * US);
    while (tcpu_link_dequeue(&l, i * US, buf, sizeof(buf), &len) == 1)
      delivered++;
  }
  /* sigma = sqrt(n p (1-p)) ~ 95; allow 5 sigma. */
  assert_true(l.stats.lost > 10000 - 475 && l.stats.lost < 10000 + 475);
  assert_int_equal(l.stats.lost + delivered, n);
  assert_int_equal(l.stats.delivered, delivered);
  assert_int_equal(l.stats.dropped_queue, 0);
  tcpu_link_free(&l);
}

static void test_link_loss_zero_and_one(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.loss = 1.0};
  assert_int_equal(tcpu_link_init(&l, &cfg, 3), 0);
  submit_n(&l, 1000, 10, 0, US);
  assert_int_equal(l.stats.lost, 1000);
  assert_true(tcpu_link_next_arrival(&l) == TCPU_TSTAMP_NONE);
  tcpu_link_free(&l);
  cfg.loss = 0.0;
  assert_int_equal(tcpu_link_init(&l, &cfg, 3), 0);
  submit_n(&l, 1000, 10, 0, US);
  assert_int_equal(l.stats.lost, 0);
  assert_int_equal(tcpu_link_held(&l), 1000);
  tcpu_link_free(&l);
}

/* Loss pattern of n packets: 1 where lost. */
static size_t loss_pattern(const tcpu_link_cfg *cfg, uint64_t seed,
                           uint8_t *lost, size_t n) {
  tcpu_link l;
  assert_int_equal(tcpu_link_init(&l, cfg, seed), 0);
  uint8_t buf[8] = {0};
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    int rc = tcpu_link_submit(&l, buf, sizeof(buf), i * US);
    lost[i] = rc == TCPU_LINK_DROPPED;
    total += lost[i];
    size_t len;
    while (tcpu_link_dequeue(&l, i * US, buf, sizeof(buf), &len) == 1)
      ;
  }
  assert_int_equal(l.stats.lost, total);
  tcpu_link_free(&l);
  return total;
}

static double mean_burst(const uint8_t *lost, size_t n) {
  size_t bursts = 0, in_bursts = 0;
  for (size_t i = 0; i < n; i++) {
    if (lost[i]) {
      in_bursts++;
      if (i == 0 || !lost[i - 1])
        bursts++;
    }
  }
  return bursts ? (double)in_bursts / (double)bursts : 0.0;
}

static void test_link_gilbert_elliott_bursty(void **state) {
  (void)state;
  enum { N = 100000 };
  static uint8_t ge[N], indep[N];
  /* Stationary P(bad) = 0.01 / (0.01 + 0.2) = 4.76%; bursts average
   * 1 / 0.2 = 5 packets. */
  tcpu_link_cfg cfg = {.ge_p_good_bad = 0.01, .ge_p_bad_good = 0.2,
                       .ge_loss_bad = 1.0};
  size_t lost = loss_pattern(&cfg, 777, ge, N);
  double rate = (double)lost / N;
  assert_true(rate > 0.035 && rate < 0.060);
  double burst = mean_burst(ge, N);
  assert_true(burst > 4.5 && burst < 5.5);

  /* The same rate without memory has bursts of about 1 / (1 - p). */
  tcpu_link_cfg flat = {.loss = rate};
  loss_pattern(&flat, 777, indep, N);
  double flat_burst = mean_burst(indep, N);
  assert_true(flat_burst < 1.1);
}

static void test_link_gilbert_elliott_good_state_loss(void **state) {
  (void)state;
  enum { N = 100000 };
  static uint8_t lost[N];
  /* A chain that (almost) never leaves the good state loses at its rate. */
  tcpu_link_cfg cfg = {.ge_p_good_bad = 1e-9, .ge_p_bad_good = 1.0,
                       .ge_loss_good = 0.02, .ge_loss_bad = 1.0};
  size_t n = loss_pattern(&cfg, 5, lost, N);
  assert_true(n > 2000 - 250 && n < 2000 + 250);
}

/* ------------------------------------------------------------- queue */

static void test_link_queue_limit_packets_drop_tail(void **state) {
  (void)state;
  tcpu_link l;
  /* 125 bytes at 1 Mbit/s: 1 ms each. */
  tcpu_link_cfg cfg = {.rate_bps = 1000000, .queue_pkts = 5};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  uint8_t buf[125];
  for (uint32_t i = 0; i < 10; i++) {
    fill(buf, sizeof(buf), i);
    assert_int_equal(tcpu_link_submit(&l, buf, sizeof(buf), 0),
                     i < 5 ? TCPU_LINK_QUEUED : TCPU_LINK_DROPPED);
  }
  assert_int_equal(l.stats.dropped_queue, 5);
  /* At 1 ms the first has left the serialiser: room for exactly one. */
  assert_int_equal(tcpu_link_submit(&l, buf, sizeof(buf), MS),
                   TCPU_LINK_QUEUED);
  assert_int_equal(tcpu_link_submit(&l, buf, sizeof(buf), MS),
                   TCPU_LINK_DROPPED);
  /* The survivors are the head of the burst: drop-tail. */
  size_t len;
  for (uint32_t i = 0; i < 5; i++) {
    tcpu_tstamp t = tcpu_link_next_arrival(&l);
    assert_true(t == (i + 1) * MS);
    assert_int_equal(tcpu_link_dequeue(&l, t, buf, sizeof(buf), &len), 1);
    assert_int_equal(tag_of(buf), i);
  }
  assert_int_equal(l.stats.dropped_queue, 6);
  tcpu_link_free(&l);
}

static void test_link_queue_limit_bytes(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.rate_bps = 1000000, .queue_bytes = 3000,
                       .overhead = 0};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  uint8_t buf[1000] = {0};
  assert_int_equal(tcpu_link_submit(&l, buf, 1000, 0), TCPU_LINK_QUEUED);
  assert_int_equal(tcpu_link_submit(&l, buf, 1000, 0), TCPU_LINK_QUEUED);
  assert_int_equal(tcpu_link_submit(&l, buf, 1000, 0), TCPU_LINK_QUEUED);
  assert_int_equal(tcpu_link_submit(&l, buf, 1000, 0), TCPU_LINK_DROPPED);
  /* A small one still fits nowhere: the queue is full to the byte. */
  assert_int_equal(tcpu_link_submit(&l, buf, 1, 0), TCPU_LINK_DROPPED);
  /* 1000 bytes at 1 Mbit/s = 8 ms: after it leaves, 1000 bytes fit. */
  assert_int_equal(tcpu_link_submit(&l, buf, 1000, 8 * MS), TCPU_LINK_QUEUED);
  assert_int_equal(l.stats.dropped_queue, 2);
  tcpu_link_free(&l);
}

static void test_link_queue_unlimited_without_rate(void **state) {
  (void)state;
  tcpu_link l;
  /* Infinite rate: nothing ever waits in the bottleneck. */
  tcpu_link_cfg cfg = {.queue_pkts = 1, .delay = 50 * MS};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  submit_n(&l, 100, 100, 0, 0);
  assert_int_equal(l.stats.dropped_queue, 0);
  assert_int_equal(tcpu_link_held(&l), 100);
  tcpu_link_free(&l);
}

static void test_link_max_held_bounds_memory(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.delay = 1000 * MS, .max_held = 100, .dup = 1.0};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  submit_n(&l, 1000, 100, 0, US);
  assert_int_equal(tcpu_link_held(&l), 100);
  /* 50 originals with their copies fill it; the rest are tail drops. */
  assert_int_equal(l.stats.duplicated, 50);
  assert_int_equal(l.stats.dropped_queue, 950);
  tcpu_link_free(&l);
}

/* ------------------------------------------------------------ faults */

static void test_link_duplication_always(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.dup = 1.0, .delay = MS};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  submit_n(&l, 100, 50, 0, 10 * US);
  uint8_t out[50], expect[50];
  size_t len;
  for (uint32_t i = 0; i < 100; i++) {
    fill(expect, sizeof(expect), i);
    for (int copy = 0; copy < 2; copy++) {
      tcpu_tstamp t = tcpu_link_next_arrival(&l);
      assert_true(t == i * 10 * US + MS);
      assert_int_equal(tcpu_link_dequeue(&l, t, out, sizeof(out), &len), 1);
      assert_memory_equal(out, expect, sizeof(out));
    }
  }
  assert_int_equal(l.stats.duplicated, 100);
  assert_int_equal(l.stats.delivered, 200);
  tcpu_link_free(&l);
}

static void test_link_duplication_rate_near_p(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.dup = 0.3};
  assert_int_equal(tcpu_link_init(&l, &cfg, 2024), 0);
  uint8_t buf[16];
  size_t len, delivered = 0;
  for (uint32_t i = 0; i < 10000; i++) {
    fill(buf, sizeof(buf), i);
    tcpu_link_submit(&l, buf, sizeof(buf), i * US);
    while (tcpu_link_dequeue(&l, i * US, buf, sizeof(buf), &len) == 1)
      delivered++;
  }
  /* sigma ~ 46 */
  assert_true(l.stats.duplicated > 3000 - 230 &&
              l.stats.duplicated < 3000 + 230);
  assert_int_equal(delivered, 10000 + l.stats.duplicated);
  tcpu_link_free(&l);
}

typedef struct delivery_log {
  uint32_t tag[4096];
  uint8_t reordered[4096];
  size_t n;
} delivery_log;

static void log_delivery(void *arg, const tcpu_link_trace_rec *r) {
  delivery_log *d = arg;
  if (r->ev != TCPU_LINK_EV_DELIVERED)
    return;
  assert_true(d->n < 4096);
  d->tag[d->n] = tag_of(r->data);
  d->reordered[d->n] = r->reordered;
  d->n++;
}

static void drain_all(tcpu_link *l) {
  uint8_t out[2048];
  size_t len;
  while (tcpu_link_next_arrival(l) != TCPU_TSTAMP_NONE) {
    tcpu_tstamp t = tcpu_link_next_arrival(l);
    assert_int_equal(tcpu_link_dequeue(l, t, out, sizeof(out), &len), 1);
  }
}

static void test_link_reorder_changes_order(void **state) {
  (void)state;
  static delivery_log d;
  memset(&d, 0, sizeof(d));
  tcpu_link l;
  tcpu_link_cfg cfg = {.delay = 10 * MS, .reorder = 0.2,
                       .reorder_delay = 5 * MS};
  assert_int_equal(tcpu_link_init(&l, &cfg, 31337), 0);
  tcpu_link_set_trace(&l, log_delivery, &d);
  submit_n(&l, 1000, 64, 0, 1 * MS);
  drain_all(&l);
  assert_int_equal(d.n, 1000);
  assert_true(l.stats.reordered > 120 && l.stats.reordered < 280);

  /* Every packet arrives once; only held-back ones are overtaken, and
   * the others keep their order among themselves. */
  static uint8_t seen[1000];
  memset(seen, 0, sizeof(seen));
  size_t overtaken = 0, held = 0;
  uint32_t last_in_order = 0;
  int have_in_order = 0;
  for (size_t i = 0; i < d.n; i++) {
    uint32_t t = d.tag[i];
    assert_true(t < 1000 && !seen[t]);
    seen[t] = 1;
    held += d.reordered[i];
    /* Overtaken: some later-sent packet was delivered before it. */
    int was_overtaken = 0;
    for (size_t j = 0; j < i; j++) {
      if (d.tag[j] > t)
        was_overtaken = 1;
    }
    if (was_overtaken) {
      overtaken++;
      assert_true(d.reordered[i]);
    }
    if (!d.reordered[i]) {
      if (have_in_order)
        assert_true(t > last_in_order);
      last_in_order = t;
      have_in_order = 1;
    }
  }
  assert_int_equal(held, l.stats.reordered);
  assert_true(overtaken > 100);

  /* Without the fault the same seed keeps the order. */
  tcpu_link_free(&l);
  memset(&d, 0, sizeof(d));
  cfg.reorder = 0;
  assert_int_equal(tcpu_link_init(&l, &cfg, 31337), 0);
  tcpu_link_set_trace(&l, log_delivery, &d);
  submit_n(&l, 1000, 64, 0, 1 * MS);
  drain_all(&l);
  for (size_t i = 0; i < d.n; i++)
    assert_int_equal(d.tag[i], i);
  tcpu_link_free(&l);
}

static int popcount8(uint8_t x) {
  int n = 0;
  for (; x; x &= (uint8_t)(x - 1))
    n++;
  return n;
}

static void test_link_corruption_flips_exactly_one_bit(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.corrupt = 1.0};
  assert_int_equal(tcpu_link_init(&l, &cfg, 8), 0);
  uint8_t in[300], out[300];
  size_t len;
  int bit_hit[8] = {0};
  for (uint32_t i = 0; i < 1000; i++) {
    size_t n = 1 + i % 300;
    fill(in, n, i);
    assert_int_equal(tcpu_link_submit(&l, in, n, i), TCPU_LINK_QUEUED);
    assert_int_equal(tcpu_link_dequeue(&l, i, out, sizeof(out), &len), 1);
    assert_int_equal(len, n);
    int flips = 0;
    for (size_t k = 0; k < n; k++) {
      uint8_t x = (uint8_t)(in[k] ^ out[k]);
      flips += popcount8(x);
      for (int b = 0; b < 8; b++)
        bit_hit[b] += (x >> b) & 1;
    }
    assert_int_equal(flips, 1);
  }
  /* The flipped bit is not always the same one. */
  for (int b = 0; b < 8; b++)
    assert_true(bit_hit[b] > 50);
  /* Nothing to flip in an empty datagram. */
  assert_int_equal(tcpu_link_submit(&l, in, 0, 2000), TCPU_LINK_QUEUED);
  assert_int_equal(tcpu_link_dequeue(&l, 2000, out, sizeof(out), &len), 1);
  assert_int_equal(len, 0);
  assert_int_equal(l.stats.corrupted, 1000);
  tcpu_link_free(&l);
}

static void test_link_corruption_rate_near_p(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.corrupt = 0.05};
  assert_int_equal(tcpu_link_init(&l, &cfg, 8), 0);
  uint8_t in[100], out[100];
  size_t len, differ = 0;
  for (uint32_t i = 0; i < 20000; i++) {
    fill(in, sizeof(in), i);
    tcpu_link_submit(&l, in, sizeof(in), i);
    assert_int_equal(tcpu_link_dequeue(&l, i, out, sizeof(out), &len), 1);
    differ += memcmp(in, out, sizeof(in)) != 0;
  }
  assert_int_equal(differ, l.stats.corrupted);
  /* sigma ~ 31 */
  assert_true(differ > 1000 - 155 && differ < 1000 + 155);
  tcpu_link_free(&l);
}

typedef struct seen_bytes {
  uint8_t queued[32], delivered[32];
  int n_queued, n_delivered, corrupted_flag;
} seen_bytes;

static void keep_bytes(void *arg, const tcpu_link_trace_rec *r) {
  seen_bytes *s = arg;
  if (r->ev == TCPU_LINK_EV_QUEUED) {
    memcpy(s->queued, r->data, r->len);
    s->n_queued++;
    s->corrupted_flag = r->corrupted;
  } else if (r->ev == TCPU_LINK_EV_DELIVERED) {
    memcpy(s->delivered, r->data, r->len);
    s->n_delivered++;
  }
}

static void test_link_trace_submitted_vs_delivered_bytes(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.corrupt = 1.0, .delay = MS};
  seen_bytes s;
  memset(&s, 0, sizeof(s));
  assert_int_equal(tcpu_link_init(&l, &cfg, 4), 0);
  tcpu_link_set_trace(&l, keep_bytes, &s);
  uint8_t in[32], out[32];
  fill(in, sizeof(in), 5);
  tcpu_link_submit(&l, in, sizeof(in), 0);
  size_t len;
  assert_int_equal(tcpu_link_dequeue(&l, MS, out, sizeof(out), &len), 1);
  /* Traces show what was sent and, separately, what arrived. */
  assert_int_equal(s.n_queued, 1);
  assert_int_equal(s.n_delivered, 1);
  assert_true(s.corrupted_flag);
  assert_memory_equal(s.queued, in, sizeof(in));
  assert_memory_equal(s.delivered, out, sizeof(out));
  assert_memory_not_equal(s.delivered, in, sizeof(in));
  tcpu_link_free(&l);
}

/* ------------------------------------------------------- determinism */

typedef struct trace_hash {
  uint64_t h;
  size_t events;
} trace_hash;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

static void hash_event(void *arg, const tcpu_link_trace_rec *r) {
  trace_hash *t = arg;
  uint64_t f[6] = {r->ev, r->id, r->len, r->now, r->arrive,
                   (uint64_t)(r->reordered | r->corrupted << 1)};
  t->h = fnv(t->h, f, sizeof(f));
  if (r->data)
    t->h = fnv(t->h, r->data, r->len);
  t->events++;
}

static trace_hash run_everything(uint64_t seed) {
  tcpu_link_cfg cfg = {.rate_bps = 20000000, .overhead = 28,
                       .delay = 20 * MS, .jitter = 3 * MS, .loss = 0.05,
                       .ge_p_good_bad = 0.02, .ge_p_bad_good = 0.3,
                       .ge_loss_bad = 0.7, .dup = 0.05, .reorder = 0.05,
                       .reorder_delay = 4 * MS, .corrupt = 0.05,
                       .queue_pkts = 40, .queue_bytes = 50000};
  tcpu_link l;
  trace_hash t = {.h = 0xcbf29ce484222325ull};
  assert_int_equal(tcpu_link_init(&l, &cfg, seed), 0);
  tcpu_link_set_trace(&l, hash_event, &t);
  uint8_t buf[1500];
  size_t len;
  for (uint32_t i = 0; i < 5000; i++) {
    tcpu_tstamp now = (tcpu_tstamp)i * 200 * US;
    while (tcpu_link_dequeue(&l, now, buf, sizeof(buf), &len) == 1)
      ;
    size_t n = 40 + (i * 37) % 1400;
    fill(buf, n, i);
    tcpu_link_submit(&l, buf, n, now);
  }
  drain_all(&l);
  /* Every fault fired, so the trace covers all of them. */
  assert_true(l.stats.lost > 0 && l.stats.dropped_queue > 0 &&
              l.stats.duplicated > 0 && l.stats.reordered > 0 &&
              l.stats.corrupted > 0);
  tcpu_link_free(&l);
  return t;
}

static void test_link_same_seed_identical_trace(void **state) {
  (void)state;
  trace_hash a = run_everything(42);
  trace_hash b = run_everything(42);
  trace_hash c = run_everything(43);
  assert_true(a.events > 5000);
  assert_int_equal(a.events, b.events);
  assert_true(a.h == b.h);
  assert_true(a.h != c.h);
}

/* --------------------------------------------------------------- api */

static void test_link_dequeue_small_buffer_nobuf(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {0};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  uint8_t in[200], out[200];
  fill(in, sizeof(in), 1);
  tcpu_link_submit(&l, in, sizeof(in), 0);
  size_t len = 0;
  assert_int_equal(tcpu_link_dequeue(&l, 0, out, 100, &len), TCPU_ERR_NOBUF);
  assert_int_equal(len, 200);
  assert_int_equal(tcpu_link_held(&l), 1);
  assert_int_equal(tcpu_link_dequeue(&l, 0, out, sizeof(out), &len), 1);
  assert_memory_equal(in, out, sizeof(in));
  tcpu_link_free(&l);
}

static void test_link_submit_oversize_inval(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {0};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  static uint8_t big[TCPU_LINK_MAX_DGRAM + 1];
  assert_int_equal(tcpu_link_submit(&l, big, sizeof(big), 0), TCPU_ERR_INVAL);
  assert_int_equal(tcpu_link_submit(&l, big, TCPU_LINK_MAX_DGRAM, 0),
                   TCPU_LINK_QUEUED);
  tcpu_link_free(&l);
}

static void test_link_cfg_check_rejects_bad(void **state) {
  (void)state;
  tcpu_link l;
  const tcpu_link_cfg bad[] = {
      {.loss = 1.5},
      {.loss = -0.1},
      {.dup = 2.0},
      {.corrupt = -1.0},
      {.ge_p_good_bad = 0.1, .ge_loss_bad = 1.01},
      {.reorder = 0.1}, /* held back by no delay */
      {.overhead = 70000},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(tcpu_link_init(&l, &bad[i], 1), TCPU_ERR_INVAL);
  tcpu_link_cfg nan_loss = {.loss = NAN};
  assert_int_equal(tcpu_link_cfg_check(&nan_loss), TCPU_ERR_INVAL);
  tcpu_link_cfg ok = {.loss = 1.0, .reorder = 1.0, .reorder_delay = 1};
  assert_int_equal(tcpu_link_init(&l, &ok, 1), 0);
  assert_int_equal(tcpu_link_set_cfg(&l, &bad[0]), TCPU_ERR_INVAL);
  assert_true(l.cfg.loss == 1.0);
  tcpu_link_free(&l);
}

static void test_link_set_cfg_keeps_held(void **state) {
  (void)state;
  tcpu_link l;
  tcpu_link_cfg cfg = {.delay = 10 * MS};
  assert_int_equal(tcpu_link_init(&l, &cfg, 1), 0);
  submit_n(&l, 1, 10, 0, 0);
  cfg.delay = 1 * MS;
  assert_int_equal(tcpu_link_set_cfg(&l, &cfg), 0);
  submit_n(&l, 1, 10, 2 * MS, 0);
  /* The old one keeps its time; the new one may not overtake it (FIFO). */
  assert_true(tcpu_link_next_arrival(&l) == 10 * MS);
  uint8_t out[10];
  size_t len;
  assert_int_equal(tcpu_link_dequeue(&l, 10 * MS, out, sizeof(out), &len), 1);
  assert_true(tcpu_link_next_arrival(&l) == 10 * MS);
  tcpu_link_free(&l);
}

static void test_link_rng_below_in_range_and_spread(void **state) {
  (void)state;
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, 0);
  size_t hist[7] = {0};
  for (int i = 0; i < 70000; i++) {
    uint64_t x = tcpu_link_rng_below(&r, 7);
    assert_true(x < 7);
    hist[x]++;
  }
  for (int i = 0; i < 7; i++)
    assert_true(hist[i] > 9500 && hist[i] < 10500);
  assert_true(tcpu_link_rng_below(&r, 0) == 0);
  /* Seed 0 still gives a live state, and different seeds differ. */
  tcpu_link_rng a, b;
  tcpu_link_rng_seed(&a, 1);
  tcpu_link_rng_seed(&b, 2);
  assert_true(tcpu_link_rng_next(&a) != tcpu_link_rng_next(&b));
  double u = tcpu_link_rng_unit(&r);
  assert_true(u >= 0.0 && u < 1.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_link_empty_next_arrival_none),
      cmocka_unit_test(test_link_propagation_delay_exact),
      cmocka_unit_test(test_link_rate_serialisation_delay),
      cmocka_unit_test(test_link_rate_counts_overhead),
      cmocka_unit_test(test_link_rate_throughput_matches),
      cmocka_unit_test(test_link_jitter_bounded_never_reorders),
      cmocka_unit_test(test_link_loss_rate_near_p),
      cmocka_unit_test(test_link_loss_zero_and_one),
      cmocka_unit_test(test_link_gilbert_elliott_bursty),
      cmocka_unit_test(test_link_gilbert_elliott_good_state_loss),
      cmocka_unit_test(test_link_queue_limit_packets_drop_tail),
      cmocka_unit_test(test_link_queue_limit_bytes),
      cmocka_unit_test(test_link_queue_unlimited_without_rate),
      cmocka_unit_test(test_link_max_held_bounds_memory),
      cmocka_unit_test(test_link_duplication_always),
      cmocka_unit_test(test_link_duplication_rate_near_p),
      cmocka_unit_test(test_link_reorder_changes_order),
      cmocka_unit_test(test_link_corruption_flips_exactly_one_bit),
      cmocka_unit_test(test_link_corruption_rate_near_p),
      cmocka_unit_test(test_link_trace_submitted_vs_delivered_bytes),
      cmocka_unit_test(test_link_same_seed_identical_trace),
      cmocka_unit_test(test_link_dequeue_small_buffer_nobuf),
      cmocka_unit_test(test_link_submit_oversize_inval),
      cmocka_unit_test(test_link_cfg_check_rejects_bad),
      cmocka_unit_test(test_link_set_cfg_keeps_held),
      cmocka_unit_test(test_link_rng_below_in_range_and_spread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
