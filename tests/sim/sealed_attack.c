/*
 * sealed_attack.c — sim_sealed's scenarios of an attacker on or off the
 * path: replay (every delivered datagram again, at four moments), tamper
 * (every byte of each message kind forged) and cookie (a flood of
 * initiations from spoofed sources).  sim_sealed.c describes each
 * property.
 */
#include "sealed_world.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/handshake.h"

/* --------------------------------------------------------------- replay */

typedef struct rp_state {
  double frac;
  int mid_done;
  uint64_t injected;
} rp_state;

/* Delivers again every datagram delivered so far, each to the endpoint
 * that received it, from its sender's address or an attacker's. */
static void replay_all(world *w, const char *phase, int want_replays,
                       int want_auth) {
  tcpu_endpoint_stats c0, s0, c1, s1;
  world_stats(w, &c0, &s0);
  size_t n = w->tap.n_recs, done = 0;
  int rec_mode = w->tap.record;
  w->tap.record = 0; /* the copies themselves are not recorded */
  char what[160], desc[96];
  for (size_t i = 0; i < n && w->v.ok; i++) {
    const sealed_rec *rc = &w->tap.recs[i];
    if (rc->to > NODE_S || rc->from > NODE_S)
      continue;
    tcpu_addr from = w->sim.nodes[rc->from].addr;
    if (tcpu_link_rng_chance(&w->r, 0.5))
      world_attacker_addr(w, &from);
    sealed_describe(desc, sizeof(desc), rc->data, rc->len);
    snprintf(what, sizeof(what), "%s: replayed datagram %zu (%s)", phase, i,
             desc);
    world_inject_refused(w, rc->to, &from, rc->data, rc->len, what);
    done++;
  }
  w->tap.record = rec_mode;
  ((rp_state *)w->sc)->injected += done;
  world_stats(w, &c1, &s1);
  uint64_t replays = c1.replays_dropped - c0.replays_dropped +
                     s1.replays_dropped - s0.replays_dropped;
  uint64_t auth =
      c1.auth_failures - c0.auth_failures + s1.auth_failures - s0.auth_failures;
  if (w->verbose) {
    char line[160];
    snprintf(line, sizeof(line),
             "%s: %zu datagrams replayed: %" PRIu64 " replays_dropped, %" PRIu64
             " auth_failures",
             phase, done, replays, auth);
    world_say(w, "replay", line);
  }
  if (w->v.ok && done > 0 && want_replays && replays == 0)
    sim_fail(&w->v,
             "%s: %zu datagrams replayed, replays_dropped did not "
             "grow",
             phase, done);
  if (w->v.ok && done > 0 && want_auth && auth == 0)
    sim_fail(&w->v,
             "%s: %zu datagrams replayed after the keys expired, "
             "auth_failures did not grow",
             phase, done);
}

static void rp_hook(world *w) {
  rp_state *p = w->sc;
  if (!p->mid_done &&
      w->srv.readn >= (uint64_t)(p->frac * (double)w->srv.in_len)) {
    p->mid_done = 1;
    replay_all(w, "mid-transfer", 1, 0);
  }
}

