/*
 * trace.c — Mahimahi delivery traces: parsing and the looping schedule;
 * see trace.h for the format.
 */
#include "lab/trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return TCPU_ERR_INVAL;
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int tcpu_mm_trace_parse(tcpu_mm_trace *t, const char *text, size_t len,
                        char *err, size_t errlen) {
  memset(t, 0, sizeof(*t));
  size_t cap = 0, line = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      eol = end;
    line++;
    const char *a = p, *b = eol;
    p = eol < end ? eol + 1 : end;
    while (a < b && is_space(*a))
      a++;
    while (b > a && is_space(b[-1]))
      b--;
    if (a == b || *a == '#')
      continue;
    uint64_t v = 0;
    for (const char *c = a; c < b; c++) {
      if (*c < '0' || *c > '9') {
        tcpu_mm_trace_free(t);
        return fail(err, errlen, "line %zu: not a whole number of "
                    "milliseconds", line);
      }
      v = v * 10 + (uint64_t)(*c - '0');
      if (v > TCPU_MM_TRACE_MAX_MS) {
        tcpu_mm_trace_free(t);
        return fail(err, errlen, "line %zu: timestamp over %llu ms", line,
                    (unsigned long long)TCPU_MM_TRACE_MAX_MS);
      }
    }
    if (t->n > 0 && v < t->ms[t->n - 1]) {
      unsigned long long prev = t->ms[t->n - 1];
      tcpu_mm_trace_free(t);
      return fail(err, errlen, "line %zu: timestamp %llu is below the one "
                  "before (%llu)", line, (unsigned long long)v, prev);
    }
    if (t->n == cap) {
      size_t ncap = cap ? cap * 2 : 1024;
      uint64_t *m = realloc(t->ms, ncap * sizeof(*m));
      if (!m) {
        tcpu_mm_trace_free(t);
        return TCPU_ERR_NOMEM;
      }
      t->ms = m;
      cap = ncap;
    }
    t->ms[t->n++] = v;
  }
  if (t->n == 0)
    return fail(err, errlen, "no delivery opportunities");
  if (t->ms[t->n - 1] == 0) {
    tcpu_mm_trace_free(t);
    return fail(err, errlen, "the last timestamp is 0: a trace must last "
                "at least 1 ms");
  }
  t->period_ms = t->ms[t->n - 1];
  return 0;
}

int tcpu_mm_trace_load(tcpu_mm_trace *t, const char *path, char *err,
                       size_t errlen) {
  memset(t, 0, sizeof(*t));
  FILE *f = fopen(path, "rb");
  if (!f)
    return fail(err, errlen, "%s: %s", path, strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      char *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        fclose(f);
        return TCPU_ERR_NOMEM;
      }
      buf = nb;
      cap = ncap;
    }
    size_t k = fread(buf + len, 1, cap - len, f);
    len += k;
    if (k == 0)
      break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return fail(err, errlen, "%s: read error", path);
  }
  char msg[160] = "";
  int rc = tcpu_mm_trace_parse(t, buf, len, msg, sizeof(msg));
  free(buf);
  if (rc == TCPU_ERR_INVAL)
    return fail(err, errlen, "%s: %s", path, msg);
  return rc;
}

void tcpu_mm_trace_free(tcpu_mm_trace *t) {
  free(t->ms);
  memset(t, 0, sizeof(*t));
}

uint64_t tcpu_mm_trace_rate_bps(const tcpu_mm_trace *t) {
  /* n <= period * 1e9 in practice; the product stays below 2^64 for any
   * trace that fits in memory. */
  return (uint64_t)t->n * TCPU_MM_TRACE_OPP_BYTES * 8 * 1000 / t->period_ms;
}

uint64_t tcpu_mm_trace_opp_ms(const tcpu_mm_trace *t, uint64_t k) {
  return (k / t->n) * t->period_ms + t->ms[k % t->n];
}

/* First index whose timestamp is >= v, n if none. */
static size_t lower_bound(const tcpu_mm_trace *t, uint64_t v) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->ms[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

uint64_t tcpu_mm_trace_next_opp(const tcpu_mm_trace *t, uint64_t ms) {
  uint64_t loop = ms / t->period_ms;
  /* The previous loop ends at loop * period: its last lines may fall
   * exactly on ms. */
  if (loop > 0) {
    size_t i = lower_bound(t, ms - (loop - 1) * t->period_ms);
    if (i < t->n)
      return (loop - 1) * t->n + i;
  }
  /* ms - loop * period < period = the last timestamp: always found. */
  return loop * t->n + lower_bound(t, ms - loop * t->period_ms);
}
