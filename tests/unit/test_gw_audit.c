/*
 * Unit tests for gw_audit against a temp-file WAL SQLite database and a temp
 * state directory: record -> LookupEvents by every attribute, time window,
 * pagination and token checks, request validation errors, CloudTrail record
 * shape, secret redaction (the secret bytes never reach the database files),
 * and delivery (valid gzip whose JSON has the right Records, no re-delivery,
 * crash recovery of half-finished batches, >1000 records split in files).
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

#include <archive.h>
#include <archive_entry.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_json.h"
#include "dh_uuid.h"
#include "gw_audit.h"

#define ACCOUNT "123456789012"
#define REGION "eu-west-1"
#define T0 1700000000000LL /* 2023-11-14T22:13:20Z */

struct fx {
	char dir[64];
	char dbpath[128];
	sqlite3 *db;
	struct gw_audit *a;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct dh_err err;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/gw_audit_test.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->dbpath, sizeof(f->dbpath), "%s/state.db", f->dir);
	if (sqlite3_open(f->dbpath, &f->db) != SQLITE_OK ||
	    sqlite3_exec(f->db, "PRAGMA journal_mode=WAL;", NULL, NULL,
	    NULL) != SQLITE_OK)
		return -1;
	if (gw_audit_open(f->db, f->dir, ACCOUNT, REGION, &f->a, &err) !=
	    DH_OK) {
		print_error("open: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static void
rm_tree(const char *path)
{
	struct dirent *de;
	struct stat sb;
	char sub[1024];
	DIR *d;

	if (lstat(path, &sb) != 0)
		return;
	if (S_ISDIR(sb.st_mode)) {
		d = opendir(path);
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_tree(sub);
		}
		if (d != NULL)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	gw_audit_close(f->a);
	sqlite3_close(f->db);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static cJSON *
json(const char *s)
{
	cJSON *j = NULL;
	struct dh_err err;

	if (dh_json_parse(s, strlen(s), 1 << 20, &j, &err) != DH_OK)
		fail_msg("bad test JSON: %s", err.msg);
	return j;
}

static void
record(struct fx *f, const char *name, const char *akid, const char *who,
    const char *params, int64_t t, const char *errcode)
{
	struct gw_audit_event ev;
	struct dh_err err;
	cJSON *p = params != NULL ? json(params) : NULL;

	memset(&ev, 0, sizeof(ev));
	ev.event_source = strncmp(name, "Put", 3) == 0 ? "logs.amazonaws.com" :
	    "ssm.amazonaws.com";
	ev.event_name = name;
	ev.access_key_id = akid;
	ev.principal = who;
	ev.source_ip = "127.0.0.1";
	ev.user_agent = "aws-cli/2.9.19 Python/3.11.2";
	ev.request_params = p;
	ev.error_code = errcode;
	ev.error_message = errcode != NULL ? "denied by policy" : NULL;
	ev.time_ms = t;
	if (gw_audit_record(f->a, &ev, &err) != DH_OK)
		fail_msg("record %s: %s", name, err.msg);
	cJSON_Delete(p);
}

/* Run LookupEvents with a request body; returns the response (caller frees). */
static cJSON *
lookup(struct fx *f, const char *req)
{
	cJSON *rq = json(req), *resp = NULL;
	struct dh_err err;

	if (gw_audit_lookup(f->a, rq, &resp, &err) != DH_OK)
		fail_msg("lookup %s: %s", req, err.msg);
	cJSON_Delete(rq);
	return resp;
}

static int
count_events(struct fx *f, const char *req)
{
	cJSON *r = lookup(f, req);
	int n = cJSON_GetArraySize(cJSON_GetObjectItem(r, "Events"));

	assert_null(cJSON_GetObjectItem(r, "NextToken"));
	cJSON_Delete(r);
	return n;
}

static void
expect_lookup_error(struct fx *f, const char *req, const char *code)
{
	cJSON *rq = json(req), *resp = NULL;
	struct dh_err err;

	assert_int_equal(gw_audit_lookup(f->a, rq, &resp, &err), DH_E_ARG);
	assert_null(resp);
	assert_string_equal(gw_audit_lookup_error_code(f->a), code);
	cJSON_Delete(rq);
}

static void
seed(struct fx *f)
{
	record(f, "CreateActivation", "AKIAADMIN0000000001", "admin",
	    "{\"IamRole\":\"SSMServiceRole\",\"RegistrationLimit\":2}",
	    T0, NULL);
	record(f, "RegisterManagedInstance", NULL, NULL,
	    "{\"ActivationCode\":\"s3cr3t-activation-code\","
	    "\"ActivationId\":\"11111111-2222-3333-4444-555555555555\"}",
	    T0 + 1000, NULL);
	record(f, "DescribeInstanceInformation", "AKIAADMIN0000000001",
	    "admin", "{}", T0 + 2000, NULL);
	record(f, "UpdateInstanceInformation", "ASIAINSTANCE0000001",
	    "mi-0123456789abcdef0",
	    "{\"InstanceId\":\"mi-0123456789abcdef0\",\"AgentVersion\":\"1\"}",
	    T0 + 3000, NULL);
	record(f, "DeleteActivation", "AKIAREADER000000001", "reader",
	    "{\"ActivationId\":\"11111111-2222-3333-4444-555555555555\"}",
	    T0 + 4000, "AccessDeniedException");
	record(f, "PutLogEvents", "ASIAINSTANCE0000001", "mi-0123456789abcdef0",
	    "{\"logGroupName\":\"/deckhand/sessions\",\"logStreamName\":\"s\"}",
	    T0 + 5000, NULL);
}

static void
test_lookup_attributes(void **state)
{
	struct fx *f = *state;
	cJSON *r, *ev, *first;
	const char *id;
	char req[256];

	seed(f);
	r = lookup(f, "{}");
	ev = cJSON_GetObjectItem(r, "Events");
	assert_int_equal(cJSON_GetArraySize(ev), 6);
	/* Newest first. */
	first = cJSON_GetArrayItem(ev, 0);
	assert_string_equal(cJSON_GetObjectItem(first, "EventName")->valuestring,
	    "PutLogEvents");
	assert_true(cJSON_GetObjectItem(first, "EventTime")->valuedouble ==
	    (double)(T0 / 1000 + 5));
	assert_string_equal(cJSON_GetObjectItem(first, "ReadOnly")->valuestring,
	    "false");
	assert_string_equal(cJSON_GetObjectItem(first, "Username")->valuestring,
	    "mi-0123456789abcdef0");
	id = cJSON_GetObjectItem(cJSON_GetArrayItem(ev, 3), "EventId")
	    ->valuestring;
	snprintf(req, sizeof(req), "{\"LookupAttributes\":[{\"AttributeKey\":"
	    "\"EventId\",\"AttributeValue\":\"%s\"}]}", id);
	cJSON_Delete(r);
	assert_int_equal(count_events(f, req), 1);

	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"EventName\",\"AttributeValue\":"
	    "\"CreateActivation\"}]}"), 1);
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"Username\",\"AttributeValue\":\"admin\"}]}"), 2);
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"AccessKeyId\",\"AttributeValue\":"
	    "\"ASIAINSTANCE0000001\"}]}"), 2);
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"EventSource\",\"AttributeValue\":"
	    "\"logs.amazonaws.com\"}]}"), 1);
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"ReadOnly\",\"AttributeValue\":\"true\"}]}"), 1);
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"ReadOnly\",\"AttributeValue\":\"false\"}]}"), 5);
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"ResourceName\",\"AttributeValue\":"
	    "\"11111111-2222-3333-4444-555555555555\"}]}"), 2);
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"ResourceName\",\"AttributeValue\":"
	    "\"/deckhand/sessions\"}]}"), 1);
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"ResourceType\",\"AttributeValue\":"
	    "\"AWS::SSM::ManagedInstance\"}]}"), 1);
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[{"
	    "\"AttributeKey\":\"Username\",\"AttributeValue\":\"nobody\"}]}"),
	    0);
	/* An empty list means no filter, as the CLI may send it. */
	assert_int_equal(count_events(f, "{\"LookupAttributes\":[]}"), 6);

	/* Resources in the event entry. */
	r = lookup(f, "{\"LookupAttributes\":[{\"AttributeKey\":\"EventName\","
	    "\"AttributeValue\":\"UpdateInstanceInformation\"}]}");
	ev = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "Events"), 0);
	first = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "Resources"), 0);
	assert_string_equal(cJSON_GetObjectItem(first, "ResourceType")
	    ->valuestring, "AWS::SSM::ManagedInstance");
	assert_string_equal(cJSON_GetObjectItem(first, "ResourceName")
	    ->valuestring, "mi-0123456789abcdef0");
	cJSON_Delete(r);
}

