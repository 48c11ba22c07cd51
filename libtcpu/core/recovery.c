/*
 * recovery.c — what an acknowledgment means for the sender: cumulative
 * and selective acknowledgment, duplicate ACKs, entering and leaving
 * fast recovery (RFC 6675 with SACK, RFC 6582 NewReno without), Proportional
 * Rate Reduction during recovery (RFC 6937), the response to a
 * retransmission timeout, and the undo of spurious retransmissions
 * (RFC 3522 Eifel detection with timestamps, RFC 3708 with D-SACK).
 * Loss itself is judged by RACK (rack.c) when the peer SACKs.
 */
#include "cc/cc.h"
#include "core/endpoint.h"
#include "core/seq.h"

#define DUP_THRESH 3 /* RFC 5681 §3.2 */

uint32_t tcpu_conn_pipe(const tcpu_conn *c) {
  const tcpu_rtxq *q = &c->rtxq;
  uint64_t p = (uint64_t)(c->snd_max - c->snd_una) + q->retrans;
  uint64_t out = (uint64_t)q->sacked + q->lost;
  /* Without SACK each duplicate ACK stands for one segment that left
   * the network (RFC 6675's DupAck accounting, as Linux's reno_sack). */
  if (!c->sack_ok)
    out += (uint64_t)c->dupacks * tcpu_conn_payload_mss(c);
  return p > out ? (uint32_t)(p - out) : 0;
}

typedef struct delivered_arg {
  tcpu_conn *c;
  tcpu_ack_ctx *ctx;
  tcpu_tstamp now;
} delivered_arg;

static void on_acked(const tcpu_txseg *s, void *p) {
  delivered_arg *a = p;
  if (s->flags & TXSEG_EVER_RETRANS)
    a->ctx->acked_retrans = 1;
  if (s->flags & TXSEG_SACKED)
    return; /* counted when it was SACKed */
  a->ctx->delivered += s->len;
  tcpu_rack_on_delivered(a->c, s, a->now);
  tcpu_rate_on_delivered(a->c, s, a->ctx->rs, a->now);
  /* RFC 6298 §3 (Karn): only never-retransmitted segments time the RTT. */
  if (!(s->flags & TXSEG_EVER_RETRANS) &&
      (!a->ctx->have_rtt || s->xmit_ts > a->ctx->rtt_xmit)) {
    a->ctx->have_rtt = 1;
    a->ctx->rtt_xmit = s->xmit_ts;
  }
}

static void drop_acked_data(tcpu_conn *c, uint32_t ack) {
  uint32_t data_end = c->snd_buf_seq + (uint32_t)c->sndq.len;
  uint32_t upto = seq_min(ack, data_end);
  if (!seq_gt(upto, c->snd_buf_seq))
    return;
  uint32_t n = upto - c->snd_buf_seq;
  tcpu_ring_drop(&c->sndq, n);
  c->snd_buf_seq = upto;
  c->bytes_acked += n;
  if (c->want_writable && tcpu_ring_space(&c->sndq) > 0) {
    c->want_writable = 0;
    tcpu_conn_add_event(c, TCPU_EV_WRITABLE);
  }
}

/* RFC 5681 §2 DUPLICATE ACKNOWLEDGMENT. */
static int is_dupack(const tcpu_conn *c, const tcpu_seg *s) {
  return s->ack == c->snd_una && s->len == 0 &&
         !(s->flags & (TH_SYN | TH_FIN)) &&
         ((uint32_t)s->wnd << c->snd_wscale) == c->snd_wnd &&
         c->snd_max != c->snd_una;
}

static void save_undo(tcpu_conn *c) {
  c->prior_cwnd = c->cwnd;
  c->prior_ssthresh = c->ssthresh;
  c->undo_valid = 1;
  c->undo_ts = 0;
  c->undo_retrans = 0;
}

static void enter_recovery(tcpu_conn *c, tcpu_tstamp now) {
  c->fast_recoveries++;
  save_undo(c);
  c->recovery_start = now;
  c->ca_state = TCPU_CA_RECOVERY;
  tcpu_cc_event_congestion(c, TCPU_CC_LOSS, c->rack.xmit_ts, now);
  c->recovery_point = c->snd_max;
  /* RFC 6937 §3: RecoverFS = snd.nxt - snd.una at the start. */
  c->recover_fs = c->snd_max - c->snd_una;
  c->prr_delivered = 0;
  c->prr_out = 0;
}

