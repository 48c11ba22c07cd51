/*
 * names.c — name tables for the script language (names.h).
 */
#include "names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ errno */

static const struct {
  const char *name;
  int value;
} errnos[] = {
    {"EAGAIN", EAGAIN},         {"EWOULDBLOCK", EWOULDBLOCK},
    {"EINPROGRESS", EINPROGRESS}, {"EALREADY", EALREADY},
    {"EISCONN", EISCONN},       {"ENOTCONN", ENOTCONN},
    {"ECONNREFUSED", ECONNREFUSED}, {"ECONNRESET", ECONNRESET},
    {"ECONNABORTED", ECONNABORTED}, {"ETIMEDOUT", ETIMEDOUT},
    {"EPIPE", EPIPE},           {"EINVAL", EINVAL},
    {"EBADF", EBADF},           {"EADDRINUSE", EADDRINUSE},
    {"EADDRNOTAVAIL", EADDRNOTAVAIL}, {"ENOMEM", ENOMEM},
    {"ENOBUFS", ENOBUFS},       {"EPROTO", EPROTO},
    {"EOPNOTSUPP", EOPNOTSUPP}, {"ECANCELED", ECANCELED},
};

int pkt_errno_by_name(const char *name) {
  for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
    if (strcmp(errnos[i].name, name) == 0)
      return errnos[i].value;
  return -1;
}

const char *pkt_errno_name(int err) {
  for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
    if (errnos[i].value == err)
      return errnos[i].name;
  return "E?";
}

int pkt_errno_from_tcpu(int code) {
  switch (code) {
  case TCPU_ERR_INVAL:
    return EINVAL;
  case TCPU_ERR_NOMEM:
    return ENOMEM;
  case TCPU_ERR_PROTO:
    return EPROTO;
  case TCPU_ERR_TIMEDOUT:
    return ETIMEDOUT;
  case TCPU_ERR_NOBUF:
    return ENOBUFS;
  case TCPU_ERR_RESET:
    return ECONNRESET;
  case TCPU_ERR_REFUSED:
    return ECONNREFUSED;
  case TCPU_ERR_CALLBACK_FAILURE:
    return ECANCELED;
  case TCPU_ERR_STATE:
    return EINVAL;
  case TCPU_ERR_ADDRINUSE:
    return EADDRINUSE;
  case TCPU_ERR_AGAIN:
    return EAGAIN;
  case TCPU_ERR_PIPE:
    return EPIPE;
  case TCPU_ERR_ABORTED:
    return ECONNABORTED;
  case TCPU_ERR_ADDRNOTAVAIL:
    return EADDRNOTAVAIL;
  case TCPU_ERR_NOTCONN:
    return ENOTCONN;
  default:
    return EPROTO;
  }
}

/* ----------------------------------------------------------------- states */

static const char *const states[TCPU_STATE_COUNT] = {
    "CLOSED",      "LISTEN",     "SYN_SENT",   "SYN_RCVD",
    "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT",
    "CLOSING",     "LAST_ACK",   "TIME_WAIT"};

int pkt_state_by_name(const char *name) {
  char buf[32];
  size_t n = strlen(name);

  if (n >= sizeof(buf))
    return -1;
  /* RFC 9293 spells them SYN-SENT; accept both. */
  for (size_t i = 0; i <= n; i++)
    buf[i] = name[i] == '-' ? '_' : name[i];
  for (int i = 0; i < TCPU_STATE_COUNT; i++)
    if (strcmp(states[i], buf) == 0)
      return i;
  return -1;
}

const char *pkt_state_str(tcpu_state s) {
  return (unsigned)s < TCPU_STATE_COUNT ? states[s] : "UNKNOWN";
}

/* --------------------------------------------------------------- counters */

