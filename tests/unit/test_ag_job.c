/*
 * Unit tests for ag_job: agent_job parsing (double-encoded Content, array
 * or string parameters, refusals), the ack and reply bodies, the local
 * schedule through dh_sched (rate() anchored at start, cron() in UTC and in
 * zones across a DST jump, at() once or never, refusals), data: snapshot
 * decoding, and a whole scan of the fixture root
 * tests/data/deb/mini against a baseline file with no reachable service:
 * the result is NON_COMPLIANT with 2 missing and both uploads are spooled,
 * and a flush without a service keeps them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ag_job.h"
#include "dh_enc.h"
#include "dh_json.h"
#include "dh_time.h"

static const char *
jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void
test_parse(void **state)
{
	static const char job[] = "{\"JobId\":\"aws.ssm.c1.mi-0123456789abcdef0\","
	    "\"Topic\":\"aws.ssm.sendCommand\",\"SchemaVersion\":1,\"Content\":"
	    "\"{\\\"CommandId\\\":\\\"c1\\\",\\\"DocumentName\\\":"
	    "\\\"AWS-RunPatchBaseline\\\",\\\"Parameters\\\":{\\\"Operation\\\":"
	    "[\\\"Scan\\\"],\\\"SnapshotId\\\":\\\"\\\",\\\"BaselineOverride\\\":"
	    "\\\"{}\\\"}}\"}";
	static const char *const bad[] = {
		"{}", "{\"JobId\":\"x\"}", "{\"JobId\":\"x\",\"Content\":\"nope\"}",
		"{\"JobId\":\"x\",\"Content\":\"{}\"}", "[", "",
	};
	struct ag_job_req r;
	struct dh_err e;
	size_t i;

	assert_int_equal(ag_job_parse(job, strlen(job), &r, &e), DH_OK);
	assert_string_equal(r.job_id, "aws.ssm.c1.mi-0123456789abcdef0");
	assert_string_equal(r.command_id, "c1");
	assert_string_equal(r.document, "AWS-RunPatchBaseline");
	assert_string_equal(r.operation, "Scan");
	assert_null(r.snapshot_id);
	assert_string_equal(r.baseline, "{}");
	ag_job_req_clear(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ag_job_parse(bad[i], strlen(bad[i]), &r, &e) == DH_OK)
			fail_msg("accepted %s", bad[i]);
		assert_null(r.job_id);
	}
}

static void
test_bodies(void **state)
{
	struct dh_uuid u;
	struct dh_buf b;
	cJSON *j = NULL, *c = NULL, *pl;

	memset(&u, 0x11, sizeof(u));
	dh_buf_init(&b, 1 << 20);
	assert_int_equal(ag_job_ack_body("job", &u, 1700000000123ULL, "200",
	    "Successful", &b), DH_OK);
	assert_int_equal(dh_json_parse(b.d, b.len, b.max, &j, NULL), DH_OK);
	assert_string_equal(jstr(j, "createdDate"), "2023-11-14T22:13:20.123Z");
	assert_string_equal(jstr(j, "statusCode"), "200");
	assert_string_equal(jstr(j, "acknowledgedMessageId"),
	    "11111111-1111-1111-1111-111111111111");
	cJSON_Delete(j);
	dh_buf_reset(&b);
	assert_int_equal(ag_job_reply_body("job", "Success", 0, "out \"x\"",
	    1000, 2000, &b), DH_OK);
	assert_int_equal(dh_json_parse(b.d, b.len, b.max, &j, NULL), DH_OK);
	assert_string_equal(jstr(j, "jobId"), "job");
	assert_int_equal(dh_json_parse(jstr(j, "content"),
	    strlen(jstr(j, "content")), 1 << 20, &c, NULL), DH_OK);
	assert_string_equal(jstr(c, "documentStatus"), "Success");
	pl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c,
	    "runtimeStatus"), "PatchLinux");
	assert_string_equal(jstr(pl, "standardOutput"), "out \"x\"");
	cJSON_Delete(c);
	cJSON_Delete(j);
	dh_buf_free(&b);
}

/* The local schedule of a runner started at `now`: its first scan time. */
struct sched_case {
	const char *expr;
	const char *tz;
	const char *now;     /* ISO UTC, plus now_extra_ms */
	int64_t now_extra_ms;
	const char *want;    /* ISO UTC; NULL = no local scan */
	int rc;              /* ag_job_new result */
};

