/*
 * seg.c — TCP segment codec: header (RFC 9293 §3.1), options (RFC 9293
 * §3.2: EOL, NOP, MSS; RFC 7323 §2-3: window scale, timestamps; RFC 2018
 * §2-3: SACK-permitted, SACK) and the internet checksum (RFC 1071) over the
 * zero-address pseudo-header described in seg.h.
 *
 * Decoding is strict where Linux is lenient: a datagram whose options do
 * not parse is dropped and counted rather than half-trusted, because in
 * plain mode nothing but the UDP checksum stands between us and a stray
 * datagram.  Every read is bounded by the header length, itself bounded by
 * the datagram length.
 */
#include "core/seg.h"

#include <string.h>

/* Option lengths, RFC 9293 §3.2, RFC 7323 §2.2/§3.2, RFC 2018 §2/§3. */
enum {
  OLEN_MSS = 4,
  OLEN_WSCALE = 3,
  OLEN_SACK_PERM = 2,
  OLEN_TIMESTAMP = 10,
  OLEN_SACK_BASE = 2,
  OLEN_SACK_BLOCK = 8
};

#define MAX_OPT_LEN (TCPU_TCP_MAX_HDR_LEN - TCPU_TCP_HDR_LEN)

static inline uint16_t get16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static inline uint8_t *put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
  return p + 2;
}

static inline uint8_t *put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
  return p + 4;
}

/* ------------------------------------------------------------- checksum */

/* One's-complement addition of 64-bit words with end-around carry.  Since
 * 2^16 - 1 divides 2^64 - 1, folding the result later gives the same sum as
 * adding 16-bit words one by one (RFC 1071 §2 (C), parallel summation). */
static inline uint64_t add_carry(uint64_t acc, uint64_t w) {
  acc += w;
  return acc + (acc < w);
}

/* Sums bytes in memory order as native-endian words.  RFC 1071 §2 (B): the
 * sum is byte-order independent, so only the final 16 bits need to be read
 * back in network order.  Loads go through memcpy: any alignment, no
 * aliasing trouble, and compilers turn them into plain loads. */
#if defined(__GNUC__) || defined(__clang__)
/* The bulk as 32-bit halves of 64-bit words into 64-bit lanes of vector
 * registers (GCC/Clang vector extensions, SSE2 or NEON): no carry test,
 * since 2^32 additions cannot overflow a lane, and the same machine code
 * at -O2 and -O3.  Left to the auto-vectorizer, the scalar form below
 * took 40 ns per 1,440 bytes at -O2 but 101 ns at -O3 (GCC 12, x86-64);
 * this takes 30 ns at both, and 30 ns with Clang. */
typedef uint64_t sum_vec __attribute__((vector_size(16)));

static uint64_t sum_bulk(const uint8_t **pp, size_t *np) {
  const sum_vec lo32 = {0xffffffffu, 0xffffffffu};
  sum_vec lo0 = {0, 0}, hi0 = {0, 0}, lo1 = {0, 0}, hi1 = {0, 0}, t;
  const uint8_t *p = *pp;
  size_t n = *np;

  while (n >= 32) {
    sum_vec a, b;
    memcpy(&a, p, sizeof a);
    memcpy(&b, p + 16, sizeof b);
    lo0 += a & lo32;
    hi0 += a >> 32;
    lo1 += b & lo32;
    hi1 += b >> 32;
    p += 32;
    n -= 32;
  }
  *pp = p;
  *np = n;
  /* A segment is at most 64 KiB: under 2^11 additions a lane, each
   * below 2^32, so these sums stay far from 2^64. */
  t = lo0 + hi0 + lo1 + hi1;
  return t[0] + t[1];
}
#else
static uint64_t sum_bulk(const uint8_t **pp, size_t *np) {
  uint64_t wide = 0;
  while (*np >= 32) {
    uint32_t w[8];
    memcpy(w, *pp, sizeof w);
    for (int i = 0; i < 8; i++)
      wide += w[i];
    *pp += 32;
    *np -= 32;
  }
  return wide;
}
#endif

static uint64_t sum_words(uint64_t acc, const uint8_t *p, size_t n) {
  uint64_t w0;

  /* The bulk as 32-bit words into a plain 64-bit sum, folded in once at
   * the end (RFC 1071 §2 (C)). */
  acc = add_carry(acc, sum_bulk(&p, &n));
  while (n >= 8) {
    memcpy(&w0, p, 8);
    acc = add_carry(acc, w0);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    /* The tail sits at an offset that is a multiple of 8, so copying it to
     * the front of a zeroed word keeps every byte in its 16-bit lane; an odd
     * last byte gets the zero pad RFC 9293 §3.1 asks for. */
    w0 = 0;
    memcpy(&w0, p, n);
    acc = add_carry(acc, w0);
  }
  return acc;
}

