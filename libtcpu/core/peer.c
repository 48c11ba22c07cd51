/*
 * peer.c — the endpoint's peers: the table, synthetic addresses, the
 * receiver-index map of sealed mode, plain-mode keepalives and hole
 * punching, and the public tcpu_peer_* calls (peer.h has the picture).
 */
#include "core/peer.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/endpoint.h"

static const uint16_t punch_ms[TCPU_PUNCH_STEPS] = {0, 100, 300, 700, 1500};
static const uint8_t plain_keepalive[TCPU_PLAIN_KEEPALIVE_LEN];

static int is_udp_addr(const tcpu_addr *a) {
  return a->family == TCPU_AF_INET || a->family == TCPU_AF_INET6;
}

/* ------------------------------------------------------------ the table */

int tcpu_peers_init(tcpu_endpoint *ep) {
  ep->peers.next_expiry = TCPU_TSTAMP_NONE;
  return ep->s.mode == TCPU_MODE_SEALED ? tcpu_sealed_init(ep) : 0;
}

static void peer_free(tcpu_peer *p) {
  if (p->sealed)
    tcpu_noise_peer_free(&p->noise); /* wipes and unlocks the keys */
  sodium_memzero(p->initiation, sizeof p->initiation);
  free(p);
}

void tcpu_peers_free(tcpu_endpoint *ep) {
  for (uint32_t i = 0; i < ep->peers.nslots; i++)
    if (ep->peers.slots[i] != NULL) {
      /* Nobody is told: the index map goes with the endpoint. */
      ep->peers.slots[i]->noise.index_dropped = NULL;
      peer_free(ep->peers.slots[i]);
    }
  free(ep->peers.slots);
  sodium_memzero(ep->peers.msgq, sizeof ep->peers.msgq);
  if (ep->peers.sealed != NULL)
    tcpu_sealed_free(ep);
}

tcpu_peer *tcpu_peers_by_conn_addr(const tcpu_endpoint *ep,
                                   const tcpu_addr *addr) {
  if (addr->family == TCPU_AF_PEER) {
    tcpu_peer *p = addr->scope_id < ep->peers.nslots
                       ? ep->peers.slots[addr->scope_id]
                       : NULL;
    return p != NULL && tcpu_addr_equal(&p->addr, addr) ? p : NULL;
  }
  /* Plain connections carry the endpoint itself; sealed ones never do. */
  return ep->peers.sealed == NULL ? tcpu_peers_by_endpoint(ep, addr) : NULL;
}

tcpu_peer *tcpu_peers_by_endpoint(const tcpu_endpoint *ep,
                                  const tcpu_addr *addr) {
  for (uint32_t i = 0; i < ep->peers.nslots; i++) {
    tcpu_peer *p = ep->peers.slots[i];
    if (p != NULL && tcpu_addr_equal(&p->endpoint, addr))
      return p;
  }
  return NULL;
}

tcpu_tstamp tcpu_peer_expiry(const tcpu_peer *p) {
  tcpu_tstamp e = p->t_punch < p->t_keepalive ? p->t_punch : p->t_keepalive;
  if (p->sealed) {
    tcpu_tstamp n = tcpu_noise_peer_get_expiry(&p->noise);
    if (n < e)
      e = n;
  }
  return e;
}

void tcpu_peers_touched(tcpu_endpoint *ep, const tcpu_peer *p) {
  tcpu_tstamp e = tcpu_peer_expiry(p);
  if (e < ep->peers.next_expiry)
    ep->peers.next_expiry = e;
}

void tcpu_peers_queue_msg(tcpu_endpoint *ep, const tcpu_addr *to,
                          const uint8_t *data, size_t len) {
  tcpu_peers *ps = &ep->peers;
  if (ps->msgq_len == TCPU_MSGQ_LEN || len > sizeof ps->msgq[0].data ||
      len == 0) {
    ep->st.ctl_queue_overflow++;
    return;
  }
  tcpu_msg *m = &ps->msgq[(ps->msgq_head + ps->msgq_len) % TCPU_MSGQ_LEN];
  m->to = *to;
  m->len = (uint16_t)len;
  memcpy(m->data, data, len);
  ps->msgq_len++;
}

void tcpu_peer_queue_msg(tcpu_peer *p, const uint8_t *msg, size_t len) {
  tcpu_peers_queue_msg(p->ep, &p->endpoint, msg, len);
  p->tx_bytes += len;
}

void tcpu_peer_learn_endpoint(tcpu_peer *p, const tcpu_addr *from) {
  if (p->endpoint.family != 0 && !tcpu_addr_equal(&p->endpoint, from)) {
    p->roams++;
    p->ep->st.roams++;
  }
  p->endpoint = *from;
}

/* ------------------------------------------------------ receiver indexes */

