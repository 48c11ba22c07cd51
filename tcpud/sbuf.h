/*
 * sbuf.h — a growing string buffer for tcpud's answers (show, JSON).
 * Allocation failures are remembered (oom) instead of reported per call.
 */
#ifndef TCPUD_SBUF_H
#define TCPUD_SBUF_H

#include <stddef.h>

typedef struct tcpud_sbuf {
  char *p;
  size_t len, cap;
  int oom;
} tcpud_sbuf;

void tcpud_sbuf_free(tcpud_sbuf *b);
void tcpud_sbuf_printf(tcpud_sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quotes included; bytes outside printable ASCII
 * are escaped as \u00XX. */
void tcpud_sbuf_json_str(tcpud_sbuf *b, const char *s);

#endif /* TCPUD_SBUF_H */
