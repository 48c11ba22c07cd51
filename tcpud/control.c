/*
 * control.c — the local control socket: a unix stream socket of mode 0600
 * (ControlSocket, default $XDG_RUNTIME_DIR/tcpud.sock or /run/tcpud.sock)
 * answering one request line per connection (proto.h): `show` (text in
 * the manner of `ss -ti`), `show json`, `reload`, `version`, `ping`.
 * The answer starts with "ok" or "error: REASON" on a line of its own,
 * then the body; the daemon closes the connection after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tcpud/daemon.h"
#include "tcpud/sbuf.h"

#define CLIENT_TIMEOUT_MS 5000
#define MAX_CLIENTS 32

typedef struct client {
  uv_pipe_t pipe;
  uv_timer_t timer;
  uv_write_t wreq;
  tcpud *d;
  tcpud_sbuf out;
  char in[TCPUD_REQ_MAX + 2];
  size_t in_len;
  int handles;
  unsigned answered : 1;
} client;

static unsigned n_clients;

/* ------------------------------------------------------------ helpers */

static void fmt_duration(char *buf, size_t len, uint64_t ns) {
  uint64_t s = ns / 1000000000u;

  if (s < 60)
    snprintf(buf, len, "%.1f s", (double)ns / 1e9);
  else if (s < 3600)
    snprintf(buf, len, "%" PRIu64 " min %" PRIu64 " s", s / 60, s % 60);
  else if (s < 86400)
    snprintf(buf, len, "%" PRIu64 " h %" PRIu64 " min", s / 3600, s / 60 % 60);
  else
    snprintf(buf, len, "%" PRIu64 " d %" PRIu64 " h", s / 86400, s / 3600 % 24);
}

/* bytes per second as ss prints rates: bits, with a unit. */
static void fmt_rate(char *buf, size_t len, uint64_t bytes_per_s) {
  double bps = (double)bytes_per_s * 8;

  if (bps >= 1e9)
    snprintf(buf, len, "%.1fGbps", bps / 1e9);
  else if (bps >= 1e6)
    snprintf(buf, len, "%.1fMbps", bps / 1e6);
  else if (bps >= 1e3)
    snprintf(buf, len, "%.1fKbps", bps / 1e3);
  else
    snprintf(buf, len, "%.0fbps", bps);
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

/* The library's view of a peer: 1 and *pi filled, or 0 when it has no
 * library peer (plain mode without an Endpoint). */
static int peer_info(const tcpud *d, const tcpud_peer *p, tcpu_peer_info *pi) {
  memset(pi, 0, sizeof(*pi));
  if (p->tp == NULL || d->tun.ep == NULL)
    return 0;
  tcpu_peer_get_info(p->tp, pi);
  return 1;
}

/* Where the peer is: sealed mode, where its last authenticated datagram
 * came from (roaming); else its Endpoint.  NULL when unknown. */
static const char *peer_endpoint(const tcpud *d, const tcpud_peer *p,
                                 const tcpu_peer_info *pi, int have,
                                 char *buf, size_t len) {
  if (d->mode == TCPUD_MODE_SEALED && have && pi->endpoint.family != 0)
    return tcpud_addr_format(&pi->endpoint, 1, buf, len);
  if (p->has_addr)
    return tcpud_addr_format(&p->addr, 1, buf, len);
  return NULL;
}

/* What a core connection is, for the connection list. */
typedef struct conn_label {
  const tcpu_conn *conn;
  const char *kind; /* forward, service, reverse, control, listen */
  char text[200];
  int is_pipe; /* then pi describes it */
  tcpud_pipe_info pi;
} conn_label;

typedef struct labels {
  conn_label *v;
  size_t n, cap;
} labels;

static conn_label *label_add(labels *l, const tcpu_conn *c, const char *kind) {
  conn_label *x;

  if (c == NULL)
    return NULL;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    conn_label *v = realloc(l->v, cap * sizeof(*v));
    if (v == NULL)
      return NULL;
    l->v = v;
    l->cap = cap;
  }
  x = &l->v[l->n++];
  memset(x, 0, sizeof(*x));
  x->conn = c;
  x->kind = kind;
  return x;
}

static void label_pipe(const tcpud_pipe_info *pi, void *arg) {
  conn_label *x = label_add(arg, pi->conn, tcpud_pipe_kind_name(pi->kind));

  if (x == NULL)
    return;
  x->pi = *pi;
  x->is_pipe = 1;
}

static int label_cmp(const void *a, const void *b) {
  const tcpu_conn *x = ((const conn_label *)a)->conn;
  const tcpu_conn *y = ((const conn_label *)b)->conn;
  return x < y ? -1 : x > y;
}

static void build_labels(tcpud *d, labels *l) {
  conn_label *x;

  tcpud_pipes_foreach(d, label_pipe, l);
  for (tcpud_service *s = d->services; s != NULL; s = s->next)
    if ((x = label_add(l, tcpu_uv_stream_get_conn(&s->listener), "listen")))
      snprintf(x->text, sizeof(x->text), "service %s", s->name);
  if (d->ctl_listening &&
      (x = label_add(l, tcpu_uv_stream_get_conn(&d->ctl_listener), "listen")))
    snprintf(x->text, sizeof(x->text), "control channel");
  for (tcpud_session *s = d->sessions; s != NULL; s = s->next)
    if (s->stream_open && !s->stream_closing &&
        (x = label_add(l, tcpu_uv_stream_get_conn(&s->stream), "control")))
      snprintf(x->text, sizeof(x->text), "control channel from peer %s",
               s->peer);
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next)
    if (p->out && p->out->stream_open && !p->out->stream_closing &&
        (x = label_add(l, tcpu_uv_stream_get_conn(&p->out->stream), "control")))
      snprintf(x->text, sizeof(x->text), "control channel to peer %s", p->name);
  qsort(l->v, l->n, sizeof(*l->v), label_cmp);
}