/* Linear probing over random 32-bit indexes (WireGuard's index hashtable):
 * the index itself is uniformly random, so its low bits are the hash. */
static size_t index_find_pos(const tcpu_sealed *sd, uint32_t index) {
  size_t mask = sd->isize - 1;
  size_t i = index & mask;
  while (sd->itab[i].index != 0 && sd->itab[i].index != index)
    i = (i + 1) & mask;
  return i;
}

static int index_taken(void *ctx, uint32_t index) {
  const tcpu_sealed *sd = ctx;
  return index == 0 || sd->itab[index_find_pos(sd, index)].index == index;
}

static int index_grow(tcpu_sealed *sd) {
  size_t nsize = sd->isize * 2;
  tcpu_index_slot *old = sd->itab, *nt = calloc(nsize, sizeof *nt);
  if (nt == NULL)
    return TCPU_ERR_NOMEM;
  size_t osize = sd->isize;
  sd->itab = nt;
  sd->isize = nsize;
  for (size_t i = 0; i < osize; i++)
    if (old[i].index != 0)
      sd->itab[index_find_pos(sd, old[i].index)] = old[i];
  free(old);
  return 0;
}

static void index_remove(void *ctx, uint32_t index) {
  tcpu_sealed *sd = ctx;
  size_t mask = sd->isize - 1;
  size_t i = index_find_pos(sd, index);
  if (sd->itab[i].index != index)
    return;
  /* Backward-shift deletion keeps every probe chain unbroken. */
  size_t j = i;
  for (;;) {
    sd->itab[i].index = 0;
    for (;;) {
      j = (j + 1) & mask;
      if (sd->itab[j].index == 0)
        goto done;
      size_t home = sd->itab[j].index & mask;
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
        break;
    }
    sd->itab[i] = sd->itab[j];
    i = j;
  }
done:
  sd->icount--;
}

uint32_t tcpu_peers_new_index(tcpu_endpoint *ep, tcpu_peer *p) {
  tcpu_sealed *sd = ep->peers.sealed;
  if ((sd->icount + 1) * 2 > sd->isize && index_grow(sd) != 0)
    return 0;
  uint32_t index = tcpu_noise_new_index(&sd->id, index_taken, sd);
  size_t pos = index_find_pos(sd, index);
  sd->itab[pos].index = index;
  sd->itab[pos].slot = p->slot;
  sd->icount++;
  return index;
}

tcpu_peer *tcpu_peers_by_index(const tcpu_endpoint *ep, uint32_t index) {
  const tcpu_sealed *sd = ep->peers.sealed;
  if (index == 0)
    return NULL;
  const tcpu_index_slot *s = &sd->itab[index_find_pos(sd, index)];
  return s->index == index ? ep->peers.slots[s->slot] : NULL;
}

/* ------------------------------------------------- the peer's connections */

void tcpu_peer_release_held(tcpu_peer *p) {
  p->held = 0;
  for (tcpu_conn *c = p->ep->all; c; c = c->next)
    if (!c->dead && tcpu_addr_equal(&c->peer, &p->addr))
      tcpu_endpoint_out_push(p->ep, c);
}

void tcpu_peer_fail_conns(tcpu_peer *p, int err, int unsent_only,
                          tcpu_tstamp now) {
  for (tcpu_conn *c = p->ep->all; c; c = c->next) {
    if (c->dead || c->state == TCPU_CLOSED || c->state == TCPU_LISTEN ||
        !tcpu_addr_equal(&c->peer, &p->addr))
      continue;
    if (unsent_only && (c->state != TCPU_SYN_SENT || c->syn_sent_flag))
      continue;
    tcpu_conn_terminate(c, err, now);
  }
}

/* ------------------------------------------- keepalives and hole punching */

int tcpu_peer_punching(const tcpu_endpoint *ep, const tcpu_addr *from,
                       tcpu_tstamp now) {
  const tcpu_peer *p = tcpu_peers_by_conn_addr(ep, from);
  return p != NULL && p->punch_start != TCPU_TSTAMP_NONE &&
         now - p->punch_start < TCPU_PUNCH_QUIET_NS;
}

/* Plain keepalives and punches are the same byte. */
static void plain_keepalive_out(tcpu_peer *p) {
  tcpu_peer_queue_msg(p, plain_keepalive, sizeof plain_keepalive);
  p->ep->st.keepalives_sent++;
}

void tcpu_peer_plain_keepalive_in(tcpu_endpoint *ep, const tcpu_addr *from,
                                  size_t len, tcpu_tstamp now) {
  ep->st.keepalives_received++;
  /* Only keepalives are looked up: a peer search per segment would cost
   * every plain datagram, and connections are keyed by address anyway. */
  tcpu_peer *p = ep->peers.count > 0 ? tcpu_peers_by_conn_addr(ep, from)
                                     : NULL;
  if (p != NULL) {
    p->rx_bytes += len;
    p->last_received = now;
  }
}

