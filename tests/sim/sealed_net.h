/*
 * sealed_net.h — what sim_sealed adds to the simulator for sealed mode:
 * repeatable randomness for libsodium, a count of the Diffie-Hellman
 * operations, a trace printer and digest that decode sealed messages, a
 * recorder of every datagram put on the wire (and a hold-back queue for
 * links that lose everything, so a test can play man in the middle), and
 * injection of datagrams into an endpoint with its replies captured.
 */
#ifndef TCPU_TESTS_SEALED_NET_H
#define TCPU_TESTS_SEALED_NET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lab/netsim.h"
#include "sim_common.h"
#include "tcpu/tcpu.h"

/* ------------------------------------------------------------ randomness */

/* Installs a libsodium randombytes implementation that draws from a
 * seeded xoshiro stream, so ephemeral keys, indexes, cookie secrets and
 * handshake jitter repeat from the seed, as the replay command promises.
 * Must run before anything starts libsodium.  0, or -1 when libsodium
 * refused. */
int sealed_rng_install(void);
/* Restarts the stream from seed (each scenario run calls it first). */
void sealed_rng_reseed(uint64_t seed);

/* ----------------------------------------------------------- DH counter */

/* X25519 operations done so far, counted through the linker's
 * --wrap=crypto_scalarmult (tests/sim/CMakeLists.txt); sealed_dh_counted()
 * is 0 on toolchains without it, and the count then stays 0. */
uint64_t sealed_dh_count(void);
int sealed_dh_counted(void);

/* ------------------------------------------------------------- messages */

/* The sealed message type (1..4) of a well-formed message, else 0. */
int sealed_type(const uint8_t *d, size_t len);
/* "init s=1a2b3c4d" style one-line description. */
void sealed_describe(char *out, size_t outlen, const uint8_t *d, size_t len);
/* Sum of the counters that count a dropped sealed datagram. */
uint64_t sealed_drops(const tcpu_endpoint_stats *st);
/* Sum of the TCP-level malformed counters (must stay 0 in sealed mode:
 * nothing unauthenticated reaches the TCP parser). */
uint64_t sealed_tcp_malformed(const tcpu_endpoint_stats *st);
void sealed_print_stats(FILE *f, const char *name, const tcpu_endpoint *ep);

/* -------------------------------------------------- trace and recorder */

#define SEALED_REC_SENT 1
#define SEALED_REC_DELIVERED 2

typedef struct sealed_rec {
  tcpu_tstamp t;
  size_t from, to; /* nodes */
  uint16_t len;
  uint8_t *data;
} sealed_rec;

/* The simulator's trace hook for sealed runs. */
typedef struct sealed_tap {
  uint64_t hash, events; /* digest of every event, as sim_tracer's */
  int verbose;
  const char *const *names;
  size_t n_names;
  /* Datagrams each node put on the wire, by sealed type (0: other). */
  uint64_t sent[4][5];
  uint64_t sent_bytes[4];
  /* record: keep a copy of every datagram sent (SEALED_REC_SENT: at its
   * SEND, LOST, DROP_QUEUE or UNROUTABLE event, one per datagram an
   * endpoint produced) or of every copy delivered (SEALED_REC_DELIVERED);
   * record_max_len > 0 leaves longer ones out. */
  int record;
  size_t record_max_len;
  sealed_rec *recs;
  size_t n_recs, cap_recs;
  /* hold[from]: datagrams node `from` sends are kept here when their link
   * loses them (configure it with loss 1: the test is the wire). */
  unsigned hold_mask;
  sealed_rec *held;
  size_t n_held, cap_held, held_head;
  int oom;
} sealed_tap;

void sealed_tap_init(sealed_tap *t, int verbose, const char *const *names,
                     size_t n_names);
void sealed_tap_free(sealed_tap *t);
void sealed_trace(void *arg, const tcpu_netsim_trace_rec *r);
/* Takes the oldest held datagram: 1 and *r (its data is the caller's to
 * free), or 0 when none is held. */
int sealed_tap_pop_held(sealed_tap *t, sealed_rec *r);

/* ------------------------------------------------------------ injection */

/* A datagram an endpoint sent in answer to an injection. */
typedef struct sealed_reply {
  tcpu_addr to;
  size_t len;
  int type;
  int to_node; /* index of the node with that address, or -1 */
} sealed_reply;

#define SEALED_MAX_REPLIES 16

typedef struct sealed_inject_res {
  int rc;   /* tcpu_endpoint_recv's (or send's) error, else 0 */
  size_t n; /* datagrams the endpoint sent right after */
  sealed_reply r[SEALED_MAX_REPLIES];
  uint64_t dh; /* X25519 operations the endpoint did for it */
} sealed_inject_res;

/* Drains every endpoint at sim->now first, so that what `node`'s endpoint
 * sends afterwards is caused by this datagram alone; feeds it as if from
 * `from`; then takes everything the endpoint sends.  Datagrams addressed
 * to a node go into the link towards it as the simulator would send them
 * (a held link then holds them); the others are only reported (and shown
 * in the trace as unroutable). */
void sealed_inject(tcpu_netsim *sim, size_t node, const tcpu_addr *from,
                   const uint8_t *d, size_t len, sealed_inject_res *res);

/* The node with this address, or -1. */
int sealed_node_of(const tcpu_netsim *sim, const tcpu_addr *a);

/* "10.0.0.1:40000" */
void sealed_fmt_addr(char *out, size_t outlen, const tcpu_addr *a);

#endif /* TCPU_TESTS_SEALED_NET_H */
