/*
 * test_pkt_parse.c — the script parser on its own: times, segments,
 * options, socket calls, directives, comments, and a table of lines that
 * must be refused with a useful message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "script.h"

#define MS TCPU_NS_PER_MS
#define SEC TCPU_NS_PER_S

/* Parses text that must be valid and returns the script. */
static void parse_ok(pkt_script *sc, const char *text) {
  if (pkt_script_parse(sc, "t.pkt", text) != 0)
    fail_msg("parse failed: %s", sc->err);
}

static void test_parse_time_forms(void **state) {
  pkt_script sc;

  (void)state;
  parse_ok(&sc, "0 %noop\n"
                "+0.1 %noop\n"
                "+.25 %noop\n"
                "1.000000001 %noop\n"
                "* %noop\n"
                "0.1~0.2 %noop\n"
                "+1~+1.5 %noop\n");
  assert_int_equal(sc.nev, 7);
  assert_int_equal(sc.ev[0].time.kind, PKT_TIME_ABS);
  assert_int_equal(sc.ev[0].time.t, 0);
  assert_int_equal(sc.ev[1].time.kind, PKT_TIME_REL);
  assert_int_equal(sc.ev[1].time.t, 100 * MS);
  assert_int_equal(sc.ev[2].time.t, 250 * MS);
  assert_int_equal(sc.ev[3].time.t, SEC + 1);
  assert_int_equal(sc.ev[4].time.kind, PKT_TIME_ANY);
  assert_true(sc.ev[5].time.has_end);
  assert_int_equal(sc.ev[5].time.end_kind, PKT_TIME_ABS);
  assert_int_equal(sc.ev[5].time.end, 200 * MS);
  assert_int_equal(sc.ev[6].time.kind, PKT_TIME_REL);
  assert_int_equal(sc.ev[6].time.end_kind, PKT_TIME_REL);
  assert_int_equal(sc.ev[6].time.end, 1500 * MS);
  assert_int_equal(sc.ev[6].kind, PKT_EV_NOOP);
  pkt_script_free(&sc);
}

static void test_parse_inbound_syn_options_in_order(void **state) {
  pkt_script sc;
  const pkt_seg_spec *s;

  (void)state;
  parse_ok(&sc, "+0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr "
                "0,nop,wscale 7>\n");
  assert_int_equal(sc.nev, 1);
  assert_int_equal(sc.ev[0].kind, PKT_EV_INBOUND);
  assert_string_equal(sc.ev[0].body, "< S 0:0(0) win 65535 <mss 1460,sackOK,"
                                     "TS val 100 ecr 0,nop,wscale 7>");
  assert_int_equal(sc.ev[0].rport, PKT_REMOTE_PORT);
  s = &sc.ev[0].u.seg;
  assert_int_equal(s->flags, TH_SYN);
  assert_int_equal(s->start, 0);
  assert_int_equal(s->len, 0);
  assert_false(s->has_ack);
  assert_true(s->has_win);
  assert_int_equal(s->win, 65535);
  assert_true(s->opts_given);
  assert_false(s->opts_any);
  assert_int_equal(s->nopts, 5);
  assert_int_equal(s->opts[0].kind, PKT_OPT_MSS);
  assert_int_equal(s->opts[0].a, 1460);
  assert_int_equal(s->opts[1].kind, PKT_OPT_SACKOK);
  assert_int_equal(s->opts[2].kind, PKT_OPT_TS);
  assert_int_equal(s->opts[2].a, 100);
  assert_int_equal(s->opts[2].b, 0);
  assert_int_equal(s->opts[3].kind, PKT_OPT_NOP);
  assert_int_equal(s->opts[4].kind, PKT_OPT_WSCALE);
  assert_int_equal(s->opts[4].a, 7);
  assert_int_equal(pkt_opts_wire_len(s), 20);
  pkt_script_free(&sc);
}

