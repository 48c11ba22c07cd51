/*
 * cc.h — the core's side of pluggable congestion control: the registry of
 * built-in algorithms, the per-connection glue that fills tcpu_cc_stat and
 * calls the hooks, delivery-rate estimation (rate.c) and pacing (pacer.c).
 */
#ifndef TCPU_CC_CC_H
#define TCPU_CC_CC_H

#include "core/conn.h"
#include "tcpu/tcpu_cc.h"

#define TCPU_CC_DEFAULT "cubic"
#define TCPU_CC_MAX_USER 16

extern const tcpu_cc_ops tcpu_cc_newreno;
extern const tcpu_cc_ops tcpu_cc_cubic;
extern const tcpu_cc_ops tcpu_cc_ledbat;
extern const tcpu_cc_ops tcpu_cc_bbr;

/* Chooses ops for a new connection (NULL name or "": the endpoint's
 * setting, else the default).  Returns NULL for an unknown name. */
const tcpu_cc_ops *tcpu_cc_lookup(const tcpu_endpoint *ep, const char *name);

/* Per-connection glue: allocate and initialise the state, and the hooks. */
int tcpu_cc_conn_start(tcpu_conn *c, const tcpu_cc_ops *ops, tcpu_tstamp now);
void tcpu_cc_conn_stop(tcpu_conn *c);
void tcpu_cc_event_ack(tcpu_conn *c, const tcpu_cc_ack *a, tcpu_tstamp now);
void tcpu_cc_event_congestion(tcpu_conn *c, tcpu_cc_signal s, tcpu_tstamp sent_ts,
                        tcpu_tstamp now);
void tcpu_cc_event_recovery_exit(tcpu_conn *c, tcpu_tstamp now);
void tcpu_cc_event_spurious(tcpu_conn *c, tcpu_tstamp now);
void tcpu_cc_event_sent(tcpu_conn *c, size_t bytes, tcpu_tstamp now);
void tcpu_cc_event_idle_restart(tcpu_conn *c, tcpu_tstamp now);
void tcpu_cc_event_round(tcpu_conn *c);
int tcpu_cc_owns_recovery(const tcpu_conn *c);

/* ---- rate.c: draft-cheung-tcpm-delivery-rate-estimation */
typedef struct tcpu_rate_sample {
  uint64_t prior_delivered;
  tcpu_tstamp prior_ts;
  tcpu_duration send_elapsed, ack_elapsed;
  tcpu_tstamp newest_sent_ts;
  unsigned have : 1, is_app_limited : 1;
} tcpu_rate_sample;

/* A segment goes out (first time or again): stamp it.  was_idle: nothing
 * was in flight before it. */
void tcpu_rate_on_send(tcpu_conn *c, tcpu_txseg *s, int was_idle,
                       tcpu_tstamp now);
/* A segment was delivered (ACKed or SACKed for the first time). */
void tcpu_rate_on_delivered(tcpu_conn *c, const tcpu_txseg *s,
                            tcpu_rate_sample *rs, tcpu_tstamp now);
/* Completes the sample into the ACK record. */
void tcpu_rate_finish(tcpu_conn *c, const tcpu_rate_sample *rs,
                      tcpu_cc_ack *a);
/* The application has nothing more to send right now. */
void tcpu_rate_check_app_limited(tcpu_conn *c);

/* ---- pacer.c */
int tcpu_pacer_ready(const tcpu_conn *c, tcpu_tstamp now);
void tcpu_pacer_on_send(tcpu_conn *c, size_t bytes, tcpu_tstamp now);
uint64_t tcpu_pacer_rate(const tcpu_conn *c);

#endif /* TCPU_CC_CC_H */
