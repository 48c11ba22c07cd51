/*
 * bench.h — shared pieces of tcpu-bench: options, the JSON writer, CPU and
 * memory accounting, threads pinned to CPUs, latency statistics.
 *
 * Every benchmark runs a bounded number of operations under a time limit
 * (opts.limit_s): a run that does not finish in time is reported with
 * "ok": false, never waited for.
 */
#ifndef TCPU_BENCH_H
#define TCPU_BENCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpu/tcpu_uv.h"

/* ------------------------------------------------------------- options */

typedef struct bench_opts {
  double bulk_s;        /* seconds of sending per bulk run */
  unsigned rr_count;    /* round trips measured per latency run */
  unsigned rr_warmup;   /* round trips before measuring */
  unsigned bulk_reps;   /* bulk runs of each kind, interleaved */
  unsigned conn_count;  /* connections of the setup-rate run */
  unsigned conn_window; /* connects in flight at once */
  unsigned mem_count;   /* idle connections of the memory run */
  unsigned conc_count;  /* connections of the concurrency run */
  double limit_s;       /* time limit of any one run */
  int quick;
} bench_opts;

#define BENCH_MAX_REPS 15 /* most --reps */

extern bench_opts opts;

/* ---------------------------------------------------------------- JSON */

void js_open(const char *key); /* key NULL: the top object or an element */
void js_close(void);
void js_num(const char *key, double v); /* NaN and inf print null */
void js_int(const char *key, uint64_t v);
void js_str(const char *key, const char *s);
void js_bool(const char *key, int v);

/* ------------------------------------------------------------ accounting */

typedef struct cpu_mark {
  uint64_t user_ns, sys_ns; /* of the calling thread */
  uint64_t wall_ns;
} cpu_mark;

void cpu_mark_now(cpu_mark *m);
/* user + sys ns between two marks */
uint64_t cpu_used(const cpu_mark *a, const cpu_mark *b);
uint64_t rss_bytes(void); /* resident set of the process */
uint64_t now_ns(void);    /* uv_hrtime() */

/* Ends a loop whatever is left open (the guard's path after a failure):
 * closes every handle, runs the loop dry, closes it. */
void loop_finish(uv_loop_t *loop);

/* Runs fn(arg) on a new thread pinned to `cpu` (-1: not pinned). */
int thread_start(pthread_t *th, int cpu, void *(*fn)(void *), void *arg);
void bench_set_knobs(unsigned io_flags, unsigned timer_flags,
                     uint64_t slack_ns);
void pin_self(int cpu);

/* ------------------------------------------------------------- latency */

typedef struct lat {
  uint64_t *ns;
  size_t n, cap;
} lat;

int lat_init(lat *l, size_t cap);
void lat_add(lat *l, uint64_t ns);
/* Sorts and writes count, p50, p90, p99, p99.9, min, max, mean (us). */
void lat_report(lat *l, const char *key);
double lat_pct(lat *l, double p); /* after lat_report or lat_sort */
void lat_sort(lat *l);
void lat_free(lat *l);

/* ---------------------------------------------------------- benchmarks */

/* Each writes one JSON member (or several) into the open object and
 * returns figures main() needs for the ratios. */
typedef struct bulk_result {
  int ok;
  double gbps;         /* goodput, Gbit/s */
  double cpu_ns_per_b; /* both threads' CPU per delivered byte */
  double gbps_cpu;     /* gbps_if_cpu_bound */
} bulk_result;

typedef struct rr_result {
  int ok;
  double p50_us, p99_us;
} rr_result;

/* bulk.c */
/* io_flags: TCPU_IO_NO_*; timer_flags: TCPU_HRTIMER_MS; slack_ns: the
 * hrtimer's slack (0: its default, 1: none) */
bulk_result bench_bulk_libtcpu(const char *key, unsigned io_flags,
                               unsigned timer_flags, uint64_t slack_ns);
bulk_result bench_bulk_raw_udp(const char *key, unsigned io_flags);
bulk_result bench_bulk_kernel_tcp(const char *key);

/* rr.c */
rr_result bench_rr_libtcpu(const char *key);
rr_result bench_rr_raw_udp_uv(const char *key);
rr_result bench_rr_raw_udp_blocking(const char *key);
rr_result bench_rr_kernel_tcp(const char *key);

