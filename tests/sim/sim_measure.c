/*
 * sim_measure.c — figures for the closing note of the reliable byte
 * stream, measured in the virtual-time simulator and printed as JSON.
 *
 * One client sends a bulk stream to one server for `--duration` seconds
 * of virtual time (60 by default) over a 100 Mbit/s bottleneck with a
 * drop-tail queue, 28 bytes of IPv4 + UDP overhead per datagram; the
 * faults below apply to the data direction only (ACKs see the same rate,
 * delay and queue, nothing else):
 *   loss     40 ms RTT, 1% random loss, a 1 BDP queue (500 kB): goodput,
 *            and retransmitted bytes per goodput byte;
 *   reorder  20 ms RTT, no random loss, 5% of datagrams held back an
 *            extra 5-15 ms, a 1 BDP queue (250 kB): spurious
 *            retransmissions as a share of segments sent;
 *   clean    as `loss` without loss: link utilisation.
 * Both ends use 4 MiB buffers, so the queue, not a window, is the limit.
 *
 * Counters come from the sender's tcpu_conn_get_info at the end of the
 * measured interval.  The simulator adds ground truth from its trace: the
 * data segments on the wire, which of them were retransmissions (they
 * start below the highest sequence number sent before), and which copies
 * reached the receiver carrying no byte it had not already accepted —
 * with no duplication on the link, each such copy is one spurious
 * retransmission (one that was itself lost is not counted).  A segment
 * the receiver refused (reassembly full, outside the window, PAWS) is
 * counted as refused, and its bytes as not received; this relies on the
 * receiver counting such refusals (tcpu_endpoint_stats drop_reassembly,
 * drop_unacceptable; tcpu_conn_info paws_drops).
 *
 * Goodput is given over the whole interval, over its last five sixths
 * (after slow start), and in 20 slices along with the sender's cwnd at
 * the end of each.
 *
 * After the interval the sender shuts down; the run goes on until both
 * connections are closed, and every byte is checked on arrival against
 * the stream (offset by offset, and as a digest of the whole).  The
 * program exits 1 unless every scenario completed that way with sane
 * figures: goodput and link use within the link's rate, loss seen and
 * repaired where there was loss and none where there was none, a clean
 * path at least half used, and fewer than 10% of the datagrams
 * tail-dropped at the bottleneck (a sender that ignores congestion fails
 * that one).  Beyond that it sets no threshold on how good the figures
 * are, and it never looks at the wall clock for a verdict (it prints wall
 * time as information).
 *
 * --cc runs the scenarios with another congestion control; given several
 * times, once per algorithm, the objects then keyed "scenario@cc".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_common.h"

#define MS TCPU_NS_PER_MS
#define SEC TCPU_NS_PER_S
#define MiB ((uint32_t)1024 * 1024)
#define T0 (1000 * SEC)
#define OVERHEAD 28
#define CHUNK (64 * 1024)
/* After the measured interval: time to drain 4 MiB and close. */
#define CLOSE_LIMIT (600 * SEC)
#define SERIES 20

typedef struct scenario {
  const char *name;
  const char *what;
  uint64_t rate_bps;
  tcpu_duration owd; /* one-way delay: RTT / 2 */
  double loss;
  double reorder;
  tcpu_duration reorder_delay, reorder_jitter;
  uint64_t queue_bytes;
} scenario;

static const scenario scenarios[] = {
    {"loss", "100 Mbit/s, 40 ms RTT, 1% random loss, 1 BDP drop-tail queue",
     100000000, 20 * MS, 0.01, 0, 0, 0, 500000},
    {"reorder",
     "100 Mbit/s, 20 ms RTT, no random loss, 5% of datagrams delayed an "
     "extra 5-15 ms, 1 BDP drop-tail queue",
     100000000, 10 * MS, 0, 0.05, 5 * MS, 10 * MS, 250000},
    {"clean", "100 Mbit/s, 40 ms RTT, no random loss, 1 BDP drop-tail queue",
     100000000, 20 * MS, 0, 0, 0, 0, 500000},
};
#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* ------------------------------------------------------ wire tracking */

/* Which stream bytes reached the receiver: everything below cum, and
 * the sorted disjoint ranges above it. */
typedef struct range {
  uint64_t a, b;
} range;

