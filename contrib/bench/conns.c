/*
 * conns.c — connections rather than bytes:
 *
 *   connection_setup        connect + accept + close cycles per second,
 *                           client thread (CPU 0) against server thread
 *                           (CPU 1); libtcpu and kernel TCP (nonblocking,
 *                           epoll) each with a window of 32 connects in
 *                           flight and one at a time, and libtcpu beside
 *                           10,000 idle connections.  The client closes
 *                           first (it holds the TIME_WAITs), the server
 *                           closes on EOF.
 *   memory_idle_connections N connections between two endpoints of one
 *                           loop, established and idle (no data: send and
 *                           receive rings are allocated on first use); RSS
 *                           and heap growth per connection.
 *   concurrent_connections  N connections from one client endpoint to one
 *                           server endpoint, all opened at once; each sends
 *                           64 bytes, the server echoes them; done when
 *                           every client has its echo.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define CONN_PORT 5003
#define MSG 64
#define CPU_CLIENT 0
#define CPU_SERVER 1

static uint64_t heap_bytes(void) {
  struct mallinfo2 mi = mallinfo2();
  return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

/* ============================================= shared server side */

/* A server that accepts everything into its pool of streams; optionally
 * echoes, and closes a stream at EOF. */
typedef struct srv {
  uv_loop_t loop;
  tcpu_uv_endpoint ep;
  tcpu_uv_stream listener;
  uv_timer_t guard;
  uv_async_t stop;
  struct sockaddr_in addr;
  int backlog, echo, read;
  tcpu_uv_stream *pool; /* one stream per accepted connection, never reused */
  size_t pool_n;
  uint64_t accepted, eofs;
  uint64_t target_eofs; /* stop once this many streams ended (0: on stop) */
  uint64_t t_done;
  int setup_err, timed_out;
  uv_sem_t ready;
  uint8_t buf[2048];
  tcpu_endpoint_stats core;
} srv;

static void srv_end(srv *s) {
  if (s->ep.ep != NULL)
    tcpu_endpoint_get_stats(s->ep.ep, &s->core);
  tcpu_uv_close(&s->listener, NULL);
  tcpu_uv_endpoint_close(&s->ep, NULL);
  uv_close((uv_handle_t *)&s->guard, NULL);
  uv_close((uv_handle_t *)&s->stop, NULL);
}

static void srv_alloc(tcpu_uv_stream *st, size_t sz, uv_buf_t *buf) {
  srv *s = st->data;
  (void)sz;
  *buf = uv_buf_init((char *)s->buf, sizeof(s->buf));
}

static void srv_read(tcpu_uv_stream *st, ssize_t n, const uv_buf_t *buf) {
  srv *s = st->data;
  if (n > 0) {
    if (s->echo) {
      uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
      (void)tcpu_uv_try_write(st, &b, 1);
    }
    return;
  }
  if (n == 0)
    return;
  s->eofs++;
  tcpu_uv_close(st, NULL);
  if (s->target_eofs && s->eofs == s->target_eofs) {
    s->t_done = now_ns();
    srv_end(s);
  }
}

static void srv_on_conn(tcpu_uv_stream *l, int status) {
  srv *s = l->data;
  tcpu_uv_stream *st;
  if (status != 0 || s->accepted >= s->pool_n)
    return;
  st = &s->pool[s->accepted];
  if (tcpu_uv_stream_init(&s->ep, st) != 0)
    return;
  st->data = s;
  if (tcpu_uv_accept(l, st) != 0) {
    tcpu_uv_close(st, NULL);
    return;
  }
  s->accepted++;
  if (s->read)
    tcpu_uv_read_start(st, srv_alloc, srv_read);
}

static void srv_guard(uv_timer_t *t) {
  srv *s = t->data;
  s->timed_out = 1;
  srv_end(s);
}

static void srv_stop(uv_async_t *a) { srv_end(a->data); }

