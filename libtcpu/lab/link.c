/*
 * link.c — the one-direction link model of the lab; see link.h for what it
 * does to a datagram.  Held datagrams sit in a binary min-heap on (arrival
 * time, creation order), so dequeue is O(log n) and ties keep the order in
 * which the copies were made.  The bottleneck's occupancy is a separate
 * FIFO ring of departure times: packets leave the serialiser in submit
 * order even when reordering makes them arrive out of it.
 */
#include "lab/link.h"

#include <stdlib.h>
#include <string.h>

struct tcpu_link_pkt {
  tcpu_tstamp arrive;
  uint64_t order; /* creation order: breaks ties in arrive */
  uint64_t id;    /* submit order, shared by copies */
  size_t len;
  unsigned reordered : 1, corrupted : 1;
  uint8_t data[];
};

/* ------------------------------------------------------------------ rng */

uint64_t tcpu_link_seed_mix(uint64_t x) {
  /* splitmix64 finaliser (Steele, Lea, Flood). */
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void tcpu_link_rng_seed(tcpu_link_rng *r, uint64_t seed) {
  /* Successive splitmix64 outputs, as the xoshiro authors recommend: the
   * state is never all zero for any seed. */
  for (uint64_t i = 0; i < 4; i++)
    r->s[i] = tcpu_link_seed_mix(seed + i * 0x9e3779b97f4a7c15ull);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tcpu_link_rng_next(tcpu_link_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t tcpu_link_rng_below(tcpu_link_rng *r, uint64_t n) {
  if (n == 0)
    return 0;
  /* Rejection keeps the draw unbiased: values below 2^64 mod n would make
   * the low residues more likely. */
  uint64_t threshold = (0 - n) % n;
  for (;;) {
    uint64_t x = tcpu_link_rng_next(r);
    if (x >= threshold)
      return x % n;
  }
}

double tcpu_link_rng_unit(tcpu_link_rng *r) {
  return (double)(tcpu_link_rng_next(r) >> 11) * 0x1.0p-53;
}

int tcpu_link_rng_chance(tcpu_link_rng *r, double p) {
  /* No draw for certain outcomes, so a fault switched off does not shift
   * the stream of the others. */
  if (!(p > 0.0))
    return 0;
  if (p >= 1.0)
    return 1;
  return tcpu_link_rng_unit(r) < p;
}

/* ----------------------------------------------------------------- heap */

static int pkt_before(const tcpu_link_pkt *a, const tcpu_link_pkt *b) {
  if (a->arrive != b->arrive)
    return a->arrive < b->arrive;
  return a->order < b->order;
}

static int heap_push(tcpu_link *link, tcpu_link_pkt *p) {
  if (link->heap_len == link->heap_cap) {
    size_t cap = link->heap_cap ? link->heap_cap * 2 : 64;
    tcpu_link_pkt **h = realloc(link->heap, cap * sizeof(*h));
    if (!h)
      return TCPU_ERR_NOMEM;
    link->heap = h;
    link->heap_cap = cap;
  }
  size_t i = link->heap_len++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!pkt_before(p, link->heap[parent]))
      break;
    link->heap[i] = link->heap[parent];
    i = parent;
  }
  link->heap[i] = p;
  return 0;
}

static tcpu_link_pkt *heap_pop(tcpu_link *link) {
  tcpu_link_pkt *top = link->heap[0];
  tcpu_link_pkt *last = link->heap[--link->heap_len];
  size_t n = link->heap_len, i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && pkt_before(link->heap[c + 1], link->heap[c]))
      c++;
    if (!pkt_before(link->heap[c], last))
      break;
    link->heap[i] = link->heap[c];
    i = c;
  }
  if (n > 0)
    link->heap[i] = last;
  return top;
}

/* ----------------------------------------------------------- bottleneck */

static void q_expire(tcpu_link *link, tcpu_tstamp now) {
  while (link->q_len > 0 && link->q[link->q_head].depart <= now) {
    link->q_bytes -= link->q[link->q_head].bytes;
    link->q_head = (link->q_head + 1) % link->q_cap;
    link->q_len--;
  }
}

