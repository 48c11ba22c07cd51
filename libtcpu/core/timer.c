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
 */
#include "core/endpoint.h"
#include "core/seq.h"

static void arm(tcpu_conn *c, tcpu_timer_kind k, tcpu_tstamp at) {
  c->timer[k] = at;
}

static void disarm(tcpu_conn *c, tcpu_timer_kind k) {
  c->timer[k] = TCPU_TSTAMP_NONE;
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

/* RFC 6298 (5.1): start the timer when a segment goes out and it is not
 * running. */
void tcpu_timer_on_send(tcpu_conn *c, int retransmittable, tcpu_tstamp now) {
  if (retransmittable && c->timer[TCPU_TIMER_RTX] == TCPU_TSTAMP_NONE)
    arm(c, TCPU_TIMER_RTX, now + tcpu_rtt_rto(c));
}

/* RFC 6298 (5.2) all acknowledged: stop; (5.3) new data acknowledged:
 * restart. */
void tcpu_timer_on_ack(tcpu_conn *c, tcpu_tstamp now) {
  if (c->snd_una == c->snd_max)
    disarm(c, TCPU_TIMER_RTX);
  else
    arm(c, TCPU_TIMER_RTX, now + tcpu_rtt_rto(c));
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
    if (c->snd_una == c->snd_max)
      return; /* nothing outstanding */
    limit = s->retries;
    break;
  }
  if (c->backoff >= limit) {
    tcpu_conn_terminate(c, TCPU_ERR_TIMEDOUT, now);
    return;
  }
  c->backoff++;
  c->timeouts++;
  c->rtt_timing = 0; /* Karn: no sample across a retransmission */
  if (c->state == TCPU_SYN_SENT || c->state == TCPU_SYN_RCVD) {
    c->syn_sent_flag = 0;
    c->snd_nxt = c->iss;
  } else {
    /* RFC 5681 §3.1 (eq. 4): ssthresh = max(FlightSize/2, 2*SMSS) and a
     * loss window of one segment; RFC 6298 (5.4): resend the earliest
     * unacknowledged segment, and go back N from there. */
    uint32_t mss = tcpu_conn_payload_mss(c);
    uint32_t flight = c->snd_max - c->snd_una;
    c->ssthresh = flight / 2 > 2 * mss ? flight / 2 : 2 * mss;
    c->cwnd = mss;
    c->snd_nxt = c->snd_una;
  }
  /* RFC 6298 (5.5)-(5.6): back off and restart. */
  arm(c, TCPU_TIMER_RTX, now + tcpu_rtt_rto(c));
  tcpu_conn_want_output(c);
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
  if (c->timer[TCPU_TIMER_RTX] <= now) {
    disarm(c, TCPU_TIMER_RTX);
    rtx_expired(c, now);
  }
}
