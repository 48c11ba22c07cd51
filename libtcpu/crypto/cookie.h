/*
 * cookie.h — mac1, mac2 and cookie replies: WireGuard's defence of the
 * handshake against floods (whitepaper §5.4.4, §5.4.7).
 *
 * Every initiation and response ends in mac1 and mac2:
 *   mac1 = MAC(HASH32("mac1----" || receiver's static public key),
 *              message up to mac1)
 *   mac2 = MAC(cookie, message up to mac2), or 16 zero bytes without a
 *          fresh cookie
 * where MAC(key, m) is keyed BLAKE2b with a 16-byte digest and HASH32 is
 * BLAKE2b with a 32-byte digest.  WireGuard uses BLAKE2s for both;
 * libsodium has no BLAKE2s, so sealed mode takes BLAKE2b with the digest
 * length set as a BLAKE2 parameter (not BLAKE2b-512 cut short) — the same
 * construction over the other BLAKE2 variant.  Anyone who knows the
 * receiver's public key can compute mac1: it is a cheap filter that lets a
 * receiver drop traffic not meant for it before any DH.
 *
 * Under load the receiver also wants mac2: a message whose mac1 is right
 * but whose mac2 is not gets a cookie reply instead of processing,
 *   cookie = MAC(secret, source address), secret random, renewed every
 *            TCPU_NOISE_COOKIE_SECRET_MAX_AGE_NS (120 s);
 *   reply  = type 3 | receiver index (the message's sender index) |
 *            nonce 24 | XChaCha20-Poly1305(key = HASH32("cookie--" ||
 *            the replier's public key), nonce, cookie, ad = the mac1)
 * and the sender, holding the cookie, proves on its next message that it
 * can receive at that address.  A reply (64 bytes) is always smaller than
 * the message that caused it (148 or 92).  The sender uses a cookie for
 * 120 - 5 s after receiving it, and only accepts a reply bound to the mac1
 * it last sent, once.
 *
 * Receive order for handshake messages (the endpoint's):
 *   1. tcpu_cookie_validate: DROP -> silence, no DH;
 *   2. tcpu_ratelimit_allow (ratelimit.h) for the source: no -> silence;
 *   3. SEND_REPLY -> tcpu_cookie_create_reply to the source, stop;
 *      ACCEPT -> tcpu_noise_consume_initiation / _response (handshake.h).
 */
#ifndef TCPU_CRYPTO_COOKIE_H
#define TCPU_CRYPTO_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/messages.h"
#include "crypto/noise.h"
#include "tcpu/tcpu.h"

/* Receiving side: one per local identity. */
typedef struct tcpu_cookie_checker {
  uint8_t mac1_key[TCPU_NOISE_KEY_LEN];   /* HASH32("mac1----" || our pub) */
  uint8_t cookie_key[TCPU_NOISE_KEY_LEN]; /* HASH32("cookie--" || our pub) */
  uint8_t secret[TCPU_NOISE_KEY_LEN];
  tcpu_tstamp secret_birth; /* TCPU_TSTAMP_NONE: no secret yet */
  tcpu_noise_rng rng;
} tcpu_cookie_checker;

/* Sending side: one per peer. */
typedef struct tcpu_cookie_maker {
  uint8_t mac1_key[TCPU_NOISE_KEY_LEN];   /* HASH32("mac1----" || peer pub) */
  uint8_t cookie_key[TCPU_NOISE_KEY_LEN]; /* HASH32("cookie--" || peer pub) */
  uint8_t cookie[TCPU_NOISE_COOKIE_LEN];
  tcpu_tstamp cookie_birth;
  uint8_t last_mac1[TCPU_NOISE_COOKIE_LEN];
  uint8_t have_cookie;
  uint8_t have_sent_mac1;
} tcpu_cookie_maker;

typedef enum tcpu_cookie_verdict {
  TCPU_COOKIE_DROP = 0,   /* wrong size, type or mac1: drop silently */
  TCPU_COOKIE_ACCEPT,     /* process it */
  TCPU_COOKIE_SEND_REPLY  /* under load without a valid mac2: answer with a
                             cookie reply, do not process */
} tcpu_cookie_verdict;

/* HASH32(label || pub): the mac1 and cookie keys.  label is 8 bytes. */
void tcpu_cookie_derive_key(uint8_t key[TCPU_NOISE_KEY_LEN], const char *label,
                            const uint8_t pub[TCPU_NOISE_KEY_LEN]);
/* MAC(key, msg): keyed BLAKE2b, 16-byte digest; keylen 16 or 32. */
void tcpu_cookie_mac(uint8_t out[TCPU_NOISE_COOKIE_LEN], const uint8_t *key,
                     size_t keylen, const uint8_t *msg, size_t len);

/* Keys from our static public key; rng NULL: libsodium.  Never fails. */
void tcpu_cookie_checker_init(tcpu_cookie_checker *cc,
                              const uint8_t local_pub[TCPU_NOISE_KEY_LEN],
                              const tcpu_noise_rng *rng);
void tcpu_cookie_checker_wipe(tcpu_cookie_checker *cc);
/* 1 when msg is a whole initiation or response with a valid mac1. */
int tcpu_cookie_check_mac1(const tcpu_cookie_checker *cc, const uint8_t *msg,
                           size_t len);
/* The verdict on an initiation or response from src (see the receive order
 * above).  under_load is the caller's judgement (e.g. handshakes queued
 * or handled per second above a threshold).  Renews the secret when it has
 * aged out. */
tcpu_cookie_verdict tcpu_cookie_validate(tcpu_cookie_checker *cc,
                                         const uint8_t *msg, size_t len,
                                         const tcpu_addr *src, int under_load,
                                         tcpu_tstamp now);
/* The cookie reply to msg (an initiation or response with valid mac1)
 * from src: TCPU_NOISE_COOKIE_REPLY_LEN bytes, or TCPU_ERR_NOBUF,
 * TCPU_ERR_PROTO when msg is not such a message. */
tcpu_ssize tcpu_cookie_create_reply(tcpu_cookie_checker *cc, uint8_t *out,
                                    size_t cap, const uint8_t *msg, size_t len,
                                    const tcpu_addr *src, tcpu_tstamp now);

void tcpu_cookie_maker_init(tcpu_cookie_maker *cm,
                            const uint8_t peer_pub[TCPU_NOISE_KEY_LEN]);
void tcpu_cookie_maker_wipe(tcpu_cookie_maker *cm);
/* Fills mac1 and mac2, the last 32 bytes of msg (an initiation or response
 * being sent), and remembers mac1 for the reply it may draw. */
void tcpu_cookie_add_macs(tcpu_cookie_maker *cm, uint8_t *msg, size_t len,
                          tcpu_tstamp now);
/* Takes the cookie from a reply to the message we last sent.  0, or
 * TCPU_ERR_PROTO (wrong size or type, no message outstanding, does not
 * authenticate — including a second copy of a reply already taken). */
int tcpu_cookie_consume_reply(tcpu_cookie_maker *cm, const uint8_t *msg,
                              size_t len, tcpu_tstamp now);

#endif /* TCPU_CRYPTO_COOKIE_H */
