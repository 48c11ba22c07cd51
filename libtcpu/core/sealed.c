/*
 * sealed.c — sealed mode's envelope (DESIGN §3, §6): every datagram is a
 * WireGuard-style message; segments travel only inside transport messages
 * of an authenticated session, so no off-path attacker can inject, reset
 * or even read a TCP header.
 *
 * Rules kept here (WireGuard whitepaper §5.4, DESIGN §6):
 *   - nothing unauthenticated gets an answer, except a cookie reply to a
 *     handshake message with a valid mac1 while under load — 64 bytes for
 *     a 148- or 92-byte message, so no reply is larger than its cause;
 *   - handshake messages pass mac1 (cookie.h), then the per-source rate
 *     limit, before any Diffie-Hellman;
 *   - a peer's UDP endpoint follows its last authenticated datagram
 *     (roaming); connections are keyed by the peer, not the address;
 *   - a connection whose peer has no session does not produce segments:
 *     its output is held, a handshake is asked for, and the held
 *     connections go to the output queue the moment the session exists,
 *     so a cold connect costs one round trip more than plain mode.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/endpoint.h"
#include "core/peer.h"
#include "core/seg.h"

#define RATELIMIT_SLOTS 4096

int tcpu_sealed_init(tcpu_endpoint *ep) {
  tcpu_sealed *sd = calloc(1, sizeof *sd);
  uint8_t zero[TCPU_KEY_LEN] = {0};
  int rv = TCPU_ERR_INVAL;

  if (sd == NULL)
    return TCPU_ERR_NOMEM;
  /* A missing key is a configuration error, not a key. */
  if (sodium_memcmp(ep->s.private_key, zero, sizeof zero) == 0 ||
      tcpu_noise_identity_init(&sd->id, ep->s.private_key,
                               (tcpu_noise_cipher)ep->s.cipher, NULL) != 0)
    goto fail;
  rv = TCPU_ERR_NOMEM;
  if (tcpu_ratelimit_init(&sd->ratelimit, RATELIMIT_SLOTS, 0, 0, NULL) != 0)
    goto fail_id;
  sd->isize = 64;
  sd->itab = calloc(sd->isize, sizeof *sd->itab);
  if (sd->itab == NULL)
    goto fail_rl;
  /* The identity holds the key now, in locked memory. */
  sodium_memzero(ep->s.private_key, sizeof ep->s.private_key);
  ep->peers.sealed = sd;
  return 0;
fail_rl:
  tcpu_ratelimit_free(&sd->ratelimit);
fail_id:
  tcpu_noise_identity_free(&sd->id);
fail:
  free(sd);
  return rv;
}

void tcpu_sealed_free(tcpu_endpoint *ep) {
  tcpu_sealed *sd = ep->peers.sealed;
  tcpu_noise_identity_free(&sd->id);
  tcpu_ratelimit_free(&sd->ratelimit);
  free(sd->itab);
  sodium_memzero(sd->buf, sizeof sd->buf);
  free(sd);
  ep->peers.sealed = NULL;
}

/* ------------------------------------------------------------------ input */

/* WireGuard judges load by its handshake queue; here, by the handshake
 * messages of the current second. */
static int under_load(tcpu_endpoint *ep, tcpu_tstamp now) {
  tcpu_sealed *sd = ep->peers.sealed;
  if (now - sd->load_window >= TCPU_NS_PER_S || now < sd->load_window) {
    sd->load_window = now;
    sd->load_count = 0;
  }
  sd->load_count++;
  return sd->load_count > ep->s.handshake_load;
}

typedef struct lookup_ctx {
  tcpu_endpoint *ep;
  const tcpu_addr *from;
  tcpu_tstamp now;
  int refused_tie;
} lookup_ctx;

/* Simultaneous initiation (both peers dial at once, as hole punching
 * makes them): each initiation would replace the other side's handshake
 * and neither response would match, costing REKEY_TIMEOUT.  The side with
 * the larger public key keeps its own initiation and ignores the peer's;
 * the other answers it.  One round trip, whatever the timing.  Only when
 * the peer's initiation comes from where ours went: from elsewhere, the
 * peer has moved and ours is lost on the way to its old address — then
 * it must be answered, or a roaming peer could never get back in. */
static tcpu_noise_peer *lookup(void *ctx, const uint8_t rs[TCPU_KEY_LEN]) {
  lookup_ctx *lc = ctx;
  tcpu_peer *p = tcpu_peer_find(lc->ep, rs);
  if (p == NULL)
    return NULL;
  const tcpu_noise_peer *np = &p->noise;
  if (np->hs_state == TCPU_NOISE_HS_CREATED_INITIATION &&
      np->last_sent_handshake != TCPU_TSTAMP_NONE &&
      lc->now - np->last_sent_handshake < TCPU_NOISE_REKEY_TIMEOUT_NS &&
      tcpu_addr_equal(lc->from, &p->endpoint) &&
      memcmp(lc->ep->peers.sealed->id.pub, rs, TCPU_KEY_LEN) > 0) {
    lc->refused_tie = 1;
    return NULL;
  }
  return &p->noise;
}

