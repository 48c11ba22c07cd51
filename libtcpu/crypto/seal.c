/*
 * seal.c — the transport data envelope (DESIGN §3; WireGuard whitepaper
 * §5.4.6, its send.c / receive.c without the queues).
 */
#include "crypto/seal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/handshake.h"
#include "crypto/noise.h"
#include "crypto/replay.h"

static void put_header(uint8_t hdr[TCPU_NOISE_DATA_HEADER_LEN],
                       uint32_t receiver, uint64_t counter) {
  hdr[0] = TCPU_NOISE_MSG_TRANSPORT;
  hdr[1] = hdr[2] = hdr[3] = 0;
  tcpu_noise_put_le32(hdr + TCPU_NOISE_DATA_RECEIVER_OFF, receiver);
  tcpu_noise_put_le64(hdr + TCPU_NOISE_DATA_COUNTER_OFF, counter);
}

/* The session's AEAD.  AES-GCM runs from the keys expanded when the
 * session began; ChaCha20-Poly1305 has no key schedule worth keeping. */
static int session_encrypt(tcpu_noise_session *s, const uint8_t *ad,
                           const uint8_t *pt, size_t len, uint8_t *out) {
  static const uint8_t none[1];
  uint8_t nonce[12];

  if (s->cipher != TCPU_NOISE_AESGCM || !s->aes_ready)
    return tcpu_noise_aead_encrypt((tcpu_noise_cipher)s->cipher, s->send_key,
                                   s->send_counter, ad,
                                   TCPU_NOISE_DATA_HEADER_LEN, pt, len, out);
  tcpu_noise_nonce(nonce, TCPU_NOISE_AESGCM, s->send_counter);
  crypto_aead_aes256gcm_encrypt_afternm(out, NULL, pt != NULL ? pt : none, len,
                                        ad, TCPU_NOISE_DATA_HEADER_LEN, NULL,
                                        nonce, &s->aes_send);
  return 0;
}

static int session_decrypt(tcpu_noise_session *s, uint64_t counter,
                           const uint8_t *ad, const uint8_t *ct, size_t ctlen,
                           uint8_t *out) {
  uint8_t nonce[12];

  if (s->cipher != TCPU_NOISE_AESGCM || !s->aes_ready)
    return tcpu_noise_aead_decrypt((tcpu_noise_cipher)s->cipher, s->recv_key,
                                   counter, ad, TCPU_NOISE_DATA_HEADER_LEN, ct,
                                   ctlen, out);
  tcpu_noise_nonce(nonce, TCPU_NOISE_AESGCM, counter);
  if (crypto_aead_aes256gcm_decrypt_afternm(out, NULL, NULL, ct, ctlen, ad,
                                            TCPU_NOISE_DATA_HEADER_LEN, nonce,
                                            &s->aes_recv) != 0)
    return TCPU_ERR_PROTO;
  return 0;
}

tcpu_ssize tcpu_seal(tcpu_noise_session *s, const uint8_t *pt, size_t len,
                     uint8_t *out, size_t cap, tcpu_tstamp now) {
  uint8_t hdr[TCPU_NOISE_DATA_HEADER_LEN];
  int rc;

  if (!s->valid || tcpu_noise_session_expired(s, now) ||
      s->send_counter >= TCPU_NOISE_REJECT_AFTER_MESSAGES)
    return TCPU_ERR_STATE;
  if (cap < TCPU_NOISE_DATA_OVERHEAD || cap - TCPU_NOISE_DATA_OVERHEAD < len)
    return TCPU_ERR_NOBUF;
  put_header(hdr, s->remote_index, s->send_counter);
  /* The header goes in after encryption: pt may sit right behind it. */
  rc = session_encrypt(s, hdr, pt, len, out + TCPU_NOISE_DATA_HEADER_LEN);
  if (rc != 0)
    return rc;
  memcpy(out, hdr, sizeof hdr);
  s->send_counter++;
  return (tcpu_ssize)(len + TCPU_NOISE_DATA_OVERHEAD);
}

