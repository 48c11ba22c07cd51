/*
 * test_rob.c — receive reassembly (RFC 9293 §3.10.7.4, seventh step) and
 * the SACK blocks of the ACKs that follow (RFC 2018 §4 and the examples of
 * its §7; D-SACK, RFC 2883 §4 and its examples 1-6).
 *
 * rob.c is compiled into this file with malloc routed through a hook, so
 * that allocation failures can be injected at any point; its static
 * helpers also serve the invariant checks.  The ring comes from the
 * library.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "malloc_hook.h"

#define malloc(n) hooked_malloc(n)
#include "core/rob.c"
#undef malloc

#define CH TCPU_ROB_CHUNK

/* ---- helpers */

/* The byte the sender puts at sequence number seq: any slice of the
 * stream can be checked on its own. */
static uint8_t pat(uint32_t seq) {
  return (uint8_t)((seq * 2654435761u) >> 24);
}

static int ins(tcpu_rob *r, uint32_t nxt, uint32_t edge, uint32_t seq,
               uint32_t len) {
  uint8_t *b = malloc(len ? len : 1);
  assert_non_null(b);
  for (uint32_t i = 0; i < len; i++)
    b[i] = pat(seq + i);
  int rc = tcpu_rob_insert(r, nxt, edge, seq, b, len);
  free(b);
  return rc;
}

/* The ring's bytes [off, off + n) are the stream from seq on. */
static void expect_ring(const tcpu_ring *q, size_t off, uint32_t seq,
                        size_t n) {
  assert_true(off + n <= q->len);
  uint8_t *b = malloc(n ? n : 1);
  assert_non_null(b);
  tcpu_ring_peek(q, off, b, n);
  for (size_t i = 0; i < n; i++)
    if (b[i] != pat(seq + (uint32_t)i))
      fail_msg("ring byte %zu (seq %#x) is %#x, want %#x", off + i,
               seq + (unsigned)i, b[i], pat(seq + (uint32_t)i));
  free(b);
}

/* rob.h's invariants, and RCV.NXT below everything held. */
static void check_invariants(const tcpu_rob *r, uint32_t nxt) {
  size_t bytes = 0;
  assert_true(r->nranges <= TCPU_ROB_MAX_RANGES + 1);
  for (uint32_t i = 0; i < r->nranges; i++) {
    const tcpu_rob_range *g = &r->ranges[i];
    assert_true(seq_lt(g->start, g->end));
    assert_true(seq_geq(g->start, nxt));
    if (i > 0)
      assert_true(seq_lt(r->ranges[i - 1].end, g->start)); /* not adjacent */
    for (uint32_t j = 0; j < i; j++)
      assert_true(r->ranges[j].stamp != g->stamp);
    bytes += range_len(g);
    /* Every block under a range exists. */
    uint32_t b1 = blk_next(blk_of(g->end - 1));
    for (uint32_t b = blk_of(g->start); b != b1; b = blk_next(b))
      assert_non_null(*slot_of(r, b));
  }
  assert_int_equal(bytes, r->bytes);
  /* Every block that exists is under a range, and the count is right. */
  uint32_t blocks = 0;
  for (uint32_t i = 0; i < r->nslots; i++)
    if (r->slot[i])
      blocks++;
  assert_int_equal(blocks, r->nblocks);
  if (r->nranges == 0) {
    assert_null(r->ranges);
    assert_null(r->slot);
    assert_int_equal(tcpu_rob_mem(r), 0);
  } else {
    uint32_t lo = blk_of(r->ranges[0].start);
    for (uint32_t k = 0; k < r->nslots; k++) {
      uint32_t b = (lo + k) & BLK_MASK;
      if (*slot_of(r, b))
        assert_true(block_in_use(r, b));
    }
  }
}

static void expect_blocks(tcpu_rob *r, uint32_t nxt, int n,
                          const tcpu_sack_block *want) {
  tcpu_sack_block got[TCPU_SACK_MAX_BLOCKS];
  int k = tcpu_rob_sack_blocks(r, nxt, got, TCPU_SACK_MAX_BLOCKS);
  assert_int_equal(k, n);
  for (int i = 0; i < n; i++) {
    if (got[i].start != want[i].start || got[i].end != want[i].end)
      fail_msg("block %d is %u-%u, want %u-%u", i, got[i].start, got[i].end,
               want[i].start, want[i].end);
  }
}

/* ---- basics */

static void test_rob_init_idle_allocates_nothing(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  tcpu_sack_block b[4];
  assert_true(tcpu_rob_empty(&r));
  assert_int_equal(tcpu_rob_bytes(&r), 0);
  assert_int_equal(tcpu_rob_mem(&r), 0);
  assert_int_equal(tcpu_rob_sack_blocks(&r, 7, b, 4), 0);
  assert_int_equal(tcpu_rob_highest(&r, 7), 7);
  assert_int_equal(ins(&r, 7, 1000, 100, 0), 0); /* zero length */
  assert_int_equal(tcpu_rob_mem(&r), 0);
  tcpu_rob_note_dup_below(&r, 5, 5); /* empty range */
  assert_false(tcpu_rob_dsack_pending(&r));
  tcpu_rob_free(&r);
}

