/*
 * test_io_linux.c — the binding's batched datagram engine (uv/io_linux.c)
 * over real loopback sockets: every datagram arrives once, whole and in
 * order, whatever the batching (sendmmsg/recvmmsg or one call each), with
 * and without GSO/GRO, across runs of mixed sizes and destinations, and
 * when the kernel refuses GSO.  Bursts stay far below the default socket
 * buffer (208 KiB), so no test depends on net.core.rmem_max.  No test
 * measures time; each loop run is bounded by a 5 s guard timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "uv/io.h"

#define GUARD_MS 5000

typedef struct sink {
  tcpu_io io;
  uint32_t next[2]; /* next sequence number expected per sender tag */
  uint64_t got, bad, batches;
} sink;

static uv_loop_t loop;
static uv_timer_t guard;
static int guard_fired;
static uint64_t want_total;
static sink *sinks[2];

/* Datagram i: [tag][seq 4 bytes][bytes that depend on both]. */
static void fill(uint8_t *p, size_t len, uint8_t tag, uint32_t seq) {
  p[0] = tag;
  memcpy(p + 1, &seq, 4);
  for (size_t i = 5; i < len; i++)
    p[i] = (uint8_t)(seq * 31u + i + tag);
}

static int check(const uint8_t *p, size_t len, uint8_t *tag, uint32_t *seq) {
  if (len < 5)
    return 0;
  *tag = p[0];
  memcpy(seq, p + 1, 4);
  for (size_t i = 5; i < len; i++)
    if (p[i] != (uint8_t)(*seq * 31u + i + *tag))
      return 0;
  return 1;
}

/* Sizes repeat in a pattern that makes runs: five full datagrams, a short
 * one, two tiny ones, ... */
static int tiny; /* every datagram 40 bytes */

static size_t size_of(uint32_t seq) {
  static const size_t pattern[] = {1200, 1200, 1200, 1200, 1200, 700,
                                   40,   40,   1200, 1200, 999,  1200};
  return tiny ? 40 : pattern[seq % (sizeof(pattern) / sizeof(pattern[0]))];
}

static void on_recv(tcpu_io *io, const tcpu_addr *from, const uint8_t *data,
                    size_t len, tcpu_tstamp now) {
  sink *s = io->data;
  uint8_t tag;
  uint32_t seq;

  (void)from;
  (void)now;
  /* Out of order, duplicated or damaged is bad; a gap (a drop by a full
   * receive buffer) is counted in `got` falling short. */
  if (!check(data, len, &tag, &seq) || tag > 1 || seq < s->next[tag] ||
      len != size_of(seq)) {
    s->bad++;
    return;
  }
  s->next[tag] = seq + 1;
  s->got++;
  uint64_t all = sinks[0]->got + (sinks[1] ? sinks[1]->got : 0);
  if (all == want_total)
    uv_stop(&loop);
}

static void on_batch(tcpu_io *io) {
  sink *s = io->data;
  s->batches++;
}

static void on_guard(uv_timer_t *t) {
  (void)t;
  guard_fired = 1;
  uv_stop(&loop);
}

static void open_sink(sink *s, unsigned flags) {
  struct sockaddr_in sin;
  memset(s, 0, sizeof(*s));
  uv_ip4_addr("127.0.0.1", 0, &sin);
  assert_int_equal(tcpu_io_init(&loop, &s->io, (struct sockaddr *)&sin, 1472,
                                flags, on_recv, on_batch, NULL),
                   0);
  s->io.data = s;
}

