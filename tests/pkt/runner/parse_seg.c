/*
 * parse_seg.c — segment lines: flags, start:end(len), ack, win, urg and
 * the option list (README.md, "Segments").
 */
#include "parse.h"

#include <stdio.h>
#include <string.h>

#define FAIL(...)                                                            \
  do {                                                                       \
    snprintf(err, errlen, __VA_ARGS__);                                      \
    return -1;                                                               \
  } while (0)

static int flag_bit(char c) {
  switch (c) {
  case 'S':
    return TH_SYN;
  case 'F':
    return TH_FIN;
  case 'R':
    return TH_RST;
  case 'P':
    return TH_PSH;
  case '.':
    return TH_ACK;
  case 'U':
    return TH_URG;
  case 'E':
    return TH_ECE;
  case 'W':
    return TH_CWR;
  default:
    return 0;
  }
}

static int parse_flags(pkt_lex *lx, uint8_t *flags, char *err,
                       size_t errlen) {
  int n = 0;

  pkt_lex_ws(lx);
  *flags = 0;
  for (; *lx->p != '\0' && *lx->p != ' ' && *lx->p != '\t'; lx->p++, n++) {
    int b = flag_bit(*lx->p);

    if (b == 0)
      FAIL("unknown TCP flag '%c' (flags are S F R P . U E W)", *lx->p);
    if (*flags & b)
      FAIL("TCP flag '%c' given twice", *lx->p);
    *flags |= (uint8_t)b;
  }
  if (n == 0)
    FAIL("expected TCP flags");
  return 0;
}

static int parse_u32(pkt_lex *lx, uint32_t *v) {
  uint64_t x;

  if (pkt_lex_uint(lx, UINT32_MAX, &x) != 0)
    return -1;
  *v = (uint32_t)x;
  return 0;
}

static int parse_range(pkt_lex *lx, pkt_seg_spec *s, char *err,
                       size_t errlen) {
  if (parse_u32(lx, &s->start) != 0 || !pkt_lex_char(lx, ':') ||
      parse_u32(lx, &s->end) != 0 || !pkt_lex_char(lx, '(') ||
      parse_u32(lx, &s->len) != 0 || !pkt_lex_char(lx, ')'))
    FAIL("expected a sequence range start:end(length)");
  if (s->end - s->start != s->len)
    FAIL("sequence range %u:%u does not hold %u bytes", s->start, s->end,
         s->len);
  return 0;
}

static int parse_sack(pkt_lex *lx, pkt_opt *o, char *err, size_t errlen) {
  o->nsack = 0;
  while (pkt_lex_peek(lx) != ',' && pkt_lex_peek(lx) != '>') {
    tcpu_sack_block *b;

    if (o->nsack == TCPU_SACK_MAX_BLOCKS)
      FAIL("more than %d SACK blocks", TCPU_SACK_MAX_BLOCKS);
    b = &o->sack[o->nsack++];
    if (parse_u32(lx, &b->start) != 0 || !pkt_lex_char(lx, ':') ||
        parse_u32(lx, &b->end) != 0)
      FAIL("expected SACK blocks start:end");
  }
  if (o->nsack == 0)
    FAIL("sack needs at least one block");
  return 0;
}

static int parse_opt(pkt_lex *lx, int inbound, pkt_opt *o, char *err,
                     size_t errlen) {
  char w[16];
  uint64_t v;

  memset(o, 0, sizeof(*o));
  if (pkt_lex_word(lx, w, sizeof(w)) != 0)
    FAIL("expected a TCP option");
  if (strcmp(w, "nop") == 0) {
    o->kind = PKT_OPT_NOP;
  } else if (strcmp(w, "eol") == 0) {
    o->kind = PKT_OPT_EOL;
  } else if (strcmp(w, "sackOK") == 0) {
    o->kind = PKT_OPT_SACKOK;
  } else if (strcmp(w, "mss") == 0) {
    o->kind = PKT_OPT_MSS;
    if (pkt_lex_uint(lx, UINT16_MAX, &v) != 0)
      FAIL("mss needs a value 0..65535");
    o->a = (uint32_t)v;
  } else if (strcmp(w, "wscale") == 0) {
    o->kind = PKT_OPT_WSCALE;
    if (pkt_lex_uint(lx, UINT8_MAX, &v) != 0)
      FAIL("wscale needs a value 0..255");
    o->a = (uint32_t)v;
  } else if (strcmp(w, "TS") == 0) {
    o->kind = PKT_OPT_TS;
    if (!pkt_lex_keyword(lx, "val") || parse_u32(lx, &o->a) != 0 ||
        !pkt_lex_keyword(lx, "ecr") || parse_u32(lx, &o->b) != 0)
      FAIL("expected TS val N ecr N");
  } else if (strcmp(w, "sack") == 0) {
    o->kind = PKT_OPT_SACK;
    return parse_sack(lx, o, err, errlen);
  } else if (strcmp(w, "opt") == 0) {
    if (!inbound)
      FAIL("'opt' is for inbound segments only");
    o->kind = PKT_OPT_RAW;
    if (pkt_lex_uint(lx, UINT8_MAX, &v) != 0)
      FAIL("opt needs a kind 0..255");
    o->a = (uint32_t)v;
    o->b = 2;
    if (pkt_lex_keyword(lx, "len")) {
      if (pkt_lex_uint(lx, UINT8_MAX, &v) != 0)
        FAIL("opt len needs a value 0..255");
      o->b = (uint32_t)v;
    }
  } else {
    FAIL("unknown TCP option '%s'", w);
  }
  return 0;
}

