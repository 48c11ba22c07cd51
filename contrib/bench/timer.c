/*
 * timer.c — how late the binding's timer fires after a deadline, the
 * timerfd hrtimer against the millisecond uv_timer_t fallback (both
 * uv/hrtimer.c), for deadlines 20 us, 100 us and 500 us ahead: the
 * distances a pacer at 1-10 Gbit/s asks for.  Lateness = uv_hrtime() in
 * the callback minus the deadline.  The hrtimer runs without slack (its
 * precision) and once with the binding's default 50 us slack (what the
 * binding asks for: fire within [deadline, deadline + 50 us]).
 */
#include <stdlib.h>

#include "bench.h"
#include "uv/hrtimer.h"

typedef struct trun {
  uv_loop_t loop;
  tcpu_hrtimer t;
  uint64_t delay, deadline;
  unsigned n, i;
  lat lat;
} trun;

static void on_fire(tcpu_hrtimer *t) {
  trun *r = t->data;
  lat_add(&r->lat, now_ns() - r->deadline);
  if (++r->i < r->n) {
    r->deadline = now_ns() + r->delay;
    tcpu_hrtimer_start(&r->t, on_fire, r->deadline);
  } else {
    tcpu_hrtimer_close(&r->t, NULL);
  }
}

static void one(const char *key, unsigned flags, uint64_t slack_ns,
                uint64_t delay_ns, unsigned n) {
  trun r = {0};
  bench_set_knobs(0, 0, slack_ns);
  r.delay = delay_ns;
  r.n = n;
  if (lat_init(&r.lat, n) != 0)
    return;
  uv_loop_init(&r.loop);
  tcpu_hrtimer_init(&r.loop, &r.t, flags);
  bench_set_knobs(0, 0, 0);
  r.t.data = &r;
  r.deadline = now_ns() + r.delay;
  tcpu_hrtimer_start(&r.t, on_fire, r.deadline);
  uv_run(&r.loop, UV_RUN_DEFAULT); /* n timers: bounded by n x (delay+1ms) */
  uv_loop_close(&r.loop);
  js_open(key);
  js_num("deadline_ahead_us", (double)delay_ns / 1e3);
  lat_report(&r.lat, "lateness");
  js_close();
  lat_free(&r.lat);
}

void bench_timer(const char *key) {
  static const uint64_t delays[] = {20000, 100000, 500000};
  static const char *names_hr[] = {"hrtimer_no_slack_20us",
                                   "hrtimer_no_slack_100us",
                                   "hrtimer_no_slack_500us"};
  static const char *names_ms[] = {"uv_timer_ms_20us", "uv_timer_ms_100us",
                                   "uv_timer_ms_500us"};
  unsigned n_hr = opts.quick ? 100 : 2000, n_ms = opts.quick ? 20 : 300;

  pin_self(-1);
  js_open(key);
  for (int i = 0; i < 3; i++)
    one(names_hr[i], 0, 1, delays[i], n_hr);
  one("hrtimer_default_slack_100us", 0, 0, delays[1], n_hr);
  for (int i = 0; i < 3; i++)
    one(names_ms[i], TCPU_HRTIMER_MS, 0, delays[i], n_ms);
  js_close();
}
