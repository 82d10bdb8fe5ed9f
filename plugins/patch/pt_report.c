/*
 * pt_report: SSM PutComplianceItems / PutInventory (AWS:PatchSummary)
 * request bodies, human and JSON renderings of a baseline evaluation, and
 * the JSON form of an inventory (see pt_report.h).
 */
#include "pt_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_hash.h"
#include "dh_json.h"
#include "dh_time.h"

#define TITLE_MAX 500
#define DETAIL_MAX 4096
#define ID_FORM_MAX 1024
#define HASH_BUF_MAX (64u * 1024 * 1024)
#define INV_JSON_MAX (64u * 1024 * 1024)
#define INV_MAX_PKGS 200000
#define INV_STR_MAX 4096
#define INV_LIST_MAX 10000

static const char *
dflt(const char *s, const char *d)
{
	return s != NULL ? s : d;
}

static void
iso_or_empty(int64_t t, char out[21])
{
	if (t <= 0) {
		out[0] = '\0';
		return;
	}
	dh_time_iso((time_t)t, out);
}

/* Add key: s (truncated to max bytes) to obj. */
static int
add_str(cJSON *obj, const char *key, const char *s, size_t max)
{
	char *cut = NULL;
	int ok;

	if (s == NULL)
		s = "";
	if (strlen(s) > max) {
		cut = strndup(s, max);
		if (cut == NULL)
			return DH_E_NOMEM;
		s = cut;
	}
	ok = cJSON_AddStringToObject(obj, key, s) != NULL;
	free(cut);
	return ok ? DH_OK : DH_E_NOMEM;
}

static int
hash_json(const cJSON *item, char out[2 * DH_SHA256_LEN + 1])
{
	struct dh_buf b;
	int r;

	dh_buf_init(&b, HASH_BUF_MAX);
	r = dh_json_print(item, &b);
	if (r == DH_OK)
		dh_sha256_hex(dh_buf_ptr(&b), b.len, out);
	dh_buf_free(&b);
	return r;
}

static int
item_id(const struct pt_patch_result *p, char *buf, size_t n)
{
	int w;

	if (p->arch != NULL && *p->arch != '\0')
		w = snprintf(buf, n, "%s.%s", p->name, p->arch);
	else
		w = snprintf(buf, n, "%s", p->name);
	return w < 0 || (size_t)w >= n ? DH_E_TOOBIG : DH_OK;
}

static const char *
shown_version(const struct pt_patch_result *p)
{
	if ((p->state == PT_STATE_MISSING || p->state == PT_STATE_FAILED) &&
	    p->available_version != NULL)
		return p->available_version;
	return dflt(p->installed_version, "");
}

static int
join_cves(const struct pt_patch_result *p, struct dh_buf *b)
{
	size_t i;
	int r = DH_OK;

	for (i = 0; i < p->n_cves && r == DH_OK; i++) {
		if (b->len + strlen(p->cves[i]) + 1 > DETAIL_MAX)
			break;
		r = dh_buf_printf(b, "%s%s", i > 0 ? "," : "", p->cves[i]);
	}
	return r;
}

static int
build_item(const struct pt_patch_result *p, const struct pt_report_ctx *ctx,
    const char *baseline_id, cJSON **out)
{
	char id[ID_FORM_MAX], title[ID_FORM_MAX + 256], when[21];
	struct dh_buf cves;
	cJSON *it = NULL, *d;
	int compliant = pt_state_compliant(p->state);
	int other = p->state == PT_STATE_INSTALLED_OTHER;
	int w, r = DH_E_NOMEM;

	dh_buf_init(&cves, DETAIL_MAX);
	*out = NULL;
	if (item_id(p, id, sizeof(id)) != DH_OK) {
		r = DH_E_TOOBIG;
		goto out;
	}
	w = snprintf(title, sizeof(title), "%s:%s", id, shown_version(p));
	if (w < 0 || (size_t)w >= sizeof(title)) {
		r = DH_E_TOOBIG;
		goto out;
	}
	iso_or_empty(p->installed_time, when);
	it = cJSON_CreateObject();
	if (it == NULL || add_str(it, "Id", id, DETAIL_MAX) ||
	    add_str(it, "Title", title, TITLE_MAX) ||
	    add_str(it, "Severity", pt_level_name(p->level), 64) ||
	    add_str(it, "Status", compliant ? "COMPLIANT" : "NON_COMPLIANT",
	    64))
		goto out;
	d = cJSON_AddObjectToObject(it, "Details");
	if (d == NULL ||
	    add_str(d, "PatchState", pt_state_name(p->state), DETAIL_MAX) ||
	    add_str(d, "Classification", other ? "" : p->classification,
	    DETAIL_MAX) ||
	    add_str(d, "PatchSeverity", other ? "" : p->severity, DETAIL_MAX) ||
	    add_str(d, "PatchBaselineId", baseline_id, DETAIL_MAX) ||
	    add_str(d, "PatchGroup", dflt(ctx->patch_group, ""), DETAIL_MAX) ||
	    add_str(d, "InstalledTime", when, DETAIL_MAX) ||
	    add_str(d, "DocumentName",
	    dflt(ctx->document_name, "AWS-RunPatchBaseline"), DETAIL_MAX))
		goto out;
	if (p->n_cves > 0 && !compliant) {
		if (join_cves(p, &cves) != DH_OK ||
		    add_str(d, "CVEIds", dh_buf_cstr(&cves), DETAIL_MAX))
			goto out;
	}
	*out = it;
	it = NULL;
	r = DH_OK;
out:
	cJSON_Delete(it);
	dh_buf_free(&cves);
	return r;
}

