/*
 * Unit tests for gw_logs: the PutLogEvents limit check as a table (count,
 * empty / oversized events, batch size with 26 bytes per event, order,
 * 24-hour span, tooNew / tooOld / expired indexes), filter patterns as a
 * table, GetLogEvents tokens, and the handlers against a temporary store
 * (groups, streams, events, pagination tokens, sequence tokens and
 * DataAlreadyAccepted, errors).
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
#include "gw_logs.h"
#include "gw_ssm.h"
#include "gw_store.h"
#include "gw_testutil.h"

#define NOW 1790000000000LL
#define HOUR (3600LL * 1000)
#define DAY (24 * HOUR)

/* ---------------------------------------------------------- limit table */

struct batch_case {
	const char *name;
	size_t n;
	int64_t ts0, step;       /* timestamps ts0 + i * step */
	size_t len;              /* each message length */
	int retention;
	const char *error;       /* expected error or NULL */
	long too_new, too_old, expired;
};

static const struct batch_case batch_cases[] = {
	{ "one", 1, NOW, 0, 5, 0, NULL, -1, -1, -1 },
	{ "none", 0, NOW, 0, 5, 0, "InvalidParameterException", -1, -1, -1 },
	{ "10000", 10000, NOW - HOUR, 1, 10, 0, NULL, -1, -1, -1 },
	{ "10001", 10001, NOW - HOUR, 1, 10, 0, "InvalidParameterException",
	    -1, -1, -1 },
	{ "empty message", 2, NOW, 0, 0, 0, "InvalidParameterException", -1,
	    -1, -1 },
	{ "event at limit", 1, NOW, 0, 262144 - 26, 0, NULL, -1, -1, -1 },
	{ "event too large", 1, NOW, 0, 262144 - 25, 0,
	    "InvalidParameterException", -1, -1, -1 },
	/* 4 x (262118 + 26) = 1,048,576: exactly the batch limit. */
	{ "batch at limit", 4, NOW, 0, 262118, 0, NULL, -1, -1, -1 },
	{ "batch over limit", 5, NOW, 0, 262118, 0, "InvalidParameterException",
	    -1, -1, -1 },
	{ "out of order", 3, NOW, -1, 5, 0, "InvalidParameterException", -1, -1,
	    -1 },
	{ "span 24h", 2, NOW - DAY, DAY, 5, 0, NULL, -1, -1, -1 },
	{ "span over 24h", 2, NOW - DAY - 1, DAY + 1, 5, 0,
	    "InvalidParameterException", -1, -1, -1 },
	{ "too new", 3, NOW + 2 * HOUR, 1, 5, 0, NULL, 1, -1, -1 },
	{ "too old", 3, NOW - 14 * DAY - 2, 1, 5, 0, NULL, -1, 1, -1 },
	{ "expired", 3, NOW - 2 * DAY - 1, 1, 5, 1, NULL, -1, -1, 2 },
};

static void
test_batch_table(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(batch_cases) / sizeof(batch_cases[0]); i++) {
		const struct batch_case *c = &batch_cases[i];
		struct gw_logs_event *ev = calloc(c->n + 1, sizeof(*ev));
		struct gw_logs_verdict v;

		assert_non_null(ev);
		for (k = 0; k < c->n; k++) {
			ev[k].ts = c->ts0 + (int64_t)k * c->step;
			ev[k].len = c->len;
		}
		assert_int_equal(gw_logs_check_batch(ev, c->n, NOW, c->retention,
		    &v), DH_OK);
		if (c->error == NULL && v.error != NULL)
			fail_msg("%s: unexpected %s (%s)", c->name, v.error,
			    v.message);
		if (c->error != NULL) {
			if (v.error == NULL)
				fail_msg("%s: accepted", c->name);
			assert_string_equal(v.error, c->error);
		} else {
			assert_int_equal(v.too_new_start, c->too_new);
			assert_int_equal(v.too_old_end, c->too_old);
			assert_int_equal(v.expired_end, c->expired);
		}
		free(ev);
	}
}

/* ----------------------------------------------------------- filters */

struct filter_case {
	const char *pattern;
	const char *msg;
	int match;       /* 1, 0, or -1 = pattern refused */
};

static const struct filter_case filter_cases[] = {
	{ NULL, "anything", 1 },
	{ "", "anything", 1 },
	{ "ERROR", "an ERROR here", 1 },
	{ "ERROR", "an error here", 0 },
	{ "ERROR disk", "ERROR: disk full", 1 },
	{ "ERROR disk", "ERROR: memory", 0 },
	{ "\"disk full\"", "ERROR: disk full", 1 },
	{ "\"disk full\"", "disk is full", 0 },
	{ "?ERROR ?WARN", "WARN low", 1 },
	{ "?ERROR ?WARN", "INFO ok", 0 },
	{ "ERROR -timeout", "ERROR timeout", 0 },
	{ "ERROR -timeout", "ERROR refused", 1 },
	{ "\"unterminated", "x", -1 },
	{ "{ $.level = \"x\" }", "x", -1 },
	{ "[ip, user]", "x", -1 },
};