void sc_replay(uint64_t seed, int describe, int verbose, result *res) {
  static const uint64_t mbps[] = {10, 20, 50, 100};
  world *w = world_alloc(res, sizeof(rp_state));
  if (!w)
    return;
  rp_state *p = w->sc;
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, tcpu_link_seed_mix(seed ^ 0x7e91a1));
  setup su = {.vary = 1};
  tcpu_link_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.delay = (2 + tcpu_link_rng_below(&r, 59)) * MS;
  if (tcpu_link_rng_chance(&r, 0.5)) {
    cfg.rate_bps = mbps[tcpu_link_rng_below(&r, 4)] * 1000000;
    cfg.overhead = 28;
  }
  if (tcpu_link_rng_chance(&r, 0.5))
    cfg.loss = sealed_uniform(&r, 0.0, 0.02);
  if (tcpu_link_rng_chance(&r, 0.3))
    cfg.dup = sealed_uniform(&r, 0.0, 0.02);
  su.cs = su.sc = cfg;
  su.psk = tcpu_link_rng_chance(&r, 0.5);
  su.n_cs = sealed_draw_size(&r, 128 * KiB, MiB);
  su.n_sc = sealed_draw_size(&r, 16 * KiB, 512 * KiB);
  p->frac = sealed_uniform(&r, 0.25, 0.75);
  if (world_init(w, seed, &su, verbose) != 0)
    goto out;
  if (describe)
    world_describe(w, seed, "replay of every delivered datagram", &su);
  w->tap.record = SEALED_REC_DELIVERED;
  w->hook = rp_hook;
  world_connect(w);
  world_run_expect(w, world_cond_closed, T0 + 3600 * SEC, 3000000, "transfer");
  if (w->v.ok && !p->mid_done)
    sim_fail(&w->v, "the mid-transfer replay never ran");
  w->hook = NULL;
  /* Both handles closed; a side is in TIME_WAIT. */
  if (w->v.ok)
    replay_all(w, "closing", 1, 0);
  /* No connection left, the sessions still valid: a replayed SYN must not
   * open one. */
  if (w->v.ok)
    world_run_expect(w, world_cond_no_conns, world_now(w) + 600 * SEC, 1000000,
                     "connections ending");
  if (w->v.ok && world_now(w) - w->connect_at >= 170 * SEC)
    sim_fail(&w->v, "the connections outlived the sessions' 180 s");
  if (w->v.ok)
    replay_all(w, "after close", 1, 0);
  /* Long after: the keys are gone (REJECT_AFTER_TIME * 3 = 540 s). */
  if (w->v.ok) {
    tcpu_tstamp until = world_now(w) + 600 * SEC;
    int how = world_run(w, NULL, until, 1000000);
    if (how == TCPU_NETSIM_IDLE && w->sim.now < until)
      w->sim.now = until;
    else if (w->v.ok && how != TCPU_NETSIM_TIME_LIMIT &&
             how != TCPU_NETSIM_IDLE)
      sim_fail(&w->v, "waiting for the keys to expire: %s",
               tcpu_netsim_result_name(how));
  }
  if (w->v.ok)
    replay_all(w, "keys expired", 0, 1);
  world_check_streams(w);
  world_check_peers(w, &w->a_c);
  world_check_balanced(w);
  snprintf(res->note, sizeof(res->note), "%" PRIu64 " datagrams replayed",
           p->injected);
out:
  world_end(w, describe, res);
}

/* --------------------------------------------------------------- tamper */

enum {
  K_INIT = 1,     /* the initiation, c>s */
  K_RESP = 2,     /* the response, s>c */
  K_SYN = 4,      /* the first transport message c>s: the SYN */
  K_SYNACK = 8,   /* the first transport message s>c: the SYN-ACK */
  K_DATA_CS = 16, /* the first c>s transport message with data */
  K_DATA_SC = 32, /* the first s>c transport message with data */
  K_ALL = 63
};

typedef struct tp_state {
  unsigned done;
  int manual;
  unsigned seen_c, seen_s; /* transport messages with a segment */
  tcpu_link_cfg cs, sc;
  int single_bits; /* flip one bit per position, else a random byte */
  uint64_t injected;
  tcpu_tstamp manual_until;
} tp_state;

static const char *kind_name(unsigned k) {
  switch (k) {
  case K_INIT:
    return "initiation";
  case K_RESP:
    return "response";
  case K_SYN:
    return "SYN";
  case K_SYNACK:
    return "SYN-ACK";
  case K_DATA_CS:
    return "client data";
  case K_DATA_SC:
    return "server data";
  default:
    return "datagram";
  }
}

static void tamper_range(world *w, const sealed_rec *rec, unsigned kind,
                         size_t lo, size_t hi, const char *note) {
  tp_state *t = w->sc;
  uint8_t buf[2048];
  char what[160];
  for (size_t pos = lo; pos < hi && w->v.ok; pos++) {
    memcpy(buf, rec->data, rec->len);
    uint8_t mask = t->single_bits
                       ? (uint8_t)(1u << tcpu_link_rng_below(&w->r, 8))
                       : (uint8_t)(1 + tcpu_link_rng_below(&w->r, 255));
    buf[pos] ^= mask;
    tcpu_addr from = w->sim.nodes[rec->from].addr;
    if (tcpu_link_rng_chance(&w->r, 0.5))
      world_attacker_addr(w, &from);
    snprintf(what, sizeof(what), "the %s (%u bytes) with byte %zu ^ 0x%02x%s",
             kind_name(kind), rec->len, pos, mask, note);
    world_inject_refused(w, rec->to, &from, buf, rec->len, what);
    t->injected++;
  }
}

/* Delivers a held datagram unchanged; for the kinds under test, checks
 * that it was accepted. */
