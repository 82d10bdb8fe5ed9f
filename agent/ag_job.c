/*
 * ag_job: AWS-RunPatchBaseline jobs from the control channel and the local
 * scan schedule (see ag_job.h).  The event loop only parses, acknowledges,
 * forks and reaps; scanning, evaluation and every HTTP upload happen in
 * the child.
 */
#include "ag_job.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag_ctrl.h"
#include "dh_aws.h"
#include "dh_config.h"
#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_http.h"
#include "dh_json.h"
#include "dh_log.h"
#include "dh_sched.h"
#include "dh_spawner.h"
#include "dh_time.h"
#include "dh_uuid.h"
#include "pt_baseline.h"
#include "pt_report.h"
#include "pt_scan.h"

#define PATH_MAX_LEN 1024
#define SPOOL_MAX_FILE (16 * 1024 * 1024)
#define QUEUE_MAX 8

enum child_kind {
	CHILD_NONE = 0,
	CHILD_JOB = AG_JOB_CHILD_JOB,
	CHILD_LOCAL = AG_JOB_CHILD_LOCAL,
	CHILD_FLUSH = AG_JOB_CHILD_FLUSH
};

struct pending_reply {
	char job_id[160];
	struct dh_buf body;
	int used;
};

struct ag_job {
	char *state_dir, *instance_id, *region, *scan_root, *baseline_file;
	char *scan_tz;             /* NULL = UTC */
	struct dh_sched sched;     /* local schedule, valid when has_sched */
	int has_sched;
	int64_t sched_anchor_s;    /* rate() origin: agent start */
	int64_t next_local_ms;     /* 0 = no local scan due */
	int64_t next_flush_ms;
	pid_t child;
	int child_direct;          /* forked here, not by the spawner */
	struct dh_spawner *sp;     /* borrowed; NULL = fork directly */
	enum child_kind kind;
	char child_job[160];
	char result_path[PATH_MAX_LEN];
	int64_t child_start_ms;
	unsigned seq;
	char seen[AG_JOB_SEEN][160];
	size_t n_seen;
	struct ag_job_req queue[QUEUE_MAX];
	size_t n_queue;
	struct pending_reply reply;
};

/* ------------------------------------------------------------ parsing */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* One-string parameter value: ["v"] or "v". */
static const char *
param(const cJSON *params, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(params, k);

	if (cJSON_IsArray(v))
		v = cJSON_GetArrayItem(v, 0);
	return cJSON_GetStringValue(v);
}

void
ag_job_req_clear(struct ag_job_req *r)
{
	free(r->job_id);
	free(r->command_id);
	free(r->document);
	free(r->operation);
	free(r->snapshot_id);
	free(r->baseline);
	memset(r, 0, sizeof(*r));
}

int
ag_job_parse(const void *p, size_t n, struct ag_job_req *out,
    struct dh_err *err)
{
	cJSON *outer = NULL, *content = NULL;
	const cJSON *params;
	const char *job, *ctext, *s;
	int r;

	memset(out, 0, sizeof(*out));
	r = dh_json_parse(p, n, AG_CTRL_FRAME_MAX, &outer, err);
	if (r != DH_OK)
		return r;
	job = cJSON_GetStringValue(cJSON_GetObjectItem(outer, "JobId"));
	ctext = cJSON_GetStringValue(cJSON_GetObjectItem(outer, "Content"));
	if (job == NULL || ctext == NULL || strlen(job) >= 160) {
		r = dh_err_set(err, DH_E_FORMAT, "agent_job without JobId or"
		    " Content");
		goto out;
	}
	r = dh_json_parse(ctext, strlen(ctext), AG_CTRL_FRAME_MAX, &content,
	    err);
	if (r != DH_OK)
		goto out;
	s = cJSON_GetStringValue(cJSON_GetObjectItem(content, "DocumentName"));
	if (s == NULL) {
		r = dh_err_set(err, DH_E_FORMAT, "job content has no"
		    " DocumentName");
		goto out;
	}
	params = cJSON_GetObjectItem(content, "Parameters");
	out->job_id = strdup(job);
	out->document = strdup(s);
	out->command_id = dup_or_null(cJSON_GetStringValue(
	    cJSON_GetObjectItem(content, "CommandId")));
	out->operation = dup_or_null(param(params, "Operation"));
	s = param(params, "SnapshotId");
	out->snapshot_id = s != NULL && s[0] != '\0' ? strdup(s) : NULL;
	s = param(params, "BaselineOverride");
	out->baseline = s != NULL && s[0] != '\0' ? strdup(s) : NULL;
	if (out->job_id == NULL || out->document == NULL)
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
out:
	cJSON_Delete(content);
	cJSON_Delete(outer);
	if (r != DH_OK)
		ag_job_req_clear(out);
	return r;
}

static void
iso_ms(int64_t ms, char out[32])
{
	char iso[21];

	dh_time_iso((time_t)(ms / 1000), iso);
	snprintf(out, 32, "%.19s.%03dZ", iso, (int)(ms % 1000));
}

int
ag_job_ack_body(const char *job_id, const struct dh_uuid *msg_id,
    uint64_t created_ms, const char *code, const char *msg,
    struct dh_buf *out)
{
	char uid[DH_UUID_STRLEN + 1], created[32];
	cJSON *a = cJSON_CreateObject();
	int r = DH_E_NOMEM;

