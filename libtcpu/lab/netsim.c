/*
 * netsim.c — virtual-time driver of endpoints over link models; see
 * netsim.h for the order of events inside a step.
 */
#include "lab/netsim.h"

#include <stdlib.h>
#include <string.h>

/* Room for any datagram a link carries; endpoints whose largest datagram
 * is bigger make tcpu_endpoint_send fail with NOBUF, which a step returns. */
#define BUF_LEN TCPU_LINK_MAX_DGRAM

const char *tcpu_netsim_result_name(int r) {
  switch (r) {
  case TCPU_NETSIM_DONE:
    return "DONE";
  case TCPU_NETSIM_IDLE:
    return "IDLE";
  case TCPU_NETSIM_TIME_LIMIT:
    return "TIME_LIMIT";
  case TCPU_NETSIM_STEP_LIMIT:
    return "STEP_LIMIT";
  default:
    return r < 0 ? tcpu_err_name(r) : "UNKNOWN";
  }
}

/* Compares what a node is known by; only the bytes the family uses count,
 * so callers need not zero the rest. */
static int addr_same(const tcpu_addr *a, const tcpu_addr *b) {
  if (a->family != b->family || a->port != b->port)
    return 0;
  if (a->family == TCPU_AF_INET)
    return memcmp(a->ip, b->ip, 4) == 0;
  return memcmp(a->ip, b->ip, 16) == 0 && a->scope_id == b->scope_id;
}

static size_t find_node(const tcpu_netsim *sim, const tcpu_addr *addr) {
  for (size_t i = 0; i < sim->n_nodes; i++) {
    if (addr_same(&sim->nodes[i].addr, addr))
      return i;
  }
  return TCPU_NETSIM_NODE_NONE;
}

static tcpu_netsim_link *find_link(const tcpu_netsim *sim, size_t from,
                                   size_t to) {
  for (size_t i = 0; i < sim->n_links; i++) {
    if (sim->links[i]->from == from && sim->links[i]->to == to)
      return sim->links[i];
  }
  return NULL;
}

static void emit(tcpu_netsim *sim, tcpu_netsim_event ev, size_t from,
                 size_t to, const uint8_t *data, size_t len,
                 const tcpu_link_trace_rec *lr) {
  if (!sim->trace)
    return;
  tcpu_netsim_trace_rec r = {.ev = ev, .now = sim->now, .from = from,
                             .to = to, .data = data, .len = len,
                             .arrive = TCPU_TSTAMP_NONE};
  if (lr) {
    r.arrive = lr->arrive;
    r.reordered = lr->reordered;
    r.corrupted = lr->corrupted;
  }
  sim->trace(sim->trace_arg, &r);
}

/* Translates the link's own events.  DELIVERED is reported by the step,
 * which knows whether an endpoint took the datagram; here it only leaves
 * the copy's flags behind for that report. */
static void link_trace(void *arg, const tcpu_link_trace_rec *lr) {
  tcpu_netsim_link *nl = arg;
  tcpu_netsim_event ev;
  switch (lr->ev) {
  case TCPU_LINK_EV_QUEUED:
    ev = TCPU_NETSIM_EV_SEND;
    break;
  case TCPU_LINK_EV_LOST:
    ev = TCPU_NETSIM_EV_LOST;
    break;
  case TCPU_LINK_EV_DROP_QUEUE:
    ev = TCPU_NETSIM_EV_DROP_QUEUE;
    break;
  case TCPU_LINK_EV_DUPLICATED:
    ev = TCPU_NETSIM_EV_DUPLICATED;
    break;
  case TCPU_LINK_EV_DELIVERED:
    nl->last_reordered = lr->reordered;
    nl->last_corrupted = lr->corrupted;
    return;
  default:
    return;
  }
  emit(nl->sim, ev, nl->from, nl->to, lr->data, lr->len, lr);
}

int tcpu_netsim_init(tcpu_netsim *sim, uint64_t seed, tcpu_tstamp start) {
  memset(sim, 0, sizeof(*sim));
  sim->now = start;
  sim->seed = seed;
  sim->wakeup = TCPU_TSTAMP_NONE;
  sim->buf = malloc(BUF_LEN);
  if (!sim->buf)
    return TCPU_ERR_NOMEM;
  return 0;
}

void tcpu_netsim_free(tcpu_netsim *sim) {
  for (size_t i = 0; i < sim->n_links; i++) {
    tcpu_link_free(&sim->links[i]->link);
    free(sim->links[i]);
  }
  free(sim->links);
  free(sim->nodes);
  free(sim->buf);
  memset(sim, 0, sizeof(*sim));
}