void
pt_report_calls_free(cJSON **calls, size_t n_calls)
{
	size_t i;

	if (calls == NULL)
		return;
	for (i = 0; i < n_calls; i++)
		cJSON_Delete(calls[i]);
	free(calls);
}

static int
check_ctx(const struct pt_report_ctx *ctx, struct dh_err *err)
{
	size_t n;

	if (ctx == NULL || ctx->resource_id == NULL)
		return dh_err_set(err, DH_E_ARG, "report: no resource id");
	n = strlen(ctx->resource_id);
	if (n < 1 || n > 100)
		return dh_err_set(err, DH_E_ARG,
		    "report: resource id length %zu outside 1..100", n);
	if (ctx->execution_id != NULL && strlen(ctx->execution_id) > 100)
		return dh_err_set(err, DH_E_ARG,
		    "report: execution id longer than 100");
	if (ctx->execution_type != NULL && strlen(ctx->execution_type) > 50)
		return dh_err_set(err, DH_E_ARG,
		    "report: execution type longer than 50");
	return DH_OK;
}

static cJSON *
new_call(const struct pt_report_ctx *ctx, int first)
{
	cJSON *c = cJSON_CreateObject(), *es;

	if (c == NULL)
		return NULL;
	if (!cJSON_AddStringToObject(c, "ResourceId", ctx->resource_id) ||
	    !cJSON_AddStringToObject(c, "ResourceType", "ManagedInstance") ||
	    !cJSON_AddStringToObject(c, "ComplianceType", "Patch"))
		goto fail;
	es = cJSON_AddObjectToObject(c, "ExecutionSummary");
	if (es == NULL ||
	    !cJSON_AddNumberToObject(es, "ExecutionTime",
	    (double)ctx->execution_time) ||
	    (ctx->execution_id != NULL && *ctx->execution_id != '\0' &&
	    !cJSON_AddStringToObject(es, "ExecutionId", ctx->execution_id)) ||
	    !cJSON_AddStringToObject(es, "ExecutionType",
	    dflt(ctx->execution_type, "Command")))
		goto fail;
	if (!cJSON_AddArrayToObject(c, "Items") ||
	    !cJSON_AddStringToObject(c, "UploadType",
	    first ? "COMPLETE" : "PARTIAL"))
		goto fail;
	return c;
fail:
	cJSON_Delete(c);
	return NULL;
}

