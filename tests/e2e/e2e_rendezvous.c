/*
 * e2e_rendezvous.c — NAT traversal through a rendezvous server (issue 8)
 * over real loopback UDP sockets: the server (libtcpu/nat/rdv_server.h on
 * a uv_udp_t, as `tcpu rendezvous` runs it) and libtcpu endpoints using
 * the tcpu_uv_rendezvous_* calls, all in one libuv loop.
 *
 * Each test runs in its own loop, bounded by a guard timer (unref'd: a
 * test ends when its handles are closed, or fails when the guard fires);
 * nothing sleeps.
 *
 *   plain_connect        two plain endpoints meet with
 *                        tcpu_uv_rendezvous_connect (the second starts
 *                        300 ms late, so the first sees NOT_FOUND first),
 *                        open simultaneously from port 4242 to 4242 and
 *                        move 1 MiB each way, verified
 *   sealed_connect       the same with sealed endpoints named by their
 *                        base64 public keys (self name NULL)
 *   dual_stack_connect   one endpoint on a dual-stack "::" socket, the
 *                        other and the server on IPv4
 *   register_push        a registration reports its observed address and
 *                        the peer that looks it up; the lookup completes
 *   lookup_timeout       a name nobody registered: UV_ETIMEDOUT
 *   foreign_push         a PEER pushed by someone other than the server
 *                        is ignored
 *   cancel               tcpu_uv_rendezvous_cancel, _connect_cancel and
 *                        closing the endpoint complete with UV_ECANCELED
 *
 *   e2e_rendezvous              run every test
 *   e2e_rendezvous NAME...      run the named tests
 *
 * Prints PASS/FAIL per test; exits 0 when nothing failed, else 1.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "e2e_harness.h"
#include "nat/rdv_server.h"
#include "tcpu/tcpu_uv.h"

/* ------------------------------------------------------------- server */

/* The server of `tcpu rendezvous`, in the test's loop. */
static struct {
  uv_udp_t sock;
  tcpu_rdv_server srv;
  struct sockaddr_storage addr; /* where clients reach it */
  char buf[2048];
  int open;
} server;

static void srv_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h;
  (void)size;
  *buf = uv_buf_init(server.buf, sizeof(server.buf));
}

static void srv_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                     const struct sockaddr *sa, unsigned flags) {
  tcpu_rdv_reply out[2];
  tcpu_addr from;
  int k;

  (void)h;
  if (n <= 0 || sa == NULL || (flags & UV_UDP_PARTIAL) ||
      tcpu_uv_addr_from_sockaddr(&from, sa) != 0)
    return;
  k = tcpu_rdv_server_recv(&server.srv, &from, (const uint8_t *)buf->base,
                           (size_t)n, out, uv_hrtime());
  for (int i = 0; i < k; i++) {
    struct sockaddr_storage ss;
    uv_buf_t b = uv_buf_init((char *)out[i].buf, (unsigned)out[i].len);
    tcpu_uv_addr_to_sockaddr(&ss, NULL, &out[i].to);
    uv_udp_try_send(&server.sock, &b, 1, (struct sockaddr *)&ss);
  }
}

static int server_start(void) {
  struct sockaddr_in sin;
  int len = sizeof(server.addr);

  memset(&server, 0, sizeof(server));
  if (tcpu_rdv_server_init(&server.srv, 64, 0, 0, NULL) != 0)
    return -1;
  uv_ip4_addr("127.0.0.1", 0, &sin);
  uv_udp_init(loop, &server.sock);
  server.open = 1;
  if (uv_udp_bind(&server.sock, (struct sockaddr *)&sin, 0) != 0 ||
      uv_udp_recv_start(&server.sock, srv_alloc, srv_recv) != 0 ||
      uv_udp_getsockname(&server.sock, (struct sockaddr *)&server.addr,
                         &len) != 0)
    return -1;
  return 0;
}

static void server_stop(void) {
  if (server.open) {
    server.open = 0;
    uv_close((uv_handle_t *)&server.sock, NULL);
  }
}

