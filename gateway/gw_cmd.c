/*
 * gw_cmd: Run Command (AWS-RunPatchBaseline) handlers and the delivery of
 * agent_job messages over the control channel (see gw_cmd.h).
 */
#include "gw_cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_json.h"
#include "dh_log.h"
#include "dh_mgs.h"
#include "dh_time.h"
#include "dh_uuid.h"
#include "gw_res.h"

#define SSM_SRC "ssm.amazonaws.com"
#define OPR GW_SSM_OPERATOR
#define DOC_MAX (1024 * 1024)
#define PLUGIN "PatchLinux"

struct gw_cmd {
	struct gw_store *st;
	struct gw_ctrl *ctrl;
};

/* ------------------------------------------------------------ helpers */



/* ------------------------------------------------------------ document */

/* Check Parameters of AWS-RunPatchBaseline; 0 or -1 with why[n]. */
static int
check_params(const cJSON *params, char *why, size_t n)
{
	static const char *const known[] = { "Operation", "SnapshotId",
		"InstallOverrideList", "BaselineOverride", "RebootOption",
		"AssociationId", NULL };
	const cJSON *p, *v;
	const char *op;
	size_t i;
	int ok;

	cJSON_ArrayForEach(p, params) {
		ok = 0;
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(p->string, known[i]) == 0)
				ok = 1;
		if (!ok) {
			snprintf(why, n, "Parameter %.64s is not defined by %s",
			    p->string, GW_CMD_DOCUMENT);
			return -1;
		}
		if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) > 1) {
			snprintf(why, n, "Parameter %.64s takes one string",
			    p->string);
			return -1;
		}
		cJSON_ArrayForEach(v, p)
			if (!cJSON_IsString(v)) {
				snprintf(why, n, "Parameter %.64s takes one"
				    " string", p->string);
				return -1;
			}
	}
	op = cJSON_GetStringValue(cJSON_GetArrayItem(gw_res_member(params,
	    "Operation"), 0));
	if (op == NULL || (strcmp(op, "Scan") != 0 &&
	    strcmp(op, "Install") != 0)) {
		snprintf(why, n, "Parameter Operation must be Scan or Install");
		return -1;
	}
	op = cJSON_GetStringValue(cJSON_GetArrayItem(gw_res_member(params,
	    "RebootOption"), 0));
	if (op != NULL && strcmp(op, "RebootIfNeeded") != 0 &&
	    strcmp(op, "NoReboot") != 0) {
		snprintf(why, n, "Parameter RebootOption must be RebootIfNeeded"
		    " or NoReboot");
		return -1;
	}
	return 0;
}

/* The document body the agent receives (schema 2.2, one Linux step). */
static cJSON *
document_content(void)
{
	static const char doc[] =
	    "{\"schemaVersion\":\"2.2\",\"description\":\"Scans for or installs"
	    " patches from a patch baseline.\",\"parameters\":{\"Operation\":"
	    "{\"type\":\"String\",\"allowedValues\":[\"Scan\",\"Install\"]},"
	    "\"SnapshotId\":{\"type\":\"String\",\"default\":\"\"},"
	    "\"InstallOverrideList\":{\"type\":\"String\",\"default\":\"\"},"
	    "\"BaselineOverride\":{\"type\":\"String\",\"default\":\"\"},"
	    "\"RebootOption\":{\"type\":\"String\",\"default\":"
	    "\"RebootIfNeeded\",\"allowedValues\":[\"RebootIfNeeded\","
	    "\"NoReboot\"]}},\"mainSteps\":[{\"precondition\":{\"StringEquals\":"
	    "[\"platformType\",\"Linux\"]},\"action\":\"aws:runPatchBaseline\","
	    "\"name\":\"" PLUGIN "\",\"inputs\":{\"Operation\":"
	    "\"{{Operation}}\",\"SnapshotId\":\"{{SnapshotId}}\","
	    "\"BaselineOverride\":\"{{BaselineOverride}}\",\"RebootOption\":"
	    "\"{{RebootOption}}\"}}]}";
	cJSON *j = NULL;

	(void)dh_json_parse(doc, sizeof(doc) - 1, sizeof(doc), &j, NULL);
	return j;
}

int
gw_cmd_check_params(const cJSON *params, struct dh_err *err)
{
	char why[160];

	if (!cJSON_IsObject(params))
		return dh_err_set(err, DH_E_ARG, "Parameter Operation is"
		    " required");
	if (check_params(params, why, sizeof(why)) != 0)
		return dh_err_set(err, DH_E_ARG, "%s", why);
	return DH_OK;
}

/* ------------------------------------------------------------ creation */

