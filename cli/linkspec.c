/*
 * linkspec.c — values with units, and link specifications; see
 * linkspec.h.
 */
#include "linkspec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int lab_fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return TCPU_ERR_INVAL;
}

/* A finite, non-negative decimal number at the start of s (no sign, no
 * hex, no inf/nan); *rest points after it.  Returns 0 or -1. */
static int number(const char *s, double *v, const char **rest) {
  const char *p = s;
  int digits = 0;
  while (*p >= '0' && *p <= '9') {
    p++;
    digits++;
  }
  if (*p == '.') {
    p++;
    while (*p >= '0' && *p <= '9') {
      p++;
      digits++;
    }
  }
  if (digits == 0)
    return -1;
  if (*p == 'e' || *p == 'E') {
    const char *q = p + 1;
    if (*q == '+' || *q == '-')
      q++;
    if (*q >= '0' && *q <= '9') {
      while (*q >= '0' && *q <= '9')
        q++;
      p = q;
    }
  }
  char buf[64];
  size_t n = (size_t)(p - s);
  if (n >= sizeof(buf))
    return -1;
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end = NULL;
  double d = strtod(buf, &end);
  if (*end || !isfinite(d) || d < 0)
    return -1;
  *v = d;
  *rest = p;
  return 0;
}

typedef struct unit {
  const char *name;
  double mult;
} unit;

/* Number with a unit from the table; a bare number takes bare_mult, or
 * is refused when bare_mult is 0 (except 0 itself). */
static int with_unit(const char *s, const unit *units, double bare_mult,
                     double *out) {
  double v;
  const char *rest;
  if (number(s, &v, &rest) != 0)
    return -1;
  if (*rest == 0) {
    if (bare_mult == 0 && v != 0)
      return -2;
    *out = v * (bare_mult ? bare_mult : 1);
    return 0;
  }
  for (const unit *u = units; u->name; u++) {
    if (strcasecmp(rest, u->name) == 0) {
      *out = v * u->mult;
      return isfinite(*out) ? 0 : -1;
    }
  }
  return -3;
}

static const unit rate_units[] = {
    {"bit", 1},         {"kbit", 1e3},     {"mbit", 1e6},
    {"gbit", 1e9},      {"tbit", 1e12},    {"bps", 8},
    {"kbps", 8e3},      {"mbps", 8e6},     {"gbps", 8e9},
    {NULL, 0}};

int lab_parse_rate(const char *s, uint64_t *bps, char *err, size_t errlen) {
  double v;
  int rc = with_unit(s, rate_units, 0, &v);
  if (rc == -2)
    return lab_fail(err, errlen, "rate \"%s\" needs a unit (e.g. 100mbit)", s);
  if (rc != 0)
    return lab_fail(err, errlen, "bad rate \"%s\" (units: bit kbit mbit gbit "
                "tbit for bits/s, bps kbps mbps gbps for bytes/s)", s);
  if (v > 1e13)
    return lab_fail(err, errlen, "rate \"%s\" is over 10 Tbit/s", s);
  if (v != 0 && v < 1000)
    return lab_fail(err, errlen, "rate \"%s\" is below 1 kbit/s", s);
  *bps = (uint64_t)llround(v);
  return 0;
}

static const unit time_units[] = {{"ns", 1},   {"us", 1e3},  {"ms", 1e6},
                                  {"s", 1e9},  {"sec", 1e9}, {"m", 60e9},
                                  {"min", 60e9}, {NULL, 0}};

int lab_parse_time(const char *s, tcpu_duration *ns, char *err,
                   size_t errlen) {
  double v;
  int rc = with_unit(s, time_units, 0, &v);
  if (rc == -2)
    return lab_fail(err, errlen, "time \"%s\" needs a unit (e.g. 20ms)", s);
  if (rc != 0)
    return lab_fail(err, errlen, "bad time \"%s\" (units: ns us ms s m)", s);
  if (v > 1e6 * 1e9)
    return lab_fail(err, errlen, "time \"%s\" is over 1,000,000 s", s);
  *ns = (tcpu_duration)llround(v);
  return 0;
}

