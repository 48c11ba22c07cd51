/*
 * lab_validate.c — the congestion-control algorithms against their models
 * and their stated goals, measured with the lab's runner (cli/labrun.c) in
 * virtual time.  Every verdict comes from simulated figures; the wall
 * clock is printed, never judged.  Runs are deterministic, so a figure
 * that passes passes every time on every machine.
 *
 *   lab_validate NAME...   runs the named checks (all without a name) and
 *                          prints each figure with its bound; exit 1 if
 *                          any check fails.
 *
 * The checks:
 *   mathis_0.1 mathis_1  NewReno under 0.1% and 1% random loss on a
 *                        100 Mbit/s, 50 ms path with a 2 BDP queue: mean
 *                        goodput of 4 seeds x 120 s within 25% of
 *                        MSS/RTT * 1.22/sqrt(p) (Mathis et al. 1997);
 *   cubic_curve          one forced loss, then cwnd sampled every 10 ms
 *                        against W(t) = C(t-K)^3 + W_max (RFC 9438 §4.2);
 *   cubic_vs_newreno     1 Gbit/s, 100 ms, 0.001% loss, 10 s each: CUBIC
 *                        at least 1.5 x NewReno's goodput;
 *   bbr                  50 Mbit/s, 40 ms, 1 BDP queue: >= 80% of the
 *                        link, median one-way delay within 10% of the
 *                        base, mean within 25%;
 *   ledbat               LEDBAT alone fills the link, then yields to CUBIC
 *                        (its goodput < 15% of CUBIC's once both run);
 *   fairness             two CUBIC flows, Jain index > 0.9 over 20-60 s;
 *   codel                CUBIC over a 10 BDP queue: CoDel keeps the p95
 *                        one-way delay under base + 4 x TARGET at >= 85%
 *                        of the link where drop-tail lets it grow 5 x;
 *   trace                CUBIC over Mahimahi traces follows their rate;
 *   vegas                the contrib/cc-example plug-in registered with
 *                        tcpu_cc_register: fills the link with a queue of
 *                        a few segments;
 *   determinism          the same seed gives the same result, another
 *                        seed another.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labrun.h"
#include "linkspec.h"

#ifndef TCPU_TRACE_DIR
#define TCPU_TRACE_DIR "contrib/traces"
#endif

extern const tcpu_cc_ops *const tcpu_cc_plugins[]; /* contrib/cc-example */

static int failures;

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void check(const char *name, int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("  %-4s %s: ", ok ? "ok" : "FAIL", name);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  if (!ok)
    failures++;
}

/* A run set up from command-line strings, as `tcpu lab` does. */
typedef struct trial {
  lab_cfg cfg;
  lab_result res;
  lab_link_spec ls[2];
  tcpu_mm_trace traces[2];
  double wall;
} trial;

static trial *exp_new(const char *link, const char *rev, uint64_t seed) {
  trial *e = calloc(1, sizeof(*e));
  char err[1200];
  if (!e)
    abort();
  if (lab_parse_link(&e->ls[0], link, err, sizeof(err)) != 0) {
    fprintf(stderr, "link %s: %s\n", link, err);
    abort();
  }
  if (rev) {
    if (lab_parse_link(&e->ls[1], rev, err, sizeof(err)) != 0) {
      fprintf(stderr, "rev link %s: %s\n", rev, err);
      abort();
    }
  } else {
    lab_link_reverse_default(&e->ls[1], &e->ls[0]);
  }
  tcpu_duration rtt = e->ls[0].cfg.delay + e->ls[1].cfg.delay;
  for (int d = 0; d < 2; d++) {
    if (lab_link_resolve(&e->ls[d], &e->traces[d], LAB_T0, rtt, err,
                         sizeof(err)) != 0) {
      fprintf(stderr, "resolve: %s\n", err);
      abort();
    }
  }
  e->cfg.ab = e->ls[0].cfg;
  e->cfg.ba = e->ls[1].cfg;
  memcpy(e->cfg.drop_ab, e->ls[0].drop_at, sizeof(e->cfg.drop_ab));
  e->cfg.n_drop_ab = e->ls[0].n_drop_at;
  e->cfg.seed = seed;
  e->cfg.interval = 100 * TCPU_NS_PER_MS;
  /* Buffers never limit: 64 MiB covers 2 x (BDP + queue) of every path
   * here. */
  e->cfg.sndbuf = e->cfg.rcvbuf = 64u << 20;
  return e;
}

