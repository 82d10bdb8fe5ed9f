/*
 * gw_logs: CloudWatch Logs handlers of the gateway (see gw_logs.h).  Log
 * groups, streams and events live in the tables log_groups, log_streams and
 * log_events of the gateway database; every statement is prepared and
 * bound, never built from request text.  A PutLogEvents batch is inserted
 * in one transaction, committed before the answer.
 */
#include "gw_logs.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "gw_kms.h"
#include "gw_res.h"

#define LOGS_SRC "logs.amazonaws.com"
#define OPS (GW_SSM_OPERATOR | GW_SSM_INSTANCE)
#define MAX_NAME 512
#define PAGE_MAX 50
#define FILTER_SCAN_MAX 100000

static int op_create_group(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_delete_group(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_describe_groups(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_put_retention(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_create_stream(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_describe_streams(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_put_events(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_get_events(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_filter_events(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);

const struct gw_ssm_op gw_logs_ops[] = {
	{ "Logs_20140328.CreateLogGroup", "CreateLogGroup", "logs", LOGS_SRC,
	    "logs:CreateLogGroup", OPS, op_create_group },
	{ "Logs_20140328.DeleteLogGroup", "DeleteLogGroup", "logs", LOGS_SRC,
	    "logs:DeleteLogGroup", GW_SSM_OPERATOR, op_delete_group },
	{ "Logs_20140328.DescribeLogGroups", "DescribeLogGroups", "logs",
	    LOGS_SRC, "logs:DescribeLogGroups", OPS, op_describe_groups },
	{ "Logs_20140328.PutRetentionPolicy", "PutRetentionPolicy", "logs",
	    LOGS_SRC, "logs:PutRetentionPolicy", GW_SSM_OPERATOR,
	    op_put_retention },
	{ "Logs_20140328.CreateLogStream", "CreateLogStream", "logs", LOGS_SRC,
	    "logs:CreateLogStream", OPS, op_create_stream },
	{ "Logs_20140328.DescribeLogStreams", "DescribeLogStreams", "logs",
	    LOGS_SRC, "logs:DescribeLogStreams", OPS, op_describe_streams },
	{ "Logs_20140328.PutLogEvents", "PutLogEvents", "logs", LOGS_SRC,
	    "logs:PutLogEvents", OPS, op_put_events },
	{ "Logs_20140328.GetLogEvents", "GetLogEvents", "logs", LOGS_SRC,
	    "logs:GetLogEvents", OPS, op_get_events },
	{ "Logs_20140328.FilterLogEvents", "FilterLogEvents", "logs", LOGS_SRC,
	    "logs:FilterLogEvents", OPS, op_filter_events },
};

const size_t gw_logs_n_ops = sizeof(gw_logs_ops) / sizeof(gw_logs_ops[0]);

/* ------------------------------------------------------------ pure parts */

int
gw_logs_check_batch(const struct gw_logs_event *ev, size_t n, int64_t now_ms,
    int retention_days, struct gw_logs_verdict *v)
{
	uint64_t total = 0;
	size_t i;

	memset(v, 0, sizeof(*v));
	v->too_new_start = v->too_old_end = v->expired_end = -1;
	if (n == 0 || n > GW_LOGS_MAX_EVENTS) {
		v->error = "InvalidParameterException";
		snprintf(v->message, sizeof(v->message), "1 validation error"
		    " detected: Value at 'logEvents' failed to satisfy"
		    " constraint: Member must have length between 1 and %d",
		    GW_LOGS_MAX_EVENTS);
		return DH_OK;
	}
	for (i = 0; i < n; i++) {
		if (ev[i].len == 0) {
			v->error = "InvalidParameterException";
			snprintf(v->message, sizeof(v->message), "Log event"
			    " %zu has an empty message", i);
			return DH_OK;
		}
		if ((uint64_t)ev[i].len + GW_LOGS_EVENT_OVERHEAD >
		    GW_LOGS_MAX_EVENT) {
			v->error = "InvalidParameterException";
			snprintf(v->message, sizeof(v->message), "Log event too"
			    " large: %zu bytes exceeds limit of %d",
			    ev[i].len + GW_LOGS_EVENT_OVERHEAD,
			    GW_LOGS_MAX_EVENT);
			return DH_OK;
		}
		total += (uint64_t)ev[i].len + GW_LOGS_EVENT_OVERHEAD;
	}
	if (total > GW_LOGS_MAX_BATCH) {
		v->error = "InvalidParameterException";
		snprintf(v->message, sizeof(v->message), "Upload too large: %"
		    PRIu64 " bytes exceeds limit of %d", total,
		    GW_LOGS_MAX_BATCH);
		return DH_OK;
	}
	for (i = 1; i < n; i++) {
		if (ev[i].ts < ev[i - 1].ts) {
			v->error = "InvalidParameterException";
			snprintf(v->message, sizeof(v->message), "Log events in"
			    " a single PutLogEvents request must be in"
			    " chronological order.");
			return DH_OK;
		}
	}
	if (ev[n - 1].ts - ev[0].ts > GW_LOGS_MAX_SPAN_MS) {
		v->error = "InvalidParameterException";
		snprintf(v->message, sizeof(v->message), "The batch of log events"
		    " in a single PutLogEvents request cannot span more than"
		    " 24 hours.");
		return DH_OK;
	}
	for (i = 0; i < n; i++) {
		if (ev[i].ts > now_ms + GW_LOGS_MAX_FUTURE_MS) {
			v->too_new_start = (long)i;
			break;
		}
		if (ev[i].ts < now_ms - GW_LOGS_MAX_AGE_MS)
			v->too_old_end = (long)i;
		if (retention_days > 0 && ev[i].ts < now_ms -
		    (int64_t)retention_days * 86400 * 1000)
			v->expired_end = (long)i;
	}
	return DH_OK;
}

void
gw_logs_filter_free(struct gw_logs_filter *f)
{
	free(f->text);
	memset(f, 0, sizeof(*f));
}

int
gw_logs_filter_parse(const char *pattern, struct gw_logs_filter *f,
    struct dh_err *err)
{
	size_t len, i = 0, o = 0;
	char kind;
	int r;

	memset(f, 0, sizeof(*f));
	if (pattern == NULL)
		return DH_OK;
	len = strlen(pattern);
	if (len > GW_LOGS_MAX_PATTERN)
		return dh_err_set(err, DH_E_TOOBIG, "filterPattern is longer"
		    " than %d characters", GW_LOGS_MAX_PATTERN);
	while (i < len && (pattern[i] == ' ' || pattern[i] == '\t'))
		i++;
	if (i < len && (pattern[i] == '{' || pattern[i] == '['))
		return dh_err_set(err, DH_E_FORMAT, "only text filter patterns"
		    " (terms, \"phrases\", ?any, -exclude) are supported");
	f->text = malloc(len + 1);
	if (f->text == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	while (i < len) {
		size_t start;

		if (pattern[i] == ' ' || pattern[i] == '\t') {
			i++;
			continue;
		}
		kind = '+';
		if ((pattern[i] == '?' || pattern[i] == '-') && i + 1 < len &&
		    pattern[i + 1] != ' ' && pattern[i + 1] != '\t') {
			kind = pattern[i];
			i++;
		}
		if (f->n == GW_LOGS_MAX_TERMS) {
			r = dh_err_set(err, DH_E_TOOBIG, "filterPattern has more"
			    " than %d terms", GW_LOGS_MAX_TERMS);
			goto fail;
		}
		start = o;
		if (pattern[i] == '"') {
			i++;
			while (i < len && pattern[i] != '"') {
				if (pattern[i] == '\\' && i + 1 < len)
					i++;
				f->text[o++] = pattern[i++];
			}
			if (i >= len) {
				r = dh_err_set(err, DH_E_FORMAT, "filterPattern"
				    " has an unterminated quoted phrase");
				goto fail;
			}
			i++;
		} else {
			while (i < len && pattern[i] != ' ' &&
			    pattern[i] != '\t')
				f->text[o++] = pattern[i++];
		}
		f->text[o++] = '\0';
		if (o - start == 1)
			continue;
		f->term[f->n] = f->text + start;
		f->kind[f->n] = kind;
		if (kind == '?')
			f->n_any++;
		f->n++;
	}
	return DH_OK;
fail:
	gw_logs_filter_free(f);
	return r;
}

int
gw_logs_filter_match(const struct gw_logs_filter *f, const char *msg)
{
	size_t i;
	int any = 0;

	for (i = 0; i < f->n; i++) {
		int hit = strstr(msg, f->term[i]) != NULL;

		if (f->kind[i] == '+' && !hit)
			return 0;
		if (f->kind[i] == '-' && hit)
			return 0;
		if (f->kind[i] == '?' && hit)
			any = 1;
	}
	return f->n_any == 0 || any;
}

static int
parse_i64(const char *s, char stop, const char **end, int64_t *out)
{
	char *e = NULL;
	long long v;

	if (*s == '\0' || *s == stop)
		return DH_E_FORMAT;
	v = strtoll(s, &e, 10);
	if (e == s || *e != stop)
		return DH_E_FORMAT;
	*out = (int64_t)v;
	*end = e;
	return DH_OK;
}

int
gw_logs_token_parse(const char *tok, char *dir, int64_t *ts, int64_t *id)
{
	const char *p;

	if (tok == NULL || (tok[0] != 'f' && tok[0] != 'b') || tok[1] != '/' ||
	    strlen(tok) > 64)
		return DH_E_FORMAT;
	if (parse_i64(tok + 2, '/', &p, ts) != DH_OK ||
	    parse_i64(p + 1, '\0', &p, id) != DH_OK)
		return DH_E_FORMAT;
	*dir = tok[0];
	return DH_OK;
}

/* -------------------------------------------------------------- helpers */

static int
bad(struct gw_ssm_result *res, const char *msg)
{
	return gw_res_fail(res, 400, "InvalidParameterException", "%s", msg);
}

static int
db_err(const struct gw_ssm_ctx *c, struct gw_ssm_result *res)
{
	gw_res_fail(res, 500, "ServiceUnavailableException", "store: %s",
	    sqlite3_errmsg(gw_store_db(c->st)));
	return DH_E_IO;
}

static int
nomem(struct gw_ssm_result *res)
{
	gw_res_fail(res, 500, "ServiceUnavailableException", "out of memory");
	return DH_E_NOMEM;
}

/* Prepare sql binding fmt args: 's' text, 'i' int64, 'b' blob (ptr, int). */
static int
prep(sqlite3 *db, sqlite3_stmt **out, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int i, rc = SQLITE_OK;

	*out = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return DH_E_IO;
	va_start(ap, fmt);
	for (i = 0; fmt[i] != '\0' && rc == SQLITE_OK; i++) {
		if (fmt[i] == 's') {
			const char *v = va_arg(ap, const char *);

			rc = v == NULL ? sqlite3_bind_null(s, i + 1) :
			    sqlite3_bind_text(s, i + 1, v, -1, SQLITE_STATIC);
		} else if (fmt[i] == 'b') {
			const void *p = va_arg(ap, const void *);
			int n = va_arg(ap, int);

			rc = sqlite3_bind_blob(s, i + 1, p, n, SQLITE_STATIC);
		} else
			rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return DH_E_IO;
	}
	*out = s;
	return DH_OK;
}

/* Step a statement to completion and finalise it. */
static int
run(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? DH_OK : DH_E_IO;
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? (const char *)t : "";
}

static int
valid_group_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > MAX_NAME)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == '_' || ch == '/' || ch == '#'))
			return 0;
	}
	return 1;
}

static int
valid_stream_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= MAX_NAME && strpbrk(s, ":*") == NULL;
}

/* The log group named by logGroupName or logGroupIdentifier (name or
 * ARN), into out[n]; 0 or an error already in res. */
static int
group_arg(const cJSON *in, char *out, size_t n, int required,
    struct gw_ssm_result *res)
{
	const char *g = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
	    "logGroupName"));
	const char *p, *e;

	out[0] = '\0';
	if (g == NULL) {
		g = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
		    "logGroupIdentifier"));
		if (g != NULL && strncmp(g, "arn:", 4) == 0) {
			p = strstr(g, ":log-group:");
			if (p == NULL) {
				bad(res, "logGroupIdentifier is not a log group"
				    " ARN");
				return -1;
			}
			p += strlen(":log-group:");
			e = strchr(p, ':');
			if ((size_t)(e != NULL ? e - p : (ptrdiff_t)strlen(p)) >=
			    n) {
				bad(res, "logGroupIdentifier too long");
				return -1;
			}
			snprintf(out, n, "%.*s", (int)(e != NULL ? e - p :
			    (ptrdiff_t)strlen(p)), p);
			g = out;
		}
	}
	if (g == NULL) {
		if (required) {
			bad(res, "1 validation error detected: Value null at"
			    " 'logGroupName' failed to satisfy constraint:"
			    " Member must not be null");
			return -1;
		}
		return 0;
	}
	if (!valid_group_name(g)) {
		bad(res, "1 validation error detected: Value at 'logGroupName'"
		    " failed to satisfy constraint: Member must satisfy regular"
		    " expression pattern: [\\.\\-_/#A-Za-z0-9]+ and have length"
		    " between 1 and 512");
		return -1;
	}
	if (g != out)
		snprintf(out, n, "%s", g);
	return 0;
}

