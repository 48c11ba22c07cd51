/*
 * sock.c — socket calls onto the tcpu API, with kernel-like file
 * descriptors (the lowest free one, from 3) and errno results (README.md,
 * "Socket calls").  Every socket behaves as non-blocking.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* The result of a call: ret, and errno when ret is -1. */
typedef struct result {
  int64_t ret;
  int err;
} result;

static int fail_errno(result *res, int err) {
  res->ret = -1;
  res->err = err;
  return 0;
}

static int fail_core(result *res, int code) {
  return fail_errno(res, pkt_errno_from_tcpu(code));
}

pkt_sock *pkt_sock_get(pkt_run *r, int fd) {
  if (fd < 0 || fd >= PKT_MAX_FDS || !r->sock[fd].used)
    return NULL;
  return &r->sock[fd];
}

static int alloc_fd(pkt_run *r) {
  for (int fd = 3; fd < PKT_MAX_FDS; fd++) {
    if (!r->sock[fd].used) {
      memset(&r->sock[fd], 0, sizeof(r->sock[fd]));
      r->sock[fd].used = 1;
      return fd;
    }
  }
  return -1;
}

/* Applies the options kept while the socket had no connection. */
static int apply_pending(pkt_run *r, pkt_sock *so) {
  for (int opt = 1; opt <= PKT_MAX_COPT; opt++) {
    int rc;

    if (!(so->pend_mask & (1u << opt)))
      continue;
    rc = tcpu_conn_setopt(so->conn, (tcpu_conn_opt)opt, so->pend[opt]);
    if (rc < 0)
      return pkt_fail(r, "tcpu_conn_setopt(%d, %llu) failed: %s", opt,
                      (unsigned long long)so->pend[opt], tcpu_err_name(rc));
  }
  so->pend_mask = 0;
  return 0;
}

static int do_socket(pkt_run *r, result *res) {
  int fd = alloc_fd(r);

  if (fd < 0)
    return pkt_fail(r, "more than %d file descriptors", PKT_MAX_FDS);
  res->ret = fd;
  return 0;
}

static int do_setsockopt(pkt_run *r, const pkt_call *c, pkt_sock *so,
                         result *res) {
  switch (c->opt) {
  case PKT_SO_RCVBUF:
  case PKT_SO_SNDBUF:
    /* Buffer sizes are endpoint settings in tcpu. */
    if (r->ep != NULL)
      return pkt_fail(r, "SO_RCVBUF/SO_SNDBUF must come before the first "
                         "listen, connect or segment (or use %%set)");
    if (c->opt == PKT_SO_RCVBUF)
      r->settings.rcvbuf = (uint32_t)c->arg;
    else
      r->settings.sndbuf = (uint32_t)c->arg;
    return 0;
  case PKT_TCP_NODELAY:
  case PKT_SO_KEEPALIVE:
  case PKT_TCP_KEEPIDLE:
  case PKT_TCP_KEEPINTVL:
  case PKT_TCP_KEEPCNT:
  case PKT_TCP_USER_TIMEOUT:
    /* On a listener too: its connections inherit it, as in Linux. */
    if (so->conn != NULL) {
      int rc = tcpu_conn_setopt(so->conn, (tcpu_conn_opt)c->copt, c->arg);

      return rc < 0 ? fail_core(res, rc) : 0;
    }
    /* Kept for listen() or connect(). */
    so->pend_mask |= 1u << c->copt;
    so->pend[c->copt] = c->arg;
    return 0;
  case PKT_SO_LINGER:
    so->linger0 = (int)c->arg;
    return 0;
  case PKT_SO_REUSEADDR:
  case PKT_SO_NONE:
  case PKT_SO_ERROR:
    return 0;
  }
  return 0;
}

static int do_getsockopt(pkt_run *r, const pkt_call *c, pkt_sock *so) {
  int e = so->conn != NULL ? tcpu_conn_error(so->conn) : 0;
  int got = e != 0 ? pkt_errno_from_tcpu(e) : 0;

  if ((uint64_t)got != c->arg)
    return pkt_fail(r, "SO_ERROR is %s, expected %s",
                    got ? pkt_errno_name(got) : "0",
                    c->arg ? pkt_errno_name((int)c->arg) : "0");
  return 0;
}

