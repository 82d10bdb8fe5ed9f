/*
 * Unit tests for dh_mgsrel, the MGS reliability state machine.  Scenarios are
 * data tables of steps (a frame from the peer, a send, a tick, pause/resume,
 * an accept-mask change) each with the exact outputs expected, written as
 * tokens: F<seq> our stream frame, A<seq> our ack, C<type> our control
 * frame, D<seq> delivered data, M<type> message passed up.  Then the RTO
 * estimator against exact numbers, the send-buffer policies, flags, and two
 * machines wired back to back through a lossy, duplicating, reordering and
 * corrupting link (deterministic PRNG) that must deliver every byte in
 * order exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_mgs.h"
#include "dh_mgsrel.h"

static int
counter_id(void *arg, struct dh_uuid *out)
{
	uint64_t *n = arg;
	int i;

	memset(out, 0, sizeof(*out));
	(*n)++;
	for (i = 0; i < 8; i++)
		out->b[15 - i] = (unsigned char)(*n >> (8 * i));
	out->b[6] = 0x40;
	return DH_OK;
}

static uint64_t id_counter;

static struct dh_mgsrel *
mk(const struct dh_mgsrel_cfg *c)
{
	struct dh_mgsrel *r;
	struct dh_mgsrel_cfg cc = *c;
	struct dh_err err;

	cc.new_id = counter_id;
	cc.id_arg = &id_counter;
	assert_int_equal(dh_mgsrel_new(&cc, 0, &r, &err), DH_OK);
	return r;
}

/* A frame as the peer would send it. */
static void
peer_frame(struct dh_buf *out, const char *type, int64_t seq, uint32_t ptype,
    const void *p, size_t n)
{
	struct dh_mgs_msg m;
	struct dh_uuid id;

	counter_id(&id_counter, &id);
	dh_buf_init(out, 1 << 20);
	assert_int_equal(dh_mgs_init(&m, type, 1700000000000ULL, seq,
	    0, &id, ptype, p, n, NULL), DH_OK);
	assert_int_equal(dh_mgs_encode(&m, out, NULL), DH_OK);
}

static void
peer_ack(struct dh_buf *out, const char *acked_type, int64_t seq)
{
	struct dh_mgs_ack a;
	struct dh_buf js;

	memset(&a, 0, sizeof(a));
	snprintf(a.type, sizeof(a.type), "%s", acked_type);
	counter_id(&id_counter, &a.id);
	a.seq = seq;
	a.sequential = 1;
	dh_buf_init(&js, 1024);
	assert_int_equal(dh_mgs_ack_build(&a, &js, NULL), DH_OK);
	peer_frame(out, DH_MGS_T_ACK, 0, 0, js.d, js.len);
	dh_buf_free(&js);
}

/* Drain every output of r into space-separated tokens. */
static void
drain(struct dh_mgsrel *r, char *out, size_t cap)
{
	struct dh_mgsrel_ev ev;
	struct dh_mgs_msg m;
	struct dh_mgs_ack a;
	char tok[64], want[32];
	size_t len = 0;

	out[0] = '\0';
	while (dh_mgsrel_next(r, &ev)) {
		switch (ev.kind) {
		case DH_MGSREL_EV_FRAME:
			assert_int_equal(dh_mgs_decode(ev.frame, ev.frame_len,
			    DH_MGS_DEC_DIGEST, &m, NULL), DH_OK);
			if (dh_mgs_is(&m, DH_MGS_T_ACK)) {
				assert_int_equal(dh_mgs_ack_parse(m.payload,
				    m.payload_len, &a, NULL), DH_OK);
				assert_true(m.flags == DH_MGS_HF_ACK);
				assert_true(m.seq == 0);
				snprintf(tok, sizeof(tok), "A%lld",
				    (long long)a.seq);
			} else if (dh_mgs_is_stream(&m)) {
				snprintf(tok, sizeof(tok), "F%lld",
				    (long long)m.seq);
			} else {
				snprintf(tok, sizeof(tok), "C%s", m.type);
			}
			break;
		case DH_MGSREL_EV_DATA:
			snprintf(want, sizeof(want), "p%lld",
			    (long long)ev.msg.seq);
			assert_int_equal(ev.msg.payload_len, strlen(want));
			assert_memory_equal(ev.msg.payload, want, strlen(want));
			snprintf(tok, sizeof(tok), "D%lld",
			    (long long)ev.msg.seq);
			break;
		case DH_MGSREL_EV_MESSAGE:
			snprintf(tok, sizeof(tok), "M%s", ev.msg.type);
			break;
		default:
			fail_msg("unknown event kind %d", ev.kind);
		}
		len += (size_t)snprintf(out + len, cap - len, "%s%s",
		    len ? " " : "", tok);
		assert_true(len < cap);
	}
}

