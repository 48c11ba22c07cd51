/*
 * sealed_handshake.c — sim_sealed's scenarios about getting connected:
 * cold (one round trip more than plain mode), handshake and aesgcm
 * (handshake messages lost, reordered, duplicated, injected late; then a
 * transfer), silence (wrong or unknown keys, cipher or PSK mismatch, a
 * plain client: no answer, the connect times out) and crossed (both ends
 * dial at once).  sim_sealed.c describes each property.
 */
#include "sealed_world.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/noise.h"

/* ---------------------------------------------------------------- cold */

static void cold_run(uint64_t seed, int plain, const tcpu_link_cfg *cfg,
                     int verbose, tcpu_duration *t, result *res) {
  world *w = world_alloc(res, 0);
  if (!w)
    return;
  setup su = {.plain = plain, .cs = *cfg, .sc = *cfg};
  if (world_init(w, seed, &su, verbose) == 0) {
    world_connect(w);
    world_run_expect(w, world_cond_connected, T0 + 60 * SEC, 100000, "connect");
  }
  *t = w->cli.connected_at - w->connect_at;
  if (w->v.ok && !plain) {
    tcpu_endpoint_stats st;
    tcpu_endpoint_get_stats(w->ep_c, &st);
    if (w->tap.sent[NODE_C][1] != 1 || w->tap.sent[NODE_S][2] != 1 ||
        st.handshakes_initiated != 1 || st.handshakes_done != 1)
      sim_fail(&w->v,
               "a clean cold connect took %" PRIu64 " initiations "
               "and %" PRIu64 " responses (handshakes_initiated %" PRIu64
               ", done %" PRIu64 "); one each expected",
               w->tap.sent[NODE_C][1], w->tap.sent[NODE_S][2],
               st.handshakes_initiated, st.handshakes_done);
  }
  if (verbose)
    world_describe_end(w);
  if (!w->v.ok && res->v.ok)
    sim_fail(&res->v, "%s run: %s", plain ? "plain" : "sealed", w->v.why);
  res->hash = sim_hash(res->hash, &w->tap.hash, sizeof(w->tap.hash));
  res->events += w->tap.events;
  res->steps += w->sim.stats.steps;
  world_free(w);
  free(w);
}

void sc_cold(uint64_t seed, int describe, int verbose, result *res) {
  static const uint64_t mbps[] = {1, 2, 5, 10, 50, 100, 1000};
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, tcpu_link_seed_mix(seed ^ 0xc01dc01d));
  tcpu_link_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.delay = (1000 + tcpu_link_rng_below(&r, 150000)) * 1000; /* 1-151 ms */
  if (tcpu_link_rng_chance(&r, 0.5)) {
    cfg.rate_bps = mbps[tcpu_link_rng_below(&r, 7)] * 1000000;
    cfg.overhead = 28;
  }
  tcpu_duration t_plain = 0, t_sealed = 0;
  res->v.ok = 1;
  res->hash = SIM_HASH_INIT;
  if (describe) {
    printf("seed %" PRIu64 ": cold connect, plain then sealed\n", seed);
    sim_print_link(stdout, "both ways", &cfg);
  }
  cold_run(seed, 1, &cfg, verbose, &t_plain, res);
  cold_run(seed, 0, &cfg, verbose, &t_sealed, res);
  /* The handshake is one round trip more; on a rate-limited link its two
   * messages and the 32 bytes sealing adds to the SYN and the SYN-ACK
   * also take serialisation time. */
  tcpu_duration rtt = 2 * cfg.delay;
  tcpu_duration slack = MS;
  if (cfg.rate_bps)
    slack += (148 + 92 + 32 + 32 + 4 * 28) * 8 * SEC / cfg.rate_bps;
  if (res->v.ok && t_sealed > t_plain + rtt + slack)
    sim_fail(&res->v,
             "a sealed cold connect took %.3f ms, plain %.3f ms: "
             "more than one round trip (%.3f ms) + %.3f ms more",
             (double)t_sealed / 1e6, (double)t_plain / 1e6, (double)rtt / 1e6,
             (double)slack / 1e6);
  snprintf(res->note, sizeof(res->note), "sealed - plain - rtt = %.3f ms",
           ((double)t_sealed - (double)t_plain - (double)rtt) / 1e6);
  if (describe)
    printf("  time to ESTABLISHED: plain %.3f ms, sealed %.3f ms, rtt %.3f "
           "ms, allowed slack %.3f ms\n",
           (double)t_plain / 1e6, (double)t_sealed / 1e6, (double)rtt / 1e6,
           (double)slack / 1e6);
}

