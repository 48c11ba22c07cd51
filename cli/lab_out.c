/*
 * lab_out.c — text, JSON, CSV and gnuplot output of `tcpu lab`; see
 * lab_out.h.  The text and JSON depend only on the run's result, so the
 * same configuration and seed print the same bytes.
 */
#include "lab_out.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- text */

static const char *flow_state(const lab_flow_result *f) {
  if (!f->started)
    return "not started";
  if (f->error)
    return tcpu_err_name(f->error);
  if (f->cfg.size)
    return f->completed ? "completed" : "incomplete";
  return "ok";
}

void lab_print_text(FILE *f, const lab_report *rp) {
  const lab_cfg *cfg = rp->cfg;
  const lab_result *res = rp->res;
  fprintf(f, "seed %" PRIu64 ", %.3f s of virtual time\n", cfg->seed,
          res->end_s);
  fprintf(f, "A->B: %s\nB->A: %s\n\n", rp->link_ab, rp->link_ba);
  fprintf(f, "%4s  %-15s %3s  %8s  %8s  %12s  %9s  %8s  %8s  %7s  %s\n",
          "flow", "cc", "dir", "start s", "end s", "bytes", "Mbit/s",
          "owd p50", "owd p95", "rtx %", "state");
  for (size_t i = 0; i < res->n_flows; i++) {
    const lab_flow_result *fl = &res->flows[i];
    fprintf(f, "%4zu  %-15s %3s  %8.3f  %8.3f  %12" PRIu64
               "  %9.3f  %8.3f  %8.3f  %7.3f  %s\n",
            i + 1, fl->cc[0] ? fl->cc : fl->cfg.cc, fl->cfg.rev ? "rev" : "fwd",
            fl->t_begin, fl->t_end, fl->bytes, fl->mbps, fl->owd_p50_ms,
            fl->owd_p95_ms, fl->retrans_rate * 100, flow_state(fl));
  }
  fprintf(f, "\n(owd: one-way delay of data segments in ms, sender to "
             "receiver, queueing included)\n");
  fprintf(f, "Jain fairness index: %.4f over mean throughputs", res->jain);
  if (res->jain_overlap >= 0)
    fprintf(f, "; %.4f over %.3f-%.3f s, when all flows ran",
            res->jain_overlap, res->overlap_from, res->overlap_to);
  fprintf(f, "\n");
  const tcpu_link_stats *ls[2] = {&res->ab, &res->ba};
  for (int d = 0; d < 2; d++)
    fprintf(f, "%s: %" PRIu64 " datagrams, %" PRIu64 " lost, %" PRIu64
               " tail drops, %" PRIu64 " AQM drops, %" PRIu64
               " duplicated, %" PRIu64 " reordered, %" PRIu64
               " corrupted\n",
            d ? "B->A" : "A->B", ls[d]->submitted, ls[d]->lost,
            ls[d]->dropped_queue, ls[d]->dropped_aqm, ls[d]->duplicated,
            ls[d]->reordered, ls[d]->corrupted);
}

/* ---------------------------------------------------------------- JSON */

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void json_link_cfg(FILE *f, const char *desc, const tcpu_link_cfg *c) {
  fprintf(f, "{\"describe\": ");
  json_str(f, desc);
  fprintf(f,
          ", \"rate_bps\": %" PRIu64 ", \"delay_ms\": %.6f, "
          "\"jitter_ms\": %.6f, \"loss\": %.6g, \"queue_bytes\": %" PRIu64
          ", \"queue_pkts\": %" PRIu32 ", \"aqm\": \"%s\", "
          "\"overhead\": %" PRIu32 "}",
          c->rate_bps, (double)c->delay / 1e6, (double)c->jitter / 1e6,
          c->loss, c->queue_bytes, c->queue_pkts,
          c->aqm.kind == TCPU_AQM_CODEL ? "codel"
          : c->aqm.kind == TCPU_AQM_RED ? "red"
                                        : "droptail",
          c->overhead);
}

static void json_link_stats(FILE *f, const tcpu_link_stats *s) {
  fprintf(f,
          "{\"submitted\": %" PRIu64 ", \"delivered\": %" PRIu64
          ", \"lost\": %" PRIu64 ", \"tail_drops\": %" PRIu64
          ", \"aqm_drops\": %" PRIu64 ", \"duplicated\": %" PRIu64
          ", \"reordered\": %" PRIu64 ", \"corrupted\": %" PRIu64
          ", \"bytes_delivered\": %" PRIu64 "}",
          s->submitted, s->delivered, s->lost, s->dropped_queue,
          s->dropped_aqm, s->duplicated, s->reordered, s->corrupted,
          s->bytes_delivered);
}

