/*
 * ag_ctrl: MGS control channel over a libwebsockets client (see ag_ctrl.h).
 */
#include "ag_ctrl.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag_backoff.h"
#include "ag_worker.h"
#include "dh_aws.h"
#include "dh_hash.h"
#include "dh_http.h"
#include "dh_json.h"
#include "dh_log.h"
#include "dh_sigv4.h"
#include "dh_time.h"
#include "dh_uuid.h"

#define CTRL_QUERY "role=subscribe&stream=input"
#define REST_MAX_BODY (64 * 1024)

struct outq {
	struct outq *next;
	int binary;
	size_t len;
	unsigned char data[]; /* LWS_PRE headroom, then len bytes */
};

struct ag_ctrl {
	struct ag_ctrl_params p;
	char *endpoint;              /* https base URL, owned */
	struct ag_backoff bo;
	lws_sorted_usec_list_t sul;  /* connect timer */
	struct lws *wsi;
	int up;
	int reconnect_now;           /* a forced reconnect is pending */
	int token_pending;           /* CreateControlChannel on the worker */
	char host[256];              /* address for the TCP connect */
	char hostport[300];          /* Host header value */
	int port;
	char path[512];
	struct dh_sigv4_signed sig;  /* signed upgrade headers */
	struct dh_buf rx;            /* reassembled incoming message */
	struct outq *head, *tail;
};

/* ------------------------------------------------------------ pure parts */

static int
xml_unescape(const char *s, size_t n, struct dh_buf *out, struct dh_err *err)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' } };
	size_t i, k;
	int rc;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '&') {
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);

				if (n - i >= el && memcmp(s + i, ents[k].ent,
				    el) == 0) {
					c = ents[k].c;
					i += el - 1;
					break;
				}
			}
			if (k == sizeof(ents) / sizeof(ents[0]))
				return dh_err_set(err, DH_E_FORMAT,
				    "TokenValue has an unknown XML entity");
		} else if (c == '<' || (unsigned char)c < 0x20)
			return dh_err_set(err, DH_E_FORMAT,
			    "TokenValue holds markup or control bytes");
		rc = dh_buf_put_u8(out, (uint8_t)c);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "TokenValue too long");
	}
	return DH_OK;
}

static const char *
find_mem(const char *h, size_t hn, const char *needle)
{
	size_t nn = strlen(needle), i;

	if (nn > hn)
		return NULL;
	for (i = 0; i + nn <= hn; i++)
		if (memcmp(h + i, needle, nn) == 0)
			return h + i;
	return NULL;
}

int
ag_ctrl_parse_token(const void *p, size_t n, struct dh_buf *token,
    struct dh_err *err)
{
	const char *s = p, *a, *b;
	size_t before = token->len, i;
	int rc;

	if (n > REST_MAX_BODY)
		return dh_err_set(err, DH_E_TOOBIG,
		    "CreateControlChannel response too large");
	a = find_mem(s, n, "<TokenValue>");
	if (a == NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "CreateControlChannel response has no <TokenValue>");
	a += strlen("<TokenValue>");
	b = find_mem(a, n - (size_t)(a - s), "</TokenValue>");
	if (b == NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "CreateControlChannel response: <TokenValue> not closed");
	if ((size_t)(b - a) > AG_CTRL_TOKEN_MAX)
		return dh_err_set(err, DH_E_TOOBIG, "TokenValue too long");
	rc = xml_unescape(a, (size_t)(b - a), token, err);
	if (rc == DH_OK && token->len == before)
		rc = dh_err_set(err, DH_E_FORMAT, "TokenValue is empty");
	for (i = before; rc == DH_OK && i < token->len; i++)
		if (token->d[i] < 0x21 || token->d[i] > 0x7e)
			rc = dh_err_set(err, DH_E_FORMAT,
			    "TokenValue byte %zu is not printable ASCII",
			    i - before);
	return rc;
}

