/*
 * wire.c — an inbound script segment onto the wire.  The header and
 * payload come from tcpu_seg_encode; the options are then written exactly
 * as the script lists them (order, NOPs, EOL, unknown kinds, even
 * malformed lengths) and the checksum is recomputed, so scripts can feed
 * the core anything a real peer could send.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* The script's SYN.  The first one of an incarnation gives the remote
 * ISN.  One with another sequence number (a new connection over a
 * TIME_WAIT, an old duplicate, an attack) is only a candidate: the
 * numbering changes when the core answers it with a SYN-ACK of its own
 * (match.c), so the ACKs it draws otherwise keep their numbers. */
static void note_syn(pkt_flow *f, const pkt_seg_spec *e) {
  if (!(e->flags & TH_SYN) || (e->flags & TH_RST))
    return;
  if (!f->risn_known) {
    f->risn = e->start;
    f->risn_known = 1;
    f->cand_known = 0;
  } else if (e->start != f->risn && !(e->flags & TH_ACK)) {
    f->cand = e->start;
    f->cand_known = 1;
  }
}

/* Writes the options at p; returns the bytes written, padded to 4. */
static size_t write_options(uint8_t *p, const pkt_seg_spec *e,
                            const pkt_flow *f) {
  uint8_t *q = p;
  uint32_t isn = f->isn_known ? f->isn : 0;

  for (size_t i = 0; i < e->nopts; i++) {
    const pkt_opt *o = &e->opts[i];

    switch (o->kind) {
    case PKT_OPT_EOL:
      *q++ = TCPOPT_EOL;
      break;
    case PKT_OPT_NOP:
      *q++ = TCPOPT_NOP;
      break;
    case PKT_OPT_MSS:
      *q++ = TCPOPT_MSS;
      *q++ = 4;
      *q++ = (uint8_t)(o->a >> 8);
      *q++ = (uint8_t)o->a;
      break;
    case PKT_OPT_WSCALE:
      *q++ = TCPOPT_WSCALE;
      *q++ = 3;
      *q++ = (uint8_t)o->a;
      break;
    case PKT_OPT_SACKOK:
      *q++ = TCPOPT_SACK_PERM;
      *q++ = 2;
      break;
    case PKT_OPT_TS:
      *q++ = TCPOPT_TIMESTAMP;
      *q++ = 10;
      put32(q, o->a);
      /* ecr echoes one of our TS vals: the script wrote it in its own
       * numbering, learned from the outbound segments. */
      put32(q + 4, f->ts_known && o->b != 0 ? o->b + f->ts_off : o->b);
      q += 8;
      break;
    case PKT_OPT_SACK:
      *q++ = TCPOPT_SACK;
      *q++ = (uint8_t)(2 + 8 * o->nsack);
      for (unsigned b = 0; b < o->nsack; b++, q += 8) {
        put32(q, o->sack[b].start + isn);
        put32(q + 4, o->sack[b].end + isn);
      }
      break;
    case PKT_OPT_RAW:
      *q++ = (uint8_t)o->a;
      *q++ = (uint8_t)o->b;
      for (uint32_t k = 2; k < o->b; k++)
        *q++ = 0;
      break;
    }
  }
  while ((q - p) % 4 != 0)
    *q++ = TCPOPT_EOL; /* RFC 9293 §3.1: padding is zeros */
  return (size_t)(q - p);
}

static uint8_t *make_payload(const pkt_seg_spec *e, const pkt_flow *f) {
  uint8_t *data = malloc(e->len > 0 ? e->len : 1);
  uint32_t first = e->start + ((e->flags & TH_SYN) ? 1u : 0u);
  /* A SYN's own sequence number is its ISN. */
  uint32_t base = ((e->flags & TH_SYN) ? e->start
                   : f->risn_known    ? f->risn
                                      : 0) + 1;

  if (data == NULL)
    return NULL;
  for (uint32_t i = 0; i < e->len; i++)
    data[i] = pkt_pattern((uint32_t)(first + i - base));
  return data;
}

