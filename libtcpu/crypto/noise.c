/*
 * noise.c — the Noise Protocol Framework, revision 34 (2018-07-11), for
 * Noise_IK and Noise_IKpsk2 over 25519, ChaChaPoly or AESGCM, and BLAKE2b.
 * Section numbers below are the specification's.
 */
#include "crypto/noise.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define HASHLEN TCPU_NOISE_HASH_LEN
#define BLOCKLEN 128 /* BLAKE2b, §12.8 */
#define KEYLEN TCPU_NOISE_KEY_LEN
#define TAGLEN TCPU_NOISE_TAG_LEN

int tcpu_noise_init(void) {
  return sodium_init() < 0 ? TCPU_ERR_NOMEM : 0;
}

void tcpu_noise_random(const tcpu_noise_rng *rng, void *buf, size_t len) {
  if (rng != NULL && rng->fn != NULL)
    rng->fn(rng->ctx, buf, len);
  else
    randombytes_buf(buf, len);
}

int tcpu_noise_cipher_available(tcpu_noise_cipher cipher) {
  if (cipher == TCPU_NOISE_CHACHAPOLY)
    return 1;
  /* The CPU features are probed by sodium_init(). */
  if (cipher == TCPU_NOISE_AESGCM)
    return tcpu_noise_init() == 0 && crypto_aead_aes256gcm_is_available();
  return 0;
}

/* ------------------------------------------------------- hash functions */

void tcpu_noise_hash(uint8_t out[HASHLEN], const uint8_t *a, size_t alen,
                     const uint8_t *b, size_t blen) {
  crypto_generichash_blake2b_state st;
  crypto_generichash_blake2b_init(&st, NULL, 0, HASHLEN);
  if (alen)
    crypto_generichash_blake2b_update(&st, a, alen);
  if (blen)
    crypto_generichash_blake2b_update(&st, b, blen);
  crypto_generichash_blake2b_final(&st, out, HASHLEN);
  sodium_memzero(&st, sizeof st);
}

/* §4.3: HMAC-HASH(key, data) per RFC 2104, where the key is padded with
 * zeros to BLOCKLEN (hashed first if longer) and
 *   HMAC = H((K ^ opad) || H((K ^ ipad) || data)). */
void tcpu_noise_hmac(uint8_t out[HASHLEN], const uint8_t *key, size_t keylen,
                     const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen) {
  uint8_t k[BLOCKLEN], pad[BLOCKLEN], inner[HASHLEN];
  crypto_generichash_blake2b_state st;

  memset(k, 0, sizeof k);
  if (keylen > BLOCKLEN)
    tcpu_noise_hash(k, key, keylen, NULL, 0);
  else if (keylen)
    memcpy(k, key, keylen);

  for (size_t i = 0; i < BLOCKLEN; i++)
    pad[i] = k[i] ^ 0x36;
  crypto_generichash_blake2b_init(&st, NULL, 0, HASHLEN);
  crypto_generichash_blake2b_update(&st, pad, BLOCKLEN);
  if (alen)
    crypto_generichash_blake2b_update(&st, a, alen);
  if (blen)
    crypto_generichash_blake2b_update(&st, b, blen);
  crypto_generichash_blake2b_final(&st, inner, HASHLEN);

  for (size_t i = 0; i < BLOCKLEN; i++)
    pad[i] = k[i] ^ 0x5c;
  crypto_generichash_blake2b_init(&st, NULL, 0, HASHLEN);
  crypto_generichash_blake2b_update(&st, pad, BLOCKLEN);
  crypto_generichash_blake2b_update(&st, inner, HASHLEN);
  crypto_generichash_blake2b_final(&st, out, HASHLEN);

  sodium_memzero(k, sizeof k);
  sodium_memzero(pad, sizeof pad);
  sodium_memzero(inner, sizeof inner);
  sodium_memzero(&st, sizeof st);
}

/* §4.3: temp_key = HMAC(ck, ikm); output1 = HMAC(temp_key, 0x01);
 * output2 = HMAC(temp_key, output1 || 0x02);
 * output3 = HMAC(temp_key, output2 || 0x03). */
