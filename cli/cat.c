/*
 * cat.c — `tcpu cat`: netcat over libtcpu.  stdin goes to one tunnel TCP
 * connection, what it receives goes to stdout.
 *
 *   tcpu cat [OPTIONS] HOST:UDPPORT TCPPORT      connect
 *   tcpu cat [OPTIONS] -l [ADDR:]UDPPORT [TCPPORT]  listen; accept one
 *
 * TCPPORT names the service: `tcpu cat server:7000 80` talks to service 80
 * of a tcpud at server:7000 directly.  A listener's TCPPORT defaults to
 * its UDP port.  End of input on stdin is sent as a FIN (half-close) and
 * reading goes on; tcpu cat ends when both directions have ended (the
 * peer's FIN received and written out), or at the first error.
 *
 * Exit status: 0 both directions ended cleanly, 1 connection failed (refused,
 * reset, timed out) or an I/O error, 2 usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "tcpu/tcpu_uv.h"
#include "tcpud/addr.h"
#include "tcpud/pcap.h"

#define CAT_CHUNK 65536
#define CAT_HIGH_WATER (1u << 20)
#define CAT_CONNECT_TIMEOUT_MS 30000

typedef struct buf_req {
  union {
    tcpu_uv_write_req tun;
    uv_write_t uv;
  } req;
  size_t len;
  char data[CAT_CHUNK];
} buf_req;

typedef union io_handle {
  uv_handle_t h;
  uv_stream_t s;
  uv_pipe_t pipe;
  uv_tty_t tty;
} io_handle;

typedef struct cat {
  uv_loop_t *loop;
  tcpu_uv_endpoint ep;
  tcpu_uv_stream listener, conn;
  tcpu_uv_connect_req creq;
  tcpu_uv_shutdown_req sreq;
  unsigned ep_open : 1, listening : 1, conn_open : 1, connected : 1;
  unsigned in_eof : 1, in_paused : 1, shut_done : 1, net_eof : 1;
  unsigned ending : 1, verbose : 1;
  /* stdin: a stream handle, or (files, /dev/null) plain read() from idle */
  int in_kind; /* 0 none, 1 handle, 2 read() */
  io_handle in;
  uv_idle_t in_idle;
  unsigned in_open : 1, in_idle_open : 1;
  /* stdout: a stream handle, or blocking write() */
  int out_kind;
  io_handle out;
  unsigned out_open : 1;
  size_t out_queued;
  uint64_t bytes_in, bytes_out;
  uv_signal_t sigint;
  tcpu_addr local;
  tcpud_pcap *pcap;
  int exit_code;
} cat;

static void cat_end(cat *c, int code);
static void start_io(cat *c);

static const char cat_usage_text[] =
    "usage: tcpu cat [OPTIONS] HOST:UDPPORT TCPPORT\n"
    "       tcpu cat [OPTIONS] -l [ADDR:]UDPPORT [TCPPORT]\n"
    "\n"
    "netcat over libtcpu: stdin to one tunnel TCP connection, what it\n"
    "receives to stdout.  TCPPORT names the service (a listener's\n"
    "defaults to its UDP port).  EOF on stdin sends a FIN; tcpu cat ends\n"
    "when both directions have ended.\n"
    "\n"
    "  -l                listen on [ADDR:]UDPPORT (any address) and\n"
    "                    accept one connection\n"
    "  --bind ADDR:PORT  a client's local UDP address (default: any,\n"
    "                    ephemeral)\n"
    "  --cc NAME         congestion control: cubic, newreno, bbr, ledbat\n"
    "  --mtu BYTES       path MTU (1500)\n"
    "  --pcap FILE       write every segment to FILE as TCP/IP (pcap)\n"
    "  -v                say what happens on stderr, and the connection's\n"
    "                    statistics at the end\n"
    "\n"
    "Exit status: 0 done, 1 connection or I/O failure, 2 usage.\n";

void tcpu_usage_cat(FILE *f) { fputs(cat_usage_text, f); }

static const char *errtext(int err) {
  return err <= -1000 && err > -1100 ? tcpu_strerror(err) : uv_strerror(err);
}

