/*
 * config.c — the INI file (through inih) and the one-line flags into
 * struct tcpud_config; see config.h for the format.
 *
 * inih splits "Key = Value" lines and strips blanks and inline ';'
 * comments.  It reads through our line reader (ini_parse_stream), which
 * is where line numbers come from (the packaged inih passes none to the
 * handler), where sections begin (so that every [Peer] makes a new peer,
 * empty ones included) and where lines are normalised: leading blanks
 * removed (no multi-line continuation values), '#' comments cut, over-long
 * and malformed lines reported and replaced by empty ones.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <sodium.h>

#include "tcpu/tcpu_cc.h"
#include "tcpud/config.h"
#include "tcpud/log.h"

/* ------------------------------------------------------------- messages */

static void add_message(char ***list, size_t *n, const char *origin,
                        const char *fmt, va_list ap) {
  char msg[512];
  char *line;
  size_t len;
  char **p;

  vsnprintf(msg, sizeof(msg), fmt, ap);
  if (*n > TCPUD_MAX_ERRORS) {
    return;
  }
  if (*n == TCPUD_MAX_ERRORS) {
    snprintf(msg, sizeof(msg), "too many problems; stopping the list here");
    origin = NULL;
  }
  len = (origin ? strlen(origin) + 2 : 0) + strlen(msg) + 1;
  line = malloc(len);
  p = realloc(*list, (*n + 1) * sizeof(**list));
  if (line == NULL || p == NULL) {
    free(line);
    if (p != NULL)
      *list = p;
    return;
  }
  if (origin)
    snprintf(line, len, "%s: %s", origin, msg);
  else
    snprintf(line, len, "%s", msg);
  *list = p;
  (*list)[(*n)++] = line;
}

void tcpud_config_error(tcpud_config *cfg, const char *origin, const char *fmt,
                        ...) {
  va_list ap;
  va_start(ap, fmt);
  add_message(&cfg->errors, &cfg->n_errors, origin, fmt, ap);
  va_end(ap);
  cfg->error_count++; /* even when the message found no memory */
}

void tcpud_config_warning(tcpud_config *cfg, const char *origin,
                          const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_message(&cfg->warnings, &cfg->n_warnings, origin, fmt, ap);
  va_end(ap);
}

/* ---------------------------------------------------------- life cycle */

void tcpud_config_init(tcpud_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->mode = TCPUD_MODE_PLAIN;
  cfg->cipher = TCPUD_CIPHER_CHACHAPOLY;
  cfg->flag_peer = -1;
  cfg->mtu = 1500;
  cfg->max_connections = TCPUD_DEFAULT_MAX_CONNECTIONS;
  cfg->drain_timeout_ms = TCPUD_DEFAULT_DRAIN_TIMEOUT_MS;
  cfg->log_level = TCPUD_LOG_DEFAULT;
}

void tcpud_config_free(tcpud_config *cfg) {
  for (size_t i = 0; i < cfg->n_peers; i++) {
    tcpud_peer_conf *p = &cfg->peers[i];
    free(p->origin);
    free(p->allowed_ips);
    free(p->psk_file);
    free(p->psk_origin);
    free(p->allow_reverse);
    sodium_memzero(p->public_key, sizeof(p->public_key));
    sodium_memzero(p->psk, sizeof(p->psk));
  }
  for (size_t i = 0; i < cfg->n_services; i++) {
    free(cfg->services[i].origin);
    free(cfg->services[i].peers);
  }
  for (size_t i = 0; i < cfg->n_forwards; i++)
    free(cfg->forwards[i].origin);
  for (size_t i = 0; i < cfg->n_errors; i++)
    free(cfg->errors[i]);
  for (size_t i = 0; i < cfg->n_warnings; i++)
    free(cfg->warnings[i]);
  free(cfg->peers);
  free(cfg->services);
  free(cfg->forwards);
  free(cfg->errors);
  free(cfg->warnings);
  free(cfg->path);
  free(cfg->private_key_file);
  free(cfg->private_key_origin);
  free(cfg->mode_origin);
  sodium_memzero(cfg->private_key, sizeof(cfg->private_key));
  free(cfg->control_socket);
  free(cfg->pcap_file);
  free(cfg->rendezvous_origin);
  tcpud_config_init(cfg);
}

/* Appends one zeroed element to a dynamic array.  Returns it, or NULL
 * (error recorded) at the item limit or without memory. */
static void *grow(tcpud_config *cfg, const char *origin, void **arr, size_t *n,
                  size_t size, const char *what) {
  char *p;

  if (*n >= TCPUD_MAX_ITEMS) {
    tcpud_config_error(cfg, origin, "too many %s (at most %d)", what,
                       TCPUD_MAX_ITEMS);
    return NULL;
  }
  p = realloc(*arr, (*n + 1) * size);
  if (p == NULL) {
    tcpud_config_error(cfg, origin, "out of memory");
    return NULL;
  }
  *arr = p;
  memset(p + *n * size, 0, size);
  return p + (*n)++ * size;
}

static char *xstrdup(tcpud_config *cfg, const char *origin, const char *s) {
  char *d = strdup(s);
  if (d == NULL)
    tcpud_config_error(cfg, origin, "out of memory");
  return d;
}

/* ------------------------------------------------------- value parsers */

/* Each returns 0, or -1 after recording an error about `key`. */

static int parse_uint(tcpud_config *cfg, const char *origin, const char *key,
                      const char *v, unsigned long lo, unsigned long hi,
                      unsigned long *out) {
  char *end;
  unsigned long x;

  errno = 0;
  if (*v < '0' || *v > '9' || (x = strtoul(v, &end, 10), *end != '\0') ||
      errno != 0 || x < lo || x > hi) {
    tcpud_config_error(cfg, origin,
                       "%s = '%s': expected a number from %lu to %lu", key, v,
                       lo, hi);
    return -1;
  }
  *out = x;
  return 0;
}

/* Seconds, with up to three decimals ("2.5"), into milliseconds. */
static int parse_seconds(tcpud_config *cfg, const char *origin, const char *key,
                         const char *v, unsigned max_s, unsigned *ms) {
  unsigned long whole = 0, frac = 0, scale = 1000;
  const char *p = v;

  if (*p < '0' || *p > '9')
    goto bad;
  for (; *p >= '0' && *p <= '9'; p++) {
    whole = whole * 10 + (unsigned long)(*p - '0');
    if (whole > max_s)
      goto bad;
  }
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9')
      goto bad;
    for (; *p >= '0' && *p <= '9'; p++) {
      if (scale == 1)
        goto bad;
      scale /= 10;
      frac += (unsigned long)(*p - '0') * scale;
    }
  }
  if (*p != '\0' || whole * 1000 + frac > (unsigned long)max_s * 1000)
    goto bad;
  *ms = (unsigned)(whole * 1000 + frac);
  return 0;
bad:
  tcpud_config_error(
      cfg, origin,
      "%s = '%s': expected seconds from 0 to %u (up to 3 decimals)", key, v,
      max_s);
  return -1;
}

static int name_valid(const char *s) {
  size_t n = strlen(s);

  if (n == 0 || n > TCPUD_NAME_MAX)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
      return 0;
  return 1;
}

static int parse_name(tcpud_config *cfg, const char *origin, const char *key,
                      const char *v, char out[TCPUD_NAME_MAX + 1]) {
  if (!name_valid(v)) {
    tcpud_config_error(cfg, origin,
                       "%s = '%s': names are 1 to %d letters, digits, '-', "
                       "'_' or '.'",
                       key, v, TCPUD_NAME_MAX);
    return -1;
  }
  snprintf(out, TCPUD_NAME_MAX + 1, "%.*s", TCPUD_NAME_MAX, v);
  return 0;
}

/* A rendezvous name: what the protocol allows (1 to 64 printable ASCII
 * characters, no space), so a base64 public key is one. */
static int rdv_name_valid(const char *s) {
  size_t n = strlen(s);

  if (n == 0 || n > TCPUD_RDV_NAME_MAX)
    return 0;
  for (; *s; s++)
    if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
      return 0;
  return 1;
}

static int parse_rdv_name(tcpud_config *cfg, const char *origin,
                          const char *key, const char *v,
                          char out[TCPUD_RDV_NAME_MAX + 1]) {
  if (!rdv_name_valid(v)) {
    tcpud_config_error(cfg, origin,
                       "%s = '%s': rendezvous names are 1 to %d printable "
                       "characters without spaces",
                       key, v, TCPUD_RDV_NAME_MAX);
    return -1;
  }
  snprintf(out, TCPUD_RDV_NAME_MAX + 1, "%s", v);
  return 0;
}

static int parse_bool(tcpud_config *cfg, const char *origin, const char *key,
                      const char *v, int *out) {
  static const char *const yes[] = {"yes", "true", "on", "1"};
  static const char *const no[] = {"no", "false", "off", "0"};

  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    if (strcasecmp(v, yes[i]) == 0) {
      *out = 1;
      return 0;
    }
    if (strcasecmp(v, no[i]) == 0) {
      *out = 0;
      return 0;
    }
  }
  tcpud_config_error(cfg, origin, "%s = '%s': expected yes or no", key, v);
  return -1;
}

