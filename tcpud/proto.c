/*
 * proto.c — the peer control channel's messages and the control socket's
 * request lines; see proto.h.  Input is never trusted: every length is
 * checked against what is left before a field is read.
 */
#include <string.h>
#include <strings.h>

#include "tcpud/proto.h"

typedef struct reader {
  const uint8_t *p;
  size_t left;
} reader;

static int get_u8(reader *r, uint8_t *v) {
  if (r->left < 1)
    return -1;
  *v = r->p[0];
  r->p++;
  r->left--;
  return 0;
}

static int get_u16(reader *r, uint16_t *v) {
  if (r->left < 2)
    return -1;
  *v = (uint16_t)(r->p[0] << 8 | r->p[1]);
  r->p += 2;
  r->left -= 2;
  return 0;
}

static int get_u32(reader *r, uint32_t *v) {
  if (r->left < 4)
    return -1;
  *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
       (uint32_t)r->p[2] << 8 | r->p[3];
  r->p += 4;
  r->left -= 4;
  return 0;
}

static int get_bytes(reader *r, void *dst, size_t n) {
  if (r->left < n)
    return -1;
  memcpy(dst, r->p, n);
  r->p += n;
  r->left -= n;
  return 0;
}

static int name_char(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

int tcpud_ctlmsg_decode(tcpud_ctlmsg *msg, const uint8_t *buf, size_t len,
                        size_t *used, const char **why) {
  reader r;
  uint16_t body;
  uint8_t n;

  *used = 0;
  *why = NULL;
  if (len < TCPUD_CTL_HDR)
    return 0;
  body = (uint16_t)(buf[0] << 8 | buf[1]);
  if (body == 0 || body > TCPUD_CTL_MAX_BODY) {
    *why = "message length out of range";
    return -1;
  }
  if (len < (size_t)TCPUD_CTL_HDR + body)
    return 0;
  *used = (size_t)TCPUD_CTL_HDR + body;
  memset(msg, 0, sizeof(*msg));
  r.p = buf + TCPUD_CTL_HDR;
  r.left = body;
  get_u8(&r, &msg->type);
  switch (msg->type) {
  case TCPUD_CTL_HELLO:
    if (get_u8(&r, &msg->version) != 0 || get_u8(&r, &n) != 0 ||
        get_bytes(&r, msg->text, n) != 0)
      goto short_msg;
    if (msg->version == 0) {
      *why = "HELLO with version 0";
      return -1;
    }
    if (n == 0 || n > 32) {
      *why = "HELLO name length out of range";
      return -1;
    }
    for (unsigned i = 0; i < n; i++)
      if (!name_char((uint8_t)msg->text[i])) {
        *why = "HELLO name with a bad character";
        return -1;
      }
    return 1;
  case TCPUD_CTL_LISTEN: {
    uint8_t family;
    if (get_u32(&r, &msg->id) != 0 || get_u16(&r, &msg->service) != 0 ||
        get_u8(&r, &family) != 0)
      goto short_msg;
    if (family != TCPU_AF_INET && family != TCPU_AF_INET6) {
      *why = "LISTEN with an unknown address family";
      return -1;
    }
    msg->addr.family = family;
    if (get_bytes(&r, msg->addr.ip, family == TCPU_AF_INET ? 4 : 16) != 0 ||
        get_u16(&r, &msg->addr.port) != 0)
      goto short_msg;
    if (msg->addr.port == 0 || msg->service == 0) {
      *why = "LISTEN with port 0";
      return -1;
    }
    return 1;
  }
  case TCPUD_CTL_RESULT:
    if (get_u32(&r, &msg->id) != 0 || get_u16(&r, &msg->status) != 0 ||
        get_u8(&r, &n) != 0 || get_bytes(&r, msg->text, n) != 0)
      goto short_msg;
    /* Shown in logs: keep it printable. */
    for (unsigned i = 0; i < n; i++)
      if ((uint8_t)msg->text[i] < 0x20 || (uint8_t)msg->text[i] > 0x7e)
        msg->text[i] = '?';
    return 1;
  case TCPUD_CTL_UNLISTEN:
    if (get_u32(&r, &msg->id) != 0)
      goto short_msg;
    return 1;
  default:
    return 2;
  }
short_msg:
  *why = "message shorter than its fields";
  return -1;
}

typedef struct writer {
  uint8_t *p;
  size_t left;
  int bad;
} writer;

static void put(writer *w, const void *src, size_t n) {
  if (w->left < n) {
    w->bad = 1;
    return;
  }
  memcpy(w->p, src, n);
  w->p += n;
  w->left -= n;
}

static void put_u8(writer *w, uint8_t v) { put(w, &v, 1); }

static void put_u16(writer *w, uint16_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  put(w, b, 2);
}

static void put_u32(writer *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                  (uint8_t)v};
  put(w, b, 4);
}

