/*
 * parse_call.c — socket-call lines: "name(args) = ret [ERRNO [(text)]]"
 * (README.md, "Socket calls").  Arguments the runner cannot use, such as
 * addresses, are written "..." as in packetdrill.
 */
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 6
#define ARG_LEN 64

#define FAIL(...)                                                            \
  do {                                                                       \
    snprintf(err, errlen, __VA_ARGS__);                                      \
    return -1;                                                               \
  } while (0)

typedef struct args {
  int n;
  char a[MAX_ARGS][ARG_LEN];
} args;

static const struct {
  const char *name;
  pkt_call_kind kind;
  int nargs;
} calls[] = {
    {"socket", PKT_CALL_SOCKET, 3},    {"setsockopt", PKT_CALL_SETSOCKOPT, 5},
    {"getsockopt", PKT_CALL_GETSOCKOPT, 5}, {"fcntl", PKT_CALL_FCNTL, -1},
    {"bind", PKT_CALL_BIND, 3},        {"listen", PKT_CALL_LISTEN, 2},
    {"accept", PKT_CALL_ACCEPT, 3},    {"connect", PKT_CALL_CONNECT, 3},
    {"write", PKT_CALL_WRITE, 3},      {"send", PKT_CALL_WRITE, 4},
    {"read", PKT_CALL_READ, 3},        {"recv", PKT_CALL_READ, 4},
    {"shutdown", PKT_CALL_SHUTDOWN, 2}, {"close", PKT_CALL_CLOSE, 1},
};

static void trim_copy(char *dst, const char *s, size_t n) {
  while (n > 0 && (*s == ' ' || *s == '\t')) {
    s++;
    n--;
  }
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  memcpy(dst, s, n);
  dst[n] = '\0';
}

/* Splits "a, [b, c], d" at top-level commas, up to the closing ')'. */
static int split_args(pkt_lex *lx, args *av, char *err, size_t errlen) {
  const char *s = lx->p, *q;
  int depth = 0;

  av->n = 0;
  for (q = s;; q++) {
    if (*q == '\0')
      FAIL("missing ')'");
    if (*q == '(' || *q == '[' || *q == '{') {
      depth++;
      continue;
    }
    if (depth > 0 && (*q == ')' || *q == ']' || *q == '}')) {
      depth--;
      continue;
    }
    if (depth == 0 && (*q == ',' || *q == ')')) {
      if ((size_t)(q - s) >= ARG_LEN)
        FAIL("argument too long");
      if (av->n == MAX_ARGS)
        FAIL("too many arguments");
      trim_copy(av->a[av->n++], s, (size_t)(q - s));
      s = q + 1;
      if (*q == ')')
        break;
    }
  }
  if (av->n == 1 && av->a[0][0] == '\0')
    av->n = 0;
  lx->p = q + 1;
  return 0;
}

static int arg_uint(const char *a, uint64_t max, uint64_t *v) {
  pkt_lex lx = {a};

  return pkt_lex_uint(&lx, max, v) == 0 && pkt_lex_at_end(&lx) ? 0 : -1;
}

/* "[v]" → v. */
static int arg_bracket(const char *a, char *out, size_t n) {
  size_t len = strlen(a);

  if (len < 2 || a[0] != '[' || a[len - 1] != ']' || len - 1 > n)
    return -1;
  trim_copy(out, a + 1, len - 2);
  return 0;
}

/* SO_LINGER's value in packetdrill's form.  tcpu has no lingering close:
 * a zero linger time (close() aborts with RST) or linger off is all there
 * is.  arg = 1 for the abort. */
static int parse_linger(pkt_call *c, const char *a, char *err,
                        size_t errlen) {
  char v[ARG_LEN];
  size_t n = 0;

  for (; *a != '\0'; a++)
    if (*a != ' ' && *a != '\t')
      v[n++] = *a;
  v[n] = '\0';
  if (strcmp(v, "{onoff=1,linger=0}") == 0)
    c->arg = 1;
  else if (strcmp(v, "{onoff=0,linger=0}") == 0)
    c->arg = 0;
  else
    FAIL("SO_LINGER: expected {onoff=1, linger=0} or {onoff=0, linger=0}");
  return 0;
}

/* The options that become tcpu_conn_setopt calls: name, level, tcpu
 * option, and the factor from the value as written (Linux's unit) to
 * tcpu's. */