static void test_rob_in_order_insert_pops_at_once(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_ring q;
  tcpu_rob_init(&r);
  tcpu_ring_init(&q, 65536);
  uint32_t nxt = 1000;
  assert_int_equal(ins(&r, nxt, nxt + 65536, nxt, 5000), 5000);
  assert_int_equal(tcpu_rob_pop(&r, nxt, &q), 5000);
  expect_ring(&q, 0, nxt, 5000);
  assert_true(tcpu_rob_empty(&r));
  assert_int_equal(tcpu_rob_mem(&r), 0); /* back to idle */
  assert_int_equal(r.st.segs_stored, 1);
  tcpu_ring_free(&q);
  tcpu_rob_free(&r);
}

/* Five segments of awkward sizes (crossing block boundaries), delivered in
 * all 120 orders: the stream comes out whole each time, and while a
 * segment waits, the first SACK block contains it (RFC 2018 §4). */
static void test_rob_holes_any_order_stream_exact(void **state) {
  (void)state;
  static const uint32_t len[5] = {700, 1300, 4097, 1, 5000};
  uint32_t off[5], total = 0;
  for (int i = 0; i < 5; i++) {
    off[i] = total;
    total += len[i];
  }
  for (int p = 0; p < 120; p++) {
    /* Permutation p in the factorial number system. */
    int order[5], pool[5] = {0, 1, 2, 3, 4}, left = 5, x = p;
    for (int i = 0; i < 5; i++) {
      int k = x % left;
      x /= left;
      order[i] = pool[k];
      pool[k] = pool[--left];
    }
    tcpu_rob r;
    tcpu_ring q;
    tcpu_rob_init(&r);
    tcpu_ring_init(&q, 1 << 16);
    uint32_t base = 0x7ffff000u, nxt = base;
    for (int i = 0; i < 5; i++) {
      uint32_t seq = base + off[order[i]], n = len[order[i]];
      assert_int_equal(ins(&r, nxt, nxt + 65536, seq, n), (int)n);
      nxt += (uint32_t)tcpu_rob_pop(&r, nxt, &q);
      check_invariants(&r, nxt);
      tcpu_sack_block b[4];
      int k = tcpu_rob_sack_blocks(&r, nxt, b, 4);
      if (seq_gt(seq + n, nxt)) {
        assert_true(k > 0);
        assert_true(seq_leq(b[0].start, seq) && seq_geq(b[0].end, seq + n));
      }
    }
    assert_int_equal(nxt - base, total);
    expect_ring(&q, 0, base, total);
    assert_true(tcpu_rob_empty(&r));
    assert_int_equal(tcpu_rob_mem(&r), 0);
    tcpu_ring_free(&q);
    tcpu_rob_free(&r);
  }
}

/* ---- overlaps and duplicates */

static void test_rob_overlap_both_ends_stores_only_new(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_ring q;
  tcpu_rob_init(&r);
  tcpu_ring_init(&q, 1 << 16);
  const uint32_t nxt = 0, edge = 10000;
  assert_int_equal(ins(&r, nxt, edge, 100, 100), 100); /* [100,200) */
  assert_int_equal(ins(&r, nxt, edge, 50, 100), 50);   /* left overlap */
  assert_int_equal(ins(&r, nxt, edge, 150, 150), 100); /* right overlap */
  assert_int_equal(ins(&r, nxt, edge, 40, 270), 20);   /* both ends */
  assert_int_equal(r.nranges, 1);
  assert_int_equal(r.ranges[0].start, 40);
  assert_int_equal(r.ranges[0].end, 310);
  assert_int_equal(tcpu_rob_bytes(&r), 270);
  /* Each partial duplicate touched the last: one D-SACK covers them. */
  assert_true(tcpu_rob_dsack_pending(&r));
  assert_int_equal(r.dsack.start, 50);
  assert_int_equal(r.dsack.end, 300);

  /* Different bytes over held data: only the gaps take them, the first
   * copy received is kept. */
  uint8_t junk[290];
  memset(junk, 0xee, sizeof junk);
  assert_int_equal(tcpu_rob_insert(&r, nxt, edge, 30, junk, sizeof junk), 20);
  assert_int_equal(ins(&r, nxt, edge, 0, 30), 30);
  assert_int_equal(tcpu_rob_pop(&r, nxt, &q), 320);
  expect_ring(&q, 0, 0, 30);
  expect_ring(&q, 40, 40, 270);
  uint8_t b[10];
  tcpu_ring_peek(&q, 30, b, 10);
  for (int i = 0; i < 10; i++)
    assert_int_equal(b[i], 0xee);
  tcpu_ring_peek(&q, 310, b, 10);
  for (int i = 0; i < 10; i++)
    assert_int_equal(b[i], 0xee);
  tcpu_ring_free(&q);
  tcpu_rob_free(&r);
}

static void test_rob_segment_bridging_ranges_merges_them(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  const uint32_t nxt = 0, edge = 100000;
  assert_int_equal(ins(&r, nxt, edge, 10, 10), 10);
  assert_int_equal(ins(&r, nxt, edge, 30, 10), 10);
  assert_int_equal(ins(&r, nxt, edge, 50, 10), 10);
  assert_int_equal(ins(&r, nxt, edge, 70, 10), 10);
  assert_int_equal(r.nranges, 4);
  assert_int_equal(ins(&r, nxt, edge, 15, 40), 20); /* covers 2, bridges 3 */
  assert_int_equal(r.nranges, 2);
  assert_int_equal(ins(&r, nxt, edge, 60, 10), 10); /* exactly the gap */
  assert_int_equal(r.nranges, 1);
  assert_int_equal(r.ranges[0].start, 10);
  assert_int_equal(r.ranges[0].end, 80);
  check_invariants(&r, nxt);
  /* Far ranges in other blocks, then one segment across all of them. */
  assert_int_equal(ins(&r, nxt, edge, 3 * CH, 100), 100);
  assert_int_equal(ins(&r, nxt, edge, 6 * CH - 1, 2), 2);
  assert_int_equal(ins(&r, nxt, edge, 5, 8 * CH), (int)(8 * CH - 70 - 102));
  assert_int_equal(r.nranges, 1);
  check_invariants(&r, nxt);
  assert_int_equal(r.nblocks, 9); /* [5, 8 CH + 5) touches blocks 0..8 */
  tcpu_rob_free(&r);
}