static void *srv_thread(void *arg) {
  srv *s = arg;
  struct sockaddr_in any;
  int len = sizeof(s->addr);

  uv_loop_init(&s->loop);
  uv_ip4_addr("127.0.0.1", 0, &any);
  s->setup_err =
      tcpu_uv_endpoint_init(&s->loop, &s->ep, NULL, (struct sockaddr *)&any, 0);
  if (s->setup_err == 0) {
    tcpu_uv_stream_init(&s->ep, &s->listener);
    s->listener.data = s;
    tcpu_uv_stream_set_nodelay(&s->listener, 1);
    s->setup_err =
        tcpu_uv_listen(&s->listener, CONN_PORT, s->backlog, srv_on_conn);
  }
  if (s->setup_err == 0)
    s->setup_err =
        tcpu_uv_endpoint_getsockname(&s->ep, (struct sockaddr *)&s->addr, &len);
  if (s->setup_err == 0) {
    uv_timer_init(&s->loop, &s->guard);
    s->guard.data = s;
    uv_timer_start(&s->guard, srv_guard, (uint64_t)(opts.limit_s * 1000), 0);
    uv_async_init(&s->loop, &s->stop, srv_stop);
    s->stop.data = s;
  }
  uv_sem_post(&s->ready);
  if (s->setup_err == 0)
    uv_run(&s->loop, UV_RUN_DEFAULT);
  loop_finish(&s->loop);
  return NULL;
}

static int srv_start(srv *s, pthread_t *th, size_t max_conns) {
  s->pool_n = max_conns;
  s->pool = calloc(max_conns, sizeof(*s->pool));
  if (s->pool == NULL)
    return UV_ENOMEM;
  uv_sem_init(&s->ready, 0);
  thread_start(th, CPU_SERVER, srv_thread, s);
  uv_sem_wait(&s->ready);
  uv_sem_destroy(&s->ready);
  return s->setup_err;
}

/* ================================================ setup rate: libtcpu */

typedef struct cli {
  uv_loop_t loop;
  tcpu_uv_endpoint ep;
  uv_timer_t guard;
  const struct sockaddr_in *server;
  unsigned window;
  uint64_t target, started, connected, failed, closed;
  uint64_t t0, t_done;
  int timed_out;
  tcpu_uv_stream *streams;
  tcpu_uv_connect_req *reqs;
  /* idle connections held open while the rate is measured */
  uint64_t idle_n, idle_started, idle_up, idle_failed;
  tcpu_uv_stream *idle;
  tcpu_uv_connect_req *idle_reqs;
  tcpu_endpoint_stats core;
} cli;

static void cli_next(cli *c, size_t slot);

static void cli_end(cli *c) {
  c->t_done = now_ns();
  if (c->ep.ep != NULL)
    tcpu_endpoint_get_stats(c->ep.ep, &c->core);
  tcpu_uv_endpoint_close(&c->ep, NULL);
  uv_close((uv_handle_t *)&c->guard, NULL);
}

static void cli_closed(tcpu_uv_stream *st) {
  cli *c = st->data;
  c->closed++;
  if (c->closed == c->target) {
    cli_end(c);
    return;
  }
  cli_next(c, (size_t)(st - c->streams));
}

static void cli_connected(tcpu_uv_connect_req *req, int status) {
  tcpu_uv_stream *st = req->handle;
  cli *c = st->data;
  if (status == 0)
    c->connected++;
  else
    c->failed++;
  tcpu_uv_close(st, cli_closed);
}

static void cli_next(cli *c, size_t slot) {
  if (c->started >= c->target)
    return;
  tcpu_uv_stream *st = &c->streams[slot];
  tcpu_uv_stream_init(&c->ep, st);
  st->data = c;
  c->started++;
  if (tcpu_uv_connect(&c->reqs[slot], st, (const struct sockaddr *)c->server,
                      CONN_PORT, 10000, cli_connected) != 0) {
    c->failed++;
    tcpu_uv_close(st, cli_closed);
  }
}

static void cli_guard(uv_timer_t *t) {
  cli *c = t->data;
  c->timed_out = 1;
  cli_end(c);
}

