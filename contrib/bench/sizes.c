/*
 * sizes.c — sizes of the core's internal structures for the memory report.
 * A file of its own: core/conn.h cannot share a unit with uv.h (its TH_*
 * and TCPOPT_* names collide with <netinet/tcp.h>).
 */
#include "core/conn.h"

size_t bench_sizeof_conn(void); /* declared in bench.h, which needs uv.h */

size_t bench_sizeof_conn(void) { return sizeof(struct tcpu_conn); }
