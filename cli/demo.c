/*
 * demo.c — tcpu-demo: two libtcpu endpoints on loopback UDP in one libuv
 * loop, driven through the stream API of tcpu_uv.h.  One listens, the other
 * connects; both send --bytes of pseudo-random data at once, read
 * everything, shut down and close.  Each stream is hashed (BLAKE2b-256) as
 * it is written and as it is read; the run is "verified" only when every
 * pair of hashes and byte counts matches.
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
#define CHUNK 65536         /* bytes per write request */
#define WRITES 4            /* write requests in flight per side */

typedef struct side side;

typedef struct chunk {
  tcpu_uv_write_req req;
  side *s;
  uint8_t data[CHUNK];
} chunk;

struct side {
  const char *name;
  tcpu_uv_endpoint uvep;
  tcpu_uv_stream stream, listener;
  int has_stream, has_listener;
  tcpu_uv_connect_req connect_req;
  tcpu_uv_shutdown_req shutdown_req;
  chunk chunks[WRITES];
  uint8_t rbuf[CHUNK];
  uint64_t prng; /* xorshift64 state of the data sent */
  uint64_t sent, received;
  int eof, shut_requested, fin_acked;
  crypto_generichash_state tx_hash, rx_hash;
  uint8_t tx_digest[32], rx_digest[32];
};

static side server = {.name = "server"}, client = {.name = "client"};
static uint64_t total;
static uv_timer_t deadline, progress;
static int failed, finished;
static uint64_t t_start;

static void fail(const char *what, int err) {
  if (!failed)
    fprintf(stderr, "tcpu-demo: %s: %s\n", what, uv_strerror(err));
  failed = 1;
}

static void maybe_finish(void);

static void on_written(tcpu_uv_write_req *req, int status);
static void shut(side *s);

/* Fills the chunk with the next bytes of the side's stream and writes it. */
static void send_chunk(side *s, chunk *ch) {
  size_t n = total - s->sent < CHUNK ? (size_t)(total - s->sent) : CHUNK;
  uv_buf_t buf;
  int rv;

  for (size_t i = 0; i < n; i++) {
    s->prng ^= s->prng << 13, s->prng ^= s->prng >> 7, s->prng ^= s->prng << 17;
    ch->data[i] = (uint8_t)(s->prng >> 56);
  }
  crypto_generichash_update(&s->tx_hash, ch->data, n);
  s->sent += n;
  ch->s = s;
  buf = uv_buf_init((char *)ch->data, (unsigned int)n);
  rv = tcpu_uv_write(&ch->req, &s->stream, &buf, 1, on_written);
  if (rv < 0)
    fail("write", rv);
  else if (s->sent == total)
    shut(s); /* the FIN waits for the queued writes */
}

static void on_shutdown(tcpu_uv_shutdown_req *req, int status) {
  side *s = req->data;
  if (status < 0) {
    fail("shutdown", status);
    return;
  }
  s->fin_acked = 1;
  maybe_finish();
}

/* Everything written: the FIN follows the data. */
static void shut(side *s) {
  int rv;
  if (s->shut_requested)
    return;
  s->shut_requested = 1;
  s->shutdown_req.data = s;
  rv = tcpu_uv_shutdown(&s->shutdown_req, &s->stream, on_shutdown);
  if (rv < 0)
    fail("shutdown", rv);
}

static void on_written(tcpu_uv_write_req *req, int status) {
  chunk *ch = (chunk *)req;
  side *s = ch->s;
  if (status < 0) {
    if (!finished)
      fail("write", status);
    return;
  }
  if (s->sent < total)
    send_chunk(s, ch);
}

static void start_writing(side *s) {
  for (int i = 0; i < WRITES && s->sent < total && !failed; i++)
    send_chunk(s, &s->chunks[i]);
  if (total == 0)
    shut(s);
}

static void on_alloc(tcpu_uv_stream *stream, size_t suggested, uv_buf_t *buf) {
  side *s = stream->data;
  (void)suggested;
  *buf = uv_buf_init((char *)s->rbuf, sizeof(s->rbuf));
}

static void on_read(tcpu_uv_stream *stream, ssize_t nread, const uv_buf_t *buf) {
  side *s = stream->data;
  if (nread > 0) {
    crypto_generichash_update(&s->rx_hash, (const uint8_t *)buf->base,
                              (size_t)nread);
    s->received += (uint64_t)nread;
  } else if (nread == UV_EOF) {
    s->eof = 1;
    maybe_finish();
  } else if (nread < 0) {
    fail("read", (int)nread);
  }
}

