/*
 * ratelimit.h — handshake rate limit per source: a token bucket for each
 * source address (IPv4 address, or IPv6 /64 — one host's worth), as
 * WireGuard's ratelimiter.c keeps.  Every handshake message whose mac1 is
 * valid passes here before it costs a DH or draws a cookie reply
 * (cookie.h gives the whole order).
 *
 * The table is allocated once (tcpu_ratelimit_init) and never grows: a
 * source hashes (SipHash under a random key) to a slot and probes
 * TCPU_RATELIMIT_PROBES slots onwards; a slot whose bucket has refilled
 * completely holds nothing worth keeping and is reused.  When every
 * probed slot belongs to an active source the newcomer is refused: under a
 * flood from many addresses the table protects the DH budget first.
 */
#ifndef TCPU_CRYPTO_RATELIMIT_H
#define TCPU_CRYPTO_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/noise.h"
#include "tcpu/tcpu.h"

#define TCPU_RATELIMIT_PROBES 8

typedef struct tcpu_ratelimit_slot {
  uint8_t key[17];  /* family, then 4 (IPv4) or 8 (IPv6 /64) bytes */
  uint8_t used;
  tcpu_tstamp last; /* last refill */
  uint64_t tokens;  /* in nanoseconds of budget, as WireGuard counts */
} tcpu_ratelimit_slot;

typedef struct tcpu_ratelimit {
  tcpu_ratelimit_slot *slots;
  size_t nslots; /* a power of two */
  uint8_t hash_key[16];
  tcpu_duration cost;   /* budget per message: 1 s / rate */
  tcpu_duration max;    /* bucket size: cost * burst */
} tcpu_ratelimit;

/* nslots rounded up to a power of two (at least TCPU_RATELIMIT_PROBES);
 * per_second and burst 0 take TCPU_NOISE_HANDSHAKES_PER_SECOND and
 * TCPU_NOISE_HANDSHAKES_BURST.  0, or TCPU_ERR_NOMEM, TCPU_ERR_INVAL. */
int tcpu_ratelimit_init(tcpu_ratelimit *rl, size_t nslots, uint32_t per_second,
                        uint32_t burst, const tcpu_noise_rng *rng);
void tcpu_ratelimit_free(tcpu_ratelimit *rl);
/* 1: let this message from src through (and take a token); 0: drop it. */
int tcpu_ratelimit_allow(tcpu_ratelimit *rl, const tcpu_addr *src,
                         tcpu_tstamp now);

#endif /* TCPU_CRYPTO_RATELIMIT_H */