static int
stream_arg(const cJSON *in, char *out, size_t n, struct gw_ssm_result *res)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
	    "logStreamName"));

	if (s == NULL || !valid_stream_name(s) || strlen(s) >= n) {
		bad(res, "1 validation error detected: Value at 'logStreamName'"
		    " failed to satisfy constraint: Member must satisfy regular"
		    " expression pattern: [^:*]* and have length between 1 and"
		    " 512");
		return -1;
	}
	snprintf(out, n, "%s", s);
	return 0;
}

/* Optional integer member in [min, max]; *v keeps its default when absent. */
static int
opt_int(const cJSON *in, const char *key, int64_t min, int64_t max,
    int64_t *v, struct gw_ssm_result *res)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(in, key);

	if (x == NULL || cJSON_IsNull(x))
		return 0;
	if (!cJSON_IsNumber(x) || x->valuedouble < (double)min ||
	    x->valuedouble > (double)max) {
		gw_res_fail(res, 400, "InvalidParameterException",
		    "1 validation error"
		    " detected: Value at '%s' failed to satisfy constraint:"
		    " Member must be a number between %" PRId64 " and %" PRId64,
		    key, min, max);
		return -1;
	}
	*v = (int64_t)x->valuedouble;
	return 0;
}

static int
opt_bool(const cJSON *in, const char *key, int *v)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(in, key);

	if (cJSON_IsBool(x))
		*v = cJSON_IsTrue(x);
	return 0;
}

