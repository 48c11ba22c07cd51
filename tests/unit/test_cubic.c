/*
 * test_cubic.c — CUBIC (RFC 9438) and HyStart++ (RFC 9406), driven through
 * the ops table with a fake tcpu_cc_stat, synthetic ACKs and injected
 * time; no connection.  The helpers play the core's part where it has one:
 * loss() enters fast recovery, calls on_congestion and leaves it at
 * ssthresh as PRR would; undo() restores cwnd/ssthresh as recovery.c does.
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
#include <math.h>

#include "cc/cc.h"

#define MSS 1448u
#define MS TCPU_NS_PER_MS
#define SEC TCPU_NS_PER_S
#define T0 (1000 * SEC)

typedef struct fx {
  const tcpu_cc_ops *ops;
  void *st;
  tcpu_cc_stat cs;
  tcpu_tstamp now;
  tcpu_tstamp first_ack; /* time of the first ACK of the last run */
} fx;

/* ---- helpers */

/* A connection just established: IW10, ssthresh infinite. */
static void fx_open(fx *f, tcpu_duration srtt) {
  memset(f, 0, sizeof *f);
  f->ops = &tcpu_cc_cubic;
  f->st = calloc(1, f->ops->state_size);
  assert_non_null(f->st);
  f->cs.mss = MSS;
  f->cs.cwnd = 10 * MSS;
  f->cs.ssthresh = UINT32_MAX;
  f->cs.srtt = srtt;
  f->cs.min_rtt = srtt;
  f->cs.latest_rtt = srtt;
  f->cs.round = 1;
  f->now = T0;
  f->ops->init(f->st, &f->cs, f->now);
}

static void fx_close(fx *f) { free(f->st); }

static void fx_copy(fx *dst, const fx *src) {
  *dst = *src;
  dst->st = malloc(src->ops->state_size);
  assert_non_null(dst->st);
  memcpy(dst->st, src->st, src->ops->state_size);
}

static void ack_full(fx *f, uint64_t bytes, tcpu_duration rtt, int limited) {
  tcpu_cc_ack a = {0};
  a.bytes_acked = bytes;
  a.bytes_delivered = bytes;
  a.prior_in_flight = f->cs.cwnd;
  a.rtt = rtt;
  a.is_cwnd_limited = limited ? 1u : 0u;
  f->ops->on_ack(f->st, &f->cs, &a, f->now);
}

static void ack(fx *f, tcpu_duration rtt) { ack_full(f, MSS, rtt, 1); }

/* A cwnd-limited flow for `d`: one ACK per segment, a window per srtt. */
static void run(fx *f, tcpu_duration d) {
  tcpu_tstamp end = f->now + d;
  f->first_ack = TCPU_TSTAMP_NONE;
  while (f->now < end) {
    f->now += (tcpu_duration)((double)f->cs.srtt * MSS / f->cs.cwnd);
    if (f->first_ack == TCPU_TSTAMP_NONE)
      f->first_ack = f->now;
    ack(f, f->cs.srtt);
  }
}

/* Runs until cwnd reaches `w` bytes (or `limit` passes). */
static void run_to_cwnd(fx *f, uint32_t w, tcpu_duration limit) {
  tcpu_tstamp end = f->now + limit;
  while (f->cs.cwnd < w && f->now < end) {
    f->now += (tcpu_duration)((double)f->cs.srtt * MSS / f->cs.cwnd);
    ack(f, f->cs.srtt);
  }
  assert_true(f->cs.cwnd >= w);
}

/* What recovery.c does around a fast recovery that PRR completes. */
static void loss_enter(fx *f) {
  f->cs.in_recovery = 1;
  f->cs.recovery_start = f->now;
  f->ops->on_congestion(f->st, &f->cs, TCPU_CC_LOSS, f->now, f->now);
}

static void loss_exit(fx *f) {
  if (f->cs.cwnd > f->cs.ssthresh)
    f->cs.cwnd = f->cs.ssthresh;
  f->cs.in_recovery = 0;
  f->cs.recovery_start = 0;
  f->ops->on_recovery_exit(f->st, &f->cs, f->now);
}

