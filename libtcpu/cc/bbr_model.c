/*
 * bbr_model.c — BBR's model of the network path (draft-ietf-ccwg-bbr-06
 * §5.5, §5.6.4): the per-ACK rate sample as BBR rebuilds it, the
 * bandwidth and RTT filters, aggregation, the short-term model that loss
 * lowers, and the volumes derived from them.  The state machine that
 * drives them is bbr.c.
 */
#include "cc/bbr.h"

#define MIN_RTT_FILTER_LEN (10 * TCPU_NS_PER_S) /* §2.16.1 */
#define PROBE_RTT_INTERVAL (5 * TCPU_NS_PER_S)  /* §2.16.2 */
#define EXTRA_ACKED_FILTER_LEN 10               /* §2.12, rounds */
#define BETA 0.7                                /* §2.8 */
#define HEADROOM 0.15                           /* §2.8 */
#define LOSS_THRESH 0.02                        /* §2.8 */
#define PROBE_RTT_CWND_GAIN 0.5                 /* §2.16.2 */
#define SEND_QUANTUM_MAX 65536                  /* §5.6.3 */

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* A rate (bytes/s) over a time (ns) is a volume; in double because
 * 10 Gbit/s times 10 s overflows 64 bits of byte-nanoseconds. */
static uint64_t volume(uint64_t bw, tcpu_duration t) {
  double v = (double)bw * (double)t / 1e9;
  return v >= 1.8e19 ? TCPU_BBR_INF : (uint64_t)v;
}

/* ------------------------------------------------------------- filters */

void tcpu_bbr_minmax_reset(tcpu_bbr_minmax *m, uint64_t t, uint64_t v) {
  for (int i = 0; i < 3; i++) {
    m->s[i].t = t;
    m->s[i].v = v;
  }
}

uint64_t tcpu_bbr_minmax_update(tcpu_bbr_minmax *m, uint64_t win, uint64_t t,
                                uint64_t v) {
  /* A new maximum, or nothing left in the window: start over. */
  if (v >= m->s[0].v || t - m->s[2].t > win) {
    tcpu_bbr_minmax_reset(m, t, v);
    return v;
  }
  if (v >= m->s[1].v) {
    m->s[1].t = m->s[2].t = t;
    m->s[1].v = m->s[2].v = v;
  } else if (v >= m->s[2].v) {
    m->s[2].t = t;
    m->s[2].v = v;
  }
  /* The best has aged out: promote the next best, once or twice. */
  uint64_t dt = t - m->s[0].t;
  if (dt > win) {
    m->s[0] = m->s[1];
    m->s[1] = m->s[2];
    m->s[2].t = t;
    m->s[2].v = v;
    if (t - m->s[0].t > win) {
      m->s[0] = m->s[1];
      m->s[1] = m->s[2];
    }
  } else if (m->s[1].t == m->s[0].t && dt > win / 4) {
    /* A quarter of the window has passed without a second choice. */
    m->s[1].t = m->s[2].t = t;
    m->s[1].v = m->s[2].v = v;
  } else if (m->s[2].t == m->s[1].t && dt > win / 2) {
    m->s[2].t = t;
    m->s[2].v = v;
  }
  return m->s[0].v;
}

/* ---------------------------------------------------- send snapshots */

/* A slice of a sixteenth of min_rtt keeps 64 records covering about four
 * round trips (a full queue doubles the RTT); the draft's per-packet
 * state would cost memory in proportion to the window. */
static tcpu_duration snap_slice(const tcpu_bbr *b) {
  if (b->min_rtt == TCPU_BBR_INF || b->min_rtt == 0)
    return TCPU_NS_PER_MS;
  return b->min_rtt / 16 ? b->min_rtt / 16 : 1;
}

