/*
 * daemon.c — applying a configuration to the running daemon: the first
 * start, SIGHUP reloads, SIGTERM drains, and the final stop.
 *
 * Reload rules: listeners are matched by what identifies them (services by
 * tunnel port, -L forwards by local address, -R forwards by peer, address
 * and service) and only the difference is opened or closed; a service's
 * target, a forward's peer or service and a peer's Endpoint change in
 * place and apply to new connections.  Established connections copy what
 * they need when they open, so no reload touches them, except that the
 * connections of a peer that was removed, or (sealed mode) whose key or
 * pre-shared key changed, end with its session (tunpeer.c).  What the
 * tunnel socket itself was opened with (ListenPort, Address, Mode,
 * Cipher, PrivateKeyFile, MTU) and the control socket and capture file
 * need a restart; a reload says so and keeps the running values.  The
 * rendezvous server and Name may change: rendezvous.c registers anew.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tcpud/daemon.h"

uint64_t tcpud_now(void) { return uv_hrtime(); }

const char *tcpud_strerror(int err) {
  if (err <= -1000 && err > -1100)
    return tcpu_strerror(err);
  return uv_strerror(err);
}

/* --------------------------------------------------------------- peers */

tcpud_peer *tcpud_peer_find(tcpud *d, const char *name) {
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    if (!p->gone && strcmp(p->name, name) == 0)
      return p;
  return NULL;
}

const tcpud_peer_conf *tcpud_peer_conf_of(tcpud *d, const char *name) {
  return tcpud_config_peer(&d->cfg, name);
}

tcpud_peer *tcpud_peer_match(tcpud *d, const tcpu_addr *addr) {
  if (addr->family == TCPU_AF_PEER || d->mode == TCPUD_MODE_SEALED) {
    /* Sealed: the key the datagrams authenticated under, nothing else. */
    tcpu_peer *tp = d->tun.ep && addr->family == TCPU_AF_PEER
                        ? tcpu_peer_by_addr(d->tun.ep, addr)
                        : NULL;
    tcpud_peer *p = tp ? tcpu_peer_get_user_data(tp) : NULL;
    return p != NULL && !p->gone ? p : NULL;
  }
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    if (!p->gone && p->has_addr && tcpud_addr_same(&p->addr, addr))
      return p;
  for (size_t i = 0; i < d->cfg.n_peers; i++) {
    const tcpud_peer_conf *pc = &d->cfg.peers[i];
    for (size_t k = 0; k < pc->n_allowed_ips; k++)
      if (tcpud_cidr_match(&pc->allowed_ips[k], addr))
        return tcpud_peer_find(d, pc->name);
  }
  return NULL;
}

void tcpud_watch_start(tcpud *d, uv_timer_t *t, uv_timer_cb cb,
                       uint64_t every_ms) {
  uv_timer_init(d->loop, t);
  t->data = d;
  uv_timer_start(t, cb, every_ms, every_ms);
  uv_unref((uv_handle_t *)t);
}

int tcpud_tunnel_family(tcpud *d) {
  if (d->local_addr.family == TCPU_AF_INET)
    return TCPU_AF_INET;
  return tcpud_addr_is_any(&d->local_addr) ? 0 : TCPU_AF_INET6;
}

static int resolve_peer(tcpud *d, tcpud_peer *p, const tcpud_peer_conf *pc,
                        int level) {
  char err[300], a[TCPUD_ADDRSTRLEN];
  tcpu_addr addr;

  if (!pc->has_endpoint) {
    /* A peer found through the rendezvous keeps the address it told. */
    if (!(pc->rendezvous && p->rdv))
      p->has_addr = 0;
    p->addr_changed = 0;
    return 0;
  }
  if (tcpud_resolve(&addr, &pc->endpoint, tcpud_tunnel_family(d), err,
                    sizeof(err)) != 0) {
    tcpud_log(level, "peer %s: Endpoint %s", pc->name, err);
    return -1;
  }
  if (!p->has_addr || !tcpud_addr_same(&p->addr, &addr)) {
    tcpud_log(LOG_DEBUG, "peer %s at %s", pc->name,
              tcpud_addr_format(&addr, 1, a, sizeof(a)));
    p->addr_changed = 1;
  }
  p->addr = addr;
  p->has_addr = 1;
  return 0;
}

