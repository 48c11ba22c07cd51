/*
 * sim_common.c — shared parts of the seeded simulator properties; see
 * sim_common.h.
 */
#include "sim_common.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MS TCPU_NS_PER_MS
#define US ((tcpu_duration)1000)

static int parse_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  if (!s || !*s)
    return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end != '\0')
    return -1;
  *out = v;
  return 0;
}

static void usage(const char *argv0, int allow_mb) {
  fprintf(stderr,
          "usage: %s [--seed N | --seeds A:B] [-v] [-q]%s\n"
          "  --seed N    replay one seed, verbosely\n"
          "  --seeds A:B run seeds A, A+1, ..., B-1\n"
          "  -v          print every event\n"
          "  -q          print no events (a replay's summary only)\n",
          argv0, allow_mb ? " [--mb N]" : "");
  if (allow_mb)
    fprintf(stderr, "  --mb N      big streams: N MiB from the client\n");
}

void sim_print_replay(FILE *f, const sim_args *a, uint64_t seed) {
  if (a->mb)
    fprintf(f, "  replay: %s --mb %" PRIu64 " --seed %" PRIu64 "\n", a->argv0,
            a->mb, seed);
  else
    fprintf(f, "  replay: %s --seed %" PRIu64 "\n", a->argv0, seed);
}

int sim_parse_args(sim_args *a, int argc, char **argv, uint64_t default_count,
                   int allow_mb) {
  memset(a, 0, sizeof(*a));
  a->argv0 = argv[0];
  a->first = 0;
  a->end = default_count;
  for (int i = 1; i < argc; i++) {
    if (allow_mb && strcmp(argv[i], "--mb") == 0 && i + 1 < argc) {
      if (parse_u64(argv[++i], &a->mb) != 0 || a->mb == 0 || a->mb > 4096) {
        usage(argv[0], allow_mb);
        return -1;
      }
    } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      if (parse_u64(argv[++i], &a->first) != 0 || a->first == UINT64_MAX) {
        usage(argv[0], allow_mb);
        return -1;
      }
      a->end = a->first + 1;
      a->verbose = 1;
      a->single = 1;
    } else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      char buf[64];
      snprintf(buf, sizeof(buf), "%s", argv[++i]);
      char *colon = strchr(buf, ':');
      if (!colon) {
        usage(argv[0], allow_mb);
        return -1;
      }
      *colon = '\0';
      if (parse_u64(buf, &a->first) != 0 ||
          parse_u64(colon + 1, &a->end) != 0 || a->end < a->first) {
        usage(argv[0], allow_mb);
        return -1;
      }
    } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
      a->verbose = 1;
    } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
      a->quiet = 1;
    } else {
      usage(argv[0], allow_mb);
      return -1;
    }
  }
  if (a->quiet)
    a->verbose = 0;
  return 0;
}

void sim_fail(sim_verdict *v, const char *fmt, ...) {
  /* The first reason is the interesting one; later ones are fallout. */
  if (!v->ok)
    return;
  v->ok = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->why, sizeof(v->why), fmt, ap);
  va_end(ap);
}

/* Uniform in [lo, hi). */
static double uniform(tcpu_link_rng *r, double lo, double hi) {
  return lo + (hi - lo) * tcpu_link_rng_unit(r);
}

