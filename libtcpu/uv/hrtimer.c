/*
 * hrtimer.c — nanosecond one-shot timer: timerfd + uv_poll_t on Linux,
 * uv_timer_t rounded up to milliseconds elsewhere (see hrtimer.h).
 */
#include "uv/hrtimer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !defined(TCPU_IO_PORTABLE)
#include <sys/timerfd.h>
#define HRT_TIMERFD 1
#endif

/* A benchmark knob from the environment, 0 when unset or malformed. */
static uint64_t env_number(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || *v == 0)
    return 0;
  char *end;
  unsigned long long n = strtoull(v, &end, 0);
  return *end == 0 ? (uint64_t)n : 0;
}

/* ------------------------------------------------- millisecond fallback */

static void on_uv_timer(uv_timer_t *handle) {
  tcpu_hrtimer *t = handle->data;

  t->wakeups++;
  t->deadline = TCPU_TSTAMP_NONE;
  t->cb(t);
}

static void ms_start(tcpu_hrtimer *t) {
  /* libuv counts whole milliseconds from the loop's cached time, which is
   * uv_hrtime() rounded down: count from that same base, or the timer can
   * fire up to a millisecond before the deadline. */
  uv_update_time(t->loop);
  tcpu_tstamp base = uv_now(t->loop) * TCPU_NS_PER_MS;
  uint64_t ms = t->deadline <= base
                    ? 0
                    : (t->deadline - base + TCPU_NS_PER_MS - 1) / TCPU_NS_PER_MS;
  t->arms++;
  uv_timer_start(&t->h.timer, on_uv_timer, ms, 0);
}

/* --------------------------------------------------------------- timerfd */

#if defined(HRT_TIMERFD)
static void kernel_arm(tcpu_hrtimer *t, tcpu_tstamp when) {
  struct itimerspec its;
  uint64_t v;
  int flags = 0;

  memset(&its, 0, sizeof(its));
  if (t->absolute) {
    v = when + (uint64_t)t->clock_offset;
    flags = TFD_TIMER_ABSTIME;
  } else {
    tcpu_tstamp now = uv_hrtime();
    v = when > now ? when - now : 0;
  }
  if (v == 0)
    v = 1; /* an all-zero it_value would disarm */
  its.it_value.tv_sec = (time_t)(v / TCPU_NS_PER_S);
  its.it_value.tv_nsec = (long)(v % TCPU_NS_PER_S);
  t->arms++;
  if (timerfd_settime(t->fd, flags, &its, NULL) == 0)
    t->armed = when;
}

