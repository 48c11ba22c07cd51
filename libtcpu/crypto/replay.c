/*
 * replay.c — RFC 6479 (IPsec Anti-Replay Algorithm without Bit Shifting),
 * §2: the bitmap is a ring of words; advancing the window zeroes the words
 * it enters instead of shifting bits, and the bit of counter n lives at
 * bit n % 64 of word (n / 64) % WORDS.
 *
 * Counters are stored one up (top = highest + 1) so that 0 means "nothing
 * received" and counter 0 is an ordinary first message.
 */
#include "crypto/replay.h"

#include <string.h>

#define WORD_MASK (TCPU_REPLAY_WORDS - 1)

void tcpu_replay_init(tcpu_replay *r) {
  memset(r, 0, sizeof *r);
}

/* The stored value of counter c (c + 1) is within reach: at most the
 * window below top.  Written to avoid wrapping in either direction. */
static int in_window(const tcpu_replay *r, uint64_t v) {
  return v >= r->top || r->top - v <= TCPU_NOISE_REPLAY_WINDOW;
}

int tcpu_replay_check(const tcpu_replay *r, uint64_t counter) {
  if (counter >= TCPU_NOISE_REJECT_AFTER_MESSAGES)
    return 0;
  uint64_t v = counter + 1;
  if (!in_window(r, v))
    return 0;
  if (v > r->top)
    return 1;
  return !(r->bitmap[(v >> 6) & WORD_MASK] >> (v & 63) & 1);
}

int tcpu_replay_update(tcpu_replay *r, uint64_t counter) {
  if (counter >= TCPU_NOISE_REJECT_AFTER_MESSAGES)
    return 0;
  uint64_t v = counter + 1;
  if (!in_window(r, v))
    return 0;
  uint64_t word = v >> 6;
  if (v > r->top) {
    /* §2.3: clear the words between the old top's and the new one's; the
     * old top's own word keeps its bits.  More than a ring's worth of
     * words is the whole ring. */
    uint64_t cur = r->top >> 6;
    uint64_t n = word - cur;
    if (n > TCPU_REPLAY_WORDS)
      n = TCPU_REPLAY_WORDS;
    for (uint64_t i = 1; i <= n; i++)
      r->bitmap[(cur + i) & WORD_MASK] = 0;
    r->top = v;
  }
  uint64_t *w = &r->bitmap[word & WORD_MASK];
  uint64_t bit = UINT64_C(1) << (v & 63);
  if (*w & bit)
    return 0;
  *w |= bit;
  return 1;
}
