/*
 * cc_reno.c — the congestion window as RFC 5681 sets it: slow start,
 * congestion avoidance, and the reductions on loss and timeout.  It is the
 * seam the pluggable congestion control (DESIGN §5) replaces; recovery.c
 * calls only these three functions.
 */
#include "core/endpoint.h"

/* RFC 5681 §3.1: slow start grows by at most one SMSS per ACK (RFC 3465
 * L = 1), congestion avoidance by about one SMSS per RTT (eq. 3). */
void tcpu_cc_on_ack(tcpu_conn *c, uint32_t acked, tcpu_tstamp now) {
  (void)now;
  uint32_t mss = tcpu_conn_payload_mss(c);
  if (acked == 0)
    return;
  if (c->cwnd < c->ssthresh) {
    c->cwnd += acked < mss ? acked : mss;
  } else {
    uint32_t inc = (uint32_t)((uint64_t)mss * mss / (c->cwnd ? c->cwnd : 1));
    c->cwnd += inc ? inc : 1;
  }
}

/* RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS); after a
 * timeout the loss window is one segment. */
void tcpu_cc_on_congestion(tcpu_conn *c, int rto, tcpu_tstamp now) {
  (void)now;
  uint32_t mss = tcpu_conn_payload_mss(c);
  uint32_t flight = c->snd_max - c->snd_una;
  c->ssthresh = flight / 2 > 2 * mss ? flight / 2 : 2 * mss;
  if (rto)
    c->cwnd = mss;
}

/* RFC 6675 §5 / RFC 6937: leaving recovery, cwnd = ssthresh. */
void tcpu_cc_on_recovery_exit(tcpu_conn *c, tcpu_tstamp now) {
  (void)now;
  if (c->ca_state == TCPU_CA_RECOVERY && c->ssthresh != UINT32_MAX)
    c->cwnd = c->ssthresh;
}
