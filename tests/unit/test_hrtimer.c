/*
 * test_hrtimer.c — the binding's nanosecond timer (uv/hrtimer.c), both the
 * timerfd implementation and the millisecond uv_timer_t fallback: never
 * early, fires once, moves both ways, stops, and closes.  Nothing here
 * asserts how late a wake-up may be: that is a benchmark figure
 * (tcpu-bench "timer"), not a test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "uv/hrtimer.h"

static uv_loop_t loop;
static uv_timer_t guard;
static int fired;
static tcpu_tstamp fired_at;
static int closed;
/* static: teardown closes them after a failure */
static tcpu_hrtimer tm, tm2;

static void on_fire(tcpu_hrtimer *t) {
  (void)t;
  fired++;
  fired_at = uv_hrtime();
}

static void on_guard(uv_timer_t *g) {
  (void)g;
  uv_stop(&loop);
}

static void on_close(tcpu_hrtimer *t) {
  (void)t;
  closed++;
}

/* Runs the loop for `ms` of guard time. */
static void run_ms(uint64_t ms) {
  uv_timer_start(&guard, on_guard, ms, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
}

static int setup(void **state) {
  (void)state;
  fired = closed = 0;
  fired_at = 0;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  return 0;
}

static void close_left(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* A failed assertion leaves handles open: close whatever is left. */
static int teardown(void **state) {
  (void)state;
  uv_walk(&loop, close_left, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? 0 : -1;
}

static void finish(tcpu_hrtimer *t) {
  tcpu_hrtimer_close(t, on_close);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(closed, 1);
}

static void fires_once_never_early(unsigned flags) {
  assert_int_equal(tcpu_hrtimer_init(&loop, &tm, flags), 0);
  tcpu_tstamp deadline = uv_hrtime() + 300 * 1000; /* 300 us */
  tcpu_hrtimer_start(&tm, on_fire, deadline);
  run_ms(50);
  assert_int_equal(fired, 1);
  assert_true(fired_at >= deadline);
  finish(&tm);
}

static void moves_later_and_earlier(unsigned flags) {
  assert_int_equal(tcpu_hrtimer_init(&loop, &tm, flags), 0);
  tcpu_tstamp now = uv_hrtime();
  /* later: the kernel timer set for 100 us wakes early and waits on */
  tcpu_hrtimer_start(&tm, on_fire, now + 100 * 1000);
  tcpu_tstamp later = now + 5 * TCPU_NS_PER_MS;
  tcpu_hrtimer_start(&tm, on_fire, later);
  run_ms(40);
  assert_int_equal(fired, 1);
  assert_true(fired_at >= later);
  /* earlier: from 1 s to 200 us */
  now = uv_hrtime();
  tcpu_hrtimer_start(&tm, on_fire, now + TCPU_NS_PER_S);
  tcpu_tstamp earlier = now + 200 * 1000;
  tcpu_hrtimer_start(&tm, on_fire, earlier);
  run_ms(40);
  assert_int_equal(fired, 2);
  assert_true(fired_at >= earlier);
  finish(&tm);
}

static void stop_cancels(unsigned flags) {
  assert_int_equal(tcpu_hrtimer_init(&loop, &tm, flags), 0);
  tcpu_hrtimer_start(&tm, on_fire, uv_hrtime() + 200 * 1000);
  tcpu_hrtimer_stop(&tm);
  run_ms(20);
  assert_int_equal(fired, 0);
  /* restart after a stop, and a deadline in the past fires too */
  tcpu_hrtimer_start(&tm, on_fire, uv_hrtime() - 1000);
  run_ms(20);
  assert_int_equal(fired, 1);
  /* NONE stops */
  tcpu_hrtimer_start(&tm, on_fire, uv_hrtime() + 100 * 1000);
  tcpu_hrtimer_start(&tm, on_fire, TCPU_TSTAMP_NONE);
  run_ms(20);
  assert_int_equal(fired, 1);
  finish(&tm);
}

static void test_hrtimer_timerfd_fires_once_never_early(void **state) {
  (void)state;
  fires_once_never_early(0);
}
static void test_hrtimer_ms_fires_once_never_early(void **state) {
  (void)state;
  fires_once_never_early(TCPU_HRTIMER_MS);
}
static void test_hrtimer_timerfd_moves_later_and_earlier(void **state) {
  (void)state;
  moves_later_and_earlier(0);
}
static void test_hrtimer_ms_moves_later_and_earlier(void **state) {
  (void)state;
  moves_later_and_earlier(TCPU_HRTIMER_MS);
}
static void test_hrtimer_timerfd_stop_cancels(void **state) {
  (void)state;
  stop_cancels(0);
}
static void test_hrtimer_ms_stop_cancels(void **state) {
  (void)state;
  stop_cancels(TCPU_HRTIMER_MS);
}

static void test_hrtimer_precise_on_linux(void **state) {
  (void)state;
  assert_int_equal(tcpu_hrtimer_init(&loop, &tm, 0), 0);
  assert_int_equal(tcpu_hrtimer_init(&loop, &tm2, TCPU_HRTIMER_MS), 0);
#if defined(__linux__) && !defined(TCPU_IO_PORTABLE)
  assert_true(tcpu_hrtimer_precise(&tm));
#endif
  assert_false(tcpu_hrtimer_precise(&tm2));
  tcpu_hrtimer_close(&tm2, on_close);
  tcpu_hrtimer_close(&tm, on_close);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(closed, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_hrtimer_timerfd_fires_once_never_early, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hrtimer_ms_fires_once_never_early,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_hrtimer_timerfd_moves_later_and_earlier, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hrtimer_ms_moves_later_and_earlier,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_hrtimer_timerfd_stop_cancels, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_hrtimer_ms_stop_cancels, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_hrtimer_precise_on_linux, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
