/*
 * e2e_uv.c — the stream API of tcpu_uv.h over real loopback UDP sockets.
 *
 * Each test runs in its own libuv loop, bounded by a guard timer (unref'd:
 * a test ends when its handles are closed, or fails when the guard fires);
 * nothing sleeps.  A test passes when its checks hold, every callback it
 * expected ran, and uv_loop_close then finds no handle left open.
 *
 *   e2e_uv              run every test
 *   e2e_uv NAME...      run the named tests (ctest runs one per process)
 *
 * Prints PASS/FAIL/SKIP per test and "N passed, N failed"; exits 0 when
 * nothing failed, 77 when the only test run was skipped (ctest's
 * SKIP_RETURN_CODE), else 1.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e_harness.h"
#include "tcpu/tcpu_uv.h"

/* ----------------------------------------------------------- endpoints */

static tcpu_uv_endpoint ep_a, ep_b;

static void on_ep_closed(tcpu_uv_endpoint *uvep) {
  (void)uvep;
  endpoints_closed++;
}

static void settings_small(tcpu_settings *st) {
  tcpu_settings_default(st);
  st->sndbuf = 64 << 10;
  st->rcvbuf = 64 << 10;
}

/* --------------------------------------------------------- echo server */

typedef struct echo_conn {
  tcpu_uv_stream s; /* first: the stream's address is the conn's */
  tcpu_uv_shutdown_req sreq;
  struct echo_conn *next, *prev;
  uint64_t echoed;
} echo_conn;

typedef struct echo_write {
  tcpu_uv_write_req req;
  char data[];
} echo_write;

static tcpu_uv_stream echo_listener, echo_listener2;
static echo_conn *echo_conns; /* open ones */
static int echo_accepted, echo_closed, echo_errors;
static void (*echo_on_closed)(void); /* the test's, after each close */
static int echo_last_error;

static void echo_free(echo_conn *c) {
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    echo_conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  free(c);
}

static void echo_closed_cb(tcpu_uv_stream *s) {
  echo_closed++;
  echo_free((echo_conn *)s);
  if (echo_on_closed != NULL)
    echo_on_closed();
}

/* The server endpoint closed with connections still open: theirs is
 * implicitly closed, their memory ours again. */
static void echo_ep_closed(tcpu_uv_endpoint *uvep) {
  while (echo_conns != NULL)
    echo_free(echo_conns);
  on_ep_closed(uvep);
}

static void echo_written(tcpu_uv_write_req *req, int status) {
  if (status < 0 && status != UV_ECANCELED) {
    echo_errors++;
    echo_last_error = status;
  }
  free(req);
}

static void echo_shut(tcpu_uv_shutdown_req *req, int status) {
  echo_conn *c = req->data;
  if (status < 0 && status != UV_ECANCELED) {
    echo_errors++;
    echo_last_error = status;
  }
  tcpu_uv_close(&c->s, echo_closed_cb);
}

static void echo_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  echo_conn *c = (echo_conn *)s;

  if (n > 0) {
    echo_write *w = malloc(sizeof(*w) + (size_t)n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned int)n);
    memcpy(w->data, buf->base, (size_t)n);
    if (tcpu_uv_write(&w->req, s, &b, 1, echo_written) != 0) {
      echo_errors++;
      free(w);
    }
    c->echoed += (uint64_t)n;
  } else if (n == UV_EOF) {
    c->sreq.data = c;
    if (tcpu_uv_shutdown(&c->sreq, s, echo_shut) != 0)
      tcpu_uv_close(s, echo_closed_cb);
  } else if (n < 0) {
    echo_errors++;
    echo_last_error = (int)n;
    tcpu_uv_close(s, echo_closed_cb);
  }
  free(buf->base);
}

static void echo_connection(tcpu_uv_stream *server, int status) {
  echo_conn *c;

  if (status != 0) {
    fail_at(__LINE__, "connection_cb status %s", uv_err_name(status));
    return;
  }
  c = calloc(1, sizeof(*c));
  CHECK_ERR(tcpu_uv_stream_init(server->endpoint, &c->s), 0);
  c->next = echo_conns;
  if (echo_conns != NULL)
    echo_conns->prev = c;
  echo_conns = c;
  CHECK_ERR(tcpu_uv_accept(server, &c->s), 0);
  CHECK_ERR(tcpu_uv_read_start(&c->s, on_alloc, echo_read), 0);
  echo_accepted++;
}

/* An echo listener on port 7 of uvep. */
static void echo_start(tcpu_uv_endpoint *uvep, tcpu_uv_stream *listener,
                       int backlog) {
  echo_conns = NULL;
  echo_on_closed = NULL;
  echo_accepted = echo_closed = echo_errors = 0;
  CHECK_ERR(tcpu_uv_stream_init(uvep, listener), 0);
  CHECK_ERR(tcpu_uv_listen(listener, 7, backlog, echo_connection), 0);
}

/* ---------------------------------------------------- many_connections */

#define MANY 200
#define MANY_BYTES 32768

typedef struct mconn {
  tcpu_uv_stream s;
  tcpu_uv_connect_req creq;
  tcpu_uv_write_req wreq;
  tcpu_uv_shutdown_req sreq;
  uint32_t id;
  uint8_t *tx;
  uint64_t rx;
  int eof;
} mconn;

static mconn *many;
static int many_connected, many_done, many_written, many_shut, many_ended;

static int count_conn(const tcpu_conn *c, void *arg) {
  (void)c;
  ++*(int *)arg;
  return 0;
}

static void many_maybe_end(void) {
  if (many_done == MANY && echo_closed == MANY && !many_ended) {
    many_ended = 1;
    tcpu_uv_close(&echo_listener, NULL);
    tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
    tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
  }
}

static void many_closed(tcpu_uv_stream *s) {
  mconn *m = (mconn *)s;
  free(m->tx);
  m->tx = NULL;
  many_done++;
  many_maybe_end();
}

static void many_written_cb(tcpu_uv_write_req *req, int status) {
  CHECK_ERR(status, 0);
  (void)req;
  many_written++;
}

static void many_shut_cb(tcpu_uv_shutdown_req *req, int status) {
  CHECK_ERR(status, 0);
  (void)req;
  many_shut++;
}

static void many_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  mconn *m = (mconn *)s;

  if (n > 0) {
    if (!pat_check(m->id, m->rx, buf->base, (size_t)n))
      fail_at(__LINE__, "conn %u: bad data at %llu", m->id,
              (unsigned long long)m->rx);
    m->rx += (uint64_t)n;
  } else if (n == UV_EOF) {
    m->eof = 1;
    if (m->rx != MANY_BYTES)
      fail_at(__LINE__, "conn %u: %llu bytes echoed", m->id,
              (unsigned long long)m->rx);
    tcpu_uv_close(s, many_closed);
  } else if (n < 0) {
    fail_at(__LINE__, "conn %u: read %s", m->id, uv_err_name((int)n));
  }
  free(buf->base);
}

static void many_connected_cb(tcpu_uv_connect_req *req, int status) {
  int conns = 0;

  CHECK_ERR(status, 0);
  (void)req;
  if (++many_connected < MANY)
    return;
  /* All established at once on one UDP socket: now the data. */
  tcpu_endpoint_foreach_conn(ep_b.ep, count_conn, &conns);
  CHECK_EQ(conns, MANY);
  for (int i = 0; i < MANY; i++) {
    mconn *m = &many[i];
    uv_buf_t b[2];
    /* Two buffers: writev. */
    b[0] = uv_buf_init((char *)m->tx, MANY_BYTES / 4);
    b[1] = uv_buf_init((char *)m->tx + MANY_BYTES / 4, MANY_BYTES * 3 / 4);
    CHECK_ERR(tcpu_uv_write(&m->wreq, &m->s, b, 2, many_written_cb), 0);
    CHECK_ERR(tcpu_uv_shutdown(&m->sreq, &m->s, many_shut_cb), 0);
  }
}

