/*
 * Unit tests for gw_mw's gateway side against a temporary store (the
 * schedule evaluator itself is tested in test_dh_sched.c): a table of
 * CreateMaintenanceWindow requests -> NextExecutionTime as
 * GetMaintenanceWindow reports it (cron in a zone across a DST jump, rate
 * anchored at creation or StartDate, ScheduleOffset, at() in a zone, at()
 * in the past, EndDate before the next fire) or the ValidationException
 * the request earns; and gw_mw_tick opening an at() window exactly once.
 * Expected instants were cross-checked with Python's zoneinfo.
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

#include "dh_json.h"
#include "dh_time.h"
#include "gw_mw.h"
#include "gw_ssm.h"
#include "gw_store.h"

#define NOW_S 1709985600LL   /* 2024-03-09T12:00:00Z, a Saturday */

struct fx {
	char dir[64];
	char db[96];
	struct gw_store *st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/gwmwXXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/gw.db", f->dir);
	if (gw_store_open(f->db, &f->st, NULL) != DH_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	gw_store_close(f->st);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct gw_ssm_result
call(struct fx *f, int64_t now_s, const char *op, const char *json)
{
	struct gw_ssm_result res;
	struct gw_ssm_ctx c;
	char target[128];
	cJSON *in = NULL;

	snprintf(target, sizeof(target), "AmazonSSM.%s", op);
	if (dh_json_parse(json, strlen(json), 1 << 20, &in, NULL) != DH_OK)
		fail_msg("bad test JSON %s", json);
	memset(&c, 0, sizeof(c));
	c.st = f->st;
	c.region = "us-east-1";
	c.account = "123456789012";
	c.now_ms = now_s * 1000;
	assert_non_null(gw_ssm_find(target));
	(void)gw_ssm_call(&c, gw_ssm_find(target), in, &res);
	cJSON_Delete(in);
	return res;
}

static const char *
jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* Create a window from the JSON members after Name; the id into id[24]. */
static struct gw_ssm_result
create(struct fx *f, const char *rest, char id[24])
{
	char json[1024];
	struct gw_ssm_result r;

	snprintf(json, sizeof(json), "{\"Name\":\"mw-test\",\"Duration\":2,"
	    "\"Cutoff\":1,\"AllowUnassociatedTargets\":true,%s}", rest);
	r = call(f, NOW_S, "CreateMaintenanceWindow", json);
	id[0] = '\0';
	if (r.error_code == NULL && jstr(r.body, "WindowId") != NULL)
		snprintf(id, 24, "%s", jstr(r.body, "WindowId"));
	return r;
}

/* NextExecutionTime of window id at now_s ("" when none) into out[32]. */
static void
next_of(struct fx *f, int64_t now_s, const char *id, char out[32])
{
	char json[96];
	struct gw_ssm_result r;
	const char *n;

	snprintf(json, sizeof(json), "{\"WindowId\":\"%s\"}", id);
	r = call(f, now_s, "GetMaintenanceWindow", json);
	if (r.error_code != NULL)
		fail_msg("GetMaintenanceWindow: %s %s", r.error_code, r.message);
	n = jstr(r.body, "NextExecutionTime");
	snprintf(out, 32, "%s", n != NULL ? n : "");
	gw_ssm_result_free(&r);
}

struct window_case {
	const char *rest;    /* request members after the fixed ones */
	const char *want;    /* NextExecutionTime; "" = none; NULL = refused */
};

static const struct window_case window_cases[] = {
	/* 02:30 does not exist in New York on 2024-03-10: 03:30 EDT. */
	{ "\"Schedule\":\"cron(30 2 * * ? *)\",\"ScheduleTimezone\":"
	  "\"America/New_York\"", "2024-03-10T07:30:00Z" },
	{ "\"Schedule\":\"cron(0 2 ? * TUE *)\"", "2024-03-12T02:00:00Z" },
	/* ScheduleOffset: days after the cron fire. */
	{ "\"Schedule\":\"cron(0 2 ? * TUE *)\",\"ScheduleOffset\":2",
	  "2024-03-14T02:00:00Z" },
	/* rate() from creation, or from StartDate when given. */
	{ "\"Schedule\":\"rate(1 hour)\"", "2024-03-09T13:00:00Z" },
	{ "\"Schedule\":\"rate(1 day)\",\"StartDate\":\"2024-03-09T12:30:00Z\"",
	  "2024-03-10T12:30:00Z" },
	{ "\"Schedule\":\"at(2024-03-10T09:00:00)\",\"ScheduleTimezone\":"
	  "\"Asia/Tokyo\"", "2024-03-10T00:00:00Z" },
	{ "\"Schedule\":\"at(2024-03-09T11:59:59)\"", "" },
	{ "\"Schedule\":\"cron(0 2 * * ? *)\",\"EndDate\":"
	  "\"2024-03-09T20:00:00Z\"", "" },
	/* Refused. */
	{ "\"Schedule\":\"cron(0 2 * * * *)\"", NULL },
	{ "\"Schedule\":\"rate(1 hours)\"", NULL },
	{ "\"Schedule\":\"cron(0 2 * * ? *)\",\"ScheduleTimezone\":"
	  "\"Mars/Olympus_Mons\"", NULL },
	{ "\"Schedule\":\"cron(0 2 * * ? *)\",\"ScheduleTimezone\":"
	  "\"../etc/passwd\"", NULL },
	{ "\"Schedule\":\"rate(1 day)\",\"ScheduleOffset\":2", NULL },
	{ "\"Schedule\":\"cron(0 2 * * ? *)\",\"ScheduleOffset\":7", NULL },
};

static void
test_create_next(void **state)
{
	struct fx *f = *state;
	struct gw_ssm_result r;
	char id[24], got[32];
	size_t i;

	for (i = 0; i < sizeof(window_cases) / sizeof(window_cases[0]); i++) {
		const struct window_case *c = &window_cases[i];

		r = create(f, c->rest, id);
		if (c->want == NULL) {
			if (r.error_code == NULL || strcmp(r.error_code,
			    "ValidationException") != 0)
				fail_msg("accepted {%s}", c->rest);
			assert_true(r.message[0] != '\0');
			gw_ssm_result_free(&r);
			continue;
		}
		if (r.error_code != NULL)
			fail_msg("{%s}: %s %s", c->rest, r.error_code,
			    r.message);
		gw_ssm_result_free(&r);
		next_of(f, NOW_S, id, got);
		if (strcmp(got, c->want) != 0)
			fail_msg("{%s}: want \"%s\" got \"%s\"", c->rest,
			    c->want, got);
	}
}

static int
n_executions(struct fx *f, int64_t now_s, const char *id)
{
	char json[96];
	struct gw_ssm_result r;
	int n;

	snprintf(json, sizeof(json), "{\"WindowId\":\"%s\"}", id);
	r = call(f, now_s, "DescribeMaintenanceWindowExecutions", json);
	if (r.error_code != NULL)
		fail_msg("DescribeMaintenanceWindowExecutions: %s %s",
		    r.error_code, r.message);
	n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.body,
	    "WindowExecutions"));
	gw_ssm_result_free(&r);
	return n;
}