static const conn_label *label_find(const labels *l, const tcpu_conn *c) {
  conn_label key;

  key.conn = c;
  return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), label_cmp) : NULL;
}

static const char *rl_state(const tcpud_rlisten *r) {
  return r->state == TCPUD_RL_ACTIVE   ? "active"
         : r->state == TCPUD_RL_FAILED ? "refused"
                                       : "pending";
}

static const char *session_state(const tcpud_session *s) {
  if (s->up)
    return "up";
  if (s->stream_open && !s->stream_closing)
    return "connecting";
  return "retrying";
}

/* ---------------------------------------------------------- show text */

typedef struct show_ctx {
  tcpud *d;
  tcpud_sbuf *b;
  labels *l;
  int first;
} show_ctx;

static void text_conn_line(show_ctx *x, const tcpu_conn *c) {
  tcpud_sbuf *b = x->b;
  const conn_label *lb = label_find(x->l, c);
  tcpu_conn_info ci;
  char peer[TCPUD_ADDRSTRLEN], r1[32], r2[32], ssth[24], age[32];

  tcpu_conn_get_info(c, &ci);
  tcpud_conn_addr_format(x->d, &ci.peer, peer, sizeof(peer));
  tcpud_sbuf_printf(b, "%-12s %6u %6u  %-6u ", tcpu_state_name(ci.state),
                    ci.rcv_buffered, ci.snd_buffered, ci.local_port);
  if (ci.state == TCPU_LISTEN)
    tcpud_sbuf_printf(b, "%-28s ", "*");
  else
    tcpud_sbuf_printf(b, "%s/%-*u ", peer, (int)(27 - strlen(peer)),
                      ci.remote_port);
  if (lb == NULL) {
    tcpud_sbuf_printf(b, "-\n");
  } else if (lb->is_pipe) {
    const tcpud_pipe_info *pi = &lb->pi;
    fmt_duration(age, sizeof(age), pi->age_ns);
    tcpud_sbuf_printf(b,
                      "%s %s %s %s (peer %s, service %u), %s, %s, %" PRIu64
                      " bytes in, %" PRIu64 " bytes out\n",
                      lb->kind, pi->local,
                      pi->kind == TCPUD_PIPE_SERVICE ? "->" : "<-", pi->remote,
                      pi->peer[0] ? pi->peer : "?", pi->service, pi->state, age,
                      pi->bytes_in, pi->bytes_out);
  } else {
    tcpud_sbuf_printf(b, "%s %s\n", lb->kind, lb->text);
  }
  if (ci.state == TCPU_LISTEN)
    return;
  if (ci.ssthresh == UINT32_MAX || ci.ssthresh == 0)
    snprintf(ssth, sizeof(ssth), "-");
  else
    snprintf(ssth, sizeof(ssth), "%u", ci.ssthresh);
  fmt_rate(r1, sizeof(r1), ci.delivery_rate);
  fmt_rate(r2, sizeof(r2), ci.pacing_rate);
  tcpud_sbuf_printf(
      b,
      "\t %s%s%s rtt:%.3f/%.3f rto:%.0f mss:%u cwnd:%u ssthresh:%s "
      "bytes_sent:%" PRIu64 " bytes_acked:%" PRIu64 " bytes_received:%" PRIu64
      " bytes_retrans:%" PRIu64 " segs_out:%" PRIu64 " segs_in:%" PRIu64
      " retrans:%" PRIu64 " timeouts:%" PRIu64 " lost:%" PRIu64
      " unacked:%u snd_wnd:%u rcv_wnd:%u delivery_rate:%s pacing_rate:%s"
      " min_rtt:%.3f\n",
      tcpu_conn_get_cc(c) ? tcpu_conn_get_cc(c) : "-",
      ci.timestamps ? " ts" : "", ci.sack ? " sack" : "", ms(ci.srtt),
      ms(ci.rttvar), ms(ci.rto), ci.snd_mss, ci.cwnd, ssth, ci.bytes_sent,
      ci.bytes_acked, ci.bytes_received, ci.bytes_retrans, ci.segs_out,
      ci.segs_in, ci.retransmits, ci.timeouts, ci.lost_segs, ci.unacked,
      ci.snd_wnd, ci.rcv_wnd, r1, r2, ms(ci.min_rtt));
}

static int text_conn(const tcpu_conn *c, void *arg) {
  text_conn_line(arg, c);
  return 0;
}

/* The endpoint's keepalive and sealed-mode counters. */
static void text_sealed_counters(tcpud *d, tcpud_sbuf *b,
                                 const tcpu_endpoint_stats *es) {
  tcpud_sbuf_printf(b, "keepalives: %" PRIu64 " sent, %" PRIu64 " received\n",
                    es->keepalives_sent, es->keepalives_received);
  if (d->mode != TCPUD_MODE_SEALED)
    return;
  tcpud_sbuf_printf(
      b,
      "handshakes: %" PRIu64 " done, %" PRIu64 " failed, %" PRIu64
      " initiated, %" PRIu64 " rate-limited; cookies %" PRIu64
      " sent, %" PRIu64 " received\n"
      "sealed: %" PRIu64 " auth failures, %" PRIu64
      " replays dropped; dropped: %" PRIu64 " not sealed, %" PRIu64
      " no session; %" PRIu64 " roams\n",
      es->handshakes_done, es->handshakes_failed, es->handshakes_initiated,
      es->handshakes_ratelimited, es->cookies_sent, es->cookies_received,
      es->auth_failures, es->replays_dropped, es->drop_not_sealed,
      es->drop_no_session, es->roams);
}

