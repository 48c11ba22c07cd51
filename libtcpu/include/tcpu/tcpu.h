/*
 * tcpu.h — the sans-IO TCP core of libtcpu.
 *
 * A complete TCP (RFC 9293) whose segments travel one per UDP datagram.
 * The core owns no socket and reads no clock: the caller feeds it datagrams
 * with the current time (tcpu_endpoint_recv), pulls datagrams to send
 * (tcpu_endpoint_send), asks for the next deadline (tcpu_endpoint_get_expiry)
 * and reports when it has passed (tcpu_endpoint_handle_expiry).  The libuv
 * binding (tcpu_uv.h), the deterministic simulator and the packetdrill-style
 * script runner all drive the core through exactly these four calls.
 *
 * Conventions (as in libuv and ngtcp2):
 *   - a return of 0 is success, > 0 a count, < 0 one of TCPU_ERR_* below;
 *   - time is tcpu_tstamp, uint64_t nanoseconds of a monotonic clock the
 *     caller chooses; UINT64_MAX (TCPU_TSTAMP_NONE) means "none";
 *   - `now` is always the last parameter;
 *   - callbacks (tcpu_callbacks) run at the end of tcpu_endpoint_recv,
 *     _send and _handle_expiry, once the core is consistent again.  From
 *     them the application may call any function of this header except
 *     tcpu_endpoint_recv, _send, _handle_expiry and _del on the endpoint
 *     whose callback runs.  state_changed is the exception: it runs in the
 *     middle of processing and may only use the calls marked "any" below.
 *     Each function's comment ends with where it may be called:
 *       "Callbacks: any"  also from state_changed (pure or read-only);
 *       "Callbacks: yes"  from every callback but state_changed;
 *       "Callbacks: no"   never from this endpoint's callbacks;
 *   - bad datagrams are never errors of the call that fed them: they are
 *     counted in tcpu_endpoint_stats and dropped.
 */
#ifndef TCPU_TCPU_H
#define TCPU_TCPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TCPU_BUILDING) && defined(__GNUC__)
#define TCPU_EXTERN __attribute__((visibility("default")))
#else
#define TCPU_EXTERN
#endif

typedef uint64_t tcpu_tstamp;   /* nanoseconds, monotonic */
typedef uint64_t tcpu_duration; /* nanoseconds */
typedef ptrdiff_t tcpu_ssize;

#define TCPU_TSTAMP_NONE UINT64_MAX
#define TCPU_NS_PER_MS ((tcpu_duration)1000000)
#define TCPU_NS_PER_S ((tcpu_duration)1000000000)

/* ---------------------------------------------------------------- errors */

/* One map builds the enum, tcpu_strerror and tcpu_err_name.  The -1000
 * range keeps clear of -errno and UV_E*, which the libuv binding passes
 * through unchanged. */
#define TCPU_ERR_MAP(XX)                                                     \
  XX(INVAL, -1001, "invalid argument")                                       \
  XX(NOMEM, -1002, "out of memory")                                          \
  XX(PROTO, -1003, "peer violated protocol")                                 \
  XX(TIMEDOUT, -1004, "connection timed out")                                \
  XX(NOBUF, -1005, "buffer too small")                                       \
  XX(RESET, -1006, "connection reset by peer")                               \
  XX(REFUSED, -1007, "connection refused")                                   \
  XX(CALLBACK_FAILURE, -1008, "callback failed")                             \
  XX(STATE, -1009, "operation not permitted in this connection state")       \
  XX(ADDRINUSE, -1010, "address already in use")                             \
  XX(AGAIN, -1011, "resource temporarily unavailable")                       \
  XX(PIPE, -1012, "connection shut down for writing")                        \
  XX(ABORTED, -1013, "connection aborted locally")                           \
  XX(ADDRNOTAVAIL, -1014, "no free local port")                              \
  XX(NOTCONN, -1015, "connection is not established")

typedef enum tcpu_err {
#define TCPU_ERR_ENUM_(name, code, msg) TCPU_ERR_##name = (code),
  TCPU_ERR_MAP(TCPU_ERR_ENUM_)
#undef TCPU_ERR_ENUM_
} tcpu_err;

/* Human-readable message; "unknown error" for codes outside the map.
 * Cannot fail.  Callbacks: any. */
TCPU_EXTERN const char *tcpu_strerror(int err);
/* "TCPU_ERR_TIMEDOUT" style name; "TCPU_ERR_UNKNOWN" outside the map.
 * Cannot fail.  Callbacks: any. */
