/*
 * test_err.c — error messages and names generated from TCPU_ERR_MAP, state
 * names, and the tcpu_addr helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcpu/tcpu.h"

static const int codes[] = {
#define XX(name, code, msg) TCPU_ERR_##name,
    TCPU_ERR_MAP(XX)
#undef XX
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void test_err_every_code_distinct_message_and_name(void **state) {
  (void)state;
  for (size_t i = 0; i < NCODES; i++) {
    const char *msg = tcpu_strerror(codes[i]);
    const char *name = tcpu_err_name(codes[i]);

    assert_non_null(msg);
    assert_non_null(name);
    assert_string_not_equal(msg, "unknown error");
    assert_string_not_equal(name, "TCPU_ERR_UNKNOWN");
    assert_true(codes[i] < 0);
    for (size_t j = 0; j < i; j++) {
      assert_int_not_equal(codes[i], codes[j]);
      assert_string_not_equal(msg, tcpu_strerror(codes[j]));
      assert_string_not_equal(name, tcpu_err_name(codes[j]));
    }
  }
}

/* Names are the enum's spelling, so logs grep back to the source. */
static void test_err_name_matches_enum_spelling(void **state) {
  (void)state;
#define XX(name, code, msg)                                                  \
  assert_string_equal(tcpu_err_name(code), "TCPU_ERR_" #name);                \
  assert_string_equal(tcpu_strerror(code), msg);
  TCPU_ERR_MAP(XX)
#undef XX
  assert_string_equal(tcpu_err_name(TCPU_ERR_TIMEDOUT), "TCPU_ERR_TIMEDOUT");
  assert_string_equal(tcpu_strerror(TCPU_ERR_NOBUF), "buffer too small");
}

static void test_err_unknown_codes_generic(void **state) {
  static const int unknown[] = {0, 1, -1, -1000, -1016, -2000, 1001, 42,
                                INT32_MIN, INT32_MAX};

  (void)state;
  for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
    assert_string_equal(tcpu_strerror(unknown[i]), "unknown error");
    assert_string_equal(tcpu_err_name(unknown[i]), "TCPU_ERR_UNKNOWN");
    assert_false(tcpu_err_is_fatal(unknown[i]));
  }
}

static void test_err_fatal_set_exact(void **state) {
  (void)state;
  for (size_t i = 0; i < NCODES; i++) {
    int c = codes[i];
    int want = c == TCPU_ERR_RESET || c == TCPU_ERR_REFUSED ||
               c == TCPU_ERR_TIMEDOUT || c == TCPU_ERR_ABORTED ||
               c == TCPU_ERR_PROTO || c == TCPU_ERR_NOMEM;

    assert_int_equal(!!tcpu_err_is_fatal(c), want);
  }
}

static void test_err_state_names_distinct_unknown_outside(void **state) {
  (void)state;
  assert_string_equal(tcpu_state_name(TCPU_CLOSED), "CLOSED");
  assert_string_equal(tcpu_state_name(TCPU_ESTABLISHED), "ESTABLISHED");
  assert_string_equal(tcpu_state_name(TCPU_TIME_WAIT), "TIME_WAIT");
  for (int i = 0; i < TCPU_STATE_COUNT; i++) {
    const char *n = tcpu_state_name((tcpu_state)i);

    assert_non_null(n);
    assert_string_not_equal(n, "UNKNOWN");
    for (int j = 0; j < i; j++)
      assert_string_not_equal(n, tcpu_state_name((tcpu_state)j));
  }
  assert_string_equal(tcpu_state_name((tcpu_state)TCPU_STATE_COUNT),
                      "UNKNOWN");
  assert_string_equal(tcpu_state_name((tcpu_state)-1), "UNKNOWN");
}

static void test_err_addr_ipv4_equal(void **state) {
  static const uint8_t ip1[4] = {192, 0, 2, 1}, ip2[4] = {192, 0, 2, 2};
  tcpu_addr a, b;

  (void)state;
  memset(&a, 0xaa, sizeof(a));
  tcpu_addr_ipv4(&a, ip1, 4242);
  assert_int_equal(a.family, TCPU_AF_INET);
  assert_int_equal(a.port, 4242);
  assert_memory_equal(a.ip, ip1, 4);
  for (size_t i = 4; i < sizeof(a.ip); i++)
    assert_int_equal(a.ip[i], 0);
  assert_int_equal(a.scope_id, 0);

  tcpu_addr_ipv4(&b, ip1, 4242);
  assert_true(tcpu_addr_equal(&a, &b));
  tcpu_addr_ipv4(&b, ip1, 4243);
  assert_false(tcpu_addr_equal(&a, &b));
  tcpu_addr_ipv4(&b, ip2, 4242);
  assert_false(tcpu_addr_equal(&a, &b));
  /* Bytes beyond an IPv4 address do not take part. */
  tcpu_addr_ipv4(&b, ip1, 4242);
  b.ip[10] = 0xff;
  assert_true(tcpu_addr_equal(&a, &b));
  b.family = TCPU_AF_INET6;
  assert_false(tcpu_addr_equal(&a, &b));
}

static void test_err_addr_ipv6_scope_compared(void **state) {
  tcpu_addr a = {.family = TCPU_AF_INET6, .port = 1,
                 .ip = {0xfe, 0x80, [15] = 1}, .scope_id = 2};
  tcpu_addr b = a;

  (void)state;
  assert_true(tcpu_addr_equal(&a, &b));
  b.scope_id = 3;
  assert_false(tcpu_addr_equal(&a, &b));
  b = a;
  b.ip[15] = 2;
  assert_false(tcpu_addr_equal(&a, &b));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_err_every_code_distinct_message_and_name),
      cmocka_unit_test(test_err_name_matches_enum_spelling),
      cmocka_unit_test(test_err_unknown_codes_generic),
      cmocka_unit_test(test_err_fatal_set_exact),
      cmocka_unit_test(test_err_state_names_distinct_unknown_outside),
      cmocka_unit_test(test_err_addr_ipv4_equal),
      cmocka_unit_test(test_err_addr_ipv6_scope_compared),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