static void test_many_connections(void) {
  struct sockaddr_storage server;
  tcpu_settings st;

  settings_small(&st);
  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", &st), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", &st), 0);
  echo_start(&ep_a, &echo_listener, 256);
  echo_on_closed = many_maybe_end;
  ep_addr(&ep_a, "127.0.0.1", &server);
  many = calloc(MANY, sizeof(*many));
  many_connected = many_done = many_written = many_shut = many_ended = 0;
  for (int i = 0; i < MANY; i++) {
    mconn *m = &many[i];
    m->id = (uint32_t)i;
    m->tx = pat_buf(m->id, 0, MANY_BYTES);
    CHECK_ERR(tcpu_uv_stream_init(&ep_b, &m->s), 0);
    CHECK_ERR(tcpu_uv_connect(&m->creq, &m->s, (struct sockaddr *)&server, 7,
                              10000, many_connected_cb),
              0);
    CHECK_ERR(tcpu_uv_read_start(&m->s, on_alloc, many_read), 0);
  }
}

static void verify_many_connections(void) {
  CHECK_EQ(many_done, MANY);
  CHECK_EQ(many_written, MANY);
  CHECK_EQ(many_shut, MANY);
  CHECK_EQ(echo_accepted, MANY);
  CHECK_EQ(echo_closed, MANY);
  CHECK_EQ(echo_errors, 0);
  CHECK_EQ(endpoints_closed, 2);
  free(many);
  many = NULL;
}

/* ---------------------------------------------------------- half close */

/* One side sends REQ_BYTES and shuts down; the other reads to EOF, then
 * sends RESP_BYTES and shuts down; both shutdowns are acknowledged while
 * the other direction keeps working. */
#define REQ_BYTES 100000
#define RESP_BYTES 200000

typedef struct hside {
  tcpu_uv_stream s;
  tcpu_uv_write_req wreq;
  tcpu_uv_shutdown_req sreq;
  uint32_t seed_tx, seed_rx;
  uint64_t tx_len, rx_len, rx;
  uint8_t *tx;
  int eof, shut_ok, closed, is_first;
} hside;

static hside h_server, h_client;
static tcpu_uv_stream h_listener;
static tcpu_uv_connect_req h_creq;
static int h_client_first;

static void h_maybe_close(hside *h);

static void h_closed(tcpu_uv_stream *s) {
  hside *h = (hside *)s;
  h->closed = 1;
  free(h->tx);
  if (h_server.closed && h_client.closed) {
    tcpu_uv_close(&h_listener, NULL);
    tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
    tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
  }
}

static void h_maybe_close(hside *h) {
  if (h->eof && h->shut_ok)
    tcpu_uv_close(&h->s, h_closed);
}

static void h_shut_cb(tcpu_uv_shutdown_req *req, int status) {
  hside *h = req->data;
  CHECK_ERR(status, 0);
  h->shut_ok = 1;
  h_maybe_close(h);
}

static void h_written(tcpu_uv_write_req *req, int status) {
  (void)req;
  CHECK_ERR(status, 0);
}

/* Sends everything and shuts down; a write after it must fail. */
static void h_send(hside *h) {
  uv_buf_t b = uv_buf_init((char *)h->tx, (unsigned int)h->tx_len);
  tcpu_uv_write_req extra;
  char byte = 'x';
  uv_buf_t eb = uv_buf_init(&byte, 1);

  CHECK_ERR(tcpu_uv_write(&h->wreq, &h->s, &b, 1, h_written), 0);
  h->sreq.data = h;
  CHECK_ERR(tcpu_uv_shutdown(&h->sreq, &h->s, h_shut_cb), 0);
  CHECK_ERR(tcpu_uv_write(&extra, &h->s, &eb, 1, h_written), UV_EPIPE);
  CHECK_ERR(tcpu_uv_shutdown(&h->sreq, &h->s, h_shut_cb), UV_ENOTCONN);
}

static void h_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  hside *h = (hside *)s;

  if (n > 0) {
    if (!pat_check(h->seed_rx, h->rx, buf->base, (size_t)n))
      fail_at(__LINE__, "bad data");
    h->rx += (uint64_t)n;
  } else if (n == UV_EOF) {
    CHECK_EQ(h->rx, h->rx_len);
    h->eof = 1;
    /* The second side answers once the first side's FIN arrived. */
    if (!h->is_first)
      h_send(h);
    h_maybe_close(h);
  } else if (n < 0) {
    fail_at(__LINE__, "read: %s", uv_err_name((int)n));
  }
  free(buf->base);
}

static void h_setup_side(hside *h, int first, uint32_t seed_tx,
                         uint32_t seed_rx) {
  h->is_first = first;
  h->seed_tx = seed_tx;
  h->seed_rx = seed_rx;
  h->tx_len = first ? REQ_BYTES : RESP_BYTES;
  h->rx_len = first ? RESP_BYTES : REQ_BYTES;
  h->tx = pat_buf(seed_tx, 0, h->tx_len);
}

static void h_connection(tcpu_uv_stream *server, int status) {
  CHECK_ERR(status, 0);
  CHECK_ERR(tcpu_uv_stream_init(server->endpoint, &h_server.s), 0);
  CHECK_ERR(tcpu_uv_accept(server, &h_server.s), 0);
  CHECK_ERR(tcpu_uv_read_start(&h_server.s, on_alloc, h_read), 0);
  if (h_server.is_first)
    h_send(&h_server);
}

static void h_connected(tcpu_uv_connect_req *req, int status) {
  (void)req;
  CHECK_ERR(status, 0);
  if (h_client.is_first)
    h_send(&h_client);
}

static void half_close(int client_first) {
  struct sockaddr_storage server;

  h_client_first = client_first;
  memset(&h_server, 0, sizeof(h_server));
  memset(&h_client, 0, sizeof(h_client));
  h_setup_side(&h_client, client_first, 1, 2);
  h_setup_side(&h_server, !client_first, 2, 1);
  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", NULL), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &h_listener), 0);
  CHECK_ERR(tcpu_uv_listen(&h_listener, 80, 4, h_connection), 0);
  ep_addr(&ep_a, "127.0.0.1", &server);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &h_client.s), 0);
  CHECK_ERR(tcpu_uv_connect(&h_creq, &h_client.s, (struct sockaddr *)&server,
                            80, 5000, h_connected),
            0);
  CHECK_ERR(tcpu_uv_read_start(&h_client.s, on_alloc, h_read), 0);
}

static void test_half_close_client_first(void) { half_close(1); }
static void test_half_close_server_first(void) { half_close(0); }

static void verify_half_close(void) {
  CHECK(h_client.closed && h_server.closed);
  CHECK(h_client.shut_ok && h_server.shut_ok);
  CHECK_EQ(h_client.rx, h_client.rx_len);
  CHECK_EQ(h_server.rx, h_server.rx_len);
  CHECK_EQ(endpoints_closed, 2);
}

/* --------------------------------------------------------------- abort */

static tcpu_uv_stream ab_listener, *ab_server, ab_client;
static tcpu_uv_connect_req ab_creq;
static tcpu_uv_write_req ab_wreq, ab_wreq2;
static int ab_server_closed, ab_client_err, ab_write_status = 1;
static char ab_byte = 'a';

static void ab_client_closed(tcpu_uv_stream *s) {
  (void)s;
  tcpu_uv_close(&ab_listener, NULL);
  tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
  tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
}

static void ab_client_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  uv_buf_t b = uv_buf_init(&ab_byte, 1);

  free(buf->base);
  if (n >= 0 || n == UV_EOF) {
    if (n == UV_EOF)
      fail_at(__LINE__, "EOF instead of a reset");
    return;
  }
  ab_client_err = (int)n;
  /* The connection is gone: a write now fails at once. */
  CHECK_ERR(tcpu_uv_write(&ab_wreq2, s, &b, 1, NULL), UV_ECONNRESET);
  tcpu_uv_close(s, ab_client_closed);
}

