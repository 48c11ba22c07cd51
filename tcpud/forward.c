/*
 * forward.c — forwarded connections.
 *
 * A pipe joins two ends: a kernel TCP socket (uv_tcp_t: the local client
 * of a -L forward or a -R listener, or the target of a service) and a
 * tunnel stream (tcpu_uv_stream).  Both ends are driven through the same
 * small adapter (end_ops), so the forwarding logic below is written once:
 *
 *   opening    one end is accepted; the other connects (tunnel: to the
 *              peer's service port; kernel: to the service's target).
 *              Reading starts on both once both are connected.  A failed
 *              connect resets the accepted end: a refused or unreachable
 *              target reaches the client as an RST.
 *   data       what one end reads is written to the other in the same
 *              buffer (no copy in tcpud).  When more than HIGH_WATER bytes
 *              wait to be written to an end, the other end stops reading
 *              until they drain below LOW_WATER; the windows of both TCPs
 *              then push back to the senders.
 *   half-close EOF read from one end becomes a shutdown (FIN) of the
 *              other, after the data before it.  The pipe closes when both
 *              ends have sent EOF and both shutdowns have completed.
 *   errors     a reset, timeout or failed write on one end resets the
 *              other: kernel sockets with SO_LINGER 0 (RST), tunnel
 *              streams with tcpu_uv_abort.
 *   drain      (SIGTERM) both ends are shut down at once; what is still
 *              read is discarded; the pipe closes when both EOFs are in.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tcpud/daemon.h"

#define CHUNK_SIZE 65536
#define HIGH_WATER (256 * 1024)
#define LOW_WATER (64 * 1024)
#define LISTEN_BACKLOG 511
#define CHUNK_CACHE 64

enum { LOCAL = 0, TUN = 1 };

typedef struct end end;
typedef struct chunk chunk;

/* The adapter: each returns 0 or a UV_E* error; completions come back
 * through the callbacks below (never from inside these calls). */
typedef struct end_ops {
  int (*read_start)(end *e);
  void (*read_stop)(end *e);
  int (*write)(end *e, chunk *c);
  int (*shutdown)(end *e);
  void (*close)(end *e);
  void (*reset)(end *e);
} end_ops;

struct end {
  const end_ops *ops;
  tcpud_pipe *p;
  unsigned open : 1;      /* handle initialized, close callback not yet run */
  unsigned paused : 1;    /* stopped reading: the other end is full */
  unsigned eof : 1;       /* EOF read */
  unsigned shut : 1;      /* shutdown requested */
  unsigned shut_done : 1; /* shutdown completed */
  unsigned closing : 1;
  size_t queued; /* bytes written to this end, not yet completed */
  union {
    uv_tcp_t tcp;
    tcpu_uv_stream tun;
  } h;
  union {
    uv_connect_t tcp;
    tcpu_uv_connect_req tun;
  } creq;
  union {
    uv_shutdown_t tcp;
    tcpu_uv_shutdown_req tun;
  } sreq;
};

struct chunk {
  union {
    uv_write_t tcp;
    tcpu_uv_write_req tun;
  } req;
  end *dst;
  size_t len;
  chunk *next_free;
  uint8_t data[CHUNK_SIZE];
};

struct tcpud_pipe {
  tcpud_pipe *prev, *next;
  tcpud *d;
  tcpud_pipe_kind kind;
  end e[2];
  char peer[TCPUD_NAME_MAX + 1];
  uint16_t service;
  char local[TCPUD_ADDRSTRLEN], remote[TCPUD_ADDRSTRLEN];
  char what[TCPUD_HOST_MAX + 2 * TCPUD_ADDRSTRLEN + 128]; /* log prefix */
  unsigned closing : 1, draining : 1, opened : 1;
  uint64_t bytes[2]; /* read from e[i] */
  uint64_t started;
};

static void on_read_data(end *src, chunk *c, size_t n);
static void on_eof(end *src);
static void on_written(chunk *c, int status);
static void on_shutdown(end *e, int status);
static void on_connected(end *e, int status);
static void on_closed(end *e);
static void pipe_fail(tcpud_pipe *p, int err, end *failed, const char *what);

