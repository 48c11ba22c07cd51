/*
 * run.c — runs a parsed script against a fresh endpoint in virtual time:
 * schedules each event (README.md, "Time"), dispatches it, and checks
 * that nothing unexpected leaves the core in between.
 */
#include "run.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_hooks.h"

/* How long "*" waits for a segment, and how long end_check=idle lets the
 * timers run. */
#define HORIZON (24 * 3600 * TCPU_NS_PER_S)

/* The secret behind ISNs, cookies and port choice: fixed, so every run of
 * a script sees the same numbers. */
static const uint8_t run_secret[32] = "libtcpu packetdrill-style runner";

int pkt_fail(pkt_run *r, const char *fmt, ...) {
  va_list ap;

  fflush(stdout); /* the -v trace first */
  if (r->ev != NULL)
    fprintf(stderr, "%s:%d: ", r->sc->file, r->ev->line);
  else
    fprintf(stderr, "%s: end of script: ", r->sc->file);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return -1;
}

void pkt_trace(pkt_run *r, const char *fmt, ...) {
  va_list ap;

  if (!r->verbose)
    return;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
}

/* ------------------------------------------------------------- callbacks */

static void trace_conn(pkt_run *r, tcpu_conn *c, const char *what) {
  tcpu_conn_info ci;
  char t[32];
  int fd = -1;

  if (!r->verbose)
    return;
  for (int i = 0; i < PKT_MAX_FDS; i++)
    if (r->sock[i].used && r->sock[i].conn == c)
      fd = i;
  tcpu_conn_get_info(c, &ci);
  if (fd >= 0)
    pkt_trace(r, "%s   . %u:%u fd %d %s", pkt_fmt_time(r, r->now, t,
              sizeof(t)), ci.local_port, ci.remote_port, fd, what);
  else
    pkt_trace(r, "%s   . %u:%u %s", pkt_fmt_time(r, r->now, t, sizeof(t)),
              ci.local_port, ci.remote_port, what);
}

static int on_accept(tcpu_conn *l, void *ud) {
  trace_conn(ud, l, "accept queue ready");
  return 0;
}

static int on_connected(tcpu_conn *c, void *ud) {
  trace_conn(ud, c, "connected");
  return 0;
}

static int on_readable(tcpu_conn *c, void *ud) {
  trace_conn(ud, c, "readable");
  return 0;
}

static int on_writable(tcpu_conn *c, void *ud) {
  trace_conn(ud, c, "writable");
  return 0;
}

static int on_state(tcpu_conn *c, tcpu_state from, tcpu_state to, void *ud) {
  char what[64];

  snprintf(what, sizeof(what), "%s -> %s", pkt_state_str(from),
           pkt_state_str(to));
  trace_conn(ud, c, what);
  return 0;
}

static int on_closed(tcpu_conn *c, int err, void *ud) {
  char what[64];

  snprintf(what, sizeof(what), "closed (%s)", err ? tcpu_err_name(err) : "0");
  trace_conn(ud, c, what);
  return 0;
}

static const tcpu_callbacks callbacks = {on_accept,   on_connected,
                                         on_readable, on_writable,
                                         on_state,    on_closed};

int pkt_endpoint(pkt_run *r) {
  int rc;

  if (r->ep != NULL)
    return 0;
  rc = tcpu_endpoint_new(&r->ep, &r->settings, &callbacks, r, r->now);
  if (rc < 0)
    return pkt_fail(r, "tcpu_endpoint_new failed: %s", tcpu_err_name(rc));
  return 0;
}

/* ---------------------------------------------------------------- checks */

static int check_state(pkt_run *r, const pkt_state_check *sc) {
  const pkt_sock *so;
  tcpu_state st;

  if (sc->by_ports) {
    uint16_t lport = sc->lport;

    if (lport == 0) { /* "*": the flow's local port */
      pkt_flow *f = pkt_flow_get(r, sc->rport);

      lport = f != NULL && f->lport != 0 ? f->lport : r->listen_port;
    }
    st = r->ep != NULL ? pkt_core_state_by_ports(r->ep, &r->remote, lport,
                                                 sc->rport)
                       : TCPU_CLOSED;
    if (st != sc->state)
      return pkt_fail(r, "connection %u:%u is %s, expected %s", lport,
                      sc->rport, pkt_state_str(st), pkt_state_str(sc->state));
    return 0;
  }
  if ((so = pkt_sock_get(r, sc->fd)) == NULL)
    return pkt_fail(r, "%%state: fd %d is not open", sc->fd);
  st = so->conn != NULL ? tcpu_conn_state(so->conn) : TCPU_CLOSED;
  if (st != sc->state)
    return pkt_fail(r, "fd %d is %s, expected %s", sc->fd, pkt_state_str(st),
                    pkt_state_str(sc->state));
  return 0;
}

