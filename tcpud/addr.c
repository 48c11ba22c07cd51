/*
 * addr.c — parsing and formatting of addresses; see addr.h.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "tcpud/addr.h"

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};

int tcpud_port_parse(const char *s, int allow_zero) {
  long v = 0;

  if (*s == '\0' || strlen(s) > 5)
    return -1;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    v = v * 10 + (*p - '0');
  }
  if (v > 65535 || (v == 0 && !allow_zero))
    return -1;
  return (int)v;
}

int tcpud_ip_parse(tcpu_addr *a, const char *s) {
  char buf[64];
  const char *pct;

  memset(a, 0, sizeof(*a));
  if (inet_pton(AF_INET, s, a->ip) == 1) {
    a->family = TCPU_AF_INET;
    return 0;
  }
  pct = strchr(s, '%');
  if (pct != NULL) {
    size_t n = (size_t)(pct - s);
    const char *scope = pct + 1;
    if (n >= sizeof(buf) || *scope == '\0' || strlen(scope) >= IF_NAMESIZE)
      return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET6, buf, a->ip) != 1)
      return -1;
    if (scope[strspn(scope, "0123456789")] == '\0')
      a->scope_id = (uint32_t)strtoul(scope, NULL, 10);
    else if ((a->scope_id = if_nametoindex(scope)) == 0)
      return -1;
  } else if (inet_pton(AF_INET6, s, a->ip) != 1) {
    return -1;
  }
  a->family = TCPU_AF_INET6;
  return 0;
}

int tcpud_hostport_parse(tcpud_hostport *hp, const char *s, unsigned flags,
                         char *err, size_t errlen) {
  const char *colon, *portstr;
  size_t hostlen;
  int port;

  memset(hp, 0, sizeof(*hp));
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL) {
      snprintf(err, errlen, "'%s': missing ']' after the IPv6 address", s);
      return -1;
    }
    if (close[1] != ':') {
      snprintf(err, errlen, "'%s': expected [IPV6]:PORT", s);
      return -1;
    }
    hostlen = (size_t)(close - s - 1);
    if (hostlen == 0 || hostlen >= sizeof(hp->host)) {
      snprintf(err, errlen, "'%s': bad IPv6 address", s);
      return -1;
    }
    memcpy(hp->host, s + 1, hostlen);
    hp->host[hostlen] = '\0';
    {
      tcpu_addr a;
      if (tcpud_ip_parse(&a, hp->host) != 0 || a.family != TCPU_AF_INET6) {
        snprintf(err, errlen, "'%s': '%s' is not an IPv6 address", s, hp->host);
        return -1;
      }
    }
    portstr = close + 2;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL) {
      if (!(flags & TCPUD_HP_HOST_OPTIONAL)) {
        snprintf(err, errlen, "'%s': expected HOST:PORT", s);
        return -1;
      }
      portstr = s;
    } else {
      if (strchr(s, ':') != colon) {
        snprintf(err, errlen,
                 "'%s': write IPv6 addresses in brackets: [ADDRESS]:PORT", s);
        return -1;
      }
      hostlen = (size_t)(colon - s);
      if (hostlen == 0) {
        snprintf(err, errlen, "'%s': host missing before ':'", s);
        return -1;
      }
      if (hostlen >= sizeof(hp->host)) {
        snprintf(err, errlen, "host name too long (at most %d characters)",
                 TCPUD_HOST_MAX - 1);
        return -1;
      }
      memcpy(hp->host, s, hostlen);
      hp->host[hostlen] = '\0';
      for (const char *p = hp->host; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
              *p == '_')) {
          snprintf(err, errlen, "'%s': bad character in host name", s);
          return -1;
        }
      }
      portstr = colon + 1;
    }
  }
  port = tcpud_port_parse(portstr, (flags & TCPUD_HP_PORT_ZERO) != 0);
  if (port < 0) {
    snprintf(err, errlen, "'%s': port must be a number from %d to 65535", s,
             (flags & TCPUD_HP_PORT_ZERO) ? 0 : 1);
    return -1;
  }
  hp->port = (uint16_t)port;
  return 0;
}

int tcpud_cidr_parse(tcpud_cidr *c, const char *s, char *err, size_t errlen) {
  char ip[64];
  const char *slash = strchr(s, '/');
  size_t n = slash ? (size_t)(slash - s) : strlen(s);
  tcpu_addr a;
  int maxlen, prefix;

  memset(c, 0, sizeof(*c));
  if (n >= sizeof(ip)) {
    snprintf(err, errlen, "'%s': not an address range", s);
    return -1;
  }
  memcpy(ip, s, n);
  ip[n] = '\0';
  if (strchr(ip, '%') != NULL || tcpud_ip_parse(&a, ip) != 0) {
    snprintf(err, errlen, "'%s': not an IP address or IP/PREFIX", s);
    return -1;
  }
  tcpud_addr_unmap(&a);
  maxlen = a.family == TCPU_AF_INET ? 32 : 128;
  prefix = maxlen;
  if (slash != NULL) {
    const char *p = slash + 1;
    if (*p == '\0' || strlen(p) > 3 || p[strspn(p, "0123456789")] != '\0' ||
        (prefix = atoi(p)) > maxlen) {
      snprintf(err, errlen, "'%s': prefix length must be 0 to %d", s, maxlen);
      return -1;
    }
  }
  c->family = a.family;
  c->prefix = (uint8_t)prefix;
  for (int i = 0; i < 16; i++) {
    int bits = prefix - i * 8;
    uint8_t mask = bits >= 8   ? 0xff
                   : bits <= 0 ? 0
                               : (uint8_t)(0xff << (8 - bits));
    c->ip[i] = a.ip[i] & mask;
  }
  return 0;
}

int tcpud_cidr_match(const tcpud_cidr *c, const tcpu_addr *addr) {
  tcpu_addr a = *addr;

  tcpud_addr_unmap(&a);
  if (a.family != c->family)
    return 0;
  for (int i = 0; i < 16; i++) {
    int bits = c->prefix - i * 8;
    uint8_t mask = bits >= 8   ? 0xff
                   : bits <= 0 ? 0
                               : (uint8_t)(0xff << (8 - bits));
    if ((a.ip[i] & mask) != c->ip[i])
      return 0;
  }
  return 1;
}

void tcpud_addr_unmap(tcpu_addr *a) {
  if (a->family == TCPU_AF_INET6 &&
      memcmp(a->ip, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
    uint8_t v4[4];
    memcpy(v4, a->ip + 12, 4);
    memset(a->ip, 0, sizeof(a->ip));
    memcpy(a->ip, v4, 4);
    a->family = TCPU_AF_INET;
    a->scope_id = 0;
  }
}

void tcpud_addr_map6(tcpu_addr *a) {
  if (a->family == TCPU_AF_INET) {
    uint8_t v4[4];
    memcpy(v4, a->ip, 4);
    memcpy(a->ip, v4mapped_prefix, sizeof(v4mapped_prefix));
    memcpy(a->ip + 12, v4, 4);
    a->family = TCPU_AF_INET6;
  }
}

int tcpud_addr_same_ip(const tcpu_addr *a, const tcpu_addr *b) {
  tcpu_addr x = *a, y = *b;

  tcpud_addr_unmap(&x);
  tcpud_addr_unmap(&y);
  return x.family == y.family &&
         memcmp(x.ip, y.ip, x.family == TCPU_AF_INET ? 4 : 16) == 0;
}

int tcpud_addr_same(const tcpu_addr *a, const tcpu_addr *b) {
  return a->port == b->port && tcpud_addr_same_ip(a, b);
}

int tcpud_addr_is_any(const tcpu_addr *a) {
  static const uint8_t zero[16];
  return memcmp(a->ip, zero, a->family == TCPU_AF_INET ? 4 : 16) == 0;
}

char *tcpud_addr_format(const tcpu_addr *addr, int with_port, char *buf,
                        size_t len) {
  char ip[INET6_ADDRSTRLEN];
  char scope[IF_NAMESIZE + 2] = "";
  tcpu_addr a = *addr;

  tcpud_addr_unmap(&a);
  if (a.family == TCPU_AF_INET) {
    inet_ntop(AF_INET, a.ip, ip, sizeof(ip));
    if (with_port)
      snprintf(buf, len, "%s:%u", ip, a.port);
    else
      snprintf(buf, len, "%s", ip);
  } else if (a.family == TCPU_AF_INET6) {
    inet_ntop(AF_INET6, a.ip, ip, sizeof(ip));
    if (a.scope_id != 0)
      snprintf(scope, sizeof(scope), "%%%u", (unsigned)a.scope_id);
    if (with_port)
      snprintf(buf, len, "[%s%s]:%u", ip, scope, a.port);
    else
      snprintf(buf, len, "%s%s", ip, scope);
  } else if (a.family == TCPU_AF_PEER) {
    /* A sealed-mode peer: ip holds its public key's first 16 bytes; the
     * first 8 characters of the key's base64 come from its first 6. */
    char b64[sodium_base64_ENCODED_LEN(6, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), a.ip, 6,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(buf, len, "key:%s", b64);
  } else {
    snprintf(buf, len, "?");
  }
  return buf;
}