static int resolve_target(const tcpud_hostport *hp, struct sockaddr_storage *ss,
                          const char *what, int level) {
  char err[300];
  tcpu_addr a;

  if (tcpud_resolve(&a, hp, 0, err, sizeof(err)) != 0) {
    tcpud_log(level, "%s: Target %s", what, err);
    return -1;
  }
  tcpu_uv_addr_to_sockaddr(ss, NULL, &a);
  return 0;
}

/* ----------------------------------------------------- apply, diffing */

/* Peers: update in place by name, add new ones, release removed ones,
 * and the library's peers with them (tunpeer.c).  At start (fatal) a name
 * that does not resolve is an error; on reload the peer keeps its old
 * address. */
static int apply_peers(tcpud *d, int fatal) {
  int rv = 0;

  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    p->gone = 1;
  for (size_t i = 0; i < d->cfg.n_peers; i++) {
    const tcpud_peer_conf *pc = &d->cfg.peers[i];
    tcpud_peer *p;

    for (p = d->peers; p != NULL; p = p->next)
      if (p->gone && strcmp(p->name, pc->name) == 0)
        break;
    if (p == NULL) {
      p = calloc(1, sizeof(*p));
      if (p == NULL)
        return -1;
      p->d = d;
      snprintf(p->name, sizeof(p->name), "%s", pc->name);
      p->next = d->peers;
      d->peers = p;
    }
    p->gone = 0;
    if (resolve_peer(d, p, pc, fatal ? LOG_ERR : LOG_WARNING) != 0 && fatal)
      rv = -1;
    if (tcpud_tunpeer_sync(d, p, pc, fatal) != 0 && fatal)
      rv = -1;
  }
  for (tcpud_peer **pp = &d->peers; *pp != NULL;) {
    tcpud_peer *p = *pp;
    if (!p->gone) {
      pp = &p->next;
      continue;
    }
    *pp = p->next;
    if (!d->closing)
      tcpud_log(LOG_INFO, "peer %s removed", p->name);
    tcpud_rdv_peer_forget(d, p);
    tcpud_tunpeer_remove(d, p);
    tcpud_peer_release(p);
  }
  return rv;
}

static int apply_services(tcpud *d, int fatal) {
  int rv = 0;

  for (tcpud_service *s = d->services; s != NULL; s = s->next)
    s->keep = 0;
  for (size_t i = 0; i < d->cfg.n_services; i++) {
    const tcpud_service_conf *sc = &d->cfg.services[i];
    tcpud_service *s;
    struct sockaddr_storage target;
    char what[96];

    snprintf(what, sizeof(what), "service %s (port %u)", sc->name, sc->port);
    for (s = d->services; s != NULL; s = s->next)
      if (!s->keep && s->port == sc->port)
        break;
    if (resolve_target(&sc->target, &target, what,
                       fatal ? LOG_ERR : LOG_WARNING) != 0) {
      if (fatal)
        rv = -1;
      if (s != NULL)
        s->keep = 1; /* keeps its old target */
      continue;
    }
    if (s != NULL) {
      s->keep = 1;
    } else {
      s = calloc(1, sizeof(*s));
      if (s == NULL)
        return -1;
      s->port = sc->port;
      s->keep = 1;
      snprintf(s->name, sizeof(s->name), "%s", sc->name);
      if (tcpud_service_open(d, s) != 0) {
        tcpud_service_close(s); /* logged; never in the list */
        rv = -1;
        continue;
      }
      s->next = d->services;
      d->services = s;
      tcpud_log(LOG_INFO, "%s: serving %s:%u", what, sc->target.host,
                sc->target.port);
    }
    s->target = target;
    s->target_conf = sc->target;
    snprintf(s->name, sizeof(s->name), "%s", sc->name);
  }
  for (tcpud_service **pp = &d->services; *pp != NULL;) {
    tcpud_service *s = *pp;
    if (s->keep) {
      pp = &s->next;
      continue;
    }
    *pp = s->next;
    if (!d->closing && !d->draining)
      tcpud_log(LOG_INFO, "service %s (port %u) removed", s->name, s->port);
    tcpud_service_close(s);
  }
  return rv;
}

