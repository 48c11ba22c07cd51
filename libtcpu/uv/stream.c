/*
 * stream.c — the uv-style stream API of tcpu_uv.h on the core's
 * connections.
 *
 * A stream holds one core connection (or listener) whose user_data points
 * back at it.  The core's callbacks (tcpu_uv__stream_callbacks) run inside
 * core calls, so they only record what happened (stream->events) and queue
 * the stream for the dispatcher.  The dispatcher (tcpu_uv__streams_dispatch)
 * runs at the end of every batch of loop-originated work (internal.h),
 * outside any core call, and is the only place the application's
 * callbacks run.  The application's own calls act on the core at once and
 * queue whatever callback they owe (a write request completed, a close)
 * for the dispatcher too, which is how no callback ever runs inside the
 * call that caused it.
 *
 * Processing a stream is level-triggered where it is cheap (connect
 * completion, failure, shutdown completion are read off the connection's
 * state) and event-triggered where it is not (reading: READABLE; moving
 * queued writes into the core: WRITABLE, after the core said AGAIN).
 *
 * A stream lets go of its connection (user_data set to NULL) before it
 * closes, so the core never calls back into a stream the application may
 * have freed; connections the application has not accepted yet carry the
 * listener's user_data and are ignored (stream_of).
 *
 * Connect deadlines and deferred work share one timer per endpoint.
 */
#include <stdlib.h>
#include <string.h>

#include "uv/internal.h"

#define READ_SUGGESTED_SIZE 65536

/* stream->flags */
enum {
  S_LISTENER = 1u << 0,   /* tcpu_uv_listen succeeded */
  S_CONNECTION = 1u << 1, /* connecting, connected or accepted */
  S_CONNECTING = 1u << 2, /* connect_req waits for the handshake */
  S_DEADLINE = 1u << 3,   /* on the connecting list */
  S_READING = 1u << 4,
  S_SHUT = 1u << 5,       /* tcpu_uv_shutdown called: no more writes */
  S_FIN_QUEUED = 1u << 6, /* tcpu_conn_shutdown done */
  S_FIN_ACKED = 1u << 7,  /* the peer acknowledged our FIN */
  S_CLOSING = 1u << 8,    /* tcpu_uv_close or tcpu_uv_abort called */
  S_CLOSED = 1u << 9,     /* closed: close_cb ran or runs now */
  S_PENDING = 1u << 10,   /* on the dispatcher's queue */
  S_READ_RETRY = 1u << 11 /* alloc_cb gave no buffer: try next iteration */
};

/* stream->events: what the core reported since the last dispatch. */
enum {
  E_ACCEPT = 1u << 0,
  E_CONNECTED = 1u << 1,
  E_READABLE = 1u << 2,
  E_WRITABLE = 1u << 3,
  E_CLOSED = 1u << 4
};

/* stream->opt.set */
enum {
  O_NODELAY = 1u << 0,
  O_KEEPALIVE = 1u << 1,
  O_KEEPIDLE = 1u << 2,
  O_KEEPINTVL = 1u << 3,
  O_KEEPCNT = 1u << 4,
  O_USER_TIMEOUT = 1u << 5,
  O_SNDBUF = 1u << 6,
  O_RCVBUF = 1u << 7,
  O_CC = 1u << 8
};

static void on_stream_timer(uv_timer_t *timer);

/* ------------------------------------------------------------ helpers */

static int fresh(const tcpu_uv_stream *s) {
  return (s->flags & (S_LISTENER | S_CONNECTION | S_CLOSING | S_CLOSED)) ==
             0 &&
         s->impl != NULL && !s->impl->closing;
}

static int closing(const tcpu_uv_stream *s) {
  return (s->flags & (S_CLOSING | S_CLOSED)) != 0;
}

/* Queues s for the dispatcher with events ev. */
static void pend(tcpu_uv_stream *s, unsigned ev) {
  tcpu_uv_streams *st = &s->impl->streams;

  if (s->flags & S_CLOSED)
    return; /* finished: its last callbacks are running */
  s->events |= ev;
  if (s->flags & S_PENDING)
    return;
  s->flags |= S_PENDING;
  s->pending_next = NULL;
  if (st->pending_tail != NULL)
    st->pending_tail->pending_next = s;
  else
    st->pending_head = s;
  st->pending_tail = s;
}

/* After a call that queued work but changed nothing in the core. */
static void kick(tcpu_uv_endpoint_impl *impl) {
  if (impl->batch == 0 && !impl->closing && impl->streams.pending_head)
    tcpu_uv__streams_defer(impl);
}

static void link_connecting(tcpu_uv_stream *s) {
  tcpu_uv_streams *st = &s->impl->streams;

  s->cn_prev = NULL;
  s->cn_next = st->connecting;
  if (st->connecting != NULL)
    st->connecting->cn_prev = s;
  st->connecting = s;
  s->flags |= S_DEADLINE;
}

static void unlink_connecting(tcpu_uv_stream *s) {
  if (!(s->flags & S_DEADLINE))
    return;
  if (s->cn_prev != NULL)
    s->cn_prev->cn_next = s->cn_next;
  else
    s->impl->streams.connecting = s->cn_next;
  if (s->cn_next != NULL)
    s->cn_next->cn_prev = s->cn_prev;
  s->cn_prev = s->cn_next = NULL;
  s->flags &= ~(unsigned)S_DEADLINE;
}

