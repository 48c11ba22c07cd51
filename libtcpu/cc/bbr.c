/*
 * bbr.c — BBR congestion control, version 3, after draft-ietf-ccwg-bbr-06
 * (6 July 2026), cited as §: the Startup, Drain, ProbeBW (DOWN, CRUISE,
 * REFILL, UP) and ProbeRTT states, the loss responses, undo after a
 * spurious recovery, and the pacing rate, send quantum and cwnd they
 * lead to.  The path model itself (filters, volumes) is bbr_model.c.
 * Names are -06's: max_bw is the max of the two per-cycle slots that
 * earlier drafts called bw_hi, inflight_longterm was inflight_hi, and
 * bw_shortterm and inflight_shortterm were bw_lo and inflight_lo.
 *
 * Gains are -06's too: Startup paces at 2.77 = 4 ln 2 (§2.5) and Drain
 * at 0.5, which -06 justifies as any value at or below 1/cwnd_gain
 * drains the Startup queue within a round.  Earlier drafts paced Drain
 * at about 0.35, the inverse of BBRv1's 2/ln 2 = 2.89 Startup gain.
 *
 * The algorithm owns recovery (owns_recovery): the core runs no PRR and
 * leaves cwnd alone when recovery ends, and BBR sets cwnd and pacing_rate
 * on every ACK.  In recovery it follows §5.6.4.4 (save cwnd, restore it
 * on exit) plus BBRModulateCwndForRecovery() of draft-cardwell-iccrg-
 * bbr-congestion-control-02 ("iccrg-02") §4.6.4.4, which Linux BBRv3
 * keeps: newly lost data comes off cwnd, and the first round of fast
 * recovery conserves packets.  Without PRR nothing else would stop the
 * ACKs of a lossy round from releasing a full window of new data.
 *
 * Where tcpu_cc_ack lacks a signal of the draft, BBR rebuilds it:
 *   - rounds are timed by send time (StartRound() needs its own
 *     sentinel, which the core's cs->round cannot restart);
 *   - RS.tx_in_flight and RS.lost come from per-slice send records
 *     (on_sent) looked up by the newest delivered packet's send time;
 *   - the lost packets of HandleLostPacket() are bytes per ACK
 *     (bytes_lost), taken as sent with the newest delivered packet or,
 *     without a rate sample, one RTT ago.
 */
#include "cc/bbr.h"

#define STARTUP_PACING_GAIN 2.77                  /* §2.5: 4 ln 2 */
#define DRAIN_PACING_GAIN 0.5                     /* §2.5 */
#define DEFAULT_CWND_GAIN 2.0                     /* §2.6 */
#define PACING_MARGIN 0.99                        /* §2.5: 1% under bw */
#define BETA 0.7                                  /* §2.8 */
#define FULL_BW_GROWTH 1.25                       /* §5.3.1.2 */
#define FULL_BW_COUNT 3                           /* §5.3.1.2 */
#define STARTUP_FULL_LOSS_CNT 6                   /* §5.3.1.3 */
#define PROBE_RTT_DURATION (200 * TCPU_NS_PER_MS) /* §2.16.2 */
#define RENO_ROUNDS_MAX 63                        /* §5.3.3.8 */

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* xorshift64* for PickProbeWait(), seeded through splitmix64 from the
 * connection's start, so a run replays exactly (the simulator compares
 * traces) while connections differ. */
static uint64_t seed_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t rnd(tcpu_bbr *b) {
  b->rng ^= b->rng >> 12;
  b->rng ^= b->rng << 25;
  b->rng ^= b->rng >> 27;
  return b->rng * 0x2545f4914f6cdd1dull;
}

/* §5.6.1: each state's gains. */
static void set_state(tcpu_bbr *b, tcpu_bbr_state s) {
  static const double gain[][2] = {
      [TCPU_BBR_STARTUP] = {STARTUP_PACING_GAIN, DEFAULT_CWND_GAIN},
      [TCPU_BBR_DRAIN] = {DRAIN_PACING_GAIN, DEFAULT_CWND_GAIN},
      [TCPU_BBR_PROBE_BW_DOWN] = {0.90, DEFAULT_CWND_GAIN},
      [TCPU_BBR_PROBE_BW_CRUISE] = {1.0, DEFAULT_CWND_GAIN},
      [TCPU_BBR_PROBE_BW_REFILL] = {1.0, DEFAULT_CWND_GAIN},
      [TCPU_BBR_PROBE_BW_UP] = {1.25, 2.25},
      [TCPU_BBR_PROBE_RTT] = {1.0, 0.5}, /* §2.16.2 ProbeRTTCwndGain */
  };
  b->state = s;
  b->pacing_gain = gain[s][0];
  b->cwnd_gain = gain[s][1];
}

