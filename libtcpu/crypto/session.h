/*
 * session.h — a peer of sealed mode: its sessions (the keys one handshake
 * yields) and the timers that keep them fresh.  WireGuard's noise.c
 * keypairs and timers.c, without the clock: callers pass `now` and ask
 * for the next deadline.
 *
 * Sessions.  A peer holds up to three: `cur` sends; `prev` still receives
 * what was in flight when `cur` replaced it; `next` is a responder's
 * session waiting for confirmation — it may not send until the initiator's
 * first transport message arrives under it (key confirmation), and then it
 * becomes `cur`.  An initiator's session becomes `cur` at once.  Sessions
 * are found for receiving by their local index (the receiver index of
 * transport messages); the caller maps indexes to peers and learns of each
 * index the peer lets go through the index_dropped hook.
 *
 * Timers (WireGuard timers.c, every deadline a tcpu_tstamp, NONE = off):
 *   retransmit_handshake  REKEY_TIMEOUT + jitter after an initiation is sent
 *                         and no response came: send another, up to
 *                         MAX_TIMER_HANDSHAKES, then give up;
 *   send_keepalive        KEEPALIVE_TIMEOUT after data arrived with nothing
 *                         sent since ("keepalive due": one-way traffic);
 *                         at once after an initiator completes, so the
 *                         responder gets its confirmation;
 *   new_handshake         KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after
 *                         data was sent with nothing received since;
 *   zero_key_material     REJECT_AFTER_TIME * 3 after the last session was
 *                         derived: wipe every key;
 *   persistent_keepalive  the configured interval after the last
 *                         authenticated packet either way (off by default);
 *   initiate              a handshake is wanted (keys aging: REKEY_AFTER_TIME
 *                         or REKEY_AFTER_MESSAGES when sending, REJECT_AFTER_
 *                         TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT when
 *                         receiving, both on the initiator's side only; or
 *                         data with no session), no sooner than REKEY_TIMEOUT
 *                         after the last initiation.
 * Only this file arms them; handshake.c and seal.c report events.
 *
 * Pointers to sessions stay valid until the next call that takes the peer
 * non-const.
 */
#ifndef TCPU_CRYPTO_SESSION_H
#define TCPU_CRYPTO_SESSION_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cookie.h"
#include "crypto/messages.h"
#include "crypto/noise.h"
#include "crypto/replay.h"
#include "tcpu/tcpu.h"

typedef struct tcpu_noise_session {
  uint8_t send_key[TCPU_NOISE_KEY_LEN];
  uint8_t recv_key[TCPU_NOISE_KEY_LEN];
  uint64_t send_counter; /* the next counter to send */
  tcpu_replay replay;
  tcpu_tstamp birth;
  uint32_t local_index;  /* receiver index of messages to us */
  uint32_t remote_index; /* receiver index of messages we send */
  uint8_t cipher;        /* tcpu_noise_cipher */
  uint8_t valid;
  uint8_t initiator; /* derived from a handshake this side initiated */
  uint8_t aes_ready; /* aes_send and aes_recv hold the expanded keys */
  /* AES-256-GCM only: both keys expanded once (beforenm), not once per
   * message as crypto_aead_aes256gcm_encrypt does: 2 % of a bulk thread. */
  crypto_aead_aes256gcm_state aes_send, aes_recv;
} tcpu_noise_session;

typedef enum tcpu_noise_hs_state {
  TCPU_NOISE_HS_ZEROED = 0,
  TCPU_NOISE_HS_CREATED_INITIATION,
  TCPU_NOISE_HS_CONSUMED_INITIATION
} tcpu_noise_hs_state;

/* What tcpu_noise_peer_handle_expiry asks of the caller (bits). */
enum {
  TCPU_NOISE_ACT_INITIATE = 1 << 0,  /* tcpu_noise_create_initiation, send */
  TCPU_NOISE_ACT_KEEPALIVE = 1 << 1, /* seal and send an empty message */
  TCPU_NOISE_ACT_GAVE_UP = 1 << 2,   /* handshake failed for REKEY_ATTEMPT_
                                        TIME: drop data waiting for keys */
  TCPU_NOISE_ACT_ZEROED = 1 << 3     /* every key wiped (informational) */
};

struct tcpu_noise_identity;

typedef struct tcpu_noise_peer {
  const struct tcpu_noise_identity *local;
  uint8_t remote_static[TCPU_NOISE_KEY_LEN];
  uint8_t psk[TCPU_NOISE_KEY_LEN];
  tcpu_cookie_maker cookie;

  /* The handshake in progress (handshake.c). */
  tcpu_noise_hs hs;
  uint8_t hs_state; /* tcpu_noise_hs_state */
  uint32_t hs_local_index, hs_remote_index;
  uint8_t latest_timestamp[TCPU_NOISE_TIMESTAMP_LEN];
  tcpu_tstamp last_initiation_consumed;
  tcpu_tstamp last_sent_handshake;

  tcpu_noise_session prev, cur, next;

  /* Timers (this file). */
  tcpu_tstamp t_retransmit_handshake, t_send_keepalive, t_new_handshake,
      t_zero_key_material, t_persistent_keepalive, t_initiate;
  tcpu_duration persistent_keepalive; /* 0: off */
  uint32_t handshake_attempts;
  uint8_t handshake_retry;           /* the next initiation is a retry */
  uint8_t sent_lastminute_handshake; /* receive-side rekey asked once */

  void (*index_dropped)(void *ctx, uint32_t index);
  void *index_ctx;
  void *user_data;
} tcpu_noise_peer;