static const struct sched_case sched_cases[] = {
	/* rate() is anchored at agent start (whole seconds). */
	{ "rate(1 minute)", NULL, "2024-03-09T12:00:00Z", 500,
	  "2024-03-09T12:01:00Z", DH_OK },
	{ "rate(5 minutes)", NULL, "2024-03-09T12:00:00Z", 0,
	  "2024-03-09T12:05:00Z", DH_OK },
	{ "rate(1 hour)", "Europe/Berlin", "2024-03-09T12:00:00Z", 0,
	  "2024-03-09T13:00:00Z", DH_OK },
	{ "rate(2 days)", NULL, "2024-03-09T12:00:00Z", 0,
	  "2024-03-11T12:00:00Z", DH_OK },
	/* cron() in UTC and in a zone, strictly after now. */
	{ "cron(0 3 * * ? *)", NULL, "2024-03-09T12:00:00Z", 0,
	  "2024-03-10T03:00:00Z", DH_OK },
	{ "cron(0 3 * * ? *)", "", "2024-03-10T03:00:00Z", 0,
	  "2024-03-11T03:00:00Z", DH_OK },
	{ "cron(0 9 ? * MON-FRI *)", "Europe/Berlin", "2024-03-09T12:00:00Z",
	  0, "2024-03-11T08:00:00Z", DH_OK },
	/* New York springs forward on 2024-03-10: 02:30 runs at 03:30 EDT. */
	{ "cron(30 2 * * ? *)", "America/New_York", "2024-03-09T12:00:00Z",
	  0, "2024-03-10T07:30:00Z", DH_OK },
	{ "cron(0 4 ? * SUN#2 *)", NULL, "2024-03-09T12:00:00Z", 0,
	  "2024-03-10T04:00:00Z", DH_OK },
	/* at(): once; in the past it leaves no local schedule. */
	{ "at(2024-03-10T00:00:00)", NULL, "2024-03-09T12:00:00Z", 0,
	  "2024-03-10T00:00:00Z", DH_OK },
	{ "at(2024-03-09T13:00:00)", "Asia/Tokyo", "2024-03-09T12:00:00Z", 0,
	  NULL, DH_OK },
	{ "", NULL, "2024-03-09T12:00:00Z", 0, NULL, DH_OK },
	/* Refused at start. */
	{ "rate(1 minutes)", NULL, "2024-03-09T12:00:00Z", 0, NULL,
	  DH_E_CONFIG },
	{ "rate(2 hour)", NULL, "2024-03-09T12:00:00Z", 0, NULL, DH_E_CONFIG },
	{ "rate(0 minutes)", NULL, "2024-03-09T12:00:00Z", 0, NULL,
	  DH_E_CONFIG },
	{ "rate(5 minutes", NULL, "2024-03-09T12:00:00Z", 0, NULL,
	  DH_E_CONFIG },
	{ "rate(5 minutes))", NULL, "2024-03-09T12:00:00Z", 0, NULL,
	  DH_E_CONFIG },
	{ "rate(5 weeks)", NULL, "2024-03-09T12:00:00Z", 0, NULL,
	  DH_E_CONFIG },
	{ "cron(0 2 * * * *)", NULL, "2024-03-09T12:00:00Z", 0, NULL,
	  DH_E_CONFIG },
	{ "cron(0 3 * * ? *)", "Mars/Olympus_Mons", "2024-03-09T12:00:00Z", 0,
	  NULL, DH_E_CONFIG },
	{ "cron(0 3 * * ? *)", "../etc/passwd", "2024-03-09T12:00:00Z", 0,
	  NULL, DH_E_CONFIG },
};