static int in_probe_bw(const tcpu_bbr *b) {
  return b->state >= TCPU_BBR_PROBE_BW_DOWN && b->state <= TCPU_BBR_PROBE_BW_UP;
}

/* §5.5.1 StartRound(). */
static void start_round(tcpu_bbr *b, tcpu_tstamp now) {
  b->next_round_ts = now;
}

static void update_round(tcpu_bbr *b, const tcpu_bbr_rs *rs, tcpu_tstamp now) {
  b->round_start = 0;
  if (rs->sent_ts != 0 && rs->sent_ts >= b->next_round_ts) {
    start_round(b, now);
    b->round_count++;
    b->rounds_since_probe_up++;
    b->round_start = 1;
  }
}

/* ---------------------------------------------------------- cwnd memory */

/* §5.6.4.4: the last cwnd not lowered by recovery or ProbeRTT. */
static void save_cwnd(tcpu_bbr *b, const tcpu_cc_stat *cs) {
  if (!b->in_recovery && b->state != TCPU_BBR_PROBE_RTT)
    b->prior_cwnd = cs->cwnd;
  else
    b->prior_cwnd = max_u64(b->prior_cwnd, cs->cwnd);
}

static void restore_cwnd(tcpu_bbr *b, tcpu_cc_stat *cs) {
  cs->cwnd = (uint32_t)min_u64(max_u64(cs->cwnd, b->prior_cwnd), UINT32_MAX);
}

/* §5.5.11.1 SaveStateUponLoss(). */
static void save_state_upon_loss(tcpu_bbr *b, const tcpu_cc_stat *cs) {
  save_cwnd(b, cs);
  b->undo_state = TCPU_BBR_NONE;
  b->undo_bw_shortterm = b->bw_shortterm;
  b->undo_inflight_shortterm = b->inflight_shortterm;
  b->undo_inflight_longterm = b->inflight_longterm;
}

/* ------------------------------------------------------------ Startup */

/* §5.3.1.2 ResetFullBW(). */
static void reset_full_bw(tcpu_bbr *b) {
  b->full_bw = 0;
  b->full_bw_count = 0;
  b->full_bw_now = 0;
}

static void enter_startup(tcpu_bbr *b) { set_state(b, TCPU_BBR_STARTUP); }

/* §5.3.1.2 CheckFullBWReached(): three non-application-limited rounds
 * with less than 25% growth mean the pipe is full.  A round start
 * without a rate sample says nothing about growth and is skipped. */
static void check_full_bw_reached(tcpu_bbr *b, const tcpu_bbr_rs *rs) {
  if (b->full_bw_now || !b->round_start || rs->is_app_limited ||
      rs->delivery_rate == 0)
    return;
  if ((double)rs->delivery_rate >= (double)b->full_bw * FULL_BW_GROWTH) {
    reset_full_bw(b);
    b->full_bw = rs->delivery_rate;
    return;
  }
  b->full_bw_count++;
  b->full_bw_now = b->full_bw_count >= FULL_BW_COUNT;
  if (b->full_bw_now)
    b->full_bw_reached = 1;
}

static void enter_drain(tcpu_bbr *b) {
  set_state(b, TCPU_BBR_DRAIN);
  b->drain_start_round = b->round_count;
}

/* §5.3.1.3 CheckStartupHighLoss(): after a full round of fast recovery,
 * a round with more than LossThresh lost over at least six loss events
 * (the ACKs that marked loss, as Linux counts the draft's
 * "discontiguous sequence ranges") ends Startup. */
static void check_startup_high_loss(tcpu_bbr *b, const tcpu_bbr_rs *rs) {
  if (b->full_bw_reached || b->state != TCPU_BBR_STARTUP)
    return;
  if (b->loss_round_start && b->in_fast_recovery &&
      b->round_count > b->recovery_round &&
      b->loss_events_in_round >= STARTUP_FULL_LOSS_CNT &&
      tcpu_bbr_inflight_too_high(rs)) {
    b->undo_state = TCPU_BBR_STARTUP;
    b->full_bw_reached = 1;
    b->inflight_longterm = max_u64(b->bdp, b->inflight_latest);
  }
  if (b->loss_round_start)
    b->loss_events_in_round = 0;
}