static void
test_time_window(void **state)
{
	struct fx *f = *state;

	seed(f);
	/* T0 is 1700000000 s; events at +0..+5 s. */
	assert_int_equal(count_events(f, "{\"StartTime\":1700000002}"), 4);
	assert_int_equal(count_events(f, "{\"EndTime\":1700000002}"), 3);
	assert_int_equal(count_events(f,
	    "{\"StartTime\":1700000001,\"EndTime\":1700000003}"), 3);
	assert_int_equal(count_events(f,
	    "{\"StartTime\":1700000001.5,\"EndTime\":1700000003.9}"), 2);
	assert_int_equal(count_events(f,
	    "{\"StartTime\":1700000100,\"EndTime\":1700000200}"), 0);
	assert_int_equal(count_events(f, "{\"StartTime\":1700000003,"
	    "\"EndTime\":1700000003,\"LookupAttributes\":[{\"AttributeKey\":"
	    "\"Username\",\"AttributeValue\":\"mi-0123456789abcdef0\"}]}"), 1);
	expect_lookup_error(f, "{\"StartTime\":1700000003,"
	    "\"EndTime\":1700000001}", "InvalidTimeRangeException");
	expect_lookup_error(f, "{\"StartTime\":\"yesterday\"}",
	    "InvalidTimeRangeException");
}