/* ---------------------------------------------------------------- chunks */

static chunk *free_chunks;
static unsigned n_free_chunks;

static chunk *chunk_get(void) {
  chunk *c = free_chunks;

  if (c != NULL) {
    free_chunks = c->next_free;
    n_free_chunks--;
    return c;
  }
  return malloc(sizeof(chunk));
}

static void chunk_put(chunk *c) {
  if (n_free_chunks >= CHUNK_CACHE) {
    free(c);
    return;
  }
  c->next_free = free_chunks;
  free_chunks = c;
  n_free_chunks++;
}

static chunk *chunk_of(const uv_buf_t *buf) {
  return (chunk *)(void *)(buf->base - offsetof(chunk, data));
}

/* A read buffer: a chunk's data, or none when out of memory (the read
 * then ends with UV_ENOBUFS and is tried again). */
static uv_buf_t chunk_buf(void) {
  chunk *c = chunk_get();
  return c ? uv_buf_init((char *)c->data, CHUNK_SIZE) : uv_buf_init(NULL, 0);
}

/* What a read brought, from either kind of stream: data, the end of the
 * input, or an error; the chunk (NULL: none) goes back unless filled. */
static void on_read(end *e, chunk *c, ssize_t nread) {
  if (nread > 0) {
    on_read_data(e, c, (size_t)nread);
    return;
  }
  if (c != NULL)
    chunk_put(c);
  if (nread == UV_EOF)
    on_eof(e);
  else if (nread < 0 && nread != UV_ENOBUFS)
    pipe_fail(e->p, (int)nread, e, "read");
}

static end *other(end *e) {
  return e == &e->p->e[LOCAL] ? &e->p->e[TUN] : &e->p->e[LOCAL];
}

/* ----------------------------------------------------- kernel TCP end */

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = chunk_buf();
}

static void tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  on_read(s->data, buf->base ? chunk_of(buf) : NULL, nread);
}

static int tcp_read_start(end *e) {
  return uv_read_start((uv_stream_t *)&e->h.tcp, tcp_alloc, tcp_read);
}

static void tcp_read_stop(end *e) { uv_read_stop((uv_stream_t *)&e->h.tcp); }

static void tcp_written(uv_write_t *req, int status) {
  on_written(req->data, status);
}

static int tcp_write(end *e, chunk *c) {
  uv_buf_t buf = uv_buf_init((char *)c->data, (unsigned)c->len);

  c->req.tcp.data = c;
  return uv_write(&c->req.tcp, (uv_stream_t *)&e->h.tcp, &buf, 1, tcp_written);
}

static void tcp_shutdown_cb(uv_shutdown_t *req, int status) {
  on_shutdown(req->data, status);
}

static int tcp_shutdown(end *e) {
  e->sreq.tcp.data = e;
  return uv_shutdown(&e->sreq.tcp, (uv_stream_t *)&e->h.tcp, tcp_shutdown_cb);
}

static void tcp_closed(uv_handle_t *h) { on_closed(h->data); }

static void tcp_close(end *e) {
  uv_close((uv_handle_t *)&e->h.tcp, tcp_closed);
}

/* RST: SO_LINGER with a zero timeout, then close (what uv_tcp_close_reset
 * does, which libuv refuses after a shutdown). */
