/*
 * fuzz_control.c — tcpud's two small wire formats (tcpud/proto.c): the
 * peer control channel's length-prefixed messages, and the control
 * socket's request lines.  The first byte picks which.
 *
 * Messages: the input is a byte stream as it would arrive on tunnel port
 * 1, decoded message after message as the daemon does.  Decoding must
 * stay inside the input, never consume more than it holds, and each
 * message it returns must survive a round trip: encoding it and decoding
 * that gives the same fields.  Requests: parsing must stay inside the
 * line and give a known verb or a reason.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tcpud/proto.h"

static void check(int ok) {
  if (!ok)
    abort();
}

static void same(const tcpud_ctlmsg *a, const tcpud_ctlmsg *b) {
  check(a->type == b->type);
  switch (a->type) {
  case TCPUD_CTL_HELLO:
    check(a->version == b->version && strcmp(a->text, b->text) == 0);
    break;
  case TCPUD_CTL_LISTEN:
    check(a->id == b->id && a->service == b->service);
    check(a->addr.family == b->addr.family && a->addr.port == b->addr.port);
    check(memcmp(a->addr.ip, b->addr.ip, 16) == 0);
    break;
  case TCPUD_CTL_RESULT:
    check(a->id == b->id && a->status == b->status);
    check(strcmp(a->text, b->text) == 0);
    break;
  case TCPUD_CTL_UNLISTEN:
    check(a->id == b->id);
    break;
  default:
    check(0);
  }
}

static void messages(const uint8_t *data, size_t size) {
  static uint8_t enc[TCPUD_CTL_HDR + TCPUD_CTL_MAX_BODY];
  size_t off = 0;

  while (off < size) {
    tcpud_ctlmsg m, m2;
    const char *why;
    size_t used, used2;
    int rv = tcpud_ctlmsg_decode(&m, data + off, size - off, &used, &why);
    int n;

    if (rv <= 0) {
      check(rv == 0 ? used == 0 : why != NULL);
      return;
    }
    check(used >= TCPUD_CTL_HDR + 1 && used <= size - off);
    off += used;
    if (rv == 2)
      continue;
    n = tcpud_ctlmsg_encode(&m, enc, sizeof(enc));
    check(n > 0 && (size_t)n <= used);
    check(tcpud_ctlmsg_encode(&m, enc, (size_t)n - 1) < 0);
    check(tcpud_ctlmsg_decode(&m2, enc, (size_t)n, &used2, &why) == 1);
    check(used2 == (size_t)n);
    same(&m, &m2);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *why;
  int verb;

  if (size == 0)
    return 0;
  if ((data[0] & 1) == 0) {
    messages(data + 1, size - 1);
    return 0;
  }
  verb = tcpud_request_parse((const char *)data + 1, size - 1, &why);
  check(verb > 0 ? why == NULL : why != NULL);
  check(verb == -1 || (verb >= TCPUD_REQ_SHOW && verb <= TCPUD_REQ_PING));
  return 0;
}