static int parse_hostport(tcpud_config *cfg, const char *origin,
                          const char *key, const char *v, unsigned flags,
                          tcpud_hostport *hp) {
  char err[300];

  if (tcpud_hostport_parse(hp, v, flags, err, sizeof(err)) != 0) {
    tcpud_config_error(cfg, origin, "%s: %s", key, err);
    return -1;
  }
  return 0;
}

/* A tunnel port that names a service: 1 is the control channel. */
static int parse_service_port(tcpud_config *cfg, const char *origin,
                              const char *key, const char *v, uint16_t *port) {
  int p = tcpud_port_parse(v, 0);

  if (p < 0) {
    tcpud_config_error(cfg, origin,
                       "%s = '%s': expected a port from 2 to 65535", key, v);
    return -1;
  }
  if (p == TCPUD_CONTROL_PORT) {
    tcpud_config_error(cfg, origin,
                       "%s = 1: tunnel port 1 is reserved for tcpud's control "
                       "channel",
                       key);
    return -1;
  }
  *port = (uint16_t)p;
  return 0;
}

static int parse_path(tcpud_config *cfg, const char *origin, const char *key,
                      const char *v, char **out) {
  char *d;

  if (*v == '\0') {
    tcpud_config_error(cfg, origin, "%s: empty path", key);
    return -1;
  }
  d = xstrdup(cfg, origin, v);
  if (d == NULL)
    return -1;
  free(*out);
  *out = d;
  return 0;
}

static int parse_bind_ip(tcpud_config *cfg, const char *origin, const char *key,
                         const char *v, tcpud_hostport *hp) {
  tcpu_addr a;

  if (tcpud_ip_parse(&a, v) != 0) {
    tcpud_config_error(cfg, origin,
                       "%s = '%s': expected an IPv4 or IPv6 address", key, v);
    return -1;
  }
  snprintf(hp->host, sizeof(hp->host), "%s", v);
  return 0;
}

/* 44 characters of base64 into 32 bytes.  0 or -1. */
static int key_decode(const char *v, size_t len, uint8_t out[TCPUD_KEY_LEN]) {
  uint8_t k[TCPUD_KEY_LEN];
  size_t n = 0;
  int rv = -1;

  if (len == TCPUD_KEY_B64_LEN &&
      sodium_base642bin(k, sizeof(k), v, len, NULL, &n, NULL,
                        sodium_base64_VARIANT_ORIGINAL) == 0 &&
      n == TCPUD_KEY_LEN) {
    memcpy(out, k, TCPUD_KEY_LEN);
    rv = 0;
  }
  sodium_memzero(k, sizeof(k));
  return rv;
}

static int parse_key(tcpud_config *cfg, const char *origin, const char *key,
                     const char *v, uint8_t out[TCPUD_KEY_LEN]) {
  if (key_decode(v, strlen(v), out) != 0) {
    tcpud_config_error(cfg, origin,
                       "%s: not a key (44 characters of base64, as `tcpu "
                       "genkey | tcpu pubkey` prints)",
                       key);
    return -1;
  }
  return 0;
}

/* Reads a secret key from a file, as `tcpu genkey` and `tcpu genpsk`
 * write it: 44 characters of base64, blanks and a newline around them
 * allowed.  Only regular files (never a FIFO or a terminal that would
 * block), opened without following into a controlling terminal.  One
 * that group or others may read is used, with a warning. */
static int read_key_file(tcpud_config *cfg, const char *origin, const char *key,
                         const char *path, uint8_t out[TCPUD_KEY_LEN]) {
  char buf[256];
  const char *start = buf;
  size_t len = 0;
  struct stat st;
  ssize_t n;
  int fd, rv = -1;

  fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    tcpud_config_error(cfg, origin, "%s = %s: %s", key, path, strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0) {
    tcpud_config_error(cfg, origin, "%s = %s: %s", key, path, strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    tcpud_config_error(cfg, origin, "%s = %s: not a regular file", key, path);
    goto out;
  }
  while (len < sizeof(buf) - 1 &&
         ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0 ||
          (n < 0 && errno == EINTR)))
    if (n > 0)
      len += (size_t)n;
  if (n < 0) {
    tcpud_config_error(cfg, origin, "%s = %s: %s", key, path, strerror(errno));
    goto out;
  }
  buf[len] = '\0';
  while (len > 0 && isspace((unsigned char)buf[len - 1]))
    buf[--len] = '\0';
  while (*start != '\0' && isspace((unsigned char)*start))
    start++;
  if (key_decode(start, strlen(start), out) != 0) {
    tcpud_config_error(cfg, origin,
                       "%s = %s: not a key (one line of 44 characters of "
                       "base64, as `tcpu genkey` or `tcpu genpsk` writes)",
                       key, path);
    goto out;
  }
  if ((st.st_mode & 077) != 0)
    tcpud_config_warning(cfg, origin,
                         "%s = %s: the file is readable by group or others "
                         "(mode %04o); keep secrets private: chmod 600 %s",
                         key, path, (unsigned)(st.st_mode & 07777), path);
  rv = 0;
out:
  sodium_memzero(buf, sizeof(buf));
  close(fd);
  return rv;
}

static int parse_mode(tcpud_config *cfg, const char *origin, const char *key,
                      const char *v) {
  char *o;

  if (strcasecmp(v, "plain") == 0) {
    cfg->mode = TCPUD_MODE_PLAIN;
  } else if (strcasecmp(v, "sealed") == 0) {
    cfg->mode = TCPUD_MODE_SEALED;
  } else {
    tcpud_config_error(cfg, origin, "%s = '%s': expected plain or sealed", key,
                       v);
    return -1;
  }
  if ((o = xstrdup(cfg, origin, origin)) == NULL)
    return -1;
  free(cfg->mode_origin);
  cfg->mode_origin = o;
  return 0;
}

static int parse_cipher(tcpud_config *cfg, const char *origin, const char *key,
                        const char *v) {
  if (strcasecmp(v, "chachapoly") == 0) {
    cfg->cipher = TCPUD_CIPHER_CHACHAPOLY;
    return 0;
  }
  if (strcasecmp(v, "aesgcm") == 0) {
    /* libsodium's AES-256-GCM exists only where the CPU has AES-NI and
     * CLMUL; sodium_init finds out (it may run more than once). */
    if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available()) {
      tcpud_config_error(cfg, origin,
                         "%s = aesgcm: this CPU has no AES-NI, which "
                         "AES-256-GCM needs here; use chachapoly (both "
                         "ends must agree)",
                         key);
      return -1;
    }
    cfg->cipher = TCPUD_CIPHER_AESGCM;
    return 0;
  }
  tcpud_config_error(cfg, origin, "%s = '%s': expected chachapoly or aesgcm",
                     key, v);
  return -1;
}

/* A key file's path, read at finish (sealed mode only). */
static int parse_key_path(tcpud_config *cfg, const char *origin,
                          const char *key, const char *v, char **path,
                          char **where) {
  char *o;

  if (parse_path(cfg, origin, key, v, path) != 0)
    return -1;
  if ((o = xstrdup(cfg, origin, origin)) == NULL)
    return -1;
  free(*where);
  *where = o;
  return 0;
}

static int parse_keepalive(tcpud_config *cfg, const char *origin,
                           const char *key, const char *v, unsigned *out) {
  unsigned long x;

  if (strcasecmp(v, "off") == 0) {
    *out = 0;
    return 0;
  }
  if (parse_uint(cfg, origin, key, v, 0, 65535, &x) != 0)
    return -1;
  *out = (unsigned)x;
  return 0;
}

/* Rendezvous = HOST:PORT, the server.  Its origin is kept even when the
 * value is bad, so that finish does not add that it is missing. */
static int parse_rendezvous(tcpud_config *cfg, const char *origin,
                            const char *key, const char *v) {
  char *o;

  if ((o = xstrdup(cfg, origin, origin)) == NULL)
    return -1;
  free(cfg->rendezvous_origin);
  cfg->rendezvous_origin = o;
  return parse_hostport(cfg, origin, key, v, 0, &cfg->rendezvous);
}

static int parse_cc(tcpud_config *cfg, const char *origin, const char *key,
                    const char *v) {
  if (strlen(v) >= sizeof(cfg->cc) || tcpu_cc_find(NULL, v) == NULL) {
    tcpud_config_error(cfg, origin,
                       "%s = '%s': unknown algorithm (built in: cubic, "
                       "newreno, bbr, ledbat)",
                       key, v);
    return -1;
  }
  snprintf(cfg->cc, sizeof(cfg->cc), "%s", v);
  return 0;
}

/* Splits a list value at commas and blanks and calls fn on each item. */
static int for_each_item(tcpud_config *cfg, const char *origin, const char *key,
                         const char *v,
                         int (*fn)(tcpud_config *, const char *, const char *,
                                   const char *, void *),
                         void *arg) {
  char item[TCPUD_HOST_MAX + 64];
  int rv = 0, any = 0;

  while (*v) {
    size_t n = strcspn(v, ", \t");
    if (n > 0) {
      any = 1;
      if (n >= sizeof(item)) {
        tcpud_config_error(cfg, origin, "%s: entry too long", key);
        rv = -1;
      } else {
        memcpy(item, v, n);
        item[n] = '\0';
        if (fn(cfg, origin, key, item, arg) != 0)
          rv = -1;
      }
    }
    v += n;
    v += strspn(v, ", \t");
  }
  if (!any) {
    tcpud_config_error(cfg, origin, "%s: empty list", key);
    return -1;
  }
  return rv;
}

