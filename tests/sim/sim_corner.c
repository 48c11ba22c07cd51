/*
 * sim_corner.c — seeded end-to-end properties of the corner cases of
 * opening and closing, over mildly faulty links drawn from the seed:
 *   refused       a SYN to a port without a listener is answered with RST;
 *                 the connection fails with REFUSED, reads and writes
 *                 return it, and nothing stays behind;
 *   simclose      both sides shut down at the same instant, so their FINs
 *                 cross: both go FIN_WAIT_1 -> ... -> TIME_WAIT, never
 *                 through CLOSE_WAIT, at least one through CLOSING
 *                 (RFC 9293 §3.6 case 3, figure 13), both end without error;
 *   blackhole     a SYN to a host that never answers is sent
 *                 1 + syn_retries times, then the connection fails with
 *                 TIMEDOUT.
 * In each, the simulation then goes idle, and every corrupted datagram a
 * link delivered was dropped as malformed, and nothing else was.
 * A failure prints the seed and the command that replays it verbosely.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_common.h"

#define SERVER_PORT 80
#define CLOSED_PORT 81
#define VIRTUAL_LIMIT (3600 * TCPU_NS_PER_S)
#define STEP_LIMIT 200000
/* Virtual time starts well away from zero, where an unset time stamp
 * could pass for a real one. */
#define T0 (1000 * TCPU_NS_PER_S)

typedef struct side {
  const char *name;
  tcpu_conn *c;
  int handle_open, connected, eof, shut;
  int closed_seen, closed_err;
  int closed_after_release; /* closed() after tcpu_conn_close: a bug */
  int reached_closed;       /* state_changed(..., CLOSED) seen */
  unsigned states_seen;
} side;

typedef struct world {
  tcpu_netsim sim;
  sim_tracer tr;
  tcpu_endpoint *ep_c, *ep_s;
  tcpu_conn *listener, *listener_was;
  side cli, srv;
  sim_verdict v;
  int verbose;
  int shut_both; /* simclose: the shutdowns were issued */
  unsigned syns_from_client;
} world;

static tcpu_tstamp now_of(world *w) { return w->sim.now; }

static void note(world *w, const char *who, const char *what) {
  sim_say(w->verbose, now_of(w), who, what);
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
    note(w, s->name, "close");
    s->handle_open = 0;
    tcpu_conn_close(s->c, now_of(w));
  }
}

static void drain_read(world *w, side *s) {
  uint8_t buf[256];
  while (s->handle_open && !s->eof) {
    tcpu_ssize r = tcpu_conn_read(s->c, buf, sizeof(buf), now_of(w));
    if (r == TCPU_ERR_AGAIN)
      return;
    if (r != 0) {
      /* Neither side writes in these scenarios, and errors end the
       * connection through closed(). */
      if (r > 0)
        sim_fail(&w->v, "%s: read %td bytes nobody sent", s->name, r);
      return;
    }
    s->eof = 1;
    note(w, s->name, "end of stream");
    maybe_close(w, s);
  }
}

static int on_accept(tcpu_conn *listener, void *ud) {
  world *w = ud;
  tcpu_conn *c;
  while (tcpu_accept(listener, &c) == 0) {
    if (w->srv.c) {
      sim_fail(&w->v, "server: a second connection was accepted");
      tcpu_conn_abort(c, now_of(w));
      continue;
    }
    w->srv.c = c;
    w->srv.handle_open = 1;
    w->srv.connected = 1;
    w->srv.states_seen |= 1u << tcpu_conn_state(c) | 1u << TCPU_ESTABLISHED;
    note(w, "server", "accepted");
    drain_read(w, &w->srv);
  }
  return 0;
}

static int on_connected(tcpu_conn *c, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (s != &w->cli) {
    sim_fail(&w->v, "connected() for a connection not the client's");
    return 0;
  }
  s->connected = 1;
  note(w, s->name, "connected");
  return 0;
}

static int on_readable(tcpu_conn *c, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (s)
    drain_read(w, s);
  return 0;
}

static int on_state(tcpu_conn *c, tcpu_state from, tcpu_state to, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (s) {
    s->states_seen |= 1u << to;
    if (to == TCPU_CLOSED)
      s->reached_closed = 1;
  }
  if (w->verbose) {
    char what[64];
    snprintf(what, sizeof(what), "%s -> %s", tcpu_state_name(from),
             tcpu_state_name(to));
    note(w, s ? s->name : "(other)", what);
  }
  return 0;
}

static int on_closed(tcpu_conn *c, int err, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (!s && c == w->listener_was)
    return 0;
  if (!s) {
    sim_fail(&w->v, "an unexpected connection closed (%s)",
             tcpu_err_name(err));
    return 0;
  }
  if (s->closed_seen++)
    sim_fail(&w->v, "%s: closed() called twice", s->name);
  if (!s->handle_open)
    s->closed_after_release = 1;
  s->closed_err = err;
  note(w, s->name, err ? tcpu_err_name(err) : "closed ok");
  return 0;
}