enum op {
	OP_END = 0,
	OP_IN,     /* peer stream message seq (payload "p<seq>", ptype) */
	OP_SEND,   /* we send "p<next seq>" */
	OP_ACK,    /* peer acks our seq */
	OP_TICK,
	OP_PAUSE_F,/* peer pause_publication frame */
	OP_START_F,/* peer start_publication frame */
	OP_PAUSE,  /* dh_mgsrel_pause */
	OP_RESUME, /* dh_mgsrel_resume */
	OP_ACCEPT, /* dh_mgsrel_set_accept(arg) */
	OP_CLOSED  /* peer channel_closed frame */
};

struct step {
	int op;
	int64_t t;      /* now_ms */
	int64_t arg;    /* seq or mask */
	uint32_t ptype;
	const char *expect;
};

struct scenario {
	const char *name;
	int role;
	size_t reorder_cap;
	int reack;
	struct step steps[24];
};

#define HS_ONLY ((int64_t)1 << DH_MGS_PT_HS_RESPONSE)

static const struct scenario scenarios[] = {
	{ "in order", DH_MGSREL_AGENT, 0, 1, {
		{ OP_IN, 0, 0, 1, "D0 A0" },
		{ OP_IN, 1, 1, 1, "D1 A1" },
		{ OP_IN, 2, 2, 1, "D2 A2" },
	} },
	{ "out of order 3,2,1", DH_MGSREL_AGENT, 0, 1, {
		{ OP_IN, 0, 0, 1, "D0 A0" },
		{ OP_IN, 1, 3, 1, "A3" },
		{ OP_IN, 2, 2, 1, "A2" },
		{ OP_IN, 3, 1, 1, "D1 A1 D2 D3" },
		{ OP_IN, 4, 4, 1, "D4 A4" },
	} },
	{ "gap release", DH_MGSREL_AGENT, 0, 1, {
		{ OP_IN, 0, 2, 1, "A2" },
		{ OP_IN, 0, 1, 1, "A1" },
		{ OP_IN, 0, 0, 1, "D0 A0 D1 D2" },
	} },
	{ "duplicate re-ack (agent)", DH_MGSREL_AGENT, 0, 1, {
		{ OP_IN, 0, 0, 1, "D0 A0" },
		{ OP_IN, 1, 0, 1, "A0" },
		{ OP_IN, 2, 2, 1, "A2" },
		{ OP_IN, 3, 2, 1, "A2" },
		{ OP_IN, 4, 1, 1, "D1 A1 D2" },
		{ OP_IN, 5, 2, 1, "A2" },
	} },
	{ "duplicate ignored (plugin)", DH_MGSREL_CLIENT, 0, 0, {
		{ OP_IN, 0, 0, 1, "D0 A0" },
		{ OP_IN, 1, 0, 1, "" },
		{ OP_IN, 2, 2, 1, "A2" },
		{ OP_IN, 3, 2, 1, "" },
	} },
	{ "reorder buffer full drops without ack", DH_MGSREL_AGENT, 2, 1, {
		{ OP_IN, 0, 1, 1, "A1" },
		{ OP_IN, 0, 2, 1, "A2" },
		{ OP_IN, 0, 3, 1, "" },
		{ OP_IN, 0, 100, 1, "" },
		{ OP_IN, 0, 0, 1, "D0 A0 D1 D2" },
		{ OP_IN, 0, 3, 1, "D3 A3" },
	} },
	{ "handler not ready", DH_MGSREL_AGENT, 0, 1, {
		{ OP_ACCEPT, 0, HS_ONLY, 0, "" },
		{ OP_IN, 0, 0, 1, "" },
		{ OP_IN, 0, 1, 1, "A1" },
		{ OP_IN, 0, 0, 6, "D0 A0" },
		{ OP_IN, 0, 2, 1, "A2" },
		{ OP_ACCEPT, 0, (int64_t)DH_MGSREL_ACCEPT_ALL, 0, "D1 D2" },
		{ OP_IN, 0, 3, 1, "D3 A3" },
	} },
	{ "lost ack: resend oldest only after RTO", DH_MGSREL_AGENT, 0, 1, {
		{ OP_SEND, 0, 0, 1, "F0" },
		{ OP_SEND, 0, 0, 1, "F1" },
		{ OP_TICK, 99, 0, 0, "" },
		{ OP_TICK, 100, 0, 0, "" },
		{ OP_TICK, 200, 0, 0, "" },
		{ OP_TICK, 300, 0, 0, "F0" },
		{ OP_TICK, 400, 0, 0, "" },
		{ OP_TICK, 500, 0, 0, "" },
		{ OP_TICK, 600, 0, 0, "F0" },
		{ OP_ACK, 650, 0, 0, "" },
		{ OP_TICK, 700, 0, 0, "F1" },
		{ OP_TICK, 750, 0, 0, "" },
		{ OP_ACK, 760, 1, 0, "" },
		{ OP_TICK, 900, 0, 0, "" },
	} },
	{ "ack of unknown sequence ignored", DH_MGSREL_AGENT, 0, 1, {
		{ OP_SEND, 0, 0, 1, "F0" },
		{ OP_ACK, 5, 7, 0, "" },
		{ OP_ACK, 5, 0, 0, "" },
		{ OP_ACK, 6, 0, 0, "" },
		{ OP_TICK, 1000, 0, 0, "" },
	} },
	{ "pause holds transmission and resend", DH_MGSREL_AGENT, 0, 1, {
		{ OP_SEND, 0, 0, 1, "F0" },
		{ OP_PAUSE_F, 10, 0, 0, "Mpause_publication" },
		{ OP_SEND, 20, 0, 1, "" },
		{ OP_SEND, 30, 0, 1, "" },
		{ OP_TICK, 500, 0, 0, "" },
		{ OP_TICK, 1500, 0, 0, "" },
		{ OP_START_F, 2000, 0, 0, "F1 F2 Mstart_publication" },
		{ OP_TICK, 2050, 0, 0, "" },
		{ OP_TICK, 2100, 0, 0, "F0" },
	} },
	{ "incoming data and acks resume", DH_MGSREL_AGENT, 0, 1, {
		{ OP_PAUSE, 0, 0, 0, "" },
		{ OP_SEND, 0, 0, 1, "" },
		{ OP_IN, 10, 0, 1, "F0 D0 A0" },
		{ OP_PAUSE_F, 20, 0, 0, "Mpause_publication" },
		{ OP_SEND, 20, 0, 1, "" },
		{ OP_ACK, 30, 0, 0, "F1" },
		{ OP_PAUSE, 40, 0, 0, "" },
		{ OP_SEND, 40, 0, 1, "" },
		{ OP_RESUME, 50, 0, 0, "F2" },
	} },
	{ "client ignores pause", DH_MGSREL_CLIENT, 0, 1, {
		{ OP_PAUSE_F, 0, 0, 0, "Mpause_publication" },
		{ OP_SEND, 0, 0, 1, "F0" },
		{ OP_CLOSED, 0, 0, 0, "Mchannel_closed" },
	} },
};

