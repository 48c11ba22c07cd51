/*
 * test_bbr.c — BBR (libtcpu/cc/bbr.c, bbr_model.c) against
 * draft-ietf-ccwg-bbr-06, driven through its ops table with synthetic
 * tcpu_cc_stat and tcpu_cc_ack records and injected time; no core.
 *
 * The fixture plays a steady path: every ACK delivers a slice of data
 * whose newest packet was sent one RTT earlier, with a delivery-rate
 * sample of the path's bandwidth, so one round trip of ACKs is one BBR
 * round.  Before each ACK it reports a send (on_sent), as the core does,
 * so BBR's records of what was in flight hold for the ACKs a round later.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cc/bbr.h"

#define MS TCPU_NS_PER_MS
#define SEC TCPU_NS_PER_S
#define T0 (1000 * SEC)
#define MSS 1000u
#define RTT (50 * MS)
#define BW 10000000u /* bytes/s: 80 Mbit/s, a BDP of 500 kB at RTT */
#define BDP 500000u
#define ACKS_PER_ROUND 10

typedef struct fx {
  tcpu_bbr b;
  tcpu_cc_stat cs;
  tcpu_tstamp now;
  tcpu_duration rtt;    /* RTT of the samples */
  uint64_t rate;        /* delivery rate of the samples; 0: none */
  uint64_t inflight;    /* what the "core" reports in flight */
  unsigned app_limited; /* the samples are application-limited */
} fx;

static void fx_init(fx *f) {
  memset(f, 0, sizeof(*f));
  f->now = T0;
  f->rtt = RTT;
  f->rate = BW;
  f->inflight = BDP;
  f->cs.mss = MSS;
  f->cs.cwnd = 10 * MSS;
  f->cs.ssthresh = UINT32_MAX;
  f->cs.srtt = RTT;
  f->cs.min_rtt = RTT;
  f->cs.latest_rtt = RTT;
  tcpu_cc_bbr.init(&f->b, &f->cs, f->now);
}

/* One ACK `step` after the previous one, delivering `acked` bytes, of
 * which `lost` more were newly marked lost. */
static void fx_ack(fx *f, tcpu_duration step, uint64_t acked, uint64_t lost) {
  f->now += step;
  f->cs.bytes_in_flight = (uint32_t)f->inflight;
  tcpu_cc_bbr.on_sent(&f->b, &f->cs, MSS, f->now);
  tcpu_cc_ack a = {0};
  a.bytes_acked = acked;
  a.bytes_delivered = acked;
  a.bytes_lost = lost;
  a.prior_in_flight = f->inflight;
  a.rtt = f->rtt;
  a.largest_sent_ts = f->now - f->rtt;
  if (f->rate) {
    a.delivery_rate = f->rate;
    a.interval = f->rtt;
    a.delivered = f->rate * f->rtt / SEC;
  }
  a.is_app_limited = f->app_limited;
  a.is_cwnd_limited = f->inflight + MSS >= f->cs.cwnd;
  f->cs.delivered += acked;
  f->cs.latest_rtt = f->rtt;
  tcpu_cc_bbr.on_ack(&f->b, &f->cs, &a, f->now);
}

/* One round trip of ACKs: what the path delivers in an RTT. */
static void fx_round(fx *f) {
  uint64_t per_ack = f->rate ? f->rate * f->rtt / SEC / ACKS_PER_ROUND : MSS;
  for (int i = 0; i < ACKS_PER_ROUND; i++)
    fx_ack(f, f->rtt / ACKS_PER_ROUND, per_ack, 0);
}

static void fx_rounds(fx *f, int n) {
  for (int i = 0; i < n; i++)
    fx_round(f);
}

static int in_probe_bw(const fx *f) {
  return f->b.state >= TCPU_BBR_PROBE_BW_DOWN &&
         f->b.state <= TCPU_BBR_PROBE_BW_UP;
}

/* Startup with bw doubling each round until BW, then the plateau that
 * ends it: the flow is in Drain with max_bw = BW. */
