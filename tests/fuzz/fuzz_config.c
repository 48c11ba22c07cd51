/*
 * fuzz_config.c — tcpud's configuration parser (tcpud/config.c) against
 * arbitrary files.
 *
 * Parsing must never read out of bounds or leak (the sanitizers watch),
 * and a configuration it accepts must be one the daemon can run: every
 * name it refers to exists, no two services share a tunnel port, no
 * service uses the control port, every forward has a peer with an
 * Endpoint, and sealed mode has its private key and every peer's public
 * key (key files are read, so a fuzzed path names a file that exists only
 * by accident).  A rejected one must say why.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tcpud/config.h"

static void check(int ok) {
  if (!ok)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tcpud_config cfg;
  int rv;

  if (size > TCPUD_CONFIG_MAX_BYTES)
    return 0;
  tcpud_config_init(&cfg);
  rv = tcpud_config_parse_buffer(&cfg, "fuzz.conf", (const char *)data, size);
  check((rv == 0) == (cfg.error_count == 0));
  check(cfg.n_errors <= cfg.error_count);
  if (rv != 0) {
    check(cfg.n_errors > 0);
    tcpud_config_free(&cfg);
    return 0;
  }
  check(cfg.mode == TCPUD_MODE_PLAIN || cfg.has_private_key);
  for (size_t i = 0; i < cfg.n_peers; i++) {
    check(cfg.peers[i].name[0] != '\0');
    check(cfg.mode == TCPUD_MODE_PLAIN || cfg.peers[i].has_public_key);
    check(tcpud_config_peer(&cfg, cfg.peers[i].name) == &cfg.peers[i]);
  }
  for (size_t i = 0; i < cfg.n_services; i++) {
    const tcpud_service_conf *s = &cfg.services[i];
    check(s->port > TCPUD_CONTROL_PORT && s->target.port != 0);
    check(s->any_peer || s->n_peers > 0);
    for (size_t k = 0; k < s->n_peers; k++)
      check(tcpud_config_peer(&cfg, s->peers[k]) != NULL);
    for (size_t k = 0; k < i; k++)
      check(cfg.services[k].port != s->port);
  }
  for (size_t i = 0; i < cfg.n_forwards; i++) {
    const tcpud_forward_conf *f = &cfg.forwards[i];
    const tcpud_peer_conf *p = tcpud_config_peer(&cfg, f->peer);
    check(p != NULL && p->has_endpoint);
    check(f->listen.port != 0 && f->service > TCPUD_CONTROL_PORT);
    check(!f->reverse || f->target.port != 0);
  }
  tcpud_config_free(&cfg);
  return 0;
}
