/*
 * Unit tests for pt_report: the PutComplianceItems request shape (item Id,
 * Title, Severity, Status, the Details keys, ExecutionSummary, UploadType,
 * ItemContentHash recomputed independently), the split into calls of at
 * most 10,000 items, the PutInventory AWS:PatchSummary item with every
 * attribute, the table and JSON renderings and the inventory JSON reader
 * and writer (round trip, including the scanner-only model fields, and
 * refusals).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "pt_baseline.h"
#include "pt_report.h"

static const char inv_json[] =
    "{\"family\":\"deb\",\"os_id\":\"debian\",\"os_version\":\"12\","
    "\"product\":\"Debian12\",\"packages\":["
    "{\"name\":\"bash\",\"arch\":\"amd64\",\"version\":\"5.2.15-2+b2\","
    "\"priority\":\"required\",\"section\":\"shells\"},"
    "{\"name\":\"openssl\",\"arch\":\"amd64\",\"version\":\"3.0.11-1~deb12u1\","
    "\"priority\":\"optional\",\"section\":\"utils\","
    "\"installed_time\":\"2025-01-02T03:04:05Z\","
    "\"update\":{\"version\":\"3.0.15-1~deb12u1\",\"security\":true,"
    "\"repository\":\"Debian:bookworm-security/main\","
    "\"cves\":[\"CVE-2024-5535\",\"CVE-2024-9143\"]}},"
    "{\"name\":\"telnetd\",\"arch\":\"amd64\",\"version\":\"0.17+2.4-2\"}]}";

/* Every scanner-only model field: installed_security/installed_severity,
 * update.arch and update.bugzilla_ids. */
static const char rpm_inv_json[] =
    "{\"family\":\"rpm\",\"os_id\":\"amzn\",\"os_version\":\"2\","
    "\"product\":\"AmazonLinux2\",\"packages\":["
    "{\"name\":\"openssl\",\"arch\":\"x86_64\",\"version\":\"1:1.0.2k-24\","
    "\"installed_security\":true,\"installed_severity\":\"Important\","
    "\"update\":{\"version\":\"1:1.0.2k-26\",\"arch\":\"noarch\","
    "\"classification\":\"Security\",\"severity\":\"Critical\","
    "\"advisory_id\":\"ALAS2-2025-1\",\"bugzilla_ids\":[\"2001\",\"2002\"],"
    "\"cves\":[\"CVE-2025-1\"]}},"
    "{\"name\":\"zlib\",\"arch\":\"x86_64\",\"version\":\"1.2.7-19\","
    "\"installed_security\":true},"
    "{\"name\":\"bash\",\"arch\":\"x86_64\",\"version\":\"4.2.46-34\","
    "\"update\":{\"version\":\"4.2.46-35\"}}]}";

static const char bl_json[] =
    "{\"OperatingSystem\":\"DEBIAN\",\"Name\":\"rpt-1\","
    "\"ApprovalRules\":{\"PatchRules\":[{\"PatchFilterGroup\":{\"PatchFilters\":"
    "[{\"Key\":\"PRIORITY\",\"Values\":[\"*\"]}]},\"ComplianceLevel\":\"HIGH\","
    "\"ApproveAfterDays\":0}]},"
    "\"RejectedPatches\":[\"telnetd\"],\"RejectedPatchesAction\":\"BLOCK\"}";

static const char *const details_keys[] = {
	"PatchState", "Classification", "PatchSeverity", "PatchBaselineId",
	"PatchGroup", "InstalledTime", "DocumentName"
};

static const char *const summary_keys[] = {
	"PatchGroup", "BaselineId", "SnapshotId", "OwnerInformation",
	"InstalledCount", "InstalledPendingRebootCount", "InstalledOtherCount",
	"InstalledRejectedCount", "NotApplicableCount",
	"UnreportedNotApplicableCount", "MissingCount", "FailedCount",
	"OperationType", "OperationStartTime", "OperationEndTime",
	"InstallOverrideList", "RebootOption",
	"LastNoRebootInstallOperationTime", "ExecutionId",
	"NonCompliantSeverity", "SecurityNonCompliantCount",
	"CriticalNonCompliantCount", "OtherNonCompliantCount"
};

