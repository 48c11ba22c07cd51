/*
 * endpoint.c — one core endpoint on one libuv UDP socket and one timer.
 *
 * Flow: datagram in -> tcpu_endpoint_recv -> flush; timer -> handle_expiry
 * -> flush; flush = run due timers, drain tcpu_endpoint_send into
 * uv_udp_try_send, re-arm the timer from tcpu_endpoint_get_expiry.
 *
 * A full socket (UV_EAGAIN) hands the datagram in hand to uv_udp_send with
 * the single embedded request and stops draining; the send callback resumes
 * it.  libuv's try_send answers UV_EAGAIN while that request is queued, so
 * datagrams keep their order.  While output waits the timer is armed only
 * for deadlines still ahead, so an overdue pacing deadline cannot spin the
 * loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpu/tcpu_uv.h"

/* The largest UDP payload over IPv4/IPv6 (without jumbograms). */
#define RECVBUF_LEN 65536
/* Socket buffers asked of the kernel: Linux's 208 KiB default holds fewer
 * than 100 full-sized datagrams, less than one burst of a congestion
 * window, and overflows on loopback.  The kernel caps the request at
 * net.core.rmem_max / wmem_max. */
#define SOCKBUF_LEN (4 << 20)

static void on_timer(uv_timer_t *timer);
static void finish_close(tcpu_uv_endpoint *uvep);

/* Core calls nest no deeper than one level: callbacks may not re-enter the
 * core.  A close requested from inside a callback completes on leaving. */
static void enter_core(tcpu_uv_endpoint *uvep) { uvep->in_core = 1; }

/* Returns nonzero when the endpoint is still open. */
static int leave_core(tcpu_uv_endpoint *uvep) {
  uvep->in_core = 0;
  if (uvep->closing && uvep->ep != NULL)
    finish_close(uvep);
  return !uvep->closing;
}

/* ------------------------------------------------------------ addresses */

int tcpu_uv_addr_from_sockaddr(tcpu_addr *addr, const struct sockaddr *sa) {
  if (addr == NULL || sa == NULL)
    return TCPU_ERR_INVAL;
  memset(addr, 0, sizeof(*addr));
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    addr->family = TCPU_AF_INET;
    addr->port = ntohs(sin->sin_port);
    memcpy(addr->ip, &sin->sin_addr, 4);
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    addr->family = TCPU_AF_INET6;
    addr->port = ntohs(sin6->sin6_port);
    memcpy(addr->ip, &sin6->sin6_addr, 16);
    addr->scope_id = sin6->sin6_scope_id;
    return 0;
  }
  return TCPU_ERR_INVAL;
}

int tcpu_uv_addr_to_sockaddr(struct sockaddr_storage *ss, socklen_t *len,
                             const tcpu_addr *addr) {
  if (ss == NULL || addr == NULL)
    return TCPU_ERR_INVAL;
  memset(ss, 0, sizeof(*ss));
  if (addr->family == TCPU_AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(addr->port);
    memcpy(&sin->sin_addr, addr->ip, 4);
    if (len != NULL)
      *len = sizeof(*sin);
    return 0;
  }
  if (addr->family == TCPU_AF_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(addr->port);
    memcpy(&sin6->sin6_addr, addr->ip, 16);
    sin6->sin6_scope_id = addr->scope_id;
    if (len != NULL)
      *len = sizeof(*sin6);
    return 0;
  }
  return TCPU_ERR_INVAL;
}

/* --------------------------------------------------------------- output */

static void note_error(tcpu_uv_endpoint *uvep, int err) {
  if (err < 0)
    uvep->stats.last_error = err;
}

static void on_sent(uv_udp_send_t *req, int status) {
  tcpu_uv_endpoint *uvep = req->data;

  uvep->send_busy = 0;
  if (status == UV_ECANCELED || uvep->closing)
    return;
  if (status < 0) {
    uvep->stats.send_errors++;
    note_error(uvep, status);
  } else {
    uvep->stats.dgrams_sent++;
  }
  tcpu_uv_endpoint_flush(uvep);
}

/* Hands one datagram of sendbuf to the socket.  Returns 1 when draining
 * must stop (the datagram waits in send_req, or may_wait is 0 and the
 * socket is full), else 0 (sent, or refused and dropped as a lost packet). */
static int send_one(tcpu_uv_endpoint *uvep, const tcpu_addr *to, size_t len,
                    int may_wait) {
  socklen_t salen;
  uv_buf_t buf = uv_buf_init((char *)uvep->sendbuf, (unsigned int)len);
  int rv;

  if (tcpu_uv_addr_to_sockaddr(&uvep->send_to, &salen, to) != 0) {
    uvep->stats.send_errors++;
    note_error(uvep, TCPU_ERR_INVAL);
    return 0;
  }
  rv = uv_udp_try_send(&uvep->udp, &buf, 1,
                       (const struct sockaddr *)&uvep->send_to);
  if (rv >= 0) {
    uvep->stats.dgrams_sent++;
    return 0;
  }
  if (rv == UV_EAGAIN) {
    uvep->stats.send_blocked++;
    if (!may_wait) {
      /* Closing: nothing more fits, the rest is lost with the endpoint. */
      uvep->stats.send_errors++;
      return 1;
    }
    rv = uv_udp_send(&uvep->send_req, &uvep->udp, &buf, 1,
                     (const struct sockaddr *)&uvep->send_to, on_sent);
    if (rv == 0) {
      uvep->send_busy = 1;
      return 1;
    }
  }
  uvep->stats.send_errors++;
  note_error(uvep, rv);
  return 0;
}

