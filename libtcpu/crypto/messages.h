/*
 * messages.h — the sealed-mode wire format (DESIGN §3) and the protocol's
 * constants, as WireGuard's messages.h gathers them.
 *
 * Every message starts with a 4-byte header: the type byte, then 3 reserved
 * bytes that must be zero.  Indexes and the transport counter are
 * little-endian on the wire, as in WireGuard.
 *
 *   1 initiation (148)  type | sender index 4 | ephemeral 32 |
 *                       encrypted static 32+16 | encrypted TAI64N 12+16 |
 *                       mac1 16 | mac2 16
 *   2 response (92)     type | sender index 4 | receiver index 4 |
 *                       ephemeral 32 | encrypted nothing 0+16 |
 *                       mac1 16 | mac2 16
 *   3 cookie reply (64) type | receiver index 4 | nonce 24 |
 *                       encrypted cookie 16+16
 *   4 transport (32+n)  type | receiver index 4 | counter 8 |
 *                       AEAD(segment) n | tag 16          (n = 0: keepalive)
 *
 * Timing constants are WireGuard's (src/messages.h), in nanoseconds.
 */
#ifndef TCPU_CRYPTO_MESSAGES_H
#define TCPU_CRYPTO_MESSAGES_H

#include <stdint.h>

#include "tcpu/tcpu.h"

typedef enum tcpu_noise_msg_kind {
  TCPU_NOISE_MSG_INITIATION = 1,
  TCPU_NOISE_MSG_RESPONSE = 2,
  TCPU_NOISE_MSG_COOKIE = 3,
  TCPU_NOISE_MSG_TRANSPORT = 4
} tcpu_noise_msg_kind;

enum {
  TCPU_NOISE_KEY_LEN = 32,       /* X25519 keys, symmetric keys, PSK */
  TCPU_NOISE_HASH_LEN = 64,      /* BLAKE2b */
  TCPU_NOISE_TAG_LEN = 16,       /* AEAD tag */
  TCPU_NOISE_TIMESTAMP_LEN = 12, /* TAI64N */
  TCPU_NOISE_COOKIE_LEN = 16,    /* cookie, mac1, mac2 */
  TCPU_NOISE_COOKIE_NONCE_LEN = 24,

  TCPU_NOISE_HEADER_LEN = 4,

  /* initiation */
  TCPU_NOISE_INIT_SENDER_OFF = 4,
  TCPU_NOISE_INIT_NOISE_OFF = 8, /* the Noise message: e, s, payload */
  TCPU_NOISE_INIT_NOISE_LEN = 32 + (32 + 16) + (12 + 16),
  TCPU_NOISE_INIT_MAC1_OFF = 8 + 108,
  TCPU_NOISE_INIT_MAC2_OFF = 8 + 108 + 16,
  TCPU_NOISE_INITIATION_LEN = 8 + 108 + 32,

  /* response */
  TCPU_NOISE_RESP_SENDER_OFF = 4,
  TCPU_NOISE_RESP_RECEIVER_OFF = 8,
  TCPU_NOISE_RESP_NOISE_OFF = 12, /* the Noise message: e, payload */
  TCPU_NOISE_RESP_NOISE_LEN = 32 + (0 + 16),
  TCPU_NOISE_RESP_MAC1_OFF = 12 + 48,
  TCPU_NOISE_RESP_MAC2_OFF = 12 + 48 + 16,
  TCPU_NOISE_RESPONSE_LEN = 12 + 48 + 32,

  /* cookie reply */
  TCPU_NOISE_COOKIE_RECEIVER_OFF = 4,
  TCPU_NOISE_COOKIE_NONCE_OFF = 8,
  TCPU_NOISE_COOKIE_BOX_OFF = 32,
  TCPU_NOISE_COOKIE_REPLY_LEN = 32 + 16 + 16,

  /* transport data */
  TCPU_NOISE_DATA_RECEIVER_OFF = 4,
  TCPU_NOISE_DATA_COUNTER_OFF = 8,
  TCPU_NOISE_DATA_HEADER_LEN = 16,
  TCPU_NOISE_DATA_OVERHEAD = 16 + 16, /* header + tag */

  /* The last two fields of initiations and responses. */
  TCPU_NOISE_MACS_LEN = 2 * 16
};

/* Rekey and reject limits (WireGuard messages.h). */
#define TCPU_NOISE_REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
#define TCPU_NOISE_REJECT_AFTER_MESSAGES                                     \
  (UINT64_MAX - TCPU_NOISE_REPLAY_WINDOW - 1)
#define TCPU_NOISE_REKEY_AFTER_TIME_NS (120 * TCPU_NS_PER_S)
#define TCPU_NOISE_REJECT_AFTER_TIME_NS (180 * TCPU_NS_PER_S)
#define TCPU_NOISE_REKEY_ATTEMPT_TIME_NS (90 * TCPU_NS_PER_S)
#define TCPU_NOISE_REKEY_TIMEOUT_NS (5 * TCPU_NS_PER_S)
/* Handshake retransmissions get up to a third of a second of jitter. */
#define TCPU_NOISE_REKEY_TIMEOUT_JITTER_NS (334 * TCPU_NS_PER_MS)
#define TCPU_NOISE_KEEPALIVE_TIMEOUT_NS (10 * TCPU_NS_PER_S)
/* Initiations retried every REKEY_TIMEOUT for REKEY_ATTEMPT_TIME. */
#define TCPU_NOISE_MAX_TIMER_HANDSHAKES                                      \
  (TCPU_NOISE_REKEY_ATTEMPT_TIME_NS / TCPU_NOISE_REKEY_TIMEOUT_NS)
#define TCPU_NOISE_COOKIE_SECRET_MAX_AGE_NS (120 * TCPU_NS_PER_S)
#define TCPU_NOISE_COOKIE_SECRET_LATENCY_NS (5 * TCPU_NS_PER_S)
/* At most this many initiations a second are consumed from one peer. */
#define TCPU_NOISE_INITIATIONS_PER_SECOND 50

/* Replay window (RFC 6479 as WireGuard sizes it): a bitmap of 8192 bits of
 * which one word is always being recycled, so 8192 - 64 counters below the
 * highest one received are still told apart. */
#define TCPU_NOISE_REPLAY_BITS 8192
#define TCPU_NOISE_REPLAY_WINDOW (TCPU_NOISE_REPLAY_BITS - 64)

/* Handshake rate limit per source address (token bucket), WireGuard's
 * ratelimiter.c defaults. */
#define TCPU_NOISE_HANDSHAKES_PER_SECOND 20
#define TCPU_NOISE_HANDSHAKES_BURST 5

static inline uint32_t tcpu_noise_get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline void tcpu_noise_put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static inline uint64_t tcpu_noise_get_le64(const uint8_t *p) {
  return (uint64_t)tcpu_noise_get_le32(p) |
         (uint64_t)tcpu_noise_get_le32(p + 4) << 32;
}

static inline void tcpu_noise_put_le64(uint8_t *p, uint64_t v) {
  tcpu_noise_put_le32(p, (uint32_t)v);
  tcpu_noise_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif /* TCPU_CRYPTO_MESSAGES_H */
