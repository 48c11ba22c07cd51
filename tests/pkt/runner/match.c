/*
 * match.c — an outbound datagram against the scripted segment: time
 * window, port, flags, sequence range, ack, window, options (compared by
 * meaning; TS val is never compared) and payload bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "run.h"

#define WHY(...)                                                             \
  do {                                                                       \
    snprintf(why, n, __VA_ARGS__);                                           \
    return -1;                                                               \
  } while (0)

/* Learns from a segment the core sent: the local port, and the ISN from
 * the first SYN of an incarnation.  A SYN with another sequence number,
 * or one answering the script's candidate SYN (wire.c), starts a new
 * incarnation; a retransmitted one does not. */
static void learn(pkt_flow *f, const tcpu_seg *s) {
  if (f->lport == 0 || (s->flags & TH_SYN))
    f->lport = s->sport;
  if (!(s->flags & TH_SYN))
    return;
  if (f->isn_known && (s->seq != f->isn || f->cand_known)) {
    pkt_flow_new_incarnation(f);
    if (f->cand_known)
      f->risn = f->cand;
  }
  f->cand_known = 0;
  if (!f->isn_known) {
    f->isn = s->seq;
    f->isn_known = 1;
  }
}

static int check_options(const pkt_seg_spec *e, const tcpu_seg *s,
                         char *why, size_t n) {
  tcpu_seg_opts x;
  const tcpu_seg_opts *a = &s->opt;

  if (!e->opts_given) {
    if (s->hdr_len > TCPU_TCP_HDR_LEN)
      WHY("options present where the script lists none (<...> skips the "
          "check)");
    return 0;
  }
  if (e->opts_any)
    return 0;
  memset(&x, 0, sizeof(x));
  for (size_t i = 0; i < e->nopts; i++) {
    const pkt_opt *o = &e->opts[i];

    switch (o->kind) {
    case PKT_OPT_MSS:
      x.has_mss = 1;
      x.mss = (uint16_t)o->a;
      break;
    case PKT_OPT_WSCALE:
      x.has_wscale = 1;
      x.wscale = (uint8_t)o->a;
      break;
    case PKT_OPT_SACKOK:
      x.sack_permitted = 1;
      break;
    case PKT_OPT_TS:
      x.has_ts = 1;
      x.ts_ecr = o->b;
      break;
    case PKT_OPT_SACK:
      x.nsack = o->nsack;
      memcpy(x.sack, o->sack, sizeof(x.sack));
      break;
    case PKT_OPT_EOL:
    case PKT_OPT_NOP:
    case PKT_OPT_RAW:
      break;
    }
  }
  if (x.has_mss != a->has_mss || (x.has_mss && x.mss != a->mss))
    WHY("mss option differs");
  if (x.has_wscale != a->has_wscale ||
      (x.has_wscale && x.wscale != a->wscale))
    WHY("wscale option differs");
  if (x.sack_permitted != a->sack_permitted)
    WHY("sackOK option differs");
  if (x.has_ts != a->has_ts)
    WHY("TS option %s", a->has_ts ? "present, not expected" : "missing");
  if (x.has_ts && x.ts_ecr != a->ts_ecr)
    WHY("TS ecr %" PRIu32 ", expected %" PRIu32, a->ts_ecr, x.ts_ecr);
  if (x.nsack != a->nsack)
    WHY("%u SACK blocks, expected %u", a->nsack, x.nsack);
  for (unsigned b = 0; b < x.nsack; b++)
    if (x.sack[b].start != a->sack[b].start || x.sack[b].end != a->sack[b].end)
      WHY("SACK block %u differs", b + 1);
  return 0;
}

static int check_payload(const pkt_flow *f, const tcpu_seg *s, char *why,
                         size_t n) {
  uint32_t first;

  if (!f->isn_known)
    return 0;
  /* Stream offset 0 is the byte after the SYN. */
  first = s->seq - f->isn - 1 + ((s->flags & TH_SYN) ? 1u : 0u);
  for (size_t i = 0; i < s->len; i++) {
    uint8_t want = pkt_pattern((uint32_t)(first + i));

    if (s->data[i] != want)
      WHY("payload byte at relative sequence %" PRIu32
          " is 0x%02x, the application wrote 0x%02x",
          (uint32_t)(first + i + 1), s->data[i], want);
  }
  return 0;
}

static int check(const pkt_event *ev, const pkt_flow *f, const tcpu_seg *s,
                 char *why, size_t n) {
  const pkt_seg_spec *e = &ev->u.seg;
  uint32_t rel = s->seq - (f->isn_known ? f->isn : 0);

  if (s->dport != ev->rport)
    WHY("sent to port %u, the script's port is %u", s->dport, ev->rport);
  if (s->flags != e->flags)
    WHY("flags differ");
  if (rel != e->start)
    WHY("sequence number %" PRIu32 ", expected %" PRIu32, rel, e->start);
  if (s->len != e->len)
    WHY("%zu payload bytes, expected %" PRIu32, s->len, e->len);
  if (e->has_ack && s->ack != e->ack)
    WHY("ack %" PRIu32 ", expected %" PRIu32, s->ack, e->ack);
  if (e->has_win && s->wnd != e->win)
    WHY("win %u, expected %u", s->wnd, e->win);
  if (e->has_urg && s->urp != e->urg)
    WHY("urg %u, expected %u", s->urp, e->urg);
  if (check_options(e, s, why, n) != 0)
    return -1;
  return check_payload(f, s, why, n);
}

