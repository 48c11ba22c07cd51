/*
 * cookie.c — mac1/mac2 and cookie replies (WireGuard whitepaper §5.4.4,
 * §5.4.7; its src/cookie.c), over BLAKE2b as cookie.h explains.
 */
#include "crypto/cookie.h"

#include <sodium.h>
#include <string.h>

#define LABEL_MAC1 "mac1----"
#define LABEL_COOKIE "cookie--"
#define LABEL_LEN 8

void tcpu_cookie_derive_key(uint8_t key[TCPU_NOISE_KEY_LEN], const char *label,
                            const uint8_t pub[TCPU_NOISE_KEY_LEN]) {
  crypto_generichash_blake2b_state st;
  crypto_generichash_blake2b_init(&st, NULL, 0, TCPU_NOISE_KEY_LEN);
  crypto_generichash_blake2b_update(&st, (const uint8_t *)label, LABEL_LEN);
  crypto_generichash_blake2b_update(&st, pub, TCPU_NOISE_KEY_LEN);
  crypto_generichash_blake2b_final(&st, key, TCPU_NOISE_KEY_LEN);
}

void tcpu_cookie_mac(uint8_t out[TCPU_NOISE_COOKIE_LEN], const uint8_t *key,
                     size_t keylen, const uint8_t *msg, size_t len) {
  crypto_generichash_blake2b(out, TCPU_NOISE_COOKIE_LEN, msg, len, key,
                             keylen);
}

/* Offset of mac1 in an initiation or response of exactly the right size,
 * or 0 for anything else. */
static size_t mac1_offset(const uint8_t *msg, size_t len) {
  if (len < TCPU_NOISE_HEADER_LEN || msg[1] | msg[2] | msg[3])
    return 0;
  if (msg[0] == TCPU_NOISE_MSG_INITIATION && len == TCPU_NOISE_INITIATION_LEN)
    return TCPU_NOISE_INIT_MAC1_OFF;
  if (msg[0] == TCPU_NOISE_MSG_RESPONSE && len == TCPU_NOISE_RESPONSE_LEN)
    return TCPU_NOISE_RESP_MAC1_OFF;
  return 0;
}

/* ---------------------------------------------------------- receiving */

void tcpu_cookie_checker_init(tcpu_cookie_checker *cc,
                              const uint8_t local_pub[TCPU_NOISE_KEY_LEN],
                              const tcpu_noise_rng *rng) {
  memset(cc, 0, sizeof *cc);
  tcpu_cookie_derive_key(cc->mac1_key, LABEL_MAC1, local_pub);
  tcpu_cookie_derive_key(cc->cookie_key, LABEL_COOKIE, local_pub);
  cc->secret_birth = TCPU_TSTAMP_NONE;
  if (rng != NULL)
    cc->rng = *rng;
}

void tcpu_cookie_checker_wipe(tcpu_cookie_checker *cc) {
  sodium_memzero(cc, sizeof *cc);
}

int tcpu_cookie_check_mac1(const tcpu_cookie_checker *cc, const uint8_t *msg,
                           size_t len) {
  uint8_t mac[TCPU_NOISE_COOKIE_LEN];
  size_t off = mac1_offset(msg, len);
  if (off == 0)
    return 0;
  tcpu_cookie_mac(mac, cc->mac1_key, sizeof cc->mac1_key, msg, off);
  return crypto_verify_16(mac, msg + off) == 0;
}

/* cookie = MAC(secret, source address); the secret is renewed once it is
 * TCPU_NOISE_COOKIE_SECRET_MAX_AGE_NS old. */
static void make_cookie(tcpu_cookie_checker *cc,
                        uint8_t cookie[TCPU_NOISE_COOKIE_LEN],
                        const tcpu_addr *src, tcpu_tstamp now) {
  uint8_t a[1 + 16 + 2];

  if (cc->secret_birth == TCPU_TSTAMP_NONE || now < cc->secret_birth ||
      now - cc->secret_birth >= TCPU_NOISE_COOKIE_SECRET_MAX_AGE_NS) {
    tcpu_noise_random(&cc->rng, cc->secret, sizeof cc->secret);
    cc->secret_birth = now;
  }
  a[0] = src->family;
  memcpy(a + 1, src->ip, 16);
  a[17] = (uint8_t)(src->port >> 8);
  a[18] = (uint8_t)src->port;
  tcpu_cookie_mac(cookie, cc->secret, sizeof cc->secret, a, sizeof a);
}

tcpu_cookie_verdict tcpu_cookie_validate(tcpu_cookie_checker *cc,
                                         const uint8_t *msg, size_t len,
                                         const tcpu_addr *src, int under_load,
                                         tcpu_tstamp now) {
  uint8_t cookie[TCPU_NOISE_COOKIE_LEN], mac[TCPU_NOISE_COOKIE_LEN];
  tcpu_cookie_verdict v;

  if (!tcpu_cookie_check_mac1(cc, msg, len))
    return TCPU_COOKIE_DROP;
  if (!under_load)
    return TCPU_COOKIE_ACCEPT;
  make_cookie(cc, cookie, src, now);
  tcpu_cookie_mac(mac, cookie, sizeof cookie, msg,
                  len - TCPU_NOISE_COOKIE_LEN);
  v = crypto_verify_16(mac, msg + len - TCPU_NOISE_COOKIE_LEN) == 0
          ? TCPU_COOKIE_ACCEPT
          : TCPU_COOKIE_SEND_REPLY;
  sodium_memzero(cookie, sizeof cookie);
  return v;
}

