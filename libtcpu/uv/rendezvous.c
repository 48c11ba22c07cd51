/*
 * rendezvous.c — the rendezvous client of the libuv binding
 * (tcpu_uv_rendezvous_register/_stop/_lookup/_cancel; issue 8, NAT
 * traversal; nat/rendezvous.h has the protocol).
 *
 * The requests leave through the endpoint's own socket, straight into the
 * I/O engine's send queue: the point of registering is that the server
 * observes the NAT mapping the tunnel's datagrams use, which a socket of
 * our own would not share (RFC 4787 §4.1: a NAT may map each internal
 * socket, and each destination, differently).  The answers come back on
 * that socket too; endpoint.c diverts every datagram that
 * tcpu_rdv_is_message recognises to tcpu_uv__rdv_input before the core
 * sees it (once a client was started: until then the core drops them as
 * invalid segments, rendezvous.h).
 *
 * Each registration and lookup is a client on the endpoint's list; one
 * timer per endpoint resends their requests:
 *   registration  REGISTER at once, then after 250 ms, 500 ms, 1 s, ...
 *                 (doubling up to 15 s) until OBSERVED, then every 15 s
 *                 (TCPU_RDV_REFRESH_NS), which also keeps the NAT's
 *                 mapping towards the server open;
 *   lookup        REGISTER and LOOKUP at once and every 250 ms
 *                 (TCPU_RDV_RETRY_NS) until PEER or the deadline.
 * Only datagrams from the client's server count, and replies must carry
 * the client's random transaction id (a PEER pushed with id 0 must name
 * the peer looked for), so an off-path sender has to guess 64 bits.
 *
 * Callbacks run from the loop, inside a batch (internal.h): from the
 * timer (bracketed here) or from the input (endpoint.c's receive batch),
 * never inside the application's call.  A pass over the clients may run
 * callbacks that start or stop clients, so a pass marks each client it
 * visited with a serial number and looks for the next unmarked one from
 * the head of the list again: it never follows a pointer a callback may
 * have invalidated.
 */
#include <sodium.h>
#include <string.h>

#include "crypto/noise.h"
#include "nat/rendezvous.h"
#include "uv/internal.h"

/* --------------------------------------------------------------- helpers */

static uint64_t add_ns(uint64_t t, uint64_t d) {
  return d > UINT64_MAX - t ? UINT64_MAX : t + d;
}

/* A peer's address as this endpoint's socket reaches it (IPv4 through a
 * dual-stack IPv6 socket is ::ffff:a.b.c.d). */
static int socket_view(const tcpu_uv_endpoint_impl *impl, const tcpu_addr *a,
                       tcpu_addr *out) {
  struct sockaddr_storage ss;

  if (tcpu_uv_addr_to_sockaddr(&ss, NULL, a) != 0)
    return UV_EAFNOSUPPORT;
  return tcpu_uv__ep_peer_addr(impl, (const struct sockaddr *)&ss, out);
}

/* self NULL: sealed mode's own public key in base64, the convention
 * (nat/rendezvous.h). */