int
gw_cmd_create(struct gw_store *st, const char *doc, const cJSON *params,
    const char *const *ids, size_t n, const char *comment, int64_t now_ms,
    int64_t deliver_by_ms, char out_id[37], struct dh_err *err)
{
	struct dh_uuid u;
	sqlite3_stmt *q = NULL;
	cJSON *c = NULL, *list;
	char why[160], *text = NULL;
	size_t i;
	int r;

	if (strcmp(doc, GW_CMD_DOCUMENT) != 0)
		return dh_err_set(err, DH_E_ARG, "Document %.128s does not"
		    " exist", doc);
	if (check_params(params, why, sizeof(why)) != 0)
		return dh_err_set(err, DH_E_ARG, "%s", why);
	if (dh_uuid_v4(&u) != DH_OK)
		return dh_err_set(err, DH_E_CRYPTO, "random failed");
	dh_uuid_fmt(&u, out_id);
	c = cJSON_CreateObject();
	if (c == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	cJSON_AddStringToObject(c, "CommandId", out_id);
	cJSON_AddStringToObject(c, "DocumentName", doc);
	cJSON_AddStringToObject(c, "DocumentVersion", "$DEFAULT");
	cJSON_AddStringToObject(c, "Comment", comment != NULL ? comment : "");
	gw_res_add_time(c, "ExpiresAfter", deliver_by_ms);
	cJSON_AddItemToObject(c, "Parameters", cJSON_Duplicate(params, 1));
	list = cJSON_AddArrayToObject(c, "InstanceIds");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(ids[i]));
	cJSON_AddArrayToObject(c, "Targets");
	gw_res_add_time(c, "RequestedDateTime", now_ms);
	cJSON_AddStringToObject(c, "OutputS3Region", "");
	cJSON_AddStringToObject(c, "OutputS3BucketName", "");
	cJSON_AddStringToObject(c, "OutputS3KeyPrefix", "");
	cJSON_AddStringToObject(c, "MaxConcurrency", "50");
	cJSON_AddStringToObject(c, "MaxErrors", "0");
	cJSON_AddNumberToObject(c, "TimeoutSeconds",
	    (double)((deliver_by_ms - now_ms) / 1000));
	text = dh_json_print_alloc(c, DOC_MAX);
	cJSON_Delete(c);
	if (text == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	r = gw_store_begin(st, err);
	if (r == DH_OK)
		r = gw_store_prep(st, &q, err, "INSERT INTO commands (id, doc,"
		    " created_ms) VALUES (?, ?, ?)", "ssi", out_id, text,
		    now_ms);
	if (r == DH_OK)
		r = gw_store_done(st, q, err);
	for (i = 0; i < n && r == DH_OK; i++) {
		r = gw_store_prep(st, &q, err, "INSERT OR IGNORE INTO invocations"
		    " (command_id, instance_id, status, details, output, errout,"
		    " response_code, requested_ms, start_ms, end_ms,"
		    " deliver_by_ms, sent_ms) VALUES (?, ?, 'Pending',"
		    " 'Pending', '', '', -1, ?, 0, 0, ?, 0)", "ssii", out_id,
		    ids[i], now_ms, deliver_by_ms);
		if (r == DH_OK)
			r = gw_store_done(st, q, err);
	}
	if (r == DH_OK)
		r = gw_store_commit(st, err);
	if (r != DH_OK)
		gw_store_rollback(st);
	free(text);
	return r;
}

/* Resolve SendCommand targets into a list of instance ids (owned). */
struct target_ctx {
	const cJSON *targets;
	struct gw_store *st;
	cJSON *ids;
};

struct tag_match {
	const char *key;
	const cJSON *values;   /* NULL: any value (tag-key) */
	int hit;
};

static int
tag_cb(void *ctx, const char *k, const char *v)
{
	struct tag_match *m = ctx;
	const cJSON *x;

	if (strcmp(k, m->key) != 0)
		return 0;
	if (m->values == NULL) {
		m->hit = 1;
		return 1;
	}
	cJSON_ArrayForEach(x, m->values)
		if (cJSON_IsString(x) && strcmp(x->valuestring, v) == 0)
			m->hit = 1;
	return m->hit;
}

static int
inst_cb(void *ctx, const struct gw_store_instance *in)
{
	struct target_ctx *t = ctx;
	const cJSON *tg, *vals, *v;
	struct tag_match m;
	const char *key;

	cJSON_ArrayForEach(tg, t->targets) {
		key = gw_res_str_or(tg, "Key", "");
		vals = gw_res_member(tg, "Values");
		memset(&m, 0, sizeof(m));
		if (strcmp(key, "InstanceIds") == 0) {
			cJSON_ArrayForEach(v, vals)
				if (cJSON_IsString(v) &&
				    strcmp(v->valuestring, in->id) == 0)
					m.hit = 1;
		} else if (strncmp(key, "tag:", 4) == 0) {
			m.key = key + 4;
			m.values = vals;
			(void)gw_store_tag_each(t->st, in->id, tag_cb, &m, NULL);
		} else if (strcmp(key, "tag-key") == 0) {
			cJSON_ArrayForEach(v, vals) {
				if (!cJSON_IsString(v))
					continue;
				m.key = v->valuestring;
				(void)gw_store_tag_each(t->st, in->id, tag_cb,
				    &m, NULL);
			}
		}
		if (!m.hit)
			return 0;
	}
	cJSON_AddItemToArray(t->ids, cJSON_CreateString(in->id));
	return cJSON_GetArraySize(t->ids) >= GW_CMD_MAX_TARGETS;
}

static int
check_targets(const cJSON *targets, struct gw_ssm_result *res)
{
	const cJSON *t, *v;
	const char *k;

	if (!cJSON_IsArray(targets) || cJSON_GetArraySize(targets) > 5)
		return gw_res_fail(res, 400, "ValidationException",
		    "Targets must be"
		    " a list of at most 5 targets"), -1;
	cJSON_ArrayForEach(t, targets) {
		k = cJSON_GetStringValue(gw_res_member(t, "Key"));
		v = gw_res_member(t, "Values");
		if (k == NULL || !cJSON_IsArray(v) ||
		    cJSON_GetArraySize(v) > 50 || (strcmp(k, "InstanceIds") !=
		    0 && strncmp(k, "tag:", 4) != 0 && strcmp(k, "tag-key") !=
		    0))
			return gw_res_fail(res, 400, "InvalidTarget",
			    "Target keys"
			    " supported here: InstanceIds, tag:<key>, tag-key"),
			    -1;
	}
	return 0;
}

static int
op_send_command(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *ids = gw_res_member(in, "InstanceIds");
	const cJSON *targets = gw_res_member(in, "Targets");
	const cJSON *params = gw_res_member(in, "Parameters"), *x;
	const char *doc, *comment, **list = NULL;
	struct gw_store_instance *inst = NULL;
	struct target_ctx tc;
	struct dh_err e;
	char id[37], why[160];
	cJSON *resolved = NULL, *cmd = NULL;
	int64_t timeout = GW_CMD_DEFAULT_TIMEOUT_S;
	size_t n = 0, i;
	int present, r = DH_OK;

	doc = cJSON_GetStringValue(gw_res_member(in, "DocumentName"));
	comment = cJSON_GetStringValue(gw_res_member(in, "Comment"));
	if (doc == NULL)
		return gw_res_fail(res, 400, "ValidationException",
		    "1 validation"
		    " error detected: Value null at 'documentName' failed to"
		    " satisfy constraint: Member must not be null");
	if (strcmp(doc, GW_CMD_DOCUMENT) != 0)
		return gw_res_fail(res, 400, "InvalidDocument",
		    "Document %.128s does"
		    " not exist (this gateway runs %s only)", doc,
		    GW_CMD_DOCUMENT);
	if (comment != NULL && strlen(comment) > 100)
		return gw_res_fail(res, 400, "ValidationException", "Comment is"
		    " limited to 100 characters");
	if (dh_json_opt_int(in, "TimeoutSeconds", 30, 2592000, &timeout,
	    &present, &e) != DH_OK)
		return gw_res_fail(res, 400, "ValidationException",
		    "TimeoutSeconds"
		    " must be between 30 and 2592000");
	if (!present)
		timeout = GW_CMD_DEFAULT_TIMEOUT_S;
	if (params == NULL || !cJSON_IsObject(params) ||
	    check_params(params, why, sizeof(why)) != 0)
		return gw_res_fail(res, 400, "InvalidParameters", "%s",
		    params == NULL
		    || !cJSON_IsObject(params) ? "Parameter Operation is"
		    " required" : why);
	if ((ids == NULL) == (targets == NULL))
		return gw_res_fail(res, 400, "ValidationException",
		    "Specify exactly"
		    " one of InstanceIds and Targets");
	resolved = cJSON_CreateArray();
	inst = malloc(sizeof(*inst));
	if (resolved == NULL || inst == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto out;
	}
	if (ids != NULL) {
		if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) < 1 ||
		    cJSON_GetArraySize(ids) > 50) {
			gw_res_fail(res, 400, "ValidationException",
			    "InstanceIds"
			    " must hold 1 to 50 ids");
			goto out;
		}
		cJSON_ArrayForEach(x, ids) {
			if (!cJSON_IsString(x) || gw_store_instance_get(c->st,
			    x->valuestring, inst, NULL) != DH_OK) {
				gw_res_fail(res, 400, "InvalidInstanceId",
				    "Instances"
				    " [[%.100s]] not in a valid state for"
				    " account %s", cJSON_IsString(x) ?
				    x->valuestring : "?", c->account);
				goto out;
			}
			cJSON_AddItemToArray(resolved,
			    cJSON_CreateString(x->valuestring));
		}
	} else {
		if (check_targets(targets, res) != 0)
			goto out;
		tc.targets = targets;
		tc.st = c->st;
		tc.ids = resolved;
		r = gw_store_instance_each(c->st, inst_cb, &tc, &e);
		if (r != DH_OK) {
			gw_res_internal(res, r, &e);
			goto out;
		}
	}
	n = (size_t)cJSON_GetArraySize(resolved);
	list = calloc(n + 1, sizeof(*list));
	if (list == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach(x, resolved)
		list[i++] = x->valuestring;
	r = gw_cmd_create(c->st, doc, params, list, n, comment, c->now_ms,
	    c->now_ms + timeout * 1000, id, &e);
	if (r != DH_OK) {
		gw_res_internal(res, r, &e);
		goto out;
	}
	cmd = cJSON_CreateObject();
	if (cmd == NULL || gw_res_ok(res) == NULL) {
		r = gw_res_internal(res, DH_E_NOMEM, NULL);
		goto out;
	}
	cJSON_AddItemToObject(res->body, "Command", cmd);
	cJSON_AddStringToObject(cmd, "CommandId", id);
	cJSON_AddStringToObject(cmd, "DocumentName", doc);
	cJSON_AddStringToObject(cmd, "DocumentVersion", "$DEFAULT");
	cJSON_AddStringToObject(cmd, "Comment", comment != NULL ? comment : "");
	gw_res_add_time(cmd, "ExpiresAfter", c->now_ms + timeout * 1000);
	cJSON_AddItemToObject(cmd, "Parameters", cJSON_Duplicate(params, 1));
	cJSON_AddItemToObject(cmd, "InstanceIds", ids != NULL ?
	    cJSON_Duplicate(ids, 1) : cJSON_CreateArray());
	cJSON_AddItemToObject(cmd, "Targets", targets != NULL ?
	    cJSON_Duplicate(targets, 1) : cJSON_CreateArray());
	gw_res_add_time(cmd, "RequestedDateTime", c->now_ms);
	cJSON_AddStringToObject(cmd, "Status", "Pending");
	cJSON_AddStringToObject(cmd, "StatusDetails", "Pending");
	cJSON_AddNumberToObject(cmd, "TargetCount", (double)n);
	cJSON_AddNumberToObject(cmd, "CompletedCount", 0);
	cJSON_AddNumberToObject(cmd, "ErrorCount", 0);
	cJSON_AddNumberToObject(cmd, "DeliveryTimedOutCount", 0);
	cJSON_AddNumberToObject(cmd, "TimeoutSeconds", (double)timeout);
	cJSON_AddStringToObject(cmd, "MaxConcurrency", "50");
	cJSON_AddStringToObject(cmd, "MaxErrors", "0");
out:
	free(list);
	free(inst);
	cJSON_Delete(resolved);
	return r;
}

