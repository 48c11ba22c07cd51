/*
 * rr.c — request/response latency with 64-byte messages: one message in
 * flight, the client times each round trip (send to complete reply), the
 * server echoes.  Client on CPU 0, server on CPU 1, one thread each.
 *
 *   libtcpu           the stream API, TCP_NODELAY-like (set_nodelay), the
 *                     server echoes with tcpu_uv_try_write from read_cb
 *   raw_udp_uv        the same libuv loop and batched I/O engine
 *                     (uv/io_linux.c) without TCP: libtcpu's own floor
 *   raw_udp_blocking  blocking send/recv on connected UDP sockets: the
 *                     floor of the machine
 *   kernel_tcp        blocking send/recv, TCP_NODELAY, MSS 1400
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"
#include "uv/io.h"

#define MSG 64
#define TCPU_PORT 5002
#define CPU_CLIENT 0
#define CPU_SERVER 1

static void report(rr_result *res, lat *l, const char *key, int ok,
                   uint64_t lost) {
  res->ok = ok;
  js_open(key);
  js_bool("ok", ok);
  if (lost)
    js_int("lost_and_resent", lost);
  lat_report(l, "rtt");
  res->p50_us = lat_pct(l, 50);
  res->p99_us = lat_pct(l, 99);
  js_close();
}

/* ============================================================ libtcpu */

typedef struct lt_rr {
  uv_sem_t ready;
  struct sockaddr_in addr;
  int setup_err;
  lat lat;
  /* server */
  uv_loop_t sl;
  tcpu_uv_endpoint sep;
  tcpu_uv_stream listener, sstream;
  uv_timer_t sguard;
  uint8_t sbuf[4096];
  /* client */
  uv_loop_t cl;
  tcpu_uv_endpoint cep;
  tcpu_uv_stream cstream;
  tcpu_uv_connect_req creq;
  uv_timer_t cguard;
  uint8_t cbuf[4096];
  uint8_t msg[MSG];
  size_t got;
  unsigned done;
  uint64_t t_send;
  int ok, fail;
} lt_rr;

static void lt_rr_alloc_s(tcpu_uv_stream *s, size_t sz, uv_buf_t *buf) {
  lt_rr *r = s->data;
  (void)sz;
  *buf = uv_buf_init((char *)r->sbuf, sizeof(r->sbuf));
}

static void lt_rr_alloc_c(tcpu_uv_stream *s, size_t sz, uv_buf_t *buf) {
  lt_rr *r = s->data;
  (void)sz;
  *buf = uv_buf_init((char *)r->cbuf, sizeof(r->cbuf));
}

static void lt_rr_s_end(lt_rr *r) {
  tcpu_uv_close(&r->sstream, NULL);
  tcpu_uv_close(&r->listener, NULL);
  tcpu_uv_endpoint_close(&r->sep, NULL);
  uv_close((uv_handle_t *)&r->sguard, NULL);
}

static void lt_rr_s_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  lt_rr *r = s->data;
  if (n > 0) {
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    if (tcpu_uv_try_write(s, &b, 1) != n)
      r->fail = -1;
    return;
  }
  if (n < 0)
    lt_rr_s_end(r);
}

static void lt_rr_on_conn(tcpu_uv_stream *server, int status) {
  lt_rr *r = server->data;
  if (status != 0 || tcpu_uv_stream_init(&r->sep, &r->sstream) != 0 ||
      tcpu_uv_accept(server, &r->sstream) != 0) {
    lt_rr_s_end(r);
    return;
  }
  r->sstream.data = r;
  tcpu_uv_stream_set_nodelay(&r->sstream, 1);
  tcpu_uv_read_start(&r->sstream, lt_rr_alloc_s, lt_rr_s_read);
}

static void lt_rr_guard(uv_timer_t *t) {
  lt_rr *r = t->data;
  r->fail = UV_ETIMEDOUT;
  uv_stop(t->loop);
}

static void *lt_rr_server(void *arg) {
  lt_rr *r = arg;
  struct sockaddr_in any;
  int len = sizeof(r->addr);

  uv_loop_init(&r->sl);
  uv_ip4_addr("127.0.0.1", 0, &any);
  r->setup_err =
      tcpu_uv_endpoint_init(&r->sl, &r->sep, NULL, (struct sockaddr *)&any, 0);
  if (r->setup_err == 0) {
    tcpu_uv_stream_init(&r->sep, &r->listener);
    r->listener.data = r;
    tcpu_uv_stream_set_nodelay(&r->listener, 1);
    r->setup_err = tcpu_uv_listen(&r->listener, TCPU_PORT, 16, lt_rr_on_conn);
  }
  if (r->setup_err == 0)
    r->setup_err = tcpu_uv_endpoint_getsockname(
        &r->sep, (struct sockaddr *)&r->addr, &len);
  uv_sem_post(&r->ready);
  if (r->setup_err == 0) {
    uv_timer_init(&r->sl, &r->sguard);
    r->sguard.data = r;
    uv_timer_start(&r->sguard, lt_rr_guard, (uint64_t)(opts.limit_s * 1000), 0);
    uv_run(&r->sl, UV_RUN_DEFAULT);
  }
  loop_finish(&r->sl);
  return NULL;
}

