/*
 * daemon.h — tcpud's run-time state, shared by its files:
 *
 *   main.c     flags, the loop, signals, exit codes
 *   daemon.c   applying a configuration (start and SIGHUP reload), the
 *              tunnel endpoint, draining on SIGTERM, peer matching
 *   forward.c  forwarded connections: one kernel TCP socket and one
 *              libtcpu stream joined by a pipe; -L listeners; services
 *   peer.c     the peer control channel (tunnel port 1) and the listeners
 *              it asks for (-R)
 *   tunpeer.c  the library's peers (tcpu_peer): keys, Endpoints and
 *              persistent keepalives pushed to the endpoint; sealed-mode
 *              addresses; watching handshakes
 *   rendezvous.c  registering with a rendezvous server and finding the
 *              peers behind NATs through it (Rendezvous = yes)
 *   control.c  the local control socket and `tcpu show`'s output
 *
 * The tunnel protocol: every forwarded TCP connection is one libtcpu
 * connection whose destination port names the service (DESIGN §3: "a
 * tunnel port names a service"); its byte stream is the application's,
 * untouched.  Tunnel port 1 carries the control channel (proto.h), used
 * only for -R.
 *
 * Run-time objects never point into the configuration, which a reload
 * replaces: they copy what they need, and find the rest by name (peers)
 * or port (services) in d->cfg when they need it.
 */
#ifndef TCPUD_DAEMON_H
#define TCPUD_DAEMON_H

#include <stdint.h>

#include <uv.h>

#include "tcpu/tcpu_uv.h"
#include "tcpud/config.h"
#include "tcpud/log.h"
#include "tcpud/pcap.h"
#include "tcpud/proto.h"

#define TCPUD_VERSION "0.1.0"

/* Exit codes (tcpud(8)). */
enum {
  TCPUD_EXIT_OK = 0,
  TCPUD_EXIT_FAILURE = 1, /* a run-time failure */
  TCPUD_EXIT_USAGE = 2,   /* bad command line */
  TCPUD_EXIT_CONFIG = 3   /* bad configuration */
};

/* Tunnel connections: TCP keepalive probes every 5 s after 25 s idle, 9
 * unanswered end the connection; the control channel probes after 10 s
 * idle, every 2 s, 5 times, so a restarted peer is found within 20 s and
 * -R listeners come back.  (A peer's PersistentKeepalive is something
 * else: the library's empty datagrams that keep NAT mappings open.) */
#define TCPUD_KA_IDLE_MS 25000
#define TCPUD_KA_INTERVAL_MS 5000
#define TCPUD_KA_COUNT 9
#define TCPUD_CTL_KA_IDLE_MS 10000
#define TCPUD_CTL_KA_INTERVAL_MS 2000
#define TCPUD_CTL_KA_COUNT 5
/* An outgoing tunnel connection gives up after this long without answer. */
#define TCPUD_TUNNEL_CONNECT_TIMEOUT_MS 30000
/* Sealed mode: how often handshakes are looked at, how long one may go
 * unanswered before the log says so, and how often it says it again. */
#define TCPUD_HS_WATCH_MS 1000
#define TCPUD_HS_FAILING_NS (10 * 1000000000ull)
#define TCPUD_HS_LOG_EVERY_NS (60 * 1000000000ull)
/* Control channel reconnection: 1 s doubling up to 30 s. */
#define TCPUD_CTL_RETRY_MIN_MS 1000
#define TCPUD_CTL_RETRY_MAX_MS 30000
/* At most this many -R listeners per control channel. */
#define TCPUD_CTL_MAX_GRANTS 256
/* Rendezvous (rendezvous.c): due lookups are started once a second; one
 * lookup asks for at most 10 s; unanswered, the next comes after 5 s,
 * doubling up to 60 s; an answered peer is looked up again at most every
 * 60 s (sealed mode: only once silent); an answer within 2 s of a punch
 * to the same address does not punch again (a lookup's answer and the
 * server's push carry the same news). */
