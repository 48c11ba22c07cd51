/*
 * conn_out.c — what a connection sends next: SYN and SYN-ACK with their
 * options, data under the send, receive and congestion windows with
 * Nagle (RFC 896, RFC 9293 §3.7.4) and sender-side silly-window
 * avoidance (RFC 9293 §3.8.6.2.1), FIN, zero-window probes, and ACKs with
 * receiver-side silly-window avoidance (RFC 9293 §3.8.6.2.2).
 */
#include <string.h>

#include "cc/cc.h"
#include "core/endpoint.h"
#include "core/seq.h"

#define TS_OPT_LEN 12 /* NOP, NOP, kind 8, length 10 */

uint32_t tcpu_conn_payload_mss(const tcpu_conn *c) {
  uint32_t mss = c->peer_mss < c->adv_mss ? c->peer_mss : c->adv_mss;
  if (c->ts_ok)
    mss -= TS_OPT_LEN;
  return mss;
}

uint32_t tcpu_conn_ts_now(const tcpu_conn *c, tcpu_tstamp now) {
  return (uint32_t)(now / TCPU_NS_PER_MS) + c->ts_offset;
}

uint32_t tcpu_conn_rcv_window(const tcpu_conn *c) {
  return (uint32_t)tcpu_ring_space(&c->rcvq);
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* The window field for a non-SYN segment; moves RCV.ADV. */
static uint16_t advertise(tcpu_conn *c) {
  uint32_t space = tcpu_conn_rcv_window(c);
  uint32_t cur = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
  uint32_t wnd = space;
  /* RFC 9293 §3.8.6.2.2: move the right edge only by at least
   * min(buffer/2, MSS), so the peer never sees dribbles of window. */
  uint32_t step = min_u32((uint32_t)c->rcvq.cap / 2, c->adv_mss);
  if (wnd > cur && wnd - cur < step)
    wnd = cur;
  uint32_t field = wnd >> c->rcv_wscale;
  if (field > 65535)
    field = 65535;
  uint32_t edge = c->rcv_nxt + (field << c->rcv_wscale);
  /* RFC 9293 §3.8.6: never shrink the window we offered, unless the
   * buffer itself is gone. */
  if (seq_gt(edge, c->rcv_adv) || space < cur)
    c->rcv_adv = edge;
  return (uint16_t)field;
}

void tcpu_conn_on_read(tcpu_conn *c) {
  if (c->state < TCPU_ESTABLISHED || c->fin_rcvd)
    return;
  uint32_t cur = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
  /* What the window field can express at most, not the buffer. */
  uint32_t space = min_u32(tcpu_conn_rcv_window(c),
                           (uint32_t)65535 << c->rcv_wscale);
  uint32_t step = min_u32((uint32_t)c->rcvq.cap / 2, c->adv_mss);
  /* A window update is worth a segment once the offered window can grow
   * by two segments, or reopen from (nearly) closed by the SWS step. */
  if (space >= cur + 2 * c->adv_mss || (cur < step && space >= cur + step)) {
    c->ack_now = 1;
    tcpu_conn_want_output(c);
  }
}

static void base_seg(tcpu_conn *c, tcpu_seg *s, tcpu_tstamp now) {
  memset(s, 0, sizeof *s);
  s->sport = c->lport;
  s->dport = c->rport;
  if (c->ts_ok) {
    s->opt.has_ts = 1;
    s->opt.ts_val = tcpu_conn_ts_now(c, now);
    s->opt.ts_ecr = c->ts_recent;
  }
  /* RFC 2018 §4: every ACK carries SACK blocks while data is held out of
   * order; RFC 2883: a pending D-SACK block goes first.  Three blocks fit
   * beside timestamps, four without. */
  if (c->sack_ok && c->state >= TCPU_ESTABLISHED &&
      (!tcpu_rob_empty(&c->rob) || tcpu_rob_dsack_pending(&c->rob)))
    s->opt.nsack = (uint8_t)tcpu_rob_sack_blocks(&c->rob, c->rcv_nxt,
                                                 s->opt.sack,
                                                 c->ts_ok ? 3 : 4);
}

static tcpu_ssize emit(tcpu_conn *c, const tcpu_seg *s, uint8_t *buf,
                       size_t buflen) {
  tcpu_ssize n = tcpu_seg_encode_csum(s, buf, buflen,
                                      tcpu_endpoint_wants_checksum(c->ep));
  if (n > 0) {
    c->segs_out++;
    if (s->flags & TH_ACK) {
      c->last_ack_sent = s->ack;
      c->ack_now = 0;
      c->rcv_bytes_unacked = 0;
      tcpu_timer_on_ack_sent(c);
    }
  }
  return n;
}

/* SYN (active open) or SYN,ACK (passive or simultaneous open). */
static tcpu_ssize send_syn(tcpu_conn *c, uint8_t *buf, size_t buflen,
                           tcpu_tstamp now) {
  tcpu_seg s;
  base_seg(c, &s, now);
  s.seq = c->iss;
  s.flags = TH_SYN;
  if (c->state != TCPU_SYN_SENT) {
    s.flags |= TH_ACK;
    s.ack = c->rcv_nxt;
  } else {
    s.opt.ts_ecr = 0;
  }
  /* RFC 7323 §2.2: the window of a SYN is never scaled. */
  s.wnd = (uint16_t)min_u32(tcpu_conn_rcv_window(c), 65535);
  if (c->state != TCPU_SYN_SENT)
    c->rcv_adv = c->rcv_nxt + s.wnd;
  s.opt.has_mss = 1;
  s.opt.mss = c->adv_mss;
  if (c->ws_ok) {
    s.opt.has_wscale = 1;
    s.opt.wscale = c->rcv_wscale;
  }
  s.opt.sack_permitted = c->sack_ok;
  /* Karn (RFC 6298 §3): time only the first transmission, whatever made
   * us send it again (a timeout, or the peer's repeated SYN). */
  if (c->syn_xmits++ == 0) {
    c->rtt_timing = 1;
    c->rtt_seq = c->iss;
    c->rtt_time = now;
  } else {
    c->rtt_timing = 0;
    c->retransmits++;
  }
  tcpu_ssize n = emit(c, &s, buf, buflen);
  if (n > 0) {
    c->syn_sent_flag = 1;
    if (seq_lt(c->snd_nxt, c->iss + 1))
      c->snd_nxt = c->iss + 1;
    if (seq_lt(c->snd_max, c->snd_nxt))
      c->snd_max = c->snd_nxt;
    tcpu_timer_on_send(c, 0, now);
  }
  return n;
}

/* A pure ACK carries SND.MAX, as BSD does: after a timeout SND.NXT falls
 * back, and an ACK from there would look like old news to the peer. */
static tcpu_ssize send_ack(tcpu_conn *c, uint32_t seq, uint8_t *buf,
                           size_t buflen, tcpu_tstamp now) {
  tcpu_seg s;
  base_seg(c, &s, now);
  s.seq = seq;
  s.ack = c->rcv_nxt;
  s.flags = TH_ACK;
  s.wnd = advertise(c);
  return emit(c, &s, buf, buflen);
}

static int fin_pending(const tcpu_conn *c) {
  return c->fin_queued &&
         (c->state == TCPU_FIN_WAIT_1 || c->state == TCPU_CLOSING ||
          c->state == TCPU_LAST_ACK);
}

static int may_send_data(tcpu_state s) {
  return s == TCPU_ESTABLISHED || s == TCPU_CLOSE_WAIT ||
         s == TCPU_FIN_WAIT_1 || s == TCPU_CLOSING || s == TCPU_LAST_ACK;
}

/* Encodes a data/FIN segment for [seq, seq+len) (+FIN) from the send
 * ring. */
static tcpu_ssize send_range(tcpu_conn *c, uint32_t seq, uint32_t len,
                             int fin, uint8_t *buf, size_t buflen,
                             tcpu_tstamp now) {
  uint32_t data_end = c->snd_buf_seq + (uint32_t)c->sndq.len;
  tcpu_seg s;
  base_seg(c, &s, now);
  s.seq = seq;
  s.ack = c->rcv_nxt;
  s.flags = TH_ACK;
  if (fin)
    s.flags |= TH_FIN;
  if (len > 0 && seq + len == data_end)
    s.flags |= TH_PSH;
  s.wnd = advertise(c);
  /* The MSS leaves room for the timestamp option only (RFC 9293 §3.7.1):
   * SACK blocks on a full segment would overflow the datagram, so the
   * oldest blocks stay for the next pure ACK (RFC 2018 §4 repeats them;
   * the first, D-SACK or newest, is kept longest). */
  size_t room = tcpu_endpoint_seg_room(c->ep);
  size_t hl = tcpu_seg_hdr_len(&s);
  while (hl + len > room && s.opt.nsack > 0) {
    s.opt.nsack--;
    hl = tcpu_seg_hdr_len(&s);
  }
  if (hl + len > buflen)
    return TCPU_ERR_NOBUF;
  /* Sealed mode: the AEAD reads the payload where it lies and writes the
   * datagram, so the copy below would be a second pass over every byte. */
  uint8_t *span = c->ep->peers.sealed != NULL && len > 0
                      ? tcpu_ring_span(&c->sndq, seq - c->snd_buf_seq, len)
                      : NULL;
  if (span != NULL && (size_t)(span - c->sndq.buf) >= hl) {
    s.data = span;
    s.len = len;
    tcpu_ssize n = emit(c, &s, tcpu_endpoint_splice(c->ep, span, hl), hl + len);
    if (n <= 0)
      tcpu_endpoint_unsplice(c->ep);
    return n;
  }
  tcpu_ring_peek(&c->sndq, seq - c->snd_buf_seq, buf + hl, len);
  s.data = buf + hl;
  s.len = len;
  return emit(c, &s, buf, buflen);
}

/* Bookkeeping common to every data segment sent. */
static void after_send(tcpu_conn *c, size_t bytes, int new_data,
                       tcpu_tstamp now) {
  c->last_send_ts = now;
  tcpu_pacer_on_send(c, bytes, now);
  tcpu_cc_event_sent(c, bytes, now);
  tcpu_timer_on_send(c, new_data, now);
}

/* Resends one record: a lost one, or the tail as a loss probe. */
static tcpu_ssize resend(tcpu_conn *c, tcpu_txseg *t, uint8_t *buf,
                         size_t buflen, tcpu_tstamp now) {
  int fin = (t->flags & TXSEG_FIN) != 0;
  uint32_t len = t->len - (fin ? 1u : 0u);
  tcpu_ssize n = send_range(c, t->seq, len, fin, buf, buflen, now);
  if (n <= 0)
    return n;
  tcpu_rtxq_set_retransmitted(&c->rtxq, t, now);
  tcpu_rate_on_send(c, t, 0, now);
  c->retransmits++;
  c->bytes_retrans += len;
  tcpu_recovery_on_send(c, t->seq, t->len, 1, now);
  after_send(c, (size_t)n, 0, now);
  return n;
}

static tcpu_txseg *first_to_resend(const tcpu_conn *c) {
  const tcpu_rtxq *q = &c->rtxq;
  if (q->lost == q->retrans)
    return NULL;
  for (uint32_t i = 0; i < q->n; i++) {
    tcpu_txseg *t = tcpu_rtxq_at(q, i);
    if ((t->flags & TXSEG_LOST) && !(t->flags & TXSEG_RETRANS))
      return t;
  }
  return NULL;
}

/* New data (and/or FIN) at SND.NXT, within the peer's window and
 * `allowed` bytes of congestion window, if Nagle and SWS avoidance agree.
 * probe: a tail loss probe, which may ignore the congestion window. */
static tcpu_ssize send_new(tcpu_conn *c, uint32_t allowed, int probe,
                           uint8_t *buf, size_t buflen, tcpu_tstamp now) {
  uint32_t data_end = c->snd_buf_seq + (uint32_t)c->sndq.len;
  uint32_t avail = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
  int fin_left = fin_pending(c) && !c->fin_sent;
  if (avail == 0 && !fin_left)
    return 0;
  uint32_t mss = tcpu_conn_payload_mss(c);
  uint32_t edge = c->snd_una + c->snd_wnd;
  uint32_t usable = seq_gt(edge, c->snd_nxt) ? edge - c->snd_nxt : 0;
  if (!probe && allowed < usable)
    usable = allowed;
  uint32_t len = min_u32(min_u32(avail, mss), usable);
  uint32_t in_flight = c->snd_max - c->snd_una;
  if (len < avail || (avail > 0 && usable == 0)) {
    /* Window-limited.  With nothing in flight and a closed peer window,
     * only the persist timer's probe can learn when it opens. */
    if (c->snd_wnd == 0 && in_flight == 0)
      tcpu_timer_on_window(c, now);
    if (len == 0)
      return 0;
    /* RFC 9293 §3.8.6.2.1: no small segment while an ACK is coming
     * that may open the window further, unless it is half the largest
     * window the peer ever offered. */
    if (len < mss && in_flight > 0 && len < c->max_snd_wnd / 2)
      return 0;
  } else if (len < mss && len > 0 && !c->nodelay &&
             seq_gt(c->snd_sml, c->snd_una) && !fin_left) {
    /* Nagle (RFC 896; RFC 9293 §3.7.4) in Minshall's form, as Linux: hold
     * a small segment only while an earlier small one is unacknowledged,
     * so a request that ends in a short segment is not delayed behind
     * full-sized ones. */
    return 0;
  }
  int fin = fin_left && c->snd_nxt + len == data_end;
  if (len == 0 && !fin)
    return 0;
  uint32_t seqlen = len + (fin ? 1u : 0u);
  int was_idle = c->rtxq.n == 0;
  /* RFC 5681 §4.1: after an idle period longer than the RTO the window
   * the algorithm allowed is stale. */
  if (was_idle && c->last_send_ts != 0 && now - c->last_send_ts > c->rto)
    tcpu_cc_event_idle_restart(c, now);
  if (tcpu_rtxq_push(&c->rtxq, c->snd_nxt, seqlen, fin ? TXSEG_FIN : 0,
                     now) != 0)
    return 0; /* out of memory: try again later */
  tcpu_ssize n = send_range(c, c->snd_nxt, len, fin, buf, buflen, now);
  if (n <= 0) {
    tcpu_rtxq_drop_last(&c->rtxq);
    return n;
  }
  c->bytes_sent += len;
  if (len < mss)
    c->snd_sml = c->snd_nxt + len;
  c->snd_nxt += seqlen;
  c->snd_max = c->snd_nxt;
  if (fin)
    c->fin_sent = 1;
  tcpu_rate_on_send(c, tcpu_rtxq_at(&c->rtxq, c->rtxq.n - 1), was_idle, now);
  tcpu_recovery_on_send(c, c->snd_nxt - seqlen, seqlen, 0, now);
  tcpu_rate_check_app_limited(c);
  after_send(c, (size_t)n, 1, now);
  return n;
}

/* RFC 8985 §7.3: the probe is new data if the peer's window allows,
 * else the last segment again. */
static tcpu_ssize send_probe(tcpu_conn *c, uint8_t *buf, size_t buflen,
                             tcpu_tstamp now) {
  tcpu_rack *r = &c->rack;
  r->tlp_due = 0;
  tcpu_ssize n = send_new(c, 0, 1, buf, buflen, now);
  r->tlp_is_retrans = 0;
  if (n == 0 && c->rtxq.n > 0) {
    tcpu_txseg *last = tcpu_rtxq_at(&c->rtxq, c->rtxq.n - 1);
    if (last->flags & TXSEG_SACKED)
      return 0;
    n = resend(c, last, buf, buflen, now);
    r->tlp_is_retrans = 1;
  }
  if (n > 0) {
    r->tlp_outstanding = 1;
    r->tlp_end_seq = c->snd_max;
    c->tlp_probes++;
    tcpu_timer_on_probe_sent(c, now);
  }
  return n;
}

static tcpu_ssize send_data(tcpu_conn *c, uint8_t *buf, size_t buflen,
                            tcpu_tstamp now) {
  if (!tcpu_pacer_ready(c, now)) {
    tcpu_timer_on_paced(c, c->next_send_ts);
    return 0;
  }
  uint32_t pipe = tcpu_conn_pipe(c);
  uint32_t allowed = c->cwnd > pipe ? c->cwnd - pipe : 0;
  /* RFC 6675 §5 (NextSeg rule 1): holes judged lost go first. */
  tcpu_txseg *t = first_to_resend(c);
  if (t != NULL) {
    if (allowed < t->len && !(pipe == 0 && allowed > 0))
      return 0;
    return resend(c, t, buf, buflen, now);
  }
  if (c->rack.tlp_due)
    return send_probe(c, buf, buflen, now);
  return send_new(c, allowed, 0, buf, buflen, now);
}

tcpu_ssize tcpu_conn_output(tcpu_conn *c, uint8_t *buf, size_t buflen,
                            tcpu_tstamp now) {
  switch (c->state) {
  case TCPU_CLOSED:
  case TCPU_LISTEN:
    return 0;
  case TCPU_SYN_SENT:
    return c->syn_sent_flag ? 0 : send_syn(c, buf, buflen, now);
  case TCPU_SYN_RCVD:
    if (!c->syn_sent_flag)
      return send_syn(c, buf, buflen, now);
    return c->ack_now ? send_ack(c, c->snd_max, buf, buflen, now) : 0;
  default:
    /* Closed in SYN-RECEIVED (RFC 9293 §3.10.4): FIN-WAIT-1 with our
     * SYN still unacknowledged, which goes first. */
    if (c->snd_una == c->iss && !c->syn_sent_flag)
      return send_syn(c, buf, buflen, now);
    break;
  }
  if (c->ack_pure) {
    c->ack_pure = 0;
    if (c->ack_now)
      return send_ack(c, c->snd_max, buf, buflen, now);
  }
  if (may_send_data(c->state)) {
    tcpu_ssize n = send_data(c, buf, buflen, now);
    if (n != 0)
      return n;
  }
  if (c->probe_due) {
    /* RFC 9293 §3.8.6.1 zero-window probe and RFC 9293 §3.8.4 keepalive,
     * Linux style: a segment just left of the window draws an ACK with
     * the current window without committing a byte of data. */
    c->probe_due = 0;
    return send_ack(c, c->snd_una - 1, buf, buflen, now);
  }
  if (c->ack_now)
    return send_ack(c, c->snd_max, buf, buflen, now);
  return 0;
}
