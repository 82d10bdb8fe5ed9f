/*
 * Unit tests for dh_sched, the schedule evaluator: table of (expression,
 * zone, anchor, after) -> next fire time covering cron specials (L, L-n, nW,
 * LW, nL, d#k, names, wrap-around ranges, year limits, seconds field), rate and
 * at, and daylight-saving transitions (America/New_York spring forward and
 * fall back, Europe/Berlin, Australia/Lord_Howe's 30-minute shift); a table
 * of malformed expressions; time-zone name validation; no zone = UTC
 * regardless of (and without touching) the process TZ.  Expected instants
 * were cross-checked with Python's zoneinfo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dh_time.h"
#include "dh_sched.h"

struct next_case {
	const char *expr;
	const char *tz;
	int64_t anchor;
	const char *after;   /* ISO UTC */
	const char *want;    /* ISO UTC, NULL = never fires again */
};

static const struct next_case next_cases[] = {
	{ "cron(0 2 ? * THU#3 *)", NULL, 0, "2024-01-01T00:00:00Z",
	  "2024-01-18T02:00:00Z" },
	{ "cron(15 10 ? * MON-FRI *)", "UTC", 0, "2024-01-05T10:15:00Z",
	  "2024-01-08T10:15:00Z" },
	{ "cron(0 2 L * ? *)", NULL, 0, "2024-02-01T00:00:00Z",
	  "2024-02-29T02:00:00Z" },
	{ "cron(24 30 09 ? * * *)", NULL, 0, "2024-03-01T00:00:00Z",
	  "2024-03-01T09:30:24Z" },
	/* New York spring forward: 02:30 does not exist on 2024-03-10. */
	{ "cron(30 2 * * ? *)", "America/New_York", 0, "2024-03-09T08:00:00Z",
	  "2024-03-10T07:30:00Z" },
	{ "cron(30 2 * * ? *)", "America/New_York", 0, "2024-03-10T07:30:00Z",
	  "2024-03-11T06:30:00Z" },
	/* New York fall back: 01:30 happens twice on 2024-11-03; fires once. */
	{ "cron(30 1 * * ? *)", "America/New_York", 0, "2024-11-03T00:00:00Z",
	  "2024-11-03T05:30:00Z" },
	{ "cron(30 1 * * ? *)", "America/New_York", 0, "2024-11-03T05:30:00Z",
	  "2024-11-04T06:30:00Z" },
	{ "cron(0 9 ? * MON *)", "Europe/Berlin", 0, "2024-03-29T00:00:00Z",
	  "2024-04-01T07:00:00Z" },
	/* Lord Howe moves 30 minutes: 02:15 is skipped on 2024-10-06. */
	{ "cron(15 2 * * ? *)", "Australia/Lord_Howe", 0,
	  "2024-10-05T00:00:00Z", "2024-10-05T15:45:00Z" },
	{ "cron(0 12 15W * ? *)", NULL, 0, "2024-06-01T00:00:00Z",
	  "2024-06-14T12:00:00Z" },
	{ "cron(0 0 1W * ? *)", NULL, 0, "2024-05-31T12:00:00Z",
	  "2024-06-03T00:00:00Z" },
	{ "cron(0 0 LW * ? *)", NULL, 0, "2024-08-01T00:00:00Z",
	  "2024-08-30T00:00:00Z" },
	{ "cron(0 0 ? * 6L *)", NULL, 0, "2024-05-01T00:00:00Z",
	  "2024-05-31T00:00:00Z" },
	{ "cron(0 0 L-3 * ? *)", NULL, 0, "2023-02-01T00:00:00Z",
	  "2023-02-25T00:00:00Z" },
	{ "cron(0 0 1 1 ? 2030)", NULL, 0, "2024-06-01T00:00:00Z",
	  "2030-01-01T00:00:00Z" },
	{ "cron(0 0 1 1 ? 2030)", NULL, 0, "2030-01-01T00:00:00Z", NULL },
	{ "cron(0 0 30 2 ? *)", NULL, 0, "2024-01-01T00:00:00Z", NULL },
	{ "cron(0 22-2 ? * * *)", NULL, 0, "2024-01-01T02:30:00Z",
	  "2024-01-01T22:00:00Z" },
	{ "cron(*/20 * * * ? *)", NULL, 0, "2024-01-01T00:05:00Z",
	  "2024-01-01T00:20:00Z" },
	{ "cron(0 8 ? JAN-MAR SUN#1 *)", NULL, 0, "2024-04-01T00:00:00Z",
	  "2025-01-05T08:00:00Z" },
	{ "cron(5/15 * * * ? *)", NULL, 0, "2024-01-01T00:50:00Z",
	  "2024-01-01T01:05:00Z" },
	{ "cron(0 0 ? * L *)", NULL, 0, "2024-01-01T00:00:00Z",
	  "2024-01-06T00:00:00Z" },
	{ "at(2024-07-07T15:55:00)", NULL, 0, "2024-07-01T00:00:00Z",
	  "2024-07-07T15:55:00Z" },
	{ "at(2024-07-07T15:55:00)", NULL, 0, "2024-07-07T15:55:00Z", NULL },
	{ "at(2024-07-07T15:55:00)", "America/Los_Angeles", 0,
	  "2024-07-01T00:00:00Z", "2024-07-07T22:55:00Z" },
};