static void tcp_reset(end *e) {
  struct linger lg = {1, 0};
  uv_os_fd_t fd;

  if (uv_fileno((uv_handle_t *)&e->h.tcp, &fd) == 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  tcp_close(e);
}

static const end_ops tcp_ops = {tcp_read_start, tcp_read_stop, tcp_write,
                                tcp_shutdown,   tcp_close,     tcp_reset};

static void tcp_connected(uv_connect_t *req, int status) {
  on_connected(req->data, status);
}

/* ------------------------------------------------------- tunnel end */

static void tun_alloc(tcpu_uv_stream *s, size_t suggested, uv_buf_t *buf) {
  (void)s;
  (void)suggested;
  *buf = chunk_buf();
}

static void tun_read(tcpu_uv_stream *s, ssize_t nread, const uv_buf_t *buf) {
  on_read(s->data, buf != NULL && buf->base ? chunk_of(buf) : NULL, nread);
}

static int tun_read_start(end *e) {
  return tcpu_uv_read_start(&e->h.tun, tun_alloc, tun_read);
}

static void tun_read_stop(end *e) { tcpu_uv_read_stop(&e->h.tun); }

static void tun_written(tcpu_uv_write_req *req, int status) {
  on_written(req->data, status);
}

static int tun_write(end *e, chunk *c) {
  uv_buf_t buf = uv_buf_init((char *)c->data, (unsigned)c->len);

  c->req.tun.data = c;
  return tcpu_uv_write(&c->req.tun, &e->h.tun, &buf, 1, tun_written);
}

static void tun_shutdown_cb(tcpu_uv_shutdown_req *req, int status) {
  on_shutdown(req->data, status);
}

static int tun_shutdown(end *e) {
  e->sreq.tun.data = e;
  return tcpu_uv_shutdown(&e->sreq.tun, &e->h.tun, tun_shutdown_cb);
}

static void tun_closed(tcpu_uv_stream *s) { on_closed(s->data); }

static void tun_close(end *e) { tcpu_uv_close(&e->h.tun, tun_closed); }

static void tun_reset(end *e) {
  if (tcpu_uv_abort(&e->h.tun, tun_closed) != 0)
    tcpu_uv_close(&e->h.tun, tun_closed); /* never connected */
}

static const end_ops tun_ops = {tun_read_start, tun_read_stop, tun_write,
                                tun_shutdown,   tun_close,     tun_reset};

static void tun_connected(tcpu_uv_connect_req *req, int status) {
  on_connected(req->data, status);
}

/* Tunnel stream options: no Nagle (the kernel side already coalesces,
 * and interactive protocols must not wait for ACKs), TCP keepalive so a
 * vanished peer's connections end (TCPUD_KA_*). */
static void tun_options(tcpud *d, tcpu_uv_stream *s) {
  tcpu_uv_stream_set_nodelay(s, 1);
  tcpu_uv_stream_set_keepalive(s, 1, TCPUD_KA_IDLE_MS, TCPUD_KA_INTERVAL_MS,
                               TCPUD_KA_COUNT);
  if (d->cfg.cc[0] != '\0')
    tcpu_uv_stream_set_cc(s, d->cfg.cc);
}

/* ---------------------------------------------------------------- pipes */

const char *tcpud_pipe_kind_name(tcpud_pipe_kind k) {
  switch (k) {
  case TCPUD_PIPE_FORWARD:
    return "forward";
  case TCPUD_PIPE_SERVICE:
    return "service";
  case TCPUD_PIPE_REVERSE:
    return "reverse";
  }
  return "?";
}

static tcpud_pipe *pipe_new(tcpud *d, tcpud_pipe_kind kind) {
  tcpud_pipe *p = calloc(1, sizeof(*p));

  if (p == NULL)
    return NULL;
  p->d = d;
  p->kind = kind;
  p->started = tcpud_now();
  for (int i = 0; i < 2; i++) {
    p->e[i].p = p;
    p->e[i].ops = i == LOCAL ? &tcp_ops : &tun_ops;
  }
  p->e[LOCAL].h.tcp.data = &p->e[LOCAL];
  p->e[LOCAL].creq.tcp.data = &p->e[LOCAL];
  p->next = d->pipes;
  if (d->pipes)
    d->pipes->prev = p;
  d->pipes = p;
  d->n_pipes++;
  d->pipes_total++;
  return p;
}

/* The tunnel stream was initialized (tcpu_uv_stream_init resets data). */
static void tun_attach(end *e) {
  e->open = 1;
  e->h.tun.data = e;
  e->creq.tun.data = e;
}

static void pipe_free(tcpud_pipe *p) {
  tcpud *d = p->d;

  if (p->prev)
    p->prev->next = p->next;
  else
    d->pipes = p->next;
  if (p->next)
    p->next->prev = p->prev;
  d->n_pipes--;
  tcpud_log(LOG_DEBUG, "%s: closed (%llu bytes in, %llu bytes out)", p->what,
            (unsigned long long)p->bytes[LOCAL],
            (unsigned long long)p->bytes[TUN]);
  free(p);
  tcpud_check_drained(d);
}

static void on_closed(end *e) {
  tcpud_pipe *p = e->p;

  e->open = 0;
  if (!p->e[LOCAL].open && !p->e[TUN].open)
    pipe_free(p);
}

static void end_close(end *e, int reset) {
  if (!e->open || e->closing)
    return;
  e->closing = 1;
  if (reset)
    e->ops->reset(e);
  else
    e->ops->close(e);
}

/* Ends the pipe after an error: `failed` (may be NULL) is closed, the
 * other end reset, so the error travels on as an RST. */
static void pipe_fail(tcpud_pipe *p, int err, end *failed, const char *what) {
  if (p->closing)
    return;
  p->closing = 1;
  if (err != UV_ECANCELED) {
    p->d->pipes_failed++;
    tcpud_log(LOG_DEBUG, "%s: %s %s: %s; resetting the %s side", p->what,
              failed == NULL           ? "pipe"
              : failed == &p->e[LOCAL] ? "local"
                                       : "tunnel",
              what, tcpud_strerror(err),
              failed == &p->e[LOCAL] ? "tunnel" : "local");
  }
  for (int i = 0; i < 2; i++)
    end_close(&p->e[i], &p->e[i] != failed);
  if (!p->e[LOCAL].open && !p->e[TUN].open)
    pipe_free(p); /* nothing was opened: no close callback will come */
}

static void pipe_check_done(tcpud_pipe *p) {
  if (p->closing || !p->e[LOCAL].eof || !p->e[TUN].eof ||
      !p->e[LOCAL].shut_done || !p->e[TUN].shut_done)
    return;
  p->closing = 1;
  end_close(&p->e[LOCAL], 0);
  end_close(&p->e[TUN], 0);
}

static void end_shutdown(end *e) {
  int rv;

  if (e->shut || e->closing)
    return;
  e->shut = 1;
  rv = e->ops->shutdown(e);
  if (rv < 0)
    pipe_fail(e->p, rv, e, "shutdown");
}

static void end_read_start(end *e) {
  int rv = e->ops->read_start(e);

  e->paused = 0;
  if (rv < 0 && rv != UV_EALREADY)
    pipe_fail(e->p, rv, e, "read");
}

static void on_read_data(end *src, chunk *c, size_t n) {
  tcpud_pipe *p = src->p;
  end *dst = other(src);
  int rv;

  if (p->closing || p->draining || dst->shut) {
    chunk_put(c); /* draining: the other side has our FIN already */
    return;
  }
  p->bytes[src == &p->e[LOCAL] ? LOCAL : TUN] += n;
  c->len = n;
  c->dst = dst;
  rv = dst->ops->write(dst, c);
  if (rv < 0) {
    chunk_put(c);
    pipe_fail(p, rv, dst, "write");
    return;
  }
  dst->queued += n;
  if (dst->queued >= HIGH_WATER && !src->paused) {
    src->ops->read_stop(src);
    src->paused = 1;
  }
}

static void on_written(chunk *c, int status) {
  end *dst = c->dst;
  end *src = other(dst);
  tcpud_pipe *p = dst->p;

  dst->queued -= c->len;
  chunk_put(c);
  if (status < 0) {
    if (status != UV_ECANCELED)
      pipe_fail(p, status, dst, "write");
    return;
  }
  if (src->paused && dst->queued <= LOW_WATER && !p->closing && !src->eof)
    end_read_start(src);
}

static void on_eof(end *src) {
  tcpud_pipe *p = src->p;

  src->eof = 1;
  if (p->closing)
    return;
  end_shutdown(other(src));
  pipe_check_done(p);
}

static void on_shutdown(end *e, int status) {
  e->shut_done = 1;
  if (status < 0 && status != UV_ECANCELED) {
    pipe_fail(e->p, status, e, "shutdown");
    return;
  }
  pipe_check_done(e->p);
}

static void fill_addrs(tcpud_pipe *p) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  tcpu_addr a;

  if (uv_tcp_getsockname(&p->e[LOCAL].h.tcp, (struct sockaddr *)&ss, &len) ==
          0 &&
      tcpu_uv_addr_from_sockaddr(&a, (struct sockaddr *)&ss) == 0)
    tcpud_addr_format(&a, 1, p->local, sizeof(p->local));
  len = sizeof(ss);
  if (uv_tcp_getpeername(&p->e[LOCAL].h.tcp, (struct sockaddr *)&ss, &len) ==
          0 &&
      tcpu_uv_addr_from_sockaddr(&a, (struct sockaddr *)&ss) == 0)
    tcpud_addr_format(&a, 1, p->remote, sizeof(p->remote));
}

