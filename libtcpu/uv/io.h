/*
 * io.h — the libuv binding's batched datagram I/O engine (io_linux.c).
 *
 * One nonblocking UDP socket watched by a uv_poll_t.  Instead of one
 * system call per datagram it moves datagrams in batches:
 *
 *   input   recvmmsg() of up to TCPU_IO_RECV_SLOTS datagrams per call; with
 *           UDP_GRO the kernel may hand over a run of equal-sized datagrams
 *           as one super-datagram plus its segment size (a cmsg), which the
 *           engine splits again.  Each datagram goes to recv_cb; batch_cb
 *           runs after each batch, so the owner flushes once per batch (one
 *           ACK for many segments, as Linux does after GRO).
 *   output  the owner writes datagrams straight into the engine's send
 *           arena (tcpu_io_next_buf / tcpu_io_commit).  Back-to-back
 *           datagrams to one destination whose sizes are equal (the last
 *           may be shorter) form one run, sent as one UDP GSO super-datagram
 *           (UDP_SEGMENT cmsg): the kernel segments it, and on loopback a
 *           receiver with UDP_GRO gets it whole.  Runs leave in batches of
 *           sendmmsg().
 *
 * Nothing is lost to a full socket: when sendmmsg() answers EAGAIN the
 * unsent runs stay queued, tcpu_io_next_buf returns NULL (the owner stops
 * pulling datagrams from the core) and the poll handle waits for
 * UV_WRITABLE; once the queue is empty drain_cb asks the owner for more.
 * Writable interest is only on while something waits, so nothing spins.
 *
 * Fallbacks: a kernel that rejects the first GSO send (EINVAL, EIO,
 * EOPNOTSUPP, ENOPROTOOPT) gets GSO switched off for good and the run is
 * resent datagram by datagram; a kernel without UDP_GRO (setsockopt fails)
 * gets plain recvmmsg.  Builds for other systems than Linux (or with
 * TCPU_IO_PORTABLE defined) use sendmsg/recvmsg one datagram at a time with
 * the same queueing.
 *
 * Internal to the binding: nothing here is exported from libtcpu.so.
 */
#ifndef TCPU_UV_IO_H
#define TCPU_UV_IO_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tcpu/tcpu.h"

/* Datagrams per recvmmsg() call without GRO, and super-datagram slots
 * (64 KiB each, touched only as far as they are filled) with GRO. */
#define TCPU_IO_RECV_SLOTS 64
#define TCPU_IO_GRO_SLOTS 16
/* Receive batches per readable event before the loop gets a turn, so that a
 * flood on one socket cannot starve timers and output. */
#define TCPU_IO_RECV_ROUNDS 8
/* Send queue: bytes of datagrams and number of datagrams it holds; a full
 * queue is pushed to the socket.  1024 is Linux's UIO_MAXIOV, the most
 * messages one sendmmsg() takes. */
#define TCPU_IO_SEND_ARENA (512u << 10)
#define TCPU_IO_SEND_MAX 1024
/* Linux's UDP_MAX_SEGMENTS, and what one IPv4/IPv6 UDP datagram holds. */
#define TCPU_IO_GSO_MAX_SEGS 64
#define TCPU_IO_GSO_MAX_BYTES 65000

/* tcpu_io_init flags: switch features off (benchmarks, debugging). */
enum {
  TCPU_IO_NO_GSO = 1u << 0,  /* one datagram per message */
  TCPU_IO_NO_GRO = 1u << 1,  /* do not ask for coalesced receives */
  TCPU_IO_NO_MMSG = 1u << 2, /* one system call per datagram */
  TCPU_IO_V6ONLY = 1u << 3   /* an IPv6 socket reaches no IPv4 peers */
};

/* The environment variable TCPU_IO_FORCE_FLAGS, a number, is OR-ed into
 * the flags of every tcpu_io_init: it lets a benchmark (contrib/bench)
 * switch features off in the binding it does not otherwise reach, without
 * global mutable state in the library. */
#define TCPU_IO_ENV_FLAGS "TCPU_IO_FORCE_FLAGS"

typedef struct tcpu_io tcpu_io;

/* One received datagram; now is uv_hrtime() read once per batch. */
typedef void (*tcpu_io_recv_cb)(tcpu_io *io, const tcpu_addr *from,
                                const uint8_t *data, size_t len,
                                tcpu_tstamp now);
/* A receive batch ended, or the send queue emptied after waiting for the
 * socket: time for the owner to flush. */
typedef void (*tcpu_io_event_cb)(tcpu_io *io);
typedef void (*tcpu_io_close_cb)(tcpu_io *io);

typedef struct tcpu_io_stats {
  uint64_t dgrams_received; /* handed to recv_cb */
  uint64_t dgrams_sent;     /* accepted by the socket */
  uint64_t recv_errors;     /* failed reads and truncated datagrams */
  uint64_t send_errors;     /* datagrams the socket refused (dropped) */
  uint64_t send_blocked;    /* times the socket was full and output waited */
  uint64_t recv_calls;      /* recvmmsg/recvmsg calls that returned data */
  uint64_t send_calls;      /* sendmmsg/sendmsg calls */
  uint64_t gso_sends;       /* super-datagrams of 2 or more segments sent */
  uint64_t gro_recvs;       /* coalesced super-datagrams received */
  int last_error;           /* last socket error as a UV_E* code, or 0 */
} tcpu_io_stats;

