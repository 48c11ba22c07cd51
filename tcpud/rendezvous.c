/*
 * rendezvous.c — peers behind NATs found through a rendezvous server
 * (`tcpu rendezvous`; issue 8).  [Interface] Rendezvous = HOST:PORT names
 * the server, Name the name this daemon registers there (sealed mode:
 * by default its public key in base64, the library's convention), and
 * every [Peer] with Rendezvous = yes is looked up under its
 * RendezvousName (sealed: by default its PublicKey; plain: its Name).
 *
 *   registration  tcpu_uv_rendezvous_register from the tunnel's socket,
 *                 refreshed by the library every 15 s, which keeps our
 *                 NAT's mapping towards the server open; when the server
 *                 sees us at a new address (our NAT rebound) every peer
 *                 is looked up again, so the server pushes the new
 *                 address to them.
 *   lookups       tcpu_uv_rendezvous_lookup per peer, bounded by
 *                 TCPUD_RDV_LOOKUP_TIMEOUT_MS; unanswered, the next one
 *                 comes after 5 s, doubling up to 60 s.  Again later:
 *                 sealed mode when the peer has gone silent (silent()
 *                 says what that means: it restarted elsewhere, or its
 *                 NAT rebound), at most every 60 s; plain mode every
 *                 60 s, since the library does not tell when a plain
 *                 peer was last heard from.
 *   an address    from a lookup's answer, or pushed by the server because
 *                 the peer looked us up: plain mode makes it the peer's
 *                 endpoint (the library's peer is added or moved; -L
 *                 forwards use it from their next connection, a control
 *                 channel moves there); both modes then punch through
 *                 tcpu_uv_rendezvous_meet (sealed: it moves the peer of
 *                 that key and starts a handshake; plain: keepalive bytes),
 *                 so that our NAT lets the peer's datagrams in.  The
 *                 persistent keepalive (PersistentKeepalive, 25 s by
 *                 default for these peers) comes from tunpeer.c as for
 *                 every peer.  A learned or changed address is logged once.
 *
 * One timer (every second, like the handshake watch) starts the lookups
 * that are due.  Lookup requests are allocated: a cancelled one calls
 * back later from the loop, after its peer may be gone, so req->data
 * points to the peer only while the peer wants the answer.
 */
#include <stdlib.h>
#include <string.h>

#include "tcpud/daemon.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

/* ---------------------------------------------------------------- peers */

static void schedule(tcpud_peer *p, uint64_t now, uint64_t after_ms) {
  p->rdv_next_ns = now + after_ms * NS_PER_MS;
}

/* Sealed mode: the peer does not answer.  Not merely "nothing received
 * for a while": persistent keepalives follow WireGuard's rule (sent when
 * nothing went either way for the interval), so of two idle peers often
 * only one sends them and the other hears nothing for minutes.  So:
 * our handshake is waiting for an answer and nothing came for twice the
 * keepalive and 10 s (data went out unanswered, or a rekey did), or
 * nothing at all came for longer than a session lives (rekeying alone
 * would have brought something). */
static int silent(const tcpud *d, const tcpud_peer *p, uint64_t now) {
  tcpu_peer_info pi;
  uint64_t last = p->rdv_found_ns, quiet;

  if (p->tp == NULL || d->tun.ep == NULL)
    return 1;
  tcpu_peer_get_info(p->tp, &pi);
  if (pi.last_received != TCPU_TSTAMP_NONE && pi.last_received > last)
    last = pi.last_received;
  if (now <= last)
    return 0;
  if (now - last > TCPUD_RDV_SILENT_MAX_MS * NS_PER_MS)
    return 1;
  quiet = p->keepalive_s > 0 ? (2 * (uint64_t)p->keepalive_s + 10) * NS_PER_S
                             : TCPUD_RDV_RELOOKUP_MS * NS_PER_MS;
  return pi.handshaking && now - last > quiet;
}

/* Lets the peer at addr (the socket's view of it) through: its endpoint
 * (plain mode), then the punch. */
