/*
 * peer.c — the peer control channel (tunnel port 1) and -R forwards.
 *
 * The side with -R forwards towards a peer (the requester, typically
 * behind a NAT) keeps one control channel open to it: it connects, sends
 * HELLO and one LISTEN per forward, and reconnects with a backoff (1 s
 * doubling to 30 s) whenever the channel drops, asking again.  TCP
 * keepalive on the channel finds a restarted peer within TCPUD_CTL_KA_*
 * seconds (and keeps a NAT mapping alive; PersistentKeepalive does that
 * for the whole tunnel).
 *
 * The other side (the listener) accepts channels from known peers only
 * (tcpud_peer_match), checks each LISTEN against the peer's AllowReverse,
 * opens a kernel TCP listener (a grant) and answers with RESULT.  Every
 * connection it accepts there becomes a pipe whose tunnel connection goes
 * back to the requester's address as the channel sees it (plain mode: its
 * UDP address, through its NAT mapping; sealed mode: its key, wherever
 * the peer is now), to the tunnel port the LISTEN named.  When the
 * channel closes its grants close.  A LISTEN for an address that an older
 * channel of the same peer from the same IP still holds takes it over: a
 * requester that restarted gets its ports back at once instead of after
 * the old channel's keepalive timeout.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcpud/daemon.h"

#define CTL_CONNECT_TIMEOUT_MS 10000

typedef struct ctl_write {
  tcpu_uv_write_req req;
  uint8_t buf[TCPUD_CTL_HDR + TCPUD_CTL_MAX_BODY];
} ctl_write;

static void session_lost(tcpud_session *s, int err, const char *why, int reset);
static void session_connect(tcpud_session *s);

/* Our name in HELLO: the host name, as far as it is a valid name. */
static void hello_name(char out[TCPUD_NAME_MAX + 1]) {
  char host[256];
  size_t n = 0;

  if (gethostname(host, sizeof(host)) != 0)
    host[0] = '\0';
  host[sizeof(host) - 1] = '\0';
  for (const char *c = host; *c && n < TCPUD_NAME_MAX; c++)
    if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
        (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.')
      out[n++] = *c;
  if (n == 0)
    memcpy(out, "tcpud", (n = 5));
  out[n] = '\0';
}

/* ---------------------------------------------------------------- output */

static void ctl_written(tcpu_uv_write_req *req, int status) {
  tcpud_session *s = req->handle->data;
  ctl_write *w = req->data;

  free(w);
  if (status < 0 && status != UV_ECANCELED)
    session_lost(s, status, "write", 0);
}

static void session_send(tcpud_session *s, const tcpud_ctlmsg *m) {
  ctl_write *w;
  uv_buf_t buf;
  int n, rv;

  if (!s->up || s->dead)
    return;
  w = malloc(sizeof(*w));
  if (w == NULL) {
    session_lost(s, UV_ENOMEM, "write", 1);
    return;
  }
  n = tcpud_ctlmsg_encode(m, w->buf, sizeof(w->buf));
  if (n < 0) {
    free(w);
    tcpud_log(LOG_ERR, "control channel with %s: cannot encode message type %u",
              s->peer, m->type);
    return;
  }
  w->req.data = w;
  buf = uv_buf_init((char *)w->buf, (unsigned)n);
  rv = tcpu_uv_write(&w->req, &s->stream, &buf, 1, ctl_written);
  if (rv != 0) {
    free(w);
    session_lost(s, rv, "write", 0);
  }
}

static void send_result(tcpud_session *s, uint32_t id, int status,
                        const char *text) {
  tcpud_ctlmsg m;

  memset(&m, 0, sizeof(m));
  m.type = TCPUD_CTL_RESULT;
  m.id = id;
  m.status = (uint16_t)status;
  snprintf(m.text, sizeof(m.text), "%s", text);
  session_send(s, &m);
}

/* --------------------------------------------------------------- grants */

static void grant_closed(uv_handle_t *h) { free(h->data); }

static void grant_close(tcpud_grant *g) {
  tcpud_session *s = g->s;
  char a[TCPUD_ADDRSTRLEN];

  for (tcpud_grant **pp = &s->grants; *pp; pp = &(*pp)->next)
    if (*pp == g) {
      *pp = g->next;
      break;
    }
  s->n_grants--;
  tcpud_log(LOG_INFO, "peer %s: no longer listening on %s for its service %u",
            s->peer, tcpud_addr_format(&g->bind, 1, a, sizeof(a)), g->service);
  g->closing = 1;
  uv_close((uv_handle_t *)&g->listener, grant_closed);
}

static void on_grant_conn(uv_stream_t *server, int status) {
  tcpud_grant *g = server->data;

  if (status < 0) {
    tcpud_log(LOG_WARNING, "peer %s: accept failed: %s", g->s->peer,
              tcpud_strerror(status));
    return;
  }
  tcpud_pipe_from_grant(g, server);
}

/* Another channel of the same peer from the same IP holds bind: that is
 * an earlier run of the requester.  Take the address from it. */
static void take_over(tcpud_session *s, const tcpu_addr *bind) {
  for (tcpud_session *o = s->d->sessions; o != NULL; o = o->next) {
    if (o == s || o->dead || strcmp(o->peer, s->peer) != 0 ||
        !tcpud_addr_same_ip(&o->addr, &s->addr))
      continue;
    for (tcpud_grant *g = o->grants; g != NULL; g = g->next)
      if (tcpud_addr_same(&g->bind, bind)) {
        tcpud_log(LOG_INFO,
                  "peer %s: a new control channel takes over the listener of "
                  "an older one",
                  s->peer);
        grant_close(g);
        break;
      }
  }
}

static void handle_listen(tcpud_session *s, const tcpud_ctlmsg *m) {
  tcpud *d = s->d;
  const tcpud_peer_conf *pc = tcpud_peer_conf_of(d, s->peer);
  struct sockaddr_storage ss;
  tcpud_grant *g;
  tcpu_addr bind = m->addr;
  char a[TCPUD_ADDRSTRLEN], text[160];
  int rv;

  tcpud_addr_format(&bind, 1, a, sizeof(a));
  if (d->draining) {
    send_result(s, m->id, TCPUD_CTL_SHUTDOWN, "shutting down");
    return;
  }
  for (g = s->grants; g != NULL; g = g->next)
    if (g->id == m->id || tcpud_addr_same(&g->bind, &bind)) {
      send_result(s, m->id, TCPUD_CTL_BAD, "duplicate request");
      return;
    }
  if (pc == NULL || !tcpud_peer_allows_reverse(pc, &bind)) {
    tcpud_log(LOG_WARNING,
              "peer %s asked to listen on %s: not allowed by its AllowReverse",
              s->peer, a);
    send_result(s, m->id, TCPUD_CTL_DENIED, "not allowed by AllowReverse");
    return;
  }
  if (s->n_grants >= TCPUD_CTL_MAX_GRANTS) {
    send_result(s, m->id, TCPUD_CTL_DENIED, "too many listeners");
    return;
  }
  take_over(s, &bind);
  g = calloc(1, sizeof(*g));
  if (g == NULL) {
    send_result(s, m->id, TCPUD_CTL_FAILED, "out of memory");
    return;
  }
  g->s = s;
  g->id = m->id;
  g->service = m->service;
  g->bind = bind;
  tcpud_addr_unmap(&bind);
  tcpu_uv_addr_to_sockaddr(&ss, NULL, &bind);
  uv_tcp_init(d->loop, &g->listener);
  g->listener.data = g;
  rv = uv_tcp_bind(&g->listener, (struct sockaddr *)&ss, 0);
  if (rv == 0)
    rv = uv_listen((uv_stream_t *)&g->listener, 511, on_grant_conn);
  if (rv != 0) {
    snprintf(text, sizeof(text), "listen on %s: %s", a, uv_strerror(rv));
    tcpud_log(LOG_WARNING, "peer %s: cannot %s", s->peer, text);
    uv_close((uv_handle_t *)&g->listener, grant_closed);
    send_result(s, m->id,
                rv == UV_EADDRINUSE ? TCPUD_CTL_ADDRINUSE : TCPUD_CTL_FAILED,
                text);
    return;
  }
  g->next = s->grants;
  s->grants = g;
  s->n_grants++;
  tcpud_log(LOG_INFO, "peer %s: listening on %s for its service %u", s->peer, a,
            m->service);
  send_result(s, m->id, TCPUD_CTL_OK, "listening");
}

static void handle_unlisten(tcpud_session *s, uint32_t id) {
  for (tcpud_grant *g = s->grants; g != NULL; g = g->next)
    if (g->id == id) {
      grant_close(g);
      return;
    }
}

/* ---------------------------------------------------------- requester */

static void send_listen(tcpud_session *s, tcpud_rlisten *r) {
  tcpud_ctlmsg m;

  memset(&m, 0, sizeof(m));
  m.type = TCPUD_CTL_LISTEN;
  m.id = r->id;
  m.service = r->service;
  if (tcpud_ip_parse(&m.addr, r->listen.host) != 0)
    return; /* config.c accepts IP literals only */
  m.addr.port = r->listen.port;
  r->state = TCPUD_RL_PENDING;
  r->reason[0] = '\0';
  session_send(s, &m);
}

static void handle_result(tcpud_session *s, const tcpud_ctlmsg *m) {
  for (tcpud_rlisten *r = s->rlistens; r != NULL; r = r->next) {
    if (r->id != m->id)
      continue;
    snprintf(r->reason, sizeof(r->reason), "%.*s", (int)sizeof(r->reason) - 1,
             m->text);
    if (m->status == TCPUD_CTL_OK) {
      r->state = TCPUD_RL_ACTIVE;
      tcpud_log(LOG_INFO,
                "-R %s:%u: peer %s listens, connections come back "
                "to service %u",
                r->listen.host, r->listen.port, s->peer, r->service);
    } else {
      r->state = TCPUD_RL_FAILED;
      tcpud_log(LOG_ERR, "-R %s:%u: peer %s refused: %s (%s)", r->listen.host,
                r->listen.port, s->peer, tcpud_ctl_status_name(m->status),
                m->text);
    }
    return;
  }
}

/* ---------------------------------------------------------------- input */

static void ctl_alloc(tcpu_uv_stream *st, size_t suggested, uv_buf_t *buf) {
  tcpud_session *s = st->data;

  (void)suggested;
  *buf = uv_buf_init((char *)s->in + s->in_len,
                     (unsigned)(sizeof(s->in) - s->in_len));
}

static void handle_msg(tcpud_session *s, const tcpud_ctlmsg *m) {
  switch (m->type) {
  case TCPUD_CTL_HELLO:
    snprintf(s->hello, sizeof(s->hello), "%.*s", TCPUD_NAME_MAX, m->text);
    tcpud_log(LOG_INFO, "control channel %s peer %s (it calls itself %s)",
              s->outgoing ? "to" : "from", s->peer, s->hello);
    break;
  case TCPUD_CTL_LISTEN:
    if (!s->outgoing)
      handle_listen(s, m);
    break;
  case TCPUD_CTL_UNLISTEN:
    if (!s->outgoing)
      handle_unlisten(s, m->id);
    break;
  case TCPUD_CTL_RESULT:
    if (s->outgoing)
      handle_result(s, m);
    break;
  default:
    break;
  }
}

static void ctl_read(tcpu_uv_stream *st, ssize_t nread, const uv_buf_t *buf) {
  tcpud_session *s = st->data;
  size_t off = 0;

  (void)buf;
  if (nread < 0) {
    if (nread != UV_ENOBUFS)
      session_lost(s, (int)nread, "read", 0);
    return;
  }
  s->in_len += (size_t)nread;
  while (s->stream_open && !s->stream_closing) {
    tcpud_ctlmsg m;
    const char *why;
    size_t used;
    int rv = tcpud_ctlmsg_decode(&m, s->in + off, s->in_len - off, &used, &why);

    if (rv == 0)
      break;
    if (rv < 0) {
      tcpud_log_limited(&s->d->rl_ctl, tcpud_now(), LOG_WARNING,
                        "control channel with %s: %s; resetting it", s->peer,
                        why);
      session_lost(s, UV_EPROTO, why, 1);
      return;
    }
    off += used;
    if (rv == 1)
      handle_msg(s, &m);
  }
  if (off > 0 && !s->stream_closing) {
    memmove(s->in, s->in + off, s->in_len - off);
    s->in_len -= off;
  }
}

/* ------------------------------------------------------- life cycle */

static void hello(tcpud_session *s) {
  tcpud_ctlmsg m;

  memset(&m, 0, sizeof(m));
  m.type = TCPUD_CTL_HELLO;
  m.version = TCPUD_CTL_VERSION;
  hello_name(m.text);
  session_send(s, &m);
}

static void session_free_if_done(tcpud_session *s) {
  if (!s->dead || s->stream_open || s->retry_open)
    return;
  while (s->rlistens != NULL) {
    tcpud_rlisten *r = s->rlistens;
    s->rlistens = r->next;
    free(r);
  }
  free(s);
}

static void retry_closed(uv_handle_t *h) {
  tcpud_session *s = h->data;

  s->retry_open = 0;
  session_free_if_done(s);
}

static void on_retry(uv_timer_t *t) { session_connect(t->data); }

static void stream_closed(tcpu_uv_stream *st) {
  tcpud_session *s = st->data;
  tcpud *d = s->d;

  s->stream_open = 0;
  s->stream_closing = 0;
  s->in_len = 0;
  if (!s->outgoing) {
    for (tcpud_session **pp = &d->sessions; *pp; pp = &(*pp)->next)
      if (*pp == s) {
        *pp = s->next;
        break;
      }
    free(s);
    tcpud_check_drained(d);
    return;
  }
  if (s->dead) {
    session_free_if_done(s);
    tcpud_check_drained(d);
    return;
  }
  uv_timer_start(&s->retry, on_retry, s->backoff_ms, 0);
  s->backoff_ms = s->backoff_ms * 2 > TCPUD_CTL_RETRY_MAX_MS
                      ? TCPUD_CTL_RETRY_MAX_MS
                      : s->backoff_ms * 2;
}

/* The channel is gone or going: close the stream (reset: RST), withdraw
 * its grants, and for our own channel, retry later (stream_closed). */
static void session_lost(tcpud_session *s, int err, const char *why,
                         int reset) {
  int quiet = s->dead || s->d->draining || s->d->closing;

  if (!s->stream_open || s->stream_closing)
    return;
  s->stream_closing = 1;
  if (s->outgoing)
    tcpud_log(quiet   ? LOG_DEBUG
              : s->up ? LOG_WARNING
                      : LOG_INFO,
              "control channel to peer %s: %s%s%s; trying again in %u s",
              s->peer, why, err ? ": " : "", err ? tcpud_strerror(err) : "",
              s->backoff_ms / 1000);
  else
    tcpud_log(quiet ? LOG_DEBUG : LOG_INFO,
              "control channel from peer %s closed: %s%s%s", s->peer, why,
              err ? ": " : "", err ? tcpud_strerror(err) : "");
  s->up = 0;
  while (s->grants != NULL)
    grant_close(s->grants);
  for (tcpud_rlisten *r = s->rlistens; r != NULL; r = r->next)
    if (r->state == TCPUD_RL_ACTIVE)
      r->state = TCPUD_RL_PENDING;
  if (!reset || tcpu_uv_abort(&s->stream, stream_closed) != 0)
    tcpu_uv_close(&s->stream, stream_closed);
}

static void on_out_connected(tcpu_uv_connect_req *req, int status) {
  tcpud_session *s = req->data;
  int rv;

  if (status < 0) {
    if (status != UV_ECANCELED)
      session_lost(s, status, "connect", 0);
    return;
  }
  s->up = 1;
  s->backoff_ms = TCPUD_CTL_RETRY_MIN_MS;
  s->started_ns = tcpud_now();
  rv = tcpu_uv_read_start(&s->stream, ctl_alloc, ctl_read);
  if (rv != 0) {
    session_lost(s, rv, "read", 0);
    return;
  }
  hello(s);
  for (tcpud_rlisten *r = s->rlistens; r != NULL && s->up; r = r->next)
    send_listen(s, r);
}

/* Keepalive after 10 s idle: a restarted peer is found soon. */
static void ctl_options(tcpud_session *s) {
  tcpu_uv_stream_set_nodelay(&s->stream, 1);
  tcpu_uv_stream_set_keepalive(&s->stream, 1, TCPUD_CTL_KA_IDLE_MS,
                               TCPUD_CTL_KA_INTERVAL_MS, TCPUD_CTL_KA_COUNT);
}

static void session_connect(tcpud_session *s) {
  tcpud *d = s->d;
  tcpud_peer *p = tcpud_peer_find(d, s->peer);
  tcpu_addr addr;
  int rv;

  if (s->dead || s->stream_open || d->draining || d->closing)
    return;
  if (p == NULL || tcpud_peer_conn_addr(p, &addr) != 0) {
    uv_timer_start(&s->retry, on_retry, TCPUD_CTL_RETRY_MAX_MS, 0);
    return;
  }
  s->addr = addr;
  rv = tcpu_uv_stream_init(&d->tun, &s->stream);
  if (rv != 0) {
    tcpud_log(LOG_ERR, "control channel to peer %s: %s", s->peer,
              tcpud_strerror(rv));
    uv_timer_start(&s->retry, on_retry, s->backoff_ms, 0);
    return;
  }
  s->stream.data = s;
  s->connect_req.data = s;
  s->stream_open = 1;
  s->stream_closing = 0;
  s->in_len = 0;
  ctl_options(s);
  rv = tcpud_tunnel_connect(d, &s->connect_req, &s->stream, &s->addr,
                            TCPUD_CONTROL_PORT, CTL_CONNECT_TIMEOUT_MS,
                            on_out_connected);
  if (rv != 0)
    session_lost(s, rv, "connect", 0);
}

/* Our channel for good (the peer has no -R forwards left, or we stop). */
static void session_end(tcpud_session *s) {
  if (s->dead)
    return;
  s->dead = 1;
  if (s->outgoing && s->retry_open)
    uv_close((uv_handle_t *)&s->retry, retry_closed);
  if (s->stream_open)
    session_lost(s, 0, "closing", 0);
  else
    session_free_if_done(s);
}

static tcpud_session *session_new_outgoing(tcpud *d, const char *peer) {
  tcpud_session *s = calloc(1, sizeof(*s));

  if (s == NULL)
    return NULL;
  s->d = d;
  s->outgoing = 1;
  s->next_id = 1;
  s->backoff_ms = TCPUD_CTL_RETRY_MIN_MS;
  snprintf(s->peer, sizeof(s->peer), "%s", peer);
  uv_timer_init(d->loop, &s->retry);
  s->retry.data = s;
  s->retry_open = 1;
  return s;
}

void tcpud_peer_sync_reverse(tcpud *d, tcpud_peer *p) {
  tcpud_session *s = p->out;
  size_t wanted = 0;
  tcpu_addr addr;

  for (size_t i = 0; i < d->cfg.n_forwards; i++)
    wanted += d->cfg.forwards[i].reverse &&
              strcmp(d->cfg.forwards[i].peer, p->name) == 0;
  if (wanted == 0 || p->gone) {
    if (s != NULL) {
      p->out = NULL;
      session_end(s);
    }
    return;
  }
  if (s == NULL && (s = p->out = session_new_outgoing(d, p->name)) == NULL) {
    tcpud_log(LOG_ERR, "peer %s: out of memory", p->name);
    return;
  }
  for (tcpud_rlisten *r = s->rlistens; r != NULL; r = r->next)
    r->keep = 0;
  for (size_t i = 0; i < d->cfg.n_forwards; i++) {
    const tcpud_forward_conf *f = &d->cfg.forwards[i];
    tcpud_rlisten *r;

    if (!f->reverse || strcmp(f->peer, p->name) != 0)
      continue;
    for (r = s->rlistens; r != NULL; r = r->next)
      if (!r->keep && r->service == f->service &&
          r->listen.port == f->listen.port &&
          strcmp(r->listen.host, f->listen.host) == 0)
        break;
    if (r != NULL) {
      r->keep = 1;
      continue;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
      continue;
    r->id = s->next_id++;
    r->listen = f->listen;
    r->service = f->service;
    r->keep = 1;
    r->next = s->rlistens;
    s->rlistens = r;
    if (s->up)
      send_listen(s, r);
  }
  for (tcpud_rlisten **pp = &s->rlistens; *pp != NULL;) {
    tcpud_rlisten *r = *pp;
    if (r->keep) {
      pp = &r->next;
      continue;
    }
    if (s->up) {
      tcpud_ctlmsg m;
      memset(&m, 0, sizeof(m));
      m.type = TCPUD_CTL_UNLISTEN;
      m.id = r->id;
      session_send(s, &m);
    }
    *pp = r->next;
    free(r);
  }
  /* A new Endpoint (plain mode) or a new key (sealed): reconnect there.
   * A sealed peer's new Endpoint needs nothing: its address is its key. */
  if (s->stream_open && !s->stream_closing &&
      tcpud_peer_conn_addr(p, &addr) == 0 && !tcpud_addr_same(&s->addr, &addr))
    session_lost(s, 0,
                 d->mode == TCPUD_MODE_SEALED ? "the peer's key changed"
                                              : "the peer's Endpoint changed",
                 0);
  else if (!s->stream_open && !uv_is_active((uv_handle_t *)&s->retry))
    session_connect(s);
}

void tcpud_peer_addr_learned(tcpud *d, tcpud_peer *p) {
  tcpud_session *s = p->out;

  if (s == NULL || s->dead || d->draining || d->closing)
    return;
  if (!s->stream_open) {
    /* Waiting for an address, or for its next try: now. */
    uv_timer_stop(&s->retry);
    s->backoff_ms = TCPUD_CTL_RETRY_MIN_MS;
    session_connect(s);
    return;
  }
  tcpud_peer_sync_reverse(d, p); /* moves an open channel to the address */
}

void tcpud_peer_release(tcpud_peer *p) {
  if (p->out != NULL) {
    session_end(p->out);
    p->out = NULL;
  }
  free(p);
}

void tcpud_sessions_close(tcpud *d) {
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    if (p->out != NULL) {
      session_end(p->out);
      p->out = NULL;
    }
  for (tcpud_session *s = d->sessions; s != NULL; s = s->next)
    session_lost(s, 0, "shutting down", 0);
  if (d->ctl_listening) {
    d->ctl_listening = 0;
    tcpu_uv_close(&d->ctl_listener, NULL);
  }
}

/* ---------------------------------------------------- incoming channels */

static void refused_closed(tcpu_uv_stream *st) { free(st); }

static void on_ctl_conn(tcpu_uv_stream *server, int status) {
  tcpud *d = server->data;
  tcpud_session *s;
  tcpud_peer *p;
  tcpu_conn_info ci;
  char from[TCPUD_ADDRSTRLEN];
  int rv;

  if (status < 0)
    return;
  s = calloc(1, sizeof(*s));
  if (s == NULL || tcpu_uv_stream_init(&d->tun, &s->stream) != 0) {
    tcpu_uv_stream *tmp = malloc(sizeof(*tmp));
    free(s);
    if (tmp != NULL && tcpu_uv_stream_init(&d->tun, tmp) == 0) {
      tcpu_uv_accept(server, tmp);
      tcpu_uv_close(tmp, refused_closed);
    } else {
      free(tmp);
    }
    return;
  }
  s->d = d;
  s->stream.data = s;
  s->stream_open = 1;
  snprintf(s->peer, sizeof(s->peer), "?");
  s->next = d->sessions;
  d->sessions = s;
  rv = tcpu_uv_accept(server, &s->stream);
  if (rv == 0)
    rv = tcpu_uv_stream_get_info(&s->stream, &ci);
  if (rv != 0) {
    session_lost(s, rv, "accept", 1);
    return;
  }
  s->addr = ci.peer;
  s->started_ns = tcpud_now();
  tcpud_conn_addr_format(d, &ci.peer, from, sizeof(from));
  p = d->draining ? NULL : tcpud_peer_match(d, &ci.peer);
  if (p == NULL) {
    d->peer_denied++;
    tcpud_log_limited(&d->rl_denied, tcpud_now(), LOG_WARNING,
                      "control channel from %s: no [Peer] matches it; "
                      "resetting",
                      from);
    s->stream_closing = 1;
    if (tcpu_uv_abort(&s->stream, stream_closed) != 0)
      tcpu_uv_close(&s->stream, stream_closed);
    return;
  }
  snprintf(s->peer, sizeof(s->peer), "%s", p->name);
  s->up = 1;
  ctl_options(s);
  rv = tcpu_uv_read_start(&s->stream, ctl_alloc, ctl_read);
  if (rv != 0) {
    session_lost(s, rv, "read", 0);
    return;
  }
  tcpud_log(LOG_DEBUG, "control channel from peer %s at %s", s->peer, from);
  hello(s);
}

int tcpud_ctl_listen(tcpud *d) {
  int rv = tcpu_uv_stream_init(&d->tun, &d->ctl_listener);

  if (rv != 0)
    return rv;
  d->ctl_listener.data = d;
  d->ctl_listening = 1;
  rv = tcpu_uv_listen(&d->ctl_listener, TCPUD_CONTROL_PORT, 64, on_ctl_conn);
  if (rv != 0)
    tcpud_log(LOG_ERR, "cannot listen on tunnel port %d (control channel): %s",
              TCPUD_CONTROL_PORT, tcpud_strerror(rv));
  return rv;
}

void tcpud_sessions_recheck(tcpud *d) {
  for (tcpud_session *s = d->sessions; s != NULL; s = s->next) {
    const tcpud_peer_conf *pc = tcpud_peer_conf_of(d, s->peer);
    if (pc == NULL) {
      session_lost(s, 0, "the peer was removed from the configuration", 0);
      continue;
    }
    for (tcpud_grant *g = s->grants, *next; g != NULL; g = next) {
      next = g->next;
      if (!tcpud_peer_allows_reverse(pc, &g->bind)) {
        /* The requester learns it as a late answer to its LISTEN. */
        send_result(s, g->id, TCPUD_CTL_DENIED,
                    "no longer allowed by AllowReverse");
        grant_close(g);
      }
    }
  }
}
