/*
 * netem.c — `tcpu netem`: a real-time UDP relay through the lab's link
 * model, the user-space cousin of `tc qdisc add ... netem`:
 *
 *   tcpu netem --listen 127.0.0.1:7001 --to 127.0.0.1:7000 \
 *              --link rate=10mbit,delay=20ms,loss=0.01
 *
 * Datagrams a client sends to the listen address go through one link
 * (client -> server) and leave from a second socket towards --to; what
 * the server sends back to that socket goes through the other link
 * (server -> client) and out of the listen socket to the client.  One
 * client at a time: replies go to the address the latest datagram came
 * from, like a connected UDP socket.  Time is libuv's clock; deliveries
 * are timed by a libuv timer, so they are late by up to a millisecond.
 * Memory is bounded by the link's queue limits and --max-held.
 *
 * Counters are printed when the relay stops: at --duration, on SIGINT or
 * SIGTERM.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cmd.h"
#include "linkspec.h"

#define DEFAULT_MAX_HELD 4096
#define DGRAM_MAX 65536

void tcpu_usage_netem(FILE *f) {
  fprintf(f,
          "usage: tcpu netem --listen ADDR:PORT --to ADDR:PORT --link SPEC\n"
          "                  [--rev-link SPEC] [--duration TIME] [--seed N]\n"
          "                  [--max-held N]\n"
          "\n"
          "Relays UDP datagrams from clients of --listen to --to and the "
          "replies\nback, each direction through the lab's link model in "
          "real time.\n"
          "\n"
          "--listen ADDR:PORT  where clients send (port 0: any; the "
          "address is\n"
          "                    printed); IPv6 as [::1]:7001\n"
          "--to ADDR:PORT      the server\n"
          "--link SPEC         the client->server direction, "
          "key=value[,...]:\n%s"
          "--rev-link SPEC     the server->client direction; default: "
          "rate, delay,\n"
          "                    queue, aqm, trace and overhead of --link, "
          "no faults\n"
          "--duration TIME     stop after this long (default: at SIGINT)\n"
          "--seed N            seed of the link's randomness (default 1)\n"
          "--max-held N        datagrams held per direction at most "
          "(default %d)\n"
          "\nCounters are printed when the relay stops.\n",
          lab_link_help, DEFAULT_MAX_HELD);
}

typedef struct dir_stats {
  uint64_t received, sent, send_errors, no_client, foreign;
} dir_stats;

typedef struct relay {
  uv_loop_t *loop;
  uv_udp_t front, back;
  uv_timer_t timer, stop_timer;
  uv_signal_t sigint, sigterm;
  tcpu_link link[2]; /* 0: client -> server, 1: server -> client */
  dir_stats st[2];
  struct sockaddr_storage to, client;
  int have_client;
  uint8_t rbuf[DGRAM_MAX];
  uint8_t sbuf[DGRAM_MAX];
  uint64_t t_start;
  int stopping;
} relay;

static int parse_addr(const char *s, struct sockaddr_storage *ss,
                      int allow_port0) {
  char host[256];
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s)
    return -1;
  size_t hl = (size_t)(colon - s);
  const char *h = s;
  if (s[0] == '[') {
    if (hl < 2 || s[hl - 1] != ']')
      return -1;
    h = s + 1;
    hl -= 2;
  }
  if (hl == 0 || hl >= sizeof(host))
    return -1;
  memcpy(host, h, hl);
  host[hl] = 0;
  uint64_t port;
  char err[64];
  if (lab_parse_u64(colon + 1, 65535, &port, err, sizeof(err)) != 0 ||
      (port == 0 && !allow_port0))
    return -1;
  memset(ss, 0, sizeof(*ss));
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
    return 0;
  if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
    return 0;
  return -1;
}

static void fmt_addr(const struct sockaddr *sa, char *out, size_t len) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    uv_ip4_name(a, ip, sizeof(ip));
    port = ntohs(a->sin_port);
    snprintf(out, len, "%s:%d", ip, port);
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    uv_ip6_name(a, ip, sizeof(ip));
    port = ntohs(a->sin6_port);
    snprintf(out, len, "[%s]:%d", ip, port);
  }
}

