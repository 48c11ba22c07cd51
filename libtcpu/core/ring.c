/* ring.c — byte ring; see ring.h. */
#include "core/ring.h"

#include <stdlib.h>
#include <string.h>

void tcpu_ring_init(tcpu_ring *r, size_t cap) {
  r->buf = NULL;
  r->cap = cap;
  r->head = r->len = 0;
}

void tcpu_ring_free(tcpu_ring *r) {
  free(r->buf);
  r->buf = NULL;
  r->head = r->len = 0;
}

long tcpu_ring_push(tcpu_ring *r, const uint8_t *data, size_t len) {
  size_t n = len < tcpu_ring_space(r) ? len : tcpu_ring_space(r);
  if (n == 0)
    return 0;
  if (r->buf == NULL) {
    r->buf = malloc(r->cap);
    if (r->buf == NULL)
      return -1;
  }
  size_t tail = (r->head + r->len) % r->cap;
  size_t first = r->cap - tail < n ? r->cap - tail : n;
  memcpy(r->buf + tail, data, first);
  memcpy(r->buf, data + first, n - first);
  r->len += n;
  return (long)n;
}

void tcpu_ring_peek(const tcpu_ring *r, size_t off, uint8_t *dst, size_t len) {
  if (len == 0)
    return;
  size_t start = (r->head + off) % r->cap;
  size_t first = r->cap - start < len ? r->cap - start : len;
  memcpy(dst, r->buf + start, first);
  memcpy(dst + first, r->buf, len - first);
}

int tcpu_ring_resize(tcpu_ring *r, size_t cap) {
  if (r->buf == NULL || r->len == 0) {
    free(r->buf);
    r->buf = NULL;
    r->head = 0;
    r->cap = cap;
    return 0;
  }
  uint8_t *nb = malloc(cap);
  if (nb == NULL)
    return -1;
  tcpu_ring_peek(r, 0, nb, r->len);
  free(r->buf);
  r->buf = nb;
  r->head = 0;
  r->cap = cap;
  return 0;
}

void tcpu_ring_drop(tcpu_ring *r, size_t n) {
  r->head = (r->head + n) % (r->cap ? r->cap : 1);
  r->len -= n;
  if (r->len == 0)
    r->head = 0;
}
