/*
 * time.c — virtual time.  Between script events the clock jumps from one
 * core deadline to the next (tcpu_endpoint_get_expiry), runs the timers
 * (tcpu_endpoint_handle_expiry) and collects every datagram the core
 * sends (tcpu_endpoint_send), each stamped with the time it left.
 */
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* A core whose deadline stays at or before now after handle_expiry this
 * many times in a row is looping. */
#define STUCK_LIMIT 1000

static int push(pkt_run *r, const tcpu_addr *to, size_t len) {
  pkt_dgram *d;

  if (r->qlen >= PKT_QUEUE_MAX)
    return pkt_fail(r, "the core sent more than %d datagrams at once",
                    PKT_QUEUE_MAX);
  if (r->qhead > 0 && r->qhead + r->qlen == r->qcap) {
    memmove(r->q, r->q + r->qhead, r->qlen * sizeof(*r->q));
    r->qhead = 0;
  }
  if (r->qhead + r->qlen == r->qcap) {
    size_t cap = r->qcap ? r->qcap * 2 : 16;
    pkt_dgram *q = realloc(r->q, cap * sizeof(*q));

    if (q == NULL)
      return pkt_fail(r, "out of memory");
    r->q = q;
    r->qcap = cap;
  }
  d = &r->q[r->qhead + r->qlen];
  if ((d->buf = malloc(len)) == NULL)
    return pkt_fail(r, "out of memory");
  memcpy(d->buf, r->buf, len);
  d->len = len;
  d->to = *to;
  d->t = r->now;
  r->qlen++;
  return 0;
}

int pkt_time_drain(pkt_run *r) {
  if (r->ep == NULL)
    return 0;
  for (;;) {
    tcpu_addr to;
    tcpu_ssize n =
        tcpu_endpoint_send(r->ep, &to, r->buf, PKT_DGRAM_MAX, r->now);

    if (n < 0)
      return pkt_fail(r, "tcpu_endpoint_send failed: %s",
                      tcpu_err_name((int)n));
    if (n == 0)
      return 0;
    if (push(r, &to, (size_t)n) != 0)
      return -1;
  }
}

int pkt_time_advance(pkt_run *r, tcpu_tstamp until, int inclusive) {
  unsigned stuck = 0;

  if (pkt_time_drain(r) != 0)
    return -1;
  while (r->qlen == 0 && r->ep != NULL) {
    tcpu_tstamp exp = tcpu_endpoint_get_expiry(r->ep);
    int rc;

    if (exp == TCPU_TSTAMP_NONE || exp > until ||
        (!inclusive && exp == until))
      break;
    if (exp <= r->now) {
      if (++stuck == STUCK_LIMIT) {
        char t[32];

        return pkt_fail(r,
                        "the core's deadline stays at or before %s after "
                        "%d calls of tcpu_endpoint_handle_expiry",
                        pkt_fmt_time(r, r->now, t, sizeof(t)), STUCK_LIMIT);
      }
      exp = r->now;
    } else {
      stuck = 0;
    }
    r->now = exp;
    if ((rc = tcpu_endpoint_handle_expiry(r->ep, r->now)) < 0)
      return pkt_fail(r, "tcpu_endpoint_handle_expiry failed: %s",
                      tcpu_err_name(rc));
    if (pkt_time_drain(r) != 0)
      return -1;
  }
  if (r->qlen == 0 && until != TCPU_TSTAMP_NONE && until > r->now)
    r->now = until;
  return 0;
}

const pkt_dgram *pkt_time_peek(const pkt_run *r) {
  return r->qlen > 0 ? &r->q[r->qhead] : NULL;
}

void pkt_time_pop(pkt_run *r) {
  if (r->qlen == 0)
    return;
  free(r->q[r->qhead].buf);
  r->qhead++;
  if (--r->qlen == 0)
    r->qhead = 0;
}

void pkt_time_free(pkt_run *r) {
  while (r->qlen > 0)
    pkt_time_pop(r);
  free(r->q);
  r->q = NULL;
  r->qcap = 0;
}