static const tcpu_callbacks callbacks = {
    .accept = on_accept,
    .connected = on_connected,
    .readable = on_readable,
    .state_changed = on_state,
    .closed = on_closed,
};

/* Counts the client's SYNs whatever the link does to them, then hands the
 * event to the common tracer. */
static void count_trace(void *arg, const tcpu_netsim_trace_rec *r) {
  world *w = arg;
  int sent = r->ev == TCPU_NETSIM_EV_SEND || r->ev == TCPU_NETSIM_EV_LOST ||
             r->ev == TCPU_NETSIM_EV_DROP_QUEUE ||
             r->ev == TCPU_NETSIM_EV_UNROUTABLE;
  if (sent && r->from == 0 && r->len >= 20 && (r->data[13] & 0x02))
    w->syns_from_client++;
  sim_trace(&w->tr, r);
}

typedef enum scenario { REFUSED, SIMCLOSE, BLACKHOLE, N_SCENARIOS } scenario;
static const char *const scenario_name[] = {"refused", "simclose",
                                            "blackhole"};

/* --------------------------------------------------------- predicates */

static int failed_or(world *w, int cond) { return !w->v.ok || cond; }

static int refused_done(tcpu_netsim *sim, void *arg) {
  (void)sim;
  world *w = arg;
  return failed_or(w, w->cli.closed_seen);
}

static int simclose_done(tcpu_netsim *sim, void *arg) {
  world *w = arg;
  if (w->listener && w->srv.c) {
    tcpu_conn_close(w->listener, now_of(w));
    w->listener = NULL;
  }
  if (!w->shut_both && w->cli.connected && w->srv.c &&
      tcpu_link_held(tcpu_netsim_get_link(sim, 0, 1)) == 0 &&
      tcpu_link_held(tcpu_netsim_get_link(sim, 1, 0)) == 0) {
    /* Quiet path, both established: the two FINs leave at this instant. */
    w->shut_both = 1;
    note(w, "both", "shutdown at the same instant");
    int a = tcpu_conn_shutdown(w->cli.c, now_of(w));
    int b = tcpu_conn_shutdown(w->srv.c, now_of(w));
    if (a != 0 || b != 0)
      sim_fail(&w->v, "shutdown: client %s, server %s", tcpu_err_name(a),
               tcpu_err_name(b));
    w->cli.shut = w->srv.shut = 1;
    maybe_close(w, &w->cli);
    maybe_close(w, &w->srv);
  }
  /* The end is judged by the state, so a missing closed() call is
   * reported as such rather than as a hang. */
  return failed_or(w, w->cli.reached_closed && w->srv.reached_closed &&
                          !w->cli.handle_open && !w->srv.handle_open);
}

/* ----------------------------------------------------------- one seed */

static void check_failed_conn(world *w, int want) {
  side *s = &w->cli;
  if (!s->closed_seen) {
    sim_fail(&w->v, "client: no closed() callback");
    return;
  }
  if (s->closed_err != want) {
    sim_fail(&w->v, "client: closed with %s, want %s",
             tcpu_err_name(s->closed_err), tcpu_err_name(want));
    return;
  }
  if (!s->handle_open) {
    sim_fail(&w->v, "client: handle unexpectedly released");
    return;
  }
  uint8_t b[16];
  tcpu_ssize r = tcpu_conn_read(s->c, b, sizeof(b), now_of(w));
  if (r != want)
    sim_fail(&w->v, "client: read after failure returned %s, want %s",
             tcpu_err_name((int)r), tcpu_err_name(want));
  r = tcpu_conn_write(s->c, b, sizeof(b), now_of(w));
  if (r != want)
    sim_fail(&w->v, "client: write after failure returned %s, want %s",
             tcpu_err_name((int)r), tcpu_err_name(want));
  if (tcpu_conn_error(s->c) != want)
    sim_fail(&w->v, "client: tcpu_conn_error is %s, want %s",
             tcpu_err_name(tcpu_conn_error(s->c)), tcpu_err_name(want));
  if (tcpu_conn_state(s->c) != TCPU_CLOSED)
    sim_fail(&w->v, "client: failed connection is %s, not CLOSED",
             tcpu_state_name(tcpu_conn_state(s->c)));
  s->handle_open = 0;
  tcpu_conn_close(s->c, now_of(w));
}

