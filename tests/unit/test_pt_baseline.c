/*
 * Unit tests for pt_baseline: table-driven cases from tests/data/baseline/
 * <case>/ -- baseline.json (or "default", an OperatingSystem whose
 * predefined baseline is used), inventory.json (pt_report's inventory JSON),
 * "now" (epoch seconds or ISO 8601 UTC), optional opts.json
 * (noreboot_install_time, failed) and expected.json: either "parse_error" /
 * "eval_error" (a substring of the error) or the overall status, highest
 * severity, per-package states and levels ("name" or "name.arch"), state
 * counts, held packages and the non-compliant breakdown (states also checked
 * by test_baseline_cli.py through pt_report_dump).  Also the predefined
 * baselines, lookups, serialisation round trip and name tables.
 * The data directory is found through $DH_ROOT (set by tests/run.sh) or the
 * current directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_json.h"
#include "dh_time.h"
#include "pt_baseline.h"
#include "pt_report.h"

#define DATA_MAX (1024 * 1024)

static const char *
root_dir(void)
{
	const char *r = getenv("DH_ROOT");

	return (r != NULL && *r != '\0') ? r : ".";
}

/* Read a whole file into b; 0, or -1 when absent or too large. */
static int
slurp(const char *path, struct dh_buf *b)
{
	FILE *f = fopen(path, "rb");
	char chunk[4096];
	size_t n;
	int r = 0;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (dh_buf_put(b, chunk, n) != DH_OK) {
			r = -1;
			break;
		}
	}
	fclose(f);
	return r;
}

static int
slurp_case(const char *dir, const char *name, const char *file,
    struct dh_buf *b)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, file);
	dh_buf_init(b, DATA_MAX);
	return slurp(path, b);
}

