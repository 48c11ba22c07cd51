/*
 * run.h — the state of one script run, shared by the runner's parts:
 *   run.c     the event loop, the endpoint and its callbacks
 *   time.c    virtual time: timers, collecting what the core sends
 *   wire.c    inbound segments onto the wire
 *   match.c   outbound segments against the script
 *   sock.c    socket calls onto the tcpu API
 *   flow.c    per-connection numbering (ISNs, timestamps, payload bytes)
 *   fmt.c     segments and times as text
 */
#ifndef PKT_RUN_H
#define PKT_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "script.h"

#define PKT_MAX_FDS 64
#define PKT_MAX_FLOWS 32
#define PKT_QUEUE_MAX 4096
#define PKT_MAX_COPT 8 /* the largest tcpu_conn_opt */
/* Script time 0 on the core's clock: not 0, so no "0 means unset" slips
 * by unnoticed. */
#define PKT_TIME_BASE (100 * TCPU_NS_PER_S)

/* A datagram the core sent and the script has not matched yet. */
typedef struct pkt_dgram {
  tcpu_tstamp t;
  tcpu_addr to;
  size_t len;
  uint8_t *buf;
} pkt_dgram;

/* One remote TCP port's connection as the script sees it (README.md,
 * "Sequence numbers"). */
typedef struct pkt_flow {
  uint16_t rport;
  uint16_t lport;           /* 0: not known, use the listening port */
  unsigned isn_known : 1;   /* local ISN, from the core's SYN or SYN-ACK */
  unsigned risn_known : 1;  /* remote ISN, from the script's SYN */
  unsigned ts_known : 1;    /* offset of the core's TS val to the script's */
  unsigned active : 1;      /* opened by connect() */
  unsigned cand_known : 1;  /* a SYN with another sequence number came */
  uint32_t isn, risn, ts_off;
  uint32_t cand;            /* its sequence number: the next remote ISN */
  /* One past the last sequence number the core used (SYN, data, FIN) in
   * this incarnation and in the one before (%isn_above_previous). */
  unsigned end_known : 1, prev_end_known : 1;
  uint32_t end, prev_end;
  /* The last TS val the core sent in this incarnation, and when. */
  unsigned tsval_known : 1;
  uint32_t tsval;
  tcpu_tstamp tsval_t;
} pkt_flow;

typedef struct pkt_sock {
  int used;
  tcpu_conn *conn;        /* NULL until listen/connect/accept */
  int listener;
  uint16_t bound_port;    /* 0: not bound */
  /* tcpu_conn_setopt options set before there was a connection, by
   * tcpu_conn_opt: applied at listen() (the core passes a listener's on
   * to its connections) or connect(). */
  unsigned pend_mask;     /* 1u << opt */
  uint64_t pend[PKT_MAX_COPT + 1];
  int linger0;            /* SO_LINGER {onoff=1, linger=0}: close aborts */
  uint64_t wr_off, rd_off; /* stream offsets of write() and read() */
} pkt_sock;

typedef struct pkt_run {
  const pkt_script *sc;
  int verbose;
  tcpu_settings settings;
  tcpu_endpoint *ep; /* created by the first event that needs it */
  tcpu_tstamp now;
  tcpu_tstamp prev;  /* the time relative times count from */
  tcpu_addr remote;  /* the script's UDP address */
  uint16_t listen_port;
  pkt_flow flow[PKT_MAX_FLOWS];
  size_t nflow;
  pkt_sock sock[PKT_MAX_FDS];
  pkt_dgram *q; /* FIFO of collected datagrams */
  size_t qhead, qlen, qcap;
  uint8_t *buf; /* one datagram, PKT_DGRAM_MAX */
  const pkt_event *ev; /* the event running, for messages */
  size_t done;         /* events run */
} pkt_run;

#define PKT_DGRAM_MAX 65536

/* ---- run.c */
/* Runs sc against a fresh endpoint; prints "ok FILE (N events)" or the
 * failure.  Returns 0 or -1. */
int pkt_run_script(const pkt_script *sc, int verbose);
/* Prints "file:line: message" for the current event; returns -1. */
int pkt_fail(pkt_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints a trace line with -v. */
void pkt_trace(pkt_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Creates the endpoint if there is none yet.  Returns 0 or -1. */
int pkt_endpoint(pkt_run *r);

/* ---- time.c */
/* Runs timers due before `until` (at `until` too when inclusive) and
 * collects output, stopping at the first datagram.  Afterwards now is the
 * time of that datagram, or `until` if none came (unless it is NONE). */
int pkt_time_advance(pkt_run *r, tcpu_tstamp until, int inclusive);
/* Collects whatever the core sends at now. */
int pkt_time_drain(pkt_run *r);
/* The oldest collected datagram, NULL if none; pkt_time_pop drops it. */
const pkt_dgram *pkt_time_peek(const pkt_run *r);
void pkt_time_pop(pkt_run *r);
void pkt_time_free(pkt_run *r);

/* ---- flow.c */
/* The flow of remote port rport, created on first use; NULL if full. */
pkt_flow *pkt_flow_get(pkt_run *r, uint16_t rport);
/* A new incarnation starts: the core's ISN and the TS offset are learned
 * afresh, and what the core used so far becomes the previous
 * incarnation's.  The remote ISN is the caller's. */
void pkt_flow_new_incarnation(pkt_flow *f);
/* The core sent s on f: extends f's used sequence space. */
void pkt_flow_note_sent(pkt_flow *f, const tcpu_seg *s);
/* The payload byte at offset off of a stream (both directions use it). */
uint8_t pkt_pattern(uint64_t off);

/* ---- wire.c */
int pkt_inbound(pkt_run *r, const pkt_event *ev);

/* ---- match.c */
/* Checks datagram d, sent within [lo, hi], against ev. */
int pkt_outbound_match(pkt_run *r, const pkt_event *ev, const pkt_dgram *d,
                       tcpu_tstamp lo, tcpu_tstamp hi);
/* Reports d as unexpected ("unexpected outbound segment ..."). */
int pkt_outbound_unexpected(pkt_run *r, const pkt_dgram *d,
                            const char *when);

/* ---- sock.c */
int pkt_sock_call(pkt_run *r, const pkt_event *ev);
/* The socket of fd, NULL if fd is not open. */
pkt_sock *pkt_sock_get(pkt_run *r, int fd);

/* ---- fmt.c */
/* "1.250000": seconds since the script's start. */
const char *pkt_fmt_time(const pkt_run *r, tcpu_tstamp t, char *buf,
                         size_t n);
/* A decoded segment in script syntax: sequence numbers relative to isn,
 * options as they sit on the wire in raw (the encoded segment). */
void pkt_fmt_seg(char *buf, size_t n, const tcpu_seg *s, const uint8_t *raw,
                 uint32_t isn);

#endif /* PKT_RUN_H */
