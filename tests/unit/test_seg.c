/*
 * test_seg.c — the segment codec (RFC 9293 §3.1-3.2, RFC 7323, RFC 2018,
 * RFC 1071): field decoding, Linux option layouts byte for byte, round
 * trips, every malformed-input status, and the checksum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/seg.h"

/* Fails naming the table row, so one run reports which case broke. */
#define CHECK(row, got, want)                                                \
  do {                                                                       \
    if ((long long)(got) != (long long)(want))                               \
      fail_msg("%s: %s is %lld, want %lld", (row), #got, (long long)(got),   \
               (long long)(want));                                           \
  } while (0)

/* A 20-byte header: port 12345 -> 80, seq 1, ack 0, the given data offset
 * (in words), ACK, window 65535, checksum 0, urgent 0. */
#define HDR(doff)                                                            \
  0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, (uint8_t)((doff) << 4),    \
      TH_ACK, 0xff, 0xff, 0, 0, 0, 0

static void assert_seg_equal(const char *row, const tcpu_seg *a,
                             const tcpu_seg *b) {
  CHECK(row, a->sport, b->sport);
  CHECK(row, a->dport, b->dport);
  CHECK(row, a->seq, b->seq);
  CHECK(row, a->ack, b->ack);
  CHECK(row, a->flags, b->flags);
  CHECK(row, a->reserved, b->reserved);
  CHECK(row, a->wnd, b->wnd);
  CHECK(row, a->urp, b->urp);
  CHECK(row, a->opt.has_mss, b->opt.has_mss);
  CHECK(row, a->opt.has_mss ? a->opt.mss : 0, b->opt.has_mss ? b->opt.mss : 0);
  CHECK(row, a->opt.has_wscale, b->opt.has_wscale);
  CHECK(row, a->opt.has_wscale ? a->opt.wscale : 0,
        b->opt.has_wscale ? b->opt.wscale : 0);
  CHECK(row, a->opt.sack_permitted, b->opt.sack_permitted);
  CHECK(row, a->opt.has_ts, b->opt.has_ts);
  if (a->opt.has_ts) {
    CHECK(row, a->opt.ts_val, b->opt.ts_val);
    CHECK(row, a->opt.ts_ecr, b->opt.ts_ecr);
  }
  CHECK(row, a->opt.nsack, b->opt.nsack);
  for (unsigned i = 0; i < a->opt.nsack; i++) {
    CHECK(row, a->opt.sack[i].start, b->opt.sack[i].start);
    CHECK(row, a->opt.sack[i].end, b->opt.sack[i].end);
  }
  CHECK(row, a->len, b->len);
  if (a->len > 0 && memcmp(a->data, b->data, a->len) != 0)
    fail_msg("%s: payload differs", row);
}

/* ---------------------------------------------------------------- decode */

static void test_seg_header_fields_decoded(void **state) {
  static const uint8_t buf[] = {
      0xab, 0xcd, 0x12, 0x34,             /* ports 43981 -> 4660 */
      0xde, 0xad, 0xbe, 0xef,             /* seq */
      0x01, 0x02, 0x03, 0x04,             /* ack */
      0x5a,                               /* doff 5, reserved 0xa */
      TH_CWR | TH_ECE | TH_URG | TH_ACK | TH_PSH | TH_FIN,
      0x80, 0x01,                         /* window */
      0x00, 0x00,                         /* checksum (not verified) */
      0x00, 0x07,                         /* urgent pointer */
      'h', 'e', 'l', 'l', 'o'};
  tcpu_seg s;

  (void)state;
  assert_int_equal(tcpu_seg_decode(&s, buf, sizeof(buf), 0), TCPU_SEG_OK);
  assert_int_equal(s.sport, 43981);
  assert_int_equal(s.dport, 4660);
  assert_int_equal(s.seq, 0xdeadbeef);
  assert_int_equal(s.ack, 0x01020304);
  assert_int_equal(s.reserved, 0xa);
  assert_int_equal(s.flags, 0xf9);
  assert_int_equal(s.wnd, 0x8001);
  assert_int_equal(s.urp, 7);
  assert_int_equal(s.hdr_len, 20);
  assert_ptr_equal(s.data, buf + 20);
  assert_int_equal(s.len, 5);
  assert_memory_equal(s.data, "hello", 5);
  assert_int_equal(s.opt.has_mss | s.opt.has_ts | s.opt.has_wscale |
                       s.opt.sack_permitted | s.opt.nsack,
                   0);
  /* A SYN and a FIN each take one sequence number (RFC 9293 §3.4). */
  assert_int_equal(tcpu_seg_seqlen(&s), 6);
  s.flags |= TH_SYN;
  assert_int_equal(tcpu_seg_seqlen(&s), 7);
}