static void loss(fx *f) {
  loss_enter(f);
  loss_exit(f);
}

/* A flow in congestion avoidance at `segs` segments with no history. */
static void fx_ca(fx *f, tcpu_duration srtt, uint32_t segs) {
  fx_open(f, srtt);
  f->cs.cwnd = segs * MSS;
}

/* RFC 9438 Figure 1 in segments. */
static double w_cubic_seg(double t, double k, double w_max) {
  return 0.4 * (t - k) * (t - k) * (t - k) + w_max;
}

static double seg(uint32_t bytes) { return (double)bytes / MSS; }

/* Runs to `t` seconds after the stage's first ACK at `t0`. */
static void run_until(fx *f, tcpu_tstamp t0, double t) {
  tcpu_tstamp at = t0 + (tcpu_tstamp)(t * 1e9);
  if (at > f->now)
    run(f, at - f->now);
}

/* ---- window increase, RFC 9438 §4.2-§4.5 */

/* The requirement: without further loss the window follows
 * W(t) = C(t-K)^3 + W_max, concave below W_max and convex above it. */
static void test_cubic_rfc9438_4_2_no_loss_after_loss_follows_w_cubic(
    void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 100 * MS, 1000);
  loss(&f);
  double w_max = 1000, k = cbrt(1000 * (1 - 0.7) / 0.4);
  /* The stage starts at the first ACK after recovery. */
  f.now += (tcpu_duration)((double)f.cs.srtt * MSS / f.cs.cwnd);
  tcpu_tstamp t0 = f.now;
  ack(&f, f.cs.srtt);
  const double ts[] = {1.0, 3.0, k / 2, k - 1, k, k + 1, k + 3, k + 5};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
    run_until(&f, t0, ts[i]);
    double want = w_cubic_seg((double)(f.now - t0) / 1e9, k, w_max);
    double got = seg(f.cs.cwnd);
    /* The window approaches W(t+RTT) one ACK at a time, so it trails
     * the curve a little where the curve is steep. */
    double tol = want * 0.01 > 2 ? want * 0.01 : 2;
    if (fabs(got - want) > tol)
      fail_msg("t=%.2f s: cwnd %.1f segments, W_cubic %.1f", ts[i], got,
               want);
  }
  /* Concave then convex: at K the window stands at W_max. */
  assert_true(seg(f.cs.cwnd) > w_max);
  fx_close(&f);
}

/* §4.3: with a short RTT and a small window Reno's estimate outgrows the
 * curve and the window follows it: alpha_cubic per RTT up to cwnd_prior,
 * then one segment per RTT. */
static void test_cubic_rfc9438_4_3_short_rtt_small_window_reno_friendly(
    void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 1 * MS, 20);
  loss(&f);
  assert_true(abs((int)f.cs.cwnd - (int)(14 * MSS)) <= 1);
  run(&f, 200 * MS); /* 200 RTTs */
  double t = 0.2, k = cbrt(20 * 0.3 / 0.4);
  double alpha = 3 * (1 - 0.7) / (1 + 0.7);
  double rtts_to_prior = (20 - 14) / alpha;
  double reno = 20 + (200 - rtts_to_prior);
  double got = seg(f.cs.cwnd);
  if (fabs(got - reno) > reno * 0.03)
    fail_msg("cwnd %.1f segments, Reno estimate %.1f", got, reno);
  /* Far above what the cubic curve alone would give. */
  assert_true(got > 5 * w_cubic_seg(t, k, 20));
  fx_close(&f);
}

/* §4.2 bounds: the target is at most 1.5 x cwnd, so however far the
 * curve has run ahead, one window of ACKs adds at most half a window. */
