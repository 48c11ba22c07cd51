/*
 * lab.c — `tcpu lab`: congestion-control experiments over a simulated
 * link in virtual time (labrun.h), without root and without a network.
 *
 *   tcpu lab --link rate=100mbit,delay=20ms,loss=0.01,queue=1bdp \
 *            --flow cc=cubic,start=0,duration=30s \
 *            --flow cc=bbr,start=5s,duration=25s --seed 1 --json
 *
 * User algorithms come in shared objects (--load): see
 * contrib/cc-example/README.md.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "lab_out.h"
#include "labrun.h"

#define DEFAULT_INTERVAL (100 * TCPU_NS_PER_MS)
#define MAX_LOADS 8

void tcpu_usage_lab(FILE *f) {
  fprintf(f,
          "usage: tcpu lab --link SPEC [--rev-link SPEC] --flow SPEC "
          "[--flow SPEC]...\n"
          "                [--seed N] [--duration TIME] [--interval TIME]\n"
          "                [--mtu BYTES] [--buf SIZE] [--load FILE.so]...\n"
          "                [--json] [--csv DIR] [--plot DIR]\n"
          "\n"
          "Runs TCP flows between two simulated hosts A and B over one "
          "bottleneck\nper direction, in virtual time: a 30 s experiment "
          "takes as long as the\nCPU needs, and the same arguments give "
          "the same result.\n"
          "\n"
          "--link SPEC      the A->B link, key=value[,key=value...]:\n%s"
          "--rev-link SPEC  the B->A link; default: rate, delay, queue, "
          "aqm, trace\n"
          "                 and overhead of --link, without faults\n"
          "--flow SPEC      a TCP flow (up to %d), key=value[,...]:\n"
          "  cc=NAME          newreno, cubic (default), bbr, ledbat, or "
          "loaded\n"
          "  start=TIME       when it connects (default 0)\n"
          "  duration=TIME    how long it sends, or\n"
          "  size=SIZE        how much it sends (10mb, 64kib)\n"
          "  dir=fwd|rev      A->B (default) or B->A\n"
          "--seed N         seed of all randomness (default 1)\n"
          "--duration TIME  end of the run (default: when the flows end)\n"
          "--interval TIME  time-series period (default 100ms)\n"
          "--mtu BYTES      path MTU of both hosts (default 1500)\n"
          "--buf SIZE       send and receive buffer per connection "
          "(default\n"
          "                 2 x (BDP + queue), at least 1 MiB)\n"
          "--load FILE.so   a shared object exporting tcpu_cc_plugins, a\n"
          "                 NULL-terminated array of const tcpu_cc_ops *\n"
          "--json           the report as JSON\n"
          "--csv DIR        time series per flow: DIR/flow<N>.csv\n"
          "--plot DIR       the CSVs plus gnuplot scripts, run to make .png "
          "and\n"
          "                 .svg figures when gnuplot is installed\n"
          "\nUnits: rates bit kbit mbit gbit (bits/s) or bps kbps mbps gbps "
          "(bytes/s);\ntimes ns us ms s; sizes b k m g kib mib gib; "
          "probabilities 0.01 or 1%%.\n",
          lab_link_help, LAB_MAX_FLOWS);
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: the reason and a hint; returns the exit status 2. */
static int bad(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "tcpu lab: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n(see tcpu lab --help)\n");
  va_end(ap);
  return 2;
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loads the algorithms of one shared object into cfg. */
static int load_plugin(const char *path, lab_cfg *cfg, void **handle) {
  /* A path without a slash would make dlopen search the library path. */
  char buf[4096];
  if (!strchr(path, '/'))
    snprintf(buf, sizeof(buf), "./%s", path);
  else
    snprintf(buf, sizeof(buf), "%s", path);
  void *h = dlopen(buf, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "tcpu lab: --load %s: %s\n", path, dlerror());
    return 2;
  }
  *handle = h;
  const tcpu_cc_ops *const *list = dlsym(h, "tcpu_cc_plugins");
  if (!list) {
    fprintf(stderr, "tcpu lab: --load %s: no symbol tcpu_cc_plugins (a "
                    "NULL-terminated array of const tcpu_cc_ops *)\n",
            path);
    return 2;
  }
  size_t n = 0;
  for (; list[n]; n++) {
    const tcpu_cc_ops *ops = list[n];
    if (cfg->n_user_cc == LAB_MAX_USER_CC) {
      fprintf(stderr, "tcpu lab: at most %d loaded algorithms\n",
              LAB_MAX_USER_CC);
      return 2;
    }
    if (!ops->name || !ops->name[0] || strlen(ops->name) > 15 || !ops->init ||
        !ops->on_ack || !ops->on_congestion) {
      fprintf(stderr, "tcpu lab: --load %s: entry %zu needs a name of 1-15 "
                      "characters and init, on_ack and on_congestion\n",
              path, n);
      return 2;
    }
    cfg->user_cc[cfg->n_user_cc++] = ops;
  }
  if (n == 0) {
    fprintf(stderr, "tcpu lab: --load %s: tcpu_cc_plugins is empty\n", path);
    return 2;
  }
  return 0;
}

