/*
 * log.h — tcpud's log: to stderr or to syslog, with levels.
 *
 * Levels are syslog's (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
 * LOG_DEBUG); messages above the configured level are discarded before
 * they are formatted.  On stderr each line is "TIME tcpud: LEVEL: text",
 * except under systemd (JOURNAL_STREAM set), where the journal adds the
 * time and reads the level from a "<N>" prefix.
 */
#ifndef TCPUD_LOG_H
#define TCPUD_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <syslog.h>

#define TCPUD_LOG_DEFAULT LOG_INFO

/* Sets where and how much; may be called again (reload).  ident is kept by
 * reference (syslog does the same). */
void tcpud_log_init(const char *ident, int use_syslog, int level);
void tcpud_log_set_level(int level);
int tcpud_log_get_level(void);
/* Nonzero when messages of this level are written. */
int tcpud_log_enabled(int level);
/* Closes syslog if it was opened. */
void tcpud_log_close(void);

void tcpud_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tcpud_vlog(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* "error", "warning", "notice", "info", "debug" <-> LOG_*; parse returns -1
 * for an unknown name. */
int tcpud_log_level_parse(const char *name);
const char *tcpud_log_level_name(int level);

/* A log line that may repeat at a high rate (a connection limit hit, a
 * refused peer): written at most once per second; the next one written
 * says how many were suppressed meanwhile. */
typedef struct tcpud_ratelimit {
  uint64_t last_ns;
  uint64_t suppressed;
} tcpud_ratelimit;

void tcpud_log_limited(tcpud_ratelimit *rl, uint64_t now_ns, int level,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* TCPUD_LOG_H */