/* RFC 2883 §4.1.3 style: a second copy of held data is a D-SACK, and the
 * range holding it becomes the most recent SACK block. */
static void test_rob_full_dup_above_nxt_dsack_then_its_range(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  const uint32_t nxt = 1000, edge = 100000;
  assert_int_equal(ins(&r, nxt, edge, 2000, 500), 500);
  assert_int_equal(ins(&r, nxt, edge, 4000, 500), 500);
  assert_int_equal(ins(&r, nxt, edge, 2100, 100), 0);
  assert_int_equal(r.st.segs_dup, 1);
  assert_true(tcpu_rob_dsack_pending(&r));
  expect_blocks(&r, nxt, 3,
                (tcpu_sack_block[]){{2100, 2200}, {2000, 2500}, {4000, 4500}});
  /* Consumed: the next ACK has only the plain blocks. */
  expect_blocks(&r, nxt, 2, (tcpu_sack_block[]){{2000, 2500}, {4000, 4500}});
  tcpu_rob_free(&r);
}

static void test_rob_dup_below_nxt_dsack_once(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  const uint32_t nxt = 5000, edge = 50000;
  assert_int_equal(ins(&r, nxt, edge, 6000, 500), 500);
  tcpu_rob_note_dup_below(&r, 3000, 3500);
  assert_int_equal(r.st.segs_dup, 1);
  expect_blocks(&r, nxt, 2, (tcpu_sack_block[]){{3000, 3500}, {6000, 6500}});
  expect_blocks(&r, nxt, 1, (tcpu_sack_block[]){{6000, 6500}});
  /* A wholly old segment passed to insert is the same duplicate. */
  assert_int_equal(ins(&r, nxt, edge, 4000, 1000), 0);
  assert_int_equal(r.st.segs_dup, 2);
  expect_blocks(&r, nxt, 2, (tcpu_sack_block[]){{4000, 5000}, {6000, 6500}});
  /* A newer duplicate replaces an unsent older one. */
  tcpu_rob_note_dup_below(&r, 100, 200);
  tcpu_rob_note_dup_below(&r, 300, 400);
  expect_blocks(&r, nxt, 2, (tcpu_sack_block[]){{300, 400}, {6000, 6500}});
  tcpu_rob_free(&r);
}

static void test_rob_dsack_no_room_kept_for_later(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  tcpu_sack_block b[4];
  tcpu_rob_note_dup_below(&r, 10, 20);
  assert_int_equal(tcpu_rob_sack_blocks(&r, 100, b, 0), 0);
  assert_true(tcpu_rob_dsack_pending(&r));
  assert_int_equal(tcpu_rob_sack_blocks(&r, 100, b, 1), 1);
  assert_int_equal(b[0].start, 10);
  assert_int_equal(b[0].end, 20);
  assert_false(tcpu_rob_dsack_pending(&r));
  tcpu_rob_free(&r);
}

/* A partial duplicate that brings new bytes reports its first duplicate
 * run, unless an unrelated D-SACK is already waiting (RFC 2883 §4.2.2:
 * only the first duplicate of a segment is reported). */
static void test_rob_partial_dup_first_run_reported(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  const uint32_t nxt = 0, edge = 100000;
  assert_int_equal(ins(&r, nxt, edge, 100, 100), 100);
  assert_int_equal(ins(&r, nxt, edge, 300, 100), 100);
  assert_int_equal(ins(&r, nxt, edge, 150, 200), 100); /* dup 150-200 first */
  expect_blocks(&r, nxt, 2, (tcpu_sack_block[]){{150, 200}, {100, 400}});
  tcpu_rob_note_dup_below(&r, 0xfffffff0u, 0); /* waiting, unrelated */
  assert_int_equal(ins(&r, nxt, edge, 350, 100), 50);
  expect_blocks(&r, nxt, 2, (tcpu_sack_block[]){{0xfffffff0u, 0}, {100, 450}});
  tcpu_rob_note_dup_below(&r, 50, 120);
  assert_int_equal(ins(&r, nxt, edge, 400, 100), 50);
  expect_blocks(&r, nxt, 2, (tcpu_sack_block[]){{50, 120}, {100, 500}});
  /* One that touches the waiting report extends it (the rob does not
   * check where a noted duplicate lies). */
  tcpu_rob_note_dup_below(&r, 440, 450);
  assert_int_equal(ins(&r, nxt, edge, 450, 100), 50);
  expect_blocks(&r, nxt, 2, (tcpu_sack_block[]){{440, 500}, {100, 550}});
  tcpu_rob_free(&r);
}

/* ---- window edges */

