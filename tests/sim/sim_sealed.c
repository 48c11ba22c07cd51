/*
 * sim_sealed.c — seeded end-to-end properties of sealed mode (DESIGN §3,
 * §6; issue 7) over the lab's simulator, in virtual time.  One program,
 * one scenario per run:
 *
 *   cold       a cold connect over a clean link reaches ESTABLISHED at
 *              most one round trip (plus the handshake messages'
 *              serialisation and 1 ms) later than plain mode over the
 *              same link, with exactly one initiation and one response;
 *   handshake  handshake messages lost (up to 25% each way), reordered,
 *              duplicated by the link, plus delayed copies of every
 *              handshake message injected up to 10 s later; afterwards
 *              the link stays mildly faulty (sim_draw_link, corruption
 *              included): both streams (64 KiB-2 MiB) arrive byte-exact,
 *              one connection, both sides end, the simulation goes idle,
 *              and no corrupted datagram ever reaches the TCP parser;
 *   replay     every datagram delivered during a transfer is delivered
 *              again, half from the sender's address and half from an
 *              attacker's: mid-transfer, while closing, after both
 *              connections are gone (sessions still alive) and after the
 *              keys expired.  Each copy is dropped and counted exactly
 *              once, draws no reply, delivers nothing, opens nothing,
 *              moves no timer and no peer endpoint;
 *   tamper     the test is the wire: it holds every datagram, and for the
 *              initiation, the response, the first transport message each
 *              way (SYN, SYN-ACK) and the first data message each way it
 *              flips each byte in turn (every position) before delivering
 *              the original: every copy is dropped and counted, draws no
 *              reply, delivers nothing; the original is then accepted
 *              (mac2, checked only under load as in WireGuard §5.4.7, is
 *              forged after the original: its copies are then refused
 *              as stale; the cookie scenario covers mac2 under load);
 *   silence    an unlisted client key, a wrong server key at the client,
 *              a cipher mismatch, a plain-mode client: the server sends
 *              nothing at all and the connect times out; a PSK mismatch:
 *              the server only ever sends handshake responses;
 *   rekey      a 10-minute transfer both ways over rate-limited links:
 *              at least 5 handshakes, no datagram refused by the envelope
 *              (auth failure, replay, no session); over lossless links
 *              (even seeds) no retransmission after the first 60 s (the
 *              first rekey is at 120 s) and no gap of 1 s
 *              between two deliveries to either reader, with 0.2-1%
 *              loss (odd seeds) no gap of 5 s (REKEY_MAX_GAP* say why);
 *              `--plain` runs the same streams unsealed;
 *   roam       mid-transfer the client's UDP port, IPv4 address or
 *              IPv6 address changes (datagrams to the old one vanish),
 *              while both streams flow or while the client only receives
 *              (it then says nothing until its 15 s new-handshake timer):
 *              the transfer completes byte-exact, the server's peer
 *              endpoint follows, roams == 1;
 *   cookie     a flood of initiations with valid mac1 from spoofed
 *              sources (and junk): cookie replies, never larger than
 *              their cause, only to their cause's source; the server does
 *              Diffie-Hellman for at most handshake_load of them per
 *              second (counted by wrapping crypto_scalarmult), at most
 *              4 X25519 each; junk with a bad mac1 costs none; a
 *              legitimate client connects meanwhile, following its
 *              cookie reply with mac2, and transfers byte-exact;
 *   crossed    both ends dial each other at about the same time, their
 *              initiations crossing or not: both connections within three
 *              round trips, no initiation repeated (the tie-break);
 *   aesgcm     the handshake scenario's transfer with AES-256-GCM (exit
 *              77, "skipped", without AES-NI).
 *
 * Usage: sim_sealed SCENARIO [--seed N | --seeds A:B] [-v] [-q] [--plain].
 * A failure prints the seed and the command that replays it (verbosely:
 * every datagram decoded).  libsodium's randomness is replaced by a
 * stream drawn from the seed (sealed_net.c), so a replay repeats the
 * ephemeral keys, indexes and jitter too; every fourth seed of most
 * scenarios is run twice and must give the identical event trace.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealed_world.h"

/* --plain: the plain-mode twin of a scenario (rekey only). */
int sealed_plain_twin;

/* ----------------------------------------------------------------- main */

typedef struct scenario {
  const char *name;
  scenario_fn fn;
  uint64_t seeds; /* default range [0, seeds) */
  int twice;      /* every fourth seed run twice: same trace */
} scenario;

static const scenario scenarios[] = {
    {"cold", sc_cold, 500, 1},       {"handshake", sc_handshake, 240, 1},
    {"replay", sc_replay, 120, 1},   {"tamper", sc_tamper, 150, 1},
    {"silence", sc_silence, 50, 1},  {"rekey", sc_rekey, 4, 0},
    {"roam", sc_roam, 120, 1},       {"cookie", sc_cookie, 10, 0},
    {"crossed", sc_crossed, 300, 1}, {"aesgcm", sc_aesgcm, 100, 1},
};

