/*
 * rob.c — receive reassembly and SACK generation (RFC 9293 §3.10.7.4
 * seventh step, RFC 2018 §4, RFC 2883 §4); see rob.h for the layout.
 *
 * Invariants between calls:
 *   - ranges are sorted, disjoint and not adjacent (adjacent ones merge),
 *     and their stamps are distinct;
 *   - a block is allocated exactly when some range overlaps it;
 *   - allocated blocks span fewer block numbers than nslots, so block
 *     number -> slot (b & (nslots - 1)) is one-to-one among them;
 *   - ranges == NULL, slot == NULL and nblocks == 0 when nranges == 0.
 */
#include "core/rob.h"

#include <stdlib.h>
#include <string.h>

#include "core/seq.h"
#include "tcpu/tcpu.h"

#define CHUNK TCPU_ROB_CHUNK
/* Block numbers are seq >> shift, so they wrap modulo 2^(32 - shift)
 * exactly when sequence numbers wrap modulo 2^32. */
#define BLK_MASK (UINT32_MAX >> TCPU_ROB_CHUNK_SHIFT)
/* RFC 7323 §2.3: no window exceeds 2^30, so held data always lies within
 * 2^31 of RCV.NXT and seq.h comparisons between any two of them hold. */
#define WND_MAX (1u << 30)
#define NSLOTS_MIN 16u

static uint32_t blk_of(uint32_t seq) { return seq >> TCPU_ROB_CHUNK_SHIFT; }
static uint32_t blk_next(uint32_t b) { return (b + 1) & BLK_MASK; }
static uint8_t **slot_of(const tcpu_rob *r, uint32_t b) {
  return &r->slot[b & (r->nslots - 1)];
}
static uint32_t range_len(const tcpu_rob_range *g) { return g->end - g->start; }

void tcpu_rob_init(tcpu_rob *r) {
  memset(r, 0, sizeof *r);
  r->max_ranges = TCPU_ROB_MAX_RANGES;
}

void tcpu_rob_set_max_ranges(tcpu_rob *r, uint32_t n) {
  if (r->ranges == NULL && n > 0)
    r->max_ranges = n;
}

/* Frees every block, the table and the range array; keeps the D-SACK, the
 * clock and the counters. */
static void release_all(tcpu_rob *r) {
  for (uint32_t i = 0; i < r->nslots; i++)
    free(r->slot[i]);
  free(r->slot);
  free(r->ranges);
  r->slot = NULL;
  r->ranges = NULL;
  r->nslots = r->nranges = r->nblocks = 0;
  r->bytes = 0;
}

void tcpu_rob_free(tcpu_rob *r) {
  release_all(r);
  r->dsack_pending = 0;
}

/* Frees the blocks numbered [b0, b1) that exist. */
static void free_blocks(tcpu_rob *r, uint32_t b0, uint32_t b1) {
  for (uint32_t b = b0; b != b1; b = blk_next(b)) {
    uint8_t **p = slot_of(r, b);
    if (*p) {
      free(*p);
      *p = NULL;
      r->nblocks--;
    }
  }
}

/* Discards everything held below x, and the blocks nothing overlaps any
 * more. */
static void trim(tcpu_rob *r, uint32_t x) {
  if (r->nranges == 0)
    return;
  uint32_t lo = blk_of(r->ranges[0].start);
  uint32_t i = 0;
  while (i < r->nranges && seq_leq(r->ranges[i].end, x)) {
    r->bytes -= range_len(&r->ranges[i]);
    i++;
  }
  if (i == r->nranges) {
    release_all(r);
    return;
  }
  if (i > 0) {
    memmove(r->ranges, r->ranges + i, (r->nranges - i) * sizeof *r->ranges);
    r->nranges -= i;
  }
  if (seq_lt(r->ranges[0].start, x)) {
    r->bytes -= x - r->ranges[0].start;
    r->ranges[0].start = x;
  }
  /* Ranges are sorted: every block below the one holding the new lowest
   * byte overlaps nothing now. */
  free_blocks(r, lo, blk_of(r->ranges[0].start));
}