/* ----------------------------------------------------------- handshake */

#define HS_MAX_COPIES 48

typedef struct hs_copy {
  tcpu_tstamp at;
  size_t to, from;
  uint16_t len;
  int done;
  uint8_t d[148];
} hs_copy;

typedef struct hs_state {
  tcpu_link_cfg base_cs, base_sc;
  int switched;
  hs_copy copies[HS_MAX_COPIES];
  size_t n_copies, scanned;
  uint64_t injected;
} hs_state;

static void hs_hook(world *w) {
  hs_state *h = w->sc;
  if (!h->switched && w->cli.connected && w->accepted) {
    /* Handshake over: the transfer runs over the milder link. */
    world_set_links(w, &h->base_cs, &h->base_sc);
    h->switched = 1;
    world_say(w, "path", "handshake phase over: milder link");
  }
  /* Each handshake message on the wire gets 0-2 late copies, most within
   * 3 s, some up to 10 s later: duplicates that overtake nothing and
   * arrive after the session is up. */
  for (; h->scanned < w->tap.n_recs; h->scanned++) {
    const sealed_rec *rc = &w->tap.recs[h->scanned];
    int ty = sealed_type(rc->data, rc->len);
    if (ty < 1 || ty > 3 || rc->to > NODE_S)
      continue;
    for (uint64_t k = tcpu_link_rng_below(&w->r, 3);
         k > 0 && h->n_copies < HS_MAX_COPIES; k--) {
      hs_copy *c = &h->copies[h->n_copies++];
      c->at = rc->t + (tcpu_link_rng_chance(&w->r, 0.7)
                           ? tcpu_link_rng_below(&w->r, 3 * SEC)
                           : 3 * SEC + tcpu_link_rng_below(&w->r, 7 * SEC));
      c->to = rc->to;
      c->from = rc->from;
      c->len = rc->len;
      c->done = 0;
      memcpy(c->d, rc->data, rc->len);
    }
  }
  tcpu_tstamp next = TCPU_TSTAMP_NONE;
  for (size_t i = 0; i < h->n_copies && w->v.ok; i++) {
    hs_copy *c = &h->copies[i];
    if (c->done)
      continue;
    if (c->at > world_now(w)) {
      if (c->at < next)
        next = c->at;
      continue;
    }
    c->done = 1;
    char what[96];
    sealed_describe(what, sizeof(what), c->d, c->len);
    world_say(w, "inject", what);
    sealed_inject_res res;
    sealed_inject(&w->sim, c->to, &w->sim.nodes[c->from].addr, c->d, c->len,
                  &res);
    h->injected++;
    if (res.rc != 0)
      sim_fail(&w->v, "injecting a copy of %s: %s", what,
               tcpu_err_name(res.rc));
  }
  if (next != TCPU_TSTAMP_NONE)
    tcpu_netsim_wake_at(&w->sim, next);
}

static void draw_harsh(tcpu_link_rng *r, tcpu_link_cfg *c) {
  c->ge_p_good_bad = 0;
  c->loss = tcpu_link_rng_chance(r, 0.8) ? sealed_uniform(r, 0.0, 0.25) : 0.0;
  c->dup = tcpu_link_rng_chance(r, 0.5) ? sealed_uniform(r, 0.0, 0.5) : 0.0;
  if (tcpu_link_rng_chance(r, 0.5)) {
    c->reorder = sealed_uniform(r, 0.0, 0.5);
    c->reorder_delay = (1 + tcpu_link_rng_below(r, 300)) * MS;
    c->reorder_jitter = tcpu_link_rng_below(r, 50 * MS);
  }
}