/* The error that ended the connection as a UV_E* code, 0 while it lives
 * (or after an orderly close). */
static int stream_failure(const tcpu_uv_stream *s) {
  if (s->err != 0)
    return s->err;
  if (s->conn != NULL && tcpu_conn_state(s->conn) == TCPU_CLOSED &&
      tcpu_conn_error(s->conn) != 0)
    return tcpu_uv_translate_error(tcpu_conn_error(s->conn));
  return 0;
}

static size_t req_remaining(const tcpu_uv_write_req *req) {
  size_t n = 0;

  for (unsigned int i = req->buf_index; i < req->nbufs; i++)
    n += req->bufs[i].len;
  return n - req->buf_off;
}

static void req_free_bufs(tcpu_uv_write_req *req) {
  if (req->bufs != req->bufsml)
    free(req->bufs);
  req->bufs = NULL;
  req->nbufs = req->buf_index = 0;
  req->buf_off = 0;
}

/* Moves the head of the write queue to the done list with status. */
static void finish_head_write(tcpu_uv_stream *s, int status) {
  tcpu_uv_write_req *req = s->wq_head;

  s->write_queue_size -= req_remaining(req);
  s->wq_head = req->next;
  if (s->wq_head == NULL)
    s->wq_tail = NULL;
  req_free_bufs(req);
  req->status = status;
  req->next = NULL;
  if (s->done_tail != NULL)
    s->done_tail->next = req;
  else
    s->done_head = req;
  s->done_tail = req;
  pend(s, 0);
}

static void fail_writes(tcpu_uv_stream *s, int status) {
  while (s->wq_head != NULL)
    finish_head_write(s, status);
}

/* The FIN goes into the core once every queued write is in. */
static void maybe_send_fin(tcpu_uv_stream *s) {
  if ((s->flags & (S_SHUT | S_FIN_QUEUED)) != S_SHUT || s->wq_head != NULL ||
      s->conn == NULL)
    return;
  s->flags |= S_FIN_QUEUED;
  /* An error here means the connection is gone: process() reports it. */
  (void)tcpu_conn_shutdown(s->conn, tcpu_uv__now());
}

/* Moves queued write requests into the core's send buffer, in order, as
 * far as it takes them. */
static void pump_writes(tcpu_uv_stream *s) {
  tcpu_uv_write_req *req;

  while (s->conn != NULL && (req = s->wq_head) != NULL) {
    while (req->buf_index < req->nbufs) {
      const uv_buf_t *b = &req->bufs[req->buf_index];
      size_t left = b->len - req->buf_off;
      tcpu_ssize n;

      if (left == 0) {
        req->buf_index++;
        req->buf_off = 0;
        continue;
      }
      n = tcpu_conn_write(s->conn, (const uint8_t *)b->base + req->buf_off,
                          left, tcpu_uv__now());
      if (n == TCPU_ERR_AGAIN)
        return; /* the core's writable event follows */
      if (n < 0) {
        fail_writes(s, tcpu_uv_translate_error((int)n));
        return;
      }
      req->buf_off += (size_t)n;
      s->write_queue_size -= (size_t)n;
    }
    finish_head_write(s, 0);
  }
  maybe_send_fin(s);
}

/* Drops the stream's hold on its core connections.  abort: RST instead of
 * the orderly close. */
static void release_conn(tcpu_uv_stream *s, int abort) {
  tcpu_tstamp now = tcpu_uv__now();

  unlink_connecting(s);
  if (s->accepted != NULL) {
    tcpu_conn *c = s->accepted;
    s->accepted = NULL;
    tcpu_conn_set_user_data(c, NULL);
    tcpu_conn_abort(c, now);
  }
  if (s->conn != NULL) {
    tcpu_conn *c = s->conn;
    s->conn = NULL;
    tcpu_conn_set_user_data(c, NULL);
    if (abort)
      tcpu_conn_abort(c, now);
    else
      tcpu_conn_close(c, now);
  }
}

/* ------------------------------------------------------ core callbacks */

/* The stream a core callback is about, NULL when it is about no stream's
 * connection (a listener's child not yet accepted, a released one). */
static tcpu_uv_stream *stream_of(tcpu_conn *c, void *ud) {
  void *impl = tcpu_endpoint_get_user_data(tcpu_conn_endpoint(c));
  tcpu_uv_stream *s = ud;

  if (ud == NULL || ud == impl || s->conn != c)
    return NULL;
  return s;
}

static int core_accept(tcpu_conn *l, void *ud) {
  tcpu_uv_stream *s = stream_of(l, ud);
  if (s != NULL)
    pend(s, E_ACCEPT);
  return 0;
}

static int core_connected(tcpu_conn *c, void *ud) {
  tcpu_uv_stream *s = stream_of(c, ud);
  if (s != NULL)
    pend(s, E_CONNECTED);
  return 0;
}

static int core_readable(tcpu_conn *c, void *ud) {
  tcpu_uv_stream *s = stream_of(c, ud);
  if (s != NULL)
    pend(s, E_READABLE);
  return 0;
}