/* ------------------------------------------------------------- listing */

static int
is_final(const char *s)
{
	return strcmp(s, "Success") == 0 || strcmp(s, "Failed") == 0 ||
	    strcmp(s, "TimedOut") == 0 || strcmp(s, "Cancelled") == 0;
}

/* Counts and status of one command. */
struct cmd_stat {
	int target, completed, errors, delivery_timed_out, pending, running;
	int success;
};

static int
cmd_stats(struct gw_store *st, const char *id, struct cmd_stat *s,
    struct dh_err *err)
{
	sqlite3_stmt *q = NULL;
	const char *status, *details;
	int r;

	memset(s, 0, sizeof(*s));
	r = gw_store_prep(st, &q, err, "SELECT status, details FROM invocations"
	    " WHERE command_id = ?", "s", id);
	if (r != DH_OK)
		return r;
	while (sqlite3_step(q) == SQLITE_ROW) {
		status = gw_store_col(q, 0);
		details = gw_store_col(q, 1);
		s->target++;
		if (is_final(status))
			s->completed++;
		if (strcmp(status, "Success") == 0)
			s->success++;
		else if (strcmp(status, "Pending") == 0)
			s->pending++;
		else if (strcmp(status, "InProgress") == 0)
			s->running++;
		else if (strcmp(details, "DeliveryTimedOut") == 0)
			s->delivery_timed_out++;
		else
			s->errors++;
	}
	sqlite3_finalize(q);
	return DH_OK;
}