static void check_startup_done(tcpu_bbr *b, const tcpu_bbr_rs *rs) {
  check_startup_high_loss(b, rs);
  if (b->state == TCPU_BBR_STARTUP && b->full_bw_reached)
    enter_drain(b);
}

/* ------------------------------------------------------------- ProbeBW */

/* §5.3.3.8 PickProbeWait(): 0 or 1 rounds, and 2 to 3 s. */
static void pick_probe_wait(tcpu_bbr *b) {
  b->rounds_since_probe_up = rnd(b) & 1;
  b->bw_probe_wait =
      2 * TCPU_NS_PER_S + (tcpu_duration)(rnd(b) % (TCPU_NS_PER_S + 1));
}

static void start_probe_bw_down(tcpu_bbr *b, tcpu_tstamp now) {
  tcpu_bbr_reset_congestion_signals(b);
  b->probe_up_acked_per_inc = TCPU_BBR_INF;
  pick_probe_wait(b);
  b->cycle_stamp = now;
  b->ack_phase = TCPU_BBR_ACKS_PROBE_STOPPING;
  start_round(b, now);
  set_state(b, TCPU_BBR_PROBE_BW_DOWN);
}

static void start_probe_bw_cruise(tcpu_bbr *b) {
  set_state(b, TCPU_BBR_PROBE_BW_CRUISE);
}

/* REFILL drops the short-term model: the pivot of §3.4.2.3. */
static void start_probe_bw_refill(tcpu_bbr *b, tcpu_tstamp now) {
  tcpu_bbr_reset_short_term_model(b);
  b->bw_probe_up_rounds = 0;
  b->bw_probe_up_acked = 0;
  b->prev_probe_precautionary = 0;
  b->ack_phase = TCPU_BBR_ACKS_REFILLING;
  start_round(b, now);
  set_state(b, TCPU_BBR_PROBE_BW_REFILL);
}

/* §5.3.3.9 RaiseInflightLongtermSlope(): 1, 2, 4... MSS per round. */
static void raise_inflight_longterm_slope(tcpu_bbr *b, const tcpu_cc_stat *cs) {
  uint64_t growth = (uint64_t)1 << b->bw_probe_up_rounds;
  b->bw_probe_up_rounds = min_u64(b->bw_probe_up_rounds + 1, 30);
  b->probe_up_acked_per_inc = max_u64(cs->cwnd / growth, cs->mss);
}

static void start_probe_bw_up(tcpu_bbr *b, const tcpu_cc_stat *cs,
                              const tcpu_bbr_rs *rs, tcpu_tstamp now) {
  b->ack_phase = TCPU_BBR_ACKS_PROBE_STARTING;
  start_round(b, now);
  reset_full_bw(b);
  b->full_bw = rs->delivery_rate;
  set_state(b, TCPU_BBR_PROBE_BW_UP);
  raise_inflight_longterm_slope(b, cs);
}

static void enter_probe_bw(tcpu_bbr *b, tcpu_tstamp now) {
  start_probe_bw_down(b, now);
}

/* §5.3.2 CheckDrainDone(): the queue is gone, or three rounds passed (bw
 * was overestimated and the filter needs a probing cycle to move). */
static void check_drain_done(tcpu_bbr *b, const tcpu_cc_stat *cs,
                             tcpu_tstamp now) {
  if (b->state == TCPU_BBR_DRAIN &&
      (cs->bytes_in_flight <= tcpu_bbr_inflight(b, cs, b->bw, 1.0) ||
       b->round_count > b->drain_start_round + 3))
    enter_probe_bw(b, now);
}

/* §5.3.3.8: probe after 2-3 s, or after the rounds a Reno flow of the
 * same BDP would need (at most 63), whichever comes first. */
static int is_time_to_probe_bw(tcpu_bbr *b, const tcpu_cc_stat *cs,
                               tcpu_tstamp now) {
  uint64_t reno_rounds = tcpu_bbr_target_inflight(b, cs) / cs->mss;
  if (now > b->cycle_stamp + b->bw_probe_wait ||
      b->rounds_since_probe_up >= min_u64(reno_rounds, RENO_ROUNDS_MAX)) {
    start_probe_bw_refill(b, now);
    return 1;
  }
  return 0;
}