static const unit size_units[] = {
    {"b", 1},      {"k", 1e3},    {"kb", 1e3},   {"m", 1e6},
    {"mb", 1e6},   {"g", 1e9},    {"gb", 1e9},   {"kib", 1024.0},
    {"mib", 1048576.0}, {"gib", 1073741824.0}, {NULL, 0}};

int lab_parse_size(const char *s, uint64_t *bytes, char *err,
                   size_t errlen) {
  double v;
  int rc = with_unit(s, size_units, 1, &v);
  if (rc != 0)
    return lab_fail(err, errlen, "bad size \"%s\" (units: b k kb m mb g gb kib "
                "mib gib)", s);
  if (v > 1e15)
    return lab_fail(err, errlen, "size \"%s\" is over 1 PB", s);
  if (v != floor(v))
    return lab_fail(err, errlen, "size \"%s\" is not a whole number of bytes",
                s);
  *bytes = (uint64_t)v;
  return 0;
}

int lab_parse_prob(const char *s, double *p, char *err, size_t errlen) {
  double v;
  const char *rest;
  if (number(s, &v, &rest) != 0)
    return lab_fail(err, errlen, "bad probability \"%s\" (e.g. 0.01 or 1%%)",
                s);
  if (strcmp(rest, "%") == 0)
    v /= 100;
  else if (*rest)
    return lab_fail(err, errlen, "bad probability \"%s\" (e.g. 0.01 or 1%%)",
                s);
  if (v > 1)
    return lab_fail(err, errlen, "probability \"%s\" is over 1", s);
  *p = v;
  return 0;
}

int lab_parse_u64(const char *s, uint64_t max, uint64_t *v, char *err,
                  size_t errlen) {
  uint64_t x = 0;
  if (!*s)
    return lab_fail(err, errlen, "empty number");
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9' || x > (max - (uint64_t)(*p - '0')) / 10)
      return lab_fail(err, errlen, "bad number \"%s\" (0..%llu)", s,
                  (unsigned long long)max);
    x = x * 10 + (uint64_t)(*p - '0');
  }
  *v = x;
  return 0;
}

/* ---------------------------------------------------------- link spec */

const char lab_link_help[] =
    "  rate=RATE            bottleneck rate (100mbit, 1gbit; 0: unlimited)\n"
    "  delay=TIME           one-way propagation delay (20ms)\n"
    "  jitter=TIME          extra delay, uniform in [0, TIME]; never "
    "reorders\n"
    "  loss=P               independent random loss (0.01 or 1%)\n"
    "  gilbert=P:R[:LB[:LG]] Gilbert-Elliott bursts: P(good->bad),\n"
    "                       P(bad->good), loss in bad (1), in good (0)\n"
    "  dup=P                duplicate a datagram\n"
    "  reorder=P            hold a datagram back reorder_delay longer\n"
    "  reorder_delay=TIME   (needed with reorder) reorder_jitter=TIME\n"
    "  corrupt=P            flip one bit of a datagram\n"
    "  queue=Q              bottleneck queue: 1bdp, 0.5bdp, 100p (packets),\n"
    "                       150kb, 64kib (bytes) or none; default 1bdp\n"
    "  aqm=droptail|codel|red  queue discipline (default droptail)\n"
    "  codel_target=TIME codel_interval=TIME   CoDel (5ms, 100ms)\n"
    "  red_min=SIZE red_max=SIZE red_p=P       RED (queue/4, 3*queue/4, "
    "0.1)\n"
    "  trace=FILE           Mahimahi trace: the rate follows it, looping\n"
    "  overhead=BYTES       bytes per datagram on the wire (28: IPv4+UDP)\n"
    "  drop_at=TIME         drop the next datagram at TIME (repeatable)\n";