static void
group_arn(const struct gw_ssm_ctx *c, const char *g, char *out, size_t n)
{
	snprintf(out, n, "arn:aws:logs:%s:%s:log-group:%s", c->region,
	    c->account, g);
}

static void
seq_token(int64_t seq, char out[64])
{
	snprintf(out, 64, "495%053" PRId64, seq);
}

/* Group row: retention (0 = none); DH_E_NOTFOUND when absent. */
static int
group_get(const struct gw_ssm_ctx *c, const char *g, int64_t *retention)
{
	sqlite3_stmt *s;
	int rc;

	if (prep(gw_store_db(c->st), &s, "SELECT retention_days FROM log_groups"
	    " WHERE name = ?", "s", g) != DH_OK)
		return DH_E_IO;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && retention != NULL)
		*retention = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return DH_OK;
	return rc == SQLITE_DONE ? DH_E_NOTFOUND : DH_E_IO;
}

static int
group_missing(const struct gw_ssm_ctx *c, const char *g, int64_t *retention,
    struct gw_ssm_result *res)
{
	int r = group_get(c, g, retention);

	if (r == DH_E_NOTFOUND) {
		gw_res_fail(res, 400, "ResourceNotFoundException",
		    "The specified log"
		    " group does not exist.");
		return -1;
	}
	if (r != DH_OK) {
		db_err(c, res);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ log groups */

static int
op_create_group(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	char g[MAX_NAME + 1], karn[256];
	const char *kms;
	const cJSON *tags;
	sqlite3_stmt *s;
	int r;

	if (group_arg(in, g, sizeof(g), 1, res) != 0)
		return DH_OK;
	kms = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in,
	    "kmsKeyId"));
	tags = cJSON_GetObjectItemCaseSensitive(in, "tags");
	if (tags != NULL && (!cJSON_IsObject(tags) ||
	    cJSON_GetArraySize(tags) > 50))
		return bad(res, "tags must be a map of at most 50 entries");
	karn[0] = '\0';
	if (kms != NULL) {
		r = gw_kms_key_arn(c, kms, karn, sizeof(karn));
		if (r == DH_E_NOTFOUND)
			return gw_res_fail(res, 400,
			    "InvalidParameterException",
			    "The specified KMS key does not exist or is not"
			    " allowed to be used with Arn"
			    " 'arn:aws:logs:%s:%s:log-group:%s'", c->region,
			    c->account, g);
		if (r != DH_OK)
			return db_err(c, res);
	}
	r = group_get(c, g, NULL);
	if (r == DH_OK)
		return gw_res_fail(res, 400, "ResourceAlreadyExistsException",
		    "The specified log group already exists");
	if (r != DH_E_NOTFOUND)
		return db_err(c, res);
	if (prep(gw_store_db(c->st), &s, "INSERT INTO log_groups (name,"
	    " kms_key_id, retention_days, created_ms) VALUES (?, ?, 0, ?)",
	    "ssi", g, karn[0] != '\0' ? karn : NULL, c->now_ms) != DH_OK ||
	    run(s) != DH_OK)
		return db_err(c, res);
	return DH_OK;
}

