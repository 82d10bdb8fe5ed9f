/*
 * gw_ctrl: control-channel tokens and the registry of connected agents
 * (see gw_ctrl.h).  Tokens are kept only as SHA-256 hashes in memory: an
 * agent asks for a fresh one on every (re)connect, so nothing is lost when
 * the gateway restarts.
 */
#include "gw_ctrl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_json.h"

struct ctrl_token {
	char instance_id[24];
	char hash[2 * DH_SHA256_LEN + 1];
	int64_t expires_ms;
};

/* One queued outbound frame. */
struct out_frame {
	struct out_frame *next;
	size_t n;
	unsigned char d[];
};

struct gw_ctrl_conn {
	struct gw_ctrl_conn *next;
	char instance_id[24];
	void *handle;
	int opened;
	int64_t since_ms;
	struct out_frame *out_head;
	struct out_frame *out_tail;
	size_t out_bytes;
};

struct gw_ctrl {
	struct gw_store *st;
	struct ctrl_token *tokens;
	size_t n_tokens;
	struct gw_ctrl_conn *conns;
	struct gw_ctrl_hooks hooks[GW_CTRL_MAX_HOOKS];
	size_t n_hooks;
	void (*wake)(void *handle);
};

static void
conn_free(struct gw_ctrl_conn *conn)
{
	struct out_frame *f;

	while (conn->out_head != NULL) {
		f = conn->out_head->next;
		free(conn->out_head);
		conn->out_head = f;
	}
	free(conn);
}