static void test_parse_flags_and_fields(void **state) {
  pkt_script sc;
  const pkt_seg_spec *s;

  (void)state;
  parse_ok(&sc, "+0 > S. 0:0(0) ack 1 <...>\n"
                "+0 < P. 1:1001(1000) ack 1 win 257\n"
                "+0 > F. 4294967295:0(1) ack 1001\n"
                "+0 < R 5:5(0) win 0 urg 3 <>\n"
                "+0 < .EWU 1:1(0) ack 7\n");
  s = &sc.ev[0].u.seg;
  assert_int_equal(sc.ev[0].kind, PKT_EV_OUTBOUND);
  assert_int_equal(s->flags, TH_SYN | TH_ACK);
  assert_true(s->has_ack);
  assert_int_equal(s->ack, 1);
  assert_true(s->opts_any);
  assert_false(s->has_win);
  s = &sc.ev[1].u.seg;
  assert_int_equal(s->flags, TH_PSH | TH_ACK);
  assert_int_equal(s->start, 1);
  assert_int_equal(s->end, 1001);
  assert_int_equal(s->len, 1000);
  assert_int_equal(s->win, 257);
  assert_false(s->opts_given);
  s = &sc.ev[2].u.seg; /* the range may wrap */
  assert_int_equal(s->start, 4294967295u);
  assert_int_equal(s->end, 0);
  s = &sc.ev[3].u.seg;
  assert_int_equal(s->flags, TH_RST);
  assert_true(s->has_urg);
  assert_int_equal(s->urg, 3);
  assert_true(s->opts_given);
  assert_int_equal(s->nopts, 0);
  s = &sc.ev[4].u.seg;
  assert_int_equal(s->flags, TH_ACK | TH_ECE | TH_CWR | TH_URG);
  pkt_script_free(&sc);
}

static void test_parse_sack_and_raw_options(void **state) {
  pkt_script sc;
  const pkt_seg_spec *s;

  (void)state;
  parse_ok(&sc, "+0 < . 1:1(0) ack 1 win 100 <nop,nop,sack 1001:2001 "
                "3001:4001,eol,opt 30,opt 31 len 6,opt 32 len 1>\n");
  s = &sc.ev[0].u.seg;
  assert_int_equal(s->nopts, 7);
  assert_int_equal(s->opts[2].kind, PKT_OPT_SACK);
  assert_int_equal(s->opts[2].nsack, 2);
  assert_int_equal(s->opts[2].sack[0].start, 1001);
  assert_int_equal(s->opts[2].sack[1].end, 4001);
  assert_int_equal(s->opts[3].kind, PKT_OPT_EOL);
  assert_int_equal(s->opts[4].kind, PKT_OPT_RAW);
  assert_int_equal(s->opts[4].a, 30);
  assert_int_equal(s->opts[4].b, 2);
  assert_int_equal(s->opts[5].b, 6);
  assert_int_equal(s->opts[6].b, 1);
  /* 2 nop + 18 sack + eol + 2 + 6 + 2 (a short length still takes 2) */
  assert_int_equal(pkt_opts_wire_len(s), 31);
  pkt_script_free(&sc);
}

