/*
 * testpeer.c — the kernel-TCP ends of tcpud's real-process tests: servers
 * behind a tunnel and clients in front of it, all on libuv.
 *
 *   testpeer echo ADDR:PORT          echo every byte; on EOF shut down
 *                                    after the echo (half-close kept)
 *   testpeer hash ADDR:PORT          read to EOF, then answer the BLAKE2b-256
 *                                    of what came, in hex, and close: the
 *                                    answer proves the FIN got through while
 *                                    the other direction stayed open
 *   testpeer client ADDR:PORT [--conns N] [--bytes B] [--mode echo|hash]
 *                   [--pace MS] [--expect OUTCOME] [--timeout S] [--verbose]
 *                                    N connections at once, each sends B
 *                                    pseudo-random bytes and half-closes;
 *                                    echo mode checks the echo, hash mode
 *                                    the answer.  --pace sends 16 KiB every
 *                                    MS milliseconds instead of at once.
 *   testpeer ping SOCKET             "ping" on a control socket; 0 on "ok"
 *   testpeer ctl SOCKET REQUEST      any request; prints the answer
 *   testpeer pcapcheck FILE          checks a capture of tcpud --pcap: IP
 *                                    headers and TCP checksums; prints counts
 *   testpeer ports N                 prints the first of N consecutive ports
 *                                    free for TCP and UDP on 127.0.0.1
 *
 * A client sorts each connection's end into ok (all verified), eof (the
 * server closed before everything was verified), reset, refused, timeout
 * or error, prints the counts, and exits 0 when every connection ended as
 * --expect says (ok by default; "closed" accepts eof or reset), else 1.
 * Servers run until SIGTERM.  The tests never kill anything they did not
 * start.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#define CHUNK 65536
#define PACE_CHUNK 16384

typedef enum outcome {
  O_NONE,
  O_OK,
  O_EOF,
  O_RESET,
  O_REFUSED,
  O_TIMEOUT,
  O_ERROR,
  O_N
} outcome;
static const char *const outcome_names[] = {
    "none", "ok", "eof", "reset", "refused", "timeout", "error"};

typedef struct wreq {
  uv_write_t req;
  uv_buf_t buf;
  char data[];
} wreq;

static uv_loop_t *loop;
static const char *prog = "testpeer";

static void die(const char *what, int err) {
  fprintf(stderr, "%s: %s: %s\n", prog, what, uv_strerror(err));
  exit(2);
}

static int parse_addr(const char *s, struct sockaddr_storage *ss) {
  char host[128];
  const char *colon = strrchr(s, ':');
  int port;

  if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
    return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  port = atoi(colon + 1);
  if (host[0] == '[') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
  }
  return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

static void on_closed_free(uv_handle_t *h) { free(h); }

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  (void)h;
  (void)sz;
  buf->base = malloc(CHUNK);
  buf->len = buf->base ? CHUNK : 0;
}

/* --------------------------------------------------------------- servers */

typedef struct sconn {
  uv_tcp_t tcp;
  int hash_mode;
  crypto_generichash_state h;
  uv_shutdown_t sreq;
} sconn;

static void written_free(uv_write_t *req, int status) {
  (void)status;
  free(req->data);
}

static void srv_shutdown_done(uv_shutdown_t *req, int status) {
  (void)status;
  uv_close((uv_handle_t *)req->handle, on_closed_free);
}

static void srv_write(uv_stream_t *s, const char *p, size_t n) {
  wreq *w = malloc(sizeof(*w) + n);

  memcpy(w->data, p, n);
  w->buf = uv_buf_init(w->data, (unsigned)n);
  w->req.data = w;
  if (uv_write(&w->req, s, &w->buf, 1, written_free) != 0)
    free(w);
}

static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  sconn *c = (sconn *)s;

  if (n > 0) {
    if (c->hash_mode)
      crypto_generichash_update(&c->h, (const uint8_t *)buf->base, (size_t)n);
    else
      srv_write(s, buf->base, (size_t)n);
  }
  free(buf->base);
  if (n == UV_EOF) {
    if (c->hash_mode) {
      uint8_t d[32];
      char hex[65];
      crypto_generichash_final(&c->h, d, sizeof(d));
      sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
      srv_write(s, hex, 64);
    }
    if (uv_shutdown(&c->sreq, s, srv_shutdown_done) != 0)
      uv_close((uv_handle_t *)s, on_closed_free);
  } else if (n < 0) {
    uv_close((uv_handle_t *)s, on_closed_free);
  }
}