static char *
trimmed(struct dh_buf *b)
{
	char *s = (char *)(uintptr_t)dh_buf_cstr(b);
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

static int64_t
parse_now(const char *s)
{
	time_t t;
	char *end = NULL;
	long long v;

	if (dh_time_parse_iso(s, &t) == DH_OK)
		return (int64_t)t;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0')
		fail_msg("bad now \"%s\"", s);
	return (int64_t)v;
}

static const struct pt_patch_result *
find_patch(const struct pt_eval_result *r, const char *key)
{
	char form[512];
	size_t i;

	for (i = 0; i < r->n_patches; i++) {
		if (strcmp(r->patches[i].name, key) == 0)
			return &r->patches[i];
		snprintf(form, sizeof(form), "%s.%s", r->patches[i].name,
		    r->patches[i].arch != NULL ? r->patches[i].arch : "");
		if (strcmp(form, key) == 0)
			return &r->patches[i];
	}
	return NULL;
}

static int
state_of(const char *s)
{
	int i;

	for (i = 0; i < PT_STATE_COUNT; i++)
		if (strcmp(s, pt_state_name((enum pt_state)i)) == 0)
			return i;
	fail_msg("unknown state %s", s);
	return -1;
}

static void
load_opts(const char *dir, const char *name, struct pt_eval_opts *o,
    const char **failed, size_t max_failed)
{
	struct dh_buf b;
	struct dh_err err;
	cJSON *j = NULL;
	const cJSON *f, *e;
	int64_t v;
	int present = 0;

	if (slurp_case(dir, name, "opts.json", &b) != 0) {
		dh_buf_free(&b);
		return;
	}
	assert_int_equal(dh_json_parse(dh_buf_ptr(&b), b.len, DATA_MAX, &j,
	    &err), DH_OK);
	assert_int_equal(dh_json_opt_int(j, "noreboot_install_time", 0,
	    INT64_MAX, &v, &present, &err), DH_OK);
	if (present)
		o->noreboot_install_time = v;
	f = cJSON_GetObjectItemCaseSensitive(j, "failed");
	cJSON_ArrayForEach(e, f) {
		assert_true(o->n_failed < max_failed);
		failed[o->n_failed++] = strdup(e->valuestring);
	}
	o->failed = failed;
	cJSON_Delete(j);
	dh_buf_free(&b);
}

static int
check_result(const char *name, const cJSON *exp,
    const struct pt_eval_result *r)
{
	const cJSON *j, *e;
	const struct pt_patch_result *p;
	const char *s;
	int checks = 0;

	j = cJSON_GetObjectItemCaseSensitive(exp, "overall");
	if (j != NULL) {
		s = r->compliant ? "COMPLIANT" : "NON_COMPLIANT";
		if (strcmp(s, j->valuestring) != 0)
			fail_msg("%s: overall %s, want %s", name, s,
			    j->valuestring);
		checks++;
	}
	j = cJSON_GetObjectItemCaseSensitive(exp, "highest");
	if (j != NULL) {
		if (strcmp(pt_level_name(r->highest), j->valuestring) != 0)
			fail_msg("%s: highest %s, want %s", name,
			    pt_level_name(r->highest), j->valuestring);
		checks++;
	}
	j = cJSON_GetObjectItemCaseSensitive(exp, "baseline_id");
	if (j != NULL) {
		assert_non_null(r->baseline_id);
		assert_string_equal(r->baseline_id, j->valuestring);
		checks++;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(exp, "states")) {
		p = find_patch(r, e->string);
		if (p == NULL)
			fail_msg("%s: no result for %s", name, e->string);
		if ((int)p->state != state_of(e->valuestring))
			fail_msg("%s: %s is %s, want %s", name, e->string,
			    pt_state_name(p->state), e->valuestring);
		checks++;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(exp, "levels")) {
		p = find_patch(r, e->string);
		if (p == NULL)
			fail_msg("%s: no result for %s", name, e->string);
		if (strcmp(pt_level_name(p->level), e->valuestring) != 0)
			fail_msg("%s: %s level %s, want %s", name, e->string,
			    pt_level_name(p->level), e->valuestring);
		checks++;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(exp, "counts")) {
		if ((int)r->counts[state_of(e->string)] != e->valueint)
			fail_msg("%s: count %s is %zu, want %d", name, e->string,
			    r->counts[state_of(e->string)], e->valueint);
		checks++;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(exp, "held")) {
		p = find_patch(r, e->valuestring);
		assert_non_null(p);
		assert_true(p->held);
		checks++;
	}
	j = cJSON_GetObjectItemCaseSensitive(exp, "security_noncompliant");
	if (j != NULL) {
		assert_int_equal(r->security_noncompliant, j->valueint);
		checks++;
	}
	j = cJSON_GetObjectItemCaseSensitive(exp, "critical_noncompliant");
	if (j != NULL) {
		assert_int_equal(r->critical_noncompliant, j->valueint);
		checks++;
	}
	j = cJSON_GetObjectItemCaseSensitive(exp, "other_noncompliant");
	if (j != NULL) {
		assert_int_equal(r->other_noncompliant, j->valueint);
		checks++;
	}
	return checks;
}

static int
run_case(const char *dir, const char *name)
{
	struct dh_buf bl, inv, now, exp, def;
	struct pt_baseline b;
	struct pt_inventory in;
	struct pt_eval_result res;
	struct pt_eval_opts o;
	struct dh_err err;
	const char *failed[16];
	const cJSON *perr, *eerr;
	cJSON *ej = NULL;
	enum pt_os os;
	int checks = 0, r;
	size_t i;

	memset(&b, 0, sizeof(b));
	memset(&in, 0, sizeof(in));
	memset(&res, 0, sizeof(res));
	memset(&o, 0, sizeof(o));
	dh_err_clear(&err);
	if (slurp_case(dir, name, "expected.json", &exp) != 0)
		fail_msg("%s: no expected.json", name);
	assert_int_equal(dh_json_parse(dh_buf_ptr(&exp), exp.len, DATA_MAX, &ej,
	    &err), DH_OK);
	perr = cJSON_GetObjectItemCaseSensitive(ej, "parse_error");
	eerr = cJSON_GetObjectItemCaseSensitive(ej, "eval_error");
	if (slurp_case(dir, name, "default", &def) == 0) {
		if (pt_os_parse(trimmed(&def), &os) != DH_OK)
			fail_msg("%s: bad default OS", name);
		r = pt_baseline_default_for_os(os, &b, &err);
	} else {
		if (slurp_case(dir, name, "baseline.json", &bl) != 0)
			fail_msg("%s: no baseline", name);
		r = pt_baseline_parse(dh_buf_ptr(&bl), bl.len, &b, &err);
		dh_buf_free(&bl);
	}
	dh_buf_free(&def);
	if (perr != NULL) {
		if (r == DH_OK)
			fail_msg("%s: parsed, want error \"%s\"", name,
			    perr->valuestring);
		if (strstr(err.msg, perr->valuestring) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"", name, err.msg,
			    perr->valuestring);
		checks++;
		goto out;
	}
	if (r != DH_OK)
		fail_msg("%s: baseline: %s", name, err.msg);
	if (slurp_case(dir, name, "inventory.json", &inv) != 0)
		fail_msg("%s: no inventory", name);
	r = pt_report_inventory_from_json(dh_buf_ptr(&inv), inv.len, &in, &err);
	if (r != DH_OK)
		fail_msg("%s: inventory: %s", name, err.msg);
	dh_buf_free(&inv);
	if (slurp_case(dir, name, "now", &now) != 0)
		fail_msg("%s: no now", name);
	o.now = parse_now(trimmed(&now));
	dh_buf_free(&now);
	load_opts(dir, name, &o, failed, 16);
	r = pt_baseline_eval_opts(&b, &in, &o, &res, &err);
	if (eerr != NULL) {
		if (r == DH_OK)
			fail_msg("%s: evaluated, want error", name);
		if (strstr(err.msg, eerr->valuestring) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"", name, err.msg,
			    eerr->valuestring);
		checks++;
		goto out;
	}
	if (r != DH_OK)
		fail_msg("%s: eval: %s", name, err.msg);
	assert_int_equal(res.n_patches, in.n_pkgs);
	checks += check_result(name, ej, &res);
out:
	for (i = 0; i < o.n_failed; i++)
		free((void *)(uintptr_t)failed[i]);
	pt_eval_result_free(&res);
	pt_inventory_free(&in);
	pt_baseline_free(&b);
	cJSON_Delete(ej);
	dh_buf_free(&exp);
	return checks;
}

static void
test_data_cases(void **state)
{
	char dir[1024];
	struct dirent *de;
	DIR *d;
	int cases = 0, checks = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tests/data/baseline", root_dir());
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		checks += run_case(dir, de->d_name);
		cases++;
	}
	closedir(d);
	print_message("baseline data: %d cases, %d checks\n", cases, checks);
	assert_true(cases >= 50);
}