/* Both ends connected: start moving data. */
static void pipe_open(tcpud_pipe *p) {
  p->opened = 1;
  if (p->kind == TCPUD_PIPE_SERVICE)
    fill_addrs(p);
  tcpud_log(LOG_DEBUG, "%s: open", p->what);
  if (p->draining) {
    pipe_fail(p, UV_ECANCELED, NULL, "drain");
    return;
  }
  end_read_start(&p->e[LOCAL]);
  if (!p->closing)
    end_read_start(&p->e[TUN]);
}

static void on_connected(end *e, int status) {
  tcpud_pipe *p = e->p;

  if (status < 0) {
    if (status == UV_ECANCELED)
      return; /* closed meanwhile */
    if (p->kind == TCPUD_PIPE_SERVICE)
      tcpud_log_limited(&p->d->rl_target, tcpud_now(), LOG_WARNING,
                        "%s: connecting to the target failed: %s; resetting "
                        "the tunnel connection",
                        p->what, tcpud_strerror(status));
    else
      tcpud_log(LOG_INFO,
                "%s: tunnel connection to service %u failed: %s; "
                "resetting the client",
                p->what, p->service, tcpud_strerror(status));
    pipe_fail(p, status, e, "connect");
    return;
  }
  if (!p->closing)
    pipe_open(p);
}