TCPU_EXTERN const char *tcpu_err_name(int err);
/* Nonzero when the error ends the connection (RESET, REFUSED, TIMEDOUT,
 * ABORTED, PROTO, NOMEM).  Cannot fail.  Callbacks: any. */
TCPU_EXTERN int tcpu_err_is_fatal(int err);

/* ------------------------------------------------------------- addresses */

#define TCPU_AF_INET 4
#define TCPU_AF_INET6 6
/* Sealed mode: a peer named by its static public key rather than a UDP
 * address (tcpu_peer_addr).  Connections to and from the peer carry this
 * address, so they keep it while the peer's UDP endpoint changes
 * (roaming, DESIGN §3).  ip holds the first 16 bytes of the key, port 0. */
#define TCPU_AF_PEER 80

/* The UDP address of a peer.  Kept free of socket headers so the core
 * builds anywhere; tcpu_uv.h converts to and from struct sockaddr. */
typedef struct tcpu_addr {
  uint8_t family;    /* TCPU_AF_INET or TCPU_AF_INET6 */
  uint16_t port;     /* UDP port, host byte order */
  uint8_t ip[16];    /* IPv4 uses the first 4 bytes, the rest are zero */
  uint32_t scope_id; /* IPv6 scope, else 0 */
} tcpu_addr;

/* Nonzero when a and b have the same family, port and address (IPv6: and
 * scope).  Cannot fail.  Callbacks: any. */
TCPU_EXTERN int tcpu_addr_equal(const tcpu_addr *a, const tcpu_addr *b);
/* Fills an IPv4 address from 4 bytes in network order and a host-order
 * port.  Cannot fail.  Callbacks: any. */
TCPU_EXTERN void tcpu_addr_ipv4(tcpu_addr *a, const uint8_t ip[4],
                                uint16_t port);

/* ---------------------------------------------------------------- states */

/* RFC 9293 §3.3.2, all eleven. */
typedef enum tcpu_state {
  TCPU_CLOSED = 0,
  TCPU_LISTEN,
  TCPU_SYN_SENT,
  TCPU_SYN_RCVD,
  TCPU_ESTABLISHED,
  TCPU_FIN_WAIT_1,
  TCPU_FIN_WAIT_2,
  TCPU_CLOSE_WAIT,
  TCPU_CLOSING,
  TCPU_LAST_ACK,
  TCPU_TIME_WAIT
} tcpu_state;

#define TCPU_STATE_COUNT 11

/* "ESTABLISHED" style name, "UNKNOWN" outside the enum.  Cannot fail.
 * Callbacks: any. */
TCPU_EXTERN const char *tcpu_state_name(tcpu_state s);

/* -------------------------------------------------------------- settings */

/* What a full accept queue does to a completing handshake. */
typedef enum tcpu_overflow {
  TCPU_OVERFLOW_DROP = 0, /* drop the final ACK; the SYN-ACK is retried */
  TCPU_OVERFLOW_RST = 1   /* reset, as Linux's tcp_abort_on_overflow=1 */
} tcpu_overflow;

typedef enum tcpu_syncookies {
  TCPU_SYNCOOKIES_OFF = 0,     /* full SYN queue: drop the SYN */
  TCPU_SYNCOOKIES_ON_FULL = 1, /* full SYN queue: answer with a cookie */
  TCPU_SYNCOOKIES_ALWAYS = 2
} tcpu_syncookies;

/* The envelope every datagram travels in (DESIGN §3); both ends agree. */
typedef enum tcpu_mode {
  TCPU_MODE_PLAIN = 0, /* a bare TCP segment per datagram */
  TCPU_MODE_SEALED = 1 /* Noise_IKpsk2 sessions, WireGuard-style messages */
} tcpu_mode;

/* Sealed mode's AEAD; both ends must agree (a mismatch fails the
 * handshake: the peer's initiation does not authenticate). */
typedef enum tcpu_cipher {
  TCPU_CIPHER_CHACHAPOLY = 0, /* ChaCha20-Poly1305, everywhere */
  TCPU_CIPHER_AESGCM = 1      /* AES-256-GCM, CPUs with AES-NI only */
} tcpu_cipher;

#define TCPU_KEY_LEN 32

/* Endpoint-wide settings.  tcpu_settings_default() fills the defaults,
 * which follow Linux where the RFCs leave a choice; README.md lists them. */
