/*
 * rdv_server.c — the rendezvous server's table and answers (rdv_server.h
 * gives the order of checks and the reasons).
 */
#include "nat/rdv_server.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int tcpu_rdv_server_init(tcpu_rdv_server *s, size_t max_entries,
                         uint32_t per_second, uint32_t burst,
                         const tcpu_noise_rng *rng) {
  size_t n = TCPU_RDV_PROBES;
  int rv;

  memset(s, 0, sizeof(*s));
  if (max_entries == 0)
    max_entries = TCPU_RDV_DEFAULT_ENTRIES;
  if (max_entries > ((size_t)1 << 24))
    return TCPU_ERR_INVAL;
  while (n < max_entries)
    n <<= 1;
  rv = tcpu_ratelimit_init(&s->rl, n, per_second ? per_second
                                                 : TCPU_RDV_RATE_PER_S,
                           burst ? burst : TCPU_RDV_RATE_BURST, rng);
  if (rv != 0)
    return rv;
  s->slots = calloc(n, sizeof(*s->slots));
  if (s->slots == NULL) {
    tcpu_ratelimit_free(&s->rl);
    return TCPU_ERR_NOMEM;
  }
  s->nslots = n;
  tcpu_noise_random(rng, s->hash_key, sizeof(s->hash_key));
  return 0;
}