static int add_cidr(tcpud_config *cfg, const char *origin, const char *key,
                    const char *item, void *arg) {
  tcpud_peer_conf *peer = arg;
  tcpud_cidr c, *slot;
  char err[200];

  if (tcpud_cidr_parse(&c, item, err, sizeof(err)) != 0) {
    tcpud_config_error(cfg, origin, "%s: %s", key, err);
    return -1;
  }
  slot = grow(cfg, origin, (void **)&peer->allowed_ips, &peer->n_allowed_ips,
              sizeof(*slot), "AllowedIPs entries");
  if (slot == NULL)
    return -1;
  *slot = c;
  return 0;
}

/* "*", "PORT", "LO-HI", "ADDR:PORT[-HI]", "[V6]:PORT[-HI]". */
static int add_revallow(tcpud_config *cfg, const char *origin, const char *key,
                        const char *item, void *arg) {
  tcpud_peer_conf *peer = arg;
  tcpud_revallow r, *slot;
  char buf[TCPUD_HOST_MAX + 64];
  const char *ports = item;
  char *dash;
  int lo, hi;

  memset(&r, 0, sizeof(r));
  if (strcmp(item, "*") == 0) {
    r.any = 1;
    r.lo = 1;
    r.hi = 65535;
  } else {
    const char *colon =
        item[0] == '[' ? strstr(item, "]:") : strrchr(item, ':');
    if (colon != NULL) {
      size_t n = (size_t)(colon - item);
      const char *ip = item;
      if (item[0] == '[') {
        ip++;
        n--;
      }
      if (n >= sizeof(buf))
        goto bad;
      memcpy(buf, ip, n);
      buf[n] = '\0';
      if (tcpud_ip_parse(&r.ip, buf) != 0) {
        tcpud_config_error(cfg, origin, "%s = '%s': '%s' is not an IP address",
                           key, item, buf);
        return -1;
      }
      r.has_ip = 1;
      ports = colon + (item[0] == '[' ? 2 : 1);
    }
    snprintf(buf, sizeof(buf), "%s", ports);
    dash = strchr(buf, '-');
    if (dash != NULL)
      *dash = '\0';
    lo = tcpud_port_parse(buf, 0);
    hi = dash != NULL ? tcpud_port_parse(dash + 1, 0) : lo;
    if (lo < 0 || hi < 0 || hi < lo)
      goto bad;
    r.lo = (uint16_t)lo;
    r.hi = (uint16_t)hi;
  }
  slot = grow(cfg, origin, (void **)&peer->allow_reverse,
              &peer->n_allow_reverse, sizeof(*slot), "AllowReverse entries");
  if (slot == NULL)
    return -1;
  *slot = r;
  return 0;
bad:
  tcpud_config_error(
      cfg, origin,
      "%s = '%s': expected *, PORT, LOW-HIGH or ADDRESS:PORT[-HIGH]", key,
      item);
  return -1;
}

static int add_peer_name(tcpud_config *cfg, const char *origin, const char *key,
                         const char *item, void *arg) {
  tcpud_service_conf *svc = arg;
  char(*slot)[TCPUD_NAME_MAX + 1];

  if (strcmp(item, "*") == 0) {
    svc->any_peer = 1;
    return 0;
  }
  if (!name_valid(item)) {
    tcpud_config_error(cfg, origin, "%s: '%s' is not a peer name (or *)", key,
                       item);
    return -1;
  }
  slot = grow(cfg, origin, (void **)&svc->peers, &svc->n_peers, sizeof(*slot),
              "Peers entries");
  if (slot == NULL)
    return -1;
  snprintf(*slot, sizeof(*slot), "%s", item);
  return 0;
}

/* ------------------------------------------------------------ sections */

typedef enum section {
  SEC_NONE = 0, /* before any section */
  SEC_INTERFACE,
  SEC_PEER,
  SEC_SERVICE,
  SEC_FORWARD,
  SEC_BAD /* unknown or malformed header: its keys are skipped */
} section;

static const char *const section_names[] = {NULL, "Interface", "Peer",
                                            "Service", "Forward"};

/* Keys per section.  A '+' prefix marks a list key, which may repeat. */
static const char *const keys_interface[] = {"ListenPort",
                                             "Address",
                                             "Mode",
                                             "PrivateKeyFile",
                                             "Cipher",
                                             "MTU",
                                             "MaxConnections",
                                             "CongestionControl",
                                             "DrainTimeout",
                                             "LogLevel",
                                             "LogTarget",
                                             "ControlSocket",
                                             "PcapFile",
                                             "Rendezvous",
                                             "Name",
                                             NULL};
static const char *const keys_peer[] = {"Name",
                                        "Endpoint",
                                        "+AllowedIPs",
                                        "PublicKey",
                                        "PresharedKeyFile",
                                        "+AllowReverse",
                                        "PersistentKeepalive",
                                        "Rendezvous",
                                        "RendezvousName",
                                        NULL};
static const char *const keys_service[] = {"Name", "Port", "Target", "+Peers",
                                           NULL};
static const char *const keys_forward[] = {"Local",   "Reverse", "Peer",
                                           "Service", "Target",  NULL};
static const char *const *const section_keys[] = {
    NULL, keys_interface, keys_peer, keys_service, keys_forward};

#define MAX_KEYS 16

typedef struct parser {
  tcpud_config *cfg;
  const char *name; /* file name in messages */
  const char *text;
  size_t len, pos;
  int line;
  section sec;
  int sec_line;
  int interface_line;     /* first [Interface], 0 if none yet */
  int key_line[MAX_KEYS]; /* where each key of this section was set */
  char origin[TCPUD_HOST_MAX + 32];
} parser;

static const char *at_line(parser *p, int line) {
  snprintf(p->origin, sizeof(p->origin), "%s:%d", p->name, line);
  return p->origin;
}

static void begin_section(parser *p, const char *name) {
  tcpud_config *cfg = p->cfg;
  const char *origin = at_line(p, p->line);
  char *o;

  memset(p->key_line, 0, sizeof(p->key_line));
  p->sec = SEC_BAD;
  p->sec_line = p->line;
  for (int s = SEC_INTERFACE; s <= SEC_FORWARD; s++)
    if (strcasecmp(name, section_names[s]) == 0)
      p->sec = (section)s;
  if (p->sec == SEC_BAD) {
    tcpud_config_error(cfg, origin,
                       "unknown section [%s] (expected [Interface], [Peer], "
                       "[Service] or [Forward])",
                       name);
    return;
  }
  if (p->sec == SEC_INTERFACE) {
    if (p->interface_line != 0) {
      tcpud_config_error(
          cfg, origin, "a second [Interface] section (the first is at line %d)",
          p->interface_line);
      p->sec = SEC_BAD;
      return;
    }
    p->interface_line = p->line;
    return;
  }
  o = xstrdup(cfg, origin, origin);
  if (o == NULL) {
    p->sec = SEC_BAD;
    return;
  }
  if (p->sec == SEC_PEER) {
    tcpud_peer_conf *peer =
        grow(cfg, origin, (void **)&cfg->peers, &cfg->n_peers, sizeof(*peer),
             "[Peer] sections");
    if (peer != NULL) {
      peer->origin = o;
      return;
    }
  } else if (p->sec == SEC_SERVICE) {
    tcpud_service_conf *svc =
        grow(cfg, origin, (void **)&cfg->services, &cfg->n_services,
             sizeof(*svc), "[Service] sections");
    if (svc != NULL) {
      svc->origin = o;
      svc->reverse_of = -1;
      return;
    }
  } else {
    tcpud_forward_conf *fwd =
        grow(cfg, origin, (void **)&cfg->forwards, &cfg->n_forwards,
             sizeof(*fwd), "[Forward] sections");
    if (fwd != NULL) {
      fwd->origin = o;
      return;
    }
  }
  free(o);
  p->sec = SEC_BAD;
}