typedef struct tcpu_settings {
  uint32_t mtu;          /* path MTU in bytes (IP packet); MSS is derived */
  uint32_t sndbuf;       /* send buffer per connection, bytes */
  uint32_t rcvbuf;       /* receive buffer per connection, bytes */
  tcpu_duration msl;     /* maximum segment lifetime; TIME_WAIT is 2*MSL */
  tcpu_duration fin_wait2_timeout; /* orphaned FIN_WAIT_2 lifetime */
  tcpu_duration rto_initial;       /* RFC 6298 (2.1): 1 s */
  tcpu_duration rto_min;           /* 200 ms, as Linux */
  tcpu_duration rto_max;           /* 120 s, as Linux */
  tcpu_duration delack_max;        /* delayed ACK bound, 40 ms */
  uint32_t syn_retries;            /* SYN retransmissions (Linux: 6) */
  uint32_t synack_retries;         /* SYN-ACK retransmissions (Linux: 5) */
  uint32_t retries;                /* data retransmissions (Linux: 15) */
  tcpu_overflow accept_overflow;
  tcpu_syncookies syncookies;
  uint16_t ephemeral_lo, ephemeral_hi; /* ephemeral TCP port range */
  unsigned timestamps : 1;             /* offer RFC 7323 timestamps */
  unsigned sack : 1;                   /* offer RFC 2018 SACK */
  unsigned window_scaling : 1;         /* offer RFC 7323 window scale */
  unsigned nodelay : 1;                /* disable Nagle by default */
  unsigned keepalive : 1;              /* keepalive on new connections */
  tcpu_duration keepalive_idle;        /* Linux: 2 h */
  tcpu_duration keepalive_intvl;       /* Linux: 75 s */
  uint32_t keepalive_probes;           /* Linux: 9 */
  tcpu_duration user_timeout;          /* RFC 5482; 0: off */
  char cc[16]; /* congestion control by name (tcpu_cc.h); "": default */
  /* Secret for ISNs (RFC 6528), SYN cookies and port choice.  All zero:
   * the core draws one from libsodium's CSPRNG.  Tests set it to get
   * repeatable runs. */
  uint8_t secret[32];
  tcpu_mode mode;     /* TCPU_MODE_PLAIN by default */
  tcpu_cipher cipher; /* sealed mode: TCPU_CIPHER_CHACHAPOLY by default */
  /* Sealed mode: this endpoint's static private key (X25519, any 32 bytes;
   * tcpu_keypair makes one).  The endpoint keeps its own copy in locked
   * memory and wipes it when deleted; wipe yours (sodium_memzero). */
  uint8_t private_key[TCPU_KEY_LEN];
  /* Sealed mode: now + wall_clock_offset is the time since the Unix epoch
   * in ns.  The core reads no clock; TAI64N timestamps in handshake
   * initiations need wall time that keeps growing across restarts (the
   * libuv binding sets it). */
  uint64_t wall_clock_offset;
  /* Sealed mode: handshake messages per second above which the endpoint
   * is "under load" and answers initiations without a valid mac2 with a
   * cookie reply (WireGuard §5.4.7).  Default 64. */
  uint32_t handshake_load;
} tcpu_settings;

/* Fills *s with the defaults (README.md, "Defaults"); change fields, then
 * pass it to tcpu_endpoint_new.  Cannot fail.  Callbacks: any. */
TCPU_EXTERN void tcpu_settings_default(tcpu_settings *s);

/* ------------------------------------------------------------- callbacks */

typedef struct tcpu_endpoint tcpu_endpoint;
typedef struct tcpu_conn tcpu_conn;

/* Application events.  Every member may be NULL.  user_data is the
 * connection's (tcpu_conn_set_user_data; an accepted connection inherits
 * its listener's, others start with the endpoint's).  A callback returns 0,
 * or TCPU_ERR_CALLBACK_FAILURE to make the driving call return that error.
 * Callbacks must not call tcpu_endpoint_recv, _send or _handle_expiry. */
typedef struct tcpu_callbacks {
  /* The listener's accept queue became non-empty: call tcpu_accept. */
  int (*accept)(tcpu_conn *listener, void *user_data);
  /* An actively opened connection reached ESTABLISHED. */
  int (*connected)(tcpu_conn *c, void *user_data);
  /* Data or end-of-stream can be read with tcpu_conn_read. */
  int (*readable)(tcpu_conn *c, void *user_data);
  /* Send-buffer space freed after tcpu_conn_write returned AGAIN. */
  int (*writable)(tcpu_conn *c, void *user_data);
  /* Every state transition, in order. */
  int (*state_changed)(tcpu_conn *c, tcpu_state from, tcpu_state to,
                       void *user_data);
  /* The connection reached CLOSED: err is 0 after an orderly close, else
   * RESET, REFUSED, TIMEDOUT or ABORTED.  Called once, and only while the
   * application holds the handle; the handle stays valid (reads return
   * what is left, then the error or EOF) until tcpu_conn_close. */
  int (*closed)(tcpu_conn *c, int err, void *user_data);
} tcpu_callbacks;