static int do_listen(pkt_run *r, const pkt_call *c, pkt_sock *so,
                     result *res) {
  uint16_t port = so->bound_port ? so->bound_port : PKT_LOCAL_PORT;
  tcpu_conn *l;
  int rc;

  if (so->listener)
    return 0;
  if (so->conn != NULL)
    return fail_errno(res, EINVAL);
  if (pkt_endpoint(r) != 0)
    return -1;
  if ((rc = tcpu_listen(r->ep, port, (int)c->arg, &l, r->now)) < 0)
    return fail_core(res, rc);
  so->conn = l;
  so->listener = 1;
  r->listen_port = port;
  return apply_pending(r, so);
}

/* Points the flow of c's remote port at c's local port. */
static int note_conn(pkt_run *r, tcpu_conn *c, pkt_flow **pf) {
  tcpu_conn_info ci;
  pkt_flow *f = NULL;

  tcpu_conn_get_info(c, &ci);
  if ((f = pkt_flow_get(r, ci.remote_port)) == NULL)
    return pkt_fail(r, "more than %d remote ports", PKT_MAX_FLOWS);
  f->lport = ci.local_port;
  if (pf != NULL)
    *pf = f;
  return 0;
}

static int do_accept(pkt_run *r, pkt_sock *so, result *res) {
  tcpu_conn *c;
  int rc, fd;

  if (!so->listener)
    return fail_errno(res, EINVAL);
  if ((rc = tcpu_accept(so->conn, &c)) < 0)
    return fail_core(res, rc);
  if ((fd = alloc_fd(r)) < 0)
    return pkt_fail(r, "more than %d file descriptors", PKT_MAX_FDS);
  r->sock[fd].conn = c;
  res->ret = fd;
  return note_conn(r, c, NULL);
}

static int do_connect(pkt_run *r, const pkt_event *ev, pkt_sock *so,
                      result *res) {
  tcpu_conn *c;
  pkt_flow *f = NULL;
  int rc;

  if (so->listener)
    return fail_errno(res, EISCONN);
  if (so->conn != NULL) { /* a second connect(), as Linux answers it */
    tcpu_state st = tcpu_conn_state(so->conn);

    if (st == TCPU_SYN_SENT || st == TCPU_SYN_RCVD)
      return fail_errno(res, EALREADY);
    if ((rc = tcpu_conn_error(so->conn)) != 0)
      return fail_core(res, rc);
    return fail_errno(res, EISCONN);
  }
  if (pkt_endpoint(r) != 0)
    return -1;
  rc = tcpu_connect(r->ep, &r->remote, so->bound_port, ev->rport, &c, r->now);
  if (rc < 0)
    return fail_core(res, rc);
  so->conn = c;
  if (apply_pending(r, so) != 0)
    return -1;
  if (note_conn(r, c, &f) != 0)
    return -1;
  /* A new incarnation: numbering is learned afresh. */
  pkt_flow_new_incarnation(f);
  f->risn_known = f->cand_known = 0;
  f->active = 1;
  return fail_errno(res, EINPROGRESS);
}

static int do_write(pkt_run *r, const pkt_call *c, pkt_sock *so,
                    result *res) {
  uint8_t *data;
  tcpu_ssize n;

  /* A listener goes to the core too: RFC 9293 §3.10.2, SEND in LISTEN
   * without a remote socket is an error, and the core is to say so. */
  if (so->conn == NULL)
    return fail_errno(res, EPIPE);
  if ((data = malloc(c->arg > 0 ? c->arg : 1)) == NULL)
    return pkt_fail(r, "out of memory");
  for (uint64_t i = 0; i < c->arg; i++)
    data[i] = pkt_pattern(so->wr_off + i);
  n = tcpu_conn_write(so->conn, data, c->arg, r->now);
  free(data);
  if (n < 0)
    return fail_core(res, (int)n);
  so->wr_off += (uint64_t)n;
  res->ret = n;
  return 0;
}

