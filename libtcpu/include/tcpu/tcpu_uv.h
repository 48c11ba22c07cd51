/*
 * tcpu_uv.h — the libuv binding of libtcpu.
 *
 * A tcpu_uv_endpoint runs one sans-IO core endpoint (tcpu.h) on one UDP
 * socket of a libuv loop, with one timer:
 *
 *   - every received datagram goes to tcpu_endpoint_recv(..., uv_hrtime()),
 *     then the endpoint is flushed;
 *   - flushing drains tcpu_endpoint_send into the socket and re-arms the
 *     timer from tcpu_endpoint_get_expiry;
 *   - the timer runs tcpu_endpoint_handle_expiry, then flushes.
 *
 * The application drives connections with the core API (tcpu_listen,
 * tcpu_connect, tcpu_conn_write, ...; pass uv_hrtime() as `now`) on
 * tcpu_uv_endpoint.ep, and calls tcpu_uv_endpoint_flush afterwards when it
 * did so outside a tcpu_callbacks callback.  Inside a callback no flush is
 * needed: the binding flushes when the call that ran the callback returns.
 *
 * This is the only public header that includes uv.h.  Errors are the
 * negative TCPU_ERR_* codes of tcpu.h or libuv's UV_E* codes (negative
 * errno values), which the binding passes through unchanged.
 */
#ifndef TCPU_TCPU_UV_H
#define TCPU_TCPU_UV_H

#include <uv.h>

#include "tcpu/tcpu.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tcpu_uv_endpoint tcpu_uv_endpoint;
typedef void (*tcpu_uv_close_cb)(tcpu_uv_endpoint *uvep);

/* Counters of the binding itself; the core's are in tcpu_endpoint_stats. */
typedef struct tcpu_uv_stats {
  uint64_t dgrams_received; /* handed to tcpu_endpoint_recv */
  uint64_t dgrams_sent;     /* accepted by the socket */
  uint64_t recv_errors;     /* failed reads and truncated datagrams */
  uint64_t send_errors;     /* datagrams the socket refused (dropped) */
  uint64_t send_blocked;    /* times the socket was full and output waited */
  int last_error;           /* last error of the core or the socket, or 0 */
} tcpu_uv_stats;

/* Embed or allocate one; the application owns the memory, which must stay
 * valid until the close callback has run.  Fields marked "binding" are
 * read-only for the application. */
struct tcpu_uv_endpoint {
  void *data;        /* free for the application */
  tcpu_endpoint *ep; /* binding: the core endpoint, NULL once closed */
  uv_loop_t *loop;   /* binding */
  uv_udp_t udp;      /* binding; udp.data is the binding's */
  uv_timer_t timer;  /* binding; timer.data is the binding's */
  /* binding-private below */
  uv_udp_send_t send_req; /* the one datagram waiting for the socket */
  uint8_t *sendbuf;       /* holds it (tcpu_endpoint_max_dgram bytes) */
  size_t sendbuf_len;
  uint8_t *recvbuf; /* one maximal UDP datagram */
  struct sockaddr_storage send_to;
  tcpu_uv_close_cb close_cb;
  tcpu_uv_stats stats;
  unsigned send_busy : 1; /* send_req in flight: output waits for it */
  unsigned in_core : 1;   /* inside a core call (and its callbacks) */
  unsigned closing : 1;
  int open_handles;
};

/* Creates the core endpoint (tcpu_endpoint_new with uv_hrtime()), opens a
 * UDP socket bound to `bind_addr` (IPv4 or IPv6; port 0 picks an ephemeral
 * port, see tcpu_uv_endpoint_local_addr), and starts receiving.  settings
 * NULL means tcpu_settings_default(); callbacks may be NULL; user_data
 * becomes the core endpoint's.
 * Errors: TCPU_ERR_INVAL (NULL loop/uvep/bind_addr, unsupported family, bad
 * settings), TCPU_ERR_NOMEM, and the socket's errors as UV_E* codes
 * (UV_EADDRINUSE, UV_EADDRNOTAVAIL, UV_EACCES, UV_EMFILE, ...).  On these
 * errors nothing is left open: do not call tcpu_uv_endpoint_close.  The
 * only errors that come after the handles exist are uv_udp_open's and
 * uv_udp_recv_start's (not expected for the fresh socket): the handles are
 * then already closing, and *uvep must stay valid until the loop has run
 * once more. */
