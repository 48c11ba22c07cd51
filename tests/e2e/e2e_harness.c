/*
 * e2e_harness.c — the loopback tests' shared harness; see e2e_harness.h.
 */
#include "e2e_harness.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

uv_loop_t *loop;
int failed, skipped;
char message[512];
uint64_t t0;
int endpoints_opened, endpoints_closed;

void fail_at(int line, const char *fmt, ...) {
  va_list ap;

  if (!failed) {
    int n = snprintf(message, sizeof(message), "line %d: ", line);
    va_start(ap, fmt);
    vsnprintf(message + n, sizeof(message) - (size_t)n, fmt, ap);
    va_end(ap);
  }
  failed = 1;
  uv_stop(loop);
}

void skip(const char *why) {
  skipped = 1;
  snprintf(message, sizeof(message), "%s", why);
}

uint64_t elapsed_ms(void) { return (uv_hrtime() - t0) / 1000000; }

uint8_t pat(uint32_t seed, uint64_t i) {
  uint64_t x =
      (i + 1) * 0x9e3779b97f4a7c15ull ^ (seed + 1) * 0xc2b2ae3d27d4eb4full;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  return (uint8_t)(x >> 56);
}

uint8_t *pat_buf(uint32_t seed, uint64_t off, size_t len) {
  uint8_t *p = malloc(len ? len : 1);
  for (size_t i = 0; i < len; i++)
    p[i] = pat(seed, off + i);
  return p;
}

int pat_check(uint32_t seed, uint64_t off, const void *data, size_t len) {
  const uint8_t *p = data;
  for (size_t i = 0; i < len; i++)
    if (p[i] != pat(seed, off + i))
      return 0;
  return 1;
}

void on_alloc(tcpu_uv_stream *s, size_t size, uv_buf_t *buf) {
  (void)s;
  buf->base = malloc(size);
  buf->len = size;
}

int ep_open(tcpu_uv_endpoint *uvep, const char *ip, const tcpu_settings *st) {
  struct sockaddr_storage ss;
  int rv;

  if (strchr(ip, ':') != NULL)
    uv_ip6_addr(ip, 0, (struct sockaddr_in6 *)&ss);
  else
    uv_ip4_addr(ip, 0, (struct sockaddr_in *)&ss);
  rv = tcpu_uv_endpoint_init(loop, uvep, st, (struct sockaddr *)&ss, 0);
  if (rv == 0)
    endpoints_opened++;
  return rv;
}

void ep_addr(const tcpu_uv_endpoint *uvep, const char *ip,
             struct sockaddr_storage *ss) {
  struct sockaddr_storage me;
  int len = sizeof(me);
  int port;

  tcpu_uv_endpoint_getsockname(uvep, (struct sockaddr *)&me, &len);
  port = ntohs(((struct sockaddr_in *)&me)->sin_port); /* same offset in v6 */
  if (strchr(ip, ':') != NULL)
    uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss);
  else
    uv_ip4_addr(ip, port, (struct sockaddr_in *)ss);
}

/* ------------------------------------------------------------- runner */

static void on_guard(uv_timer_t *t) {
  (void)t;
  fail_at(0, "not finished within the time limit");
}

/* 0 pass, 1 fail, 2 skip. */
static int run(const test_case *tc) {
  uv_timer_t guard;

  failed = skipped = 0;
  endpoints_opened = endpoints_closed = 0;
  message[0] = '\0';
  loop = malloc(sizeof(*loop));
  uv_loop_init(loop);
  uv_timer_init(loop, &guard);
  uv_timer_start(&guard, on_guard, tc->limit_ms, 0);
  uv_unref((uv_handle_t *)&guard);
  t0 = uv_hrtime();
  tc->start();
  if (!failed)
    uv_run(loop, UV_RUN_DEFAULT);
  if (!failed && !skipped)
    tc->verify();
  if (!failed) {
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) != 0)
      fail_at(0, "handles left open");
    else
      free(loop);
  }
  /* A failed test leaves its loop and memory behind: it is over anyway. */
  if (failed) {
    printf("FAIL %s: %s\n", tc->name, message);
    return 1;
  }
  if (skipped) {
    printf("SKIP %s: %s\n", tc->name, message);
    return 2;
  }
  printf("PASS %s (%llu ms)\n", tc->name, (unsigned long long)elapsed_ms());
  return 0;
}

int e2e_main(int argc, char **argv, const test_case *tests, size_t n) {
  int passed = 0, nfailed = 0, nskipped = 0;

  for (size_t i = 0; i < n; i++) {
    int want = argc < 2;
    for (int a = 1; a < argc; a++)
      if (strcmp(argv[a], tests[i].name) == 0)
        want = 1;
    if (!want)
      continue;
    switch (run(&tests[i])) {
    case 0: passed++; break;
    case 1: nfailed++; break;
    default: nskipped++; break;
    }
    fflush(stdout);
  }
  for (int a = 1; a < argc; a++) {
    size_t i;
    for (i = 0; i < n && strcmp(argv[a], tests[i].name) != 0; i++)
      ;
    if (i == n) {
      printf("FAIL %s: no such test\n", argv[a]);
      nfailed++;
    }
  }
  if (nskipped > 0)
    printf("%d skipped\n", nskipped);
  printf("%d passed, %d failed\n", passed, nfailed);
  if (nfailed > 0)
    return 1;
  return passed == 0 && nskipped > 0 ? 77 : 0;
}