	dh_uuid_fmt(msg_id, uid);
	iso_ms((int64_t)created_ms, created);
	if (a != NULL && cJSON_AddStringToObject(a, "jobId", job_id) != NULL &&
	    cJSON_AddStringToObject(a, "acknowledgedMessageId", uid) != NULL &&
	    cJSON_AddStringToObject(a, "createdDate", created) != NULL &&
	    cJSON_AddStringToObject(a, "statusCode", code) != NULL &&
	    cJSON_AddStringToObject(a, "errorMessage", msg) != NULL)
		r = dh_json_print(a, out);
	cJSON_Delete(a);
	return r;
}

int
ag_job_reply_body(const char *job_id, const char *status, int code,
    const char *output, int64_t start_ms, int64_t end_ms,
    struct dh_buf *out)
{
	cJSON *reply = cJSON_CreateObject(), *content = cJSON_CreateObject();
	cJSON *rs, *pl;
	struct dh_buf ct;
	char t0[32], t1[32];
	int r = DH_E_NOMEM;

	dh_buf_init(&ct, AG_JOB_REPLY_MAX);
	iso_ms(start_ms, t0);
	iso_ms(end_ms, t1);
	if (reply == NULL || content == NULL)
		goto out;
	cJSON_AddObjectToObject(content, "additionalInfo");
	cJSON_AddStringToObject(content, "documentStatus", status);
	cJSON_AddStringToObject(content, "documentTraceOutput", "");
	rs = cJSON_AddObjectToObject(content, "runtimeStatus");
	pl = rs != NULL ? cJSON_AddObjectToObject(rs, "PatchLinux") : NULL;
	if (pl == NULL)
		goto out;
	cJSON_AddStringToObject(pl, "status", status);
	cJSON_AddNumberToObject(pl, "code", code);
	cJSON_AddStringToObject(pl, "name", "PatchLinux");
	cJSON_AddStringToObject(pl, "output", output);
	cJSON_AddStringToObject(pl, "startDateTime", t0);
	cJSON_AddStringToObject(pl, "endDateTime", t1);
	cJSON_AddStringToObject(pl, "standardOutput", output);
	cJSON_AddStringToObject(pl, "standardError", "");
	r = dh_json_print(content, &ct);
	if (r != DH_OK)
		goto out;
	r = DH_E_NOMEM;
	if (cJSON_AddNumberToObject(reply, "schemaVersion", 1) != NULL &&
	    cJSON_AddStringToObject(reply, "jobId", job_id) != NULL &&
	    cJSON_AddStringToObject(reply, "content", dh_buf_cstr(&ct)) !=
	    NULL &&
	    cJSON_AddStringToObject(reply, "topic", "aws.ssm.sendCommand") !=
	    NULL)
		r = dh_json_print(reply, out);
out:
	dh_buf_free(&ct);
	cJSON_Delete(content);
	cJSON_Delete(reply);
	return r;
}

int
ag_job_snapshot_baseline(const char *url, cJSON **out, struct dh_err *err)
{
	static const char pre[] = "data:application/json;base64,";
	struct dh_buf raw;
	cJSON *snap = NULL, *b;
	int r;

	*out = NULL;
	if (url == NULL || strncmp(url, pre, sizeof(pre) - 1) != 0)
		return dh_err_set(err, DH_E_FORMAT, "snapshot URL is not a"
		    " data: URL");
	dh_buf_init(&raw, 1024 * 1024);
	r = dh_b64_decode(url + sizeof(pre) - 1, strlen(url + sizeof(pre) -
	    1), &raw);
	if (r != DH_OK) {
		dh_buf_free(&raw);
		return dh_err_set(err, DH_E_FORMAT, "snapshot is not base64");
	}
	r = dh_json_parse(raw.d, raw.len, raw.max, &snap, err);
	dh_buf_free(&raw);
	if (r != DH_OK)
		return r;
	b = cJSON_DetachItemFromObjectCaseSensitive(snap, "patchBaseline");
	if (b != NULL) {
		if (cJSON_GetStringValue(cJSON_GetObjectItem(snap,
		    "patchGroup")) != NULL && !cJSON_HasObjectItem(b,
		    "PatchGroup"))
			cJSON_AddStringToObject(b, "deckhandPatchGroup",
			    cJSON_GetStringValue(cJSON_GetObjectItem(snap,
			    "patchGroup")));
	}
	cJSON_Delete(snap);
	if (b == NULL)
		return dh_err_set(err, DH_E_FORMAT, "snapshot has no"
		    " patchBaseline");
	*out = b;
	return DH_OK;
}

/* -------------------------------------------------------------- child */

static int
mkdirs(const char *state, struct dh_err *err)
{
	static const char *const sub[] = { "patch", "patch/spool",
		"patch/jobs" };
	char p[PATH_MAX_LEN];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", state, sub[i]);
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return dh_err_set(err, DH_E_IO, "mkdir %s: %s", p,
			    strerror(errno));
	}
	return DH_OK;
}

static int
aws_client(const struct ag_job_env *env, struct dh_http_client **http,
    struct dh_aws_client *aws, struct dh_err *err)
{
	struct dh_http_config hc;
	int r;