static void exit_recovery(tcpu_conn *c, tcpu_tstamp now) {
  /* RFC 6937 §3 / RFC 6675 §5: fast recovery ends at ssthresh. */
  if (c->ca_state == TCPU_CA_RECOVERY && !tcpu_cc_owns_recovery(c) &&
      c->ssthresh != UINT32_MAX)
    c->cwnd = c->ssthresh;
  c->ca_state = TCPU_CA_OPEN;
  c->recovery_start = 0;
  tcpu_cc_event_recovery_exit(c, now);
  tcpu_rack_on_recovery_exit(c);
  c->undo_valid = 0;
  c->dupacks = 0;
}

/* RFC 6937 §3, PRR with the slow-start reduction bound (PRR-SSRB).  The
 * result is expressed as cwnd = pipe + sndcnt, so output needs no
 * special case. */
static void prr_on_ack(tcpu_conn *c, uint32_t delivered) {
  uint32_t mss = tcpu_conn_payload_mss(c);
  c->prr_delivered += delivered;
  uint32_t pipe = tcpu_conn_pipe(c);
  int64_t sndcnt;
  if (pipe > c->ssthresh) {
    uint64_t fs = c->recover_fs ? c->recover_fs : 1;
    sndcnt = (int64_t)(((uint64_t)c->prr_delivered * c->ssthresh + fs - 1) /
                       fs) -
             c->prr_out;
  } else {
    int64_t limit = (int64_t)c->prr_delivered - c->prr_out;
    if (limit < (int64_t)delivered)
      limit = delivered;
    limit += mss;
    sndcnt = (int64_t)c->ssthresh - pipe;
    if (sndcnt > limit)
      sndcnt = limit;
  }
  if (sndcnt < 0)
    sndcnt = 0;
  /* The fast retransmit itself always goes out (Linux does the same). */
  if (c->prr_out == 0 && sndcnt < mss)
    sndcnt = mss;
  c->cwnd = pipe + (uint32_t)sndcnt;
}

static void undo(tcpu_conn *c, tcpu_tstamp now) {
  if (c->cwnd < c->prior_cwnd)
    c->cwnd = c->prior_cwnd;
  if (c->ssthresh < c->prior_ssthresh)
    c->ssthresh = c->prior_ssthresh;
  tcpu_rtxq_clear_lost(&c->rtxq);
  c->ca_state = TCPU_CA_OPEN;
  c->undo_valid = 0;
  c->dupacks = 0;
  c->spurious_undos++;
  c->recovery_start = 0;
  /* What looked like loss was reordering. */
  c->rack.reordering_seen = 1;
  tcpu_cc_event_spurious(c, now);
}

static void maybe_undo(tcpu_conn *c, const tcpu_seg *s,
                       const tcpu_ack_ctx *ctx, tcpu_tstamp now) {
  if (!c->undo_valid || c->ca_state == TCPU_CA_OPEN || c->undo_retrans == 0)
    return;
  /* RFC 3522 §3.2: the first ACK for the retransmitted data (not an
   * earlier partial ACK) echoes a timestamp older than the
   * retransmission, so the original arrived. */
  if (c->ts_ok && s->opt.has_ts && c->undo_ts != 0 && ctx->acked > 0 &&
      seq_geq(s->ack, c->undo_end) && seq_lt(s->opt.ts_ecr, c->undo_ts)) {
    undo(c, now);
    return;
  }
  /* RFC 3708 §3: every retransmission of the episode came back as a
   * duplicate. */
  if (ctx->dsack_on_retrans && --c->undo_retrans == 0)
    undo(c, now);
}

/* RFC 8985 §7.4: what the ACK says of an outstanding loss probe. */
static void tlp_on_ack(tcpu_conn *c, const tcpu_ack_ctx *ctx,
                       tcpu_tstamp now) {
  tcpu_rack *r = &c->rack;
  if (!r->tlp_outstanding)
    return;
  if (r->tlp_is_retrans && ctx->dsack &&
      seq_leq(ctx->dsack_end, r->tlp_end_seq)) {
    r->tlp_outstanding = 0; /* the original arrived: no loss */
    return;
  }
  if (seq_geq(c->snd_una, r->tlp_end_seq)) {
    r->tlp_outstanding = 0;
    /* The probe repaired a real loss: respond as to any loss, but
     * without a recovery episode. */
    if (r->tlp_is_retrans && !ctx->dsack && c->ca_state == TCPU_CA_OPEN) {
      tcpu_cc_event_congestion(c, TCPU_CC_LOSS, c->rack.xmit_ts, now);
      if (!tcpu_cc_owns_recovery(c) && c->cwnd > c->ssthresh)
        c->cwnd = c->ssthresh;
    }
  }
}

/* RFC 6582 §3.2 without SACK: three duplicate ACKs start fast
 * retransmit, unless they belong to the window already recovered;
 * during recovery a partial ACK retransmits the next hole. */