/* ------------------------------------------------------------- stdout */

static void out_written(uv_write_t *req, int status) {
  buf_req *b = req->data;
  cat *c = req->handle->data;

  c->out_queued -= b->len;
  free(b);
  if (status < 0 && status != UV_ECANCELED) {
    fprintf(stderr, "tcpu cat: stdout: %s\n", uv_strerror(status));
    cat_end(c, 1);
    return;
  }
  if (c->ending)
    return;
  if (c->out_queued <= CAT_HIGH_WATER / 4 && c->connected && !c->net_eof)
    start_io(c);
  if (c->net_eof && c->shut_done && c->out_queued == 0)
    cat_end(c, 0);
}

/* Takes b (read from the connection).  Returns 0 or -1 (ended). */
static int out_put(cat *c, buf_req *b) {
  if (c->out_kind == 1) {
    uv_buf_t ub = uv_buf_init(b->data, (unsigned)b->len);
    b->req.uv.data = b;
    c->out_queued += b->len;
    if (uv_write(&b->req.uv, &c->out.s, &ub, 1, out_written) != 0) {
      c->out_queued -= b->len;
      free(b);
      fprintf(stderr, "tcpu cat: stdout: write failed\n");
      cat_end(c, 1);
      return -1;
    }
    if (c->out_queued > CAT_HIGH_WATER)
      tcpu_uv_read_stop(&c->conn);
    return 0;
  }
  for (size_t off = 0; off < b->len;) {
    ssize_t n = write(STDOUT_FILENO, b->data + off, b->len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      fprintf(stderr, "tcpu cat: stdout: %s\n", strerror(errno));
      free(b);
      cat_end(c, 1);
      return -1;
    }
    off += (size_t)n;
  }
  free(b);
  return 0;
}

/* ------------------------------------------------------------ network */

static void net_alloc(tcpu_uv_stream *s, size_t suggested, uv_buf_t *buf) {
  buf_req *b = malloc(sizeof(*b));

  (void)s;
  (void)suggested;
  *buf = b ? uv_buf_init(b->data, CAT_CHUNK) : uv_buf_init(NULL, 0);
}

static void net_read(tcpu_uv_stream *s, ssize_t nread, const uv_buf_t *buf) {
  cat *c = s->data;
  buf_req *b = buf && buf->base
                   ? (buf_req *)(void *)(buf->base - offsetof(buf_req, data))
                   : NULL;

  if (nread > 0) {
    b->len = (size_t)nread;
    c->bytes_in += (size_t)nread;
    out_put(c, b);
    return;
  }
  free(b);
  if (nread == 0 || nread == UV_ENOBUFS)
    return;
  if (nread == UV_EOF) {
    c->net_eof = 1;
    if (c->verbose)
      fprintf(stderr, "tcpu cat: the peer finished sending\n");
    if (c->shut_done && c->out_queued == 0)
      cat_end(c, 0);
    return;
  }
  fprintf(stderr, "tcpu cat: %s\n", errtext((int)nread));
  cat_end(c, 1);
}

static void net_written(tcpu_uv_write_req *req, int status) {
  buf_req *b = req->data;
  cat *c = req->handle->data;

  free(b);
  if (status < 0) {
    if (status != UV_ECANCELED) {
      fprintf(stderr, "tcpu cat: %s\n", errtext(status));
      cat_end(c, 1);
    }
    return;
  }
  if (c->in_paused && !c->ending &&
      tcpu_uv_stream_get_write_queue_size(&c->conn) <= CAT_HIGH_WATER / 4)
    start_io(c);
}

static void net_shutdown(tcpu_uv_shutdown_req *req, int status) {
  cat *c = req->data;

  if (status < 0) {
    if (status != UV_ECANCELED) {
      fprintf(stderr, "tcpu cat: %s\n", errtext(status));
      cat_end(c, 1);
    }
    return;
  }
  c->shut_done = 1;
  if (c->net_eof && c->out_queued == 0)
    cat_end(c, 0);
}

/* ------------------------------------------------------------- stdin */