uint16_t tcpu_seg_checksum(const uint8_t *seg, size_t len) {
  /* Pseudo-header with zero addresses (seg.h).  It is written in the
   * RFC 8200 §8.1 form, 32-bit length then three zero bytes and next header
   * 6; with zero addresses this sums exactly like the RFC 9293 §3.1 IPv4
   * form (zero, PTCL 6, 16-bit TCP length) for every length up to 65535. */
  uint8_t ph[8] = {0, 0, 0, 0, 0, 0, 0, 6};
  uint64_t acc;
  uint8_t b[2];
  uint16_t v;

  put32(ph, (uint32_t)len);
  acc = sum_words(0, ph, sizeof(ph));
  acc = sum_words(acc, seg, len);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  v = (uint16_t)~acc;
  memcpy(b, &v, 2); /* native lanes back to network order */
  return get16(b);
}

/* --------------------------------------------------------------- decode */

static tcpu_seg_status parse_options(tcpu_seg_opts *o, const uint8_t *p,
                                     size_t n) {
  size_t i = 0;

  while (i < n) {
    uint8_t kind = p[i];
    size_t olen;

    if (kind == TCPOPT_EOL) /* RFC 9293 §3.2: end of the option list */
      break;
    if (kind == TCPOPT_NOP) { /* RFC 9293 §3.2: a single byte, no length */
      i++;
      continue;
    }
    /* Every other kind has a length octet counting kind and length
     * (RFC 9293 §3.2), so anything below 2 cannot advance and a length
     * past the header means the option was cut off. */
    if (n - i < 2)
      return TCPU_SEG_BAD_OPTION;
    olen = p[i + 1];
    if (olen < 2 || olen > n - i)
      return TCPU_SEG_BAD_OPTION;

    switch (kind) {
    case TCPOPT_MSS:
      if (olen != OLEN_MSS)
        return TCPU_SEG_BAD_OPTION;
      o->has_mss = 1;
      o->mss = get16(p + i + 2);
      break;
    case TCPOPT_WSCALE:
      if (olen != OLEN_WSCALE)
        return TCPU_SEG_BAD_OPTION;
      /* RFC 7323 §2.3: a shift above 14 MUST be used as 14.  The caller
       * clamps; the codec reports what arrived. */
      o->has_wscale = 1;
      o->wscale = p[i + 2];
      break;
    case TCPOPT_SACK_PERM:
      if (olen != OLEN_SACK_PERM)
        return TCPU_SEG_BAD_OPTION;
      o->sack_permitted = 1;
      break;
    case TCPOPT_TIMESTAMP:
      if (olen != OLEN_TIMESTAMP)
        return TCPU_SEG_BAD_OPTION;
      o->has_ts = 1;
      o->ts_val = get32(p + i + 2);
      o->ts_ecr = get32(p + i + 6);
      break;
    case TCPOPT_SACK: {
      /* RFC 2018 §3: length 2 + 8n; 40 option bytes leave room for n <= 4. */
      size_t nb = (olen - OLEN_SACK_BASE) / OLEN_SACK_BLOCK;
      const uint8_t *b = p + i + OLEN_SACK_BASE;

      if ((olen - OLEN_SACK_BASE) % OLEN_SACK_BLOCK != 0 || nb < 1 ||
          nb > TCPU_SACK_MAX_BLOCKS)
        return TCPU_SEG_BAD_SACK;
      o->nsack = (uint8_t)nb;
      for (size_t k = 0; k < nb; k++, b += OLEN_SACK_BLOCK) {
        o->sack[k].start = get32(b);
        o->sack[k].end = get32(b + 4);
      }
      break;
    }
    default:
      /* RFC 9293 §3.2 (and RFC 1122 §4.2.2.5): an unknown option must be
       * skipped by its length, never refused. */
      break;
    }
    i += olen;
  }
  return TCPU_SEG_OK;
}

tcpu_seg_status tcpu_seg_decode(tcpu_seg *s, const uint8_t *buf, size_t len,
                                int verify_csum) {
  size_t hlen;

  memset(s, 0, sizeof(*s));
  if (len < TCPU_TCP_HDR_LEN)
    return TCPU_SEG_SHORT;
  /* RFC 9293 §3.1: Data Offset counts 32-bit words, at least 5. */
  hlen = (size_t)(buf[12] >> 4) * 4;
  if (hlen < TCPU_TCP_HDR_LEN || hlen > len)
    return TCPU_SEG_BAD_OFFSET;
  /* Before the options, as a kernel does: a corrupted datagram is then
   * counted as corrupted, not as whatever its damaged options look like. */
  if (verify_csum && tcpu_seg_checksum(buf, len) != 0)
    return TCPU_SEG_BAD_CHECKSUM;

  s->sport = get16(buf);
  s->dport = get16(buf + 2);
  s->seq = get32(buf + 4);
  s->ack = get32(buf + 8);
  s->reserved = buf[12] & 0x0f;
  s->flags = buf[13];
  s->wnd = get16(buf + 14);
  s->urp = get16(buf + 18);
  s->hdr_len = (uint8_t)hlen;
  s->data = buf + hlen;
  s->len = len - hlen;
  return parse_options(&s->opt, buf + TCPU_TCP_HDR_LEN,
                       hlen - TCPU_TCP_HDR_LEN);
}