static void test_parse_socket_calls(void **state) {
  pkt_script sc;
  const pkt_call *c;

  (void)state;
  parse_ok(&sc,
           "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
           "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"
           "+0 setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0\n"
           "+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], 4) = 0\n"
           "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
           "+0 bind(3, ..., ...) = 0\n"
           "+0 listen(3, 5) = 0\n"
           "+0 accept(3, ..., ...) = -1 EAGAIN (Resource temporarily "
           "unavailable)\n"
           "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in "
           "progress)\n"
           "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0\n"
           "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n"
           "+0 write(4, ..., 1000) = 1000\n"
           "+0 send(4, ..., 10, 0) = 10\n"
           "+0 read(4, ..., 500) = 0\n"
           "+0 recv(4, ..., 500, 0) = -1 ECONNRESET\n"
           "+0 shutdown(4, SHUT_WR) = 0\n"
           "+0 close(4) = 0\n"
           "+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8)"
           " = 0\n"
           "+0 setsockopt(4, SOL_SOCKET, SO_LINGER, { onoff=0,linger=0 }, 8)"
           " = 0\n");
  assert_int_equal(sc.nev, 19);
  assert_int_equal(sc.ev[17].u.call.opt, PKT_SO_LINGER);
  assert_int_equal(sc.ev[17].u.call.arg, 1);
  assert_int_equal(sc.ev[18].u.call.opt, PKT_SO_LINGER);
  assert_int_equal(sc.ev[18].u.call.arg, 0);
  c = &sc.ev[0].u.call;
  assert_int_equal(c->kind, PKT_CALL_SOCKET);
  assert_int_equal(c->ret, 3);
  c = &sc.ev[1].u.call;
  assert_int_equal(c->kind, PKT_CALL_SETSOCKOPT);
  assert_int_equal(c->fd, 3);
  assert_int_equal(c->opt, PKT_SO_REUSEADDR);
  assert_int_equal(sc.ev[2].u.call.opt, PKT_TCP_NODELAY);
  assert_int_equal(sc.ev[2].u.call.arg, 1);
  assert_int_equal(sc.ev[3].u.call.opt, PKT_SO_RCVBUF);
  assert_int_equal(sc.ev[3].u.call.arg, 65536);
  assert_int_equal(sc.ev[4].u.call.kind, PKT_CALL_FCNTL);
  assert_int_equal(sc.ev[6].u.call.arg, 5);
  c = &sc.ev[7].u.call;
  assert_int_equal(c->kind, PKT_CALL_ACCEPT);
  assert_int_equal(c->ret, -1);
  assert_int_equal(c->err, EAGAIN);
  assert_int_equal(sc.ev[8].u.call.err, EINPROGRESS);
  c = &sc.ev[9].u.call;
  assert_int_equal(c->kind, PKT_CALL_GETSOCKOPT);
  assert_int_equal(c->opt, PKT_SO_ERROR);
  assert_int_equal(c->arg, ECONNREFUSED);
  assert_int_equal(sc.ev[10].u.call.arg, 0);
  c = &sc.ev[11].u.call;
  assert_int_equal(c->kind, PKT_CALL_WRITE);
  assert_int_equal(c->fd, 4);
  assert_int_equal(c->arg, 1000);
  assert_int_equal(c->ret, 1000);
  assert_int_equal(sc.ev[12].u.call.kind, PKT_CALL_WRITE);
  assert_string_equal(sc.ev[12].u.call.name, "send");
  assert_int_equal(sc.ev[13].u.call.kind, PKT_CALL_READ);
  assert_int_equal(sc.ev[14].u.call.err, ECONNRESET);
  assert_int_equal(sc.ev[15].u.call.kind, PKT_CALL_SHUTDOWN);
  assert_int_equal(sc.ev[16].u.call.kind, PKT_CALL_CLOSE);
  pkt_script_free(&sc);
}