static int
op_delete_group(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	sqlite3 *db = gw_store_db(c->st);
	char g[MAX_NAME + 1];
	sqlite3_stmt *s;
	struct dh_err e;

	if (group_arg(in, g, sizeof(g), 1, res) != 0 ||
	    group_missing(c, g, NULL, res) != 0)
		return DH_OK;
	if (gw_store_begin(c->st, &e) != DH_OK)
		return db_err(c, res);
	if (prep(db, &s, "DELETE FROM log_events WHERE grp = ?", "s", g) !=
	    DH_OK || run(s) != DH_OK ||
	    prep(db, &s, "DELETE FROM log_streams WHERE grp = ?", "s", g) !=
	    DH_OK || run(s) != DH_OK ||
	    prep(db, &s, "DELETE FROM log_groups WHERE name = ?", "s", g) !=
	    DH_OK || run(s) != DH_OK || gw_store_commit(c->st, &e) != DH_OK) {
		db_err(c, res);
		gw_store_rollback(c->st);
		return DH_E_IO;
	}
	return DH_OK;
}

static int
op_put_retention(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	static const int allowed[] = { 1, 3, 5, 7, 14, 30, 60, 90, 120, 150,
	    180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 };
	char g[MAX_NAME + 1];
	int64_t days = -1;
	sqlite3_stmt *s;
	size_t i;

	if (group_arg(in, g, sizeof(g), 1, res) != 0 ||
	    opt_int(in, "retentionInDays", 1, 3653, &days, res) != 0)
		return DH_OK;
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (allowed[i] == days)
			break;
	if (i == sizeof(allowed) / sizeof(allowed[0]))
		return bad(res, "1 validation error detected: Value at"
		    " 'retentionInDays' failed to satisfy constraint: Member"
		    " must satisfy enum value set");
	if (group_missing(c, g, NULL, res) != 0)
		return DH_OK;
	if (prep(gw_store_db(c->st), &s, "UPDATE log_groups SET retention_days"
	    " = ? WHERE name = ?", "is", days, g) != DH_OK || run(s) != DH_OK)
		return db_err(c, res);
	return DH_OK;
}

static int
op_describe_groups(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *prefix = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "logGroupNamePrefix"));
	const char *next = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "nextToken"));
	cJSON *out = NULL, *arr, *o;
	char arn[MAX_NAME + 128], pat[MAX_NAME * 2 + 4];
	int64_t limit = PAGE_MAX, n = 0;
	sqlite3_stmt *s = NULL;
	size_t i, k = 0;
	int rc;

	if (opt_int(in, "limit", 1, PAGE_MAX, &limit, res) != 0)
		return DH_OK;
	if (prefix != NULL && strlen(prefix) > MAX_NAME)
		return bad(res, "logGroupNamePrefix too long");
	/* LIKE pattern with the prefix escaped. */
	for (i = 0; prefix != NULL && prefix[i] != '\0'; i++) {
		if (prefix[i] == '%' || prefix[i] == '_' || prefix[i] == '\\')
			pat[k++] = '\\';
		pat[k++] = prefix[i];
	}
	pat[k++] = '%';
	pat[k] = '\0';
	if (prep(gw_store_db(c->st), &s, "SELECT l.name, l.created_ms,"
	    " l.retention_days, l.kms_key_id, (SELECT COALESCE(SUM("
	    "stored_bytes), 0) FROM log_streams WHERE grp = l.name) FROM"
	    " log_groups l WHERE l.name LIKE ? ESCAPE '\\' AND l.name > ?"
	    " ORDER BY l.name LIMIT ?", "ssi", pat, next != NULL ? next : "",
	    limit + 1) != DH_OK)
		return db_err(c, res);
	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "logGroups");
	if (arr == NULL)
		goto oom;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = col_text(s, 0);

		/* LIKE is case-insensitive for ASCII; prefixes are not. */
		if (prefix != NULL && strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		if (n == limit) {
			if (cJSON_AddStringToObject(out, "nextToken",
			    col_text(s, 0)) == NULL)
				goto oom;
			break;
		}
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o))
			goto oom;
		group_arn(c, name, arn, sizeof(arn));
		if (cJSON_AddStringToObject(o, "logGroupName", name) == NULL ||
		    cJSON_AddNumberToObject(o, "creationTime",
		    (double)sqlite3_column_int64(s, 1)) == NULL ||
		    cJSON_AddNumberToObject(o, "metricFilterCount", 0) == NULL)
			goto oom;
		if (sqlite3_column_int64(s, 2) > 0 &&
		    cJSON_AddNumberToObject(o, "retentionInDays",
		    (double)sqlite3_column_int64(s, 2)) == NULL)
			goto oom;
		if (sqlite3_column_type(s, 3) != SQLITE_NULL &&
		    cJSON_AddStringToObject(o, "kmsKeyId", col_text(s, 3)) ==
		    NULL)
			goto oom;
		if (cJSON_AddStringToObject(o, "logGroupArn", arn) == NULL)
			goto oom;
		if (strlen(arn) + 2 < sizeof(arn))
			memcpy(arn + strlen(arn), ":*", 3);
		if (cJSON_AddStringToObject(o, "arn", arn) == NULL ||
		    cJSON_AddNumberToObject(o, "storedBytes",
		    (double)sqlite3_column_int64(s, 4)) == NULL)
			goto oom;
		n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		cJSON_Delete(out);
		return db_err(c, res);
	}
	res->body = out;
	return DH_OK;
oom:
	sqlite3_finalize(s);
	cJSON_Delete(out);
	return nomem(res);
}

/* ----------------------------------------------------------- log streams */

static int
stream_exists(const struct gw_ssm_ctx *c, const char *g, const char *st)
{
	sqlite3_stmt *s;
	int rc;

	if (prep(gw_store_db(c->st), &s, "SELECT 1 FROM log_streams WHERE grp"
	    " = ? AND name = ?", "ss", g, st) != DH_OK)
		return DH_E_IO;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return DH_OK;
	return rc == SQLITE_DONE ? DH_E_NOTFOUND : DH_E_IO;
}

static int
op_create_stream(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	char g[MAX_NAME + 1], st[MAX_NAME + 1];
	sqlite3_stmt *s;
	int r;

	if (group_arg(in, g, sizeof(g), 1, res) != 0 ||
	    stream_arg(in, st, sizeof(st), res) != 0 ||
	    group_missing(c, g, NULL, res) != 0)
		return DH_OK;
	r = stream_exists(c, g, st);
	if (r == DH_OK)
		return gw_res_fail(res, 400, "ResourceAlreadyExistsException",
		    "The specified log stream already exists");
	if (r != DH_E_NOTFOUND)
		return db_err(c, res);
	if (prep(gw_store_db(c->st), &s, "INSERT INTO log_streams (grp, name,"
	    " created_ms) VALUES (?, ?, ?)", "ssi", g, st, c->now_ms) !=
	    DH_OK || run(s) != DH_OK)
		return db_err(c, res);
	return DH_OK;
}