int
pt_report_compliance_items(const struct pt_eval_result *r,
    const struct pt_report_ctx *ctx, size_t max_items, cJSON ***calls,
    size_t *n_calls, struct dh_err *err)
{
	char hex[2 * DH_SHA256_LEN + 1];
	const char *bid;
	size_t *order = NULL, n = 0, i, ncall, c, k;
	cJSON **out = NULL, *items, *it;
	int pass, rc;

	*calls = NULL;
	*n_calls = 0;
	rc = check_ctx(ctx, err);
	if (rc != DH_OK)
		return rc;
	if (max_items < 1 || max_items > PT_REPORT_MAX_ITEMS)
		return dh_err_set(err, DH_E_ARG,
		    "report: items per call %zu outside 1..%d", max_items,
		    PT_REPORT_MAX_ITEMS);
	bid = dflt(ctx->baseline_id, dflt(r->baseline_id, ""));
	if (r->n_patches > 0) {
		order = calloc(r->n_patches, sizeof(*order));
		if (order == NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto fail;
		}
	}
	/* Non-compliant items first, each group in inventory order. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < r->n_patches; i++)
			if (pt_state_compliant(r->patches[i].state) == pass)
				order[n++] = i;
	ncall = n == 0 ? 1 : (n + max_items - 1) / max_items;
	out = calloc(ncall, sizeof(*out));
	if (out == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto fail;
	}
	k = 0;
	for (c = 0; c < ncall; c++) {
		out[c] = new_call(ctx, c == 0);
		if (out[c] == NULL) {
			rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto fail;
		}
		items = cJSON_GetObjectItemCaseSensitive(out[c], "Items");
		for (i = 0; i < max_items && k < n; i++, k++) {
			rc = build_item(&r->patches[order[k]], ctx, bid, &it);
			if (rc != DH_OK) {
				dh_err_set(err, rc, "report: item for %s: %s",
				    r->patches[order[k]].name, dh_strerror(rc));
				goto fail;
			}
			cJSON_AddItemToArray(items, it);
		}
		rc = hash_json(items, hex);
		if (rc != DH_OK ||
		    !cJSON_AddStringToObject(out[c], "ItemContentHash", hex)) {
			rc = dh_err_set(err, rc != DH_OK ? rc : DH_E_NOMEM,
			    "report: hashing items failed");
			goto fail;
		}
	}
	free(order);
	*calls = out;
	*n_calls = ncall;
	return DH_OK;
fail:
	free(order);
	pt_report_calls_free(out, out != NULL ? ncall : 0);
	return rc;
}

static int
add_count(cJSON *o, const char *key, size_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%zu", v);
	return cJSON_AddStringToObject(o, key, s) != NULL ? DH_OK : DH_E_NOMEM;
}

static int
summary_content(const struct pt_eval_result *r,
    const struct pt_report_ctx *ctx, cJSON *m)
{
	char start[21], end[21], noreboot[21];
	int64_t t0 = ctx->operation_start > 0 ? ctx->operation_start :
	    ctx->execution_time;
	int64_t t1 = ctx->operation_end > 0 ? ctx->operation_end :
	    ctx->execution_time;

	iso_or_empty(t0, start);
	iso_or_empty(t1, end);
	iso_or_empty(ctx->last_noreboot_install_time, noreboot);
	if (add_str(m, "PatchGroup", dflt(ctx->patch_group, ""), DETAIL_MAX) ||
	    add_str(m, "BaselineId",
	    dflt(ctx->baseline_id, dflt(r->baseline_id, "")), DETAIL_MAX) ||
	    add_str(m, "SnapshotId", dflt(ctx->snapshot_id, ""), DETAIL_MAX) ||
	    add_str(m, "OwnerInformation", dflt(ctx->owner_information, ""),
	    DETAIL_MAX) ||
	    add_count(m, "InstalledCount", r->counts[PT_STATE_INSTALLED]) ||
	    add_count(m, "InstalledPendingRebootCount",
	    r->counts[PT_STATE_INSTALLED_PENDING_REBOOT]) ||
	    add_count(m, "InstalledOtherCount",
	    r->counts[PT_STATE_INSTALLED_OTHER]) ||
	    add_count(m, "InstalledRejectedCount",
	    r->counts[PT_STATE_INSTALLED_REJECTED]) ||
	    add_count(m, "NotApplicableCount", 0) ||
	    add_count(m, "UnreportedNotApplicableCount", 0) ||
	    add_count(m, "MissingCount", r->counts[PT_STATE_MISSING]) ||
	    add_count(m, "FailedCount", r->counts[PT_STATE_FAILED]) ||
	    add_str(m, "OperationType", dflt(ctx->operation, "Scan"), 64) ||
	    add_str(m, "OperationStartTime", start, 64) ||
	    add_str(m, "OperationEndTime", end, 64) ||
	    add_str(m, "InstallOverrideList",
	    dflt(ctx->install_override_list, ""), DETAIL_MAX) ||
	    add_str(m, "RebootOption", dflt(ctx->reboot_option,
	    "RebootIfNeeded"), 64) ||
	    add_str(m, "LastNoRebootInstallOperationTime", noreboot, 64) ||
	    add_str(m, "ExecutionId", dflt(ctx->execution_id, ""), DETAIL_MAX) ||
	    add_str(m, "NonCompliantSeverity",
	    r->compliant ? "" : pt_level_name(r->highest), 64) ||
	    add_count(m, "SecurityNonCompliantCount",
	    r->security_noncompliant) ||
	    add_count(m, "CriticalNonCompliantCount",
	    r->critical_noncompliant) ||
	    add_count(m, "OtherNonCompliantCount", r->other_noncompliant))
		return DH_E_NOMEM;
	return DH_OK;
}

int
pt_report_patch_summary(const struct pt_eval_result *r,
    const struct pt_report_ctx *ctx, cJSON **out, struct dh_err *err)
{
	char hex[2 * DH_SHA256_LEN + 1], when[21];
	cJSON *req = NULL, *items, *it, *content, *m;
	int rc;

	*out = NULL;
	rc = check_ctx(ctx, err);
	if (rc != DH_OK)
		return rc;
	if (ctx->execution_time <= 0)
		return dh_err_set(err, DH_E_ARG, "report: no execution time");
	dh_time_iso((time_t)ctx->execution_time, when);
	req = cJSON_CreateObject();
	if (req == NULL ||
	    !cJSON_AddStringToObject(req, "InstanceId", ctx->resource_id))
		goto nomem;
	items = cJSON_AddArrayToObject(req, "Items");
	it = cJSON_CreateObject();
	if (items == NULL || it == NULL) {
		cJSON_Delete(it);
		goto nomem;
	}
	cJSON_AddItemToArray(items, it);
	if (!cJSON_AddStringToObject(it, "TypeName", "AWS:PatchSummary") ||
	    !cJSON_AddStringToObject(it, "SchemaVersion", "1.0") ||
	    !cJSON_AddStringToObject(it, "CaptureTime", when))
		goto nomem;
	content = cJSON_CreateArray();
	m = cJSON_CreateObject();
	if (content == NULL || m == NULL) {
		cJSON_Delete(content);
		cJSON_Delete(m);
		goto nomem;
	}
	cJSON_AddItemToArray(content, m);
	if (summary_content(r, ctx, m) != DH_OK ||
	    hash_json(content, hex) != DH_OK) {
		cJSON_Delete(content);
		goto nomem;
	}
	if (!cJSON_AddStringToObject(it, "ContentHash", hex)) {
		cJSON_Delete(content);
		goto nomem;
	}
	cJSON_AddItemToObject(it, "Content", content);
	*out = req;
	return DH_OK;
nomem:
	cJSON_Delete(req);
	return dh_err_set(err, DH_E_NOMEM, "out of memory");
}

/* ---- renderings ---- */

static size_t
max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

static int
shown_in_table(const struct pt_patch_result *p, int all)
{
	return all || p->state != PT_STATE_INSTALLED_OTHER;
}

int
pt_report_render_table(const struct pt_eval_result *r, int all,
    struct dh_buf *out, struct dh_err *err)
{
	char id[ID_FORM_MAX];
	size_t wp = 7, ws = 5, wi = 9, wa = 9, wl = 8, i, shown = 0;
	const struct pt_patch_result *p;
	int rc = DH_OK;

	for (i = 0; i < r->n_patches; i++) {
		p = &r->patches[i];
		if (!shown_in_table(p, all) ||
		    item_id(p, id, sizeof(id)) != DH_OK)
			continue;
		wp = max_sz(wp, strlen(id));
		ws = max_sz(ws, strlen(pt_state_name(p->state)));
		wl = max_sz(wl, strlen(pt_level_name(p->level)));
		wi = max_sz(wi, strlen(dflt(p->installed_version, "-")));
		wa = max_sz(wa, strlen(dflt(p->available_version, "-")));
	}
	rc = dh_buf_printf(out, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n",
	    (int)ws, "STATE", (int)wl, "SEVERITY", (int)wp, "PACKAGE",
	    (int)wi, "INSTALLED", (int)wa, "AVAILABLE", "NOTE");
	for (i = 0; i < r->n_patches && rc == DH_OK; i++) {
		p = &r->patches[i];
		if (!shown_in_table(p, all) ||
		    item_id(p, id, sizeof(id)) != DH_OK)
			continue;
		shown++;
		rc = dh_buf_printf(out, "%-*s  %-*s  %-*s  %-*s  %-*s  %s%s%s%s\n",
		    (int)ws, pt_state_name(p->state), (int)wl,
		    pt_level_name(p->level), (int)wp, id, (int)wi,
		    dflt(p->installed_version, "-"), (int)wa,
		    dflt(p->available_version, "-"),
		    p->security ? "security " : "", p->held ? "held " : "",
		    dflt(p->advisory_id, ""), p->advisory_id != NULL ? " " : "");
	}
	if (rc == DH_OK)
		rc = dh_buf_printf(out,
		    "\n%zu packages (%zu shown): installed %zu, installed-other "
		    "%zu, pending-reboot %zu, rejected %zu, missing %zu, "
		    "failed %zu\nbaseline %s: %s%s%s\n", r->n_patches, shown,
		    r->counts[PT_STATE_INSTALLED],
		    r->counts[PT_STATE_INSTALLED_OTHER],
		    r->counts[PT_STATE_INSTALLED_PENDING_REBOOT],
		    r->counts[PT_STATE_INSTALLED_REJECTED],
		    r->counts[PT_STATE_MISSING], r->counts[PT_STATE_FAILED],
		    dflt(r->baseline_id, "(inline)"),
		    r->compliant ? "COMPLIANT" : "NON_COMPLIANT",
		    r->compliant ? "" : ", highest severity ",
		    r->compliant ? "" : pt_level_name(r->highest));
	if (rc != DH_OK)
		return dh_err_set(err, rc, "render: output too large");
	return DH_OK;
}

static int
add_opt(cJSON *o, const char *key, const char *s)
{
	if (s == NULL)
		return cJSON_AddNullToObject(o, key) != NULL ? DH_OK :
		    DH_E_NOMEM;
	return cJSON_AddStringToObject(o, key, s) != NULL ? DH_OK :
	    DH_E_NOMEM;
}

static int
render_patch(const struct pt_patch_result *p, cJSON *arr)
{
	cJSON *o = cJSON_CreateObject(), *cv;
	size_t i;

	if (o == NULL || !cJSON_AddItemToArray(arr, o))
		return DH_E_NOMEM;
	if (add_opt(o, "Name", p->name) || add_opt(o, "Arch", p->arch) ||
	    add_opt(o, "InstalledVersion", p->installed_version) ||
	    add_opt(o, "AvailableVersion", p->available_version) ||
	    add_opt(o, "State", pt_state_name(p->state)) ||
	    add_opt(o, "Severity", pt_level_name(p->level)) ||
	    add_opt(o, "Classification", p->classification) ||
	    add_opt(o, "VendorSeverity", p->severity) ||
	    add_opt(o, "AdvisoryId", p->advisory_id) ||
	    add_opt(o, "Repository", p->repository) ||
	    !cJSON_AddBoolToObject(o, "Security", p->security) ||
	    !cJSON_AddBoolToObject(o, "Held", p->held) ||
	    !cJSON_AddNumberToObject(o, "InstalledTime",
	    (double)p->installed_time))
		return DH_E_NOMEM;
	cv = cJSON_AddArrayToObject(o, "CVEIds");
	if (cv == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < p->n_cves; i++)
		if (!cJSON_AddItemToArray(cv, cJSON_CreateString(p->cves[i])))
			return DH_E_NOMEM;
	return DH_OK;
}

static int
render_json(const struct pt_eval_result *r, cJSON *o)
{
	static const char *const count_keys[PT_STATE_COUNT] = {
		"Installed", "InstalledOther", "InstalledPendingReboot",
		"InstalledRejected", "Missing", "Failed"
	};
	char when[21];
	cJSON *counts, *arr;
	size_t i;

	iso_or_empty(r->eval_time, when);
	if (!cJSON_AddStringToObject(o, "Status",
	    r->compliant ? "COMPLIANT" : "NON_COMPLIANT") ||
	    !cJSON_AddStringToObject(o, "Severity",
	    r->compliant ? "UNSPECIFIED" : pt_level_name(r->highest)) ||
	    add_opt(o, "BaselineId", r->baseline_id) ||
	    !cJSON_AddStringToObject(o, "OperatingSystem", pt_os_name(r->os)) ||
	    add_opt(o, "Product", r->product) ||
	    !cJSON_AddStringToObject(o, "ScanTime", when))
		return DH_E_NOMEM;
	counts = cJSON_AddObjectToObject(o, "Counts");
	if (counts == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < PT_STATE_COUNT; i++)
		if (!cJSON_AddNumberToObject(counts, count_keys[i],
		    (double)r->counts[i]))
			return DH_E_NOMEM;
	if (!cJSON_AddNumberToObject(counts, "SecurityNonCompliant",
	    (double)r->security_noncompliant) ||
	    !cJSON_AddNumberToObject(counts, "CriticalNonCompliant",
	    (double)r->critical_noncompliant) ||
	    !cJSON_AddNumberToObject(counts, "OtherNonCompliant",
	    (double)r->other_noncompliant))
		return DH_E_NOMEM;
	arr = cJSON_AddArrayToObject(o, "Patches");
	if (arr == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < r->n_patches; i++)
		if (render_patch(&r->patches[i], arr) != DH_OK)
			return DH_E_NOMEM;
	return DH_OK;
}

int
pt_report_render_json(const struct pt_eval_result *r, struct dh_buf *out,
    struct dh_err *err)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (o == NULL || render_json(r, o) != DH_OK) {
		cJSON_Delete(o);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	rc = dh_json_print(o, out);
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, "\n");
	cJSON_Delete(o);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "render: output too large");
	return DH_OK;
}