/* Pulls datagrams from the core until it has none due or the socket is
 * full.  Returns 0 or the core's error. */
static int drain(tcpu_uv_endpoint *uvep, int may_wait) {
  for (;;) {
    tcpu_addr to;
    tcpu_ssize n;

    if (uvep->send_busy)
      return 0;
    n = tcpu_endpoint_send(uvep->ep, &to, uvep->sendbuf, uvep->sendbuf_len,
                           uv_hrtime());
    if (n == 0)
      return 0;
    if (n == TCPU_ERR_NOBUF &&
        tcpu_endpoint_max_dgram(uvep->ep) > uvep->sendbuf_len) {
      size_t want = tcpu_endpoint_max_dgram(uvep->ep);
      uint8_t *p = realloc(uvep->sendbuf, want);
      if (p == NULL) {
        note_error(uvep, TCPU_ERR_NOMEM);
        return TCPU_ERR_NOMEM;
      }
      uvep->sendbuf = p;
      uvep->sendbuf_len = want;
      continue;
    }
    if (n < 0) {
      note_error(uvep, (int)n);
      return (int)n;
    }
    if (send_one(uvep, &to, (size_t)n, may_wait))
      return 0;
  }
}

static void arm_timer(tcpu_uv_endpoint *uvep) {
  tcpu_tstamp exp = tcpu_endpoint_get_expiry(uvep->ep);
  tcpu_tstamp now = uv_hrtime();
  uint64_t ms;

  if (exp == TCPU_TSTAMP_NONE || (uvep->send_busy && exp <= now)) {
    /* While output waits, on_sent flushes and so runs overdue timers. */
    uv_timer_stop(&uvep->timer);
    return;
  }
  ms = exp <= now ? 0 : (exp - now + TCPU_NS_PER_MS - 1) / TCPU_NS_PER_MS;
  /* libuv counts the timeout from the loop's cached time. */
  uv_update_time(uvep->loop);
  uv_timer_start(&uvep->timer, on_timer, ms, 0);
}

int tcpu_uv_endpoint_flush(tcpu_uv_endpoint *uvep) {
  int rv = 0;
  int err;

  if (uvep == NULL || uvep->ep == NULL)
    return TCPU_ERR_STATE;
  if (uvep->in_core || uvep->closing)
    return 0;
  enter_core(uvep);
  if (!uvep->send_busy) {
    tcpu_tstamp now = uv_hrtime();
    if (tcpu_endpoint_get_expiry(uvep->ep) <= now) {
      rv = tcpu_endpoint_handle_expiry(uvep->ep, now);
      note_error(uvep, rv);
    }
  }
  err = drain(uvep, 1);
  if (leave_core(uvep))
    arm_timer(uvep);
  return rv < 0 ? rv : err;
}

static void on_timer(uv_timer_t *timer) {
  tcpu_uv_endpoint *uvep = timer->data;
  int rv;

  if (uvep->closing)
    return;
  enter_core(uvep);
  rv = tcpu_endpoint_handle_expiry(uvep->ep, uv_hrtime());
  note_error(uvep, rv);
  if (leave_core(uvep))
    tcpu_uv_endpoint_flush(uvep);
}

/* ---------------------------------------------------------------- input */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  tcpu_uv_endpoint *uvep = handle->data;

  (void)suggested;
  *buf = uv_buf_init((char *)uvep->recvbuf, RECVBUF_LEN);
}

static void on_recv(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags) {
  tcpu_uv_endpoint *uvep = udp->data;
  tcpu_addr addr;
  int rv;

  if (uvep->closing || (nread == 0 && from == NULL))
    return; /* closed, or nothing more to read */
  if (nread < 0 || (flags & UV_UDP_PARTIAL) ||
      tcpu_uv_addr_from_sockaddr(&addr, from) != 0) {
    uvep->stats.recv_errors++;
    note_error(uvep, nread < 0 ? (int)nread : TCPU_ERR_INVAL);
    return;
  }
  uvep->stats.dgrams_received++;
  enter_core(uvep);
  rv = tcpu_endpoint_recv(uvep->ep, &addr, (const uint8_t *)buf->base,
                          (size_t)nread, uv_hrtime());
  note_error(uvep, rv);
  if (leave_core(uvep))
    tcpu_uv_endpoint_flush(uvep);
}

/* ------------------------------------------------------------ lifecycle */

/* A nonblocking, close-on-exec UDP socket bound to addr, so that every
 * fallible step comes before any libuv handle exists. */