static int parse_opts(pkt_lex *lx, int inbound, pkt_seg_spec *s, char *err,
                      size_t errlen) {
  pkt_lex_ws(lx);
  s->opts_given = 1;
  if (strncmp(lx->p, "...", 3) == 0) {
    lx->p += 3;
    if (inbound)
      FAIL("<...> is for outbound segments only");
    s->opts_any = 1;
    if (!pkt_lex_char(lx, '>'))
      FAIL("expected '>' after '<...'");
    return 0;
  }
  if (pkt_lex_char(lx, '>'))
    return 0; /* <>: no options at all */
  for (;;) {
    if (s->nopts == PKT_MAX_OPTS)
      FAIL("too many TCP options");
    if (parse_opt(lx, inbound, &s->opts[s->nopts++], err, errlen) != 0)
      return -1;
    if (pkt_lex_char(lx, '>'))
      break;
    if (!pkt_lex_char(lx, ','))
      FAIL("expected ',' or '>' in the option list");
  }
  if ((pkt_opts_wire_len(s) + 3) / 4 * 4 > TCPU_TCP_MAX_HDR_LEN -
                                                TCPU_TCP_HDR_LEN)
    FAIL("options take %zu bytes, more than 40", pkt_opts_wire_len(s));
  return 0;
}

size_t pkt_opts_wire_len(const pkt_seg_spec *s) {
  size_t n = 0;

  for (size_t i = 0; i < s->nopts; i++) {
    const pkt_opt *o = &s->opts[i];

    switch (o->kind) {
    case PKT_OPT_EOL:
    case PKT_OPT_NOP:
      n += 1;
      break;
    case PKT_OPT_MSS:
      n += 4;
      break;
    case PKT_OPT_WSCALE:
      n += 3;
      break;
    case PKT_OPT_SACKOK:
      n += 2;
      break;
    case PKT_OPT_SACK:
      n += 2 + 8 * (size_t)o->nsack;
      break;
    case PKT_OPT_TS:
      n += 10;
      break;
    case PKT_OPT_RAW:
      n += o->b < 2 ? 2 : o->b;
      break;
    }
  }
  return n;
}

int pkt_parse_seg(pkt_lex *lx, int inbound, pkt_seg_spec *s, char *err,
                  size_t errlen) {
  memset(s, 0, sizeof(*s));
  if (parse_flags(lx, &s->flags, err, errlen) != 0 ||
      parse_range(lx, s, err, errlen) != 0)
    return -1;
  while (!pkt_lex_at_end(lx)) {
    uint64_t v;

    if (pkt_lex_keyword(lx, "ack")) {
      if (s->has_ack || pkt_lex_uint(lx, UINT32_MAX, &v) != 0)
        FAIL("expected one 'ack N'");
      s->has_ack = 1;
      s->ack = (uint32_t)v;
    } else if (pkt_lex_keyword(lx, "win")) {
      if (s->has_win || pkt_lex_uint(lx, UINT16_MAX, &v) != 0)
        FAIL("expected one 'win N' with N <= 65535");
      s->has_win = 1;
      s->win = (uint16_t)v;
    } else if (pkt_lex_keyword(lx, "urg")) {
      if (s->has_urg || pkt_lex_uint(lx, UINT16_MAX, &v) != 0)
        FAIL("expected one 'urg N' with N <= 65535");
      s->has_urg = 1;
      s->urg = (uint16_t)v;
    } else if (pkt_lex_char(lx, '<')) {
      if (parse_opts(lx, inbound, s, err, errlen) != 0)
        return -1;
      if (!pkt_lex_at_end(lx))
        FAIL("unexpected text after the option list: '%s'", lx->p);
    } else {
      FAIL("unexpected '%s' in a segment", lx->p);
    }
  }
  if (inbound && (s->flags & TH_ACK) && !s->has_ack)
    FAIL("an inbound segment with the ACK flag needs 'ack N'");
  return 0;
}