/* §5.3.3.1: DOWN ends with headroom left and no queue. */
static int is_time_to_cruise(tcpu_bbr *b, const tcpu_cc_stat *cs) {
  if (cs->bytes_in_flight > tcpu_bbr_inflight_with_headroom(b, cs))
    return 0;
  return cs->bytes_in_flight <= tcpu_bbr_inflight(b, cs, b->max_bw, 1.0);
}

/* §5.3.3.7 IsTimeToGoDown(). */
static int is_time_to_go_down(tcpu_bbr *b, const tcpu_cc_stat *cs,
                              const tcpu_cc_ack *a, const tcpu_bbr_rs *rs) {
  /* Precautionary probing: stop where the last probe saw loss. */
  if (b->prev_probe_too_high && cs->bytes_in_flight >= b->inflight_longterm) {
    b->prev_probe_precautionary = 1;
    return 1;
  }
  if (a->is_cwnd_limited && cs->cwnd >= b->inflight_longterm) {
    /* inflight_longterm, not the path, limits bw: keep probing. */
    reset_full_bw(b);
    b->full_bw = rs->delivery_rate;
  } else if (b->full_bw_now) {
    return 1;
  }
  return 0;
}

/* §5.3.3.9 ProbeInflightLongtermUpward(). */
static void probe_inflight_longterm_upward(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                           const tcpu_cc_ack *a,
                                           const tcpu_bbr_rs *rs) {
  if (!a->is_cwnd_limited || cs->cwnd < b->inflight_longterm)
    return; /* not using inflight_longterm in full: do not grow it */
  b->bw_probe_up_acked += rs->newly_acked;
  if (b->bw_probe_up_acked >= b->probe_up_acked_per_inc) {
    uint64_t delta = b->bw_probe_up_acked / b->probe_up_acked_per_inc;
    b->bw_probe_up_acked -= delta * b->probe_up_acked_per_inc;
    b->inflight_longterm += delta * cs->mss;
  }
  if (b->round_start)
    raise_inflight_longterm_slope(b, cs);
}

/* §5.3.3.9 AdaptLongTermModel(): 1 when it changed state. */
static int adapt_long_term_model(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                 const tcpu_cc_ack *a, const tcpu_bbr_rs *rs,
                                 tcpu_tstamp now) {
  if (b->ack_phase == TCPU_BBR_ACKS_PROBE_STARTING && b->round_start)
    b->ack_phase = TCPU_BBR_ACKS_PROBE_FEEDBACK; /* probe samples arrive */
  if (b->ack_phase == TCPU_BBR_ACKS_PROBE_STOPPING && b->round_start) {
    /* The samples of the probe are all in: the cycle ends here. */
    b->is_bw_probe_sample = 0;
    b->ack_phase = TCPU_BBR_ACKS_INIT;
    if (in_probe_bw(b) && !rs->is_app_limited)
      tcpu_bbr_advance_max_bw_filter(b);
    /* The precautionary probe saw no excess loss: probe in full. */
    if (in_probe_bw(b) && b->prev_probe_precautionary &&
        !b->prev_probe_too_high) {
      start_probe_bw_refill(b, now);
      return 1;
    }
  }
  if (tcpu_bbr_inflight_too_high(rs) || b->inflight_longterm == TCPU_BBR_INF)
    return 0;
  /* The loss rate is safe: the upper bound may rise. */
  if (rs->tx_in_flight > b->inflight_longterm)
    b->inflight_longterm = rs->tx_in_flight;
  if (b->state == TCPU_BBR_PROBE_BW_UP)
    probe_inflight_longterm_upward(b, cs, a, rs);
  return 0;
}