int
gw_ctrl_new(struct gw_store *st, struct gw_ctrl **out, struct dh_err *err)
{
	struct gw_ctrl *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	c->tokens = calloc(GW_CTRL_MAX_TOKENS, sizeof(*c->tokens));
	if (c->tokens == NULL) {
		free(c);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	c->st = st;
	*out = c;
	return DH_OK;
}

void
gw_ctrl_free(struct gw_ctrl *c)
{
	struct gw_ctrl_conn *n;

	if (c == NULL)
		return;
	while (c->conns != NULL) {
		n = c->conns->next;
		conn_free(c->conns);
		c->conns = n;
	}
	free(c->tokens);
	free(c);
}

int
gw_ctrl_parse_path(const char *path, char *out, size_t n, struct dh_err *err)
{
	size_t plen = strlen(GW_CTRL_PATH), i, len;
	const char *id;

	if (strncmp(path, GW_CTRL_PATH, plen) != 0)
		return dh_err_set(err, DH_E_FORMAT, "not a control-channel path");
	id = path + plen;
	len = strlen(id);
	if (len < 4 || len >= n || len > 23 || strncmp(id, "mi-", 3) != 0)
		return dh_err_set(err, DH_E_FORMAT, "bad instance id in path");
	for (i = 3; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return dh_err_set(err, DH_E_FORMAT,
			    "bad instance id in path");
	memcpy(out, id, len + 1);
	return DH_OK;
}

/* Drop expired tokens (compacting the table). */
static void
prune(struct gw_ctrl *c, int64_t now_ms)
{
	size_t i, j = 0;

	for (i = 0; i < c->n_tokens; i++)
		if (c->tokens[i].expires_ms > now_ms)
			c->tokens[j++] = c->tokens[i];
	c->n_tokens = j;
}

int
gw_ctrl_create_channel(struct gw_ctrl *c, const char *instance_id,
    const cJSON *body, int64_t now_ms, struct dh_buf *xml, struct dh_err *err)
{
	unsigned char raw[32];
	char tok[2 * sizeof(raw) + 1];
	const char *ver = NULL, *rid = NULL;
	struct ctrl_token *t;
	int r;

	if (body != NULL && (dh_json_opt_str(body, "MessageSchemaVersion", &ver,
	    err) != DH_OK || dh_json_opt_str(body, "RequestId", &rid, err) !=
	    DH_OK))
		return DH_E_FORMAT;
	if (dh_random(raw, sizeof(raw)) != DH_OK)
		return dh_err_set(err, DH_E_CRYPTO, "random failed");
	dh_hex_encode(raw, sizeof(raw), tok);
	prune(c, now_ms);
	if (c->n_tokens == GW_CTRL_MAX_TOKENS) {
		memmove(c->tokens, c->tokens + 1,
		    (GW_CTRL_MAX_TOKENS - 1) * sizeof(*c->tokens));
		c->n_tokens--;
	}
	t = &c->tokens[c->n_tokens++];
	snprintf(t->instance_id, sizeof(t->instance_id), "%s", instance_id);
	dh_sha256_hex(tok, strlen(tok), t->hash);
	t->expires_ms = now_ms + GW_CTRL_TOKEN_TTL_MS;
	r = dh_buf_printf(xml, "<CreateControlChannelOutput>"
	    "<MessageSchemaVersion>1.0</MessageSchemaVersion>"
	    "<TokenValue>%s</TokenValue></CreateControlChannelOutput>", tok);
	dh_wipe(raw, sizeof(raw));
	dh_wipe(tok, sizeof(tok));
	if (r != DH_OK)
		return dh_err_set(err, r, "response too large");
	return DH_OK;
}

int
gw_ctrl_ws_attach(struct gw_ctrl *c, const char *instance_id, void *handle,
    int64_t now_ms, struct gw_ctrl_conn **out, struct dh_err *err)
{
	struct gw_ctrl_conn *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (n == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	snprintf(n->instance_id, sizeof(n->instance_id), "%s", instance_id);
	n->handle = handle;
	n->since_ms = now_ms;
	n->next = c->conns;
	c->conns = n;
	*out = n;
	return DH_OK;
}

/* Consume a valid token for instance_id; 0 when found. */
static int
take_token(struct gw_ctrl *c, const char *instance_id, const char *tok,
    int64_t now_ms)
{
	char hash[2 * DH_SHA256_LEN + 1];
	size_t i;

	dh_sha256_hex(tok, strlen(tok), hash);
	for (i = 0; i < c->n_tokens; i++) {
		if (c->tokens[i].expires_ms <= now_ms ||
		    strcmp(c->tokens[i].instance_id, instance_id) != 0 ||
		    !dh_ct_equal(c->tokens[i].hash, hash, sizeof(hash) - 1))
			continue;
		memmove(&c->tokens[i], &c->tokens[i + 1],
		    (c->n_tokens - i - 1) * sizeof(*c->tokens));
		c->n_tokens--;
		return 0;
	}
	return -1;
}

static void
mark_online(struct gw_ctrl *c, const char *instance_id, int64_t now_ms)
{
	struct gw_store_instance *in = malloc(sizeof(*in));

	if (in == NULL)
		return;
	if (gw_store_instance_get(c->st, instance_id, in, NULL) == DH_OK) {
		in->last_ping_ms = now_ms;
		snprintf(in->connection_channel, sizeof(in->connection_channel),
		    "ssmmessages");
		(void)gw_store_instance_put(c->st, in, NULL);
	}
	free(in);
}

int
gw_ctrl_ws_text(struct gw_ctrl *c, struct gw_ctrl_conn *conn, const void *p,
    size_t n, int64_t now_ms, struct dh_err *err)
{
	const char *tok = NULL;
	struct gw_ctrl_conn *o;
	cJSON *j = NULL;
	size_t i;
	int r;

	if (conn->opened)
		return DH_OK;
	r = dh_json_parse(p, n, GW_CTRL_MAX_FRAME, &j, err);
	if (r != DH_OK)
		return r;
	r = dh_json_get_str(j, "TokenValue", &tok, err);
	if (r == DH_OK && take_token(c, conn->instance_id, tok, now_ms) != 0)
		r = dh_err_set(err, DH_E_AUTH, "control channel token is not"
		    " valid for %s", conn->instance_id);
	cJSON_Delete(j);
	if (r != DH_OK)
		return r;
	/* A newer channel replaces an older one of the same instance. */
	for (o = c->conns; o != NULL; o = o->next)
		if (o != conn && o->opened &&
		    strcmp(o->instance_id, conn->instance_id) == 0)
			o->opened = 0;
	conn->opened = 1;
	conn->since_ms = now_ms;
	mark_online(c, conn->instance_id, now_ms);
	for (i = 0; i < c->n_hooks; i++)
		if (c->hooks[i].on_open != NULL)
			c->hooks[i].on_open(c->hooks[i].arg, conn->instance_id,
			    now_ms);
	return DH_OK;
}

void
gw_ctrl_ws_detach(struct gw_ctrl *c, struct gw_ctrl_conn *conn)
{
	struct gw_ctrl_conn **pp;

	for (pp = &c->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == conn) {
			*pp = conn->next;
			conn_free(conn);
			return;
		}
	}
}

void *
gw_ctrl_lookup(const struct gw_ctrl *c, const char *instance_id)
{
	const struct gw_ctrl_conn *o;

	for (o = c->conns; o != NULL; o = o->next)
		if (o->opened && strcmp(o->instance_id, instance_id) == 0)
			return o->handle;
	return NULL;
}

size_t
gw_ctrl_count(const struct gw_ctrl *c)
{
	const struct gw_ctrl_conn *o;
	size_t n = 0;

	for (o = c->conns; o != NULL; o = o->next)
		n += o->opened ? 1 : 0;
	return n;
}

int
gw_ctrl_add_hooks(struct gw_ctrl *c, const struct gw_ctrl_hooks *h)
{
	if (c->n_hooks == GW_CTRL_MAX_HOOKS)
		return DH_E_TOOBIG;
	c->hooks[c->n_hooks++] = *h;
	return DH_OK;
}

void
gw_ctrl_set_waker(struct gw_ctrl *c, void (*wake)(void *handle))
{
	c->wake = wake;
}

/* The open channel of instance_id, or NULL. */
static struct gw_ctrl_conn *
open_conn(const struct gw_ctrl *c, const char *instance_id)
{
	struct gw_ctrl_conn *o;

	for (o = c->conns; o != NULL; o = o->next)
		if (o->opened && strcmp(o->instance_id, instance_id) == 0)
			return o;
	return NULL;
}

int
gw_ctrl_send(struct gw_ctrl *c, const char *instance_id,
    const struct dh_mgs_msg *m, struct dh_err *err)
{
	struct gw_ctrl_conn *conn = open_conn(c, instance_id);
	struct out_frame *f;
	struct dh_buf b;
	size_t n;
	int r;

	if (conn == NULL)
		return dh_err_set(err, DH_E_NOTFOUND, "%s has no open control"
		    " channel", instance_id);
	n = dh_mgs_frame_len(m);
	if (conn->out_bytes + n > GW_CTRL_MAX_OUT)
		return dh_err_set(err, DH_E_TOOBIG, "control channel queue of"
		    " %s is full", instance_id);
	f = malloc(sizeof(*f) + n);
	if (f == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	dh_buf_init(&b, n);
	r = dh_mgs_encode(m, &b, err);
	if (r != DH_OK || b.len != n) {
		dh_buf_free(&b);
		free(f);
		return r != DH_OK ? r : dh_err_set(err, DH_E_FORMAT,
		    "frame length mismatch");
	}
	memcpy(f->d, b.d, n);
	dh_buf_free(&b);
	f->n = n;
	f->next = NULL;
	if (conn->out_tail != NULL)
		conn->out_tail->next = f;
	else
		conn->out_head = f;
	conn->out_tail = f;
	conn->out_bytes += n;
	if (c->wake != NULL)
		c->wake(conn->handle);
	return DH_OK;
}

int
gw_ctrl_ws_binary(struct gw_ctrl *c, struct gw_ctrl_conn *conn,
    const void *p, size_t n, int64_t now_ms, struct dh_err *err)
{
	struct dh_mgs_msg m;
	size_t i;
	int r;

	if (!conn->opened)
		return DH_OK;
	r = dh_mgs_decode(p, n, DH_MGS_DEC_ANY_HL, &m, err);
	if (r != DH_OK)
		return r;
	for (i = 0; i < c->n_hooks; i++)
		if (c->hooks[i].on_msg != NULL)
			c->hooks[i].on_msg(c->hooks[i].arg, conn->instance_id,
			    &m, now_ms);
	return DH_OK;
}

int
gw_ctrl_next_out(struct gw_ctrl_conn *conn, struct dh_buf *out)
{
	struct out_frame *f = conn->out_head;

	dh_buf_reset(out);
	if (f == NULL)
		return 0;
	if (dh_buf_put(out, f->d, f->n) != DH_OK)
		return 0;
	conn->out_head = f->next;
	if (conn->out_head == NULL)
		conn->out_tail = NULL;
	conn->out_bytes -= f->n;
	free(f);
	return 1;
}