static void lt_rr_c_end(lt_rr *r) {
  tcpu_uv_close(&r->cstream, NULL);
  tcpu_uv_endpoint_close(&r->cep, NULL);
  uv_close((uv_handle_t *)&r->cguard, NULL);
}

static void lt_rr_send(lt_rr *r) {
  uv_buf_t b = uv_buf_init((char *)r->msg, MSG);
  r->got = 0;
  r->t_send = now_ns();
  if (tcpu_uv_try_write(&r->cstream, &b, 1) != MSG) {
    r->fail = -1;
    lt_rr_c_end(r);
  }
}

static void lt_rr_c_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  lt_rr *r = s->data;
  (void)buf;
  if (n < 0) {
    r->fail = (int)n;
    lt_rr_c_end(r);
    return;
  }
  r->got += (size_t)n;
  if (r->got < MSG)
    return;
  uint64_t rtt = now_ns() - r->t_send;
  if (r->done++ >= opts.rr_warmup)
    lat_add(&r->lat, rtt);
  if (r->done >= opts.rr_warmup + opts.rr_count) {
    r->ok = 1;
    lt_rr_c_end(r);
    return;
  }
  lt_rr_send(r);
}

static void lt_rr_on_connect(tcpu_uv_connect_req *req, int status) {
  lt_rr *r = req->data;
  if (status != 0) {
    r->fail = status;
    lt_rr_c_end(r);
    return;
  }
  tcpu_uv_read_start(&r->cstream, lt_rr_alloc_c, lt_rr_c_read);
  lt_rr_send(r);
}

static void *lt_rr_client(void *arg) {
  lt_rr *r = arg;
  struct sockaddr_in any;

  uv_loop_init(&r->cl);
  uv_ip4_addr("127.0.0.1", 0, &any);
  if (tcpu_uv_endpoint_init(&r->cl, &r->cep, NULL, (struct sockaddr *)&any,
                            0) == 0) {
    tcpu_uv_stream_init(&r->cep, &r->cstream);
    r->cstream.data = r;
    r->creq.data = r;
    tcpu_uv_stream_set_nodelay(&r->cstream, 1);
    uv_timer_init(&r->cl, &r->cguard);
    r->cguard.data = r;
    uv_timer_start(&r->cguard, lt_rr_guard, (uint64_t)(opts.limit_s * 1000), 0);
    if (tcpu_uv_connect(&r->creq, &r->cstream, (struct sockaddr *)&r->addr,
                        TCPU_PORT, 5000, lt_rr_on_connect) != 0)
      lt_rr_c_end(r);
    uv_run(&r->cl, UV_RUN_DEFAULT);
  }
  loop_finish(&r->cl);
  return NULL;
}

rr_result bench_rr_libtcpu(const char *key) {
  rr_result res = {0, 0, 0};
  lt_rr *r = calloc(1, sizeof(*r));
  pthread_t ts, tc;

  if (r == NULL || lat_init(&r->lat, opts.rr_count) != 0) {
    free(r);
    return res;
  }
  memset(r->msg, 'q', MSG);
  uv_sem_init(&r->ready, 0);
  thread_start(&ts, CPU_SERVER, lt_rr_server, r);
  uv_sem_wait(&r->ready);
  if (r->setup_err == 0) {
    thread_start(&tc, CPU_CLIENT, lt_rr_client, r);
    pthread_join(tc, NULL);
  }
  pthread_join(ts, NULL);
  report(&res, &r->lat, key, r->ok && r->fail == 0, 0);
  lat_free(&r->lat);
  uv_sem_destroy(&r->ready);
  free(r);
  return res;
}

/* ===================================================== raw UDP, libuv */

typedef struct raw_rr {
  uv_sem_t ready;
  int setup_err;
  tcpu_addr server;
  lat lat;
  uv_loop_t sl, cl;
  tcpu_io sio, cio;
  uv_timer_t sguard, cguard, resend;
  unsigned done;
  uint64_t t_send, lost;
  int ok, fail;
} raw_rr;

