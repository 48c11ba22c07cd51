/*
 * rendezvous_connect.c — meeting a peer found through the rendezvous
 * server, and the one-call connect on top (tcpu_uv_rendezvous_meet,
 * tcpu_uv_rendezvous_connect; issue 8).
 *
 * Both sides of a rendezvous learn the other's observed address at about
 * the same moment (the server answers one and pushes to the other,
 * nat/rendezvous.h).  Each then
 *   1. makes the other a peer of its endpoint: plain mode by UDP address,
 *      sealed mode by public key (the name is the key in base64), with a
 *      persistent keepalive so the NAT mappings outlive idle periods;
 *   2. punches: datagrams towards the peer at once and for 1.5 s
 *      (tcpu_peer_punch), so its own NAT opens a mapping that the peer's
 *      datagrams match (RFC 5128 §3.3, UDP hole punching); whichever
 *      side's datagram leaves second gets through;
 *   3. opens TCP from port P to port P (tcpu_uv_connect_addr): the two
 *      SYNs cross and both sides pass SYN_SENT -> SYN_RECEIVED ->
 *      ESTABLISHED, the simultaneous open of RFC 9293 §3.5 (figure 8), so
 *      neither side needs a listener.  A SYN lost to a NAT that had no
 *      mapping yet is simply retransmitted.
 *
 * The stream stays fresh while the lookup runs (stream.c knows nothing of
 * it), which is why the application must cancel with
 * tcpu_uv_rendezvous_connect_cancel before closing it; as a safety net a
 * lookup whose stream has disappeared from the endpoint ends silently.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "uv/internal.h"

/* WireGuard's advice for peers behind NATs (wg(8), PersistentKeepalive). */
#define MEET_KEEPALIVE_NS (25 * TCPU_NS_PER_S)

typedef struct rdv_connect {
  tcpu_uv_rendezvous_req lookup; /* first: the lookup callback's req */
  tcpu_uv_endpoint_impl *impl;
  tcpu_uv_connect_req *req;
  tcpu_uv_stream *stream;
  tcpu_uv_connect_cb cb;
  uint16_t port;
  uint64_t deadline; /* uv_hrtime() ns, UINT64_MAX: none */
} rdv_connect;

/* ------------------------------------------------------------------ meet */

