/*
 * rdv_server.h — the rendezvous server's logic, sans-IO (issue 8): a
 * bounded table of registrations and the answers to REGISTER and LOOKUP
 * (rendezvous.h has the wire format).  `tcpu rendezvous` (cli/) runs it on
 * a UDP socket; the unit tests and the fuzz harness run it with injected
 * time.
 *
 * For each datagram, in order:
 *   1. per-source rate limit (crypto/ratelimit.h's token buckets, IPv4
 *      address or IPv6 /64): over budget -> dropped, counted;
 *   2. strict decoding: anything but a well-formed REGISTER or LOOKUP ->
 *      dropped, counted;
 *   3. REGISTER name: the name now points at the source address (the
 *      latest REGISTER wins: a NAT may rebind), live for
 *      TCPU_RDV_EXPIRY_NS; answer OBSERVED with that address.  No room in
 *      the table -> dropped, counted (the client retries);
 *   4. LOOKUP self, peer: only for a looker registered as `self` from this
 *      very address (so nobody can have a peer pushed towards an address
 *      they do not receive at); then, when `peer` is registered and live,
 *      push PEER (txid 0) with the looker's name and address to the peer
 *      and answer PEER with the peer's address, so both start punching
 *      at once (the push first: rdv_server.c says why); else answer
 *      NOT_FOUND.
 *
 * A server on a wildcard address must answer from the address it was
 * asked at, or the client (and its NAT) drops the answer: the caller says
 * where each datagram arrived (tcpu_rdv_server_recv_at), a registration
 * keeps that address, and every reply names the local address to send
 * from (`from`), the pushed peer's included.
 *
 * The server authenticates nobody: a name is whoever registered it last.
 * In sealed mode that is harmless (the Noise handshake authenticates the
 * peer's key, a wrong address just fails it); in plain mode the
 * rendezvous is trusted as much as the network already is.
 *
 * The table has a fixed number of slots (a power of two) allocated at
 * init.  A name hashes (SipHash under a random key, so nobody can aim
 * names at one slot) to a slot and may live in any of the
 * TCPU_RDV_PROBES slots from there; expired registrations are reused in
 * place, so nothing needs sweeping and every operation is bounded.
 */
#ifndef TCPU_NAT_RDV_SERVER_H
#define TCPU_NAT_RDV_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/noise.h"
#include "crypto/ratelimit.h"
#include "nat/rendezvous.h"

#define TCPU_RDV_PROBES 16
/* Per source: a client looking up sends REGISTER and LOOKUP every 250 ms
 * (8 a second); room for a few such clients behind one NAT. */
#define TCPU_RDV_RATE_PER_S 50
#define TCPU_RDV_RATE_BURST 50
#define TCPU_RDV_DEFAULT_ENTRIES 4096

typedef struct tcpu_rdv_entry {
  tcpu_rdv_name name;
  tcpu_addr addr;
  tcpu_addr local; /* the server's address it registered at (family 0:
                      unknown) */
  tcpu_tstamp expires; /* live while now < expires */
  uint8_t used;
} tcpu_rdv_entry;

typedef struct tcpu_rdv_server_stats {
  uint64_t received;     /* datagrams handed to tcpu_rdv_server_recv */
  uint64_t ratelimited;  /* dropped: source over its budget */
  uint64_t malformed;    /* dropped: no well-formed request */
  uint64_t registers;    /* REGISTERs answered */
  uint64_t table_full;   /* REGISTERs dropped for want of a slot */
  uint64_t lookups;      /* LOOKUPs answered */
  uint64_t found;        /* ... with PEER (and a push) */
  uint64_t not_found;    /* ... with NOT_FOUND, peer absent or expired */
  uint64_t unregistered; /* ... with NOT_FOUND, looker not registered there */
  uint64_t sent;         /* replies and pushes handed out */
  uint64_t bytes_received, bytes_sent;
} tcpu_rdv_server_stats;

typedef struct tcpu_rdv_server {
  tcpu_rdv_entry *slots;
  size_t nslots; /* a power of two */
  uint8_t hash_key[16];
  tcpu_ratelimit rl;
  tcpu_rdv_server_stats stats;
} tcpu_rdv_server;

/* One datagram to send. */
typedef struct tcpu_rdv_reply {
  tcpu_addr to;
  tcpu_addr from; /* the local address to send from; family 0: any */
  size_t len;
  uint8_t buf[TCPU_RDV_PEER_MAX];
} tcpu_rdv_reply;

/* max_entries: registrations the table holds at most (rounded up to a
 * power of two, at least TCPU_RDV_PROBES; 0: TCPU_RDV_DEFAULT_ENTRIES).
 * per_second and burst: the per-source budget (0: the defaults above).
 * rng NULL: libsodium's.  0, or TCPU_ERR_NOMEM, TCPU_ERR_INVAL (more than
 * 2^24 entries). */
int tcpu_rdv_server_init(tcpu_rdv_server *s, size_t max_entries,
                         uint32_t per_second, uint32_t burst,
                         const tcpu_noise_rng *rng);
void tcpu_rdv_server_free(tcpu_rdv_server *s);

/* Handles one datagram from `from` and writes what to send into out[0..]:
 * returns how many (0, 1 or 2), to be sent in that order; the last is the
 * answer to `from`, a first of two the push.  Each is no longer than len, and
 * two together are no longer than len either (rendezvous.h).  Never
 * fails: bad input is counted in s->stats. */
int tcpu_rdv_server_recv(tcpu_rdv_server *s, const tcpu_addr *from,
                         const uint8_t *dgram, size_t len,
                         tcpu_rdv_reply out[2], tcpu_tstamp now);
/* The same for a datagram that arrived at the server's address `local`
 * (NULL or family 0: unknown; the port is not used). */
int tcpu_rdv_server_recv_at(tcpu_rdv_server *s, const tcpu_addr *from,
                            const tcpu_addr *local, const uint8_t *dgram,
                            size_t len, tcpu_rdv_reply out[2],
                            tcpu_tstamp now);

/* The live registration of name, or NULL. */
const tcpu_rdv_entry *tcpu_rdv_server_find(const tcpu_rdv_server *s,
                                           const tcpu_rdv_name *name,
                                           tcpu_tstamp now);
/* Live registrations (walks the table). */
size_t tcpu_rdv_server_count(const tcpu_rdv_server *s, tcpu_tstamp now);

#endif /* TCPU_NAT_RDV_SERVER_H */
