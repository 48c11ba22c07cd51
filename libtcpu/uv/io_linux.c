/*
 * io_linux.c — batched datagram I/O for the libuv binding (see io.h).
 *
 * Linux: recvmmsg/sendmmsg, UDP GSO (UDP_SEGMENT, Linux 4.18) and UDP GRO
 * (UDP_GRO, Linux 5.0), each probed at run time and dropped when the
 * kernel says no.  Elsewhere, or with TCPU_IO_PORTABLE, or with the
 * TCPU_IO_NO_MMSG flag, the same queue is served by one sendmsg/recvmsg per
 * datagram.
 *
 * Send queue.  The owner writes each datagram at the end of the arena;
 * runs[] describe them: consecutive datagrams for one destination, all of
 * the first one's size except possibly a shorter last one, up to 64
 * segments and 65,000 bytes.  With GSO a run is one message with a
 * UDP_SEGMENT cmsg; without it, one message per datagram.  `done` counts
 * the datagrams of the head run that already left one by one.  Runs leave
 * strictly in order; the arena is reused from the start once all have
 * left, and nothing new is accepted while the socket is full.
 */
#include "uv/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#if defined(__linux__)
#include <netinet/udp.h>
#endif

#if defined(__linux__) && !defined(TCPU_IO_PORTABLE)
#define IO_HAVE_MMSG 1
#if defined(UDP_SEGMENT)
#define IO_HAVE_GSO 1
#endif
#if defined(UDP_GRO)
#define IO_HAVE_GRO 1
#endif
#endif

#ifndef SOL_UDP
#define SOL_UDP IPPROTO_UDP
#endif

/* Socket buffers asked of the kernel: Linux's 208 KiB default holds fewer
 * than 100 full-sized datagrams, less than one burst of a congestion
 * window, and overflows on loopback.  The kernel caps the request at
 * net.core.rmem_max / wmem_max. */
#define SOCKBUF_LEN (4 << 20)
/* A GRO super-datagram is at most one IP packet's worth. */
#define GRO_SLOT_LEN 65536
#define MIN_SLOT_LEN 2048

#if defined(IO_HAVE_MMSG)
typedef struct mmsghdr io_msg;
#else
/* Same member names as Linux's struct mmsghdr. */
typedef struct io_msg {
  struct msghdr msg_hdr;
  unsigned int msg_len;
} io_msg;
#endif

typedef union io_cmsg {
  char buf[CMSG_SPACE(sizeof(int))];
  struct cmsghdr align;
} io_cmsg;

typedef struct send_area {
  io_msg msgs[TCPU_IO_SEND_MAX];
  struct iovec iov[TCPU_IO_SEND_MAX];
  io_cmsg ctl[TCPU_IO_SEND_MAX];
  uint32_t msg_run[TCPU_IO_SEND_MAX]; /* run of each message */
  uint8_t msg_gso[TCPU_IO_SEND_MAX];  /* message is a whole GSO run */
} send_area;

typedef struct recv_area {
  io_msg *msgs;
  struct iovec *iov;
  struct sockaddr_storage *from;
  io_cmsg *ctl;
} recv_area;

static void on_poll(uv_poll_t *handle, int status, int events);

static unsigned env_flags(void) {
  const char *v = getenv(TCPU_IO_ENV_FLAGS);
  if (v == NULL || *v == 0)
    return 0;
  char *end;
  unsigned long n = strtoul(v, &end, 0);
  return *end == 0 ? (unsigned)n : 0;
}

/* ------------------------------------------------------------ addresses */

int tcpu_io_addr_from_sockaddr(tcpu_addr *addr, const struct sockaddr *sa) {
  memset(addr, 0, sizeof(*addr));
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    addr->family = TCPU_AF_INET;
    addr->port = ntohs(sin->sin_port);
    memcpy(addr->ip, &sin->sin_addr, 4);
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    addr->family = TCPU_AF_INET6;
    addr->port = ntohs(sin6->sin6_port);
    memcpy(addr->ip, &sin6->sin6_addr, 16);
    addr->scope_id = sin6->sin6_scope_id;
    return 0;
  }
  return TCPU_ERR_INVAL;
}

socklen_t tcpu_io_addr_to_sockaddr(struct sockaddr_storage *ss,
                                   const tcpu_addr *addr) {
  memset(ss, 0, sizeof(*ss));
  if (addr->family == TCPU_AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(addr->port);
    memcpy(&sin->sin_addr, addr->ip, 4);
    return sizeof(*sin);
  }
  if (addr->family == TCPU_AF_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(addr->port);
    memcpy(&sin6->sin6_addr, addr->ip, 16);
    sin6->sin6_scope_id = addr->scope_id;
    return sizeof(*sin6);
  }
  return 0;
}