static int self_name(const tcpu_uv_endpoint_impl *impl, const char *self,
                     char out[TCPU_UV_RENDEZVOUS_NAME_MAX + 1]) {
  tcpu_rdv_name n;

  if (self == NULL) {
    uint8_t pub[TCPU_KEY_LEN];
    if (tcpu_endpoint_public_key(impl->ep, pub) != 0)
      return UV_EINVAL;
    sodium_bin2base64(out, TCPU_UV_RENDEZVOUS_NAME_MAX + 1, pub, sizeof(pub),
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
  }
  if (tcpu_rdv_name_set(&n, self) != 0)
    return UV_EINVAL;
  memcpy(out, n.s, (size_t)n.len + 1);
  return 0;
}

/* ---------------------------------------------------------------- output */

/* Queues one message for the server and pushes the queue out.  A full
 * socket drops it: the timer sends it again. */
static void send_msg(tcpu_uv_endpoint_impl *impl, const tcpu_addr *to,
                     const tcpu_rdv_msg *m) {
  uint8_t *buf = tcpu_io_next_buf(&impl->io);
  tcpu_ssize n;

  if (buf == NULL)
    return;
  n = tcpu_rdv_encode(m, buf, impl->io.max_dgram);
  if (n <= 0)
    return;
  tcpu_io_commit(&impl->io, to, (size_t)n);
  tcpu_io_flush(&impl->io);
}

static void send_requests(tcpu_uv_endpoint_impl *impl, tcpu_uv_rdv_client *c) {
  tcpu_rdv_msg m;

  memset(&m, 0, sizeof(m));
  m.type = TCPU_RDV_REGISTER;
  m.txid = c->txid;
  tcpu_rdv_name_set(&m.name, c->self);
  send_msg(impl, &c->server, &m);
  if (c->kind == TCPU_UV__RDV_LOOKUP) {
    /* After the REGISTER: the server answers only registered lookers. */
    m.type = TCPU_RDV_LOOKUP;
    tcpu_rdv_name_set(&m.peer, c->peer);
    send_msg(impl, &c->server, &m);
  }
}

/* ----------------------------------------------------------- the clients */

static void on_timer(uv_timer_t *timer);

static void arm(tcpu_uv_endpoint_impl *impl) {
  uint64_t first = UINT64_MAX, now, ms;

  if (impl->closing || !impl->rdv.used)
    return;
  for (tcpu_uv_rdv_client *c = impl->rdv.clients; c != NULL; c = c->next) {
    uint64_t t = c->canceled ? 0
                 : c->next_send < c->deadline ? c->next_send
                                              : c->deadline;
    if (t < first)
      first = t;
  }
  if (first == UINT64_MAX) {
    uv_timer_stop(&impl->rdv.timer);
    return;
  }
  now = tcpu_uv__now();
  ms = first <= now ? 0 : (first - now + TCPU_NS_PER_MS - 1) / TCPU_NS_PER_MS;
  uv_update_time(impl->loop);
  uv_timer_start(&impl->rdv.timer, on_timer, ms, 0);
}

static void unlink_client(tcpu_uv_endpoint_impl *impl, tcpu_uv_rdv_client *c) {
  for (tcpu_uv_rdv_client **pp = &impl->rdv.clients; *pp != NULL;
       pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  c->next = NULL;
  c->impl = NULL;
}

/* The next client of this pass (rendezvous.c's head comment), or NULL;
 * NULL too once a callback closed the endpoint: its socket is going and
 * timer_closed finishes the clients. */
static tcpu_uv_rdv_client *next_unvisited(tcpu_uv_endpoint_impl *impl) {
  if (impl->closing)
    return NULL;
  for (tcpu_uv_rdv_client *c = impl->rdv.clients; c != NULL; c = c->next) {
    if (c->serial != impl->rdv.serial) {
      c->serial = impl->rdv.serial;
      return c;
    }
  }
  return NULL;
}

/* A lookup is over: off the list, then its callback (which may reuse or
 * release the request). */
static void complete(tcpu_uv_endpoint_impl *impl, tcpu_uv_rdv_client *c,
                     int status, const tcpu_addr *addr) {
  tcpu_uv_rendezvous_req *req = c->owner;

  unlink_client(impl, c);
  req->cb(req, status, status == 0 ? addr : NULL);
}

static void tick(tcpu_uv_endpoint_impl *impl) {
  tcpu_uv_rdv_client *c;
  uint64_t now = tcpu_uv__now();

  impl->rdv.serial++;
  while ((c = next_unvisited(impl)) != NULL) {
    if (c->canceled) {
      complete(impl, c, UV_ECANCELED, NULL);
    } else if (c->deadline <= now) {
      complete(impl, c, UV_ETIMEDOUT, NULL);
    } else if (c->next_send <= now) {
      send_requests(impl, c);
      c->next_send = add_ns(now, c->interval);
      if (c->kind == TCPU_UV__RDV_REGISTER &&
          c->interval < TCPU_RDV_REFRESH_NS) {
        /* Unanswered: back off towards the refresh interval. */
        c->interval *= 2;
        if (c->interval > TCPU_RDV_REFRESH_NS)
          c->interval = TCPU_RDV_REFRESH_NS;
      }
    }
  }
  arm(impl);
}

static void on_timer(uv_timer_t *timer) {
  tcpu_uv_endpoint_impl *impl = timer->data;

  if (impl->closing)
    return;
  tcpu_uv__ep_batch_begin(impl);
  tick(impl);
  tcpu_uv__ep_batch_end(impl);
}

static int start(tcpu_uv_rdv_client *c, tcpu_uv_endpoint *uvep, unsigned kind,
                 void *owner, const struct sockaddr *server, const char *self,
                 const char *peer, uint64_t timeout_ms) {
  tcpu_uv_endpoint_impl *impl;
  tcpu_rdv_name pn;
  uint64_t now;
  int rv;

  if (uvep == NULL || server == NULL || uvep->impl == NULL ||
      uvep->impl->closing)
    return UV_EINVAL;
  impl = uvep->impl;
  memset(c, 0, sizeof(*c));
  rv = self_name(impl, self, c->self);
  if (rv != 0)
    return rv;
  if (kind == TCPU_UV__RDV_LOOKUP) {
    if (tcpu_rdv_name_set(&pn, peer) != 0)
      return UV_EINVAL;
    memcpy(c->peer, pn.s, (size_t)pn.len + 1);
  }
  rv = tcpu_uv__ep_peer_addr(impl, server, &c->server);
  if (rv != 0)
    return rv;
  if (c->server.port == 0)
    return UV_EINVAL;
  if (tcpu_noise_init() != 0)
    return UV_ENOMEM;
  while (c->txid == 0) /* requests need a nonzero id */
    tcpu_noise_random(NULL, &c->txid, sizeof(c->txid));
  if (!impl->rdv.used) {
    uv_timer_init(impl->loop, &impl->rdv.timer);
    impl->rdv.timer.data = impl;
    impl->open_handles++;
    impl->rdv.used = 1;
  }
  now = tcpu_uv__now();
  c->impl = impl;
  c->owner = owner;
  c->kind = kind;
  c->interval = TCPU_RDV_RETRY_NS;
  c->deadline = timeout_ms == 0 ? UINT64_MAX
                                : add_ns(now, timeout_ms * TCPU_NS_PER_MS);
  if (timeout_ms > UINT64_MAX / TCPU_NS_PER_MS)
    c->deadline = UINT64_MAX;
  c->serial = impl->rdv.serial;
  c->next = impl->rdv.clients;
  impl->rdv.clients = c;
  send_requests(impl, c);
  c->next_send = add_ns(now, c->interval);
  if (kind == TCPU_UV__RDV_REGISTER)
    c->interval *= 2;
  arm(impl);
  return 0;
}

/* ----------------------------------------------------------------- input */

static void on_observed(tcpu_uv_rdv_client *c, const tcpu_rdv_msg *m) {
  if (c->kind == TCPU_UV__RDV_LOOKUP) {
    ((tcpu_uv_rendezvous_req *)c->owner)->observed = m->addr;
    return;
  }
  tcpu_uv_rendezvous *r = c->owner;
  int changed = !tcpu_addr_equal(&r->observed, &m->addr);

  /* Answered: from now on a refresh every 15 s is enough. */
  c->interval = TCPU_RDV_REFRESH_NS;
  c->next_send = add_ns(tcpu_uv__now(), TCPU_RDV_REFRESH_NS);
  r->observed = m->addr;
  if (changed && r->cb != NULL)
    r->cb(r, TCPU_UV_RENDEZVOUS_OBSERVED, c->self, &r->observed);
}

static void on_peer(tcpu_uv_endpoint_impl *impl, tcpu_uv_rdv_client *c,
                    const tcpu_rdv_msg *m) {
  tcpu_addr peer;
  int rv = socket_view(impl, &m->addr, &peer);

  if (c->kind == TCPU_UV__RDV_LOOKUP) {
    /* Our answer, or the peer's own lookup pushed here. */
    if ((m->txid != c->txid && m->txid != 0) ||
        strcmp(m->name.s, c->peer) != 0)
      return;
    complete(impl, c, rv, &peer);
    return;
  }
  tcpu_uv_rendezvous *r = c->owner;
  if (m->txid == 0 && rv == 0 && r->cb != NULL)
    r->cb(r, TCPU_UV_RENDEZVOUS_PEER, m->name.s, &peer);
}

void tcpu_uv__rdv_input(tcpu_uv_endpoint_impl *impl, const tcpu_addr *from,
                        const uint8_t *data, size_t len) {
  tcpu_uv_rdv_client *c;
  tcpu_rdv_msg m;

  if (tcpu_rdv_decode(&m, data, len) != 0)
    return; /* malformed, or a request: we are no server */
  if (m.type != TCPU_RDV_OBSERVED && m.type != TCPU_RDV_PEER)
    return; /* NOT_FOUND: the timer asks again */
  impl->rdv.serial++;
  while ((c = next_unvisited(impl)) != NULL) {
    if (c->canceled || !tcpu_addr_equal(&c->server, from))
      continue;
    if (m.type == TCPU_RDV_OBSERVED && m.txid == c->txid)
      on_observed(c, &m);
    else if (m.type == TCPU_RDV_PEER)
      on_peer(impl, c, &m);
  }
  arm(impl);
}

/* ------------------------------------------------------------- lifecycle */

static void timer_closed(uv_handle_t *handle) {
  tcpu_uv_endpoint_impl *impl = handle->data;
  tcpu_uv_rdv_client *c;

  /* The endpoint is gone: pending lookups are cancelled, registrations
   * just end.  Before the endpoint's close callback (internal.h). */
  while ((c = impl->rdv.clients) != NULL) {
    if (c->kind == TCPU_UV__RDV_LOOKUP)
      complete(impl, c, UV_ECANCELED, NULL);
    else
      unlink_client(impl, c);
  }
  tcpu_uv__ep_handle_closed(handle);
}

void tcpu_uv__rdv_close(tcpu_uv_endpoint_impl *impl) {
  if (!impl->rdv.used)
    return;
  uv_timer_stop(&impl->rdv.timer);
  uv_close((uv_handle_t *)&impl->rdv.timer, timer_closed);
}

/* ------------------------------------------------------------ public API */

int tcpu_uv_rendezvous_register(tcpu_uv_rendezvous *r, tcpu_uv_endpoint *uvep,
                                const struct sockaddr *server,
                                const char *self_name,
                                tcpu_uv_rendezvous_cb cb) {
  int rv;

  if (r == NULL)
    return UV_EINVAL;
  rv = start(&r->client, uvep, TCPU_UV__RDV_REGISTER, r, server, self_name,
             NULL, 0);
  if (rv != 0)
    return rv;
  r->endpoint = uvep;
  r->cb = cb;
  memset(&r->observed, 0, sizeof(r->observed));
  return 0;
}

void tcpu_uv_rendezvous_stop(tcpu_uv_rendezvous *r) {
  tcpu_uv_endpoint_impl *impl;

  if (r == NULL || r->client.impl == NULL)
    return;
  impl = r->client.impl;
  unlink_client(impl, &r->client);
  arm(impl);
}

int tcpu_uv_rendezvous_lookup(tcpu_uv_rendezvous_req *req,
                              tcpu_uv_endpoint *uvep,
                              const struct sockaddr *server,
                              const char *self_name, const char *peer_name,
                              uint64_t timeout_ms,
                              tcpu_uv_rendezvous_lookup_cb cb) {
  int rv;

  if (req == NULL || cb == NULL)
    return UV_EINVAL;
  req->cb = cb;
  rv = start(&req->client, uvep, TCPU_UV__RDV_LOOKUP, req, server,
             self_name, peer_name, timeout_ms);
  if (rv != 0)
    return rv;
  req->endpoint = uvep;
  memset(&req->observed, 0, sizeof(req->observed));
  return 0;
}

int tcpu_uv_rendezvous_cancel(tcpu_uv_rendezvous_req *req) {
  if (req == NULL || req->client.impl == NULL || req->client.canceled)
    return UV_EINVAL;
  req->client.canceled = 1;
  arm(req->client.impl);
  return 0;
}