static void test_parse_directives(void **state) {
  pkt_script sc;

  (void)state;
  parse_ok(&sc, "%set msl_ms=500 syncookies=2\n"
                "%set accept_overflow=rst\n"
                "%set tolerance_ms=10 end_check=idle\n"
                "0 %state 3 LISTEN\n"
                "%port 40001\n"
                "+0 %state conn 8080:40001 SYN-RCVD\n"
                "+0 < S 0:0(0) win 100\n"
                "+0 %stat drop_bad_checksum 2\n"
                "+0 %state conn *:40002 TIME-WAIT\n"
                "+0 %info 4 rto_ms 300\n"
                "+0 %isn_above_previous\n");
  assert_int_equal(sc.nset, 3);
  assert_int_equal(sc.set[0].key, PKT_SET_MSL_MS);
  assert_int_equal(sc.set[0].value, 500);
  assert_int_equal(sc.set[1].key, PKT_SET_SYNCOOKIES);
  assert_int_equal(sc.set[1].value, 2);
  assert_int_equal(sc.set[2].key, PKT_SET_ACCEPT_OVERFLOW);
  assert_int_equal(sc.set[2].value, TCPU_OVERFLOW_RST);
  assert_int_equal(sc.tolerance, 10 * MS);
  assert_int_equal(sc.end_check, PKT_END_IDLE);
  assert_int_equal(sc.nev, 7);
  assert_int_equal(sc.ev[5].kind, PKT_EV_INFO);
  assert_int_equal(sc.ev[5].u.info.fd, 4);
  assert_string_equal(sc.ev[5].u.info.name, "rto_ms");
  assert_int_equal(sc.ev[5].u.info.field, pkt_info_by_name("rto_ms"));
  assert_int_equal(sc.ev[5].u.info.value, 300);
  assert_int_equal(sc.ev[6].kind, PKT_EV_ISN_PREV);
  assert_int_equal(sc.ev[6].rport, 40001);
  assert_false(sc.ts_clock_check);
  assert_true(sc.ev[4].u.state.by_ports);
  assert_int_equal(sc.ev[4].u.state.lport, 0);
  assert_int_equal(sc.ev[4].u.state.rport, 40002);
  assert_int_equal(sc.ev[4].u.state.state, TCPU_TIME_WAIT);
  assert_int_equal(sc.ev[0].kind, PKT_EV_STATE);
  assert_false(sc.ev[0].u.state.by_ports);
  assert_int_equal(sc.ev[0].u.state.fd, 3);
  assert_int_equal(sc.ev[0].u.state.state, TCPU_LISTEN);
  assert_int_equal(sc.ev[0].rport, PKT_REMOTE_PORT);
  assert_true(sc.ev[1].u.state.by_ports);
  assert_int_equal(sc.ev[1].u.state.lport, 8080);
  assert_int_equal(sc.ev[1].u.state.rport, 40001);
  assert_int_equal(sc.ev[1].u.state.state, TCPU_SYN_RCVD);
  assert_int_equal(sc.ev[2].rport, 40001);
  assert_int_equal(sc.ev[3].kind, PKT_EV_STAT);
  assert_string_equal(sc.ev[3].u.stat.name, "drop_bad_checksum");
  assert_int_equal(sc.ev[3].u.stat.offset,
                   offsetof(tcpu_endpoint_stats, drop_bad_checksum));
  assert_int_equal(sc.ev[3].u.stat.value, 2);
  pkt_script_free(&sc);

  parse_ok(&sc, "%set ts_clock_check=1\n0 %noop\n");
  assert_true(sc.ts_clock_check);
  assert_int_equal(sc.nset, 0);
  pkt_script_free(&sc);
}

/* Socket options that become tcpu_conn_setopt calls, converted from
 * Linux's units (seconds for the keepalive times, ms for the user
 * timeout) to tcpu's nanoseconds. */
static void test_parse_conn_options(void **state) {
  pkt_script sc;
  const pkt_call *c;

  (void)state;
  parse_ok(&sc,
           "+0 setsockopt(4, SOL_SOCKET, SO_KEEPALIVE, [1], 4) = 0\n"
           "+0 setsockopt(4, IPPROTO_TCP, TCP_KEEPIDLE, [10], 4) = 0\n"
           "+0 setsockopt(4, SOL_TCP, TCP_KEEPINTVL, [2], 4) = 0\n"
           "+0 setsockopt(4, IPPROTO_TCP, TCP_KEEPCNT, [3], 4) = 0\n"
           "+0 setsockopt(4, IPPROTO_TCP, TCP_USER_TIMEOUT, [1500], 4) = 0\n"
           "+0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0\n"
           "+0 setsockopt(4, IPPROTO_TCP, TCP_KEEPIDLE, [0], 4) = -1 "
           "EINVAL\n");
  assert_int_equal(sc.nev, 7);
  c = &sc.ev[0].u.call;
  assert_int_equal(c->opt, PKT_SO_KEEPALIVE);
  assert_int_equal(c->copt, TCPU_OPT_KEEPALIVE);
  assert_int_equal(c->arg, 1);
  c = &sc.ev[1].u.call;
  assert_int_equal(c->opt, PKT_TCP_KEEPIDLE);
  assert_int_equal(c->copt, TCPU_OPT_KEEPIDLE);
  assert_int_equal(c->arg, 10 * SEC);
  c = &sc.ev[2].u.call;
  assert_int_equal(c->opt, PKT_TCP_KEEPINTVL);
  assert_int_equal(c->copt, TCPU_OPT_KEEPINTVL);
  assert_int_equal(c->arg, 2 * SEC);
  c = &sc.ev[3].u.call;
  assert_int_equal(c->opt, PKT_TCP_KEEPCNT);
  assert_int_equal(c->copt, TCPU_OPT_KEEPCNT);
  assert_int_equal(c->arg, 3);
  c = &sc.ev[4].u.call;
  assert_int_equal(c->opt, PKT_TCP_USER_TIMEOUT);
  assert_int_equal(c->copt, TCPU_OPT_USER_TIMEOUT);
  assert_int_equal(c->arg, 1500 * MS);
  c = &sc.ev[5].u.call;
  assert_int_equal(c->opt, PKT_TCP_NODELAY);
  assert_int_equal(c->copt, TCPU_OPT_NODELAY);
  c = &sc.ev[6].u.call;
  assert_int_equal(c->arg, 0);
  assert_int_equal(c->ret, -1);
  assert_int_equal(c->err, EINVAL);
  /* Options the runner handles itself name no tcpu option. */
  pkt_script_free(&sc);
  parse_ok(&sc, "+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [4096], 4) = 0\n");
  assert_int_equal(sc.ev[0].u.call.copt, 0);
  pkt_script_free(&sc);
}

