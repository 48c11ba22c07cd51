/*
 * timer.c — every per-connection timer, armed only here; the rest of the
 * core reports events (WireGuard's timers.c discipline).
 *
 *   RTX      RFC 6298 retransmission timeout, also for SYN and SYN-ACK;
 *            exponential backoff; retry limits end the connection with
 *            TIMEDOUT (syn_retries, synack_retries, retries).
 *   DELACK   RFC 9293 §3.8.6.3 / RFC 5681 §4.2: an ACK is delayed at most
 *            delack_max and sent at once for every second full segment.
 *   PERSIST  RFC 9293 §3.8.6.1 zero-window probes with backoff.
 *   2MSL     TIME-WAIT (RFC 9293 §3.3.2), and the lifetime of an orphaned
 *            FIN-WAIT-2 (Linux tcp_fin_timeout), which ends in an RST.
 *   RACK     RFC 8985 §6.3: when a segment's reordering window ends.
 *   TLP      RFC 8985 §7: the probe timeout, armed alongside the RTO and
 *            only when it would fire first.
 *   KEEPALIVE RFC 9293 §3.8.4: idle probes, off unless enabled; the
 *            connection ends after keepalive_probes unanswered ones.
 *   PACING   the pacer (cc/pacer.c) allows the next data segment.
 * A user timeout (RFC 5482) caps how long data may stay unacknowledged:
 * the RTO never reaches past it, and reaching it ends the connection.
 */
#include "core/endpoint.h"
#include "core/seq.h"

static void arm(tcpu_conn *c, tcpu_timer_kind k, tcpu_tstamp at) {
  if (c->timer[k] != at) {
    c->timer[k] = at;
    tcpu_theap_mark(c->ep, c);
  }
}

static void disarm(tcpu_conn *c, tcpu_timer_kind k) {
  arm(c, k, TCPU_TSTAMP_NONE);
}

tcpu_tstamp tcpu_timer_expiry(const tcpu_conn *c) {
  tcpu_tstamp t = TCPU_TSTAMP_NONE;
  for (int i = 0; i < TCPU_TIMER_COUNT; i++)
    if (c->timer[i] < t)
      t = c->timer[i];
  return t;
}

void tcpu_timer_stop_all(tcpu_conn *c) {
  for (int i = 0; i < TCPU_TIMER_COUNT; i++)
    disarm(c, (tcpu_timer_kind)i);
}

/* The RTO deadline from now, cut short by the user timeout. */
static tcpu_tstamp rto_deadline(const tcpu_conn *c, tcpu_tstamp now) {
  tcpu_tstamp at = now + tcpu_rtt_rto(c);
  if (c->user_timeout && c->rtxq.n > 0) {
    tcpu_tstamp limit = tcpu_rtxq_at(&c->rtxq, 0)->first_tx_ts +
                        c->user_timeout;
    if (limit < at)
      at = limit > now ? limit : now;
  }
  return at;
}

/* RFC 8985 §7.2: PTO = min(PTO, RTO): when the RTO would come first the
 * probe goes at the RTO's time instead (and the RTO is pushed back then,
 * see tcpu_timer_handle). */
static void arm_tlp(tcpu_conn *c, tcpu_tstamp now) {
  tcpu_duration pto = tcpu_rack_pto(c);
  if (pto == TCPU_TSTAMP_NONE) {
    disarm(c, TCPU_TIMER_TLP);
    return;
  }
  tcpu_tstamp at = now + pto;
  if (at > c->timer[TCPU_TIMER_RTX])
    at = c->timer[TCPU_TIMER_RTX];
  arm(c, TCPU_TIMER_TLP, at);
}

/* RFC 6298 (5.1): start the timer when a segment goes out and it is not
 * running; RFC 8985 §7.2: each new data segment (re)schedules the probe
 * ("the sender SHOULD restart the PTO timer after each new data
 * segment"). */
void tcpu_timer_on_send(tcpu_conn *c, int new_data, tcpu_tstamp now) {
  if (c->timer[TCPU_TIMER_RTX] == TCPU_TSTAMP_NONE)
    arm(c, TCPU_TIMER_RTX, rto_deadline(c, now));
  if (new_data || c->timer[TCPU_TIMER_TLP] == TCPU_TSTAMP_NONE)
    arm_tlp(c, now);
}

/* RFC 8985 §7.3: after a probe the RTO restarts, and no new probe until
 * this one is answered. */
void tcpu_timer_on_probe_sent(tcpu_conn *c, tcpu_tstamp now) {
  arm(c, TCPU_TIMER_RTX, rto_deadline(c, now));
  disarm(c, TCPU_TIMER_TLP);
}

