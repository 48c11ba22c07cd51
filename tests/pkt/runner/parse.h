/*
 * parse.h — the parts of a line the script parser delegates: segments
 * (parse_seg.c) and socket calls (parse_call.c).  Each returns 0, or -1
 * with a message in err.
 */
#ifndef PKT_PARSE_H
#define PKT_PARSE_H

#include <stddef.h>

#include "lex.h"
#include "script.h"

/* After the direction: "S. 0:0(0) ack 1 win 5 <mss 1460,...>" to the end
 * of the line. */
int pkt_parse_seg(pkt_lex *lx, int inbound, pkt_seg_spec *s, char *err,
                  size_t errlen);

/* "write(4, ..., 10) = 10" to the end of the line. */
int pkt_parse_call(pkt_lex *lx, pkt_call *c, char *err, size_t errlen);

#endif /* PKT_PARSE_H */