static void test_cubic_rfc9438_4_2_target_capped_at_1_5_cwnd(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 100 * MS, 100);
  loss(&f);
  ack(&f, f.cs.srtt); /* the stage begins */
  f.now += 30 * SEC;  /* W_cubic(30 s) is some 7000 segments */
  uint32_t w = f.cs.cwnd;
  for (uint32_t i = 0; i < w / MSS; i++)
    ack(&f, f.cs.srtt);
  assert_true(f.cs.cwnd <= w + w / 2 + 1);
  assert_true(f.cs.cwnd >= w + w / 2 - MSS);
  fx_close(&f);
}

/* ---- multiplicative decrease, fast convergence, timeout */

static void test_cubic_rfc9438_4_6_loss_ssthresh_beta_cwnd(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 50 * MS, 100);
  loss_enter(&f);
  assert_int_equal(f.cs.ssthresh, (uint32_t)(100 * MSS * 0.7));
  /* The core, not CUBIC, takes cwnd down (PRR). */
  assert_int_equal(f.cs.cwnd, 100 * MSS);
  fx_close(&f);
}

static void test_cubic_rfc9438_4_6_tiny_window_ssthresh_two_segments(
    void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 50 * MS, 2);
  loss_enter(&f);
  assert_int_equal(f.cs.ssthresh, 2 * MSS);
  fx_close(&f);
}

static void test_cubic_rfc9438_4_8_rto_ssthresh_beta_cwnd(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 50 * MS, 100);
  f.cs.in_recovery = 1;
  f.ops->on_congestion(f.st, &f.cs, TCPU_CC_RTO, f.now, f.now);
  assert_int_equal(f.cs.ssthresh, (uint32_t)(100 * MSS * 0.7));
  assert_int_equal(f.cs.cwnd, MSS); /* RFC 5681 §3.1 loss window */
  fx_close(&f);
}

/* §4.7: a loss before the window regained the previous W_max plateaus
 * the next curve at (1 + beta)/2 x cwnd instead of at cwnd. */
static void test_cubic_rfc9438_4_7_loss_below_w_max_lowers_w_max(
    void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 100 * MS, 1000);
  loss(&f); /* W_max = 1000 segments */
  run_to_cwnd(&f, 800 * MSS, 10 * SEC);
  double cwnd = seg(f.cs.cwnd);
  loss(&f);
  assert_true(fabs(seg(f.cs.ssthresh) - cwnd * 0.7) < 1);
  double w_max = cwnd * (1 + 0.7) / 2;
  double k = cbrt((w_max - seg(f.cs.cwnd)) / 0.4);
  f.now += (tcpu_duration)((double)f.cs.srtt * MSS / f.cs.cwnd);
  tcpu_tstamp t0 = f.now;
  ack(&f, f.cs.srtt);
  run_until(&f, t0, k);
  /* The plateau is the lowered W_max ... */
  double got = seg(f.cs.cwnd);
  if (fabs(got - w_max) > w_max * 0.01)
    fail_msg("cwnd %.1f at K=%.2f s, W_max %.1f", got, k, w_max);
  /* ... well below the window at the loss, where a curve with W_max =
   * cwnd would be by now. */
  double k_plain = cbrt(cwnd * 0.3 / 0.4);
  assert_true(got < w_cubic_seg(k, k_plain, cwnd) - 0.1 * cwnd);
  fx_close(&f);
}

/* §4.8: the first stage after a timeout starts at the plateau, K = 0 and
 * W_max = cwnd_epoch, so it grows convexly from where slow start ended. */
static void test_cubic_rfc9438_4_8_after_rto_first_stage_k_zero(
    void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 100 * MS, 1000);
  loss(&f);
  run(&f, 2 * SEC);
  f.cs.in_recovery = 1;
  f.ops->on_congestion(f.st, &f.cs, TCPU_CC_RTO, f.now, f.now);
  f.cs.cwnd = MSS; /* the core's loss window */
  f.cs.in_recovery = 0;
  uint32_t ssthresh = f.cs.ssthresh;
  run_to_cwnd(&f, ssthresh, 30 * SEC); /* slow start back */
  assert_true(f.cs.cwnd < ssthresh + MSS);
  double epoch = seg(f.cs.cwnd);
  f.now += (tcpu_duration)((double)f.cs.srtt * MSS / f.cs.cwnd);
  tcpu_tstamp t0 = f.now;
  ack(&f, f.cs.srtt);
  run_until(&f, t0, 6.0);
  double want = w_cubic_seg((double)(f.now - t0) / 1e9, 0, epoch);
  double got = seg(f.cs.cwnd);
  if (fabs(got - want) > want * 0.01)
    fail_msg("cwnd %.1f, W_cubic with K=0 %.1f", got, want);
  fx_close(&f);
}