tcpu_ssize tcpu_cookie_create_reply(tcpu_cookie_checker *cc, uint8_t *out,
                                    size_t cap, const uint8_t *msg, size_t len,
                                    const tcpu_addr *src, tcpu_tstamp now) {
  uint8_t cookie[TCPU_NOISE_COOKIE_LEN];
  size_t off = mac1_offset(msg, len);

  if (off == 0)
    return TCPU_ERR_PROTO;
  if (cap < TCPU_NOISE_COOKIE_REPLY_LEN)
    return TCPU_ERR_NOBUF;
  memset(out, 0, TCPU_NOISE_HEADER_LEN);
  out[0] = TCPU_NOISE_MSG_COOKIE;
  /* Both message kinds carry the sender index at offset 4. */
  memcpy(out + TCPU_NOISE_COOKIE_RECEIVER_OFF, msg + 4, 4);
  tcpu_noise_random(&cc->rng, out + TCPU_NOISE_COOKIE_NONCE_OFF,
                    TCPU_NOISE_COOKIE_NONCE_LEN);
  make_cookie(cc, cookie, src, now);
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out + TCPU_NOISE_COOKIE_BOX_OFF, NULL, cookie, sizeof cookie, msg + off,
      TCPU_NOISE_COOKIE_LEN, NULL, out + TCPU_NOISE_COOKIE_NONCE_OFF,
      cc->cookie_key);
  sodium_memzero(cookie, sizeof cookie);
  return TCPU_NOISE_COOKIE_REPLY_LEN;
}

/* ------------------------------------------------------------ sending */

void tcpu_cookie_maker_init(tcpu_cookie_maker *cm,
                            const uint8_t peer_pub[TCPU_NOISE_KEY_LEN]) {
  memset(cm, 0, sizeof *cm);
  tcpu_cookie_derive_key(cm->mac1_key, LABEL_MAC1, peer_pub);
  tcpu_cookie_derive_key(cm->cookie_key, LABEL_COOKIE, peer_pub);
  cm->cookie_birth = TCPU_TSTAMP_NONE;
}

void tcpu_cookie_maker_wipe(tcpu_cookie_maker *cm) {
  sodium_memzero(cm, sizeof *cm);
}

void tcpu_cookie_add_macs(tcpu_cookie_maker *cm, uint8_t *msg, size_t len,
                          tcpu_tstamp now) {
  uint8_t *mac1 = msg + len - TCPU_NOISE_MACS_LEN;
  uint8_t *mac2 = mac1 + TCPU_NOISE_COOKIE_LEN;

  tcpu_cookie_mac(mac1, cm->mac1_key, sizeof cm->mac1_key, msg,
                  len - TCPU_NOISE_MACS_LEN);
  memcpy(cm->last_mac1, mac1, TCPU_NOISE_COOKIE_LEN);
  cm->have_sent_mac1 = 1;

  /* A cookie is good while the replier's secret that made it may still be
   * current, less the time the reply may have spent in flight. */
  if (cm->have_cookie && now >= cm->cookie_birth &&
      now - cm->cookie_birth < TCPU_NOISE_COOKIE_SECRET_MAX_AGE_NS -
                                   TCPU_NOISE_COOKIE_SECRET_LATENCY_NS)
    tcpu_cookie_mac(mac2, cm->cookie, sizeof cm->cookie, msg,
                    len - TCPU_NOISE_COOKIE_LEN);
  else
    memset(mac2, 0, TCPU_NOISE_COOKIE_LEN);
}

int tcpu_cookie_consume_reply(tcpu_cookie_maker *cm, const uint8_t *msg,
                              size_t len, tcpu_tstamp now) {
  uint8_t cookie[TCPU_NOISE_COOKIE_LEN];

  if (len != TCPU_NOISE_COOKIE_REPLY_LEN || msg[0] != TCPU_NOISE_MSG_COOKIE ||
      msg[1] | msg[2] | msg[3] || !cm->have_sent_mac1)
    return TCPU_ERR_PROTO;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          cookie, NULL, NULL, msg + TCPU_NOISE_COOKIE_BOX_OFF,
          TCPU_NOISE_COOKIE_LEN + TCPU_NOISE_TAG_LEN, cm->last_mac1,
          TCPU_NOISE_COOKIE_LEN, msg + TCPU_NOISE_COOKIE_NONCE_OFF,
          cm->cookie_key) != 0)
    return TCPU_ERR_PROTO;
  memcpy(cm->cookie, cookie, sizeof cookie);
  cm->cookie_birth = now;
  cm->have_cookie = 1;
  cm->have_sent_mac1 = 0; /* one cookie per message sent */
  sodium_memzero(cookie, sizeof cookie);
  return 0;
}
