/*
 * aqm.c — the event-driven bottleneck queue of the lab link: CoDel
 * (RFC 8289), RED (Floyd & Jacobson, "Random Early Detection Gateways for
 * Congestion Avoidance", 1993) and constant-rate or trace-driven service;
 * see aqm.h.
 */
#include "lab/aqm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab/link.h"

#define CODEL_TARGET (5 * TCPU_NS_PER_MS)     /* RFC 8289 §4.4 */
#define CODEL_INTERVAL (100 * TCPU_NS_PER_MS) /* RFC 8289 §4.3 */
#define CODEL_MAXPACKET 1500u
#define RED_MAX_P 0.1
#define RED_WQ 0.002

static void fill_defaults(tcpu_aqm_cfg *c, uint64_t limit_bytes) {
  if (!c->codel_target)
    c->codel_target = CODEL_TARGET;
  if (!c->codel_interval)
    c->codel_interval = CODEL_INTERVAL;
  if (!c->codel_maxpacket)
    c->codel_maxpacket = CODEL_MAXPACKET;
  if (c->red_min == 0 && c->red_max == 0) {
    c->red_min = limit_bytes / 4;
    c->red_max = limit_bytes * 3 / 4;
  }
  if (c->red_max_p == 0)
    c->red_max_p = RED_MAX_P;
  if (c->red_wq == 0)
    c->red_wq = RED_WQ;
}

int tcpu_aqm_cfg_check(const tcpu_aqm_cfg *cfg, uint64_t limit_bytes) {
  tcpu_aqm_cfg c = *cfg;
  fill_defaults(&c, limit_bytes);
  switch (c.kind) {
  case TCPU_AQM_DROPTAIL:
  case TCPU_AQM_CODEL:
    return 0;
  case TCPU_AQM_RED:
    /* Written to reject NaN as well. */
    if (!(c.red_max_p > 0 && c.red_max_p <= 1) ||
        !(c.red_wq > 0 && c.red_wq <= 1) || c.red_min >= c.red_max)
      return TCPU_ERR_INVAL;
    return 0;
  }
  return TCPU_ERR_INVAL;
}

int tcpu_aqm_init(tcpu_aqm *q, const tcpu_aqm_cfg *cfg, uint64_t rate_bps,
                  const tcpu_mm_trace *trace, tcpu_tstamp origin,
                  uint64_t limit_bytes, uint32_t limit_pkts,
                  struct tcpu_link_rng *rng) {
  memset(q, 0, sizeof(*q));
  if (cfg->kind == TCPU_AQM_RED && !rng)
    return TCPU_ERR_INVAL;
  int rc = tcpu_aqm_set_cfg(q, cfg, limit_bytes, limit_pkts);
  if (rc != 0)
    return rc;
  q->rate_bps = rate_bps;
  q->trace = trace;
  q->origin = origin;
  q->rng = rng;
  q->busy_until = origin;
  q->opp_left = TCPU_MM_TRACE_OPP_BYTES;
  q->red_idle_since = origin;
  return 0;
}

int tcpu_aqm_set_cfg(tcpu_aqm *q, const tcpu_aqm_cfg *cfg,
                     uint64_t limit_bytes, uint32_t limit_pkts) {
  if (tcpu_aqm_cfg_check(cfg, limit_bytes) != 0 ||
      (cfg->kind == TCPU_AQM_RED && q->cap && !q->rng))
    return TCPU_ERR_INVAL;
  q->cfg = *cfg;
  fill_defaults(&q->cfg, limit_bytes);
  q->limit_bytes = limit_bytes;
  q->limit_pkts = limit_pkts;
  return 0;
}

void tcpu_aqm_free(tcpu_aqm *q, void (*free_pkt)(void *pkt)) {
  for (size_t i = 0; i < q->len; i++) {
    if (free_pkt)
      free_pkt(q->q[(q->head + i) % q->cap].pkt);
  }
  free(q->q);
  q->q = NULL;
  q->head = q->len = q->cap = 0;
  q->bytes = 0;
}

size_t tcpu_aqm_len(const tcpu_aqm *q) { return q->len; }

/* ------------------------------------------------------------- server */

/* Serialisation time, rounded up as the link does (link.c tx_time). */
static tcpu_duration tx_time(uint64_t rate_bps, uint64_t wire) {
  if (rate_bps == 0)
    return 0;
  uint64_t bits_ns = wire * 8 * TCPU_NS_PER_S;
  return bits_ns / rate_bps + (bits_ns % rate_bps != 0);
}

static tcpu_tstamp opp_time(const tcpu_aqm *q, uint64_t k) {
  return q->origin + tcpu_mm_trace_opp_ms(q->trace, k) * TCPU_NS_PER_MS;
}

/* The opportunity that would carry the first byte of a packet enqueued
 * at enq: the one with bytes left (q->opp) unless it lies before enq,
 * else the first at or after enq; bytes left in skipped ones are lost,
 * as on a real link that had nothing to send then. */