static int core_writable(tcpu_conn *c, void *ud) {
  tcpu_uv_stream *s = stream_of(c, ud);
  if (s != NULL)
    pend(s, E_WRITABLE);
  return 0;
}

/* Only observes: the core forbids calls from state_changed. */
static int core_state_changed(tcpu_conn *c, tcpu_state from, tcpu_state to,
                              void *ud) {
  tcpu_uv_stream *s = stream_of(c, ud);

  if (s == NULL)
    return 0;
  /* Our FIN is acknowledged (RFC 9293 §3.10.7.4, the ACK of the FIN). */
  if ((from == TCPU_FIN_WAIT_1 &&
       (to == TCPU_FIN_WAIT_2 || to == TCPU_TIME_WAIT)) ||
      (from == TCPU_CLOSING && to == TCPU_TIME_WAIT) ||
      (from == TCPU_LAST_ACK && to == TCPU_CLOSED && tcpu_conn_error(c) == 0)) {
    s->flags |= S_FIN_ACKED;
    pend(s, 0);
  }
  return 0;
}

static int core_closed(tcpu_conn *c, int err, void *ud) {
  tcpu_uv_stream *s = stream_of(c, ud);

  (void)err; /* read back from the connection (stream_failure) */
  if (s != NULL)
    pend(s, E_CLOSED);
  return 0;
}

const tcpu_callbacks tcpu_uv__stream_callbacks = {
    .accept = core_accept,
    .connected = core_connected,
    .readable = core_readable,
    .writable = core_writable,
    .state_changed = core_state_changed,
    .closed = core_closed};

/* ------------------------------------------------------------ options */

/* Applies the options kept on a fresh stream to its new connection. */
static int apply_opts(tcpu_uv_stream *s, int accepted) {
  tcpu_conn *c = s->conn;
  unsigned set = s->opt.set;
  int rv = 0;

  if (set & O_NODELAY)
    rv = tcpu_conn_setopt(c, TCPU_OPT_NODELAY, s->opt.nodelay);
  if (rv == 0 && (set & O_KEEPIDLE))
    rv = tcpu_conn_setopt(c, TCPU_OPT_KEEPIDLE, s->opt.keepidle);
  if (rv == 0 && (set & O_KEEPINTVL))
    rv = tcpu_conn_setopt(c, TCPU_OPT_KEEPINTVL, s->opt.keepintvl);
  if (rv == 0 && (set & O_KEEPCNT))
    rv = tcpu_conn_setopt(c, TCPU_OPT_KEEPCNT, s->opt.keepcnt);
  if (rv == 0 && (set & O_KEEPALIVE))
    rv = tcpu_conn_setopt(c, TCPU_OPT_KEEPALIVE, s->opt.keepalive);
  if (rv == 0 && (set & O_USER_TIMEOUT))
    rv = tcpu_conn_setopt(c, TCPU_OPT_USER_TIMEOUT, s->opt.user_timeout);
  if (rv == 0 && (set & O_SNDBUF))
    rv = tcpu_conn_setopt(c, TCPU_OPT_SNDBUF, s->opt.sndbuf);
  /* An accepted connection's window scale is fixed: the listener's. */
  if (rv == 0 && (set & O_RCVBUF) && !accepted)
    rv = tcpu_conn_setopt(c, TCPU_OPT_RCVBUF, s->opt.rcvbuf);
  if (rv == 0 && (set & O_CC))
    rv = tcpu_conn_set_cc(c, s->opt.cc, tcpu_uv__now());
  return tcpu_uv_translate_error(rv);
}

/* Where an option goes: *pc the connection, or NULL to keep it on a fresh
 * stream. */
static int opt_target(tcpu_uv_stream *s, tcpu_conn **pc) {
  if (s == NULL || closing(s))
    return UV_EINVAL;
  *pc = s->conn;
  if (s->conn == NULL && (s->flags & (S_LISTENER | S_CONNECTION)))
    return UV_ENOTCONN; /* the connection is gone */
  return 0;
}

/* Sets one core option now, or keeps it for later. */
static int set_opt(tcpu_uv_stream *s, unsigned bit, tcpu_conn_opt opt,
                   uint64_t value) {
  tcpu_conn *c;
  int rv = opt_target(s, &c);

  if (rv != 0)
    return rv;
  if (c != NULL) {
    rv = tcpu_uv_translate_error(tcpu_conn_setopt(c, opt, value));
    tcpu_uv__ep_flush(s->impl);
    return rv;
  }
  switch (bit) {
  case O_NODELAY: s->opt.nodelay = value != 0; break;
  case O_KEEPALIVE: s->opt.keepalive = value != 0; break;
  case O_KEEPIDLE: s->opt.keepidle = value; break;
  case O_KEEPINTVL: s->opt.keepintvl = value; break;
  case O_KEEPCNT: s->opt.keepcnt = (uint32_t)value; break;
  case O_USER_TIMEOUT: s->opt.user_timeout = value; break;
  case O_SNDBUF: s->opt.sndbuf = (uint32_t)value; break;
  case O_RCVBUF: s->opt.rcvbuf = (uint32_t)value; break;
  default: return UV_EINVAL;
  }
  s->opt.set |= bit;
  return 0;
}

