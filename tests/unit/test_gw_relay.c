/*
 * Unit tests for gw_relay: the pairing / publication / timeout state
 * machine as tables of (event, clock) -> (actions, status), and the hub
 * end to end against a real gw_ctrl (temporary store) with a recording
 * transport: token checks on both legs, byte-exact relay both ways,
 * malformed and foreign frames dropped, pause/start, back-pressure through
 * rx flow control, idle timeout with channel_closed on both legs and the
 * control channel, agent_task_complete acknowledged and recorded,
 * oversized messages refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dh_json.h"
#include "dh_mgs.h"
#include "gw_ctrl.h"
#include "gw_relay.h"
#include "gw_store.h"

#define T0 1790000000000LL
#define MIN 60000LL
#define INST "mi-0123456789abcdef0"
#define SID "alice-0123456789abcdef0"

/* ------------------------------------------------------ state machine */

struct step {
	enum gw_relay_ev ev;
	int64_t at;                 /* ms after T0 */
	int failed;
	unsigned want;              /* exact actions */
	enum gw_relay_status status;
};

struct sm_case {
	const char *name;
	int64_t idle, max;
	struct step steps[10];
	size_t n;
};

#define A(x) GW_RELAY_A_##x
#define E(x) GW_RELAY_EV_##x
#define S(x) GW_RELAY_##x
#define CLOSE3 (A(CLOSE_CLIENT) | A(CLOSE_AGENT) | A(CTRL_CLOSED))

