/*
 * rendezvous.c — the rendezvous wire format (rendezvous.h): encoding and
 * strict decoding.  One valid encoding per message, so a decoded message
 * re-encodes to the very same bytes (the fuzz harness checks it).
 */
#include "nat/rendezvous.h"

#include <string.h>

int tcpu_rdv_is_message(const uint8_t *dgram, size_t len) {
  return dgram != NULL && len >= TCPU_RDV_HDR_LEN &&
         memcmp(dgram, TCPU_RDV_MAGIC, TCPU_RDV_MAGIC_LEN) == 0;
}

/* ---------------------------------------------------------------- names */

static int name_char_ok(uint8_t c) { return c >= 0x21 && c <= 0x7e; }

static int name_valid(const tcpu_rdv_name *n) {
  if (n->len < 1 || n->len > TCPU_RDV_NAME_MAX)
    return 0;
  for (size_t i = 0; i < n->len; i++)
    if (!name_char_ok((uint8_t)n->s[i]))
      return 0;
  return 1;
}

int tcpu_rdv_name_set(tcpu_rdv_name *n, const char *s) {
  size_t len;

  if (n == NULL || s == NULL)
    return TCPU_ERR_INVAL;
  len = strnlen(s, TCPU_RDV_NAME_MAX + 1);
  if (len < 1 || len > TCPU_RDV_NAME_MAX)
    return TCPU_ERR_INVAL;
  memset(n, 0, sizeof(*n));
  n->len = (uint8_t)len;
  memcpy(n->s, s, len);
  return name_valid(n) ? 0 : TCPU_ERR_INVAL;
}

