/*
 * udp_pktinfo.h — a UDP socket that reports which local address each
 * datagram arrived at and sends from a chosen local address (IP_PKTINFO,
 * IPV6_PKTINFO; ip(7), ipv6(7)).  A server bound to a wildcard address
 * answers through it from the address it was asked at: from anything
 * else, the client (which accepts only its server's address) and its NAT
 * drop the answer.  On a dual-stack IPv6 socket IPv4 datagrams report,
 * and are sent from, plain IPv4 addresses.  Where the options do not
 * exist the local address is unknown (family 0) and the kernel picks the
 * source, as with any UDP socket.
 */
#ifndef TCPU_CLI_UDP_PKTINFO_H
#define TCPU_CLI_UDP_PKTINFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tcpu/tcpu.h"

typedef struct udp_pktinfo {
  int fd;
  int family; /* AF_INET or AF_INET6 */
} udp_pktinfo;

/* A non-blocking socket bound to addr.  0, or a negative errno. */
int udp_pktinfo_open(udp_pktinfo *u, const struct sockaddr *addr,
                     socklen_t len);
void udp_pktinfo_close(udp_pktinfo *u);

/* One waiting datagram into buf: its length (0 included), or -EAGAIN when
 * none waits, or another negative errno.  *truncated is set when it was
 * longer than cap.  from: its source (IPv4-mapped turned IPv4); local:
 * the address it was sent to, port 0, with its interface as scope when
 * it is IPv6 link-local (family 0: unknown). */
ssize_t udp_pktinfo_recv(udp_pktinfo *u, uint8_t *buf, size_t cap,
                         int *truncated, tcpu_addr *from, tcpu_addr *local);

/* Sends len bytes to `to` from the local address `from` (family 0: the
 * kernel's choice).  0, or a negative errno. */
int udp_pktinfo_send(udp_pktinfo *u, const tcpu_addr *to,
                     const tcpu_addr *from, const uint8_t *buf, size_t len);

#endif /* TCPU_CLI_UDP_PKTINFO_H */
