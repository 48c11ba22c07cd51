/*
 * tunpeer.c — the tunnel endpoint's peers (tcpu_peer, tcpu.h "peers").
 *
 * Every [Peer] of a sealed-mode configuration is a peer of the library:
 * its public key, optional pre-shared key and optional Endpoint; the
 * library keeps one Noise session with it that carries all of its
 * connections, and its connections carry its TCPU_AF_PEER address, which
 * names the key, not a UDP address (so they survive the peer's roaming).
 * In plain mode a [Peer] with an Endpoint is a library peer too, only so
 * that persistent keepalives (empty datagrams) keep a NAT's mapping open
 * towards it; plain connections are addressed by UDP address as before.
 *
 * On reload a peer whose key or PSK changed is removed and added again:
 * its connections end, as they must when the keys they were sealed under
 * are withdrawn.  A changed Endpoint moves the peer (its connections go
 * on); an unchanged one is left alone, so a roamed peer stays where its
 * last authenticated datagram came from.  Everything done through
 * d->tun.ep is followed by tcpu_uv_endpoint_flush (tcpu_uv.h).
 *
 * A peer found through the rendezvous (rendezvous.c) gets its address at
 * run time: in plain mode tcpud_tunpeer_learn makes it the peer's
 * endpoint, as an Endpoint would be.
 *
 * The handshake watch (sealed mode) polls tcpu_peer_get_info once a
 * second: the core reports nothing per datagram, and tcpud logs nothing
 * per datagram either (silence towards the unauthenticated, DESIGN §6).
 */
#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "tcpud/daemon.h"

/* The endpoint as the core spells it: IPv4-mapped through a dual-stack
 * IPv6 socket, plain IPv4 through an IPv4 one (as the binding does for
 * the addresses it hands the core). */
static void core_endpoint(const tcpud *d, const tcpu_addr *in, tcpu_addr *out) {
  *out = *in;
  if (d->local_addr.family == TCPU_AF_INET6)
    tcpud_addr_map6(out);
  else
    tcpud_addr_unmap(out);
}

static void psk_id_of(const tcpud_peer_conf *pc, int sealed,
                      uint8_t id[TCPUD_KEY_LEN]) {
  memset(id, 0, TCPUD_KEY_LEN);
  if (sealed && pc->has_psk)
    crypto_generichash(id, TCPUD_KEY_LEN, pc->psk, TCPUD_KEY_LEN, NULL, 0);
}

/* Moves the library's peer to p->addr.  0, or the error (logged). */
static int move_peer(tcpud *d, tcpud_peer *p, uint64_t now) {
  char a[TCPUD_ADDRSTRLEN];
  tcpu_addr ep_addr;
  int rv;

  core_endpoint(d, &p->addr, &ep_addr);
  rv = tcpu_peer_set_endpoint(p->tp, &ep_addr, now);
  if (rv != 0)
    tcpud_log(LOG_WARNING, "peer %s: cannot move it to %s: %s%s", p->name,
              tcpud_addr_format(&p->addr, 1, a, sizeof(a)), tcpu_strerror(rv),
              rv == TCPU_ERR_ADDRINUSE ? " (another peer has that address)"
                                       : "");
  return rv;
}

void tcpud_tunpeer_remove(tcpud *d, tcpud_peer *p) {
  if (p->tp == NULL)
    return;
  if (d->tun.ep != NULL)
    tcpu_peer_set_user_data(p->tp, NULL); /* p is about to be freed */
  /* While the endpoint closes it frees its peers itself, and their
   * connections are being reset anyway. */
  if (d->tun.ep != NULL && !d->closing) {
    tcpu_peer_remove(p->tp, tcpud_now());
    tcpu_uv_endpoint_flush(&d->tun);
  }
  p->tp = NULL;
}

