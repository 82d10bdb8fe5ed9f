/*
 * gw_session: StartSession / ResumeSession / TerminateSession /
 * DescribeSessions and the session records (see gw_session.h).
 * Statements are prepared and bound from a format string ('s' text, 'i'
 * int64); no SQL text is built from request data.
 */
#include "gw_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_time.h"
#include "gw_docs.h"
#include "gw_res.h"

struct gw_session {
	struct gw_store *st;
	struct gw_ctrl *ctrl;
	struct gw_relay *relay;
	char region[64];
	char account[16];
};

static int op_start(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_resume(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_terminate(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_describe(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);

#define SRC "ssm.amazonaws.com"
#define OPR GW_SSM_OPERATOR

const struct gw_ssm_op gw_session_ops[] = {
	{ "AmazonSSM.StartSession", "StartSession", "ssm", SRC,
	    "ssm:StartSession", OPR, op_start },
	{ "AmazonSSM.ResumeSession", "ResumeSession", "ssm", SRC,
	    "ssm:ResumeSession", OPR, op_resume },
	{ "AmazonSSM.TerminateSession", "TerminateSession", "ssm", SRC,
	    "ssm:TerminateSession", OPR, op_terminate },
	{ "AmazonSSM.DescribeSessions", "DescribeSessions", "ssm", SRC,
	    "ssm:DescribeSessions", OPR, op_describe },
};

const size_t gw_session_n_ops =
    sizeof(gw_session_ops) / sizeof(gw_session_ops[0]);

/* A stored session. */
struct rec {
	char id[GW_RELAY_SID_MAX + 1];
	char target[24];
	char owner[256];
	char document[129];
	char reason[257];
	char status[16];
	int64_t start_ms, end_ms, idle_ms, max_ms;
	char max_duration[8];
	char details[1024];
	char s3_url[1100];
	char cw_url[1100];
};

/* ---------------------------------------------------------------- SQL */




#define REC_COLS "id, target, owner, document_name, reason, status," \
	" start_ms, end_ms, idle_ms, max_ms, max_duration, details, s3_url," \
	" cw_url"

static void
row_rec(sqlite3_stmt *s, struct rec *r)
{
	gw_store_col_copy(s, 0, r->id, sizeof(r->id));
	gw_store_col_copy(s, 1, r->target, sizeof(r->target));
	gw_store_col_copy(s, 2, r->owner, sizeof(r->owner));
	gw_store_col_copy(s, 3, r->document, sizeof(r->document));
	gw_store_col_copy(s, 4, r->reason, sizeof(r->reason));
	gw_store_col_copy(s, 5, r->status, sizeof(r->status));
	r->start_ms = sqlite3_column_int64(s, 6);
	r->end_ms = sqlite3_column_int64(s, 7);
	r->idle_ms = sqlite3_column_int64(s, 8);
	r->max_ms = sqlite3_column_int64(s, 9);
	gw_store_col_copy(s, 10, r->max_duration, sizeof(r->max_duration));
	gw_store_col_copy(s, 11, r->details, sizeof(r->details));
	gw_store_col_copy(s, 12, r->s3_url, sizeof(r->s3_url));
	gw_store_col_copy(s, 13, r->cw_url, sizeof(r->cw_url));
}

static int
rec_get(struct gw_store *st, const char *id, struct rec *r,
    struct dh_err *err)
{
	sqlite3_stmt *s;
	int rc, ret;

	memset(r, 0, sizeof(*r));
	ret = gw_store_prep(st, &s, err, "SELECT " REC_COLS " FROM sessions WHERE"
	    " id = ?", "s", id);
	if (ret != DH_OK)
		return ret;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		row_rec(s, r);
		ret = DH_OK;
	} else if (rc == SQLITE_DONE)
		ret = dh_err_set(err, DH_E_NOTFOUND, "Session with id %s does"
		    " not exist.", id);
	else
		ret = dh_err_set(err, DH_E_IO, "sqlite step: %s",
		    sqlite3_errmsg(gw_store_db(st)));
	sqlite3_finalize(s);
	return ret;
}

static int
status_final(const char *st)
{
	return strcmp(st, "Terminated") == 0 || strcmp(st, "Failed") == 0;
}

static enum gw_relay_status
status_parse(const char *st)
{
	enum gw_relay_status i;

	for (i = GW_RELAY_CONNECTING; i <= GW_RELAY_FAILED; i++)
		if (strcmp(gw_relay_status_name(i), st) == 0)
			return i;
	return GW_RELAY_FAILED;
}

/* Set a status unless the record is already final. */
static int
rec_status(struct gw_store *st, const char *id, const char *status,
    int64_t now_ms, struct dh_err *err)
{
	sqlite3_stmt *s;
	int r;

	r = gw_store_prep(st, &s, err, "UPDATE sessions SET status = ?, end_ms = CASE"
	    " WHEN ? IN ('Terminated', 'Failed') THEN ? ELSE end_ms END"
	    " WHERE id = ? AND status NOT IN ('Terminated', 'Failed')", "ssis",
	    status, status, now_ms, id);
	if (r == DH_OK)
		r = gw_store_done(st, s, err);
	return r;
}

/* -------------------------------------------------------- relay hooks */

static int
hook_lookup(void *arg, const char *sid, struct gw_relay_info *out)
{
	struct gw_session *g = arg;
	struct rec *r = malloc(sizeof(*r));
	int ret;

	if (r == NULL)
		return DH_E_NOMEM;
	ret = rec_get(g->st, sid, r, NULL);
	if (ret == DH_OK) {
		memset(out, 0, sizeof(*out));
		snprintf(out->id, sizeof(out->id), "%s", r->id);
		snprintf(out->target, sizeof(out->target), "%s", r->target);
		out->start_ms = r->start_ms;
		out->idle_ms = r->idle_ms;
		out->max_ms = r->max_ms;
		out->status = status_parse(r->status);
	}
	free(r);
	return ret;
}

static void
hook_status(void *arg, const char *sid, enum gw_relay_status st,
    int64_t now_ms)
{
	struct gw_session *g = arg;

	(void)rec_status(g->st, sid, gw_relay_status_name(st), now_ms, NULL);
}

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
hook_task(void *arg, const char *sid, const cJSON *p, int64_t now_ms)
{
	struct gw_session *g = arg;
	const char *bucket = jstr(p, "S3Bucket"), *suffix = jstr(p, "S3UrlSuffix");
	const char *grp = jstr(p, "CwlGroup"), *stream = jstr(p, "CwlStream");
	const char *out = jstr(p, "Output"), *fin = jstr(p, "FinalTaskStatus");
	char s3[1100] = "", cw[1100] = "";
	sqlite3_stmt *s;

	if (bucket != NULL && bucket[0] != '\0' && suffix != NULL)
		snprintf(s3, sizeof(s3), "s3://%s/%s", bucket, suffix);
	if (grp != NULL && grp[0] != '\0' && stream != NULL)
		snprintf(cw, sizeof(cw), "arn:aws:logs:%s:%s:log-group:%s:"
		    "log-stream:%s", g->region, g->account, grp, stream);
	if (gw_store_prep(g->st, &s, NULL, "UPDATE sessions SET s3_url = ?, cw_url = ?,"
	    " details = CASE WHEN ? = '' THEN details ELSE ? END WHERE id = ?",
	    "sssss", s3, cw, out != NULL ? out : "", out != NULL ? out : "",
	    sid) == DH_OK)
		(void)gw_store_done(g->st, s, NULL);
	if (fin != NULL && (strcmp(fin, "Failed") == 0 ||
	    strcmp(fin, "TimedOut") == 0))
		(void)rec_status(g->st, sid, "Failed", now_ms, NULL);
}

/* ------------------------------------------------------------ service */

static int
adopt_all(struct gw_session *g, int64_t now_ms, struct dh_err *err)
{
	struct gw_relay_info info;
	sqlite3_stmt *s;
	struct rec *r;
	int rc, ret;

	r = malloc(sizeof(*r));
	if (r == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	ret = gw_store_prep(g->st, &s, err, "SELECT " REC_COLS " FROM sessions WHERE"
	    " status NOT IN ('Terminated', 'Failed')", "");
	while (ret == DH_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(r, 0, sizeof(*r));
		row_rec(s, r);
		memset(&info, 0, sizeof(info));
		snprintf(info.id, sizeof(info.id), "%s", r->id);
		snprintf(info.target, sizeof(info.target), "%s", r->target);
		info.start_ms = r->start_ms;
		info.idle_ms = r->idle_ms;
		info.max_ms = r->max_ms;
		info.status = status_parse(r->status);
		ret = gw_relay_adopt(g->relay, &info, now_ms, err);
	}
	if (s != NULL)
		sqlite3_finalize(s);
	free(r);
	return ret;
}

int
gw_session_new(struct gw_store *st, struct gw_ctrl *ctrl, const char *region,
    const char *account, int64_t now_ms, struct gw_session **out,
    struct dh_err *err)
{
	struct gw_relay_hooks h;
	struct gw_session *g;
	int r;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	g->st = st;
	g->ctrl = ctrl;
	snprintf(g->region, sizeof(g->region), "%s", region);
	snprintf(g->account, sizeof(g->account), "%s", account);
	memset(&h, 0, sizeof(h));
	h.lookup = hook_lookup;
	h.status = hook_status;
	h.task_done = hook_task;
	h.arg = g;
	r = gw_relay_new(ctrl, &h, &g->relay, err);
	if (r == DH_OK)
		r = adopt_all(g, now_ms, err);
	if (r != DH_OK) {
		gw_session_free(g);
		return r;
	}
	*out = g;
	return DH_OK;
}

void
gw_session_free(struct gw_session *s)
{
	if (s == NULL)
		return;
	gw_relay_free(s->relay);
	free(s);
}

struct gw_relay *
gw_session_relay(struct gw_session *s)
{
	return s->relay;
}

/* ---------------------------------------------------- payload helpers */

int
gw_session_minutes(const cJSON *inputs, const char *key, int64_t dflt,
    int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(inputs, key);
	char *end = NULL;
	long n;

	*out = dflt;
	if (v == NULL || cJSON_IsNull(v))
		return DH_OK;
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble != (double)(long)v->valuedouble ||
		    v->valuedouble < 0 || v->valuedouble > 1440)
			return DH_E_FORMAT;
		*out = (int64_t)v->valuedouble;
		return DH_OK;
	}
	if (!cJSON_IsString(v))
		return DH_E_FORMAT;
	if (v->valuestring[0] == '\0')
		return DH_OK;
	n = strtol(v->valuestring, &end, 10);
	if (end == v->valuestring || *end != '\0' || n < 0 || n > 1440)
		return DH_E_FORMAT;
	*out = n;
	return DH_OK;
}

/* Parameters for the agent: {"name": "v"} for one value, else the list. */
static cJSON *
agent_params(const cJSON *params)
{
	cJSON *o = cJSON_CreateObject(), *v;
	const cJSON *p;

	if (o == NULL)
		return NULL;
	cJSON_ArrayForEach(p, params) {
		if (cJSON_GetArraySize(p) == 1)
			v = cJSON_CreateString(cJSON_GetArrayItem(p,
			    0)->valuestring);
		else
			v = cJSON_Duplicate(p, 1);
		if (v == NULL || !cJSON_AddItemToObject(o, p->string, v)) {
			cJSON_Delete(v);
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

int
gw_session_shell_payload(const char *sid, const char *doc_name,
    const char *owner, const char *run_as, const cJSON *params,
    const cJSON *content, struct dh_buf *out, struct dh_err *err)
{
	cJSON *inner = cJSON_CreateObject(), *outer = cJSON_CreateObject();
	cJSON *pa = NULL, *dc = NULL;
	struct dh_buf text;
	int r = DH_E_NOMEM;

	dh_buf_init(&text, GW_CTRL_MAX_FRAME);
	if (inner == NULL || outer == NULL)
		goto done;
	pa = agent_params(params);
	dc = cJSON_Duplicate(content, 1);
	if (pa == NULL || dc == NULL ||
	    !cJSON_AddStringToObject(inner, "SessionId", sid) ||
	    !cJSON_AddStringToObject(inner, "DocumentName", doc_name) ||
	    !cJSON_AddStringToObject(inner, "RunAsUser", run_as) ||
	    !cJSON_AddStringToObject(inner, "SessionOwner", owner) ||
	    !cJSON_AddItemToObject(inner, "Parameters", pa)) {
		cJSON_Delete(pa);
		cJSON_Delete(dc);
		goto done;
	}
	if (!cJSON_AddItemToObject(inner, "DocumentContent", dc)) {
		cJSON_Delete(dc);
		goto done;
	}
	r = dh_json_print(inner, &text);
	if (r != DH_OK)
		goto done;
	r = DH_E_NOMEM;
	if (!cJSON_AddStringToObject(outer, "Content", dh_buf_cstr(&text)) ||
	    !cJSON_AddStringToObject(outer, "TaskId", sid) ||
	    !cJSON_AddStringToObject(outer, "Topic",
	    "aws.ssm.sessionManager.startSession") ||
	    !cJSON_AddNumberToObject(outer, "SchemaVersion", 1))
		goto done;
	r = dh_json_print(outer, out);
done:
	dh_buf_free(&text);
	cJSON_Delete(inner);
	cJSON_Delete(outer);
	if (r != DH_OK)
		return dh_err_set(err, r, "interactive_shell payload: %s",
		    dh_strerror(r));
	return DH_OK;
}

/* ------------------------------------------------------------ results */

static void
owner_arn(const struct gw_ssm_ctx *c, char *out, size_t n)
{
	snprintf(out, n, "arn:aws:iam::%s:user/%s", c->account,
	    c->who != NULL && c->who->name[0] != '\0' ? c->who->name :
	    "unknown");
}

/* Host for StreamUrl: the request's Host when it is a plain host[:port]. */
static const char *
stream_host(const struct gw_ssm_ctx *c)
{
	const char *h = c->host;
	size_t i;

	if (h == NULL || h[0] == '\0' || strlen(h) > 255)
		return "localhost";
	for (i = 0; h[i] != '\0'; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' &&
		    h[i] <= 'Z') || (h[i] >= '0' && h[i] <= '9') ||
		    h[i] == '.' || h[i] == '-' || h[i] == ':' || h[i] == '[' ||
		    h[i] == ']'))
			return "localhost";
	return h;
}

static int
session_json(cJSON *o, const char *sid, const char *token, const char *host)
{
	char url[512];

	snprintf(url, sizeof(url), "wss://%s" GW_RELAY_PATH "%s"
	    "?role=publish_subscribe", host, sid);
	return cJSON_AddStringToObject(o, "SessionId", sid) != NULL &&
	    cJSON_AddStringToObject(o, "TokenValue", token) != NULL &&
	    cJSON_AddStringToObject(o, "StreamUrl", url) != NULL ? 0 : -1;
}

/* "<caller>-<17 hex>" within the 96-byte limit. */
static int
new_session_id(const struct gw_ssm_ctx *c, char *out, size_t n)
{
	unsigned char raw[9];
	char hex[19], name[79];
	const char *src = c->who != NULL ? c->who->name : "";
	size_t i, j = 0;

	for (i = 0; src[i] != '\0' && j < sizeof(name) - 1; i++) {
		char ch = src[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '@' || ch == '+' || ch == '=')
			name[j++] = ch;
	}
	name[j] = '\0';
	if (dh_random(raw, sizeof(raw)) != DH_OK)
		return -1;
	dh_hex_encode(raw, sizeof(raw), hex);
	if (j == 0) {
		memcpy(name, "session", 8);
		j = 7;
	}
	if (n < j + 1 + 17 + 1)
		return -1;
	memcpy(out, name, j);
	out[j] = '-';
	memcpy(out + j + 1, hex, 17);
	out[j + 18] = '\0';
	return 0;
}

static int
check_params(const cJSON *p, struct gw_ssm_result *res)
{
	const cJSON *e, *v;

	if (p == NULL || cJSON_IsNull(p))
		return 0;
	if (!cJSON_IsObject(p)) {
		gw_res_fail(res, 400, "ValidationException",
		    "Parameters must be a map"
		    " of string lists");
		return -1;
	}
	cJSON_ArrayForEach(e, p) {
		if (!cJSON_IsArray(e) || strlen(e->string) > 255) {
			gw_res_fail(res, 400, "ValidationException",
			    "Parameter %.64s"
			    " must be a list of strings", e->string);
			return -1;
		}
		cJSON_ArrayForEach(v, e)
			if (!cJSON_IsString(v) || strlen(v->valuestring) >
			    65536) {
				gw_res_fail(res, 400, "ValidationException",
				    "Parameter %.64s must be a list of strings",
				    e->string);
				return -1;
			}
	}
	return 0;
}

/* ---------------------------------------------------------- operations */

static int
op_start(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *target, *doc, *reason;
	struct gw_store_instance *inst = NULL;
	const cJSON *params, *inputs;
	struct gw_relay_info info;
	struct gw_session *g = c->sessions;
	char sid[GW_RELAY_SID_MAX + 1], owner[256], token[65], md[24] = "";
	cJSON *content = NULL;
	struct dh_buf pl;
	struct dh_err e;
	sqlite3_stmt *s;
	int64_t idle, max;
	int r;

	dh_buf_init(&pl, GW_CTRL_MAX_FRAME);
	dh_err_clear(&e);
	if (g == NULL)
		return gw_res_fail(res, 500, "InternalServerError",
		    "sessions are not"
		    " available on this gateway");
	params = cJSON_GetObjectItemCaseSensitive(in, "Parameters");
	if (gw_res_req_str(in, "Target", 1, 400, &target, res) != 0 ||
	    gw_res_opt_str(in, "DocumentName", 1, 200, &doc, res) != 0 ||
	    gw_res_opt_str(in, "Reason", 1, 256, &reason, res) != 0 ||
	    check_params(params, res) != 0)
		return DH_OK;
	if (doc == NULL)
		doc = GW_DOCS_PREFS;
	inst = malloc(sizeof(*inst));
	if (inst == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_instance_get(c->st, target, inst, &e);
	free(inst);
	if (r == DH_E_NOTFOUND || (r == DH_OK &&
	    gw_ctrl_lookup(g->ctrl, target) == NULL))
		return gw_res_fail(res, 400, "TargetNotConnected", "%s is not"
		    " connected.", target);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	r = gw_docs_session_content(c->st, doc, &content, &e);
	if (r == DH_E_NOTFOUND || r == DH_E_FORMAT)
		return gw_res_fail(res, 400, "InvalidDocument",
		    r == DH_E_NOTFOUND ?
		    "Document with name %s does not exist." : "Document %s is"
		    " not a Session document.", doc);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	inputs = cJSON_GetObjectItemCaseSensitive(content, "inputs");
	if (gw_session_minutes(inputs, "idleSessionTimeout",
	    GW_SESSION_IDLE_DEFAULT_MIN, &idle) != DH_OK ||
	    gw_session_minutes(inputs, "maxSessionDuration", 0, &max) !=
	    DH_OK) {
		cJSON_Delete(content);
		return gw_res_fail(res, 400, "InvalidDocument",
		    "Document %s has a bad"
		    " idleSessionTimeout or maxSessionDuration.", doc);
	}
	if (max > 0)
		snprintf(md, sizeof(md), "%lld", (long long)max);
	owner_arn(c, owner, sizeof(owner));
	if (new_session_id(c, sid, sizeof(sid)) != 0) {
		cJSON_Delete(content);
		return gw_res_internal(res, DH_E_CRYPTO, NULL);
	}
	r = gw_session_shell_payload(sid, doc, owner, "", params, content,
	    &pl, &e);
	cJSON_Delete(content);
	if (r != DH_OK)
		goto fail_internal;
	r = gw_store_prep(c->st, &s, &e, "INSERT INTO sessions (" REC_COLS ") VALUES (?,"
	    " ?, ?, ?, ?, 'Connecting', ?, 0, ?, ?, ?, '', '', '')", "sssssiiis",
	    sid, target, owner, doc, reason != NULL ? reason : "", c->now_ms,
	    idle * gw_relay_minute_ms(g->relay),
	    max * gw_relay_minute_ms(g->relay), md);
	if (r == DH_OK)
		r = gw_store_done(c->st, s, &e);
	if (r != DH_OK)
		goto fail_internal;
	memset(&info, 0, sizeof(info));
	snprintf(info.id, sizeof(info.id), "%s", sid);
	snprintf(info.target, sizeof(info.target), "%s", target);
	info.start_ms = c->now_ms;
	info.idle_ms = idle * gw_relay_minute_ms(g->relay);
	info.max_ms = max * gw_relay_minute_ms(g->relay);
	info.status = GW_RELAY_CONNECTING;
	r = gw_relay_start(g->relay, &info, dh_buf_cstr(&pl), c->now_ms, token,
	    &e);
	dh_buf_free(&pl);
	if (r != DH_OK) {
		(void)rec_status(c->st, sid, "Failed", c->now_ms, NULL);
		if (r == DH_E_NOTFOUND || r == DH_E_TOOBIG)
			return gw_res_fail(res, 400, "TargetNotConnected",
			    "%s is not"
			    " connected.", target);
		return gw_res_internal(res, r, &e);
	}
	if (gw_res_ok(res) == NULL || session_json(res->body, sid, token,
	    stream_host(c)) != 0) {
		dh_wipe(token, sizeof(token));
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	}
	dh_wipe(token, sizeof(token));
	return DH_OK;
fail_internal:
	dh_buf_free(&pl);
	return gw_res_internal(res, r, &e);
}

static int
op_resume(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct gw_session *g = c->sessions;
	char owner[256], token[65] = "";
	const char *sid;
	struct dh_err e;
	struct rec *r;
	int rc;

	if (g == NULL)
		return gw_res_fail(res, 500, "InternalServerError",
		    "sessions are not"
		    " available on this gateway");
	if (gw_res_req_str(in, "SessionId", 1, GW_RELAY_SID_MAX, &sid,
	    res) != 0)
		return DH_OK;
	r = malloc(sizeof(*r));
	if (r == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	dh_err_clear(&e);
	rc = rec_get(c->st, sid, r, &e);
	owner_arn(c, owner, sizeof(owner));
	if (rc == DH_E_NOTFOUND) {
		free(r);
		return gw_res_fail(res, 400, "DoesNotExistException",
		    "Session with id"
		    " %s does not exist.", sid);
	}
	if (rc != DH_OK) {
		free(r);
		return gw_res_internal(res, rc, &e);
	}
	if (strcmp(r->owner, owner) != 0) {
		free(r);
		return gw_res_fail(res, 400, "AccessDeniedException",
		    "Session %s"
		    " belongs to another user.", sid);
	}
	free(r);
	rc = gw_relay_resume(g->relay, sid, c->now_ms, token, &e);
	if (rc != DH_OK && rc != DH_E_STATE && rc != DH_E_NOTFOUND)
		return gw_res_internal(res, rc, &e);
	if (rc != DH_OK)
		token[0] = '\0';
	if (gw_res_ok(res) == NULL || session_json(res->body, sid, token,
	    stream_host(c)) != 0)
		rc = gw_res_internal(res, DH_E_NOMEM, NULL);
	else
		rc = DH_OK;
	dh_wipe(token, sizeof(token));
	return rc;
}

static int
op_terminate(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct gw_session *g = c->sessions;
	const char *sid;
	struct dh_err e;
	int r;

	if (g == NULL)
		return gw_res_fail(res, 500, "InternalServerError",
		    "sessions are not"
		    " available on this gateway");
	if (gw_res_req_str(in, "SessionId", 1, GW_RELAY_SID_MAX, &sid,
	    res) != 0)
		return DH_OK;
	dh_err_clear(&e);
	r = gw_relay_terminate(g->relay, sid, c->now_ms, &e);
	/* A session without runtime state (it never got one) ends here. */
	if (r == DH_OK)
		r = rec_status(c->st, sid, "Terminated", c->now_ms, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL ||
	    cJSON_AddStringToObject(res->body, "SessionId", sid) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

/* DescribeSessions filters. */
struct dfilter {
	int64_t after_ms, before_ms;       /* 0 = none */
	const char *target, *owner, *status, *sid;
};

static int
parse_dfilters(const cJSON *in, struct dfilter *f, struct gw_ssm_result *res)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(in, "Filters"), *e;
	const char *k, *v;
	time_t t;

	memset(f, 0, sizeof(*f));
	if (l != NULL && !cJSON_IsArray(l)) {
		gw_res_fail(res, 400, "ValidationException",
		    "Filters must be a list");
		return -1;
	}
	cJSON_ArrayForEach(e, l) {
		k = jstr(e, "key");
		v = jstr(e, "value");
		if (k == NULL || v == NULL || strlen(v) > 400) {
			gw_res_fail(res, 400, "ValidationException",
			    "each filter needs"
			    " a key and a value");
			return -1;
		}
		if (strcmp(k, "InvokedAfter") == 0 ||
		    strcmp(k, "InvokedBefore") == 0) {
			if (dh_time_parse_iso(v, &t) != DH_OK) {
				gw_res_fail(res, 400, "InvalidFilterValue",
				    "%s must be"
				    " a date like 2018-08-29T00:00:00Z", k);
				return -1;
			}
			if (k[7] == 'A')
				f->after_ms = (int64_t)t * 1000;
			else
				f->before_ms = (int64_t)t * 1000;
		} else if (strcmp(k, "Target") == 0)
			f->target = v;
		else if (strcmp(k, "Owner") == 0)
			f->owner = v;
		else if (strcmp(k, "Status") == 0)
			f->status = v;
		else if (strcmp(k, "SessionId") == 0)
			f->sid = v;
		else {
			gw_res_fail(res, 400, "InvalidFilterKey",
			    "The filter key %.64s"
			    " is not valid.", k);
			return -1;
		}
	}
	return 0;
}

static int
dmatch(const struct dfilter *f, const struct rec *r)
{
	return (f->after_ms == 0 || r->start_ms >= f->after_ms) &&
	    (f->before_ms == 0 || r->start_ms <= f->before_ms) &&
	    (f->target == NULL || strcmp(f->target, r->target) == 0) &&
	    (f->owner == NULL || strcmp(f->owner, r->owner) == 0) &&
	    (f->status == NULL || strcmp(f->status, r->status) == 0) &&
	    (f->sid == NULL || strcmp(f->sid, r->id) == 0);
}

static cJSON *
session_item(const struct rec *r)
{
	cJSON *o = cJSON_CreateObject(), *u;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "SessionId", r->id);
	cJSON_AddStringToObject(o, "Target", r->target);
	cJSON_AddStringToObject(o, "Status", r->status);
	cJSON_AddNumberToObject(o, "StartDate", (double)r->start_ms / 1000.0);
	if (r->end_ms > 0)
		cJSON_AddNumberToObject(o, "EndDate", (double)r->end_ms /
		    1000.0);
	cJSON_AddStringToObject(o, "DocumentName", r->document);
	cJSON_AddStringToObject(o, "Owner", r->owner);
	if (r->reason[0] != '\0')
		cJSON_AddStringToObject(o, "Reason", r->reason);
	if (r->details[0] != '\0')
		cJSON_AddStringToObject(o, "Details", r->details);
	if (r->s3_url[0] != '\0' || r->cw_url[0] != '\0') {
		u = cJSON_AddObjectToObject(o, "OutputUrl");
		if (u != NULL && r->s3_url[0] != '\0')
			cJSON_AddStringToObject(u, "S3OutputUrl", r->s3_url);
		if (u != NULL && r->cw_url[0] != '\0')
			cJSON_AddStringToObject(u, "CloudWatchOutputUrl",
			    r->cw_url);
	}
	if (r->max_duration[0] != '\0')
		cJSON_AddStringToObject(o, "MaxSessionDuration",
		    r->max_duration);
	return o;
}

static int
op_describe(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *state, *next;
	int64_t max = 20, skip = 0, seen = 0, n = 0;
	struct dfilter f;
	struct dh_err e;
	sqlite3_stmt *s;
	struct rec *r;
	cJSON *arr, *item;
	int present, rc, active;

	if (gw_res_req_str(in, "State", 1, 16, &state, res) != 0 ||
	    gw_res_opt_str(in, "NextToken", 1, 32, &next, res) != 0 ||
	    parse_dfilters(in, &f, res) != 0)
		return DH_OK;
	if (strcmp(state, "Active") != 0 && strcmp(state, "History") != 0)
		return gw_res_fail(res, 400, "ValidationException",
		    "State must be"
		    " Active or History");
	active = strcmp(state, "Active") == 0;
	if (dh_json_opt_int(in, "MaxResults", 1, 200, &max, &present, &e) !=
	    DH_OK)
		return gw_res_fail(res, 400, "ValidationException", "%s",
		    e.msg);
	if (next != NULL) {
		char *end = NULL;

		skip = strtoll(next, &end, 10);
		if (end == next || *end != '\0' || skip < 0)
			return gw_res_fail(res, 400, "InvalidNextToken", "The"
			    " specified token is not valid.");
	}
	r = malloc(sizeof(*r));
	arr = gw_res_ok(res) != NULL ? cJSON_AddArrayToObject(res->body,
	    "Sessions") : NULL;
	if (r == NULL || arr == NULL) {
		free(r);
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	}
	rc = gw_store_prep(c->st, &s, &e, "SELECT " REC_COLS " FROM sessions ORDER BY"
	    " start_ms DESC, id", "");
	if (rc != DH_OK) {
		free(r);
		return gw_res_internal(res, rc, &e);
	}
	while (n <= max && sqlite3_step(s) == SQLITE_ROW) {
		memset(r, 0, sizeof(*r));
		row_rec(s, r);
		if (status_final(r->status) == active || !dmatch(&f, r) ||
		    seen++ < skip)
			continue;
		if (n++ < max) {
			item = session_item(r);
			if (item != NULL)
				cJSON_AddItemToArray(arr, item);
		}
	}
	sqlite3_finalize(s);
	free(r);
	if (n > max) {
		char tok[24];

		snprintf(tok, sizeof(tok), "%lld", (long long)(skip + max));
		cJSON_AddStringToObject(res->body, "NextToken", tok);
	}
	return DH_OK;
}
