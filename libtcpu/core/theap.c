/*
 * theap.c — the endpoint's timer heap: connections ordered by their
 * earliest deadline, so the next expiry is O(1) and expiring one timer is
 * O(log n) however many connections the endpoint holds (DESIGN §2: one
 * timer per endpoint).  timer.c marks a connection whose timers changed;
 * the marks are folded into the heap at the end of each entry point, so a
 * connection that re-arms several timers in one call moves once.
 */
#include <stdlib.h>

#include "core/endpoint.h"

static void place(tcpu_endpoint *ep, size_t i, tcpu_conn *c) {
  ep->heap[i] = c;
  c->heap_idx = i;
}

static void sift_up(tcpu_endpoint *ep, size_t i) {
  tcpu_conn *c = ep->heap[i];
  while (i > 1 && ep->heap[i / 2]->heap_key > c->heap_key) {
    place(ep, i, ep->heap[i / 2]);
    i /= 2;
  }
  place(ep, i, c);
}

static void sift_down(tcpu_endpoint *ep, size_t i) {
  tcpu_conn *c = ep->heap[i];
  for (;;) {
    size_t k = 2 * i;
    if (k > ep->heap_len)
      break;
    if (k < ep->heap_len && ep->heap[k + 1]->heap_key < ep->heap[k]->heap_key)
      k++;
    if (ep->heap[k]->heap_key >= c->heap_key)
      break;
    place(ep, i, ep->heap[k]);
    i = k;
  }
  place(ep, i, c);
}

void tcpu_theap_remove(tcpu_endpoint *ep, tcpu_conn *c) {
  size_t i = c->heap_idx;
  if (i == 0)
    return;
  c->heap_idx = 0;
  tcpu_conn *last = ep->heap[ep->heap_len--];
  if (last == c)
    return;
  place(ep, i, last);
  sift_up(ep, i);
  sift_down(ep, last->heap_idx);
}

static int set_key(tcpu_endpoint *ep, tcpu_conn *c, tcpu_tstamp key) {
  if (key == TCPU_TSTAMP_NONE) {
    tcpu_theap_remove(ep, c);
    return 0;
  }
  if (c->heap_idx == 0) {
    if (ep->heap_len + 1 >= ep->heap_cap) {
      size_t ncap = ep->heap_cap ? ep->heap_cap * 2 : 64;
      tcpu_conn **n = realloc(ep->heap, ncap * sizeof *n);
      if (n == NULL)
        return TCPU_ERR_NOMEM;
      ep->heap = n;
      ep->heap_cap = ncap;
    }
    c->heap_key = key;
    place(ep, ++ep->heap_len, c);
    sift_up(ep, c->heap_idx);
    return 0;
  }
  tcpu_tstamp old = c->heap_key;
  c->heap_key = key;
  if (key < old)
    sift_up(ep, c->heap_idx);
  else if (key > old)
    sift_down(ep, c->heap_idx);
  return 0;
}

void tcpu_theap_mark(tcpu_endpoint *ep, tcpu_conn *c) {
  if (c->timer_dirty)
    return;
  c->timer_dirty = 1;
  c->dirty_next = ep->dirty_head;
  ep->dirty_head = c;
}

int tcpu_theap_flush(tcpu_endpoint *ep) {
  int rv = 0;
  tcpu_conn *c;
  while ((c = ep->dirty_head) != NULL) {
    ep->dirty_head = c->dirty_next;
    c->dirty_next = NULL;
    c->timer_dirty = 0;
    tcpu_tstamp key = c->dead ? TCPU_TSTAMP_NONE : tcpu_timer_expiry(c);
    if (set_key(ep, c, key) != 0) {
      /* No memory for the heap: keep it marked so the scan still sees it
       * and try again at the next entry point. */
      c->timer_dirty = 1;
      c->dirty_next = ep->dirty_head;
      ep->dirty_head = c;
      rv = TCPU_ERR_NOMEM;
      break;
    }
  }
  return rv;
}

tcpu_tstamp tcpu_theap_min(const tcpu_endpoint *ep) {
  tcpu_tstamp t = ep->heap_len ? ep->heap[1]->heap_key : TCPU_TSTAMP_NONE;
  for (const tcpu_conn *c = ep->dirty_head; c; c = c->dirty_next) {
    tcpu_tstamp e = c->dead ? TCPU_TSTAMP_NONE : tcpu_timer_expiry(c);
    if (e < t)
      t = e;
  }
  return t;
}

tcpu_conn *tcpu_theap_pop_due(tcpu_endpoint *ep, tcpu_tstamp now) {
  if (ep->heap_len == 0 || ep->heap[1]->heap_key > now)
    return NULL;
  tcpu_conn *c = ep->heap[1];
  tcpu_theap_remove(ep, c);
  return c;
}