static const char *
stat_status(const struct cmd_stat *s)
{
	if (s->pending == s->target && s->target > 0)
		return "Pending";
	if (s->pending + s->running > 0)
		return "InProgress";
	if (s->success == s->target)
		return "Success";
	if (s->delivery_timed_out > 0 && s->errors == 0)
		return "TimedOut";
	return "Failed";
}

int
gw_cmd_status(struct gw_store *st, const char *command_id, char *out,
    size_t n, struct dh_err *err)
{
	struct cmd_stat s;
	int r = cmd_stats(st, command_id, &s, err);

	if (r == DH_OK)
		snprintf(out, n, "%s", stat_status(&s));
	return r;
}

static cJSON *
render_command(struct gw_store *st, const char *doc_text)
{
	struct cmd_stat s;
	cJSON *c = NULL;
	const char *st_s;

	if (dh_json_parse(doc_text, strlen(doc_text), DOC_MAX, &c, NULL) !=
	    DH_OK)
		return NULL;
	if (cmd_stats(st, gw_res_str_or(c, "CommandId", ""), &s,
	    NULL) != DH_OK) {
		cJSON_Delete(c);
		return NULL;
	}
	st_s = stat_status(&s);
	cJSON_AddStringToObject(c, "Status", st_s);
	cJSON_AddStringToObject(c, "StatusDetails", st_s);
	cJSON_AddNumberToObject(c, "TargetCount", s.target);
	cJSON_AddNumberToObject(c, "CompletedCount", s.completed);
	cJSON_AddNumberToObject(c, "ErrorCount", s.errors);
	cJSON_AddNumberToObject(c, "DeliveryTimedOutCount",
	    s.delivery_timed_out);
	return c;
}

static int
page(const cJSON *in, cJSON *all, cJSON *out, const char *key,
    struct gw_ssm_result *res)
{
	int64_t max = 50, off = 0, i = 0;
	const char *tok = cJSON_GetStringValue(gw_res_member(in, "NextToken"));
	struct dh_err e;
	cJSON *pg, *it, *nx;
	char buf[24], *end;
	int present;

