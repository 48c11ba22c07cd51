/*
 * bulk.c — one-connection bulk transfer over loopback: libtcpu (plain mode,
 * the public stream API of tcpu_uv.h), raw UDP moved by the same batched
 * I/O engine (uv/io_linux.c: sendmmsg + GSO out, recvmmsg + GRO in), and
 * kernel TCP with its MSS clamped to 1400 (TCP_MAXSEG).  The libtcpu run
 * also runs in sealed mode (bench_bulk_libtcpu_sealed; sealed.c makes the
 * keys and the peers).
 *
 * Sender and receiver are two threads pinned to CPU 0 and CPU 1, each with
 * its own libuv loop (or blocking sockets for kernel TCP).  The sender
 * sends for opts.bulk_s seconds, then ends the stream; the receiver
 * measures goodput from its first byte to the end of the stream.  CPU is
 * getrusage(RUSAGE_THREAD) user+sys of both threads over their active
 * time, per byte delivered.  On loopback the kernel's receive path of a
 * datagram or segment mostly runs in the sender's system call (softirq on
 * the sending CPU), so the sum is the meaningful figure, not the split.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "uv/hrtimer.h"
#include "uv/internal.h" /* the engine's and timer's counters, for the report */
#include "uv/io.h"

#define TCPU_PORT 5001
#define WRITE_CHUNK (256u << 10)
#define WRITES_IN_FLIGHT 4
#define BULK_BUF (4u << 20) /* libtcpu sndbuf/rcvbuf for bulk runs */
#define CPU_SENDER 0
#define CPU_RECEIVER 1

static uint8_t *source(void) {
  static uint8_t *src;
  if (src == NULL) {
    src = malloc(WRITE_CHUNK);
    if (src == NULL)
      abort();
    for (size_t i = 0; i < WRITE_CHUNK; i++)
      src[i] = (uint8_t)(i * 7u + 1u);
  }
  return src;
}

/* ============================================================ libtcpu */

typedef struct lt_run {
  uv_sem_t ready;
  const bench_seal *seal; /* NULL: plain mode */
  struct sockaddr_in server_addr;
  int setup_err;
  /* receiver */
  uv_loop_t rloop;
  tcpu_uv_endpoint rep;
  tcpu_uv_stream listener, rstream;
  uv_timer_t rguard;
  uint8_t *rbuf;
  uint64_t bytes, t_first, t_eof;
  cpu_mark r0, r1;
  int r_ok, r_fail;
  tcpu_uv_stats rstats;
  tcpu_io_stats rio;
  uint64_t rtimer_arms, rtimer_wakeups;
  tcpu_endpoint_stats rcore;
  /* sender */
  uv_loop_t sloop;
  tcpu_uv_endpoint sep;
  tcpu_uv_stream sstream;
  uv_timer_t sguard;
  tcpu_uv_connect_req creq;
  tcpu_uv_write_req wreq[WRITES_IN_FLIGHT];
  tcpu_uv_shutdown_req shreq;
  unsigned inflight;
  int stopping, s_ok, s_fail;
  uint64_t t_connected, sent;
  cpu_mark s0, s1;
  tcpu_conn_info sinfo;
  tcpu_uv_stats sstats;
  tcpu_io_stats sio;
  uint64_t stimer_arms, stimer_wakeups;
  tcpu_endpoint_stats score;
} lt_run;

static void lt_r_closed_ep(tcpu_uv_endpoint *uvep) { (void)uvep; }

static void lt_r_end(lt_run *r) {
  tcpu_uv_endpoint_get_stats(&r->rep, &r->rstats);
  if (r->rep.impl != NULL) {
    r->rio = r->rep.impl->io.stats;
    r->rtimer_arms = r->rep.impl->timer.arms;
    r->rtimer_wakeups = r->rep.impl->timer.wakeups;
  }
  if (r->rep.ep != NULL)
    tcpu_endpoint_get_stats(r->rep.ep, &r->rcore);
  tcpu_uv_close(&r->rstream, NULL);
  tcpu_uv_close(&r->listener, NULL);
  tcpu_uv_endpoint_close(&r->rep, lt_r_closed_ep);
  uv_close((uv_handle_t *)&r->rguard, NULL);
}

static void lt_alloc(tcpu_uv_stream *s, size_t suggested, uv_buf_t *buf) {
  lt_run *r = s->data;
  (void)suggested;
  *buf = uv_buf_init((char *)r->rbuf, WRITE_CHUNK);
}

