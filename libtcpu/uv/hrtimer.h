/*
 * hrtimer.h — a one-shot timer with nanosecond deadlines for the libuv
 * binding (hrtimer.c).
 *
 * Why: libuv timers count whole milliseconds of the loop's cached clock,
 * but the core's deadlines are nanoseconds, and at high rates the pacing
 * deadline is tens of microseconds ahead (one 1,472-byte datagram every
 * 1.2 us at 10 Gbit/s; pacer.c allows bursts of max(2 segments, 1 ms)).
 * Rounded up to a millisecond the connection sleeps up to twenty times
 * longer than asked and then sends one burst of stale credit; rounded down
 * the loop spins at a zero timeout.
 *
 * How: on Linux the deadline goes to a timerfd (CLOCK_MONOTONIC, the clock
 * of uv_hrtime(), so a core timestamp is an absolute timerfd expiry,
 * TFD_TIMER_ABSTIME; checked once at init, with relative arming as the
 * fallback) watched by a uv_poll_t.  The kernel's hrtimer wakes epoll at
 * the deadline with microsecond accuracy, and the fd's expiry counter
 * makes a stale wake-up harmless.  A deadline that moves later leaves the
 * kernel timer alone (it fires early once and is re-armed then); only an
 * earlier one costs a timerfd_settime() call, so the RTO, pushed back on
 * every ACK, costs nothing.
 *
 * Slack: like hrtimer_start_range_ns in the kernel, a timer may fire
 * anywhere in [deadline, deadline + slack] (TCPU_HRTIMER_SLACK_NS, 50 us,
 * Linux's default timer slack of a thread).  A kernel timer already set
 * inside that window is kept, and a new one is set to its end.  Waking
 * less often lets the pacer's credit pile up into bursts of several
 * segments, which then leave as one GSO super-datagram, instead of one
 * wake-up (an epoll round and a timer reprogramming) per segment: at
 * 1 Gbit/s 50 us are four full segments, at 10 Gbit/s forty.  Programming
 * the timer is not cheap either: ~0.3 us on bare metal, but ~30 us on the
 * KVM/Firecracker guest the benchmarks ran on (contrib/bench/README.md).
 *
 * Elsewhere (or when timerfd_create fails, or with TCPU_HRTIMER_MS) it is a
 * uv_timer_t armed for the milliseconds left, rounded up: never early, at
 * most about a millisecond late.
 */
#ifndef TCPU_UV_HRTIMER_H
#define TCPU_UV_HRTIMER_H

#include <uv.h>

#include "tcpu/tcpu.h"

/* tcpu_hrtimer_init flags */
enum {
  TCPU_HRTIMER_MS = 1u << 0 /* use the millisecond uv_timer_t fallback */
};

#define TCPU_HRTIMER_SLACK_NS 50000

/* For benchmarks only, read at each tcpu_hrtimer_init (the library keeps
 * no global mutable state): TCPU_HRTIMER_FORCE_FLAGS, a number OR-ed into
 * the flags; TCPU_HRTIMER_SLACK_NS, the slack in ns (1: none at all). */
#define TCPU_HRTIMER_ENV_FLAGS "TCPU_HRTIMER_FORCE_FLAGS"
#define TCPU_HRTIMER_ENV_SLACK "TCPU_HRTIMER_SLACK_NS"

typedef struct tcpu_hrtimer tcpu_hrtimer;
typedef void (*tcpu_hrtimer_cb)(tcpu_hrtimer *t);

struct tcpu_hrtimer {
  void *data; /* the owner's */
  uv_loop_t *loop;
  tcpu_hrtimer_cb cb, close_cb;
  tcpu_tstamp deadline; /* what the owner asked for; NONE: stopped */
  tcpu_tstamp armed;    /* what the kernel timer is set to; NONE: disarmed */
  tcpu_duration slack;  /* firing this much after the deadline is fine */
  int64_t clock_offset; /* CLOCK_MONOTONIC - uv_hrtime(), 0 on Linux */
  int fd;               /* timerfd, or -1 for the uv_timer_t fallback */
  unsigned absolute : 1;
  unsigned closing : 1;
  union {
    uv_poll_t poll;
    uv_timer_t timer;
  } h;
  uint64_t arms, wakeups; /* kernel re-arms and timer wake-ups */
};

/* Errors: TCPU_ERR_INVAL (NULL argument).  When the timerfd cannot be had
 * it falls back to the uv_timer_t, so nothing else fails. */
int tcpu_hrtimer_init(uv_loop_t *loop, tcpu_hrtimer *t, unsigned flags);

/* Calls cb once, from the loop, at or after `deadline` (a uv_hrtime()
 * timestamp, ns), and with the timerfd no later than the slack after it
 * plus the system's wake-up latency.  A running timer is moved.  A
 * deadline already passed fires at the next loop iteration. */
void tcpu_hrtimer_start(tcpu_hrtimer *t, tcpu_hrtimer_cb cb,
                        tcpu_tstamp deadline);
void tcpu_hrtimer_stop(tcpu_hrtimer *t);

/* Nonzero when deadlines are kept to the nanosecond (timerfd). */
int tcpu_hrtimer_precise(const tcpu_hrtimer *t);

/* Stops and closes; close_cb (may be NULL) runs from the loop, after which
 * *t may be released. */
void tcpu_hrtimer_close(tcpu_hrtimer *t, tcpu_hrtimer_cb close_cb);

#endif /* TCPU_UV_HRTIMER_H */
