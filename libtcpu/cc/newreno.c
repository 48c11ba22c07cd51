/*
 * newreno.c — NewReno congestion control (RFC 5681 §3, RFC 6582): slow
 * start, congestion avoidance by byte counting (RFC 3465), halving on
 * loss, one segment after a timeout, and the restart window after idle
 * (RFC 5681 §4.1).  Fast recovery itself (PRR) is done by the core.
 */
#include "cc/cc.h"

typedef struct newreno {
  uint64_t ca_acc; /* bytes acknowledged toward the next cwnd increase */
} newreno;

static void nr_init(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  (void)st;
  (void)cs;
  (void)now;
}

static void nr_on_ack(void *st, tcpu_cc_stat *cs, const tcpu_cc_ack *a,
                      tcpu_tstamp now) {
  newreno *nr = st;
  (void)now;
  /* RFC 5681 §3.1: no growth while recovering, nor when the window was
   * not what limited the sender (RFC 7661 §4.3 spirit). */
  if (cs->in_recovery || !a->is_cwnd_limited)
    return;
  uint64_t left = a->bytes_acked;
  if (cs->cwnd < cs->ssthresh)
    left = tcpu_cc_slow_start(cs, left);
  if (left > 0)
    tcpu_cc_cong_avoid(cs, &nr->ca_acc, left);
}

/* RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS).  After a
 * recovery with many holes FlightSize can be twice the window that was
 * really in use, so it is capped by cwnd (Linux halves cwnd). */
static void nr_on_congestion(void *st, tcpu_cc_stat *cs, tcpu_cc_signal s,
                             tcpu_tstamp sent_ts, tcpu_tstamp now) {
  newreno *nr = st;
  (void)sent_ts;
  (void)now;
  uint32_t half = (cs->flight_size < cs->cwnd ? cs->flight_size : cs->cwnd) / 2;
  cs->ssthresh = half > 2 * cs->mss ? half : 2 * cs->mss;
  nr->ca_acc = 0;
  if (s == TCPU_CC_RTO)
    cs->cwnd = cs->mss; /* the loss window */
}

/* RFC 6582 §3.2 step 6 / RFC 6937: leave recovery at ssthresh. */
static void nr_on_recovery_exit(void *st, tcpu_cc_stat *cs,
                                tcpu_tstamp now) {
  (void)st;
  (void)now;
  if (cs->ssthresh != UINT32_MAX && cs->cwnd > cs->ssthresh)
    cs->cwnd = cs->ssthresh;
}

/* RFC 5681 §4.1: after an idle period longer than the RTO, restart from
 * min(IW, cwnd). */
static void nr_on_idle_restart(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  (void)st;
  (void)now;
  uint32_t iw = 10 * cs->mss;
  if (cs->cwnd > iw)
    cs->cwnd = iw;
}

const tcpu_cc_ops tcpu_cc_newreno = {
    .name = "newreno",
    .state_size = sizeof(newreno),
    .init = nr_init,
    .on_ack = nr_on_ack,
    .on_congestion = nr_on_congestion,
    .on_recovery_exit = nr_on_recovery_exit,
    .on_idle_restart = nr_on_idle_restart,
};