	if (dh_json_opt_int(in, "MaxResults", 1, 50, &max, &present, &e) !=
	    DH_OK) {
		cJSON_Delete(all);
		return gw_res_fail(res, 400, "ValidationException",
		    "MaxResults must"
		    " be between 1 and 50");
	}
	if (!present)
		max = 50;
	if (tok != NULL && tok[0] != '\0') {
		off = strtoll(tok, &end, 10);
		if (*end != '\0' || off < 0) {
			cJSON_Delete(all);
			return gw_res_fail(res, 400, "InvalidNextToken", "The"
			    " NextToken is not valid");
		}
	}
	pg = cJSON_CreateArray();
	it = all->child;
	while (it != NULL && pg != NULL) {
		nx = it->next;
		if (i >= off && i < off + max)
			cJSON_AddItemToArray(pg, cJSON_DetachItemViaPointer(all,
			    it));
		i++;
		it = nx;
	}
	cJSON_Delete(all);
	if (pg == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	cJSON_AddItemToObject(out, key, pg);
	if (off + max < i) {
		snprintf(buf, sizeof(buf), "%lld", (long long)(off + max));
		cJSON_AddStringToObject(out, "NextToken", buf);
	}
	return DH_OK;
}

static int
cmd_filter_ok(const cJSON *filters, const cJSON *c)
{
	const cJSON *f;
	const char *k, *v;
	time_t t;
	double req = cJSON_GetNumberValue(gw_res_member(c,
	    "RequestedDateTime"));

	cJSON_ArrayForEach(f, filters) {
		k = gw_res_str_or(f, "key", "");
		v = gw_res_str_or(f, "value", "");
		if (strcmp(k, "Status") == 0 && strcmp(gw_res_str_or(c,
		    "Status", ""),
		    v) != 0)
			return 0;
		if (strcmp(k, "DocumentName") == 0 &&
		    strcmp(gw_res_str_or(c, "DocumentName", ""), v) != 0)
			return 0;
		if (strcmp(k, "InvokedAfter") == 0 &&
		    dh_time_parse_iso(v, &t) == DH_OK && req < (double)t)
			return 0;
		if (strcmp(k, "InvokedBefore") == 0 &&
		    dh_time_parse_iso(v, &t) == DH_OK && req > (double)t)
			return 0;
	}
	return 1;
}

static int
op_list_commands(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *cid = cJSON_GetStringValue(gw_res_member(in, "CommandId"));
	const char *iid = cJSON_GetStringValue(gw_res_member(in, "InstanceId"));
	const cJSON *filters = gw_res_member(in, "Filters");
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *all, *cmd;
	int r;

	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_prep(c->st, &q, &e, "SELECT c.doc FROM commands c WHERE"
	    " (?1 IS NULL OR c.id = ?1) AND (?2 IS NULL OR EXISTS (SELECT 1"
	    " FROM invocations i WHERE i.command_id = c.id AND"
	    " i.instance_id = ?2)) ORDER BY c.created_ms DESC", "ss", cid, iid);
	if (r != DH_OK) {
		cJSON_Delete(all);
		return gw_res_internal(res, r, &e);
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		cmd = render_command(c->st, gw_store_col(q, 0));
		if (cmd == NULL)
			continue;
		if (!cmd_filter_ok(filters, cmd)) {
			cJSON_Delete(cmd);
			continue;
		}
		cJSON_AddItemToArray(all, cmd);
	}
	sqlite3_finalize(q);
	if (cid != NULL && cJSON_GetArraySize(all) == 0) {
		cJSON_Delete(all);
		return gw_res_fail(res, 400, "InvalidCommandId",
		    "Command %.64s does"
		    " not exist", cid);
	}
	return page(in, all, res->body, "Commands", res);
}

#define INV_SQL "SELECT i.command_id, i.instance_id, i.status, i.details," \
	" i.output, i.errout, i.response_code, i.requested_ms, i.start_ms," \
	" i.end_ms, c.doc FROM invocations i JOIN commands c ON" \
	" c.id = i.command_id"

static cJSON *
render_invocation(sqlite3_stmt *q, int details)
{
	cJSON *o = cJSON_CreateObject(), *doc = gw_store_col_json(q, 10, DOC_MAX), *plugins, *p;

	if (o == NULL) {
		cJSON_Delete(doc);
		return NULL;
	}
	cJSON_AddStringToObject(o, "CommandId", gw_store_col(q, 0));
	cJSON_AddStringToObject(o, "InstanceId", gw_store_col(q, 1));
	cJSON_AddStringToObject(o, "InstanceName", "");
	cJSON_AddStringToObject(o, "Comment", gw_res_str_or(doc, "Comment",
	    ""));
	cJSON_AddStringToObject(o, "DocumentName", gw_res_str_or(doc,
	    "DocumentName",
	    ""));
	cJSON_AddStringToObject(o, "DocumentVersion", "$DEFAULT");
	gw_res_add_time(o, "RequestedDateTime", sqlite3_column_int64(q, 7));
	cJSON_AddStringToObject(o, "Status", gw_store_col(q, 2));
	cJSON_AddStringToObject(o, "StatusDetails", gw_store_col(q, 3));
	cJSON_AddStringToObject(o, "TraceOutput", "");
	cJSON_AddStringToObject(o, "StandardOutputUrl", "");
	cJSON_AddStringToObject(o, "StandardErrorUrl", "");
	cJSON_AddStringToObject(o, "ServiceRole", "");
	if (details) {
		plugins = cJSON_AddArrayToObject(o, "CommandPlugins");
		p = cJSON_CreateObject();
		cJSON_AddItemToArray(plugins, p);
		cJSON_AddStringToObject(p, "Name", PLUGIN);
		cJSON_AddStringToObject(p, "Status", gw_store_col(q, 2));
		cJSON_AddStringToObject(p, "StatusDetails", gw_store_col(q, 3));
		cJSON_AddNumberToObject(p, "ResponseCode",
		    (double)sqlite3_column_int64(q, 6));
		if (sqlite3_column_int64(q, 8) > 0)
			gw_res_add_time(p, "ResponseStartDateTime",
			    sqlite3_column_int64(q, 8));
		if (sqlite3_column_int64(q, 9) > 0)
			gw_res_add_time(p, "ResponseFinishDateTime",
			    sqlite3_column_int64(q, 9));
		cJSON_AddStringToObject(p, "Output", gw_store_col(q, 4));
		cJSON_AddStringToObject(p, "StandardOutputUrl", "");
		cJSON_AddStringToObject(p, "StandardErrorUrl", "");
		cJSON_AddStringToObject(p, "OutputS3Region", "");
		cJSON_AddStringToObject(p, "OutputS3BucketName", "");
		cJSON_AddStringToObject(p, "OutputS3KeyPrefix", "");
	}
	cJSON_Delete(doc);
	return o;
}

static int
op_list_invocations(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *cid = cJSON_GetStringValue(gw_res_member(in, "CommandId"));
	const char *iid = cJSON_GetStringValue(gw_res_member(in, "InstanceId"));
	const cJSON *filters = gw_res_member(in, "Filters"), *f;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *all, *o;
	int details = 0, r, keep;

	(void)dh_json_opt_bool(in, "Details", &details, NULL);
	all = cJSON_CreateArray();
	if (all == NULL || gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_prep(c->st, &q, &e, INV_SQL " WHERE (?1 IS NULL OR"
	    " i.command_id = ?1) AND (?2 IS NULL OR i.instance_id = ?2) ORDER"
	    " BY i.requested_ms DESC, i.instance_id", "ss", cid, iid);
	if (r != DH_OK) {
		cJSON_Delete(all);
		return gw_res_internal(res, r, &e);
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		keep = 1;
		cJSON_ArrayForEach(f, filters)
			if (strcmp(gw_res_str_or(f, "key", ""),
			    "Status") == 0 &&
			    strcmp(gw_res_str_or(f, "value", ""), gw_store_col(q,
			    2)) != 0)
				keep = 0;
		if (!keep)
			continue;
		o = render_invocation(q, details);
		if (o != NULL)
			cJSON_AddItemToArray(all, o);
	}
	sqlite3_finalize(q);
	return page(in, all, res->body, "CommandInvocations", res);
}

static void
add_iso_ms(cJSON *o, const char *k, int64_t ms)
{
	char iso[21], out[32];

	if (ms <= 0) {
		cJSON_AddStringToObject(o, k, "");
		return;
	}
	dh_time_iso((time_t)(ms / 1000), iso);
	snprintf(out, sizeof(out), "%.19s.%03dZ", iso, (int)(ms % 1000));
	cJSON_AddStringToObject(o, k, out);
}

static int
op_get_invocation(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *cid = cJSON_GetStringValue(gw_res_member(in, "CommandId"));
	const char *iid = cJSON_GetStringValue(gw_res_member(in, "InstanceId"));
	const char *plugin = cJSON_GetStringValue(gw_res_member(in,
	    "PluginName"));
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *o, *doc;
	int64_t t0, t1;
	char el[32];
	int r, found = 0;

	if (cid == NULL || iid == NULL)
		return gw_res_fail(res, 400, "ValidationException",
		    "CommandId and"
		    " InstanceId are required");
	if (plugin != NULL && strcmp(plugin, PLUGIN) != 0)
		return gw_res_fail(res, 400, "InvalidPluginName",
		    "Plugin %.64s is not"
		    " part of the command", plugin);
	o = gw_res_ok(res);
	if (o == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_prep(c->st, &q, &e, INV_SQL " WHERE i.command_id = ? AND"
	    " i.instance_id = ?", "ss", cid, iid);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (sqlite3_step(q) == SQLITE_ROW) {
		found = 1;
		doc = gw_store_col_json(q, 10, DOC_MAX);
		t0 = sqlite3_column_int64(q, 8);
		t1 = sqlite3_column_int64(q, 9);
		cJSON_AddStringToObject(o, "CommandId", cid);
		cJSON_AddStringToObject(o, "InstanceId", iid);
		cJSON_AddStringToObject(o, "Comment", gw_res_str_or(doc,
		    "Comment",
		    ""));
		cJSON_AddStringToObject(o, "DocumentName", gw_res_str_or(doc,
		    "DocumentName", ""));
		cJSON_AddStringToObject(o, "DocumentVersion", "$DEFAULT");
		cJSON_AddStringToObject(o, "PluginName", PLUGIN);
		cJSON_AddNumberToObject(o, "ResponseCode",
		    (double)sqlite3_column_int64(q, 6));
		add_iso_ms(o, "ExecutionStartDateTime", t0);
		if (t0 > 0 && t1 >= t0) {
			snprintf(el, sizeof(el), "PT%lld.%03lldS",
			    (long long)((t1 - t0) / 1000),
			    (long long)((t1 - t0) % 1000));
			cJSON_AddStringToObject(o, "ExecutionElapsedTime", el);
		} else
			cJSON_AddStringToObject(o, "ExecutionElapsedTime", "");
		add_iso_ms(o, "ExecutionEndDateTime", t1);
		cJSON_AddStringToObject(o, "Status", gw_store_col(q, 2));
		cJSON_AddStringToObject(o, "StatusDetails", gw_store_col(q, 3));
		cJSON_AddStringToObject(o, "StandardOutputContent", gw_store_col(q, 4));
		cJSON_AddStringToObject(o, "StandardOutputUrl", "");
		cJSON_AddStringToObject(o, "StandardErrorContent", gw_store_col(q, 5));
		cJSON_AddStringToObject(o, "StandardErrorUrl", "");
		cJSON_Delete(doc);
	}
	sqlite3_finalize(q);
	if (!found)
		return gw_res_fail(res, 400, "InvocationDoesNotExist", "Command"
		    " %.64s has no invocation on %.64s", cid, iid);
	return DH_OK;
}

/* ------------------------------------------------------------ delivery */

static void
on_msg_hook(void *arg, const char *instance_id, const struct dh_mgs_msg *m,
    int64_t now_ms)
{
	gw_cmd_on_msg(arg, instance_id, m, now_ms);
}

static int deliver_instance(struct gw_cmd *d, const char *instance_id,
    int64_t now_ms);

static void
on_open_hook(void *arg, const char *instance_id, int64_t now_ms)
{
	(void)deliver_instance(arg, instance_id, now_ms);
}

int
gw_cmd_new(struct gw_store *st, struct gw_ctrl *ctrl, struct gw_cmd **out,
    struct dh_err *err)
{
	struct gw_cmd *d = calloc(1, sizeof(*d));
	struct gw_ctrl_hooks h;

	*out = NULL;
	if (d == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	d->st = st;
	d->ctrl = ctrl;
	memset(&h, 0, sizeof(h));
	h.on_msg = on_msg_hook;
	h.on_open = on_open_hook;
	h.arg = d;
	if (ctrl != NULL && gw_ctrl_add_hooks(ctrl, &h) != DH_OK) {
		free(d);
		return dh_err_set(err, DH_E_TOOBIG, "too many control-channel"
		    " hooks");
	}
	*out = d;
	return DH_OK;
}

void
gw_cmd_free(struct gw_cmd *d)
{
	free(d);
}

/* Build and queue the agent_job for one invocation. */
static int
send_job(struct gw_cmd *d, const char *cmd_id, const char *instance_id,
    const char *doc_text, int64_t now_ms, struct dh_err *err)
{
	cJSON *doc = NULL, *content = NULL, *job = NULL;
	struct dh_buf cbuf, jbuf;
	struct dh_mgs_msg m;
	struct dh_uuid u;
	char job_id[160];
	int r = DH_E_NOMEM;

	dh_buf_init(&cbuf, DOC_MAX);
	dh_buf_init(&jbuf, 2 * DOC_MAX);
	if (dh_json_parse(doc_text, strlen(doc_text), DOC_MAX, &doc, err) !=
	    DH_OK) {
		r = DH_E_FORMAT;
		goto out;
	}
	content = cJSON_CreateObject();
	job = cJSON_CreateObject();
	if (content == NULL || job == NULL)
		goto out;
	cJSON_AddStringToObject(content, "CommandId", cmd_id);
	cJSON_AddStringToObject(content, "DocumentName", gw_res_str_or(doc,
	    "DocumentName", ""));
	cJSON_AddStringToObject(content, "DocumentVersion", "1");
	cJSON_AddItemToObject(content, "DocumentContent", document_content());
	cJSON_AddItemToObject(content, "Parameters",
	    cJSON_Duplicate(gw_res_member(doc,
	    "Parameters"), 1));
	cJSON_AddStringToObject(content, "OutputS3BucketName", "");
	cJSON_AddStringToObject(content, "OutputS3KeyPrefix", "");
	cJSON_AddStringToObject(content, "CloudWatchOutputEnabled", "false");
	snprintf(job_id, sizeof(job_id), "aws.ssm.%s.%s", cmd_id, instance_id);
	if (dh_json_print(content, &cbuf) != DH_OK)
		goto out;
	cJSON_AddStringToObject(job, "Content", dh_buf_cstr(&cbuf));
	cJSON_AddStringToObject(job, "JobId", job_id);
	cJSON_AddStringToObject(job, "Topic", "aws.ssm.sendCommand");
	cJSON_AddNumberToObject(job, "SchemaVersion", 1);
	if (dh_json_print(job, &jbuf) != DH_OK || dh_uuid_v4(&u) != DH_OK)
		goto out;
	r = dh_mgs_init(&m, DH_MGS_T_JOB, (uint64_t)now_ms, 0, 0, &u,
	    DH_MGS_PT_NONE, jbuf.d, jbuf.len, err);
	if (r == DH_OK)
		r = gw_ctrl_send(d->ctrl, instance_id, &m, err);
out:
	cJSON_Delete(doc);
	cJSON_Delete(content);
	cJSON_Delete(job);
	dh_buf_free(&cbuf);
	dh_buf_free(&jbuf);
	return r;
}

static int
mark_sent(struct gw_cmd *d, const char *cmd_id, const char *instance_id,
    int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int r;

	r = gw_store_prep(d->st, &q, NULL, "UPDATE invocations SET sent_ms = ? WHERE"
	    " command_id = ? AND instance_id = ?", "iss", now_ms, cmd_id,
	    instance_id);
	if (r == DH_OK)
		r = gw_store_done(d->st, q, NULL);
	return r;
}

/* Send every due Pending invocation of instance_id (NULL = all). */
static int
deliver(struct gw_cmd *d, const char *instance_id, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	char cmd_id[64], iid[64];
	char *doc;
	int r, sent = 0;

	if (d->ctrl == NULL)
		return 0;
	r = gw_store_prep(d->st, &q, &e, "SELECT i.command_id, i.instance_id, c.doc"
	    " FROM invocations i JOIN commands c ON c.id = i.command_id WHERE"
	    " i.status = 'Pending' AND i.deliver_by_ms > ? AND i.sent_ms <= ?"
	    " AND (?3 IS NULL OR i.instance_id = ?3) ORDER BY i.requested_ms",
	    "iis", now_ms, now_ms - GW_CMD_RESEND_MS, instance_id);
	if (r != DH_OK)
		return 0;
	while (sqlite3_step(q) == SQLITE_ROW) {
		snprintf(iid, sizeof(iid), "%s", gw_store_col(q, 1));
		if (gw_ctrl_lookup(d->ctrl, iid) == NULL)
			continue;
		snprintf(cmd_id, sizeof(cmd_id), "%s", gw_store_col(q, 0));
		doc = strdup(gw_store_col(q, 2));
		if (doc == NULL)
			break;
		dh_err_clear(&e);
		if (send_job(d, cmd_id, iid, doc, now_ms, &e) == DH_OK) {
			sent++;
			dh_info("run command: agent_job %s sent to %s", cmd_id,
			    iid);
		} else
			dh_warn("run command: cannot send %s to %s: %s", cmd_id,
			    iid, e.msg);
		free(doc);
	}
	sqlite3_finalize(q);
	return sent;
}

static int
deliver_instance(struct gw_cmd *d, const char *instance_id, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	char (*ids)[2][64] = NULL;
	int n = 0, cap = 0, i, sent;

	sent = deliver(d, instance_id, now_ms);
	/* Record what went out (after the read statement finished). */
	if (gw_store_prep(d->st, &q, NULL, "SELECT command_id, instance_id FROM"
	    " invocations WHERE status = 'Pending' AND deliver_by_ms > ? AND"
	    " sent_ms <= ? AND (?3 IS NULL OR instance_id = ?3)", "iis",
	    now_ms, now_ms - GW_CMD_RESEND_MS, instance_id) != DH_OK)
		return sent;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (gw_ctrl_lookup(d->ctrl, gw_store_col(q, 1)) == NULL)
			continue;
		if (n == cap) {
			void *nv;

			cap = cap ? cap * 2 : 8;
			nv = realloc(ids, (size_t)cap * sizeof(*ids));
			if (nv == NULL)
				break;
			ids = nv;
		}
		snprintf(ids[n][0], 64, "%s", gw_store_col(q, 0));
		snprintf(ids[n][1], 64, "%s", gw_store_col(q, 1));
		n++;
	}
	sqlite3_finalize(q);
	for (i = 0; i < n; i++)
		(void)mark_sent(d, ids[i][0], ids[i][1], now_ms);
	free(ids);
	return sent;
}

int
gw_cmd_pump(struct gw_cmd *d, int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	int sent;

	sent = deliver_instance(d, NULL, now_ms);
	if (gw_store_prep(d->st, &q, NULL, "UPDATE invocations SET status ="
	    " 'TimedOut', details = 'DeliveryTimedOut', end_ms = ? WHERE"
	    " status = 'Pending' AND deliver_by_ms <= ?", "ii", now_ms,
	    now_ms) == DH_OK)
		(void)gw_store_done(d->st, q, NULL);
	return sent;
}

/* Split "aws.ssm.<command-id>.<instance-id>". */
static int
parse_job_id(const char *job, char cmd[64], char iid[64])
{
	const char *p, *dot;
	size_t n;

	if (job == NULL || strncmp(job, "aws.ssm.", 8) != 0)
		return -1;
	p = job + 8;
	dot = strchr(p, '.');
	if (dot == NULL || (size_t)(dot - p) >= 64 || strlen(dot + 1) >= 64)
		return -1;
	n = (size_t)(dot - p);
	memcpy(cmd, p, n);
	cmd[n] = '\0';
	snprintf(iid, 64, "%s", dot + 1);
	return 0;
}

static void
on_ack(struct gw_cmd *d, const char *instance_id, const cJSON *j,
    int64_t now_ms)
{
	const char *job = cJSON_GetStringValue(cJSON_GetObjectItem(j, "jobId"));
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(j,
	    "statusCode"));
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(j,
	    "errorMessage"));
	sqlite3_stmt *q = NULL;
	char cmd[64], iid[64];
	int ok;

	if (parse_job_id(job, cmd, iid) != 0 || strcmp(iid, instance_id) != 0)
		return;
	ok = code != NULL && strcmp(code, "200") == 0;
	if (ok)
		(void)gw_store_prep(d->st, &q, NULL, "UPDATE invocations SET status ="
		    " 'InProgress', details = 'InProgress', start_ms = ? WHERE"
		    " command_id = ? AND instance_id = ? AND status = 'Pending'",
		    "iss", now_ms, cmd, iid);
	else
		(void)gw_store_prep(d->st, &q, NULL, "UPDATE invocations SET status ="
		    " 'Failed', details = 'Undeliverable', errout = ?, end_ms = ?"
		    " WHERE command_id = ? AND instance_id = ? AND status IN"
		    " ('Pending', 'InProgress')", "siss", msg != NULL ? msg : "",
		    now_ms, cmd, iid);
	if (q != NULL)
		(void)gw_store_done(d->st, q, NULL);
}

static void
truncate_to(char *s, size_t max)
{
	if (strlen(s) > max)
		s[max] = '\0';
}

static void
on_reply(struct gw_cmd *d, const char *instance_id, const cJSON *j,
    const struct dh_mgs_msg *m, int64_t now_ms)
{
	const char *job = cJSON_GetStringValue(cJSON_GetObjectItem(j, "jobId"));
	const char *ctext = cJSON_GetStringValue(cJSON_GetObjectItem(j,
	    "content"));
	const cJSON *rs, *p;
	const char *dst, *status, *details;
	sqlite3_stmt *q = NULL;
	char cmd[64], iid[64], uid[DH_UUID_STRLEN + 1];
	char *out = NULL, *errout = NULL;
	struct dh_buf ab;
	struct dh_mgs_msg ack;
	struct dh_uuid u;
	cJSON *content = NULL, *a = NULL;
	int code = -1;

	if (parse_job_id(job, cmd, iid) != 0 || strcmp(iid, instance_id) != 0
	    || ctext == NULL || dh_json_parse(ctext, strlen(ctext), DOC_MAX,
	    &content, NULL) != DH_OK)
		return;
	dst = cJSON_GetStringValue(cJSON_GetObjectItem(content,
	    "documentStatus"));
	rs = cJSON_GetObjectItem(content, "runtimeStatus");
	p = rs != NULL ? rs->child : NULL;
	if (p != NULL) {
		code = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "code"));
		out = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(p,
		    "standardOutput")) != NULL ? cJSON_GetStringValue(
		    cJSON_GetObjectItem(p, "standardOutput")) : gw_res_str_or(p,
		    "output", ""));
		errout = strdup(gw_res_str_or(p, "standardError", ""));
	}
	if (dst == NULL)
		dst = "InProgress";
	if (strcmp(dst, "Success") == 0) {
		status = "Success";
		details = "Success";
	} else if (strcmp(dst, "Failed") == 0) {
		status = "Failed";
		details = "Failed";
	} else if (strcmp(dst, "TimedOut") == 0) {
		status = "TimedOut";
		details = "ExecutionTimedOut";
	} else {
		status = "InProgress";
		details = "InProgress";
	}
	if (out != NULL)
		truncate_to(out, GW_CMD_MAX_OUTPUT);
	if (errout != NULL)
		truncate_to(errout, 8000);
	if (gw_store_prep(d->st, &q, NULL, "UPDATE invocations SET status = ?,"
	    " details = ?, output = ?, errout = ?, response_code = ?,"
	    " start_ms = CASE WHEN start_ms = 0 THEN ? ELSE start_ms END,"
	    " end_ms = ? WHERE command_id = ? AND instance_id = ? AND status"
	    " NOT IN ('Success', 'Failed', 'TimedOut', 'Cancelled')",
	    "ssssiiiss", status, details, out != NULL ? out : "",
	    errout != NULL ? errout : "", (int64_t)code, now_ms,
	    is_final(status) ? now_ms : (int64_t)0, cmd, iid) == DH_OK)
		(void)gw_store_done(d->st, q, NULL);
	dh_info("run command: %s on %s: %s", cmd, iid, status);
	/* agent_job_reply_ack */
	dh_buf_init(&ab, 1024);
	dh_uuid_fmt(&m->id, uid);
	a = cJSON_CreateObject();
	if (a != NULL && cJSON_AddStringToObject(a, "jobId", job) != NULL &&
	    cJSON_AddStringToObject(a, "acknowledgedMessageId", uid) != NULL &&
	    dh_json_print(a, &ab) == DH_OK && dh_uuid_v4(&u) == DH_OK &&
	    dh_mgs_init(&ack, DH_MGS_T_JOB_REPLY_ACK, (uint64_t)now_ms, 0, 0,
	    &u, DH_MGS_PT_NONE, ab.d, ab.len, NULL) == DH_OK)
		(void)gw_ctrl_send(d->ctrl, instance_id, &ack, NULL);
	cJSON_Delete(a);
	dh_buf_free(&ab);
	free(out);
	free(errout);
	cJSON_Delete(content);
}