/* Milliseconds to the core's nanoseconds; 0 when it would overflow. */
static uint64_t ms_to_ns(uint64_t ms) {
  return ms > UINT64_MAX / TCPU_NS_PER_MS ? 0 : ms * TCPU_NS_PER_MS;
}

int tcpu_uv_stream_set_nodelay(tcpu_uv_stream *s, int enable) {
  return set_opt(s, O_NODELAY, TCPU_OPT_NODELAY, enable != 0);
}

int tcpu_uv_stream_set_keepalive(tcpu_uv_stream *s, int enable,
                                 uint64_t idle_ms, uint64_t interval_ms,
                                 unsigned int count) {
  int rv = 0;

  if (count > 255 || (idle_ms != 0 && ms_to_ns(idle_ms) == 0) ||
      (interval_ms != 0 && ms_to_ns(interval_ms) == 0))
    return UV_EINVAL;
  if (idle_ms != 0)
    rv = set_opt(s, O_KEEPIDLE, TCPU_OPT_KEEPIDLE, ms_to_ns(idle_ms));
  if (rv == 0 && interval_ms != 0)
    rv = set_opt(s, O_KEEPINTVL, TCPU_OPT_KEEPINTVL, ms_to_ns(interval_ms));
  if (rv == 0 && count != 0)
    rv = set_opt(s, O_KEEPCNT, TCPU_OPT_KEEPCNT, count);
  if (rv == 0)
    rv = set_opt(s, O_KEEPALIVE, TCPU_OPT_KEEPALIVE, enable != 0);
  return rv;
}

int tcpu_uv_stream_set_user_timeout(tcpu_uv_stream *s, uint64_t timeout_ms) {
  if (timeout_ms != 0 && ms_to_ns(timeout_ms) == 0)
    return UV_EINVAL;
  return set_opt(s, O_USER_TIMEOUT, TCPU_OPT_USER_TIMEOUT,
                 ms_to_ns(timeout_ms));
}

int tcpu_uv_stream_set_sndbuf(tcpu_uv_stream *s, uint32_t bytes) {
  if (bytes < 1 || bytes > (1u << 30))
    return UV_EINVAL;
  return set_opt(s, O_SNDBUF, TCPU_OPT_SNDBUF, bytes);
}

int tcpu_uv_stream_set_rcvbuf(tcpu_uv_stream *s, uint32_t bytes) {
  if (bytes < 1 || bytes > (1u << 30))
    return UV_EINVAL;
  return set_opt(s, O_RCVBUF, TCPU_OPT_RCVBUF, bytes);
}

int tcpu_uv_stream_set_cc(tcpu_uv_stream *s, const char *name) {
  tcpu_conn *c;
  int rv = opt_target(s, &c);

  if (rv != 0)
    return rv;
  if (name == NULL || strlen(name) >= sizeof(s->opt.cc) ||
      tcpu_cc_find(s->impl->ep, name) == NULL)
    return UV_EINVAL;
  if (c != NULL) {
    rv = tcpu_uv_translate_error(tcpu_conn_set_cc(c, name, tcpu_uv__now()));
    tcpu_uv__ep_flush(s->impl);
    return rv;
  }
  strcpy(s->opt.cc, name);
  s->opt.set |= O_CC;
  return 0;
}

/* -------------------------------------------------------------- state */

int tcpu_uv_stream_get_info(const tcpu_uv_stream *s, tcpu_conn_info *info) {
  if (s == NULL || info == NULL)
    return UV_EINVAL;
  if (s->conn == NULL || closing(s))
    return UV_ENOTCONN;
  tcpu_conn_get_info(s->conn, info);
  return 0;
}

size_t tcpu_uv_stream_get_write_queue_size(const tcpu_uv_stream *s) {
  return s == NULL ? 0 : s->write_queue_size;
}

const tcpu_conn *tcpu_uv_stream_get_conn(const tcpu_uv_stream *s) {
  return s == NULL || closing(s) ? NULL : s->conn;
}

/* --------------------------------------------------------- dispatcher */

/* Delivers finished write requests.  Returns 0 when the stream started
 * closing meanwhile (unless all: its close delivers the rest). */
static int deliver_writes(tcpu_uv_stream *s, int all) {
  tcpu_uv_write_req *req;

  while ((req = s->done_head) != NULL) {
    s->done_head = req->next;
    if (s->done_head == NULL)
      s->done_tail = NULL;
    req->next = NULL;
    if (req->cb != NULL)
      req->cb(req, req->status);
    if (!all && closing(s))
      return 0;
  }
  return 1;
}

static void complete_connect(tcpu_uv_stream *s, int status) {
  tcpu_uv_connect_req *req = s->connect_req;

  unlink_connecting(s);
  s->flags &= ~(unsigned)S_CONNECTING;
  s->connect_req = NULL;
  if (req != NULL && req->cb != NULL)
    req->cb(req, status);
}

static void complete_shutdown(tcpu_uv_stream *s, int status) {
  tcpu_uv_shutdown_req *req = s->shutdown_req;

  s->shutdown_req = NULL;
  if (req != NULL && req->cb != NULL)
    req->cb(req, status);
}

/* End of reading: EOF (n == 0) or an error. */
static void end_read(tcpu_uv_stream *s, tcpu_ssize n, const uv_buf_t *buf) {
  s->flags &= ~(unsigned)S_READING;
  s->read_cb(s, n == 0 ? UV_EOF : tcpu_uv_translate_error((int)n), buf);
}