static void in_stop(cat *c) {
  if (c->in_kind == 1 && c->in_open)
    uv_read_stop(&c->in.s);
  else if (c->in_kind == 2 && c->in_idle_open)
    uv_idle_stop(&c->in_idle);
}

static void in_eof(cat *c) {
  int rv;

  c->in_eof = 1;
  in_stop(c);
  if (c->verbose)
    fprintf(stderr, "tcpu cat: end of input, sending FIN\n");
  c->sreq.data = c;
  rv = tcpu_uv_shutdown(&c->sreq, &c->conn, net_shutdown);
  if (rv != 0) {
    fprintf(stderr, "tcpu cat: %s\n", errtext(rv));
    cat_end(c, 1);
  }
}

/* Sends b (read from stdin). */
static void in_put(cat *c, buf_req *b) {
  uv_buf_t ub = uv_buf_init(b->data, (unsigned)b->len);
  int rv;

  b->req.tun.data = b;
  c->bytes_out += b->len;
  rv = tcpu_uv_write(&b->req.tun, &c->conn, &ub, 1, net_written);
  if (rv != 0) {
    free(b);
    fprintf(stderr, "tcpu cat: %s\n", errtext(rv));
    cat_end(c, 1);
    return;
  }
  if (tcpu_uv_stream_get_write_queue_size(&c->conn) > CAT_HIGH_WATER) {
    c->in_paused = 1;
    in_stop(c);
  }
}

static void in_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  buf_req *b = malloc(sizeof(*b));

  (void)h;
  (void)suggested;
  *buf = b ? uv_buf_init(b->data, CAT_CHUNK) : uv_buf_init(NULL, 0);
}

static void in_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  cat *c = s->data;
  buf_req *b = buf->base
                   ? (buf_req *)(void *)(buf->base - offsetof(buf_req, data))
                   : NULL;

  if (nread > 0) {
    b->len = (size_t)nread;
    in_put(c, b);
    return;
  }
  free(b);
  if (nread == UV_EOF) {
    in_eof(c);
  } else if (nread < 0 && nread != UV_ENOBUFS) {
    fprintf(stderr, "tcpu cat: stdin: %s\n", uv_strerror((int)nread));
    cat_end(c, 1);
  }
}

static void in_idle_read(uv_idle_t *h) {
  cat *c = h->data;
  buf_req *b = malloc(sizeof(*b));
  ssize_t n;

  if (b == NULL)
    return;
  do
    n = read(STDIN_FILENO, b->data, CAT_CHUNK);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    b->len = (size_t)n;
    in_put(c, b);
    return;
  }
  free(b);
  if (n == 0) {
    in_eof(c);
  } else {
    fprintf(stderr, "tcpu cat: stdin: %s\n", strerror(errno));
    cat_end(c, 1);
  }
}

/* Starts (or resumes) both directions as far as they are not done. */
static void start_io(cat *c) {
  if (!c->in_eof && !c->ending) {
    c->in_paused = 0;
    if (c->in_kind == 1 && c->in_open)
      uv_read_start(&c->in.s, in_alloc, in_read);
    else if (c->in_kind == 2 && c->in_idle_open)
      uv_idle_start(&c->in_idle, in_idle_read);
  }
  if (!c->net_eof && !c->ending && c->out_queued <= CAT_HIGH_WATER)
    tcpu_uv_read_start(&c->conn, net_alloc, net_read);
}

/* stdin and stdout as libuv handles where they can be watched. */
static void open_stdio(cat *c) {
  uv_handle_type t = uv_guess_handle(STDIN_FILENO);

  c->in_kind = 2;
  if (t == UV_TTY && uv_tty_init(c->loop, &c->in.tty, STDIN_FILENO, 1) == 0) {
    c->in_kind = 1;
  } else if (t == UV_NAMED_PIPE || t == UV_TCP) {
    uv_pipe_init(c->loop, &c->in.pipe, 0);
    if (uv_pipe_open(&c->in.pipe, STDIN_FILENO) == 0)
      c->in_kind = 1;
    else
      uv_close(&c->in.h, NULL);
  }
  if (c->in_kind == 1) {
    c->in.h.data = c;
    c->in_open = 1;
  } else {
    uv_idle_init(c->loop, &c->in_idle);
    c->in_idle.data = c;
    c->in_idle_open = 1;
  }
  t = uv_guess_handle(STDOUT_FILENO);
  c->out_kind = 2;
  if (t == UV_TTY && uv_tty_init(c->loop, &c->out.tty, STDOUT_FILENO, 0) == 0) {
    c->out_kind = 1;
  } else if (t == UV_NAMED_PIPE || t == UV_TCP) {
    uv_pipe_init(c->loop, &c->out.pipe, 0);
    if (uv_pipe_open(&c->out.pipe, STDOUT_FILENO) == 0)
      c->out_kind = 1;
    else
      uv_close(&c->out.h, NULL);
  }
  if (c->out_kind == 1) {
    c->out.h.data = c;
    c->out_open = 1;
  }
}

