/*
 * test_ledbat.c — LEDBAT (RFC 6817) driven through the ops table with a
 * fake tcpu_cc_stat, synthetic ACKs and injected time; no connection.
 * The delay LEDBAT sees is the RTT sample of each ACK: base 50 ms plus
 * whatever queue the test puts on top.
 *
 * A cwnd-limited flow is modelled as one ACK per segment, the ACKs of a
 * window spread evenly over one srtt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cc/cc.h"

/* As in ledbat.c: a build that changes the target changes both. */
#ifndef TCPU_LEDBAT_TARGET_MS
#define TCPU_LEDBAT_TARGET_MS 100
#endif

#define MSS 1448u
#define MS TCPU_NS_PER_MS
#define SEC TCPU_NS_PER_S
#define TARGET (TCPU_LEDBAT_TARGET_MS * MS)
#define BASE (50 * MS)
/* On a minute boundary, so the base history's minutes are easy to count. */
#define T0 (17 * 60 * SEC)

typedef struct fx {
  const tcpu_cc_ops *ops;
  void *st;
  tcpu_cc_stat cs;
  tcpu_tstamp now;
} fx;

/* ---- helpers */

static void fx_open(fx *f) {
  memset(f, 0, sizeof *f);
  f->ops = &tcpu_cc_ledbat;
  f->st = calloc(1, f->ops->state_size);
  assert_non_null(f->st);
  f->cs.mss = MSS;
  f->cs.cwnd = 10 * MSS; /* what the core sets before init */
  f->cs.ssthresh = UINT32_MAX;
  f->cs.srtt = BASE;
  f->cs.min_rtt = BASE;
  f->cs.latest_rtt = BASE;
  f->now = T0;
  f->ops->init(f->st, &f->cs, f->now);
}

static void fx_close(fx *f) { free(f->st); }

static void ack_full(fx *f, tcpu_duration rtt, uint64_t in_flight,
                     int limited) {
  tcpu_cc_ack a = {0};
  a.bytes_acked = MSS;
  a.bytes_delivered = MSS;
  a.prior_in_flight = in_flight;
  a.rtt = rtt;
  a.is_cwnd_limited = limited ? 1u : 0u;
  f->cs.delivered += MSS;
  if (rtt != TCPU_TSTAMP_NONE)
    f->cs.latest_rtt = rtt;
  f->ops->on_ack(f->st, &f->cs, &a, f->now);
}

static void ack(fx *f, tcpu_duration rtt) {
  ack_full(f, rtt, f->cs.cwnd, 1);
}

/* n round trips of a cwnd-limited flow whose every RTT sample is `rtt`. */
static void run_rtts(fx *f, unsigned n, tcpu_duration rtt) {
  f->cs.srtt = rtt;
  for (unsigned r = 0; r < n; r++) {
    uint32_t acks = f->cs.cwnd / MSS;
    for (uint32_t i = 0; i < acks; i++) {
      f->now += rtt / acks;
      ack(f, rtt);
    }
  }
}

/* A flow past slow start at `segs` segments that has seen the base RTT. */
static void fx_ca(fx *f, uint32_t segs) {
  fx_open(f);
  ack(f, BASE);
  f->now += 1 * SEC; /* that sample has left the current filter */
  f->cs.cwnd = segs * MSS;
  f->cs.ssthresh = segs * MSS;
}

static void congestion(fx *f, tcpu_cc_signal s) {
  f->cs.in_recovery = 1;
  f->ops->on_congestion(f->st, &f->cs, s, f->now, f->now);
  /* The core: PRR to ssthresh (or one segment after a timeout). */
  f->cs.cwnd = s == TCPU_CC_RTO ? MSS : f->cs.ssthresh;
  f->cs.in_recovery = 0;
}

/* ---- initial window and slow start */

static void test_ledbat_rfc6817_2_5_new_connection_init_cwnd_two(
    void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  assert_int_equal(f.cs.cwnd, 2 * MSS);
  fx_close(&f);
}

