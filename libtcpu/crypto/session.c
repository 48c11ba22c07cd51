/*
 * session.c — a peer's sessions (WireGuard src/noise.c: keypairs, and
 * the rotation prev <- cur <- next) and its timers (src/timers.c), in
 * virtual time: every deadline is a tcpu_tstamp the caller reaches through
 * tcpu_noise_peer_get_expiry / tcpu_noise_peer_handle_expiry.
 */
#include "crypto/session.h"

#include <sodium.h>
#include <string.h>

#include "crypto/handshake.h"

#define NONE TCPU_TSTAMP_NONE

/* ------------------------------------------------------------ sessions */

void tcpu_noise_session_init(tcpu_noise_session *s, tcpu_noise_cipher cipher,
                             const uint8_t *send_key, const uint8_t *recv_key,
                             uint32_t local_index, uint32_t remote_index,
                             int initiator, tcpu_tstamp now) {
  memset(s, 0, sizeof *s);
  memcpy(s->send_key, send_key, TCPU_NOISE_KEY_LEN);
  memcpy(s->recv_key, recv_key, TCPU_NOISE_KEY_LEN);
  tcpu_replay_init(&s->replay);
  s->birth = now;
  s->local_index = local_index;
  s->remote_index = remote_index;
  s->cipher = (uint8_t)cipher;
  s->initiator = initiator != 0;
  if (cipher == TCPU_NOISE_AESGCM && crypto_aead_aes256gcm_is_available()) {
    crypto_aead_aes256gcm_beforenm(&s->aes_send, send_key);
    crypto_aead_aes256gcm_beforenm(&s->aes_recv, recv_key);
    s->aes_ready = 1;
  }
  s->valid = 1;
}

int tcpu_noise_session_expired(const tcpu_noise_session *s, tcpu_tstamp now) {
  return now >= s->birth &&
         now - s->birth >= TCPU_NOISE_REJECT_AFTER_TIME_NS;
}

void tcpu_noise_session_wipe(tcpu_noise_session *s) {
  sodium_memzero(s, sizeof *s);
}

void tcpu_noise_peer_drop_index(tcpu_noise_peer *p, uint32_t index) {
  if (p->index_dropped != NULL)
    p->index_dropped(p->index_ctx, index);
}

/* Ends a session: its index is let go and its keys wiped. */
static void drop_session(tcpu_noise_peer *p, tcpu_noise_session *s) {
  if (s->valid)
    tcpu_noise_peer_drop_index(p, s->local_index);
  tcpu_noise_session_wipe(s);
}

/* Moves *from into *to (which holds nothing); from is wiped. */
static void move_session(tcpu_noise_session *to, tcpu_noise_session *from) {
  memcpy(to, from, sizeof *to);
  tcpu_noise_session_wipe(from);
}

tcpu_noise_session *tcpu_noise_peer_send_session(tcpu_noise_peer *p,
                                                 tcpu_tstamp now) {
  tcpu_noise_session *s = &p->cur;
  if (!s->valid || tcpu_noise_session_expired(s, now) ||
      s->send_counter >= TCPU_NOISE_REJECT_AFTER_MESSAGES)
    return NULL;
  return s;
}

tcpu_noise_session *tcpu_noise_peer_find_session(tcpu_noise_peer *p,
                                                 uint32_t local_index) {
  tcpu_noise_session *all[3] = {&p->cur, &p->prev, &p->next};
  for (int i = 0; i < 3; i++)
    if (all[i]->valid && all[i]->local_index == local_index)
      return all[i];
  return NULL;
}

void tcpu_noise_peer_begin_session(tcpu_noise_peer *p, tcpu_noise_session *s,
                                   tcpu_tstamp now) {
  (void)now;
  if (s->initiator) {
    /* The response confirmed these keys: they send from now on.  A next
     * session still waiting (both sides initiated) keeps receiving as
     * prev; the old cur is dropped then, else it becomes prev. */
    drop_session(p, &p->prev);
    if (p->next.valid) {
      move_session(&p->prev, &p->next);
      drop_session(p, &p->cur);
    } else {
      move_session(&p->prev, &p->cur);
    }
    move_session(&p->cur, s);
  } else {
    /* Not to be used before the initiator's first message arrives under
     * it; the previous session goes, cur keeps sending meanwhile. */
    drop_session(p, &p->next);
    drop_session(p, &p->prev);
    move_session(&p->next, s);
  }
}