static void lt_read(tcpu_uv_stream *s, ssize_t nread, const uv_buf_t *buf) {
  lt_run *r = s->data;
  (void)buf;
  if (nread > 0) {
    if (r->bytes == 0)
      r->t_first = now_ns();
    r->bytes += (uint64_t)nread;
    return;
  }
  if (nread == 0)
    return;
  r->t_eof = now_ns();
  cpu_mark_now(&r->r1);
  if (nread == UV_EOF)
    r->r_ok = 1;
  else
    r->r_fail = (int)nread;
  lt_r_end(r);
}

static void lt_on_connection(tcpu_uv_stream *server, int status) {
  lt_run *r = server->data;
  if (status != 0 || tcpu_uv_stream_init(&r->rep, &r->rstream) != 0 ||
      tcpu_uv_accept(server, &r->rstream) != 0) {
    r->r_fail = status ? status : -1;
    lt_r_end(r);
    return;
  }
  r->rstream.data = r;
  cpu_mark_now(&r->r0);
  tcpu_uv_read_start(&r->rstream, lt_alloc, lt_read);
}

static void lt_r_guard(uv_timer_t *t) {
  lt_run *r = t->data;
  r->r_fail = UV_ETIMEDOUT;
  uv_stop(&r->rloop);
}

/* Opens side's endpoint on an ephemeral loopback port: the bulk settings,
 * and in sealed mode the keys. */
static int lt_endpoint_init(const lt_run *r, int side, uv_loop_t *loop,
                            tcpu_uv_endpoint *uvep) {
  struct sockaddr_in any;
  tcpu_settings st;
  int rc;

  bench_settings(&st, BULK_BUF);
  if (r->seal != NULL)
    bench_seal_settings(r->seal, side, &st);
  uv_loop_init(loop);
  uv_ip4_addr("127.0.0.1", 0, &any);
  rc = tcpu_uv_endpoint_init(loop, uvep, &st, (struct sockaddr *)&any, 0);
  sodium_memzero(st.private_key, sizeof st.private_key);
  return rc;
}

static void *lt_receiver(void *arg) {
  lt_run *r = arg;
  int len = sizeof(r->server_addr);

  r->setup_err = lt_endpoint_init(r, BENCH_RECEIVER, &r->rloop, &r->rep);
  /* The sender's UDP address is learnt from its handshake. */
  if (r->setup_err == 0 && r->seal != NULL)
    r->setup_err = bench_seal_peer(r->seal, BENCH_RECEIVER, &r->rep, NULL);
  if (r->setup_err == 0) {
    tcpu_uv_stream_init(&r->rep, &r->listener);
    r->listener.data = r;
    r->setup_err =
        tcpu_uv_listen(&r->listener, TCPU_PORT, 16, lt_on_connection);
  }
  if (r->setup_err == 0)
    r->setup_err = tcpu_uv_endpoint_getsockname(
        &r->rep, (struct sockaddr *)&r->server_addr, &len);
  uv_sem_post(&r->ready);
  if (r->setup_err == 0) {
    uv_timer_init(&r->rloop, &r->rguard);
    r->rguard.data = r;
    uv_timer_start(&r->rguard, lt_r_guard, (uint64_t)(opts.limit_s * 1000), 0);
    uv_run(&r->rloop, UV_RUN_DEFAULT);
  }
  loop_finish(&r->rloop);
  return NULL;
}

static void lt_s_end(lt_run *r) {
  cpu_mark_now(&r->s1);
  tcpu_uv_stream_get_info(&r->sstream, &r->sinfo);
  tcpu_uv_endpoint_get_stats(&r->sep, &r->sstats);
  if (r->sep.impl != NULL) {
    r->sio = r->sep.impl->io.stats;
    r->stimer_arms = r->sep.impl->timer.arms;
    r->stimer_wakeups = r->sep.impl->timer.wakeups;
  }
  if (r->sep.ep != NULL)
    tcpu_endpoint_get_stats(r->sep.ep, &r->score);
  tcpu_uv_close(&r->sstream, NULL);
  tcpu_uv_endpoint_close(&r->sep, NULL);
  uv_close((uv_handle_t *)&r->sguard, NULL);
}