static void tp_deliver(world *w, const sealed_rec *rec, unsigned kind) {
  snap a, b;
  sealed_inject_res res;
  if (world_inject_snapped(w, rec->to, &w->sim.nodes[rec->from].addr,
                           rec->data, rec->len, &a, &b, &res) != 0)
    return;
  if (res.rc != 0) {
    sim_fail(&w->v, "delivering the %s: %s", kind_name(kind),
             tcpu_err_name(res.rc));
    return;
  }
  if (!kind)
    return;
  int i = rec->to == NODE_S ? 1 : 0;
  const char *bad = NULL;
  if (sealed_drops(&b.st[i]) != sealed_drops(&a.st[i]))
    bad = "it was dropped";
  else if (kind == K_INIT && (res.n < 1 || res.r[0].type != 2))
    bad = "no response followed";
  else if (kind == K_RESP &&
           b.st[0].handshakes_done != a.st[0].handshakes_done + 1)
    bad = "the client completed no handshake";
  else if (kind == K_SYN &&
           b.st[1].handshakes_done != a.st[1].handshakes_done + 1)
    bad = "it did not confirm the server's session";
  else if (kind == K_SYNACK && !w->cli.connected)
    bad = "the client did not connect";
  else if ((kind == K_DATA_CS || kind == K_DATA_SC) && b.readn[i] == a.readn[i])
    bad = "no byte was delivered";
  if (bad)
    sim_fail(&w->v, "the original %s (%u bytes) after the forgeries: %s",
             kind_name(kind), rec->len, bad);
}

static void tp_release(world *w) {
  tp_state *t = w->sc;
  t->manual = 0;
  w->tap.hold_mask = 0;
  world_set_links(w, &t->cs, &t->sc);
  sealed_rec rec;
  for (int k = 0; k < 10000 && sealed_tap_pop_held(&w->tap, &rec); k++) {
    if (w->v.ok)
      tp_deliver(w, &rec, 0);
    free(rec.data);
  }
  world_say(w, "wire", "released: the links carry the rest");
}

/* The test is the wire: every datagram is held (links with loss 1); the
 * kinds under test are forged at every byte position before the
 * original goes on, everything else goes on at once. */
static void tp_hook(world *w) {
  tp_state *t = w->sc;
  if (!t->manual)
    return;
  /* What is due now goes out (into the held links) before the step
   * would jump to the next event. */
  int rc = tcpu_netsim_drain(&w->sim);
  if (rc < 0) {
    sim_fail(&w->v, "drain: %s", tcpu_err_name(rc));
    return;
  }
  sealed_rec rec;
  for (int guard = 0;
       guard < 20000 && w->v.ok && sealed_tap_pop_held(&w->tap, &rec);
       guard++) {
    unsigned kind = 0;
    int ty = sealed_type(rec.data, rec.len);
    int from_c = rec.from == NODE_C;
    if (ty == 1 && from_c)
      kind = K_INIT;
    else if (ty == 2 && !from_c)
      kind = K_RESP;
    else if (ty == 4 && rec.len > 32) {
      unsigned *seen = from_c ? &t->seen_c : &t->seen_s;
      if ((*seen)++ == 0)
        kind = from_c ? K_SYN : K_SYNACK;
      else if (rec.len >= 32 + 20 + 100)
        kind = from_c ? K_DATA_CS : K_DATA_SC;
    }
    if (kind & t->done)
      kind = 0;
    if (kind) {
      char line[96];
      snprintf(line, sizeof(line), "forging the %s at every byte",
               kind_name(kind));
      world_say(w, "wire", line);
      /* mac2 is checked only under load (WireGuard §5.4.7): before the
       * original it would be as good as the original.  Those positions
       * are forged after it, as copies of a message already taken. */
      size_t mac2 = kind == K_INIT ? 132 : kind == K_RESP ? 76 : rec.len;
      tamper_range(w, &rec, kind, 0, mac2, "");
      if (w->v.ok)
        tp_deliver(w, &rec, kind);
      if (w->v.ok && mac2 < rec.len)
        tamper_range(w, &rec, kind, mac2, rec.len, " (mac2, after)");
      t->done |= kind;
    } else if (w->v.ok) {
      tp_deliver(w, &rec, 0);
    }
    free(rec.data);
  }
  if (w->v.ok && (t->done == K_ALL || world_now(w) >= t->manual_until))
    tp_release(w);
}