static int q_push(tcpu_link *link, tcpu_tstamp depart, uint32_t bytes) {
  if (link->q_len == link->q_cap) {
    size_t cap = link->q_cap ? link->q_cap * 2 : 64;
    struct tcpu_link_q *q = malloc(cap * sizeof(*q));
    if (!q)
      return TCPU_ERR_NOMEM;
    for (size_t i = 0; i < link->q_len; i++)
      q[i] = link->q[(link->q_head + i) % link->q_cap];
    free(link->q);
    link->q = q;
    link->q_head = 0;
    link->q_cap = cap;
  }
  struct tcpu_link_q *e = &link->q[(link->q_head + link->q_len) % link->q_cap];
  e->depart = depart;
  e->bytes = bytes;
  link->q_len++;
  link->q_bytes += bytes;
  return 0;
}

/* Serialisation time of wire_bytes at rate_bps, rounded up so a link is
 * never faster than configured.  wire_bytes <= 2 * 65535, so the product
 * with 8e9 stays far below 2^64. */
static tcpu_duration tx_time(uint64_t rate_bps, uint64_t wire_bytes) {
  if (rate_bps == 0)
    return 0;
  uint64_t bits_ns = wire_bytes * 8 * TCPU_NS_PER_S;
  return bits_ns / rate_bps + (bits_ns % rate_bps != 0);
}

/* ------------------------------------------------------------------ api */

int tcpu_link_cfg_check(const tcpu_link_cfg *cfg) {
  const double probs[] = {cfg->loss,         cfg->ge_p_good_bad,
                          cfg->ge_p_bad_good, cfg->ge_loss_good,
                          cfg->ge_loss_bad,   cfg->dup,
                          cfg->reorder,       cfg->corrupt};
  for (size_t i = 0; i < sizeof(probs) / sizeof(probs[0]); i++) {
    /* Written to reject NaN as well. */
    if (!(probs[i] >= 0.0 && probs[i] <= 1.0))
      return TCPU_ERR_INVAL;
  }
  if (cfg->reorder > 0.0 && cfg->reorder_delay == 0)
    return TCPU_ERR_INVAL;
  if (cfg->overhead > TCPU_LINK_MAX_DGRAM)
    return TCPU_ERR_INVAL;
  if (tcpu_aqm_cfg_check(&cfg->aqm, cfg->queue_bytes) != 0)
    return TCPU_ERR_INVAL;
  return 0;
}

static void emit(tcpu_link *link, tcpu_link_event ev, uint64_t id,
                 const uint8_t *data, size_t len, tcpu_tstamp now,
                 const tcpu_link_pkt *p) {
  if (!link->trace)
    return;
  tcpu_link_trace_rec r = {.ev = ev, .id = id, .data = data, .len = len,
                           .now = now, .arrive = TCPU_TSTAMP_NONE};
  if (p) {
    r.arrive = p->arrive;
    r.reordered = p->reordered;
    r.corrupted = p->corrupted;
  }
  link->trace(link->trace_arg, &r);
}

static int aqm_reconfigure(tcpu_link *link, const tcpu_link_cfg *cfg);

int tcpu_link_init(tcpu_link *link, const tcpu_link_cfg *cfg, uint64_t seed) {
  if (tcpu_link_cfg_check(cfg) != 0)
    return TCPU_ERR_INVAL;
  memset(link, 0, sizeof(*link));
  link->cfg = *cfg;
  tcpu_link_rng_seed(&link->rng, seed);
  return aqm_reconfigure(link, cfg);
}

void tcpu_link_free(tcpu_link *link) {
  for (size_t i = 0; i < link->heap_len; i++)
    free(link->heap[i]);
  free(link->heap);
  free(link->q);
  if (link->aqm) {
    tcpu_aqm_free(link->aqm, free);
    free(link->aqm);
    link->aqm = NULL;
  }
  link->heap = NULL;
  link->q = NULL;
  link->heap_len = link->heap_cap = 0;
  link->q_len = link->q_cap = link->q_head = 0;
  link->q_bytes = 0;
}

