/*
 * gw_patch: compliance, inventory and Patch Manager handlers (see
 * gw_patch.h).  Rows live in the migration-2 tables of gw_store, reached
 * through the shared SQLite handle with prepared statements only; request
 * validation follows the botocore SSM model's limits and error codes.
 */
#include "gw_patch.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_time.h"
#include "dh_uuid.h"
#include "gw_res.h"
#include "pt_baseline.h"
#include "pt_scan.h"

#define SSM_SRC "ssm.amazonaws.com"
#define OPR GW_SSM_OPERATOR
#define INST GW_SSM_INSTANCE
#define DOC_MAX (4 * 1024 * 1024)

/* ------------------------------------------------------------ helpers */

/* Not gw_res_opt_str: this module's length message has always carried the
 * "1 validation error detected: " prefix; kept so its messages stay. */
static int
opt_str(const cJSON *in, const char *key, size_t min, size_t max,
    const char **out, struct gw_ssm_result *res)
{
	struct dh_err e;
	size_t n;

	if (dh_json_opt_str(in, key, out, &e) != DH_OK) {
		gw_res_fail(res, 400, "ValidationException", "%s", e.msg);
		return -1;
	}
	if (*out == NULL)
		return 0;
	n = strlen(*out);
	if (n < min || n > max) {
		gw_res_fail(res, 400, "ValidationException",
		    "1 validation error"
		    " detected: Value at '%s' failed to satisfy constraint:"
		    " Member must have length between %zu and %zu", key, min,
		    max);
		return -1;
	}
	return 0;
}

static int
req_str(const cJSON *in, const char *key, size_t min, size_t max,
    const char **out, struct gw_ssm_result *res)
{
	if (opt_str(in, key, min, max, out, res) != 0)
		return -1;
	if (*out == NULL) {
		gw_res_fail(res, 400, "ValidationException",
		    "1 validation error"
		    " detected: Value null at '%s' failed to satisfy"
		    " constraint: Member must not be null", key);
		return -1;
	}
	return 0;
}

static int
in_enum(const char *v, const char *const *vals)
{
	size_t i;

	for (i = 0; vals[i] != NULL; i++)
		if (strcmp(v, vals[i]) == 0)
			return 1;
	return 0;
}

static const char *const severities[] = { "CRITICAL", "HIGH", "MEDIUM",
	"LOW", "INFORMATIONAL", "UNSPECIFIED", NULL };

static int
severity_rank(const char *s)
{
	size_t i;

	for (i = 0; severities[i] != NULL; i++)
		if (strcmp(s, severities[i]) == 0)
			return 5 - (int)i;
	return 0;
}



static int
random_hex(char *out, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = hx[dh_random_uniform(16)];
	out[n] = '\0';
	return 0;
}

/* Instance-credential callers may only act on their own id. */
static int
own_instance(const struct gw_ssm_ctx *c, const char *id,
    struct gw_ssm_result *res)
{
	if (c->who != NULL && c->who->kind == GW_AUTH_INSTANCE &&
	    strcmp(c->who->instance_id, id) != 0) {
		gw_res_fail(res, 400, "AccessDeniedException",
		    "Credentials belong to"
		    " a different instance than %.100s", id);
		return -1;
	}
	return 0;
}

static int
instance_exists(const struct gw_ssm_ctx *c, const char *id, const char *code,
    struct gw_ssm_result *res)
{
	struct gw_store_instance *in = malloc(sizeof(*in));
	struct dh_err e;
	int r;

	if (in == NULL) {
		gw_res_internal(res, DH_E_NOMEM, NULL);
		return -1;
	}
	r = gw_store_instance_get(c->st, id, in, &e);
	free(in);
	if (r == DH_E_NOTFOUND) {
		gw_res_fail(res, 400, code, "Instance %.100s does not exist",
		    id);
		return -1;
	}
	if (r != DH_OK) {
		gw_res_internal(res, r, &e);
		return -1;
	}
	return 0;
}

/* Move entries [NextToken, +MaxResults) of all into out[key]; sets
 * NextToken when more remain.  all is consumed. */
static int
paginate(const cJSON *in, cJSON *all, int64_t dflt, int64_t lo, int64_t hi,
    cJSON *out, const char *key, struct gw_ssm_result *res)
{
	const char *tok = NULL;
	int64_t max = dflt, off = 0, i = 0;
	struct dh_err e;
	cJSON *page, *it, *nx;
	char buf[24], *end;
	int present;

	if (dh_json_opt_int(in, "MaxResults", lo, hi, &max, &present, &e) !=
	    DH_OK) {
		cJSON_Delete(all);
		return gw_res_fail(res, 400, "ValidationException",
		    "MaxResults must"
		    " be between %lld and %lld", (long long)lo, (long long)hi),
		    -1;
	}
	if (!present)
		max = dflt;
	if (opt_str(in, "NextToken", 0, 1024, &tok, res) != 0) {
		cJSON_Delete(all);
		return -1;
	}
	if (tok != NULL && tok[0] != '\0') {
		off = strtoll(tok, &end, 10);
		if (*end != '\0' || off < 0) {
			cJSON_Delete(all);
			return gw_res_fail(res, 400, "InvalidNextToken", "The"
			    " NextToken is not valid"), -1;
		}
	}
	page = cJSON_CreateArray();
	if (page == NULL) {
		cJSON_Delete(all);
		return gw_res_internal(res, DH_E_NOMEM, NULL), -1;
	}
	it = all->child;
	while (it != NULL) {
		nx = it->next;
		if (i >= off && i < off + max)
			cJSON_AddItemToArray(page, cJSON_DetachItemViaPointer(all,
			    it));
		i++;
		it = nx;
	}
	cJSON_Delete(all);
	cJSON_AddItemToObject(out, key, page);
	if (off + max < i) {
		snprintf(buf, sizeof(buf), "%lld", (long long)(off + max));
		cJSON_AddStringToObject(out, "NextToken", buf);
	}
	return 0;
}

/* ---------------------------------------------------------- compliance */

static int
check_ctype(const char *t)
{
	const char *p = t;
	size_t i;

	if (strncmp(p, "Custom:", 7) == 0)
		p += 7;
	if (strlen(p) < 2)
		return 0;
	for (i = 0; p[i] != '\0'; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '_' &&
		    (p[i] != '-' || i > 0))
			return 0;
	return 1;
}

static int
check_items(const cJSON *items, struct gw_ssm_result *res)
{
	static const char *const statuses[] = { "COMPLIANT", "NON_COMPLIANT",
		NULL };
	const cJSON *it, *d, *kv;
	const char *s;
	int n = 0;

	if (!cJSON_IsArray(items))
		return gw_res_fail(res, 400, "ValidationException",
		    "1 validation"
		    " error detected: Value null at 'items' failed to satisfy"
		    " constraint: Member must not be null"), -1;
	cJSON_ArrayForEach(it, items) {
		if (++n > GW_PATCH_MAX_ITEMS)
			return gw_res_fail(res, 400, "ValidationException", "1"
			    " validation error detected: Value at 'items'"
			    " failed to satisfy constraint: Member must have"
			    " length less than or equal to %d",
			    GW_PATCH_MAX_ITEMS), -1;
		if (!cJSON_IsObject(it))
			return gw_res_fail(res, 400,
			    "InvalidItemContentException",
			    "item %d is not an object", n), -1;
		if (opt_str(it, "Id", 0, 4096, &s, res) != 0 ||
		    opt_str(it, "Title", 0, 500, &s, res) != 0 ||
		    req_str(it, "Severity", 1, 32, &s, res) != 0)
			return -1;
		if (!in_enum(s, severities))
			return gw_res_fail(res, 400, "ValidationException",
			    "Value"
			    " '%.32s' at 'items.%d.member.severity' failed to"
			    " satisfy constraint: Member must satisfy enum"
			    " value set: [CRITICAL, HIGH, MEDIUM, LOW,"
			    " INFORMATIONAL, UNSPECIFIED]", s, n), -1;
		if (req_str(it, "Status", 1, 32, &s, res) != 0)
			return -1;
		if (!in_enum(s, statuses))
			return gw_res_fail(res, 400, "ValidationException",
			    "Value"
			    " '%.32s' at 'items.%d.member.status' failed to"
			    " satisfy constraint: Member must satisfy enum"
			    " value set: [COMPLIANT, NON_COMPLIANT]", s, n), -1;
		d = gw_res_member(it, "Details");
		if (d != NULL && !cJSON_IsObject(d))
			return gw_res_fail(res, 400,
			    "InvalidItemContentException",
			    "Details of item %d must be a map", n), -1;
		cJSON_ArrayForEach(kv, d) {
			if (strlen(kv->string) < 1 || strlen(kv->string) > 64 ||
			    !cJSON_IsString(kv) ||
			    strlen(kv->valuestring) > 4096)
				return gw_res_fail(res, 400,
				    "InvalidItemContentException", "Details of"
				    " item %d: keys 1-64 and string values up"
				    " to 4096 characters", n), -1;
		}
	}
	return n;
}

