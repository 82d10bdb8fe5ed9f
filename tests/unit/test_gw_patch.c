/*
 * Unit tests for gw_patch against a temporary store: PutComplianceItems
 * (COMPLETE replaces, PARTIAL adds, unchanged ItemContentHash ignored,
 * 10,000-item limit, enum and resource checks, instance credentials limited
 * to their own id), the list/summary views, PutInventory (+ unchanged hash
 * without Content) feeding DescribeInstancePatchStates, DescribeInstancePatches
 * state rendering and filters, baselines (create/get/describe incl.
 * predefined/update/delete, patch groups, defaults) and
 * GetDeployablePatchSnapshotForInstance choosing the baseline by the
 * instance's "Patch Group" tag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_json.h"
#include "gw_auth.h"
#include "gw_patch.h"
#include "gw_ssm.h"
#include "gw_store.h"
#include "gw_testutil.h"

#define NOW_MS 1790000000000LL
#define MI "mi-0123456789abcdef0"

struct fx {
	char dir[64];
	char db[96];
	struct gw_store *st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct gw_store_instance in;

	if (gw_test_store_open("/tmp/gwpatchXXXXXX", f->dir, f->db,
	    &f->st) != 0)
		return -1;
	memset(&in, 0, sizeof(in));
	snprintf(in.id, sizeof(in.id), MI);
	snprintf(in.platform_type, sizeof(in.platform_type), "Linux");
	snprintf(in.platform_name, sizeof(in.platform_name),
	    "Debian GNU/Linux");
	snprintf(in.platform_version, sizeof(in.platform_version), "12");
	if (gw_store_instance_put(f->st, &in, NULL) != DH_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	gw_test_store_close(f->st, f->dir, f->db);
	free(f);
	return 0;
}

static struct gw_ssm_result
call_as(struct fx *f, const struct gw_principal *who, const char *op,
    const char *json)
{
	struct gw_ssm_result res;
	struct gw_ssm_ctx c;
	char target[128];
	cJSON *in = NULL;

	snprintf(target, sizeof(target), "AmazonSSM.%s", op);
	assert_int_equal(dh_json_parse(json, strlen(json), 8 << 20, &in, NULL),
	    DH_OK);
	gw_test_ctx(&c, f->st, who, NOW_MS);
	assert_non_null(gw_ssm_find(target));
	(void)gw_ssm_call(&c, gw_ssm_find(target), in, &res);
	cJSON_Delete(in);
	return res;
}

static struct gw_ssm_result
call(struct fx *f, const char *op, const char *json)
{
	return call_as(f, NULL, op, json);
}

static void
expect_ok(struct fx *f, const char *op, const char *json)
{
	struct gw_ssm_result r = call(f, op, json);

	if (r.error_code != NULL)
		fail_msg("%s: %s %s", op, r.error_code, r.message);
	gw_ssm_result_free(&r);
}

static void
expect_err(struct fx *f, const char *op, const char *json, const char *code)
{
	struct gw_ssm_result r = call(f, op, json);

	if (r.error_code == NULL || strcmp(r.error_code, code) != 0)
		fail_msg("%s: want %s got %s (%s)", op, code,
		    r.error_code != NULL ? r.error_code : "success", r.message);
	gw_ssm_result_free(&r);
}

static const char *
jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int
jnum(const cJSON *o, const char *k)
{
	return (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o,
	    k));
}

#define PUT(items, extra) "{\"ResourceId\":\"" MI "\",\"ResourceType\":" \
	"\"ManagedInstance\",\"ComplianceType\":\"Patch\",\"ExecutionSummary\":" \
	"{\"ExecutionTime\":1790000000,\"ExecutionId\":\"cmd-1\"},\"Items\":[" \
	items "]" extra "}"
#define ITEM(id, sev, st, state) "{\"Id\":\"" id "\",\"Title\":\"" id \
	":1.0\",\"Severity\":\"" sev "\",\"Status\":\"" st "\",\"Details\":" \
	"{\"PatchState\":\"" state "\",\"PatchSeverity\":\"\"," \
	"\"Classification\":\"\",\"InstalledTime\":\"2024-01-02T03:04:05Z\"}}"

static int
count_items(struct fx *f, const char *filter)
{
	char body[512];
	struct gw_ssm_result r;
	int n;

	snprintf(body, sizeof(body), "{\"ResourceIds\":[\"" MI "\"],"
	    "\"ResourceTypes\":[\"ManagedInstance\"]%s}", filter);
	r = call(f, "ListComplianceItems", body);
	assert_null(r.error_code);
	n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.body,
	    "ComplianceItems"));
	gw_ssm_result_free(&r);
	return n;
}

static void
test_compliance(void **state)
{
	struct fx *f = *state;
	struct gw_ssm_result r;
	struct gw_principal who;
	const cJSON *it;
	struct dh_buf big;
	int i;

	expect_ok(f, "PutComplianceItems", PUT(ITEM("a", "HIGH",
	    "NON_COMPLIANT", "MISSING") "," ITEM("b", "UNSPECIFIED",
	    "COMPLIANT", "INSTALLED_OTHER"), ",\"ItemContentHash\":\"h1\""));
	assert_int_equal(count_items(f, ""), 2);
	assert_int_equal(count_items(f, ",\"Filters\":[{\"Key\":\"Status\","
	    "\"Values\":[\"NON_COMPLIANT\"],\"Type\":\"EQUAL\"}]"), 1);
	assert_int_equal(count_items(f, ",\"Filters\":[{\"Key\":\"Status\","
	    "\"Values\":[\"NON_COMPLIANT\"],\"Type\":\"NOT_EQUAL\"}]"), 1);
	/* Same hash: ignored even though the items differ. */
	expect_ok(f, "PutComplianceItems", PUT(ITEM("c", "LOW", "COMPLIANT",
	    "INSTALLED"), ",\"ItemContentHash\":\"h1\""));
	assert_int_equal(count_items(f, ""), 2);
	/* PARTIAL adds. */
	expect_ok(f, "PutComplianceItems", PUT(ITEM("c", "LOW", "COMPLIANT",
	    "INSTALLED"), ",\"UploadType\":\"PARTIAL\""));
	assert_int_equal(count_items(f, ""), 3);

	r = call(f, "ListResourceComplianceSummaries", "{}");
	assert_null(r.error_code);
	it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.body,
	    "ResourceComplianceSummaryItems"), 0);
	assert_string_equal(jstr(it, "Status"), "NON_COMPLIANT");
	assert_string_equal(jstr(it, "OverallSeverity"), "HIGH");
	assert_int_equal(jnum(cJSON_GetObjectItemCaseSensitive(it,
	    "CompliantSummary"), "CompliantCount"), 2);
	gw_ssm_result_free(&r);
	r = call(f, "ListComplianceSummaries", "{}");
	it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.body,
	    "ComplianceSummaryItems"), 0);
	assert_string_equal(jstr(it, "ComplianceType"), "Patch");
	assert_int_equal(jnum(cJSON_GetObjectItemCaseSensitive(it,
	    "NonCompliantSummary"), "NonCompliantCount"), 1);
	gw_ssm_result_free(&r);

	/* COMPLETE replaces everything of the type. */
	expect_ok(f, "PutComplianceItems", PUT(ITEM("z", "LOW", "COMPLIANT",
	    "INSTALLED"), ""));
	assert_int_equal(count_items(f, ""), 1);

	r = call(f, "DescribeInstancePatches", "{\"InstanceId\":\"" MI "\"}");
	assert_null(r.error_code);
	it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.body,
	    "Patches"), 0);
	assert_string_equal(jstr(it, "State"), "Installed");
	assert_string_equal(jstr(it, "KBId"), "z");
	assert_int_equal(jnum(it, "InstalledTime"), 1704164645);
	gw_ssm_result_free(&r);

	expect_err(f, "PutComplianceItems", PUT(ITEM("a", "SEVERE",
	    "COMPLIANT", "INSTALLED"), ""), "ValidationException");
	expect_err(f, "PutComplianceItems", "{\"ResourceId\":\"" MI "\","
	    "\"ResourceType\":\"Document\",\"ComplianceType\":\"Patch\","
	    "\"ExecutionSummary\":{\"ExecutionTime\":1},\"Items\":[]}",
	    "InvalidResourceType");
	expect_err(f, "PutComplianceItems", "{\"ResourceId\":\"mi-00000000000000000\","
	    "\"ResourceType\":\"ManagedInstance\",\"ComplianceType\":\"Patch\","
	    "\"ExecutionSummary\":{\"ExecutionTime\":1},\"Items\":[]}",
	    "InvalidResourceId");
	expect_err(f, "PutComplianceItems", "{\"ResourceId\":\"" MI "\","
	    "\"ResourceType\":\"ManagedInstance\",\"ComplianceType\":\"Patch\","
	    "\"Items\":[]}", "ValidationException");

	memset(&who, 0, sizeof(who));
	who.kind = GW_AUTH_INSTANCE;
	snprintf(who.instance_id, sizeof(who.instance_id),
	    "mi-00000000000000001");
	r = call_as(f, &who, "PutComplianceItems", PUT("", ""));
	assert_string_equal(r.error_code, "AccessDeniedException");
	gw_ssm_result_free(&r);

	dh_buf_init(&big, 8 << 20);
	dh_buf_put_str(&big, "{\"ResourceId\":\"" MI "\",\"ResourceType\":"
	    "\"ManagedInstance\",\"ComplianceType\":\"Patch\","
	    "\"ExecutionSummary\":{\"ExecutionTime\":1},\"Items\":[");
	for (i = 0; i < 10001; i++)
		dh_buf_printf(&big, "%s{\"Id\":\"p%d\",\"Severity\":\"LOW\","
		    "\"Status\":\"COMPLIANT\"}", i > 0 ? "," : "", i);
	dh_buf_put_str(&big, "]}");
	expect_err(f, "PutComplianceItems", dh_buf_cstr(&big),
	    "ValidationException");
	dh_buf_free(&big);
}