static void
test_local_schedule(void **state)
{
	const char *tz_before = getenv("TZ");
	struct ag_job_params p;
	struct ag_job *j;
	struct dh_err e;
	time_t now, want;
	size_t i;
	int r;

	for (i = 0; i < sizeof(sched_cases) / sizeof(sched_cases[0]); i++) {
		const struct sched_case *c = &sched_cases[i];

		memset(&p, 0, sizeof(p));
		p.state_dir = "/nonexistent-agjob";
		p.instance_id = "mi-0123456789abcdef0";
		p.region = "us-east-1";
		p.scan_schedule = c->expr;
		p.scan_timezone = c->tz;
		assert_int_equal(dh_time_parse_iso(c->now, &now), DH_OK);
		dh_err_clear(&e);
		j = NULL;
		r = ag_job_new(&p, (int64_t)now * 1000 + c->now_extra_ms, &j,
		    &e);
		if (r != c->rc)
			fail_msg("%s [%s]: rc %d want %d (%s)", c->expr,
			    c->tz != NULL ? c->tz : "UTC", r, c->rc, e.msg);
		if (r != DH_OK) {
			assert_null(j);
			assert_true(e.msg[0] != '\0');
			continue;
		}
		if (c->want == NULL) {
			assert_int_equal(ag_job_next_scan_ms(j), 0);
		} else {
			assert_int_equal(dh_time_parse_iso(c->want, &want),
			    DH_OK);
			if (ag_job_next_scan_ms(j) != (int64_t)want * 1000)
				fail_msg("%s [%s] from %s: want %s got %lld ms",
				    c->expr, c->tz != NULL ? c->tz : "UTC",
				    c->now, c->want,
				    (long long)ag_job_next_scan_ms(j));
		}
		ag_job_free(j);
	}
	/* The process TZ is left as it was. */
	if (tz_before == NULL)
		assert_null(getenv("TZ"));
	else
		assert_string_equal(getenv("TZ"), tz_before);
	assert_int_equal(ag_job_next_scan_ms(NULL), 0);
}

static void
test_snapshot(void **state)
{
	static const char snap[] = "{\"patchGroup\":\"prod\",\"patchBaseline\":"
	    "{\"OperatingSystem\":\"DEBIAN\",\"BaselineId\":\"pb-1\"}}";
	struct dh_buf url;
	cJSON *b = NULL;

	dh_buf_init(&url, 4096);
	dh_buf_put_str(&url, "data:application/json;base64,");
	assert_int_equal(dh_b64_encode(snap, strlen(snap), &url), DH_OK);
	assert_int_equal(ag_job_snapshot_baseline(dh_buf_cstr(&url), &b, NULL),
	    DH_OK);
	assert_string_equal(jstr(b, "OperatingSystem"), "DEBIAN");
	assert_string_equal(jstr(b, "deckhandPatchGroup"), "prod");
	cJSON_Delete(b);
	assert_int_equal(ag_job_snapshot_baseline("https://example/x", &b, NULL),
	    DH_E_FORMAT);
	assert_int_equal(ag_job_snapshot_baseline("data:application/json;"
	    "base64,!!!", &b, NULL), DH_E_FORMAT);
	dh_buf_free(&url);
}

static size_t
count_files(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
rm_tree(const char *dir)
{
	char p[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) != 0)
			rm_tree(p);
	}
	closedir(d);
	rmdir(dir);
}

static void
test_scan_offline_spools(void **state)
{
	static const char bl[] = "{\"Name\":\"deb\",\"OperatingSystem\":"
	    "\"DEBIAN\",\"ApprovalRules\":{\"PatchRules\":[{\"PatchFilterGroup\":"
	    "{\"PatchFilters\":[{\"Key\":\"PRIORITY\",\"Values\":[\"Required\","
	    "\"Important\",\"Standard\",\"Optional\",\"Extra\"]}]},"
	    "\"ComplianceLevel\":\"CRITICAL\",\"ApproveAfterDays\":0}]}}";
	char dir[64], blf[128], spool[160], root[512];
	struct ag_job_params p;
	struct ag_job_env env;
	struct dh_buf out;
	struct dh_err e;
	cJSON *res = NULL;
	size_t left = 0;
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/agjobXXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(blf, sizeof(blf), "%s/baseline.json", dir);
	f = fopen(blf, "w");
	assert_non_null(f);
	fputs(bl, f);
	fclose(f);
	snprintf(root, sizeof(root), "%s/tests/data/deb/mini",
	    getenv("DH_ROOT") != NULL ? getenv("DH_ROOT") : ".");
	if (access(root, R_OK) != 0)
		snprintf(root, sizeof(root), "tests/data/deb/mini");
	memset(&p, 0, sizeof(p));
	p.state_dir = dir;
	p.instance_id = "mi-0123456789abcdef0";
	p.region = "us-east-1";
	p.scan_root = root;
	p.baseline_file = blf;
	memset(&env, 0, sizeof(env));
	env.ssm_url = "https://127.0.0.1:1";   /* nothing listens there */
	env.access_key = "AKIDEXAMPLE";
	env.secret_key = "secret";
	dh_buf_init(&out, 1 << 16);
	dh_err_clear(&e);
	assert_int_equal(ag_job_run_scan(&p, &env, NULL, &out, &e), DH_OK);
	assert_int_equal(dh_json_parse(out.d, out.len, out.max, &res, NULL),
	    DH_OK);
	assert_string_equal(jstr(res, "status"), "Success");
	assert_non_null(strstr(jstr(res, "output"), "NON_COMPLIANT"));
	assert_non_null(strstr(jstr(res, "output"), "missing 2"));
	cJSON_Delete(res);
	snprintf(spool, sizeof(spool), "%s/patch/spool", dir);
	assert_int_equal(count_files(spool), 2);
	assert_int_equal(ag_job_flush_spool(&p, &env, &left, &e) != DH_OK, 1);
	assert_int_equal(left, 2);
	assert_int_equal(count_files(spool), 2);
	dh_buf_free(&out);
	rm_tree(dir);
}

