/*
 * tcpu_uv.h — the libuv binding of libtcpu: TCP streams over one UDP socket,
 * in libuv's style.
 *
 * A tcpu_uv_endpoint runs one sans-IO core endpoint (tcpu.h) on one UDP
 * socket of a libuv loop.  Any number of connections share that socket:
 * they are told apart by the peer's UDP address and the two TCP ports.
 * On the endpoint the application opens tcpu_uv_stream handles, which work
 * like libuv's uv_tcp_t:
 *
 *   server:  tcpu_uv_stream_init -> tcpu_uv_listen(port) -> connection_cb
 *            -> tcpu_uv_stream_init(client) -> tcpu_uv_accept(server, client)
 *   client:  tcpu_uv_stream_init -> tcpu_uv_connect(peer, port) -> connect_cb
 *   both:    tcpu_uv_read_start, tcpu_uv_write, tcpu_uv_shutdown,
 *            tcpu_uv_close (FIN) or tcpu_uv_abort (RST)
 *
 * Conventions, as in libuv:
 *   - Handles (tcpu_uv_endpoint, tcpu_uv_stream) and requests
 *     (tcpu_uv_connect_req, tcpu_uv_write_req, tcpu_uv_shutdown_req) live in
 *     memory the application owns.  Each starts with `void *data`, free for
 *     the application.  A handle's memory must stay valid until its close
 *     callback has run, a request's until its callback has run.  Members
 *     marked "binding" are read-only; the private ones below a handle's
 *     public members must not be touched.
 *   - Functions return 0 (or a count) on success and a negative UV_E* code
 *     of libuv on error: uv_strerror() and uv_err_name() describe them.
 *     The core's TCPU_ERR_* codes never reach the application through this
 *     header; tcpu_uv_translate_error() documents the mapping.
 *   - When a function which takes a callback returns an error, the
 *     callback will never be called.
 *   - Callbacks never run inside the call that caused them, and never run
 *     inside the sans-IO core: the binding collects the core's events and
 *     delivers them once the core call is over.  Therefore every function
 *     of this header may be called from any callback of this header (and
 *     from any other libuv callback) unless its comment says otherwise.
 *   - After every call that changed a connection the binding flushes: due
 *     datagrams go to the socket and the timer is re-armed.  Inside a
 *     callback that flush happens when the callback returns, so a burst of
 *     calls in one callback is sent as one burst.
 *
 * Errors a TCP user expects, mapped from the core (tcpu_uv_translate_error):
 *   TCPU_ERR_RESET -> UV_ECONNRESET     TCPU_ERR_REFUSED  -> UV_ECONNREFUSED
 *   TCPU_ERR_TIMEDOUT -> UV_ETIMEDOUT   TCPU_ERR_PIPE     -> UV_EPIPE
 *   TCPU_ERR_NOTCONN -> UV_ENOTCONN     TCPU_ERR_ADDRINUSE -> UV_EADDRINUSE
 *   TCPU_ERR_INVAL   -> UV_EINVAL       TCPU_ERR_NOMEM    -> UV_ENOMEM
 *   TCPU_ERR_ABORTED -> UV_ECONNABORTED TCPU_ERR_ADDRNOTAVAIL -> UV_EADDRNOTAVAIL
 *   TCPU_ERR_PROTO   -> UV_EPROTO       TCPU_ERR_NOBUF    -> UV_ENOBUFS
 *   TCPU_ERR_STATE   -> UV_EBUSY        TCPU_ERR_AGAIN    -> UV_EAGAIN
 *   TCPU_ERR_CALLBACK_FAILURE -> UV_EIO (the binding's callbacks never fail)
 * TCPU_ERR_AGAIN is handled inside the binding (write queue, read events);
 * only tcpu_uv_try_write returns UV_EAGAIN.
 *
 * This is the only public header that includes uv.h.
 */
#ifndef TCPU_TCPU_UV_H
#define TCPU_TCPU_UV_H

#include <uv.h>

#include "tcpu/tcpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ types */

typedef struct tcpu_uv_endpoint tcpu_uv_endpoint;
typedef struct tcpu_uv_stream tcpu_uv_stream;
typedef struct tcpu_uv_connect_req tcpu_uv_connect_req;
typedef struct tcpu_uv_write_req tcpu_uv_write_req;
typedef struct tcpu_uv_shutdown_req tcpu_uv_shutdown_req;
/* The endpoint's private state (sockets, timers, streams). */
typedef struct tcpu_uv_endpoint_impl tcpu_uv_endpoint_impl;

/* The endpoint's handles are closed; its memory may be released. */
typedef void (*tcpu_uv_endpoint_close_cb)(tcpu_uv_endpoint *uvep);
/* The stream is closed; its memory may be released. */
typedef void (*tcpu_uv_close_cb)(tcpu_uv_stream *stream);
/* A listener has a new connection for tcpu_uv_accept (status 0), or
 * accepting failed (status < 0). */