static void
test_pagination(void **state)
{
	struct fx *f = *state;
	cJSON *r, *ev, *it, *tok;
	char req[1024], seen[130][DH_UUID_STRLEN + 1];
	int pages = 0, total = 0, i, j;
	double prev = 1e18;

	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL),
	    SQLITE_OK);
	for (i = 0; i < 120; i++)
		record(f, i % 2 ? "DescribeActivations" : "CreateActivation",
		    "AKIAADMIN0000000001", "admin", NULL, T0 + (i / 3) * 1000,
		    NULL);
	assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	snprintf(req, sizeof(req), "{\"MaxResults\":50}");
	for (;;) {
		r = lookup(f, req);
		ev = cJSON_GetObjectItem(r, "Events");
		pages++;
		cJSON_ArrayForEach(it, ev) {
			double t = cJSON_GetObjectItem(it, "EventTime")
			    ->valuedouble;

			assert_true(t <= prev);
			prev = t;
			assert_true(total < 130);
			snprintf(seen[total], sizeof(seen[total]), "%s",
			    cJSON_GetObjectItem(it, "EventId")->valuestring);
			for (j = 0; j < total; j++)
				assert_string_not_equal(seen[j], seen[total]);
			total++;
		}
		tok = cJSON_GetObjectItem(r, "NextToken");
		if (tok == NULL) {
			assert_int_equal(cJSON_GetArraySize(ev), 20);
			cJSON_Delete(r);
			break;
		}
		assert_int_equal(cJSON_GetArraySize(ev), 50);
		snprintf(req, sizeof(req), "{\"MaxResults\":50,"
		    "\"NextToken\":\"%s\"}", tok->valuestring);
		if (pages == 1) {
			char bad[1024];

			/* The token is bound to the other parameters. */
			snprintf(bad, sizeof(bad), "{\"NextToken\":\"%s\","
			    "\"LookupAttributes\":[{\"AttributeKey\":"
			    "\"Username\",\"AttributeValue\":\"admin\"}]}",
			    tok->valuestring);
			expect_lookup_error(f, bad,
			    "InvalidNextTokenException");
		}
		cJSON_Delete(r);
	}
	assert_int_equal(pages, 3);
	assert_int_equal(total, 120);

	/* Filtered pagination: 60 CreateActivation in pages of 7. */
	total = 0;
	snprintf(req, sizeof(req), "{\"MaxResults\":7,\"LookupAttributes\":"
	    "[{\"AttributeKey\":\"EventName\",\"AttributeValue\":"
	    "\"CreateActivation\"}]}");
	for (;;) {
		r = lookup(f, req);
		total += cJSON_GetArraySize(cJSON_GetObjectItem(r, "Events"));
		tok = cJSON_GetObjectItem(r, "NextToken");
		if (tok == NULL) {
			cJSON_Delete(r);
			break;
		}
		snprintf(req, sizeof(req), "{\"MaxResults\":7,\"NextToken\":"
		    "\"%s\",\"LookupAttributes\":[{\"AttributeKey\":"
		    "\"EventName\",\"AttributeValue\":\"CreateActivation\"}]}",
		    tok->valuestring);
		cJSON_Delete(r);
	}
	assert_int_equal(total, 60);
	expect_lookup_error(f, "{\"NextToken\":\"zz\"}",
	    "InvalidNextTokenException");
	expect_lookup_error(f, "{\"NextToken\":\"313233\"}",
	    "InvalidNextTokenException");
}