/* ---------------------------------------------------------- lifecycle */

static void print_stats(cat *c) {
  tcpu_conn_info ci;

  if (!c->verbose || !c->conn_open ||
      tcpu_uv_stream_get_info(&c->conn, &ci) != 0)
    return;
  fprintf(stderr,
          "tcpu cat: %llu bytes sent, %llu received; %s, rtt %.3f ms, cwnd "
          "%u, %llu segments out, %llu retransmitted, %llu timeouts\n",
          (unsigned long long)c->bytes_out, (unsigned long long)c->bytes_in,
          tcpu_state_name(ci.state), (double)ci.srtt / 1e6, ci.cwnd,
          (unsigned long long)ci.segs_out, (unsigned long long)ci.retransmits,
          (unsigned long long)ci.timeouts);
}

static void ep_closed(tcpu_uv_endpoint *ep) {
  cat *c = ep->data;

  tcpud_pcap_close(c->pcap);
  c->pcap = NULL;
}

static void cat_end(cat *c, int code) {
  if (c->ending)
    return;
  c->ending = 1;
  c->exit_code = code;
  print_stats(c);
  if (c->in_open)
    uv_close(&c->in.h, NULL);
  if (c->in_idle_open)
    uv_close((uv_handle_t *)&c->in_idle, NULL);
  if (c->out_open)
    uv_close(&c->out.h, NULL);
  uv_close((uv_handle_t *)&c->sigint, NULL);
  if (c->listening)
    tcpu_uv_close(&c->listener, NULL);
  if (c->conn_open) {
    if (code != 0 && c->connected)
      tcpu_uv_abort(&c->conn, NULL);
    else
      tcpu_uv_close(&c->conn, NULL);
  }
  if (c->ep_open)
    tcpu_uv_endpoint_close(&c->ep, ep_closed);
}

static void on_sigint(uv_signal_t *h, int signum) {
  (void)signum;
  fprintf(stderr, "tcpu cat: interrupted\n");
  cat_end(h->data, 1);
}

static void on_connected(tcpu_uv_connect_req *req, int status) {
  cat *c = req->data;

  if (status < 0) {
    if (status != UV_ECANCELED) {
      fprintf(stderr, "tcpu cat: connect: %s\n", errtext(status));
      cat_end(c, 1);
    }
    return;
  }
  c->connected = 1;
  if (c->verbose)
    fprintf(stderr, "tcpu cat: connected\n");
  start_io(c);
}

static void on_conn(tcpu_uv_stream *server, int status) {
  cat *c = server->data;
  tcpu_conn_info ci;
  char a[TCPUD_ADDRSTRLEN];
  int rv;

  if (status < 0 || c->conn_open)
    return;
  rv = tcpu_uv_stream_init(&c->ep, &c->conn);
  if (rv == 0) {
    c->conn.data = c;
    c->conn_open = 1;
    rv = tcpu_uv_accept(server, &c->conn);
  }
  if (rv != 0) {
    fprintf(stderr, "tcpu cat: accept: %s\n", errtext(rv));
    cat_end(c, 1);
    return;
  }
  c->connected = 1;
  c->listening = 0;
  tcpu_uv_close(&c->listener, NULL); /* one connection, as netcat */
  if (c->verbose && tcpu_uv_stream_get_info(&c->conn, &ci) == 0)
    fprintf(stderr, "tcpu cat: connection from %s port %u\n",
            tcpud_addr_format(&ci.peer, 1, a, sizeof(a)), ci.remote_port);
  start_io(c);
}