int tcpud_tunpeer_sync(tcpud *d, tcpud_peer *p, const tcpud_peer_conf *pc,
                       int fatal) {
  int sealed = d->mode == TCPUD_MODE_SEALED;
  uint8_t psk_id[TCPUD_KEY_LEN];
  char a[TCPUD_ADDRSTRLEN], k[16];
  tcpu_addr ep_addr;
  uint64_t now = tcpud_now();
  int rv, added = 0;

  if (d->tun.ep == NULL || d->closing)
    return 0;
  psk_id_of(pc, sealed, psk_id);
  if (p->tp != NULL && sealed &&
      (memcmp(p->key, pc->public_key, TCPUD_KEY_LEN) != 0 ||
       sodium_memcmp(p->psk_id, psk_id, TCPUD_KEY_LEN) != 0)) {
    tcpud_log(LOG_NOTICE,
              "peer %s: its %s changed; its connections end and a new "
              "session starts",
              p->name,
              memcmp(p->key, pc->public_key, TCPUD_KEY_LEN) != 0
                  ? "PublicKey"
                  : "pre-shared key");
    tcpud_tunpeer_remove(d, p);
  } else if (p->tp != NULL && !sealed && !p->has_addr) {
    tcpud_tunpeer_remove(d, p); /* plain: no Endpoint, nothing to keep */
  }
  if (p->has_addr)
    core_endpoint(d, &p->addr, &ep_addr);
  if (p->tp == NULL) {
    if (!sealed && !p->has_addr)
      return 0;
    rv = tcpu_peer_add(d->tun.ep, sealed ? pc->public_key : NULL,
                       sealed && pc->has_psk ? pc->psk : NULL,
                       p->has_addr ? &ep_addr : NULL, &p->tp, now);
    if (rv != 0) {
      /* Plain mode needs the library's peer only for keepalives: the
       * peer works without. */
      p->tp = NULL;
      tcpud_log(fatal && sealed ? LOG_ERR : LOG_WARNING, "peer %s: %s%s%s",
                p->name, tcpu_strerror(rv),
                rv == TCPU_ERR_ADDRINUSE
                    ? (sealed ? " (another peer has its key)"
                              : " (another peer has its Endpoint)")
                    : "",
                !sealed && pc->keepalive_s > 0
                    ? "; no PersistentKeepalive towards it"
                    : "");
      return sealed ? -1 : 0;
    }
    tcpu_peer_set_user_data(p->tp, p);
    if (sealed)
      memcpy(p->key, pc->public_key, TCPUD_KEY_LEN);
    else
      memset(p->key, 0, TCPUD_KEY_LEN);
    memcpy(p->psk_id, psk_id, TCPUD_KEY_LEN);
    p->hs_seen = p->roams_seen = 0;
    p->hs_wait_since = p->hs_logged = 0;
    p->keepalive_s = 0;
    added = 1;
    if (sealed)
      tcpud_log(LOG_DEBUG, "peer %s: key %s%s, endpoint %s", p->name,
                tcpud_key_prefix(pc->public_key, 8, k, sizeof(k)),
                pc->has_psk ? " with a pre-shared key" : "",
                p->has_addr      ? tcpud_addr_format(&p->addr, 1, a, sizeof(a))
                : pc->rendezvous ? "from the rendezvous"
                                 : "none (it connects in)");
  } else if (p->addr_changed && p->has_addr && move_peer(d, p, now) == 0) {
    tcpud_log(LOG_INFO, "peer %s: Endpoint now %s", p->name,
              tcpud_addr_format(&p->addr, 1, a, sizeof(a)));
  }
  p->addr_changed = 0;
  if (added || p->keepalive_s != pc->keepalive_s) {
    tcpu_peer_set_persistent_keepalive(
        p->tp, (tcpu_duration)pc->keepalive_s * 1000000000u, now);
    p->keepalive_s = pc->keepalive_s;
  }
  tcpu_uv_endpoint_flush(&d->tun);
  return 0;
}

