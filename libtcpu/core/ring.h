/*
 * ring.h — a byte ring for the send and receive buffers.
 *
 * cap is the buffer size the connection was given (the socket buffer
 * size); the storage behind it grows as data arrives, doubling from
 * TCPU_RING_MIN_STORAGE up to cap, so a connection costs memory for what
 * it holds at its busiest, not for what it may hold: an idle connection
 * has none, and one that moved a request and a reply holds a few KiB
 * instead of two full buffers.  Storage is kept once grown (a bulk
 * receiver empties its ring on every read; freeing there would churn).
 */
#ifndef TCPU_CORE_RING_H
#define TCPU_CORE_RING_H

#include <stddef.h>
#include <stdint.h>

#define TCPU_RING_MIN_STORAGE 1024

typedef struct tcpu_ring {
  uint8_t *buf;
  size_t cap;  /* most bytes the ring may hold */
  size_t size; /* bytes of storage at buf (<= cap): the ring's modulus */
  size_t head, len; /* head: offset of the oldest byte in the storage */
} tcpu_ring;

void tcpu_ring_init(tcpu_ring *r, size_t cap);
void tcpu_ring_free(tcpu_ring *r);
static inline size_t tcpu_ring_space(const tcpu_ring *r) {
  return r->cap - r->len;
}
/* Appends up to len bytes; returns how many fit, or -1 when the storage
 * cannot be allocated (nothing is appended then). */
long tcpu_ring_push(tcpu_ring *r, const uint8_t *data, size_t len);
/* Copies len bytes starting off bytes after the oldest one; the caller
 * guarantees off + len <= r->len. */
void tcpu_ring_peek(const tcpu_ring *r, size_t off, uint8_t *dst, size_t len);
/* The len bytes starting off bytes after the oldest one, in place, when
 * they do not wrap around the end of the storage; NULL when they do. */
static inline uint8_t *tcpu_ring_span(const tcpu_ring *r, size_t off,
                                      size_t len) {
  if (r->buf == NULL)
    return NULL;
  size_t start = (r->head + off) % r->size;
  return len <= r->size - start ? r->buf + start : NULL;
}
/* Changes the capacity, keeping the bytes held (cap >= r->len).  Returns
 * 0, or -1 when the new storage cannot be allocated. */
int tcpu_ring_resize(tcpu_ring *r, size_t cap);
/* Discards the n oldest bytes (n <= r->len). */
void tcpu_ring_drop(tcpu_ring *r, size_t n);

#endif /* TCPU_CORE_RING_H */