static void on_server_conn(uv_stream_t *server, int status) {
  sconn *c;

  if (status < 0)
    return;
  c = calloc(1, sizeof(*c));
  uv_tcp_init(loop, &c->tcp);
  c->hash_mode = server->data != NULL;
  crypto_generichash_init(&c->h, NULL, 0, 32);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_closed_free);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, srv_read);
}

static void on_term(uv_signal_t *h, int sig) {
  (void)sig;
  uv_stop(h->loop);
}

static int run_server(const char *addr, int hash_mode) {
  static uv_tcp_t server;
  static uv_signal_t term;
  struct sockaddr_storage ss;
  int rv;

  if (parse_addr(addr, &ss) != 0)
    die("address", UV_EINVAL);
  uv_tcp_init(loop, &server);
  server.data = hash_mode ? &server : NULL;
  if ((rv = uv_tcp_bind(&server, (struct sockaddr *)&ss, 0)) != 0 ||
      (rv = uv_listen((uv_stream_t *)&server, 1024, on_server_conn)) != 0)
    die(addr, rv);
  uv_signal_init(loop, &term);
  uv_signal_start(&term, on_term, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}

/* --------------------------------------------------------------- clients */

typedef struct cconn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_shutdown_t sreq;
  uv_timer_t pace;
  uint64_t prng;
  uint64_t sent, received;
  crypto_generichash_state tx, rx;
  char answer[65];
  size_t answer_len;
  outcome out;
  int closing;
} cconn;

static int n_conns, hash_mode, pace_ms, open_conns, verbose;
static uint64_t n_bytes;
static int counts[O_N];
static uv_timer_t deadline;

static outcome from_error(int err) {
  switch (err) {
  case UV_ECONNRESET:
  case UV_EPIPE:
  case UV_ENOTCONN: /* libuv's answer once a reset was seen */
    return O_RESET;
  case UV_ECONNREFUSED:
    return O_REFUSED;
  case UV_ETIMEDOUT:
    return O_TIMEOUT;
  case UV_EOF:
    return O_EOF;
  default:
    fprintf(stderr, "%s: connection error %s\n", prog, uv_err_name(err));
    return O_ERROR;
  }
}

static void client_closed(uv_handle_t *h) {
  cconn *c = h->data;

  if (--c->closing > 0)
    return;
  counts[c->out]++;
  free(c);
  if (--open_conns == 0) {
    uv_timer_stop(&deadline);
    uv_close((uv_handle_t *)&deadline, NULL);
  }
}

static void client_end(cconn *c, outcome o) {
  if (c->closing)
    return;
  c->out = o;
  c->closing = 2;
  uv_close((uv_handle_t *)&c->pace, client_closed);
  uv_close((uv_handle_t *)&c->tcp, client_closed);
}

static void fill(cconn *c, char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    c->prng ^= c->prng << 13;
    c->prng ^= c->prng >> 7;
    c->prng ^= c->prng << 17;
    p[i] = (char)(c->prng >> 56);
  }
}

static void client_send_more(cconn *c);

static void client_written(uv_write_t *req, int status) {
  cconn *c = req->handle->data;

  free(req->data);
  if (status < 0) {
    client_end(c, from_error(status));
    return;
  }
  if (!pace_ms)
    client_send_more(c);
}

static void client_shut(uv_shutdown_t *req, int status) {
  cconn *c = req->handle->data;

  if (status < 0)
    client_end(c, from_error(status));
}

