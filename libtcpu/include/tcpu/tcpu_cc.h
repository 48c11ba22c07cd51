/*
 * tcpu_cc.h — pluggable congestion control.
 *
 * An algorithm is a table of typed hooks (tcpu_cc_ops).  The core owns
 * the algorithm's state (state_size bytes, zeroed, allocated per
 * connection), calls the hooks on events, and reads back what the hooks
 * wrote into the shared tcpu_cc_stat: the congestion window and slow-start
 * threshold in bytes, and the pacing rate.  Loss detection, recovery,
 * retransmission and pacing itself stay in the core; an algorithm only
 * decides how much may be in flight and how fast it may be sent.
 *
 * Built in: "newreno" (RFC 5681, RFC 6582), "cubic" (RFC 9438 with
 * HyStart++, RFC 9406), "bbr" (draft-ietf-ccwg-bbr), "ledbat" (RFC 6817).
 * Applications register their own per endpoint with tcpu_cc_register;
 * nothing is global.  Hooks must not call back into the core.
 *
 * "Callbacks:" at the end of each function's comment says whether it may be
 * called from the core's tcpu_callbacks, as in tcpu.h ("any": also from
 * state_changed; "yes": from the others); "Hooks:" whether an algorithm's
 * hooks may call it.
 */
#ifndef TCPU_TCPU_CC_H
#define TCPU_TCPU_CC_H

#include "tcpu/tcpu.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tcpu_cc_signal {
  TCPU_CC_LOSS = 0, /* a loss started fast recovery */
  TCPU_CC_ECN = 1,  /* an ECN echo (reserved: the core does not use ECN) */
  TCPU_CC_RTO = 2   /* the retransmission timer expired */
} tcpu_cc_signal;

/* Shared between core and algorithm.  The algorithm writes cwnd,
 * ssthresh and pacing_rate; the rest is read-only for it. */
typedef struct tcpu_cc_stat {
  uint32_t cwnd;        /* congestion window, bytes */
  uint32_t ssthresh;    /* slow-start threshold, bytes; UINT32_MAX: none */
  uint32_t mss;         /* payload bytes per full segment */
  uint32_t bytes_in_flight;   /* RFC 6675 pipe */
  uint32_t flight_size;       /* RFC 5681 FlightSize: SND.MAX - SND.UNA */
  uint64_t pacing_rate; /* bytes per second; 0: the core's default
                           (2 x cwnd/srtt in slow start, 1.2 x after) */
  uint64_t delivered;   /* bytes delivered over the connection's life */
  uint64_t lost;        /* bytes ever marked lost (RACK, NewReno, RTO) */
  uint64_t round;       /* round trips counted by delivery (on_round) */
  tcpu_duration srtt, min_rtt, latest_rtt; /* 0: no sample yet */
  tcpu_tstamp recovery_start; /* when the current recovery began, else 0 */
  unsigned in_recovery : 1; /* fast recovery (the core runs PRR); after a
                               timeout the algorithm slow-starts as usual */
} tcpu_cc_stat;

/* Filled once per ACK that acknowledged or SACKed data, with the
 * delivery-rate sample of draft-cheung-tcpm-delivery-rate-estimation. */
typedef struct tcpu_cc_ack {
  uint64_t bytes_acked;     /* newly cumulatively acknowledged */
  uint64_t bytes_delivered; /* acknowledged or SACKed by this ACK */
  uint64_t bytes_lost;      /* newly marked lost by this ACK */
  uint64_t prior_in_flight; /* pipe before this ACK */
  uint64_t delivered;       /* rate sample: bytes delivered in interval */
  tcpu_duration interval;   /* rate sample interval; 0: no sample */
  uint64_t delivery_rate;   /* bytes per second; 0: no sample */
  tcpu_duration rtt;        /* TCPU_TSTAMP_NONE: no sample from this ACK */
  tcpu_tstamp largest_sent_ts; /* send time of the newest delivered */
  unsigned is_app_limited : 1; /* the sample was limited by the app */
  unsigned is_cwnd_limited : 1;/* the sender was limited by cwnd */
} tcpu_cc_ack;