static void test_rob_outside_window_not_stored(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  const uint32_t nxt = 1000, edge = 2000;
  assert_int_equal(ins(&r, nxt, edge, 1900, 200), 100); /* clipped */
  assert_int_equal(tcpu_rob_highest(&r, nxt), 2000);
  assert_int_equal(ins(&r, nxt, edge, 2000, 100), 0); /* just beyond */
  assert_int_equal(ins(&r, nxt, 1000, 1500, 10), 0);  /* zero window */
  assert_int_equal(ins(&r, nxt, 900, 1500, 10), 0);   /* edge behind nxt */
  assert_false(tcpu_rob_dsack_pending(&r));
  assert_int_equal(r.st.segs_dup, 0);
  assert_int_equal(r.st.segs_stored, 1);
  assert_int_equal(tcpu_rob_bytes(&r), 100);
  /* The window shrank below held data: it stays, and a copy of it is a
   * duplicate. */
  assert_int_equal(ins(&r, nxt, 1500, 1950, 10), 0);
  assert_int_equal(r.st.segs_dup, 1);
  expect_blocks(&r, nxt, 2, (tcpu_sack_block[]){{1950, 1960}, {1900, 2000}});
  tcpu_rob_free(&r);
}

static void test_rob_data_below_nxt_discarded(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_ring q;
  tcpu_rob_init(&r);
  tcpu_ring_init(&q, 1 << 16);
  assert_int_equal(ins(&r, 0, 100000, 100, 100), 100);
  assert_int_equal(ins(&r, 0, 100000, 300, 100), 100);
  assert_int_equal(ins(&r, 0, 100000, 3 * CH, 100), 100);
  /* The caller took [0, 350) by itself. */
  expect_blocks(&r, 350, 2,
                (tcpu_sack_block[]){{3 * CH, 3 * CH + 100}, {350, 400}});
  assert_int_equal(tcpu_rob_bytes(&r), 150);
  check_invariants(&r, 350);
  assert_int_equal(tcpu_rob_pop(&r, 350, &q), 50);
  expect_ring(&q, 0, 350, 50);
  /* Past everything: idle again. */
  assert_int_equal(tcpu_rob_pop(&r, 5 * CH, &q), 0);
  assert_true(tcpu_rob_empty(&r));
  assert_int_equal(tcpu_rob_mem(&r), 0);
  tcpu_ring_free(&q);
  tcpu_rob_free(&r);
}

static void test_rob_pop_nearly_full_ring_moves_what_fits(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_ring q;
  tcpu_rob_init(&r);
  tcpu_ring_init(&q, 100);
  uint8_t filler[90] = {0};
  assert_int_equal(tcpu_ring_push(&q, filler, sizeof filler), 90);
  uint32_t nxt = 0xfffffff8u; /* and across the wrap */
  assert_int_equal(ins(&r, nxt, nxt + 1000, nxt + 5, 45), 45);
  assert_int_equal(ins(&r, nxt, nxt + 1000, nxt, 5), 5);
  size_t n = tcpu_rob_pop(&r, nxt, &q);
  assert_int_equal(n, 10);
  expect_ring(&q, 90, nxt, 10);
  nxt += (uint32_t)n;
  assert_int_equal(tcpu_rob_bytes(&r), 40);
  assert_int_equal(tcpu_rob_pop(&r, nxt, &q), 0); /* ring full */
  tcpu_ring_drop(&q, q.len);
  assert_int_equal(tcpu_rob_pop(&r, nxt, &q), 40);
  expect_ring(&q, 0, nxt, 40);
  assert_true(tcpu_rob_empty(&r));
  tcpu_ring_free(&q);
  tcpu_rob_free(&r);
}

/* ---- the range cap */

static void test_rob_range_cap_drops_new_range_counts_it(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_ring q;
  tcpu_rob_init(&r);
  tcpu_ring_init(&q, 1 << 16);
  const uint32_t nxt = 1000, edge = nxt + 100000;
  for (uint32_t i = 0; i < TCPU_ROB_MAX_RANGES; i++)
    assert_int_equal(ins(&r, nxt, edge, nxt + 10 + 4 * i, 2), 2);
  assert_int_equal(r.nranges, TCPU_ROB_MAX_RANGES);
  uint32_t past = nxt + 10 + 4 * TCPU_ROB_MAX_RANGES;
  assert_int_equal(ins(&r, nxt, edge, past + 50, 2), 0);
  assert_int_equal(r.st.segs_dropped, 1);
  assert_int_equal(r.nranges, TCPU_ROB_MAX_RANGES);
  assert_int_equal(tcpu_rob_bytes(&r), 2 * TCPU_ROB_MAX_RANGES);
  assert_false(tcpu_rob_dsack_pending(&r));
  /* Growing a range or joining two is still fine. */
  assert_int_equal(ins(&r, nxt, edge, past - 2, 1), 1);
  assert_int_equal(ins(&r, nxt, edge, nxt + 12, 2), 2);
  assert_int_equal(r.nranges, TCPU_ROB_MAX_RANGES - 1);
  assert_int_equal(ins(&r, nxt, edge, past + 50, 2), 2);
  assert_int_equal(r.nranges, TCPU_ROB_MAX_RANGES);
  /* Data at RCV.NXT is never refused: it leaves at the next pop. */
  assert_int_equal(ins(&r, nxt, edge, nxt, 5), 5);
  assert_int_equal(r.nranges, TCPU_ROB_MAX_RANGES + 1);
  check_invariants(&r, nxt);
  assert_int_equal(tcpu_rob_pop(&r, nxt, &q), 5);
  assert_int_equal(r.nranges, TCPU_ROB_MAX_RANGES);
  assert_int_equal(r.st.segs_dropped, 1);
  tcpu_ring_free(&q);
  tcpu_rob_free(&r);
}

