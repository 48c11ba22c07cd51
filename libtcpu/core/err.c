/*
 * err.c — error strings and names generated from TCPU_ERR_MAP (tcpu.h),
 * state names (RFC 9293 §3.3.2) and the small tcpu_addr helpers.
 */
#include <string.h>

#include "tcpu/tcpu.h"

TCPU_EXTERN const char *tcpu_strerror(int err) {
  switch (err) {
#define XX(name, code, msg)                                                  \
  case code:                                                                 \
    return msg;
    TCPU_ERR_MAP(XX)
#undef XX
  default:
    return "unknown error";
  }
}

TCPU_EXTERN const char *tcpu_err_name(int err) {
  switch (err) {
#define XX(name, code, msg)                                                  \
  case code:                                                                 \
    return "TCPU_ERR_" #name;
    TCPU_ERR_MAP(XX)
#undef XX
  default:
    return "TCPU_ERR_UNKNOWN";
  }
}

TCPU_EXTERN int tcpu_err_is_fatal(int err) {
  switch (err) {
  case TCPU_ERR_RESET:
  case TCPU_ERR_REFUSED:
  case TCPU_ERR_TIMEDOUT:
  case TCPU_ERR_ABORTED:
  case TCPU_ERR_PROTO:
  case TCPU_ERR_NOMEM:
    return 1;
  default:
    return 0;
  }
}

TCPU_EXTERN const char *tcpu_state_name(tcpu_state s) {
  /* Indexed by tcpu_state, spelled as RFC 9293 §3.3.2 and `ss` spell them. */
  static const char *const names[TCPU_STATE_COUNT] = {
      [TCPU_CLOSED] = "CLOSED",
      [TCPU_LISTEN] = "LISTEN",
      [TCPU_SYN_SENT] = "SYN_SENT",
      [TCPU_SYN_RCVD] = "SYN_RCVD",
      [TCPU_ESTABLISHED] = "ESTABLISHED",
      [TCPU_FIN_WAIT_1] = "FIN_WAIT_1",
      [TCPU_FIN_WAIT_2] = "FIN_WAIT_2",
      [TCPU_CLOSE_WAIT] = "CLOSE_WAIT",
      [TCPU_CLOSING] = "CLOSING",
      [TCPU_LAST_ACK] = "LAST_ACK",
      [TCPU_TIME_WAIT] = "TIME_WAIT",
  };

  /* Through unsigned: an out-of-range value may arrive from a cast int. */
  if ((unsigned)s >= TCPU_STATE_COUNT)
    return "UNKNOWN";
  return names[s];
}

TCPU_EXTERN int tcpu_addr_equal(const tcpu_addr *a, const tcpu_addr *b) {
  if (a->family != b->family || a->port != b->port)
    return 0;
  if (a->family == TCPU_AF_INET)
    return memcmp(a->ip, b->ip, 4) == 0;
  /* The scope matters for link-local IPv6 (RFC 4007 §6): fe80::1 on two
   * interfaces is two peers. */
  return memcmp(a->ip, b->ip, sizeof(a->ip)) == 0 &&
         a->scope_id == b->scope_id;
}

TCPU_EXTERN void tcpu_addr_ipv4(tcpu_addr *a, const uint8_t ip[4],
                                uint16_t port) {
  memset(a, 0, sizeof(*a));
  a->family = TCPU_AF_INET;
  a->port = port;
  memcpy(a->ip, ip, 4);
}