/* A session became usable to send: held output may go. */
static void session_established(tcpu_peer *p, tcpu_tstamp now) {
  p->ep->st.handshakes_done++;
  p->handshakes++;
  p->last_handshake = now;
  p->t_punch = TCPU_TSTAMP_NONE;
  p->have_initiation = 0;
  if (p->held) {
    /* Their first segment confirms the keys: the keepalive an initiator's
     * timers ask for at once would only go just before it. */
    tcpu_peer_release_held(p);
    p->noise.t_send_keepalive = TCPU_TSTAMP_NONE;
  } else
    tcpu_sealed_peer_expiry(p, now); /* or the keepalive the timers ask */
}

/* An initiation that failed: was it a listed peer speaking the other
 * cipher?  Both ends must agree (DESIGN §6), and "handshake failed" alone
 * leaves an operator guessing, so the failure is retried on copies — the
 * real peer and identity stay untouched — under the other cipher.  Costs
 * one more DH, only for messages that passed mac1 and the rate limit. */
typedef struct diag_ctx {
  tcpu_endpoint *ep;
  tcpu_noise_identity *id;
  tcpu_noise_peer tmp;
  tcpu_peer *found;
} diag_ctx;

static tcpu_noise_peer *diag_lookup(void *ctx,
                                    const uint8_t rs[TCPU_KEY_LEN]) {
  diag_ctx *dc = ctx;
  dc->found = tcpu_peer_find(dc->ep, rs);
  if (dc->found == NULL)
    return NULL;
  dc->tmp = dc->found->noise;
  dc->tmp.local = dc->id;
  dc->tmp.index_dropped = NULL;
  memset(dc->tmp.latest_timestamp, 0, sizeof dc->tmp.latest_timestamp);
  dc->tmp.last_initiation_consumed = TCPU_TSTAMP_NONE;
  return &dc->tmp;
}

static void diagnose_cipher(tcpu_endpoint *ep, const uint8_t *msg,
                            size_t len, tcpu_tstamp now) {
  tcpu_noise_cipher other = ep->peers.sealed->id.cipher ==
                                    TCPU_NOISE_CHACHAPOLY
                                ? TCPU_NOISE_AESGCM
                                : TCPU_NOISE_CHACHAPOLY;
  if (!tcpu_noise_cipher_available(other))
    return;
  size_t size = sizeof(diag_ctx) + sizeof(tcpu_noise_identity);
  diag_ctx *dc = malloc(size);
  if (dc == NULL)
    return;
  (void)sodium_mlock(dc, size); /* copies of keys: best effort */
  dc->ep = ep;
  dc->id = (tcpu_noise_identity *)(dc + 1);
  *dc->id = ep->peers.sealed->id;
  dc->id->cipher = other;
  dc->found = NULL;
  tcpu_noise_peer *np;
  if (tcpu_noise_consume_initiation(dc->id, msg, len, diag_lookup, dc, &np,
                                    now) == 0) {
    dc->found->cipher_mismatches++;
    ep->st.cipher_mismatches++;
  }
  if (sodium_munlock(dc, size) != 0) /* wipes as it unlocks */
    sodium_memzero(dc, size);
  free(dc);
}