static int
op_put_compliance(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *rid, *rtype, *ctype, *hash = NULL, *upload = NULL, *s;
	const cJSON *es = gw_res_member(in, "ExecutionSummary"), *items, *it,
	    *t;
	char *summary = NULL, *details = NULL;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *sum = NULL;
	int r = DH_OK, n, seq = 0, same = 0;

	if (req_str(in, "ResourceId", 1, 100, &rid, res) != 0 ||
	    req_str(in, "ResourceType", 1, 50, &rtype, res) != 0 ||
	    req_str(in, "ComplianceType", 1, 100, &ctype, res) != 0 ||
	    opt_str(in, "ItemContentHash", 0, 256, &hash, res) != 0 ||
	    opt_str(in, "UploadType", 1, 16, &upload, res) != 0)
		return DH_OK;
	if (strcmp(rtype, "ManagedInstance") != 0)
		return gw_res_fail(res, 400, "InvalidResourceType",
		    "ResourceType"
		    " %.50s is not supported", rtype);
	if (!check_ctype(ctype))
		return gw_res_fail(res, 400, "ValidationException",
		    "ComplianceType"
		    " must match [A-Za-z0-9_\\-]\\w+ or Custom:...");
	if (upload != NULL && strcmp(upload, "COMPLETE") != 0 &&
	    strcmp(upload, "PARTIAL") != 0)
		return gw_res_fail(res, 400, "ValidationException",
		    "UploadType must"
		    " be COMPLETE or PARTIAL");
	t = gw_res_member(es, "ExecutionTime");
	if (!cJSON_IsObject(es) || !cJSON_IsNumber(t))
		return gw_res_fail(res, 400, "ValidationException",
		    "1 validation"
		    " error detected: Value null at 'executionSummary."
		    "executionTime' failed to satisfy constraint: Member must"
		    " not be null");
	if (opt_str(es, "ExecutionId", 0, 100, &s, res) != 0 ||
	    opt_str(es, "ExecutionType", 0, 50, &s, res) != 0)
		return DH_OK;
	items = gw_res_member(in, "Items");
	n = check_items(items, res);
	if (n < 0 || own_instance(c, rid, res) != 0 ||
	    instance_exists(c, rid, "InvalidResourceId", res) != 0)
		return DH_OK;
	if (hash != NULL && hash[0] != '\0') {
		r = gw_store_prep(c->st, &q, &e, "SELECT content_hash FROM"
		    " compliance_runs WHERE resource_id = ? AND ctype = ?", "ss",
		    rid, ctype);
		if (r != DH_OK)
			return gw_res_internal(res, r, &e);
		if (sqlite3_step(q) == SQLITE_ROW && strcmp(gw_store_col(q, 0), hash) == 0)
			same = 1;
		sqlite3_finalize(q);
		if (same) {
			gw_res_ok(res);
			return DH_OK;
		}
	}
	sum = cJSON_Duplicate(es, 1);
	summary = sum != NULL ? dh_json_print_alloc(sum, DOC_MAX) : NULL;
	if (summary == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto out;
	}
	r = gw_store_begin(c->st, &e);
	if (r != DH_OK) {
		gw_res_internal(res, r, &e);
		goto out;
	}
	if (upload == NULL || strcmp(upload, "COMPLETE") == 0) {
		r = gw_store_prep(c->st, &q, &e, "DELETE FROM compliance_items WHERE"
		    " resource_id = ? AND ctype = ?", "ss", rid, ctype);
		if (r == DH_OK)
			r = gw_store_done(c->st, q, &e);
	} else {
		r = gw_store_prep(c->st, &q, &e, "SELECT COALESCE(MAX(seq), 0) FROM"
		    " compliance_items WHERE resource_id = ? AND ctype = ?",
		    "ss", rid, ctype);
		if (r == DH_OK) {
			if (sqlite3_step(q) == SQLITE_ROW)
				seq = sqlite3_column_int(q, 0);
			sqlite3_finalize(q);
		}
	}
	if (r == DH_OK)
		r = gw_store_prep(c->st, &q, &e, "INSERT OR REPLACE INTO"
		    " compliance_runs (resource_id, ctype, resource_type,"
		    " summary, content_hash) VALUES (?, ?, ?, ?, ?)", "sssss",
		    rid, ctype, rtype, summary, hash != NULL ? hash : "");
	if (r == DH_OK)
		r = gw_store_done(c->st, q, &e);
	cJSON_ArrayForEach(it, items) {
		const cJSON *d = gw_res_member(it, "Details");
		const char *id = cJSON_GetStringValue(gw_res_member(it, "Id"));
		const char *title = cJSON_GetStringValue(gw_res_member(it,
		    "Title"));
		char gen[24];

		if (r != DH_OK)
			break;
		free(details);
		details = d != NULL ? dh_json_print_alloc(d, DOC_MAX) : NULL;
		if (id == NULL || id[0] == '\0') {
			snprintf(gen, sizeof(gen), "item-%d", seq + 1);
			id = gen;
		}
		seq++;
		r = gw_store_prep(c->st, &q, &e, "INSERT OR REPLACE INTO"
		    " compliance_items (resource_id, ctype, item_id, title,"
		    " severity, status, details, seq) VALUES (?, ?, ?, ?, ?,"
		    " ?, ?, ?)", "sssssssi", rid, ctype, id,
		    title != NULL ? title : "",
		    cJSON_GetStringValue(gw_res_member(it, "Severity")),
		    cJSON_GetStringValue(gw_res_member(it, "Status")),
		    details != NULL ? details : "{}", (int64_t)seq);
		if (r == DH_OK)
			r = gw_store_done(c->st, q, &e);
	}
	if (r == DH_OK)
		r = gw_store_commit(c->st, &e);
	if (r != DH_OK) {
		gw_store_rollback(c->st);
		gw_res_internal(res, r, &e);
		goto out;
	}
	gw_res_ok(res);
out:
	free(details);
	free(summary);
	cJSON_Delete(sum);
	return r;
}

/* One ComplianceStringFilter test against a value. */
static int
string_filter_ok(const cJSON *f, const char *v)
{
	const char *type = cJSON_GetStringValue(gw_res_member(f, "Type"));
	const cJSON *vals = gw_res_member(f, "Values"), *x;
	int any = 0, hit;

	if (type == NULL)
		type = "EQUAL";
	cJSON_ArrayForEach(x, vals) {
		if (!cJSON_IsString(x))
			continue;
		if (strcmp(type, "BEGIN_WITH") == 0)
			hit = strncmp(v, x->valuestring,
			    strlen(x->valuestring)) == 0;
		else if (strcmp(type, "LESS_THAN") == 0)
			hit = strcmp(v, x->valuestring) < 0;
		else if (strcmp(type, "GREATER_THAN") == 0)
			hit = strcmp(v, x->valuestring) > 0;
		else
			hit = strcmp(v, x->valuestring) == 0;
		any |= hit;
	}
	return strcmp(type, "NOT_EQUAL") == 0 ? !any : any;
}

/* Apply Filters (Key -> value via lookup) to one row; 1 when it passes. */
static int
filters_ok(const cJSON *filters, const char *(*get)(void *, const char *),
    void *row)
{
	const cJSON *f;
	const char *k, *v;

	cJSON_ArrayForEach(f, filters) {
		k = cJSON_GetStringValue(gw_res_member(f, "Key"));
		if (k == NULL)
			continue;
		v = get(row, k);
		if (v == NULL)
			continue;
		if (!string_filter_ok(f, v))
			return 0;
	}
	return 1;
}

static int
check_filters(const cJSON *filters, struct gw_ssm_result *res)
{
	static const char *const types[] = { "EQUAL", "NOT_EQUAL",
		"BEGIN_WITH", "LESS_THAN", "GREATER_THAN", NULL };
	const cJSON *f;
	const char *t;

	if (filters == NULL)
		return 0;
	if (!cJSON_IsArray(filters))
		return gw_res_fail(res, 400, "ValidationException",
		    "Filters must be a"
		    " list"), -1;
	cJSON_ArrayForEach(f, filters) {
		t = cJSON_GetStringValue(gw_res_member(f, "Type"));
		if (!cJSON_IsString(gw_res_member(f, "Key")) ||
		    (t != NULL && !in_enum(t, types)))
			return gw_res_fail(res, 400, "InvalidFilter", "Invalid"
			    " compliance filter"), -1;
	}
	return 0;
}

static int
list_has(const cJSON *list, const char *v)
{
	const cJSON *x;

	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
		return 1;
	cJSON_ArrayForEach(x, list)
		if (cJSON_IsString(x) && strcmp(x->valuestring, v) == 0)
			return 1;
	return 0;
}

struct item_row {
	const char *resource_id, *ctype, *id, *title, *severity, *status;
	const char *resource_type;
};

static const char *
item_get(void *p, const char *k)
{
	struct item_row *r = p;

	if (strcmp(k, "ComplianceType") == 0)
		return r->ctype;
	if (strcmp(k, "Status") == 0)
		return r->status;
	if (strcmp(k, "Severity") == 0)
		return r->severity;
	if (strcmp(k, "Id") == 0)
		return r->id;
	if (strcmp(k, "Title") == 0)
		return r->title;
	if (strcmp(k, "ResourceId") == 0 || strcmp(k, "InstanceId") == 0)
		return r->resource_id;
	return NULL;
}

#define ITEM_SQL "SELECT i.resource_id, i.ctype, i.item_id, i.title," \
	" i.severity, i.status, i.details, r.summary, r.resource_type" \
	" FROM compliance_items i JOIN compliance_runs r ON" \
	" r.resource_id = i.resource_id AND r.ctype = i.ctype"