static int check_stat(pkt_run *r, const pkt_stat_check *sc) {
  tcpu_endpoint_stats st;
  uint64_t v;

  memset(&st, 0, sizeof(st));
  if (r->ep != NULL)
    tcpu_endpoint_get_stats(r->ep, &st);
  memcpy(&v, (const uint8_t *)&st + sc->offset, sizeof(v));
  if (v != sc->value)
    return pkt_fail(r, "counter %s is %" PRIu64 ", expected %" PRIu64,
                    sc->name, v, sc->value);
  return 0;
}

static int check_info(pkt_run *r, const pkt_info_check *ic) {
  const pkt_sock *so = pkt_sock_get(r, ic->fd);
  tcpu_conn_info ci;
  uint64_t v;

  if (so == NULL || so->conn == NULL || so->listener)
    return pkt_fail(r, "%%info: fd %d has no connection", ic->fd);
  tcpu_conn_get_info(so->conn, &ci);
  v = pkt_info_value(&ci, ic->field);
  if (v != ic->value)
    return pkt_fail(r, "fd %d: %s is %" PRIu64 ", expected %" PRIu64, ic->fd,
                    ic->name, v, ic->value);
  return 0;
}

/* RFC 9293 §3.6.1 (MAY-2): a connection reopened from TIME-WAIT must
 * start above every sequence number of the incarnation before. */
static int check_isn_prev(pkt_run *r, uint16_t rport) {
  pkt_flow *f = pkt_flow_get(r, rport);

  if (f == NULL || !f->prev_end_known)
    return pkt_fail(r, "%%isn_above_previous: port %u has no previous "
                       "incarnation", rport);
  if (!f->isn_known)
    return pkt_fail(r, "%%isn_above_previous: the core has sent no SYN on "
                       "port %u's new incarnation yet", rport);
  if ((int32_t)(f->isn - f->prev_end) < 0) /* modulo 2^32 */
    return pkt_fail(r, "the new ISN %" PRIu32 " lies within the previous "
                       "incarnation's sequence space (used up to %" PRIu32
                       ", %" PRIu32 " more)",
                    f->isn, f->prev_end - 1, f->prev_end - f->isn);
  return 0;
}

/* ---------------------------------------------------------------- events */

/* Script time to core time: absolute times count from the start,
 * relative ones from the previous event. */
static tcpu_tstamp at(const pkt_run *r, pkt_time_kind kind, tcpu_duration t) {
  return kind == PKT_TIME_ABS ? PKT_TIME_BASE + t : r->prev + t;
}

static int run_outbound(pkt_run *r, const pkt_event *ev) {
  const pkt_time *tm = &ev->time;
  tcpu_duration tol = r->sc->tolerance;
  tcpu_tstamp t0 = 0, lo, hi;
  const pkt_dgram *d;
  char a[32], b[32];

  if (tm->kind == PKT_TIME_ANY) {
    lo = 0;
    hi = r->now + HORIZON;
  } else {
    t0 = at(r, tm->kind, tm->t);
    lo = t0 > PKT_TIME_BASE + tol ? t0 - tol : PKT_TIME_BASE;
    hi = (tm->has_end ? at(r, tm->end_kind, tm->end) : t0) + tol;
  }
  if (pkt_time_peek(r) == NULL && pkt_time_advance(r, hi, 1) != 0)
    return -1;
  if ((d = pkt_time_peek(r)) == NULL) {
    tcpu_tstamp exp = r->ep ? tcpu_endpoint_get_expiry(r->ep)
                            : TCPU_TSTAMP_NONE;

    pkt_fail(r, "expected outbound segment by %s, nothing was sent "
                "(next core deadline: %s)",
             pkt_fmt_time(r, hi, a, sizeof(a)),
             exp == TCPU_TSTAMP_NONE ? "none"
                                     : pkt_fmt_time(r, exp, b, sizeof(b)));
    return pkt_fail(r, "expected: %s", ev->body);
  }
  if (pkt_outbound_match(r, ev, d, lo, hi) != 0)
    return -1;
  /* Exact times stay the base of later relative ones (no drift); "*" and
   * ranges take the time it really happened. */
  r->prev = tm->kind == PKT_TIME_ANY || tm->has_end ? d->t : t0;
  pkt_time_pop(r);
  return 0;
}

