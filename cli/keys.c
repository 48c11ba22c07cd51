/*
 * keys.c — `tcpu genkey`, `tcpu pubkey`, `tcpu genpsk`: keys for sealed
 * mode in WireGuard's format (32 bytes in base64, 44 characters).
 *
 *   tcpu genkey > private.key     an X25519 private key (clamped)
 *   tcpu pubkey < private.key     its public key
 *   tcpu genpsk > peer.psk        a pre-shared key (32 random bytes)
 *
 * Random bytes come from libsodium (randombytes_buf); the public key is
 * crypto_scalarmult_base (X25519).  Secrets are wiped after use.  When the
 * output is a file others may read, a warning says so, as wg(8) does.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd.h"

#define KEY_LEN 32
#define KEY_B64_LEN 44 /* sodium_base64_ENCODED_LEN(32, ORIGINAL) - 1 */

void tcpu_usage_genkey(FILE *f) {
  fprintf(f, "usage: tcpu genkey\n\n"
             "Prints a new X25519 private key in base64, for PrivateKeyFile "
             "(sealed\nmode).  Keep it secret: umask 077; tcpu genkey > "
             "private.key\n");
}

void tcpu_usage_pubkey(FILE *f) {
  fprintf(f, "usage: tcpu pubkey < private.key\n\n"
             "Reads a private key (base64) on stdin and prints its public "
             "key, for a\npeer's PublicKey:  tcpu genkey | tee private.key "
             "| tcpu pubkey\n");
}

void tcpu_usage_genpsk(FILE *f) {
  fprintf(f, "usage: tcpu genpsk\n\n"
             "Prints a new pre-shared key (32 random bytes) in base64, for "
             "a peer's\nPresharedKeyFile.\n");
}

/* -1: go on; else the exit status (help, usage error, no libsodium). */
static int no_args(int argc, char **argv, void (*usage)(FILE *)) {
  if (argc > 1) {
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
      usage(stdout);
      return 0;
    }
    fprintf(stderr, "tcpu %s: unexpected argument '%s'\n", argv[0], argv[1]);
    usage(stderr);
    return 2;
  }
  if (sodium_init() < 0) {
    fprintf(stderr, "tcpu %s: libsodium failed to initialise\n", argv[0]);
    return 1;
  }
  return -1;
}

static void warn_readable_output(const char *cmd) {
  struct stat st;

  if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
      (st.st_mode & 077) != 0)
    fprintf(stderr,
            "tcpu %s: warning: writing a secret to a file others may "
            "read (mode %03o); try umask 077\n",
            cmd, (unsigned)(st.st_mode & 0777));
}

static int put_key(const char *cmd, const uint8_t key[KEY_LEN]) {
  char b64[sodium_base64_ENCODED_LEN(KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];

  sodium_bin2base64(b64, sizeof(b64), key, KEY_LEN,
                    sodium_base64_VARIANT_ORIGINAL);
  if (printf("%s\n", b64) < 0 || fflush(stdout) != 0) {
    fprintf(stderr, "tcpu %s: cannot write the key\n", cmd);
    sodium_memzero(b64, sizeof(b64));
    return 1;
  }
  sodium_memzero(b64, sizeof(b64));
  return 0;
}

int tcpu_cmd_genkey(int argc, char **argv) {
  uint8_t k[KEY_LEN];
  int rv = no_args(argc, argv, tcpu_usage_genkey);

  if (rv >= 0)
    return rv;
  warn_readable_output(argv[0]);
  randombytes_buf(k, sizeof(k));
  /* RFC 7748 §5 clamping, as wg genkey writes it. */
  k[0] &= 248;
  k[31] = (uint8_t)((k[31] & 127) | 64);
  rv = put_key(argv[0], k);
  sodium_memzero(k, sizeof(k));
  return rv;
}

int tcpu_cmd_genpsk(int argc, char **argv) {
  uint8_t k[KEY_LEN];
  int rv = no_args(argc, argv, tcpu_usage_genpsk);

  if (rv >= 0)
    return rv;
  warn_readable_output(argv[0]);
  randombytes_buf(k, sizeof(k));
  rv = put_key(argv[0], k);
  sodium_memzero(k, sizeof(k));
  return rv;
}

int tcpu_cmd_pubkey(int argc, char **argv) {
  char line[256];
  uint8_t priv[KEY_LEN], pub[KEY_LEN];
  size_t n, bin_len = 0;
  int rv = no_args(argc, argv, tcpu_usage_pubkey);

  if (rv >= 0)
    return rv;
  n = fread(line, 1, sizeof(line) - 1, stdin);
  line[n] = '\0';
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
                   line[n - 1] == ' ' || line[n - 1] == '\t'))
    line[--n] = '\0';
  if (n != KEY_B64_LEN ||
      sodium_base642bin(priv, sizeof(priv), line, n, NULL, &bin_len, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      bin_len != KEY_LEN) {
    sodium_memzero(line, sizeof(line));
    fprintf(stderr, "tcpu pubkey: stdin is not a key (44 characters of "
                    "base64, as tcpu genkey prints)\n");
    return 1;
  }
  sodium_memzero(line, sizeof(line));
  rv = crypto_scalarmult_base(pub, priv);
  sodium_memzero(priv, sizeof(priv));
  if (rv != 0) {
    fprintf(stderr, "tcpu pubkey: not a usable private key\n");
    return 1;
  }
  return put_key(argv[0], pub);
}
