/*
 * sealed_world.c — the world of the sim_sealed scenarios: set-up, the
 * applications' callbacks, running, checks and injection of datagrams
 * that must be refused; see sealed_world.h.
 */
#include "sealed_world.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const node_names[] = {"c", "s", "c2"};

/* ------------------------------------------------------------ the world */

static side *side_of(world *w, tcpu_conn *c) {
  if (c && c == w->cli.c)
    return &w->cli;
  if (c && c == w->srv.c)
    return &w->srv;
  return NULL;
}

static void release(world *w, side *s) {
  if (!s->open)
    return;
  tcpu_conn_get_info(s->c, &s->info);
  s->open = 0;
  s->released = 1;
  world_say(w, s->name, "close");
  tcpu_conn_close(s->c, world_now(w));
}

static void maybe_close(world *w, side *s) {
  if (s->open && s->eof && s->shut)
    release(w, s);
}

static void pump_write(world *w, side *s) {
  for (int k = 0; k < 100000 && s->open && s->connected && !s->shut; k++) {
    if (s->out_len == UNBOUNDED && s->stop_at && world_now(w) >= s->stop_at) {
      s->out_len = s->written;
      world_say(w, s->name, "writer stops");
    }
    if (s->written >= s->out_len) {
      int rc = tcpu_conn_shutdown(s->c, world_now(w));
      if (rc != 0) {
        sim_fail(&w->v, "%s: shutdown returned %s", s->name, tcpu_err_name(rc));
        return;
      }
      s->shut = 1;
      world_say(w, s->name, "all written, shutdown");
      maybe_close(w, s);
      return;
    }
    uint64_t left = s->out_len - s->written;
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    if (s->written < s->wb_off || s->written + n > s->wb_off + s->wb_len) {
      s->wb_off = s->written;
      s->wb_len = n;
      sim_stream_fill(s->out_key, s->wb_off, s->wbuf, n);
    }
    const uint8_t *p = s->wbuf + (s->written - s->wb_off);
    tcpu_ssize r = tcpu_conn_write(s->c, p, n, world_now(w));
    if (r == TCPU_ERR_AGAIN)
      return;
    if (r <= 0 || (size_t)r > n) {
      sim_fail(&w->v, "%s: write returned %td (%s) after %" PRIu64 " bytes",
               s->name, r, tcpu_err_name((int)r), s->written);
      return;
    }
    s->out_hash = sim_hash(s->out_hash, p, (size_t)r);
    s->written += (uint64_t)r;
  }
}

static void pump_read(world *w, side *s) {
  uint8_t buf[CHUNK], want[CHUNK];
  for (int k = 0; k < 100000 && s->open && !s->eof; k++) {
    tcpu_ssize r = tcpu_conn_read(s->c, buf, sizeof(buf), world_now(w));
    if (r == TCPU_ERR_AGAIN)
      return;
    if (r < 0) {
      if (!w->expect_client_err || s != &w->cli)
        sim_fail(&w->v, "%s: read returned %s after %" PRIu64 " bytes", s->name,
                 tcpu_err_name((int)r), s->readn);
      return;
    }
    if (r == 0) {
      if (s->in_len != UNBOUNDED && s->readn != s->in_len) {
        sim_fail(&w->v,
                 "%s: end of stream after %" PRIu64 " of %" PRIu64 " bytes",
                 s->name, s->readn, s->in_len);
        return;
      }
      s->eof = 1;
      world_say(w, s->name, "end of stream");
      maybe_close(w, s);
      return;
    }
    if (s->in_len != UNBOUNDED && s->readn + (uint64_t)r > s->in_len) {
      sim_fail(&w->v, "%s: bytes beyond the %" PRIu64 " sent", s->name,
               s->in_len);
      return;
    }
    sim_stream_fill(s->in_key, s->readn, want, (size_t)r);
    if (memcmp(buf, want, (size_t)r) != 0) {
      size_t i = 0;
      while (buf[i] == want[i])
        i++;
      sim_fail(&w->v, "%s: byte %" PRIu64 " differs (got 0x%02x, sent 0x%02x)",
               s->name, s->readn + i, buf[i], want[i]);
      return;
    }
    if (s->readn > 0) {
      tcpu_duration gap = world_now(w) - s->last_read;
      if (gap > s->max_gap) {
        s->max_gap = gap;
        s->gap_at = world_now(w);
      }
    }
    s->last_read = world_now(w);
    s->in_hash = sim_hash(s->in_hash, buf, (size_t)r);
    s->readn += (uint64_t)r;
  }
}

