/*
 * test_trace.c — Mahimahi delivery traces (libtcpu/lab/trace.c): parsing,
 * the looping schedule, and a trace-driven queue (aqm.c) delivering at
 * the trace's rate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lab/aqm.h"
#include "lab/trace.h"

#define MS TCPU_NS_PER_MS

static void parse_ok(tcpu_mm_trace *t, const char *text) {
  char err[128] = "";
  int rc = tcpu_mm_trace_parse(t, text, strlen(text), err, sizeof(err));
  if (rc != 0)
    fail_msg("parse failed: %s", err);
}

static void parse_bad(const char *text, const char *want) {
  tcpu_mm_trace t;
  char err[128] = "";
  assert_int_equal(tcpu_mm_trace_parse(&t, text, strlen(text), err,
                                       sizeof(err)),
                   TCPU_ERR_INVAL);
  if (!strstr(err, want))
    fail_msg("error \"%s\" lacks \"%s\"", err, want);
  assert_null(t.ms);
}

/* ------------------------------------------------------------- parse */

static void test_trace_parse_lines_comments_blank(void **state) {
  (void)state;
  tcpu_mm_trace t;
  parse_ok(&t, "# a comment\n1\n\n  2 \r\n2\n5");
  assert_int_equal(t.n, 4);
  assert_int_equal(t.period_ms, 5);
  assert_int_equal(t.ms[0], 1);
  assert_int_equal(t.ms[2], 2);
  tcpu_mm_trace_free(&t);
}

static void test_trace_parse_errors_name_the_line(void **state) {
  (void)state;
  parse_bad("1\n2\nx3\n", "line 3");
  parse_bad("1\n-2\n", "line 2");
  parse_bad("5\n4\n", "below");
  parse_bad("", "no delivery");
  parse_bad("# only\n\n", "no delivery");
  parse_bad("0\n0\n", "last timestamp is 0");
  parse_bad("99999999999999999999\n", "over");
  parse_bad("1.5\n", "line 1");
}

static void test_trace_load_missing_file_names_it(void **state) {
  (void)state;
  tcpu_mm_trace t;
  char err[256] = "";
  assert_int_equal(tcpu_mm_trace_load(&t, "/nonexistent/x.trace", err,
                                      sizeof(err)),
                   TCPU_ERR_INVAL);
  assert_non_null(strstr(err, "/nonexistent/x.trace"));
}

static void test_trace_load_file(void **state) {
  (void)state;
  char path[] = "/tmp/tcpu-test-trace-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  for (int i = 1; i <= 1000; i++)
    fprintf(f, "%d\n", i);
  fclose(f);
  tcpu_mm_trace t;
  char err[256] = "";
  assert_int_equal(tcpu_mm_trace_load(&t, path, err, sizeof(err)), 0);
  remove(path);
  assert_int_equal(t.n, 1000);
  /* One 1500-byte opportunity per millisecond: 12 Mbit/s. */
  assert_int_equal(tcpu_mm_trace_rate_bps(&t), 12000000);
  tcpu_mm_trace_free(&t);
}

/* ---------------------------------------------------------- schedule */

static void test_trace_opp_ms_loops(void **state) {
  (void)state;
  tcpu_mm_trace t;
  parse_ok(&t, "0\n3\n3\n10\n");
  assert_int_equal(tcpu_mm_trace_opp_ms(&t, 0), 0);
  assert_int_equal(tcpu_mm_trace_opp_ms(&t, 2), 3);
  assert_int_equal(tcpu_mm_trace_opp_ms(&t, 3), 10);
  assert_int_equal(tcpu_mm_trace_opp_ms(&t, 4), 10); /* loop 1, line 0 */
  assert_int_equal(tcpu_mm_trace_opp_ms(&t, 5), 13);
  assert_int_equal(tcpu_mm_trace_opp_ms(&t, 11), 30);
  tcpu_mm_trace_free(&t);
}

static void test_trace_next_opp_is_first_at_or_after(void **state) {
  (void)state;
  tcpu_mm_trace t;
  parse_ok(&t, "0\n3\n3\n10\n");
  /* Brute force against the definition over several loops. */
  for (uint64_t ms = 0; ms < 60; ms++) {
    uint64_t k = tcpu_mm_trace_next_opp(&t, ms);
    assert_true(tcpu_mm_trace_opp_ms(&t, k) >= ms);
    if (k > 0)
      assert_true(tcpu_mm_trace_opp_ms(&t, k - 1) < ms);
  }
  tcpu_mm_trace_free(&t);
}

/* ------------------------------------------------------ with a queue */

typedef struct sink {
  size_t n;
  tcpu_tstamp t[4096];
  int dropped[4096];
} sink;

static void on_out(void *arg, void *pkt, int dropped, tcpu_tstamp t) {
  sink *s = arg;
  (void)pkt;
  assert_true(s->n < 4096);
  s->t[s->n] = t;
  s->dropped[s->n] = dropped;
  s->n++;
}