static void ab_server_closed_cb(tcpu_uv_stream *s) {
  ab_server_closed = 1;
  free(s);
}

static void ab_server_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  free(buf->base);
  if (n > 0) {
    CHECK_ERR(tcpu_uv_abort(s, ab_server_closed_cb), 0);
    /* Closing: a second abort or close changes nothing. */
    CHECK_ERR(tcpu_uv_abort(s, ab_server_closed_cb), UV_EINVAL);
    tcpu_uv_close(s, ab_server_closed_cb);
  }
}

static void ab_connection(tcpu_uv_stream *server, int status) {
  CHECK_ERR(status, 0);
  ab_server = calloc(1, sizeof(*ab_server));
  CHECK_ERR(tcpu_uv_stream_init(server->endpoint, ab_server), 0);
  CHECK_ERR(tcpu_uv_accept(server, ab_server), 0);
  CHECK_ERR(tcpu_uv_read_start(ab_server, on_alloc, ab_server_read), 0);
}

static void ab_written(tcpu_uv_write_req *req, int status) {
  (void)req;
  ab_write_status = status;
}

static void test_abort_reset(void) {
  struct sockaddr_storage server;
  uv_buf_t b = uv_buf_init(&ab_byte, 1);

  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", NULL), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &ab_listener), 0);
  CHECK_ERR(tcpu_uv_listen(&ab_listener, 9, 4, ab_connection), 0);
  ep_addr(&ep_a, "127.0.0.1", &server);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &ab_client), 0);
  /* Aborting a stream that never connected is an error. */
  CHECK_ERR(tcpu_uv_abort(&ab_client, NULL), UV_ENOTCONN);
  CHECK_ERR(tcpu_uv_connect(&ab_creq, &ab_client, (struct sockaddr *)&server,
                            9, 5000, NULL),
            0);
  CHECK_ERR(tcpu_uv_read_start(&ab_client, on_alloc, ab_client_read), 0);
  CHECK_ERR(tcpu_uv_write(&ab_wreq, &ab_client, &b, 1, ab_written), 0);
}

static void verify_abort_reset(void) {
  CHECK_ERR(ab_client_err, UV_ECONNRESET);
  CHECK_ERR(ab_write_status, 0); /* it was in the core before the reset */
  CHECK(ab_server_closed);
  CHECK_EQ(endpoints_closed, 2);
}

/* ------------------------------------------------------- peer vanishes */

/* The client talks to an echo server, then the server's endpoint closes
 * without a word.  With data outstanding the user timeout ends the
 * connection; idle, keepalive does.  Both report UV_ETIMEDOUT. */
static tcpu_uv_stream pv_client;
static tcpu_uv_connect_req pv_creq;
static tcpu_uv_write_req pv_wreq;
static int pv_keepalive, pv_err, pv_phase;
static uint64_t pv_rx, pv_vanished_ms, pv_detected_ms;
static char pv_msg[1000];

static void pv_client_closed(tcpu_uv_stream *s) {
  (void)s;
  tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
}

static void pv_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  uv_buf_t b = uv_buf_init(pv_msg, sizeof(pv_msg));

  free(buf->base);
  if (n > 0) {
    pv_rx += (uint64_t)n;
    if (pv_rx == sizeof(pv_msg) && pv_phase == 0) {
      /* Echoed: now the server disappears. */
      pv_phase = 1;
      pv_vanished_ms = elapsed_ms();
      tcpu_uv_endpoint_close(&ep_a, echo_ep_closed);
      if (!pv_keepalive)
        CHECK_ERR(tcpu_uv_write(&pv_wreq, s, &b, 1, NULL), 0);
    }
    return;
  }
  if (n == 0)
    return;
  pv_err = (int)n;
  pv_detected_ms = elapsed_ms();
  tcpu_uv_close(s, pv_client_closed);
}

static void peer_vanishes(int keepalive) {
  struct sockaddr_storage server;
  uv_buf_t b = uv_buf_init(pv_msg, sizeof(pv_msg));

  pv_keepalive = keepalive;
  pv_err = pv_phase = 0;
  pv_rx = 0;
  memset(pv_msg, 'v', sizeof(pv_msg));
  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", NULL), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", NULL), 0);
  echo_start(&ep_a, &echo_listener, 4);
  ep_addr(&ep_a, "127.0.0.1", &server);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &pv_client), 0);
  /* Options before connecting are kept and applied to the connection. */
  if (keepalive)
    CHECK_ERR(tcpu_uv_stream_set_keepalive(&pv_client, 1, 200, 100, 3), 0);
  else
    CHECK_ERR(tcpu_uv_stream_set_user_timeout(&pv_client, 500), 0);
  CHECK_ERR(tcpu_uv_connect(&pv_creq, &pv_client, (struct sockaddr *)&server,
                            7, 5000, NULL),
            0);
  CHECK_ERR(tcpu_uv_read_start(&pv_client, on_alloc, pv_read), 0);
  CHECK_ERR(tcpu_uv_write(&pv_wreq, &pv_client, &b, 1, NULL), 0);
}

static void test_peer_vanishes_user_timeout(void) { peer_vanishes(0); }
static void test_peer_vanishes_keepalive(void) { peer_vanishes(1); }

static void verify_peer_vanishes(void) {
  uint64_t took = pv_detected_ms - pv_vanished_ms;

  CHECK_ERR(pv_err, UV_ETIMEDOUT);
  CHECK_EQ(pv_phase, 1);
  CHECK_EQ(endpoints_closed, 2);
  /* user timeout 500 ms (checked at RTO expiries: 200, 600 ms, ...);
   * keepalive 200 ms + 3 x 100 ms. */
  if (took < 400 || took > 5000)
    fail_at(__LINE__, "detected after %llu ms", (unsigned long long)took);
}

/* ---------------------------------------------------- connect refused */

static tcpu_uv_stream cr_client;
static tcpu_uv_connect_req cr_creq;
static int cr_connect_status = 1, cr_read_status = 1;

static void cr_closed(tcpu_uv_stream *s) {
  (void)s;
  tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
  tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
}

static void cr_maybe_close(void) {
  if (cr_connect_status != 1 && cr_read_status != 1)
    tcpu_uv_close(&cr_client, cr_closed);
}

static void cr_connected(tcpu_uv_connect_req *req, int status) {
  (void)req;
  cr_connect_status = status;
  cr_maybe_close();
}

static void cr_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  (void)s;
  free(buf->base);
  if (n < 0) {
    cr_read_status = (int)n;
    cr_maybe_close();
  }
}

static void test_connect_refused(void) {
  struct sockaddr_storage server;

  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", NULL), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", NULL), 0);
  ep_addr(&ep_a, "127.0.0.1", &server);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &cr_client), 0);
  CHECK_ERR(tcpu_uv_connect(&cr_creq, &cr_client, (struct sockaddr *)&server,
                            4444, 5000, cr_connected),
            0);
  CHECK_ERR(tcpu_uv_read_start(&cr_client, on_alloc, cr_read), 0);
}

static void verify_connect_refused(void) {
  CHECK_ERR(cr_connect_status, UV_ECONNREFUSED);
  CHECK_ERR(cr_read_status, UV_ECONNREFUSED);
  CHECK(elapsed_ms() < 2000);
  CHECK_EQ(endpoints_closed, 2);
}

/* ---------------------------------------------------- connect timeout */

/* A UDP socket that never reads: SYNs vanish into it. */
static int ct_fd = -1;
static tcpu_uv_stream ct_client;
static tcpu_uv_connect_req ct_creq;
static tcpu_uv_write_req ct_wreq;
static tcpu_uv_shutdown_req ct_sreq;
static int ct_status = 1, ct_write_status = 1, ct_shut_status = 1;
static uint64_t ct_ms;