static void lt_on_shutdown(tcpu_uv_shutdown_req *req, int status) {
  lt_run *r = req->data;
  if (status == 0)
    r->s_ok = 1;
  else
    r->s_fail = status;
  lt_s_end(r);
}

static void lt_on_write(tcpu_uv_write_req *req, int status);

static void lt_write(lt_run *r, tcpu_uv_write_req *req) {
  uv_buf_t b = uv_buf_init((char *)source(), WRITE_CHUNK);
  if (!r->stopping &&
      now_ns() - r->t_connected >= (uint64_t)(opts.bulk_s * 1e9))
    r->stopping = 1;
  if (r->stopping) {
    if (r->inflight == 0) {
      r->shreq.data = r;
      if (tcpu_uv_shutdown(&r->shreq, &r->sstream, lt_on_shutdown) != 0) {
        r->s_fail = -1;
        lt_s_end(r);
      }
    }
    return;
  }
  req->data = r;
  if (tcpu_uv_write(req, &r->sstream, &b, 1, lt_on_write) == 0) {
    r->inflight++;
    r->sent += WRITE_CHUNK;
  } else {
    r->stopping = 1;
    r->s_fail = -1;
  }
}

static void lt_on_write(tcpu_uv_write_req *req, int status) {
  lt_run *r = req->data;
  r->inflight--;
  if (status != 0) {
    r->s_fail = status;
    r->stopping = 1;
  }
  lt_write(r, req);
}

static void lt_on_connect(tcpu_uv_connect_req *req, int status) {
  lt_run *r = req->data;
  if (status != 0) {
    r->s_fail = status;
    lt_s_end(r);
    return;
  }
  cpu_mark_now(&r->s0);
  r->t_connected = now_ns();
  for (unsigned i = 0; i < WRITES_IN_FLIGHT; i++)
    lt_write(r, &r->wreq[i]);
}

static void lt_s_guard(uv_timer_t *t) {
  lt_run *r = t->data;
  r->s_fail = UV_ETIMEDOUT;
  uv_stop(&r->sloop);
}

static void *lt_sender(void *arg) {
  lt_run *r = arg;

  if (lt_endpoint_init(r, BENCH_SENDER, &r->sloop, &r->sep) != 0) {
    r->s_fail = -1;
    loop_finish(&r->sloop);
    return NULL;
  }
  tcpu_uv_stream_init(&r->sep, &r->sstream);
  r->sstream.data = r;
  r->creq.data = r;
  uv_timer_init(&r->sloop, &r->sguard);
  r->sguard.data = r;
  uv_timer_start(&r->sguard, lt_s_guard, (uint64_t)(opts.limit_s * 1000), 0);
  /* Sealed: the receiver becomes a peer at its UDP address, which
   * tcpu_uv_connect then reaches through the peer's session. */
  if ((r->seal != NULL &&
       bench_seal_peer(r->seal, BENCH_SENDER, &r->sep,
                       (struct sockaddr *)&r->server_addr) != 0) ||
      tcpu_uv_connect(&r->creq, &r->sstream, (struct sockaddr *)&r->server_addr,
                      TCPU_PORT, 5000, lt_on_connect) != 0) {
    r->s_fail = -1;
    lt_s_end(r);
  }
  uv_run(&r->sloop, UV_RUN_DEFAULT);
  loop_finish(&r->sloop);
  return NULL;
}

static void report_bulk(bulk_result *res, uint64_t bytes, uint64_t t0,
                        uint64_t t1, uint64_t cpu_tx, uint64_t cpu_rx) {
  double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
  res->gbps = secs > 0 ? (double)bytes * 8 / secs / 1e9 : 0;
  res->cpu_ns_per_b = bytes ? (double)(cpu_tx + cpu_rx) / (double)bytes : 0;
  js_num("gbps", res->gbps);
  js_int("bytes", bytes);
  js_num("seconds", secs);
  js_num("cpu_ns_per_byte", res->cpu_ns_per_b);
  js_num("cpu_sender_s", (double)cpu_tx / 1e9);
  js_num("cpu_receiver_s", (double)cpu_rx / 1e9);
  js_num("cpu_cores_busy",
         secs > 0 ? (double)(cpu_tx + cpu_rx) / 1e9 / secs : 0);
  /* What the busier side could move with a core to itself: the figure
   * that survives a machine shared with other work (README.md). */
  uint64_t busier = cpu_tx > cpu_rx ? cpu_tx : cpu_rx;
  res->gbps_cpu = busier ? (double)bytes * 8 / (double)busier : 0;
  js_num("gbps_if_cpu_bound", res->gbps_cpu);
}