static int cli_open(cli *c) {
  struct sockaddr_in any;
  uv_loop_init(&c->loop);
  uv_ip4_addr("127.0.0.1", 0, &any);
  if (tcpu_uv_endpoint_init(&c->loop, &c->ep, NULL, (struct sockaddr *)&any,
                            0) != 0)
    return -1;
  uv_timer_init(&c->loop, &c->guard);
  c->guard.data = c;
  uv_timer_start(&c->guard, cli_guard, (uint64_t)(opts.limit_s * 1000), 0);
  return 0;
}

#define IDLE_WINDOW 256 /* connects in flight: no SYN flood of one socket */

static void idle_next(cli *c);

static void idle_connected(tcpu_uv_connect_req *req, int status) {
  cli *c = req->data;
  if (status == 0)
    c->idle_up++;
  else
    c->idle_failed++;
  if (c->idle_up + c->idle_failed == c->idle_n)
    uv_stop(&c->loop);
  idle_next(c);
}

static void idle_next(cli *c) {
  while (c->idle_started < c->idle_n &&
         c->idle_started - c->idle_up - c->idle_failed < IDLE_WINDOW) {
    uint64_t i = c->idle_started++;
    tcpu_uv_stream_init(&c->ep, &c->idle[i]);
    c->idle_reqs[i].data = c;
    if (tcpu_uv_connect(&c->idle_reqs[i], &c->idle[i],
                        (const struct sockaddr *)c->server, CONN_PORT, 20000,
                        idle_connected) != 0)
      c->idle_failed++;
  }
}

static void *cli_rate_thread(void *arg) {
  cli *c = arg;
  if (cli_open(c) == 0) {
    if (c->idle_n > 0) {
      idle_next(c);
      uv_run(&c->loop, UV_RUN_DEFAULT); /* until all are up (or failed) */
    }
    c->t0 = now_ns();
    for (size_t i = 0; i < c->window; i++)
      cli_next(c, i);
    uv_run(&c->loop, UV_RUN_DEFAULT);
  }
  loop_finish(&c->loop);
  return NULL;
}

double bench_conn_rate_libtcpu(const char *key, unsigned window,
                               unsigned idle) {
  srv s;
  cli c;
  pthread_t ts, tc;
  double rate = 0;

  memset(&s, 0, sizeof(s));
  memset(&c, 0, sizeof(c));
  s.backlog = 1024;
  s.read = 1;
  s.target_eofs = opts.conn_count;
  c.window = window;
  c.target = opts.conn_count;
  c.server = &s.addr;
  c.streams = calloc(window, sizeof(*c.streams));
  c.reqs = calloc(window, sizeof(*c.reqs));
  c.idle_n = idle;
  c.idle = calloc(idle + 1, sizeof(*c.idle));
  c.idle_reqs = calloc(idle + 1, sizeof(*c.idle_reqs));
  if (c.streams != NULL && c.reqs != NULL && c.idle != NULL &&
      c.idle_reqs != NULL &&
      srv_start(&s, &ts, (size_t)opts.conn_count + idle) == 0) {
    thread_start(&tc, CPU_CLIENT, cli_rate_thread, &c);
    pthread_join(tc, NULL);
    if (s.target_eofs && s.eofs < s.target_eofs)
      uv_async_send(&s.stop);
    pthread_join(ts, NULL);
  }
  uint64_t t_end = s.t_done > c.t_done ? s.t_done : c.t_done;
  int ok = !c.timed_out && !s.timed_out && c.connected == opts.conn_count &&
           s.eofs == opts.conn_count && c.idle_up == idle;
  double secs = (double)(t_end - c.t0) / 1e9;
  rate = ok && secs > 0 ? (double)opts.conn_count / secs : 0;
  js_open(key);
  js_bool("ok", ok);
  js_int("connections", opts.conn_count);
  js_int("in_flight", window);
  if (idle)
    js_int("idle_connections_held", c.idle_up);
  js_num("per_second", rate);
  js_num("seconds", secs);
  js_int("connected", c.connected);
  js_int("failed", c.failed);
  js_int("server_accepted", s.accepted);
  js_int("server_eofs", s.eofs);
  js_int("syncookies_sent", s.core.syncookies_sent);
  js_int("accept_queue_overflow", s.core.accept_queue_overflow);
  js_close();
  free(c.streams);
  free(c.reqs);
  free(c.idle);
  free(c.idle_reqs);
  free(s.pool);
  return rate;
}