/* -------------------------------------------------------------- endpoint */

/* Creates an endpoint: one UDP socket's worth of TCP.  settings and
 * callbacks are copied; user_data is returned by
 * tcpu_endpoint_get_user_data and is the first user_data of its
 * connections.  Errors: INVAL (NULL pep or settings, bad settings), NOMEM.
 * Callbacks: yes (the new endpoint is another one). */
TCPU_EXTERN int tcpu_endpoint_new(tcpu_endpoint **pep,
                                  const tcpu_settings *settings,
                                  const tcpu_callbacks *callbacks,
                                  void *user_data, tcpu_tstamp now);
/* Frees the endpoint and every connection in it, sending nothing.  Handles
 * the application still holds become invalid.  NULL is ignored.  Cannot
 * fail.  Callbacks: no. */
TCPU_EXTERN void tcpu_endpoint_del(tcpu_endpoint *ep);
/* The user_data given to tcpu_endpoint_new.  Callbacks: any. */
TCPU_EXTERN void *tcpu_endpoint_get_user_data(const tcpu_endpoint *ep);

/* Feeds one received UDP datagram from `from`; the callbacks its events
 * cause run before it returns.  Malformed or unwanted datagrams are
 * counted and dropped and still return 0.  Errors: INVAL (NULL ep or
 * from), CALLBACK_FAILURE (a callback returned it; the datagram was
 * processed), NOMEM.  Callbacks: no. */
TCPU_EXTERN int tcpu_endpoint_recv(tcpu_endpoint *ep, const tcpu_addr *from,
                                   const uint8_t *dgram, size_t len,
                                   tcpu_tstamp now);

/* Writes the next datagram that is due into buf and its destination into
 * *to.  Returns its length, 0 when nothing is due (idle, or limited by the
 * window, congestion window or pacing), or NOBUF when buflen is smaller
 * than the largest datagram the endpoint may produce (tcpu_endpoint_max_dgram),
 * or INVAL (NULL argument), or CALLBACK_FAILURE.  Call until it returns 0.
 * Callbacks: no. */
TCPU_EXTERN tcpu_ssize tcpu_endpoint_send(tcpu_endpoint *ep, tcpu_addr *to,
                                          uint8_t *buf, size_t buflen,
                                          tcpu_tstamp now);
/* The largest datagram tcpu_endpoint_send can produce: the MTU less the
 * IPv4 and UDP headers.  Callbacks: any. */
TCPU_EXTERN size_t tcpu_endpoint_max_dgram(const tcpu_endpoint *ep);

/* The earliest deadline of any timer, TCPU_TSTAMP_NONE if none.  Ask again
 * after every recv, send and handle_expiry (and after the application's
 * calls), since each may move it.  Callbacks: any. */
TCPU_EXTERN tcpu_tstamp tcpu_endpoint_get_expiry(const tcpu_endpoint *ep);
/* Runs every timer due at now (retransmission, delayed ACK, persist,
 * keepalive, TIME_WAIT, pacing, ...); the callbacks they cause run before
 * it returns.  Then call tcpu_endpoint_send.  Calling it early is
 * harmless.  Errors: CALLBACK_FAILURE.  Callbacks: no. */
TCPU_EXTERN int tcpu_endpoint_handle_expiry(tcpu_endpoint *ep,
                                            tcpu_tstamp now);

/* Sees every TCP segment the endpoint receives (outgoing 0, after the
 * envelope was opened in sealed mode) or sends (outgoing 1, before it is
 * sealed), with the peer's UDP address — what a capture (pcap) records.
 * It must not call into the core.  fn NULL: none.  Cannot fail. */
typedef void (*tcpu_segment_tap)(void *arg, int outgoing,
                                 const tcpu_addr *udp_peer,
                                 const uint8_t *seg, size_t len);
TCPU_EXTERN void tcpu_endpoint_set_segment_tap(tcpu_endpoint *ep,
                                               tcpu_segment_tap fn,
                                               void *arg);

