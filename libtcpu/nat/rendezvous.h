/*
 * rendezvous.h — the wire format of the rendezvous service (issue 8: NAT
 * traversal): a sans-IO codec shared by the server (rdv_server.h, `tcpu
 * rendezvous`) and the client of the libuv binding (uv/rendezvous.c).
 *
 * Two hosts behind NATs cannot reach each other until each knows the
 * address its peer's NAT shows the world, and each NAT has a mapping open
 * towards the other.  A rendezvous server with a public address tells
 * them: a client REGISTERs its name from the very socket its tunnel uses,
 * so the source address the server observes is the NAT mapping the
 * tunnel's datagrams leave through; a LOOKUP of a peer's name answers with
 * the peer's observed address and at the same moment pushes the looker's
 * address to the peer, so both sides send towards each other at once
 * (hole punching, RFC 5128 §3.3) and open TCP simultaneously (RFC 9293
 * §3.5, figure 8).
 *
 * Every message starts with a 24-byte header:
 *
 *   0   8  magic "tcpurdv1"
 *   8   1  type (below)
 *   9   7  zero
 *   16  8  transaction id, big-endian
 *
 * Rendezvous messages share the tunnel's UDP socket, so they must never
 * pass for tunnel traffic: byte 12 is zero, which as a TCP header is a
 * data offset of 0 (< 5 words: an invalid segment, RFC 9293 §3.1), and the
 * first byte 't' (0x74) is none of sealed mode's message types 1..4
 * (crypto/messages.h).  An endpoint that is not expecting them drops them
 * as malformed.
 *
 *   type            from     body after the header                 length
 *   1 REGISTER      client   name                                  128
 *   2 LOOKUP        client   self name, peer name                  256
 *   3 OBSERVED      server   the client's observed address          43
 *   4 PEER          server   peer name, peer's observed address  45..108
 *   5 NOT_FOUND     server   nothing                                24
 *
 *   name     1 byte length n (1..64), n bytes of printable ASCII without
 *            space (0x21..0x7e).  In sealed mode, by convention, the
 *            peer's static public key in base64 (44 characters).
 *   address  family 1 byte (4 or 6), UDP port 2 bytes big-endian (not 0),
 *            16 bytes IP (IPv4: 4 bytes, then 12 zero bytes).
 *
 * Requests carry a random nonzero transaction id that the server echoes;
 * a PEER the server pushes to the looked-up peer has id 0.  Requests are
 * zero-padded to fixed lengths larger than all the replies they cause
 * together (a LOOKUP causes a PEER reply and a pushed PEER: 2 x 108 <
 * 256), so a spoofed source never gets more bytes than the spoofer sent
 * (the amplification rule of RFC 8085 §3.1.3 and QUIC's RFC 9000 §8).
 * Decoding is strict: exact lengths, zero padding and reserved bytes,
 * valid names and addresses.  Anything else is malformed; one encoding
 * per message, so decode(encode(m)) == m and encode(decode(b)) == b.
 *
 * Timing (rdv_server.h, uv/rendezvous.c): a registration expires
 * TCPU_RDV_EXPIRY_NS after its last REGISTER; clients refresh every
 * TCPU_RDV_REFRESH_NS, which also keeps their NAT mapping towards the
 * server open (RFC 4787 REQ-5: at least 2 minutes, 15 s is far inside
 * it), and look up every TCPU_RDV_RETRY_NS until the peer shows up.
 */
#ifndef TCPU_NAT_RENDEZVOUS_H
#define TCPU_NAT_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

#include "tcpu/tcpu.h"

#define TCPU_RDV_MAGIC "tcpurdv1"
#define TCPU_RDV_MAGIC_LEN 8