static const struct sockaddr *server_sa(void) {
  return (const struct sockaddr *)&server.addr;
}

/* ---------------------------------------------------------- endpoints */

/* The endpoint's bound address as a tcpu_addr with ip (a literal). */
static tcpu_addr ep_local(const tcpu_uv_endpoint *uvep, const char *ip) {
  struct sockaddr_storage ss;
  tcpu_addr a;

  ep_addr(uvep, ip, &ss);
  tcpu_uv_addr_from_sockaddr(&a, (struct sockaddr *)&ss);
  return a;
}

/* The server goes when the last endpoint has. */
static void on_ep_closed(tcpu_uv_endpoint *uvep) {
  (void)uvep;
  if (++endpoints_closed == endpoints_opened)
    server_stop();
}

/* ------------------------------------------------ two sides that meet */

#define MEET_BYTES (1u << 20)
#define MEET_PORT 4242

typedef struct side {
  const char *label;
  const char *self, *peer; /* self NULL: sealed mode's own key */
  tcpu_uv_endpoint ep;
  tcpu_uv_stream s;
  tcpu_uv_connect_req creq;
  tcpu_uv_write_req wreq;
  tcpu_uv_shutdown_req sreq;
  uint32_t seed_tx, seed_rx;
  uint8_t *tx;
  uint64_t rx;
  int connected, eof, shut, closed, info_ok;
  int peer_family;          /* of the connection's peer address */
  uint64_t handshakes_done; /* sealed mode */
  char key_b64[TCPU_UV_RENDEZVOUS_NAME_MAX + 1]; /* sealed: its name */
} side;

static side sa, sb;
static uv_timer_t late_timer;

static void side_closed(tcpu_uv_stream *s) {
  side *x = s->data;

  x->closed = 1;
  tcpu_uv_endpoint_close(&x->ep, on_ep_closed);
}

static void side_maybe_close(side *x) {
  if (x->eof && x->shut && !x->closed)
    tcpu_uv_close(&x->s, side_closed);
}

/* While the connection is up: it opened simultaneously from MEET_PORT to
 * MEET_PORT, with the peer rendezvous_meet added, and no SYN ever met a
 * closed port (no reset either way); no rendezvous message reached the
 * core (none was counted as a bad segment). */
static void side_check_conn(side *x) {
  tcpu_conn_info ci;
  tcpu_endpoint_stats st;

  CHECK_ERR(tcpu_uv_stream_get_info(&x->s, &ci), 0);
  CHECK_EQ(ci.local_port, MEET_PORT);
  CHECK_EQ(ci.remote_port, MEET_PORT);
  CHECK(tcpu_peer_by_addr(x->ep.ep, &ci.peer) != NULL);
  tcpu_endpoint_get_stats(x->ep.ep, &st);
  CHECK_EQ(st.rst_sent, 0);
  CHECK_EQ(st.rst_received, 0);
  CHECK_EQ(st.drop_bad_offset, 0);
  CHECK_EQ(st.drop_short, 0);
  x->peer_family = ci.peer.family;
  x->handshakes_done = st.handshakes_done;
  x->info_ok = 1;
}

static void side_shut(tcpu_uv_shutdown_req *req, int status) {
  side *x = req->data;

  CHECK_ERR(status, 0);
  side_check_conn(x);
  x->shut = 1;
  side_maybe_close(x);
}

static void side_read(tcpu_uv_stream *s, ssize_t n, const uv_buf_t *buf) {
  side *x = s->data;

  for (ssize_t i = 0; i < n; i++)
    if ((uint8_t)buf->base[i] != pat(x->seed_rx, x->rx + (uint64_t)i)) {
      free(buf->base);
      fail_at(__LINE__, "%s: byte %llu differs", x->label,
              (unsigned long long)(x->rx + (uint64_t)i));
      return;
    }
  if (n > 0)
    x->rx += (uint64_t)n;
  free(buf->base);
  if (n == UV_EOF) {
    CHECK_EQ(x->rx, MEET_BYTES);
    x->eof = 1;
    side_maybe_close(x);
  } else if (n < 0) {
    fail_at(__LINE__, "%s: read: %s", x->label, uv_err_name((int)n));
  }
}