static int
add_opt_num(cJSON *o, const char *k, sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return 0;
	return cJSON_AddNumberToObject(o, k, (double)sqlite3_column_int64(s,
	    col)) == NULL ? -1 : 0;
}

static int
op_describe_streams(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *prefix = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "logStreamNamePrefix"));
	const char *order = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "orderBy"));
	const char *next = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "nextToken"));
	char g[MAX_NAME + 1], arn[2 * MAX_NAME + 128], tok[64];
	int64_t limit = PAGE_MAX, n = 0, skip = 0, row = 0;
	cJSON *out = NULL, *arr, *o;
	int desc = 0, by_time, rc;
	sqlite3_stmt *s = NULL;
	const char *sql;

	if (group_arg(in, g, sizeof(g), 1, res) != 0 ||
	    opt_int(in, "limit", 1, PAGE_MAX, &limit, res) != 0 ||
	    opt_bool(in, "descending", &desc) != 0)
		return DH_OK;
	if (order != NULL && strcmp(order, "LogStreamName") != 0 &&
	    strcmp(order, "LastEventTime") != 0)
		return bad(res, "orderBy must be LogStreamName or"
		    " LastEventTime");
	by_time = order != NULL && strcmp(order, "LastEventTime") == 0;
	if (by_time && prefix != NULL)
		return bad(res, "Cannot order by LastEventTime with a"
		    " logStreamNamePrefix.");
	if (next != NULL) {
		char *e = NULL;

		skip = (int64_t)strtoll(next, &e, 10);
		if (e == next || *e != '\0' || skip < 0)
			return bad(res, "The specified nextToken is invalid.");
	}
	if (group_missing(c, g, NULL, res) != 0)
		return DH_OK;
	if (by_time)
		sql = desc ? "SELECT name, created_ms, first_event_ms,"
		    " last_event_ms, last_ingest_ms, stored_bytes, seq FROM"
		    " log_streams WHERE grp = ? ORDER BY COALESCE(last_event_ms,"
		    " 0) DESC, name DESC" : "SELECT name, created_ms,"
		    " first_event_ms, last_event_ms, last_ingest_ms, stored_bytes,"
		    " seq FROM log_streams WHERE grp = ? ORDER BY"
		    " COALESCE(last_event_ms, 0), name";
	else
		sql = desc ? "SELECT name, created_ms, first_event_ms,"
		    " last_event_ms, last_ingest_ms, stored_bytes, seq FROM"
		    " log_streams WHERE grp = ? ORDER BY name DESC" :
		    "SELECT name, created_ms, first_event_ms, last_event_ms,"
		    " last_ingest_ms, stored_bytes, seq FROM log_streams WHERE"
		    " grp = ? ORDER BY name";
	if (prep(gw_store_db(c->st), &s, sql, "s", g) != DH_OK)
		return db_err(c, res);
	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "logStreams");
	if (arr == NULL)
		goto oom;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = col_text(s, 0);

		if (prefix != NULL && strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		if (row++ < skip)
			continue;
		if (n == limit) {
			snprintf(tok, sizeof(tok), "%" PRId64, skip + n);
			if (cJSON_AddStringToObject(out, "nextToken", tok) ==
			    NULL)
				goto oom;
			break;
		}
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o))
			goto oom;
		snprintf(arn, sizeof(arn), "arn:aws:logs:%s:%s:log-group:%s:"
		    "log-stream:%s", c->region, c->account, g, name);
		seq_token(sqlite3_column_int64(s, 6), tok);
		if (cJSON_AddStringToObject(o, "logStreamName", name) == NULL ||
		    cJSON_AddNumberToObject(o, "creationTime",
		    (double)sqlite3_column_int64(s, 1)) == NULL ||
		    add_opt_num(o, "firstEventTimestamp", s, 2) != 0 ||
		    add_opt_num(o, "lastEventTimestamp", s, 3) != 0 ||
		    add_opt_num(o, "lastIngestionTime", s, 4) != 0 ||
		    cJSON_AddStringToObject(o, "uploadSequenceToken", tok) ==
		    NULL || cJSON_AddStringToObject(o, "arn", arn) == NULL ||
		    cJSON_AddNumberToObject(o, "storedBytes",
		    (double)sqlite3_column_int64(s, 5)) == NULL)
			goto oom;
		n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		cJSON_Delete(out);
		return db_err(c, res);
	}
	res->body = out;
	return DH_OK;
oom:
	sqlite3_finalize(s);
	cJSON_Delete(out);
	return nomem(res);
}

/* ----------------------------------------------------------- log events */

struct stream_row {
	int64_t seq;
	char last_token_in[64];
	char last_hash[65];
};

static int
stream_get(const struct gw_ssm_ctx *c, const char *g, const char *st,
    struct stream_row *row)
{
	sqlite3_stmt *s;
	int rc;

	memset(row, 0, sizeof(*row));
	if (prep(gw_store_db(c->st), &s, "SELECT seq, last_token_in,"
	    " last_batch_hash FROM log_streams WHERE grp = ? AND name = ?",
	    "ss", g, st) != DH_OK)
		return DH_E_IO;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		row->seq = sqlite3_column_int64(s, 0);
		snprintf(row->last_token_in, sizeof(row->last_token_in), "%s",
		    col_text(s, 1));
		snprintf(row->last_hash, sizeof(row->last_hash), "%s",
		    col_text(s, 2));
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return DH_OK;
	return rc == SQLITE_DONE ? DH_E_NOTFOUND : DH_E_IO;
}