static int
op_list_items(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *filters = gw_res_member(in, "Filters");
	const cJSON *rids = gw_res_member(in, "ResourceIds");
	const cJSON *rtypes = gw_res_member(in, "ResourceTypes");
	struct item_row row;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *all = NULL, *o;
	int r;

	if (check_filters(filters, res) != 0)
		return DH_OK;
	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_prep(c->st, &q, &e, ITEM_SQL " ORDER BY i.resource_id,"
	    " i.ctype, i.seq", "");
	if (r != DH_OK) {
		cJSON_Delete(all);
		return gw_res_internal(res, r, &e);
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		row.resource_id = gw_store_col(q, 0);
		row.ctype = gw_store_col(q, 1);
		row.id = gw_store_col(q, 2);
		row.title = gw_store_col(q, 3);
		row.severity = gw_store_col(q, 4);
		row.status = gw_store_col(q, 5);
		row.resource_type = gw_store_col(q, 8);
		if (!list_has(rids, row.resource_id) ||
		    !list_has(rtypes, row.resource_type) ||
		    !filters_ok(filters, item_get, &row))
			continue;
		o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddItemToArray(all, o);
		cJSON_AddStringToObject(o, "ComplianceType", row.ctype);
		cJSON_AddStringToObject(o, "ResourceType", row.resource_type);
		cJSON_AddStringToObject(o, "ResourceId", row.resource_id);
		cJSON_AddStringToObject(o, "Id", row.id);
		cJSON_AddStringToObject(o, "Title", row.title);
		cJSON_AddStringToObject(o, "Status", row.status);
		cJSON_AddStringToObject(o, "Severity", row.severity);
		cJSON_AddItemToObject(o, "ExecutionSummary", gw_store_col_json(q, 7, DOC_MAX));
		cJSON_AddItemToObject(o, "Details", gw_store_col_json(q, 6, DOC_MAX));
	}
	sqlite3_finalize(q);
	paginate(in, all, 50, 1, 50, res->body, "ComplianceItems", res);
	return DH_OK;
}

/* Per (resource, type) aggregate. */
struct res_sum {
	char resource_id[128];
	char ctype[128];
	char resource_type[64];
	cJSON *summary;
	int counts[2][6];      /* [compliant?][severity rank] */
	int best[2];           /* highest rank per status, -1 none */
};

static void
sev_summary(cJSON *o, const int counts[6])
{
	static const char *const names[6] = { "UnspecifiedCount",
		"InformationalCount", "LowCount", "MediumCount", "HighCount",
		"CriticalCount" };
	cJSON *s = cJSON_AddObjectToObject(o, "SeveritySummary");
	int i;

	for (i = 5; i >= 0; i--)
		cJSON_AddNumberToObject(s, names[i], counts[i]);
}

/* Collect per-resource summaries into *out (n entries, owned). */
static int
collect_sums(struct gw_store *st, struct res_sum **out, size_t *n,
    struct dh_err *err)
{
	struct res_sum *v = NULL, *cur = NULL, *nv;
	sqlite3_stmt *q = NULL;
	size_t cnt = 0, cap = 0;
	int r, comp, rank;

	*out = NULL;
	*n = 0;
	r = gw_store_prep(st, &q, err, ITEM_SQL " ORDER BY i.resource_id, i.ctype",
	    "");
	if (r != DH_OK)
		return r;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (cur == NULL || strcmp(cur->resource_id, gw_store_col(q, 0)) != 0 ||
		    strcmp(cur->ctype, gw_store_col(q, 1)) != 0) {
			if (cnt == cap) {
				cap = cap ? cap * 2 : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (nv == NULL) {
					r = dh_err_set(err, DH_E_NOMEM,
					    "out of memory");
					break;
				}
				v = nv;
			}
			cur = &v[cnt++];
			memset(cur, 0, sizeof(*cur));
			snprintf(cur->resource_id, sizeof(cur->resource_id),
			    "%s", gw_store_col(q, 0));
			snprintf(cur->ctype, sizeof(cur->ctype), "%s", gw_store_col(q, 1));
			snprintf(cur->resource_type, sizeof(cur->resource_type),
			    "%s", gw_store_col(q, 8));
			cur->summary = gw_store_col_json(q, 7, DOC_MAX);
			cur->best[0] = cur->best[1] = -1;
		}
		comp = strcmp(gw_store_col(q, 5), "COMPLIANT") == 0;
		rank = severity_rank(gw_store_col(q, 4));
		cur->counts[comp][rank]++;
		if (rank > cur->best[comp])
			cur->best[comp] = rank;
	}
	sqlite3_finalize(q);
	*out = v;
	*n = cnt;
	return r;
}

static void
free_sums(struct res_sum *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_Delete(v[i].summary);
	free(v);
}

static const char *
rank_name(int rank)
{
	return rank >= 0 && rank <= 5 ? severities[5 - rank] : "UNSPECIFIED";
}

struct sum_row {
	const struct res_sum *s;
};

static const char *
sum_get(void *p, const char *k)
{
	const struct res_sum *s = ((struct sum_row *)p)->s;

	if (strcmp(k, "ComplianceType") == 0)
		return s->ctype;
	if (strcmp(k, "Status") == 0)
		return s->best[0] >= 0 ? "NON_COMPLIANT" : "COMPLIANT";
	if (strcmp(k, "OverallSeverity") == 0)
		return rank_name(s->best[0] >= 0 ? s->best[0] : s->best[1]);
	if (strcmp(k, "ResourceId") == 0 || strcmp(k, "InstanceId") == 0)
		return s->resource_id;
	if (strcmp(k, "ResourceType") == 0)
		return s->resource_type;
	return NULL;
}

static int
op_list_resource_summaries(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *filters = gw_res_member(in, "Filters");
	struct res_sum *v = NULL;
	struct sum_row row;
	struct dh_err e;
	cJSON *all, *o, *cs;
	size_t n = 0, i;
	int r, k, tot[2];

	if (check_filters(filters, res) != 0)
		return DH_OK;
	r = collect_sums(c->st, &v, &n, &e);
	if (r != DH_OK) {
		free_sums(v, n);
		return gw_res_internal(res, r, &e);
	}
	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL) {
		free_sums(v, n);
		cJSON_Delete(all);
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	}
	for (i = 0; i < n; i++) {
		row.s = &v[i];
		if (!filters_ok(filters, sum_get, &row))
			continue;
		o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddItemToArray(all, o);
		cJSON_AddStringToObject(o, "ComplianceType", v[i].ctype);
		cJSON_AddStringToObject(o, "ResourceType", v[i].resource_type);
		cJSON_AddStringToObject(o, "ResourceId", v[i].resource_id);
		cJSON_AddStringToObject(o, "Status", sum_get(&row, "Status"));
		cJSON_AddStringToObject(o, "OverallSeverity",
		    sum_get(&row, "OverallSeverity"));
		cJSON_AddItemToObject(o, "ExecutionSummary",
		    cJSON_Duplicate(v[i].summary, 1));
		for (k = 0; k < 2; k++) {
			int j;

			tot[k] = 0;
			for (j = 0; j < 6; j++)
				tot[k] += v[i].counts[k][j];
		}
		cs = cJSON_AddObjectToObject(o, "CompliantSummary");
		cJSON_AddNumberToObject(cs, "CompliantCount", tot[1]);
		sev_summary(cs, v[i].counts[1]);
		cs = cJSON_AddObjectToObject(o, "NonCompliantSummary");
		cJSON_AddNumberToObject(cs, "NonCompliantCount", tot[0]);
		sev_summary(cs, v[i].counts[0]);
	}
	free_sums(v, n);
	paginate(in, all, 50, 1, 50, res->body,
	    "ResourceComplianceSummaryItems", res);
	return DH_OK;
}

static int
op_list_summaries(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *filters = gw_res_member(in, "Filters");
	struct res_sum *v = NULL;
	struct sum_row row;
	struct dh_err e;
	cJSON *all, *o, *cs;
	size_t n = 0, i, j;
	int r, done;

	if (check_filters(filters, res) != 0)
		return DH_OK;
	r = collect_sums(c->st, &v, &n, &e);
	if (r != DH_OK) {
		free_sums(v, n);
		return gw_res_internal(res, r, &e);
	}
	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL) {
		free_sums(v, n);
		cJSON_Delete(all);
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	}
	/* One entry per compliance type, counting resources. */
	for (i = 0; i < n; i++) {
		int counts[2][6], tot[2] = { 0, 0 };

		done = 0;
		for (j = 0; j < i; j++)
			if (strcmp(v[j].ctype, v[i].ctype) == 0)
				done = 1;
		if (done)
			continue;
		memset(counts, 0, sizeof(counts));
		for (j = i; j < n; j++) {
			int comp;

			if (strcmp(v[j].ctype, v[i].ctype) != 0)
				continue;
			row.s = &v[j];
			if (!filters_ok(filters, sum_get, &row))
				continue;
			comp = v[j].best[0] < 0;
			counts[comp][comp ? (v[j].best[1] < 0 ? 0 :
			    v[j].best[1]) : v[j].best[0]]++;
			tot[comp]++;
		}
		if (tot[0] + tot[1] == 0)
			continue;
		o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddItemToArray(all, o);
		cJSON_AddStringToObject(o, "ComplianceType", v[i].ctype);
		cs = cJSON_AddObjectToObject(o, "CompliantSummary");
		cJSON_AddNumberToObject(cs, "CompliantCount", tot[1]);
		sev_summary(cs, counts[1]);
		cs = cJSON_AddObjectToObject(o, "NonCompliantSummary");
		cJSON_AddNumberToObject(cs, "NonCompliantCount", tot[0]);
		sev_summary(cs, counts[0]);
	}
	free_sums(v, n);
	paginate(in, all, 50, 1, 50, res->body, "ComplianceSummaryItems", res);
	return DH_OK;
}

/* ----------------------------------------------------------- inventory */

static int
check_capture_time(const char *s)
{
	time_t t;

	return strlen(s) == 20 && s[0] == '2' && s[1] == '0' &&
	    dh_time_parse_iso(s, &t) == DH_OK;
}

static int
check_schema_version(const char *s)
{
	size_t a = 0, b = 0;

	while (isdigit((unsigned char)s[a]))
		a++;
	if (a < 1 || a > 6 || s[a] != '.')
		return 0;
	while (isdigit((unsigned char)s[a + 1 + b]))
		b++;
	return b >= 1 && b <= 6 && s[a + 1 + b] == '\0';
}

