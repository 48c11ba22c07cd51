/*
 * aead.c — libsodium's AEAD alone, the ceiling of sealed mode: IETF
 * ChaCha20-Poly1305 and, where crypto_aead_aes256gcm_is_available() (AES-NI
 * and PCLMUL), AES-256-GCM, over msg_bytes-byte messages on one
 * thread pinned to CPU 0, each way for a bounded time (1 s; --quick 0.1 s).
 *
 * Each message is sealed as libtcpu/crypto/seal.c seals a segment: the
 * same libsodium call, a fresh 12-byte nonce from a counter, and the
 * 16-byte transport header as associated data.  Encryption cycles through
 * RING messages (about 90 KiB, in L2 like a send batch); decryption opens
 * RING valid ciphertexts over and over (a forged one would stop at the
 * tag, which is cheaper than the real work).  Speeds are plaintext bits
 * per second of wall clock and per second of the thread's CPU time.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define AD_BYTES 16  /* the transport header (seal.h) */
#define TAG_BYTES 16 /* both ciphers */
#define RING 64
#define CHECK_EVERY 32 /* messages between looks at the clock */
#define CPU_AEAD 0
#define MAX_MSG 2048

typedef int (*aead_enc_fn)(unsigned char *c, unsigned long long *clen,
                           const unsigned char *m, unsigned long long mlen,
                           const unsigned char *ad, unsigned long long adlen,
                           const unsigned char *nsec, const unsigned char *npub,
                           const unsigned char *k);
typedef int (*aead_dec_fn)(unsigned char *m, unsigned long long *mlen,
                           unsigned char *nsec, const unsigned char *c,
                           unsigned long long clen, const unsigned char *ad,
                           unsigned long long adlen, const unsigned char *npub,
                           const unsigned char *k);

typedef struct aead_job {
  aead_enc_fn enc;
  aead_dec_fn dec;
  double seconds;
  size_t len; /* plaintext bytes per message, at most MAX_MSG */
  uint8_t key[32], ad[AD_BYTES];
  uint8_t pt[RING][MAX_MSG], ct[RING][MAX_MSG + TAG_BYTES];
  uint64_t enc_msgs, dec_msgs, dec_fail;
  uint64_t enc_wall, dec_wall, enc_cpu, dec_cpu; /* ns */
} aead_job;

const char *bench_cipher_name(tcpu_cipher cipher) {
  return cipher == TCPU_CIPHER_AESGCM ? "aesgcm" : "chachapoly";
}