typedef struct tcpu_cc_ops {
  const char *name;   /* unique per endpoint, at most 15 characters */
  size_t state_size;  /* bytes of per-connection state (may be 0) */
  /* Required: set the initial window (the core sets cwnd to IW10 and
   * ssthresh to UINT32_MAX before calling). */
  void (*init)(void *st, tcpu_cc_stat *cs, tcpu_tstamp now);
  /* Required: an ACK delivered data. */
  void (*on_ack)(void *st, tcpu_cc_stat *cs, const tcpu_cc_ack *a,
                 tcpu_tstamp now);
  /* Required: loss or timeout.  Set ssthresh (and cwnd for RTO; during
   * fast recovery the core paces the window down with PRR, RFC 6937,
   * unless owns_recovery is set). */
  void (*on_congestion)(void *st, tcpu_cc_stat *cs, tcpu_cc_signal s,
                        tcpu_tstamp sent_ts, tcpu_tstamp now);
  /* Optional. */
  void (*on_recovery_exit)(void *st, tcpu_cc_stat *cs, tcpu_tstamp now);
  void (*on_spurious)(void *st, tcpu_cc_stat *cs, tcpu_tstamp now);
  void (*on_sent)(void *st, tcpu_cc_stat *cs, size_t bytes, tcpu_tstamp now);
  void (*on_idle_restart)(void *st, tcpu_cc_stat *cs, tcpu_tstamp now);
  void (*on_round)(void *st, tcpu_cc_stat *cs, uint64_t round);
  void (*fini)(void *st);
  /* The algorithm sets cwnd during recovery itself (BBR): no PRR. */
  unsigned owns_recovery : 1;
} tcpu_cc_ops;

/* Shared helpers algorithms may use (RFC 5681 §3.1). */
/* Slow start: cwnd += min(acked, mss) (RFC 3465 L = 1); returns the bytes
 * of `acked` left over once cwnd reached ssthresh.  Cannot fail.
 * Hooks: yes (that is what it is for).  Callbacks: any. */
TCPU_EXTERN uint64_t tcpu_cc_slow_start(tcpu_cc_stat *cs, uint64_t acked);
/* Congestion avoidance: about one mss per cwnd acknowledged, counted in
 * *acc (the algorithm's own accumulator, starting at 0).  Cannot fail.
 * Hooks: yes.  Callbacks: any. */
TCPU_EXTERN void tcpu_cc_cong_avoid(tcpu_cc_stat *cs, uint64_t *acc,
                                    uint64_t acked);

/* Makes ops selectable by name on this endpoint (tcpu_settings.cc,
 * tcpu_conn_set_cc).  ops must outlive the endpoint.  Errors: INVAL (no
 * name, a name over 15 characters, a required hook missing),
 * ADDRINUSE (the name is taken), NOMEM.  Hooks: no.  Callbacks: yes. */
TCPU_EXTERN int tcpu_cc_register(tcpu_endpoint *ep, const tcpu_cc_ops *ops);
/* A built-in or registered algorithm by name; NULL if none (or NULL
 * name).  Hooks: no.  Callbacks: any. */
TCPU_EXTERN const tcpu_cc_ops *tcpu_cc_find(const tcpu_endpoint *ep,
                                            const char *name);
/* Switches a connection's algorithm; the new one starts from the current
 * window (before the handshake: from the initial window).  On a listener
 * the connections it accepts inherit it.  Errors: INVAL (NULL c, unknown
 * name), NOMEM.  Hooks: no.  Callbacks: yes. */
TCPU_EXTERN int tcpu_conn_set_cc(tcpu_conn *c, const char *name,
                                 tcpu_tstamp now);
/* The name of the connection's algorithm, "" if it has none.  Hooks: no.
 * Callbacks: any. */
TCPU_EXTERN const char *tcpu_conn_get_cc(const tcpu_conn *c);

#ifdef __cplusplus
}
#endif

#endif /* TCPU_TCPU_CC_H */