/* Linux's SYN: every option it sends, and garbage after EOL. */
static void test_seg_syn_options_decoded(void **state) {
  static const uint8_t buf[] = {
      HDR(11),
      0x02, 0x04, 0x05, 0xb4,             /* mss 1460 */
      0x04, 0x02,                         /* sackOK */
      0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, /* TS val 1 ecr 2 */
      0x01, 0x03, 0x03, 0x07,             /* nop, wscale 7 */
      0x00, 0xff, 0xff, 0xff};            /* EOL, then junk never read */
  tcpu_seg s;

  (void)state;
  assert_int_equal(tcpu_seg_decode(&s, buf, sizeof(buf), 0), TCPU_SEG_OK);
  assert_int_equal(s.hdr_len, 44);
  assert_int_equal(s.len, 0);
  assert_true(s.opt.has_mss);
  assert_int_equal(s.opt.mss, 1460);
  assert_true(s.opt.sack_permitted);
  assert_true(s.opt.has_ts);
  assert_int_equal(s.opt.ts_val, 1);
  assert_int_equal(s.opt.ts_ecr, 2);
  assert_true(s.opt.has_wscale);
  assert_int_equal(s.opt.wscale, 7);
  assert_int_equal(s.opt.nsack, 0);
}

/* RFC 9293 §3.2: an option of unknown kind is skipped by its length. */
static void test_seg_unknown_options_skipped_ok(void **state) {
  static const uint8_t buf[] = {
      HDR(9),
      0x1e, 0x06, 0xaa, 0xbb, 0xcc, 0xdd, /* kind 30 (MPTCP), 6 bytes */
      0xfd, 0x02,                         /* kind 253 (experimental), bare */
      0x02, 0x04, 0x02, 0x18,             /* mss 536 */
      0x13, 0x04, 0x00, 0x00};            /* kind 19 (old MD5), 4 bytes */
  tcpu_seg s;

  (void)state;
  assert_int_equal(tcpu_seg_decode(&s, buf, sizeof(buf), 0), TCPU_SEG_OK);
  assert_true(s.opt.has_mss);
  assert_int_equal(s.opt.mss, 536);
  assert_false(s.opt.has_ts);
  assert_int_equal(s.opt.nsack, 0);
}

/* RFC 9293 §3.2: EOL ends the list even if valid options follow. */
static void test_seg_eol_ends_parsing_ok(void **state) {
  static const uint8_t buf[] = {HDR(8),
                                0x02, 0x04, 0x05, 0xb4, /* mss 1460 */
                                0x00, 0x01, 0x01, 0x01, /* EOL, padding */
                                0x01, 0x03, 0x03, 0x07 /* unseen wscale */};
  tcpu_seg s;

  (void)state;
  assert_int_equal(tcpu_seg_decode(&s, buf, sizeof(buf), 0), TCPU_SEG_OK);
  assert_true(s.opt.has_mss);
  assert_false(s.opt.has_wscale);
  assert_int_equal(s.hdr_len, 32);
}

/* seg.h: a repeated option overrides the earlier one. */
static void test_seg_repeated_options_last_wins(void **state) {
  static const uint8_t buf[] = {
      HDR(15),
      0x02, 0x04, 0x03, 0xe8,                         /* mss 1000 */
      0x02, 0x04, 0x05, 0xb4,                         /* mss 1460 */
      0x01, 0x01, 0x05, 0x12, 0, 0, 0, 1, 0, 0, 0, 2, /* SACK 2 blocks */
      0, 0, 0, 3, 0, 0, 0, 4,
      0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 9, 0, 0, 0, 10, /* SACK 1 block */
  };
  tcpu_seg s;

  (void)state;
  assert_int_equal(tcpu_seg_decode(&s, buf, sizeof(buf), 0), TCPU_SEG_OK);
  assert_int_equal(s.opt.mss, 1460);
  assert_int_equal(s.opt.nsack, 1);
  assert_int_equal(s.opt.sack[0].start, 9);
  assert_int_equal(s.opt.sack[0].end, 10);
}

