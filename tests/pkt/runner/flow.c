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

void pkt_flow_new_incarnation(pkt_flow *f) {
  if (f->end_known) {
    f->prev_end = f->end;
    f->prev_end_known = 1;
  }
  f->end_known = 0;
  f->tsval_known = 0;
  f->isn_known = 0;
  f->ts_known = 0;
}

void pkt_flow_note_sent(pkt_flow *f, const tcpu_seg *s) {
  uint32_t end = s->seq + tcpu_seg_seqlen(s);

  if (s->flags & TH_RST)
    return; /* a RST occupies no sequence space */
  if (!f->end_known || (int32_t)(end - f->end) > 0) {
    f->end = end;
    f->end_known = 1;
  }
}

/* Both directions fill payloads from one byte stream, so a read can check
 * what the script sent and a segment can be checked against what was
 * written, retransmissions included.  A multiplicative hash: no short
 * period that a misplaced segment could line up with. */
uint8_t pkt_pattern(uint64_t off) {
  return (uint8_t)((off * 0x9e3779b97f4a7c15ull) >> 56);
}