static int apply_forwards(tcpud *d) {
  int rv = 0;

  for (tcpud_forward *f = d->forwards; f != NULL; f = f->next)
    f->keep = 0;
  for (size_t i = 0; i < d->cfg.n_forwards; i++) {
    const tcpud_forward_conf *fc = &d->cfg.forwards[i];
    tcpud_forward *f;

    if (fc->reverse)
      continue;
    for (f = d->forwards; f != NULL; f = f->next)
      if (!f->keep && f->listen.port == fc->listen.port &&
          strcmp(f->listen.host, fc->listen.host) == 0)
        break;
    if (f == NULL) {
      f = calloc(1, sizeof(*f));
      if (f == NULL)
        return -1;
      f->d = d;
      f->listen = fc->listen;
      if (tcpud_forward_open(d, f) != 0) {
        tcpud_forward_close(f); /* logged; never in the list */
        rv = -1;
        continue;
      }
      f->next = d->forwards;
      d->forwards = f;
      tcpud_log(LOG_INFO, "-L %s:%u: forwarding to peer %s, service %u",
                fc->listen.host, fc->listen.port, fc->peer, fc->service);
    }
    f->keep = 1;
    snprintf(f->peer, sizeof(f->peer), "%s", fc->peer);
    f->service = fc->service;
  }
  for (tcpud_forward **pp = &d->forwards; *pp != NULL;) {
    tcpud_forward *f = *pp;
    if (f->keep) {
      pp = &f->next;
      continue;
    }
    *pp = f->next;
    if (!d->closing && !d->draining)
      tcpud_log(LOG_INFO, "-L %s:%u removed", f->listen.host, f->listen.port);
    tcpud_forward_close(f);
  }
  return rv;
}

static void apply_reverse(tcpud *d) {
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    tcpud_peer_sync_reverse(d, p);
}

static void apply_log(tcpud *d) {
  tcpud_log_init("tcpud", d->cfg.log_syslog, d->cfg.log_level);
}

/* ---------------------------------------------------------------- pcap */

/* The capture needs the binding to show it every datagram, which
 * tcpu_uv_endpoint_set_tap does where the binding has it (it defines
 * TCPU_UV_HAVE_TAP). */
#ifdef TCPU_UV_HAVE_TAP
static void on_pcap_timer(uv_timer_t *t) {
  tcpud *d = t->data;

  tcpud_pcap_flush(d->pcap);
}

static void pcap_tap(tcpu_uv_endpoint *uvep, int outgoing,
                     const tcpu_addr *peer, const uint8_t *dgram, size_t len,
                     void *arg) {
  tcpud *d = arg;

  (void)uvep;
  tcpud_pcap_write(d->pcap, outgoing, &d->local_addr, peer, dgram, len);
}
#endif

static int open_pcap(tcpud *d) {
  if (d->cfg.pcap_file == NULL)
    return 0;
#ifdef TCPU_UV_HAVE_TAP
  if (tcpud_pcap_open(&d->pcap, d->cfg.pcap_file) != 0) {
    tcpud_log(LOG_ERR, "cannot write the capture %s: %s", d->cfg.pcap_file,
              strerror(errno));
    return -1;
  }
  tcpu_uv_endpoint_set_tap(&d->tun, pcap_tap, d);
  uv_timer_init(d->loop, &d->pcap_timer);
  d->pcap_timer.data = d;
  uv_timer_start(&d->pcap_timer, on_pcap_timer, 1000, 1000);
  tcpud_log(LOG_INFO, "writing every tunnelled segment to %s",
            d->cfg.pcap_file);
  return 0;
#else
  tcpud_log(LOG_ERR, "cannot write the capture %s: %s", d->cfg.pcap_file,
            TCPUD_NO_TAP_MESSAGE);
  return -1;
#endif
}

