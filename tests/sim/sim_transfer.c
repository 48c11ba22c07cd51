/*
 * sim_transfer.c — seeded end-to-end property: a client and a server over
 * a pair of links whose faults are drawn from the seed each send the other
 * a seed-chosen stream (0 to ~300 KB), read everything, shut down and
 * close.  Per seed it must hold that
 *   - every byte arrives exactly once and in order (byte-for-byte compare),
 *   - both sides see end-of-stream, also when a reader pauses long enough
 *     for the window to close,
 *   - both connections end without error (closed callback, err 0) and the
 *     simulation then goes idle: no timer and no datagram left,
 *   - all of it within a generous virtual-time bound and step budget (a
 *     step-limit hit is a livelock, an idle simulation before the end a
 *     deadlock),
 *   - and every fourth seed, run again, gives the identical event trace.
 * A failure prints the seed and the command that replays it verbosely.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_common.h"

#define SERVER_PORT 80
#define MAX_STREAM (300 * 1024)
/* Generous: the slowest seeds (30% loss on a 1 Mbit/s, 100 ms path with
 * timeout-only recovery) need a few minutes of virtual time. */
#define VIRTUAL_LIMIT (2 * 3600 * TCPU_NS_PER_S)
#define STEP_LIMIT 3000000
/* Virtual time starts well away from zero, where an unset time stamp
 * could pass for a real one. */
#define T0 (1000 * TCPU_NS_PER_S)

typedef struct side {
  const char *name;
  tcpu_conn *c;
  int handle_open;          /* c is ours to use */
  const uint8_t *out;
  size_t out_len, written;
  size_t chunk;             /* largest single write */
  const uint8_t *expect;
  size_t in_len, readn;
  int eof, shut, connected;
  /* A slow reader stops for pause_len after every pause_every bytes, so
   * the window closes and the sender must probe it (persist timer). */
  size_t pause_every, next_pause;
  tcpu_duration pause_len;
  tcpu_tstamp paused_until; /* 0: reading */
  int closed_seen, closed_err;
  int closed_after_release; /* closed() after tcpu_conn_close: a bug */
  int reached_closed;       /* state_changed(..., CLOSED) seen */
  tcpu_state last;          /* latest state entered */
  unsigned states_seen;     /* bit per tcpu_state entered */
} side;

typedef struct world {
  tcpu_netsim sim;
  tcpu_endpoint *ep_c, *ep_s;
  tcpu_conn *listener;
  tcpu_conn *listener_was; /* only compared, never used after close */
  side cli, srv;
  sim_verdict v;
  int verbose;
  unsigned accepted;
} world;

static tcpu_tstamp now_of(world *w) { return w->sim.now; }

static void say(world *w, const char *who, const char *what) {
  if (!w->verbose)
    return;
  char t[32];
  sim_fmt_time(t, sizeof(t), now_of(w));
  printf("%12s %s: %s\n", t, who, what);
}

static side *side_of(world *w, tcpu_conn *c) {
  if (c && c == w->cli.c)
    return &w->cli;
  if (c && c == w->srv.c)
    return &w->srv;
  return NULL;
}

static void maybe_close(world *w, side *s) {
  if (s->handle_open && s->eof && s->shut) {
    say(w, s->name, "close");
    s->handle_open = 0;
    tcpu_conn_close(s->c, now_of(w));
  }
}

static void pump_write(world *w, side *s) {
  while (s->handle_open && s->written < s->out_len) {
    size_t n = s->out_len - s->written;
    if (n > s->chunk)
      n = s->chunk;
    tcpu_ssize r = tcpu_conn_write(s->c, s->out + s->written, n, now_of(w));
    if (r == TCPU_ERR_AGAIN)
      return;
    if (r <= 0 || (size_t)r > n) {
      sim_fail(&w->v, "%s: write returned %td (%s)", s->name, r,
               tcpu_err_name((int)r));
      return;
    }
    s->written += (size_t)r;
  }
  /* The FIN waits for the handshake: data written in SYN_SENT is queued
   * (tcpu.h), a shutdown there is not part of this property. */
  if (s->handle_open && s->connected && !s->shut &&
      s->written == s->out_len) {
    int rc = tcpu_conn_shutdown(s->c, now_of(w));
    if (rc != 0) {
      sim_fail(&w->v, "%s: shutdown returned %s", s->name, tcpu_err_name(rc));
      return;
    }
    s->shut = 1;
    say(w, s->name, "all written, shutdown");
    maybe_close(w, s);
  }
}