static int set_interface(tcpud_config *cfg, const char *origin, const char *key,
                         const char *v) {
  unsigned long x;
  int lvl;

  if (strcasecmp(key, "ListenPort") == 0) {
    if (parse_uint(cfg, origin, key, v, 0, 65535, &x) != 0)
      return -1;
    cfg->listen.port = (uint16_t)x;
  } else if (strcasecmp(key, "Address") == 0) {
    return parse_bind_ip(cfg, origin, key, v, &cfg->listen);
  } else if (strcasecmp(key, "Mode") == 0) {
    return parse_mode(cfg, origin, key, v);
  } else if (strcasecmp(key, "PrivateKeyFile") == 0) {
    return parse_key_path(cfg, origin, key, v, &cfg->private_key_file,
                          &cfg->private_key_origin);
  } else if (strcasecmp(key, "Cipher") == 0) {
    return parse_cipher(cfg, origin, key, v);
  } else if (strcasecmp(key, "MTU") == 0) {
    if (parse_uint(cfg, origin, key, v, 576, 65535, &x) != 0)
      return -1;
    cfg->mtu = (uint32_t)x;
  } else if (strcasecmp(key, "MaxConnections") == 0) {
    if (parse_uint(cfg, origin, key, v, 1, 1000000, &x) != 0)
      return -1;
    cfg->max_connections = (unsigned)x;
  } else if (strcasecmp(key, "CongestionControl") == 0) {
    return parse_cc(cfg, origin, key, v);
  } else if (strcasecmp(key, "DrainTimeout") == 0) {
    return parse_seconds(cfg, origin, key, v, 3600, &cfg->drain_timeout_ms);
  } else if (strcasecmp(key, "LogLevel") == 0) {
    if ((lvl = tcpud_log_level_parse(v)) < 0) {
      tcpud_config_error(cfg, origin,
                         "%s = '%s': expected error, warning, notice, info or "
                         "debug",
                         key, v);
      return -1;
    }
    cfg->log_level = lvl;
  } else if (strcasecmp(key, "LogTarget") == 0) {
    if (strcasecmp(v, "stderr") == 0) {
      cfg->log_syslog = 0;
    } else if (strcasecmp(v, "syslog") == 0) {
      cfg->log_syslog = 1;
    } else {
      tcpud_config_error(cfg, origin, "%s = '%s': expected stderr or syslog",
                         key, v);
      return -1;
    }
  } else if (strcasecmp(key, "ControlSocket") == 0) {
    if (strcasecmp(v, "off") == 0 || strcasecmp(v, "none") == 0)
      v = "";
    else if (*v != '/') {
      tcpud_config_error(
          cfg, origin, "%s = '%s': expected an absolute path, or off", key, v);
      return -1;
    }
    free(cfg->control_socket);
    cfg->control_socket = xstrdup(cfg, origin, v);
    return cfg->control_socket ? 0 : -1;
  } else if (strcasecmp(key, "PcapFile") == 0) {
    return parse_path(cfg, origin, key, v, &cfg->pcap_file);
  } else if (strcasecmp(key, "Rendezvous") == 0) {
    return parse_rendezvous(cfg, origin, key, v);
  } else if (strcasecmp(key, "Name") == 0) {
    return parse_rdv_name(cfg, origin, key, v, cfg->rdv_name);
  }
  return 0;
}

static int set_peer(tcpud_config *cfg, tcpud_peer_conf *peer,
                    const char *origin, const char *key, const char *v) {
  if (strcasecmp(key, "Name") == 0) {
    if (strcmp(v, "*") == 0) {
      tcpud_config_error(cfg, origin,
                         "Name = *: '*' means any peer, it cannot "
                         "name one");
      return -1;
    }
    return parse_name(cfg, origin, key, v, peer->name);
  }
  if (strcasecmp(key, "Endpoint") == 0) {
    if (parse_hostport(cfg, origin, key, v, 0, &peer->endpoint) != 0)
      return -1;
    peer->has_endpoint = 1;
    return 0;
  }
  if (strcasecmp(key, "AllowedIPs") == 0)
    return for_each_item(cfg, origin, key, v, add_cidr, peer);
  if (strcasecmp(key, "PublicKey") == 0) {
    if (parse_key(cfg, origin, key, v, peer->public_key) != 0)
      return -1;
    peer->has_public_key = 1;
    return 0;
  }
  if (strcasecmp(key, "PresharedKeyFile") == 0)
    return parse_key_path(cfg, origin, key, v, &peer->psk_file,
                          &peer->psk_origin);
  if (strcasecmp(key, "AllowReverse") == 0)
    return for_each_item(cfg, origin, key, v, add_revallow, peer);
  if (strcasecmp(key, "PersistentKeepalive") == 0) {
    peer->has_keepalive = 1;
    return parse_keepalive(cfg, origin, key, v, &peer->keepalive_s);
  }
  if (strcasecmp(key, "Rendezvous") == 0) {
    int on;
    if (parse_bool(cfg, origin, key, v, &on) != 0)
      return -1;
    peer->rendezvous = (unsigned)on;
    return 0;
  }
  if (strcasecmp(key, "RendezvousName") == 0)
    return parse_rdv_name(cfg, origin, key, v, peer->rdv_name);
  return 0;
}

static int set_service(tcpud_config *cfg, tcpud_service_conf *svc,
                       const char *origin, const char *key, const char *v) {
  if (strcasecmp(key, "Name") == 0)
    return parse_name(cfg, origin, key, v, svc->name);
  if (strcasecmp(key, "Port") == 0)
    return parse_service_port(cfg, origin, key, v, &svc->port);
  if (strcasecmp(key, "Target") == 0)
    return parse_hostport(cfg, origin, key, v, 0, &svc->target);
  if (strcasecmp(key, "Peers") == 0)
    return for_each_item(cfg, origin, key, v, add_peer_name, svc);
  return 0;
}

/* Local/Reverse: "[ADDR:]PORT"; the address defaults to 127.0.0.1. */
static int parse_listen(tcpud_config *cfg, const char *origin, const char *key,
                        const char *v, tcpud_hostport *hp) {
  tcpu_addr a;

  if (parse_hostport(cfg, origin, key, v, TCPUD_HP_HOST_OPTIONAL, hp) != 0)
    return -1;
  if (hp->host[0] == '\0')
    snprintf(hp->host, sizeof(hp->host), "%s", TCPUD_DEFAULT_LOCAL_HOST);
  else if (tcpud_ip_parse(&a, hp->host) != 0) {
    tcpud_config_error(
        cfg, origin, "%s = '%s': listen on an IP address, not a name", key, v);
    return -1;
  }
  return 0;
}

static int set_forward(tcpud_config *cfg, tcpud_forward_conf *fwd,
                       const char *origin, const char *key, const char *v,
                       int *seen_local, int *seen_reverse) {
  if (strcasecmp(key, "Local") == 0) {
    *seen_local = 1;
    if (*seen_reverse) {
      tcpud_config_error(cfg, origin,
                         "Local and Reverse in one [Forward]: use one section "
                         "each");
      return -1;
    }
    fwd->reverse = 0;
    return parse_listen(cfg, origin, key, v, &fwd->listen);
  }
  if (strcasecmp(key, "Reverse") == 0) {
    *seen_reverse = 1;
    if (*seen_local) {
      tcpud_config_error(cfg, origin,
                         "Local and Reverse in one [Forward]: use one section "
                         "each");
      return -1;
    }
    fwd->reverse = 1;
    return parse_listen(cfg, origin, key, v, &fwd->listen);
  }
  if (strcasecmp(key, "Peer") == 0)
    return parse_name(cfg, origin, key, v, fwd->peer);
  if (strcasecmp(key, "Service") == 0)
    return parse_service_port(cfg, origin, key, v, &fwd->service);
  if (strcasecmp(key, "Target") == 0)
    return parse_hostport(cfg, origin, key, v, 0, &fwd->target);
  return 0;
}

/* inih's handler: one "key = value" of the current section. */
static int on_key(void *user, const char *section_name, const char *key,
                  const char *value) {
  parser *p = user;
  tcpud_config *cfg = p->cfg;
  const char *const *keys;
  const char *origin = at_line(p, p->line);
  int idx = -1, list = 0;

  (void)section_name; /* ours comes from the reader */
  if (p->sec == SEC_BAD)
    return 1; /* already reported at the header */
  if (p->sec == SEC_NONE) {
    tcpud_config_error(cfg, origin, "'%s' before the first section", key);
    return 1;
  }
  keys = section_keys[p->sec];
  for (int i = 0; keys[i] != NULL; i++) {
    const char *k = keys[i][0] == '+' ? keys[i] + 1 : keys[i];
    if (strcasecmp(key, k) == 0) {
      idx = i;
      list = keys[i][0] == '+';
      key = k; /* canonical spelling in messages */
    }
  }
  if (idx < 0) {
    tcpud_config_error(cfg, origin, "unknown key '%s' in [%s]", key,
                       section_names[p->sec]);
    return 1;
  }
  if (!list && p->key_line[idx] != 0) {
    tcpud_config_error(cfg, origin,
                       "%s given twice in this section (first at "
                       "line %d)",
                       key, p->key_line[idx]);
    return 1;
  }
  p->key_line[idx] = p->line;
  if (*value == '\0') {
    tcpud_config_error(cfg, origin, "%s has no value", key);
    return 1;
  }
  switch (p->sec) {
  case SEC_INTERFACE:
    set_interface(cfg, origin, key, value);
    break;
  case SEC_PEER:
    set_peer(cfg, &cfg->peers[cfg->n_peers - 1], origin, key, value);
    break;
  case SEC_SERVICE:
    set_service(cfg, &cfg->services[cfg->n_services - 1], origin, key, value);
    break;
  case SEC_FORWARD: {
    int seen_local = p->key_line[0] != 0 && idx != 0;
    int seen_reverse = p->key_line[1] != 0 && idx != 1;
    set_forward(cfg, &cfg->forwards[cfg->n_forwards - 1], origin, key, value,
                &seen_local, &seen_reverse);
    break;
  }
  default:
    break;
  }
  return 1; /* our own messages say what went wrong */
}