/* §5.3.3.9 UpdateProbeBWCyclePhase(). */
static void update_probe_bw_cycle_phase(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                        const tcpu_cc_ack *a,
                                        const tcpu_bbr_rs *rs,
                                        tcpu_tstamp now) {
  if (!b->full_bw_reached)
    return; /* steady state only */
  if (adapt_long_term_model(b, cs, a, rs, now) || !in_probe_bw(b))
    return;
  switch (b->state) {
  case TCPU_BBR_PROBE_BW_DOWN:
    if (!is_time_to_probe_bw(b, cs, now) && is_time_to_cruise(b, cs))
      start_probe_bw_cruise(b);
    break;
  case TCPU_BBR_PROBE_BW_CRUISE:
    is_time_to_probe_bw(b, cs, now);
    break;
  case TCPU_BBR_PROBE_BW_REFILL:
    /* One round of REFILL filled the pipe: now probe. */
    if (b->round_start) {
      b->is_bw_probe_sample = 1;
      start_probe_bw_up(b, cs, rs, now);
    }
    break;
  case TCPU_BBR_PROBE_BW_UP:
    if (is_time_to_go_down(b, cs, a, rs)) {
      b->prev_probe_too_high = 0; /* no high loss (yet) */
      start_probe_bw_down(b, now);
    }
    break;
  default:
    break;
  }
}

/* ----------------------------------------------------------------- loss */

/* §5.5.10.2 HandleInflightTooHigh(): remember the volume that lost too
 * much, but cut by no more than Beta (CUBIC's 0.7). */
static void handle_inflight_too_high(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                     const tcpu_bbr_rs *rs, tcpu_tstamp now) {
  b->prev_probe_too_high = 1;
  b->is_bw_probe_sample = 0; /* react once per probe */
  if (!rs->is_app_limited)
    b->inflight_longterm =
        max_u64(rs->tx_in_flight,
                (uint64_t)((double)tcpu_bbr_target_inflight(b, cs) * BETA));
  if (b->state == TCPU_BBR_PROBE_BW_UP) {
    b->undo_state = TCPU_BBR_PROBE_BW_UP;
    start_probe_bw_down(b, now);
  }
}

/* §5.5.10.2 NoteLoss(). */
static void note_loss(tcpu_bbr *b, const tcpu_cc_stat *cs, tcpu_tstamp now) {
  if (!b->is_loss_in_round) { /* the first loss of this round */
    b->loss_round_ts = now;
    save_state_upon_loss(b, cs);
  }
  b->is_loss_in_round = 1;
}

/* §5.5.10.2 HandleLostPacket() for the bytes this ACK marked lost. */
static void handle_lost(tcpu_bbr *b, const tcpu_cc_stat *cs,
                        const tcpu_bbr_rs *rs, tcpu_tstamp now) {
  note_loss(b, cs, now);
  if (b->loss_events_in_round < UINT32_MAX)
    b->loss_events_in_round++;
  if (!b->is_bw_probe_sample)
    return; /* not sent while probing bandwidth */
  tcpu_bbr_rs l = *rs;
  if (rs->sent_ts == 0) {
    /* No rate sample (a SACK-only ACK): RACK marks packets sent about a
     * round trip before the newest delivered one. */
    tcpu_duration rtt = cs->latest_rtt ? cs->latest_rtt : cs->srtt;
    const tcpu_bbr_snap *s = tcpu_bbr_snap_find(b, now > rtt ? now - rtt : 0);
    if (s) {
      l.tx_in_flight = s->inflight;
      l.lost = b->lost_total - s->lost;
    }
  }
  if (tcpu_bbr_inflight_too_high(&l)) {
    l.tx_in_flight = tcpu_bbr_inflight_at_loss(&l, rs->newly_lost);
    handle_inflight_too_high(b, cs, &l, now);
  }
}

/* ------------------------------------------------------------ ProbeRTT */

/* §5.3.4.4 ExitProbeRTT(): inflight is below the BDP already, so CRUISE
 * follows DOWN at once; the probing clock restarts all the same. */
static void exit_probe_rtt(tcpu_bbr *b, tcpu_tstamp now) {
  tcpu_bbr_reset_short_term_model(b);
  if (b->full_bw_reached) {
    start_probe_bw_down(b, now);
    start_probe_bw_cruise(b);
  } else {
    enter_startup(b);
  }
}

static void check_probe_rtt_done(tcpu_bbr *b, tcpu_cc_stat *cs,
                                 tcpu_tstamp now) {
  if (b->probe_rtt_done_stamp != 0 && now > b->probe_rtt_done_stamp) {
    b->probe_rtt_min_stamp = now; /* schedule the next ProbeRTT */
    restore_cwnd(b, cs);
    exit_probe_rtt(b, now);
  }
}

/* MarkConnectionAppLimited() (§4.1.2.4) for ProbeRTT's own samples: the
 * low rates it causes are not the path's. */