/* ------------------------------------------------- system call wrappers */

#if defined(IO_HAVE_MMSG)
static int use_mmsg(const tcpu_io *io) {
  return !(io->flags & TCPU_IO_NO_MMSG);
}
#endif

/* sendmmsg() semantics: the number of messages sent, or -1 and errno when
 * the first one failed. */
static int send_msgs(tcpu_io *io, io_msg *m, unsigned n) {
  io->stats.send_calls++;
#if defined(IO_HAVE_MMSG)
  if (use_mmsg(io))
    return sendmmsg(io->fd, m, n, 0);
#endif
  unsigned i;
  for (i = 0; i < n; i++) {
    ssize_t rv = sendmsg(io->fd, &m[i].msg_hdr, 0);
    if (rv < 0)
      break;
    m[i].msg_len = (unsigned int)rv;
    if (i + 1 < n)
      io->stats.send_calls++;
  }
  return i > 0 ? (int)i : -1;
}

/* recvmmsg() semantics on a nonblocking socket. */
static int recv_msgs(tcpu_io *io, io_msg *m, unsigned n) {
#if defined(IO_HAVE_MMSG)
  if (use_mmsg(io))
    return recvmmsg(io->fd, m, n, 0, NULL);
#endif
  unsigned i;
  for (i = 0; i < n; i++) {
    ssize_t rv = recvmsg(io->fd, &m[i].msg_hdr, 0);
    if (rv < 0)
      break;
    m[i].msg_len = (unsigned int)rv;
  }
  return i > 0 ? (int)i : -1;
}

/* ---------------------------------------------------------------- poll */

static void set_poll(tcpu_io *io, int events) {
  if (io->closing || events == io->poll_events)
    return;
  io->poll_events = events;
  /* Changes the event mask of the live handle; cannot fail on Unix. */
  (void)uv_poll_start(&io->poll, events, on_poll);
}

/* --------------------------------------------------------------- output */

static void queue_reset(tcpu_io *io) {
  io->nruns = io->head = io->ndgrams = 0;
  io->arena_used = 0;
}

static unsigned run_segs(const tcpu_io_run *r) {
  return (r->len + r->seg - 1) / r->seg;
}

static int queue_full(const tcpu_io *io) {
  return io->arena_used + io->max_dgram > TCPU_IO_SEND_ARENA ||
         io->ndgrams >= TCPU_IO_SEND_MAX || io->nruns >= TCPU_IO_SEND_MAX;
}

uint8_t *tcpu_io_next_buf(tcpu_io *io) {
  if (io->writable_wait || io->closing)
    return NULL;
  if (queue_full(io) && tcpu_io_flush(io) != 0)
    return NULL;
  return io->arena + io->arena_used;
}

void tcpu_io_commit(tcpu_io *io, const tcpu_addr *to, size_t len) {
  if (len == 0)
    return;
  if (len > io->max_dgram || io->writable_wait || io->closing) {
    io->stats.send_errors++; /* misuse: no buffer was handed out */
    return;
  }
  if (io->nruns > io->head) {
    tcpu_io_run *r = &io->runs[io->nruns - 1];
    if (io->gso && r->done == 0 && !r->nogso && len <= r->seg &&
        r->len % r->seg == 0 && r->len / r->seg < TCPU_IO_GSO_MAX_SEGS &&
        r->len + len <= TCPU_IO_GSO_MAX_BYTES && tcpu_addr_equal(&r->to, to)) {
      r->len += (uint32_t)len;
      goto queued;
    }
  }
  tcpu_io_run *r = &io->runs[io->nruns];
  r->off = (uint32_t)io->arena_used;
  r->len = (uint32_t)len;
  r->seg = (uint16_t)len;
  r->done = 0;
  r->nogso = 0;
  if (io->nruns > io->head &&
      tcpu_addr_equal(&io->runs[io->nruns - 1].to, to)) {
    const tcpu_io_run *prev = &io->runs[io->nruns - 1];
    r->to = prev->to;
    r->salen = prev->salen;
    memcpy(&r->sa, &prev->sa, prev->salen);
  } else {
    r->to = *to;
    r->salen = tcpu_io_addr_to_sockaddr(&r->sa, to);
  }
  io->nruns++;
queued:
  io->arena_used += len;
  io->ndgrams++;
  if (queue_full(io))
    tcpu_io_flush(io);
}

/* Fills the message array from runs[head..]: one message per run with GSO,
 * else one per remaining datagram.  Returns the number of messages. */