int tcpu_netsim_add_node(tcpu_netsim *sim, const tcpu_addr *addr,
                         tcpu_endpoint *ep) {
  /* Indexes are returned as int. */
  if (find_node(sim, addr) != TCPU_NETSIM_NODE_NONE ||
      sim->n_nodes >= (size_t)INT32_MAX)
    return TCPU_ERR_INVAL;
  if (sim->n_nodes == sim->nodes_cap) {
    size_t cap = sim->nodes_cap ? sim->nodes_cap * 2 : 4;
    tcpu_netsim_node *n = realloc(sim->nodes, cap * sizeof(*n));
    if (!n)
      return TCPU_ERR_NOMEM;
    sim->nodes = n;
    sim->nodes_cap = cap;
  }
  tcpu_netsim_node *node = &sim->nodes[sim->n_nodes];
  node->addr = *addr;
  node->ep = ep;
  return (int)sim->n_nodes++;
}

int tcpu_netsim_set_endpoint(tcpu_netsim *sim, size_t node,
                             tcpu_endpoint *ep) {
  if (node >= sim->n_nodes)
    return TCPU_ERR_INVAL;
  sim->nodes[node].ep = ep;
  return 0;
}

int tcpu_netsim_add_link(tcpu_netsim *sim, size_t from, size_t to,
                         const tcpu_link_cfg *cfg) {
  if (from >= sim->n_nodes || to >= sim->n_nodes || from == to ||
      find_link(sim, from, to))
    return TCPU_ERR_INVAL;
  if (sim->n_links == sim->links_cap) {
    size_t cap = sim->links_cap ? sim->links_cap * 2 : 4;
    tcpu_netsim_link **l = realloc(sim->links, cap * sizeof(*l));
    if (!l)
      return TCPU_ERR_NOMEM;
    sim->links = l;
    sim->links_cap = cap;
  }
  tcpu_netsim_link *nl = calloc(1, sizeof(*nl));
  if (!nl)
    return TCPU_ERR_NOMEM;
  /* The pair, not the order of creation, picks the stream: adding another
   * link elsewhere leaves this one's behaviour unchanged. */
  uint64_t seed = tcpu_link_seed_mix(
      sim->seed ^ tcpu_link_seed_mix(((uint64_t)from << 32) ^ (uint64_t)to));
  int rc = tcpu_link_init(&nl->link, cfg, seed);
  if (rc != 0) {
    free(nl);
    return rc;
  }
  nl->sim = sim;
  nl->from = from;
  nl->to = to;
  tcpu_link_set_trace(&nl->link, link_trace, nl);
  sim->links[sim->n_links++] = nl;
  return 0;
}

int tcpu_netsim_add_path(tcpu_netsim *sim, size_t a, size_t b,
                         const tcpu_link_cfg *ab, const tcpu_link_cfg *ba) {
  int rc = tcpu_netsim_add_link(sim, a, b, ab);
  if (rc != 0)
    return rc;
  return tcpu_netsim_add_link(sim, b, a, ba ? ba : ab);
}

tcpu_link *tcpu_netsim_get_link(tcpu_netsim *sim, size_t from, size_t to) {
  tcpu_netsim_link *nl = find_link(sim, from, to);
  return nl ? &nl->link : NULL;
}

void tcpu_netsim_set_trace(tcpu_netsim *sim, tcpu_netsim_trace_fn fn,
                           void *arg) {
  sim->trace = fn;
  sim->trace_arg = arg;
}

void tcpu_netsim_wake_at(tcpu_netsim *sim, tcpu_tstamp t) {
  if (t < sim->wakeup)
    sim->wakeup = t;
}

tcpu_tstamp tcpu_netsim_next_event(const tcpu_netsim *sim) {
  tcpu_tstamp t = sim->wakeup;
  for (size_t i = 0; i < sim->n_nodes; i++) {
    if (sim->nodes[i].ep) {
      tcpu_tstamp e = tcpu_endpoint_get_expiry(sim->nodes[i].ep);
      if (e < t)
        t = e;
    }
  }
  for (size_t i = 0; i < sim->n_links; i++) {
    tcpu_tstamp a = tcpu_link_next_arrival(&sim->links[i]->link);
    if (a < t)
      t = a;
  }
  return t;
}

