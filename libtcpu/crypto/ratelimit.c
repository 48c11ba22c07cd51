/*
 * ratelimit.c — token buckets per source address for handshake messages
 * (WireGuard src/ratelimiter.c: 20 a second, bursts of 5, IPv6 by /64).
 * Tokens are nanoseconds of budget: a message costs 1 s / rate, time
 * refills them one for one, and a bucket holds at most burst messages.
 */
#include "crypto/ratelimit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int tcpu_ratelimit_init(tcpu_ratelimit *rl, size_t nslots, uint32_t per_second,
                        uint32_t burst, const tcpu_noise_rng *rng) {
  size_t n = TCPU_RATELIMIT_PROBES;

  memset(rl, 0, sizeof *rl);
  if (nslots > ((size_t)1 << 24) || tcpu_noise_init() != 0)
    return TCPU_ERR_INVAL;
  while (n < nslots)
    n <<= 1;
  if (per_second == 0)
    per_second = TCPU_NOISE_HANDSHAKES_PER_SECOND;
  if (burst == 0)
    burst = TCPU_NOISE_HANDSHAKES_BURST;
  rl->slots = calloc(n, sizeof *rl->slots);
  if (rl->slots == NULL)
    return TCPU_ERR_NOMEM;
  rl->nslots = n;
  rl->cost = TCPU_NS_PER_S / per_second;
  rl->max = rl->cost * burst;
  tcpu_noise_random(rng, rl->hash_key, sizeof rl->hash_key);
  return 0;
}

void tcpu_ratelimit_free(tcpu_ratelimit *rl) {
  free(rl->slots);
  sodium_memzero(rl, sizeof *rl);
}

static void source_key(uint8_t key[17], const tcpu_addr *src) {
  memset(key, 0, 17);
  key[0] = src->family;
  memcpy(key + 1, src->ip, src->family == TCPU_AF_INET6 ? 8 : 4);
}

/* The bucket refilled for the time since its last refill, capped. */
static uint64_t refilled(const tcpu_ratelimit *rl,
                         const tcpu_ratelimit_slot *s, tcpu_tstamp now) {
  uint64_t add = now > s->last ? now - s->last : 0;
  return add >= rl->max - s->tokens ? rl->max : s->tokens + add;
}

int tcpu_ratelimit_allow(tcpu_ratelimit *rl, const tcpu_addr *src,
                         tcpu_tstamp now) {
  uint8_t key[17], h[crypto_shorthash_BYTES];
  tcpu_ratelimit_slot *s, *free_slot = NULL;
  uint64_t start;

  source_key(key, src);
  crypto_shorthash(h, key, sizeof key, rl->hash_key);
  memcpy(&start, h, sizeof start);
  for (size_t i = 0; i < TCPU_RATELIMIT_PROBES; i++) {
    s = &rl->slots[(start + i) & (rl->nslots - 1)];
    if (s->used && memcmp(s->key, key, sizeof key) == 0) {
      s->tokens = refilled(rl, s, now);
      s->last = now;
      if (s->tokens < rl->cost)
        return 0;
      s->tokens -= rl->cost;
      return 1;
    }
    if (free_slot == NULL && (!s->used || refilled(rl, s, now) == rl->max))
      free_slot = s;
  }
  if (free_slot == NULL)
    return 0;
  /* A new source starts with a full bucket, less this message. */
  memcpy(free_slot->key, key, sizeof key);
  free_slot->used = 1;
  free_slot->last = now;
  free_slot->tokens = rl->max - rl->cost;
  return 1;
}
