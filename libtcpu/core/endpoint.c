/*
 * endpoint.c — the sans-IO entry points: datagrams in, datagrams out,
 * deadlines; demultiplexing by (peer UDP address, local port, remote port)
 * (DESIGN §3); the stateless reply queue; application event delivery.
 */
#include "core/endpoint.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/peer.h"
#include "core/seq.h"

void tcpu_settings_default(tcpu_settings *s) {
  memset(s, 0, sizeof *s);
  s->mtu = 1500;
  s->sndbuf = 1u << 20;
  s->rcvbuf = 1u << 20;
  s->msl = 30 * TCPU_NS_PER_S;               /* Linux TIME_WAIT: 60 s */
  s->fin_wait2_timeout = 60 * TCPU_NS_PER_S; /* Linux tcp_fin_timeout */
  s->rto_initial = 1 * TCPU_NS_PER_S;        /* RFC 6298 (2.1) */
  s->rto_min = 200 * TCPU_NS_PER_MS;         /* Linux TCP_RTO_MIN */
  s->rto_max = 120 * TCPU_NS_PER_S;          /* Linux TCP_RTO_MAX */
  s->delack_max = 40 * TCPU_NS_PER_MS;       /* Linux TCP_DELACK_MAX */
  s->syn_retries = 6;
  s->synack_retries = 5;
  s->retries = 15;
  s->accept_overflow = TCPU_OVERFLOW_DROP;
  s->syncookies = TCPU_SYNCOOKIES_ON_FULL;
  s->ephemeral_lo = 32768; /* Linux ip_local_port_range */
  s->ephemeral_hi = 60999;
  s->timestamps = 1;
  s->sack = 1;
  s->window_scaling = 1;
  s->nodelay = 0;
  s->keepalive = 0; /* off by default, as in Linux */
  s->keepalive_idle = 7200 * TCPU_NS_PER_S;
  s->keepalive_intvl = 75 * TCPU_NS_PER_S;
  s->keepalive_probes = 9;
  s->user_timeout = 0;
  s->mode = TCPU_MODE_PLAIN;
  s->cipher = TCPU_CIPHER_CHACHAPOLY;
  s->handshake_load = 64;
}

static int settings_valid(const tcpu_settings *s) {
  return s->mtu >= 256 && s->mtu <= 65535 && s->sndbuf >= 1 &&
         s->sndbuf <= (1u << 30) && s->rcvbuf >= 1 &&
         s->rcvbuf <= (1u << 30) && s->rto_min > 0 &&
         s->rto_min <= s->rto_max && s->rto_initial > 0 && s->msl > 0 &&
         s->ephemeral_lo >= 1 && s->ephemeral_lo <= s->ephemeral_hi &&
         s->accept_overflow <= TCPU_OVERFLOW_RST &&
         s->syncookies <= TCPU_SYNCOOKIES_ALWAYS && s->keepalive_idle > 0 &&
         s->keepalive_intvl > 0 && s->keepalive_probes >= 1 &&
         s->keepalive_probes <= 255 && s->mode <= TCPU_MODE_SEALED &&
         s->cipher <= TCPU_CIPHER_AESGCM;
}

static int secret_is_zero(const uint8_t *k, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc |= k[i];
  return acc == 0;
}

int tcpu_endpoint_new(tcpu_endpoint **pep, const tcpu_settings *settings,
                      const tcpu_callbacks *callbacks, void *user_data,
                      tcpu_tstamp now) {
  (void)now;
  if (pep == NULL || settings == NULL || !settings_valid(settings))
    return TCPU_ERR_INVAL;
  if (sodium_init() < 0)
    return TCPU_ERR_NOMEM;
  tcpu_endpoint *ep = calloc(1, sizeof *ep);
  if (ep == NULL)
    return TCPU_ERR_NOMEM;
  ep->s = *settings;
  if (callbacks)
    ep->cb = *callbacks;
  ep->user_data = user_data;
  if (secret_is_zero(ep->s.secret, sizeof ep->s.secret))
    randombytes_buf(ep->s.secret, sizeof ep->s.secret);
  memcpy(ep->hash_key, ep->s.secret, sizeof ep->hash_key);
  ep->hsize = 64;
  ep->htab = calloc(ep->hsize, sizeof *ep->htab);
  int rv = ep->htab != NULL ? tcpu_peers_init(ep) : TCPU_ERR_NOMEM;
  if (rv != 0) {
    tcpu_endpoint_del(ep);
    return rv;
  }
  *pep = ep;
  return 0;
}

