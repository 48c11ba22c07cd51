/*
 * endpoint.c — one core endpoint on one UDP socket and one timer: the I/O
 * half of the binding (internal.h describes the contract with stream.c).
 *
 * Flow: a batch of datagrams in (io_linux.c: recvmmsg, GRO) ->
 * tcpu_endpoint_recv for each, inside one batch; core timer (hrtimer.c)
 * -> handle_expiry; each batch's end lets stream.c deliver the
 * application's callbacks and then flushes: run due timers, drain
 * tcpu_endpoint_send straight into the engine's send queue (runs of equal
 * datagrams to one peer leave as UDP GSO super-datagrams, batches of them
 * by sendmmsg), re-arm the timer from tcpu_endpoint_get_expiry.
 *
 * Deadlines are kept to the nanosecond: pacing asks for the next segment
 * tens of microseconds ahead at high rates, which a millisecond uv_timer_t
 * would round up to a whole millisecond (a stall, then a burst).
 * hrtimer.h explains the timerfd and its fallback.
 *
 * A full socket (EAGAIN) keeps the unsent datagrams queued in the engine,
 * which waits for the socket to become writable; draining stops until then
 * and the engine's drain callback resumes it.  While output waits the timer
 * is armed only for deadlines still ahead, so an overdue pacing deadline
 * cannot spin the loop.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nat/rendezvous.h"
#include "uv/internal.h"

/* Room given to tcpu_endpoint_send beyond tcpu_endpoint_max_dgram: a TCP
 * header's whole option space.  The core sizes a full data segment by the
 * MSS less the timestamp option and then adds any SACK blocks on top, so
 * such a segment can exceed max_dgram by up to 28 bytes.  Without the room
 * tcpu_endpoint_send fails with NOBUF after the connection has left its
 * output queue, and that connection never sends again; with it the
 * datagram goes out slightly oversized (the kernel fragments it if the
 * path needs that).  Counted in tcpu_uv_stats.send_oversize. */
#define SENDBUF_SLACK 40

static void on_timer(tcpu_hrtimer *timer);

tcpu_tstamp tcpu_uv__now(void) { return uv_hrtime(); }

static void note_error(tcpu_uv_endpoint_impl *impl, int err) {
  if (err < 0)
    impl->stats.last_error = tcpu_uv_translate_error(err);
}

/* The engine keeps its own last socket error; take it over when its error
 * counters moved, so last_error stays the latest of core and socket. */
static void note_io_error(tcpu_uv_endpoint_impl *impl) {
  uint64_t errs = impl->io.stats.send_errors + impl->io.stats.recv_errors;

  if (errs != impl->io_errors_seen) {
    impl->io_errors_seen = errs;
    if (impl->io.stats.last_error != 0)
      impl->stats.last_error = impl->io.stats.last_error;
  }
}

/* ------------------------------------------------------------ addresses */

/* The conversions live in the I/O engine (io_linux.c); the public names
 * only add argument checks and libuv's error codes. */
int tcpu_uv_addr_from_sockaddr(tcpu_addr *addr, const struct sockaddr *sa) {
  if (addr == NULL || sa == NULL)
    return UV_EINVAL;
  return tcpu_io_addr_from_sockaddr(addr, sa) == 0 ? 0 : UV_EAFNOSUPPORT;
}