int
ag_ctrl_open_frame(const char *token, const char *request_id,
    struct dh_buf *out, struct dh_err *err)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *tv;
	int rc = DH_E_NOMEM;

	if (j == NULL || cJSON_AddNullToObject(j, "Cookie") == NULL ||
	    cJSON_AddStringToObject(j, "MessageSchemaVersion", "1.0") ==
	    NULL ||
	    cJSON_AddStringToObject(j, "RequestId", request_id) == NULL ||
	    cJSON_AddStringToObject(j, "TokenValue", token) == NULL ||
	    cJSON_AddStringToObject(j, "AgentVersion", DH_VERSION) == NULL ||
	    cJSON_AddStringToObject(j, "PlatformType", "linux") == NULL)
		goto out;
	rc = dh_json_print(j, out);
out:
	if (rc != DH_OK)
		dh_err_set(err, rc, "cannot build OpenControlChannel");
	tv = j != NULL ? cJSON_GetObjectItemCaseSensitive(j, "TokenValue") :
	    NULL;
	if (cJSON_IsString(tv))
		dh_wipe(tv->valuestring, strlen(tv->valuestring));
	cJSON_Delete(j);
	return rc;
}

/* --------------------------------------------------------------- queue */

static void
queue_clear(struct ag_ctrl *c)
{
	struct outq *q;

	while (c->head != NULL) {
		q = c->head;
		c->head = q->next;
		dh_wipe(q->data, LWS_PRE + q->len);
		free(q);
	}
	c->tail = NULL;
}

static int
queue_push(struct ag_ctrl *c, int binary, const void *p, size_t n)
{
	struct outq *q;

	q = malloc(sizeof(*q) + LWS_PRE + n);
	if (q == NULL)
		return DH_E_NOMEM;
	q->next = NULL;
	q->binary = binary;
	q->len = n;
	memcpy(q->data + LWS_PRE, p, n);
	if (c->tail != NULL)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	return DH_OK;
}

/* ------------------------------------------------------------ REST call */

/* A CreateControlChannel call for the worker thread: inputs copied from
 * the channel (credentials are secrets, wiped with the job). */
struct token_job {
	struct ag_ctrl *c;           /* loop side only (done hook) */
	char url[1024];
	char host[300];
	char path[512];
	char region[64];
	char access_key[128];
	char *secret_key;
	char *session_token;
	int rc;
	struct dh_err err;
	struct dh_buf token;         /* secret */
};

static void
token_job_free(void *arg)
{
	struct token_job *j = arg;

	if (j == NULL)
		return;
	if (j->secret_key != NULL) {
		dh_wipe(j->secret_key, strlen(j->secret_key));
		free(j->secret_key);
	}
	if (j->session_token != NULL) {
		dh_wipe(j->session_token, strlen(j->session_token));
		free(j->session_token);
	}
	dh_buf_free(&j->token);
	dh_wipe(j, sizeof(*j));
	free(j);
}

static int
sign_rest(void *arg, struct dh_http_request *req, struct dh_err *err)
{
	const struct token_job *j = arg;
	struct dh_sigv4_creds sc;

	sc.access_key = j->access_key;
	sc.secret_key = j->secret_key;
	sc.session_token = j->session_token;
	return dh_aws_sign_json_post(req, j->host, j->path, &sc, j->region,
	    "ssmmessages", err);
}

/* Worker thread: CreateControlChannel; fills j->token (secret buffer). */
static void
token_run(void *arg, struct dh_http_client *http)
{
	struct token_job *j = arg;
	struct dh_http_request req;
	struct dh_http_response resp;
	struct dh_uuid u;
	char uid[DH_UUID_STRLEN + 1], body[128], snippet[160];
	int rc;

	dh_http_request_init(&req);
	dh_http_response_init(&resp);
	rc = dh_uuid_v4(&u);
	if (rc != DH_OK) {
		dh_err_set(&j->err, rc, "no randomness for RequestId");
		goto out;
	}
	dh_uuid_fmt(&u, uid);
	snprintf(body, sizeof(body),
	    "{\"MessageSchemaVersion\":\"1.0\",\"RequestId\":\"%s\"}", uid);
	req.method = "POST";
	req.url = j->url;
	req.body = body;
	req.body_len = strlen(body);
	req.sign = sign_rest;
	req.sign_arg = j;
	req.max_body = REST_MAX_BODY;
	rc = dh_http_hdrs_set(&req.headers, "Content-Type", "application/json");
	if (rc != DH_OK)
		goto out;
	rc = dh_http_do(http, &req, &resp, &j->err);
	if (rc != DH_OK) {
		dh_err_wrap(&j->err, rc, "CreateControlChannel");
		goto out;
	}
	if (resp.status != 201 && resp.status != 200) {
		dh_log_escape(resp.body.d, resp.body.len, 120, snippet,
		    sizeof(snippet));
		rc = dh_err_set(&j->err, resp.status == 403 ? DH_E_AUTH :
		    DH_E_HTTP, "CreateControlChannel: HTTP %ld: %s",
		    resp.status, snippet);
		goto out;
	}
	rc = ag_ctrl_parse_token(resp.body.d, resp.body.len, &j->token,
	    &j->err);
out:
	j->rc = rc;
	dh_http_response_free(&resp);
	dh_http_request_free(&req);
}