void tcpu_endpoint_del(tcpu_endpoint *ep) {
  if (ep == NULL)
    return;
  tcpu_conn *c = ep->all;
  while (c) {
    tcpu_conn *next = c->next;
    tcpu_conn_free(c);
    c = next;
  }
  free(ep->htab);
  free(ep->heap);
  tcpu_peers_free(ep);
  sodium_memzero(ep->s.secret, sizeof ep->s.secret);
  sodium_memzero(ep->s.private_key, sizeof ep->s.private_key);
  sodium_memzero(ep->hash_key, sizeof ep->hash_key);
  free(ep);
}

void *tcpu_endpoint_get_user_data(const tcpu_endpoint *ep) {
  return ep->user_data;
}

void tcpu_endpoint_get_stats(const tcpu_endpoint *ep,
                             tcpu_endpoint_stats *st) {
  *st = ep->st;
}

int tcpu_endpoint_foreach_conn(const tcpu_endpoint *ep,
                               int (*fn)(const tcpu_conn *c, void *arg),
                               void *arg) {
  for (const tcpu_conn *c = ep->all; c; c = c->next) {
    if (c->dead)
      continue;
    int rv = fn(c, arg);
    if (rv != 0)
      return rv;
  }
  return 0;
}

/* Sealed mode cuts a full segment's plaintext (TCP header + MSS bytes,
 * timestamps or not) to whole AEAD blocks: a partial last block takes the
 * ciphers' slow one-block paths.  With libsodium on x86-64, sealing 1,408
 * bytes (11 x 128) takes 8-9 % less time than 1,440: ChaCha20 has no half
 * block left over and AES-GCM runs 8 blocks (128 bytes) at a time.  At MTU
 * 1500 that costs 32 payload bytes per segment and gains 6 % per byte
 * (contrib/bench/README.md, "sealed").  A multiple of 128 when it is within
 * 64 bytes, else of 64 (ChaCha20's block). */
static uint32_t aead_block_mss(uint32_t mss) {
  uint32_t pt = mss + TCPU_TCP_HDR_LEN;
  uint32_t cut = pt % 128 <= 64 ? pt % 128 : pt % 64;
  return pt - cut > 512 ? mss - cut : mss;
}

uint16_t tcpu_endpoint_mss(const tcpu_endpoint *ep, const tcpu_addr *peer) {
  uint8_t family = peer != NULL ? peer->family : TCPU_AF_INET;
  uint32_t envelope = 0;
  if (family == TCPU_AF_PEER) {
    const tcpu_peer *p = tcpu_peers_by_conn_addr(ep, peer);
    family = p != NULL ? p->endpoint.family : TCPU_AF_INET;
  }
  if (ep->peers.sealed != NULL)
    envelope = TCPU_NOISE_DATA_OVERHEAD;
  uint32_t ip = family == TCPU_AF_INET6 ? 40 : 20;
  uint32_t mss = ep->s.mtu - ip - 8 - envelope - TCPU_TCP_HDR_LEN;
  return (uint16_t)(envelope > 0 ? aead_block_mss(mss) : mss);
}

size_t tcpu_endpoint_seg_room(const tcpu_endpoint *ep) {
  return tcpu_endpoint_max_dgram(ep) -
         (ep->peers.sealed != NULL ? TCPU_NOISE_DATA_OVERHEAD : 0);
}

size_t tcpu_endpoint_max_dgram(const tcpu_endpoint *ep) {
  return ep->s.mtu - 20 - 8;
}

/* ------------------------------------------------------------ hash table */

typedef struct hash_key {
  uint8_t ip[16];
  uint16_t uport, lport, rport;
  uint8_t family, pad;
} hash_key;