static void on_timerfd(uv_poll_t *handle, int status, int events) {
  tcpu_hrtimer *t = handle->data;
  uint64_t expirations;

  (void)events;
  if (status < 0 || t->closing)
    return;
  /* Re-arming resets the counter: a wake-up for an expiry that was moved
   * reads EAGAIN and is ignored. */
  if (read(t->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
    return;
  t->wakeups++;
  t->armed = TCPU_TSTAMP_NONE;
  if (t->deadline == TCPU_TSTAMP_NONE)
    return;
  if (t->deadline > uv_hrtime()) {
    /* it was moved later: wait the rest */
    kernel_arm(t, t->deadline + t->slack);
    return;
  }
  t->deadline = TCPU_TSTAMP_NONE;
  t->cb(t);
}

/* Uses absolute expiries when CLOCK_MONOTONIC is uv_hrtime()'s clock (it
 * is, on Linux), else an offset measured now. */
static void calibrate(tcpu_hrtimer *t) {
  struct timespec ts;
  tcpu_tstamp a, b, mono;

  a = uv_hrtime();
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
    t->absolute = 0;
    return;
  }
  b = uv_hrtime();
  mono = (uint64_t)ts.tv_sec * TCPU_NS_PER_S + (uint64_t)ts.tv_nsec;
  t->absolute = 1;
  t->clock_offset = mono >= a && mono <= b ? 0 : (int64_t)(mono - b);
  if (t->clock_offset != 0 && (t->clock_offset > (int64_t)TCPU_NS_PER_S ||
                               t->clock_offset < -(int64_t)TCPU_NS_PER_S))
    t->absolute = 0; /* a different clock altogether: arm relatively */
}
#endif

/* ------------------------------------------------------------------ API */

int tcpu_hrtimer_init(uv_loop_t *loop, tcpu_hrtimer *t, unsigned flags) {
  if (loop == NULL || t == NULL)
    return TCPU_ERR_INVAL;
  memset(t, 0, sizeof(*t));
  flags |= (unsigned)env_number(TCPU_HRTIMER_ENV_FLAGS);
  t->loop = loop;
  t->fd = -1;
  t->deadline = TCPU_TSTAMP_NONE;
  t->armed = TCPU_TSTAMP_NONE;
  uint64_t forced_slack = env_number(TCPU_HRTIMER_ENV_SLACK);
  t->slack = forced_slack == 0   ? TCPU_HRTIMER_SLACK_NS
             : forced_slack == 1 ? 0
                                 : forced_slack;
#if defined(HRT_TIMERFD)
  if (!(flags & TCPU_HRTIMER_MS)) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd >= 0) {
      if (uv_poll_init(loop, &t->h.poll, fd) == 0) {
        t->fd = fd;
        t->h.poll.data = t;
        calibrate(t);
        /* Cannot fail on Unix (libuv returns 0 unconditionally). */
        (void)uv_poll_start(&t->h.poll, UV_READABLE, on_timerfd);
        return 0;
      }
      close(fd);
    }
  }
#else
  (void)flags;
#endif
  uv_timer_init(loop, &t->h.timer);
  t->h.timer.data = t;
  return 0;
}

int tcpu_hrtimer_precise(const tcpu_hrtimer *t) { return t->fd >= 0; }

void tcpu_hrtimer_start(tcpu_hrtimer *t, tcpu_hrtimer_cb cb,
                        tcpu_tstamp deadline) {
  if (t->closing)
    return;
  t->cb = cb;
  if (deadline == TCPU_TSTAMP_NONE) {
    tcpu_hrtimer_stop(t);
    return;
  }
  if (t->fd < 0) {
    if (deadline != t->deadline || !uv_is_active((uv_handle_t *)&t->h.timer)) {
      t->deadline = deadline;
      ms_start(t);
    }
    return;
  }
#if defined(HRT_TIMERFD)
  t->deadline = deadline;
  /* A kernel timer inside [deadline, deadline + slack] will do.  One set
   * before the deadline fires early once and is re-armed then. */
  if (t->armed > deadline + t->slack)
    kernel_arm(t, deadline + t->slack);
#endif
}

void tcpu_hrtimer_stop(tcpu_hrtimer *t) {
  t->deadline = TCPU_TSTAMP_NONE;
  /* timerfd: an armed kernel timer stays, and its wake-up finds nothing
   * to do; that is cheaper than a system call for every stop. */
  if (t->fd < 0 && !t->closing)
    uv_timer_stop(&t->h.timer);
}

static void on_closed(uv_handle_t *handle) {
  tcpu_hrtimer *t = handle->data;

  if (t->fd >= 0) {
    close(t->fd);
    t->fd = -1;
  }
  if (t->close_cb != NULL)
    t->close_cb(t);
}

void tcpu_hrtimer_close(tcpu_hrtimer *t, tcpu_hrtimer_cb close_cb) {
  if (t->closing)
    return;
  t->deadline = TCPU_TSTAMP_NONE;
  t->closing = 1;
  t->close_cb = close_cb;
  if (t->fd >= 0) {
    uv_poll_stop(&t->h.poll);
    uv_close((uv_handle_t *)&t->h.poll, on_closed);
  } else {
    uv_close((uv_handle_t *)&t->h.timer, on_closed);
  }
}
