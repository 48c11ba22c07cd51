/*
 * nat_connect.c — nat-connect: reach a peer behind a NAT by name through
 * a rendezvous server (`tcpu rendezvous`) and pipe stdin/stdout over the
 * connection.  Neither side needs a public address, only the server does.
 *
 *   nat-connect [-k KEYFILE] SERVER_IP:PORT SELF PEER [TCP_PORT]
 *
 * Run it on both hosts with the names swapped:
 *
 *   alice$ nat-connect 198.51.100.7:7400 alice bob  < question
 *   bob$   nat-connect 198.51.100.7:7400 bob alice  > question
 *
 * Both register with the server, learn each other's address, punch
 * through their NATs and open TCP port TCP_PORT (default 7) to TCP_PORT
 * at the same time (tcpu_uv_rendezvous_connect).  With -k the endpoint
 * runs sealed mode with the base64 private key in KEYFILE (`tcpu genkey`):
 * SELF is then "-" (names are public keys: `tcpu pubkey < KEYFILE` is
 * what the peer passes as PEER) and PEER the peer's public key.
 *
 * End of input sends a FIN; nat-connect exits 0 once both directions have
 * ended, 1 on an error (after 30 s without the peer: timed out).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tcpu/tcpu_uv.h>

static tcpu_uv_endpoint endpoint;
static tcpu_uv_stream stream;
static tcpu_uv_connect_req connect_req;
static tcpu_uv_write_req write_req;
static tcpu_uv_shutdown_req shutdown_req;
static uv_fs_t stdin_req;
static char in_buf[65536];
static int input_done, peer_done;

static void fail(const char *what, int err) {
  fprintf(stderr, "nat-connect: %s: %s\n", what, uv_strerror(err));
  exit(1); /* a pending read of stdin would keep the loop waiting */
}

static void maybe_finish(void) {
  if (input_done && peer_done) {
    tcpu_uv_close(&stream, NULL);
    tcpu_uv_endpoint_close(&endpoint, NULL);
  }
}

/* ------------------------------------------------- network -> stdout */

static void on_alloc(tcpu_uv_stream *s, size_t size, uv_buf_t *buf) {
  (void)s;
  *buf = uv_buf_init(malloc(size), (unsigned int)size);
}

static void on_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  (void)s;
  for (ssize_t off = 0; n > 0 && off < n;) { /* stdout: plain blocking */
    uv_fs_t req;
    uv_buf_t b = uv_buf_init(buf->base + off, (unsigned int)(n - off));
    int w = uv_fs_write(endpoint.loop, &req, 1, &b, 1, -1, NULL);
    uv_fs_req_cleanup(&req);
    if (w <= 0)
      fail("stdout", w < 0 ? w : UV_EIO);
    off += w;
  }
  free(buf->base);
  if (n == UV_EOF) {
    peer_done = 1;
    maybe_finish();
  } else if (n < 0) {
    fail("read", (int)n);
  }
}

/* -------------------------------------------------- stdin -> network */

static void read_stdin(void);

static void on_written(tcpu_uv_write_req *req, int status) {
  (void)req;
  if (status < 0)
    fail("write", status);
  read_stdin(); /* one buffer in flight: the write pace is the read pace */
}

static void on_shutdown(tcpu_uv_shutdown_req *req, int status) {
  (void)req;
  if (status < 0)
    fail("shutdown", status);
  input_done = 1;
  maybe_finish();
}

static void on_stdin(uv_fs_t *req) {
  ssize_t n = req->result;
  uv_buf_t b = uv_buf_init(in_buf, (unsigned int)(n > 0 ? n : 0));
  int rv;

  uv_fs_req_cleanup(req);
  if (n < 0)
    fail("stdin", (int)n);
  rv = n > 0 ? tcpu_uv_write(&write_req, &stream, &b, 1, on_written)
             : tcpu_uv_shutdown(&shutdown_req, &stream, on_shutdown);
  if (rv != 0)
    fail(n > 0 ? "write" : "shutdown", rv);
}

static void read_stdin(void) {
  uv_buf_t b = uv_buf_init(in_buf, sizeof(in_buf));
  int rv = uv_fs_read(endpoint.loop, &stdin_req, 0, &b, 1, -1, on_stdin);
  if (rv != 0)
    fail("stdin", rv);
}