/* The second line of a peer: what the library knows of it. */
static void text_peer_info(tcpud *d, tcpud_sbuf *b, const tcpud_peer *p,
                           const tcpu_peer_info *pi) {
  char k[16], t[32];
  uint64_t now = tcpud_now();

  tcpud_sbuf_printf(b, " ");
  if (pi->sealed) {
    tcpud_sbuf_printf(b, " key %s, session %s",
                      tcpud_key_prefix(pi->public_key, 8, k, sizeof(k)),
                      pi->session       ? "yes"
                      : pi->handshaking ? "no (handshaking)"
                                        : "no");
    if (pi->last_handshake == TCPU_TSTAMP_NONE) {
      tcpud_sbuf_printf(b, ", no handshake yet");
    } else {
      fmt_duration(t, sizeof(t),
                   now > pi->last_handshake ? now - pi->last_handshake : 0);
      tcpud_sbuf_printf(b, ", last handshake %s ago", t);
    }
    tcpud_sbuf_printf(b, ",");
  }
  tcpud_sbuf_printf(b,
                    " %" PRIu64 " bytes in, %" PRIu64 " bytes out",
                    pi->rx_bytes, pi->tx_bytes);
  if (pi->sealed)
    tcpud_sbuf_printf(b, ", %" PRIu64 " handshake%s, %" PRIu64 " roam%s",
                      pi->handshakes, pi->handshakes == 1 ? "" : "s",
                      pi->roams, pi->roams == 1 ? "" : "s");
  if (p->keepalive_s > 0)
    tcpud_sbuf_printf(b, ", keepalive every %u s", p->keepalive_s);
  (void)d;
  tcpud_sbuf_printf(b, "\n");
}