/* ---- inventory JSON ---- */

static int
inv_str(const cJSON *o, const char *key, const char *path, char **out,
    struct dh_err *err)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (j == NULL || cJSON_IsNull(j))
		return DH_OK;
	if (!cJSON_IsString(j) || strlen(j->valuestring) > INV_STR_MAX)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s.%s: expected a string of at most %d bytes", path, key,
		    INV_STR_MAX);
	*out = strdup(j->valuestring);
	return *out == NULL ? dh_err_set(err, DH_E_NOMEM, "out of memory") :
	    DH_OK;
}

static int
inv_flag(const cJSON *o, const char *key, const char *path, int *out,
    struct dh_err *err)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = 0;
	if (j == NULL)
		return DH_OK;
	if (!cJSON_IsBool(j))
		return dh_err_set(err, DH_E_FORMAT, "%s.%s: expected a boolean",
		    path, key);
	*out = cJSON_IsTrue(j);
	return DH_OK;
}

/* Epoch seconds as a number, or an ISO 8601 UTC string. */
static int
inv_time(const cJSON *o, const char *key, const char *path, int64_t *out,
    struct dh_err *err)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	time_t t;

	*out = 0;
	if (j == NULL)
		return DH_OK;
	if (cJSON_IsNumber(j) && j->valuedouble >= 0 &&
	    j->valuedouble < 1e13 &&
	    j->valuedouble == (double)(int64_t)j->valuedouble) {
		*out = (int64_t)j->valuedouble;
		return DH_OK;
	}
	if (cJSON_IsString(j) && dh_time_parse_iso(j->valuestring, &t) ==
	    DH_OK) {
		*out = (int64_t)t;
		return DH_OK;
	}
	return dh_err_set(err, DH_E_FORMAT,
	    "%s.%s: expected epoch seconds or YYYY-MM-DDTHH:MM:SSZ", path, key);
}

