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
  int verbose;         /* print every event */
  int quiet;           /* -q: no event trace, even for --seed */
  int single;          /* --seed: describe the seed and its outcome */
  uint64_t mb;         /* --mb N: big-stream mode (sim_transfer only) */
  const char *argv0;
} sim_args;

/* Parses --seed N (one seed, verbose unless -q), --seeds A:B (the
 * half-open range), -v, -q and, where allow_mb is set, --mb N.  Without
 * arguments: seeds [0, default_count).  Prints usage and returns -1 on bad
 * arguments. */
int sim_parse_args(sim_args *a, int argc, char **argv, uint64_t default_count,
                   int allow_mb);

/* Prints the command that replays one seed of this run, mode flags
 * included, as "  replay: <argv0> [--mb N] --seed S". */
void sim_print_replay(FILE *f, const sim_args *a, uint64_t seed);

/* How the property of one seed ended. */
typedef struct sim_verdict {
  int ok;
  char why[512];
} sim_verdict;

void sim_fail(sim_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Link parameters of one direction drawn from r: loss 0-30% (random, or
 * Gilbert-Elliott bursts averaging up to about 28%), duplication,
 * reordering, corruption, delay 1-100 ms, jitter, rate limits with a
 * drop-tail queue.  `harsh` 0 keeps to mild settings (loss <= 10%, no
 * bursts), for the corner cases. */
void sim_draw_link(tcpu_link_rng *r, tcpu_link_cfg *cfg, int harsh);
void sim_print_link(FILE *f, const char *name, const tcpu_link_cfg *cfg);

/* Settings for a simulated endpoint: defaults with a secret drawn from r
 * (repeatable ISNs), retry limits generous enough that the drawn loss
 * never times a connection out, and MTU, buffers, options and congestion
 * control (the default for half the seeds, else any built-in one) drawn
 * from r. */
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

/* Folds one event into a trace digest: its kind, time, nodes, length and
 * arrival, then its datagram's bytes (sim_trace's and any other trace
 * hook's determinism digest). */
uint64_t sim_trace_hash(uint64_t h, const tcpu_netsim_trace_rec *r);
/* The event's name in a verbose trace: "send", "LOST", "recv" ... */
const char *sim_event_name(tcpu_netsim_event ev);

/* Describes a TCP segment in one line ("S. 123:123(0) ack 9 win 65535"). */
void sim_describe_seg(char *out, size_t outlen, const uint8_t *d, size_t len);

/* Prints an endpoint's counters on one line, for verbose replays. */
void sim_print_stats(FILE *f, const char *name, const tcpu_endpoint *ep);

/* Prints a connection's counters (tcpu_conn_get_info) on two lines. */
void sim_print_info(FILE *f, const char *name, const tcpu_conn_info *ci);

/* Virtual time as seconds with microseconds, for logs. */
void sim_fmt_time(char *out, size_t outlen, tcpu_tstamp t);
/* "<virtual time> who: what" on stdout when verbose (the replay trace). */
void sim_say(int verbose, tcpu_tstamp now, const char *who, const char *what);

/* ------------------------------------------------------------- streams */

/* Test streams of any length without a copy: byte i of the stream with
 * key k is a pure function of (k, i), so a writer produces and a reader
 * checks any range on the spot. */
void sim_stream_fill(uint64_t key, uint64_t off, uint8_t *buf, size_t len);

/* A running 64-bit FNV-1a digest of a byte stream; the same bytes give
 * the same digest however they are split. */
#define SIM_HASH_INIT 0xcbf29ce484222325ull
uint64_t sim_hash(uint64_t h, const void *p, size_t n);

/* ----------------------------------------------------- determinism */

/* Holds on to blocks of every small size class (and a few large ones) so
 * that a second run of a seed gets other addresses from malloc: state
 * derived from pointers then shows up as a different trace instead of
 * repeating by luck.  NULL when out of memory. */
void **sim_heap_shake(void);
/* Frees what sim_heap_shake held (NULL: nothing). */
void sim_heap_unshake(void **held);

/* ------------------------------------------------------- memory bounds */

/* Largest buffer occupancy seen over all checks. */
typedef struct sim_bufwatch {
  uint32_t max_rcv, max_snd, max_unacked;
} sim_bufwatch;

/* Checks every connection of ep (listeners and those the application no
 * longer holds included) against the configured buffers: rcv_buffered <=
 * s->rcvbuf and snd_buffered <= s->sndbuf (tcpu_conn_get_info), and the
 * bytes in flight against the peer's buffer, which bounds every window it
 * offers: unacked <= peer_rcvbuf + 3 (SYN, FIN and a zero-window probe
 * byte).  Returns 0, or -1 with the first violation described in why. */
int sim_check_buffers(const tcpu_endpoint *ep, const tcpu_settings *s,
                      uint32_t peer_rcvbuf, sim_bufwatch *w, char *why,
                      size_t whylen);

/* Datagrams an endpoint dropped as malformed (short, bad offset, option,
 * SACK or checksum).  A correct sender produces none of these, so over a
 * run their sum over the endpoints must equal the corrupted copies the
 * links delivered (tcpu_netsim_stats.delivered_corrupted). */
uint64_t sim_malformed_drops(const tcpu_endpoint *ep);

#endif /* TCPU_TESTS_SIM_COMMON_H */