static char *
dup_secret(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* Loop thread: copy what CreateControlChannel needs into a new job. */
static int
token_job_new(struct ag_ctrl *c, struct token_job **out, struct dh_err *err)
{
	const struct ag_creds *cr = c->p.creds;
	struct token_job *j;
	char query[8];
	int rc;

	*out = NULL;
	if (cr == NULL || cr->secret_key == NULL)
		return dh_err_set(err, DH_E_STATE, "no credentials yet");
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	dh_buf_init_secret(&j->token, AG_CTRL_TOKEN_MAX + 1);
	j->c = c;
	if ((size_t)snprintf(j->url, sizeof(j->url), "%s/v1/control-channel/%s",
	    c->endpoint, c->p.instance_id) >= sizeof(j->url) ||
	    (size_t)snprintf(j->region, sizeof(j->region), "%s",
	    c->p.region) >= sizeof(j->region)) {
		rc = dh_err_set(err, DH_E_ARG, "ssmmessages URL too long");
		goto out;
	}
	rc = dh_http_url_split(j->url, j->host, sizeof(j->host), j->path,
	    sizeof(j->path), query, sizeof(query), err);
	if (rc != DH_OK)
		goto out;
	snprintf(j->access_key, sizeof(j->access_key), "%s", cr->access_key);
	j->secret_key = dup_secret(cr->secret_key);
	j->session_token = dup_secret(cr->session_token);
	if (j->secret_key == NULL || j->session_token == NULL)
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
out:
	if (rc != DH_OK)
		token_job_free(j);
	else
		*out = j;
	return rc;
}

/* ------------------------------------------------------------- connect */

static void connect_cb(lws_sorted_usec_list_t *sul);

static void
schedule(struct ag_ctrl *c, long delay_ms)
{
	lws_sul_schedule(c->p.ctx, 0, &c->sul, connect_cb,
	    (lws_usec_t)delay_ms * 1000);
}

static void
schedule_retry(struct ag_ctrl *c)
{
	long d = ag_backoff_next(&c->bo, dh_random_uniform(0xffffffffu));

	dh_info("control channel: reconnecting in %ld ms", d);
	schedule(c, d);
}

/* Split the endpoint into address, port and Host header value. */
static int
parse_endpoint(struct ag_ctrl *c, struct dh_err *err)
{
	const char *h = c->endpoint + strlen("https://");
	const char *colon, *end;
	size_t hn;
	long port = 443;
	char *e;

	end = strchr(h, '/');
	if (end == NULL)
		end = h + strlen(h);
	colon = memchr(h, ':', (size_t)(end - h));
	hn = (size_t)((colon != NULL ? colon : end) - h);
	if (hn == 0 || hn >= sizeof(c->host) || h[0] == '[')
		return dh_err_set(err, DH_E_ARG,
		    "ssmmessages endpoint host unusable");
	memcpy(c->host, h, hn);
	c->host[hn] = '\0';
	if (colon != NULL) {
		port = strtol(colon + 1, &e, 10);
		if (e != end || port <= 0 || port > 65535)
			return dh_err_set(err, DH_E_ARG,
			    "ssmmessages endpoint port unusable");
	}
	c->port = (int)port;
	if (port == 443)
		snprintf(c->hostport, sizeof(c->hostport), "%s", c->host);
	else
		snprintf(c->hostport, sizeof(c->hostport), "%s:%ld", c->host,
		    port);
	if ((size_t)snprintf(c->path, sizeof(c->path),
	    "/v1/control-channel/%s", c->p.instance_id) >= sizeof(c->path))
		return dh_err_set(err, DH_E_ARG, "instance id too long");
	return DH_OK;
}

/* SigV4 of GET <path>?<query> with only Host signed (plus date/token). */
static int
sign_upgrade(struct ag_ctrl *c, struct dh_err *err)
{
	const struct ag_creds *cr = c->p.creds;
	struct dh_sigv4_header h = { "Host", c->hostport };
	struct dh_sigv4_request r;
	struct dh_sigv4_creds sc;
	struct dh_sigv4_params sp;

	memset(&r, 0, sizeof(r));
	r.method = "GET";
	r.path = c->path;
	r.query = CTRL_QUERY;
	r.headers = &h;
	r.n_headers = 1;
	sc.access_key = cr->access_key;
	sc.secret_key = cr->secret_key;
	sc.session_token = cr->session_token;
	memset(&sp, 0, sizeof(sp));
	sp.creds = &sc;
	sp.region = c->p.region;
	sp.service = "ssmmessages";
	sp.t = dh_time_now();
	dh_sigv4_signed_free(&c->sig);
	dh_sigv4_signed_init(&c->sig);
	return dh_sigv4_sign(&r, &sp, &c->sig, err);
}

/* Loop thread, token in hand: sign the upgrade and start the websocket. */
static int
open_socket(struct ag_ctrl *c, const char *token, struct dh_err *err)
{
	struct lws_client_connect_info ci;
	struct dh_buf open;
	struct dh_uuid u;
	char uid[DH_UUID_STRLEN + 1], pathq[600];
	int rc;

	static lws_retry_bo_t retry;

	dh_buf_init_secret(&open, AG_CTRL_TOKEN_MAX + 1024);
	rc = dh_uuid_v4(&u);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "no randomness for RequestId");
		goto out;
	}
	dh_uuid_fmt(&u, uid);
	rc = ag_ctrl_open_frame(token, uid, &open, err);
	if (rc != DH_OK)
		goto out;
	rc = sign_upgrade(c, err);
	if (rc != DH_OK)
		goto out;
	queue_clear(c);
	rc = queue_push(c, 0, open.d, open.len);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "out of memory");
		goto out;
	}
	snprintf(pathq, sizeof(pathq), "%s?%s", c->path, CTRL_QUERY);
	retry.secs_since_valid_ping = (uint16_t)c->p.ping_seconds;
	retry.secs_since_valid_hangup = (uint16_t)(c->p.ping_seconds + 60);
	memset(&ci, 0, sizeof(ci));
	ci.context = c->p.ctx;
	ci.vhost = c->p.vhost;
	ci.address = c->host;
	ci.port = c->port;
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.path = pathq;
	ci.host = c->hostport;
	ci.origin = NULL;
	ci.protocol = NULL;
	ci.local_protocol_name = AG_CTRL_PROTOCOL;
	ci.opaque_user_data = c;
	ci.retry_and_idle_policy = &retry;
	ci.pwsi = &c->wsi;
	dh_info("control channel: connecting to wss://%s%s", c->hostport,
	    c->path);
	if (lws_client_connect_via_info(&ci) == NULL) {
		c->wsi = NULL;
		rc = dh_err_set(err, DH_E_NET,
		    "websocket connect to %s failed to start", c->hostport);
		goto out;
	}
	rc = DH_OK;