static void
test_bad_requests(void **state)
{
	struct fx *f = *state;

	expect_lookup_error(f, "{\"MaxResults\":0}",
	    "InvalidMaxResultsException");
	expect_lookup_error(f, "{\"MaxResults\":51}",
	    "InvalidMaxResultsException");
	expect_lookup_error(f, "{\"MaxResults\":2.5}",
	    "InvalidMaxResultsException");
	expect_lookup_error(f, "{\"LookupAttributes\":[{\"AttributeKey\":"
	    "\"EventName\",\"AttributeValue\":\"A\"},{\"AttributeKey\":"
	    "\"Username\",\"AttributeValue\":\"B\"}]}",
	    "InvalidLookupAttributesException");
	expect_lookup_error(f, "{\"LookupAttributes\":[{\"AttributeKey\":"
	    "\"Colour\",\"AttributeValue\":\"A\"}]}",
	    "InvalidLookupAttributesException");
	expect_lookup_error(f, "{\"LookupAttributes\":[{\"AttributeKey\":"
	    "\"EventName\",\"AttributeValue\":\"\"}]}",
	    "InvalidLookupAttributesException");
	expect_lookup_error(f, "{\"LookupAttributes\":[{\"AttributeKey\":"
	    "\"ReadOnly\",\"AttributeValue\":\"maybe\"}]}",
	    "InvalidLookupAttributesException");
	expect_lookup_error(f, "{\"EventCategory\":\"data\"}",
	    "InvalidEventCategoryException");
	assert_int_equal(count_events(f, "{\"EventCategory\":\"insight\"}"), 0);
}

