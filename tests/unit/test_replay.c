/*
 * test_replay.c — replay.c, the RFC 6479 anti-replay window (8192 bits,
 * 8128 counters of reach).
 *
 * Tables in the manner of WireGuard's selftest/counter.c: each row feeds
 * one counter and says whether it must be accepted, numbered so a failure
 * names its row.  Every row also asks tcpu_replay_check first, which must
 * predict tcpu_replay_update's answer without changing anything.  Then a
 * seeded random walk against a plain model: a set of every counter ever
 * accepted and the highest one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/replay.h"

#define W TCPU_NOISE_REPLAY_WINDOW        /* 8128 */
#define BITS TCPU_NOISE_REPLAY_BITS       /* 8192 */
#define LIM ((uint64_t)W + 1)             /* first counter that retires 0 */
#define REJ TCPU_NOISE_REJECT_AFTER_MESSAGES

static tcpu_replay r;
static int row;

#define T_INIT() (tcpu_replay_init(&r), row = 0)
#define T(n, want) feed(__LINE__, (uint64_t)(n), (want))

static void feed(int line, uint64_t n, int want) {
  tcpu_replay before = r;
  int predicted = tcpu_replay_check(&r, n);
  row++;
  if (memcmp(&before, &r, sizeof r) != 0)
    fail_msg("row %d (line %d): check changed the window", row, line);
  int got = tcpu_replay_update(&r, n);
  if (got != want || predicted != want)
    fail_msg("row %d (line %d): counter %llu: check %d update %d, want %d",
             row, line, (unsigned long long)n, predicted, got, want);
  if (!got && memcmp(&before, &r, sizeof r) != 0)
    fail_msg("row %d (line %d): a refused counter changed the window", row,
             line);
}

static void test_replay_window_constants(void **state) {
  (void)state;
  assert_int_equal(W, 8128);
  assert_true(W >= 8128);
  assert_true(REJ == UINT64_MAX - W - 1);
}

/* The basic table: order, duplicates, the window's edge, too old, far
 * jumps, and the reject limit. */
static void test_replay_table_basic(void **state) {
  (void)state;
  T_INIT();
  /*  1 */ T(0, 1);           /* first message */
  /*  2 */ T(1, 1);
  /*  3 */ T(1, 0);           /* duplicate */
  /*  4 */ T(9, 1);           /* a gap */
  /*  5 */ T(8, 1);           /* filled from behind */
  /*  6 */ T(7, 1);
  /*  7 */ T(7, 0);
  /*  8 */ T(LIM, 1);         /* top 8129: the window reaches down to 1 */
  /*  9 */ T(LIM - 1, 1);
  /* 10 */ T(LIM - 1, 0);
  /* 11 */ T(LIM - 2, 1);
  /* 12 */ T(2, 1);           /* old but inside, never seen */
  /* 13 */ T(2, 0);
  /* 14 */ T(0, 0);           /* one below the window */
  /* 15 */ T(1, 0);           /* at the edge, seen */
  /* 16 */ T(3, 1);           /* at the edge + 2, fresh */
  /* 17 */ T(LIM + 16, 1);    /* top 8145: the window starts at 17 */
  /* 18 */ T(4, 0);           /* too old now */
  /* 19 */ T(LIM + 16, 0);
  /* 20 */ T(17, 1);          /* exactly the edge */
  /* 21 */ T(16, 0);          /* one past it */
  /* 22 */ T(17, 0);
  /* 23 */ T(LIM * 4, 1);     /* a jump over the whole bitmap */
  /* 24 */ T(LIM * 4 - W, 1); /* the new edge: cleared, so fresh */
  /* 25 */ T(LIM * 4 - W - 1, 0);
  /* 26 */ T(LIM * 4 - W, 0);
  /* 27 */ T(LIM * 4 - 1, 1);
  /* 28 */ T(LIM + 16, 0);    /* from before the jump */
  /* 29 */ T(10, 0);
  /* 30 */ T(REJ, 0);         /* at the reject limit */
  /* 31 */ T(REJ - 1, 1);     /* the last usable counter */
  /* 32 */ T(REJ, 0);
  /* 33 */ T(REJ - 1, 0);
  /* 34 */ T(REJ - 2, 1);
  /* 35 */ T(REJ + 1, 0);
  /* 36 */ T(UINT64_MAX, 0);
  /* 37 */ T(REJ - 2, 0);
  /* 38 */ T(REJ - 3, 1);
  /* 39 */ T(REJ - 1 - W, 1); /* the edge below the last counter */
  /* 40 */ T(REJ - 2 - W, 0);
  /* 41 */ T(0, 0);
  /* 42 */ T(LIM * 4, 0);
}

/* Crossing bitmap words and laps of the ring.  Counter n is stored as
 * n + 1, in word (n + 1) / 64 of the 128-word ring. */