static void exp_flow(trial *e, const char *spec) {
  char err[512];
  if (lab_parse_flow(&e->cfg.flows[e->cfg.n_flows], spec, err,
                     sizeof(err)) != 0) {
    fprintf(stderr, "flow %s: %s\n", spec, err);
    abort();
  }
  e->cfg.n_flows++;
}

static void exp_run(trial *e) {
  double w0 = wall_now();
  if (lab_run(&e->cfg, &e->res) != 0) {
    fprintf(stderr, "lab_run: %s\n", e->res.error);
    abort();
  }
  e->wall = wall_now() - w0;
}

static void exp_del(trial *e) {
  lab_result_free(&e->res);
  for (int d = 0; d < 2; d++)
    tcpu_mm_trace_free(&e->traces[d]);
  free(e);
}

/* Goodput the link can carry at most: payload share of each datagram
 * (TCP header with timestamps, 32 bytes, and 28 of IPv4 + UDP). */
static double max_goodput(double rate_mbps, double mss) {
  return rate_mbps * mss / (mss + 32 + 28);
}

/* ------------------------------------------------------------- Mathis */

static void mathis(double p, const char *name) {
  char link[128];
  snprintf(link, sizeof(link), "rate=100mbit,delay=25ms,loss=%g,queue=2bdp",
           p);
  double sum = 0;
  const int seeds = 4;
  printf("%s: NewReno, 100 Mbit/s, 50 ms RTT, loss %g%%, 2 BDP queue, "
         "%d seeds x 120 s\n",
         name, p * 100, seeds);
  for (int s = 1; s <= seeds; s++) {
    trial *e = exp_new(link, "rate=100mbit,delay=25ms,queue=2bdp", (uint64_t)s);
    exp_flow(e, "cc=newreno,duration=120s");
    exp_run(e);
    const lab_flow_result *f = &e->res.flows[0];
    double mss = f->info.snd_mss, rtt = (double)f->info.min_rtt / 1e9;
    double model = mss * 8 / rtt * 1.22 / sqrt(p) / 1e6;
    double ratio = f->mbps / model;
    sum += ratio;
    printf("    seed %d: %.3f Mbit/s, model %.3f (MSS %.0f, RTT %.3f ms), "
           "ratio %.3f, %" PRIu64 " recoveries, %" PRIu64 " timeouts "
           "(%.2f s wall)\n",
           s, f->mbps, model, mss, rtt * 1e3, ratio, f->info.fast_recoveries,
           f->info.timeouts, e->wall);
    exp_del(e);
  }
  double mean = sum / seeds;
  check(name, mean >= 0.75 && mean <= 1.25,
        "mean goodput / Mathis = %.3f, bound [0.75, 1.25]", mean);
}

static void check_mathis_01(void) { mathis(0.001, "mathis_0.1"); }
static void check_mathis_1(void) { mathis(0.01, "mathis_1"); }

/* -------------------------------------------------------------- CUBIC */