static void mark_app_limited(tcpu_bbr *b, const tcpu_cc_stat *cs,
                             tcpu_tstamp now) {
  if (!b->al_active) {
    b->al_active = 1;
    b->al_from = now;
  }
  b->al_mark = max_u64(cs->delivered + cs->bytes_in_flight, 1);
}

/* §5.3.4.3 HandleProbeRTT(): hold inflight at ProbeRTTCwnd() for
 * ProbeRTTDuration and at least one round. */
static void handle_probe_rtt(tcpu_bbr *b, tcpu_cc_stat *cs, tcpu_tstamp now) {
  mark_app_limited(b, cs, now);
  if (b->probe_rtt_done_stamp == 0 &&
      cs->bytes_in_flight <= tcpu_bbr_probe_rtt_cwnd(b, cs)) {
    b->probe_rtt_done_stamp = now + PROBE_RTT_DURATION;
    b->probe_rtt_round_done = 0;
    start_round(b, now);
  } else if (b->probe_rtt_done_stamp != 0) {
    if (b->round_start)
      b->probe_rtt_round_done = 1;
    if (b->probe_rtt_round_done)
      check_probe_rtt_done(b, cs, now);
  }
}

/* §5.3.4.3 CheckProbeRTT(): no lower RTT for ProbeRTTInterval, and no
 * idle period that could have drained the queue instead. */
static void check_probe_rtt(tcpu_bbr *b, tcpu_cc_stat *cs,
                            const tcpu_bbr_rs *rs, tcpu_tstamp now) {
  if (b->state != TCPU_BBR_PROBE_RTT && b->probe_rtt_expired &&
      !b->idle_restart) {
    set_state(b, TCPU_BBR_PROBE_RTT);
    save_cwnd(b, cs);
    b->probe_rtt_done_stamp = 0;
    b->ack_phase = TCPU_BBR_ACKS_PROBE_STOPPING;
    start_round(b, now);
  }
  if (b->state == TCPU_BBR_PROBE_RTT)
    handle_probe_rtt(b, cs, now);
  if (rs->delivered > 0)
    b->idle_restart = 0;
}

/* ------------------------------------------------------------- control */

/* §5.6.2: until the pipe is full the rate only rises, so app-limited
 * samples cannot pull it down while Startup still searches. */
static void set_pacing_rate_with_gain(tcpu_bbr *b, tcpu_cc_stat *cs,
                                      double gain) {
  double r = gain * (double)b->bw * PACING_MARGIN;
  uint64_t rate = r >= 1.8e19 ? TCPU_BBR_INF : (uint64_t)r;
  if (rate > 0 && (b->full_bw_reached || rate > cs->pacing_rate))
    cs->pacing_rate = rate;
}

/* §5.6.4.6 SetCwnd(), with the recovery of iccrg-02's §4.6.4.4: losses
 * come off cwnd, and in the first round of fast recovery an ACK releases
 * no more than it delivered (packet conservation). */
static void set_cwnd(tcpu_bbr *b, tcpu_cc_stat *cs, const tcpu_bbr_rs *rs) {
  uint64_t mss = cs->mss, cwnd = cs->cwnd;
  tcpu_bbr_update_max_inflight(b, cs);
  if (b->in_recovery && rs->newly_lost > 0)
    cwnd = cwnd > rs->newly_lost + mss ? cwnd - rs->newly_lost : mss;
  if (b->conserve_start) {
    /* OnEnterFastRecovery() of iccrg-02: what is in flight, plus room
     * for at least the fast retransmit. */
    b->conserve_start = 0;
    b->packet_conservation = 1;
    cwnd = (uint64_t)cs->bytes_in_flight + max_u64(rs->newly_acked, mss);
  }
  if (b->packet_conservation) {
    cwnd = max_u64(cwnd, (uint64_t)cs->bytes_in_flight + rs->newly_acked);
  } else if (b->full_bw_reached) {
    cwnd = min_u64(cwnd + rs->newly_acked, b->max_inflight);
  } else if (cwnd < b->max_inflight || cs->delivered < b->init_cwnd) {
    cwnd += rs->newly_acked;
  }
  cwnd = max_u64(cwnd, tcpu_bbr_min_pipe_cwnd(cs));
  if (b->state == TCPU_BBR_PROBE_RTT) /* §5.6.4.5 */
    cwnd = min_u64(cwnd, tcpu_bbr_probe_rtt_cwnd(b, cs));
  cwnd = tcpu_bbr_bound_cwnd_for_model(b, cs, cwnd);
  cs->cwnd = (uint32_t)min_u64(cwnd, UINT32_MAX);
  /* ssthresh means nothing to BBR.  Kept at cwnd once the pipe is full,
   * it makes the core's cwnd-limited test (recovery.c) the strict "window
   * nearly full" one, which is the draft's C.is_cwnd_limited (§2.2);
   * Startup keeps the slow-start reading, as Linux does. */
  cs->ssthresh = b->full_bw_reached ? cs->cwnd : UINT32_MAX;
}