int tcpu_uv_rendezvous_meet(tcpu_uv_endpoint *uvep, const char *peer_name,
                            const tcpu_addr *peer_endpoint,
                            tcpu_addr *conn_addr) {
  tcpu_endpoint *ep;
  tcpu_peer *p;
  uint8_t key[TCPU_KEY_LEN];
  tcpu_tstamp now = tcpu_uv__now();
  int rv = 0;

  if (uvep == NULL || uvep->impl == NULL || uvep->impl->closing ||
      peer_endpoint == NULL)
    return UV_EINVAL;
  ep = uvep->impl->ep;
  if (tcpu_endpoint_public_key(ep, key) == 0) {
    /* Sealed mode: the name is the peer's key (nat/rendezvous.h). */
    size_t klen = 0;
    if (peer_name == NULL ||
        sodium_base642bin(key, sizeof(key), peer_name, strlen(peer_name), NULL,
                          &klen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        klen != sizeof(key))
      return UV_EINVAL;
    p = tcpu_peer_find(ep, key);
    if (p != NULL)
      rv = tcpu_peer_set_endpoint(p, peer_endpoint, now);
    else if ((rv = tcpu_peer_add(ep, key, NULL, peer_endpoint, &p, now)) == 0)
      tcpu_peer_set_persistent_keepalive(p, MEET_KEEPALIVE_NS, now);
  } else {
    p = tcpu_peer_by_addr(ep, peer_endpoint);
    if (p == NULL &&
        (rv = tcpu_peer_add(ep, NULL, NULL, peer_endpoint, &p, now)) == 0)
      tcpu_peer_set_persistent_keepalive(p, MEET_KEEPALIVE_NS, now);
  }
  if (rv == 0)
    rv = tcpu_peer_punch(p, now);
  if (rv != 0)
    return tcpu_uv_translate_error(rv);
  if (conn_addr != NULL)
    tcpu_peer_addr(p, conn_addr);
  /* The binding does not see peer calls: send the first punch now. */
  tcpu_uv__ep_flush(uvep->impl);
  return 0;
}

/* --------------------------------------------------------------- connect */

static int stream_alive(const tcpu_uv_endpoint_impl *impl,
                        const tcpu_uv_stream *s) {
  for (const tcpu_uv_stream *x = impl->streams.all; x != NULL;
       x = x->all_next)
    if (x == s)
      return 1;
  return 0;
}

static void on_looked_up(tcpu_uv_rendezvous_req *lk, int status,
                         const tcpu_addr *peer) {
  rdv_connect rc = *(rdv_connect *)lk;
  char name[TCPU_UV_RENDEZVOUS_NAME_MAX + 1];
  tcpu_addr addr;
  uint64_t ms = 0, now = tcpu_uv__now();

  memcpy(name, lk->client.peer, sizeof(name));
  free(lk);
  if (!stream_alive(rc.impl, rc.stream))
    return; /* closed without cancelling: nobody left to tell */
  if (status == 0)
    status = tcpu_uv_rendezvous_meet(rc.stream->endpoint, name, peer, &addr);
  if (status == 0 && rc.deadline != UINT64_MAX) {
    if (now >= rc.deadline)
      status = UV_ETIMEDOUT;
    else
      ms = (rc.deadline - now + TCPU_NS_PER_MS - 1) / TCPU_NS_PER_MS;
  }
  if (status == 0)
    status = tcpu_uv_connect_addr(rc.req, rc.stream, &addr, rc.port, rc.port,
                                  ms, rc.cb);
  if (status != 0 && rc.cb != NULL)
    rc.cb(rc.req, status);
}

int tcpu_uv_rendezvous_connect(tcpu_uv_connect_req *req,
                               tcpu_uv_stream *stream,
                               const struct sockaddr *server,
                               const char *self_name, const char *peer_name,
                               uint16_t port, uint64_t timeout_ms,
                               tcpu_uv_connect_cb cb) {
  rdv_connect *rc;
  int rv;

  /* A fresh stream: initialized, nothing started on it (stream.c). */
  if (req == NULL || stream == NULL || server == NULL || peer_name == NULL ||
      port == 0 || stream->impl == NULL || stream->impl->closing ||
      stream->flags != 0 || stream->conn != NULL)
    return UV_EINVAL;
  rc = calloc(1, sizeof(*rc));
  if (rc == NULL)
    return UV_ENOMEM;
  rc->impl = stream->impl;
  rc->req = req;
  rc->stream = stream;
  rc->cb = cb;
  rc->port = port;
  rc->deadline = UINT64_MAX;
  if (timeout_ms > 0 && timeout_ms < UINT64_MAX / TCPU_NS_PER_MS)
    rc->deadline = tcpu_uv__now() + timeout_ms * TCPU_NS_PER_MS;
  rv = tcpu_uv_rendezvous_lookup(&rc->lookup, stream->endpoint, server,
                                 self_name, peer_name, timeout_ms,
                                 on_looked_up);
  if (rv != 0) {
    free(rc);
    return rv;
  }
  req->handle = stream;
  req->cb = cb;
  return 0;
}

int tcpu_uv_rendezvous_connect_cancel(tcpu_uv_connect_req *req) {
  tcpu_uv_endpoint_impl *impl;

  if (req == NULL || req->handle == NULL || req->handle->impl == NULL)
    return UV_EINVAL;
  impl = req->handle->impl;
  for (tcpu_uv_rdv_client *c = impl->rdv.clients; c != NULL; c = c->next) {
    tcpu_uv_rendezvous_req *lk = c->owner;
    if (c->kind == TCPU_UV__RDV_LOOKUP && lk->cb == on_looked_up &&
        ((rdv_connect *)lk)->req == req)
      return tcpu_uv_rendezvous_cancel(lk);
  }
  return UV_EINVAL;
}