static const struct {
  const char *name;
  int tcp_level; /* IPPROTO_TCP/SOL_TCP, else SOL_SOCKET */
  pkt_sockopt opt;
  int copt;
  uint64_t factor;
} conn_opts[] = {
    {"TCP_NODELAY", 1, PKT_TCP_NODELAY, TCPU_OPT_NODELAY, 1},
    {"SO_KEEPALIVE", 0, PKT_SO_KEEPALIVE, TCPU_OPT_KEEPALIVE, 1},
    /* Linux: seconds */
    {"TCP_KEEPIDLE", 1, PKT_TCP_KEEPIDLE, TCPU_OPT_KEEPIDLE, TCPU_NS_PER_S},
    {"TCP_KEEPINTVL", 1, PKT_TCP_KEEPINTVL, TCPU_OPT_KEEPINTVL,
     TCPU_NS_PER_S},
    {"TCP_KEEPCNT", 1, PKT_TCP_KEEPCNT, TCPU_OPT_KEEPCNT, 1},
    /* Linux: milliseconds */
    {"TCP_USER_TIMEOUT", 1, PKT_TCP_USER_TIMEOUT, TCPU_OPT_USER_TIMEOUT,
     TCPU_NS_PER_MS},
};

static int parse_sockopt(pkt_call *c, const args *av, char *err,
                         size_t errlen) {
  const char *level = av->a[1], *name = av->a[2];
  char val[ARG_LEN];
  int sol = strcmp(level, "SOL_SOCKET") == 0;
  int tcp = strcmp(level, "IPPROTO_TCP") == 0 || strcmp(level, "SOL_TCP") == 0;
  int k = -1;

  if (!sol && !tcp)
    FAIL("unsupported option level '%s'", level);
  for (size_t i = 0; i < sizeof(conn_opts) / sizeof(conn_opts[0]); i++)
    if (strcmp(name, conn_opts[i].name) == 0 && tcp == conn_opts[i].tcp_level)
      k = (int)i;
  if (k >= 0) {
    c->opt = conn_opts[k].opt;
    c->copt = conn_opts[k].copt;
  } else if (sol && strcmp(name, "SO_REUSEADDR") == 0) {
    c->opt = PKT_SO_REUSEADDR;
  } else if (sol && strcmp(name, "SO_RCVBUF") == 0) {
    c->opt = PKT_SO_RCVBUF;
  } else if (sol && strcmp(name, "SO_SNDBUF") == 0) {
    c->opt = PKT_SO_SNDBUF;
  } else if (sol && strcmp(name, "SO_ERROR") == 0) {
    c->opt = PKT_SO_ERROR;
  } else if (sol && strcmp(name, "SO_LINGER") == 0) {
    c->opt = PKT_SO_LINGER;
  } else {
    FAIL("unsupported socket option %s %s", level, name);
  }
  if (c->opt == PKT_SO_LINGER) {
    if (c->kind != PKT_CALL_SETSOCKOPT)
      FAIL("getsockopt supports SO_ERROR only");
    return parse_linger(c, av->a[3], err, errlen);
  }
  if (arg_bracket(av->a[3], val, sizeof(val)) != 0)
    FAIL("expected the option value in brackets, like [1]");
  if (c->kind == PKT_CALL_GETSOCKOPT) {
    int e;

    if (c->opt != PKT_SO_ERROR)
      FAIL("getsockopt supports SO_ERROR only");
    if (strcmp(val, "0") == 0)
      e = 0;
    else if ((e = pkt_errno_by_name(val)) < 0)
      FAIL("unknown errno '%s'", val);
    c->arg = (uint64_t)e;
    return 0;
  }
  if (c->opt == PKT_SO_ERROR)
    FAIL("SO_ERROR cannot be set");
  if (arg_uint(val, UINT32_MAX, &c->arg) != 0)
    FAIL("expected a number in [%s]", val);
  if (k >= 0)
    c->arg *= conn_opts[k].factor;
  return 0;
}

