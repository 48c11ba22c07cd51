/*
 * script.h — a parsed packetdrill-syntax script (README.md has the
 * language).  The parser depends on core headers only, never on the core
 * library, so it is unit-tested on its own (test_pkt_parse.c).
 */
#ifndef PKT_SCRIPT_H
#define PKT_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/seg.h"
#include "names.h"
#include "tcpu/tcpu.h"

#define PKT_LOCAL_PORT 8080   /* bind() and an unbound listen() */
#define PKT_REMOTE_PORT 40000 /* the script's TCP port until %port */
#define PKT_MAX_OPTS 40       /* at most 40 option bytes */
#define PKT_MAX_SETTINGS 64
#define PKT_DEFAULT_TOLERANCE (4 * TCPU_NS_PER_MS)

/* ------------------------------------------------------------------ time */

typedef enum pkt_time_kind {
  PKT_TIME_ABS, /* 0.100: seconds since the start of the script */
  PKT_TIME_REL, /* +0.1: after the previous event */
  PKT_TIME_ANY  /* *: whenever it happens */
} pkt_time_kind;

typedef struct pkt_time {
  pkt_time_kind kind;
  tcpu_duration t;
  /* 0.1~0.2 or +0.1~+0.3: a window; both ends share one base. */
  unsigned has_end : 1;
  pkt_time_kind end_kind;
  tcpu_duration end;
} pkt_time;

/* ------------------------------------------------------------- segments */

typedef enum pkt_opt_kind {
  PKT_OPT_EOL,
  PKT_OPT_NOP,
  PKT_OPT_MSS,     /* a = mss */
  PKT_OPT_WSCALE,  /* a = shift */
  PKT_OPT_SACKOK,
  PKT_OPT_SACK,    /* blocks */
  PKT_OPT_TS,      /* a = val, b = ecr */
  PKT_OPT_RAW      /* inbound only: a = kind, b = length byte */
} pkt_opt_kind;

typedef struct pkt_opt {
  pkt_opt_kind kind;
  uint32_t a, b;
  uint8_t nsack;
  tcpu_sack_block sack[TCPU_SACK_MAX_BLOCKS];
} pkt_opt;

typedef struct pkt_seg_spec {
  uint8_t flags;              /* TH_* */
  uint32_t start, end, len;   /* start:end(len) */
  unsigned has_ack : 1, has_win : 1, has_urg : 1;
  unsigned opts_given : 1;    /* <...> present */
  unsigned opts_any : 1;      /* it was <...>: options are not checked */
  uint32_t ack;
  uint16_t win, urg;
  uint8_t nopts;
  pkt_opt opts[PKT_MAX_OPTS];
} pkt_seg_spec;

/* Bytes the options take on the wire, before padding to 4. */
size_t pkt_opts_wire_len(const pkt_seg_spec *s);

/* ---------------------------------------------------------- socket calls */

typedef enum pkt_call_kind {
  PKT_CALL_SOCKET,
  PKT_CALL_SETSOCKOPT,
  PKT_CALL_GETSOCKOPT,
  PKT_CALL_FCNTL,
  PKT_CALL_BIND,
  PKT_CALL_LISTEN,
  PKT_CALL_ACCEPT,
  PKT_CALL_CONNECT,
  PKT_CALL_WRITE,
  PKT_CALL_READ,
  PKT_CALL_SHUTDOWN,
  PKT_CALL_CLOSE
} pkt_call_kind;

typedef enum pkt_sockopt {
  PKT_SO_NONE,
  PKT_SO_REUSEADDR, /* accepted and ignored */
  PKT_SO_RCVBUF,    /* endpoint setting: before the endpoint exists */
  PKT_SO_SNDBUF,
  PKT_SO_ERROR,     /* getsockopt only */
  PKT_SO_LINGER,    /* {onoff=1, linger=0} only: close() aborts */
  /* tcpu_conn_setopt; arg is already in tcpu's unit (ns, count, 0/1) */
  PKT_TCP_NODELAY,
  PKT_SO_KEEPALIVE,
  PKT_TCP_KEEPIDLE,    /* written in seconds, as Linux */
  PKT_TCP_KEEPINTVL,   /* seconds */
  PKT_TCP_KEEPCNT,
  PKT_TCP_USER_TIMEOUT /* milliseconds, as Linux */
} pkt_sockopt;

typedef struct pkt_call {
  pkt_call_kind kind;
  const char *name; /* as written: "write", "send", ... */
  int fd;           /* -1 for socket() */
  pkt_sockopt opt;
  uint64_t arg;     /* backlog, byte count, option value, errno for SO_ERROR */
  int copt;         /* the tcpu_conn_opt of a tcpu_conn_setopt option, else 0 */
  int64_t ret;      /* expected return */
  int err;          /* expected errno when ret == -1 */
} pkt_call;

/* ---------------------------------------------------------------- events */

typedef enum pkt_event_kind {
  PKT_EV_INBOUND,  /* < segment */
  PKT_EV_OUTBOUND, /* > segment */
  PKT_EV_CALL,
  PKT_EV_STATE,    /* %state */
  PKT_EV_STAT,     /* %stat */
  PKT_EV_NOOP,     /* %noop: only lets time pass */
  PKT_EV_ISN_PREV, /* %isn_above_previous */
  PKT_EV_INFO      /* %info */
} pkt_event_kind;

typedef struct pkt_state_check {
  int by_ports; /* %state conn L:R STATE; lport 0 is '*': the flow's */
  int fd;
  uint16_t lport, rport;
  tcpu_state state;
} pkt_state_check;

typedef struct pkt_stat_check {
  char name[32];
  size_t offset; /* in tcpu_endpoint_stats */
  uint64_t value;
} pkt_stat_check;

typedef struct pkt_info_check {
  int fd;
  int field; /* pkt_info_by_name */
  char name[32];
  uint64_t value;
} pkt_info_check;

typedef struct pkt_event {
  int line;
  char *text;        /* the line without comments, trimmed */
  const char *body;  /* text after the time */
  pkt_time time;
  pkt_event_kind kind;
  uint16_t rport;    /* the script's TCP port (%port) for this line */
  union {
    pkt_seg_spec seg;
    pkt_call call;
    pkt_state_check state;
    pkt_stat_check stat;
    pkt_info_check info;
  } u;
} pkt_event;

/* ---------------------------------------------------------------- script */

typedef enum pkt_end_check {
  PKT_END_DRAIN = 0, /* nothing may be pending at the last event's time */
  PKT_END_NONE,      /* no check */
  PKT_END_IDLE       /* run every timer out; nothing may be sent */
} pkt_end_check;

typedef struct pkt_script {
  char *file;
  pkt_event *ev;
  size_t nev, cap;
  pkt_setting set[PKT_MAX_SETTINGS];
  size_t nset;
  tcpu_duration tolerance;
  int tolerance_set; /* by %set tolerance_ms */
  pkt_end_check end_check;
  int ts_clock_check; /* %set ts_clock_check=1 */
  char err[1200]; /* "file:line: message" after a failed parse */
} pkt_script;

/* Parses text (NUL-terminated).  Returns 0, or -1 with sc->err set.  Call
 * pkt_script_free in both cases. */
int pkt_script_parse(pkt_script *sc, const char *file, const char *text);
/* Reads and parses a file. */
int pkt_script_load(pkt_script *sc, const char *path);
void pkt_script_free(pkt_script *sc);

#endif /* PKT_SCRIPT_H */