static int
op_put_inventory(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *items = gw_res_member(in, "Items"), *it, *content, *ctx,
	    *row,
	    *kv;
	const char *id, *tn, *sv, *ct, *hash;
	char *ctext = NULL, *xtext = NULL;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	int r = DH_OK, n = 0, keep;

	if (req_str(in, "InstanceId", 1, 124, &id, res) != 0)
		return DH_OK;
	if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) < 1 ||
	    cJSON_GetArraySize(items) > GW_PATCH_MAX_INV_ITEMS)
		return gw_res_fail(res, 400, "ValidationException",
		    "Items must hold"
		    " 1 to %d inventory items", GW_PATCH_MAX_INV_ITEMS);
	cJSON_ArrayForEach(it, items) {
		n++;
		if (req_str(it, "TypeName", 1, 100, &tn, res) != 0 ||
		    req_str(it, "SchemaVersion", 1, 13, &sv, res) != 0 ||
		    req_str(it, "CaptureTime", 1, 32, &ct, res) != 0 ||
		    opt_str(it, "ContentHash", 0, 256, &hash, res) != 0)
			return DH_OK;
		if (strncmp(tn, "AWS:", 4) != 0 && strncmp(tn, "Custom:", 7) != 0)
			return gw_res_fail(res, 400, "InvalidTypeNameException",
			    "The"
			    " type name %.100s is not valid", tn);
		if (!check_schema_version(sv))
			return gw_res_fail(res, 400, "ValidationException",
			    "SchemaVersion must look like 1.0");
		if (!check_capture_time(ct))
			return gw_res_fail(res, 400, "ValidationException",
			    "CaptureTime must be YYYY-MM-DDTHH:MM:SSZ");
		content = gw_res_member(it, "Content");
		if (content != NULL && (!cJSON_IsArray(content) ||
		    cJSON_GetArraySize(content) > 10000))
			return gw_res_fail(res, 400,
			    "ItemSizeLimitExceededException",
			    "Content of %.100s holds more than 10000 entries",
			    tn);
		cJSON_ArrayForEach(row, content) {
			if (!cJSON_IsObject(row) ||
			    cJSON_GetArraySize(row) > 50)
				return gw_res_fail(res, 400,
				    "InvalidInventoryItemContextException",
				    "Content entries are maps of at most 50"
				    " strings");
			cJSON_ArrayForEach(kv, row)
				if (!cJSON_IsString(kv) ||
				    strlen(kv->string) > 64 ||
				    strlen(kv->valuestring) > 4096)
					return gw_res_fail(res, 400,
					    "ItemContentMismatchException",
					    "Content values must be strings");
		}
		ctx = gw_res_member(it, "Context");
		if (ctx != NULL && (!cJSON_IsObject(ctx) ||
		    cJSON_GetArraySize(ctx) > 50))
			return gw_res_fail(res, 400,
			    "InvalidInventoryItemContextException", "Context"
			    " must be a map of at most 50 entries");
	}
	if (own_instance(c, id, res) != 0 ||
	    instance_exists(c, id, "InvalidInstanceId", res) != 0)
		return DH_OK;
	r = gw_store_begin(c->st, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	cJSON_ArrayForEach(it, items) {
		tn = cJSON_GetStringValue(gw_res_member(it, "TypeName"));
		hash = cJSON_GetStringValue(gw_res_member(it, "ContentHash"));
		content = gw_res_member(it, "Content");
		keep = 0;
		if (content == NULL && hash != NULL) {
			r = gw_store_prep(c->st, &q, &e, "SELECT content_hash FROM"
			    " inventory WHERE instance_id = ? AND type_name = ?",
			    "ss", id, tn);
			if (r != DH_OK)
				break;
			keep = sqlite3_step(q) == SQLITE_ROW &&
			    strcmp(gw_store_col(q, 0), hash) == 0;
			sqlite3_finalize(q);
		}
		free(ctext);
		free(xtext);
		ctext = content != NULL ? dh_json_print_alloc(content, DOC_MAX) : NULL;
		xtext = gw_res_member(it, "Context") != NULL ?
		    dh_json_print_alloc(gw_res_member(it, "Context"), DOC_MAX) : NULL;
		if (keep)
			r = gw_store_prep(c->st, &q, &e, "UPDATE inventory SET"
			    " capture_time = ?, schema_version = ? WHERE"
			    " instance_id = ? AND type_name = ?", "ssss",
			    cJSON_GetStringValue(gw_res_member(it,
			    "CaptureTime")),
			    cJSON_GetStringValue(gw_res_member(it,
			    "SchemaVersion")),
			    id, tn);
		else
			r = gw_store_prep(c->st, &q, &e, "INSERT OR REPLACE INTO"
			    " inventory (instance_id, type_name, schema_version,"
			    " capture_time, content_hash, content, context)"
			    " VALUES (?, ?, ?, ?, ?, ?, ?)", "sssssss", id, tn,
			    cJSON_GetStringValue(gw_res_member(it,
			    "SchemaVersion")),
			    cJSON_GetStringValue(gw_res_member(it,
			    "CaptureTime")),
			    hash != NULL ? hash : "",
			    ctext != NULL ? ctext : "[]",
			    xtext != NULL ? xtext : "{}");
		if (r == DH_OK)
			r = gw_store_done(c->st, q, &e);
		if (r != DH_OK)
			break;
	}
	free(ctext);
	free(xtext);
	if (r == DH_OK)
		r = gw_store_commit(c->st, &e);
	if (r != DH_OK) {
		gw_store_rollback(c->st);
		return gw_res_internal(res, r, &e);
	}
	if (gw_res_ok(res) == NULL || cJSON_AddStringToObject(res->body,
	    "Message", "") == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

static int
wanted_type(const cJSON *attrs, const char *tn)
{
	const cJSON *a;
	const char *t;

	if (!cJSON_IsArray(attrs) || cJSON_GetArraySize(attrs) == 0)
		return 1;
	cJSON_ArrayForEach(a, attrs) {
		t = cJSON_GetStringValue(gw_res_member(a, "TypeName"));
		if (t != NULL && strcmp(t, tn) == 0)
			return 1;
	}
	return 0;
}

static int
inv_filters_ok(const cJSON *filters, const char *id)
{
	const cJSON *f;
	const char *k;

	cJSON_ArrayForEach(f, filters) {
		k = cJSON_GetStringValue(gw_res_member(f, "Key"));
		if (k != NULL && (strcmp(k, "AWS:InstanceInformation.InstanceId")
		    == 0 || strcmp(k, "AWS:InstanceInformation.ResourceId") ==
		    0) && !string_filter_ok(f, id))
			return 0;
	}
	return 1;
}

static int
op_get_inventory(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *filters = gw_res_member(in, "Filters");
	const cJSON *attrs = gw_res_member(in, "ResultAttributes");
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *all, *ent = NULL, *data = NULL, *t;
	char last[128] = "";
	int r;

	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_prep(c->st, &q, &e, "SELECT instance_id, type_name,"
	    " schema_version, capture_time, content_hash, content FROM"
	    " inventory ORDER BY instance_id, type_name", "");
	if (r != DH_OK) {
		cJSON_Delete(all);
		return gw_res_internal(res, r, &e);
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (!inv_filters_ok(filters, gw_store_col(q, 0)) ||
		    !wanted_type(attrs, gw_store_col(q, 1)))
			continue;
		if (ent == NULL || strcmp(last, gw_store_col(q, 0)) != 0) {
			snprintf(last, sizeof(last), "%s", gw_store_col(q, 0));
			ent = cJSON_CreateObject();
			if (ent == NULL)
				break;
			cJSON_AddItemToArray(all, ent);
			cJSON_AddStringToObject(ent, "Id", last);
			data = cJSON_AddObjectToObject(ent, "Data");
		}
		t = cJSON_AddObjectToObject(data, gw_store_col(q, 1));
		if (t == NULL)
			break;
		cJSON_AddStringToObject(t, "TypeName", gw_store_col(q, 1));
		cJSON_AddStringToObject(t, "SchemaVersion", gw_store_col(q, 2));
		cJSON_AddStringToObject(t, "CaptureTime", gw_store_col(q, 3));
		cJSON_AddStringToObject(t, "ContentHash", gw_store_col(q, 4));
		cJSON_AddItemToObject(t, "Content", gw_store_col_json(q, 5, DOC_MAX));
	}
	sqlite3_finalize(q);
	paginate(in, all, 50, 1, 50, res->body, "Entities", res);
	return DH_OK;
}

/* ---------------------------------------------------------- baselines */

static int
check_name(const char *n)
{
	size_t i, len = strlen(n);

	if (len < 3 || len > 128)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && strchr("_.-", n[i]) == NULL)
			return 0;
	return 1;
}

/* The stored document of a custom baseline plus its rows' dates. */
static int
load_custom(struct gw_store *st, const char *id, cJSON **doc,
    int64_t *created, int64_t *modified, struct dh_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	*doc = NULL;
	r = gw_store_prep(st, &q, err, "SELECT doc, created_ms, modified_ms FROM"
	    " patch_baselines WHERE id = ?", "s", id);
	if (r != DH_OK)
		return r;
	if (sqlite3_step(q) == SQLITE_ROW) {
		*doc = gw_store_col_json(q, 0, DOC_MAX);
		*created = sqlite3_column_int64(q, 1);
		*modified = sqlite3_column_int64(q, 2);
		r = *doc != NULL ? DH_OK : dh_err_set(err, DH_E_FORMAT,
		    "stored baseline %s is corrupt", id);
	} else
		r = dh_err_set(err, DH_E_NOTFOUND, "no baseline %s", id);
	sqlite3_finalize(q);
	return r;
}

/* Normalised GetPatchBaseline body of a stored doc (Sources kept). */
static int
render_baseline(const cJSON *doc, const char *id, cJSON **out,
    struct dh_err *err)
{
	struct pt_baseline b;
	const cJSON *src;
	cJSON *o = NULL;
	int r;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	r = pt_baseline_from_cjson(doc, &b, err);
	if (r == DH_OK)
		r = pt_baseline_to_cjson(&b, &o, err);
	pt_baseline_free(&b);
	if (r != DH_OK)
		return r;
	cJSON_DeleteItemFromObjectCaseSensitive(o, "BaselineId");
	cJSON_AddStringToObject(o, "BaselineId", id);
	if (!cJSON_HasObjectItem(o, "Name") && gw_res_member(doc,
	    "Name") != NULL)
		cJSON_AddStringToObject(o, "Name", gw_res_str_or(doc, "Name",
		    ""));
	if (!cJSON_HasObjectItem(o, "Description") &&
	    gw_res_member(doc, "Description") != NULL)
		cJSON_AddStringToObject(o, "Description",
		    gw_res_str_or(doc, "Description", ""));
	src = gw_res_member(doc, "Sources");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "Sources");
	cJSON_AddItemToObject(o, "Sources", src != NULL ?
	    cJSON_Duplicate(src, 1) : cJSON_CreateArray());
	*out = o;
	return DH_OK;
}

