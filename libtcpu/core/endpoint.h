/*
 * endpoint.h — one UDP socket's worth of TCP: demultiplexing, listeners,
 * the stateless reply queue, output and event queues, and deferred frees.
 */
#ifndef TCPU_CORE_ENDPOINT_H
#define TCPU_CORE_ENDPOINT_H

#include <string.h>

#include "core/conn.h"
#include "core/peer.h"
#include "tcpu/tcpu.h"

/* Stateless replies (RST to a closed port, SYN-ACK cookies) wait here: a
 * bounded ring, so a flood cannot make us queue without limit. */
#define TCPU_CTL_QUEUE_LEN 64
#define TCPU_CTL_DGRAM_MAX 64

/* Sealed mode seals a data segment straight from the send ring, with no
 * copy into the datagram: send_range writes the TCP header over the bytes
 * just before the payload, which wait here and are put back as soon as
 * the segment is sealed (tcpu_sealed_wrap). */
typedef struct tcpu_splice {
  uint8_t *seg; /* the segment, header first; NULL: the segment is in buf */
  size_t hlen;
  uint8_t saved[TCPU_TCP_MAX_HDR_LEN];
} tcpu_splice;

typedef struct tcpu_ctl_dgram {
  tcpu_addr to;
  uint16_t len;
  uint8_t data[TCPU_CTL_DGRAM_MAX];
} tcpu_ctl_dgram;

struct tcpu_endpoint {
  tcpu_settings s;
  tcpu_callbacks cb;
  void *user_data;
  uint8_t hash_key[16]; /* SipHash key for the connection table */

  tcpu_conn **htab;
  size_t hsize, hcount;
  tcpu_conn *last_found; /* in the table; cleared when it leaves */
  tcpu_conn *all; /* every connection, listeners included */
  tcpu_conn **heap; /* timer heap, 1-based (theap.c) */
  size_t heap_len, heap_cap;
  tcpu_conn *dirty_head;
  tcpu_conn *out_head, *out_tail;
  tcpu_conn *ev_head, *ev_tail;
  tcpu_conn *dead_head; /* ended connections, freed by reap() */

  tcpu_ctl_dgram ctl[TCPU_CTL_QUEUE_LEN];
  unsigned ctl_head, ctl_len;

  uint32_t port_counter; /* RFC 6056 algorithm 3 */
  int cb_err;            /* a callback failed during this call */
  /* Set while a SYN reopens a TIME-WAIT 4-tuple (conn.c -> listen.c). */
  tcpu_conn *tw_reopen;
  uint32_t tw_iss;
  unsigned tw_iss_valid : 1;
  const struct tcpu_cc_ops *cc_user[16]; /* registered by the application */
  unsigned cc_user_count;
  tcpu_endpoint_stats st;
  tcpu_peers peers; /* peer.c, sealed.c */
  tcpu_segment_tap tap;
  void *tap_arg;
  tcpu_splice splice;
};

tcpu_conn *tcpu_endpoint_find(const tcpu_endpoint *ep, const tcpu_addr *peer,
                              uint16_t lport, uint16_t rport);
tcpu_conn *tcpu_endpoint_find_listener(const tcpu_endpoint *ep,
                                       uint16_t port);
int tcpu_endpoint_hash_add(tcpu_endpoint *ep, tcpu_conn *c);
void tcpu_endpoint_hash_del(tcpu_endpoint *ep, tcpu_conn *c);
void tcpu_endpoint_out_push(tcpu_endpoint *ep, tcpu_conn *c);
void tcpu_endpoint_ev_push(tcpu_endpoint *ep, tcpu_conn *c);
/* c ended and nobody holds it: free it at the end of the entry point. */
void tcpu_endpoint_mark_dead(tcpu_endpoint *ep, tcpu_conn *c);
/* Encodes s and queues it for dest; counts an overflow instead when full. */
void tcpu_endpoint_queue_ctl(tcpu_endpoint *ep, const tcpu_addr *to,
                             const tcpu_seg *s);
/* RST in reply to s, which reached no connection (RFC 9293 §3.10.7.1). */
void tcpu_endpoint_reply_rst(tcpu_endpoint *ep, const tcpu_addr *to,
                             const tcpu_seg *s);
/* Largest MSS towards a peer: MTU less IP, UDP, envelope and TCP headers
 * (DESIGN §3).  A sealed-mode peer's IP version is its endpoint's. */
uint16_t tcpu_endpoint_mss(const tcpu_endpoint *ep, const tcpu_addr *peer);
/* The inner checksum is needed in plain mode (seg.h), and in sealed mode
 * only for a capture (the segment tap shows it to pcap writers). */
static inline int tcpu_endpoint_wants_checksum(const tcpu_endpoint *ep) {
  return ep->peers.sealed == NULL || ep->tap != NULL;
}
/* Lends the hlen bytes before payload (send ring storage) to a segment
 * header: returns where the segment starts.  Only in sealed mode. */
static inline uint8_t *tcpu_endpoint_splice(tcpu_endpoint *ep,
                                            uint8_t *payload, size_t hlen) {
  ep->splice.seg = payload - hlen;
  ep->splice.hlen = hlen;
  memcpy(ep->splice.saved, ep->splice.seg, hlen);
  return ep->splice.seg;
}
/* Puts the lent bytes back. */
static inline void tcpu_endpoint_unsplice(tcpu_endpoint *ep) {
  if (ep->splice.seg != NULL)
    memcpy(ep->splice.seg, ep->splice.saved, ep->splice.hlen);
  ep->splice.seg = NULL;
}
/* Room for one encoded segment: the largest datagram less the envelope. */
size_t tcpu_endpoint_seg_room(const tcpu_endpoint *ep);
/* One TCP segment from `from` (a UDP address, or a sealed peer's address
 * once its envelope was opened): decode, then demultiplex. */
void tcpu_endpoint_input(tcpu_endpoint *ep, const tcpu_addr *from,
                         const uint8_t *seg, size_t len, tcpu_tstamp now);

/* ---- theap.c: connections by earliest deadline */
void tcpu_theap_mark(tcpu_endpoint *ep, tcpu_conn *c);
int tcpu_theap_flush(tcpu_endpoint *ep);
void tcpu_theap_remove(tcpu_endpoint *ep, tcpu_conn *c);
tcpu_tstamp tcpu_theap_min(const tcpu_endpoint *ep);
tcpu_conn *tcpu_theap_pop_due(tcpu_endpoint *ep, tcpu_tstamp now);

/* ---- isn.c (RFC 6528, RFC 6056) */
uint32_t tcpu_isn(const tcpu_endpoint *ep, const tcpu_addr *peer,
                  uint16_t lport, uint16_t rport, tcpu_tstamp now);
uint64_t tcpu_keyed_hash(const tcpu_endpoint *ep, const void *data,
                         size_t len, uint32_t salt);
int tcpu_ephemeral_port(tcpu_endpoint *ep, const tcpu_addr *peer,
                        uint16_t rport, uint16_t *port);

/* ---- listen.c */
void tcpu_listen_input(tcpu_conn *l, const tcpu_addr *from,
                       const tcpu_seg *s, tcpu_tstamp now);
/* A passive child finished its handshake: move it to the accept queue.
 * Returns 0, or -1 when the accept queue is full (the caller applies the
 * overflow policy). */
int tcpu_listen_established(tcpu_conn *child, tcpu_tstamp now);
/* Unlinks a child from its parent's queues. */
void tcpu_listen_detach(tcpu_conn *child);
void tcpu_listen_close(tcpu_conn *l, tcpu_tstamp now);

#endif /* TCPU_CORE_ENDPOINT_H */