static void
run_step(struct dh_mgsrel *r, int role, const struct step *s)
{
	const char *in_type = role == DH_MGSREL_AGENT ? DH_MGS_T_INPUT :
	    DH_MGS_T_OUTPUT;
	const char *out_type = role == DH_MGSREL_AGENT ? DH_MGS_T_OUTPUT :
	    DH_MGS_T_INPUT;
	struct dh_mgsrel_stats st;
	struct dh_buf f;
	struct dh_err err;
	char p[32];
	int rc = DH_OK;

	dh_buf_init(&f, 1);
	switch (s->op) {
	case OP_IN:
		snprintf(p, sizeof(p), "p%lld", (long long)s->arg);
		peer_frame(&f, in_type, s->arg, s->ptype, p, strlen(p));
		rc = dh_mgsrel_feed(r, f.d, f.len, s->t, &err);
		break;
	case OP_SEND:
		dh_mgsrel_stats(r, &st);
		snprintf(p, sizeof(p), "p%lld", (long long)st.next_seq);
		rc = dh_mgsrel_send(r, s->ptype, p, strlen(p), s->t, &err);
		break;
	case OP_ACK:
		peer_ack(&f, out_type, s->arg);
		rc = dh_mgsrel_feed(r, f.d, f.len, s->t, &err);
		break;
	case OP_TICK:
		rc = dh_mgsrel_tick(r, s->t);
		break;
	case OP_PAUSE_F:
		peer_frame(&f, DH_MGS_T_PAUSE, 0, 0, "{}", 2);
		rc = dh_mgsrel_feed(r, f.d, f.len, s->t, &err);
		break;
	case OP_START_F:
		peer_frame(&f, DH_MGS_T_START, 0, 0, "{}", 2);
		rc = dh_mgsrel_feed(r, f.d, f.len, s->t, &err);
		break;
	case OP_CLOSED:
		peer_frame(&f, DH_MGS_T_CHANNEL_CLOSED, 0, 0, "{}", 2);
		rc = dh_mgsrel_feed(r, f.d, f.len, s->t, &err);
		break;
	case OP_PAUSE:
		dh_mgsrel_pause(r);
		break;
	case OP_RESUME:
		rc = dh_mgsrel_resume(r, s->t);
		break;
	case OP_ACCEPT:
		rc = dh_mgsrel_set_accept(r, (uint64_t)s->arg);
		break;
	default:
		fail_msg("bad op %d", s->op);
	}
	dh_buf_free(&f);
	assert_int_equal(rc, DH_OK);
}