static void run_until(uint64_t ms) {
  guard_fired = 0;
  uv_timer_start(&guard, on_guard, ms, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_timer_stop(&guard);
}

static void run_until_received(void) {
  run_until(GUARD_MS);
  assert_false(guard_fired);
}

static void close_all(tcpu_io **ios, int n) {
  for (int i = 0; i < n; i++)
    tcpu_io_close(ios[i], NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
}

static int setup(void **state) {
  (void)state;
  tiny = 0;
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &guard);
  return 0;
}

static void close_left(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* A failed assertion leaves handles open: close whatever is left. */
static int teardown(void **state) {
  (void)state;
  uv_walk(&loop, close_left, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? 0 : -1;
}

/* Sends `rounds` bursts of `burst` datagrams from tx; in each burst
 * datagram k goes to sinks[k % ndst]. */
static sink rx[2]; /* static: teardown closes them after a failure */
static tcpu_io tx;

static void transfer(unsigned tx_flags, unsigned rx_flags, int ndst, int rounds,
                     int burst) {
  tcpu_addr dst[2];
  struct sockaddr_in sin;
  uint32_t seq[2] = {0, 0};

  uv_ip4_addr("127.0.0.1", 0, &sin);
  assert_int_equal(tcpu_io_init(&loop, &tx, (struct sockaddr *)&sin, 1472,
                                tx_flags, on_recv, NULL, NULL),
                   0);
  sinks[1] = NULL;
  for (int d = 0; d < ndst; d++) {
    open_sink(&rx[d], rx_flags);
    sinks[d] = &rx[d];
    assert_int_equal(tcpu_io_local_addr(&rx[d].io, &dst[d]), 0);
  }
  for (int r = 0; r < rounds; r++) {
    want_total = 0;
    for (int d = 0; d < ndst; d++)
      want_total += rx[d].got;
    for (int k = 0; k < burst; k++) {
      int d = ndst == 1 ? 0 : (k / 3) % 2; /* alternate every 3 datagrams */
      size_t len = size_of(seq[d]);
      uint8_t *p = tcpu_io_next_buf(&tx);
      assert_non_null(p);
      fill(p, len, (uint8_t)d, seq[d]++);
      tcpu_io_commit(&tx, &dst[d], len);
    }
    assert_int_equal(tcpu_io_flush(&tx), 0);
    want_total += (uint64_t)burst;
    run_until_received();
  }
  for (int d = 0; d < ndst; d++) {
    assert_int_equal(rx[d].bad, 0);
    assert_int_equal(rx[d].io.stats.recv_errors, 0);
  }
  assert_int_equal(tx.stats.dgrams_sent, (uint64_t)rounds * (uint64_t)burst);
  assert_int_equal(tx.stats.send_errors, 0);
  if (tx.gso && !(tx_flags & TCPU_IO_NO_GSO))
    assert_true(tx.stats.gso_sends > 0);
  if (tx_flags & TCPU_IO_NO_GSO)
    assert_int_equal(tx.stats.gso_sends, 0);
  if (!(tx_flags & TCPU_IO_NO_MMSG) && tx.gso)
    assert_true(tx.stats.send_calls < tx.stats.dgrams_sent);
  tcpu_io *all[3] = {&tx, &rx[0].io, &rx[1].io};
  close_all(all, 1 + ndst);
}

/* --------------------------------------------------------------- tests */

static void test_io_default_all_arrive_in_order(void **state) {
  (void)state;
  transfer(0, 0, 1, 20, 60);
}

static void test_io_no_gso_all_arrive_in_order(void **state) {
  (void)state;
  transfer(TCPU_IO_NO_GSO, 0, 1, 20, 60);
}

static void test_io_gso_without_gro_receiver_splits_in_kernel(void **state) {
  (void)state;
  transfer(0, TCPU_IO_NO_GRO, 1, 20, 60);
}

static void test_io_one_syscall_per_dgram_all_arrive(void **state) {
  (void)state;
  transfer(TCPU_IO_NO_MMSG | TCPU_IO_NO_GSO, TCPU_IO_NO_MMSG | TCPU_IO_NO_GRO,
           1, 10, 40);
}

static void test_io_two_destinations_runs_split(void **state) {
  (void)state;
  transfer(0, 0, 2, 10, 60);
}

/* Many small datagrams: the queue's datagram limit, not its byte limit,
 * forces a flush in the middle of a burst.  A burst this long may overflow
 * a small receive buffer, so only what the engine accounts for is exact;
 * what arrives must be intact and in order. */
static void test_io_queue_limit_flushes_midway(void **state) {
  sink *r = &rx[0];
  tcpu_addr dst;
  struct sockaddr_in sin;
  const uint32_t total = TCPU_IO_SEND_MAX + 300;

  (void)state;
  uv_ip4_addr("127.0.0.1", 0, &sin);
  assert_int_equal(tcpu_io_init(&loop, &tx, (struct sockaddr *)&sin, 1472, 0,
                                on_recv, NULL, NULL),
                   0);
  open_sink(r, 0);
  sinks[0] = r;
  sinks[1] = NULL;
  assert_int_equal(tcpu_io_local_addr(&r->io, &dst), 0);
  tiny = 1;
  want_total = total;
  for (uint32_t k = 0; k < total; k++) {
    uint8_t *p = tcpu_io_next_buf(&tx);
    assert_non_null(p);
    fill(p, size_of(k), 0, k);
    tcpu_io_commit(&tx, &dst, size_of(k));
    if (k + 1 == TCPU_IO_SEND_MAX) {
      assert_int_equal(tx.stats.dgrams_sent, TCPU_IO_SEND_MAX);
      assert_int_equal(tx.ndgrams, 0);
    }
  }
  assert_int_equal(tcpu_io_flush(&tx), 0);
  assert_int_equal(tx.stats.dgrams_sent, total);
  assert_int_equal(tx.stats.send_errors, 0);
  run_until(1000);
  tiny = 0;
  assert_true(r->got > 0);
  assert_int_equal(r->bad, 0);
  tcpu_io *all[2] = {&tx, &r->io};
  close_all(all, 2);
}

/* SO_NO_CHECK makes Linux refuse GSO with EINVAL: the engine switches GSO
 * off and resends the run one datagram at a time, losing nothing. */
static void test_io_gso_refused_falls_back_without_loss(void **state) {
  sink *r = &rx[0];
  tcpu_addr dst;
  struct sockaddr_in sin;
  int one = 1;

  (void)state;
  uv_ip4_addr("127.0.0.1", 0, &sin);
  assert_int_equal(tcpu_io_init(&loop, &tx, (struct sockaddr *)&sin, 1472, 0,
                                on_recv, NULL, NULL),
                   0);
  if (!tx.gso) {
    tcpu_io *all[1] = {&tx};
    close_all(all, 1);
    skip(); /* no GSO in this build or kernel: nothing to fall back from */
  }
  assert_int_equal(
      setsockopt(tx.fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)), 0);
  open_sink(r, 0);
  sinks[0] = r;
  sinks[1] = NULL;
  assert_int_equal(tcpu_io_local_addr(&r->io, &dst), 0);
  want_total = 48;
  for (uint32_t k = 0; k < 48; k++) {
    uint8_t *p = tcpu_io_next_buf(&tx);
    size_t len = size_of(k);
    fill(p, len, 0, k);
    tcpu_io_commit(&tx, &dst, len);
  }
  assert_int_equal(tcpu_io_flush(&tx), 0);
  run_until_received();
  assert_false(tx.gso);
  assert_int_equal(tx.stats.gso_sends, 0);
  assert_int_equal(tx.stats.send_errors, 0);
  assert_int_equal(r->got, 48);
  assert_int_equal(r->bad, 0);
  tcpu_io *all[2] = {&tx, &r->io};
  close_all(all, 2);
}

/* A datagram longer than the receiver's slot is counted, not delivered. */
static void test_io_oversized_datagram_counted_as_error(void **state) {
  sink *r = &rx[0];
  tcpu_addr dst;
  struct sockaddr_storage ss;
  static uint8_t big[4000];

  (void)state;
  open_sink(r, TCPU_IO_NO_GRO);
  sinks[0] = r;
  sinks[1] = NULL;
  assert_int_equal(tcpu_io_local_addr(&r->io, &dst), 0);
  socklen_t salen = tcpu_io_addr_to_sockaddr(&ss, &dst);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  fill(big, sizeof(big), 0, 0);
  assert_int_equal(
      sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&ss, salen),
      (ssize_t)sizeof(big));
  /* then a good one, which stops the loop */
  fill(big, size_of(0), 0, 0);
  assert_int_equal(
      sendto(fd, big, size_of(0), 0, (struct sockaddr *)&ss, salen),
      (ssize_t)size_of(0));
  want_total = 1;
  run_until_received();
  assert_int_equal(r->io.stats.recv_errors, 1);
  assert_int_equal(r->got, 1);
  close(fd);
  tcpu_io *all[1] = {&r->io};
  close_all(all, 1);
}

/* IPv6 (::1) with GSO and GRO, on a v6-only socket. */
static void test_io_ipv6_loopback_all_arrive(void **state) {
  sink *r = &rx[0];
  struct sockaddr_in6 sin6;
  tcpu_addr dst;

  (void)state;
  uv_ip6_addr("::1", 0, &sin6);
  if (tcpu_io_init(&loop, &tx, (struct sockaddr *)&sin6, 1452, TCPU_IO_V6ONLY,
                   on_recv, NULL, NULL) != 0)
    skip(); /* no IPv6 loopback here */
  memset(r, 0, sizeof(*r));
  assert_int_equal(tcpu_io_init(&loop, &r->io, (struct sockaddr *)&sin6, 1452,
                                TCPU_IO_V6ONLY, on_recv, on_batch, NULL),
                   0);
  r->io.data = r;
  sinks[0] = r;
  sinks[1] = NULL;
  assert_int_equal(tcpu_io_local_addr(&r->io, &dst), 0);
  assert_int_equal(dst.family, TCPU_AF_INET6);
  want_total = 60;
  for (uint32_t k = 0; k < 60; k++) {
    uint8_t *p = tcpu_io_next_buf(&tx);
    assert_non_null(p);
    fill(p, size_of(k), 0, k);
    tcpu_io_commit(&tx, &dst, size_of(k));
  }
  assert_int_equal(tcpu_io_flush(&tx), 0);
  run_until_received();
  assert_int_equal(r->got, 60);
  assert_int_equal(r->bad, 0);
  assert_int_equal(tx.stats.send_errors, 0);
  tcpu_io *all[2] = {&tx, &r->io};
  close_all(all, 2);
}

/* An IPv4 destination through a v6-only socket is refused by the kernel:
 * counted as a send error (a lost datagram), the queue moves on. */
static void test_io_refused_destination_dropped_and_counted(void **state) {
  sink *r = &rx[0];
  struct sockaddr_in6 sin6;
  tcpu_addr v4dst, v6dst;
  const uint8_t lo[4] = {127, 0, 0, 1};

  (void)state;
  uv_ip6_addr("::1", 0, &sin6);
  if (tcpu_io_init(&loop, &tx, (struct sockaddr *)&sin6, 1452, TCPU_IO_V6ONLY,
                   on_recv, NULL, NULL) != 0)
    skip();
  memset(r, 0, sizeof(*r));
  assert_int_equal(tcpu_io_init(&loop, &r->io, (struct sockaddr *)&sin6, 1452,
                                TCPU_IO_V6ONLY, on_recv, NULL, NULL),
                   0);
  r->io.data = r;
  sinks[0] = r;
  sinks[1] = NULL;
  assert_int_equal(tcpu_io_local_addr(&r->io, &v6dst), 0);
  tcpu_addr_ipv4(&v4dst, lo, v6dst.port);
  /* seq 0-1 to the unreachable IPv4 address, 2-3 to the sink: the sink
   * sees 2 and 3 (gaps are allowed, order is checked) */
  for (uint32_t k = 0; k < 4; k++) {
    uint8_t *p = tcpu_io_next_buf(&tx);
    fill(p, size_of(k), 0, k);
    tcpu_io_commit(&tx, k < 2 ? &v4dst : &v6dst, size_of(k));
  }
  assert_int_equal(tcpu_io_flush(&tx), 0);
  want_total = 2;
  run_until_received();
  assert_int_equal(tx.stats.send_errors, 2);
  assert_int_equal(tx.stats.dgrams_sent, 2);
  assert_true(tx.stats.last_error < 0);
  assert_int_equal(r->bad, 0);
  tcpu_io *all[2] = {&tx, &r->io};
  close_all(all, 2);
}

static void test_io_init_rejects_bad_arguments(void **state) {
  tcpu_io io;
  struct sockaddr_in sin;
  struct sockaddr sa;

  (void)state;
  uv_ip4_addr("127.0.0.1", 0, &sin);
  assert_int_equal(tcpu_io_init(&loop, &io, (struct sockaddr *)&sin, 1472, 0,
                                NULL, NULL, NULL),
                   TCPU_ERR_INVAL);
  assert_int_equal(tcpu_io_init(&loop, &io, (struct sockaddr *)&sin, 0, 0,
                                on_recv, NULL, NULL),
                   TCPU_ERR_INVAL);
  memset(&sa, 0, sizeof(sa));
  sa.sa_family = AF_UNIX;
  assert_int_equal(tcpu_io_init(&loop, &io, &sa, 1472, 0, on_recv, NULL, NULL),
                   UV_EAFNOSUPPORT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_io_default_all_arrive_in_order,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_io_no_gso_all_arrive_in_order, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_io_gso_without_gro_receiver_splits_in_kernel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_io_one_syscall_per_dgram_all_arrive,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_io_two_destinations_runs_split,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_io_queue_limit_flushes_midway, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_io_gso_refused_falls_back_without_loss, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_io_oversized_datagram_counted_as_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_io_ipv6_loopback_all_arrive, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_io_refused_destination_dropped_and_counted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_io_init_rejects_bad_arguments, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
