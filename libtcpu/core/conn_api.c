/*
 * conn_api.c — the user calls of RFC 9293 §3.10.1-3.10.6 (OPEN, SEND,
 * RECEIVE, CLOSE, ABORT, STATUS) on the connection object.
 */
#include <stdlib.h>
#include <string.h>

#include "cc/cc.h"
#include "core/endpoint.h"
#include "core/seq.h"

#define TCPU_QUICKACKS 16 /* Linux TCP_MAX_QUICKACKS */

/* RFC 7323 §5.4: a per-connection offset for TSval, keyed like the ISN
 * so it neither leaks uptime nor varies between repeated runs; a pure
 * function of the 4-tuple, so SYN cookies can use it before the
 * connection exists. */
uint32_t tcpu_ts_offset(const tcpu_endpoint *ep, const tcpu_addr *peer,
                        uint16_t lport, uint16_t rport) {
  struct {
    tcpu_addr peer;
    uint16_t lport, rport;
  } k;
  memset(&k, 0, sizeof k);
  if (peer)
    k.peer = *peer;
  k.lport = lport;
  k.rport = rport;
  return (uint32_t)tcpu_keyed_hash(ep, &k, sizeof k, 0x7323);
}

uint8_t tcpu_wscale_for(uint32_t rcvbuf) {
  uint8_t ws = 0;
  while (ws < TCPU_WSCALE_MAX && (rcvbuf >> ws) > 65535)
    ws++;
  return ws;
}

tcpu_conn *tcpu_conn_new(tcpu_endpoint *ep, const tcpu_addr *peer,
                         uint16_t lport, uint16_t rport) {
  tcpu_conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->ep = ep;
  if (peer)
    c->peer = *peer;
  c->lport = lport;
  c->rport = rport;
  c->state = TCPU_CLOSED;
  c->user_data = ep->user_data;
  c->nodelay = ep->s.nodelay;
  c->peer_mss = 536; /* RFC 9293 §3.7.1 default without the option */
  c->adv_mss = tcpu_endpoint_mss(ep, peer);
  c->snd_wscale = c->rcv_wscale = 0;
  for (int i = 0; i < TCPU_TIMER_COUNT; i++)
    c->timer[i] = TCPU_TSTAMP_NONE;
  tcpu_ring_init(&c->sndq, ep->s.sndbuf);
  tcpu_ring_init(&c->rcvq, ep->s.rcvbuf);
  tcpu_rtt_init(c);
  tcpu_rtxq_init(&c->rtxq);
  tcpu_rob_init(&c->rob);
  tcpu_rack_init(c);
  c->keepalive = ep->s.keepalive;
  c->ka_idle = ep->s.keepalive_idle;
  c->ka_intvl = ep->s.keepalive_intvl;
  c->ka_cnt = ep->s.keepalive_probes;
  c->user_timeout = ep->s.user_timeout;
  if (ep->s.window_scaling)
    c->rcv_wscale = tcpu_wscale_for(ep->s.rcvbuf);
  c->ts_offset = tcpu_ts_offset(ep, &c->peer, lport, rport);
  c->next = ep->all;
  c->prev = NULL;
  if (ep->all)
    ep->all->prev = c;
  ep->all = c;
  return c;
}

