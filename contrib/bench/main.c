/*
 * main.c — tcpu-bench: libtcpu against raw UDP, kernel TCP and kcptun on
 * loopback, side by side in one run, as one JSON object on stdout; and
 * sealed mode against plain mode and libsodium's AEAD (sealed.c).
 *
 *   tcpu-bench [--quick] [--only LIST] [--seconds S] [--limit S]
 *
 *   --only LIST   comma-separated subset of the sections bulk, ablation,
 *                 rr, conn, mem, concurrent, timer, kcptun, sealed
 *                 (default: all),
 *                 or single runs of a section: bulk.libtcpu, bulk.raw_udp,
 *                 bulk.kernel_tcp, bulk.kcptun, rr.libtcpu, rr.raw_udp_uv,
 *                 rr.raw_udp_blocking, rr.kernel_tcp, rr.kcptun
 *   --seconds S   seconds of sending per bulk run (default 3)
 *   --reps N      bulk (and sealed) runs of each kind, interleaved
 *                 (default 3); the medians are reported and used for the
 *                 ratios
 *   --limit S     time limit of any one run (default 30)
 *   --quick       small counts and short runs: a smoke test of the program,
 *                 not a measurement
 *
 * What each section measures, and how, is in README.md.  The ratios at the
 * end compare libtcpu with the baselines and with the targets of the
 * performance issue; nothing here passes or fails on a figure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"
#include "uv/hrtimer.h"
#include "uv/io.h"

bench_opts opts = {
    .bulk_s = 3.0,
    .bulk_reps = 3,
    .rr_count = 20000,
    .rr_warmup = 1000,
    .conn_count = 5000,
    .conn_window = 32,
    .mem_count = 10000,
    .conc_count = 10000,
    .limit_s = 30.0,
    .quick = 0,
};

static const char *only;

/* Is `name` one of the comma-separated words of --only? */
static int listed(const char *name) {
  size_t n = strlen(name);
  for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
    if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
      return 1;
  return 0;
}

/* A section runs when --only is absent or names it, or one of its runs
 * ("bulk.libtcpu"). */
static int want(const char *section) {
  if (only == NULL || listed(section))
    return 1;
  char prefix[64];
  snprintf(prefix, sizeof(prefix), "%s.", section);
  for (const char *p = only; (p = strstr(p, prefix)) != NULL; p++)
    if (p == only || p[-1] == ',')
      return 1;
  return 0;
}

/* A run of a section: the whole section is listed, or the run itself. */
static int want_run(const char *section, const char *run) {
  char name[64];
  if (only == NULL || listed(section))
    return 1;
  snprintf(name, sizeof(name), "%s.%s", section, run);
  return listed(name);
}

static uint64_t read_proc_u64(const char *path) {
  FILE *f = fopen(path, "r");
  unsigned long long v = 0;
  if (f == NULL)
    return 0;
  if (fscanf(f, "%llu", &v) != 1)
    v = 0;
  fclose(f);
  return v;
}

static void host_info(int argc, char **argv) {
  struct utsname u;
  char cmd[512] = "";
  size_t off = 0;

  for (int i = 0; i < argc && off < sizeof(cmd) - 1; i++)
    off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, "%s%s", i ? " " : "",
                            argv[i]);
  js_str("command", cmd);
  js_open("host");
  if (uname(&u) == 0) {
    js_str("kernel", u.release);
    js_str("machine", u.machine);
  }
  js_int("cpus", (uint64_t)sysconf(_SC_NPROCESSORS_ONLN));
  js_int("rmem_max", read_proc_u64("/proc/sys/net/core/rmem_max"));
  js_int("wmem_max", read_proc_u64("/proc/sys/net/core/wmem_max"));
  js_str("libuv", uv_version_string());
  {
    char la[64] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
      if (fgets(la, sizeof(la), f) != NULL)
        la[strcspn(la, "\n")] = '\0';
      fclose(f);
    }
    js_str("loadavg_at_start", la);
  }
  js_str("threads", "sender/client pinned to CPU 0, receiver/server to CPU 1");
  js_close();
}