/* "queue=" values. */
static int parse_queue(lab_link_spec *ls, const char *v, char *err,
                       size_t errlen) {
  if (strcasecmp(v, "none") == 0 || strcasecmp(v, "inf") == 0) {
    ls->queue_unit = LAB_QUEUE_NONE;
    return 0;
  }
  double x;
  const char *rest;
  if (number(v, &x, &rest) == 0) {
    if (strcasecmp(rest, "bdp") == 0) {
      if (x <= 0 || x > 1000)
        return lab_fail(err, errlen, "queue \"%s\": BDP multiple must be in "
                    "(0, 1000]", v);
      ls->queue_unit = LAB_QUEUE_BDP;
      ls->queue_val = x;
      return 0;
    }
    if (strcasecmp(rest, "p") == 0 || strcasecmp(rest, "pkt") == 0 ||
        strcasecmp(rest, "pkts") == 0 || strcasecmp(rest, "packets") == 0) {
      if (x < 1 || x > 1e7 || x != floor(x))
        return lab_fail(err, errlen, "queue \"%s\": packets must be a whole "
                    "number in 1..10000000", v);
      ls->queue_unit = LAB_QUEUE_PKTS;
      ls->queue_val = x;
      return 0;
    }
  }
  uint64_t b;
  char why[160];
  if (lab_parse_size(v, &b, why, sizeof(why)) != 0)
    return lab_fail(err, errlen, "queue \"%s\": not 1bdp, 100p, 150kb or none",
                v);
  if (b < 1500)
    return lab_fail(err, errlen, "queue \"%s\" is below one packet (1500 bytes)",
                v);
  ls->queue_unit = LAB_QUEUE_BYTES;
  ls->queue_val = (double)b;
  return 0;
}

static int parse_gilbert(tcpu_link_cfg *c, const char *v, char *err,
                         size_t errlen) {
  char buf[128];
  if (strlen(v) >= sizeof(buf))
    return lab_fail(err, errlen, "gilbert: too long");
  strcpy(buf, v);
  double x[4] = {0, 0, 1, 0};
  int n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ":", &save); tok;
       tok = strtok_r(NULL, ":", &save)) {
    if (n == 4)
      return lab_fail(err, errlen, "gilbert: at most 4 values P:R:LB:LG");
    char why[160];
    if (lab_parse_prob(tok, &x[n], why, sizeof(why)) != 0)
      return lab_fail(err, errlen, "gilbert: %s", why);
    n++;
  }
  if (n < 2)
    return lab_fail(err, errlen, "gilbert needs at least P:R (e.g. "
                "gilbert=0.01:0.3)");
  if (x[0] <= 0)
    return lab_fail(err, errlen, "gilbert: P(good->bad) must be above 0");
  c->ge_p_good_bad = x[0];
  c->ge_p_bad_good = x[1];
  c->ge_loss_bad = x[2];
  c->ge_loss_good = x[3];
  return 0;
}