/* Sends the next chunk; after the last one, half-closes. */
static void client_send_more(cconn *c) {
  size_t n;
  wreq *w;

  if (c->closing)
    return;
  if (c->sent == n_bytes) {
    int rv;
    uv_timer_stop(&c->pace);
    rv = uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, client_shut);
    if (rv != 0)
      client_end(c, from_error(rv));
    c->sent++; /* past the end: shut down once */
    return;
  }
  if (c->sent > n_bytes)
    return;
  n = n_bytes - c->sent < (pace_ms ? PACE_CHUNK : CHUNK)
          ? (size_t)(n_bytes - c->sent)
          : (pace_ms ? PACE_CHUNK : CHUNK);
  w = malloc(sizeof(*w) + n);
  fill(c, w->data, n);
  crypto_generichash_update(&c->tx, (const uint8_t *)w->data, n);
  w->buf = uv_buf_init(w->data, (unsigned)n);
  w->req.data = w;
  c->sent += n;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, client_written) !=
      0) {
    free(w);
    client_end(c, O_ERROR);
  }
}

static void on_pace(uv_timer_t *t) { client_send_more(t->data); }

static void client_verify(cconn *c) {
  uint8_t a[32], b[32];
  char hex[65];

  crypto_generichash_final(&c->tx, a, sizeof(a));
  sodium_bin2hex(hex, sizeof(hex), a, sizeof(a));
  if (verbose)
    printf(
        "%s: sent %llu bytes, BLAKE2b-256 %s; %s %s\n", prog,
        (unsigned long long)n_bytes, hex,
        hash_mode ? "the server's hash" : "the echo",
        (hash_mode ? c->answer_len == 64 && memcmp(hex, c->answer, 64) == 0 : 1)
            ? "matches"
            : "DIFFERS");
  if (hash_mode) {
    client_end(c, c->answer_len == 64 && memcmp(hex, c->answer, 64) == 0
                      ? O_OK
                      : O_EOF);
    return;
  }
  crypto_generichash_final(&c->rx, b, sizeof(b));
  client_end(c, c->received == n_bytes && memcmp(a, b, 32) == 0 ? O_OK : O_EOF);
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  cconn *c = s->data;

  if (n > 0) {
    c->received += (uint64_t)n;
    if (hash_mode) {
      size_t k =
          (size_t)n < 64 - c->answer_len ? (size_t)n : 64 - c->answer_len;
      memcpy(c->answer + c->answer_len, buf->base, k);
      c->answer_len += k;
    } else {
      crypto_generichash_update(&c->rx, (const uint8_t *)buf->base, (size_t)n);
    }
  }
  free(buf->base);
  if (n == UV_EOF) {
    if (c->sent > n_bytes)
      client_verify(c);
    else
      client_end(c, O_EOF);
  } else if (n < 0) {
    client_end(c, from_error((int)n));
  }
}

static void client_connected(uv_connect_t *req, int status) {
  cconn *c = req->data;

  if (status < 0) {
    client_end(c, from_error(status));
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, client_read);
  if (pace_ms)
    uv_timer_start(&c->pace, on_pace, 0, (uint64_t)pace_ms);
  else
    client_send_more(c);
}

static void on_deadline(uv_timer_t *t) {
  (void)t;
  fprintf(stderr, "%s: time limit: %d connections still open\n", prog,
          open_conns);
  exit(1);
}