static void test_ledbat_switch_mid_connection_keeps_window(void **state) {
  (void)state;
  fx f;
  memset(&f, 0, sizeof f);
  f.ops = &tcpu_cc_ledbat;
  f.st = calloc(1, f.ops->state_size);
  f.cs.mss = MSS;
  f.cs.cwnd = 40 * MSS;
  f.cs.ssthresh = 30 * MSS;
  f.cs.delivered = 1000000;
  f.ops->init(f.st, &f.cs, T0);
  assert_int_equal(f.cs.cwnd, 40 * MSS);
  fx_close(&f);
}

static void test_ledbat_slow_start_no_queue_one_segment_per_ack(
    void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  run_rtts(&f, 3, BASE); /* 2 -> 4 -> 8 -> 16 */
  assert_int_equal(f.cs.cwnd, 16 * MSS);
  assert_int_equal(f.cs.ssthresh, UINT32_MAX);
  fx_close(&f);
}

static void test_ledbat_slow_start_queue_three_quarters_target_exits(
    void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  run_rtts(&f, 3, BASE);
  uint32_t w = f.cs.cwnd;
  /* A sample with no low one from the last RTT beside it in the filter. */
  f.now += BASE + 1 * MS;
  ack(&f, BASE + TARGET * 3 / 4 + 1 * MS);
  assert_true(f.cs.ssthresh <= f.cs.cwnd);
  assert_true(f.cs.cwnd < w + MSS); /* LEDBAT's increase, not slow start */
  /* And stays out: the delay falling again means linear growth. */
  w = f.cs.cwnd;
  run_rtts(&f, 1, BASE);
  run_rtts(&f, 1, BASE);
  assert_true(f.cs.cwnd <= w + 2 * MSS + MSS / 2);
  fx_close(&f);
}

/* ---- congestion avoidance, RFC 6817 §2.4.2 */

/* No queue: off_target = 1, one segment per RTT (GAIN 1). */
static void test_ledbat_rfc6817_2_4_2_no_queue_grows_one_segment_per_rtt(
    void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 20);
  run_rtts(&f, 10, BASE);
  assert_true(f.cs.cwnd >= 29 * MSS && f.cs.cwnd <= 30 * MSS + 1);
  fx_close(&f);
}

/* Half the target queued: off_target = 0.5, half a segment per RTT. */
static void test_ledbat_rfc6817_2_4_2_half_target_grows_half_rate(
    void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 20);
  run_rtts(&f, 10, BASE + TARGET / 2);
  assert_true(f.cs.cwnd >= 24 * MSS && f.cs.cwnd <= 25 * MSS + 1);
  fx_close(&f);
}

/* Twice the target queued: off_target = -1, one segment less per RTT. */
static void test_ledbat_rfc6817_2_4_2_above_target_shrinks(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 20);
  run_rtts(&f, 5, BASE + 2 * TARGET);
  assert_true(f.cs.cwnd >= 14 * MSS + MSS / 2 &&
              f.cs.cwnd <= 15 * MSS + MSS / 2);
  /* ssthresh follows, so the core does not take this for slow start. */
  assert_true(f.cs.ssthresh <= f.cs.cwnd);
  fx_close(&f);
}

static void test_ledbat_at_target_holds(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 20);
  run_rtts(&f, 10, BASE + TARGET);
  assert_int_equal(f.cs.cwnd, 20 * MSS);
  fx_close(&f);
}

static void test_ledbat_rfc6817_2_5_large_queue_never_below_min_cwnd(
    void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 20);
  run_rtts(&f, 50, BASE + 20 * TARGET);
  assert_int_equal(f.cs.cwnd, 2 * MSS);
  fx_close(&f);
}

/* §2.4.2 max_allowed_cwnd: not beyond flightsize + ALLOWED_INCREASE. */
static void test_ledbat_rfc6817_2_4_2_app_limited_no_growth(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 20);
  for (int i = 0; i < 100; i++) {
    f.now += 5 * MS;
    ack_full(&f, BASE, 5 * MSS, 0);
  }
  assert_int_equal(f.cs.cwnd, 20 * MSS);
  /* cwnd-limited by the core's measure but with a flight that trails:
   * the window grows to flightsize + 1 segment and no further. */
  for (int i = 0; i < 100; i++) {
    f.now += 5 * MS;
    ack_full(&f, BASE, 20 * MSS, 1);
  }
  assert_int_equal(f.cs.cwnd, 21 * MSS);
  fx_close(&f);
}

/* ---- delay estimation */