static void fx_to_drain(fx *f) {
  f->inflight = 2 * BDP;
  for (uint64_t r = BW / 16; r < BW; r *= 2) {
    f->rate = r;
    fx_round(f);
  }
  f->rate = BW;
  for (int i = 0; i < 5 && f->b.state == TCPU_BBR_STARTUP; i++)
    fx_round(f);
  assert_int_equal(f->b.state, TCPU_BBR_DRAIN);
}

/* Drain, then the queue gone: ProbeBW_CRUISE. */
static void fx_to_cruise(fx *f) {
  fx_to_drain(f);
  f->inflight = BDP;
  fx_ack(f, RTT / ACKS_PER_ROUND, BW * RTT / SEC / ACKS_PER_ROUND, 0);
  assert_int_equal(f->b.state, TCPU_BBR_PROBE_BW_CRUISE);
}

/* Steady rounds until the state is s, at most max_rounds. */
static void fx_until(fx *f, tcpu_bbr_state s, int max_rounds) {
  for (int i = 0; i < max_rounds && f->b.state != s; i++)
    for (int k = 0; k < ACKS_PER_ROUND && f->b.state != s; k++)
      fx_ack(f, f->rtt / ACKS_PER_ROUND, f->rate * f->rtt / SEC / 10, 0);
  assert_int_equal(f->b.state, s);
}

static uint64_t paced(double gain, uint64_t bw) {
  return (uint64_t)(gain * (double)bw * 0.99);
}

/* -------------------------------------------------------------- Startup */

static void
test_bbr_init_startup_paces_initial_window_at_startup_gain(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  assert_int_equal(f.b.state, TCPU_BBR_STARTUP);
  /* §5.6.2 InitPacingRate(): 2.77 * InitialCwnd / srtt. */
  uint64_t want = (uint64_t)(2.77 * 10 * MSS * 1e9 / (double)RTT);
  assert_true(f.cs.pacing_rate >= want - 1 && f.cs.pacing_rate <= want + 1);
  assert_int_equal(tcpu_cc_bbr.owns_recovery, 1);
  assert_string_equal(tcpu_cc_bbr.name, "bbr");
}

static void test_bbr_registry_name_finds_builtin(void **state) {
  (void)state;
  assert_ptr_equal(tcpu_cc_find(NULL, "bbr"), &tcpu_cc_bbr);
  assert_ptr_equal(tcpu_cc_find(NULL, "newreno"), &tcpu_cc_newreno);
}

static void test_bbr_startup_rounds_pacing_grows_by_startup_gain(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  f.inflight = 2 * BDP;
  uint64_t prev = 0;
  for (uint64_t r = BW / 16; r <= BW; r *= 2) {
    f.rate = r;
    fx_round(&f);
    assert_int_equal(f.b.state, TCPU_BBR_STARTUP);
    assert_int_equal(f.b.max_bw, r);
    /* §5.3.1.1: pacing at 2.77 bw (1% margin, §5.6.2): twice the last. */
    assert_true(f.cs.pacing_rate >= paced(2.77, r) - 1 &&
                f.cs.pacing_rate <= paced(2.77, r) + 1);
    if (prev)
      assert_true(f.cs.pacing_rate >= 2 * prev - 2);
    prev = f.cs.pacing_rate;
    /* cwnd_gain 2: cwnd grows towards 2 BDP, never cut in Startup. */
    assert_true(f.b.cwnd_gain == 2.0);
  }
}

static void
test_bbr_startup_three_rounds_without_growth_enters_drain(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  f.inflight = 2 * BDP;
  for (uint64_t r = BW / 8; r <= BW; r *= 2) {
    f.rate = r;
    fx_round(&f);
  }
  /* §5.3.1.2: growth under 25% for three rounds fills the pipe. */
  f.rate = BW + BW / 5; /* +20% */
  fx_round(&f);
  assert_int_equal(f.b.full_bw_count, 1);
  fx_round(&f);
  assert_int_equal(f.b.state, TCPU_BBR_STARTUP);
  assert_int_equal(f.b.full_bw_count, 2);
  fx_round(&f);
  assert_int_equal(f.b.state, TCPU_BBR_DRAIN);
  assert_true(f.b.full_bw_reached);
  /* §5.3.2: Drain paces at 0.5 bw. */
  assert_true(f.cs.pacing_rate == paced(0.5, BW + BW / 5));
}

