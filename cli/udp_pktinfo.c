/* udp_pktinfo.c — see udp_pktinfo.h. */
#include "udp_pktinfo.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "tcpu/tcpu_uv.h"
#include "tcpud/addr.h"

int udp_pktinfo_open(udp_pktinfo *u, const struct sockaddr *addr,
                     socklen_t len) {
  int on = 1, fd;

  u->fd = -1;
  u->family = addr->sa_family;
  fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
#ifdef IP_PKTINFO
  /* On an IPv6 socket too: its IPv4 datagrams then report IPv4. */
  (void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
#endif
#ifdef IPV6_RECVPKTINFO
  if (addr->sa_family == AF_INET6)
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
#endif
  (void)on;
  if (bind(fd, addr, len) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  u->fd = fd;
  return 0;
}

void udp_pktinfo_close(udp_pktinfo *u) {
  if (u->fd >= 0)
    close(u->fd);
  u->fd = -1;
}

/* ip: 4 bytes for IPv4, 16 for IPv6 (an IPv4-mapped one becomes IPv4). */
static void set_local(tcpu_addr *local, int family, const uint8_t *ip) {
  memset(local, 0, sizeof(*local));
  if (family == AF_INET) {
    tcpu_addr_ipv4(local, ip, 0);
    return;
  }
  local->family = TCPU_AF_INET6;
  memcpy(local->ip, ip, 16);
  tcpud_addr_unmap(local);
}

ssize_t udp_pktinfo_recv(udp_pktinfo *u, uint8_t *buf, size_t cap,
                         int *truncated, tcpu_addr *from, tcpu_addr *local) {
  struct sockaddr_storage ss;
  union {
    char buf[256];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {buf, cap};
  struct msghdr mh;
  ssize_t n;

  memset(&mh, 0, sizeof(mh));
  mh.msg_name = &ss;
  mh.msg_namelen = sizeof(ss);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.buf;
  mh.msg_controllen = sizeof(ctl.buf);
  memset(local, 0, sizeof(*local));
  n = recvmsg(u->fd, &mh, 0);
  if (n < 0)
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  *truncated = (mh.msg_flags & MSG_TRUNC) != 0;
  if (tcpu_uv_addr_from_sockaddr(from, (struct sockaddr *)&ss) != 0)
    memset(from, 0, sizeof(*from));
  else
    tcpud_addr_unmap(from);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
       c = CMSG_NXTHDR(&mh, c)) {
#ifdef IP_PKTINFO
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      set_local(local, AF_INET, (const uint8_t *)&pi.ipi_addr);
    }
#endif
#ifdef IPV6_PKTINFO
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
        local->family == 0) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      set_local(local, AF_INET6, (const uint8_t *)&pi.ipi6_addr);
      /* A link-local address means something only with its interface. */
      if (local->family == TCPU_AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
        local->scope_id = pi.ipi6_ifindex;
    }
#endif
  }
  return n;
}

/* mh's one control message: level, type and len bytes of data, in buf
 * (room for CMSG_SPACE(len), aligned for a cmsghdr). */
static void put_cmsg(struct msghdr *mh, char *buf, int level, int type,
                     const void *data, size_t len) {
  struct cmsghdr *c = (struct cmsghdr *)buf;

  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(c), data, len);
  mh->msg_control = buf;
  mh->msg_controllen = CMSG_SPACE(len);
}

int udp_pktinfo_send(udp_pktinfo *u, const tcpu_addr *to,
                     const tcpu_addr *from, const uint8_t *buf, size_t len) {
  struct sockaddr_storage ss;
  socklen_t sslen;
  tcpu_addr dst = *to;
  union {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {(void *)buf, len};
  struct msghdr mh;

  /* A dual-stack socket sends to IPv4 peers as ::ffff:a.b.c.d. */
  if (u->family == AF_INET6 && dst.family == TCPU_AF_INET)
    tcpud_addr_map6(&dst);
  if (tcpu_uv_addr_to_sockaddr(&ss, &sslen, &dst) != 0)
    return -EAFNOSUPPORT;
  memset(&mh, 0, sizeof(mh));
  memset(&ctl, 0, sizeof(ctl));
  mh.msg_name = &ss;
  mh.msg_namelen = sslen;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
#ifdef IP_PKTINFO
  if (from->family == TCPU_AF_INET && to->family == TCPU_AF_INET) {
    struct in_pktinfo pi;
    memset(&pi, 0, sizeof(pi));
    memcpy(&pi.ipi_spec_dst, from->ip, 4);
    put_cmsg(&mh, ctl.buf, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
  }
#endif
#ifdef IPV6_PKTINFO
  if (from->family == TCPU_AF_INET6 && to->family == TCPU_AF_INET6 &&
      u->family == AF_INET6) {
    struct in6_pktinfo pi;
    memset(&pi, 0, sizeof(pi));
    memcpy(&pi.ipi6_addr, from->ip, 16);
    pi.ipi6_ifindex = from->scope_id;
    put_cmsg(&mh, ctl.buf, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
  }
#endif
  if (sendmsg(u->fd, &mh, 0) < 0)
    return -errno;
  return 0;
}