static void
evaluate(struct pt_eval_result *res)
{
	struct pt_baseline b;
	struct pt_inventory inv;
	struct dh_err err;

	if (pt_baseline_parse(bl_json, sizeof(bl_json) - 1, &b, &err) != DH_OK)
		fail_msg("baseline: %s", err.msg);
	if (pt_report_inventory_from_json(inv_json, sizeof(inv_json) - 1, &inv,
	    &err) != DH_OK)
		fail_msg("inventory: %s", err.msg);
	if (pt_baseline_eval(&b, &inv, 1763596800, res, &err) != DH_OK)
		fail_msg("eval: %s", err.msg);
	pt_inventory_free(&inv);
	pt_baseline_free(&b);
}

static void
ctx_init(struct pt_report_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->resource_id = "mi-0123456789abcdef0";
	c->execution_id = "3f0e1a2b-0000-4000-8000-000000000001";
	c->execution_time = 1763596800;
	c->patch_group = "prod";
}

static const char *
str_at(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(j))
		fail_msg("%s: not a string", key);
	return j->valuestring;
}

static void
assert_hash(const cJSON *of, const char *want)
{
	char hex[2 * DH_SHA256_LEN + 1];
	char *txt = cJSON_PrintUnformatted(of);

	assert_non_null(txt);
	dh_sha256_hex(txt, strlen(txt), hex);
	assert_string_equal(hex, want);
	cJSON_free(txt);
}