static void
test_filter_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(filter_cases) / sizeof(filter_cases[0]); i++) {
		const struct filter_case *c = &filter_cases[i];
		struct gw_logs_filter f;
		int r = gw_logs_filter_parse(c->pattern, &f, NULL);

		if (c->match < 0) {
			assert_int_not_equal(r, DH_OK);
			continue;
		}
		assert_int_equal(r, DH_OK);
		if (gw_logs_filter_match(&f, c->msg) != c->match)
			fail_msg("pattern %s on %s", c->pattern, c->msg);
		gw_logs_filter_free(&f);
	}
}

static void
test_tokens(void **state)
{
	int64_t ts = 0, id = 0;
	char dir = 0;

	(void)state;
	assert_int_equal(gw_logs_token_parse("f/1700/42", &dir, &ts, &id),
	    DH_OK);
	assert_int_equal(dir, 'f');
	assert_int_equal(ts, 1700);
	assert_int_equal(id, 42);
	assert_int_equal(gw_logs_token_parse("b/-9223372036854775808/0", &dir,
	    &ts, &id), DH_OK);
	assert_int_equal(dir, 'b');
	assert_int_not_equal(gw_logs_token_parse("x/1/2", &dir, &ts, &id),
	    DH_OK);
	assert_int_not_equal(gw_logs_token_parse("f/1", &dir, &ts, &id), DH_OK);
	assert_int_not_equal(gw_logs_token_parse("f//2", &dir, &ts, &id),
	    DH_OK);
	assert_int_not_equal(gw_logs_token_parse("f/1/2x", &dir, &ts, &id),
	    DH_OK);
	assert_int_not_equal(gw_logs_token_parse(NULL, &dir, &ts, &id), DH_OK);
}

/* ---------------------------------------------------------- handlers */

