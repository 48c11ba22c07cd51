/*
 * cubic.c — CUBIC congestion control (RFC 9438), with HyStart++ (RFC 9406)
 * in the initial slow start.
 *
 * Units.  The RFC counts windows in segments and time in seconds; here
 * windows are bytes, so the cubic function is W(t) = C*mss*(t-K)^3 + W_max
 * (bytes, t in seconds) and K = cbrt((W_max - cwnd_epoch) / (C*mss)).  The
 * curve and the Reno estimate are evaluated in double precision (cbrt needs
 * it anyway); a per-ACK increase is usually a fraction of a byte at large
 * windows, so the remainder is carried in `acc` rather than dropped.
 *
 * Division of labour with the core (recovery.c): the core brings cwnd down
 * to ssthresh with PRR during fast recovery and sets cwnd = ssthresh when it
 * ends (RFC 9438 §4.6 allows PRR); it sets cwnd = 1 MSS after a timeout
 * (§4.8 follows RFC 5681 there); after an undo it restores cwnd and
 * ssthresh and this file restores the rest of CUBIC's state (§4.9.2).
 */
#include "cc/cc.h"

#include <math.h>
#include <string.h>

/* RFC 9438 §4.1.1 and §4.3. */
#define BETA 0.7         /* beta_cubic: multiplicative decrease */
#define C_SEG 0.4        /* C, in segments per second cubed */
#define ALPHA (3.0 * (1.0 - BETA) / (1.0 + BETA)) /* alpha_cubic */
/* Far above any useful window, low enough that 1.5 x cwnd and the core's
 * pipe arithmetic stay within 32 bits. */
#define CWND_MAX ((double)(UINT32_MAX / 2))

/* RFC 9406 §4.3, the recommended constants. */
#define HS_MIN_RTT_THRESH (4 * TCPU_NS_PER_MS)
#define HS_MAX_RTT_THRESH (16 * TCPU_NS_PER_MS)
#define HS_MIN_RTT_DIVISOR 8
#define HS_N_RTT_SAMPLE 8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS 5
/* L, the most one ACK may grow the window by, in segments.  §4.3: a paced
 * sender SHOULD use L = infinity (pacing already prevents the bursts L
 * guards against) and an unpaced one L = 8.  The core paces every window
 * once it has an RTT estimate (pacer.c), so L applies only before that. */
#define HS_L_UNPACED 8

#define INF TCPU_TSTAMP_NONE /* an RTT of "infinity" */

typedef struct hystart {
  uint64_t round; /* the round whose RTT samples are being gathered */
  tcpu_duration last_round_min_rtt, cur_round_min_rtt, css_baseline_min_rtt;
  uint32_t rtt_sample_count;
  uint32_t css_rounds; /* rounds begun in CSS, the partial first included */
  unsigned on : 1;     /* still in the initial slow start */
  unsigned in_css : 1; /* Conservative Slow Start */
} hystart;

/* The variables of RFC 9438 §4.1.2 (bytes and nanoseconds), in one struct
 * so that §4.9.2's save and restore are a copy. */
typedef struct cubic_vars {
  double w_max;      /* 0: undefined (no congestion event yet) */
  double k;          /* seconds */
  double cwnd_prior; /* cwnd when ssthresh was last set */
  double cwnd_epoch; /* cwnd when the congestion avoidance stage began */
  double w_est;      /* the Reno-friendly estimate, §4.3 */
  tcpu_tstamp t_epoch;
  unsigned have_epoch : 1; /* a congestion avoidance stage is under way */
  /* The next stage starts with K = 0 and W_max = cwnd_epoch: after a
   * timeout (§4.8) or a loss-free exit from slow start (§4.10). */
  unsigned k_zero : 1;
  hystart hs;
} cubic_vars;

typedef struct cubic {
  cubic_vars v;
  cubic_vars undo; /* v before the last congestion event (§4.9.2) */
  double acc;      /* bytes of window earned, less than one, not yet added */
  tcpu_tstamp last_ack;
  unsigned undo_valid : 1;
  unsigned in_fast_recovery : 1; /* reduced for a loss; not yet over */
} cubic;

static void set_cwnd(cubic *cu, tcpu_cc_stat *cs, double w) {
  if (w >= CWND_MAX) {
    cs->cwnd = (uint32_t)CWND_MAX;
    cu->acc = 0;
    return;
  }
  double whole = floor(w);
  cs->cwnd = (uint32_t)whole;
  cu->acc = w - whole;
}

