/*
 * cc.c — the registry of congestion-control algorithms and the glue that
 * calls their hooks (DESIGN §5).  Built-in algorithms live in a static
 * const table; an application's own are registered per endpoint, so the
 * library holds no global mutable state.
 */
#include "cc/cc.h"

#include <stdlib.h>
#include <string.h>

#include "core/endpoint.h"

static const tcpu_cc_ops *const builtin[] = {
    &tcpu_cc_newreno,
    &tcpu_cc_cubic,
    &tcpu_cc_ledbat,
    &tcpu_cc_bbr,
};

static int name_ok(const char *name) {
  return name && name[0] && strlen(name) < 16;
}

const tcpu_cc_ops *tcpu_cc_find(const tcpu_endpoint *ep, const char *name) {
  if (!name_ok(name))
    return NULL;
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
    if (strcmp(builtin[i]->name, name) == 0)
      return builtin[i];
  for (unsigned i = 0; ep && i < ep->cc_user_count; i++)
    if (strcmp(ep->cc_user[i]->name, name) == 0)
      return ep->cc_user[i];
  return NULL;
}

int tcpu_cc_register(tcpu_endpoint *ep, const tcpu_cc_ops *ops) {
  if (ep == NULL || ops == NULL || !name_ok(ops->name) || !ops->init ||
      !ops->on_ack || !ops->on_congestion)
    return TCPU_ERR_INVAL;
  if (tcpu_cc_find(ep, ops->name))
    return TCPU_ERR_ADDRINUSE;
  if (ep->cc_user_count == TCPU_CC_MAX_USER)
    return TCPU_ERR_NOMEM;
  ep->cc_user[ep->cc_user_count++] = ops;
  return 0;
}

const tcpu_cc_ops *tcpu_cc_lookup(const tcpu_endpoint *ep, const char *name) {
  if (name == NULL || name[0] == 0)
    name = ep->s.cc[0] ? ep->s.cc : TCPU_CC_DEFAULT;
  return tcpu_cc_find(ep, name);
}

static void load(const tcpu_conn *c, tcpu_cc_stat *cs) {
  memset(cs, 0, sizeof *cs);
  cs->cwnd = c->cwnd;
  cs->ssthresh = c->ssthresh;
  cs->mss = tcpu_conn_payload_mss(c);
  cs->bytes_in_flight = tcpu_conn_pipe(c);
  cs->flight_size = c->snd_max - c->snd_una;
  cs->pacing_rate = c->cc_pacing_rate;
  cs->delivered = c->delivered;
  cs->lost = c->rtxq.lost_total;
  cs->round = c->round;
  cs->srtt = c->srtt;
  cs->min_rtt = c->rack.min_rtt == TCPU_TSTAMP_NONE ? 0 : c->rack.min_rtt;
  cs->latest_rtt = c->rack.rtt;
  cs->recovery_start = c->recovery_start;
  cs->in_recovery = c->ca_state == TCPU_CA_RECOVERY;
}

/* What the algorithm may change, kept sane: at least one segment. */
static void store(tcpu_conn *c, const tcpu_cc_stat *cs) {
  c->cwnd = cs->cwnd < cs->mss ? cs->mss : cs->cwnd;
  c->ssthresh = cs->ssthresh < 2 * cs->mss ? 2 * cs->mss : cs->ssthresh;
  c->cc_pacing_rate = cs->pacing_rate;
}

int tcpu_cc_conn_start(tcpu_conn *c, const tcpu_cc_ops *ops,
                       tcpu_tstamp now) {
  void *st = NULL;
  if (ops->state_size) {
    st = calloc(1, ops->state_size);
    if (st == NULL)
      return TCPU_ERR_NOMEM;
  }
  tcpu_cc_conn_stop(c);
  c->cc = ops;
  c->cc_state = st;
  /* Before the handshake there is nothing to initialise from; the core
   * starts the algorithm again when the connection is established. */
  if (c->state >= TCPU_ESTABLISHED) {
    tcpu_cc_stat cs;
    load(c, &cs);
    ops->init(st, &cs, now);
    store(c, &cs);
    c->cc_inited = 1;
  }
  return 0;
}

void tcpu_cc_conn_stop(tcpu_conn *c) {
  if (c->cc_inited && c->cc->fini)
    c->cc->fini(c->cc_state);
  c->cc_inited = 0;
  free(c->cc_state);
  c->cc_state = NULL;
}

/* Calls one hook with the shared stat loaded and stored around it. */
#define CALL(c, hook, ...)                                                   \
  do {                                                                       \
    if ((c)->cc_inited && (c)->cc->hook) {                                   \
      tcpu_cc_stat cs_;                                                      \
      load((c), &cs_);                                                       \
      (c)->cc->hook((c)->cc_state, &cs_, __VA_ARGS__);                       \
      store((c), &cs_);                                                      \
    }                                                                        \
  } while (0)

void tcpu_cc_event_ack(tcpu_conn *c, const tcpu_cc_ack *a, tcpu_tstamp now) {
  CALL(c, on_ack, a, now);
}

void tcpu_cc_event_congestion(tcpu_conn *c, tcpu_cc_signal s, tcpu_tstamp sent_ts,
                        tcpu_tstamp now) {
  CALL(c, on_congestion, s, sent_ts, now);
}

void tcpu_cc_event_recovery_exit(tcpu_conn *c, tcpu_tstamp now) {
  CALL(c, on_recovery_exit, now);
}

void tcpu_cc_event_spurious(tcpu_conn *c, tcpu_tstamp now) {
  CALL(c, on_spurious, now);
}

void tcpu_cc_event_sent(tcpu_conn *c, size_t bytes, tcpu_tstamp now) {
  CALL(c, on_sent, bytes, now);
}

void tcpu_cc_event_idle_restart(tcpu_conn *c, tcpu_tstamp now) {
  CALL(c, on_idle_restart, now);
}

void tcpu_cc_event_round(tcpu_conn *c) { CALL(c, on_round, c->round); }

int tcpu_cc_owns_recovery(const tcpu_conn *c) {
  return c->cc && c->cc->owns_recovery;
}

int tcpu_conn_set_cc(tcpu_conn *c, const char *name, tcpu_tstamp now) {
  if (c == NULL)
    return TCPU_ERR_INVAL;
  const tcpu_cc_ops *ops = tcpu_cc_find(c->ep, name);
  if (ops == NULL)
    return TCPU_ERR_INVAL;
  return tcpu_cc_conn_start(c, ops, now);
}

const char *tcpu_conn_get_cc(const tcpu_conn *c) {
  return c->cc ? c->cc->name : "";
}

/* RFC 5681 §3.1 / RFC 3465: slow start adds at most one MSS per ACK. */
uint64_t tcpu_cc_slow_start(tcpu_cc_stat *cs, uint64_t acked) {
  uint64_t room = cs->ssthresh > cs->cwnd ? cs->ssthresh - cs->cwnd : 0;
  uint64_t inc = acked < cs->mss ? acked : cs->mss;
  if (inc > room)
    inc = room;
  cs->cwnd += (uint32_t)inc;
  return acked - inc;
}

/* RFC 5681 §3.1 eq. 3 by byte counting (RFC 3465 §2.1): one MSS once a
 * whole window has been acknowledged. */
void tcpu_cc_cong_avoid(tcpu_cc_stat *cs, uint64_t *acc, uint64_t acked) {
  *acc += acked;
  if (*acc >= cs->cwnd) {
    *acc -= cs->cwnd;
    cs->cwnd += cs->mss;
  }
}