#define TCPUD_RDV_TICK_MS 1000
#define TCPUD_RDV_LOOKUP_TIMEOUT_MS 10000
#define TCPUD_RDV_RETRY_MIN_MS 5000
#define TCPUD_RDV_RELOOKUP_MS 60000
#define TCPUD_RDV_PUNCH_GAP_MS 2000
/* Sealed mode: a peer from which nothing at all came for this long is
 * looked up again even without a handshake waiting (sessions are rekeyed
 * within 3 min, REJECT_AFTER_TIME). */
#define TCPUD_RDV_SILENT_MAX_MS 240000
/* A server silent this long after registering starts is logged. */
#define TCPUD_RDV_SILENT_SERVER_MS 10000

typedef struct tcpud tcpud;
typedef struct tcpud_pipe tcpud_pipe;
typedef struct tcpud_session tcpud_session;

/* A peer at run time: its resolved Endpoint, the library's peer object
 * and its control channels. */
typedef struct tcpud_peer {
  struct tcpud_peer *next;
  tcpud *d;
  char name[TCPUD_NAME_MAX + 1];
  unsigned has_addr : 1;
  unsigned addr_changed : 1; /* resolved elsewhere than before (reload) */
  unsigned gone : 1;  /* removed by a reload; freed once unused */
  tcpu_addr addr;     /* Endpoint, resolved, as the tunnel socket reaches it */
  tcpud_session *out; /* our control channel to it, if we have -R forwards */
  /* tunpeer.c: the library's peer (sealed mode: always; plain mode: when
   * it has an Endpoint), with what it was made from, to see changes. */
  tcpu_peer *tp;
  uint8_t key[TCPUD_KEY_LEN];    /* sealed: its public key */
  uint8_t psk_id[TCPUD_KEY_LEN]; /* sealed: BLAKE2b of its PSK, or zero */
  unsigned keepalive_s;
  /* tunpeer.c: handshake watch (sealed) */
  uint64_t hs_seen;       /* handshakes counted so far */
  uint64_t roams_seen;    /* roams counted so far */
  uint64_t mismatch_seen; /* cipher mismatches counted so far */
  uint64_t mismatch_logged; /* when the last one was logged, ns */
  uint64_t hs_wait_since; /* ns: no session since, 0 when it has one */
  uint64_t hs_logged;     /* ns: last "failing" line, 0 none */
  /* rendezvous.c: found through the rendezvous server */
  unsigned rdv : 1;       /* Rendezvous = yes (and the server is in use) */
  unsigned rdv_found : 1; /* an address came */
  char rdv_name[TCPUD_RDV_NAME_MAX + 1];
  tcpu_uv_rendezvous_req *rdv_lookup; /* the pending lookup, or NULL */
  tcpu_addr rdv_addr;      /* the last address the server told */
  uint64_t rdv_next_ns;    /* the next lookup is due (ns) */
  uint64_t rdv_found_ns;   /* when the last address came */
  uint64_t rdv_met_ns;     /* when we last punched towards it */
  unsigned rdv_backoff_ms; /* after unanswered lookups; 0 after an answer */
  uint64_t rdv_lookups, rdv_answers;
} tcpud_peer;

/* A [Service] (or the service of a -R forward): a tunnel listener. */
typedef struct tcpud_service {
  struct tcpud_service *next;
  tcpud *d;
  uint16_t port;
  char name[TCPUD_NAME_MAX + 1];
  tcpud_hostport target_conf;
  struct sockaddr_storage target; /* resolved */
  tcpu_uv_stream listener;
  unsigned listening : 1, closing : 1, keep : 1;
  uint64_t accepted, refused;
} tcpud_service;

/* A -L forward: a kernel TCP listener. */
typedef struct tcpud_forward {
  struct tcpud_forward *next;
  tcpud *d;
  tcpud_hostport listen;
  char peer[TCPUD_NAME_MAX + 1];
  uint16_t service;
  uv_tcp_t listener;
  unsigned listening : 1, closing : 1, keep : 1;
  uint64_t accepted, refused;
} tcpud_forward;

/* A -R forward as its requester sees it. */
typedef struct tcpud_rlisten {
  struct tcpud_rlisten *next;
  uint32_t id;
  tcpud_hostport listen;
  uint16_t service;
  enum { TCPUD_RL_PENDING, TCPUD_RL_ACTIVE, TCPUD_RL_FAILED } state;
  unsigned keep : 1;
  char reason[128];
} tcpud_rlisten;