/* inih's reader: hands over the next line, normalised (see the top). */
static char *read_line(char *str, int num, void *stream) {
  parser *p = stream;
  const char *start, *end, *nl;
  size_t n;

  if (p->pos >= p->len)
    return NULL;
  start = p->text + p->pos;
  nl = memchr(start, '\n', p->len - p->pos);
  end = nl ? nl : p->text + p->len;
  p->pos = (size_t)(end - p->text) + (nl ? 1 : 0);
  p->line++;
  str[0] = '\0';

  if (memchr(start, '\0', (size_t)(end - start)) != NULL) {
    tcpud_config_error(p->cfg, at_line(p, p->line), "NUL byte in the line");
    return str;
  }
  /* '#' comments anywhere, as WireGuard, and ';' after a blank, as inih;
   * then trim both ends. */
  for (const char *c = start; c < end; c++) {
    if (*c == '#' ||
        (*c == ';' && c > start && isspace((unsigned char)c[-1]))) {
      end = c;
      break;
    }
  }
  while (start < end && isspace((unsigned char)*start))
    start++;
  while (end > start && isspace((unsigned char)end[-1]))
    end--;
  n = (size_t)(end - start);
  if (n == 0)
    return str;
  if (n + 3 > (size_t)num) {
    tcpud_config_error(p->cfg, at_line(p, p->line),
                       "line too long (at most %d characters; repeat a list "
                       "key to continue its list)",
                       num - 3);
    return str;
  }
  if (*start == ';')
    return str;
  if (*start == '[') {
    char name[64];
    if (end[-1] != ']' || n < 3 || n - 2 >= sizeof(name)) {
      tcpud_config_error(p->cfg, at_line(p, p->line),
                         "malformed section header (expected [Name])");
      memset(p->key_line, 0, sizeof(p->key_line));
      p->sec = SEC_BAD;
      return str;
    }
    memcpy(name, start + 1, n - 2);
    name[n - 2] = '\0';
    begin_section(p, name);
  } else if (memchr(start, '=', n) == NULL && memchr(start, ':', n) == NULL) {
    tcpud_config_error(p->cfg, at_line(p, p->line),
                       "expected 'Key = Value' or '[Section]'");
    return str;
  }
  memcpy(str, start, n);
  str[n] = '\n';
  str[n + 1] = '\0';
  return str;
}

int tcpud_config_parse_buffer(tcpud_config *cfg, const char *name,
                              const char *text, size_t len) {
  parser p;
  int rv;

  memset(&p, 0, sizeof(p));
  p.cfg = cfg;
  p.name = name;
  p.text = text;
  p.len = len;
  /* A UTF-8 byte order mark is not ours to report. */
  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
    p.pos = 3;
  rv = ini_parse_stream(read_line, &p, on_key, &p);
  if (rv < 0)
    tcpud_config_error(cfg, name, "out of memory while parsing");
  else if (rv > 0 && cfg->error_count == 0)
    tcpud_config_error(cfg, at_line(&p, rv), "syntax error");
  return tcpud_config_finish(cfg);
}

int tcpud_config_load_file(tcpud_config *cfg, const char *path) {
  FILE *f;
  char *buf = NULL;
  size_t len = 0;
  int rv;

  free(cfg->path);
  cfg->path = xstrdup(cfg, path, path);
  f = fopen(path, "rb");
  if (f == NULL) {
    tcpud_config_error(cfg, path, "%s", strerror(errno));
    return -1;
  }
  buf = malloc(TCPUD_CONFIG_MAX_BYTES + 1);
  if (buf == NULL) {
    fclose(f);
    tcpud_config_error(cfg, path, "out of memory");
    return -1;
  }
  len = fread(buf, 1, TCPUD_CONFIG_MAX_BYTES + 1, f);
  if (ferror(f)) {
    tcpud_config_error(cfg, path, "%s", strerror(errno));
    rv = -1;
  } else if (len > TCPUD_CONFIG_MAX_BYTES) {
    tcpud_config_error(cfg, path, "larger than %d bytes",
                       TCPUD_CONFIG_MAX_BYTES);
    rv = -1;
  } else {
    rv = tcpud_config_parse_buffer(cfg, path, buf, len);
  }
  fclose(f);
  free(buf);
  return rv;
}

/* ----------------------------------------------------------------- flags */

/* Splits s at ':' outside brackets into at most `max` fields (brackets
 * kept).  Returns the number of fields, or -1 when there are more. */
static int split_colons(const char *s, char fields[][TCPUD_HOST_MAX + 2],
                        int max) {
  int n = 0, depth = 0;
  size_t k = 0;

  for (const char *c = s;; c++) {
    if (*c == '\0' || (*c == ':' && depth == 0)) {
      if (n == max)
        return -1;
      fields[n][k] = '\0';
      n++;
      k = 0;
      if (*c == '\0')
        return n;
      continue;
    }
    if (*c == '[')
      depth++;
    else if (*c == ']')
      depth--;
    if (k + 1 >= TCPUD_HOST_MAX + 2)
      return -1;
    fields[n][k++] = *c;
  }
}

/* "[ADDR]" or "ADDR" -> "ADDR"; "*" -> any address. */
static void unbracket(char *s) {
  size_t n = strlen(s);

  if (strcmp(s, "*") == 0) {
    strcpy(s, "0.0.0.0");
  } else if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
    memmove(s, s + 1, n - 2);
    s[n - 2] = '\0';
  }
}

static tcpud_peer_conf *new_flag_peer(tcpud_config *cfg, const char *origin,
                                      const char *name) {
  tcpud_peer_conf *peer = grow(cfg, origin, (void **)&cfg->peers, &cfg->n_peers,
                               sizeof(*peer), "peers");
  if (peer == NULL)
    return NULL;
  peer->origin = xstrdup(cfg, origin, origin);
  snprintf(peer->name, sizeof(peer->name), "%s", name);
  return peer;
}

/* -L [BIND:]PORT:SERVICE[@PEER] and -R [BIND:]PORT:HOST:HOSTPORT[@PEER] */
static int flag_forward(tcpud_config *cfg, const char *origin, const char *v,
                        int reverse) {
  char f[5][TCPUD_HOST_MAX + 2];
  char spec[2 * TCPUD_HOST_MAX];
  tcpud_forward_conf *fwd;
  const char *at = strrchr(v, '@');
  int n, i = 0;
  char listen[2 * TCPUD_HOST_MAX + 16];

  snprintf(spec, sizeof(spec), "%s", v);
  if (at != NULL)
    spec[at - v] = '\0';
  n = split_colons(spec, f, 4);
  if (n < 0 || n < (reverse ? 3 : 2) || n > (reverse ? 4 : 3)) {
    tcpud_config_error(cfg, origin,
                       reverse ? "expected [BIND:]PORT:HOST:HOSTPORT[@PEER]"
                               : "expected [BIND:]PORT:SERVICE[@PEER]");
    return -1;
  }
  fwd = grow(cfg, origin, (void **)&cfg->forwards, &cfg->n_forwards,
             sizeof(*fwd), "forwards");
  if (fwd == NULL)
    return -1;
  fwd->origin = xstrdup(cfg, origin, origin);
  fwd->reverse = (unsigned)reverse;
  if (at != NULL && parse_name(cfg, origin, "PEER", at + 1, fwd->peer) != 0)
    return -1;
  if (n == (reverse ? 4 : 3)) {
    unbracket(f[0]);
    if (strchr(f[0], ':'))
      snprintf(listen, sizeof(listen), "[%s]:%s", f[0], f[1]);
    else
      snprintf(listen, sizeof(listen), "%s:%s", f[0], f[1]);
    i = 2;
  } else {
    snprintf(listen, sizeof(listen), "%s", f[0]);
    i = 1;
  }
  if (parse_listen(cfg, origin, reverse ? "listen address" : "local address",
                   listen, &fwd->listen) != 0)
    return -1;
  if (!reverse)
    return parse_service_port(cfg, origin, "SERVICE", f[i], &fwd->service);
  {
    char target[2 * TCPUD_HOST_MAX + 16];
    snprintf(target, sizeof(target), "%s:%s", f[i], f[i + 1]);
    return parse_hostport(cfg, origin, "target", target, 0, &fwd->target);
  }
}

/* --service PORT=[HOST:]TARGET[@PEER,...]: the host defaults to
 * 127.0.0.1, the peers to any. */