int tcpud_tunpeer_learn(tcpud *d, tcpud_peer *p, const tcpud_peer_conf *pc,
                        const tcpu_addr *addr) {
  p->addr = *addr;
  tcpud_addr_unmap(&p->addr); /* as resolve_peer spells Endpoints */
  p->has_addr = 1;
  p->addr_changed = 0;
  if (d->tun.ep == NULL || d->closing)
    return 0;
  if (p->tp == NULL)
    return tcpud_tunpeer_sync(d, p, pc, 0); /* adds it, with its keepalive */
  if (move_peer(d, p, tcpud_now()) != 0)
    return -1;
  tcpu_uv_endpoint_flush(&d->tun);
  return 0;
}

int tcpud_peer_conn_addr(const tcpud_peer *p, tcpu_addr *a) {
  if (p->d->mode == TCPUD_MODE_SEALED) {
    if (p->tp == NULL)
      return -1;
    tcpu_peer_addr(p->tp, a);
    return 0;
  }
  if (!p->has_addr)
    return -1;
  *a = p->addr;
  return 0;
}

int tcpud_tunnel_connect(tcpud *d, tcpu_uv_connect_req *req,
                         tcpu_uv_stream *stream, const tcpu_addr *addr,
                         uint16_t port, uint64_t timeout_ms,
                         tcpu_uv_connect_cb cb) {
  struct sockaddr_storage ss;
  tcpu_addr x;
  int rv;

  if (addr->family == TCPU_AF_PEER)
    return tcpu_uv_connect_addr(req, stream, addr, 0, port, timeout_ms, cb);
  /* A UDP address: the binding maps IPv4 for a dual-stack socket. */
  (void)d;
  x = *addr;
  tcpud_addr_unmap(&x);
  rv = tcpu_uv_addr_to_sockaddr(&ss, NULL, &x);
  if (rv != 0)
    return rv;
  return tcpu_uv_connect(req, stream, (struct sockaddr *)&ss, port, timeout_ms,
                         cb);
}

char *tcpud_conn_addr_format(tcpud *d, const tcpu_addr *a, char *buf,
                             size_t len) {
  const tcpu_peer *tp;
  const tcpud_peer *p;
  tcpu_peer_info pi;
  char e[TCPUD_ADDRSTRLEN], k[16];

  if (a->family != TCPU_AF_PEER)
    return tcpud_addr_format(a, 1, buf, len);
  tp = d->tun.ep ? tcpu_peer_by_addr(d->tun.ep, a) : NULL;
  if (tp == NULL)
    return tcpud_addr_format(a, 1, buf, len); /* "key:XXXXXXXX" */
  tcpu_peer_get_info(tp, &pi);
  p = tcpu_peer_get_user_data(tp);
  if (pi.endpoint.family != 0)
    tcpud_addr_format(&pi.endpoint, 1, e, sizeof(e));
  else
    snprintf(e, sizeof(e), "?");
  if (p != NULL)
    snprintf(buf, len, "%s@%s", p->name, e);
  else
    snprintf(buf, len, "key:%s@%s",
             tcpud_key_prefix(pi.public_key, 8, k, sizeof(k)), e);
  return buf;
}

/* ------------------------------------------------------ handshake watch */

static void fmt_secs(char *buf, size_t len, uint64_t ns) {
  snprintf(buf, len, "%.0f s", (double)ns / 1e9);
}