static void punch_once(tcpu_peer *p, tcpu_tstamp now) {
  if (p->sealed)
    tcpu_sealed_initiate(p, 1, now);
  else
    plain_keepalive_out(p);
}

void tcpu_peer_plain_expiry(tcpu_peer *p, tcpu_tstamp now) {
  if (p->t_keepalive <= now) {
    if (p->endpoint.family != 0)
      plain_keepalive_out(p);
    p->t_keepalive = now + p->keepalive;
  }
  if (p->t_punch <= now) {
    punch_once(p, now);
    if (++p->punch_step < TCPU_PUNCH_STEPS)
      p->t_punch = p->punch_start +
                   punch_ms[p->punch_step] * TCPU_NS_PER_MS;
    else
      p->t_punch = TCPU_TSTAMP_NONE;
  }
}

/* ---------------------------------------------------------- public calls */

int tcpu_keypair(uint8_t priv[TCPU_KEY_LEN], uint8_t pub[TCPU_KEY_LEN]) {
  if (priv == NULL || pub == NULL)
    return TCPU_ERR_INVAL;
  if (tcpu_noise_init() != 0)
    return TCPU_ERR_NOMEM;
  tcpu_noise_keypair(priv, pub, NULL);
  return 0;
}

int tcpu_public_key(uint8_t pub[TCPU_KEY_LEN],
                    const uint8_t priv[TCPU_KEY_LEN]) {
  if (priv == NULL || pub == NULL)
    return TCPU_ERR_INVAL;
  if (tcpu_noise_init() != 0)
    return TCPU_ERR_NOMEM;
  tcpu_noise_pubkey(pub, priv);
  return 0;
}

int tcpu_endpoint_public_key(const tcpu_endpoint *ep,
                             uint8_t pub[TCPU_KEY_LEN]) {
  if (ep == NULL || pub == NULL || ep->peers.sealed == NULL)
    return TCPU_ERR_INVAL;
  memcpy(pub, ep->peers.sealed->id.pub, TCPU_KEY_LEN);
  return 0;
}

tcpu_peer *tcpu_peer_find(const tcpu_endpoint *ep,
                          const uint8_t public_key[TCPU_KEY_LEN]) {
  if (ep == NULL || public_key == NULL)
    return NULL;
  for (uint32_t i = 0; i < ep->peers.nslots; i++) {
    tcpu_peer *p = ep->peers.slots[i];
    if (p != NULL && p->sealed &&
        sodium_memcmp(p->noise.remote_static, public_key, TCPU_KEY_LEN) == 0)
      return p;
  }
  return NULL;
}

static int take_slot(tcpu_endpoint *ep, tcpu_peer *p) {
  tcpu_peers *ps = &ep->peers;
  uint32_t i = 0;
  while (i < ps->nslots && ps->slots[i] != NULL)
    i++;
  if (i == ps->nslots) {
    uint32_t n = ps->nslots ? ps->nslots * 2 : 8;
    tcpu_peer **ns = realloc(ps->slots, n * sizeof *ns);
    if (ns == NULL)
      return TCPU_ERR_NOMEM;
    memset(ns + ps->nslots, 0, (n - ps->nslots) * sizeof *ns);
    ps->slots = ns;
    ps->nslots = n;
  }
  ps->slots[i] = p;
  ps->count++;
  p->slot = i;
  return 0;
}

int tcpu_peer_add(tcpu_endpoint *ep, const uint8_t *public_key,
                  const uint8_t *psk, const tcpu_addr *endpoint,
                  tcpu_peer **pp, tcpu_tstamp now) {
  (void)now;
  if (ep == NULL || (endpoint != NULL && !is_udp_addr(endpoint)))
    return TCPU_ERR_INVAL;
  int sealed = ep->peers.sealed != NULL;
  if (sealed ? public_key == NULL
             : (public_key != NULL || psk != NULL || endpoint == NULL))
    return TCPU_ERR_INVAL;
  if (sealed ? tcpu_peer_find(ep, public_key) != NULL
             : tcpu_peers_by_conn_addr(ep, endpoint) != NULL)
    return TCPU_ERR_ADDRINUSE;
  tcpu_peer *p = calloc(1, sizeof *p);
  if (p == NULL)
    return TCPU_ERR_NOMEM;
  p->ep = ep;
  p->sealed = (unsigned)sealed;
  p->t_punch = p->t_keepalive = p->punch_start = TCPU_TSTAMP_NONE;
  p->last_handshake = p->last_received = TCPU_TSTAMP_NONE;
  if (endpoint != NULL)
    p->endpoint = *endpoint;
  if (sealed && tcpu_noise_peer_init(&p->noise, &ep->peers.sealed->id,
                                     public_key, psk) != 0) {
    free(p);
    return TCPU_ERR_INVAL;
  }
  int rv = take_slot(ep, p);
  if (rv != 0) {
    peer_free(p);
    return rv;
  }
  if (sealed) {
    tcpu_noise_peer_set_index_hook(&p->noise, index_remove, ep->peers.sealed);
    p->noise.user_data = p;
    p->addr.family = TCPU_AF_PEER;
    memcpy(p->addr.ip, public_key, sizeof p->addr.ip);
    p->addr.scope_id = p->slot;
  } else {
    p->addr = *endpoint;
  }
  if (pp != NULL)
    *pp = p;
  return 0;
}