static void
test_bbr_startup_app_limited_plateau_stays_in_startup(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  f.rate = BW / 4;
  fx_round(&f);
  /* Appendix A.7: app-limited rounds never end Startup. */
  f.app_limited = 1;
  fx_rounds(&f, 10);
  assert_int_equal(f.b.state, TCPU_BBR_STARTUP);
  assert_false(f.b.full_bw_reached);
}

/* ---------------------------------------------------------------- Drain */

static void test_bbr_drain_inflight_at_most_bdp_enters_probe_bw(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_drain(&f);
  /* A queue of a BDP is left: stay (§5.3.2). */
  f.inflight = 2 * BDP;
  fx_ack(&f, RTT / ACKS_PER_ROUND, BW * RTT / SEC / ACKS_PER_ROUND, 0);
  assert_int_equal(f.b.state, TCPU_BBR_DRAIN);
  f.inflight = BDP + MSS;
  fx_ack(&f, RTT / ACKS_PER_ROUND, BW * RTT / SEC / ACKS_PER_ROUND, 0);
  assert_int_equal(f.b.state, TCPU_BBR_DRAIN);
  f.inflight = BDP;
  fx_ack(&f, RTT / ACKS_PER_ROUND, BW * RTT / SEC / ACKS_PER_ROUND, 0);
  /* ProbeBW_DOWN, and with no queue straight on to CRUISE. */
  assert_true(in_probe_bw(&f));
  assert_int_equal(f.b.state, TCPU_BBR_PROBE_BW_CRUISE);
  assert_true(f.cs.pacing_rate == paced(1.0, BW));
}

static void
test_bbr_drain_queue_for_three_rounds_enters_probe_bw(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_drain(&f);
  /* Appendix A.4: bw overestimated, inflight stays high. */
  f.inflight = 2 * BDP;
  fx_rounds(&f, 3);
  assert_int_equal(f.b.state, TCPU_BBR_DRAIN);
  fx_round(&f);
  assert_int_equal(f.b.state, TCPU_BBR_PROBE_BW_DOWN);
}

/* -------------------------------------------------------------- ProbeBW */

static void test_bbr_probe_bw_cycles_down_cruise_refill_up_down(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f);
  tcpu_tstamp cruise_at = f.now;
  /* §5.3.3.8: CRUISE until 2-3 s pass or 63 rounds (3.15 s here). */
  fx_until(&f, TCPU_BBR_PROBE_BW_REFILL, 70);
  assert_true(f.now - cruise_at >= 2 * SEC);
  assert_true(f.now - cruise_at <= 3 * SEC + RTT);
  assert_true(f.cs.pacing_rate == paced(1.0, BW));
  /* §5.3.3.3: one round of REFILL, then UP at 1.25. */
  fx_until(&f, TCPU_BBR_PROBE_BW_UP, 2);
  assert_true(f.b.is_bw_probe_sample);
  assert_true(f.cs.pacing_rate == paced(1.25, BW));
  assert_true(f.b.cwnd_gain == 2.25);
  /* §5.3.3.7: no growth for three rounds, back DOWN at 0.9. */
  f.inflight = BDP + BDP / 4;
  fx_until(&f, TCPU_BBR_PROBE_BW_DOWN, 4);
  assert_true(f.cs.pacing_rate == paced(0.9, BW));
  /* §5.3.3.1: DOWN until the queue is gone. */
  fx_round(&f);
  assert_int_equal(f.b.state, TCPU_BBR_PROBE_BW_DOWN);
  f.inflight = BDP;
  fx_until(&f, TCPU_BBR_PROBE_BW_CRUISE, 1);
}