int tcpu_link_set_cfg(tcpu_link *link, const tcpu_link_cfg *cfg) {
  if (tcpu_link_cfg_check(cfg) != 0)
    return TCPU_ERR_INVAL;
  int rc = aqm_reconfigure(link, cfg);
  if (rc != 0)
    return rc;
  link->cfg = *cfg;
  if (cfg->ge_p_good_bad <= 0.0)
    link->ge_bad = 0;
  return 0;
}

void tcpu_link_set_trace(tcpu_link *link, tcpu_link_trace_fn fn, void *arg) {
  link->trace = fn;
  link->trace_arg = arg;
}

/* Makes one copy and files it under arrive; the caller counts it. */
static int add_copy(tcpu_link *link, const uint8_t *data, size_t len,
                    uint64_t id, tcpu_tstamp arrive, int reordered,
                    tcpu_link_pkt **out) {
  uint32_t max_held =
      link->cfg.max_held ? link->cfg.max_held : TCPU_LINK_DEFAULT_MAX_HELD;
  if (link->heap_len >= max_held)
    return TCPU_LINK_DROPPED;
  tcpu_link_pkt *p = malloc(sizeof(*p) + len);
  if (!p)
    return TCPU_ERR_NOMEM;
  p->arrive = arrive;
  p->order = link->next_order++;
  p->id = id;
  p->len = len;
  p->reordered = reordered ? 1u : 0u;
  p->corrupted = 0;
  if (len > 0)
    memcpy(p->data, data, len);
  if (len > 0 && tcpu_link_rng_chance(&link->rng, link->cfg.corrupt)) {
    uint64_t bit = tcpu_link_rng_below(&link->rng, (uint64_t)len * 8);
    p->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    p->corrupted = 1;
    link->stats.corrupted++;
  }
  if (heap_push(link, p) != 0) {
    free(p);
    return TCPU_ERR_NOMEM;
  }
  *out = p;
  return TCPU_LINK_QUEUED;
}

/* Steps 3 and 4 for a datagram that leaves the bottleneck at depart.
 * report: emit QUEUED for it (the AQM path did so at submit). */
static int to_wire(tcpu_link *link, const uint8_t *data, size_t len,
                   uint64_t id, tcpu_tstamp depart, tcpu_tstamp now,
                   int report) {
  const tcpu_link_cfg *cfg = &link->cfg;
  /* 3. Wire: delay and jitter, never overtaking an earlier in-order one. */
  tcpu_tstamp arrive = depart + cfg->delay;
  if (cfg->jitter > 0)
    arrive += tcpu_link_rng_below(&link->rng, cfg->jitter + 1);
  if (arrive < link->last_arrival)
    arrive = link->last_arrival;

  /* 4. Faults after the bottleneck. */
  int reordered = tcpu_link_rng_chance(&link->rng, cfg->reorder);
  if (reordered) {
    link->stats.reordered++;
    arrive += cfg->reorder_delay;
    if (cfg->reorder_jitter > 0)
      arrive += tcpu_link_rng_below(&link->rng, cfg->reorder_jitter + 1);
  } else {
    link->last_arrival = arrive;
  }
  tcpu_link_pkt *p = NULL;
  int rc = add_copy(link, data, len, id, arrive, reordered, &p);
  if (rc != TCPU_LINK_QUEUED) {
    /* Only allocation can fail here: max_held was checked above. */
    link->stats.dropped_queue++;
    emit(link, TCPU_LINK_EV_DROP_QUEUE, id, data, len, now, NULL);
    return rc;
  }
  if (report)
    emit(link, TCPU_LINK_EV_QUEUED, id, data, len, now, p);
  if (tcpu_link_rng_chance(&link->rng, cfg->dup)) {
    tcpu_link_pkt *copy = NULL;
    /* The copy sorts right behind the original: same time, later order.
     * No room for it is no loss of the datagram, so it is not counted. */
    if (add_copy(link, data, len, id, arrive, reordered, &copy) ==
        TCPU_LINK_QUEUED) {
      link->stats.duplicated++;
      emit(link, TCPU_LINK_EV_DUPLICATED, id, data, len, now, copy);
    }
  }
  return TCPU_LINK_QUEUED;
}

