/*
 * isn.c — initial sequence numbers (RFC 6528) and ephemeral port choice
 * (RFC 6056).
 *
 * Both rest on one keyed hash (SipHash-2-4 via libsodium's
 * crypto_shorthash) under the endpoint's secret, so an off-path attacker
 * can predict neither, while tests that fix the secret get repeatable runs.
 */
#include <sodium.h>
#include <string.h>

#include "core/endpoint.h"

uint64_t tcpu_keyed_hash(const tcpu_endpoint *ep, const void *data,
                         size_t len, uint32_t salt) {
  uint8_t in[64];
  uint8_t out[crypto_shorthash_BYTES];
  size_t n = len > sizeof in - 4 ? sizeof in - 4 : len;
  memcpy(in, &salt, 4);
  memcpy(in + 4, data, n);
  crypto_shorthash(out, in, n + 4, ep->s.secret + 16);
  uint64_t h;
  memcpy(&h, out, sizeof h);
  return h;
}

typedef struct flow_key {
  uint8_t ip[16];
  uint16_t uport, lport, rport;
  uint8_t family, pad;
} flow_key;

static void make_key(flow_key *k, const tcpu_addr *peer, uint16_t lport,
                     uint16_t rport) {
  memset(k, 0, sizeof *k);
  memcpy(k->ip, peer->ip, 16);
  k->uport = peer->port;
  k->lport = lport;
  k->rport = rport;
  k->family = peer->family;
}

/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a 4-microsecond timer.  The local address is the
 * endpoint's one socket, so it adds nothing to F. */
uint32_t tcpu_isn(const tcpu_endpoint *ep, const tcpu_addr *peer,
                  uint16_t lport, uint16_t rport, tcpu_tstamp now) {
  flow_key k;
  make_key(&k, peer, lport, rport);
  uint32_t m = (uint32_t)(now / 4000);
  return m + (uint32_t)tcpu_keyed_hash(ep, &k, sizeof k, 0x15a);
}

/* RFC 6056 §3.3.3 (algorithm 3): a per-destination hashed offset plus a
 * global counter, probing linearly for a free 4-tuple. */
int tcpu_ephemeral_port(tcpu_endpoint *ep, const tcpu_addr *peer,
                        uint16_t rport, uint16_t *port) {
  uint32_t lo = ep->s.ephemeral_lo, hi = ep->s.ephemeral_hi;
  uint32_t num = hi - lo + 1;
  flow_key k;
  make_key(&k, peer, 0, rport);
  uint32_t offset = (uint32_t)tcpu_keyed_hash(ep, &k, sizeof k, 0x6056);
  for (uint32_t i = 0; i < num; i++) {
    uint16_t p = (uint16_t)(lo + (offset + ep->port_counter + i) % num);
    if (tcpu_endpoint_find(ep, peer, p, rport) == NULL &&
        tcpu_endpoint_find_listener(ep, p) == NULL) {
      ep->port_counter += i + 1;
      *port = p;
      return 0;
    }
  }
  return TCPU_ERR_ADDRNOTAVAIL;
}