/* --------------------------------------------------------------- encode */

/* Option bytes encode writes, and how many SACK blocks fit.  The layouts
 * are Linux's tcp_options_write, every option 4-byte aligned so no padding
 * is ever needed:
 *   MSS                          4   kind 2, len 4, mss
 *   SACK_PERM TS  or  NOP NOP TS 12  the SACK-permitted rides in TS's pad
 *   NOP NOP SACK_PERM            4   only without timestamps
 *   NOP WSCALE                   4
 *   NOP NOP SACK + 8n            4+8n
 * RFC 9293 §3.1 caps options at 40 bytes; SACK blocks that do not fit are
 * dropped from the end, since RFC 2018 §4 puts the block of the latest
 * arrival first.  That leaves 4 blocks alone and 3 beside timestamps. */
static size_t opts_len(const tcpu_seg_opts *o, unsigned *nsack) {
  size_t n = 0;
  unsigned nb = o->nsack < TCPU_SACK_MAX_BLOCKS ? o->nsack
                                                : TCPU_SACK_MAX_BLOCKS;

  if (o->has_mss)
    n += 4;
  if (o->has_ts)
    n += 12;
  else if (o->sack_permitted)
    n += 4;
  if (o->has_wscale)
    n += 4;
  if (nb > 0 && n + 4 + OLEN_SACK_BLOCK * (size_t)nb > MAX_OPT_LEN)
    nb = (unsigned)((MAX_OPT_LEN - n - 4) / OLEN_SACK_BLOCK);
  if (nb > 0)
    n += 4 + OLEN_SACK_BLOCK * (size_t)nb;
  *nsack = nb;
  return n;
}

size_t tcpu_seg_hdr_len(const tcpu_seg *s) {
  unsigned nb;

  return TCPU_TCP_HDR_LEN + opts_len(&s->opt, &nb);
}

static uint8_t *write_options(uint8_t *p, const tcpu_seg_opts *o,
                              unsigned nsack) {
  if (o->has_mss) {
    *p++ = TCPOPT_MSS;
    *p++ = OLEN_MSS;
    p = put16(p, o->mss);
  }
  if (o->has_ts) {
    if (o->sack_permitted) {
      *p++ = TCPOPT_SACK_PERM;
      *p++ = OLEN_SACK_PERM;
    } else {
      *p++ = TCPOPT_NOP;
      *p++ = TCPOPT_NOP;
    }
    *p++ = TCPOPT_TIMESTAMP;
    *p++ = OLEN_TIMESTAMP;
    p = put32(p, o->ts_val);
    p = put32(p, o->ts_ecr);
  } else if (o->sack_permitted) {
    *p++ = TCPOPT_NOP;
    *p++ = TCPOPT_NOP;
    *p++ = TCPOPT_SACK_PERM;
    *p++ = OLEN_SACK_PERM;
  }
  if (o->has_wscale) {
    *p++ = TCPOPT_NOP;
    *p++ = TCPOPT_WSCALE;
    *p++ = OLEN_WSCALE;
    *p++ = o->wscale;
  }
  if (nsack > 0) {
    *p++ = TCPOPT_NOP;
    *p++ = TCPOPT_NOP;
    *p++ = TCPOPT_SACK;
    *p++ = (uint8_t)(OLEN_SACK_BASE + OLEN_SACK_BLOCK * nsack);
    for (unsigned k = 0; k < nsack; k++) {
      p = put32(p, o->sack[k].start);
      p = put32(p, o->sack[k].end);
    }
  }
  return p;
}

tcpu_ssize tcpu_seg_encode(const tcpu_seg *s, uint8_t *buf, size_t buflen) {
  return tcpu_seg_encode_csum(s, buf, buflen, 1);
}

tcpu_ssize tcpu_seg_encode_csum(const tcpu_seg *s, uint8_t *buf,
                                size_t buflen, int csum) {
  unsigned nsack;
  size_t hlen = TCPU_TCP_HDR_LEN + opts_len(&s->opt, &nsack);
  uint8_t *p = buf;

  if (buflen < hlen || buflen - hlen < s->len)
    return TCPU_ERR_NOBUF;
  /* Data first: it may already sit in buf, at or behind buf + hlen, and a
   * header written first could overwrite it. */
  if (s->len > 0 && s->data != buf + hlen)
    memmove(buf + hlen, s->data, s->len);

  p = put16(p, s->sport);
  p = put16(p, s->dport);
  p = put32(p, s->seq);
  p = put32(p, s->ack);
  *p++ = (uint8_t)((hlen / 4) << 4 | (s->reserved & 0x0f));
  *p++ = s->flags;
  p = put16(p, s->wnd);
  p = put16(p, 0); /* checksum, computed over the finished segment */
  p = put16(p, s->urp);
  write_options(p, &s->opt, nsack);

  if (csum)
    put16(buf + 16, tcpu_seg_checksum(buf, hlen + s->len));
  return (tcpu_ssize)(hlen + s->len);
}