TCPU_EXTERN int tcpu_uv_endpoint_init(uv_loop_t *loop, tcpu_uv_endpoint *uvep,
                                      const tcpu_settings *settings,
                                      const tcpu_callbacks *callbacks,
                                      void *user_data,
                                      const struct sockaddr *bind_addr);

/* Runs the core's timers that are already due, sends every datagram the
 * core has due, and re-arms the timer (TCPU_TSTAMP_NONE stops it, else it
 * fires after the milliseconds remaining, rounded up).  When the socket is
 * full the pending datagram is kept and sending resumes once the socket
 * drains; nothing is lost and nothing spins.  Datagrams the socket refuses
 * for other reasons (UV_ENETUNREACH, UV_EMSGSIZE, ...) are dropped like
 * lost packets, counted in send_errors and left to TCP to retransmit.
 * Call it after tcpu_listen/connect/conn_write/shutdown/close/abort made
 * outside a tcpu_callbacks callback; inside one it does nothing and
 * returns 0, because the binding flushes afterwards.
 * Errors: TCPU_ERR_STATE (closed endpoint), TCPU_ERR_CALLBACK_FAILURE (a
 * callback run by a due timer failed; sending still happened), and the
 * core's send errors (recorded in last_error; output stops until the next
 * flush). */
TCPU_EXTERN int tcpu_uv_endpoint_flush(tcpu_uv_endpoint *uvep);

/* Sends what the core has due right now as far as the socket takes it
 * without waiting, deletes the core endpoint with all its connections
 * (tcpu_endpoint_del: their handles become invalid, nothing more is sent)
 * and closes both handles.  close_cb (may be NULL) runs from the loop once
 * they are closed; only then may the memory of *uvep be released.  Calling
 * it twice does nothing the second time.  It cannot fail. */
TCPU_EXTERN void tcpu_uv_endpoint_close(tcpu_uv_endpoint *uvep,
                                        tcpu_uv_close_cb close_cb);

/* The bound local UDP address (useful after binding port 0).
 * Errors: TCPU_ERR_STATE (closed endpoint), UV_E* from getsockname,
 * TCPU_ERR_INVAL (unsupported family). */
TCPU_EXTERN int tcpu_uv_endpoint_local_addr(const tcpu_uv_endpoint *uvep,
                                            tcpu_addr *addr);

/* Copies the binding's counters. */
TCPU_EXTERN void tcpu_uv_endpoint_get_stats(const tcpu_uv_endpoint *uvep,
                                            tcpu_uv_stats *st);

/* struct sockaddr_in / sockaddr_in6 -> tcpu_addr.  IPv4-mapped IPv6
 * addresses stay IPv6, so replies leave through the same socket family.
 * Errors: TCPU_ERR_INVAL (NULL argument or another family). */
TCPU_EXTERN int tcpu_uv_addr_from_sockaddr(tcpu_addr *addr,
                                           const struct sockaddr *sa);

/* tcpu_addr -> struct sockaddr_in / sockaddr_in6 in *ss (zeroed first);
 * *len (may be NULL) receives the sockaddr's length.
 * Errors: TCPU_ERR_INVAL (NULL argument or unknown family). */
TCPU_EXTERN int tcpu_uv_addr_to_sockaddr(struct sockaddr_storage *ss,
                                         socklen_t *len, const tcpu_addr *addr);

#ifdef __cplusplus
}
#endif

#endif /* TCPU_TCPU_UV_H */