/* Applies one key=value. */
static int apply(lab_link_spec *ls, const char *k, const char *v,
                 uint32_t *seen, char *err, size_t errlen) {
  static const char *const keys[] = {
      "rate",    "delay",         "jitter",         "loss",
      "gilbert", "dup",           "reorder",        "reorder_delay",
      "reorder_jitter", "corrupt", "queue",         "aqm",
      "codel_target", "codel_interval", "red_min",  "red_max",
      "red_p",   "trace",         "overhead",       "drop_at"};
  size_t idx = 0, nkeys = sizeof(keys) / sizeof(keys[0]);
  while (idx < nkeys && strcmp(keys[idx], k) != 0)
    idx++;
  if (idx == nkeys)
    return lab_fail(err, errlen, "unknown link key \"%s\"", k);
  if (strcmp(k, "drop_at") != 0) {
    if (*seen & (1u << idx))
      return lab_fail(err, errlen, "link key \"%s\" given twice", k);
    *seen |= 1u << idx;
  }
  if (!*v)
    return lab_fail(err, errlen, "link key \"%s\" has no value", k);
  tcpu_link_cfg *c = &ls->cfg;
  char why[200];
  int rc = 0;
  if (strcmp(k, "rate") == 0) {
    rc = lab_parse_rate(v, &c->rate_bps, why, sizeof(why));
    ls->set |= LAB_SET_RATE;
  } else if (strcmp(k, "delay") == 0) {
    rc = lab_parse_time(v, &c->delay, why, sizeof(why));
    ls->set |= LAB_SET_DELAY;
  } else if (strcmp(k, "jitter") == 0) {
    rc = lab_parse_time(v, &c->jitter, why, sizeof(why));
  } else if (strcmp(k, "loss") == 0) {
    rc = lab_parse_prob(v, &c->loss, why, sizeof(why));
  } else if (strcmp(k, "gilbert") == 0) {
    rc = parse_gilbert(c, v, why, sizeof(why));
  } else if (strcmp(k, "dup") == 0) {
    rc = lab_parse_prob(v, &c->dup, why, sizeof(why));
  } else if (strcmp(k, "reorder") == 0) {
    rc = lab_parse_prob(v, &c->reorder, why, sizeof(why));
  } else if (strcmp(k, "reorder_delay") == 0) {
    rc = lab_parse_time(v, &c->reorder_delay, why, sizeof(why));
    ls->set |= LAB_SET_REORDER_DELAY;
  } else if (strcmp(k, "reorder_jitter") == 0) {
    rc = lab_parse_time(v, &c->reorder_jitter, why, sizeof(why));
  } else if (strcmp(k, "corrupt") == 0) {
    rc = lab_parse_prob(v, &c->corrupt, why, sizeof(why));
  } else if (strcmp(k, "queue") == 0) {
    rc = parse_queue(ls, v, why, sizeof(why));
    ls->set |= LAB_SET_QUEUE;
  } else if (strcmp(k, "aqm") == 0) {
    if (strcasecmp(v, "droptail") == 0)
      c->aqm.kind = TCPU_AQM_DROPTAIL;
    else if (strcasecmp(v, "codel") == 0)
      c->aqm.kind = TCPU_AQM_CODEL;
    else if (strcasecmp(v, "red") == 0)
      c->aqm.kind = TCPU_AQM_RED;
    else
      rc = lab_fail(why, sizeof(why), "\"%s\" is not droptail, codel or red", v);
    ls->set |= LAB_SET_AQM;
  } else if (strcmp(k, "codel_target") == 0) {
    rc = lab_parse_time(v, &c->aqm.codel_target, why, sizeof(why));
    if (rc == 0 && c->aqm.codel_target == 0)
      rc = lab_fail(why, sizeof(why), "must be above 0");
    ls->set |= LAB_SET_AQM;
  } else if (strcmp(k, "codel_interval") == 0) {
    rc = lab_parse_time(v, &c->aqm.codel_interval, why, sizeof(why));
    if (rc == 0 && c->aqm.codel_interval == 0)
      rc = lab_fail(why, sizeof(why), "must be above 0");
    ls->set |= LAB_SET_AQM;
  } else if (strcmp(k, "red_min") == 0) {
    rc = lab_parse_size(v, &c->aqm.red_min, why, sizeof(why));
    ls->set |= LAB_SET_AQM;
  } else if (strcmp(k, "red_max") == 0) {
    rc = lab_parse_size(v, &c->aqm.red_max, why, sizeof(why));
    ls->set |= LAB_SET_AQM;
  } else if (strcmp(k, "red_p") == 0) {
    rc = lab_parse_prob(v, &c->aqm.red_max_p, why, sizeof(why));
    if (rc == 0 && c->aqm.red_max_p == 0)
      rc = lab_fail(why, sizeof(why), "must be above 0");
    ls->set |= LAB_SET_AQM;
  } else if (strcmp(k, "trace") == 0) {
    if (strlen(v) >= sizeof(ls->trace_path))
      rc = lab_fail(why, sizeof(why), "path too long");
    else
      strcpy(ls->trace_path, v);
    ls->set |= LAB_SET_TRACE;
  } else if (strcmp(k, "overhead") == 0) {
    uint64_t o;
    rc = lab_parse_u64(v, 65535, &o, why, sizeof(why));
    c->overhead = (uint32_t)o;
    ls->set |= LAB_SET_OVERHEAD;
  } else { /* drop_at */
    if (ls->n_drop_at == LAB_MAX_DROP_AT)
      rc = lab_fail(why, sizeof(why), "at most %d", LAB_MAX_DROP_AT);
    else
      rc = lab_parse_time(v, &ls->drop_at[ls->n_drop_at++], why,
                          sizeof(why));
  }
  if (rc != 0)
    return lab_fail(err, errlen, "%s: %s", k, why);
  return 0;
}