/* ---- SACK order: RFC 2018 §7 and RFC 2883 §4 as tables */

typedef struct sack_step {
  uint32_t seq, len; /* segment received; len 0 ends the case */
  uint32_t ack;      /* RCV.NXT after it */
  int n;             /* SACK blocks in the ACK it triggers */
  tcpu_sack_block blk[TCPU_SACK_MAX_BLOCKS];
} sack_step;

typedef struct sack_case {
  const char *name;
  uint32_t nxt;
  sack_step step[10];
} sack_case;

#define T0(seq, len, ack)                                                      \
  {                                                                            \
    (seq), (len), (ack), 0, {                                                  \
      { 0, 0 }                                                                 \
    }                                                                          \
  }
#define T(seq, len, ack, n, ...)                                               \
  {                                                                            \
    (seq), (len), (ack), (n), { __VA_ARGS__ }                                  \
  }
#define B(a, b)                                                                \
  { (a), (b) }

static const sack_case sack_cases[] = {
    {"rfc2018 7 case 1: the last 4 of 8 dropped",
     5000,
     {T0(5000, 500, 5500), T0(5500, 500, 6000), T0(6000, 500, 6500),
      T0(6500, 500, 7000)}},
    {"rfc2018 7 case 2: the first of 8 dropped",
     5000,
     {T(5500, 500, 5000, 1, B(5500, 6000)),
      T(6000, 500, 5000, 1, B(5500, 6500)),
      T(6500, 500, 5000, 1, B(5500, 7000)),
      T(7000, 500, 5000, 1, B(5500, 7500)),
      T(7500, 500, 5000, 1, B(5500, 8000)),
      T(8000, 500, 5000, 1, B(5500, 8500)),
      T(8500, 500, 5000, 1, B(5500, 9000))}},
    {"rfc2018 7 case 3: every other one dropped, then filled",
     5000,
     {T0(5000, 500, 5500), T(6000, 500, 5500, 1, B(6000, 6500)),
      T(7000, 500, 5500, 2, B(7000, 7500), B(6000, 6500)),
      T(8000, 500, 5500, 3, B(8000, 8500), B(7000, 7500), B(6000, 6500)),
      /* "the 4th packet is received out of order" */
      T(6500, 500, 5500, 2, B(6000, 7500), B(8000, 8500)),
      /* "the 2nd segment is received" */
      T(5500, 500, 7500, 1, B(8000, 8500))}},
    {"rfc2883 4.1.1 example 1: duplicate segment",
     3000,
     {T0(3000, 500, 3500), T0(3500, 500, 4000),
      T(3000, 500, 4000, 1, B(3000, 3500))}},
    {"rfc2883 4.1.2 example 2: out-of-order and duplicate",
     3000,
     {T0(3000, 500, 3500), T0(3500, 500, 4000),
      T(4500, 500, 4000, 1, B(4500, 5000)),
      T(3000, 500, 4000, 2, B(3000, 3500), B(4500, 5000))}},
    {"rfc2883 4.1.3 example 3: duplicate of an out-of-order segment",
     3500,
     {T0(3500, 500, 4000), T(4500, 500, 4000, 1, B(4500, 5000)),
      T(5000, 500, 4000, 1, B(4500, 5500)),
      T(5000, 500, 4000, 2, B(5000, 5500), B(4500, 5500))}},
    {"rfc2883 4.2.1 example 4: single duplicate subsegment",
     500,
     {T0(500, 500, 1000), T(2000, 500, 1000, 1, B(2000, 2500)),
      T(1000, 500, 1500, 1, B(2000, 2500)),
      T(1000, 1000, 2500, 1, B(1000, 1500))}},
    {"rfc2883 4.2.2 example 5: two duplicates, covered by the ACK",
     500,
     {T0(500, 500, 1000), T(3000, 500, 1000, 1, B(3000, 3500)),
      T(1000, 500, 1500, 1, B(3000, 3500)),
      T(2000, 500, 1500, 2, B(2000, 2500), B(3000, 3500)),
      T(1000, 1500, 2500, 2, B(1000, 1500), B(3000, 3500))}},
    {"rfc2883 4.2.3 example 6: two duplicates, not covered by the ACK",
     500,
     {T0(500, 500, 1000), T(3500, 500, 1000, 1, B(3500, 4000)),
      T(1500, 500, 1000, 2, B(1500, 2000), B(3500, 4000)),
      T(2500, 500, 1000, 3, B(2500, 3000), B(1500, 2000), B(3500, 4000)),
      T(1500, 1500, 1000, 3, B(1500, 2000), B(1500, 3000), B(3500, 4000))}},
};

#undef T0
#undef T
#undef B

/* A receiver as conn.c would drive the rob: a wholly old segment is a
 * duplicate; otherwise the segment goes in (trimmed to RCV.NXT first when
 * `trim`, reporting the head through note_dup_below) and whatever became
 * contiguous is popped; the application reads at once. */