static int on_accept(tcpu_conn *listener, void *ud) {
  world *w = ud;
  tcpu_conn *c;
  if (listener == w->x_listener) {
    for (int k = 0; k < 1000 && tcpu_accept(listener, &c) == 0; k++) {
      if (w->x_acc) {
        sim_fail(&w->v, "client: a second connection was accepted");
        tcpu_conn_abort(c, world_now(w));
        continue;
      }
      w->x_acc = c;
      w->x_accepted_at = world_now(w);
      world_say(w, "client", "accepted the server's connection");
    }
    return 0;
  }
  for (int k = 0; k < 1000 && tcpu_accept(listener, &c) == 0; k++) {
    if (w->accepted++ > 0) {
      sim_fail(&w->v, "server: a second connection was accepted");
      tcpu_conn_abort(c, world_now(w));
      continue;
    }
    w->srv.c = c;
    w->srv.open = 1;
    w->srv.connected = 1;
    w->srv.connected_at = world_now(w);
    world_say(w, "server", "accepted");
    pump_read(w, &w->srv);
    pump_write(w, &w->srv);
  }
  return 0;
}

static int on_connected(tcpu_conn *c, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (c && c == w->x_dial) {
    w->x_connected_at = world_now(w);
    world_say(w, "server", "its own connection is established");
    return 0;
  }
  if (s != &w->cli) {
    sim_fail(&w->v, "connected() for a connection that is not the client's");
    return 0;
  }
  s->connected = 1;
  s->connected_at = world_now(w);
  world_say(w, s->name, "connected");
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
  if (w->verbose) {
    side *s = side_of(w, c);
    char what[64];
    snprintf(what, sizeof(what), "%s -> %s", tcpu_state_name(from),
             tcpu_state_name(to));
    world_say(w, s ? s->name : "(other)", what);
  }
  return 0;
}