/* Whether a slow reader is in a pause now; starts one when due. */
static int pausing(world *w, side *s) {
  if (!s->pause_every || s->readn < s->next_pause)
    return 0;
  if (!s->paused_until) {
    s->paused_until = now_of(w) + s->pause_len;
    tcpu_netsim_wake_at(&w->sim, s->paused_until);
    say(w, s->name, "reader pauses");
    return 1;
  }
  if (now_of(w) < s->paused_until)
    return 1;
  s->paused_until = 0;
  s->next_pause += s->pause_every;
  say(w, s->name, "reader resumes");
  return 0;
}

static void pump_read(world *w, side *s) {
  uint8_t buf[16384];
  while (s->handle_open && !s->eof && !pausing(w, s)) {
    size_t want = sizeof(buf);
    if (s->pause_every && s->next_pause - s->readn < want)
      want = s->next_pause - s->readn;
    tcpu_ssize r = tcpu_conn_read(s->c, buf, want, now_of(w));
    if (r == TCPU_ERR_AGAIN)
      return;
    if (r < 0) {
      sim_fail(&w->v, "%s: read returned %s after %zu of %zu bytes", s->name,
               tcpu_err_name((int)r), s->readn, s->in_len);
      return;
    }
    if (r == 0) {
      if (s->readn != s->in_len) {
        sim_fail(&w->v, "%s: end of stream after %zu of %zu bytes", s->name,
                 s->readn, s->in_len);
        return;
      }
      s->eof = 1;
      say(w, s->name, "end of stream");
      maybe_close(w, s);
      return;
    }
    if (s->readn + (size_t)r > s->in_len) {
      sim_fail(&w->v, "%s: %td bytes beyond the %zu sent", s->name,
               (tcpu_ssize)(s->readn + (size_t)r - s->in_len), s->in_len);
      return;
    }
    if (memcmp(buf, s->expect + s->readn, (size_t)r) != 0) {
      size_t k = 0;
      while (buf[k] == s->expect[s->readn + k])
        k++;
      sim_fail(&w->v, "%s: byte %zu differs (got 0x%02x, sent 0x%02x)",
               s->name, s->readn + k, buf[k], s->expect[s->readn + k]);
      return;
    }
    s->readn += (size_t)r;
  }
}

/* ------------------------------------------------------------ callbacks */

static int on_accept(tcpu_conn *listener, void *ud) {
  world *w = ud;
  tcpu_conn *c;
  while (tcpu_accept(listener, &c) == 0) {
    if (w->accepted++ > 0) {
      sim_fail(&w->v, "server: a second connection was accepted");
      tcpu_conn_abort(c, now_of(w));
      continue;
    }
    w->srv.c = c;
    w->srv.handle_open = 1;
    w->srv.connected = 1;
    /* Its earlier transitions were reported before we knew it; being on
     * the accept queue means it was established. */
    w->srv.states_seen |= 1u << tcpu_conn_state(c) | 1u << TCPU_ESTABLISHED;
    w->srv.last = tcpu_conn_state(c);
    say(w, "server", "accepted");
    pump_read(w, &w->srv);
    pump_write(w, &w->srv);
  }
  return 0;
}

static int on_connected(tcpu_conn *c, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (s != &w->cli) {
    sim_fail(&w->v, "connected() for a connection that is not the client's");
    return 0;
  }
  s->connected = 1;
  say(w, s->name, "connected");
  pump_write(w, s);
  return 0;
}

static int on_readable(tcpu_conn *c, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (s)
    pump_read(w, s);
  return 0;
}

static int on_writable(tcpu_conn *c, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (s)
    pump_write(w, s);
  return 0;
}

