/*
 * pcap.h — a capture of tunnelled segments that Wireshark and tshark read
 * as ordinary TCP.
 *
 * Each datagram's TCP segment is written as one packet of link type RAW
 * (101: a bare IPv4 or IPv6 packet) behind a synthetic IP header whose
 * addresses are the two UDP endpoints' IPs: the peer's, and ours — the
 * socket's bound IP, or when it is bound to any address, the source
 * address the kernel's routing picks towards that peer (looked up once per
 * peer with a connected UDP socket; 0.0.0.0 / :: if that fails).
 * The TCP ports are the tunnel's.  The inner checksum is computed over a
 * pseudo-header with zero addresses (libtcpu/core/seg.h); it is adjusted
 * to the synthetic addresses incrementally (RFC 1624), so a segment whose
 * checksum was right is right in the capture and a corrupt one stays
 * exactly as wrong.  IPv4-mapped addresses are written as IPv4; when one
 * side is IPv4 and the other IPv6, the IPv4 side is written mapped.
 *
 * Two peers behind one NAT address that happen to use the same TCP ports
 * show as one flow: the UDP ports that tell them apart have no place in
 * a TCP/IP header.
 */
#ifndef TCPUD_PCAP_H
#define TCPUD_PCAP_H

#include <stddef.h>
#include <stdint.h>

#include "tcpu/tcpu.h"

#define TCPUD_PCAP_LINKTYPE_RAW 101

/* Why --pcap fails where the libuv binding has no datagram tap (no
 * TCPU_UV_HAVE_TAP in tcpu_uv.h). */
#define TCPUD_NO_TAP_MESSAGE                                                   \
  "this build's libuv binding shows no datagrams to a capture "                \
  "(tcpu_uv_endpoint_set_tap)"
#define TCPUD_PCAP_SNAPLEN 65575 /* a 65535-byte segment behind IPv6 */

typedef struct tcpud_pcap tcpud_pcap;

/* Creates (truncates) path and writes the file header.  Returns 0, or -1
 * with errno set. */
int tcpud_pcap_open(tcpud_pcap **pp, const char *path);
/* Flushes and closes; NULL is fine. */
void tcpud_pcap_close(tcpud_pcap *p);
/* Pushes buffered records to the file. */
void tcpud_pcap_flush(tcpud_pcap *p);

/* Records one datagram, stamped with the wall-clock time: outgoing (sent
 * by us to peer) or incoming.  `local` is our bound address (IP any when
 * unknown).  Datagrams shorter than a TCP header are skipped; write errors
 * are counted, not reported. */
void tcpud_pcap_write(tcpud_pcap *p, int outgoing, const tcpu_addr *local,
                      const tcpu_addr *peer, const uint8_t *seg, size_t len);
uint64_t tcpud_pcap_packets(const tcpud_pcap *p);
uint64_t tcpud_pcap_errors(const tcpud_pcap *p);

/* Builds the synthetic packet for seg from src to dst into out: the IP
 * header, then seg with its checksum adjusted.  Returns the packet's
 * length, or 0 when out is too small, seg is shorter than 20 bytes or
 * the packet would exceed 65535 bytes of IPv4. */
size_t tcpud_pcap_frame(uint8_t *out, size_t outlen, const tcpu_addr *src,
                        const tcpu_addr *dst, const uint8_t *seg, size_t len);

#endif /* TCPUD_PCAP_H */
