/*
 * dh_mgsrel: the MGS data-channel reliability layer as a pure state machine
 * (no I/O, no clock reads, no sockets).  One object per data-channel side.
 *
 * Events go in: dh_mgsrel_feed (one received binary frame), dh_mgsrel_send
 * (outgoing stream data), dh_mgsrel_send_control (an unsequenced message),
 * dh_mgsrel_tick (timer), dh_mgsrel_pause/resume, dh_mgsrel_set_accept.
 * Every input carries now_ms, a monotonic millisecond clock owned by the
 * caller.  Outputs come out through a queue the caller drains with
 * dh_mgsrel_next: frames to transmit, stream payloads delivered in order
 * exactly once, and other (non-stream, non-ack) messages.  dh_mgsrel_deadline
 * says when tick is next due.
 *
 * Protocol (mgs-protocol.md section 6):
 *  - each direction numbers stream messages 0,1,2,... (int64);
 *  - every accepted stream message is acknowledged individually (selective);
 *    out-of-order ones are acked on arrival and held in a bounded reorder
 *    window (expected, expected + reorder_cap]; beyond it or when the byte
 *    budget is spent they are dropped silently without an ack, as the
 *    reference does, and the peer resends them;
 *  - duplicates are re-acked (agent behaviour) unless reack_duplicates = 0
 *    (plugin behaviour);
 *  - sent messages stay in a bounded send buffer until acked; an ack removes
 *    exactly that sequence number and gives an RTT sample; RTO as in TCP:
 *      RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|   (old SRTT)
 *      SRTT   = 7/8 SRTT + 1/8 R
 *      RTO    = min(1000, SRTT + max(10, 4 RTTVAR))   initial 100/0/200 ms;
 *  - a tick every 100 ms resends only the oldest unacked message, and only
 *    when now - last_sent > RTO, then refreshes its last_sent (agent);
 *  - paused (pause_publication): stream messages are still numbered and
 *    buffered but neither transmitted nor resent; start_publication, any
 *    incoming stream message or ack resumes, and resuming transmits every
 *    message that was buffered while paused (the real agent leaves them to
 *    the resend timer, one per RTO);
 *  - "handler not ready": while a payload type is not accepted
 *    (dh_mgsrel_set_accept), an in-order message of that type is neither
 *    delivered, acked nor advanced, so the peer resends it.
 * The agent's first stream message carries Flags SYN (1), later ones 0; acks
 * carry Flags 3.
 *
 * Ownership: the object owns every buffer; the pointers in an event returned
 * by dh_mgsrel_next stay valid until the next call on the same object (other
 * than dh_mgsrel_deadline / dh_mgsrel_stats).  dh_mgsrel_free releases all.
 * Not thread-safe: one owner drives it.
 */
#ifndef DH_MGSREL_H
#define DH_MGSREL_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "dh_mgs.h"
#include "dh_uuid.h"

#define DH_MGSREL_TICK_MS 100
#define DH_MGSREL_SRTT0_MS 100.0
#define DH_MGSREL_RTO0_MS 200.0
#define DH_MGSREL_RTO_MAX_MS 1000.0
#define DH_MGSREL_CLOCK_G_MS 10.0

/* Which end: decides the outgoing stream type and the incoming one. */
enum dh_mgsrel_role {
	DH_MGSREL_AGENT = 0,  /* sends output_stream_data, receives input */
	DH_MGSREL_CLIENT = 1  /* sends input_stream_data, receives output */
};

/* What dh_mgsrel_send does when the send buffer is full. */
enum dh_mgsrel_full {
	DH_MGSREL_FULL_REFUSE = 0,     /* DH_E_TOOBIG, nothing numbered (back-pressure) */
	DH_MGSREL_FULL_UNBUFFERED = 1, /* transmit without buffering (agent 3.3) */
	DH_MGSREL_FULL_DROP_OLDEST = 2 /* discard the oldest unacked (plugin) */
};

#define DH_MGSREL_ACCEPT_ALL UINT64_MAX

struct dh_mgsrel_cfg {
	int role;                /* enum dh_mgsrel_role */
	size_t reorder_cap;      /* reorder window, messages (agent 100000, plugin 10000) */
	size_t reorder_max_bytes;/* payload bytes held for reordering */
	size_t send_cap;         /* send-buffer window, messages (agent 100000, plugin 10000) */
	size_t send_max_bytes;   /* frame bytes held unacked */
	int full_policy;         /* enum dh_mgsrel_full */
	int reack_duplicates;    /* 1 agent, 0 plugin */
	int refresh_on_resend;   /* 1 agent, 0 plugin (its bug: resends every tick) */
	int syn_first;           /* Flags SYN on the first stream message (agent) */
	int honor_pause;         /* react to pause/start and implicit resume (agent) */
	int check_digest;        /* verify payload digests (plugin does, agent not) */
	size_t max_frame;        /* largest frame accepted or produced */
	size_t queue_cap;        /* inputs refused (DH_E_STATE) while this many events wait */
	int64_t wall_offset_ms;  /* CreatedDate = now_ms + offset (min 1) */
	/* Message-id source; NULL = v4 UUIDs from a random per-object seed
	 * plus a counter (unique per object).  Returns 0 or < 0. */
	int (*new_id)(void *arg, struct dh_uuid *out);
	void *id_arg;
};

