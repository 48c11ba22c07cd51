/*
 * fuzz_envelope.c — a sealed-mode endpoint (core/sealed.c) against
 * arbitrary datagrams from several sources: the envelope's dispatch, the
 * peer and index tables, the cookie and rate-limit path, and the
 * demultiplexer behind them.
 *
 * Input: records [source 1][length 2 BE][bytes], fed in order to endpoint
 * B, which lists peer A (whose endpoint is source 0) and listens on port
 * 80; virtual time moves 10 ms a record.  The first byte of the input also
 * picks handshake_load (0 puts B under load from the first message, so
 * cookie replies are exercised).  After each record B's output is drained.
 * Properties (DESIGN §6), any violation aborts:
 *   - B sends only to addresses that sent to it;
 *   - to each address B never sends more bytes than it received from it
 *     (no amplification: unauthenticated sources get at most a cookie
 *     reply, smaller than its cause; a valid initiation a smaller
 *     response);
 *   - B's counters account for every datagram it was fed.
 *
 * Seeds (corpus/envelope/) hold a valid initiation from A, written by this
 * file built with FUZZ_ENVELOPE_WRITE_SEEDS:
 *   cc -DFUZZ_ENVELOPE_WRITE_SEEDS -Ilibtcpu -Ilibtcpu/include \
 *      tests/fuzz/fuzz_envelope.c build/libtcpu/libtcpu.a -lsodium -lm \
 *      -o gen && ./gen tests/fuzz/corpus/envelope
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tcpu/tcpu.h"

#define NSRC 4
#define WALL ((uint64_t)1700000000 * TCPU_NS_PER_S)

static const uint8_t priv_a[TCPU_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t priv_b[TCPU_KEY_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static void check(int ok) {
  if (!ok)
    abort();
}

static void source(tcpu_addr *a, unsigned i) {
  memset(a, 0, sizeof *a);
  a->family = i == 3 ? TCPU_AF_INET6 : TCPU_AF_INET;
  a->ip[0] = 192;
  a->ip[1] = 0;
  a->ip[2] = 2;
  a->ip[3] = (uint8_t)(10 + i);
  a->port = (uint16_t)(5000 + i);
}

static tcpu_endpoint *sealed_endpoint(const uint8_t *priv, uint32_t load) {
  tcpu_settings s;
  tcpu_endpoint *ep = NULL;
  tcpu_settings_default(&s);
  s.mode = TCPU_MODE_SEALED;
  s.wall_clock_offset = WALL;
  s.handshake_load = load;
  memset(s.secret, 7, sizeof s.secret);
  memcpy(s.private_key, priv, TCPU_KEY_LEN);
  check(tcpu_endpoint_new(&ep, &s, NULL, NULL, TCPU_NS_PER_S) == 0);
  return ep;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t pub_a[TCPU_KEY_LEN], out[2048];
  uint64_t rx[NSRC] = {0}, tx[NSRC] = {0};
  tcpu_addr src[NSRC];
  tcpu_tstamp now = TCPU_NS_PER_S;
  tcpu_conn *l;
  uint64_t fed = 0;

  if (size < 1)
    return 0;
  check(tcpu_public_key(pub_a, priv_a) == 0);
  tcpu_endpoint *b = sealed_endpoint(priv_b, data[0] == 0 ? 0 : 64);
  for (unsigned i = 0; i < NSRC; i++)
    source(&src[i], i);
  check(tcpu_peer_add(b, pub_a, NULL, &src[0], NULL, now) == 0);
  check(tcpu_listen(b, 80, 16, &l, now) == 0);
  size_t off = 1;
  while (off + 3 <= size) {
    unsigned who = data[off] % NSRC;
    size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
    off += 3;
    if (len > size - off)
      len = size - off;
    now += 10 * TCPU_NS_PER_MS;
    check(tcpu_endpoint_recv(b, &src[who], data + off, len, now) == 0);
    rx[who] += len;
    fed++;
    off += len;
    check(tcpu_endpoint_handle_expiry(b, now) == 0);
    tcpu_addr to;
    tcpu_ssize n;
    for (int k = 0; k < 256; k++) {
      n = tcpu_endpoint_send(b, &to, out, sizeof out, now);
      check(n >= 0);
      if (n == 0)
        break;
      unsigned j = 0;
      while (j < NSRC && !tcpu_addr_equal(&to, &src[j]))
        j++;
      check(j < NSRC);
      tx[j] += (uint64_t)n;
      check(tx[j] <= rx[j]);
    }
  }
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(b, &st);
  check(st.dgrams_in == fed);
  check(st.handshakes_done == 0); /* nobody answers B's response */
  tcpu_endpoint_del(b);
  return 0;
}

#ifdef FUZZ_ENVELOPE_WRITE_SEEDS
/* A's initiation towards B, as one record from source 0, with and without
 * load; and a mangled copy. */
static void write_seed(const char *dir, const char *name, uint8_t load,
                       const uint8_t *msg, size_t len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  uint8_t hdr[4] = {load, 0, (uint8_t)(len >> 8), (uint8_t)len};
  fwrite(hdr, 1, sizeof hdr, f);
  fwrite(msg, 1, len, f);
  fclose(f);
}

int main(int argc, char **argv) {
  uint8_t pub_b[TCPU_KEY_LEN], msg[2048];
  tcpu_addr b_addr, to;
  tcpu_peer *p;
  tcpu_conn *c;
  if (argc != 2)
    return 2;
  check(tcpu_public_key(pub_b, priv_b) == 0);
  tcpu_endpoint *a = sealed_endpoint(priv_a, 64);
  source(&b_addr, 1);
  check(tcpu_peer_add(a, pub_b, NULL, &b_addr, &p, TCPU_NS_PER_S) == 0);
  tcpu_addr pa;
  tcpu_peer_addr(p, &pa);
  check(tcpu_connect(a, &pa, 0, 80, &c, TCPU_NS_PER_S) == 0);
  tcpu_ssize n = tcpu_endpoint_send(a, &to, msg, sizeof msg, TCPU_NS_PER_S);
  check(n == 148);
  write_seed(argv[1], "initiation", 1, msg, (size_t)n);
  write_seed(argv[1], "initiation-under-load", 0, msg, (size_t)n);
  msg[0] = 4;
  write_seed(argv[1], "initiation-as-transport", 1, msg, (size_t)n);
  tcpu_endpoint_del(a);
  return 0;
}
#endif
