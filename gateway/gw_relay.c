/*
 * gw_relay: data-channel pairing and relay (see gw_relay.h).  Everything
 * runs on the gateway's event-loop thread.  Tokens are kept only as SHA-256
 * hashes in memory: after a gateway restart the agent asks for a new one
 * with CreateDataChannel and the client with ResumeSession, and the
 * session's runtime state is rebuilt from its stored record.
 */
#include "gw_relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_uuid.h"

#define CLIENT 0
#define AGENT 1

/* ------------------------------------------------------ state machine */

static const char *const status_names[] = {
	"Connecting", "Connected", "Disconnected", "Terminating", "Terminated",
	"Failed"
};

const char *
gw_relay_status_name(enum gw_relay_status s)
{
	if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
		return "Failed";
	return status_names[s];
}

int
gw_relay_status_final(enum gw_relay_status s)
{
	return s == GW_RELAY_TERMINATED || s == GW_RELAY_FAILED;
}

void
gw_relay_sm_init(struct gw_relay_sm *sm, int64_t start_ms, int64_t now_ms,
    int64_t idle_ms, int64_t max_ms)
{
	memset(sm, 0, sizeof(*sm));
	sm->status = GW_RELAY_CONNECTING;
	sm->start_ms = start_ms;
	sm->born_ms = now_ms;
	sm->last_input_ms = now_ms;
	sm->idle_ms = idle_ms > 0 ? idle_ms : 0;
	sm->max_ms = max_ms > 0 ? max_ms : 0;
}

static void
sm_end(struct gw_relay_sm *sm, enum gw_relay_status st, unsigned actions,
    const char *output, struct gw_relay_out *out)
{
	sm->ended = 1;
	sm->status = st;
	out->actions |= actions;
	out->output = output != NULL ? output : "";
}

static void
sm_tick(struct gw_relay_sm *sm, int64_t now, struct gw_relay_out *out)
{
	const unsigned all = GW_RELAY_A_CLOSE_CLIENT | GW_RELAY_A_CLOSE_AGENT |
	    GW_RELAY_A_CTRL_CLOSED;
	int64_t client_since = sm->client_seen ? sm->client_gone_ms :
	    sm->born_ms;

	if (sm->max_ms > 0 && now - sm->start_ms >= sm->max_ms)
		sm_end(sm, GW_RELAY_TERMINATED, all, GW_RELAY_MSG_MAX, out);
	else if (sm->idle_ms > 0 && now - sm->last_input_ms >= sm->idle_ms)
		sm_end(sm, GW_RELAY_TERMINATED, all, GW_RELAY_MSG_IDLE, out);
	else if (!sm->agent_seen && now - sm->born_ms >= GW_RELAY_AGENT_WAIT_MS)
		sm_end(sm, GW_RELAY_FAILED, all, GW_RELAY_MSG_NO_AGENT, out);
	else if (sm->agent_seen && !sm->agent_up &&
	    now - sm->agent_gone_ms >= GW_RELAY_AWAY_MS)
		sm_end(sm, GW_RELAY_TERMINATED, all, GW_RELAY_MSG_AWAY, out);
	else if (!sm->client_up && now - client_since >= GW_RELAY_AWAY_MS)
		sm_end(sm, GW_RELAY_TERMINATED, all, GW_RELAY_MSG_AWAY, out);
}

