/*
 * gw_api: request routing, authentication, authorization, audit and AWS
 * error rendering for the gateway (see gw_api.h).
 */
#include "gw_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh_json.h"
#include "dh_log.h"
#include "dh_time.h"
#include "dh_uuid.h"
#include "gw_auth.h"
#include "gw_cmd.h"
#include "gw_mw.h"
#include "gw_policy.h"
#include "gw_s3.h"
#include "gw_session.h"
#include "gw_ssm.h"

struct gw_api {
	struct gw_store *st;
	struct gw_audit *audit;
	struct gw_ctrl *ctrl;
	struct gw_cmd *cmd;
	char region[64];
	char account[16];
	char *state_dir;
	struct gw_session *sessions;
	int64_t token_ttl_s;
};

/* What one call resolved to, for audit and error rendering. */
struct call {
	const char *event_source;
	const char *event_name;
	int status;
	const char *error_code;
	char message[512];
	struct gw_principal who;
	cJSON *params;
	int xml_errors;           /* ssmmessages answers errors in XML */
	int rendered;             /* the handler rendered its own error */
};

int
gw_api_new(const struct gw_api_config *cfg, struct gw_api **out,
    struct dh_err *err)
{
	struct gw_api *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (a == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	a->st = cfg->st;
	a->audit = cfg->audit;
	a->ctrl = cfg->ctrl;
	a->sessions = cfg->sessions;
	a->token_ttl_s = cfg->token_ttl_s;
	snprintf(a->region, sizeof(a->region), "%s", cfg->region);
	snprintf(a->account, sizeof(a->account), "%s", cfg->account);
	if (cfg->state_dir != NULL) {
		a->state_dir = strdup(cfg->state_dir);
		if (a->state_dir == NULL) {
			free(a);
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		}
	}
	if (gw_cmd_new(a->st, a->ctrl, &a->cmd, err) != DH_OK) {
		free(a->state_dir);
		free(a);
		return DH_E_NOMEM;
	}
	*out = a;
	return DH_OK;
}

void
gw_api_free(struct gw_api *api)
{
	if (api != NULL) {
		free(api->state_dir);
		gw_cmd_free(api->cmd);
	}
	free(api);
}

void
gw_api_resp_init(struct gw_api_resp *r)
{
	memset(r, 0, sizeof(*r));
	dh_buf_init(&r->body, GW_API_MAX_RESP);
}

void
gw_api_resp_free(struct gw_api_resp *r)
{
	dh_buf_free(&r->body);
	if (r->has_file)
		close(r->file_fd);
	r->has_file = 0;
}

int
gw_api_resp_header(struct gw_api_resp *r, const char *name,
    const char *value)
{
	struct gw_api_resp_header *h;

	if (r->n_hdr == GW_API_MAX_RESP_HEADERS ||
	    strlen(name) >= sizeof(h->name) || strlen(value) >= sizeof(h->value))
		return DH_E_TOOBIG;
	h = &r->hdr[r->n_hdr++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->value, sizeof(h->value), "%s", value);
	return DH_OK;
}

size_t
gw_api_body_limit(const struct gw_api_req *head)
{
	const char *t = dh_sigv4_header_get(&(struct dh_sigv4_request){
	    .headers = head->headers, .n_headers = head->n_headers },
	    "x-amz-target");

	if (t != NULL && strcmp(t, "Logs_20140328.PutLogEvents") == 0)
		return GW_API_MAX_BODY_LOGS;
	return GW_API_MAX_BODY;
}

int
gw_api_spool_open(struct gw_api *api, const struct gw_api_req *head,
    struct gw_s3_spool **out, struct dh_err *err)
{
	*out = NULL;
	if (api->state_dir == NULL || !gw_s3_wants_spool(head))
		return DH_OK;
	return gw_s3_spool_open(api->state_dir, GW_S3_MAX_BODY, out, err);
}

int
gw_api_error_body(const char *code, const char *msg, struct dh_buf *out)
{
	cJSON *o = cJSON_CreateObject();
	int r = DH_E_NOMEM;

	if (o != NULL && cJSON_AddStringToObject(o, "__type", code) != NULL &&
	    cJSON_AddStringToObject(o, "message", msg) != NULL)
		r = dh_json_print(o, out);
	cJSON_Delete(o);
	return r;
}

static void
xml_escape(const char *s, struct dh_buf *out)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<':
			dh_buf_put_str(out, "&lt;");
			break;
		case '>':
			dh_buf_put_str(out, "&gt;");
			break;
		case '&':
			dh_buf_put_str(out, "&amp;");
			break;
		case '"':
			dh_buf_put_str(out, "&quot;");
			break;
		default:
			dh_buf_put_u8(out, (uint8_t)*s);
		}
	}
}