/* Validate logEvents into ev[] (allocated) and hash the batch. */
static int
read_events(const cJSON *list, struct gw_logs_event **evp, size_t *np,
    char hash_hex[65], struct gw_ssm_result *res)
{
	struct gw_logs_event *ev = NULL;
	struct dh_sha256_ctx *h = NULL;
	unsigned char d[DH_SHA256_LEN];
	const cJSON *it;
	size_t n = 0, cnt;

	*evp = NULL;
	*np = 0;
	if (!cJSON_IsArray(list)) {
		bad(res, "1 validation error detected: Value null at"
		    " 'logEvents' failed to satisfy constraint: Member must not"
		    " be null");
		return -1;
	}
	cnt = (size_t)cJSON_GetArraySize(list);
	if (cnt == 0 || cnt > GW_LOGS_MAX_EVENTS) {
		bad(res, "1 validation error detected: Value at 'logEvents'"
		    " failed to satisfy constraint: Member must have length"
		    " between 1 and 10000");
		return -1;
	}
	ev = calloc(cnt, sizeof(*ev));
	h = dh_sha256_new();
	if (ev == NULL || h == NULL) {
		free(ev);
		dh_sha256_free(h);
		nomem(res);
		return -1;
	}
	cJSON_ArrayForEach(it, list) {
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(it,
		    "timestamp");
		const char *msg = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(it, "message"));
		unsigned char lenb[8];

		if (!cJSON_IsNumber(ts) || msg == NULL ||
		    ts->valuedouble < 0 || ts->valuedouble > 9.2e15) {
			gw_res_fail(res, 400, "InvalidParameterException",
			    "Log event"
			    " %zu needs a numeric timestamp and a string"
			    " message", n);
			free(ev);
			dh_sha256_free(h);
			return -1;
		}
		ev[n].ts = (int64_t)ts->valuedouble;
		ev[n].len = strlen(msg);
		dh_put_be64(lenb, (uint64_t)ev[n].ts);
		dh_sha256_update(h, lenb, 8);
		dh_put_be64(lenb, (uint64_t)ev[n].len);
		dh_sha256_update(h, lenb, 8);
		dh_sha256_update(h, msg, ev[n].len);
		n++;
	}
	dh_sha256_final(h, d);
	dh_sha256_free(h);
	dh_hex_encode(d, sizeof(d), hash_hex);
	*evp = ev;
	*np = n;
	return 0;
}

static int
insert_events(const struct gw_ssm_ctx *c, const char *g, const char *st,
    const cJSON *list, const struct gw_logs_event *ev, size_t n,
    const struct gw_logs_verdict *v, int64_t *stored, int64_t *lo,
    int64_t *hi)
{
	sqlite3 *db = gw_store_db(c->st);
	sqlite3_stmt *s = NULL;
	const cJSON *it;
	size_t i = 0;
	int r = DH_OK;

	*stored = 0;
	*lo = INT64_MAX;
	*hi = INT64_MIN;
	if (prep(db, &s, "INSERT INTO log_events (grp, stream, ts, ingest_ms,"
	    " message) VALUES (?, ?, ?, ?, ?)", "ss", g, st) != DH_OK)
		return DH_E_IO;
	cJSON_ArrayForEach(it, list) {
		const char *msg = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(it, "message"));

		if ((v->too_new_start >= 0 && (long)i >= v->too_new_start) ||
		    (long)i <= v->too_old_end || (long)i <= v->expired_end) {
			i++;
			continue;
		}
		sqlite3_reset(s);
		if (sqlite3_bind_int64(s, 3, ev[i].ts) != SQLITE_OK ||
		    sqlite3_bind_int64(s, 4, c->now_ms) != SQLITE_OK ||
		    sqlite3_bind_text(s, 5, msg, (int)ev[i].len,
		    SQLITE_STATIC) != SQLITE_OK || sqlite3_step(s) !=
		    SQLITE_DONE) {
			r = DH_E_IO;
			break;
		}
		*stored += (int64_t)ev[i].len;
		if (ev[i].ts < *lo)
			*lo = ev[i].ts;
		if (ev[i].ts > *hi)
			*hi = ev[i].ts;
		i++;
	}
	sqlite3_finalize(s);
	return r;
}

static int
op_put_events(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	char g[MAX_NAME + 1], st[MAX_NAME + 1], hash[65], tok[64], prev[64];
	const char *given = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "sequenceToken"));
	struct gw_logs_event *ev = NULL;
	struct gw_logs_verdict v;
	struct stream_row row;
	int64_t retention = 0, stored, lo, hi;
	sqlite3_stmt *s;
	struct dh_err e;
	cJSON *out, *rej;
	size_t n;
	int r;

	if (group_arg(in, g, sizeof(g), 1, res) != 0 ||
	    stream_arg(in, st, sizeof(st), res) != 0 ||
	    read_events(cJSON_GetObjectItemCaseSensitive(in, "logEvents"), &ev,
	    &n, hash, res) != 0)
		return DH_OK;
	if (group_missing(c, g, &retention, res) != 0)
		goto done;
	r = stream_get(c, g, st, &row);
	if (r == DH_E_NOTFOUND) {
		gw_res_fail(res, 400, "ResourceNotFoundException",
		    "The specified log"
		    " stream does not exist.");
		goto done;
	}
	if (r != DH_OK) {
		db_err(c, res);
		goto done;
	}
	gw_logs_check_batch(ev, n, c->now_ms, (int)retention, &v);
	if (v.error != NULL) {
		gw_res_fail(res, 400, v.error, "%s", v.message);
		goto done;
	}
	seq_token(row.seq, tok);
	if (given != NULL && row.seq > 0 && strcmp(given,
	    row.last_token_in) == 0 && strcmp(hash, row.last_hash) == 0) {
		gw_res_fail(res, 400, "DataAlreadyAcceptedException",
		    "The given batch"
		    " of log events has already been accepted. The next batch"
		    " can be sent with sequenceToken: %s", tok);
		goto done;
	}
	snprintf(prev, sizeof(prev), "%s", given != NULL ? given : "");
	if (gw_store_begin(c->st, &e) != DH_OK) {
		db_err(c, res);
		goto done;
	}
	r = insert_events(c, g, st, cJSON_GetObjectItemCaseSensitive(in,
	    "logEvents"), ev, n, &v, &stored, &lo, &hi);
	if (r == DH_OK)
		r = prep(gw_store_db(c->st), &s, "UPDATE log_streams SET seq ="
		    " seq + 1, last_token_in = ?, last_batch_hash = ?,"
		    " stored_bytes = stored_bytes + ?, last_ingest_ms = ?,"
		    " first_event_ms = CASE WHEN ? = 0 THEN first_event_ms WHEN"
		    " first_event_ms IS NULL OR first_event_ms > ? THEN ? ELSE"
		    " first_event_ms END, last_event_ms = CASE WHEN ? = 0 THEN"
		    " last_event_ms WHEN last_event_ms IS NULL OR last_event_ms"
		    " < ? THEN ? ELSE last_event_ms END WHERE grp = ? AND name"
		    " = ?", "ssiiiiiiiiss", prev, hash, stored, c->now_ms,
		    (int64_t)(stored > 0), lo, lo, (int64_t)(stored > 0), hi, hi,
		    g, st);
	if (r == DH_OK)
		r = run(s);
	if (r == DH_OK)
		r = gw_store_commit(c->st, &e);
	if (r != DH_OK) {
		db_err(c, res);
		gw_store_rollback(c->st);
		goto done;
	}
	seq_token(row.seq + 1, tok);
	out = cJSON_CreateObject();
	if (out == NULL || cJSON_AddStringToObject(out, "nextSequenceToken",
	    tok) == NULL)
		goto oom;
	res->body = out;
	if (v.too_new_start >= 0 || v.too_old_end >= 0 || v.expired_end >= 0) {
		rej = cJSON_AddObjectToObject(out, "rejectedLogEventsInfo");
		if (rej == NULL ||
		    (v.too_new_start >= 0 && cJSON_AddNumberToObject(rej,
		    "tooNewLogEventStartIndex", (double)v.too_new_start) ==
		    NULL) || (v.too_old_end >= 0 && cJSON_AddNumberToObject(rej,
		    "tooOldLogEventEndIndex", (double)v.too_old_end) == NULL) ||
		    (v.expired_end >= 0 && cJSON_AddNumberToObject(rej,
		    "expiredLogEventEndIndex", (double)v.expired_end) == NULL))
			goto oom;
	}
