/*
 * config.h — tcpud's configuration: an INI file in the WireGuard manner
 * (parsed with inih) or one-line flags, both into one struct tcpud_config.
 *
 *   [Interface]  ListenPort, Address, Mode, PrivateKeyFile, Cipher, MTU,
 *                MaxConnections, CongestionControl, DrainTimeout,
 *                LogLevel, LogTarget, ControlSocket, PcapFile,
 *                Rendezvous, Name
 *   [Peer]       Name, Endpoint, AllowedIPs, PublicKey, PresharedKeyFile,
 *                AllowReverse, PersistentKeepalive, Rendezvous,
 *                RendezvousName                         (any number)
 *   [Service]    Name, Port, Target, Peers              (any number)
 *   [Forward]    Local | Reverse, Peer, Service, Target (any number)
 *
 * Key and section names are case-insensitive; '#' starts a comment
 * anywhere on a line, ';' at its start; leading blanks are ignored; list
 * values are separated by commas or blanks and a repeated list key adds
 * to the list.  contrib/man/tcpud.conf.5 is the reference.
 *
 * Every problem is reported as "FILE:LINE: problem" (or "FLAG: problem"
 * for command-line flags) and parsing goes on, so one run lists them all.
 * Nothing here opens sockets or resolves names: hosts stay strings until
 * the daemon resolves them (tcpud_resolve).  Key files are read here, in
 * sealed mode only (tcpud_config_finish): a missing, unreadable or
 * malformed one is an error at the line that names it, one that group or
 * others may read a warning.
 */
#ifndef TCPUD_CONFIG_H
#define TCPUD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tcpud/addr.h"

#define TCPUD_NAME_MAX 32    /* peer and service names */
#define TCPUD_CONTROL_PORT 1 /* tunnel port of the peer control channel */
#define TCPUD_MAX_ITEMS 4096 /* peers, services, forwards, list entries */
#define TCPUD_MAX_ERRORS 64  /* reported; the rest are counted */
#define TCPUD_CONFIG_MAX_BYTES (1 << 20)

#define TCPUD_DEFAULT_MAX_CONNECTIONS 1024
#define TCPUD_DEFAULT_DRAIN_TIMEOUT_MS 10000
#define TCPUD_KEY_LEN 32
#define TCPUD_KEY_B64_LEN 44 /* base64 of 32 bytes, as `tcpu genkey` prints */
#define TCPUD_DEFAULT_LOCAL_HOST "127.0.0.1"
/* Rendezvous names: 1..64 printable ASCII characters without space, the
 * protocol's (tcpu_uv.h, TCPU_UV_RENDEZVOUS_NAME_MAX). */
#define TCPUD_RDV_NAME_MAX 64
/* PersistentKeepalive of a Rendezvous = yes peer when none is given: it is
 * behind a NAT by definition (WireGuard's advice). */
#define TCPUD_RDV_DEFAULT_KEEPALIVE_S 25

typedef enum tcpud_mode {
  TCPUD_MODE_PLAIN = 0,
  TCPUD_MODE_SEALED = 1
} tcpud_mode;

/* Sealed mode's AEAD (the values of tcpu_cipher). */
typedef enum tcpud_cipher {
  TCPUD_CIPHER_CHACHAPOLY = 0,
  TCPUD_CIPHER_AESGCM = 1
} tcpud_cipher;

/* One AllowReverse entry: which listen addresses a peer may ask for. */
typedef struct tcpud_revallow {
  unsigned any : 1;    /* "*": every address and port */
  unsigned has_ip : 1; /* ADDR: given; else any address */
  tcpu_addr ip;        /* port unused */
  uint16_t lo, hi;     /* port range */
} tcpud_revallow;

typedef struct tcpud_peer_conf {
  char name[TCPUD_NAME_MAX + 1];
  char *origin; /* "FILE:LINE" of the section, or the flag */
  unsigned has_endpoint : 1;
  unsigned has_public_key : 1;
  unsigned has_psk : 1; /* psk read from psk_file (sealed mode) */
  tcpud_hostport endpoint;
  tcpud_cidr *allowed_ips;
  size_t n_allowed_ips;
  uint8_t public_key[TCPUD_KEY_LEN];
  char *psk_file;
  char *psk_origin; /* where PresharedKeyFile was given */
  uint8_t psk[TCPUD_KEY_LEN];
  tcpud_revallow *allow_reverse;
  size_t n_allow_reverse;
  unsigned keepalive_s; /* PersistentKeepalive; 0: off (the default) */
  unsigned has_keepalive : 1; /* PersistentKeepalive was given */
  /* Rendezvous = yes: its address comes from the rendezvous server under
   * rdv_name (default: sealed mode, its PublicKey in base64; plain mode,
   * its Name), never from an Endpoint. */
  unsigned rendezvous : 1;
  char rdv_name[TCPUD_RDV_NAME_MAX + 1];
} tcpud_peer_conf;

typedef struct tcpud_service_conf {
  char name[TCPUD_NAME_MAX + 1];
  char *origin;
  uint16_t port;         /* tunnel port that names it */
  tcpud_hostport target; /* where its connections go (kernel TCP) */
  char (*peers)[TCPUD_NAME_MAX + 1];
  size_t n_peers;
  unsigned any_peer : 1; /* Peers = * */
  int reverse_of;        /* index of the Reverse forward it serves, or -1 */
} tcpud_service_conf;