/* ---------------------------------------------------------------- hooks */

static void bbr_init(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  tcpu_bbr *b = st;
  *b = (tcpu_bbr){0};
  b->init_cwnd = cs->cwnd;
  b->rng = seed_mix(now ^ ((uint64_t)cs->srtt << 20) ^ cs->mss);
  if (b->rng == 0)
    b->rng = 1;
  cs->ssthresh = UINT32_MAX;
  /* §5.2.1 OnInit(); the core's min RTT, if any, beats srtt. */
  tcpu_duration rtt = cs->min_rtt ? cs->min_rtt : cs->srtt;
  b->min_rtt = rtt ? rtt : TCPU_BBR_INF;
  b->min_rtt_stamp = now;
  b->probe_rtt_min_delay = b->min_rtt;
  b->probe_rtt_min_stamp = now;
  b->undo_state = TCPU_BBR_NONE;
  b->extra_acked_interval_start = now;
  b->inflight_longterm = TCPU_BBR_INF;
  b->probe_up_acked_per_inc = TCPU_BBR_INF;
  b->ack_phase = TCPU_BBR_ACKS_INIT;
  tcpu_bbr_reset_congestion_signals(b);
  tcpu_bbr_reset_short_term_model(b);
  reset_full_bw(b);
  /* §5.6.2 InitPacingRate(). */
  tcpu_duration srtt = cs->srtt ? cs->srtt : TCPU_NS_PER_MS;
  cs->pacing_rate = (uint64_t)(STARTUP_PACING_GAIN * (double)b->init_cwnd *
                               1e9 / (double)srtt);
  b->bdp = b->init_cwnd;
  enter_startup(b);
  tcpu_bbr_set_send_quantum(b, cs);
}

/* §5.2.3 UpdateOnACK(). */
static void bbr_on_ack(void *st, tcpu_cc_stat *cs, const tcpu_cc_ack *a,
                       tcpu_tstamp now) {
  tcpu_bbr *b = st;
  tcpu_bbr_rs rs;
  /* cs->in_recovery is fast recovery only; RTO recovery ends with
   * on_recovery_exit or on_spurious. */
  if (!cs->in_recovery && b->in_fast_recovery)
    b->in_fast_recovery = b->packet_conservation = b->conserve_start = 0;
  tcpu_bbr_make_rs(b, cs, a, now, &rs);
  /* §5.2.4: losses this ACK revealed count before the ACK's samples. */
  if (rs.newly_lost > 0)
    handle_lost(b, cs, &rs, now);
  /* Packet conservation lasts one round of recovery. */
  if (b->packet_conservation && rs.sent_ts >= b->conserve_until_ts)
    b->packet_conservation = 0;

  /* UpdateModelAndState() */
  update_round(b, &rs, now);
  tcpu_bbr_update_latest_delivery_signals(b, &rs, now);
  tcpu_bbr_update_max_bw(b, &rs); /* UpdateCongestionSignals() */
  if (b->loss_round_start) {
    tcpu_bbr_adapt_lower_bounds(b, cs);
    b->is_loss_in_round = 0;
  }
  tcpu_bbr_update_ack_aggregation(b, cs, &rs, now);
  check_full_bw_reached(b, &rs);
  check_startup_done(b, &rs);
  check_drain_done(b, cs, now);
  update_probe_bw_cycle_phase(b, cs, a, &rs, now);
  tcpu_bbr_update_min_rtt(b, &rs, now);
  check_probe_rtt(b, cs, &rs, now);
  tcpu_bbr_advance_latest_delivery_signals(b, &rs);
  tcpu_bbr_bound_bw_for_model(b);

  /* UpdateControlParameters() */
  set_pacing_rate_with_gain(b, cs, b->pacing_gain);
  tcpu_bbr_set_send_quantum(b, cs);
  set_cwnd(b, cs, &rs);
}