/* %set keys of this issue: the congestion control by name, keepalive and
 * the user timeout, and what they write into tcpu_settings. */
static void test_parse_set_cc_keepalive(void **state) {
  pkt_script sc;
  tcpu_settings st;

  (void)state;
  parse_ok(&sc, "%set cc=newreno keepalive=1 keepalive_idle_ms=10000\n"
                "%set keepalive_intvl_ms=2000 keepalive_probes=3\n"
                "%set user_timeout_ms=1500\n");
  assert_int_equal(sc.nset, 6);
  assert_int_equal(sc.set[0].key, PKT_SET_CC);
  assert_string_equal(sc.set[0].str, "newreno");
  assert_int_equal(sc.set[1].key, PKT_SET_KEEPALIVE);
  assert_int_equal(sc.set[1].value, 1);
  memset(&st, 0, sizeof(st));
  for (size_t i = 0; i < sc.nset; i++)
    pkt_setting_apply(&st, &sc.set[i]);
  assert_string_equal(st.cc, "newreno");
  assert_true(st.keepalive);
  assert_int_equal(st.keepalive_idle, 10 * SEC);
  assert_int_equal(st.keepalive_intvl, 2 * SEC);
  assert_int_equal(st.keepalive_probes, 3);
  assert_int_equal(st.user_timeout, 1500 * MS);
  pkt_script_free(&sc);

  /* 15 characters fill tcpu_settings.cc with its NUL. */
  parse_ok(&sc, "%set cc=abcdefghijklmno\n");
  assert_string_equal(sc.set[0].str, "abcdefghijklmno");
  pkt_script_free(&sc);
}

/* The %info fields added for loss recovery and timers. */
static void test_parse_info_fields(void **state) {
  static const char *const names[] = {
      "rttvar_ms",      "min_rtt_ms",     "pipe",          "ca_state",
      "snd_buffered",   "rcv_buffered",   "bytes_sent",    "bytes_acked",
      "bytes_received", "bytes_retrans",  "segs_in",       "segs_out",
      "sacked_segs",    "lost_segs",      "dsacks",        "reorder_events",
      "spurious_undos", "tlp_probes",     "fast_recoveries", "paws_drops"};
  tcpu_conn_info ci;

  (void)state;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (pkt_info_by_name(names[i]) < 0)
      fail_msg("%%info field %s unknown", names[i]);
  memset(&ci, 0, sizeof(ci));
  ci.rttvar = 57 * MS + 999999; /* whole ms, truncated */
  ci.min_rtt = 100 * MS;
  ci.ca_state = 2;
  ci.spurious_undos = 1;
  ci.paws_drops = 4;
  ci.dsacks = 3;
  ci.tlp_probes = 5;
  assert_int_equal(pkt_info_value(&ci, pkt_info_by_name("rttvar_ms")), 57);
  assert_int_equal(pkt_info_value(&ci, pkt_info_by_name("min_rtt_ms")), 100);
  assert_int_equal(pkt_info_value(&ci, pkt_info_by_name("ca_state")), 2);
  assert_int_equal(pkt_info_value(&ci, pkt_info_by_name("spurious_undos")),
                   1);
  assert_int_equal(pkt_info_value(&ci, pkt_info_by_name("paws_drops")), 4);
  assert_int_equal(pkt_info_value(&ci, pkt_info_by_name("dsacks")), 3);
  assert_int_equal(pkt_info_value(&ci, pkt_info_by_name("tlp_probes")), 5);
  assert_non_null(strstr(pkt_info_names(), "snd_mss rcv_mss"));
  assert_non_null(strstr(pkt_info_names(), "paws_drops"));
}