static void
test_inventory_states(void **state)
{
	struct fx *f = *state;
	struct gw_ssm_result r;
	const cJSON *it;

	expect_ok(f, "PutInventory", "{\"InstanceId\":\"" MI "\",\"Items\":[{"
	    "\"TypeName\":\"AWS:PatchSummary\",\"SchemaVersion\":\"1.0\","
	    "\"CaptureTime\":\"2026-01-01T00:00:00Z\",\"ContentHash\":\"x\","
	    "\"Content\":[{\"PatchGroup\":\"prod\",\"BaselineId\":\"pb-1\","
	    "\"InstalledCount\":\"3\",\"MissingCount\":\"2\","
	    "\"OperationType\":\"Scan\",\"OperationStartTime\":"
	    "\"2026-01-01T00:00:00Z\",\"OperationEndTime\":"
	    "\"2026-01-01T00:00:01Z\",\"RebootOption\":\"RebootIfNeeded\"}]}]}");
	/* Unchanged hash without content keeps the stored content. */
	expect_ok(f, "PutInventory", "{\"InstanceId\":\"" MI "\",\"Items\":[{"
	    "\"TypeName\":\"AWS:PatchSummary\",\"SchemaVersion\":\"1.0\","
	    "\"CaptureTime\":\"2026-01-02T00:00:00Z\",\"ContentHash\":\"x\"}]}");
	expect_err(f, "PutInventory", "{\"InstanceId\":\"" MI "\",\"Items\":[{"
	    "\"TypeName\":\"Bogus:X\",\"SchemaVersion\":\"1.0\","
	    "\"CaptureTime\":\"2026-01-02T00:00:00Z\"}]}",
	    "InvalidTypeNameException");
	expect_err(f, "PutInventory", "{\"InstanceId\":\"" MI "\",\"Items\":[{"
	    "\"TypeName\":\"Custom:X\",\"SchemaVersion\":\"1\","
	    "\"CaptureTime\":\"2026-01-02T00:00:00Z\"}]}",
	    "ValidationException");
	r = call(f, "DescribeInstancePatchStates", "{\"InstanceIds\":[\"" MI
	    "\"]}");
	assert_null(r.error_code);
	it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.body,
	    "InstancePatchStates"), 0);
	assert_non_null(it);
	assert_string_equal(jstr(it, "PatchGroup"), "prod");
	assert_int_equal(jnum(it, "MissingCount"), 2);
	assert_int_equal(jnum(it, "InstalledCount"), 3);
	assert_int_equal(jnum(it, "OperationEndTime"), 1767225601);
	assert_string_equal(jstr(it, "Operation"), "Scan");
	gw_ssm_result_free(&r);
	r = call(f, "DescribeInstancePatchStatesForPatchGroup",
	    "{\"PatchGroup\":\"other\"}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
	    r.body, "InstancePatchStates")), 0);
	gw_ssm_result_free(&r);
	r = call(f, "GetInventory", "{\"Filters\":[{\"Key\":"
	    "\"AWS:InstanceInformation.InstanceId\",\"Values\":[\"" MI "\"],"
	    "\"Type\":\"Equal\"}]}");
	assert_null(r.error_code);
	it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.body,
	    "Entities"), 0);
	assert_string_equal(jstr(it, "Id"), MI);
	gw_ssm_result_free(&r);
}