static void transfer_scenario(uint64_t seed, int describe, int verbose,
                              result *res, tcpu_cipher cipher) {
  world *w = world_alloc(res, sizeof(hs_state));
  if (!w)
    return;
  hs_state *h = w->sc;
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, tcpu_link_seed_mix(seed ^ 0x4a4d5a));
  setup su = {.vary = 1, .cipher_c = cipher, .cipher_s = cipher};
  sim_draw_link(&r, &h->base_cs, 0);
  sim_draw_link(&r, &h->base_sc, 0);
  su.cs = h->base_cs;
  su.sc = h->base_sc;
  draw_harsh(&r, &su.cs);
  draw_harsh(&r, &su.sc);
  su.psk = tcpu_link_rng_chance(&r, 0.5);
  su.n_cs = sealed_draw_size(&r, 64 * KiB, 2 * MiB);
  su.n_sc = sealed_draw_size(&r, 64 * KiB, 2 * MiB);
  if (world_init(w, seed, &su, verbose) != 0)
    goto out;
  if (describe) {
    world_describe(w, seed,
                   "handshake under loss, reordering and "
                   "duplication, then a transfer",
                   &su);
    sim_print_link(stdout, "c>s after the handshake", &h->base_cs);
    sim_print_link(stdout, "s>c after the handshake", &h->base_sc);
  }
  w->tap.record = SEALED_REC_SENT;
  w->tap.record_max_len = 148;
  w->hook = hs_hook;
  world_connect(w);
  uint64_t total = su.n_cs + su.n_sc;
  world_run_expect(w, world_cond_closed, T0 + 4 * 3600 * SEC, 2000000 + total / 4,
                   "transfer");
  world_check_streams(w);
  world_check_peers(w, &w->a_c);
  if (w->v.ok) {
    /* The sealed peers' timers (keepalives, key zeroing after 540 s) end
     * too: nothing is scheduled for ever. */
    w->hook = NULL;
    int how = world_run(w, NULL, world_now(w) + 3600 * SEC, 1000000);
    if (w->v.ok && how != TCPU_NETSIM_IDLE)
      sim_fail(&w->v,
               "an hour after both closed the simulation is not "
               "idle: %s",
               tcpu_netsim_result_name(how));
    world_check_balanced(w);
  }
  if (w->v.ok) {
    tcpu_endpoint_stats sc, ss;
    world_stats(w, &sc, &ss);
    uint64_t drops = sealed_drops(&sc) + sealed_drops(&ss);
    if (drops < w->sim.stats.delivered_corrupted)
      sim_fail(&w->v,
               "%" PRIu64 " corrupted copies delivered, only %" PRIu64
               " sealed datagrams dropped",
               w->sim.stats.delivered_corrupted, drops);
    snprintf(res->note, sizeof(res->note),
             "%" PRIu64 " initiations, %" PRIu64 " copies injected",
             sc.handshakes_initiated, h->injected);
  }
out:
  world_end(w, describe, res);
}

void sc_handshake(uint64_t seed, int describe, int verbose, result *res) {
  transfer_scenario(seed, describe, verbose, res, TCPU_CIPHER_CHACHAPOLY);
}

void sc_aesgcm(uint64_t seed, int describe, int verbose, result *res) {
  if (!tcpu_noise_cipher_available(TCPU_NOISE_AESGCM)) {
    res->v.ok = 1;
    res->skipped = 1;
    return;
  }
  transfer_scenario(seed, describe, verbose, res, TCPU_CIPHER_AESGCM);
}

/* -------------------------------------------------------------- silence */

static int cond_client_closed(world *w) { return w->cli.closed_seen > 0; }

static const char *const silence_name[] = {
    "the server does not list the client's key",
    "the client has a wrong key for the server",
    "the ends disagree on the cipher", "the ends disagree on the PSK",
    "a plain-mode client"};