static unsigned build_msgs(tcpu_io *io, send_area *sa) {
  unsigned n = 0;
  for (unsigned i = io->head; i < io->nruns && n < TCPU_IO_SEND_MAX; i++) {
    tcpu_io_run *r = &io->runs[i];
    unsigned segs = run_segs(r);
    int whole = io->gso && !r->nogso && r->done == 0 && segs > 1;
    for (unsigned s = r->done; s < segs && n < TCPU_IO_SEND_MAX; s++) {
      io_msg *m = &sa->msgs[n];
      uint32_t off = r->off + s * r->seg;
      uint32_t len =
          whole ? r->len : (s + 1 < segs ? r->seg : r->len - s * r->seg);
      memset(&m->msg_hdr, 0, sizeof(m->msg_hdr));
      sa->iov[n].iov_base = io->arena + off;
      sa->iov[n].iov_len = len;
      m->msg_hdr.msg_name = &r->sa;
      m->msg_hdr.msg_namelen = r->salen;
      m->msg_hdr.msg_iov = &sa->iov[n];
      m->msg_hdr.msg_iovlen = 1;
      sa->msg_run[n] = i;
      sa->msg_gso[n] = (uint8_t)whole;
#if defined(IO_HAVE_GSO)
      if (whole) {
        struct cmsghdr *cm;
        memset(&sa->ctl[n], 0, sizeof(sa->ctl[n]));
        m->msg_hdr.msg_control = sa->ctl[n].buf;
        m->msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        cm = CMSG_FIRSTHDR(&m->msg_hdr);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        memcpy(CMSG_DATA(cm), &r->seg, sizeof(uint16_t));
      }
#endif
      n++;
      if (whole)
        break;
    }
  }
  return n;
}

/* The message went: advance the queue past it. */
static void msg_done(tcpu_io *io, const send_area *sa, unsigned k, int ok) {
  tcpu_io_run *r = &io->runs[sa->msg_run[k]];
  unsigned segs = run_segs(r);
  unsigned count = sa->msg_gso[k] ? segs : 1;

  if (ok) {
    io->stats.dgrams_sent += count;
    if (sa->msg_gso[k])
      io->stats.gso_sends++;
  } else {
    io->stats.send_errors += count;
  }
  r->done = (uint16_t)(r->done + count);
  if (r->done >= segs)
    io->head++;
}

static int gso_refused(int err) {
  return err == EINVAL || err == EIO || err == EOPNOTSUPP ||
         err == ENOPROTOOPT || err == EMSGSIZE;
}

int tcpu_io_flush(tcpu_io *io) {
  send_area *sa = io->send_msgs;

  if (io->writable_wait)
    return 1; /* the poll callback flushes once the socket takes more */
  while (io->head < io->nruns) {
    unsigned n = build_msgs(io, sa);
    int rv = send_msgs(io, sa->msgs, n);
    if (rv > 0) {
      for (unsigned k = 0; k < (unsigned)rv; k++)
        msg_done(io, sa, k, 1);
      if (sa->msg_gso[0])
        io->gso_ok = 1;
      continue;
    }
    int err = errno;
    if (err == EINTR)
      continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      io->stats.send_blocked++;
      io->writable_wait = 1;
      set_poll(io, UV_READABLE | UV_WRITABLE);
      return 1;
    }
    if (sa->msg_gso[0] && gso_refused(err)) {
      /* The kernel, the device or the route cannot segment: resend the run
       * datagram by datagram.  GSO never worked on this socket: off for
       * good; it did: only this run (a route with a smaller MTU, say). */
      if (!io->gso_ok)
        io->gso = 0;
      io->runs[sa->msg_run[0]].nogso = 1;
      continue;
    }
    /* Refused for good (unreachable, too big, ...): a lost datagram. */
    io->stats.last_error = uv_translate_sys_error(err);
    msg_done(io, sa, 0, 0);
  }
  queue_reset(io);
  return 0;
}

int tcpu_io_blocked(const tcpu_io *io) { return io->writable_wait; }

/* ---------------------------------------------------------------- input */

#if defined(IO_HAVE_GRO)
/* The segment size of a coalesced receive, 0 if the datagram is plain. */
static size_t gro_size(struct msghdr *h) {
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm != NULL;
       cm = CMSG_NXTHDR(h, cm)) {
    if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
      int v;
      memcpy(&v, CMSG_DATA(cm), sizeof(v));
      return v > 0 ? (size_t)v : 0;
    }
  }
  return 0;
}
#endif