static void show_text(tcpud *d, tcpud_sbuf *b) {
  tcpu_endpoint_stats es;
  tcpu_uv_stats us;
  labels l = {0};
  show_ctx x = {d, b, &l, 1};
  char a[TCPUD_ADDRSTRLEN], up[32], key[TCPUD_KEY_B64_LEN + 1];

  memset(&es, 0, sizeof(es));
  memset(&us, 0, sizeof(us));
  if (d->tun.ep != NULL) {
    tcpu_endpoint_get_stats(d->tun.ep, &es);
    tcpu_uv_endpoint_get_stats(&d->tun, &us);
  }
  fmt_duration(up, sizeof(up), tcpud_now() - d->started_ns);
  tcpud_sbuf_printf(
      b,
      "tcpud %s, pid %d, up %s%s\n"
      "tunnel: UDP %s, %s mode, cc %s, MTU %u\n"
      "connections: %zu forwarded now (limit %u), %" PRIu64
      " since start, %" PRIu64 " failed, %" PRIu64
      " refused at the limit, %" PRIu64 " refused by Peers\n"
      "datagrams: %" PRIu64 " in, %" PRIu64 " out, %" PRIu64
      " send errors; RST %" PRIu64 " sent, %" PRIu64
      " received; dropped: %" PRIu64 " no connection, %" PRIu64
      " bad checksum, %" PRIu64 " malformed, %" PRIu64 " unacceptable\n",
      TCPUD_VERSION, (int)getpid(), up, d->draining ? ", draining" : "",
      tcpud_addr_format(&d->local_addr, 1, a, sizeof(a)),
      tcpud_mode_name(d->mode), d->cfg.cc[0] ? d->cfg.cc : "cubic",
      d->cfg.mtu, d->n_pipes, d->cfg.max_connections, d->pipes_total,
      d->pipes_failed, d->limit_refused, d->peer_denied, es.dgrams_in,
      es.dgrams_out, us.send_errors, es.rst_sent, es.rst_received,
      es.drop_no_conn, es.drop_bad_checksum,
      es.drop_short + es.drop_bad_offset + es.drop_bad_option +
          es.drop_bad_sack + es.drop_bad_flags,
      es.drop_unacceptable);
  text_sealed_counters(d, b, &es);
  if (d->mode == TCPUD_MODE_SEALED)
    tcpud_sbuf_printf(b, "public key: %s (%s)\n",
                      tcpud_key_prefix(d->public_key, TCPUD_KEY_B64_LEN, key,
                                       sizeof(key)),
                      tcpud_cipher_name(d->cfg.cipher));
  if (d->rdv_on) {
    tcpud_sbuf_printf(b, "rendezvous: %s as %s, ",
                      tcpud_addr_format(&d->rdv_server_addr, 1, a, sizeof(a)),
                      d->rdv_self);
    if (d->rdv_observed)
      tcpud_sbuf_printf(b, "registered, seen at %s\n",
                        tcpud_addr_format(&d->rdv.observed, 1, a, sizeof(a)));
    else
      tcpud_sbuf_printf(b, "registering (no answer yet)\n");
  }

  for (tcpud_peer *p = d->peers; p != NULL; p = p->next) {
    const tcpud_peer_conf *pc = tcpud_peer_conf_of(d, p->name);
    tcpu_peer_info pi;
    int have = peer_info(d, p, &pi);
    const char *ep = peer_endpoint(d, p, &pi, have, a, sizeof(a));

    tcpud_sbuf_printf(b, "\npeer %s:", p->name);
    if (ep != NULL)
      tcpud_sbuf_printf(b, " endpoint %s", ep);
    else if (p->rdv)
      tcpud_sbuf_printf(b, " endpoint none yet (through the rendezvous)");
    else if (d->mode == TCPUD_MODE_SEALED)
      tcpud_sbuf_printf(b, " endpoint none yet (it connects in)");
    for (size_t i = 0;
         pc != NULL && d->mode != TCPUD_MODE_SEALED && i < pc->n_allowed_ips;
         i++) {
      tcpu_addr ip;
      memset(&ip, 0, sizeof(ip));
      ip.family = pc->allowed_ips[i].family;
      memcpy(ip.ip, pc->allowed_ips[i].ip, 16);
      tcpud_sbuf_printf(b, "%s%s/%u", i == 0 ? " allowed-ips " : ",",
                        tcpud_addr_format(&ip, 0, a, sizeof(a)),
                        pc->allowed_ips[i].prefix);
    }
    tcpud_sbuf_printf(b, "\n");
    if (have)
      text_peer_info(d, b, p, &pi);
    if (p->rdv) {
      tcpud_sbuf_printf(
          b, "  rendezvous: %s, %s, %" PRIu64 " lookup%s, %" PRIu64 " answer%s",
          p->rdv_name, tcpud_rdv_peer_state(p), p->rdv_lookups,
          p->rdv_lookups == 1 ? "" : "s", p->rdv_answers,
          p->rdv_answers == 1 ? "" : "s");
      if (p->rdv_found) {
        fmt_duration(up, sizeof(up), tcpud_now() - p->rdv_found_ns);
        tcpud_sbuf_printf(b, ", told %s %s ago",
                          tcpud_addr_format(&p->rdv_addr, 1, a, sizeof(a)), up);
      }
      tcpud_sbuf_printf(b, "\n");
    }
    if (p->out != NULL) {
      tcpud_sbuf_printf(b, "  control channel to it: %s\n",
                        session_state(p->out));
      for (tcpud_rlisten *r = p->out->rlistens; r != NULL; r = r->next)
        tcpud_sbuf_printf(b, "    -R %s:%u -> our service %u: %s%s%s\n",
                          r->listen.host, r->listen.port, r->service,
                          rl_state(r), r->reason[0] ? ", " : "", r->reason);
    }
    for (tcpud_session *s = d->sessions; s != NULL; s = s->next) {
      if (strcmp(s->peer, p->name) != 0 || s->stream_closing)
        continue;
      fmt_duration(up, sizeof(up), tcpud_now() - s->started_ns);
      tcpud_sbuf_printf(b, "  control channel from %s (%s): up %s\n",
                        tcpud_conn_addr_format(d, &s->addr, a, sizeof(a)),
                        s->hello[0] ? s->hello : "no HELLO yet", up);
      for (tcpud_grant *g = s->grants; g != NULL; g = g->next)
        tcpud_sbuf_printf(b,
                          "    listening on %s for its service %u: %" PRIu64
                          " accepted, %" PRIu64 " refused\n",
                          tcpud_addr_format(&g->bind, 1, a, sizeof(a)),
                          g->service, g->accepted, g->refused);
    }
  }
  if (d->services != NULL || d->forwards != NULL)
    tcpud_sbuf_printf(b, "\n");
  for (tcpud_service *s = d->services; s != NULL; s = s->next)
    tcpud_sbuf_printf(b,
                      "service %s: tunnel port %u -> %s:%u; %" PRIu64
                      " accepted, %" PRIu64 " refused\n",
                      s->name, s->port, s->target_conf.host,
                      s->target_conf.port, s->accepted, s->refused);
  for (tcpud_forward *f = d->forwards; f != NULL; f = f->next)
    tcpud_sbuf_printf(b,
                      "forward -L %s:%u -> peer %s, service %u; %" PRIu64
                      " accepted, %" PRIu64 " refused\n",
                      f->listen.host, f->listen.port, f->peer, f->service,
                      f->accepted, f->refused);

  if (d->tun.ep != NULL) {
    build_labels(d, &l);
    tcpud_sbuf_printf(b, "\n%-12s %6s %6s  %-6s %-28s %s\n", "State", "Recv-Q",
                      "Send-Q", "Local",
                      d->mode == TCPUD_MODE_SEALED
                          ? "Peer (name@endpoint/TCP port)"
                          : "Peer (UDP address/TCP port)",
                      "What");
    tcpu_endpoint_foreach_conn(d->tun.ep, text_conn, &x);
    free(l.v);
  }
}

/* ---------------------------------------------------------- show json */

