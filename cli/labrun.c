/*
 * labrun.c — the lab's experiment runner; see labrun.h for what it
 * measures and how.
 *
 * The run is driven by tcpu_netsim_run; its predicate (step_done) is the
 * one place that acts between steps: it starts flows, ends them, takes
 * time-series samples and arms the scheduled drops, and asks the
 * simulator to wake it at the next of those times.  Callbacks only read
 * and write data (they must not open or abort connections).
 */
#include "labrun.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lab/netsim.h"

#define CHUNK (64 * 1024)

/* --------------------------------------------------------- flow spec */

int lab_parse_flow(lab_flow_cfg *f, const char *spec, char *err,
                   size_t errlen) {
  memset(f, 0, sizeof(*f));
  size_t n = strlen(spec);
  if (n > 0 && (spec[0] == ',' || spec[n - 1] == ',' || strstr(spec, ",,")))
    return lab_fail(err, errlen, "empty item in \"%s\"", spec);
  char *buf = malloc(n + 1);
  if (!buf)
    return lab_fail(err, errlen, "out of memory");
  memcpy(buf, spec, n + 1);
  unsigned seen = 0;
  int rc = 0;
  char *save = NULL;
  for (char *item = strtok_r(buf, ",", &save); item && rc == 0;
       item = strtok_r(NULL, ",", &save)) {
    static const char *const keys[] = {"cc", "start", "duration", "size",
                                       "dir"};
    char *eq = strchr(item, '=');
    if (!eq) {
      rc = lab_fail(err, errlen, "\"%s\" is not key=value", item);
      break;
    }
    *eq = 0;
    const char *k = item, *v = eq + 1;
    size_t idx = 0;
    while (idx < 5 && strcmp(keys[idx], k) != 0)
      idx++;
    if (idx == 5) {
      rc = lab_fail(err, errlen, "unknown flow key \"%s\" (cc, start, duration, "
                "size, dir)", k);
      break;
    }
    if (seen & (1u << idx)) {
      rc = lab_fail(err, errlen, "flow key \"%s\" given twice", k);
      break;
    }
    seen |= 1u << idx;
    if (!*v) {
      rc = lab_fail(err, errlen, "flow key \"%s\" has no value", k);
      break;
    }
    char why[200];
    int r = 0;
    if (idx == 0) {
      if (strlen(v) >= sizeof(f->cc))
        r = lab_fail(why, sizeof(why), "name \"%s\" is over 15 characters", v);
      else
        strcpy(f->cc, v);
    } else if (idx == 1) {
      r = lab_parse_time(v, &f->start, why, sizeof(why));
    } else if (idx == 2) {
      r = lab_parse_time(v, &f->duration, why, sizeof(why));
      if (r == 0 && f->duration == 0)
        r = lab_fail(why, sizeof(why), "must be above 0");
    } else if (idx == 3) {
      r = lab_parse_size(v, &f->size, why, sizeof(why));
      if (r == 0 && f->size == 0)
        r = lab_fail(why, sizeof(why), "must be above 0");
    } else {
      if (strcasecmp(v, "fwd") == 0)
        f->rev = 0;
      else if (strcasecmp(v, "rev") == 0)
        f->rev = 1;
      else
        r = lab_fail(why, sizeof(why), "\"%s\" is not fwd or rev", v);
    }
    if (r != 0)
      rc = lab_fail(err, errlen, "%s: %s", k, why);
  }
  free(buf);
  if (rc == 0 && f->size && f->duration)
    rc = lab_fail(err, errlen, "give size or duration, not both");
  return rc;
}

double lab_jain(const double *x, size_t n) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) {
    s += x[i];
    s2 += x[i] * x[i];
  }
  if (n == 0 || s2 == 0)
    return 0;
  return s * s / ((double)n * s2);
}