static int on_state(tcpu_conn *c, tcpu_state from, tcpu_state to, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (s) {
    s->states_seen |= 1u << to;
    s->last = to;
    if (to == TCPU_CLOSED)
      s->reached_closed = 1;
  }
  if (w->verbose) {
    /* Transitions before the handle is known (a listener, a child not yet
     * accepted, the client inside tcpu_connect) have no side yet. */
    char what[64];
    snprintf(what, sizeof(what), "%s -> %s", tcpu_state_name(from),
             tcpu_state_name(to));
    say(w, s ? s->name : "(other)", what);
  }
  return 0;
}

static int on_closed(tcpu_conn *c, int err, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (!s && c == w->listener_was)
    return 0;
  if (!s) {
    /* A connection the application never saw: the server accepts once
     * and closes its listener, so there should be none. */
    sim_fail(&w->v, "an unexpected connection closed (%s)",
             tcpu_err_name(err));
    return 0;
  }
  if (s->closed_seen++)
    sim_fail(&w->v, "%s: closed() called twice", s->name);
  if (!s->handle_open)
    s->closed_after_release = 1;
  s->closed_err = err;
  if (w->verbose)
    say(w, s->name, err ? tcpu_err_name(err) : "closed ok");
  if (err != 0)
    sim_fail(&w->v, "%s: connection ended with %s", s->name,
             tcpu_err_name(err));
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

/* Between steps: close the listener once the connection is accepted (not
 * inside its own accept callback), and stop when both sides are done. */
static int transfer_done(tcpu_netsim *sim, void *arg) {
  world *w = arg;
  for (side *s = &w->cli; s; s = s == &w->cli ? &w->srv : NULL) {
    if (s->paused_until && now_of(w) >= s->paused_until)
      pump_read(w, s);
    else if (s->paused_until)
      tcpu_netsim_wake_at(sim, s->paused_until);
  }
  if (w->listener && w->accepted) {
    tcpu_conn_close(w->listener, now_of(w));
    w->listener = NULL;
  }
  if (!w->v.ok)
    return 1;
  /* The end is judged by the state, so a missing closed() call is
   * reported as such below rather than as a hang. */
  return w->cli.reached_closed && w->srv.reached_closed &&
         !w->cli.handle_open && !w->srv.handle_open;
}

/* ------------------------------------------------------------- one seed */

typedef struct seed_result {
  sim_verdict v;
  uint64_t trace_hash, trace_events;
  tcpu_tstamp elapsed;
  uint64_t steps;
} seed_result;

static void fill_stream(tcpu_link_rng *r, uint8_t *buf, size_t len) {
  for (size_t i = 0; i < len; i += 8) {
    uint64_t x = tcpu_link_rng_next(r);
    for (size_t k = 0; k < 8 && i + k < len; k++)
      buf[i + k] = (uint8_t)(x >> (8 * k));
  }
}

/* Stream sizes: an empty stream, a few segments, or up to MAX_STREAM. */
static size_t draw_size(tcpu_link_rng *r) {
  uint64_t k = tcpu_link_rng_below(r, 10);
  if (k == 0)
    return 0;
  if (k <= 3)
    return 1 + tcpu_link_rng_below(r, 4096);
  if (k <= 7)
    return 1 + tcpu_link_rng_below(r, 65536);
  return 1 + tcpu_link_rng_below(r, MAX_STREAM);
}

static void check_endpoints(world *w) {
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(w->ep_c, &st);
  if (st.conns_opened != st.conns_closed)
    sim_fail(&w->v, "client endpoint: %" PRIu64 " opened, %" PRIu64
             " closed", st.conns_opened, st.conns_closed);
  tcpu_endpoint_get_stats(w->ep_s, &st);
  if (st.conns_opened != st.conns_closed)
    sim_fail(&w->v, "server endpoint: %" PRIu64 " opened, %" PRIu64
             " closed", st.conns_opened, st.conns_closed);
}

static void run_seed(uint64_t seed, int verbose, seed_result *res,
                     uint8_t *c2s, uint8_t *s2c) {
  static const char *const names[] = {"c", "s"};
  world w;
  memset(&w, 0, sizeof(w));
  memset(res, 0, sizeof(*res));
  w.v.ok = 1;
  w.verbose = verbose;

  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, seed);
  tcpu_link_cfg cfg_cs, cfg_sc;
  sim_draw_link(&r, &cfg_cs, 1);
  sim_draw_link(&r, &cfg_sc, 1);
  tcpu_settings set_c, set_s;
  sim_settings(&r, &set_c);
  sim_settings(&r, &set_s);
  size_t n_cs = draw_size(&r), n_sc = draw_size(&r);
  fill_stream(&r, c2s, n_cs);
  fill_stream(&r, s2c, n_sc);
  int early_write = tcpu_link_rng_chance(&r, 0.3);
  size_t chunk_c = 1 + tcpu_link_rng_below(&r, 32768);
  size_t chunk_s = 1 + tcpu_link_rng_below(&r, 32768);
  size_t pause_every[2] = {0, 0};
  tcpu_duration pause_len[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    if (tcpu_link_rng_chance(&r, 0.2)) {
      /* At most 16 pauses of at most 2 s: slow, never hopeless. */
      size_t in_len = i ? n_cs : n_sc;
      pause_every[i] = 1 + tcpu_link_rng_below(&r, 32 * 1024);
      if (pause_every[i] < in_len / 16 + 1)
        pause_every[i] = in_len / 16 + 1;
      pause_len[i] = (10 + tcpu_link_rng_below(&r, 1991)) * TCPU_NS_PER_MS;
      /* A small buffer lets the pause close the window. */
      if (tcpu_link_rng_chance(&r, 0.7))
        (i ? &set_s : &set_c)->rcvbuf =
            (uint32_t)(8192 + tcpu_link_rng_below(&r, 57345));
    }
  }

  w.cli = (side){.name = "client", .out = c2s, .out_len = n_cs,
                 .chunk = chunk_c, .expect = s2c, .in_len = n_sc,
                 .pause_every = pause_every[0], .next_pause = pause_every[0],
                 .pause_len = pause_len[0]};
  w.srv = (side){.name = "server", .out = s2c, .out_len = n_sc,
                 .chunk = chunk_s, .expect = c2s, .in_len = n_cs,
                 .pause_every = pause_every[1], .next_pause = pause_every[1],
                 .pause_len = pause_len[1]};
  if (verbose) {
    printf("seed %" PRIu64 ": client sends %zu bytes (writes of <= %zu%s), "
           "server sends %zu bytes (writes of <= %zu)\n",
           seed, n_cs, chunk_c, early_write ? ", before the handshake" : "",
           n_sc, chunk_s);
    for (int i = 0; i < 2; i++) {
      if (pause_every[i])
        printf("  %s reader pauses %.3f ms after every %zu bytes\n",
               i ? "server" : "client", (double)pause_len[i] / 1e6,
               pause_every[i]);
    }
    sim_print_link(stdout, "c>s", &cfg_cs);
    sim_print_link(stdout, "s>c", &cfg_sc);
    printf("  client: mtu %u sndbuf %u rcvbuf %u ts %u sack %u ws %u "
           "nodelay %u\n", set_c.mtu, set_c.sndbuf, set_c.rcvbuf,
           set_c.timestamps, set_c.sack, set_c.window_scaling, set_c.nodelay);
    printf("  server: mtu %u sndbuf %u rcvbuf %u ts %u sack %u ws %u "
           "nodelay %u\n", set_s.mtu, set_s.sndbuf, set_s.rcvbuf,
           set_s.timestamps, set_s.sack, set_s.window_scaling, set_s.nodelay);
  }

  sim_tracer tr;
  sim_tracer_init(&tr, verbose, names);
  int rc = tcpu_netsim_init(&w.sim, seed, T0);
  if (rc != 0) {
    sim_fail(&w.v, "netsim_init: %s", tcpu_err_name(rc));
    res->v = w.v;
    return;
  }
  tcpu_netsim_set_trace(&w.sim, sim_trace, &tr);
  uint8_t ip_c[4] = {10, 0, 0, 1}, ip_s[4] = {10, 0, 0, 2};
  tcpu_addr a_c, a_s;
  memset(&a_c, 0, sizeof(a_c));
  memset(&a_s, 0, sizeof(a_s));
  tcpu_addr_ipv4(&a_c, ip_c, 40000);
  tcpu_addr_ipv4(&a_s, ip_s, 40000);

  if ((rc = tcpu_endpoint_new(&w.ep_c, &set_c, &callbacks, &w, T0)) != 0 ||
      (rc = tcpu_endpoint_new(&w.ep_s, &set_s, &callbacks, &w, T0)) != 0) {
    sim_fail(&w.v, "endpoint_new: %s", tcpu_err_name(rc));
    goto out;
  }
  if (tcpu_netsim_add_node(&w.sim, &a_c, w.ep_c) != 0 ||
      tcpu_netsim_add_node(&w.sim, &a_s, w.ep_s) != 1 ||
      tcpu_netsim_add_path(&w.sim, 0, 1, &cfg_cs, &cfg_sc) != 0) {
    sim_fail(&w.v, "netsim setup failed");
    goto out;
  }
  rc = tcpu_listen(w.ep_s, SERVER_PORT, 8, &w.listener, T0);
  w.listener_was = w.listener;
  if (rc != 0) {
    sim_fail(&w.v, "listen: %s", tcpu_err_name(rc));
    goto out;
  }
  rc = tcpu_connect(w.ep_c, &a_s, 0, SERVER_PORT, &w.cli.c, T0);
  if (rc != 0) {
    sim_fail(&w.v, "connect: %s", tcpu_err_name(rc));
    goto out;
  }
  w.cli.handle_open = 1;
  w.cli.last = tcpu_conn_state(w.cli.c);
  w.cli.states_seen |= 1u << w.cli.last;
  if (early_write)
    pump_write(&w, &w.cli);

  int how = tcpu_netsim_run(&w.sim, transfer_done, &w, T0 + VIRTUAL_LIMIT,
                            STEP_LIMIT);
  if (how != TCPU_NETSIM_DONE) {
    sim_fail(&w.v, "run ended %s before both sides were done "
             "(client read %zu/%zu eof %d %s, server read %zu/%zu eof %d "
             "%s)", tcpu_netsim_result_name(how), w.cli.readn, w.cli.in_len,
             w.cli.eof, tcpu_state_name(w.cli.last), w.srv.readn,
             w.srv.in_len, w.srv.eof, tcpu_state_name(w.srv.last));
  }
  if (w.v.ok) {
    /* Both connections are gone: nothing may remain scheduled. */
    uint64_t left = STEP_LIMIT > w.sim.stats.steps
                        ? STEP_LIMIT - w.sim.stats.steps
                        : 0;
    how = tcpu_netsim_run(&w.sim, NULL, NULL, T0 + VIRTUAL_LIMIT, left);
    if (how != TCPU_NETSIM_IDLE)
      sim_fail(&w.v, "after both closed the simulation did not go idle: %s",
               tcpu_netsim_result_name(how));
  }
  if (w.v.ok) {
    if (!w.cli.eof || !w.srv.eof)
      sim_fail(&w.v, "end of stream missing (client %d, server %d)",
               w.cli.eof, w.srv.eof);
    else if (w.cli.readn != n_sc || w.srv.readn != n_cs)
      sim_fail(&w.v, "short read (client %zu/%zu, server %zu/%zu)",
               w.cli.readn, n_sc, w.srv.readn, n_cs);
  }
  if (w.v.ok) {
    /* A side that sent its FIN first goes through TIME_WAIT; one of them
     * must have, and neither may have left ESTABLISHED by another path. */
    unsigned tw = 1u << TCPU_TIME_WAIT;
    if (!(w.cli.states_seen & tw) && !(w.srv.states_seen & tw))
      sim_fail(&w.v, "neither side passed TIME_WAIT");
    if (!(w.cli.states_seen & (1u << TCPU_ESTABLISHED)) ||
        !(w.srv.states_seen & (1u << TCPU_ESTABLISHED)))
      sim_fail(&w.v, "a side never reached ESTABLISHED");
    check_endpoints(&w);
  }
  /* tcpu.h: closed() comes only while the application holds the handle;
   * these sides released theirs after EOF, so it must not have come. */
  for (side *s = &w.cli; w.v.ok && s; s = s == &w.cli ? &w.srv : NULL) {
    if (s->closed_after_release)
      sim_fail(&w.v, "%s: closed() called after tcpu_conn_close", s->name);
  }

out:
  if (verbose && w.ep_c && w.ep_s) {
    sim_print_stats(stdout, "client", w.ep_c);
    sim_print_stats(stdout, "server", w.ep_s);
  }
  res->elapsed = w.sim.now - T0;
  res->steps = w.sim.stats.steps;
  res->trace_hash = tr.hash;
  res->trace_events = tr.events;
  if (!w.v.ok && !verbose) {
    char t[32];
    sim_fmt_time(t, sizeof(t), res->elapsed);
    snprintf(w.v.why + strlen(w.v.why), sizeof(w.v.why) - strlen(w.v.why),
             " [virtual %s s, %" PRIu64 " steps]", t, res->steps);
  }
  /* Handles the application still holds die with their endpoints. */
  tcpu_netsim_free(&w.sim);
  if (w.ep_c)
    tcpu_endpoint_del(w.ep_c);
  if (w.ep_s)
    tcpu_endpoint_del(w.ep_s);
  res->v = w.v;
}

