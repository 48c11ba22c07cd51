/*
 * rtx.h — the retransmission queue: one record per segment in flight,
 * oldest first, with what loss recovery needs to know about it (SACKed,
 * lost, retransmitted, when it was last sent).  The bytes themselves stay
 * in the send ring; a record only names a sequence range.
 *
 * The queue keeps the RFC 6675 §2 counters up to date, so the sender's
 * estimate of what is in the network is O(1):
 *   pipe = (SND.MAX - SND.UNA) - sacked - lost + retrans
 * (Linux's packets_in_flight, in bytes).
 */
#ifndef TCPU_CORE_RTX_H
#define TCPU_CORE_RTX_H

#include <stdint.h>

#include "tcpu/tcpu.h"

enum {
  TXSEG_SACKED = 1u << 0,  /* covered by a SACK block */
  TXSEG_LOST = 1u << 1,    /* judged lost, awaiting or after retransmission */
  TXSEG_RETRANS = 1u << 2, /* retransmitted since it was judged lost */
  TXSEG_EVER_RETRANS = 1u << 3, /* retransmitted at least once (Karn) */
  TXSEG_FIN = 1u << 4      /* the last sequence number is our FIN */
};

typedef struct tcpu_txseg {
  uint32_t seq, len;       /* sequence space, FIN included */
  tcpu_tstamp xmit_ts;     /* last (re)transmission */
  tcpu_tstamp first_tx_ts; /* first transmission */
  uint32_t flags;
  /* Delivery-rate estimation (cc/rate.c): the connection's delivery
   * state when this segment was last sent. */
  uint64_t rs_delivered;
  tcpu_tstamp rs_delivered_ts, rs_first_sent_ts;
  unsigned rs_app_limited;
} tcpu_txseg;

typedef struct tcpu_rtxq {
  tcpu_txseg *v;
  uint32_t cap, head, n;  /* cap is a power of two */
  uint32_t sacked, lost, retrans; /* bytes, per the flags */
  uint64_t lost_total;            /* bytes ever marked lost */
} tcpu_rtxq;

void tcpu_rtxq_init(tcpu_rtxq *q);
void tcpu_rtxq_free(tcpu_rtxq *q);

static inline tcpu_txseg *tcpu_rtxq_at(const tcpu_rtxq *q, uint32_t i) {
  return &q->v[(q->head + i) & (q->cap - 1)];
}

/* Appends a record for a first transmission.  Returns 0 or
 * TCPU_ERR_NOMEM. */
int tcpu_rtxq_push(tcpu_rtxq *q, uint32_t seq, uint32_t len, uint32_t flags,
                   tcpu_tstamp now);
/* Forgets the newest record (its segment could not be sent after all). */
void tcpu_rtxq_drop_last(tcpu_rtxq *q);
/* Index of the record holding sequence number seq, or q->n if none. */
uint32_t tcpu_rtxq_find(const tcpu_rtxq *q, uint32_t seq);

void tcpu_rtxq_set_sacked(tcpu_rtxq *q, tcpu_txseg *s);
void tcpu_rtxq_set_lost(tcpu_rtxq *q, tcpu_txseg *s);
void tcpu_rtxq_set_retransmitted(tcpu_rtxq *q, tcpu_txseg *s,
                                 tcpu_tstamp now);
/* Forgets every loss mark (spurious recovery undone). */
void tcpu_rtxq_clear_lost(tcpu_rtxq *q);

/* Removes what the cumulative ACK covers; a record it covers in part is
 * trimmed.  fn (may be NULL) sees each record that leaves the queue fully
 * acknowledged, before it goes. */
void tcpu_rtxq_ack(tcpu_rtxq *q, uint32_t ack,
                   void (*fn)(const tcpu_txseg *s, void *arg), void *arg);

#endif /* TCPU_CORE_RTX_H */