static void test_parse_comments_keep_line_numbers(void **state) {
  pkt_script sc;

  (void)state;
  parse_ok(&sc, "// a comment\n"
                "/* a block\n"
                "   over lines */ 0 %noop // trailing\n"
                "\n"
                "+1 /* inline */ %noop\n");
  assert_int_equal(sc.nev, 2);
  assert_int_equal(sc.ev[0].line, 3);
  assert_string_equal(sc.ev[0].text, "0 %noop");
  assert_int_equal(sc.ev[1].line, 5);
  assert_int_equal(sc.ev[1].time.t, SEC);
  pkt_script_free(&sc);
}

/* Lines that must be refused, and a piece of the message. */
static const struct bad_case {
  const char *text;
  const char *msg;
} bad_cases[] = {
#define T(text, msg) {(text), (msg)}
    /*  0 */ T("+0 < S 0:0(1) win 1", "does not hold"),
    /*  1 */ T("+0 < . 1:1(0) win 1", "needs 'ack N'"),
    /*  2 */ T("+0 < X 0:0(0)", "unknown TCP flag 'X'"),
    /*  3 */ T("+0 < SS 0:0(0)", "given twice"),
    /*  4 */ T("+0 < S 0:0(0) <...>", "outbound segments only"),
    /*  5 */ T("+0 > S 0:0(0) <opt 30>", "inbound segments only"),
    /*  6 */ T("+0 < S 0:0(0) <mss 70000>", "mss needs"),
    /*  7 */ T("+0 < S 0:0(0) <bogus 1>", "unknown TCP option"),
    /*  8 */ T("+0 < S 0:0(0) <mss 1,mss 1,mss 1,mss 1,mss 1,mss 1,mss 1,"
               "mss 1,mss 1,mss 1,mss 1>",
               "more than 40"),
    /*  9 */ T("+0 < . 1:1(0) ack 1 <sack 1:2 3:4 5:6 7:8 9:10>",
               "more than 4 SACK"),
    /* 10 */ T("+0 < S 0:0(0) win 70000", "N <= 65535"),
    /* 11 */ T("+0 < S 0:0(0) ack 1 ack 2", "one 'ack N'"),
    /* 12 */ T("+0 frobnicate(3) = 0", "unsupported call"),
    /* 13 */ T("+0 close(3)", "expected '= result'"),
    /* 14 */ T("+0 close(3) = -1", "errno name"),
    /* 15 */ T("+0 close(3) = -1 EFOO", "unknown errno"),
    /* 16 */ T("+0 close(3) = -2 EBADF", "returns -1"),
    /* 17 */ T("+0 listen(3) = 0", "takes 2 arguments"),
    /* 18 */ T("+0 setsockopt(3, SOL_SOCKET, SO_BROADCAST, [1], 4) = 0",
               "unsupported socket option"),
    /* 19 */ T("+0 shutdown(3, SHUT_RD) = 0", "SHUT_WR"),
    /* 20 */ T("+0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3", "SOCK_STREAM"),
    /* 21 */ T("%set bogus=1", "unknown setting"),
    /* 22 */ T("%set timestamps=2", "0 or 1"),
    /* 23 */ T("0 %noop\n%set sack=0", "before the first event"),
    /* 24 */ T("0 %set sack=0", "takes no time"),
    /* 25 */ T("%state 3 LISTEN", "needs a time"),
    /* 26 */ T("0 %state 3 LISTENING", "unknown TCP state"),
    /* 27 */ T("0 %stat no_such_counter 1", "tcpu_endpoint_stats"),
    /* 28 */ T("%port 0", "1..65535"),
    /* 29 */ T("%bogus", "unknown directive"),
    /* 30 */ T("abc %noop", "expected a time"),
    /* 31 */ T("0.1234567891 %noop", "expected a time"),
    /* 32 */ T("0.2~0.1 %noop", "ends before it starts"),
    /* 33 */ T("/* never closed\n0 %noop", "unterminated"),
    /* 34 */ T("0 %noop extra", "unexpected text"),
    /* 35 */ T("+0 < S 0:0(0) <mss 1> win 5", "after the option list"),
    /* 36 */ T("+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [EBOGUS], [4]) = 0",
               "unknown errno"),
    /* 37 */ T("+0 write(4, buf, 10) = 10", "must be '...'"),
    /* 38 */ T("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=5}, "
               "8) = 0",
               "SO_LINGER: expected"),
    /* 39 */ T("0 %state conn *:x CLOSED", "LPORT:RPORT"),
    /* 40 */ T("0 %info 4 bogus 1", "expected %info FD FIELD N"),
    /* 41 */ T("0 %info 4 rto_ms", "expected %info FD FIELD N"),
    /* 42 */ T("%set ts_clock_check=2", "expected 0 or 1"),
    /* 43 */ T("%isn_above_previous", "needs a time"),
    /* 44 */ T("%set cc=", "expected %set name=value"),
    /* 45 */ T("%set cc=New Reno", "expected a name"),
    /* 46 */ T("%set cc=a_name_far_too_long", "expected a name"),
    /* 47 */ T("%set keepalive=yes", "0 or 1"),
    /* 48 */ T("%set user_timeout_ms=-1", "unsigned 32-bit"),
    /* 49 */ T("+0 setsockopt(3, SOL_SOCKET, TCP_KEEPIDLE, [1], 4) = 0",
               "unsupported socket option"),
    /* 50 */ T("+0 setsockopt(3, IPPROTO_TCP, SO_KEEPALIVE, [1], 4) = 0",
               "unsupported socket option"),
    /* 51 */ T("+0 setsockopt(3, IPPROTO_TCP, TCP_KEEPCNT, [x], 4) = 0",
               "expected a number"),
    /* 52 */ T("+0 getsockopt(3, IPPROTO_TCP, TCP_USER_TIMEOUT, [1], [4]) = 0",
               "SO_ERROR only"),
    /* 53 */ T("0 %info 4 dsack 1", "expected %info FD FIELD N with FIELD "
               "one of snd_mss"),
#undef T
};