/* Counters of the whole endpoint. */
typedef struct tcpu_endpoint_stats {
  uint64_t dgrams_in, dgrams_out;
  uint64_t drop_short;        /* shorter than a TCP header */
  uint64_t drop_bad_offset;   /* data offset < 5 or beyond the datagram */
  uint64_t drop_bad_option;   /* truncated option, length 0 or 1, bad size */
  uint64_t drop_bad_sack;     /* SACK option of a length no blocks fit */
  uint64_t drop_bad_checksum; /* inner checksum mismatch */
  uint64_t drop_bad_flags;    /* SYN+RST, SYN+FIN and similar */
  uint64_t drop_no_conn;      /* no connection or listener (RST sent) */
  uint64_t drop_unacceptable; /* failed the RFC 9293 §3.10.7.4 checks */
  uint64_t drop_no_timestamp; /* no TSopt after timestamps were agreed */
  uint64_t out_of_order;      /* segments beyond RCV.NXT, reassembled */
  uint64_t drop_reassembly;   /* out-of-order data the reassembly refused */
  uint64_t rst_sent, rst_received;
  uint64_t challenge_acks;    /* RFC 5961 */
  uint64_t syn_queue_overflow;
  uint64_t accept_queue_overflow;
  uint64_t syncookies_sent, syncookies_ok, syncookies_failed;
  uint64_t ctl_queue_overflow; /* stateless replies dropped for lack of room */
  uint64_t conns_opened, conns_closed;
  /* Keepalives: empty datagrams (plain) or empty transport messages
   * (sealed) that keep NAT mappings open. */
  uint64_t keepalives_sent, keepalives_received;
  /* Sealed mode. */
  uint64_t handshakes_initiated; /* initiations sent, retries included */
  uint64_t handshakes_done;      /* sessions established, either role */
  uint64_t handshakes_failed;    /* handshake messages that failed a check
                                    (mac1, decryption, unknown key, old
                                    timestamp) and attempts given up */
  uint64_t handshakes_ratelimited; /* dropped by the per-source limit */
  uint64_t auth_failures;  /* transport messages that did not authenticate
                              or named no session */
  uint64_t replays_dropped; /* authentic transport messages seen before */
  uint64_t cookies_sent, cookies_received;
  uint64_t drop_not_sealed; /* datagrams of no sealed-mode message type */
  uint64_t drop_no_session; /* segments discarded: no keys after the
                               handshake gave up, or peer without endpoint */
  uint64_t roams;           /* a peer's UDP endpoint moved */
  uint64_t cipher_mismatches; /* initiations from a known peer that use the
                                 other cipher (tcpu_settings.cipher) */
} tcpu_endpoint_stats;

/* Copies the endpoint's counters into *st.  Cannot fail.  Callbacks: any. */
TCPU_EXTERN void tcpu_endpoint_get_stats(const tcpu_endpoint *ep,
                                         tcpu_endpoint_stats *st);

/* Calls fn for every live connection of the endpoint — listeners, queued
 * and orphaned ones (FIN_WAIT_*, TIME_WAIT after close) included — until
 * fn returns nonzero, and returns that value (0 when all were visited).
 * fn must not open, close or otherwise change connections.  This is how
 * status tools (`tcpu show`) and tests see connections the application
 * holds no handle for.  Callbacks: any. */
TCPU_EXTERN int tcpu_endpoint_foreach_conn(const tcpu_endpoint *ep,
                                           int (*fn)(const tcpu_conn *c,
                                                     void *arg),
                                           void *arg);

/* ------------------------------------------------------------ connections */

/* Opens a listener on TCP port `port` (1..65535).  backlog bounds both the
 * SYN queue and the accept queue (>= 1).  The listener is a tcpu_conn in
 * LISTEN; free it with tcpu_conn_close.  Errors: INVAL (NULL argument,
 * port 0, backlog < 1, settings.cc names no algorithm), ADDRINUSE (a
 * listener on that port), NOMEM.  Callbacks: yes. */
TCPU_EXTERN int tcpu_listen(tcpu_endpoint *ep, uint16_t port, int backlog,
                            tcpu_conn **plistener, tcpu_tstamp now);

/* Takes the oldest established connection off the listener's accept queue;
 * the application then holds its handle (user_data: the listener's, until
 * tcpu_conn_set_user_data).  Data or a FIN that came while it waited is
 * announced by readable().  Errors: AGAIN when it is empty, INVAL when c
 * is no listener.  Callbacks: yes. */
TCPU_EXTERN int tcpu_accept(tcpu_conn *listener, tcpu_conn **pc);

/* Starts an active open (SYN_SENT) to TCP port remote_port at the peer's
 * UDP address.  local_port 0 picks an ephemeral port (RFC 6056
 * style: hashed start, linear probe).  The SYN goes out with the next
 * tcpu_endpoint_send; connected() or closed(REFUSED/TIMEDOUT/RESET)
 * follows.  Errors: INVAL (NULL argument, remote_port 0, unknown family,
 * settings.cc names no algorithm), ADDRINUSE (local_port given and the
 * 4-tuple taken), ADDRNOTAVAIL (no free ephemeral port), NOMEM.
 * Callbacks: yes. */
