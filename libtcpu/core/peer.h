/*
 * peer.h — the endpoint's peers (tcpu.h, "peers") and sealed mode's
 * envelope (DESIGN §3, §6).
 *
 *   peer.c    the peer table, synthetic addresses, the receiver-index map,
 *             the public tcpu_peer_* calls, plain keepalives and punching.
 *   sealed.c  the envelope: handshake and cookie messages in, transport
 *             messages opened into segments for the demultiplexer;
 *             segments out sealed under the peer's session, output held
 *             while a peer has none; the peers' timers.
 *
 * Sealed-mode connections carry their peer's synthetic TCPU_AF_PEER address
 * (scope_id = the peer's slot, ip = the first 16 bytes of its key), so the
 * demultiplexer, ISNs and everything else keyed by address work unchanged
 * and a peer's connections survive its UDP endpoint moving (roaming).
 */
#ifndef TCPU_CORE_PEER_H
#define TCPU_CORE_PEER_H

#include "crypto/cookie.h"
#include "crypto/handshake.h"
#include "crypto/ratelimit.h"
#include "crypto/seal.h"
#include "crypto/session.h"
#include "tcpu/tcpu.h"

/* Hole punching (tcpu_peer_punch): datagrams at these offsets from the
 * call, ms.  Close together first, so two peers that start within a few
 * milliseconds of each other meet at once; spread out after, to outlast a
 * rendezvous that told one side late. */
#define TCPU_PUNCH_STEPS 5
/* While punching, a segment from the peer that reaches no connection is
 * dropped, not reset: the peer's SYN may arrive before this side's own
 * connect (the rendezvous told the two sides at slightly different
 * times), and a RST would refuse what the SYN's retransmission turns
 * into a simultaneous open. */
#define TCPU_PUNCH_QUIET_NS (3 * TCPU_NS_PER_S)
/* A plain-mode keepalive: one zero byte, which no TCP segment can be and
 * tcpu_endpoint_send can return (it reports "nothing" as 0 bytes). */
#define TCPU_PLAIN_KEEPALIVE_LEN 1

/* Handshake, cookie and keepalive messages waiting for tcpu_endpoint_send.
 * Bounded: a flood cannot make the endpoint queue without limit. */
#define TCPU_MSGQ_LEN 64

struct tcpu_peer {
  tcpu_endpoint *ep;
  uint32_t slot;      /* index in the endpoint's peer array */
  tcpu_addr addr;     /* what connections use (tcpu_peer_addr) */
  tcpu_addr endpoint; /* its UDP address; family 0: not known yet */
  void *user_data;
  unsigned sealed : 1;
  unsigned held : 1; /* connections wait for a session */
  unsigned have_initiation : 1;
  tcpu_tstamp t_punch, t_keepalive; /* plain keepalive; punch schedule */
  tcpu_tstamp punch_start;
  uint8_t punch_step;
  tcpu_duration keepalive; /* plain mode's persistent keepalive */
  uint64_t rx_bytes, tx_bytes, handshakes, roams, cipher_mismatches;
  tcpu_tstamp last_handshake, last_received;
  uint8_t initiation[TCPU_NOISE_INITIATION_LEN]; /* resent while punching */
  tcpu_noise_peer noise; /* sealed mode: keys, sessions, timers */
};

typedef struct tcpu_msg {
  tcpu_addr to;
  uint16_t len;
  uint8_t data[TCPU_NOISE_INITIATION_LEN];
} tcpu_msg;

typedef struct tcpu_index_slot {
  uint32_t index; /* 0: free (never handed out) */
  uint32_t slot;  /* the peer's */
} tcpu_index_slot;

/* Sealed mode's endpoint-wide state, allocated only in sealed mode. */
typedef struct tcpu_sealed {
  tcpu_noise_identity id; /* first: its memory is locked */
  tcpu_ratelimit ratelimit;
  tcpu_index_slot *itab; /* receiver index -> peer, linear probing */
  size_t isize, icount;
  tcpu_tstamp load_window; /* start of the second being counted */
  uint32_t load_count;     /* handshake messages in it */
  uint8_t buf[65536];      /* opened plaintext */
} tcpu_sealed;

/* The endpoint's peer table, in struct tcpu_endpoint. */
typedef struct tcpu_peers {
  tcpu_peer **slots; /* NULL entries are free */
  uint32_t nslots, count;
  tcpu_tstamp next_expiry; /* no peer deadline before this */
  tcpu_msg msgq[TCPU_MSGQ_LEN];
  unsigned msgq_head, msgq_len;
  tcpu_sealed *sealed;
} tcpu_peers;

