/*
 * conn.h — the transmission control block (RFC 9293 §3.3.1) and the
 * internal interface between the connection's parts:
 *   conn.c      segment arrival (RFC 9293 §3.10.7), the state machine
 *   conn_out.c  what to send next
 *   conn_api.c  user calls (RFC 9293 §3.10.1-3.10.6)
 *   listen.c    listeners, SYN and accept queues, SYN cookies
 *   timer.c     every timer; callers report events, only timer.c arms
 *   rtt.c       RTO estimation (RFC 6298)
 */
#ifndef TCPU_CORE_CONN_H
#define TCPU_CORE_CONN_H

#include "core/ring.h"
#include "core/rob.h"
#include "core/rtx.h"
#include "core/seg.h"
#include "tcpu/tcpu.h"

typedef enum tcpu_timer_kind {
  TCPU_TIMER_RTX = 0, /* SYN, SYN-ACK, data and FIN retransmission */
  TCPU_TIMER_DELACK,  /* delayed ACK */
  TCPU_TIMER_PERSIST, /* zero-window probe */
  TCPU_TIMER_2MSL,    /* TIME_WAIT, and the orphaned FIN_WAIT_2 timeout */
  TCPU_TIMER_RACK,    /* RFC 8985 §6.3 reordering timer */
  TCPU_TIMER_TLP,     /* RFC 8985 §7 tail loss probe */
  TCPU_TIMER_KEEPALIVE,
  TCPU_TIMER_PACING,  /* the pacer allows the next segment */
  TCPU_TIMER_COUNT
} tcpu_timer_kind;

/* Application events, collected while a segment is processed and
 * delivered once processing is over (so callbacks may call back in). */
enum {
  TCPU_EV_ACCEPT = 1u << 0,
  TCPU_EV_CONNECTED = 1u << 1,
  TCPU_EV_READABLE = 1u << 2,
  TCPU_EV_WRITABLE = 1u << 3,
  TCPU_EV_CLOSED = 1u << 4
};

/* Congestion-avoidance state of the sender (Linux's ca_state, reduced). */
typedef enum tcpu_ca_state {
  TCPU_CA_OPEN = 0,  /* no loss outstanding */
  TCPU_CA_RECOVERY,  /* fast recovery (RFC 6675 / RFC 6582) with PRR */
  TCPU_CA_LOSS       /* after a retransmission timeout */
} tcpu_ca_state;

/* RFC 8985 §5.2 per-connection RACK-TLP state. */
typedef struct tcpu_rack {
  tcpu_tstamp xmit_ts;       /* latest send time of a delivered segment */
  uint32_t end_seq;          /* and its end */
  tcpu_duration rtt;         /* its RTT */
  tcpu_duration min_rtt;     /* UINT64_MAX: none yet */
  uint32_t fack;             /* highest end acked or SACKed */
  uint32_t reo_wnd_mult, reo_wnd_persist;
  uint32_t dsack_round;
  unsigned reordering_seen : 1, dsack_round_valid : 1;
  unsigned tlp_outstanding : 1, tlp_is_retrans : 1, tlp_due : 1;
  uint32_t tlp_end_seq;
} tcpu_rack;

typedef struct tcpu_listener {
  int backlog;
  unsigned syn_count, acc_count;
  struct tcpu_conn *syn_head;             /* embryonic children, SYN_RCVD */
  struct tcpu_conn *acc_head, *acc_tail;  /* established, not yet accepted */
} tcpu_listener;

struct tcpu_conn {
  tcpu_endpoint *ep;
  struct tcpu_conn *hnext;              /* hash chain */
  struct tcpu_conn *next, *prev;        /* every connection of the endpoint */
  struct tcpu_conn *out_next;           /* output queue */
  struct tcpu_conn *ev_next;            /* event queue */
  struct tcpu_conn *parent;             /* listener of a queued child */
  struct tcpu_conn *q_next;             /* in the parent's SYN/accept queue */
  struct tcpu_conn *tw_link;  /* parked TIME-WAIT <-> the SYN reopening it */
  struct tcpu_conn *dirty_next;         /* timers changed (theap.c) */
  struct tcpu_conn *dead_next;          /* ended, waiting to be freed */
  size_t heap_idx;                      /* 1-based in the timer heap; 0: out */
  tcpu_tstamp heap_key;
  tcpu_listener *lst;                   /* non-NULL for listeners */

