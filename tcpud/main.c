/*
 * main.c — tcpud: the command line, the loop, the signals.
 *
 *   tcpud -c FILE [--log-level L] [--syslog] [--socket PATH] [--pcap FILE]
 *   tcpud --check-config FILE
 *   tcpud --listen 7000 --service 80=127.0.0.1:8080       (one-line flags)
 *   tcpud --peer HOST:7000 -L 8080:80
 *   tcpud --mode sealed --private-key FILE --peer HOST:7000 --public-key KEY
 *         -L 8080:80
 *   tcpud --rendezvous HOST:7400 --name alice --peer bob=rendezvous
 *         -L 8080:80                                 (both behind NATs)
 *
 * Exit codes: 0 after an orderly stop (SIGTERM/SIGINT drained), 1 on a
 * run-time failure, 2 for a bad command line, 3 for a bad configuration.
 * tcpud(8) has the whole story.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <sodium.h>

#include "tcpud/daemon.h"

typedef struct options {
  const char *config; /* -c */
  int argc;           /* the tunnel flags, for (re)loading: */
  const char **argv;  /* flag, value, flag, value, ... */
  int log_level;      /* -1: from the configuration */
  int use_syslog;     /* -1: from the configuration */
  const char *socket; /* NULL: from the configuration */
  const char *pcap;   /* NULL: from the configuration */
} options;

static const char usage_text[] =
    "usage: tcpud -c FILE [OPTIONS]\n"
    "       tcpud --check-config FILE\n"
    "       tcpud [TUNNEL FLAGS] [OPTIONS]\n"
    "\n"
    "Tunnels TCP ports between hosts over libtcpu (TCP in UDP).\n"
    "\n"
    "  -c, --config FILE      run from a configuration file, tcpud.conf(5)\n"
    "  --check-config FILE    check FILE, print its problems, exit 0 or 3\n"
    "\n"
    "Tunnel flags, instead of a file:\n"
    "  --listen [ADDR:]PORT   UDP address of the tunnel (default: any\n"
    "                         address, an ephemeral port)\n"
    "  --peer [NAME=]HOST:PORT  a peer (the first one is named \"peer\");\n"
    "                         sealed mode: --peer NAME, a peer without an\n"
    "                         address (it connects in); NAME=rendezvous:\n"
    "                         found through --rendezvous\n"
    "  --public-key KEY       sealed mode: the last --peer's public key\n"
    "  --preshared-key FILE   sealed mode: the last --peer's pre-shared key\n"
    "  --persistent-keepalive SECS\n"
    "                         keep NAT mappings towards the last --peer\n"
    "                         open (25 is a good value behind a NAT)\n"
    "  --rendezvous-name NAME the last --peer is found through the\n"
    "                         rendezvous under NAME (default: sealed, its\n"
    "                         public key; plain, its NAME)\n"
    "  --rendezvous HOST:PORT a rendezvous server (tcpu rendezvous): this\n"
    "                         host registers there, and finds the peers\n"
    "                         given as --peer NAME=rendezvous\n"
    "  --name NAME            the name registered there (sealed mode:\n"
    "                         default our public key; plain: required)\n"
    "  -L [BIND:]PORT:SERVICE[@PEER]\n"
    "                         listen on BIND:PORT (BIND 127.0.0.1) and\n"
    "                         forward to the peer's service SERVICE\n"
    "  -R [BIND:]PORT:HOST:HOSTPORT[@PEER]\n"
    "                         the peer listens on BIND:PORT (127.0.0.1);\n"
    "                         its connections come back to HOST:HOSTPORT\n"
    "  --service PORT=[HOST:]TARGET[@PEER,...]\n"
    "                         serve tunnel port PORT from HOST:TARGET\n"
    "                         (HOST 127.0.0.1) to the peers named (any)\n"
    "  --allow-reverse SPEC   let peers ask for -R listeners: *, PORT,\n"
    "                         LOW-HIGH or ADDR:PORT, comma-separated\n"
    "  --cc NAME              congestion control: cubic, newreno, bbr,\n"
    "                         ledbat\n"
    "  --mtu BYTES            path MTU (1500)\n"
    "  --max-connections N    forwarded connections at once (1024)\n"
    "  --drain-timeout SECS   how long SIGTERM waits at most (10)\n"
    "  --mode plain|sealed    sealed: authenticated encryption (Noise IK),\n"
    "                         peers known by their keys\n"
    "  --private-key FILE     sealed mode: this host's key, from a file\n"
    "                         (tcpu genkey > FILE)\n"
    "  --cipher NAME          sealed mode: chachapoly (default) or aesgcm\n"
    "\n"
    "Options:\n"
    "  --log-level LEVEL      error, warning, notice, info (default), debug\n"
    "  --syslog               log to syslog instead of stderr\n"
    "  --socket PATH|off      control socket (default\n"
    "                         $XDG_RUNTIME_DIR/tcpud.sock, else\n"
    "                         /run/tcpud.sock)\n"
    "  --pcap FILE            write every tunnelled segment to FILE as\n"
    "                         TCP/IP (pcap, for Wireshark and tshark)\n"
    "  -h, --help             this text\n"
    "  -V, --version          the version\n"
    "\n"
    "Signals: SIGHUP reloads; SIGTERM or SIGINT drain and stop (a second\n"
    "one stops at once).  Exit status: 0 stopped, 1 run-time failure,\n"
    "2 usage, 3 bad configuration.  `tcpu show` prints the state.\n";