/* Optional list of strings at key: *out owned (NULL when absent or
 * empty), *n entries, at most INV_LIST_MAX of at most INV_STR_MAX bytes. */
static int
inv_list(const cJSON *o, const char *key, const char *path, char ***out,
    size_t *n, struct dh_err *err)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key), *e;
	size_t cnt;

	*out = NULL;
	*n = 0;
	if (j == NULL)
		return DH_OK;
	cnt = cJSON_IsArray(j) ? (size_t)cJSON_GetArraySize(j) : 0;
	if (!cJSON_IsArray(j) || cnt > INV_LIST_MAX)
		return dh_err_set(err, DH_E_FORMAT,
		    "%s.%s: expected a list of at most %d", path, key,
		    INV_LIST_MAX);
	if (cnt == 0)
		return DH_OK;
	*out = calloc(cnt, sizeof(**out));
	if (*out == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	cJSON_ArrayForEach(e, j) {
		if (!cJSON_IsString(e) || strlen(e->valuestring) > INV_STR_MAX)
			return dh_err_set(err, DH_E_FORMAT,
			    "%s.%s[%zu]: expected a string of at most %d bytes",
			    path, key, *n, INV_STR_MAX);
		(*out)[*n] = strdup(e->valuestring);
		if ((*out)[*n] == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
		(*n)++;
	}
	return DH_OK;
}

static int
load_update(const cJSON *j, const char *path, struct pt_update **out,
    struct dh_err *err)
{
	struct pt_update *u;
	int r;

	*out = NULL;
	if (!cJSON_IsObject(j))
		return dh_err_set(err, DH_E_FORMAT, "%s: expected an object",
		    path);
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	r = inv_str(j, "version", path, &u->version, err);
	if (r == DH_OK && u->version == NULL)
		r = dh_err_set(err, DH_E_FORMAT, "%s.version: required", path);
	if (r == DH_OK)
		r = inv_str(j, "arch", path, &u->arch, err);
	if (r == DH_OK)
		r = inv_str(j, "repository", path, &u->repository, err);
	if (r == DH_OK)
		r = inv_str(j, "section", path, &u->section, err);
	if (r == DH_OK)
		r = inv_str(j, "priority", path, &u->priority, err);
	if (r == DH_OK)
		r = inv_str(j, "classification", path, &u->classification, err);
	if (r == DH_OK)
		r = inv_str(j, "severity", path, &u->severity, err);
	if (r == DH_OK)
		r = inv_str(j, "advisory_id", path, &u->advisory_id, err);
	if (r == DH_OK)
		r = inv_flag(j, "security", path, &u->security, err);
	if (r == DH_OK)
		r = inv_flag(j, "reboot_suggested", path, &u->reboot_suggested,
		    err);
	if (r == DH_OK)
		r = inv_time(j, "release_time", path, &u->release_time, err);
	if (r != DH_OK)
		goto fail;
	r = inv_list(j, "cves", path, &u->cves, &u->n_cves, err);
	if (r == DH_OK)
		r = inv_list(j, "bugzilla_ids", path, &u->bugzilla_ids,
		    &u->n_bugzilla_ids, err);
	if (r != DH_OK)
		goto fail;
	*out = u;
	return DH_OK;
fail:
	pt_update_free(u);
	return r;
}

static int
load_pkg(const cJSON *j, size_t idx, struct pt_pkg *p, struct dh_err *err)
{
	char path[48];
	const cJSON *ju;
	int r;

	snprintf(path, sizeof(path), "packages[%zu]", idx);
	if (!cJSON_IsObject(j))
		return dh_err_set(err, DH_E_FORMAT, "%s: expected an object",
		    path);
	r = inv_str(j, "name", path, &p->name, err);
	if (r == DH_OK && (p->name == NULL || *p->name == '\0'))
		r = dh_err_set(err, DH_E_FORMAT, "%s.name: required", path);
	if (r == DH_OK)
		r = inv_str(j, "arch", path, &p->arch, err);
	if (r == DH_OK)
		r = inv_str(j, "version", path, &p->version, err);
	if (r == DH_OK && p->version == NULL)
		r = dh_err_set(err, DH_E_FORMAT, "%s.version: required", path);
	if (r == DH_OK)
		r = inv_str(j, "source", path, &p->source, err);
	if (r == DH_OK)
		r = inv_str(j, "section", path, &p->section, err);
	if (r == DH_OK)
		r = inv_str(j, "priority", path, &p->priority, err);
	if (r == DH_OK)
		r = inv_time(j, "installed_time", path, &p->installed_time, err);
	if (r == DH_OK)
		r = inv_flag(j, "held", path, &p->held, err);
	if (r == DH_OK)
		r = inv_flag(j, "installed_security", path,
		    &p->installed_security, err);
	if (r == DH_OK)
		r = inv_str(j, "installed_severity", path,
		    &p->installed_severity, err);
	if (r != DH_OK)
		return r;
	ju = cJSON_GetObjectItemCaseSensitive(j, "update");
	if (ju == NULL || cJSON_IsNull(ju))
		return DH_OK;
	strncat(path, ".update", sizeof(path) - strlen(path) - 1);
	return load_update(ju, path, &p->update, err);
}

static int
pkg_cmp(const void *a, const void *b)
{
	const struct pt_pkg *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return strcmp(dflt(x->arch, ""), dflt(y->arch, ""));
}

int
pt_report_inventory_from_json(const void *json, size_t n,
    struct pt_inventory *out, struct dh_err *err)
{
	cJSON *root = NULL;
	const cJSON *fam, *pk, *e;
	size_t cnt, i = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = dh_json_parse(json, n, INV_JSON_MAX, &root, err);
	if (r != DH_OK)
		return r;
	if (!cJSON_IsObject(root)) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "inventory: expected a JSON object");
		goto fail;
	}
	fam = cJSON_GetObjectItemCaseSensitive(root, "family");
	if (cJSON_IsString(fam) && strcmp(fam->valuestring, "deb") == 0)
		out->family = PT_FAMILY_DEB;
	else if (cJSON_IsString(fam) && strcmp(fam->valuestring, "rpm") == 0)
		out->family = PT_FAMILY_RPM;
	else {
		r = dh_err_set(err, DH_E_FORMAT,
		    "family: expected \"deb\" or \"rpm\"");
		goto fail;
	}
	r = inv_str(root, "os_id", "inventory", &out->os_id, err);
	if (r == DH_OK)
		r = inv_str(root, "os_version", "inventory", &out->os_version,
		    err);
	if (r == DH_OK)
		r = inv_str(root, "os_codename", "inventory",
		    &out->os_codename, err);
	if (r == DH_OK)
		r = inv_str(root, "product", "inventory", &out->product, err);
	if (r == DH_OK)
		r = inv_flag(root, "reboot_required", "inventory",
		    &out->reboot_required, err);
	if (r != DH_OK)
		goto fail;
	pk = cJSON_GetObjectItemCaseSensitive(root, "packages");
	if (!cJSON_IsArray(pk)) {
		r = dh_err_set(err, DH_E_FORMAT, "packages: required list");
		goto fail;
	}
	cnt = (size_t)cJSON_GetArraySize(pk);
	if (cnt > INV_MAX_PKGS) {
		r = dh_err_set(err, DH_E_TOOBIG,
		    "packages: %zu entries exceed the limit of %d", cnt,
		    INV_MAX_PKGS);
		goto fail;
	}
	if (cnt > 0) {
		out->pkgs = calloc(cnt, sizeof(*out->pkgs));
		if (out->pkgs == NULL) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto fail;
		}
	}
	cJSON_ArrayForEach(e, pk) {
		out->n_pkgs = i + 1;
		r = load_pkg(e, i, &out->pkgs[i], err);
		if (r != DH_OK)
			goto fail;
		i++;
	}
	if (out->n_pkgs > 1)
		qsort(out->pkgs, out->n_pkgs, sizeof(*out->pkgs), pkg_cmp);
	cJSON_Delete(root);
	return DH_OK;