static int flag_service(tcpud_config *cfg, const char *origin, const char *v) {
  char port[16], target[TCPUD_HOST_MAX + 16];
  const char *eq = strchr(v, '='), *at;
  tcpud_service_conf *svc;
  size_t tlen;

  if (eq == NULL || (size_t)(eq - v) >= sizeof(port)) {
    tcpud_config_error(cfg, origin, "expected PORT=[HOST:]TARGET[@PEER,...]");
    return -1;
  }
  svc = grow(cfg, origin, (void **)&cfg->services, &cfg->n_services,
             sizeof(*svc), "services");
  if (svc == NULL)
    return -1;
  svc->origin = xstrdup(cfg, origin, origin);
  svc->reverse_of = -1;
  memcpy(port, v, (size_t)(eq - v));
  port[eq - v] = '\0';
  if (parse_service_port(cfg, origin, "PORT", port, &svc->port) != 0)
    return -1;
  at = strrchr(eq + 1, '@');
  if (at != NULL) {
    if (for_each_item(cfg, origin, "PEER", at + 1, add_peer_name, svc) != 0)
      return -1;
  } else {
    svc->any_peer = 1;
  }
  tlen = at ? (size_t)(at - eq - 1) : strlen(eq + 1);
  if (tlen >= TCPUD_HOST_MAX) {
    tcpud_config_error(cfg, origin, "target too long");
    return -1;
  }
  if (memchr(eq + 1, ':', tlen) == NULL)
    snprintf(target, sizeof(target), "%s:%.*s", TCPUD_DEFAULT_LOCAL_HOST,
             (int)tlen, eq + 1);
  else
    snprintf(target, sizeof(target), "%.*s", (int)tlen, eq + 1);
  return parse_hostport(cfg, origin, "target", target, 0, &svc->target);
}

int tcpud_config_flag(tcpud_config *cfg, const char *flag, const char *v) {
  char origin[TCPUD_HOST_MAX + 64];
  size_t before = cfg->error_count;
  unsigned long x;

  snprintf(origin, sizeof(origin), "%s %s", flag, v);
  if (strcmp(flag, "-L") == 0 || strcmp(flag, "--local") == 0) {
    flag_forward(cfg, origin, v, 0);
  } else if (strcmp(flag, "-R") == 0 || strcmp(flag, "--reverse") == 0) {
    flag_forward(cfg, origin, v, 1);
  } else if (strcmp(flag, "--service") == 0) {
    flag_service(cfg, origin, v);
  } else if (strcmp(flag, "--listen") == 0) {
    tcpud_hostport hp;
    if (parse_hostport(cfg, origin, flag, v,
                       TCPUD_HP_HOST_OPTIONAL | TCPUD_HP_PORT_ZERO, &hp) == 0) {
      tcpu_addr a;
      if (hp.host[0] != '\0' && tcpud_ip_parse(&a, hp.host) != 0)
        tcpud_config_error(cfg, origin, "listen on an IP address, not a name");
      else
        cfg->listen = hp;
    }
  } else if (strcmp(flag, "--peer") == 0) {
    /* [NAME=]HOST:PORT, NAME=, or a bare NAME: a peer without Endpoint
     * (sealed mode, one that only connects in); NAME=rendezvous: found
     * through --rendezvous. */
    const char *eq = strchr(v, '=');
    char name[TCPUD_NAME_MAX + 1];
    tcpud_peer_conf *peer;
    int bare = eq == NULL && strchr(v, ':') == NULL && name_valid(v);

    if (eq != NULL || bare) {
      char buf[64];
      size_t n = eq ? (size_t)(eq - v) : strlen(v);
      snprintf(buf, sizeof(buf), "%.*s", (int)(n < 63 ? n : 63), v);
      if (parse_name(cfg, origin, "NAME", buf, name) != 0)
        return -1;
      v = eq ? eq + 1 : "";
    } else if (cfg->n_peers == 0) {
      snprintf(name, sizeof(name), "peer");
    } else {
      snprintf(name, sizeof(name), "peer%zu", cfg->n_peers + 1);
    }
    peer = new_flag_peer(cfg, origin, name);
    if (peer == NULL)
      return -1;
    cfg->flag_peer = (long)(peer - cfg->peers);
    if (strcmp(v, "rendezvous") == 0)
      peer->rendezvous = 1;
    else if (*v != '\0' &&
             parse_hostport(cfg, origin, "--peer", v, 0, &peer->endpoint) == 0)
      peer->has_endpoint = 1;
  } else if (strcmp(flag, "--public-key") == 0 ||
             strcmp(flag, "--preshared-key") == 0 ||
             strcmp(flag, "--persistent-keepalive") == 0 ||
             strcmp(flag, "--rendezvous-name") == 0) {
    /* Settings of the --peer before them, as wg(8) spells them. */
    tcpud_peer_conf *peer;

    if (cfg->flag_peer < 0 || (size_t)cfg->flag_peer >= cfg->n_peers) {
      tcpud_config_error(cfg, origin,
                         "%s belongs to a peer: put it after that --peer",
                         flag);
      return -1;
    }
    peer = &cfg->peers[cfg->flag_peer];
    if (strcmp(flag, "--public-key") == 0) {
      if (parse_key(cfg, origin, "PublicKey", v, peer->public_key) == 0)
        peer->has_public_key = 1;
    } else if (strcmp(flag, "--preshared-key") == 0) {
      parse_key_path(cfg, origin, "PresharedKeyFile", v, &peer->psk_file,
                     &peer->psk_origin);
    } else if (strcmp(flag, "--rendezvous-name") == 0) {
      /* Implies that the peer is found through the rendezvous. */
      if (parse_rdv_name(cfg, origin, "RendezvousName", v, peer->rdv_name) ==
          0)
        peer->rendezvous = 1;
    } else {
      peer->has_keepalive = 1;
      parse_keepalive(cfg, origin, "PersistentKeepalive", v,
                      &peer->keepalive_s);
    }
  } else if (strcmp(flag, "--private-key") == 0) {
    parse_key_path(cfg, origin, "PrivateKeyFile", v, &cfg->private_key_file,
                   &cfg->private_key_origin);
  } else if (strcmp(flag, "--cipher") == 0) {
    parse_cipher(cfg, origin, "Cipher", v);
  } else if (strcmp(flag, "--rendezvous") == 0) {
    parse_rendezvous(cfg, origin, "Rendezvous", v);
  } else if (strcmp(flag, "--name") == 0) {
    parse_rdv_name(cfg, origin, "Name", v, cfg->rdv_name);
  } else if (strcmp(flag, "--allow-reverse") == 0) {
    /* Applies to every flag peer; kept on a scratch peer until finish. */
    tcpud_peer_conf scratch;
    memset(&scratch, 0, sizeof(scratch));
    if (for_each_item(cfg, origin, flag, v, add_revallow, &scratch) == 0) {
      for (size_t i = 0; i < scratch.n_allow_reverse; i++) {
        tcpud_revallow *slot;
        /* The pseudo-peer "*" collects them (see finish_flags). */
        tcpud_peer_conf *any = (tcpud_peer_conf *)tcpud_config_peer(cfg, "*");
        if (any == NULL && (any = new_flag_peer(cfg, origin, "*")) == NULL)
          break;
        slot =
            grow(cfg, origin, (void **)&any->allow_reverse,
                 &any->n_allow_reverse, sizeof(*slot), "AllowReverse entries");
        if (slot == NULL)
          break;
        *slot = scratch.allow_reverse[i];
      }
    }
    free(scratch.allow_reverse);
  } else if (strcmp(flag, "--mode") == 0) {
    parse_mode(cfg, origin, "Mode", v);
  } else if (strcmp(flag, "--cc") == 0) {
    parse_cc(cfg, origin, "CongestionControl", v);
  } else if (strcmp(flag, "--mtu") == 0) {
    if (parse_uint(cfg, origin, flag, v, 576, 65535, &x) == 0)
      cfg->mtu = (uint32_t)x;
  } else if (strcmp(flag, "--max-connections") == 0) {
    if (parse_uint(cfg, origin, flag, v, 1, 1000000, &x) == 0)
      cfg->max_connections = (unsigned)x;
  } else if (strcmp(flag, "--drain-timeout") == 0) {
    parse_seconds(cfg, origin, flag, v, 3600, &cfg->drain_timeout_ms);
  } else {
    return 1;
  }
  return cfg->error_count > before ? -1 : 0;
}

/* The flag pseudo-peer "*" (from --allow-reverse) becomes either the
 * AllowReverse of every --peer, or, without --peer, a peer named "any"
 * that matches every address. */
static void finish_flags(tcpud_config *cfg) {
  tcpud_peer_conf *any = (tcpud_peer_conf *)tcpud_config_peer(cfg, "*");
  size_t real = cfg->n_peers - (any != NULL);

  if (cfg->path != NULL)
    return;
  if (any != NULL && real > 0) {
    for (size_t i = 0; i < cfg->n_peers; i++) {
      tcpud_peer_conf *p = &cfg->peers[i];
      if (p == any)
        continue;
      for (size_t k = 0; k < any->n_allow_reverse; k++) {
        tcpud_revallow *slot =
            grow(cfg, p->origin, (void **)&p->allow_reverse,
                 &p->n_allow_reverse, sizeof(*slot), "AllowReverse entries");
        if (slot != NULL)
          *slot = any->allow_reverse[k];
      }
    }
    free(any->origin);
    free(any->allow_reverse);
    if (any != &cfg->peers[cfg->n_peers - 1])
      *any = cfg->peers[cfg->n_peers - 1];
    cfg->n_peers--;
    return;
  }
  if (real == 0 && cfg->mode == TCPUD_MODE_SEALED) {
    /* Sealed mode knows peers by their keys only: no "any" here. */
    if (any != NULL) {
      free(any->origin);
      free(any->allow_reverse);
      cfg->n_peers--;
    }
    return;
  }
  if (real == 0) {
    static const char *const all[] = {"0.0.0.0/0", "::/0"};
    char err[64];
    if (any == NULL) {
      any = new_flag_peer(cfg, "flags", "any");
      if (any == NULL)
        return;
    }
    snprintf(any->name, sizeof(any->name), "any");
    for (size_t i = 0; i < 2; i++) {
      tcpud_cidr *slot = grow(cfg, any->origin, (void **)&any->allowed_ips,
                              &any->n_allowed_ips, sizeof(*slot), "AllowedIPs");
      if (slot != NULL)
        tcpud_cidr_parse(slot, all[i], err, sizeof(err));
    }
  }
}