/* Full GetPatchBaseline answer for id (custom or predefined). */
static int
get_baseline(struct gw_store *st, const char *region, const char *id,
    cJSON **out, struct dh_err *err)
{
	const struct pt_default_baseline *defs;
	struct pt_baseline b;
	sqlite3_stmt *q = NULL;
	int64_t created = 0, modified = 0;
	cJSON *doc = NULL, *o = NULL, *groups;
	char arn[256];
	size_t n, i;
	int r;

	*out = NULL;
	r = load_custom(st, id, &doc, &created, &modified, err);
	if (r == DH_OK) {
		r = render_baseline(doc, id, &o, err);
		cJSON_Delete(doc);
		if (r != DH_OK)
			return r;
		cJSON_AddNumberToObject(o, "CreatedDate",
		    (double)created / 1000.0);
		cJSON_AddNumberToObject(o, "ModifiedDate",
		    (double)modified / 1000.0);
	} else if (r == DH_E_NOTFOUND) {
		memset(&b, 0, sizeof(b));
		r = pt_baseline_default_by_id(id, &b, err);
		if (r == DH_OK)
			r = pt_baseline_to_cjson(&b, &o, err);
		pt_baseline_free(&b);
		if (r != DH_OK)
			return dh_err_set(err, DH_E_NOTFOUND, "Baseline %.128s"
			    " does not exist", id);
		defs = pt_baseline_defaults(&n);
		for (i = 0; i < n; i++) {
			if (strcmp(gw_res_str_or(o, "Name", ""),
			    defs[i].name) != 0)
				continue;
			if (pt_baseline_default_arn(&defs[i], region, arn,
			    sizeof(arn), NULL) == DH_OK) {
				cJSON_DeleteItemFromObjectCaseSensitive(o,
				    "BaselineId");
				cJSON_AddStringToObject(o, "BaselineId", arn);
			}
		}
		cJSON_AddNumberToObject(o, "CreatedDate", 1500000000.0);
		cJSON_AddNumberToObject(o, "ModifiedDate", 1500000000.0);
		if (!cJSON_HasObjectItem(o, "Sources"))
			cJSON_AddItemToObject(o, "Sources", cJSON_CreateArray());
	} else
		return r;
	groups = cJSON_AddArrayToObject(o, "PatchGroups");
	r = gw_store_prep(st, &q, err, "SELECT patch_group FROM patch_groups WHERE"
	    " baseline_id = ? ORDER BY patch_group", "s",
	    gw_res_str_or(o, "BaselineId", id));
	if (r != DH_OK) {
		cJSON_Delete(o);
		return r;
	}
	while (sqlite3_step(q) == SQLITE_ROW)
		cJSON_AddItemToArray(groups, cJSON_CreateString(gw_store_col(q, 0)));
	sqlite3_finalize(q);
	*out = o;
	return DH_OK;
}