int tcpu_uv_addr_to_sockaddr(struct sockaddr_storage *ss, socklen_t *len,
                             const tcpu_addr *addr) {
  if (ss == NULL || addr == NULL)
    return UV_EINVAL;
  socklen_t n = tcpu_io_addr_to_sockaddr(ss, addr);
  if (n == 0)
    return UV_EAFNOSUPPORT;
  if (len != NULL)
    *len = n;
  return 0;
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

/* The engine's queue emptied after the socket was full: carry on. */
static void on_drained(tcpu_io *io) {
  tcpu_uv_endpoint_impl *impl = io->data;

  if (impl->closing)
    return;
  tcpu_uv__ep_batch_begin(impl);
  tcpu_uv__ep_batch_end(impl);
}

/* Pulls datagrams from the core into the engine's send queue until the
 * core has none due or the socket is full, then pushes the queue out.  The
 * clock is read every NOW_EVERY datagrams, not for each: a few
 * microseconds of staleness only make the pacer a little conservative. */
#define NOW_EVERY 8

static void drain(tcpu_uv_endpoint_impl *impl) {
  size_t room = impl->io.max_dgram;
  tcpu_tstamp now = 0;
  unsigned k = 0;
  uint8_t *buf;

  while ((buf = tcpu_io_next_buf(&impl->io)) != NULL) {
    tcpu_addr to;
    if (k++ % NOW_EVERY == 0)
      now = tcpu_uv__now();
    tcpu_ssize n = tcpu_endpoint_send(impl->ep, &to, buf, room, now);
    if (n == 0)
      break;
    if (n < 0) {
      /* The core's own error; output resumes at the next flush. */
      note_error(impl, (int)n);
      break;
    }
    if ((size_t)n > impl->core_max_dgram)
      impl->stats.send_oversize++;
    tcpu_io_commit(&impl->io, &to, (size_t)n);
  }
  tcpu_io_flush(&impl->io);
  note_io_error(impl);
}

static void arm_timer(tcpu_uv_endpoint_impl *impl) {
  tcpu_tstamp exp = tcpu_endpoint_get_expiry(impl->ep);

  if (exp == TCPU_TSTAMP_NONE ||
      (tcpu_io_blocked(&impl->io) && exp <= tcpu_uv__now())) {
    /* While output waits, on_drained flushes and so runs overdue timers. */
    tcpu_hrtimer_stop(&impl->timer);
    return;
  }
  /* A deadline already passed fires at the next turn of the loop, after
   * the input waiting there: timers cannot starve the socket. */
  tcpu_hrtimer_start(&impl->timer, on_timer, exp);
}

/* Runs the core's due timers, sends what is due, re-arms the timer. */
static void flush_now(tcpu_uv_endpoint_impl *impl) {
  if (impl->closing)
    return;
  if (!tcpu_io_blocked(&impl->io)) {
    tcpu_tstamp now = tcpu_uv__now();
    if (tcpu_endpoint_get_expiry(impl->ep) <= now)
      note_error(impl, tcpu_endpoint_handle_expiry(impl->ep, now));
  }
  drain(impl);
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

void tcpu_uv_endpoint_flush(tcpu_uv_endpoint *uvep) {
  if (uvep != NULL)
    tcpu_uv__ep_flush(uvep->impl);
}

void tcpu_uv__ep_flush(tcpu_uv_endpoint_impl *impl) {
  if (impl == NULL || impl->closing || impl->batch > 0)
    return;
  flush_now(impl);
  if (tcpu_uv__streams_pending(impl))
    tcpu_uv__streams_defer(impl);
}

static void on_timer(tcpu_hrtimer *timer) {
  tcpu_uv_endpoint_impl *impl = timer->data;

  if (impl->closing)
    return;
  tcpu_uv__ep_batch_begin(impl);
  note_error(impl, tcpu_endpoint_handle_expiry(impl->ep, tcpu_uv__now()));
  tcpu_uv__ep_batch_end(impl);
}

/* ---------------------------------------------------------------- input */

/* One datagram of a receive batch: the first one opens the batch, the
 * engine's batch callback closes it, so the whole batch is one flush (one
 * ACK for many segments, as Linux acknowledges after GRO). */
static void on_datagram(tcpu_io *io, const tcpu_addr *from,
                        const uint8_t *data, size_t len, tcpu_tstamp now) {
  tcpu_uv_endpoint_impl *impl = io->data;

  if (impl->closing)
    return;
  if (!impl->in_recv) {
    impl->in_recv = 1;
    tcpu_uv__ep_batch_begin(impl);
  }
  /* Rendezvous messages share the socket (nat/rendezvous.h). */
  if (impl->rdv.used && tcpu_rdv_is_message(data, len)) {
    tcpu_uv__rdv_input(impl, from, data, len);
    return;
  }
  note_error(impl, tcpu_endpoint_recv(impl->ep, from, data, len, now));
}

static void on_batch(tcpu_io *io) {
  tcpu_uv_endpoint_impl *impl = io->data;

  note_io_error(impl);
  if (!impl->in_recv)
    return;
  impl->in_recv = 0;
  tcpu_uv__ep_batch_end(impl);
}

/* ------------------------------------------------------------ lifecycle */

/* Every part of the endpoint that closes through the loop (the engine, the
 * timer, stream.c's timer) ends here; the last one frees impl. */
static void part_closed(tcpu_uv_endpoint_impl *impl) {
  tcpu_uv_endpoint *uvep;
  tcpu_uv_endpoint_close_cb cb;

  if (--impl->open_handles > 0)
    return;
  /* Whatever the streams still had to say comes before the end. */
  tcpu_uv__streams_dispatch(impl);
  uvep = impl->uvep;
  cb = impl->close_cb;
  free(impl);
  if (uvep != NULL) {
    uvep->impl = NULL;
    if (cb != NULL)
      cb(uvep);
  }
}

void tcpu_uv__ep_handle_closed(uv_handle_t *handle) {
  part_closed(handle->data);
}

static void io_closed(tcpu_io *io) { part_closed(io->data); }

static void timer_closed(tcpu_hrtimer *timer) { part_closed(timer->data); }

int tcpu_uv_endpoint_init(uv_loop_t *loop, tcpu_uv_endpoint *uvep,
                          const tcpu_settings *settings,
                          const struct sockaddr *bind_addr,
                          unsigned int flags) {
  tcpu_uv_endpoint_impl *impl;
  tcpu_settings defaults;
  int rv;

  if (loop == NULL || uvep == NULL || bind_addr == NULL ||
      (flags & ~(unsigned)TCPU_UV_IPV6ONLY) != 0)
    return UV_EINVAL;
  memset(uvep, 0, sizeof(*uvep));
  if (bind_addr->sa_family != AF_INET && bind_addr->sa_family != AF_INET6)
    return UV_EAFNOSUPPORT;
  if (settings == NULL)
    tcpu_settings_default(&defaults);
  else
    defaults = *settings;
  /* Sealed mode's TAI64N timestamps need wall time; the core reads no
   * clock, so it learns the offset from the monotonic clock it is given. */
  if (defaults.wall_clock_offset == 0) {
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) == 0)
      defaults.wall_clock_offset = (uint64_t)tv.tv_sec * 1000000000u +
                                   (uint64_t)tv.tv_usec * 1000u -
                                   tcpu_uv__now();
  }
  settings = &defaults;
  impl = calloc(1, sizeof(*impl));
  if (impl == NULL)
    return UV_ENOMEM;
  rv = tcpu_endpoint_new(&impl->ep, settings, &tcpu_uv__stream_callbacks,
                         impl, tcpu_uv__now());
  sodium_memzero(defaults.private_key, sizeof defaults.private_key);
  if (rv != 0) {
    free(impl);
    return tcpu_uv_translate_error(rv);
  }
  impl->core_max_dgram = tcpu_endpoint_max_dgram(impl->ep);
  impl->family = bind_addr->sa_family;
  if (impl->family == AF_INET6) {
    const struct in6_addr *a =
        &((const struct sockaddr_in6 *)bind_addr)->sin6_addr;
    /* Only "::" and IPv4-mapped addresses reach IPv4 peers. */
    impl->v6only = (flags & TCPU_UV_IPV6ONLY) ||
                   !(IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_V4MAPPED(a));
  }
  impl->uvep = uvep;
  impl->loop = loop;
  /* The socket and its poll handle: nothing is left open when it fails.
   * The timer cannot fail (it falls back to a uv_timer_t). */
  rv = tcpu_io_init(loop, &impl->io, bind_addr,
                    impl->core_max_dgram + SENDBUF_SLACK,
                    (flags & TCPU_UV_IPV6ONLY) ? TCPU_IO_V6ONLY : 0,
                    on_datagram, on_batch, on_drained);
  if (rv != 0) {
    tcpu_endpoint_del(impl->ep);
    free(impl);
    return tcpu_uv_translate_error(rv);
  }
  impl->io.data = impl;
  tcpu_hrtimer_init(loop, &impl->timer, 0);
  impl->timer.data = impl;
  impl->open_handles = 2;
  tcpu_uv__streams_init(impl);
  uvep->loop = loop;
  uvep->ep = impl->ep;
  uvep->impl = impl;
  return 0;
}