void tcpu_bbr_snap_on_send(tcpu_bbr *b, uint64_t inflight, tcpu_tstamp now) {
  tcpu_bbr_snap *s = &b->snap[b->snap_head];
  if (b->snap_n > 0 && now < s->ts + snap_slice(b)) {
    /* Same slice: P.tx_in_flight is what was in flight after the latest
     * send; P.lost stays the slice's first, which errs towards seeing
     * more loss since the send. */
    s->inflight = inflight;
    return;
  }
  if (b->snap_n > 0)
    b->snap_head = (b->snap_head + 1) % TCPU_BBR_SNAPS;
  if (b->snap_n < TCPU_BBR_SNAPS)
    b->snap_n++;
  s = &b->snap[b->snap_head];
  s->ts = now;
  s->inflight = inflight;
  s->lost = b->lost_total;
}

const tcpu_bbr_snap *tcpu_bbr_snap_find(const tcpu_bbr *b, tcpu_tstamp ts) {
  if (b->snap_n == 0)
    return NULL;
  uint32_t i = b->snap_head;
  for (uint32_t k = 0; k + 1 < b->snap_n; k++) {
    if (b->snap[i].ts <= ts)
      return &b->snap[i];
    i = (i + TCPU_BBR_SNAPS - 1) % TCPU_BBR_SNAPS;
  }
  return &b->snap[i]; /* the oldest */
}

/* ---------------------------------------------------------- rate sample */

/* The draft's RS, with RS.tx_in_flight and RS.lost from the send records
 * and ProbeRTT's own app-limited marking applied. */
void tcpu_bbr_make_rs(tcpu_bbr *b, const tcpu_cc_stat *cs, const tcpu_cc_ack *a,
                      tcpu_tstamp now, tcpu_bbr_rs *rs) {
  *rs = (tcpu_bbr_rs){0};
  rs->delivery_rate = a->delivery_rate;
  rs->delivered = a->delivered;
  rs->newly_acked = a->bytes_delivered;
  /* Losses RACK's timer marked between ACKs reach no tcpu_cc_ack's
   * bytes_lost; the core's running total (cs->lost) has them. */
  uint64_t lost = a->bytes_lost;
  if (cs->lost > b->cs_lost_seen && cs->lost - b->cs_lost_seen > lost)
    lost = cs->lost - b->cs_lost_seen;
  b->cs_lost_seen = cs->lost;
  rs->newly_lost = lost;
  rs->rtt = a->rtt;
  rs->sent_ts = a->largest_sent_ts;
  b->lost_total += lost;
  b->round_lost += lost;
  b->round_delivered += a->bytes_delivered;
  if (b->al_active && cs->delivered > b->al_mark) {
    b->al_active = 0; /* the bubble has left the pipe */
    b->al_until = now;
  }
  rs->is_app_limited =
      a->is_app_limited || (b->al_from != 0 && rs->sent_ts >= b->al_from &&
                            (b->al_active || rs->sent_ts < b->al_until));
  const tcpu_bbr_snap *s =
      rs->sent_ts ? tcpu_bbr_snap_find(b, rs->sent_ts) : NULL;
  rs->tx_in_flight = s ? s->inflight : a->prior_in_flight;
  rs->lost = s ? b->lost_total - s->lost : a->bytes_lost;
}

/* §5.5.10.2 IsInflightTooHigh(), assuming SACK (the core negotiates it;
 * tcpu_cc_stat does not say whether this connection has it). */
int tcpu_bbr_inflight_too_high(const tcpu_bbr_rs *rs) {
  return (double)rs->lost > (double)rs->tx_in_flight * LOSS_THRESH;
}

/* §5.5.10.2 InflightAtLoss(): the in-flight volume at which the loss
 * rate crossed LossThresh, within the `size` bytes lost last. */
uint64_t tcpu_bbr_inflight_at_loss(const tcpu_bbr_rs *rs, uint64_t size) {
  double inflight_prev = (double)rs->tx_in_flight - (double)size;
  double lost_prev = (double)rs->lost - (double)size;
  if (inflight_prev < 0)
    inflight_prev = 0;
  double prefix =
      (LOSS_THRESH * inflight_prev - lost_prev) / (1.0 - LOSS_THRESH);
  double at = inflight_prev + prefix;
  if (at < 0)
    at = 0;
  return at > (double)rs->tx_in_flight ? rs->tx_in_flight : (uint64_t)at;
}

/* --------------------------------------------------------------- rates */