static void usage(FILE *f) { fputs(usage_text, f); }

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "tcpud: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'tcpud --help'.\n");
  return TCPUD_EXIT_USAGE;
}

/* The tunnel flags (each takes a value), in their static spelling: the
 * name of "--name=value" is on the stack. */
static const char *const tunnel_flags[] = {"--listen",
                                           "--peer",
                                           "-L",
                                           "--local",
                                           "-R",
                                           "--reverse",
                                           "--service",
                                           "--allow-reverse",
                                           "--cc",
                                           "--mtu",
                                           "--max-connections",
                                           "--drain-timeout",
                                           "--mode",
                                           "--private-key",
                                           "--cipher",
                                           "--public-key",
                                           "--preshared-key",
                                           "--persistent-keepalive",
                                           "--rendezvous",
                                           "--name",
                                           "--rendezvous-name",
                                           NULL};

/* The entry of v spelt o, or NULL. */
static const char *find_flag(const char *const *v, const char *o) {
  for (int i = 0; v[i]; i++)
    if (strcmp(o, v[i]) == 0)
      return v[i];
  return NULL;
}

/* Options that take a value: the tunnel flags and these. */
static int takes_value(const char *o) {
  static const char *const v[] = {"-c",          "--config", "--check-config",
                                  "--log-level", "--socket", "--pcap",
                                  NULL};
  return find_flag(tunnel_flags, o) != NULL || find_flag(v, o) != NULL;
}

/* A tunnel flag's static spelling. */
static const char *canonical_flag(const char *name) {
  const char *f = find_flag(tunnel_flags, name);
  return f ? f : "?";
}

static int apply_overrides(const options *o, tcpud_config *cfg) {
  if (o->log_level >= 0)
    cfg->log_level = o->log_level;
  if (o->use_syslog >= 0)
    cfg->log_syslog = o->use_syslog;
  if (o->socket != NULL) {
    free(cfg->control_socket);
    cfg->control_socket =
        strdup(strcmp(o->socket, "off") == 0 ? "" : o->socket);
  }
  if (o->pcap != NULL) {
    free(cfg->pcap_file);
    cfg->pcap_file = strdup(o->pcap);
  }
  return 0;
}

/* Builds the configuration from the file or from the tunnel flags. */
static int load(tcpud *d, tcpud_config *cfg) {
  const options *o = d->load_arg;
  int rv;

  if (o->config != NULL) {
    rv = tcpud_config_load_file(cfg, o->config);
  } else {
    for (int i = 0; i < o->argc; i += 2)
      tcpud_config_flag(cfg, o->argv[i], o->argv[i + 1]);
    rv = tcpud_config_finish(cfg);
  }
  apply_overrides(o, cfg);
  return rv;
}

static void print_problems(const tcpud_config *cfg) {
  for (size_t i = 0; i < cfg->n_errors; i++)
    fprintf(stderr, "tcpud: %s\n", cfg->errors[i]);
  for (size_t i = 0; i < cfg->n_warnings; i++)
    fprintf(stderr, "tcpud: warning: %s\n", cfg->warnings[i]);
}

static int check_config(const char *path) {
  tcpud_config cfg;
  int rv;

  tcpud_config_init(&cfg);
  rv = tcpud_config_load_file(&cfg, path);
  print_problems(&cfg);
  if (rv != 0)
    fprintf(stderr, "tcpud: %s: %zu problem%s\n", path, cfg.error_count,
            cfg.error_count == 1 ? "" : "s");
  else {
    size_t n_svc = 0;
    for (size_t i = 0; i < cfg.n_services; i++)
      n_svc += cfg.services[i].reverse_of < 0;
    printf("%s: ok (%zu peer%s, %zu service%s, %zu forward%s)\n", path,
           cfg.n_peers, cfg.n_peers == 1 ? "" : "s", n_svc,
           n_svc == 1 ? "" : "s", cfg.n_forwards,
           cfg.n_forwards == 1 ? "" : "s");
  }
  tcpud_config_free(&cfg);
  return rv != 0 ? TCPUD_EXIT_CONFIG : TCPUD_EXIT_OK;
}

static void on_signal(uv_signal_t *h, int signum) {
  tcpud *d = h->data;

  if (signum == SIGHUP) {
    tcpud_log(LOG_NOTICE, "SIGHUP: reloading");
    tcpud_reload(d);
  } else {
    tcpud_log(LOG_NOTICE, "%s: stopping",
              signum == SIGTERM ? "SIGTERM" : "SIGINT");
    tcpud_drain(d);
  }
}

