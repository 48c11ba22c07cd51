/*
 * show.c — `tcpu show`: what a running tcpud is doing, from its control
 * socket: counters (sealed mode's handshakes and authentication failures
 * included), peers with their sessions, services, forwards and every
 * tunnel connection with its state, RTT, window and counters, in the
 * manner of `ss -ti`.
 *
 *   tcpu show [--json] [--socket PATH]
 *
 * The daemon does the formatting (control.c); this sends the request line
 * and copies the answer's body to stdout.  Exit status: 0, 1 when the
 * daemon cannot be reached or answers with an error, 2 for bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd.h"
#include "tcpud/config.h"

void tcpu_usage_show(FILE *f) {
  fprintf(
      f,
      "usage: tcpu show [--json] [--socket PATH]\n"
      "\n"
      "Prints the state of a running tcpud: its tunnel and counters (sealed\n"
      "mode: handshakes, authentication failures, replays, cookies;\n"
      "keepalives), its rendezvous registration, its peers (endpoint, key,\n"
      "session, last handshake, bytes, roams, rendezvous lookups),\n"
      "services, forwards, and each tunnel connection with its state, RTT,\n"
      "congestion window, retransmissions and byte counts (like `ss -ti`).\n"
      "\n"
      "  --json          one JSON document instead of text\n"
      "  --socket PATH   the daemon's control socket (default\n"
      "                  $XDG_RUNTIME_DIR/tcpud.sock, else /run/tcpud.sock)\n");
}

int tcpu_cmd_show(int argc, char **argv) {
  const char *path = NULL;
  char def[256], buf[65536];
  const char *req = "show\n";
  struct sockaddr_un sun;
  size_t have = 0;
  int fd, header_done = 0, failed = 0;
  ssize_t n;

  for (int i = 1; i < argc; i++) {
    int r;

    if (strcmp(argv[i], "--json") == 0) {
      req = "show json\n";
    } else if ((r = tcpu_opt("show", argc, argv, &i, "--socket", &path)) != 0) {
      if (r < 0)
        return 2;
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      tcpu_usage_show(stdout);
      return 0;
    } else {
      fprintf(stderr, "tcpu show: unknown argument '%s'\n", argv[i]);
      tcpu_usage_show(stderr);
      return 2;
    }
  }
  if (path == NULL)
    path = tcpud_default_socket_path(def, sizeof(def));
  if (strlen(path) >= sizeof(sun.sun_path)) {
    fprintf(stderr, "tcpu show: %s: path too long\n", path);
    return 2;
  }
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
    fprintf(stderr, "tcpu show: cannot reach tcpud at %s: %s%s\n", path,
            strerror(errno),
            errno == ENOENT || errno == ECONNREFUSED
                ? " (is tcpud running? its socket may be elsewhere: --socket)"
                : "");
    if (fd >= 0)
      close(fd);
    return 1;
  }
  if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
    fprintf(stderr, "tcpu show: %s: %s\n", path, strerror(errno));
    close(fd);
    return 1;
  }
  /* First line: "ok" or "error: ..."; then the body, copied as it comes. */
  while ((n = read(fd, buf + have, sizeof(buf) - have)) > 0 ||
         (n < 0 && errno == EINTR)) {
    if (n < 0)
      continue;
    have += (size_t)n;
    if (!header_done) {
      char *nl = memchr(buf, '\n', have);
      if (nl == NULL && have < sizeof(buf))
        continue;
      if (nl == NULL || strncmp(buf, "ok\n", 3) != 0) {
        fprintf(stderr, "tcpu show: tcpud answered: %.*s\n",
                (int)(nl ? nl - buf : (ptrdiff_t)have), buf);
        failed = 1;
        break;
      }
      header_done = 1;
      fwrite(nl + 1, 1, have - (size_t)(nl + 1 - buf), stdout);
    } else {
      fwrite(buf, 1, have, stdout);
    }
    have = 0;
  }
  close(fd);
  if (!failed && !header_done) {
    fprintf(stderr,
            "tcpu show: tcpud at %s closed the connection without an "
            "answer\n",
            path);
    failed = 1;
  }
  if (fflush(stdout) != 0)
    failed = 1;
  return failed;
}
