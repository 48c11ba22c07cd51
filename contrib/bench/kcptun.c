/*
 * kcptun.c — kcptun (Debian package kcptun) as a further baseline: the
 * same kernel TCP bulk sender and 64-byte ping-pong as kernel_tcp, but
 * through kcptun-client -> KCP over loopback UDP -> kcptun-server.
 * kcptun runs with --crypt none --nocomp and no FEC (--ds 0 --ps 0),
 * profile fast3, windows of 1024 packets, MTU 1400, so it carries bytes
 * the way libtcpu's plain mode does.  Its two processes are not pinned;
 * their CPU (all their threads, from /proc/PID/stat) is added to the
 * sender's and the receiver's.
 *
 * When kcptun-client or kcptun-server is not on PATH the section is
 * skipped with a note (install: apt-get install kcptun).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define CHUNK (256u << 10)
#define MSG 64

static int on_path(const char *name) {
  const char *path = getenv("PATH");
  char buf[1024];
  if (path == NULL)
    path = "/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    if (n > 0 && n + strlen(name) + 2 < sizeof(buf)) {
      memcpy(buf, path, n);
      buf[n] = '/';
      strcpy(buf + n + 1, name);
      if (access(buf, X_OK) == 0)
        return 1;
    }
    path += n + (end != NULL);
  }
  return 0;
}

/* A port the kernel considers free now (bind port 0, read it, close). */
static uint16_t free_port(int type) {
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  uint16_t port = 0;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
      getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
    port = ntohs(sin.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

static pid_t spawn(char *const argv[]) {
  posix_spawn_file_actions_t fa;
  pid_t pid;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

/* utime + stime of a process, ns. */
static uint64_t proc_cpu_ns(pid_t pid) {
  char path[64], buf[1024];
  unsigned long ut = 0, st = 0;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command may hold spaces */
  if (p == NULL ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
             &st) != 2)
    return 0;
  return (uint64_t)(ut + st) * (1000000000u / (uint64_t)sysconf(_SC_CLK_TCK));
}

typedef struct tunnel {
  pid_t server, client;
  uint16_t local_port; /* kcptun-client's TCP listener */
} tunnel;

static void tunnel_stop(tunnel *t) {
  pid_t pids[2] = {t->client, t->server};
  for (int i = 0; i < 2; i++) {
    if (pids[i] <= 0)
      continue;
    kill(pids[i], SIGTERM);
    waitpid(pids[i], NULL, 0);
  }
}

/* Starts both ends in front of TCP port `target`; waits (at most 5 s) until
 * the client's listener takes connections. */
static int tunnel_start(tunnel *t, uint16_t target) {
  char listen_kcp[32], target_s[32], local[32], remote[32];
  uint16_t kcp_port = free_port(SOCK_DGRAM);
  t->local_port = free_port(SOCK_STREAM);
  snprintf(listen_kcp, sizeof(listen_kcp), "127.0.0.1:%u", kcp_port);
  snprintf(target_s, sizeof(target_s), "127.0.0.1:%u", target);
  snprintf(local, sizeof(local), "127.0.0.1:%u", t->local_port);
  snprintf(remote, sizeof(remote), "127.0.0.1:%u", kcp_port);
  char *sargv[] = {
      "kcptun-server", "-l",       listen_kcp, "-t",    target_s,   "--crypt",
      "none",          "--nocomp", "--mode",   "fast3", "--mtu",    "1400",
      "--ds",          "0",        "--ps",     "0",     "--sndwnd", "1024",
      "--rcvwnd",      "1024",     "--quiet",  NULL};
  char *cargv[] = {
      "kcptun-client", "-l",       local,    "-r",    remote,     "--crypt",
      "none",          "--nocomp", "--mode", "fast3", "--mtu",    "1400",
      "--ds",          "0",        "--ps",   "0",     "--sndwnd", "1024",
      "--rcvwnd",      "1024",     "--conn", "1",     "--quiet",  NULL};
  t->server = spawn(sargv);
  t->client = spawn(cargv);
  if (t->server <= 0 || t->client <= 0 || kcp_port == 0 || t->local_port == 0)
    return -1;
  for (int i = 0; i < 100; i++) {
    int fd = ktcp_connect(t->local_port, 0);
    if (fd >= 0) {
      close(fd);
      return 0;
    }
    usleep(50 * 1000);
  }
  return -1;
}

static void skipped(const char *key) {
  js_open(key);
  js_bool("ok", 0);
  js_str("skipped", "kcptun-client/kcptun-server not on PATH (Debian: "
                    "apt-get install kcptun)");
  js_close();
}

/* ------------------------------------------------------------------ bulk */

typedef struct kbulk {
  int lfd;
  uint16_t port;
  uint16_t local_port;
  uint64_t bytes, sent, t_first, t_last;
  cpu_mark r0, r1, s0, s1;
} kbulk;

static void *kbulk_sink(void *arg) {
  kbulk *k = arg;
  uint8_t *buf = malloc(CHUNK);
  struct timeval tv = {2, 0};
  /* the probe connection of tunnel_start, then the real one */
  for (;;) {
    int fd = ktcp_accept(k->lfd);
    if (fd < 0 || buf == NULL)
      break;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cpu_mark_now(&k->r0);
    uint64_t got = 0;
    for (;;) {
      ssize_t n = read(fd, buf, CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break; /* EOF, or 2 s of silence after the sender stopped */
      if (got == 0)
        k->t_first = now_ns();
      got += (uint64_t)n;
      k->t_last = now_ns();
    }
    cpu_mark_now(&k->r1);
    close(fd);
    if (got > 0) {
      k->bytes = got;
      break;
    }
  }
  free(buf);
  return NULL;
}

static void *kbulk_sender(void *arg) {
  kbulk *k = arg;
  uint8_t *src = calloc(1, CHUNK);
  int fd = ktcp_connect(k->local_port, 0);
  if (fd < 0 || src == NULL) {
    free(src);
    return NULL;
  }
  for (size_t i = 0; i < CHUNK; i++)
    src[i] = (uint8_t)(i * 7u + 1u);
  cpu_mark_now(&k->s0);
  uint64_t t_end = now_ns() + (uint64_t)(opts.bulk_s * 1e9);
  while (now_ns() < t_end) {
    ssize_t n = write(fd, src, CHUNK);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    k->sent += (uint64_t)n;
  }
  shutdown(fd, SHUT_WR);
  cpu_mark_now(&k->s1);
  /* keep the socket until the sink has everything (or gives up) */
  uint8_t b[16];
  struct timeval tv = {(time_t)opts.limit_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (read(fd, b, sizeof(b)) > 0)
    ;
  close(fd);
  free(src);
  return NULL;
}

bulk_result bench_bulk_kcptun(const char *key) {
  bulk_result res = {0, 0, 0, 0};
  kbulk k;
  tunnel t;
  pthread_t tr, ts;

  if (!on_path("kcptun-client") || !on_path("kcptun-server")) {
    skipped(key);
    return res;
  }
  memset(&k, 0, sizeof(k));
  memset(&t, 0, sizeof(t));
  k.lfd = ktcp_listen(&k.port, 0);
  if (k.lfd < 0)
    return res;
  thread_start(&tr, 1, kbulk_sink, &k);
  int up = tunnel_start(&t, k.port) == 0;
  uint64_t kcp0 = proc_cpu_ns(t.client) + proc_cpu_ns(t.server);
  uint64_t kcp1 = kcp0;
  if (up) {
    k.local_port = t.local_port;
    thread_start(&ts, 0, kbulk_sender, &k);
    pthread_join(tr, NULL);
    kcp1 = proc_cpu_ns(t.client) + proc_cpu_ns(t.server);
    tunnel_stop(&t);
    pthread_join(ts, NULL);
  } else {
    tunnel_stop(&t);
    shutdown(k.lfd, SHUT_RDWR);
    pthread_join(tr, NULL);
  }
  close(k.lfd);
  double secs = (double)(k.t_last - k.t_first) / 1e9;
  uint64_t cpu =
      cpu_used(&k.s0, &k.s1) + cpu_used(&k.r0, &k.r1) + (kcp1 - kcp0);
  res.ok = up && k.bytes > 0;
  res.gbps = secs > 0 ? (double)k.bytes * 8 / secs / 1e9 : 0;
  res.cpu_ns_per_b = k.bytes ? (double)cpu / (double)k.bytes : 0;
  js_open(key);
  js_bool("ok", res.ok);
  js_str("settings", "--crypt none --nocomp --mode fast3 --mtu 1400 --ds 0 "
                     "--ps 0 --sndwnd 1024 --rcvwnd 1024");
  js_num("gbps", res.gbps);
  js_int("bytes", k.bytes);
  js_int("sent_bytes", k.sent);
  js_num("seconds", secs);
  js_num("cpu_ns_per_byte", res.cpu_ns_per_b);
  js_num("cpu_kcptun_s", (double)(kcp1 - kcp0) / 1e9);
  js_close();
  return res;
}

/* -------------------------------------------------------------- latency */

typedef struct krr {
  int lfd;
  uint16_t port, local_port;
  lat lat;
  int ok;
} krr;

static void *krr_echo(void *arg) {
  krr *k = arg;
  uint8_t buf[4096];
  for (;;) {
    int fd = ktcp_accept(k->lfd);
    int one = 1;
    if (fd < 0)
      break;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ssize_t n, total = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
      total += n;
      if (write(fd, buf, (size_t)n) != n)
        break;
    }
    close(fd);
    if (total > 0)
      break;
  }
  return NULL;
}

static void *krr_client(void *arg) {
  krr *k = arg;
  uint8_t msg[MSG], buf[MSG];
  int one = 1;
  int fd = ktcp_connect(k->local_port, 0);
  struct timeval tv = {2, 0};
  if (fd < 0)
    return NULL;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  memset(msg, 'k', MSG);
  uint64_t deadline = now_ns() + (uint64_t)(opts.limit_s * 1e9);
  unsigned total = opts.rr_warmup + opts.rr_count;
  for (unsigned i = 0; i < total && now_ns() < deadline; i++) {
    uint64_t t = now_ns();
    if (write(fd, msg, MSG) != MSG)
      break;
    size_t got = 0;
    while (got < MSG) {
      ssize_t n = read(fd, buf + got, MSG - got);
      if (n <= 0)
        goto out;
      got += (size_t)n;
    }
    if (i >= opts.rr_warmup)
      lat_add(&k->lat, now_ns() - t);
    if (i + 1 == total)
      k->ok = 1;
  }
out:
  close(fd);
  return NULL;
}

rr_result bench_rr_kcptun(const char *key) {
  rr_result res = {0, 0, 0};
  krr k;
  tunnel t;
  pthread_t te, tc;

  if (!on_path("kcptun-client") || !on_path("kcptun-server")) {
    skipped(key);
    return res;
  }
  memset(&k, 0, sizeof(k));
  memset(&t, 0, sizeof(t));
  if (lat_init(&k.lat, opts.rr_count) != 0)
    return res;
  k.lfd = ktcp_listen(&k.port, 0);
  if (k.lfd >= 0) {
    thread_start(&te, 1, krr_echo, &k);
    if (tunnel_start(&t, k.port) == 0) {
      k.local_port = t.local_port;
      thread_start(&tc, 0, krr_client, &k);
      pthread_join(tc, NULL);
    }
    tunnel_stop(&t);
    shutdown(k.lfd, SHUT_RDWR);
    pthread_join(te, NULL);
    close(k.lfd);
  }
  res.ok = k.ok;
  js_open(key);
  js_bool("ok", k.ok);
  js_str("settings", "as bulk/kcptun");
  lat_report(&k.lat, "rtt");
  res.p50_us = lat_pct(&k.lat, 50);
  res.p99_us = lat_pct(&k.lat, 99);
  js_close();
  lat_free(&k.lat);
  return res;
}