static uint64_t first_opp(const tcpu_aqm *q, tcpu_tstamp enq) {
  uint64_t ms = 0;
  if (enq > q->origin) {
    tcpu_duration d = enq - q->origin;
    ms = d / TCPU_NS_PER_MS + (d % TCPU_NS_PER_MS != 0);
  }
  uint64_t k = tcpu_mm_trace_next_opp(q->trace, ms);
  return k > q->opp ? k : q->opp;
}

static tcpu_tstamp start_of(const tcpu_aqm *q, tcpu_tstamp enq) {
  if (q->trace)
    return opp_time(q, first_opp(q, enq));
  return q->busy_until > enq ? q->busy_until : enq;
}

tcpu_tstamp tcpu_aqm_next_start(const tcpu_aqm *q) {
  if (q->len == 0)
    return TCPU_TSTAMP_NONE;
  return start_of(q, q->q[q->head].enq);
}

/* Serves a packet whose first byte goes at t; returns its departure. */
static tcpu_tstamp serve(tcpu_aqm *q, const tcpu_aqm_entry *e, tcpu_tstamp t) {
  q->stats.served++;
  if (!q->trace) {
    q->busy_until = t + tx_time(q->rate_bps, e->wire);
    return q->busy_until;
  }
  uint64_t k = first_opp(q, e->enq);
  if (k != q->opp) {
    q->opp = k;
    q->opp_left = TCPU_MM_TRACE_OPP_BYTES;
  }
  /* Mahimahi: a packet takes bytes from successive opportunities, and
   * what its last one leaves may carry the next packet. */
  uint32_t w = e->wire;
  while (w > q->opp_left) {
    w -= q->opp_left;
    q->opp++;
    q->opp_left = TCPU_MM_TRACE_OPP_BYTES;
  }
  q->opp_left -= w;
  tcpu_tstamp depart = opp_time(q, q->opp);
  if (q->opp_left == 0) {
    q->opp++;
    q->opp_left = TCPU_MM_TRACE_OPP_BYTES;
  }
  return depart;
}

/* -------------------------------------------------------------- ring */

static int push(tcpu_aqm *q, const tcpu_aqm_entry *e) {
  if (q->len == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 64;
    tcpu_aqm_entry *n = malloc(cap * sizeof(*n));
    if (!n)
      return TCPU_ERR_NOMEM;
    for (size_t i = 0; i < q->len; i++)
      n[i] = q->q[(q->head + i) % q->cap];
    free(q->q);
    q->q = n;
    q->head = 0;
    q->cap = cap;
  }
  q->q[(q->head + q->len) % q->cap] = *e;
  q->len++;
  q->bytes += e->wire;
  if (q->bytes > q->stats.max_backlog_bytes)
    q->stats.max_backlog_bytes = q->bytes;
  return 0;
}