void sc_silence(uint64_t seed, int describe, int verbose, result *res) {
  int kase = (int)(seed % 5);
  int aes = tcpu_noise_cipher_available(TCPU_NOISE_AESGCM);
  if (kase == 2 && !aes) {
    if (describe)
      printf("seed %" PRIu64 ": no AES-NI: the cipher mismatch case is "
             "replaced by an unlisted key\n",
             seed);
    kase = 0;
  }
  world *w = world_alloc(res, 0);
  if (!w)
    return;
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, tcpu_link_seed_mix(seed ^ 0x5113e));
  setup su = {.n_cs = 1000, .n_sc = 1000};
  setup_clean_links(&su, &r, 1, 80);
  su.unlisted = kase == 0;
  su.wrong_server_key = kase == 1;
  if (kase == 2) {
    int c_aes = tcpu_link_rng_chance(&r, 0.5);
    su.cipher_c = c_aes ? TCPU_CIPHER_AESGCM : TCPU_CIPHER_CHACHAPOLY;
    su.cipher_s = c_aes ? TCPU_CIPHER_CHACHAPOLY : TCPU_CIPHER_AESGCM;
  }
  su.psk = kase == 3 ? 2 : tcpu_link_rng_chance(&r, 0.5);
  su.client_plain = kase == 4;
  if (world_init(w, seed, &su, verbose) != 0)
    goto out;
  if (describe)
    world_describe(w, seed, silence_name[kase], &su);
  w->expect_client_err = 1;
  w->tap.record = SEALED_REC_SENT;
  w->tap.record_max_len = 148;
  world_connect(w);
  world_run_expect(w, cond_client_closed, T0 + 600 * SEC, 1000000,
                   "the connect failing");
  tcpu_tstamp closed_at = world_now(w);
  if (w->v.ok && w->cli.closed_err != TCPU_ERR_TIMEDOUT)
    sim_fail(&w->v, "the connect ended with %s, not TIMEDOUT",
             tcpu_err_name(w->cli.closed_err));
  if (w->v.ok && closed_at - w->connect_at > 200 * SEC)
    sim_fail(&w->v, "the connect took %.1f s to time out",
             (double)(closed_at - w->connect_at) / 1e9);
  /* Ten minutes in all: the silence lasts, the client stops trying. */
  if (w->v.ok) {
    int how = world_run(w, NULL, T0 + 600 * SEC, 1000000);
    if (w->v.ok && how < 0)
      sim_fail(&w->v, "run: %s", tcpu_netsim_result_name(how));
  }
  tcpu_endpoint_stats sc, ss;
  world_stats(w, &sc, &ss);
  uint64_t from_s = 0;
  for (int ty = 0; ty < 5; ty++)
    from_s += w->tap.sent[NODE_S][ty];
  uint64_t inits = w->tap.sent[NODE_C][1];
  if (!w->v.ok) {
  } else if (kase != 3 && (from_s != 0 || ss.dgrams_out != 0)) {
    sim_fail(&w->v,
             "the server sent %" PRIu64 " datagrams (%" PRIu64
             " responses, %" PRIu64 " cookie replies, %" PRIu64
             " transport, %" PRIu64 " other) towards a client it must "
             "ignore",
             from_s, w->tap.sent[NODE_S][2], w->tap.sent[NODE_S][3],
             w->tap.sent[NODE_S][4], w->tap.sent[NODE_S][0]);
  } else if (kase == 3 && from_s != w->tap.sent[NODE_S][2]) {
    sim_fail(&w->v,
             "PSK mismatch: the server sent %" PRIu64 " datagrams "
             "besides its handshake responses",
             from_s - w->tap.sent[NODE_S][2]);
  } else if (ss.conns_opened != 0 || w->accepted != 0) {
    sim_fail(&w->v, "the server opened %" PRIu64 " connections",
             ss.conns_opened);
  } else if (kase <= 2 && ss.handshakes_failed == 0) {
    sim_fail(&w->v, "the server counted no failed handshake");
  } else if (kase == 2 && ss.cipher_mismatches == 0) {
    sim_fail(&w->v, "the server did not name the cipher mismatch");
  } else if (kase != 2 && ss.cipher_mismatches != 0) {
    sim_fail(&w->v, "the server reported %" PRIu64 " cipher mismatches",
             ss.cipher_mismatches);
  } else if (kase == 4 && ss.drop_not_sealed == 0) {
    sim_fail(&w->v, "the server counted no datagram as not sealed");
  } else if (sc.handshakes_done != 0 || ss.handshakes_done != 0) {
    sim_fail(&w->v,
             "a handshake completed (client %" PRIu64 ", server %" PRIu64 ")",
             sc.handshakes_done, ss.handshakes_done);
  } else if (kase != 4 && (inits < 2 || inits > 21)) {
    sim_fail(&w->v,
             "the client sent %" PRIu64 " initiations; it should "
             "retry, and give up after 20",
             inits);
  } else if (kase == 3 && sc.handshakes_failed == 0) {
    sim_fail(&w->v, "PSK mismatch: the client counted no failed handshake");
  }
  if (w->v.ok && kase != 4) {
    /* WireGuard gives up after REKEY_ATTEMPT_TIME (90 s) + jitter. */
    tcpu_tstamp last = 0;
    for (size_t i = 0; i < w->tap.n_recs; i++)
      if (w->tap.recs[i].from == NODE_C &&
          sealed_type(w->tap.recs[i].data, w->tap.recs[i].len) == 1)
        last = w->tap.recs[i].t;
    if (last > w->connect_at + 100 * SEC)
      sim_fail(&w->v,
               "the client still sent an initiation %.1f s after "
               "the connect",
               (double)(last - w->connect_at) / 1e9);
  }
  snprintf(res->note, sizeof(res->note), "timed out after %.1f s",
           (double)(closed_at - w->connect_at) / 1e9);
out:
  world_end(w, describe, res);
}

/* -------------------------------------------------------------- crossed */

static int cond_crossed(world *w) {
  return w->cli.connected && w->accepted && w->x_connected_at &&
         w->x_accepted_at;
}