static void
test_scenarios(void **state)
{
	struct dh_mgsrel_cfg c;
	struct dh_mgsrel *r;
	char got[512];
	size_t i, j;

	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *sc = &scenarios[i];

		dh_mgsrel_cfg_default(&c, sc->role);
		if (sc->reorder_cap != 0)
			c.reorder_cap = sc->reorder_cap;
		c.reack_duplicates = sc->reack;
		r = mk(&c);
		for (j = 0; sc->steps[j].op != OP_END; j++) {
			run_step(r, sc->role, &sc->steps[j]);
			drain(r, got, sizeof(got));
			if (strcmp(got, sc->steps[j].expect) != 0)
				fail_msg("%s, step %zu: got \"%s\", want \"%s\"",
				    sc->name, j, got, sc->steps[j].expect);
		}
		dh_mgsrel_free(r);
	}
}

static void
test_counters(void **state)
{
	static const struct step steps[] = {
		{ OP_ACCEPT, 0, HS_ONLY, 0, NULL },
		{ OP_IN, 0, 0, 1, NULL },       /* not ready */
		{ OP_ACCEPT, 0, (int64_t)DH_MGSREL_ACCEPT_ALL, 0, NULL },
		{ OP_IN, 0, 2, 1, NULL },       /* held */
		{ OP_IN, 0, 2, 1, NULL },       /* duplicate of held */
		{ OP_IN, 0, 5, 1, NULL },       /* beyond window of 2 */
		{ OP_IN, 0, 0, 1, NULL },       /* delivers 0 */
		{ OP_IN, 0, 0, 1, NULL },       /* duplicate */
		{ OP_SEND, 0, 0, 1, NULL },
		{ OP_ACK, 10, 9, 0, NULL },     /* unknown */
		{ OP_ACK, 10, 0, 0, NULL },
		{ OP_END, 0, 0, 0, NULL },
	};
	struct dh_mgsrel_cfg c;
	struct dh_mgsrel_stats st;
	struct dh_mgsrel *r;
	struct dh_err err;
	char got[512];
	size_t j;

	dh_mgsrel_cfg_default(&c, DH_MGSREL_AGENT);
	c.reorder_cap = 2;
	r = mk(&c);
	for (j = 0; steps[j].op != OP_END; j++) {
		run_step(r, DH_MGSREL_AGENT, &steps[j]);
		drain(r, got, sizeof(got));
	}
	/* A corrupt frame is counted and changes nothing. */
	assert_int_equal(dh_mgsrel_feed(r, "garbage", 7, 20, &err),
	    DH_E_SHORT);
	dh_mgsrel_stats(r, &st);
	assert_int_equal(st.not_ready, 1);
	assert_int_equal(st.reordered, 1);
	assert_int_equal(st.duplicates, 2);
	assert_int_equal(st.reorder_dropped, 1);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.acks_sent, 4);
	assert_int_equal(st.acks_unknown, 1);
	assert_int_equal(st.acks_received, 1);
	assert_int_equal(st.bad_frames, 1);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.held, 1);
	assert_int_equal(st.inflight, 0);
	assert_true(st.expected_seq == 1);
	assert_true(st.next_seq == 1);
	assert_int_equal(dh_mgsrel_deadline(r), -1);
	dh_mgsrel_free(r);
}

