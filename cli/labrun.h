/*
 * labrun.h — the congestion-control lab's experiment runner, shared by
 * `tcpu lab` and the validation tests in tests/lab/.
 *
 * Two endpoints, A and B, joined by one link in each direction (link.h;
 * with AQM or a trace, aqm.h), run in the virtual time of netsim.h: a
 * run takes as long as the CPU needs, not as long as it simulates, and
 * the same configuration and seed give the same result, byte for byte.
 * Each flow is one TCP connection with its own congestion control that
 * starts at a given time and sends either a given number of bytes or for
 * a given duration, from A to B (fwd) or from B to A (rev).  All flows
 * of a direction share its link: that link's queue is their bottleneck.
 *
 * What is measured, per flow:
 *   - throughput: bytes the receiving application read, over the flow's
 *     time from its start (the SYN) to its end (the last byte of a sized
 *     flow, or the end of its duration);
 *   - one-way delay of every data segment delivered, from the
 *     simulator's send and delivery times (queueing included, so it is
 *     the delay a packet of this flow saw), as mean, median and p95;
 *   - retransmission rate: segments retransmitted per segment sent (the
 *     sender's tcpu_conn_info);
 *   - a time series every `interval`: goodput, cwnd, ssthresh, pacing
 *     rate, srtt, bytes in flight, delivery rate, mean one-way delay;
 * and over flows Jain's fairness index, of the mean throughputs and of
 * the throughputs over the interval all flows were active.
 *
 * Ports: each endpoint listens on LAB_PORT; flow i (from 0) connects from
 * local port LAB_FLOW_PORT0 + i.
 */
#ifndef TCPU_CLI_LABRUN_H
#define TCPU_CLI_LABRUN_H

#include <stddef.h>
#include <stdint.h>

#include "lab/link.h"
#include "linkspec.h"
#include "tcpu/tcpu.h"

#define LAB_MAX_FLOWS 64
#define LAB_MAX_USER_CC 8
#define LAB_PORT 5000
#define LAB_FLOW_PORT0 20000
/* A run without an end of its own stops after this much virtual time. */
#define LAB_MAX_TIME (3600 * TCPU_NS_PER_S)

typedef struct lab_flow_cfg {
  char cc[16];            /* "" : the endpoint default (cubic) */
  tcpu_duration start;    /* after the run begins */
  tcpu_duration duration; /* 0: none */
  uint64_t size;          /* bytes; 0: none */
  int rev;                /* 0: A -> B, 1: B -> A */
} lab_flow_cfg;

/* Parses "cc=NAME,start=TIME,duration=TIME|size=SIZE,dir=fwd|rev".  The
 * cc name is checked by the run (user algorithms count too).  Errors:
 * INVAL with err. */
int lab_parse_flow(lab_flow_cfg *f, const char *spec, char *err,
                   size_t errlen);

typedef struct lab_cfg {
  tcpu_link_cfg ab, ba; /* resolved (lab_link_resolve) */
  tcpu_duration drop_ab[LAB_MAX_DROP_AT], drop_ba[LAB_MAX_DROP_AT];
  size_t n_drop_ab, n_drop_ba;
  lab_flow_cfg flows[LAB_MAX_FLOWS];
  size_t n_flows;
  uint64_t seed;
  tcpu_duration end;      /* 0: when every flow is done */
  tcpu_duration interval; /* time-series period; 0: no series */
  uint32_t mtu;           /* 0: the default (1500) */
  uint32_t sndbuf, rcvbuf; /* 0: the defaults */
  const tcpu_cc_ops *user_cc[LAB_MAX_USER_CC]; /* registered on A and B */
  size_t n_user_cc;
} lab_cfg;

/* Virtual time of the run's start: link traces begin here. */
#define LAB_T0 (1000 * TCPU_NS_PER_S)

typedef struct lab_sample {
  double t;          /* seconds since the run began */
  uint64_t bytes;    /* read by the receiver so far */
  double mbps;       /* goodput over the interval ending at t */
  uint32_t cwnd, ssthresh; /* bytes */
  uint32_t inflight; /* bytes in the network (RFC 6675 pipe) */
  uint64_t pacing_rate, delivery_rate; /* bytes/s */
  double srtt_ms;
  double owd_ms;     /* mean one-way delay of data delivered in the
                        interval; -1 if none was */
  uint8_t ca_state;  /* 0 open, 1 fast recovery, 2 after timeout */
} lab_sample;

typedef struct lab_flow_result {
  lab_flow_cfg cfg;
  char cc[16];             /* the algorithm that ran */
  int started, finished;
  int completed;           /* a sized flow: every byte was read */
  int error;               /* the connection's error, 0 if none */
  double t_begin, t_end;   /* seconds since the run began */
  uint64_t bytes;          /* read by the receiving application */
  double mbps;             /* bytes over [t_begin, t_end] */
  uint64_t owd_n;          /* data segments whose delay was measured */
  double owd_mean_ms, owd_p50_ms, owd_p95_ms, owd_min_ms, owd_max_ms;
  double retrans_rate;     /* retransmits / segs_out */
  tcpu_conn_info info;     /* the sender's, at the end */
  lab_sample *samples;
  size_t n_samples;
} lab_flow_result;

typedef struct lab_result {
  size_t n_flows;
  lab_flow_result flows[LAB_MAX_FLOWS];
  double jain;         /* over the flows' mean throughputs */
  double overlap_from, overlap_to; /* all flows active; to <= from: none */
  double jain_overlap; /* over throughputs in the overlap; -1: none */
  double end_s;        /* where the run stopped */
  tcpu_link_stats ab, ba;
  uint64_t aqm_drops_ab, aqm_drops_ba;
  uint64_t steps;
  char error[256];     /* why lab_run failed */
} lab_result;

/* Runs the experiment.  Returns 0, or a negative TCPU_ERR_* with the
 * reason in res->error (a bad configuration, an unknown algorithm, out
 * of memory).  A flow whose connection failed is no error of the run: its
 * result carries the error.  Free res with lab_result_free. */
int lab_run(const lab_cfg *cfg, lab_result *res);
void lab_result_free(lab_result *res);

/* Goodput of a flow in Mbit/s between two times (seconds since the run
 * began) from its time series: the samples nearest inside [a, b].
 * Returns -1 when fewer than two samples fall inside. */
double lab_flow_mbps_between(const lab_flow_result *f, double a, double b);

/* Jain's fairness index (sum x)^2 / (n sum x^2) of n values; 1 when all
 * are equal, 1/n when one takes everything; 0 for n == 0 or all zero. */
double lab_jain(const double *x, size_t n);

#endif /* TCPU_CLI_LABRUN_H */