#define STAT(f) {#f, offsetof(tcpu_endpoint_stats, f)}
static const struct {
  const char *name;
  size_t off;
} stats[] = {
    STAT(dgrams_in),          STAT(dgrams_out),
    STAT(drop_short),         STAT(drop_bad_offset),
    STAT(drop_bad_option),    STAT(drop_bad_sack),
    STAT(drop_bad_checksum),  STAT(drop_bad_flags),
    STAT(drop_no_conn),       STAT(drop_unacceptable), STAT(drop_no_timestamp),
    STAT(out_of_order), STAT(drop_reassembly),  STAT(rst_sent),
    STAT(rst_received),       STAT(challenge_acks),
    STAT(syn_queue_overflow), STAT(accept_queue_overflow),
    STAT(syncookies_sent),    STAT(syncookies_ok),
    STAT(syncookies_failed),  STAT(ctl_queue_overflow),
    STAT(conns_opened),       STAT(conns_closed),
};
#undef STAT

long pkt_stat_offset(const char *name) {
  for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
    if (strcmp(stats[i].name, name) == 0)
      return (long)stats[i].off;
  return -1;
}

/* ------------------------------------------------------------- conn info */

/* Durations are read in whole milliseconds (truncated). */
#define MS(f) ((uint64_t)(ci->f / TCPU_NS_PER_MS))

static const char *const infos[] = {
    "snd_mss",        "rcv_mss",        "snd_wscale",     "rcv_wscale",
    "timestamps",     "sack",           "rto_ms",         "srtt_ms",
    "cwnd",           "ssthresh",       "snd_wnd",        "rcv_wnd",
    "unacked",        "retransmits",    "timeouts",       "rttvar_ms",
    "min_rtt_ms",     "pipe",           "ca_state",       "snd_buffered",
    "rcv_buffered",   "bytes_sent",     "bytes_acked",    "bytes_received",
    "bytes_retrans",  "segs_in",        "segs_out",       "sacked_segs",
    "lost_segs",      "dsacks",         "reorder_events", "spurious_undos",
    "tlp_probes",     "fast_recoveries", "paws_drops",
};
#define NINFOS (int)(sizeof(infos) / sizeof(infos[0]))

int pkt_info_by_name(const char *name) {
  for (int i = 0; i < NINFOS; i++)
    if (strcmp(infos[i], name) == 0)
      return i;
  return -1;
}

const char *pkt_info_names(void) {
  static char buf[512];

  if (buf[0] == '\0') {
    for (int i = 0; i < NINFOS; i++) {
      if (i > 0)
        strcat(buf, " ");
      strcat(buf, infos[i]);
    }
  }
  return buf;
}

uint64_t pkt_info_value(const tcpu_conn_info *ci, int field) {
  switch (field) {
  case 0: return ci->snd_mss;
  case 1: return ci->rcv_mss;
  case 2: return ci->snd_wscale;
  case 3: return ci->rcv_wscale;
  case 4: return ci->timestamps;
  case 5: return ci->sack;
  case 6: return MS(rto);
  case 7: return MS(srtt);
  case 8: return ci->cwnd;
  case 9: return ci->ssthresh;
  case 10: return ci->snd_wnd;
  case 11: return ci->rcv_wnd;
  case 12: return ci->unacked;
  case 13: return ci->retransmits;
  case 14: return ci->timeouts;
  case 15: return MS(rttvar);
  case 16: return MS(min_rtt);
  case 17: return ci->pipe;
  case 18: return ci->ca_state;
  case 19: return ci->snd_buffered;
  case 20: return ci->rcv_buffered;
  case 21: return ci->bytes_sent;
  case 22: return ci->bytes_acked;
  case 23: return ci->bytes_received;
  case 24: return ci->bytes_retrans;
  case 25: return ci->segs_in;
  case 26: return ci->segs_out;
  case 27: return ci->sacked_segs;
  case 28: return ci->lost_segs;
  case 29: return ci->dsacks;
  case 30: return ci->reorder_events;
  case 31: return ci->spurious_undos;
  case 32: return ci->tlp_probes;
  case 33: return ci->fast_recoveries;
  case 34: return ci->paws_drops;
  }
  return 0;
}
#undef MS