typedef struct wire {
  int have_isn;
  uint32_t isn;
  uint64_t sent_high;  /* one past the highest data byte sent */
  uint64_t data_segs_sent, data_segs_retrans, data_bytes_sent;
  uint64_t rx_high;    /* for unwrapping received sequence numbers */
  uint64_t cum;
  range *r;
  size_t n, cap;
  uint64_t segs_delivered, dup_segs, dup_bytes;
  /* The receiver may refuse a segment it was handed (reassembly full,
   * outside the window): its bytes are then not received.  The delivery
   * is judged once tcpu_endpoint_recv has returned, at the next event. */
  const tcpu_endpoint *rx_ep;
  const tcpu_conn *const *rx_conn; /* the server's connection, once known */
  int pending;
  uint64_t pend_a, pend_b, pend_refusals;
  uint64_t refused_segs;
  int nomem;
  sim_tracer *tracer; /* -v: every event printed too */
} wire;

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* Stream offset of sequence number seq, near `near`. */
static uint64_t unwrap(const wire *w, uint32_t seq, uint64_t near) {
  uint32_t rel = seq - (w->isn + 1);
  return near + (uint64_t)(int64_t)(int32_t)(rel - (uint32_t)near);
}

/* The bytes of [a, b) already received. */
static uint64_t rx_old(const wire *w, uint64_t a, uint64_t b) {
  if (b <= w->cum)
    return b - a;
  uint64_t old = 0;
  if (a < w->cum) {
    old += w->cum - a;
    a = w->cum;
  }
  for (size_t i = 0; i < w->n; i++) {
    uint64_t lo = w->r[i].a > a ? w->r[i].a : a;
    uint64_t hi = w->r[i].b < b ? w->r[i].b : b;
    if (lo < hi)
      old += hi - lo;
  }
  return old;
}

/* Marks [a, b) received. */
static void rx_add(wire *w, uint64_t a, uint64_t b) {
  if (b <= w->cum)
    return;
  if (a < w->cum)
    a = w->cum;
  /* Insert [a, b), merging what it touches. */
  size_t i = 0;
  while (i < w->n && w->r[i].b < a)
    i++;
  size_t j = i;
  uint64_t na = a, nb = b;
  while (j < w->n && w->r[j].a <= b) {
    if (w->r[j].a < na)
      na = w->r[j].a;
    if (w->r[j].b > nb)
      nb = w->r[j].b;
    j++;
  }
  if (j == i) {
    if (w->n == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 64;
      range *r = realloc(w->r, cap * sizeof(*r));
      if (!r) {
        w->nomem = 1;
        return;
      }
      w->r = r;
      w->cap = cap;
    }
    memmove(&w->r[i + 1], &w->r[i], (w->n - i) * sizeof(*w->r));
    w->n++;
  } else if (j > i + 1) {
    memmove(&w->r[i + 1], &w->r[j], (w->n - j) * sizeof(*w->r));
    w->n -= j - i - 1;
  }
  w->r[i].a = na;
  w->r[i].b = nb;
  if (w->n > 0 && w->r[0].a <= w->cum) {
    if (w->r[0].b > w->cum)
      w->cum = w->r[0].b;
    memmove(&w->r[0], &w->r[1], (w->n - 1) * sizeof(*w->r));
    w->n--;
  }
}

/* Segments the receiver refused so far: reassembly refusals, window and
 * PAWS drops. */
static uint64_t rx_refusals(const wire *w) {
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(w->rx_ep, &st);
  uint64_t n = st.drop_reassembly + st.drop_unacceptable;
  if (w->rx_conn && *w->rx_conn) {
    tcpu_conn_info ci;
    tcpu_conn_get_info(*w->rx_conn, &ci);
    n += ci.paws_drops;
  }
  return n;
}

/* Judges the last delivery now that the receiver has handled it. */
static void rx_settle(wire *w) {
  if (!w->pending)
    return;
  w->pending = 0;
  uint64_t a = w->pend_a, b = w->pend_b;
  uint64_t old = rx_old(w, a, b);
  if (old < b - a && rx_refusals(w) != w->pend_refusals) {
    w->refused_segs++;
    return;
  }
  if (old == b - a)
    w->dup_segs++;
  w->dup_bytes += old;
  rx_add(w, a, b);
}