static void test_bbr_probe_up_bw_growth_stays_up(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f);
  fx_until(&f, TCPU_BBR_PROBE_BW_UP, 80);
  /* More bandwidth turned up: 25% per round keeps probing. */
  for (int i = 0; i < 4; i++) {
    f.rate = f.rate + f.rate / 4 + 1;
    fx_round(&f);
    assert_int_equal(f.b.state, TCPU_BBR_PROBE_BW_UP);
  }
  assert_int_equal(f.b.max_bw, f.rate);
}

/* ------------------------------------------------------- max_bw filter */

/* Drives whole ProbeBW cycles (to the next DOWN and one round on). */
static void fx_cycle(fx *f) {
  fx_until(f, TCPU_BBR_PROBE_BW_REFILL, 80);
  fx_until(f, TCPU_BBR_PROBE_BW_DOWN, 80);
  fx_round(f);
}

static void
test_bbr_max_bw_filter_old_sample_expires_after_two_cycles(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f); /* max_bw = BW, from Startup's cycle */
  f.rate = BW / 2;
  fx_rounds(&f, 2);
  /* §5.5.3: the window is this and the previous ProbeBW cycle. */
  assert_int_equal(f.b.max_bw, BW);
  uint64_t cycles = f.b.cycle_count;
  fx_cycle(&f);
  assert_int_equal(f.b.cycle_count, cycles + 1);
  assert_int_equal(f.b.max_bw, BW / 2);
  assert_true(f.cs.pacing_rate <= paced(1.0, BW / 2));
}

static void test_bbr_max_bw_app_limited_low_samples_keep_max_bw(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f);
  /* §5.5.4: application-limited samples below max_bw are no evidence. */
  f.rate = BW / 4;
  f.app_limited = 1;
  for (int i = 0; i < 3; i++)
    fx_rounds(&f, 60);
  assert_true(f.now - T0 > 9 * SEC);
  assert_int_equal(f.b.max_bw, BW);
  /* ...but one above it is. */
  f.rate = BW + BW / 10;
  fx_ack(&f, RTT / ACKS_PER_ROUND, MSS, 0);
  assert_int_equal(f.b.max_bw, BW + BW / 10);
}

/* ------------------------------------------------------------ ProbeRTT */

static void test_bbr_probe_rtt_min_rtt_stale_5s_enters_for_200ms(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f);
  /* Every RTT sample from now on is above min_rtt: nothing refreshes
   * probe_rtt_min_delay after the last lower sample at T0. */
  f.rtt = RTT + 5 * MS;
  while (f.b.state != TCPU_BBR_PROBE_RTT && f.now < T0 + 6 * SEC)
    fx_ack(&f, RTT / ACKS_PER_ROUND, BW * RTT / SEC / ACKS_PER_ROUND, 0);
  /* §5.3.4.1: entered once 5 s passed without a lower sample. */
  assert_int_equal(f.b.state, TCPU_BBR_PROBE_RTT);
  assert_true(f.now > T0 + 5 * SEC);
  assert_true(f.now <= T0 + 5 * SEC + RTT / ACKS_PER_ROUND);
  tcpu_tstamp entered = f.now;
  /* §5.6.4.5: cwnd 0.5 BDP. */
  assert_int_equal(f.cs.cwnd, BDP / 2);
  assert_true(f.b.cwnd_gain == 0.5);
  /* Inflight comes down to it; ProbeRTT holds 200 ms and a round. */
  f.inflight = BDP / 2;
  f.rate = BW / 2; /* ProbeRTT's own samples: not the path's */
  while (f.b.state == TCPU_BBR_PROBE_RTT && f.now < entered + SEC)
    fx_ack(&f, 10 * MS, BW / 2 * 10 * MS / SEC, 0);
  assert_true(f.now - entered >= 200 * MS);
  assert_true(f.now - entered <= 200 * MS + RTT + 20 * MS);
  /* §5.3.4.4: back to ProbeBW (CRUISE) with the saved cwnd. */
  assert_int_equal(f.b.state, TCPU_BBR_PROBE_BW_CRUISE);
  assert_true(f.cs.cwnd > BDP);
  assert_int_equal(f.b.max_bw, BW);
  /* The next one is due in another 5 s. */
  assert_true(f.b.probe_rtt_min_stamp >= entered + 200 * MS);
}