/* One datagram, or a GRO super-datagram cut back into its segments. */
static void deliver(tcpu_io *io, io_msg *m, tcpu_tstamp now) {
  struct msghdr *h = &m->msg_hdr;
  const uint8_t *p = h->msg_iov[0].iov_base;
  size_t len = m->msg_len;
  size_t seg = 0;
  tcpu_addr from;

  if ((h->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
      tcpu_io_addr_from_sockaddr(&from, h->msg_name) != 0) {
    io->stats.recv_errors++;
    return;
  }
#if defined(IO_HAVE_GRO)
  if (io->gro && h->msg_controllen > 0)
    seg = gro_size(h);
#endif
  if (seg == 0 || seg >= len) {
    io->stats.dgrams_received++;
    io->recv_cb(io, &from, p, len, now);
    return;
  }
  io->stats.gro_recvs++;
  for (size_t off = 0; off < len && !io->closing; off += seg) {
    size_t n = len - off < seg ? len - off : seg;
    io->stats.dgrams_received++;
    io->recv_cb(io, &from, p + off, n, now);
  }
}

static void receive(tcpu_io *io) {
  recv_area *ra = io->recv_msgs;

  for (int round = 0; round < TCPU_IO_RECV_ROUNDS && !io->closing; round++) {
    unsigned n = (unsigned)io->rslots;
    for (unsigned i = 0; i < n; i++) {
      struct msghdr *h = &ra->msgs[i].msg_hdr;
      ra->iov[i].iov_base = io->rbuf + i * io->rslot;
      ra->iov[i].iov_len = io->rslot;
      h->msg_name = &ra->from[i];
      h->msg_namelen = sizeof(ra->from[i]);
      h->msg_iov = &ra->iov[i];
      h->msg_iovlen = 1;
      h->msg_control = io->gro ? ra->ctl[i].buf : NULL;
      h->msg_controllen = io->gro ? sizeof(ra->ctl[i].buf) : 0;
      h->msg_flags = 0;
    }
    int rv = recv_msgs(io, ra->msgs, n);
    if (rv < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        io->stats.recv_errors++;
        io->stats.last_error = uv_translate_sys_error(errno);
      }
      return;
    }
    io->stats.recv_calls++;
    tcpu_tstamp now = uv_hrtime();
    for (int i = 0; i < rv && !io->closing; i++)
      deliver(io, &ra->msgs[i], now);
    if (io->batch_cb != NULL && !io->closing)
      io->batch_cb(io);
    if ((unsigned)rv < n)
      return; /* the socket is (almost certainly) empty */
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  tcpu_io *io = handle->data;

  if (io->closing)
    return;
  if (status < 0) {
    io->stats.last_error = status;
    return;
  }
  if ((events & UV_WRITABLE) && io->writable_wait) {
    io->writable_wait = 0;
    if (tcpu_io_flush(io) == 0) {
      set_poll(io, UV_READABLE);
      if (io->drain_cb != NULL)
        io->drain_cb(io);
    }
  }
  if ((events & UV_READABLE) && !io->closing)
    receive(io);
}

/* ------------------------------------------------------------ lifecycle */

static int open_socket(const struct sockaddr *addr, int v6only, int *pfd) {
  int bufsize = SOCKBUF_LEN;
  socklen_t len;
  int fd;

  if (addr->sa_family == AF_INET)
    len = sizeof(struct sockaddr_in);
  else if (addr->sa_family == AF_INET6)
    len = sizeof(struct sockaddr_in6);
  else
    return TCPU_ERR_INVAL;
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return uv_translate_sys_error(errno);
#else
  fd = socket(addr->sa_family, SOCK_DGRAM, 0);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    int err = uv_translate_sys_error(errno);
    close(fd);
    return err;
  }
#endif
  if (addr->sa_family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) {
    int err = uv_translate_sys_error(errno);
    close(fd);
    return err;
  }
  /* Best effort: a smaller buffer only costs drops TCP recovers from. */
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
  if (bind(fd, addr, len) != 0) {
    int err = uv_translate_sys_error(errno);
    close(fd);
    return err;
  }
  *pfd = fd;
  return 0;
}

static void free_buffers(tcpu_io *io) {
  recv_area *ra = io->recv_msgs;

  if (ra != NULL) {
    free(ra->msgs);
    free(ra->iov);
    free(ra->from);
    free(ra->ctl);
    free(ra);
  }
  free(io->send_msgs);
  free(io->runs);
  free(io->arena);
  free(io->rbuf);
  io->recv_msgs = io->send_msgs = NULL;
  io->runs = NULL;
  io->arena = io->rbuf = NULL;
}