static int still_reading(const tcpu_uv_stream *s) {
  return (s->flags & (S_READING | S_CLOSING | S_CLOSED)) == S_READING;
}

/* Reads until the core's receive queue is empty, then reports the end of
 * the stream or its error if that is what is left. */
static void do_read(tcpu_uv_stream *s) {
  while (still_reading(s)) {
    uv_buf_t buf = uv_buf_init(NULL, 0);
    tcpu_ssize n;

    if (s->conn == NULL) {
      if (s->err != 0)
        end_read(s, s->err, &buf);
      return;
    }
    s->alloc_cb(s, READ_SUGGESTED_SIZE, &buf);
    if (!still_reading(s) || s->conn == NULL)
      return;
    if (buf.base == NULL || buf.len == 0) {
      s->read_cb(s, UV_ENOBUFS, &buf);
      if (still_reading(s) && !(s->flags & S_READ_RETRY)) {
        s->flags |= S_READ_RETRY;
        s->impl->streams.read_retries++;
      }
      return;
    }
    n = tcpu_conn_read(s->conn, (uint8_t *)buf.base, buf.len, tcpu_uv__now());
    if (n > 0) {
      s->read_cb(s, n, &buf);
      if ((size_t)n == buf.len)
        continue;
      /* A short read emptied the receive queue: a zero-length read tells
       * whether the end of the stream or an error is all that is left. */
      if (!still_reading(s) || s->conn == NULL)
        return;
      n = tcpu_conn_read(s->conn, NULL, 0, tcpu_uv__now());
      if (n == TCPU_ERR_AGAIN)
        return;
      buf = uv_buf_init(NULL, 0);
      end_read(s, n, &buf);
      return;
    }
    if (n == TCPU_ERR_AGAIN) {
      s->read_cb(s, 0, &buf); /* nothing after all: hand the buffer back */
      return;
    }
    end_read(s, n, &buf);
    return;
  }
}

/* Announces established connections, one connection_cb each, until the
 * application leaves one unaccepted. */
static void deliver_accepts(tcpu_uv_stream *server) {
  while (!closing(server) && server->accepted == NULL &&
         server->conn != NULL) {
    tcpu_conn *c;
    int rv = tcpu_accept(server->conn, &c);

    if (rv == TCPU_ERR_AGAIN)
      return;
    if (rv < 0) {
      server->connection_cb(server, tcpu_uv_translate_error(rv));
      return;
    }
    server->accepted = c; /* its user_data is still the listener's */
    server->connection_cb(server, 0);
  }
}

/* Delivers what is left of a closing stream, then its close_cb. */
static void finish_close(tcpu_uv_stream *s) {
  tcpu_uv_streams *st = &s->impl->streams;
  tcpu_uv_close_cb cb;

  /* Callbacks below see a closed stream: their calls on it fail or do
   * nothing, and it is never queued again. */
  s->flags |= S_CLOSED;
  deliver_writes(s, 1);
  if (s->flags & S_CONNECTING)
    complete_connect(s, UV_ECANCELED);
  fail_writes(s, UV_ECANCELED);
  deliver_writes(s, 1);
  complete_shutdown(s, UV_ECANCELED);

  if (s->all_prev != NULL)
    s->all_prev->all_next = s->all_next;
  else
    st->all = s->all_next;
  if (s->all_next != NULL)
    s->all_next->all_prev = s->all_prev;
  s->all_prev = s->all_next = NULL;
  unlink_connecting(s);
  s->flags &= ~(unsigned)(S_READ_RETRY | S_READING);
  cb = s->close_cb;
  s->close_cb = NULL;
  if (cb != NULL)
    cb(s); /* may release the memory of s */
}

static int handshake_done(const tcpu_uv_stream *s) {
  tcpu_state st;

  if (s->conn == NULL)
    return 0;
  st = tcpu_conn_state(s->conn);
  return st >= TCPU_ESTABLISHED ||
         (st == TCPU_CLOSED && tcpu_conn_error(s->conn) == 0);
}

static void process(tcpu_uv_stream *s) {
  unsigned ev = s->events;
  int err;

  s->events = 0;
  if (closing(s)) {
    finish_close(s);
    return;
  }
  if (s->flags & S_LISTENER) {
    if (ev & E_ACCEPT)
      deliver_accepts(s);
    return;
  }
  if ((s->flags & S_CONNECTING) && handshake_done(s)) {
    complete_connect(s, 0);
    if (closing(s))
      return;
  }
  if (ev & (E_WRITABLE | E_CONNECTED))
    pump_writes(s);
  err = stream_failure(s);
  if (err != 0) {
    if (s->flags & S_CONNECTING) {
      complete_connect(s, err);
      if (closing(s))
        return;
    }
    fail_writes(s, err);
  }
  if (!deliver_writes(s, 0))
    return;
  if (s->shutdown_req != NULL) {
    if ((s->flags & S_FIN_QUEUED) &&
        ((s->flags & S_FIN_ACKED) ||
         (s->conn != NULL && tcpu_conn_state(s->conn) == TCPU_CLOSED &&
          tcpu_conn_error(s->conn) == 0)))
      complete_shutdown(s, 0);
    else if (err != 0)
      complete_shutdown(s, err);
    if (closing(s))
      return;
  }
  if ((s->flags & S_READING) &&
      ((ev & E_READABLE) || (s->conn == NULL && s->err != 0)))
    do_read(s);
}