static void
test_record_shape(void **state)
{
	struct fx *f = *state;
	struct gw_audit_event ev;
	struct dh_err err;
	struct dh_uuid u;
	cJSON *r, *rec, *id, *rp;
	const char *s;

	memset(&ev, 0, sizeof(ev));
	ev.event_source = "ssm.amazonaws.com";
	ev.event_name = "DeleteActivation";
	ev.access_key_id = "AKIAREADER000000001";
	ev.principal = "reader";
	ev.source_ip = "10.0.0.7";
	ev.user_agent = "bad\xff\xfe utf8 \xe2\x82";
	ev.error_code = "AccessDeniedException";
	ev.error_message = "User: reader is not authorized";
	ev.time_ms = T0 + 42;
	ev.request_id = "req-1";
	rp = json("{\"ActivationId\":\"a-1\",\"Tags\":[{\"Key\":\"k\","
	    "\"Value\":\"v\"}],\"NextToken\":\"keep-me\"}");
	ev.request_params = rp;
	assert_int_equal(gw_audit_record(f->a, &ev, &err), DH_OK);
	cJSON_Delete(rp);

	r = lookup(f, "{}");
	s = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r,
	    "Events"), 0), "CloudTrailEvent")->valuestring;
	rec = json(s);
	assert_string_equal(cJSON_GetObjectItem(rec, "eventVersion")
	    ->valuestring, "1.08");
	assert_string_equal(cJSON_GetObjectItem(rec, "eventTime")->valuestring,
	    "2023-11-14T22:13:20Z");
	assert_string_equal(cJSON_GetObjectItem(rec, "eventSource")
	    ->valuestring, "ssm.amazonaws.com");
	assert_string_equal(cJSON_GetObjectItem(rec, "awsRegion")->valuestring,
	    REGION);
	assert_string_equal(cJSON_GetObjectItem(rec, "sourceIPAddress")
	    ->valuestring, "10.0.0.7");
	assert_string_equal(cJSON_GetObjectItem(rec, "userAgent")->valuestring,
	    "bad?? utf8 ??");
	assert_string_equal(cJSON_GetObjectItem(rec, "errorCode")->valuestring,
	    "AccessDeniedException");
	assert_string_equal(cJSON_GetObjectItem(rec, "errorMessage")
	    ->valuestring, "User: reader is not authorized");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(rec,
	    "responseElements")));
	assert_string_equal(cJSON_GetObjectItem(rec, "requestID")->valuestring,
	    "req-1");
	assert_int_equal(dh_uuid_parse(cJSON_GetObjectItem(rec, "eventID")
	    ->valuestring, &u), DH_OK);
	assert_string_equal(cJSON_GetObjectItem(rec, "eventType")->valuestring,
	    "AwsApiCall");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(rec, "readOnly")));
	assert_string_equal(cJSON_GetObjectItem(rec, "recipientAccountId")
	    ->valuestring, ACCOUNT);
	id = cJSON_GetObjectItem(rec, "userIdentity");
	assert_string_equal(cJSON_GetObjectItem(id, "type")->valuestring,
	    "IAMUser");
	assert_string_equal(cJSON_GetObjectItem(id, "arn")->valuestring,
	    "arn:aws:iam::123456789012:user/reader");
	assert_string_equal(cJSON_GetObjectItem(id, "accountId")->valuestring,
	    ACCOUNT);
	assert_string_equal(cJSON_GetObjectItem(id, "accessKeyId")->valuestring,
	    "AKIAREADER000000001");
	assert_string_equal(cJSON_GetObjectItem(id, "userName")->valuestring,
	    "reader");
	assert_non_null(cJSON_GetObjectItem(id, "principalId"));
	rp = cJSON_GetObjectItem(rec, "requestParameters");
	assert_string_equal(cJSON_GetObjectItem(rp, "activationId")->valuestring,
	    "a-1");
	assert_string_equal(cJSON_GetObjectItem(rp, "nextToken")->valuestring,
	    "keep-me");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(rp, "tags"), 0), "key")->valuestring, "k");
	cJSON_Delete(rec);
	cJSON_Delete(r);

	/* An instance principal and an anonymous caller. */
	record(f, "RequestManagedInstanceRoleToken", NULL, "mi-00000000000000001",
	    NULL, T0 + 100, NULL);
	record(f, "RegisterManagedInstance", NULL, NULL, NULL, T0 + 200, NULL);
	r = lookup(f, "{}");
	rec = json(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
	    r, "Events"), 1), "CloudTrailEvent")->valuestring);
	id = cJSON_GetObjectItem(rec, "userIdentity");
	assert_string_equal(cJSON_GetObjectItem(id, "type")->valuestring,
	    "AssumedRole");
	assert_string_equal(cJSON_GetObjectItem(id, "arn")->valuestring,
	    "arn:aws:ssm:eu-west-1:123456789012:managed-instance/"
	    "mi-00000000000000001");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(rec,
	    "requestParameters")));
	cJSON_Delete(rec);
	rec = json(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
	    r, "Events"), 0), "CloudTrailEvent")->valuestring);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(rec,
	    "userIdentity"), "type")->valuestring, "Unknown");
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
	    r, "Events"), 0), "Username"));
	cJSON_Delete(rec);
	cJSON_Delete(r);

	/* Missing event name is refused. */
	memset(&ev, 0, sizeof(ev));
	ev.event_source = "ssm.amazonaws.com";
	assert_int_equal(gw_audit_record(f->a, &ev, &err), DH_E_ARG);
}