static void learned(tcpud *d, tcpud_peer *p, const tcpu_addr *addr,
                    const char *how) {
  const tcpud_peer_conf *pc = tcpud_peer_conf_of(d, p->name);
  uint64_t now = tcpud_now();
  char a[TCPUD_ADDRSTRLEN], was[TCPUD_ADDRSTRLEN], key[TCPUD_KEY_B64_LEN + 1];
  int news = !p->rdv_found || !tcpud_addr_same(&p->rdv_addr, addr);
  int rv;

  if (pc == NULL || d->tun.ep == NULL || d->closing)
    return;
  tcpud_addr_format(addr, 1, a, sizeof(a));
  p->rdv_answers++;
  p->rdv_backoff_ms = 0;
  p->rdv_found_ns = now;
  schedule(p, now, TCPUD_RDV_RELOOKUP_MS);
  if (!news && now - p->rdv_met_ns < TCPUD_RDV_PUNCH_GAP_MS * NS_PER_MS)
    return; /* the answer and the push of one lookup: punched already */
  if (news && p->rdv_found)
    tcpud_log(LOG_INFO, "peer %s: at %s via rendezvous (%s; was %s)", p->name,
              a, how, tcpud_addr_format(&p->rdv_addr, 1, was, sizeof(was)));
  else if (news)
    tcpud_log(LOG_INFO, "peer %s: at %s via rendezvous (%s)", p->name, a, how);
  else
    tcpud_log(LOG_DEBUG, "peer %s: still at %s (%s); punching", p->name, a,
              how);
  p->rdv_found = 1;
  p->rdv_addr = *addr;
  p->rdv_met_ns = now;
  if (d->mode == TCPUD_MODE_PLAIN &&
      (!p->has_addr || !tcpud_addr_same(&p->addr, addr)) &&
      tcpud_tunpeer_learn(d, p, pc, addr) != 0)
    return;
  if (p->tp == NULL)
    return; /* tunpeer.c said why */
  /* Sealed: moves the peer of that key (ours, whatever its rendezvous
   * name) and starts a handshake; plain: finds ours at that address (the
   * name is not used).  Both punch and flush. */
  rv = tcpu_uv_rendezvous_meet(
      &d->tun,
      d->mode == TCPUD_MODE_SEALED
          ? tcpud_key_prefix(p->key, TCPUD_KEY_B64_LEN, key, sizeof(key))
          : p->rdv_name,
      addr, NULL);
  if (rv != 0)
    tcpud_log(LOG_WARNING, "peer %s: cannot punch towards %s: %s", p->name, a,
              tcpud_strerror(rv));
  if (d->mode == TCPUD_MODE_PLAIN && news)
    tcpud_peer_addr_learned(d, p);
}

static void on_lookup(tcpu_uv_rendezvous_req *req, int status,
                      const tcpu_addr *addr) {
  tcpud_peer *p = req->data;
  tcpud *d;
  uint64_t now = tcpud_now();

  free(req);
  if (p == NULL)
    return; /* the peer went (tcpud_rdv_peer_forget) */
  d = p->d;
  p->rdv_lookup = NULL;
  if (status == 0) {
    learned(d, p, addr, "looked up");
    return;
  }
  if (status == UV_ECANCELED || d->closing)
    return;
  /* Not registered (yet), or no answer: ask again later.  The peer's own
   * lookup pushes its address here meanwhile. */
  p->rdv_backoff_ms = p->rdv_backoff_ms == 0 ? TCPUD_RDV_RETRY_MIN_MS
                      : p->rdv_backoff_ms * 2 > TCPUD_RDV_RELOOKUP_MS
                          ? TCPUD_RDV_RELOOKUP_MS
                          : p->rdv_backoff_ms * 2;
  schedule(p, now, p->rdv_backoff_ms);
  tcpud_log(status == UV_ETIMEDOUT ? LOG_DEBUG : LOG_WARNING,
            "peer %s: rendezvous lookup of %s: %s; again in %u s", p->name,
            p->rdv_name,
            status == UV_ETIMEDOUT ? "not registered there (yet)"
                                   : tcpud_strerror(status),
            p->rdv_backoff_ms / 1000);
}

static void lookup(tcpud *d, tcpud_peer *p, uint64_t now) {
  tcpu_uv_rendezvous_req *req;
  int rv;

  if (p->rdv_lookup != NULL || !d->rdv_on)
    return;
  req = calloc(1, sizeof(*req));
  if (req == NULL) {
    schedule(p, now, TCPUD_RDV_RETRY_MIN_MS);
    return;
  }
  req->data = p;
  rv = tcpu_uv_rendezvous_lookup(
      req, &d->tun, (const struct sockaddr *)&d->rdv_server,
      d->cfg.rdv_name[0] ? d->cfg.rdv_name : NULL, p->rdv_name,
      TCPUD_RDV_LOOKUP_TIMEOUT_MS, on_lookup);
  if (rv != 0) {
    free(req);
    schedule(p, now, TCPUD_RDV_RELOOKUP_MS);
    tcpud_log(LOG_WARNING, "peer %s: cannot look %s up: %s", p->name,
              p->rdv_name, tcpud_strerror(rv));
    return;
  }
  p->rdv_lookup = req;
  p->rdv_lookups++;
  tcpud_log(LOG_DEBUG, "peer %s: looking up %s", p->name, p->rdv_name);
}

