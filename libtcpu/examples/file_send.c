/*
 * file_send.c — copies a file over libtcpu.
 *
 *   file_send recv OUTFILE          on 127.0.0.1: print the UDP port, accept
 *                                   one connection on TCP port 9, save it
 *   file_send send INFILE UDP_PORT  send INFILE to 127.0.0.1, exit once the
 *                                   receiver acknowledged all of it
 *
 * The sender keeps four 64 KiB writes queued and refills one in each write
 * callback, so its memory stays bounded however large the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tcpu/tcpu_uv.h>

#define CHUNK 65536
typedef struct chunk {
  tcpu_uv_write_req req;
  char data[CHUNK];
} chunk;

static tcpu_uv_endpoint endpoint;
static tcpu_uv_stream listener, stream;
static tcpu_uv_connect_req connect_req;
static tcpu_uv_shutdown_req shutdown_req;
static chunk chunks[4];
static FILE *file;
static unsigned long long bytes;
static int status = 1, eof;

static void finish(int rv, const char *what) {
  if (rv < 0)
    fprintf(stderr, "file_send: %s\n", uv_strerror(rv));
  else
    printf("file_send: %s %llu bytes\n", what, bytes);
  status = rv < 0;
  fclose(file);
  tcpu_uv_close(&stream, NULL);
  tcpu_uv_close(&listener, NULL);
  tcpu_uv_endpoint_close(&endpoint, NULL);
}

/* ---- sender; rv 0 here: the receiver acknowledged our FIN, so all data */
static void on_shutdown(tcpu_uv_shutdown_req *r, int rv) { finish(rv, "sent"), (void)r; }
static void on_written(tcpu_uv_write_req *req, int rv);
static void send_chunk(chunk *c) {
  size_t n = eof ? 0 : fread(c->data, 1, CHUNK, file);
  uv_buf_t buf = uv_buf_init(c->data, (unsigned int)n);
  int rv = 0;
  if (n > 0) {
    bytes += n;
    rv = tcpu_uv_write(&c->req, &stream, &buf, 1, on_written);
  } else if (!eof) { /* the FIN follows the writes still queued */
    eof = 1;
    rv = tcpu_uv_shutdown(&shutdown_req, &stream, on_shutdown);
  }
  if (rv < 0)
    finish(rv, NULL);
}
static void on_written(tcpu_uv_write_req *req, int rv) {
  if (rv < 0)
    finish(rv, NULL);
  else /* the chunk is in the core's send buffer: reuse it */
    send_chunk((chunk *)req);
}
static void on_connect(tcpu_uv_connect_req *req, int rv) {
  (void)req;
  for (int i = 0; rv == 0 && i < 4 && !eof; i++)
    send_chunk(&chunks[i]);
  if (rv < 0)
    finish(rv, NULL);
}

/* ---- receiver */
static void on_alloc(tcpu_uv_stream *s, size_t size, uv_buf_t *buf) {
  *buf = uv_buf_init(chunks[0].data, CHUNK), (void)s, (void)size;
}
static void on_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  (void)s;
  if (n > 0 && fwrite(buf->base, 1, (size_t)n, file) != (size_t)n)
    finish(UV_EIO, NULL);
  else if (n > 0)
    bytes += (unsigned long long)n;
  else if (n < 0)
    finish(n == UV_EOF ? 0 : (int)n, "received");
}
static void on_connection(tcpu_uv_stream *server, int rv) {
  if (rv == 0 && (rv = tcpu_uv_accept(server, &stream)) == 0)
    rv = tcpu_uv_read_start(&stream, on_alloc, on_read);
  if (rv < 0)
    finish(rv, NULL);
}

int main(int argc, char **argv) {
  int send = argc == 4 && strcmp(argv[1], "send") == 0, rv, len;
  struct sockaddr_in addr;

  if ((!send && !(argc == 3 && strcmp(argv[1], "recv") == 0)) ||
      !(file = fopen(argv[2], send ? "rb" : "wb"))) {
    fprintf(stderr, "usage: file_send recv OUTFILE | send INFILE UDP_PORT\n");
    return 2;
  }
  uv_ip4_addr("127.0.0.1", 0, &addr);
  rv = tcpu_uv_endpoint_init(uv_default_loop(), &endpoint, NULL,
                             (struct sockaddr *)&addr, 0);
  if (rv == 0 && (rv = tcpu_uv_stream_init(&endpoint, &stream)) == 0)
    rv = tcpu_uv_stream_init(&endpoint, &listener);
  if (rv == 0 && send) {
    uv_ip4_addr("127.0.0.1", atoi(argv[3]), &addr);
    rv = tcpu_uv_connect(&connect_req, &stream, (struct sockaddr *)&addr, 9,
                         5000, on_connect);
  } else if (rv == 0 && (rv = tcpu_uv_listen(&listener, 9, 1, on_connection)) == 0) {
    len = sizeof(addr);
    rv = tcpu_uv_endpoint_getsockname(&endpoint, (struct sockaddr *)&addr, &len);
    printf("file_send: receiving on UDP port %d\n", ntohs(addr.sin_port));
    fflush(stdout);
  }
  if (rv != 0) {
    fprintf(stderr, "file_send: %s\n", uv_strerror(rv));
    return 1;
  }
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  return status;
}