static int
call_fail(struct call *c, int status, const char *code, const char *msg)
{
	c->status = status;
	c->error_code = code;
	snprintf(c->message, sizeof(c->message), "%s", msg);
	return -1;
}

static void
render_error(const struct call *c, struct gw_api_resp *resp)
{
	dh_buf_reset(&resp->body);
	resp->status = c->status;
	if (c->xml_errors) {
		snprintf(resp->content_type, sizeof(resp->content_type),
		    "application/xml");
		dh_buf_printf(&resp->body, "<%s><Message>", c->error_code);
		xml_escape(c->message, &resp->body);
		dh_buf_printf(&resp->body, "</Message></%s>", c->error_code);
		return;
	}
	snprintf(resp->content_type, sizeof(resp->content_type),
	    "application/x-amz-json-1.1");
	if (gw_api_error_body(c->error_code, c->message, &resp->body) != DH_OK)
		dh_buf_reset(&resp->body);
}

static int
auth_status(enum gw_auth_code code)
{
	return code == GW_AUTH_MISSING ? 403 : 400;
}

/* Authenticate for signing service svc; allowed is a GW_SSM_* mask. */
static int
authenticate(struct gw_api *api, const struct gw_api_req *req,
    const char *svc, unsigned allowed, time_t now, struct call *c)
{
	struct dh_sigv4_request sr;
	enum gw_auth_code code;
	struct dh_err e;
	unsigned kind_bit;

	if ((allowed & GW_SSM_ANON) &&
	    dh_sigv4_header_get(&(struct dh_sigv4_request){ .headers =
	    req->headers, .n_headers = req->n_headers }, "authorization") ==
	    NULL) {
		c->who.kind = GW_AUTH_ANONYMOUS;
		return 0;
	}
	memset(&sr, 0, sizeof(sr));
	sr.method = req->method;
	sr.path = req->path;
	sr.query = req->query_enc != NULL ? req->query_enc : req->query;
	sr.headers = req->headers;
	sr.n_headers = req->n_headers;
	sr.body = req->body;
	sr.body_len = req->body_len;
	dh_err_clear(&e);
	if (gw_auth_verify(api->st, &sr, api->region, svc, now,
	    (allowed & GW_SSM_KEY) ? GW_AUTH_ALLOW_RSA : 0, &c->who, &code,
	    &e) != DH_OK)
		return call_fail(c, auth_status(code), gw_auth_code_name(code),
		    e.msg);
	switch (c->who.kind) {
	case GW_AUTH_OPERATOR:
		kind_bit = GW_SSM_OPERATOR;
		break;
	case GW_AUTH_INSTANCE:
		kind_bit = GW_SSM_INSTANCE;
		break;
	case GW_AUTH_INSTANCE_KEY:
		kind_bit = GW_SSM_KEY;
		break;
	default:
		kind_bit = GW_SSM_ANON;
	}
	if (!(allowed & kind_bit))
		return call_fail(c, 400, "AccessDeniedException", "These"
		    " credentials may not call this operation");
	return 0;
}