tcpu_ssize tcpu_open(tcpu_noise_session *s, const uint8_t *msg, size_t len,
                     uint8_t *out, size_t cap, tcpu_tstamp now) {
  uint8_t hdr[TCPU_NOISE_DATA_HEADER_LEN];
  size_t ptlen;
  uint64_t counter;
  int rc;

  if (len < TCPU_NOISE_DATA_OVERHEAD || msg[0] != TCPU_NOISE_MSG_TRANSPORT ||
      msg[1] | msg[2] | msg[3] ||
      tcpu_noise_get_le32(msg + TCPU_NOISE_DATA_RECEIVER_OFF) !=
          s->local_index)
    return TCPU_ERR_PROTO;
  if (!s->valid || tcpu_noise_session_expired(s, now))
    return TCPU_ERR_STATE;
  counter = tcpu_noise_get_le64(msg + TCPU_NOISE_DATA_COUNTER_OFF);
  /* No sender may use these (REJECT_AFTER_MESSAGES): forged, not replayed. */
  if (counter >= TCPU_NOISE_REJECT_AFTER_MESSAGES)
    return TCPU_ERR_PROTO;
  /* Duplicates and stale counters cost no decryption. */
  if (!tcpu_replay_check(&s->replay, counter))
    return TCPU_ERR_AGAIN;
  ptlen = len - TCPU_NOISE_DATA_OVERHEAD;
  if (cap < ptlen)
    return TCPU_ERR_NOBUF;
  /* The header is copied first: out may overlap msg. */
  memcpy(hdr, msg, sizeof hdr);
  rc = session_decrypt(s, counter, hdr, msg + TCPU_NOISE_DATA_HEADER_LEN,
                       len - TCPU_NOISE_DATA_HEADER_LEN, out);
  if (rc != 0)
    return rc;
  if (!tcpu_replay_update(&s->replay, counter)) {
    sodium_memzero(out, ptlen);
    return TCPU_ERR_AGAIN;
  }
  return (tcpu_ssize)ptlen;
}

tcpu_ssize tcpu_noise_peer_seal(tcpu_noise_peer *p, const uint8_t *pt,
                                size_t len, uint8_t *out, size_t cap,
                                tcpu_tstamp now) {
  tcpu_noise_session *s = tcpu_noise_peer_send_session(p, now);
  tcpu_ssize n;

  if (s == NULL) {
    tcpu_noise_timers_want_handshake(p, now);
    return TCPU_ERR_NOTCONN;
  }
  n = tcpu_seal(s, pt, len, out, cap, now);
  if (n < 0)
    return n;
  if (len > 0)
    tcpu_noise_timers_data_sent(p, now);
  tcpu_noise_timers_any_authenticated_packet_sent(p, now);
  tcpu_noise_timers_keep_key_fresh_send(p, now);
  return n;
}

tcpu_ssize tcpu_noise_peer_open(tcpu_noise_peer *p, const uint8_t *msg,
                                size_t len, uint8_t *out, size_t cap,
                                tcpu_tstamp now) {
  tcpu_noise_session *s;
  uint32_t index;
  tcpu_ssize n;

  if (tcpu_noise_msg_type(msg, len) != TCPU_NOISE_MSG_TRANSPORT)
    return TCPU_ERR_PROTO;
  index = tcpu_noise_get_le32(msg + TCPU_NOISE_DATA_RECEIVER_OFF);
  s = tcpu_noise_peer_find_session(p, index);
  if (s == NULL)
    return TCPU_ERR_PROTO;
  n = tcpu_open(s, msg, len, out, cap, now);
  if (n < 0)
    return n;
  if (tcpu_noise_peer_received_with(p, s, now))
    tcpu_noise_timers_handshake_complete(p, now);
  tcpu_noise_timers_keep_key_fresh_recv(p, now);
  tcpu_noise_timers_any_authenticated_packet_received(p, now);
  if (n > 0)
    tcpu_noise_timers_data_received(p, now);
  return n;
}
