/*
 * bbr.h — BBR's state and the path-model helpers shared by bbr.c (state
 * machine, loss response, control parameters) and bbr_model.c (filters,
 * model parameters), after draft-ietf-ccwg-bbr-06 (BBRv3).  Not
 * installed: the library and its unit tests only.
 *
 * Units: bytes, bytes per second, nanoseconds.  TCPU_BBR_INF stands for
 * the draft's "Infinity" in volumes, rates and times.
 */
#ifndef TCPU_CC_BBR_H
#define TCPU_CC_BBR_H

#include <stdint.h>

#include "cc/cc.h"

#define TCPU_BBR_INF UINT64_MAX

/* §5.1.1: the state machine. */
typedef enum tcpu_bbr_state {
  TCPU_BBR_STARTUP = 0,
  TCPU_BBR_DRAIN,
  TCPU_BBR_PROBE_BW_DOWN,
  TCPU_BBR_PROBE_BW_CRUISE,
  TCPU_BBR_PROBE_BW_REFILL,
  TCPU_BBR_PROBE_BW_UP,
  TCPU_BBR_PROBE_RTT,
  TCPU_BBR_NONE /* undo_state: nothing to restore */
} tcpu_bbr_state;

/* §2.14: what the ACKs now arriving say about bandwidth probing. */
typedef enum tcpu_bbr_ack_phase {
  TCPU_BBR_ACKS_INIT = 0,
  TCPU_BBR_ACKS_REFILLING,
  TCPU_BBR_ACKS_PROBE_STARTING,
  TCPU_BBR_ACKS_PROBE_FEEDBACK,
  TCPU_BBR_ACKS_PROBE_STOPPING
} tcpu_bbr_ack_phase;

/* Windowed running maximum after Kathleen Nichols ([KN_FILTER] of
 * §5.5.5): the best sample of the window and of its later quarter and
 * half, so an expiring maximum hands over to the next best. */
typedef struct tcpu_bbr_minmax {
  struct {
    uint64_t t, v;
  } s[3];
} tcpu_bbr_minmax;

/* What the sender had in flight and had lost when it sent at ts: the
 * draft's P.tx_in_flight and P.lost (§4.1.2.1.2), which tcpu_cc_ack does
 * not carry, kept per slice of time instead of per packet. */
typedef struct tcpu_bbr_snap {
  tcpu_tstamp ts;
  uint64_t inflight, lost;
} tcpu_bbr_snap;

#define TCPU_BBR_SNAPS 64

/* The draft's per-ACK rate sample RS (§2.3), from tcpu_cc_ack plus what
 * BBR reconstructs itself. */
typedef struct tcpu_bbr_rs {
  uint64_t delivery_rate; /* 0: no sample */
  uint64_t delivered;     /* RS.delivered: over the sample's interval */
  uint64_t newly_acked, newly_lost;
  uint64_t tx_in_flight, lost; /* of the newest delivered packet */
  tcpu_duration rtt;           /* TCPU_TSTAMP_NONE: no sample */
  tcpu_tstamp sent_ts;         /* newest delivered packet; 0: none */
  unsigned is_app_limited : 1;
} tcpu_bbr_rs;