void tcpu_noise_hkdf(uint8_t *out1, uint8_t *out2, uint8_t *out3,
                     const uint8_t ck[HASHLEN], const uint8_t *ikm,
                     size_t ikmlen) {
  static const uint8_t one = 1, two = 2, three = 3;
  uint8_t temp_key[HASHLEN];

  tcpu_noise_hmac(temp_key, ck, HASHLEN, ikm, ikmlen, NULL, 0);
  tcpu_noise_hmac(out1, temp_key, HASHLEN, &one, 1, NULL, 0);
  tcpu_noise_hmac(out2, temp_key, HASHLEN, out1, HASHLEN, &two, 1);
  if (out3 != NULL)
    tcpu_noise_hmac(out3, temp_key, HASHLEN, out2, HASHLEN, &three, 1);
  sodium_memzero(temp_key, sizeof temp_key);
}

/* ------------------------------------------------------ cipher functions */

/* The per-message check: no sodium_init() (it takes a lock), only the CPU
 * flag it left behind; before sodium_init() AESGCM simply counts as
 * unavailable. */
static int cipher_usable(tcpu_noise_cipher cipher) {
  return cipher == TCPU_NOISE_CHACHAPOLY ||
         (cipher == TCPU_NOISE_AESGCM && crypto_aead_aes256gcm_is_available());
}

/* §12.3 ChaChaPoly: 32 zero bits then the little-endian nonce; §12.4
 * AESGCM: 32 zero bits then the big-endian nonce. */
void tcpu_noise_nonce(uint8_t nonce[12], tcpu_noise_cipher cipher, uint64_t n) {
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; i++) {
    uint8_t byte = (uint8_t)(n >> (8 * i));
    if (cipher == TCPU_NOISE_AESGCM)
      nonce[11 - i] = byte;
    else
      nonce[4 + i] = byte;
  }
}

int tcpu_noise_aead_encrypt(tcpu_noise_cipher cipher, const uint8_t key[KEYLEN],
                            uint64_t n, const uint8_t *ad, size_t adlen,
                            const uint8_t *pt, size_t ptlen, uint8_t *out) {
  static const uint8_t none[1];
  uint8_t nonce[12];

  if (!cipher_usable(cipher))
    return TCPU_ERR_INVAL;
  if (pt == NULL)
    pt = none;
  tcpu_noise_nonce(nonce, cipher, n);
  if (cipher == TCPU_NOISE_AESGCM)
    crypto_aead_aes256gcm_encrypt(out, NULL, pt, ptlen, ad, adlen, NULL, nonce,
                                  key);
  else
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, ptlen, ad, adlen,
                                              NULL, nonce, key);
  return 0;
}

int tcpu_noise_aead_decrypt(tcpu_noise_cipher cipher, const uint8_t key[KEYLEN],
                            uint64_t n, const uint8_t *ad, size_t adlen,
                            const uint8_t *ct, size_t ctlen, uint8_t *out) {
  uint8_t nonce[12];
  int rc;

  if (!cipher_usable(cipher))
    return TCPU_ERR_INVAL;
  if (ctlen < TAGLEN)
    return TCPU_ERR_PROTO;
  tcpu_noise_nonce(nonce, cipher, n);
  if (cipher == TCPU_NOISE_AESGCM)
    rc = crypto_aead_aes256gcm_decrypt(out, NULL, NULL, ct, ctlen, ad, adlen,
                                       nonce, key);
  else
    rc = crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ctlen,
                                                   ad, adlen, nonce, key);
  return rc == 0 ? 0 : TCPU_ERR_PROTO;
}

/* ---------------------------------------------------------- DH functions */

int tcpu_noise_dh(uint8_t out[KEYLEN], const uint8_t priv[KEYLEN],
                  const uint8_t pub[KEYLEN]) {
  /* libsodium refuses (-1) when the result is the all-zero point. */
  if (crypto_scalarmult(out, priv, pub) != 0) {
    sodium_memzero(out, KEYLEN);
    return TCPU_ERR_PROTO;
  }
  return 0;
}

void tcpu_noise_pubkey(uint8_t pub[KEYLEN], const uint8_t priv[KEYLEN]) {
  crypto_scalarmult_base(pub, priv);
}

void tcpu_noise_keypair(uint8_t priv[KEYLEN], uint8_t pub[KEYLEN],
                        const tcpu_noise_rng *rng) {
  /* X25519 clamps the scalar itself (RFC 7748 §5). */
  tcpu_noise_random(rng, priv, KEYLEN);
  tcpu_noise_pubkey(pub, priv);
}

/* ----------------------------------------------------- §5.1 CipherState */

static void cs_init_key(tcpu_noise_cs *cs, const uint8_t k[KEYLEN]) {
  memcpy(cs->k, k, KEYLEN);
  cs->n = 0;
  cs->has_key = 1;
}

