/*
 * addr.h — addresses as tcpud's configuration and logs spell them.
 *
 *   HOST:PORT      host name or IPv4 literal, port 1..65535
 *   [IPV6]:PORT    IPv6 literal in brackets (a scope as [fe80::1%eth0])
 *   PORT           where the host may be left out
 *   IP/PREFIX      an address range (AllowedIPs); IP alone is a host route
 *
 * Everything here is pure parsing and formatting, except tcpud_resolve,
 * which asks the system resolver (getaddrinfo).
 */
#ifndef TCPUD_ADDR_H
#define TCPUD_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "tcpu/tcpu.h"

#define TCPUD_HOST_MAX 256 /* a DNS name is at most 253 characters */
/* "[" + 45 (INET6_ADDRSTRLEN - 1) + "%" + IFNAMSIZ + "]:65535" */
#define TCPUD_ADDRSTRLEN 80

typedef struct tcpud_hostport {
  char host[TCPUD_HOST_MAX]; /* "" when left out */
  uint16_t port;             /* 0 only where the caller allows it */
} tcpud_hostport;

typedef struct tcpud_cidr {
  uint8_t family; /* TCPU_AF_INET or TCPU_AF_INET6 */
  uint8_t prefix; /* 0..32 or 0..128 */
  uint8_t ip[16]; /* host bits cleared */
} tcpud_cidr;

/* Flags of tcpud_hostport_parse. */
enum {
  TCPUD_HP_HOST_OPTIONAL = 1, /* "PORT" alone is accepted, host "" */
  TCPUD_HP_PORT_ZERO = 2      /* port 0 is accepted */
};

/* Parses s into *hp.  Returns 0, or -1 with a reason in err. */
int tcpud_hostport_parse(tcpud_hostport *hp, const char *s, unsigned flags,
                         char *err, size_t errlen);
/* Decimal port 1..65535 (0 too with allow_zero); -1 if s is anything else. */
int tcpud_port_parse(const char *s, int allow_zero);
/* IPv4 or IPv6 literal (without brackets; a %scope allowed for IPv6) into
 * *a with port 0.  Returns 0 or -1. */
int tcpud_ip_parse(tcpu_addr *a, const char *s);
/* IP/PREFIX or IP.  Returns 0, or -1 with a reason in err. */
int tcpud_cidr_parse(tcpud_cidr *c, const char *s, char *err, size_t errlen);
/* Nonzero when a's IP lies in c (IPv4-mapped IPv6 addresses count as
 * IPv4). */
int tcpud_cidr_match(const tcpud_cidr *c, const tcpu_addr *a);

/* Turns an IPv4-mapped IPv6 address (::ffff:a.b.c.d) into IPv4. */
void tcpud_addr_unmap(tcpu_addr *a);
/* Turns IPv4 into IPv4-mapped IPv6 (for a dual-stack IPv6 socket). */
void tcpud_addr_map6(tcpu_addr *a);
/* Same IP and port, an IPv4-mapped address equal to its IPv4 form. */
int tcpud_addr_same(const tcpu_addr *a, const tcpu_addr *b);
/* Same IP, port ignored, mapped forms equal. */
int tcpud_addr_same_ip(const tcpu_addr *a, const tcpu_addr *b);
/* Nonzero for 0.0.0.0 and ::. */
int tcpud_addr_is_any(const tcpu_addr *a);

/* "192.0.2.1:7000" or "[2001:db8::1]:7000" (IPv4-mapped shown as IPv4);
 * the IP alone when with_port is 0.  A sealed-mode peer address
 * (TCPU_AF_PEER) is "key:" and the first 8 characters of its public key
 * in base64 (the daemon adds its name and endpoint where it knows them:
 * tcpud_conn_addr_format).  Returns buf. */
char *tcpud_addr_format(const tcpu_addr *a, int with_port, char *buf,
                        size_t len);
/* "host:port" with brackets around IPv6 literals; "*:port" for an empty
 * host.  Returns buf. */
char *tcpud_hostport_format(const tcpud_hostport *hp, char *buf, size_t len);

/* Resolves hp (a literal or a name, for UDP or TCP) into *a; an empty host
 * gives the wildcard of `family_hint` (TCPU_AF_INET when 0).  Prefers
 * IPv4 when a name has both unless family_hint says IPv6.  Returns 0, or
 * -1 with the resolver's reason in err. */
int tcpud_resolve(tcpu_addr *a, const tcpud_hostport *hp, int family_hint,
                  char *err, size_t errlen);

#endif /* TCPUD_ADDR_H */