static void
test_defaults(void **state)
{
	const struct pt_default_baseline *d;
	struct pt_baseline b;
	struct dh_err err;
	char arn[128];
	size_t n, i;

	(void)state;
	d = pt_baseline_defaults(&n);
	assert_true(n >= 12);
	for (i = 0; i < n; i++) {
		if (pt_baseline_default_for_os(d[i].os, &b, &err) != DH_OK)
			fail_msg("%s: %s", d[i].name, err.msg);
		assert_int_equal(b.os, d[i].os);
		assert_string_equal(b.name, d[i].name);
		assert_non_null(strstr(b.id, d[i].id));
		assert_true(b.n_rules >= 1);
		assert_int_equal(b.rules[0].level, PT_LEVEL_UNSPECIFIED);
		pt_baseline_free(&b);
		assert_int_equal(pt_baseline_default_by_id(d[i].name, &b, &err),
		    DH_OK);
		pt_baseline_free(&b);
		assert_int_equal(pt_baseline_default_by_id(d[i].id, &b, &err),
		    DH_OK);
		assert_int_equal(b.os, d[i].os);
		pt_baseline_free(&b);
		assert_int_equal(pt_baseline_default_arn(&d[i], "eu-west-1", arn,
		    sizeof(arn), &err), DH_OK);
		assert_int_equal(pt_baseline_default_by_id(arn, &b, &err),
		    DH_OK);
		assert_int_equal(b.os, d[i].os);
		pt_baseline_free(&b);
	}
	assert_int_equal(pt_baseline_default_by_id(
	    "arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-09a5f8eb62bde80b1",
	    &b, &err), DH_OK);
	assert_int_equal(b.os, PT_OS_DEBIAN);
	assert_true(b.rules[0].has_after_days);
	assert_int_equal(b.rules[0].after_days, 0);
	assert_false(b.rules[0].enable_non_security);
	pt_baseline_free(&b);
	assert_int_equal(pt_baseline_default_for_os(PT_OS_AMAZON_LINUX_2, &b,
	    &err), DH_OK);
	assert_string_equal(b.id,
	    "arn:aws:ssm:us-east-1:075727635805:patchbaseline/pb-0be8c61cde3be63f3");
	assert_int_equal(b.n_rules, 2);
	assert_int_equal(b.rules[0].after_days, 7);
	pt_baseline_free(&b);
	assert_int_equal(pt_baseline_default_by_id("pb-0000000000000000",
	    &b, &err), DH_E_NOTFOUND);
	assert_int_equal(pt_baseline_default_by_id("arn:aws:ssm:x", &b, &err),
	    DH_E_FORMAT);
	assert_int_equal(pt_baseline_default_for_os(PT_OS_RASPBIAN, &b, &err),
	    DH_E_NOTFOUND);
	assert_int_equal(pt_baseline_default_arn(&d[0], "bad region!", arn,
	    sizeof(arn), &err), DH_E_ARG);
	assert_int_equal(pt_baseline_default_arn(&d[0], "us-east-1", arn, 10,
	    &err), DH_E_TOOBIG);
}