/* Evaluate the operator's policy for action on resource. */
static int
authorize(struct gw_api *api, struct call *c, const char *action,
    const char *resource)
{
	struct gw_policy *pol = NULL;
	enum gw_decision d;
	struct dh_err e;
	char msg[512];

	if (c->who.kind != GW_AUTH_OPERATOR)
		return 0;
	if (c->who.policy == NULL || gw_policy_parse(c->who.policy,
	    strlen(c->who.policy), &pol, &e) != DH_OK) {
		d = GW_POLICY_IMPLICIT_DENY;
	} else {
		d = gw_policy_eval(pol, action, resource);
		gw_policy_free(pol);
	}
	if (d == GW_POLICY_ALLOW)
		return 0;
	snprintf(msg, sizeof(msg), "User: arn:aws:iam::%s:user/%s is not"
	    " authorized to perform: %s on resource: %s%s", api->account,
	    c->who.name, action, resource, d == GW_POLICY_EXPLICIT_DENY ?
	    " with an explicit deny" : "");
	return call_fail(c, 400, "AccessDeniedException", msg);
}

static int
parse_body(const struct gw_api_req *req, struct call *c)
{
	struct dh_err e;

	if (req->body_len == 0)
		return 0;
	if (dh_json_parse(req->body, req->body_len, gw_api_body_limit(req),
	    &c->params, &e) != DH_OK)
		return call_fail(c, 400, "SerializationException", e.msg);
	return 0;
}

/* Record the call; DH_OK also when there is nothing to record.  Inside the
 * request's transaction the record commits (or not) with the call. */
static int
audit(struct gw_api *api, const struct gw_api_req *req, const struct call *c,
    const char *request_id, int64_t now_ms)
{
	struct gw_audit_event ev;
	struct dh_sigv4_request sr;
	struct dh_err e;
	int r;

	if (api->audit == NULL || c->event_name == NULL)
		return DH_OK;
	memset(&sr, 0, sizeof(sr));
	sr.headers = req->headers;
	sr.n_headers = req->n_headers;
	memset(&ev, 0, sizeof(ev));
	ev.event_source = c->event_source;
	ev.event_name = c->event_name;
	ev.access_key_id = c->who.access_key[0] != '\0' ? c->who.access_key :
	    NULL;
	ev.principal = c->who.name[0] != '\0' ? c->who.name : NULL;
	ev.source_ip = req->source_ip;
	ev.user_agent = dh_sigv4_header_get(&sr, "user-agent");
	ev.request_params = c->params;
	ev.error_code = c->error_code;
	ev.error_message = c->error_code != NULL ? c->message : NULL;
	ev.time_ms = now_ms;
	ev.request_id = request_id;
	dh_err_clear(&e);
	r = gw_audit_record(api->audit, &ev, &e);
	if (r != DH_OK)
		dh_error("audit: recording %s failed: %s", c->event_name, e.msg);
	return r;
}

/*
 * Every call runs inside one store transaction that also holds its audit
 * record (handlers' own transactions nest as savepoints): the call's writes
 * and its record commit together, or neither does.  Finish it: commit when
 * the record was written, else roll everything back.  Returns DH_OK when
 * committed.
 */
static int
txn_finish(struct gw_api *api, int audited)
{
	struct dh_err e;
	int r = audited;

	dh_err_clear(&e);
	while (r == DH_OK && gw_store_txn_depth(api->st) > 0)
		r = gw_store_commit(api->st, &e);
	if (r != DH_OK) {
		if (e.msg[0] != '\0')
			dh_error("request transaction not committed: %s", e.msg);
		while (gw_store_txn_depth(api->st) > 0)
			gw_store_rollback(api->st);
	}
	return r;
}

/* The call could not be committed with its audit record: nothing it wrote
 * is kept, and the client gets a 500 instead of the prepared answer. */
