/*
 * util.c — tcpu-bench's JSON writer, CPU/RSS accounting, pinned threads and
 * latency percentiles.
 */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "uv/hrtimer.h"
#include "uv/io.h"

/* ---------------------------------------------------------------- JSON */

#define JS_DEPTH 16
static int js_depth;
static int js_first[JS_DEPTH] = {1};

static void js_key(const char *key) {
  if (js_depth > 0) {
    printf("%s\n", js_first[js_depth] ? "" : ",");
    js_first[js_depth] = 0;
    printf("%*s", 2 * js_depth, "");
  }
  if (key != NULL)
    printf("\"%s\": ", key);
}

void js_open(const char *key) {
  js_key(key);
  printf("{");
  if (js_depth + 1 < JS_DEPTH)
    js_depth++;
  js_first[js_depth] = 1;
}

void js_close(void) {
  int empty = js_first[js_depth];
  if (js_depth > 0)
    js_depth--;
  if (!empty)
    printf("\n%*s", 2 * js_depth, "");
  printf("}");
  if (js_depth == 0)
    printf("\n");
  fflush(stdout);
}

void js_num(const char *key, double v) {
  js_key(key);
  if (isnan(v) || isinf(v))
    printf("null");
  else if (v != 0 && fabs(v) < 0.01)
    printf("%.4g", v);
  else
    printf("%.3f", v);
}

void js_int(const char *key, uint64_t v) {
  js_key(key);
  printf("%llu", (unsigned long long)v);
}

void js_str(const char *key, const char *s) {
  js_key(key);
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      printf("\\u%04x", (unsigned)(unsigned char)*s);
    else
      putchar(*s);
  }
  putchar('"');
}

void js_bool(const char *key, int v) {
  js_key(key);
  printf("%s", v ? "true" : "false");
}

/* ---------------------------------------------------------- accounting */

static uint64_t tv_ns(const struct timeval *tv) {
  return (uint64_t)tv->tv_sec * 1000000000u + (uint64_t)tv->tv_usec * 1000u;
}

void cpu_mark_now(cpu_mark *m) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  m->user_ns = tv_ns(&ru.ru_utime);
  m->sys_ns = tv_ns(&ru.ru_stime);
  m->wall_ns = uv_hrtime();
}

uint64_t cpu_used(const cpu_mark *a, const cpu_mark *b) {
  return (b->user_ns - a->user_ns) + (b->sys_ns - a->sys_ns);
}

uint64_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f == NULL)
    return 0;
  if (fscanf(f, "%lu %lu", &size, &resident) != 2)
    resident = 0;
  fclose(f);
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t now_ns(void) { return uv_hrtime(); }

/* The binding's benchmark-only knobs are environment variables read when
 * an endpoint or timer starts (libtcpu/uv/io.h, hrtimer.h); 0 unsets. */
void bench_set_knobs(unsigned io_flags, unsigned timer_flags,
                     uint64_t slack_ns) {
  char v[32];
  const char *names[3] = {TCPU_IO_ENV_FLAGS, TCPU_HRTIMER_ENV_FLAGS,
                          TCPU_HRTIMER_ENV_SLACK};
  uint64_t vals[3] = {io_flags, timer_flags, slack_ns};
  for (int i = 0; i < 3; i++) {
    if (vals[i] == 0) {
      unsetenv(names[i]);
    } else {
      snprintf(v, sizeof v, "%llu", (unsigned long long)vals[i]);
      setenv(names[i], v, 1);
    }
  }
}

void pin_self(int cpu) {
  cpu_set_t set;
  if (cpu < 0)
    return;
  CPU_ZERO(&set);
  CPU_SET(cpu % CPU_SETSIZE, &set);
  (void)sched_setaffinity(0, sizeof(set), &set);
}

typedef struct thread_arg {
  int cpu;
  void *(*fn)(void *);
  void *arg;
} thread_arg;

static void *thread_main(void *p) {
  thread_arg ta = *(thread_arg *)p;
  free(p);
  pin_self(ta.cpu);
  return ta.fn(ta.arg);
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

void loop_finish(uv_loop_t *loop) {
  uv_walk(loop, close_walk, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
}

int thread_start(pthread_t *th, int cpu, void *(*fn)(void *), void *arg) {
  thread_arg *ta = malloc(sizeof(*ta));
  if (ta == NULL)
    return -1;
  ta->cpu = cpu;
  ta->fn = fn;
  ta->arg = arg;
  if (pthread_create(th, NULL, thread_main, ta) != 0) {
    free(ta);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------- latency */

int lat_init(lat *l, size_t cap) {
  l->ns = malloc(cap * sizeof(*l->ns));
  l->n = 0;
  l->cap = l->ns != NULL ? cap : 0;
  return l->ns != NULL ? 0 : -1;
}

void lat_add(lat *l, uint64_t ns) {
  if (l->n < l->cap)
    l->ns[l->n++] = ns;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

void lat_sort(lat *l) { qsort(l->ns, l->n, sizeof(*l->ns), cmp_u64); }

double lat_pct(lat *l, double p) {
  if (l->n == 0)
    return NAN;
  size_t i = (size_t)(p / 100.0 * (double)(l->n - 1) + 0.5);
  return (double)l->ns[i] / 1000.0;
}

void lat_report(lat *l, const char *key) {
  double sum = 0;
  lat_sort(l);
  for (size_t i = 0; i < l->n; i++)
    sum += (double)l->ns[i];
  js_open(key);
  js_int("count", l->n);
  js_num("p50_us", lat_pct(l, 50));
  js_num("p90_us", lat_pct(l, 90));
  js_num("p99_us", lat_pct(l, 99));
  js_num("p999_us", lat_pct(l, 99.9));
  js_num("min_us", l->n ? (double)l->ns[0] / 1000.0 : NAN);
  js_num("max_us", l->n ? (double)l->ns[l->n - 1] / 1000.0 : NAN);
  js_num("mean_us", l->n ? sum / (double)l->n / 1000.0 : NAN);
  js_close();
}

void lat_free(lat *l) {
  free(l->ns);
  l->ns = NULL;
  l->n = l->cap = 0;
}

void bench_settings(tcpu_settings *s, uint32_t buf) {
  tcpu_settings_default(s);
  s->sndbuf = buf;
  s->rcvbuf = buf;
}

/* ------------------------------------------------------------- figures */

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double median(double *v, unsigned n) {
  qsort(v, n, sizeof(*v), cmp_double);
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bulk_result median_of(const char *key, const bulk_result *r, unsigned n) {
  double g[BENCH_MAX_REPS], c[BENCH_MAX_REPS], b[BENCH_MAX_REPS];
  bulk_result m = {1, 0, 0, 0};
  if (n > BENCH_MAX_REPS)
    n = BENCH_MAX_REPS;
  for (unsigned i = 0; i < n; i++) {
    g[i] = r[i].gbps;
    c[i] = r[i].cpu_ns_per_b;
    b[i] = r[i].gbps_cpu;
    m.ok = m.ok && r[i].ok;
  }
  m.gbps = median(g, n);
  m.cpu_ns_per_b = median(c, n);
  m.gbps_cpu = median(b, n);
  js_open(key);
  js_bool("all_ok", m.ok);
  js_num("gbps", m.gbps);
  js_num("gbps_best", n ? g[n - 1] : 0);
  js_num("cpu_ns_per_byte", m.cpu_ns_per_b);
  js_num("gbps_if_cpu_bound", m.gbps_cpu);
  js_close();
  return m;
}