struct fx {
	char dir[64];
	char db[96];
	struct gw_store *st;
	struct gw_principal who;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (gw_test_store_open("/tmp/gwlogsXXXXXX", f->dir, f->db, &f->st) != 0)
		return -1;
	f->who.kind = GW_AUTH_OPERATOR;
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
call(struct fx *f, const char *op, const char *json)
{
	struct gw_ssm_result res;
	struct gw_ssm_ctx c;
	char target[96];
	cJSON *in = NULL;

	snprintf(target, sizeof(target), "Logs_20140328.%s", op);
	gw_test_ctx(&c, f->st, &f->who, NOW);
	c.state_dir = f->dir;
	assert_int_equal(dh_json_parse(json, strlen(json), 1 << 20, &in, NULL),
	    DH_OK);
	assert_non_null(gw_ssm_find(target));
	gw_ssm_call(&c, gw_ssm_find(target), in, &res);
	cJSON_Delete(in);
	return res;
}

static void
expect_error(struct fx *f, const char *op, const char *json,
    const char *code)
{
	struct gw_ssm_result r = call(f, op, json);

	if (r.error_code == NULL)
		fail_msg("%s %s: no error", op, json);
	assert_string_equal(r.error_code, code);
	gw_ssm_result_free(&r);
}

static void
expect_ok(struct fx *f, const char *op, const char *json)
{
	struct gw_ssm_result r = call(f, op, json);

	if (r.error_code != NULL)
		fail_msg("%s: %s %s", op, r.error_code, r.message);
	gw_ssm_result_free(&r);
}

static const char *
str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void
test_handlers(void **state)
{
	struct fx *f = *state;
	struct gw_ssm_result r;
	char json[512], tok[64], tok1[64];
	const cJSON *ev;

	expect_error(f, "CreateLogStream", "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"s\"}", "ResourceNotFoundException");
	expect_error(f, "CreateLogGroup", "{\"logGroupName\": \"bad name\"}",
	    "InvalidParameterException");
	expect_error(f, "CreateLogGroup", "{\"logGroupName\": \"/g\","
	    " \"kmsKeyId\": \"no-such-key\"}", "InvalidParameterException");
	expect_ok(f, "CreateLogGroup", "{\"logGroupName\": \"/g\"}");
	expect_error(f, "CreateLogGroup", "{\"logGroupName\": \"/g\"}",
	    "ResourceAlreadyExistsException");
	expect_error(f, "CreateLogStream", "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"a:b\"}", "InvalidParameterException");
	expect_ok(f, "CreateLogStream", "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"s\"}");
	expect_error(f, "PutLogEvents", "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"nope\", \"logEvents\": [{\"timestamp\":"
	    " 1790000000000, \"message\": \"x\"}]}",
	    "ResourceNotFoundException");

	snprintf(json, sizeof(json), "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"s\", \"logEvents\": [{\"timestamp\": %lld,"
	    " \"message\": \"one\"}, {\"timestamp\": %lld, \"message\":"
	    " \"two ERROR\"}, {\"timestamp\": %lld, \"message\": \"three\"}]}",
	    NOW - 2, NOW - 1, NOW);
	r = call(f, "PutLogEvents", json);
	assert_null(r.error_code);
	snprintf(tok1, sizeof(tok1), "%s", str(r.body, "nextSequenceToken"));
	assert_null(cJSON_GetObjectItem(r.body, "rejectedLogEventsInfo"));
	gw_ssm_result_free(&r);

	/* A retry with the token that preceded it is recognised. */
	snprintf(json, sizeof(json), "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"s\", \"sequenceToken\": \"%s\","
	    " \"logEvents\": [{\"timestamp\": %lld, \"message\": \"four\"}]}",
	    tok1, NOW);
	expect_ok(f, "PutLogEvents", json);
	expect_error(f, "PutLogEvents", json, "DataAlreadyAcceptedException");

	/* tooNew and tooOld are skipped and reported. */
	snprintf(json, sizeof(json), "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"s\", \"logEvents\": [{\"timestamp\": %lld,"
	    " \"message\": \"old\"}, {\"timestamp\": %lld, \"message\":"
	    " \"new\"}]}", NOW - 15 * DAY, NOW - 15 * DAY + 1);
	r = call(f, "PutLogEvents", json);
	assert_null(r.error_code);
	ev = cJSON_GetObjectItem(r.body, "rejectedLogEventsInfo");
	assert_non_null(ev);
	assert_int_equal(cJSON_GetObjectItem(ev, "tooOldLogEventEndIndex")->
	    valueint, 1);
	gw_ssm_result_free(&r);

	/* Four stored events; page forward two at a time. */
	r = call(f, "GetLogEvents", "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"s\", \"startFromHead\": true, \"limit\": 2}");
	assert_null(r.error_code);
	ev = cJSON_GetObjectItem(r.body, "events");
	assert_int_equal(cJSON_GetArraySize(ev), 2);
	assert_string_equal(str(cJSON_GetArrayItem(ev, 0), "message"), "one");
	snprintf(tok, sizeof(tok), "%s", str(r.body, "nextForwardToken"));
	gw_ssm_result_free(&r);
	snprintf(json, sizeof(json), "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"s\", \"nextToken\": \"%s\", \"limit\": 5}",
	    tok);
	r = call(f, "GetLogEvents", json);
	ev = cJSON_GetObjectItem(r.body, "events");
	assert_int_equal(cJSON_GetArraySize(ev), 2);
	assert_string_equal(str(cJSON_GetArrayItem(ev, 1), "message"), "four");
	snprintf(tok, sizeof(tok), "%s", str(r.body, "nextForwardToken"));
	gw_ssm_result_free(&r);
	/* At the end the forward token repeats. */
	snprintf(json, sizeof(json), "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"s\", \"nextToken\": \"%s\"}", tok);
	r = call(f, "GetLogEvents", json);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.body,
	    "events")), 0);
	assert_string_equal(str(r.body, "nextForwardToken"), tok);
	gw_ssm_result_free(&r);
	/* Default (from the tail) with limit 1 gives the newest event. */
	r = call(f, "GetLogEvents", "{\"logGroupName\": \"/g\","
	    " \"logStreamName\": \"s\", \"limit\": 1}");
	ev = cJSON_GetObjectItem(r.body, "events");
	assert_string_equal(str(cJSON_GetArrayItem(ev, 0), "message"), "four");
	gw_ssm_result_free(&r);

	r = call(f, "FilterLogEvents", "{\"logGroupName\": \"/g\","
	    " \"filterPattern\": \"ERROR\"}");
	assert_null(r.error_code);
	ev = cJSON_GetObjectItem(r.body, "events");
	assert_int_equal(cJSON_GetArraySize(ev), 1);
	assert_string_equal(str(cJSON_GetArrayItem(ev, 0), "logStreamName"),
	    "s");
	gw_ssm_result_free(&r);

	r = call(f, "DescribeLogStreams", "{\"logGroupName\": \"/g\"}");
	ev = cJSON_GetArrayItem(cJSON_GetObjectItem(r.body, "logStreams"), 0);
	assert_string_equal(str(ev, "logStreamName"), "s");
	assert_int_equal((int)cJSON_GetObjectItem(ev, "storedBytes")->
	    valuedouble, 3 + 9 + 5 + 4);
	gw_ssm_result_free(&r);

	r = call(f, "DescribeLogGroups", "{\"logGroupNamePrefix\": \"/\"}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.body,
	    "logGroups")), 1);
	gw_ssm_result_free(&r);

	expect_error(f, "PutRetentionPolicy", "{\"logGroupName\": \"/g\","
	    " \"retentionInDays\": 2}", "InvalidParameterException");
	expect_ok(f, "PutRetentionPolicy", "{\"logGroupName\": \"/g\","
	    " \"retentionInDays\": 1}");
	expect_ok(f, "DeleteLogGroup", "{\"logGroupName\": \"/g\"}");
	expect_error(f, "DescribeLogStreams", "{\"logGroupName\": \"/g\"}",
	    "ResourceNotFoundException");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_table),
		cmocka_unit_test(test_filter_table),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test_setup_teardown(test_handlers, setup, teardown),
	};

	return cmocka_run_group_tests_name("gw_logs", tests, NULL, NULL);
}