void
gw_relay_sm_event(struct gw_relay_sm *sm, enum gw_relay_ev ev, int64_t now_ms,
    int failed, const char *output, struct gw_relay_out *out)
{
	enum gw_relay_status before = sm->status;

	memset(out, 0, sizeof(*out));
	switch (ev) {
	case GW_RELAY_EV_CLIENT_OPEN:
		sm->client_up = sm->client_seen = 1;
		if (!sm->ended && sm->agent_up && sm->paused) {
			out->actions |= GW_RELAY_A_START;
			sm->paused = 0;
		}
		break;
	case GW_RELAY_EV_CLIENT_GONE:
		sm->client_up = 0;
		sm->client_gone_ms = now_ms;
		if (!sm->ended && sm->agent_up && !sm->paused) {
			out->actions |= GW_RELAY_A_PAUSE;
			sm->paused = 1;
		}
		break;
	case GW_RELAY_EV_AGENT_OPEN:
		sm->agent_up = sm->agent_seen = 1;
		if (!sm->ended) {
			/* A reconnecting agent keeps its pause flag: say it. */
			out->actions |= sm->client_up ? GW_RELAY_A_START :
			    GW_RELAY_A_PAUSE;
			sm->paused = !sm->client_up;
		}
		break;
	case GW_RELAY_EV_AGENT_GONE:
		sm->agent_up = 0;
		sm->agent_gone_ms = now_ms;
		break;
	case GW_RELAY_EV_INPUT:
		sm->last_input_ms = now_ms;
		break;
	case GW_RELAY_EV_AGENT_ENDING:
		if (!sm->ended)
			sm_end(sm, GW_RELAY_TERMINATED, GW_RELAY_A_CLOSE_CLIENT,
			    "", out);
		break;
	case GW_RELAY_EV_TASK_DONE:
		if (!sm->ended)
			sm_end(sm, failed ? GW_RELAY_FAILED : GW_RELAY_TERMINATED,
			    GW_RELAY_A_CLOSE_CLIENT | GW_RELAY_A_CLOSE_AGENT,
			    output, out);
		break;
	case GW_RELAY_EV_TERMINATE:
		if (!sm->ended)
			sm_end(sm, GW_RELAY_TERMINATED, GW_RELAY_A_CLOSE_CLIENT |
			    GW_RELAY_A_CLOSE_AGENT | GW_RELAY_A_CTRL_CLOSED, "",
			    out);
		break;
	case GW_RELAY_EV_TICK:
		if (!sm->ended)
			sm_tick(sm, now_ms, out);
		break;
	}
	if (!sm->ended) {
		if (sm->client_up && sm->agent_up)
			sm->status = GW_RELAY_CONNECTED;
		else if (sm->status == GW_RELAY_CONNECTED ||
		    sm->status == GW_RELAY_DISCONNECTED)
			sm->status = GW_RELAY_DISCONNECTED;
		else
			sm->status = GW_RELAY_CONNECTING;
	}
	if (sm->status != before)
		out->actions |= GW_RELAY_A_STATUS;
	if (sm->ended && !sm->client_up && !sm->agent_up)
		out->actions |= GW_RELAY_A_FREE;
}

/* --------------------------------------------------------------- hub */

struct qframe {
	struct qframe *next;
	size_t len;
	unsigned char buf[];     /* headroom + frame */
};

struct queue {
	struct qframe *head, *tail;
	size_t bytes;
};

struct token {
	char hash[2 * DH_SHA256_LEN + 1];
	int64_t expires_ms;
};

struct rsess {
	struct rsess *next;
	struct gw_relay_info info;
	struct gw_relay_sm sm;
	struct gw_relay_leg *leg[2];
	struct queue q[2];           /* q[k]: frames towards leg kind k */
	int flow_off[2];             /* leg[k] is not being read */
	int close_after[2];          /* close leg[k] once q[k] drained */
	int dead;
	int exit_code;               /* from the agent's Terminating, or -1 */
	struct token tokens[2][GW_RELAY_TOKENS];
};

struct gw_relay_leg {
	struct gw_relay_leg *next;
	struct rsess *s;             /* NULL until opened, or when replaced */
	int kind;
	int opened;
	int kill;                    /* close at the next write opportunity */
	char sid[GW_RELAY_SID_MAX + 1];
	char instance_id[24];
	void *handle;
	int64_t attached_ms;
};

struct gw_relay {
	struct gw_ctrl *ctrl;
	struct gw_relay_hooks hooks;
	struct gw_relay_io io;
	int64_t minute_ms;
	struct rsess *sessions;
	struct gw_relay_leg *legs;
	struct gw_relay_stats st;
};

static void
q_clear(struct queue *q)
{
	struct qframe *f;

	while (q->head != NULL) {
		f = q->head;
		q->head = f->next;
		free(f);
	}
	q->tail = NULL;
	q->bytes = 0;
}

static void
wake(struct gw_relay *r, struct gw_relay_leg *leg)
{
	if (leg != NULL && r->io.wake != NULL)
		r->io.wake(r->io.arg, leg->handle);
}

static void
rx_flow(struct gw_relay *r, struct rsess *s, int k, int on)
{
	if (s->leg[k] == NULL || s->flow_off[k] == !on)
		return;
	s->flow_off[k] = !on;
	if (r->io.rx_flow != NULL)
		r->io.rx_flow(r->io.arg, s->leg[k]->handle, on);
}

/* Queue a copy of frame towards leg kind k; 0, or -1 when full (dropped). */
static int
enqueue(struct gw_relay *r, struct rsess *s, int k, const void *p, size_t n)
{
	struct queue *q = &s->q[k];
	struct qframe *f;

	if (n > GW_RELAY_QUEUE_MAX - q->bytes) {
		r->st.dropped_full++;
		return -1;
	}
	f = malloc(sizeof(*f) + r->io.headroom + n);
	if (f == NULL) {
		r->st.dropped_full++;
		return -1;
	}
	f->next = NULL;
	f->len = n;
	memcpy(f->buf + r->io.headroom, p, n);
	if (q->tail != NULL)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	q->bytes += n;
	if (q->bytes > GW_RELAY_QUEUE_HIGH)
		rx_flow(r, s, !k, 0);
	wake(r, s->leg[k]);
	return 0;
}

