/*
 * rendezvous.c — `tcpu rendezvous`: the rendezvous server of issue 8 (NAT
 * traversal) on one UDP socket.
 *
 *   tcpu rendezvous --listen 203.0.113.7:7400
 *
 * Two libtcpu endpoints behind NATs register their names here from their
 * tunnel sockets and look each other up; the server tells each the other's
 * observed address and both punch through (libtcpu/nat/rendezvous.h has
 * the protocol, libtcpu/nat/rdv_server.h the rules; tcpu_uv.h's
 * tcpu_uv_rendezvous_* the client).  This file is only the I/O around the
 * sans-IO server: a UDP socket that knows which of the host's addresses
 * each request came to and answers from it (udp_pktinfo.h), polled by
 * libuv; libuv's clock, signals and logs.  Memory is
 * bounded by --max-entries; every answer is sent at once or dropped (the
 * clients retry), never queued.
 *
 * Logs go to stderr: the bound address at start (tests read the port from
 * it), each request with -v, the counters at the end (SIGINT, SIGTERM) and
 * on SIGUSR1; --json-stats prints the end counters to stdout as JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cmd.h"
#include "nat/rdv_server.h"
#include "udp_pktinfo.h"
#include "tcpu/tcpu_uv.h"
#include "tcpud/addr.h"

/* Requests are 128 or 256 bytes; room enough to see that a datagram is
 * longer (it is counted as truncated and dropped). */
#define RDV_RECV_BUF 2048
/* Datagrams read per readable event before the loop gets a turn. */
#define RDV_RECV_BATCH 64

typedef struct rdv_cli {
  uv_loop_t *loop;
  udp_pktinfo sock;
  uv_poll_t poll;
  uv_signal_t sigint, sigterm, sigusr1;
  tcpu_rdv_server srv;
  uint64_t send_errors, truncated;
  uint64_t t_start;
  unsigned verbose : 1, json : 1, stopping : 1;
  char rbuf[RDV_RECV_BUF];
} rdv_cli;

static const char usage_text[] =
    "usage: tcpu rendezvous --listen ADDR:PORT [--max-entries N] "
    "[--json-stats] [-v]\n"
    "\n"
    "A rendezvous server for libtcpu endpoints behind NATs: each registers\n"
    "a name from its tunnel socket; a lookup tells both peers each other's\n"
    "observed UDP address so they can punch through and connect\n"
    "(tcpu_uv_rendezvous_connect).  The server needs a public address; the\n"
    "peers do not.\n"
    "\n"
    "  --listen ADDR:PORT  UDP address to serve on (0.0.0.0 or [::]: every\n"
    "                      address; each request is answered from the\n"
    "                      address it came to); port 0 picks one, printed\n"
    "                      on stderr\n"
    "  --max-entries N     registrations held at most (default 4096,\n"
    "                      rounded up to a power of two)\n"
    "  --json-stats        print the counters as JSON on stdout at exit\n"
    "  -v                  log every request on stderr\n"
    "\n"
    "Registrations expire 60 s after their last refresh (clients refresh\n"
    "every 15 s).  SIGUSR1 logs the counters; SIGINT or SIGTERM stops.\n";

void tcpu_usage_rendezvous(FILE *f) { fputs(usage_text, f); }

static uint64_t registrations(const rdv_cli *r) {
  return tcpu_rdv_server_count(&r->srv, uv_hrtime());
}

static void log_stats(const rdv_cli *r) {
  const tcpu_rdv_server_stats *s = &r->srv.stats;

  fprintf(stderr,
          "tcpu rendezvous: %" PRIu64 " registrations; received %" PRIu64
          " (malformed %" PRIu64 ", rate-limited %" PRIu64
          ", truncated %" PRIu64 "), registers %" PRIu64 " (table full %" PRIu64 "), lookups %" PRIu64
          " (found %" PRIu64 ", not found %" PRIu64 ", unregistered %" PRIu64
          "), sent %" PRIu64 " (errors %" PRIu64 ")\n",
          registrations(r), s->received, s->malformed, s->ratelimited,
          r->truncated, s->registers, s->table_full, s->lookups, s->found,
          s->not_found, s->unregistered, s->sent, r->send_errors);
}