typedef void (*tcpu_uv_connection_cb)(tcpu_uv_stream *server, int status);
/* Asks for a buffer to read into.  suggested_size is 65536.  Setting
 * buf->base = NULL or buf->len = 0 makes read_cb see UV_ENOBUFS; reading
 * is tried again on the next loop iteration. */
typedef void (*tcpu_uv_alloc_cb)(tcpu_uv_stream *stream, size_t suggested_size,
                                 uv_buf_t *buf);
/* nread > 0: bytes read into buf->base.  nread == 0: nothing to read after
 * all (only the buffer is handed back).  nread < 0: UV_EOF once the peer's
 * FIN arrived and everything before it was read, or the error that ended
 * the connection (UV_ECONNRESET, UV_ETIMEDOUT, UV_ECONNREFUSED,
 * UV_ECONNABORTED, UV_ENOTCONN), or UV_ENOBUFS (see tcpu_uv_alloc_cb).
 * After UV_EOF or an error reading stops by itself.  buf is the buffer
 * from alloc_cb, which the application frees; with nread < 0 it may be a
 * null buffer (base NULL, len 0). */
typedef void (*tcpu_uv_read_cb)(tcpu_uv_stream *stream, ssize_t nread,
                                const uv_buf_t *buf);
typedef void (*tcpu_uv_connect_cb)(tcpu_uv_connect_req *req, int status);
typedef void (*tcpu_uv_write_cb)(tcpu_uv_write_req *req, int status);
typedef void (*tcpu_uv_shutdown_cb)(tcpu_uv_shutdown_req *req, int status);

/* Counters of the binding's socket I/O; the core's are in
 * tcpu_endpoint_stats (tcpu_endpoint_get_stats(uvep->ep, ...)). */
typedef struct tcpu_uv_stats {
  uint64_t dgrams_received; /* handed to tcpu_endpoint_recv */
  uint64_t dgrams_sent;     /* accepted by the socket */
  uint64_t recv_errors;     /* failed reads and truncated datagrams */
  uint64_t send_errors;     /* datagrams the socket refused (dropped) */
  uint64_t send_blocked;    /* times the socket was full and output waited */
  uint64_t send_oversize;   /* datagrams longer than tcpu_endpoint_max_dgram
                               (a full segment plus SACK blocks) */
  int last_error;           /* last error of the core or the socket as a
                               UV_E* code, or 0 */
} tcpu_uv_stats;

/* An endpoint: one UDP socket and the TCP connections on it. */
struct tcpu_uv_endpoint {
  void *data;        /* free for the application */
  uv_loop_t *loop;   /* binding */
  /* binding: the core endpoint, NULL once closing.  The application may
   * use it with tcpu_cc_register, tcpu_cc_find, tcpu_endpoint_get_stats
   * and tcpu_endpoint_foreach_conn, and with the tcpu_peer_* calls
   * (follow those with tcpu_uv_endpoint_flush); it must not open, close or drive
   * connections through it (use the streams) nor call
   * tcpu_endpoint_recv/send/handle_expiry/del. */
  tcpu_endpoint *ep;
  tcpu_uv_endpoint_impl *impl; /* binding-private */
};

/* A TCP stream: a listener, or one connection. */
struct tcpu_uv_stream {
  void *data;                 /* free for the application */
  tcpu_uv_endpoint *endpoint; /* binding: the endpoint it lives on */
  /* binding: bytes of tcpu_uv_write requests not yet taken into the
   * core's send buffer (see tcpu_uv_write). */
  size_t write_queue_size;

  /* binding-private below */
  tcpu_uv_endpoint_impl *impl;
  tcpu_conn *conn;     /* the core connection or listener, NULL if none */
  tcpu_conn *accepted; /* listener: taken off the queue, not yet accepted */
  unsigned flags;      /* state of the handle */
  unsigned events;     /* work waiting for the dispatcher */
  int err;             /* why the connection went away when conn is NULL */
  tcpu_uv_alloc_cb alloc_cb;
  tcpu_uv_read_cb read_cb;
  tcpu_uv_connection_cb connection_cb;
  tcpu_uv_close_cb close_cb;
  tcpu_uv_connect_req *connect_req;
  tcpu_uv_shutdown_req *shutdown_req;
  tcpu_uv_write_req *wq_head, *wq_tail;     /* not yet all in the core */
  tcpu_uv_write_req *done_head, *done_tail; /* finished, callback due */
  tcpu_uv_stream *all_prev, *all_next;      /* the endpoint's streams */
  tcpu_uv_stream *pending_next;             /* the dispatcher's queue */
  tcpu_uv_stream *cn_prev, *cn_next;        /* connects with a deadline */
  uint64_t connect_deadline;                /* uv_hrtime() ns */
  struct {
    unsigned set; /* which of the below were set before a connection */
    unsigned nodelay : 1, keepalive : 1;
    uint32_t keepcnt, sndbuf, rcvbuf;
    uint64_t keepidle, keepintvl, user_timeout; /* ns */
    char cc[16];
  } opt;
};

