/*
 * internal.h — the libuv binding's internal interface.  Not installed.
 *
 *   endpoint.c  I/O: the UDP socket, the core's timer, feeding datagrams to
 *               the core, draining its output, closing.  Knows nothing of
 *               streams beyond the calls below.
 *   io_linux.c  the batched datagram engine endpoint.c runs the socket on
 *               (io.h: recvmmsg/sendmmsg, UDP GRO/GSO, EAGAIN queueing).
 *   hrtimer.c   the nanosecond timer endpoint.c runs the core's deadline
 *               on (hrtimer.h: timerfd, uv_timer_t fallback).
 *   stream.c    the uv-style stream API of tcpu_uv.h: handles, requests,
 *               the core's callbacks, deferred delivery of the
 *               application's callbacks, connect deadlines.
 *   error.c     TCPU_ERR_* -> UV_E* (tcpu_uv_translate_error).
 *   rendezvous.c the rendezvous client (tcpu_uv_rendezvous_*): its
 *               messages go out on the engine and come in diverted from
 *               endpoint.c's input before the core (tcpu_uv__rdv_input);
 *               one timer per endpoint, closed with it (tcpu_uv__rdv_close).
 *   rendezvous_connect.c  meeting a peer and the one-call connect on top.
 *
 * Internal names are tcpu_uv__* (libuv's uv__ convention), so that they
 * cannot be taken for the public tcpu_uv_* ones; -fvisibility=hidden keeps
 * them out of libtcpu.so.
 *
 * The contract between the two halves:
 *
 *   Batches.  Work that starts in the loop (datagrams received, the core's
 *   timer, the socket drained, stream.c's timer) is bracketed by
 *   tcpu_uv__ep_batch_begin / tcpu_uv__ep_batch_end.  Inside a batch the
 *   core runs and its callbacks (stream.c's tcpu_uv__stream_callbacks) only
 *   record events on the streams.  tcpu_uv__ep_batch_end then alternates
 *   tcpu_uv__streams_dispatch (the application's callbacks run, outside any
 *   core call; calls they make into the core do not flush) and a flush (run
 *   due core timers, drain tcpu_endpoint_send into the socket, re-arm the
 *   timer) until neither has anything left.  An I/O engine that receives
 *   datagrams in batches (recvmmsg) feeds all of them between one begin and
 *   one end.
 *
 *   User calls.  Every tcpu_uv_* call that changed the core ends with
 *   tcpu_uv__ep_flush.  Inside a batch that is a no-op (the batch flushes at
 *   its end).  Outside one (the application's own code, other libuv
 *   callbacks) it flushes at once and, if the core's events left stream work
 *   behind, has stream.c run it from the loop (tcpu_uv__streams_defer), so
 *   the application's callbacks never run inside its own call.
 *
 *   Closing.  tcpu_uv_endpoint_close (endpoint.c) calls
 *   tcpu_uv__streams_close, which detaches every stream from the core
 *   (their connections die with the core endpoint) and closes stream.c's
 *   timer; then endpoint.c deletes the core and closes the engine and the
 *   timer.  Every uv handle of the endpoint (the engine's and the timer's
 *   count as one each) counts in impl->open_handles and its close ends in
 *   tcpu_uv__ep_handle_closed (the engine's and the timer's close
 *   callbacks forward there); the last one frees impl and runs the
 *   endpoint's close callback, after stream.c delivered what was left.
 */
#ifndef TCPU_UV_INTERNAL_H
#define TCPU_UV_INTERNAL_H

#include "tcpu/tcpu_uv.h"
#include "uv/hrtimer.h"
#include "uv/io.h"

/* rendezvous.c's per-endpoint state: its clients (registrations and
 * lookups) and the timer that resends their requests. */
enum { TCPU_UV__RDV_REGISTER = 1, TCPU_UV__RDV_LOOKUP = 2 }; /* client kind */

typedef struct tcpu_uv_rdvs {
  tcpu_uv_rdv_client *clients;
  uv_timer_t timer;  /* counted in open_handles once opened */
  unsigned serial;   /* marks the clients a pass has visited */
  unsigned used : 1; /* the timer is open: rendezvous input is diverted */
} tcpu_uv_rdvs;

