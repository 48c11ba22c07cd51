/*
 * test_ring.c — the byte ring behind send and receive buffers: FIFO order
 * through every wrap, storage that grows by doubling up to the capacity
 * and no further, resizing, the in-place spans sealed mode seals from,
 * and allocation failures that leave the ring as it was.
 *
 * ring.c is compiled into this file with malloc routed through a hook, so
 * that a failure can be injected at any allocation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "malloc_hook.h"

#define malloc(n) hooked_malloc(n)
#include "core/ring.c"
#undef malloc

/* Byte i of the test stream. */
static uint8_t byte_at(uint64_t i) { return (uint8_t)(i * 167 + (i >> 11)); }

static void push_stream(tcpu_ring *r, uint64_t *written, size_t n) {
  uint8_t buf[16384];
  assert_true(n <= sizeof buf);
  for (size_t i = 0; i < n; i++)
    buf[i] = byte_at(*written + i);
  long got = tcpu_ring_push(r, buf, n);
  assert_true(got >= 0);
  *written += (uint64_t)got;
}

static void expect_stream(const tcpu_ring *r, uint64_t first, size_t off,
                          size_t n) {
  uint8_t buf[16384];
  assert_true(n <= sizeof buf);
  tcpu_ring_peek(r, off, buf, n);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(buf[i], byte_at(first + off + i));
}

static void test_ring_unused_has_no_storage(void **state) {
  (void)state;
  tcpu_ring r;
  tcpu_ring_init(&r, 1 << 20);
  assert_null(r.buf);
  assert_int_equal(tcpu_ring_space(&r), 1 << 20);
  assert_null(tcpu_ring_span(&r, 0, 0));
  tcpu_ring_drop(&r, 0);
  assert_int_equal(tcpu_ring_push(&r, NULL, 0), 0);
  assert_null(r.buf);
  tcpu_ring_free(&r);
}

/* The smallest doubling of the first storage that holds len bytes. */
static size_t doubled_for(size_t len) {
  size_t size = TCPU_RING_MIN_STORAGE;
  while (size < len)
    size *= 2;
  return size;
}

static void test_ring_storage_grows_by_doubling_to_cap(void **state) {
  (void)state;
  tcpu_ring r;
  uint64_t written = 0;
  tcpu_ring_init(&r, 100000);
  push_stream(&r, &written, 64);
  assert_int_equal(r.size, TCPU_RING_MIN_STORAGE);
  push_stream(&r, &written, 5000);
  assert_int_equal(r.size, doubled_for(5064));
  push_stream(&r, &written, 8000);
  assert_int_equal(r.size, doubled_for(13064));
  while (written < 100000)
    push_stream(&r, &written, 7000);
  /* Past cap / 2 the storage is the capacity itself, and the ring is
   * full at exactly cap bytes. */
  assert_int_equal(r.size, 100000);
  assert_int_equal(r.len, 100000);
  assert_int_equal(tcpu_ring_space(&r), 0);
  uint8_t extra = 1;
  assert_int_equal(tcpu_ring_push(&r, &extra, 1), 0);
  for (size_t off = 0; off < 100000; off += 8000)
    expect_stream(&r, 0, off, off + 8000 <= 100000 ? 8000 : 100000 - off);
  tcpu_ring_free(&r);
}

static void test_ring_small_cap_allocates_cap_only(void **state) {
  (void)state;
  tcpu_ring r;
  uint64_t written = 0;
  tcpu_ring_init(&r, 1000);
  push_stream(&r, &written, 10);
  assert_int_equal(r.size, 1000);
  tcpu_ring_free(&r);
}

/* A seeded model check: pushes, drops and peeks of random sizes through
 * many wraps and every growth step. */