  tcpu_state state;
  tcpu_addr peer;
  uint16_t lport, rport;
  int err;
  void *user_data;

  unsigned handle_open : 1;  /* the application holds the handle */
  unsigned in_hash : 1, in_outq : 1, in_evq : 1, dead : 1;
  unsigned parked : 1;       /* TIME-WAIT set aside for a reopening SYN */
  unsigned timer_dirty : 1;
  unsigned passive : 1;      /* opened by a listener */
  unsigned in_accept_q : 1;
  unsigned fin_queued : 1;   /* the user shut the write side */
  unsigned fin_sent : 1;     /* a FIN is at snd_max - 1 */
  unsigned fin_rcvd : 1;     /* the peer's FIN is consumed */
  unsigned syn_sent_flag : 1;/* the current SYN(-ACK) went out */
  unsigned ack_now : 1;      /* send an ACK at the next chance */
  unsigned ack_pure : 1;     /* ...and before any data (out of order) */
  unsigned ts_ok : 1, sack_ok : 1, ws_ok : 1, nodelay : 1;
  unsigned want_writable : 1;
  unsigned rtt_timing : 1;   /* Karn: a segment is being timed */
  unsigned probe_due : 1;    /* persist timer fired: send one byte */
  unsigned events;           /* TCPU_EV_* pending */

  /* Send sequence variables (RFC 9293 §3.3.1). */
  uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
  uint32_t snd_wnd, max_snd_wnd; /* bytes, scaled */
  uint8_t snd_wscale, rcv_wscale;
  /* Receive sequence variables. */
  uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge advertised */
  uint32_t last_ack_sent;         /* RFC 7323 §4.3 Last.ACK.sent */
  uint16_t peer_mss;  /* from the MSS option, 536 without (RFC 9293 §3.7.1) */
  uint16_t adv_mss;   /* the MSS we advertise */
  uint32_t ts_recent, ts_offset;
  uint32_t rcv_bytes_unacked; /* in-order bytes not yet acknowledged */
  uint32_t quickacks;  /* data segments still acknowledged at once */
  uint32_t snd_sml;    /* end of the last small segment sent (Minshall) */

  tcpu_ring sndq; /* first byte has sequence number snd_buf_seq */
  uint32_t snd_buf_seq;
  tcpu_ring rcvq;
  tcpu_rob rob;     /* out-of-order data beyond RCV.NXT */
  uint32_t fin_seq; /* the peer's FIN, once seen, even beyond a hole */
  unsigned fin_seen : 1;

  tcpu_tstamp timer[TCPU_TIMER_COUNT];
  uint32_t backoff;   /* RTO doublings; reset by a valid RTT sample */
  uint32_t rtx_count; /* timeouts without progress: the retry limit */
  uint32_t syn_xmits; /* SYN or SYN-ACK transmissions */
  uint32_t persist_backoff;
  uint32_t probes_out; /* zero-window probes the peer has not answered */
  uint32_t rtt_seq;   /* sequence number being timed */
  tcpu_tstamp rtt_time;
  tcpu_duration srtt, rttvar, rto;

  uint32_t cwnd, ssthresh; /* bytes; written by congestion control */
  const struct tcpu_cc_ops *cc;
  void *cc_state;
  uint64_t cc_pacing_rate;  /* bytes/s from the algorithm; 0: default */
  tcpu_tstamp next_send_ts; /* pacing */
  tcpu_tstamp last_send_ts;
  tcpu_tstamp recovery_start;
  /* Delivery-rate estimation and round counting (cc/rate.c). */
  uint64_t delivered, app_limited, next_round_delivered, round;
  tcpu_tstamp delivered_ts, first_sent_ts;
  uint64_t last_delivery_rate;
  unsigned round_started : 1;
  unsigned cc_inited : 1;   /* cc->init ran on cc_state */

  /* Loss recovery. */
  tcpu_rtxq rtxq;
  tcpu_ca_state ca_state;
  uint32_t recovery_point; /* RFC 6675 RecoveryPoint, RFC 6582 recover */
  uint32_t dupacks;        /* RFC 5681 duplicate ACKs (no SACK) */
  uint32_t prr_delivered, prr_out, recover_fs; /* RFC 6937 */
  tcpu_rack rack;
  /* Undo of spurious retransmission (RFC 3522 Eifel with timestamps,
   * RFC 3708 with D-SACK). */
  uint32_t undo_ts;        /* TSval of the episode's first retransmission */
  uint32_t undo_end;       /* and the end of what it resent */
  uint32_t undo_retrans;   /* retransmissions not yet proven spurious */
  uint32_t prior_cwnd, prior_ssthresh;
  unsigned undo_valid : 1;