typedef struct lab_args {
  const char *link, *rev_link, *csv, *plot;
  const char *flows[LAB_MAX_FLOWS];
  size_t n_flows;
  const char *loads[MAX_LOADS];
  size_t n_loads;
  int json;
} lab_args;

/* Parses argv into a and cfg (links not yet resolved).  Returns 0, or the
 * exit status after printing why. */
static int parse_args(int argc, char **argv, lab_args *a, lab_cfg *cfg,
                      uint64_t *buf) {
  char err[512];
  int seen_seed = 0, seen_dur = 0, seen_iv = 0, seen_mtu = 0;
  cfg->seed = 1;
  cfg->interval = DEFAULT_INTERVAL;
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    int k;
    if (strcmp(argv[i], "--json") == 0) {
      a->json = 1;
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--link", &v)) != 0) {
      if (k < 0)
        return 2;
      if (a->link)
        return bad("--link given twice");
      a->link = v;
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--rev-link", &v)) != 0) {
      if (k < 0)
        return 2;
      if (a->rev_link)
        return bad("--rev-link given twice");
      a->rev_link = v;
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--flow", &v)) != 0) {
      if (k < 0)
        return 2;
      if (a->n_flows == LAB_MAX_FLOWS)
        return bad("too many --flow (at most %d)", LAB_MAX_FLOWS);
      a->flows[a->n_flows++] = v;
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--seed", &v)) != 0) {
      if (k < 0)
        return 2;
      if (seen_seed++ ||
          lab_parse_u64(v, UINT64_MAX, &cfg->seed, err, sizeof(err)) != 0)
        return bad("--seed %s: %s", v,
                   seen_seed > 1 ? "given twice" : err);
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--duration", &v)) != 0) {
      if (k < 0)
        return 2;
      if (seen_dur++ || lab_parse_time(v, &cfg->end, err, sizeof(err)) != 0)
        return bad("--duration %s: %s", v,
                   seen_dur > 1 ? "given twice" : err);
      if (cfg->end == 0 || cfg->end > LAB_MAX_TIME)
        return bad("--duration %s: must be above 0 and at most 3600 s", v);
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--interval", &v)) != 0) {
      if (k < 0)
        return 2;
      if (seen_iv++ ||
          lab_parse_time(v, &cfg->interval, err, sizeof(err)) != 0)
        return bad("--interval %s: %s", v,
                   seen_iv > 1 ? "given twice" : err);
      if (cfg->interval < TCPU_NS_PER_MS)
        return bad("--interval %s: at least 1 ms", v);
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--mtu", &v)) != 0) {
      uint64_t m;
      if (k < 0)
        return 2;
      if (seen_mtu++ || lab_parse_u64(v, 65535, &m, err, sizeof(err)) != 0 ||
          m < 576 || m > 9000)
        return bad("--mtu %s: %s", v,
                   seen_mtu > 1 ? "given twice" : "576 to 9000 bytes");
      cfg->mtu = (uint32_t)m;
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--buf", &v)) != 0) {
      if (k < 0)
        return 2;
      if (*buf || lab_parse_size(v, buf, err, sizeof(err)) != 0)
        return bad("--buf %s: %s", v, *buf ? "given twice" : err);
      if (*buf < 16384 || *buf > (1u << 30))
        return bad("--buf %s: 16 KiB to 1 GiB", v);
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--load", &v)) != 0) {
      if (k < 0)
        return 2;
      if (a->n_loads == MAX_LOADS)
        return bad("too many --load (at most %d)", MAX_LOADS);
      a->loads[a->n_loads++] = v;
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--csv", &v)) != 0) {
      if (k < 0)
        return 2;
      a->csv = v;
    } else if ((k = tcpu_opt("lab", argc, argv, &i, "--plot", &v)) != 0) {
      if (k < 0)
        return 2;
      a->plot = v;
    } else {
      return bad("unknown argument \"%s\"", argv[i]);
    }
  }
  if (!a->link)
    return bad("--link is required (e.g. --link rate=100mbit,delay=20ms)");
  if (a->n_flows == 0)
    return bad("at least one --flow is needed (e.g. --flow "
               "cc=cubic,duration=30s)");
  for (size_t i = 0; i < a->n_flows; i++) {
    if (lab_parse_flow(&cfg->flows[i], a->flows[i], err, sizeof(err)) != 0)
      return bad("--flow %zu: %s", i + 1, err);
  }
  cfg->n_flows = a->n_flows;
  return 0;
}