struct tcpu_uv_connect_req {
  void *data;             /* free for the application */
  tcpu_uv_stream *handle; /* binding: the stream connecting */
  tcpu_uv_connect_cb cb;  /* binding-private */
};

struct tcpu_uv_write_req {
  void *data;             /* free for the application */
  tcpu_uv_stream *handle; /* binding: the stream written to */
  /* binding-private below */
  tcpu_uv_write_cb cb;
  tcpu_uv_write_req *next;
  uv_buf_t *bufs; /* bufsml, or allocated when nbufs > 4 */
  uv_buf_t bufsml[4];
  unsigned int nbufs, buf_index;
  size_t buf_off; /* bytes of bufs[buf_index] already in the core */
  int status;
};

struct tcpu_uv_shutdown_req {
  void *data;              /* free for the application */
  tcpu_uv_stream *handle;  /* binding: the stream shut down */
  tcpu_uv_shutdown_cb cb;  /* binding-private */
};

/* ----------------------------------------------------------- errors */

/* Maps a TCPU_ERR_* code to the UV_E* code a TCP user expects (the table
 * at the top of this header).  0, positive values and codes that are no
 * TCPU_ERR_* (UV_E* codes included) come back unchanged.  Cannot fail.
 * From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_translate_error(int err);

/* --------------------------------------------------------- endpoint */

/* tcpu_uv_endpoint_init flags. */
enum tcpu_uv_endpoint_flags {
  /* With an IPv6 bind address: IPv6 only.  Without it a socket bound to
   * "::" is dual-stack and IPv4 peers appear as ::ffff:a.b.c.d. */
  TCPU_UV_IPV6ONLY = 1
};

/* Creates the core endpoint (tcpu_endpoint_new; settings NULL means
 * tcpu_settings_default()), opens a UDP socket bound to bind_addr (a
 * struct sockaddr_in or sockaddr_in6; port 0 picks an ephemeral port, see
 * tcpu_uv_endpoint_getsockname) and starts receiving.  An IPv6 socket is
 * dual-stack unless flags has TCPU_UV_IPV6ONLY.  The binding asks the
 * kernel for 4 MiB socket buffers (capped by net.core.rmem_max/wmem_max).
 * Errors: UV_EINVAL (NULL loop, uvep or bind_addr, unknown flags, invalid
 * settings), UV_EAFNOSUPPORT (bind_addr neither IPv4 nor IPv6), UV_ENOMEM,
 * and the socket's errors (UV_EADDRINUSE, UV_EADDRNOTAVAIL, UV_EACCES,
 * UV_EMFILE, ...).  On error nothing is left open and *uvep may be reused
 * at once; do not call tcpu_uv_endpoint_close.
 * From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_endpoint_init(uv_loop_t *loop, tcpu_uv_endpoint *uvep,
                                      const tcpu_settings *settings,
                                      const struct sockaddr *bind_addr,
                                      unsigned int flags);

/* Closes the endpoint at once, without a goodbye: what the core has due
 * right now is sent as far as the socket takes it, then the core endpoint
 * and all its connections are deleted (tcpu_endpoint_del: no FIN, no RST;
 * peers find out by their timeouts) and the socket and timers close.
 * Streams still open on it are closed as by tcpu_uv_close: their pending
 * connect, write and shutdown requests complete with UV_ECANCELED (write
 * requests already taken into the core with 0), then their close
 * callbacks run (none for streams the application never closed).  All of
 * that happens before close_cb (may be NULL), which runs from the loop;
 * only then may the memory of *uvep and of those streams be released.
 * For an orderly end close the streams first and let their FINs get
 * through.  Calling it again does nothing.  Cannot fail.
 * From callbacks: yes, also from the callbacks of its own streams. */
TCPU_EXTERN void tcpu_uv_endpoint_close(tcpu_uv_endpoint *uvep,
                                        tcpu_uv_endpoint_close_cb close_cb);

/* The bound local UDP address, as uv_udp_getsockname: *namelen is the size
 * of *name on input and the address's length on output.
 * Errors: UV_EINVAL (NULL argument, closing endpoint), UV_E* from
 * getsockname.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_endpoint_getsockname(const tcpu_uv_endpoint *uvep,
                                             struct sockaddr *name,
                                             int *namelen);

/* Defined where the binding has tcpu_uv_endpoint_set_tap. */
#define TCPU_UV_HAVE_TAP 1

/* A TCP segment the endpoint received (outgoing 0) or is sending
 * (outgoing 1), as tcpu_endpoint_set_segment_tap shows it: the datagram
 * itself in plain mode, the opened segment in sealed mode (so a capture
 * reads the same TCP either way; keepalives and handshake messages are
 * not shown).  peer is the other end's UDP address.  For capture tools
 * (pcap): the callback must not call into the binding.  From the loop. */
typedef void (*tcpu_uv_tap_cb)(tcpu_uv_endpoint *uvep, int outgoing,
                               const tcpu_addr *peer, const uint8_t *dgram,
                               size_t len, void *arg);