static void check_cubic_curve(void) {
  printf("cubic_curve: CUBIC, 100 Mbit/s, 100 ms RTT, no queue limit, one "
         "datagram dropped at 0.6 s; cwnd every 10 ms\n");
  trial *e = exp_new("rate=100mbit,delay=50ms,queue=none,drop_at=0.6s", NULL,
                   1);
  e->cfg.interval = 10 * TCPU_NS_PER_MS;
  exp_flow(e, "cc=cubic,duration=16s");
  exp_run(e);
  const lab_flow_result *f = &e->res.flows[0];
  double mss = f->info.snd_mss;
  /* The congestion avoidance stage begins when fast recovery ends. */
  size_t i = 0;
  while (i < f->n_samples && f->samples[i].ca_state != 1)
    i++;
  while (i < f->n_samples && f->samples[i].ca_state != 0)
    i++;
  if (i >= f->n_samples) {
    check("cubic_curve", 0, "no fast recovery after the forced loss");
    exp_del(e);
    return;
  }
  /* The epoch began between the last recovery sample and this one. */
  double t_epoch = f->samples[i].t - 0.005;
  double ssthresh = f->samples[i].ssthresh;
  /* RFC 9438 §4.6: ssthresh = 0.7 W_max; §4.2 Figure 2 with cwnd_epoch =
   * ssthresh (the core leaves recovery at ssthresh). */
  double w_max = ssthresh / 0.7;
  double k = cbrt((w_max - ssthresh) / (0.4 * mss));
  double worst = 0, worst_t = 0;
  size_t n = 0;
  for (; i < f->n_samples; i++) {
    const lab_sample *s = &f->samples[i];
    double t = s->t - t_epoch;
    if (t < 0.2)
      continue;
    if (t > 2 * k)
      break;
    double w = 0.4 * mss * pow(t - k, 3) + w_max;
    double err = fabs((double)s->cwnd - w) / w_max;
    if (err > worst) {
      worst = err;
      worst_t = t;
    }
    n++;
  }
  printf("    W_max %.1f segments, cwnd_epoch %.1f, K %.3f s, epoch at "
         "%.3f s; %zu samples over [0.2 s, 2K] (%.2f s wall)\n",
         w_max / mss, ssthresh / mss, k, t_epoch, n, e->wall);
  check("cubic_curve", n >= 100 && worst <= 0.05,
        "largest |cwnd - W(t)| = %.2f%% of W_max (at t = %.2f s), bound 5%%",
        worst * 100, worst_t);
  exp_del(e);
}

static void check_cubic_vs_newreno(void) {
  printf("cubic_vs_newreno: 1 Gbit/s, 100 ms RTT, 0.001%% random loss, 1 "
         "BDP queue, 10 s\n");
  double m[2];
  const char *cc[2] = {"cubic", "newreno"};
  for (int a = 0; a < 2; a++) {
    trial *e = exp_new("rate=1gbit,delay=50ms,loss=0.00001,queue=1bdp",
                     "rate=1gbit,delay=50ms,queue=1bdp", 2);
    char flow[64];
    snprintf(flow, sizeof(flow), "cc=%s,duration=10s", cc[a]);
    exp_flow(e, flow);
    exp_run(e);
    const lab_flow_result *f = &e->res.flows[0];
    m[a] = f->mbps;
    printf("    %-8s %.1f Mbit/s, %" PRIu64 " recoveries, %" PRIu64
           " timeouts (%.2f s wall for %" PRIu64 " events)\n",
           cc[a], f->mbps, f->info.fast_recoveries, f->info.timeouts, e->wall,
           e->res.steps);
    exp_del(e);
  }
  check("cubic_vs_newreno", m[0] >= 1.5 * m[1],
        "CUBIC / NewReno goodput = %.2f, bound >= 1.5", m[0] / m[1]);
}

/* ---------------------------------------------------------------- BBR */

static void check_bbr(void) {
  printf("bbr: 50 Mbit/s, 40 ms RTT, 1 BDP drop-tail queue, 30 s\n");
  trial *e = exp_new("rate=50mbit,delay=20ms,queue=1bdp", NULL, 1);
  exp_flow(e, "cc=bbr,duration=30s");
  exp_run(e);
  const lab_flow_result *f = &e->res.flows[0];
  trial *c = exp_new("rate=50mbit,delay=20ms,queue=1bdp", NULL, 1);
  exp_flow(c, "cc=cubic,duration=30s");
  exp_run(c);
  const lab_flow_result *fc = &c->res.flows[0];
  double base = f->owd_min_ms;
  printf("    BBR   %.2f Mbit/s, one-way delay ms: base %.3f, median %.3f, "
         "mean %.3f, p95 %.3f\n",
         f->mbps, base, f->owd_p50_ms, f->owd_mean_ms, f->owd_p95_ms);
  printf("    CUBIC %.2f Mbit/s, one-way delay ms: median %.3f, mean %.3f, "
         "p95 %.3f (the same path, for contrast)\n",
         fc->mbps, fc->owd_p50_ms, fc->owd_mean_ms, fc->owd_p95_ms);
  check("bbr_rate", f->mbps >= 0.8 * 50, "%.1f%% of the link, bound 80%%",
        f->mbps / 50 * 100);
  check("bbr_median_delay", f->owd_p50_ms <= 1.1 * base,
        "median one-way delay %.3f ms = %.3f x base, bound 1.1",
        f->owd_p50_ms, f->owd_p50_ms / base);
  check("bbr_mean_delay", f->owd_mean_ms <= 1.25 * base,
        "mean one-way delay %.3f ms = %.3f x base, bound 1.25",
        f->owd_mean_ms, f->owd_mean_ms / base);
  exp_del(e);
  exp_del(c);
}