#ifdef TCPU_UV_HAVE_TAP
static void pcap_tap(tcpu_uv_endpoint *uvep, int outgoing,
                     const tcpu_addr *peer, const uint8_t *dgram, size_t len,
                     void *arg) {
  cat *c = arg;

  (void)uvep;
  tcpud_pcap_write(c->pcap, outgoing, &c->local, peer, dgram, len);
}
#endif

static int usage_err(const char *msg, const char *arg) {
  fprintf(stderr, "tcpu cat: ");
  fprintf(stderr, msg, arg);
  fprintf(stderr, "\n");
  tcpu_usage_cat(stderr);
  return 2;
}

int tcpu_cmd_cat(int argc, char **argv) {
  static cat c;
  const char *pos[2] = {NULL, NULL}, *bind_s = NULL, *pcap = NULL, *cc = NULL;
  int npos = 0, listen_mode = 0, rv, tcpport;
  unsigned long mtu = 0;
  tcpu_settings st;
  tcpud_hostport hp;
  tcpu_addr bind, remote;
  struct sockaddr_storage ss;
  char err[300], a[TCPUD_ADDRSTRLEN];
  int len = sizeof(ss);

  memset(&c, 0, sizeof(c));
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *mtu_s = NULL;
    int r = 0;

    if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
      tcpu_usage_cat(stdout);
      return 0;
    } else if (strcmp(o, "-l") == 0) {
      listen_mode = 1;
    } else if (strcmp(o, "-v") == 0) {
      c.verbose = 1;
    } else if ((r = tcpu_opt("cat", argc, argv, &i, "--bind", &bind_s)) ||
               (r = tcpu_opt("cat", argc, argv, &i, "--pcap", &pcap)) ||
               (r = tcpu_opt("cat", argc, argv, &i, "--cc", &cc)) ||
               (r = tcpu_opt("cat", argc, argv, &i, "--mtu", &mtu_s))) {
      if (r < 0)
        return 2;
      if (mtu_s != NULL &&
          ((mtu = strtoul(mtu_s, NULL, 10)) < 576 || mtu > 65535))
        return usage_err("--mtu: '%s' is not 576..65535", mtu_s);
    } else if (o[0] == '-' && o[1] != '\0') {
      return usage_err("unknown option '%s'", o);
    } else if (npos < 2) {
      pos[npos++] = o;
    } else {
      return usage_err("too many arguments ('%s')", o);
    }
  }
  tcpu_settings_default(&st);
  if (mtu)
    st.mtu = (uint32_t)mtu;
  if (cc != NULL) {
    if (strlen(cc) >= sizeof(st.cc) || tcpu_cc_find(NULL, cc) == NULL)
      return usage_err("--cc: unknown algorithm '%s'", cc);
    snprintf(st.cc, sizeof(st.cc), "%s", cc);
  }
  if (listen_mode) {
    if (npos < 1 || bind_s != NULL)
      return usage_err("%s", "-l needs [ADDR:]UDPPORT (and no --bind)");
    if (tcpud_hostport_parse(&hp, pos[0], TCPUD_HP_HOST_OPTIONAL, err,
                             sizeof(err)) != 0)
      return usage_err("%s", err);
    if (hp.host[0] == '\0')
      snprintf(hp.host, sizeof(hp.host), "0.0.0.0");
    if (tcpud_ip_parse(&bind, hp.host) != 0)
      return usage_err("listen on an IP address, not '%s'", hp.host);
    bind.port = hp.port;
    tcpport = npos == 2 ? tcpud_port_parse(pos[1], 0) : hp.port;
  } else {
    if (npos != 2)
      return usage_err("%s", "expected HOST:UDPPORT TCPPORT");
    if (tcpud_hostport_parse(&hp, pos[0], 0, err, sizeof(err)) != 0)
      return usage_err("%s", err);
    if (tcpud_resolve(&remote, &hp, 0, err, sizeof(err)) != 0) {
      fprintf(stderr, "tcpu cat: %s\n", err);
      return 1;
    }
    tcpport = tcpud_port_parse(pos[1], 0);
    if (bind_s != NULL) {
      if (tcpud_hostport_parse(&hp, bind_s, TCPUD_HP_PORT_ZERO, err,
                               sizeof(err)) != 0 ||
          tcpud_ip_parse(&bind, hp.host) != 0)
        return usage_err("--bind: expected ADDR:PORT, not '%s'", bind_s);
      bind.port = hp.port;
    } else {
      tcpud_ip_parse(&bind, remote.family == TCPU_AF_INET6 ? "::" : "0.0.0.0");
    }
  }
  if (tcpport < 0)
    return usage_err("%s", "TCPPORT must be 1..65535");