struct rate_case {
	const char *expr;
	int64_t anchor, after, want;
};

static const struct rate_case rate_cases[] = {
	{ "rate(5 minutes)", 1000, 1000, 1300 },
	{ "rate(5 minutes)", 1000, 999, 1300 },
	{ "rate(5 minutes)", 1000, 1299, 1300 },
	{ "rate(5 minutes)", 1000, 1300, 1600 },
	{ "rate(1 day)", 0, 86400, 172800 },
	{ "rate(1 minute)", 10, 10, 70 },
	{ "rate(2 hours)", 0, 7199, 7200 },
};

static const char *const bad_exprs[] = {
	"cron(0 2 * * * *)", "cron(0 2 ? * ? *)", "rate(1 hours)",
	"rate(5 minute)", "rate(0 minutes)", "cron(60 * * * ? *)",
	"at(2024-02-30T00:00:00)", "cron(0 2 ? * THU#6 *)", "cron()",
	"foo(1)", "cron(0 2 ? * 8 *)", "rate(5 weeks)",
	"at(2024-01-01 00:00:00)", "cron(1,,2 * * * ? *)",
	"cron(0 0 32W * ? *)", "cron(0 0 ? * * 2200)", "", "cron(0 0 * * ?)",
	"cron(0 0 * * ? * * *)", "rate(minutes)", "cron((0 0 * * ? *))",
	"cron(0 0 * FOO ? *)", "cron(0 0 * * ? */0)", "rate(-1 minutes)",
	"cron(0 0 L-31 * ? *)", "cron(0 0 ? * SUN#0 *)", "at(2024-01-01T24:00:00)",
	"cron(0 0 1-2-3 * ? *)", "rate(1  minute)",
};

static void
test_next_table(void **state)
{
	struct dh_sched s;
	struct dh_err e;
	time_t after, want;
	int64_t got;
	size_t i;
	int r;

	for (i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
		const struct next_case *c = &next_cases[i];

		r = dh_sched_parse(c->expr, &s, &e);
		if (r != DH_OK)
			fail_msg("%s: %s", c->expr, e.msg);
		assert_int_equal(dh_time_parse_iso(c->after, &after), DH_OK);
		r = dh_sched_next(&s, c->tz, c->anchor, after, &got, &e);
		if (c->want == NULL) {
			if (r != DH_E_NOTFOUND)
				fail_msg("%s after %s: expected no fire, got %lld",
				    c->expr, c->after, (long long)got);
			continue;
		}
		assert_int_equal(dh_time_parse_iso(c->want, &want), DH_OK);
		if (r != DH_OK || got != (int64_t)want) {
			char iso[21];

			dh_time_iso((time_t)got, iso);
			fail_msg("%s [%s] after %s: want %s got %s (r=%d)",
			    c->expr, c->tz != NULL ? c->tz : "UTC", c->after,
			    c->want, iso, r);
		}
	}
}

