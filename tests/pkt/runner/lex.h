/*
 * lex.h — a cursor over one script line.  Every reader skips blanks first
 * and consumes nothing when it fails.
 */
#ifndef PKT_LEX_H
#define PKT_LEX_H

#include <stddef.h>
#include <stdint.h>

#include "tcpu/tcpu.h"

typedef struct pkt_lex {
  const char *p;
} pkt_lex;

void pkt_lex_ws(pkt_lex *lx);
/* Nonzero when only blanks remain. */
int pkt_lex_at_end(pkt_lex *lx);
/* Consumes c if it is next. */
int pkt_lex_char(pkt_lex *lx, char c);
/* Next non-blank character, 0 at the end. */
char pkt_lex_peek(pkt_lex *lx);
/* Reads [A-Za-z_][A-Za-z0-9_]* into buf; 0 on success. */
int pkt_lex_word(pkt_lex *lx, char *buf, size_t n);
/* Consumes the word kw if it is next (and not a prefix of a longer one). */
int pkt_lex_keyword(pkt_lex *lx, const char *kw);
/* Decimal or 0x-hex number not above max; 0 on success. */
int pkt_lex_uint(pkt_lex *lx, uint64_t max, uint64_t *v);
/* Seconds with up to 9 decimals ("1", "0.25", ".1") in nanoseconds. */
int pkt_lex_seconds(pkt_lex *lx, tcpu_duration *ns);

#endif /* PKT_LEX_H */