/* §5.6.4.4 OnEnterFastRecovery() and OnEnterRTO(). */
static void bbr_on_congestion(void *st, tcpu_cc_stat *cs, tcpu_cc_signal s,
                              tcpu_tstamp sent_ts, tcpu_tstamp now) {
  tcpu_bbr *b = st;
  (void)sent_ts;
  if (s == TCPU_CC_LOSS && !cs->in_recovery) {
    /* A tail loss probe repaired a loss: no recovery episode, but a
     * loss for the short-term model (§5.5.10.3 "TLP recovery"). */
    note_loss(b, cs, now);
    return;
  }
  save_state_upon_loss(b, cs);
  b->in_recovery = 1;
  if (s == TCPU_CC_RTO) {
    /* "a value that will allow 1 C.SMSS to be transmitted"; the core
     * forces the same loss window of RFC 5681 §3.1. */
    b->in_fast_recovery = b->packet_conservation = b->conserve_start = 0;
    note_loss(b, cs, now);
    cs->cwnd = cs->mss;
    return;
  }
  b->in_fast_recovery = 1;
  b->recovery_round = b->round_count;
  /* Startup still doubles its window each round: a round of packet
   * conservation per random loss would hold the search back (at 1% loss
   * nearly every Startup round has one); the first round without 25%
   * growth or CheckStartupHighLoss() ends Startup if the loss is real. */
  b->conserve_start = b->full_bw_reached;
  b->conserve_until_ts = now;
}

/* §5.6.4.4: back to the last known good cwnd; the ACK that ended
 * recovery bounds it by the model right after (on_ack). */
static void bbr_on_recovery_exit(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  tcpu_bbr *b = st;
  (void)now;
  b->in_recovery = b->in_fast_recovery = 0;
  b->packet_conservation = b->conserve_start = 0;
  restore_cwnd(b, cs);
}

/* §5.5.11.2 HandleSpuriousLossDetection(). */
static void bbr_on_spurious(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  tcpu_bbr *b = st;
  b->in_recovery = b->in_fast_recovery = 0;
  b->packet_conservation = b->conserve_start = 0;
  restore_cwnd(b, cs);
  b->is_loss_in_round = 0;
  reset_full_bw(b);
  b->bw_shortterm = max_u64(b->bw_shortterm, b->undo_bw_shortterm);
  b->inflight_shortterm =
      max_u64(b->inflight_shortterm, b->undo_inflight_shortterm);
  b->inflight_longterm =
      max_u64(b->inflight_longterm, b->undo_inflight_longterm);
  /* Return to the probing the loss ended. */
  if (b->undo_state == TCPU_BBR_STARTUP && b->state != TCPU_BBR_STARTUP) {
    b->full_bw_reached = 0;
    if (b->state != TCPU_BBR_PROBE_RTT)
      enter_startup(b);
  } else if (b->undo_state == TCPU_BBR_PROBE_BW_UP &&
             b->state != TCPU_BBR_PROBE_BW_UP &&
             b->state != TCPU_BBR_PROBE_RTT) {
    start_probe_bw_refill(b, now);
  }
  b->undo_state = TCPU_BBR_NONE;
}

static void bbr_on_sent(void *st, tcpu_cc_stat *cs, size_t bytes,
                        tcpu_tstamp now) {
  (void)bytes;
  tcpu_bbr_snap_on_send(st, cs->bytes_in_flight, now);
}

/* §5.4.1 HandleRestartFromIdle(): resume at bw, not a slow start. */
static void bbr_on_idle_restart(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  tcpu_bbr *b = st;
  b->idle_restart = 1;
  b->extra_acked_interval_start = now;
  if (in_probe_bw(b))
    set_pacing_rate_with_gain(b, cs, 1.0);
  else if (b->state == TCPU_BBR_PROBE_RTT)
    check_probe_rtt_done(b, cs, now);
}

const tcpu_cc_ops tcpu_cc_bbr = {
    .name = "bbr",
    .state_size = sizeof(tcpu_bbr),
    .init = bbr_init,
    .on_ack = bbr_on_ack,
    .on_congestion = bbr_on_congestion,
    .on_recovery_exit = bbr_on_recovery_exit,
    .on_spurious = bbr_on_spurious,
    .on_sent = bbr_on_sent,
    .on_idle_restart = bbr_on_idle_restart,
    .owns_recovery = 1,
};