static void test_bbr_probe_rtt_lower_rtt_sample_postpones(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f);
  f.rtt = RTT + 5 * MS;
  while (f.now < T0 + 4 * SEC)
    fx_round(&f);
  /* A lower sample restarts the 5 s. */
  f.rtt = RTT - 1 * MS;
  fx_round(&f);
  f.rtt = RTT + 5 * MS;
  while (f.now < T0 + 7 * SEC)
    fx_round(&f);
  assert_true(f.b.state != TCPU_BBR_PROBE_RTT);
  assert_true(f.b.min_rtt == RTT - 1 * MS);
}

/* ------------------------------------------------------------- losses */

/* Puts the flow in ProbeBW_UP, probing, with inflight BDP. */
static void fx_to_probe_up(fx *f) {
  fx_to_cruise(f);
  fx_until(f, TCPU_BBR_PROBE_BW_UP, 80);
  assert_true(f->b.is_bw_probe_sample);
  fx_rounds(f, 1);
  assert_int_equal(f->b.state, TCPU_BBR_PROBE_BW_UP);
}

static void
test_bbr_probe_up_loss_above_2pct_in_round_lowers_inflight_hi(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_probe_up(&f);
  assert_true(f.b.inflight_longterm == TCPU_BBR_INF);
  /* 0.5% of what was in flight per ACK: no single ACK is over 2%, but
   * over the round trip since the delivered packet was sent it is. */
  uint64_t per = BDP / 200;
  int acks = 0;
  while (f.b.state == TCPU_BBR_PROBE_BW_UP && acks < ACKS_PER_ROUND) {
    fx_ack(&f, RTT / ACKS_PER_ROUND, BW * RTT / SEC / ACKS_PER_ROUND, per);
    acks++;
  }
  assert_int_equal(acks, 5); /* 2.5% > 2% */
  /* §5.5.10.2: inflight_longterm set where loss crossed 2%, at least
   * Beta of the target; the probe ends. */
  assert_true(f.b.inflight_longterm <= BDP);
  assert_true(f.b.inflight_longterm >= (uint64_t)(0.7 * BDP));
  assert_true(f.b.prev_probe_too_high);
  assert_int_equal(f.b.state, TCPU_BBR_PROBE_BW_DOWN);
  assert_true(f.cs.cwnd <= f.b.inflight_longterm);
}

static void test_bbr_probe_up_loss_below_2pct_keeps_inflight_hi(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_probe_up(&f);
  /* 1.5% per round trip, spread thin: never 2% within one. */
  for (int i = 0; i < 2 * ACKS_PER_ROUND; i++)
    fx_ack(&f, RTT / ACKS_PER_ROUND, BW * RTT / SEC / ACKS_PER_ROUND,
           BDP * 15 / 1000 / ACKS_PER_ROUND);
  assert_true(f.b.inflight_longterm == TCPU_BBR_INF);
  assert_false(f.b.prev_probe_too_high);
}