int tcpu_uv_endpoint_getsockname(const tcpu_uv_endpoint *uvep,
                                 struct sockaddr *name, int *namelen) {
  socklen_t len;

  if (uvep == NULL || uvep->impl == NULL || uvep->impl->closing ||
      name == NULL || namelen == NULL || *namelen < 0)
    return UV_EINVAL;
  /* What uv_udp_getsockname does with the socket of a uv_udp_t. */
  len = (socklen_t)*namelen;
  if (getsockname(uvep->impl->io.fd, name, &len) != 0)
    return uv_translate_sys_error(errno);
  *namelen = (int)len;
  return 0;
}

void tcpu_uv_endpoint_get_stats(const tcpu_uv_endpoint *uvep,
                                tcpu_uv_stats *st) {
  const tcpu_uv_endpoint_impl *impl;

  if (st == NULL)
    return;
  if (uvep == NULL || uvep->impl == NULL) {
    memset(st, 0, sizeof(*st));
    return;
  }
  impl = uvep->impl;
  *st = impl->stats;
  st->dgrams_received = impl->io.stats.dgrams_received;
  st->dgrams_sent = impl->io.stats.dgrams_sent;
  st->recv_errors = impl->io.stats.recv_errors;
  st->send_errors = impl->io.stats.send_errors;
  st->send_blocked = impl->io.stats.send_blocked;
}

