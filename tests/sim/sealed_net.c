/*
 * sealed_net.c — sim_sealed's additions to the simulator; see sealed_net.h.
 */
#include "sealed_net.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ randomness */

static tcpu_link_rng g_rng;

static const char *rng_name(void) { return "sim_sealed_xoshiro"; }

static uint32_t rng_random(void) {
  return (uint32_t)(tcpu_link_rng_next(&g_rng) >> 32);
}

static void rng_buf(void *const buf, const size_t size) {
  uint8_t *b = buf;
  size_t i = 0;
  while (i < size) {
    uint64_t x = tcpu_link_rng_next(&g_rng);
    for (int k = 0; k < 8 && i < size; k++, i++)
      b[i] = (uint8_t)(x >> (8 * k));
  }
}

static randombytes_implementation rng_impl = {
    .implementation_name = rng_name,
    .random = rng_random,
    .stir = NULL,
    .uniform = NULL,
    .buf = rng_buf,
    .close = NULL,
};

int sealed_rng_install(void) {
  tcpu_link_rng_seed(&g_rng, 0);
  if (randombytes_set_implementation(&rng_impl) != 0)
    return -1;
  return sodium_init() < 0 ? -1 : 0;
}

void sealed_rng_reseed(uint64_t seed) {
  tcpu_link_rng_seed(&g_rng, tcpu_link_seed_mix(seed ^ 0x5ea1ed5ea1edull));
}

/* ----------------------------------------------------------- DH counter */

static uint64_t g_dh;

#ifdef SEALED_WRAP_DH
int __real_crypto_scalarmult(unsigned char *q, const unsigned char *n,
                             const unsigned char *p);
int __wrap_crypto_scalarmult(unsigned char *q, const unsigned char *n,
                             const unsigned char *p);
int __wrap_crypto_scalarmult(unsigned char *q, const unsigned char *n,
                             const unsigned char *p) {
  g_dh++;
  return __real_crypto_scalarmult(q, n, p);
}
int sealed_dh_counted(void) { return 1; }
#else
int sealed_dh_counted(void) { return 0; }
#endif

uint64_t sealed_dh_count(void) { return g_dh; }

/* ------------------------------------------------------------- messages */

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
  return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int sealed_type(const uint8_t *d, size_t len) {
  if (len < 4 || d[1] || d[2] || d[3])
    return 0;
  switch (d[0]) {
  case 1:
    return len == 148 ? 1 : 0;
  case 2:
    return len == 92 ? 2 : 0;
  case 3:
    return len == 64 ? 3 : 0;
  case 4:
    return len >= 32 ? 4 : 0;
  default:
    return 0;
  }
}

void sealed_describe(char *out, size_t outlen, const uint8_t *d, size_t len) {
  switch (sealed_type(d, len)) {
  case 1:
    snprintf(out, outlen, "init s=%08" PRIx32 " (%zu)", le32(d + 4), len);
    break;
  case 2:
    snprintf(out, outlen, "resp s=%08" PRIx32 " r=%08" PRIx32 " (%zu)",
             le32(d + 4), le32(d + 8), len);
    break;
  case 3:
    snprintf(out, outlen, "cookie r=%08" PRIx32 " (%zu)", le32(d + 4), len);
    break;
  case 4:
    if (len == 32)
      snprintf(out, outlen, "keepalive r=%08" PRIx32 " n=%" PRIu64, le32(d + 4),
               le64(d + 8));
    else
      snprintf(out, outlen, "data r=%08" PRIx32 " n=%" PRIu64 " seg %zu",
               le32(d + 4), le64(d + 8), len - 32);
    break;
  default:
    snprintf(out, outlen, "not sealed: %zu bytes, first %02x", len,
             len ? d[0] : 0);
    break;
  }
}

uint64_t sealed_drops(const tcpu_endpoint_stats *st) {
  return st->handshakes_failed + st->handshakes_ratelimited +
         st->auth_failures + st->replays_dropped + st->drop_not_sealed +
         st->drop_short;
}

uint64_t sealed_tcp_malformed(const tcpu_endpoint_stats *st) {
  return st->drop_bad_offset + st->drop_bad_option + st->drop_bad_sack +
         st->drop_bad_checksum + st->drop_bad_flags;
}

