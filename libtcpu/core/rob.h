/*
 * rob.h — receive reassembly (the reorder buffer): data beyond RCV.NXT held
 * until the hole before it fills (RFC 9293 §3.10.7.4, seventh step), and
 * the SACK blocks that describe it (RFC 2018 §4) with D-SACK (RFC 2883 §4).
 *
 * Storage.  Bytes live in TCPU_ROB_CHUNK-byte blocks aligned on sequence
 * numbers: block b holds [b * CHUNK, (b + 1) * CHUNK), and since CHUNK
 * divides 2^32 the alignment survives the wrap.  A power-of-two table of
 * block pointers finds them; the held ranges are a sorted array of sequence
 * intervals with no data of their own.  Filling a hole or merging ranges
 * copies only the new bytes, never held ones.  A block exists only while a
 * held range overlaps it, so block memory is at most
 *   bytes held + 2 * TCPU_ROB_CHUNK per range, and at most
 *   the window + 2 * TCPU_ROB_CHUNK,
 * plus the range array (TCPU_ROB_MAX_RANGES + 1 entries) and the table
 * (a power of two of pointers, at least 16 and under twice the number of
 * blocks the held data spans).  Nothing is allocated until the first
 * out-of-order byte arrives, and everything is freed whenever the rob
 * empties again.
 *
 * Every function that takes rcv_nxt first discards what is held below it,
 * so the caller may advance RCV.NXT by its own means (an in-order segment
 * pushed straight into the receive queue) and the rob catches up.
 * Windows are clamped to 2^30 bytes (RFC 7323 §2.3), which keeps every
 * held sequence number within seq.h's reach of RCV.NXT.
 */
#ifndef TCPU_CORE_ROB_H
#define TCPU_CORE_ROB_H

#include <stddef.h>
#include <stdint.h>

#include "core/ring.h"
#include "core/seg.h"

#define TCPU_ROB_CHUNK_SHIFT 12
#define TCPU_ROB_CHUNK (1u << TCPU_ROB_CHUNK_SHIFT) /* bytes per block */
/* Distinct held ranges, by default; connections size it from their
 * receive buffer (tcpu_rob_set_max_ranges), as a window with a hole every
 * other segment needs one range per two segments.  A segment that would
 * open one more is dropped (counted in segs_dropped), except one that
 * starts at RCV.NXT: it is deliverable at once, and refusing it could
 * stall the connection. */
#define TCPU_ROB_MAX_RANGES 64

typedef struct tcpu_rob_range {
  uint32_t start, end; /* [start, end), start >= RCV.NXT, maximal */
  uint64_t stamp;      /* clock of the last arrival into it: SACK order */
} tcpu_rob_range;

typedef struct tcpu_rob_stats {
  uint64_t segs_stored;  /* inserts that stored at least one new byte */
  uint64_t segs_dup;     /* nothing new and something already received:
                            full duplicates, and tcpu_rob_note_dup_below */
  uint64_t segs_dropped; /* refused because of the range cap */
} tcpu_rob_stats;

typedef struct tcpu_rob {
  tcpu_rob_range *ranges; /* nranges, sorted by sequence; NULL when empty */
  uint8_t **slot;         /* nslots block pointers; NULL when empty */
  uint32_t nranges, nslots;
  uint32_t max_ranges; /* the cap; TCPU_ROB_MAX_RANGES after init */
  uint32_t nblocks; /* blocks allocated, TCPU_ROB_CHUNK bytes each */
  unsigned dsack_pending : 1;
  tcpu_sack_block dsack; /* RFC 2883: first block of the next ACK */
  size_t bytes;          /* bytes held */
  uint64_t clock;        /* source of tcpu_rob_range.stamp */
  tcpu_rob_stats st;
} tcpu_rob;

/* An empty rob; allocates nothing. */
void tcpu_rob_init(tcpu_rob *r);
/* Changes the range cap (at least 1); only while the rob is empty. */
void tcpu_rob_set_max_ranges(tcpu_rob *r, uint32_t n);
/* Frees all storage and forgets a pending D-SACK.  r stays a valid, empty
 * rob; the counters are kept. */
