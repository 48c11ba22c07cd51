/*
 * replay.h — the anti-replay window of a receiving session: RFC 6479's
 * sliding bitmap, sized as WireGuard sizes it (TCPU_NOISE_REPLAY_BITS =
 * 8192 bits in 64-bit words, one word always being recycled, so the
 * TCPU_NOISE_REPLAY_WINDOW = 8128 counters below the highest accepted one
 * are told apart).
 *
 * A counter is accepted once, and only if it is below
 * TCPU_NOISE_REJECT_AFTER_MESSAGES and no more than the window below the
 * highest counter accepted so far.  Moving ahead clears the words the
 * window leaves behind; a jump of a whole bitmap or more clears them all.
 * Call tcpu_replay_update only for messages that authenticated.
 */
#ifndef TCPU_CRYPTO_REPLAY_H
#define TCPU_CRYPTO_REPLAY_H

#include <stdint.h>

#include "crypto/messages.h"

#define TCPU_REPLAY_WORDS (TCPU_NOISE_REPLAY_BITS / 64)

typedef struct tcpu_replay {
  uint64_t top; /* highest counter accepted + 1; 0: none yet */
  uint64_t bitmap[TCPU_REPLAY_WORDS];
} tcpu_replay;

void tcpu_replay_init(tcpu_replay *r);
/* 1 when counter would be accepted now; changes nothing (a cheap filter
 * before decryption). */
int tcpu_replay_check(const tcpu_replay *r, uint64_t counter);
/* 1 when counter is fresh, and records it; 0 when it is a duplicate, too
 * old, or at or past TCPU_NOISE_REJECT_AFTER_MESSAGES. */
int tcpu_replay_update(tcpu_replay *r, uint64_t counter);

#endif /* TCPU_CRYPTO_REPLAY_H */