static void handshake_in(tcpu_endpoint *ep, const tcpu_addr *from,
                         const uint8_t *msg, size_t len, int type,
                         tcpu_tstamp now) {
  tcpu_sealed *sd = ep->peers.sealed;
  tcpu_peer *p = NULL;
  uint8_t out[TCPU_NOISE_RESPONSE_LEN];
  uint32_t index;

  if (type == TCPU_NOISE_MSG_RESPONSE) {
    /* A cheap filter before the cookie logic: it answers one of ours. */
    if (tcpu_noise_msg_receiver_index(msg, len, &index) != 0 ||
        (p = tcpu_peers_by_index(ep, index)) == NULL ||
        p->noise.hs_state != TCPU_NOISE_HS_CREATED_INITIATION ||
        p->noise.hs_local_index != index) {
      ep->st.handshakes_failed++;
      return;
    }
  }
  switch (tcpu_cookie_validate(&sd->id.cookies, msg, len, from,
                               under_load(ep, now), now)) {
  case TCPU_COOKIE_DROP:
    ep->st.handshakes_failed++;
    return;
  case TCPU_COOKIE_SEND_REPLY: {
    if (!tcpu_ratelimit_allow(&sd->ratelimit, from, now)) {
      ep->st.handshakes_ratelimited++;
      return;
    }
    tcpu_ssize n = tcpu_cookie_create_reply(&sd->id.cookies, out, sizeof out,
                                            msg, len, from, now);
    if (n > 0) {
      tcpu_peers_queue_msg(ep, from, out, (size_t)n);
      ep->st.cookies_sent++;
    }
    return;
  }
  case TCPU_COOKIE_ACCEPT:
    break;
  }
  if (!tcpu_ratelimit_allow(&sd->ratelimit, from, now)) {
    ep->st.handshakes_ratelimited++;
    return;
  }
  if (type == TCPU_NOISE_MSG_RESPONSE) {
    if (tcpu_noise_consume_response(&p->noise, msg, len, now) != 0) {
      ep->st.handshakes_failed++;
      return;
    }
    tcpu_peer_learn_endpoint(p, from);
    p->rx_bytes += len;
    p->last_received = now;
    session_established(p, now);
    tcpu_peers_touched(ep, p);
    return;
  }
  lookup_ctx lc = {ep, from, now, 0};
  tcpu_noise_peer *np;
  if (tcpu_noise_consume_initiation(&sd->id, msg, len, lookup, &lc, &np,
                                    now) != 0) {
    if (!lc.refused_tie) {
      ep->st.handshakes_failed++;
      diagnose_cipher(ep, msg, len, now);
    }
    return;
  }
  p = np->user_data;
  tcpu_peer_learn_endpoint(p, from);
  p->rx_bytes += len;
  p->last_received = now;
  index = tcpu_peers_new_index(ep, p);
  tcpu_ssize n = index != 0 ? tcpu_noise_create_response(np, index, out,
                                                         sizeof out, now)
                            : TCPU_ERR_NOMEM;
  if (n < 0) {
    ep->st.handshakes_failed++;
  } else {
    tcpu_peer_queue_msg(p, out, (size_t)n);
  }
  tcpu_peers_touched(ep, p);
}

static void transport_in(tcpu_endpoint *ep, const tcpu_addr *from,
                         const uint8_t *msg, size_t len, tcpu_tstamp now) {
  tcpu_sealed *sd = ep->peers.sealed;
  uint32_t index;
  tcpu_peer *p;

  if (tcpu_noise_msg_receiver_index(msg, len, &index) != 0 ||
      (p = tcpu_peers_by_index(ep, index)) == NULL) {
    ep->st.auth_failures++;
    return;
  }
  int was_current = p->noise.cur.valid && p->noise.cur.local_index == index;
  tcpu_ssize n = tcpu_noise_peer_open(&p->noise, msg, len, sd->buf,
                                      sizeof sd->buf, now);
  if (n < 0) {
    if (n == TCPU_ERR_AGAIN)
      ep->st.replays_dropped++;
    else
      ep->st.auth_failures++;
    return;
  }
  tcpu_peer_learn_endpoint(p, from);
  p->rx_bytes += len;
  p->last_received = now;
  /* A responder's session is confirmed by the first message under it. */
  if (!was_current && p->noise.cur.valid && p->noise.cur.local_index == index)
    session_established(p, now);
  tcpu_peers_touched(ep, p);
  if (n == 0) {
    ep->st.keepalives_received++;
    return;
  }
  if (ep->tap) {
    /* The sender leaves the sum out (seg.h); a capture wants it. */
    if (n >= TCPU_TCP_HDR_LEN) {
      sd->buf[16] = sd->buf[17] = 0;
      uint16_t sum = tcpu_seg_checksum(sd->buf, (size_t)n);
      sd->buf[16] = (uint8_t)(sum >> 8);
      sd->buf[17] = (uint8_t)sum;
    }
    ep->tap(ep->tap_arg, 0, from, sd->buf, (size_t)n);
  }
  tcpu_endpoint_input(ep, &p->addr, sd->buf, (size_t)n, now);
}

void tcpu_sealed_recv(tcpu_endpoint *ep, const tcpu_addr *from,
                      const uint8_t *dgram, size_t len, tcpu_tstamp now) {
  uint32_t index;
  tcpu_peer *p;

  switch (tcpu_noise_msg_type(dgram, len)) {
  case TCPU_NOISE_MSG_INITIATION:
  case TCPU_NOISE_MSG_RESPONSE:
    handshake_in(ep, from, dgram, len, dgram[0], now);
    break;
  case TCPU_NOISE_MSG_COOKIE:
    if (tcpu_noise_msg_receiver_index(dgram, len, &index) == 0 &&
        (p = tcpu_peers_by_index(ep, index)) != NULL &&
        tcpu_noise_consume_cookie(&p->noise, dgram, len, now) == 0) {
      /* As WireGuard: the cookie rides on the next initiation, when the
       * retransmit timer sends it. */
      ep->st.cookies_received++;
    } else {
      ep->st.handshakes_failed++;
    }
    break;
  case TCPU_NOISE_MSG_TRANSPORT:
    transport_in(ep, from, dgram, len, now);
    break;
  default:
    ep->st.drop_not_sealed++;
    break;
  }
}