/* Build a service message (seq 0, Flags 3, PayloadType 0) into out. */
static int
service_frame(const char *type, const char *payload, int64_t now_ms,
    struct dh_buf *out)
{
	struct dh_mgs_msg m;
	struct dh_uuid id;

	if (dh_uuid_v4(&id) != DH_OK)
		return DH_E_CRYPTO;
	if (dh_mgs_init(&m, type, (uint64_t)now_ms, 0, DH_MGS_HF_ACK, &id,
	    DH_MGS_PT_NONE, payload, strlen(payload), NULL) != DH_OK)
		return DH_E_ARG;
	return dh_mgs_encode(&m, out, NULL);
}

static void
send_service(struct gw_relay *r, struct rsess *s, int k, const char *type,
    const char *payload, int64_t now_ms)
{
	struct dh_buf b;

	dh_buf_init(&b, GW_RELAY_MAX_FRAME);
	if (service_frame(type, payload, now_ms, &b) == DH_OK)
		(void)enqueue(r, s, k, b.d, b.len);
	dh_buf_free(&b);
}

static int
channel_closed_payload(const char *target, const char *sid,
    const char *output, int exit_code, int64_t now_ms, struct dh_buf *out)
{
	struct dh_uuid id;

	if (dh_uuid_v4(&id) != DH_OK)
		return DH_E_CRYPTO;
	return dh_mgs_channel_closed_build(&id, (uint64_t)now_ms, target, sid,
	    output, exit_code, out, NULL);
}

static void
close_leg_kind(struct gw_relay *r, struct rsess *s, int k, const char *output,
    int64_t now_ms)
{
	struct dh_buf pl;

	if (s->leg[k] == NULL) {
		q_clear(&s->q[k]);
		return;
	}
	dh_buf_init(&pl, GW_RELAY_MAX_OPEN);
	/* the client learns the shell's exit status (deckhand extension) */
	if (channel_closed_payload(s->info.target, s->info.id, output,
	    k == CLIENT ? s->exit_code : -1, now_ms, &pl) == DH_OK)
		send_service(r, s, k, DH_MGS_T_CHANNEL_CLOSED, dh_buf_cstr(&pl),
		    now_ms);
	dh_buf_free(&pl);
	s->close_after[k] = 1;
	wake(r, s->leg[k]);
}

static void
ctrl_closed(struct gw_relay *r, struct rsess *s, const char *output,
    int64_t now_ms)
{
	struct dh_mgs_msg m;
	struct dh_uuid id;
	struct dh_buf pl;

	if (r->ctrl == NULL)
		return;
	dh_buf_init(&pl, GW_RELAY_MAX_OPEN);
	if (dh_uuid_v4(&id) == DH_OK && dh_mgs_channel_closed_build(&id,
	    (uint64_t)now_ms, s->info.target, s->info.id, output, -1, &pl,
	    NULL) ==
	    DH_OK && dh_mgs_init(&m, DH_MGS_T_CHANNEL_CLOSED, (uint64_t)now_ms,
	    0, DH_MGS_HF_ACK, &id, DH_MGS_PT_NONE, pl.d, pl.len, NULL) == DH_OK)
		(void)gw_ctrl_send(r->ctrl, s->info.target, &m, NULL);
	dh_buf_free(&pl);
}

static void
apply(struct gw_relay *r, struct rsess *s, const struct gw_relay_out *o,
    int64_t now_ms)
{
	if (o->actions & GW_RELAY_A_PAUSE)
		send_service(r, s, AGENT, DH_MGS_T_PAUSE, "{}", now_ms);
	if (o->actions & GW_RELAY_A_START)
		send_service(r, s, AGENT, DH_MGS_T_START, "{}", now_ms);
	if (o->actions & GW_RELAY_A_CLOSE_CLIENT)
		close_leg_kind(r, s, CLIENT, o->output, now_ms);
	if (o->actions & GW_RELAY_A_CLOSE_AGENT)
		close_leg_kind(r, s, AGENT, o->output, now_ms);
	if (o->actions & GW_RELAY_A_CTRL_CLOSED)
		ctrl_closed(r, s, o->output, now_ms);
	if ((o->actions & GW_RELAY_A_STATUS) && r->hooks.status != NULL)
		r->hooks.status(r->hooks.arg, s->info.id, s->sm.status, now_ms);
	if (o->actions & GW_RELAY_A_FREE)
		s->dead = 1;
}

