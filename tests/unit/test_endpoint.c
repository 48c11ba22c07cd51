/*
 * test_endpoint.c — two endpoints wired back to back in virtual time:
 * open, transfer both ways, close; refused, timed out and reset
 * connections; the events an application sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/endpoint.h"

typedef struct pair {
  tcpu_endpoint *a, *b;
  tcpu_addr addr_a, addr_b;
  tcpu_tstamp now;
  int drop_all; /* the wire loses everything */
  unsigned loss_permille; /* a->b datagrams lost, from a fixed LCG */
  uint32_t lcg;
  unsigned accepts, connects, closes;
  int last_err;
} pair;

static int on_accept(tcpu_conn *l, void *ud) {
  (void)l;
  ((pair *)ud)->accepts++;
  return 0;
}
static int on_connected(tcpu_conn *c, void *ud) {
  (void)c;
  ((pair *)ud)->connects++;
  return 0;
}
static int on_closed(tcpu_conn *c, int err, void *ud) {
  (void)c;
  ((pair *)ud)->closes++;
  ((pair *)ud)->last_err = err;
  return 0;
}

static void pair_init(pair *p, const tcpu_settings *base) {
  memset(p, 0, sizeof *p);
  tcpu_settings s;
  if (base)
    s = *base;
  else
    tcpu_settings_default(&s);
  memset(s.secret, 7, sizeof s.secret);
  tcpu_callbacks cb = {.accept = on_accept,
                       .connected = on_connected,
                       .closed = on_closed};
  p->now = 1000 * TCPU_NS_PER_S;
  assert_int_equal(tcpu_endpoint_new(&p->a, &s, &cb, p, p->now), 0);
  s.secret[0] = 9;
  assert_int_equal(tcpu_endpoint_new(&p->b, &s, &cb, p, p->now), 0);
  tcpu_addr_ipv4(&p->addr_a, (const uint8_t[]){10, 0, 0, 1}, 9000);
  tcpu_addr_ipv4(&p->addr_b, (const uint8_t[]){10, 0, 0, 2}, 9000);
}

static void pair_free(pair *p) {
  tcpu_endpoint_del(p->a);
  tcpu_endpoint_del(p->b);
}

/* Moves every due datagram across (instant wire); returns how many. */
static int pump_once(pair *p) {
  uint8_t buf[2048];
  tcpu_addr to;
  int moved = 0;
  tcpu_ssize n;
  while ((n = tcpu_endpoint_send(p->a, &to, buf, sizeof buf, p->now)) > 0) {
    moved++;
    p->lcg = p->lcg * 1103515245u + 12345u;
    if (p->loss_permille && (p->lcg >> 16) % 1000 < p->loss_permille)
      continue;
    if (!p->drop_all)
      assert_int_equal(tcpu_endpoint_recv(p->b, &p->addr_a, buf, (size_t)n,
                                          p->now), 0);
  }
  assert_true(n >= 0);
  while ((n = tcpu_endpoint_send(p->b, &to, buf, sizeof buf, p->now)) > 0) {
    moved++;
    if (!p->drop_all)
      assert_int_equal(tcpu_endpoint_recv(p->a, &p->addr_b, buf, (size_t)n,
                                          p->now), 0);
  }
  assert_true(n >= 0);
  return moved;
}

/* Runs until quiet or until `until`, firing timers on the way. */
static void run(pair *p, tcpu_tstamp until) {
  for (int steps = 0; steps < 100000; steps++) {
    if (pump_once(p) > 0)
      continue;
    tcpu_tstamp ea = tcpu_endpoint_get_expiry(p->a);
    tcpu_tstamp eb = tcpu_endpoint_get_expiry(p->b);
    tcpu_tstamp e = ea < eb ? ea : eb;
    if (e == TCPU_TSTAMP_NONE || e > until)
      return;
    if (e > p->now)
      p->now = e;
    tcpu_endpoint_handle_expiry(p->a, p->now);
    tcpu_endpoint_handle_expiry(p->b, p->now);
  }
  fail_msg("no quiescence after 100000 steps");
}

