/*
 * trace.h — Mahimahi packet-delivery traces for the lab's link model.
 *
 * A trace file (the format of Mahimahi's mm-link, Netravali et al., USENIX
 * ATC 2015) has one line per delivery opportunity: a whole number of
 * milliseconds since the trace began, non-decreasing.  Each opportunity
 * may carry one MTU-sized packet of bytes (1500 here; Mahimahi counts its
 * 1504-byte tun frames); a line repeated n times is n opportunities in
 * that millisecond.  The trace loops: its last timestamp is its period,
 * so a trace of the lines 1, 2, ..., 1000 is 12 Mbit/s for ever.  Lines
 * that are empty or start with '#' are ignored (Mahimahi itself has no
 * comments; ours are for the files in contrib/traces/).
 *
 * A tcpu_mm_trace is the parsed schedule; the bottleneck that consumes
 * it is in aqm.h.  Names carry "mm" so they do not collide with the
 * per-ACK traces of DESIGN §8.
 */
#ifndef TCPU_LAB_TRACE_H
#define TCPU_LAB_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "tcpu/tcpu.h"

/* Bytes one delivery opportunity can carry, as in Mahimahi (an MTU). */
#define TCPU_MM_TRACE_OPP_BYTES 1500u
/* Longest line and largest timestamp taken: about 11.5 days of trace. */
#define TCPU_MM_TRACE_MAX_MS 1000000000ull

typedef struct tcpu_mm_trace {
  uint64_t *ms;     /* opportunity times within one period, sorted */
  size_t n;         /* opportunities per period (>= 1) */
  uint64_t period_ms; /* the last timestamp (>= 1) */
} tcpu_mm_trace;

/* Parses a trace held in memory (len bytes, need not end in a newline).
 * Errors: INVAL with a message in err (line number and reason: not a
 * number, decreasing, too large, no opportunities, a last timestamp of
 * 0), NOMEM. */
int tcpu_mm_trace_parse(tcpu_mm_trace *t, const char *text, size_t len,
                        char *err, size_t errlen);

/* Reads and parses a file.  Errors: as tcpu_mm_trace_parse, and INVAL
 * with the reason in err when the file cannot be read. */
int tcpu_mm_trace_load(tcpu_mm_trace *t, const char *path, char *err,
                       size_t errlen);

void tcpu_mm_trace_free(tcpu_mm_trace *t);

/* Mean rate of the trace in bits/s (opportunities x 1500 bytes over the
 * period). */
uint64_t tcpu_mm_trace_rate_bps(const tcpu_mm_trace *t);

/* Opportunities are numbered from 0 across loops: opportunity k is line
 * k % n of loop k / n.  Its time, in ms since the trace began. */
uint64_t tcpu_mm_trace_opp_ms(const tcpu_mm_trace *t, uint64_t k);

/* The first opportunity at or after `ms` milliseconds since the trace
 * began. */
uint64_t tcpu_mm_trace_next_opp(const tcpu_mm_trace *t, uint64_t ms);

#endif /* TCPU_LAB_TRACE_H */