/* RTT samples and the exact SRTT / RTTVAR / RTO after each (section 6.4). */
static const struct {
	int64_t rtt;
	double rttvar, srtt, rto;
} rto_table[] = {
	{ 100, 0.0, 100.0, 110.0 },
	{ 200, 25.0, 112.5, 212.5 },
	{ 50, 34.375, 104.6875, 242.1875 },
	{ 2000, 499.609375, 341.6015625, 1000.0 },
	{ 0, 460.107421875, 298.9013671875, 1000.0 },
};

static void
test_rto(void **state)
{
	struct dh_mgsrel_cfg c;
	struct dh_mgsrel_stats st;
	struct dh_mgsrel *r;
	struct dh_buf f;
	struct dh_err err;
	char got[256];
	int64_t t = 1000;
	size_t i;

	dh_mgsrel_cfg_default(&c, DH_MGSREL_AGENT);
	r = mk(&c);
	dh_mgsrel_stats(r, &st);
	assert_true(st.srtt_ms == 100.0);
	assert_true(st.rttvar_ms == 0.0);
	assert_true(st.rto_ms == 200.0);
	for (i = 0; i < sizeof(rto_table) / sizeof(rto_table[0]); i++) {
		assert_int_equal(dh_mgsrel_send(r, 1, "x", 1, t, &err), DH_OK);
		drain(r, got, sizeof(got));
		peer_ack(&f, DH_MGS_T_OUTPUT, (int64_t)i);
		t += rto_table[i].rtt;
		assert_int_equal(dh_mgsrel_feed(r, f.d, f.len, t, &err), DH_OK);
		dh_buf_free(&f);
		dh_mgsrel_stats(r, &st);
		if (st.rttvar_ms != rto_table[i].rttvar ||
		    st.srtt_ms != rto_table[i].srtt ||
		    st.rto_ms != rto_table[i].rto)
			fail_msg("sample %zu: rttvar %.10g srtt %.10g rto %.10g",
			    i, st.rttvar_ms, st.srtt_ms, st.rto_ms);
	}
	dh_mgsrel_free(r);
}

static void
test_send_policies(void **state)
{
	static const int policies[] = { DH_MGSREL_FULL_REFUSE,
		DH_MGSREL_FULL_UNBUFFERED, DH_MGSREL_FULL_DROP_OLDEST };
	struct dh_mgsrel_cfg c;
	struct dh_mgsrel_stats st;
	struct dh_mgsrel *r;
	struct dh_err err;
	char got[256];
	size_t i;
	int rc;

	for (i = 0; i < 3; i++) {
		dh_mgsrel_cfg_default(&c, DH_MGSREL_AGENT);
		c.send_cap = 2;
		c.full_policy = policies[i];
		r = mk(&c);
		assert_int_equal(dh_mgsrel_send(r, 1, "a", 1, 0, &err), DH_OK);
		assert_int_equal(dh_mgsrel_send(r, 1, "b", 1, 0, &err), DH_OK);
		assert_false(dh_mgsrel_can_send(r, 1));
		drain(r, got, sizeof(got));
		assert_string_equal(got, "F0 F1");
		rc = dh_mgsrel_send(r, 1, "c", 1, 0, &err);
		drain(r, got, sizeof(got));
		dh_mgsrel_stats(r, &st);
		switch (policies[i]) {
		case DH_MGSREL_FULL_REFUSE:
			assert_int_equal(rc, DH_E_TOOBIG);
			assert_string_equal(got, "");
			assert_true(st.next_seq == 2);
			assert_int_equal(st.inflight, 2);
			break;
		case DH_MGSREL_FULL_UNBUFFERED:
			assert_int_equal(rc, DH_OK);
			assert_string_equal(got, "F2");
			assert_true(st.next_seq == 3);
			assert_int_equal(st.inflight, 2);
			assert_int_equal(st.unbuffered, 1);
			break;
		default:
			assert_int_equal(rc, DH_OK);
			assert_string_equal(got, "F2");
			assert_int_equal(st.inflight, 2);
			assert_int_equal(st.send_dropped, 1);
			break;
		}
		dh_mgsrel_free(r);
	}
	/* Byte budget and argument checks. */
	dh_mgsrel_cfg_default(&c, DH_MGSREL_CLIENT);
	c.send_max_bytes = 2 * (DH_MGS_HDR_LEN + 10);
	c.queue_cap = 3;
	r = mk(&c);
	assert_int_equal(dh_mgsrel_send(r, 1, "0123456789", 10, 0, &err), DH_OK);
	assert_int_equal(dh_mgsrel_send(r, 1, "0123456789", 10, 0, &err), DH_OK);
	assert_int_equal(dh_mgsrel_send(r, 1, "x", 1, 0, &err), DH_E_TOOBIG);
	assert_int_equal(dh_mgsrel_send(r, 1, "", 0, 0, &err), DH_E_ARG);
	/* Three events pending: inputs are refused until drained. */
	assert_int_equal(dh_mgsrel_send_control(r, DH_MGS_T_SESSION_STATE,
	    DH_MGS_HF_ACK, 0, "{}", 2, 0, &err), DH_OK);
	assert_int_equal(dh_mgsrel_tick(r, 0), DH_OK);
	assert_int_equal(dh_mgsrel_feed(r, "x", 1, 0, &err), DH_E_STATE);
	drain(r, got, sizeof(got));
	assert_string_equal(got, "F0 F1 Cagent_session_state");
	assert_int_equal(dh_mgsrel_send_control(r, DH_MGS_T_SESSION_STATE,
	    DH_MGS_HF_ACK, 0, "", 0, 0, &err), DH_E_ARG);
	dh_mgsrel_free(r);
}