static void open_pair(pair *p, tcpu_conn **cl, tcpu_conn **sv) {
  tcpu_conn *l;
  assert_int_equal(tcpu_listen(p->b, 80, 8, &l, p->now), 0);
  assert_int_equal(tcpu_connect(p->a, &p->addr_b, 0, 80, cl, p->now), 0);
  assert_int_equal(tcpu_conn_state(*cl), TCPU_SYN_SENT);
  run(p, p->now + TCPU_NS_PER_S);
  assert_int_equal(tcpu_conn_state(*cl), TCPU_ESTABLISHED);
  assert_int_equal(tcpu_accept(l, sv), 0);
  assert_int_equal(tcpu_conn_state(*sv), TCPU_ESTABLISHED);
  assert_int_equal(tcpu_accept(l, sv + 1), TCPU_ERR_AGAIN);
  tcpu_conn_close(l, p->now);
}

static void test_endpoint_connect_transfer_close_clean(void **state) {
  (void)state;
  pair p;
  pair_init(&p, NULL);
  tcpu_conn *cl, *sv[2];
  open_pair(&p, &cl, sv);
  assert_int_equal(p.accepts, 1);
  assert_int_equal(p.connects, 1);

  static uint8_t out[300000], in[300000];
  for (size_t i = 0; i < sizeof out; i++)
    out[i] = (uint8_t)(i * 7 + (i >> 9));
  size_t sent = 0, got = 0;
  for (int round = 0; round < 10000 && got < sizeof out; round++) {
    if (sent < sizeof out) {
      tcpu_ssize n = tcpu_conn_write(cl, out + sent, sizeof out - sent, p.now);
      if (n > 0)
        sent += (size_t)n;
    }
    run(&p, p.now + TCPU_NS_PER_MS);
    tcpu_ssize r;
    while ((r = tcpu_conn_read(sv[0], in + got, sizeof in - got, p.now)) > 0)
      got += (size_t)r;
    p.now += TCPU_NS_PER_MS;
  }
  assert_int_equal(got, sizeof out);
  assert_memory_equal(in, out, sizeof out);

  assert_int_equal(tcpu_conn_shutdown(cl, p.now), 0);
  run(&p, p.now + TCPU_NS_PER_S);
  assert_int_equal(tcpu_conn_state(cl), TCPU_FIN_WAIT_2);
  assert_int_equal(tcpu_conn_state(sv[0]), TCPU_CLOSE_WAIT);
  uint8_t b;
  assert_int_equal(tcpu_conn_read(sv[0], &b, 1, p.now), 0);
  tcpu_conn_close(sv[0], p.now);
  run(&p, p.now + TCPU_NS_PER_S);
  assert_int_equal(tcpu_conn_state(cl), TCPU_TIME_WAIT);
  run(&p, p.now + 61 * TCPU_NS_PER_S);
  assert_int_equal(tcpu_conn_state(cl), TCPU_CLOSED);
  assert_int_equal(tcpu_conn_error(cl), 0);
  tcpu_conn_close(cl, p.now);
  pair_free(&p);
}

static void transfer(pair *p, tcpu_conn *from, tcpu_conn *to, size_t total) {
  static uint8_t out[1 << 20], in[1 << 20];
  assert_true(total <= sizeof out);
  for (size_t i = 0; i < total; i++)
    out[i] = (uint8_t)(i * 13 + (i >> 11));
  size_t sent = 0, got = 0;
  for (int round = 0; round < 200000 && got < total; round++) {
    if (sent < total) {
      tcpu_ssize n = tcpu_conn_write(from, out + sent, total - sent, p->now);
      if (n > 0)
        sent += (size_t)n;
    }
    run(p, p->now + TCPU_NS_PER_MS);
    tcpu_ssize r;
    while ((r = tcpu_conn_read(to, in + got, total - got, p->now)) > 0)
      got += (size_t)r;
    p->now += TCPU_NS_PER_MS;
  }
  assert_int_equal(got, total);
  assert_memory_equal(in, out, total);
}