/* --------------------------------------------------------------- settings */

typedef enum {
  V_U32, V_MS, V_BOOL, V_PORT, V_OVERFLOW, V_COOKIES, V_NAME
} vkind;

static const struct {
  const char *name;
  pkt_set_key key;
  vkind kind;
} settings[] = {
    {"mtu", PKT_SET_MTU, V_U32},
    {"sndbuf", PKT_SET_SNDBUF, V_U32},
    {"rcvbuf", PKT_SET_RCVBUF, V_U32},
    {"msl_ms", PKT_SET_MSL_MS, V_MS},
    {"fin_wait2_timeout_ms", PKT_SET_FIN_WAIT2_TIMEOUT_MS, V_MS},
    {"rto_initial_ms", PKT_SET_RTO_INITIAL_MS, V_MS},
    {"rto_min_ms", PKT_SET_RTO_MIN_MS, V_MS},
    {"rto_max_ms", PKT_SET_RTO_MAX_MS, V_MS},
    {"delack_max_ms", PKT_SET_DELACK_MAX_MS, V_MS},
    {"syn_retries", PKT_SET_SYN_RETRIES, V_U32},
    {"synack_retries", PKT_SET_SYNACK_RETRIES, V_U32},
    {"retries", PKT_SET_RETRIES, V_U32},
    {"accept_overflow", PKT_SET_ACCEPT_OVERFLOW, V_OVERFLOW},
    {"syncookies", PKT_SET_SYNCOOKIES, V_COOKIES},
    {"ephemeral_lo", PKT_SET_EPHEMERAL_LO, V_PORT},
    {"ephemeral_hi", PKT_SET_EPHEMERAL_HI, V_PORT},
    {"timestamps", PKT_SET_TIMESTAMPS, V_BOOL},
    {"sack", PKT_SET_SACK, V_BOOL},
    {"window_scaling", PKT_SET_WINDOW_SCALING, V_BOOL},
    {"nodelay", PKT_SET_NODELAY, V_BOOL},
    {"cc", PKT_SET_CC, V_NAME},
    {"keepalive", PKT_SET_KEEPALIVE, V_BOOL},
    {"keepalive_idle_ms", PKT_SET_KEEPALIVE_IDLE_MS, V_MS},
    {"keepalive_intvl_ms", PKT_SET_KEEPALIVE_INTVL_MS, V_MS},
    {"keepalive_probes", PKT_SET_KEEPALIVE_PROBES, V_U32},
    {"user_timeout_ms", PKT_SET_USER_TIMEOUT_MS, V_MS},
};

static int parse_uint(const char *s, uint64_t max, uint64_t *v) {
  char *end;
  unsigned long long x;

  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  x = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || x > max)
    return -1;
  *v = x;
  return 0;
}

/* A congestion-control name: what tcpu_settings.cc holds.  Whether an
 * algorithm of that name exists is the core's to say (tcpu_listen and
 * tcpu_connect fail with INVAL). */
static int parse_name(const char *s, char *out, size_t n) {
  size_t len = strlen(s);

  if (len == 0 || len >= n)
    return -1;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '_' || s[i] == '-'))
      return -1;
  memcpy(out, s, len + 1);
  return 0;
}

