/*
 * lab_out.h — what `tcpu lab` writes: the per-flow table as text or JSON,
 * time series as CSV, and gnuplot scripts (run when gnuplot is there).
 */
#ifndef TCPU_CLI_LAB_OUT_H
#define TCPU_CLI_LAB_OUT_H

#include <stdio.h>

#include "labrun.h"

/* What the report says about the set-up. */
typedef struct lab_report {
  const lab_cfg *cfg;
  const lab_result *res;
  char link_ab[512], link_ba[512]; /* lab_link_describe */
} lab_report;

void lab_print_text(FILE *f, const lab_report *rp);
void lab_print_json(FILE *f, const lab_report *rp);

/* Writes dir/flow<N>.csv for each flow (N from 1).  Returns 0, or -1
 * after printing why to stderr. */
int lab_write_csv(const char *dir, const lab_result *res);

/* Writes the CSVs and dir/{throughput,cwnd,delay,pacing}.gp, then runs
 * gnuplot on them (in dir) when it is on PATH, making .png and .svg.
 * Returns 0 (also when gnuplot is missing: it says so), or -1. */
int lab_write_plots(const char *dir, const lab_result *res);

#endif /* TCPU_CLI_LAB_OUT_H */
