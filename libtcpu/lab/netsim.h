/*
 * netsim.h — a virtual-time driver of N endpoints over link models
 * (DESIGN §9, STYLE "lab/").
 *
 * Each node is a UDP address (only a label: nothing touches a real network)
 * and the tcpu_endpoint bound to it.  Directed links (link.h) join pairs of
 * nodes; a datagram an endpoint sends to an address goes into the link from
 * its node to the node with that address.  Time is virtual: a step jumps
 * straight to the earliest event, any endpoint's expiry or any link's next
 * arrival, like picoquic's tls_api_one_sim_round.  One step at time t:
 *   1. every datagram due at t is delivered (links in the order they were
 *      added, each in arrival order) with tcpu_endpoint_recv;
 *   2. every endpoint whose expiry is <= t runs tcpu_endpoint_handle_expiry;
 *   3. every endpoint is drained with tcpu_endpoint_send into its links.
 * Each step (and each run) starts with a drain as well, so whatever the
 * application did between steps (connect, write, close) goes out at the
 * current time.  Nodes, links and all randomness are visited in a fixed
 * order and every link's seed derives from the simulator's seed, so the
 * same seed and the same calls give the same events.  A wake-up
 * (tcpu_netsim_wake_at) is an event of its own: a step at a time the
 * caller chose, so it can act then (an application timer).
 *
 * The simulator does not own the endpoints: the caller creates them (with
 * sim->now as their time) and deletes them after tcpu_netsim_free.
 */
#ifndef TCPU_LAB_NETSIM_H
#define TCPU_LAB_NETSIM_H

#include <stddef.h>
#include <stdint.h>

#include "lab/link.h"
#include "tcpu/tcpu.h"

typedef struct tcpu_netsim tcpu_netsim;

/* Every datagram an endpoint sends gives exactly one of SEND, LOST,
 * DROP_QUEUE or UNROUTABLE, then possibly DUPLICATED, and one DELIVER per
 * copy that reaches a node with an endpoint. */
typedef enum tcpu_netsim_event {
  TCPU_NETSIM_EV_SEND = 1,    /* sent and taken by the link; arrive set */
  TCPU_NETSIM_EV_UNROUTABLE,  /* sent to an address without a link */
  TCPU_NETSIM_EV_LOST,        /* sent; the link lost it */
  TCPU_NETSIM_EV_DROP_QUEUE,  /* sent; the link tail-dropped it */
  TCPU_NETSIM_EV_DUPLICATED,  /* the link made a copy; arrive set */
  TCPU_NETSIM_EV_DELIVER,     /* handed to the destination endpoint */
  TCPU_NETSIM_EV_EXPIRY       /* a node's timers ran; no datagram */
} tcpu_netsim_event;

#define TCPU_NETSIM_NODE_NONE ((size_t)-1)

typedef struct tcpu_netsim_trace_rec {
  tcpu_netsim_event ev;
  tcpu_tstamp now;
  size_t from, to;        /* node indexes; to may be TCPU_NETSIM_NODE_NONE */
  const uint8_t *data;    /* valid only during the call; NULL for EXPIRY */
  size_t len;
  tcpu_tstamp arrive;     /* SEND, DUPLICATED: when it will arrive */
  /* SEND, DUPLICATED, DELIVER: the link held this copy back, or flipped
   * one of its bits (DELIVER's data is then the damaged copy). */
  unsigned reordered : 1, corrupted : 1;
} tcpu_netsim_trace_rec;

typedef void (*tcpu_netsim_trace_fn)(void *arg, const tcpu_netsim_trace_rec *r);

/* Returns nonzero when the run should stop.  It may act on the endpoints'
 * connections (write, read, close...): the next step sends the result. */
typedef int (*tcpu_netsim_done_fn)(tcpu_netsim *sim, void *arg);

typedef struct tcpu_netsim_node {
  tcpu_addr addr;
  tcpu_endpoint *ep; /* NULL: a black hole that swallows what arrives */
} tcpu_netsim_node;

typedef struct tcpu_netsim_link {
  tcpu_netsim *sim;
  size_t from, to;
  tcpu_link link;
  /* What the link did to the copy it handed out last (its DELIVERED
   * trace), for the DELIVER event and the corrupted count. */
  unsigned last_reordered : 1, last_corrupted : 1;
} tcpu_netsim_link;

typedef struct tcpu_netsim_stats {
  uint64_t steps;       /* events handled, over all runs */
  uint64_t sent;        /* datagrams the endpoints produced */
  uint64_t delivered;   /* datagrams fed to endpoints */
  uint64_t delivered_corrupted; /* of those, copies with a flipped bit:
                                   each must be dropped as malformed */
  uint64_t unroutable;  /* sent to an address with no link */
  uint64_t swallowed;   /* arrived at a node without an endpoint */
  uint64_t expiries;    /* handle_expiry calls */
} tcpu_netsim_stats;