static int on_closed(tcpu_conn *c, int err, void *ud) {
  world *w = ud;
  side *s = side_of(w, c);
  if (!s) {
    if (c != w->listener && c != w->x_listener && c != w->x_dial &&
        c != w->x_acc)
      sim_fail(&w->v, "an unexpected connection closed (%s)",
               tcpu_err_name(err));
    return 0;
  }
  s->closed_seen++;
  s->closed_err = err;
  world_say(w, s->name, err ? tcpu_err_name(err) : "closed ok");
  if (err != 0 && !(s == &w->cli && w->expect_client_err))
    sim_fail(&w->v, "%s: connection ended with %s", s->name,
             tcpu_err_name(err));
  if (s->open && err != 0)
    release(w, s);
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

/* ------------------------------------------------------------- running */

static int pred(tcpu_netsim *sim, void *arg) {
  (void)sim;
  world *w = arg;
  for (side *s = &w->cli; s; s = s == &w->cli ? &w->srv : NULL) {
    if (s->open && s->connected && !s->shut && s->out_len == UNBOUNDED &&
        s->stop_at) {
      if (world_now(w) >= s->stop_at)
        pump_write(w, s);
      else
        tcpu_netsim_wake_at(&w->sim, s->stop_at);
    }
  }
  if (w->hook && w->v.ok)
    w->hook(w);
  if (world_now(w) == w->last_t) {
    if (++w->same_time > SAME_TIME_STEPS)
      sim_fail(&w->v, "livelock: %" PRIu64 " steps at one virtual instant",
               w->same_time);
  } else {
    w->last_t = world_now(w);
    w->same_time = 0;
  }
  if (w->tap.oom)
    sim_fail(&w->v, "out of memory recording datagrams");
  if (!w->v.ok)
    return 1;
  return w->cond ? w->cond(w) : 0;
}

/* Runs until cond (or failure); the result of tcpu_netsim_run. */
int world_run(world *w, cond_fn cond, tcpu_tstamp deadline,
              uint64_t max_steps) {
  w->cond = cond;
  int how = tcpu_netsim_run(&w->sim, pred, w, deadline, max_steps);
  w->cond = NULL;
  return how;
}

int world_cond_connected(world *w) { return w->cli.connected; }

int world_cond_closed(world *w) { return w->cli.released && w->srv.released; }

static int count_conn(const tcpu_conn *c, void *arg) {
  if (tcpu_conn_state(c) != TCPU_LISTEN)
    (*(unsigned *)arg)++;
  return 0;
}

static unsigned live_conns(const tcpu_endpoint *ep) {
  unsigned n = 0;
  tcpu_endpoint_foreach_conn(ep, count_conn, &n);
  return n;
}

int world_cond_no_conns(world *w) {
  return live_conns(w->ep_c) == 0 && live_conns(w->ep_s) == 0;
}

/* Runs until cond, failing with `what` when it does not come. */
void world_run_expect(world *w, cond_fn cond, tcpu_tstamp deadline,
                      uint64_t max_steps, const char *what) {
  int how = world_run(w, cond, deadline, max_steps);
  if (w->v.ok && how != TCPU_NETSIM_DONE)
    sim_fail(&w->v,
             "%s: the run ended %s (client read %" PRIu64 "/%" PRIu64
             " wrote %" PRIu64 "/%" PRIu64 ", server read %" PRIu64 "/%" PRIu64
             " wrote %" PRIu64 "/%" PRIu64 ")",
             what, tcpu_netsim_result_name(how), w->cli.readn, w->cli.in_len,
             w->cli.written, w->cli.out_len, w->srv.readn, w->srv.in_len,
             w->srv.written, w->srv.out_len);
}

/* -------------------------------------------------------------- set-up */

static void make_settings(tcpu_link_rng *r, tcpu_settings *s, int vary,
                          int sealed, tcpu_cipher cipher,
                          const uint8_t priv[TCPU_KEY_LEN]) {
  if (vary) {
    sim_settings(r, s);
  } else {
    tcpu_settings_default(s);
    for (size_t i = 0; i < sizeof(s->secret); i++)
      s->secret[i] = (uint8_t)tcpu_link_rng_next(r);
  }
  if (sealed) {
    s->mode = TCPU_MODE_SEALED;
    s->cipher = cipher;
    memcpy(s->private_key, priv, TCPU_KEY_LEN);
    s->wall_clock_offset = WALL_OFFSET;
  }
}

void sealed_draw_key(tcpu_link_rng *r, uint8_t priv[TCPU_KEY_LEN],
                     uint8_t pub[TCPU_KEY_LEN]) {
  for (int i = 0; i < TCPU_KEY_LEN; i++)
    priv[i] = (uint8_t)tcpu_link_rng_next(r);
  tcpu_public_key(pub, priv);
}

static void side_init(side *s, const char *name, uint64_t out_key,
                      uint64_t out_len, uint64_t in_key, uint64_t in_len) {
  memset(s, 0, sizeof(*s));
  s->name = name;
  s->out_key = out_key;
  s->out_len = out_len;
  s->out_hash = SIM_HASH_INIT;
  s->in_key = in_key;
  s->in_len = in_len;
  s->in_hash = SIM_HASH_INIT;
}

void setup_clean_links(setup *su, tcpu_link_rng *r, uint64_t min_ms,
                       uint64_t span_ms) {
  memset(&su->cs, 0, sizeof(su->cs));
  su->cs.delay = (min_ms + tcpu_link_rng_below(r, span_ms)) * MS;
  su->sc = su->cs;
}

world *world_alloc(result *res, size_t state_size) {
  world *w = calloc(1, sizeof(*w));
  void *state = w && state_size ? calloc(1, state_size) : NULL;
  if (!w || (state_size && !state)) {
    free(w);
    free(state);
    sim_fail(&res->v, "out of memory");
    return NULL;
  }
  w->sc = state;
  return w;
}

/* Endpoints, nodes, links, keys, peers and the listener; the connect is
 * the scenario's.  Returns 0, or -1 with the verdict failed. */
int world_init(world *w, uint64_t seed, const setup *su, int verbose) {
  w->v.ok = 1;
  w->verbose = verbose;
  tcpu_link_rng_seed(&w->r, seed);
  sealed_rng_reseed(seed);
  tcpu_link_rng *r = &w->r;
  w->sealed_s = !su->plain;
  w->sealed_c = !su->plain && !su->client_plain;
  sealed_draw_key(r, w->priv_c, w->pub_c);
  sealed_draw_key(r, w->priv_s, w->pub_s);
  make_settings(r, &w->set_c, su->vary, w->sealed_c, su->cipher_c, w->priv_c);
  make_settings(r, &w->set_s, su->vary, w->sealed_s, su->cipher_s, w->priv_s);
  if (su->handshake_load)
    w->set_c.handshake_load = w->set_s.handshake_load = su->handshake_load;
  if (su->rcvbuf)
    w->set_c.rcvbuf = w->set_s.rcvbuf = su->rcvbuf;
  uint64_t k_cs = tcpu_link_rng_next(r), k_sc = tcpu_link_rng_next(r);
  side_init(&w->cli, "client", k_cs, su->n_cs, k_sc, su->n_sc);
  side_init(&w->srv, "server", k_sc, su->n_sc, k_cs, su->n_cs);

  sealed_tap_init(&w->tap, verbose, node_names, 3);
  int rc = tcpu_netsim_init(&w->sim, seed, T0);
  if (rc != 0) {
    sim_fail(&w->v, "netsim_init: %s", tcpu_err_name(rc));
    return -1;
  }
  w->last_t = T0;
  tcpu_netsim_set_trace(&w->sim, sealed_trace, &w->tap);
  tcpu_addr_ipv4(&w->a_c, (const uint8_t[]){10, 0, 0, 1}, 40000);
  tcpu_addr_ipv4(&w->a_s, (const uint8_t[]){10, 0, 0, 2}, 51820);
  if ((rc = tcpu_endpoint_new(&w->ep_c, &w->set_c, &callbacks, w, T0)) != 0 ||
      (rc = tcpu_endpoint_new(&w->ep_s, &w->set_s, &callbacks, w, T0)) != 0) {
    sim_fail(&w->v, "endpoint_new: %s", tcpu_err_name(rc));
    return -1;
  }
  if (tcpu_netsim_add_node(&w->sim, &w->a_c, w->ep_c) != NODE_C ||
      tcpu_netsim_add_node(&w->sim, &w->a_s, w->ep_s) != NODE_S ||
      tcpu_netsim_add_path(&w->sim, NODE_C, NODE_S, &su->cs, &su->sc) != 0) {
    sim_fail(&w->v, "netsim setup failed");
    return -1;
  }
  rc = tcpu_listen(w->ep_s, SERVER_PORT, 8, &w->listener, T0);
  if (rc != 0) {
    sim_fail(&w->v, "listen: %s", tcpu_err_name(rc));
    return -1;
  }
  uint8_t psk_c[TCPU_KEY_LEN], psk_s[TCPU_KEY_LEN];
  for (int i = 0; i < TCPU_KEY_LEN; i++)
    psk_c[i] = psk_s[i] = (uint8_t)tcpu_link_rng_next(r);
  if (su->psk == 2)
    psk_s[0] ^= 0x80;
  if (w->sealed_c) {
    uint8_t key[TCPU_KEY_LEN], junk[TCPU_KEY_LEN];
    memcpy(key, w->pub_s, TCPU_KEY_LEN);
    if (su->wrong_server_key)
      sealed_draw_key(r, junk, key);
    rc = tcpu_peer_add(w->ep_c, key, su->psk ? psk_c : NULL, &w->a_s, &w->pc,
                       T0);
    if (rc != 0) {
      sim_fail(&w->v, "client: peer_add: %s", tcpu_err_name(rc));
      return -1;
    }
  }
  if (w->sealed_s && !su->unlisted) {
    rc = tcpu_peer_add(w->ep_s, w->pub_c, su->psk ? psk_s : NULL, NULL, &w->ps,
                       T0);
    if (rc != 0) {
      sim_fail(&w->v, "server: peer_add: %s", tcpu_err_name(rc));
      return -1;
    }
  }
  return 0;
}

void world_connect(world *w) {
  tcpu_addr to = w->a_s;
  if (w->sealed_c)
    tcpu_peer_addr(w->pc, &to);
  w->connect_at = world_now(w);
  int rc = tcpu_connect(w->ep_c, &to, 0, SERVER_PORT, &w->cli.c, world_now(w));
  if (rc != 0) {
    sim_fail(&w->v, "connect: %s", tcpu_err_name(rc));
    return;
  }
  w->cli.open = 1;
  world_say(w, "client", "connect");
}

void world_free(world *w) {
  tcpu_netsim_free(&w->sim);
  if (w->ep_c)
    tcpu_endpoint_del(w->ep_c);
  if (w->ep_s)
    tcpu_endpoint_del(w->ep_s);
  sealed_tap_free(&w->tap);
}

void world_end(world *w, int describe, result *res) {
  if (describe)
    world_describe_end(w);
  world_finish(w, res);
  world_free(w);
  free(w->sc);
  free(w);
}

void world_set_links(world *w, const tcpu_link_cfg *cs,
                     const tcpu_link_cfg *sc) {
  if (tcpu_link_set_cfg(tcpu_netsim_get_link(&w->sim, NODE_C, NODE_S), cs) !=
          0 ||
      tcpu_link_set_cfg(tcpu_netsim_get_link(&w->sim, NODE_S, NODE_C), sc) != 0)
    sim_fail(&w->v, "tcpu_link_set_cfg failed");
}

void world_stats(world *w, tcpu_endpoint_stats *c, tcpu_endpoint_stats *s) {
  tcpu_endpoint_get_stats(w->ep_c, c);
  tcpu_endpoint_get_stats(w->ep_s, s);
}

/* ------------------------------------------------------------- checks */

void world_check_streams(world *w) {
  for (side *s = &w->cli; w->v.ok && s; s = s == &w->cli ? &w->srv : NULL) {
    side *peer = s == &w->cli ? &w->srv : &w->cli;
    if (!s->eof)
      sim_fail(&w->v, "%s: no end of stream", s->name);
    else if (peer->written != peer->out_len)
      sim_fail(&w->v, "%s: wrote %" PRIu64 " of %" PRIu64 " bytes", peer->name,
               peer->written, peer->out_len);
    else if (s->readn != peer->written)
      sim_fail(&w->v, "%s: read %" PRIu64 " bytes, %s wrote %" PRIu64, s->name,
               s->readn, peer->name, peer->written);
    else if (s->in_hash != peer->out_hash)
      sim_fail(&w->v,
               "%s: digest of the bytes read %016" PRIx64 " is not "
               "the digest %016" PRIx64 " of the bytes written",
               s->name, s->in_hash, peer->out_hash);
  }
}

/* The accepted connection names the client by its synthetic address, the
 * server knows the client's real UDP endpoint, each side has a session. */
void world_check_peers(world *w, const tcpu_addr *client_udp) {
  if (!w->v.ok || !w->sealed_c || !w->sealed_s)
    return;
  tcpu_addr want;
  tcpu_peer_addr(w->ps, &want);
  if (want.family != TCPU_AF_PEER ||
      memcmp(want.ip, w->pub_c, sizeof(want.ip)) != 0)
    sim_fail(&w->v, "server: tcpu_peer_addr of the client is not its "
                    "TCPU_AF_PEER address");
  if (w->accepted != 1)
    sim_fail(&w->v, "server: %u connections accepted", w->accepted);
  else if (!tcpu_addr_equal(&w->srv.info.peer, &want))
    sim_fail(&w->v,
             "server: the accepted connection's peer (family %u) is "
             "not the client's synthetic address",
             w->srv.info.peer.family);
  tcpu_peer_info pi;
  tcpu_peer_get_info(w->ps, &pi);
  char a[64], b[64];
  sealed_fmt_addr(a, sizeof(a), &pi.endpoint);
  sealed_fmt_addr(b, sizeof(b), client_udp);
  if (!tcpu_addr_equal(&pi.endpoint, client_udp))
    sim_fail(&w->v, "server: the client's endpoint is %s, not %s", a, b);
  if (pi.handshakes < 1 || pi.last_handshake == TCPU_TSTAMP_NONE ||
      !pi.sealed || memcmp(pi.public_key, w->pub_c, TCPU_KEY_LEN) != 0)
    sim_fail(&w->v,
             "server: peer info of the client is wrong (handshakes %" PRIu64
             ", sealed %u)",
             pi.handshakes, pi.sealed);
  tcpu_peer_get_info(w->pc, &pi);
  if (!tcpu_addr_equal(&pi.endpoint, &w->a_s))
    sim_fail(&w->v, "client: the server's endpoint moved");
  if (pi.handshakes < 1)
    sim_fail(&w->v, "client: no handshake in the peer's info");
  tcpu_endpoint_stats sc, ss;
  world_stats(w, &sc, &ss);
  if (sc.handshakes_done < 1 || ss.handshakes_done < 1)
    sim_fail(&w->v, "handshakes_done: client %" PRIu64 ", server %" PRIu64,
             sc.handshakes_done, ss.handshakes_done);
  if (sealed_tcp_malformed(&sc) || sealed_tcp_malformed(&ss))
    sim_fail(&w->v,
             "a datagram reached the TCP parser malformed (client %" PRIu64
             ", server %" PRIu64 "): only authenticated segments may",
             sealed_tcp_malformed(&sc), sealed_tcp_malformed(&ss));
  if (sc.rst_received || ss.rst_received)
    sim_fail(&w->v, "a reset was received");
}

void world_check_balanced(world *w) {
  tcpu_endpoint_stats st;
  for (int i = 0; i < 2 && w->v.ok; i++) {
    tcpu_endpoint_get_stats(i ? w->ep_s : w->ep_c, &st);
    if (st.conns_opened != st.conns_closed || st.conns_opened != 1)
      sim_fail(&w->v,
               "%s endpoint: %" PRIu64 " connections opened, %" PRIu64
               " closed (one each expected)",
               i ? "server" : "client", st.conns_opened, st.conns_closed);
  }
}

void world_describe(world *w, uint64_t seed, const char *what,
                    const setup *su) {
  printf("seed %" PRIu64 ": %s; client sends %" PRIu64 " bytes, server %" PRIu64
         "%s%s\n",
         seed, what, su->n_cs, su->n_sc, su->psk ? ", with PSK" : "",
         su->cipher_c == TCPU_CIPHER_AESGCM ? ", AES-GCM" : "");
  sim_print_link(stdout, "c>s", &su->cs);
  sim_print_link(stdout, "s>c", &su->sc);
  printf("  mtu %u/%u cc %s/%s\n", w->set_c.mtu, w->set_s.mtu,
         w->set_c.cc[0] ? w->set_c.cc : "default",
         w->set_s.cc[0] ? w->set_s.cc : "default");
}

void world_describe_end(world *w) {
  if (w->ep_c)
    sealed_print_stats(stdout, "client", w->ep_c);
  if (w->ep_s)
    sealed_print_stats(stdout, "server", w->ep_s);
  for (side *s = &w->cli; s; s = s == &w->cli ? &w->srv : NULL) {
    if (s->open)
      tcpu_conn_get_info(s->c, &s->info);
    if (s->open || s->released)
      sim_print_info(stdout, s->name, &s->info);
  }
}

/* ------------------------------------------------------------- results */

void world_finish(world *w, result *res) {
  res->v = w->v;
  res->hash = w->tap.hash;
  res->events = w->tap.events;
  res->steps = w->sim.stats.steps;
  res->elapsed = w->sim.now - T0;
  res->bytes = w->cli.readn + w->srv.readn;
}

uint64_t sealed_draw_size(tcpu_link_rng *r, uint64_t lo, uint64_t hi) {
  /* Log-uniform in [lo, hi]. */
  double f = tcpu_link_rng_unit(r);
  double x = (double)lo;
  double ratio = (double)hi / (double)lo;
  uint64_t v = (uint64_t)(x * pow(ratio, f));
  if (v < lo)
    v = lo;
  if (v > hi)
    v = hi;
  return v;
}

double sealed_uniform(tcpu_link_rng *r, double lo, double hi) {
  return lo + (hi - lo) * tcpu_link_rng_unit(r);
}

/* Two snapshots around an injection that must be refused. */
void world_snap(world *w, snap *s) {
  tcpu_endpoint_get_stats(w->ep_c, &s->st[0]);
  tcpu_endpoint_get_stats(w->ep_s, &s->st[1]);
  s->exp[0] = tcpu_endpoint_get_expiry(w->ep_c);
  s->exp[1] = tcpu_endpoint_get_expiry(w->ep_s);
  s->readn[0] = w->cli.readn;
  s->readn[1] = w->srv.readn;
  s->accepted = w->accepted;
  s->cstate = w->cli.open ? tcpu_conn_state(w->cli.c) : TCPU_CLOSED;
  memset(&s->pc, 0, sizeof(s->pc));
  memset(&s->ps, 0, sizeof(s->ps));
  if (w->pc)
    tcpu_peer_get_info(w->pc, &s->pc);
  if (w->ps)
    tcpu_peer_get_info(w->ps, &s->ps);
}

int world_inject_snapped(world *w, size_t node, const tcpu_addr *from,
                         const uint8_t *d, size_t len, snap *a, snap *b,
                         sealed_inject_res *res) {
  int rc = tcpu_netsim_drain(&w->sim);
  if (rc < 0) {
    sim_fail(&w->v, "drain: %s", tcpu_err_name(rc));
    return -1;
  }
  world_snap(w, a);
  sealed_inject(&w->sim, node, from, d, len, res);
  world_snap(w, b);
  return 0;
}

void world_attacker_addr(world *w, tcpu_addr *a) {
  uint8_t ip[4] = {10, 66, (uint8_t)tcpu_link_rng_below(&w->r, 256),
                   (uint8_t)(1 + tcpu_link_rng_below(&w->r, 254))};
  tcpu_addr_ipv4(a, ip, (uint16_t)(1024 + tcpu_link_rng_below(&w->r, 60000)));
}

/* Feeds a datagram that must be refused (a replay, a forgery): it is
 * counted as one dropped sealed datagram, draws no datagram in reply, and
 * changes nothing the applications or the peers show: no byte delivered,
 * no connection, no handshake, no cookie taken, no timer moved, no peer
 * endpoint moved. */
void world_inject_refused(world *w, size_t node, const tcpu_addr *from,
                          const uint8_t *d, size_t len, const char *what) {
  snap a, b;
  sealed_inject_res res;
  if (world_inject_snapped(w, node, from, d, len, &a, &b, &res) != 0)
    return;
  int i = node == NODE_S ? 1 : 0;
  const char *who = i ? "server" : "client";
  char src[64];
  sealed_fmt_addr(src, sizeof(src), from);
  if (res.rc != 0) {
    sim_fail(&w->v, "%s: %s: endpoint call failed: %s", who, what,
             tcpu_err_name(res.rc));
    return;
  }
  if (res.n > 0) {
    char to[64];
    sealed_fmt_addr(to, sizeof(to), &res.r[0].to);
    sim_fail(&w->v,
             "%s answered %s from %s: %zu datagram(s), the first "
             "%zu bytes of type %d to %s",
             who, what, src, res.n, res.r[0].len, res.r[0].type, to);
    return;
  }
  const tcpu_endpoint_stats *x = &a.st[i], *y = &b.st[i];
  if (y->dgrams_in != x->dgrams_in + 1)
    sim_fail(&w->v, "%s: %s: dgrams_in went from %" PRIu64 " to %" PRIu64, who,
             what, x->dgrams_in, y->dgrams_in);
  else if (sealed_drops(y) != sealed_drops(x) + 1)
    sim_fail(&w->v,
             "%s: %s from %s was not counted as one dropped "
             "datagram (handshakes_failed +%" PRIu64 ", ratelimited +%" PRIu64
             ", auth_failures +%" PRIu64 ", replays_dropped +%" PRIu64
             ", not_sealed +%" PRIu64 ")",
             who, what, src, y->handshakes_failed - x->handshakes_failed,
             y->handshakes_ratelimited - x->handshakes_ratelimited,
             y->auth_failures - x->auth_failures,
             y->replays_dropped - x->replays_dropped,
             y->drop_not_sealed - x->drop_not_sealed);
  else if (sealed_tcp_malformed(y) != sealed_tcp_malformed(x))
    sim_fail(&w->v, "%s: %s reached the TCP parser", who, what);
  else if (y->handshakes_done != x->handshakes_done ||
           y->cookies_received != x->cookies_received ||
           y->conns_opened != x->conns_opened ||
           y->keepalives_received != x->keepalives_received ||
           y->roams != x->roams)
    sim_fail(&w->v,
             "%s accepted %s from %s (handshakes_done +%" PRIu64
             ", cookies_received +%" PRIu64 ", conns_opened +%" PRIu64
             ", keepalives_received +%" PRIu64 ", roams +%" PRIu64 ")",
             who, what, src, y->handshakes_done - x->handshakes_done,
             y->cookies_received - x->cookies_received,
             y->conns_opened - x->conns_opened,
             y->keepalives_received - x->keepalives_received,
             y->roams - x->roams);
  else if (b.readn[0] != a.readn[0] || b.readn[1] != a.readn[1] ||
           b.accepted != a.accepted || b.cstate != a.cstate)
    sim_fail(&w->v,
             "%s: %s from %s delivered something (reads %" PRIu64 "->%" PRIu64
             ", %" PRIu64 "->%" PRIu64 ", accepted %u->%u)",
             who, what, src, a.readn[0], b.readn[0], a.readn[1], b.readn[1],
             a.accepted, b.accepted);
  else if (b.exp[i] != a.exp[i])
    sim_fail(&w->v, "%s: %s from %s moved the endpoint's expiry", who, what,
             src);
  else if (!tcpu_addr_equal(&a.pc.endpoint, &b.pc.endpoint) ||
           !tcpu_addr_equal(&a.ps.endpoint, &b.ps.endpoint) ||
           a.ps.handshakes != b.ps.handshakes ||
           a.pc.handshakes != b.pc.handshakes)
    sim_fail(&w->v,
             "%s: %s from %s changed a peer (endpoint or "
             "handshakes)",
             who, what, src);
}
