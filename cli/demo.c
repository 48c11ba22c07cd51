/*
 * demo.c — tcpu-demo: two libtcpu endpoints on loopback UDP in one libuv
 * loop.  One listens, the other connects; both send --bytes of pseudo-random
 * data at once, read everything, shut down and close.  Each stream is
 * hashed (BLAKE2b-256) as it is written and as it is read; the run is
 * "verified" only when every pair of hashes and byte counts matches.
 * Exit status: 0 verified, 1 mismatch, error or time limit, 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tcpu/tcpu_uv.h"

#define DEMO_PORT 4242      /* the TCP port the server listens on */
#define TIME_LIMIT_MS 60000 /* give up after this long */
#define CHUNK 16384

typedef struct side {
  const char *name;
  tcpu_uv_endpoint uvep;
  tcpu_conn *conn, *listener;
  uint64_t prng; /* xorshift64 state of the data sent */
  uint8_t chunk[CHUNK];
  size_t chunk_off, chunk_len; /* unwritten part of chunk */
  uint64_t sent, received;
  int eof, shut;
  crypto_generichash_state tx_hash, rx_hash;
  uint8_t tx_digest[32], rx_digest[32];
} side;

static side server = {.name = "server"}, client = {.name = "client"};
static uint64_t total;
static uv_timer_t deadline, progress;
static uv_check_t check;
static int failed, finished;
static uint64_t t_start;

static void fail(const char *what, int err) {
  if (!failed)
    fprintf(stderr, "tcpu-demo: %s: %s\n", what,
            err <= -1000 ? tcpu_strerror(err) : uv_strerror(err));
  failed = 1;
}

static void refill(side *s) {
  size_t n = total - s->sent < CHUNK ? (size_t)(total - s->sent) : CHUNK;
  for (size_t i = 0; i < n; i++) {
    s->prng ^= s->prng << 13, s->prng ^= s->prng >> 7, s->prng ^= s->prng << 17;
    s->chunk[i] = (uint8_t)(s->prng >> 56);
  }
  s->chunk_off = 0;
  s->chunk_len = n;
}

static void pump(side *s) {
  while (!s->shut) {
    if (s->chunk_off == s->chunk_len) {
      if (s->sent == total) {
        int rv = tcpu_conn_shutdown(s->conn, uv_hrtime());
        if (rv < 0)
          fail("shutdown", rv);
        s->shut = 1;
        return;
      }
      refill(s);
    }
    tcpu_ssize n = tcpu_conn_write(s->conn, s->chunk + s->chunk_off,
                                   s->chunk_len - s->chunk_off, uv_hrtime());
    if (n == TCPU_ERR_AGAIN)
      return; /* writable() follows */
    if (n < 0) {
      fail("write", (int)n);
      return;
    }
    crypto_generichash_update(&s->tx_hash, s->chunk + s->chunk_off, (size_t)n);
    s->chunk_off += (size_t)n;
    s->sent += (uint64_t)n;
  }
}

static int on_accept(tcpu_conn *listener, void *ud) {
  side *s = ud;
  if (s->conn == NULL && tcpu_accept(listener, &s->conn) == 0)
    pump(s);
  return 0;
}

/* connected() and writable(): the stream takes data. */
static int on_can_write(tcpu_conn *c, void *ud) {
  (void)c;
  pump(ud);
  return 0;
}

static int on_readable(tcpu_conn *c, void *ud) {
  side *s = ud;
  uint8_t buf[CHUNK];
  for (;;) {
    tcpu_ssize n = tcpu_conn_read(c, buf, sizeof(buf), uv_hrtime());
    if (n == TCPU_ERR_AGAIN)
      return 0;
    if (n < 0) {
      fail("read", (int)n);
      return 0;
    }
    if (n == 0) {
      s->eof = 1;
      return 0;
    }
    crypto_generichash_update(&s->rx_hash, buf, (size_t)n);
    s->received += (uint64_t)n;
  }
}

static int on_closed(tcpu_conn *c, int err, void *ud) {
  (void)c;
  (void)ud;
  if (err != 0 && !finished)
    fail("connection", err);
  return 0;
}

static const tcpu_callbacks callbacks = {.accept = on_accept,
                                         .connected = on_can_write,
                                         .readable = on_readable,
                                         .writable = on_can_write,
                                         .closed = on_closed};

/* Done: the peer's FIN read, and ours acknowledged (TIME_WAIT or CLOSED). */
static int done(const side *s) {
  if (s->conn == NULL || !s->eof || !s->shut)
    return 0;
  tcpu_state st = tcpu_conn_state(s->conn);
  return st == TCPU_TIME_WAIT || st == TCPU_CLOSED;
}

static void print_progress(uv_timer_t *t) {
  (void)t;
  printf("  %5.1f s  client->server %" PRIu64 "/%" PRIu64
         "  server->client %" PRIu64 "/%" PRIu64 "\n",
         (double)(uv_hrtime() - t_start) / 1e9, server.received, total,
         client.received, total);
  fflush(stdout);
}