static void check_idle(world *w) {
  if (!w->v.ok)
    return;
  uint64_t left = STEP_LIMIT > w->sim.stats.steps
                      ? STEP_LIMIT - w->sim.stats.steps
                      : 0;
  int how = tcpu_netsim_run(&w->sim, NULL, NULL, T0 + VIRTUAL_LIMIT, left);
  if (how != TCPU_NETSIM_IDLE)
    sim_fail(&w->v, "afterwards the simulation did not go idle: %s",
             tcpu_netsim_result_name(how));
  /* Every corrupted copy delivered was dropped as malformed, and nothing
   * else was (the black hole's node has no endpoint to count). */
  uint64_t bad = sim_malformed_drops(w->ep_c) +
                 (w->sim.nodes[1].ep ? sim_malformed_drops(w->ep_s) : 0);
  if (w->v.ok && bad != w->sim.stats.delivered_corrupted)
    sim_fail(&w->v, "the links delivered %" PRIu64 " corrupted datagrams "
             "but the endpoints dropped %" PRIu64 " as malformed",
             w->sim.stats.delivered_corrupted, bad);
}

static void run_scenario(uint64_t seed, scenario sc, int verbose,
                         sim_verdict *out) {
  static const char *const names[] = {"c", "s"};
  world w;
  memset(&w, 0, sizeof(w));
  w.v.ok = 1;
  w.verbose = verbose;
  w.cli.name = "client";
  w.srv.name = "server";

  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, tcpu_link_seed_mix(seed) ^ (uint64_t)sc);
  tcpu_link_cfg cfg_cs, cfg_sc;
  sim_draw_link(&r, &cfg_cs, 0);
  sim_draw_link(&r, &cfg_sc, 0);
  tcpu_settings set_c, set_s;
  sim_settings(&r, &set_c);
  sim_settings(&r, &set_s);
  if (sc == BLACKHOLE)
    set_c.syn_retries = (uint32_t)tcpu_link_rng_below(&r, 4);
  if (verbose) {
    printf("seed %" PRIu64 " scenario %s\n", seed, scenario_name[sc]);
    sim_print_link(stdout, "c>s", &cfg_cs);
    sim_print_link(stdout, "s>c", &cfg_sc);
    if (sc == BLACKHOLE)
      printf("  client syn_retries %u\n", set_c.syn_retries);
  }

  sim_tracer_init(&w.tr, verbose, names);
  if (tcpu_netsim_init(&w.sim, seed, T0) != 0) {
    sim_fail(&w.v, "netsim_init failed");
    *out = w.v;
    return;
  }
  tcpu_netsim_set_trace(&w.sim, count_trace, &w);
  uint8_t ip_c[4] = {10, 0, 0, 1}, ip_s[4] = {10, 0, 0, 2};
  tcpu_addr a_c, a_s;
  memset(&a_c, 0, sizeof(a_c));
  memset(&a_s, 0, sizeof(a_s));
  tcpu_addr_ipv4(&a_c, ip_c, 40000);
  tcpu_addr_ipv4(&a_s, ip_s, 40000);
  int rc;
  if ((rc = tcpu_endpoint_new(&w.ep_c, &set_c, &callbacks, &w, T0)) != 0 ||
      (rc = tcpu_endpoint_new(&w.ep_s, &set_s, &callbacks, &w, T0)) != 0) {
    sim_fail(&w.v, "endpoint_new: %s", tcpu_err_name(rc));
    goto out;
  }
  /* The black hole is a node without an endpoint: datagrams reach it
   * and vanish. */
  if (tcpu_netsim_add_node(&w.sim, &a_c, w.ep_c) != 0 ||
      tcpu_netsim_add_node(&w.sim, &a_s, sc == BLACKHOLE ? NULL : w.ep_s) !=
          1 ||
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
  uint16_t port = sc == REFUSED ? CLOSED_PORT : SERVER_PORT;
  rc = tcpu_connect(w.ep_c, &a_s, 0, port, &w.cli.c, T0);
  if (rc != 0) {
    sim_fail(&w.v, "connect: %s", tcpu_err_name(rc));
    goto out;
  }
  w.cli.handle_open = 1;

  int how;
  switch (sc) {
  case REFUSED:
    how = tcpu_netsim_run(&w.sim, refused_done, &w, T0 + VIRTUAL_LIMIT,
                          STEP_LIMIT);
    if (w.v.ok && how != TCPU_NETSIM_DONE)
      sim_fail(&w.v, "run ended %s before the client failed",
               tcpu_netsim_result_name(how));
    if (w.v.ok)
      check_failed_conn(&w, TCPU_ERR_REFUSED);
    if (w.v.ok && (w.cli.states_seen & 1u << TCPU_ESTABLISHED))
      sim_fail(&w.v, "client reached ESTABLISHED");
    check_idle(&w);
    if (w.v.ok) {
      tcpu_endpoint_stats st;
      tcpu_endpoint_get_stats(w.ep_s, &st);
      if (st.rst_sent == 0 || st.drop_no_conn == 0)
        sim_fail(&w.v, "server: rst_sent %" PRIu64 " drop_no_conn %" PRIu64,
                 st.rst_sent, st.drop_no_conn);
    }
    break;
  case BLACKHOLE:
    how = tcpu_netsim_run(&w.sim, refused_done, &w, T0 + VIRTUAL_LIMIT,
                          STEP_LIMIT);
    if (w.v.ok && how != TCPU_NETSIM_DONE)
      sim_fail(&w.v, "run ended %s before the client failed",
               tcpu_netsim_result_name(how));
    if (w.v.ok)
      check_failed_conn(&w, TCPU_ERR_TIMEDOUT);
    if (w.v.ok && w.syns_from_client != set_c.syn_retries + 1)
      sim_fail(&w.v, "client sent %u SYNs, want 1 + syn_retries = %u",
               w.syns_from_client, set_c.syn_retries + 1);
    if (w.v.ok && now_of(&w) - T0 < set_c.rto_initial)
      sim_fail(&w.v, "gave up after %" PRIu64 " ns, before one RTO",
               now_of(&w) - T0);
    check_idle(&w);
    break;
  case SIMCLOSE:
    how = tcpu_netsim_run(&w.sim, simclose_done, &w, T0 + VIRTUAL_LIMIT,
                          STEP_LIMIT);
    if (w.v.ok && how != TCPU_NETSIM_DONE)
      sim_fail(&w.v, "run ended %s (shutdown issued %d, client closed %d, "
               "server closed %d)", tcpu_netsim_result_name(how),
               w.shut_both, w.cli.reached_closed, w.srv.reached_closed);
    check_idle(&w);
    for (side *s = &w.cli; w.v.ok && s; s = s == &w.cli ? &w.srv : NULL) {
      unsigned st = s->states_seen;
      if (s->closed_err != 0)
        sim_fail(&w.v, "%s: ended with %s", s->name,
                 tcpu_err_name(s->closed_err));
      else if (!s->eof)
        sim_fail(&w.v, "%s: no end of stream", s->name);
      else if (!(st & 1u << TCPU_FIN_WAIT_1) || !(st & 1u << TCPU_TIME_WAIT))
        sim_fail(&w.v, "%s: did not pass FIN_WAIT_1 and TIME_WAIT", s->name);
      else if (st & (1u << TCPU_CLOSE_WAIT | 1u << TCPU_LAST_ACK))
        sim_fail(&w.v, "%s: went through CLOSE_WAIT/LAST_ACK", s->name);
    }
    if (w.v.ok && !((w.cli.states_seen | w.srv.states_seen) &
                    1u << TCPU_CLOSING))
      sim_fail(&w.v, "neither side passed CLOSING");
    /* tcpu.h: closed() comes only while the application holds the
     * handle; both sides released theirs, so it must not have come. */
    for (side *s = &w.cli; w.v.ok && s; s = s == &w.cli ? &w.srv : NULL) {
      if (s->closed_after_release)
        sim_fail(&w.v, "%s: closed() called after tcpu_conn_close",
                 s->name);
    }
    break;
  default:
    break;
  }

out:
  if (!w.v.ok && !verbose) {
    char t[32];
    sim_fmt_time(t, sizeof(t), now_of(&w) - T0);
    snprintf(w.v.why + strlen(w.v.why), sizeof(w.v.why) - strlen(w.v.why),
             " [virtual %s s]", t);
  }
  tcpu_netsim_free(&w.sim);
  if (w.ep_c)
    tcpu_endpoint_del(w.ep_c);
  if (w.ep_s)
    tcpu_endpoint_del(w.ep_s);
  *out = w.v;
}

int main(int argc, char **argv) {
  sim_args a;
  if (sim_parse_args(&a, argc, argv, 1000, 0) != 0)
    return 2;
  uint64_t passed = 0, failed = 0;
  for (uint64_t seed = a.first; seed < a.end; seed++) {
    int ok = 1;
    for (int sc = 0; sc < N_SCENARIOS; sc++) {
      sim_verdict v;
      run_scenario(seed, (scenario)sc, a.verbose, &v);
      if (!v.ok) {
        ok = 0;
        printf("sim_corner: seed %" PRIu64 " %s FAILED: %s\n", seed,
               scenario_name[sc], v.why);
        sim_print_replay(stdout, &a, seed);
      } else if (a.verbose) {
        printf("seed %" PRIu64 " %s: ok\n", seed, scenario_name[sc]);
      }
    }
    if (ok)
      passed++;
    else
      failed++;
  }
  printf("sim_corner: %" PRIu64 " seeds passed, %" PRIu64 " failed\n", passed,
         failed);
  return failed ? 1 : 0;
}