static void json_conn_tcp(tcpud_sbuf *b, const tcpu_conn *c,
                          const tcpu_conn_info *ci) {
  const char *cc = tcpu_conn_get_cc(c);

  tcpud_sbuf_printf(b, "{\"cc\":");
  tcpud_sbuf_json_str(b, cc ? cc : "");
  tcpud_sbuf_printf(
      b,
      ",\"rtt_ms\":%.3f,\"rttvar_ms\":%.3f,\"rto_ms\":%.3f,\"min_rtt_ms\":%.3f,"
      "\"snd_mss\":%u,\"rcv_mss\":%u,\"cwnd\":%u,\"ssthresh\":",
      ms(ci->srtt), ms(ci->rttvar), ms(ci->rto), ms(ci->min_rtt), ci->snd_mss,
      ci->rcv_mss, ci->cwnd);
  if (ci->ssthresh == UINT32_MAX)
    tcpud_sbuf_printf(b, "null");
  else
    tcpud_sbuf_printf(b, "%u", ci->ssthresh);
  tcpud_sbuf_printf(
      b,
      ",\"snd_wnd\":%u,\"rcv_wnd\":%u,\"timestamps\":%s,\"sack\":%s,"
      "\"bytes_sent\":%" PRIu64 ",\"bytes_acked\":%" PRIu64
      ",\"bytes_received\":%" PRIu64 ",\"bytes_retrans\":%" PRIu64
      ",\"segs_in\":%" PRIu64 ",\"segs_out\":%" PRIu64
      ",\"retransmits\":%" PRIu64 ",\"timeouts\":%" PRIu64
      ",\"lost_segs\":%" PRIu64 ",\"sacked_segs\":%" PRIu64
      ",\"dsacks\":%" PRIu64 ",\"fast_recoveries\":%" PRIu64
      ",\"spurious_undos\":%" PRIu64 ",\"tlp_probes\":%" PRIu64
      ",\"reorder_events\":%" PRIu64 ",\"paws_drops\":%" PRIu64
      ",\"unacked\":%u,\"pipe\":%u,\"snd_buffered\":%u,\"rcv_buffered\":%u,"
      "\"delivery_rate\":%" PRIu64 ",\"pacing_rate\":%" PRIu64
      ",\"delivered\":%" PRIu64 "}",
      ci->snd_wnd, ci->rcv_wnd, ci->timestamps ? "true" : "false",
      ci->sack ? "true" : "false", ci->bytes_sent, ci->bytes_acked,
      ci->bytes_received, ci->bytes_retrans, ci->segs_in, ci->segs_out,
      ci->retransmits, ci->timeouts, ci->lost_segs, ci->sacked_segs, ci->dsacks,
      ci->fast_recoveries, ci->spurious_undos, ci->tlp_probes,
      ci->reorder_events, ci->paws_drops, ci->unacked, ci->pipe,
      ci->snd_buffered, ci->rcv_buffered, ci->delivery_rate, ci->pacing_rate,
      ci->delivered);
}

static int json_conn(const tcpu_conn *c, void *arg) {
  show_ctx *x = arg;
  tcpud_sbuf *b = x->b;
  const conn_label *lb = label_find(x->l, c);
  tcpu_conn_info ci;
  char peer[TCPUD_ADDRSTRLEN];

  tcpu_conn_get_info(c, &ci);
  tcpud_sbuf_printf(b, "%s{\"state\":", x->first ? "" : ",");
  x->first = 0;
  tcpud_sbuf_json_str(b, tcpu_state_name(ci.state));
  tcpud_sbuf_printf(b, ",\"kind\":");
  tcpud_sbuf_json_str(b, lb ? lb->kind : "other");
  tcpud_sbuf_printf(b, ",\"local_port\":%u", ci.local_port);
  if (ci.state != TCPU_LISTEN) {
    tcpud_sbuf_printf(b, ",\"peer_address\":");
    tcpud_sbuf_json_str(b,
                        tcpud_conn_addr_format(x->d, &ci.peer, peer, sizeof(peer)));
    tcpud_sbuf_printf(b, ",\"remote_port\":%u", ci.remote_port);
  }
  if (lb != NULL && lb->is_pipe) {
    const tcpud_pipe_info *pi = &lb->pi;
    tcpud_sbuf_printf(b, ",\"peer\":");
    tcpud_sbuf_json_str(b, pi->peer);
    tcpud_sbuf_printf(b, ",\"service\":%u,\"pipe\":{\"state\":", pi->service);
    tcpud_sbuf_json_str(b, pi->state);
    tcpud_sbuf_printf(b, ",\"local\":");
    tcpud_sbuf_json_str(b, pi->local);
    tcpud_sbuf_printf(b, ",\"remote\":");
    tcpud_sbuf_json_str(b, pi->remote);
    tcpud_sbuf_printf(b,
                      ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                      ",\"age_s\":%.3f}",
                      pi->bytes_in, pi->bytes_out, (double)pi->age_ns / 1e9);
  } else if (lb != NULL) {
    tcpud_sbuf_printf(b, ",\"what\":");
    tcpud_sbuf_json_str(b, lb->text);
  }
  if (ci.state != TCPU_LISTEN) {
    tcpud_sbuf_printf(b, ",\"tcp\":");
    json_conn_tcp(b, c, &ci);
  }
  tcpud_sbuf_printf(b, "}");
  return 0;
}