void lab_print_json(FILE *f, const lab_report *rp) {
  const lab_cfg *cfg = rp->cfg;
  const lab_result *res = rp->res;
  fprintf(f, "{\n  \"seed\": %" PRIu64 ",\n  \"end_s\": %.6f,\n", cfg->seed,
          res->end_s);
  fprintf(f, "  \"link\": {\"ab\": ");
  json_link_cfg(f, rp->link_ab, &cfg->ab);
  fprintf(f, ",\n           \"ba\": ");
  json_link_cfg(f, rp->link_ba, &cfg->ba);
  fprintf(f, "},\n  \"flows\": [\n");
  for (size_t i = 0; i < res->n_flows; i++) {
    const lab_flow_result *fl = &res->flows[i];
    const tcpu_conn_info *ci = &fl->info;
    fprintf(f, "    {\"flow\": %zu, \"cc\": ", i + 1);
    json_str(f, fl->cc[0] ? fl->cc : fl->cfg.cc);
    fprintf(f,
            ", \"dir\": \"%s\", \"start_s\": %.6f, \"end_s\": %.6f, "
            "\"size\": %" PRIu64 ", \"state\": \"%s\",\n",
            fl->cfg.rev ? "rev" : "fwd", fl->t_begin, fl->t_end, fl->cfg.size,
            flow_state(fl));
    fprintf(f,
            "     \"bytes\": %" PRIu64 ", \"mbps\": %.6f, "
            "\"retrans_rate\": %.6f,\n",
            fl->bytes, fl->mbps, fl->retrans_rate);
    fprintf(f,
            "     \"owd_ms\": {\"n\": %" PRIu64 ", \"mean\": %.3f, "
            "\"p50\": %.3f, \"p95\": %.3f, \"min\": %.3f, \"max\": %.3f},\n",
            fl->owd_n, fl->owd_mean_ms, fl->owd_p50_ms, fl->owd_p95_ms,
            fl->owd_min_ms, fl->owd_max_ms);
    fprintf(f,
            "     \"sender\": {\"segs_out\": %" PRIu64
            ", \"retransmits\": %" PRIu64 ", \"bytes_sent\": %" PRIu64
            ", \"bytes_retrans\": %" PRIu64 ", \"timeouts\": %" PRIu64
            ", \"fast_recoveries\": %" PRIu64 ", \"spurious_undos\": %" PRIu64
            ", \"srtt_ms\": %.3f, \"min_rtt_ms\": %.3f, \"cwnd\": %" PRIu32
            ", \"ssthresh\": %" PRIu32 ", \"mss\": %" PRIu32 "}}%s\n",
            ci->segs_out, ci->retransmits, ci->bytes_sent, ci->bytes_retrans,
            ci->timeouts, ci->fast_recoveries, ci->spurious_undos,
            (double)ci->srtt / 1e6, (double)ci->min_rtt / 1e6, ci->cwnd,
            ci->ssthresh, ci->snd_mss, i + 1 < res->n_flows ? "," : "");
  }
  fprintf(f, "  ],\n  \"jain\": %.6f,\n", res->jain);
  if (res->jain_overlap >= 0)
    fprintf(f, "  \"jain_overlap\": %.6f,\n  \"overlap_s\": [%.6f, %.6f],\n",
            res->jain_overlap, res->overlap_from, res->overlap_to);
  else
    fprintf(f, "  \"jain_overlap\": null,\n  \"overlap_s\": null,\n");
  fprintf(f, "  \"link_stats\": {\"ab\": ");
  json_link_stats(f, &res->ab);
  fprintf(f, ",\n                 \"ba\": ");
  json_link_stats(f, &res->ba);
  fprintf(f, "},\n  \"steps\": %" PRIu64 "\n}\n", res->steps);
}

/* ----------------------------------------------------------------- CSV */

static int make_dir(const char *dir) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
      return 0;
  }
  fprintf(stderr, "tcpu lab: cannot use directory %s: %s\n", dir,
          strerror(errno ? errno : ENOTDIR));
  return -1;
}

static FILE *open_in(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f)
    fprintf(stderr, "tcpu lab: cannot write %s: %s\n", path, strerror(errno));
  return f;
}

static void put_num(FILE *f, double v, const char *fmt) {
  if (v < 0 || !isfinite(v))
    fputs("nan", f);
  else
    fprintf(f, fmt, v);
}