/* conns.c */
/* window: connects in flight; idle: connections held open meanwhile */
double bench_conn_rate_libtcpu(const char *key, unsigned window, unsigned idle);
double bench_conn_rate_kernel_tcp(const char *key, unsigned window);
void bench_memory_libtcpu(const char *key);
void bench_concurrent_libtcpu(const char *key);

/* kcptun.c: skipped with a note when kcptun is not installed */
bulk_result bench_bulk_kcptun(const char *key);
rr_result bench_rr_kcptun(const char *key);

/* sizes.c: sizeof(struct tcpu_conn) */
size_t bench_sizeof_conn(void);

/* timer.c */
void bench_timer(const char *key);

/* kernel TCP helpers shared by bulk.c, rr.c and kcptun.c (ktcp.c) */
int ktcp_listen(uint16_t *port, int mss);
int ktcp_connect(uint16_t port, int mss);
int ktcp_accept(int lfd);

/* --------------------------------------------------------- sealed mode */

/* sealed.c: the keys of a sealed bulk run, one pair per side; bulk.c
 * applies them to the two endpoints it opens. */
enum { BENCH_SENDER = 0, BENCH_RECEIVER = 1 };
typedef struct bench_seal {
  tcpu_cipher cipher;
  uint8_t priv[2][TCPU_KEY_LEN], pub[2][TCPU_KEY_LEN]; /* [BENCH_SENDER..] */
} bench_seal;

/* Fresh key pairs for both sides.  0, or -1 (libsodium failed). */
int bench_seal_init(bench_seal *bs, tcpu_cipher cipher);
/* Sealed mode, the cipher and side's private key in *s. */
void bench_seal_settings(const bench_seal *bs, int side, tcpu_settings *s);
/* Makes the other side a peer of side's endpoint; endpoint is its UDP
 * address, or NULL to learn it from its handshake.  0 or a libtcpu error. */
int bench_seal_peer(const bench_seal *bs, int side, tcpu_uv_endpoint *uvep,
                    const struct sockaddr *endpoint);
/* bulk.c: bench_bulk_libtcpu's run (no ablation knobs) in sealed mode. */
bulk_result bench_bulk_libtcpu_sealed(const char *key, const bench_seal *seal);
/* Writes an endpoint's sealed-mode counters as one JSON member. */
void bench_seal_report(const char *key, const tcpu_endpoint_stats *st);

/* aead.c: libsodium's AEAD alone, one core, msg_bytes-byte messages:
 * AEAD_MSG_BYTES (issue 7's reference) or AEAD_SEG_BYTES (the plaintext
 * of a full sealed segment at MTU 1500: TCP header + MSS 1388). */
typedef struct aead_result {
  int ok;                            /* 0: the cipher is not available */
  double enc_gbps, dec_gbps;         /* plaintext bits per wall-clock second */
  double enc_gbps_cpu, dec_gbps_cpu; /* per second of the thread's CPU */
} aead_result;
#define AEAD_MSG_BYTES 1400
#define AEAD_SEG_BYTES 1408
aead_result bench_aead(const char *key, tcpu_cipher cipher, size_t msg_bytes);
const char *bench_cipher_name(tcpu_cipher cipher); /* "chachapoly", "aesgcm" */

/* sealed.c: issue 7's section: AEAD, plain and sealed bulk side by side,
 * interleaved opts.bulk_reps times; writes its own "ratios". */
typedef struct sealed_result {
  int ran[2];                     /* [tcpu_cipher] */
  double vs_plain[2], vs_aead[2]; /* sealed goodput / plain, / AEAD */
} sealed_result;
sealed_result bench_sealed(const char *key);
#define SEALED_TARGET_VS_AEAD 0.7 /* issue 7: sealed goodput / AEAD speed */

/* ------------------------------------------------------------- figures */

double ratio(double a, double b);     /* a / b, 0 when b is not positive */
double median(double *v, unsigned n); /* sorts v */
/* Writes and returns the median of each figure over n runs (each figure
 * on its own: not one run's set). */
bulk_result median_of(const char *key, const bulk_result *r, unsigned n);

/* Settings of every libtcpu endpoint the benchmarks open: the defaults,
 * with send and receive buffers of `buf` bytes. */
void bench_settings(tcpu_settings *s, uint32_t buf);

#endif /* TCPU_BENCH_H */
