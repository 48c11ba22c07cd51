/*
 * endpoint.c — one core endpoint on one libuv UDP socket and one timer:
 * the I/O half of the binding (internal.h describes the contract with
 * stream.c).
 *
 * Flow: datagram in -> tcpu_endpoint_recv; core timer -> handle_expiry;
 * each inside a batch, whose end lets stream.c deliver the application's
 * callbacks and then flushes: run due timers, drain tcpu_endpoint_send into
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
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uv/internal.h"

/* The largest UDP payload over IPv4/IPv6 (without jumbograms). */
#define RECVBUF_LEN 65536
/* Socket buffers asked of the kernel: Linux's 208 KiB default holds fewer
 * than 100 full-sized datagrams, less than one burst of a congestion
 * window, and overflows on loopback.  The kernel caps the request at
 * net.core.rmem_max / wmem_max. */
#define SOCKBUF_LEN (4 << 20)
/* Room given to tcpu_endpoint_send beyond tcpu_endpoint_max_dgram: a TCP
 * header's whole option space.  The core sizes a full data segment by the
 * MSS less the timestamp option and then adds any SACK blocks on top, so
 * such a segment can exceed max_dgram by up to 28 bytes.  Without the room
 * tcpu_endpoint_send fails with NOBUF after the connection has left its
 * output queue, and that connection never sends again; with it the
 * datagram goes out slightly oversized (the kernel fragments it if the
 * path needs that).  Counted in tcpu_uv_stats.send_oversize. */
#define SENDBUF_SLACK 40

static void on_timer(uv_timer_t *timer);

tcpu_tstamp tcpu_uv__now(void) { return uv_hrtime(); }

static void note_error(tcpu_uv_endpoint_impl *impl, int err) {
  if (err < 0)
    impl->stats.last_error = tcpu_uv_translate_error(err);
}

/* ------------------------------------------------------------ addresses */

int tcpu_uv_addr_from_sockaddr(tcpu_addr *addr, const struct sockaddr *sa) {
  if (addr == NULL || sa == NULL)
    return UV_EINVAL;
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
  return UV_EAFNOSUPPORT;
}

int tcpu_uv_addr_to_sockaddr(struct sockaddr_storage *ss, socklen_t *len,
                             const tcpu_addr *addr) {
  if (ss == NULL || addr == NULL)
    return UV_EINVAL;
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
  return UV_EAFNOSUPPORT;
}

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 0, 0xff, 0xff};

int tcpu_uv__ep_peer_addr(const tcpu_uv_endpoint_impl *impl,
                          const struct sockaddr *sa, tcpu_addr *peer) {
  int rv = tcpu_uv_addr_from_sockaddr(peer, sa);

  if (rv != 0)
    return rv;
  if (impl->family == AF_INET6 && peer->family == TCPU_AF_INET) {
    if (impl->v6only)
      return UV_EAFNOSUPPORT;
    memmove(peer->ip + 12, peer->ip, 4);
    memcpy(peer->ip, v4mapped_prefix, 12);
    peer->family = TCPU_AF_INET6;
  } else if (impl->family == AF_INET && peer->family == TCPU_AF_INET6) {
    if (memcmp(peer->ip, v4mapped_prefix, 12) != 0)
      return UV_EAFNOSUPPORT;
    memmove(peer->ip, peer->ip + 12, 4);
    memset(peer->ip + 4, 0, 12);
    peer->family = TCPU_AF_INET;
    peer->scope_id = 0;
  }
  return 0;
}

/* --------------------------------------------------------------- output */

static void on_sent(uv_udp_send_t *req, int status) {
  tcpu_uv_endpoint_impl *impl = req->data;

  impl->send_busy = 0;
  if (status == UV_ECANCELED || impl->closing)
    return;
  if (status < 0) {
    impl->stats.send_errors++;
    note_error(impl, status);
  } else {
    impl->stats.dgrams_sent++;
  }
  tcpu_uv__ep_batch_begin(impl);
  tcpu_uv__ep_batch_end(impl);
}

/* Hands one datagram of sendbuf to the socket.  Returns 1 when draining
 * must stop (the datagram waits in send_req, or may_wait is 0 and the
 * socket is full), else 0 (sent, or refused and dropped as a lost packet). */