/* ------------------------------------------------------------- refusing */

static void refused_tcp_closed(uv_handle_t *h) { free(h); }

/* Accepts the waiting connection only to reset it (libuv stops accepting
 * until the waiting one is taken). */
static void refuse_tcp(tcpud *d, uv_stream_t *server) {
  uv_tcp_t *t = malloc(sizeof(*t));
  struct linger lg = {1, 0};
  uv_os_fd_t fd;

  if (t == NULL)
    return;
  uv_tcp_init(d->loop, t);
  if (uv_accept(server, (uv_stream_t *)t) == 0 &&
      uv_fileno((uv_handle_t *)t, &fd) == 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  uv_close((uv_handle_t *)t, refused_tcp_closed);
}

static void refused_tun_closed(tcpu_uv_stream *s) { free(s); }

static void refuse_tun(tcpud *d, tcpu_uv_stream *server) {
  tcpu_uv_stream *s = malloc(sizeof(*s));

  if (s == NULL)
    return;
  if (tcpu_uv_stream_init(&d->tun, s) != 0) {
    free(s);
    return;
  }
  if (tcpu_uv_accept(server, s) != 0 ||
      tcpu_uv_abort(s, refused_tun_closed) != 0)
    tcpu_uv_close(s, refused_tun_closed);
}

static int at_limit(tcpud *d, const char *what) {
  if (d->draining || d->closing)
    return 1;
  if (d->n_pipes < d->cfg.max_connections)
    return 0;
  d->limit_refused++;
  tcpud_log_limited(&d->rl_limit, tcpud_now(), LOG_WARNING,
                    "connection limit reached (MaxConnections = %u): "
                    "refusing a connection on %s",
                    d->cfg.max_connections, what);
  return 1;
}

/* ----------------------------------------- local client -> tunnel */

/* Accepts a kernel connection on server and connects a tunnel stream to
 * the peer at `peer_addr`, port `service`. */
static tcpud_pipe *pipe_from_local(tcpud *d, uv_stream_t *server,
                                   tcpud_pipe_kind kind, const char *peer,
                                   const tcpu_addr *peer_addr, uint16_t service,
                                   const char *what) {
  tcpud_pipe *p;
  end *l, *t;
  int rv;

  if (at_limit(d, what) || (p = pipe_new(d, kind)) == NULL) {
    refuse_tcp(d, server);
    return NULL;
  }
  l = &p->e[LOCAL];
  t = &p->e[TUN];
  snprintf(p->peer, sizeof(p->peer), "%s", peer);
  p->service = service;
  uv_tcp_init(d->loop, &l->h.tcp);
  l->open = 1;
  rv = uv_accept(server, (uv_stream_t *)&l->h.tcp);
  if (rv != 0) {
    pipe_fail(p, rv, l, "accept");
    return NULL;
  }
  uv_tcp_nodelay(&l->h.tcp, 1);
  fill_addrs(p);
  snprintf(p->what, sizeof(p->what), "%s from %s", what, p->remote);

  rv = tcpu_uv_stream_init(&d->tun, &t->h.tun);
  if (rv != 0) {
    pipe_fail(p, rv, t, "tunnel");
    return NULL;
  }
  tun_attach(t);
  tun_options(d, &t->h.tun);
  rv = tcpud_tunnel_connect(d, &t->creq.tun, &t->h.tun, peer_addr, service,
                            TCPUD_TUNNEL_CONNECT_TIMEOUT_MS, tun_connected);
  if (rv != 0) {
    tcpud_log(LOG_WARNING, "%s: cannot open a tunnel connection: %s", p->what,
              tcpud_strerror(rv));
    pipe_fail(p, rv, t, "connect");
    return NULL;
  }
  return p;
}

static void on_forward_conn(uv_stream_t *server, int status) {
  tcpud_forward *fwd = server->data;
  tcpud *d = fwd->d;
  tcpud_peer *peer;
  tcpu_addr addr;
  char what[TCPUD_HOST_MAX + 96];

  snprintf(what, sizeof(what), "-L %s:%u (peer %s, service %u)",
           fwd->listen.host, fwd->listen.port, fwd->peer, fwd->service);
  if (status < 0) {
    tcpud_log(LOG_WARNING, "%s: accept failed: %s", what,
              tcpud_strerror(status));
    return;
  }
  peer = tcpud_peer_find(d, fwd->peer);
  if (peer == NULL || tcpud_peer_conn_addr(peer, &addr) != 0) {
    tcpud_log(LOG_WARNING, "%s: peer %s has no address; refusing", what,
              fwd->peer);
    fwd->refused++;
    refuse_tcp(d, server);
    return;
  }
  if (pipe_from_local(d, server, TCPUD_PIPE_FORWARD, peer->name, &addr,
                      fwd->service, what) != NULL)
    fwd->accepted++;
  else
    fwd->refused++;
}

void tcpud_pipe_from_grant(tcpud_grant *g, uv_stream_t *server) {
  tcpud_session *s = g->s;
  char what[TCPUD_NAME_MAX + TCPUD_ADDRSTRLEN + 64], bind[TCPUD_ADDRSTRLEN];

  snprintf(what, sizeof(what), "-R %s for peer %s (its service %u)",
           tcpud_addr_format(&g->bind, 1, bind, sizeof(bind)), s->peer,
           g->service);
  if (pipe_from_local(s->d, server, TCPUD_PIPE_REVERSE, s->peer, &s->addr,
                      g->service, what) != NULL)
    g->accepted++;
  else
    g->refused++;
}

/* ---------------------------------------------- tunnel -> target */

static const tcpud_service_conf *service_conf(tcpud *d, uint16_t port) {
  for (size_t i = 0; i < d->cfg.n_services; i++)
    if (d->cfg.services[i].port == port)
      return &d->cfg.services[i];
  return NULL;
}

static void on_service_conn(tcpu_uv_stream *server, int status) {
  tcpud_service *svc = server->data;
  tcpud *d = svc->d;
  const tcpud_service_conf *conf = service_conf(d, svc->port);
  tcpud_pipe *p;
  tcpud_peer *peer;
  tcpu_conn_info ci;
  char what[TCPUD_NAME_MAX + 64], from[TCPUD_ADDRSTRLEN];
  end *l, *t;
  int rv;

  snprintf(what, sizeof(what), "service %s (port %u)", svc->name, svc->port);
  if (status < 0) {
    tcpud_log(LOG_WARNING, "%s: accept failed: %s", what,
              tcpud_strerror(status));
    return;
  }
  if (conf == NULL || at_limit(d, what) ||
      (p = pipe_new(d, TCPUD_PIPE_SERVICE)) == NULL) {
    svc->refused++;
    refuse_tun(d, server);
    return;
  }
  l = &p->e[LOCAL];
  t = &p->e[TUN];
  p->service = svc->port;
  rv = tcpu_uv_stream_init(&d->tun, &t->h.tun);
  if (rv == 0) {
    tun_attach(t);
    rv = tcpu_uv_accept(server, &t->h.tun);
  }
  if (rv != 0) {
    svc->refused++;
    pipe_fail(p, rv, t, "accept");
    return;
  }
  memset(&ci, 0, sizeof(ci));
  rv = tcpu_uv_stream_get_info(&t->h.tun, &ci);
  peer = rv == 0 ? tcpud_peer_match(d, &ci.peer) : NULL;
  if (rv != 0)
    snprintf(from, sizeof(from), "?");
  else if (ci.peer.family == TCPU_AF_PEER)
    tcpud_conn_addr_format(d, &ci.peer, from, sizeof(from));
  else
    tcpud_addr_format(&ci.peer, 1, from, sizeof(from));
  snprintf(p->peer, sizeof(p->peer), "%s", peer ? peer->name : "");
  if (ci.peer.family == TCPU_AF_PEER) /* "NAME@ENDPOINT" already */
    snprintf(p->what, sizeof(p->what), "%s from peer %s", what, from);
  else
    snprintf(p->what, sizeof(p->what), "%s from %s%s%s%s", what,
             peer ? "peer " : "", peer ? peer->name : "", peer ? " at " : "",
             from);
  if (rv != 0 || !tcpud_service_admits(conf, peer ? peer->name : NULL)) {
    d->peer_denied++;
    svc->refused++;
    tcpud_log_limited(&d->rl_denied, tcpud_now(), LOG_WARNING,
                      "%s: not allowed by Peers; resetting", p->what);
    pipe_fail(p, UV_ECANCELED, NULL, "denied");
    return;
  }
  svc->accepted++;
  tun_options(d, &t->h.tun);

  uv_tcp_init(d->loop, &l->h.tcp);
  l->open = 1;
  uv_tcp_nodelay(&l->h.tcp, 1);
  rv = uv_tcp_connect(&l->creq.tcp, &l->h.tcp,
                      (const struct sockaddr *)&svc->target, tcp_connected);
  if (rv != 0) {
    tcpud_log(LOG_WARNING, "%s: cannot connect to the target: %s", p->what,
              tcpud_strerror(rv));
    pipe_fail(p, rv, l, "connect");
  }
}

/* ------------------------------------------------------- listeners */

int tcpud_service_open(tcpud *d, tcpud_service *svc) {
  int rv;

  svc->d = d;
  rv = tcpu_uv_stream_init(&d->tun, &svc->listener);
  if (rv != 0)
    return rv;
  svc->listener.data = svc;
  svc->listening = 1;
  rv = tcpu_uv_listen(&svc->listener, svc->port, LISTEN_BACKLOG,
                      on_service_conn);
  if (rv != 0) {
    tcpud_log(LOG_ERR, "service %s: cannot listen on tunnel port %u: %s",
              svc->name, svc->port, tcpud_strerror(rv));
    return rv;
  }
  return 0;
}

static void service_closed(tcpu_uv_stream *s) { free(s->data); }

void tcpud_service_close(tcpud_service *svc) {
  if (svc->closing)
    return;
  svc->closing = 1;
  if (svc->listening)
    tcpu_uv_close(&svc->listener, service_closed);
  else
    free(svc);
}

int tcpud_forward_open(tcpud *d, tcpud_forward *fwd) {
  struct sockaddr_storage ss;
  tcpu_addr a;
  int rv;

  fwd->d = d;
  if (tcpud_ip_parse(&a, fwd->listen.host) != 0)
    return UV_EINVAL;
  a.port = fwd->listen.port;
  tcpu_uv_addr_to_sockaddr(&ss, NULL, &a);
  uv_tcp_init(d->loop, &fwd->listener);
  fwd->listener.data = fwd;
  fwd->listening = 1;
  rv = uv_tcp_bind(&fwd->listener, (struct sockaddr *)&ss, 0);
  if (rv == 0)
    rv = uv_listen((uv_stream_t *)&fwd->listener, LISTEN_BACKLOG,
                   on_forward_conn);
  if (rv != 0)
    tcpud_log(LOG_ERR, "-L %s:%u: cannot listen: %s", fwd->listen.host,
              fwd->listen.port, tcpud_strerror(rv));
  return rv;
}

static void forward_closed(uv_handle_t *h) { free(h->data); }

void tcpud_forward_close(tcpud_forward *fwd) {
  if (fwd->closing)
    return;
  fwd->closing = 1;
  if (fwd->listening)
    uv_close((uv_handle_t *)&fwd->listener, forward_closed);
  else
    free(fwd);
}

/* ---------------------------------------------------- drain, show */

void tcpud_pipes_drain(tcpud *d) {
  for (tcpud_pipe *p = d->pipes, *next; p != NULL; p = next) {
    next = p->next;
    if (p->closing)
      continue;
    p->draining = 1;
    if (!p->opened) {
      pipe_fail(p, UV_ECANCELED, NULL, "drain");
      continue;
    }
    for (int i = 0; i < 2 && !p->closing; i++) {
      end *e = &p->e[i];
      end_shutdown(e);
      if (!p->closing && !e->eof && e->paused)
        end_read_start(e); /* to see its EOF; the data is discarded */
    }
    pipe_check_done(p);
  }
}

void tcpud_pipes_reset(tcpud *d) {
  for (tcpud_pipe *p = d->pipes, *next; p != NULL; p = next) {
    next = p->next;
    pipe_fail(p, UV_ECANCELED, NULL, "stop");
  }
}

void tcpud_pipes_foreach(tcpud *d,
                         void (*fn)(const tcpud_pipe_info *pi, void *arg),
                         void *arg) {
  uint64_t now = tcpud_now();

  for (tcpud_pipe *p = d->pipes; p != NULL; p = p->next) {
    tcpud_pipe_info pi;

    memset(&pi, 0, sizeof(pi));
    pi.kind = p->kind;
    pi.peer = p->peer;
    pi.service = p->service;
    memcpy(pi.local, p->local, sizeof(pi.local));
    memcpy(pi.remote, p->remote, sizeof(pi.remote));
    pi.state = p->closing                         ? "closing"
               : p->draining                      ? "draining"
               : !p->opened                       ? "connecting"
               : p->e[LOCAL].eof || p->e[TUN].eof ? "half-closed"
                                                  : "open";
    pi.bytes_in = p->bytes[LOCAL];
    pi.bytes_out = p->bytes[TUN];
    pi.age_ns = now - p->started;
    pi.has_tunnel = p->e[TUN].open && !p->e[TUN].closing &&
                    tcpu_uv_stream_get_info(&p->e[TUN].h.tun, &pi.tunnel) == 0;
    if (pi.has_tunnel)
      pi.conn = tcpu_uv_stream_get_conn(&p->e[TUN].h.tun);
    fn(&pi, arg);
  }
}