static int parse_args(pkt_call *c, const args *av, char *err,
                      size_t errlen) {
  uint64_t v;

  if (c->kind != PKT_CALL_SOCKET) {
    if (av->n < 1 || arg_uint(av->a[0], 1023, &v) != 0)
      FAIL("%s: the first argument must be a file descriptor", c->name);
    c->fd = (int)v;
  }
  switch (c->kind) {
  case PKT_CALL_SOCKET:
    if (strcmp(av->a[1], "SOCK_STREAM") != 0)
      FAIL("socket: only SOCK_STREAM is supported");
    if (strcmp(av->a[2], "IPPROTO_TCP") != 0 && strcmp(av->a[2], "0") != 0)
      FAIL("socket: the protocol must be IPPROTO_TCP");
    return 0;
  case PKT_CALL_SETSOCKOPT:
  case PKT_CALL_GETSOCKOPT:
    return parse_sockopt(c, av, err, errlen);
  case PKT_CALL_FCNTL:
    /* Sockets always behave as non-blocking; F_SETFL is accepted so that
     * packetdrill's usual O_NONBLOCK line reads naturally. */
    if (av->n < 2 || strcmp(av->a[1], "F_SETFL") != 0)
      FAIL("fcntl: only F_SETFL is supported");
    return 0;
  case PKT_CALL_LISTEN:
    if (arg_uint(av->a[1], 65535, &c->arg) != 0)
      FAIL("listen: expected a backlog");
    return 0;
  case PKT_CALL_WRITE:
  case PKT_CALL_READ:
    if (strcmp(av->a[1], "...") != 0)
      FAIL("%s: the buffer argument must be '...'", c->name);
    if (arg_uint(av->a[2], 1u << 30, &c->arg) != 0)
      FAIL("%s: expected a byte count", c->name);
    if (av->n == 4 && strcmp(av->a[3], "0") != 0)
      FAIL("%s: only flags 0 are supported", c->name);
    return 0;
  case PKT_CALL_SHUTDOWN:
    if (strcmp(av->a[1], "SHUT_WR") != 0 && strcmp(av->a[1], "SHUT_RDWR") != 0)
      FAIL("shutdown: SHUT_WR and SHUT_RDWR are supported");
    return 0;
  case PKT_CALL_BIND:
  case PKT_CALL_ACCEPT:
  case PKT_CALL_CONNECT:
  case PKT_CALL_CLOSE:
    return 0;
  }
  return 0;
}

static int parse_return(pkt_lex *lx, pkt_call *c, char *err, size_t errlen) {
  uint64_t v;
  char name[32];

  if (!pkt_lex_char(lx, '='))
    FAIL("expected '= result' after the call");
  if (pkt_lex_char(lx, '-')) {
    if (pkt_lex_uint(lx, 1, &v) != 0 || v != 1)
      FAIL("a failing call returns -1");
    c->ret = -1;
    if (pkt_lex_word(lx, name, sizeof(name)) != 0)
      FAIL("expected an errno name after -1");
    if ((c->err = pkt_errno_by_name(name)) < 0)
      FAIL("unknown errno '%s'", name);
    if (pkt_lex_char(lx, '(')) { /* "(Connection refused)": a comment */
      const char *close = strchr(lx->p, ')');

      if (close == NULL)
        FAIL("missing ')' after the error text");
      lx->p = close + 1;
    }
  } else {
    if (pkt_lex_uint(lx, INT32_MAX, &v) != 0)
      FAIL("expected a result after '='");
    c->ret = (int64_t)v;
  }
  if (!pkt_lex_at_end(lx))
    FAIL("unexpected text after the result: '%s'", lx->p);
  return 0;
}

int pkt_parse_call(pkt_lex *lx, pkt_call *c, char *err, size_t errlen) {
  char name[32];
  args av;
  size_t i;

  memset(c, 0, sizeof(*c));
  c->fd = -1;
  if (pkt_lex_word(lx, name, sizeof(name)) != 0)
    FAIL("expected a socket call");
  for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
    if (strcmp(calls[i].name, name) == 0)
      break;
  if (i == sizeof(calls) / sizeof(calls[0]))
    FAIL("unsupported call '%s'", name);
  c->kind = calls[i].kind;
  c->name = calls[i].name;
  if (!pkt_lex_char(lx, '('))
    FAIL("expected '(' after %s", name);
  if (split_args(lx, &av, err, errlen) != 0)
    return -1;
  if (calls[i].nargs >= 0 && av.n != calls[i].nargs)
    FAIL("%s takes %d arguments, not %d", name, calls[i].nargs, av.n);
  if (parse_args(c, &av, err, errlen) != 0)
    return -1;
  return parse_return(lx, c, err, errlen);
}