static void
test_compliance_items_shape(void **state)
{
	struct pt_eval_result res;
	struct pt_report_ctx ctx;
	struct dh_err err;
	cJSON **calls = NULL;
	const cJSON *c, *es, *items, *it, *d;
	size_t n = 0, i;

	(void)state;
	evaluate(&res);
	ctx_init(&ctx);
	assert_int_equal(pt_report_compliance_items(&res, &ctx, 10000, &calls,
	    &n, &err), DH_OK);
	assert_int_equal(n, 1);
	c = calls[0];
	assert_string_equal(str_at(c, "ResourceId"), "mi-0123456789abcdef0");
	assert_string_equal(str_at(c, "ResourceType"), "ManagedInstance");
	assert_string_equal(str_at(c, "ComplianceType"), "Patch");
	assert_string_equal(str_at(c, "UploadType"), "COMPLETE");
	es = cJSON_GetObjectItemCaseSensitive(c, "ExecutionSummary");
	assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(es,
	    "ExecutionTime")));
	assert_int_equal((int64_t)cJSON_GetObjectItemCaseSensitive(es,
	    "ExecutionTime")->valuedouble, 1763596800);
	assert_string_equal(str_at(es, "ExecutionId"), ctx.execution_id);
	assert_string_equal(str_at(es, "ExecutionType"), "Command");
	items = cJSON_GetObjectItemCaseSensitive(c, "Items");
	assert_int_equal(cJSON_GetArraySize(items), 3);
	assert_hash(items, str_at(c, "ItemContentHash"));
	/* Non-compliant first: openssl MISSING, telnetd REJECTED, then bash. */
	it = cJSON_GetArrayItem(items, 0);
	assert_string_equal(str_at(it, "Id"), "openssl.amd64");
	assert_string_equal(str_at(it, "Title"), "openssl.amd64:3.0.15-1~deb12u1");
	assert_string_equal(str_at(it, "Severity"), "HIGH");
	assert_string_equal(str_at(it, "Status"), "NON_COMPLIANT");
	d = cJSON_GetObjectItemCaseSensitive(it, "Details");
	for (i = 0; i < sizeof(details_keys) / sizeof(details_keys[0]); i++)
		(void)str_at(d, details_keys[i]);
	assert_string_equal(str_at(d, "PatchState"), "MISSING");
	assert_string_equal(str_at(d, "PatchBaselineId"), "rpt-1");
	assert_string_equal(str_at(d, "PatchGroup"), "prod");
	assert_string_equal(str_at(d, "InstalledTime"), "2025-01-02T03:04:05Z");
	assert_string_equal(str_at(d, "DocumentName"), "AWS-RunPatchBaseline");
	assert_string_equal(str_at(d, "CVEIds"), "CVE-2024-5535,CVE-2024-9143");
	it = cJSON_GetArrayItem(items, 1);
	assert_string_equal(str_at(it, "Id"), "telnetd.amd64");
	d = cJSON_GetObjectItemCaseSensitive(it, "Details");
	assert_string_equal(str_at(d, "PatchState"), "INSTALLED_REJECTED");
	assert_string_equal(str_at(it, "Status"), "NON_COMPLIANT");
	it = cJSON_GetArrayItem(items, 2);
	assert_string_equal(str_at(it, "Id"), "bash.amd64");
	assert_string_equal(str_at(it, "Status"), "COMPLIANT");
	assert_string_equal(str_at(it, "Severity"), "UNSPECIFIED");
	d = cJSON_GetObjectItemCaseSensitive(it, "Details");
	assert_string_equal(str_at(d, "PatchState"), "INSTALLED_OTHER");
	assert_string_equal(str_at(d, "Classification"), "");
	assert_string_equal(str_at(d, "PatchSeverity"), "");
	assert_string_equal(str_at(d, "InstalledTime"), "");
	assert_null(cJSON_GetObjectItemCaseSensitive(d, "CVEIds"));
	pt_report_calls_free(calls, n);

	/* Overrides and refusals. */
	ctx.baseline_id = "pb-0123456789abcdef0";
	ctx.execution_type = "PatchPolicy";
	ctx.execution_id = NULL;
	assert_int_equal(pt_report_compliance_items(&res, &ctx, 2, &calls, &n,
	    &err), DH_OK);
	assert_int_equal(n, 2);
	es = cJSON_GetObjectItemCaseSensitive(calls[0], "ExecutionSummary");
	assert_null(cJSON_GetObjectItemCaseSensitive(es, "ExecutionId"));
	assert_string_equal(str_at(es, "ExecutionType"), "PatchPolicy");
	d = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
	    cJSON_GetObjectItemCaseSensitive(calls[1], "Items"), 0), "Details");
	assert_string_equal(str_at(d, "PatchBaselineId"), "pb-0123456789abcdef0");
	assert_string_equal(str_at(calls[1], "UploadType"), "PARTIAL");
	pt_report_calls_free(calls, n);
	assert_int_equal(pt_report_compliance_items(&res, &ctx, 0, &calls, &n,
	    &err), DH_E_ARG);
	assert_int_equal(pt_report_compliance_items(&res, &ctx, 10001, &calls,
	    &n, &err), DH_E_ARG);
	ctx.resource_id = NULL;
	assert_int_equal(pt_report_compliance_items(&res, &ctx, 10, &calls, &n,
	    &err), DH_E_ARG);
	pt_eval_result_free(&res);
}