static void side_connected(tcpu_uv_connect_req *req, int status) {
  side *x = req->data;
  uv_buf_t b;

  if (status != 0) {
    fail_at(__LINE__, "%s: connect: %s", x->label, uv_err_name(status));
    return;
  }
  x->connected = 1;
  CHECK_ERR(tcpu_uv_read_start(&x->s, on_alloc, side_read), 0);
  b = uv_buf_init((char *)x->tx, MEET_BYTES);
  CHECK_ERR(tcpu_uv_write(&x->wreq, &x->s, &b, 1, NULL), 0);
  CHECK_ERR(tcpu_uv_shutdown(&x->sreq, &x->s, side_shut), 0);
}

static int side_open(side *x, const char *label, const char *ip,
                     const tcpu_settings *st, uint32_t seed_tx,
                     uint32_t seed_rx) {
  uint8_t pub[TCPU_KEY_LEN];

  x->label = label;
  if (ep_open(&x->ep, ip, st) != 0)
    return -1;
  if (tcpu_endpoint_public_key(x->ep.ep, pub) == 0)
    sodium_bin2base64(x->key_b64, sizeof(x->key_b64), pub, sizeof(pub),
                      sodium_base64_VARIANT_ORIGINAL);
  x->seed_tx = seed_tx;
  x->seed_rx = seed_rx;
  x->tx = pat_buf(seed_tx, 0, MEET_BYTES);
  if (tcpu_uv_stream_init(&x->ep, &x->s) != 0)
    return -1;
  x->s.data = x->creq.data = x->sreq.data = x->wreq.data = x;
  return 0;
}

static void side_start(side *x) {
  int rv = tcpu_uv_rendezvous_connect(&x->creq, &x->s, server_sa(), x->self,
                                      x->peer, MEET_PORT, 15000,
                                      side_connected);
  if (rv != 0)
    fail_at(__LINE__, "%s: rendezvous_connect: %s", x->label, uv_err_name(rv));
}

static void late_start(uv_timer_t *t) {
  uv_close((uv_handle_t *)t, NULL);
  side_start(&sb);
}

/* a starts at once, b 300 ms later: a's lookups find nothing first, then
 * b's lookup finds a and the server pushes b to a. */
static void meet_start(const char *ip_a, const tcpu_settings *st_a,
                       const tcpu_settings *st_b, int sealed) {
  memset(&sa, 0, sizeof(sa));
  memset(&sb, 0, sizeof(sb));
  if (server_start() != 0) {
    fail_at(__LINE__, "server");
    return;
  }
  CHECK_EQ(side_open(&sa, "a", ip_a, st_a, 1, 2), 0);
  CHECK_EQ(side_open(&sb, "b", "127.0.0.1", st_b, 2, 1), 0);
  if (sealed) {
    sa.self = sb.self = NULL; /* their keys */
    sa.peer = sb.key_b64;
    sb.peer = sa.key_b64;
  } else {
    sa.self = sb.peer = "alice";
    sb.self = sa.peer = "bob";
  }
  side_start(&sa);
  uv_timer_init(loop, &late_timer);
  uv_timer_start(&late_timer, late_start, 300, 0);
}

static void meet_verify(void) {
  CHECK_EQ(endpoints_closed, 2);
  for (side *x = &sa; x != NULL; x = x == &sa ? &sb : NULL) {
    CHECK_EQ(x->connected, 1);
    CHECK_EQ(x->rx, MEET_BYTES);
    CHECK_EQ(x->info_ok, 1);
    CHECK_EQ(x->closed, 1);
    free(x->tx);
  }
  /* b's lookup found a; a's first lookups did not find b. */
  CHECK(server.srv.stats.found >= 1);
  CHECK(server.srv.stats.not_found >= 1);
  CHECK_EQ(server.srv.stats.malformed, 0);
  tcpu_rdv_server_free(&server.srv);
}