/* 1 when needle occurs in the file at path. */
static int
file_contains(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	struct dh_buf b;
	size_t n, nl = strlen(needle), i;
	char chunk[8192];
	int hit = 0;

	if (fp == NULL)
		return 0;
	dh_buf_init(&b, 64 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (dh_buf_put(&b, chunk, n) != DH_OK)
			break;
	fclose(fp);
	for (i = 0; i + nl <= b.len && !hit; i++)
		hit = memcmp(b.d + i, needle, nl) == 0;
	dh_buf_free(&b);
	return hit;
}

static void
test_redaction(void **state)
{
	static const char *const secrets[] = {
		"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzEJr-TOKEN",
		"s3cr3t-activation-code", "hunter2-password", "PLAINTEXT-BYTES",
		"-----BEGIN PRIVATE KEY-----", "tv-websocket-token",
	};
	struct fx *f = *state;
	cJSON *r, *rec, *rp;
	char wal[160];
	size_t i;

	record(f, "CreateThing", "AKIAADMIN0000000001", "admin",
	    "{\"SecretAccessKey\":\"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\","
	    "\"Credentials\":{\"SessionToken\":\"FwoGZXIvYXdzEJr-TOKEN\"},"
	    "\"ActivationCode\":\"s3cr3t-activation-code\","
	    "\"Users\":[{\"Name\":\"u\",\"Password\":\"hunter2-password\"}],"
	    "\"Plaintext\":\"PLAINTEXT-BYTES\","
	    "\"privateKey\":\"-----BEGIN PRIVATE KEY-----\","
	    "\"TokenValue\":\"tv-websocket-token\","
	    "\"PublicKey\":\"visible-public-key\"}", T0, NULL);
	r = lookup(f, "{}");
	rec = json(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
	    r, "Events"), 0), "CloudTrailEvent")->valuestring);
	rp = cJSON_GetObjectItem(rec, "requestParameters");
	assert_string_equal(cJSON_GetObjectItem(rp, "secretAccessKey")
	    ->valuestring, GW_AUDIT_HIDDEN);
	assert_string_equal(cJSON_GetObjectItem(rp, "credentials")->valuestring,
	    GW_AUDIT_HIDDEN);
	assert_string_equal(cJSON_GetObjectItem(rp, "activationCode")
	    ->valuestring, GW_AUDIT_HIDDEN);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(rp, "users"), 0), "password")->valuestring,
	    GW_AUDIT_HIDDEN);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(rp, "users"), 0), "name")->valuestring, "u");
	assert_string_equal(cJSON_GetObjectItem(rp, "publicKey")->valuestring,
	    "visible-public-key");
	cJSON_Delete(rec);
	cJSON_Delete(r);
	/* No secret byte string reached the database or its WAL. */
	snprintf(wal, sizeof(wal), "%s-wal", f->dbpath);
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		assert_false(file_contains(f->dbpath, secrets[i]));
		assert_false(file_contains(wal, secrets[i]));
	}
	assert_true(file_contains(wal, "visible-public-key") ||
	    file_contains(f->dbpath, "visible-public-key"));
}

/* Decompress a .json.gz with libarchive (raw + gzip) into a JSON tree. */
static cJSON *
read_gz(const char *path)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *ent;
	struct dh_buf b;
	char chunk[8192];
	la_ssize_t n;
	cJSON *j = NULL;
	struct dh_err err;

	assert_non_null(ar);
	dh_buf_init(&b, 64 << 20);
	archive_read_support_filter_gzip(ar);
	archive_read_support_format_raw(ar);
	assert_int_equal(archive_read_open_filename(ar, path, 16384),
	    ARCHIVE_OK);
	assert_int_equal(archive_read_next_header(ar, &ent), ARCHIVE_OK);
	assert_int_equal(archive_filter_code(ar, 0), ARCHIVE_FILTER_GZIP);
	while ((n = archive_read_data(ar, chunk, sizeof(chunk))) > 0)
		assert_int_equal(dh_buf_put(&b, chunk, (size_t)n), DH_OK);
	assert_int_equal(n, 0);
	archive_read_free(ar);
	if (dh_json_parse(b.d, b.len, 64 << 20, &j, &err) != DH_OK)
		fail_msg("delivered file is not JSON: %s", err.msg);
	dh_buf_free(&b);
	return j;
}

/* List *.json.gz files in dir (names into out[], at most max). */
static int
list_gz(const char *dir, char out[][256], int max)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;
	size_t l;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l > 8 && strcmp(de->d_name + l - 8, ".json.gz") == 0 &&
		    n < max)
			snprintf(out[n++], 256, "%s", de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".tmp") == 0)
			fail_msg("temp file left behind: %s", de->d_name);
	}
	closedir(d);
	return n;
}