static void test_replay_table_word_boundaries(void **state) {
  (void)state;
  T_INIT();
  /*  1 */ T(62, 1);           /* word 0, its last bit */
  /*  2 */ T(63, 1);           /* word 1, its first bit */
  /*  3 */ T(62, 0);
  /*  4 */ T(63, 0);
  /*  5 */ T(64 * 127 - 1, 1); /* word 127, the ring's last slot */
  /*  6 */ T(64 * 128 - 1, 1); /* word 128 takes slot 0 over */
  /*  7 */ T(62, 0);           /* slot 0's old bit: too old anyway */
  /*  8 */ T(64 * 128 - 2, 1); /* word 127's other bits are clean */
  /*  9 */ T(64 * 127 - 1, 0); /* row 5 still remembered */
  /* 10 */ T(63, 0);           /* the edge (W below the top): row 2 */
  /* 11 */ T(64 * 129 - 1, 1); /* word 129 takes slot 1 over */
  /* 12 */ T(63, 0);           /* now beyond reach */
  /* 13 */ T(127, 1);          /* the new edge, word 2: fresh */
  /* 14 */ T(126, 0);          /* one beyond it */
  /* 15 */ T(64 * 256 - 1, 1); /* 127 words on: slots 2..127 and 0 */
  /* 16 */ T(64 * 129 - 1, 0); /* the edge: row 11, kept across the lap */
  /* 17 */ T(64 * 129, 1);     /* its neighbour, fresh */
  /* 18 */ T(64 * 384 + 5, 1); /* 128 words on: the whole ring cleared */
  /* 19 */ T(64 * 256 - 1, 0); /* beyond reach */
  /* 20 */ T(64 * 384 + 5 - W, 1); /* the edge, in a cleared word */
  /* 21 */ T(64 * 384 + 4 - W, 0);
}

/* WireGuard's fill patterns, for a window of W. */
static void test_replay_table_fills(void **state) {
  (void)state;
  uint64_t i;

  T_INIT();
  for (i = 1; i <= W; i++)
    T(i, 1);
  T(0, 1); /* exactly W below the top */
  T(0, 0);

  T_INIT();
  for (i = 2; i <= W + 1; i++)
    T(i, 1);
  T(1, 1);
  T(0, 0); /* W + 1 below */

  T_INIT();
  for (i = W + 1; i-- > 0;)
    T(i, 1); /* from the top down to 0 */

  T_INIT();
  for (i = W + 2; i-- > 1;)
    T(i, 1);
  T(0, 0);

  T_INIT();
  for (i = W + 1; i-- > 1;)
    T(i, 1);
  T(W + 1, 1);
  T(0, 0);

  T_INIT();
  for (i = W + 1; i-- > 1;)
    T(i, 1);
  T(0, 1);
  T(W + 1, 1);
}

/* Three laps of the ring in order, each counter twice. */
static void test_replay_in_order_laps_each_once(void **state) {
  (void)state;
  T_INIT();
  for (uint64_t i = 0; i < 3 * BITS + 100; i++) {
    T(i, 1);
    T(i, 0);
  }
}

/* Far-future jumps keep the old reach out and the new one clean. */
static void test_replay_far_jumps(void **state) {
  (void)state;
  const uint64_t jumps[] = {UINT64_C(1) << 20, (UINT64_C(1) << 32) + 7,
                            UINT64_C(1) << 40, REJ - 1};
  T_INIT();
  T(5, 1);
  uint64_t prev = 5;
  for (size_t j = 0; j < sizeof jumps / sizeof jumps[0]; j++) {
    uint64_t n = jumps[j];
    T(n, 1);
    T(prev, 0);
    T(n - W, 1);
    T(n - W - 1, 0);
    T(n - 1, 1);
    T(n, 0);
    prev = n;
  }
}

/* ---- random walk against a model */

typedef struct model {
  uint8_t *seen; /* one byte per counter below LIMIT */
  uint64_t top;  /* highest accepted + 1 */
} model;

#define LIMIT 400000

static int model_accept(model *m, uint64_t n) {
  if (m->top > n + 1 && m->top - (n + 1) > W)
    return 0;
  if (m->seen[n])
    return 0;
  m->seen[n] = 1;
  if (n + 1 > m->top)
    m->top = n + 1;
  return 1;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return rnd_state;
}

static void test_replay_random_walk_matches_model(void **state) {
  (void)state;
  model m = {calloc(LIMIT, 1), 0};
  uint64_t n = 0, accepted = 0;
  assert_non_null(m.seen);
  tcpu_replay_init(&r);
  for (int i = 0; i < 1000000; i++) {
    uint64_t x = rnd();
    switch (x % 8) {
    case 0: case 1: case 2: /* onwards, mostly in order */
      n += 1 + (x >> 8) % 3;
      break;
    case 3: /* a jump */
      n += (x >> 8) % 3000;
      break;
    case 4: case 5: /* reordered: somewhere behind, maybe beyond reach */
      n -= n < 9000 ? n / 2 : (x >> 8) % 9000;
      break;
    case 6: /* the window's edges */
      if (m.top > W + 2)
        n = m.top - 1 - W + ((x >> 8) % 3) - 1;
      break;
    default: /* a duplicate of something recent */
      break;
    }
    if (n >= LIMIT - 4000)
      break;
    int predicted = tcpu_replay_check(&r, n);
    int got = tcpu_replay_update(&r, n);
    int want = model_accept(&m, n);
    if (got != want || predicted != want)
      fail_msg("step %d: counter %llu: got %d predicted %d want %d", i,
               (unsigned long long)n, got, predicted, want);
    accepted += (uint64_t)got;
  }
  assert_true(accepted > 10000);
  free(m.seen);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_replay_window_constants),
      cmocka_unit_test(test_replay_table_basic),
      cmocka_unit_test(test_replay_table_word_boundaries),
      cmocka_unit_test(test_replay_table_fills),
      cmocka_unit_test(test_replay_in_order_laps_each_once),
      cmocka_unit_test(test_replay_far_jumps),
      cmocka_unit_test(test_replay_random_walk_matches_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