/* ============================================= setup rate: kernel TCP */

/* Nonblocking sockets on epoll, so kernel TCP gets the same window of
 * connects in flight as libtcpu (window 1 is the plain sequential case). */
typedef struct krate {
  int lfd;
  uint16_t port;
  unsigned window;
  uint64_t accepted, eofs, connected, failed, t0, t_client, t_server;
} krate;

static void *krate_server(void *arg) {
  krate *k = arg;
  uint64_t deadline = now_ns() + (uint64_t)(opts.limit_s * 1e9);
  struct epoll_event ev, evs[64];
  uint8_t b[256];
  int ep = epoll_create1(EPOLL_CLOEXEC);

  if (ep < 0)
    return NULL;
  ev.events = EPOLLIN;
  ev.data.fd = k->lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, k->lfd, &ev);
  while (k->eofs < opts.conn_count && now_ns() < deadline) {
    int n = epoll_wait(ep, evs, 64, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == k->lfd) {
        int c;
        while ((c = accept4(k->lfd, NULL, NULL,
                            SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          k->accepted++;
          ev.events = EPOLLIN;
          ev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      ssize_t r;
      while ((r = read(fd, b, sizeof(b))) > 0)
        ;
      if (r == 0 || (r < 0 && errno != EAGAIN)) {
        k->eofs++;
        close(fd); /* also leaves the epoll set */
      }
    }
  }
  k->t_server = now_ns();
  close(ep);
  return NULL;
}

static int krate_start(krate *k, int ep) {
  struct sockaddr_in sin;
  struct epoll_event ev;
  int mss = 1400;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(k->port);
  if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  ev.events = EPOLLOUT;
  ev.data.fd = fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}

static void *krate_client(void *arg) {
  krate *k = arg;
  uint64_t deadline = now_ns() + (uint64_t)(opts.limit_s * 1e9);
  uint64_t started = 0, open_now = 0;
  struct epoll_event evs[64];
  int ep = epoll_create1(EPOLL_CLOEXEC);

  if (ep < 0)
    return NULL;
  while (k->connected + k->failed < opts.conn_count && now_ns() < deadline) {
    while (started < opts.conn_count && open_now < k->window) {
      started++;
      if (krate_start(k, ep) == 0)
        open_now++;
      else
        k->failed++;
    }
    int n = epoll_wait(ep, evs, 64, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd, err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0)
        k->connected++;
      else
        k->failed++;
      close(fd);
      open_now--;
    }
  }
  k->t_client = now_ns();
  close(ep);
  return NULL;
}

double bench_conn_rate_kernel_tcp(const char *key, unsigned window) {
  krate k;
  pthread_t ts, tc;
  memset(&k, 0, sizeof(k));
  k.window = window;
  k.lfd = ktcp_listen(&k.port, 1400);
  if (k.lfd >= 0) {
    int fl = fcntl(k.lfd, F_GETFL);
    fcntl(k.lfd, F_SETFL, fl | O_NONBLOCK);
    k.t0 = now_ns();
    thread_start(&ts, CPU_SERVER, krate_server, &k);
    thread_start(&tc, CPU_CLIENT, krate_client, &k);
    pthread_join(tc, NULL);
    pthread_join(ts, NULL);
    close(k.lfd);
  }
  uint64_t t_end = k.t_server > k.t_client ? k.t_server : k.t_client;
  double secs = (double)(t_end - k.t0) / 1e9;
  int ok = k.connected == opts.conn_count && k.eofs == opts.conn_count;
  double rate = ok && secs > 0 ? (double)opts.conn_count / secs : 0;
  js_open(key);
  js_bool("ok", ok);
  js_int("connections", opts.conn_count);
  js_int("in_flight", window);
  js_num("per_second", rate);
  js_num("seconds", secs);
  js_int("connected", k.connected);
  js_int("failed", k.failed);
  js_int("server_eofs", k.eofs);
  js_close();
  return rate;
}

/* ============================================== idle connection memory */

typedef struct memrun {
  uv_loop_t loop;
  tcpu_uv_endpoint sep, cep;
  tcpu_uv_stream listener;
  tcpu_uv_stream *cstreams, *sstreams;
  tcpu_uv_connect_req *reqs;
  struct sockaddr_in addr;
  uv_timer_t guard;
  uint64_t n, started, connected, accepted, failed;
  int timed_out;
} memrun;

#define MEM_WINDOW 256 /* connects in flight: no SYN flood of one socket */

static void mem_next(memrun *m);

static void mem_connected(tcpu_uv_connect_req *req, int status) {
  memrun *m = req->data;
  if (status == 0)
    m->connected++;
  else
    m->failed++;
  if (m->connected == m->n && m->accepted == m->n)
    uv_stop(&m->loop);
  mem_next(m);
}

static void mem_next(memrun *m) {
  while (m->started < m->n &&
         m->started - m->connected - m->failed < MEM_WINDOW) {
    uint64_t i = m->started++;
    tcpu_uv_stream_init(&m->cep, &m->cstreams[i]);
    m->reqs[i].data = m;
    if (tcpu_uv_connect(&m->reqs[i], &m->cstreams[i],
                        (const struct sockaddr *)&m->addr, CONN_PORT, 20000,
                        mem_connected) != 0)
      m->failed++;
  }
}

static void mem_on_conn(tcpu_uv_stream *l, int status) {
  memrun *m = l->data;
  if (status != 0 || m->accepted >= m->n)
    return;
  tcpu_uv_stream *st = &m->sstreams[m->accepted];
  tcpu_uv_stream_init(&m->sep, st);
  if (tcpu_uv_accept(l, st) == 0)
    m->accepted++;
  if (m->connected == m->n && m->accepted == m->n)
    uv_stop(&m->loop);
}

static void mem_guard(uv_timer_t *t) {
  memrun *m = t->data;
  m->timed_out = 1;
  uv_stop(&m->loop);
}

void bench_memory_libtcpu(const char *key) {
  memrun m;
  struct sockaddr_in any;
  int len = sizeof(m.addr);
  uint64_t rss0 = 0, rss1 = 0, heap0 = 0, heap1 = 0, t0 = 0, t1 = 0;
  int ok = 0;

  memset(&m, 0, sizeof(m));
  m.n = opts.mem_count;
  m.cstreams = calloc(m.n, sizeof(*m.cstreams));
  m.sstreams = calloc(m.n, sizeof(*m.sstreams));
  m.reqs = calloc(m.n, sizeof(*m.reqs));
  uv_loop_init(&m.loop);
  uv_ip4_addr("127.0.0.1", 0, &any);
  if (m.cstreams && m.sstreams && m.reqs &&
      tcpu_uv_endpoint_init(&m.loop, &m.sep, NULL, (struct sockaddr *)&any,
                            0) == 0) {
    if (tcpu_uv_endpoint_init(&m.loop, &m.cep, NULL, (struct sockaddr *)&any,
                              0) == 0) {
      tcpu_uv_stream_init(&m.sep, &m.listener);
      m.listener.data = &m;
      if (tcpu_uv_listen(&m.listener, CONN_PORT, (int)m.n, mem_on_conn) == 0 &&
          tcpu_uv_endpoint_getsockname(&m.sep, (struct sockaddr *)&m.addr,
                                       &len) == 0) {
        uv_timer_init(&m.loop, &m.guard);
        m.guard.data = &m;
        uv_timer_start(&m.guard, mem_guard, (uint64_t)(opts.limit_s * 1000), 0);
        /* the stream arrays are the application's: touch them first so
         * their pages are not counted as the library's */
        memset(m.cstreams, 0, m.n * sizeof(*m.cstreams));
        memset(m.sstreams, 0, m.n * sizeof(*m.sstreams));
        memset(m.reqs, 0, m.n * sizeof(*m.reqs));
        rss0 = rss_bytes();
        heap0 = heap_bytes();
        t0 = now_ns();
        mem_next(&m);
        uv_run(&m.loop, UV_RUN_DEFAULT);
        t1 = now_ns();
        rss1 = rss_bytes();
        heap1 = heap_bytes();
        ok = !m.timed_out && m.connected == m.n && m.accepted == m.n;
        uv_timer_stop(&m.guard);
      }
    }
  }
  tcpu_uv_endpoint_close(&m.cep, NULL);
  tcpu_uv_endpoint_close(&m.sep, NULL);
  loop_finish(&m.loop);

  double ends = 2.0 * (double)m.n;
  js_open(key);
  js_bool("ok", ok);
  js_int("connections", m.n);
  js_str("note", "both ends live in this process: per_conn divides by 2N "
                 "(each end is one tcpu_conn); per_pair by N; application "
                 "stream structs are excluded (allocated and touched before)");
  js_num("seconds_to_establish", (double)(t1 - t0) / 1e9);
  js_int("rss_delta_bytes", rss1 - rss0);
  js_num("rss_per_conn_bytes", (double)(rss1 - rss0) / ends);
  js_num("rss_per_pair_bytes", (double)(rss1 - rss0) / (double)m.n);
  js_num("heap_per_conn_bytes", (double)(heap1 - heap0) / ends);
  js_int("sizeof_tcpu_conn", bench_sizeof_conn());
  js_int("sizeof_tcpu_uv_stream", sizeof(tcpu_uv_stream));
  js_close();
  free(m.cstreams);
  free(m.sstreams);
  free(m.reqs);
}

/* ====================================== concurrent connections + echo */

typedef struct conc {
  uv_loop_t loop;
  tcpu_uv_endpoint ep;
  uv_timer_t guard;
  const struct sockaddr_in *server;
  uint64_t n, connected, failed, echoed;
  uint64_t t0, t_connected, t_done, rss0, rss_peak;
  int timed_out;
  tcpu_uv_stream *streams;
  tcpu_uv_connect_req *creqs;
  size_t *got;
  uint8_t msg[MSG];
  uint8_t buf[2048];
  tcpu_endpoint_stats core;
  tcpu_uv_stats io;
} conc;

static void conc_end(conc *c) {
  c->t_done = now_ns();
  c->rss_peak = rss_bytes();
  if (c->ep.ep != NULL)
    tcpu_endpoint_get_stats(c->ep.ep, &c->core);
  tcpu_uv_endpoint_get_stats(&c->ep, &c->io);
  for (uint64_t i = 0; i < c->n; i++)
    tcpu_uv_close(&c->streams[i], NULL);
  tcpu_uv_endpoint_close(&c->ep, NULL);
  uv_close((uv_handle_t *)&c->guard, NULL);
}

static void conc_alloc(tcpu_uv_stream *st, size_t sz, uv_buf_t *buf) {
  conc *c = st->endpoint->data;
  (void)sz;
  *buf = uv_buf_init((char *)c->buf, sizeof(c->buf));
}

static void conc_read(tcpu_uv_stream *st, ssize_t n, const uv_buf_t *buf) {
  conc *c = st->endpoint->data;
  size_t i = (size_t)(st - c->streams);
  (void)buf;
  if (n < 0) {
    c->failed++;
    tcpu_uv_read_stop(st);
  } else {
    c->got[i] += (size_t)n;
    if (c->got[i] >= MSG) {
      c->echoed++;
      tcpu_uv_read_stop(st);
    }
  }
  if (c->echoed + c->failed == c->n)
    conc_end(c);
}

/* A failed connect also ends the read with its error: counted there. */
static void conc_connected(tcpu_uv_connect_req *req, int status) {
  conc *c = req->data;
  if (status == 0 && ++c->connected == c->n)
    c->t_connected = now_ns();
}

static void conc_guard(uv_timer_t *t) {
  conc *c = t->data;
  c->timed_out = 1;
  conc_end(c);
}

static void *conc_thread(void *arg) {
  conc *c = arg;
  struct sockaddr_in any;
  uv_buf_t b = uv_buf_init((char *)c->msg, MSG);

  uv_loop_init(&c->loop);
  uv_ip4_addr("127.0.0.1", 0, &any);
  if (tcpu_uv_endpoint_init(&c->loop, &c->ep, NULL, (struct sockaddr *)&any,
                            0) == 0) {
    c->ep.data = c;
    uv_timer_init(&c->loop, &c->guard);
    c->guard.data = c;
    uv_timer_start(&c->guard, conc_guard, (uint64_t)(opts.limit_s * 1000), 0);
    c->rss0 = rss_bytes();
    c->t0 = now_ns();
    /* All at once: every SYN leaves in the same flush. */
    for (uint64_t i = 0; i < c->n; i++) {
      tcpu_uv_stream *st = &c->streams[i];
      tcpu_uv_stream_init(&c->ep, st);
      tcpu_uv_stream_set_nodelay(st, 1);
      c->creqs[i].data = c;
      if (tcpu_uv_connect(&c->creqs[i], st, (const struct sockaddr *)c->server,
                          CONN_PORT, 0, conc_connected) != 0 ||
          tcpu_uv_try_write(st, &b, 1) != MSG ||
          tcpu_uv_read_start(st, conc_alloc, conc_read) != 0)
        c->failed++;
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
  }
  loop_finish(&c->loop);
  return NULL;
}

void bench_concurrent_libtcpu(const char *key) {
  srv s;
  conc *c = calloc(1, sizeof(*c));
  pthread_t ts, tc;
  int ok = 0;

  memset(&s, 0, sizeof(s));
  if (c == NULL)
    return;
  s.backlog = (int)opts.conc_count;
  s.echo = 1;
  s.read = 1;
  c->n = opts.conc_count;
  c->server = &s.addr;
  memset(c->msg, 'c', MSG);
  c->streams = calloc(c->n, sizeof(*c->streams));
  c->creqs = calloc(c->n, sizeof(*c->creqs));
  c->got = calloc(c->n, sizeof(*c->got));
  if (c->streams && c->creqs && c->got && srv_start(&s, &ts, c->n) == 0) {
    thread_start(&tc, CPU_CLIENT, conc_thread, c);
    pthread_join(tc, NULL);
    uv_async_send(&s.stop);
    pthread_join(ts, NULL);
    ok = !c->timed_out && c->echoed == c->n;
  }
  js_open(key);
  js_bool("ok", ok);
  js_int("connections", c->n);
  js_int("server_backlog", (uint64_t)s.backlog);
  js_int("connected", c->connected);
  js_int("echoed", c->echoed);
  js_int("failed", c->failed);
  js_num("seconds_all_connected",
         c->t_connected ? (double)(c->t_connected - c->t0) / 1e9 : 0);
  js_num("seconds_all_echoed", (double)(c->t_done - c->t0) / 1e9);
  js_int("server_accepted", s.accepted);
  js_int("client_dgrams_out", c->core.dgrams_out);
  js_num("client_dgrams_out_per_conn",
         c->n ? (double)c->core.dgrams_out / (double)c->n : 0);
  js_int("server_syn_queue_overflow", s.core.syn_queue_overflow);
  js_int("server_syncookies_sent", s.core.syncookies_sent);
  js_int("server_accept_queue_overflow", s.core.accept_queue_overflow);
  js_int("process_rss_delta_bytes", c->rss_peak - c->rss0);
  js_close();
  free(c->streams);
  free(c->creqs);
  free(c->got);
  free(c);
  free(s.pool);
}
