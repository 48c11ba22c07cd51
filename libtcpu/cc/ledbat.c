/*
 * ledbat.c — LEDBAT (RFC 6817), a less-than-best-effort algorithm for
 * background transfers such as bulk tunnels: it fills an idle path but
 * keeps the queue it builds near TARGET, and gives way to other traffic.
 *
 * Delay.  RFC 6817 measures one-way delay, which needs a receiver that
 * reports it (§2.3); our peer is plain TCP, so the only delay we see is
 * the round trip.  base_delay is the smallest RTT seen over the last BASE_HISTORY
 * minutes (the path without queues), the current delay the smallest of
 * the last few samples (§2.4.2's FILTER, a minimum against noise), and
 * queuing delay their difference.  It includes queues on the return path,
 * so LEDBAT also yields to congestion of the ACKs: the error is on the
 * background side.
 *
 * Slow start.  §2.4.2 specifies only the congestion-avoidance rule and
 * starts from INIT_CWND (§2.5); how to leave a 2-segment window on a fast
 * tunnel is left open.  We run RFC 5681 slow start from INIT_CWND while the
 * queuing delay stays below 3/4 of TARGET (the exit rule LEDBAT++,
 * draft-irtf-iccrg-ledbat-plus-plus, uses), then LEDBAT's controller.  The
 * growth is never faster than TCP's (RFC 6817 asks LEDBAT to be no more
 * aggressive than standard TCP) and it stops as soon as the flow starts
 * queuing.  After a timeout, slow start returns to half the window, as
 * for TCP.
 *
 * During fast recovery the core's PRR takes the window down to ssthresh;
 * LEDBAT sets ssthresh to half the window (§2.4.2, "on data loss").
 */
#include "cc/cc.h"

#include <math.h>
#include <string.h>

/* RFC 6817 §2.5: TARGET MUST be 100 ms or less.  Build with, for example,
 * -DTCPU_LEDBAT_TARGET_MS=25 for a tunnel that should add less delay; a
 * lower target also yields sooner to other flows. */
#ifndef TCPU_LEDBAT_TARGET_MS
#define TCPU_LEDBAT_TARGET_MS 100
#endif
_Static_assert(TCPU_LEDBAT_TARGET_MS > 0 && TCPU_LEDBAT_TARGET_MS <= 100,
               "RFC 6817 2.5: TARGET MUST be 100 ms or less");
#define TARGET_NS ((tcpu_duration)TCPU_LEDBAT_TARGET_MS * TCPU_NS_PER_MS)

/* RFC 6817 §2.5. */
#define GAIN 1.0            /* MUST be 1 or less: at most Reno's increase */
#define ALLOWED_INCREASE 1  /* segments beyond flightsize, SHOULD be 1 */
#define INIT_CWND 2         /* segments, SHOULD be 2 */
#define MIN_CWND 2          /* segments, SHOULD be 2 */
#define BASE_HISTORY 10     /* one-minute minima kept, SHOULD be 10 */
#define BASE_INTERVAL_NS (60 * TCPU_NS_PER_S)
/* Samples in FILTER's window.  §2.5: at least 4 samples per RTT, and none
 * older than one RTT (enforced in current_delay()). */
#define CURRENT_FILTER 4
/* Slow start ends once the queuing delay passes 3/4 of TARGET. */
#define SS_EXIT_NS (TARGET_NS * 3 / 4)

#define NONE TCPU_TSTAMP_NONE

typedef struct ledbat {
  /* §2.4.2 base_delays: the minimum RTT of each of the last BASE_HISTORY
   * minutes, base[base_tail] the current minute (NONE: no sample). */
  tcpu_duration base[BASE_HISTORY];
  unsigned base_tail;
  uint64_t base_minute; /* now / BASE_INTERVAL_NS of base[base_tail] */
  /* §2.4.2 current_delays, a ring of the latest samples and their times. */
  tcpu_duration cur[CURRENT_FILTER];
  tcpu_tstamp cur_ts[CURRENT_FILTER];
  unsigned cur_next;
  double acc; /* fraction of a byte of window change not yet applied */
  /* §2.4.2: the window is halved at most once per RTT. */
  tcpu_tstamp last_cut, undo_last_cut;
  tcpu_tstamp recovery_exit; /* when the last loss recovery ended */
} ledbat;

/* §2.4.2 update_base_delay(), rotating once per minute that passed, so
 * that after a silence the history still spans BASE_HISTORY minutes
 * (the pseudocode rotates once per sample in a new minute). */
