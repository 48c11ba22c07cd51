/*
 * handshake.h — sealed mode's handshake: WireGuard's two messages
 * (messages.h has the layout) carrying Noise_IKpsk2_25519_ChaChaPoly_
 * BLAKE2b, or its AESGCM twin, with the prologue "libtcpu sealed v1".
 *
 *   initiator                               responder
 *   create_initiation  -- 1: e, es, s, ss, {TAI64N} -->  consume_initiation
 *   consume_response   <-- 2: e, ee, se, psk, {}  ---  create_response
 *
 * The Noise messages are those of Noise_IKpsk2 exactly (noise.h); around
 * them go the type, the indexes and mac1/mac2 (cookie.h).  The payload of
 * the first message is a TAI64N timestamp of the initiator's wall clock:
 * a responder only accepts an initiation whose timestamp is greater than
 * the last one it accepted from that peer, so a recorded initiation cannot
 * be replayed to reset a session; and it consumes at most
 * TCPU_NOISE_INITIATIONS_PER_SECOND a second from one peer.  Both peers
 * always mix a PSK (32 zero bytes when none is configured), as WireGuard
 * does.
 *
 * Every consume_* is all or nothing: a message that fails any check leaves
 * every state as it was, and the caller answers nothing (silence).  Errors:
 * TCPU_ERR_PROTO for anything received that is malformed, fails mac1 or
 * authentication, is replayed or comes from an unknown key; TCPU_ERR_STATE
 * for a call out of turn; TCPU_ERR_NOBUF; TCPU_ERR_AGAIN for an initiation
 * asked within REKEY_TIMEOUT of the previous one (the peer's initiate
 * timer is then armed for when it may go).
 *
 * Indexes: every handshake and session is known to the other side by a
 * random 32-bit index the caller picks (tcpu_noise_new_index) and maps to
 * the peer; receiver indexes in responses, cookie replies and transport
 * messages find the peer again (tcpu_noise_msg_receiver_index).
 */
#ifndef TCPU_CRYPTO_HANDSHAKE_H
#define TCPU_CRYPTO_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cookie.h"
#include "crypto/messages.h"
#include "crypto/noise.h"
#include "crypto/session.h"
#include "tcpu/tcpu.h"

#define TCPU_NOISE_PROLOGUE "libtcpu sealed v1"

/* This side: its static key pair, cipher and cookie checker. */
typedef struct tcpu_noise_identity {
  uint8_t priv[TCPU_NOISE_KEY_LEN];
  uint8_t pub[TCPU_NOISE_KEY_LEN];
  tcpu_noise_cipher cipher;
  tcpu_noise_rng rng;
  tcpu_cookie_checker cookies;
} tcpu_noise_identity;

typedef tcpu_noise_peer *(*tcpu_noise_lookup_fn)(
    void *ctx, const uint8_t remote_static[TCPU_NOISE_KEY_LEN]);

/* From a private key (any 32 bytes: X25519 clamps).  rng NULL: libsodium.
 * The memory is locked where the system allows.  0, or TCPU_ERR_INVAL
 * (cipher unavailable on this CPU, libsodium cannot start). */
int tcpu_noise_identity_init(tcpu_noise_identity *id,
                             const uint8_t priv[TCPU_NOISE_KEY_LEN],
                             tcpu_noise_cipher cipher,
                             const tcpu_noise_rng *rng);
void tcpu_noise_identity_free(tcpu_noise_identity *id);

/* A peer known by its static public key, with an optional PSK (NULL:
 * none).  local must outlive it.  0, or TCPU_ERR_INVAL when the key is a
 * low-order point (no shared secret) or our own. */
int tcpu_noise_peer_init(tcpu_noise_peer *p, const tcpu_noise_identity *local,
                         const uint8_t remote_static[TCPU_NOISE_KEY_LEN],
                         const uint8_t *psk);
void tcpu_noise_peer_free(tcpu_noise_peer *p);

/* A random index for which taken(ctx, index) is 0 (taken NULL: any). */
uint32_t tcpu_noise_new_index(const tcpu_noise_identity *id,
                              int (*taken)(void *ctx, uint32_t index),
                              void *ctx);

/* The message type (1..4) when msg has that type's size and zero reserved
 * bytes, else 0. */
int tcpu_noise_msg_type(const uint8_t *msg, size_t len);
/* The receiver index of a response, cookie reply or transport message:
 * 0 and *index set, or TCPU_ERR_PROTO for anything else. */
int tcpu_noise_msg_receiver_index(const uint8_t *msg, size_t len,
                                  uint32_t *index);

/* TAI64N label of a wall-clock time in ns since the Unix epoch, the
 * nanoseconds rounded down to 2^24 so as not to leak the clock finely. */
void tcpu_noise_tai64n(uint8_t out[TCPU_NOISE_TIMESTAMP_LEN],
                       uint64_t wall_ns);

/* Message 1, TCPU_NOISE_INITIATION_LEN bytes, under a fresh ephemeral key;
 * local_index names this handshake.  wall_ns: the wall clock, ns since the
 * Unix epoch.  Replaces any handshake in progress. */
tcpu_ssize tcpu_noise_create_initiation(tcpu_noise_peer *p,
                                        uint32_t local_index, uint64_t wall_ns,
                                        uint8_t *out, size_t cap,
                                        tcpu_tstamp now);
/* Message 1 received: checks mac1 (no DH before), decrypts the initiator's
 * static key, finds its peer with lookup, checks the timestamp and the
 * flood limit.  0 and *ppeer, whose handshake now awaits
 * tcpu_noise_create_response.  The caller has gone through
 * tcpu_cookie_validate and the rate limit first (cookie.h). */
int tcpu_noise_consume_initiation(const tcpu_noise_identity *id,
                                  const uint8_t *msg, size_t len,
                                  tcpu_noise_lookup_fn lookup, void *ctx,
                                  tcpu_noise_peer **ppeer, tcpu_tstamp now);
/* Message 2, TCPU_NOISE_RESPONSE_LEN bytes; local_index names the new
 * session, which waits in next until the initiator's first transport
 * message confirms it. */
tcpu_ssize tcpu_noise_create_response(tcpu_noise_peer *p, uint32_t local_index,
                                      uint8_t *out, size_t cap,
                                      tcpu_tstamp now);
/* Message 2 received by the peer its receiver index names: the new
 * session becomes cur, and the send_keepalive timer is due at once — send
 * data now, or the keepalive it asks for, to confirm the session. */
int tcpu_noise_consume_response(tcpu_noise_peer *p, const uint8_t *msg,
                                size_t len, tcpu_tstamp now);
/* Message 3 received by the peer its receiver index names: stores the
 * cookie for the next initiation or response's mac2. */
int tcpu_noise_consume_cookie(tcpu_noise_peer *p, const uint8_t *msg,
                              size_t len, tcpu_tstamp now);

#endif /* TCPU_CRYPTO_HANDSHAKE_H */