/* RFC 6298 (5.2) all acknowledged: stop; (5.3) new data acknowledged:
 * restart — only then.  An ACK that delivers nothing (it may ride on the
 * peer's data, acknowledging nothing new) leaves the deadline alone, or a
 * peer that keeps sending would keep a lost segment's RTO from ever
 * firing.  RFC 8985 §7.2 reschedules the probe on delivery, cumulative or
 * SACKed, alike. */
void tcpu_timer_on_ack(tcpu_conn *c, int delivered, tcpu_tstamp now) {
  if (c->snd_una == c->snd_max) {
    disarm(c, TCPU_TIMER_RTX);
    disarm(c, TCPU_TIMER_TLP);
    disarm(c, TCPU_TIMER_RACK);
    return;
  }
  if (delivered || c->timer[TCPU_TIMER_RTX] == TCPU_TSTAMP_NONE)
    arm(c, TCPU_TIMER_RTX, rto_deadline(c, now));
  if (delivered)
    arm_tlp(c, now);
}

void tcpu_timer_on_paced(tcpu_conn *c, tcpu_tstamp at) {
  arm(c, TCPU_TIMER_PACING, at);
}

void tcpu_timer_on_rack(tcpu_conn *c, tcpu_tstamp at) {
  arm(c, TCPU_TIMER_RACK, at);
}

/* Any segment from the peer: it is alive; restart the keepalive idle
 * time. */
void tcpu_timer_on_activity(tcpu_conn *c, tcpu_tstamp now) {
  c->last_rcv = now;
  c->ka_probes = 0;
  if (c->keepalive && c->state >= TCPU_ESTABLISHED &&
      c->state != TCPU_TIME_WAIT)
    arm(c, TCPU_TIMER_KEEPALIVE, now + c->ka_idle);
  else
    disarm(c, TCPU_TIMER_KEEPALIVE);
}

void tcpu_timer_on_ack_sent(tcpu_conn *c) { disarm(c, TCPU_TIMER_DELACK); }

void tcpu_timer_on_data_received(tcpu_conn *c, tcpu_tstamp now) {
  /* A full-sized segment from the peer: the smaller of the two MSS values,
   * less the timestamp option. */
  uint32_t full = tcpu_conn_payload_mss(c);
  /* Linux's quick-ACK mode: the first data segments are acknowledged at
   * once, so the peer's slow start is not held back by delayed ACKs. */
  if (c->quickacks > 0) {
    c->quickacks--;
    c->ack_now = 1;
    tcpu_conn_want_output(c);
  } else if (c->rcv_bytes_unacked >= 2 * full) {
    c->ack_now = 1;
    tcpu_conn_want_output(c);
  } else if (c->timer[TCPU_TIMER_DELACK] == TCPU_TSTAMP_NONE) {
    arm(c, TCPU_TIMER_DELACK, now + c->ep->s.delack_max);
  }
}

/* The peer's window changed, or output found it closed. */
void tcpu_timer_on_window(tcpu_conn *c, tcpu_tstamp now) {
  uint32_t data_end = c->snd_buf_seq + (uint32_t)c->sndq.len;
  int blocked = c->snd_wnd == 0 && seq_lt(c->snd_nxt, data_end) &&
                c->snd_nxt == c->snd_una;
  if (!blocked) {
    disarm(c, TCPU_TIMER_PERSIST);
    c->persist_backoff = 0;
    return;
  }
  if (c->timer[TCPU_TIMER_PERSIST] == TCPU_TSTAMP_NONE) {
    tcpu_duration d = c->rto;
    for (uint32_t i = 0; i < c->persist_backoff && d < c->ep->s.rto_max; i++)
      d *= 2;
    if (d > c->ep->s.rto_max)
      d = c->ep->s.rto_max;
    arm(c, TCPU_TIMER_PERSIST, now + d);
  }
}

void tcpu_timer_on_time_wait(tcpu_conn *c, tcpu_tstamp now) {
  tcpu_timer_stop_all(c);
  arm(c, TCPU_TIMER_2MSL, now + 2 * c->ep->s.msl);
}

void tcpu_timer_on_orphan(tcpu_conn *c, tcpu_tstamp now) {
  if (c->state == TCPU_FIN_WAIT_2)
    arm(c, TCPU_TIMER_2MSL, now + c->ep->s.fin_wait2_timeout);
}