static void test_bbr_cruise_loss_rounds_lower_short_term_model(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f);
  /* The path now delivers 60% of bw, with 3% lost in every round (over
   * LossThresh: congestion, not random loss). */
  f.rate = BW * 6 / 10;
  fx_ack(&f, RTT / ACKS_PER_ROUND, MSS, BDP * 3 / 100);
  fx_round(&f);
  /* §5.5.10.3: at the end of the lossy round, bw_shortterm = max(bw_latest,
   * Beta * bw_shortterm); bw_latest still holds the full-rate samples
   * from before the loss. */
  assert_int_equal(f.b.bw_shortterm, BW);
  assert_true(f.b.inflight_shortterm != TCPU_BBR_INF);
  fx_ack(&f, RTT / ACKS_PER_ROUND, MSS, BDP * 3 / 100);
  fx_round(&f);
  /* A round of 0.6 bw: down by no more than Beta. */
  assert_int_equal(f.b.bw_shortterm, (uint64_t)(0.7 * BW));
  assert_int_equal(f.b.bw, (uint64_t)(0.7 * BW));
  assert_true(f.cs.pacing_rate == paced(1.0, (uint64_t)(0.7 * BW)));
  fx_ack(&f, RTT / ACKS_PER_ROUND, MSS, BDP * 3 / 100);
  fx_round(&f);
  /* ...and not below what the last round delivered. */
  assert_int_equal(f.b.bw_shortterm, BW * 6 / 10);
  assert_int_equal(f.b.max_bw, BW); /* the long-term model stays */
  /* REFILL drops the short-term model (§5.3.3.3). */
  fx_until(&f, TCPU_BBR_PROBE_BW_REFILL, 80);
  assert_true(f.b.bw_shortterm == TCPU_BBR_INF);
  assert_true(f.b.inflight_shortterm == TCPU_BBR_INF);
}

/* -------------------------------------------------------------- recovery */

static void test_bbr_fast_recovery_first_round_conserves_packets(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f);
  fx_rounds(&f, 2);
  uint32_t before = f.cs.cwnd;
  assert_true(before > BDP);
  /* The core starts fast recovery, then reports the ACK. */
  f.cs.in_recovery = 1;
  tcpu_cc_bbr.on_congestion(&f.b, &f.cs, TCPU_CC_LOSS, f.now - RTT, f.now);
  f.inflight = BDP / 2;
  fx_ack(&f, RTT / ACKS_PER_ROUND, 2 * MSS, 3 * MSS);
  /* Packet conservation: what is in flight plus what this ACK took. */
  assert_int_equal(f.cs.cwnd, BDP / 2 + 2 * MSS);
  fx_ack(&f, RTT / ACKS_PER_ROUND, 2 * MSS, 0);
  assert_int_equal(f.cs.cwnd, BDP / 2 + 2 * MSS);
  /* Recovery ends: the cwnd from before it is back (§5.6.4.4). */
  f.cs.in_recovery = 0;
  tcpu_cc_bbr.on_recovery_exit(&f.b, &f.cs, f.now);
  assert_int_equal(f.cs.cwnd, before);
}

static void test_bbr_rto_loss_window_then_exit_restores_cwnd(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f);
  fx_rounds(&f, 2);
  uint32_t before = f.cs.cwnd;
  /* cs.in_recovery stays 0: it marks fast recovery only. */
  tcpu_cc_bbr.on_congestion(&f.b, &f.cs, TCPU_CC_RTO, f.now - RTT, f.now);
  assert_int_equal(f.cs.cwnd, MSS);
  /* Regrowth by what is ACKed, from the 4-packet floor. */
  f.inflight = 0;
  fx_ack(&f, RTT, MSS, 0);
  assert_int_equal(f.cs.cwnd, 4 * MSS);
  fx_ack(&f, RTT, 2 * MSS, MSS);
  assert_int_equal(f.cs.cwnd, 5 * MSS); /* + acked - newly lost */
  tcpu_cc_bbr.on_recovery_exit(&f.b, &f.cs, f.now);
  assert_int_equal(f.cs.cwnd, before);
}

static void test_bbr_spurious_recovery_restores_probe_up(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_probe_up(&f);
  f.cs.in_recovery = 1;
  tcpu_cc_bbr.on_congestion(&f.b, &f.cs, TCPU_CC_LOSS, f.now - RTT, f.now);
  fx_ack(&f, RTT / ACKS_PER_ROUND, MSS, BDP / 10);
  assert_int_equal(f.b.state, TCPU_BBR_PROBE_BW_DOWN);
  assert_true(f.b.inflight_longterm != TCPU_BBR_INF);
  /* §5.5.11.2: the loss was not: undo it, and probe again. */
  f.cs.in_recovery = 0;
  tcpu_cc_bbr.on_spurious(&f.b, &f.cs, f.now);
  assert_true(f.b.inflight_longterm == TCPU_BBR_INF);
  assert_int_equal(f.b.state, TCPU_BBR_PROBE_BW_REFILL);
}

