/*
 * handshake.c — WireGuard's handshake messages (whitepaper §5.4.2,
 * §5.4.3; its src/noise.c) over the Noise_IKpsk2 of noise.c.  Every
 * consume_* works on a copy of the handshake state and commits only when
 * the whole message has passed.
 */
#include "crypto/handshake.h"

#include <sodium.h>
#include <string.h>

static const uint8_t prologue[] = TCPU_NOISE_PROLOGUE;
#define PROLOGUE_LEN (sizeof prologue - 1)

/* ------------------------------------------------- identities and peers */

int tcpu_noise_identity_init(tcpu_noise_identity *id,
                             const uint8_t priv[TCPU_NOISE_KEY_LEN],
                             tcpu_noise_cipher cipher,
                             const tcpu_noise_rng *rng) {
  memset(id, 0, sizeof *id);
  if (tcpu_noise_init() != 0 || !tcpu_noise_cipher_available(cipher))
    return TCPU_ERR_INVAL;
  (void)sodium_mlock(id, sizeof *id); /* best effort */
  memcpy(id->priv, priv, TCPU_NOISE_KEY_LEN);
  tcpu_noise_pubkey(id->pub, id->priv);
  id->cipher = cipher;
  if (rng != NULL)
    id->rng = *rng;
  tcpu_cookie_checker_init(&id->cookies, id->pub, rng);
  return 0;
}

void tcpu_noise_identity_free(tcpu_noise_identity *id) {
  /* Zeroes, then unlocks. */
  (void)sodium_munlock(id, sizeof *id);
}

int tcpu_noise_peer_init(tcpu_noise_peer *p, const tcpu_noise_identity *local,
                         const uint8_t remote_static[TCPU_NOISE_KEY_LEN],
                         const uint8_t *psk) {
  uint8_t ss[TCPU_NOISE_KEY_LEN];
  int rc;

  memset(p, 0, sizeof *p);
  if (sodium_memcmp(remote_static, local->pub, TCPU_NOISE_KEY_LEN) == 0)
    return TCPU_ERR_INVAL;
  /* A key without a static-static secret would never complete. */
  rc = tcpu_noise_dh(ss, local->priv, remote_static);
  sodium_memzero(ss, sizeof ss);
  if (rc != 0)
    return TCPU_ERR_INVAL;
  (void)sodium_mlock(p, sizeof *p);
  p->local = local;
  memcpy(p->remote_static, remote_static, TCPU_NOISE_KEY_LEN);
  if (psk != NULL)
    memcpy(p->psk, psk, TCPU_NOISE_KEY_LEN);
  tcpu_cookie_maker_init(&p->cookie, remote_static);
  p->last_initiation_consumed = TCPU_TSTAMP_NONE;
  p->last_sent_handshake = TCPU_TSTAMP_NONE;
  p->t_retransmit_handshake = p->t_send_keepalive = p->t_new_handshake =
      p->t_zero_key_material = p->t_persistent_keepalive = p->t_initiate =
          TCPU_TSTAMP_NONE;
  return 0;
}

void tcpu_noise_peer_free(tcpu_noise_peer *p) {
  tcpu_noise_peer_clear(p);
  (void)sodium_munlock(p, sizeof *p);
}

uint32_t tcpu_noise_new_index(const tcpu_noise_identity *id,
                              int (*taken)(void *ctx, uint32_t index),
                              void *ctx) {
  uint32_t index;
  do
    tcpu_noise_random(&id->rng, &index, sizeof index);
  while (taken != NULL && taken(ctx, index));
  return index;
}

/* ------------------------------------------------------- message shapes */

int tcpu_noise_msg_type(const uint8_t *msg, size_t len) {
  if (len < TCPU_NOISE_HEADER_LEN || msg[1] | msg[2] | msg[3])
    return 0;
  switch (msg[0]) {
  case TCPU_NOISE_MSG_INITIATION:
    return len == TCPU_NOISE_INITIATION_LEN ? msg[0] : 0;
  case TCPU_NOISE_MSG_RESPONSE:
    return len == TCPU_NOISE_RESPONSE_LEN ? msg[0] : 0;
  case TCPU_NOISE_MSG_COOKIE:
    return len == TCPU_NOISE_COOKIE_REPLY_LEN ? msg[0] : 0;
  case TCPU_NOISE_MSG_TRANSPORT:
    return len >= TCPU_NOISE_DATA_OVERHEAD ? msg[0] : 0;
  default:
    return 0;
  }
}

