/*
 * echo_client.c — sends a message to echo_server and checks the echo.
 *
 *   echo_client ADDR UDP_PORT [MESSAGE]   (default: 1 MiB of test data)
 *
 * Exits 0 when the echo matches what was sent.
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
static char *msg, *echo;
static size_t msg_len, echo_len;
static int status = 1;

static void finish(const char *error) {
  if (error != NULL)
    fprintf(stderr, "echo_client: %s\n", error);
  tcpu_uv_close(&stream, NULL);
  tcpu_uv_endpoint_close(&endpoint, NULL);
}

static void on_alloc(tcpu_uv_stream *s, size_t size, uv_buf_t *buf) {
  (void)s, (void)size; /* read straight into the rest of the echo buffer */
  *buf = uv_buf_init(echo + echo_len, (unsigned int)(msg_len + 1 - echo_len));
}

static void on_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  (void)s, (void)buf;
  if (n > 0) {
    echo_len += (size_t)n;
  } else if (n == UV_EOF) { /* the server shut down after echoing */
    if (echo_len == msg_len && memcmp(msg, echo, msg_len) == 0) {
      printf("echo_client: %zu bytes echoed, ok\n", echo_len);
      status = 0;
    }
    finish(status ? "echo differs" : NULL);
  } else if (n < 0) {
    finish(uv_strerror((int)n));
  }
}

static void on_connect(tcpu_uv_connect_req *req, int rv) {
  uv_buf_t buf = uv_buf_init(msg, (unsigned int)msg_len);
  (void)req;
  if (rv == 0) /* send it all, then a FIN: the server echoes and closes */
    rv = tcpu_uv_write(&write_req, &stream, &buf, 1, NULL);
  if (rv == 0)
    rv = tcpu_uv_shutdown(&shutdown_req, &stream, NULL);
  if (rv == 0)
    rv = tcpu_uv_read_start(&stream, on_alloc, on_read);
  if (rv != 0)
    finish(uv_strerror(rv));
}

int main(int argc, char **argv) {
  struct sockaddr_storage addr;
  uv_loop_t *loop = uv_default_loop();
  int rv;

  if (argc < 3 ||
      (strchr(argv[1], ':')
           ? uv_ip6_addr(argv[1], atoi(argv[2]), (struct sockaddr_in6 *)&addr)
           : uv_ip4_addr(argv[1], atoi(argv[2]), (struct sockaddr_in *)&addr))) {
    fprintf(stderr, "usage: echo_client ADDR UDP_PORT [MESSAGE]\n");
    return 2;
  }
  msg_len = argc > 3 ? strlen(argv[3]) : 1u << 20;
  msg = malloc(msg_len + 1);
  echo = malloc(msg_len + 1);
  for (size_t i = 0; i < msg_len; i++)
    msg[i] = argc > 3 ? argv[3][i] : (char)('a' + (i * 7919) % 26);
  /* An endpoint of the server's family, any port. */
  struct sockaddr_storage any = addr;
  if (any.ss_family == AF_INET6)
    uv_ip6_addr("::", 0, (struct sockaddr_in6 *)&any);
  else
    uv_ip4_addr("0.0.0.0", 0, (struct sockaddr_in *)&any);
  rv = tcpu_uv_endpoint_init(loop, &endpoint, NULL, (struct sockaddr *)&any, 0);
  if (rv == 0 && (rv = tcpu_uv_stream_init(&endpoint, &stream)) == 0)
    rv = tcpu_uv_connect(&connect_req, &stream, (struct sockaddr *)&addr, 7,
                         5000, on_connect);
  if (rv != 0) {
    fprintf(stderr, "echo_client: %s\n", uv_strerror(rv));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  free(msg);
  free(echo);
  return uv_loop_close(loop) == 0 ? status : 1;
}