static void ct_closed(tcpu_uv_stream *s) {
  (void)s;
  tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
}

static void ct_connected(tcpu_uv_connect_req *req, int status) {
  (void)req;
  ct_status = status;
  ct_ms = elapsed_ms();
  CHECK_ERR(tcpu_uv_stream_get_info(&ct_client, &(tcpu_conn_info){0}),
            UV_ENOTCONN);
}

static void ct_written(tcpu_uv_write_req *req, int status) {
  (void)req;
  ct_write_status = status;
}

/* After the connect callback, with the same error. */
static void ct_shut(tcpu_uv_shutdown_req *req, int status) {
  (void)req;
  ct_shut_status = status;
  CHECK(ct_status != 1);
  tcpu_uv_close(&ct_client, ct_closed);
}

static void test_connect_timeout(void) {
  struct sockaddr_in hole;
  socklen_t len = sizeof(hole);
  char data[100] = {0};
  uv_buf_t b = uv_buf_init(data, sizeof(data));

  ct_fd = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(ct_fd >= 0);
  uv_ip4_addr("127.0.0.1", 0, &hole);
  CHECK(bind(ct_fd, (struct sockaddr *)&hole, sizeof(hole)) == 0);
  CHECK(getsockname(ct_fd, (struct sockaddr *)&hole, &len) == 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &ct_client), 0);
  CHECK_ERR(tcpu_uv_connect(&ct_creq, &ct_client, (struct sockaddr *)&hole,
                            80, 300, ct_connected),
            0);
  /* Queued behind the handshake, failed with it. */
  CHECK_ERR(tcpu_uv_write(&ct_wreq, &ct_client, &b, 1, ct_written), 0);
  CHECK_ERR(tcpu_uv_shutdown(&ct_sreq, &ct_client, ct_shut), 0);
}

static void verify_connect_timeout(void) {
  close(ct_fd);
  CHECK_ERR(ct_status, UV_ETIMEDOUT);
  /* the data went into the core at once; the shutdown waited */
  CHECK_ERR(ct_write_status, 0);
  CHECK_ERR(ct_shut_status, UV_ETIMEDOUT);
  if (ct_ms < 290 || ct_ms > 3000)
    fail_at(__LINE__, "timed out after %llu ms", (unsigned long long)ct_ms);
  CHECK_EQ(endpoints_closed, 1);
}

/* ---------------------------------------------------------------- ipv6 */

/* Echo over ::1, then an IPv4 client through a dual-stack "::" server. */
#define V6_BYTES 65536

typedef struct vclient {
  tcpu_uv_stream s;
  tcpu_uv_connect_req creq;
  tcpu_uv_write_req wreq;
  tcpu_uv_shutdown_req sreq;
  uint8_t *tx;
  uint64_t rx;
  int done;
} vclient;

static tcpu_uv_endpoint ep_c, ep_d;
static tcpu_uv_stream v_tmp1, v_tmp2;
static vclient v6c, v4c;
static int v6_stage;

static void v6_next(void);

static void v_closed(tcpu_uv_stream *s) {
  vclient *v = (vclient *)s;
  v->done = 1;
  free(v->tx);
  v6_next();
}

static void v_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  vclient *v = (vclient *)s;
  if (n > 0) {
    if (!pat_check(6, v->rx, buf->base, (size_t)n))
      fail_at(__LINE__, "bad data");
    v->rx += (uint64_t)n;
  } else if (n == UV_EOF) {
    if (v->rx != V6_BYTES)
      fail_at(__LINE__, "%llu bytes", (unsigned long long)v->rx);
    tcpu_uv_close(s, v_closed);
  } else if (n < 0) {
    fail_at(__LINE__, "read %s", uv_err_name((int)n));
  }
  free(buf->base);
}

/* The server side sees the peer as IPv6 in both cases (the IPv4 client
 * as ::ffff:127.0.0.1). */
static int v_peer_check(const tcpu_conn *c, void *arg) {
  tcpu_conn_info ci;
  (void)arg;
  tcpu_conn_get_info(c, &ci);
  return ci.state != TCPU_LISTEN && ci.peer.family != TCPU_AF_INET6;
}

static void v_connected(tcpu_uv_connect_req *req, int status) {
  vclient *v = req->data;
  tcpu_conn_info ci;
  uv_buf_t b = uv_buf_init((char *)v->tx, V6_BYTES);

  CHECK_ERR(status, 0);
  CHECK_ERR(tcpu_uv_stream_get_info(&v->s, &ci), 0);
  CHECK_EQ(ci.remote_port, 7);
  CHECK_EQ(ci.peer.family, v == &v6c ? TCPU_AF_INET6 : TCPU_AF_INET);
  CHECK_ERR(tcpu_uv_write(&v->wreq, &v->s, &b, 1, NULL), 0);
  CHECK_ERR(tcpu_uv_shutdown(&v->sreq, &v->s, NULL), 0);
}

static void v_start(vclient *v, tcpu_uv_endpoint *from, tcpu_uv_endpoint *to,
                    const char *to_ip) {
  struct sockaddr_storage server;

  memset(v, 0, sizeof(*v));
  v->tx = pat_buf(6, 0, V6_BYTES);
  v->creq.data = v;
  ep_addr(to, to_ip, &server);
  CHECK_ERR(tcpu_uv_stream_init(from, &v->s), 0);
  CHECK_ERR(tcpu_uv_connect(&v->creq, &v->s, (struct sockaddr *)&server, 7,
                            5000, v_connected),
            0);
  CHECK_ERR(tcpu_uv_read_start(&v->s, on_alloc, v_read), 0);
}

static void v6_next(void) {
  if (v6_stage == 0) {
    /* ::1 done; now an echo server on a dual-stack endpoint. */
    v6_stage = 1;
    CHECK_EQ(tcpu_endpoint_foreach_conn(ep_a.ep, v_peer_check, NULL), 0);
    CHECK_ERR(ep_open(&ep_d, "::", NULL), 0);
    echo_start(&ep_d, &echo_listener2, 4);
    v_start(&v4c, &ep_c, &ep_d, "127.0.0.1");
  } else if (v6_stage == 1) {
    v6_stage = 2;
    CHECK_EQ(tcpu_endpoint_foreach_conn(ep_d.ep, v_peer_check, NULL), 0);
    tcpu_uv_close(&echo_listener, NULL);
    tcpu_uv_close(&echo_listener2, NULL);
    tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
    tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
    tcpu_uv_endpoint_close(&ep_c, on_ep_closed);
    tcpu_uv_endpoint_close(&ep_d, on_ep_closed);
  }
}

static void test_ipv6(void) {
  int rv = ep_open(&ep_a, "::1", NULL);
  struct sockaddr_in6 to6;
  struct sockaddr_in to4;

  if (rv == UV_EADDRNOTAVAIL || rv == UV_EAFNOSUPPORT) {
    skip("no IPv6 loopback");
    return;
  }
  CHECK_ERR(rv, 0);
  CHECK_ERR(ep_open(&ep_b, "::1", NULL), 0);
  CHECK_ERR(ep_open(&ep_c, "127.0.0.1", NULL), 0);
  /* An IPv4 endpoint cannot reach an IPv6 peer, nor one bound to ::1 an
   * IPv4 peer. */
  uv_ip6_addr("::1", 9, &to6);
  uv_ip4_addr("127.0.0.1", 9, &to4);
  CHECK_ERR(tcpu_uv_stream_init(&ep_c, &v_tmp1), 0);
  CHECK_ERR(tcpu_uv_connect(&v4c.creq, &v_tmp1, (struct sockaddr *)&to6, 7, 0,
                            NULL),
            UV_EAFNOSUPPORT);
  tcpu_uv_close(&v_tmp1, NULL);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &v_tmp2), 0);
  CHECK_ERR(tcpu_uv_connect(&v6c.creq, &v_tmp2, (struct sockaddr *)&to4, 7, 0,
                            NULL),
            UV_EAFNOSUPPORT);
  tcpu_uv_close(&v_tmp2, NULL);
  v6_stage = 0;
  echo_start(&ep_a, &echo_listener, 4);
  v_start(&v6c, &ep_b, &ep_a, "::1");
}