static void watch_peer(tcpud *d, tcpud_peer *p, uint64_t now) {
  tcpu_peer_info pi;
  char a[TCPUD_ADDRSTRLEN], k[TCPUD_KEY_B64_LEN + 1], t[32];

  tcpu_peer_get_info(p->tp, &pi);
  if (pi.endpoint.family != 0)
    tcpud_addr_format(&pi.endpoint, 1, a, sizeof(a));
  else
    snprintf(a, sizeof(a), "an unknown endpoint");
  if (pi.handshakes != p->hs_seen) {
    p->hs_seen = pi.handshakes;
    tcpud_log(LOG_DEBUG, "peer %s: handshake with %s done (%" PRIu64 " so far)",
              p->name, a, pi.handshakes);
  }
  if (pi.roams != p->roams_seen) {
    p->roams_seen = pi.roams;
    tcpud_log(LOG_INFO, "peer %s: now at %s (it moved)", p->name, a);
  }
  if (pi.cipher_mismatches != p->mismatch_seen &&
      (p->mismatch_logged == 0 ||
       now - p->mismatch_logged >= TCPUD_HS_LOG_EVERY_NS)) {
    p->mismatch_seen = pi.cipher_mismatches;
    p->mismatch_logged = now;
    tcpud_log(LOG_WARNING,
              "peer %s at %s: handshake refused: it uses Cipher = %s, this "
              "side %s; both ends must set the same Cipher",
              p->name, a,
              tcpud_cipher_name(d->cfg.cipher == TCPUD_CIPHER_AESGCM
                                    ? TCPUD_CIPHER_CHACHAPOLY
                                    : TCPUD_CIPHER_AESGCM),
              tcpud_cipher_name(d->cfg.cipher));
  }
  if (pi.session) {
    if (p->hs_logged != 0) {
      fmt_secs(t, sizeof(t), now - p->hs_wait_since);
      tcpud_log(LOG_NOTICE, "peer %s: handshake with %s works again after %s",
                p->name, a, t);
    }
    p->hs_wait_since = p->hs_logged = 0;
    return;
  }
  if (!pi.handshaking) {
    if (p->hs_logged == 0)
      p->hs_wait_since = 0; /* idle, nothing wanted: not failing */
    return;
  }
  if (p->hs_wait_since == 0) {
    p->hs_wait_since = now;
    return;
  }
  if (now - p->hs_wait_since < TCPUD_HS_FAILING_NS ||
      (p->hs_logged != 0 && now - p->hs_logged < TCPUD_HS_LOG_EVERY_NS))
    return;
  p->hs_logged = now;
  fmt_secs(t, sizeof(t), now - p->hs_wait_since);
  tcpud_log(LOG_WARNING,
            "peer %s: no handshake with %s for %s: our initiations go "
            "unanswered (is it up, with our public key %s in a [Peer], the "
            "same Cipher and pre-shared key?)",
            p->name, a, t,
            tcpud_key_prefix(d->public_key, TCPUD_KEY_B64_LEN, k, sizeof(k)));
}

static void on_hs_timer(uv_timer_t *t) {
  tcpud *d = t->data;
  tcpu_endpoint_stats es;
  uint64_t now = tcpud_now();

  if (d->tun.ep == NULL || d->closing)
    return;
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    if (!p->gone && p->tp != NULL)
      watch_peer(d, p, now);
  /* What failed to authenticate, summed: anyone can send those, so one
   * line a minute at most. */
  tcpu_endpoint_get_stats(d->tun.ep, &es);
  if ((es.handshakes_failed != d->hs_failed_seen ||
       es.auth_failures != d->auth_failed_seen) &&
      (d->hs_summary_ns == 0 || now - d->hs_summary_ns >= TCPUD_HS_LOG_EVERY_NS)) {
    tcpud_log(LOG_INFO,
              "sealed mode: %" PRIu64 " handshake message%s and %" PRIu64
              " transport message%s failed to authenticate since the last "
              "report (unknown keys, another Cipher or pre-shared key, stale "
              "or forged messages); dropped in silence",
              es.handshakes_failed - d->hs_failed_seen,
              es.handshakes_failed - d->hs_failed_seen == 1 ? "" : "s",
              es.auth_failures - d->auth_failed_seen,
              es.auth_failures - d->auth_failed_seen == 1 ? "" : "s");
    d->hs_failed_seen = es.handshakes_failed;
    d->auth_failed_seen = es.auth_failures;
    d->hs_summary_ns = now;
  }
}

void tcpud_hs_watch_start(tcpud *d) {
  if (d->mode != TCPUD_MODE_SEALED || d->hs_timer_open)
    return;
  tcpud_watch_start(d, &d->hs_timer, on_hs_timer, TCPUD_HS_WATCH_MS);
  d->hs_timer_open = 1;
}

void tcpud_hs_watch_stop(tcpud *d) {
  if (!d->hs_timer_open)
    return;
  d->hs_timer_open = 0;
  uv_close((uv_handle_t *)&d->hs_timer, NULL);
}