static int newreno_detect(tcpu_conn *c, int advanced) {
  tcpu_rtxq *q = &c->rtxq;
  if (q->n == 0)
    return 0;
  tcpu_txseg *first = tcpu_rtxq_at(q, 0);
  if (c->ca_state == TCPU_CA_OPEN && c->dupacks == DUP_THRESH &&
      seq_geq(c->snd_una, c->recovery_point)) {
    tcpu_rtxq_set_lost(q, first);
    c->lost_segs++;
  } else if (c->ca_state == TCPU_CA_RECOVERY && advanced &&
             seq_lt(c->snd_una, c->recovery_point) &&
             !(first->flags & TXSEG_LOST)) {
    tcpu_rtxq_set_lost(q, first);
    c->lost_segs++;
    return 1;
  }
  return 0;
}

/* RFC 6298 §3 (Karn) and RFC 7323 §4.  A cumulative ACK that also covers
 * a retransmitted segment says nothing reliable about the others it
 * covers: they may have waited behind the hole for the whole recovery.
 * Then only the timestamp echo measures the round trip (Linux does the
 * same, FLAG_RETRANS_DATA_ACKED). */
static void rtt_sample(tcpu_conn *c, const tcpu_seg *s,
                       const tcpu_ack_ctx *ctx, int advanced,
                       tcpu_tstamp now) {
  if (ctx->syn_sampled)
    return; /* RFC 6298 (2.2): one measurement, not two, of the same trip */
  if (ctx->have_rtt && !ctx->acked_retrans) {
    tcpu_rtt_sample(c, now - ctx->rtt_xmit);
  } else if (advanced && c->ts_ok && s->opt.has_ts && s->opt.ts_ecr != 0) {
    uint32_t ms = tcpu_conn_ts_now(c, now) - s->opt.ts_ecr;
    if (ms < 0x7fffffffu)
      tcpu_rtt_sample(c, (tcpu_duration)ms * TCPU_NS_PER_MS +
                             TCPU_NS_PER_MS / 2);
  }
}

/* RFC 7661 §4.3 in Linux's form: the window limited the sender if it was
 * (nearly) full, or at least half used in slow start. */
static int cwnd_limited(const tcpu_conn *c, uint32_t prior_pipe) {
  uint32_t mss = tcpu_conn_payload_mss(c);
  if (c->cwnd < c->ssthresh)
    return (uint64_t)prior_pipe * 2 >= c->cwnd;
  return (uint64_t)prior_pipe + mss >= c->cwnd;
}

void tcpu_recovery_on_ack(tcpu_conn *c, const tcpu_seg *s, tcpu_tstamp now) {
  tcpu_rate_sample rs = {0};
  tcpu_ack_ctx ctx = {0};
  ctx.rs = &rs;
  uint32_t prior_una = c->snd_una;
  uint32_t prior_pipe = tcpu_conn_pipe(c);
  uint64_t prior_lost = c->rtxq.lost_total;
  uint64_t prior_round = c->round;
  int advanced = seq_gt(s->ack, prior_una);
  if (advanced) {
    delivered_arg arg = {c, &ctx, now};
    tcpu_rtxq_ack(&c->rtxq, s->ack, on_acked, &arg);
    ctx.acked = s->ack - prior_una;
    if (prior_una == c->iss)
      ctx.acked--; /* the SYN is no data */
    if (c->rtt_timing && seq_gt(s->ack, c->rtt_seq)) {
      /* The SYN or SYN-ACK, timed when it was not retransmitted. */
      c->rtt_timing = 0;
      tcpu_rtt_sample(c, now - c->rtt_time);
      ctx.syn_sampled = 1;
    }
    drop_acked_data(c, s->ack);
    c->snd_una = s->ack;
    if (seq_lt(c->snd_nxt, c->snd_una))
      c->snd_nxt = c->snd_una;
    c->rtx_count = 0; /* progress: the retry limit counts afresh */
    c->dupacks = 0;
  }
  int sacked = 0;
  if (c->sack_ok && s->opt.nsack > 0) {
    uint64_t before = ctx.delivered;
    tcpu_sack_input(c, s, &ctx, now);
    sacked = ctx.delivered > before;
  } else if (!advanced && is_dupack(c, s)) {
    c->dupacks++;
    if (!c->sack_ok) /* RFC 6937 §3: a duplicate ACK delivered a segment */
      ctx.delivered += tcpu_conn_payload_mss(c);
  }
  rtt_sample(c, s, &ctx, advanced, now);
  maybe_undo(c, s, &ctx, now);
  tlp_on_ack(c, &ctx, now);

  int partial_ack_hole = 0;
  if (c->sack_ok)
    tcpu_rack_detect_loss(c, now);
  else
    partial_ack_hole = newreno_detect(c, advanced);

  int exited = 0;
  if (c->ca_state != TCPU_CA_OPEN && advanced &&
      seq_geq(c->snd_una, c->recovery_point)) {
    exit_recovery(c, now);
    exited = 1;
  }
  if (c->ca_state == TCPU_CA_OPEN && c->rtxq.lost > 0)
    enter_recovery(c, now);

  if (ctx.acked + ctx.delivered > 0) {
    tcpu_cc_ack a = {0};
    a.bytes_acked = ctx.acked;
    a.bytes_delivered = ctx.delivered;
    a.bytes_lost = c->rtxq.lost_total - prior_lost;
    a.prior_in_flight = prior_pipe;
    /* The same sample the RTO takes, or none (see rtt_sample). */
    a.rtt = ctx.have_rtt && !ctx.acked_retrans ? now - ctx.rtt_xmit
                                               : TCPU_TSTAMP_NONE;
    /* RFC 6582 §3.2 step 6: the ACK that ends recovery sets the window;
     * it does not also grow it. */
    a.is_cwnd_limited = !exited && cwnd_limited(c, prior_pipe);
    tcpu_rate_finish(c, &rs, &a);
    if (a.delivery_rate)
      c->last_delivery_rate = a.delivery_rate;
    tcpu_cc_event_ack(c, &a, now);
    if (c->round != prior_round)
      tcpu_cc_event_round(c);
  }
  if (c->ca_state == TCPU_CA_RECOVERY && !tcpu_cc_owns_recovery(c))
    prr_on_ack(c, ctx.delivered);
  /* RFC 6582 §3.2 step 5: a partial ACK retransmits the next hole at
   * once, whatever PRR's budget. */
  if (partial_ack_hole) {
    uint32_t need = tcpu_conn_pipe(c) + tcpu_conn_payload_mss(c);
    if (c->cwnd < need)
      c->cwnd = need;
  }

  tcpu_timer_on_ack(c, advanced || sacked, now);
  tcpu_conn_want_output(c);
}