void sc_tamper(uint64_t seed, int describe, int verbose, result *res) {
  world *w = world_alloc(res, sizeof(tp_state));
  if (!w)
    return;
  tp_state *t = w->sc;
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, tcpu_link_seed_mix(seed ^ 0x7a3e9));
  setup su = {.vary = 1};
  memset(&t->cs, 0, sizeof(t->cs));
  t->cs.delay = (1 + tcpu_link_rng_below(&r, 50)) * MS;
  if (tcpu_link_rng_chance(&r, 0.3))
    t->cs.loss = sealed_uniform(&r, 0.0, 0.02);
  t->sc = t->cs;
  su.cs = t->cs;
  su.sc = t->sc;
  su.cs.loss = su.sc.loss = 1.0; /* held: the test forwards by hand */
  /* Hundreds of forged handshake messages in one instant would put the
   * receiver under load, and it would then rightly answer the original
   * with a cookie reply (the cookie scenario's subject). */
  su.handshake_load = UINT32_MAX;
  su.psk = tcpu_link_rng_chance(&r, 0.5);
  su.n_cs = sealed_draw_size(&r, 16 * KiB, 256 * KiB);
  su.n_sc = sealed_draw_size(&r, 16 * KiB, 256 * KiB);
  t->single_bits = tcpu_link_rng_chance(&r, 0.5);
  if (world_init(w, seed, &su, verbose) != 0)
    goto out;
  if (describe) {
    world_describe(w, seed, "every byte of each message kind forged", &su);
    sim_print_link(stdout, "both ways once released", &t->cs);
  }
  t->manual = 1;
  t->manual_until = T0 + 120 * SEC;
  w->tap.hold_mask = 1u << NODE_C | 1u << NODE_S;
  w->hook = tp_hook;
  world_connect(w);
  world_run_expect(w, world_cond_closed, T0 + 3600 * SEC, 2000000, "transfer");
  if (w->v.ok && t->done != K_ALL)
    sim_fail(&w->v, "only message kinds 0x%x of 0x%x were forged", t->done,
             K_ALL);
  world_check_streams(w);
  world_check_peers(w, &w->a_c);
  snprintf(res->note, sizeof(res->note), "%" PRIu64 " forgeries", t->injected);
out:
  world_end(w, describe, res);
}

/* --------------------------------------------------------------- cookie */

#define CK_POOL 24
#define CK_HOT 16
#define CK_TICK (10 * MS)
#define CK_SECS 20

typedef struct ck_state {
  uint8_t pool[CK_POOL][148];
  tcpu_addr hot[CK_HOT];
  tcpu_tstamp start, end, next_tick, connect_at;
  uint32_t per_tick;
  int connect_done;
  uint64_t injected, junk, replies, reply_bytes, injected_bytes;
  uint64_t dh, dh_sec[CK_SECS + 2];
  uint64_t processed, proc_sec[CK_SECS + 2], max_dh_one;
} ck_state;

/* Initiations from a key the server does not list, with a valid mac1 (it
 * only takes the server's public key): each one the server processes
 * costs it two X25519 before the unknown key shows. */
static int ck_craft(world *w, ck_state *k) {
  uint8_t priv[TCPU_KEY_LEN], pub[TCPU_KEY_LEN];
  sealed_draw_key(&w->r, priv, pub);
  tcpu_noise_identity *id = calloc(1, sizeof(*id));
  tcpu_noise_peer *p = calloc(1, sizeof(*p));
  int rc = -1;
  if (!id || !p)
    goto out;
  if (tcpu_noise_identity_init(id, priv, TCPU_NOISE_CHACHAPOLY, NULL) != 0)
    goto out_id;
  if (tcpu_noise_peer_init(p, id, w->pub_s, NULL) != 0)
    goto out_id;
  rc = 0;
  for (int i = 0; i < CK_POOL && rc == 0; i++) {
    /* The attacker's own clock: REKEY_TIMEOUT apart, so each is made. */
    tcpu_tstamp t = (tcpu_tstamp)(i + 1) * 6 * SEC;
    tcpu_ssize n = tcpu_noise_create_initiation(
        p, (uint32_t)tcpu_link_rng_next(&w->r) | 1, WALL_OFFSET + t, k->pool[i],
        sizeof(k->pool[i]), t);
    if (n != 148)
      rc = -1;
  }
  tcpu_noise_peer_free(p);
out_id:
  tcpu_noise_identity_free(id);
out:
  free(id);
  free(p);
  return rc;
}

