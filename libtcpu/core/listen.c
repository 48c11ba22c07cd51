/*
 * listen.c — passive open (RFC 9293 §3.10.7.2): the listener, its SYN
 * queue of embryonic connections and its accept queue, both bounded by
 * the backlog; what a full accept queue does (drop, or RST as Linux's
 * tcp_abort_on_overflow); and SYN cookies when the SYN queue is full.
 *
 * SYN cookies (RFC 4987 §3.6) follow Linux's layout: the ISN is
 *   H1(flow) + their ISN + (minute << 24) + ((H2(flow, minute) + mssidx)
 *   & 0xffffff)
 * so the returning ACK proves a recent SYN-ACK without any state.  With
 * timestamps, the low 6 bits of our TSval carry the window scale and
 * SACK-permitted, as Linux does; without them those are lost.
 */
#include <stdlib.h>
#include <string.h>

#include "cc/cc.h"
#include "core/endpoint.h"
#include "core/seq.h"

#define COOKIE_PERIOD_NS (64 * TCPU_NS_PER_S)
#define COOKIE_MAX_AGE 2 /* periods */
#define TS_OPT_BITS 6
#define TS_WS_NONE 0xf

static const uint16_t cookie_mss[4] = {536, 1220, 1400, 1440};

int tcpu_listen(tcpu_endpoint *ep, uint16_t port, int backlog,
                tcpu_conn **pl, tcpu_tstamp now) {
  if (ep == NULL || pl == NULL || port == 0 || backlog < 1)
    return TCPU_ERR_INVAL;
  if (tcpu_endpoint_find_listener(ep, port))
    return TCPU_ERR_ADDRINUSE;
  const tcpu_cc_ops *cc = tcpu_cc_lookup(ep, NULL);
  if (cc == NULL)
    return TCPU_ERR_INVAL; /* tcpu_settings.cc names no algorithm */
  tcpu_conn *l = tcpu_conn_new(ep, NULL, port, 0);
  if (l == NULL)
    return TCPU_ERR_NOMEM;
  l->cc = cc;
  l->lst = calloc(1, sizeof *l->lst);
  if (l->lst == NULL || tcpu_endpoint_hash_add(ep, l) != 0) {
    tcpu_conn_free(l);
    return TCPU_ERR_NOMEM;
  }
  l->lst->backlog = backlog > 65535 ? 65535 : backlog;
  l->handle_open = 1;
  tcpu_conn_set_state(l, TCPU_LISTEN, now);
  *pl = l;
  return 0;
}

int tcpu_accept(tcpu_conn *l, tcpu_conn **pc) {
  if (l == NULL || pc == NULL || l->lst == NULL)
    return TCPU_ERR_INVAL;
  tcpu_conn *c = l->lst->acc_head;
  if (c == NULL)
    return TCPU_ERR_AGAIN;
  tcpu_listen_detach(c);
  c->handle_open = 1;
  *pc = c;
  /* Events that arrived while it waited in the queue. */
  if (c->rcvq.len > 0 || c->fin_rcvd)
    tcpu_conn_add_event(c, TCPU_EV_READABLE);
  return 0;
}

void tcpu_listen_detach(tcpu_conn *child) {
  tcpu_conn *l = child->parent;
  if (l == NULL)
    return;
  tcpu_listener *q = l->lst;
  tcpu_conn **pp = child->in_accept_q ? &q->acc_head : &q->syn_head;
  tcpu_conn *prev = NULL;
  while (*pp && *pp != child) {
    prev = *pp;
    pp = &(*pp)->q_next;
  }
  if (*pp) {
    *pp = child->q_next;
    if (child->in_accept_q) {
      q->acc_count--;
      if (q->acc_tail == child)
        q->acc_tail = prev;
    } else {
      q->syn_count--;
    }
  }
  child->q_next = NULL;
  child->parent = NULL;
  child->in_accept_q = 0;
}