/* ------------------------------------------------- AQM or trace */

/* Step 2 is aqm.c's queue when the configuration asks for a discipline
 * or a trace; drop-tail at a constant rate stays the FIFO above. */
static int uses_aqm(const tcpu_link_cfg *cfg) {
  return cfg->aqm.kind != TCPU_AQM_DROPTAIL || cfg->trace != NULL;
}

/* Starts, changes or stops the AQM queue to match cfg. */
static int aqm_reconfigure(tcpu_link *link, const tcpu_link_cfg *cfg) {
  tcpu_aqm *q = link->aqm;
  if (q && (!uses_aqm(cfg) || q->trace != cfg->trace ||
            q->origin != cfg->trace_origin)) {
    /* Waiting datagrams would have no server to go to. */
    if (tcpu_aqm_len(q) > 0)
      return TCPU_ERR_INVAL;
    tcpu_aqm_free(q, free);
    free(q);
    link->aqm = q = NULL;
  }
  if (!uses_aqm(cfg))
    return 0;
  if (q) {
    q->rate_bps = cfg->rate_bps;
    return tcpu_aqm_set_cfg(q, &cfg->aqm, cfg->queue_bytes, cfg->queue_pkts);
  }
  q = malloc(sizeof(*q));
  if (!q)
    return TCPU_ERR_NOMEM;
  int rc = tcpu_aqm_init(q, &cfg->aqm, cfg->rate_bps, cfg->trace,
                         cfg->trace_origin, cfg->queue_bytes,
                         cfg->queue_pkts, &link->rng);
  if (rc != 0) {
    free(q);
    return rc;
  }
  link->aqm = q;
  return 0;
}

/* What the AQM queue hands back: a datagram to put on the wire, or one
 * CoDel dropped. */
static void aqm_out(void *arg, void *pkt, int dropped, tcpu_tstamp t) {
  tcpu_link *link = arg;
  tcpu_link_pkt *p = pkt;
  if (dropped) {
    link->stats.dropped_aqm++;
    emit(link, TCPU_LINK_EV_DROP_AQM, p->id, p->data, p->len, t, NULL);
  } else {
    to_wire(link, p->data, p->len, p->id, t, t, 0);
  }
  free(p);
}

static int aqm_submit(tcpu_link *link, const uint8_t *data, size_t len,
                      uint64_t id, tcpu_tstamp now) {
  tcpu_aqm_advance(link->aqm, now, aqm_out, link);
  uint32_t max_held =
      link->cfg.max_held ? link->cfg.max_held : TCPU_LINK_DEFAULT_MAX_HELD;
  tcpu_link_pkt *p = NULL;
  int rc = TCPU_AQM_TAIL_DROP;
  if (link->heap_len + tcpu_aqm_len(link->aqm) < max_held) {
    p = malloc(sizeof(*p) + len);
    if (!p) {
      rc = TCPU_ERR_NOMEM;
    } else {
      memset(p, 0, sizeof(*p));
      p->id = id;
      p->len = len;
      if (len > 0)
        memcpy(p->data, data, len);
      rc = tcpu_aqm_enqueue(link->aqm, p,
                            (uint32_t)(len + link->cfg.overhead), now);
    }
  }
  if (rc == TCPU_AQM_QUEUED) {
    emit(link, TCPU_LINK_EV_QUEUED, id, data, len, now, NULL);
    return TCPU_LINK_QUEUED;
  }
  free(p);
  if (rc == TCPU_AQM_EARLY_DROP)
    link->stats.dropped_aqm++;
  else
    link->stats.dropped_queue++;
  emit(link, TCPU_LINK_EV_DROP_QUEUE, id, data, len, now, NULL);
  return rc < 0 ? rc : TCPU_LINK_DROPPED;
}

/* ------------------------------------------------------------ submit */

