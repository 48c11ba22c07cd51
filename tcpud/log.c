/*
 * log.c — stderr or syslog, filtered by level; see log.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcpud/log.h"

static const char *log_ident = "tcpud";
static int log_syslog;
static int log_level = TCPUD_LOG_DEFAULT;
static int log_journal; /* stderr is the systemd journal */

static const struct {
  const char *name;
  int level;
} level_names[] = {
    {"error", LOG_ERR},    {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
    {"info", LOG_INFO},    {"debug", LOG_DEBUG},     {"err", LOG_ERR},
    {"warn", LOG_WARNING},
};

int tcpud_log_level_parse(const char *name) {
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
    if (strcasecmp(name, level_names[i].name) == 0)
      return level_names[i].level;
  return -1;
}

const char *tcpud_log_level_name(int level) {
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
    if (level_names[i].level == level)
      return level_names[i].name;
  return level < LOG_ERR ? "error" : "debug";
}

void tcpud_log_init(const char *ident, int use_syslog, int level) {
  if (log_syslog && !use_syslog)
    closelog();
  log_ident = ident != NULL ? ident : "tcpud";
  if (use_syslog && !log_syslog)
    openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
  log_syslog = use_syslog;
  log_level = level;
  log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void tcpud_log_set_level(int level) { log_level = level; }
int tcpud_log_get_level(void) { return log_level; }
int tcpud_log_enabled(int level) { return level <= log_level; }

void tcpud_log_close(void) {
  if (log_syslog)
    closelog();
  log_syslog = 0;
}

void tcpud_vlog(int level, const char *fmt, va_list ap) {
  char msg[1024];

  if (level > log_level)
    return;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  if (log_syslog) {
    syslog(level, "%s", msg);
    return;
  }
  if (log_journal) {
    fprintf(stderr, "<%d>%s\n", level, msg);
  } else {
    struct timespec ts;
    struct tm tm;
    char when[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld %s: %s: %s\n", when, ts.tv_nsec / 1000000,
            log_ident, tcpud_log_level_name(level), msg);
  }
  fflush(stderr);
}

void tcpud_log(int level, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  tcpud_vlog(level, fmt, ap);
  va_end(ap);
}

void tcpud_log_limited(tcpud_ratelimit *rl, uint64_t now_ns, int level,
                       const char *fmt, ...) {
  char msg[768];
  va_list ap;

  if (level > log_level)
    return;
  if (rl->last_ns != 0 && now_ns - rl->last_ns < 1000000000ull) {
    rl->suppressed++;
    return;
  }
  rl->last_ns = now_ns;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (rl->suppressed > 0)
    tcpud_log(level, "%s (%llu similar messages suppressed)", msg,
              (unsigned long long)rl->suppressed);
  else
    tcpud_log(level, "%s", msg);
  rl->suppressed = 0;
}