static size_t bucket(const tcpu_endpoint *ep, const tcpu_addr *peer,
                     uint16_t lport, uint16_t rport) {
  hash_key k;
  memset(&k, 0, sizeof k);
  memcpy(k.ip, peer->ip, 16);
  k.uport = peer->port;
  k.lport = lport;
  k.rport = rport;
  k.family = peer->family;
  uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, (const uint8_t *)&k, sizeof k, ep->hash_key);
  uint64_t h;
  memcpy(&h, out, sizeof h);
  return (size_t)(h & (ep->hsize - 1));
}

static const tcpu_addr no_peer;

static int conn_matches(const tcpu_conn *c, const tcpu_addr *peer,
                        uint16_t lport, uint16_t rport) {
  return c->lport == lport && c->rport == rport &&
         tcpu_addr_equal(&c->peer, peer);
}

/* A bulk transfer's datagrams come in runs for one connection: the last
 * hit is tried before the SipHash (5% of a plain receiver's time). */
tcpu_conn *tcpu_endpoint_find(const tcpu_endpoint *ep, const tcpu_addr *peer,
                              uint16_t lport, uint16_t rport) {
  tcpu_conn *last = ep->last_found;
  if (last != NULL && conn_matches(last, peer, lport, rport))
    return last;
  for (tcpu_conn *c = ep->htab[bucket(ep, peer, lport, rport)]; c;
       c = c->hnext)
    if (conn_matches(c, peer, lport, rport)) {
      ((tcpu_endpoint *)ep)->last_found = c;
      return c;
    }
  return NULL;
}

/* Listeners sit in the same table under an all-zero peer and port 0. */
tcpu_conn *tcpu_endpoint_find_listener(const tcpu_endpoint *ep,
                                       uint16_t port) {
  return tcpu_endpoint_find(ep, &no_peer, port, 0);
}

static int grow(tcpu_endpoint *ep) {
  size_t nsize = ep->hsize * 2;
  tcpu_conn **ntab = calloc(nsize, sizeof *ntab);
  if (ntab == NULL)
    return TCPU_ERR_NOMEM;
  tcpu_conn **old = ep->htab;
  size_t osize = ep->hsize;
  ep->htab = ntab;
  ep->hsize = nsize;
  for (size_t i = 0; i < osize; i++) {
    tcpu_conn *c = old[i];
    while (c) {
      tcpu_conn *next = c->hnext;
      size_t b = bucket(ep, &c->peer, c->lport, c->rport);
      c->hnext = ntab[b];
      ntab[b] = c;
      c = next;
    }
  }
  free(old);
  return 0;
}

int tcpu_endpoint_hash_add(tcpu_endpoint *ep, tcpu_conn *c) {
  if (ep->hcount >= ep->hsize && grow(ep) != 0)
    return TCPU_ERR_NOMEM;
  size_t b = bucket(ep, &c->peer, c->lport, c->rport);
  c->hnext = ep->htab[b];
  ep->htab[b] = c;
  c->in_hash = 1;
  ep->hcount++;
  return 0;
}

void tcpu_endpoint_hash_del(tcpu_endpoint *ep, tcpu_conn *c) {
  if (ep->last_found == c)
    ep->last_found = NULL;
  if (!c->in_hash)
    return;
  tcpu_conn **pp = &ep->htab[bucket(ep, &c->peer, c->lport, c->rport)];
  while (*pp && *pp != c)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = c->hnext;
  c->in_hash = 0;
  c->hnext = NULL;
  ep->hcount--;
}

/* ---------------------------------------------------------------- queues */

void tcpu_endpoint_out_push(tcpu_endpoint *ep, tcpu_conn *c) {
  if (c->in_outq)
    return;
  c->in_outq = 1;
  c->out_next = NULL;
  if (ep->out_tail)
    ep->out_tail->out_next = c;
  else
    ep->out_head = c;
  ep->out_tail = c;
}

static tcpu_conn *out_pop(tcpu_endpoint *ep) {
  tcpu_conn *c = ep->out_head;
  if (c) {
    ep->out_head = c->out_next;
    if (ep->out_head == NULL)
      ep->out_tail = NULL;
    c->in_outq = 0;
  }
  return c;
}

void tcpu_endpoint_ev_push(tcpu_endpoint *ep, tcpu_conn *c) {
  if (c->in_evq)
    return;
  c->in_evq = 1;
  c->ev_next = NULL;
  if (ep->ev_tail)
    ep->ev_tail->ev_next = c;
  else
    ep->ev_head = c;
  ep->ev_tail = c;
}

