/* ring.c — byte ring; see ring.h. */
#include "core/ring.h"

#include <stdlib.h>
#include <string.h>

void tcpu_ring_init(tcpu_ring *r, size_t cap) {
  r->buf = NULL;
  r->cap = cap;
  r->size = r->head = r->len = 0;
}

void tcpu_ring_free(tcpu_ring *r) {
  free(r->buf);
  r->buf = NULL;
  r->size = r->head = r->len = 0;
}

/* Moves the bytes held into new storage of `size` bytes (>= r->len),
 * oldest first at offset 0. */
static int relocate(tcpu_ring *r, size_t size) {
  uint8_t *nb = malloc(size);
  if (nb == NULL)
    return -1;
  tcpu_ring_peek(r, 0, nb, r->len);
  free(r->buf);
  r->buf = nb;
  r->size = size;
  r->head = 0;
  return 0;
}

/* Storage for at least `need` bytes (<= cap): doubled, so that filling a
 * ring of cap bytes copies fewer than cap bytes in all. */
static int grow(tcpu_ring *r, size_t need) {
  size_t size = r->size > 0 ? r->size : TCPU_RING_MIN_STORAGE;
  while (size < need && size < r->cap / 2)
    size *= 2;
  if (size < need || size > r->cap)
    size = r->cap;
  return relocate(r, size);
}

long tcpu_ring_push(tcpu_ring *r, const uint8_t *data, size_t len) {
  size_t n = len < tcpu_ring_space(r) ? len : tcpu_ring_space(r);
  if (n == 0)
    return 0;
  if (r->len + n > r->size && grow(r, r->len + n) != 0)
    return -1;
  size_t tail = (r->head + r->len) % r->size;
  size_t first = r->size - tail < n ? r->size - tail : n;
  memcpy(r->buf + tail, data, first);
  memcpy(r->buf, data + first, n - first);
  r->len += n;
  return (long)n;
}

void tcpu_ring_peek(const tcpu_ring *r, size_t off, uint8_t *dst, size_t len) {
  if (len == 0)
    return;
  size_t start = (r->head + off) % r->size;
  size_t first = r->size - start < len ? r->size - start : len;
  memcpy(dst, r->buf + start, first);
  memcpy(dst + first, r->buf, len - first);
}

int tcpu_ring_resize(tcpu_ring *r, size_t cap) {
  if (r->buf == NULL || r->len == 0) {
    tcpu_ring_free(r);
    r->cap = cap;
    return 0;
  }
  /* Storage larger than the new capacity shrinks to it; smaller storage
   * stays and grows later as it would have. */
  if (r->size > cap && relocate(r, cap) != 0)
    return -1;
  r->cap = cap;
  return 0;
}

void tcpu_ring_drop(tcpu_ring *r, size_t n) {
  if (n == 0)
    return;
  r->head = (r->head + n) % r->size;
  r->len -= n;
  if (r->len == 0)
    r->head = 0;
}