static void
test_split_10000(void **state)
{
	enum { N = 25001 };
	struct pt_inventory inv;
	struct pt_baseline b;
	struct pt_eval_result res;
	struct pt_report_ctx ctx;
	struct dh_err err;
	cJSON **calls = NULL;
	char name[32], *seen;
	const cJSON *items, *it;
	size_t n = 0, i, c, total = 0;
	int idx;

	(void)state;
	memset(&inv, 0, sizeof(inv));
	inv.family = PT_FAMILY_DEB;
	inv.product = strdup("Debian12");
	inv.pkgs = calloc(N, sizeof(*inv.pkgs));
	assert_non_null(inv.pkgs);
	inv.n_pkgs = N;
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "pkg%06zu", i);
		inv.pkgs[i].name = strdup(name);
		inv.pkgs[i].arch = strdup("amd64");
		inv.pkgs[i].version = strdup("1.0-1");
		inv.pkgs[i].priority = strdup("optional");
		if (i % 2 == 0) {
			inv.pkgs[i].update = calloc(1, sizeof(struct pt_update));
			inv.pkgs[i].update->version = strdup("1.0-2");
			inv.pkgs[i].update->security = 1;
		}
	}
	assert_int_equal(pt_baseline_default_for_os(PT_OS_DEBIAN, &b, &err),
	    DH_OK);
	assert_int_equal(pt_baseline_eval(&b, &inv, 1763596800, &res, &err),
	    DH_OK);
	assert_int_equal(res.counts[PT_STATE_MISSING], (N + 1) / 2);
	ctx_init(&ctx);
	assert_int_equal(pt_report_compliance_items(&res, &ctx,
	    PT_REPORT_MAX_ITEMS, &calls, &n, &err), DH_OK);
	assert_int_equal(n, 3);
	seen = calloc(N, 1);
	assert_non_null(seen);
	for (c = 0; c < n; c++) {
		items = cJSON_GetObjectItemCaseSensitive(calls[c], "Items");
		assert_int_equal(cJSON_GetArraySize(items),
		    c < 2 ? 10000 : N - 20000);
		assert_string_equal(str_at(calls[c], "UploadType"),
		    c == 0 ? "COMPLETE" : "PARTIAL");
		assert_hash(items, str_at(calls[c], "ItemContentHash"));
		cJSON_ArrayForEach(it, items) {
			assert_int_equal(sscanf(str_at(it, "Id"), "pkg%d.amd64",
			    &idx), 1);
			assert_true(idx >= 0 && idx < N);
			assert_int_equal(seen[idx], 0);
			seen[idx] = 1;
			/* all non-compliant items come before compliant ones */
			if (total < (size_t)(N + 1) / 2)
				assert_string_equal(str_at(it, "Status"),
				    "NON_COMPLIANT");
			else
				assert_string_equal(str_at(it, "Status"),
				    "COMPLIANT");
			total++;
		}
	}
	assert_int_equal(total, N);
	assert_string_not_equal(str_at(calls[0], "ItemContentHash"),
	    str_at(calls[1], "ItemContentHash"));
	free(seen);
	pt_report_calls_free(calls, n);
	pt_eval_result_free(&res);
	pt_baseline_free(&b);
	pt_inventory_free(&inv);
}

static void
test_empty_result(void **state)
{
	struct pt_eval_result res;
	struct pt_report_ctx ctx;
	struct dh_err err;
	cJSON **calls = NULL;
	size_t n = 0;

	(void)state;
	memset(&res, 0, sizeof(res));
	res.compliant = 1;
	ctx_init(&ctx);
	assert_int_equal(pt_report_compliance_items(&res, &ctx, 10000, &calls,
	    &n, &err), DH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
	    calls[0], "Items")), 0);
	assert_string_equal(str_at(calls[0], "UploadType"), "COMPLETE");
	pt_report_calls_free(calls, n);
}