int tcpu_listen_established(tcpu_conn *child, tcpu_tstamp now) {
  (void)now;
  tcpu_conn *l = child->parent;
  tcpu_listener *q = l->lst;
  if (q->acc_count >= (unsigned)q->backlog) {
    child->ep->st.accept_queue_overflow++;
    return -1;
  }
  if (!child->in_accept_q) {
    tcpu_listen_detach(child);
    child->parent = l;
  }
  child->in_accept_q = 1;
  child->q_next = NULL;
  if (q->acc_tail)
    q->acc_tail->q_next = child;
  else
    q->acc_head = child;
  q->acc_tail = child;
  q->acc_count++;
  tcpu_conn_add_event(l, TCPU_EV_ACCEPT);
  return 0;
}

void tcpu_listen_close(tcpu_conn *l, tcpu_tstamp now) {
  tcpu_listener *q = l->lst;
  /* Queued connections have no owner any more: reset them. */
  while (q->syn_head)
    tcpu_conn_reset(q->syn_head, TCPU_ERR_RESET, now);
  while (q->acc_head)
    tcpu_conn_reset(q->acc_head, TCPU_ERR_RESET, now);
  tcpu_endpoint_hash_del(l->ep, l);
}

/* A child takes the listener's user data, buffer sizes and options. */
static void inherit(tcpu_conn *c, const tcpu_conn *l) {
  c->passive = 1;
  c->user_data = l->user_data;
  c->sndq.cap = l->sndq.cap;
  c->rcvq.cap = l->rcvq.cap;
  c->rcv_wscale = l->rcv_wscale;
  c->nodelay = l->nodelay;
  c->keepalive = l->keepalive;
  c->ka_idle = l->ka_idle;
  c->ka_intvl = l->ka_intvl;
  c->ka_cnt = l->ka_cnt;
  c->user_timeout = l->user_timeout;
  c->cc = l->cc;
}

/* A passive connection for the segment's 4-tuple, in the table, with the
 * listener's settings; NULL when memory runs out (the SYN is dropped, and
 * the peer retries). */
static tcpu_conn *new_child(tcpu_conn *l, const tcpu_addr *from,
                            const tcpu_seg *s) {
  tcpu_conn *c = tcpu_conn_new(l->ep, from, s->dport, s->sport);
  if (c == NULL)
    return NULL;
  if (tcpu_endpoint_hash_add(l->ep, c) != 0) {
    tcpu_conn_free(c);
    return NULL;
  }
  l->ep->st.conns_opened++;
  inherit(c, l);
  return c;
}

/* ------------------------------------------------------------ SYN cookies */

typedef struct cookie_flow {
  uint8_t ip[16];
  uint16_t uport, lport, rport, pad;
  uint32_t period;
} cookie_flow;

static uint32_t cookie_hash(const tcpu_endpoint *ep, const tcpu_addr *from,
                            const tcpu_seg *s, uint32_t period, uint32_t n) {
  cookie_flow f;
  memset(&f, 0, sizeof f);
  memcpy(f.ip, from->ip, 16);
  f.uport = from->port;
  f.lport = s->dport;
  f.rport = s->sport;
  f.period = period;
  return (uint32_t)tcpu_keyed_hash(ep, &f, sizeof f, 0xc00c1e00u + n);
}

static uint32_t cookie_make(const tcpu_endpoint *ep, const tcpu_addr *from,
                            const tcpu_seg *syn, uint32_t period,
                            uint32_t mssidx) {
  return cookie_hash(ep, from, syn, 0, 1) + syn->seq + (period << 24) +
         ((cookie_hash(ep, from, syn, period, 2) + mssidx) & 0xffffff);
}

/* Returns the MSS index, or -1 if the ACK does not carry a live cookie. */
static int cookie_check(const tcpu_endpoint *ep, const tcpu_addr *from,
                        const tcpu_seg *ack, tcpu_tstamp now) {
  uint32_t their_isn = ack->seq - 1;
  uint32_t cookie = ack->ack - 1;
  uint32_t period = (uint32_t)(now / COOKIE_PERIOD_NS);
  uint32_t v = cookie - cookie_hash(ep, from, ack, 0, 1) - their_isn;
  uint32_t made = (period - (v >> 24)) & 0xff;
  if (made > COOKIE_MAX_AGE)
    return -1;
  uint32_t p = period - made;
  uint32_t idx = (v - cookie_hash(ep, from, ack, p, 2)) & 0xffffff;
  return idx < 4 ? (int)idx : -1;
}

/* The cookie SYN-ACK's TSval on the connection's own clock (so PAWS at
 * the peer sees no jump once the connection exists), with the option
 * bits in the low 6 bits and never ahead of that clock (Linux's
 * cookie_init_timestamp). */