	memset(&hc, 0, sizeof(hc));
	hc.ca_file = env->ca_file;
	hc.proxy = env->proxy;
	hc.user_agent = "deckhand-agent/" DH_VERSION;
	hc.timeout_ms = 20000;
	hc.connect_timeout_ms = 5000;
	hc.max_attempts = 2;
	r = dh_http_client_new(&hc, http, err);
	if (r != DH_OK)
		return r;
	dh_aws_client_init(aws, *http);
	aws->auth = DH_AWS_AUTH_SIGV4;
	aws->creds.access_key = env->access_key;
	aws->creds.secret_key = env->secret_key;
	aws->creds.session_token = env->session_token;
	return DH_OK;
}

static int
spool(const struct ag_job_params *p, const char *target, const cJSON *body,
    unsigned i, struct dh_err *err)
{
	char path[PATH_MAX_LEN];
	struct dh_buf b;
	cJSON *o = cJSON_CreateObject();
	int r = DH_E_NOMEM;

	dh_buf_init(&b, SPOOL_MAX_FILE);
	snprintf(path, sizeof(path), "%s/patch/spool/%013lld-%06d-%03u.json",
	    p->state_dir, (long long)dh_time_now_ms(), (int)getpid(), i);
	if (o != NULL && cJSON_AddStringToObject(o, "target", target) != NULL
	    && cJSON_AddItemToObject(o, "body", cJSON_Duplicate(body, 1)))
		r = dh_json_print(o, &b);
	if (r == DH_OK)
		r = dh_config_write_atomic(path, b.d, b.len, 0600, err);
	cJSON_Delete(o);
	dh_buf_free(&b);
	return r;
}

/* Send body to target; on failure spool it (when spool_on_fail). */
static int
upload(const struct ag_job_params *p, const struct ag_job_env *env,
    struct dh_aws_client *aws, const char *target, const cJSON *body,
    int spool_on_fail, unsigned i, struct dh_err *err)
{
	struct dh_aws_error aerr;
	cJSON *resp = NULL;
	int r = DH_E_NET;

	memset(&aerr, 0, sizeof(aerr));
	if (env != NULL && env->ssm_url != NULL && aws != NULL)
		r = dh_aws_json_call(aws, env->ssm_url, "ssm", p->region, target,
		    body, &resp, &aerr, err);
	cJSON_Delete(resp);
	if (r == DH_E_SERVICE) {
		dh_warn("patch: %s refused: %s: %s", target, aerr.code,
		    aerr.message);
		return r;
	}
	if (r != DH_OK && spool_on_fail) {
		dh_warn("patch: %s not sent (%s); spooled", target,
		    err != NULL ? err->msg : "");
		return spool(p, target, body, i, err);
	}
	return r;
}

/* Baseline to evaluate with (*b filled) and its id / patch group. */
static int
choose_baseline(const struct ag_job_params *p, const struct ag_job_env *env,
    struct dh_aws_client *aws, const struct ag_job_req *req,
    const struct pt_inventory *inv, struct pt_baseline *b, char *bid,
    size_t bn, char *group, size_t gn, struct dh_err *err)
{
	struct dh_aws_error aerr;
	struct dh_buf file;
	struct dh_uuid u;
	char sid[DH_UUID_STRLEN + 1];
	cJSON *rq = NULL, *resp = NULL, *bl = NULL;
	enum pt_os os;
	int r;

	bid[0] = group[0] = '\0';
	if (req != NULL && req->baseline != NULL) {
		snprintf(bid, bn, "BaselineOverride");
		return pt_baseline_parse(req->baseline, strlen(req->baseline),
		    b, err);
	}
	if (p->baseline_file != NULL && p->baseline_file[0] != '\0') {
		dh_buf_init(&file, PT_BL_MAX_JSON);
		r = dh_config_read_file(p->baseline_file, PT_BL_MAX_JSON, &file,
		    err);
		if (r == DH_OK)
			r = pt_baseline_parse(file.d, file.len, b, err);
		dh_buf_free(&file);
		if (r == DH_OK)
			snprintf(bid, bn, "%s", b->id != NULL ? b->id :
			    b->name != NULL ? b->name : p->baseline_file);
		return r;
	}
	if (req != NULL && req->snapshot_id != NULL)
		snprintf(sid, sizeof(sid), "%.36s", req->snapshot_id);
	else if (dh_uuid_v4(&u) == DH_OK)
		dh_uuid_fmt(&u, sid);
	rq = cJSON_CreateObject();
	memset(&aerr, 0, sizeof(aerr));
	r = DH_E_NET;
	if (rq != NULL && aws != NULL && env->ssm_url != NULL &&
	    cJSON_AddStringToObject(rq, "InstanceId", p->instance_id) != NULL &&
	    cJSON_AddStringToObject(rq, "SnapshotId", sid) != NULL)
		r = dh_aws_json_call(aws, env->ssm_url, "ssm", p->region,
		    "AmazonSSM.GetDeployablePatchSnapshotForInstance", rq, &resp,
		    &aerr, err);
	if (r == DH_OK)
		r = ag_job_snapshot_baseline(cJSON_GetStringValue(
		    cJSON_GetObjectItem(resp, "SnapshotDownloadUrl")), &bl, err);
	if (r == DH_OK) {
		snprintf(group, gn, "%s", cJSON_GetStringValue(
		    cJSON_GetObjectItem(bl, "deckhandPatchGroup")) != NULL ?
		    cJSON_GetStringValue(cJSON_GetObjectItem(bl,
		    "deckhandPatchGroup")) : "");
		cJSON_DeleteItemFromObjectCaseSensitive(bl,
		    "deckhandPatchGroup");
		snprintf(bid, bn, "%s", cJSON_GetStringValue(
		    cJSON_GetObjectItem(bl, "BaselineId")) != NULL ?
		    cJSON_GetStringValue(cJSON_GetObjectItem(bl, "BaselineId")) :
		    "");
		r = pt_baseline_from_cjson(bl, b, err);
	}
	cJSON_Delete(rq);
	cJSON_Delete(resp);
	cJSON_Delete(bl);
	if (r == DH_OK)
		return DH_OK;
	dh_warn("patch: no baseline from the service (%s); using the"
	    " predefined default", err != NULL ? err->msg : "");
	if (pt_os_of_inventory(inv, &os) != DH_OK)
		return dh_err_set(err, DH_E_NOTFOUND, "unknown OS: no default"
		    " baseline");
	r = pt_baseline_default_for_os(os, b, err);
	if (r == DH_OK)
		snprintf(bid, bn, "%s", b->id != NULL ? b->id : "");
	return r;
}