/* A -R listener as the peer that listens sees it. */
typedef struct tcpud_grant {
  struct tcpud_grant *next;
  tcpud_session *s;
  uint32_t id;
  uint16_t service;
  tcpu_addr bind;
  uv_tcp_t listener;
  unsigned closing : 1;
  uint64_t accepted, refused;
} tcpud_grant;

/* A control channel (tunnel port 1). */
struct tcpud_session {
  tcpud_session *next; /* d->sessions (incoming ones) */
  tcpud *d;
  unsigned outgoing : 1;       /* we opened it (we have -R forwards) */
  unsigned stream_open : 1;    /* the stream is initialized, not yet closed */
  unsigned stream_closing : 1; /* its close was asked for */
  unsigned up : 1;             /* connected, HELLO sent */
  unsigned dead : 1;           /* closing for good: free after the close cb */
  char peer[TCPUD_NAME_MAX + 1];
  char hello[TCPUD_NAME_MAX + 1]; /* the name the other side gave */
  tcpu_addr addr;                 /* the peer's UDP address */
  tcpu_uv_stream stream;
  tcpu_uv_connect_req connect_req;
  uint8_t in[TCPUD_CTL_HDR + TCPUD_CTL_MAX_BODY];
  size_t in_len;
  /* outgoing */
  uv_timer_t retry;
  unsigned retry_open : 1;
  unsigned backoff_ms;
  uint32_t next_id;
  tcpud_rlisten *rlistens;
  /* incoming */
  tcpud_grant *grants;
  unsigned n_grants;
  uint64_t started_ns;
};

/* Which way a pipe was opened. */
typedef enum tcpud_pipe_kind {
  TCPUD_PIPE_FORWARD = 1, /* -L: local client -> peer's service */
  TCPUD_PIPE_SERVICE = 2, /* peer -> our service's target (also -R's end) */
  TCPUD_PIPE_REVERSE = 3  /* a -R listener here -> the requester's service */
} tcpud_pipe_kind;

struct tcpud {
  uv_loop_t *loop;
  tcpud_config cfg;
  const char *config_path; /* NULL: one-line flags */
  /* Builds a configuration from the file or the flags, with the
   * command line's overrides (main.c); 0 or -1 with cfg->errors. */
  int (*load)(tcpud *d, tcpud_config *cfg);
  void *load_arg;
  char socket_path[256]; /* control socket, "" when off */

  tcpu_uv_endpoint tun;
  unsigned tun_open : 1;
  tcpud_mode mode;      /* what the endpoint was opened with */
  uint8_t public_key[TCPUD_KEY_LEN]; /* sealed: ours */
  uv_timer_t hs_timer;  /* sealed: the handshake watch */
  unsigned hs_timer_open : 1;
  uint64_t hs_failed_seen, auth_failed_seen; /* endpoint counters logged */
  uint64_t hs_summary_ns;                    /* last summary line */
  tcpu_addr local_addr;        /* bound UDP address */
  tcpu_uv_stream ctl_listener; /* tunnel port 1 */
  unsigned ctl_listening : 1;
  tcpud_pcap *pcap;
  uv_timer_t pcap_timer; /* flushes the capture every second */
  /* rendezvous.c: the registration, while Rendezvous is set */
  tcpu_uv_rendezvous rdv;
  unsigned rdv_on : 1;       /* registered (or registering) */
  unsigned rdv_observed : 1; /* the server answered: rdv.observed */
  unsigned rdv_warned : 1;   /* said that it does not answer */
  unsigned rdv_timer_open : 1;
  struct sockaddr_storage rdv_server;
  tcpu_addr rdv_server_addr;
  char rdv_self[TCPUD_RDV_NAME_MAX + 1]; /* the name registered */
  uint64_t rdv_started_ns;               /* registering since */
  uv_timer_t rdv_timer;                  /* starts the lookups due */

  tcpud_peer *peers;
  tcpud_service *services;
  tcpud_forward *forwards;
  tcpud_session *sessions; /* incoming control channels */
  tcpud_pipe *pipes;
  size_t n_pipes;

  uv_signal_t sig_hup, sig_term, sig_int;
  uv_timer_t drain_timer;
  uv_pipe_t control; /* the control socket's listener */
  unsigned control_open : 1;
  unsigned draining : 1;
  unsigned closing : 1; /* the endpoint is being closed: the end */
  int exit_code;
  uint64_t started_ns;
  uint64_t reloads;