void tcpu_conn_free(tcpu_conn *c) {
  tcpu_endpoint *ep = c->ep;
  tcpu_endpoint_hash_del(ep, c);
  tcpu_theap_remove(ep, c);
  if (c->timer_dirty) { /* rare: freed before the marks were folded in */
    tcpu_conn **pp = &ep->dirty_head;
    while (*pp != c)
      pp = &(*pp)->dirty_next;
    *pp = c->dirty_next;
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    ep->all = c->next;
  if (c->next)
    c->next->prev = c->prev;
  tcpu_ring_free(&c->sndq);
  tcpu_ring_free(&c->rcvq);
  tcpu_rtxq_free(&c->rtxq);
  tcpu_rob_free(&c->rob);
  tcpu_cc_conn_stop(c);
  free(c->lst);
  free(c);
}

/* RFC 9293 §3.10.1 OPEN, active. */
int tcpu_connect(tcpu_endpoint *ep, const tcpu_addr *peer, uint16_t local_port,
                 uint16_t remote_port, tcpu_conn **pc, tcpu_tstamp now) {
  if (ep == NULL || peer == NULL || pc == NULL || remote_port == 0)
    return TCPU_ERR_INVAL;
  tcpu_addr named;
  if (ep->peers.sealed != NULL) {
    /* Sealed mode reaches peers only: by their TCPU_AF_PEER address, or
     * by the UDP endpoint one of them was added with. */
    tcpu_peer *p = peer->family == TCPU_AF_PEER
                       ? tcpu_peers_by_conn_addr(ep, peer)
                       : tcpu_peers_by_endpoint(ep, peer);
    if (p == NULL)
      return TCPU_ERR_INVAL;
    named = p->addr;
    peer = &named;
  } else if (peer->family != TCPU_AF_INET && peer->family != TCPU_AF_INET6) {
    return TCPU_ERR_INVAL;
  }
  if (local_port == 0) {
    int rv = tcpu_ephemeral_port(ep, peer, remote_port, &local_port);
    if (rv != 0)
      return rv;
  } else if (tcpu_endpoint_find(ep, peer, local_port, remote_port)) {
    return TCPU_ERR_ADDRINUSE;
  }
  const tcpu_cc_ops *cc = tcpu_cc_lookup(ep, NULL);
  if (cc == NULL)
    return TCPU_ERR_INVAL; /* tcpu_settings.cc names no algorithm */
  tcpu_conn *c = tcpu_conn_new(ep, peer, local_port, remote_port);
  if (c == NULL)
    return TCPU_ERR_NOMEM;
  if (tcpu_cc_conn_start(c, cc, now) != 0) {
    tcpu_conn_free(c);
    return TCPU_ERR_NOMEM;
  }
  if (tcpu_endpoint_hash_add(ep, c) != 0) {
    tcpu_conn_free(c);
    return TCPU_ERR_NOMEM;
  }
  c->handle_open = 1;
  c->iss = tcpu_isn(ep, peer, local_port, remote_port, now);
  c->snd_una = c->snd_nxt = c->snd_max = c->iss;
  c->snd_buf_seq = c->iss + 1;
  c->ts_ok = ep->s.timestamps;
  c->sack_ok = ep->s.sack;
  c->ws_ok = ep->s.window_scaling;
  ep->st.conns_opened++;
  tcpu_conn_set_state(c, TCPU_SYN_SENT, now);
  tcpu_conn_want_output(c);
  *pc = c;
  return 0;
}

static int conn_failed(const tcpu_conn *c) {
  return c->state == TCPU_CLOSED && c->err != 0;
}

/* RFC 9293 §3.10.2 SEND. */
tcpu_ssize tcpu_conn_write(tcpu_conn *c, const uint8_t *data, size_t len,
                           tcpu_tstamp now) {
  (void)now;
  if (c == NULL || (data == NULL && len > 0))
    return TCPU_ERR_INVAL;
  if (conn_failed(c))
    return c->err;
  switch (c->state) {
  case TCPU_SYN_SENT:
  case TCPU_SYN_RCVD:
  case TCPU_ESTABLISHED:
  case TCPU_CLOSE_WAIT:
    break;
  case TCPU_CLOSED:
  case TCPU_LISTEN:
    return TCPU_ERR_NOTCONN;
  default:
    return TCPU_ERR_PIPE;
  }
  if (c->fin_queued)
    return TCPU_ERR_PIPE;
  if (len == 0)
    return 0;
  long n = tcpu_ring_push(&c->sndq, data, len);
  if (n < 0)
    return TCPU_ERR_NOMEM;
  if (n == 0) {
    c->want_writable = 1;
    return TCPU_ERR_AGAIN;
  }
  tcpu_conn_want_output(c);
  return n;
}

/* RFC 9293 §3.10.3 RECEIVE. */
tcpu_ssize tcpu_conn_read(tcpu_conn *c, uint8_t *buf, size_t len,
                          tcpu_tstamp now) {
  if (c == NULL || (buf == NULL && len > 0))
    return TCPU_ERR_INVAL;
  if (c->state == TCPU_LISTEN)
    return TCPU_ERR_NOTCONN;
  size_t n = c->rcvq.len < len ? c->rcvq.len : len;
  if (n == 0) {
    if (conn_failed(c))
      return c->err;
    if (c->fin_rcvd)
      return 0;
    if (c->state == TCPU_CLOSED)
      return TCPU_ERR_NOTCONN;
    return TCPU_ERR_AGAIN;
  }
  (void)now;
  tcpu_ring_peek(&c->rcvq, 0, buf, n);
  tcpu_ring_drop(&c->rcvq, n);
  tcpu_conn_on_read(c);
  return (tcpu_ssize)n;
}

/* The FIN becomes part of the sequence space: RFC 9293 §3.10.4, CLOSE in
 * ESTABLISHED enters FIN-WAIT-1, in CLOSE-WAIT enters LAST-ACK, and in
 * SYN-RECEIVED with nothing written, FIN-WAIT-1 with a FIN at once;
 * otherwise the FIN waits for ESTABLISHED ("queue for processing after
 * entering ESTABLISHED state"). */
static void apply_shutdown(tcpu_conn *c, tcpu_tstamp now) {
  if (c->state == TCPU_ESTABLISHED ||
      (c->state == TCPU_SYN_RCVD && c->sndq.len == 0))
    tcpu_conn_set_state(c, TCPU_FIN_WAIT_1, now);
  else if (c->state == TCPU_CLOSE_WAIT)
    tcpu_conn_set_state(c, TCPU_LAST_ACK, now);
  else
    return;
  tcpu_conn_want_output(c);
}

int tcpu_conn_shutdown(tcpu_conn *c, tcpu_tstamp now) {
  if (c == NULL)
    return TCPU_ERR_INVAL;
  if (c->state == TCPU_LISTEN ||
      (c->state == TCPU_CLOSED && c->err == 0))
    return TCPU_ERR_NOTCONN;
  if (conn_failed(c))
    return c->err;
  if (c->fin_queued)
    return 0;
  c->fin_queued = 1;
  apply_shutdown(c, now);
  return 0;
}

void tcpu_conn_on_established(tcpu_conn *c, tcpu_tstamp now) {
  /* RFC 6298 (5.7): the timer expired awaiting the SYN's ACK and no RTT was
   * measured: data starts with an RTO of 3 s, not the backed-off one. */
  if (c->srtt == 0 && c->backoff > 0 && c->rto < 3 * TCPU_NS_PER_S)
    c->rto = 3 * TCPU_NS_PER_S;
  c->backoff = 0;
  c->rtx_count = 0;
  /* RFC 6928: an initial window of 10 segments; RFC 5681 §3.1: ssthresh
   * starts arbitrarily high. */
  c->cwnd = 10 * tcpu_conn_payload_mss(c);
  c->ssthresh = UINT32_MAX;
  c->recovery_point = c->snd_una;
  tcpu_timer_on_activity(c, now);
  c->quickacks = TCPU_QUICKACKS;
  c->snd_sml = c->snd_una;
  c->next_round_delivered = 0;
  /* One reassembly range per 1 KiB of buffer: a hole every other
   * full-sized segment still fits (memory stays bounded by the window). */
  uint32_t ranges = (uint32_t)(c->rcvq.cap / 1024);
  tcpu_rob_set_max_ranges(&c->rob, ranges > TCPU_ROB_MAX_RANGES
                                       ? ranges
                                       : TCPU_ROB_MAX_RANGES);
  /* The algorithm starts from IW10 and sets what it wants. */
  if (c->cc)
    tcpu_cc_conn_start(c, c->cc, now);
  if (c->fin_queued)
    apply_shutdown(c, now);
}

static void release(tcpu_conn *c) {
  c->handle_open = 0;
  c->events = 0;
  if (c->state == TCPU_CLOSED) {
    tcpu_endpoint_hash_del(c->ep, c);
    tcpu_endpoint_mark_dead(c->ep, c);
  }
}

static int synchronized(tcpu_state s) {
  return s >= TCPU_ESTABLISHED;
}

void tcpu_conn_close(tcpu_conn *c, tcpu_tstamp now) {
  if (c == NULL || !c->handle_open)
    return;
  if (c->lst) {
    tcpu_listen_close(c, now);
    tcpu_conn_set_state(c, TCPU_CLOSED, now);
    release(c);
    return;
  }
  /* RFC 9293 §3.10.4 / RFC 2525 §2.17: closing with unread data resets,
   * so the peer learns its data was not consumed (Linux does the same). */
  if (c->rcvq.len > 0 && synchronized(c->state) &&
      c->state != TCPU_TIME_WAIT) {
    tcpu_conn_reset(c, TCPU_ERR_ABORTED, now);
    release(c);
    return;
  }
  switch (c->state) {
  case TCPU_SYN_SENT:
    /* RFC 9293 §3.10.4: delete the TCB. */
    tcpu_conn_terminate(c, 0, now);
    break;
  case TCPU_SYN_RCVD:
  case TCPU_ESTABLISHED:
  case TCPU_CLOSE_WAIT:
    c->fin_queued = 1;
    apply_shutdown(c, now);
    break;
  case TCPU_FIN_WAIT_2:
    tcpu_timer_on_orphan(c, now);
    break;
  default:
    break;
  }
  release(c);
}

void tcpu_conn_abort(tcpu_conn *c, tcpu_tstamp now) {
  if (c == NULL || !c->handle_open)
    return;
  if (c->lst) {
    tcpu_conn_close(c, now);
    return;
  }
  if (c->state != TCPU_CLOSED)
    tcpu_conn_reset(c, TCPU_ERR_ABORTED, now);
  release(c);
}

tcpu_state tcpu_conn_state(const tcpu_conn *c) { return c->state; }
int tcpu_conn_error(const tcpu_conn *c) { return c->err; }
tcpu_endpoint *tcpu_conn_endpoint(const tcpu_conn *c) { return c->ep; }
void tcpu_conn_set_user_data(tcpu_conn *c, void *ud) { c->user_data = ud; }
void *tcpu_conn_get_user_data(const tcpu_conn *c) { return c->user_data; }

int tcpu_conn_setopt(tcpu_conn *c, tcpu_conn_opt opt, uint64_t value) {
  if (c == NULL)
    return TCPU_ERR_INVAL;
  switch (opt) {
  case TCPU_OPT_NODELAY:
    c->nodelay = value != 0;
    if (c->nodelay)
      tcpu_conn_want_output(c);
    return 0;
  case TCPU_OPT_KEEPALIVE:
    c->keepalive = value != 0;
    break;
  case TCPU_OPT_KEEPIDLE:
    if (value == 0)
      return TCPU_ERR_INVAL;
    c->ka_idle = value;
    break;
  case TCPU_OPT_KEEPINTVL:
    if (value == 0)
      return TCPU_ERR_INVAL;
    c->ka_intvl = value;
    break;
  case TCPU_OPT_KEEPCNT:
    if (value == 0 || value > 255)
      return TCPU_ERR_INVAL;
    c->ka_cnt = (uint32_t)value;
    break;
  case TCPU_OPT_USER_TIMEOUT:
    c->user_timeout = value;
    break;
  case TCPU_OPT_SNDBUF:
    if (value < 1 || value > (1u << 30) || value < c->sndq.len)
      return TCPU_ERR_INVAL;
    if (tcpu_ring_resize(&c->sndq, value) != 0)
      return TCPU_ERR_NOMEM;
    if (c->want_writable && tcpu_ring_space(&c->sndq) > 0) {
      c->want_writable = 0;
      tcpu_conn_add_event(c, TCPU_EV_WRITABLE);
    }
    return 0;
  case TCPU_OPT_RCVBUF:
    if (value < 1 || value > (1u << 30))
      return TCPU_ERR_INVAL;
    if (!(c->state == TCPU_LISTEN ||
          (c->state == TCPU_SYN_SENT && !c->syn_sent_flag)))
      return TCPU_ERR_STATE;
    tcpu_ring_resize(&c->rcvq, value);
    c->rcv_wscale = c->ep->s.window_scaling ? tcpu_wscale_for(value) : 0;
    return 0;
  default:
    return TCPU_ERR_INVAL;
  }
  tcpu_timer_on_activity(c, c->last_rcv);
  return 0;
}

void tcpu_conn_get_info(const tcpu_conn *c, tcpu_conn_info *ci) {
  memset(ci, 0, sizeof *ci);
  ci->state = c->state;
  ci->peer = c->peer;
  ci->local_port = c->lport;
  ci->remote_port = c->rport;
  ci->snd_mss = tcpu_conn_payload_mss(c);
  ci->rcv_mss = c->adv_mss;
  ci->snd_wscale = c->ws_ok ? c->snd_wscale : 0xff;
  ci->rcv_wscale = c->ws_ok ? c->rcv_wscale : 0xff;
  ci->timestamps = c->ts_ok;
  ci->sack = c->sack_ok;
  ci->srtt = c->srtt;
  ci->rttvar = c->rttvar;
  ci->rto = tcpu_rtt_rto(c);
  ci->cwnd = c->cwnd;
  ci->ssthresh = c->ssthresh;
  ci->snd_wnd = c->snd_wnd;
  ci->rcv_wnd = tcpu_conn_rcv_window(c);
  ci->bytes_sent = c->bytes_sent;
  ci->bytes_acked = c->bytes_acked;
  ci->bytes_received = c->bytes_received;
  ci->bytes_retrans = c->bytes_retrans;
  ci->segs_in = c->segs_in;
  ci->segs_out = c->segs_out;
  ci->retransmits = c->retransmits;
  ci->timeouts = c->timeouts;
  ci->unacked = c->snd_max - c->snd_una;
  ci->snd_buffered = (uint32_t)c->sndq.len;
  ci->pipe = tcpu_conn_pipe(c);
  ci->ca_state = (uint8_t)c->ca_state;
  ci->sacked_segs = c->sacked_segs;
  ci->lost_segs = c->lost_segs;
  ci->dsacks = c->dsacks;
  ci->reorder_events = c->reorder_events;
  ci->spurious_undos = c->spurious_undos;
  ci->tlp_probes = c->tlp_probes;
  ci->fast_recoveries = c->fast_recoveries;
  ci->paws_drops = c->paws_drops;
  ci->min_rtt = c->rack.min_rtt == TCPU_TSTAMP_NONE ? 0 : c->rack.min_rtt;
  ci->pacing_rate = tcpu_pacer_rate(c);
  ci->delivery_rate = c->last_delivery_rate;
  ci->delivered = c->delivered;
  ci->rcv_buffered = (uint32_t)c->rcvq.len;
}