/* RFC 2018 §3: SACK carries 1 to 4 blocks, length 2 + 8n. */
static void test_seg_sack_1_to_4_blocks_decoded(void **state) {
  (void)state;
  for (unsigned n = 1; n <= 4; n++) {
    uint8_t buf[60] = {HDR(0)};
    uint8_t *p = buf + 20;
    size_t olen = 2 + 8 * n;
    size_t hlen = 20 + ((2 + olen + 3) & ~(size_t)3);
    tcpu_seg s;

    buf[12] = (uint8_t)((hlen / 4) << 4);
    *p++ = TCPOPT_NOP;
    *p++ = TCPOPT_NOP;
    *p++ = TCPOPT_SACK;
    *p++ = (uint8_t)olen;
    for (unsigned k = 0; k < 2 * n; k++, p += 4)
      p[3] = (uint8_t)(100 + k); /* start = 100 + 2k, end = 101 + 2k */
    assert_int_equal(tcpu_seg_decode(&s, buf, hlen, 0), TCPU_SEG_OK);
    assert_int_equal(s.opt.nsack, n);
    for (unsigned k = 0; k < n; k++) {
      assert_int_equal(s.opt.sack[k].start, 100 + 2 * k);
      assert_int_equal(s.opt.sack[k].end, 101 + 2 * k);
    }
  }
}

/* Malformed headers: each row is the whole datagram and the status the
 * decoder must return without trusting any of it. */
struct bad_case {
  const char *name;
  uint8_t buf[64];
  size_t len;
  tcpu_seg_status want;
};

static const struct bad_case bad_cases[] = {
#define T(name, want, len, ...) {name, {__VA_ARGS__}, len, want}
    T("empty", TCPU_SEG_SHORT, 0, 0),
    T("one byte", TCPU_SEG_SHORT, 1, 0x30),
    T("19 bytes", TCPU_SEG_SHORT, 19, HDR(5)),
    T("doff 0", TCPU_SEG_BAD_OFFSET, 20, HDR(0)),
    T("doff 4", TCPU_SEG_BAD_OFFSET, 20, HDR(4)),
    T("doff 6 in 20 bytes", TCPU_SEG_BAD_OFFSET, 20, HDR(6)),
    T("doff 15 in 56 bytes", TCPU_SEG_BAD_OFFSET, 56, HDR(15)),
    T("option length 0", TCPU_SEG_BAD_OPTION, 24, HDR(6), 0x1e, 0x00, 0, 0),
    T("option length 1", TCPU_SEG_BAD_OPTION, 24, HDR(6), 0x1e, 0x01, 0, 0),
    T("kind without length at the end", TCPU_SEG_BAD_OPTION, 24, HDR(6), 0x01,
      0x01, 0x01, 0x02),
    T("mss past the header", TCPU_SEG_BAD_OPTION, 28, HDR(6), 0x01, 0x01, 0x02,
      0x04, 0x05, 0xb4, 0, 0),
    T("unknown past the header", TCPU_SEG_BAD_OPTION, 24, HDR(6), 0x1e, 0x08,
      0, 0),
    T("mss length 3", TCPU_SEG_BAD_OPTION, 24, HDR(6), 0x02, 0x03, 0x05, 0x00),
    T("mss length 6", TCPU_SEG_BAD_OPTION, 28, HDR(7), 0x02, 0x06, 0x05, 0xb4,
      0, 0, 0, 0),
    T("wscale length 4", TCPU_SEG_BAD_OPTION, 24, HDR(6), 0x03, 0x04, 7, 0),
    T("wscale length 2", TCPU_SEG_BAD_OPTION, 24, HDR(6), 0x03, 0x02, 0, 0),
    T("sackOK length 3", TCPU_SEG_BAD_OPTION, 24, HDR(6), 0x04, 0x03, 0, 0),
    T("timestamp length 8", TCPU_SEG_BAD_OPTION, 28, HDR(7), 0x08, 0x08, 0, 0,
      0, 1, 0, 0),
    T("timestamp length 12", TCPU_SEG_BAD_OPTION, 32, HDR(8), 0x08, 0x0c, 0,
      0, 0, 1, 0, 0, 0, 2, 0, 0),
    T("sack length 2", TCPU_SEG_BAD_SACK, 24, HDR(6), 0x05, 0x02, 0x01, 0x01),
    T("sack length 9", TCPU_SEG_BAD_SACK, 32, HDR(8), 0x05, 0x09, 0, 0, 0, 1,
      0, 0, 0, 2, 0, 0),
    T("sack length 14", TCPU_SEG_BAD_SACK, 36, HDR(9), 0x05, 0x0e, 0, 0, 0, 1,
      0, 0, 0, 2, 0, 0, 0, 3, 0, 0),
    T("sack past the header", TCPU_SEG_BAD_OPTION, 28, HDR(7), 0x05, 0x12, 0,
      0, 0, 1, 0, 0),
    T("bad option after a good one", TCPU_SEG_BAD_OPTION, 28, HDR(7), 0x02,
      0x04, 0x05, 0xb4, 0x03, 0x03, 0x07, 0x1e),
#undef T
};