static void print_json(const rdv_cli *r) {
  const tcpu_rdv_server_stats *s = &r->srv.stats;

  printf("{\"uptime_s\":%.3f,\"registrations\":%" PRIu64
         ",\"received\":%" PRIu64 ",\"bytes_received\":%" PRIu64
         ",\"malformed\":%" PRIu64 ",\"ratelimited\":%" PRIu64
         ",\"truncated\":%" PRIu64 ",\"registers\":%" PRIu64
         ",\"table_full\":%" PRIu64 ",\"lookups\":%" PRIu64
         ",\"found\":%" PRIu64 ",\"not_found\":%" PRIu64
         ",\"unregistered\":%" PRIu64 ",\"sent\":%" PRIu64
         ",\"bytes_sent\":%" PRIu64 ",\"send_errors\":%" PRIu64 "}\n",
         (double)(uv_hrtime() - r->t_start) / 1e9, registrations(r),
         s->received, s->bytes_received, s->malformed, s->ratelimited,
         r->truncated, s->registers, s->table_full, s->lookups, s->found,
         s->not_found, s->unregistered, s->sent, s->bytes_sent,
         r->send_errors);
  fflush(stdout);
}

/* With -v: what the request was and what came of it. */
static void log_request(const rdv_cli *r, const tcpu_addr *from,
                        const uint8_t *d, size_t len,
                        const tcpu_rdv_reply *out, int n) {
  char a[TCPUD_ADDRSTRLEN], b[TCPUD_ADDRSTRLEN];
  tcpu_rdv_msg m, ans;

  (void)r;
  tcpud_addr_format(from, 1, a, sizeof(a));
  if (tcpu_rdv_decode(&m, d, len) != 0 || n == 0) {
    fprintf(stderr, "tcpu rendezvous: %s: dropped %zu bytes\n", a, len);
    return;
  }
  if (m.type == TCPU_RDV_REGISTER) {
    fprintf(stderr, "tcpu rendezvous: %s registers \"%s\"\n", a, m.name.s);
    return;
  }
  if (tcpu_rdv_decode(&ans, out[n - 1].buf, out[n - 1].len) != 0)
    return; /* the answer is the last (rdv_server.h) */
  if (ans.type == TCPU_RDV_PEER)
    fprintf(stderr,
            "tcpu rendezvous: %s: \"%s\" looks up \"%s\": at %s, pushed\n", a,
            m.name.s, m.peer.s, tcpud_addr_format(&ans.addr, 1, b, sizeof(b)));
  else
    fprintf(stderr, "tcpu rendezvous: %s: \"%s\" looks up \"%s\": not found\n",
            a, m.name.s, m.peer.s);
}

/* Every answer leaves at once or is dropped (the clients retry). */
static void send_reply(rdv_cli *r, const tcpu_rdv_reply *rep) {
  if (udp_pktinfo_send(&r->sock, &rep->to, &rep->from, rep->buf,
                       rep->len) != 0)
    r->send_errors++;
}

static void on_readable(uv_poll_t *h, int status, int events) {
  rdv_cli *r = h->data;
  tcpu_rdv_reply out[2];
  tcpu_addr from, local;
  uint8_t *buf = (uint8_t *)r->rbuf;

  if (status < 0 || !(events & UV_READABLE) || r->stopping)
    return;
  for (int k = 0; k < RDV_RECV_BATCH; k++) {
    int truncated = 0, n;
    ssize_t len = udp_pktinfo_recv(&r->sock, buf, sizeof(r->rbuf),
                                   &truncated, &from, &local);
    if (len == -EAGAIN)
      return;
    if (len < 0 || from.family == 0)
      continue; /* an error the next datagram does not share */
    if (truncated) {
      r->truncated++;
      continue;
    }
    n = tcpu_rdv_server_recv_at(&r->srv, &from, &local, buf, (size_t)len,
                                out, uv_hrtime());
    if (r->verbose)
      log_request(r, &from, buf, (size_t)len, out, n);
    for (int i = 0; i < n; i++)
      send_reply(r, &out[i]);
  }
}

