/*
 * link.h — a one-direction link model for the lab (DESIGN §9, STYLE "lab/").
 *
 * One model serves three masters: the deterministic test simulator
 * (netsim.c), the virtual-time `tcpu lab` and the real-time `tcpu netem`
 * relay.  It therefore knows nothing about endpoints or addresses: it takes
 * opaque datagrams with a time stamp and hands them back later, changed the
 * way a path changes them.  Shape after picoquic's sim_link (submit,
 * next_arrival, dequeue).
 *
 * What happens to a submitted datagram, in this order:
 *   1. loss: independent random loss, then a Gilbert-Elliott two-state
 *      channel for bursts (one state step per submitted datagram);
 *   2. the bottleneck: a drop-tail FIFO in front of a serialiser of
 *      rate_bps; a datagram that does not fit the byte or packet limit is
 *      dropped, else it leaves the serialiser when all earlier ones have;
 *   3. the wire: propagation delay plus bounded uniform jitter.  Jitter
 *      alone never reorders (a FIFO path whose delay varies), so an arrival
 *      is never earlier than the previous in-order arrival;
 *   4. faults after the bottleneck: with probability `reorder` a datagram is
 *      held back reorder_delay longer, plus up to reorder_jitter (uniform),
 *      and later ones may overtake it; with probability `dup` a copy
 *      arrives right behind it; each copy has its own chance `corrupt` of
 *      one flipped bit.
 *
 * Everything random comes from the link's own xoshiro256** state, seeded
 * through splitmix64, so a link replays exactly from its seed.  Memory is
 * bounded: besides the bottleneck limits, at most max_held datagrams
 * (queued plus on the wire) are held at once; beyond that they are dropped
 * and counted as queue drops.
 */
#ifndef TCPU_LAB_LINK_H
#define TCPU_LAB_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "lab/aqm.h"
#include "tcpu/tcpu.h"

/* Hard cap on datagrams held when the configuration sets none. */
#define TCPU_LINK_DEFAULT_MAX_HELD 65536u

typedef struct tcpu_link_cfg {
  uint64_t rate_bps;     /* bottleneck rate in bits/s; 0: infinite */
  uint32_t overhead;     /* bytes added per datagram on the wire (e.g. 28
                            for IPv4 + UDP): they take serialisation time
                            and queue room but are not delivered; <= 65535 */
  tcpu_duration delay;   /* one-way propagation delay */
  tcpu_duration jitter;  /* extra delay, uniform in [0, jitter] */
  double loss;           /* independent loss probability */
  /* Gilbert-Elliott bursty loss; off while ge_p_good_bad is 0.  The chain
   * starts in the good state; each submitted datagram is lost with the
   * current state's probability, then the chain takes one step. */
  double ge_p_good_bad;  /* P(good -> bad) */
  double ge_p_bad_good;  /* P(bad -> good) */
  double ge_loss_good;   /* loss probability in the good state */
  double ge_loss_bad;    /* loss probability in the bad state */
  double dup;            /* probability of one duplicate */
  double reorder;        /* probability of being held back */
  tcpu_duration reorder_delay; /* how much longer a held-back one takes */
  tcpu_duration reorder_jitter; /* plus uniform in [0, reorder_jitter] */
  double corrupt;        /* probability, per copy, of one flipped bit */
  uint64_t queue_bytes;  /* bottleneck limit in wire bytes; 0: none */
  uint32_t queue_pkts;   /* bottleneck limit in datagrams; 0: none */
  uint32_t max_held;     /* datagrams held in all; 0: the default cap */
  /* Step 2 beyond drop-tail at a constant rate (aqm.h): a queue
   * discipline (CoDel, RED), and service that follows a Mahimahi trace
   * (trace.h) in place of rate_bps.  With either, the queue limits count
   * the datagrams waiting for the server, and a datagram's departure is
   * decided when the server takes it: its QUEUED trace has arrive NONE,
   * CoDel may still drop it then (DROP_AQM), and next_arrival is only a
   * lower bound (a dequeue then may hand out nothing). */
  tcpu_aqm_cfg aqm;
  const tcpu_mm_trace *trace; /* not owned; must outlive the link */
  tcpu_tstamp trace_origin;   /* when the trace's millisecond 0 is */
} tcpu_link_cfg;

typedef struct tcpu_link_stats {
  uint64_t submitted;     /* datagrams given to tcpu_link_submit */
  uint64_t delivered;     /* datagrams handed out, duplicates included */
  uint64_t dropped_queue; /* tail drops: bottleneck or max_held full */
  uint64_t lost;          /* random or Gilbert-Elliott loss */
  uint64_t duplicated;    /* extra copies made */
  uint64_t reordered;     /* datagrams held back */
  uint64_t corrupted;     /* copies with a flipped bit */
  uint64_t dropped_aqm;   /* CoDel at dequeue, RED at enqueue */
  uint64_t bytes_submitted, bytes_delivered;
} tcpu_link_stats;

/* What happened to one datagram, for traces (tcpu_link_set_trace). */
typedef enum tcpu_link_event {
  TCPU_LINK_EV_LOST = 1,       /* random or burst loss */
  TCPU_LINK_EV_DROP_QUEUE,     /* tail drop */
  TCPU_LINK_EV_QUEUED,         /* accepted; arrive is set */
  TCPU_LINK_EV_DUPLICATED,     /* a copy accepted; arrive is set */
  TCPU_LINK_EV_DELIVERED,      /* handed out by tcpu_link_dequeue */
  TCPU_LINK_EV_DROP_AQM        /* CoDel dropped a QUEUED one at dequeue */
} tcpu_link_event;