tcpu_ssize tcpu_noise_cs_encrypt(tcpu_noise_cs *cs, const uint8_t *ad,
                                 size_t adlen, const uint8_t *pt, size_t ptlen,
                                 uint8_t *out, size_t cap) {
  if (!cs->has_key) {
    if (cap < ptlen)
      return TCPU_ERR_NOBUF;
    if (ptlen)
      memmove(out, pt, ptlen);
    return (tcpu_ssize)ptlen;
  }
  /* §5.1: 2^64 - 1 is reserved; once n reaches it the state is spent. */
  if (cs->n == UINT64_MAX)
    return TCPU_ERR_STATE;
  if (cap < ptlen + TAGLEN)
    return TCPU_ERR_NOBUF;
  int rc = tcpu_noise_aead_encrypt((tcpu_noise_cipher)cs->cipher, cs->k, cs->n,
                                   ad, adlen, pt, ptlen, out);
  if (rc != 0)
    return rc;
  cs->n++;
  return (tcpu_ssize)(ptlen + TAGLEN);
}

tcpu_ssize tcpu_noise_cs_decrypt(tcpu_noise_cs *cs, const uint8_t *ad,
                                 size_t adlen, const uint8_t *ct, size_t ctlen,
                                 uint8_t *out, size_t cap) {
  if (!cs->has_key) {
    if (cap < ctlen)
      return TCPU_ERR_NOBUF;
    if (ctlen)
      memmove(out, ct, ctlen);
    return (tcpu_ssize)ctlen;
  }
  if (cs->n == UINT64_MAX)
    return TCPU_ERR_STATE;
  if (ctlen < TAGLEN)
    return TCPU_ERR_PROTO;
  if (cap < ctlen - TAGLEN)
    return TCPU_ERR_NOBUF;
  int rc = tcpu_noise_aead_decrypt((tcpu_noise_cipher)cs->cipher, cs->k, cs->n,
                                   ad, adlen, ct, ctlen, out);
  if (rc != 0)
    return rc;
  cs->n++;
  return (tcpu_ssize)(ctlen - TAGLEN);
}

void tcpu_noise_cs_wipe(tcpu_noise_cs *cs) {
  sodium_memzero(cs, sizeof *cs);
}

/* ------------------------------------------------- §5.2 SymmetricState */

static void mix_hash(tcpu_noise_hs *hs, const uint8_t *data, size_t len) {
  tcpu_noise_hash(hs->h, hs->h, HASHLEN, data, len);
}

/* ck, temp_k = HKDF(ck, ikm, 2); temp_k truncated to 32 bytes (HASHLEN is
 * 64); InitializeKey(temp_k). */
static void mix_key(tcpu_noise_hs *hs, const uint8_t *ikm, size_t len) {
  uint8_t temp_k[HASHLEN];
  tcpu_noise_hkdf(hs->ck, temp_k, NULL, hs->ck, ikm, len);
  cs_init_key(&hs->cs, temp_k);
  sodium_memzero(temp_k, sizeof temp_k);
}

/* ck, temp_h, temp_k = HKDF(ck, ikm, 3); MixHash(temp_h); InitializeKey
 * of temp_k truncated. */
static void mix_key_and_hash(tcpu_noise_hs *hs, const uint8_t *ikm,
                             size_t len) {
  uint8_t temp_h[HASHLEN], temp_k[HASHLEN];
  tcpu_noise_hkdf(hs->ck, temp_h, temp_k, hs->ck, ikm, len);
  mix_hash(hs, temp_h, HASHLEN);
  cs_init_key(&hs->cs, temp_k);
  sodium_memzero(temp_h, sizeof temp_h);
  sodium_memzero(temp_k, sizeof temp_k);
}

/* ciphertext = EncryptWithAd(h, plaintext); MixHash(ciphertext). */
static tcpu_ssize encrypt_and_hash(tcpu_noise_hs *hs, const uint8_t *pt,
                                   size_t len, uint8_t *out, size_t cap) {
  tcpu_ssize n = tcpu_noise_cs_encrypt(&hs->cs, hs->h, HASHLEN, pt, len, out,
                                       cap);
  if (n >= 0)
    mix_hash(hs, out, (size_t)n);
  return n;
}

/* plaintext = DecryptWithAd(h, ciphertext); MixHash(ciphertext).  The
 * ciphertext is hashed first into a copy of h, so out may overlap it. */