static int send_one(tcpu_uv_endpoint_impl *impl, const tcpu_addr *to,
                    size_t len, int may_wait) {
  socklen_t salen;
  uv_buf_t buf = uv_buf_init((char *)impl->sendbuf, (unsigned int)len);
  int rv;

  if (tcpu_uv_addr_to_sockaddr(&impl->send_to, &salen, to) != 0) {
    impl->stats.send_errors++;
    note_error(impl, UV_EAFNOSUPPORT);
    return 0;
  }
  rv = uv_udp_try_send(&impl->udp, &buf, 1,
                       (const struct sockaddr *)&impl->send_to);
  if (rv >= 0) {
    impl->stats.dgrams_sent++;
    return 0;
  }
  if (rv == UV_EAGAIN) {
    impl->stats.send_blocked++;
    if (!may_wait) {
      /* Closing: nothing more fits, the rest is lost with the endpoint. */
      impl->stats.send_errors++;
      return 1;
    }
    rv = uv_udp_send(&impl->send_req, &impl->udp, &buf, 1,
                     (const struct sockaddr *)&impl->send_to, on_sent);
    if (rv == 0) {
      impl->send_busy = 1;
      return 1;
    }
  }
  impl->stats.send_errors++;
  note_error(impl, rv);
  return 0;
}

/* Pulls datagrams from the core until it has none due or the socket is
 * full. */
static void drain(tcpu_uv_endpoint_impl *impl, int may_wait) {
  for (;;) {
    tcpu_addr to;
    tcpu_ssize n;

    if (impl->send_busy)
      return;
    n = tcpu_endpoint_send(impl->ep, &to, impl->sendbuf, impl->sendbuf_len,
                           tcpu_uv__now());
    if (n == 0)
      return;
    if (n == TCPU_ERR_NOBUF &&
        tcpu_endpoint_max_dgram(impl->ep) + SENDBUF_SLACK > impl->sendbuf_len) {
      size_t want = tcpu_endpoint_max_dgram(impl->ep) + SENDBUF_SLACK;
      uint8_t *p = realloc(impl->sendbuf, want);
      if (p == NULL) {
        note_error(impl, TCPU_ERR_NOMEM);
        return;
      }
      impl->sendbuf = p;
      impl->sendbuf_len = want;
      continue;
    }
    if (n < 0) {
      /* The core's own error; output resumes at the next flush. */
      note_error(impl, (int)n);
      return;
    }
    if ((size_t)n > tcpu_endpoint_max_dgram(impl->ep))
      impl->stats.send_oversize++;
    if (send_one(impl, &to, (size_t)n, may_wait))
      return;
  }
}

static void arm_timer(tcpu_uv_endpoint_impl *impl) {
  tcpu_tstamp exp = tcpu_endpoint_get_expiry(impl->ep);
  tcpu_tstamp now = tcpu_uv__now();
  uint64_t ms;

  if (exp == TCPU_TSTAMP_NONE || (impl->send_busy && exp <= now)) {
    /* While output waits, on_sent flushes and so runs overdue timers. */
    uv_timer_stop(&impl->timer);
    return;
  }
  ms = exp <= now ? 0 : (exp - now + TCPU_NS_PER_MS - 1) / TCPU_NS_PER_MS;
  /* libuv counts the timeout from the loop's cached time. */
  uv_update_time(impl->loop);
  uv_timer_start(&impl->timer, on_timer, ms, 0);
}

/* Runs the core's due timers, sends what is due, re-arms the timer. */
static void flush_now(tcpu_uv_endpoint_impl *impl) {
  if (impl->closing)
    return;
  if (!impl->send_busy) {
    tcpu_tstamp now = tcpu_uv__now();
    if (tcpu_endpoint_get_expiry(impl->ep) <= now)
      note_error(impl, tcpu_endpoint_handle_expiry(impl->ep, now));
  }
  drain(impl, 1);
  arm_timer(impl);
}

void tcpu_uv__ep_batch_begin(tcpu_uv_endpoint_impl *impl) { impl->batch++; }

void tcpu_uv__ep_batch_end(tcpu_uv_endpoint_impl *impl) {
  if (impl->batch > 1) {
    impl->batch--;
    return;
  }
  /* Callbacks may write (flushing produces events: more callbacks); each
   * round moves data, so this ends when the application stops acting. */
  for (;;) {
    tcpu_uv__streams_dispatch(impl);
    if (impl->closing)
      break;
    flush_now(impl);
    if (!tcpu_uv__streams_pending(impl))
      break;
  }
  impl->batch = 0;
}