/* RACK's reordering timer fired (RFC 8985 §6.3). */
void tcpu_recovery_on_rack_timer(tcpu_conn *c, tcpu_tstamp now) {
  if (!tcpu_rack_detect_loss(c, now))
    return;
  if (c->ca_state == TCPU_CA_OPEN)
    enter_recovery(c, now);
  if (c->ca_state == TCPU_CA_RECOVERY && !tcpu_cc_owns_recovery(c))
    prr_on_ack(c, 0);
  tcpu_conn_want_output(c);
}

/* RFC 6298 (5.4)-(5.6) and RFC 5681 §3.1: after a timeout everything not
 * SACKed is presumed lost (RFC 6675 §5.1, RFC 8985 §6.3) and resent from
 * a one-segment window. */
void tcpu_recovery_on_rto(tcpu_conn *c, tcpu_tstamp now) {
  if (c->ca_state == TCPU_CA_OPEN)
    save_undo(c);
  /* A repeated timeout of the same episode leaves ssthresh alone (RFC
   * 5681 §3.1 counts FlightSize before the first one, as Linux does). */
  if (c->ca_state != TCPU_CA_LOSS) {
    tcpu_rtxq *q0 = &c->rtxq;
    c->ca_state = TCPU_CA_LOSS;
    c->recovery_start = now;
    tcpu_cc_event_congestion(c, TCPU_CC_RTO,
                       q0->n ? tcpu_rtxq_at(q0, 0)->xmit_ts : now, now);
  }
  /* RFC 5681 §3.1: the loss window is one segment, whatever the
   * algorithm; and the retransmission goes now, not when a pacing rate
   * from before the timeout allows. */
  c->cwnd = tcpu_conn_payload_mss(c);
  c->next_send_ts = 0;
  c->recovery_point = c->snd_max;
  c->dupacks = 0;
  c->rack.tlp_outstanding = 0;
  tcpu_rtxq *q = &c->rtxq;
  for (uint32_t i = 0; i < q->n; i++) {
    tcpu_txseg *t = tcpu_rtxq_at(q, i);
    if (!(t->flags & TXSEG_SACKED) &&
        !((t->flags & TXSEG_LOST) && !(t->flags & TXSEG_RETRANS))) {
      tcpu_rtxq_set_lost(q, t);
      c->lost_segs++;
    }
  }
}

void tcpu_recovery_on_send(tcpu_conn *c, uint32_t seq, uint32_t len, int rtx,
                           tcpu_tstamp now) {
  if (c->ca_state == TCPU_CA_RECOVERY)
    c->prr_out += len;
  if (rtx && c->undo_valid) {
    c->undo_retrans++;
    if (c->undo_ts == 0 && c->ts_ok) {
      c->undo_ts = tcpu_conn_ts_now(c, now);
      c->undo_end = seq + len;
    }
  }
}