static void
feed(struct gw_relay *r, struct rsess *s, enum gw_relay_ev ev, int64_t now_ms,
    int failed, const char *output)
{
	struct gw_relay_out o;

	gw_relay_sm_event(&s->sm, ev, now_ms, failed, output, &o);
	apply(r, s, &o, now_ms);
}

static void
sess_free(struct rsess *s)
{
	q_clear(&s->q[CLIENT]);
	q_clear(&s->q[AGENT]);
	dh_wipe(s->tokens, sizeof(s->tokens));
	free(s);
}

/* Free sessions marked dead (their legs are gone). */
static void
sweep(struct gw_relay *r)
{
	struct rsess **pp = &r->sessions, *s;

	while (*pp != NULL) {
		s = *pp;
		if (s->dead && s->leg[CLIENT] == NULL && s->leg[AGENT] == NULL) {
			*pp = s->next;
			sess_free(s);
		} else
			pp = &s->next;
	}
}

static struct rsess *
find(const struct gw_relay *r, const char *sid)
{
	struct rsess *s;

	for (s = r->sessions; s != NULL; s = s->next)
		if (!s->dead && strcmp(s->info.id, sid) == 0)
			return s;
	return NULL;
}

static struct rsess *
add(struct gw_relay *r, const struct gw_relay_info *info, int64_t now_ms)
{
	struct rsess *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->info = *info;
	s->exit_code = -1;
	gw_relay_sm_init(&s->sm, info->start_ms, now_ms, info->idle_ms,
	    info->max_ms);
	s->next = r->sessions;
	r->sessions = s;
	return s;
}

/* The live runtime of sid, rebuilt from its record when needed. */
static int
get_live(struct gw_relay *r, const char *sid, int64_t now_ms,
    struct rsess **out, struct dh_err *err)
{
	struct gw_relay_info info;
	struct rsess *s = find(r, sid);