out:
	dh_buf_free(&open);
	return rc;
}

/* Loop thread: the worker finished CreateControlChannel. */
static void
token_done(void *arg)
{
	struct token_job *j = arg;
	struct ag_ctrl *c = j->c;
	struct dh_err e;
	int rc = j->rc;

	dh_err_clear(&e);
	c->token_pending = 0;
	if (rc == DH_OK && c->wsi == NULL)
		rc = open_socket(c, dh_buf_cstr(&j->token), &e);
	else if (rc != DH_OK)
		e = j->err;
	token_job_free(j);
	if (rc != DH_OK) {
		dh_warn("control channel: %s", e.msg);
		schedule_retry(c);
	}
}

/* Loop thread: start a connect by posting CreateControlChannel to the
 * worker; the websocket opens from token_done. */
static int
do_connect(struct ag_ctrl *c, struct dh_err *err)
{
	struct token_job *j = NULL;
	int rc;

	if (c->endpoint == NULL)
		return dh_err_set(err, DH_E_STATE, "no ssmmessages endpoint");
	rc = parse_endpoint(c, err);
	if (rc == DH_OK)
		rc = token_job_new(c, &j, err);
	if (rc == DH_OK)
		rc = ag_worker_post(c->p.worker, token_run, token_done,
		    token_job_free, j, err);
	if (rc != DH_OK) {
		token_job_free(j);
		return rc;
	}
	c->token_pending = 1;
	return DH_OK;
}