int lab_parse_link(lab_link_spec *ls, const char *spec, char *err,
                   size_t errlen) {
  memset(ls, 0, sizeof(*ls));
  ls->cfg.overhead = LAB_DEFAULT_OVERHEAD;
  size_t n = strlen(spec);
  char *buf = malloc(n + 1);
  if (!buf)
    return lab_fail(err, errlen, "out of memory");
  memcpy(buf, spec, n + 1);
  uint32_t seen = 0;
  int rc = 0;
  char *save = NULL;
  for (char *item = strtok_r(buf, ",", &save); item && rc == 0;
       item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq) {
      rc = lab_fail(err, errlen, "\"%s\" is not key=value", item);
      break;
    }
    *eq = 0;
    rc = apply(ls, item, eq + 1, &seen, err, errlen);
  }
  free(buf);
  if (rc != 0)
    return rc;
  if (n > 0 && (spec[0] == ',' || spec[n - 1] == ',' || strstr(spec, ",,")))
    return lab_fail(err, errlen, "empty item in \"%s\"", spec);
  const tcpu_link_cfg *c = &ls->cfg;
  if (c->reorder > 0 && c->reorder_delay == 0)
    return lab_fail(err, errlen, "reorder needs reorder_delay (e.g. "
                "reorder=1%%,reorder_delay=10ms)");
  if ((ls->set & LAB_SET_TRACE) && (ls->set & LAB_SET_RATE))
    return lab_fail(err, errlen, "give rate or trace, not both");
  return 0;
}

void lab_link_reverse_default(lab_link_spec *rev, const lab_link_spec *fwd) {
  memset(rev, 0, sizeof(*rev));
  rev->cfg.rate_bps = fwd->cfg.rate_bps;
  rev->cfg.delay = fwd->cfg.delay;
  rev->cfg.overhead = fwd->cfg.overhead;
  rev->cfg.aqm = fwd->cfg.aqm;
  rev->queue_unit = fwd->queue_unit;
  rev->queue_val = fwd->queue_val;
  memcpy(rev->trace_path, fwd->trace_path, sizeof(rev->trace_path));
  rev->set = fwd->set & (LAB_SET_RATE | LAB_SET_DELAY | LAB_SET_QUEUE |
                         LAB_SET_AQM | LAB_SET_TRACE | LAB_SET_OVERHEAD);
}

uint64_t lab_link_rate(const lab_link_spec *ls, const tcpu_mm_trace *trace) {
  if (ls->trace_path[0] && trace && trace->n)
    return tcpu_mm_trace_rate_bps(trace);
  return ls->cfg.rate_bps;
}