/* Sets the tap (cb NULL: none).  Cannot fail.  From callbacks: yes. */
TCPU_EXTERN void tcpu_uv_endpoint_set_tap(tcpu_uv_endpoint *uvep,
                                          tcpu_uv_tap_cb cb, void *arg);

/* Sends what the core has due now and re-arms the timer: call it after
 * changing peers through uvep->ep (tcpu_peer_add, tcpu_peer_punch, ...),
 * which the binding does not see.  Cannot fail.  From callbacks: yes. */
TCPU_EXTERN void tcpu_uv_endpoint_flush(tcpu_uv_endpoint *uvep);

/* Copies the binding's counters into *st.  Valid until the endpoint's close
 * callback.  Cannot fail.  From callbacks: yes. */
TCPU_EXTERN void tcpu_uv_endpoint_get_stats(const tcpu_uv_endpoint *uvep,
                                            tcpu_uv_stats *st);

/* struct sockaddr_in / sockaddr_in6 -> tcpu_addr.  IPv4-mapped IPv6
 * addresses stay IPv6.  Errors: UV_EINVAL (NULL argument),
 * UV_EAFNOSUPPORT (another family).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_addr_from_sockaddr(tcpu_addr *addr,
                                           const struct sockaddr *sa);

/* tcpu_addr -> struct sockaddr_in / sockaddr_in6 in *ss (zeroed first);
 * *len (may be NULL) receives the sockaddr's length.
 * Errors: UV_EINVAL (NULL argument), UV_EAFNOSUPPORT (unknown family).
 * From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_addr_to_sockaddr(struct sockaddr_storage *ss,
                                         socklen_t *len, const tcpu_addr *addr);

/* ----------------------------------------------------------- stream */