/* A timeout while fast recovery still runs is the same congestion event:
 * ssthresh is not cut a second time from the PRR-reduced window. */
static void test_cubic_rto_during_fast_recovery_no_second_cut(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 50 * MS, 100);
  loss_enter(&f);
  uint32_t ssthresh = f.cs.ssthresh;
  f.cs.cwnd = 40 * MSS; /* PRR on the way down */
  f.ops->on_congestion(f.st, &f.cs, TCPU_CC_RTO, f.now, f.now);
  assert_int_equal(f.cs.ssthresh, ssthresh);
  fx_close(&f);
}

/* ---- spurious congestion events, RFC 9438 §4.9.2 */

/* After an undo the window goes on exactly as if the loss had never been
 * declared: W_max, K, t_epoch and W_est come back with cwnd/ssthresh. */
static void test_cubic_rfc9438_4_9_spurious_loss_undo_restores_curve(
    void **state) {
  (void)state;
  fx a, b, c;
  fx_ca(&a, 100 * MS, 1000);
  loss(&a);
  run(&a, 2 * SEC);
  fx_copy(&b, &a); /* never sees the loss */
  fx_copy(&c, &a); /* sees it, no undo */
  tcpu_cc_stat before = a.cs;
  loss_enter(&a);
  loss_enter(&c);
  loss_exit(&c);
  /* recovery.c's undo(): cwnd and ssthresh back, then the hook. */
  a.cs.cwnd = before.cwnd;
  a.cs.ssthresh = before.ssthresh;
  a.cs.in_recovery = 0;
  a.cs.recovery_start = 0;
  a.ops->on_spurious(a.st, &a.cs, a.now);
  run(&a, 5 * SEC);
  run(&b, 5 * SEC);
  run(&c, 5 * SEC);
  assert_true(abs((int)a.cs.cwnd - (int)b.cs.cwnd) <= (int)MSS);
  assert_int_equal(a.cs.ssthresh, b.cs.ssthresh);
  assert_true(c.cs.cwnd < b.cs.cwnd - 100 * MSS);
  fx_close(&a);
  fx_close(&b);
  fx_close(&c);
}

/* An undo that also restores the initial slow start resumes HyStart++. */
static void test_cubic_spurious_loss_in_slow_start_undo_resumes_slow_start(
    void **state) {
  (void)state;
  fx f;
  fx_open(&f, 50 * MS);
  loss_enter(&f);
  f.cs.cwnd = 10 * MSS;
  f.cs.ssthresh = UINT32_MAX;
  f.cs.in_recovery = 0;
  f.ops->on_spurious(f.st, &f.cs, f.now);
  ack(&f, 50 * MS);
  assert_int_equal(f.cs.cwnd, 11 * MSS);
  assert_int_equal(f.cs.ssthresh, UINT32_MAX);
  fx_close(&f);
}

/* ---- application-limited and idle, RFC 9438 §5.8 */

static void test_cubic_rfc9438_5_8_app_limited_no_growth_time_excluded(
    void **state) {
  (void)state;
  fx a, b;
  fx_ca(&a, 100 * MS, 1000);
  loss(&a);
  run(&a, 1 * SEC);
  fx_copy(&b, &a); /* b: no limited stretch; its clock stays behind */
  /* a: 4 s of ACKs while the application leaves the window unused. */
  uint32_t w = a.cs.cwnd;
  tcpu_tstamp end = a.now + 4 * SEC;
  while (a.now < end) {
    a.now += 10 * MS;
    ack_full(&a, MSS, a.cs.srtt, 0);
  }
  assert_int_equal(a.cs.cwnd, w);
  /* Then both run cwnd-limited for 3 s: the same window, as if the
   * limited stretch had not been. */
  run(&a, 3 * SEC);
  run(&b, 3 * SEC);
  double d = fabs(seg(a.cs.cwnd) - seg(b.cs.cwnd));
  if (d > seg(b.cs.cwnd) * 0.005 + 1)
    fail_msg("cwnd %.1f after limited, %.1f without", seg(a.cs.cwnd),
             seg(b.cs.cwnd));
  fx_close(&a);
  fx_close(&b);
}