static void test_plain_connect(void) { meet_start("127.0.0.1", NULL, NULL, 0); }

static tcpu_settings sealed_a, sealed_b;

static void test_sealed_connect(void) {
  uint8_t pub[TCPU_KEY_LEN];

  tcpu_settings_default(&sealed_a);
  tcpu_settings_default(&sealed_b);
  sealed_a.mode = sealed_b.mode = TCPU_MODE_SEALED;
  CHECK_EQ(tcpu_keypair(sealed_a.private_key, pub), 0);
  CHECK_EQ(tcpu_keypair(sealed_b.private_key, pub), 0);
  meet_start("127.0.0.1", &sealed_a, &sealed_b, 1);
}

static void verify_plain_connect(void) {
  CHECK_EQ(sa.peer_family, TCPU_AF_INET);
  CHECK_EQ(sb.peer_family, TCPU_AF_INET);
  meet_verify();
}

/* The connection runs to the peer's key, through a Noise session. */
static void verify_sealed_connect(void) {
  CHECK_EQ(sa.peer_family, TCPU_AF_PEER);
  CHECK_EQ(sb.peer_family, TCPU_AF_PEER);
  CHECK(sa.handshakes_done >= 1 && sb.handshakes_done >= 1);
  meet_verify();
}

/* a on "::" reaches the IPv4 server and b as ::ffff:127.0.0.1; the
 * server sees it as IPv4, and b's address comes back to it mapped. */
static void test_dual_stack_connect(void) {
  meet_start("::", NULL, NULL, 0);
}

static void verify_dual_stack_connect(void) {
  CHECK_EQ(sa.peer_family, TCPU_AF_INET6); /* ::ffff:127.0.0.1 */
  CHECK_EQ(sb.peer_family, TCPU_AF_INET);
  meet_verify();
}

/* ----------------------------------------------- registration and push */

static tcpu_uv_endpoint rp_a, rp_b;
static tcpu_uv_rendezvous rp_reg;
static tcpu_uv_rendezvous_req rp_req;
static int rp_observed, rp_pushed, rp_found;

static void rp_maybe_end(void) {
  if (!rp_pushed || !rp_found)
    return;
  tcpu_uv_rendezvous_stop(&rp_reg);
  tcpu_uv_rendezvous_stop(&rp_reg); /* twice: nothing */
  tcpu_uv_endpoint_close(&rp_a, on_ep_closed);
  tcpu_uv_endpoint_close(&rp_b, on_ep_closed);
}

static void rp_found_cb(tcpu_uv_rendezvous_req *req, int status,
                        const tcpu_addr *peer) {
  tcpu_addr want_b = ep_local(&rp_b, "127.0.0.1");
  tcpu_addr want_a = ep_local(&rp_a, "127.0.0.1");

  CHECK_ERR(status, 0);
  CHECK(req == &rp_req);
  CHECK(tcpu_addr_equal(peer, &want_b));
  CHECK(tcpu_addr_equal(&req->observed, &want_a));
  rp_found++;
  rp_maybe_end();
}

static void rp_event(tcpu_uv_rendezvous *r, tcpu_uv_rendezvous_event ev,
                     const char *name, const tcpu_addr *addr) {
  tcpu_addr want_b = ep_local(&rp_b, "127.0.0.1");
  tcpu_addr want_a = ep_local(&rp_a, "127.0.0.1");
  tcpu_addr conn;

  CHECK(r == &rp_reg);
  if (ev == TCPU_UV_RENDEZVOUS_OBSERVED) {
    CHECK_EQ(strcmp(name, "bob"), 0);
    CHECK(tcpu_addr_equal(addr, &want_b));
    CHECK(tcpu_addr_equal(&r->observed, &want_b));
    rp_observed++;
    /* bob is registered: alice looks him up. */
    CHECK_ERR(tcpu_uv_rendezvous_lookup(&rp_req, &rp_a, server_sa(), "alice",
                                        "bob", 5000, rp_found_cb),
              0);
    return;
  }
  CHECK_EQ(ev, TCPU_UV_RENDEZVOUS_PEER);
  CHECK_EQ(strcmp(name, "alice"), 0);
  CHECK(tcpu_addr_equal(addr, &want_a));
  /* What a daemon does: let alice through its NAT. */
  CHECK_ERR(tcpu_uv_rendezvous_meet(&rp_b, name, addr, &conn), 0);
  CHECK(tcpu_addr_equal(&conn, addr));
  CHECK(tcpu_peer_by_addr(rp_b.ep, addr) != NULL);
  /* Meeting again finds the peer already there. */
  CHECK_ERR(tcpu_uv_rendezvous_meet(&rp_b, name, addr, NULL), 0);
  rp_pushed++;
  rp_maybe_end();
}