/* Initializes a stream on an endpoint.  It holds nothing yet; make it a
 * listener (tcpu_uv_listen), an outgoing connection (tcpu_uv_connect) or an
 * incoming one (tcpu_uv_accept).  Every initialized stream must be closed
 * with tcpu_uv_close (or goes with tcpu_uv_endpoint_close).
 * Errors: UV_EINVAL (NULL argument, closing endpoint).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_stream_init(tcpu_uv_endpoint *uvep,
                                    tcpu_uv_stream *stream);

/* Listens on TCP port `port` (1..65535) of the endpoint.  backlog (>= 1)
 * bounds both the SYN queue and the queue of established connections not
 * yet accepted (tcpu_listen).  connection_cb runs once per established
 * connection; call tcpu_uv_accept from it (or later: until then no further
 * connection_cb runs and new ones wait in the queue).  Options set on the
 * stream before or after this call apply to the listener and are inherited
 * by the connections it accepts.
 * Errors: UV_EINVAL (NULL argument, port 0, backlog < 1, stream not freshly
 * initialized or closing), UV_EADDRINUSE (port taken on this endpoint),
 * UV_ENOMEM.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_listen(tcpu_uv_stream *server, uint16_t port,
                               int backlog, tcpu_uv_connection_cb cb);

/* Moves the connection announced by connection_cb onto `client`, a freshly
 * initialized stream of the same endpoint.  The connection is established
 * (or already past it: data and a FIN may be waiting to be read, or it may
 * have been reset, which the first read or write reports).  Options set on
 * client before this call are applied now, except the receive buffer
 * (tcpu_uv_stream_set_rcvbuf), which comes from the listener.
 * Errors: UV_EINVAL (NULL argument, server no listener or closing, client
 * not freshly initialized, closing or on another endpoint), UV_EAGAIN (no
 * connection waiting).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_accept(tcpu_uv_stream *server, tcpu_uv_stream *client);

/* Opens a connection to TCP port remote_port of the endpoint at UDP
 * address `addr` (struct sockaddr_in or sockaddr_in6; an IPv4 peer is
 * reached through a dual-stack IPv6 endpoint as ::ffff:a.b.c.d).  The
 * local TCP port is ephemeral.  cb (may be NULL) runs with 0 once the
 * connection is established, or with an error: UV_ECONNREFUSED (the peer
 * answered with RST: no listener on that port), UV_ETIMEDOUT (no answer
 * within timeout_ms milliseconds, or the SYN retries of tcpu_settings ran
 * out first; timeout_ms 0: only the retries), UV_ECONNRESET, UV_ECANCELED
 * (the stream was closed first).  Reading, writing and shutting down may
 * start right away: written data waits for the handshake.
 * Errors: UV_EINVAL (NULL req, stream or addr, remote_port 0, stream not
 * freshly initialized or closing), UV_EAFNOSUPPORT (addr of a family the
 * endpoint's socket cannot reach), UV_EADDRNOTAVAIL (no free local port),
 * UV_ENOMEM.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_connect(tcpu_uv_connect_req *req,
                                tcpu_uv_stream *stream,
                                const struct sockaddr *addr,
                                uint16_t remote_port, uint64_t timeout_ms,
                                tcpu_uv_connect_cb cb);

/* As tcpu_uv_connect, to a core address: a UDP address, or in sealed
 * mode a peer's TCPU_AF_PEER address (tcpu_peer_addr).  local_port 0 takes
 * an ephemeral port; naming it lets two peers open towards each other at
 * once with the same port pair (simultaneous open, RFC 9293 §3.5 figure
 * 8) — how two hosts behind NATs meet.  Errors as tcpu_uv_connect, and
 * UV_EADDRINUSE (that port pair is taken).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_connect_addr(tcpu_uv_connect_req *req,
                                     tcpu_uv_stream *stream,
                                     const tcpu_addr *peer,
                                     uint16_t local_port, uint16_t remote_port,
                                     uint64_t timeout_ms,
                                     tcpu_uv_connect_cb cb);

/* Starts reading: read_cb gets the data as it arrives, in buffers from
 * alloc_cb, then UV_EOF or the connection's error (tcpu_uv_read_cb).  Data
 * that arrived earlier is delivered from the loop, never inside this call.
 * While a stream is not reading, received data waits in the core's receive
 * buffer and the window closes when it is full (flow control).
 * Errors: UV_EINVAL (NULL argument, listener, closing stream), UV_ENOTCONN
 * (not connecting or connected), UV_EALREADY (already reading).
 * From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_read_start(tcpu_uv_stream *stream,
                                   tcpu_uv_alloc_cb alloc_cb,
                                   tcpu_uv_read_cb read_cb);

/* Stops reading; no read_cb runs after it returns.  Idempotent.
 * Errors: UV_EINVAL (NULL stream).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_read_stop(tcpu_uv_stream *stream);

/* Writes the nbufs buffers in order (writev).  The data is referenced, not
 * copied: the memory the buffers point to must stay valid and unchanged
 * until cb runs (the uv_buf_t array itself is copied).  The binding copies
 * it into the core's send buffer (tcpu_settings.sndbuf, or
 * tcpu_uv_stream_set_sndbuf) as room frees up; the bytes not yet taken
 * are counted in stream->write_queue_size.  cb (may be NULL) runs with 0
 * once the whole request is in the core's send buffer — it is then the
 * core's to deliver, as with write(2) on a kernel socket, not yet
 * acknowledged — or with UV_ECANCELED (stream closed first) or the error
 * that ended the connection (UV_ECONNRESET, UV_ETIMEDOUT, ...).  Callbacks
 * run in request order.  Drain signal: write_queue_size is 0 when the cb
 * of the last request runs; bound the memory in flight by writing more
 * only while write_queue_size is small.  Writing while connecting is
 * allowed.
 * Errors: UV_EINVAL (NULL req or stream, bufs NULL with nbufs > 0,
 * listener, closing stream), UV_ENOTCONN (not connecting or connected),
 * UV_EPIPE (shut down for writing), UV_ENOMEM, and the error that already
 * ended the connection (UV_ECONNRESET, UV_ETIMEDOUT, ...).
 * From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_write(tcpu_uv_write_req *req, tcpu_uv_stream *stream,
                              const uv_buf_t bufs[], unsigned int nbufs,
                              tcpu_uv_write_cb cb);

/* Copies as much of the buffers as the core's send buffer takes now and
 * returns that count (> 0), as uv_try_write.  Nothing is queued.
 * Errors: UV_EAGAIN (nothing taken: send buffer full, or write requests
 * still queued), UV_EINVAL (NULL stream, bufs NULL with nbufs > 0,
 * listener, closing stream), UV_ENOTCONN, UV_EPIPE, UV_ENOMEM, and the
 * connection's error.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_try_write(tcpu_uv_stream *stream, const uv_buf_t bufs[],
                                  unsigned int nbufs);

/* Half-close: once every queued write is in the core, a FIN follows the
 * data; reading goes on.  cb (may be NULL) runs with 0 when the peer has
 * acknowledged the FIN (so it acknowledged all data before it too), or with
 * UV_ECANCELED (stream closed first) or the connection's error.  Writes
 * after this call fail with UV_EPIPE.
 * Errors: UV_EINVAL (NULL req or stream, listener, closing stream),
 * UV_ENOTCONN (not connecting or connected, or already shut down), and the
 * error that already ended the connection.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_shutdown(tcpu_uv_shutdown_req *req,
                                 tcpu_uv_stream *stream,
                                 tcpu_uv_shutdown_cb cb);

/* Closes the stream gracefully.  Reading stops.  Write requests not yet
 * wholly in the core, a pending connect and a pending shutdown complete
 * with UV_ECANCELED; data already in the core's send buffer is still
 * delivered, followed by a FIN, and the core finishes the close by itself
 * (FIN_WAIT, TIME_WAIT).  As in Linux, closing with received data unread
 * resets the connection instead (RFC 9293 §3.10.4).  On a listener it
 * stops listening and resets the connections not yet accepted.  close_cb
 * (may be NULL) runs from the loop after all the stream's other callbacks;
 * only then may its memory be released.  Calling it again, or on a stream
 * of a closed endpoint, does nothing.  Cannot fail.  From callbacks: yes. */