static void update_base_delay(ledbat *lb, tcpu_duration d, tcpu_tstamp now) {
  uint64_t minute = now / BASE_INTERVAL_NS;
  if (lb->base_minute == NONE) {
    lb->base_minute = minute;
  } else if (minute > lb->base_minute) {
    uint64_t n = minute - lb->base_minute;
    if (n > BASE_HISTORY)
      n = BASE_HISTORY;
    while (n--) {
      lb->base_tail = (lb->base_tail + 1) % BASE_HISTORY;
      lb->base[lb->base_tail] = NONE;
    }
    lb->base_minute = minute;
  }
  if (d < lb->base[lb->base_tail])
    lb->base[lb->base_tail] = d;
}

static tcpu_duration base_delay(const ledbat *lb) {
  tcpu_duration m = NONE;
  for (unsigned i = 0; i < BASE_HISTORY; i++)
    if (lb->base[i] < m)
      m = lb->base[i];
  return m;
}

/* §2.4.2 update_current_delay(). */
static void update_current_delay(ledbat *lb, tcpu_duration d,
                                 tcpu_tstamp now) {
  lb->cur[lb->cur_next] = d;
  lb->cur_ts[lb->cur_next] = now;
  lb->cur_next = (lb->cur_next + 1) % CURRENT_FILTER;
}

/* FILTER(current_delays): the minimum of the recent samples no older than
 * one RTT (§2.5), or the newest when all are older. */
static tcpu_duration current_delay(const ledbat *lb, tcpu_duration rtt,
                                   tcpu_tstamp now) {
  unsigned newest = (lb->cur_next + CURRENT_FILTER - 1) % CURRENT_FILTER;
  tcpu_duration m = lb->cur[newest];
  for (unsigned i = 0; i < CURRENT_FILTER; i++) {
    if (lb->cur[i] == NONE || lb->cur_ts[i] + rtt < now)
      continue;
    if (lb->cur[i] < m)
      m = lb->cur[i];
  }
  return m;
}

/* Queuing delay, or NONE before the first sample. */
static tcpu_duration queuing_delay(const ledbat *lb, const tcpu_cc_stat *cs,
                                   tcpu_tstamp now) {
  tcpu_duration base = base_delay(lb);
  if (base == NONE)
    return NONE;
  tcpu_duration rtt = cs->srtt ? cs->srtt : base;
  tcpu_duration cur = current_delay(lb, rtt, now);
  if (cur == NONE)
    return NONE;
  return cur > base ? cur - base : 0;
}

static void set_cwnd(ledbat *lb, tcpu_cc_stat *cs, double w) {
  double floor_w = (double)MIN_CWND * cs->mss;
  if (w < floor_w)
    w = floor_w;
  if (w > (double)(UINT32_MAX / 2))
    w = (double)(UINT32_MAX / 2);
  double whole = floor(w);
  cs->cwnd = (uint32_t)whole;
  lb->acc = w - whole;
}

static void ledbat_init(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  ledbat *lb = st;
  (void)now;
  memset(lb, 0, sizeof *lb);
  for (unsigned i = 0; i < BASE_HISTORY; i++)
    lb->base[i] = NONE;
  for (unsigned i = 0; i < CURRENT_FILTER; i++) {
    lb->cur[i] = NONE;
    lb->cur_ts[i] = NONE;
  }
  lb->base_minute = NONE;
  lb->last_cut = NONE;
  lb->undo_last_cut = NONE;
  lb->recovery_exit = NONE;
  /* §2.5: INIT_CWND, for a connection that has not sent yet; one that
   * switches to LEDBAT keeps its window. */
  uint32_t iw = INIT_CWND * cs->mss;
  if (cs->delivered == 0 && cs->ssthresh == UINT32_MAX && cs->cwnd > iw)
    cs->cwnd = iw;
}