enum dh_mgsrel_ev_kind {
	DH_MGSREL_EV_FRAME = 1,  /* frame/frame_len: transmit as one binary frame */
	DH_MGSREL_EV_DATA = 2,   /* msg: an in-order stream message (payload, ptype, seq) */
	DH_MGSREL_EV_MESSAGE = 3 /* msg: any other message (channel_closed, pause, ...) */
};

/* One output.  Pointers are borrowed from the object (see top). */
struct dh_mgsrel_ev {
	int kind;
	const unsigned char *frame;
	size_t frame_len;
	struct dh_mgs_msg msg;
};

struct dh_mgsrel_stats {
	uint64_t sent;             /* stream messages first transmitted */
	uint64_t retransmits;      /* resends by the timer */
	uint64_t unbuffered;       /* sent without buffering (FULL_UNBUFFERED) */
	uint64_t send_dropped;     /* discarded from the send buffer (FULL_DROP_OLDEST) */
	uint64_t acks_sent;
	uint64_t acks_received;    /* acks that removed a buffered message */
	uint64_t acks_unknown;     /* acks for a sequence number not buffered */
	uint64_t delivered;        /* stream messages delivered in order */
	uint64_t duplicates;       /* stream messages received again */
	uint64_t reordered;        /* out-of-order messages held */
	uint64_t reorder_dropped;  /* dropped: reorder window or bytes full */
	uint64_t not_ready;        /* in-order messages refused by the accept mask */
	uint64_t bad_frames;       /* frames or acks rejected by the decoder */
	int64_t next_seq;          /* next outgoing sequence number */
	int64_t expected_seq;      /* next incoming sequence number */
	size_t inflight;           /* messages in the send buffer */
	size_t inflight_bytes;
	size_t held;               /* messages in the reorder buffer */
	size_t held_bytes;
	size_t queued;             /* events waiting in the output queue */
	double srtt_ms, rttvar_ms, rto_ms;
	int paused;
};

struct dh_mgsrel;

/* Fill c with deckhand's defaults for role (re-ack, refresh, refuse when
 * full, 100000/10000 windows, 64 MiB byte budgets, 4 MiB frames). */
void dh_mgsrel_cfg_default(struct dh_mgsrel_cfg *c, int role);

/* New state machine; *out owned by the caller (dh_mgsrel_free). */
int dh_mgsrel_new(const struct dh_mgsrel_cfg *c, int64_t now_ms,
    struct dh_mgsrel **out, struct dh_err *err);

/* Release everything (NULL is fine). */
void dh_mgsrel_free(struct dh_mgsrel *r);

/* Process one received binary frame.  Bad frames are counted and reported
 * (DH_E_SHORT/FORMAT/INTEGRITY/TOOBIG) without changing state. */
int dh_mgsrel_feed(struct dh_mgsrel *r, const void *frame, size_t n,
    int64_t now_ms, struct dh_err *err);

/* Number, buffer and (unless paused) transmit n > 0 bytes of stream data. */
int dh_mgsrel_send(struct dh_mgsrel *r, uint32_t ptype, const void *p,
    size_t n, int64_t now_ms, struct dh_err *err);

/* 1 when dh_mgsrel_send of n bytes would be buffered without the full policy. */
int dh_mgsrel_can_send(const struct dh_mgsrel *r, size_t n);

/* Queue an unsequenced message (seq 0, not buffered, sent even when paused),
 * e.g. agent_session_state; n must be > 0 (real agents need a payload). */
int dh_mgsrel_send_control(struct dh_mgsrel *r, const char *type,
    uint64_t flags, uint32_t ptype, const void *p, size_t n, int64_t now_ms,
    struct dh_err *err);

/* Timer: resend the oldest unacked message if it is due. */
int dh_mgsrel_tick(struct dh_mgsrel *r, int64_t now_ms);

/* Absolute time (now_ms clock) tick is next due, or -1 when no timer is needed. */
int64_t dh_mgsrel_deadline(const struct dh_mgsrel *r);

/* Stop transmission and resends (pause_publication). */
void dh_mgsrel_pause(struct dh_mgsrel *r);

/* Resume: transmits what was buffered while paused; 0 or DH_E_NOMEM. */
int dh_mgsrel_resume(struct dh_mgsrel *r, int64_t now_ms);

/* Payload types the handler accepts (bit t = type t; types >= 64 accepted
 * only with DH_MGSREL_ACCEPT_ALL).  Widening releases held messages. */
int dh_mgsrel_set_accept(struct dh_mgsrel *r, uint64_t mask);

/* Pop the next output into ev; 1 when an event was returned, 0 when empty. */
int dh_mgsrel_next(struct dh_mgsrel *r, struct dh_mgsrel_ev *ev);

/* Snapshot counters and estimator state. */
void dh_mgsrel_stats(const struct dh_mgsrel *r, struct dh_mgsrel_stats *s);

/* Change the CreatedDate offset (wall ms - monotonic ms). */
void dh_mgsrel_set_wall_offset(struct dh_mgsrel *r, int64_t offset_ms);

#endif