void tcpu_endpoint_queue_ctl(tcpu_endpoint *ep, const tcpu_addr *to,
                             const tcpu_seg *s) {
  if (ep->ctl_len == TCPU_CTL_QUEUE_LEN) {
    ep->st.ctl_queue_overflow++;
    return;
  }
  tcpu_ctl_dgram *d = &ep->ctl[(ep->ctl_head + ep->ctl_len) %
                               TCPU_CTL_QUEUE_LEN];
  tcpu_ssize n = tcpu_seg_encode(s, d->data, sizeof d->data);
  if (n < 0) {
    ep->st.ctl_queue_overflow++;
    return;
  }
  d->to = *to;
  d->len = (uint16_t)n;
  ep->ctl_len++;
  if (s->flags & TH_RST)
    ep->st.rst_sent++;
}

/* RFC 9293 §3.10.7.1: a segment for a connection that does not exist.
 * An incoming RST is dropped; otherwise the reply makes the RST acceptable
 * to the sender: <SEQ=SEG.ACK><CTL=RST> when it carried an ACK, else
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
void tcpu_endpoint_reply_rst(tcpu_endpoint *ep, const tcpu_addr *to,
                             const tcpu_seg *s) {
  if (s->flags & TH_RST)
    return;
  tcpu_seg r;
  memset(&r, 0, sizeof r);
  r.sport = s->dport;
  r.dport = s->sport;
  if (s->flags & TH_ACK) {
    r.seq = s->ack;
    r.flags = TH_RST;
  } else {
    r.ack = s->seq + tcpu_seg_seqlen(s);
    r.flags = TH_RST | TH_ACK;
  }
  tcpu_endpoint_queue_ctl(ep, to, &r);
}

/* --------------------------------------------------- events and cleanup */

static int call_ok(tcpu_endpoint *ep, int rv) {
  if (rv != 0)
    ep->cb_err = TCPU_ERR_CALLBACK_FAILURE;
  return rv == 0;
}

static void dispatch_events(tcpu_endpoint *ep) {
  tcpu_conn *c;
  while ((c = ep->ev_head) != NULL) {
    ep->ev_head = c->ev_next;
    if (ep->ev_head == NULL)
      ep->ev_tail = NULL;
    c->in_evq = 0;
    unsigned ev = c->events;
    c->events = 0;
    if (c->dead || !c->handle_open)
      continue;
    const tcpu_callbacks *cb = &ep->cb;
    if ((ev & TCPU_EV_ACCEPT) && cb->accept)
      call_ok(ep, cb->accept(c, c->user_data));
    if ((ev & TCPU_EV_CONNECTED) && c->handle_open && cb->connected)
      call_ok(ep, cb->connected(c, c->user_data));
    if ((ev & TCPU_EV_READABLE) && c->handle_open && cb->readable)
      call_ok(ep, cb->readable(c, c->user_data));
    if ((ev & TCPU_EV_WRITABLE) && c->handle_open && cb->writable)
      call_ok(ep, cb->writable(c, c->user_data));
    if ((ev & TCPU_EV_CLOSED) && c->handle_open && cb->closed)
      call_ok(ep, cb->closed(c, c->err, c->user_data));
  }
}

void tcpu_endpoint_mark_dead(tcpu_endpoint *ep, tcpu_conn *c) {
  if (c->dead)
    return;
  c->dead = 1;
  c->dead_next = ep->dead_head;
  ep->dead_head = c;
}

/* Frees the connections that ended: O(those), not O(all).  One still in
 * the output queue waits until tcpu_endpoint_send pops it. */
static void reap(tcpu_endpoint *ep) {
  tcpu_conn **pp = &ep->dead_head;
  while (*pp) {
    tcpu_conn *c = *pp;
    if (!c->in_evq && !c->in_outq) {
      *pp = c->dead_next;
      tcpu_conn_free(c);
    } else {
      pp = &c->dead_next;
    }
  }
}

/* Every entry point ends here: deliver events, then free what ended. */
static int finish_call(tcpu_endpoint *ep) {
  dispatch_events(ep);
  tcpu_theap_flush(ep);
  reap(ep);
  int rv = ep->cb_err;
  ep->cb_err = 0;
  return rv;
}

