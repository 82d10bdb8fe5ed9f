/*
 * gw_mw: maintenance-window operations and tick (see gw_mw.h); schedules
 * are parsed and evaluated by dh_sched.
 */
#include "gw_mw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dh_json.h"
#include "dh_log.h"
#include "dh_sched.h"
#include "dh_time.h"
#include "dh_uuid.h"
#include "gw_cmd.h"
#include "gw_res.h"

/* ============================================================ windows */

#define SSM_SRC "ssm.amazonaws.com"
#define DOC_MAX (1024 * 1024)



static void
random_hex(char *out, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = hx[dh_random_uniform(16)];
	out[n] = '\0';
}

static void
iso_ms(int64_t ms, char out[21])
{
	dh_time_iso((time_t)(ms / 1000), out);
}

/* Next fire (ms) of a window document strictly after after_ms; 0 none. */
static int64_t
window_next(const cJSON *w, int64_t after_ms)
{
	struct dh_sched s;
	int64_t after = after_ms / 1000, anchor, next, off = 0, start = 0,
	    end = 0;
	const cJSON *o = gw_res_member(w, "ScheduleOffset");
	time_t t;

	if (dh_sched_parse(gw_res_str_or(w, "Schedule", ""), &s, NULL) != DH_OK)
		return 0;
	anchor = (int64_t)cJSON_GetNumberValue(gw_res_member(w, "CreatedDate"));
	if (dh_time_parse_iso(gw_res_str_or(w, "StartDate", ""), &t) == DH_OK) {
		start = (int64_t)t;
		anchor = start;
		if (after < start - 1)
			after = start - 1;
	}
	if (dh_time_parse_iso(gw_res_str_or(w, "EndDate", ""), &t) == DH_OK)
		end = (int64_t)t;
	if (s.kind == DH_SCHED_CRON && cJSON_IsNumber(o))
		off = (int64_t)o->valuedouble * 86400;
	if (dh_sched_next(&s, gw_res_str_or(w, "ScheduleTimezone", NULL), anchor,
	    after - off, &next, NULL) != DH_OK)
		return 0;
	next += off;
	if (end > 0 && next > end)
		return 0;
	return next * 1000;
}

static int
check_targets(const cJSON *targets, int task, struct gw_ssm_result *res)
{
	const cJSON *t, *v;
	const char *k;

	if (!cJSON_IsArray(targets) || cJSON_GetArraySize(targets) < 1 ||
	    cJSON_GetArraySize(targets) > 5)
		return gw_res_fail(res, 400, "ValidationException", "Targets must hold"
		    " 1 to 5 targets"), -1;
	cJSON_ArrayForEach(t, targets) {
		k = cJSON_GetStringValue(gw_res_member(t, "Key"));
		v = gw_res_member(t, "Values");
		if (k == NULL || !cJSON_IsArray(v) ||
		    cJSON_GetArraySize(v) > 50)
			return gw_res_fail(res, 400, "ValidationException", "Each"
			    " target needs a Key and up to 50 Values"), -1;
		if (task ? (strcmp(k, "WindowTargetIds") != 0 &&
		    strcmp(k, "InstanceIds") != 0) :
		    (strcmp(k, "InstanceIds") != 0 && strncmp(k, "tag:", 4) !=
		    0 && strcmp(k, "tag-key") != 0))
			return gw_res_fail(res, 400, "ValidationException", "Target"
			    " key %.64s is not supported", k), -1;
	}
	return 0;
}

/* The window document of id (owned) or NULL with res filled. */
static cJSON *
load_window(const struct gw_ssm_ctx *c, const char *id,
    struct gw_ssm_result *res)
{
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *w = NULL;

	if (gw_store_prep(c->st, &q, &e, "SELECT doc, next_ms FROM mw_windows WHERE"
	    " id = ?", "s", id) != DH_OK) {
		gw_res_internal(res, DH_E_IO, &e);
		return NULL;
	}
	if (sqlite3_step(q) == SQLITE_ROW) {
		w = gw_store_col_json(q, 0, DOC_MAX);
		if (w != NULL && sqlite3_column_int64(q, 1) > 0) {
			char iso[21];

			iso_ms(sqlite3_column_int64(q, 1), iso);
			cJSON_AddStringToObject(w, "NextExecutionTime", iso);
		}
	}
	sqlite3_finalize(q);
	if (w == NULL)
		gw_res_fail(res, 400, "DoesNotExistException", "Maintenance window"
		    " %.64s does not exist", id);
	return w;
}