static void test_trace_queue_one_packet_per_opportunity(void **state) {
  (void)state;
  tcpu_mm_trace t;
  parse_ok(&t, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
  tcpu_aqm q;
  tcpu_aqm_cfg cfg = {.kind = TCPU_AQM_DROPTAIL};
  tcpu_tstamp t0 = 1000 * MS;
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 0, &t, t0, 0, 0, NULL), 0);
  sink s = {0};
  /* 25 full packets at once: one leaves at each opportunity, looping. */
  for (int i = 0; i < 25; i++)
    assert_int_equal(tcpu_aqm_enqueue(&q, NULL, 1500, t0), TCPU_AQM_QUEUED);
  assert_true(tcpu_aqm_next_start(&q) == t0 + 1 * MS);
  tcpu_aqm_advance(&q, t0 + 100 * MS, on_out, &s);
  assert_int_equal(s.n, 25);
  for (int i = 0; i < 25; i++) {
    assert_int_equal(s.dropped[i], 0);
    assert_true(s.t[i] == t0 + (uint64_t)(i + 1) * MS);
  }
  tcpu_aqm_free(&q, NULL);
  tcpu_mm_trace_free(&t);
}

static void test_trace_queue_small_packets_share_big_span(void **state) {
  (void)state;
  tcpu_mm_trace t;
  parse_ok(&t, "4\n8\n");
  tcpu_aqm q;
  tcpu_aqm_cfg cfg = {.kind = TCPU_AQM_DROPTAIL};
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 0, &t, 0, 0, 0, NULL), 0);
  sink s = {0};
  /* 500 + 500 + 500 share the opportunity at 4 ms; 2000 bytes span the
   * ones at 8 ms and 12 ms (the loop's 4 ms), and 1000 more fit in what
   * the 12 ms one has left. */
  uint32_t sizes[] = {500, 500, 500, 2000, 1000};
  for (size_t i = 0; i < 5; i++)
    tcpu_aqm_enqueue(&q, NULL, sizes[i], 0);
  tcpu_aqm_advance(&q, 100 * MS, on_out, &s);
  assert_int_equal(s.n, 5);
  assert_true(s.t[0] == 4 * MS && s.t[1] == 4 * MS && s.t[2] == 4 * MS);
  assert_true(s.t[3] == 12 * MS);
  assert_true(s.t[4] == 12 * MS);
  tcpu_aqm_free(&q, NULL);
  tcpu_mm_trace_free(&t);
}

static void test_trace_queue_unused_opportunities_are_lost(void **state) {
  (void)state;
  tcpu_mm_trace t;
  parse_ok(&t, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
  tcpu_aqm q;
  tcpu_aqm_cfg cfg = {.kind = TCPU_AQM_DROPTAIL};
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 0, &t, 0, 0, 0, NULL), 0);
  sink s = {0};
  /* Idle until 5.5 ms: the next packet takes the 6 ms opportunity, not
   * the ones that passed. */
  tcpu_tstamp at = 5 * MS + MS / 2;
  tcpu_aqm_advance(&q, at, on_out, &s);
  tcpu_aqm_enqueue(&q, NULL, 100, at);
  tcpu_aqm_advance(&q, at + 100 * MS, on_out, &s);
  assert_int_equal(s.n, 1);
  assert_true(s.t[0] == 6 * MS);
  tcpu_aqm_free(&q, NULL);
  tcpu_mm_trace_free(&t);
}

static void test_trace_queue_rate_follows_step_trace(void **state) {
  (void)state;
  /* 2 opportunities per ms for 100 ms, then 1 per ms for 100 ms. */
  char *text = malloc(8192);
  size_t len = 0;
  for (int ms = 1; ms <= 200; ms++) {
    int k = ms <= 100 ? 2 : 1;
    for (int j = 0; j < k; j++)
      len += (size_t)snprintf(text + len, 8192 - len, "%d\n", ms);
  }
  tcpu_mm_trace t;
  char err[64];
  assert_int_equal(tcpu_mm_trace_parse(&t, text, len, err, sizeof(err)), 0);
  free(text);
  assert_int_equal(tcpu_mm_trace_rate_bps(&t), 300 * 1500 * 8 * 5);
  tcpu_aqm q;
  tcpu_aqm_cfg cfg = {.kind = TCPU_AQM_DROPTAIL};
  assert_int_equal(tcpu_aqm_init(&q, &cfg, 0, &t, 0, 0, 0, NULL), 0);
  sink s = {0};
  for (int i = 0; i < 1000; i++)
    tcpu_aqm_enqueue(&q, NULL, 1500, 0);
  tcpu_aqm_advance(&q, 200 * MS, on_out, &s);
  /* 200 in the first 100 ms, 100 in the next. */
  size_t first = 0;
  for (size_t i = 0; i < s.n; i++)
    first += s.t[i] <= 100 * MS;
  assert_int_equal(first, 200);
  assert_int_equal(s.n, 300);
  tcpu_aqm_free(&q, NULL);
  tcpu_mm_trace_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trace_parse_lines_comments_blank),
      cmocka_unit_test(test_trace_parse_errors_name_the_line),
      cmocka_unit_test(test_trace_load_missing_file_names_it),
      cmocka_unit_test(test_trace_load_file),
      cmocka_unit_test(test_trace_opp_ms_loops),
      cmocka_unit_test(test_trace_next_opp_is_first_at_or_after),
      cmocka_unit_test(test_trace_queue_one_packet_per_opportunity),
      cmocka_unit_test(test_trace_queue_small_packets_share_big_span),
      cmocka_unit_test(test_trace_queue_unused_opportunities_are_lost),
      cmocka_unit_test(test_trace_queue_rate_follows_step_trace),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
