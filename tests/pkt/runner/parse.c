/*
 * parse.c — scripts: comments, lines, times and %-directives; segments
 * and calls are parsed by parse_seg.c and parse_call.c.
 */
#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  pkt_script *sc;
  int line;
  uint16_t rport; /* %port */
} parser;

static int fail(parser *p, const char *fmt, ...) {
  char msg[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(p->sc->err, sizeof(p->sc->err), "%s:%d: %s", p->sc->file, p->line,
           msg);
  return -1;
}

/* Blanks out // and block comments in place, keeping newlines so line
 * numbers survive.  Returns 0, or the line of an unterminated comment. */
static int strip_comments(char *s) {
  int line = 1, start = 0;

  for (char *q = s; *q != '\0'; q++) {
    if (*q == '\n') {
      line++;
    } else if (q[0] == '/' && q[1] == '/') {
      while (*q != '\0' && *q != '\n')
        *q++ = ' ';
      q--;
    } else if (q[0] == '/' && q[1] == '*') {
      start = line;
      *q++ = ' ';
      *q = ' ';
      for (q++; *q != '\0' && !(q[0] == '*' && q[1] == '/'); q++) {
        if (*q == '\n')
          line++;
        else
          *q = ' ';
      }
      if (*q == '\0')
        return start;
      *q++ = ' ';
      *q = ' ';
    }
  }
  return 0;
}

static int parse_time_point(pkt_lex *lx, pkt_time_kind *kind,
                            tcpu_duration *t) {
  *kind = pkt_lex_char(lx, '+') ? PKT_TIME_REL : PKT_TIME_ABS;
  return pkt_lex_seconds(lx, t);
}

static int parse_time(parser *p, pkt_lex *lx, pkt_time *tm) {
  memset(tm, 0, sizeof(*tm));
  if (pkt_lex_char(lx, '*')) {
    tm->kind = PKT_TIME_ANY;
    return 0;
  }
  if (parse_time_point(lx, &tm->kind, &tm->t) != 0)
    return fail(p, "expected a time (0.1, +0.1 or *) at '%s'", lx->p);
  if (pkt_lex_char(lx, '~')) {
    tm->has_end = 1;
    if (parse_time_point(lx, &tm->end_kind, &tm->end) != 0)
      return fail(p, "expected the end of the time range after '~'");
    if (tm->end_kind == tm->kind && tm->end < tm->t)
      return fail(p, "the time range ends before it starts");
  }
  return 0;
}

static pkt_event *new_event(parser *p, const char *line) {
  pkt_script *sc = p->sc;
  pkt_event *ev;

  if (sc->nev == sc->cap) {
    size_t cap = sc->cap ? sc->cap * 2 : 64;
    pkt_event *n = realloc(sc->ev, cap * sizeof(*n));

    if (n == NULL)
      return NULL;
    sc->ev = n;
    sc->cap = cap;
  }
  ev = &sc->ev[sc->nev];
  memset(ev, 0, sizeof(*ev));
  if ((ev->text = strdup(line)) == NULL)
    return NULL;
  sc->nev++;
  ev->line = p->line;
  ev->rport = p->rport;
  return ev;
}

/* Reads a %set value: everything up to a blank. */
static int set_value(pkt_lex *lx, char *buf, size_t n) {
  size_t len = 0;

  pkt_lex_ws(lx);
  while (lx->p[len] != '\0' && lx->p[len] != ' ' && lx->p[len] != '\t') {
    if (len + 1 >= n)
      return -1;
    buf[len] = lx->p[len];
    len++;
  }
  buf[len] = '\0';
  lx->p += len;
  return len > 0 ? 0 : -1;
}

static int parse_set(parser *p, pkt_lex *lx) {
  pkt_script *sc = p->sc;
  char name[32], val[32], err[160];
  uint64_t v;

  if (sc->nev > 0)
    return fail(p, "%%set must come before the first event");
  do {
    if (pkt_lex_word(lx, name, sizeof(name)) != 0 || !pkt_lex_char(lx, '=') ||
        set_value(lx, val, sizeof(val)) != 0)
      return fail(p, "expected %%set name=value");
    if (strcmp(name, "tolerance_ms") == 0) {
      pkt_lex vl = {val};

      if (pkt_lex_uint(&vl, 60000, &v) != 0 || !pkt_lex_at_end(&vl))
        return fail(p, "tolerance_ms: expected milliseconds 0..60000");
      sc->tolerance = (tcpu_duration)v * TCPU_NS_PER_MS;
      sc->tolerance_set = 1;
    } else if (strcmp(name, "ts_clock_check") == 0) {
      if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
        return fail(p, "ts_clock_check: expected 0 or 1");
      sc->ts_clock_check = val[0] == '1';
    } else if (strcmp(name, "end_check") == 0) {
      if (strcmp(val, "drain") == 0)
        sc->end_check = PKT_END_DRAIN;
      else if (strcmp(val, "none") == 0)
        sc->end_check = PKT_END_NONE;
      else if (strcmp(val, "idle") == 0)
        sc->end_check = PKT_END_IDLE;
      else
        return fail(p, "end_check: expected drain, none or idle");
    } else {
      if (sc->nset == PKT_MAX_SETTINGS)
        return fail(p, "too many settings");
      if (pkt_setting_parse(name, val, &sc->set[sc->nset], err,
                            sizeof(err)) != 0)
        return fail(p, "%s", err);
      sc->nset++;
    }
  } while (!pkt_lex_at_end(lx));
  return 0;
}

static int parse_port16(pkt_lex *lx, uint16_t *port) {
  uint64_t v;

  if (pkt_lex_uint(lx, 65535, &v) != 0 || v == 0)
    return -1;
  *port = (uint16_t)v;
  return 0;
}

static int parse_state(parser *p, pkt_lex *lx, pkt_state_check *st) {
  char name[32];
  uint64_t v;
  int s;

  if (pkt_lex_keyword(lx, "conn")) {
    st->by_ports = 1;
    /* "*:R": the local port the flow of R uses (an ephemeral one after
     * connect()), so scripts need not know the port the core picked. */
    if (pkt_lex_char(lx, '*'))
      st->lport = 0;
    else if (parse_port16(lx, &st->lport) != 0)
      return fail(p, "expected %%state conn LPORT:RPORT STATE");
    if (!pkt_lex_char(lx, ':') || parse_port16(lx, &st->rport) != 0)
      return fail(p, "expected %%state conn LPORT:RPORT STATE");
  } else {
    if (pkt_lex_uint(lx, 1023, &v) != 0)
      return fail(p, "expected %%state FD STATE or %%state conn L:R STATE");
    st->fd = (int)v;
  }
  if (pkt_lex_word(lx, name, sizeof(name)) != 0)
    return fail(p, "expected a TCP state name");
  /* SYN-SENT style names: the lexer stops at '-', so glue them back. */
  while (*lx->p == '-') {
    size_t n = strlen(name);
    char more[32];

    lx->p++;
    if (n + 1 >= sizeof(name) || pkt_lex_word(lx, more, sizeof(more)) != 0 ||
        n + 1 + strlen(more) >= sizeof(name))
      return fail(p, "bad TCP state name");
    name[n] = '_';
    strcpy(name + n + 1, more);
  }
  if ((s = pkt_state_by_name(name)) < 0)
    return fail(p, "unknown TCP state '%s'", name);
  st->state = (tcpu_state)s;
  return 0;
}

/* %-directives.  ev is NULL for untimed ones. */
static int parse_directive(parser *p, pkt_lex *lx, pkt_event *ev) {
  char name[32];

  if (pkt_lex_word(lx, name, sizeof(name)) != 0)
    return fail(p, "expected a directive name after '%%'");
  if (strcmp(name, "set") == 0 || strcmp(name, "port") == 0) {
    if (ev != NULL)
      return fail(p, "%%%s takes no time", name);
    if (name[0] == 's')
      return parse_set(p, lx);
    if (parse_port16(lx, &p->rport) != 0)
      return fail(p, "expected %%port N with N in 1..65535");
  } else if (strcmp(name, "state") == 0 || strcmp(name, "stat") == 0 ||
             strcmp(name, "noop") == 0 || strcmp(name, "info") == 0 ||
             strcmp(name, "isn_above_previous") == 0) {
    if (ev == NULL)
      return fail(p, "%%%s needs a time, like '+0 %%%s ...'", name, name);
    if (strcmp(name, "noop") == 0) {
      ev->kind = PKT_EV_NOOP;
    } else if (strcmp(name, "info") == 0) {
      pkt_info_check *ic = &ev->u.info;
      uint64_t v;

      ev->kind = PKT_EV_INFO;
      if (pkt_lex_uint(lx, 1023, &v) != 0 ||
          pkt_lex_word(lx, ic->name, sizeof(ic->name)) != 0 ||
          (ic->field = pkt_info_by_name(ic->name)) < 0 ||
          pkt_lex_uint(lx, UINT64_MAX, &ic->value) != 0)
        return fail(p, "expected %%info FD FIELD N with FIELD one of %s",
                    pkt_info_names());
      ic->fd = (int)v;
    } else if (strcmp(name, "isn_above_previous") == 0) {
      ev->kind = PKT_EV_ISN_PREV;
    } else if (strcmp(name, "state") == 0) {
      ev->kind = PKT_EV_STATE;
      if (parse_state(p, lx, &ev->u.state) != 0)
        return -1;
    } else {
      long off;

      ev->kind = PKT_EV_STAT;
      if (pkt_lex_word(lx, ev->u.stat.name, sizeof(ev->u.stat.name)) != 0 ||
          (off = pkt_stat_offset(ev->u.stat.name)) < 0)
        return fail(p, "expected %%stat COUNTER N with a tcpu_endpoint_stats "
                       "field");
      ev->u.stat.offset = (size_t)off;
      if (pkt_lex_uint(lx, UINT64_MAX, &ev->u.stat.value) != 0)
        return fail(p, "expected the counter's value");
    }
  } else {
    return fail(p, "unknown directive '%%%s'", name);
  }
  if (!pkt_lex_at_end(lx))
    return fail(p, "unexpected text: '%s'", lx->p);
  return 0;
}

static int parse_line(parser *p, const char *line) {
  pkt_lex lx = {line};
  pkt_event *ev;
  pkt_time tm;
  char err[400];
  char c;

  if (pkt_lex_at_end(&lx))
    return 0;
  if (pkt_lex_char(&lx, '%'))
    return parse_directive(p, &lx, NULL);
  if (parse_time(p, &lx, &tm) != 0)
    return -1;
  if ((ev = new_event(p, line)) == NULL)
    return fail(p, "out of memory");
  ev->time = tm;
  pkt_lex_ws(&lx);
  ev->body = ev->text + (lx.p - line);
  c = pkt_lex_peek(&lx);
  if (c == '<' || c == '>') {
    lx.p++;
    ev->kind = c == '<' ? PKT_EV_INBOUND : PKT_EV_OUTBOUND;
    if (pkt_parse_seg(&lx, c == '<', &ev->u.seg, err, sizeof(err)) != 0)
      return fail(p, "%s", err);
    return 0;
  }
  if (c == '%') {
    lx.p++;
    return parse_directive(p, &lx, ev);
  }
  ev->kind = PKT_EV_CALL;
  if (pkt_parse_call(&lx, &ev->u.call, err, sizeof(err)) != 0)
    return fail(p, "%s", err);
  return 0;
}

int pkt_script_parse(pkt_script *sc, const char *file, const char *text) {
  parser p = {sc, 0, PKT_REMOTE_PORT};
  char *buf, *line;
  int bad;

  memset(sc, 0, sizeof(*sc));
  sc->tolerance = PKT_DEFAULT_TOLERANCE;
  sc->end_check = PKT_END_DRAIN;
  if ((sc->file = strdup(file)) == NULL || (buf = strdup(text)) == NULL) {
    snprintf(sc->err, sizeof(sc->err), "%s: out of memory", file);
    return -1;
  }
  if ((bad = strip_comments(buf)) != 0) {
    p.line = bad;
    free(buf);
    return fail(&p, "unterminated /* comment");
  }
  line = buf;
  while (line != NULL) {
    char *nl = strchr(line, '\n');

    if (nl != NULL)
      *nl = '\0';
    p.line++;
    /* Trim the end so messages quote the line as written. */
    for (size_t n = strlen(line);
         n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
                   line[n - 1] == '\r');
         n--)
      line[n - 1] = '\0';
    while (*line == ' ' || *line == '\t')
      line++;
    if (parse_line(&p, line) != 0) {
      free(buf);
      return -1;
    }
    line = nl != NULL ? nl + 1 : NULL;
  }
  free(buf);
  return 0;
}

int pkt_script_load(pkt_script *sc, const char *path) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  size_t len = 0, cap = 0, n;
  int r;

  if (f == NULL) {
    memset(sc, 0, sizeof(*sc));
    snprintf(sc->err, sizeof(sc->err), "%s: cannot open", path);
    return -1;
  }
  do {
    if (cap - len < 4096) {
      char *t = realloc(text, cap + 65536);

      if (t == NULL) {
        free(text);
        fclose(f);
        memset(sc, 0, sizeof(*sc));
        snprintf(sc->err, sizeof(sc->err), "%s: out of memory", path);
        return -1;
      }
      text = t;
      cap += 65536;
    }
    n = fread(text + len, 1, cap - len - 1, f);
    len += n;
  } while (n > 0);
  fclose(f);
  text[len] = '\0';
  r = pkt_script_parse(sc, path, text);
  free(text);
  return r;
}

void pkt_script_free(pkt_script *sc) {
  for (size_t i = 0; i < sc->nev; i++)
    free(sc->ev[i].text);
  free(sc->ev);
  free(sc->file);
  memset(sc, 0, sizeof(*sc));
}