static void start_stream(side *s) {
  int rv;
  s->stream.data = s;
  rv = tcpu_uv_read_start(&s->stream, on_alloc, on_read);
  if (rv < 0)
    fail("read_start", rv);
  start_writing(s);
}

static void on_connection(tcpu_uv_stream *listener, int status) {
  side *s = listener->data;
  if (status < 0 || s->has_stream) {
    if (status < 0)
      fail("listen", status);
    return;
  }
  if (tcpu_uv_stream_init(&s->uvep, &s->stream) != 0)
    return;
  s->has_stream = 1;
  status = tcpu_uv_accept(listener, &s->stream);
  if (status < 0) {
    fail("accept", status);
    return;
  }
  start_stream(s);
}

static void on_connect(tcpu_uv_connect_req *req, int status) {
  (void)req;
  if (status < 0)
    fail("connect", status);
}

static void teardown(void) {
  side *sides[2] = {&client, &server};
  if (finished)
    return;
  finished = 1;
  for (int i = 0; i < 2; i++) {
    if (sides[i]->has_stream)
      tcpu_uv_close(&sides[i]->stream, NULL);
    if (sides[i]->has_listener)
      tcpu_uv_close(&sides[i]->listener, NULL);
    tcpu_uv_endpoint_close(&sides[i]->uvep, NULL);
  }
  uv_close((uv_handle_t *)&deadline, NULL);
  uv_close((uv_handle_t *)&progress, NULL);
}

/* Done: the peer's FIN read, and ours acknowledged. */
static void maybe_finish(void) {
  if (failed || (client.eof && client.fin_acked && server.eof &&
                 server.fin_acked))
    teardown();
}

static void print_progress(uv_timer_t *t) {
  (void)t;
  printf("  %5.1f s  client->server %" PRIu64 "/%" PRIu64
         "  server->client %" PRIu64 "/%" PRIu64 "\n",
         (double)(uv_hrtime() - t_start) / 1e9, server.received, total,
         client.received, total);
  fflush(stdout);
}

static void on_deadline(uv_timer_t *t) {
  (void)t;
  fprintf(stderr, "tcpu-demo: not finished after %d s\n", TIME_LIMIT_MS / 1000);
  failed = 1;
  teardown();
}

static void start(uv_loop_t *loop) {
  struct sockaddr_in any;
  struct sockaddr_storage server_addr;
  int len = sizeof(server_addr);
  int rv;

  uv_ip4_addr("127.0.0.1", 0, &any);
  rv = tcpu_uv_endpoint_init(loop, &server.uvep, NULL,
                             (const struct sockaddr *)&any, 0);
  if (rv == 0)
    rv = tcpu_uv_endpoint_init(loop, &client.uvep, NULL,
                               (const struct sockaddr *)&any, 0);
  if (rv == 0)
    rv = tcpu_uv_endpoint_getsockname(&server.uvep,
                                      (struct sockaddr *)&server_addr, &len);
  if (rv == 0 && (rv = tcpu_uv_stream_init(&server.uvep, &server.listener)) == 0) {
    server.has_listener = 1;
    server.listener.data = &server;
    rv = tcpu_uv_listen(&server.listener, DEMO_PORT, 16, on_connection);
  }
  if (rv == 0 && (rv = tcpu_uv_stream_init(&client.uvep, &client.stream)) == 0) {
    client.has_stream = 1;
    rv = tcpu_uv_connect(&client.connect_req, &client.stream,
                         (const struct sockaddr *)&server_addr, DEMO_PORT, 0,
                         on_connect);
  }
  if (rv != 0) {
    fail("setup", rv);
    teardown();
    return;
  }
  printf("tcpu-demo: %" PRIu64 " bytes each way over 127.0.0.1 UDP port %u\n",
         total,
         (unsigned)ntohs(((struct sockaddr_in *)&server_addr)->sin_port));
  start_stream(&client); /* data waits in the core for the handshake */
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
  uv_timer_start(&deadline, on_deadline, TIME_LIMIT_MS, 0);
  uv_timer_start(&progress, print_progress, 1000, 1000);
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