static void
test_tick_at_once(void **state)
{
	struct fx *f = *state;
	struct gw_ssm_result r;
	int64_t fire = NOW_S + 12 * 3600;   /* 2024-03-10T00:00:00Z */
	char id[24], got[32];

	r = create(f, "\"Schedule\":\"at(2024-03-10T00:00:00)\"", id);
	if (r.error_code != NULL)
		fail_msg("%s %s", r.error_code, r.message);
	gw_ssm_result_free(&r);
	assert_int_equal(gw_mw_tick(f->st, "us-east-1", "123456789012",
	    (fire - 1) * 1000, NULL), DH_OK);
	assert_int_equal(n_executions(f, fire - 1, id), 0);
	assert_int_equal(gw_mw_tick(f->st, "us-east-1", "123456789012",
	    (fire + 30) * 1000, NULL), DH_OK);
	assert_int_equal(n_executions(f, fire + 30, id), 1);
	next_of(f, fire + 30, id, got);
	assert_string_equal(got, "");
	assert_int_equal(gw_mw_tick(f->st, "us-east-1", "123456789012",
	    (fire + 3600) * 1000, NULL), DH_OK);
	assert_int_equal(n_executions(f, fire + 3600, id), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_next, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tick_at_once, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("gw_mw", tests, NULL, NULL);
}