static void test_register_push(void) {
  rp_observed = rp_pushed = rp_found = 0;
  CHECK_EQ(server_start(), 0);
  CHECK_EQ(ep_open(&rp_a, "127.0.0.1", NULL), 0);
  CHECK_EQ(ep_open(&rp_b, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_rendezvous_register(&rp_reg, &rp_b, server_sa(), "bob",
                                        rp_event),
            0);
  CHECK(rp_reg.endpoint == &rp_b);
}

static void verify_register_push(void) {
  CHECK_EQ(rp_observed, 1);
  CHECK_EQ(rp_pushed, 1);
  CHECK_EQ(rp_found, 1);
  CHECK_EQ(endpoints_closed, 2);
  CHECK_EQ(server.srv.stats.found, 1);
  tcpu_rdv_server_free(&server.srv);
}

/* -------------------------------------------------------------- timeout */

static tcpu_uv_endpoint lt_ep;
static tcpu_uv_rendezvous_req lt_req;
static int lt_status = 1;
static uint64_t lt_ms;

static void lt_done(tcpu_uv_rendezvous_req *req, int status,
                    const tcpu_addr *peer) {
  (void)req;
  lt_status = status;
  lt_ms = elapsed_ms();
  CHECK(peer == NULL);
  tcpu_uv_endpoint_close(&lt_ep, on_ep_closed);
}

static void test_lookup_timeout(void) {
  CHECK_EQ(server_start(), 0);
  CHECK_EQ(ep_open(&lt_ep, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&lt_req, &lt_ep, server_sa(), "alice",
                                      "nobody", 700, lt_done),
            0);
}

static void verify_lookup_timeout(void) {
  CHECK_ERR(lt_status, UV_ETIMEDOUT);
  CHECK(lt_ms >= 700 && lt_ms < 3000);
  /* Asked at once and every 250 ms: at 0, 250, 500 (and maybe 750). */
  CHECK(server.srv.stats.lookups >= 3);
  CHECK_EQ(server.srv.stats.lookups, server.srv.stats.not_found);
  CHECK_EQ(server.srv.stats.registers, server.srv.stats.lookups);
  tcpu_rdv_server_free(&server.srv);
}

/* --------------------------------------------------------- foreign push */

static tcpu_uv_endpoint fp_ep;
static tcpu_uv_rendezvous_req fp_req;
static uv_udp_t fp_rogue;
static int fp_status = 1;

static void fp_done(tcpu_uv_rendezvous_req *req, int status,
                    const tcpu_addr *peer) {
  tcpu_endpoint_stats st;

  (void)req;
  (void)peer;
  fp_status = status;
  tcpu_endpoint_get_stats(fp_ep.ep, &st);
  /* Diverted before the core: no bad segments counted. */
  CHECK_EQ(st.drop_bad_offset + st.drop_short + st.drop_bad_checksum, 0);
  uv_close((uv_handle_t *)&fp_rogue, NULL);
  tcpu_uv_endpoint_close(&fp_ep, on_ep_closed);
}

static void test_foreign_push(void) {
  struct sockaddr_in any;
  struct sockaddr_storage to;
  uint8_t b[TCPU_RDV_MAX_LEN], junk[40];
  tcpu_rdv_msg m;
  tcpu_addr me;
  tcpu_ssize n;
  uv_buf_t ub;

  CHECK_EQ(server_start(), 0);
  CHECK_EQ(ep_open(&fp_ep, "127.0.0.1", NULL), 0);
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&fp_req, &fp_ep, server_sa(), "alice",
                                      "bob", 800, fp_done),
            0);
  /* Someone else claims to know bob: right name, txid 0, wrong source. */
  uv_ip4_addr("127.0.0.1", 0, &any);
  uv_udp_init(loop, &fp_rogue);
  CHECK_ERR(uv_udp_bind(&fp_rogue, (struct sockaddr *)&any, 0), 0);
  memset(&m, 0, sizeof(m));
  m.type = TCPU_RDV_PEER;
  tcpu_rdv_name_set(&m.name, "bob");
  me = ep_local(&fp_ep, "127.0.0.1");
  m.addr = me;
  m.addr.port = 9;
  n = tcpu_rdv_encode(&m, b, sizeof(b));
  CHECK(n > 0);
  tcpu_uv_addr_to_sockaddr(&to, NULL, &me);
  ub = uv_buf_init((char *)b, (unsigned)n);
  CHECK(uv_udp_try_send(&fp_rogue, &ub, 1, (struct sockaddr *)&to) > 0);
  /* And a malformed message with the magic. */
  memset(junk, 0xee, sizeof(junk));
  memcpy(junk, TCPU_RDV_MAGIC, TCPU_RDV_MAGIC_LEN);
  ub = uv_buf_init((char *)junk, sizeof(junk));
  CHECK(uv_udp_try_send(&fp_rogue, &ub, 1, (struct sockaddr *)&to) > 0);
}

