/*
 * test_theap.c — the endpoint's timer heap: with many connections the
 * next deadline is the earliest of all of them, every connection's timers
 * fire on time, and connections leave the heap when they end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/endpoint.h"

#define N 500

static int closed_count;
static int on_closed(tcpu_conn *c, int err, void *ud) {
  (void)ud;
  assert_int_equal(err, TCPU_ERR_TIMEDOUT);
  closed_count++;
  tcpu_conn_close(c, 0);
  return 0;
}

static void test_theap_many_syn_timeouts_in_order(void **state) {
  (void)state;
  tcpu_settings s;
  tcpu_settings_default(&s);
  s.syn_retries = 2;
  memset(s.secret, 3, sizeof s.secret);
  tcpu_callbacks cb = {.closed = on_closed};
  tcpu_endpoint *ep;
  tcpu_tstamp now = TCPU_NS_PER_S;
  assert_int_equal(tcpu_endpoint_new(&ep, &s, &cb, NULL, now), 0);
  tcpu_addr peer;
  tcpu_addr_ipv4(&peer, (const uint8_t[]){10, 0, 0, 9}, 9000);
  uint8_t buf[2048];
  tcpu_addr to;
  size_t syns = 0;
  closed_count = 0;
  /* Connections opened 1 ms apart, in reverse port order. */
  for (int i = 0; i < N; i++) {
    tcpu_conn *c;
    assert_int_equal(tcpu_connect(ep, &peer, (uint16_t)(20000 - i), 80, &c,
                                  now), 0);
    while (tcpu_endpoint_send(ep, &to, buf, sizeof buf, now) > 0)
      syns++;
    now += TCPU_NS_PER_MS;
  }
  assert_int_equal(syns, N);
  tcpu_tstamp last = 0;
  for (int steps = 0; steps < 100000; steps++) {
    tcpu_tstamp e = tcpu_endpoint_get_expiry(ep);
    if (e == TCPU_TSTAMP_NONE)
      break;
    assert_true(e >= last); /* deadlines come in order */
    last = e;
    now = e;
    assert_int_equal(tcpu_endpoint_handle_expiry(ep, now), 0);
    while (tcpu_endpoint_send(ep, &to, buf, sizeof buf, now) > 0)
      syns++;
  }
  /* 1 + syn_retries SYNs each, then TIMEDOUT; nothing left armed. */
  assert_int_equal(syns, (size_t)N * 3);
  assert_int_equal(closed_count, N);
  assert_int_equal(tcpu_endpoint_get_expiry(ep), TCPU_TSTAMP_NONE);
  /* The last connection opened at 1 s + 499 ms gives up 1 + 2 + 4 s on. */
  assert_int_equal(last, TCPU_NS_PER_S + (N - 1) * TCPU_NS_PER_MS +
                             7 * TCPU_NS_PER_S);
  tcpu_endpoint_del(ep);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_theap_many_syn_timeouts_in_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