int tcpu_noise_peer_received_with(tcpu_noise_peer *p, tcpu_noise_session *s,
                                  tcpu_tstamp now) {
  (void)now;
  if (s != &p->next)
    return 0;
  drop_session(p, &p->prev);
  move_session(&p->prev, &p->cur);
  move_session(&p->cur, &p->next);
  return 1;
}

void tcpu_noise_peer_clear(tcpu_noise_peer *p) {
  drop_session(p, &p->prev);
  drop_session(p, &p->cur);
  drop_session(p, &p->next);
  if (p->hs_state == TCPU_NOISE_HS_CREATED_INITIATION)
    tcpu_noise_peer_drop_index(p, p->hs_local_index);
  tcpu_noise_hs_wipe(&p->hs);
  p->hs_state = TCPU_NOISE_HS_ZEROED;
  p->hs_local_index = p->hs_remote_index = 0;
}

/* --------------------------------------------------------------- timers */

static tcpu_tstamp min_ts(tcpu_tstamp a, tcpu_tstamp b) {
  return a < b ? a : b;
}

static tcpu_duration jitter(const tcpu_noise_peer *p) {
  uint32_t r;
  tcpu_noise_random(&p->local->rng, &r, sizeof r);
  return (tcpu_duration)r % TCPU_NOISE_REKEY_TIMEOUT_JITTER_NS;
}

void tcpu_noise_peer_set_persistent_keepalive(tcpu_noise_peer *p,
                                              tcpu_duration interval,
                                              tcpu_tstamp now) {
  p->persistent_keepalive = interval;
  p->t_persistent_keepalive = interval ? now + interval : NONE;
}

void tcpu_noise_peer_set_index_hook(tcpu_noise_peer *p,
                                    void (*fn)(void *ctx, uint32_t index),
                                    void *ctx) {
  p->index_dropped = fn;
  p->index_ctx = ctx;
}

/* Any authenticated packet in either direction (wg_timers_any_
 * authenticated_packet_traversal). */
static void traversal(tcpu_noise_peer *p, tcpu_tstamp now) {
  if (p->persistent_keepalive)
    p->t_persistent_keepalive = now + p->persistent_keepalive;
}

void tcpu_noise_timers_data_sent(tcpu_noise_peer *p, tcpu_tstamp now) {
  if (p->t_new_handshake == NONE)
    p->t_new_handshake = now + TCPU_NOISE_KEEPALIVE_TIMEOUT_NS +
                         TCPU_NOISE_REKEY_TIMEOUT_NS + jitter(p);
}

void tcpu_noise_timers_data_received(tcpu_noise_peer *p, tcpu_tstamp now) {
  if (p->t_send_keepalive == NONE)
    p->t_send_keepalive = now + TCPU_NOISE_KEEPALIVE_TIMEOUT_NS;
}

void tcpu_noise_timers_any_authenticated_packet_sent(tcpu_noise_peer *p,
                                                     tcpu_tstamp now) {
  p->t_send_keepalive = NONE;
  traversal(p, now);
}

void tcpu_noise_timers_any_authenticated_packet_received(tcpu_noise_peer *p,
                                                         tcpu_tstamp now) {
  p->t_new_handshake = NONE;
  traversal(p, now);
}

void tcpu_noise_timers_handshake_initiated(tcpu_noise_peer *p,
                                           tcpu_tstamp now) {
  p->last_sent_handshake = now;
  p->t_initiate = NONE;
  p->t_retransmit_handshake = now + TCPU_NOISE_REKEY_TIMEOUT_NS + jitter(p);
}

void tcpu_noise_timers_handshake_complete(tcpu_noise_peer *p,
                                          tcpu_tstamp now) {
  (void)now;
  p->t_retransmit_handshake = NONE;
  p->handshake_attempts = 0;
  p->handshake_retry = 0;
  p->sent_lastminute_handshake = 0;
}

void tcpu_noise_timers_session_derived(tcpu_noise_peer *p, tcpu_tstamp now) {
  p->t_zero_key_material = now + 3 * TCPU_NOISE_REJECT_AFTER_TIME_NS;
}

void tcpu_noise_timers_confirm_session(tcpu_noise_peer *p, tcpu_tstamp now) {
  p->t_send_keepalive = now;
}

