/*
 * conn.c — segment arrival and the state machine (RFC 9293 §3.10.7),
 * with the RST, SYN and ACK hardening of RFC 5961 and the TIME-WAIT rules
 * of RFC 1337 and RFC 6191.
 */
#include <string.h>

#include "core/endpoint.h"
#include "core/seq.h"

#define PAWS_IDLE_MAX_NS (24ull * 24 * 3600 * TCPU_NS_PER_S)

void tcpu_conn_want_output(tcpu_conn *c) {
  tcpu_endpoint_out_push(c->ep, c);
}

void tcpu_conn_add_event(tcpu_conn *c, unsigned ev) {
  c->events |= ev;
  tcpu_endpoint_ev_push(c->ep, c);
}

void tcpu_conn_set_state(tcpu_conn *c, tcpu_state to, tcpu_tstamp now) {
  (void)now;
  tcpu_state from = c->state;
  if (from == to)
    return;
  c->state = to;
  /* Observation only: the callback may not call into the connection. */
  if (c->ep->cb.state_changed &&
      c->ep->cb.state_changed(c, from, to, c->user_data) != 0)
    c->ep->cb_err = TCPU_ERR_CALLBACK_FAILURE;
}

/* The fate of a TIME-WAIT parked for a reopening SYN follows the new
 * connection: gone once it is established, back in the table if it dies
 * before (RFC 9293 §3.6.1 MAY-2 (2)). */
static void settle_parked(tcpu_conn *c, int established, tcpu_tstamp now) {
  tcpu_conn *tw = c->tw_link;
  if (tw == NULL)
    return;
  c->tw_link = NULL;
  tw->tw_link = NULL;
  if (established) {
    tcpu_conn_terminate(tw, 0, now);
  } else if (tcpu_endpoint_find(c->ep, &tw->peer, tw->lport, tw->rport) ==
             NULL) {
    tw->parked = 0;
    tcpu_endpoint_hash_add(c->ep, tw);
  }
}

void tcpu_conn_terminate(tcpu_conn *c, int err, tcpu_tstamp now) {
  tcpu_endpoint *ep = c->ep;
  if (c->state == TCPU_CLOSED)
    return;
  if (c->tw_link) {
    if (c->parked) { /* its own 2*MSL ran out first */
      c->tw_link->tw_link = NULL;
      c->tw_link = NULL;
    } else {
      tcpu_endpoint_hash_del(ep, c); /* free the 4-tuple for the old one */
      settle_parked(c, 0, now);
    }
  }
  if (err != 0) {
    c->err = err;
    /* RFC 9293 §3.10.7.4: on reset "all segment queues should be
     * flushed"; what the application never read is gone. */
    tcpu_ring_free(&c->sndq);
    tcpu_ring_free(&c->rcvq);
    tcpu_rtxq_free(&c->rtxq);
    tcpu_rob_free(&c->rob);
  }
  tcpu_timer_stop_all(c);
  tcpu_conn_set_state(c, TCPU_CLOSED, now);
  tcpu_endpoint_hash_del(ep, c);
  ep->st.conns_closed++;
  if (c->parent) {
    tcpu_listen_detach(c);
  } else if (c->handle_open) {
    tcpu_conn_add_event(c, TCPU_EV_CLOSED | TCPU_EV_READABLE);
    return;
  }
  tcpu_endpoint_mark_dead(ep, c);
}

void tcpu_conn_reset(tcpu_conn *c, int err, tcpu_tstamp now) {
  if (c->state != TCPU_CLOSED && c->state != TCPU_LISTEN &&
      c->state != TCPU_SYN_SENT) {
    tcpu_seg r;
    memset(&r, 0, sizeof r);
    r.sport = c->lport;
    r.dport = c->rport;
    r.seq = c->snd_max;
    r.ack = c->rcv_nxt;
    r.flags = TH_RST | TH_ACK;
    tcpu_endpoint_queue_ctl(c->ep, &c->peer, &r);
  }
  tcpu_conn_terminate(c, err, now);
}