void tcpu_uv__ep_flush(tcpu_uv_endpoint_impl *impl) {
  if (impl == NULL || impl->closing || impl->batch > 0)
    return;
  flush_now(impl);
  if (tcpu_uv__streams_pending(impl))
    tcpu_uv__streams_defer(impl);
}

static void on_timer(uv_timer_t *timer) {
  tcpu_uv_endpoint_impl *impl = timer->data;

  if (impl->closing)
    return;
  tcpu_uv__ep_batch_begin(impl);
  note_error(impl, tcpu_endpoint_handle_expiry(impl->ep, tcpu_uv__now()));
  tcpu_uv__ep_batch_end(impl);
}

/* ---------------------------------------------------------------- input */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  tcpu_uv_endpoint_impl *impl = handle->data;

  (void)suggested;
  *buf = uv_buf_init((char *)impl->recvbuf, RECVBUF_LEN);
}

static void on_recv(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags) {
  tcpu_uv_endpoint_impl *impl = udp->data;
  tcpu_addr addr;

  if (impl->closing || (nread == 0 && from == NULL))
    return; /* closed, or nothing more to read */
  if (nread < 0 || (flags & UV_UDP_PARTIAL) ||
      tcpu_uv_addr_from_sockaddr(&addr, from) != 0) {
    impl->stats.recv_errors++;
    note_error(impl, nread < 0 ? (int)nread : UV_EMSGSIZE);
    return;
  }
  impl->stats.dgrams_received++;
  tcpu_uv__ep_batch_begin(impl);
  note_error(impl, tcpu_endpoint_recv(impl->ep, &addr,
                                      (const uint8_t *)buf->base,
                                      (size_t)nread, tcpu_uv__now()));
  tcpu_uv__ep_batch_end(impl);
}

/* ------------------------------------------------------------ lifecycle */

/* A nonblocking, close-on-exec UDP socket bound to addr, so that every
 * fallible step comes before any libuv handle exists.  An IPv6 socket is
 * dual-stack unless v6only. */