/* --------------------------------------------------------------- start */

static int open_tunnel(tcpud *d) {
  tcpu_settings st;
  struct sockaddr_storage ss;
  tcpu_addr bind;
  int rv, len = sizeof(ss);
  char a[TCPUD_ADDRSTRLEN];

  tcpu_settings_default(&st);
  st.mtu = d->cfg.mtu;
  snprintf(st.cc, sizeof(st.cc), "%s", d->cfg.cc);
  d->mode = d->cfg.mode;
  if (d->cfg.mode == TCPUD_MODE_SEALED) {
    st.mode = TCPU_MODE_SEALED;
    st.cipher = d->cfg.cipher == TCPUD_CIPHER_AESGCM ? TCPU_CIPHER_AESGCM
                                                     : TCPU_CIPHER_CHACHAPOLY;
    memcpy(st.private_key, d->cfg.private_key, sizeof(st.private_key));
    memcpy(d->public_key, d->cfg.public_key, sizeof(d->public_key));
  }
  if (d->cfg.listen.host[0] != '\0') {
    if (tcpud_ip_parse(&bind, d->cfg.listen.host) != 0)
      return UV_EINVAL;
  } else {
    /* Dual-stack "::" when the host has IPv6, else 0.0.0.0. */
    tcpud_ip_parse(&bind, "::");
  }
  bind.port = d->cfg.listen.port;
  tcpu_uv_addr_to_sockaddr(&ss, NULL, &bind);
  rv = tcpu_uv_endpoint_init(d->loop, &d->tun, &st, (struct sockaddr *)&ss, 0);
  if (rv == UV_EAFNOSUPPORT && d->cfg.listen.host[0] == '\0') {
    tcpud_ip_parse(&bind, "0.0.0.0");
    bind.port = d->cfg.listen.port;
    tcpu_uv_addr_to_sockaddr(&ss, NULL, &bind);
    rv =
        tcpu_uv_endpoint_init(d->loop, &d->tun, &st, (struct sockaddr *)&ss, 0);
  }
  /* The endpoint keeps its own copy, in locked memory. */
  sodium_memzero(st.private_key, sizeof(st.private_key));
  sodium_memzero(d->cfg.private_key, sizeof(d->cfg.private_key));
  if (rv != 0) {
    tcpud_log(LOG_ERR, "cannot open the tunnel socket on UDP %s: %s",
              tcpud_addr_format(&bind, 1, a, sizeof(a)), tcpud_strerror(rv));
    return rv;
  }
  d->tun.data = d;
  d->tun_open = 1;
  if (tcpu_uv_endpoint_getsockname(&d->tun, (struct sockaddr *)&ss, &len) == 0)
    tcpu_uv_addr_from_sockaddr(&d->local_addr, (struct sockaddr *)&ss);
  return 0;
}

int tcpud_start(tcpud *d) {
  char a[TCPUD_ADDRSTRLEN], key[TCPUD_KEY_B64_LEN + 1], mode[128];
  size_t n_rev = 0;

  d->started_ns = tcpud_now();
  uv_timer_init(d->loop, &d->drain_timer);
  d->drain_timer.data = d;
  if (open_tunnel(d) != 0)
    goto fail;
  if (open_pcap(d) != 0 || apply_peers(d, 1) != 0 ||
      tcpud_rdv_apply(d, 1) != 0 || tcpud_ctl_listen(d) != 0 ||
      apply_services(d, 1) != 0 || apply_forwards(d) != 0)
    goto fail;
  apply_reverse(d);
  if (tcpud_control_open(d) != 0)
    goto fail;
  tcpud_hs_watch_start(d);
  for (size_t i = 0; i < d->cfg.n_forwards; i++)
    n_rev += d->cfg.forwards[i].reverse;
  if (d->mode == TCPUD_MODE_SEALED)
    snprintf(mode, sizeof(mode), "sealed mode (%s, public key %s)",
             tcpud_cipher_name(d->cfg.cipher),
             tcpud_key_prefix(d->public_key, TCPUD_KEY_B64_LEN, key,
                              sizeof(key)));
  else
    snprintf(mode, sizeof(mode), "plain mode");
  tcpud_log(LOG_NOTICE,
            "tcpud %s running: tunnel on UDP %s, %s, %zu peer%s, %zu "
            "service%s, %zu -L and %zu -R forward%s",
            TCPUD_VERSION, tcpud_addr_format(&d->local_addr, 1, a, sizeof(a)),
            mode, d->cfg.n_peers,
            d->cfg.n_peers == 1 ? "" : "s", d->cfg.n_services - n_rev,
            d->cfg.n_services - n_rev == 1 ? "" : "s",
            d->cfg.n_forwards - n_rev, n_rev, n_rev == 1 ? "" : "s");
  return 0;
fail:
  d->exit_code = TCPUD_EXIT_FAILURE;
  tcpud_stop(d);
  return TCPUD_EXIT_FAILURE;
}