void tcpu_conn_take_syn_options(tcpu_conn *c, const tcpu_seg *s) {
  const tcpu_settings *st = &c->ep->s;
  if (s->opt.has_mss)
    c->peer_mss = s->opt.mss < 64 ? 64 : s->opt.mss;
  /* RFC 7323 §2.2: scaling is on only if both sides sent the option. */
  c->ws_ok = st->window_scaling && s->opt.has_wscale;
  if (c->ws_ok) {
    /* RFC 7323 §2.3: a shift above 14 is treated as 14. */
    c->snd_wscale = s->opt.wscale > TCPU_WSCALE_MAX ? TCPU_WSCALE_MAX
                                                    : s->opt.wscale;
  } else {
    c->snd_wscale = 0;
    c->rcv_wscale = 0;
  }
  /* RFC 7323 §3.2: timestamps only if both sides offered them. */
  c->ts_ok = st->timestamps && s->opt.has_ts;
  if (c->ts_ok)
    c->ts_recent = s->opt.ts_val;
  c->ts_recent_stamp = 0; /* PAWS starts with the first synchronized TS */
  c->sack_ok = st->sack && s->opt.sack_permitted;
}

static int fin_acked(const tcpu_conn *c) {
  return c->fin_sent && c->snd_una == c->snd_max;
}

static void ack_now(tcpu_conn *c) {
  c->ack_now = 1;
  tcpu_conn_want_output(c);
}

static void challenge_ack(tcpu_conn *c) {
  c->ep->st.challenge_acks++;
  ack_now(c);
}