static void show_json(tcpud *d, tcpud_sbuf *b) {
  tcpu_endpoint_stats es;
  tcpu_uv_stats us;
  labels l = {0};
  show_ctx x = {d, b, &l, 1};
  char a[TCPUD_ADDRSTRLEN], key[TCPUD_KEY_B64_LEN + 1];
  uint64_t now = tcpud_now();
  int first;

  memset(&es, 0, sizeof(es));
  memset(&us, 0, sizeof(us));
  if (d->tun.ep != NULL) {
    tcpu_endpoint_get_stats(d->tun.ep, &es);
    tcpu_uv_endpoint_get_stats(&d->tun, &us);
  }
  tcpud_sbuf_printf(b,
                    "{\"version\":\"%s\",\"pid\":%d,\"uptime_s\":%.3f,"
                    "\"draining\":%s,\"reloads\":%" PRIu64 ",\"tunnel\":{"
                    "\"address\":",
                    TCPUD_VERSION, (int)getpid(),
                    (double)(tcpud_now() - d->started_ns) / 1e9,
                    d->draining ? "true" : "false", d->reloads);
  tcpud_sbuf_json_str(b, tcpud_addr_format(&d->local_addr, 1, a, sizeof(a)));
  tcpud_sbuf_printf(b, ",\"mode\":\"%s\"", tcpud_mode_name(d->mode));
  if (d->mode == TCPUD_MODE_SEALED) {
    tcpud_sbuf_printf(b, ",\"cipher\":\"%s\",\"public_key\":",
                      tcpud_cipher_name(d->cfg.cipher));
    tcpud_sbuf_json_str(b, tcpud_key_prefix(d->public_key, TCPUD_KEY_B64_LEN,
                                            key, sizeof(key)));
  }
  tcpud_sbuf_printf(b, ",\"cc\":");
  tcpud_sbuf_json_str(b, d->cfg.cc[0] ? d->cfg.cc : "cubic");
  tcpud_sbuf_printf(
      b,
      ",\"mtu\":%u,\"max_connections\":%u},\"counters\":{\"connections\":%zu,"
      "\"connections_total\":%" PRIu64 ",\"connections_failed\":%" PRIu64
      ",\"refused_limit\":%" PRIu64 ",\"refused_peer\":%" PRIu64
      ",\"dgrams_in\":%" PRIu64 ",\"dgrams_out\":%" PRIu64
      ",\"send_errors\":%" PRIu64 ",\"recv_errors\":%" PRIu64
      ",\"drop_short\":%" PRIu64 ",\"drop_bad_offset\":%" PRIu64
      ",\"drop_bad_option\":%" PRIu64 ",\"drop_bad_sack\":%" PRIu64
      ",\"drop_bad_checksum\":%" PRIu64 ",\"drop_bad_flags\":%" PRIu64
      ",\"drop_no_conn\":%" PRIu64 ",\"drop_unacceptable\":%" PRIu64
      ",\"rst_sent\":%" PRIu64 ",\"rst_received\":%" PRIu64
      ",\"challenge_acks\":%" PRIu64 ",\"syncookies_sent\":%" PRIu64
      ",\"conns_opened\":%" PRIu64 ",\"conns_closed\":%" PRIu64,
      d->cfg.mtu, d->cfg.max_connections, d->n_pipes, d->pipes_total,
      d->pipes_failed, d->limit_refused, d->peer_denied, es.dgrams_in,
      es.dgrams_out, us.send_errors, us.recv_errors, es.drop_short,
      es.drop_bad_offset, es.drop_bad_option, es.drop_bad_sack,
      es.drop_bad_checksum, es.drop_bad_flags, es.drop_no_conn,
      es.drop_unacceptable, es.rst_sent, es.rst_received, es.challenge_acks,
      es.syncookies_sent, es.conns_opened, es.conns_closed);
  tcpud_sbuf_printf(
      b,
      ",\"keepalives_sent\":%" PRIu64 ",\"keepalives_received\":%" PRIu64
      ",\"handshakes_initiated\":%" PRIu64 ",\"handshakes_done\":%" PRIu64
      ",\"handshakes_failed\":%" PRIu64
      ",\"handshakes_ratelimited\":%" PRIu64 ",\"auth_failures\":%" PRIu64
      ",\"replays_dropped\":%" PRIu64 ",\"cookies_sent\":%" PRIu64
      ",\"cookies_received\":%" PRIu64 ",\"drop_not_sealed\":%" PRIu64
      ",\"drop_no_session\":%" PRIu64 ",\"roams\":%" PRIu64 "}",
      es.keepalives_sent, es.keepalives_received, es.handshakes_initiated,
      es.handshakes_done, es.handshakes_failed, es.handshakes_ratelimited,
      es.auth_failures, es.replays_dropped, es.cookies_sent,
      es.cookies_received, es.drop_not_sealed, es.drop_no_session, es.roams);

  tcpud_sbuf_printf(b, ",\"rendezvous\":");
  if (!d->rdv_on) {
    tcpud_sbuf_printf(b, "null");
  } else {
    tcpud_sbuf_printf(b, "{\"server\":");
    tcpud_sbuf_json_str(
        b, tcpud_addr_format(&d->rdv_server_addr, 1, a, sizeof(a)));
    tcpud_sbuf_printf(b, ",\"name\":");
    tcpud_sbuf_json_str(b, d->rdv_self);
    tcpud_sbuf_printf(b, ",\"observed\":");
    if (d->rdv_observed)
      tcpud_sbuf_json_str(b,
                          tcpud_addr_format(&d->rdv.observed, 1, a, sizeof(a)));
    else
      tcpud_sbuf_printf(b, "null");
    tcpud_sbuf_printf(b, "}");
  }
  tcpud_sbuf_printf(b, ",\"peers\":[");
  first = 1;
  for (tcpud_peer *p = d->peers; p != NULL; p = p->next) {
    tcpu_peer_info pi;
    int have = peer_info(d, p, &pi);
    const char *ep = peer_endpoint(d, p, &pi, have, a, sizeof(a));
    int f2 = 1;

    tcpud_sbuf_printf(b, "%s{\"name\":", first ? "" : ",");
    first = 0;
    tcpud_sbuf_json_str(b, p->name);
    tcpud_sbuf_printf(b, ",\"endpoint\":");
    if (ep != NULL)
      tcpud_sbuf_json_str(b, ep);
    else
      tcpud_sbuf_printf(b, "null");
    tcpud_sbuf_printf(b, ",\"public_key\":");
    if (have && pi.sealed)
      tcpud_sbuf_json_str(b, tcpud_key_prefix(pi.public_key, TCPUD_KEY_B64_LEN,
                                              key, sizeof(key)));
    else
      tcpud_sbuf_printf(b, "null");
    if (have && pi.sealed) {
      tcpud_sbuf_printf(b, ",\"session\":%s,\"handshaking\":%s,"
                           "\"last_handshake_s\":",
                        pi.session ? "true" : "false",
                        pi.handshaking ? "true" : "false");
      if (pi.last_handshake == TCPU_TSTAMP_NONE)
        tcpud_sbuf_printf(b, "null");
      else
        tcpud_sbuf_printf(b, "%.3f",
                          now > pi.last_handshake
                              ? (double)(now - pi.last_handshake) / 1e9
                              : 0.0);
      tcpud_sbuf_printf(b, ",\"handshakes\":%" PRIu64 ",\"roams\":%" PRIu64,
                        pi.handshakes, pi.roams);
    } else {
      tcpud_sbuf_printf(b, ",\"session\":null,\"handshaking\":null,"
                           "\"last_handshake_s\":null,\"handshakes\":0,"
                           "\"roams\":0");
    }
    tcpud_sbuf_printf(b,
                      ",\"rx_bytes\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
                      ",\"persistent_keepalive_s\":%u,\"rendezvous\":",
                      pi.rx_bytes, pi.tx_bytes, p->tp ? p->keepalive_s : 0);
    if (!p->rdv) {
      tcpud_sbuf_printf(b, "null,\"control_out\":");
    } else {
      tcpud_sbuf_printf(b, "{\"name\":");
      tcpud_sbuf_json_str(b, p->rdv_name);
      tcpud_sbuf_printf(b,
                        ",\"state\":\"%s\",\"lookups\":%" PRIu64
                        ",\"answers\":%" PRIu64 ",\"address\":",
                        tcpud_rdv_peer_state(p), p->rdv_lookups,
                        p->rdv_answers);
      if (p->rdv_found)
        tcpud_sbuf_json_str(b,
                            tcpud_addr_format(&p->rdv_addr, 1, a, sizeof(a)));
      else
        tcpud_sbuf_printf(b, "null");
      tcpud_sbuf_printf(b, "},\"control_out\":");
    }
    if (p->out == NULL) {
      tcpud_sbuf_printf(b, "null");
    } else {
      tcpud_sbuf_printf(b, "{\"state\":\"%s\",\"reverse\":[",
                        session_state(p->out));
      for (tcpud_rlisten *r = p->out->rlistens; r != NULL; r = r->next) {
        tcpud_sbuf_printf(b, "%s{\"listen\":", f2 ? "" : ",");
        f2 = 0;
        tcpud_sbuf_json_str(b, r->listen.host);
        tcpud_sbuf_printf(b,
                          ",\"port\":%u,\"service\":%u,\"state\":\"%s\","
                          "\"reason\":",
                          r->listen.port, r->service, rl_state(r));
        tcpud_sbuf_json_str(b, r->reason);
        tcpud_sbuf_printf(b, "}");
      }
      tcpud_sbuf_printf(b, "]}");
    }
    tcpud_sbuf_printf(b, ",\"control_in\":[");
    f2 = 1;
    for (tcpud_session *s = d->sessions; s != NULL; s = s->next) {
      int f3 = 1;
      if (strcmp(s->peer, p->name) != 0 || s->stream_closing)
        continue;
      tcpud_sbuf_printf(b, "%s{\"address\":", f2 ? "" : ",");
      f2 = 0;
      tcpud_sbuf_json_str(b, tcpud_conn_addr_format(d, &s->addr, a, sizeof(a)));
      tcpud_sbuf_printf(b, ",\"hello\":");
      tcpud_sbuf_json_str(b, s->hello);
      tcpud_sbuf_printf(b, ",\"listening\":[");
      for (tcpud_grant *g = s->grants; g != NULL; g = g->next) {
        tcpud_sbuf_printf(b, "%s{\"address\":", f3 ? "" : ",");
        f3 = 0;
        tcpud_sbuf_json_str(b, tcpud_addr_format(&g->bind, 1, a, sizeof(a)));
        tcpud_sbuf_printf(b,
                          ",\"service\":%u,\"accepted\":%" PRIu64
                          ",\"refused\":%" PRIu64 "}",
                          g->service, g->accepted, g->refused);
      }
      tcpud_sbuf_printf(b, "]}");
    }
    tcpud_sbuf_printf(b, "]}");
  }
  tcpud_sbuf_printf(b, "],\"services\":[");
  first = 1;
  for (tcpud_service *s = d->services; s != NULL; s = s->next) {
    tcpud_sbuf_printf(b, "%s{\"name\":", first ? "" : ",");
    first = 0;
    tcpud_sbuf_json_str(b, s->name);
    tcpud_sbuf_printf(b, ",\"port\":%u,\"target\":", s->port);
    tcpud_sbuf_json_str(b,
                        tcpud_hostport_format(&s->target_conf, a, sizeof(a)));
    tcpud_sbuf_printf(b, ",\"accepted\":%" PRIu64 ",\"refused\":%" PRIu64 "}",
                      s->accepted, s->refused);
  }
  tcpud_sbuf_printf(b, "],\"forwards\":[");
  first = 1;
  for (tcpud_forward *f = d->forwards; f != NULL; f = f->next) {
    tcpud_sbuf_printf(b, "%s{\"local\":", first ? "" : ",");
    first = 0;
    tcpud_sbuf_json_str(b, tcpud_hostport_format(&f->listen, a, sizeof(a)));
    tcpud_sbuf_printf(b, ",\"peer\":");
    tcpud_sbuf_json_str(b, f->peer);
    tcpud_sbuf_printf(
        b, ",\"service\":%u,\"accepted\":%" PRIu64 ",\"refused\":%" PRIu64 "}",
        f->service, f->accepted, f->refused);
  }
  tcpud_sbuf_printf(b, "],\"connections\":[");
  if (d->tun.ep != NULL) {
    build_labels(d, &l);
    tcpu_endpoint_foreach_conn(d->tun.ep, json_conn, &x);
    free(l.v);
  }
  tcpud_sbuf_printf(b, "]}\n");
}