static void verify_ipv6(void) {
  CHECK(v6c.done && v4c.done);
  CHECK_EQ(echo_errors, 0);
  CHECK_EQ(endpoints_closed, 4);
}

/* ---------------------------------------------------- write backpressure */

/* The server does not read at first: the client's requests pile up in its
 * write queue (send buffer 64 KiB, window 64 KiB).  Then the server reads:
 * the queue drains, every write_cb runs in order, the last with an empty
 * queue. */
#define BP_REQS 32
#define BP_CHUNK 65536

static tcpu_uv_stream bp_listener, bp_server, bp_client;
static tcpu_uv_connect_req bp_creq;
static tcpu_uv_write_req bp_wreq[BP_REQS];
static tcpu_uv_shutdown_req bp_sreq;
static uint8_t *bp_tx;
static uint64_t bp_rx;
static int bp_done_count, bp_order_ok = 1, bp_have_server, bp_checks;
static size_t bp_stalled_queue, bp_last_queue = 1;
static uv_timer_t bp_timer;

static void bp_written(tcpu_uv_write_req *req, int status) {
  int i = (int)(req - bp_wreq);
  CHECK_ERR(status, 0);
  if (i != bp_done_count)
    bp_order_ok = 0;
  bp_done_count++;
  if (bp_done_count == BP_REQS)
    bp_last_queue = tcpu_uv_stream_get_write_queue_size(&bp_client);
}

static int bp_nclosed;

static void bp_closed(tcpu_uv_stream *s) {
  (void)s;
  if (++bp_nclosed == 2) {
    tcpu_uv_close(&bp_listener, NULL);
    tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
    tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
  }
}

static void bp_server_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    if (!pat_check(3, bp_rx, buf->base, (size_t)n))
      fail_at(__LINE__, "bad data at %llu", (unsigned long long)bp_rx);
    bp_rx += (uint64_t)n;
  } else if (n == UV_EOF) {
    CHECK_EQ(bp_rx, (uint64_t)BP_REQS * BP_CHUNK);
    tcpu_uv_close(s, bp_closed);
  } else if (n < 0) {
    fail_at(__LINE__, "read %s", uv_err_name((int)n));
  }
  free(buf->base);
}

static void bp_client_shut(tcpu_uv_shutdown_req *req, int status) {
  (void)req;
  CHECK_ERR(status, 0);
  tcpu_uv_close(&bp_client, bp_closed);
}

/* Samples the queue until it stops moving, then lets the server read. */
static void bp_tick(uv_timer_t *t) {
  size_t q = tcpu_uv_stream_get_write_queue_size(&bp_client);
  if (!bp_have_server)
    return;
  if (++bp_checks >= 2 && q == bp_stalled_queue && q > 0) {
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
    /* Stalled: most of the 2 MiB wait in the binding; try_write cannot
     * jump the queue. */
    CHECK(q > (size_t)BP_REQS * BP_CHUNK / 2);
    CHECK(bp_done_count < BP_REQS);
    CHECK_ERR(tcpu_uv_read_start(&bp_server, on_alloc, bp_server_read), 0);
    return;
  }
  bp_stalled_queue = q;
}

static void bp_connection(tcpu_uv_stream *server, int status) {
  CHECK_ERR(status, 0);
  CHECK_ERR(tcpu_uv_stream_init(server->endpoint, &bp_server), 0);
  CHECK_ERR(tcpu_uv_accept(server, &bp_server), 0);
  bp_have_server = 1;
}

static void test_write_backpressure(void) {
  struct sockaddr_storage server;

  bp_tx = pat_buf(3, 0, (size_t)BP_REQS * BP_CHUNK);
  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", NULL), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &bp_listener), 0);
  CHECK_ERR(tcpu_uv_stream_set_rcvbuf(&bp_listener, 64 << 10), 0);
  CHECK_ERR(tcpu_uv_listen(&bp_listener, 5001, 4, bp_connection), 0);
  ep_addr(&ep_a, "127.0.0.1", &server);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &bp_client), 0);
  CHECK_ERR(tcpu_uv_stream_set_sndbuf(&bp_client, 64 << 10), 0);
  CHECK_ERR(tcpu_uv_connect(&bp_creq, &bp_client, (struct sockaddr *)&server,
                            5001, 5000, NULL),
            0);
  for (int i = 0; i < BP_REQS; i++) {
    uv_buf_t b = uv_buf_init((char *)bp_tx + (size_t)i * BP_CHUNK, BP_CHUNK);
    CHECK_ERR(tcpu_uv_write(&bp_wreq[i], &bp_client, &b, 1, bp_written), 0);
  }
  /* The core took its 64 KiB; the rest is queued, callbacks pending. */
  CHECK_EQ(tcpu_uv_stream_get_write_queue_size(&bp_client),
           (size_t)(BP_REQS - 1) * BP_CHUNK);
  /* try_write cannot jump the queue. */
  CHECK_ERR(tcpu_uv_try_write(&bp_client, &(uv_buf_t){.base = "x", .len = 1},
                              1),
            UV_EAGAIN);
  CHECK_ERR(tcpu_uv_shutdown(&bp_sreq, &bp_client, bp_client_shut), 0);
  uv_timer_init(loop, &bp_timer);
  uv_timer_start(&bp_timer, bp_tick, 100, 100);
}

static void verify_write_backpressure(void) {
  free(bp_tx);
  CHECK_EQ(bp_done_count, BP_REQS);
  CHECK(bp_order_ok);
  CHECK_EQ(bp_last_queue, 0);
  CHECK_EQ(bp_rx, (uint64_t)BP_REQS * BP_CHUNK);
  CHECK_EQ(tcpu_uv_stream_get_write_queue_size(&bp_client), 0);
  CHECK_EQ(endpoints_closed, 2);
}

/* ------------------------------------------ close cancels; endpoint close */

/* Closing a stream cancels what the core has not taken, in order, before
 * close_cb; closing an endpoint cancels its streams' requests before its
 * own close_cb. */
static tcpu_uv_stream cc_listener, cc_server, cc_client, cc_pending;
static tcpu_uv_connect_req cc_creq, cc_preq;
static tcpu_uv_write_req cc_wreq[8];
static uint8_t *cc_tx;
static int cc_events[32], cc_nevents, cc_hole = -1;
static int cc_server_accepted;

enum { EV_W0 = 0, EV_CLOSE = 10, EV_PCONNECT = 11, EV_EP = 12 };

static void cc_ev(int e) {
  if (cc_nevents < 32)
    cc_events[cc_nevents++] = e;
}

static void cc_written(tcpu_uv_write_req *req, int status) {
  int i = (int)(req - cc_wreq);
  /* The first request fits the core's 64 KiB send buffer: done; the
   * rest were still queued: cancelled. */
  if (i == 0)
    CHECK_ERR(status, 0);
  else
    CHECK_ERR(status, UV_ECANCELED);
  cc_ev(EV_W0 + i);
}

static void cc_ep_closed(tcpu_uv_endpoint *uvep);

static void noop_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  (void)s, (void)n;
  free(buf->base);
}

static void cc_client_closed(tcpu_uv_stream *s) {
  (void)s;
  cc_ev(EV_CLOSE);
  /* Endpoint close with a listener, an accepted stream and a connect
   * still pending on ep_b: requests cancelled, then the endpoint. */
  tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
  tcpu_uv_endpoint_close(&ep_b, cc_ep_closed);
  /* Streams of a closed endpoint: nothing happens any more. */
  tcpu_uv_close(&cc_pending, NULL);
  tcpu_uv_close(&cc_server, NULL);
}