static void test_cubic_not_cwnd_limited_slow_start_no_growth(void **state) {
  (void)state;
  fx f;
  fx_open(&f, 50 * MS);
  ack_full(&f, MSS, 50 * MS, 0);
  assert_int_equal(f.cs.cwnd, 10 * MSS);
  fx_close(&f);
}

static void test_cubic_idle_restart_window_at_most_iw(void **state) {
  (void)state;
  fx f;
  fx_ca(&f, 50 * MS, 100);
  loss(&f); /* W_max 100 segments */
  run(&f, 1 * SEC);
  f.now += 10 * SEC;
  f.ops->on_idle_restart(f.st, &f.cs, f.now);
  assert_int_equal(f.cs.cwnd, 10 * MSS);
  /* Slow start leads back to ssthresh; then a new stage begins there,
   * not a curve that ran on through the idle time (§5.8), which would
   * be far past K and grow by half a window per RTT. */
  run_to_cwnd(&f, f.cs.ssthresh, 10 * SEC);
  double epoch = seg(f.cs.cwnd);
  run(&f, 1 * SEC);
  double k = cbrt((100 - epoch) / 0.4);
  double want = w_cubic_seg((double)(f.now - f.first_ack) / 1e9, k, 100);
  double got = seg(f.cs.cwnd);
  if (fabs(got - want) > want * 0.02)
    fail_msg("cwnd %.1f, fresh curve %.1f", got, want);
  fx_close(&f);
}

/* ---- HyStart++, RFC 9406 */

/* Eight ACKs each carrying an RTT sample `rtt`, in round `round`. */
static void hs_round(fx *f, uint64_t round, tcpu_duration rtt, int n) {
  f->cs.round = round;
  for (int i = 0; i < n; i++) {
    f->now += 1 * MS;
    ack(f, rtt);
  }
}

static void test_cubic_rfc9406_slow_start_paced_grows_by_bytes_acked(
    void **state) {
  (void)state;
  fx f;
  fx_open(&f, 50 * MS);
  /* L = infinity when paced: a stretch ACK counts in full. */
  ack_full(&f, 20 * MSS, 50 * MS, 1);
  assert_int_equal(f.cs.cwnd, 30 * MSS);
  fx_close(&f);
}

static void test_cubic_rfc9406_slow_start_unpaced_l_is_8(void **state) {
  (void)state;
  fx f;
  fx_open(&f, 0); /* no RTT yet: the core does not pace */
  ack_full(&f, 20 * MSS, TCPU_TSTAMP_NONE, 1);
  assert_int_equal(f.cs.cwnd, 18 * MSS);
  fx_close(&f);
}

/* RTT of the round up by the threshold (max(4 ms, min(50/8, 16)) = 6.25
 * ms here) after N_RTT_SAMPLE samples: Conservative Slow Start, a quarter
 * of the growth. */
static void test_cubic_rfc9406_rtt_rise_enters_css(void **state) {
  (void)state;
  fx f;
  fx_open(&f, 50 * MS);
  hs_round(&f, 1, 50 * MS, 8);
  assert_int_equal(f.cs.cwnd, 18 * MSS);
  hs_round(&f, 2, 56 * MS, 8); /* +6 ms: below the threshold */
  assert_int_equal(f.cs.cwnd, 26 * MSS);
  hs_round(&f, 3, 56 * MS, 1); /* 56 vs 56: no rise */
  hs_round(&f, 4, 63 * MS, 8); /* +7 ms over 56: CSS after the 8th */
  uint32_t w = f.cs.cwnd;
  assert_int_equal(w, 35 * MSS);
  ack(&f, 63 * MS);
  assert_int_equal(f.cs.cwnd, w + MSS / 4);
  assert_int_equal(f.cs.ssthresh, UINT32_MAX);
  fx_close(&f);
}