/* -------------------------------------------------------------- clients */

static void client_closed(uv_handle_t *h) {
  client *c = h->data;

  if (--c->handles > 0)
    return;
  tcpud_sbuf_free(&c->out);
  free(c);
  n_clients--;
}

static void client_close(client *c) {
  if (!uv_is_closing((uv_handle_t *)&c->pipe))
    uv_close((uv_handle_t *)&c->pipe, client_closed);
  if (!uv_is_closing((uv_handle_t *)&c->timer))
    uv_close((uv_handle_t *)&c->timer, client_closed);
}

static void client_written(uv_write_t *req, int status) {
  (void)status;
  client_close(req->data);
}

static void client_answer(client *c) {
  tcpud *d = c->d;
  const char *why;
  int verb;
  uv_buf_t buf;

  c->answered = 1;
  uv_read_stop((uv_stream_t *)&c->pipe);
  verb = tcpud_request_parse(c->in, c->in_len, &why);
  switch (verb) {
  case TCPUD_REQ_SHOW:
    tcpud_sbuf_printf(&c->out, "ok\n");
    show_text(d, &c->out);
    break;
  case TCPUD_REQ_SHOW_JSON:
    tcpud_sbuf_printf(&c->out, "ok\n");
    show_json(d, &c->out);
    break;
  case TCPUD_REQ_RELOAD:
    if (tcpud_reload(d) == 0)
      tcpud_sbuf_printf(&c->out, "ok\nreloaded\n");
    else
      tcpud_sbuf_printf(&c->out, "error: reload failed; the log says why\n");
    break;
  case TCPUD_REQ_VERSION:
    tcpud_sbuf_printf(&c->out, "ok\ntcpud %s\n", TCPUD_VERSION);
    break;
  case TCPUD_REQ_PING:
    tcpud_sbuf_printf(&c->out, "ok\npong\n");
    break;
  default:
    tcpud_sbuf_printf(&c->out, "error: %s\n", why);
    break;
  }
  if (c->out.oom) {
    tcpud_sbuf_free(&c->out);
    tcpud_sbuf_printf(&c->out, "error: out of memory\n");
  }
  buf = uv_buf_init(c->out.p, (unsigned)c->out.len);
  c->wreq.data = c;
  if (c->out.p == NULL ||
      uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &buf, 1, client_written) != 0)
    client_close(c);
}

