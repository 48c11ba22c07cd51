/*
 * rtt.c — retransmission timeout estimation (RFC 6298).
 *
 * Samples come from timing one segment at a time under Karn's rule
 * (RFC 6298 §3: never from a retransmitted segment), taken in conn.c.
 */
#include "core/endpoint.h"

/* RFC 6298 (2.1): until a sample arrives, RTO is the initial 1 s. */
void tcpu_rtt_init(tcpu_conn *c) {
  c->srtt = 0;
  c->rttvar = 0;
  c->rto = c->ep->s.rto_initial;
}

static tcpu_duration clamp_rto(const tcpu_conn *c, tcpu_duration rto) {
  /* RFC 6298 (2.4) allows a floor; Linux uses 200 ms where the RFC says
   * 1 s, and so do we (DESIGN §4).  (2.5) a maximum of at least 60 s. */
  if (rto < c->ep->s.rto_min)
    rto = c->ep->s.rto_min;
  if (rto > c->ep->s.rto_max)
    rto = c->ep->s.rto_max;
  return rto;
}

void tcpu_rtt_sample(tcpu_conn *c, tcpu_duration r) {
  if (r == 0)
    r = 1;
  if (c->srtt == 0) {
    /* RFC 6298 (2.2) first measurement. */
    c->srtt = r;
    c->rttvar = r / 2;
  } else {
    /* RFC 6298 (2.3) beta = 1/4, alpha = 1/8. */
    tcpu_duration delta = c->srtt > r ? c->srtt - r : r - c->srtt;
    c->rttvar = c->rttvar - c->rttvar / 4 + delta / 4;
    c->srtt = c->srtt - c->srtt / 8 + r / 8;
  }
  /* RTO = SRTT + max(G, K*RTTVAR), K = 4; our clock granularity G is 1 ns
   * in principle, so the K term dominates. */
  c->rto = clamp_rto(c, c->srtt + 4 * c->rttvar);
  /* RFC 6298 §5 after (5.7): a new measurement collapses the backoff;
   * only a valid measurement does (Karn; Linux tcp_ack_update_rtt). */
  c->backoff = 0;
}

/* RFC 6298 (5.5): back off by doubling per expiry, up to the maximum. */
tcpu_duration tcpu_rtt_rto(const tcpu_conn *c) {
  tcpu_duration rto = c->rto;
  for (uint32_t i = 0; i < c->backoff && rto < c->ep->s.rto_max; i++)
    rto *= 2;
  return clamp_rto(c, rto);
}