void sim_draw_link(tcpu_link_rng *r, tcpu_link_cfg *cfg, int harsh) {
  static const uint64_t rates_mbps[] = {1, 2, 5, 10, 20, 50, 100};
  memset(cfg, 0, sizeof(*cfg));
  cfg->delay = (1000 + tcpu_link_rng_below(r, 99001)) * US; /* 1-100 ms */
  if (tcpu_link_rng_chance(r, 0.5)) {
    tcpu_duration cap = cfg->delay / 2 < 20 * MS ? cfg->delay / 2 : 20 * MS;
    cfg->jitter = tcpu_link_rng_below(r, cap + 1);
  }
  if (tcpu_link_rng_chance(r, 0.5)) {
    cfg->rate_bps = rates_mbps[tcpu_link_rng_below(r, 7)] * 1000000;
    cfg->overhead = 28;
    cfg->queue_pkts = (uint32_t)(50 + tcpu_link_rng_below(r, 451));
    if (tcpu_link_rng_chance(r, 0.3))
      cfg->queue_bytes = 65536 + tcpu_link_rng_below(r, 1 << 20);
  }
  uint64_t mode = tcpu_link_rng_below(r, 10);
  if (!harsh) {
    if (mode < 5)
      cfg->loss = uniform(r, 0.0, 0.10);
  } else if (mode >= 3 && mode <= 6) {
    cfg->loss = uniform(r, 0.0, 0.10);
  } else if (mode <= 8) {
    cfg->loss = uniform(r, 0.10, 0.30);
  } else if (mode == 9) {
    /* Bursts: the stationary P(bad) = gb / (gb + bg) is at most
     * 0.1 / 0.35, which times loss_bad <= 0.9 plus the good state's loss
     * averages at most about 28%.  The chain steps once per datagram, so
     * when only a retransmission every rto_max crosses the link a burst
     * lasts minutes; with the other direction's loss on top, one round
     * trip in such a spell fails with p <= 0.93 and the spell goes on
     * with p <= 0.75, so 30 failures in a row do happen now and then over
     * tens of thousands of seeds.  Hence sim_settings' 60 retries. */
    cfg->ge_p_good_bad = uniform(r, 0.005, 0.1);
    cfg->ge_p_bad_good = uniform(r, 0.25, 0.7);
    cfg->ge_loss_good = uniform(r, 0.0, 0.02);
    cfg->ge_loss_bad = uniform(r, 0.3, 0.9);
  }
  if (tcpu_link_rng_chance(r, 0.3))
    cfg->dup = uniform(r, 0.0, 0.05);
  if (tcpu_link_rng_chance(r, 0.3)) {
    cfg->reorder = uniform(r, 0.0, 0.10);
    cfg->reorder_delay = (1000 + tcpu_link_rng_below(r, 19001)) * US;
    if (tcpu_link_rng_chance(r, 0.5))
      cfg->reorder_jitter = tcpu_link_rng_below(r, 10001) * US;
  }
  if (tcpu_link_rng_chance(r, 0.2))
    cfg->corrupt = uniform(r, 0.0, 0.02);
}

void sim_print_link(FILE *f, const char *name, const tcpu_link_cfg *c) {
  fprintf(f,
          "  link %s: delay %.3f ms jitter %.3f ms rate %" PRIu64
          " bit/s queue %" PRIu32 " pkts %" PRIu64 " bytes loss %.4f"
          " ge(gb %.4f bg %.4f good %.4f bad %.4f) dup %.4f"
          " reorder %.4f (+%.3f ms +U[0, %.3f] ms) corrupt %.4f\n",
          name, (double)c->delay / 1e6, (double)c->jitter / 1e6, c->rate_bps,
          c->queue_pkts, c->queue_bytes, c->loss, c->ge_p_good_bad,
          c->ge_p_bad_good, c->ge_loss_good, c->ge_loss_bad, c->dup,
          c->reorder, (double)c->reorder_delay / 1e6,
          (double)c->reorder_jitter / 1e6, c->corrupt);
}

void sim_settings(tcpu_link_rng *r, tcpu_settings *s) {
  tcpu_settings_default(s);
  for (size_t i = 0; i < sizeof(s->secret); i++)
    s->secret[i] = (uint8_t)tcpu_link_rng_next(r);
  /* Generous retries and a short backoff cap: a timeout in the simulator
   * is a failure, never an expected outcome of the drawn loss. */
  s->syn_retries = 60;
  s->synack_retries = 60;
  s->retries = 60;
  s->rto_max = 10 * TCPU_NS_PER_S;
  uint64_t m = tcpu_link_rng_below(r, 10);
  s->mtu = m < 8 ? 1500 : m == 8 ? 1280 : 576;
  uint64_t b = tcpu_link_rng_below(r, 5);
  if (b == 3)
    s->sndbuf = 16 * 1024;
  else if (b == 4)
    s->sndbuf = 64 * 1024;
  b = tcpu_link_rng_below(r, 5);
  if (b == 3)
    s->rcvbuf = 32 * 1024;
  else if (b == 4)
    s->rcvbuf = 256 * 1024;
  s->nodelay = tcpu_link_rng_chance(r, 0.5) ? 1u : 0u;
  s->timestamps = tcpu_link_rng_chance(r, 0.8) ? 1u : 0u;
  s->sack = tcpu_link_rng_chance(r, 0.8) ? 1u : 0u;
  s->window_scaling = tcpu_link_rng_chance(r, 0.8) ? 1u : 0u;
  /* Half the seeds keep the default congestion control; the rest spread
   * over every built-in one: the stream must survive all of them. */
  static const char *const ccs[] = {"newreno", "cubic", "bbr", "ledbat"};
  if (tcpu_link_rng_chance(r, 0.5))
    snprintf(s->cc, sizeof(s->cc), "%s", ccs[tcpu_link_rng_below(r, 4)]);
}