fail:
	cJSON_Delete(root);
	pt_inventory_free(out);
	return r;
}

static int
put_opt(cJSON *o, const char *key, const char *s)
{
	if (s == NULL)
		return DH_OK;
	return cJSON_AddStringToObject(o, key, s) != NULL ? DH_OK : DH_E_NOMEM;
}

static int
put_list(cJSON *o, const char *key, char *const *v, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(o, key);
	size_t i;

	if (arr == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < n; i++)
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(dflt(v[i],
		    ""))))
			return DH_E_NOMEM;
	return DH_OK;
}

static int
dump_update(const struct pt_update *u, cJSON *p)
{
	cJSON *o = cJSON_AddObjectToObject(p, "update");

	if (o == NULL || put_opt(o, "version", u->version) ||
	    put_opt(o, "arch", u->arch) ||
	    put_opt(o, "repository", u->repository) ||
	    put_opt(o, "section", u->section) ||
	    put_opt(o, "priority", u->priority) ||
	    !cJSON_AddBoolToObject(o, "security", u->security) ||
	    put_opt(o, "classification", u->classification) ||
	    put_opt(o, "severity", u->severity) ||
	    put_opt(o, "advisory_id", u->advisory_id) ||
	    !cJSON_AddNumberToObject(o, "release_time",
	    (double)u->release_time) ||
	    !cJSON_AddBoolToObject(o, "reboot_suggested", u->reboot_suggested))
		return DH_E_NOMEM;
	if (put_list(o, "cves", u->cves, u->n_cves) ||
	    put_list(o, "bugzilla_ids", u->bugzilla_ids, u->n_bugzilla_ids))
		return DH_E_NOMEM;
	return DH_OK;
}

