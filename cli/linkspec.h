/*
 * linkspec.h — the command-line language of `tcpu lab` and `tcpu netem`:
 * values with units, link specifications and flow specifications.
 *
 * Every parser is strict: the whole string must be used, numbers must be
 * finite and in range, and a failure leaves a message naming the key and
 * the reason in err.  Nothing here prints or exits.
 *
 * Units (case-insensitive):
 *   rate   bit kbit mbit gbit tbit (bits/s, SI); bps kbps mbps gbps
 *          (BYTES/s, as tc(8) has them)
 *   time   ns us ms s m; a bare 0 is zero
 *   size   b; k kb m mb g gb (SI); kib mib gib (binary); bare: bytes
 *   prob   a fraction in [0, 1] (0.01) or a percentage (1%)
 */
#ifndef TCPU_CLI_LINKSPEC_H
#define TCPU_CLI_LINKSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "lab/link.h"
#include "lab/trace.h"
#include "tcpu/tcpu.h"

/* Formats a message into err (when errlen > 0); returns TCPU_ERR_INVAL,
 * so parsers can `return lab_fail(err, errlen, "...", ...)`. */
int lab_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int lab_parse_rate(const char *s, uint64_t *bps, char *err, size_t errlen);
int lab_parse_time(const char *s, tcpu_duration *ns, char *err,
                   size_t errlen);
int lab_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);
int lab_parse_prob(const char *s, double *p, char *err, size_t errlen);
int lab_parse_u64(const char *s, uint64_t max, uint64_t *v, char *err,
                  size_t errlen);

/* How a queue limit was given. */
typedef enum lab_queue_unit {
  LAB_QUEUE_DEFAULT = 0, /* not given: 1 BDP when the rate is known */
  LAB_QUEUE_NONE,        /* "none": unlimited (still max_held) */
  LAB_QUEUE_BYTES,
  LAB_QUEUE_PKTS,
  LAB_QUEUE_BDP          /* a multiple of rate x base RTT */
} lab_queue_unit;

#define LAB_MAX_DROP_AT 16
#define LAB_PATH_MAX 1024

/* One direction of a link as written on the command line.  `set` has a
 * bit per key given, so the reverse direction can inherit the rest. */
typedef struct lab_link_spec {
  tcpu_link_cfg cfg;          /* queue limits not yet resolved */
  lab_queue_unit queue_unit;
  double queue_val;
  char trace_path[LAB_PATH_MAX];
  tcpu_duration drop_at[LAB_MAX_DROP_AT]; /* one datagram dropped at each */
  size_t n_drop_at;
  uint32_t set;
} lab_link_spec;

/* Bits of lab_link_spec.set. */
enum {
  LAB_SET_RATE = 1u << 0,
  LAB_SET_DELAY = 1u << 1,
  LAB_SET_QUEUE = 1u << 2,
  LAB_SET_AQM = 1u << 3,
  LAB_SET_TRACE = 1u << 4,
  LAB_SET_OVERHEAD = 1u << 5,
  LAB_SET_REORDER_DELAY = 1u << 6
};

/* Default bytes added per datagram on the wire: IPv4 (20) + UDP (8). */
#define LAB_DEFAULT_OVERHEAD 28u

/* Parses "key=value,key=value,...".  Keys: rate delay jitter loss
 * gilbert dup reorder reorder_delay reorder_jitter corrupt queue aqm
 * codel_target codel_interval red_min red_max red_p trace overhead
 * drop_at.  An empty string is a link without limits.  Errors: INVAL. */
int lab_parse_link(lab_link_spec *ls, const char *spec, char *err,
                   size_t errlen);

/* The reverse direction's default: rate, delay, queue, aqm and its
 * parameters, trace and overhead of fwd; no faults. */
void lab_link_reverse_default(lab_link_spec *rev, const lab_link_spec *fwd);

/* The help text of the link keys, for usage messages. */
extern const char lab_link_help[];

/* A link spec made ready to run: the trace loaded (into *trace, which
 * must outlive the link), origin set, queue limits resolved against
 * rtt (the base round trip of the path).  Errors: INVAL with err. */
int lab_link_resolve(lab_link_spec *ls, tcpu_mm_trace *trace,
                     tcpu_tstamp origin, tcpu_duration rtt, char *err,
                     size_t errlen);

/* The bottleneck rate in bits/s: rate_bps, or the trace's mean; 0 when
 * unlimited.  Call after lab_link_resolve for traces. */
uint64_t lab_link_rate(const lab_link_spec *ls, const tcpu_mm_trace *trace);

/* One line describing a resolved link, for reports. */
void lab_link_describe(char *out, size_t outlen, const lab_link_spec *ls,
                       const tcpu_mm_trace *trace);

#endif /* TCPU_CLI_LINKSPEC_H */