static void
fail_uncommitted(const struct gw_api_req *req, struct call *c,
    struct gw_api_resp *resp)
{
	if (resp->has_file)
		close(resp->file_fd);
	resp->has_file = 0;
	resp->head = 0;
	resp->n_hdr = 0;
	c->status = 500;
	c->error_code = "InternalServerError";
	snprintf(c->message, sizeof(c->message), "The audit record of this"
	    " call could not be written; the call was not applied");
	if (gw_s3_is_s3(req)) {
		resp->status = 500;
		snprintf(resp->content_type, sizeof(resp->content_type),
		    "application/xml");
		dh_buf_reset(&resp->body);
		(void)gw_s3_error_xml("InternalError", c->message, req->path,
		    resp->request_id, &resp->body);
		return;
	}
	render_error(c, resp);
}

static void
json_ok(struct gw_api_resp *resp, const cJSON *body, struct call *c)
{
	resp->status = 200;
	snprintf(resp->content_type, sizeof(resp->content_type),
	    "application/x-amz-json-1.1");
	if (dh_json_print(body, &resp->body) != DH_OK)
		call_fail(c, 500, "InternalServerError",
		    "response too large");
}

static void
handle_json(struct gw_api *api, const struct gw_api_req *req,
    const char *target, int64_t now_ms, struct call *c,
    struct gw_api_resp *resp)
{
	const struct gw_ssm_op *op = gw_ssm_find(target);
	struct gw_ssm_result res;
	struct gw_ssm_ctx ctx;
	cJSON *out = NULL;
	char resource[256];
	struct dh_err e;

	if (target != NULL && strcmp(target, GW_API_CLOUDTRAIL_TARGET) == 0) {
		c->event_source = "cloudtrail.amazonaws.com";
		c->event_name = "LookupEvents";
		if (parse_body(req, c) != 0 ||
		    authenticate(api, req, "cloudtrail", GW_SSM_OPERATOR,
		    (time_t)(now_ms / 1000), c) != 0 ||
		    authorize(api, c, "cloudtrail:LookupEvents", "*") != 0)
			return;
		if (api->audit == NULL) {
			call_fail(c, 400, "OperationNotPermittedException",
			    "auditing is disabled");
			return;
		}
		if (gw_audit_lookup(api->audit, c->params, &out, &e) != DH_OK) {
			call_fail(c, 400, e.code == DH_E_ARG ?
			    gw_audit_lookup_error_code(api->audit) :
			    "InternalServerError", e.msg);
			return;
		}
		json_ok(resp, out, c);
		cJSON_Delete(out);
		return;
	}
	if (op == NULL) {
		call_fail(c, 400, "UnknownOperationException", target == NULL ?
		    "X-Amz-Target header is missing" : "Unknown operation");
		return;
	}
	c->event_source = op->event_source;
	c->event_name = op->name;
	if (parse_body(req, c) != 0 ||
	    authenticate(api, req, op->service, op->who,
	    (time_t)(now_ms / 1000), c) != 0)
		return;
	memset(&ctx, 0, sizeof(ctx));
	ctx.st = api->st;
	ctx.region = api->region;
	ctx.account = api->account;
	ctx.who = &c->who;
	ctx.now_ms = now_ms;
	ctx.state_dir = api->state_dir;
	ctx.sessions = api->sessions;
	ctx.token_ttl_s = api->token_ttl_s;
	ctx.host = dh_sigv4_header_get(&(struct dh_sigv4_request){
	    .headers = req->headers, .n_headers = req->n_headers }, "host");
	gw_ssm_resource(&ctx, op, c->params, resource, sizeof(resource));
	if (authorize(api, c, op->action, resource) != 0)
		return;
	(void)gw_ssm_call(&ctx, op, c->params, &res);
	if (res.error_code != NULL)
		call_fail(c, res.status, res.error_code, res.message);
	else
		json_ok(resp, res.body, c);
	gw_ssm_result_free(&res);
}