static void verify_foreign_push(void) {
  CHECK_ERR(fp_status, UV_ETIMEDOUT);
  tcpu_rdv_server_free(&server.srv);
}

/* --------------------------------------------------------------- cancel */

static tcpu_uv_endpoint cc_ep;
static tcpu_uv_rendezvous_req cc_l1, cc_l2;
static tcpu_uv_stream cc_s;
static tcpu_uv_connect_req cc_creq;
static int cc_l1_status, cc_l2_status, cc_c_status, cc_ep_closed_after_l2;
static int cc_steps;

static void cc_ep_closed(tcpu_uv_endpoint *uvep) {
  cc_ep_closed_after_l2 = cc_l2_status == UV_ECANCELED;
  on_ep_closed(uvep);
}

static void cc_step(void) {
  /* Both cancellations are in: closing the endpoint cancels the rest. */
  if (++cc_steps == 2) {
    tcpu_uv_close(&cc_s, NULL);
    tcpu_uv_endpoint_close(&cc_ep, cc_ep_closed);
  }
}

static void cc_l1_done(tcpu_uv_rendezvous_req *req, int status,
                       const tcpu_addr *peer) {
  (void)req;
  CHECK(peer == NULL);
  cc_l1_status = status;
  CHECK_ERR(tcpu_uv_rendezvous_cancel(&cc_l1), UV_EINVAL); /* over */
  cc_step();
}

static void cc_l2_done(tcpu_uv_rendezvous_req *req, int status,
                       const tcpu_addr *peer) {
  (void)req;
  (void)peer;
  cc_l2_status = status;
  /* The endpoint is closing: nothing new starts. */
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&cc_l1, &cc_ep, server_sa(), "x", "y",
                                      0, cc_l1_done),
            UV_EINVAL);
}

static void cc_connected(tcpu_uv_connect_req *req, int status) {
  CHECK(req == &cc_creq);
  cc_c_status = status;
  cc_step();
}