int tcpu_noise_msg_receiver_index(const uint8_t *msg, size_t len,
                                  uint32_t *index) {
  switch (tcpu_noise_msg_type(msg, len)) {
  case TCPU_NOISE_MSG_RESPONSE:
    *index = tcpu_noise_get_le32(msg + TCPU_NOISE_RESP_RECEIVER_OFF);
    return 0;
  case TCPU_NOISE_MSG_COOKIE:
    *index = tcpu_noise_get_le32(msg + TCPU_NOISE_COOKIE_RECEIVER_OFF);
    return 0;
  case TCPU_NOISE_MSG_TRANSPORT:
    *index = tcpu_noise_get_le32(msg + TCPU_NOISE_DATA_RECEIVER_OFF);
    return 0;
  default:
    return TCPU_ERR_PROTO;
  }
}

/* TAI64N: 2^62 + 10 + seconds (TAI64 labels; the 10 is TAI - UTC in 1970,
 * as WireGuard writes it) big-endian, then nanoseconds big-endian. */
void tcpu_noise_tai64n(uint8_t out[TCPU_NOISE_TIMESTAMP_LEN],
                       uint64_t wall_ns) {
  /* The largest power of two under 1 s / INITIATIONS_PER_SECOND. */
  const uint32_t grain = 1u << 24;
  uint64_t sec = UINT64_C(0x400000000000000a) + wall_ns / TCPU_NS_PER_S;
  uint32_t nsec = (uint32_t)(wall_ns % TCPU_NS_PER_S) & ~(grain - 1);
  for (int i = 0; i < 8; i++)
    out[i] = (uint8_t)(sec >> (56 - 8 * i));
  for (int i = 0; i < 4; i++)
    out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

/* ------------------------------------------------------------ messages */

tcpu_ssize tcpu_noise_create_initiation(tcpu_noise_peer *p,
                                        uint32_t local_index, uint64_t wall_ns,
                                        uint8_t *out, size_t cap,
                                        tcpu_tstamp now) {
  const tcpu_noise_identity *id = p->local;
  uint8_t ts[TCPU_NOISE_TIMESTAMP_LEN];
  tcpu_noise_hs hs;
  tcpu_ssize n;

  /* One initiation per REKEY_TIMEOUT (WireGuard's send.c). */
  if (p->last_sent_handshake != TCPU_TSTAMP_NONE &&
      p->last_sent_handshake + TCPU_NOISE_REKEY_TIMEOUT_NS > now) {
    tcpu_noise_timers_want_handshake(p, now);
    return TCPU_ERR_AGAIN;
  }
  if (cap < TCPU_NOISE_INITIATION_LEN)
    return TCPU_ERR_NOBUF;
  n = tcpu_noise_hs_init(&hs, id->cipher, 1, 1, prologue, PROLOGUE_LEN,
                         id->priv, p->remote_static, p->psk);
  if (n != 0)
    return n;
  memset(out, 0, TCPU_NOISE_INIT_NOISE_OFF);
  out[0] = TCPU_NOISE_MSG_INITIATION;
  tcpu_noise_put_le32(out + TCPU_NOISE_INIT_SENDER_OFF, local_index);
  tcpu_noise_tai64n(ts, wall_ns);
  n = tcpu_noise_hs_write(&hs, &id->rng, ts, sizeof ts,
                          out + TCPU_NOISE_INIT_NOISE_OFF,
                          TCPU_NOISE_INIT_NOISE_LEN);
  if (n != TCPU_NOISE_INIT_NOISE_LEN) {
    tcpu_noise_hs_wipe(&hs);
    return n < 0 ? n : TCPU_ERR_PROTO;
  }
  tcpu_cookie_add_macs(&p->cookie, out, TCPU_NOISE_INITIATION_LEN, now);

  if (p->hs_state == TCPU_NOISE_HS_CREATED_INITIATION &&
      p->hs_local_index != local_index)
    tcpu_noise_peer_drop_index(p, p->hs_local_index);
  p->hs = hs;
  tcpu_noise_hs_wipe(&hs);
  p->hs_state = TCPU_NOISE_HS_CREATED_INITIATION;
  p->hs_local_index = local_index;
  p->hs_remote_index = 0;

  if (!p->handshake_retry)
    p->handshake_attempts = 0;
  p->handshake_retry = 0;
  tcpu_noise_timers_any_authenticated_packet_sent(p, now);
  tcpu_noise_timers_handshake_initiated(p, now);
  return TCPU_NOISE_INITIATION_LEN;
}

int tcpu_noise_consume_initiation(const tcpu_noise_identity *id,
                                  const uint8_t *msg, size_t len,
                                  tcpu_noise_lookup_fn lookup, void *ctx,
                                  tcpu_noise_peer **ppeer, tcpu_tstamp now) {
  uint8_t ts[TCPU_NOISE_TIMESTAMP_LEN];
  tcpu_noise_peer *p;
  tcpu_noise_hs hs;
  int rc = TCPU_ERR_PROTO;

  /* mac1 first: nothing else, and no DH, for messages not meant for us. */
  if (tcpu_noise_msg_type(msg, len) != TCPU_NOISE_MSG_INITIATION ||
      !tcpu_cookie_check_mac1(&id->cookies, msg, len))
    return TCPU_ERR_PROTO;
  if (tcpu_noise_hs_init(&hs, id->cipher, 1, 0, prologue, PROLOGUE_LEN,
                         id->priv, NULL, NULL) != 0)
    return TCPU_ERR_INVAL;
  if (tcpu_noise_hs_read(&hs, msg + TCPU_NOISE_INIT_NOISE_OFF,
                         TCPU_NOISE_INIT_NOISE_LEN, ts,
                         sizeof ts) != TCPU_NOISE_TIMESTAMP_LEN)
    goto out;

  p = lookup != NULL ? lookup(ctx, hs.rs) : NULL;
  if (p == NULL || p->local != id ||
      sodium_memcmp(p->remote_static, hs.rs, TCPU_NOISE_KEY_LEN) != 0)
    goto out;
  /* Replay: the timestamp must move forward (TAI64N compares as bytes). */
  if (memcmp(ts, p->latest_timestamp, sizeof ts) <= 0)
    goto out;
  /* Flood: INITIATIONS_PER_SECOND at most. */
  if (p->last_initiation_consumed != TCPU_TSTAMP_NONE &&
      now < p->last_initiation_consumed +
                TCPU_NS_PER_S / TCPU_NOISE_INITIATIONS_PER_SECOND)
    goto out;

  if (p->hs_state == TCPU_NOISE_HS_CREATED_INITIATION)
    tcpu_noise_peer_drop_index(p, p->hs_local_index);
  p->hs = hs;
  p->hs_state = TCPU_NOISE_HS_CONSUMED_INITIATION;
  p->hs_local_index = 0;
  p->hs_remote_index = tcpu_noise_get_le32(msg + TCPU_NOISE_INIT_SENDER_OFF);
  memcpy(p->latest_timestamp, ts, sizeof ts);
  p->last_initiation_consumed = now;
  tcpu_noise_timers_any_authenticated_packet_received(p, now);
  *ppeer = p;
  rc = 0;
out:
  tcpu_noise_hs_wipe(&hs);
  sodium_memzero(ts, sizeof ts);
  return rc;
}

tcpu_ssize tcpu_noise_create_response(tcpu_noise_peer *p, uint32_t local_index,
                                      uint8_t *out, size_t cap,
                                      tcpu_tstamp now) {
  tcpu_noise_session s;
  tcpu_noise_cs c1, c2;
  tcpu_noise_hs hs;
  tcpu_ssize n;

  if (p->hs_state != TCPU_NOISE_HS_CONSUMED_INITIATION)
    return TCPU_ERR_STATE;
  if (cap < TCPU_NOISE_RESPONSE_LEN)
    return TCPU_ERR_NOBUF;
  hs = p->hs;
  tcpu_noise_hs_set_psk(&hs, p->psk);
  memset(out, 0, TCPU_NOISE_RESP_NOISE_OFF);
  out[0] = TCPU_NOISE_MSG_RESPONSE;
  tcpu_noise_put_le32(out + TCPU_NOISE_RESP_SENDER_OFF, local_index);
  tcpu_noise_put_le32(out + TCPU_NOISE_RESP_RECEIVER_OFF, p->hs_remote_index);
  n = tcpu_noise_hs_write(&hs, &p->local->rng, NULL, 0,
                          out + TCPU_NOISE_RESP_NOISE_OFF,
                          TCPU_NOISE_RESP_NOISE_LEN);
  if (n != TCPU_NOISE_RESP_NOISE_LEN) {
    tcpu_noise_hs_wipe(&hs);
    return n < 0 ? n : TCPU_ERR_PROTO;
  }
  tcpu_cookie_add_macs(&p->cookie, out, TCPU_NOISE_RESPONSE_LEN, now);

  tcpu_noise_hs_split(&hs, &c1, &c2);
  tcpu_noise_session_init(&s, (tcpu_noise_cipher)hs.cipher, c2.k, c1.k,
                          local_index, p->hs_remote_index, 0, now);
  tcpu_noise_cs_wipe(&c1);
  tcpu_noise_cs_wipe(&c2);
  tcpu_noise_hs_wipe(&hs);
  tcpu_noise_hs_wipe(&p->hs);
  p->hs_state = TCPU_NOISE_HS_ZEROED;
  p->hs_remote_index = 0;
  tcpu_noise_peer_begin_session(p, &s, now);

  tcpu_noise_timers_session_derived(p, now);
  tcpu_noise_timers_any_authenticated_packet_sent(p, now);
  return TCPU_NOISE_RESPONSE_LEN;
}

int tcpu_noise_consume_response(tcpu_noise_peer *p, const uint8_t *msg,
                                size_t len, tcpu_tstamp now) {
  uint8_t empty[1];
  tcpu_noise_session s;
  tcpu_noise_cs c1, c2;
  tcpu_noise_hs hs;

  if (tcpu_noise_msg_type(msg, len) != TCPU_NOISE_MSG_RESPONSE ||
      !tcpu_cookie_check_mac1(&p->local->cookies, msg, len))
    return TCPU_ERR_PROTO;
  if (p->hs_state != TCPU_NOISE_HS_CREATED_INITIATION ||
      tcpu_noise_get_le32(msg + TCPU_NOISE_RESP_RECEIVER_OFF) !=
          p->hs_local_index)
    return TCPU_ERR_PROTO;
  hs = p->hs;
  if (tcpu_noise_hs_read(&hs, msg + TCPU_NOISE_RESP_NOISE_OFF,
                         TCPU_NOISE_RESP_NOISE_LEN, empty, 0) != 0) {
    tcpu_noise_hs_wipe(&hs);
    return TCPU_ERR_PROTO;
  }
  tcpu_noise_hs_split(&hs, &c1, &c2);
  tcpu_noise_session_init(
      &s, (tcpu_noise_cipher)hs.cipher, c1.k, c2.k, p->hs_local_index,
      tcpu_noise_get_le32(msg + TCPU_NOISE_RESP_SENDER_OFF), 1, now);
  tcpu_noise_cs_wipe(&c1);
  tcpu_noise_cs_wipe(&c2);
  tcpu_noise_hs_wipe(&hs);
  /* The handshake's index lives on as the session's. */
  tcpu_noise_hs_wipe(&p->hs);
  p->hs_state = TCPU_NOISE_HS_ZEROED;
  p->hs_local_index = 0;
  tcpu_noise_peer_begin_session(p, &s, now);

  tcpu_noise_timers_any_authenticated_packet_received(p, now);
  tcpu_noise_timers_session_derived(p, now);
  tcpu_noise_timers_handshake_complete(p, now);
  tcpu_noise_timers_confirm_session(p, now);
  return 0;
}

int tcpu_noise_consume_cookie(tcpu_noise_peer *p, const uint8_t *msg,
                              size_t len, tcpu_tstamp now) {
  return tcpu_cookie_consume_reply(&p->cookie, msg, len, now);
}