int lab_write_csv(const char *dir, const lab_result *res) {
  if (make_dir(dir) != 0)
    return -1;
  for (size_t i = 0; i < res->n_flows; i++) {
    char name[64];
    snprintf(name, sizeof(name), "flow%zu.csv", i + 1);
    FILE *f = open_in(dir, name);
    if (!f)
      return -1;
    fprintf(f, "t_s,mbps,bytes,cwnd,ssthresh,inflight,pacing_mbps,"
               "delivery_mbps,srtt_ms,owd_ms,ca_state\n");
    const lab_flow_result *fl = &res->flows[i];
    for (size_t k = 0; k < fl->n_samples; k++) {
      const lab_sample *s = &fl->samples[k];
      fprintf(f, "%.6f,%.6f,%" PRIu64 ",%" PRIu32 ",", s->t, s->mbps,
              s->bytes, s->cwnd);
      if (s->ssthresh == UINT32_MAX)
        fputs("nan", f);
      else
        fprintf(f, "%" PRIu32, s->ssthresh);
      fprintf(f, ",%" PRIu32 ",%.6f,%.6f,", s->inflight,
              (double)s->pacing_rate * 8 / 1e6,
              (double)s->delivery_rate * 8 / 1e6);
      put_num(f, s->srtt_ms, "%.3f");
      fputc(',', f);
      put_num(f, s->owd_ms, "%.3f");
      fprintf(f, ",%u\n", s->ca_state);
    }
    if (fclose(f) != 0) {
      fprintf(stderr, "tcpu lab: write error in %s\n", dir);
      return -1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------- gnuplot */

typedef struct figure {
  const char *name, *ylabel, *column;
} figure;

static const figure figures[] = {
    {"throughput", "goodput (Mbit/s)", "2"},
    {"cwnd", "congestion window (kB)", "($4/1000)"},
    {"delay", "one-way delay of data (ms)", "10"},
    {"srtt", "smoothed RTT (ms)", "9"},
    {"pacing", "pacing rate (Mbit/s)", "7"},
    {"inflight", "bytes in flight (kB)", "($6/1000)"},
};
#define N_FIGURES (sizeof(figures) / sizeof(figures[0]))

static int write_script(const char *dir, const figure *fg,
                        const lab_result *res) {
  char name[64];
  snprintf(name, sizeof(name), "%s.gp", fg->name);
  FILE *f = open_in(dir, name);
  if (!f)
    return -1;
  fprintf(f,
          "# %s over time, one line per flow (tcpu lab --plot).\n"
          "# Run in this directory: gnuplot %s.gp\n"
          "set datafile separator ','\n"
          "set datafile missing 'nan'\n"
          "set key outside right top\n"
          "set grid\n"
          "set xlabel 'time (s)'\n"
          "set ylabel '%s'\n"
          "set yrange [0:*]\n",
          fg->name, fg->name, fg->ylabel);
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 0)
      fprintf(f, "set terminal pngcairo size 1000,450 font ',10'\n"
                 "set output '%s.png'\n",
              fg->name);
    else
      fprintf(f, "set terminal svg size 1000,450 dynamic\n"
                 "set output '%s.svg'\n",
              fg->name);
    fprintf(f, "plot ");
    for (size_t i = 0; i < res->n_flows; i++) {
      const lab_flow_result *fl = &res->flows[i];
      fprintf(f, "%s'flow%zu.csv' using 1:%s with lines lw 1.5 title '%zu %s%s'",
              i ? ", \\\n     " : "", i + 1, fg->column, i + 1,
              fl->cc[0] ? fl->cc : fl->cfg.cc, fl->cfg.rev ? " (rev)" : "");
    }
    fprintf(f, "\nset output\n");
  }
  if (fclose(f) != 0)
    return -1;
  return 0;
}

/* Runs `gnuplot NAME.gp` in dir; returns its exit status, 127 when it
 * could not be started. */
static int run_gnuplot(const char *dir, const char *script) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return 127;
  if (pid == 0) {
    if (chdir(dir) != 0)
      _exit(126);
    execlp("gnuplot", "gnuplot", script, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR)
      return 127;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int lab_write_plots(const char *dir, const lab_result *res) {
  if (lab_write_csv(dir, res) != 0)
    return -1;
  for (size_t k = 0; k < N_FIGURES; k++) {
    if (write_script(dir, &figures[k], res) != 0) {
      fprintf(stderr, "tcpu lab: cannot write the %s script in %s\n",
              figures[k].name, dir);
      return -1;
    }
  }
  for (size_t k = 0; k < N_FIGURES; k++) {
    char script[64];
    snprintf(script, sizeof(script), "%s.gp", figures[k].name);
    int st = run_gnuplot(dir, script);
    if (st == 127) {
      fprintf(stderr, "tcpu lab: gnuplot not found; the scripts are in %s "
                      "(run: cd %s && for f in *.gp; do gnuplot $f; done)\n",
              dir, dir);
      return 0;
    }
    if (st != 0) {
      fprintf(stderr, "tcpu lab: gnuplot %s failed (status %d) in %s\n",
              script, st, dir);
      return -1;
    }
  }
  return 0;
}