static uint32_t cookie_tsval(const tcpu_endpoint *ep, const tcpu_addr *from,
                             const tcpu_seg *syn, uint32_t bits,
                             tcpu_tstamp now) {
  uint32_t mask = (1u << TS_OPT_BITS) - 1;
  uint32_t clock = (uint32_t)(now / TCPU_NS_PER_MS) +
                   tcpu_ts_offset(ep, from, syn->dport, syn->sport);
  uint32_t ts = (clock & ~mask) | bits;
  if (seq_gt(ts, clock))
    ts -= 1u << TS_OPT_BITS;
  return ts;
}

static void send_cookie(tcpu_conn *l, const tcpu_addr *from,
                        const tcpu_seg *syn, tcpu_tstamp now) {
  tcpu_endpoint *ep = l->ep;
  uint32_t mssidx = 0;
  uint16_t peer_mss = syn->opt.has_mss ? syn->opt.mss : 536;
  while (mssidx < 3 && cookie_mss[mssidx + 1] <= peer_mss)
    mssidx++;
  tcpu_seg r;
  memset(&r, 0, sizeof r);
  r.sport = syn->dport;
  r.dport = syn->sport;
  r.seq = cookie_make(ep, from, syn, (uint32_t)(now / COOKIE_PERIOD_NS),
                      mssidx);
  r.ack = syn->seq + 1;
  r.flags = TH_SYN | TH_ACK;
  uint32_t rcvbuf = (uint32_t)l->rcvq.cap;
  r.wnd = (uint16_t)(rcvbuf < 65535 ? rcvbuf : 65535);
  r.opt.has_mss = 1;
  r.opt.mss = tcpu_endpoint_mss(ep, from);
  int ws = ep->s.window_scaling && syn->opt.has_wscale;
  uint8_t rcv_wscale = ws ? l->rcv_wscale : 0;
  int sack = ep->s.sack && syn->opt.sack_permitted;
  if (ep->s.timestamps && syn->opt.has_ts) {
    uint32_t bits = (ws ? (uint32_t)syn->opt.wscale & 0xf : TS_WS_NONE) |
                    (sack ? 0x10u : 0u);
    r.opt.has_ts = 1;
    r.opt.ts_val = cookie_tsval(ep, from, syn, bits, now);
    r.opt.ts_ecr = syn->opt.ts_val;
    r.opt.sack_permitted = sack;
    if (ws) {
      r.opt.has_wscale = 1;
      r.opt.wscale = rcv_wscale;
    }
  }
  ep->st.syncookies_sent++;
  tcpu_endpoint_queue_ctl(ep, from, &r);
}

/* A valid cookie ACK: build the connection the SYN would have made. */
static void cookie_accept(tcpu_conn *l, const tcpu_addr *from,
                          const tcpu_seg *s, int mssidx, tcpu_tstamp now) {
  tcpu_endpoint *ep = l->ep;
  if (l->lst->acc_count >= (unsigned)l->lst->backlog) {
    ep->st.accept_queue_overflow++;
    if (ep->s.accept_overflow == TCPU_OVERFLOW_RST)
      tcpu_endpoint_reply_rst(ep, from, s);
    return;
  }
  tcpu_conn *c = new_child(l, from, s);
  if (c == NULL)
    return;
  ep->st.syncookies_ok++;
  c->iss = s->ack - 1;
  c->irs = s->seq - 1;
  c->rcv_nxt = s->seq;
  c->last_ack_sent = s->seq;
  c->rcv_adv = c->rcv_nxt + (l->rcvq.cap < 65535 ? (uint32_t)l->rcvq.cap
                                                 : 65535);
  c->snd_una = c->snd_nxt = c->snd_max = s->ack;
  c->snd_buf_seq = s->ack;
  c->peer_mss = cookie_mss[mssidx];
  c->ts_ok = ep->s.timestamps && s->opt.has_ts;
  c->ws_ok = 0;
  c->sack_ok = 0;
  if (c->ts_ok) {
    uint32_t bits = s->opt.ts_ecr & ((1u << TS_OPT_BITS) - 1);
    c->ts_recent = s->opt.ts_val;
    /* Continue the clock from the cookie's TSval, one tick on: the option
     * bits made it up to 127 ticks early, and jumping ahead would run the
     * clock faster than RFC 7323 §5.4 allows. */
    c->ts_offset = s->opt.ts_ecr + 1 - (uint32_t)(now / TCPU_NS_PER_MS);
    c->sack_ok = ep->s.sack && (bits & 0x10);
    if ((bits & 0xf) != TS_WS_NONE && ep->s.window_scaling) {
      c->ws_ok = 1;
      c->snd_wscale = (uint8_t)(bits & 0xf) > TCPU_WSCALE_MAX
                          ? TCPU_WSCALE_MAX
                          : (uint8_t)(bits & 0xf);
    }
  }
  if (!c->ws_ok)
    c->rcv_wscale = 0;
  c->snd_wnd = (uint32_t)s->wnd << c->snd_wscale;
  c->max_snd_wnd = c->snd_wnd;
  c->snd_wl1 = s->seq;
  c->snd_wl2 = s->ack;
  c->parent = l;
  tcpu_conn_set_state(c, TCPU_ESTABLISHED, now);
  tcpu_conn_on_established(c, now);
  tcpu_listen_established(c, now);
  /* Data riding on the ACK is processed as in ESTABLISHED. */
  if (s->len > 0 || (s->flags & TH_FIN))
    tcpu_conn_input(c, s, now);
}