static void cc_pconnected(tcpu_uv_connect_req *req, int status) {
  (void)req;
  CHECK_ERR(status, UV_ECANCELED);
  CHECK_EQ(endpoints_closed, 0);
  cc_ev(EV_PCONNECT);
}

static void cc_ep_closed(tcpu_uv_endpoint *uvep) {
  on_ep_closed(uvep);
  cc_ev(EV_EP);
}

static void cc_connection(tcpu_uv_stream *server, int status) {
  CHECK_ERR(status, 0);
  CHECK_ERR(tcpu_uv_stream_init(server->endpoint, &cc_server), 0);
  CHECK_ERR(tcpu_uv_accept(server, &cc_server), 0);
  cc_server_accepted = 1;
}

static void cc_connected(tcpu_uv_connect_req *req, int status) {
  (void)req;
  CHECK_ERR(status, 0);
  CHECK_EQ(tcpu_uv_stream_get_write_queue_size(&cc_client), 7 * 65536);
  tcpu_uv_close(&cc_client, cc_client_closed);
  /* Closing: every call that takes a callback fails. */
  CHECK_ERR(tcpu_uv_write(&cc_wreq[0], &cc_client,
                          &(uv_buf_t){.base = (char *)cc_tx, .len = 1}, 1,
                          cc_written),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_read_start(&cc_client, on_alloc, noop_read), UV_EINVAL);
}

static void test_close_cancels(void) {
  struct sockaddr_storage server;
  struct sockaddr_in hole;
  socklen_t len = sizeof(hole);
  tcpu_settings st;

  settings_small(&st);
  cc_tx = pat_buf(4, 0, 8 * 65536);
  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", &st), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", &st), 0);
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &cc_listener), 0);
  CHECK_ERR(tcpu_uv_listen(&cc_listener, 21, 4, cc_connection), 0);
  ep_addr(&ep_a, "127.0.0.1", &server);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &cc_client), 0);
  CHECK_ERR(tcpu_uv_connect(&cc_creq, &cc_client, (struct sockaddr *)&server,
                            21, 5000, cc_connected),
            0);
  for (int i = 0; i < 8; i++) {
    uv_buf_t b = uv_buf_init((char *)cc_tx + (size_t)i * 65536, 65536);
    CHECK_ERR(tcpu_uv_write(&cc_wreq[i], &cc_client, &b, 1, cc_written), 0);
  }
  /* A connect that never completes (into a silent socket). */
  cc_hole = socket(AF_INET, SOCK_DGRAM, 0);
  uv_ip4_addr("127.0.0.1", 0, &hole);
  CHECK(bind(cc_hole, (struct sockaddr *)&hole, sizeof(hole)) == 0);
  CHECK(getsockname(cc_hole, (struct sockaddr *)&hole, &len) == 0);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &cc_pending), 0);
  CHECK_ERR(tcpu_uv_connect(&cc_preq, &cc_pending, (struct sockaddr *)&hole,
                            80, 0, cc_pconnected),
            0);
}

static void verify_close_cancels(void) {
  static const int want[] = {0, 1, 2, 3, 4, 5, 6, 7,
                             EV_CLOSE, EV_PCONNECT, EV_EP};

  close(cc_hole);
  free(cc_tx);
  CHECK_EQ(cc_nevents, 11);
  for (int i = 0; i < 11; i++)
    CHECK_EQ(cc_events[i], want[i]);
  CHECK_EQ(endpoints_closed, 2);
}

/* ---------------------------------------------------------- api_errors */

/* Error codes of misuse, options, info, and the rule that a call which
 * returns an error never runs its callback. */
static int ae_callbacks;
static tcpu_uv_stream ae_listener, ae_fresh, ae_client, ae_server;
static tcpu_uv_connect_req ae_creq, ae_creq2;
static tcpu_uv_write_req ae_wreq;
static tcpu_uv_shutdown_req ae_sreq;
static char ae_byte = 'e';

static void ae_count_connect(tcpu_uv_connect_req *r, int s) {
  (void)r, (void)s;
  ae_callbacks++;
}
static void ae_count_write(tcpu_uv_write_req *r, int s) {
  (void)r, (void)s;
  ae_callbacks++;
}
static void ae_count_shutdown(tcpu_uv_shutdown_req *r, int s) {
  (void)r, (void)s;
  ae_callbacks++;
}
static void ae_count_conn(tcpu_uv_stream *l, int s) {
  (void)l, (void)s;
  ae_callbacks++;
}

static int ae_nclosed;
static void ae_closed(tcpu_uv_stream *s);

static void ae_server_conn(tcpu_uv_stream *server, int status) {
  CHECK_ERR(status, 0);
  CHECK_ERR(tcpu_uv_stream_init(server->endpoint, &ae_server), 0);
  CHECK_ERR(tcpu_uv_accept(server, &ae_server), 0);
  /* Inherited from the listener (the client chose bbr). */
  CHECK(strcmp(tcpu_conn_get_cc(tcpu_uv_stream_get_conn(&ae_server)),
               "newreno") == 0);
  tcpu_uv_close(&ae_server, ae_closed);
}

static void ae_closed(tcpu_uv_stream *s) {
  (void)s;
  if (++ae_nclosed < 2)
    return;
  tcpu_uv_close(&ae_listener, NULL);
  tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
  tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
}

static void ae_connected(tcpu_uv_connect_req *req, int status) {
  tcpu_conn_info ci;
  uv_buf_t b = uv_buf_init(&ae_byte, 1);

  (void)req;
  CHECK_ERR(status, 0);
  CHECK_ERR(tcpu_uv_stream_get_info(&ae_client, &ci), 0);
  CHECK_EQ(ci.state, TCPU_ESTABLISHED);
  CHECK_EQ(ci.remote_port, 22);
  CHECK(strcmp(tcpu_conn_get_cc(tcpu_uv_stream_get_conn(&ae_client)), "bbr") ==
        0);
  /* The receive buffer is fixed once the SYN is out. */
  CHECK_ERR(tcpu_uv_stream_set_rcvbuf(&ae_client, 1 << 20), UV_EBUSY);
  CHECK_ERR(tcpu_uv_stream_set_cc(&ae_client, "newreno"), 0);
  CHECK_ERR(tcpu_uv_stream_set_cc(&ae_client, "nope"), UV_EINVAL);
  CHECK_ERR(tcpu_uv_stream_set_nodelay(&ae_client, 0), 0);
  CHECK_ERR(tcpu_uv_stream_set_keepalive(&ae_client, 1, 1000, 500, 256),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_stream_set_keepalive(&ae_client, 1, 1000, 500, 5), 0);
  CHECK_ERR(tcpu_uv_stream_set_sndbuf(&ae_client, 0), UV_EINVAL);
  CHECK_ERR(tcpu_uv_stream_set_sndbuf(&ae_client, 128 << 10), 0);
  CHECK_ERR(tcpu_uv_stream_set_user_timeout(&ae_client, 30000), 0);
  /* Shut down: writes fail with EPIPE, their callbacks never run. */
  CHECK_ERR(tcpu_uv_shutdown(&ae_sreq, &ae_client, NULL), 0);
  CHECK_ERR(tcpu_uv_write(&ae_wreq, &ae_client, &b, 1, ae_count_write),
            UV_EPIPE);
  CHECK_ERR(tcpu_uv_try_write(&ae_client, &b, 1), UV_EPIPE);
  CHECK_ERR(tcpu_uv_shutdown(&ae_sreq, &ae_client, ae_count_shutdown),
            UV_ENOTCONN);
  tcpu_uv_close(&ae_client, ae_closed);
}