  /* Keepalive and user timeout (RFC 9293 §3.8.4, RFC 5482). */
  unsigned keepalive : 1;
  tcpu_duration ka_idle, ka_intvl, user_timeout;
  uint32_t ka_cnt, ka_probes;
  tcpu_tstamp last_rcv;
  tcpu_tstamp ts_recent_stamp; /* RFC 7323 §5.5: TS.Recent's age */
  uint64_t sacked_segs, lost_segs, dsacks, reorder_events, spurious_undos;
  uint64_t paws_drops, tlp_probes, fast_recoveries;

  uint64_t bytes_sent, bytes_acked, bytes_received, bytes_retrans;
  uint64_t segs_in, segs_out, retransmits, timeouts;
};

/* ---- conn.c: segment arrival */
/* Processes a segment for c.  May free nothing: a connection that ends is
 * marked and reaped by the endpoint later. */
void tcpu_conn_input(tcpu_conn *c, const tcpu_seg *s, tcpu_tstamp now);
/* Moves c to state `to`, calls state_changed, queues the closed event. */
void tcpu_conn_set_state(tcpu_conn *c, tcpu_state to, tcpu_tstamp now);
/* Ends the connection with err (0, RESET, REFUSED, TIMEDOUT). */
void tcpu_conn_terminate(tcpu_conn *c, int err, tcpu_tstamp now);
/* Applies the options of a SYN or SYN-ACK (RFC 9293 §3.7.1, RFC 7323). */
void tcpu_conn_take_syn_options(tcpu_conn *c, const tcpu_seg *s);
/* A data byte, a FIN or an ACK state change happened: the conn has
 * something for tcpu_conn_output. */
void tcpu_conn_want_output(tcpu_conn *c);
void tcpu_conn_add_event(tcpu_conn *c, unsigned ev);
/* Sends RST for the current state (RFC 9293 §3.10.7.4) and closes. */
void tcpu_conn_reset(tcpu_conn *c, int err, tcpu_tstamp now);
/* c reached ESTABLISHED: a FIN the user queued earlier may now go. */
void tcpu_conn_on_established(tcpu_conn *c, tcpu_tstamp now);

/* ---- conn_out.c: output */
/* Writes the next segment due into buf; 0 when nothing is due.  In
 * sealed mode a data segment may instead be left in the send ring, where
 * ep->splice.seg points (tcpu_sealed_wrap seals it from there). */
tcpu_ssize tcpu_conn_output(tcpu_conn *c, uint8_t *buf, size_t buflen,
                            tcpu_tstamp now);
/* Payload bytes per segment: the send MSS less the options every segment
 * carries (RFC 9293 §3.7.1: options are not counted in the MSS). */
uint32_t tcpu_conn_payload_mss(const tcpu_conn *c);
/* Window we can advertise now, in bytes. */
uint32_t tcpu_conn_rcv_window(const tcpu_conn *c);
/* The application consumed data: a window update may be due. */
void tcpu_conn_on_read(tcpu_conn *c);
/* RFC 7323 §5.4 TSval: a millisecond clock with a per-connection offset. */
uint32_t tcpu_conn_ts_now(const tcpu_conn *c, tcpu_tstamp now);

/* ---- conn_api.c */
/* RFC 7323 §2.3: the smallest shift that lets rcvbuf be advertised. */
uint8_t tcpu_wscale_for(uint32_t rcvbuf);
uint32_t tcpu_ts_offset(const tcpu_endpoint *ep, const tcpu_addr *peer,
                        uint16_t lport, uint16_t rport);
tcpu_conn *tcpu_conn_new(tcpu_endpoint *ep, const tcpu_addr *peer,
                         uint16_t lport, uint16_t rport);
void tcpu_conn_free(tcpu_conn *c);

/* ---- timer.c: only this file arms and cancels timers */
tcpu_tstamp tcpu_timer_expiry(const tcpu_conn *c);
void tcpu_timer_handle(tcpu_conn *c, tcpu_tstamp now);
/* A segment went out; new_data: first transmission of data (not a
 * retransmission, not a SYN). */