static int block_in_use(const tcpu_rob *r, uint32_t b) {
  uint32_t bs = b << TCPU_ROB_CHUNK_SHIFT, be = bs + CHUNK;
  for (uint32_t i = 0; i < r->nranges; i++)
    if (seq_lt(r->ranges[i].start, be) && seq_lt(bs, r->ranges[i].end))
      return 1;
  return 0;
}

static int ensure_ranges(tcpu_rob *r) {
  if (r->ranges == NULL) {
    /* One beyond the cap: the range at RCV.NXT is never refused. */
    r->ranges = malloc((r->max_ranges + 1) * sizeof *r->ranges);
    if (r->ranges == NULL)
      return -1;
  }
  return 0;
}

/* Makes the table large enough for blocks spanning [lo, hi). */
static int ensure_slots(tcpu_rob *r, uint32_t lo, uint32_t hi) {
  uint32_t span = ((blk_of(hi - 1) - blk_of(lo)) & BLK_MASK) + 1;
  if (span <= r->nslots)
    return 0;
  uint32_t n = r->nslots ? r->nslots : NSLOTS_MIN;
  while (n < span)
    n *= 2;
  uint8_t **t = malloc((size_t)n * sizeof *t);
  if (t == NULL)
    return -1;
  for (uint32_t i = 0; i < n; i++)
    t[i] = NULL;
  /* Every allocated block overlaps a range: walking the ranges finds
   * them all (a block shared by two ranges is moved twice, harmlessly). */
  for (uint32_t i = 0; i < r->nranges; i++) {
    uint32_t b1 = blk_next(blk_of(r->ranges[i].end - 1));
    for (uint32_t b = blk_of(r->ranges[i].start); b != b1; b = blk_next(b))
      t[b & (n - 1)] = *slot_of(r, b);
  }
  free(r->slot);
  r->slot = t;
  r->nslots = n;
  return 0;
}

/* Allocates the missing blocks under [s, e).  On failure frees those it
 * allocated, so the rob is as before. */
static int alloc_blocks(tcpu_rob *r, uint32_t s, uint32_t e) {
  uint32_t b0 = blk_of(s), b1 = blk_next(blk_of(e - 1));
  for (uint32_t b = b0; b != b1; b = blk_next(b)) {
    uint8_t **p = slot_of(r, b);
    if (*p)
      continue;
    *p = malloc(CHUNK);
    if (*p == NULL) {
      for (uint32_t u = b0; u != b; u = blk_next(u)) {
        uint8_t **q = slot_of(r, u);
        if (*q && !block_in_use(r, u)) {
          free(*q);
          *q = NULL;
          r->nblocks--;
        }
      }
      return -1;
    }
    r->nblocks++;
  }
  return 0;
}

static void copy_in(tcpu_rob *r, uint32_t seq, const uint8_t *src, uint32_t n) {
  while (n > 0) {
    uint32_t off = seq & (CHUNK - 1);
    uint32_t k = CHUNK - off < n ? CHUNK - off : n;
    memcpy(*slot_of(r, blk_of(seq)) + off, src, k);
    seq += k;
    src += k;
    n -= k;
  }
}

/* The first contiguous run of [seq, end) that was already received: below
 * rcv_nxt, or held.  Returns 0 when there is none. */
static int first_dup(const tcpu_rob *r, uint32_t rcv_nxt, uint32_t seq,
                     uint32_t end, uint32_t *ds, uint32_t *de) {
  if (seq_lt(seq, rcv_nxt)) {
    *ds = seq;
    *de = seq_min(end, rcv_nxt);
    /* Held data starting right at RCV.NXT continues the run. */
    if (*de == rcv_nxt && r->nranges > 0 && r->ranges[0].start == rcv_nxt)
      *de = seq_min(end, r->ranges[0].end);
    return 1;
  }
  for (uint32_t i = 0; i < r->nranges; i++) {
    uint32_t os = seq_max(seq, r->ranges[i].start);
    uint32_t oe = seq_min(end, r->ranges[i].end);
    if (seq_lt(os, oe)) {
      *ds = os;
      *de = oe;
      return 1;
    }
  }
  return 0;
}