static int do_read(pkt_run *r, const pkt_call *c, pkt_sock *so,
                   result *res) {
  uint8_t *buf;
  tcpu_ssize n;

  if (so->conn == NULL)
    return fail_errno(res, ENOTCONN);
  if ((buf = malloc(c->arg > 0 ? c->arg : 1)) == NULL)
    return pkt_fail(r, "out of memory");
  n = tcpu_conn_read(so->conn, buf, c->arg, r->now);
  for (tcpu_ssize i = 0; i < n; i++) {
    uint8_t want = pkt_pattern(so->rd_off + (uint64_t)i);

    if (buf[i] != want) {
      pkt_fail(r, "read: byte %td (stream offset %" PRIu64 ") is 0x%02x, "
                  "the script sent 0x%02x",
               i, so->rd_off + (uint64_t)i, buf[i], want);
      free(buf);
      return -1;
    }
  }
  free(buf);
  if (n < 0)
    return fail_core(res, (int)n);
  so->rd_off += (uint64_t)n;
  res->ret = n;
  return 0;
}

static int do_shutdown(pkt_sock *so, result *res, tcpu_tstamp now) {
  int rc;

  if (so->conn == NULL || so->listener)
    return fail_errno(res, ENOTCONN);
  if ((rc = tcpu_conn_shutdown(so->conn, now)) < 0)
    return fail_core(res, rc);
  return 0;
}

static int do_close(pkt_sock *so, tcpu_tstamp now) {
  /* SO_LINGER with a zero time: RFC 9293 §3.10.5 ABORT. */
  if (so->conn != NULL && so->linger0)
    tcpu_conn_abort(so->conn, now);
  else if (so->conn != NULL)
    tcpu_conn_close(so->conn, now);
  memset(so, 0, sizeof(*so));
  return 0;
}

static int dispatch(pkt_run *r, const pkt_event *ev, result *res) {
  const pkt_call *c = &ev->u.call;
  pkt_sock *so = NULL;

  if (c->kind == PKT_CALL_SOCKET)
    return do_socket(r, res);
  if ((so = pkt_sock_get(r, c->fd)) == NULL)
    return fail_errno(res, EBADF);
  switch (c->kind) {
  case PKT_CALL_SOCKET:
    return 0;
  case PKT_CALL_SETSOCKOPT:
    return do_setsockopt(r, c, so, res);
  case PKT_CALL_GETSOCKOPT:
    return do_getsockopt(r, c, so);
  case PKT_CALL_FCNTL:
    return 0;
  case PKT_CALL_BIND:
    if (so->bound_port != 0 || so->conn != NULL)
      return fail_errno(res, EINVAL);
    so->bound_port = PKT_LOCAL_PORT;
    return 0;
  case PKT_CALL_LISTEN:
    return do_listen(r, c, so, res);
  case PKT_CALL_ACCEPT:
    return do_accept(r, so, res);
  case PKT_CALL_CONNECT:
    return do_connect(r, ev, so, res);
  case PKT_CALL_WRITE:
    return do_write(r, c, so, res);
  case PKT_CALL_READ:
    return do_read(r, c, so, res);
  case PKT_CALL_SHUTDOWN:
    return do_shutdown(so, res, r->now);
  case PKT_CALL_CLOSE:
    return do_close(so, r->now);
  }
  return 0;
}

static const char *fmt_result(int64_t ret, int err, char *buf, size_t n) {
  if (ret == -1)
    snprintf(buf, n, "-1 %s", pkt_errno_name(err));
  else
    snprintf(buf, n, "%" PRId64, ret);
  return buf;
}

int pkt_sock_call(pkt_run *r, const pkt_event *ev) {
  const pkt_call *c = &ev->u.call;
  result res = {0, 0};
  char got[48], want[48], t[32];

  if (dispatch(r, ev, &res) != 0)
    return -1;
  fmt_result(res.ret, res.err, got, sizeof(got));
  pkt_trace(r, "%s %s  -> %s", pkt_fmt_time(r, r->now, t, sizeof(t)),
            ev->body, got);
  if (res.ret != c->ret || (res.ret == -1 && res.err != c->err))
    return pkt_fail(r, "%s returned %s, expected %s", c->name, got,
                    fmt_result(c->ret, c->err, want, sizeof(want)));
  return 0;
}