static void wire_trace(void *arg, const tcpu_netsim_trace_rec *r) {
  wire *w = arg;
  if (w->tracer)
    sim_trace(w->tracer, r);
  rx_settle(w);
  if (r->from != 0 || !r->data || r->len < 20)
    return;
  const uint8_t *d = r->data;
  size_t off = (size_t)(d[12] >> 4) * 4;
  if (off < 20 || off > r->len)
    return;
  uint32_t seq = be32(d + 4);
  if (d[13] & 0x02) {
    if (!w->have_isn) {
      w->have_isn = 1;
      w->isn = seq;
    }
    return;
  }
  size_t plen = r->len - off;
  if (!w->have_isn || plen == 0)
    return;
  int sent = r->ev == TCPU_NETSIM_EV_SEND || r->ev == TCPU_NETSIM_EV_LOST ||
             r->ev == TCPU_NETSIM_EV_DROP_QUEUE;
  if (sent) {
    uint64_t a = unwrap(w, seq, w->sent_high);
    w->data_segs_sent++;
    w->data_bytes_sent += plen;
    if (a < w->sent_high)
      w->data_segs_retrans++;
    if (a + plen > w->sent_high)
      w->sent_high = a + plen;
  } else if (r->ev == TCPU_NETSIM_EV_DELIVER && !r->corrupted) {
    uint64_t a = unwrap(w, seq, w->rx_high);
    if (a + plen > w->rx_high)
      w->rx_high = a + plen;
    w->segs_delivered++;
    w->pending = 1;
    w->pend_a = a;
    w->pend_b = a + plen;
    w->pend_refusals = rx_refusals(w);
  }
}

/* ------------------------------------------------------------ the run */

typedef struct run {
  const scenario *sc;
  tcpu_netsim sim;
  tcpu_settings set;
  tcpu_endpoint *ep_c, *ep_s;
  tcpu_conn *listener, *cli, *srv;
  int cli_open, srv_open;
  int cli_connected, cli_shut, cli_eof, srv_shut, srv_eof;
  int cli_closed_state, srv_closed_state;
  int err; /* first connection error seen */
  char why[256];
  uint64_t key;
  uint64_t written, readn, out_hash, in_hash;
  uint8_t *wbuf, *rbuf, *want;
  uint64_t wb_off, wb_len;
  tcpu_tstamp t_warm, t_end;
  int warm_done, end_done;
  uint64_t read_at_warm;
  /* Bytes read at the end of each of SERIES equal slices of the interval
   * and the sender's cwnd then. */
  uint64_t series[SERIES];
  uint32_t series_cwnd[SERIES];
  size_t n_series;
  /* At t_end. */
  tcpu_conn_info info;
  tcpu_link_stats link;
  tcpu_endpoint_stats rx_stats;
  tcpu_conn_info rx_info;
  wire wire_at_end;
  uint64_t read_at_end;
  wire w;
} run;

static void fail(run *r, const char *msg) {
  if (!r->why[0])
    snprintf(r->why, sizeof(r->why), "%s", msg);
}

static void pump_write(run *r) {
  tcpu_tstamp now = r->sim.now;
  while (r->cli_open && r->cli_connected && !r->cli_shut && now < r->t_end) {
    if (r->written < r->wb_off || r->written >= r->wb_off + r->wb_len) {
      r->wb_off = r->written;
      r->wb_len = CHUNK;
      sim_stream_fill(r->key, r->wb_off, r->wbuf, CHUNK);
    }
    size_t n = (size_t)(r->wb_off + r->wb_len - r->written);
    const uint8_t *p = r->wbuf + (r->written - r->wb_off);
    tcpu_ssize k = tcpu_conn_write(r->cli, p, n, now);
    if (k == TCPU_ERR_AGAIN)
      return;
    if (k <= 0) {
      fail(r, "client write failed");
      return;
    }
    r->out_hash = sim_hash(r->out_hash, p, (size_t)k);
    r->written += (uint64_t)k;
  }
}

static void maybe_close_srv(run *r) {
  if (r->srv_open && r->srv_eof && r->srv_shut) {
    r->srv_open = 0;
    tcpu_conn_close(r->srv, r->sim.now);
  }
}

static void pump_read_srv(run *r) {
  while (r->srv_open && !r->srv_eof) {
    tcpu_ssize k = tcpu_conn_read(r->srv, r->rbuf, CHUNK, r->sim.now);
    if (k == TCPU_ERR_AGAIN)
      return;
    if (k < 0) {
      fail(r, "server read failed");
      return;
    }
    if (k == 0) {
      r->srv_eof = 1;
      if (tcpu_conn_shutdown(r->srv, r->sim.now) != 0)
        fail(r, "server shutdown failed");
      r->srv_shut = 1;
      maybe_close_srv(r);
      return;
    }
    sim_stream_fill(r->key, r->readn, r->want, (size_t)k);
    if (memcmp(r->rbuf, r->want, (size_t)k) != 0) {
      fail(r, "server read bytes that differ from the stream");
      return;
    }
    r->in_hash = sim_hash(r->in_hash, r->rbuf, (size_t)k);
    r->readn += (uint64_t)k;
  }
}