	*out = NULL;
	if (s != NULL) {
		if (s->sm.ended)
			return dh_err_set(err, DH_E_STATE,
			    "Session is already terminated");
		*out = s;
		return DH_OK;
	}
	if (r->hooks.lookup == NULL ||
	    r->hooks.lookup(r->hooks.arg, sid, &info) != DH_OK)
		return dh_err_set(err, DH_E_NOTFOUND, "Session %s does not"
		    " exist", sid);
	if (gw_relay_status_final(info.status))
		return dh_err_set(err, DH_E_STATE,
		    "Session is already terminated");
	s = add(r, &info, now_ms);
	if (s == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	*out = s;
	return DH_OK;
}

static int
issue(struct rsess *s, int k, int64_t now_ms, char token[65])
{
	unsigned char raw[32];
	struct token *t = &s->tokens[k][0];
	size_t i;

	if (dh_random(raw, sizeof(raw)) != DH_OK)
		return DH_E_CRYPTO;
	dh_hex_encode(raw, sizeof(raw), token);
	dh_wipe(raw, sizeof(raw));
	for (i = 0; i < GW_RELAY_TOKENS; i++) {
		if (s->tokens[k][i].expires_ms <= now_ms) {
			t = &s->tokens[k][i];
			break;
		}
		if (s->tokens[k][i].expires_ms < t->expires_ms)
			t = &s->tokens[k][i];
	}
	dh_sha256_hex(token, 64, t->hash);
	t->expires_ms = now_ms + GW_RELAY_TOKEN_TTL_MS;
	return DH_OK;
}

/* Consume a live token of kind k; 0 when it matched. */
static int
take(struct rsess *s, int k, const char *token, int64_t now_ms)
{
	char hash[2 * DH_SHA256_LEN + 1];
	size_t i;

	dh_sha256_hex(token, strlen(token), hash);
	for (i = 0; i < GW_RELAY_TOKENS; i++) {
		struct token *t = &s->tokens[k][i];

		if (t->expires_ms > now_ms &&
		    dh_ct_equal(t->hash, hash, sizeof(hash) - 1)) {
			memset(t, 0, sizeof(*t));
			return 0;
		}
	}
	return -1;
}

/* ---------------------------------------------------------- control */

static void
send_task_ack(struct gw_relay *r, const char *instance_id,
    const struct dh_mgs_msg *m, const char *task_id, int64_t now_ms)
{
	char idbuf[DH_UUID_STRLEN + 1];
	struct dh_mgs_msg a;
	struct dh_uuid id;
	struct dh_buf pl;
	cJSON *o = cJSON_CreateObject();

	dh_uuid_fmt(&m->id, idbuf);
	dh_buf_init(&pl, GW_RELAY_MAX_OPEN);
	if (o != NULL && cJSON_AddNumberToObject(o, "SchemaVersion", 1) &&
	    cJSON_AddStringToObject(o, "MessageId", idbuf) &&
	    cJSON_AddStringToObject(o, "TaskId", task_id) &&
	    cJSON_AddStringToObject(o, "Topic", DH_MGS_T_TASK_COMPLETE) &&
	    dh_json_print(o, &pl) == DH_OK && dh_uuid_v4(&id) == DH_OK &&
	    dh_mgs_init(&a, DH_MGS_T_TASK_ACK, (uint64_t)now_ms, 0, 0, &id,
	    DH_MGS_PT_NONE, pl.d, pl.len, NULL) == DH_OK)
		(void)gw_ctrl_send(r->ctrl, instance_id, &a, NULL);
	dh_buf_free(&pl);
	cJSON_Delete(o);
}

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* agent_task_complete from instance_id: record, end, acknowledge. */
static void
on_ctrl_msg(void *arg, const char *instance_id, const struct dh_mgs_msg *m,
    int64_t now_ms)
{
	struct gw_relay *r = arg;
	struct gw_relay_info info;
	const char *sid, *status, *output;
	struct rsess *s;
	cJSON *j = NULL;
	int failed;

	if (!dh_mgs_is(m, DH_MGS_T_TASK_COMPLETE))
		return;
	if (dh_json_parse(m->payload, m->payload_len, GW_CTRL_MAX_FRAME, &j,
	    NULL) != DH_OK)
		return;
	sid = jstr(j, "TaskId");
	if (sid == NULL || strlen(sid) > GW_RELAY_SID_MAX)
		goto done;
	/* Always acknowledge, so the agent stops resending. */
	send_task_ack(r, instance_id, m, sid, now_ms);
	if (r->hooks.lookup == NULL ||
	    r->hooks.lookup(r->hooks.arg, sid, &info) != DH_OK ||
	    strcmp(info.target, instance_id) != 0)
		goto done;
	status = jstr(j, "FinalTaskStatus");
	output = jstr(j, "Output");
	failed = status != NULL && (strcmp(status, "Failed") == 0 ||
	    strcmp(status, "TimedOut") == 0);
	if (r->hooks.task_done != NULL)
		r->hooks.task_done(r->hooks.arg, sid, j, now_ms);
	s = find(r, sid);
	if (s != NULL)
		feed(r, s, GW_RELAY_EV_TASK_DONE, now_ms, failed,
		    failed && output != NULL ? output : "");
	else if (!gw_relay_status_final(info.status) && r->hooks.status != NULL)
		r->hooks.status(r->hooks.arg, sid, failed ? GW_RELAY_FAILED :
		    GW_RELAY_TERMINATED, now_ms);
	sweep(r);
done:
	cJSON_Delete(j);
}

/* ------------------------------------------------------------ the API */

int
gw_relay_new(struct gw_ctrl *ctrl, const struct gw_relay_hooks *hooks,
    struct gw_relay **out, struct dh_err *err)
{
	struct gw_ctrl_hooks ch;
	struct gw_relay *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	r->ctrl = ctrl;
	if (hooks != NULL)
		r->hooks = *hooks;
	r->minute_ms = 60000;
	memset(&ch, 0, sizeof(ch));
	ch.on_msg = on_ctrl_msg;
	ch.arg = r;
	if (ctrl != NULL && gw_ctrl_add_hooks(ctrl, &ch) != DH_OK) {
		free(r);
		return dh_err_set(err, DH_E_TOOBIG, "control channel hooks full");
	}
	*out = r;
	return DH_OK;
}

void
gw_relay_free(struct gw_relay *r)
{
	struct gw_relay_leg *l;
	struct rsess *s;

	if (r == NULL)
		return;
	while (r->legs != NULL) {
		l = r->legs;
		r->legs = l->next;
		free(l);
	}
	while (r->sessions != NULL) {
		s = r->sessions;
		r->sessions = s->next;
		sess_free(s);
	}
	free(r);
}

void
gw_relay_set_io(struct gw_relay *r, const struct gw_relay_io *io)
{
	r->io = *io;
}

void
gw_relay_set_minute_ms(struct gw_relay *r, int64_t ms)
{
	r->minute_ms = ms > 0 ? ms : 60000;
}

int64_t
gw_relay_minute_ms(const struct gw_relay *r)
{
	return r->minute_ms;
}

int
gw_relay_start(struct gw_relay *r, const struct gw_relay_info *info,
    const char *shell_payload, int64_t now_ms, char token[65],
    struct dh_err *err)
{
	struct dh_mgs_msg m;
	struct dh_uuid id;
	struct rsess *s;
	int rc;