static void ck_hook(world *w) {
  ck_state *k = w->sc;
  if (!k->connect_done && world_now(w) >= k->connect_at) {
    k->connect_done = 1;
    world_connect(w);
  }
  int ticks = 0;
  while (w->v.ok && k->next_tick <= world_now(w) && k->next_tick < k->end &&
         ticks++ < 1000) {
    for (uint32_t j = 0; j < k->per_tick && w->v.ok; j++) {
      tcpu_addr src;
      if (tcpu_link_rng_chance(&w->r, 0.3)) {
        src = k->hot[tcpu_link_rng_below(&w->r, CK_HOT)];
      } else {
        uint8_t ip[4] = {(uint8_t)(1 + tcpu_link_rng_below(&w->r, 223)),
                         (uint8_t)tcpu_link_rng_below(&w->r, 256),
                         (uint8_t)tcpu_link_rng_below(&w->r, 256),
                         (uint8_t)(1 + tcpu_link_rng_below(&w->r, 254))};
        tcpu_addr_ipv4(&src, ip,
                       (uint16_t)(1024 + tcpu_link_rng_below(&w->r, 60000)));
      }
      if (sealed_node_of(&w->sim, &src) >= 0)
        continue; /* never a real node's address */
      uint8_t msg[148];
      int junk = tcpu_link_rng_chance(&w->r, 0.1);
      if (junk) {
        for (size_t i = 0; i < sizeof(msg); i++)
          msg[i] = (uint8_t)tcpu_link_rng_next(&w->r);
        msg[0] = 1;
        msg[1] = msg[2] = msg[3] = 0;
      } else {
        memcpy(msg, k->pool[tcpu_link_rng_below(&w->r, CK_POOL)], sizeof(msg));
      }
      sealed_inject_res res;
      sealed_inject(&w->sim, NODE_S, &src, msg, sizeof(msg), &res);
      k->injected++;
      k->junk += (uint64_t)junk;
      k->injected_bytes += sizeof(msg);
      k->dh += res.dh;
      uint64_t sec = (world_now(w) - k->start) / SEC;
      if (sec < CK_SECS + 2 && res.dh) {
        k->dh_sec[sec] += res.dh;
        k->proc_sec[sec]++;
        k->processed++;
      }
      if (res.dh > k->max_dh_one)
        k->max_dh_one = res.dh;
      char s[64];
      sealed_fmt_addr(s, sizeof(s), &src);
      if (res.rc != 0) {
        sim_fail(&w->v, "flood: endpoint call failed: %s",
                 tcpu_err_name(res.rc));
      } else if (res.n > 1) {
        sim_fail(&w->v, "flood: %zu replies to one initiation from %s", res.n,
                 s);
      } else if (res.n == 1 && !tcpu_addr_equal(&res.r[0].to, &src)) {
        char t[64];
        sealed_fmt_addr(t, sizeof(t), &res.r[0].to);
        sim_fail(&w->v, "flood: an initiation from %s drew a reply to %s", s,
                 t);
      } else if (res.n == 1 &&
                 (res.r[0].len > sizeof(msg) || res.r[0].type != 3)) {
        sim_fail(&w->v,
                 "flood: a %zu-byte reply of type %d to a %zu-byte "
                 "initiation from %s (only cookie replies, never larger)",
                 res.r[0].len, res.r[0].type, sizeof(msg), s);
      } else if (junk && (res.n != 0 || res.dh != 0)) {
        sim_fail(&w->v,
                 "flood: an initiation with a bad mac1 from %s drew "
                 "%zu replies and %" PRIu64 " X25519",
                 s, res.n, res.dh);
      }
      k->replies += res.n;
      if (res.n == 1)
        k->reply_bytes += res.r[0].len;
    }
    k->next_tick += CK_TICK;
  }
  if (k->next_tick < k->end)
    tcpu_netsim_wake_at(&w->sim, k->next_tick);
  if (!k->connect_done)
    tcpu_netsim_wake_at(&w->sim, k->connect_at);
}