static void
test_patch_summary(void **state)
{
	struct pt_eval_result res;
	struct pt_report_ctx ctx;
	struct dh_err err;
	cJSON *req = NULL;
	const cJSON *items, *it, *content, *m, *e;
	size_t i;
	int n_attr = 0;

	(void)state;
	evaluate(&res);
	ctx_init(&ctx);
	ctx.operation_start = 1763596700;
	ctx.snapshot_id = "11111111-2222-4333-8444-555555555555";
	assert_int_equal(pt_report_patch_summary(&res, &ctx, &req, &err), DH_OK);
	assert_string_equal(str_at(req, "InstanceId"), "mi-0123456789abcdef0");
	items = cJSON_GetObjectItemCaseSensitive(req, "Items");
	assert_int_equal(cJSON_GetArraySize(items), 1);
	it = cJSON_GetArrayItem(items, 0);
	assert_string_equal(str_at(it, "TypeName"), "AWS:PatchSummary");
	assert_string_equal(str_at(it, "SchemaVersion"), "1.0");
	assert_string_equal(str_at(it, "CaptureTime"), "2025-11-20T00:00:00Z");
	content = cJSON_GetObjectItemCaseSensitive(it, "Content");
	assert_int_equal(cJSON_GetArraySize(content), 1);
	assert_hash(content, str_at(it, "ContentHash"));
	m = cJSON_GetArrayItem(content, 0);
	for (i = 0; i < sizeof(summary_keys) / sizeof(summary_keys[0]); i++)
		(void)str_at(m, summary_keys[i]);
	cJSON_ArrayForEach(e, m) {
		assert_true(cJSON_IsString(e));
		n_attr++;
	}
	assert_int_equal(n_attr, sizeof(summary_keys) / sizeof(summary_keys[0]));
	assert_string_equal(str_at(m, "MissingCount"), "1");
	assert_string_equal(str_at(m, "InstalledRejectedCount"), "1");
	assert_string_equal(str_at(m, "InstalledOtherCount"), "1");
	assert_string_equal(str_at(m, "InstalledCount"), "0");
	assert_string_equal(str_at(m, "OperationType"), "Scan");
	assert_string_equal(str_at(m, "RebootOption"), "RebootIfNeeded");
	assert_string_equal(str_at(m, "OperationStartTime"),
	    "2025-11-19T23:58:20Z");
	assert_string_equal(str_at(m, "OperationEndTime"),
	    "2025-11-20T00:00:00Z");
	assert_string_equal(str_at(m, "LastNoRebootInstallOperationTime"), "");
	assert_string_equal(str_at(m, "NonCompliantSeverity"), "HIGH");
	assert_string_equal(str_at(m, "SecurityNonCompliantCount"), "1");
	assert_string_equal(str_at(m, "OtherNonCompliantCount"), "1");
	assert_string_equal(str_at(m, "SnapshotId"), ctx.snapshot_id);
	assert_string_equal(str_at(m, "PatchGroup"), "prod");
	assert_string_equal(str_at(m, "BaselineId"), "rpt-1");
	cJSON_Delete(req);
	ctx.execution_time = 0;
	assert_int_equal(pt_report_patch_summary(&res, &ctx, &req, &err),
	    DH_E_ARG);
	pt_eval_result_free(&res);
}

static void
test_renderings(void **state)
{
	struct pt_eval_result res;
	struct dh_buf out;
	struct dh_err err;
	cJSON *j = NULL;
	const cJSON *counts;

	(void)state;
	evaluate(&res);
	dh_buf_init(&out, 1 << 20);
	assert_int_equal(pt_report_render_table(&res, 0, &out, &err), DH_OK);
	assert_non_null(strstr(dh_buf_cstr(&out), "STATE"));
	assert_non_null(strstr(dh_buf_cstr(&out), "openssl.amd64"));
	assert_non_null(strstr(dh_buf_cstr(&out), "3.0.15-1~deb12u1"));
	assert_non_null(strstr(dh_buf_cstr(&out), "INSTALLED_REJECTED"));
	assert_null(strstr(dh_buf_cstr(&out), "bash.amd64"));
	assert_non_null(strstr(dh_buf_cstr(&out),
	    "NON_COMPLIANT, highest severity HIGH"));
	dh_buf_reset(&out);
	assert_int_equal(pt_report_render_table(&res, 1, &out, &err), DH_OK);
	assert_non_null(strstr(dh_buf_cstr(&out), "bash.amd64"));
	dh_buf_reset(&out);
	assert_int_equal(pt_report_render_json(&res, &out, &err), DH_OK);
	assert_int_equal(dh_json_parse(dh_buf_ptr(&out), out.len, 1 << 20, &j,
	    &err), DH_OK);
	assert_string_equal(str_at(j, "Status"), "NON_COMPLIANT");
	assert_string_equal(str_at(j, "Severity"), "HIGH");
	assert_string_equal(str_at(j, "OperatingSystem"), "DEBIAN");
	counts = cJSON_GetObjectItemCaseSensitive(j, "Counts");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(counts,
	    "Missing")->valueint, 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j,
	    "Patches")), 3);
	cJSON_Delete(j);
	/* A too-small output buffer is a clean error. */
	dh_buf_free(&out);
	dh_buf_init(&out, 16);
	assert_int_not_equal(pt_report_render_table(&res, 1, &out, &err), DH_OK);
	assert_int_not_equal(pt_report_render_json(&res, &out, &err), DH_OK);
	dh_buf_free(&out);
	pt_eval_result_free(&res);
}