/* ----------------------------------------------------- BBR under loss */

/* Seconds from the first data delivered until the sampled delivery rate
 * first comes within `tol` of `target` (bytes/s); -1 if never. */
static double time_to_rate(const lab_flow_result *f, double target,
                           double tol, double *t_first) {
  double t0 = -1;
  for (size_t i = 0; i < f->n_samples; i++) {
    const lab_sample *s = &f->samples[i];
    if (t0 < 0 && s->bytes > 0)
      t0 = f->samples[i > 0 ? i - 1 : 0].t;
    if (t0 >= 0 && s->delivery_rate > 0 &&
        fabs((double)s->delivery_rate - target) <= tol * target) {
      *t_first = t0;
      return s->t - t0;
    }
  }
  *t_first = t0;
  return -1;
}

static void check_bbr_loss(void) {
  printf("bbr_loss: 100 Mbit/s, 50 ms RTT, 1%% random loss, 1 BDP "
         "queue, 30 s; BBR and CUBIC\n");
  const char *link = "rate=100mbit,delay=25ms,loss=0.01,queue=1bdp";
  trial *e = exp_new(link, NULL, 1);
  e->cfg.interval = 10 * TCPU_NS_PER_MS;
  exp_flow(e, "cc=bbr,duration=30s");
  exp_run(e);
  trial *c = exp_new(link, NULL, 1);
  exp_flow(c, "cc=cubic,duration=30s");
  exp_run(c);
  const lab_flow_result *f = &e->res.flows[0], *fc = &c->res.flows[0];
  double best = max_goodput(100, f->info.snd_mss);
  double steady = lab_flow_mbps_between(f, 5, 30);
  double csteady = lab_flow_mbps_between(fc, 5, 30);
  double rtt = 0.050, t_first;
  double ttr = time_to_rate(f, best * 1e6 / 8, 0.10, &t_first);
  double qd50 = f->owd_p50_ms - f->owd_min_ms;
  double qdmean = f->owd_mean_ms - f->owd_min_ms;
  printf("    BBR   %.2f Mbit/s over 0-30 s, %.2f over 5-30 s (payload "
         "rate %.2f); owd base %.2f, p50 %.2f, mean %.2f, p95 %.2f ms; "
         "rtx %.2f%% (%.2f s wall)\n",
         f->mbps, steady, best, f->owd_min_ms, f->owd_p50_ms, f->owd_mean_ms,
         f->owd_p95_ms, f->retrans_rate * 100, e->wall);
  printf("    CUBIC %.2f Mbit/s over 0-30 s, %.2f over 5-30 s, %" PRIu64
         " recoveries, %" PRIu64 " timeouts\n",
         fc->mbps, csteady, fc->info.fast_recoveries, fc->info.timeouts);
  printf("    first data at %.2f s; delivery rate within 10%% of %.2f "
         "Mbit/s after %.3f s = %.1f RTTs\n",
         t_first, best, ttr, ttr / rtt);
  check("bbr_loss_rate", steady >= 0.9 * best,
        "BBR %.1f%% of the payload rate over 5-30 s, bound 90%%",
        steady / best * 100);
  check("bbr_loss_vs_cubic", csteady >= 0 && steady >= 5 * csteady,
        "BBR / CUBIC = %.1f (CUBIC %.1f%% of the payload rate), bound >= 5",
        steady / csteady, csteady / best * 100);
  check("bbr_loss_queue", qd50 < 50 && qdmean < 50,
        "queueing delay p50 %.2f ms, mean %.2f ms, bound < 1 RTT (50 ms)",
        qd50, qdmean);
  check("bbr_loss_bw_estimate", ttr >= 0 && ttr <= 10 * rtt,
        "delivery rate within 10%% of the link after %.1f RTTs, bound 10",
        ttr / rtt);
  exp_del(e);
  exp_del(c);
}

