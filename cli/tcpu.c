/*
 * tcpu.c — the `tcpu` command: `tcpu <command> [arguments]`.  Each
 * command lives in cli/<command>.c; this file only dispatches and prints
 * the overall help.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

#ifndef TCPU_VERSION
#define TCPU_VERSION "unknown"
#endif

/* One line per command, in the order `tcpu help` lists them. */
static const tcpu_cmd cmds[] = {
    {"lab", "congestion-control experiments over a simulated link, in "
            "virtual time",
     tcpu_cmd_lab, tcpu_usage_lab},
    {"netem", "relay UDP between two addresses through the same link "
              "model, in real time",
     tcpu_cmd_netem, tcpu_usage_netem},
    {"show", "the state of a running tcpud: peers and connections, like "
             "ss -ti",
     tcpu_cmd_show, tcpu_usage_show},
    {"cat", "netcat over libtcpu: stdin and stdout over one tunnel "
            "connection",
     tcpu_cmd_cat, tcpu_usage_cat},
    {"genkey", "a new private key for sealed mode (base64, as wg)",
     tcpu_cmd_genkey, tcpu_usage_genkey},
    {"pubkey", "the public key of the private key on stdin", tcpu_cmd_pubkey,
     tcpu_usage_pubkey},
    {"genpsk", "a new pre-shared key for sealed mode", tcpu_cmd_genpsk,
     tcpu_usage_genpsk},
    {"rendezvous", "a rendezvous server: peers behind NATs learn each "
                   "other's address",
     tcpu_cmd_rendezvous, tcpu_usage_rendezvous},
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static const tcpu_cmd *find(const char *name) {
  for (size_t i = 0; i < N_CMDS; i++)
    if (strcmp(cmds[i].name, name) == 0)
      return &cmds[i];
  return NULL;
}

static void usage(FILE *f) {
  fprintf(f, "usage: tcpu <command> [arguments]\n"
             "       tcpu help [command]\n"
             "       tcpu --version\n\ncommands:\n");
  for (size_t i = 0; i < N_CMDS; i++)
    fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
  fprintf(f, "\n`tcpu <command> --help` describes a command.\n");
}

int tcpu_opt(const char *cmd, int argc, char **argv, int *i,
             const char *name, const char **val) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0)
    return 0;
  if (a[n] == '=') {
    *val = a + n + 1;
    return 1;
  }
  if (a[n] != 0)
    return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "tcpu %s: %s needs a value\n", cmd, name);
    return -1;
  }
  *val = argv[++*i];
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *name = argv[1];
  if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 ||
      strcmp(name, "-h") == 0) {
    if (argc > 2 && strcmp(name, "help") == 0) {
      const tcpu_cmd *c = find(argv[2]);
      if (!c) {
        fprintf(stderr, "tcpu: no command \"%s\"; `tcpu help` lists them\n",
                argv[2]);
        return 2;
      }
      c->usage(stdout);
      return 0;
    }
    usage(stdout);
    return 0;
  }
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    printf("tcpu %s\n", TCPU_VERSION);
    return 0;
  }
  const tcpu_cmd *c = find(name);
  if (!c) {
    fprintf(stderr, "tcpu: no command \"%s\"; `tcpu help` lists them\n",
            name);
    return 2;
  }
  return c->run(argc - 1, argv + 1);
}