static void
test_inventory_json(void **state)
{
	static const char *const bad[] = {
		"{}", "[]", "{\"family\":\"apk\",\"packages\":[]}",
		"{\"family\":\"deb\"}",
		"{\"family\":\"deb\",\"packages\":[{\"version\":\"1\"}]}",
		"{\"family\":\"deb\",\"packages\":[{\"name\":\"a\"}]}",
		"{\"family\":\"deb\",\"packages\":[{\"name\":\"a\",\"version\":\"1\","
		"\"installed_time\":\"yesterday\"}]}",
		"{\"family\":\"deb\",\"packages\":[{\"name\":\"a\",\"version\":\"1\","
		"\"update\":{\"security\":true}}]}",
		"{\"family\":\"rpm\",\"packages\":[{\"name\":\"a\",\"version\":\"1\","
		"\"update\":{\"version\":\"2\",\"cves\":[1]}}]}",
		"{\"family\":\"rpm\",\"packages\":[{\"name\":\"a\",\"version\":\"1\","
		"\"held\":\"yes\"}]}",
		"{\"family\":\"rpm\",\"packages\":[{\"name\":\"a\",\"version\":\"1\","
		"\"installed_security\":1}]}",
		"{\"family\":\"rpm\",\"packages\":[{\"name\":\"a\",\"version\":\"1\","
		"\"installed_severity\":[\"Low\"]}]}",
		"{\"family\":\"rpm\",\"packages\":[{\"name\":\"a\",\"version\":\"1\","
		"\"update\":{\"version\":\"2\",\"arch\":7}}]}",
		"{\"family\":\"rpm\",\"packages\":[{\"name\":\"a\",\"version\":\"1\","
		"\"update\":{\"version\":\"2\",\"bugzilla_ids\":\"1234\"}}]}",
		"{\"family\":\"rpm\",\"packages\":[{\"name\":\"a\",\"version\":\"1\","
		"\"update\":{\"version\":\"2\",\"bugzilla_ids\":[\"1\",1234]}}]}",
	};
	struct pt_inventory inv, inv2;
	struct dh_err err;
	struct dh_buf o1, o2;
	cJSON *j1 = NULL, *j2 = NULL;
	size_t i;

	(void)state;
	assert_int_equal(pt_report_inventory_from_json(inv_json,
	    sizeof(inv_json) - 1, &inv, &err), DH_OK);
	assert_int_equal(inv.n_pkgs, 3);
	assert_string_equal(inv.pkgs[1].name, "openssl");
	assert_int_equal(inv.pkgs[1].installed_time, 1735787045);
	assert_int_equal(inv.pkgs[1].update->n_cves, 2);
	assert_int_equal(pt_report_inventory_to_json(&inv, &j1, &err), DH_OK);
	dh_buf_init(&o1, 1 << 20);
	dh_buf_init(&o2, 1 << 20);
	assert_int_equal(dh_json_print(j1, &o1), DH_OK);
	assert_int_equal(pt_report_inventory_from_json(dh_buf_ptr(&o1), o1.len,
	    &inv2, &err), DH_OK);
	assert_int_equal(pt_report_inventory_to_json(&inv2, &j2, &err), DH_OK);
	assert_int_equal(dh_json_print(j2, &o2), DH_OK);
	assert_string_equal(dh_buf_cstr(&o1), dh_buf_cstr(&o2));
	cJSON_Delete(j1);
	cJSON_Delete(j2);
	dh_buf_free(&o1);
	dh_buf_free(&o2);
	pt_inventory_free(&inv);
	pt_inventory_free(&inv2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dh_err_clear(&err);
		if (pt_report_inventory_from_json(bad[i], strlen(bad[i]), &inv,
		    &err) == DH_OK)
			fail_msg("accepted %s", bad[i]);
		assert_true(err.msg[0] != '\0');
		assert_int_equal(inv.n_pkgs, 0);
	}
}

/* to_json -> from_json -> to_json is a fixed point; o receives the first
 * rendering. */
