/*
 * core_hooks.c — see core_hooks.h.
 */
#include "core_hooks.h"

#include "core/endpoint.h"

tcpu_state pkt_core_state_by_ports(const tcpu_endpoint *ep,
                                   const tcpu_addr *peer, uint16_t lport,
                                   uint16_t rport) {
  const tcpu_conn *c = tcpu_endpoint_find(ep, peer, lport, rport);

  return c != NULL ? tcpu_conn_state(c) : TCPU_CLOSED;
}