static void
test_rate_table(void **state)
{
	struct dh_sched s;
	struct dh_err e;
	int64_t got;
	size_t i;

	for (i = 0; i < sizeof(rate_cases) / sizeof(rate_cases[0]); i++) {
		assert_int_equal(dh_sched_parse(rate_cases[i].expr, &s, &e),
		    DH_OK);
		assert_int_equal(s.kind, DH_SCHED_RATE);
		assert_int_equal(dh_sched_next(&s, NULL, rate_cases[i].anchor,
		    rate_cases[i].after, &got, &e), DH_OK);
		if (got != rate_cases[i].want)
			fail_msg("%s anchor %lld after %lld: want %lld got %lld",
			    rate_cases[i].expr, (long long)rate_cases[i].anchor,
			    (long long)rate_cases[i].after,
			    (long long)rate_cases[i].want, (long long)got);
	}
}

static void
test_bad_table(void **state)
{
	struct dh_sched s;
	struct dh_err e;
	size_t i;

	for (i = 0; i < sizeof(bad_exprs) / sizeof(bad_exprs[0]); i++) {
		dh_err_clear(&e);
		if (dh_sched_parse(bad_exprs[i], &s, &e) != DH_E_FORMAT)
			fail_msg("accepted: \"%s\"", bad_exprs[i]);
		assert_true(e.msg[0] != '\0');
	}
}

static void
test_tz(void **state)
{
	struct dh_sched s;
	struct dh_err e;
	int64_t got;
	const char *before = getenv("TZ");

	assert_true(dh_sched_tz_valid(NULL));
	assert_true(dh_sched_tz_valid("America/New_York"));
	assert_true(dh_sched_tz_valid("UTC"));
	assert_false(dh_sched_tz_valid("../etc/passwd"));
	assert_false(dh_sched_tz_valid("/etc/localtime"));
	assert_false(dh_sched_tz_valid("Mars/Olympus_Mons"));
	assert_false(dh_sched_tz_valid("America"));
	assert_int_equal(dh_sched_parse("cron(0 0 * * ? *)", &s, &e), DH_OK);
	assert_int_equal(dh_sched_next(&s, "Mars/Olympus_Mons", 0, 0, &got,
	    &e), DH_E_ARG);
	/* The process TZ is restored. */
	assert_int_equal(dh_sched_next(&s, "Asia/Tokyo", 0, 0, &got, &e),
	    DH_OK);
	assert_int_equal(got, 15 * 3600);
	if (before == NULL)
		assert_null(getenv("TZ"));
	else
		assert_string_equal(getenv("TZ"), before);
}

/* No zone means UTC whatever the process TZ says, and TZ is not touched. */
static void
test_utc_ignores_process_tz(void **state)
{
	struct dh_sched s;
	struct dh_err e;
	int64_t got;
	char *before = getenv("TZ") != NULL ? strdup(getenv("TZ")) : NULL;

	assert_int_equal(setenv("TZ", ":Asia/Tokyo", 1), 0);
	assert_int_equal(dh_sched_parse("cron(0 0 * * ? *)", &s, &e), DH_OK);
	assert_int_equal(dh_sched_next(&s, NULL, 0, 0, &got, &e), DH_OK);
	assert_int_equal(got, 86400);
	assert_int_equal(dh_sched_next(&s, "", 0, 0, &got, &e), DH_OK);
	assert_int_equal(got, 86400);
	assert_int_equal(dh_sched_parse("at(1970-01-02T09:00:00)", &s, &e),
	    DH_OK);
	assert_int_equal(dh_sched_next(&s, NULL, 0, 0, &got, &e), DH_OK);
	assert_int_equal(got, 86400 + 9 * 3600);
	assert_string_equal(getenv("TZ"), ":Asia/Tokyo");
	if (before != NULL)
		assert_int_equal(setenv("TZ", before, 1), 0);
	else
		assert_int_equal(unsetenv("TZ"), 0);
	free(before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_table),
		cmocka_unit_test(test_rate_table),
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_tz),
		cmocka_unit_test(test_utc_ignores_process_tz),
	};

	return cmocka_run_group_tests_name("dh_sched", tests, NULL, NULL);
}