static void test_api_errors(void) {
  struct sockaddr_storage server;
  struct sockaddr_in6 v6;
  uv_buf_t b = uv_buf_init(&ae_byte, 1);
  static tcpu_uv_stream taken;

  ae_callbacks = 0;
  /* The mapping. */
  CHECK_ERR(tcpu_uv_translate_error(TCPU_ERR_RESET), UV_ECONNRESET);
  CHECK_ERR(tcpu_uv_translate_error(TCPU_ERR_REFUSED), UV_ECONNREFUSED);
  CHECK_ERR(tcpu_uv_translate_error(TCPU_ERR_TIMEDOUT), UV_ETIMEDOUT);
  CHECK_ERR(tcpu_uv_translate_error(TCPU_ERR_PIPE), UV_EPIPE);
  CHECK_ERR(tcpu_uv_translate_error(TCPU_ERR_NOTCONN), UV_ENOTCONN);
  CHECK_ERR(tcpu_uv_translate_error(TCPU_ERR_ADDRINUSE), UV_EADDRINUSE);
  CHECK_ERR(tcpu_uv_translate_error(TCPU_ERR_INVAL), UV_EINVAL);
  CHECK_ERR(tcpu_uv_translate_error(TCPU_ERR_NOMEM), UV_ENOMEM);
  CHECK_ERR(tcpu_uv_translate_error(TCPU_ERR_AGAIN), UV_EAGAIN);
  CHECK_ERR(tcpu_uv_translate_error(UV_EOF), UV_EOF);
  CHECK_ERR(tcpu_uv_translate_error(5), 5);

  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", NULL), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_endpoint_init(loop, &ep_c, NULL, NULL, 0), UV_EINVAL);
  ep_addr(&ep_a, "127.0.0.1", &server);

  /* Listeners. */
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &ae_listener), 0);
  CHECK_ERR(tcpu_uv_listen(&ae_listener, 0, 4, ae_count_conn), UV_EINVAL);
  CHECK_ERR(tcpu_uv_listen(&ae_listener, 22, 0, ae_count_conn), UV_EINVAL);
  CHECK_ERR(tcpu_uv_stream_set_cc(&ae_listener, "newreno"), 0);
  CHECK_ERR(tcpu_uv_listen(&ae_listener, 22, 4, ae_server_conn), 0);
  CHECK_ERR(tcpu_uv_listen(&ae_listener, 23, 4, ae_count_conn), UV_EINVAL);
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &taken), 0);
  CHECK_ERR(tcpu_uv_listen(&taken, 22, 4, ae_count_conn), UV_EADDRINUSE);
  tcpu_uv_close(&taken, NULL);
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &ae_fresh), 0);
  CHECK_ERR(tcpu_uv_accept(&ae_listener, &ae_fresh), UV_EAGAIN);
  CHECK_ERR(tcpu_uv_accept(&ae_fresh, &ae_listener), UV_EINVAL);
  CHECK_ERR(tcpu_uv_write(&ae_wreq, &ae_listener, &b, 1, ae_count_write),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_connect(&ae_creq, &ae_listener, (struct sockaddr *)&server,
                            22, 0, ae_count_connect),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_abort(&ae_listener, NULL), UV_EINVAL);

  /* A fresh stream is not connected. */
  CHECK_ERR(tcpu_uv_write(&ae_wreq, &ae_fresh, &b, 1, ae_count_write),
            UV_ENOTCONN);
  CHECK_ERR(tcpu_uv_shutdown(&ae_sreq, &ae_fresh, ae_count_shutdown),
            UV_ENOTCONN);
  CHECK_ERR(tcpu_uv_read_start(&ae_fresh, on_alloc, NULL), UV_EINVAL);
  CHECK_ERR(tcpu_uv_stream_get_info(&ae_fresh, &(tcpu_conn_info){0}),
            UV_ENOTCONN);
  CHECK(tcpu_uv_stream_get_conn(&ae_fresh) == NULL);
  tcpu_uv_close(&ae_fresh, NULL);
  tcpu_uv_close(&ae_fresh, NULL); /* twice: nothing */

  /* Connects that fail at once. */
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &ae_client), 0);
  CHECK_ERR(tcpu_uv_connect(&ae_creq, &ae_client, (struct sockaddr *)&server,
                            0, 0, ae_count_connect),
            UV_EINVAL);
  uv_ip6_addr("::1", 1, &v6);
  CHECK_ERR(tcpu_uv_connect(&ae_creq, &ae_client, (struct sockaddr *)&v6, 22,
                            0, ae_count_connect),
            UV_EAFNOSUPPORT);
  /* Options before connecting: kept, validated. */
  CHECK_ERR(tcpu_uv_stream_set_cc(&ae_client, "bbr"), 0);
  CHECK_ERR(tcpu_uv_stream_set_cc(&ae_client, "no-such-cc"), UV_EINVAL);
  CHECK_ERR(tcpu_uv_stream_set_rcvbuf(&ae_client, 0), UV_EINVAL);
  CHECK_ERR(tcpu_uv_stream_set_rcvbuf(&ae_client, 256 << 10), 0);
  CHECK_ERR(tcpu_uv_stream_set_nodelay(&ae_client, 1), 0);
  CHECK_ERR(tcpu_uv_connect(&ae_creq, &ae_client, (struct sockaddr *)&server,
                            22, 5000, ae_connected),
            0);
  CHECK_ERR(tcpu_uv_connect(&ae_creq2, &ae_client, (struct sockaddr *)&server,
                            22, 5000, ae_count_connect),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_read_start(&ae_client, on_alloc, (tcpu_uv_read_cb)NULL),
            UV_EINVAL);
}

static void verify_api_errors(void) {
  CHECK_EQ(ae_callbacks, 0);
  CHECK_EQ(ae_nclosed, 2);
  CHECK_EQ(endpoints_closed, 2);
}

/* -------------------------------------------------------- accept_later */

/* connection_cb leaves the connection waiting; a plain uv timer accepts
 * it later (the next one is announced only then).  At the end a plain
 * timer closes both endpoints with streams open and a write queued: the
 * write is cancelled before the endpoints' close callbacks. */
#define AL_CLIENTS 3

static tcpu_uv_stream al_listener, al_server[AL_CLIENTS], al_client[AL_CLIENTS];
static tcpu_uv_stream al_spare; /* never closed: goes with its endpoint */
static tcpu_uv_connect_req al_creq[AL_CLIENTS];
static tcpu_uv_write_req al_wreq;
static uv_timer_t al_timer;
static int al_announced, al_accepted, al_connected, al_write_status = 1;
static int al_write_before_close;
static uint8_t *al_big;

static void al_written(tcpu_uv_write_req *req, int status) {
  (void)req;
  al_write_status = status;
  al_write_before_close = endpoints_closed == 0;
}

static void al_tick(uv_timer_t *t) {
  uv_buf_t b = uv_buf_init((char *)al_big, 4 << 20);

  if (al_accepted < al_announced) {
    /* Exactly one announced: accepting takes it, a second finds none. */
    CHECK_ERR(tcpu_uv_stream_init(&ep_a, &al_server[al_accepted]), 0);
    CHECK_ERR(tcpu_uv_accept(&al_listener, &al_server[al_accepted]), 0);
    CHECK_ERR(tcpu_uv_accept(&al_listener, &al_spare), UV_EAGAIN);
    al_accepted++;
    return;
  }
  if (al_accepted < AL_CLIENTS || al_connected < AL_CLIENTS)
    return;
  uv_timer_stop(t);
  uv_close((uv_handle_t *)t, NULL);
  /* 4 MiB into a 1 MiB send buffer: most of it stays queued. */
  CHECK_ERR(tcpu_uv_write(&al_wreq, &al_client[0], &b, 1, al_written), 0);
  CHECK(tcpu_uv_stream_get_write_queue_size(&al_client[0]) > 0);
  tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
  tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
}