/* path = dir "/" name, failing the test if it does not fit. */
static void
join(char *path, size_t size, const char *dir, const char *name)
{
	int n = snprintf(path, size, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

#define NOW 1700050000000LL /* 2023-11-15T12:06:40Z */
#define DAYDIR "/AWSLogs/123456789012/CloudTrail/eu-west-1/2023/11/15"

static void
test_deliver(void **state)
{
	struct fx *f = *state;
	char dir[256], path[600], names[8][256];
	struct dh_err err;
	size_t files, recs;
	cJSON *j, *records, *it;
	int n;

	seed(f);
	assert_int_equal(gw_audit_deliver_stats(f->a, NOW, &files, &recs, &err),
	    DH_OK);
	assert_int_equal(files, 1);
	assert_int_equal(recs, 6);
	snprintf(dir, sizeof(dir), "%s%s", f->dir, DAYDIR);
	n = list_gz(dir, names, 8);
	assert_int_equal(n, 1);
	assert_int_equal(strncmp(names[0],
	    "123456789012_CloudTrail_eu-west-1_20231115T1206Z_", 49), 0);
	assert_int_equal(strlen(names[0]), 49 + 16 + 8);
	join(path, sizeof(path), dir, names[0]);
	j = read_gz(path);
	records = cJSON_GetObjectItem(j, "Records");
	assert_int_equal(cJSON_GetArraySize(records), 6);
	it = cJSON_GetArrayItem(records, 0);
	assert_string_equal(cJSON_GetObjectItem(it, "eventName")->valuestring,
	    "CreateActivation");
	it = cJSON_GetArrayItem(records, 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(it,
	    "requestParameters"), "activationCode")->valuestring,
	    GW_AUDIT_HIDDEN);
	assert_false(file_contains(path, "s3cr3t-activation-code"));
	cJSON_Delete(j);

	/* Refused inside the caller's transaction (claims must commit). */
	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(gw_audit_deliver(f->a, NOW, &err), DH_E_STATE);
	assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);

	/* Nothing new: nothing written. */
	assert_int_equal(gw_audit_deliver_stats(f->a, NOW + 60000, &files,
	    &recs, &err), DH_OK);
	assert_int_equal(files, 0);
	assert_int_equal(recs, 0);
	assert_int_equal(list_gz(dir, names, 8), 1);

	/* One more event: one more file with exactly that record. */
	record(f, "DeleteActivation", "AKIAADMIN0000000001", "admin", NULL,
	    T0 + 9000, NULL);
	assert_int_equal(gw_audit_deliver(f->a, NOW + 120000, &err), DH_OK);
	assert_int_equal(list_gz(dir, names, 8), 2);
	n = strcmp(names[0], names[1]) < 0 ? 1 : 0;
	if (strstr(names[n], "T1208Z") == NULL)
		n = !n;
	join(path, sizeof(path), dir, names[n]);
	j = read_gz(path);
	records = cJSON_GetObjectItem(j, "Records");
	assert_int_equal(cJSON_GetArraySize(records), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(records, 0),
	    "eventName")->valuestring, "DeleteActivation");
	cJSON_Delete(j);
}

static void
mkdir_p(const char *path)
{
	char p[512];
	size_t i;

	snprintf(p, sizeof(p), "%s", path);
	for (i = 1; p[i] != '\0'; i++) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		(void)mkdir(p, 0750);
		p[i] = '/';
	}
	assert_true(mkdir(p, 0750) == 0);
}

