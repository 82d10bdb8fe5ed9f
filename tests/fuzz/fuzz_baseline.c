/*
 * Fuzz target: pt_baseline_parse and pt_report_inventory_from_json on
 * arbitrary bytes.  The input is split at its first "\n--\n": the part
 * before is a baseline document, the part after an inventory document (a
 * fixed deb and rpm inventory are used when that part is absent or does not
 * parse).  Every baseline that parses is serialised and reparsed, evaluated
 * against each inventory (results must be internally consistent), and the
 * results are turned into PutComplianceItems and AWS:PatchSummary requests.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "pt_baseline.h"
#include "pt_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char deb_inv[] =
    "{\"family\":\"deb\",\"os_id\":\"debian\",\"os_version\":\"12\","
    "\"product\":\"Debian12\",\"reboot_required\":true,\"packages\":["
    "{\"name\":\"openssl\",\"arch\":\"amd64\",\"version\":\"3.0.11-1\","
    "\"priority\":\"optional\",\"section\":\"utils\",\"installed_time\":5,"
    "\"update\":{\"version\":\"3.0.15-1\",\"security\":true,"
    "\"cves\":[\"CVE-2024-1\"]}},"
    "{\"name\":\"bash\",\"arch\":\"amd64\",\"version\":\"5.2-1\","
    "\"priority\":\"required\",\"section\":\"shells\",\"held\":true}]}";

static const char rpm_inv[] =
    "{\"family\":\"rpm\",\"os_id\":\"amzn\",\"os_version\":\"2023\","
    "\"product\":\"AmazonLinux2023\",\"packages\":["
    "{\"name\":\"kernel\",\"arch\":\"x86_64\",\"version\":\"6.1.1-1.amzn2023\","
    "\"update\":{\"version\":\"1:6.1.2-1.amzn2023\",\"classification\":"
    "\"Security\",\"severity\":\"Critical\",\"advisory_id\":\"ALAS-1\","
    "\"cves\":[\"CVE-2025-1\"],\"release_time\":1000}},"
    "{\"name\":\"vim-data\",\"arch\":\"noarch\",\"version\":\"2:9.0-1\"}]}";

static void
check(const struct pt_eval_result *r, const struct pt_inventory *inv)
{
	struct pt_report_ctx ctx;
	struct dh_buf out;
	struct dh_err err;
	cJSON **calls = NULL, *sum = NULL;
	size_t i, total = 0, n = 0;

	for (i = 0; i < PT_STATE_COUNT; i++)
		total += r->counts[i];
	if (total != r->n_patches || r->n_patches != inv->n_pkgs)
		abort();
	memset(&ctx, 0, sizeof(ctx));
	ctx.resource_id = "mi-0123456789abcdef0";
	ctx.execution_time = 1700000000;
	if (pt_report_compliance_items(r, &ctx, 1, &calls, &n, &err) == DH_OK)
		pt_report_calls_free(calls, n);
	if (pt_report_patch_summary(r, &ctx, &sum, &err) == DH_OK)
		cJSON_Delete(sum);
	dh_buf_init(&out, 1 << 16);
	(void)pt_report_render_table(r, 1, &out, &err);
	(void)pt_report_render_json(r, &out, &err);
	dh_buf_free(&out);
}

static void
evaluate(const struct pt_baseline *b, const struct pt_inventory *inv)
{
	struct pt_eval_result r;
	struct pt_eval_opts o;
	static const char *const failed[] = { "openssl", "kernel" };
	struct dh_err err;

	memset(&o, 0, sizeof(o));
	o.now = 1763596800;
	o.noreboot_install_time = 1;
	o.failed = failed;
	o.n_failed = 2;
	if (pt_baseline_eval_opts(b, inv, &o, &r, &err) == DH_OK) {
		check(&r, inv);
		pt_eval_result_free(&r);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n--\n";
	const uint8_t *inv_part = NULL;
	size_t bl_len = size, inv_len = 0, i;
	struct pt_baseline b, b2;
	struct pt_inventory inv[3];
	struct dh_err err;
	cJSON *j = NULL;
	int have[3] = { 0, 0, 0 };

	for (i = 0; i + 4 <= size; i++) {
		if (memcmp(data + i, sep, 4) == 0) {
			bl_len = i;
			inv_part = data + i + 4;
			inv_len = size - i - 4;
			break;
		}
	}
	have[0] = pt_report_inventory_from_json(deb_inv, sizeof(deb_inv) - 1,
	    &inv[0], &err) == DH_OK;
	have[1] = pt_report_inventory_from_json(rpm_inv, sizeof(rpm_inv) - 1,
	    &inv[1], &err) == DH_OK;
	if (inv_part != NULL)
		have[2] = pt_report_inventory_from_json(inv_part, inv_len,
		    &inv[2], &err) == DH_OK;
	if (!have[0] || !have[1])
		abort();
	if (pt_baseline_parse(data, bl_len, &b, &err) == DH_OK) {
		for (i = 0; i < 3; i++)
			if (have[i])
				evaluate(&b, &inv[i]);
		if (pt_baseline_to_cjson(&b, &j, &err) == DH_OK) {
			if (pt_baseline_from_cjson(j, &b2, &err) != DH_OK)
				abort();
			pt_baseline_free(&b2);
			cJSON_Delete(j);
		}
		pt_baseline_free(&b);
	}
	for (i = 0; i < 3; i++)
		if (have[i])
			pt_inventory_free(&inv[i]);
	return 0;
}