static void client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  client *c = h->data;

  (void)suggested;
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  client *c = s->data;

  (void)buf;
  if (nread < 0) {
    if (!c->answered && nread == UV_EOF && c->in_len > 0)
      client_answer(c); /* a request without its newline */
    else
      client_close(c);
    return;
  }
  c->in_len += (size_t)nread;
  if (memchr(c->in, '\n', c->in_len) != NULL || c->in_len == sizeof(c->in))
    client_answer(c);
}

static void client_timeout(uv_timer_t *t) { client_close(t->data); }

static void on_control_conn(uv_stream_t *server, int status) {
  tcpud *d = server->data;
  client *c;

  if (status < 0)
    return;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->d = d;
  uv_pipe_init(d->loop, &c->pipe, 0);
  uv_timer_init(d->loop, &c->timer);
  c->pipe.data = c;
  c->timer.data = c;
  c->handles = 2;
  n_clients++;
  if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
      n_clients > MAX_CLIENTS) {
    client_close(c);
    return;
  }
  uv_timer_start(&c->timer, client_timeout, CLIENT_TIMEOUT_MS, 0);
  if (uv_read_start((uv_stream_t *)&c->pipe, client_alloc, client_read) != 0)
    client_close(c);
}

/* --------------------------------------------------------------- socket */

/* A socket file at path: answered by another daemon (1), stale (0, and
 * removed), or not a socket / not removable (-1, errno set). */
static int probe_socket(const char *path) {
  struct sockaddr_un sun;
  struct stat st;
  int fd, rv;

  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISSOCK(st.st_mode)) {
    errno = EEXIST;
    return -1;
  }
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
  close(fd);
  if (rv == 0)
    return 1;
  return unlink(path) == 0 ? 0 : -1;
}

int tcpud_control_open(tcpud *d) {
  const char *path = d->cfg.control_socket;
  char def[256];
  mode_t old;
  int rv;

  if (path == NULL)
    path = tcpud_default_socket_path(def, sizeof(def));
  if (path[0] == '\0') {
    d->socket_path[0] = '\0';
    return 0;
  }
  if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
      strlen(path) >= sizeof(d->socket_path)) {
    tcpud_log(LOG_ERR, "control socket %s: path too long", path);
    return -1;
  }
  rv = probe_socket(path);
  if (rv != 0) {
    if (rv > 0)
      tcpud_log(LOG_ERR,
                "control socket %s: another tcpud answers there "
                "(set ControlSocket or --socket for a second one)",
                path);
    else
      tcpud_log(LOG_ERR, "control socket %s: %s", path, strerror(errno));
    return -1;
  }
  uv_pipe_init(d->loop, &d->control, 0);
  d->control.data = d;
  d->control_open = 1;
  old = umask(0177); /* the socket file is created 0600 */
  rv = uv_pipe_bind(&d->control, path);
  umask(old);
  if (rv == 0)
    rv = chmod(path, 0600) == 0 ? 0 : uv_translate_sys_error(errno);
  if (rv == 0)
    rv = uv_listen((uv_stream_t *)&d->control, 16, on_control_conn);
  if (rv != 0) {
    tcpud_log(LOG_ERR, "control socket %s: %s", path, uv_strerror(rv));
    return -1;
  }
  snprintf(d->socket_path, sizeof(d->socket_path), "%s", path);
  tcpud_log(LOG_INFO, "control socket %s", path);
  return 0;
}

void tcpud_control_close(tcpud *d) {
  if (!d->control_open)
    return;
  d->control_open = 0;
  uv_close((uv_handle_t *)&d->control, NULL);
  if (d->socket_path[0] != '\0')
    unlink(d->socket_path);
}