int
ag_job_run_scan(const struct ag_job_params *p, const struct ag_job_env *env,
    const struct ag_job_req *req, struct dh_buf *out_json,
    struct dh_err *err)
{
	struct pt_inventory inv;
	struct pt_baseline b;
	struct pt_eval_result res;
	struct pt_report_ctx ctx;
	struct dh_http_client *http = NULL;
	struct dh_aws_client aws;
	cJSON **calls = NULL, *summary = NULL, *o = NULL;
	size_t n_calls = 0, i;
	char bid[256], group[257], out[1024], execid[64];
	int64_t t0 = dh_time_now(), t1;
	int r, have_aws = 0;

	memset(&inv, 0, sizeof(inv));
	memset(&b, 0, sizeof(b));
	memset(&res, 0, sizeof(res));
	out[0] = '\0';
	r = mkdirs(p->state_dir, err);
	if (r != DH_OK)
		goto done;
	if (env != NULL && env->ssm_url != NULL &&
	    aws_client(env, &http, &aws, NULL) == DH_OK)
		have_aws = 1;
	r = pt_scan_root(p->scan_root != NULL ? p->scan_root : "/", &inv, NULL,
	    NULL, err);
	if (r != DH_OK) {
		dh_err_wrap(err, r, "scan of %s", p->scan_root != NULL ?
		    p->scan_root : "/");
		goto done;
	}
	r = choose_baseline(p, env, have_aws ? &aws : NULL, req, &inv, &b, bid,
	    sizeof(bid), group, sizeof(group), err);
	if (r != DH_OK)
		goto done;
	r = pt_baseline_eval(&b, &inv, t0, &res, err);
	if (r != DH_OK)
		goto done;
	t1 = dh_time_now();
	if (req != NULL && req->command_id != NULL)
		snprintf(execid, sizeof(execid), "%s", req->command_id);
	else
		snprintf(execid, sizeof(execid), "local-%lld", (long long)t0);
	memset(&ctx, 0, sizeof(ctx));
	ctx.resource_id = p->instance_id;
	ctx.execution_id = execid;
	ctx.execution_type = "Command";
	ctx.execution_time = t0;
	ctx.baseline_id = bid;
	ctx.patch_group = group;
	ctx.snapshot_id = req != NULL ? req->snapshot_id : NULL;
	ctx.operation = "Scan";
	ctx.operation_start = t0;
	ctx.operation_end = t1;
	r = pt_report_compliance_items(&res, &ctx, PT_REPORT_MAX_ITEMS, &calls,
	    &n_calls, err);
	if (r == DH_OK)
		r = pt_report_patch_summary(&res, &ctx, &summary, err);
	if (r != DH_OK)
		goto done;
	for (i = 0; i < n_calls && r == DH_OK; i++)
		r = upload(p, env, have_aws ? &aws : NULL,
		    "AmazonSSM.PutComplianceItems", calls[i], 1, (unsigned)i,
		    err);
	if (r == DH_OK)
		r = upload(p, env, have_aws ? &aws : NULL,
		    "AmazonSSM.PutInventory", summary, 1, (unsigned)n_calls,
		    err);
	snprintf(out, sizeof(out), "Scan of %s against %s: %s; installed %zu,"
	    " installed other %zu, installed rejected %zu, missing %zu,"
	    " failed %zu%s", p->scan_root != NULL ? p->scan_root : "/", bid,
	    res.compliant ? "COMPLIANT" : "NON_COMPLIANT",
	    res.counts[PT_STATE_INSTALLED], res.counts[PT_STATE_INSTALLED_OTHER],
	    res.counts[PT_STATE_INSTALLED_REJECTED],
	    res.counts[PT_STATE_MISSING], res.counts[PT_STATE_FAILED],
	    r != DH_OK ? "; reporting failed" : "");
done:
	o = cJSON_CreateObject();
	if (o != NULL) {
		cJSON_AddStringToObject(o, "status", r == DH_OK ? "Success" :
		    "Failed");
		cJSON_AddNumberToObject(o, "code", r == DH_OK ? 0 : 1);
		cJSON_AddStringToObject(o, "output", r == DH_OK ? out :
		    (err != NULL ? err->msg : "scan failed"));
		(void)dh_json_print(o, out_json);
		cJSON_Delete(o);
	}
	pt_report_calls_free(calls, n_calls);
	cJSON_Delete(summary);
	pt_eval_result_free(&res);
	pt_baseline_free(&b);
	pt_inventory_free(&inv);
	dh_http_client_free(http);
	return r;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
ag_job_flush_spool(const struct ag_job_params *p,
    const struct ag_job_env *env, size_t *left, struct dh_err *err)
{
	struct dh_http_client *http = NULL;
	struct dh_aws_client aws;
	struct dirent *de;
	char dir[PATH_MAX_LEN], path[PATH_MAX_LEN * 2], **names = NULL, **nn;
	size_t n = 0, cap = 0, i;
	struct dh_buf b;
	cJSON *o = NULL;
	DIR *d;
	int r = DH_OK;

	*left = 0;
	snprintf(dir, sizeof(dir), "%s/patch/spool", p->state_dir);
	d = opendir(dir);
	if (d == NULL)
		return DH_OK;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".json") == NULL)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nn = realloc(names, cap * sizeof(*names));
			if (nn == NULL)
				break;
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (names[n] != NULL)
			n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	if (n > 0 && aws_client(env, &http, &aws, err) != DH_OK)
		r = DH_E_NET;
	for (i = 0; i < n; i++) {
		if (r != DH_OK) {
			(*left)++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		dh_buf_init(&b, SPOOL_MAX_FILE);
		o = NULL;
		if (dh_config_read_file(path, SPOOL_MAX_FILE, &b, NULL) ==
		    DH_OK && dh_json_parse(b.d, b.len, SPOOL_MAX_FILE, &o,
		    NULL) == DH_OK) {
			r = upload(p, env, &aws, cJSON_GetStringValue(
			    cJSON_GetObjectItem(o, "target")),
			    cJSON_GetObjectItem(o, "body"), 0, 0, err);
			if (r == DH_E_SERVICE)
				r = DH_OK;      /* refused for good: drop it */
			if (r == DH_OK)
				(void)unlink(path);
			else
				(*left)++;
		} else
			(void)unlink(path);
		cJSON_Delete(o);
		dh_buf_free(&b);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	dh_http_client_free(http);
	return r;
}

/* --------------------------------------------------------------- loop */

/* Set next_local_ms to the schedule's first fire strictly after now_ms
 * (0 when it never fires again). */
static void
local_sched_advance(struct ag_job *j, int64_t now_ms)
{
	struct dh_err e;
	int64_t next;

	j->next_local_ms = 0;
	if (!j->has_sched)
		return;
	dh_err_clear(&e);
	if (dh_sched_next(&j->sched, j->scan_tz, j->sched_anchor_s,
	    now_ms / 1000, &next, &e) == DH_OK) {
		j->next_local_ms = next * 1000;
		return;
	}
	j->has_sched = 0;
	dh_info("patch: local scan schedule ends: %s", e.msg);
}

static int
local_sched_init(struct ag_job *j, const struct ag_job_params *p,
    int64_t now_ms, struct dh_err *err)
{
	struct dh_err e;

	if (!dh_sched_tz_valid(p->scan_timezone))
		return dh_err_set(err, DH_E_CONFIG, "patch.scan_timezone %.64s"
		    " is not a valid IANA time zone", p->scan_timezone);
	dh_err_clear(&e);
	if (dh_sched_parse(p->scan_schedule, &j->sched, &e) != DH_OK)
		return dh_err_set(err, DH_E_CONFIG, "patch.scan_schedule: %s",
		    e.msg);
	if (p->scan_timezone != NULL && p->scan_timezone[0] != '\0') {
		j->scan_tz = strdup(p->scan_timezone);
		if (j->scan_tz == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	j->has_sched = 1;
	j->sched_anchor_s = now_ms / 1000;
	local_sched_advance(j, now_ms);
	return DH_OK;
}

int
ag_job_new(const struct ag_job_params *p, int64_t now_ms, struct ag_job **out,
    struct dh_err *err)
{
	struct ag_job *j = calloc(1, sizeof(*j));
	int r;

	*out = NULL;
	if (j == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	j->state_dir = dup_or_null(p->state_dir);
	j->instance_id = dup_or_null(p->instance_id);
	j->region = dup_or_null(p->region);
	j->scan_root = dup_or_null(p->scan_root != NULL && p->scan_root[0] !=
	    '\0' ? p->scan_root : "/");
	j->baseline_file = p->baseline_file != NULL && p->baseline_file[0] !=
	    '\0' ? strdup(p->baseline_file) : NULL;
	dh_buf_init(&j->reply.body, AG_JOB_REPLY_MAX + 4096);
	if (p->scan_schedule != NULL && p->scan_schedule[0] != '\0') {
		r = local_sched_init(j, p, now_ms, err);
		if (r != DH_OK) {
			ag_job_free(j);
			return r;
		}
	}
	*out = j;
	return DH_OK;
}

int64_t
ag_job_next_scan_ms(const struct ag_job *j)
{
	return j != NULL ? j->next_local_ms : 0;
}

void
ag_job_free(struct ag_job *j)
{
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; i < j->n_queue; i++)
		ag_job_req_clear(&j->queue[i]);
	dh_buf_free(&j->reply.body);
	free(j->state_dir);
	free(j->instance_id);
	free(j->region);
	free(j->scan_root);
	free(j->baseline_file);
	free(j->scan_tz);
	free(j);
}

static void
params_of(const struct ag_job *j, struct ag_job_params *p)
{
	memset(p, 0, sizeof(*p));
	p->state_dir = j->state_dir;
	p->instance_id = j->instance_id;
	p->region = j->region;
	p->scan_root = j->scan_root;
	p->baseline_file = j->baseline_file;
}

static void
send_msg(struct ag_ctrl *c, const char *type, const struct dh_buf *body)
{
	struct dh_mgs_msg m;
	struct dh_uuid u;
	struct dh_err e;

	dh_err_clear(&e);
	if (dh_uuid_v4(&u) != DH_OK || dh_mgs_init(&m, type,
	    (uint64_t)dh_time_now_ms(), 0, 0, &u, DH_MGS_PT_NONE, body->d,
	    body->len, &e) != DH_OK || ag_ctrl_send(c, &m, &e) != DH_OK)
		dh_warn("patch: cannot send %s: %s", type, e.msg);
}

static void
ack(struct ag_ctrl *c, const char *job, const struct dh_mgs_msg *m,
    const char *code, const char *msg)
{
	struct dh_buf b;

	dh_buf_init(&b, 4096);
	if (ag_job_ack_body(job, &m->id, m->created_ms, code, msg, &b) == DH_OK)
		send_msg(c, DH_MGS_T_JOB_ACK, &b);
	dh_buf_free(&b);
}

/* The child's work, in the child: run kind k, write the result, exit. */
static void __attribute__((noreturn))
run_child(int k, const char *result_path, const struct ag_job_params *p,
    const struct ag_job_env *env, const struct ag_job_req *req)
{
	struct dh_buf out;
	struct dh_err e;
	size_t left;

	dh_buf_init(&out, 64 * 1024);
	dh_err_clear(&e);
	if (k == CHILD_FLUSH) {
		(void)ag_job_flush_spool(p, env, &left, &e);
		_exit(left > 0 ? 1 : 0);
	}
	(void)ag_job_run_scan(p, env, req, &out, &e);
	(void)dh_config_write_atomic(result_path, out.d, out.len, 0600, NULL);
	_exit(0);
}

/* Have the spawner fork the child: its pid, or 0 when there is no
 * spawner or it failed (the caller forks directly). */
static pid_t
spawn(struct ag_job *j, enum child_kind k, const struct ag_job_req *req,
    const struct ag_job_env *env)
{
	struct ag_job_params p;
	struct dh_buf b;
	struct dh_err e;
	pid_t pid = 0;
	int rc;

	if (j->sp == NULL)
		return 0;
	params_of(j, &p);
	dh_err_clear(&e);
	dh_buf_init_secret(&b, DH_SPAWNER_REQ_MAX);
	rc = ag_job_spawn_encode((int)k, j->result_path, &p, env, req, &b, &e);
	if (rc == DH_OK)
		rc = dh_spawner_spawn(j->sp, AG_JOB_SPAWN_TAG, b.d, b.len, -1,
		    &pid, &e);
	dh_buf_free(&b);
	if (rc != DH_OK) {
		dh_warn("patch: %s; the agent forks this child itself", e.msg);
		return 0;
	}
	return pid;
}

/* Fork a child of kind k (req for jobs); 0 when started. */
static int
start_child(struct ag_job *j, enum child_kind k, const struct ag_job_req *req,
    const struct ag_job_env *env, int64_t now_ms)
{
	struct ag_job_params p;
	struct dh_err e;
	pid_t pid;

	if (mkdirs(j->state_dir, &e) != DH_OK) {
		dh_warn("patch: %s", e.msg);
		return -1;
	}
	snprintf(j->result_path, sizeof(j->result_path), "%s/patch/jobs/%u.json",
	    j->state_dir, j->seq++);
	pid = spawn(j, k, req, env);
	j->child_direct = pid == 0;
	if (pid == 0)
		pid = fork();
	if (pid < 0) {
		dh_warn("patch: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		params_of(j, &p);
		run_child(k, j->result_path, &p, env, req);
	}
	j->child = pid;
	j->kind = k;
	j->child_start_ms = now_ms;
	snprintf(j->child_job, sizeof(j->child_job), "%s", req != NULL ?
	    req->job_id : "");
	dh_info("patch: %s started (pid %d)%s%s", k == CHILD_FLUSH ?
	    "spool flush" : k == CHILD_JOB ? "scan job" : "scheduled scan",
	    (int)pid, req != NULL ? " for " : "", req != NULL ? req->job_id :
	    "");
	return 0;
}

static int
seen(struct ag_job *j, const char *job)
{
	size_t i;

	for (i = 0; i < j->n_seen && i < AG_JOB_SEEN; i++)
		if (strcmp(j->seen[i], job) == 0)
			return 1;
	snprintf(j->seen[j->n_seen % AG_JOB_SEEN], sizeof(j->seen[0]), "%s",
	    job);
	j->n_seen++;
	return 0;
}

void
ag_job_on_msg(struct ag_job *j, struct ag_ctrl *c, const struct dh_mgs_msg *m,
    const struct ag_job_env *env, int64_t now_ms)
{
	struct ag_job_req req;
	struct dh_err e;

	if (dh_mgs_is(m, DH_MGS_T_JOB_REPLY_ACK)) {
		if (j->reply.used)
			dh_debug("patch: reply acknowledged");
		return;
	}
	if (!dh_mgs_is(m, DH_MGS_T_JOB))
		return;
	dh_err_clear(&e);
	if (ag_job_parse(m->payload, m->payload_len, &req, &e) != DH_OK) {
		dh_warn("patch: agent_job unreadable: %s", e.msg);
		return;
	}
	if (strcmp(req.document, AG_JOB_DOCUMENT) != 0) {
		ack(c, req.job_id, m, "51403", "UnexpectedDocumentType");
		goto out;
	}
	if (seen(j, req.job_id)) {
		ack(c, req.job_id, m, "200", "Successful");
		goto out;
	}
	ack(c, req.job_id, m, "200", "Successful");
	if (req.operation == NULL || strcmp(req.operation, "Scan") != 0) {
		struct dh_buf b;

		dh_buf_init(&b, 8192);
		if (ag_job_reply_body(req.job_id, "Failed", 1, "Operation"
		    " Install is not supported by deckhand-agent; use Scan",
		    now_ms, now_ms, &b) == DH_OK)
			send_msg(c, DH_MGS_T_JOB_REPLY, &b);
		dh_buf_free(&b);
		goto out;
	}
	if (j->child == 0 && start_child(j, CHILD_JOB, &req, env, now_ms) == 0)
		goto out;
	if (j->n_queue < QUEUE_MAX) {
		j->queue[j->n_queue++] = req;
		return;
	}
	dh_warn("patch: job queue full; %s dropped", req.job_id);
out:
	ag_job_req_clear(&req);
}

/* Read the finished child's result and queue the reply. */
static void
reap(struct ag_job *j, int status)
{
	struct dh_buf res;
	cJSON *o = NULL;
	const char *st = "Failed", *text = "scan process failed";
	int code = 1;

	dh_buf_init(&res, 64 * 1024);
	if (j->kind != CHILD_FLUSH && dh_config_read_file(j->result_path,
	    64 * 1024, &res, NULL) == DH_OK && dh_json_parse(res.d, res.len,
	    res.max, &o, NULL) == DH_OK) {
		st = cJSON_GetStringValue(cJSON_GetObjectItem(o, "status")) !=
		    NULL ? cJSON_GetStringValue(cJSON_GetObjectItem(o,
		    "status")) : st;
		text = cJSON_GetStringValue(cJSON_GetObjectItem(o, "output")) !=
		    NULL ? cJSON_GetStringValue(cJSON_GetObjectItem(o,
		    "output")) : text;
		code = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o,
		    "code"));
	}
	if (j->kind != CHILD_FLUSH)
		dh_info("patch: %s: %s", st, text);
	else
		dh_info("patch: spool flush %s", WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0 ? "done" : "left files behind");
	if (j->kind == CHILD_JOB && j->child_job[0] != '\0') {
		dh_buf_reset(&j->reply.body);
		if (ag_job_reply_body(j->child_job, st, code, text,
		    j->child_start_ms, dh_time_now_ms(), &j->reply.body) ==
		    DH_OK) {
			snprintf(j->reply.job_id, sizeof(j->reply.job_id), "%s",
			    j->child_job);
			j->reply.used = 1;
		}
	}
	(void)unlink(j->result_path);
	cJSON_Delete(o);
	dh_buf_free(&res);
	j->child = 0;
	j->kind = CHILD_NONE;
}

static int
spool_empty(const struct ag_job *j)
{
	char dir[PATH_MAX_LEN];
	struct dirent *de;
	DIR *d;
	int empty = 1;

	snprintf(dir, sizeof(dir), "%s/patch/spool", j->state_dir);
	d = opendir(dir);
	if (d == NULL)
		return 1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			empty = 0;
	closedir(d);
	return empty;
}

void
ag_job_poll(struct ag_job *j, struct ag_ctrl *c, const struct ag_job_env *env,
    int64_t now_ms)
{
	struct ag_job_req req;
	int status = 0;
	pid_t w;

	if (j->child != 0 && j->child_direct) {
		w = waitpid(j->child, &status, WNOHANG);
		if (w == j->child || (w < 0 && errno == ECHILD))
			reap(j, status);
	} else if (j->child != 0) {
		int rc = j->sp != NULL ? dh_spawner_ended(j->sp, j->child, 0,
		    &status) : DH_E_IO;

		if (rc == DH_OK)
			reap(j, status);
		else if (rc == DH_E_IO && kill(j->child, 0) != 0 &&
		    errno == ESRCH)
			reap(j, -1);   /* reparented with the spawner gone */
	}
	if (j->reply.used && ag_ctrl_is_up(c)) {
		send_msg(c, DH_MGS_T_JOB_REPLY, &j->reply.body);
		j->reply.used = 0;
	}
	if (j->child != 0)
		return;
	if (j->n_queue > 0) {
		req = j->queue[0];
		memmove(&j->queue[0], &j->queue[1], (j->n_queue - 1) *
		    sizeof(j->queue[0]));
		j->n_queue--;
		(void)start_child(j, CHILD_JOB, &req, env, now_ms);
		ag_job_req_clear(&req);
		return;
	}
	if (j->next_local_ms > 0 && now_ms >= j->next_local_ms) {
		local_sched_advance(j, now_ms);
		(void)start_child(j, CHILD_LOCAL, NULL, env, now_ms);
		return;
	}
	if (ag_ctrl_is_up(c) && now_ms >= j->next_flush_ms && !spool_empty(j)) {
		j->next_flush_ms = now_ms + 30 * 1000;
		(void)start_child(j, CHILD_FLUSH, NULL, env, now_ms);
	}
}

/* ------------------------------------------------------ spawner side */

void
ag_job_set_spawner(struct ag_job *j, struct dh_spawner *sp)
{
	j->sp = sp;
}

#define SPAWN_MAGIC "DHJ1"
#define SPAWN_STR_MAX (1u << 20)     /* an inline baseline can be large */
#define SPAWN_STRS 17

int
ag_job_spawn_encode(int kind, const char *result_path,
    const struct ag_job_params *p, const struct ag_job_env *env,
    const struct ag_job_req *req, struct dh_buf *out, struct dh_err *err)
{
	const char *strs[SPAWN_STRS] = { result_path, p->state_dir,
		p->instance_id, p->region, p->scan_root, p->baseline_file,
		env->ssm_url, env->ca_file, env->proxy, env->access_key,
		env->secret_key, env->session_token,
		req != NULL ? req->job_id : NULL,
		req != NULL ? req->command_id : NULL,
		req != NULL ? req->document : NULL,
		req != NULL ? req->operation : NULL,
		req != NULL ? req->snapshot_id : NULL };
	size_t i;
	int rc;

	rc = dh_buf_put(out, SPAWN_MAGIC, 4);
	if (rc == DH_OK)
		rc = dh_buf_put_u8(out, (uint8_t)kind);
	if (rc == DH_OK)
		rc = dh_buf_put_u8(out, req != NULL);
	for (i = 0; i < SPAWN_STRS && rc == DH_OK; i++)
		rc = dh_buf_put_ostr(out, strs[i]);
	if (rc == DH_OK)
		rc = dh_buf_put_ostr(out, req != NULL ? req->baseline : NULL);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "cannot encode the patch child's"
		    " start request (%s)", dh_strerror(rc));
	return DH_OK;
}

int
ag_job_spawn_decode(const void *p, size_t n, struct ag_job_spawn *s,
    struct dh_err *err)
{
	char **dst[SPAWN_STRS + 1];
	const char **cdst[12];
	unsigned char magic[4];
	struct dh_buf b;
	uint8_t kind, has_req;
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	dh_buf_view(&b, p, n);
	if (dh_buf_get(&b, magic, 4) != DH_OK ||
	    dh_buf_get_u8(&b, &kind) != DH_OK ||
	    dh_buf_get_u8(&b, &has_req) != DH_OK)
		return dh_err_set(err, DH_E_SHORT, "patch start request:"
		    " truncated");
	if (memcmp(magic, SPAWN_MAGIC, 4) != 0 || kind < AG_JOB_CHILD_JOB ||
	    kind > AG_JOB_CHILD_FLUSH || has_req > 1)
		return dh_err_set(err, DH_E_FORMAT, "patch start request: bad"
		    " header");
	s->kind = kind;
	s->has_req = has_req;
	cdst[0] = &s->result_path;
	cdst[1] = &s->p.state_dir;
	cdst[2] = &s->p.instance_id;
	cdst[3] = &s->p.region;
	cdst[4] = &s->p.scan_root;
	cdst[5] = &s->p.baseline_file;
	cdst[6] = &s->env.ssm_url;
	cdst[7] = &s->env.ca_file;
	cdst[8] = &s->env.proxy;
	cdst[9] = &s->env.access_key;
	cdst[10] = &s->env.secret_key;
	cdst[11] = &s->env.session_token;
	dst[12] = &s->req.job_id;
	dst[13] = &s->req.command_id;
	dst[14] = &s->req.document;
	dst[15] = &s->req.operation;
	dst[16] = &s->req.snapshot_id;
	dst[17] = &s->req.baseline;
	for (i = 0; i < SPAWN_STRS + 1; i++) {
		char *v = NULL;

		rc = dh_buf_get_ostr(&b, SPAWN_STR_MAX, &v);
		if (rc != DH_OK)
			return dh_err_set(err, rc, "patch start request: field"
			    " %zu: %s", i, dh_strerror(rc));
		if (i < 12) {
			s->strs[i] = v;
			*cdst[i] = v;
		} else
			*dst[i] = v;
	}
	if (dh_buf_avail(&b) != 0)
		return dh_err_set(err, DH_E_FORMAT, "patch start request: %zu"
		    " trailing bytes", dh_buf_avail(&b));
	if (s->result_path == NULL || s->p.state_dir == NULL ||
	    (s->has_req && s->req.job_id == NULL))
		return dh_err_set(err, DH_E_FORMAT, "patch start request:"
		    " result path, state directory or job id missing");
	if (!s->has_req && (s->req.job_id != NULL || s->req.command_id !=
	    NULL || s->req.document != NULL || s->req.operation != NULL ||
	    s->req.snapshot_id != NULL || s->req.baseline != NULL))
		return dh_err_set(err, DH_E_FORMAT, "patch start request: job"
		    " fields without a job");
	return DH_OK;
}

void
ag_job_spawn_free(struct ag_job_spawn *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < sizeof(s->strs) / sizeof(s->strs[0]); i++)
		if (s->strs[i] != NULL) {
			dh_wipe(s->strs[i], strlen(s->strs[i]));
			free(s->strs[i]);
		}
	ag_job_req_clear(&s->req);
	memset(s, 0, sizeof(*s));
}

void
ag_job_spawned(const void *req, size_t n, int fd)
{
	static struct ag_job_spawn s;
	struct dh_err e;

	if (fd >= 0)
		close(fd);
	dh_err_clear(&e);
	if (ag_job_spawn_decode(req, n, &s, &e) != DH_OK) {
		dh_error("patch child: %s", e.msg);
		_exit(2);
	}
	run_child(s.kind, s.result_path, &s.p, &s.env, s.has_req ? &s.req :
	    NULL);
}