TCPU_EXTERN void tcpu_uv_close(tcpu_uv_stream *stream, tcpu_uv_close_cb close_cb);

/* Resets the connection (RST; the peer's reads and writes fail with
 * UV_ECONNRESET) and closes the stream as tcpu_uv_close does, but data
 * still in the core's send buffer is discarded.  A connection still in its
 * handshake is dropped without an RST.  Like uv_tcp_close_reset.
 * Errors: UV_EINVAL (NULL stream, listener, closing stream), UV_ENOTCONN
 * (never connected: use tcpu_uv_close).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_abort(tcpu_uv_stream *stream, tcpu_uv_close_cb close_cb);

/* ---------------------------------------------------------- options */

/* Options apply to the connection at once; on a freshly initialized stream
 * they are kept and applied when it listens, connects or is accepted; on a
 * listener they are inherited by the connections it accepts.  Defaults come
 * from the endpoint's tcpu_settings.  All of them: Errors: UV_EINVAL (NULL
 * stream, closing stream, value out of range), UV_ENOMEM; and
 * UV_ENOTCONN once the connection is gone.  From callbacks: yes. */

/* enable != 0 turns Nagle's algorithm off (TCPU_OPT_NODELAY).  Errors as
 * above.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_stream_set_nodelay(tcpu_uv_stream *stream, int enable);

/* Keepalive probes (TCPU_OPT_KEEPALIVE): after idle_ms without traffic,
 * probes every interval_ms; after count unanswered ones the connection
 * ends with UV_ETIMEDOUT.  0 for idle_ms, interval_ms or count keeps the
 * current value; count is 1..255 (else UV_EINVAL).  Errors as above.
 * From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_stream_set_keepalive(tcpu_uv_stream *stream,
                                             int enable, uint64_t idle_ms,
                                             uint64_t interval_ms,
                                             unsigned int count);

/* RFC 5482 user timeout (TCPU_OPT_USER_TIMEOUT): data unacknowledged for
 * timeout_ms ends the connection with UV_ETIMEDOUT; 0 turns it off.
 * Errors as above.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_stream_set_user_timeout(tcpu_uv_stream *stream,
                                                uint64_t timeout_ms);

/* The core's send buffer, bytes (1..2^30; not below what it holds now,
 * else UV_EINVAL).  Errors as above.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_stream_set_sndbuf(tcpu_uv_stream *stream,
                                          uint32_t bytes);

/* The receive buffer and so the largest window, bytes (1..2^30).  It fixes
 * the window scale sent in the SYN, so it can be set on a fresh stream
 * before tcpu_uv_connect or on a listener, not later (UV_EBUSY).  An
 * accepted connection takes its listener's.  Errors as above, and UV_EBUSY.
 * From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_stream_set_rcvbuf(tcpu_uv_stream *stream,
                                          uint32_t bytes);

/* Congestion control by name: a built-in ("newreno", "cubic", "bbr",
 * "ledbat") or one registered with tcpu_cc_register(uvep->ep, ...).
 * UV_EINVAL for an unknown name.  Errors as above.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_stream_set_cc(tcpu_uv_stream *stream, const char *name);

/* ------------------------------------------------------------ state */

/* A tcp_info-like snapshot of the connection (tcpu_conn_get_info): state,
 * RTT, windows, counters.  Also works after the connection failed, until
 * the stream is closed.  Errors: UV_EINVAL (NULL argument), UV_ENOTCONN
 * (no connection: fresh, timed out, closing).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_stream_get_info(const tcpu_uv_stream *stream,
                                        tcpu_conn_info *info);

/* stream->write_queue_size: bytes of write requests not yet in the core's
 * send buffer.  0 for NULL.  From callbacks: yes. */
TCPU_EXTERN size_t
tcpu_uv_stream_get_write_queue_size(const tcpu_uv_stream *stream);

/* The core connection (or listener) behind the stream, NULL if none, for
 * the core's read-only calls: tcpu_conn_state, tcpu_conn_error,
 * tcpu_conn_get_cc, tcpu_conn_get_info.  Valid until the stream's next
 * call or callback.  From callbacks: yes. */
TCPU_EXTERN const tcpu_conn *
tcpu_uv_stream_get_conn(const tcpu_uv_stream *stream);

/* ------------------------------------------------------- rendezvous */