void tcpu_peer_remove(tcpu_peer *p, tcpu_tstamp now) {
  if (p == NULL)
    return;
  tcpu_endpoint *ep = p->ep;
  tcpu_peer_fail_conns(p, TCPU_ERR_ABORTED, 0, now);
  ep->peers.slots[p->slot] = NULL;
  ep->peers.count--;
  peer_free(p); /* reports its receiver indexes: the map forgets them */
}

tcpu_peer *tcpu_peer_by_addr(const tcpu_endpoint *ep, const tcpu_addr *addr) {
  return ep != NULL && addr != NULL ? tcpu_peers_by_conn_addr(ep, addr)
                                    : NULL;
}

void tcpu_peer_addr(const tcpu_peer *p, tcpu_addr *addr) { *addr = p->addr; }

int tcpu_peer_set_endpoint(tcpu_peer *p, const tcpu_addr *endpoint,
                           tcpu_tstamp now) {
  if (p == NULL || endpoint == NULL || !is_udp_addr(endpoint))
    return TCPU_ERR_INVAL;
  if (!p->sealed) {
    tcpu_peer *other = tcpu_peers_by_conn_addr(p->ep, endpoint);
    if (other != NULL && other != p)
      return TCPU_ERR_ADDRINUSE;
    p->addr = *endpoint;
  }
  p->endpoint = *endpoint;
  /* Output that waited for an address may go now. */
  if (p->sealed && p->held)
    tcpu_noise_timers_want_handshake(&p->noise, now);
  tcpu_peers_touched(p->ep, p);
  return 0;
}

void tcpu_peer_set_persistent_keepalive(tcpu_peer *p, tcpu_duration interval,
                                        tcpu_tstamp now) {
  if (p == NULL)
    return;
  if (p->sealed) {
    tcpu_noise_peer_set_persistent_keepalive(&p->noise, interval, now);
  } else {
    p->keepalive = interval;
    p->t_keepalive = interval > 0 ? now + interval : TCPU_TSTAMP_NONE;
  }
  tcpu_peers_touched(p->ep, p);
}

int tcpu_peer_punch(tcpu_peer *p, tcpu_tstamp now) {
  if (p == NULL || p->endpoint.family == 0)
    return TCPU_ERR_INVAL;
  p->punch_start = now;
  p->punch_step = 0;
  p->t_punch = now;
  tcpu_peer_plain_expiry(p, now);
  tcpu_peers_touched(p->ep, p);
  return 0;
}

void tcpu_peer_set_user_data(tcpu_peer *p, void *user_data) {
  if (p != NULL)
    p->user_data = user_data;
}

void *tcpu_peer_get_user_data(const tcpu_peer *p) {
  return p != NULL ? p->user_data : NULL;
}

void tcpu_peer_get_info(const tcpu_peer *p, tcpu_peer_info *pi) {
  memset(pi, 0, sizeof *pi);
  pi->addr = p->addr;
  pi->endpoint = p->endpoint;
  pi->sealed = p->sealed;
  pi->last_handshake = p->last_handshake;
  pi->last_received = p->last_received;
  pi->rx_bytes = p->rx_bytes;
  pi->tx_bytes = p->tx_bytes;
  pi->handshakes = p->handshakes;
  pi->roams = p->roams;
  pi->cipher_mismatches = p->cipher_mismatches;
  if (p->sealed) {
    memcpy(pi->public_key, p->noise.remote_static, TCPU_KEY_LEN);
    pi->session = p->noise.cur.valid;
    pi->handshaking = p->noise.hs_state == TCPU_NOISE_HS_CREATED_INITIATION;
    pi->persistent_keepalive = p->noise.persistent_keepalive;
  } else {
    pi->persistent_keepalive = p->keepalive;
  }
}

int tcpu_endpoint_foreach_peer(const tcpu_endpoint *ep,
                               int (*fn)(const tcpu_peer *p, void *arg),
                               void *arg) {
  for (uint32_t i = 0; ep != NULL && i < ep->peers.nslots; i++)
    if (ep->peers.slots[i] != NULL) {
      int rv = fn(ep->peers.slots[i], arg);
      if (rv != 0)
        return rv;
    }
  return 0;
}