double lab_flow_mbps_between(const lab_flow_result *f, double a, double b) {
  const lab_sample *first = NULL, *last = NULL;
  for (size_t i = 0; i < f->n_samples; i++) {
    const lab_sample *s = &f->samples[i];
    /* A hair of slack: sample times are sums of binary fractions. */
    if (s->t < a - 1e-9 || s->t > b + 1e-9)
      continue;
    if (!first)
      first = s;
    last = s;
  }
  if (!first || last == first || last->t <= first->t)
    return -1;
  return (double)(last->bytes - first->bytes) * 8 / (last->t - first->t) /
         1e6;
}

/* ------------------------------------------------ send-time registry */

/* Data segments in flight, keyed by a hash of the sending node and the
 * segment's first bytes (the TCP header, whose checksum covers the
 * payload), valued with the send time.  Open addressing with linear
 * probing and backward-shift deletion; equal keys (an identical copy
 * resent before the first arrived) are separate entries. */
typedef struct sendmap {
  uint64_t *key; /* 0: empty */
  tcpu_tstamp *t;
  size_t cap, len;
  int nomem;
} sendmap;

static uint64_t seg_key(size_t from, const uint8_t *d, size_t len) {
  uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)from;
  size_t n = len < 64 ? len : 64;
  for (size_t i = 0; i < n; i++) {
    h ^= d[i];
    h *= 0x100000001b3ull;
  }
  h ^= (uint64_t)len << 32;
  h = tcpu_link_seed_mix(h);
  return h ? h : 1;
}

static int sendmap_grow(sendmap *m) {
  size_t cap = m->cap ? m->cap * 2 : 4096;
  uint64_t *k = calloc(cap, sizeof(*k));
  tcpu_tstamp *t = malloc(cap * sizeof(*t));
  if (!k || !t) {
    free(k);
    free(t);
    return -1;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->key[i])
      continue;
    size_t j = m->key[i] & (cap - 1);
    while (k[j])
      j = (j + 1) & (cap - 1);
    k[j] = m->key[i];
    t[j] = m->t[i];
  }
  free(m->key);
  free(m->t);
  m->key = k;
  m->t = t;
  m->cap = cap;
  return 0;
}

static void sendmap_put(sendmap *m, uint64_t key, tcpu_tstamp t) {
  if ((m->len + 1) * 2 > m->cap && sendmap_grow(m) != 0) {
    m->nomem = 1;
    return;
  }
  size_t j = key & (m->cap - 1);
  while (m->key[j])
    j = (j + 1) & (m->cap - 1);
  m->key[j] = key;
  m->t[j] = t;
  m->len++;
}

/* Removes the first entry with key; returns its time, NONE if none. */
static tcpu_tstamp sendmap_take(sendmap *m, uint64_t key) {
  if (!m->cap)
    return TCPU_TSTAMP_NONE;
  size_t mask = m->cap - 1, j = key & mask;
  while (m->key[j] && m->key[j] != key)
    j = (j + 1) & mask;
  if (!m->key[j])
    return TCPU_TSTAMP_NONE;
  tcpu_tstamp t = m->t[j];
  /* Backward shift: move later members of the cluster into the hole when
   * their home slot does not lie between the hole and them. */
  size_t hole = j;
  for (size_t k = (j + 1) & mask; m->key[k]; k = (k + 1) & mask) {
    size_t home = m->key[k] & mask;
    int between = hole <= k ? (home > hole && home <= k)
                            : (home > hole || home <= k);
    if (!between) {
      m->key[hole] = m->key[k];
      m->t[hole] = m->t[k];
      hole = k;
    }
  }
  m->key[hole] = 0;
  m->len--;
  return t;
}

/* ----------------------------------------------------------- the run */

enum { TAG_RUN = 1, TAG_FLOW = 2 };

typedef struct run run;