static void
round_trip(const struct pt_inventory *inv, struct dh_buf *o)
{
	struct pt_inventory back;
	struct dh_err err;
	struct dh_buf o2;
	cJSON *j1 = NULL, *j2 = NULL;

	assert_int_equal(pt_report_inventory_to_json(inv, &j1, &err), DH_OK);
	assert_int_equal(dh_json_print(j1, o), DH_OK);
	assert_int_equal(pt_report_inventory_from_json(dh_buf_ptr(o), o->len,
	    &back, &err), DH_OK);
	assert_int_equal(pt_report_inventory_to_json(&back, &j2, &err), DH_OK);
	dh_buf_init(&o2, 1 << 20);
	assert_int_equal(dh_json_print(j2, &o2), DH_OK);
	assert_string_equal(dh_buf_cstr(o), dh_buf_cstr(&o2));
	dh_buf_free(&o2);
	cJSON_Delete(j1);
	cJSON_Delete(j2);
	pt_inventory_free(&back);
}

static void
test_inventory_json_model_fields(void **state)
{
	struct pt_inventory inv, back;
	struct dh_err err;
	struct dh_buf o;
	const struct pt_pkg *p;

	(void)state;
	assert_int_equal(pt_report_inventory_from_json(rpm_inv_json,
	    sizeof(rpm_inv_json) - 1, &inv, &err), DH_OK);
	assert_int_equal(inv.n_pkgs, 3);
	/* sorted by name: bash, openssl, zlib */
	p = &inv.pkgs[0];
	assert_string_equal(p->name, "bash");
	assert_false(p->installed_security);
	assert_null(p->installed_severity);
	assert_null(p->update->arch);
	assert_int_equal(p->update->n_bugzilla_ids, 0);
	assert_null(p->update->bugzilla_ids);
	p = &inv.pkgs[1];
	assert_string_equal(p->name, "openssl");
	assert_true(p->installed_security);
	assert_string_equal(p->installed_severity, "Important");
	assert_string_equal(p->update->arch, "noarch");
	assert_int_equal(p->update->n_bugzilla_ids, 2);
	assert_string_equal(p->update->bugzilla_ids[0], "2001");
	assert_string_equal(p->update->bugzilla_ids[1], "2002");
	assert_int_equal(p->update->n_cves, 1);
	p = &inv.pkgs[2];
	assert_string_equal(p->name, "zlib");
	assert_true(p->installed_security);
	assert_null(p->installed_severity);
	assert_null(p->update);

	dh_buf_init(&o, 1 << 20);
	round_trip(&inv, &o);
	/* the written form carries the fields and reads back equal */
	assert_non_null(strstr(dh_buf_cstr(&o), "\"installed_severity\":"
	    "\"Important\""));
	assert_non_null(strstr(dh_buf_cstr(&o), "\"bugzilla_ids\":[\"2001\","
	    "\"2002\"]"));
	assert_int_equal(pt_report_inventory_from_json(dh_buf_ptr(&o), o.len,
	    &back, &err), DH_OK);
	assert_int_equal(back.n_pkgs, inv.n_pkgs);
	assert_int_equal(back.pkgs[0].installed_security, 0);
	assert_int_equal(back.pkgs[1].installed_security, 1);
	assert_int_equal(back.pkgs[2].installed_security, 1);
	assert_string_equal(back.pkgs[1].installed_severity, "Important");
	assert_null(back.pkgs[2].installed_severity);
	assert_string_equal(back.pkgs[1].update->arch, "noarch");
	assert_null(back.pkgs[0].update->arch);
	assert_int_equal(back.pkgs[1].update->n_bugzilla_ids, 2);
	assert_string_equal(back.pkgs[1].update->bugzilla_ids[1], "2002");
	assert_int_equal(back.pkgs[0].update->n_bugzilla_ids, 0);
	pt_inventory_free(&back);
	dh_buf_free(&o);
	pt_inventory_free(&inv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compliance_items_shape),
		cmocka_unit_test(test_split_10000),
		cmocka_unit_test(test_empty_result),
		cmocka_unit_test(test_patch_summary),
		cmocka_unit_test(test_renderings),
		cmocka_unit_test(test_inventory_json),
		cmocka_unit_test(test_inventory_json_model_fields),
	};

	return cmocka_run_group_tests_name("pt_report", tests, NULL, NULL);
}