struct tcpu_netsim {
  tcpu_tstamp now;
  uint64_t seed;
  tcpu_netsim_node *nodes;
  size_t n_nodes, nodes_cap;
  tcpu_netsim_link **links; /* pointers: the link traces keep them */
  size_t n_links, links_cap;
  uint8_t *buf;             /* one datagram */
  tcpu_netsim_stats stats;
  tcpu_netsim_trace_fn trace;
  void *trace_arg;
  tcpu_tstamp wakeup;       /* tcpu_netsim_wake_at, NONE if not asked */
};

/* How tcpu_netsim_run ended (errors are negative TCPU_ERR_*). */
typedef enum tcpu_netsim_result {
  TCPU_NETSIM_DONE = 0,       /* the predicate said so */
  TCPU_NETSIM_IDLE = 1,       /* no timer and nothing in flight: nothing
                                 will ever happen again */
  TCPU_NETSIM_TIME_LIMIT = 2, /* the next event lies beyond the deadline */
  TCPU_NETSIM_STEP_LIMIT = 3  /* max_steps events handled */
} tcpu_netsim_result;

/* "DONE" style name of a result or error. */
const char *tcpu_netsim_result_name(int r);

/* An empty simulation at virtual time start.  Errors: NOMEM. */
int tcpu_netsim_init(tcpu_netsim *sim, uint64_t seed, tcpu_tstamp start);
/* Frees links and held datagrams; endpoints stay the caller's. */
void tcpu_netsim_free(tcpu_netsim *sim);

/* Adds a node and returns its index (>= 0).  ep may be NULL and set later.
 * Errors: INVAL (address already taken), NOMEM. */
int tcpu_netsim_add_node(tcpu_netsim *sim, const tcpu_addr *addr,
                         tcpu_endpoint *ep);
/* Replaces a node's endpoint (a restarted host); NULL makes it a black
 * hole.  Errors: INVAL. */
int tcpu_netsim_set_endpoint(tcpu_netsim *sim, size_t node, tcpu_endpoint *ep);

/* Adds the link from -> to.  Its seed derives from the simulator's seed
 * and the pair.  Errors: INVAL (bad node, bad cfg, link exists), NOMEM. */
int tcpu_netsim_add_link(tcpu_netsim *sim, size_t from, size_t to,
                         const tcpu_link_cfg *cfg);
/* Both directions at once; ba NULL means the same as ab. */
int tcpu_netsim_add_path(tcpu_netsim *sim, size_t a, size_t b,
                         const tcpu_link_cfg *ab, const tcpu_link_cfg *ba);
/* The link from -> to, NULL if none.  Callers may read its stats and
 * change its cfg; its trace hook belongs to the simulator. */
tcpu_link *tcpu_netsim_get_link(tcpu_netsim *sim, size_t from, size_t to);

void tcpu_netsim_set_trace(tcpu_netsim *sim, tcpu_netsim_trace_fn fn,
                           void *arg);

/* Asks for a step at t even if no endpoint or link has an event then, so
 * the driver can act at a chosen virtual time (an application timer, seen
 * by the run's predicate).  One request is kept, the earliest; it is
 * cleared when reached, so drivers with several timers ask again for the
 * next one. */
void tcpu_netsim_wake_at(tcpu_netsim *sim, tcpu_tstamp t);

/* Time of the earliest event (including a wake-up), TCPU_TSTAMP_NONE if
 * there is none. */
tcpu_tstamp tcpu_netsim_next_event(const tcpu_netsim *sim);

/* Sends what the endpoints have to send at the current time. */
int tcpu_netsim_drain(tcpu_netsim *sim);

/* Drains, then handles the earliest event if it lies at or before
 * deadline.  Returns 1 when it handled one, 0 when there is none up to
 * deadline (sim->now stays), or the first error of an endpoint call. */
int tcpu_netsim_step(tcpu_netsim *sim, tcpu_tstamp deadline);

/* Steps until done(sim, arg) returns nonzero (checked before the first
 * step and after each; done may be NULL), the simulation is idle, the next
 * event lies beyond deadline (sim->now is then moved to deadline), or
 * max_steps steps were taken.  Returns a tcpu_netsim_result or an
 * endpoint's error. */
int tcpu_netsim_run(tcpu_netsim *sim, tcpu_netsim_done_fn done, void *arg,
                    tcpu_tstamp deadline, uint64_t max_steps);

#endif /* TCPU_LAB_NETSIM_H */