static void test_ledbat_base_delay_follows_new_minimum(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  f.cs.cwnd = f.cs.ssthresh = 20 * MSS;
  run_rtts(&f, 5, 150 * MS); /* base 150: no queue, growing */
  assert_true(f.cs.cwnd > 20 * MSS);
  f.now += 10 * MS;
  ack(&f, 20 * MS); /* a shorter path: base 20 */
  uint32_t w = f.cs.cwnd;
  run_rtts(&f, 20, 150 * MS); /* now 130 ms of queue: shrinking */
  assert_true(f.cs.cwnd < w - 3 * MSS);
  fx_close(&f);
}

/* §2.4.2 / §2.5 BASE_HISTORY: a minimum older than ten one-minute
 * intervals is forgotten (the path got longer, e.g. a route change). */
static void test_ledbat_rfc6817_2_5_base_history_ten_minutes_expires(
    void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  f.cs.cwnd = f.cs.ssthresh = 20 * MSS;
  f.cs.srtt = 300 * MS;
  ack(&f, 20 * MS); /* at T0, the first second of minute 17 */
  for (int s = 1; s < 600; s++) { /* minutes 17-26: base stays 20 */
    f.now = T0 + (tcpu_duration)s * SEC;
    ack(&f, 300 * MS);
  }
  assert_int_equal(f.cs.cwnd, 2 * MSS);
  for (int s = 600; s < 620; s++) { /* minute 27: minute 17 drops out */
    f.now = T0 + (tcpu_duration)s * SEC;
    ack(&f, 300 * MS);
  }
  assert_true(f.cs.cwnd > 2 * MSS);
  fx_close(&f);
}

/* §2.4.2 FILTER: the current delay is the minimum of the recent samples,
 * so one outlier does not move the window the wrong way. */
static void test_ledbat_current_filter_min_of_recent_samples(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 20);
  f.cs.srtt = 200 * MS;
  f.now += 1 * MS;
  ack(&f, BASE + 10 * MS);
  f.now += 1 * MS;
  ack(&f, BASE + 3 * TARGET); /* a spike */
  assert_true(f.cs.cwnd > 20 * MSS);
  fx_close(&f);
}

/* §2.5: no sample in the filter older than an RTT. */
static void test_ledbat_current_filter_drops_samples_older_than_rtt(
    void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 20);
  f.now += 1 * MS;
  ack(&f, BASE); /* low, but ... */
  f.now += 2 * BASE;
  ack(&f, BASE + 3 * TARGET); /* ... two RTTs older than this one */
  assert_true(f.cs.cwnd < 20 * MSS);
  fx_close(&f);
}

/* The ACKs of a loss recovery, and the one that ends it, can time a
 * segment that waited at the receiver for the hole before it to be
 * repaired: no queue, and no reason to shrink. */
static void test_ledbat_recovery_rtt_samples_not_queuing_delay(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 20);
  congestion(&f, TCPU_CC_LOSS);
  f.cs.in_recovery = 1;
  f.now += 1 * SEC;
  ack(&f, 2 * SEC);
  f.now += 1 * SEC;
  f.cs.in_recovery = 0; /* this ACK ends recovery */
  f.ops->on_recovery_exit(f.st, &f.cs, f.now);
  uint32_t w = f.cs.cwnd;
  ack(&f, 2 * SEC);
  assert_true(f.cs.cwnd >= w);
  f.now += 10 * MS;
  ack(&f, BASE);
  assert_true(f.cs.cwnd > w);
  fx_close(&f);
}

/* ---- loss, RFC 6817 §2.4.2 */

static void test_ledbat_rfc6817_2_4_2_loss_halves_once_per_rtt(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 40);
  congestion(&f, TCPU_CC_LOSS);
  assert_int_equal(f.cs.cwnd, 20 * MSS);
  f.now += BASE / 2;
  congestion(&f, TCPU_CC_LOSS); /* within the RTT: no second cut */
  assert_int_equal(f.cs.cwnd, 20 * MSS);
  f.now += BASE;
  congestion(&f, TCPU_CC_LOSS);
  assert_int_equal(f.cs.cwnd, 10 * MSS);
  fx_close(&f);
}

