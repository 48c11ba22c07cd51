/*
 * fuzz_rendezvous.c — the rendezvous codec and server (libtcpu/nat/)
 * against arbitrary datagrams.
 *
 * 1. The whole input as one datagram: decoding never reads past it (the
 *    sanitizers watch), and what it accepts re-encodes to the very same
 *    bytes (one encoding per message, rendezvous.h).
 * 2. The input as a conversation with a fresh server: records of
 *      source (1 byte: one of 4 addresses), time step (1 byte, x 100 ms),
 *      length (2 bytes, big-endian), datagram (that many bytes, or the rest)
 *    Every answer must decode, be a server-to-client type, and the answers
 *    to one datagram together must not be longer than it (no
 *    amplification); an OBSERVED must name the source it goes to, the
 *    last answer goes to the source, a PEER's address must be a
 *    registered one.  Any disagreement aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "nat/rdv_server.h"
#include "nat/rendezvous.h"

static void check(int ok) {
  if (!ok)
    abort();
}

static void fixed_rng(void *ctx, void *buf, size_t len) {
  (void)ctx;
  memset(buf, 0x5a, len);
}

static void whole_datagram(const uint8_t *data, size_t size) {
  uint8_t enc[TCPU_RDV_MAX_LEN];
  tcpu_rdv_msg m;
  tcpu_ssize n;

  if (tcpu_rdv_decode(&m, data, size) != 0)
    return;
  check(tcpu_rdv_is_message(data, size));
  check(tcpu_rdv_encoded_len(&m) == size);
  n = tcpu_rdv_encode(&m, enc, sizeof(enc));
  check(n > 0 && (size_t)n == size && memcmp(enc, data, size) == 0);
}

static tcpu_addr source(uint8_t k) {
  static const uint8_t ips[4][4] = {
      {192, 0, 2, 1}, {192, 0, 2, 2}, {198, 51, 100, 1}, {203, 0, 113, 9}};
  tcpu_addr a;

  memset(&a, 0, sizeof(a));
  if ((k & 3) == 3) {
    a.family = TCPU_AF_INET6;
    a.ip[0] = 0x20;
    a.ip[1] = 0x01;
    a.ip[15] = k;
  } else {
    tcpu_addr_ipv4(&a, ips[k & 3], 0);
  }
  a.port = (uint16_t)(1000 + (k & 7));
  return a;
}

static void conversation(const uint8_t *data, size_t size) {
  tcpu_rdv_server s;
  tcpu_rdv_reply out[2];
  tcpu_noise_rng rng = {fixed_rng, NULL};
  tcpu_tstamp now = TCPU_NS_PER_S;
  size_t off = 0;

  if (tcpu_rdv_server_init(&s, 16, 0, 0, &rng) != 0)
    return;
  while (size - off >= 4) {
    tcpu_addr from = source(data[off]);
    size_t len = (size_t)data[off + 2] << 8 | data[off + 3];
    size_t sum = 0;
    int k;

    now += (tcpu_duration)data[off + 1] * 100 * TCPU_NS_PER_MS;
    off += 4;
    if (len > size - off)
      len = size - off;
    /* The local address each arrived at: the source byte's top bit
     * chooses between none and one of the server's addresses. */
    tcpu_addr local = source((uint8_t)(data[off - 4] >> 1));
    k = data[off - 4] & 0x80
            ? tcpu_rdv_server_recv_at(&s, &from, &local, data + off, len,
                                      out, now)
            : tcpu_rdv_server_recv(&s, &from, data + off, len, out, now);
    check(k >= 0 && k <= 2);
    for (int i = 0; i < k; i++) {
      tcpu_rdv_msg m;
      check(tcpu_rdv_decode(&m, out[i].buf, out[i].len) == 0);
      check(m.type == TCPU_RDV_OBSERVED || m.type == TCPU_RDV_PEER ||
            m.type == TCPU_RDV_NOT_FOUND);
      check(i < k - 1 || tcpu_addr_equal(&out[i].to, &from));
      /* The answer leaves from where the request came, portless. */
      if (i == k - 1 && (data[off - 4] & 0x80))
        check(out[i].from.family == local.family && out[i].from.port == 0 &&
              memcmp(out[i].from.ip, local.ip, 16) == 0);
      else if (i == k - 1)
        check(out[i].from.family == 0);
      if (m.type == TCPU_RDV_OBSERVED)
        check(tcpu_addr_equal(&m.addr, &from));
      if (m.type == TCPU_RDV_PEER) {
        const tcpu_rdv_entry *e = tcpu_rdv_server_find(&s, &m.name, now);
        check(e != NULL && tcpu_addr_equal(&e->addr, &m.addr));
      }
      sum += out[i].len;
    }
    check(sum <= len);
    off += len;
  }
  check(tcpu_rdv_server_count(&s, now) <= s.nslots);
  tcpu_rdv_server_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65535) /* one UDP datagram */
    return 0;
  whole_datagram(data, size);
  conversation(data, size);
  return 0;
}