static int64_t
scalar(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Simulate crashes after step 1 (batch claimed, no file) and after step 2
 * (file renamed into place, batch not marked done). */
static void
test_deliver_recovery(void **state)
{
	struct fx *f = *state;
	char dir[256], path[600], names[8][256], sql[512];
	struct dh_err err;
	size_t files, recs;
	cJSON *j;
	FILE *fp;

	seed(f);
	snprintf(sql, sizeof(sql), "INSERT INTO gw_audit_batches(path, records)"
	    " VALUES ('AWSLogs/123456789012/CloudTrail/eu-west-1/2023/11/14/"
	    "123456789012_CloudTrail_eu-west-1_20231114T2214Z_"
	    "00000000000000aa.json.gz', 3);"
	    "UPDATE gw_audit_events SET batch = last_insert_rowid()"
	    " WHERE seq <= (SELECT min(seq) + 2 FROM gw_audit_events);");
	assert_int_equal(sqlite3_exec(f->db, sql, NULL, NULL, NULL), SQLITE_OK);
	/* Leftover temp file from the crashed write. */
	snprintf(dir, sizeof(dir), "%s/AWSLogs/123456789012/CloudTrail/"
	    "eu-west-1/2023/11/14", f->dir);
	mkdir_p(dir);
	snprintf(path, sizeof(path), "%s/123456789012_CloudTrail_eu-west-1_"
	    "20231114T2214Z_00000000000000aa.json.gz.tmp", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("partial", fp);
	fclose(fp);

	/* Second batch: file already renamed into place (sentinel content). */
	snprintf(sql, sizeof(sql), "INSERT INTO gw_audit_batches(path, records)"
	    " VALUES ('AWSLogs/123456789012/CloudTrail/eu-west-1/2023/11/14/"
	    "123456789012_CloudTrail_eu-west-1_20231114T2214Z_"
	    "00000000000000bb.json.gz', 1);"
	    "UPDATE gw_audit_events SET batch = last_insert_rowid()"
	    " WHERE batch IS NULL AND seq = (SELECT min(seq) FROM"
	    " gw_audit_events WHERE batch IS NULL);");
	assert_int_equal(sqlite3_exec(f->db, sql, NULL, NULL, NULL), SQLITE_OK);
	snprintf(path, sizeof(path), "%s/123456789012_CloudTrail_eu-west-1_"
	    "20231114T2214Z_00000000000000bb.json.gz", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("sentinel", fp);
	fclose(fp);

	assert_int_equal(gw_audit_deliver_stats(f->a, NOW, &files, &recs, &err),
	    DH_OK);
	/* Batch aa rewritten, bb only marked, the other 2 records new. */
	assert_int_equal(files, 3);
	assert_int_equal(recs, 6);
	assert_int_equal(scalar(f, "SELECT count(*) FROM gw_audit_batches"
	    " WHERE done = 0"), 0);
	assert_int_equal(scalar(f, "SELECT count(*) FROM gw_audit_events"
	    " WHERE batch IS NULL"), 0);
	assert_int_equal(list_gz(dir, names, 8), 2);
	snprintf(path, sizeof(path), "%s/123456789012_CloudTrail_eu-west-1_"
	    "20231114T2214Z_00000000000000aa.json.gz", dir);
	j = read_gz(path);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Records")),
	    3);
	cJSON_Delete(j);
	snprintf(path, sizeof(path), "%s/123456789012_CloudTrail_eu-west-1_"
	    "20231114T2214Z_00000000000000bb.json.gz", dir);
	assert_true(file_contains(path, "sentinel"));
	snprintf(dir, sizeof(dir), "%s%s", f->dir, DAYDIR);
	assert_int_equal(list_gz(dir, names, 8), 1);
	join(path, sizeof(path), dir, names[0]);
	j = read_gz(path);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Records")),
	    2);
	cJSON_Delete(j);
}

static void
test_deliver_split(void **state)
{
	struct fx *f = *state;
	struct dh_err err;
	size_t files, recs;
	char dir[256], path[600], names[8][256];
	int i, total = 0;
	cJSON *j;

	assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL),
	    SQLITE_OK);
	for (i = 0; i < GW_AUDIT_MAX_DELIVER + 5; i++)
		record(f, "UpdateInstanceInformation", "ASIAINSTANCE0000001",
		    "mi-0123456789abcdef0", NULL, T0 + i, NULL);
	assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(gw_audit_deliver_stats(f->a, NOW, &files, &recs, &err),
	    DH_OK);
	assert_int_equal(files, 2);
	assert_int_equal(recs, GW_AUDIT_MAX_DELIVER + 5);
	snprintf(dir, sizeof(dir), "%s%s", f->dir, DAYDIR);
	assert_int_equal(list_gz(dir, names, 8), 2);
	for (i = 0; i < 2; i++) {
		join(path, sizeof(path), dir, names[i]);
		j = read_gz(path);
		total += cJSON_GetArraySize(cJSON_GetObjectItem(j, "Records"));
		cJSON_Delete(j);
	}
	assert_int_equal(total, GW_AUDIT_MAX_DELIVER + 5);
}

static void
test_open_args(void **state)
{
	struct fx *f = *state;
	struct gw_audit *a = NULL;
	struct dh_err err;

	assert_int_equal(gw_audit_open(f->db, f->dir, "12345", REGION, &a,
	    &err), DH_E_ARG);
	assert_null(a);
	assert_int_equal(gw_audit_open(f->db, f->dir, ACCOUNT, "../etc", &a,
	    &err), DH_E_ARG);
	assert_int_equal(gw_audit_open(NULL, f->dir, ACCOUNT, REGION, &a, &err),
	    DH_E_ARG);
	/* Re-opening over existing tables is fine. */
	assert_int_equal(gw_audit_open(f->db, f->dir, ACCOUNT, REGION, &a,
	    &err), DH_OK);
	gw_audit_close(a);
	gw_audit_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lookup_attributes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_time_window, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pagination, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_record_shape, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_redaction, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_recovery, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliver_split, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_args, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("gw_audit", tests, NULL, NULL);
}