static void test_seg_malformed_table_rejected(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
    const struct bad_case *c = &bad_cases[i];
    tcpu_seg s;

    CHECK(c->name, tcpu_seg_decode(&s, c->buf, c->len, 0), c->want);
  }
}

/* Five SACK blocks (length 42) cannot fit 40 option bytes: the option runs
 * past the header before its length is judged. */
static void test_seg_sack_5_blocks_bad_option(void **state) {
  uint8_t buf[60] = {HDR(15), 0x05, 42};
  tcpu_seg s;

  (void)state;
  assert_int_equal(tcpu_seg_decode(&s, buf, sizeof(buf), 0),
                   TCPU_SEG_BAD_OPTION);
}

/* ---------------------------------------------------------------- encode */

struct layout_case {
  const char *name;
  uint8_t flags;
  tcpu_seg_opts opt;
  uint8_t want[40];
  size_t want_len;
};

#define TS(v, e) .has_ts = 1, .ts_val = (v), .ts_ecr = (e)
#define BLK(a, b) {(a), (b)}
#define B32(x)                                                               \
  (uint8_t)((x) >> 24), (uint8_t)((x) >> 16), (uint8_t)((x) >> 8), (uint8_t)(x)

/* What Linux's tcp_options_write emits for the same options; the names
 * are tcpdump's rendering. */