char *tcpud_hostport_format(const tcpud_hostport *hp, char *buf, size_t len) {
  if (hp->host[0] == '\0')
    snprintf(buf, len, "*:%u", hp->port);
  else if (strchr(hp->host, ':') != NULL)
    snprintf(buf, len, "[%s]:%u", hp->host, hp->port);
  else
    snprintf(buf, len, "%s:%u", hp->host, hp->port);
  return buf;
}

int tcpud_resolve(tcpu_addr *a, const tcpud_hostport *hp, int family_hint,
                  char *err, size_t errlen) {
  struct addrinfo hints, *res = NULL, *pick = NULL;
  int rv;

  memset(a, 0, sizeof(*a));
  if (hp->host[0] == '\0') {
    a->family = family_hint == TCPU_AF_INET6 ? TCPU_AF_INET6 : TCPU_AF_INET;
    a->port = hp->port;
    return 0;
  }
  if (tcpud_ip_parse(a, hp->host) == 0) {
    a->port = hp->port;
    return 0;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = family_hint == TCPU_AF_INET    ? AF_INET
                    : family_hint == TCPU_AF_INET6 ? AF_INET6
                                                   : AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_ADDRCONFIG;
  rv = getaddrinfo(hp->host, NULL, &hints, &res);
  if (rv != 0) {
    snprintf(err, errlen, "cannot resolve '%s': %s", hp->host,
             gai_strerror(rv));
    return -1;
  }
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
    if (ai->ai_family == AF_INET6 && pick == NULL)
      pick = ai;
  }
  if (pick == NULL) {
    freeaddrinfo(res);
    snprintf(err, errlen, "cannot resolve '%s': no IPv4 or IPv6 address",
             hp->host);
    return -1;
  }
  if (pick->ai_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)pick->ai_addr;
    a->family = TCPU_AF_INET;
    memcpy(a->ip, &sin->sin_addr, 4);
  } else {
    const struct sockaddr_in6 *sin6 =
        (const struct sockaddr_in6 *)pick->ai_addr;
    a->family = TCPU_AF_INET6;
    memcpy(a->ip, &sin6->sin6_addr, 16);
    a->scope_id = sin6->sin6_scope_id;
  }
  a->port = hp->port;
  freeaddrinfo(res);
  return 0;
}