#ifndef TCPU_UV_HAVE_TAP
  if (pcap != NULL) {
    fprintf(stderr, "tcpu cat: --pcap: %s\n", TCPUD_NO_TAP_MESSAGE);
    return 1;
  }
#endif

  signal(SIGPIPE, SIG_IGN);
  c.loop = uv_default_loop();
  tcpu_uv_addr_to_sockaddr(&ss, NULL, &bind);
  rv = tcpu_uv_endpoint_init(c.loop, &c.ep, &st, (struct sockaddr *)&ss, 0);
  if (rv != 0) {
    fprintf(stderr, "tcpu cat: UDP %s: %s\n",
            tcpud_addr_format(&bind, 1, a, sizeof(a)), errtext(rv));
    return 1;
  }
  c.ep.data = &c;
  c.ep_open = 1;
  if (tcpu_uv_endpoint_getsockname(&c.ep, (struct sockaddr *)&ss, &len) == 0)
    tcpu_uv_addr_from_sockaddr(&c.local, (struct sockaddr *)&ss);
  uv_signal_init(c.loop, &c.sigint);
  c.sigint.data = &c;
  uv_signal_start(&c.sigint, on_sigint, SIGINT);
  open_stdio(&c);
#ifdef TCPU_UV_HAVE_TAP
  if (pcap != NULL) {
    if (tcpud_pcap_open(&c.pcap, pcap) != 0) {
      fprintf(stderr, "tcpu cat: %s: %s\n", pcap, strerror(errno));
      cat_end(&c, 1);
      uv_run(c.loop, UV_RUN_DEFAULT);
      return 1;
    }
    tcpu_uv_endpoint_set_tap(&c.ep, pcap_tap, &c);
  }
#endif

  if (listen_mode) {
    rv = tcpu_uv_stream_init(&c.ep, &c.listener);
    if (rv == 0) {
      c.listener.data = &c;
      c.listening = 1;
      rv = tcpu_uv_listen(&c.listener, (uint16_t)tcpport, 1, on_conn);
    }
    if (c.verbose && rv == 0)
      fprintf(stderr, "tcpu cat: listening on UDP %s, TCP port %d\n",
              tcpud_addr_format(&c.local, 1, a, sizeof(a)), tcpport);
  } else {
    rv = tcpu_uv_stream_init(&c.ep, &c.conn);
    if (rv == 0) {
      c.conn.data = &c;
      c.conn_open = 1;
      c.creq.data = &c;
      tcpu_uv_addr_to_sockaddr(&ss, NULL, &remote);
      rv = tcpu_uv_connect(&c.creq, &c.conn, (struct sockaddr *)&ss,
                           (uint16_t)tcpport, CAT_CONNECT_TIMEOUT_MS,
                           on_connected);
    }
    if (c.verbose && rv == 0)
      fprintf(stderr, "tcpu cat: connecting to %s port %d from %s\n",
              tcpud_addr_format(&remote, 1, a, sizeof(a)), tcpport,
              tcpud_addr_format(&c.local, 1, err, sizeof(err)));
  }
  if (rv != 0) {
    fprintf(stderr, "tcpu cat: %s\n", errtext(rv));
    cat_end(&c, 1);
  }
  uv_run(c.loop, UV_RUN_DEFAULT);
  uv_loop_close(c.loop);
  return c.exit_code;
}