static void
connect_cb(lws_sorted_usec_list_t *sul)
{
	struct ag_ctrl *c = lws_container_of(sul, struct ag_ctrl, sul);
	struct dh_err e;

	dh_err_clear(&e);
	if (c->wsi != NULL || c->token_pending)
		return;
	if (do_connect(c, &e) != DH_OK) {
		dh_warn("control channel: %s", e.msg);
		schedule_retry(c);
	}
}

/* ------------------------------------------------------- lws callback */

static void
went_down(struct ag_ctrl *c, const char *why)
{
	int was_up = c->up;

	c->wsi = NULL;
	c->up = 0;
	dh_buf_reset(&c->rx);
	queue_clear(c);
	dh_sigv4_signed_free(&c->sig);
	dh_sigv4_signed_init(&c->sig);
	dh_warn("control channel: %s", why);
	if (was_up && c->p.on_state != NULL)
		c->p.on_state(c->p.arg, 0);
	if (c->reconnect_now) {
		c->reconnect_now = 0;
		ag_backoff_reset(&c->bo);
		schedule(c, 0);
	} else
		schedule_retry(c);
}

static void
dispatch(struct ag_ctrl *c)
{
	struct dh_mgs_msg m;
	struct dh_err e;
	char uid[DH_UUID_STRLEN + 1], esc[80];

	dh_err_clear(&e);
	if (dh_mgs_decode(c->rx.d, c->rx.len, DH_MGS_DEC_DIGEST, &m, &e) !=
	    DH_OK) {
		dh_warn("control channel: dropped a malformed frame of %zu"
		    " bytes: %s", c->rx.len, e.msg);
		return;
	}
	dh_uuid_fmt(&m.id, uid);
	dh_log_escape(m.type, strlen(m.type), 40, esc, sizeof(esc));
	dh_info("control channel: received %s (id %s, %zu payload bytes)", esc,
	    uid, m.payload_len);
	if (c->p.on_msg != NULL)
		c->p.on_msg(c->p.arg, c, &m);
}

static int
on_receive(struct ag_ctrl *c, struct lws *wsi, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi))
		dh_buf_reset(&c->rx);
	if (dh_buf_put(&c->rx, in, len) != DH_OK) {
		dh_warn("control channel: incoming message over %d bytes;"
		    " closing", AG_CTRL_FRAME_MAX);
		return -1;
	}
	if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) ==
	    0) {
		dispatch(c);
		dh_buf_reset(&c->rx);
	}
	return 0;
}