static void
handle_s3(struct gw_api *api, const struct gw_api_req *req, int64_t now_ms,
    struct call *c, struct gw_api_resp *resp)
{
	struct gw_s3_result res;
	struct gw_s3_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.st = api->st;
	ctx.state_dir = api->state_dir;
	ctx.region = api->region;
	ctx.account = api->account;
	ctx.now_ms = now_ms;
	c->event_source = "s3.amazonaws.com";
	(void)gw_s3_handle(&ctx, req, &c->who, &res, resp);
	c->event_name = res.op;
	c->params = res.params;
	if (res.error_code != NULL) {
		c->status = resp->status;
		c->error_code = res.error_code;
		snprintf(c->message, sizeof(c->message), "%s", res.message);
		c->rendered = 1;
	}
}

static void
handle_ctrl(struct gw_api *api, const struct gw_api_req *req, int64_t now_ms,
    struct call *c, struct gw_api_resp *resp)
{
	char id[24];
	struct dh_err e;

	c->event_source = "ssmmessages.amazonaws.com";
	c->event_name = "CreateControlChannel";
	c->xml_errors = 1;
	if (gw_ctrl_parse_path(req->path, id, sizeof(id), &e) != DH_OK) {
		call_fail(c, 400, "ValidationException", e.msg);
		return;
	}
	if (parse_body(req, c) != 0 ||
	    authenticate(api, req, "ssmmessages", GW_SSM_INSTANCE,
	    (time_t)(now_ms / 1000), c) != 0)
		return;
	if (strcmp(c->who.instance_id, id) != 0) {
		call_fail(c, 400, "AccessDeniedException", "credentials belong"
		    " to another instance");
		return;
	}
	if (gw_ctrl_create_channel(api->ctrl, id, c->params, now_ms,
	    &resp->body, &e) != DH_OK) {
		call_fail(c, e.code == DH_E_FORMAT ? 400 : 500,
		    e.code == DH_E_FORMAT ? "ValidationException" :
		    "InternalServerError", e.msg);
		return;
	}
	resp->status = 201;
	snprintf(resp->content_type, sizeof(resp->content_type),
	    "application/xml");
}

/* CreateDataChannel: POST /v1/data-channel/<session-id> by the target. */
static void
handle_data(struct gw_api *api, const struct gw_api_req *req, int64_t now_ms,
    struct call *c, struct gw_api_resp *resp)
{
	char sid[GW_RELAY_SID_MAX + 1];
	struct dh_err e;
	int r;

	c->event_source = "ssmmessages.amazonaws.com";
	c->event_name = "CreateDataChannel";
	c->xml_errors = 1;
	if (gw_relay_parse_path(req->path, sid, sizeof(sid), &e) != DH_OK) {
		call_fail(c, 400, "ValidationException", e.msg);
		return;
	}
	if (parse_body(req, c) != 0 ||
	    authenticate(api, req, "ssmmessages", GW_SSM_INSTANCE,
	    (time_t)(now_ms / 1000), c) != 0)
		return;
	if (api->sessions == NULL) {
		call_fail(c, 400, "ValidationException", "sessions are not"
		    " available on this gateway");
		return;
	}
	dh_err_clear(&e);
	r = gw_relay_create_channel(gw_session_relay(api->sessions), sid,
	    c->who.instance_id, c->params, now_ms, &resp->body, &e);
	if (r != DH_OK) {
		/* The agent does not retry "Session is already terminated". */
		call_fail(c, r == DH_E_NOTFOUND ? 404 : r == DH_E_AUTH ||
		    r == DH_E_STATE || r == DH_E_FORMAT ? 400 : 500,
		    r == DH_E_NOTFOUND ? "ResourceNotFoundException" :
		    r == DH_E_AUTH ? "AccessDeniedException" :
		    r == DH_E_STATE || r == DH_E_FORMAT ? "ValidationException" :
		    "InternalServerError", e.msg);
		return;
	}
	resp->status = 201;
	snprintf(resp->content_type, sizeof(resp->content_type),
	    "application/xml");
}