/* ------------------------------------------------------- 4-flow fairness */

static void fairness4(const char *cc, const char *name, int bound) {
  printf("%s: four %s flows, 50 Mbit/s, 40 ms RTT, 1 BDP queue, starting "
         "0, 1, 2, 3 s; Jain index over 30-40 s\n",
         name, cc);
  trial *e = exp_new("rate=50mbit,delay=20ms,queue=1bdp", NULL, 1);
  for (int i = 0; i < 4; i++) {
    char flow[64];
    snprintf(flow, sizeof(flow), "cc=%s,start=%ds,duration=%ds", cc, i,
             40 - i);
    exp_flow(e, flow);
  }
  exp_run(e);
  double x[4], sum = 0;
  for (int i = 0; i < 4; i++) {
    x[i] = lab_flow_mbps_between(&e->res.flows[i], 30, 40);
    sum += x[i];
  }
  double j = lab_jain(x, 4);
  printf("    %.2f, %.2f, %.2f, %.2f Mbit/s (sum %.2f) (%.2f s wall)\n",
         x[0], x[1], x[2], x[3], sum, e->wall);
  if (bound)
    check(name, j >= 0.95, "Jain %.4f, bound >= 0.95", j);
  else
    check(name, j > 0, "Jain %.4f (reported, no bound)", j);
  exp_del(e);
}

static void check_fairness4_cubic(void) {
  fairness4("cubic", "fairness4_cubic", 1);
}
static void check_fairness4_bbr(void) { fairness4("bbr", "fairness4_bbr", 0); }

static void check_cubic_bbr_share(void) {
  printf("cubic_bbr_share: CUBIC and BBR, 50 Mbit/s, 40 ms RTT, 1 BDP "
         "queue, 40 s; shares over 10-40 s (reported)\n");
  trial *e = exp_new("rate=50mbit,delay=20ms,queue=1bdp", NULL, 1);
  exp_flow(e, "cc=cubic,duration=40s");
  exp_flow(e, "cc=bbr,duration=40s");
  exp_run(e);
  double x[2] = {lab_flow_mbps_between(&e->res.flows[0], 10, 40),
                 lab_flow_mbps_between(&e->res.flows[1], 10, 40)};
  double j = lab_jain(x, 2);
  check("cubic_bbr_share", x[0] > 0 && x[1] > 0,
        "CUBIC %.2f, BBR %.2f Mbit/s, Jain %.4f (both flows progress)", x[0],
        x[1], j);
  exp_del(e);
}

/* ------------------------------------------------- bytes sent / goodput */

static void check_overhead(void) {
  printf("overhead: 100 Mbit/s, 50 ms RTT, 1%% random loss, 1 BDP queue, "
         "30 s; TCP payload bytes sent (retransmissions included) per "
         "byte read by the receiver, and link bytes (headers included)\n");
  const char *cc[3] = {"bbr", "cubic", "newreno"};
  for (int a = 0; a < 3; a++) {
    trial *e = exp_new("rate=100mbit,delay=25ms,loss=0.01,queue=1bdp", NULL,
                       1);
    char flow[64];
    snprintf(flow, sizeof(flow), "cc=%s,duration=30s", cc[a]);
    exp_flow(e, flow);
    exp_run(e);
    const lab_flow_result *f = &e->res.flows[0];
    double sent = (double)(f->info.bytes_sent + f->info.bytes_retrans) /
                  (double)f->bytes;
    double wire = (double)e->res.ab.bytes_submitted / (double)f->bytes;
    char name[32];
    snprintf(name, sizeof(name), "overhead_%s", cc[a]);
    printf("    %-8s %.2f Mbit/s, %" PRIu64 " payload bytes sent, %" PRIu64
           " retransmitted, %" PRIu64 " read; link bytes %" PRIu64 "\n",
           cc[a], f->mbps, f->info.bytes_sent, f->info.bytes_retrans,
           f->bytes, e->res.ab.bytes_submitted);
    check(name, sent <= 1.05,
          "payload sent / read %.4f, bound 1.05; link bytes / read %.4f",
          sent, wire);
    exp_del(e);
  }
}