static int open_socket(const struct sockaddr *addr, int v6only,
                       uv_os_sock_t *pfd) {
  int bufsize = SOCKBUF_LEN;
  socklen_t len;
  int fd;

  if (addr->sa_family == AF_INET)
    len = sizeof(struct sockaddr_in);
  else if (addr->sa_family == AF_INET6)
    len = sizeof(struct sockaddr_in6);
  else
    return UV_EAFNOSUPPORT;
  fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  if (addr->sa_family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) {
    int err = uv_translate_sys_error(errno);
    close(fd);
    return err;
  }
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

static void impl_free(tcpu_uv_endpoint_impl *impl) {
  free(impl->sendbuf);
  free(impl->recvbuf);
  free(impl);
}

int tcpu_uv_endpoint_init(uv_loop_t *loop, tcpu_uv_endpoint *uvep,
                          const tcpu_settings *settings,
                          const struct sockaddr *bind_addr,
                          unsigned int flags) {
  tcpu_uv_endpoint_impl *impl;
  tcpu_settings defaults;
  uv_os_sock_t fd = -1;
  int rv;

  if (loop == NULL || uvep == NULL || bind_addr == NULL ||
      (flags & ~(unsigned)TCPU_UV_IPV6ONLY) != 0)
    return UV_EINVAL;
  memset(uvep, 0, sizeof(*uvep));
  if (bind_addr->sa_family != AF_INET && bind_addr->sa_family != AF_INET6)
    return UV_EAFNOSUPPORT;
  if (settings == NULL) {
    tcpu_settings_default(&defaults);
    settings = &defaults;
  }
  impl = calloc(1, sizeof(*impl));
  if (impl == NULL)
    return UV_ENOMEM;
  rv = tcpu_endpoint_new(&impl->ep, settings, &tcpu_uv__stream_callbacks,
                         impl, tcpu_uv__now());
  if (rv != 0) {
    free(impl);
    return tcpu_uv_translate_error(rv);
  }
  impl->sendbuf_len = tcpu_endpoint_max_dgram(impl->ep) + SENDBUF_SLACK;
  impl->sendbuf = malloc(impl->sendbuf_len);
  impl->recvbuf = malloc(RECVBUF_LEN);
  if (impl->sendbuf == NULL || impl->recvbuf == NULL) {
    rv = UV_ENOMEM;
    goto fail;
  }
  impl->family = bind_addr->sa_family;
  if (impl->family == AF_INET6) {
    const struct in6_addr *a =
        &((const struct sockaddr_in6 *)bind_addr)->sin6_addr;
    /* Only "::" and IPv4-mapped addresses reach IPv4 peers. */
    impl->v6only = (flags & TCPU_UV_IPV6ONLY) ||
                   !(IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_V4MAPPED(a));
  }
  rv = open_socket(bind_addr, (flags & TCPU_UV_IPV6ONLY) != 0, &fd);
  if (rv != 0)
    goto fail;

  /* From here on handles exist.  On Unix uv_udp_init (AF_UNSPEC) and
   * uv_timer_init cannot fail, uv_udp_open of a fresh socket fails only on
   * a broken loop, and uv_udp_recv_start only if already started. */
  impl->uvep = uvep;
  impl->loop = loop;
  uv_udp_init(loop, &impl->udp);
  uv_timer_init(loop, &impl->timer);
  impl->udp.data = impl;
  impl->timer.data = impl;
  impl->send_req.data = impl;
  impl->open_handles = 2;
  tcpu_uv__streams_init(impl);
  rv = uv_udp_open(&impl->udp, fd);
  if (rv != 0)
    close(fd);
  else
    rv = uv_udp_recv_start(&impl->udp, on_alloc, on_recv);
  if (rv != 0) {
    /* The handles close through the loop and free impl; *uvep is the
     * caller's again at once. */
    impl->uvep = NULL;
    impl->closing = 1;
    tcpu_uv__streams_close(impl);
    tcpu_endpoint_del(impl->ep);
    impl->ep = NULL;
    uv_close((uv_handle_t *)&impl->udp, tcpu_uv__ep_handle_closed);
    uv_close((uv_handle_t *)&impl->timer, tcpu_uv__ep_handle_closed);
    return rv;
  }
  uvep->loop = loop;
  uvep->ep = impl->ep;
  uvep->impl = impl;
  return 0;

fail:
  tcpu_endpoint_del(impl->ep);
  impl_free(impl);
  return rv;
}

int tcpu_uv_endpoint_getsockname(const tcpu_uv_endpoint *uvep,
                                 struct sockaddr *name, int *namelen) {
  if (uvep == NULL || uvep->impl == NULL || uvep->impl->closing ||
      name == NULL || namelen == NULL)
    return UV_EINVAL;
  return uv_udp_getsockname(&uvep->impl->udp, name, namelen);
}

void tcpu_uv_endpoint_get_stats(const tcpu_uv_endpoint *uvep,
                                tcpu_uv_stats *st) {
  if (st == NULL)
    return;
  if (uvep == NULL || uvep->impl == NULL)
    memset(st, 0, sizeof(*st));
  else
    *st = uvep->impl->stats;
}

void tcpu_uv__ep_handle_closed(uv_handle_t *handle) {
  tcpu_uv_endpoint_impl *impl = handle->data;
  tcpu_uv_endpoint *uvep;
  tcpu_uv_endpoint_close_cb cb;

  if (--impl->open_handles > 0)
    return;
  /* Whatever the streams still had to say comes before the end. */
  tcpu_uv__streams_dispatch(impl);
  uvep = impl->uvep;
  cb = impl->close_cb;
  impl_free(impl);
  if (uvep != NULL) {
    uvep->impl = NULL;
    if (cb != NULL)
      cb(uvep);
  }
}

void tcpu_uv_endpoint_close(tcpu_uv_endpoint *uvep,
                            tcpu_uv_endpoint_close_cb close_cb) {
  tcpu_uv_endpoint_impl *impl;

  if (uvep == NULL || uvep->impl == NULL || uvep->impl->closing)
    return;
  impl = uvep->impl;
  impl->closing = 1;
  impl->close_cb = close_cb;
  uv_udp_recv_stop(&impl->udp);
  uv_timer_stop(&impl->timer);
  tcpu_uv__streams_close(impl);
  drain(impl, 0);
  tcpu_endpoint_del(impl->ep);
  impl->ep = NULL;
  uvep->ep = NULL;
  /* A queued send_req completes with UV_ECANCELED before the close
   * callbacks, so sendbuf lives until the last of them frees impl. */
  uv_close((uv_handle_t *)&impl->udp, tcpu_uv__ep_handle_closed);
  uv_close((uv_handle_t *)&impl->timer, tcpu_uv__ep_handle_closed);
}