static int alloc_buffers(tcpu_io *io) {
  recv_area *ra = calloc(1, sizeof(*ra));

  io->recv_msgs = ra;
  io->send_msgs = malloc(sizeof(send_area));
  io->runs = malloc(TCPU_IO_SEND_MAX * sizeof(*io->runs));
  io->arena = malloc(TCPU_IO_SEND_ARENA);
  io->rbuf = malloc(io->rslots * io->rslot);
  if (ra == NULL || io->send_msgs == NULL || io->runs == NULL ||
      io->arena == NULL || io->rbuf == NULL)
    return TCPU_ERR_NOMEM;
  ra->msgs = calloc(io->rslots, sizeof(*ra->msgs));
  ra->iov = calloc(io->rslots, sizeof(*ra->iov));
  ra->from = calloc(io->rslots, sizeof(*ra->from));
  ra->ctl = calloc(io->rslots, sizeof(*ra->ctl));
  if (ra->msgs == NULL || ra->iov == NULL || ra->from == NULL ||
      ra->ctl == NULL)
    return TCPU_ERR_NOMEM;
  return 0;
}

int tcpu_io_init(uv_loop_t *loop, tcpu_io *io, const struct sockaddr *bind_addr,
                 size_t max_dgram, unsigned flags, tcpu_io_recv_cb recv_cb,
                 tcpu_io_event_cb batch_cb, tcpu_io_event_cb drain_cb) {
  int fd = -1;
  int rv;

  if (loop == NULL || io == NULL || bind_addr == NULL || recv_cb == NULL ||
      max_dgram == 0 || max_dgram > TCPU_IO_GSO_MAX_BYTES)
    return TCPU_ERR_INVAL;
  memset(io, 0, sizeof(*io));
  flags |= env_flags();
  io->loop = loop;
  io->max_dgram = max_dgram;
  io->flags = flags;
  io->recv_cb = recv_cb;
  io->batch_cb = batch_cb;
  io->drain_cb = drain_cb;
  io->fd = -1;
  if (bind_addr->sa_family != AF_INET && bind_addr->sa_family != AF_INET6)
    return UV_EAFNOSUPPORT;
  rv = open_socket(bind_addr, (flags & TCPU_IO_V6ONLY) != 0, &fd);
  if (rv != 0)
    return rv;
#if defined(IO_HAVE_GSO)
  io->gso = !(flags & TCPU_IO_NO_GSO);
#endif
#if defined(IO_HAVE_GRO)
  if (!(flags & TCPU_IO_NO_GRO)) {
    int on = 1;
    io->gro = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
  }
#endif
  if (io->gro) {
    io->rslot = GRO_SLOT_LEN;
    io->rslots = TCPU_IO_GRO_SLOTS;
  } else {
    io->rslot = (max_dgram < MIN_SLOT_LEN ? MIN_SLOT_LEN : max_dgram + 63) &
                ~(size_t)63;
    io->rslots = TCPU_IO_RECV_SLOTS;
  }
  rv = alloc_buffers(io);
  if (rv == 0)
    rv = uv_poll_init_socket(loop, &io->poll, fd);
  if (rv != 0) {
    free_buffers(io);
    close(fd);
    return rv;
  }
  io->fd = fd;
  io->poll.data = io;
  /* On Unix uv_poll_start cannot fail (libuv returns 0 unconditionally);
   * uv_poll_init above did the fallible checks of the descriptor. */
  (void)uv_poll_start(&io->poll, UV_READABLE, on_poll);
  io->poll_events = UV_READABLE;
  return 0;
}

static void on_closed(uv_handle_t *handle) {
  tcpu_io *io = handle->data;

  close(io->fd);
  io->fd = -1;
  free_buffers(io);
  if (io->close_cb != NULL)
    io->close_cb(io);
}

void tcpu_io_close(tcpu_io *io, tcpu_io_close_cb close_cb) {
  if (io->closing)
    return;
  io->writable_wait = 0; /* one last try, whatever the socket said before */
  if (io->head < io->nruns && tcpu_io_flush(io) != 0) {
    /* Nothing more fits: the rest is lost with the socket. */
    for (unsigned i = io->head; i < io->nruns; i++)
      io->stats.send_errors += run_segs(&io->runs[i]) - io->runs[i].done;
    queue_reset(io);
  }
  io->closing = 1;
  io->close_cb = close_cb;
  uv_poll_stop(&io->poll);
  uv_close((uv_handle_t *)&io->poll, on_closed);
}

int tcpu_io_local_addr(const tcpu_io *io, tcpu_addr *addr) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);

  if (getsockname(io->fd, (struct sockaddr *)&ss, &len) != 0)
    return uv_translate_sys_error(errno);
  return tcpu_io_addr_from_sockaddr(addr, (const struct sockaddr *)&ss);
}
