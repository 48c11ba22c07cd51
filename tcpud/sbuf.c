/*
 * sbuf.c — see sbuf.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tcpud/sbuf.h"

static int reserve(tcpud_sbuf *b, size_t more) {
  size_t cap;
  char *p;

  if (b->oom)
    return -1;
  if (b->len + more + 1 <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 1024;
  while (cap < b->len + more + 1)
    cap *= 2;
  p = realloc(b->p, cap);
  if (p == NULL) {
    b->oom = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void tcpud_sbuf_free(tcpud_sbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}

void tcpud_sbuf_printf(tcpud_sbuf *b, const char *fmt, ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || reserve(b, (size_t)n) != 0)
    return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void tcpud_sbuf_json_str(tcpud_sbuf *b, const char *s) {
  tcpud_sbuf_printf(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      tcpud_sbuf_printf(b, "\\%c", c);
    else if (c < 0x20 || c > 0x7e)
      tcpud_sbuf_printf(b, "\\u%04x", c);
    else
      tcpud_sbuf_printf(b, "%c", c);
  }
  tcpud_sbuf_printf(b, "\"");
}
