/*
 * fmt.c — segments and times as script text, so a mismatch prints the
 * actual segment in the syntax the expected one was written in.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "run.h"

typedef struct out {
  char *p;
  size_t n, len;
} out;

static void put(out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...) {
  va_list ap;
  int k;

  if (o->len >= o->n)
    return;
  va_start(ap, fmt);
  k = vsnprintf(o->p + o->len, o->n - o->len, fmt, ap);
  va_end(ap);
  if (k > 0)
    o->len += (size_t)k;
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

const char *pkt_fmt_time(const pkt_run *r, tcpu_tstamp t, char *buf,
                         size_t n) {
  tcpu_duration d = t >= PKT_TIME_BASE ? t - PKT_TIME_BASE : 0;

  (void)r;
  snprintf(buf, n, "%" PRIu64 ".%06" PRIu64, d / TCPU_NS_PER_S,
           d % TCPU_NS_PER_S / 1000);
  return buf;
}

static void put_flags(out *o, uint8_t f) {
  static const struct {
    uint8_t bit;
    char c;
  } order[] = {{TH_SYN, 'S'}, {TH_FIN, 'F'}, {TH_RST, 'R'}, {TH_PSH, 'P'},
               {TH_URG, 'U'}, {TH_ECE, 'E'}, {TH_CWR, 'W'}, {TH_ACK, '.'}};

  if (f == 0) {
    put(o, "(none)");
    return;
  }
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
    if (f & order[i].bit)
      put(o, "%c", order[i].c);
}

/* Walks the option bytes as they are, so the print shows order, padding
 * and anything malformed. */
static void put_options(out *o, const uint8_t *p, size_t n) {
  size_t i = 0;

  put(o, " <");
  while (i < n) {
    uint8_t kind = p[i];
    size_t len;

    if (i > 0)
      put(o, ",");
    if (kind == TCPOPT_EOL) {
      put(o, "eol");
      break;
    }
    if (kind == TCPOPT_NOP) {
      put(o, "nop");
      i++;
      continue;
    }
    if (n - i < 2) {
      put(o, "opt %u (truncated)", kind);
      break;
    }
    len = p[i + 1];
    if (len < 2 || len > n - i) {
      put(o, "opt %u len %zu (malformed)", kind, len);
      break;
    }
    if (kind == TCPOPT_MSS && len == 4) {
      put(o, "mss %u", (unsigned)p[i + 2] << 8 | p[i + 3]);
    } else if (kind == TCPOPT_WSCALE && len == 3) {
      put(o, "wscale %u", p[i + 2]);
    } else if (kind == TCPOPT_SACK_PERM && len == 2) {
      put(o, "sackOK");
    } else if (kind == TCPOPT_TIMESTAMP && len == 10) {
      put(o, "TS val %" PRIu32 " ecr %" PRIu32, get32(p + i + 2),
          get32(p + i + 6));
    } else if (kind == TCPOPT_SACK && len >= 10 && (len - 2) % 8 == 0) {
      put(o, "sack");
      for (size_t b = i + 2; b < i + len; b += 8)
        put(o, " %" PRIu32 ":%" PRIu32, get32(p + b), get32(p + b + 4));
    } else {
      put(o, "opt %u len %zu", kind, len);
    }
    i += len;
  }
  put(o, ">");
}

void pkt_fmt_seg(char *buf, size_t n, const tcpu_seg *s, const uint8_t *raw,
                 uint32_t isn) {
  out o = {buf, n, 0};
  uint32_t rel = s->seq - isn;

  buf[0] = '\0';
  put_flags(&o, s->flags);
  put(&o, " %" PRIu32 ":%" PRIu32 "(%zu)", rel, rel + (uint32_t)s->len,
      s->len);
  if (s->flags & TH_ACK)
    put(&o, " ack %" PRIu32, s->ack);
  put(&o, " win %u", s->wnd);
  if (s->flags & TH_URG)
    put(&o, " urg %u", s->urp);
  if (s->hdr_len > TCPU_TCP_HDR_LEN)
    put_options(&o, raw + TCPU_TCP_HDR_LEN, s->hdr_len - TCPU_TCP_HDR_LEN);
}