done:
	free(ev);
	return DH_OK;
oom:
	free(ev);
	return nomem(res);
}

static void
cursor_token(char dir, int64_t ts, int64_t id, char out[64])
{
	snprintf(out, 64, "%c/%" PRId64 "/%" PRId64, dir, ts, id);
}

static int
op_get_events(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *next = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "nextToken"));
	char g[MAX_NAME + 1], st[MAX_NAME + 1], ftok[64], btok[64];
	int64_t limit = GW_LOGS_MAX_EVENTS, start = INT64_MIN, end = INT64_MAX;
	int64_t cts = INT64_MIN, cid = 0, fts = 0, fid = 0, lts = 0, lid = 0;
	int64_t bytes = 0, got = 0;
	cJSON *out = NULL, *arr, *o;
	sqlite3_stmt *s = NULL;
	int head = 0, rc, r;
	char dir = 'f';

	if (group_arg(in, g, sizeof(g), 1, res) != 0 ||
	    stream_arg(in, st, sizeof(st), res) != 0 ||
	    opt_int(in, "limit", 1, GW_LOGS_MAX_EVENTS, &limit, res) != 0 ||
	    opt_int(in, "startTime", 0, INT64_MAX / 2, &start, res) != 0 ||
	    opt_int(in, "endTime", 0, INT64_MAX / 2, &end, res) != 0 ||
	    opt_bool(in, "startFromHead", &head) != 0)
		return DH_OK;
	if (next != NULL) {
		if (gw_logs_token_parse(next, &dir, &cts, &cid) != DH_OK)
			return bad(res, "The specified nextToken is invalid.");
	} else if (!head) {
		dir = 'b';
		cts = INT64_MAX;
		cid = INT64_MAX;
	}
	if (group_missing(c, g, NULL, res) != 0)
		return DH_OK;
	r = stream_exists(c, g, st);
	if (r == DH_E_NOTFOUND)
		return gw_res_fail(res, 400, "ResourceNotFoundException", "The"
		    " specified log stream does not exist.");
	if (r != DH_OK)
		return db_err(c, res);
	if (prep(gw_store_db(c->st), &s, dir == 'f' ?
	    "SELECT id, ts, ingest_ms, message FROM log_events WHERE grp = ?"
	    " AND stream = ? AND ts >= ? AND ts < ? AND (ts > ? OR (ts = ? AND"
	    " id > ?)) ORDER BY ts, id LIMIT ?" :
	    "SELECT id, ts, ingest_ms, message FROM log_events WHERE grp = ?"
	    " AND stream = ? AND ts >= ? AND ts < ? AND (ts < ? OR (ts = ? AND"
	    " id < ?)) ORDER BY ts DESC, id DESC LIMIT ?", "ssiiiiii", g, st,
	    start, end, cts, cts, cid, limit) != DH_OK)
		return db_err(c, res);
	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "events");
	if (arr == NULL)
		goto oom;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		int64_t ts = sqlite3_column_int64(s, 1);
		int len = sqlite3_column_bytes(s, 3);

		if (got > 0 && bytes + len > GW_LOGS_MAX_RESPONSE)
			break;
		o = cJSON_CreateObject();
		if (o == NULL || cJSON_AddNumberToObject(o, "timestamp",
		    (double)ts) == NULL || cJSON_AddStringToObject(o,
		    "message", col_text(s, 3)) == NULL ||
		    cJSON_AddNumberToObject(o, "ingestionTime",
		    (double)sqlite3_column_int64(s, 2)) == NULL) {
			cJSON_Delete(o);
			goto oom;
		}
		if (dir == 'f')
			cJSON_AddItemToArray(arr, o);
		else
			cJSON_InsertItemInArray(arr, 0, o);
		if (got == 0) {
			fts = lts = ts;
			fid = lid = id;
		}
		if (dir == 'f') {
			lts = ts;
			lid = id;
		} else {
			fts = ts;
			fid = id;
		}
		bytes += len;
		got++;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		cJSON_Delete(out);
		return db_err(c, res);
	}
	if (got > 0) {
		cursor_token('f', lts, lid, ftok);
		cursor_token('b', fts, fid, btok);
	} else {
		if (next == NULL) {
			cts = INT64_MIN;
			cid = 0;
		}
		cursor_token('f', cts, cid, ftok);
		cursor_token('b', cts, cid, btok);
	}
	if (cJSON_AddStringToObject(out, "nextForwardToken", ftok) == NULL ||
	    cJSON_AddStringToObject(out, "nextBackwardToken", btok) == NULL)
		goto oom;
	res->body = out;
	return DH_OK;