static void on_connect(tcpu_uv_connect_req *req, int status) {
  (void)req;
  if (status != 0)
    fail("connect", status);
  fprintf(stderr, "nat-connect: connected\n");
  status = tcpu_uv_read_start(&stream, on_alloc, on_read);
  if (status != 0)
    fail("read", status);
  read_stdin();
}

/* ------------------------------------------------------------- setup */

/* Standard base64 (RFC 4648 §4) of exactly 32 bytes: 44 characters. */
static int key_from_base64(uint8_t key[TCPU_KEY_LEN], const char *s) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint32_t acc = 0;
  size_t n = 0, bits = 0;

  for (; *s != '\0' && *s != '=' && *s != '\n'; s++) {
    const char *p = strchr(abc, *s);
    if (p == NULL)
      return -1;
    acc = acc << 6 | (uint32_t)(p - abc);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n == TCPU_KEY_LEN)
        return -1;
      key[n++] = (uint8_t)(acc >> bits);
    }
  }
  return n == TCPU_KEY_LEN ? 0 : -1;
}

static int parse_server(const char *s, struct sockaddr_storage *ss) {
  char host[64];
  const char *colon = strrchr(s, ':');
  size_t len = colon ? (size_t)(colon - s) : 0;

  if (len > 1 && s[0] == '[' && s[len - 1] == ']')
    s++, len -= 2; /* [IPv6]:port */
  if (colon == NULL || len == 0 || len >= sizeof(host))
    return -1;
  memcpy(host, s, len);
  host[len] = '\0';
  if (uv_ip4_addr(host, atoi(colon + 1), (struct sockaddr_in *)ss) == 0 ||
      uv_ip6_addr(host, atoi(colon + 1), (struct sockaddr_in6 *)ss) == 0)
    return atoi(colon + 1) > 0 ? 0 : -1;
  return -1;
}

int main(int argc, char **argv) {
  struct sockaddr_storage server, bind_addr;
  tcpu_settings settings;
  const char *keyfile = NULL, *self;
  int port = 7, rv, a = 1;

  tcpu_settings_default(&settings);
  if (argc > 2 && strcmp(argv[1], "-k") == 0) {
    keyfile = argv[2];
    a = 3;
  }
  if (argc - a < 3 || argc - a > 4 || parse_server(argv[a], &server) != 0 ||
      (argc - a == 4 && ((port = atoi(argv[a + 3])) < 1 || port > 65535))) {
    fprintf(stderr, "usage: nat-connect [-k KEYFILE] SERVER_IP:PORT SELF "
                    "PEER [TCP_PORT]\n");
    return 2;
  }
  self = argv[a + 1];
  if (keyfile != NULL) {
    char line[128] = "";
    FILE *f = fopen(keyfile, "r");
    if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
        key_from_base64(settings.private_key, line) != 0) {
      fprintf(stderr, "nat-connect: %s: no base64 private key\n", keyfile);
      return 2;
    }
    fclose(f);
    settings.mode = TCPU_MODE_SEALED;
    if (strcmp(self, "-") == 0)
      self = NULL; /* our public key names us */
  }

  /* Any local address and port: the server tells the peer which one the
   * NAT shows. */
  if (server.ss_family == AF_INET6)
    uv_ip6_addr("::", 0, (struct sockaddr_in6 *)&bind_addr);
  else
    uv_ip4_addr("0.0.0.0", 0, (struct sockaddr_in *)&bind_addr);
  rv = tcpu_uv_endpoint_init(uv_default_loop(), &endpoint, &settings,
                             (struct sockaddr *)&bind_addr, 0);
  memset(settings.private_key, 0, sizeof(settings.private_key));
  if (rv != 0)
    fail("endpoint", rv);
  tcpu_uv_stream_init(&endpoint, &stream);
  rv = tcpu_uv_rendezvous_connect(&connect_req, &stream,
                                  (struct sockaddr *)&server, self,
                                  argv[a + 2], (uint16_t)port, 30000,
                                  on_connect);
  if (rv != 0)
    fail("rendezvous", rv);
  fprintf(stderr, "nat-connect: looking for %s through %s\n", argv[a + 2],
          argv[a]);
  uv_run(endpoint.loop, UV_RUN_DEFAULT);
  return uv_loop_close(endpoint.loop) == 0 ? 0 : 1;
}