static int same_addr(const struct sockaddr *a, const struct sockaddr *b) {
  if (a->sa_family != b->sa_family)
    return 0;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port &&
         memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static void print_counters(relay *r) {
  static const char *const names[2] = {"client->server", "server->client"};
  double secs = (double)(uv_hrtime() - r->t_start) / 1e9;
  printf("tcpu netem: stopped after %.3f s\n", secs);
  for (int d = 0; d < 2; d++) {
    const tcpu_link_stats *ls = &r->link[d].stats;
    const dir_stats *s = &r->st[d];
    printf("%s: received=%" PRIu64 " sent=%" PRIu64 " lost=%" PRIu64
           " tail_drops=%" PRIu64 " aqm_drops=%" PRIu64
           " duplicated=%" PRIu64 " reordered=%" PRIu64 " corrupted=%" PRIu64
           " send_errors=%" PRIu64 " held=%zu",
           names[d], s->received, s->sent, ls->lost, ls->dropped_queue,
           ls->dropped_aqm, ls->duplicated, ls->reordered, ls->corrupted,
           s->send_errors, tcpu_link_held(&r->link[d]));
    if (d == 0)
      printf("\n");
    else
      printf(" no_client=%" PRIu64 " foreign=%" PRIu64 "\n", s->no_client,
             s->foreign);
  }
  fflush(stdout);
}

static void on_close(uv_handle_t *h) { (void)h; }

/* Closes every handle that was initialised (calloc left the others with
 * a NULL loop). */
static void close_all(relay *r) {
  uv_handle_t *hs[] = {(uv_handle_t *)&r->front,  (uv_handle_t *)&r->back,
                       (uv_handle_t *)&r->timer,  (uv_handle_t *)&r->stop_timer,
                       (uv_handle_t *)&r->sigint, (uv_handle_t *)&r->sigterm};
  r->stopping = 1;
  for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
    if (hs[i]->loop && !uv_is_closing(hs[i]))
      uv_close(hs[i], on_close);
}

static void stop(relay *r) {
  if (r->stopping)
    return;
  print_counters(r);
  close_all(r);
}

static void on_timer(uv_timer_t *t);

/* Delivers what is due and re-arms the timer for the next arrival. */
static void pump(relay *r) {
  if (r->stopping)
    return;
  uint64_t now = uv_hrtime();
  for (int d = 0; d < 2; d++) {
    for (;;) {
      size_t len = 0;
      int rc = tcpu_link_dequeue(&r->link[d], now, r->sbuf, sizeof(r->sbuf),
                                 &len);
      if (rc <= 0)
        break;
      const struct sockaddr *dst;
      uv_udp_t *sock;
      if (d == 0) {
        dst = (const struct sockaddr *)&r->to;
        sock = &r->back;
      } else {
        if (!r->have_client) {
          r->st[d].no_client++;
          continue;
        }
        dst = (const struct sockaddr *)&r->client;
        sock = &r->front;
      }
      uv_buf_t b = uv_buf_init((char *)r->sbuf, (unsigned)len);
      if (uv_udp_try_send(sock, &b, 1, dst) >= 0)
        r->st[d].sent++;
      else
        r->st[d].send_errors++; /* a full socket drops, as a NIC would */
    }
  }
  uint64_t next = TCPU_TSTAMP_NONE;
  for (int d = 0; d < 2; d++) {
    uint64_t t = tcpu_link_next_arrival(&r->link[d]);
    if (t < next)
      next = t;
  }
  if (next == TCPU_TSTAMP_NONE) {
    uv_timer_stop(&r->timer);
    return;
  }
  uint64_t wait_ns = next > now ? next - now : 0;
  uv_timer_start(&r->timer, on_timer, (wait_ns + 999999) / 1000000, 0);
}

static void on_timer(uv_timer_t *t) { pump(t->data); }

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  relay *r = h->data;
  (void)size;
  *buf = uv_buf_init((char *)r->rbuf, sizeof(r->rbuf));
}

static void submit(relay *r, int d, ssize_t n) {
  r->st[d].received++;
  /* Errors (a datagram over 65535 bytes, no memory) count as drops in
   * the link's statistics; nothing else is to be done about them. */
  tcpu_link_submit(&r->link[d], r->rbuf, (size_t)n, uv_hrtime());
  pump(r);
}