static void test_bbr_idle_restart_in_probe_bw_paces_at_bw(void **state) {
  (void)state;
  fx f;
  fx_init(&f);
  fx_to_cruise(&f);
  fx_until(&f, TCPU_BBR_PROBE_BW_UP, 80);
  assert_true(f.cs.pacing_rate == paced(1.25, BW));
  f.now += 2 * SEC;
  tcpu_cc_bbr.on_idle_restart(&f.b, &f.cs, f.now);
  /* §5.4.1: resume at exactly bw. */
  assert_true(f.cs.pacing_rate == paced(1.0, BW));
  assert_true(f.b.idle_restart);
}

/* ------------------------------------------------------------- filters */

static void test_bbr_minmax_window_expires_best(void **state) {
  (void)state;
  tcpu_bbr_minmax m;
  tcpu_bbr_minmax_reset(&m, 0, 0);
  assert_int_equal(tcpu_bbr_minmax_update(&m, 10, 0, 100), 100);
  assert_int_equal(tcpu_bbr_minmax_update(&m, 10, 3, 50), 100);
  assert_int_equal(tcpu_bbr_minmax_update(&m, 10, 8, 70), 100);
  assert_int_equal(tcpu_bbr_minmax_update(&m, 10, 10, 10), 100);
  /* Round 11: the sample of round 0 is out of a 10-round window. */
  assert_int_equal(tcpu_bbr_minmax_update(&m, 10, 11, 10), 70);
  assert_int_equal(tcpu_bbr_minmax_update(&m, 10, 30, 5), 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          test_bbr_init_startup_paces_initial_window_at_startup_gain),
      cmocka_unit_test(test_bbr_registry_name_finds_builtin),
      cmocka_unit_test(test_bbr_startup_rounds_pacing_grows_by_startup_gain),
      cmocka_unit_test(
          test_bbr_startup_three_rounds_without_growth_enters_drain),
      cmocka_unit_test(test_bbr_startup_app_limited_plateau_stays_in_startup),
      cmocka_unit_test(test_bbr_drain_inflight_at_most_bdp_enters_probe_bw),
      cmocka_unit_test(test_bbr_drain_queue_for_three_rounds_enters_probe_bw),
      cmocka_unit_test(test_bbr_probe_bw_cycles_down_cruise_refill_up_down),
      cmocka_unit_test(test_bbr_probe_up_bw_growth_stays_up),
      cmocka_unit_test(
          test_bbr_max_bw_filter_old_sample_expires_after_two_cycles),
      cmocka_unit_test(test_bbr_max_bw_app_limited_low_samples_keep_max_bw),
      cmocka_unit_test(test_bbr_probe_rtt_min_rtt_stale_5s_enters_for_200ms),
      cmocka_unit_test(test_bbr_probe_rtt_lower_rtt_sample_postpones),
      cmocka_unit_test(
          test_bbr_probe_up_loss_above_2pct_in_round_lowers_inflight_hi),
      cmocka_unit_test(test_bbr_probe_up_loss_below_2pct_keeps_inflight_hi),
      cmocka_unit_test(test_bbr_cruise_loss_rounds_lower_short_term_model),
      cmocka_unit_test(test_bbr_fast_recovery_first_round_conserves_packets),
      cmocka_unit_test(test_bbr_rto_loss_window_then_exit_restores_cwnd),
      cmocka_unit_test(test_bbr_spurious_recovery_restores_probe_up),
      cmocka_unit_test(test_bbr_idle_restart_in_probe_bw_paces_at_bw),
      cmocka_unit_test(test_bbr_minmax_window_expires_best),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