	if (find(r, info->id) != NULL)
		return dh_err_set(err, DH_E_EXISTS, "session %s exists",
		    info->id);
	if (r->ctrl == NULL || gw_ctrl_lookup(r->ctrl, info->target) == NULL)
		return dh_err_set(err, DH_E_NOTFOUND, "%s is not connected.",
		    info->target);
	rc = dh_uuid_v4(&id);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "random failed");
	rc = dh_mgs_init(&m, DH_MGS_T_INTERACTIVE_SHELL, (uint64_t)now_ms, 0, 0,
	    &id, DH_MGS_PT_NONE, shell_payload, strlen(shell_payload), err);
	if (rc != DH_OK)
		return rc;
	s = add(r, info, now_ms);
	if (s == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	rc = issue(s, CLIENT, now_ms, token);
	if (rc == DH_OK)
		rc = gw_ctrl_send(r->ctrl, info->target, &m, err);
	if (rc != DH_OK) {
		s->dead = 1;
		sweep(r);
		if (rc == DH_E_NOTFOUND)
			return dh_err_set(err, rc, "%s is not connected.",
			    info->target);
		return rc;
	}
	return DH_OK;
}

int
gw_relay_adopt(struct gw_relay *r, const struct gw_relay_info *info,
    int64_t now_ms, struct dh_err *err)
{
	if (find(r, info->id) != NULL || gw_relay_status_final(info->status))
		return DH_OK;
	if (add(r, info, now_ms) == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	return DH_OK;
}

int
gw_relay_resume(struct gw_relay *r, const char *sid, int64_t now_ms,
    char token[65], struct dh_err *err)
{
	struct rsess *s;
	int rc;

	rc = get_live(r, sid, now_ms, &s, err);
	if (rc != DH_OK)
		return rc;
	rc = issue(s, CLIENT, now_ms, token);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "random failed");
	return DH_OK;
}

int
gw_relay_terminate(struct gw_relay *r, const char *sid, int64_t now_ms,
    struct dh_err *err)
{
	struct rsess *s;

	if (get_live(r, sid, now_ms, &s, err) != DH_OK)
		return DH_OK;
	feed(r, s, GW_RELAY_EV_TERMINATE, now_ms, 0, NULL);
	sweep(r);
	return DH_OK;
}

int
gw_relay_parse_path(const char *path, char *out, size_t n, struct dh_err *err)
{
	size_t plen = strlen(GW_RELAY_PATH), len, i;
	const char *id;

	if (strncmp(path, GW_RELAY_PATH, plen) != 0)
		return dh_err_set(err, DH_E_FORMAT, "not a data-channel path");
	id = path + plen;
	len = strlen(id);
	if (len == 0 || len > GW_RELAY_SID_MAX || len >= n)
		return dh_err_set(err, DH_E_FORMAT, "bad session id in path");
	for (i = 0; i < len; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '@' || ch == '+' || ch == '='))
			return dh_err_set(err, DH_E_FORMAT,
			    "bad session id in path");
	}
	memcpy(out, id, len + 1);
	return DH_OK;
}

int
gw_relay_create_channel(struct gw_relay *r, const char *sid,
    const char *instance_id, const cJSON *body, int64_t now_ms,
    struct dh_buf *xml, struct dh_err *err)
{
	const char *ver = NULL, *rid = NULL;
	char tok[65];
	struct rsess *s;
	int rc;

	if (body != NULL && (dh_json_opt_str(body, "MessageSchemaVersion", &ver,
	    err) != DH_OK || dh_json_opt_str(body, "RequestId", &rid, err) !=
	    DH_OK))
		return DH_E_FORMAT;
	rc = get_live(r, sid, now_ms, &s, err);
	if (rc != DH_OK)
		return rc;
	if (strcmp(s->info.target, instance_id) != 0)
		return dh_err_set(err, DH_E_AUTH, "session %s belongs to"
		    " another instance", sid);
	rc = issue(s, AGENT, now_ms, tok);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "random failed");
	rc = dh_buf_printf(xml, "<CreateDataChannelOutput>"
	    "<MessageSchemaVersion>1.0</MessageSchemaVersion>"
	    "<TokenValue>%s</TokenValue></CreateDataChannelOutput>", tok);
	dh_wipe(tok, sizeof(tok));
	if (rc != DH_OK)
		return dh_err_set(err, rc, "response too large");
	return DH_OK;
}