/* Decodes d; on failure reports it. */
static int decode(pkt_run *r, const pkt_dgram *d, tcpu_seg *s) {
  tcpu_seg_status st = tcpu_seg_decode(s, d->buf, d->len, 1);

  if (st != TCPU_SEG_OK)
    return pkt_fail(r, "the core sent a %zu-byte datagram that does not "
                       "decode (tcpu_seg_status %d)",
                    d->len, (int)st);
  if (!tcpu_addr_equal(&d->to, &r->remote))
    return pkt_fail(r, "the core sent a datagram to a UDP address other "
                       "than the script's");
  return 0;
}

static void learn_ts(pkt_flow *f, const pkt_seg_spec *e, const tcpu_seg *s) {
  if (f->ts_known || !s->opt.has_ts || e->opts_any)
    return;
  for (size_t i = 0; i < e->nopts; i++) {
    if (e->opts[i].kind == PKT_OPT_TS) {
      f->ts_off = s->opt.ts_val - e->opts[i].a;
      f->ts_known = 1;
    }
  }
}

/* %set ts_clock_check=1: RFC 7323 §5.4, the TS clock is monotonic and
 * ticks at most once per millisecond, so within an incarnation each TS val
 * moves forward by no more than the milliseconds elapsed (plus one for
 * rounding). */
static void check_ts_clock(pkt_flow *f, const tcpu_seg *s, tcpu_tstamp t,
                           char *why, size_t n) {
  if (!s->opt.has_ts)
    return;
  if (f->tsval_known) {
    int64_t dv = (int32_t)(s->opt.ts_val - f->tsval);
    int64_t dt = (int64_t)((t - f->tsval_t) / TCPU_NS_PER_MS);

    if (dv < 0 || dv > dt + 1) {
      snprintf(why, n,
               "TS val %" PRIu32 " moved %" PRId64 " from the last one (%"
               PRIu32 ") in %" PRId64 " ms (RFC 7323 §5.4: a monotonic "
               "clock of at most one tick per ms)",
               s->opt.ts_val, dv, f->tsval, dt);
      return;
    }
  }
  f->tsval = s->opt.ts_val;
  f->tsval_t = t;
  f->tsval_known = 1;
}

int pkt_outbound_match(pkt_run *r, const pkt_event *ev, const pkt_dgram *d,
                       tcpu_tstamp lo, tcpu_tstamp hi) {
  char why[200] = "", seg[400], t[32], tl[32], th[32];
  pkt_flow *f;
  tcpu_seg s;

  if (decode(r, d, &s) != 0)
    return -1;
  if ((f = pkt_flow_get(r, s.dport)) == NULL)
    return pkt_fail(r, "more than %d remote ports", PKT_MAX_FLOWS);
  learn(f, &s);
  pkt_fmt_seg(seg, sizeof(seg), &s, d->buf, f->isn_known ? f->isn : 0);
  pkt_fmt_time(r, d->t, t, sizeof(t));
  if (d->t < lo || d->t > hi)
    snprintf(why, sizeof(why), "sent at %s, expected between %s and %s", t,
             pkt_fmt_time(r, lo, tl, sizeof(tl)),
             pkt_fmt_time(r, hi, th, sizeof(th)));
  else
    check(ev, f, &s, why, sizeof(why));
  if (why[0] == '\0' && r->sc->ts_clock_check)
    check_ts_clock(f, &s, d->t, why, sizeof(why));
  if (why[0] != '\0') {
    pkt_fail(r, "outbound segment mismatch at %s (%u > %u): %s", t, s.sport,
             s.dport, why);
    pkt_fail(r, "expected: %s", ev->body);
    return pkt_fail(r, "actual:   > %s", seg);
  }
  learn_ts(f, &ev->u.seg, &s);
  pkt_flow_note_sent(f, &s);
  pkt_trace(r, "%s > %s  (%u > %u)", t, seg, s.sport, s.dport);
  return 0;
}

int pkt_outbound_unexpected(pkt_run *r, const pkt_dgram *d,
                            const char *when) {
  char seg[400], t[32];
  pkt_flow *f;
  tcpu_seg s;

  if (decode(r, d, &s) != 0)
    return -1;
  f = pkt_flow_get(r, s.dport);
  pkt_fmt_seg(seg, sizeof(seg), &s, d->buf,
              f != NULL && f->isn_known ? f->isn : 0);
  pkt_fail(r, "unexpected outbound segment at %s (%u > %u) %s",
           pkt_fmt_time(r, d->t, t, sizeof(t)), s.sport, s.dport, when);
  return pkt_fail(r, "actual:   > %s", seg);
}