static const struct layout_case layout_cases[] = {
    {.name = "syn mss,sackOK,TS,nop,wscale",
     .flags = TH_SYN,
     .opt = {.has_mss = 1, .mss = 1460, .sack_permitted = 1, TS(1, 0),
             .has_wscale = 1, .wscale = 7},
     .want = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, B32(1), B32(0),
              0x01, 0x03, 0x03, 0x07},
     .want_len = 20},
    {.name = "syn mss,nop,nop,TS,nop,wscale",
     .flags = TH_SYN,
     .opt = {.has_mss = 1, .mss = 1460, TS(0xcafef00d, 7), .has_wscale = 1,
             .wscale = 14},
     .want = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x08, 0x0a, B32(0xcafef00d),
              B32(7), 0x01, 0x03, 0x03, 0x0e},
     .want_len = 20},
    {.name = "syn mss,nop,nop,sackOK,nop,wscale",
     .flags = TH_SYN,
     .opt = {.has_mss = 1, .mss = 1460, .sack_permitted = 1, .has_wscale = 1,
             .wscale = 7},
     .want = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02, 0x01, 0x03, 0x03,
              0x07},
     .want_len = 12},
    {.name = "syn mss,nop,nop,sackOK",
     .flags = TH_SYN,
     .opt = {.has_mss = 1, .mss = 1400, .sack_permitted = 1},
     .want = {0x02, 0x04, 0x05, 0x78, 0x01, 0x01, 0x04, 0x02},
     .want_len = 8},
    {.name = "syn mss",
     .flags = TH_SYN,
     .opt = {.has_mss = 1, .mss = 536},
     .want = {0x02, 0x04, 0x02, 0x18},
     .want_len = 4},
    {.name = "syn-ack mss,nop,wscale 0",
     .flags = TH_SYN | TH_ACK,
     .opt = {.has_mss = 1, .mss = 1460, .has_wscale = 1, .wscale = 0},
     .want = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x00},
     .want_len = 8},
    {.name = "ack nop,nop,TS",
     .flags = TH_ACK,
     .opt = {TS(100, 200)},
     .want = {0x01, 0x01, 0x08, 0x0a, B32(100), B32(200)},
     .want_len = 12},
    {.name = "ack nop,nop,TS,nop,nop,sack 1",
     .flags = TH_ACK,
     .opt = {TS(5, 6), .nsack = 1, .sack = {BLK(1000, 2000)}},
     .want = {0x01, 0x01, 0x08, 0x0a, B32(5), B32(6), 0x01, 0x01, 0x05, 0x0a,
              B32(1000), B32(2000)},
     .want_len = 24},
    {.name = "ack nop,nop,TS,nop,nop,sack 3",
     .flags = TH_ACK,
     .opt = {TS(5, 6), .nsack = 3, .sack = {BLK(1, 2), BLK(3, 4), BLK(5, 6)}},
     .want = {0x01, 0x01, 0x08, 0x0a, B32(5), B32(6), 0x01, 0x01, 0x05, 0x1a,
              B32(1), B32(2), B32(3), B32(4), B32(5), B32(6)},
     .want_len = 40},
    {.name = "ack TS with 4 blocks keeps the first 3",
     .flags = TH_ACK,
     .opt = {TS(5, 6), .nsack = 4,
             .sack = {BLK(1, 2), BLK(3, 4), BLK(5, 6), BLK(7, 8)}},
     .want = {0x01, 0x01, 0x08, 0x0a, B32(5), B32(6), 0x01, 0x01, 0x05, 0x1a,
              B32(1), B32(2), B32(3), B32(4), B32(5), B32(6)},
     .want_len = 40},
    {.name = "ack nop,nop,sack 4 across the wrap",
     .flags = TH_ACK,
     .opt = {.nsack = 4,
             .sack = {BLK(0xfffffff0, 0x10), BLK(3, 4), BLK(5, 6), BLK(7, 8)}},
     .want = {0x01, 0x01, 0x05, 0x22, B32(0xfffffff0), B32(0x10), B32(3),
              B32(4), B32(5), B32(6), B32(7), B32(8)},
     .want_len = 36},
    {.name = "ack nsack beyond the array is 4",
     .flags = TH_ACK,
     .opt = {.nsack = 200,
             .sack = {BLK(1, 2), BLK(3, 4), BLK(5, 6), BLK(7, 8)}},
     .want = {0x01, 0x01, 0x05, 0x22, B32(1), B32(2), B32(3), B32(4), B32(5),
              B32(6), B32(7), B32(8)},
     .want_len = 36},
    {.name = "every option with 4 blocks keeps 2",
     .flags = TH_SYN | TH_ACK,
     .opt = {.has_mss = 1, .mss = 1460, .sack_permitted = 1, TS(1, 2),
             .has_wscale = 1, .wscale = 7, .nsack = 4,
             .sack = {BLK(1, 2), BLK(3, 4), BLK(5, 6), BLK(7, 8)}},
     .want = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, B32(1), B32(2),
              0x01, 0x03, 0x03, 0x07, 0x01, 0x01, 0x05, 0x12, B32(1), B32(2),
              B32(3), B32(4)},
     .want_len = 40},
    {.name = "no options", .flags = TH_ACK, .want_len = 0},
};

