/*
 * main.c — pkt_runner [-v] [-t MS] FILE...: runs each packetdrill-syntax
 * script against the sans-IO core in virtual time.  Exit 0 when all pass,
 * 1 when one fails, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

static void usage(FILE *f) {
  fprintf(f, "usage: pkt_runner [-v] [-t TOLERANCE_MS] FILE...\n"
             "  -v     trace every event, segment and callback\n"
             "  -t MS  timing tolerance for outbound segments (default 4;\n"
             "         a script's %%set tolerance_ms wins)\n");
}

int main(int argc, char **argv) {
  int verbose = 0, opt, failed = 0;
  long tol_ms = -1;

  while ((opt = getopt(argc, argv, "vt:h")) != -1) {
    switch (opt) {
    case 'v':
      verbose = 1;
      break;
    case 't': {
      char *end;

      tol_ms = strtol(optarg, &end, 10);
      if (*end != '\0' || tol_ms < 0 || tol_ms > 60000) {
        usage(stderr);
        return 2;
      }
      break;
    }
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind == argc) {
    usage(stderr);
    return 2;
  }
  for (int i = optind; i < argc; i++) {
    pkt_script sc;

    if (pkt_script_load(&sc, argv[i]) != 0) {
      fprintf(stderr, "%s\n", sc.err);
      failed = 1;
    } else {
      if (tol_ms >= 0 && !sc.tolerance_set)
        sc.tolerance = (tcpu_duration)tol_ms * TCPU_NS_PER_MS;
      if (pkt_run_script(&sc, verbose) != 0)
        failed = 1;
    }
    pkt_script_free(&sc);
  }
  return failed;
}