static bulk_result lt_bulk(const char *key, unsigned io_flags,
                           unsigned timer_flags, uint64_t slack_ns,
                           const bench_seal *seal) {
  bulk_result res = {0, 0, 0, 0};
  lt_run *r = calloc(1, sizeof(*r));
  pthread_t tr, ts;

  if (r == NULL)
    return res;
  r->seal = seal;
  r->rbuf = malloc(WRITE_CHUNK);
  bench_set_knobs(io_flags, timer_flags, slack_ns);
  uv_sem_init(&r->ready, 0);
  thread_start(&tr, CPU_RECEIVER, lt_receiver, r);
  uv_sem_wait(&r->ready);
  if (r->setup_err == 0) {
    thread_start(&ts, CPU_SENDER, lt_sender, r);
    pthread_join(ts, NULL);
  }
  pthread_join(tr, NULL);
  bench_set_knobs(0, 0, 0);

  res.ok = r->setup_err == 0 && r->r_ok && r->s_ok && r->bytes == r->sent;
  js_open(key);
  js_bool("ok", res.ok);
  if (!res.ok) {
    js_int("setup_err", (uint64_t)(int64_t)r->setup_err);
    js_str("sender_error", r->s_fail ? uv_err_name(r->s_fail) : "none");
    js_str("receiver_error", r->r_fail ? uv_err_name(r->r_fail) : "none");
  }
  report_bulk(&res, r->bytes, r->t_first, r->t_eof, cpu_used(&r->s0, &r->s1),
              cpu_used(&r->r0, &r->r1));
  js_int("segs_out", r->sinfo.segs_out);
  js_num("payload_bytes_per_segment",
         r->sinfo.segs_out ? (double)r->bytes / (double)r->sinfo.segs_out : 0);
  js_int("retransmits", r->sinfo.retransmits);
  js_num("srtt_us", (double)r->sinfo.srtt / 1e3);
  js_int("cwnd_bytes", r->sinfo.cwnd);
  js_int("sender_dgrams_sent", r->sstats.dgrams_sent);
  js_int("sender_send_blocked", r->sstats.send_blocked);
  js_int("receiver_dgrams_received", r->rstats.dgrams_received);
  /* How the binding moved them (uv/io.h, uv/hrtimer.h counters). */
  js_open("io");
  js_num("sender_dgrams_per_send_call",
         r->sio.send_calls
             ? (double)r->sio.dgrams_sent / (double)r->sio.send_calls
             : 0);
  js_num("sender_dgrams_per_gso_send",
         r->sio.gso_sends
             ? (double)r->sio.dgrams_sent / (double)r->sio.gso_sends
             : 0);
  js_num("receiver_dgrams_per_recv_call",
         r->rio.recv_calls
             ? (double)r->rio.dgrams_received / (double)r->rio.recv_calls
             : 0);
  js_int("receiver_gro_super_dgrams", r->rio.gro_recvs);
  js_int("receiver_acks_sent", r->rio.dgrams_sent);
  js_int("sender_timer_arms", r->stimer_arms);
  js_int("sender_timer_wakeups", r->stimer_wakeups);
  js_close();
  if (seal != NULL) {
    js_str("cipher", bench_cipher_name(seal->cipher));
    bench_seal_report("sender_sealed", &r->score);
    bench_seal_report("receiver_sealed", &r->rcore);
  }
  js_close();
  free(r->rbuf);
  uv_sem_destroy(&r->ready);
  free(r);
  return res;
}

bulk_result bench_bulk_libtcpu(const char *key, unsigned io_flags,
                               unsigned timer_flags, uint64_t slack_ns) {
  return lt_bulk(key, io_flags, timer_flags, slack_ns, NULL);
}

bulk_result bench_bulk_libtcpu_sealed(const char *key, const bench_seal *seal) {
  return lt_bulk(key, 0, 0, 0, seal);
}

/* ============================================================ raw UDP */

#define RAW_DGRAM 1472 /* what libtcpu puts in a full-sized datagram */