static void test_seg_option_layouts_match_linux(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(layout_cases) / sizeof(layout_cases[0]); i++) {
    const struct layout_case *c = &layout_cases[i];
    tcpu_seg s = {.sport = 1, .dport = 2, .flags = c->flags, .opt = c->opt};
    uint8_t buf[80];
    tcpu_ssize n = tcpu_seg_encode(&s, buf, sizeof(buf));

    CHECK(c->name, n, 20 + c->want_len);
    CHECK(c->name, tcpu_seg_hdr_len(&s), 20 + c->want_len);
    CHECK(c->name, buf[12] >> 4, (20 + c->want_len) / 4);
    CHECK(c->name, buf[13], c->flags);
    if (memcmp(buf + 20, c->want, c->want_len) != 0)
      fail_msg("%s: option bytes differ", c->name);
  }
}

static void test_seg_header_bytes_exact(void **state) {
  static const uint8_t want[] = {0x30, 0x39, 0x00, 0x50,  /* ports */
                                 0x80, 0x00, 0x00, 0x01,  /* seq */
                                 0xff, 0xff, 0xff, 0xff,  /* ack */
                                 0x53,                    /* doff 5, rsvd 3 */
                                 TH_PSH | TH_ACK, 0x01, 0x00, /* window 256 */
                                 0x00, 0x00,              /* checksum */
                                 0x12, 0x34,              /* urgent */
                                 'x', 'y', 'z'};
  tcpu_seg s = {.sport = 12345, .dport = 80, .seq = 0x80000001,
                .ack = 0xffffffff, .reserved = 0x3,
                .flags = TH_PSH | TH_ACK, .wnd = 256, .urp = 0x1234,
                .data = (const uint8_t *)"xyz", .len = 3};
  uint8_t buf[64];

  (void)state;
  assert_int_equal(tcpu_seg_encode(&s, buf, sizeof(buf)), sizeof(want));
  assert_memory_equal(buf, want, 16);
  assert_memory_equal(buf + 18, want + 18, sizeof(want) - 18);
  assert_int_equal(tcpu_seg_checksum(buf, sizeof(want)), 0);
}

static void test_seg_small_buffer_nobuf(void **state) {
  tcpu_seg s = {.flags = TH_ACK, .opt = {TS(1, 2)},
                .data = (const uint8_t *)"0123456789", .len = 10};
  uint8_t buf[64];

  (void)state;
  assert_int_equal(tcpu_seg_encode(&s, buf, 0), TCPU_ERR_NOBUF);
  assert_int_equal(tcpu_seg_encode(&s, buf, 31), TCPU_ERR_NOBUF);
  assert_int_equal(tcpu_seg_encode(&s, buf, 32 + 9), TCPU_ERR_NOBUF);
  assert_int_equal(tcpu_seg_encode(&s, buf, 32 + 10), 42);
}

/* Payload already in place behind the header is not copied over itself. */
static void test_seg_data_in_place_encoded(void **state) {
  uint8_t buf[64];
  tcpu_seg s = {.flags = TH_ACK, .opt = {TS(9, 9)}, .len = 5};
  tcpu_seg d;

  (void)state;
  memcpy(buf + tcpu_seg_hdr_len(&s), "abcde", 5);
  s.data = buf + tcpu_seg_hdr_len(&s);
  assert_int_equal(tcpu_seg_encode(&s, buf, sizeof(buf)), 37);
  assert_int_equal(tcpu_seg_decode(&d, buf, 37, 1), TCPU_SEG_OK);
  assert_memory_equal(d.data, "abcde", 5);
}