static int run_client(int argc, char **argv) {
  struct sockaddr_storage ss;
  const char *expect = "ok";
  int timeout_s = 60, bad = 0;
  uint64_t t0;

  n_conns = 1;
  n_bytes = 1 << 20;
  for (int i = 3; i < argc; i += 2) {
    if (strcmp(argv[i], "--verbose") == 0) {
      verbose = 1;
      i--;
      continue;
    }
    if (i + 1 >= argc)
      die(argv[i], UV_EINVAL);
    if (strcmp(argv[i], "--conns") == 0)
      n_conns = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--bytes") == 0)
      n_bytes = strtoull(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--mode") == 0)
      hash_mode = strcmp(argv[i + 1], "hash") == 0;
    else if (strcmp(argv[i], "--pace") == 0)
      pace_ms = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--expect") == 0)
      expect = argv[i + 1];
    else if (strcmp(argv[i], "--timeout") == 0)
      timeout_s = atoi(argv[i + 1]);
    else
      die(argv[i], UV_EINVAL);
  }
  if (parse_addr(argv[2], &ss) != 0)
    die("address", UV_EINVAL);
  uv_timer_init(loop, &deadline);
  uv_timer_start(&deadline, on_deadline, (uint64_t)timeout_s * 1000, 0);
  uv_unref((uv_handle_t *)&deadline);
  for (int i = 0; i < n_conns; i++) {
    cconn *c = calloc(1, sizeof(*c));
    c->prng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) + 1;
    crypto_generichash_init(&c->tx, NULL, 0, 32);
    crypto_generichash_init(&c->rx, NULL, 0, 32);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->pace);
    c->tcp.data = c->pace.data = c->creq.data = c;
    open_conns++;
    if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss,
                       client_connected) != 0)
      client_end(c, O_ERROR);
  }
  t0 = uv_hrtime();
  uv_run(loop, UV_RUN_DEFAULT);
  if (verbose) {
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    printf("%s: %llu bytes sent in %.2f s (%.1f MB/s)\n", prog,
           (unsigned long long)n_bytes * (unsigned long long)n_conns, secs,
           (double)n_bytes * n_conns / 1e6 / (secs > 0 ? secs : 1));
  }
  printf("%s: %d connections:", prog, n_conns);
  for (int o = O_OK; o < O_N; o++)
    if (counts[o])
      printf(" %s %d", outcome_names[o], counts[o]);
  printf("\n");
  for (int o = O_OK; o < O_N; o++) {
    int fine = strcmp(expect, outcome_names[o]) == 0 ||
               (strcmp(expect, "closed") == 0 && (o == O_EOF || o == O_RESET));
    if (counts[o] && !fine)
      bad += counts[o];
  }
  if (bad)
    printf("%s: %d connections did not end as expected (%s)\n", prog, bad,
           expect);
  return bad ? 1 : 0;
}

/* Sends one request line to a control socket; prints the answer when
 * print is set.  0 when it starts with "ok". */
static int run_ctl(const char *path, const char *request, int print) {
  struct sockaddr_un sun;
  char buf[65536];
  size_t have = 0;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ssize_t n;

  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
      write(fd, request, strlen(request)) != (ssize_t)strlen(request) ||
      write(fd, "\n", 1) != 1) {
    if (fd >= 0)
      close(fd);
    return 1;
  }
  while (have < sizeof(buf) &&
         (n = read(fd, buf + have, sizeof(buf) - have)) > 0)
    have += (size_t)n;
  close(fd);
  if (print)
    fwrite(buf, 1, have, stdout);
  return have >= 3 && memcmp(buf, "ok\n", 3) == 0 ? 0 : 1;
}

/* Ones' complement sum of 16-bit big-endian words. */
static uint32_t csum_add(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2)
    sum += (uint32_t)p[i] << 8 | p[i + 1];
  if (n & 1)
    sum += (uint32_t)p[n - 1] << 8;
  return sum;
}