void tcpu_timer_on_send(tcpu_conn *c, int new_data, tcpu_tstamp now);
void tcpu_timer_on_ack(tcpu_conn *c, int delivered, tcpu_tstamp now);
void tcpu_timer_on_ack_sent(tcpu_conn *c);
void tcpu_timer_on_data_received(tcpu_conn *c, tcpu_tstamp now);
void tcpu_timer_on_window(tcpu_conn *c, tcpu_tstamp now);
void tcpu_timer_on_time_wait(tcpu_conn *c, tcpu_tstamp now);
void tcpu_timer_on_orphan(tcpu_conn *c, tcpu_tstamp now);
void tcpu_timer_stop_all(tcpu_conn *c);
/* RACK's reordering deadline (TCPU_TSTAMP_NONE: none). */
void tcpu_timer_on_rack(tcpu_conn *c, tcpu_tstamp at);
void tcpu_timer_on_activity(tcpu_conn *c, tcpu_tstamp now);
void tcpu_timer_on_probe_sent(tcpu_conn *c, tcpu_tstamp now);
/* Output waits for the pacer until `at`. */
void tcpu_timer_on_paced(tcpu_conn *c, tcpu_tstamp at);

/* ---- recovery.c: what an ACK means for the sender */
/* What one ACK delivered, gathered by recovery.c, sack.c and rack.c. */
struct tcpu_rate_sample;
typedef struct tcpu_ack_ctx {
  uint32_t acked;       /* bytes newly cumulatively acknowledged */
  uint32_t sacked;      /* bytes newly SACKed */
  uint32_t delivered;   /* RFC 6937 DeliveredData: newly acked or SACKed,
                           each byte once */
  struct tcpu_rate_sample *rs;
  tcpu_tstamp rtt_xmit; /* send time of the newest clean delivered segment */
  unsigned have_rtt : 1, dsack : 1, dsack_on_retrans : 1;
  unsigned acked_retrans : 1; /* the cumulative ACK covered a resent one */
  unsigned syn_sampled : 1;   /* the SYN's own timing gave this ACK's RTT */
  uint32_t dsack_start, dsack_end;
} tcpu_ack_ctx;

void tcpu_recovery_on_ack(tcpu_conn *c, const tcpu_seg *s, tcpu_tstamp now);
void tcpu_recovery_on_rto(tcpu_conn *c, tcpu_tstamp now);
void tcpu_recovery_on_rack_timer(tcpu_conn *c, tcpu_tstamp now);
/* [seq, seq+len) went out; rtx: a retransmission. */
void tcpu_recovery_on_send(tcpu_conn *c, uint32_t seq, uint32_t len, int rtx,
                           tcpu_tstamp now);
/* RFC 6675 §2 pipe: bytes the sender believes are in the network. */
uint32_t tcpu_conn_pipe(const tcpu_conn *c);

/* ---- sack.c (RFC 2018, RFC 2883 on the sender) */
void tcpu_sack_input(tcpu_conn *c, const tcpu_seg *s, tcpu_ack_ctx *ctx,
                     tcpu_tstamp now);

/* ---- rack.c (RFC 8985) */
void tcpu_rack_init(tcpu_conn *c);
void tcpu_rack_on_delivered(tcpu_conn *c, const tcpu_txseg *s,
                            tcpu_tstamp now);
/* Marks lost what RACK judges lost; arms the reordering timer for the
 * rest.  Returns nonzero if it marked anything. */
int tcpu_rack_detect_loss(tcpu_conn *c, tcpu_tstamp now);
void tcpu_rack_on_dsack(tcpu_conn *c);
void tcpu_rack_on_recovery_exit(tcpu_conn *c);
/* Probe timeout from now, or TCPU_TSTAMP_NONE when no probe applies. */
tcpu_duration tcpu_rack_pto(const tcpu_conn *c);


/* ---- rtt.c (RFC 6298) */
void tcpu_rtt_init(tcpu_conn *c);
void tcpu_rtt_sample(tcpu_conn *c, tcpu_duration r);
tcpu_duration tcpu_rtt_rto(const tcpu_conn *c); /* with backoff */

#endif /* TCPU_CORE_CONN_H */
