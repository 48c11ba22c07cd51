/*
 * core_hooks.h — the one thing the runner needs beyond the public API
 * (tcpu.h): the state of a connection the application no longer holds,
 * such as one in TIME_WAIT after close(), found by its ports (%state conn
 * L:R STATE).  Implemented over the core's internal demultiplexer
 * (core/endpoint.h: tcpu_endpoint_find); core_hooks.c is the only runner
 * file that includes an internal core header besides core/seg.h.
 */
#ifndef PKT_CORE_HOOKS_H
#define PKT_CORE_HOOKS_H

#include <stdint.h>

#include "tcpu/tcpu.h"

/* The state of the connection (peer, lport, rport), TCPU_CLOSED if the
 * endpoint has none. */
tcpu_state pkt_core_state_by_ports(const tcpu_endpoint *ep,
                                   const tcpu_addr *peer, uint16_t lport,
                                   uint16_t rport);

#endif /* PKT_CORE_HOOKS_H */