static int
op_create_window(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	static const char *const keep[] = { "Name", "Description", "StartDate",
		"EndDate", "Schedule", "ScheduleTimezone", "ScheduleOffset",
		"Duration", "Cutoff", "AllowUnassociatedTargets", NULL };
	const char *name, *sched, *tz;
	struct dh_sched s;
	sqlite3_stmt *q = NULL;
	int64_t dur, cut, off, next;
	struct dh_err e;
	char id[24], *text = NULL;
	cJSON *w = NULL;
	time_t t;
	size_t i;
	int present, allow = -1, r;

	name = cJSON_GetStringValue(gw_res_member(in, "Name"));
	sched = cJSON_GetStringValue(gw_res_member(in, "Schedule"));
	tz = cJSON_GetStringValue(gw_res_member(in, "ScheduleTimezone"));
	if (name == NULL || strlen(name) < 3 || strlen(name) > 128)
		return gw_res_fail(res, 400, "ValidationException", "Name must be 3-128"
		    " characters");
	if (sched == NULL)
		return gw_res_fail(res, 400, "ValidationException", "Schedule is"
		    " required");
	if (dh_sched_parse(sched, &s, &e) != DH_OK)
		return gw_res_fail(res, 400, "ValidationException", "Schedule: %s",
		    e.msg);
	if (tz != NULL && !dh_sched_tz_valid(tz))
		return gw_res_fail(res, 400, "ValidationException", "ScheduleTimezone"
		    " %.64s is not a valid IANA time zone", tz);
	if (dh_json_get_int(in, "Duration", 1, 24, &dur, &e) != DH_OK ||
	    dh_json_get_int(in, "Cutoff", 0, 23, &cut, &e) != DH_OK)
		return gw_res_fail(res, 400, "ValidationException", "Duration (1-24)"
		    " and Cutoff (0-23) are required");
	if (cut >= dur)
		return gw_res_fail(res, 400, "ValidationException", "Cutoff must be"
		    " less than Duration");
	if (dh_json_opt_int(in, "ScheduleOffset", 1, 6, &off, &present, &e) !=
	    DH_OK)
		return gw_res_fail(res, 400, "ValidationException", "ScheduleOffset"
		    " must be between 1 and 6");
	if (present && s.kind != DH_SCHED_CRON)
		return gw_res_fail(res, 400, "ValidationException", "ScheduleOffset"
		    " needs a cron schedule");
	if (dh_json_opt_bool(in, "AllowUnassociatedTargets", &allow, &e) !=
	    DH_OK || allow < 0)
		return gw_res_fail(res, 400, "ValidationException",
		    "AllowUnassociatedTargets is required");
	if ((gw_res_member(in, "StartDate") != NULL &&
	    dh_time_parse_iso(gw_res_str_or(in, "StartDate", ""), &t) !=
	    DH_OK) || (gw_res_member(in, "EndDate") != NULL &&
	    dh_time_parse_iso(gw_res_str_or(in, "EndDate", ""), &t) != DH_OK))
		return gw_res_fail(res, 400, "ValidationException", "StartDate and"
		    " EndDate must be ISO-8601 UTC");
	w = cJSON_CreateObject();
	if (w == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	for (i = 0; keep[i] != NULL; i++)
		if (gw_res_member(in, keep[i]) != NULL)
			cJSON_AddItemToObject(w, keep[i],
			    cJSON_Duplicate(gw_res_member(in, keep[i]), 1));
	memcpy(id, "mw-", 3);
	random_hex(id + 3, 17);
	cJSON_AddStringToObject(w, "WindowId", id);
	cJSON_AddBoolToObject(w, "Enabled", 1);
	cJSON_AddNumberToObject(w, "CreatedDate", (double)(c->now_ms / 1000));
	cJSON_AddNumberToObject(w, "ModifiedDate", (double)(c->now_ms / 1000));
	next = window_next(w, c->now_ms);
	text = dh_json_print_alloc(w, DOC_MAX);
	cJSON_Delete(w);
	if (text == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_prep(c->st, &q, &e, "INSERT INTO mw_windows (id, doc, next_ms,"
	    " created_ms) VALUES (?, ?, ?, ?)", "ssii", id, text, next,
	    c->now_ms);
	if (r == DH_OK)
		r = gw_store_done(c->st, q, &e);
	free(text);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL || cJSON_AddStringToObject(res->body,
	    "WindowId", id) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

static int
op_get_window(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *id = cJSON_GetStringValue(gw_res_member(in, "WindowId"));
	cJSON *w;

	if (id == NULL)
		return gw_res_fail(res, 400, "ValidationException", "WindowId is"
		    " required");
	w = load_window(c, id, res);
	if (w == NULL)
		return DH_OK;
	cJSON_Delete(res->body);
	res->body = w;
	gw_res_ok(res);
	return DH_OK;
}

static int
op_describe_windows(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	static const char *const drop[] = { "AllowUnassociatedTargets",
		"CreatedDate", "ModifiedDate", NULL };
	const cJSON *filters = gw_res_member(in, "Filters"), *f, *v;
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *list, *w;
	char iso[21];
	size_t i;
	int keep, any;

	if (gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	list = cJSON_AddArrayToObject(res->body, "WindowIdentities");
	if (list == NULL || gw_store_prep(c->st, &q, &e, "SELECT doc, next_ms FROM"
	    " mw_windows ORDER BY created_ms, id", "") != DH_OK)
		return gw_res_internal(res, DH_E_IO, &e);
	while (sqlite3_step(q) == SQLITE_ROW) {
		w = gw_store_col_json(q, 0, DOC_MAX);
		if (w == NULL)
			continue;
		keep = 1;
		cJSON_ArrayForEach(f, filters) {
			const char *k = gw_res_str_or(f, "Key", "");

			any = 0;
			cJSON_ArrayForEach(v, gw_res_member(f, "Values"))
				if (cJSON_IsString(v) &&
				    ((strcmp(k, "Name") == 0 && strcmp(gw_res_str_or(w,
				    "Name", ""), v->valuestring) == 0) ||
				    (strcmp(k, "Enabled") == 0 &&
				    strcmp(v->valuestring, "true") == 0)))
					any = 1;
			if (!any)
				keep = 0;
		}
		if (!keep) {
			cJSON_Delete(w);
			continue;
		}
		for (i = 0; drop[i] != NULL; i++)
			cJSON_DeleteItemFromObjectCaseSensitive(w, drop[i]);
		if (sqlite3_column_int64(q, 1) > 0) {
			iso_ms(sqlite3_column_int64(q, 1), iso);
			cJSON_AddStringToObject(w, "NextExecutionTime", iso);
		}
		cJSON_AddItemToArray(list, w);
	}
	sqlite3_finalize(q);
	return DH_OK;
}

static int
op_delete_window(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	static const char *const sql[] = {
		"DELETE FROM mw_windows WHERE id = ?",
		"DELETE FROM mw_targets WHERE window_id = ?",
		"DELETE FROM mw_tasks WHERE window_id = ?",
	};
	const char *id = cJSON_GetStringValue(gw_res_member(in, "WindowId"));
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	size_t i;
	int r = DH_OK;

	if (id == NULL)
		return gw_res_fail(res, 400, "ValidationException", "WindowId is"
		    " required");
	for (i = 0; i < 3 && r == DH_OK; i++) {
		r = gw_store_prep(c->st, &q, &e, sql[i], "s", id);
		if (r == DH_OK)
			r = gw_store_done(c->st, q, &e);
	}
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL || cJSON_AddStringToObject(res->body,
	    "WindowId", id) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

/* Insert a target/task document (id = new UUID) for window w. */
static int
add_child(const struct gw_ssm_ctx *c, const char *table_sql,
    const char *window_id, cJSON *doc, const char *id_key,
    struct gw_ssm_result *res)
{
	sqlite3_stmt *q = NULL;
	struct dh_uuid u;
	struct dh_err e;
	char id[DH_UUID_STRLEN + 1], *text;
	int r;

	if (dh_uuid_v4(&u) != DH_OK)
		return gw_res_internal(res, DH_E_CRYPTO, NULL);
	dh_uuid_fmt(&u, id);
	cJSON_AddStringToObject(doc, "WindowId", window_id);
	cJSON_AddStringToObject(doc, id_key, id);
	text = dh_json_print_alloc(doc, DOC_MAX);
	if (text == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	r = gw_store_prep(c->st, &q, &e, table_sql, "sss", id, window_id, text);
	if (r == DH_OK)
		r = gw_store_done(c->st, q, &e);
	free(text);
	if (r != DH_OK)
		return gw_res_internal(res, r, &e);
	if (gw_res_ok(res) == NULL || cJSON_AddStringToObject(res->body, id_key,
	    id) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	return DH_OK;
}

static int
op_register_target(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	static const char *const keep[] = { "ResourceType", "Targets",
		"OwnerInformation", "Name", "Description", NULL };
	const char *wid = cJSON_GetStringValue(gw_res_member(in, "WindowId"));
	const char *rt = cJSON_GetStringValue(gw_res_member(in, "ResourceType"));
	cJSON *w, *doc;
	size_t i;
	int r;

	if (wid == NULL || rt == NULL)
		return gw_res_fail(res, 400, "ValidationException", "WindowId and"
		    " ResourceType are required");
	if (strcmp(rt, "INSTANCE") != 0)
		return gw_res_fail(res, 400, "ValidationException", "ResourceType"
		    " INSTANCE is the one supported here");
	if (check_targets(gw_res_member(in, "Targets"), 0, res) != 0)
		return DH_OK;
	w = load_window(c, wid, res);
	if (w == NULL)
		return DH_OK;
	cJSON_Delete(w);
	doc = cJSON_CreateObject();
	if (doc == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	for (i = 0; keep[i] != NULL; i++)
		if (gw_res_member(in, keep[i]) != NULL)
			cJSON_AddItemToObject(doc, keep[i],
			    cJSON_Duplicate(gw_res_member(in, keep[i]), 1));
	r = add_child(c, "INSERT INTO mw_targets (id, window_id, doc) VALUES"
	    " (?, ?, ?)", wid, doc, "WindowTargetId", res);
	cJSON_Delete(doc);
	return r;
}

static int
list_children(const struct gw_ssm_ctx *c, const cJSON *in, const char *sql,
    const char *key, struct gw_ssm_result *res)
{
	const char *wid = cJSON_GetStringValue(gw_res_member(in, "WindowId"));
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *list, *d, *w;

	if (wid == NULL)
		return gw_res_fail(res, 400, "ValidationException", "WindowId is"
		    " required");
	w = load_window(c, wid, res);
	if (w == NULL)
		return DH_OK;
	cJSON_Delete(w);
	if (gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	list = cJSON_AddArrayToObject(res->body, key);
	if (list == NULL || gw_store_prep(c->st, &q, &e, sql, "s", wid) != DH_OK)
		return gw_res_internal(res, DH_E_IO, &e);
	while (sqlite3_step(q) == SQLITE_ROW) {
		d = gw_store_col_json(q, 0, DOC_MAX);
		if (d != NULL)
			cJSON_AddItemToArray(list, d);
	}
	sqlite3_finalize(q);
	return DH_OK;
}

static int
op_describe_targets(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	return list_children(c, in, "SELECT doc FROM mw_targets WHERE"
	    " window_id = ? ORDER BY rowid", "Targets", res);
}

static int
op_register_task(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	static const char *const keep[] = { "Targets", "TaskArn",
		"ServiceRoleArn", "TaskParameters", "Priority",
		"MaxConcurrency", "MaxErrors", "LoggingInfo", "Name",
		"Description", "CutoffBehavior", NULL };
	const char *wid = cJSON_GetStringValue(gw_res_member(in, "WindowId"));
	const char *type = cJSON_GetStringValue(gw_res_member(in, "TaskType"));
	const char *arn = cJSON_GetStringValue(gw_res_member(in, "TaskArn"));
	const cJSON *params = gw_res_member(gw_res_member(gw_res_member(in,
	    "TaskInvocationParameters"), "RunCommand"), "Parameters"), *t;
	struct dh_err e;
	cJSON *w, *doc;
	size_t i;
	int r, allow = 0;

	if (wid == NULL || type == NULL || arn == NULL)
		return gw_res_fail(res, 400, "ValidationException", "WindowId, TaskArn"
		    " and TaskType are required");
	if (strcmp(type, "RUN_COMMAND") != 0)
		return gw_res_fail(res, 400, "FeatureNotAvailableException", "TaskType"
		    " %.32s is not supported by this gateway", type);
	if (strcmp(arn, GW_CMD_DOCUMENT) != 0)
		return gw_res_fail(res, 400, "ValidationException", "TaskArn must be"
		    " %s", GW_CMD_DOCUMENT);
	if (params == NULL)
		params = gw_res_member(in, "TaskParameters");
	if (gw_cmd_check_params(params, &e) != DH_OK)
		return gw_res_fail(res, 400, "ValidationException", "%s", e.msg);
	if (check_targets(gw_res_member(in, "Targets"), 1, res) != 0)
		return DH_OK;
	w = load_window(c, wid, res);
	if (w == NULL)
		return DH_OK;
	allow = cJSON_IsTrue(gw_res_member(w, "AllowUnassociatedTargets"));
	cJSON_Delete(w);
	cJSON_ArrayForEach(t, gw_res_member(in, "Targets"))
		if (!allow && strcmp(gw_res_str_or(t, "Key", ""), "InstanceIds") == 0)
			return gw_res_fail(res, 400, "ValidationException", "This"
			    " window does not allow unassociated targets; use"
			    " WindowTargetIds");
	doc = cJSON_CreateObject();
	if (doc == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	for (i = 0; keep[i] != NULL; i++)
		if (gw_res_member(in, keep[i]) != NULL)
			cJSON_AddItemToObject(doc, keep[i],
			    cJSON_Duplicate(gw_res_member(in, keep[i]), 1));
	cJSON_AddStringToObject(doc, "Type", type);
	cJSON_AddItemToObject(doc, "RunParameters", cJSON_Duplicate(params, 1));
	if (gw_res_member(doc, "Priority") == NULL)
		cJSON_AddNumberToObject(doc, "Priority", 1);
	r = add_child(c, "INSERT INTO mw_tasks (id, window_id, doc) VALUES"
	    " (?, ?, ?)", wid, doc, "WindowTaskId", res);
	cJSON_Delete(doc);
	return r;
}

static int
op_describe_tasks(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	cJSON *it;
	int r = list_children(c, in, "SELECT doc FROM mw_tasks WHERE"
	    " window_id = ? ORDER BY rowid", "Tasks", res);

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res->body,
	    "Tasks"))
		cJSON_DeleteItemFromObjectCaseSensitive(it, "RunParameters");
	return r;
}

/* Status of one task execution (its command). */
static const char *
task_status(struct gw_store *st, const char *cmd_id, int64_t end_ms,
    int64_t now_ms)
{
	char s[32];

	if (gw_cmd_status(st, cmd_id, s, sizeof(s), NULL) != DH_OK)
		return "FAILED";
	if (strcmp(s, "Success") == 0)
		return "SUCCESS";
	if (strcmp(s, "Pending") == 0 || strcmp(s, "InProgress") == 0)
		return now_ms >= end_ms ? "TIMED_OUT" : "IN_PROGRESS";
	if (strcmp(s, "TimedOut") == 0)
		return "TIMED_OUT";
	return "FAILED";
}

static const char *
exec_status(struct gw_store *st, const char *exec_id, int64_t end_ms,
    int64_t now_ms)
{
	sqlite3_stmt *q = NULL;
	const char *worst = "SUCCESS", *t;

	if (gw_store_prep(st, &q, NULL, "SELECT command_id FROM mw_exec_tasks WHERE"
	    " execution_id = ?", "s", exec_id) != DH_OK)
		return "FAILED";
	while (sqlite3_step(q) == SQLITE_ROW) {
		t = task_status(st, gw_store_col(q, 0), end_ms, now_ms);
		if (strcmp(t, "IN_PROGRESS") == 0)
			worst = t;
		else if (strcmp(worst, "IN_PROGRESS") != 0 &&
		    strcmp(t, "SUCCESS") != 0)
			worst = t;
	}
	sqlite3_finalize(q);
	return worst;
}

static int
op_describe_executions(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *wid = cJSON_GetStringValue(gw_res_member(in, "WindowId"));
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *list, *o, *w;
	const char *st;

	if (wid == NULL)
		return gw_res_fail(res, 400, "ValidationException", "WindowId is"
		    " required");
	w = load_window(c, wid, res);
	if (w == NULL)
		return DH_OK;
	cJSON_Delete(w);
	if (gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	list = cJSON_AddArrayToObject(res->body, "WindowExecutions");
	if (list == NULL || gw_store_prep(c->st, &q, &e, "SELECT id, start_ms,"
	    " end_ms FROM mw_executions WHERE window_id = ? ORDER BY start_ms"
	    " DESC", "s", wid) != DH_OK)
		return gw_res_internal(res, DH_E_IO, &e);
	while (sqlite3_step(q) == SQLITE_ROW) {
		o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddItemToArray(list, o);
		st = exec_status(c->st, gw_store_col(q, 0), sqlite3_column_int64(q, 2),
		    c->now_ms);
		cJSON_AddStringToObject(o, "WindowId", wid);
		cJSON_AddStringToObject(o, "WindowExecutionId", gw_store_col(q, 0));
		cJSON_AddStringToObject(o, "Status", st);
		cJSON_AddNumberToObject(o, "StartTime",
		    (double)sqlite3_column_int64(q, 1) / 1000.0);
		if (strcmp(st, "IN_PROGRESS") != 0)
			cJSON_AddNumberToObject(o, "EndTime", (double)(c->now_ms <
			    sqlite3_column_int64(q, 2) ? c->now_ms :
			    sqlite3_column_int64(q, 2)) / 1000.0);
	}
	sqlite3_finalize(q);
	return DH_OK;
}

static int
op_describe_exec_tasks(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *xid = cJSON_GetStringValue(gw_res_member(in,
	    "WindowExecutionId"));
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *list, *o;

	if (xid == NULL)
		return gw_res_fail(res, 400, "ValidationException", "WindowExecutionId"
		    " is required");
	if (gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	list = cJSON_AddArrayToObject(res->body,
	    "WindowExecutionTaskIdentities");
	if (list == NULL || gw_store_prep(c->st, &q, &e, "SELECT t.id, t.command_id,"
	    " t.start_ms, x.end_ms FROM mw_exec_tasks t JOIN mw_executions x"
	    " ON x.id = t.execution_id WHERE t.execution_id = ? ORDER BY"
	    " t.rowid", "s", xid) != DH_OK)
		return gw_res_internal(res, DH_E_IO, &e);
	while (sqlite3_step(q) == SQLITE_ROW) {
		o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddItemToArray(list, o);
		cJSON_AddStringToObject(o, "WindowExecutionId", xid);
		cJSON_AddStringToObject(o, "TaskExecutionId", gw_store_col(q, 0));
		cJSON_AddStringToObject(o, "Status", task_status(c->st,
		    gw_store_col(q, 1), sqlite3_column_int64(q, 3), c->now_ms));
		cJSON_AddNumberToObject(o, "StartTime",
		    (double)sqlite3_column_int64(q, 2) / 1000.0);
		cJSON_AddStringToObject(o, "TaskArn", GW_CMD_DOCUMENT);
		cJSON_AddStringToObject(o, "TaskType", "RUN_COMMAND");
	}
	sqlite3_finalize(q);
	return DH_OK;
}

static int
op_describe_task_invocations(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *xid = cJSON_GetStringValue(gw_res_member(in,
	    "WindowExecutionId"));
	const char *tid = cJSON_GetStringValue(gw_res_member(in, "TaskId"));
	sqlite3_stmt *q = NULL;
	struct dh_err e;
	cJSON *list, *o;
	const char *s;

	if (xid == NULL || tid == NULL)
		return gw_res_fail(res, 400, "ValidationException", "WindowExecutionId"
		    " and TaskId are required");
	if (gw_res_ok(res) == NULL)
		return gw_res_internal(res, DH_E_NOMEM, NULL);
	list = cJSON_AddArrayToObject(res->body,
	    "WindowExecutionTaskInvocationIdentities");
	if (list == NULL || gw_store_prep(c->st, &q, &e, "SELECT i.instance_id,"
	    " i.command_id, i.status, i.details, i.start_ms, i.end_ms,"
	    " t.doc FROM mw_exec_tasks t JOIN invocations i ON i.command_id ="
	    " t.command_id WHERE t.execution_id = ? AND t.id = ? ORDER BY"
	    " i.instance_id", "ss", xid, tid) != DH_OK)
		return gw_res_internal(res, DH_E_IO, &e);
	while (sqlite3_step(q) == SQLITE_ROW) {
		o = cJSON_CreateObject();
		if (o == NULL)
			break;
		cJSON_AddItemToArray(list, o);
		cJSON_AddStringToObject(o, "WindowExecutionId", xid);
		cJSON_AddStringToObject(o, "TaskExecutionId", tid);
		cJSON_AddStringToObject(o, "InvocationId", gw_store_col(q, 0));
		cJSON_AddStringToObject(o, "ExecutionId", gw_store_col(q, 1));
		cJSON_AddStringToObject(o, "TaskType", "RUN_COMMAND");
		s = gw_store_col(q, 2);
		cJSON_AddStringToObject(o, "Status", strcmp(s, "Success") == 0 ?
		    "SUCCESS" : strcmp(s, "Pending") == 0 ? "PENDING" :
		    strcmp(s, "InProgress") == 0 ? "IN_PROGRESS" :
		    strcmp(s, "TimedOut") == 0 ? "TIMED_OUT" : "FAILED");
		cJSON_AddStringToObject(o, "StatusDetails", gw_store_col(q, 3));
		if (sqlite3_column_int64(q, 4) > 0)
			cJSON_AddNumberToObject(o, "StartTime",
			    (double)sqlite3_column_int64(q, 4) / 1000.0);
		if (sqlite3_column_int64(q, 5) > 0)
			cJSON_AddNumberToObject(o, "EndTime",
			    (double)sqlite3_column_int64(q, 5) / 1000.0);
	}
	sqlite3_finalize(q);
	return DH_OK;
}

/* --------------------------------------------------------------- tick */

struct resolve {
	struct gw_store *st;
	const cJSON *targets;   /* a window target's Targets */
	cJSON *ids;             /* string array being filled */
};

struct tagq {
	const char *key;
	const cJSON *values;
	int hit;
};

static int
tagq_cb(void *ctx, const char *k, const char *v)
{
	struct tagq *t = ctx;
	const cJSON *x;

	if (strcmp(k, t->key) != 0)
		return 0;
	if (t->values == NULL)
		t->hit = 1;
	cJSON_ArrayForEach(x, t->values)
		if (cJSON_IsString(x) && strcmp(x->valuestring, v) == 0)
			t->hit = 1;
	return t->hit;
}

static void
add_id(cJSON *ids, const char *id)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, ids)
		if (strcmp(x->valuestring, id) == 0)
			return;
	cJSON_AddItemToArray(ids, cJSON_CreateString(id));
}

static int
resolve_cb(void *ctx, const struct gw_store_instance *in)
{
	struct resolve *r = ctx;
	const cJSON *t, *v;
	struct tagq q;
	const char *k;

	cJSON_ArrayForEach(t, r->targets) {
		k = gw_res_str_or(t, "Key", "");
		memset(&q, 0, sizeof(q));
		if (strcmp(k, "InstanceIds") == 0) {
			cJSON_ArrayForEach(v, gw_res_member(t, "Values"))
				if (cJSON_IsString(v) &&
				    strcmp(v->valuestring, in->id) == 0)
					q.hit = 1;
		} else if (strncmp(k, "tag:", 4) == 0) {
			q.key = k + 4;
			q.values = gw_res_member(t, "Values");
			(void)gw_store_tag_each(r->st, in->id, tagq_cb, &q,
			    NULL);
		} else if (strcmp(k, "tag-key") == 0) {
			cJSON_ArrayForEach(v, gw_res_member(t, "Values")) {
				if (!cJSON_IsString(v))
					continue;
				q.key = v->valuestring;
				(void)gw_store_tag_each(r->st, in->id, tagq_cb,
				    &q, NULL);
			}
		}
		if (!q.hit)
			return 0;
	}
	add_id(r->ids, in->id);
	return 0;
}

/* Instance ids a task targets (WindowTargetIds or InstanceIds). */
static void
task_targets(struct gw_store *st, const cJSON *task, cJSON *ids)
{
	const cJSON *t, *v;
	struct resolve rs;
	sqlite3_stmt *q = NULL;
	cJSON *doc;

	cJSON_ArrayForEach(t, gw_res_member(task, "Targets")) {
		if (strcmp(gw_res_str_or(t, "Key", ""), "InstanceIds") == 0) {
			cJSON_ArrayForEach(v, gw_res_member(t, "Values"))
				if (cJSON_IsString(v))
					add_id(ids, v->valuestring);
			continue;
		}
		cJSON_ArrayForEach(v, gw_res_member(t, "Values")) {
			if (!cJSON_IsString(v) || gw_store_prep(st, &q, NULL,
			    "SELECT doc FROM mw_targets WHERE id = ?", "s",
			    v->valuestring) != DH_OK)
				continue;
			doc = sqlite3_step(q) == SQLITE_ROW ? gw_store_col_json(q, 0, DOC_MAX) :
			    NULL;
			sqlite3_finalize(q);
			if (doc == NULL)
				continue;
			rs.st = st;
			rs.targets = gw_res_member(doc, "Targets");
			rs.ids = ids;
			(void)gw_store_instance_each(st, resolve_cb, &rs, NULL);
			cJSON_Delete(doc);
		}
	}
}

/* Open one window execution at fire_ms. */
static int
run_window(struct gw_store *st, const char *wid, const cJSON *w,
    int64_t fire_ms, int64_t now_ms, struct dh_err *err)
{
	int64_t dur = (int64_t)cJSON_GetNumberValue(gw_res_member(w, "Duration"));
	int64_t cut = (int64_t)cJSON_GetNumberValue(gw_res_member(w, "Cutoff"));
	int64_t end_ms = fire_ms + dur * 3600 * 1000;
	int64_t cutoff_ms = fire_ms + (dur - cut) * 3600 * 1000;
	sqlite3_stmt *q = NULL, *t = NULL;
	struct dh_uuid u;
	char xid[DH_UUID_STRLEN + 1], tid[DH_UUID_STRLEN + 1], cmd[37];
	char comment[100];
	const char **list = NULL;
	const cJSON *x;
	cJSON *task, *ids;
	size_t n, i;
	int r;

	if (dh_uuid_v4(&u) != DH_OK)
		return dh_err_set(err, DH_E_CRYPTO, "random failed");
	dh_uuid_fmt(&u, xid);
	r = gw_store_prep(st, &q, err, "INSERT INTO mw_executions (id, window_id,"
	    " start_ms, end_ms, cutoff_ms) VALUES (?, ?, ?, ?, ?)", "ssiii",
	    xid, wid, now_ms, end_ms, cutoff_ms);
	if (r == DH_OK)
		r = gw_store_done(st, q, err);
	if (r != DH_OK)
		return r;
	dh_info("maintenance window %s: execution %s opened (cutoff in %lld s)",
	    wid, xid, (long long)((cutoff_ms - now_ms) / 1000));
	r = gw_store_prep(st, &t, err, "SELECT doc FROM mw_tasks WHERE window_id = ?"
	    " ORDER BY rowid", "s", wid);
	if (r != DH_OK)
		return r;
	while (sqlite3_step(t) == SQLITE_ROW) {
		task = gw_store_col_json(t, 0, DOC_MAX);
		ids = cJSON_CreateArray();
		if (task == NULL || ids == NULL) {
			cJSON_Delete(task);
			cJSON_Delete(ids);
			continue;
		}
		task_targets(st, task, ids);
		n = (size_t)cJSON_GetArraySize(ids);
		list = calloc(n + 1, sizeof(*list));
		i = 0;
		cJSON_ArrayForEach(x, ids)
			if (list != NULL)
				list[i++] = x->valuestring;
		snprintf(comment, sizeof(comment), "maintenance window %s", wid);
		if (list != NULL && gw_cmd_create(st, gw_res_str_or(task, "TaskArn",
		    ""), gw_res_member(task, "RunParameters"), list, n, comment, now_ms,
		    cutoff_ms, cmd, err) == DH_OK && dh_uuid_v4(&u) == DH_OK) {
			dh_uuid_fmt(&u, tid);
			if (gw_store_prep(st, &q, err, "INSERT INTO mw_exec_tasks (id,"
			    " execution_id, task_id, command_id, doc, start_ms)"
			    " VALUES (?, ?, ?, ?, '{}', ?)", "ssssi", tid, xid,
			    gw_res_str_or(task, "WindowTaskId", ""), cmd, now_ms) ==
			    DH_OK)
				(void)gw_store_done(st, q, err);
			dh_info("maintenance window %s: task %s -> command %s"
			    " on %zu targets", wid, gw_res_str_or(task, "WindowTaskId",
			    ""), cmd, n);
		} else
			dh_warn("maintenance window %s: task %s not started: %s",
			    wid, gw_res_str_or(task, "WindowTaskId", ""), err != NULL ?
			    err->msg : "");
		free(list);
		list = NULL;
		cJSON_Delete(ids);
		cJSON_Delete(task);
	}
	sqlite3_finalize(t);
	return DH_OK;
}

int
gw_mw_tick(struct gw_store *st, const char *region, const char *account,
    int64_t now_ms, struct dh_err *err)
{
	sqlite3_stmt *q = NULL;
	char (*ids)[24] = NULL;
	int64_t *fires = NULL, next;
	size_t n = 0, cap = 0, i;
	cJSON *w;
	int r;

	r = gw_store_prep(st, &q, err, "SELECT id, next_ms FROM mw_windows WHERE"
	    " next_ms > 0 AND next_ms <= ?", "i", now_ms);
	if (r != DH_OK)
		return r;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (n == cap) {
			void *a, *b;

			cap = cap ? cap * 2 : 4;
			a = realloc(ids, cap * sizeof(*ids));
			if (a != NULL)
				ids = a;
			b = realloc(fires, cap * sizeof(*fires));
			if (b != NULL)
				fires = b;
			if (a == NULL || b == NULL)
				break;
		}
		snprintf(ids[n], sizeof(ids[n]), "%s", gw_store_col(q, 0));
		fires[n++] = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	for (i = 0; i < n; i++) {
		if (gw_store_prep(st, &q, err, "SELECT doc FROM mw_windows WHERE"
		    " id = ?", "s", ids[i]) != DH_OK)
			continue;
		w = sqlite3_step(q) == SQLITE_ROW ? gw_store_col_json(q, 0, DOC_MAX) : NULL;
		sqlite3_finalize(q);
		if (w == NULL)
			continue;
		/* A fire missed by more than the window's length is skipped. */
		if (now_ms - fires[i] < (int64_t)cJSON_GetNumberValue(gw_res_member(w,
		    "Duration")) * 3600 * 1000 && cJSON_IsTrue(gw_res_member(w,
		    "Enabled")))
			(void)run_window(st, ids[i], w, fires[i], now_ms, err);
		next = window_next(w, now_ms);
		if (gw_store_prep(st, &q, err, "UPDATE mw_windows SET next_ms = ? WHERE"
		    " id = ?", "is", next, ids[i]) == DH_OK)
			(void)gw_store_done(st, q, err);
		cJSON_Delete(w);
	}
	free(ids);
	free(fires);
	return DH_OK;
}

#define OP(name, fn) { "AmazonSSM." name, name, "ssm", SSM_SRC, \
	"ssm:" name, GW_SSM_OPERATOR, fn }

const struct gw_ssm_op gw_mw_ops[] = {
	OP("CreateMaintenanceWindow", op_create_window),
	OP("GetMaintenanceWindow", op_get_window),
	OP("DescribeMaintenanceWindows", op_describe_windows),
	OP("DeleteMaintenanceWindow", op_delete_window),
	OP("RegisterTargetWithMaintenanceWindow", op_register_target),
	OP("DescribeMaintenanceWindowTargets", op_describe_targets),
	OP("RegisterTaskWithMaintenanceWindow", op_register_task),
	OP("DescribeMaintenanceWindowTasks", op_describe_tasks),
	OP("DescribeMaintenanceWindowExecutions", op_describe_executions),
	OP("DescribeMaintenanceWindowExecutionTasks", op_describe_exec_tasks),
	OP("DescribeMaintenanceWindowExecutionTaskInvocations",
	    op_describe_task_invocations),
};

const size_t gw_mw_n_ops = sizeof(gw_mw_ops) / sizeof(gw_mw_ops[0]);