/* Receive window we advertised last: segments are judged against it. */
static uint32_t adv_window(const tcpu_conn *c) {
  return seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

/* RFC 9293 §3.10.7.4, first check, and the trimming it implies: keep only
 * the part of the segment inside the window.  Returns 0 if unacceptable. */
static int accept_and_trim(tcpu_conn *c, tcpu_seg *s) {
  uint32_t wnd = adv_window(c);
  uint32_t len = tcpu_seg_seqlen(s);
  uint32_t nxt = c->rcv_nxt;
  int ok;
  if (len == 0)
    ok = wnd == 0 ? s->seq == nxt : seq_in(s->seq, nxt, nxt + wnd);
  else if (wnd == 0)
    /* "special allowance should be made to accept valid ACKs, URGs, and
     * RSTs": a probe at RCV.NXT is processed with its text dropped. */
    ok = s->seq == nxt;
  else
    ok = seq_in(s->seq, nxt, nxt + wnd) ||
         seq_in(s->seq + len - 1, nxt, nxt + wnd);
  if (!ok)
    return 0;
  if (seq_lt(s->seq, nxt)) {
    uint32_t d = nxt - s->seq;
    if (s->flags & TH_SYN) {
      s->flags &= (uint8_t)~TH_SYN;
      d--;
      s->seq++;
    }
    if (d > s->len)
      d = (uint32_t)s->len; /* only the FIN is new */
    /* RFC 2883 §4.1.1: the repeated part is reported as a D-SACK. */
    if (d > 0)
      tcpu_rob_note_dup_below(&c->rob, s->seq, s->seq + d);
    s->data += d;
    s->len -= d;
    s->seq += d;
  }
  uint32_t room = wnd - (s->seq - nxt);
  if (seq_gt(s->seq + (uint32_t)s->len, nxt + wnd) || s->len > room) {
    s->len = room < s->len ? room : s->len;
    s->flags &= (uint8_t)~TH_FIN;
    ack_now(c); /* what did not fit is answered with the window we have */
  }
  if (wnd == 0 && s->len > 0) {
    s->len = 0;
    s->flags &= (uint8_t)~TH_FIN;
    ack_now(c); /* a zero-window probe gets its ACK (RFC 9293 §3.8.6.1) */
  }
  return 1;
}

static void rst_input(tcpu_conn *c, const tcpu_seg *s, tcpu_tstamp now) {
  /* RFC 5961 §3.2: only an RST exactly at RCV.NXT resets; one elsewhere
   * in the window draws a challenge ACK, so a blind attacker must guess
   * the exact sequence number. */
  if (s->seq != c->rcv_nxt) {
    challenge_ack(c);
    return;
  }
  switch (c->state) {
  case TCPU_SYN_RCVD:
    /* RFC 9293 §3.10.7.4: a passive open returns to LISTEN (the listener
     * simply loses the embryonic child); an active one is refused. */
    tcpu_conn_terminate(c, c->passive ? TCPU_ERR_RESET : TCPU_ERR_REFUSED,
                        now);
    break;
  case TCPU_TIME_WAIT:
    /* RFC 1337 §3 (fix H1): ignore RST in TIME-WAIT, so an old duplicate
     * cannot assassinate it early. */
    break;
  default:
    tcpu_conn_terminate(c, TCPU_ERR_RESET, now);
    break;
  }
}

static void update_window(tcpu_conn *c, const tcpu_seg *s, tcpu_tstamp now) {
  /* RFC 9293 §3.10.7.4: update only from a segment newer than the one
   * that last set it (SND.WL1/WL2), so old segments cannot shrink it. */
  if (seq_lt(c->snd_wl1, s->seq) ||
      (c->snd_wl1 == s->seq && seq_leq(c->snd_wl2, s->ack))) {
    uint32_t old = c->snd_wnd;
    c->snd_wnd = (uint32_t)s->wnd << c->snd_wscale;
    c->snd_wl1 = s->seq;
    c->snd_wl2 = s->ack;
    if (c->snd_wnd > c->max_snd_wnd)
      c->max_snd_wnd = c->snd_wnd;
    if (c->snd_wnd != old) {
      tcpu_timer_on_window(c, now);
      tcpu_conn_want_output(c);
    }
  }
}


static void become_established(tcpu_conn *c, const tcpu_seg *s,
                               tcpu_tstamp now) {
  c->snd_wnd = (uint32_t)s->wnd << c->snd_wscale;
  c->max_snd_wnd = c->snd_wnd;
  c->snd_wl1 = s->seq;
  c->snd_wl2 = s->ack;
  tcpu_conn_set_state(c, TCPU_ESTABLISHED, now);
}

/* n in-order bytes reached the receive buffer. */
static void deliver(tcpu_conn *c, uint32_t n) {
  if (n == 0)
    return;
  c->rcv_nxt += n;
  c->bytes_received += n;
  c->rcv_bytes_unacked += n;
  tcpu_conn_add_event(c, TCPU_EV_READABLE);
}

/* Seventh and eighth steps: segment text, then FIN. */
static void text_and_fin(tcpu_conn *c, const tcpu_seg *s, tcpu_tstamp now) {
  int can_receive = c->state == TCPU_ESTABLISHED ||
                    c->state == TCPU_FIN_WAIT_1 ||
                    c->state == TCPU_FIN_WAIT_2;
  if (s->len > 0 && can_receive) {
    if (!c->handle_open && c->parent == NULL) {
      /* Nobody will ever read it: RFC 9293 §3.10.4 lets a closed
       * receiver reset, and Linux does (TCPAbortOnData). */
      tcpu_conn_reset(c, TCPU_ERR_ABORTED, now);
      return;
    }
    if (tcpu_rob_empty(&c->rob) && s->seq == c->rcv_nxt) {
      /* In order with no hole behind: straight into the buffer. */
      long n = tcpu_ring_push(&c->rcvq, s->data, s->len);
      if (n < 0) {
        ack_now(c);
        return; /* out of memory: treat as lost, the peer retransmits */
      }
      deliver(c, (uint32_t)n);
      if ((size_t)n < s->len) {
        ack_now(c);
        return; /* the rest did not fit: no FIN yet either */
      }
      tcpu_timer_on_data_received(c, now);
    } else {
      /* RFC 9293 §3.10.7.4 seventh step: keep what is beyond RCV.NXT
       * for later (memory bounded by the window we offered). */
      if (s->seq != c->rcv_nxt)
        c->ep->st.out_of_order++;
      uint64_t refused = c->rob.st.segs_dropped;
      int n = tcpu_rob_insert(&c->rob, c->rcv_nxt, c->rcv_nxt + adv_window(c),
                              s->seq, s->data, s->len);
      if (n < 0 || c->rob.st.segs_dropped != refused)
        c->ep->st.drop_reassembly++;
      deliver(c, (uint32_t)tcpu_rob_pop(&c->rob, c->rcv_nxt, &c->rcvq));
      /* RFC 5681 §4.2: out-of-order data, and data that fills a hole,
       * are acknowledged at once, with SACK blocks (RFC 2018 §4) — in a
       * pure ACK: on a full-sized data segment the blocks may not fit,
       * and an ACK carrying data is no duplicate ACK to the sender. */
      ack_now(c);
      c->ack_pure = 1;
    }
  }
  if (s->flags & TH_FIN) {
    c->fin_seen = 1;
    c->fin_seq = s->seq + (uint32_t)s->len;
    if (s->seq != c->rcv_nxt)
      ack_now(c);
  }
  if (!c->fin_seen || c->fin_seq != c->rcv_nxt)
    return;
  if (c->state == TCPU_CLOSE_WAIT || c->state == TCPU_CLOSING ||
      c->state == TCPU_LAST_ACK || c->state == TCPU_TIME_WAIT)
    return;
  c->rcv_nxt++;
  c->fin_rcvd = 1;
  ack_now(c);
  tcpu_conn_add_event(c, TCPU_EV_READABLE);
  switch (c->state) {
  case TCPU_SYN_RCVD:
  case TCPU_ESTABLISHED:
    tcpu_conn_set_state(c, TCPU_CLOSE_WAIT, now);
    break;
  case TCPU_FIN_WAIT_1:
    /* Simultaneous close (RFC 9293 Figure 13) unless this segment also
     * acknowledged our FIN. */
    if (fin_acked(c)) {
      tcpu_conn_set_state(c, TCPU_TIME_WAIT, now);
      tcpu_timer_on_time_wait(c, now);
    } else {
      tcpu_conn_set_state(c, TCPU_CLOSING, now);
    }
    break;
  case TCPU_FIN_WAIT_2:
    tcpu_conn_set_state(c, TCPU_TIME_WAIT, now);
    tcpu_timer_on_time_wait(c, now);
    break;
  default:
    break;
  }
}

static void syn_sent_input(tcpu_conn *c, tcpu_seg *s, tcpu_tstamp now) {
  int ack_ok = 0;
  if (s->flags & TH_ACK) {
    /* RFC 9293 §3.10.7.3: an ACK of something we never sent. */
    if (seq_leq(s->ack, c->iss) || seq_gt(s->ack, c->snd_max)) {
      tcpu_endpoint_reply_rst(c->ep, &c->peer, s);
      return;
    }
    ack_ok = 1;
  }
  if (s->flags & TH_RST) {
    /* RFC 5961 §3.2: in SYN-SENT an RST is valid only if it acknowledges
     * our SYN.  While the peer is being punched (tcpu_peer_punch) the RST
     * most likely means our SYN overtook the other side's own connect:
     * the SYN's retransmission will meet it in a simultaneous open, so
     * the connection is not refused yet. */
    if (ack_ok && !tcpu_peer_punching(c->ep, &c->peer, now))
      tcpu_conn_terminate(c, TCPU_ERR_REFUSED, now);
    return;
  }
  if (!(s->flags & TH_SYN))
    return;
  c->irs = s->seq;
  c->rcv_nxt = s->seq + 1;
  c->rcv_adv = c->rcv_nxt;
  c->last_ack_sent = c->rcv_nxt;
  tcpu_conn_take_syn_options(c, s);
  if (ack_ok) {
    c->snd_una = s->ack;
    if (seq_lt(c->snd_nxt, c->snd_una))
      c->snd_nxt = c->snd_una;
    if (c->rtt_timing) {
      c->rtt_timing = 0;
      tcpu_rtt_sample(c, now - c->rtt_time);
    }
    c->last_rcv = now;
    become_established(c, s, now);
    tcpu_conn_on_established(c, now);
    tcpu_timer_on_ack(c, 1, now);
    tcpu_conn_add_event(c, TCPU_EV_CONNECTED | TCPU_EV_WRITABLE);
    ack_now(c);
    /* Data or FIN riding on the SYN-ACK (RFC 9293 §3.10.7.3 "sixth"). */
    s->seq++;
    s->flags &= (uint8_t)~TH_SYN;
    c->rcv_adv = c->rcv_nxt + tcpu_conn_rcv_window(c);
    if (s->len > 0 || (s->flags & TH_FIN))
      text_and_fin(c, s, now);
    return;
  }
  /* Simultaneous open (RFC 9293 §3.5, Figure 8): answer with SYN,ACK from
   * our ISS and wait in SYN-RECEIVED.  Text in the SYN is dropped; the
   * peer retransmits it once we acknowledge only the SYN. */
  c->snd_wnd = s->wnd; /* RFC 7323 §2.2: a SYN's window is never scaled */
  c->snd_wl1 = s->seq;
  c->snd_wl2 = s->ack;
  c->syn_sent_flag = 0;
  c->snd_nxt = c->iss;
  tcpu_conn_set_state(c, TCPU_SYN_RCVD, now);
  tcpu_conn_want_output(c);
}

/* RFC 9293 §3.6.1 (MAY-2) with RFC 6191 §2: a SYN may reopen a
 * TIME-WAIT 4-tuple when it is provably new — a newer timestamp when both
 * incarnations used them, else a sequence number above the old RCV.NXT. */
static int syn_reopens(const tcpu_conn *c, const tcpu_seg *s) {
  if ((s->flags & (TH_SYN | TH_ACK)) != TH_SYN)
    return 0;
  if (c->ts_ok && s->opt.has_ts)
    return seq_gt(s->opt.ts_val, c->ts_recent);
  return seq_gt(s->seq, c->rcv_nxt);
}

/* TIME-WAIT's own rules.  Returns 1 when the segment is dealt with. */
static int time_wait_input(tcpu_conn *c, const tcpu_seg *s, tcpu_tstamp now) {
  tcpu_conn *l = tcpu_endpoint_find_listener(c->ep, c->lport);
  if (l != NULL && syn_reopens(c, s)) {
    tcpu_endpoint *ep = c->ep;
    tcpu_addr peer = c->peer;
    if (c->handle_open) {
      tcpu_conn_terminate(c, 0, now);
    } else {
      /* Park the old incarnation instead of ending it: should the SYN
       * turn out to be an old duplicate (the new connection is reset
       * before it is established), the 4-tuple returns to TIME-WAIT
       * (MAY-2 condition 2).  Its 2*MSL timer keeps running. */
      tcpu_endpoint_hash_del(ep, c);
      c->parked = 1;
    }
    /* MAY-2 condition 1: the new ISN lies beyond all the old incarnation
     * used, as Linux does (old SND.NXT + 65537). */
    ep->tw_reopen = c->handle_open ? NULL : c;
    ep->tw_iss = c->snd_max + 65537;
    ep->tw_iss_valid = 1;
    tcpu_listen_input(l, &peer, s, now);
    ep->tw_iss_valid = 0;
    ep->tw_reopen = NULL;
    return 1;
  }
  if (s->flags & TH_RST)
    return 1; /* RFC 1337 */
  if ((s->flags & TH_FIN) &&
      s->seq + (uint32_t)s->len + 1 == c->rcv_nxt) {
    /* RFC 9293 §3.10.7.4 eighth step: a retransmitted FIN is acknowledged
     * and restarts the 2 MSL wait. */
    ack_now(c);
    tcpu_timer_on_time_wait(c, now);
    return 1;
  }
  return 0;
}

void tcpu_conn_input(tcpu_conn *c, const tcpu_seg *in, tcpu_tstamp now) {
  tcpu_seg seg = *in;
  tcpu_seg *s = &seg;
  c->segs_in++;
  switch (c->state) {
  case TCPU_CLOSED:
  case TCPU_LISTEN:
    return;
  case TCPU_SYN_SENT:
    syn_sent_input(c, s, now);
    return;
  case TCPU_TIME_WAIT:
    if (time_wait_input(c, s, now))
      return;
    break;
  case TCPU_SYN_RCVD:
    if ((s->flags & TH_SYN) && !(s->flags & TH_ACK) && s->seq == c->irs) {
      /* The peer lost our SYN-ACK and sent its SYN again: answer it. */
      c->syn_sent_flag = 0;
      tcpu_conn_want_output(c);
      return;
    }
    if ((s->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) &&
        s->seq == c->irs) {
      /* Simultaneous open, RFC 9293 §3.5 figure 8 line 6: the peer's
       * SYN,ACK repeats the SYN we hold and acknowledges ours; what is
       * new is its ACK (Linux: tcp_validate_incoming "goto pass"). */
      s->flags &= (uint8_t)~TH_SYN;
      s->seq++;
    }
    break;
  default:
    break;
  }

  uint32_t orig_seq = s->seq;
  /* RFC 7323 §3.2: once timestamps are on, a non-RST segment without one
   * SHOULD be dropped silently. */
  if (c->ts_ok && !in->opt.has_ts && !(s->flags & TH_RST)) {
    c->ep->st.drop_no_timestamp++;
    return;
  }
  /* RFC 7323 §5.3 R1 (PAWS): a timestamp older than TS.Recent marks an
   * old duplicate from a wrapped sequence space; TS.Recent older than 24
   * days is no longer trusted (§5.5). */
  if (c->ts_ok && in->opt.has_ts && !(s->flags & TH_RST) &&
      c->ts_recent_stamp != 0 && seq_lt(in->opt.ts_val, c->ts_recent) &&
      now - c->ts_recent_stamp <= PAWS_IDLE_MAX_NS) {
    c->paws_drops++;
    /* An old duplicate of data we have: report it as D-SACK, as for any
     * duplicate (RFC 2883 §4.1.1), so the sender learns its
     * retransmission was needless (Linux: tcp_send_dupack). */
    if (s->len > 0 && seq_leq(s->seq + (uint32_t)s->len, c->rcv_nxt))
      tcpu_rob_note_dup_below(&c->rob, s->seq, s->seq + (uint32_t)s->len);
    ack_now(c);
    return;
  }
  /* First: sequence number acceptable? (RFC 9293 §3.10.7.4) */
  if (!accept_and_trim(c, s)) {
    if (!(s->flags & TH_RST)) {
      c->ep->st.drop_unacceptable++;
      /* Data wholly below RCV.NXT: a needless retransmission, which
       * D-SACK tells the sender about (RFC 2883 §4.1.1). */
      if (s->len > 0 && seq_leq(s->seq + (uint32_t)s->len, c->rcv_nxt))
        tcpu_rob_note_dup_below(&c->rob, s->seq,
                                s->seq + (uint32_t)s->len);
      ack_now(c);
    }
    return;
  }
  /* RFC 7323 §4.3 (R3): TS.Recent follows the segment at the left edge
   * of the last ACK sent, never backwards: a delayed ACK echoes the
   * earliest segment it covers. */
  if (c->ts_ok && in->opt.has_ts && seq_leq(orig_seq, c->last_ack_sent) &&
      seq_geq(in->opt.ts_val, c->ts_recent)) {
    c->ts_recent = in->opt.ts_val;
    c->ts_recent_stamp = now;
  }
  tcpu_timer_on_activity(c, now);

  /* Second: RST. */
  if (s->flags & TH_RST) {
    seg.seq = orig_seq;
    rst_input(c, s, now);
    return;
  }
  /* Fourth: SYN in a synchronized state (RFC 5961 §4). */
  if (s->flags & TH_SYN) {
    if (c->state == TCPU_SYN_RCVD && c->passive) {
      /* RFC 9293 §3.10.7.4: a passive open returns to LISTEN. */
      tcpu_conn_terminate(c, TCPU_ERR_RESET, now);
      return;
    }
    challenge_ack(c);
    return;
  }
  /* Fifth: ACK. */
  if (!(s->flags & TH_ACK))
    return;
  if (c->state == TCPU_SYN_RCVD) {
    if (!(seq_lt(c->snd_una, s->ack) && seq_leq(s->ack, c->snd_max))) {
      tcpu_endpoint_reply_rst(c->ep, &c->peer, s);
      return;
    }
    if (c->passive && tcpu_listen_established(c, now) != 0) {
      /* Accept queue full (listen.c counted it). */
      if (c->ep->s.accept_overflow == TCPU_OVERFLOW_RST)
        tcpu_conn_reset(c, TCPU_ERR_RESET, now);
      return; /* DROP: the SYN-ACK timer will ask for the ACK again */
    }
    become_established(c, s, now);
    settle_parked(c, 1, now);
    tcpu_conn_on_established(c, now);
    tcpu_recovery_on_ack(c, s, now);
    if (!c->passive)
      tcpu_conn_add_event(c, TCPU_EV_CONNECTED | TCPU_EV_WRITABLE);
  } else {
    /* RFC 5961 §5.2: acceptable if SND.UNA - MAX.SND.WND <= SEG.ACK <=
     * SND.NXT (SND.MAX here: after a timeout SND.NXT falls back). */
    if (seq_gt(s->ack, c->snd_max) ||
        seq_lt(s->ack, c->snd_una - c->max_snd_wnd)) {
      c->ep->st.drop_unacceptable++;
      ack_now(c);
      return;
    }
    c->probes_out = 0;
    tcpu_recovery_on_ack(c, s, now);
    update_window(c, s, now);
  }

  switch (c->state) {
  case TCPU_FIN_WAIT_1:
    /* Handled after the text: a FIN in this very segment goes straight
     * to TIME-WAIT (RFC 9293 §3.10.7.4 eighth step, FIN-WAIT-1). */
    break;
  case TCPU_CLOSING:
    if (fin_acked(c)) {
      tcpu_conn_set_state(c, TCPU_TIME_WAIT, now);
      tcpu_timer_on_time_wait(c, now);
    }
    return;
  case TCPU_LAST_ACK:
    if (fin_acked(c))
      tcpu_conn_terminate(c, 0, now);
    return;
  case TCPU_TIME_WAIT:
    return;
  default:
    break;
  }
  /* Sixth (URG) is not supported (RFC 6093 §5: new applications SHOULD
   * NOT use it); urgent data is delivered as ordinary data. */
  text_and_fin(c, s, now);
  if (c->state == TCPU_FIN_WAIT_1 && fin_acked(c)) {
    tcpu_conn_set_state(c, TCPU_FIN_WAIT_2, now);
    if (!c->handle_open)
      tcpu_timer_on_orphan(c, now);
  }
}