typedef struct tcpu_bbr {
  tcpu_bbr_state state, undo_state;
  double pacing_gain, cwnd_gain;
  uint64_t init_cwnd; /* C.InitialCwnd */
  uint64_t rng;       /* xorshift64* state for PickProbeWait() */

  /* §5.5.1 round counting.  The sentinel is the time of StartRound():
   * a round ends when a packet sent at or after it is delivered, which is
   * the draft's P.delivered >= BBR.next_round_delivered. */
  uint64_t round_count, rounds_since_probe_up;
  tcpu_tstamp next_round_ts;
  unsigned round_start : 1, idle_restart : 1;
  uint64_t drain_start_round;

  /* §5.5.2-§5.5.6: max_bw over this and the previous ProbeBW cycle. */
  uint64_t max_bw_slot[2];
  uint64_t cycle_count;
  uint64_t max_bw, bw, bw_shortterm, bw_latest;
  /* §2.9.2 volumes. */
  uint64_t bdp, max_inflight, inflight_longterm, inflight_shortterm;
  uint64_t inflight_latest;
  uint64_t send_quantum, offload_budget;

  /* §5.5.9 aggregation. */
  tcpu_bbr_minmax extra_acked_filter;
  uint64_t extra_acked, extra_acked_delivered;
  tcpu_tstamp extra_acked_interval_start;

  /* §5.5.10 loss rounds, timed like the rounds above. */
  tcpu_tstamp loss_round_ts;
  unsigned loss_round_start : 1, is_loss_in_round : 1;
  uint64_t lost_total;           /* C.lost, from tcpu_cc_ack.bytes_lost */
  uint32_t loss_events_in_round; /* §5.3.1.3 */
  /* Bytes lost and delivered in the current loss round: the round's loss
   * rate, which must exceed LossThresh for the short-term model to fall
   * (tcpu_bbr_adapt_lower_bounds). */
  uint64_t round_lost, round_delivered;
  uint64_t cs_lost_seen; /* cs->lost at the previous ACK */

  /* §5.3.1 full pipe. */
  uint64_t full_bw, full_bw_count;
  unsigned full_bw_now : 1, full_bw_reached : 1;

  /* §5.3.3 ProbeBW. */
  tcpu_bbr_ack_phase ack_phase;
  uint64_t bw_probe_up_acked, probe_up_acked_per_inc, bw_probe_up_rounds;
  tcpu_tstamp cycle_stamp;
  tcpu_duration bw_probe_wait;
  unsigned is_bw_probe_sample : 1, prev_probe_too_high : 1,
      prev_probe_precautionary : 1;

  /* §5.5.11 undo. */
  uint64_t undo_bw_shortterm, undo_inflight_shortterm, undo_inflight_longterm;

  /* §5.3.4 ProbeRTT and min_rtt. */
  tcpu_duration min_rtt, probe_rtt_min_delay; /* TCPU_BBR_INF: none */
  tcpu_tstamp min_rtt_stamp, probe_rtt_min_stamp, probe_rtt_done_stamp;
  unsigned probe_rtt_expired : 1, probe_rtt_round_done : 1;
  /* MarkConnectionAppLimited() of HandleProbeRTT(), which the core does
   * not offer to an algorithm: samples of packets sent from al_from
   * until C.delivered passes al_mark (then al_until) count as
   * application-limited. */
  tcpu_tstamp al_from, al_until;
  uint64_t al_mark;
  unsigned al_active : 1;

  /* §5.6.4.4 recovery. */
  uint64_t prior_cwnd;
  uint64_t recovery_round;       /* round_count when fast recovery began */
  tcpu_tstamp conserve_until_ts; /* packet conservation ends when a packet
                                    sent at or after this is delivered */
  unsigned in_recovery : 1, in_fast_recovery : 1, conserve_start : 1,
      packet_conservation : 1;

  tcpu_bbr_snap snap[TCPU_BBR_SNAPS];
  uint32_t snap_head, snap_n; /* newest at snap_head */
} tcpu_bbr;

/* ---- bbr_model.c */
void tcpu_bbr_minmax_reset(tcpu_bbr_minmax *m, uint64_t t, uint64_t v);
uint64_t tcpu_bbr_minmax_update(tcpu_bbr_minmax *m, uint64_t win, uint64_t t,
                                uint64_t v);

/* Records what is in flight after a send (on_sent). */
void tcpu_bbr_snap_on_send(tcpu_bbr *b, uint64_t inflight, tcpu_tstamp now);
/* The record covering a send at ts (the oldest if ts is older than all);
 * NULL before anything was sent. */
