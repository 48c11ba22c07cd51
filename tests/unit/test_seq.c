/*
 * test_seq.c — sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4),
 * table-driven in the manner of WireGuard's selftests: every row is checked
 * on its own and a failure names the row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/seq.h"

#define MAX32 UINT32_MAX
#define HALF 0x80000000u

/* Fails naming the table row, so one run reports which case broke. */
#define CHECK(row, got, want)                                                \
  do {                                                                       \
    if ((uint64_t)(got) != (uint64_t)(want))                                 \
      fail_msg("row %zu: %s is %#llx, want %#llx", (row), #got,              \
               (unsigned long long)(got), (unsigned long long)(want));       \
  } while (0)

/* Ordered pairs: a versus b, and the sign of seq_diff(a, b). */
struct cmp_case {
  uint32_t a, b;
  int sign; /* -1: a before b, 0: equal, 1: a after b */
};

static const struct cmp_case cmp_cases[] = {
#define T(a, b, sign) {(a), (b), (sign)}
    /*  0 */ T(0, 0, 0),
    /*  1 */ T(1, 2, -1),
    /*  2 */ T(2, 1, 1),
    /*  3 */ T(MAX32, MAX32, 0),
    /*  4 */ T(MAX32, 0, -1),       /* wraps: 0xffffffff is just before 0 */
    /*  5 */ T(0, MAX32, 1),
    /*  6 */ T(MAX32 - 9, 10, -1),  /* 20 apart across the wrap */
    /*  7 */ T(10, MAX32 - 9, 1),
    /*  8 */ T(0, HALF - 1, -1),    /* largest forward distance */
    /*  9 */ T(HALF - 1, 0, 1),
    /* 10 */ T(0, HALF + 1, 1),     /* just past half: b is behind a */
    /* 11 */ T(HALF + 1, 0, -1),
    /* 12 */ T(HALF, HALF + 1, -1),
    /* 13 */ T(HALF - 1, HALF, -1),
    /* 14 */ T(0xc0000001, 0x40000000, -1), /* 2^31 - 1 apart, wrapped */
    /* 15 */ T(0x12345678, 0x12345678 + 1000, -1),
    /* 16 */ T(0xfffffc00, 0x00000400, -1),
#undef T
};

static void test_seq_compare_table_matches_sign(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(cmp_cases) / sizeof(cmp_cases[0]); i++) {
    const struct cmp_case *c = &cmp_cases[i];

    CHECK(i, seq_lt(c->a, c->b), c->sign < 0);
    CHECK(i, seq_leq(c->a, c->b), c->sign <= 0);
    CHECK(i, seq_gt(c->a, c->b), c->sign > 0);
    CHECK(i, seq_geq(c->a, c->b), c->sign >= 0);
    CHECK(i, seq_max(c->a, c->b), c->sign >= 0 ? c->a : c->b);
    CHECK(i, seq_min(c->a, c->b), c->sign <= 0 ? c->a : c->b);
    /* Antisymmetry: swapping the operands flips the order. */
    CHECK(i, seq_lt(c->b, c->a), c->sign > 0);
    CHECK(i, seq_gt(c->b, c->a), c->sign < 0);
    CHECK(i, seq_diff(c->a, c->b) == 0, c->sign == 0);
  }
}

/* Exactly 2^31 apart the order is undefined in theory; in practice the
 * signed difference is INT32_MIN, so each number is "before" the other.
 * Pinned so a rewrite of seq_diff does not change it silently. */
static void test_seq_half_apart_both_before(void **state) {
  (void)state;
  assert_true(seq_lt(0, HALF));
  assert_true(seq_lt(HALF, 0));
  assert_true(seq_lt(MAX32, HALF - 1));
  assert_true(seq_lt(HALF - 1, MAX32));
}

struct in_case {
  uint32_t x, lo, hi;
  int in; /* lo <= x < hi */
};

static const struct in_case in_cases[] = {
#define T(x, lo, hi, in) {(x), (lo), (hi), (in)}
    /*  0 */ T(5, 5, 10, 1),          /* lower edge is inside */
    /*  1 */ T(9, 5, 10, 1),
    /*  2 */ T(10, 5, 10, 0),         /* upper edge is outside */
    /*  3 */ T(4, 5, 10, 0),
    /*  4 */ T(5, 5, 5, 0),           /* empty range */
    /*  5 */ T(MAX32, MAX32 - 5, 5, 1), /* range straddles the wrap */
    /*  6 */ T(0, MAX32 - 5, 5, 1),
    /*  7 */ T(4, MAX32 - 5, 5, 1),
    /*  8 */ T(5, MAX32 - 5, 5, 0),
    /*  9 */ T(MAX32 - 5, MAX32 - 5, 5, 1),
    /* 10 */ T(MAX32 - 6, MAX32 - 5, 5, 0),
    /* 11 */ T(HALF, 0, 10, 0),       /* far away on either side */
    /* 12 */ T(MAX32 - 100, 0, 10, 0),
    /* 13 */ T(0, MAX32, 1, 1),       /* one-before-zero up to one */
    /* 14 */ T(1, MAX32, 1, 0),
    /* 15 */ T(0x40000000, 0, 0x40000001, 1), /* a 2^30 window */
#undef T
};

static void test_seq_in_table_matches(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(in_cases) / sizeof(in_cases[0]); i++) {
    const struct in_case *c = &in_cases[i];

    CHECK(i, seq_in(c->x, c->lo, c->hi), c->in);
  }
}

/* Walk a window of 64 across the wrap one step at a time: the answers must
 * not depend on where the window sits. */
static void test_seq_sliding_window_across_wrap_invariant(void **state) {
  (void)state;
  for (uint32_t base = MAX32 - 100; base != 100; base++) {
    uint32_t end = base + 64;

    assert_true(seq_in(base, base, end));
    assert_true(seq_in(base + 63, base, end));
    assert_false(seq_in(end, base, end));
    assert_false(seq_in(base - 1, base, end));
    assert_true(seq_lt(base, end));
    assert_int_equal(seq_max(base, end), end);
    assert_int_equal(seq_min(base, end), base);
    assert_int_equal(seq_diff(end, base), 64);
    assert_int_equal(seq_diff(base, end), -64);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seq_compare_table_matches_sign),
      cmocka_unit_test(test_seq_half_apart_both_before),
      cmocka_unit_test(test_seq_in_table_matches),
      cmocka_unit_test(test_seq_sliding_window_across_wrap_invariant),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