void tcpu_rob_free(tcpu_rob *r);

/* Takes a received segment's data, [seq, seq + len).  Stores (copies) the
 * part inside [rcv_nxt, right_edge) that is not held yet, merging it with
 * the ranges it touches.  Already-held bytes are never overwritten: the
 * first copy received wins.  seq may lie below rcv_nxt; that part is
 * treated as already received.
 *
 * Duplicates (RFC 2883 §4): when nothing in the segment is new but part of
 * it was already received, the first contiguous duplicate run becomes the
 * pending D-SACK block (replacing an older one), and the held range that
 * contains it becomes the most recent SACK block (RFC 2883 §4: "the
 * following SACK block should be used to specify this larger block").
 * When the segment brings new bytes and also duplicates some, its first
 * duplicate run becomes the D-SACK block only if none is pending, or is
 * merged into the pending one when the two touch (so that a caller who
 * reported the part below RCV.NXT through tcpu_rob_note_dup_below keeps
 * that report, as in RFC 2883 §4.2.2, example 5).
 *
 * Returns the number of new bytes stored (0 for a duplicate, for data
 * wholly outside the window, and for a segment dropped because of
 * TCPU_ROB_MAX_RANGES), or TCPU_ERR_NOMEM, in which case nothing is stored
 * and no D-SACK or counter changed.  A segment that starts at or before
 * rcv_nxt is stored too; tcpu_rob_pop then delivers it. */
int tcpu_rob_insert(tcpu_rob *r, uint32_t rcv_nxt, uint32_t right_edge,
                    uint32_t seq, const uint8_t *data, size_t len);

/* A segment [start, end) arrived wholly below RCV.NXT, or the caller
 * trimmed such a head off a segment: the next ACK reports it as a D-SACK
 * block (RFC 2883 §4.1.1, example 1), replacing an older pending one.  Counted
 * in segs_dup.  Ignored when start == end. */
void tcpu_rob_note_dup_below(tcpu_rob *r, uint32_t start, uint32_t end);

/* Discards what is held below rcv_nxt, then moves the bytes contiguous
 * from rcv_nxt into dst, as many as dst has room for; the rest stays.
 * Returns the count moved: the caller advances RCV.NXT by it.  Returns 0
 * as well when dst cannot allocate its storage. */
size_t tcpu_rob_pop(tcpu_rob *r, uint32_t rcv_nxt, tcpu_ring *dst);

/* Fills out[0..max) for an outgoing ACK and returns the count: first the
 * pending D-SACK block, which is then consumed (RFC 2883 §4), then the held
 * ranges above rcv_nxt, most recently changed first (RFC 2018 §4: the
 * first block contains the segment that triggered the ACK, then the most
 * recently reported ones).  Discards what is held below rcv_nxt first.
 * Returns 0 when max <= 0, keeping a pending D-SACK. */
int tcpu_rob_sack_blocks(tcpu_rob *r, uint32_t rcv_nxt, tcpu_sack_block *out,
                         int max);

/* Bytes held (including any below an RCV.NXT not yet passed in). */
static inline size_t tcpu_rob_bytes(const tcpu_rob *r) { return r->bytes; }
static inline int tcpu_rob_empty(const tcpu_rob *r) { return r->nranges == 0; }
static inline int tcpu_rob_dsack_pending(const tcpu_rob *r) {
  return r->dsack_pending;
}
/* One past the highest byte held, or rcv_nxt when nothing above it is:
 * a FIN beyond a hole is the caller's to remember; this tells it whether
 * data was received beyond that FIN. */
uint32_t tcpu_rob_highest(const tcpu_rob *r, uint32_t rcv_nxt);
/* Heap bytes in use: blocks, table and range array. */
size_t tcpu_rob_mem(const tcpu_rob *r);

#endif /* TCPU_CORE_ROB_H */