static void arm_stream_timer(tcpu_uv_endpoint_impl *impl) {
  tcpu_uv_streams *st = &impl->streams;
  uint64_t first = UINT64_MAX, now, ms;

  if (impl->closing)
    return;
  if (st->read_retries > 0 || st->pending_head != NULL) {
    uv_timer_start(&st->timer, on_stream_timer, 0, 0);
    return;
  }
  for (tcpu_uv_stream *s = st->connecting; s != NULL; s = s->cn_next)
    if (s->connect_deadline < first)
      first = s->connect_deadline;
  if (first == UINT64_MAX) {
    uv_timer_stop(&st->timer);
    return;
  }
  now = tcpu_uv__now();
  ms = first <= now ? 0 : (first - now + TCPU_NS_PER_MS - 1) / TCPU_NS_PER_MS;
  uv_update_time(impl->loop);
  uv_timer_start(&st->timer, on_stream_timer, ms, 0);
}

void tcpu_uv__streams_dispatch(tcpu_uv_endpoint_impl *impl) {
  tcpu_uv_streams *st = &impl->streams;
  tcpu_uv_stream *s;

  if (st->dispatching)
    return;
  st->dispatching = 1;
  while ((s = st->pending_head) != NULL) {
    st->pending_head = s->pending_next;
    if (st->pending_head == NULL)
      st->pending_tail = NULL;
    s->pending_next = NULL;
    s->flags &= ~(unsigned)S_PENDING;
    process(s);
  }
  st->dispatching = 0;
  arm_stream_timer(impl);
}

int tcpu_uv__streams_pending(const tcpu_uv_endpoint_impl *impl) {
  return impl->streams.pending_head != NULL;
}

void tcpu_uv__streams_defer(tcpu_uv_endpoint_impl *impl) {
  if (!impl->closing)
    uv_timer_start(&impl->streams.timer, on_stream_timer, 0, 0);
}

/* The handshake took longer than the connect timeout: drop it (no RST in
 * SYN_SENT) and report UV_ETIMEDOUT. */
static void connect_timeout(tcpu_uv_stream *s) {
  tcpu_conn *c = s->conn;

  unlink_connecting(s);
  s->conn = NULL;
  s->err = UV_ETIMEDOUT;
  if (c != NULL) {
    tcpu_conn_set_user_data(c, NULL);
    tcpu_conn_abort(c, tcpu_uv__now());
  }
  pend(s, 0);
}

static void on_stream_timer(uv_timer_t *timer) {
  tcpu_uv_endpoint_impl *impl = timer->data;
  tcpu_uv_streams *st = &impl->streams;
  tcpu_uv_stream *s, *next;
  tcpu_tstamp now = tcpu_uv__now();

  if (impl->closing)
    return;
  tcpu_uv__ep_batch_begin(impl);
  for (s = st->connecting; s != NULL; s = next) {
    next = s->cn_next;
    if (s->connect_deadline <= now)
      connect_timeout(s);
  }
  if (st->read_retries > 0) {
    st->read_retries = 0;
    for (s = st->all; s != NULL; s = s->all_next) {
      if (s->flags & S_READ_RETRY) {
        s->flags &= ~(unsigned)S_READ_RETRY;
        pend(s, E_READABLE);
      }
    }
  }
  tcpu_uv__ep_batch_end(impl);
}

void tcpu_uv__streams_init(tcpu_uv_endpoint_impl *impl) {
  memset(&impl->streams, 0, sizeof(impl->streams));
  uv_timer_init(impl->loop, &impl->streams.timer);
  impl->streams.timer.data = impl;
  impl->open_handles++;
}

void tcpu_uv__streams_close(tcpu_uv_endpoint_impl *impl) {
  tcpu_uv_streams *st = &impl->streams;

  for (tcpu_uv_stream *s = st->all; s != NULL; s = s->all_next) {
    if (!closing(s)) {
      s->flags |= S_CLOSING;
      s->close_cb = NULL;
    }
    s->flags &= ~(unsigned)S_READING;
    /* The connections go with the core endpoint. */
    s->conn = NULL;
    s->accepted = NULL;
    unlink_connecting(s);
    pend(s, 0);
  }
  uv_timer_stop(&st->timer);
  uv_close((uv_handle_t *)&st->timer, tcpu_uv__ep_handle_closed);
}

/* ------------------------------------------------------------ streams */

int tcpu_uv_stream_init(tcpu_uv_endpoint *uvep, tcpu_uv_stream *s) {
  tcpu_uv_streams *st;

  if (uvep == NULL || s == NULL || uvep->impl == NULL || uvep->impl->closing)
    return UV_EINVAL;
  memset(s, 0, sizeof(*s));
  s->endpoint = uvep;
  s->impl = uvep->impl;
  st = &s->impl->streams;
  s->all_next = st->all;
  if (st->all != NULL)
    st->all->all_prev = s;
  st->all = s;
  return 0;
}