/* Each forwarded connection holds a socket: use every descriptor the hard
 * limit allows (the soft limit is often 1024). */
static void raise_nofile(void) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* Parses the command line into *o; returns -1 to go on, else the exit
 * status (help, version, --check-config, usage errors). */
static int parse_args(options *o, int argc, char **argv) {
  int n_tunnel = 0;

  for (int i = 1; i < argc; i++) {
    char *opt = argv[i], *val = NULL, *eq;
    char name[64];

    if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
      usage(stdout);
      return TCPUD_EXIT_OK;
    }
    if (strcmp(opt, "-V") == 0 || strcmp(opt, "--version") == 0) {
      printf("tcpud %s\n", TCPUD_VERSION);
      return TCPUD_EXIT_OK;
    }
    if (strcmp(opt, "--syslog") == 0) {
      o->use_syslog = 1;
      continue;
    }
    /* --name=value */
    snprintf(name, sizeof(name), "%s", opt);
    if (strncmp(opt, "--", 2) == 0 && (eq = strchr(name, '=')) != NULL) {
      *eq = '\0';
      val = opt + (eq - name) + 1;
    }
    if (!takes_value(name))
      return usage_error("unknown option '%s'", opt);
    if (val == NULL) {
      if (i + 1 >= argc)
        return usage_error("%s needs a value", opt);
      val = argv[++i];
    }
    if (strcmp(name, "--check-config") == 0) {
      tcpud_log_init("tcpud", 0, LOG_WARNING);
      return check_config(val);
    } else if (strcmp(name, "-c") == 0 || strcmp(name, "--config") == 0) {
      o->config = val;
    } else if (strcmp(name, "--log-level") == 0) {
      if ((o->log_level = tcpud_log_level_parse(val)) < 0)
        return usage_error("--log-level: unknown level '%s'", val);
    } else if (strcmp(name, "--socket") == 0) {
      if (strcmp(val, "off") != 0 && val[0] != '/')
        return usage_error("--socket: '%s' is not an absolute path", val);
      o->socket = val;
    } else if (strcmp(name, "--pcap") == 0) {
      o->pcap = val;
    } else {
      o->argv[o->argc++] = canonical_flag(name);
      o->argv[o->argc++] = val;
      n_tunnel++;
    }
  }
  if (o->config != NULL && n_tunnel > 0)
    return usage_error("%s", "use either a configuration file (-c) or tunnel "
                             "flags, not both");
  if (o->config == NULL && n_tunnel == 0) {
    usage(stderr);
    return TCPUD_EXIT_USAGE;
  }
  return -1;
}

int main(int argc, char **argv) {
  static tcpud d;
  options o;
  int rv;

  /* First: --check-config reads keys too. */
  if (sodium_init() < 0) {
    fprintf(stderr, "tcpud: libsodium failed to initialise\n");
    return TCPUD_EXIT_FAILURE;
  }
  memset(&o, 0, sizeof(o));
  o.log_level = -1;
  o.use_syslog = -1;
  o.argv = calloc((size_t)argc * 2 + 1, sizeof(char *));
  if (o.argv == NULL)
    return TCPUD_EXIT_FAILURE;
  rv = parse_args(&o, argc, argv);
  if (rv >= 0) {
    free(o.argv);
    return rv;
  }

  tcpud_log_init("tcpud", 0, TCPUD_LOG_DEFAULT);
  d.loop = uv_default_loop();
  d.config_path = o.config;
  d.load = load;
  d.load_arg = &o;
  tcpud_config_init(&d.cfg);
  if (load(&d, &d.cfg) != 0) {
    print_problems(&d.cfg);
    tcpud_config_free(&d.cfg);
    free(o.argv);
    return TCPUD_EXIT_CONFIG;
  }
  tcpud_log_init("tcpud", d.cfg.log_syslog, d.cfg.log_level);
  for (size_t i = 0; i < d.cfg.n_warnings; i++)
    tcpud_log(LOG_WARNING, "%s", d.cfg.warnings[i]);
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();

  uv_signal_init(d.loop, &d.sig_hup);
  uv_signal_init(d.loop, &d.sig_term);
  uv_signal_init(d.loop, &d.sig_int);
  d.sig_hup.data = d.sig_term.data = d.sig_int.data = &d;
  uv_signal_start(&d.sig_hup, on_signal, SIGHUP);
  uv_signal_start(&d.sig_term, on_signal, SIGTERM);
  uv_signal_start(&d.sig_int, on_signal, SIGINT);

  d.exit_code = TCPUD_EXIT_OK;
  tcpud_start(&d);
  uv_run(d.loop, UV_RUN_DEFAULT);
  rv = d.exit_code;
  if (rv == TCPUD_EXIT_OK)
    tcpud_log(LOG_NOTICE, "stopped");
  uv_loop_close(d.loop);
  tcpud_config_free(&d.cfg);
  tcpud_log_close();
  free(o.argv);
  return rv;
}