void sim_tracer_init(sim_tracer *t, int verbose, const char *const *names) {
  memset(t, 0, sizeof(*t));
  t->hash = 0xcbf29ce484222325ull;
  t->verbose = verbose;
  t->node_names = names;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

uint64_t sim_hash(uint64_t h, const void *p, size_t n) { return fnv(h, p, n); }

void sim_stream_fill(uint64_t key, uint64_t off, uint8_t *buf, size_t len) {
  /* Word w of the stream is splitmix64(key + w), little-endian. */
  size_t i = 0;
  uint64_t w = off / 8;
  unsigned k = (unsigned)(off % 8);
  while (i < len) {
    uint64_t x = tcpu_link_seed_mix(key + w);
    if (k == 0 && len - i >= 8) {
      for (unsigned j = 0; j < 8; j++)
        buf[i + j] = (uint8_t)(x >> (8 * j));
      i += 8;
    } else {
      for (; k < 8 && i < len; k++)
        buf[i++] = (uint8_t)(x >> (8 * k));
      k = 0;
    }
    w++;
  }
}

/* ----------------------------------------------------- determinism */

#define SHAKE_BLOCKS 1032

void **sim_heap_shake(void) {
  void **held = calloc(SHAKE_BLOCKS, sizeof(*held));
  if (!held)
    return NULL;
  size_t k = 0;
  for (size_t size = 16; size <= 2048; size += 16) {
    for (int i = 0; i < 8; i++)
      held[k++] = malloc(size);
  }
  for (int i = 0; i < 8; i++)
    held[k++] = malloc(65536 + 16 * (size_t)i);
  return held;
}

void sim_heap_unshake(void **held) {
  if (!held)
    return;
  for (size_t k = 0; k < SHAKE_BLOCKS; k++)
    free(held[k]);
  free(held);
}

/* ------------------------------------------------------- memory bounds */

typedef struct bufcheck {
  const tcpu_settings *s;
  uint32_t peer_rcvbuf;
  sim_bufwatch *w;
  char *why;
  size_t whylen;
} bufcheck;

static int check_one(const tcpu_conn *c, void *arg) {
  bufcheck *b = arg;
  tcpu_conn_info ci;
  tcpu_conn_get_info(c, &ci);
  if (b->w) {
    if (ci.rcv_buffered > b->w->max_rcv)
      b->w->max_rcv = ci.rcv_buffered;
    if (ci.snd_buffered > b->w->max_snd)
      b->w->max_snd = ci.snd_buffered;
    if (ci.unacked > b->w->max_unacked)
      b->w->max_unacked = ci.unacked;
  }
  if (ci.rcv_buffered > b->s->rcvbuf) {
    snprintf(b->why, b->whylen,
             "port %u (%s): %" PRIu32 " bytes received and buffered, rcvbuf "
             "is %" PRIu32, ci.local_port, tcpu_state_name(ci.state),
             ci.rcv_buffered, b->s->rcvbuf);
    return 1;
  }
  if (ci.snd_buffered > b->s->sndbuf) {
    snprintf(b->why, b->whylen,
             "port %u (%s): %" PRIu32 " bytes buffered for sending, sndbuf "
             "is %" PRIu32, ci.local_port, tcpu_state_name(ci.state),
             ci.snd_buffered, b->s->sndbuf);
    return 1;
  }
  if ((uint64_t)ci.unacked > (uint64_t)b->peer_rcvbuf + 3) {
    snprintf(b->why, b->whylen,
             "port %u (%s): %" PRIu32 " bytes in flight, more than the "
             "peer's rcvbuf of %" PRIu32 " allows", ci.local_port,
             tcpu_state_name(ci.state), ci.unacked, b->peer_rcvbuf);
    return 1;
  }
  return 0;
}

int sim_check_buffers(const tcpu_endpoint *ep, const tcpu_settings *s,
                      uint32_t peer_rcvbuf, sim_bufwatch *w, char *why,
                      size_t whylen) {
  bufcheck b = {.s = s, .peer_rcvbuf = peer_rcvbuf, .w = w, .why = why,
                .whylen = whylen};
  return tcpu_endpoint_foreach_conn(ep, check_one, &b) ? -1 : 0;
}

uint64_t sim_malformed_drops(const tcpu_endpoint *ep) {
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(ep, &st);
  return st.drop_short + st.drop_bad_offset + st.drop_bad_option +
         st.drop_bad_sack + st.drop_bad_checksum;
}

void sim_fmt_time(char *out, size_t outlen, tcpu_tstamp t) {
  if (t == TCPU_TSTAMP_NONE) {
    snprintf(out, outlen, "never");
    return;
  }
  snprintf(out, outlen, "%" PRIu64 ".%06" PRIu64, t / TCPU_NS_PER_S,
           (t % TCPU_NS_PER_S) / 1000);
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* Options the way tcpdump prints them: <mss 1460,sackOK,TS val 1 ecr 0>. */
static void describe_opts(char *out, size_t outlen, const uint8_t *o,
                          size_t n) {
  size_t used = 0;
  out[0] = '\0';
#define ADD(...)                                                              \
  do {                                                                        \
    if (used < outlen)                                                        \
      used += (size_t)snprintf(out + used, outlen - used, __VA_ARGS__);       \
  } while (0)
  ADD(" <");
  size_t i = 0;
  int first = 1;
  while (i < n && o[i] != 0) {
    const char *sep = first ? "" : ",";
    first = 0;
    if (o[i] == 1) {
      ADD("%snop", sep);
      i++;
      continue;
    }
    if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n) {
      ADD("%sbad option", sep);
      break;
    }
    const uint8_t *p = o + i + 2;
    size_t l = o[i + 1];
    if (o[i] == 2 && l == 4)
      ADD("%smss %u", sep, (unsigned)p[0] << 8 | p[1]);
    else if (o[i] == 3 && l == 3)
      ADD("%swscale %u", sep, p[0]);
    else if (o[i] == 4 && l == 2)
      ADD("%ssackOK", sep);
    else if (o[i] == 8 && l == 10)
      ADD("%sTS val %" PRIu32 " ecr %" PRIu32, sep, be32(p), be32(p + 4));
    else if (o[i] == 5 && l >= 10 && (l - 2) % 8 == 0) {
      ADD("%ssack", sep);
      for (size_t k = 0; k + 8 <= l - 2; k += 8)
        ADD(" %" PRIu32 ":%" PRIu32, be32(p + k), be32(p + k + 4));
    } else
      ADD("%sopt-%u len %zu", sep, o[i], l);
    i += l;
  }
  ADD(">");
#undef ADD
}

void sim_describe_seg(char *out, size_t outlen, const uint8_t *d, size_t len) {
  if (len < 20) {
    snprintf(out, outlen, "short datagram (%zu bytes)", len);
    return;
  }
  unsigned sport = (unsigned)d[0] << 8 | d[1];
  unsigned dport = (unsigned)d[2] << 8 | d[3];
  uint32_t seq = be32(d + 4), ack = be32(d + 8);
  size_t off = (size_t)(d[12] >> 4) * 4;
  uint8_t fl = d[13];
  unsigned win = (unsigned)d[14] << 8 | d[15];
  size_t plen = off >= 20 && off <= len ? len - off : 0;
  char flags[8];
  size_t n = 0;
  if (fl & 0x02)
    flags[n++] = 'S';
  if (fl & 0x01)
    flags[n++] = 'F';
  if (fl & 0x04)
    flags[n++] = 'R';
  if (fl & 0x08)
    flags[n++] = 'P';
  if (fl & 0x10)
    flags[n++] = '.';
  flags[n] = '\0';
  char ackbuf[24] = "";
  if (fl & 0x10)
    snprintf(ackbuf, sizeof(ackbuf), " ack %" PRIu32, ack);
  char opts[200] = "";
  if (off > 20 && off <= len)
    describe_opts(opts, sizeof(opts), d + 20, off - 20);
  snprintf(out, outlen, "%u>%u %s %" PRIu32 ":%" PRIu32 "(%zu)%s win %u%s",
           sport, dport, flags, seq, seq + (uint32_t)plen, plen, ackbuf, win,
           opts);
}

uint64_t sim_trace_hash(uint64_t h, const tcpu_netsim_trace_rec *r) {
  uint64_t f[6] = {(uint64_t)r->ev, r->now, (uint64_t)r->from,
                   (uint64_t)r->to, (uint64_t)r->len, r->arrive};
  h = fnv(h, f, sizeof(f));
  if (r->data)
    h = fnv(h, r->data, r->len);
  return h;
}

const char *sim_event_name(tcpu_netsim_event ev) {
  static const char *const evname[] = {
      [TCPU_NETSIM_EV_SEND] = "send",
      [TCPU_NETSIM_EV_UNROUTABLE] = "unroutable",
      [TCPU_NETSIM_EV_LOST] = "LOST",
      [TCPU_NETSIM_EV_DROP_QUEUE] = "QDROP",
      [TCPU_NETSIM_EV_DUPLICATED] = "dup",
      [TCPU_NETSIM_EV_DELIVER] = "recv",
      [TCPU_NETSIM_EV_EXPIRY] = "timer"};
  if ((size_t)ev >= sizeof(evname) / sizeof(evname[0]) || !evname[ev])
    return "?";
  return evname[ev];
}

void sim_trace(void *arg, const tcpu_netsim_trace_rec *r) {
  sim_tracer *t = arg;
  t->hash = sim_trace_hash(t->hash, r);
  t->events++;
  if (!t->verbose)
    return;
  char now[32], arrive[32], seg[320] = "";
  sim_fmt_time(now, sizeof(now), r->now);
  const char *from = t->node_names ? t->node_names[r->from] : "?";
  const char *to = r->to == TCPU_NETSIM_NODE_NONE || !t->node_names
                       ? "-"
                       : t->node_names[r->to];
  if (r->ev == TCPU_NETSIM_EV_EXPIRY) {
    printf("%12s %s timers\n", now, from);
    return;
  }
  sim_describe_seg(seg, sizeof(seg), r->data, r->len);
  if (r->ev == TCPU_NETSIM_EV_DELIVER && (r->reordered || r->corrupted)) {
    printf("%12s %s>%s %-5s %s (%s%s%s)\n", now, from, to,
           sim_event_name(r->ev), seg,
           r->reordered ? "held back" : "",
           r->reordered && r->corrupted ? ", " : "",
           r->corrupted ? "CORRUPTED" : "");
  } else if (r->arrive != TCPU_TSTAMP_NONE) {
    sim_fmt_time(arrive, sizeof(arrive), r->arrive);
    printf("%12s %s>%s %-5s %s (arrives %s%s%s)\n", now, from, to,
           sim_event_name(r->ev), seg, arrive, r->reordered ? ", held back" : "",
           r->corrupted ? ", CORRUPTED" : "");
  } else {
    printf("%12s %s>%s %-5s %s\n", now, from, to, sim_event_name(r->ev),
           seg);
  }
}

void sim_print_stats(FILE *f, const char *name, const tcpu_endpoint *ep) {
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(ep, &st);
  fprintf(f,
          "  %s stats: in %" PRIu64 " out %" PRIu64 " short %" PRIu64
          " bad_offset %" PRIu64 " bad_option %" PRIu64 " bad_sack %" PRIu64
          " bad_checksum %" PRIu64 " bad_flags %" PRIu64 " no_conn %" PRIu64
          " unacceptable %" PRIu64 " out_of_order %" PRIu64
          " rst_sent %" PRIu64 " rst_received %" PRIu64
          " challenge_acks %" PRIu64 " opened %" PRIu64 " closed %" PRIu64
          "\n",
          name, st.dgrams_in, st.dgrams_out, st.drop_short, st.drop_bad_offset,
          st.drop_bad_option, st.drop_bad_sack, st.drop_bad_checksum,
          st.drop_bad_flags, st.drop_no_conn, st.drop_unacceptable,
          st.out_of_order, st.rst_sent, st.rst_received,
          st.challenge_acks, st.conns_opened, st.conns_closed);
}

void sim_print_info(FILE *f, const char *name, const tcpu_conn_info *ci) {
  fprintf(f,
          "  %s conn: %s mss %" PRIu32 " srtt %.3f ms rto %.3f ms min_rtt "
          "%.3f ms cwnd %" PRIu32 " ssthresh %" PRIu32 " sent %" PRIu64
          " acked %" PRIu64 " received %" PRIu64 " retrans %" PRIu64
          " bytes\n",
          name, tcpu_state_name(ci->state), ci->snd_mss, (double)ci->srtt / 1e6,
          (double)ci->rto / 1e6, (double)ci->min_rtt / 1e6, ci->cwnd,
          ci->ssthresh, ci->bytes_sent, ci->bytes_acked, ci->bytes_received,
          ci->bytes_retrans);
  fprintf(f,
          "    segs in %" PRIu64 " out %" PRIu64 " retransmits %" PRIu64
          " timeouts %" PRIu64 " fast_recoveries %" PRIu64 " tlp_probes %"
          PRIu64 " sacked %" PRIu64 " lost %" PRIu64 " dsacks %" PRIu64
          " reorder_events %" PRIu64 " spurious_undos %" PRIu64
          " paws_drops %" PRIu64 "\n",
          ci->segs_in, ci->segs_out, ci->retransmits, ci->timeouts,
          ci->fast_recoveries, ci->tlp_probes, ci->sacked_segs, ci->lost_segs,
          ci->dsacks, ci->reorder_events, ci->spurious_undos, ci->paws_drops);
}

void sim_say(int verbose, tcpu_tstamp now, const char *who,
             const char *what) {
  if (!verbose)
    return;
  char t[32];
  sim_fmt_time(t, sizeof(t), now);
  printf("%12s %s: %s\n", t, who, what);
}
