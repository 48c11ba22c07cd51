/*
 * rate.c — delivery rate estimation, after
 * draft-cheung-tcpm-delivery-rate-estimation: each segment remembers how
 * much had been delivered when it was sent, and when; the ACK of it then
 * yields bytes delivered over an interval, the larger of the send and ACK
 * spans (§3.3: the ACK span alone overestimates when ACKs compress).
 */
#include "cc/cc.h"

#include "core/endpoint.h"

void tcpu_rate_on_send(tcpu_conn *c, tcpu_txseg *s, int was_idle,
                       tcpu_tstamp now) {
  /* §3.2: starting from idle, both clocks restart now. */
  if (was_idle) {
    c->first_sent_ts = now;
    c->delivered_ts = now;
  }
  s->rs_delivered = c->delivered;
  s->rs_delivered_ts = c->delivered_ts;
  s->rs_first_sent_ts = c->first_sent_ts;
  s->rs_app_limited = c->app_limited != 0;
}

void tcpu_rate_on_delivered(tcpu_conn *c, const tcpu_txseg *s,
                            tcpu_rate_sample *rs, tcpu_tstamp now) {
  c->delivered += s->len;
  c->delivered_ts = now;
  /* §3.3: the sample follows the most recently sent delivered segment. */
  if (!rs->have || s->rs_delivered > rs->prior_delivered ||
      (s->rs_delivered == rs->prior_delivered &&
       s->xmit_ts > rs->newest_sent_ts)) {
    rs->have = 1;
    rs->prior_delivered = s->rs_delivered;
    rs->prior_ts = s->rs_delivered_ts;
    rs->is_app_limited = s->rs_app_limited;
    rs->send_elapsed = s->xmit_ts - s->rs_first_sent_ts;
    rs->ack_elapsed = now - s->rs_delivered_ts;
    rs->newest_sent_ts = s->xmit_ts;
    c->first_sent_ts = s->xmit_ts;
  }
  /* A new round trip starts once a segment sent after the last round's
   * end is delivered (BBR's round counting). */
  if (s->rs_delivered >= c->next_round_delivered) {
    c->next_round_delivered = c->delivered;
    c->round++;
    c->round_started = 1;
  }
  if (c->app_limited && c->delivered > c->app_limited)
    c->app_limited = 0;
}

void tcpu_rate_finish(tcpu_conn *c, const tcpu_rate_sample *rs,
                      tcpu_cc_ack *a) {
  a->delivered = 0;
  a->interval = 0;
  a->delivery_rate = 0;
  if (!rs->have)
    return;
  a->is_app_limited = rs->is_app_limited;
  a->largest_sent_ts = rs->newest_sent_ts;
  tcpu_duration iv = rs->send_elapsed > rs->ack_elapsed ? rs->send_elapsed
                                                        : rs->ack_elapsed;
  uint64_t delivered = c->delivered - rs->prior_delivered;
  /* §3.3: an interval shorter than the minimum RTT is an artefact. */
  tcpu_duration min_rtt = c->rack.min_rtt;
  if (iv == 0 || (min_rtt != TCPU_TSTAMP_NONE && iv < min_rtt))
    return;
  a->delivered = delivered;
  a->interval = iv;
  a->delivery_rate = (uint64_t)((double)delivered * 1e9 / (double)iv);
}

/* §3.4: when the application stops feeding the sender, mark the
 * samples that follow so they are not taken for the path's capacity. */
void tcpu_rate_check_app_limited(tcpu_conn *c) {
  uint32_t data_end = c->snd_buf_seq + (uint32_t)c->sndq.len;
  uint32_t pipe = tcpu_conn_pipe(c);
  if (c->snd_nxt == data_end && pipe < c->cwnd &&
      c->rtxq.lost == c->rtxq.retrans) {
    uint64_t mark = c->delivered + pipe;
    c->app_limited = mark ? mark : 1;
  }
}