void tcpu_uv_endpoint_close(tcpu_uv_endpoint *uvep,
                            tcpu_uv_endpoint_close_cb close_cb) {
  tcpu_uv_endpoint_impl *impl;

  if (uvep == NULL || uvep->impl == NULL || uvep->impl->closing)
    return;
  impl = uvep->impl;
  impl->closing = 1;
  impl->close_cb = close_cb;
  tcpu_hrtimer_stop(&impl->timer);
  tcpu_uv__streams_close(impl);
  tcpu_uv__rdv_close(impl);
  /* What is due now goes as far as the socket takes it without waiting;
   * tcpu_io_close drops the rest. */
  drain(impl);
  tcpu_endpoint_del(impl->ep);
  impl->ep = NULL;
  uvep->ep = NULL;
  tcpu_io_close(&impl->io, io_closed);
  tcpu_hrtimer_close(&impl->timer, timer_closed);
}

static void segment_tap(void *arg, int outgoing, const tcpu_addr *peer,
                        const uint8_t *seg, size_t len) {
  tcpu_uv_endpoint_impl *impl = arg;
  impl->tap(impl->uvep, outgoing, peer, seg, len, impl->tap_arg);
}

void tcpu_uv_endpoint_set_tap(tcpu_uv_endpoint *uvep, tcpu_uv_tap_cb cb,
                              void *arg) {
  uvep->impl->tap = cb;
  uvep->impl->tap_arg = arg;
  /* The core shows segments, sealed mode's opened: what a capture wants. */
  tcpu_endpoint_set_segment_tap(uvep->impl->ep, cb ? segment_tap : NULL,
                                uvep->impl);
}