int pkt_setting_parse(const char *name, const char *value, pkt_setting *out,
                      char *err, size_t errlen) {
  uint64_t *v = &out->value;

  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
    if (strcmp(settings[i].name, name) != 0)
      continue;
    out->key = settings[i].key;
    switch (settings[i].kind) {
    case V_NAME:
      if (parse_name(value, out->str, sizeof(out->str)) == 0)
        return 0;
      snprintf(err, errlen, "%s: expected a name of 1..15 characters "
                            "a-z 0-9 _ -", name);
      return -1;
    case V_U32:
    case V_MS:
      if (parse_uint(value, UINT32_MAX, v) == 0)
        return 0;
      snprintf(err, errlen, "%s: expected an unsigned 32-bit number", name);
      return -1;
    case V_BOOL:
      if (parse_uint(value, 1, v) == 0)
        return 0;
      snprintf(err, errlen, "%s: expected 0 or 1", name);
      return -1;
    case V_PORT:
      if (parse_uint(value, 65535, v) == 0 && *v > 0)
        return 0;
      snprintf(err, errlen, "%s: expected a port 1..65535", name);
      return -1;
    case V_COOKIES:
      if (parse_uint(value, 2, v) == 0)
        return 0;
      snprintf(err, errlen, "%s: expected 0, 1 or 2", name);
      return -1;
    case V_OVERFLOW:
      if (strcmp(value, "drop") == 0) {
        *v = TCPU_OVERFLOW_DROP;
        return 0;
      }
      if (strcmp(value, "rst") == 0) {
        *v = TCPU_OVERFLOW_RST;
        return 0;
      }
      snprintf(err, errlen, "%s: expected drop or rst", name);
      return -1;
    }
  }
  snprintf(err, errlen, "unknown setting '%s'", name);
  return -1;
}

void pkt_setting_apply(tcpu_settings *s, const pkt_setting *set) {
  uint64_t v = set->value;
  tcpu_duration ms = (tcpu_duration)v * TCPU_NS_PER_MS;

  switch (set->key) {
  case PKT_SET_MTU:
    s->mtu = (uint32_t)v;
    break;
  case PKT_SET_SNDBUF:
    s->sndbuf = (uint32_t)v;
    break;
  case PKT_SET_RCVBUF:
    s->rcvbuf = (uint32_t)v;
    break;
  case PKT_SET_MSL_MS:
    s->msl = ms;
    break;
  case PKT_SET_FIN_WAIT2_TIMEOUT_MS:
    s->fin_wait2_timeout = ms;
    break;
  case PKT_SET_RTO_INITIAL_MS:
    s->rto_initial = ms;
    break;
  case PKT_SET_RTO_MIN_MS:
    s->rto_min = ms;
    break;
  case PKT_SET_RTO_MAX_MS:
    s->rto_max = ms;
    break;
  case PKT_SET_DELACK_MAX_MS:
    s->delack_max = ms;
    break;
  case PKT_SET_SYN_RETRIES:
    s->syn_retries = (uint32_t)v;
    break;
  case PKT_SET_SYNACK_RETRIES:
    s->synack_retries = (uint32_t)v;
    break;
  case PKT_SET_RETRIES:
    s->retries = (uint32_t)v;
    break;
  case PKT_SET_ACCEPT_OVERFLOW:
    s->accept_overflow = (tcpu_overflow)v;
    break;
  case PKT_SET_SYNCOOKIES:
    s->syncookies = (tcpu_syncookies)v;
    break;
  case PKT_SET_EPHEMERAL_LO:
    s->ephemeral_lo = (uint16_t)v;
    break;
  case PKT_SET_EPHEMERAL_HI:
    s->ephemeral_hi = (uint16_t)v;
    break;
  case PKT_SET_TIMESTAMPS:
    s->timestamps = v != 0;
    break;
  case PKT_SET_SACK:
    s->sack = v != 0;
    break;
  case PKT_SET_WINDOW_SCALING:
    s->window_scaling = v != 0;
    break;
  case PKT_SET_NODELAY:
    s->nodelay = v != 0;
    break;
  case PKT_SET_CC:
    memcpy(s->cc, set->str, sizeof(s->cc));
    break;
  case PKT_SET_KEEPALIVE:
    s->keepalive = v != 0;
    break;
  case PKT_SET_KEEPALIVE_IDLE_MS:
    s->keepalive_idle = ms;
    break;
  case PKT_SET_KEEPALIVE_INTVL_MS:
    s->keepalive_intvl = ms;
    break;
  case PKT_SET_KEEPALIVE_PROBES:
    s->keepalive_probes = (uint32_t)v;
    break;
  case PKT_SET_USER_TIMEOUT_MS:
    s->user_timeout = ms;
    break;
  }
}
