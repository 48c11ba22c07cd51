/*
 * echo_server.c — echoes every connection to TCP port 7 of one UDP socket.
 *
 *   echo_server [ADDR [UDP_PORT]]    (default 127.0.0.1, port 0: any)
 *
 * Prints the UDP port it got, serves until SIGINT or SIGTERM, then exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tcpu/tcpu_uv.h>

typedef struct conn {
  tcpu_uv_stream stream; /* first: a stream pointer is a conn pointer */
  tcpu_uv_shutdown_req shutdown;
} conn;

typedef struct echo_write {
  tcpu_uv_write_req req;
  char data[];
} echo_write;

static tcpu_uv_endpoint endpoint;
static tcpu_uv_stream listener;
static uv_signal_t sigint, sigterm;

static void on_closed(tcpu_uv_stream *s) { free(s); }
static void on_written(tcpu_uv_write_req *req, int status) { free(req); (void)status; }
static void on_shutdown(tcpu_uv_shutdown_req *req, int status) {
  (void)status; /* our FIN is acknowledged, or the connection failed */
  tcpu_uv_close(req->handle, on_closed);
}
static void on_alloc(tcpu_uv_stream *s, size_t size, uv_buf_t *buf) {
  (void)s;
  buf->base = malloc(size);
  buf->len = buf->base ? size : 0;
}

static void on_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = (conn *)s;
  if (n > 0) { /* the data is referenced until on_written: copy it */
    echo_write *w = malloc(sizeof(*w) + (size_t)n);
    uv_buf_t out = uv_buf_init(w->data, (unsigned int)n);
    memcpy(w->data, buf->base, (size_t)n);
    if (tcpu_uv_write(&w->req, s, &out, 1, on_written) != 0)
      free(w);
  } else if (n == UV_EOF) { /* the client is done: so are we */
    if (tcpu_uv_shutdown(&c->shutdown, s, on_shutdown) != 0)
      tcpu_uv_close(s, on_closed);
  } else if (n < 0) {
    fprintf(stderr, "echo_server: %s\n", uv_strerror((int)n));
    tcpu_uv_close(s, on_closed);
  }
  free(buf->base);
}

static void on_connection(tcpu_uv_stream *server, int status) {
  conn *c = calloc(1, sizeof(*c));
  if (status < 0 || c == NULL ||
      tcpu_uv_stream_init(server->endpoint, &c->stream) != 0) {
    free(c);
    return;
  }
  if (tcpu_uv_accept(server, &c->stream) != 0 ||
      tcpu_uv_read_start(&c->stream, on_alloc, on_read) != 0)
    tcpu_uv_close(&c->stream, on_closed);
}

static void on_signal(uv_signal_t *sig, int signum) {
  (void)sig, (void)signum;
  uv_close((uv_handle_t *)&sigint, NULL);
  uv_close((uv_handle_t *)&sigterm, NULL);
  tcpu_uv_close(&listener, NULL);
  tcpu_uv_endpoint_close(&endpoint, NULL);
}

int main(int argc, char **argv) {
  const char *ip = argc > 1 ? argv[1] : "127.0.0.1";
  int port = argc > 2 ? atoi(argv[2]) : 0, len, rv;
  struct sockaddr_storage addr;
  uv_loop_t *loop = uv_default_loop();

  if (strchr(ip, ':') ? uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&addr)
                      : uv_ip4_addr(ip, port, (struct sockaddr_in *)&addr)) {
    fprintf(stderr, "usage: echo_server [ADDR [UDP_PORT]]\n");
    return 2;
  }
  rv = tcpu_uv_endpoint_init(loop, &endpoint, NULL, (struct sockaddr *)&addr, 0);
  if (rv == 0 && (rv = tcpu_uv_stream_init(&endpoint, &listener)) == 0)
    rv = tcpu_uv_listen(&listener, 7, 128, on_connection);
  len = sizeof(addr);
  if (rv == 0)
    rv = tcpu_uv_endpoint_getsockname(&endpoint, (struct sockaddr *)&addr, &len);
  if (rv != 0) {
    fprintf(stderr, "echo_server: %s\n", uv_strerror(rv));
    return 1;
  }
  printf("echo_server: UDP port %d, TCP port 7\n",
         ntohs(((struct sockaddr_in *)&addr)->sin_port));
  fflush(stdout);
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
