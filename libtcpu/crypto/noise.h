/*
 * noise.h — the Noise Protocol Framework (revision 34) for the two
 * patterns sealed mode speaks, built from libsodium primitives:
 *
 *   Noise_IK_25519_{ChaChaPoly,AESGCM}_BLAKE2b
 *   Noise_IKpsk2_25519_{ChaChaPoly,AESGCM}_BLAKE2b
 *
 *     IK:  <- s          IKpsk2: <- s
 *          ...                   ...
 *          -> e, es, s, ss       -> e, es, s, ss
 *          <- e, ee, se          <- e, ee, se, psk
 *
 * The pieces follow the specification's objects: CipherState (§5.1),
 * SymmetricState (§5.2), HandshakeState (§5.3), with HASH = BLAKE2b
 * (HASHLEN 64, BLOCKLEN 128), HMAC per RFC 2104 over that hash (not keyed
 * BLAKE2b) and HKDF as §4.3 defines it.  Nonces (§12): ChaChaPoly uses
 * 4 zero bytes then the 64-bit counter little-endian, AESGCM 4 zero bytes
 * then the counter big-endian.  The WireGuard-style messages (handshake.h)
 * and the transport envelope (seal.h) sit on top.
 *
 * Randomness comes from libsodium's randombytes_buf unless a tcpu_noise_rng
 * is supplied (tests make runs repeatable that way).  Every object holding
 * secrets is wiped by its _wipe or _free function.
 */
#ifndef TCPU_CRYPTO_NOISE_H
#define TCPU_CRYPTO_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/messages.h"
#include "tcpu/tcpu.h"

typedef enum tcpu_noise_cipher {
  TCPU_NOISE_CHACHAPOLY = 0, /* ChaCha20-Poly1305 (IETF, 96-bit nonce) */
  TCPU_NOISE_AESGCM = 1      /* AES-256-GCM, where the CPU has AES-NI */
} tcpu_noise_cipher;

/* A source of random bytes.  fn NULL (or the whole struct NULL wherever a
 * pointer is taken): libsodium's randombytes_buf. */
typedef struct tcpu_noise_rng {
  void (*fn)(void *ctx, void *buf, size_t len);
  void *ctx;
} tcpu_noise_rng;

/* Initialises libsodium (idempotent).  0, or TCPU_ERR_NOMEM when libsodium
 * cannot start. */
int tcpu_noise_init(void);
void tcpu_noise_random(const tcpu_noise_rng *rng, void *buf, size_t len);
/* Nonzero when this machine can run the cipher (AESGCM needs AES-NI and
 * PCLMUL, as libsodium's crypto_aead_aes256gcm_is_available says). */
int tcpu_noise_cipher_available(tcpu_noise_cipher cipher);

/* HASH(a || b): BLAKE2b-512.  Either part may be empty. */
void tcpu_noise_hash(uint8_t out[TCPU_NOISE_HASH_LEN], const uint8_t *a,
                     size_t alen, const uint8_t *b, size_t blen);
/* HMAC-BLAKE2b (RFC 2104, block 128 bytes) of a || b under key. */
void tcpu_noise_hmac(uint8_t out[TCPU_NOISE_HASH_LEN], const uint8_t *key,
                     size_t keylen, const uint8_t *a, size_t alen,
                     const uint8_t *b, size_t blen);
/* HKDF(chaining_key, input_key_material, 2 or 3) of Noise §4.3: out3 NULL
 * for two outputs.  out1 may be ck itself. */
void tcpu_noise_hkdf(uint8_t *out1, uint8_t *out2, uint8_t *out3,
                     const uint8_t ck[TCPU_NOISE_HASH_LEN], const uint8_t *ikm,
                     size_t ikmlen);

/* ENCRYPT(k, n, ad, plaintext) of the cipher: writes ptlen + 16 bytes to
 * out (which may be pt itself).  0, or TCPU_ERR_INVAL when the cipher is
 * unavailable. */
int tcpu_noise_aead_encrypt(tcpu_noise_cipher cipher,
                            const uint8_t key[TCPU_NOISE_KEY_LEN], uint64_t n,
                            const uint8_t *ad, size_t adlen, const uint8_t *pt,
                            size_t ptlen, uint8_t *out);
/* DECRYPT: ctlen >= 16, writes ctlen - 16 bytes to out (which may be ct).
 * 0, or TCPU_ERR_PROTO when authentication fails (out is then unusable),
 * TCPU_ERR_INVAL when the cipher is unavailable. */
int tcpu_noise_aead_decrypt(tcpu_noise_cipher cipher,
                            const uint8_t key[TCPU_NOISE_KEY_LEN], uint64_t n,
                            const uint8_t *ad, size_t adlen, const uint8_t *ct,
                            size_t ctlen, uint8_t *out);

/* The 96-bit AEAD nonce of counter n for the cipher (Noise §12.3, §12.4). */
void tcpu_noise_nonce(uint8_t nonce[12], tcpu_noise_cipher cipher, uint64_t n);

/* X25519.  0, or TCPU_ERR_PROTO when pub is a low-order point (the shared
 * secret would be all zero; out is then zeroed). */
int tcpu_noise_dh(uint8_t out[TCPU_NOISE_KEY_LEN],
                  const uint8_t priv[TCPU_NOISE_KEY_LEN],
                  const uint8_t pub[TCPU_NOISE_KEY_LEN]);
void tcpu_noise_pubkey(uint8_t pub[TCPU_NOISE_KEY_LEN],
                       const uint8_t priv[TCPU_NOISE_KEY_LEN]);
/* GENERATE_KEYPAIR(). */
void tcpu_noise_keypair(uint8_t priv[TCPU_NOISE_KEY_LEN],
                        uint8_t pub[TCPU_NOISE_KEY_LEN],
                        const tcpu_noise_rng *rng);

