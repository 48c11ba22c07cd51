/*
 * rack.c — RACK-TLP loss detection (RFC 8985).
 *
 * RACK judges a segment lost when a segment sent after it has been
 * delivered and a reordering window has passed since (§6); the window
 * adapts to the reordering the path shows through D-SACK (§6.2).  TLP
 * sends a probe when the tail of a flight goes unacknowledged, so tail
 * losses are repaired by RACK instead of a retransmission timeout (§7).
 */
#include "core/endpoint.h"
#include "core/seq.h"

#define WC_DEL_ACK_T (200 * TCPU_NS_PER_MS) /* RFC 8985 §7.2 WCDelAckT */

void tcpu_rack_init(tcpu_conn *c) {
  c->rack = (tcpu_rack){0};
  c->rack.min_rtt = TCPU_TSTAMP_NONE;
  c->rack.reo_wnd_mult = 1;
}

/* RFC 8985 §6.2 step 2: is (t1, seq1) sent after (t2, seq2)? */
static int sent_after(tcpu_tstamp t1, uint32_t seq1, tcpu_tstamp t2,
                      uint32_t seq2) {
  return t1 > t2 || (t1 == t2 && seq_gt(seq1, seq2));
}

void tcpu_rack_on_delivered(tcpu_conn *c, const tcpu_txseg *s,
                            tcpu_tstamp now) {
  tcpu_rack *r = &c->rack;
  uint32_t end = s->seq + s->len;
  tcpu_duration rtt = now - s->xmit_ts;
  /* §6.2 step 1: a retransmitted segment delivered sooner than any RTT
   * seen was probably delivered by its original: do not let it vouch
   * for a send time. */
  if ((s->flags & TXSEG_EVER_RETRANS) && r->min_rtt != TCPU_TSTAMP_NONE &&
      rtt < r->min_rtt)
    return;
  r->rtt = rtt;
  if (rtt < r->min_rtt)
    r->min_rtt = rtt;
  if (sent_after(s->xmit_ts, end, r->xmit_ts, r->end_seq)) {
    r->xmit_ts = s->xmit_ts;
    r->end_seq = end;
  }
  /* §6.2 step 3: delivered below what was already delivered, without a
   * retransmission to explain it: the path reorders. */
  if (!(s->flags & TXSEG_EVER_RETRANS) && seq_lt(end, r->fack)) {
    if (!r->reordering_seen)
      c->reorder_events++;
    r->reordering_seen = 1;
  }
  if (seq_gt(end, r->fack))
    r->fack = end;
}

/* §6.2 step 4: one step of the multiplier per round trip with D-SACK. */
void tcpu_rack_on_dsack(tcpu_conn *c) {
  tcpu_rack *r = &c->rack;
  if (r->dsack_round_valid && seq_geq(c->snd_una, r->dsack_round))
    r->dsack_round_valid = 0;
  if (!r->dsack_round_valid) {
    r->dsack_round_valid = 1;
    r->dsack_round = c->snd_max;
    r->reo_wnd_mult++;
    r->reo_wnd_persist = 16;
  }
}

void tcpu_rack_on_recovery_exit(tcpu_conn *c) {
  tcpu_rack *r = &c->rack;
  if (r->reo_wnd_persist > 0 && --r->reo_wnd_persist == 0)
    r->reo_wnd_mult = 1;
}

static tcpu_duration reo_wnd(const tcpu_conn *c) {
  const tcpu_rack *r = &c->rack;
  /* Without reordering seen, once in recovery or with three segments'
   * worth SACKed (RFC 6675's DupThresh), RACK acts at once. */
  if (!r->reordering_seen &&
      (c->ca_state != TCPU_CA_OPEN ||
       c->rtxq.sacked >= 3 * tcpu_conn_payload_mss(c)))
    return 0;
  if (r->min_rtt == TCPU_TSTAMP_NONE)
    return 0;
  tcpu_duration w = r->min_rtt / 4 * r->reo_wnd_mult;
  return c->srtt && w > c->srtt ? c->srtt : w;
}

int tcpu_rack_detect_loss(tcpu_conn *c, tcpu_tstamp now) {
  tcpu_rack *r = &c->rack;
  tcpu_rtxq *q = &c->rtxq;
  if (r->xmit_ts == 0)
    return 0; /* nothing delivered yet */
  tcpu_duration wnd = reo_wnd(c);
  tcpu_tstamp timeout = 0;
  int marked = 0;
  for (uint32_t i = 0; i < q->n; i++) {
    tcpu_txseg *s = tcpu_rtxq_at(q, i);
    if (s->flags & TXSEG_SACKED)
      continue;
    if (!sent_after(r->xmit_ts, r->end_seq, s->xmit_ts, s->seq + s->len)) {
      /* Segments are in first-send order: once a never-retransmitted one
       * is newer than the delivered one, all later ones are too. */
      if (!(s->flags & TXSEG_EVER_RETRANS))
        break;
      continue;
    }
    if ((s->flags & TXSEG_LOST) && !(s->flags & TXSEG_RETRANS))
      continue; /* already waiting for its retransmission */
    tcpu_tstamp deadline = s->xmit_ts + r->rtt + wnd;
    if (deadline <= now) {
      tcpu_rtxq_set_lost(q, s);
      c->lost_segs++;
      marked = 1;
    } else if (deadline - now > timeout) {
      timeout = deadline - now;
    }
  }
  tcpu_timer_on_rack(c, timeout ? now + timeout : TCPU_TSTAMP_NONE);
  return marked;
}

/* RFC 8985 §7.2: PTO = 2*SRTT, plus the worst-case delayed ACK when only
 * one segment is in flight, and never beyond the RTO. */
tcpu_duration tcpu_rack_pto(const tcpu_conn *c) {
  if (!c->sack_ok || c->ca_state != TCPU_CA_OPEN || c->rtxq.n == 0 ||
      c->rack.tlp_outstanding || c->srtt == 0)
    return TCPU_TSTAMP_NONE;
  tcpu_duration pto = 2 * c->srtt;
  if (c->rtxq.n == 1)
    pto += WC_DEL_ACK_T;
  return pto;
}
