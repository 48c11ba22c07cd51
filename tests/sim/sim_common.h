/*
 * sim_common.h — what the seeded simulator properties share: the command
 * line (--seed N, --seeds A:B), drawing link parameters from a seed, a
 * verbose trace printer that decodes TCP headers, and a trace digest for
 * the determinism check.
 */
#ifndef TCPU_TESTS_SIM_COMMON_H
#define TCPU_TESTS_SIM_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "lab/netsim.h"
#include "tcpu/tcpu.h"

typedef struct sim_args {
  uint64_t first, end; /* seeds [first, end) */
  int verbose;
  const char *argv0;
} sim_args;

/* Parses --seed N (one seed, verbose), --seeds A:B (the half-open range),
 * -v.  Without arguments: seeds [0, default_count).  Prints usage and
 * returns -1 on bad arguments. */
int sim_parse_args(sim_args *a, int argc, char **argv, uint64_t default_count);

/* How the property of one seed ended. */
typedef struct sim_verdict {
  int ok;
  char why[512];
} sim_verdict;

void sim_fail(sim_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Link parameters of one direction drawn from r: loss 0-30% (random or
 * Gilbert-Elliott bursts), duplication, reordering, corruption, delay
 * 1-100 ms, jitter, rate limits with a drop-tail queue.  `harsh` 0 keeps
 * to mild settings (loss <= 10%, no bursts), for the corner cases. */
void sim_draw_link(tcpu_link_rng *r, tcpu_link_cfg *cfg, int harsh);
void sim_print_link(FILE *f, const char *name, const tcpu_link_cfg *cfg);

/* Settings for a simulated endpoint: defaults with a secret drawn from r
 * (repeatable ISNs) and retry limits generous enough that the drawn loss
 * never times a connection out. */
void sim_settings(tcpu_link_rng *r, tcpu_settings *s);

/* Digest of every simulator event, and the verbose printer.  Install with
 * tcpu_netsim_set_trace(sim, sim_trace, &tracer). */
typedef struct sim_tracer {
  uint64_t hash;
  uint64_t events;
  int verbose;
  const char *const *node_names;
} sim_tracer;

void sim_tracer_init(sim_tracer *t, int verbose, const char *const *names);
void sim_trace(void *arg, const tcpu_netsim_trace_rec *r);

/* Describes a TCP segment in one line ("S. 123:123(0) ack 9 win 65535"). */
void sim_describe_seg(char *out, size_t outlen, const uint8_t *d, size_t len);

/* Prints an endpoint's counters on one line, for verbose replays. */
void sim_print_stats(FILE *f, const char *name, const tcpu_endpoint *ep);

/* Virtual time as seconds with microseconds, for logs. */
void sim_fmt_time(char *out, size_t outlen, tcpu_tstamp t);

#endif /* TCPU_TESTS_SIM_COMMON_H */
