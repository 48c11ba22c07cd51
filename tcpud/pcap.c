/*
 * pcap.c — synthetic IP framing of tunnelled segments into a pcap file;
 * see pcap.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcpud/addr.h"
#include "tcpud/pcap.h"

#define ROUTE_CACHE 8

struct tcpud_pcap {
  FILE *f;
  uint16_t ip_id;
  uint64_t packets, errors;
  struct {
    tcpu_addr peer, src;
  } route[ROUTE_CACHE]; /* our source address towards recent peers */
  unsigned n_route, next_route;
  uint8_t frame[TCPUD_PCAP_SNAPLEN];
};

static void be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* Ones' complement sum of 16-bit big-endian words, not yet folded. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2)
    sum += (uint32_t)p[i] << 8 | p[i + 1];
  if (n & 1)
    sum += (uint32_t)p[n - 1] << 8;
  return sum;
}

static uint16_t fold(uint32_t sum) {
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

size_t tcpud_pcap_frame(uint8_t *out, size_t outlen, const tcpu_addr *src_in,
                        const tcpu_addr *dst_in, const uint8_t *seg,
                        size_t len) {
  tcpu_addr src = *src_in, dst = *dst_in;
  size_t iplen, alen;
  uint8_t *tcp;
  uint32_t s;
  uint16_t csum;

  if (len < 20)
    return 0;
  tcpud_addr_unmap(&src);
  tcpud_addr_unmap(&dst);
  if (src.family != dst.family) {
    tcpud_addr_map6(&src);
    tcpud_addr_map6(&dst);
  }
  if (src.family == TCPU_AF_INET) {
    iplen = 20;
    alen = 4;
    if (len > 65535 - iplen)
      return 0;
  } else if (src.family == TCPU_AF_INET6) {
    iplen = 40;
    alen = 16;
    if (len > 65535)
      return 0;
  } else {
    return 0;
  }
  if (outlen < iplen + len)
    return 0;
  memset(out, 0, iplen);
  if (iplen == 20) {
    out[0] = 0x45;
    be16(out + 2, (uint16_t)(iplen + len));
    out[6] = 0x40; /* DF: the tunnel never fragments a segment */
    out[8] = 64;
    out[9] = 6;
    memcpy(out + 12, src.ip, 4);
    memcpy(out + 16, dst.ip, 4);
    be16(out + 10, (uint16_t)~fold(sum16(out, 20, 0)));
  } else {
    out[0] = 0x60;
    be16(out + 4, (uint16_t)len);
    out[6] = 6;
    out[7] = 64;
    memcpy(out + 8, src.ip, 16);
    memcpy(out + 24, dst.ip, 16);
  }
  tcp = out + iplen;
  memcpy(tcp, seg, len);
  /* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').  The old addresses m were
   * zero (~0 adds nothing in ones' complement), m' are the real ones. */
  s = sum16(src.ip, alen, 0);
  s = sum16(dst.ip, alen, s);
  csum = (uint16_t)(tcp[16] << 8 | tcp[17]);
  s += (uint16_t)~csum;
  csum = (uint16_t)~fold(s);
  be16(tcp + 16, csum);
  return iplen + len;
}

int tcpud_pcap_open(tcpud_pcap **pp, const char *path) {
  tcpud_pcap *p = calloc(1, sizeof(*p));
  uint8_t hdr[24];
  uint32_t magic = 0xa1b2c3d4, snap = TCPUD_PCAP_SNAPLEN,
           link = TCPUD_PCAP_LINKTYPE_RAW;
  uint16_t major = 2, minor = 4;

  if (p == NULL)
    return -1;
  p->f = fopen(path, "wb");
  if (p->f == NULL) {
    int e = errno;
    free(p);
    errno = e;
    return -1;
  }
  setvbuf(p->f, NULL, _IOFBF, 1 << 16);
  /* Host byte order, as libpcap writes it; readers detect it from magic. */
  memset(hdr, 0, sizeof(hdr));
  memcpy(hdr, &magic, 4);
  memcpy(hdr + 4, &major, 2);
  memcpy(hdr + 6, &minor, 2);
  memcpy(hdr + 16, &snap, 4);
  memcpy(hdr + 20, &link, 4);
  if (fwrite(hdr, 1, sizeof(hdr), p->f) != sizeof(hdr) || fflush(p->f) != 0) {
    int e = errno;
    fclose(p->f);
    free(p);
    errno = e;
    return -1;
  }
  *pp = p;
  return 0;
}

/* The source address the kernel would use towards peer (routing only; a
 * UDP connect sends nothing).  *src keeps the any address on failure. */
static void route_source(const tcpu_addr *peer_in, tcpu_addr *src) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  tcpu_addr peer = *peer_in;
  int fd;

  tcpud_addr_unmap(&peer);
  memset(&ss, 0, sizeof(ss));
  if (peer.family == TCPU_AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(peer.port ? peer.port : 9);
    memcpy(&sin->sin_addr, peer.ip, 4);
    len = sizeof(*sin);
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(peer.port ? peer.port : 9);
    memcpy(&sin6->sin6_addr, peer.ip, 16);
    sin6->sin6_scope_id = peer.scope_id;
    len = sizeof(*sin6);
  }
  fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (connect(fd, (struct sockaddr *)&ss, len) == 0 &&
      getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
    memset(src, 0, sizeof(*src));
    if (ss.ss_family == AF_INET) {
      src->family = TCPU_AF_INET;
      memcpy(src->ip, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else {
      src->family = TCPU_AF_INET6;
      memcpy(src->ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    }
  }
  close(fd);
}

static tcpu_addr local_for(tcpud_pcap *p, const tcpu_addr *local,
                           const tcpu_addr *peer) {
  tcpu_addr src = *local;

  if (!tcpud_addr_is_any(local))
    return src;
  for (unsigned i = 0; i < p->n_route; i++)
    if (tcpud_addr_same_ip(&p->route[i].peer, peer))
      return p->route[i].src;
  route_source(peer, &src);
  p->route[p->next_route].peer = *peer;
  p->route[p->next_route].src = src;
  p->next_route = (p->next_route + 1) % ROUTE_CACHE;
  if (p->n_route < ROUTE_CACHE)
    p->n_route++;
  return src;
}

void tcpud_pcap_write(tcpud_pcap *p, int outgoing, const tcpu_addr *local,
                      const tcpu_addr *peer, const uint8_t *seg, size_t len) {
  struct timespec ts;
  uint32_t rec[4];
  tcpu_addr me;
  size_t n;

  if (p == NULL || len < 20)
    return;
  me = local_for(p, local, peer);
  n = outgoing
          ? tcpud_pcap_frame(p->frame, sizeof(p->frame), &me, peer, seg, len)
          : tcpud_pcap_frame(p->frame, sizeof(p->frame), peer, &me, seg, len);
  if (n == 0) {
    p->errors++;
    return;
  }
  if (p->frame[0] == 0x45) {
    /* A running IP ID, then the header checksum again. */
    be16(p->frame + 4, p->ip_id++);
    p->frame[10] = p->frame[11] = 0;
    be16(p->frame + 10, (uint16_t)~fold(sum16(p->frame, 20, 0)));
  }
  clock_gettime(CLOCK_REALTIME, &ts);
  rec[0] = (uint32_t)ts.tv_sec;
  rec[1] = (uint32_t)(ts.tv_nsec / 1000);
  rec[2] = rec[3] = (uint32_t)n;
  if (fwrite(rec, 1, sizeof(rec), p->f) != sizeof(rec) ||
      fwrite(p->frame, 1, n, p->f) != n) {
    p->errors++;
    return;
  }
  p->packets++;
}

void tcpud_pcap_flush(tcpud_pcap *p) {
  if (p != NULL && fflush(p->f) != 0)
    p->errors++;
}

void tcpud_pcap_close(tcpud_pcap *p) {
  if (p == NULL)
    return;
  fclose(p->f);
  free(p);
}

uint64_t tcpud_pcap_packets(const tcpud_pcap *p) { return p ? p->packets : 0; }
uint64_t tcpud_pcap_errors(const tcpud_pcap *p) { return p ? p->errors : 0; }