typedef struct flow {
  int tag; /* TAG_FLOW; first, as in run */
  run *r;
  size_t idx;
  const lab_flow_cfg *cfg;
  lab_flow_result *res;
  size_t snd_node, rcv_node;
  tcpu_conn *snd, *rcv;
  uint64_t written, read;
  int shut, done_pending, done_completed;
  tcpu_tstamp t_start, t_stop; /* absolute; t_stop NONE: none */
  tcpu_tstamp t_done;          /* a sized flow's last byte */
  /* One-way delays in microseconds, and this interval's sum. */
  uint32_t *owd;
  size_t owd_n, owd_cap;
  double iv_owd_sum;
  uint64_t iv_owd_n, iv_read;
  size_t samples_cap;
} flow;

struct run {
  int tag; /* TAG_RUN */
  const lab_cfg *cfg;
  lab_result *res;
  tcpu_netsim sim;
  tcpu_endpoint *ep[2];
  tcpu_conn *listener[2];
  tcpu_addr addr[2];
  flow flows[LAB_MAX_FLOWS];
  sendmap sent;
  tcpu_tstamp end;         /* absolute */
  tcpu_tstamp next_sample; /* NONE: no series */
  size_t drop_next[2];     /* next scheduled drop per direction */
  double saved_loss[2];
  int drop_armed[2];
  int nomem;
  uint8_t *scratch;
};

static const uint8_t zeros[CHUNK];

static tcpu_link *dir_link(run *r, int d) {
  return tcpu_netsim_get_link(&r->sim, (size_t)d, (size_t)(1 - d));
}

static void pump_write(flow *f, tcpu_tstamp now) {
  if (!f->snd || f->shut || f->done_pending ||
      tcpu_conn_state(f->snd) != TCPU_ESTABLISHED)
    return;
  for (;;) {
    size_t n = CHUNK;
    if (f->cfg->size) {
      uint64_t left = f->cfg->size - f->written;
      if (left < n)
        n = (size_t)left;
      if (n == 0) {
        tcpu_conn_shutdown(f->snd, now);
        f->shut = 1;
        return;
      }
    }
    tcpu_ssize k = tcpu_conn_write(f->snd, zeros, n, now);
    if (k <= 0)
      return; /* AGAIN: writable() follows; errors: closed() reports */
    f->written += (uint64_t)k;
  }
}

static void pump_read(flow *f, tcpu_tstamp now) {
  if (!f->rcv)
    return;
  for (;;) {
    tcpu_ssize k = tcpu_conn_read(f->rcv, f->r->scratch, CHUNK, now);
    if (k <= 0)
      return;
    f->read += (uint64_t)k;
    f->iv_read += (uint64_t)k;
    if (f->cfg->size && f->read >= f->cfg->size && !f->done_pending) {
      f->done_pending = 1;
      f->done_completed = 1;
      f->t_done = now;
    }
  }
}

static int on_accept(tcpu_conn *l, void *ud) {
  run *r = ud;
  tcpu_conn *c;
  tcpu_tstamp now = r->sim.now;
  while (tcpu_accept(l, &c) == 0) {
    tcpu_conn_info ci;
    tcpu_conn_get_info(c, &ci);
    size_t i = (size_t)(ci.remote_port - LAB_FLOW_PORT0);
    if (ci.remote_port < LAB_FLOW_PORT0 || i >= r->cfg->n_flows ||
        r->flows[i].rcv || r->flows[i].done_pending) {
      tcpu_conn_close(c, now);
      continue;
    }
    flow *f = &r->flows[i];
    f->rcv = c;
    tcpu_conn_set_user_data(c, f);
    pump_read(f, now);
  }
  return 0;
}

static int on_connected(tcpu_conn *c, void *ud) {
  flow *f = ud;
  if (f->tag == TAG_FLOW && c == f->snd)
    pump_write(f, f->r->sim.now);
  return 0;
}

static int on_readable(tcpu_conn *c, void *ud) {
  flow *f = ud;
  if (f->tag != TAG_FLOW)
    return 0;
  if (c == f->rcv) {
    pump_read(f, f->r->sim.now);
  } else if (c == f->snd) {
    uint8_t b[256]; /* nothing is sent this way: EOF or an error */
    while (tcpu_conn_read(c, b, sizeof(b), f->r->sim.now) > 0)
      ;
  }
  return 0;
}