static void test_parse_bad_lines_refused(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
    pkt_script sc;
    int r = pkt_script_parse(&sc, "t.pkt", bad_cases[i].text);

    if (r == 0)
      fail_msg("row %zu: '%s' was accepted", i, bad_cases[i].text);
    if (strstr(sc.err, bad_cases[i].msg) == NULL ||
        strncmp(sc.err, "t.pkt:", 6) != 0)
      fail_msg("row %zu: message '%s' lacks '%s'", i, sc.err,
               bad_cases[i].msg);
    pkt_script_free(&sc);
  }
}

static void test_parse_error_names_the_line(void **state) {
  pkt_script sc;

  (void)state;
  assert_int_equal(pkt_script_parse(&sc, "t.pkt", "0 %noop\n\n+0 < Q 0:0(0)"),
                   -1);
  assert_non_null(strstr(sc.err, "t.pkt:3: "));
  pkt_script_free(&sc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_time_forms),
      cmocka_unit_test(test_parse_inbound_syn_options_in_order),
      cmocka_unit_test(test_parse_flags_and_fields),
      cmocka_unit_test(test_parse_sack_and_raw_options),
      cmocka_unit_test(test_parse_socket_calls),
      cmocka_unit_test(test_parse_directives),
      cmocka_unit_test(test_parse_conn_options),
      cmocka_unit_test(test_parse_set_cc_keepalive),
      cmocka_unit_test(test_parse_info_fields),
      cmocka_unit_test(test_parse_comments_keep_line_numbers),
      cmocka_unit_test(test_parse_bad_lines_refused),
      cmocka_unit_test(test_parse_error_names_the_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