/* ------------------------------------------------------------- LEDBAT */

static void check_ledbat(void) {
  printf("ledbat: 20 Mbit/s, 40 ms RTT, 6 BDP (240 ms) queue; LEDBAT "
         "0-60 s, CUBIC 10-60 s\n");
  trial *e = exp_new("rate=20mbit,delay=20ms,queue=6bdp", NULL, 1);
  exp_flow(e, "cc=ledbat,duration=60s");
  exp_flow(e, "cc=cubic,start=10s,duration=50s");
  exp_run(e);
  double alone = lab_flow_mbps_between(&e->res.flows[0], 2, 10);
  double l = lab_flow_mbps_between(&e->res.flows[0], 20, 60);
  double c = lab_flow_mbps_between(&e->res.flows[1], 20, 60);
  printf("    LEDBAT alone (2-10 s) %.2f Mbit/s; both (20-60 s): LEDBAT "
         "%.2f, CUBIC %.2f Mbit/s (%.2f s wall)\n",
         alone, l, c, e->wall);
  check("ledbat_alone", alone >= 0.8 * 20,
        "alone %.1f%% of the link, bound 80%%", alone / 20 * 100);
  check("ledbat_yields", l >= 0 && c > 0 && l < 0.15 * c,
        "LEDBAT / CUBIC = %.3f, bound < 0.15", c > 0 ? l / c : -1);
  exp_del(e);
}

/* ----------------------------------------------------------- fairness */

static void check_fairness(void) {
  printf("fairness: two CUBIC flows, 50 Mbit/s, 40 ms RTT, 1 BDP queue; "
         "the second joins at 5 s; Jain index over 20-60 s\n");
  for (uint64_t s = 1; s <= 3; s++) {
    trial *e = exp_new("rate=50mbit,delay=20ms,queue=1bdp", NULL, s);
    exp_flow(e, "cc=cubic,duration=60s");
    exp_flow(e, "cc=cubic,start=5s,duration=55s");
    exp_run(e);
    double x[2] = {lab_flow_mbps_between(&e->res.flows[0], 20, 60),
                   lab_flow_mbps_between(&e->res.flows[1], 20, 60)};
    double j = lab_jain(x, 2);
    char name[32];
    snprintf(name, sizeof(name), "fairness_seed%" PRIu64, s);
    check(name, j > 0.9, "%.2f and %.2f Mbit/s, Jain %.4f, bound > 0.9",
          x[0], x[1], j);
    exp_del(e);
  }
}

/* -------------------------------------------------------------- CoDel */

static void check_codel(void) {
  printf("codel: CUBIC, 20 Mbit/s, 40 ms RTT, a 10 BDP (400 ms) queue, 30 s\n");
  trial *dt = exp_new("rate=20mbit,delay=20ms,queue=10bdp", NULL, 1);
  exp_flow(dt, "cc=cubic,duration=30s");
  exp_run(dt);
  trial *cd = exp_new("rate=20mbit,delay=20ms,queue=10bdp,aqm=codel", NULL, 1);
  exp_flow(cd, "cc=cubic,duration=30s");
  exp_run(cd);
  const lab_flow_result *a = &dt->res.flows[0], *b = &cd->res.flows[0];
  printf("    drop-tail: %.2f Mbit/s, one-way delay p50 %.1f p95 %.1f ms\n",
         a->mbps, a->owd_p50_ms, a->owd_p95_ms);
  printf("    CoDel:     %.2f Mbit/s, one-way delay p50 %.1f p95 %.1f ms, "
         "%" PRIu64 " CoDel drops\n",
         b->mbps, b->owd_p50_ms, b->owd_p95_ms, cd->res.ab.dropped_aqm);
  double base = b->owd_min_ms;
  check("codel_delay", b->owd_p95_ms <= base + 20,
        "p95 %.1f ms, bound base %.1f + 4 x 5 ms", b->owd_p95_ms, base);
  check("codel_rate", b->mbps >= 0.85 * max_goodput(20, b->info.snd_mss),
        "%.1f%% of the payload rate, bound 85%%",
        b->mbps / max_goodput(20, b->info.snd_mss) * 100);
  check("codel_vs_droptail", a->owd_p95_ms >= 5 * b->owd_p95_ms,
        "drop-tail p95 / CoDel p95 = %.1f, bound >= 5",
        a->owd_p95_ms / b->owd_p95_ms);
  exp_del(dt);
  exp_del(cd);
}