static void set_dsack(tcpu_rob *r, uint32_t s, uint32_t e) {
  r->dsack.start = s;
  r->dsack.end = e;
  r->dsack_pending = 1;
}

/* RFC 2883 §4: "only the first" duplicate of a segment is reported, so a
 * duplicate that came with new data does not displace a pending report
 * unless it continues it. */
static void extend_dsack(tcpu_rob *r, uint32_t s, uint32_t e) {
  if (!r->dsack_pending) {
    set_dsack(r, s, e);
  } else if (seq_leq(s, r->dsack.end) && seq_leq(r->dsack.start, e)) {
    r->dsack.start = seq_min(s, r->dsack.start);
    r->dsack.end = seq_max(e, r->dsack.end);
  }
}

/* A full duplicate of held data: RFC 2883 §4 wants the range that
 * contains it right after the D-SACK block, i.e. the most recent one. */
static void touch_range(tcpu_rob *r, uint32_t s, uint32_t e) {
  for (uint32_t i = 0; i < r->nranges; i++) {
    if (seq_lt(r->ranges[i].start, e) && seq_lt(s, r->ranges[i].end)) {
      r->ranges[i].stamp = ++r->clock;
      return;
    }
  }
}

int tcpu_rob_insert(tcpu_rob *r, uint32_t rcv_nxt, uint32_t right_edge,
                    uint32_t seq, const uint8_t *data, size_t len) {
  if (len == 0)
    return 0;
  if (len > WND_MAX)
    len = WND_MAX; /* the rest cannot be inside any window */
  uint32_t end = seq + (uint32_t)len;
  trim(r, rcv_nxt);
  uint32_t wnd = seq_gt(right_edge, rcv_nxt) ? right_edge - rcv_nxt : 0;
  if (wnd > WND_MAX)
    wnd = WND_MAX;
  /* RFC 9293 §3.10.7.4: only the part inside the window is kept. */
  uint32_t s = seq_max(seq, rcv_nxt), e = seq_min(end, rcv_nxt + wnd);

  /* Ranges [i0, i1) overlap or touch [s, e); newb counts the bytes of
   * [s, e) none of them holds. */
  uint32_t i0 = 0, i1 = 0, newb = 0;
  if (seq_lt(s, e)) {
    while (i0 < r->nranges && seq_lt(r->ranges[i0].end, s))
      i0++;
    newb = e - s;
    for (i1 = i0; i1 < r->nranges && seq_leq(r->ranges[i1].start, e); i1++) {
      uint32_t os = seq_max(s, r->ranges[i1].start);
      uint32_t oe = seq_min(e, r->ranges[i1].end);
      if (seq_lt(os, oe))
        newb -= oe - os;
    }
  }
  uint32_t ds = 0, de = 0;
  int dup = first_dup(r, rcv_nxt, seq, end, &ds, &de);

  if (newb == 0) {
    if (dup) {
      /* RFC 2883 §4: the duplicate goes first in the next ACK. */
      set_dsack(r, ds, de);
      touch_range(r, seq_max(ds, rcv_nxt), de);
      r->st.segs_dup++;
    }
    return 0;
  }
  int opens = i0 == i1;
  if (opens && r->nranges >= r->max_ranges && s != rcv_nxt) {
    r->st.segs_dropped++;
    return 0;
  }

  int was_empty = r->nranges == 0;
  uint32_t lo = was_empty ? s : seq_min(r->ranges[0].start, s);
  uint32_t hi = was_empty ? e : seq_max(r->ranges[r->nranges - 1].end, e);
  if (ensure_ranges(r) < 0 || ensure_slots(r, lo, hi) < 0 ||
      alloc_blocks(r, s, e) < 0) {
    if (was_empty)
      release_all(r);
    return TCPU_ERR_NOMEM;
  }

  /* Copy only the gaps: held bytes stay as first received. */
  uint32_t cur = s;
  for (uint32_t i = i0; i < i1; i++) {
    if (seq_lt(cur, r->ranges[i].start))
      copy_in(r, cur, data + (cur - seq), r->ranges[i].start - cur);
    cur = seq_max(cur, r->ranges[i].end);
  }
  if (seq_lt(cur, e))
    copy_in(r, cur, data + (cur - seq), e - cur);

  tcpu_rob_range g = {s, e, ++r->clock};
  if (opens) {
    memmove(r->ranges + i0 + 1, r->ranges + i0,
            (r->nranges - i0) * sizeof *r->ranges);
    r->nranges++;
  } else {
    g.start = seq_min(s, r->ranges[i0].start);
    g.end = seq_max(e, r->ranges[i1 - 1].end);
    memmove(r->ranges + i0 + 1, r->ranges + i1,
            (r->nranges - i1) * sizeof *r->ranges);
    r->nranges -= i1 - i0 - 1;
  }
  r->ranges[i0] = g;
  r->bytes += newb;
  r->st.segs_stored++;
  if (dup)
    extend_dsack(r, ds, de); /* RFC 2883 §4.2.1, example 4 */
  return (int)newb;
}