static int on_writable(tcpu_conn *c, void *ud) {
  flow *f = ud;
  if (f->tag == TAG_FLOW && c == f->snd)
    pump_write(f, f->r->sim.now);
  return 0;
}

static int on_closed(tcpu_conn *c, int err, void *ud) {
  flow *f = ud;
  if (f->tag != TAG_FLOW || err == 0 || f->done_pending)
    return 0;
  if (c == f->snd || c == f->rcv) {
    f->res->error = err;
    f->done_pending = 1;
  }
  return 0;
}

static const tcpu_callbacks callbacks = {
    .accept = on_accept,
    .connected = on_connected,
    .readable = on_readable,
    .writable = on_writable,
    .closed = on_closed,
};

/* --------------------------------------------------------- the trace */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void record_owd(flow *f, tcpu_duration d) {
  if (f->owd_n == f->owd_cap) {
    size_t cap = f->owd_cap ? f->owd_cap * 2 : 4096;
    uint32_t *o = realloc(f->owd, cap * sizeof(*o));
    if (!o) {
      f->r->nomem = 1;
      return;
    }
    f->owd = o;
    f->owd_cap = cap;
  }
  uint64_t us = d / 1000;
  f->owd[f->owd_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
  f->iv_owd_sum += (double)d / 1e6;
  f->iv_owd_n++;
}

static void on_trace(void *arg, const tcpu_netsim_trace_rec *t) {
  run *r = arg;
  if (t->ev == TCPU_NETSIM_EV_LOST && t->from < 2 &&
      r->drop_armed[t->from]) {
    /* The scheduled drop happened: back to the configured loss. */
    int d = (int)t->from;
    tcpu_link *l = dir_link(r, d);
    tcpu_link_cfg c = l->cfg;
    c.loss = r->saved_loss[d];
    tcpu_link_set_cfg(l, &c);
    r->drop_armed[d] = 0;
  }
  if (t->ev != TCPU_NETSIM_EV_SEND && t->ev != TCPU_NETSIM_EV_DELIVER)
    return;
  if (!t->data || t->len < 20)
    return;
  size_t off = (size_t)(t->data[12] >> 4) * 4;
  if (off < 20 || off >= t->len)
    return; /* no payload: not a data segment */
  uint16_t sport = be16(t->data);
  size_t i = (size_t)(sport - LAB_FLOW_PORT0);
  if (sport < LAB_FLOW_PORT0 || i >= r->cfg->n_flows ||
      r->flows[i].snd_node != t->from)
    return;
  uint64_t key = seg_key(t->from, t->data, t->len);
  if (t->ev == TCPU_NETSIM_EV_SEND) {
    sendmap_put(&r->sent, key, t->now);
    return;
  }
  tcpu_tstamp sent = sendmap_take(&r->sent, key);
  if (sent != TCPU_TSTAMP_NONE && t->now >= sent)
    record_owd(&r->flows[i], t->now - sent);
}

/* ------------------------------------------------------- flow events */

static void start_flow(run *r, flow *f) {
  tcpu_tstamp now = r->sim.now;
  f->res->started = 1;
  f->res->t_begin = (double)(now - LAB_T0) / 1e9;
  tcpu_endpoint *ep = r->ep[f->snd_node];
  int rc = tcpu_connect(ep, &r->addr[f->rcv_node],
                        (uint16_t)(LAB_FLOW_PORT0 + f->idx), LAB_PORT,
                        &f->snd, now);
  if (rc == 0 && f->cfg->cc[0])
    rc = tcpu_conn_set_cc(f->snd, f->cfg->cc, now);
  if (rc == 0)
    rc = tcpu_conn_setopt(f->snd, TCPU_OPT_NODELAY, 1);
  if (rc != 0) {
    f->res->error = rc;
    f->done_pending = 1;
    return;
  }
  tcpu_conn_set_user_data(f->snd, f);
  snprintf(f->res->cc, sizeof(f->res->cc), "%s", tcpu_conn_get_cc(f->snd));
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void finish_flow(run *r, flow *f, tcpu_tstamp at) {
  lab_flow_result *res = f->res;
  tcpu_tstamp now = r->sim.now;
  res->finished = 1;
  res->completed = f->done_completed;
  res->t_end = (double)(at - LAB_T0) / 1e9;
  res->bytes = f->read;
  double secs = res->t_end - res->t_begin;
  res->mbps = secs > 0 ? (double)f->read * 8 / secs / 1e6 : 0;
  if (f->snd) {
    tcpu_conn_get_info(f->snd, &res->info);
    res->retrans_rate = res->info.segs_out
                            ? (double)res->info.retransmits /
                                  (double)res->info.segs_out
                            : 0;
    tcpu_conn_abort(f->snd, now);
    f->snd = NULL;
  }
  if (f->rcv) {
    tcpu_conn_abort(f->rcv, now);
    f->rcv = NULL;
  }
  if (f->owd_n) {
    double sum = 0;
    for (size_t i = 0; i < f->owd_n; i++)
      sum += f->owd[i];
    qsort(f->owd, f->owd_n, sizeof(f->owd[0]), cmp_u32);
    /* Nearest-rank percentiles. */
    size_t p50 = (f->owd_n * 50 + 99) / 100, p95 = (f->owd_n * 95 + 99) / 100;
    res->owd_n = f->owd_n;
    res->owd_mean_ms = sum / (double)f->owd_n / 1e3;
    res->owd_p50_ms = f->owd[p50 ? p50 - 1 : 0] / 1e3;
    res->owd_p95_ms = f->owd[p95 ? p95 - 1 : 0] / 1e3;
    res->owd_min_ms = f->owd[0] / 1e3;
    res->owd_max_ms = f->owd[f->owd_n - 1] / 1e3;
  }
  free(f->owd);
  f->owd = NULL;
  f->owd_n = f->owd_cap = 0;
}

static void take_sample(run *r, flow *f, tcpu_tstamp at) {
  lab_flow_result *res = f->res;
  if (res->n_samples == f->samples_cap) {
    size_t cap = f->samples_cap ? f->samples_cap * 2 : 256;
    lab_sample *s = realloc(res->samples, cap * sizeof(*s));
    if (!s) {
      r->nomem = 1;
      return;
    }
    res->samples = s;
    f->samples_cap = cap;
  }
  lab_sample *s = &res->samples[res->n_samples++];
  memset(s, 0, sizeof(*s));
  s->t = (double)(at - LAB_T0) / 1e9;
  s->bytes = f->read;
  s->mbps = (double)f->iv_read * 8 / ((double)r->cfg->interval / 1e9) / 1e6;
  s->owd_ms = f->iv_owd_n ? f->iv_owd_sum / (double)f->iv_owd_n : -1;
  if (f->snd) {
    tcpu_conn_info ci;
    tcpu_conn_get_info(f->snd, &ci);
    s->cwnd = ci.cwnd;
    s->ssthresh = ci.ssthresh;
    s->inflight = ci.pipe;
    s->pacing_rate = ci.pacing_rate;
    s->delivery_rate = ci.delivery_rate;
    s->srtt_ms = (double)ci.srtt / 1e6;
    s->ca_state = ci.ca_state;
  }
  f->iv_read = 0;
  f->iv_owd_sum = 0;
  f->iv_owd_n = 0;
}

/* The run's predicate: every scheduled action due now, then the next
 * wake-up.  Returns 1 when every flow is done or the end is reached. */
static int step_done(tcpu_netsim *sim, void *arg) {
  run *r = arg;
  tcpu_tstamp now = sim->now;
  tcpu_tstamp next = r->end;
  const lab_cfg *cfg = r->cfg;

  /* Samples first: they describe the interval that ends now, before any
   * flow starts or stops at this instant. */
  while (r->next_sample != TCPU_TSTAMP_NONE && r->next_sample <= now &&
         r->next_sample <= r->end) {
    for (size_t i = 0; i < cfg->n_flows; i++) {
      flow *f = &r->flows[i];
      if (f->res->started && !f->res->finished)
        take_sample(r, f, r->next_sample);
    }
    r->next_sample += cfg->interval;
  }
  if (r->next_sample != TCPU_TSTAMP_NONE && r->next_sample < next)
    next = r->next_sample;

  for (int d = 0; d < 2; d++) {
    size_t n = d == 0 ? cfg->n_drop_ab : cfg->n_drop_ba;
    const tcpu_duration *at = d == 0 ? cfg->drop_ab : cfg->drop_ba;
    while (r->drop_next[d] < n && LAB_T0 + at[r->drop_next[d]] <= now) {
      if (!r->drop_armed[d]) {
        tcpu_link *l = dir_link(r, d);
        tcpu_link_cfg c = l->cfg;
        r->saved_loss[d] = c.loss;
        c.loss = 1.0;
        tcpu_link_set_cfg(l, &c);
        r->drop_armed[d] = 1;
      }
      r->drop_next[d]++;
    }
    if (r->drop_next[d] < n && LAB_T0 + at[r->drop_next[d]] < next)
      next = LAB_T0 + at[r->drop_next[d]];
  }

  int all_done = 1;
  for (size_t i = 0; i < cfg->n_flows; i++) {
    flow *f = &r->flows[i];
    if (f->res->finished)
      continue;
    if (!f->res->started) {
      if (f->t_start <= now && now < r->end)
        start_flow(r, f);
    }
    if (!f->res->started) {
      all_done = 0;
      if (f->t_start < next)
        next = f->t_start;
      continue;
    }
    if (f->done_pending) {
      finish_flow(r, f, f->done_completed ? f->t_done : now);
      continue;
    }
    if (f->t_stop != TCPU_TSTAMP_NONE && f->t_stop <= now) {
      finish_flow(r, f, f->t_stop);
      continue;
    }
    if (now >= r->end) {
      finish_flow(r, f, r->end);
      continue;
    }
    all_done = 0;
    if (f->t_stop != TCPU_TSTAMP_NONE && f->t_stop < next)
      next = f->t_stop;
  }
  if (all_done || now >= r->end || r->nomem || r->sent.nomem)
    return 1;
  tcpu_netsim_wake_at(sim, next);
  return 0;
}

/* ------------------------------------------------------------ set-up */

static int setup(run *r) {
  const lab_cfg *cfg = r->cfg;
  lab_result *res = r->res;
  tcpu_link_rng rng;
  tcpu_link_rng_seed(&rng, cfg->seed);
  tcpu_settings s;
  tcpu_settings_default(&s);
  if (cfg->mtu)
    s.mtu = cfg->mtu;
  if (cfg->sndbuf)
    s.sndbuf = cfg->sndbuf;
  if (cfg->rcvbuf)
    s.rcvbuf = cfg->rcvbuf;
  for (size_t i = 0; i < sizeof(s.secret); i++)
    s.secret[i] = (uint8_t)tcpu_link_rng_next(&rng);
  /* A lab run is long: no keepalive, no user timeout, generous retries. */
  s.retries = 30;
  if (tcpu_netsim_init(&r->sim, cfg->seed, LAB_T0) != 0)
    return TCPU_ERR_NOMEM;
  tcpu_netsim_set_trace(&r->sim, on_trace, r);
  static const uint8_t ip[2][4] = {{10, 0, 0, 1}, {10, 0, 0, 2}};
  for (int n = 0; n < 2; n++) {
    memset(&r->addr[n], 0, sizeof(r->addr[n]));
    tcpu_addr_ipv4(&r->addr[n], ip[n], 4000);
    int rc = tcpu_endpoint_new(&r->ep[n], &s, &callbacks, r, LAB_T0);
    if (rc != 0) {
      lab_fail(res->error, sizeof(res->error), "endpoint: %s",
           tcpu_strerror(rc));
      return rc;
    }
    for (size_t k = 0; k < cfg->n_user_cc; k++) {
      rc = tcpu_cc_register(r->ep[n], cfg->user_cc[k]);
      if (rc != 0) {
        lab_fail(res->error, sizeof(res->error),
             "congestion control \"%s\": %s",
             cfg->user_cc[k] && cfg->user_cc[k]->name ? cfg->user_cc[k]->name
                                                      : "(null)",
             rc == TCPU_ERR_ADDRINUSE ? "the name is taken"
                                      : "incomplete ops table");
        return rc;
      }
    }
    if (tcpu_netsim_add_node(&r->sim, &r->addr[n], r->ep[n]) != n)
      return TCPU_ERR_NOMEM;
    rc = tcpu_listen(r->ep[n], LAB_PORT, LAB_MAX_FLOWS, &r->listener[n],
                     LAB_T0);
    if (rc != 0)
      return rc;
  }
  int rc = tcpu_netsim_add_link(&r->sim, 0, 1, &cfg->ab);
  if (rc == 0)
    rc = tcpu_netsim_add_link(&r->sim, 1, 0, &cfg->ba);
  if (rc != 0) {
    lab_fail(res->error, sizeof(res->error), "link: %s", tcpu_strerror(rc));
    return rc;
  }
  return 0;
}

static int check_cfg(const lab_cfg *cfg, lab_result *res) {
  if (cfg->n_flows == 0 || cfg->n_flows > LAB_MAX_FLOWS)
    return lab_fail(res->error, sizeof(res->error), "1 to %d flows",
                LAB_MAX_FLOWS);
  if (cfg->n_user_cc > LAB_MAX_USER_CC || cfg->n_drop_ab > LAB_MAX_DROP_AT ||
      cfg->n_drop_ba > LAB_MAX_DROP_AT)
    return lab_fail(res->error, sizeof(res->error), "too many entries");
  for (size_t i = 0; i < cfg->n_flows; i++) {
    const lab_flow_cfg *f = &cfg->flows[i];
    if (!cfg->end && !f->size && !f->duration)
      return lab_fail(res->error, sizeof(res->error),
                  "flow %zu has neither size nor duration, and the run no "
                  "end (--duration)",
                  i + 1);
    if (f->cc[0]) {
      int known = tcpu_cc_find(NULL, f->cc) != NULL;
      for (size_t k = 0; k < cfg->n_user_cc && !known; k++)
        known = cfg->user_cc[k] && cfg->user_cc[k]->name &&
                strcmp(cfg->user_cc[k]->name, f->cc) == 0;
      if (!known)
        return lab_fail(res->error, sizeof(res->error),
                    "flow %zu: unknown congestion control \"%s\" (built in: "
                    "newreno, cubic, bbr, ledbat)",
                    i + 1, f->cc);
    }
  }
  return 0;
}

int lab_run(const lab_cfg *cfg, lab_result *res) {
  memset(res, 0, sizeof(*res));
  res->jain_overlap = -1;
  int rc = check_cfg(cfg, res);
  if (rc != 0)
    return rc;
  run *r = calloc(1, sizeof(*r));
  uint8_t *scratch = malloc(CHUNK);
  if (!r || !scratch) {
    free(r);
    free(scratch);
    lab_fail(res->error, sizeof(res->error), "out of memory");
    return TCPU_ERR_NOMEM;
  }
  r->tag = TAG_RUN;
  r->cfg = cfg;
  r->res = res;
  r->scratch = scratch;
  res->n_flows = cfg->n_flows;

  /* The end: as asked, else when the last timed flow stops (sized flows
   * may end the run earlier by completing, or run to LAB_MAX_TIME). */
  tcpu_duration end = cfg->end;
  if (!end) {
    int sized = 0;
    for (size_t i = 0; i < cfg->n_flows; i++) {
      const lab_flow_cfg *f = &cfg->flows[i];
      if (f->size)
        sized = 1;
      else if (f->start + f->duration > end)
        end = f->start + f->duration;
    }
    if (sized || end > LAB_MAX_TIME)
      end = LAB_MAX_TIME;
  }
  r->end = LAB_T0 + end;
  r->next_sample =
      cfg->interval ? LAB_T0 + cfg->interval : TCPU_TSTAMP_NONE;
  for (size_t i = 0; i < cfg->n_flows; i++) {
    flow *f = &r->flows[i];
    f->tag = TAG_FLOW;
    f->r = r;
    f->idx = i;
    f->cfg = &cfg->flows[i];
    f->res = &res->flows[i];
    f->res->cfg = cfg->flows[i];
    f->snd_node = f->cfg->rev ? 1 : 0;
    f->rcv_node = 1 - f->snd_node;
    f->t_start = LAB_T0 + f->cfg->start;
    f->t_stop = f->cfg->duration ? f->t_start + f->cfg->duration
                                 : TCPU_TSTAMP_NONE;
  }

  rc = setup(r);
  if (rc == 0) {
    int how = tcpu_netsim_run(&r->sim, step_done, r, r->end, UINT64_MAX);
    if (how < 0) {
      rc = how;
      lab_fail(res->error, sizeof(res->error), "simulation failed: %s",
           tcpu_strerror(how));
    } else if (r->nomem || r->sent.nomem) {
      rc = TCPU_ERR_NOMEM;
      lab_fail(res->error, sizeof(res->error), "out of memory");
    } else {
      /* Stopped by time or idleness: whatever still runs ends now. */
      step_done(&r->sim, r);
      for (size_t i = 0; i < cfg->n_flows; i++)
        if (r->flows[i].res->started && !r->flows[i].res->finished)
          finish_flow(r, &r->flows[i], r->sim.now);
    }
  } else if (!res->error[0]) {
    lab_fail(res->error, sizeof(res->error), "set-up failed: %s",
         tcpu_strerror(rc));
  }
  res->end_s = (double)(r->sim.now - LAB_T0) / 1e9;
  res->steps = r->sim.stats.steps;
  if (r->sim.n_links == 2) {
    res->ab = dir_link(r, 0)->stats;
    res->ba = dir_link(r, 1)->stats;
  }

  /* Fairness. */
  double x[LAB_MAX_FLOWS];
  size_t nx = 0;
  double from = 0, to = 1e300;
  for (size_t i = 0; i < cfg->n_flows; i++) {
    lab_flow_result *f = &res->flows[i];
    if (!f->started)
      continue;
    x[nx++] = f->mbps;
    if (f->t_begin > from)
      from = f->t_begin;
    if (f->t_end < to)
      to = f->t_end;
  }
  res->jain = lab_jain(x, nx);
  if (nx == cfg->n_flows && to > from) {
    res->overlap_from = from;
    res->overlap_to = to;
    size_t ny = 0;
    for (size_t i = 0; i < cfg->n_flows; i++) {
      double m = lab_flow_mbps_between(&res->flows[i], from, to);
      if (m < 0)
        break;
      x[ny++] = m;
    }
    if (ny == cfg->n_flows)
      res->jain_overlap = lab_jain(x, ny);
  }

  for (size_t i = 0; i < cfg->n_flows; i++)
    free(r->flows[i].owd);
  tcpu_netsim_free(&r->sim);
  for (int n = 0; n < 2; n++)
    if (r->ep[n])
      tcpu_endpoint_del(r->ep[n]);
  free(r->sent.key);
  free(r->sent.t);
  free(r->scratch);
  free(r);
  return rc;
}

void lab_result_free(lab_result *res) {
  for (size_t i = 0; i < res->n_flows; i++) {
    free(res->flows[i].samples);
    res->flows[i].samples = NULL;
    res->flows[i].n_samples = 0;
  }
}