int tcpu_link_submit(tcpu_link *link, const uint8_t *data, size_t len,
                     tcpu_tstamp now) {
  const tcpu_link_cfg *cfg = &link->cfg;
  if (len > TCPU_LINK_MAX_DGRAM)
    return TCPU_ERR_INVAL;
  uint64_t id = link->next_id++;
  link->stats.submitted++;
  link->stats.bytes_submitted += len;

  /* 1. Loss.  Both draws happen whatever the first one says, so the burst
   * chain moves once per datagram regardless of independent loss. */
  int lost = tcpu_link_rng_chance(&link->rng, cfg->loss);
  if (cfg->ge_p_good_bad > 0.0) {
    double p = link->ge_bad ? cfg->ge_loss_bad : cfg->ge_loss_good;
    if (tcpu_link_rng_chance(&link->rng, p))
      lost = 1;
    if (link->ge_bad) {
      if (tcpu_link_rng_chance(&link->rng, cfg->ge_p_bad_good))
        link->ge_bad = 0;
    } else if (tcpu_link_rng_chance(&link->rng, cfg->ge_p_good_bad)) {
      link->ge_bad = 1;
    }
  }
  if (lost) {
    link->stats.lost++;
    emit(link, TCPU_LINK_EV_LOST, id, data, len, now, NULL);
    return TCPU_LINK_DROPPED;
  }

  if (link->aqm)
    return aqm_submit(link, data, len, id, now);

  /* 2. Bottleneck: drop-tail on what has not left the serialiser yet. */
  uint64_t wire = (uint64_t)len + cfg->overhead;
  q_expire(link, now);
  uint32_t max_held = cfg->max_held ? cfg->max_held : TCPU_LINK_DEFAULT_MAX_HELD;
  if ((cfg->queue_pkts && link->q_len + 1 > cfg->queue_pkts) ||
      (cfg->queue_bytes && link->q_bytes + wire > cfg->queue_bytes) ||
      link->heap_len >= max_held) {
    link->stats.dropped_queue++;
    emit(link, TCPU_LINK_EV_DROP_QUEUE, id, data, len, now, NULL);
    return TCPU_LINK_DROPPED;
  }
  tcpu_tstamp start = link->busy_until > now ? link->busy_until : now;
  tcpu_tstamp depart = start + tx_time(cfg->rate_bps, wire);
  if (depart > now && q_push(link, depart, (uint32_t)wire) != 0) {
    link->stats.dropped_queue++;
    emit(link, TCPU_LINK_EV_DROP_QUEUE, id, data, len, now, NULL);
    return TCPU_ERR_NOMEM;
  }
  link->busy_until = depart;
  return to_wire(link, data, len, id, depart, now, 1);
}

tcpu_tstamp tcpu_link_next_arrival(const tcpu_link *link) {
  tcpu_tstamp t = link->heap_len ? link->heap[0]->arrive : TCPU_TSTAMP_NONE;
  if (link->aqm) {
    /* One still waiting arrives no earlier than its service starts plus
     * the propagation delay: a lower bound, where dequeue serves it. */
    tcpu_tstamp s = tcpu_aqm_next_start(link->aqm);
    if (s != TCPU_TSTAMP_NONE && s + link->cfg.delay < t)
      t = s + link->cfg.delay;
  }
  return t;
}

size_t tcpu_link_held(const tcpu_link *link) {
  return link->heap_len + (link->aqm ? tcpu_aqm_len(link->aqm) : 0);
}

int tcpu_link_dequeue(tcpu_link *link, tcpu_tstamp now, uint8_t *buf,
                      size_t buflen, size_t *len) {
  if (link->aqm)
    tcpu_aqm_advance(link->aqm, now, aqm_out, link);
  if (link->heap_len == 0 || link->heap[0]->arrive > now)
    return 0;
  tcpu_link_pkt *p = link->heap[0];
  *len = p->len;
  if (p->len > buflen)
    return TCPU_ERR_NOBUF;
  heap_pop(link);
  if (p->len > 0)
    memcpy(buf, p->data, p->len);
  link->stats.delivered++;
  link->stats.bytes_delivered += p->len;
  emit(link, TCPU_LINK_EV_DELIVERED, p->id, p->data, p->len, now, p);
  free(p);
  return 1;
}
