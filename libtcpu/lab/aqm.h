/*
 * aqm.h — the lab link's bottleneck queue when plain drop-tail at a
 * constant rate is not enough: active queue management (CoDel, RFC 8289;
 * RED, Floyd and Jacobson 1993) and service that follows a Mahimahi
 * delivery trace (trace.h).
 *
 * The queue is event driven.  A packet waits until the server takes it:
 * at a constant rate the server is free when the previous packet has been
 * serialised; on a trace, at the next delivery opportunity with bytes
 * left.  That moment is the packet's dequeue, where CoDel measures its
 * sojourn time and may drop it (and the packets behind it), exactly as a
 * qdisc does when the NIC asks for the next packet.  The served packet
 * leaves the server at its departure time: start + size / rate, or the
 * opportunity that carries its last byte.
 *
 * Nothing runs by itself: the owner calls tcpu_aqm_advance(now) before
 * every enqueue and whenever it needs what has left; advance performs, in
 * time order, every dequeue due at or before now, each at its own time
 * (not at now), so the result does not depend on how often it is called.
 * tcpu_aqm_next_start() tells the owner when the next dequeue is due, so
 * it can come back then (a packet departs no earlier than it starts).
 *
 * The queue holds opaque packet pointers; it never looks inside them.
 */
#ifndef TCPU_LAB_AQM_H
#define TCPU_LAB_AQM_H

#include <stddef.h>
#include <stdint.h>

#include "lab/trace.h"
#include "tcpu/tcpu.h"

struct tcpu_link_rng; /* link.h */

typedef enum tcpu_aqm_kind {
  TCPU_AQM_DROPTAIL = 0, /* only the byte and packet limits */
  TCPU_AQM_CODEL = 1,    /* RFC 8289 */
  TCPU_AQM_RED = 2       /* Floyd & Jacobson, byte mode, not gentle */
} tcpu_aqm_kind;

/* Parameters; a 0 picks the default shown. */
typedef struct tcpu_aqm_cfg {
  tcpu_aqm_kind kind;
  tcpu_duration codel_target;   /* RFC 8289 §4.4 TARGET: 5 ms */
  tcpu_duration codel_interval; /* §4.3 INTERVAL: 100 ms */
  uint32_t codel_maxpacket;     /* §5 MAXPACKET, wire bytes: 1500 */
  /* RED thresholds on the average backlog, in wire bytes.  0: a quarter
   * and three quarters of the byte limit (which RED then needs). */
  uint64_t red_min, red_max;
  double red_max_p; /* drop probability at red_max: 0.1 */
  double red_wq;    /* weight of the average: 0.002 */
} tcpu_aqm_cfg;

/* Checks a configuration against the byte limit it will run with.
 * Returns 0 or TCPU_ERR_INVAL (probabilities outside (0, 1], red_min >=
 * red_max, RED without thresholds or a byte limit, an unknown kind). */
int tcpu_aqm_cfg_check(const tcpu_aqm_cfg *cfg, uint64_t limit_bytes);

typedef struct tcpu_aqm_stats {
  uint64_t enqueued;   /* packets accepted */
  uint64_t tail_drops; /* refused: byte or packet limit */
  uint64_t aqm_drops;  /* dropped by CoDel at dequeue or RED at enqueue */
  uint64_t served;     /* packets that left through the server */
  uint64_t max_backlog_bytes; /* largest wire bytes waiting at once */
} tcpu_aqm_stats;

/* One waiting packet. */
typedef struct tcpu_aqm_entry {
  tcpu_tstamp enq;
  uint32_t wire; /* bytes it occupies on the wire and in the queue */
  void *pkt;
} tcpu_aqm_entry;

typedef struct tcpu_aqm {
  tcpu_aqm_cfg cfg;
  tcpu_aqm_stats stats;
  uint64_t rate_bps;          /* server rate without a trace; 0: infinite */
  const tcpu_mm_trace *trace; /* NULL: constant rate */
  tcpu_tstamp origin;         /* when the trace's millisecond 0 is */
  uint64_t limit_bytes;       /* 0: none */
  uint32_t limit_pkts;        /* 0: none */
  struct tcpu_link_rng *rng;  /* RED's draws */
  /* FIFO ring of waiting packets. */
  tcpu_aqm_entry *q;
  size_t head, len, cap;
  uint64_t bytes; /* wire bytes waiting */
  /* Server: at a constant rate, free from busy_until; on a trace, the
   * first opportunity with bytes left, and how many (> 0). */
  tcpu_tstamp busy_until;
  uint64_t opp;
  uint32_t opp_left;
  /* CoDel state, RFC 8289 §5 (first_above_time 0: not above target). */
  tcpu_tstamp first_above_time, drop_next;
  uint32_t count, lastcount;
  unsigned dropping : 1;
  /* RED state. */
  double red_avg;
  int64_t red_count; /* packets since the last drop, -1 below red_min */
  tcpu_tstamp red_idle_since; /* NONE while busy */
} tcpu_aqm;

/* Prepares an empty queue served at rate_bps (bits/s, 0: infinite) or,
 * when trace is not NULL, by the trace with millisecond 0 at origin (the
 * trace must outlive the queue).  rng may be NULL unless the kind is RED.
 * Errors: INVAL (tcpu_aqm_cfg_check, RED without rng). */
int tcpu_aqm_init(tcpu_aqm *q, const tcpu_aqm_cfg *cfg, uint64_t rate_bps,
                  const tcpu_mm_trace *trace, tcpu_tstamp origin,
                  uint64_t limit_bytes, uint32_t limit_pkts,
                  struct tcpu_link_rng *rng);

/* Changes discipline parameters and limits of a running queue; waiting
 * packets stay.  Errors: INVAL. */
int tcpu_aqm_set_cfg(tcpu_aqm *q, const tcpu_aqm_cfg *cfg,
                     uint64_t limit_bytes, uint32_t limit_pkts);

/* Frees the ring; each packet still waiting goes to free_pkt (may be
 * NULL). */
void tcpu_aqm_free(tcpu_aqm *q, void (*free_pkt)(void *pkt));

/* Results of tcpu_aqm_enqueue. */
#define TCPU_AQM_QUEUED 1
#define TCPU_AQM_TAIL_DROP 2 /* a limit: the caller keeps the packet */
#define TCPU_AQM_EARLY_DROP 3 /* RED: the caller keeps the packet */

/* Offers a packet of `wire` bytes at now (after tcpu_aqm_advance(now)).
 * Returns TCPU_AQM_QUEUED, _TAIL_DROP, _EARLY_DROP or NOMEM. */
int tcpu_aqm_enqueue(tcpu_aqm *q, void *pkt, uint32_t wire, tcpu_tstamp now);

/* When the server will take the head packet, NONE when nothing waits. */
tcpu_tstamp tcpu_aqm_next_start(const tcpu_aqm *q);

/* What tcpu_aqm_advance reports for each packet leaving the queue: it
 * was served and departs at `t`, or CoDel dropped it at dequeue time t. */
typedef void (*tcpu_aqm_out_fn)(void *arg, void *pkt, int dropped,
                                tcpu_tstamp t);

/* Performs every dequeue due at or before now, in order. */
void tcpu_aqm_advance(tcpu_aqm *q, tcpu_tstamp now, tcpu_aqm_out_fn out,
                      void *arg);

/* Packets waiting. */
size_t tcpu_aqm_len(const tcpu_aqm *q);

#endif /* TCPU_LAB_AQM_H */