static void test_ledbat_loss_small_window_not_below_min_cwnd(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 3);
  congestion(&f, TCPU_CC_LOSS);
  assert_int_equal(f.cs.ssthresh, 2 * MSS);
  fx_close(&f);
}

/* After a timeout the core sets one segment; slow start leads back to
 * half the old window, then LEDBAT's increase. */
static void test_ledbat_rto_slow_start_back_to_half(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 40);
  congestion(&f, TCPU_CC_RTO);
  assert_int_equal(f.cs.ssthresh, 20 * MSS);
  assert_int_equal(f.cs.cwnd, MSS);
  run_rtts(&f, 4, BASE); /* 1 -> 2 -> 4 -> 8 -> 16 */
  assert_int_equal(f.cs.cwnd, 16 * MSS);
  run_rtts(&f, 1, BASE); /* to 20, then LEDBAT's increase */
  assert_true(f.cs.cwnd >= 20 * MSS && f.cs.cwnd < 21 * MSS);
  assert_true(f.cs.ssthresh <= f.cs.cwnd);
  run_rtts(&f, 2, BASE);
  assert_true(f.cs.cwnd <= 23 * MSS);
  fx_close(&f);
}

/* An undone cut does not count toward "once per RTT". */
static void test_ledbat_spurious_undo_next_loss_cuts(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 40);
  congestion(&f, TCPU_CC_LOSS);
  f.cs.cwnd = 40 * MSS; /* the core's undo */
  f.cs.ssthresh = 40 * MSS;
  f.ops->on_spurious(f.st, &f.cs, f.now);
  f.now += BASE / 2;
  congestion(&f, TCPU_CC_LOSS);
  assert_int_equal(f.cs.cwnd, 20 * MSS);
  fx_close(&f);
}

static void test_ledbat_idle_restart_window_at_most_iw(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 40);
  f.now += 10 * SEC;
  f.ops->on_idle_restart(f.st, &f.cs, f.now);
  assert_int_equal(f.cs.cwnd, 10 * MSS);
  assert_int_equal(f.cs.ssthresh, 40 * MSS);
  fx_close(&f);
}

static void test_ledbat_registry_builtin(void **state) {
  (void)state;
  assert_ptr_equal(tcpu_cc_find(NULL, "ledbat"), &tcpu_cc_ledbat);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ledbat_rfc6817_2_5_new_connection_init_cwnd_two),
      cmocka_unit_test(test_ledbat_switch_mid_connection_keeps_window),
      cmocka_unit_test(test_ledbat_slow_start_no_queue_one_segment_per_ack),
      cmocka_unit_test(
          test_ledbat_slow_start_queue_three_quarters_target_exits),
      cmocka_unit_test(
          test_ledbat_rfc6817_2_4_2_no_queue_grows_one_segment_per_rtt),
      cmocka_unit_test(test_ledbat_rfc6817_2_4_2_half_target_grows_half_rate),
      cmocka_unit_test(test_ledbat_rfc6817_2_4_2_above_target_shrinks),
      cmocka_unit_test(test_ledbat_at_target_holds),
      cmocka_unit_test(
          test_ledbat_rfc6817_2_5_large_queue_never_below_min_cwnd),
      cmocka_unit_test(test_ledbat_rfc6817_2_4_2_app_limited_no_growth),
      cmocka_unit_test(test_ledbat_base_delay_follows_new_minimum),
      cmocka_unit_test(
          test_ledbat_rfc6817_2_5_base_history_ten_minutes_expires),
      cmocka_unit_test(test_ledbat_current_filter_min_of_recent_samples),
      cmocka_unit_test(
          test_ledbat_current_filter_drops_samples_older_than_rtt),
      cmocka_unit_test(test_ledbat_recovery_rtt_samples_not_queuing_delay),
      cmocka_unit_test(test_ledbat_rfc6817_2_4_2_loss_halves_once_per_rtt),
      cmocka_unit_test(test_ledbat_loss_small_window_not_below_min_cwnd),
      cmocka_unit_test(test_ledbat_rto_slow_start_back_to_half),
      cmocka_unit_test(test_ledbat_spurious_undo_next_loss_cuts),
      cmocka_unit_test(test_ledbat_idle_restart_window_at_most_iw),
      cmocka_unit_test(test_ledbat_registry_builtin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
