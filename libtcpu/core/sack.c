/*
 * sack.c — SACK information on the sender: marking the retransmission
 * queue from SACK blocks (RFC 2018 §3, RFC 6675 §4 "Update") and telling
 * D-SACK blocks apart (RFC 2883 §4).
 */
#include "cc/cc.h"
#include "core/endpoint.h"
#include "core/seq.h"

/* RFC 2883 §4: a first block below the cumulative ACK, or inside the
 * second block, reports a duplicate, not new data. */
static int is_dsack(const tcpu_seg *s) {
  const tcpu_sack_block *b = s->opt.sack;
  if (seq_leq(b[0].end, s->ack))
    return 1;
  return s->opt.nsack > 1 && seq_geq(b[0].start, b[1].start) &&
         seq_leq(b[0].end, b[1].end);
}

static void note_dsack(tcpu_conn *c, uint32_t start, uint32_t end,
                       tcpu_ack_ctx *ctx) {
  ctx->dsack = 1;
  ctx->dsack_start = start;
  ctx->dsack_end = end;
  c->dsacks++;
  /* Did it duplicate one of our retransmissions?  Then that
   * retransmission was not needed (RFC 3708 §3). */
  uint32_t i = tcpu_rtxq_find(&c->rtxq, start);
  if (i < c->rtxq.n) {
    if (tcpu_rtxq_at(&c->rtxq, i)->flags & TXSEG_EVER_RETRANS)
      ctx->dsack_on_retrans = 1;
  } else if (seq_lt(start, c->snd_una)) {
    /* Already acknowledged: count it if a retransmission is outstanding
     * in this episode. */
    ctx->dsack_on_retrans = c->undo_retrans > 0;
  }
  tcpu_rack_on_dsack(c);
}

void tcpu_sack_input(tcpu_conn *c, const tcpu_seg *s, tcpu_ack_ctx *ctx,
                     tcpu_tstamp now) {
  int first = 0;
  if (s->opt.nsack > 0 && is_dsack(s)) {
    note_dsack(c, s->opt.sack[0].start, s->opt.sack[0].end, ctx);
    first = 1;
  }
  tcpu_rtxq *q = &c->rtxq;
  for (int k = first; k < s->opt.nsack; k++) {
    uint32_t start = s->opt.sack[k].start, end = s->opt.sack[k].end;
    /* Ignore blocks that make no sense: empty, inverted, beyond what
     * we sent, or already acknowledged (RFC 2018 §3). */
    if (!seq_lt(start, end) || seq_gt(end, c->snd_max) ||
        seq_leq(end, c->snd_una))
      continue;
    if (seq_lt(start, c->snd_una))
      start = c->snd_una;
    uint32_t i = tcpu_rtxq_find(q, start);
    /* A block starting inside a record marks only whole records. */
    if (i < q->n && tcpu_rtxq_at(q, i)->seq != start)
      i++;
    for (; i < q->n; i++) {
      tcpu_txseg *t = tcpu_rtxq_at(q, i);
      /* A block covers data only: a record that ends in our FIN counts as
       * SACKed once its data is, or a tail "data+FIN" lost before it would
       * never be judged lost (RACK needs a later segment delivered). */
      uint32_t tend = t->seq + t->len;
      if ((t->flags & TXSEG_FIN) && t->len > 1)
        tend--;
      if (seq_gt(tend, end))
        break;
      if (t->flags & TXSEG_SACKED)
        continue;
      tcpu_rtxq_set_sacked(q, t);
      ctx->sacked += t->len;
      ctx->delivered += t->len;
      c->sacked_segs++;
      tcpu_rack_on_delivered(c, t, now);
      tcpu_rate_on_delivered(c, t, ctx->rs, now);
      if (!(t->flags & TXSEG_EVER_RETRANS) &&
          (!ctx->have_rtt || t->xmit_ts > ctx->rtt_xmit)) {
        ctx->have_rtt = 1;
        ctx->rtt_xmit = t->xmit_ts;
      }
    }
  }
}