int tcpu_uv_listen(tcpu_uv_stream *s, uint16_t port, int backlog,
                   tcpu_uv_connection_cb cb) {
  tcpu_conn *l;
  int rv;

  if (s == NULL || cb == NULL || port == 0 || backlog < 1 || !fresh(s))
    return UV_EINVAL;
  rv = tcpu_listen(s->impl->ep, port, backlog, &l, tcpu_uv__now());
  if (rv != 0)
    return tcpu_uv_translate_error(rv);
  tcpu_conn_set_user_data(l, s);
  s->conn = l;
  rv = apply_opts(s, 0);
  if (rv != 0) {
    s->conn = NULL;
    tcpu_conn_set_user_data(l, NULL);
    tcpu_conn_close(l, tcpu_uv__now());
    return rv;
  }
  s->flags |= S_LISTENER;
  s->connection_cb = cb;
  return 0;
}

int tcpu_uv_accept(tcpu_uv_stream *server, tcpu_uv_stream *client) {
  tcpu_conn *c;
  int rv;

  if (server == NULL || client == NULL || !(server->flags & S_LISTENER) ||
      closing(server) || !fresh(client) || client->impl != server->impl)
    return UV_EINVAL;
  if (server->accepted == NULL)
    return UV_EAGAIN;
  c = server->accepted;
  server->accepted = NULL;
  client->conn = c;
  tcpu_conn_set_user_data(c, client);
  rv = apply_opts(client, 1);
  if (rv != 0) {
    client->conn = NULL;
    tcpu_conn_set_user_data(c, NULL);
    tcpu_conn_abort(c, tcpu_uv__now());
    pend(server, E_ACCEPT);
    tcpu_uv__ep_flush(server->impl);
    return rv;
  }
  client->flags |= S_CONNECTION;
  pend(server, E_ACCEPT); /* the next one in the queue */
  tcpu_uv__ep_flush(server->impl);
  return 0;
}

int tcpu_uv_connect(tcpu_uv_connect_req *req, tcpu_uv_stream *s,
                    const struct sockaddr *addr, uint16_t remote_port,
                    uint64_t timeout_ms, tcpu_uv_connect_cb cb) {
  tcpu_addr peer;
  int rv;

  if (req == NULL || s == NULL || addr == NULL || remote_port == 0 ||
      !fresh(s))
    return UV_EINVAL;
  rv = tcpu_uv__ep_peer_addr(s->impl, addr, &peer);
  if (rv != 0)
    return rv;
  return tcpu_uv_connect_addr(req, s, &peer, 0, remote_port, timeout_ms, cb);
}

int tcpu_uv_connect_addr(tcpu_uv_connect_req *req, tcpu_uv_stream *s,
                         const tcpu_addr *peer, uint16_t local_port,
                         uint16_t remote_port, uint64_t timeout_ms,
                         tcpu_uv_connect_cb cb) {
  tcpu_tstamp now = tcpu_uv__now();
  tcpu_conn *c;
  int rv;

  if (req == NULL || s == NULL || peer == NULL || remote_port == 0 ||
      !fresh(s))
    return UV_EINVAL;
  rv = tcpu_connect(s->impl->ep, peer, local_port, remote_port, &c, now);
  if (rv != 0)
    return tcpu_uv_translate_error(rv);
  tcpu_conn_set_user_data(c, s);
  s->conn = c;
  /* Before the first flush: the receive buffer fixes the SYN's window
   * scale. */
  rv = apply_opts(s, 0);
  if (rv != 0) {
    s->conn = NULL;
    tcpu_conn_set_user_data(c, NULL);
    tcpu_conn_abort(c, now);
    return rv;
  }
  req->handle = s;
  req->cb = cb;
  s->connect_req = req;
  s->flags |= S_CONNECTION | S_CONNECTING;
  if (timeout_ms > 0 && ms_to_ns(timeout_ms) != 0 &&
      ms_to_ns(timeout_ms) < UINT64_MAX - now) {
    s->connect_deadline = now + ms_to_ns(timeout_ms);
    link_connecting(s);
    arm_stream_timer(s->impl);
  }
  tcpu_uv__ep_flush(s->impl);
  return 0;
}

/* Data, the end of the stream or an error is waiting to be read. */
static int readable_now(tcpu_uv_stream *s) {
  tcpu_conn_info ci;

  if (s->conn == NULL)
    return s->err != 0;
  tcpu_conn_get_info(s->conn, &ci);
  /* With the receive queue empty a zero-length read tells EOF and errors
   * apart from nothing. */
  return ci.rcv_buffered > 0 ||
         tcpu_conn_read(s->conn, NULL, 0, tcpu_uv__now()) != TCPU_ERR_AGAIN;
}

int tcpu_uv_read_start(tcpu_uv_stream *s, tcpu_uv_alloc_cb alloc_cb,
                       tcpu_uv_read_cb read_cb) {
  if (s == NULL || alloc_cb == NULL || read_cb == NULL || closing(s) ||
      (s->flags & S_LISTENER))
    return UV_EINVAL;
  if (!(s->flags & S_CONNECTION))
    return UV_ENOTCONN;
  if (s->flags & S_READING)
    return UV_EALREADY;
  s->alloc_cb = alloc_cb;
  s->read_cb = read_cb;
  s->flags |= S_READING;
  /* What arrived before is delivered from the loop; what arrives later
   * comes with the core's readable event. */
  if (readable_now(s)) {
    pend(s, E_READABLE);
    kick(s->impl);
  }
  return 0;
}