static int
dump_inventory(const struct pt_inventory *inv, cJSON *o)
{
	const struct pt_pkg *p;
	cJSON *arr, *po;
	size_t i;

	if (!cJSON_AddStringToObject(o, "family",
	    inv->family == PT_FAMILY_RPM ? "rpm" : "deb") ||
	    put_opt(o, "os_id", inv->os_id) ||
	    put_opt(o, "os_version", inv->os_version) ||
	    put_opt(o, "os_codename", inv->os_codename) ||
	    put_opt(o, "product", inv->product) ||
	    !cJSON_AddBoolToObject(o, "reboot_required", inv->reboot_required))
		return DH_E_NOMEM;
	arr = cJSON_AddArrayToObject(o, "packages");
	if (arr == NULL)
		return DH_E_NOMEM;
	for (i = 0; i < inv->n_pkgs; i++) {
		p = &inv->pkgs[i];
		po = cJSON_CreateObject();
		if (po == NULL || !cJSON_AddItemToArray(arr, po))
			return DH_E_NOMEM;
		if (put_opt(po, "name", p->name) || put_opt(po, "arch", p->arch) ||
		    put_opt(po, "version", p->version) ||
		    put_opt(po, "source", p->source) ||
		    put_opt(po, "section", p->section) ||
		    put_opt(po, "priority", p->priority) ||
		    !cJSON_AddNumberToObject(po, "installed_time",
		    (double)p->installed_time) ||
		    !cJSON_AddBoolToObject(po, "held", p->held) ||
		    !cJSON_AddBoolToObject(po, "installed_security",
		    p->installed_security) ||
		    put_opt(po, "installed_severity", p->installed_severity))
			return DH_E_NOMEM;
		if (p->update != NULL && dump_update(p->update, po) != DH_OK)
			return DH_E_NOMEM;
	}
	return DH_OK;
}

int
pt_report_inventory_to_json(const struct pt_inventory *inv, cJSON **out,
    struct dh_err *err)
{
	cJSON *o = cJSON_CreateObject();

	*out = NULL;
	if (o == NULL || dump_inventory(inv, o) != DH_OK) {
		cJSON_Delete(o);
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}
	*out = o;
	return DH_OK;
}