int pkt_inbound(pkt_run *r, const pkt_event *ev) {
  const pkt_seg_spec *e = &ev->u.seg;
  uint8_t opts[TCPU_TCP_MAX_HDR_LEN];
  tcpu_seg s;
  pkt_flow *f;
  size_t olen, len;
  tcpu_ssize n;
  uint8_t *data;
  uint16_t csum;
  int rc;

  if (pkt_endpoint(r) != 0)
    return -1;
  if ((f = pkt_flow_get(r, ev->rport)) == NULL)
    return pkt_fail(r, "more than %d remote ports", PKT_MAX_FLOWS);
  if (e->len > PKT_DGRAM_MAX - TCPU_TCP_MAX_HDR_LEN)
    return pkt_fail(r, "a segment of %u bytes does not fit a datagram",
                    e->len);
  note_syn(f, e);

  memset(&s, 0, sizeof(s));
  s.sport = ev->rport;
  s.dport = f->lport != 0 ? f->lport : r->listen_port;
  s.seq = e->start;
  /* Our acks are relative to the core's ISN, once it is known. */
  s.ack = e->has_ack ? e->ack + (f->isn_known ? f->isn : 0) : 0;
  s.flags = e->flags;
  s.wnd = e->has_win ? e->win : 65535;
  s.urp = e->urg;
  if ((data = make_payload(e, f)) == NULL)
    return pkt_fail(r, "out of memory");
  s.data = data;
  s.len = e->len;
  n = tcpu_seg_encode(&s, r->buf, PKT_DGRAM_MAX);
  free(data);
  if (n < TCPU_TCP_HDR_LEN)
    return pkt_fail(r, "tcpu_seg_encode failed: %s", tcpu_err_name((int)n));
  len = (size_t)n;

  olen = write_options(opts, e, f);
  if (olen > 0) {
    memmove(r->buf + TCPU_TCP_HDR_LEN + olen, r->buf + TCPU_TCP_HDR_LEN,
            len - TCPU_TCP_HDR_LEN);
    memcpy(r->buf + TCPU_TCP_HDR_LEN, opts, olen);
    len += olen;
    r->buf[12] = (uint8_t)(((TCPU_TCP_HDR_LEN + olen) / 4) << 4 |
                           (r->buf[12] & 0x0f));
    r->buf[16] = r->buf[17] = 0;
    csum = tcpu_seg_checksum(r->buf, len);
    r->buf[16] = (uint8_t)(csum >> 8);
    r->buf[17] = (uint8_t)csum;
  }
  if (r->verbose) {
    char t[32], wire[400];
    tcpu_seg w;

    tcpu_seg_status st = tcpu_seg_decode(&w, r->buf, len, 0);

    /* What the core gets: acks, SACK blocks and TS ecr translated.  Bad
     * options still leave the header decoded, and the walk in pkt_fmt_seg
     * shows them as they are. */
    if (st == TCPU_SEG_OK || st == TCPU_SEG_BAD_OPTION ||
        st == TCPU_SEG_BAD_SACK)
      pkt_fmt_seg(wire, sizeof(wire), &w, r->buf, 0);
    else
      snprintf(wire, sizeof(wire), "(%zu bytes that do not decode)", len);
    pkt_trace(r, "%s %s  (%u > %u)", pkt_fmt_time(r, r->now, t, sizeof(t)),
              ev->body, s.sport, s.dport);
    pkt_trace(r, "%*s   wire: < %s", (int)strlen(t), "", wire);
  }
  if ((rc = tcpu_endpoint_recv(r->ep, &r->remote, r->buf, len, r->now)) < 0)
    return pkt_fail(r, "tcpu_endpoint_recv failed: %s", tcpu_err_name(rc));
  return 0;
}