int tcpu_uv_read_stop(tcpu_uv_stream *s) {
  if (s == NULL)
    return UV_EINVAL;
  s->flags &= ~(unsigned)S_READING;
  return 0;
}

/* Checks shared by write, try_write and shutdown. */
static int check_writable(const tcpu_uv_stream *s) {
  if (closing(s) || (s->flags & S_LISTENER))
    return UV_EINVAL;
  if (!(s->flags & S_CONNECTION))
    return UV_ENOTCONN;
  if (s->flags & S_SHUT)
    return UV_EPIPE;
  if (stream_failure(s) != 0)
    return stream_failure(s);
  return s->conn == NULL ? UV_ENOTCONN : 0;
}

int tcpu_uv_write(tcpu_uv_write_req *req, tcpu_uv_stream *s,
                  const uv_buf_t bufs[], unsigned int nbufs,
                  tcpu_uv_write_cb cb) {
  size_t total = 0;
  int rv;

  if (req == NULL || s == NULL || (bufs == NULL && nbufs > 0))
    return UV_EINVAL;
  rv = check_writable(s);
  if (rv != 0)
    return rv;
  if (nbufs <= sizeof(req->bufsml) / sizeof(req->bufsml[0])) {
    req->bufs = req->bufsml;
  } else {
    req->bufs = malloc(nbufs * sizeof(uv_buf_t));
    if (req->bufs == NULL)
      return UV_ENOMEM;
  }
  if (nbufs > 0)
    memcpy(req->bufs, bufs, nbufs * sizeof(uv_buf_t));
  for (unsigned int i = 0; i < nbufs; i++)
    total += bufs[i].len;
  req->handle = s;
  req->cb = cb;
  req->next = NULL;
  req->nbufs = nbufs;
  req->buf_index = 0;
  req->buf_off = 0;
  req->status = 0;
  if (s->wq_tail != NULL)
    s->wq_tail->next = req;
  else
    s->wq_head = req;
  s->wq_tail = req;
  s->write_queue_size += total;
  pump_writes(s);
  tcpu_uv__ep_flush(s->impl);
  return 0;
}

int tcpu_uv_try_write(tcpu_uv_stream *s, const uv_buf_t bufs[],
                      unsigned int nbufs) {
  size_t total = 0;
  int rv;

  if (s == NULL || (bufs == NULL && nbufs > 0))
    return UV_EINVAL;
  rv = check_writable(s);
  if (rv != 0)
    return rv;
  if (s->wq_head != NULL)
    return UV_EAGAIN;
  for (unsigned int i = 0; i < nbufs; i++) {
    size_t off = 0;
    while (off < bufs[i].len && total < INT32_MAX) {
      size_t want = bufs[i].len - off;
      tcpu_ssize n;

      if (want > INT32_MAX - total)
        want = INT32_MAX - total;
      n = tcpu_conn_write(s->conn, (const uint8_t *)bufs[i].base + off, want,
                          tcpu_uv__now());
      if (n == TCPU_ERR_AGAIN)
        goto out;
      if (n < 0) {
        if (total > 0)
          goto out;
        return tcpu_uv_translate_error((int)n);
      }
      off += (size_t)n;
      total += (size_t)n;
    }
  }
out:
  if (total == 0)
    return UV_EAGAIN;
  tcpu_uv__ep_flush(s->impl);
  return (int)total;
}

int tcpu_uv_shutdown(tcpu_uv_shutdown_req *req, tcpu_uv_stream *s,
                     tcpu_uv_shutdown_cb cb) {
  int rv;

  if (req == NULL || s == NULL)
    return UV_EINVAL;
  rv = check_writable(s);
  if (rv == UV_EPIPE)
    return UV_ENOTCONN; /* already shut down */
  if (rv != 0)
    return rv;
  req->handle = s;
  req->cb = cb;
  s->shutdown_req = req;
  s->flags |= S_SHUT;
  maybe_send_fin(s);
  tcpu_uv__ep_flush(s->impl);
  return 0;
}

void tcpu_uv_close(tcpu_uv_stream *s, tcpu_uv_close_cb close_cb) {
  if (s == NULL || closing(s) || s->impl == NULL)
    return;
  s->flags |= S_CLOSING;
  s->flags &= ~(unsigned)S_READING;
  s->close_cb = close_cb;
  release_conn(s, 0);
  pend(s, 0);
  tcpu_uv__ep_flush(s->impl);
  kick(s->impl);
}

int tcpu_uv_abort(tcpu_uv_stream *s, tcpu_uv_close_cb close_cb) {
  if (s == NULL || closing(s) || (s->flags & S_LISTENER) || s->impl == NULL)
    return UV_EINVAL;
  if (!(s->flags & S_CONNECTION))
    return UV_ENOTCONN;
  s->flags |= S_CLOSING;
  s->flags &= ~(unsigned)S_READING;
  s->close_cb = close_cb;
  release_conn(s, 1);
  pend(s, 0);
  tcpu_uv__ep_flush(s->impl);
  kick(s->impl);
  return 0;
}