/* -------------------------------------------------------------- reload */

/* Keeps the running values of what needs a restart, and says so. */
static void keep_fixed(tcpud *d, tcpud_config *next) {
  tcpud_config *cur = &d->cfg;
  char *tmp;

  if (strcmp(cur->listen.host, next->listen.host) != 0 ||
      cur->listen.port != next->listen.port) {
    tcpud_log(LOG_WARNING, "reload: ListenPort/Address changes need a restart");
    next->listen = cur->listen;
  }
  if (cur->mtu != next->mtu) {
    tcpud_log(LOG_WARNING, "reload: MTU changes need a restart");
    next->mtu = cur->mtu;
  }
  if (cur->mode == TCPUD_MODE_SEALED) {
    if (cur->cipher != next->cipher) {
      tcpud_log(LOG_WARNING, "reload: Cipher changes need a restart");
      next->cipher = cur->cipher;
    }
    if (memcmp(d->public_key, next->public_key, TCPUD_KEY_LEN) != 0) {
      tcpud_log(LOG_WARNING,
                "reload: a new PrivateKeyFile (another key) needs a restart");
      memcpy(next->public_key, d->public_key, TCPUD_KEY_LEN);
    }
  }
  sodium_memzero(next->private_key, sizeof(next->private_key));
  if ((cur->control_socket == NULL) != (next->control_socket == NULL) ||
      (cur->control_socket &&
       strcmp(cur->control_socket, next->control_socket) != 0)) {
    tcpud_log(LOG_WARNING, "reload: ControlSocket changes need a restart");
    tmp = next->control_socket;
    next->control_socket = cur->control_socket;
    cur->control_socket = tmp;
  }
  if ((cur->pcap_file == NULL) != (next->pcap_file == NULL) ||
      (cur->pcap_file && strcmp(cur->pcap_file, next->pcap_file) != 0)) {
    tcpud_log(LOG_WARNING, "reload: PcapFile changes need a restart");
    tmp = next->pcap_file;
    next->pcap_file = cur->pcap_file;
    cur->pcap_file = tmp;
  }
}

int tcpud_reload(tcpud *d) {
  tcpud_config next;
  const char *src = d->config_path ? d->config_path : "the command line";

  if (d->draining || d->closing) {
    tcpud_log(LOG_NOTICE, "reload ignored: stopping");
    return -1;
  }
  tcpud_config_init(&next);
  if (d->load(d, &next) != 0) {
    for (size_t i = 0; i < next.n_errors; i++)
      tcpud_log(LOG_ERR, "reload: %s", next.errors[i]);
    tcpud_log(LOG_ERR,
              "reload of %s failed (%zu problem%s): keeping the "
              "running configuration",
              src, next.error_count, next.error_count == 1 ? "" : "s");
    tcpud_config_free(&next);
    return -1;
  }
  for (size_t i = 0; i < next.n_warnings; i++)
    tcpud_log(LOG_WARNING, "reload: %s", next.warnings[i]);
  if (next.mode != d->mode) {
    /* Its peers are of the other kind: nothing of it applies. */
    tcpud_log(LOG_ERR,
              "reload of %s refused: Mode changes (%s to %s) need a "
              "restart; keeping the running configuration",
              src, tcpud_mode_name(d->mode), tcpud_mode_name(next.mode));
    tcpud_config_free(&next);
    return -1;
  }
  keep_fixed(d, &next);
  tcpud_config_free(&d->cfg);
  d->cfg = next; /* the arrays move with it */
  apply_log(d);
  apply_peers(d, 0);
  tcpud_rdv_apply(d, 0);
  tcpud_sessions_recheck(d);
  apply_services(d, 0);
  apply_forwards(d);
  apply_reverse(d);
  d->reloads++;
  tcpud_log(LOG_NOTICE,
            "reloaded %s: %zu peers, %zu services, %zu forwards; "
            "%zu connections kept",
            src, d->cfg.n_peers, d->cfg.n_services, d->cfg.n_forwards,
            d->n_pipes);
  return 0;
}