static void
test_flags_and_types(void **state)
{
	struct dh_mgsrel_cfg c;
	struct dh_mgsrel *r;
	struct dh_mgsrel_ev ev;
	struct dh_mgs_msg m;
	struct dh_err err;
	int role;

	for (role = DH_MGSREL_AGENT; role <= DH_MGSREL_CLIENT; role++) {
		dh_mgsrel_cfg_default(&c, role);
		c.wall_offset_ms = 1700000000000LL;
		r = mk(&c);
		assert_int_equal(dh_mgsrel_send(r, 1, "a", 1, 5, &err), DH_OK);
		assert_int_equal(dh_mgsrel_send(r, 1, "b", 1, 6, &err), DH_OK);
		assert_int_equal(dh_mgsrel_next(r, &ev), 1);
		assert_int_equal(dh_mgs_decode(ev.frame, ev.frame_len,
		    DH_MGS_DEC_DIGEST, &m, NULL), DH_OK);
		assert_string_equal(m.type, role == DH_MGSREL_AGENT ?
		    DH_MGS_T_OUTPUT : DH_MGS_T_INPUT);
		assert_true(m.flags == (role == DH_MGSREL_AGENT ? 1u : 0u));
		assert_true(m.created_ms == 1700000000005ULL);
		assert_int_equal(dh_mgsrel_next(r, &ev), 1);
		assert_int_equal(dh_mgs_decode(ev.frame, ev.frame_len, 0, &m,
		    NULL), DH_OK);
		assert_true(m.flags == 0);
		assert_true(m.seq == 1);
		assert_int_equal(dh_mgsrel_next(r, &ev), 0);
		assert_int_equal(dh_mgsrel_deadline(r), 105);
		dh_mgsrel_free(r);
	}
}

/* ---- Two machines back to back through a hostile link. ---- */

static uint64_t prng_state;

static uint32_t
prng(void)
{
	prng_state ^= prng_state << 13;
	prng_state ^= prng_state >> 7;
	prng_state ^= prng_state << 17;
	return (uint32_t)(prng_state >> 11);
}

struct pkt {
	int64_t at;
	size_t len;
	unsigned char *d;
};

struct link {
	struct pkt *v;
	size_t n, cap;
	uint64_t dropped, duped, corrupted;
};

static void
link_put(struct link *l, const unsigned char *d, size_t n, int64_t at)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n].at = at;
	l->v[l->n].len = n;
	l->v[l->n].d = malloc(n);
	assert_non_null(l->v[l->n].d);
	memcpy(l->v[l->n].d, d, n);
	l->n++;
}

/* Transmit one frame: 8% lost, 4% duplicated, 3% payload corrupted,
 * delay 5..84 ms (so frames overtake each other). */