static int
on_writeable(struct ag_ctrl *c, struct lws *wsi)
{
	struct outq *q = c->head;
	int n, first;

	if (q == NULL)
		return 0;
	first = !q->binary;
	n = lws_write(wsi, q->data + LWS_PRE, q->len,
	    q->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
	if (n < (int)q->len)
		return -1;
	c->head = q->next;
	if (c->head == NULL)
		c->tail = NULL;
	dh_wipe(q->data, LWS_PRE + q->len);
	free(q);
	if (first && !c->up) {
		c->up = 1;
		ag_backoff_reset(&c->bo);
		dh_info("control channel: open");
		if (c->p.on_state != NULL)
			c->p.on_state(c->p.arg, 1);
	}
	if (c->head != NULL)
		lws_callback_on_writable(wsi);
	return 0;
}

static int
append_headers(struct ag_ctrl *c, struct lws *wsi, void *in, size_t len)
{
	unsigned char **p = in, *end = (*p) + len;
	char name[64];
	size_t i, k;

	for (i = 0; i < c->sig.n_add; i++) {
		const char *v = c->sig.add[i].value;

		for (k = 0; c->sig.add[i].name[k] != '\0' &&
		    k + 2 < sizeof(name); k++)
			name[k] = (char)((c->sig.add[i].name[k] >= 'A' &&
			    c->sig.add[i].name[k] <= 'Z') ?
			    c->sig.add[i].name[k] + 32 : c->sig.add[i].name[k]);
		name[k++] = ':';
		name[k] = '\0';
		if (lws_add_http_header_by_name(wsi,
		    (const unsigned char *)name, (const unsigned char *)v,
		    (int)strlen(v), p, end) != 0)
			return -1;
	}
	return 0;
}

int
ag_ctrl_lws_callback(struct lws *wsi, int reason, void *user, void *in,
    size_t len)
{
	struct ag_ctrl *c = wsi != NULL ? lws_get_opaque_user_data(wsi) :
	    NULL;
	char why[200];

	if (c == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return append_headers(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		dh_debug("control channel: websocket established");
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(c, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(why, sizeof(why), "connection error: %s",
		    in != NULL ? (const char *)in : "unknown");
		lws_set_opaque_user_data(wsi, NULL);
		went_down(c, why);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		lws_set_opaque_user_data(wsi, NULL);
		went_down(c, "closed");
		return 0;
	default:
		return 0;
	}
}

/* ---------------------------------------------------------------- API */

int
ag_ctrl_new(const struct ag_ctrl_params *p, struct ag_ctrl **out,
    struct dh_err *err)
{
	struct ag_ctrl *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	c->p = *p;
	if (c->p.ping_seconds <= 0)
		c->p.ping_seconds = 54;
	ag_backoff_init(&c->bo, p->initial_backoff_ms, p->max_backoff_ms);
	dh_buf_init(&c->rx, AG_CTRL_FRAME_MAX);
	dh_sigv4_signed_init(&c->sig);
	*out = c;
	return DH_OK;
}

int
ag_ctrl_set_endpoint(struct ag_ctrl *c, const char *url, struct dh_err *err)
{
	char *u;

	if (strncmp(url, "https://", 8) != 0)
		return dh_err_set(err, DH_E_ARG,
		    "ssmmessages endpoint must be https://");
	u = strdup(url);
	if (u == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	free(c->endpoint);
	c->endpoint = u;
	return DH_OK;
}

void
ag_ctrl_set_max_backoff(struct ag_ctrl *c, long max_backoff_ms)
{
	int attempt = c->bo.attempt;

	ag_backoff_init(&c->bo, c->bo.initial_ms, max_backoff_ms);
	c->bo.attempt = attempt;
}

void
ag_ctrl_connect(struct ag_ctrl *c, long delay_ms)
{
	if (c->wsi != NULL) {
		c->reconnect_now = 1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
		return;
	}
	schedule(c, delay_ms);
}

int
ag_ctrl_is_up(const struct ag_ctrl *c)
{
	return c->up;
}

int
ag_ctrl_send(struct ag_ctrl *c, const struct dh_mgs_msg *m,
    struct dh_err *err)
{
	struct dh_buf b;
	int rc;

	if (!c->up || c->wsi == NULL)
		return dh_err_set(err, DH_E_STATE,
		    "control channel is not open");
	dh_buf_init(&b, AG_CTRL_FRAME_MAX);
	rc = dh_mgs_encode(m, &b, err);
	if (rc == DH_OK)
		rc = queue_push(c, 1, b.d, b.len);
	if (rc == DH_OK)
		lws_callback_on_writable(c->wsi);
	dh_buf_free(&b);
	return rc;
}

void
ag_ctrl_free(struct ag_ctrl *c)
{
	if (c == NULL)
		return;
	lws_sul_cancel(&c->sul);
	if (c->wsi != NULL) {
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
	}
	queue_clear(c);
	dh_buf_free(&c->rx);
	dh_sigv4_signed_free(&c->sig);
	free(c->endpoint);
	free(c);
}
