/*
 * sealed_world.h — the world every sim_sealed scenario runs in: a client
 * node (10.0.0.1:40000) and a server node (10.0.0.2:51820) over a pair of
 * simulated links, each with a sealed (or plain) endpoint, keys and
 * peers drawn from the seed, a listener on the server, and applications
 * on both sides that stream seed-keyed bytes (sim_stream_fill), check
 * every byte read, shut down and close.  Scenarios add a hook that runs
 * between simulator steps (attacks, moves, floods), then check the
 * counters.  sealed_world.c implements it; the scenarios live in
 * sealed_handshake.c, sealed_session.c and sealed_attack.c, the program
 * in sim_sealed.c.
 */
#ifndef TCPU_TESTS_SEALED_WORLD_H
#define TCPU_TESTS_SEALED_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "sealed_net.h"
#include "sim_common.h"
#include "tcpu/tcpu.h"

#define SERVER_PORT 80
#define KiB ((uint64_t)1024)
#define MiB ((uint64_t)1024 * 1024)
#define MS TCPU_NS_PER_MS
#define SEC TCPU_NS_PER_S
/* Virtual time starts well away from zero. */
#define T0 (1000 * SEC)
/* now + this is the wall clock of the TAI64N timestamps: late 2023. */
#define WALL_OFFSET UINT64_C(1700000000000000000)
/* Steps at one virtual instant beyond this are a livelock. */
#define SAME_TIME_STEPS 100000
#define CHUNK 16384
#define UNBOUNDED UINT64_MAX

#define NODE_C 0
#define NODE_S 1
#define NODE_C2 2 /* the client's second address (roam) */

/* --plain: the plain-mode twin of a scenario (rekey only), to tell the
 * TCP core's share of a failure from the envelope's. */
extern int sealed_plain_twin;

/* ------------------------------------------------------------ the world */

/* One application end of the connection. */
typedef struct side {
  const char *name;
  tcpu_conn *c;
  int open;     /* we hold the handle */
  int released; /* we closed it */
  int connected, shut, eof;
  uint64_t out_key, out_len, written, out_hash;
  uint64_t in_key, in_len, readn, in_hash;
  tcpu_tstamp stop_at; /* out_len UNBOUNDED: stop writing then */
  tcpu_tstamp connected_at, last_read, gap_at;
  tcpu_duration max_gap; /* longest time between two reads */
  int closed_seen, closed_err;
  tcpu_conn_info info; /* at release */
  uint8_t wbuf[CHUNK];
  uint64_t wb_off;
  size_t wb_len;
} side;

typedef struct world world;
typedef struct result result; /* how a scenario ended; below */
typedef void (*hook_fn)(world *w);
typedef int (*cond_fn)(world *w);

struct world {
  tcpu_netsim sim;
  sealed_tap tap;
  tcpu_endpoint *ep_c, *ep_s;
  tcpu_settings set_c, set_s;
  uint8_t priv_c[TCPU_KEY_LEN], pub_c[TCPU_KEY_LEN];
  uint8_t priv_s[TCPU_KEY_LEN], pub_s[TCPU_KEY_LEN];
  tcpu_peer *pc; /* the client's peer object for the server */
  tcpu_peer *ps; /* the server's for the client */
  tcpu_addr a_c, a_s, a_c2;
  tcpu_conn *listener;
  unsigned accepted;
  side cli, srv;
  sim_verdict v;
  int verbose;
  int sealed_c, sealed_s;
  int expect_client_err; /* the client's connection may fail */
  tcpu_tstamp connect_at;
  hook_fn hook; /* between steps, while the verdict is ok */
  void *sc;     /* the scenario's state */
  cond_fn cond;
  uint64_t same_time;
  tcpu_tstamp last_t;
  tcpu_link_rng r; /* the seed's stream, for the scenario's choices */
  /* crossed: the server dials the client too, on the client's listener */
  tcpu_conn *x_listener, *x_dial, *x_acc;
  tcpu_tstamp x_dial_at, x_connected_at, x_accepted_at;
};

static inline tcpu_tstamp world_now(const world *w) { return w->sim.now; }

static inline void world_say(world *w, const char *who, const char *what) {
  sim_say(w->verbose, world_now(w), who, what);
}

/* How a world is made. */
typedef struct setup {
  int plain;        /* both ends plain mode */
  int client_plain; /* the client plain, the server sealed */
  tcpu_cipher cipher_c, cipher_s;
  int unlisted;            /* the server does not know the client's key */
  int wrong_server_key;    /* the client has another key for the server */
  int psk;                 /* 0 none, 1 the same, 2 different */
  int vary;                /* settings from sim_settings, else defaults */
  uint64_t n_cs, n_sc;     /* stream lengths (UNBOUNDED: until stop_at) */
  uint32_t handshake_load; /* both ends; 0: the default */
  uint32_t rcvbuf;         /* both ends; 0: as drawn */
  tcpu_link_cfg cs, sc;
} setup;

/* Both links alike and clean (no loss, no rate limit): a delay of min_ms
 * plus [0, span_ms) ms drawn from r. */