  /* counters for `tcpu show` */
  uint64_t pipes_total, pipes_failed, limit_refused, peer_denied;
  tcpud_ratelimit rl_limit, rl_denied, rl_target, rl_ctl;
};

/* ---- daemon.c */

/* Starts everything the configuration asks for.  Returns 0, or
 * TCPUD_EXIT_FAILURE after logging why (nothing is left running then but
 * handles already closing). */
int tcpud_start(tcpud *d);
/* SIGHUP: loads the configuration again and applies the difference;
 * established connections are never touched.  Returns 0 or -1 (the old
 * configuration stays; errors logged). */
int tcpud_reload(tcpud *d);
/* SIGTERM: stop listening, FIN every forwarded connection, wait at most
 * DrainTimeout, then reset what is left and end. */
void tcpud_drain(tcpud *d);
/* Ends at once (second signal, or start failure). */
void tcpud_stop(tcpud *d);
/* Called when a pipe or channel went away: ends the drain once empty. */
void tcpud_check_drained(tcpud *d);

/* The peer a connection's address belongs to.  Sealed mode: the peer of
 * that TCPU_AF_PEER address (its key).  Plain mode: the one whose
 * Endpoint it is, else the first whose AllowedIPs hold it.  NULL when
 * none. */
tcpud_peer *tcpud_peer_match(tcpud *d, const tcpu_addr *addr);
tcpud_peer *tcpud_peer_find(tcpud *d, const char *name);
/* cfg entry of a run-time peer, NULL when it was removed by a reload. */
const tcpud_peer_conf *tcpud_peer_conf_of(tcpud *d, const char *name);
/* Monotonic time in ns (uv_hrtime). */
uint64_t tcpud_now(void);
/* Family the tunnel socket reaches: 0 (both, dual-stack), 4 or 6. */
int tcpud_tunnel_family(tcpud *d);
/* Starts t (data d) calling cb every every_ms, without keeping the loop
 * alive: the periodic watches (handshakes, rendezvous). */
void tcpud_watch_start(tcpud *d, uv_timer_t *t, uv_timer_cb cb,
                       uint64_t every_ms);
/* uv or libtcpu error text. */
const char *tcpud_strerror(int err);

/* ---- tunpeer.c */

/* Makes the library's peer of p match its configuration pc: adds it,
 * replaces it when its key or PSK changed (its connections end), moves
 * its Endpoint when the configured one changed, sets its persistent
 * keepalive.  fatal: at start, where a failure stops tcpud.  0 or -1
 * (logged; sealed mode only: a plain peer works without the library's
 * peer, only without keepalives). */
int tcpud_tunpeer_sync(tcpud *d, tcpud_peer *p, const tcpud_peer_conf *pc,
                       int fatal);
/* Removes the library's peer of p (its connections end, its keys are
 * wiped); only forgets it once the endpoint is closing. */
void tcpud_tunpeer_remove(tcpud *d, tcpud_peer *p);
/* Plain mode: the peer is at addr now (rendezvous.c): its Endpoint for
 * new connections, and the library's peer is added or moved there.  0, or
 * -1 (logged) when the library's peer cannot move. */
int tcpud_tunpeer_learn(tcpud *d, tcpud_peer *p, const tcpud_peer_conf *pc,
                        const tcpu_addr *addr);
/* The address the peer's connections use: sealed mode, its TCPU_AF_PEER
 * address; plain mode, its Endpoint.  0, or -1 when there is none. */
int tcpud_peer_conn_addr(const tcpud_peer *p, tcpu_addr *a);
/* Opens a tunnel connection to addr (a UDP address or TCPU_AF_PEER);
 * as tcpu_uv_connect. */
int tcpud_tunnel_connect(tcpud *d, tcpu_uv_connect_req *req,
                         tcpu_uv_stream *stream, const tcpu_addr *addr,
                         uint16_t port, uint64_t timeout_ms,
                         tcpu_uv_connect_cb cb);