typedef struct tcpud_forward_conf {
  unsigned reverse : 1;
  char *origin;
  /* -L: the local address tcpud listens on.  -R: the address the peer
   * listens on, on its host. */
  tcpud_hostport listen;
  char peer[TCPUD_NAME_MAX + 1];
  uint16_t service;      /* tunnel port: on the peer (-L), ours (-R) */
  tcpud_hostport target; /* -R: where connections coming back go */
} tcpud_forward_conf;

typedef struct tcpud_config {
  char *path; /* the file, NULL for flags */
  /* [Interface] */
  tcpud_hostport listen; /* Address (host, "" = any) and ListenPort */
  tcpud_mode mode;
  char *mode_origin; /* where Mode was given, NULL: the default */
  tcpud_cipher cipher;
  char *private_key_file;
  char *private_key_origin;
  /* Sealed mode: the key read from private_key_file (the daemon wipes it
   * once the endpoint has its copy) and its public key. */
  unsigned has_private_key : 1;
  uint8_t private_key[TCPUD_KEY_LEN];
  uint8_t public_key[TCPUD_KEY_LEN];
  uint32_t mtu;
  unsigned max_connections;
  char cc[16]; /* "" = the library's default */
  unsigned drain_timeout_ms;
  int log_level;        /* LOG_* */
  int log_syslog;       /* LogTarget = syslog */
  char *control_socket; /* NULL: default path; "" = off */
  char *pcap_file;      /* NULL: none */
  /* Rendezvous = HOST:PORT (port 0: none) and Name, the name registered
   * there ("": sealed mode's default, our public key in base64). */
  tcpud_hostport rendezvous;
  char *rendezvous_origin;
  char rdv_name[TCPUD_RDV_NAME_MAX + 1];

  tcpud_peer_conf *peers;
  size_t n_peers;
  tcpud_service_conf *services; /* [Service] and one per Reverse forward */
  size_t n_services;
  tcpud_forward_conf *forwards;
  size_t n_forwards;
  long flag_peer; /* flags: index of the last --peer, -1 before one */

  /* Problems found; a config with error_count > 0 must not be used.
   * errors lists the first TCPUD_MAX_ERRORS of them. */
  size_t error_count;
  char **errors;
  size_t n_errors;
  char **warnings;
  size_t n_warnings;
} tcpud_config;

void tcpud_config_init(tcpud_config *cfg);
void tcpud_config_free(tcpud_config *cfg);

/* Parses an INI text; `name` is the file name used in messages.  Runs
 * tcpud_config_finish.  Returns 0, or -1 when cfg->errors lists problems
 * (cfg still has to be freed).  Never touches the network. */
int tcpud_config_parse_buffer(tcpud_config *cfg, const char *name,
                              const char *text, size_t len);
/* Reads the file (at most TCPUD_CONFIG_MAX_BYTES) and parses it. */
int tcpud_config_load_file(tcpud_config *cfg, const char *path);

/* One-line flags, in the order given, into an initialised cfg.  `flag` is
 * the option as typed ("-L", "--service", ...), `value` its argument.
 * Returns 0, 1 when the flag is not a tunnel flag (the caller handles it),
 * or -1 with the problem recorded. */
int tcpud_config_flag(tcpud_config *cfg, const char *flag, const char *value);
/* Checks what only the whole configuration can show (names that refer to
 * each other, duplicates, required keys) and adds the implicit services of
 * Reverse forwards.  Returns 0 or -1. */
int tcpud_config_finish(tcpud_config *cfg);

/* Records a problem ("origin: message"; origin may be NULL). */
void tcpud_config_error(tcpud_config *cfg, const char *origin, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));
void tcpud_config_warning(tcpud_config *cfg, const char *origin,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lookups, NULL when absent. */
const tcpud_peer_conf *tcpud_config_peer(const tcpud_config *cfg,
                                         const char *name);
/* Nonzero when the service admits the named peer (NULL: an address that
 * matches no [Peer]). */
int tcpud_service_admits(const tcpud_service_conf *svc, const char *peer);
/* Nonzero when the peer may ask us to listen on addr (IP and port). */
int tcpud_peer_allows_reverse(const tcpud_peer_conf *peer,
                              const tcpu_addr *addr);

const char *tcpud_mode_name(tcpud_mode mode);
const char *tcpud_cipher_name(tcpud_cipher cipher);
/* The first n (<= 44) characters of a key's base64: a public key's
 * prefix for logs ("hSDwCYkw").  Returns buf. */
char *tcpud_key_prefix(const uint8_t key[TCPUD_KEY_LEN], size_t n, char *buf,
                       size_t len);

/* Default control socket path: $XDG_RUNTIME_DIR/tcpud.sock when that is
 * set, else /run/tcpud.sock.  Shared by tcpud and `tcpu show`. */
const char *tcpud_default_socket_path(char *buf, size_t len);

#endif /* TCPUD_CONFIG_H */