static tcpu_ssize decrypt_and_hash(tcpu_noise_hs *hs, const uint8_t *ct,
                                   size_t len, uint8_t *out, size_t cap) {
  uint8_t next_h[HASHLEN];
  tcpu_noise_hash(next_h, hs->h, HASHLEN, ct, len);
  tcpu_ssize n = tcpu_noise_cs_decrypt(&hs->cs, hs->h, HASHLEN, ct, len, out,
                                       cap);
  if (n >= 0)
    memcpy(hs->h, next_h, HASHLEN);
  sodium_memzero(next_h, sizeof next_h);
  return n;
}

/* ------------------------------------------------- §5.3 HandshakeState */

size_t tcpu_noise_protocol_name(char *buf, tcpu_noise_cipher cipher,
                                int psk2) {
  int n = snprintf(buf, 48, "Noise_IK%s_25519_%s_BLAKE2b", psk2 ? "psk2" : "",
                   cipher == TCPU_NOISE_AESGCM ? "AESGCM" : "ChaChaPoly");
  return n < 0 ? 0 : (size_t)n;
}

int tcpu_noise_hs_init(tcpu_noise_hs *hs, tcpu_noise_cipher cipher, int psk2,
                       int initiator, const uint8_t *prologue, size_t plen,
                       const uint8_t s[KEYLEN], const uint8_t *rs,
                       const uint8_t *psk) {
  char name[48];
  size_t nlen;

  memset(hs, 0, sizeof *hs);
  if (tcpu_noise_init() != 0 || !tcpu_noise_cipher_available(cipher) ||
      (initiator && rs == NULL))
    return TCPU_ERR_INVAL;
  hs->cipher = (uint8_t)cipher;
  hs->cs.cipher = (uint8_t)cipher;
  hs->initiator = initiator != 0;
  hs->psk2 = psk2 != 0;
  memcpy(hs->s, s, KEYLEN);
  tcpu_noise_pubkey(hs->s_pub, s);
  if (rs != NULL)
    memcpy(hs->rs, rs, KEYLEN);
  if (psk != NULL)
    memcpy(hs->psk, psk, KEYLEN);

  /* InitializeSymmetric(protocol_name): a name of at most HASHLEN bytes
   * is zero-padded into h, a longer one hashed; ck = h; no key. */
  nlen = tcpu_noise_protocol_name(name, cipher, psk2);
  if (nlen <= HASHLEN)
    memcpy(hs->h, name, nlen);
  else
    tcpu_noise_hash(hs->h, (const uint8_t *)name, nlen, NULL, 0);
  memcpy(hs->ck, hs->h, HASHLEN);

  mix_hash(hs, prologue, plen);
  /* Pre-message "<- s": both sides hash the responder's static key. */
  mix_hash(hs, initiator ? hs->rs : hs->s_pub, KEYLEN);
  return 0;
}

void tcpu_noise_hs_set_psk(tcpu_noise_hs *hs, const uint8_t psk[KEYLEN]) {
  memcpy(hs->psk, psk, KEYLEN);
}

void tcpu_noise_hs_set_ephemeral(tcpu_noise_hs *hs, const uint8_t e[KEYLEN]) {
  memcpy(hs->e, e, KEYLEN);
  tcpu_noise_pubkey(hs->e_pub, hs->e);
  hs->has_e = 1;
}

/* MixKey(DH(priv, pub)). */
static int mix_dh(tcpu_noise_hs *hs, const uint8_t *priv, const uint8_t *pub) {
  uint8_t shared[KEYLEN];
  int rc = tcpu_noise_dh(shared, priv, pub);
  if (rc == 0)
    mix_key(hs, shared, KEYLEN);
  sodium_memzero(shared, sizeof shared);
  return rc;
}

/* Token "e" on the sending side: in a PSK handshake the ephemeral also
 * goes through MixKey (§9.2). */
static void write_e(tcpu_noise_hs *hs, const tcpu_noise_rng *rng,
                    uint8_t *out) {
  if (!hs->has_e)
    tcpu_noise_keypair(hs->e, hs->e_pub, rng);
  hs->has_e = 1;
  memcpy(out, hs->e_pub, KEYLEN);
  mix_hash(hs, hs->e_pub, KEYLEN);
  if (hs->psk2)
    mix_key(hs, hs->e_pub, KEYLEN);
}