typedef struct raw_run {
  uv_sem_t ready;
  tcpu_addr dst;
  unsigned flags;
  int setup_err;
  /* receiver */
  uv_loop_t rloop;
  tcpu_io rio;
  uv_async_t stop;
  uint64_t bytes, dgrams, t_first, t_last;
  cpu_mark r0, r1;
  int gro;
  /* sender */
  uv_loop_t sloop;
  tcpu_io sio;
  uv_idle_t idle;
  uint64_t t_end, sent;
  cpu_mark s0, s1;
  int gso;
  tcpu_io_stats sstats;
} raw_run;

static void raw_recv(tcpu_io *io, const tcpu_addr *from, const uint8_t *data,
                     size_t len, tcpu_tstamp now) {
  raw_run *r = io->data;
  (void)from;
  (void)data;
  if (r->dgrams == 0) {
    r->t_first = now;
    cpu_mark_now(&r->r0);
  }
  r->dgrams++;
  r->bytes += len;
  r->t_last = now;
}

static void raw_stop(uv_async_t *a) {
  raw_run *r = a->data;
  cpu_mark_now(&r->r1);
  r->gro = r->rio.gro;
  tcpu_io_close(&r->rio, NULL);
  uv_close((uv_handle_t *)&r->stop, NULL);
}

static void *raw_receiver(void *arg) {
  raw_run *r = arg;
  struct sockaddr_in any;

  uv_loop_init(&r->rloop);
  uv_ip4_addr("127.0.0.1", 0, &any);
  r->setup_err = tcpu_io_init(&r->rloop, &r->rio, (struct sockaddr *)&any,
                              RAW_DGRAM, r->flags, raw_recv, NULL, NULL);
  if (r->setup_err == 0) {
    r->rio.data = r;
    tcpu_io_local_addr(&r->rio, &r->dst);
    uv_async_init(&r->rloop, &r->stop, raw_stop);
    r->stop.data = r;
  }
  uv_sem_post(&r->ready);
  if (r->setup_err == 0)
    uv_run(&r->rloop, UV_RUN_DEFAULT);
  loop_finish(&r->rloop);
  return NULL;
}

static void raw_fill(uv_idle_t *idle) {
  raw_run *r = idle->data;
  const uint8_t *src = source();
  uint8_t *p;

  if (now_ns() >= r->t_end) {
    tcpu_io_flush(&r->sio);
    cpu_mark_now(&r->s1);
    r->gso = r->sio.gso;
    r->sstats = r->sio.stats;
    uv_idle_stop(idle);
    uv_close((uv_handle_t *)idle, NULL);
    tcpu_io_close(&r->sio, NULL);
    return;
  }
  /* A queue's worth per turn of the loop, as a busy endpoint would. */
  for (int i = 0; i < 256 && (p = tcpu_io_next_buf(&r->sio)) != NULL; i++) {
    memcpy(p, src + (size_t)(i % 128) * RAW_DGRAM, RAW_DGRAM);
    tcpu_io_commit(&r->sio, &r->dst, RAW_DGRAM);
    r->sent += RAW_DGRAM;
  }
  if (tcpu_io_flush(&r->sio) != 0)
    uv_idle_stop(idle); /* drain_cb restarts it */
}

static void raw_drained(tcpu_io *io) {
  raw_run *r = io->data;
  uv_idle_start(&r->idle, raw_fill);
}

static void raw_ignore(tcpu_io *io, const tcpu_addr *from, const uint8_t *data,
                       size_t len, tcpu_tstamp now) {
  (void)io, (void)from, (void)data, (void)len, (void)now;
}

static void *raw_sender(void *arg) {
  raw_run *r = arg;
  struct sockaddr_in any;

  uv_loop_init(&r->sloop);
  uv_ip4_addr("127.0.0.1", 0, &any);
  if (tcpu_io_init(&r->sloop, &r->sio, (struct sockaddr *)&any, RAW_DGRAM,
                   r->flags, raw_ignore, NULL, raw_drained) == 0) {
    r->sio.data = r;
    uv_idle_init(&r->sloop, &r->idle);
    r->idle.data = r;
    cpu_mark_now(&r->s0);
    r->t_end = now_ns() + (uint64_t)(opts.bulk_s * 1e9);
    uv_idle_start(&r->idle, raw_fill);
    uv_run(&r->sloop, UV_RUN_DEFAULT);
  }
  loop_finish(&r->sloop);
  return NULL;
}