/* Both ends dial at about the same time, each knowing the other's
 * endpoint (hole punching makes them): their initiations may cross.  The
 * tie-break (sealed.c) promises that crossing initiations cost no retry:
 * both connections are established within three round trips of their
 * connect, and neither side sends a second initiation. */
void sc_crossed(uint64_t seed, int describe, int verbose, result *res) {
  world *w = world_alloc(res, 0);
  if (!w)
    return;
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, tcpu_link_seed_mix(seed ^ 0xc055ed));
  setup su = {.n_cs = 0, .n_sc = 0};
  setup_clean_links(&su, &r, 5, 96);
  su.psk = tcpu_link_rng_chance(&r, 0.5);
  tcpu_duration rtt = 2 * su.cs.delay;
  /* 0 to 1.5 round trips apart: crossing, nearly crossing, or not. */
  tcpu_duration delta = tcpu_link_rng_below(&r, 3 * su.cs.delay + 1);
  int server_first = tcpu_link_rng_chance(&r, 0.5);
  if (world_init(w, seed, &su, verbose) != 0)
    goto out;
  int larger = memcmp(w->pub_c, w->pub_s, TCPU_KEY_LEN) > 0;
  if (describe) {
    char what[160];
    snprintf(what, sizeof(what),
             "both dial, the %s %.3f ms after the %s; "
             "the %s has the larger key",
             server_first ? "client" : "server", (double)delta / 1e6,
             server_first ? "server" : "client", larger ? "client" : "server");
    world_describe(w, seed, what, &su);
  }
  if (tcpu_peer_set_endpoint(w->ps, &w->a_c, T0) != 0 ||
      tcpu_listen(w->ep_c, SERVER_PORT, 8, &w->x_listener, T0) != 0) {
    sim_fail(&w->v, "set-up of the second direction failed");
    goto out;
  }
  tcpu_addr to;
  tcpu_peer_addr(w->ps, &to);
  tcpu_tstamp t_client = T0 + (server_first ? delta : 0);
  tcpu_tstamp t_server = T0 + (server_first ? 0 : delta);
  for (int k = 0; k < 2 && w->v.ok; k++) {
    tcpu_tstamp t = (k == 0) == (t_client <= t_server) ? t_client : t_server;
    int client = t == t_client && !w->cli.open;
    if (t > world_now(w))
      world_run(w, NULL, t, 100000);
    if (client) {
      world_connect(w);
    } else {
      w->x_dial_at = world_now(w);
      if (tcpu_connect(w->ep_s, &to, 0, SERVER_PORT, &w->x_dial,
                       world_now(w)) != 0)
        sim_fail(&w->v, "the server's connect failed");
      world_say(w, "server", "connect");
    }
  }
  world_run_expect(w, cond_crossed, T0 + 120 * SEC, 1000000,
                   "both connections");
  tcpu_endpoint_stats sc, ss;
  world_stats(w, &sc, &ss);
  tcpu_duration t_c = w->cli.connected_at - w->connect_at;
  tcpu_duration t_s = w->x_connected_at - w->x_dial_at;
  if (!w->v.ok) {
  } else if (t_c > 3 * rtt + 5 * MS || t_s > 3 * rtt + 5 * MS) {
    sim_fail(&w->v,
             "crossed connects took %.3f ms (client) and %.3f ms "
             "(server), more than three round trips (%.3f ms)",
             (double)t_c / 1e6, (double)t_s / 1e6, (double)(3 * rtt) / 1e6);
  } else if (sc.handshakes_initiated > 1 || ss.handshakes_initiated > 1 ||
             sc.handshakes_done < 1 || ss.handshakes_done < 1) {
    /* A responder whose session still waits for its confirmation starts
     * a handshake of its own for its data, as WireGuard does, so there
     * may be two; but no initiation is ever repeated. */
    sim_fail(&w->v,
             "initiations: client %" PRIu64 ", server %" PRIu64
             " (handshakes_done %" PRIu64 "/%" PRIu64 "); at most one each "
             "expected",
             sc.handshakes_initiated, ss.handshakes_initiated,
             sc.handshakes_done, ss.handshakes_done);
  } else if (sc.roams || ss.roams || sc.auth_failures || ss.auth_failures) {
    sim_fail(&w->v,
             "roams %" PRIu64 "/%" PRIu64 ", auth_failures %" PRIu64
             "/%" PRIu64,
             sc.roams, ss.roams, sc.auth_failures, ss.auth_failures);
  }
  snprintf(res->note, sizeof(res->note), "%.1f and %.1f round trips",
           (double)t_c / (double)rtt, (double)t_s / (double)rtt);
out:
  world_end(w, describe, res);
}