void tcpu_rob_note_dup_below(tcpu_rob *r, uint32_t start, uint32_t end) {
  if (start == end)
    return;
  set_dsack(r, start, end);
  r->st.segs_dup++;
}

size_t tcpu_rob_pop(tcpu_rob *r, uint32_t rcv_nxt, tcpu_ring *dst) {
  trim(r, rcv_nxt);
  if (r->nranges == 0 || r->ranges[0].start != rcv_nxt)
    return 0;
  size_t want = range_len(&r->ranges[0]);
  if (want > tcpu_ring_space(dst))
    want = tcpu_ring_space(dst);
  size_t moved = 0;
  while (moved < want) {
    uint32_t seq = rcv_nxt + (uint32_t)moved;
    uint32_t off = seq & (CHUNK - 1);
    size_t k = CHUNK - off < want - moved ? CHUNK - off : want - moved;
    long n = tcpu_ring_push(dst, *slot_of(r, blk_of(seq)) + off, k);
    if (n <= 0)
      break; /* dst could not allocate: keep the data */
    moved += (size_t)n;
  }
  if (moved > 0)
    trim(r, rcv_nxt + (uint32_t)moved);
  return moved;
}

int tcpu_rob_sack_blocks(tcpu_rob *r, uint32_t rcv_nxt, tcpu_sack_block *out,
                         int max) {
  if (max <= 0)
    return 0;
  trim(r, rcv_nxt); /* RFC 2018 §4: only data above the ACK is SACKed */
  int n = 0;
  if (r->dsack_pending) {
    out[n++] = r->dsack;
    r->dsack_pending = 0;
  }
  /* RFC 2018 §4: most recently changed first.  Stamps are distinct, so
   * picking the newest below the previous pick lists each range once. */
  uint64_t below = UINT64_MAX;
  while (n < max) {
    const tcpu_rob_range *best = NULL;
    for (uint32_t i = 0; i < r->nranges; i++) {
      const tcpu_rob_range *g = &r->ranges[i];
      if (g->stamp < below && (best == NULL || g->stamp > best->stamp))
        best = g;
    }
    if (best == NULL)
      break;
    out[n].start = best->start;
    out[n].end = best->end;
    n++;
    below = best->stamp;
  }
  return n;
}

uint32_t tcpu_rob_highest(const tcpu_rob *r, uint32_t rcv_nxt) {
  if (r->nranges == 0)
    return rcv_nxt;
  return seq_max(r->ranges[r->nranges - 1].end, rcv_nxt);
}

size_t tcpu_rob_mem(const tcpu_rob *r) {
  size_t m = (size_t)r->nblocks * CHUNK + (size_t)r->nslots * sizeof(uint8_t *);
  if (r->ranges)
    m += (r->max_ranges + 1) * sizeof *r->ranges;
  return m;
}