static void raw_rr_echo(tcpu_io *io, const tcpu_addr *from, const uint8_t *data,
                        size_t len, tcpu_tstamp now) {
  raw_rr *r = io->data;
  uint8_t *p = tcpu_io_next_buf(io);
  (void)now;
  if (len == 1) { /* the client's goodbye */
    tcpu_io_close(io, NULL);
    uv_close((uv_handle_t *)&r->sguard, NULL);
    return;
  }
  if (p != NULL) {
    memcpy(p, data, len);
    tcpu_io_commit(io, from, len);
  }
}

static void raw_rr_flush(tcpu_io *io) { tcpu_io_flush(io); }

static void raw_rr_guard(uv_timer_t *t) {
  raw_rr *r = t->data;
  r->fail = UV_ETIMEDOUT;
  uv_stop(t->loop);
}

static void *raw_rr_server(void *arg) {
  raw_rr *r = arg;
  struct sockaddr_in any;

  uv_loop_init(&r->sl);
  uv_ip4_addr("127.0.0.1", 0, &any);
  r->setup_err = tcpu_io_init(&r->sl, &r->sio, (struct sockaddr *)&any, 1472, 0,
                              raw_rr_echo, raw_rr_flush, NULL);
  if (r->setup_err == 0) {
    r->sio.data = r;
    tcpu_io_local_addr(&r->sio, &r->server);
  }
  uv_sem_post(&r->ready);
  if (r->setup_err == 0) {
    uv_timer_init(&r->sl, &r->sguard);
    r->sguard.data = r;
    uv_timer_start(&r->sguard, raw_rr_guard, (uint64_t)(opts.limit_s * 1000),
                   0);
    uv_run(&r->sl, UV_RUN_DEFAULT);
  }
  loop_finish(&r->sl);
  return NULL;
}

static void raw_rr_send(raw_rr *r, size_t len) {
  uint8_t *p = tcpu_io_next_buf(&r->cio);
  if (p == NULL)
    return;
  memset(p, 'q', len);
  tcpu_io_commit(&r->cio, &r->server, len);
  r->t_send = now_ns();
}

static void raw_rr_resend(uv_timer_t *t) {
  raw_rr *r = t->data;
  r->lost++;
  raw_rr_send(r, MSG); /* a datagram was lost: time from the resend */
  tcpu_io_flush(&r->cio);
}

static void raw_rr_c_end(raw_rr *r) {
  raw_rr_send(r, 1);
  tcpu_io_flush(&r->cio);
  tcpu_io_close(&r->cio, NULL);
  uv_close((uv_handle_t *)&r->cguard, NULL);
  uv_close((uv_handle_t *)&r->resend, NULL);
}

static void raw_rr_reply(tcpu_io *io, const tcpu_addr *from,
                         const uint8_t *data, size_t len, tcpu_tstamp now) {
  raw_rr *r = io->data;
  (void)from, (void)data, (void)len;
  if (r->ok)
    return;
  if (r->done++ >= opts.rr_warmup)
    lat_add(&r->lat, now_ns() - r->t_send);
  (void)now;
  if (r->done >= opts.rr_warmup + opts.rr_count) {
    r->ok = 1;
    raw_rr_c_end(r);
    return;
  }
  raw_rr_send(r, MSG);
  uv_timer_again(&r->resend);
}

static void *raw_rr_client(void *arg) {
  raw_rr *r = arg;
  struct sockaddr_in any;

  uv_loop_init(&r->cl);
  uv_ip4_addr("127.0.0.1", 0, &any);
  if (tcpu_io_init(&r->cl, &r->cio, (struct sockaddr *)&any, 1472, 0,
                   raw_rr_reply, raw_rr_flush, NULL) == 0) {
    r->cio.data = r;
    uv_timer_init(&r->cl, &r->cguard);
    r->cguard.data = r;
    uv_timer_start(&r->cguard, raw_rr_guard, (uint64_t)(opts.limit_s * 1000),
                   0);
    uv_timer_init(&r->cl, &r->resend);
    r->resend.data = r;
    uv_timer_start(&r->resend, raw_rr_resend, 200, 200);
    raw_rr_send(r, MSG);
    tcpu_io_flush(&r->cio);
    uv_run(&r->cl, UV_RUN_DEFAULT);
  }
  loop_finish(&r->cl);
  return NULL;
}