static void ledbat_on_ack(void *st, tcpu_cc_stat *cs, const tcpu_cc_ack *a,
                          tcpu_tstamp now) {
  ledbat *lb = st;
  if (a->rtt != TCPU_TSTAMP_NONE) {
    update_base_delay(lb, a->rtt, now);
    /* An ACK during loss recovery, or the one that ends it, may
     * cumulatively acknowledge a segment that waited at the receiver for
     * a retransmission to fill the hole before it: its RTT includes the
     * repair, which is no queue.  Such samples could only raise the
     * minimum, so the base history takes them; the current delay not. */
    if (!cs->in_recovery && now != lb->recovery_exit)
      update_current_delay(lb, a->rtt, now);
  }
  /* During recovery the core's PRR sets the window (RFC 6937). */
  if (cs->in_recovery)
    return;
  tcpu_duration qd = queuing_delay(lb, cs, now);
  if (cs->cwnd < cs->ssthresh) {
    if (qd == NONE || qd < SS_EXIT_NS) {
      if (a->is_cwnd_limited)
        tcpu_cc_slow_start(cs, a->bytes_acked);
      return;
    }
    /* The queue is building: slow start is over for good. */
    cs->ssthresh = cs->cwnd;
  }
  if (qd == NONE)
    return;
  /* §2.4.2: cwnd += GAIN * off_target * bytes_newly_acked * MSS / cwnd. */
  double off_target =
      ((double)TARGET_NS - (double)qd) / (double)TARGET_NS;
  double cwnd = cs->cwnd;
  double delta =
      GAIN * off_target * (double)a->bytes_acked * cs->mss / cwnd;
  if (delta > 0) {
    /* §2.4.2: max_allowed_cwnd = flightsize + ALLOWED_INCREASE * MSS,
     * which keeps an application-limited sender from growing its window.
     * It bounds the increase only: between ACKs a paced sender's flight
     * trails cwnd by a segment or two, and cutting cwnd down to it on
     * every ACK would ratchet the window down with no congestion at all. */
    double room = (double)a->prior_in_flight +
                  (double)ALLOWED_INCREASE * cs->mss - (cwnd + lb->acc);
    if (!a->is_cwnd_limited || room <= 0)
      delta = 0;
    else if (delta > room)
      delta = room;
  }
  set_cwnd(lb, cs, cwnd + lb->acc + delta); /* at least MIN_CWND */
  /* The core reads cwnd < ssthresh as slow start (pacing, its
   * cwnd-limited test); in congestion avoidance keep them consistent. */
  if (cs->ssthresh > cs->cwnd)
    cs->ssthresh = cs->cwnd;
}

static void ledbat_on_congestion(void *st, tcpu_cc_stat *cs, tcpu_cc_signal s,
                                 tcpu_tstamp sent_ts, tcpu_tstamp now) {
  ledbat *lb = st;
  (void)sent_ts;
  uint32_t floor_w = MIN_CWND * cs->mss;
  uint32_t half = cs->cwnd / 2 > floor_w ? cs->cwnd / 2 : floor_w;
  lb->undo_last_cut = lb->last_cut;
  if (s != TCPU_CC_RTO && lb->last_cut != NONE) {
    /* §2.4.2: "on data loss ... at most once per RTT". */
    tcpu_duration rtt = cs->srtt ? cs->srtt : cs->latest_rtt;
    if (now - lb->last_cut < rtt) {
      cs->ssthresh = cs->cwnd > floor_w ? cs->cwnd : floor_w;
      return;
    }
  }
  /* §2.4.2: cwnd = min(cwnd, max(cwnd/2, MIN_CWND * MSS)), which the
   * core reaches through ssthresh.  After a timeout the core sets cwnd to
   * one segment (§2.4.2's CTO rule) and ssthresh is where slow start
   * stops on the way back. */
  cs->ssthresh = s == TCPU_CC_RTO || half < cs->cwnd ? half : cs->cwnd;
  if (s == TCPU_CC_RTO)
    cs->cwnd = cs->mss;
  lb->last_cut = now;
  lb->acc = 0;
}

static void ledbat_on_recovery_exit(void *st, tcpu_cc_stat *cs,
                                    tcpu_tstamp now) {
  ledbat *lb = st;
  (void)cs;
  lb->recovery_exit = now;
}

static void ledbat_on_spurious(void *st, tcpu_cc_stat *cs, tcpu_tstamp now) {
  ledbat *lb = st;
  (void)cs;
  (void)now;
  /* The core restores cwnd and ssthresh; the cut did not count. */
  lb->last_cut = lb->undo_last_cut;
}

static void ledbat_on_idle_restart(void *st, tcpu_cc_stat *cs,
                                   tcpu_tstamp now) {
  ledbat *lb = st;
  (void)now;
  /* RFC 5681 §4.1: restart from min(IW, cwnd) after an idle RTO.  In
   * congestion avoidance ssthresh follows cwnd, so raise it to the old
   * window: slow start (still delay-checked) then leads back to it. */
  uint32_t iw = 10 * cs->mss;
  if (cs->cwnd > iw) {
    if (cs->ssthresh < cs->cwnd)
      cs->ssthresh = cs->cwnd;
    cs->cwnd = iw;
  }
  lb->acc = 0;
}

const tcpu_cc_ops tcpu_cc_ledbat = {
    .name = "ledbat",
    .state_size = sizeof(ledbat),
    .init = ledbat_init,
    .on_ack = ledbat_on_ack,
    .on_congestion = ledbat_on_congestion,
    .on_recovery_exit = ledbat_on_recovery_exit,
    .on_spurious = ledbat_on_spurious,
    .on_idle_restart = ledbat_on_idle_restart,
};
