/*
 * vegas.c — TCP Vegas (Brakmo and Peterson, "TCP Vegas: End to End
 * Congestion Avoidance on a Global Internet", IEEE JSAC 1995) as a
 * libtcpu congestion-control plug-in: an example of tcpu_cc_ops written
 * outside the library.  See README.md for how to run it in `tcpu lab`.
 *
 * Once per round trip Vegas compares the rate the window should give,
 * cwnd / base_rtt, with the rate it gets, cwnd / rtt.  The difference,
 * times base_rtt, is how many segments the flow keeps queued in the
 * network: it grows the window by one segment while fewer than ALPHA are
 * queued, shrinks it by one above BETA, and leaves slow start once GAMMA
 * are.  Losses halve the window as in Reno (the core runs the recovery).
 * base_rtt is the smallest RTT ever seen, rtt the smallest of the round.
 */
#include <tcpu/tcpu_cc.h>

#define ALPHA 2.0 /* segments queued: grow below */
#define BETA 4.0  /* segments queued: shrink above */
#define GAMMA 1.0 /* segments queued: leave slow start above */

typedef struct vegas {
  tcpu_duration base_rtt; /* TCPU_TSTAMP_NONE: no sample yet */
  tcpu_duration round_rtt; /* smallest sample of this round */
  uint32_t samples;        /* RTT samples this round */
  uint64_t round;          /* cs->round the samples belong to */
} vegas;

static void vegas_init(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  vegas *v = st;
  (void)now;
  v->base_rtt = v->round_rtt = TCPU_TSTAMP_NONE;
  v->samples = 0;
  v->round = cs->round;
}

/* One decision per round, from the round's smallest RTT. */
static void vegas_round(vegas *v, tcpu_cc_stat *cs) {
  if (v->samples == 0 || v->base_rtt == TCPU_TSTAMP_NONE)
    return;
  double rtt = (double)v->round_rtt, base = (double)v->base_rtt;
  double segs = (double)cs->cwnd / cs->mss;
  /* (expected - actual) x base_rtt, in segments. */
  double queued = segs * (rtt - base) / rtt;
  if (cs->cwnd < cs->ssthresh) {
    if (queued > GAMMA) {
      /* Leave slow start at the window that would have filled the path
       * without a queue, plus one segment. */
      double target = segs * base / rtt + 1;
      if (target < segs)
        cs->cwnd = (uint32_t)(target * cs->mss);
      cs->ssthresh = cs->cwnd;
    }
  } else if (queued > BETA) {
    if (cs->cwnd > 2 * cs->mss)
      cs->cwnd -= cs->mss;
    /* Stay in congestion avoidance: slow start would undo the step. */
    cs->ssthresh = cs->cwnd;
  } else if (queued < ALPHA) {
    cs->cwnd += cs->mss;
  }
}

static void vegas_on_ack(void *st, tcpu_cc_stat *cs, const tcpu_cc_ack *a,
                         tcpu_tstamp now) {
  vegas *v = st;
  (void)now;
  if (a->rtt != TCPU_TSTAMP_NONE) {
    if (a->rtt < v->base_rtt)
      v->base_rtt = a->rtt;
    if (a->rtt < v->round_rtt)
      v->round_rtt = a->rtt;
    v->samples++;
  }
  if (cs->round != v->round) {
    if (!cs->in_recovery && a->is_cwnd_limited)
      vegas_round(v, cs);
    v->round = cs->round;
    v->round_rtt = TCPU_TSTAMP_NONE;
    v->samples = 0;
  }
  if (cs->in_recovery || !a->is_cwnd_limited)
    return;
  /* Slow start as in Reno; above ssthresh only vegas_round moves cwnd. */
  if (cs->cwnd < cs->ssthresh)
    tcpu_cc_slow_start(cs, a->bytes_acked);
}

static void vegas_on_congestion(void *st, tcpu_cc_stat *cs, tcpu_cc_signal s,
                                tcpu_tstamp sent_ts, tcpu_tstamp now) {
  (void)st;
  (void)sent_ts;
  (void)now;
  uint32_t half = cs->flight_size / 2;
  cs->ssthresh = half > 2 * cs->mss ? half : 2 * cs->mss;
  if (s == TCPU_CC_RTO)
    cs->cwnd = cs->mss;
}

static void vegas_on_recovery_exit(void *st, tcpu_cc_stat *cs,
                                   tcpu_tstamp now) {
  (void)st;
  (void)now;
  if (cs->cwnd > cs->ssthresh)
    cs->cwnd = cs->ssthresh;
}

static const tcpu_cc_ops vegas_ops = {
    .name = "vegas",
    .state_size = sizeof(vegas),
    .init = vegas_init,
    .on_ack = vegas_on_ack,
    .on_congestion = vegas_on_congestion,
    .on_recovery_exit = vegas_on_recovery_exit,
};

/* What `tcpu lab --load` looks for: the algorithms of this object, up to
 * a NULL.  An application links the file and passes tcpu_cc_plugins[0]
 * to tcpu_cc_register instead. */
extern const tcpu_cc_ops *const tcpu_cc_plugins[];
__attribute__((visibility("default")))
const tcpu_cc_ops *const tcpu_cc_plugins[] = {&vegas_ops, NULL};