/* The patch child's start request: every field survives encode/decode,
 * with and without a job; every truncation and trailing bytes are
 * refused (ASan: nothing leaks on the way). */
static void
test_spawn_request(void **state)
{
	struct ag_job_params p;
	struct ag_job_env env;
	struct ag_job_req req;
	struct ag_job_spawn s;
	struct dh_buf b;
	struct dh_err e;
	size_t cut;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.state_dir = "/var/lib/deckhand";
	p.instance_id = "mi-0123456789abcdef0";
	p.region = "eu-west-1";
	memset(&env, 0, sizeof(env));
	env.ssm_url = "https://127.0.0.1:8443";
	env.access_key = "ASIAEXAMPLE";
	env.secret_key = "secret";
	memset(&req, 0, sizeof(req));
	req.job_id = strdup("aws.ssm.c1.mi-0123456789abcdef0");
	req.operation = strdup("Scan");
	req.baseline = strdup("{\"ApprovalRules\":null}");
	dh_buf_init(&b, 1u << 20);
	assert_int_equal(ag_job_spawn_encode(AG_JOB_CHILD_JOB, "/r/1.json", &p,
	    &env, &req, &b, &e), DH_OK);
	assert_int_equal(ag_job_spawn_decode(b.d, b.len, &s, &e), DH_OK);
	assert_int_equal(s.kind, AG_JOB_CHILD_JOB);
	assert_string_equal(s.result_path, "/r/1.json");
	assert_string_equal(s.p.state_dir, p.state_dir);
	assert_string_equal(s.p.region, p.region);
	assert_null(s.p.scan_root);
	assert_string_equal(s.env.ssm_url, env.ssm_url);
	assert_string_equal(s.env.secret_key, "secret");
	assert_null(s.env.session_token);
	assert_int_equal(s.has_req, 1);
	assert_string_equal(s.req.job_id, req.job_id);
	assert_string_equal(s.req.operation, "Scan");
	assert_string_equal(s.req.baseline, req.baseline);
	assert_null(s.req.snapshot_id);
	ag_job_spawn_free(&s);
	for (cut = 0; cut < b.len; cut++) {
		assert_int_not_equal(ag_job_spawn_decode(b.d, cut, &s, &e),
		    DH_OK);
		ag_job_spawn_free(&s);
	}
	assert_int_equal(dh_buf_put_u8(&b, 0), DH_OK);
	assert_int_equal(ag_job_spawn_decode(b.d, b.len, &s, &e), DH_E_FORMAT);
	ag_job_spawn_free(&s);
	dh_buf_reset(&b);
	assert_int_equal(ag_job_spawn_encode(AG_JOB_CHILD_FLUSH, "/r/2.json",
	    &p, &env, NULL, &b, &e), DH_OK);
	assert_int_equal(ag_job_spawn_decode(b.d, b.len, &s, &e), DH_OK);
	assert_int_equal(s.kind, AG_JOB_CHILD_FLUSH);
	assert_int_equal(s.has_req, 0);
	assert_null(s.req.job_id);
	ag_job_spawn_free(&s);
	dh_buf_free(&b);
	ag_job_req_clear(&req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_local_schedule),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_scan_offline_spools),
		cmocka_unit_test(test_spawn_request),
	};

	return cmocka_run_group_tests_name("ag_job", tests, NULL, NULL);
}