static void lossy_transfer(int sack) {
  tcpu_settings s;
  tcpu_settings_default(&s);
  s.sack = sack;
  pair p;
  pair_init(&p, &s);
  tcpu_conn *cl, *sv[2];
  open_pair(&p, &cl, sv);
  p.loss_permille = 20;
  transfer(&p, cl, sv[0], 1 << 20);
  tcpu_conn_info ci;
  tcpu_conn_get_info(cl, &ci);
  assert_true(ci.retransmits > 0);
  /* Recovery, not timeouts, repairs nearly all of it. */
  assert_true(ci.timeouts * 10 < ci.retransmits);
  assert_true(ci.fast_recoveries > 0);
  pair_free(&p);
}

static void test_endpoint_lossy_sack_fast_recovery(void **state) {
  (void)state;
  lossy_transfer(1);
}

/* RFC 6582: without SACK, duplicate ACKs and partial ACKs drive it. */
static void test_endpoint_lossy_newreno_fast_recovery(void **state) {
  (void)state;
  lossy_transfer(0);
}

/* A listener's small receive buffer reaches its connections: the peer
 * never has more in flight than the buffer, zero windows come and go. */
static void test_endpoint_small_rcvbuf_inherited_bounded(void **state) {
  (void)state;
  pair p;
  pair_init(&p, NULL);
  tcpu_conn *l, *cl, *sv;
  assert_int_equal(tcpu_listen(p.b, 80, 8, &l, p.now), 0);
  assert_int_equal(tcpu_conn_setopt(l, TCPU_OPT_RCVBUF, 4096), 0);
  assert_int_equal(tcpu_connect(p.a, &p.addr_b, 0, 80, &cl, p.now), 0);
  run(&p, p.now + TCPU_NS_PER_S);
  assert_int_equal(tcpu_accept(l, &sv), 0);
  assert_int_equal(tcpu_conn_setopt(sv, TCPU_OPT_RCVBUF, 8192),
                   TCPU_ERR_STATE);
  static uint8_t out[100000], in[100000];
  for (size_t i = 0; i < sizeof out; i++)
    out[i] = (uint8_t)(i ^ (i >> 8));
  size_t sent = 0, got = 0;
  for (int round = 0; round < 100000 && got < sizeof out; round++) {
    if (sent < sizeof out) {
      tcpu_ssize n = tcpu_conn_write(cl, out + sent, sizeof out - sent, p.now);
      if (n > 0)
        sent += (size_t)n;
    }
    run(&p, p.now + TCPU_NS_PER_MS);
    tcpu_conn_info ci;
    tcpu_conn_get_info(sv, &ci);
    assert_true(ci.rcv_buffered <= 4096);
    /* A slow reader: 100 bytes every 10 ms. */
    if (round % 10 == 0) {
      tcpu_ssize r = tcpu_conn_read(sv, in + got, 100, p.now);
      if (r > 0)
        got += (size_t)r;
    }
    p.now += TCPU_NS_PER_MS;
  }
  assert_int_equal(got, sizeof out);
  assert_memory_equal(in, out, sizeof out);
  tcpu_conn_info ci;
  tcpu_conn_get_info(cl, &ci);
  assert_int_equal(ci.timeouts, 0);
  pair_free(&p);
}