const tcpu_bbr_snap *tcpu_bbr_snap_find(const tcpu_bbr *b, tcpu_tstamp ts);

/* The draft's RS for one ACK (tcpu_cc_ack plus the send records);
 * adds the ACK's losses to b->lost_total. */
void tcpu_bbr_make_rs(tcpu_bbr *b, const tcpu_cc_stat *cs, const tcpu_cc_ack *a,
                      tcpu_tstamp now, tcpu_bbr_rs *rs);
/* §5.5.10.2 IsInflightTooHigh() and InflightAtLoss(). */
int tcpu_bbr_inflight_too_high(const tcpu_bbr_rs *rs);
uint64_t tcpu_bbr_inflight_at_loss(const tcpu_bbr_rs *rs, uint64_t size);

/* §5.5.5 UpdateMaxBw() (without its UpdateRound()), §5.5.6. */
void tcpu_bbr_update_max_bw(tcpu_bbr *b, const tcpu_bbr_rs *rs);
void tcpu_bbr_advance_max_bw_filter(tcpu_bbr *b);
/* §5.3.4.3 UpdateMinRTT(). */
void tcpu_bbr_update_min_rtt(tcpu_bbr *b, const tcpu_bbr_rs *rs,
                             tcpu_tstamp now);
/* §5.5.9 UpdateACKAggregation(). */
void tcpu_bbr_update_ack_aggregation(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                     const tcpu_bbr_rs *rs, tcpu_tstamp now);
/* §5.5.10.3: the latest delivery signals and the short-term model. */
void tcpu_bbr_update_latest_delivery_signals(tcpu_bbr *b, const tcpu_bbr_rs *rs,
                                             tcpu_tstamp now);
void tcpu_bbr_advance_latest_delivery_signals(tcpu_bbr *b,
                                              const tcpu_bbr_rs *rs);
void tcpu_bbr_reset_congestion_signals(tcpu_bbr *b);
void tcpu_bbr_reset_short_term_model(tcpu_bbr *b);
void tcpu_bbr_adapt_lower_bounds(tcpu_bbr *b, const tcpu_cc_stat *cs);
void tcpu_bbr_bound_bw_for_model(tcpu_bbr *b);

/* §5.6.4.2: volumes. */
uint64_t tcpu_bbr_bdp_multiple(tcpu_bbr *b, uint64_t bw, double gain);
uint64_t tcpu_bbr_quantization_budget(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                      uint64_t inflight_cap);
uint64_t tcpu_bbr_inflight(tcpu_bbr *b, const tcpu_cc_stat *cs, uint64_t bw,
                           double gain);
void tcpu_bbr_update_max_inflight(tcpu_bbr *b, const tcpu_cc_stat *cs);
/* §5.3.3.9 InflightWithHeadroom(); §5.3.3.8 TargetInflight(). */
uint64_t tcpu_bbr_inflight_with_headroom(const tcpu_bbr *b,
                                         const tcpu_cc_stat *cs);
uint64_t tcpu_bbr_target_inflight(const tcpu_bbr *b, const tcpu_cc_stat *cs);
/* §2.8 BBR.MinPipeCwnd. */
uint64_t tcpu_bbr_min_pipe_cwnd(const tcpu_cc_stat *cs);
/* §5.6.4.5 ProbeRTTCwnd(); §5.6.4.7 BoundCwndForModel(). */
uint64_t tcpu_bbr_probe_rtt_cwnd(tcpu_bbr *b, const tcpu_cc_stat *cs);
uint64_t tcpu_bbr_bound_cwnd_for_model(tcpu_bbr *b, const tcpu_cc_stat *cs,
                                       uint64_t cwnd);
/* §5.6.3 SetSendQuantum(). */
void tcpu_bbr_set_send_quantum(tcpu_bbr *b, const tcpu_cc_stat *cs);

#endif /* TCPU_CC_BBR_H */