static const struct sm_case sm_cases[] = {
	{ "agent first, then client: pause then start", 20 * MIN, 0, {
	    { E(AGENT_OPEN), 100, 0, A(PAUSE), S(CONNECTING) },
	    { E(CLIENT_OPEN), 200, 0, A(START) | A(STATUS), S(CONNECTED) },
	    { E(INPUT), 300, 0, 0, S(CONNECTED) },
	}, 3 },
	{ "client first: agent joins unpaused", 20 * MIN, 0, {
	    { E(CLIENT_OPEN), 100, 0, 0, S(CONNECTING) },
	    { E(AGENT_OPEN), 200, 0, A(START) | A(STATUS), S(CONNECTED) },
	}, 2 },
	{ "client drops and returns: pause, start, session kept", 0, 0, {
	    { E(CLIENT_OPEN), 0, 0, 0, S(CONNECTING) },
	    { E(AGENT_OPEN), 10, 0, A(START) | A(STATUS), S(CONNECTED) },
	    { E(CLIENT_GONE), 20, 0, A(PAUSE) | A(STATUS), S(DISCONNECTED) },
	    { E(TICK), 20 + 4 * MIN, 0, 0, S(DISCONNECTED) },
	    { E(CLIENT_OPEN), 30 + 4 * MIN, 0, A(START) | A(STATUS),
	      S(CONNECTED) },
	}, 5 },
	{ "client never returns: ended after the away limit", 0, 0, {
	    { E(CLIENT_OPEN), 0, 0, 0, S(CONNECTING) },
	    { E(AGENT_OPEN), 10, 0, A(START) | A(STATUS), S(CONNECTED) },
	    { E(CLIENT_GONE), 20, 0, A(PAUSE) | A(STATUS), S(DISCONNECTED) },
	    { E(TICK), 20 + GW_RELAY_AWAY_MS, 0, CLOSE3 | A(STATUS),
	      S(TERMINATED) },
	    { E(AGENT_GONE), 30 + GW_RELAY_AWAY_MS, 0, A(FREE), S(TERMINATED) },
	}, 5 },
	{ "idle timeout counts only input", 5 * MIN, 0, {
	    { E(CLIENT_OPEN), 0, 0, 0, S(CONNECTING) },
	    { E(AGENT_OPEN), 0, 0, A(START) | A(STATUS), S(CONNECTED) },
	    { E(INPUT), 4 * MIN, 0, 0, S(CONNECTED) },
	    { E(TICK), 8 * MIN, 0, 0, S(CONNECTED) },
	    { E(TICK), 9 * MIN, 0, CLOSE3 | A(STATUS), S(TERMINATED) },
	    { E(TICK), 10 * MIN, 0, 0, S(TERMINATED) },
	}, 6 },
	{ "max duration wins over activity", 0, 3 * MIN, {
	    { E(CLIENT_OPEN), 0, 0, 0, S(CONNECTING) },
	    { E(AGENT_OPEN), 0, 0, A(START) | A(STATUS), S(CONNECTED) },
	    { E(INPUT), 2 * MIN, 0, 0, S(CONNECTED) },
	    { E(TICK), 3 * MIN - 1, 0, 0, S(CONNECTED) },
	    { E(TICK), 3 * MIN, 0, CLOSE3 | A(STATUS), S(TERMINATED) },
	}, 5 },
	{ "terminate with both legs up", 0, 0, {
	    { E(CLIENT_OPEN), 0, 0, 0, S(CONNECTING) },
	    { E(AGENT_OPEN), 0, 0, A(START) | A(STATUS), S(CONNECTED) },
	    { E(TERMINATE), 5, 0, CLOSE3 | A(STATUS), S(TERMINATED) },
	    { E(TERMINATE), 6, 0, 0, S(TERMINATED) },
	    { E(CLIENT_GONE), 7, 0, 0, S(TERMINATED) },
	    { E(AGENT_GONE), 8, 0, A(FREE), S(TERMINATED) },
	}, 6 },
	{ "terminate with no legs frees at once", 0, 0, {
	    { E(TERMINATE), 5, 0, CLOSE3 | A(STATUS) | A(FREE), S(TERMINATED) },
	}, 1 },
	{ "agent ends the shell", 0, 0, {
	    { E(CLIENT_OPEN), 0, 0, 0, S(CONNECTING) },
	    { E(AGENT_OPEN), 0, 0, A(START) | A(STATUS), S(CONNECTED) },
	    { E(AGENT_ENDING), 5, 0, A(CLOSE_CLIENT) | A(STATUS),
	      S(TERMINATED) },
	    { E(AGENT_GONE), 6, 0, 0, S(TERMINATED) },
	    { E(CLIENT_GONE), 7, 0, A(FREE), S(TERMINATED) },
	}, 5 },
	{ "task failed before the agent joined the data channel", 0, 0, {
	    { E(CLIENT_OPEN), 0, 0, 0, S(CONNECTING) },
	    { E(TASK_DONE), 5, 1, A(CLOSE_CLIENT) | A(CLOSE_AGENT) | A(STATUS),
	      S(FAILED) },
	}, 2 },
	{ "agent never joins", 0, 0, {
	    { E(CLIENT_OPEN), 0, 0, 0, S(CONNECTING) },
	    { E(TICK), GW_RELAY_AGENT_WAIT_MS - 1, 0, 0, S(CONNECTING) },
	    { E(TICK), GW_RELAY_AGENT_WAIT_MS, 0, CLOSE3 | A(STATUS), S(FAILED) },
	}, 3 },
	{ "agent reconnects: told to start again", 0, 0, {
	    { E(CLIENT_OPEN), 0, 0, 0, S(CONNECTING) },
	    { E(AGENT_OPEN), 0, 0, A(START) | A(STATUS), S(CONNECTED) },
	    { E(AGENT_GONE), 5, 0, A(STATUS), S(DISCONNECTED) },
	    { E(AGENT_OPEN), 6, 0, A(START) | A(STATUS), S(CONNECTED) },
	}, 4 },
};