/* ---------------------------------------------------------- CipherState */

typedef struct tcpu_noise_cs {
  uint8_t k[TCPU_NOISE_KEY_LEN];
  uint64_t n;
  uint8_t has_key;
  uint8_t cipher; /* tcpu_noise_cipher */
} tcpu_noise_cs;

/* EncryptWithAd: ptlen + 16 bytes to out (ptlen without a key), n + 1.
 * Returns the length, TCPU_ERR_NOBUF when cap is short, TCPU_ERR_STATE
 * once n has reached 2^64 - 1, TCPU_ERR_INVAL for an unavailable cipher. */
tcpu_ssize tcpu_noise_cs_encrypt(tcpu_noise_cs *cs, const uint8_t *ad,
                                 size_t adlen, const uint8_t *pt, size_t ptlen,
                                 uint8_t *out, size_t cap);
/* DecryptWithAd: the plaintext length, or TCPU_ERR_PROTO when the
 * ciphertext does not authenticate (n is left as it was), TCPU_ERR_NOBUF,
 * TCPU_ERR_STATE, TCPU_ERR_INVAL as above. */
tcpu_ssize tcpu_noise_cs_decrypt(tcpu_noise_cs *cs, const uint8_t *ad,
                                 size_t adlen, const uint8_t *ct, size_t ctlen,
                                 uint8_t *out, size_t cap);
void tcpu_noise_cs_wipe(tcpu_noise_cs *cs);

/* ------------------------------------------------------- HandshakeState */

/* A HandshakeState with its SymmetricState (ck, h, cs) inline.  A failed
 * read or write leaves it unusable: work on a copy when the old state must
 * survive a forged message (handshake.c does). */
typedef struct tcpu_noise_hs {
  uint8_t ck[TCPU_NOISE_HASH_LEN];
  uint8_t h[TCPU_NOISE_HASH_LEN];
  tcpu_noise_cs cs;
  uint8_t s[TCPU_NOISE_KEY_LEN], s_pub[TCPU_NOISE_KEY_LEN];
  uint8_t e[TCPU_NOISE_KEY_LEN], e_pub[TCPU_NOISE_KEY_LEN];
  uint8_t rs[TCPU_NOISE_KEY_LEN], re[TCPU_NOISE_KEY_LEN];
  uint8_t psk[TCPU_NOISE_KEY_LEN];
  uint8_t initiator;
  uint8_t psk2;   /* IKpsk2 rather than IK */
  uint8_t has_e;  /* ephemeral fixed in advance (tests, vectors) */
  uint8_t step;   /* messages done: 0, 1, 2 (then Split) */
  uint8_t cipher; /* tcpu_noise_cipher */
} tcpu_noise_hs;

/* Noise_IK[psk2]_25519_<cipher>_BLAKE2b, "Noise_IKpsk2_25519_ChaChaPoly_
 * BLAKE2b" style, into buf (at least 48 bytes).  Returns its length. */
size_t tcpu_noise_protocol_name(char *buf, tcpu_noise_cipher cipher,
                                int psk2);

/* Initialize(): the initiator knows the responder's static key rs; the
 * responder passes rs NULL and learns it from the first message.  psk is
 * used by IKpsk2 only; NULL stands for 32 zero bytes (and the responder may
 * set it later with tcpu_noise_hs_set_psk, once it knows the initiator).
 * 0, or TCPU_ERR_INVAL (unavailable cipher, initiator without rs,
 * libsodium failure). */
int tcpu_noise_hs_init(tcpu_noise_hs *hs, tcpu_noise_cipher cipher, int psk2,
                       int initiator, const uint8_t *prologue, size_t plen,
                       const uint8_t s[TCPU_NOISE_KEY_LEN],
                       const uint8_t *rs, const uint8_t *psk);
void tcpu_noise_hs_set_psk(tcpu_noise_hs *hs,
                           const uint8_t psk[TCPU_NOISE_KEY_LEN]);
/* Fixes the ephemeral key instead of generating one at the "e" token. */
void tcpu_noise_hs_set_ephemeral(tcpu_noise_hs *hs,
                                 const uint8_t e[TCPU_NOISE_KEY_LEN]);
/* WriteMessage(payload): the initiator's first or the responder's second
 * message.  Returns its length (32 + 48 + plen + 16, or 32 + plen + 16),
 * TCPU_ERR_STATE when it is not this side's turn, TCPU_ERR_NOBUF,
 * TCPU_ERR_PROTO when a DH result is all zero. */
tcpu_ssize tcpu_noise_hs_write(tcpu_noise_hs *hs, const tcpu_noise_rng *rng,
                               const uint8_t *payload, size_t plen,
                               uint8_t *out, size_t cap);
/* ReadMessage(message): the payload length, TCPU_ERR_PROTO for a message
 * that is short or does not authenticate, TCPU_ERR_STATE, TCPU_ERR_NOBUF. */
tcpu_ssize tcpu_noise_hs_read(tcpu_noise_hs *hs, const uint8_t *msg,
                              size_t len, uint8_t *payload, size_t cap);
/* Split() after both messages: c1 encrypts initiator to responder, c2 the
 * other way.  0, or TCPU_ERR_STATE before the handshake is done. */
int tcpu_noise_hs_split(const tcpu_noise_hs *hs, tcpu_noise_cs *c1,
                        tcpu_noise_cs *c2);
/* GetHandshakeHash(): h, final once both messages are done. */
const uint8_t *tcpu_noise_hs_hash(const tcpu_noise_hs *hs);
void tcpu_noise_hs_wipe(tcpu_noise_hs *hs);

#endif /* TCPU_CRYPTO_NOISE_H */