/* §5.5.4, §5.5.5: application-limited samples only count when they show
 * more bandwidth than the model has, since then the model is too low.
 * The filter keeps this cycle's and the previous cycle's maxima (§5.5.6:
 * "only needs to track samples from two time slots"). */
void tcpu_bbr_update_max_bw(tcpu_bbr *b, const tcpu_bbr_rs *rs) {
  if (rs->delivery_rate == 0 ||
      (rs->delivery_rate < b->max_bw && rs->is_app_limited))
    return;
  uint64_t *slot = &b->max_bw_slot[b->cycle_count & 1];
  *slot = max_u64(*slot, rs->delivery_rate);
  b->max_bw = max_u64(b->max_bw_slot[0], b->max_bw_slot[1]);
}

/* §5.5.6 AdvanceMaxBwFilter().  A cycle that took no sample at all
 * leaves the window where it is (as Linux BBRv3 does): advancing would
 * forget the previous cycle for nothing and could drop max_bw to 0. */
void tcpu_bbr_advance_max_bw_filter(tcpu_bbr *b) {
  if (b->max_bw_slot[b->cycle_count & 1] == 0)
    return;
  b->cycle_count++;
  b->max_bw_slot[b->cycle_count & 1] = 0;
  b->max_bw = max_u64(b->max_bw_slot[0], b->max_bw_slot[1]);
}

/* §5.3.4.3 UpdateMinRTT(): probe_rtt_min_delay is the minimum of the
 * last ProbeRTTInterval and schedules ProbeRTT; min_rtt, over
 * MinRTTFilterLen, is what the BDP uses. */
void tcpu_bbr_update_min_rtt(tcpu_bbr *b, const tcpu_bbr_rs *rs,
                             tcpu_tstamp now) {
  b->probe_rtt_expired = now > b->probe_rtt_min_stamp + PROBE_RTT_INTERVAL;
  if (rs->rtt != TCPU_TSTAMP_NONE &&
      (rs->rtt < b->probe_rtt_min_delay || b->probe_rtt_expired)) {
    b->probe_rtt_min_delay = rs->rtt;
    b->probe_rtt_min_stamp = now;
  }
  int min_rtt_expired = now > b->min_rtt_stamp + MIN_RTT_FILTER_LEN;
  if (b->probe_rtt_min_delay < b->min_rtt || min_rtt_expired) {
    b->min_rtt = b->probe_rtt_min_delay;
    b->min_rtt_stamp = b->probe_rtt_min_stamp;
  }
}

/* §5.5.9: data ACKed beyond what bw explains over the same interval is
 * aggregation; cwnd gets that much extra so sending goes on through the
 * silences between aggregated ACKs. */
void tcpu_bbr_update_ack_aggregation(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                     const tcpu_bbr_rs *rs, tcpu_tstamp now) {
  uint64_t expected = volume(b->bw, now - b->extra_acked_interval_start);
  /* The ACK rate fell to the expected one: the episode is over. */
  if (b->extra_acked_delivered <= expected) {
    b->extra_acked_delivered = 0;
    b->extra_acked_interval_start = now;
    expected = 0;
  }
  b->extra_acked_delivered += rs->newly_acked;
  uint64_t extra = b->extra_acked_delivered - expected;
  extra = min_u64(extra, cs->cwnd);
  /* In Startup remember one round only: bw is still growing. */
  uint64_t len = b->full_bw_reached ? EXTRA_ACKED_FILTER_LEN : 1;
  b->extra_acked = tcpu_bbr_minmax_update(&b->extra_acked_filter, len,
                                          b->round_count, extra);
}

/* ---------------------------------------------- short-term model, loss */

/* §5.5.10.3 UpdateLatestDeliverySignals(): bw_latest and inflight_latest
 * are one-round maxima of what was delivered; a loss round ends when a
 * packet sent after it began is delivered (the draft's
 * RS.prior_delivered >= BBR.loss_round_delivered, in time). */
