/*
 * proto.h — tcpud's two small wire formats.
 *
 * 1. The peer control channel: a libtcpu connection to tunnel port 1
 *    (TCPUD_CONTROL_PORT), opened by the side that has Reverse (-R)
 *    forwards towards the peer.  It carries length-prefixed messages:
 *
 *      u16 length (big-endian; bytes after these two, 1..TCPUD_CTL_MAX_BODY)
 *      u8  type
 *      ... fields of the type, big-endian
 *
 *      HELLO    1  u8 version (1), u8 n, n bytes of the sender's name
 *      LISTEN   2  u32 id, u16 service, u8 family (4|6), 4|16 bytes IP,
 *                  u16 port:  "listen on IP:port on your host and bring
 *                  each connection back to my tunnel port `service`"
 *      RESULT   3  u32 id, u16 status (TCPUD_CTL_OK, ...), u8 n, n bytes
 *                  of printable text: the answer to LISTEN `id`
 *      UNLISTEN 4  u32 id: stop the listener of LISTEN `id`
 *
 *    Bytes after the fields of a known type are ignored (room for later
 *    versions); messages of unknown types are skipped whole.  Anything
 *    else (length 0 or above the maximum, fields cut short, a bad family,
 *    port 0, a name that is not a name) is a protocol error: the receiver
 *    resets the channel.  Closing the channel withdraws every listener
 *    asked for on it.
 *
 * 2. The local control socket (unix, mode 0600): one request line per
 *    connection, at most TCPUD_REQ_MAX bytes, "VERB [ARG]\n"; the daemon
 *    answers and closes.  Verbs: show, show json, reload, version, ping.
 *    The answer's first line is "ok" or "error: REASON"; the body follows.
 */
#ifndef TCPUD_PROTO_H
#define TCPUD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "tcpu/tcpu.h"

#define TCPUD_CTL_VERSION 1
#define TCPUD_CTL_MAX_BODY 1024
#define TCPUD_CTL_HDR 2
#define TCPUD_CTL_TEXT_MAX 255

typedef enum tcpud_ctl_type {
  TCPUD_CTL_HELLO = 1,
  TCPUD_CTL_LISTEN = 2,
  TCPUD_CTL_RESULT = 3,
  TCPUD_CTL_UNLISTEN = 4
} tcpud_ctl_type;

/* RESULT status codes. */
typedef enum tcpud_ctl_status {
  TCPUD_CTL_OK = 0,
  TCPUD_CTL_DENIED = 1,    /* the peer is not allowed this address */
  TCPUD_CTL_ADDRINUSE = 2, /* something already listens there */
  TCPUD_CTL_FAILED = 3,    /* another socket error; the text says which */
  TCPUD_CTL_BAD = 4,       /* malformed or duplicate request */
  TCPUD_CTL_SHUTDOWN = 5   /* the daemon is draining */
} tcpud_ctl_status;

typedef struct tcpud_ctlmsg {
  uint8_t type;                      /* tcpud_ctl_type */
  uint8_t version;                   /* HELLO */
  uint16_t service;                  /* LISTEN */
  uint16_t status;                   /* RESULT */
  uint32_t id;                       /* LISTEN, RESULT, UNLISTEN */
  tcpu_addr addr;                    /* LISTEN: IP and port; family 4 or 6 */
  char text[TCPUD_CTL_TEXT_MAX + 1]; /* HELLO: name; RESULT: text */
} tcpud_ctlmsg;

/* Decodes the first message of buf[0..len).  Returns 1 with *msg filled
 * and *used set to its bytes; 0 when buf holds no complete message yet
 * (*used = 0); 2 when a message of an unknown type was skipped (*used
 * set); -1 on a protocol error, with a reason in *why. */
int tcpud_ctlmsg_decode(tcpud_ctlmsg *msg, const uint8_t *buf, size_t len,
                        size_t *used, const char **why);

/* Encodes msg into buf.  Returns the length, or -1 when it does not fit
 * or a field is out of range (text too long, bad family, port 0). */
int tcpud_ctlmsg_encode(const tcpud_ctlmsg *msg, uint8_t *buf, size_t buflen);

const char *tcpud_ctl_status_name(int status);

/* ------------------------------------------------ control socket requests */

#define TCPUD_REQ_MAX 256

typedef enum tcpud_req_verb {
  TCPUD_REQ_SHOW = 1,
  TCPUD_REQ_SHOW_JSON,
  TCPUD_REQ_RELOAD,
  TCPUD_REQ_VERSION,
  TCPUD_REQ_PING
} tcpud_req_verb;

/* Parses one request line (without or with its trailing "\n" or "\r\n").
 * Returns the verb, or -1 with a reason in *why. */
int tcpud_request_parse(const char *line, size_t len, const char **why);

#endif /* TCPUD_PROTO_H */