static void
test_sm_table(void **state)
{
	struct gw_relay_sm sm;
	struct gw_relay_out o;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(sm_cases) / sizeof(sm_cases[0]); i++) {
		const struct sm_case *c = &sm_cases[i];

		gw_relay_sm_init(&sm, T0, T0, c->idle, c->max);
		for (j = 0; j < c->n; j++) {
			const struct step *s = &c->steps[j];

			gw_relay_sm_event(&sm, s->ev, T0 + s->at, s->failed,
			    "boom", &o);
			if (o.actions != s->want || sm.status != s->status)
				fail_msg("%s, step %zu: actions 0x%x (want 0x%x)"
				    " status %s (want %s)", c->name, j,
				    o.actions, s->want,
				    gw_relay_status_name(sm.status),
				    gw_relay_status_name(s->status));
		}
	}
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(gw_relay_status_name(GW_RELAY_CONNECTED),
	    "Connected");
	assert_string_equal(gw_relay_status_name(GW_RELAY_FAILED), "Failed");
	assert_true(gw_relay_status_final(GW_RELAY_TERMINATED));
	assert_false(gw_relay_status_final(GW_RELAY_DISCONNECTED));
}

static void
test_parse_path(void **state)
{
	char sid[GW_RELAY_SID_MAX + 1];

	(void)state;
	assert_int_equal(gw_relay_parse_path("/v1/data-channel/" SID, sid,
	    sizeof(sid), NULL), DH_OK);
	assert_string_equal(sid, SID);
	assert_int_equal(gw_relay_parse_path("/v1/data-channel/", sid,
	    sizeof(sid), NULL), DH_E_FORMAT);
	assert_int_equal(gw_relay_parse_path("/v1/data-channel/a/../b", sid,
	    sizeof(sid), NULL), DH_E_FORMAT);
	assert_int_equal(gw_relay_parse_path("/v1/control-channel/x", sid,
	    sizeof(sid), NULL), DH_E_FORMAT);
}

/* ---------------------------------------------------------------- hub */

struct fx {
	char dir[64], db[96];
	struct gw_store *st;
	struct gw_ctrl *ctrl;
	struct gw_ctrl_conn *cconn;
	struct gw_relay *r;
	struct gw_relay_info info;
	int have_info;
	char last_status[16];
	int tasks;
	int wakes;
	int flow_calls, flow_last;
	int hc, ha, hctrl;          /* handles */
};

static int
look(void *arg, const char *sid, struct gw_relay_info *out)
{
	struct fx *f = arg;

	if (!f->have_info || strcmp(sid, f->info.id) != 0)
		return DH_E_NOTFOUND;
	*out = f->info;
	return DH_OK;
}

static void
stat_hook(void *arg, const char *sid, enum gw_relay_status st, int64_t now)
{
	struct fx *f = arg;

	(void)sid;
	(void)now;
	snprintf(f->last_status, sizeof(f->last_status), "%s",
	    gw_relay_status_name(st));
	f->info.status = st;
}

static void
task_hook(void *arg, const char *sid, const cJSON *p, int64_t now)
{
	struct fx *f = arg;

	(void)sid;
	(void)p;
	(void)now;
	f->tasks++;
}

static void
io_wake(void *arg, void *handle)
{
	struct fx *f = arg;

	(void)handle;
	f->wakes++;
}