/* ------------------------------------------------------- drain, stop */

static void on_tun_closed(tcpu_uv_endpoint *uvep) {
  tcpud *d = uvep->data;

  d->tun_open = 0;
  if (d->pcap != NULL) {
    tcpud_pcap_close(d->pcap);
    d->pcap = NULL;
  }
}

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* The end: everything closes; uv_run returns once the handles are gone. */
static void finish(tcpud *d) {
  if (d->closing)
    return;
  d->closing = 1;
  tcpud_hs_watch_stop(d);
  tcpud_rdv_stop(d);
  close_handle((uv_handle_t *)&d->drain_timer);
  close_handle((uv_handle_t *)&d->sig_hup);
  close_handle((uv_handle_t *)&d->sig_term);
  close_handle((uv_handle_t *)&d->sig_int);
  tcpud_control_close(d);
  /* Listeners, channels and connections first: their close callbacks
   * must run before the endpoint's. */
  tcpud_config_free(&d->cfg); /* apply_* with an empty config closes all */
  apply_services(d, 0);
  apply_forwards(d);
  tcpud_sessions_close(d);
  apply_peers(d, 0);
  tcpud_pipes_reset(d);
  if (d->pcap != NULL) {
    close_handle((uv_handle_t *)&d->pcap_timer);
    tcpud_pcap_flush(d->pcap);
  }
  if (d->tun_open)
    tcpu_uv_endpoint_close(&d->tun, on_tun_closed);
}

void tcpud_stop(tcpud *d) { finish(d); }

void tcpud_check_drained(tcpud *d) {
  if (!d->draining || d->closing || d->n_pipes > 0 || d->sessions != NULL)
    return;
  tcpud_log(LOG_NOTICE, "drained: every connection closed");
  finish(d);
}

static void on_drain_timeout(uv_timer_t *t) {
  tcpud *d = t->data;

  tcpud_log(LOG_WARNING, "drain timeout (%u ms): resetting %zu connection%s",
            d->cfg.drain_timeout_ms, d->n_pipes, d->n_pipes == 1 ? "" : "s");
  finish(d);
}

void tcpud_drain(tcpud *d) {
  if (d->closing)
    return;
  if (d->draining) {
    tcpud_log(LOG_NOTICE, "second signal: stopping now");
    finish(d);
    return;
  }
  d->draining = 1;
  tcpud_log(LOG_NOTICE, "draining %zu connection%s (at most %u ms)", d->n_pipes,
            d->n_pipes == 1 ? "" : "s", d->cfg.drain_timeout_ms);
  /* Stop listening: services, -L, -R and the control channel. */
  for (tcpud_service *s = d->services, *next; s != NULL; s = next) {
    next = s->next;
    tcpud_service_close(s);
  }
  d->services = NULL;
  for (tcpud_forward *f = d->forwards, *next; f != NULL; f = next) {
    next = f->next;
    tcpud_forward_close(f);
  }
  d->forwards = NULL;
  tcpud_sessions_close(d);
  tcpud_pipes_drain(d);
  uv_timer_start(&d->drain_timer, on_drain_timeout, d->cfg.drain_timeout_ms, 0);
  tcpud_check_drained(d);
}