/* NAT traversal through a rendezvous server (`tcpu rendezvous`; the
 * protocol is described in libtcpu/README.md, "Rendezvous").  Two
 * endpoints behind NATs, neither with a public address, each register a
 * name with the server through their own UDP socket — so the address the
 * server observes is the NAT mapping their tunnel traffic uses — and look
 * each other up.  The server answers with the peer's observed address and
 * at the same moment pushes the looker's address to the peer; both add
 * the other as a peer (tcpu_peer_add), punch (tcpu_peer_punch) and open
 * TCP towards each other with the same port pair, so the SYNs cross: a
 * simultaneous open (RFC 9293 §3.5, figure 8).  In sealed mode the names
 * are the endpoints' public keys in base64 and the Noise handshake
 * authenticates the peer; the server is trusted with nothing but
 * addresses.
 *
 *   one call:  tcpu_uv_rendezvous_connect(req, stream, server, "me",
 *                                         "peer", port, timeout, cb)
 *   parts:     tcpu_uv_rendezvous_lookup -> tcpu_uv_rendezvous_meet ->
 *              tcpu_uv_connect_addr
 *   daemons:   tcpu_uv_rendezvous_register keeps a name registered and
 *              reports the peers that look it up
 *
 * Rendezvous messages share the endpoint's socket with the tunnel; the
 * binding tells them apart by their first bytes and never hands them to
 * the core.  A name is 1..64 bytes of printable ASCII without spaces;
 * self_name NULL means, in sealed mode, the endpoint's own public key in
 * base64.  Handles and requests live in the application's memory as
 * elsewhere in this header. */

#define TCPU_UV_RENDEZVOUS_NAME_MAX 64

typedef struct tcpu_uv_rendezvous tcpu_uv_rendezvous;
typedef struct tcpu_uv_rendezvous_req tcpu_uv_rendezvous_req;

/* What a registration reports (tcpu_uv_rendezvous_cb). */
typedef enum tcpu_uv_rendezvous_event {
  /* The server answered: addr is this endpoint as the server sees it (the
   * NAT's public side).  Reported the first time and when it changes. */
  TCPU_UV_RENDEZVOUS_OBSERVED = 1,
  /* The peer `name` looked this endpoint up and is punching from addr;
   * tcpu_uv_rendezvous_meet lets it through this side's NAT. */
  TCPU_UV_RENDEZVOUS_PEER = 2
} tcpu_uv_rendezvous_event;

typedef void (*tcpu_uv_rendezvous_cb)(tcpu_uv_rendezvous *r,
                                      tcpu_uv_rendezvous_event event,
                                      const char *name, const tcpu_addr *addr);
/* status 0: peer_endpoint is the peer's observed UDP address (as this
 * endpoint's socket reaches it).  Else UV_ETIMEDOUT, UV_ECANCELED
 * (tcpu_uv_rendezvous_cancel, or the endpoint closed), UV_EAFNOSUPPORT
 * (the peer's address is of a family the socket cannot reach);
 * peer_endpoint is NULL then. */
typedef void (*tcpu_uv_rendezvous_lookup_cb)(tcpu_uv_rendezvous_req *req,
                                             int status,
                                             const tcpu_addr *peer_endpoint);

/* binding-private: one client of the server (uv/rendezvous.c). */
typedef struct tcpu_uv_rdv_client {
  struct tcpu_uv_rdv_client *next;
  tcpu_uv_endpoint_impl *impl;
  void *owner; /* the handle or request */
  tcpu_addr server;
  uint64_t txid;
  uint64_t next_send, deadline, interval; /* uv_hrtime() ns */
  unsigned kind, serial, canceled;
  char self[TCPU_UV_RENDEZVOUS_NAME_MAX + 1];
  char peer[TCPU_UV_RENDEZVOUS_NAME_MAX + 1];
} tcpu_uv_rdv_client;

/* A registration kept alive until tcpu_uv_rendezvous_stop. */
struct tcpu_uv_rendezvous {
  void *data;                 /* free for the application */
  tcpu_uv_endpoint *endpoint; /* binding */
  tcpu_addr observed; /* binding: as the server sees us; family 0: not yet */
  tcpu_uv_rendezvous_cb cb; /* binding-private */
  tcpu_uv_rdv_client client; /* binding-private */
};

/* One lookup. */
struct tcpu_uv_rendezvous_req {
  void *data;                 /* free for the application */
  tcpu_uv_endpoint *endpoint; /* binding */
  tcpu_addr observed; /* binding: as the server sees us; family 0: not yet */
  tcpu_uv_rendezvous_lookup_cb cb; /* binding-private */
  tcpu_uv_rdv_client client;       /* binding-private */
};

/* Registers self_name with the server at `server` (struct sockaddr_in or
 * sockaddr_in6) through the endpoint's socket and keeps it registered
 * until tcpu_uv_rendezvous_stop: REGISTER goes out at once, again after
 * 250 ms, 500 ms, ... until the server answers, then every 15 s (the
 * server forgets a name 60 s after its last REGISTER), which also keeps
 * this side's NAT mapping open.  cb (may be NULL) reports
 * TCPU_UV_RENDEZVOUS_OBSERVED and TCPU_UV_RENDEZVOUS_PEER; r->observed
 * holds the latest observed address.  A daemon that accepts connections
 * through NATs answers TCPU_UV_RENDEZVOUS_PEER with
 * tcpu_uv_rendezvous_meet (and listens on the port its peers connect to).
 * Errors: UV_EINVAL (NULL r, uvep or server, closing endpoint, invalid
 * name, NULL name in plain mode), UV_EAFNOSUPPORT (server of a family the
 * socket cannot reach).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_rendezvous_register(tcpu_uv_rendezvous *r,
                                            tcpu_uv_endpoint *uvep,
                                            const struct sockaddr *server,
                                            const char *self_name,
                                            tcpu_uv_rendezvous_cb cb);

/* Stops refreshing; no callback runs after it returns and the memory of
 * r may be released at once.  The server forgets the name within 60 s.
 * Stopping a stopped or never started registration does nothing.  Cannot
 * fail.  From callbacks: yes. */