/* RFC 9438 §4.2 Figure 1, in bytes. */
static double w_cubic(const cubic_vars *v, double mss, double t) {
  double d = t - v->k;
  return C_SEG * mss * d * d * d + v->w_max;
}

static void hs_reset_round(hystart *hs) {
  hs->last_round_min_rtt = hs->cur_round_min_rtt;
  hs->cur_round_min_rtt = INF;
  hs->rtt_sample_count = 0;
}

/* RFC 9406 §4.2: what happens at the start of each round. */
static void new_round(cubic *cu, tcpu_cc_stat *cs, uint64_t round) {
  hystart *hs = &cu->v.hs;
  if (round == hs->round)
    return;
  hs->round = round;
  if (!hs->on)
    return;
  hs_reset_round(hs);
  if (hs->in_css && ++hs->css_rounds > HS_CSS_ROUNDS) {
    /* CSS_ROUNDS rounds are complete: congestion avoidance from here,
     * ssthresh = cwnd. */
    cs->ssthresh = cs->cwnd;
    hs->on = 0;
    hs->in_css = 0;
    /* RFC 9438 §4.10: W_max is undefined after a loss-free exit, so
     * cwnd_prior = cwnd and the first stage runs with K = 0. */
    cu->v.cwnd_prior = cs->cwnd;
    cu->v.k_zero = 1;
    cu->v.have_epoch = 0;
  }
}

/* RFC 9406 §4.2, one ACK in the initial slow start. */
static void hystart_on_ack(cubic *cu, tcpu_cc_stat *cs, const tcpu_cc_ack *a) {
  hystart *hs = &cu->v.hs;
  if (a->is_cwnd_limited) {
    /* cwnd += min(N, L*SMSS), divided by CSS_GROWTH_DIVISOR in CSS. */
    uint64_t n = a->bytes_acked;
    uint64_t l = (uint64_t)HS_L_UNPACED * cs->mss;
    if (cs->srtt == 0 && n > l)
      n = l;
    double inc = hs->in_css ? (double)n / HS_CSS_GROWTH_DIVISOR : (double)n;
    set_cwnd(cu, cs, (double)cs->cwnd + cu->acc + inc);
  }
  if (a->rtt != TCPU_TSTAMP_NONE) {
    if (a->rtt < hs->cur_round_min_rtt)
      hs->cur_round_min_rtt = a->rtt;
    hs->rtt_sample_count++;
  }
  if (hs->rtt_sample_count < HS_N_RTT_SAMPLE)
    return;
  if (!hs->in_css) {
    if (hs->cur_round_min_rtt == INF || hs->last_round_min_rtt == INF)
      return;
    /* The delay increase that ends slow start: an eighth of the last
     * round's minimum, kept within [4 ms, 16 ms]. */
    tcpu_duration thresh = hs->last_round_min_rtt / HS_MIN_RTT_DIVISOR;
    if (thresh > HS_MAX_RTT_THRESH)
      thresh = HS_MAX_RTT_THRESH;
    if (thresh < HS_MIN_RTT_THRESH)
      thresh = HS_MIN_RTT_THRESH;
    if (hs->cur_round_min_rtt >= hs->last_round_min_rtt + thresh) {
      hs->in_css = 1;
      hs->css_baseline_min_rtt = hs->cur_round_min_rtt;
      hs->css_rounds = 1; /* this partial round counts toward the limit */
    }
  } else if (hs->cur_round_min_rtt < hs->css_baseline_min_rtt) {
    /* The RTT fell back below where it was when CSS began: the exit was
     * spurious (jitter), so slow start resumes. */
    hs->in_css = 0;
    hs->css_baseline_min_rtt = INF;
  }
}

/* The beginning of a congestion avoidance stage (RFC 9438 §4.2). */
static void start_epoch(cubic *cu, const tcpu_cc_stat *cs, tcpu_tstamp now) {
  cubic_vars *v = &cu->v;
  double cwnd = cs->cwnd;
  v->have_epoch = 1;
  v->t_epoch = now;
  v->cwnd_epoch = cwnd;
  v->w_est = cwnd; /* §4.3: W_est starts at cwnd_epoch */
  if (v->k_zero || v->w_max <= cwnd) {
    /* §4.8 after a timeout, §4.10 after a loss-free slow-start exit; and
     * whenever the window already stands at or above W_max (a connection
     * that switched to CUBIC mid-way), where K from Figure 2 would be
     * zero or negative: the stage starts at the curve's plateau. */
    v->w_max = cwnd;
    v->k = 0;
  } else {
    /* §4.2 Figure 2. */
    v->k = cbrt((v->w_max - cwnd) / (C_SEG * cs->mss));
  }
  v->k_zero = 0;
}