static void stop(rdv_cli *r) {
  if (r->stopping)
    return;
  r->stopping = 1;
  log_stats(r);
  if (r->json)
    print_json(r);
  uv_close((uv_handle_t *)&r->poll, NULL);
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
  uv_close((uv_handle_t *)&r->sigusr1, NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
  rdv_cli *r = h->data;

  if (signum == SIGUSR1) {
    log_stats(r);
    return;
  }
  fprintf(stderr, "tcpu rendezvous: %s, stopping\n",
          signum == SIGINT ? "interrupted" : "terminated");
  stop(r);
}

static int usage_err(const char *msg, const char *arg) {
  fprintf(stderr, "tcpu rendezvous: ");
  fprintf(stderr, msg, arg);
  fprintf(stderr, "\n`tcpu rendezvous --help` describes the options\n");
  return 2;
}

static int parse_args(rdv_cli *r, int argc, char **argv, tcpu_addr *bind,
                      size_t *max_entries) {
  const char *listen_s = NULL;
  char err[300];
  tcpud_hostport hp;

  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *max_s = NULL;
    int k = 0;

    if (strcmp(o, "-v") == 0) {
      r->verbose = 1;
    } else if (strcmp(o, "--json-stats") == 0) {
      r->json = 1;
    } else if ((k = tcpu_opt("rendezvous", argc, argv, &i, "--listen",
                             &listen_s)) ||
               (k = tcpu_opt("rendezvous", argc, argv, &i, "--max-entries",
                             &max_s))) {
      if (k < 0)
        return 2;
      if (max_s != NULL) {
        char *end;
        unsigned long long v = strtoull(max_s, &end, 10);
        if (*max_s == '\0' || *end != '\0' || v < 1 || v > (1u << 24))
          return usage_err("--max-entries: '%s' is not 1..16777216", max_s);
        *max_entries = (size_t)v;
      }
    } else {
      return usage_err("unknown argument '%s'", o);
    }
  }
  if (listen_s == NULL)
    return usage_err("%s", "--listen ADDR:PORT is required");
  if (tcpud_hostport_parse(&hp, listen_s, TCPUD_HP_PORT_ZERO, err,
                           sizeof(err)) != 0 ||
      tcpud_ip_parse(bind, hp.host) != 0)
    return usage_err("--listen: expected IP:PORT, not '%s'", listen_s);
  bind->port = hp.port;
  return 0;
}

int tcpu_cmd_rendezvous(int argc, char **argv) {
  static rdv_cli r;
  tcpu_addr bind;
  size_t max_entries = 0;
  struct sockaddr_storage ss;
  socklen_t len;
  int rv;
  char a[TCPUD_ADDRSTRLEN];

  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      tcpu_usage_rendezvous(stdout);
      return 0;
    }
  memset(&r, 0, sizeof(r));
  rv = parse_args(&r, argc, argv, &bind, &max_entries);
  if (rv != 0)
    return rv;
  if (tcpu_rdv_server_init(&r.srv, max_entries, 0, 0, NULL) != 0) {
    fprintf(stderr, "tcpu rendezvous: out of memory\n");
    return 1;
  }
  r.loop = uv_default_loop();
  r.t_start = uv_hrtime();
  tcpu_uv_addr_to_sockaddr(&ss, &len, &bind);
  rv = udp_pktinfo_open(&r.sock, (struct sockaddr *)&ss, len);
  if (rv == 0 && getsockname(r.sock.fd, (struct sockaddr *)&ss, &len) != 0)
    rv = -errno;
  if (rv == 0)
    rv = uv_poll_init(r.loop, &r.poll, r.sock.fd);
  if (rv == 0) {
    r.poll.data = &r;
    rv = uv_poll_start(&r.poll, UV_READABLE, on_readable);
    if (rv != 0)
      uv_close((uv_handle_t *)&r.poll, NULL);
  }
  if (rv != 0) {
    fprintf(stderr, "tcpu rendezvous: UDP %s: %s\n",
            tcpud_addr_format(&bind, 1, a, sizeof(a)), uv_strerror(rv));
    uv_run(r.loop, UV_RUN_DEFAULT);
    udp_pktinfo_close(&r.sock);
    tcpu_rdv_server_free(&r.srv);
    return 1;
  }
  tcpu_uv_addr_from_sockaddr(&bind, (struct sockaddr *)&ss);
  fprintf(stderr, "tcpu rendezvous: listening on %s\n",
          tcpud_addr_format(&bind, 1, a, sizeof(a)));
  uv_signal_init(r.loop, &r.sigint);
  uv_signal_init(r.loop, &r.sigterm);
  uv_signal_init(r.loop, &r.sigusr1);
  r.sigint.data = r.sigterm.data = r.sigusr1.data = &r;
  uv_signal_start(&r.sigint, on_signal, SIGINT);
  uv_signal_start(&r.sigterm, on_signal, SIGTERM);
  uv_signal_start(&r.sigusr1, on_signal, SIGUSR1);
  uv_run(r.loop, UV_RUN_DEFAULT);
  uv_loop_close(r.loop);
  udp_pktinfo_close(&r.sock);
  tcpu_rdv_server_free(&r.srv);
  return 0;
}