static void pump_read_cli(run *r) {
  uint8_t b[256];
  while (r->cli_open && !r->cli_eof) {
    tcpu_ssize k = tcpu_conn_read(r->cli, b, sizeof(b), r->sim.now);
    if (k == TCPU_ERR_AGAIN)
      return;
    if (k != 0) {
      fail(r, k > 0 ? "client read data nobody sent" : "client read failed");
      return;
    }
    r->cli_eof = 1;
    if (r->cli_shut) {
      r->cli_open = 0;
      tcpu_conn_close(r->cli, r->sim.now);
    }
  }
}

static int on_accept(tcpu_conn *l, void *ud) {
  run *r = ud;
  tcpu_conn *c;
  while (tcpu_accept(l, &c) == 0) {
    if (r->srv) {
      fail(r, "a second connection was accepted");
      tcpu_conn_abort(c, r->sim.now);
      continue;
    }
    r->srv = c;
    r->srv_open = 1;
    pump_read_srv(r);
  }
  return 0;
}

static int on_connected(tcpu_conn *c, void *ud) {
  run *r = ud;
  if (c == r->cli) {
    r->cli_connected = 1;
    pump_write(r);
  }
  return 0;
}

static int on_readable(tcpu_conn *c, void *ud) {
  run *r = ud;
  if (c == r->srv)
    pump_read_srv(r);
  else if (c == r->cli)
    pump_read_cli(r);
  return 0;
}

static int on_writable(tcpu_conn *c, void *ud) {
  run *r = ud;
  if (c == r->cli)
    pump_write(r);
  return 0;
}

static int on_state(tcpu_conn *c, tcpu_state from, tcpu_state to, void *ud) {
  (void)from;
  run *r = ud;
  if (to == TCPU_CLOSED) {
    if (c == r->cli)
      r->cli_closed_state = 1;
    else if (c == r->srv)
      r->srv_closed_state = 1;
  }
  return 0;
}

static int on_closed(tcpu_conn *c, int err, void *ud) {
  run *r = ud;
  if (c != r->listener && err != 0 && !r->err) {
    r->err = err;
    char msg[96];
    snprintf(msg, sizeof(msg), "%s connection ended with %s",
             c == r->cli ? "client" : "server", tcpu_err_name(err));
    fail(r, msg);
  }
  return 0;
}

static const tcpu_callbacks callbacks = {
    .accept = on_accept,
    .connected = on_connected,
    .readable = on_readable,
    .writable = on_writable,
    .state_changed = on_state,
    .closed = on_closed,
};