/* RFC 9438 §4.2-§4.5: one ACK of `acked` bytes in congestion avoidance. */
static void cong_avoid(cubic *cu, tcpu_cc_stat *cs, uint64_t acked,
                       tcpu_tstamp now) {
  cubic_vars *v = &cu->v;
  if (!v->have_epoch)
    start_epoch(cu, cs, now);
  double mss = cs->mss;
  double cwnd = cs->cwnd;
  /* §4.2: the target is the curve one RTT ahead, RTT being the smoothed
   * round-trip time. */
  tcpu_duration rtt_ns = cs->srtt ? cs->srtt : cs->min_rtt;
  double t = now > v->t_epoch ? (double)(now - v->t_epoch) / 1e9 : 0.0;
  double target = w_cubic(v, mss, t + (double)rtt_ns / 1e9);
  /* Not below cwnd (the increase rate never falls) nor above 1.5 x cwnd
   * (never faster than slow start). */
  if (target < cwnd)
    target = cwnd;
  else if (target > 1.5 * cwnd)
    target = 1.5 * cwnd;
  /* §4.3 Figure 4 by bytes (ABC): W_est += alpha * segments_acked / cwnd,
   * alpha becoming 1 once W_est has reached cwnd_prior. */
  double alpha = v->w_est >= v->cwnd_prior ? 1.0 : ALPHA;
  v->w_est += alpha * (double)acked * mss / cwnd;
  double next = cwnd + cu->acc;
  if (w_cubic(v, mss, t) < v->w_est) {
    /* §4.3, the Reno-friendly region: cwnd = W_est (which only grows). */
    if (v->w_est > next)
      next = v->w_est;
  } else {
    /* §4.4 concave (cwnd < W_max) and §4.5 convex region alike:
     * (target - cwnd) / cwnd per segment acknowledged. */
    next += (target - cwnd) * (double)acked / cwnd;
  }
  set_cwnd(cu, cs, next);
}

static void cubic_init(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  cubic *cu = st;
  memset(cu, 0, sizeof *cu);
  cu->last_ack = now;
  hystart *hs = &cu->v.hs;
  /* RFC 9406 §4.2: HyStart++ only in the initial slow start, the one
   * that begins with ssthresh arbitrarily high; later slow starts have
   * the ssthresh found by the earlier one to stop them. */
  hs->on = cs->ssthresh == UINT32_MAX;
  hs->round = cs->round;
  hs->last_round_min_rtt = INF;
  hs->cur_round_min_rtt = INF;
  hs->css_baseline_min_rtt = INF;
}

static void cubic_on_ack(void *st, tcpu_cc_stat *cs, const tcpu_cc_ack *a,
                         tcpu_tstamp now) {
  cubic *cu = st;
  tcpu_tstamp prev = cu->last_ack;
  cu->last_ack = now;
  /* The core counts the round before this hook runs and reports it to
   * on_round after; the sample of this ACK belongs to the new round. */
  new_round(cu, cs, cs->round);
  /* During recovery the core's PRR sets the window (RFC 6937). */
  if (cs->in_recovery)
    return;
  cu->in_fast_recovery = 0;
  uint64_t acked = a->bytes_acked;
  if (cs->cwnd < cs->ssthresh) {
    if (cu->v.hs.on) {
      hystart_on_ack(cu, cs, a);
      return;
    }
    /* RFC 9438 §4.10 / RFC 5681 §3.1: standard slow start after the
     * first; what is left once cwnd reaches ssthresh goes on below. */
    if (!a->is_cwnd_limited)
      return;
    acked = tcpu_cc_slow_start(cs, acked);
    if (cs->cwnd < cs->ssthresh || acked == 0)
      return;
  }
  if (!a->is_cwnd_limited) {
    /* RFC 9438 §5.8: no growth while application-limited, and t must not
     * count such periods: move the epoch forward by the time since the
     * last ACK, when the sender was (about to be) not using its window. */
    if (cu->v.have_epoch && prev != TCPU_TSTAMP_NONE && now > prev) {
      cu->v.t_epoch += now - prev;
      if (cu->v.t_epoch > now)
        cu->v.t_epoch = now;
    }
    return;
  }
  cong_avoid(cu, cs, acked, now);
}

/* RFC 9438 §4.6 multiplicative decrease, §4.7 fast convergence, §4.8
 * timeout. */