static void
io_flow(void *arg, void *handle, int on)
{
	struct fx *f = arg;

	(void)handle;
	f->flow_calls++;
	f->flow_last = on;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct gw_relay_hooks h = { look, stat_hook, task_hook, NULL };
	struct gw_relay_io io;
	const char *tv, *end;
	struct dh_buf xml;
	char msg[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/gwrelayXXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/gw.db", f->dir);
	if (gw_store_open(f->db, &f->st, NULL) != DH_OK ||
	    gw_ctrl_new(f->st, &f->ctrl, NULL) != DH_OK)
		return -1;
	/* An opened control channel for INST. */
	dh_buf_init(&xml, 4096);
	if (gw_ctrl_create_channel(f->ctrl, INST, NULL, T0, &xml, NULL) !=
	    DH_OK)
		return -1;
	tv = strstr(dh_buf_cstr(&xml), "<TokenValue>") + 12;
	end = strstr(tv, "</TokenValue>");
	snprintf(msg, sizeof(msg), "{\"TokenValue\":\"%.*s\"}", (int)(end - tv),
	    tv);
	dh_buf_free(&xml);
	if (gw_ctrl_ws_attach(f->ctrl, INST, &f->hctrl, T0, &f->cconn, NULL) !=
	    DH_OK || gw_ctrl_ws_text(f->ctrl, f->cconn, msg, strlen(msg), T0,
	    NULL) != DH_OK)
		return -1;
	h.arg = f;
	if (gw_relay_new(f->ctrl, &h, &f->r, NULL) != DH_OK)
		return -1;
	memset(&io, 0, sizeof(io));
	io.wake = io_wake;
	io.rx_flow = io_flow;
	io.headroom = 16;
	io.arg = f;
	gw_relay_set_io(f->r, &io);
	snprintf(f->info.id, sizeof(f->info.id), SID);
	snprintf(f->info.target, sizeof(f->info.target), INST);
	f->info.start_ms = T0;
	f->info.idle_ms = 20 * MIN;
	f->have_info = 1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	gw_relay_free(f->r);
	gw_ctrl_free(f->ctrl);
	gw_store_close(f->st);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Next control-channel frame's MessageType into type (empty if none). */
static void
ctrl_next(struct fx *f, char *type, size_t n, struct dh_buf *payload)
{
	struct dh_mgs_msg m;
	struct dh_buf b;

	type[0] = '\0';
	dh_buf_init(&b, 1 << 20);
	if (gw_ctrl_next_out(f->cconn, &b) == 1) {
		assert_int_equal(dh_mgs_decode(b.d, b.len, DH_MGS_DEC_DIGEST, &m,
		    NULL), DH_OK);
		snprintf(type, n, "%s", m.type);
		if (payload != NULL) {
			dh_buf_reset(payload);
			dh_buf_put(payload, m.payload, m.payload_len);
		}
	}
	dh_buf_free(&b);
}

static void
frame(const char *type, int64_t seq, uint32_t ptype, const char *payload,
    struct dh_buf *out)
{
	struct dh_mgs_msg m;
	struct dh_uuid id;

	assert_int_equal(dh_uuid_v4(&id), DH_OK);
	assert_int_equal(dh_mgs_init(&m, type, (uint64_t)T0, seq, 0, &id, ptype,
	    payload, strlen(payload), NULL), DH_OK);
	dh_buf_reset(out);
	assert_int_equal(dh_mgs_encode(&m, out, NULL), DH_OK);
}

/* Pop the next frame for leg; returns its type ("" none, "CLOSE" = -1). */
static void
leg_next(struct fx *f, struct gw_relay_leg *l, char *type, size_t n,
    struct dh_buf *copy)
{
	struct dh_mgs_msg m;
	unsigned char *p;
	size_t len;
	int r = gw_relay_ws_peek(f->r, l, &p, &len);

	type[0] = '\0';
	if (r < 0) {
		snprintf(type, n, "CLOSE");
		return;
	}
	if (r == 0)
		return;
	if (copy != NULL) {
		dh_buf_reset(copy);
		dh_buf_put(copy, p, len);
	}
	assert_int_equal(dh_mgs_decode(p, len, 0, &m, NULL), DH_OK);
	snprintf(type, n, "%s", m.type);
	gw_relay_ws_sent(f->r, l);
}

static void
open_legs(struct fx *f, struct gw_relay_leg **cl, struct gw_relay_leg **ag)
{
	char tok[65], type[40], msg[512];
	const char *tv, *end;
	struct dh_buf xml;

	assert_int_equal(gw_relay_start(f->r, &f->info, "{\"Content\":\"{}\"}",
	    T0, tok, NULL), DH_OK);
	ctrl_next(f, type, sizeof(type), NULL);
	assert_string_equal(type, DH_MGS_T_INTERACTIVE_SHELL);
	/* CreateDataChannel: only the target may. */
	dh_buf_init(&xml, 4096);
	assert_int_equal(gw_relay_create_channel(f->r, SID,
	    "mi-00000000000000000", NULL, T0, &xml, NULL), DH_E_AUTH);
	assert_int_equal(gw_relay_create_channel(f->r, SID, INST, NULL, T0,
	    &xml, NULL), DH_OK);
	tv = strstr(dh_buf_cstr(&xml), "<TokenValue>") + 12;
	end = strstr(tv, "</TokenValue>");
	assert_non_null(strstr(dh_buf_cstr(&xml), "<CreateDataChannelOutput>"));
	/* Agent leg: the client token does not open it. */
	assert_int_equal(gw_relay_ws_attach(f->r, SID, INST, &f->ha, T0, ag,
	    NULL), DH_OK);
	snprintf(msg, sizeof(msg), "{\"MessageSchemaVersion\":\"1.0\","
	    "\"RequestId\":\"r\",\"TokenValue\":\"%s\",\"ClientInstanceId\":\""
	    INST "\",\"ClientId\":\"\"}", tok);
	assert_int_equal(gw_relay_ws_message(f->r, *ag, 1, msg, strlen(msg), T0,
	    NULL), DH_E_AUTH);
	snprintf(msg, sizeof(msg), "{\"MessageSchemaVersion\":\"1.0\","
	    "\"RequestId\":\"r\",\"TokenValue\":\"%.*s\",\"ClientInstanceId\":"
	    "\"" INST "\",\"ClientId\":\"\"}", (int)(end - tv), tv);
	dh_buf_free(&xml);
	assert_int_equal(gw_relay_ws_message(f->r, *ag, 1, msg, strlen(msg), T0,
	    NULL), DH_OK);
	/* Client absent: the agent is paused. */
	leg_next(f, *ag, type, sizeof(type), NULL);
	assert_string_equal(type, DH_MGS_T_PAUSE);
	/* Client leg: binary first is refused; bad token refused; good ok. */
	assert_int_equal(gw_relay_ws_attach(f->r, SID, NULL, &f->hc, T0, cl,
	    NULL), DH_OK);
	assert_int_equal(gw_relay_ws_message(f->r, *cl, 1,
	    "{\"TokenValue\":\"nope\"}", 21, T0, NULL), DH_E_AUTH);
	snprintf(msg, sizeof(msg), "{\"MessageSchemaVersion\":\"1.0\","
	    "\"RequestId\":\"q\",\"TokenValue\":\"%s\",\"ClientId\":\"c\","
	    "\"ClientVersion\":\"1.2.677.0\"}", tok);
	assert_int_equal(gw_relay_ws_message(f->r, *cl, 1, msg, strlen(msg),
	    T0 + 1, NULL), DH_OK);
	leg_next(f, *ag, type, sizeof(type), NULL);
	assert_string_equal(type, DH_MGS_T_START);
	assert_string_equal(f->last_status, "Connected");
}

static void
test_relay_both_ways(void **state)
{
	struct fx *f = *state;
	struct gw_relay_leg *cl, *ag;
	struct gw_relay_stats st;
	struct dh_buf in, out;
	char type[40];

	open_legs(f, &cl, &ag);
	dh_buf_init(&in, 1 << 21);
	dh_buf_init(&out, 1 << 21);
	/* Agent output reaches the client byte for byte. */
	frame(DH_MGS_T_OUTPUT, 0, DH_MGS_PT_OUTPUT, "hello\r\n$ ", &in);
	assert_int_equal(gw_relay_ws_message(f->r, ag, 0, in.d, in.len, T0 + 2,
	    NULL), DH_OK);
	leg_next(f, cl, type, sizeof(type), &out);
	assert_string_equal(type, DH_MGS_T_OUTPUT);
	assert_int_equal(out.len, in.len);
	assert_memory_equal(out.d, in.d, in.len);
	/* Client input and acks reach the agent unchanged. */
	frame(DH_MGS_T_INPUT, 0, DH_MGS_PT_OUTPUT, "ls\r", &in);
	assert_int_equal(gw_relay_ws_message(f->r, cl, 0, in.d, in.len, T0 + 3,
	    NULL), DH_OK);
	leg_next(f, ag, type, sizeof(type), &out);
	assert_memory_equal(out.d, in.d, in.len);
	frame(DH_MGS_T_ACK, 0, 0, "{\"AcknowledgedMessageSequenceNumber\":0}",
	    &in);
	assert_int_equal(gw_relay_ws_message(f->r, cl, 1, in.d, in.len, T0 + 3,
	    NULL), DH_OK);
	leg_next(f, ag, type, sizeof(type), &out);
	assert_string_equal(type, DH_MGS_T_ACK);
	/* A wrong digest is relayed as it came (the endpoints judge it);
	 * malformed frames are dropped: truncated, bad HL, CreatedDate 0. */
	frame(DH_MGS_T_OUTPUT, 1, DH_MGS_PT_OUTPUT, "xyz", &in);
	in.d[in.len - 1] ^= 1;
	assert_int_equal(gw_relay_ws_message(f->r, ag, 0, in.d, in.len, T0 + 4,
	    NULL), DH_OK);
	leg_next(f, cl, type, sizeof(type), &out);
	assert_string_equal(type, DH_MGS_T_OUTPUT);
	assert_memory_equal(out.d, in.d, in.len);
	assert_int_equal(gw_relay_ws_message(f->r, ag, 0, in.d, 100, T0 + 4,
	    NULL), DH_OK);
	in.d[in.len - 1] ^= 1;
	in.d[3] = 200;
	assert_int_equal(gw_relay_ws_message(f->r, ag, 0, in.d, in.len, T0 + 4,
	    NULL), DH_OK);
	in.d[3] = 116;
	memset(in.d + 40, 0, 8);
	assert_int_equal(gw_relay_ws_message(f->r, ag, 0, in.d, in.len, T0 + 4,
	    NULL), DH_OK);
	leg_next(f, cl, type, sizeof(type), NULL);
	assert_string_equal(type, "");
	/* Consumed or foreign types are not forwarded. */
	frame(DH_MGS_T_SESSION_STATE, 0, 0, "{\"SchemaVersion\":1,"
	    "\"SessionState\":\"Connected\",\"SessionId\":\"" SID "\"}", &in);
	assert_int_equal(gw_relay_ws_message(f->r, ag, 0, in.d, in.len, T0 + 5,
	    NULL), DH_OK);
	frame(DH_MGS_T_CHANNEL_CLOSED, 0, 0, "{}", &in);
	assert_int_equal(gw_relay_ws_message(f->r, cl, 0, in.d, in.len, T0 + 5,
	    NULL), DH_OK);
	leg_next(f, cl, type, sizeof(type), NULL);
	assert_string_equal(type, "");
	leg_next(f, ag, type, sizeof(type), NULL);
	assert_string_equal(type, "");
	gw_relay_stats(f->r, &st);
	assert_int_equal(st.forwarded, 4);
	assert_int_equal(st.dropped_malformed, 3);
	assert_int_equal(st.dropped_type, 1);
	/* Oversized: the leg is closed by the caller. */
	assert_int_equal(gw_relay_ws_message(f->r, ag, 0, in.d,
	    GW_RELAY_MAX_FRAME + 1, T0 + 5, NULL), DH_E_TOOBIG);
	/* The client leaves: pause; it comes back after ResumeSession. */
	gw_relay_ws_detach(f->r, cl, T0 + 6);
	leg_next(f, ag, type, sizeof(type), NULL);
	assert_string_equal(type, DH_MGS_T_PAUSE);
	assert_string_equal(f->last_status, "Disconnected");
	dh_buf_free(&in);
	dh_buf_free(&out);
	gw_relay_ws_detach(f->r, ag, T0 + 7);
}

static void
test_backpressure(void **state)
{
	struct fx *f = *state;
	struct gw_relay_leg *cl, *ag;
	struct dh_buf in;
	char pl[64 * 1024 + 1], type[40];
	size_t i, sent = 0;

	open_legs(f, &cl, &ag);
	memset(pl, 'x', sizeof(pl) - 1);
	pl[sizeof(pl) - 1] = '\0';
	dh_buf_init(&in, 1 << 20);
	f->flow_calls = 0;
	/* The client does not drain: past the high mark the agent leg is no
	 * longer read; past the hard bound frames are dropped. */
	for (i = 0; i < 200; i++) {
		frame(DH_MGS_T_OUTPUT, (int64_t)i, DH_MGS_PT_OUTPUT, pl, &in);
		assert_int_equal(gw_relay_ws_message(f->r, ag, 0, in.d, in.len,
		    T0 + 10, NULL), DH_OK);
	}
	assert_int_equal(f->flow_calls, 1);
	assert_int_equal(f->flow_last, 0);
	/* Draining below the low mark reads the agent again. */
	for (;;) {
		leg_next(f, cl, type, sizeof(type), NULL);
		if (type[0] == '\0')
			break;
		sent++;
	}
	assert_true(sent * in.len <= GW_RELAY_QUEUE_MAX);
	assert_true(sent * in.len > GW_RELAY_QUEUE_HIGH);
	assert_int_equal(f->flow_calls, 2);
	assert_int_equal(f->flow_last, 1);
	dh_buf_free(&in);
	gw_relay_ws_detach(f->r, cl, T0 + 11);
	gw_relay_ws_detach(f->r, ag, T0 + 11);
}

static void
test_idle_timeout_and_task(void **state)
{
	struct fx *f = *state;
	struct gw_relay_leg *cl, *ag;
	struct gw_relay_stats st;
	struct dh_buf in, pl;
	struct dh_mgs_msg m;
	char type[40];
	cJSON *j = NULL;

	f->info.idle_ms = 2 * MIN;
	open_legs(f, &cl, &ag);
	dh_buf_init(&in, 1 << 20);
	dh_buf_init(&pl, 1 << 20);
	gw_relay_tick(f->r, T0 + MIN);
	leg_next(f, cl, type, sizeof(type), NULL);
	assert_string_equal(type, "");
	gw_relay_tick(f->r, T0 + 2 * MIN + 1);
	leg_next(f, cl, type, sizeof(type), &in);
	assert_string_equal(type, DH_MGS_T_CHANNEL_CLOSED);
	assert_int_equal(dh_mgs_decode(in.d, in.len, DH_MGS_DEC_DIGEST, &m,
	    NULL), DH_OK);
	assert_int_equal(dh_json_parse(m.payload, m.payload_len, 1 << 16, &j,
	    NULL), DH_OK);
	assert_string_equal(cJSON_GetObjectItem(j, "Output")->valuestring,
	    GW_RELAY_MSG_IDLE);
	assert_string_equal(cJSON_GetObjectItem(j, "SessionId")->valuestring,
	    SID);
	cJSON_Delete(j);
	leg_next(f, cl, type, sizeof(type), NULL);
	assert_string_equal(type, "CLOSE");
	leg_next(f, ag, type, sizeof(type), NULL);
	assert_string_equal(type, DH_MGS_T_CHANNEL_CLOSED);
	leg_next(f, ag, type, sizeof(type), NULL);
	assert_string_equal(type, "CLOSE");
	ctrl_next(f, type, sizeof(type), NULL);
	assert_string_equal(type, DH_MGS_T_CHANNEL_CLOSED);
	assert_string_equal(f->last_status, "Terminated");
	/* The ended session refuses new tokens and channels. */
	assert_int_equal(gw_relay_create_channel(f->r, SID, INST, NULL,
	    T0 + 3 * MIN, &pl, NULL), DH_E_STATE);
	gw_relay_ws_detach(f->r, cl, T0 + 3 * MIN);
	gw_relay_ws_detach(f->r, ag, T0 + 3 * MIN);
	gw_relay_stats(f->r, &st);
	assert_int_equal(st.sessions, 0);
	assert_int_equal(st.legs, 0);
	/* agent_task_complete is acknowledged with its MessageId and
	 * recorded. */
	frame(DH_MGS_T_TASK_COMPLETE, 0, 0, "{\"SchemaVersion\":1,\"TaskId\":\""
	    SID "\",\"Topic\":\"agent_task_complete\",\"FinalTaskStatus\":"
	    "\"Success\",\"InstanceId\":\"" INST "\",\"S3Bucket\":\"b\","
	    "\"S3UrlSuffix\":\"k\"}", &in);
	assert_int_equal(gw_ctrl_ws_binary(f->ctrl, f->cconn, in.d, in.len,
	    T0 + 4 * MIN, NULL), DH_OK);
	assert_int_equal(f->tasks, 1);
	ctrl_next(f, type, sizeof(type), &pl);
	assert_string_equal(type, DH_MGS_T_TASK_ACK);
	assert_int_equal(dh_mgs_decode(in.d, in.len, 0, &m, NULL), DH_OK);
	{
		char idbuf[DH_UUID_STRLEN + 1];

		dh_uuid_fmt(&m.id, idbuf);
		assert_non_null(strstr(dh_buf_cstr(&pl), idbuf));
		assert_non_null(strstr(dh_buf_cstr(&pl), "\"TaskId\":\"" SID));
	}
	dh_buf_free(&in);
	dh_buf_free(&pl);
}

static void
test_terminate_and_resume(void **state)
{
	struct fx *f = *state;
	struct gw_relay_leg *cl, *ag;
	char type[40], tok[65];

	open_legs(f, &cl, &ag);
	/* A client reconnect after ResumeSession replaces the old leg. */
	assert_int_equal(gw_relay_resume(f->r, SID, T0 + 10, tok, NULL), DH_OK);
	{
		struct gw_relay_leg *cl2;
		char msg[256];

		assert_int_equal(gw_relay_ws_attach(f->r, SID, NULL, &f->hc,
		    T0 + 11, &cl2, NULL), DH_OK);
		snprintf(msg, sizeof(msg), "{\"TokenValue\":\"%s\"}", tok);
		assert_int_equal(gw_relay_ws_message(f->r, cl2, 1, msg,
		    strlen(msg), T0 + 11, NULL), DH_OK);
		leg_next(f, cl, type, sizeof(type), NULL);
		assert_string_equal(type, "CLOSE");
		gw_relay_ws_detach(f->r, cl, T0 + 12);
		cl = cl2;
	}
	assert_string_equal(f->last_status, "Connected");
	assert_int_equal(gw_relay_terminate(f->r, SID, T0 + 20, NULL), DH_OK);
	leg_next(f, cl, type, sizeof(type), NULL);
	assert_string_equal(type, DH_MGS_T_CHANNEL_CLOSED);
	leg_next(f, ag, type, sizeof(type), NULL);
	while (strcmp(type, DH_MGS_T_CHANNEL_CLOSED) != 0 && type[0] != '\0')
		leg_next(f, ag, type, sizeof(type), NULL);
	assert_string_equal(type, DH_MGS_T_CHANNEL_CLOSED);
	ctrl_next(f, type, sizeof(type), NULL);
	assert_string_equal(type, DH_MGS_T_CHANNEL_CLOSED);
	assert_int_equal(gw_relay_resume(f->r, SID, T0 + 21, tok, NULL),
	    DH_E_STATE);
	gw_relay_ws_detach(f->r, cl, T0 + 22);
	gw_relay_ws_detach(f->r, ag, T0 + 22);
	/* Unknown sessions. */
	assert_int_equal(gw_relay_resume(f->r, "nobody-1", T0, tok, NULL),
	    DH_E_NOTFOUND);
	assert_int_equal(gw_relay_terminate(f->r, "nobody-1", T0, NULL), DH_OK);
}

static void
test_start_needs_control_channel(void **state)
{
	struct fx *f = *state;
	struct gw_relay_info info = f->info;
	char tok[65];

	snprintf(info.target, sizeof(info.target), "mi-00000000000000001");
	assert_int_equal(gw_relay_start(f->r, &info, "{}", T0, tok, NULL),
	    DH_E_NOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sm_table),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test_setup_teardown(test_relay_both_ways, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout_and_task,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_terminate_and_resume,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_start_needs_control_channel, setup, teardown),
	};

	return cmocka_run_group_tests_name("gw_relay", tests, NULL, NULL);
}
