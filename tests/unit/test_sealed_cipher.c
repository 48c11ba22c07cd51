/*
 * test_sealed_cipher.c — both ends must use the same AEAD (DESIGN §6).  A
 * mismatch fails the handshake in silence, as any failed handshake does,
 * but the responder names the cause: its counters say that a listed peer
 * spoke the other cipher, so the daemon can log it clearly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tcpu/tcpu.h"

#define MS TCPU_NS_PER_MS

static tcpu_endpoint *make(const uint8_t *priv, tcpu_cipher cipher,
                           tcpu_tstamp now) {
  tcpu_settings s;
  tcpu_endpoint *ep;
  tcpu_settings_default(&s);
  s.mode = TCPU_MODE_SEALED;
  s.cipher = cipher;
  s.wall_clock_offset = (uint64_t)1700000000 * TCPU_NS_PER_S;
  memcpy(s.private_key, priv, TCPU_KEY_LEN);
  assert_int_equal(tcpu_endpoint_new(&ep, &s, NULL, NULL, now), 0);
  return ep;
}

/* Runs both for `ms` milliseconds of virtual time, zero latency.  Returns
 * the datagrams the responder sent. */
static uint64_t run(tcpu_endpoint *ep[2], const tcpu_addr addr[2],
                    tcpu_tstamp *now, int ms) {
  uint8_t buf[2048];
  uint64_t replies = 0;
  for (int r = 0; r < ms; r++) {
    *now += MS;
    for (int i = 0; i < 2; i++) {
      tcpu_endpoint_handle_expiry(ep[i], *now);
      tcpu_addr to;
      tcpu_ssize n;
      while ((n = tcpu_endpoint_send(ep[i], &to, buf, sizeof buf, *now)) >
             0) {
        replies += i == 1;
        tcpu_endpoint_recv(ep[!i], &addr[i], buf, (size_t)n, *now);
      }
    }
  }
  return replies;
}

static void pair_with(tcpu_cipher ca, tcpu_cipher cb, int *established,
                      tcpu_endpoint_stats *resp, tcpu_peer_info *pi,
                      uint64_t *replies) {
  uint8_t priv[2][32], pub[2][32];
  tcpu_endpoint *ep[2];
  tcpu_addr addr[2];
  tcpu_peer *peer[2];
  tcpu_tstamp now = TCPU_NS_PER_S;
  tcpu_conn *l, *c;

  for (int i = 0; i < 2; i++) {
    assert_int_equal(tcpu_keypair(priv[i], pub[i]), 0);
    memset(&addr[i], 0, sizeof addr[i]);
    addr[i].family = TCPU_AF_INET;
    addr[i].ip[0] = 10;
    addr[i].ip[3] = (uint8_t)(i + 1);
    addr[i].port = 5000;
  }
  ep[0] = make(priv[0], ca, now);
  ep[1] = make(priv[1], cb, now);
  assert_int_equal(tcpu_peer_add(ep[0], pub[1], NULL, &addr[1], &peer[0], now),
                   0);
  assert_int_equal(tcpu_peer_add(ep[1], pub[0], NULL, NULL, &peer[1], now), 0);
  assert_int_equal(tcpu_listen(ep[1], 80, 4, &l, now), 0);
  tcpu_addr a;
  tcpu_peer_addr(peer[0], &a);
  assert_int_equal(tcpu_connect(ep[0], &a, 0, 80, &c, now), 0);
  *replies = run(ep, addr, &now, 20000);
  *established = tcpu_conn_state(c) == TCPU_ESTABLISHED;
  tcpu_endpoint_get_stats(ep[1], resp);
  tcpu_peer_get_info(peer[1], pi);
  tcpu_endpoint_del(ep[0]);
  tcpu_endpoint_del(ep[1]);
}

static void test_same_cipher_connects(void **state) {
  (void)state;
  int est;
  tcpu_endpoint_stats st;
  tcpu_peer_info pi;
  uint64_t replies;
  pair_with(TCPU_CIPHER_CHACHAPOLY, TCPU_CIPHER_CHACHAPOLY, &est, &st, &pi,
            &replies);
  assert_true(est);
  assert_int_equal(st.cipher_mismatches, 0);
  if (!crypto_aead_aes256gcm_is_available()) {
    print_message("no AES-NI here: AES-256-GCM not tested\n");
    return;
  }
  pair_with(TCPU_CIPHER_AESGCM, TCPU_CIPHER_AESGCM, &est, &st, &pi, &replies);
  assert_true(est);
}

static void test_mismatch_is_silent_and_named(void **state) {
  (void)state;
  int est;
  tcpu_endpoint_stats st;
  tcpu_peer_info pi;
  uint64_t replies;
  if (!crypto_aead_aes256gcm_is_available()) {
    skip();
    return;
  }
  for (int k = 0; k < 2; k++) {
    pair_with(k ? TCPU_CIPHER_AESGCM : TCPU_CIPHER_CHACHAPOLY,
              k ? TCPU_CIPHER_CHACHAPOLY : TCPU_CIPHER_AESGCM, &est, &st, &pi,
              &replies);
    assert_false(est);
    assert_int_equal(replies, 0); /* nothing goes back */
    assert_true(st.handshakes_failed >= 2); /* first try and retries */
    assert_int_equal(st.cipher_mismatches, st.handshakes_failed);
    assert_int_equal(pi.cipher_mismatches, st.cipher_mismatches);
  }
}

static void test_unavailable_cipher_is_refused(void **state) {
  (void)state;
  uint8_t priv[32], pub[32];
  tcpu_settings s;
  tcpu_endpoint *ep = NULL;
  assert_int_equal(tcpu_keypair(priv, pub), 0);
  tcpu_settings_default(&s);
  s.mode = TCPU_MODE_SEALED;
  /* No key: a configuration error, not an all-zero key. */
  assert_int_equal(tcpu_endpoint_new(&ep, &s, NULL, NULL, 0), TCPU_ERR_INVAL);
  s.cipher = (tcpu_cipher)7;
  memcpy(s.private_key, priv, 32);
  assert_int_equal(tcpu_endpoint_new(&ep, &s, NULL, NULL, 0), TCPU_ERR_INVAL);
  s.cipher = TCPU_CIPHER_AESGCM;
  int rv = tcpu_endpoint_new(&ep, &s, NULL, NULL, 0);
  if (crypto_aead_aes256gcm_is_available()) {
    assert_int_equal(rv, 0);
    tcpu_endpoint_del(ep);
  } else {
    assert_int_equal(rv, TCPU_ERR_INVAL);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_cipher_connects),
      cmocka_unit_test(test_mismatch_is_silent_and_named),
      cmocka_unit_test(test_unavailable_cipher_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