static int measure_done(tcpu_netsim *sim, void *arg) {
  run *r = arg;
  tcpu_tstamp now = sim->now;
  if (r->listener && r->srv) {
    tcpu_conn_close(r->listener, now);
    r->listener = NULL;
  }
  while (r->n_series < SERIES) {
    tcpu_tstamp at = T0 + (r->t_end - T0) / SERIES * (r->n_series + 1);
    if (now < at) {
      tcpu_netsim_wake_at(sim, at);
      break;
    }
    r->series[r->n_series] = r->readn;
    if (r->cli_open) {
      tcpu_conn_info ci;
      tcpu_conn_get_info(r->cli, &ci);
      r->series_cwnd[r->n_series] = ci.cwnd;
    }
    r->n_series++;
  }
  if (!r->warm_done) {
    if (now >= r->t_warm) {
      r->warm_done = 1;
      r->read_at_warm = r->readn;
    } else {
      tcpu_netsim_wake_at(sim, r->t_warm);
    }
  }
  if (!r->end_done) {
    if (now >= r->t_end) {
      r->end_done = 1;
      r->read_at_end = r->readn;
      if (r->cli_open)
        tcpu_conn_get_info(r->cli, &r->info);
      r->link = tcpu_netsim_get_link(sim, 0, 1)->stats;
      rx_settle(&r->w);
      r->wire_at_end = r->w;
      tcpu_endpoint_get_stats(r->ep_s, &r->rx_stats);
      if (r->srv_open)
        tcpu_conn_get_info(r->srv, &r->rx_info);
      /* The sender is done: what it wrote drains, then both close. */
      if (r->cli_open && tcpu_conn_shutdown(r->cli, now) != 0)
        fail(r, "client shutdown failed");
      r->cli_shut = 1;
      pump_read_cli(r);
    } else {
      tcpu_netsim_wake_at(sim, r->t_end);
    }
  }
  if (r->why[0])
    return 1;
  return r->end_done && r->cli_closed_state && r->srv_closed_state &&
         !r->cli_open && !r->srv_open;
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One scenario; prints its JSON object and returns 1 when all is sane. */
static int run_scenario(const scenario *sc, const char *key, uint64_t seed,
                        tcpu_duration duration, int last, int verbose,
                        const char *cc) {
  static const char *const names[] = {"c", "s"};
  sim_tracer tracer;
  sim_tracer_init(&tracer, 1, names);
  double wall0 = wall_now();
  run *r = calloc(1, sizeof(*r));
  if (!r)
    return 0;
  r->sc = sc;
  r->wbuf = malloc(CHUNK);
  r->rbuf = malloc(CHUNK);
  r->want = malloc(CHUNK);
  r->out_hash = r->in_hash = SIM_HASH_INIT;
  r->t_end = T0 + duration;
  r->t_warm = T0 + duration / 6;

  tcpu_link_rng rng;
  tcpu_link_rng_seed(&rng, seed);
  tcpu_settings_default(&r->set);
  for (size_t i = 0; i < sizeof(r->set.secret); i++)
    r->set.secret[i] = (uint8_t)tcpu_link_rng_next(&rng);
  r->key = tcpu_link_rng_next(&rng);
  r->set.sndbuf = 4 * MiB;
  r->set.rcvbuf = 4 * MiB;
  r->set.timestamps = r->set.sack = r->set.window_scaling = 1;
  snprintf(r->set.cc, sizeof(r->set.cc), "%s", cc);

  tcpu_link_cfg fwd, rev;
  memset(&rev, 0, sizeof(rev));
  rev.rate_bps = sc->rate_bps;
  rev.overhead = OVERHEAD;
  rev.delay = sc->owd;
  rev.queue_bytes = sc->queue_bytes;
  fwd = rev;
  fwd.loss = sc->loss;
  fwd.reorder = sc->reorder;
  fwd.reorder_delay = sc->reorder_delay;
  fwd.reorder_jitter = sc->reorder_jitter;

  int how = -1;
  if (!r->wbuf || !r->rbuf || !r->want ||
      tcpu_netsim_init(&r->sim, seed, T0) != 0) {
    fail(r, "out of memory");
    goto report;
  }
  tcpu_netsim_set_trace(&r->sim, wire_trace, &r->w);
  r->w.rx_conn = (const tcpu_conn *const *)&r->srv;
  if (verbose)
    r->w.tracer = &tracer;
  uint8_t ip_c[4] = {10, 0, 0, 1}, ip_s[4] = {10, 0, 0, 2};
  tcpu_addr a_c, a_s;
  memset(&a_c, 0, sizeof(a_c));
  memset(&a_s, 0, sizeof(a_s));
  tcpu_addr_ipv4(&a_c, ip_c, 40000);
  tcpu_addr_ipv4(&a_s, ip_s, 40000);
  if (tcpu_endpoint_new(&r->ep_c, &r->set, &callbacks, r, T0) != 0 ||
      tcpu_endpoint_new(&r->ep_s, &r->set, &callbacks, r, T0) != 0 ||
      tcpu_netsim_add_node(&r->sim, &a_c, r->ep_c) != 0 ||
      tcpu_netsim_add_node(&r->sim, &a_s, r->ep_s) != 1 ||
      tcpu_netsim_add_path(&r->sim, 0, 1, &fwd, &rev) != 0 ||
      tcpu_listen(r->ep_s, 80, 8, &r->listener, T0) != 0 ||
      tcpu_connect(r->ep_c, &a_s, 0, 80, &r->cli, T0) != 0) {
    fail(r, "setup failed");
    goto report;
  }
  r->cli_open = 1;
  r->w.rx_ep = r->ep_s;
  /* About 10 steps per data segment is far more than any run needs. */
  uint64_t max_steps = 10 * (sc->rate_bps / 8 / 1000) *
                           ((duration + CLOSE_LIMIT) / SEC) +
                       1000000;
  how = tcpu_netsim_run(&r->sim, measure_done, r, r->t_end + CLOSE_LIMIT,
                        max_steps);
  if (!r->why[0] && how != TCPU_NETSIM_DONE) {
    char msg[96];
    snprintf(msg, sizeof(msg), "run ended %s before both sides closed",
             tcpu_netsim_result_name(how));
    fail(r, msg);
  }
  if (!r->why[0] && (r->readn != r->written || r->in_hash != r->out_hash))
    fail(r, "the server did not read exactly what the client wrote");
  if (!r->why[0] && r->w.nomem)
    fail(r, "out of memory in the wire tracker");

report:;
  double wall = wall_now() - wall0;
  const tcpu_conn_info *ci = &r->info;
  const tcpu_link_stats *ls = &r->link;
  const wire *wa = &r->wire_at_end;
  double secs = (double)duration / 1e9;
  double warm_secs = (double)(duration - duration / 6) / 1e9;
  uint64_t good = r->read_at_end;
  double goodput = (double)good * 8 / secs / 1e6;
  double goodput_warm =
      (double)(r->read_at_end - r->read_at_warm) * 8 / warm_secs / 1e6;
  double wire_bits =
      ((double)ls->bytes_delivered + (double)OVERHEAD * (double)ls->delivered) *
      8;
  double util = wire_bits / ((double)sc->rate_bps * secs);
  double rtx_per_good = good ? (double)ci->bytes_retrans / (double)good : 0;
  double rtx_share = ci->segs_out ? (double)ci->retransmits /
                                        (double)ci->segs_out : 0;
  double spurious_share =
      ci->segs_out ? (double)wa->dup_segs / (double)ci->segs_out : 0;
  double mss = ci->snd_mss;
  /* The best goodput the link allows: payload share of each datagram. */
  double max_goodput = 0;
  if (mss > 0) {
    double hdr = 20 + (ci->timestamps ? 12 : 0);
    max_goodput = (double)sc->rate_bps / 1e6 * mss / (mss + hdr + OVERHEAD);
  }

  /* Sanity, not quality. */
  char checks[512] = "";
  size_t cl = 0;
#define CHECK(cond, name)                                                    \
  do {                                                                       \
    if (!(cond) && cl < sizeof(checks))                                      \
      cl += (size_t)snprintf(checks + cl, sizeof(checks) - cl, "%s\"%s\"",   \
                             cl ? ", " : "", name);                          \
  } while (0)
  CHECK(!r->why[0], "completed");
  CHECK(good > 0, "goodput > 0");
  CHECK(goodput <= max_goodput * 1.0001, "goodput <= payload rate");
  CHECK(util <= 1.0001, "utilisation <= 1");
  CHECK(ci->bytes_retrans <= ci->bytes_sent, "bytes_retrans <= bytes_sent");
  CHECK(ci->retransmits <= ci->segs_out, "retransmits <= segs_out");
  CHECK(wa->dup_segs <= wa->data_segs_retrans,
        "duplicates delivered <= retransmissions sent");
  if (sc->loss > 0)
    CHECK(ls->lost > 0 && ci->retransmits > 0, "loss seen and repaired");
  else
    CHECK(ls->lost == 0, "no random loss");
  /* A sender that responds to congestion keeps drop-tail losses to a few
   * percent of what it sends (1-2% for loss-based algorithms here). */
  CHECK(ls->dropped_queue * 10 < ls->submitted + 10,
        "queue drops < 10% of datagrams");
  /* An empty path is filled within a few RTTs of slow start. */
  if (sc->loss == 0 && sc->reorder == 0)
    CHECK(util >= 0.5, "a clean path is at least half used");
  if (sc->reorder > 0)
    CHECK(ls->reordered > 0, "reordering happened");
#undef CHECK
  int ok = cl == 0;

  printf("    \"%s\": {\n", key);
  printf("      \"path\": {\"what\": \"%s\", \"rate_mbps\": %.1f, "
         "\"rtt_ms\": %.1f, \"loss\": %.4f, \"reorder\": %.4f, "
         "\"reorder_extra_ms\": [%.1f, %.1f], \"queue_bytes\": %" PRIu64
         ", \"overhead_bytes\": %d, \"faults_on\": \"data direction\"},\n",
         sc->what, (double)sc->rate_bps / 1e6, (double)(2 * sc->owd) / 1e6,
         sc->loss, sc->reorder, (double)sc->reorder_delay / 1e6,
         (double)(sc->reorder_delay + sc->reorder_jitter) / 1e6,
         sc->queue_bytes, OVERHEAD);
  printf("      \"settings\": {\"sndbuf\": %" PRIu32 ", \"rcvbuf\": %" PRIu32
         ", \"mtu\": %" PRIu32 ", \"mss\": %" PRIu32 ", \"sack\": %s, "
         "\"timestamps\": %s, \"cc\": \"%s\"},\n",
         r->set.sndbuf, r->set.rcvbuf, r->set.mtu, ci->snd_mss,
         ci->sack ? "true" : "false", ci->timestamps ? "true" : "false",
         cc[0] ? cc : "default");
  printf("      \"goodput_bytes\": %" PRIu64 ", \"goodput_mbps\": %.3f, "
         "\"steady_from_s\": %.3f, \"goodput_mbps_steady\": %.3f, "
         "\"max_goodput_mbps\": %.3f,\n",
         good, goodput, (double)(duration / 6) / 1e9, goodput_warm,
         max_goodput);
  printf("      \"link_utilisation\": %.4f,\n", util);
  printf("      \"goodput_mbps_series\": [");
  for (size_t i = 0; i < r->n_series; i++) {
    uint64_t prev = i ? r->series[i - 1] : 0;
    printf("%s%.2f", i ? ", " : "",
           (double)(r->series[i] - prev) * 8 / (secs / SERIES) / 1e6);
  }
  printf("],\n      \"cwnd_series\": [");
  for (size_t i = 0; i < r->n_series; i++)
    printf("%s%" PRIu32, i ? ", " : "", r->series_cwnd[i]);
  printf("],\n");
  printf("      \"bytes_sent\": %" PRIu64 ", \"bytes_retrans\": %" PRIu64
         ", \"retrans_bytes_per_goodput_byte\": %.5f,\n",
         ci->bytes_sent, ci->bytes_retrans, rtx_per_good);
  printf("      \"segs_out\": %" PRIu64 ", \"retransmits\": %" PRIu64
         ", \"retransmits_per_seg\": %.5f, \"dsacks\": %" PRIu64
         ", \"spurious_undos\": %" PRIu64 ", \"fast_recoveries\": %" PRIu64
         ", \"tlp_probes\": %" PRIu64 ", \"timeouts\": %" PRIu64
         ", \"reorder_events\": %" PRIu64 ",\n",
         ci->segs_out, ci->retransmits, rtx_share, ci->dsacks,
         ci->spurious_undos, ci->fast_recoveries, ci->tlp_probes, ci->timeouts,
         ci->reorder_events);
  printf("      \"srtt_ms\": %.3f, \"min_rtt_ms\": %.3f, \"rto_ms\": %.3f, "
         "\"cwnd\": %" PRIu32 ", \"ssthresh\": %" PRIu32 ",\n",
         (double)ci->srtt / 1e6, (double)ci->min_rtt / 1e6,
         (double)ci->rto / 1e6, ci->cwnd, ci->ssthresh);
  printf("      \"wire\": {\"data_segs_sent\": %" PRIu64
         ", \"data_segs_retransmitted\": %" PRIu64
         ", \"segs_delivered\": %" PRIu64 ", \"dup_segs_delivered\": %" PRIu64
         ", \"dup_bytes_delivered\": %" PRIu64
         ", \"spurious_retrans_per_seg\": %.5f, \"receiver_refused_segs\": %"
         PRIu64 "},\n",
         wa->data_segs_sent, wa->data_segs_retrans, wa->segs_delivered,
         wa->dup_segs, wa->dup_bytes, spurious_share, wa->refused_segs);
  printf("      \"receiver\": {\"drop_reassembly\": %" PRIu64
         ", \"drop_unacceptable\": %" PRIu64 ", \"paws_drops\": %" PRIu64
         ", \"out_of_order\": %" PRIu64 "},\n",
         r->rx_stats.drop_reassembly, r->rx_stats.drop_unacceptable,
         r->rx_info.paws_drops, r->rx_stats.out_of_order);
  printf("      \"link\": {\"submitted\": %" PRIu64 ", \"lost\": %" PRIu64
         ", \"queue_drops\": %" PRIu64 ", \"reordered\": %" PRIu64
         ", \"delivered\": %" PRIu64 "},\n",
         ls->submitted, ls->lost, ls->dropped_queue, ls->reordered,
         ls->delivered);
  char t[32];
  sim_fmt_time(t, sizeof(t), r->sim.now > r->t_end ? r->sim.now - r->t_end : 0);
  printf("      \"completed\": %s, \"error\": \"%s\", \"stream_bytes\": %" PRIu64
         ", \"close_after_s\": %s, \"steps\": %" PRIu64 ", \"wall_s\": %.2f,\n",
         r->why[0] ? "false" : "true", r->why, r->written, t,
         r->sim.stats.steps, wall);
  printf("      \"failed_checks\": [%s]\n", checks);
  printf("    }%s\n", last ? "" : ",");
  fflush(stdout);

  tcpu_netsim_free(&r->sim);
  if (r->ep_c)
    tcpu_endpoint_del(r->ep_c);
  if (r->ep_s)
    tcpu_endpoint_del(r->ep_s);
  free(r->w.r);
  free(r->wbuf);
  free(r->rbuf);
  free(r->want);
  free(r);
  return ok;
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--duration S] [--seed N] [--scenario NAME]... [--cc NAME]"
          " [-v]\n"
          "  --duration S     measured virtual seconds (default 60)\n"
          "  --seed N         seed of ISNs and link randomness (default 1)\n"
          "  --scenario NAME  loss, reorder or clean (default: all three)\n"
          "  --cc NAME        congestion control (default: the library's);\n"
          "                   several run each scenario once per algorithm\n"
          "  -v               print every event first (the output is then\n"
          "                   no longer JSON)\n",
          argv0);
}

