/*
 * e2e_harness.h — what the loopback tests (e2e_uv.c, e2e_rendezvous.c)
 * share: one libuv loop per test bounded by a guard timer, the CHECK
 * macros, position-based test streams, endpoints on loopback ports and
 * the runner behind main.
 *
 * A test is a start function that sets up handles in `loop` and a verify
 * function that runs once the loop has no active handle left.  A test
 * passes when its checks hold and uv_loop_close then finds no handle
 * left open; it fails at the first failed CHECK (which stops the loop) or
 * when the guard fires.
 */
#ifndef TCPU_TESTS_E2E_HARNESS_H
#define TCPU_TESTS_E2E_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tcpu/tcpu_uv.h"

/* The running test's loop, outcome and clock (uv_hrtime at its start). */
extern uv_loop_t *loop;
extern int failed, skipped;
extern char message[512];
extern uint64_t t0;
/* Endpoints the test opened with ep_open and that the test's close
 * callbacks counted as closed; the runner zeroes both before each test. */
extern int endpoints_opened, endpoints_closed;

/* Fails the test (the first message is kept) and stops the loop. */
void fail_at(int line, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Skips the test: it ends without its verify function. */
void skip(const char *why);

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fail_at(__LINE__, "CHECK(%s)", #cond);                                 \
      return;                                                                \
    }                                                                        \
  } while (0)

#define CHECK_EQ(a, b)                                                       \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ != b_) {                                                          \
      fail_at(__LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);           \
      return;                                                                \
    }                                                                        \
  } while (0)

/* Error codes, printed by name. */
#define CHECK_ERR(a, b)                                                      \
  do {                                                                       \
    int a_ = (int)(a), b_ = (int)(b);                                        \
    if (a_ != b_) {                                                          \
      fail_at(__LINE__, "%s == %s: %s != %s", #a, #b,                        \
              a_ == 0 ? "0" : uv_err_name(a_),                               \
              b_ == 0 ? "0" : uv_err_name(b_));                              \
      return;                                                                \
    }                                                                        \
  } while (0)

/* Milliseconds since the test started. */
uint64_t elapsed_ms(void);

/* Byte i of test stream `seed`: position-based, so any part verifies. */
uint8_t pat(uint32_t seed, uint64_t i);
/* A malloc'd copy of bytes [off, off + len) of stream `seed`. */
uint8_t *pat_buf(uint32_t seed, uint64_t off, size_t len);
/* 1 when data is bytes [off, off + len) of stream `seed`, else 0. */
int pat_check(uint32_t seed, uint64_t off, const void *data, size_t len);

/* A read buffer of `size` bytes from malloc (the read callback frees). */
void on_alloc(tcpu_uv_stream *s, size_t size, uv_buf_t *buf);

/* Opens uvep on ip, port 0, counting it in endpoints_opened; returns the
 * UV error (0 on success). */
int ep_open(tcpu_uv_endpoint *uvep, const char *ip, const tcpu_settings *st);
/* The address to reach uvep at, as seen from `ip` (its own bind address
 * may be "::" or "0.0.0.0"). */
void ep_addr(const tcpu_uv_endpoint *uvep, const char *ip,
             struct sockaddr_storage *ss);

typedef struct test_case {
  const char *name;
  void (*start)(void);
  void (*verify)(void);
  uint64_t limit_ms;
} test_case;

/* Runs the tests named in argv (all of them without names), one loop
 * each, printing PASS/FAIL/SKIP per test and "N passed, N failed".
 * Returns the exit status: 0 when nothing failed, 77 when every test run
 * was skipped, else 1. */
int e2e_main(int argc, char **argv, const test_case *tests, size_t n);

#endif /* TCPU_TESTS_E2E_HARNESS_H */