int
gw_relay_ws_attach(struct gw_relay *r, const char *sid,
    const char *instance_id, void *handle, int64_t now_ms,
    struct gw_relay_leg **out, struct dh_err *err)
{
	struct gw_relay_leg *l;

	*out = NULL;
	if (strlen(sid) > GW_RELAY_SID_MAX)
		return dh_err_set(err, DH_E_FORMAT, "session id too long");
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	l->kind = instance_id != NULL ? AGENT : CLIENT;
	snprintf(l->sid, sizeof(l->sid), "%s", sid);
	if (instance_id != NULL)
		snprintf(l->instance_id, sizeof(l->instance_id), "%s",
		    instance_id);
	l->handle = handle;
	l->attached_ms = now_ms;
	l->next = r->legs;
	r->legs = l;
	r->st.legs++;
	*out = l;
	return DH_OK;
}

/* The OpenDataChannel text frame: check the token, join the session. */
static int
open_leg(struct gw_relay *r, struct gw_relay_leg *l, const void *p, size_t n,
    int64_t now_ms, struct dh_err *err)
{
	const char *tok = NULL, *inst = NULL;
	struct gw_relay_leg *old;
	struct rsess *s;
	cJSON *j = NULL;
	int k = l->kind, rc;

	rc = dh_json_parse(p, n, GW_RELAY_MAX_OPEN, &j, err);
	if (rc != DH_OK)
		return rc;
	if (!cJSON_IsObject(j)) {
		rc = dh_err_set(err, DH_E_FORMAT, "OpenDataChannel is not an"
		    " object");
		goto done;
	}
	tok = jstr(j, "TokenValue");
	inst = jstr(j, "ClientInstanceId");
	if (tok == NULL) {
		rc = dh_err_set(err, DH_E_FORMAT, "OpenDataChannel without"
		    " TokenValue");
		goto done;
	}
	rc = get_live(r, l->sid, now_ms, &s, err);
	if (rc != DH_OK)
		goto done;
	if (k == AGENT && (inst == NULL || strcmp(inst, l->instance_id) != 0 ||
	    strcmp(s->info.target, l->instance_id) != 0)) {
		rc = dh_err_set(err, DH_E_AUTH, "ClientInstanceId does not"
		    " match the session's target");
		goto done;
	}
	if (take(s, k, tok, now_ms) != 0) {
		rc = dh_err_set(err, DH_E_AUTH, "data channel token is not"
		    " valid for session %s", l->sid);
		goto done;
	}
	old = s->leg[k];
	if (old != NULL) {
		/* A reconnect replaces a leg that has not noticed it died. */
		old->s = NULL;
		old->kill = 1;
		wake(r, old);
		s->leg[k] = NULL;
		feed(r, s, k == AGENT ? GW_RELAY_EV_AGENT_GONE :
		    GW_RELAY_EV_CLIENT_GONE, now_ms, 0, NULL);
	}
	s->leg[k] = l;
	s->flow_off[k] = 0;
	s->close_after[k] = 0;
	l->s = s;
	l->opened = 1;
	feed(r, s, k == AGENT ? GW_RELAY_EV_AGENT_OPEN :
	    GW_RELAY_EV_CLIENT_OPEN, now_ms, 0, NULL);
	if (s->q[!k].bytes > GW_RELAY_QUEUE_HIGH)
		rx_flow(r, s, k, 0);
	if (s->q[k].head != NULL)
		wake(r, l);
done:
	cJSON_Delete(j);
	return rc;
}

static void
agent_state(struct gw_relay *r, struct rsess *s, const struct dh_mgs_msg *m,
    int64_t now_ms)
{
	const cJSON *code;
	const char *st;
	cJSON *j = NULL;

	if (dh_json_parse(m->payload, m->payload_len, GW_RELAY_MAX_OPEN, &j,
	    NULL) != DH_OK)
		return;
	st = jstr(j, "SessionState");
	code = cJSON_GetObjectItemCaseSensitive(j, "ExitCode");
	if (st != NULL && strcmp(st, "Terminating") == 0) {
		if (cJSON_IsNumber(code) && code->valuedouble >= 0 &&
		    code->valuedouble <= 255)
			s->exit_code = (int)code->valuedouble;
		feed(r, s, GW_RELAY_EV_AGENT_ENDING, now_ms, 0, NULL);
	}
	cJSON_Delete(j);
}

