/*
 * fuzz_seg.c — the segment codec against arbitrary datagrams.
 *
 * Decoding must never read past the input (the sanitizers watch), and what
 * it accepts must survive a round trip: re-encoding a decoded segment and
 * decoding that again yields the same fields, the header length encode
 * promised, a valid checksum, and the very same bytes when encoded twice.
 * The word-at-a-time checksum must also agree with RFC 1071's plain 16-bit
 * loop, which encode and decode cannot check on their own: both share it.
 * Any disagreement aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "core/seg.h"
#include "fuzz.h"

static void check(int ok) {
  if (!ok)
    abort();
}

/* RFC 1071 §4.1, with the zero-address pseudo-header of seg.h. */
static uint16_t ref_checksum(const uint8_t *p, size_t n) {
  uint32_t sum = 6 + (uint32_t)n;

  for (size_t i = 0; i + 1 < n; i += 2)
    sum += (uint32_t)p[i] << 8 | p[i + 1];
  if (n & 1)
    sum += (uint32_t)p[n - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* a: decoded from the input; b: from our encoding of a.  Encoding keeps
 * every field but drops unknown options, padding and SACK blocks beyond
 * the 40 option bytes (seg.c), so b may hold fewer blocks, never others. */
static void check_same(const tcpu_seg *a, const tcpu_seg *b) {
  check(a->sport == b->sport && a->dport == b->dport);
  check(a->seq == b->seq && a->ack == b->ack);
  check(a->flags == b->flags && a->reserved == b->reserved);
  check(a->wnd == b->wnd && a->urp == b->urp);
  check(a->opt.has_mss == b->opt.has_mss && a->opt.mss == b->opt.mss);
  check(a->opt.has_wscale == b->opt.has_wscale &&
        a->opt.wscale == b->opt.wscale);
  check(a->opt.sack_permitted == b->opt.sack_permitted);
  check(a->opt.has_ts == b->opt.has_ts && a->opt.ts_val == b->opt.ts_val &&
        a->opt.ts_ecr == b->opt.ts_ecr);
  check(b->opt.nsack <= a->opt.nsack);
  /* Beside every other option 2 blocks still fit. */
  check(b->opt.nsack >= (a->opt.nsack < 2 ? a->opt.nsack : 2));
  check(memcmp(a->opt.sack, b->opt.sack,
               b->opt.nsack * sizeof(tcpu_sack_block)) == 0);
  check(a->len == b->len);
  check(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t enc1[TCPU_TCP_MAX_HDR_LEN + 65536];
  static uint8_t enc2[TCPU_TCP_MAX_HDR_LEN + 65536];
  tcpu_seg a, v, b, c;
  tcpu_seg_status st, vst;
  tcpu_ssize n1, n2;

  if (size > 65535) /* one UDP datagram */
    return 0;
  check(tcpu_seg_checksum(data, size) == ref_checksum(data, size));
  st = tcpu_seg_decode(&a, data, size, 0);
  vst = tcpu_seg_decode(&v, data, size, 1);
  /* The checksum check only adds a reason to refuse, and it is checked
   * after the offset and before the options. */
  if (st == TCPU_SEG_SHORT || st == TCPU_SEG_BAD_OFFSET) {
    check(vst == st);
    return 0;
  }
  check(vst == (tcpu_seg_checksum(data, size) != 0 ? TCPU_SEG_BAD_CHECKSUM
                                                    : st));
  if (st != TCPU_SEG_OK)
    return 0;
  check(a.hdr_len >= TCPU_TCP_HDR_LEN && a.hdr_len <= size);
  check(a.data == data + a.hdr_len && a.len == size - a.hdr_len);
  check(a.opt.nsack <= TCPU_SACK_MAX_BLOCKS);
  if (vst == TCPU_SEG_OK)
    check_same(&a, &v);

  n1 = tcpu_seg_encode(&a, enc1, sizeof(enc1));
  check(n1 > 0 && (size_t)n1 == tcpu_seg_hdr_len(&a) + a.len);
  check(tcpu_seg_encode(&a, enc1, (size_t)n1 - 1) == TCPU_ERR_NOBUF);
  check(tcpu_seg_checksum(enc1, (size_t)n1) == 0);
  check(tcpu_seg_decode(&b, enc1, (size_t)n1, 1) == TCPU_SEG_OK);
  check(b.hdr_len == tcpu_seg_hdr_len(&a));
  check_same(&a, &b);

  /* A second trip is a fixed point: the bytes do not move. */
  n2 = tcpu_seg_encode(&b, enc2, sizeof(enc2));
  check(n2 == n1 && memcmp(enc1, enc2, (size_t)n1) == 0);
  check(tcpu_seg_decode(&c, enc2, (size_t)n2, 1) == TCPU_SEG_OK);
  check_same(&b, &c);
  check(c.opt.nsack == b.opt.nsack);
  return 0;
}