static int open_socket(const struct sockaddr *addr, uv_os_sock_t *pfd) {
  int bufsize = SOCKBUF_LEN;
  socklen_t len;
  int fd;

  if (addr->sa_family == AF_INET)
    len = sizeof(struct sockaddr_in);
  else if (addr->sa_family == AF_INET6)
    len = sizeof(struct sockaddr_in6);
  else
    return TCPU_ERR_INVAL;
  fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  /* Best effort: a smaller buffer only costs drops TCP recovers from. */
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
  if (bind(fd, addr, len) != 0) {
    int err = uv_translate_sys_error(errno);
    close(fd);
    return err;
  }
  *pfd = fd;
  return 0;
}

int tcpu_uv_endpoint_init(uv_loop_t *loop, tcpu_uv_endpoint *uvep,
                          const tcpu_settings *settings,
                          const tcpu_callbacks *callbacks, void *user_data,
                          const struct sockaddr *bind_addr) {
  static const tcpu_callbacks no_callbacks;
  tcpu_settings defaults;
  uv_os_sock_t fd = -1;
  int rv;

  if (loop == NULL || uvep == NULL || bind_addr == NULL)
    return TCPU_ERR_INVAL;
  memset(uvep, 0, sizeof(*uvep));
  if (settings == NULL) {
    tcpu_settings_default(&defaults);
    settings = &defaults;
  }
  rv = tcpu_endpoint_new(&uvep->ep, settings,
                         callbacks ? callbacks : &no_callbacks, user_data,
                         uv_hrtime());
  if (rv != 0) {
    uvep->ep = NULL;
    return rv;
  }
  uvep->sendbuf_len = tcpu_endpoint_max_dgram(uvep->ep);
  uvep->sendbuf = malloc(uvep->sendbuf_len);
  uvep->recvbuf = malloc(RECVBUF_LEN);
  if (uvep->sendbuf == NULL || uvep->recvbuf == NULL) {
    rv = TCPU_ERR_NOMEM;
    goto fail;
  }
  rv = open_socket(bind_addr, &fd);
  if (rv != 0)
    goto fail;

  /* From here on handles exist.  On Unix uv_udp_init (AF_UNSPEC) and
   * uv_timer_init cannot fail, uv_udp_open of a fresh socket fails only on
   * a broken loop, and uv_udp_recv_start only if already started. */
  uvep->loop = loop;
  uv_udp_init(loop, &uvep->udp);
  uv_timer_init(loop, &uvep->timer);
  uvep->udp.data = uvep;
  uvep->timer.data = uvep;
  uvep->send_req.data = uvep;
  uvep->open_handles = 2;
  rv = uv_udp_open(&uvep->udp, fd);
  if (rv != 0) {
    close(fd);
  } else {
    rv = uv_udp_recv_start(&uvep->udp, on_alloc, on_recv);
  }
  if (rv != 0) {
    /* Handles must close through the loop; report the error through the
     * stats and leave nothing for the caller to release but *uvep. */
    note_error(uvep, rv);
    tcpu_uv_endpoint_close(uvep, NULL);
    return rv;
  }
  return 0;

fail:
  free(uvep->sendbuf);
  free(uvep->recvbuf);
  tcpu_endpoint_del(uvep->ep);
  memset(uvep, 0, sizeof(*uvep));
  return rv;
}

int tcpu_uv_endpoint_local_addr(const tcpu_uv_endpoint *uvep, tcpu_addr *addr) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  int rv;

  if (uvep == NULL || uvep->ep == NULL)
    return TCPU_ERR_STATE;
  rv = uv_udp_getsockname(&uvep->udp, (struct sockaddr *)&ss, &len);
  if (rv != 0)
    return rv;
  return tcpu_uv_addr_from_sockaddr(addr, (const struct sockaddr *)&ss);
}

void tcpu_uv_endpoint_get_stats(const tcpu_uv_endpoint *uvep,
                                tcpu_uv_stats *st) {
  *st = uvep->stats;
}

static void on_handle_closed(uv_handle_t *handle) {
  tcpu_uv_endpoint *uvep = handle->data;

  if (--uvep->open_handles > 0)
    return;
  free(uvep->sendbuf);
  free(uvep->recvbuf);
  uvep->sendbuf = NULL;
  uvep->recvbuf = NULL;
  if (uvep->close_cb != NULL)
    uvep->close_cb(uvep);
}

static void finish_close(tcpu_uv_endpoint *uvep) {
  drain(uvep, 0);
  tcpu_endpoint_del(uvep->ep);
  uvep->ep = NULL;
  /* A queued send_req completes with UV_ECANCELED before the close
   * callbacks, so sendbuf lives until on_handle_closed frees it. */
  uv_close((uv_handle_t *)&uvep->udp, on_handle_closed);
  uv_close((uv_handle_t *)&uvep->timer, on_handle_closed);
}

void tcpu_uv_endpoint_close(tcpu_uv_endpoint *uvep, tcpu_uv_close_cb close_cb) {
  if (uvep == NULL || uvep->closing || uvep->ep == NULL)
    return;
  uvep->closing = 1;
  uvep->close_cb = close_cb;
  uv_udp_recv_stop(&uvep->udp);
  uv_timer_stop(&uvep->timer);
  if (!uvep->in_core)
    finish_close(uvep);
}