rr_result bench_rr_raw_udp_uv(const char *key) {
  rr_result res = {0, 0, 0};
  raw_rr *r = calloc(1, sizeof(*r));
  pthread_t ts, tc;

  if (r == NULL || lat_init(&r->lat, opts.rr_count) != 0) {
    free(r);
    return res;
  }
  uv_sem_init(&r->ready, 0);
  thread_start(&ts, CPU_SERVER, raw_rr_server, r);
  uv_sem_wait(&r->ready);
  if (r->setup_err == 0) {
    thread_start(&tc, CPU_CLIENT, raw_rr_client, r);
    pthread_join(tc, NULL);
  }
  pthread_join(ts, NULL);
  report(&res, &r->lat, key, r->ok && r->fail == 0, r->lost);
  lat_free(&r->lat);
  uv_sem_destroy(&r->ready);
  free(r);
  return res;
}

/* ================================================ blocking sockets */

typedef struct blk_rr {
  int sfd; /* server socket (UDP) or listener (TCP) */
  uint16_t port;
  int tcp;
  lat lat;
  uint64_t lost;
  int ok;
} blk_rr;

static void set_timeout(int fd, int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int read_full(int fd, uint8_t *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = recv(fd, buf + got, len - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    got += (size_t)n;
  }
  return 0;
}

static void *blk_server(void *arg) {
  blk_rr *r = arg;
  uint8_t buf[2048];

  if (r->tcp) {
    int fd = ktcp_accept(r->sfd);
    int one = 1;
    if (fd < 0)
      return NULL;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    set_timeout(fd, (int)(opts.limit_s * 1000));
    while (read_full(fd, buf, MSG) == 0)
      if (send(fd, buf, MSG, 0) != MSG)
        break;
    close(fd);
    return NULL;
  }
  set_timeout(r->sfd, (int)(opts.limit_s * 1000));
  for (;;) {
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t n =
        recvfrom(r->sfd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 1)
      break; /* goodbye, or the time limit */
    (void)sendto(r->sfd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
  }
  return NULL;
}

static void *blk_client(void *arg) {
  blk_rr *r = arg;
  uint8_t msg[MSG], buf[2048];
  struct sockaddr_in sin;
  uint64_t deadline = now_ns() + (uint64_t)(opts.limit_s * 1e9);
  int fd;

  memset(msg, 'q', MSG);
  if (r->tcp) {
    int one = 1;
    fd = ktcp_connect(r->port, 1400);
    if (fd < 0)
      return NULL;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    set_timeout(fd, (int)(opts.limit_s * 1000));
  } else {
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(r->port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
      return NULL;
    set_timeout(fd, 200);
  }
  for (unsigned i = 0; i < opts.rr_warmup + opts.rr_count; i++) {
    uint64_t t = now_ns();
    if (now_ns() > deadline || send(fd, msg, MSG, 0) != MSG)
      break;
    if (r->tcp ? read_full(fd, buf, MSG) != 0
               : recv(fd, buf, sizeof(buf), 0) != MSG) {
      if (r->tcp || errno != EAGAIN)
        break;
      r->lost++; /* lost datagram: ask again */
      i--;
      continue;
    }
    if (i >= opts.rr_warmup)
      lat_add(&r->lat, now_ns() - t);
    if (i + 1 == opts.rr_warmup + opts.rr_count)
      r->ok = 1;
  }
  if (!r->tcp)
    (void)send(fd, msg, 1, 0); /* goodbye */
  close(fd);
  return NULL;
}

static rr_result blk_run(const char *key, int tcp) {
  rr_result res = {0, 0, 0};
  blk_rr r;
  pthread_t ts, tc;

  memset(&r, 0, sizeof(r));
  r.tcp = tcp;
  if (lat_init(&r.lat, opts.rr_count) != 0)
    return res;
  if (tcp) {
    r.sfd = ktcp_listen(&r.port, 1400);
  } else {
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    r.sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (r.sfd >= 0 &&
        (bind(r.sfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
         getsockname(r.sfd, (struct sockaddr *)&sin, &len) != 0)) {
      close(r.sfd);
      r.sfd = -1;
    }
    r.port = ntohs(sin.sin_port);
  }
  if (r.sfd >= 0) {
    thread_start(&ts, CPU_SERVER, blk_server, &r);
    thread_start(&tc, CPU_CLIENT, blk_client, &r);
    pthread_join(tc, NULL);
    pthread_join(ts, NULL);
    close(r.sfd);
  }
  report(&res, &r.lat, key, r.ok, r.lost);
  lat_free(&r.lat);
  return res;
}

rr_result bench_rr_raw_udp_blocking(const char *key) { return blk_run(key, 0); }

rr_result bench_rr_kernel_tcp(const char *key) { return blk_run(key, 1); }