TCPU_EXTERN int tcpu_connect(tcpu_endpoint *ep, const tcpu_addr *peer,
                             uint16_t local_port, uint16_t remote_port,
                             tcpu_conn **pc, tcpu_tstamp now);

/* Queues up to len bytes for sending; returns how many were taken (> 0).
 * Errors: AGAIN (send buffer full; writable() follows), PIPE (shut down
 * for writing), NOTCONN (never connected), and the connection's pending
 * error (RESET, REFUSED, TIMEDOUT) once it has failed.  Writing in
 * SYN_SENT/SYN_RCVD queues the data for after the handshake.  INVAL for
 * NULL c, or NULL data with len > 0.  len 0 returns 0.  Callbacks: yes. */
TCPU_EXTERN tcpu_ssize tcpu_conn_write(tcpu_conn *c, const uint8_t *data,
                                       size_t len, tcpu_tstamp now);

/* Copies up to len received bytes out; returns the count (> 0), 0 at end
 * of stream (the peer's FIN), AGAIN when nothing is ready yet, or the
 * connection's error (RESET, REFUSED, TIMEDOUT).  NOTCONN on a listener
 * or a connection closed without FIN or error; INVAL for NULL c, or NULL
 * buf with len > 0.  A read of length 0 reports what an empty receive
 * queue would (0, the error, NOTCONN or AGAIN).  Reading opens the
 * receive window again.  Callbacks: yes. */
TCPU_EXTERN tcpu_ssize tcpu_conn_read(tcpu_conn *c, uint8_t *buf, size_t len,
                                      tcpu_tstamp now);

/* Half-close: a FIN follows the queued data; reading goes on.  Errors:
 * NOTCONN (listener or never connected), the connection's error once it
 * failed, INVAL (NULL c).  Repeated calls are no-ops.  Before the
 * handshake completes the FIN waits for it.  Callbacks: yes. */
TCPU_EXTERN int tcpu_conn_shutdown(tcpu_conn *c, tcpu_tstamp now);

/* Releases the handle.  The core finishes the close by itself (FIN,
 * FIN_WAIT_*, TIME_WAIT) and frees the connection when it is done.  Unread
 * received data turns the close into a reset (RFC 9293 §3.10.4, RFC 2525
 * §2.17), as in Linux.  Closing a listener resets its queued connections.
 * The handle is invalid after this call; no callback names it again.
 * NULL is ignored.  Cannot fail.  Callbacks: yes. */
TCPU_EXTERN void tcpu_conn_close(tcpu_conn *c, tcpu_tstamp now);

/* Sends RST (if synchronized) and releases the handle at once; queued
 * data is discarded.  On a listener it is tcpu_conn_close.  NULL is
 * ignored.  Cannot fail.  Callbacks: yes. */
TCPU_EXTERN void tcpu_conn_abort(tcpu_conn *c, tcpu_tstamp now);

/* The RFC 9293 state.  Callbacks: any. */
TCPU_EXTERN tcpu_state tcpu_conn_state(const tcpu_conn *c);
/* The error that ended the connection (RESET, REFUSED, TIMEDOUT, ABORTED),
 * 0 if none.  Callbacks: any. */
TCPU_EXTERN int tcpu_conn_error(const tcpu_conn *c);
/* The endpoint the connection belongs to.  Callbacks: any. */
TCPU_EXTERN tcpu_endpoint *tcpu_conn_endpoint(const tcpu_conn *c);
/* The pointer passed to the connection's callbacks; see tcpu_callbacks for
 * where it starts.  Callbacks: any. */
TCPU_EXTERN void tcpu_conn_set_user_data(tcpu_conn *c, void *user_data);
TCPU_EXTERN void *tcpu_conn_get_user_data(const tcpu_conn *c);

/* Per-connection settings that applications change at run time. */
typedef enum tcpu_conn_opt {
  TCPU_OPT_NODELAY = 1,      /* value != 0 disables Nagle */
  TCPU_OPT_KEEPALIVE = 2,    /* value != 0 enables keepalive probes */
  TCPU_OPT_KEEPIDLE = 3,     /* idle time before the first probe, ns */
  TCPU_OPT_KEEPINTVL = 4,    /* time between probes, ns */
  TCPU_OPT_KEEPCNT = 5,      /* unanswered probes before giving up, 1..255 */
  TCPU_OPT_USER_TIMEOUT = 6, /* RFC 5482 user timeout, ns; 0: off */
  TCPU_OPT_SNDBUF = 7,       /* send buffer, bytes; not below what it holds */
  TCPU_OPT_RCVBUF = 8        /* receive buffer, bytes; only before the SYN
                                goes out (it fixes the window scale), so
                                right after tcpu_connect or on a listener,
                                whose connections inherit it */
} tcpu_conn_opt;
/* Sets one option (tcpu_conn_opt); on a listener the connections it
 * accepts inherit it.  Errors: INVAL for NULL c, an unknown option or a
 * value out of range, STATE for RCVBUF after the SYN went out, NOMEM.
 * Callbacks: yes. */