TCPU_EXTERN void tcpu_uv_rendezvous_stop(tcpu_uv_rendezvous *r);

/* Finds peer_name's observed address: registers self_name and looks the
 * peer up at once and every 250 ms until the server knows the peer (or
 * the peer, looking this endpoint up, has the server push its address
 * here), then cb runs with 0 and the address.  UV_ETIMEDOUT after
 * timeout_ms (0: no limit).  The lookup does not add a peer or punch:
 * tcpu_uv_rendezvous_meet does.
 * Errors: as tcpu_uv_rendezvous_register, and UV_EINVAL for NULL req or
 * cb or an invalid peer name.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_rendezvous_lookup(tcpu_uv_rendezvous_req *req,
                                          tcpu_uv_endpoint *uvep,
                                          const struct sockaddr *server,
                                          const char *self_name,
                                          const char *peer_name,
                                          uint64_t timeout_ms,
                                          tcpu_uv_rendezvous_lookup_cb cb);

/* Cancels a lookup: its callback runs with UV_ECANCELED from the loop.
 * Errors: UV_EINVAL (NULL req, or not pending: its callback has run or
 * is due).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_rendezvous_cancel(tcpu_uv_rendezvous_req *req);

/* Lets the peer `peer_name` at UDP address peer_endpoint (from a lookup
 * or a TCPU_UV_RENDEZVOUS_PEER event) through: plain mode adds a peer for
 * that address (tcpu_peer_add) unless there is one; sealed mode decodes
 * peer_name as the peer's base64 public key (libsodium's original
 * variant) and adds the peer, or moves a known one to the address
 * (tcpu_peer_set_endpoint).  A peer added here gets a 25 s persistent
 * keepalive (WireGuard's advice for NATs).  Then it punches
 * (tcpu_peer_punch: datagrams to the peer now and for 1.5 s, so this
 * side's NAT opens a mapping the peer's packets match) and flushes.
 * *conn_addr (may be NULL) receives the address tcpu_uv_connect_addr
 * takes to reach the peer (tcpu_peer_addr).  Errors: UV_EINVAL (NULL
 * uvep or peer_endpoint, closing endpoint, a name that is no public key
 * in sealed mode, a peer_endpoint of no UDP family), UV_EADDRINUSE,
 * UV_ENOMEM.  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_rendezvous_meet(tcpu_uv_endpoint *uvep,
                                        const char *peer_name,
                                        const tcpu_addr *peer_endpoint,
                                        tcpu_addr *conn_addr);

/* The one call: reaches the peer `peer_name` behind its NAT through the
 * rendezvous server.  Looks it up (tcpu_uv_rendezvous_lookup), lets it
 * through (tcpu_uv_rendezvous_meet) and opens the stream from TCP port
 * `port` to TCP port `port` (tcpu_uv_connect_addr).  The peer does the
 * same towards this endpoint: the two SYNs cross and the connection opens
 * simultaneously, with no listener on either side.  cb runs once, as for
 * tcpu_uv_connect: 0 when established, or UV_ETIMEDOUT (timeout_ms, 0:
 * none, covers the lookup and the handshake), UV_ECANCELED
 * (tcpu_uv_rendezvous_connect_cancel, or the endpoint closed during the
 * lookup), UV_ECONNREFUSED, UV_ECONNRESET, or an error of
 * tcpu_uv_rendezvous_meet or tcpu_uv_connect_addr.  The stream must stay
 * open until then: to give up during the lookup, call
 * tcpu_uv_rendezvous_connect_cancel before tcpu_uv_close (once the
 * handshake has started, tcpu_uv_close cancels as usual).  The stream
 * may be read from and written to only after cb reported 0.
 * Errors: UV_EINVAL (NULL argument but self_name, port 0, stream not
 * freshly initialized, invalid name), UV_EAFNOSUPPORT, UV_ENOMEM.
 * From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_rendezvous_connect(tcpu_uv_connect_req *req,
                                           tcpu_uv_stream *stream,
                                           const struct sockaddr *server,
                                           const char *self_name,
                                           const char *peer_name,
                                           uint16_t port, uint64_t timeout_ms,
                                           tcpu_uv_connect_cb cb);

/* Gives up a tcpu_uv_rendezvous_connect still in its lookup: cb runs with
 * UV_ECANCELED from the loop.  Errors: UV_EINVAL (NULL req, or past the
 * lookup: the handshake has started or cb ran).  From callbacks: yes. */
TCPU_EXTERN int tcpu_uv_rendezvous_connect_cancel(tcpu_uv_connect_req *req);

#ifdef __cplusplus
}
#endif

#endif /* TCPU_TCPU_UV_H */