/* One queued run: datagrams of `seg` bytes (the last may be shorter),
 * back to back in the arena, to one destination. */
typedef struct tcpu_io_run {
  uint32_t off, len; /* bytes in the arena */
  uint16_t seg;      /* segment size */
  uint16_t done;     /* segments already sent (datagram-wise sending) */
  uint8_t nogso;     /* the kernel refused to segment it: one by one */
  tcpu_addr to;
  socklen_t salen;
  struct sockaddr_storage sa;
} tcpu_io_run;

struct tcpu_io {
  void *data; /* the owner's */
  uv_loop_t *loop;
  uv_poll_t poll;
  int fd;
  size_t max_dgram; /* room next_buf guarantees */
  unsigned flags;
  unsigned gso : 1;    /* GSO in use */
  unsigned gso_ok : 1; /* a GSO send has succeeded: errors are not ENOSYS */
  unsigned gro : 1;    /* UDP_GRO enabled on the socket */
  unsigned writable_wait : 1;
  unsigned closing : 1;
  int poll_events;
  tcpu_io_recv_cb recv_cb;
  tcpu_io_event_cb batch_cb, drain_cb;
  tcpu_io_close_cb close_cb;
  tcpu_io_stats stats;

  /* send queue: runs[head..nruns) wait, arena[0..arena_used) holds them */
  uint8_t *arena;
  size_t arena_used;
  tcpu_io_run *runs;
  unsigned nruns, head, ndgrams;
  void *send_msgs; /* struct mmsghdr[TCPU_IO_SEND_MAX] + iovecs + cmsgs */

  /* receive slots */
  uint8_t *rbuf;
  size_t rslot, rslots;
  void *recv_msgs; /* struct mmsghdr[] + iovecs + addresses + cmsgs */
};

/* Opens a nonblocking UDP socket bound to bind_addr with 4 MiB socket
 * buffers (as far as net.core.[rw]mem_max allow), enables GRO unless told
 * not to, and starts watching it.  An IPv6 socket is dual-stack unless
 * flags has TCPU_IO_V6ONLY.  max_dgram is the largest datagram the
 * owner writes (tcpu_endpoint_max_dgram); received datagrams longer than
 * max(max_dgram, 2048) bytes are counted as recv_errors and dropped unless
 * GRO slots are in use (64 KiB).  recv_cb is required; batch_cb and
 * drain_cb may be NULL.  Errors: TCPU_ERR_INVAL, TCPU_ERR_NOMEM,
 * UV_EAFNOSUPPORT (bind_addr neither IPv4 nor IPv6), UV_E* from
 * socket/setsockopt/bind/uv_poll_init.  On error nothing is left open. */
int tcpu_io_init(uv_loop_t *loop, tcpu_io *io, const struct sockaddr *bind_addr,
                 size_t max_dgram, unsigned flags, tcpu_io_recv_cb recv_cb,
                 tcpu_io_event_cb batch_cb, tcpu_io_event_cb drain_cb);

/* Where the next datagram goes: max_dgram writable bytes, or NULL while
 * queued output waits for the socket (stop pulling datagrams then; drain_cb
 * follows).  The pointer stays valid until tcpu_io_commit or tcpu_io_flush. */
uint8_t *tcpu_io_next_buf(tcpu_io *io);

/* Queues the len bytes just written at tcpu_io_next_buf() for `to`.  A
 * full queue is pushed to the socket on the spot. */
void tcpu_io_commit(tcpu_io *io, const tcpu_addr *to, size_t len);

/* Pushes the queue to the socket.  Returns 0 when it is empty, 1 when the
 * rest waits for the socket to become writable (drain_cb follows). */
int tcpu_io_flush(tcpu_io *io);

/* Nonzero while output waits for the socket. */
int tcpu_io_blocked(const tcpu_io *io);

/* Tries once to send what is queued, drops the rest, stops watching and
 * closes the socket.  close_cb (may be NULL) runs from the loop; until then
 * *io must stay valid. */
void tcpu_io_close(tcpu_io *io, tcpu_io_close_cb close_cb);

/* The bound address.  Errors: UV_E* from getsockname, TCPU_ERR_INVAL. */
int tcpu_io_local_addr(const tcpu_io *io, tcpu_addr *addr);

/* struct sockaddr <-> tcpu_addr without the argument checks of the public
 * tcpu_uv_addr_* functions. */
int tcpu_io_addr_from_sockaddr(tcpu_addr *addr, const struct sockaddr *sa);
socklen_t tcpu_io_addr_to_sockaddr(struct sockaddr_storage *ss,
                                   const tcpu_addr *addr);

#endif /* TCPU_UV_IO_H */
