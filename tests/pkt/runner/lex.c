/*
 * lex.c — the line cursor (lex.h).
 */
#include "lex.h"

#include <string.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_word_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_word(char c) { return is_word_start(c) || is_digit(c); }

static int hex_value(char c) {
  if (is_digit(c))
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void pkt_lex_ws(pkt_lex *lx) {
  while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r')
    lx->p++;
}

int pkt_lex_at_end(pkt_lex *lx) {
  pkt_lex_ws(lx);
  return *lx->p == '\0';
}

int pkt_lex_char(pkt_lex *lx, char c) {
  pkt_lex_ws(lx);
  if (*lx->p != c)
    return 0;
  lx->p++;
  return 1;
}

char pkt_lex_peek(pkt_lex *lx) {
  pkt_lex_ws(lx);
  return *lx->p;
}

int pkt_lex_word(pkt_lex *lx, char *buf, size_t n) {
  const char *q;
  size_t len;

  pkt_lex_ws(lx);
  if (!is_word_start(*lx->p))
    return -1;
  for (q = lx->p; is_word(*q); q++)
    ;
  len = (size_t)(q - lx->p);
  if (len >= n)
    return -1;
  memcpy(buf, lx->p, len);
  buf[len] = '\0';
  lx->p = q;
  return 0;
}

int pkt_lex_keyword(pkt_lex *lx, const char *kw) {
  size_t n = strlen(kw);

  pkt_lex_ws(lx);
  if (strncmp(lx->p, kw, n) != 0 || is_word(lx->p[n]))
    return 0;
  lx->p += n;
  return 1;
}

int pkt_lex_uint(pkt_lex *lx, uint64_t max, uint64_t *v) {
  const char *q;
  uint64_t x = 0;
  unsigned base = 10;
  int d;

  pkt_lex_ws(lx);
  q = lx->p;
  if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X') && hex_value(q[2]) >= 0) {
    base = 16;
    q += 2;
  }
  if ((d = hex_value(*q)) < 0 || (unsigned)d >= base)
    return -1;
  while ((d = hex_value(*q)) >= 0 && (unsigned)d < base) {
    if ((uint64_t)d > max || x > (max - (uint64_t)d) / base)
      return -1;
    x = x * base + (uint64_t)d;
    q++;
  }
  if (is_word(*q))
    return -1;
  *v = x;
  lx->p = q;
  return 0;
}

int pkt_lex_seconds(pkt_lex *lx, tcpu_duration *ns) {
  const char *q;
  uint64_t sec = 0, frac = 0;
  int ndig = 0, nfrac = 0;

  pkt_lex_ws(lx);
  q = lx->p;
  for (; is_digit(*q); q++, ndig++) {
    if (sec > 1000000000ull) /* 30 years is plenty */
      return -1;
    sec = sec * 10 + (uint64_t)(*q - '0');
  }
  if (*q == '.') {
    q++;
    for (; is_digit(*q); q++, nfrac++) {
      if (nfrac == 9)
        return -1;
      frac = frac * 10 + (uint64_t)(*q - '0');
    }
  }
  if (ndig + nfrac == 0 || is_word(*q))
    return -1;
  for (int i = nfrac; i < 9; i++)
    frac *= 10;
  *ns = sec * TCPU_NS_PER_S + frac;
  lx->p = q;
  return 0;
}