int tcpud_ctlmsg_encode(const tcpud_ctlmsg *msg, uint8_t *buf, size_t buflen) {
  writer w;
  size_t n = strnlen(msg->text, TCPUD_CTL_TEXT_MAX);
  size_t body;

  if (buflen < TCPUD_CTL_HDR)
    return -1;
  w.p = buf + TCPUD_CTL_HDR;
  w.left = buflen - TCPUD_CTL_HDR;
  if (w.left > TCPUD_CTL_MAX_BODY)
    w.left = TCPUD_CTL_MAX_BODY;
  w.bad = 0;
  put_u8(&w, msg->type);
  switch (msg->type) {
  case TCPUD_CTL_HELLO:
    if (n == 0 || n > 32 || msg->version == 0)
      return -1;
    put_u8(&w, msg->version);
    put_u8(&w, (uint8_t)n);
    put(&w, msg->text, n);
    break;
  case TCPUD_CTL_LISTEN:
    if ((msg->addr.family != TCPU_AF_INET &&
         msg->addr.family != TCPU_AF_INET6) ||
        msg->addr.port == 0 || msg->service == 0)
      return -1;
    put_u32(&w, msg->id);
    put_u16(&w, msg->service);
    put_u8(&w, msg->addr.family);
    put(&w, msg->addr.ip, msg->addr.family == TCPU_AF_INET ? 4 : 16);
    put_u16(&w, msg->addr.port);
    break;
  case TCPUD_CTL_RESULT:
    put_u32(&w, msg->id);
    put_u16(&w, msg->status);
    put_u8(&w, (uint8_t)n);
    put(&w, msg->text, n);
    break;
  case TCPUD_CTL_UNLISTEN:
    put_u32(&w, msg->id);
    break;
  default:
    return -1;
  }
  if (w.bad)
    return -1;
  body = (size_t)(w.p - buf) - TCPUD_CTL_HDR;
  buf[0] = (uint8_t)(body >> 8);
  buf[1] = (uint8_t)body;
  return (int)(body + TCPUD_CTL_HDR);
}

const char *tcpud_ctl_status_name(int status) {
  switch (status) {
  case TCPUD_CTL_OK:
    return "ok";
  case TCPUD_CTL_DENIED:
    return "not allowed";
  case TCPUD_CTL_ADDRINUSE:
    return "address in use";
  case TCPUD_CTL_FAILED:
    return "failed";
  case TCPUD_CTL_BAD:
    return "bad request";
  case TCPUD_CTL_SHUTDOWN:
    return "peer is shutting down";
  default:
    return "unknown status";
  }
}

int tcpud_request_parse(const char *line, size_t len, const char **why) {
  static const struct {
    const char *text;
    int verb;
  } verbs[] = {
      {"show", TCPUD_REQ_SHOW},           {"show text", TCPUD_REQ_SHOW},
      {"show json", TCPUD_REQ_SHOW_JSON}, {"reload", TCPUD_REQ_RELOAD},
      {"version", TCPUD_REQ_VERSION},     {"ping", TCPUD_REQ_PING},
  };
  char buf[TCPUD_REQ_MAX + 1];
  size_t n = 0;

  *why = NULL;
  if (len > TCPUD_REQ_MAX) {
    *why = "request too long";
    return -1;
  }
  /* Fold blanks to one space, drop the line end, lower-case. */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)line[i];
    if (c == '\n' || (c == '\r' && i + 1 == len - 1 && line[i + 1] == '\n') ||
        (c == '\r' && i + 1 == len))
      break;
    if (c == ' ' || c == '\t') {
      if (n > 0 && buf[n - 1] != ' ')
        buf[n++] = ' ';
      continue;
    }
    if (c < 0x20 || c > 0x7e) {
      *why = "request with a control or non-ASCII character";
      return -1;
    }
    buf[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  if (n > 0 && buf[n - 1] == ' ')
    n--;
  buf[n] = '\0';
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
    if (strcmp(buf, verbs[i].text) == 0)
      return verbs[i].verb;
  *why = "unknown request (try: show, show json, reload, version, ping)";
  return -1;
}
