/*
 * seal.h — transport data messages (DESIGN §3): one TCP segment, or
 * nothing (a keepalive), sealed under a session.
 *
 *   [4][0 0 0][receiver index, 4 LE][counter, 8 LE][AEAD(segment)][tag 16]
 *
 * The AEAD is the session's cipher with the Noise nonce of its counter
 * (noise.h), and its associated data is the 16-byte header: every byte of
 * the message is authenticated (WireGuard leaves the header out of the AD;
 * the counter is bound through the nonce either way).  No padding: the
 * segment's length is what the datagram says, and sizes are visible, as
 * DESIGN §3 allows.  Each counter is used once; the receiver decrypts
 * before it touches its replay window.
 *
 * tcpu_seal / tcpu_open work on one session; tcpu_noise_peer_seal /
 * tcpu_noise_peer_open pick the peer's session, rotate confirmed ones and
 * report to the timers (session.h) — the endpoint uses those.
 *
 * Errors: TCPU_ERR_PROTO for a received message that is malformed, not
 * for this session or fails authentication; TCPU_ERR_AGAIN for an
 * authentic one whose counter was seen before or fell behind the replay
 * window (a replay; drop either silently, counted apart); TCPU_ERR_STATE for a session that is not valid, has expired
 * (REJECT_AFTER_TIME) or has used its counters (REJECT_AFTER_MESSAGES);
 * TCPU_ERR_NOBUF; TCPU_ERR_NOTCONN from tcpu_noise_peer_seal when no
 * session can send (a handshake has been asked for: see the peer's
 * expiry).
 */
#ifndef TCPU_CRYPTO_SEAL_H
#define TCPU_CRYPTO_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/session.h"
#include "tcpu/tcpu.h"

/* Seals len bytes (0: keepalive) into out: len + TCPU_NOISE_DATA_OVERHEAD
 * bytes, the length returned.  pt may be out + TCPU_NOISE_DATA_HEADER_LEN
 * (sealing in place). */
tcpu_ssize tcpu_seal(tcpu_noise_session *s, const uint8_t *pt, size_t len,
                     uint8_t *out, size_t cap, tcpu_tstamp now);
/* Opens a transport message addressed to s: the plaintext length (0: a
 * keepalive) written to out, which may be msg + TCPU_NOISE_DATA_HEADER_LEN
 * (opening in place). */
tcpu_ssize tcpu_open(tcpu_noise_session *s, const uint8_t *msg, size_t len,
                     uint8_t *out, size_t cap, tcpu_tstamp now);

/* Seals with the peer's current session, then: data sent or keepalive
 * sent to the timers, and a rekey asked for when the keys age. */
tcpu_ssize tcpu_noise_peer_seal(tcpu_noise_peer *p, const uint8_t *pt,
                                size_t len, uint8_t *out, size_t cap,
                                tcpu_tstamp now);
/* Opens a transport message whose receiver index names one of the peer's
 * sessions; a first message under next confirms it (it becomes cur). */
tcpu_ssize tcpu_noise_peer_open(tcpu_noise_peer *p, const uint8_t *msg,
                                size_t len, uint8_t *out, size_t cap,
                                tcpu_tstamp now);

#endif /* TCPU_CRYPTO_SEAL_H */