#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s SCENARIO [--seed N | --seeds A:B] [-v] [-q] "
          "[--plain]\n"
          "scenarios:",
          argv0);
  for (size_t i = 0; i < N_SCENARIOS; i++)
    fprintf(stderr, " %s", scenarios[i].name);
  fprintf(stderr, "\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    usage(argv[0]);
    return 2;
  }
  const scenario *sc = NULL;
  for (size_t i = 0; i < N_SCENARIOS; i++)
    if (strcmp(argv[1], scenarios[i].name) == 0)
      sc = &scenarios[i];
  if (!sc) {
    usage(argv[0]);
    return 2;
  }
  /* --plain is ours; the rest is sim_parse_args's. */
  char *rest[64];
  int nrest = 0;
  for (int i = 1; i < argc && nrest < 63; i++) {
    if (strcmp(argv[i], "--plain") == 0)
      sealed_plain_twin = 1;
    else
      rest[nrest++] = argv[i];
  }
  rest[nrest] = NULL;
  if (sealed_plain_twin && strcmp(sc->name, "rekey") != 0) {
    fprintf(stderr, "sim_sealed: --plain applies to rekey only\n");
    return 2;
  }
  sim_args a;
  if (sim_parse_args(&a, nrest, rest, sc->seeds, 0) != 0)
    return 2;
  char prog[512];
  snprintf(prog, sizeof(prog), "%s %s%s", argv[0], sc->name,
           sealed_plain_twin ? " --plain" : "");
  a.argv0 = prog;
  if (sealed_rng_install() != 0) {
    fprintf(stderr, "sim_sealed: libsodium did not start\n");
    return 1;
  }
  if (!sealed_dh_counted())
    printf("sim_sealed: X25519 operations are not counted on this "
           "toolchain (no --wrap)\n");
  uint64_t passed = 0, failed = 0, skipped = 0, max_steps = 0;
  tcpu_tstamp max_elapsed = 0;
  char last_note[160] = "";
  for (uint64_t seed = a.first; seed < a.end; seed++) {
    result res;
    memset(&res, 0, sizeof(res));
    res.v.ok = 1;
    int describe = a.single || a.verbose;
    sc->fn(seed, describe, a.verbose, &res);
    if (res.skipped) {
      skipped++;
      continue;
    }
    if (sc->twice && seed % 4 == 0 && !a.verbose) {
      result again;
      memset(&again, 0, sizeof(again));
      again.v.ok = 1;
      void **held = sim_heap_shake();
      sc->fn(seed, 0, 0, &again);
      sim_heap_unshake(held);
      if (again.hash != res.hash || again.events != res.events) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "not deterministic: a second run gave %" PRIu64
                 " events (hash %016" PRIx64 ") instead of %" PRIu64
                 " (hash %016" PRIx64 ")",
                 again.events, again.hash, res.events, res.hash);
        if (res.v.ok)
          sim_fail(&res.v, "%s", msg);
      }
    }
    if (res.steps > max_steps)
      max_steps = res.steps;
    if (res.elapsed > max_elapsed)
      max_elapsed = res.elapsed;
    if (res.note[0])
      snprintf(last_note, sizeof(last_note), "%s", res.note);
    if (res.v.ok) {
      passed++;
      if (describe) {
        char t[32];
        sim_fmt_time(t, sizeof(t), res.elapsed);
        printf("seed %" PRIu64 ": ok (virtual %s s, %" PRIu64 " steps%s%s)\n",
               seed, t, res.steps, res.note[0] ? "; " : "", res.note);
      }
    } else {
      failed++;
      char t[32];
      sim_fmt_time(t, sizeof(t), res.elapsed);
      printf("sim_sealed %s: seed %" PRIu64 " FAILED: %s [virtual %s s]\n",
             sc->name, seed, res.v.why, t);
      sim_print_replay(stdout, &a, seed);
      fflush(stdout);
    }
  }
  if (skipped && !passed && !failed) {
    printf("sim_sealed %s: skipped (AES-256-GCM is not available on this "
           "CPU)\n",
           sc->name);
    return 77;
  }
  char t[32];
  sim_fmt_time(t, sizeof(t), max_elapsed);
  printf("sim_sealed %s: %" PRIu64 " seeds passed, %" PRIu64 " failed; "
         "longest run %s s virtual, %" PRIu64 " steps%s%s\n",
         sc->name, passed, failed, t, max_steps, last_note[0] ? "; last: " : "",
         last_note);
  return failed ? 1 : 0;
}