static int usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--quick] [--only bulk,ablation,rr,conn,mem,concurrent,"
          "timer,kcptun,sealed] [--seconds S] [--reps N] [--limit S]\n",
          argv0);
  return 2;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      opts.quick = 1;
      opts.bulk_s = 0.3;
      opts.bulk_reps = 1;
      opts.rr_count = 500;
      opts.rr_warmup = 50;
      opts.conn_count = 200;
      opts.mem_count = 300;
      opts.conc_count = 300;
      opts.limit_s = 20;
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      opts.bulk_s = atof(argv[++i]);
      if (opts.bulk_s <= 0 || opts.bulk_s > 60)
        return usage(argv[0]);
    } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      opts.bulk_reps = (unsigned)atoi(argv[++i]);
      if (opts.bulk_reps < 1 || opts.bulk_reps > BENCH_MAX_REPS)
        return usage(argv[0]);
    } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
      opts.limit_s = atof(argv[++i]);
      if (opts.limit_s <= 0 || opts.limit_s > 600)
        return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }
  if (opts.limit_s < opts.bulk_s + 10)
    opts.limit_s = opts.bulk_s + 10;

  bulk_result lt = {0}, raw = {0}, ktcp = {0}, kcp = {0};
  rr_result rlt = {0}, rraw = {0}, rrawb = {0}, rktcp = {0}, rkcp = {0};
  double rate_lt = 0, rate_k = 0, rate_lt1 = 0, rate_k1 = 0;
  sealed_result sealed = {{0, 0}, {0, 0}, {0, 0}};

  js_open(NULL);
  js_str("bench", "tcpu-bench");
  host_info(argc, argv);

  if (want("bulk") || want("kcptun")) {
    bulk_result rl[BENCH_MAX_REPS], rr_[BENCH_MAX_REPS], rk[BENCH_MAX_REPS];
    unsigned n = opts.bulk_reps;
    char key[32];
    js_open("bulk");
    js_num("seconds_per_run", opts.bulk_s);
    js_int("reps", n);
    js_str("note", "one connection, loopback, plain mode; goodput = "
                   "application bytes (libtcpu, TCP) or UDP payload bytes "
                   "(raw UDP, 1472-byte datagrams) delivered per second; "
                   "the three kinds run interleaved, reps times, and "
                   "\"median\" holds the median of each figure");
    memset(rl, 0, sizeof(rl));
    memset(rr_, 0, sizeof(rr_));
    memset(rk, 0, sizeof(rk));
    for (unsigned i = 0; i < n; i++) {
      snprintf(key, sizeof(key), "run%u", i + 1);
      js_open(key);
      if (want_run("bulk", "libtcpu"))
        rl[i] = bench_bulk_libtcpu("libtcpu", 0, 0, 0);
      if (want_run("bulk", "raw_udp"))
        rr_[i] = bench_bulk_raw_udp("raw_udp", 0);
      if (want_run("bulk", "kernel_tcp"))
        rk[i] = bench_bulk_kernel_tcp("kernel_tcp_mss1400");
      js_close();
    }
    js_open("median");
    if (want_run("bulk", "libtcpu"))
      lt = median_of("libtcpu", rl, n);
    if (want_run("bulk", "raw_udp"))
      raw = median_of("raw_udp", rr_, n);
    if (want_run("bulk", "kernel_tcp"))
      ktcp = median_of("kernel_tcp_mss1400", rk, n);
    js_close();
    if (want_run("bulk", "kcptun") || want("kcptun"))
      kcp = bench_bulk_kcptun("kcptun");
    js_close();
  }
  if (want("ablation")) {
    js_open("bulk_ablation");
    js_str("note", "libtcpu and raw UDP with I/O features switched off");
    bench_bulk_libtcpu("libtcpu_no_gso_gro", TCPU_IO_NO_GSO | TCPU_IO_NO_GRO, 0,
                       0);
    bench_bulk_libtcpu("libtcpu_no_timer_slack", 0, 0, 1);
    bench_bulk_libtcpu("libtcpu_timer_slack_200us", 0, 0, 200000);
    bench_bulk_libtcpu("libtcpu_ms_timer", 0, TCPU_HRTIMER_MS, 0);
    bench_bulk_libtcpu("libtcpu_one_syscall_per_dgram_ms_timer",
                       TCPU_IO_NO_GSO | TCPU_IO_NO_GRO | TCPU_IO_NO_MMSG,
                       TCPU_HRTIMER_MS, 0);
    bench_bulk_raw_udp("raw_udp_no_gso_gro", TCPU_IO_NO_GSO | TCPU_IO_NO_GRO);
    bench_bulk_raw_udp("raw_udp_one_syscall_per_dgram",
                       TCPU_IO_NO_GSO | TCPU_IO_NO_GRO | TCPU_IO_NO_MMSG);
    js_close();
  }
  if (want("rr") || want("kcptun")) {
    js_open("request_response_64B");
    if (want_run("rr", "libtcpu"))
      rlt = bench_rr_libtcpu("libtcpu");
    if (want_run("rr", "raw_udp_uv"))
      rraw = bench_rr_raw_udp_uv("raw_udp_uv");
    if (want_run("rr", "raw_udp_blocking"))
      rrawb = bench_rr_raw_udp_blocking("raw_udp_blocking");
    if (want_run("rr", "kernel_tcp"))
      rktcp = bench_rr_kernel_tcp("kernel_tcp");
    if (want_run("rr", "kcptun") || want("kcptun"))
      rkcp = bench_rr_kcptun("kcptun");
    js_close();
  }
  if (want("conn")) {
    js_open("connection_setup");
    rate_lt = bench_conn_rate_libtcpu("libtcpu", opts.conn_window, 0);
    rate_lt1 = bench_conn_rate_libtcpu("libtcpu_one_at_a_time", 1, 0);
    bench_conn_rate_libtcpu("libtcpu_beside_idle_connections", opts.conn_window,
                            opts.mem_count);
    rate_k = bench_conn_rate_kernel_tcp("kernel_tcp", opts.conn_window);
    rate_k1 = bench_conn_rate_kernel_tcp("kernel_tcp_one_at_a_time", 1);
    js_close();
  }
  if (want("mem"))
    bench_memory_libtcpu("memory_idle_connections");
  if (want("concurrent"))
    bench_concurrent_libtcpu("concurrent_connections");
  if (want("timer"))
    bench_timer("timer_accuracy");
  if (want("sealed"))
    sealed = bench_sealed("sealed");

  js_open("ratios");
  if (want("bulk")) {
    js_num("bulk_libtcpu_gbps", lt.gbps);
    js_num("bulk_target_gbps", 10);
    js_num("bulk_libtcpu_vs_raw_udp", ratio(lt.gbps, raw.gbps));
    js_num("bulk_target_vs_raw_udp", 0.6);
    js_num("bulk_libtcpu_vs_kernel_tcp", ratio(lt.gbps, ktcp.gbps));
    js_num("cpu_per_byte_libtcpu_vs_raw_udp",
           ratio(lt.cpu_ns_per_b, raw.cpu_ns_per_b));
    js_num("cpu_per_byte_libtcpu_vs_kernel_tcp",
           ratio(lt.cpu_ns_per_b, ktcp.cpu_ns_per_b));
    js_num("bulk_if_cpu_bound_libtcpu_gbps", lt.gbps_cpu);
    js_num("bulk_if_cpu_bound_libtcpu_vs_raw_udp",
           ratio(lt.gbps_cpu, raw.gbps_cpu));
    if (kcp.ok)
      js_num("bulk_libtcpu_vs_kcptun", ratio(lt.gbps, kcp.gbps));
  }
  if (want("rr")) {
    js_num("rr_p50_libtcpu_vs_raw_udp_uv", ratio(rlt.p50_us, rraw.p50_us));
    js_num("rr_p50_target_vs_raw_udp", 1.5);
    js_num("rr_p50_libtcpu_vs_raw_udp_blocking",
           ratio(rlt.p50_us, rrawb.p50_us));
    js_num("rr_p50_libtcpu_vs_kernel_tcp", ratio(rlt.p50_us, rktcp.p50_us));
    js_num("rr_p99_libtcpu_vs_raw_udp_uv", ratio(rlt.p99_us, rraw.p99_us));
    if (rkcp.ok)
      js_num("rr_p50_libtcpu_vs_kcptun", ratio(rlt.p50_us, rkcp.p50_us));
  }
  if (want("conn")) {
    js_num("conn_rate_libtcpu_vs_kernel_tcp", ratio(rate_lt, rate_k));
    js_num("conn_rate_one_at_a_time_libtcpu_vs_kernel_tcp",
           ratio(rate_lt1, rate_k1));
  }
  if (want("sealed")) {
    js_num("sealed_target_vs_aead", SEALED_TARGET_VS_AEAD);
    for (int c = 0; c < 2; c++) {
      if (!sealed.ran[c])
        continue;
      char k[64];
      snprintf(k, sizeof(k), "sealed_%s_vs_plain",
               bench_cipher_name((tcpu_cipher)c));
      js_num(k, sealed.vs_plain[c]);
      snprintf(k, sizeof(k), "sealed_%s_vs_aead",
               bench_cipher_name((tcpu_cipher)c));
      js_num(k, sealed.vs_aead[c]);
    }
  }
  js_close();
  js_close();
  return 0;
}