/* Validate a baseline request body; *doc = the document to store. */
static int
baseline_doc(const cJSON *in, cJSON **doc, struct gw_ssm_result *res)
{
	static const char *const drop[] = { "ClientToken", "Tags",
		"BaselineId", "Replace", NULL };
	struct pt_baseline b;
	struct dh_err e;
	size_t i;
	int r;

	*doc = cJSON_Duplicate(in, 1);
	if (*doc == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL), -1;
	for (i = 0; drop[i] != NULL; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(*doc, drop[i]);
	memset(&b, 0, sizeof(b));
	r = pt_baseline_from_cjson(*doc, &b, &e);
	pt_baseline_free(&b);
	if (r != DH_OK) {
		cJSON_Delete(*doc);
		*doc = NULL;
		return gw_res_fail(res, 400, "ValidationException", "%s",
		    e.msg), -1;
	}
	return 0;
}

static int
op_create_baseline(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *name, *desc;
	char id[24], *text = NULL;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *doc = NULL;
	int r;

	if (req_str(in, "Name", 3, 128, &name, res) != 0 ||
	    opt_str(in, "Description", 1, 1024, &desc, res) != 0)
		return DH_OK;
	if (!check_name(name))
		return gw_res_fail(res, 400, "ValidationException",
		    "Name must match"
		    " [a-zA-Z0-9_\\-.]{3,128}");
	if (baseline_doc(in, &doc, res) != 0)
		return DH_OK;
	memcpy(id, "pb-", 3);
	random_hex(id + 3, 17);
	text = dh_json_print_alloc(doc, DOC_MAX);
	cJSON_Delete(doc);
	if (text == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_prep(c->st, &q, &e, "INSERT INTO patch_baselines (id, name, os,"
	    " doc, created_ms, modified_ms) VALUES (?, ?, ?, ?, ?, ?)", "ssssii",
	    id, name, gw_res_str_or(in, "OperatingSystem", "WINDOWS"), text,
	    c->now_ms,
	    c->now_ms);
	if (r == DH_OK)
		r = gw_store_done(c->st, q, &e);
	free(text);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL || cJSON_AddStringToObject(res->body,
	    "BaselineId", id) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

static int
op_get_baseline(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *id;
	struct dh_err e;
	cJSON *o = NULL;
	int r;

	if (req_str(in, "BaselineId", 20, 128, &id, res) != 0)
		return DH_OK;
	r = get_baseline(c->st, c->region, id, &o, &e);
	if (r == DH_E_NOTFOUND)
		return gw_res_fail(res, 400, "DoesNotExistException", "Baseline"
		    " %.128s does not exist", id);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	cJSON_Delete(res->body);
	res->body = o;
	gw_res_ok(res);
	return DH_OK;
}

/* The registered default baseline id for an OS into out (or the
 * predefined one's ARN). */
static int
default_for_os(struct gw_store *st, const char *region, const char *os,
    char *out, size_t n, struct dh_err *err)
{
	const struct pt_default_baseline *defs;
	sqlite3_stmt *q = NULL;
	enum pt_os o;
	size_t nd, i;
	int r, found = 0;

	r = gw_store_prep(st, &q, err, "SELECT baseline_id FROM default_baselines"
	    " WHERE os = ?", "s", os);
	if (r != DH_OK)
		return r;
	if (sqlite3_step(q) == SQLITE_ROW) {
		snprintf(out, n, "%s", gw_store_col(q, 0));
		found = 1;
	}
	sqlite3_finalize(q);
	if (found)
		return DH_OK;
	if (pt_os_parse(os, &o) != DH_OK)
		return dh_err_set(err, DH_E_ARG, "unknown OperatingSystem %.32s",
		    os);
	defs = pt_baseline_defaults(&nd);
	for (i = 0; i < nd; i++)
		if (defs[i].os == o)
			return pt_baseline_default_arn(&defs[i], region, out, n,
			    err);
	return dh_err_set(err, DH_E_NOTFOUND, "no default baseline for %s", os);
}

static int
desc_match(const cJSON *filters, const char *name, const char *owner,
    const char *os)
{
	const cJSON *f, *vals, *v;
	const char *k;
	int any;

	cJSON_ArrayForEach(f, filters) {
		k = cJSON_GetStringValue(gw_res_member(f, "Key"));
		vals = gw_res_member(f, "Values");
		if (k == NULL)
			continue;
		any = 0;
		cJSON_ArrayForEach(v, vals) {
			if (!cJSON_IsString(v))
				continue;
			if (strcmp(k, "NAME_PREFIX") == 0 && strncmp(name,
			    v->valuestring, strlen(v->valuestring)) == 0)
				any = 1;
			else if (strcmp(k, "OWNER") == 0 &&
			    (strcmp(v->valuestring, owner) == 0 ||
			    (strcmp(v->valuestring, "All") == 0)))
				any = 1;
			else if (strcmp(k, "OPERATING_SYSTEM") == 0 &&
			    strcmp(v->valuestring, os) == 0)
				any = 1;
		}
		if (!any)
			return 0;
	}
	return 1;
}

static void
add_identity(cJSON *list, const char *id, const char *name, const char *os,
    const char *desc, int is_default)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return;
	cJSON_AddItemToArray(list, o);
	cJSON_AddStringToObject(o, "BaselineId", id);
	cJSON_AddStringToObject(o, "BaselineName", name);
	cJSON_AddStringToObject(o, "OperatingSystem", os);
	if (desc != NULL)
		cJSON_AddStringToObject(o, "BaselineDescription", desc);
	cJSON_AddBoolToObject(o, "DefaultBaseline", is_default);
}

static int
op_describe_baselines(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *filters = gw_res_member(in, "Filters");
	const struct pt_default_baseline *defs;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	char arn[256], dflt[256];
	const char *osn;
	cJSON *all, *doc;
	size_t n, i;
	int r;

	if (filters != NULL && !cJSON_IsArray(filters))
		return gw_res_fail(res, 400, "ValidationException",
		    "Filters must be a"
		    " list");
	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	defs = pt_baseline_defaults(&n);
	for (i = 0; i < n; i++) {
		osn = pt_os_name(defs[i].os);
		if (!desc_match(filters, defs[i].name, "AWS", osn) ||
		    pt_baseline_default_arn(&defs[i], c->region, arn,
		    sizeof(arn), NULL) != DH_OK)
			continue;
		if (default_for_os(c->st, c->region, osn, dflt, sizeof(dflt),
		    NULL) != DH_OK)
			dflt[0] = '\0';
		add_identity(all, arn, defs[i].name, osn, "Default patch"
		    " baseline provided by AWS", strcmp(dflt, arn) == 0);
	}
	r = gw_store_prep(c->st, &q, &e, "SELECT id, name, os, doc FROM"
	    " patch_baselines ORDER BY created_ms, id", "");
	if (r != DH_OK) {
		cJSON_Delete(all);
		return gw_res_internal(res, r, &e);
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (!desc_match(filters, gw_store_col(q, 1), "Self", gw_store_col(q, 2)))
			continue;
		if (default_for_os(c->st, c->region, gw_store_col(q, 2), dflt,
		    sizeof(dflt), NULL) != DH_OK)
			dflt[0] = '\0';
		doc = gw_store_col_json(q, 3, DOC_MAX);
		add_identity(all, gw_store_col(q, 0), gw_store_col(q, 1), gw_store_col(q, 2),
		    cJSON_GetStringValue(gw_res_member(doc, "Description")),
		    strcmp(dflt, gw_store_col(q, 0)) == 0);
		cJSON_Delete(doc);
	}
	sqlite3_finalize(q);
	paginate(in, all, 100, 1, 100, res->body, "BaselineIdentities", res);
	return DH_OK;
}

static int
op_update_baseline(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *id, *name;
	int64_t created = 0, modified = 0;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *doc = NULL, *merged = NULL, *m, *o = NULL;
	char *text = NULL;
	int replace = 0, r;

	if (req_str(in, "BaselineId", 20, 128, &id, res) != 0 ||
	    opt_str(in, "Name", 3, 128, &name, res) != 0)
		return DH_OK;
	if (name != NULL && !check_name(name))
		return gw_res_fail(res, 400, "ValidationException",
		    "Name must match"
		    " [a-zA-Z0-9_\\-.]{3,128}");
	(void)dh_json_opt_bool(in, "Replace", &replace, NULL);
	r = load_custom(c->st, id, &doc, &created, &modified, &e);
	if (r == DH_E_NOTFOUND)
		return gw_res_fail(res, 400, "DoesNotExistException", "Baseline"
		    " %.128s does not exist", id);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (replace) {
		merged = cJSON_CreateObject();
		if (merged != NULL)
			cJSON_AddStringToObject(merged, "Name",
			    gw_res_str_or(doc, "Name", ""));
		if (merged != NULL && gw_res_member(doc,
		    "OperatingSystem") != NULL)
			cJSON_AddStringToObject(merged, "OperatingSystem",
			    gw_res_str_or(doc, "OperatingSystem", ""));
	} else
		merged = cJSON_Duplicate(doc, 1);
	cJSON_Delete(doc);
	if (merged == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	cJSON_ArrayForEach(m, in) {
		if (strcmp(m->string, "BaselineId") == 0 ||
		    strcmp(m->string, "Replace") == 0 ||
		    strcmp(m->string, "OperatingSystem") == 0)
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(merged, m->string);
		cJSON_AddItemToObject(merged, m->string, cJSON_Duplicate(m, 1));
	}
	if (baseline_doc(merged, &doc, res) != 0) {
		cJSON_Delete(merged);
		return DH_OK;
	}
	cJSON_Delete(merged);
	text = dh_json_print_alloc(doc, DOC_MAX);
	if (text == NULL) {
		cJSON_Delete(doc);
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	}
	r = gw_store_prep(c->st, &q, &e, "UPDATE patch_baselines SET doc = ?,"
	    " name = ?, modified_ms = ? WHERE id = ?", "ssis", text,
	    gw_res_str_or(doc, "Name", ""), c->now_ms, id);
	if (r == DH_OK)
		r = gw_store_done(c->st, q, &e);
	free(text);
	cJSON_Delete(doc);
	if (r == DH_OK)
		r = get_baseline(c->st, c->region, id, &o, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	cJSON_DeleteItemFromObjectCaseSensitive(o, "PatchGroups");
	cJSON_Delete(res->body);
	res->body = o;
	gw_res_ok(res);
	return DH_OK;
}

static int
op_delete_baseline(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	sqlite3_stmt *q = NULL;
	const char *id;
	struct dh_err e;
	int r, used = 0;

	if (req_str(in, "BaselineId", 20, 128, &id, res) != 0)
		return DH_OK;
	r = gw_store_prep(c->st, &q, &e, "SELECT 1 FROM patch_groups WHERE"
	    " baseline_id = ? UNION ALL SELECT 1 FROM default_baselines WHERE"
	    " baseline_id = ?", "ss", id, id);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	used = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	if (used)
		return gw_res_fail(res, 400, "ResourceInUseException",
		    "Baseline"
		    " %.128s is registered with a patch group or as a default",
		    id);
	r = gw_store_prep(c->st, &q, &e, "DELETE FROM patch_baselines WHERE id = ?",
	    "s", id);
	if (r == DH_OK)
		r = gw_store_done(c->st, q, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL || cJSON_AddStringToObject(res->body,
	    "BaselineId", id) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

/* OperatingSystem of a baseline id (custom or predefined) into os[n]. */
static int
baseline_os(const struct gw_ssm_ctx *c, const char *id, char *os, size_t n,
    struct gw_ssm_result *res)
{
	struct dh_err e;
	cJSON *o = NULL;
	int r;

	r = get_baseline(c->st, c->region, id, &o, &e);
	if (r == DH_E_NOTFOUND)
		return gw_res_fail(res, 400, "DoesNotExistException", "Baseline"
		    " %.128s does not exist", id), -1;
	if (r != DH_OK)
		return gw_res_internal(res, r, &e), -1;
	snprintf(os, n, "%s", gw_res_str_or(o, "OperatingSystem", "WINDOWS"));
	cJSON_Delete(o);
	return 0;
}

static int
op_register_group(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *id, *group;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	char os[64];
	int r, exists;

	if (req_str(in, "BaselineId", 20, 128, &id, res) != 0 ||
	    req_str(in, "PatchGroup", 1, 256, &group, res) != 0 ||
	    baseline_os(c, id, os, sizeof(os), res) != 0)
		return DH_OK;
	r = gw_store_prep(c->st, &q, &e, "SELECT 1 FROM patch_groups WHERE"
	    " patch_group = ? AND os = ?", "ss", group, os);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	exists = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	if (exists)
		return gw_res_fail(res, 400, "AlreadyExistsException",
		    "Patch group"
		    " %.256s already has a %s baseline", group, os);
	r = gw_store_prep(c->st, &q, &e, "INSERT INTO patch_groups (patch_group, os,"
	    " baseline_id) VALUES (?, ?, ?)", "sss", group, os, id);
	if (r == DH_OK)
		r = gw_store_done(c->st, q, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL || cJSON_AddStringToObject(res->body,
	    "BaselineId", id) == NULL || cJSON_AddStringToObject(res->body,
	    "PatchGroup", group) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

static int
op_deregister_group(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *id, *group;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	int r;

	if (req_str(in, "BaselineId", 20, 128, &id, res) != 0 ||
	    req_str(in, "PatchGroup", 1, 256, &group, res) != 0)
		return DH_OK;
	r = gw_store_prep(c->st, &q, &e, "DELETE FROM patch_groups WHERE"
	    " patch_group = ? AND baseline_id = ?", "ss", group, id);
	if (r == DH_OK)
		r = gw_store_done(c->st, q, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (sqlite3_changes(gw_store_db(c->st)) == 0)
		return gw_res_fail(res, 400, "DoesNotExistException",
		    "Patch group"
		    " %.256s is not registered with %.128s", group, id);
	if (gw_res_ok(res) == NULL || cJSON_AddStringToObject(res->body,
	    "BaselineId", id) == NULL || cJSON_AddStringToObject(res->body,
	    "PatchGroup", group) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

/* Baseline id registered for (group, os), or the default. */
static int
baseline_id_for(struct gw_store *st, const char *region, const char *group,
    const char *os, char *out, size_t n, struct dh_err *err)
{
	sqlite3_stmt *q = NULL;
	int r, found = 0;

	if (group != NULL && group[0] != '\0') {
		r = gw_store_prep(st, &q, err, "SELECT baseline_id FROM patch_groups"
		    " WHERE patch_group = ? AND os = ?", "ss", group, os);
		if (r != DH_OK)
			return r;
		if (sqlite3_step(q) == SQLITE_ROW) {
			snprintf(out, n, "%s", gw_store_col(q, 0));
			found = 1;
		}
		sqlite3_finalize(q);
		if (found)
			return DH_OK;
	}
	return default_for_os(st, region, os, out, n, err);
}

static int
op_get_for_group(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *group, *os;
	struct dh_err e;
	char id[256];
	enum pt_os o;
	int r;

	if (req_str(in, "PatchGroup", 1, 256, &group, res) != 0 ||
	    opt_str(in, "OperatingSystem", 1, 64, &os, res) != 0)
		return DH_OK;
	if (os == NULL)
		os = "WINDOWS";
	if (pt_os_parse(os, &o) != DH_OK)
		return gw_res_fail(res, 400, "ValidationException", "Unknown"
		    " OperatingSystem %.64s", os);
	r = baseline_id_for(c->st, c->region, group, os, id, sizeof(id), &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL ||
	    cJSON_AddStringToObject(res->body, "BaselineId", id) == NULL ||
	    cJSON_AddStringToObject(res->body, "PatchGroup", group) == NULL ||
	    cJSON_AddStringToObject(res->body, "OperatingSystem", os) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

static int
op_register_default(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	sqlite3_stmt *q = NULL;
	const char *id;
	struct dh_err e;
	char os[64];
	int r;

	if (req_str(in, "BaselineId", 20, 128, &id, res) != 0 ||
	    baseline_os(c, id, os, sizeof(os), res) != 0)
		return DH_OK;
	r = gw_store_prep(c->st, &q, &e, "INSERT OR REPLACE INTO default_baselines"
	    " (os, baseline_id) VALUES (?, ?)", "ss", os, id);
	if (r == DH_OK)
		r = gw_store_done(c->st, q, &e);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL || cJSON_AddStringToObject(res->body,
	    "BaselineId", id) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

static int
op_get_default(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *os;
	struct dh_err e;
	char id[256];
	enum pt_os o;
	int r;

	if (opt_str(in, "OperatingSystem", 1, 64, &os, res) != 0)
		return DH_OK;
	if (os == NULL)
		os = "WINDOWS";
	if (pt_os_parse(os, &o) != DH_OK)
		return gw_res_fail(res, 400, "ValidationException", "Unknown"
		    " OperatingSystem %.64s", os);
	r = default_for_os(c->st, c->region, os, id, sizeof(id), &e);
	if (r == DH_E_NOTFOUND)
		return gw_res_fail(res, 400, "DoesNotExistException", "%s",
		    e.msg);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL ||
	    cJSON_AddStringToObject(res->body, "BaselineId", id) == NULL ||
	    cJSON_AddStringToObject(res->body, "OperatingSystem", os) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

/* ----------------------------------------------------------- snapshots */

static int
group_tag_cb(void *ctx, const char *k, const char *v)
{
	char *out = ctx;

	if (strcmp(k, "Patch Group") == 0 || (strcmp(k, "PatchGroup") == 0 &&
	    out[0] == '\0'))
		snprintf(out, 257, "%s", v);
	return 0;
}

/* OS enum name and os-release style id from the heartbeat's platform. */
static void
instance_os(const struct gw_store_instance *in, const char **os,
    const char **rel_id)
{
	static const struct {
		const char *needle, *os, *id;
	} map[] = {
		{ "Ubuntu", "UBUNTU", "ubuntu" },
		{ "Debian", "DEBIAN", "debian" },
		{ "Raspbian", "RASPBIAN", "raspbian" },
		{ "Amazon Linux", NULL, "amzn" },
		{ "Red Hat", "REDHAT_ENTERPRISE_LINUX", "rhel" },
		{ "Rocky", "ROCKY_LINUX", "rocky" },
		{ "Alma", "ALMA_LINUX", "almalinux" },
		{ "CentOS", "CENTOS", "centos" },
		{ "Oracle", "ORACLE_LINUX", "ol" },
		{ "SUSE", "SUSE", "sles" },
		{ "SLES", "SUSE", "sles" },
	};
	size_t i;

	*os = "WINDOWS";
	*rel_id = "";
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strstr(in->platform_name, map[i].needle) == NULL)
			continue;
		*rel_id = map[i].id;
		*os = map[i].os;
		if (*os == NULL)
			*os = strncmp(in->platform_version, "2023", 4) == 0 ?
			    "AMAZON_LINUX_2023" : strcmp(in->platform_version,
			    "2") == 0 ? "AMAZON_LINUX_2" : "AMAZON_LINUX";
		return;
	}
	if (strcmp(in->platform_type, "Linux") == 0)
		*os = "DEBIAN";
}

int
gw_patch_baseline_for(struct gw_store *st, const char *region,
    const char *instance_id, const char *os, cJSON **out, char *group,
    size_t gn, struct dh_err *err)
{
	char tag[257] = "", id[256];
	int r;

	*out = NULL;
	r = gw_store_tag_each(st, instance_id, group_tag_cb, tag, err);
	if (r == DH_OK)
		r = baseline_id_for(st, region, tag, os, id, sizeof(id), err);
	if (r == DH_OK)
		r = get_baseline(st, region, id, out, err);
	if (r == DH_OK && group != NULL)
		snprintf(group, gn, "%s", tag);
	return r;
}

static int
op_snapshot(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct gw_store_instance *inst = NULL;
	const cJSON *ovr = gw_res_member(in, "BaselineOverride");
	const char *iid, *sid, *os, *rel;
	char group[257] = "", product[64] = "";
	struct dh_buf json, url;
	struct dh_uuid u;
	struct dh_err e;
	cJSON *bl = NULL, *snap = NULL;
	int r = DH_OK;

	dh_buf_init(&json, DOC_MAX);
	dh_buf_init(&url, 2 * DOC_MAX);
	if (req_str(in, "InstanceId", 10, 124, &iid, res) != 0 ||
	    req_str(in, "SnapshotId", 36, 36, &sid, res) != 0 ||
	    own_instance(c, iid, res) != 0)
		goto out;
	if (dh_uuid_parse(sid, &u) != DH_OK) {
		gw_res_fail(res, 400, "ValidationException",
		    "SnapshotId must be a"
		    " UUID");
		goto out;
	}
	inst = malloc(sizeof(*inst));
	if (inst == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto out;
	}
	r = gw_store_instance_get(c->st, iid, inst, &e);
	if (r == DH_E_NOTFOUND) {
		r = DH_OK;
		gw_res_fail(res, 400, "InvalidInstanceId",
		    "Instance %.100s does not"
		    " exist", iid);
		goto out;
	}
	if (r != DH_OK) {
		gw_res_internal(res, r, &e);
		goto out;
	}
	instance_os(inst, &os, &rel);
	(void)pt_scan_product(rel, inst->platform_version, product,
	    sizeof(product));
	if (ovr != NULL) {
		struct pt_baseline b;

		memset(&b, 0, sizeof(b));
		r = pt_baseline_from_cjson(ovr, &b, &e);
		if (r == DH_OK)
			r = pt_baseline_to_cjson(&b, &bl, &e);
		pt_baseline_free(&b);
		if (r != DH_OK) {
			r = DH_OK;
			gw_res_fail(res, 400, "ValidationException",
			    "BaselineOverride:"
			    " %s", e.msg);
			goto out;
		}
		os = gw_res_str_or(ovr, "OperatingSystem", os);
		(void)gw_store_tag_each(c->st, iid, group_tag_cb, group, NULL);
	} else {
		r = gw_patch_baseline_for(c->st, c->region, iid, os, &bl,
		    group, sizeof(group), &e);
		if (r != DH_OK) {
			gw_res_internal(res, r, &e);
			goto out;
		}
	}
	snap = cJSON_CreateObject();
	if (snap == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto out;
	}
	cJSON_AddStringToObject(snap, "instanceId", iid);
	cJSON_AddStringToObject(snap, "snapshotId", sid);
	cJSON_AddStringToObject(snap, "baselineId", gw_res_str_or(bl,
	    "BaselineId",
	    ""));
	cJSON_AddStringToObject(snap, "patchGroup", group);
	cJSON_AddStringToObject(snap, "product", product);
	cJSON_AddStringToObject(snap, "operatingSystem", os);
	cJSON_AddItemToObject(snap, "patchBaseline", bl);
	bl = NULL;
	if (dh_json_print(snap, &json) != DH_OK ||
	    dh_buf_put_str(&url, "data:application/json;base64,") != DH_OK ||
	    dh_b64_encode(json.d, json.len, &url) != DH_OK) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto out;
	}
	if (gw_res_ok(res) == NULL ||
	    cJSON_AddStringToObject(res->body, "InstanceId", iid) == NULL ||
	    cJSON_AddStringToObject(res->body, "SnapshotId", sid) == NULL ||
	    cJSON_AddStringToObject(res->body, "SnapshotDownloadUrl",
	    dh_buf_cstr(&url)) == NULL ||
	    cJSON_AddStringToObject(res->body, "Product", product) == NULL)
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
out:
	cJSON_Delete(bl);
	cJSON_Delete(snap);
	dh_buf_free(&json);
	dh_buf_free(&url);
	free(inst);
	return r;
}

/* --------------------------------------------------------- patch state */

static const char *const count_keys[] = { "InstalledCount",
	"InstalledOtherCount", "InstalledPendingRebootCount",
	"InstalledRejectedCount", "MissingCount", "FailedCount",
	"UnreportedNotApplicableCount", "NotApplicableCount",
	"CriticalNonCompliantCount", "SecurityNonCompliantCount",
	"OtherNonCompliantCount", NULL };

static void
add_iso_time(cJSON *o, const char *key, const char *iso)
{
	time_t t = 0;

	if (iso != NULL && dh_time_parse_iso(iso, &t) != DH_OK)
		t = 0;
	cJSON_AddNumberToObject(o, key, (double)t);
}

/* InstancePatchState from a stored AWS:PatchSummary content row. */
static cJSON *
patch_state(const char *iid, const cJSON *content)
{
	const cJSON *m = cJSON_GetArrayItem(content, 0);
	const char *s;
	cJSON *o = cJSON_CreateObject();
	size_t i;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "InstanceId", iid);
	cJSON_AddStringToObject(o, "PatchGroup", gw_res_str_or(m, "PatchGroup",
	    ""));
	cJSON_AddStringToObject(o, "BaselineId", gw_res_str_or(m, "BaselineId",
	    ""));
	cJSON_AddStringToObject(o, "SnapshotId", gw_res_str_or(m, "SnapshotId",
	    ""));
	s = gw_res_str_or(m, "InstallOverrideList", "");
	if (s[0] != '\0')
		cJSON_AddStringToObject(o, "InstallOverrideList", s);
	s = gw_res_str_or(m, "OwnerInformation", "");
	if (s[0] != '\0')
		cJSON_AddStringToObject(o, "OwnerInformation", s);
	for (i = 0; count_keys[i] != NULL; i++)
		cJSON_AddNumberToObject(o, count_keys[i],
		    strtod(gw_res_str_or(m, count_keys[i], "0"), NULL));
	add_iso_time(o, "OperationStartTime", gw_res_str_or(m,
	    "OperationStartTime",
	    NULL));
	add_iso_time(o, "OperationEndTime", gw_res_str_or(m, "OperationEndTime",
	    NULL));
	cJSON_AddStringToObject(o, "Operation", gw_res_str_or(m,
	    "OperationType",
	    "Scan"));
	s = gw_res_str_or(m, "LastNoRebootInstallOperationTime", "");
	if (s[0] != '\0')
		add_iso_time(o, "LastNoRebootInstallOperationTime", s);
	cJSON_AddStringToObject(o, "RebootOption", gw_res_str_or(m,
	    "RebootOption",
	    "RebootIfNeeded"));
	return o;
}

static int
summary_rows(const struct gw_ssm_ctx *c, const cJSON *ids, const char *group,
    cJSON *all, struct dh_err *err)
{
	sqlite3_stmt *q = NULL;
	const cJSON *m;
	cJSON *content, *o;
	int r;

	r = gw_store_prep(c->st, &q, err, "SELECT instance_id, content FROM"
	    " inventory WHERE type_name = 'AWS:PatchSummary' ORDER BY"
	    " instance_id", "");
	if (r != DH_OK)
		return r;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (ids != NULL && !list_has(ids, gw_store_col(q, 0)))
			continue;
		content = gw_store_col_json(q, 1, DOC_MAX);
		m = cJSON_GetArrayItem(content, 0);
		if (group == NULL || strcmp(gw_res_str_or(m, "PatchGroup", ""),
		    group) == 0) {
			o = patch_state(gw_store_col(q, 0), content);
			if (o != NULL)
				cJSON_AddItemToArray(all, o);
		}
		cJSON_Delete(content);
	}
	sqlite3_finalize(q);
	return DH_OK;
}

static int
op_patch_states(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *ids = gw_res_member(in, "InstanceIds");
	struct dh_err e;
	cJSON *all;
	int r;

	if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0)
		return gw_res_fail(res, 400, "ValidationException",
		    "1 validation"
		    " error detected: Value null at 'instanceIds' failed to"
		    " satisfy constraint: Member must not be null");
	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = summary_rows(c, ids, NULL, all, &e);
	if (r != DH_OK) {
		cJSON_Delete(all);
		return gw_res_internal(res, r, &e);
	}
	paginate(in, all, 50, 10, 100, res->body, "InstancePatchStates", res);
	return DH_OK;
}

static int
op_patch_states_group(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *group;
	struct dh_err e;
	cJSON *all;
	int r;

	if (req_str(in, "PatchGroup", 1, 256, &group, res) != 0)
		return DH_OK;
	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = summary_rows(c, NULL, group, all, &e);
	if (r != DH_OK) {
		cJSON_Delete(all);
		return gw_res_internal(res, r, &e);
	}
	paginate(in, all, 50, 10, 100, res->body, "InstancePatchStates", res);
	return DH_OK;
}

/* API state (INSTALLED_OTHER) or CLI spelling -> CLI spelling. */
static const char *
cli_state(const char *s)
{
	static const char *const api[] = { "INSTALLED", "INSTALLED_OTHER",
		"INSTALLED_PENDING_REBOOT", "INSTALLED_REJECTED", "MISSING",
		"FAILED", "NOT_APPLICABLE", NULL };
	static const char *const cli[] = { "Installed", "InstalledOther",
		"InstalledPendingReboot", "InstalledRejected", "Missing",
		"Failed", "NotApplicable", NULL };
	size_t i;

	for (i = 0; api[i] != NULL; i++)
		if (strcmp(s, api[i]) == 0 || strcmp(s, cli[i]) == 0)
			return cli[i];
	return s;
}

static int
patch_filter_ok(const cJSON *filters, const char *key, const char *v)
{
	const cJSON *f, *vals, *x;
	const char *k;
	int any;

	cJSON_ArrayForEach(f, filters) {
		k = cJSON_GetStringValue(gw_res_member(f, "Key"));
		if (k == NULL || strcmp(k, key) != 0)
			continue;
		vals = gw_res_member(f, "Values");
		any = 0;
		cJSON_ArrayForEach(x, vals)
			if (cJSON_IsString(x) && (strcmp(x->valuestring, v) ==
			    0 || strcmp(cli_state(x->valuestring), v) == 0))
				any = 1;
		if (!any)
			return 0;
	}
	return 1;
}

static int
op_instance_patches(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *filters = gw_res_member(in, "Filters");
	const char *iid, *state;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *all, *o, *d;
	int r;

	if (req_str(in, "InstanceId", 10, 124, &iid, res) != 0)
		return DH_OK;
	if (filters != NULL && !cJSON_IsArray(filters))
		return gw_res_fail(res, 400, "ValidationException",
		    "Filters must be a"
		    " list");
	if (instance_exists(c, iid, "InvalidInstanceId", res) != 0)
		return DH_OK;
	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_prep(c->st, &q, &e, "SELECT item_id, title, details FROM"
	    " compliance_items WHERE resource_id = ? AND ctype = 'Patch' ORDER"
	    " BY seq", "s", iid);
	if (r != DH_OK) {
		cJSON_Delete(all);
		return gw_res_internal(res, r, &e);
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		d = gw_store_col_json(q, 2, DOC_MAX);
		state = cli_state(gw_res_str_or(d, "PatchState", ""));
		if (!patch_filter_ok(filters, "State", state) ||
		    !patch_filter_ok(filters, "Severity", gw_res_str_or(d,
		    "PatchSeverity", "")) ||
		    !patch_filter_ok(filters, "Classification", gw_res_str_or(d,
		    "Classification", ""))) {
			cJSON_Delete(d);
			continue;
		}
		o = cJSON_CreateObject();
		if (o == NULL) {
			cJSON_Delete(d);
			break;
		}
		cJSON_AddItemToArray(all, o);
		cJSON_AddStringToObject(o, "Title", gw_store_col(q, 1));
		cJSON_AddStringToObject(o, "KBId", gw_store_col(q, 0));
		cJSON_AddStringToObject(o, "Classification", gw_res_str_or(d,
		    "Classification", ""));
		cJSON_AddStringToObject(o, "Severity", gw_res_str_or(d,
		    "PatchSeverity", ""));
		cJSON_AddStringToObject(o, "State", state);
		add_iso_time(o, "InstalledTime", gw_res_str_or(d,
		    "InstalledTime",
		    NULL));
		if (gw_res_str_or(d, "CVEIds", "")[0] != '\0')
			cJSON_AddStringToObject(o, "CVEIds", gw_res_str_or(d,
			    "CVEIds",
			    ""));
		cJSON_Delete(d);
	}
	sqlite3_finalize(q);
	paginate(in, all, 50, 10, 100, res->body, "Patches", res);
	return DH_OK;
}

/* --------------------------------------------------------------- table */

#define OP(name, who, fn) { "AmazonSSM." name, name, "ssm", SSM_SRC, \
	"ssm:" name, who, fn }

const struct gw_ssm_op gw_patch_ops[] = {
	OP("PutComplianceItems", INST | OPR, op_put_compliance),
	OP("ListComplianceItems", OPR, op_list_items),
	OP("ListComplianceSummaries", OPR, op_list_summaries),
	OP("ListResourceComplianceSummaries", OPR, op_list_resource_summaries),
	OP("PutInventory", INST | OPR, op_put_inventory),
	OP("GetInventory", OPR, op_get_inventory),
	OP("CreatePatchBaseline", OPR, op_create_baseline),
	OP("GetPatchBaseline", OPR | INST, op_get_baseline),
	OP("DescribePatchBaselines", OPR, op_describe_baselines),
	OP("UpdatePatchBaseline", OPR, op_update_baseline),
	OP("DeletePatchBaseline", OPR, op_delete_baseline),
	OP("RegisterPatchBaselineForPatchGroup", OPR, op_register_group),
	OP("DeregisterPatchBaselineForPatchGroup", OPR, op_deregister_group),
	OP("GetPatchBaselineForPatchGroup", OPR, op_get_for_group),
	OP("RegisterDefaultPatchBaseline", OPR, op_register_default),
	OP("GetDefaultPatchBaseline", OPR, op_get_default),
	OP("GetDeployablePatchSnapshotForInstance", INST | OPR, op_snapshot),
	OP("DescribeInstancePatchStates", OPR, op_patch_states),
	OP("DescribeInstancePatchStatesForPatchGroup", OPR,
	    op_patch_states_group),
	OP("DescribeInstancePatches", OPR, op_instance_patches),
};

const size_t gw_patch_n_ops = sizeof(gw_patch_ops) / sizeof(gw_patch_ops[0]);