void setup_clean_links(setup *su, tcpu_link_rng *r, uint64_t min_ms,
                       uint64_t span_ms);

/* A zeroed world and, when state_size > 0, a zeroed scenario state of
 * that size in w->sc; NULL, with res failed, when out of memory. */
world *world_alloc(result *res, size_t state_size);
/* Endpoints, nodes, links, keys, peers and the listener; the connect is
 * the scenario's.  Returns 0, or -1 with the verdict failed. */
int world_init(world *w, uint64_t seed, const setup *su, int verbose);
/* The client connects to the server (by its peer address when sealed). */
void world_connect(world *w);
void world_free(world *w);
/* A scenario's end: the final counters when describing, world_finish,
 * then the world and its state (w->sc) freed. */
void world_end(world *w, int describe, result *res);
/* Both links' configurations (c>s, s>c); fails the verdict when refused. */
void world_set_links(world *w, const tcpu_link_cfg *cs,
                     const tcpu_link_cfg *sc);
/* The client's and the server's endpoint counters. */
void world_stats(world *w, tcpu_endpoint_stats *c, tcpu_endpoint_stats *s);

/* Runs until cond (or a failure); the result of tcpu_netsim_run. */
int world_run(world *w, cond_fn cond, tcpu_tstamp deadline, uint64_t max_steps);
/* Runs until cond, failing with `what` when it does not come. */
void world_run_expect(world *w, cond_fn cond, tcpu_tstamp deadline,
                      uint64_t max_steps, const char *what);
int world_cond_connected(world *w);
int world_cond_closed(world *w);   /* both handles released */
int world_cond_no_conns(world *w); /* no connection but listeners left */

/* ------------------------------------------------------------- checks */

/* Both streams complete, in order, each byte once. */
void world_check_streams(world *w);
/* The accepted connection names the client by its synthetic address, the
 * server knows the client's UDP endpoint, each side has a session, no
 * malformed datagram reached a TCP parser, no reset. */
void world_check_peers(world *w, const tcpu_addr *client_udp);
/* One connection opened and closed on each endpoint. */
void world_check_balanced(world *w);
void world_describe(world *w, uint64_t seed, const char *what, const setup *su);
void world_describe_end(world *w);

/* Before and after an injection. */
typedef struct snap {
  tcpu_endpoint_stats st[2];
  tcpu_tstamp exp[2];
  uint64_t readn[2];
  unsigned accepted;
  tcpu_state cstate;
  tcpu_peer_info pc, ps;
} snap;

void world_snap(world *w, snap *s);
/* Drains the simulator, then feeds a datagram to `node` as sealed_inject
 * does, with a snapshot just before (a) and just after (b).  0, or -1
 * with the verdict failed when the drain failed. */
int world_inject_snapped(world *w, size_t node, const tcpu_addr *from,
                         const uint8_t *d, size_t len, snap *a, snap *b,
                         sealed_inject_res *res);
/* 10.66.x.y:port drawn from the world's stream. */
void world_attacker_addr(world *w, tcpu_addr *a);
/* Feeds a datagram that must be refused (a replay, a forgery): it is
 * counted as one dropped sealed datagram, draws no datagram in reply, and
 * changes nothing the applications or the peers show: no byte delivered,
 * no connection, no handshake, no cookie taken, no timer moved, no peer
 * endpoint moved. */
void world_inject_refused(world *w, size_t node, const tcpu_addr *from,
                          const uint8_t *d, size_t len, const char *what);

/* ------------------------------------------------------------- results */

struct result {
  sim_verdict v;
  int skipped;
  uint64_t hash, events, steps;
  tcpu_tstamp elapsed;
  uint64_t bytes;
  char note[160]; /* a figure for the summary */
};

void world_finish(world *w, result *res);

uint64_t sealed_draw_size(tcpu_link_rng *r, uint64_t lo, uint64_t hi);
double sealed_uniform(tcpu_link_rng *r, double lo, double hi);
void sealed_draw_key(tcpu_link_rng *r, uint8_t priv[TCPU_KEY_LEN],
                     uint8_t pub[TCPU_KEY_LEN]);

/* ----------------------------------------------------------- scenarios */

typedef void (*scenario_fn)(uint64_t seed, int describe, int verbose,
                            result *res);

/* sealed_handshake.c */
void sc_cold(uint64_t seed, int describe, int verbose, result *res);
void sc_handshake(uint64_t seed, int describe, int verbose, result *res);
void sc_aesgcm(uint64_t seed, int describe, int verbose, result *res);
void sc_silence(uint64_t seed, int describe, int verbose, result *res);
void sc_crossed(uint64_t seed, int describe, int verbose, result *res);
/* sealed_session.c */
void sc_rekey(uint64_t seed, int describe, int verbose, result *res);
void sc_roam(uint64_t seed, int describe, int verbose, result *res);
/* sealed_attack.c */
void sc_replay(uint64_t seed, int describe, int verbose, result *res);
void sc_tamper(uint64_t seed, int describe, int verbose, result *res);
void sc_cookie(uint64_t seed, int describe, int verbose, result *res);

#endif /* TCPU_TESTS_SEALED_WORLD_H */