static void test_endpoint_connect_no_listener_refused(void **state) {
  (void)state;
  pair p;
  pair_init(&p, NULL);
  tcpu_conn *cl;
  assert_int_equal(tcpu_connect(p.a, &p.addr_b, 0, 81, &cl, p.now), 0);
  run(&p, p.now + TCPU_NS_PER_S);
  assert_int_equal(tcpu_conn_state(cl), TCPU_CLOSED);
  assert_int_equal(tcpu_conn_error(cl), TCPU_ERR_REFUSED);
  assert_int_equal(p.closes, 1);
  assert_int_equal(p.last_err, TCPU_ERR_REFUSED);
  uint8_t b;
  assert_int_equal(tcpu_conn_read(cl, &b, 1, p.now), TCPU_ERR_REFUSED);
  tcpu_conn_close(cl, p.now);
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(p.b, &st);
  assert_int_equal(st.drop_no_conn, 1);
  assert_int_equal(st.rst_sent, 1);
  pair_free(&p);
}

static void test_endpoint_syn_unanswered_timedout(void **state) {
  (void)state;
  tcpu_settings s;
  tcpu_settings_default(&s);
  s.syn_retries = 3;
  pair p;
  pair_init(&p, &s);
  p.drop_all = 1;
  tcpu_tstamp start = p.now;
  tcpu_conn *cl;
  assert_int_equal(tcpu_connect(p.a, &p.addr_b, 0, 80, &cl, p.now), 0);
  run(&p, p.now + 100 * TCPU_NS_PER_S);
  assert_int_equal(tcpu_conn_error(cl), TCPU_ERR_TIMEDOUT);
  /* 1 + 2 + 4 + 8 s of backoff (RFC 6298 5.5). */
  assert_int_equal(p.now - start, 15 * TCPU_NS_PER_S);
  tcpu_conn_close(cl, p.now);
  pair_free(&p);
}

static void test_endpoint_abort_peer_reset(void **state) {
  (void)state;
  pair p;
  pair_init(&p, NULL);
  tcpu_conn *cl, *sv[2];
  open_pair(&p, &cl, sv);
  tcpu_conn_abort(cl, p.now);
  run(&p, p.now + TCPU_NS_PER_S);
  assert_int_equal(tcpu_conn_state(sv[0]), TCPU_CLOSED);
  assert_int_equal(tcpu_conn_error(sv[0]), TCPU_ERR_RESET);
  assert_int_equal(tcpu_conn_write(sv[0], (const uint8_t *)"x", 1, p.now),
                   TCPU_ERR_RESET);
  tcpu_conn_close(sv[0], p.now);
  pair_free(&p);
}

static void test_endpoint_bad_datagrams_counted(void **state) {
  (void)state;
  pair p;
  pair_init(&p, NULL);
  uint8_t junk[64];
  memset(junk, 0xab, sizeof junk);
  assert_int_equal(tcpu_endpoint_recv(p.a, &p.addr_b, junk, 5, p.now), 0);
  assert_int_equal(tcpu_endpoint_recv(p.a, &p.addr_b, junk, sizeof junk,
                                      p.now), 0);
  tcpu_endpoint_stats st;
  tcpu_endpoint_get_stats(p.a, &st);
  assert_int_equal(st.dgrams_in, 2);
  assert_int_equal(st.drop_short, 1);
  assert_int_equal(st.drop_short + st.drop_bad_offset + st.drop_bad_option +
                       st.drop_bad_sack + st.drop_bad_checksum,
                   2);
  uint8_t out[2048];
  tcpu_addr to;
  assert_int_equal(tcpu_endpoint_send(p.a, &to, out, sizeof out, p.now), 0);
  pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_endpoint_connect_transfer_close_clean),
      cmocka_unit_test(test_endpoint_lossy_sack_fast_recovery),
      cmocka_unit_test(test_endpoint_lossy_newreno_fast_recovery),
      cmocka_unit_test(test_endpoint_small_rcvbuf_inherited_bounded),
      cmocka_unit_test(test_endpoint_connect_no_listener_refused),
      cmocka_unit_test(test_endpoint_syn_unanswered_timedout),
      cmocka_unit_test(test_endpoint_abort_peer_reset),
      cmocka_unit_test(test_endpoint_bad_datagrams_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
