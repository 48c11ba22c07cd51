/*
 * names.h — the names a script may use, and their values: errno names
 * (as packetdrill prints them), TCP states, endpoint counters and %set
 * keys.  Header-only dependencies on the core, so the parser and its unit
 * test build and run without the core library.
 */
#ifndef PKT_NAMES_H
#define PKT_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "tcpu/tcpu.h"

/* errno value for "EAGAIN" and the like; -1 if unknown. */
int pkt_errno_by_name(const char *name);
/* "EAGAIN" for EAGAIN; "E?" for values outside the table. */
const char *pkt_errno_name(int err);
/* The errno a socket call reports for a core error (TCPU_ERR_*). */
int pkt_errno_from_tcpu(int code);

/* TCPU_CLOSED.. for "CLOSED", "SYN_SENT" or "SYN-SENT"; -1 if unknown. */
int pkt_state_by_name(const char *name);
const char *pkt_state_str(tcpu_state s);

/* Offset of a uint64_t field of tcpu_endpoint_stats; -1 if unknown. */
long pkt_stat_offset(const char *name);

/* %info fields: tcpu_conn_info of a descriptor's connection. */
int pkt_info_by_name(const char *name); /* -1 if unknown */
/* Every field name, blank-separated, for messages. */
const char *pkt_info_names(void);
uint64_t pkt_info_value(const tcpu_conn_info *ci, int field);

/* %set keys that become tcpu_settings fields (tolerance_ms and end_check
 * are the runner's own and live in pkt_script). */
typedef enum pkt_set_key {
  PKT_SET_MTU,
  PKT_SET_SNDBUF,
  PKT_SET_RCVBUF,
  PKT_SET_MSL_MS,
  PKT_SET_FIN_WAIT2_TIMEOUT_MS,
  PKT_SET_RTO_INITIAL_MS,
  PKT_SET_RTO_MIN_MS,
  PKT_SET_RTO_MAX_MS,
  PKT_SET_DELACK_MAX_MS,
  PKT_SET_SYN_RETRIES,
  PKT_SET_SYNACK_RETRIES,
  PKT_SET_RETRIES,
  PKT_SET_ACCEPT_OVERFLOW, /* drop | rst */
  PKT_SET_SYNCOOKIES,      /* 0 | 1 | 2 */
  PKT_SET_EPHEMERAL_LO,
  PKT_SET_EPHEMERAL_HI,
  PKT_SET_TIMESTAMPS,
  PKT_SET_SACK,
  PKT_SET_WINDOW_SCALING,
  PKT_SET_NODELAY,
  PKT_SET_CC,                  /* a name: str */
  PKT_SET_KEEPALIVE,
  PKT_SET_KEEPALIVE_IDLE_MS,
  PKT_SET_KEEPALIVE_INTVL_MS,
  PKT_SET_KEEPALIVE_PROBES,
  PKT_SET_USER_TIMEOUT_MS
} pkt_set_key;

/* One %set of a tcpu_settings field: a number, or for names (cc) str. */
typedef struct pkt_setting {
  pkt_set_key key;
  uint64_t value;
  char str[16]; /* NUL-terminated, as tcpu_settings.cc */
} pkt_setting;

/* Parses `value` for key `name`.  Returns 0 and fills *out, or -1 with a
 * message in err. */
int pkt_setting_parse(const char *name, const char *value, pkt_setting *out,
                      char *err, size_t errlen);
/* Writes one setting into s. */
void pkt_setting_apply(tcpu_settings *s, const pkt_setting *set);

#endif /* PKT_NAMES_H */