static void
test_round_trip(void **state)
{
	static const char src[] =
	    "{\"OperatingSystem\":\"AMAZON_LINUX_2023\",\"Name\":\"rt-1\","
	    "\"Description\":\"round trip\",\"BaselineId\":\"pb-0123456789abcdef0\","
	    "\"GlobalFilters\":{\"PatchFilters\":[{\"Key\":\"PRODUCT\","
	    "\"Values\":[\"AmazonLinux2023\"]}]},"
	    "\"ApprovalRules\":{\"PatchRules\":[{\"PatchFilterGroup\":"
	    "{\"PatchFilters\":[{\"Key\":\"SEVERITY\",\"Values\":[\"Critical\"]}]},"
	    "\"ComplianceLevel\":\"HIGH\",\"ApproveUntilDate\":\"2024-02-29\","
	    "\"EnableNonSecurity\":true}]},"
	    "\"ApprovedPatches\":[\"CVE-2024-1\"],"
	    "\"ApprovedPatchesComplianceLevel\":\"LOW\","
	    "\"ApprovedPatchesEnableNonSecurity\":true,"
	    "\"RejectedPatches\":[\"kernel-*\"],\"RejectedPatchesAction\":\"BLOCK\","
	    "\"Sources\":[{\"Name\":\"extra\",\"Products\":[\"AmazonLinux2023\"],"
	    "\"Configuration\":\"[extra]\\nbaseurl=file:///r\"}],"
	    "\"PatchGroups\":[\"prod\"],\"CreatedDate\":1.7e9}";
	struct pt_baseline b, b2;
	struct dh_buf o1, o2;
	struct dh_err err;
	cJSON *j1 = NULL, *j2 = NULL;

	(void)state;
	dh_buf_init(&o1, 65536);
	dh_buf_init(&o2, 65536);
	if (pt_baseline_parse(src, sizeof(src) - 1, &b, &err) != DH_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(b.rules[0].until_end, 1709251199); /* 2024-02-29T23:59:59Z */
	assert_int_equal(b.rejected_action, PT_REJECT_BLOCK);
	assert_int_equal(b.approved_level, PT_LEVEL_LOW);
	assert_int_equal(pt_baseline_to_cjson(&b, &j1, &err), DH_OK);
	assert_int_equal(dh_json_print(j1, &o1), DH_OK);
	assert_int_equal(pt_baseline_from_cjson(j1, &b2, &err), DH_OK);
	assert_int_equal(pt_baseline_to_cjson(&b2, &j2, &err), DH_OK);
	assert_int_equal(dh_json_print(j2, &o2), DH_OK);
	assert_string_equal(dh_buf_cstr(&o1), dh_buf_cstr(&o2));
	assert_non_null(strstr(dh_buf_cstr(&o1), "\"ApproveUntilDate\":\"2024-02-29\""));
	pt_baseline_free(&b);
	pt_baseline_free(&b2);
	cJSON_Delete(j1);
	cJSON_Delete(j2);
	dh_buf_free(&o1);
	dh_buf_free(&o2);
}

static void
test_hostile_documents(void **state)
{
	static const char *const bad[] = {
		"", "[]", "\"x\"", "{", "{\"OperatingSystem\":5}",
		"{\"ApprovalRules\":[]}",
		"{\"OperatingSystem\":\"DEBIAN\",\"ApprovalRules\":{\"PatchRules\":{}}}",
		"{\"OperatingSystem\":\"DEBIAN\",\"GlobalFilters\":{\"PatchFilters\":[5]}}",
		"{\"OperatingSystem\":\"DEBIAN\",\"GlobalFilters\":{\"PatchFilters\":[{\"Key\":\"PRIORITY\",\"Values\":[1]}]}}",
		"{\"OperatingSystem\":\"DEBIAN\",\"ApprovedPatches\":\"vim\"}",
		"{\"Sources\":[{\"Name\":\"ab\",\"Products\":[\"x\"],\"Configuration\":\"c\"}]}",
		"{\"BaselineId\":\"short\"}",
	};
	char deep[400];
	struct pt_baseline b;
	struct dh_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pt_baseline_parse(bad[i], strlen(bad[i]), &b, &err) == DH_OK)
			fail_msg("accepted %s", bad[i]);
		assert_true(err.msg[0] != '\0');
	}
	memset(deep, '[', sizeof(deep));
	assert_int_not_equal(pt_baseline_parse(deep, sizeof(deep), &b, &err),
	    DH_OK);
	assert_int_equal(pt_baseline_parse("{}", PT_BL_MAX_JSON + 1, &b, &err),
	    DH_E_TOOBIG);
}