int tcpu_rdv_name_equal(const tcpu_rdv_name *a, const tcpu_rdv_name *b) {
  return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* ------------------------------------------------------------ addresses */

static const uint8_t zero16[16];

int tcpu_rdv_addr_valid(const tcpu_addr *a) {
  if (a->port == 0)
    return 0;
  if (a->family == TCPU_AF_INET)
    return memcmp(a->ip + 4, zero16, 12) == 0;
  return a->family == TCPU_AF_INET6;
}

static uint8_t *put_addr(uint8_t *p, const tcpu_addr *a) {
  p[0] = a->family;
  p[1] = (uint8_t)(a->port >> 8);
  p[2] = (uint8_t)a->port;
  memcpy(p + 3, a->ip, 16);
  return p + TCPU_RDV_ADDR_LEN;
}

static int get_addr(tcpu_addr *a, const uint8_t *p) {
  memset(a, 0, sizeof(*a));
  a->family = p[0];
  a->port = (uint16_t)(p[1] << 8 | p[2]);
  memcpy(a->ip, p + 3, 16);
  return tcpu_rdv_addr_valid(a);
}

/* ------------------------------------------------------------- messages */

static int is_request(tcpu_rdv_type t) {
  return t == TCPU_RDV_REGISTER || t == TCPU_RDV_LOOKUP;
}

size_t tcpu_rdv_encoded_len(const tcpu_rdv_msg *m) {
  switch (m->type) {
  case TCPU_RDV_REGISTER: return TCPU_RDV_REGISTER_LEN;
  case TCPU_RDV_LOOKUP: return TCPU_RDV_LOOKUP_LEN;
  case TCPU_RDV_OBSERVED: return TCPU_RDV_OBSERVED_LEN;
  case TCPU_RDV_PEER:
    return TCPU_RDV_HDR_LEN + 1 + (size_t)m->name.len + TCPU_RDV_ADDR_LEN;
  case TCPU_RDV_NOT_FOUND: return TCPU_RDV_NOT_FOUND_LEN;
  }
  return 0;
}

static uint8_t *put_name(uint8_t *p, const tcpu_rdv_name *n) {
  p[0] = n->len;
  memcpy(p + 1, n->s, n->len);
  return p + 1 + n->len;
}

tcpu_ssize tcpu_rdv_encode(const tcpu_rdv_msg *m, uint8_t *buf,
                           size_t buflen) {
  size_t len;
  uint8_t *p;

  if (m == NULL || buf == NULL)
    return TCPU_ERR_INVAL;
  len = tcpu_rdv_encoded_len(m);
  if (len == 0 || (is_request(m->type) && m->txid == 0))
    return TCPU_ERR_INVAL;
  if ((m->type == TCPU_RDV_REGISTER || m->type == TCPU_RDV_LOOKUP ||
       m->type == TCPU_RDV_PEER) &&
      !name_valid(&m->name))
    return TCPU_ERR_INVAL;
  if (m->type == TCPU_RDV_LOOKUP && !name_valid(&m->peer))
    return TCPU_ERR_INVAL;
  if ((m->type == TCPU_RDV_OBSERVED || m->type == TCPU_RDV_PEER) &&
      !tcpu_rdv_addr_valid(&m->addr))
    return TCPU_ERR_INVAL;
  if (buflen < len)
    return TCPU_ERR_NOBUF;

  memset(buf, 0, len); /* reserved bytes and request padding */
  memcpy(buf, TCPU_RDV_MAGIC, TCPU_RDV_MAGIC_LEN);
  buf[8] = (uint8_t)m->type;
  for (int i = 0; i < 8; i++)
    buf[16 + i] = (uint8_t)(m->txid >> (56 - 8 * i));
  p = buf + TCPU_RDV_HDR_LEN;
  switch (m->type) {
  case TCPU_RDV_REGISTER: put_name(p, &m->name); break;
  case TCPU_RDV_LOOKUP: put_name(put_name(p, &m->name), &m->peer); break;
  case TCPU_RDV_OBSERVED: put_addr(p, &m->addr); break;
  case TCPU_RDV_PEER: put_addr(put_name(p, &m->name), &m->addr); break;
  case TCPU_RDV_NOT_FOUND: break;
  }
  return (tcpu_ssize)len;
}

/* Reads a name at *off, not beyond end; advances *off. */
static int get_name(tcpu_rdv_name *n, const uint8_t *d, size_t *off,
                    size_t end) {
  if (*off >= end)
    return 0;
  memset(n, 0, sizeof(*n));
  n->len = d[*off];
  if (n->len < 1 || n->len > TCPU_RDV_NAME_MAX || end - *off - 1 < n->len)
    return 0;
  memcpy(n->s, d + *off + 1, n->len);
  *off += 1 + (size_t)n->len;
  return name_valid(n);
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

int tcpu_rdv_decode(tcpu_rdv_msg *m, const uint8_t *d, size_t len) {
  size_t off = TCPU_RDV_HDR_LEN;

  if (m == NULL || !tcpu_rdv_is_message(d, len) || !all_zero(d + 9, 7))
    return TCPU_ERR_PROTO;
  memset(m, 0, sizeof(*m));
  m->type = (tcpu_rdv_type)d[8];
  for (int i = 0; i < 8; i++)
    m->txid = m->txid << 8 | d[16 + i];
  if (is_request(m->type) && m->txid == 0)
    return TCPU_ERR_PROTO;
  switch (m->type) {
  case TCPU_RDV_REGISTER:
    if (len != TCPU_RDV_REGISTER_LEN || !get_name(&m->name, d, &off, len))
      return TCPU_ERR_PROTO;
    break;
  case TCPU_RDV_LOOKUP:
    if (len != TCPU_RDV_LOOKUP_LEN || !get_name(&m->name, d, &off, len) ||
        !get_name(&m->peer, d, &off, len))
      return TCPU_ERR_PROTO;
    break;
  case TCPU_RDV_OBSERVED:
    if (len != TCPU_RDV_OBSERVED_LEN || !get_addr(&m->addr, d + off))
      return TCPU_ERR_PROTO;
    off += TCPU_RDV_ADDR_LEN;
    break;
  case TCPU_RDV_PEER:
    if (!get_name(&m->name, d, &off, len) ||
        len - off != TCPU_RDV_ADDR_LEN || !get_addr(&m->addr, d + off))
      return TCPU_ERR_PROTO;
    off += TCPU_RDV_ADDR_LEN;
    break;
  case TCPU_RDV_NOT_FOUND:
    if (len != TCPU_RDV_NOT_FOUND_LEN)
      return TCPU_ERR_PROTO;
    break;
  default:
    return TCPU_ERR_PROTO;
  }
  /* Requests' padding must be zero: one encoding per message. */
  return all_zero(d + off, len - off) ? 0 : TCPU_ERR_PROTO;
}