#define RX_WND 65536u
static void run_case(const sack_case *c, uint32_t shift, int trim) {
  tcpu_rob r;
  tcpu_ring q;
  tcpu_rob_init(&r);
  tcpu_ring_init(&q, RX_WND);
  uint32_t nxt = c->nxt + shift;
  for (const sack_step *s = c->step; s->len > 0; s++) {
    uint32_t seq = s->seq + shift, end = seq + s->len;
    if (seq_leq(end, nxt)) {
      tcpu_rob_note_dup_below(&r, seq, end);
    } else if (trim && seq_lt(seq, nxt)) {
      tcpu_rob_note_dup_below(&r, seq, nxt);
      assert_true(ins(&r, nxt, nxt + RX_WND, nxt, end - nxt) >= 0);
    } else {
      assert_true(ins(&r, nxt, nxt + RX_WND, seq, s->len) >= 0);
    }
    size_t n = tcpu_rob_pop(&r, nxt, &q);
    expect_ring(&q, 0, nxt, n);
    tcpu_ring_drop(&q, n);
    nxt += (uint32_t)n;
    check_invariants(&r, nxt);
    tcpu_sack_block got[TCPU_SACK_MAX_BLOCKS];
    int k = tcpu_rob_sack_blocks(&r, nxt, got, TCPU_SACK_MAX_BLOCKS);
    int row = (int)(s - c->step);
    if (nxt != s->ack + shift)
      fail_msg("%s (shift %#x, trim %d), row %d: ack %u, want %u", c->name,
               shift, trim, row, nxt - shift, s->ack);
    if (k != s->n)
      fail_msg("%s (shift %#x, trim %d), row %d: %d blocks, want %d", c->name,
               shift, trim, row, k, s->n);
    for (int i = 0; i < k; i++)
      if (got[i].start != s->blk[i].start + shift ||
          got[i].end != s->blk[i].end + shift)
        fail_msg("%s (shift %#x, trim %d), row %d: block %d is %u-%u, "
                 "want %u-%u",
                 c->name, shift, trim, row, i, got[i].start - shift,
                 got[i].end - shift, s->blk[i].start, s->blk[i].end);
  }
  tcpu_ring_free(&q);
  tcpu_rob_free(&r);
}

static void test_rob_rfc_examples_sack_order(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof sack_cases / sizeof sack_cases[0]; i++)
    for (int trim = 0; trim < 2; trim++)
      run_case(&sack_cases[i], 0, trim);
}

/* The same tables moved so that the data straddles 2^32. */
static void test_rob_rfc_examples_across_wrap_same_order(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof sack_cases / sizeof sack_cases[0]; i++)
    for (int trim = 0; trim < 2; trim++)
      for (uint32_t back = 1; back <= 5001; back += 1000)
        run_case(&sack_cases[i], 0u - sack_cases[i].nxt - back, trim);
}

static void test_rob_more_ranges_than_room_newest_first(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  const uint32_t nxt = 0, edge = 100000;
  /* Arrival order 3, 1, 5, 2, 6, 4 (ranges at k * 1000). */
  static const uint32_t order[6] = {3, 1, 5, 2, 6, 4};
  for (int i = 0; i < 6; i++)
    assert_int_equal(ins(&r, nxt, edge, order[i] * 1000, 100), 100);
  tcpu_sack_block b[3];
  assert_int_equal(tcpu_rob_sack_blocks(&r, nxt, b, 3), 3);
  assert_int_equal(b[0].start, 4000);
  assert_int_equal(b[1].start, 6000);
  assert_int_equal(b[2].start, 2000);
  /* A D-SACK takes the first place and pushes the oldest out. */
  tcpu_rob_note_dup_below(&r, 0xffffff00u, 0xffffff10u);
  assert_int_equal(tcpu_rob_sack_blocks(&r, nxt, b, 3), 3);
  assert_int_equal(b[0].start, 0xffffff00u);
  assert_int_equal(b[1].start, 4000);
  assert_int_equal(b[2].start, 6000);
  /* Growing an old range makes it the newest. */
  assert_int_equal(ins(&r, nxt, edge, 1100, 50), 50);
  assert_int_equal(tcpu_rob_sack_blocks(&r, nxt, b, 3), 3);
  assert_int_equal(b[0].start, 1000);
  assert_int_equal(b[0].end, 1150);
  assert_int_equal(b[1].start, 4000);
  tcpu_rob_free(&r);
}

/* ---- wraparound */

static void test_rob_wrap_blocks_and_pop_continuous(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_ring q;
  tcpu_rob_init(&r);
  tcpu_ring_init(&q, 1 << 20);
  uint32_t nxt = 0u - 3 * CH - 17; /* a few blocks before 2^32 */
  uint32_t edge = nxt + (1 << 20);
  /* Beyond the wrap first, then just before it, then across it. */
  assert_int_equal(ins(&r, nxt, edge, 1000, 3000), 3000);
  assert_int_equal(ins(&r, nxt, edge, 0u - 500, 200), 200);
  assert_int_equal(tcpu_rob_highest(&r, nxt), 4000);
  expect_blocks(&r, nxt, 2,
                (tcpu_sack_block[]){{0u - 500, 0u - 300}, {1000, 4000}});
  assert_int_equal(ins(&r, nxt, edge, 0u - 400, 1500), 1300);
  /* Its first duplicate run is the D-SACK (RFC 2883 §4.2.3). */
  expect_blocks(&r, nxt, 2,
                (tcpu_sack_block[]){{0u - 400, 0u - 300}, {0u - 500, 4000}});
  check_invariants(&r, nxt);
  uint32_t head = 0u - 500 - nxt;
  assert_int_equal(ins(&r, nxt, edge, nxt, head), (int)head);
  size_t n = tcpu_rob_pop(&r, nxt, &q);
  assert_int_equal(n, 4000u - nxt);
  expect_ring(&q, 0, nxt, n);
  assert_true(tcpu_rob_empty(&r));
  assert_int_equal(tcpu_rob_mem(&r), 0);
  tcpu_ring_free(&q);
  tcpu_rob_free(&r);
}