void sealed_print_stats(FILE *f, const char *name, const tcpu_endpoint *ep) {
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(ep, &st);
  fprintf(f,
          "  %s: in %" PRIu64 " out %" PRIu64 " hs initiated %" PRIu64
          " done %" PRIu64 " failed %" PRIu64 " ratelimited %" PRIu64
          " auth_failures %" PRIu64 " replays %" PRIu64 " cookies sent %" PRIu64
          " received %" PRIu64 " not_sealed %" PRIu64 " no_session %" PRIu64
          " roams %" PRIu64 " keepalives %" PRIu64 "/%" PRIu64 " conns %" PRIu64
          "/%" PRIu64 " rst %" PRIu64 " ctl_overflow %" PRIu64
          " tcp_malformed %" PRIu64 "\n",
          name, st.dgrams_in, st.dgrams_out, st.handshakes_initiated,
          st.handshakes_done, st.handshakes_failed, st.handshakes_ratelimited,
          st.auth_failures, st.replays_dropped, st.cookies_sent,
          st.cookies_received, st.drop_not_sealed, st.drop_no_session, st.roams,
          st.keepalives_sent, st.keepalives_received, st.conns_opened,
          st.conns_closed, st.rst_sent, st.ctl_queue_overflow,
          sealed_tcp_malformed(&st));
}

void sealed_fmt_addr(char *out, size_t outlen, const tcpu_addr *a) {
  if (a->family == TCPU_AF_INET) {
    snprintf(out, outlen, "%u.%u.%u.%u:%u", a->ip[0], a->ip[1], a->ip[2],
             a->ip[3], a->port);
  } else if (a->family == TCPU_AF_INET6) {
    snprintf(out, outlen, "[%02x%02x:%02x%02x::%02x%02x]:%u", a->ip[0],
             a->ip[1], a->ip[2], a->ip[3], a->ip[14], a->ip[15], a->port);
  } else if (a->family == TCPU_AF_PEER) {
    snprintf(out, outlen, "peer:%02x%02x%02x%02x", a->ip[0], a->ip[1], a->ip[2],
             a->ip[3]);
  } else {
    snprintf(out, outlen, "(family %u)", a->family);
  }
}

/* -------------------------------------------------- trace and recorder */

void sealed_tap_init(sealed_tap *t, int verbose, const char *const *names,
                     size_t n_names) {
  memset(t, 0, sizeof(*t));
  t->hash = SIM_HASH_INIT;
  t->verbose = verbose;
  t->names = names;
  t->n_names = n_names;
}

void sealed_tap_free(sealed_tap *t) {
  for (size_t i = 0; i < t->n_recs; i++)
    free(t->recs[i].data);
  free(t->recs);
  for (size_t i = t->held_head; i < t->n_held; i++)
    free(t->held[i].data);
  free(t->held);
  memset(t, 0, sizeof(*t));
}

static int push(sealed_rec **v, size_t *n, size_t *cap,
                const tcpu_netsim_trace_rec *r) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 256;
    sealed_rec *nv = realloc(*v, nc * sizeof(*nv));
    if (!nv)
      return -1;
    *v = nv;
    *cap = nc;
  }
  uint8_t *copy = malloc(r->len ? r->len : 1);
  if (!copy)
    return -1;
  if (r->len)
    memcpy(copy, r->data, r->len);
  (*v)[*n] = (sealed_rec){.t = r->now,
                          .from = r->from,
                          .to = r->to,
                          .len = (uint16_t)r->len,
                          .data = copy};
  (*n)++;
  return 0;
}

int sealed_tap_pop_held(sealed_tap *t, sealed_rec *r) {
  if (t->held_head >= t->n_held) {
    t->held_head = t->n_held = 0;
    return 0;
  }
  *r = t->held[t->held_head++];
  return 1;
}

static const char *node_name(const sealed_tap *t, size_t i) {
  if (i == TCPU_NETSIM_NODE_NONE)
    return "-";
  return t->names && i < t->n_names ? t->names[i] : "?";
}