int
gw_api_handle(struct gw_api *api, const struct gw_api_req *req,
    struct gw_api_resp *resp)
{
	struct dh_sigv4_request sr;
	int64_t now_ms = dh_time_now_ms();
	struct dh_uuid u;
	struct dh_err e;
	struct call c;

	memset(&c, 0, sizeof(c));
	if (dh_uuid_v4(&u) != DH_OK)
		memset(&u, 0, sizeof(u));
	dh_uuid_fmt(&u, resp->request_id);
	dh_buf_reset(&resp->body);
	memset(&sr, 0, sizeof(sr));
	sr.headers = req->headers;
	sr.n_headers = req->n_headers;
	dh_err_clear(&e);
	if (gw_store_begin(api->st, &e) != DH_OK) {
		dh_error("request transaction: %s", e.msg);
		call_fail(&c, 500, "InternalServerError", "the state database"
		    " is unavailable");
	} else if (gw_s3_is_s3(req))
		handle_s3(api, req, now_ms, &c, resp);
	else if (strcmp(req->method, "POST") == 0 &&
	    strncmp(req->path, GW_CTRL_PATH, strlen(GW_CTRL_PATH)) == 0)
		handle_ctrl(api, req, now_ms, &c, resp);
	else if (strcmp(req->method, "POST") == 0 &&
	    strncmp(req->path, GW_RELAY_PATH, strlen(GW_RELAY_PATH)) == 0)
		handle_data(api, req, now_ms, &c, resp);
	else if (strcmp(req->method, "POST") == 0 &&
	    strcmp(req->path, "/") == 0)
		handle_json(api, req, dh_sigv4_header_get(&sr, "x-amz-target"),
		    now_ms, &c, resp);
	else if (strcmp(req->method, "GET") == 0 &&
	    strcmp(req->path, "/ping") == 0) {
		resp->status = 200;
		snprintf(resp->content_type, sizeof(resp->content_type),
		    "text/plain");
		dh_buf_put_str(&resp->body, "ok\n");
	} else
		call_fail(&c, 404, "UnknownOperationException",
		    "No such resource");
	if (c.error_code != NULL && !c.rendered)
		render_error(&c, resp);
	if (txn_finish(api, audit(api, req, &c, resp->request_id, now_ms)) !=
	    DH_OK)
		fail_uncommitted(req, &c, resp);
	cJSON_Delete(c.params);
	gw_auth_clear(&c.who);
	return DH_OK;
}

static int
query_has(const char *query, const char *pair)
{
	size_t n = strlen(pair);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, pair, n) == 0 && (p[n] == '&' || p[n] == '\0'))
			return 1;
		p = strchr(p, '&');
		if (p != NULL)
			p++;
	}
	return 0;
}

int
gw_api_ws_open(struct gw_api *api, const struct gw_api_req *req,
    void *handle, struct gw_ctrl_conn **conn, struct dh_err *err)
{
	int64_t now_ms = dh_time_now_ms();
	struct dh_uuid u;
	char id[24], rid[DH_UUID_STRLEN + 1];
	struct call c;
	int r = DH_OK;

	*conn = NULL;
	memset(&c, 0, sizeof(c));
	c.event_source = "ssmmessages.amazonaws.com";
	c.event_name = "OpenControlChannel";
	if (dh_uuid_v4(&u) != DH_OK)
		memset(&u, 0, sizeof(u));
	dh_uuid_fmt(&u, rid);
	if (gw_store_begin(api->st, err) != DH_OK) {
		call_fail(&c, 500, "InternalServerError", "the state database"
		    " is unavailable");
	} else if (gw_ctrl_parse_path(req->path, id, sizeof(id), err) !=
	    DH_OK || !query_has(req->query != NULL ? req->query : "",
	    "role=subscribe")) {
		call_fail(&c, 400, "ValidationException", "not a control"
		    " channel URL");
	} else if (authenticate(api, req, "ssmmessages", GW_SSM_INSTANCE,
	    (time_t)(now_ms / 1000), &c) == 0 &&
	    strcmp(c.who.instance_id, id) != 0) {
		call_fail(&c, 400, "AccessDeniedException", "credentials belong"
		    " to another instance");
	}
	if (c.error_code == NULL)
		r = gw_ctrl_ws_attach(api->ctrl, id, handle, now_ms, conn, err);
	else
		r = dh_err_set(err, DH_E_AUTH, "%s: %s", c.error_code,
		    c.message);
	if (txn_finish(api, audit(api, req, &c, rid, now_ms)) != DH_OK) {
		if (*conn != NULL)
			gw_ctrl_ws_detach(api->ctrl, *conn);
		*conn = NULL;
		r = dh_err_set(err, DH_E_IO, "the audit record could not be"
		    " written; upgrade refused");
	}
	gw_auth_clear(&c.who);
	return r;
}