static void
link_send(struct link *l, const unsigned char *d, size_t n, int64_t now)
{
	uint32_t x = prng() % 100;

	if (x < 8) {
		l->dropped++;
		return;
	}
	link_put(l, d, n, now + 5 + prng() % 80);
	if (x < 12) {
		l->duped++;
		link_put(l, d, n, now + 5 + prng() % 80);
	} else if (x < 15 && n > DH_MGS_HDR_LEN) {
		l->corrupted++;
		l->v[l->n - 1].d[DH_MGS_HDR_LEN + prng() % (n -
		    DH_MGS_HDR_LEN)] ^= 0x5a;
	}
}

struct side {
	struct dh_mgsrel *r;
	const unsigned char *src; /* bytes to send */
	size_t src_len, src_off;
	unsigned char *dst;       /* bytes received */
	size_t dst_len;
	int64_t last_seq;
};

static void
pump(struct side *s, struct link *out, int64_t now)
{
	struct dh_mgsrel_ev ev;

	while (dh_mgsrel_next(s->r, &ev)) {
		if (ev.kind == DH_MGSREL_EV_FRAME) {
			link_send(out, ev.frame, ev.frame_len, now);
		} else if (ev.kind == DH_MGSREL_EV_DATA) {
			assert_true(ev.msg.seq == s->last_seq + 1);
			s->last_seq = ev.msg.seq;
			assert_true(ev.msg.payload_len != 0);
			memcpy(s->dst + s->dst_len, ev.msg.payload,
			    ev.msg.payload_len);
			s->dst_len += ev.msg.payload_len;
		} else {
			fail_msg("unexpected message %s", ev.msg.type);
		}
	}
}

static void
deliver(struct link *l, struct side *to, int64_t now)
{
	struct dh_err err;
	size_t i = 0;

	while (i < l->n) {
		if (l->v[i].at > now) {
			i++;
			continue;
		}
		(void)dh_mgsrel_feed(to->r, l->v[i].d, l->v[i].len, now, &err);
		free(l->v[i].d);
		l->v[i] = l->v[--l->n];
	}
}

static void
feed_source(struct side *s, int64_t now)
{
	size_t n;
	struct dh_err err;

	while (s->src_off < s->src_len) {
		n = 1 + prng() % 1500;
		if (n > s->src_len - s->src_off)
			n = s->src_len - s->src_off;
		if (!dh_mgsrel_can_send(s->r, n))
			return;
		assert_int_equal(dh_mgsrel_send(s->r, DH_MGS_PT_OUTPUT,
		    s->src + s->src_off, n, now, &err), DH_OK);
		s->src_off += n;
		/* Trickle: at most a few messages per millisecond step. */
		if (prng() % 4 == 0)
			return;
	}
}