oom:
	sqlite3_finalize(s);
	cJSON_Delete(out);
	return nomem(res);
}

/* The streams FilterLogEvents searches: NULL list = all. */
static int
stream_selected(const cJSON *names, const char *prefix, const char *name)
{
	const cJSON *it;

	if (prefix != NULL)
		return strncmp(name, prefix, strlen(prefix)) == 0;
	if (names == NULL)
		return 1;
	cJSON_ArrayForEach(it, names)
		if (cJSON_IsString(it) && strcmp(it->valuestring, name) == 0)
			return 1;
	return 0;
}

static int
add_searched(const struct gw_ssm_ctx *c, const char *g, const cJSON *names,
    const char *prefix, cJSON *out)
{
	cJSON *arr = cJSON_AddArrayToObject(out, "searchedLogStreams"), *o;
	sqlite3_stmt *s;
	int rc;

	if (arr == NULL)
		return DH_E_NOMEM;
	if (prep(gw_store_db(c->st), &s, "SELECT name FROM log_streams WHERE"
	    " grp = ? ORDER BY name", "s", g) != DH_OK)
		return DH_E_IO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!stream_selected(names, prefix, col_text(s, 0)))
			continue;
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
		    cJSON_AddStringToObject(o, "logStreamName",
		    col_text(s, 0)) == NULL ||
		    cJSON_AddBoolToObject(o, "searchedCompletely", 1) == NULL) {
			sqlite3_finalize(s);
			return DH_E_NOMEM;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? DH_OK : DH_E_IO;
}

static int
op_filter_events(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(in,
	    "logStreamNames");
	const char *prefix = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "logStreamNamePrefix"));
	const char *pattern = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "filterPattern"));
	const char *next = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(in, "nextToken"));
	int64_t limit = GW_LOGS_MAX_EVENTS, start = INT64_MIN, end = INT64_MAX;
	int64_t cts = INT64_MIN, cid = 0, got = 0, bytes = 0, scanned = 0;
	char g[MAX_NAME + 1], tok[64], eid[64];
	struct gw_logs_filter f;
	cJSON *out = NULL, *arr, *o;
	sqlite3_stmt *s = NULL;
	struct dh_err e;
	char dir;
	int rc, more = 0;

	memset(&f, 0, sizeof(f));
	if (group_arg(in, g, sizeof(g), 1, res) != 0 ||
	    opt_int(in, "limit", 1, GW_LOGS_MAX_EVENTS, &limit, res) != 0 ||
	    opt_int(in, "startTime", 0, INT64_MAX / 2, &start, res) != 0 ||
	    opt_int(in, "endTime", 0, INT64_MAX / 2, &end, res) != 0)
		return DH_OK;
	if (names != NULL && (!cJSON_IsArray(names) ||
	    cJSON_GetArraySize(names) < 1 || cJSON_GetArraySize(names) > 100))
		return bad(res, "logStreamNames must list 1 to 100 streams");
	if (names != NULL && prefix != NULL)
		return bad(res, "logStreamNames and logStreamNamePrefix are"
		    " mutually exclusive");
	if (next != NULL && (gw_logs_token_parse(next, &dir, &cts, &cid) !=
	    DH_OK || dir != 'f'))
		return bad(res, "The specified nextToken is invalid.");
	dh_err_clear(&e);
	if (gw_logs_filter_parse(pattern, &f, &e) != DH_OK)
		return gw_res_fail(res, 400, "InvalidParameterException",
		    "Invalid"
		    " filter pattern: %s", e.msg);
	if (group_missing(c, g, NULL, res) != 0)
		goto done;
	if (prep(gw_store_db(c->st), &s, "SELECT id, stream, ts, ingest_ms,"
	    " message FROM log_events WHERE grp = ? AND ts >= ? AND ts < ? AND"
	    " (ts > ? OR (ts = ? AND id > ?)) ORDER BY ts, id", "siiiii", g,
	    start, end, cts, cts, cid) != DH_OK) {
		db_err(c, res);
		goto done;
	}
	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "events");
	if (arr == NULL)
		goto oom;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		int64_t ts = sqlite3_column_int64(s, 2);
		const char *msg = col_text(s, 4);

		if (got == limit || scanned == FILTER_SCAN_MAX ||
		    (got > 0 && bytes + sqlite3_column_bytes(s, 4) >
		    GW_LOGS_MAX_RESPONSE)) {
			more = 1;
			break;
		}
		scanned++;
		cts = ts;
		cid = id;
		if (!stream_selected(names, prefix, col_text(s, 1)) ||
		    !gw_logs_filter_match(&f, msg))
			continue;
		snprintf(eid, sizeof(eid), "%056" PRId64, id);
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
		    cJSON_AddStringToObject(o, "logStreamName",
		    col_text(s, 1)) == NULL || cJSON_AddNumberToObject(o,
		    "timestamp", (double)ts) == NULL ||
		    cJSON_AddStringToObject(o, "message", msg) == NULL ||
		    cJSON_AddNumberToObject(o, "ingestionTime",
		    (double)sqlite3_column_int64(s, 3)) == NULL ||
		    cJSON_AddStringToObject(o, "eventId", eid) == NULL)
			goto oom;
		bytes += sqlite3_column_bytes(s, 4);
		got++;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (!more && rc != SQLITE_DONE) {
		db_err(c, res);
		goto done;
	}
	if (add_searched(c, g, names, prefix, out) != DH_OK)
		goto oom;
	if (more) {
		cursor_token('f', cts, cid, tok);
		if (cJSON_AddStringToObject(out, "nextToken", tok) == NULL)
			goto oom;
	}
	res->body = out;
	out = NULL;
done:
	cJSON_Delete(out);
	gw_logs_filter_free(&f);
	return DH_OK;
oom:
	sqlite3_finalize(s);
	cJSON_Delete(out);
	gw_logs_filter_free(&f);
	return nomem(res);
}