void tcpu_rdv_server_free(tcpu_rdv_server *s) {
  if (s == NULL)
    return;
  tcpu_ratelimit_free(&s->rl);
  free(s->slots);
  memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------- table */

static size_t first_slot(const tcpu_rdv_server *s, const tcpu_rdv_name *n) {
  uint8_t h[crypto_shorthash_BYTES];
  uint64_t v;

  crypto_shorthash(h, (const uint8_t *)n->s, n->len, s->hash_key);
  memcpy(&v, h, sizeof(v));
  return (size_t)v & (s->nslots - 1);
}

static int live(const tcpu_rdv_entry *e, tcpu_tstamp now) {
  return e->used && now < e->expires;
}

/* The slot holding name (live or not), or NULL. */
static tcpu_rdv_entry *slot_of(const tcpu_rdv_server *s,
                               const tcpu_rdv_name *n) {
  size_t start = first_slot(s, n);

  for (size_t i = 0; i < TCPU_RDV_PROBES; i++) {
    tcpu_rdv_entry *e = &s->slots[(start + i) & (s->nslots - 1)];
    if (e->used && tcpu_rdv_name_equal(&e->name, n))
      return e;
  }
  return NULL;
}

const tcpu_rdv_entry *tcpu_rdv_server_find(const tcpu_rdv_server *s,
                                           const tcpu_rdv_name *name,
                                           tcpu_tstamp now) {
  const tcpu_rdv_entry *e = slot_of(s, name);

  return e != NULL && live(e, now) ? e : NULL;
}

size_t tcpu_rdv_server_count(const tcpu_rdv_server *s, tcpu_tstamp now) {
  size_t n = 0;

  for (size_t i = 0; i < s->nslots; i++)
    n += live(&s->slots[i], now) ? 1 : 0;
  return n;
}

/* The name's slot, or the first free or expired one among its probes;
 * NULL when all of them hold other live names. */
static tcpu_rdv_entry *slot_for(tcpu_rdv_server *s, const tcpu_rdv_name *n,
                                tcpu_tstamp now) {
  tcpu_rdv_entry *e = slot_of(s, n);
  size_t start;

  if (e != NULL)
    return e;
  start = first_slot(s, n);
  for (size_t i = 0; i < TCPU_RDV_PROBES; i++) {
    e = &s->slots[(start + i) & (s->nslots - 1)];
    if (!live(e, now))
      return e;
  }
  return NULL;
}

/* -------------------------------------------------------------- answers */

static int reply(tcpu_rdv_server *s, tcpu_rdv_reply *out, const tcpu_addr *to,
                 const tcpu_addr *via, const tcpu_rdv_msg *m) {
  tcpu_ssize n = tcpu_rdv_encode(m, out->buf, sizeof(out->buf));

  if (n <= 0)
    return 0; /* cannot happen: every field was validated on the way in */
  out->to = *to;
  out->from = *via;
  out->len = (size_t)n;
  s->stats.sent++;
  s->stats.bytes_sent += (uint64_t)n;
  return 1;
}

static int on_register(tcpu_rdv_server *s, const tcpu_addr *from,
                       const tcpu_addr *local, const tcpu_rdv_msg *in,
                       tcpu_rdv_reply out[2], tcpu_tstamp now) {
  tcpu_rdv_entry *e = slot_for(s, &in->name, now);
  tcpu_rdv_msg m;

  if (e == NULL) {
    s->stats.table_full++;
    return 0;
  }
  e->used = 1;
  e->name = in->name;
  e->addr = *from;
  e->addr.scope_id = 0; /* not on the wire */
  e->local = *local;
  e->expires = now + TCPU_RDV_EXPIRY_NS;
  s->stats.registers++;
  memset(&m, 0, sizeof(m));
  m.type = TCPU_RDV_OBSERVED;
  m.txid = in->txid;
  m.addr = e->addr;
  return reply(s, &out[0], from, local, &m);
}

static int on_lookup(tcpu_rdv_server *s, const tcpu_addr *from,
                     const tcpu_addr *local, const tcpu_rdv_msg *in,
                     tcpu_rdv_reply out[2], tcpu_tstamp now) {
  const tcpu_rdv_entry *self = tcpu_rdv_server_find(s, &in->name, now);
  const tcpu_rdv_entry *peer = tcpu_rdv_server_find(s, &in->peer, now);
  tcpu_addr src = *from;
  tcpu_rdv_msg m;
  int n;

  s->stats.lookups++;
  src.scope_id = 0;
  memset(&m, 0, sizeof(m));
  m.txid = in->txid;
  if (self == NULL || !tcpu_addr_equal(&self->addr, &src)) {
    s->stats.unregistered++;
    m.type = TCPU_RDV_NOT_FOUND;
    return reply(s, &out[0], from, local, &m);
  }
  if (peer == NULL || peer == self) {
    s->stats.not_found++;
    m.type = TCPU_RDV_NOT_FOUND;
    return reply(s, &out[0], from, local, &m);
  }
  s->stats.found++;
  /* The push: the peer learns of the looker at the same moment, so both
   * sides punch and open together (rendezvous.h).  It is written first
   * so that it leaves first: the looker's SYN, sent once the answer is
   * in, must not reach the peer before the peer has dialled too, or it
   * meets a closed port and is reset (RFC 9293 §3.10.7.1). */
  m.type = TCPU_RDV_PEER;
  m.txid = 0;
  m.name = self->name;
  m.addr = self->addr;
  n = reply(s, &out[0], &peer->addr, &peer->local, &m);
  m.txid = in->txid;
  m.name = peer->name;
  m.addr = peer->addr;
  return n + reply(s, &out[n], from, local, &m);
}

int tcpu_rdv_server_recv(tcpu_rdv_server *s, const tcpu_addr *from,
                         const uint8_t *dgram, size_t len,
                         tcpu_rdv_reply out[2], tcpu_tstamp now) {
  return tcpu_rdv_server_recv_at(s, from, NULL, dgram, len, out, now);
}

int tcpu_rdv_server_recv_at(tcpu_rdv_server *s, const tcpu_addr *from,
                            const tcpu_addr *local, const uint8_t *dgram,
                            size_t len, tcpu_rdv_reply out[2],
                            tcpu_tstamp now) {
  tcpu_rdv_msg in;
  tcpu_addr at;

  memset(&at, 0, sizeof(at));
  if (local != NULL && (local->family == TCPU_AF_INET ||
                        local->family == TCPU_AF_INET6)) {
    at = *local;
    at.port = 0;
  }
  s->stats.received++;
  s->stats.bytes_received += len;
  if (!tcpu_ratelimit_allow(&s->rl, from, now)) {
    s->stats.ratelimited++;
    return 0;
  }
  if (!tcpu_rdv_addr_valid(from) || tcpu_rdv_decode(&in, dgram, len) != 0) {
    s->stats.malformed++;
    return 0;
  }
  switch (in.type) {
  case TCPU_RDV_REGISTER: return on_register(s, from, &at, &in, out, now);
  case TCPU_RDV_LOOKUP: return on_lookup(s, from, &at, &in, out, now);
  default:
    /* Replies have no business at the server. */
    s->stats.malformed++;
    return 0;
  }
}