/* A connection's address for logs and `tcpu show`: "192.0.2.1:7000", or
 * for a sealed peer "NAME@ENDPOINT" ("key:hSDwCYkw@..." when it is no
 * [Peer] of ours, "@?" while its endpoint is unknown).  Returns buf. */
char *tcpud_conn_addr_format(tcpud *d, const tcpu_addr *a, char *buf,
                             size_t len);
/* Sealed mode: starts and stops the handshake watch, which logs at debug
 * level every handshake and roam, as a warning a peer whose handshakes
 * have gone unanswered for TCPUD_HS_FAILING_NS (again at most every
 * TCPUD_HS_LOG_EVERY_NS), and at most once a minute how many handshake
 * and transport messages failed to authenticate. */
void tcpud_hs_watch_start(tcpud *d);
void tcpud_hs_watch_stop(tcpud *d);

/* ---- forward.c */

int tcpud_service_open(tcpud *d, tcpud_service *svc);
void tcpud_service_close(tcpud_service *svc);
int tcpud_forward_open(tcpud *d, tcpud_forward *fwd);
void tcpud_forward_close(tcpud_forward *fwd);
/* A -R listener (peer.c) has a connection: pipe it to the requester. */
void tcpud_pipe_from_grant(tcpud_grant *g, uv_stream_t *server);
/* Every pipe: FIN both ways (drain), or reset (stop). */
void tcpud_pipes_drain(tcpud *d);
void tcpud_pipes_reset(tcpud *d);

/* What `tcpu show` lists of a pipe. */
typedef struct tcpud_pipe_info {
  tcpud_pipe_kind kind;
  const char *peer;
  uint16_t service;
  char local[TCPUD_ADDRSTRLEN];  /* the kernel socket's own address */
  char remote[TCPUD_ADDRSTRLEN]; /* the kernel socket's other end */
  const char *state;             /* "connecting", "open", "closing", ... */
  uint64_t bytes_in, bytes_out;  /* kernel -> tunnel, tunnel -> kernel */
  uint64_t age_ns;
  int has_tunnel;
  tcpu_conn_info tunnel;
  const tcpu_conn *conn; /* the tunnel's core connection, or NULL */
} tcpud_pipe_info;

/* Calls fn for every pipe. */
void tcpud_pipes_foreach(tcpud *d,
                         void (*fn)(const tcpud_pipe_info *pi, void *arg),
                         void *arg);
const char *tcpud_pipe_kind_name(tcpud_pipe_kind k);

/* ---- peer.c */

/* Listens on tunnel port 1 for control channels. */
int tcpud_ctl_listen(tcpud *d);
/* Makes our outgoing channel to the peer match the -R forwards of the
 * configuration towards it: opens, updates (LISTEN/UNLISTEN) or closes it. */
void tcpud_peer_sync_reverse(tcpud *d, tcpud_peer *p);
/* After a reload: closes channels of removed peers and listeners their
 * AllowReverse no longer allows. */
void tcpud_sessions_recheck(tcpud *d);
/* Closes every control channel (drain or stop). */
void tcpud_sessions_close(tcpud *d);
/* Frees a peer removed by a reload (closes its channel first). */
void tcpud_peer_release(tcpud_peer *p);
/* The peer's address was just learned or changed (plain mode,
 * rendezvous.c): our control channel to it connects now instead of at its
 * next retry, or moves there. */
void tcpud_peer_addr_learned(tcpud *d, tcpud_peer *p);

/* ---- rendezvous.c */

/* Makes the registration and the lookups match the configuration: at
 * start (fatal: a server that does not resolve stops tcpud) and after
 * apply_peers on reload.  0 or -1 (logged). */
int tcpud_rdv_apply(tcpud *d, int fatal);
/* Stops looking the peer up (it is removed, or no longer Rendezvous). */
void tcpud_rdv_peer_forget(tcpud *d, tcpud_peer *p);
/* Ends the registration and every lookup (the daemon stops). */
void tcpud_rdv_stop(tcpud *d);
/* For `tcpu show`: "looking up", "found", ... or NULL when the peer is
 * not found through the rendezvous. */
const char *tcpud_rdv_peer_state(const tcpud_peer *p);

/* ---- control.c */

int tcpud_control_open(tcpud *d);
void tcpud_control_close(tcpud *d);

#endif /* TCPUD_DAEMON_H */