static void cubic_on_congestion(void *st, tcpu_cc_stat *cs, tcpu_cc_signal s,
                                tcpu_tstamp sent_ts, tcpu_tstamp now) {
  cubic *cu = st;
  cubic_vars *v = &cu->v;
  (void)sent_ts;
  (void)now;
  if (s == TCPU_CC_RTO && cu->in_fast_recovery) {
    /* A timeout while fast recovery still repairs the same loss: ssthresh
     * and W_max were set for that congestion event when recovery began
     * and cwnd has since shrunk under PRR, so reducing again would
     * count one event twice (Linux's tcp_enter_loss keeps ssthresh in
     * this case too).  The next stage still follows §4.8. */
    v->k_zero = 1;
    v->have_epoch = 0;
    cu->in_fast_recovery = 0;
    cs->cwnd = cs->mss; /* RFC 5681 §3.1 loss window, as the core does */
    return;
  }
  cu->undo = *v;
  cu->undo_valid = 1;
  double cwnd = cs->cwnd;
  double mss = cs->mss;
  /* §4.7: a loss below the previous W_max means the flow's share is
   * shrinking: plateau lower, at the midpoint of cwnd and beta x cwnd. */
  if (cwnd < v->w_max)
    v->w_max = cwnd * (1.0 + BETA) / 2.0;
  else
    v->w_max = cwnd;
  v->cwnd_prior = cwnd;
  /* §4.6 Figure 5 with cwnd for flight_size, which §4.6 permits when the
   * window cannot grow while bytes in flight are below it (the core
   * reports is_cwnd_limited and on_ack grows nothing without it). */
  double ss = cwnd * BETA;
  if (ss < 2.0 * mss)
    ss = 2.0 * mss;
  cs->ssthresh = (uint32_t)ss;
  /* A new congestion avoidance stage begins once recovery is over (or,
   * after a timeout, once slow start reaches ssthresh). */
  v->have_epoch = 0;
  v->k_zero = s == TCPU_CC_RTO;
  /* RFC 9406 §4.2: loss in slow start or CSS ends HyStart++. */
  v->hs.on = 0;
  v->hs.in_css = 0;
  cu->acc = 0;
  cu->in_fast_recovery = s != TCPU_CC_RTO && cs->in_recovery;
  /* §4.8: after a timeout the window is RFC 5681's loss window (the core
   * enforces it too); after a loss the core's PRR brings it down. */
  if (s == TCPU_CC_RTO)
    cs->cwnd = cs->mss;
}

static void cubic_on_recovery_exit(void *st, tcpu_cc_stat *cs,
                                   tcpu_tstamp now) {
  cubic *cu = st;
  (void)cs;
  (void)now;
  /* The core leaves cwnd at ssthresh; an undo is no longer possible. */
  cu->in_fast_recovery = 0;
  cu->undo_valid = 0;
}

/* RFC 9438 §4.9.2: the loss was not one; restore W_max, K, t_epoch, W_est
 * and cwnd_prior (the core restores cwnd and ssthresh).  The RFC restores
 * only while cwnd is still below cwnd_prior: the core undoes only within
 * the recovery episode, before the window has regrown, so that holds. */
static void cubic_on_spurious(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  cubic *cu = st;
  (void)cs;
  (void)now;
  if (cu->undo_valid)
    cu->v = cu->undo;
  cu->undo_valid = 0;
  cu->in_fast_recovery = 0;
  cu->acc = 0;
}

static void cubic_on_idle_restart(void *st, tcpu_cc_stat *cs,
                                  tcpu_tstamp now) {
  cubic *cu = st;
  (void)now;
  /* RFC 5681 §4.1: after an idle period longer than the RTO, restart
   * from min(IW, cwnd). */
  uint32_t iw = 10 * cs->mss;
  if (cs->cwnd > iw)
    cs->cwnd = iw;
  /* RFC 9438 §5.8: t must not include idle periods, so the curve starts
   * afresh with the next congestion avoidance stage. */
  cu->v.have_epoch = 0;
  cu->acc = 0;
}

static void cubic_on_round(void *st, tcpu_cc_stat *cs, uint64_t round) {
  new_round(st, cs, round);
}

const tcpu_cc_ops tcpu_cc_cubic = {
    .name = "cubic",
    .state_size = sizeof(cubic),
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_congestion = cubic_on_congestion,
    .on_recovery_exit = cubic_on_recovery_exit,
    .on_spurious = cubic_on_spurious,
    .on_idle_restart = cubic_on_idle_restart,
    .on_round = cubic_on_round,
};