static void nonce_of(uint8_t nonce[12], uint64_t n) {
  memset(nonce, 0, 12);
  for (int i = 0; i < 8; i++)
    nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* Encrypts (decrypt 0) or opens messages until j->seconds have passed. */
static void aead_loop(aead_job *j, int decrypt) {
  uint8_t nonce[12];
  uint64_t n = 0, fail = 0, t_end;
  cpu_mark a, b;

  cpu_mark_now(&a);
  t_end = a.wall_ns + (uint64_t)(j->seconds * 1e9);
  do {
    for (int k = 0; k < CHECK_EVERY; k++, n++) {
      unsigned i = (unsigned)(n % RING);
      if (decrypt) {
        nonce_of(nonce, i);
        fail += j->dec(j->pt[i], NULL, NULL, j->ct[i], j->len + TAG_BYTES,
                       j->ad, AD_BYTES, nonce, j->key) != 0;
      } else {
        nonce_of(nonce, n);
        j->enc(j->ct[i], NULL, j->pt[i], j->len, j->ad, AD_BYTES, NULL,
               nonce, j->key);
      }
    }
  } while (now_ns() < t_end);
  cpu_mark_now(&b);
  if (decrypt) {
    j->dec_msgs = n, j->dec_fail = fail;
    j->dec_wall = b.wall_ns - a.wall_ns, j->dec_cpu = cpu_used(&a, &b);
  } else {
    j->enc_msgs = n;
    j->enc_wall = b.wall_ns - a.wall_ns, j->enc_cpu = cpu_used(&a, &b);
  }
}

static void *aead_thread(void *arg) {
  aead_job *j = arg;
  uint8_t nonce[12];

  aead_loop(j, 0);
  /* Valid ciphertexts under nonce i for the opening side. */
  for (unsigned i = 0; i < RING; i++) {
    nonce_of(nonce, i);
    j->enc(j->ct[i], NULL, j->pt[i], j->len, j->ad, AD_BYTES, NULL,
           nonce, j->key);
  }
  aead_loop(j, 1);
  return NULL;
}

static double gbps(uint64_t msgs, size_t len, uint64_t ns) {
  return ns ? (double)msgs * (double)len * 8 / (double)ns : 0;
}

static void report_way(const char *key, size_t len, uint64_t msgs,
                       uint64_t wall, uint64_t cpu) {
  js_open(key);
  js_num("gbps", gbps(msgs, len, wall));
  js_num("gbps_cpu", gbps(msgs, len, cpu));
  js_num("ns_per_message", msgs ? (double)wall / (double)msgs : 0);
  js_int("messages", msgs);
  js_num("seconds", (double)wall / 1e9);
  js_num("cpu_s", (double)cpu / 1e9);
  js_close();
}

aead_result bench_aead(const char *key, tcpu_cipher cipher, size_t msg_bytes) {
  aead_result res = {0, 0, 0, 0, 0};
  aead_job *j;
  pthread_t th;

  js_open(key);
  js_str("function", cipher == TCPU_CIPHER_AESGCM
                         ? "crypto_aead_aes256gcm_encrypt/decrypt"
                         : "crypto_aead_chacha20poly1305_ietf_encrypt/decrypt");
  if (sodium_init() < 0 || msg_bytes == 0 || msg_bytes > MAX_MSG ||
      (cipher == TCPU_CIPHER_AESGCM && !crypto_aead_aes256gcm_is_available())) {
    js_bool("available", 0);
    js_close();
    return res;
  }
  j = calloc(1, sizeof(*j));
  if (j == NULL) {
    js_close();
    return res;
  }
  if (cipher == TCPU_CIPHER_AESGCM) {
    j->enc = crypto_aead_aes256gcm_encrypt;
    j->dec = crypto_aead_aes256gcm_decrypt;
  } else {
    j->enc = crypto_aead_chacha20poly1305_ietf_encrypt;
    j->dec = crypto_aead_chacha20poly1305_ietf_decrypt;
  }
  j->seconds = opts.quick ? 0.1 : 1.0;
  j->len = msg_bytes;
  randombytes_buf(j->key, sizeof j->key);
  randombytes_buf(j->ad, sizeof j->ad);
  randombytes_buf(j->pt, sizeof j->pt);
  if (thread_start(&th, CPU_AEAD, aead_thread, j) == 0) {
    pthread_join(th, NULL);
    res.ok = j->enc_msgs > 0 && j->dec_msgs > 0 && j->dec_fail == 0;
  }
  res.enc_gbps = gbps(j->enc_msgs, j->len, j->enc_wall);
  res.dec_gbps = gbps(j->dec_msgs, j->len, j->dec_wall);
  res.enc_gbps_cpu = gbps(j->enc_msgs, j->len, j->enc_cpu);
  res.dec_gbps_cpu = gbps(j->dec_msgs, j->len, j->dec_cpu);
  js_bool("available", 1);
  js_bool("ok", res.ok);
  js_int("message_bytes", j->len);
  js_int("ad_bytes", AD_BYTES);
  report_way("encrypt", j->len, j->enc_msgs, j->enc_wall, j->enc_cpu);
  report_way("decrypt", j->len, j->dec_msgs, j->dec_wall, j->dec_cpu);
  js_close();
  free(j);
  return res;
}