/* ------------------------------------------------------------ round trip */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void) { /* xorshift64*: repeatable, no libc rand */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

/* SACK blocks encode keeps: 40 option bytes less the others and the 4 of
 * the SACK option's own NOP NOP kind length, 8 per block. */
static unsigned blocks_that_fit(const tcpu_seg_opts *o) {
  unsigned base = 4 * o->has_mss + 4 * o->has_wscale +
                  (o->has_ts ? 12 : 4 * o->sack_permitted);
  unsigned fit = (40 - base - 4) / 8;
  unsigned n = o->nsack > 4 ? 4 : o->nsack;

  return n < fit ? n : fit;
}

static void test_seg_random_round_trip_equal(void **state) {
  uint8_t payload[300], buf[400];

  (void)state;
  for (int i = 0; i < 20000; i++) {
    tcpu_seg s = {0}, d;
    uint32_t bits = rnd();
    tcpu_ssize n;
    char row[32];

    snprintf(row, sizeof(row), "iteration %d", i);
    s.sport = (uint16_t)rnd();
    s.dport = (uint16_t)rnd();
    s.seq = rnd();
    s.ack = rnd();
    s.flags = (uint8_t)rnd();
    s.reserved = (uint8_t)(rnd() & 0x0f);
    s.wnd = (uint16_t)rnd();
    s.urp = (uint16_t)rnd();
    s.opt.has_mss = bits & 1;
    s.opt.mss = s.opt.has_mss ? (uint16_t)rnd() : 0;
    s.opt.has_wscale = (bits >> 1) & 1;
    s.opt.wscale = s.opt.has_wscale ? (uint8_t)rnd() : 0;
    s.opt.sack_permitted = (bits >> 2) & 1;
    s.opt.has_ts = (bits >> 3) & 1;
    s.opt.ts_val = s.opt.has_ts ? rnd() : 0;
    s.opt.ts_ecr = s.opt.has_ts ? rnd() : 0;
    s.opt.nsack = (uint8_t)((bits >> 4) % 5);
    for (unsigned k = 0; k < s.opt.nsack; k++) {
      s.opt.sack[k].start = rnd();
      s.opt.sack[k].end = rnd();
    }
    s.len = (bits >> 8) % 2 ? (bits >> 9) % sizeof(payload) : 0;
    for (size_t k = 0; k < s.len; k++)
      payload[k] = (uint8_t)rnd();
    s.data = payload;

    n = tcpu_seg_encode(&s, buf, sizeof(buf));
    CHECK(row, n, tcpu_seg_hdr_len(&s) + s.len);
    CHECK(row, tcpu_seg_decode(&d, buf, (size_t)n, 1), TCPU_SEG_OK);
    CHECK(row, d.hdr_len, tcpu_seg_hdr_len(&s));
    s.opt.nsack = (uint8_t)blocks_that_fit(&s.opt);
    assert_seg_equal(row, &s, &d);
  }
}

/* -------------------------------------------------------------- checksum */

/* RFC 1071 §3's worked example, bytes 00 01 f2 03 f4 f5 f6 f7, sums to
 * ddf2; our zero-address pseudo-header adds protocol 6 and length 8. */
static void test_seg_checksum_rfc1071_example_matches(void **state) {
  static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

  (void)state;
  assert_int_equal(tcpu_seg_checksum(b, sizeof(b)),
                   (uint16_t)~(0xddf2 + 6 + 8));
}

/* The straightforward 16-bit loop of RFC 1071 §4.1, as a reference. */
static uint16_t ref_checksum(const uint8_t *p, size_t n) {
  uint32_t sum = 6 + (uint32_t)(n & 0xffff) + (uint32_t)(n >> 16);

  for (size_t i = 0; i + 1 < n; i += 2)
    sum += (uint32_t)p[i] << 8 | p[i + 1];
  if (n & 1)
    sum += (uint32_t)p[n - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* Every length and alignment, so the word loop, its tail and the odd last
 * byte all meet the reference; all-0xff data drives the carries hardest. */
static void test_seg_checksum_any_length_alignment_matches_reference(
    void **state) {
  static uint8_t buf[1600];

  (void)state;
  for (int fill = 0; fill < 2; fill++) {
    for (size_t i = 0; i < sizeof(buf); i++)
      buf[i] = fill ? 0xff : (uint8_t)rnd();
    for (size_t off = 0; off < 8; off++)
      for (size_t n = 0; n + off <= sizeof(buf); n += n < 80 ? 1 : 37) {
        char row[48];

        snprintf(row, sizeof(row), "fill %d off %zu len %zu", fill, off, n);
        CHECK(row, tcpu_seg_checksum(buf + off, n),
              ref_checksum(buf + off, n));
      }
  }
  /* The largest segments, all ones: the widest sums the word loop makes. */
  static uint8_t big[65536 + 8];
  memset(big, 0xff, sizeof(big));
  for (size_t off = 0; off < 8; off += 3)
    for (size_t n = 65528; n <= 65535; n++)
      assert_int_equal(tcpu_seg_checksum(big + off, n),
                       ref_checksum(big + off, n));
}

/* RFC 1071: a one's-complement sum catches every single-bit error. */
static void test_seg_flipped_bit_bad_checksum(void **state) {
  uint8_t buf[128];
  tcpu_seg s = {.sport = 7, .dport = 9, .seq = 100, .flags = TH_ACK,
                .opt = {TS(1, 2), .nsack = 1, .sack = {BLK(5, 10)}},
                .data = (const uint8_t *)"payload!", .len = 8};
  tcpu_seg d;
  tcpu_ssize n = tcpu_seg_encode(&s, buf, sizeof(buf));

  (void)state;
  assert_true(n > 0);
  assert_int_equal(tcpu_seg_decode(&d, buf, (size_t)n, 1), TCPU_SEG_OK);
  for (size_t bit = 0; bit < (size_t)n * 8; bit++) {
    tcpu_seg_status st;

    buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
    st = tcpu_seg_decode(&d, buf, (size_t)n, 1);
    /* A data-offset bit may make the header impossible first. */
    if (bit / 8 == 12 && bit % 8 >= 4 && st == TCPU_SEG_BAD_OFFSET)
      st = TCPU_SEG_BAD_CHECKSUM;
    if (st != TCPU_SEG_BAD_CHECKSUM)
      fail_msg("bit %zu: status %d", bit, st);
    /* Without verification the same datagram may well decode. */
    buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
  }
  assert_int_equal(tcpu_seg_decode(&d, buf, (size_t)n, 1), TCPU_SEG_OK);
}

static void test_seg_bad_checksum_unverified_ok(void **state) {
  uint8_t buf[64];
  tcpu_seg s = {.flags = TH_SYN, .opt = {.has_mss = 1, .mss = 1460}};
  tcpu_seg d;
  tcpu_ssize n = tcpu_seg_encode(&s, buf, sizeof(buf));

  (void)state;
  buf[16] ^= 0x40;
  assert_int_equal(tcpu_seg_decode(&d, buf, (size_t)n, 1),
                   TCPU_SEG_BAD_CHECKSUM);
  assert_int_equal(tcpu_seg_decode(&d, buf, (size_t)n, 0), TCPU_SEG_OK);
  assert_int_equal(d.opt.mss, 1460);
}

/* Checked after the offset (a kernel needs the header to exist first) but
 * before the options: a corrupted datagram counts as corrupted. */
static void test_seg_bad_checksum_and_options_bad_checksum(void **state) {
  static const uint8_t buf[] = {HDR(6), 0x02, 0x03, 0x05, 0x00};
  tcpu_seg d;

  (void)state;
  assert_int_not_equal(tcpu_seg_checksum(buf, sizeof(buf)), 0);
  assert_int_equal(tcpu_seg_decode(&d, buf, sizeof(buf), 1),
                   TCPU_SEG_BAD_CHECKSUM);
  assert_int_equal(tcpu_seg_decode(&d, buf, sizeof(buf), 0),
                   TCPU_SEG_BAD_OPTION);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seg_header_fields_decoded),
      cmocka_unit_test(test_seg_syn_options_decoded),
      cmocka_unit_test(test_seg_unknown_options_skipped_ok),
      cmocka_unit_test(test_seg_eol_ends_parsing_ok),
      cmocka_unit_test(test_seg_repeated_options_last_wins),
      cmocka_unit_test(test_seg_sack_1_to_4_blocks_decoded),
      cmocka_unit_test(test_seg_malformed_table_rejected),
      cmocka_unit_test(test_seg_sack_5_blocks_bad_option),
      cmocka_unit_test(test_seg_option_layouts_match_linux),
      cmocka_unit_test(test_seg_header_bytes_exact),
      cmocka_unit_test(test_seg_small_buffer_nobuf),
      cmocka_unit_test(test_seg_data_in_place_encoded),
      cmocka_unit_test(test_seg_random_round_trip_equal),
      cmocka_unit_test(test_seg_checksum_rfc1071_example_matches),
      cmocka_unit_test(
          test_seg_checksum_any_length_alignment_matches_reference),
      cmocka_unit_test(test_seg_flipped_bit_bad_checksum),
      cmocka_unit_test(test_seg_bad_checksum_unverified_ok),
      cmocka_unit_test(test_seg_bad_checksum_and_options_bad_checksum),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