/* ------------------------------------------------------------- datagrams */

static void count_bad(tcpu_endpoint *ep, tcpu_seg_status st) {
  switch (st) {
  case TCPU_SEG_SHORT: ep->st.drop_short++; break;
  case TCPU_SEG_BAD_OFFSET: ep->st.drop_bad_offset++; break;
  case TCPU_SEG_BAD_OPTION: ep->st.drop_bad_option++; break;
  case TCPU_SEG_BAD_SACK: ep->st.drop_bad_sack++; break;
  case TCPU_SEG_BAD_CHECKSUM: ep->st.drop_bad_checksum++; break;
  case TCPU_SEG_OK: break;
  }
}

void tcpu_endpoint_set_segment_tap(tcpu_endpoint *ep, tcpu_segment_tap fn,
                                   void *arg) {
  ep->tap = fn;
  ep->tap_arg = arg;
}

void tcpu_endpoint_input(tcpu_endpoint *ep, const tcpu_addr *from,
                         const uint8_t *dgram, size_t len, tcpu_tstamp now) {
  tcpu_seg s;
  /* Sealed mode: the AEAD authenticated every byte; the sum is not kept. */
  tcpu_seg_status st = tcpu_seg_decode(&s, dgram, len,
                                       ep->peers.sealed == NULL);
  if (st != TCPU_SEG_OK) {
    count_bad(ep, st);
    return;
  }
  /* Flag combinations no conforming TCP sends; port 0 is reserved. */
  if (((s.flags & TH_SYN) && (s.flags & (TH_RST | TH_FIN))) || s.sport == 0 ||
      s.dport == 0) {
    ep->st.drop_bad_flags++;
    return;
  }
  if (s.flags & TH_RST)
    ep->st.rst_received++;
  tcpu_conn *c = tcpu_endpoint_find(ep, from, s.dport, s.sport);
  if (c != NULL) {
    tcpu_conn_input(c, &s, now);
  } else if ((c = tcpu_endpoint_find_listener(ep, s.dport)) != NULL) {
    tcpu_listen_input(c, from, &s, now);
  } else {
    ep->st.drop_no_conn++;
    if (!tcpu_peer_punching(ep, from, now))
      tcpu_endpoint_reply_rst(ep, from, &s);
  }
}

/* A plain-mode keepalive (tcpu_peer_set_persistent_keepalive): empty, or
 * the single zero byte tcpu_endpoint_send produces. */
static int plain_keepalive(const uint8_t *dgram, size_t len) {
  return len == 0 || (len == TCPU_PLAIN_KEEPALIVE_LEN && dgram[0] == 0);
}

int tcpu_endpoint_recv(tcpu_endpoint *ep, const tcpu_addr *from,
                       const uint8_t *dgram, size_t len, tcpu_tstamp now) {
  if (ep == NULL || from == NULL || (dgram == NULL && len > 0))
    return TCPU_ERR_INVAL;
  ep->st.dgrams_in++;
  if (ep->peers.sealed != NULL)
    tcpu_sealed_recv(ep, from, dgram, len, now);
  else if (plain_keepalive(dgram, len))
    tcpu_peer_plain_keepalive_in(ep, from, len, now);
  else {
    if (ep->tap)
      ep->tap(ep->tap_arg, 0, from, dgram, len);
    tcpu_endpoint_input(ep, from, dgram, len, now);
  }
  return finish_call(ep);
}

/* The next datagram, in order: handshake, cookie and keepalive messages;
 * stateless replies; connections, round robin.  Sealed mode builds each
 * segment TCPU_NOISE_DATA_HEADER_LEN bytes into buf and seals it in place;
 * a connection whose peer has no session is skipped (held) and a
 * handshake is asked for, whose initiation the next round finds queued. */