void sc_cookie(uint64_t seed, int describe, int verbose, result *res) {
  world *w = world_alloc(res, sizeof(ck_state));
  if (!w)
    return;
  ck_state *k = w->sc;
  tcpu_link_rng r;
  tcpu_link_rng_seed(&r, tcpu_link_seed_mix(seed ^ 0xc00c1e));
  setup su = {.n_cs = 64 * KiB, .n_sc = 64 * KiB};
  setup_clean_links(&su, &r, 5, 46);
  su.psk = tcpu_link_rng_chance(&r, 0.5);
  uint32_t rate = (uint32_t)(1000 + tcpu_link_rng_below(&r, 1001));
  k->per_tick = rate / 100;
  if (world_init(w, seed, &su, verbose) != 0)
    goto out;
  if (describe) {
    char what[128];
    snprintf(what, sizeof(what),
             "a flood of %u initiations/s for %d s "
             "(handshake_load %u), a client connects meanwhile",
             k->per_tick * 100, CK_SECS, w->set_s.handshake_load);
    world_describe(w, seed, what, &su);
  }
  if (ck_craft(w, k) != 0) {
    sim_fail(&w->v, "crafting the flood's initiations failed");
    goto out;
  }
  for (int i = 0; i < CK_HOT; i++)
    tcpu_addr_ipv4(&k->hot[i],
                   (const uint8_t[]){203, 0, 113, (uint8_t)(10 + i)},
                   (uint16_t)(5000 + i));
  k->start = k->next_tick = T0;
  k->end = T0 + CK_SECS * SEC;
  k->connect_at = T0 + (200 + tcpu_link_rng_below(&r, 1801)) * MS;
  w->hook = ck_hook;
  w->tap.verbose = 0; /* tens of thousands of injections */
  world_run_expect(w, world_cond_closed, T0 + 600 * SEC, 4000000, "transfer");
  world_check_streams(w);
  world_check_peers(w, &w->a_c);
  tcpu_endpoint_stats sc, ss;
  world_stats(w, &sc, &ss);
  uint64_t load = w->set_s.handshake_load;
  /* The server's load window restarts each second: at most `load`
   * handshake messages a window are processed without a valid mac2 (a
   * calendar second overlaps two windows).  Processing one costs two
   * X25519 (es, ss) before the unknown key shows, and the cipher-mismatch
   * diagnosis (sealed.c) up to two more with the other cipher. */
  tcpu_tstamp flood_end = world_now(w) < k->end ? world_now(w) : k->end;
  uint64_t secs = (flood_end - k->start + SEC - 1) / SEC;
  uint64_t proc_bound = load * (secs + 1), proc_max_sec = 0;
  for (int i = 0; i < CK_SECS + 2; i++)
    if (k->proc_sec[i] > proc_max_sec)
      proc_max_sec = k->proc_sec[i];
  if (!w->v.ok) {
  } else if (ss.cookies_sent == 0) {
    sim_fail(&w->v, "%" PRIu64 " initiations, no cookie reply", k->injected);
  } else if (w->cli.connected_at >= k->end) {
    sim_fail(&w->v, "the client connected only after the flood");
  } else if (sc.cookies_received == 0 && sc.handshakes_initiated != 1) {
    sim_fail(&w->v,
             "the client needed %" PRIu64 " initiations but took no "
             "cookie",
             sc.handshakes_initiated);
  } else if (ss.handshakes_done != 1) {
    sim_fail(&w->v, "the server completed %" PRIu64 " handshakes",
             ss.handshakes_done);
  } else if (k->reply_bytes > k->injected_bytes) {
    sim_fail(&w->v, "the server sent more than it received");
  } else if (ss.ctl_queue_overflow) {
    sim_fail(&w->v, "ctl_queue_overflow %" PRIu64, ss.ctl_queue_overflow);
  } else if (sealed_dh_counted() &&
             (k->processed > proc_bound || proc_max_sec > 2 * load ||
              k->max_dh_one > 4)) {
    sim_fail(&w->v,
             "the server did Diffie-Hellman for %" PRIu64 " of the "
             "flood's initiations over %" PRIu64 " s (%" PRIu64 " in one "
             "second, up to %" PRIu64 " X25519 for one); its load threshold "
             "allows %" PRIu64 " (%" PRIu64 " a second, 4 X25519 each)",
             k->processed, secs, proc_max_sec, k->max_dh_one, proc_bound,
             2 * load);
  }
  snprintf(res->note, sizeof(res->note),
           "%" PRIu64 " injected, %" PRIu64 " cookies, %" PRIu64
           " processed with %" PRIu64 " X25519%s, client %s",
           k->injected, ss.cookies_sent, k->processed, k->dh,
           sealed_dh_counted() ? "" : " (not counted)",
           sc.cookies_received ? "used a cookie" : "needed no cookie");
  if (describe) {
    printf("  %s; connected after %.3f s; ratelimited %" PRIu64
           "; X25519 per second:",
           res->note, (double)(w->cli.connected_at - w->connect_at) / 1e9,
           ss.handshakes_ratelimited);
    for (int i = 0; i < CK_SECS + 2; i++)
      printf(" %" PRIu64, k->dh_sec[i]);
    printf("\n");
  }
out:
  world_end(w, describe, res);
}