int lab_link_resolve(lab_link_spec *ls, tcpu_mm_trace *trace,
                     tcpu_tstamp origin, tcpu_duration rtt, char *err,
                     size_t errlen) {
  tcpu_link_cfg *c = &ls->cfg;
  if (ls->trace_path[0]) {
    char why[LAB_PATH_MAX + 200];
    int rc = tcpu_mm_trace_load(trace, ls->trace_path, why, sizeof(why));
    if (rc == TCPU_ERR_NOMEM)
      return lab_fail(err, errlen, "trace: out of memory");
    if (rc != 0)
      return lab_fail(err, errlen, "trace: %s", why);
    c->trace = trace;
    c->trace_origin = origin;
    c->rate_bps = 0;
  }
  uint64_t rate = lab_link_rate(ls, trace);
  switch (ls->queue_unit) {
  case LAB_QUEUE_DEFAULT:
  case LAB_QUEUE_BDP: {
    double mult = ls->queue_unit == LAB_QUEUE_BDP ? ls->queue_val : 1.0;
    if (rate == 0) {
      if (ls->queue_unit == LAB_QUEUE_BDP)
        return lab_fail(err, errlen, "queue=%gbdp needs a rate or a trace",
                    ls->queue_val);
      break; /* unlimited rate: no queue to limit */
    }
    double bdp = (double)rate / 8 * (double)rtt / 1e9 * mult;
    /* At least a few packets, or nothing could pass at all. */
    if (bdp < 4 * 1500)
      bdp = 4 * 1500;
    c->queue_bytes = (uint64_t)bdp;
    break;
  }
  case LAB_QUEUE_NONE:
    break;
  case LAB_QUEUE_BYTES:
    c->queue_bytes = (uint64_t)ls->queue_val;
    break;
  case LAB_QUEUE_PKTS:
    c->queue_pkts = (uint32_t)ls->queue_val;
    break;
  }
  if (tcpu_aqm_cfg_check(&c->aqm, c->queue_bytes) != 0) {
    if (c->aqm.kind == TCPU_AQM_RED)
      return lab_fail(err, errlen, "aqm=red needs red_min < red_max, or a "
                  "queue in bytes or BDPs to derive them from");
    return lab_fail(err, errlen, "bad aqm settings");
  }
  if (tcpu_link_cfg_check(c) != 0)
    return lab_fail(err, errlen, "bad link settings");
  return 0;
}

void lab_link_describe(char *out, size_t outlen, const lab_link_spec *ls,
                       const tcpu_mm_trace *trace) {
  const tcpu_link_cfg *c = &ls->cfg;
  size_t n = 0;
#define PUT(...)                                                             \
  do {                                                                       \
    if (n < outlen)                                                          \
      n += (size_t)snprintf(out + n, outlen - n, __VA_ARGS__);               \
  } while (0)
  uint64_t rate = lab_link_rate(ls, trace);
  if (ls->trace_path[0])
    PUT("trace %s (mean %.3f Mbit/s)", ls->trace_path, (double)rate / 1e6);
  else if (rate)
    PUT("%.3f Mbit/s", (double)rate / 1e6);
  else
    PUT("unlimited rate");
  PUT(", delay %.3f ms", (double)c->delay / 1e6);
  if (c->jitter)
    PUT(", jitter %.3f ms", (double)c->jitter / 1e6);
  if (c->loss > 0)
    PUT(", loss %g", c->loss);
  if (c->ge_p_good_bad > 0)
    PUT(", gilbert %g:%g:%g:%g", c->ge_p_good_bad, c->ge_p_bad_good,
        c->ge_loss_bad, c->ge_loss_good);
  if (c->dup > 0)
    PUT(", dup %g", c->dup);
  if (c->reorder > 0)
    PUT(", reorder %g (+%.3f ms)", c->reorder,
        (double)c->reorder_delay / 1e6);
  if (c->corrupt > 0)
    PUT(", corrupt %g", c->corrupt);
  if (c->queue_bytes)
    PUT(", queue %llu B", (unsigned long long)c->queue_bytes);
  else if (c->queue_pkts)
    PUT(", queue %u pkts", c->queue_pkts);
  else
    PUT(", queue unlimited");
  if (c->aqm.kind == TCPU_AQM_CODEL)
    PUT(", codel");
  else if (c->aqm.kind == TCPU_AQM_RED)
    PUT(", red");
  PUT(", overhead %u B", c->overhead);
  for (size_t i = 0; i < ls->n_drop_at; i++)
    PUT(", drop at %.3f s", (double)ls->drop_at[i] / 1e9);
#undef PUT
}