static void
test_baselines(void **state)
{
	struct fx *f = *state;
	struct gw_ssm_result r;
	struct dh_buf json;
	const char *url;
	char id[64], body[1024];
	const cJSON *list, *it;
	cJSON *snap = NULL;
	size_t i;
	int found = 0;

	expect_err(f, "CreatePatchBaseline", "{\"Name\":\"x\"}",
	    "ValidationException");
	expect_err(f, "CreatePatchBaseline", "{\"Name\":\"deb-bad\","
	    "\"OperatingSystem\":\"DEBIAN\",\"ApprovalRules\":{\"PatchRules\":"
	    "[{\"PatchFilterGroup\":{\"PatchFilters\":[{\"Key\":\"PRIORITY\","
	    "\"Values\":[\"Required\"]}]},\"ComplianceLevel\":\"SEVERE\","
	    "\"ApproveAfterDays\":0}]}}", "ValidationException");
	r = call(f, "CreatePatchBaseline", "{\"Name\":\"deb-prod\","
	    "\"OperatingSystem\":\"DEBIAN\",\"Description\":\"prod\","
	    "\"ApprovalRules\":{\"PatchRules\":[{\"PatchFilterGroup\":"
	    "{\"PatchFilters\":[{\"Key\":\"PRIORITY\",\"Values\":[\"Required\","
	    "\"Important\"]}]},\"ComplianceLevel\":\"HIGH\",\"ApproveAfterDays\":"
	    "0}]},\"RejectedPatches\":[\"telnetd\"],\"RejectedPatchesAction\":"
	    "\"BLOCK\",\"ClientToken\":\"t\"}");
	assert_null(r.error_code);
	snprintf(id, sizeof(id), "%s", jstr(r.body, "BaselineId"));
	assert_int_equal(strlen(id), 20);
	gw_ssm_result_free(&r);

	snprintf(body, sizeof(body), "{\"BaselineId\":\"%s\"}", id);
	r = call(f, "GetPatchBaseline", body);
	assert_null(r.error_code);
	assert_string_equal(jstr(r.body, "Name"), "deb-prod");
	assert_string_equal(jstr(r.body, "OperatingSystem"), "DEBIAN");
	assert_string_equal(jstr(r.body, "RejectedPatchesAction"), "BLOCK");
	gw_ssm_result_free(&r);
	expect_err(f, "GetPatchBaseline",
	    "{\"BaselineId\":\"pb-00000000000000000\"}", "DoesNotExistException");
	r = call(f, "GetPatchBaseline", "{\"BaselineId\":"
	    "\"AWS-DebianDefaultPatchBaseline\"}");
	assert_null(r.error_code);
	assert_non_null(strstr(jstr(r.body, "BaselineId"),
	    "arn:aws:ssm:us-east-1:"));
	gw_ssm_result_free(&r);

	r = call(f, "DescribePatchBaselines", "{\"Filters\":[{\"Key\":"
	    "\"OPERATING_SYSTEM\",\"Values\":[\"DEBIAN\"]}]}");
	assert_null(r.error_code);
	list = cJSON_GetObjectItemCaseSensitive(r.body, "BaselineIdentities");
	assert_int_equal(cJSON_GetArraySize(list), 2);
	cJSON_ArrayForEach(it, list)
		if (strcmp(jstr(it, "BaselineId"), id) == 0)
			found = 1;
	assert_true(found);
	gw_ssm_result_free(&r);

	snprintf(body, sizeof(body), "{\"BaselineId\":\"%s\",\"Description\":"
	    "\"changed\"}", id);
	r = call(f, "UpdatePatchBaseline", body);
	assert_null(r.error_code);
	assert_string_equal(jstr(r.body, "Description"), "changed");
	assert_string_equal(jstr(r.body, "RejectedPatchesAction"), "BLOCK");
	gw_ssm_result_free(&r);

	snprintf(body, sizeof(body), "{\"BaselineId\":\"%s\",\"PatchGroup\":"
	    "\"prod\"}", id);
	expect_ok(f, "RegisterPatchBaselineForPatchGroup", body);
	expect_err(f, "RegisterPatchBaselineForPatchGroup", body,
	    "AlreadyExistsException");
	r = call(f, "GetPatchBaselineForPatchGroup", "{\"PatchGroup\":\"prod\","
	    "\"OperatingSystem\":\"DEBIAN\"}");
	assert_string_equal(jstr(r.body, "BaselineId"), id);
	gw_ssm_result_free(&r);
	r = call(f, "GetDefaultPatchBaseline", "{\"OperatingSystem\":"
	    "\"DEBIAN\"}");
	assert_non_null(strstr(jstr(r.body, "BaselineId"), "arn:aws:ssm:"));
	gw_ssm_result_free(&r);

	/* The snapshot follows the instance's Patch Group tag. */
	assert_int_equal(gw_store_tag_put(f->st, MI, "Patch Group", "prod",
	    NULL), DH_OK);
	r = call(f, "GetDeployablePatchSnapshotForInstance", "{\"InstanceId\":"
	    "\"" MI "\",\"SnapshotId\":\"0b9c4e2a-1111-4222-8333-444455556666\"}");
	assert_null(r.error_code);
	assert_string_equal(jstr(r.body, "Product"), "Debian12");
	url = jstr(r.body, "SnapshotDownloadUrl");
	assert_non_null(url);
	i = strlen("data:application/json;base64,");
	assert_memory_equal(url, "data:application/json;base64,", i);
	dh_buf_init(&json, 1 << 20);
	assert_int_equal(dh_b64_decode(url + i, strlen(url + i), &json),
	    DH_OK);
	assert_int_equal(dh_json_parse(json.d, json.len, 1 << 20, &snap, NULL),
	    DH_OK);
	assert_string_equal(jstr(snap, "baselineId"), id);
	assert_string_equal(jstr(snap, "patchGroup"), "prod");
	assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(snap,
	    "patchBaseline"), "OperatingSystem"), "DEBIAN");
	cJSON_Delete(snap);
	dh_buf_free(&json);
	gw_ssm_result_free(&r);

	snprintf(body, sizeof(body), "{\"BaselineId\":\"%s\"}", id);
	expect_err(f, "DeletePatchBaseline", body, "ResourceInUseException");
	snprintf(body, sizeof(body), "{\"BaselineId\":\"%s\",\"PatchGroup\":"
	    "\"prod\"}", id);
	expect_ok(f, "DeregisterPatchBaselineForPatchGroup", body);
	snprintf(body, sizeof(body), "{\"BaselineId\":\"%s\"}", id);
	expect_ok(f, "DeletePatchBaseline", body);
	expect_err(f, "GetPatchBaseline", body, "DoesNotExistException");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_compliance, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_inventory_states, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_baselines, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("gw_patch", tests, NULL, NULL);
}