void sealed_trace(void *arg, const tcpu_netsim_trace_rec *r) {
  sealed_tap *t = arg;
  t->hash = sim_trace_hash(t->hash, r);
  t->events++;
  int first = r->ev == TCPU_NETSIM_EV_SEND || r->ev == TCPU_NETSIM_EV_LOST ||
              r->ev == TCPU_NETSIM_EV_DROP_QUEUE ||
              r->ev == TCPU_NETSIM_EV_UNROUTABLE;
  if (first && r->data) {
    if (r->from < 4) {
      t->sent[r->from][sealed_type(r->data, r->len)]++;
      t->sent_bytes[r->from] += r->len;
    }
    if (t->record == SEALED_REC_SENT &&
        (!t->record_max_len || r->len <= t->record_max_len) &&
        push(&t->recs, &t->n_recs, &t->cap_recs, r) != 0)
      t->oom = 1;
    if (r->ev == TCPU_NETSIM_EV_LOST && r->from < 32 &&
        (t->hold_mask & (1u << r->from)) &&
        push(&t->held, &t->n_held, &t->cap_held, r) != 0)
      t->oom = 1;
  }
  if (r->ev == TCPU_NETSIM_EV_DELIVER && r->data &&
      t->record == SEALED_REC_DELIVERED &&
      (!t->record_max_len || r->len <= t->record_max_len) &&
      push(&t->recs, &t->n_recs, &t->cap_recs, r) != 0)
    t->oom = 1;
  if (!t->verbose)
    return;
  char now[32], what[160];
  sim_fmt_time(now, sizeof(now), r->now);
  if (r->ev == TCPU_NETSIM_EV_EXPIRY) {
    printf("%12s %s timers\n", now, node_name(t, r->from));
    return;
  }
  sealed_describe(what, sizeof(what), r->data, r->len);
  printf("%12s %s>%s %-5s %s%s%s\n", now, node_name(t, r->from),
         node_name(t, r->to), sim_event_name(r->ev), what,
         r->reordered ? " (held back)" : "",
         r->corrupted ? " (CORRUPTED)" : "");
}

/* ------------------------------------------------------------ injection */

int sealed_node_of(const tcpu_netsim *sim, const tcpu_addr *a) {
  for (size_t i = 0; i < sim->n_nodes; i++) {
    if (tcpu_addr_equal(&sim->nodes[i].addr, a))
      return (int)i;
  }
  return -1;
}

void sealed_inject(tcpu_netsim *sim, size_t node, const tcpu_addr *from,
                   const uint8_t *d, size_t len, sealed_inject_res *res) {
  memset(res, 0, sizeof(*res));
  int rc = tcpu_netsim_drain(sim);
  if (rc < 0) {
    res->rc = rc;
    return;
  }
  tcpu_endpoint *ep = sim->nodes[node].ep;
  uint64_t dh0 = sealed_dh_count();
  rc = tcpu_endpoint_recv(ep, from, d, len, sim->now);
  res->dh = sealed_dh_count() - dh0;
  if (rc < 0) {
    res->rc = rc;
    return;
  }
  /* Bounded: an endpoint never has more than a few windows to send. */
  for (int k = 0; k < 100000; k++) {
    tcpu_addr to;
    memset(&to, 0, sizeof(to));
    tcpu_ssize n =
        tcpu_endpoint_send(ep, &to, sim->buf, TCPU_LINK_MAX_DGRAM, sim->now);
    if (n < 0) {
      res->rc = (int)n;
      return;
    }
    if (n == 0)
      return;
    int dst = sealed_node_of(sim, &to);
    if (res->n < SEALED_MAX_REPLIES) {
      sealed_reply *r = &res->r[res->n];
      r->to = to;
      r->len = (size_t)n;
      r->type = sealed_type(sim->buf, (size_t)n);
      r->to_node = dst;
    }
    res->n++;
    sim->stats.sent++;
    tcpu_link *l =
        dst >= 0 ? tcpu_netsim_get_link(sim, node, (size_t)dst) : NULL;
    if (l) {
      rc = tcpu_link_submit(l, sim->buf, (size_t)n, sim->now);
      if (rc < 0) {
        res->rc = rc;
        return;
      }
    } else {
      sim->stats.unroutable++;
      if (sim->trace) {
        tcpu_netsim_trace_rec tr = {.ev = TCPU_NETSIM_EV_UNROUTABLE,
                                    .now = sim->now,
                                    .from = node,
                                    .to = TCPU_NETSIM_NODE_NONE,
                                    .data = sim->buf,
                                    .len = (size_t)n,
                                    .arrive = TCPU_TSTAMP_NONE};
        sim->trace(sim->trace_arg, &tr);
      }
    }
  }
  res->rc = TCPU_ERR_PROTO; /* an endpoint that never stops sending */
}
