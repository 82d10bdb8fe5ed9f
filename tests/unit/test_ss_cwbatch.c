/*
 * Unit tests for the CloudWatch Logs batching rules of ss_sink_cw: the
 * 10,000-event, 1,048,576-byte (message bytes + 26 per event) and 24-hour
 * span limits exactly at and one past each boundary, the oversize single
 * event, and the streaming event message (reference agent fields plus the
 * record range) as JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cJSON.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_json.h"
#include "ss_sink.h"

static struct ss_cw_event *
events(size_t n, size_t len, int64_t step_ms)
{
	struct ss_cw_event *ev = calloc(n, sizeof(*ev));
	size_t i;

	assert_non_null(ev);
	for (i = 0; i < n; i++) {
		ev[i].ts_ms = 1700000000000ll + (int64_t)i * step_ms;
		ev[i].len = len;
	}
	return ev;
}

static void
test_count_limit(void **state)
{
	struct ss_cw_event *ev = events(25000, 10, 0);

	assert_int_equal(ss_sink_cw_batch(ev, 10000), 10000);
	assert_int_equal(ss_sink_cw_batch(ev, 10001), 10000);
	assert_int_equal(ss_sink_cw_batch(ev, 25000), 10000);
	assert_int_equal(ss_sink_cw_batch(ev, 9999), 9999);
	assert_int_equal(ss_sink_cw_batch(ev, 0), 0);
	free(ev);
}

static void
test_byte_limit(void **state)
{
	/* 4 events of 262118 bytes: 4 * (262118 + 26) = 1048576 exactly. */
	struct ss_cw_event *ev = events(5, 262118, 1);

	assert_int_equal(4 * (262118 + SS_CW_EVENT_OVERHEAD),
	    SS_CW_MAX_BATCH_BYTES);
	assert_int_equal(ss_sink_cw_batch(ev, 5), 4);
	ev[3].len++;                   /* one byte over */
	assert_int_equal(ss_sink_cw_batch(ev, 5), 3);
	free(ev);
	/* Many small events: the byte limit before the count limit. */
	ev = events(10000, 1000, 0);
	/* floor(1048576 / 1026) = 1022 */
	assert_int_equal(ss_sink_cw_batch(ev, 10000), 1022);
	free(ev);
	/* One event larger than a batch still goes alone (the service
	 * judges it); the batcher never returns 0 for n > 0. */
	ev = events(2, 2000000, 0);
	assert_int_equal(ss_sink_cw_batch(ev, 2), 1);
	free(ev);
}

static void
test_span_limit(void **state)
{
	struct ss_cw_event *ev = events(3, 10, 0);

	ev[1].ts_ms = ev[0].ts_ms + SS_CW_MAX_SPAN_MS - 1;
	ev[2].ts_ms = ev[0].ts_ms + SS_CW_MAX_SPAN_MS;
	assert_int_equal(ss_sink_cw_batch(ev, 3), 2);
	assert_int_equal(ss_sink_cw_batch(ev + 1, 2), 2);
	free(ev);
}

static void
test_message_json(void **state)
{
	struct ss_session_info in;
	struct dh_buf m;
	cJSON *j = NULL;
	const cJSON *d;
	const char lines[] = "first \"line\"\0second\\\0\0caf\xc3\xa9";

	memset(&in, 0, sizeof(in));
	snprintf(in.session_id, sizeof(in.session_id), "%s", "alice-0123");
	snprintf(in.instance_id, sizeof(in.instance_id), "%s", "mi-0123");
	snprintf(in.user, sizeof(in.user), "%s", "ssm-user");
	snprintf(in.region, sizeof(in.region), "%s", "eu-west-1");
	snprintf(in.owner_arn, sizeof(in.owner_arn), "%s", "arn:aws:iam::1:user/a");
	dh_buf_init(&m, 1 << 16);
	assert_int_equal(ss_sink_cw_message(&in, 1700000000999ll, 3, 9, lines,
	    sizeof(lines) - 1, &m, NULL), DH_OK);
	assert_int_equal(dh_json_parse(m.d, m.len, 1 << 16, &j, NULL), DH_OK);
	assert_string_equal(cJSON_GetObjectItem(j, "eventVersion")->valuestring,
	    "1.0");
	assert_string_equal(cJSON_GetObjectItem(j, "eventTime")->valuestring,
	    "2023-11-14T22:13:20Z");
	assert_string_equal(cJSON_GetObjectItem(j, "awsRegion")->valuestring,
	    "eu-west-1");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j,
	    "target"), "id")->valuestring, "mi-0123");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j,
	    "userIdentity"), "arn")->valuestring, "arn:aws:iam::1:user/a");
	assert_string_equal(cJSON_GetObjectItem(j, "runAsUser")->valuestring,
	    "ssm-user");
	assert_string_equal(cJSON_GetObjectItem(j, "sessionId")->valuestring,
	    "alice-0123");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j,
	    "deckhand"), "firstSeq")->valuedouble, 3);
	d = cJSON_GetObjectItem(j, "sessionData");
	assert_int_equal(cJSON_GetArraySize(d), 4);
	assert_string_equal(cJSON_GetArrayItem(d, 0)->valuestring,
	    "first \"line\"");
	assert_string_equal(cJSON_GetArrayItem(d, 1)->valuestring, "second\\");
	assert_string_equal(cJSON_GetArrayItem(d, 2)->valuestring, "");
	assert_string_equal(cJSON_GetArrayItem(d, 3)->valuestring,
	    "caf\xc3\xa9");
	cJSON_Delete(j);
	dh_buf_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_limit),
		cmocka_unit_test(test_byte_limit),
		cmocka_unit_test(test_span_limit),
		cmocka_unit_test(test_message_json),
	};

	return cmocka_run_group_tests_name("ss_cwbatch", tests, NULL, NULL);
}
