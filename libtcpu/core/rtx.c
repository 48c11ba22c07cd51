/* rtx.c — the retransmission queue; see rtx.h. */
#include "core/rtx.h"

#include <stdlib.h>
#include <string.h>

#include "core/seq.h"

void tcpu_rtxq_init(tcpu_rtxq *q) { memset(q, 0, sizeof *q); }

void tcpu_rtxq_free(tcpu_rtxq *q) {
  free(q->v);
  memset(q, 0, sizeof *q);
}

static int grow(tcpu_rtxq *q) {
  uint32_t ncap = q->cap ? q->cap * 2 : 16;
  tcpu_txseg *nv = malloc(ncap * sizeof *nv);
  if (nv == NULL)
    return TCPU_ERR_NOMEM;
  for (uint32_t i = 0; i < q->n; i++)
    nv[i] = *tcpu_rtxq_at(q, i);
  free(q->v);
  q->v = nv;
  q->cap = ncap;
  q->head = 0;
  return 0;
}

int tcpu_rtxq_push(tcpu_rtxq *q, uint32_t seq, uint32_t len, uint32_t flags,
                   tcpu_tstamp now) {
  if (q->n == q->cap && grow(q) != 0)
    return TCPU_ERR_NOMEM;
  tcpu_txseg *s = &q->v[(q->head + q->n) & (q->cap - 1)];
  s->seq = seq;
  s->len = len;
  s->xmit_ts = now;
  s->first_tx_ts = now;
  s->flags = flags & TXSEG_FIN;
  q->n++;
  return 0;
}

void tcpu_rtxq_drop_last(tcpu_rtxq *q) {
  if (q->n > 0)
    q->n--;
}

uint32_t tcpu_rtxq_find(const tcpu_rtxq *q, uint32_t seq) {
  uint32_t lo = 0, hi = q->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    const tcpu_txseg *s = tcpu_rtxq_at(q, mid);
    if (seq_lt(seq, s->seq))
      hi = mid;
    else if (seq_geq(seq, s->seq + s->len))
      lo = mid + 1;
    else
      return mid;
  }
  return q->n;
}

static void unlost(tcpu_rtxq *q, tcpu_txseg *s) {
  if (s->flags & TXSEG_LOST)
    q->lost -= s->len;
  if (s->flags & TXSEG_RETRANS)
    q->retrans -= s->len;
  s->flags &= ~(TXSEG_LOST | TXSEG_RETRANS);
}

void tcpu_rtxq_set_sacked(tcpu_rtxq *q, tcpu_txseg *s) {
  if (s->flags & TXSEG_SACKED)
    return;
  unlost(q, s);
  s->flags |= TXSEG_SACKED;
  q->sacked += s->len;
}

/* A record judged lost again after its retransmission is counted once
 * as lost, and its retransmission no longer as in flight. */
void tcpu_rtxq_set_lost(tcpu_rtxq *q, tcpu_txseg *s) {
  if (s->flags & TXSEG_SACKED)
    return;
  if (s->flags & TXSEG_RETRANS) {
    q->retrans -= s->len;
    s->flags &= ~TXSEG_RETRANS;
  }
  if (!(s->flags & TXSEG_LOST)) {
    s->flags |= TXSEG_LOST;
    q->lost += s->len;
    q->lost_total += s->len;
  }
}

void tcpu_rtxq_set_retransmitted(tcpu_rtxq *q, tcpu_txseg *s,
                                 tcpu_tstamp now) {
  if ((s->flags & TXSEG_LOST) && !(s->flags & TXSEG_RETRANS)) {
    s->flags |= TXSEG_RETRANS;
    q->retrans += s->len;
  }
  s->flags |= TXSEG_EVER_RETRANS;
  s->xmit_ts = now;
}

void tcpu_rtxq_clear_lost(tcpu_rtxq *q) {
  for (uint32_t i = 0; i < q->n; i++)
    unlost(q, tcpu_rtxq_at(q, i));
}

void tcpu_rtxq_ack(tcpu_rtxq *q, uint32_t ack,
                   void (*fn)(const tcpu_txseg *s, void *arg), void *arg) {
  while (q->n > 0) {
    tcpu_txseg *s = tcpu_rtxq_at(q, 0);
    if (seq_leq(s->seq + s->len, ack)) {
      if (fn)
        fn(s, arg);
      unlost(q, s);
      if (s->flags & TXSEG_SACKED)
        q->sacked -= s->len;
      q->head = (q->head + 1) & (q->cap - 1);
      q->n--;
      continue;
    }
    if (seq_gt(ack, s->seq)) {
      /* Partly acknowledged: keep the rest, with its counters. */
      uint32_t d = ack - s->seq;
      if (s->flags & TXSEG_LOST)
        q->lost -= d;
      if (s->flags & TXSEG_RETRANS)
        q->retrans -= d;
      if (s->flags & TXSEG_SACKED)
        q->sacked -= d;
      s->seq = ack;
      s->len -= d;
    }
    break;
  }
  if (q->n == 0)
    q->head = 0;
}