enum {
  TCPU_RDV_HDR_LEN = 24,
  TCPU_RDV_NAME_MAX = 64,
  TCPU_RDV_ADDR_LEN = 19,
  TCPU_RDV_REGISTER_LEN = 128,
  TCPU_RDV_LOOKUP_LEN = 256,
  TCPU_RDV_OBSERVED_LEN = TCPU_RDV_HDR_LEN + TCPU_RDV_ADDR_LEN,
  TCPU_RDV_PEER_MAX = TCPU_RDV_HDR_LEN + 1 + TCPU_RDV_NAME_MAX +
                      TCPU_RDV_ADDR_LEN,
  TCPU_RDV_NOT_FOUND_LEN = TCPU_RDV_HDR_LEN,
  TCPU_RDV_MAX_LEN = TCPU_RDV_LOOKUP_LEN /* the longest message */
};

typedef enum tcpu_rdv_type {
  TCPU_RDV_REGISTER = 1,
  TCPU_RDV_LOOKUP = 2,
  TCPU_RDV_OBSERVED = 3,
  TCPU_RDV_PEER = 4,
  TCPU_RDV_NOT_FOUND = 5
} tcpu_rdv_type;

/* Registrations live 60 s after the last REGISTER; clients refresh every
 * 15 s (four chances before expiry) and retry lookups every 250 ms. */
#define TCPU_RDV_EXPIRY_NS (60 * TCPU_NS_PER_S)
#define TCPU_RDV_REFRESH_NS (15 * TCPU_NS_PER_S)
#define TCPU_RDV_RETRY_NS (250 * TCPU_NS_PER_MS)

/* A name: len bytes, NUL-terminated for convenience (not on the wire). */
typedef struct tcpu_rdv_name {
  uint8_t len;
  char s[TCPU_RDV_NAME_MAX + 1];
} tcpu_rdv_name;

/* One message.  Which fields count depends on the type:
 *   REGISTER  txid, name (the client's own)
 *   LOOKUP    txid, name (the looker's own), peer (the one looked for)
 *   OBSERVED  txid, addr (the client's, as the server saw it)
 *   PEER      txid (0 when pushed), name (the peer's), addr (the peer's)
 *   NOT_FOUND txid */
typedef struct tcpu_rdv_msg {
  tcpu_rdv_type type;
  uint64_t txid;
  tcpu_rdv_name name;
  tcpu_rdv_name peer;
  tcpu_addr addr; /* scope_id is not carried: 0 */
} tcpu_rdv_msg;

/* Nonzero when the datagram starts like a rendezvous message (long enough
 * and the magic): what the binding diverts from the core.  Not a full
 * check: tcpu_rdv_decode decides.  Cannot fail. */
int tcpu_rdv_is_message(const uint8_t *dgram, size_t len);

/* Fills *n from a C string.  0, or TCPU_ERR_INVAL when it is not a valid
 * name (empty, longer than 64, a byte outside 0x21..0x7e). */
int tcpu_rdv_name_set(tcpu_rdv_name *n, const char *s);
/* Nonzero when a and b are the same name. */
int tcpu_rdv_name_equal(const tcpu_rdv_name *a, const tcpu_rdv_name *b);

/* Nonzero when a can travel in a message: IPv4 (the 12 spare bytes zero)
 * or IPv6, port not 0.  The scope is ignored. */
int tcpu_rdv_addr_valid(const tcpu_addr *a);

/* The encoded length of m: fixed for requests, by the name for PEER.
 * 0 for an unknown type. */
size_t tcpu_rdv_encoded_len(const tcpu_rdv_msg *m);

/* Writes m into buf.  Returns its length, TCPU_ERR_NOBUF when buflen is
 * too small, TCPU_ERR_INVAL for an invalid message (unknown type, a
 * request with txid 0, a bad name or address). */
tcpu_ssize tcpu_rdv_encode(const tcpu_rdv_msg *m, uint8_t *buf,
                           size_t buflen);

/* Reads one message.  0, or TCPU_ERR_PROTO when the datagram is not a
 * well-formed message (the server counts and drops those). */
int tcpu_rdv_decode(tcpu_rdv_msg *m, const uint8_t *dgram, size_t len);

#endif /* TCPU_NAT_RENDEZVOUS_H */
