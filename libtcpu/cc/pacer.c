/*
 * pacer.c — spreading a window's segments over the round trip instead of
 * sending them in one burst.  The rate is the algorithm's (tcpu_cc_stat
 * pacing_rate), or by default Linux's: 2 x cwnd/srtt in slow start and
 * 1.2 x cwnd/srtt after (tcp_update_pacing_rate).  Credit for unused time
 * is capped at max(2 segments, 1 ms of sending), so an idle connection
 * may send a short burst, and the event loop wakes at most about once per
 * millisecond at high rates.
 */
#include "cc/cc.h"

#include "core/seq.h"

#define MAX_CREDIT_NS (1 * TCPU_NS_PER_MS)

uint64_t tcpu_pacer_rate(const tcpu_conn *c) {
  if (c->cc_pacing_rate)
    return c->cc_pacing_rate;
  if (c->srtt == 0)
    return 0; /* no RTT yet: the initial window goes unpaced */
  uint64_t pct = c->cwnd < c->ssthresh / 2 ? 200 : 120;
  return (uint64_t)((double)c->cwnd * 1e9 / (double)c->srtt) * pct / 100;
}

int tcpu_pacer_ready(const tcpu_conn *c, tcpu_tstamp now) {
  return c->next_send_ts <= now;
}

void tcpu_pacer_on_send(tcpu_conn *c, size_t bytes, tcpu_tstamp now) {
  uint64_t rate = tcpu_pacer_rate(c);
  if (rate == 0) {
    c->next_send_ts = 0;
    return;
  }
  tcpu_duration per = (tcpu_duration)((double)bytes * 1e9 / (double)rate);
  tcpu_duration seg = (tcpu_duration)(2.0 * tcpu_conn_payload_mss(c) * 1e9 /
                                      (double)rate);
  tcpu_duration credit = seg > MAX_CREDIT_NS ? seg : MAX_CREDIT_NS;
  tcpu_tstamp base = now > credit ? now - credit : 0;
  if (c->next_send_ts > base)
    base = c->next_send_ts;
  c->next_send_ts = base + per;
}