void
gw_cmd_on_msg(struct gw_cmd *d, const char *instance_id,
    const struct dh_mgs_msg *m, int64_t now_ms)
{
	cJSON *j = NULL;

	if (!dh_mgs_is(m, DH_MGS_T_JOB_ACK) && !dh_mgs_is(m,
	    DH_MGS_T_JOB_REPLY))
		return;
	if (dh_json_parse(m->payload, m->payload_len, GW_CTRL_MAX_FRAME, &j,
	    NULL) != DH_OK)
		return;
	if (dh_mgs_is(m, DH_MGS_T_JOB_ACK))
		on_ack(d, instance_id, j, now_ms);
	else
		on_reply(d, instance_id, j, m, now_ms);
	cJSON_Delete(j);
}

/* --------------------------------------------------------------- table */

#define OP(name, fn) { "AmazonSSM." name, name, "ssm", SSM_SRC, \
	"ssm:" name, OPR, fn }

const struct gw_ssm_op gw_cmd_ops[] = {
	OP("SendCommand", op_send_command),
	OP("ListCommands", op_list_commands),
	OP("ListCommandInvocations", op_list_invocations),
	OP("GetCommandInvocation", op_get_invocation),
};

const size_t gw_cmd_n_ops = sizeof(gw_cmd_ops) / sizeof(gw_cmd_ops[0]);