static void test_ring_fifo_through_wraps_and_growth(void **state) {
  (void)state;
  uint64_t seed = 0x9e3779b97f4a7c15u;
  for (int round = 0; round < 40; round++) {
    tcpu_ring r;
    size_t cap = 1000 + (size_t)(seed >> 40) % 60000;
    uint64_t written = 0, dropped = 0;
    tcpu_ring_init(&r, cap);
    for (int step = 0; step < 2000; step++) {
      seed = seed * 6364136223846793005u + 1442695040888963407u;
      size_t n = (size_t)(seed >> 33) % 6000;
      if ((seed >> 20) & 1) {
        if (n > tcpu_ring_space(&r))
          n = tcpu_ring_space(&r);
        push_stream(&r, &written, n);
      } else {
        if (n > r.len)
          n = r.len;
        if (n > 0)
          expect_stream(&r, dropped, 0, n);
        tcpu_ring_drop(&r, n);
        dropped += n;
      }
      assert_int_equal(r.len, written - dropped);
      assert_true(r.size <= cap);
      if (r.len > 0) {
        size_t off = (size_t)(seed >> 7) % r.len;
        size_t k = r.len - off < 4000 ? r.len - off : 4000;
        expect_stream(&r, dropped, off, k);
        uint8_t *span = tcpu_ring_span(&r, off, k);
        if (span != NULL)
          for (size_t i = 0; i < k; i++)
            assert_int_equal(span[i], byte_at(dropped + off + i));
        else
          assert_true(k > r.size - (r.head + off) % r.size);
      }
    }
    tcpu_ring_free(&r);
  }
}

static void test_ring_resize_keeps_bytes(void **state) {
  (void)state;
  tcpu_ring r;
  uint64_t written = 0;
  tcpu_ring_init(&r, 64 * 1024);
  while (written < 60000)
    push_stream(&r, &written, 6000);
  tcpu_ring_drop(&r, 50000);
  /* Below the storage size: moved into storage of the new capacity. */
  assert_int_equal(tcpu_ring_resize(&r, 20000), 0);
  assert_int_equal(r.cap, 20000);
  assert_int_equal(r.size, 20000);
  expect_stream(&r, 50000, 0, (size_t)(written - 50000));
  /* Above: only the capacity changes until the bytes need room. */
  assert_int_equal(tcpu_ring_resize(&r, 1 << 20), 0);
  assert_int_equal(r.size, 20000);
  while (written < 120000)
    push_stream(&r, &written, 5000);
  assert_true(r.size >= 70000 && r.size <= (1 << 20));
  expect_stream(&r, 50000, 0, 8000);
  expect_stream(&r, 50000, (size_t)(written - 50000) - 8000, 8000);
  /* Empty: storage let go. */
  tcpu_ring_drop(&r, r.len);
  assert_int_equal(tcpu_ring_resize(&r, 4096), 0);
  assert_null(r.buf);
  tcpu_ring_free(&r);
}

static void test_ring_allocation_failure_changes_nothing(void **state) {
  (void)state;
  tcpu_ring r;
  uint64_t written = 0;
  uint8_t big[6000];
  memset(big, 0, sizeof big);
  tcpu_ring_init(&r, 1 << 20);
  fail_after = 0;
  assert_int_equal(tcpu_ring_push(&r, big, 10), -1);
  assert_int_equal(r.len, 0);
  push_stream(&r, &written, 3000);
  size_t size = r.size;
  assert_true(size < 9000);
  fail_after = 0;
  /* Growth fails: the ring keeps its bytes and storage. */
  assert_int_equal(tcpu_ring_push(&r, big, sizeof big), -1);
  assert_int_equal(r.len, 3000);
  assert_int_equal(r.size, size);
  expect_stream(&r, 0, 0, 3000);
  fail_after = 0;
  assert_int_equal(tcpu_ring_resize(&r, 3500), -1);
  assert_int_equal(r.cap, 1 << 20);
  expect_stream(&r, 0, 0, 3000);
  tcpu_ring_free(&r);
}

/* Filling a 1 MiB ring in small writes allocates about log2(1 MiB / 1 KiB)
 * times, not once per write. */
static void test_ring_growth_allocates_logarithmically(void **state) {
  (void)state;
  tcpu_ring r;
  uint64_t written = 0;
  tcpu_ring_init(&r, 1 << 20);
  allocations = 0;
  while (written < (1 << 20))
    push_stream(&r, &written, 1400);
  assert_true(allocations <= 11);
  tcpu_ring_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ring_unused_has_no_storage),
      cmocka_unit_test(test_ring_storage_grows_by_doubling_to_cap),
      cmocka_unit_test(test_ring_small_cap_allocates_cap_only),
      cmocka_unit_test(test_ring_fifo_through_wraps_and_growth),
      cmocka_unit_test(test_ring_resize_keeps_bytes),
      cmocka_unit_test(test_ring_allocation_failure_changes_nothing),
      cmocka_unit_test(test_ring_growth_allocates_logarithmically),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
