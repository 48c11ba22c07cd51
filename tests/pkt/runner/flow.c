/*
 * flow.c — what the runner remembers per remote TCP port: the local ISN
 * (outbound sequence numbers and inbound acks are relative to it), the
 * remote ISN (payload offsets), and the offset between the core's TS val
 * and the script's (inbound TS ecr is translated by it).  README.md,
 * "Sequence numbers", has the rules.
 */
#include <string.h>

#include "run.h"

pkt_flow *pkt_flow_get(pkt_run *r, uint16_t rport) {
  pkt_flow *f;

  for (size_t i = 0; i < r->nflow; i++)
    if (r->flow[i].rport == rport)
      return &r->flow[i];
  if (r->nflow == PKT_MAX_FLOWS)
    return NULL;
  f = &r->flow[r->nflow++];
  memset(f, 0, sizeof(*f));
  f->rport = rport;
  return f;
}

/* Both directions fill payloads from one byte stream, so a read can check
 * what the script sent and a segment can be checked against what was
 * written, retransmissions included.  A multiplicative hash: no short
 * period that a misplaced segment could line up with. */
uint8_t pkt_pattern(uint64_t off) {
  return (uint8_t)((off * 0x9e3779b97f4a7c15ull) >> 56);
}