static int pop(tcpu_aqm *q, tcpu_aqm_entry *e) {
  if (q->len == 0)
    return 0;
  *e = q->q[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
  q->bytes -= e->wire;
  return 1;
}

/* ------------------------------------------------------------- CoDel */

/* RFC 8289 §5.5 control_law(): t + interval / sqrt(count). */
static tcpu_tstamp control_law(const tcpu_aqm *q, tcpu_tstamp t) {
  return t + (tcpu_duration)((double)q->cfg.codel_interval /
                             sqrt((double)q->count));
}

/* RFC 8289 §5.4 dodequeue(): takes the head and says whether it may be
 * dropped.  Returns 0 when the queue is empty. */
static int dodequeue(tcpu_aqm *q, tcpu_tstamp now, tcpu_aqm_entry *e,
                     int *ok_to_drop) {
  *ok_to_drop = 0;
  if (!pop(q, e)) {
    /* The queue is empty: leave the above-target state. */
    q->first_above_time = 0;
    return 0;
  }
  tcpu_duration sojourn = now - e->enq;
  if (sojourn < q->cfg.codel_target || q->bytes <= q->cfg.codel_maxpacket) {
    /* Went below target, or too little is left to form a standing queue:
     * stay out of the drop state. */
    q->first_above_time = 0;
  } else if (q->first_above_time == 0) {
    /* Just went above target: drop only if it stays there an interval. */
    q->first_above_time = now + q->cfg.codel_interval;
  } else if (now >= q->first_above_time) {
    *ok_to_drop = 1;
  }
  return 1;
}

/* RFC 8289 §5.5 dequeue().  Returns 1 with the packet to serve, 0 when
 * none is left; dropped packets go to out. */
static int codel_dequeue(tcpu_aqm *q, tcpu_tstamp now, tcpu_aqm_entry *e,
                         tcpu_aqm_out_fn out, void *arg) {
  int ok_to_drop;
  if (!dodequeue(q, now, e, &ok_to_drop)) {
    q->dropping = 0;
    return 0;
  }
  if (q->dropping) {
    if (!ok_to_drop) {
      /* Sojourn time below target: leave the drop state. */
      q->dropping = 0;
    }
    /* Time for the next drop: drop as many as the control law says,
     * leaving the drop state as soon as the sojourn time is fine. */
    while (now >= q->drop_next && q->dropping) {
      q->stats.aqm_drops++;
      out(arg, e->pkt, 1, now);
      q->count++;
      if (!dodequeue(q, now, e, &ok_to_drop)) {
        q->dropping = 0;
        return 0;
      }
      if (!ok_to_drop)
        q->dropping = 0;
      else
        q->drop_next = control_law(q, q->drop_next);
    }
  } else if (ok_to_drop) {
    /* Enter the drop state with one drop. */
    q->stats.aqm_drops++;
    out(arg, e->pkt, 1, now);
    int have = dodequeue(q, now, e, &ok_to_drop);
    q->dropping = 1;
    /* If the last drop state ended recently, resume near its drop rate
     * instead of starting over at 1. */
    uint32_t delta = q->count - q->lastcount;
    q->count = 1;
    if (delta > 1 && (int64_t)(now - q->drop_next) <
                         (int64_t)(16 * q->cfg.codel_interval))
      q->count = delta;
    q->drop_next = control_law(q, now);
    q->lastcount = q->count;
    if (!have)
      return 0;
  }
  return 1;
}

/* --------------------------------------------------------------- RED */

/* Floyd & Jacobson §4 (and Figure 2): the average backlog, decayed over
 * an idle period as if m small packets had left. */
static void red_update_avg(tcpu_aqm *q, tcpu_tstamp now) {
  double wq = q->cfg.red_wq;
  if (q->len == 0 && q->red_idle_since != TCPU_TSTAMP_NONE &&
      now > q->red_idle_since) {
    uint64_t rate = q->trace ? tcpu_mm_trace_rate_bps(q->trace) : q->rate_bps;
    tcpu_duration s = tx_time(rate, q->cfg.codel_maxpacket);
    double m = s ? (double)(now - q->red_idle_since) / (double)s : 1e9;
    q->red_avg *= pow(1.0 - wq, m);
  } else {
    q->red_avg = (1.0 - wq) * q->red_avg + wq * (double)q->bytes;
  }
}

/* Returns 1 when RED drops the arriving packet of `wire` bytes. */
static int red_drop(tcpu_aqm *q, uint32_t wire, tcpu_tstamp now) {
  red_update_avg(q, now);
  double avg = q->red_avg, lo = (double)q->cfg.red_min,
         hi = (double)q->cfg.red_max;
  if (avg < lo) {
    q->red_count = -1;
    return 0;
  }
  if (avg >= hi) {
    q->red_count = 0;
    return 1;
  }
  q->red_count++;
  /* Byte mode (§10): larger packets are more likely to be dropped. */
  double pb = q->cfg.red_max_p * (avg - lo) / (hi - lo) * (double)wire /
              (double)q->cfg.codel_maxpacket;
  /* Spreading drops evenly: p_a = p_b / (1 - count * p_b). */
  double denom = 1.0 - (double)q->red_count * pb;
  double pa = denom > 0 ? pb / denom : 1.0;
  if (tcpu_link_rng_chance(q->rng, pa)) {
    q->red_count = 0;
    return 1;
  }
  return 0;
}

/* --------------------------------------------------------------- api */

int tcpu_aqm_enqueue(tcpu_aqm *q, void *pkt, uint32_t wire, tcpu_tstamp now) {
  if (q->cfg.kind == TCPU_AQM_RED && red_drop(q, wire, now)) {
    q->stats.aqm_drops++;
    return TCPU_AQM_EARLY_DROP;
  }
  if ((q->limit_pkts && q->len + 1 > q->limit_pkts) ||
      (q->limit_bytes && q->bytes + wire > q->limit_bytes)) {
    q->stats.tail_drops++;
    return TCPU_AQM_TAIL_DROP;
  }
  tcpu_aqm_entry e = {.enq = now, .wire = wire, .pkt = pkt};
  if (push(q, &e) != 0)
    return TCPU_ERR_NOMEM;
  q->stats.enqueued++;
  q->red_idle_since = TCPU_TSTAMP_NONE;
  return TCPU_AQM_QUEUED;
}

void tcpu_aqm_advance(tcpu_aqm *q, tcpu_tstamp now, tcpu_aqm_out_fn out,
                      void *arg) {
  while (q->len > 0) {
    tcpu_tstamp t = start_of(q, q->q[q->head].enq);
    if (t > now)
      break;
    tcpu_aqm_entry e;
    int have;
    if (q->cfg.kind == TCPU_AQM_CODEL)
      have = codel_dequeue(q, t, &e, out, arg);
    else
      have = pop(q, &e);
    if (have) {
      tcpu_tstamp depart = serve(q, &e, t);
      out(arg, e.pkt, 0, depart);
    }
    if (q->len == 0)
      q->red_idle_since = t;
  }
}