bulk_result bench_bulk_raw_udp(const char *key, unsigned io_flags) {
  bulk_result res = {0, 0, 0, 0};
  raw_run *r = calloc(1, sizeof(*r));
  pthread_t tr, ts;

  if (r == NULL)
    return res;
  r->flags = io_flags;
  uv_sem_init(&r->ready, 0);
  thread_start(&tr, CPU_RECEIVER, raw_receiver, r);
  uv_sem_wait(&r->ready);
  if (r->setup_err == 0) {
    thread_start(&ts, CPU_SENDER, raw_sender, r);
    pthread_join(ts, NULL);
    usleep(200 * 1000); /* let the receiver empty its socket */
    uv_async_send(&r->stop);
  }
  pthread_join(tr, NULL);

  res.ok = r->setup_err == 0 && r->dgrams > 0;
  js_open(key);
  js_bool("ok", res.ok);
  js_bool("gso", r->gso);
  js_bool("gro", r->gro);
  js_bool("mmsg", !(io_flags & TCPU_IO_NO_MMSG));
  report_bulk(&res, r->bytes, r->t_first, r->t_last, cpu_used(&r->s0, &r->s1),
              cpu_used(&r->r0, &r->r1));
  js_int("dgram_bytes", RAW_DGRAM);
  js_int("sent_bytes", r->sent);
  js_num("delivered_fraction",
         r->sent ? (double)r->bytes / (double)r->sent : 0);
  js_int("send_calls", r->sstats.send_calls);
  js_close();
  uv_sem_destroy(&r->ready);
  free(r);
  return res;
}

/* ========================================================= kernel TCP */

#define KTCP_MSS 1400

typedef struct ktcp_run {
  int lfd;
  uint16_t port;
  uint64_t bytes, t_first, t_eof, sent;
  cpu_mark r0, r1, s0, s1;
  int r_ok, s_ok;
  int mss_seen;
} ktcp_run;

static void *ktcp_receiver(void *arg) {
  ktcp_run *r = arg;
  uint8_t *buf = malloc(WRITE_CHUNK);
  int fd = ktcp_accept(r->lfd);
  socklen_t len = sizeof(r->mss_seen);

  if (fd < 0 || buf == NULL) {
    free(buf);
    return NULL;
  }
  (void)getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &r->mss_seen, &len);
  cpu_mark_now(&r->r0);
  for (;;) {
    ssize_t n = read(fd, buf, WRITE_CHUNK);
    if (n > 0) {
      if (r->bytes == 0)
        r->t_first = now_ns();
      r->bytes += (uint64_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    r->r_ok = n == 0;
    break;
  }
  r->t_eof = now_ns();
  cpu_mark_now(&r->r1);
  close(fd);
  free(buf);
  return NULL;
}

static void *ktcp_sender(void *arg) {
  ktcp_run *r = arg;
  const uint8_t *src = source();
  int fd = ktcp_connect(r->port, KTCP_MSS);
  uint64_t t_end;

  if (fd < 0)
    return NULL;
  cpu_mark_now(&r->s0);
  t_end = now_ns() + (uint64_t)(opts.bulk_s * 1e9);
  while (now_ns() < t_end) {
    ssize_t n = write(fd, src, WRITE_CHUNK);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    r->sent += (uint64_t)n;
  }
  shutdown(fd, SHUT_WR);
  cpu_mark_now(&r->s1);
  r->s_ok = 1;
  close(fd);
  return NULL;
}

bulk_result bench_bulk_kernel_tcp(const char *key) {
  bulk_result res = {0, 0, 0, 0};
  ktcp_run r;
  pthread_t tr, ts;

  memset(&r, 0, sizeof(r));
  r.lfd = ktcp_listen(&r.port, KTCP_MSS);
  if (r.lfd >= 0) {
    thread_start(&tr, CPU_RECEIVER, ktcp_receiver, &r);
    thread_start(&ts, CPU_SENDER, ktcp_sender, &r);
    pthread_join(ts, NULL);
    pthread_join(tr, NULL);
    close(r.lfd);
  }
  res.ok = r.r_ok && r.s_ok && r.bytes == r.sent;
  js_open(key);
  js_bool("ok", res.ok);
  js_int("mss", (uint64_t)r.mss_seen);
  report_bulk(&res, r.bytes, r.t_first, r.t_eof, cpu_used(&r.s0, &r.s1),
              cpu_used(&r.r0, &r.r1));
  js_close();
  return res;
}