static void al_connection(tcpu_uv_stream *server, int status) {
  (void)server;
  CHECK_ERR(status, 0);
  al_announced++;
  /* One announcement per connection taken: never two ahead. */
  CHECK(al_announced == al_accepted + 1);
}

static void al_connected_cb(tcpu_uv_connect_req *req, int status) {
  (void)req;
  CHECK_ERR(status, 0);
  al_connected++;
}

static void test_accept_later(void) {
  struct sockaddr_storage server;

  al_big = pat_buf(5, 0, 4 << 20);
  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", NULL), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &al_listener), 0);
  CHECK_ERR(tcpu_uv_listen(&al_listener, 1234, 8, al_connection), 0);
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &al_spare), 0);
  ep_addr(&ep_a, "127.0.0.1", &server);
  for (int i = 0; i < AL_CLIENTS; i++) {
    CHECK_ERR(tcpu_uv_stream_init(&ep_b, &al_client[i]), 0);
    CHECK_ERR(tcpu_uv_connect(&al_creq[i], &al_client[i],
                              (struct sockaddr *)&server, 1234, 5000,
                              al_connected_cb),
              0);
  }
  uv_timer_init(loop, &al_timer);
  uv_timer_start(&al_timer, al_tick, 20, 20);
}

static void verify_accept_later(void) {
  free(al_big);
  CHECK_EQ(al_accepted, AL_CLIENTS);
  CHECK_EQ(al_announced, AL_CLIENTS);
  CHECK_ERR(al_write_status, UV_ECANCELED);
  CHECK(al_write_before_close);
  CHECK_EQ(endpoints_closed, 2);
}

/* ----------------------------------------------------- read_flow_control */

/* The reader pauses (read_stop) and resumes; its first buffer request is
 * refused (UV_ENOBUFS), which is retried on the next loop iteration; a
 * small receive buffer makes the sender wait meanwhile.  Data arrives
 * complete and in order. */
#define RF_BYTES (1 << 20)

static tcpu_uv_stream rf_listener, rf_server, rf_client;
static tcpu_uv_connect_req rf_creq;
static tcpu_uv_write_req rf_wreq;
static tcpu_uv_shutdown_req rf_sreq;
static uint8_t *rf_tx;
static uint64_t rf_rx;
static int rf_nobufs, rf_allocs, rf_pauses, rf_paused, rf_nclosed;
static uv_timer_t rf_timer;

static void rf_closed(tcpu_uv_stream *s) {
  (void)s;
  if (++rf_nclosed == 2) {
    tcpu_uv_close(&rf_listener, NULL);
    tcpu_uv_endpoint_close(&ep_a, on_ep_closed);
    tcpu_uv_endpoint_close(&ep_b, on_ep_closed);
  }
}

static void rf_alloc(tcpu_uv_stream *s, size_t size, uv_buf_t *buf) {
  (void)s;
  if (rf_allocs++ == 0) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  /* Small buffers: many reads. */
  buf->base = malloc(size / 8);
  buf->len = size / 8;
}

static void rf_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf);

static void rf_resume(uv_timer_t *t) {
  rf_paused = 0;
  uv_close((uv_handle_t *)t, NULL);
  CHECK_ERR(tcpu_uv_read_start(&rf_server, rf_alloc, rf_read), 0);
  CHECK_ERR(tcpu_uv_read_start(&rf_server, rf_alloc, rf_read), UV_EALREADY);
}

static void rf_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  CHECK(!rf_paused);
  if (n == UV_ENOBUFS) {
    rf_nobufs++;
    return;
  }
  if (n > 0) {
    if (!pat_check(7, rf_rx, buf->base, (size_t)n))
      fail_at(__LINE__, "bad data at %llu", (unsigned long long)rf_rx);
    rf_rx += (uint64_t)n;
    if (rf_rx >= RF_BYTES / 2 && rf_pauses == 0) {
      /* Pause for a while: no read_cb until resumed. */
      rf_pauses++;
      rf_paused = 1;
      CHECK_ERR(tcpu_uv_read_stop(s), 0);
      uv_timer_init(loop, &rf_timer);
      uv_timer_start(&rf_timer, rf_resume, 100, 0);
    }
  } else if (n == UV_EOF) {
    CHECK_EQ(rf_rx, RF_BYTES);
    tcpu_uv_close(s, rf_closed);
  } else if (n < 0) {
    fail_at(__LINE__, "read %s", uv_err_name((int)n));
  }
  free(buf->base);
}

static void rf_connection(tcpu_uv_stream *server, int status) {
  CHECK_ERR(status, 0);
  CHECK_ERR(tcpu_uv_stream_init(server->endpoint, &rf_server), 0);
  CHECK_ERR(tcpu_uv_accept(server, &rf_server), 0);
  CHECK_ERR(tcpu_uv_read_start(&rf_server, rf_alloc, rf_read), 0);
}

static void rf_shut(tcpu_uv_shutdown_req *req, int status) {
  (void)req;
  CHECK_ERR(status, 0);
  tcpu_uv_close(&rf_client, rf_closed);
}

static void test_read_flow_control(void) {
  struct sockaddr_storage server;
  uv_buf_t b;

  rf_tx = pat_buf(7, 0, RF_BYTES);
  b = uv_buf_init((char *)rf_tx, RF_BYTES);
  CHECK_ERR(ep_open(&ep_a, "127.0.0.1", NULL), 0);
  CHECK_ERR(ep_open(&ep_b, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_stream_init(&ep_a, &rf_listener), 0);
  CHECK_ERR(tcpu_uv_stream_set_rcvbuf(&rf_listener, 32 << 10), 0);
  CHECK_ERR(tcpu_uv_listen(&rf_listener, 8080, 4, rf_connection), 0);
  ep_addr(&ep_a, "127.0.0.1", &server);
  CHECK_ERR(tcpu_uv_stream_init(&ep_b, &rf_client), 0);
  CHECK_ERR(tcpu_uv_connect(&rf_creq, &rf_client, (struct sockaddr *)&server,
                            8080, 5000, NULL),
            0);
  CHECK_ERR(tcpu_uv_write(&rf_wreq, &rf_client, &b, 1, NULL), 0);
  CHECK_ERR(tcpu_uv_shutdown(&rf_sreq, &rf_client, rf_shut), 0);
}

static void verify_read_flow_control(void) {
  free(rf_tx);
  CHECK_EQ(rf_rx, RF_BYTES);
  CHECK_EQ(rf_nobufs, 1);
  CHECK_EQ(rf_pauses, 1);
  CHECK_EQ(rf_nclosed, 2);
  CHECK_EQ(endpoints_closed, 2);
}

/* ------------------------------------------------------------- runner */

static const test_case tests[] = {
    {"many_connections", test_many_connections, verify_many_connections,
     30000},
    {"half_close_client_first", test_half_close_client_first,
     verify_half_close, 15000},
    {"half_close_server_first", test_half_close_server_first,
     verify_half_close, 15000},
    {"abort_reset", test_abort_reset, verify_abort_reset, 10000},
    {"peer_vanishes_user_timeout", test_peer_vanishes_user_timeout,
     verify_peer_vanishes, 15000},
    {"peer_vanishes_keepalive", test_peer_vanishes_keepalive,
     verify_peer_vanishes, 15000},
    {"connect_refused", test_connect_refused, verify_connect_refused, 10000},
    {"connect_timeout", test_connect_timeout, verify_connect_timeout, 10000},
    {"ipv6", test_ipv6, verify_ipv6, 15000},
    {"write_backpressure", test_write_backpressure, verify_write_backpressure,
     20000},
    {"close_cancels", test_close_cancels, verify_close_cancels, 10000},
    {"api_errors", test_api_errors, verify_api_errors, 10000},
    {"accept_later", test_accept_later, verify_accept_later, 10000},
    {"read_flow_control", test_read_flow_control, verify_read_flow_control,
     15000},
};

int main(int argc, char **argv) {
  return e2e_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