static void
test_back_to_back_lossy(void **state)
{
	enum { LEN_A = 300000, LEN_C = 40000 };
	struct dh_mgsrel_cfg ca, cc;
	struct dh_mgsrel_stats sa, sc;
	struct side a, c;
	struct link a2c, c2a;
	unsigned char *srca, *srcc;
	int64_t now;
	size_t i;

	prng_state = 0x9e3779b97f4a7c15ULL;
	srca = malloc(LEN_A);
	srcc = malloc(LEN_C);
	assert_non_null(srca);
	assert_non_null(srcc);
	for (i = 0; i < LEN_A; i++)
		srca[i] = (unsigned char)prng();
	for (i = 0; i < LEN_C; i++)
		srcc[i] = (unsigned char)prng();
	dh_mgsrel_cfg_default(&ca, DH_MGSREL_AGENT);
	dh_mgsrel_cfg_default(&cc, DH_MGSREL_CLIENT);
	ca.check_digest = 1;
	ca.send_cap = 64;
	cc.send_cap = 64;
	ca.reorder_cap = 32;
	cc.reorder_cap = 32;
	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	memset(&a2c, 0, sizeof(a2c));
	memset(&c2a, 0, sizeof(c2a));
	a.r = mk(&ca);
	c.r = mk(&cc);
	a.src = srca;
	a.src_len = LEN_A;
	c.src = srcc;
	c.src_len = LEN_C;
	a.dst = malloc(LEN_C);
	c.dst = malloc(LEN_A);
	assert_non_null(a.dst);
	assert_non_null(c.dst);
	a.last_seq = c.last_seq = -1;
	for (now = 0; now < 600000; now++) {
		feed_source(&a, now);
		feed_source(&c, now);
		deliver(&a2c, &c, now);
		deliver(&c2a, &a, now);
		assert_int_equal(dh_mgsrel_tick(a.r, now), DH_OK);
		assert_int_equal(dh_mgsrel_tick(c.r, now), DH_OK);
		pump(&a, &a2c, now);
		pump(&c, &c2a, now);
		dh_mgsrel_stats(a.r, &sa);
		dh_mgsrel_stats(c.r, &sc);
		if (a.src_off == LEN_A && c.src_off == LEN_C &&
		    sa.inflight == 0 && sc.inflight == 0 &&
		    c.dst_len == LEN_A && a.dst_len == LEN_C)
			break;
	}
	if (now >= 600000)
		fail_msg("transfer stalled: a->c %zu/%d, c->a %zu/%d",
		    c.dst_len, LEN_A, a.dst_len, LEN_C);
	assert_memory_equal(c.dst, srca, LEN_A);
	assert_memory_equal(a.dst, srcc, LEN_C);
	/* The link really was hostile and the machines recovered. */
	assert_true(a2c.dropped > 10 && c2a.dropped > 10);
	assert_true(a2c.duped > 5 && a2c.corrupted > 5);
	assert_true(sa.retransmits > 0 && sc.duplicates > 0);
	assert_true(sc.bad_frames > 0);
	assert_true(sc.reordered > 0);
	for (i = 0; i < a2c.n; i++)
		free(a2c.v[i].d);
	for (i = 0; i < c2a.n; i++)
		free(c2a.v[i].d);
	free(a2c.v);
	free(c2a.v);
	dh_mgsrel_free(a.r);
	dh_mgsrel_free(c.r);
	free(a.dst);
	free(c.dst);
	free(srca);
	free(srcc);
}

static void
test_default_ids(void **state)
{
	struct dh_mgsrel_cfg c;
	struct dh_mgsrel *r;
	struct dh_mgsrel_ev ev;
	struct dh_mgs_msg m;
	struct dh_uuid ids[3];
	struct dh_err err;
	int i;

	dh_mgsrel_cfg_default(&c, DH_MGSREL_AGENT);
	assert_int_equal(dh_mgsrel_new(&c, 0, &r, &err), DH_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(dh_mgsrel_send(r, 1, "z", 1, 0, &err), DH_OK);
		assert_int_equal(dh_mgsrel_next(r, &ev), 1);
		assert_int_equal(dh_mgs_decode(ev.frame, ev.frame_len, 0, &m,
		    NULL), DH_OK);
		ids[i] = m.id;
		assert_int_equal(ids[i].b[6] >> 4, 4);
		assert_int_equal(ids[i].b[8] >> 6, 2);
	}
	assert_memory_not_equal(ids[0].b, ids[1].b, 16);
	assert_memory_not_equal(ids[1].b, ids[2].b, 16);
	assert_memory_not_equal(ids[0].b, ids[2].b, 16);
	dh_mgsrel_free(r);
}

static void
test_bad_config(void **state)
{
	struct dh_mgsrel_cfg c;
	struct dh_mgsrel *r;
	struct dh_err err;

	dh_mgsrel_cfg_default(&c, DH_MGSREL_AGENT);
	c.role = 7;
	assert_int_equal(dh_mgsrel_new(&c, 0, &r, &err), DH_E_ARG);
	assert_null(r);
	dh_mgsrel_cfg_default(&c, DH_MGSREL_AGENT);
	c.reorder_cap = 0;
	assert_int_equal(dh_mgsrel_new(&c, 0, &r, &err), DH_E_ARG);
	dh_mgsrel_cfg_default(&c, DH_MGSREL_AGENT);
	c.max_frame = 100;
	assert_int_equal(dh_mgsrel_new(&c, 0, &r, &err), DH_E_ARG);
	dh_mgsrel_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_rto),
		cmocka_unit_test(test_send_policies),
		cmocka_unit_test(test_flags_and_types),
		cmocka_unit_test(test_back_to_back_lossy),
		cmocka_unit_test(test_default_ids),
		cmocka_unit_test(test_bad_config),
	};

	return cmocka_run_group_tests_name("mgsrel", tests, NULL, NULL);
}
