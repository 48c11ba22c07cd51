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
    STAT(drop_no_conn),       STAT(drop_unacceptable),
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

enum {
  I_SND_MSS, I_RCV_MSS, I_SND_WSCALE, I_RCV_WSCALE, I_TIMESTAMPS, I_SACK,
  I_RTO_MS, I_SRTT_MS, I_CWND, I_SSTHRESH, I_SND_WND, I_RCV_WND, I_UNACKED,
  I_RETRANSMITS, I_TIMEOUTS, I_COUNT
};

static const char *const infos[I_COUNT] = {
    "snd_mss", "rcv_mss", "snd_wscale", "rcv_wscale", "timestamps", "sack",
    "rto_ms", "srtt_ms", "cwnd", "ssthresh", "snd_wnd", "rcv_wnd", "unacked",
    "retransmits", "timeouts"};

int pkt_info_by_name(const char *name) {
  for (int i = 0; i < I_COUNT; i++)
    if (strcmp(infos[i], name) == 0)
      return i;
  return -1;
}

uint64_t pkt_info_value(const tcpu_conn_info *ci, int field) {
  switch (field) {
  case I_SND_MSS: return ci->snd_mss;
  case I_RCV_MSS: return ci->rcv_mss;
  case I_SND_WSCALE: return ci->snd_wscale;
  case I_RCV_WSCALE: return ci->rcv_wscale;
  case I_TIMESTAMPS: return ci->timestamps;
  case I_SACK: return ci->sack;
  case I_RTO_MS: return (uint64_t)(ci->rto / TCPU_NS_PER_MS);
  case I_SRTT_MS: return (uint64_t)(ci->srtt / TCPU_NS_PER_MS);
  case I_CWND: return ci->cwnd;
  case I_SSTHRESH: return ci->ssthresh;
  case I_SND_WND: return ci->snd_wnd;
  case I_RCV_WND: return ci->rcv_wnd;
  case I_UNACKED: return ci->unacked;
  case I_RETRANSMITS: return ci->retransmits;
  case I_TIMEOUTS: return ci->timeouts;
  }
  return 0;
}

/* --------------------------------------------------------------- settings */

typedef enum { V_U32, V_MS, V_BOOL, V_PORT, V_OVERFLOW, V_COOKIES } vkind;

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

int pkt_setting_parse(const char *name, const char *value, pkt_set_key *key,
                      uint64_t *v, char *err, size_t errlen) {
  for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
    if (strcmp(settings[i].name, name) != 0)
      continue;
    *key = settings[i].key;
    switch (settings[i].kind) {
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

void pkt_setting_apply(tcpu_settings *s, pkt_set_key key, uint64_t v) {
  tcpu_duration ms = (tcpu_duration)v * TCPU_NS_PER_MS;

  switch (key) {
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
  }
}