static void teardown(void) {
  side *sides[2] = {&client, &server};
  finished = 1;
  for (int i = 0; i < 2; i++) {
    if (!failed && sides[i]->conn != NULL)
      tcpu_conn_close(sides[i]->conn, uv_hrtime());
    if (!failed && sides[i]->listener != NULL)
      tcpu_conn_close(sides[i]->listener, uv_hrtime());
    tcpu_uv_endpoint_close(&sides[i]->uvep, NULL);
  }
  uv_close((uv_handle_t *)&deadline, NULL);
  uv_close((uv_handle_t *)&progress, NULL);
  uv_close((uv_handle_t *)&check, NULL);
}

static void on_check(uv_check_t *h) {
  (void)h;
  if (!finished && (failed || (done(&client) && done(&server))))
    teardown();
}

static void on_deadline(uv_timer_t *t) {
  (void)t;
  fprintf(stderr, "tcpu-demo: not finished after %d s\n", TIME_LIMIT_MS / 1000);
  failed = 1;
}

static void start(uv_loop_t *loop) {
  struct sockaddr_in any;
  tcpu_addr server_addr;
  int rv;

  uv_ip4_addr("127.0.0.1", 0, &any);
  rv = tcpu_uv_endpoint_init(loop, &server.uvep, NULL, &callbacks, &server,
                             (struct sockaddr *)&any);
  if (rv == 0)
    rv = tcpu_uv_endpoint_init(loop, &client.uvep, NULL, &callbacks, &client,
                               (struct sockaddr *)&any);
  if (rv == 0)
    rv = tcpu_uv_endpoint_local_addr(&server.uvep, &server_addr);
  if (rv == 0)
    rv = tcpu_listen(server.uvep.ep, DEMO_PORT, 16, &server.listener,
                     uv_hrtime());
  if (rv == 0)
    rv = tcpu_connect(client.uvep.ep, &server_addr, 0, DEMO_PORT, &client.conn,
                      uv_hrtime());
  if (rv != 0) {
    fail("setup", rv);
    return;
  }
  printf("tcpu-demo: %" PRIu64 " bytes each way over 127.0.0.1 UDP port %u\n",
         total, (unsigned)server_addr.port);
  rv = tcpu_uv_endpoint_flush(&client.uvep);
  if (rv != 0)
    fail("flush", rv);
}

static void report(side *s) {
  char tx[65], rx[65];
  crypto_generichash_final(&s->tx_hash, s->tx_digest, 32);
  crypto_generichash_final(&s->rx_hash, s->rx_digest, 32);
  sodium_bin2hex(tx, sizeof(tx), s->tx_digest, 32);
  sodium_bin2hex(rx, sizeof(rx), s->rx_digest, 32);
  printf("%s: sent %" PRIu64 " B blake2b %s\n", s->name, s->sent, tx);
  printf("%s: recv %" PRIu64 " B blake2b %s\n", s->name, s->received, rx);
}

int main(int argc, char **argv) {
  uv_loop_t loop;
  total = 4u << 20;
  for (int i = 1; i < argc; i++) {
    char *end;
    if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc &&
        argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') {
      total = strtoull(argv[++i], &end, 10);
      if (*end == '\0')
        continue;
    }
    fprintf(stderr, "usage: %s [--bytes N]  (default %" PRIu64 ")\n", argv[0],
            (uint64_t)4u << 20);
    return 2;
  }
  if (sodium_init() < 0 || uv_loop_init(&loop) != 0) {
    fprintf(stderr, "tcpu-demo: cannot initialise libsodium or libuv\n");
    return 1;
  }
  server.prng = 0x9e3779b97f4a7c15u;
  client.prng = 0xd1b54a32d192ed03u;
  crypto_generichash_init(&server.tx_hash, NULL, 0, 32);
  crypto_generichash_init(&server.rx_hash, NULL, 0, 32);
  crypto_generichash_init(&client.tx_hash, NULL, 0, 32);
  crypto_generichash_init(&client.rx_hash, NULL, 0, 32);
  uv_timer_init(&loop, &deadline);
  uv_timer_init(&loop, &progress);
  uv_check_init(&loop, &check);
  uv_timer_start(&deadline, on_deadline, TIME_LIMIT_MS, 0);
  uv_timer_start(&progress, print_progress, 1000, 1000);
  uv_check_start(&check, on_check);
  t_start = uv_hrtime();
  start(&loop);
  uv_run(&loop, UV_RUN_DEFAULT);
  double secs = (double)(uv_hrtime() - t_start) / 1e9;
  uv_loop_close(&loop);

  report(&client);
  report(&server);
  int ok = !failed && client.sent == total && server.sent == total &&
           client.received == total && server.received == total &&
           sodium_memcmp(client.tx_digest, server.rx_digest, 32) == 0 &&
           sodium_memcmp(server.tx_digest, client.rx_digest, 32) == 0;
  const char *verdict = ok ? "verified" : failed ? "FAILED" : "MISMATCH";
  printf("%.3f s, %.1f MB/s each way: %s\n", secs, (double)total / secs / 1e6,
         verdict);
  return ok ? 0 : 1;
}