int tcpu_cmd_lab(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      tcpu_usage_lab(stdout);
      return 0;
    }
  }
  lab_cfg *cfg = calloc(1, sizeof(*cfg));
  lab_result *res = calloc(1, sizeof(*res));
  lab_link_spec *ls = calloc(2, sizeof(*ls));
  tcpu_mm_trace traces[2];
  memset(traces, 0, sizeof(traces));
  void *handles[MAX_LOADS] = {0};
  lab_args a;
  memset(&a, 0, sizeof(a));
  uint64_t buf = 0;
  char err[1200];
  int rc = 2;
  if (!cfg || !res || !ls) {
    fprintf(stderr, "tcpu lab: out of memory\n");
    rc = 1;
    goto out;
  }
  rc = parse_args(argc, argv, &a, cfg, &buf);
  if (rc != 0)
    goto out;
  rc = 2;
  if (lab_parse_link(&ls[0], a.link, err, sizeof(err)) != 0) {
    bad("--link: %s", err);
    goto out;
  }
  if (a.rev_link) {
    if (lab_parse_link(&ls[1], a.rev_link, err, sizeof(err)) != 0) {
      bad("--rev-link: %s", err);
      goto out;
    }
  } else {
    lab_link_reverse_default(&ls[1], &ls[0]);
  }
  tcpu_duration rtt = ls[0].cfg.delay + ls[1].cfg.delay;
  for (int d = 0; d < 2; d++) {
    if (lab_link_resolve(&ls[d], &traces[d], LAB_T0, rtt, err,
                         sizeof(err)) != 0) {
      bad("%s: %s", d ? "--rev-link" : "--link", err);
      goto out;
    }
  }
  cfg->ab = ls[0].cfg;
  cfg->ba = ls[1].cfg;
  memcpy(cfg->drop_ab, ls[0].drop_at, sizeof(cfg->drop_ab));
  cfg->n_drop_ab = ls[0].n_drop_at;
  memcpy(cfg->drop_ba, ls[1].drop_at, sizeof(cfg->drop_ba));
  cfg->n_drop_ba = ls[1].n_drop_at;
  if (!buf) {
    /* Enough that the window, not the buffer, limits every flow. */
    double most = 0;
    for (int d = 0; d < 2; d++) {
      double rate = (double)lab_link_rate(&ls[d], &traces[d]);
      double q = (double)ls[d].cfg.queue_bytes +
                 (double)ls[d].cfg.queue_pkts * 1500;
      double need = rate > 0 ? 2 * (rate / 8 * (double)rtt / 1e9 + q)
                             : 64.0 * 1024 * 1024;
      if (need > most)
        most = need;
    }
    if (most < 1024 * 1024)
      most = 1024 * 1024;
    if (most > 256.0 * 1024 * 1024)
      most = 256.0 * 1024 * 1024;
    buf = (uint64_t)most;
  }
  cfg->sndbuf = cfg->rcvbuf = (uint32_t)buf;
  for (size_t i = 0; i < a.n_loads; i++) {
    rc = load_plugin(a.loads[i], cfg, &handles[i]);
    if (rc != 0)
      goto out;
  }

  double wall0 = wall_now();
  int r = lab_run(cfg, res);
  double wall = wall_now() - wall0;
  if (r != 0) {
    fprintf(stderr, "tcpu lab: %s\n", res->error);
    rc = r == TCPU_ERR_INVAL ? 2 : 1;
    goto out;
  }
  lab_report rp = {.cfg = cfg, .res = res};
  lab_link_describe(rp.link_ab, sizeof(rp.link_ab), &ls[0], &traces[0]);
  lab_link_describe(rp.link_ba, sizeof(rp.link_ba), &ls[1], &traces[1]);
  if (a.json)
    lab_print_json(stdout, &rp);
  else
    lab_print_text(stdout, &rp);
  fflush(stdout);
  fprintf(stderr, "tcpu lab: %.3f s of virtual time in %.2f s\n",
          res->end_s, wall);
  rc = 0;
  if (a.csv && lab_write_csv(a.csv, res) != 0)
    rc = 1;
  if (a.plot && lab_write_plots(a.plot, res) != 0)
    rc = 1;
out:
  if (res)
    lab_result_free(res);
  for (size_t i = 0; i < MAX_LOADS; i++)
    if (handles[i])
      dlclose(handles[i]);
  for (int d = 0; d < 2; d++)
    tcpu_mm_trace_free(&traces[d]);
  free(ls);
  free(res);
  free(cfg);
  return rc;
}
