/*
 * cmd.h — the subcommands of the `tcpu` command (tcpu.c dispatches).
 *
 * A subcommand is a function run(argc, argv) with argv[0] its own name,
 * and a usage printer.  It returns the process exit status: 0 success,
 * 1 failure at run time, 2 a usage error (after printing the reason and
 * a hint to stderr).  `--help` / `-h` print the usage to stdout and return
 * 0.  Adding one is a file cli/<name>.c and a line in tcpu.c's table.
 */
#ifndef TCPU_CLI_CMD_H
#define TCPU_CLI_CMD_H

#include <stdio.h>

typedef struct tcpu_cmd {
  const char *name;
  const char *summary; /* one line for `tcpu help` */
  int (*run)(int argc, char **argv);
  void (*usage)(FILE *f);
} tcpu_cmd;

int tcpu_cmd_lab(int argc, char **argv);
void tcpu_usage_lab(FILE *f);
int tcpu_cmd_netem(int argc, char **argv);
void tcpu_usage_netem(FILE *f);
int tcpu_cmd_show(int argc, char **argv);
void tcpu_usage_show(FILE *f);
int tcpu_cmd_cat(int argc, char **argv);
void tcpu_usage_cat(FILE *f);
int tcpu_cmd_genkey(int argc, char **argv);
void tcpu_usage_genkey(FILE *f);
int tcpu_cmd_pubkey(int argc, char **argv);
void tcpu_usage_pubkey(FILE *f);
int tcpu_cmd_genpsk(int argc, char **argv);
void tcpu_usage_genpsk(FILE *f);
int tcpu_cmd_rendezvous(int argc, char **argv);
void tcpu_usage_rendezvous(FILE *f);

/* Shared option handling: for argv[*i] equal to `name` or starting with
 * `name=`, sets *val to the value (the next argument, or what follows
 * '=') and advances *i; returns 1.  Returns 0 when the option is another
 * one, -1 (after printing an error) when its value is missing. */
int tcpu_opt(const char *cmd, int argc, char **argv, int *i,
             const char *name, const char **val);

#endif /* TCPU_CLI_CMD_H */