static void
test_names(void **state)
{
	static const struct {
		const char *id, *ver;
		enum pt_os os;
	} inv_os[] = {
		{ "debian", "12", PT_OS_DEBIAN }, { "ubuntu", "22.04", PT_OS_UBUNTU },
		{ "raspbian", "11", PT_OS_RASPBIAN },
		{ "amzn", "2", PT_OS_AMAZON_LINUX_2 },
		{ "amzn", "2023", PT_OS_AMAZON_LINUX_2023 },
		{ "amzn", "2022", PT_OS_AMAZON_LINUX_2022 },
		{ "amzn", "2018.03", PT_OS_AMAZON_LINUX },
		{ "rhel", "9.4", PT_OS_REDHAT_ENTERPRISE_LINUX },
		{ "centos", "7", PT_OS_CENTOS }, { "ol", "8", PT_OS_ORACLE_LINUX },
		{ "rocky", "9", PT_OS_ROCKY_LINUX },
		{ "almalinux", "9", PT_OS_ALMA_LINUX },
		{ "sles", "15.5", PT_OS_SUSE }, { "opensuse-leap", "15", PT_OS_SUSE },
	};
	struct pt_inventory inv;
	enum pt_os os;
	enum pt_level l;
	size_t i;
	int k;

	(void)state;
	for (k = 0; k < PT_OS_COUNT; k++) {
		assert_int_equal(pt_os_parse(pt_os_name((enum pt_os)k), &os),
		    DH_OK);
		assert_int_equal(os, k);
	}
	assert_int_equal(pt_os_parse("debian", &os), DH_E_FORMAT);
	assert_int_equal(pt_os_parse(NULL, &os), DH_E_FORMAT);
	for (k = PT_LEVEL_UNSPECIFIED; k <= PT_LEVEL_CRITICAL; k++) {
		assert_int_equal(pt_level_parse(pt_level_name((enum pt_level)k),
		    &l), DH_OK);
		assert_int_equal(l, k);
	}
	assert_true(PT_LEVEL_CRITICAL > PT_LEVEL_HIGH);
	assert_string_equal(pt_state_name(PT_STATE_INSTALLED_OTHER),
	    "INSTALLED_OTHER");
	assert_string_equal(pt_state_cli_name(PT_STATE_INSTALLED_OTHER),
	    "InstalledOther");
	assert_string_equal(pt_state_cli_name(PT_STATE_MISSING), "Missing");
	assert_true(pt_state_compliant(PT_STATE_INSTALLED));
	assert_true(pt_state_compliant(PT_STATE_INSTALLED_OTHER));
	assert_false(pt_state_compliant(PT_STATE_INSTALLED_PENDING_REBOOT));
	assert_false(pt_state_compliant(PT_STATE_INSTALLED_REJECTED));
	assert_false(pt_state_compliant(PT_STATE_MISSING));
	assert_false(pt_state_compliant(PT_STATE_FAILED));
	for (i = 0; i < sizeof(inv_os) / sizeof(inv_os[0]); i++) {
		memset(&inv, 0, sizeof(inv));
		inv.os_id = (char *)(uintptr_t)inv_os[i].id;
		inv.os_version = (char *)(uintptr_t)inv_os[i].ver;
		assert_int_equal(pt_os_of_inventory(&inv, &os), DH_OK);
		assert_int_equal(os, inv_os[i].os);
	}
	memset(&inv, 0, sizeof(inv));
	assert_int_equal(pt_os_of_inventory(&inv, &os), DH_E_NOTFOUND);
	inv.os_id = (char *)(uintptr_t)"gentoo";
	assert_int_equal(pt_os_of_inventory(&inv, &os), DH_E_NOTFOUND);
	assert_int_equal(pt_os_family(PT_OS_UBUNTU), PT_FAMILY_DEB);
	assert_int_equal(pt_os_family(PT_OS_SUSE), PT_FAMILY_RPM);
	assert_int_equal(pt_os_family(PT_OS_WINDOWS), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_cases),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hostile_documents),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("pt_baseline", tests, NULL, NULL);
}