static void test_cancel(void) {
  tcpu_addr dummy;
  tcpu_uv_rendezvous reg;

  cc_l1_status = cc_l2_status = cc_c_status = 1;
  cc_steps = cc_ep_closed_after_l2 = 0;
  CHECK_EQ(server_start(), 0);
  CHECK_EQ(ep_open(&cc_ep, "127.0.0.1", NULL), 0);

  /* Argument errors: the callback never runs. */
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&cc_l1, &cc_ep, server_sa(), "a b",
                                      "bob", 0, cc_l1_done),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&cc_l1, &cc_ep, server_sa(), "alice",
                                      "", 0, cc_l1_done),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&cc_l1, &cc_ep, server_sa(), NULL,
                                      "bob", 0, cc_l1_done),
            UV_EINVAL); /* no key to name us by in plain mode */
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&cc_l1, &cc_ep, NULL, "alice", "bob", 0,
                                      cc_l1_done),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&cc_l1, &cc_ep, server_sa(), "alice",
                                      "bob", 0, NULL),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_rendezvous_register(NULL, &cc_ep, server_sa(), "a", NULL),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_rendezvous_register(&reg, NULL, server_sa(), "a", NULL),
            UV_EINVAL);
  CHECK_ERR(tcpu_uv_rendezvous_meet(&cc_ep, "x", NULL, NULL), UV_EINVAL);
  memset(&dummy, 0, sizeof(dummy));
  CHECK_ERR(tcpu_uv_rendezvous_meet(&cc_ep, "x", &dummy, NULL), UV_EINVAL);
  CHECK_ERR(tcpu_uv_rendezvous_cancel(NULL), UV_EINVAL);
  CHECK_ERR(tcpu_uv_rendezvous_connect_cancel(NULL), UV_EINVAL);
  tcpu_uv_rendezvous_stop(NULL);

  CHECK_ERR(tcpu_uv_stream_init(&cc_ep, &cc_s), 0);
  CHECK_ERR(tcpu_uv_rendezvous_connect(&cc_creq, &cc_s, server_sa(), "alice",
                                       "bob", 0, 0, cc_connected),
            UV_EINVAL); /* port 0 */

  /* A lookup cancelled: UV_ECANCELED from the loop, not from the call. */
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&cc_l1, &cc_ep, server_sa(), "alice",
                                      "bob", 0, cc_l1_done),
            0);
  CHECK_ERR(tcpu_uv_rendezvous_cancel(&cc_l1), 0);
  CHECK_ERR(tcpu_uv_rendezvous_cancel(&cc_l1), UV_EINVAL); /* already */
  CHECK_EQ(cc_l1_status, 1);
  /* A connect cancelled during its lookup. */
  CHECK_ERR(tcpu_uv_rendezvous_connect(&cc_creq, &cc_s, server_sa(), "alice",
                                       "bob", 4242, 0, cc_connected),
            0);
  CHECK_ERR(tcpu_uv_rendezvous_connect_cancel(&cc_creq), 0);
  CHECK_EQ(cc_c_status, 1);
  /* A lookup still waiting when the endpoint closes. */
  CHECK_ERR(tcpu_uv_rendezvous_lookup(&cc_l2, &cc_ep, server_sa(), "alice",
                                      "carol", 0, cc_l2_done),
            0);
}

static void verify_cancel(void) {
  CHECK_ERR(cc_l1_status, UV_ECANCELED);
  CHECK_ERR(cc_c_status, UV_ECANCELED);
  CHECK_ERR(cc_l2_status, UV_ECANCELED);
  CHECK_EQ(cc_ep_closed_after_l2, 1);
  CHECK_EQ(endpoints_closed, 1);
  tcpu_rdv_server_free(&server.srv);
}

/* ------------------------------------------------------------- runner */

static const test_case tests[] = {
    {"plain_connect", test_plain_connect, verify_plain_connect, 20000},
    {"sealed_connect", test_sealed_connect, verify_sealed_connect, 20000},
    {"dual_stack_connect", test_dual_stack_connect, verify_dual_stack_connect,
     20000},
    {"register_push", test_register_push, verify_register_push, 10000},
    {"lookup_timeout", test_lookup_timeout, verify_lookup_timeout, 10000},
    {"foreign_push", test_foreign_push, verify_foreign_push, 10000},
    {"cancel", test_cancel, verify_cancel, 10000},
};

int main(int argc, char **argv) {
  if (sodium_init() < 0)
    return 1;
  return e2e_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