static void on_front(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                     const struct sockaddr *from, unsigned flags) {
  relay *r = h->data;
  (void)buf;
  if (n < 0 || !from || (flags & UV_UDP_PARTIAL))
    return;
  memcpy(&r->client, from,
         from->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                    : sizeof(struct sockaddr_in6));
  r->have_client = 1;
  submit(r, 0, n);
}

static void on_back(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags) {
  relay *r = h->data;
  (void)buf;
  if (n < 0 || !from || (flags & UV_UDP_PARTIAL))
    return;
  if (!same_addr(from, (const struct sockaddr *)&r->to)) {
    r->st[1].foreign++;
    return;
  }
  submit(r, 1, n);
}

static void on_stop_timer(uv_timer_t *t) { stop(t->data); }
static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  stop(s->data);
}

static int bad(const char *what, const char *why) {
  fprintf(stderr, "tcpu netem: %s: %s\n(see tcpu netem --help)\n", what, why);
  return 2;
}

int tcpu_cmd_netem(int argc, char **argv) {
  const char *listen = NULL, *to = NULL, *link = NULL, *rev = NULL;
  tcpu_duration duration = 0;
  uint64_t seed = 1, max_held = DEFAULT_MAX_HELD;
  char err[1200];
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    int k;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      tcpu_usage_netem(stdout);
      return 0;
    }
    if ((k = tcpu_opt("netem", argc, argv, &i, "--listen", &v)) != 0) {
      if (k < 0)
        return 2;
      listen = v;
    } else if ((k = tcpu_opt("netem", argc, argv, &i, "--to", &v)) != 0) {
      if (k < 0)
        return 2;
      to = v;
    } else if ((k = tcpu_opt("netem", argc, argv, &i, "--link", &v)) != 0) {
      if (k < 0)
        return 2;
      link = v;
    } else if ((k = tcpu_opt("netem", argc, argv, &i, "--rev-link", &v)) !=
               0) {
      if (k < 0)
        return 2;
      rev = v;
    } else if ((k = tcpu_opt("netem", argc, argv, &i, "--duration", &v)) !=
               0) {
      if (k < 0)
        return 2;
      if (lab_parse_time(v, &duration, err, sizeof(err)) != 0)
        return bad("--duration", err);
      if (duration == 0)
        return bad("--duration", "must be above 0");
    } else if ((k = tcpu_opt("netem", argc, argv, &i, "--seed", &v)) != 0) {
      if (k < 0)
        return 2;
      if (lab_parse_u64(v, UINT64_MAX, &seed, err, sizeof(err)) != 0)
        return bad("--seed", err);
    } else if ((k = tcpu_opt("netem", argc, argv, &i, "--max-held", &v)) !=
               0) {
      if (k < 0)
        return 2;
      if (lab_parse_u64(v, 1000000, &max_held, err, sizeof(err)) != 0 ||
          max_held == 0)
        return bad("--max-held", "1 to 1000000");
    } else {
      return bad(argv[i], "unknown argument");
    }
  }
  if (!listen || !to || !link)
    return bad("arguments", "--listen, --to and --link are required");

  relay *r = calloc(1, sizeof(*r));
  lab_link_spec *ls = calloc(2, sizeof(*ls));
  tcpu_mm_trace traces[2];
  memset(traces, 0, sizeof(traces));
  int rc = 2;
  if (!r || !ls) {
    fprintf(stderr, "tcpu netem: out of memory\n");
    rc = 1;
    goto out;
  }
  struct sockaddr_storage laddr;
  if (parse_addr(listen, &laddr, 1) != 0) {
    rc = bad("--listen", "not ADDR:PORT (127.0.0.1:7001, [::1]:7001)");
    goto out;
  }
  if (parse_addr(to, &r->to, 0) != 0) {
    rc = bad("--to", "not ADDR:PORT with a port above 0");
    goto out;
  }
  if (lab_parse_link(&ls[0], link, err, sizeof(err)) != 0) {
    rc = bad("--link", err);
    goto out;
  }
  if (rev) {
    if (lab_parse_link(&ls[1], rev, err, sizeof(err)) != 0) {
      rc = bad("--rev-link", err);
      goto out;
    }
  } else {
    lab_link_reverse_default(&ls[1], &ls[0]);
  }
  r->t_start = uv_hrtime();
  tcpu_duration rtt = ls[0].cfg.delay + ls[1].cfg.delay;
  for (int d = 0; d < 2; d++) {
    if (ls[d].n_drop_at) {
      rc = bad(d ? "--rev-link" : "--link", "drop_at is for tcpu lab only");
      goto out;
    }
    if (lab_link_resolve(&ls[d], &traces[d], r->t_start, rtt, err,
                         sizeof(err)) != 0) {
      rc = bad(d ? "--rev-link" : "--link", err);
      goto out;
    }
    ls[d].cfg.max_held = (uint32_t)max_held;
    if (tcpu_link_init(&r->link[d], &ls[d].cfg,
                       tcpu_link_seed_mix(seed + (uint64_t)d)) != 0) {
      rc = bad(d ? "--rev-link" : "--link", "bad link settings");
      goto out;
    }
  }

  rc = 1;
  r->loop = uv_default_loop();
  r->front.data = r->back.data = r->timer.data = r->stop_timer.data = r;
  r->sigint.data = r->sigterm.data = r;
  struct sockaddr_storage any;
  memset(&any, 0, sizeof(any));
  if (r->to.ss_family == AF_INET)
    uv_ip4_addr("0.0.0.0", 0, (struct sockaddr_in *)&any);
  else
    uv_ip6_addr("::", 0, (struct sockaddr_in6 *)&any);
  int e;
  if ((e = uv_udp_init(r->loop, &r->front)) != 0 ||
      (e = uv_udp_bind(&r->front, (const struct sockaddr *)&laddr, 0)) != 0) {
    fprintf(stderr, "tcpu netem: --listen %s: %s\n", listen, uv_strerror(e));
    goto close;
  }
  if ((e = uv_udp_init(r->loop, &r->back)) != 0 ||
      (e = uv_udp_bind(&r->back, (const struct sockaddr *)&any, 0)) != 0) {
    fprintf(stderr, "tcpu netem: upstream socket: %s\n", uv_strerror(e));
    goto close;
  }
  /* Room for a window's burst, as the libuv binding asks for. */
  int sz = 4 * 1024 * 1024;
  uv_recv_buffer_size((uv_handle_t *)&r->front, &sz);
  sz = 4 * 1024 * 1024;
  uv_recv_buffer_size((uv_handle_t *)&r->back, &sz);
  uv_timer_init(r->loop, &r->timer);
  uv_timer_init(r->loop, &r->stop_timer);
  uv_signal_init(r->loop, &r->sigint);
  uv_signal_init(r->loop, &r->sigterm);
  uv_signal_start(&r->sigint, on_signal, SIGINT);
  uv_signal_start(&r->sigterm, on_signal, SIGTERM);
  if (duration)
    uv_timer_start(&r->stop_timer, on_stop_timer,
                   (duration + 999999) / 1000000, 0);
  if ((e = uv_udp_recv_start(&r->front, on_alloc, on_front)) != 0 ||
      (e = uv_udp_recv_start(&r->back, on_alloc, on_back)) != 0) {
    fprintf(stderr, "tcpu netem: receive: %s\n", uv_strerror(e));
    goto close;
  }
  struct sockaddr_storage bound;
  int blen = sizeof(bound);
  uv_udp_getsockname(&r->front, (struct sockaddr *)&bound, &blen);
  char a1[128], a2[128];
  fmt_addr((const struct sockaddr *)&bound, a1, sizeof(a1));
  fmt_addr((const struct sockaddr *)&r->to, a2, sizeof(a2));
  char d0[512], d1[512];
  lab_link_describe(d0, sizeof(d0), &ls[0], &traces[0]);
  lab_link_describe(d1, sizeof(d1), &ls[1], &traces[1]);
  printf("tcpu netem: listening on %s, relaying to %s\n"
         "client->server: %s\nserver->client: %s\n",
         a1, a2, d0, d1);
  fflush(stdout);
  uv_run(r->loop, UV_RUN_DEFAULT);
  rc = 0;
close:
  close_all(r);
  uv_run(r->loop, UV_RUN_DEFAULT);
  uv_loop_close(r->loop);
out:
  if (r) {
    tcpu_link_free(&r->link[0]);
    tcpu_link_free(&r->link[1]);
  }
  for (int d = 0; d < 2; d++)
    tcpu_mm_trace_free(&traces[d]);
  free(ls);
  free(r);
  return rc;
}