void tcpud_rdv_peer_forget(tcpud *d, tcpud_peer *p) {
  (void)d;
  if (p->rdv_lookup != NULL) {
    p->rdv_lookup->data = NULL;
    tcpu_uv_rendezvous_cancel(p->rdv_lookup); /* frees it from the loop */
    p->rdv_lookup = NULL;
  }
  p->rdv = 0;
  p->rdv_found = 0;
}

static void on_timer(uv_timer_t *t) {
  tcpud *d = t->data;
  uint64_t now = tcpud_now();

  if (d->closing || !d->rdv_on)
    return;
  if (!d->rdv_observed && !d->rdv_warned &&
      now - d->rdv_started_ns >= TCPUD_RDV_SILENT_SERVER_MS * NS_PER_MS) {
    char a[TCPUD_ADDRSTRLEN];
    d->rdv_warned = 1;
    tcpud_log(LOG_WARNING,
              "rendezvous: no answer from %s for %u s (is `tcpu rendezvous` "
              "running there, and UDP to it open?); still trying",
              tcpud_addr_format(&d->rdv_server_addr, 1, a, sizeof(a)),
              TCPUD_RDV_SILENT_SERVER_MS / 1000);
  }
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next) {
    if (p->gone || !p->rdv || p->rdv_lookup != NULL || now < p->rdv_next_ns)
      continue;
    if (d->mode == TCPUD_MODE_SEALED && p->rdv_found && !silent(d, p, now))
      continue; /* it is there: nothing to ask */
    lookup(d, p, now);
  }
}

/* --------------------------------------------------------- registration */

static tcpud_peer *peer_by_rdv_name(tcpud *d, const char *name) {
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    if (!p->gone && p->rdv && strcmp(p->rdv_name, name) == 0)
      return p;
  return NULL;
}

static void on_registration(tcpu_uv_rendezvous *r,
                            tcpu_uv_rendezvous_event event, const char *name,
                            const tcpu_addr *addr) {
  tcpud *d = r->data;
  char a[TCPUD_ADDRSTRLEN], s[TCPUD_ADDRSTRLEN];
  uint64_t now = tcpud_now();
  tcpud_peer *p;

  if (d->closing)
    return;
  tcpud_addr_format(addr, 1, a, sizeof(a));
  if (event == TCPU_UV_RENDEZVOUS_OBSERVED) {
    if (!d->rdv_observed) {
      tcpud_log(d->rdv_warned ? LOG_NOTICE : LOG_INFO,
                "rendezvous: registered with %s as %s; seen at %s",
                tcpud_addr_format(&d->rdv_server_addr, 1, s, sizeof(s)),
                d->rdv_self, a);
    } else {
      /* Our NAT rebound: the peers need the new address, which the server
       * pushes to each peer we look up. */
      tcpud_log(LOG_NOTICE,
                "rendezvous: the server now sees us at %s; looking the peers "
                "up again",
                a);
      for (p = d->peers; p != NULL; p = p->next)
        if (!p->gone && p->rdv)
          p->rdv_next_ns = now;
      on_timer(&d->rdv_timer);
    }
    d->rdv_observed = 1;
    return;
  }
  p = peer_by_rdv_name(d, name);
  if (p == NULL) {
    tcpud_log(LOG_DEBUG,
              "rendezvous: %s at %s looked us up, but no [Peer] has "
              "Rendezvous = yes with that name; ignored",
              name, a);
    return;
  }
  learned(d, p, addr, "it looked us up");
}

static void registration_stop(tcpud *d) {
  if (!d->rdv_on)
    return;
  tcpu_uv_rendezvous_stop(&d->rdv);
  d->rdv_on = 0;
  d->rdv_observed = 0;
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    if (p->rdv_lookup != NULL) {
      p->rdv_lookup->data = NULL;
      tcpu_uv_rendezvous_cancel(p->rdv_lookup);
      p->rdv_lookup = NULL;
    }
}

void tcpud_rdv_stop(tcpud *d) {
  registration_stop(d);
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    tcpud_rdv_peer_forget(d, p);
  if (d->rdv_timer_open) {
    d->rdv_timer_open = 0;
    uv_close((uv_handle_t *)&d->rdv_timer, NULL);
  }
}