/* ---- random arrivals: memory bound and an exact stream */

static uint64_t rnd(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

static void random_run(uint64_t seed, uint32_t wnd, uint32_t iss,
                       uint32_t total, uint32_t maxlen, int want_drops) {
  uint8_t *src = malloc(total), *out = malloc(wnd);
  assert_non_null(src);
  assert_non_null(out);
  for (uint32_t i = 0; i < total; i++)
    src[i] = (uint8_t)rnd(&seed);
  tcpu_rob r;
  tcpu_ring q;
  tcpu_rob_init(&r);
  tcpu_ring_init(&q, wnd);
  uint32_t nxt = iss, read = 0; /* bytes the application has checked */
  unsigned segs = 0, max_ranges = 0;
  size_t max_mem = 0;
  while (read < total) {
    uint32_t done = nxt - iss, space = (uint32_t)tcpu_ring_space(&q);
    uint32_t edge = nxt + space;
    uint32_t pick = (uint32_t)(rnd(&seed) % 100), off;
    if (pick < 12)
      off = done; /* the head: a retransmission */
    else if (pick < 20)
      off = done - (uint32_t)(rnd(&seed) % (done < 3000 ? done + 1 : 3000));
    else
      off = done + (uint32_t)(rnd(&seed) % (space + 2 * maxlen + 1));
    uint32_t len = 1 + (uint32_t)(rnd(&seed) % maxlen);
    if (off >= total)
      continue;
    if (len > total - off)
      len = total - off;
    uint32_t seq = iss + off;
    if (seq_leq(seq + len, nxt)) {
      tcpu_rob_note_dup_below(&r, seq, seq + len);
    } else {
      int rc = tcpu_rob_insert(&r, nxt, edge, seq, src + off, len);
      assert_true(rc >= 0);
      assert_true((uint32_t)rc <= len);
    }
    segs++;
    /* RFC 9293 §3.10.7.4: only the window is held, and block memory
     * stays within the window plus two partial blocks, and within the
     * bytes held plus two partial blocks per range. */
    assert_true(tcpu_rob_bytes(&r) <= edge - nxt);
    size_t blk_mem = (size_t)r.nblocks * CH;
    assert_true(blk_mem <= (size_t)(edge - nxt) + 2 * CH);
    assert_true(blk_mem <= tcpu_rob_bytes(&r) + 2 * CH * (size_t)r.nranges);
    if (r.nranges > max_ranges)
      max_ranges = r.nranges;
    if (tcpu_rob_mem(&r) > max_mem)
      max_mem = tcpu_rob_mem(&r);
    if (segs % 64 == 0)
      check_invariants(&r, nxt);
    if (segs % 5 == 0) {
      tcpu_sack_block b[TCPU_SACK_MAX_BLOCKS];
      int first = tcpu_rob_dsack_pending(&r) ? 1 : 0;
      int k = tcpu_rob_sack_blocks(&r, nxt, b, TCPU_SACK_MAX_BLOCKS);
      for (int i = first; i < k; i++)
        assert_true(seq_geq(b[i].start, nxt) && seq_leq(b[i].end, edge));
    }
    nxt += (uint32_t)tcpu_rob_pop(&r, nxt, &q);
    /* The application reads some, or all, of what arrived. */
    size_t n = q.len;
    if (rnd(&seed) % 3 == 0)
      n = (size_t)(rnd(&seed) % (q.len + 1));
    tcpu_ring_peek(&q, 0, out, n);
    if (memcmp(out, src + read, n) != 0)
      fail_msg("stream differs within [%u, %zu)", read, read + n);
    tcpu_ring_drop(&q, n);
    read += (uint32_t)n;
  }
  assert_true(segs > 5000);
  assert_true(max_ranges > 8); /* the test did reorder */
  assert_true(r.st.segs_dup > 0 && r.st.segs_stored > 1000);
  if (want_drops) /* the range cap was reached, and survived */
    assert_true(r.st.segs_dropped > 0 && max_ranges == TCPU_ROB_MAX_RANGES + 1);
  size_t slots = 2 * ((size_t)wnd / CH + 2);
  if (slots < NSLOTS_MIN)
    slots = NSLOTS_MIN;
  assert_true(max_mem <=
              (size_t)wnd + 2 * CH +
                  (TCPU_ROB_MAX_RANGES + 1) * sizeof(tcpu_rob_range) +
                  slots * sizeof(void *));
  assert_true(tcpu_rob_empty(&r));
  assert_int_equal(tcpu_rob_mem(&r), 0);
  tcpu_ring_free(&q);
  tcpu_rob_free(&r);
  free(src);
  free(out);
}

static void test_rob_random_arrivals_bounded_stream_exact(void **state) {
  (void)state;
  /* Windows that are and are not block multiples; streams that cross
   * 2^32. */
  random_run(0x5eed0001u, 65536, 0xfff00000u + 123, 4u << 20, 1460, 0);
  random_run(0x5eed0002u, 50000, 0xffffffffu - 70000, 3u << 20, 1460, 0);
  random_run(0x5eed0003u, 8000, 0u - 4000, 3u << 20, 1460, 0);
  /* Tiny segments over a wide window: many ranges, up to the cap. */
  random_run(0x5eed0004u, 65536, 0u - 9000, 1u << 19, 40, 1);
}

/* ---- allocation failure */

static void test_rob_alloc_failure_empty_rob_stays_idle(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  /* Range array, table, first block, second block. */
  for (long k = 0; k < 4; k++) {
    fail_after = k;
    assert_int_equal(ins(&r, 0, 100000, 100, CH), TCPU_ERR_NOMEM);
    fail_after = -1;
    assert_true(tcpu_rob_empty(&r));
    assert_int_equal(tcpu_rob_mem(&r), 0);
    assert_int_equal(r.st.segs_stored, 0);
  }
  assert_int_equal(ins(&r, 0, 100000, 100, CH), (int)CH);
  tcpu_rob_free(&r);
}

/* A segment that bridges ranges and needs a larger table and several new
 * blocks: each possible failure leaves the rob exactly as it was. */
static void test_rob_alloc_failure_leaves_state_unchanged(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_ring q;
  tcpu_rob_init(&r);
  tcpu_ring_init(&q, 1 << 20);
  const uint32_t nxt = 0u - 2 * CH, edge = nxt + (1 << 20);
  assert_int_equal(ins(&r, nxt, edge, nxt + 100, 100), 100);
  assert_int_equal(ins(&r, nxt, edge, nxt + 5 * CH, 100), 100);
  tcpu_rob_note_dup_below(&r, 1, 2);
  tcpu_rob_range before[TCPU_ROB_MAX_RANGES + 1];
  uint32_t nranges = r.nranges, nblocks = r.nblocks;
  memcpy(before, r.ranges, nranges * sizeof *before);
  tcpu_rob_stats st = r.st;
  long failures = 0;
  for (long k = 0;; k++) {
    fail_after = k;
    int rc = ins(&r, nxt, edge, nxt + 150, 40 * CH);
    fail_after = -1;
    if (rc >= 0) {
      assert_int_equal(rc, 40 * CH - 150); /* 50 + 100 were held */
      break;
    }
    failures++;
    assert_int_equal(rc, TCPU_ERR_NOMEM);
    assert_int_equal(r.nranges, nranges);
    assert_memory_equal(r.ranges, before, nranges * sizeof *before);
    assert_int_equal(r.nblocks, nblocks);
    assert_int_equal(r.bytes, 200);
    assert_memory_equal(&r.st, &st, sizeof st);
    assert_true(tcpu_rob_dsack_pending(&r));
    assert_int_equal(r.dsack.start, 1);
    check_invariants(&r, nxt);
  }
  assert_true(failures > 30); /* table and every missing block */
  check_invariants(&r, nxt);
  assert_int_equal(ins(&r, nxt, edge, nxt, 100), 100);
  assert_int_equal(tcpu_rob_pop(&r, nxt, &q), 40 * CH + 150);
  expect_ring(&q, 0, nxt, 40 * CH + 150);
  tcpu_ring_free(&q);
  tcpu_rob_free(&r);
}

static void test_rob_free_releases_all_reusable(void **state) {
  (void)state;
  tcpu_rob r;
  tcpu_rob_init(&r);
  assert_int_equal(ins(&r, 0, 1 << 20, 10 * CH, 3 * CH), (int)(3 * CH));
  assert_int_equal(ins(&r, 0, 1 << 20, 100, 10), 10);
  tcpu_rob_note_dup_below(&r, 1, 2);
  assert_true(tcpu_rob_mem(&r) > 0);
  tcpu_rob_free(&r);
  assert_true(tcpu_rob_empty(&r));
  assert_int_equal(tcpu_rob_mem(&r), 0);
  assert_false(tcpu_rob_dsack_pending(&r));
  assert_int_equal(r.st.segs_stored, 2); /* counters survive */
  assert_int_equal(ins(&r, 0, 1 << 20, 100, 10), 10);
  tcpu_rob_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rob_init_idle_allocates_nothing),
      cmocka_unit_test(test_rob_in_order_insert_pops_at_once),
      cmocka_unit_test(test_rob_holes_any_order_stream_exact),
      cmocka_unit_test(test_rob_overlap_both_ends_stores_only_new),
      cmocka_unit_test(test_rob_segment_bridging_ranges_merges_them),
      cmocka_unit_test(test_rob_full_dup_above_nxt_dsack_then_its_range),
      cmocka_unit_test(test_rob_dup_below_nxt_dsack_once),
      cmocka_unit_test(test_rob_dsack_no_room_kept_for_later),
      cmocka_unit_test(test_rob_partial_dup_first_run_reported),
      cmocka_unit_test(test_rob_outside_window_not_stored),
      cmocka_unit_test(test_rob_data_below_nxt_discarded),
      cmocka_unit_test(test_rob_pop_nearly_full_ring_moves_what_fits),
      cmocka_unit_test(test_rob_range_cap_drops_new_range_counts_it),
      cmocka_unit_test(test_rob_rfc_examples_sack_order),
      cmocka_unit_test(test_rob_rfc_examples_across_wrap_same_order),
      cmocka_unit_test(test_rob_more_ranges_than_room_newest_first),
      cmocka_unit_test(test_rob_wrap_blocks_and_pop_continuous),
      cmocka_unit_test(test_rob_random_arrivals_bounded_stream_exact),
      cmocka_unit_test(test_rob_alloc_failure_empty_rob_stays_idle),
      cmocka_unit_test(test_rob_alloc_failure_leaves_state_unchanged),
      cmocka_unit_test(test_rob_free_releases_all_reusable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