TCPU_EXTERN int tcpu_conn_setopt(tcpu_conn *c, tcpu_conn_opt opt,
                                 uint64_t value);

/* A snapshot of a connection in the spirit of Linux's struct tcp_info. */
typedef struct tcpu_conn_info {
  tcpu_state state;
  tcpu_addr peer;
  uint16_t local_port, remote_port;
  uint32_t snd_mss, rcv_mss;
  uint8_t snd_wscale, rcv_wscale; /* 0xff: not negotiated */
  unsigned timestamps : 1, sack : 1;
  tcpu_duration srtt, rttvar, rto; /* srtt 0: no sample yet */
  uint32_t cwnd, ssthresh;         /* bytes */
  uint32_t snd_wnd, rcv_wnd;       /* bytes, unscaled */
  uint64_t bytes_sent, bytes_acked, bytes_received, bytes_retrans;
  uint64_t segs_in, segs_out, retransmits, timeouts;
  uint32_t unacked; /* bytes sent and not acknowledged */
  uint32_t pipe;    /* RFC 6675 estimate of bytes in the network */
  uint8_t ca_state; /* 0 open, 1 fast recovery, 2 after timeout */
  uint32_t snd_buffered, rcv_buffered;
  tcpu_duration min_rtt;
  uint64_t pacing_rate, delivery_rate; /* bytes per second */
  uint64_t delivered;                  /* bytes acked or SACKed */
  uint64_t sacked_segs, lost_segs, dsacks, reorder_events;
  uint64_t spurious_undos, tlp_probes, fast_recoveries, paws_drops;
} tcpu_conn_info;

/* Fills *ci (zeroed first) with the connection's snapshot; also valid for a
 * listener and after the connection ended, while the handle is held.
 * Cannot fail.  Callbacks: any. */
TCPU_EXTERN void tcpu_conn_get_info(const tcpu_conn *c, tcpu_conn_info *ci);

/* ------------------------------------------------------------------ peers */

/* A peer is another endpoint this one knows by name.  Sealed mode: every
 * datagram goes to or comes from a peer, known by its static public key
 * (optionally with a pre-shared key); one Noise session per peer carries
 * all of its connections, and the peer's UDP endpoint follows its last
 * authenticated datagram (roaming).  Plain mode: a peer is a UDP address
 * the endpoint keeps NAT mappings open towards (persistent keepalive) and
 * punches holes to (tcpu_peer_punch); connections need no peer object. */
typedef struct tcpu_peer tcpu_peer;

/* Makes a key pair: priv from libsodium's CSPRNG, pub = X25519(priv).
 * 0, or TCPU_ERR_NOMEM when libsodium cannot start. */
TCPU_EXTERN int tcpu_keypair(uint8_t priv[TCPU_KEY_LEN],
                             uint8_t pub[TCPU_KEY_LEN]);
/* pub = X25519(priv, base point).  0, or TCPU_ERR_NOMEM as above. */
TCPU_EXTERN int tcpu_public_key(uint8_t pub[TCPU_KEY_LEN],
                                const uint8_t priv[TCPU_KEY_LEN]);
/* This endpoint's public key (sealed mode).  INVAL in plain mode. */
TCPU_EXTERN int tcpu_endpoint_public_key(const tcpu_endpoint *ep,
                                         uint8_t pub[TCPU_KEY_LEN]);

/* Adds a peer.  Sealed mode: public_key is required, psk (32 bytes) is
 * optional, endpoint (its UDP address) is optional: without one the peer
 * is reached only after it has initiated a handshake.  Plain mode:
 * public_key and psk must be NULL and endpoint is required.  *pp (may be
 * NULL) receives the peer.  Errors: INVAL (bad arguments, our own key, a
 * low-order key), ADDRINUSE (that key or plain endpoint is already a
 * peer), NOMEM. */
TCPU_EXTERN int tcpu_peer_add(tcpu_endpoint *ep, const uint8_t *public_key,
                              const uint8_t *psk, const tcpu_addr *endpoint,
                              tcpu_peer **pp, tcpu_tstamp now);