static void read_e(tcpu_noise_hs *hs, const uint8_t *in) {
  memcpy(hs->re, in, KEYLEN);
  mix_hash(hs, hs->re, KEYLEN);
  if (hs->psk2)
    mix_key(hs, hs->re, KEYLEN);
}

tcpu_ssize tcpu_noise_hs_write(tcpu_noise_hs *hs, const tcpu_noise_rng *rng,
                               const uint8_t *payload, size_t plen,
                               uint8_t *out, size_t cap) {
  size_t off = 0;
  tcpu_ssize n;
  int rc;

  if (hs->step != (hs->initiator ? 0 : 1))
    return TCPU_ERR_STATE;
  if (cap < (hs->initiator ? KEYLEN + KEYLEN + TAGLEN : KEYLEN) + plen + TAGLEN)
    return TCPU_ERR_NOBUF;

  write_e(hs, rng, out);
  off = KEYLEN;
  if (hs->initiator) {
    /* -> e, es, s, ss */
    if ((rc = mix_dh(hs, hs->e, hs->rs)) != 0)
      return rc;
    n = encrypt_and_hash(hs, hs->s_pub, KEYLEN, out + off, cap - off);
    if (n < 0)
      return n;
    off += (size_t)n;
    if ((rc = mix_dh(hs, hs->s, hs->rs)) != 0)
      return rc;
  } else {
    /* <- e, ee, se[, psk] */
    if ((rc = mix_dh(hs, hs->e, hs->re)) != 0)
      return rc;
    if ((rc = mix_dh(hs, hs->e, hs->rs)) != 0)
      return rc;
    if (hs->psk2)
      mix_key_and_hash(hs, hs->psk, KEYLEN);
  }
  n = encrypt_and_hash(hs, payload, plen, out + off, cap - off);
  if (n < 0)
    return n;
  off += (size_t)n;
  hs->step++;
  return (tcpu_ssize)off;
}

tcpu_ssize tcpu_noise_hs_read(tcpu_noise_hs *hs, const uint8_t *msg,
                              size_t len, uint8_t *payload, size_t cap) {
  size_t off;
  tcpu_ssize n;
  int rc;

  if (hs->step != (hs->initiator ? 1 : 0))
    return TCPU_ERR_STATE;
  if (len < (hs->initiator ? KEYLEN : KEYLEN + KEYLEN + TAGLEN) + TAGLEN)
    return TCPU_ERR_PROTO;

  read_e(hs, msg);
  off = KEYLEN;
  if (!hs->initiator) {
    /* -> e, es, s, ss */
    if ((rc = mix_dh(hs, hs->s, hs->re)) != 0)
      return rc;
    n = decrypt_and_hash(hs, msg + off, KEYLEN + TAGLEN, hs->rs, KEYLEN);
    if (n < 0)
      return n;
    off += KEYLEN + TAGLEN;
    if ((rc = mix_dh(hs, hs->s, hs->rs)) != 0)
      return rc;
  } else {
    /* <- e, ee, se[, psk] */
    if ((rc = mix_dh(hs, hs->e, hs->re)) != 0)
      return rc;
    if ((rc = mix_dh(hs, hs->s, hs->re)) != 0)
      return rc;
    if (hs->psk2)
      mix_key_and_hash(hs, hs->psk, KEYLEN);
  }
  n = decrypt_and_hash(hs, msg + off, len - off, payload, cap);
  if (n < 0)
    return n;
  hs->step++;
  return n;
}

/* Split(): temp_k1, temp_k2 = HKDF(ck, zerolen, 2), each truncated to 32
 * bytes. */
int tcpu_noise_hs_split(const tcpu_noise_hs *hs, tcpu_noise_cs *c1,
                        tcpu_noise_cs *c2) {
  uint8_t k1[HASHLEN], k2[HASHLEN];

  if (hs->step != 2)
    return TCPU_ERR_STATE;
  tcpu_noise_hkdf(k1, k2, NULL, hs->ck, NULL, 0);
  memset(c1, 0, sizeof *c1);
  memset(c2, 0, sizeof *c2);
  c1->cipher = c2->cipher = hs->cipher;
  cs_init_key(c1, k1);
  cs_init_key(c2, k2);
  sodium_memzero(k1, sizeof k1);
  sodium_memzero(k2, sizeof k2);
  return 0;
}

const uint8_t *tcpu_noise_hs_hash(const tcpu_noise_hs *hs) {
  return hs->h;
}

void tcpu_noise_hs_wipe(tcpu_noise_hs *hs) {
  sodium_memzero(hs, sizeof *hs);
}