static void rtx_expired(tcpu_conn *c, tcpu_tstamp now) {
  const tcpu_settings *s = &c->ep->s;
  uint32_t limit;
  switch (c->state) {
  case TCPU_SYN_SENT:
    limit = s->syn_retries;
    break;
  case TCPU_SYN_RCVD:
    limit = s->synack_retries;
    break;
  default:
    if (c->snd_una == c->iss) { /* FIN-WAIT-1 from SYN-RECEIVED */
      limit = s->synack_retries;
      break;
    }
    if (c->rtxq.n == 0)
      return; /* nothing outstanding */
    limit = s->retries;
    break;
  }
  int user_timeout_hit =
      c->user_timeout && c->rtxq.n > 0 &&
      now - tcpu_rtxq_at(&c->rtxq, 0)->first_tx_ts >= c->user_timeout;
  if (c->rtx_count >= limit || user_timeout_hit) {
    tcpu_conn_terminate(c, TCPU_ERR_TIMEDOUT, now);
    return;
  }
  c->rtx_count++;
  c->backoff++;
  c->timeouts++;
  c->rtt_timing = 0; /* Karn: no sample across a retransmission */
  if (c->state == TCPU_SYN_SENT || c->state == TCPU_SYN_RCVD) {
    c->syn_sent_flag = 0;
  } else {
    if (c->snd_una == c->iss)
      c->syn_sent_flag = 0; /* the SYN-ACK before a FIN: both again */
    tcpu_recovery_on_rto(c, now);
    disarm(c, TCPU_TIMER_TLP);
    disarm(c, TCPU_TIMER_RACK);
  }
  /* RFC 6298 (5.5)-(5.6): back off and restart. */
  arm(c, TCPU_TIMER_RTX, rto_deadline(c, now));
  tcpu_conn_want_output(c);
}

static void keepalive_expired(tcpu_conn *c, tcpu_tstamp now) {
  if (!c->keepalive || c->state < TCPU_ESTABLISHED ||
      c->state == TCPU_TIME_WAIT)
    return;
  uint32_t data_end = c->snd_buf_seq + (uint32_t)c->sndq.len;
  if (c->rtxq.n > 0 || seq_lt(c->snd_nxt, data_end)) {
    /* Data is moving or waiting: the RTO watches the peer. */
    arm(c, TCPU_TIMER_KEEPALIVE, now + c->ka_idle);
    return;
  }
  int user_timeout_hit = c->user_timeout && c->ka_probes > 0 &&
                         now - c->last_rcv >= c->user_timeout;
  if (c->ka_probes >= c->ka_cnt || user_timeout_hit) {
    tcpu_conn_reset(c, TCPU_ERR_TIMEDOUT, now);
    return;
  }
  c->ka_probes++;
  c->probe_due = 1;
  tcpu_conn_want_output(c);
  arm(c, TCPU_TIMER_KEEPALIVE, now + c->ka_intvl);
}

void tcpu_timer_handle(tcpu_conn *c, tcpu_tstamp now) {
  if (c->timer[TCPU_TIMER_2MSL] <= now) {
    disarm(c, TCPU_TIMER_2MSL);
    if (c->state == TCPU_TIME_WAIT)
      tcpu_conn_terminate(c, 0, now);
    else if (c->state == TCPU_FIN_WAIT_2)
      tcpu_conn_reset(c, 0, now);
    return;
  }
  if (c->timer[TCPU_TIMER_DELACK] <= now) {
    disarm(c, TCPU_TIMER_DELACK);
    c->ack_now = 1;
    tcpu_conn_want_output(c);
  }
  if (c->timer[TCPU_TIMER_PERSIST] <= now) {
    disarm(c, TCPU_TIMER_PERSIST);
    c->persist_backoff++;
    /* A peer that answers may keep its window shut forever; one that
     * stays silent is gone (Linux: tcp_retries2 applies to probes). */
    if (++c->probes_out > c->ep->s.retries) {
      tcpu_conn_terminate(c, TCPU_ERR_TIMEDOUT, now);
      return;
    }
    c->probe_due = 1;
    tcpu_conn_want_output(c);
    tcpu_timer_on_window(c, now);
  }
  if (c->timer[TCPU_TIMER_PACING] <= now) {
    disarm(c, TCPU_TIMER_PACING);
    tcpu_conn_want_output(c);
  }
  if (c->timer[TCPU_TIMER_RACK] <= now) {
    disarm(c, TCPU_TIMER_RACK);
    tcpu_recovery_on_rack_timer(c, now);
  }
  if (c->timer[TCPU_TIMER_TLP] <= now) {
    disarm(c, TCPU_TIMER_TLP);
    c->rack.tlp_due = 1;
    /* The probe replaces a timeout due at the same moment. */
    if (c->timer[TCPU_TIMER_RTX] <= now)
      arm(c, TCPU_TIMER_RTX, rto_deadline(c, now));
    tcpu_conn_want_output(c);
  }
  if (c->timer[TCPU_TIMER_KEEPALIVE] <= now) {
    disarm(c, TCPU_TIMER_KEEPALIVE);
    keepalive_expired(c, now);
    if (c->state == TCPU_CLOSED)
      return;
  }
  if (c->timer[TCPU_TIMER_RTX] <= now) {
    disarm(c, TCPU_TIMER_RTX);
    rtx_expired(c, now);
  }
}