/* Removes the peer: its connections are aborted (closed callback with
 * ABORTED, delivered by the endpoint's next recv, send or handle_expiry
 * call, as every callback is), its keys wiped.  The pointer is invalid
 * afterwards. */
TCPU_EXTERN void tcpu_peer_remove(tcpu_peer *p, tcpu_tstamp now);
/* The peer with this public key (sealed) or NULL. */
TCPU_EXTERN tcpu_peer *tcpu_peer_find(const tcpu_endpoint *ep,
                                      const uint8_t public_key[TCPU_KEY_LEN]);
/* The peer a connection address names: sealed mode, a TCPU_AF_PEER
 * address; plain mode, a peer's UDP endpoint.  NULL when none. */
TCPU_EXTERN tcpu_peer *tcpu_peer_by_addr(const tcpu_endpoint *ep,
                                         const tcpu_addr *addr);
/* The address tcpu_connect takes to reach the peer and that its
 * connections report: TCPU_AF_PEER (sealed) or its endpoint (plain). */
TCPU_EXTERN void tcpu_peer_addr(const tcpu_peer *p, tcpu_addr *addr);
/* Sets the UDP endpoint (sealed mode: until an authenticated datagram
 * from elsewhere moves it).  INVAL for NULL or a TCPU_AF_PEER address. */
TCPU_EXTERN int tcpu_peer_set_endpoint(tcpu_peer *p, const tcpu_addr *endpoint,
                                       tcpu_tstamp now);
/* Persistent keepalive: an empty datagram (plain) or empty transport
 * message (sealed) when nothing was sent to the peer for interval, so a
 * NAT's mapping stays open (WireGuard suggests 25 s).  0: off, the
 * default. */
TCPU_EXTERN void tcpu_peer_set_persistent_keepalive(tcpu_peer *p,
                                                    tcpu_duration interval,
                                                    tcpu_tstamp now);
/* Hole punching towards the peer's endpoint: plain mode sends empty
 * datagrams at once and after 100, 300, 700 and 1500 ms; sealed mode
 * starts a handshake now and resends the same initiation on that
 * schedule until a response arrives.  Whichever side's datagram leaves
 * second finds the other NAT's mapping already open.  For 3 s after the
 * call, segments from the peer that reach no connection are dropped
 * instead of answered with RST, and a RST does not refuse a connection to
 * the peer still in SYN_SENT: a SYN that overtook the other side's own
 * connect is retransmitted into a simultaneous open rather than refused.
 * Errors: INVAL (no endpoint). */
TCPU_EXTERN int tcpu_peer_punch(tcpu_peer *p, tcpu_tstamp now);
TCPU_EXTERN void tcpu_peer_set_user_data(tcpu_peer *p, void *user_data);
TCPU_EXTERN void *tcpu_peer_get_user_data(const tcpu_peer *p);

typedef struct tcpu_peer_info {
  uint8_t public_key[TCPU_KEY_LEN]; /* sealed mode */
  tcpu_addr addr;                   /* as tcpu_peer_addr */
  tcpu_addr endpoint;               /* family 0: not known */
  unsigned sealed : 1;
  unsigned session : 1;   /* keys that can send right now */
  unsigned handshaking : 1; /* an initiation awaits its response */
  tcpu_tstamp last_handshake; /* TCPU_TSTAMP_NONE: never */
  tcpu_tstamp last_received;  /* last authenticated datagram (sealed);
                                 last keepalive or punch (plain) */
  tcpu_duration persistent_keepalive;
  uint64_t rx_bytes, tx_bytes; /* UDP payload bytes; plain mode counts
                                  only keepalives and punches (its segments
                                  are not matched to peers) */
  uint64_t handshakes, roams;
  /* Its initiations used the other cipher: the configurations disagree
   * (found on the responder's side; the initiator sees no answer). */
  uint64_t cipher_mismatches;
} tcpu_peer_info;
/* Fills *pi (zeroed first).  Cannot fail. */
TCPU_EXTERN void tcpu_peer_get_info(const tcpu_peer *p, tcpu_peer_info *pi);
/* Calls fn for every peer until it returns nonzero (that value is
 * returned).  fn must not add or remove peers. */
TCPU_EXTERN int tcpu_endpoint_foreach_peer(const tcpu_endpoint *ep,
                                           int (*fn)(const tcpu_peer *p,
                                                     void *arg),
                                           void *arg);

#ifdef __cplusplus
}
#endif

#include "tcpu/tcpu_cc.h"

#endif /* TCPU_TCPU_H */