/* §4.3: RttThresh = max(4 ms, min(lastRoundMinRTT / 8, 16 ms)). */
static void test_cubic_rfc9406_rtt_thresh_clamped_4_to_16_ms(void **state) {
  (void)state;
  static const struct {
    tcpu_duration last, rise;
    int css;
  } cases[] = {
      /*  0 */ {10 * MS, 3 * MS, 0},  /* 10/8 = 1.25 ms, but 4 ms at least */
      /*  1 */ {10 * MS, 4 * MS, 1},
      /*  2 */ {200 * MS, 24 * MS, 1}, /* 200/8 = 25 ms, but 16 at most */
      /*  3 */ {200 * MS, 15 * MS, 0},
      /*  4 */ {80 * MS, 9 * MS, 0},   /* 80/8 = 10 ms */
      /*  5 */ {80 * MS, 10 * MS, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fx f;
    fx_open(&f, cases[i].last);
    hs_round(&f, 1, cases[i].last, 8);
    hs_round(&f, 2, cases[i].last + cases[i].rise, 8);
    uint32_t w = f.cs.cwnd;
    ack(&f, cases[i].last + cases[i].rise);
    uint32_t want = cases[i].css ? MSS / 4 : MSS;
    if (f.cs.cwnd - w != want)
      fail_msg("case %zu: grew %u, want %u", i, f.cs.cwnd - w, want);
    fx_close(&f);
  }
}

/* Fewer than N_RTT_SAMPLE samples in the round: no decision. */
static void test_cubic_rfc9406_few_samples_stays_in_slow_start(void **state) {
  (void)state;
  fx f;
  fx_open(&f, 50 * MS);
  hs_round(&f, 1, 50 * MS, 8);
  hs_round(&f, 2, 80 * MS, 7);
  uint32_t w = f.cs.cwnd;
  ack(&f, TCPU_TSTAMP_NONE); /* an ACK without a sample */
  assert_int_equal(f.cs.cwnd, w + MSS);
  fx_close(&f);
}

/* In CSS, a round whose minimum RTT falls below the baseline shows the
 * exit was spurious: back to slow start. */
static void test_cubic_rfc9406_rtt_fall_in_css_resumes_slow_start(
    void **state) {
  (void)state;
  fx f;
  fx_open(&f, 50 * MS);
  hs_round(&f, 1, 50 * MS, 8);
  hs_round(&f, 2, 60 * MS, 8); /* CSS, baseline 60 ms */
  uint32_t w = f.cs.cwnd;
  hs_round(&f, 3, 55 * MS, 7);
  assert_int_equal(f.cs.cwnd, w + 7 * (MSS / 4));
  hs_round(&f, 3, 55 * MS, 1); /* 8th sample: 55 < 60 */
  w = f.cs.cwnd;
  ack(&f, 55 * MS);
  assert_int_equal(f.cs.cwnd, w + MSS);
  assert_int_equal(f.cs.ssthresh, UINT32_MAX);
  fx_close(&f);
}

/* CSS_ROUNDS rounds of CSS, the partial first included: congestion
 * avoidance with ssthresh = cwnd. */
static void test_cubic_rfc9406_css_rounds_done_enters_avoidance(
    void **state) {
  (void)state;
  fx f;
  fx_open(&f, 50 * MS);
  hs_round(&f, 1, 50 * MS, 8);
  hs_round(&f, 2, 60 * MS, 8); /* CSS round 1 (partial) */
  for (uint64_t r = 3; r <= 6; r++) {
    hs_round(&f, r, 60 * MS, 8); /* CSS rounds 2-5 */
    assert_int_equal(f.cs.ssthresh, UINT32_MAX);
  }
  uint32_t w = f.cs.cwnd;
  f.ops->on_round(f.st, &f.cs, 7);
  assert_int_equal(f.cs.ssthresh, w);
  /* §4.10: the stage begins at the plateau, K = 0: a window of ACKs
   * adds about one segment (Reno's alpha = 1 once W_est >= cwnd_prior),
   * nothing like slow start. */
  f.cs.round = 7;
  f.cs.srtt = 60 * MS;
  run(&f, 60 * MS);
  assert_true(f.cs.cwnd >= w && f.cs.cwnd <= w + 2 * MSS);
  fx_close(&f);
}

static void test_cubic_rfc9406_loss_in_css_ends_hystart(void **state) {
  (void)state;
  fx f;
  fx_open(&f, 50 * MS);
  hs_round(&f, 1, 50 * MS, 8);
  hs_round(&f, 2, 60 * MS, 8); /* CSS */
  uint32_t w = f.cs.cwnd;
  loss(&f);
  assert_int_equal(f.cs.ssthresh, (uint32_t)(w * 0.7));
  assert_int_equal(f.cs.cwnd, f.cs.ssthresh);
  fx_close(&f);
}

/* ---- registry */

static void test_cubic_registry_builtin_and_default(void **state) {
  (void)state;
  assert_ptr_equal(tcpu_cc_find(NULL, "cubic"), &tcpu_cc_cubic);
  assert_string_equal(TCPU_CC_DEFAULT, "cubic");
  assert_non_null(tcpu_cc_cubic.on_spurious);
  assert_non_null(tcpu_cc_cubic.on_round);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          test_cubic_rfc9438_4_2_no_loss_after_loss_follows_w_cubic),
      cmocka_unit_test(
          test_cubic_rfc9438_4_3_short_rtt_small_window_reno_friendly),
      cmocka_unit_test(test_cubic_rfc9438_4_2_target_capped_at_1_5_cwnd),
      cmocka_unit_test(test_cubic_rfc9438_4_6_loss_ssthresh_beta_cwnd),
      cmocka_unit_test(
          test_cubic_rfc9438_4_6_tiny_window_ssthresh_two_segments),
      cmocka_unit_test(test_cubic_rfc9438_4_8_rto_ssthresh_beta_cwnd),
      cmocka_unit_test(test_cubic_rfc9438_4_7_loss_below_w_max_lowers_w_max),
      cmocka_unit_test(test_cubic_rfc9438_4_8_after_rto_first_stage_k_zero),
      cmocka_unit_test(test_cubic_rto_during_fast_recovery_no_second_cut),
      cmocka_unit_test(
          test_cubic_rfc9438_4_9_spurious_loss_undo_restores_curve),
      cmocka_unit_test(
          test_cubic_spurious_loss_in_slow_start_undo_resumes_slow_start),
      cmocka_unit_test(
          test_cubic_rfc9438_5_8_app_limited_no_growth_time_excluded),
      cmocka_unit_test(test_cubic_not_cwnd_limited_slow_start_no_growth),
      cmocka_unit_test(test_cubic_idle_restart_window_at_most_iw),
      cmocka_unit_test(
          test_cubic_rfc9406_slow_start_paced_grows_by_bytes_acked),
      cmocka_unit_test(test_cubic_rfc9406_slow_start_unpaced_l_is_8),
      cmocka_unit_test(test_cubic_rfc9406_rtt_rise_enters_css),
      cmocka_unit_test(test_cubic_rfc9406_rtt_thresh_clamped_4_to_16_ms),
      cmocka_unit_test(test_cubic_rfc9406_few_samples_stays_in_slow_start),
      cmocka_unit_test(test_cubic_rfc9406_rtt_fall_in_css_resumes_slow_start),
      cmocka_unit_test(test_cubic_rfc9406_css_rounds_done_enters_avoidance),
      cmocka_unit_test(test_cubic_rfc9406_loss_in_css_ends_hystart),
      cmocka_unit_test(test_cubic_registry_builtin_and_default),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