static int csum_ok(uint32_t sum) {
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

/* Checks a capture of tcpud/tcpu cat on its own (no tshark needed): the
 * pcap header (link type RAW), and each packet's IP header, IPv4 header
 * checksum and TCP checksum over the real pseudo-header.  Prints counts;
 * 0 when the file is sound and holds at least one packet. */
static int run_pcapcheck(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t hdr[24], rec[16], *pkt = malloc(70000);
  unsigned long n = 0, syn = 0, fin = 0, rst = 0, data = 0, bad = 0;

  if (f == NULL || pkt == NULL || fread(hdr, 1, 24, f) != 24) {
    fprintf(stderr, "%s: %s: cannot read a pcap header\n", prog, path);
    return 1;
  }
  if (hdr[0] != 0xd4 || hdr[1] != 0xc3 || hdr[2] != 0xb2 || hdr[3] != 0xa1 ||
      hdr[20] != 101) {
    fprintf(stderr, "%s: %s: not a little-endian pcap of link type RAW\n", prog,
            path);
    return 1;
  }
  while (fread(rec, 1, 16, f) == 16) {
    uint32_t caplen =
        rec[8] | rec[9] << 8 | rec[10] << 16 | (uint32_t)rec[11] << 24;
    size_t iphl, tcplen;
    const uint8_t *tcp;
    uint32_t sum = 0;

    if (caplen > 70000 || fread(pkt, 1, caplen, f) != caplen || caplen < 40) {
      fprintf(stderr, "%s: %s: truncated record %lu\n", prog, path, n);
      return 1;
    }
    n++;
    if ((pkt[0] >> 4) == 4) {
      iphl = (size_t)(pkt[0] & 15) * 4;
      if (!csum_ok(csum_add(pkt, iphl, 0)) || pkt[9] != 6 ||
          (size_t)(pkt[2] << 8 | pkt[3]) != caplen)
        bad++;
      sum = csum_add(pkt + 12, 8, 0);
    } else if ((pkt[0] >> 4) == 6) {
      iphl = 40;
      if (pkt[6] != 6 || (size_t)(pkt[4] << 8 | pkt[5]) + 40 != caplen)
        bad++;
      sum = csum_add(pkt + 8, 32, 0);
    } else {
      bad++;
      continue;
    }
    tcp = pkt + iphl;
    tcplen = caplen - iphl;
    sum += 6 + (uint32_t)tcplen;
    if (!csum_ok(csum_add(tcp, tcplen, sum)))
      bad++;
    syn += (tcp[13] & 0x02) != 0;
    fin += (tcp[13] & 0x01) != 0;
    rst += (tcp[13] & 0x04) != 0;
    data += tcplen > (size_t)(tcp[12] >> 4) * 4;
  }
  fclose(f);
  free(pkt);
  printf("%s: %lu packets, %lu with data, %lu SYN, %lu FIN, %lu RST, %lu bad\n",
         path, n, data, syn, fin, rst, bad);
  return n > 0 && bad == 0 ? 0 : 1;
}

/* A block of n consecutive ports free for TCP and UDP on 127.0.0.1, from
 * a random base in [20000, 32000): the tests of several build trees (and
 * people) may run at once on one machine. */
static int run_ports(int n) {
  for (int attempt = 0; attempt < 200; attempt++) {
    int base = 20000 + (int)(randombytes_uniform((32000 - 20000) / 32)) * 32;
    int fds[128], nfds = 0, ok = 1;

    for (int i = 0; i < n && ok && nfds + 2 <= 128; i++) {
      for (int type = 0; type < 2 && ok; type++) {
        struct sockaddr_in sin;
        int fd = socket(AF_INET, type ? SOCK_DGRAM : SOCK_STREAM, 0);
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)(base + i));
        sin.sin_addr.s_addr = htonl(0x7f000001);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
          ok = 0;
        if (fd >= 0)
          fds[nfds++] = fd;
      }
    }
    for (int i = 0; i < nfds; i++)
      close(fds[i]);
    if (ok) {
      printf("%d\n", base);
      return 0;
    }
  }
  fprintf(stderr, "%s: no free block of %d ports\n", prog, n);
  return 1;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (sodium_init() < 0)
    return 2;
  loop = uv_default_loop();
  if (argc >= 3 && strcmp(argv[1], "echo") == 0)
    return run_server(argv[2], 0);
  if (argc >= 3 && strcmp(argv[1], "hash") == 0)
    return run_server(argv[2], 1);
  if (argc >= 3 && strcmp(argv[1], "client") == 0)
    return run_client(argc, argv);
  if (argc >= 3 && strcmp(argv[1], "ping") == 0)
    return run_ctl(argv[2], "ping", 0);
  if (argc >= 4 && strcmp(argv[1], "ctl") == 0)
    return run_ctl(argv[2], argv[3], 1);
  if (argc >= 3 && strcmp(argv[1], "pcapcheck") == 0)
    return run_pcapcheck(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "ports") == 0)
    return run_ports(atoi(argv[2]) < 1 || atoi(argv[2]) > 60 ? 20
                                                             : atoi(argv[2]));
  fprintf(stderr,
          "usage: testpeer echo|hash ADDR:PORT | client ADDR:PORT "
          "[OPTIONS] | ping SOCKET | ctl SOCKET REQUEST | pcapcheck FILE | "
          "ports N\n");
  return 2;
}