typedef struct tcpu_link_trace_rec {
  tcpu_link_event ev;
  uint64_t id;        /* submit order, shared by a datagram's copies */
  const uint8_t *data; /* as submitted, or for DELIVERED as delivered
                          (corruption shows only there); valid only
                          during the call */
  size_t len;
  tcpu_tstamp now;    /* time of the call that caused the event */
  tcpu_tstamp arrive; /* arrival time of the copy; NONE for drops */
  unsigned reordered : 1, corrupted : 1;
} tcpu_link_trace_rec;

typedef void (*tcpu_link_trace_fn)(void *arg, const tcpu_link_trace_rec *r);

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64: small,
 * fast, and the same stream on every platform.  Exposed so drivers and
 * tests tie all their randomness to one seed. */
typedef struct tcpu_link_rng {
  uint64_t s[4];
} tcpu_link_rng;

void tcpu_link_rng_seed(tcpu_link_rng *r, uint64_t seed);
uint64_t tcpu_link_rng_next(tcpu_link_rng *r);
/* Uniform in [0, n); 0 when n is 0. */
uint64_t tcpu_link_rng_below(tcpu_link_rng *r, uint64_t n);
/* Uniform in [0, 1) with 53 bits. */
double tcpu_link_rng_unit(tcpu_link_rng *r);
/* 1 with probability p (p <= 0: never, p >= 1: always). */
int tcpu_link_rng_chance(tcpu_link_rng *r, double p);
/* One step of splitmix64, for deriving seeds from seeds. */
uint64_t tcpu_link_seed_mix(uint64_t x);

/* Largest datagram the link takes (a UDP payload). */
#define TCPU_LINK_MAX_DGRAM 65535u

typedef struct tcpu_link_pkt tcpu_link_pkt; /* private to link.c */

typedef struct tcpu_link {
  tcpu_link_cfg cfg;
  tcpu_link_stats stats;
  tcpu_link_rng rng;
  unsigned ge_bad : 1;      /* Gilbert-Elliott state */
  tcpu_tstamp busy_until;   /* when the serialiser becomes free */
  tcpu_tstamp last_arrival; /* latest in-order arrival, for FIFO jitter */
  uint64_t next_id;         /* submit counter */
  uint64_t next_order;      /* tie-break of equal arrival times */
  /* Arrival-ordered min-heap of held datagrams. */
  tcpu_link_pkt **heap;
  size_t heap_len, heap_cap;
  /* Departure times and sizes of datagrams still in the bottleneck, in
   * FIFO order (a ring), to count its bytes and packets. */
  struct tcpu_link_q {
    tcpu_tstamp depart;
    uint32_t bytes;
  } *q;
  size_t q_head, q_len, q_cap;
  uint64_t q_bytes;
  tcpu_link_trace_fn trace;
  void *trace_arg;
  tcpu_aqm *aqm; /* step 2 when cfg.aqm or cfg.trace asks for it */
} tcpu_link;

/* Result of tcpu_link_submit. */
#define TCPU_LINK_DROPPED 0 /* lost or tail-dropped; counted */
#define TCPU_LINK_QUEUED 1  /* at least one copy will arrive */

/* Checks a configuration: probabilities in [0, 1], reorder > 0 needs a
 * reorder_delay, overhead <= 65535, AQM parameters (tcpu_aqm_cfg_check).
 * Returns 0 or TCPU_ERR_INVAL. */
int tcpu_link_cfg_check(const tcpu_link_cfg *cfg);

/* Prepares an empty link.  The same cfg and seed give the same behaviour
 * for the same calls.  Errors: INVAL (tcpu_link_cfg_check). */
int tcpu_link_init(tcpu_link *link, const tcpu_link_cfg *cfg, uint64_t seed);

/* Frees every datagram still held.  The link may be initialised again. */
void tcpu_link_free(tcpu_link *link);

/* Changes the configuration of a running link (as `tc qdisc change` does).
 * Held datagrams keep their arrival times.  Errors: INVAL, also for
 * leaving the AQM or trace bottleneck, or changing the trace, while
 * datagrams wait in it; NOMEM. */
int tcpu_link_set_cfg(tcpu_link *link, const tcpu_link_cfg *cfg);

/* Installs a trace hook called for every event; NULL removes it. */
void tcpu_link_set_trace(tcpu_link *link, tcpu_link_trace_fn fn, void *arg);

/* Offers one datagram at time now (never earlier than a previous call's
 * now).  The bytes are copied.  Returns TCPU_LINK_QUEUED or
 * TCPU_LINK_DROPPED, or INVAL for len > TCPU_LINK_MAX_DGRAM, or NOMEM
 * (counted as a queue drop). */
int tcpu_link_submit(tcpu_link *link, const uint8_t *data, size_t len,
                     tcpu_tstamp now);

/* Arrival time of the next datagram, TCPU_TSTAMP_NONE when none is held. */
tcpu_tstamp tcpu_link_next_arrival(const tcpu_link *link);

/* Datagrams held (in the bottleneck or on the wire). */
size_t tcpu_link_held(const tcpu_link *link);

/* Hands out the next datagram whose arrival time is <= now, in arrival
 * order (ties in the order they were made).  Returns 1 and sets *len, 0 if
 * none is due, or NOBUF (nothing taken, *len set to the size needed). */
int tcpu_link_dequeue(tcpu_link *link, tcpu_tstamp now, uint8_t *buf,
                      size_t buflen, size_t *len);

#endif /* TCPU_LAB_LINK_H */