/* Resolves the server into *ss.  0, or -1 after logging at `level`. */
static int resolve_server(tcpud *d, const tcpud_hostport *hp,
                          struct sockaddr_storage *ss, tcpu_addr *addr,
                          int level) {
  char err[300];

  if (tcpud_resolve(addr, hp, tcpud_tunnel_family(d), err, sizeof(err)) != 0) {
    tcpud_log(level, "Rendezvous %s", err);
    return -1;
  }
  tcpud_addr_unmap(addr);
  if (tcpu_uv_addr_to_sockaddr(ss, NULL, addr) != 0) {
    tcpud_log(level, "Rendezvous %s:%u: not a UDP address", hp->host, hp->port);
    return -1;
  }
  return 0;
}

int tcpud_rdv_apply(tcpud *d, int fatal) {
  const tcpud_config *cfg = &d->cfg;
  char self[TCPUD_RDV_NAME_MAX + 1], a[TCPUD_ADDRSTRLEN];
  struct sockaddr_storage ss;
  tcpu_addr addr;
  uint64_t now = tcpud_now();
  int want = cfg->rendezvous.port != 0, restart, rv;

  if (d->tun.ep == NULL || d->closing)
    return 0;
  snprintf(self, sizeof(self), "%s", cfg->rdv_name);
  if (self[0] == '\0' && d->mode == TCPUD_MODE_SEALED)
    tcpud_key_prefix(d->public_key, TCPUD_KEY_B64_LEN, self, sizeof(self));
  if (want && resolve_server(d, &cfg->rendezvous, &ss, &addr,
                             fatal ? LOG_ERR : LOG_WARNING) != 0) {
    if (fatal)
      return -1;
    /* Reload: keep what runs (a name that stops resolving is not a
     * reason to drop the peers). */
    want = d->rdv_on;
    if (want) {
      ss = d->rdv_server;
      addr = d->rdv_server_addr;
    }
  }
  restart = want != d->rdv_on ||
            (want && (!tcpud_addr_same(&addr, &d->rdv_server_addr) ||
                      strcmp(self, d->rdv_self) != 0));
  if (restart) {
    registration_stop(d);
    if (want) {
      d->rdv.data = d;
      rv = tcpu_uv_rendezvous_register(&d->rdv, &d->tun, (struct sockaddr *)&ss,
                                       cfg->rdv_name[0] ? cfg->rdv_name : NULL,
                                       on_registration);
      if (rv != 0) {
        tcpud_log(fatal ? LOG_ERR : LOG_WARNING,
                  "cannot register with the rendezvous server %s: %s",
                  tcpud_addr_format(&addr, 1, a, sizeof(a)),
                  tcpud_strerror(rv));
        if (fatal)
          return -1;
      } else {
        d->rdv_on = 1;
        d->rdv_warned = 0;
        d->rdv_started_ns = now;
        d->rdv_server = ss;
        d->rdv_server_addr = addr;
        snprintf(d->rdv_self, sizeof(d->rdv_self), "%s", self);
        tcpud_log(LOG_INFO, "rendezvous: registering with %s as %s",
                  tcpud_addr_format(&addr, 1, a, sizeof(a)), self);
      }
    }
  }
  /* The peers: new ones, changed names and ones no longer wanted. */
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next) {
    const tcpud_peer_conf *pc = tcpud_peer_conf_of(d, p->name);
    int on = !p->gone && pc != NULL && pc->rendezvous && d->rdv_on;

    if (!on) {
      if (p->rdv)
        tcpud_rdv_peer_forget(d, p);
      continue;
    }
    if (p->rdv && !restart && strcmp(p->rdv_name, pc->rdv_name) == 0)
      continue;
    tcpud_rdv_peer_forget(d, p);
    p->rdv = 1;
    snprintf(p->rdv_name, sizeof(p->rdv_name), "%s", pc->rdv_name);
    p->rdv_backoff_ms = 0;
    p->rdv_next_ns = now;
  }
  if (d->rdv_on && !d->rdv_timer_open) {
    tcpud_watch_start(d, &d->rdv_timer, on_timer, TCPUD_RDV_TICK_MS);
    d->rdv_timer_open = 1;
  }
  if (d->rdv_on)
    on_timer(&d->rdv_timer); /* the lookups due now */
  return 0;
}

const char *tcpud_rdv_peer_state(const tcpud_peer *p) {
  if (!p->rdv)
    return NULL;
  if (p->rdv_lookup != NULL)
    return p->rdv_found ? "looking up again" : "looking up";
  return p->rdv_found ? "found" : "not found yet";
}