static int run_other(pkt_run *r, const pkt_event *ev) {
  const pkt_time *tm = &ev->time;
  tcpu_tstamp t0 = tm->kind == PKT_TIME_ANY ? r->now : at(r, tm->kind, tm->t);
  /* Timers due exactly at t0 run after inputs (segments, calls) and
   * before checks, which observe the state "at" t0. */
  int inclusive = ev->kind == PKT_EV_STATE || ev->kind == PKT_EV_STAT ||
                  ev->kind == PKT_EV_NOOP || ev->kind == PKT_EV_ISN_PREV ||
                  ev->kind == PKT_EV_INFO;
  tcpu_tstamp target = t0 > r->now ? t0 : r->now;
  const pkt_dgram *d;
  char t[32];

  /* Output of the same instant may wait for the '>' lines after this
   * event (a call between connect() and its "> S"); output that time
   * moves past unmatched is unexpected. */
  if (pkt_time_peek(r) == NULL && pkt_time_advance(r, target, inclusive) != 0)
    return -1;
  if ((d = pkt_time_peek(r)) != NULL && d->t < target)
    return pkt_outbound_unexpected(r, d, "before this event");
  r->prev = tm->kind == PKT_TIME_ANY ? r->now : t0;
  switch (ev->kind) {
  case PKT_EV_INBOUND:
    return pkt_inbound(r, ev);
  case PKT_EV_CALL:
    return pkt_sock_call(r, ev);
  case PKT_EV_STATE:
    pkt_trace(r, "%s %s", pkt_fmt_time(r, r->now, t, sizeof(t)), ev->body);
    return check_state(r, &ev->u.state);
  case PKT_EV_STAT:
    pkt_trace(r, "%s %s", pkt_fmt_time(r, r->now, t, sizeof(t)), ev->body);
    return check_stat(r, &ev->u.stat);
  case PKT_EV_NOOP:
    pkt_trace(r, "%s %s", pkt_fmt_time(r, r->now, t, sizeof(t)), ev->body);
    return 0;
  case PKT_EV_ISN_PREV:
    pkt_trace(r, "%s %s", pkt_fmt_time(r, r->now, t, sizeof(t)), ev->body);
    return check_isn_prev(r, ev->rport);
  case PKT_EV_INFO:
    pkt_trace(r, "%s %s", pkt_fmt_time(r, r->now, t, sizeof(t)), ev->body);
    return check_info(r, &ev->u.info);
  case PKT_EV_OUTBOUND: /* run_outbound's */
    return 0;
  }
  return 0;
}

static int check_time_order(pkt_run *r, const pkt_event *ev) {
  char a[32], b[32];

  if (ev->time.kind == PKT_TIME_ABS && PKT_TIME_BASE + ev->time.t < r->prev)
    return pkt_fail(r, "time %s is before the previous event's %s",
                    pkt_fmt_time(r, PKT_TIME_BASE + ev->time.t, a, sizeof(a)),
                    pkt_fmt_time(r, r->prev, b, sizeof(b)));
  return 0;
}

static int run_end(pkt_run *r) {
  const pkt_dgram *d;

  r->ev = NULL;
  switch (r->sc->end_check) {
  case PKT_END_NONE:
    return 0;
  case PKT_END_DRAIN:
    if (pkt_time_drain(r) != 0)
      return -1;
    break;
  case PKT_END_IDLE:
    if (pkt_time_advance(r, r->now + HORIZON, 1) != 0)
      return -1;
    break;
  }
  if ((d = pkt_time_peek(r)) != NULL)
    return pkt_outbound_unexpected(r, d, "after the last event");
  if (r->sc->end_check == PKT_END_IDLE && r->ep != NULL &&
      tcpu_endpoint_get_expiry(r->ep) != TCPU_TSTAMP_NONE)
    return pkt_fail(r, "timers still armed 24 h after the last event");
  return 0;
}

int pkt_run_script(const pkt_script *sc, int verbose) {
  static const uint8_t remote_ip[4] = {192, 0, 2, 2};
  pkt_run *r = calloc(1, sizeof(*r));
  int rc = 0;

  if (r == NULL || (r->buf = malloc(PKT_DGRAM_MAX)) == NULL) {
    free(r);
    fprintf(stderr, "%s: out of memory\n", sc->file);
    return -1;
  }
  r->sc = sc;
  r->verbose = verbose;
  r->now = r->prev = PKT_TIME_BASE;
  r->listen_port = PKT_LOCAL_PORT;
  tcpu_addr_ipv4(&r->remote, remote_ip, 9000);
  tcpu_settings_default(&r->settings);
  for (size_t i = 0; i < sc->nset; i++)
    pkt_setting_apply(&r->settings, &sc->set[i]);
  memcpy(r->settings.secret, run_secret, sizeof(run_secret));

  for (size_t i = 0; i < sc->nev && rc == 0; i++) {
    r->ev = &sc->ev[i];
    rc = check_time_order(r, r->ev);
    if (rc == 0)
      rc = r->ev->kind == PKT_EV_OUTBOUND ? run_outbound(r, r->ev)
                                          : run_other(r, r->ev);
    if (rc == 0)
      r->done++;
  }
  if (rc == 0)
    rc = run_end(r);
  if (rc == 0)
    printf("ok %s (%zu events)\n", sc->file, r->done);
  if (r->ep != NULL)
    tcpu_endpoint_del(r->ep);
  pkt_time_free(r);
  free(r->buf);
  free(r);
  return rc;
}
