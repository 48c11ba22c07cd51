/*
 * seq.h — sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).
 *
 * Comparisons interpret the difference as a signed 32-bit number, so they
 * hold across wraparound as long as the two numbers are within 2^31 of each
 * other, which the window sizes guarantee (RFC 7323 §2.3 caps the window at
 * 2^30).
 */
#ifndef TCPU_CORE_SEQ_H
#define TCPU_CORE_SEQ_H

#include <stdint.h>

static inline int32_t seq_diff(uint32_t a, uint32_t b) {
  return (int32_t)(a - b);
}
static inline int seq_lt(uint32_t a, uint32_t b) { return seq_diff(a, b) < 0; }
static inline int seq_leq(uint32_t a, uint32_t b) {
  return seq_diff(a, b) <= 0;
}
static inline int seq_gt(uint32_t a, uint32_t b) { return seq_diff(a, b) > 0; }
static inline int seq_geq(uint32_t a, uint32_t b) {
  return seq_diff(a, b) >= 0;
}
/* lo <= x < hi, modulo 2^32. */
static inline int seq_in(uint32_t x, uint32_t lo, uint32_t hi) {
  return seq_leq(lo, x) && seq_lt(x, hi);
}
static inline uint32_t seq_max(uint32_t a, uint32_t b) {
  return seq_gt(a, b) ? a : b;
}
static inline uint32_t seq_min(uint32_t a, uint32_t b) {
  return seq_lt(a, b) ? a : b;
}

#endif /* TCPU_CORE_SEQ_H */