int tcpu_netsim_drain(tcpu_netsim *sim) {
  for (size_t i = 0; i < sim->n_nodes; i++) {
    tcpu_endpoint *ep = sim->nodes[i].ep;
    if (!ep)
      continue;
    for (;;) {
      tcpu_addr to;
      memset(&to, 0, sizeof(to));
      tcpu_ssize n = tcpu_endpoint_send(ep, &to, sim->buf, BUF_LEN, sim->now);
      if (n < 0)
        return (int)n;
      if (n == 0)
        break;
      /* The core promises never to exceed its own largest datagram (one
       * unfragmented datagram, DESIGN §3): a larger one is a bug. */
      if ((size_t)n > tcpu_endpoint_max_dgram(ep))
        return TCPU_ERR_PROTO;
      sim->stats.sent++;
      size_t dst = find_node(sim, &to);
      tcpu_netsim_link *nl =
          dst == TCPU_NETSIM_NODE_NONE ? NULL : find_link(sim, i, dst);
      if (!nl) {
        sim->stats.unroutable++;
        emit(sim, TCPU_NETSIM_EV_UNROUTABLE, i, dst, sim->buf, (size_t)n,
             NULL);
        continue;
      }
      int rc = tcpu_link_submit(&nl->link, sim->buf, (size_t)n, sim->now);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

static int deliver_due(tcpu_netsim *sim) {
  for (size_t i = 0; i < sim->n_links; i++) {
    tcpu_netsim_link *nl = sim->links[i];
    for (;;) {
      size_t len = 0;
      nl->last_reordered = nl->last_corrupted = 0;
      int rc = tcpu_link_dequeue(&nl->link, sim->now, sim->buf, BUF_LEN, &len);
      if (rc < 0)
        return rc;
      if (rc == 0)
        break;
      tcpu_endpoint *ep = sim->nodes[nl->to].ep;
      if (!ep) {
        sim->stats.swallowed++;
        continue;
      }
      sim->stats.delivered++;
      if (nl->last_corrupted)
        sim->stats.delivered_corrupted++;
      tcpu_link_trace_rec lr = {.ev = TCPU_LINK_EV_DELIVERED,
                                .now = sim->now,
                                .arrive = TCPU_TSTAMP_NONE,
                                .reordered = nl->last_reordered,
                                .corrupted = nl->last_corrupted};
      emit(sim, TCPU_NETSIM_EV_DELIVER, nl->from, nl->to, sim->buf, len, &lr);
      rc = tcpu_endpoint_recv(ep, &sim->nodes[nl->from].addr, sim->buf, len,
                              sim->now);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

static int run_expiries(tcpu_netsim *sim) {
  for (size_t i = 0; i < sim->n_nodes; i++) {
    tcpu_endpoint *ep = sim->nodes[i].ep;
    if (!ep || tcpu_endpoint_get_expiry(ep) > sim->now)
      continue;
    sim->stats.expiries++;
    emit(sim, TCPU_NETSIM_EV_EXPIRY, i, TCPU_NETSIM_NODE_NONE, NULL, 0, NULL);
    int rc = tcpu_endpoint_handle_expiry(ep, sim->now);
    if (rc < 0)
      return rc;
  }
  return 0;
}

int tcpu_netsim_step(tcpu_netsim *sim, tcpu_tstamp deadline) {
  int rc = tcpu_netsim_drain(sim);
  if (rc < 0)
    return rc;
  tcpu_tstamp t = tcpu_netsim_next_event(sim);
  if (t == TCPU_TSTAMP_NONE || t > deadline)
    return 0;
  /* A deadline the core left in the past runs now: time never goes back. */
  if (t > sim->now)
    sim->now = t;
  sim->stats.steps++;
  if (sim->wakeup <= sim->now)
    sim->wakeup = TCPU_TSTAMP_NONE;
  rc = deliver_due(sim);
  if (rc < 0)
    return rc;
  rc = run_expiries(sim);
  if (rc < 0)
    return rc;
  rc = tcpu_netsim_drain(sim);
  if (rc < 0)
    return rc;
  return 1;
}

int tcpu_netsim_run(tcpu_netsim *sim, tcpu_netsim_done_fn done, void *arg,
                    tcpu_tstamp deadline, uint64_t max_steps) {
  for (uint64_t steps = 0;; steps++) {
    if (done && done(sim, arg))
      return TCPU_NETSIM_DONE;
    if (steps >= max_steps)
      return TCPU_NETSIM_STEP_LIMIT;
    int rc = tcpu_netsim_step(sim, deadline);
    if (rc < 0)
      return rc;
    if (rc == 0) {
      if (tcpu_netsim_next_event(sim) == TCPU_TSTAMP_NONE)
        return TCPU_NETSIM_IDLE;
      if (deadline > sim->now)
        sim->now = deadline;
      return TCPU_NETSIM_TIME_LIMIT;
    }
  }
}