int
gw_relay_ws_message(struct gw_relay *r, struct gw_relay_leg *l, int is_text,
    const void *p, size_t n, int64_t now_ms, struct dh_err *err)
{
	struct dh_mgs_msg m;
	struct rsess *s;
	int rc;

	if (n > GW_RELAY_MAX_FRAME)
		return dh_err_set(err, DH_E_TOOBIG, "data channel message of"
		    " %zu bytes is too large", n);
	if (!l->opened) {
		if (!is_text)
			return dh_err_set(err, DH_E_STATE, "binary message"
			    " before OpenDataChannel");
		rc = open_leg(r, l, p, n, now_ms, err);
		sweep(r);
		return rc;
	}
	s = l->s;
	if (s == NULL || s->sm.ended)
		return DH_OK;
	/* Header sanity only, as the service does: a frame whose digest is
	 * wrong is relayed as it came (the plugin checks digests, the agent
	 * does not, and a client such as ssm-session sends hex digests). */
	if (dh_mgs_decode(p, n, 0, &m, NULL) != DH_OK) {
		r->st.dropped_malformed++;
		return DH_OK;
	}
	if (l->kind == CLIENT) {
		if (dh_mgs_is(&m, DH_MGS_T_INPUT))
			feed(r, s, GW_RELAY_EV_INPUT, now_ms, 0, NULL);
		else if (!dh_mgs_is(&m, DH_MGS_T_ACK)) {
			r->st.dropped_type++;
			return DH_OK;
		}
	} else if (dh_mgs_is(&m, DH_MGS_T_SESSION_STATE)) {
		agent_state(r, s, &m, now_ms);
		sweep(r);
		return DH_OK;
	} else if (!dh_mgs_is(&m, DH_MGS_T_OUTPUT) &&
	    !dh_mgs_is(&m, DH_MGS_T_ACK)) {
		r->st.dropped_type++;
		return DH_OK;
	}
	if (enqueue(r, s, !l->kind, p, n) == 0)
		r->st.forwarded++;
	return DH_OK;
}

int
gw_relay_ws_peek(struct gw_relay *r, struct gw_relay_leg *l,
    unsigned char **p, size_t *n)
{
	struct rsess *s = l->s;
	struct qframe *f;

	if (l->kill || s == NULL)
		return l->opened || l->kill ? -1 : 0;
	f = s->q[l->kind].head;
	if (f == NULL)
		return s->close_after[l->kind] ? -1 : 0;
	*p = f->buf + r->io.headroom;
	*n = f->len;
	return 1;
}

void
gw_relay_ws_sent(struct gw_relay *r, struct gw_relay_leg *l)
{
	struct rsess *s = l->s;
	struct queue *q;
	struct qframe *f;

	if (s == NULL)
		return;
	q = &s->q[l->kind];
	f = q->head;
	if (f == NULL)
		return;
	q->head = f->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->bytes -= f->len;
	free(f);
	if (s->flow_off[!l->kind] && q->bytes < GW_RELAY_QUEUE_LOW)
		rx_flow(r, s, !l->kind, 1);
	if (q->head != NULL || s->close_after[l->kind])
		wake(r, l);
}

void
gw_relay_ws_detach(struct gw_relay *r, struct gw_relay_leg *l, int64_t now_ms)
{
	struct gw_relay_leg **pp;
	struct rsess *s = l->s;
	int k = l->kind;

	for (pp = &r->legs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	if (r->st.legs > 0)
		r->st.legs--;
	if (s != NULL && s->leg[k] == l) {
		s->leg[k] = NULL;
		s->flow_off[k] = 0;
		s->close_after[k] = 0;
		if (s->sm.ended)
			q_clear(&s->q[k]);
		feed(r, s, k == AGENT ? GW_RELAY_EV_AGENT_GONE :
		    GW_RELAY_EV_CLIENT_GONE, now_ms, 0, NULL);
	}
	free(l);
	sweep(r);
}

void
gw_relay_tick(struct gw_relay *r, int64_t now_ms)
{
	struct gw_relay_leg *l;
	struct rsess *s;

	for (l = r->legs; l != NULL; l = l->next)
		if (!l->opened && !l->kill &&
		    now_ms - l->attached_ms >= GW_RELAY_OPEN_WAIT_MS) {
			l->kill = 1;
			wake(r, l);
		}
	for (s = r->sessions; s != NULL; s = s->next)
		if (!s->dead)
			feed(r, s, GW_RELAY_EV_TICK, now_ms, 0, NULL);
	sweep(r);
}

void
gw_relay_stats(const struct gw_relay *r, struct gw_relay_stats *out)
{
	const struct rsess *s;

	*out = r->st;
	out->sessions = 0;
	for (s = r->sessions; s != NULL; s = s->next)
		out->sessions++;
}