static tcpu_ssize next_dgram(tcpu_endpoint *ep, tcpu_addr *to, uint8_t *buf,
                             size_t buflen, tcpu_tstamp now) {
  tcpu_peers *ps = &ep->peers;
  size_t off = ps->sealed != NULL ? TCPU_NOISE_DATA_HEADER_LEN : 0;
  size_t tail = ps->sealed != NULL ? TCPU_NOISE_TAG_LEN : 0;
  for (;;) {
    if (ps->msgq_len > 0) {
      tcpu_msg *m = &ps->msgq[ps->msgq_head];
      ps->msgq_head = (ps->msgq_head + 1) % TCPU_MSGQ_LEN;
      ps->msgq_len--;
      memcpy(buf, m->data, m->len);
      *to = m->to;
      return m->len;
    }
    if (ep->ctl_len > 0) {
      tcpu_ctl_dgram *d = &ep->ctl[ep->ctl_head];
      ep->ctl_head = (ep->ctl_head + 1) % TCPU_CTL_QUEUE_LEN;
      ep->ctl_len--;
      memcpy(buf + off, d->data, d->len);
      *to = d->to;
      if (off == 0)
        return d->len;
      size_t n = tcpu_sealed_wrap(ep, to, buf, d->len, buflen, now);
      if (n > 0)
        return (tcpu_ssize)n;
      continue;
    }
    tcpu_conn *c = out_pop(ep);
    if (c == NULL)
      return 0;
    if (c->dead || (off > 0 && !tcpu_sealed_ready(ep, &c->peer, now)))
      continue;
    tcpu_ssize n = tcpu_conn_output(c, buf + off, buflen - off - tail, now);
    if (n <= 0)
      continue;
    /* Round robin: it goes to the back and says 0 once it is done. */
    tcpu_endpoint_out_push(ep, c);
    *to = c->peer;
    if (off == 0)
      return n;
    n = (tcpu_ssize)tcpu_sealed_wrap(ep, to, buf, (size_t)n, buflen, now);
    if (n > 0)
      return n;
  }
}

tcpu_ssize tcpu_endpoint_send(tcpu_endpoint *ep, tcpu_addr *to, uint8_t *buf,
                              size_t buflen, tcpu_tstamp now) {
  if (ep == NULL || to == NULL || buf == NULL)
    return TCPU_ERR_INVAL;
  if (buflen < tcpu_endpoint_max_dgram(ep))
    return TCPU_ERR_NOBUF;
  tcpu_ssize n = next_dgram(ep, to, buf, buflen, now);
  if (n > 0) {
    ep->st.dgrams_out++;
    if (ep->tap && ep->peers.sealed == NULL && n > TCPU_PLAIN_KEEPALIVE_LEN)
      ep->tap(ep->tap_arg, 1, to, buf, (size_t)n);
  }
  int rv = finish_call(ep);
  return rv < 0 ? rv : n;
}

tcpu_tstamp tcpu_endpoint_get_expiry(const tcpu_endpoint *ep) {
  tcpu_tstamp t = tcpu_theap_min(ep);
  return ep->peers.next_expiry < t ? ep->peers.next_expiry : t;
}

/* The peers' deadlines: next_expiry is a lower bound kept cheaply as
 * peers are touched; here it is made exact again. */
static void peers_expiry(tcpu_endpoint *ep, tcpu_tstamp now) {
  tcpu_peers *ps = &ep->peers;
  if (ps->next_expiry > now)
    return;
  tcpu_tstamp next = TCPU_TSTAMP_NONE;
  for (uint32_t i = 0; i < ps->nslots; i++) {
    tcpu_peer *p = ps->slots[i];
    if (p == NULL)
      continue;
    if (tcpu_peer_expiry(p) <= now) {
      if (p->sealed)
        tcpu_sealed_peer_expiry(p, now);
      tcpu_peer_plain_expiry(p, now);
    }
    tcpu_tstamp e = tcpu_peer_expiry(p);
    if (e < next)
      next = e;
  }
  ps->next_expiry = next;
}

int tcpu_endpoint_handle_expiry(tcpu_endpoint *ep, tcpu_tstamp now) {
  tcpu_theap_flush(ep);
  /* Each due connection once per call: it goes back into the heap with
   * its new deadline only at the end. */
  tcpu_conn *c;
  while ((c = tcpu_theap_pop_due(ep, now)) != NULL) {
    if (!c->dead)
      tcpu_timer_handle(c, now);
    tcpu_theap_mark(ep, c);
  }
  peers_expiry(ep, now);
  return finish_call(ep);
}