/* -------------------------------------------------------------- trace */

static void check_trace(void) {
  printf("trace: CUBIC over Mahimahi traces (" TCPU_TRACE_DIR "), 40 ms "
         "RTT, 1 BDP queue\n");
  trial *e = exp_new("trace=" TCPU_TRACE_DIR "/const-12mbit.trace,delay=20ms",
                   NULL, 1);
  exp_flow(e, "cc=cubic,duration=20s");
  exp_run(e);
  const lab_flow_result *f = &e->res.flows[0];
  double steady = lab_flow_mbps_between(f, 5, 20);
  double best = max_goodput(12, f->info.snd_mss);
  check("trace_constant", steady >= 0.9 * best && steady <= best * 1.001,
        "%.3f Mbit/s over 5-20 s, payload rate of 12 Mbit/s %.3f, bound "
        "[90%%, 100%%]",
        steady, best);
  exp_del(e);

  /* 50 Mbit/s for 5 s, 10 for 5 s, 50 for 5 s, looping. */
  e = exp_new("trace=" TCPU_TRACE_DIR "/step-50-10-50mbit.trace,delay=20ms",
              NULL, 1);
  exp_flow(e, "cc=cubic,duration=30s");
  exp_run(e);
  f = &e->res.flows[0];
  /* The second loop, away from the edges where the queue drains. */
  double hi1 = lab_flow_mbps_between(f, 16, 20);
  double lo = lab_flow_mbps_between(f, 21.5, 25);
  double hi2 = lab_flow_mbps_between(f, 26.5, 30);
  printf("    step trace: %.2f, %.2f, %.2f Mbit/s in its three phases\n",
         hi1, lo, hi2);
  check("trace_step",
        hi1 >= 0.7 * max_goodput(50, f->info.snd_mss) &&
            lo >= 0.8 * max_goodput(10, f->info.snd_mss) &&
            lo <= max_goodput(10, f->info.snd_mss) * 1.001 &&
            hi2 >= 0.7 * max_goodput(50, f->info.snd_mss),
        "the goodput follows 50 -> 10 -> 50 Mbit/s (bounds 70%%, 80-100%%, "
        "70%% of each payload rate)");
  exp_del(e);
}

/* -------------------------------------------------------------- Vegas */

static void check_vegas(void) {
  printf("vegas: contrib/cc-example/vegas.c through tcpu_cc_register, 20 "
         "Mbit/s, 40 ms RTT, 1 BDP queue, 30 s\n");
  trial *e = exp_new("rate=20mbit,delay=20ms,queue=1bdp", NULL, 1);
  e->cfg.user_cc[e->cfg.n_user_cc++] = tcpu_cc_plugins[0];
  exp_flow(e, "cc=vegas,duration=30s");
  exp_run(e);
  const lab_flow_result *f = &e->res.flows[0];
  double best = max_goodput(20, f->info.snd_mss);
  /* ALPHA..BETA segments queued at 20 Mbit/s is 1.2 to 2.4 ms. */
  printf("    %s: %.2f Mbit/s, one-way delay base %.2f, mean %.2f, p95 "
         "%.2f ms\n",
         f->cc, f->mbps, f->owd_min_ms, f->owd_mean_ms, f->owd_p95_ms);
  check("vegas_runs", strcmp(f->cc, "vegas") == 0 && f->mbps >= 0.8 * best,
        "%.1f%% of the payload rate, bound 80%%", f->mbps / best * 100);
  check("vegas_small_queue", f->owd_mean_ms <= f->owd_min_ms + 5,
        "mean queueing delay %.2f ms, bound 5 ms",
        f->owd_mean_ms - f->owd_min_ms);
  exp_del(e);
}

/* -------------------------------------------------------- determinism */