void tcpu_bbr_update_latest_delivery_signals(tcpu_bbr *b, const tcpu_bbr_rs *rs,
                                             tcpu_tstamp now) {
  b->loss_round_start = 0;
  b->bw_latest = max_u64(b->bw_latest, rs->delivery_rate);
  b->inflight_latest = max_u64(b->inflight_latest, rs->delivered);
  if (rs->sent_ts != 0 && rs->sent_ts >= b->loss_round_ts) {
    b->loss_round_ts = now;
    b->loss_round_start = 1;
  }
}

void tcpu_bbr_advance_latest_delivery_signals(tcpu_bbr *b,
                                              const tcpu_bbr_rs *rs) {
  if (b->loss_round_start) {
    b->bw_latest = rs->delivery_rate;
    b->inflight_latest = rs->delivered;
  }
}

void tcpu_bbr_reset_congestion_signals(tcpu_bbr *b) {
  b->is_loss_in_round = 0;
  b->bw_latest = 0;
  b->inflight_latest = 0;
}

void tcpu_bbr_reset_short_term_model(tcpu_bbr *b) {
  b->bw_shortterm = TCPU_BBR_INF;
  b->inflight_shortterm = TCPU_BBR_INF;
}

/* §5.5.10.3 AdaptLowerBoundsFromCongestion(): once per round with loss,
 * when not probing, come down to what the last round delivered, but by
 * no more than Beta, the multiplicative decrease of CUBIC. */
void tcpu_bbr_adapt_lower_bounds(tcpu_bbr *b, const tcpu_cc_stat *cs) {
  tcpu_bbr_state s = b->state;
  uint64_t lost = b->round_lost, sent = b->round_lost + b->round_delivered;
  b->round_lost = b->round_delivered = 0; /* the next loss round */
  if (s == TCPU_BBR_STARTUP || s == TCPU_BBR_PROBE_BW_REFILL ||
      s == TCPU_BBR_PROBE_BW_UP || !b->is_loss_in_round)
    return;
  /* A round that lost no more than LossThresh of what it sent is random
   * loss, not congestion (§5.5.10.2 tolerates it for inflight_longterm;
   * the same bound applies here).  Otherwise, at a steady 1% of random
   * loss, every round would set bw_shortterm to the round's best sample,
   * which pacing 1% under bw (PACING_MARGIN) and the losses themselves
   * keep about 1% under bw_shortterm: a ratchet that halves the rate
   * between two bandwidth probes. */
  if ((double)lost <= LOSS_THRESH * (double)sent)
    return;
  if (b->bw_shortterm == TCPU_BBR_INF)
    b->bw_shortterm = b->max_bw;
  if (b->inflight_shortterm == TCPU_BBR_INF)
    b->inflight_shortterm = cs->cwnd;
  b->bw_shortterm =
      max_u64(b->bw_latest, (uint64_t)(BETA * (double)b->bw_shortterm));
  b->inflight_shortterm = max_u64(
      b->inflight_latest, (uint64_t)(BETA * (double)b->inflight_shortterm));
}

/* BoundBWForModel(), and BBR.bdp = BBR.bw * BBR.min_rtt (§2.9.2) with
 * it, so TargetInflight() and the loss response see the current one. */
void tcpu_bbr_bound_bw_for_model(tcpu_bbr *b) {
  b->bw = min_u64(b->max_bw, b->bw_shortterm);
  b->bdp = tcpu_bbr_bdp_multiple(b, b->bw, 1.0);
}

/* -------------------------------------------------------------- volumes */

uint64_t tcpu_bbr_min_pipe_cwnd(const tcpu_cc_stat *cs) {
  return 4 * (uint64_t)cs->mss;
}

uint64_t tcpu_bbr_bdp_multiple(tcpu_bbr *b, uint64_t bw, double gain) {
  if (b->min_rtt == TCPU_BBR_INF)
    return b->init_cwnd; /* no RTT sample yet */
  double v = gain * (double)volume(bw, b->min_rtt);
  return v >= 1.8e19 ? TCPU_BBR_INF : (uint64_t)v;
}

/* §5.6.4.2 QuantizationBudget().  The offload budget is §5.5.8.2's one
 * send quantum: tcpu sends single UDP datagrams from user space, with
 * no TSO/GSO engine or qdisc holding further quanta (§5.5.8.1's 3x is
 * for those); the receiver's delayed ACKs are what MinPipeCwnd covers. */