/* ----------------------------------------------------------------- output */

void tcpu_sealed_initiate(tcpu_peer *p, int resend, tcpu_tstamp now) {
  tcpu_endpoint *ep = p->ep;
  if (p->endpoint.family == 0) {
    ep->st.drop_no_session++;
    return;
  }
  int pending = p->have_initiation &&
                p->noise.hs_state == TCPU_NOISE_HS_CREATED_INITIATION;
  if (resend && pending) {
    tcpu_peer_queue_msg(p, p->initiation, sizeof p->initiation);
    return;
  }
  uint32_t index = tcpu_peers_new_index(ep, p);
  if (index == 0)
    return;
  tcpu_ssize n = tcpu_noise_create_initiation(
      &p->noise, index, now + ep->s.wall_clock_offset, p->initiation,
      sizeof p->initiation, now);
  if (n < 0) {
    tcpu_noise_peer_drop_index(&p->noise, index);
    /* Too soon after the last one (REKEY_TIMEOUT): the same copy again
     * is harmless — its timestamp is no longer fresh to the responder. */
    if (pending)
      tcpu_peer_queue_msg(p, p->initiation, sizeof p->initiation);
    return;
  }
  p->have_initiation = 1;
  ep->st.handshakes_initiated++;
  tcpu_peer_queue_msg(p, p->initiation, (size_t)n);
}

static void send_keepalive(tcpu_peer *p, tcpu_tstamp now) {
  uint8_t msg[TCPU_NOISE_DATA_OVERHEAD] = {0};
  if (p->endpoint.family == 0)
    return;
  tcpu_ssize n = tcpu_noise_peer_seal(&p->noise, msg + TCPU_NOISE_DATA_HEADER_LEN,
                                      0, msg, sizeof msg, now);
  if (n > 0) {
    tcpu_peer_queue_msg(p, msg, (size_t)n);
    p->ep->st.keepalives_sent++;
  }
}

void tcpu_sealed_peer_expiry(tcpu_peer *p, tcpu_tstamp now) {
  if (tcpu_noise_peer_get_expiry(&p->noise) > now)
    return;
  unsigned act = tcpu_noise_peer_handle_expiry(&p->noise, now);
  if (act & TCPU_NOISE_ACT_INITIATE)
    tcpu_sealed_initiate(p, 0, now);
  if (act & TCPU_NOISE_ACT_KEEPALIVE)
    send_keepalive(p, now);
  if (act & TCPU_NOISE_ACT_GAVE_UP) {
    /* REKEY_ATTEMPT_TIME without an answer: connections that never got a
     * segment out end now; the others time out by TCP's own rules. */
    p->ep->st.handshakes_failed++;
    tcpu_peer_fail_conns(p, TCPU_ERR_TIMEDOUT, 1, now);
  }
  tcpu_peers_touched(p->ep, p);
}

int tcpu_sealed_ready(tcpu_endpoint *ep, const tcpu_addr *addr,
                      tcpu_tstamp now) {
  tcpu_peer *p = tcpu_peers_by_conn_addr(ep, addr);
  if (p == NULL)
    return 1; /* tcpu_sealed_wrap drops and counts */
  if (p->endpoint.family != 0 &&
      tcpu_noise_peer_send_session(&p->noise, now) != NULL)
    return 1;
  p->held = 1;
  tcpu_noise_timers_want_handshake(&p->noise, now);
  tcpu_sealed_peer_expiry(p, now);
  return 0;
}

size_t tcpu_sealed_wrap(tcpu_endpoint *ep, tcpu_addr *to, uint8_t *buf,
                        size_t len, size_t cap, tcpu_tstamp now) {
  const uint8_t *seg = ep->splice.seg != NULL
                           ? ep->splice.seg
                           : buf + TCPU_NOISE_DATA_HEADER_LEN;
  tcpu_peer *p = tcpu_peers_by_conn_addr(ep, to);
  if (p == NULL || p->endpoint.family == 0) {
    tcpu_endpoint_unsplice(ep);
    ep->st.drop_no_session++;
    return 0;
  }
  if (ep->tap)
    ep->tap(ep->tap_arg, 1, &p->endpoint, seg, len);
  tcpu_ssize n = tcpu_noise_peer_seal(&p->noise, seg, len, buf, cap, now);
  tcpu_endpoint_unsplice(ep);
  tcpu_peers_touched(ep, p);
  if (n < 0) {
    p->held = 1;
    tcpu_sealed_peer_expiry(p, now);
    ep->st.drop_no_session++;
    return 0;
  }
  *to = p->endpoint;
  p->tx_bytes += (size_t)n;
  return (size_t)n;
}