/* Holds on to blocks of every small size class so that a second run gets
 * other addresses from malloc: state derived from pointers then shows up
 * as a different trace instead of repeating by luck. */
#define SHAKE_BLOCKS 1032
static void **heap_shake(void) {
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

static void heap_unshake(void **held) {
  if (!held)
    return;
  for (size_t k = 0; k < SHAKE_BLOCKS; k++)
    free(held[k]);
  free(held);
}

int main(int argc, char **argv) {
  sim_args a;
  if (sim_parse_args(&a, argc, argv, 1000) != 0)
    return 2;
  uint8_t *c2s = malloc(MAX_STREAM), *s2c = malloc(MAX_STREAM);
  if (!c2s || !s2c) {
    fprintf(stderr, "sim_transfer: out of memory\n");
    return 2;
  }
  uint64_t passed = 0, failed = 0;
  for (uint64_t seed = a.first; seed < a.end; seed++) {
    seed_result res;
    run_seed(seed, a.verbose, &res, c2s, s2c);
    if (seed % 4 == 0) {
      /* Same seed, same events: anything else is hidden state (an
       * uninitialised read, a clock, a pointer, a global) in the core or
       * the lab, and would make the replay command lie. */
      seed_result again;
      void **held = heap_shake();
      run_seed(seed, 0, &again, c2s, s2c);
      heap_unshake(held);
      if (again.trace_hash != res.trace_hash ||
          again.trace_events != res.trace_events) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "not deterministic: a second run gave %" PRIu64
                 " events (hash %016" PRIx64 ") instead of %" PRIu64
                 " (hash %016" PRIx64 ")",
                 again.trace_events, again.trace_hash, res.trace_events,
                 res.trace_hash);
        if (res.v.ok)
          sim_fail(&res.v, "%s", msg);
        else
          snprintf(res.v.why + strlen(res.v.why),
                   sizeof(res.v.why) - strlen(res.v.why), "; and %s", msg);
      }
    }
    if (res.v.ok) {
      passed++;
      if (a.verbose) {
        char t[32];
        sim_fmt_time(t, sizeof(t), res.elapsed);
        printf("seed %" PRIu64 ": ok (virtual %s s, %" PRIu64 " steps)\n",
               seed, t, res.steps);
      }
    } else {
      failed++;
      printf("sim_transfer: seed %" PRIu64 " FAILED: %s\n", seed, res.v.why);
      printf("  replay: %s --seed %" PRIu64 "\n", a.argv0, seed);
    }
  }
  free(c2s);
  free(s2c);
  printf("sim_transfer: %" PRIu64 " seeds passed, %" PRIu64 " failed\n",
         passed, failed);
  return failed ? 1 : 0;
}