#define MAX_CCS 8

int main(int argc, char **argv) {
  uint64_t seed = 1;
  double dur_s = 60;
  int want[N_SCENARIOS] = {0};
  int any = 0, verbose = 0;
  const char *ccs[MAX_CCS] = {""};
  size_t n_cc = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
      char *end = NULL;
      dur_s = strtod(argv[++i], &end);
      if (*end != '\0' || !(dur_s >= 0.1 && dur_s <= 36000)) {
        usage(argv[0]);
        return 2;
      }
    } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      char *end = NULL;
      seed = strtoull(argv[++i], &end, 10);
      if (*end != '\0') {
        usage(argv[0]);
        return 2;
      }
    } else if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc) {
      const char *name = argv[++i];
      size_t k = 0;
      while (k < N_SCENARIOS && strcmp(scenarios[k].name, name) != 0)
        k++;
      if (k == N_SCENARIOS) {
        usage(argv[0]);
        return 2;
      }
      want[k] = 1;
      any = 1;
    } else if (strcmp(argv[i], "--cc") == 0 && i + 1 < argc) {
      const char *cc = argv[++i];
      if (n_cc == MAX_CCS || strlen(cc) >= sizeof(((tcpu_settings *)0)->cc)) {
        usage(argv[0]);
        return 2;
      }
      ccs[n_cc++] = cc;
    } else if (strcmp(argv[i], "-v") == 0) {
      verbose = 1;
    } else {
      usage(argv[0]);
      return 2;
    }
  }
  tcpu_duration duration = (tcpu_duration)(dur_s * 1e9);
  size_t last = 0;
  for (size_t k = 0; k < N_SCENARIOS; k++) {
    if (!any)
      want[k] = 1;
    if (want[k])
      last = k;
  }
  /* One algorithm: objects keyed by scenario; several: "scenario@cc". */
  int keyed = n_cc > 1;
  if (n_cc == 0)
    n_cc = 1;
  printf("{\n  \"program\": \"sim_measure\", \"seed\": %" PRIu64
         ", \"duration_s\": %.3f, \"cc\": [",
         seed, (double)duration / 1e9);
  for (size_t j = 0; j < n_cc; j++)
    printf("%s\"%s\"", j ? ", " : "", ccs[j][0] ? ccs[j] : "default");
  printf("],\n  \"scenarios\": {\n");
  int ok = 1;
  for (size_t j = 0; j < n_cc; j++) {
    for (size_t k = 0; k < N_SCENARIOS; k++) {
      if (!want[k])
        continue;
      char key[64];
      if (keyed)
        snprintf(key, sizeof(key), "%s@%s", scenarios[k].name, ccs[j]);
      else
        snprintf(key, sizeof(key), "%s", scenarios[k].name);
      if (!run_scenario(&scenarios[k], key, seed, duration,
                        j + 1 == n_cc && k == last, verbose, ccs[j]))
        ok = 0;
    }
  }
  printf("  },\n  \"ok\": %s\n}\n", ok ? "true" : "false");
  return ok ? 0 : 1;
}
