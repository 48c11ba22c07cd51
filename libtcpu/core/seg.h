/*
 * seg.h — TCP segment codec (RFC 9293 §3.1, options of RFC 9293 §3.2,
 * RFC 7323 §2-3, RFC 2018).
 *
 * Wire rule of plain mode (DESIGN §3): the UDP payload is exactly one TCP
 * segment.  NATs rewrite the outer addresses, so the inner checksum cannot
 * cover the real IP pseudo-header.  We compute it RFC 9293 §3.1 style over
 * a pseudo-header whose source and destination addresses are zero (zero,
 * protocol 6, TCP length), and verify it on input: the UDP checksum guards
 * the path, ours guards against datagrams that are not ours, and a pcap
 * writer only has to re-checksum with real addresses.
 */
#ifndef TCPU_CORE_SEG_H
#define TCPU_CORE_SEG_H

#include <stddef.h>
#include <stdint.h>

#include "tcpu/tcpu.h"

enum {
  TH_FIN = 0x01,
  TH_SYN = 0x02,
  TH_RST = 0x04,
  TH_PSH = 0x08,
  TH_ACK = 0x10,
  TH_URG = 0x20,
  TH_ECE = 0x40,
  TH_CWR = 0x80
};

enum {
  TCPOPT_EOL = 0,
  TCPOPT_NOP = 1,
  TCPOPT_MSS = 2,
  TCPOPT_WSCALE = 3,
  TCPOPT_SACK_PERM = 4,
  TCPOPT_SACK = 5,
  TCPOPT_TIMESTAMP = 8
};

#define TCPU_TCP_HDR_LEN 20
#define TCPU_TCP_MAX_HDR_LEN 60
/* 40 option bytes hold at most 4 SACK blocks (RFC 2018 §3), 3 alongside
 * timestamps. */
#define TCPU_SACK_MAX_BLOCKS 4
#define TCPU_WSCALE_MAX 14 /* RFC 7323 §2.3 */

typedef struct tcpu_sack_block {
  uint32_t start, end; /* [start, end) */
} tcpu_sack_block;

typedef struct tcpu_seg_opts {
  unsigned has_mss : 1, has_wscale : 1, sack_permitted : 1, has_ts : 1;
  uint16_t mss;
  uint8_t wscale; /* as received; callers clamp to TCPU_WSCALE_MAX */
  uint32_t ts_val, ts_ecr;
  uint8_t nsack;
  tcpu_sack_block sack[TCPU_SACK_MAX_BLOCKS];
} tcpu_seg_opts;

typedef struct tcpu_seg {
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t flags;     /* TH_* */
  uint8_t reserved;  /* the 4 reserved bits, kept for round trips */
  uint16_t wnd;      /* raw 16-bit field, unscaled */
  uint16_t urp;
  uint8_t hdr_len;   /* header length in bytes, decode only */
  tcpu_seg_opts opt;
  const uint8_t *data;
  size_t len;
} tcpu_seg;

/* Why a datagram failed to decode.  Each has a counter in
 * tcpu_endpoint_stats. */
typedef enum tcpu_seg_status {
  TCPU_SEG_OK = 0,
  TCPU_SEG_SHORT = -1,       /* fewer than 20 bytes */
  TCPU_SEG_BAD_OFFSET = -2,  /* data offset < 5 or beyond the datagram */
  TCPU_SEG_BAD_OPTION = -3,  /* truncated, length 0/1, wrong fixed size */
  TCPU_SEG_BAD_SACK = -4,    /* SACK length not 2+8n with 1 <= n <= 4 */
  TCPU_SEG_BAD_CHECKSUM = -5
} tcpu_seg_status;

/* Parses buf into *s.  s->data points into buf.  Unknown options are
 * skipped by their length; EOL ends the list.  A repeated option: the last
 * one wins.  Checks the checksum when verify_csum is nonzero. */
tcpu_seg_status tcpu_seg_decode(tcpu_seg *s, const uint8_t *buf, size_t len,
                                int verify_csum);

/* Length of the header encode would write: 20 + options, padded to 4. */
size_t tcpu_seg_hdr_len(const tcpu_seg *s);

/* Writes header, options (in Linux's order and padding: SYN: MSS, SACK_PERM,
 * TS, NOP, WSCALE; otherwise NOP NOP TS, then NOP NOP SACK) and s->data into
 * buf, then the checksum.  Returns the total length or TCPU_ERR_NOBUF. */
tcpu_ssize tcpu_seg_encode(const tcpu_seg *s, uint8_t *buf, size_t buflen);
/* The same with the checksum field left zero when csum is 0: sealed mode,
 * where the AEAD's tag covers every byte (DESIGN §3) and the sum would
 * only cost time (about 5% of a sealed bulk transfer). */
tcpu_ssize tcpu_seg_encode_csum(const tcpu_seg *s, uint8_t *buf,
                                size_t buflen, int csum);

/* Internet checksum of a whole encoded segment with the zero-address
 * pseudo-header; the checksum field must be zero or it is included. */
uint16_t tcpu_seg_checksum(const uint8_t *seg, size_t len);

/* Segment length in sequence space: data + SYN + FIN (RFC 9293 §3.4). */
static inline uint32_t tcpu_seg_seqlen(const tcpu_seg *s) {
  return (uint32_t)s->len + ((s->flags & TH_SYN) ? 1u : 0u) +
         ((s->flags & TH_FIN) ? 1u : 0u);
}

#endif /* TCPU_CORE_SEG_H */