static trial *busy_run(uint64_t seed) {
  trial *e = exp_new("rate=30mbit,delay=15ms,jitter=2ms,loss=0.005,dup=0.001,"
                   "reorder=0.01,reorder_delay=5ms,queue=1bdp,aqm=codel",
                   "rate=30mbit,delay=15ms,loss=0.002", seed);
  exp_flow(e, "cc=cubic,duration=8s");
  exp_flow(e, "cc=bbr,start=1s,duration=7s");
  exp_flow(e, "cc=newreno,start=2s,size=2mb,dir=rev");
  exp_run(e);
  return e;
}

static int same_result(const lab_result *a, const lab_result *b) {
  if (a->n_flows != b->n_flows || a->steps != b->steps ||
      memcmp(&a->ab, &b->ab, sizeof(a->ab)) != 0 ||
      memcmp(&a->ba, &b->ba, sizeof(a->ba)) != 0)
    return 0;
  for (size_t i = 0; i < a->n_flows; i++) {
    const lab_flow_result *x = &a->flows[i], *y = &b->flows[i];
    if (x->bytes != y->bytes || x->owd_n != y->owd_n ||
        x->owd_p95_ms != y->owd_p95_ms || x->t_end != y->t_end ||
        x->n_samples != y->n_samples ||
        memcmp(&x->info, &y->info, sizeof(x->info)) != 0 ||
        memcmp(x->samples, y->samples, x->n_samples * sizeof(lab_sample)))
      return 0;
  }
  return 1;
}

static void check_determinism(void) {
  printf("determinism: three flows (CUBIC, BBR, NewReno back) over jitter, "
         "loss, duplication, reordering and CoDel, twice per seed\n");
  trial *a = busy_run(7), *b = busy_run(7), *c = busy_run(8);
  check("same_seed_same_result", same_result(&a->res, &b->res),
        "%" PRIu64 " events, flows %" PRIu64 "/%" PRIu64 "/%" PRIu64
        " bytes",
        a->res.steps, a->res.flows[0].bytes, a->res.flows[1].bytes,
        a->res.flows[2].bytes);
  check("other_seed_other_result", !same_result(&a->res, &c->res),
        "seed 8: %" PRIu64 " events", c->res.steps);
  check("sized_flow_completes", a->res.flows[2].completed,
        "the 2 MB reverse flow: %" PRIu64 " bytes by %.3f s",
        a->res.flows[2].bytes, a->res.flows[2].t_end);
  exp_del(a);
  exp_del(b);
  exp_del(c);
}

/* ---------------------------------------------------------------- main */

typedef struct named {
  const char *name;
  void (*fn)(void);
} named;

static const named checks[] = {
    {"mathis_0.1", check_mathis_01},
    {"mathis_1", check_mathis_1},
    {"cubic_curve", check_cubic_curve},
    {"cubic_vs_newreno", check_cubic_vs_newreno},
    {"bbr", check_bbr},
    {"bbr_loss", check_bbr_loss},
    {"fairness4_cubic", check_fairness4_cubic},
    {"fairness4_bbr", check_fairness4_bbr},
    {"cubic_bbr_share", check_cubic_bbr_share},
    {"overhead", check_overhead},
    {"ledbat", check_ledbat},
    {"fairness", check_fairness},
    {"codel", check_codel},
    {"trace", check_trace},
    {"vegas", check_vegas},
    {"determinism", check_determinism},
};
#define N_CHECKS (sizeof(checks) / sizeof(checks[0]))

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    size_t k = 0;
    while (k < N_CHECKS && strcmp(checks[k].name, argv[i]) != 0)
      k++;
    if (k == N_CHECKS) {
      fprintf(stderr, "lab_validate: no check \"%s\"; checks:", argv[i]);
      for (size_t j = 0; j < N_CHECKS; j++)
        fprintf(stderr, " %s", checks[j].name);
      fprintf(stderr, "\n");
      return 2;
    }
  }
  double w0 = wall_now();
  for (size_t k = 0; k < N_CHECKS; k++) {
    int want = argc == 1;
    for (int i = 1; i < argc; i++)
      want |= strcmp(checks[k].name, argv[i]) == 0;
    if (want)
      checks[k].fn();
  }
  printf("%s (%.1f s wall)\n", failures ? "FAILED" : "all checks passed",
         wall_now() - w0);
  return failures ? 1 : 0;
}