/* ----------------------------------------------------------------- input */

void tcpu_listen_input(tcpu_conn *l, const tcpu_addr *from,
                       const tcpu_seg *s, tcpu_tstamp now) {
  tcpu_endpoint *ep = l->ep;
  tcpu_listener *q = l->lst;
  /* RFC 9293 §3.10.7.2: an RST is ignored, an ACK draws
   * <SEQ=SEG.ACK><CTL=RST>, unless it returns a SYN cookie. */
  if (s->flags & TH_RST)
    return;
  if (s->flags & TH_ACK) {
    if (!(s->flags & TH_SYN) && ep->s.syncookies != TCPU_SYNCOOKIES_OFF) {
      int idx = cookie_check(ep, from, s, now);
      if (idx >= 0) {
        cookie_accept(l, from, s, idx, now);
        return;
      }
      ep->st.syncookies_failed++;
    }
    ep->st.drop_no_conn++;
    tcpu_endpoint_reply_rst(ep, from, s);
    return;
  }
  if (!(s->flags & TH_SYN))
    return;
  /* Linux drops a SYN while the accept queue is full: the application
   * is not keeping up and a completed handshake would only overflow. */
  if (q->acc_count >= (unsigned)q->backlog) {
    ep->st.accept_queue_overflow++;
    return;
  }
  if (ep->s.syncookies == TCPU_SYNCOOKIES_ALWAYS ||
      q->syn_count >= (unsigned)q->backlog) {
    if (q->syn_count >= (unsigned)q->backlog)
      ep->st.syn_queue_overflow++;
    if (ep->s.syncookies != TCPU_SYNCOOKIES_OFF)
      send_cookie(l, from, s, now);
    return;
  }
  tcpu_conn *c = new_child(l, from, s);
  if (c == NULL)
    return;
  c->parent = l;
  c->q_next = q->syn_head;
  q->syn_head = c;
  q->syn_count++;
  c->irs = s->seq;
  c->rcv_nxt = s->seq + 1;
  c->rcv_adv = c->rcv_nxt;
  c->last_ack_sent = c->rcv_nxt;
  tcpu_conn_take_syn_options(c, s);
  c->iss = ep->tw_iss_valid ? ep->tw_iss
                            : tcpu_isn(ep, from, s->dport, s->sport, now);
  if (ep->tw_reopen) {
    c->tw_link = ep->tw_reopen;
    ep->tw_reopen->tw_link = c;
  }
  c->snd_una = c->snd_nxt = c->snd_max = c->iss;
  c->snd_buf_seq = c->iss + 1;
  /* RFC 7323 §2.2: the window in a SYN is not scaled. */
  c->snd_wnd = s->wnd;
  c->snd_wl1 = s->seq;
  c->snd_wl2 = c->iss;
  tcpu_conn_set_state(c, TCPU_SYN_RCVD, now);
  tcpu_conn_want_output(c);
}
