/*
 * pt_report_dump: evaluates a patch baseline over an inventory JSON file
 * with pt_baseline and prints, as one JSON object on stdout, the
 * PutComplianceItems request bodies ("compliance"), the PutInventory
 * AWS:PatchSummary request ("inventory") and the JSON rendering of the
 * result ("result").  Integration tests feed these to botocore's SSM model.
 *
 *   pt_report_dump BASELINE.json|--default OS INVENTORY.json NOW RESOURCE-ID
 *                  [MAX-ITEMS]
 *
 * NOW is epoch seconds.  Exit status: 0 printed, 1 error, 2 usage.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_json.h"
#include "pt_baseline.h"
#include "pt_report.h"

#define FILE_MAX (256u * 1024 * 1024)

static int
slurp(const char *path, struct dh_buf *b, struct dh_err *err)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;
	int r = DH_OK;

	if (f == NULL)
		return dh_err_set(err, DH_E_IO, "%s: cannot open", path);
	while (r == DH_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		r = dh_buf_put(b, chunk, n);
	fclose(f);
	if (r != DH_OK)
		return dh_err_set(err, r, "%s: too large", path);
	return DH_OK;
}

static int
parse_u64(const char *s, long long *out)
{
	char *end = NULL;

	*out = strtoll(s, &end, 10);
	return end != s && *end == '\0' && *out >= 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct pt_baseline b;
	struct pt_inventory inv;
	struct pt_eval_result res;
	struct pt_report_ctx ctx;
	struct dh_buf in, out, rend;
	struct dh_err err;
	cJSON *doc = NULL, *arr, *sum = NULL, *rj = NULL, **calls = NULL;
	const char *inv_path, *now_s, *rid, *max_s;
	long long now, max_items = PT_REPORT_MAX_ITEMS;
	size_t n_calls = 0, i;
	enum pt_os os;
	int a = 1, rc = 1, r;

	memset(&b, 0, sizeof(b));
	memset(&inv, 0, sizeof(inv));
	memset(&res, 0, sizeof(res));
	dh_err_clear(&err);
	dh_buf_init(&in, FILE_MAX);
	dh_buf_init(&out, FILE_MAX);
	dh_buf_init(&rend, FILE_MAX);
	if (argc >= 2 && strcmp(argv[1], "--default") == 0)
		a = 2;
	if (argc != a + 4 && argc != a + 5) {
		fprintf(stderr, "usage: pt_report_dump BASELINE.json|--default OS "
		    "INVENTORY.json NOW RESOURCE-ID [MAX-ITEMS]\n");
		rc = 2;
		goto out;
	}
	inv_path = argv[a + 1];
	now_s = argv[a + 2];
	rid = argv[a + 3];
	max_s = argc == a + 5 ? argv[a + 4] : NULL;
	if (parse_u64(now_s, &now) != 0 ||
	    (max_s != NULL && parse_u64(max_s, &max_items) != 0)) {
		fprintf(stderr, "pt_report_dump: bad number\n");
		rc = 2;
		goto out;
	}
	if (a == 2) {
		if (pt_os_parse(argv[2], &os) != DH_OK) {
			fprintf(stderr, "pt_report_dump: unknown OS %s\n", argv[2]);
			rc = 2;
			goto out;
		}
		r = pt_baseline_default_for_os(os, &b, &err);
	} else {
		r = slurp(argv[1], &in, &err);
		if (r == DH_OK)
			r = pt_baseline_parse(dh_buf_ptr(&in), in.len, &b, &err);
	}
	if (r != DH_OK)
		goto fail;
	dh_buf_reset(&in);
	r = slurp(inv_path, &in, &err);
	if (r == DH_OK)
		r = pt_report_inventory_from_json(dh_buf_ptr(&in), in.len, &inv,
		    &err);
	if (r == DH_OK)
		r = pt_baseline_eval(&b, &inv, (int64_t)now, &res, &err);
	if (r != DH_OK)
		goto fail;
	memset(&ctx, 0, sizeof(ctx));
	ctx.resource_id = rid;
	ctx.execution_id = "0b5c2f5e-1111-4222-8333-944455556666";
	ctx.execution_time = (int64_t)now;
	ctx.patch_group = "prod";
	r = pt_report_compliance_items(&res, &ctx, (size_t)max_items, &calls,
	    &n_calls, &err);
	if (r == DH_OK)
		r = pt_report_patch_summary(&res, &ctx, &sum, &err);
	if (r == DH_OK)
		r = pt_report_render_json(&res, &rend, &err);
	if (r != DH_OK)
		goto fail;
	r = dh_json_parse(dh_buf_ptr(&rend), rend.len, FILE_MAX, &rj, &err);
	if (r != DH_OK)
		goto fail;
	doc = cJSON_CreateObject();
	arr = doc != NULL ? cJSON_AddArrayToObject(doc, "compliance") : NULL;
	if (arr == NULL) {
		fprintf(stderr, "pt_report_dump: out of memory\n");
		goto out;
	}
	for (i = 0; i < n_calls; i++) {
		cJSON_AddItemToArray(arr, calls[i]);
		calls[i] = NULL;
	}
	cJSON_AddItemToObject(doc, "inventory", sum);
	sum = NULL;
	cJSON_AddItemToObject(doc, "result", rj);
	rj = NULL;
	r = dh_json_print(doc, &out);
	if (r != DH_OK) {
		dh_err_set(&err, r, "output too large");
		goto fail;
	}
	fwrite(dh_buf_ptr(&out), 1, out.len, stdout);
	fputc('\n', stdout);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "pt_report_dump: %s\n", err.msg);
out:
	cJSON_Delete(doc);
	cJSON_Delete(rj);
	cJSON_Delete(sum);
	pt_report_calls_free(calls, n_calls);
	pt_eval_result_free(&res);
	pt_inventory_free(&inv);
	pt_baseline_free(&b);
	dh_buf_free(&rend);
	dh_buf_free(&out);
	dh_buf_free(&in);
	return rc;
}