/* ---------------------------------------------------------------- finish */

const tcpud_peer_conf *tcpud_config_peer(const tcpud_config *cfg,
                                         const char *name) {
  for (size_t i = 0; i < cfg->n_peers; i++)
    if (strcmp(cfg->peers[i].name, name) == 0)
      return &cfg->peers[i];
  return NULL;
}

int tcpud_service_admits(const tcpud_service_conf *svc, const char *peer) {
  if (svc->any_peer)
    return 1;
  if (peer == NULL)
    return 0;
  for (size_t i = 0; i < svc->n_peers; i++)
    if (strcmp(svc->peers[i], peer) == 0)
      return 1;
  return 0;
}

int tcpud_peer_allows_reverse(const tcpud_peer_conf *peer,
                              const tcpu_addr *addr) {
  for (size_t i = 0; i < peer->n_allow_reverse; i++) {
    const tcpud_revallow *r = &peer->allow_reverse[i];
    if (r->any)
      return 1;
    if (addr->port < r->lo || addr->port > r->hi)
      continue;
    if (!r->has_ip || tcpud_addr_same_ip(&r->ip, addr))
      return 1;
  }
  return 0;
}

static int hostport_equal(const tcpud_hostport *a, const tcpud_hostport *b) {
  return a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

static void finish_forwards(tcpud_config *cfg) {
  size_t n_with_endpoint = 0;
  const tcpud_peer_conf *only = NULL;

  /* A peer found through the rendezvous has an address to reach it at,
   * like one with an Endpoint. */
  for (size_t i = 0; i < cfg->n_peers; i++)
    if (cfg->peers[i].has_endpoint || cfg->peers[i].rendezvous) {
      n_with_endpoint++;
      only = &cfg->peers[i];
    }
  for (size_t i = 0; i < cfg->n_forwards; i++) {
    tcpud_forward_conf *f = &cfg->forwards[i];
    const tcpud_peer_conf *peer;
    const char *kind = f->reverse ? "Reverse" : "Local";

    if (f->listen.port == 0) {
      tcpud_config_error(cfg, f->origin,
                         "[Forward] needs Local (a -L forward) or Reverse (a "
                         "-R forward)");
      continue;
    }
    if (f->peer[0] == '\0') {
      if (n_with_endpoint != 1) {
        tcpud_config_error(cfg, f->origin,
                           "Peer missing (it may be left out only when "
                           "exactly one peer has an Endpoint or "
                           "Rendezvous = yes)");
        continue;
      }
      snprintf(f->peer, sizeof(f->peer), "%s", only->name);
    }
    peer = tcpud_config_peer(cfg, f->peer);
    if (peer == NULL) {
      tcpud_config_error(cfg, f->origin, "Peer = %s: no such peer", f->peer);
      continue;
    } else if (!peer->has_endpoint && !peer->rendezvous) {
      tcpud_config_error(cfg, f->origin,
                         "Peer = %s: the peer has no Endpoint to reach it at "
                         "(nor Rendezvous = yes)",
                         f->peer);
    }
    if (!f->reverse) {
      if (f->service == 0)
        tcpud_config_error(cfg, f->origin,
                           "Service missing: the tunnel port of the service on "
                           "the peer");
      if (f->target.port != 0)
        tcpud_config_error(cfg, f->origin,
                           "Target belongs to Reverse forwards; a Local "
                           "forward goes to the peer's Service");
    } else {
      if (f->target.port == 0)
        tcpud_config_error(cfg, f->origin,
                           "Target missing: where connections coming back "
                           "through the tunnel go");
      if (f->service == 0) {
        if (f->listen.port == TCPUD_CONTROL_PORT)
          tcpud_config_error(cfg, f->origin,
                             "Reverse port 1 cannot name a service; set "
                             "Service");
        f->service = f->listen.port;
      }
    }
    for (size_t k = 0; k < i; k++) {
      const tcpud_forward_conf *g = &cfg->forwards[k];
      if (g->reverse == f->reverse && hostport_equal(&g->listen, &f->listen) &&
          (!f->reverse || strcmp(g->peer, f->peer) == 0)) {
        tcpud_config_error(cfg, f->origin,
                           "%s address %s:%u is also used at %s", kind,
                           f->listen.host, f->listen.port, g->origin);
        break;
      }
    }
  }
}

/* Every Reverse forward serves its connections like a [Service] that
 * admits only its peer. */
static void add_reverse_services(tcpud_config *cfg) {
  size_t n = cfg->n_forwards;

  for (size_t i = 0; i < n; i++) {
    tcpud_forward_conf *f = &cfg->forwards[i];
    tcpud_service_conf *svc;
    char(*peer)[TCPUD_NAME_MAX + 1];

    if (!f->reverse || f->service == 0 || f->target.port == 0)
      continue;
    svc = grow(cfg, f->origin, (void **)&cfg->services, &cfg->n_services,
               sizeof(*svc), "services");
    if (svc == NULL)
      return;
    f = &cfg->forwards[i];
    svc->origin = xstrdup(cfg, f->origin, f->origin);
    snprintf(svc->name, sizeof(svc->name), "reverse-%u", f->listen.port);
    svc->port = f->service;
    svc->target = f->target;
    svc->reverse_of = (int)i;
    peer = grow(cfg, f->origin, (void **)&svc->peers, &svc->n_peers,
                sizeof(*peer), "Peers entries");
    if (peer != NULL)
      snprintf(*peer, sizeof(*peer), "%s", f->peer);
  }
}

/* Sealed mode: reads the key files, derives our public key, and checks
 * that every peer has a key of its own. */
static void finish_sealed(tcpud_config *cfg) {
  const char *where = cfg->mode_origin ? cfg->mode_origin
                      : cfg->path      ? cfg->path
                                       : "--mode sealed";

  if (cfg->private_key_file == NULL) {
    tcpud_config_error(cfg, where,
                       "sealed mode needs PrivateKeyFile (--private-key): "
                       "make one with `umask 077; tcpu genkey > "
                       "private.key`");
  } else if (read_key_file(cfg, cfg->private_key_origin, "PrivateKeyFile",
                           cfg->private_key_file, cfg->private_key) == 0) {
    if (crypto_scalarmult_base(cfg->public_key, cfg->private_key) != 0) {
      tcpud_config_error(cfg, cfg->private_key_origin,
                         "PrivateKeyFile = %s: not a usable X25519 key",
                         cfg->private_key_file);
      sodium_memzero(cfg->private_key, sizeof(cfg->private_key));
    } else {
      cfg->has_private_key = 1;
    }
  }
  for (size_t i = 0; i < cfg->n_peers; i++) {
    tcpud_peer_conf *p = &cfg->peers[i];

    if (!p->has_public_key) {
      tcpud_config_error(cfg, p->origin,
                         "peer %s: sealed mode needs its PublicKey "
                         "(--public-key), from `tcpu pubkey` on its "
                         "private key",
                         p->name[0] ? p->name : "without a name");
      continue;
    }
    if (cfg->has_private_key &&
        sodium_memcmp(p->public_key, cfg->public_key, TCPUD_KEY_LEN) == 0)
      tcpud_config_error(cfg, p->origin,
                         "peer %s: PublicKey is this host's own public key",
                         p->name);
    for (size_t k = 0; k < i; k++)
      if (cfg->peers[k].has_public_key &&
          memcmp(cfg->peers[k].public_key, p->public_key, TCPUD_KEY_LEN) ==
              0) {
        tcpud_config_error(cfg, p->origin,
                           "peer %s: the same PublicKey as peer %s (%s)",
                           p->name, cfg->peers[k].name, cfg->peers[k].origin);
        break;
      }
    if (p->psk_file != NULL &&
        read_key_file(cfg, p->psk_origin, "PresharedKeyFile", p->psk_file,
                      p->psk) == 0)
      p->has_psk = 1;
    if (p->n_allowed_ips > 0)
      tcpud_config_warning(cfg, p->origin,
                           "peer %s: AllowedIPs is not used in sealed mode "
                           "(peers are known by their keys, from any "
                           "address)",
                           p->name);
  }
}

/* Rendezvous: the server, our name, and the peers found through it (their
 * names and default keepalive).  After finish_sealed, which derives the
 * keys the default names come from. */
static void finish_rendezvous(tcpud_config *cfg) {
  const char *where = cfg->rendezvous_origin ? cfg->rendezvous_origin
                      : cfg->path            ? cfg->path
                                             : "flags";
  char self[TCPUD_RDV_NAME_MAX + 1];
  size_t n_rdv = 0;

  /* Our name as the server will know it. */
  snprintf(self, sizeof(self), "%s", cfg->rdv_name);
  if (self[0] == '\0' && cfg->mode == TCPUD_MODE_SEALED &&
      cfg->has_private_key)
    tcpud_key_prefix(cfg->public_key, TCPUD_KEY_B64_LEN, self, sizeof(self));
  if (cfg->rendezvous.port == 0) {
    if (cfg->rdv_name[0] != '\0' && cfg->rendezvous_origin == NULL)
      tcpud_config_warning(cfg, cfg->path ? cfg->path : "--name",
                           "Name is used only with Rendezvous (the name "
                           "registered with the rendezvous server)");
  } else if (cfg->mode == TCPUD_MODE_PLAIN && cfg->rdv_name[0] == '\0') {
    tcpud_config_error(cfg, where,
                       "plain mode needs Name (--name) with Rendezvous: the "
                       "name this host registers, its peers' "
                       "RendezvousName");
  }
  for (size_t i = 0; i < cfg->n_peers; i++) {
    tcpud_peer_conf *p = &cfg->peers[i];

    if (!p->rendezvous) {
      if (p->rdv_name[0] != '\0')
        tcpud_config_warning(cfg, p->origin,
                             "peer %s: RendezvousName is used only with "
                             "Rendezvous = yes",
                             p->name);
      continue;
    }
    n_rdv++;
    if (cfg->rendezvous.port == 0 && cfg->rendezvous_origin == NULL)
      tcpud_config_error(cfg, p->origin,
                         "peer %s: Rendezvous = yes needs the server: "
                         "[Interface] Rendezvous = HOST:PORT (--rendezvous)",
                         p->name);
    if (p->has_endpoint)
      tcpud_config_error(cfg, p->origin,
                         "peer %s: Endpoint and Rendezvous = yes exclude "
                         "each other (the rendezvous server tells its "
                         "address)",
                         p->name);
    if (p->rdv_name[0] == '\0') {
      if (cfg->mode == TCPUD_MODE_SEALED && p->has_public_key)
        tcpud_key_prefix(p->public_key, TCPUD_KEY_B64_LEN, p->rdv_name,
                         sizeof(p->rdv_name));
      else if (cfg->mode == TCPUD_MODE_PLAIN)
        snprintf(p->rdv_name, sizeof(p->rdv_name), "%s", p->name);
    }
    /* Behind a NAT by definition: keep the holes open. */
    if (!p->has_keepalive)
      p->keepalive_s = TCPUD_RDV_DEFAULT_KEEPALIVE_S;
    if (p->rdv_name[0] != '\0' && strcmp(p->rdv_name, self) == 0)
      tcpud_config_error(cfg, p->origin,
                         "peer %s: RendezvousName %s is this host's own "
                         "Name",
                         p->name, p->rdv_name);
    for (size_t k = 0; k < i; k++)
      if (cfg->peers[k].rendezvous && p->rdv_name[0] != '\0' &&
          strcmp(cfg->peers[k].rdv_name, p->rdv_name) == 0) {
        tcpud_config_error(cfg, p->origin,
                           "peer %s: the same RendezvousName as peer %s (%s)",
                           p->name, cfg->peers[k].name, cfg->peers[k].origin);
        break;
      }
  }
  if (cfg->rendezvous.port != 0 && n_rdv == 0)
    tcpud_config_warning(cfg, where,
                         "Rendezvous is set but no [Peer] has Rendezvous = "
                         "yes: the name is registered, but no peer is looked "
                         "up, and a peer that looks this host up is not let "
                         "through");
}

int tcpud_config_finish(tcpud_config *cfg) {
  finish_flags(cfg);
  for (size_t i = 0; i < cfg->n_peers; i++) {
    tcpud_peer_conf *p = &cfg->peers[i];
    if (p->name[0] == '\0') {
      tcpud_config_error(cfg, p->origin, "[Peer] without Name");
      continue;
    }
    for (size_t k = 0; k < i; k++)
      if (strcmp(cfg->peers[k].name, p->name) == 0) {
        tcpud_config_error(cfg, p->origin, "peer name %s is also used at %s",
                           p->name, cfg->peers[k].origin);
        break;
      }
    if (cfg->mode == TCPUD_MODE_PLAIN &&
        (p->has_public_key || p->psk_file != NULL))
      tcpud_config_warning(cfg, p->origin,
                           "PublicKey and PresharedKeyFile are used only in "
                           "sealed mode");
    if (cfg->mode == TCPUD_MODE_PLAIN && !p->has_endpoint && !p->rendezvous) {
      if (cfg->path == NULL && p->n_allowed_ips == 0)
        tcpud_config_error(cfg, p->origin,
                           "a peer without HOST:PORT is for sealed mode (a "
                           "peer that only connects in); give its address, "
                           "or NAME=rendezvous with --rendezvous");
      else if (p->keepalive_s > 0)
        tcpud_config_warning(cfg, p->origin,
                             "peer %s: PersistentKeepalive needs an Endpoint "
                             "in plain mode (where keepalives go); ignored",
                             p->name);
    }
  }
  if (cfg->mode == TCPUD_MODE_SEALED)
    finish_sealed(cfg);
  finish_rendezvous(cfg);
  if (cfg->mode == TCPUD_MODE_PLAIN && cfg->cipher != TCPUD_CIPHER_CHACHAPOLY)
    tcpud_config_warning(cfg, cfg->path ? cfg->path : "--cipher",
                         "Cipher is used only in sealed mode");
  if (cfg->mode == TCPUD_MODE_PLAIN && cfg->private_key_file != NULL)
    tcpud_config_warning(cfg,
                         cfg->private_key_origin ? cfg->private_key_origin
                                                 : cfg->path,
                         "PrivateKeyFile is used only in sealed mode");

  finish_forwards(cfg);
  add_reverse_services(cfg);
  for (size_t i = 0; i < cfg->n_services; i++) {
    tcpud_service_conf *s = &cfg->services[i];
    if (s->reverse_of >= 0)
      continue;
    if (s->port == 0)
      tcpud_config_error(cfg, s->origin,
                         "[Service] without Port (the tunnel port that names "
                         "it)");
    if (s->target.port == 0)
      tcpud_config_error(cfg, s->origin,
                         "[Service] without Target (where its connections go)");
    if (!s->any_peer && s->n_peers == 0)
      tcpud_config_error(cfg, s->origin,
                         "[Service] without Peers (list the peers that may use "
                         "it, or * for any)");
    for (size_t k = 0; k < s->n_peers; k++)
      if (tcpud_config_peer(cfg, s->peers[k]) == NULL)
        tcpud_config_error(cfg, s->origin, "Peers: no peer named %s",
                           s->peers[k]);
    if (s->name[0] == '\0')
      snprintf(s->name, sizeof(s->name), "port-%u", s->port);
  }
  for (size_t i = 0; i < cfg->n_services; i++)
    for (size_t k = 0; k < i; k++)
      if (cfg->services[i].port != 0 &&
          cfg->services[k].port == cfg->services[i].port) {
        tcpud_config_error(cfg, cfg->services[i].origin,
                           "service port %u is also used at %s",
                           cfg->services[i].port, cfg->services[k].origin);
        break;
      }
  if (cfg->error_count == 0 && cfg->n_services == 0 && cfg->n_forwards == 0) {
    int relay = 0;
    for (size_t i = 0; i < cfg->n_peers; i++)
      relay |= cfg->peers[i].n_allow_reverse > 0;
    if (!relay)
      tcpud_config_warning(cfg, cfg->path ? cfg->path : "flags",
                           "nothing to do: no services, no forwards and no "
                           "peer with AllowReverse");
  }
  return cfg->error_count > 0 ? -1 : 0;
}

const char *tcpud_mode_name(tcpud_mode mode) {
  return mode == TCPUD_MODE_SEALED ? "sealed" : "plain";
}

const char *tcpud_cipher_name(tcpud_cipher cipher) {
  return cipher == TCPUD_CIPHER_AESGCM ? "aesgcm" : "chachapoly";
}

char *tcpud_key_prefix(const uint8_t key[TCPUD_KEY_LEN], size_t n, char *buf,
                       size_t len) {
  char b64[TCPUD_KEY_B64_LEN + 1];

  sodium_bin2base64(b64, sizeof(b64), key, TCPUD_KEY_LEN,
                    sodium_base64_VARIANT_ORIGINAL);
  if (n > TCPUD_KEY_B64_LEN)
    n = TCPUD_KEY_B64_LEN;
  snprintf(buf, len, "%.*s", (int)n, b64);
  return buf;
}

const char *tcpud_default_socket_path(char *buf, size_t len) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");

  if (xdg != NULL && xdg[0] == '/')
    snprintf(buf, len, "%s/tcpud.sock", xdg);
  else
    snprintf(buf, len, "/run/tcpud.sock");
  return buf;
}
