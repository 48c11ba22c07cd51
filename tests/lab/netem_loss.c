/*
 * netem_loss.c — `tcpu netem` as a real process on loopback: N datagrams
 * from a client socket through the relay to a server socket that echoes
 * each one back through the relay.  With loss=P on the client->server
 * link (and none back), the server must see about (1 - P) N of them
 * (within 5 standard deviations), every one it sees must come back to
 * the client, nothing may arrive before the configured delay, and the
 * relay's own counters, printed when it is stopped with SIGINT, must
 * agree.  Bounded: N datagrams paced over about a second, a few seconds
 * in all; the relay also stops by itself (--duration) if this program
 * dies.
 *
 *   netem_loss PATH-TO-tcpu
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 2000
#define LOSS 0.1
#define DELAY_MS 5
#define LEN 200

static int fail(const char *msg) {
  fprintf(stderr, "netem_loss: FAIL: %s\n", msg);
  return 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int udp_socket(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof(a);
  int sz = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &al) != 0)
    return -1;
  *port = ntohs(a.sin_port);
  return fd;
}

/* Reads one line from the relay's stdout into buf; 0 at EOF/timeout. */
static int read_line(FILE *f, char *buf, size_t len) {
  return fgets(buf, (int)len, f) != NULL;
}

/* Value of "key=N" in line, or -1. */
static long long field(const char *line, const char *key) {
  char pat[64];
  snprintf(pat, sizeof(pat), " %s=", key);
  const char *p = strstr(line, pat);
  return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: netem_loss PATH-TO-tcpu\n");
    return 2;
  }
  uint16_t srv_port, cli_port;
  int srv = udp_socket(&srv_port), cli = udp_socket(&cli_port);
  if (srv < 0 || cli < 0)
    return fail("cannot open loopback sockets");

  char to[64], link[128];
  snprintf(to, sizeof(to), "127.0.0.1:%u", srv_port);
  snprintf(link, sizeof(link), "loss=%g,delay=%dms", LOSS, DELAY_MS);
  int out[2];
  if (pipe(out) != 0)
    return fail("pipe");
  pid_t pid = fork();
  if (pid < 0)
    return fail("fork");
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    execl(argv[1], argv[1], "netem", "--listen", "127.0.0.1:0", "--to", to,
          "--link", link, "--seed", "3", "--duration", "30s", (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  FILE *rf = fdopen(out[0], "r");
  char line[1024];
  if (!read_line(rf, line, sizeof(line)))
    return fail("the relay printed nothing");
  printf("relay: %s", line);
  const char *at = strstr(line, "listening on 127.0.0.1:");
  if (!at)
    return fail("no listen address in the relay's first line");
  unsigned relay_port = (unsigned)atoi(at + strlen("listening on 127.0.0.1:"));
  struct sockaddr_in relay = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)relay_port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

  /* Send N datagrams, 2 per millisecond, serving echoes as they come. */
  static double sent_at[N];
  int srv_got = 0, cli_got = 0, early = 0, bad = 0;
  double t0 = now_s();
  int next = 0;
  while (now_s() - t0 < 5.0) {
    double t = now_s();
    while (next < N && t - t0 >= next / 2000.0) {
      uint8_t b[LEN];
      memset(b, 0, sizeof(b));
      memcpy(b, &next, sizeof(next));
      sent_at[next] = now_s();
      if (sendto(cli, b, sizeof(b), 0, (struct sockaddr *)&relay,
                 sizeof(relay)) != LEN)
        return fail("sendto the relay");
      next++;
    }
    struct pollfd p[2] = {{srv, POLLIN, 0}, {cli, POLLIN, 0}};
    if (poll(p, 2, 1) < 0 && errno != EINTR)
      return fail("poll");
    uint8_t b[2048];
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    ssize_t n;
    while ((n = recvfrom(srv, b, sizeof(b), MSG_DONTWAIT,
                         (struct sockaddr *)&from, &fl)) > 0) {
      int id;
      memcpy(&id, b, sizeof(id));
      if (n != LEN || id < 0 || id >= N)
        bad++;
      else if (now_s() - sent_at[id] < DELAY_MS / 1000.0 * 0.999)
        early++;
      srv_got++;
      /* Echo to where it came from: the relay's upstream socket. */
      sendto(srv, b, (size_t)n, 0, (struct sockaddr *)&from, fl);
      fl = sizeof(from);
    }
    while ((n = recv(cli, b, sizeof(b), MSG_DONTWAIT)) > 0)
      cli_got++;
    /* Done once all is sent and echoes stopped for 200 ms. */
    if (next == N && cli_got == srv_got && now_s() - sent_at[N - 1] > 0.2)
      break;
  }
  kill(pid, SIGINT);
  char c2s[1024] = "", s2c[1024] = "";
  while (read_line(rf, line, sizeof(line))) {
    printf("relay: %s", line);
    if (strncmp(line, "client->server:", 15) == 0)
      snprintf(c2s, sizeof(c2s), "%s", line);
    else if (strncmp(line, "server->client:", 15) == 0)
      snprintf(s2c, sizeof(s2c), "%s", line);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  fclose(rf);

  double mean = N * (1 - LOSS), sd = sqrt(N * LOSS * (1 - LOSS));
  printf("sent %d, server got %d (expected %.0f +- %.0f), client got %d "
         "echoes back, %d early, %d malformed\n",
         N, srv_got, mean, 5 * sd, cli_got, early, bad);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return fail("the relay did not exit cleanly on SIGINT");
  if (fabs(srv_got - mean) > 5 * sd)
    return fail("delivered count is not near (1 - loss) x sent");
  if (cli_got != srv_got)
    return fail("not every echo came back through the loss-free direction");
  if (early || bad)
    return fail("datagrams arrived before the delay, or changed");
  if (field(c2s, "received") != N ||
      field(c2s, "sent") != srv_got ||
      field(c2s, "lost") + field(c2s, "sent") != N ||
      field(s2c, "received") != srv_got || field(s2c, "sent") != cli_got)
    return fail("the relay's counters disagree with what was seen");
  printf("netem_loss: ok\n");
  return 0;
}