/* ---- peer.c */
int tcpu_peers_init(tcpu_endpoint *ep);
void tcpu_peers_free(tcpu_endpoint *ep);
/* The peer a connection address names: O(1) for TCPU_AF_PEER. */
tcpu_peer *tcpu_peers_by_conn_addr(const tcpu_endpoint *ep,
                                   const tcpu_addr *addr);
/* The first peer whose UDP endpoint is addr, or NULL. */
tcpu_peer *tcpu_peers_by_endpoint(const tcpu_endpoint *ep,
                                  const tcpu_addr *addr);
/* A receiver index of ours -> its peer, or NULL. */
tcpu_peer *tcpu_peers_by_index(const tcpu_endpoint *ep, uint32_t index);
uint32_t tcpu_peers_new_index(tcpu_endpoint *ep, tcpu_peer *p);
/* The peer's deadlines changed: keep the endpoint's minimum (it may only
 * move earlier here; handle_expiry recomputes it exactly). */
void tcpu_peers_touched(tcpu_endpoint *ep, const tcpu_peer *p);
tcpu_tstamp tcpu_peer_expiry(const tcpu_peer *p);
/* Queues a ready datagram; counts an overflow when full. */
void tcpu_peers_queue_msg(tcpu_endpoint *ep, const tcpu_addr *to,
                          const uint8_t *data, size_t len);
/* Queues a datagram to the peer's endpoint, counted in its tx_bytes. */
void tcpu_peer_queue_msg(tcpu_peer *p, const uint8_t *msg, size_t len);
/* The UDP endpoint moved to from (roaming), or was learnt. */
void tcpu_peer_learn_endpoint(tcpu_peer *p, const tcpu_addr *from);
/* 1 when from is a peer punched within TCPU_PUNCH_QUIET_NS. */
int tcpu_peer_punching(const tcpu_endpoint *ep, const tcpu_addr *from,
                       tcpu_tstamp now);
/* A plain keepalive (or punch) arrived from `from`. */
void tcpu_peer_plain_keepalive_in(tcpu_endpoint *ep, const tcpu_addr *from,
                                  size_t len, tcpu_tstamp now);
/* Runs the plain keepalive and punch deadlines that are due. */
void tcpu_peer_plain_expiry(tcpu_peer *p, tcpu_tstamp now);
/* Moves every connection of the peer to the output queue (keys arrived). */
void tcpu_peer_release_held(tcpu_peer *p);
/* Ends the peer's connections with err; only those that never sent
 * anything when unsent_only (a handshake gave up). */
void tcpu_peer_fail_conns(tcpu_peer *p, int err, int unsent_only,
                          tcpu_tstamp now);

/* ---- sealed.c */
int tcpu_sealed_init(tcpu_endpoint *ep);
void tcpu_sealed_free(tcpu_endpoint *ep);
/* A datagram from the network in sealed mode. */
void tcpu_sealed_recv(tcpu_endpoint *ep, const tcpu_addr *from,
                      const uint8_t *dgram, size_t len, tcpu_tstamp now);
/* Seals the segment at buf + TCPU_NOISE_DATA_HEADER_LEN (len bytes) in
 * place, or from the send ring where ep->splice.seg points, for the peer
 * `to` names and sets *to to its UDP endpoint.  The datagram's length, or
 * 0 when the peer has no keys yet (the caller holds the segment's
 * connection; the handshake has been asked for) or none at all (counted). */
size_t tcpu_sealed_wrap(tcpu_endpoint *ep, tcpu_addr *to, uint8_t *buf,
                        size_t len, size_t cap, tcpu_tstamp now);
/* 1 when the peer behind addr can seal now; otherwise asks for a
 * handshake and marks the peer as holding output. */
int tcpu_sealed_ready(tcpu_endpoint *ep, const tcpu_addr *addr,
                      tcpu_tstamp now);
/* Runs the peer's due sealed-mode timers. */
void tcpu_sealed_peer_expiry(tcpu_peer *p, tcpu_tstamp now);
/* Starts (or repeats) an initiation towards the peer now. */
void tcpu_sealed_initiate(tcpu_peer *p, int resend, tcpu_tstamp now);

#endif /* TCPU_CORE_PEER_H */