int
gw_api_ws_open_data(struct gw_api *api, const struct gw_api_req *req,
    void *handle, struct gw_relay_leg **leg, struct dh_err *err)
{
	int64_t now_ms = dh_time_now_ms();
	struct dh_sigv4_request sr;
	char sid[GW_RELAY_SID_MAX + 1], rid[DH_UUID_STRLEN + 1];
	struct dh_uuid u;
	struct call c;
	int signed_req, r = DH_OK;

	*leg = NULL;
	memset(&c, 0, sizeof(c));
	memset(&sr, 0, sizeof(sr));
	sr.headers = req->headers;
	sr.n_headers = req->n_headers;
	signed_req = dh_sigv4_header_get(&sr, "authorization") != NULL;
	c.event_source = "ssmmessages.amazonaws.com";
	c.event_name = signed_req ? "OpenDataChannel" : "StartSessionStream";
	if (dh_uuid_v4(&u) != DH_OK)
		memset(&u, 0, sizeof(u));
	dh_uuid_fmt(&u, rid);
	if (gw_store_begin(api->st, err) != DH_OK)
		call_fail(&c, 500, "InternalServerError", "the state database"
		    " is unavailable");
	else if (api->sessions == NULL ||
	    gw_relay_parse_path(req->path, sid, sizeof(sid), err) != DH_OK ||
	    !query_has(req->query != NULL ? req->query : "",
	    "role=publish_subscribe"))
		call_fail(&c, 400, "ValidationException", "not a data channel"
		    " URL");
	else if (signed_req)
		(void)authenticate(api, req, "ssmmessages", GW_SSM_INSTANCE,
		    (time_t)(now_ms / 1000), &c);
	if (c.error_code == NULL)
		r = gw_relay_ws_attach(gw_session_relay(api->sessions), sid,
		    signed_req ? c.who.instance_id : NULL, handle, now_ms, leg,
		    err);
	else
		r = dh_err_set(err, DH_E_AUTH, "%s: %s", c.error_code,
		    c.message);
	if (txn_finish(api, audit(api, req, &c, rid, now_ms)) != DH_OK) {
		if (*leg != NULL)
			gw_relay_ws_detach(gw_session_relay(api->sessions),
			    *leg, now_ms);
		*leg = NULL;
		r = dh_err_set(err, DH_E_IO, "the audit record could not be"
		    " written; upgrade refused");
	}
	gw_auth_clear(&c.who);
	return r;
}

void
gw_api_tick(struct gw_api *api, int64_t now_ms)
{
	struct dh_err e;

	if (api->audit != NULL && gw_audit_deliver(api->audit, now_ms, &e) !=
	    DH_OK)
		dh_warn("audit delivery failed: %s", e.msg);
	(void)gw_store_token_prune(api->st, now_ms, NULL);
}

void
gw_api_poll(struct gw_api *api, int64_t now_ms)
{
	struct dh_err e;

	dh_err_clear(&e);
	if (gw_mw_tick(api->st, api->region, api->account, now_ms, &e) !=
	    DH_OK)
		dh_warn("maintenance windows: %s", e.msg);
	(void)gw_cmd_pump(api->cmd, now_ms);
}