/* stream.c's per-endpoint state. */
typedef struct tcpu_uv_streams {
  tcpu_uv_stream *all;                       /* every stream not yet closed */
  tcpu_uv_stream *pending_head, *pending_tail; /* work for dispatch */
  tcpu_uv_stream *connecting;  /* streams with a connect deadline */
  uv_timer_t timer;            /* deferred work (0 ms) and connect deadlines */
  unsigned read_retries;       /* streams whose alloc_cb gave no buffer */
  unsigned dispatching : 1;
} tcpu_uv_streams;

struct tcpu_uv_endpoint_impl {
  tcpu_uv_endpoint *uvep;
  tcpu_endpoint *ep; /* the core; NULL once closing */
  uv_loop_t *loop;

  /* ---- endpoint.c: I/O */
  tcpu_io io;              /* the UDP socket, batched (io_linux.c) */
  tcpu_hrtimer timer;      /* the core's expiry, ns precision (hrtimer.c) */
  size_t core_max_dgram;   /* tcpu_endpoint_max_dgram */
  tcpu_uv_stats stats;     /* the engine's counters are merged in on read */
  uint64_t io_errors_seen; /* the engine's error counters, last looked at */
  int family;              /* AF_INET or AF_INET6 of the socket */
  tcpu_uv_tap_cb tap;      /* capture hook (pcap), NULL: none */
  void *tap_arg;
  unsigned v6only : 1;     /* an AF_INET6 socket that cannot reach IPv4 */
  unsigned in_recv : 1;    /* a receive batch is open (between datagrams) */
  unsigned closing : 1;
  unsigned batch;          /* nesting of tcpu_uv__ep_batch_begin */
  int open_handles;        /* uv handles of endpoint.c and stream.c */
  tcpu_uv_endpoint_close_cb close_cb;

  /* ---- stream.c */
  tcpu_uv_streams streams;

  /* ---- rendezvous.c */
  tcpu_uv_rdvs rdv;
};

/* ---- endpoint.c, for stream.c */

/* The clock passed to the core: uv_hrtime(). */
tcpu_tstamp tcpu_uv__now(void);
void tcpu_uv__ep_batch_begin(tcpu_uv_endpoint_impl *impl);
/* Dispatches stream work and flushes until both are done (see above). */
void tcpu_uv__ep_batch_end(tcpu_uv_endpoint_impl *impl);
/* After a user call into the core: flush now, or at the batch's end. */
void tcpu_uv__ep_flush(tcpu_uv_endpoint_impl *impl);
/* uv_close callback for every handle whose data is impl. */
void tcpu_uv__ep_handle_closed(uv_handle_t *handle);
/* A peer's sockaddr as this endpoint's socket reaches it: IPv4 through a
 * dual-stack IPv6 socket becomes ::ffff:a.b.c.d, IPv4-mapped IPv6 through
 * an IPv4 socket becomes IPv4.  Errors: UV_EINVAL, UV_EAFNOSUPPORT. */
int tcpu_uv__ep_peer_addr(const tcpu_uv_endpoint_impl *impl,
                          const struct sockaddr *sa, tcpu_addr *peer);

/* ---- stream.c, for endpoint.c */

/* The core callbacks of every endpoint (user_data: the impl). */
extern const tcpu_callbacks tcpu_uv__stream_callbacks;
/* Initializes impl->streams and its timer (counted in open_handles). */
void tcpu_uv__streams_init(tcpu_uv_endpoint_impl *impl);
/* Runs the work the core's events and the application's calls left on
 * the streams: the application's callbacks. */
void tcpu_uv__streams_dispatch(tcpu_uv_endpoint_impl *impl);
/* Nonzero while streams have work for tcpu_uv__streams_dispatch. */
int tcpu_uv__streams_pending(const tcpu_uv_endpoint_impl *impl);
/* Outside a batch: runs the pending work from the loop, soon. */
void tcpu_uv__streams_defer(tcpu_uv_endpoint_impl *impl);
/* The endpoint closes: detach every stream, cancel its requests, close
 * stream.c's timer. */
void tcpu_uv__streams_close(tcpu_uv_endpoint_impl *impl);

/* ---- rendezvous.c, for endpoint.c */

/* A datagram tcpu_rdv_is_message recognised, from `from`: for the
 * rendezvous clients, never for the core. */
void tcpu_uv__rdv_input(tcpu_uv_endpoint_impl *impl, const tcpu_addr *from,
                        const uint8_t *data, size_t len);
/* The endpoint closes: close the timer; the pending lookups complete with
 * UV_ECANCELED from its close callback. */
void tcpu_uv__rdv_close(tcpu_uv_endpoint_impl *impl);

#endif /* TCPU_UV_INTERNAL_H */