void tcpu_noise_timers_want_handshake(tcpu_noise_peer *p, tcpu_tstamp now) {
  tcpu_tstamp at = now;

  /* An initiation is out and its retransmission armed: that will do. */
  if (p->hs_state == TCPU_NOISE_HS_CREATED_INITIATION &&
      p->t_retransmit_handshake != NONE)
    return;
  if (p->last_sent_handshake != NONE &&
      p->last_sent_handshake + TCPU_NOISE_REKEY_TIMEOUT_NS > now)
    at = p->last_sent_handshake + TCPU_NOISE_REKEY_TIMEOUT_NS;
  p->t_initiate = min_ts(p->t_initiate, at);
}

void tcpu_noise_timers_keep_key_fresh_send(tcpu_noise_peer *p,
                                           tcpu_tstamp now) {
  const tcpu_noise_session *s = &p->cur;
  if (s->valid && s->initiator &&
      (s->send_counter > TCPU_NOISE_REKEY_AFTER_MESSAGES ||
       (now >= s->birth &&
        now - s->birth >= TCPU_NOISE_REKEY_AFTER_TIME_NS)))
    tcpu_noise_timers_want_handshake(p, now);
}

void tcpu_noise_timers_keep_key_fresh_recv(tcpu_noise_peer *p,
                                           tcpu_tstamp now) {
  const tcpu_noise_session *s = &p->cur;
  if (s->valid && s->initiator && !p->sent_lastminute_handshake &&
      now >= s->birth &&
      now - s->birth >= TCPU_NOISE_REJECT_AFTER_TIME_NS -
                            TCPU_NOISE_KEEPALIVE_TIMEOUT_NS -
                            TCPU_NOISE_REKEY_TIMEOUT_NS) {
    p->sent_lastminute_handshake = 1;
    tcpu_noise_timers_want_handshake(p, now);
  }
}

tcpu_tstamp tcpu_noise_peer_get_expiry(const tcpu_noise_peer *p) {
  tcpu_tstamp t = p->t_retransmit_handshake;
  t = min_ts(t, p->t_send_keepalive);
  t = min_ts(t, p->t_new_handshake);
  t = min_ts(t, p->t_zero_key_material);
  t = min_ts(t, p->t_persistent_keepalive);
  return min_ts(t, p->t_initiate);
}

unsigned tcpu_noise_peer_handle_expiry(tcpu_noise_peer *p, tcpu_tstamp now) {
  unsigned act = 0;

  if (p->t_retransmit_handshake <= now) {
    p->t_retransmit_handshake = NONE;
    if (p->handshake_attempts > TCPU_NOISE_MAX_TIMER_HANDSHAKES) {
      /* Give up: what waits for keys is dropped, no more attempts until
       * the caller asks again, and the remains go in a while. */
      act |= TCPU_NOISE_ACT_GAVE_UP;
      p->t_send_keepalive = NONE;
      p->t_initiate = NONE;
      if (p->t_zero_key_material == NONE)
        p->t_zero_key_material = now + 3 * TCPU_NOISE_REJECT_AFTER_TIME_NS;
    } else {
      p->handshake_attempts++;
      p->handshake_retry = 1;
      act |= TCPU_NOISE_ACT_INITIATE;
    }
  }
  if (p->t_send_keepalive <= now) {
    p->t_send_keepalive = NONE;
    act |= TCPU_NOISE_ACT_KEEPALIVE;
  }
  if (p->t_new_handshake <= now) {
    /* Data went out and nothing came back for 15 s. */
    p->t_new_handshake = NONE;
    act |= TCPU_NOISE_ACT_INITIATE;
  }
  if (p->t_zero_key_material <= now) {
    p->t_zero_key_material = NONE;
    tcpu_noise_peer_clear(p);
    act |= TCPU_NOISE_ACT_ZEROED;
  }
  if (p->t_persistent_keepalive <= now) {
    /* Re-armed when the keepalive goes out. */
    p->t_persistent_keepalive = NONE;
    if (p->persistent_keepalive)
      act |= TCPU_NOISE_ACT_KEEPALIVE;
  }
  if (p->t_initiate <= now) {
    p->t_initiate = NONE;
    act |= TCPU_NOISE_ACT_INITIATE;
  }
  return act;
}