uint64_t tcpu_bbr_quantization_budget(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                      uint64_t inflight_cap) {
  b->offload_budget = b->send_quantum;
  inflight_cap = max_u64(inflight_cap, b->offload_budget);
  inflight_cap = max_u64(inflight_cap, tcpu_bbr_min_pipe_cwnd(cs));
  if (b->state == TCPU_BBR_PROBE_BW_UP && inflight_cap != TCPU_BBR_INF)
    inflight_cap += 2 * (uint64_t)cs->mss;
  return inflight_cap;
}

uint64_t tcpu_bbr_inflight(tcpu_bbr *b, const tcpu_cc_stat *cs, uint64_t bw,
                           double gain) {
  return tcpu_bbr_quantization_budget(b, cs,
                                      tcpu_bbr_bdp_multiple(b, bw, gain));
}

void tcpu_bbr_update_max_inflight(tcpu_bbr *b, const tcpu_cc_stat *cs) {
  uint64_t cap = tcpu_bbr_bdp_multiple(b, b->bw, b->cwnd_gain);
  if (cap != TCPU_BBR_INF)
    cap += b->extra_acked;
  b->max_inflight = tcpu_bbr_quantization_budget(b, cs, cap);
}

/* §5.3.3.9: leave Headroom of inflight_longterm free for other flows. */
uint64_t tcpu_bbr_inflight_with_headroom(const tcpu_bbr *b,
                                         const tcpu_cc_stat *cs) {
  if (b->inflight_longterm == TCPU_BBR_INF)
    return TCPU_BBR_INF;
  uint64_t headroom =
      max_u64(cs->mss, (uint64_t)(HEADROOM * (double)b->inflight_longterm));
  uint64_t left =
      b->inflight_longterm > headroom ? b->inflight_longterm - headroom : 0;
  return max_u64(left, tcpu_bbr_min_pipe_cwnd(cs));
}

/* §5.3.3.8: the BDP, unless congestion cut cwnd below it. */
uint64_t tcpu_bbr_target_inflight(const tcpu_bbr *b, const tcpu_cc_stat *cs) {
  return min_u64(b->bdp, cs->cwnd);
}

/* §5.6.4.5 ProbeRTTCwnd(). */
uint64_t tcpu_bbr_probe_rtt_cwnd(tcpu_bbr *b, const tcpu_cc_stat *cs) {
  return max_u64(tcpu_bbr_bdp_multiple(b, b->bw, PROBE_RTT_CWND_GAIN),
                 tcpu_bbr_min_pipe_cwnd(cs));
}

/* §5.6.4.7 BoundCwndForModel(): the volume caps of §5.6.1's table. */
uint64_t tcpu_bbr_bound_cwnd_for_model(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                       uint64_t cwnd) {
  uint64_t cap = TCPU_BBR_INF;
  tcpu_bbr_state s = b->state;
  if (s >= TCPU_BBR_PROBE_BW_DOWN && s <= TCPU_BBR_PROBE_BW_UP &&
      s != TCPU_BBR_PROBE_BW_CRUISE)
    cap = b->inflight_longterm;
  else if (s == TCPU_BBR_PROBE_RTT || s == TCPU_BBR_PROBE_BW_CRUISE)
    cap = tcpu_bbr_inflight_with_headroom(b, cs);
  cap = min_u64(cap, b->inflight_shortterm);
  cap = max_u64(cap, tcpu_bbr_min_pipe_cwnd(cs));
  return min_u64(cwnd, cap);
}

/* §5.6.3 SetSendQuantum(): a millisecond of sending, from 2 segments to
 * 64 KB.  The core's pacer grants the same burst (pacer.c). */
void tcpu_bbr_set_send_quantum(tcpu_bbr *b, const tcpu_cc_stat *cs) {
  uint64_t q = cs->pacing_rate / 1000;
  q = min_u64(q, SEND_QUANTUM_MAX);
  b->send_quantum = max_u64(q, 2 * (uint64_t)cs->mss);
}