/* ------------------------------------------------------------ sessions */

/* A valid session from Split()'s keys (each 32 bytes), born now. */
void tcpu_noise_session_init(tcpu_noise_session *s, tcpu_noise_cipher cipher,
                             const uint8_t *send_key, const uint8_t *recv_key,
                             uint32_t local_index, uint32_t remote_index,
                             int initiator, tcpu_tstamp now);
/* 1 when s may no longer be used either way: REJECT_AFTER_TIME old. */
int tcpu_noise_session_expired(const tcpu_noise_session *s, tcpu_tstamp now);
void tcpu_noise_session_wipe(tcpu_noise_session *s);

/* The session to send with: cur, if valid, not expired and with counters
 * left; else NULL. */
tcpu_noise_session *tcpu_noise_peer_send_session(tcpu_noise_peer *p,
                                                 tcpu_tstamp now);
/* The valid session whose local index this is, or NULL. */
tcpu_noise_session *tcpu_noise_peer_find_session(tcpu_noise_peer *p,
                                                 uint32_t local_index);
/* Installs a session fresh from a handshake (handshake.c): an initiator's
 * becomes cur (old cur to prev), a responder's waits in next.  *s is
 * wiped. */
void tcpu_noise_peer_begin_session(tcpu_noise_peer *p, tcpu_noise_session *s,
                                   tcpu_tstamp now);
/* A message authenticated under s: if s is next, it is confirmed and
 * becomes cur.  Returns 1 then (s now points at cur's old content: use
 * the peer's cur). */
int tcpu_noise_peer_received_with(tcpu_noise_peer *p, tcpu_noise_session *s,
                                  tcpu_tstamp now);
/* Wipes every session and the handshake, reporting their indexes. */
void tcpu_noise_peer_clear(tcpu_noise_peer *p);
void tcpu_noise_peer_drop_index(tcpu_noise_peer *p, uint32_t index);

/* --------------------------------------------------------------- timers */

void tcpu_noise_peer_set_persistent_keepalive(tcpu_noise_peer *p,
                                              tcpu_duration interval,
                                              tcpu_tstamp now);
void tcpu_noise_peer_set_index_hook(tcpu_noise_peer *p,
                                    void (*fn)(void *ctx, uint32_t index),
                                    void *ctx);
/* The earliest deadline, TCPU_TSTAMP_NONE when none is armed. */
tcpu_tstamp tcpu_noise_peer_get_expiry(const tcpu_noise_peer *p);
/* Fires what is due; returns TCPU_NOISE_ACT_* bits for the caller. */
unsigned tcpu_noise_peer_handle_expiry(tcpu_noise_peer *p, tcpu_tstamp now);

/* Events (WireGuard's wg_timers_*), reported by handshake.c and seal.c. */
void tcpu_noise_timers_data_sent(tcpu_noise_peer *p, tcpu_tstamp now);
void tcpu_noise_timers_data_received(tcpu_noise_peer *p, tcpu_tstamp now);
void tcpu_noise_timers_any_authenticated_packet_sent(tcpu_noise_peer *p,
                                                     tcpu_tstamp now);
void tcpu_noise_timers_any_authenticated_packet_received(tcpu_noise_peer *p,
                                                         tcpu_tstamp now);
void tcpu_noise_timers_handshake_initiated(tcpu_noise_peer *p,
                                           tcpu_tstamp now);
void tcpu_noise_timers_handshake_complete(tcpu_noise_peer *p, tcpu_tstamp now);
void tcpu_noise_timers_session_derived(tcpu_noise_peer *p, tcpu_tstamp now);
/* An initiator's new session needs confirming: a keepalive is due now
 * unless data goes first. */
void tcpu_noise_timers_confirm_session(tcpu_noise_peer *p, tcpu_tstamp now);
/* Asks for a handshake, no sooner than REKEY_TIMEOUT after the last
 * initiation, unless one is already on its way. */
void tcpu_noise_timers_want_handshake(tcpu_noise_peer *p, tcpu_tstamp now);
/* Rekey checks after sending / receiving under cur (keep_key_fresh). */
void tcpu_noise_timers_keep_key_fresh_send(tcpu_noise_peer *p,
                                           tcpu_tstamp now);
void tcpu_noise_timers_keep_key_fresh_recv(tcpu_noise_peer *p,
                                           tcpu_tstamp now);

#endif /* TCPU_CRYPTO_SESSION_H */
