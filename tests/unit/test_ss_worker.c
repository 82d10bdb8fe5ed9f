/*
 * Unit tests for the pure parts of ss_worker: the interactive_shell task
 * parser (the reference's double-encoded example, lower-case keys and a
 * Content object, booleans and minutes as strings, defaults, a table of
 * malformed payloads) and the agent_task_complete payload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <cJSON.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "ss_worker.h"

static const char reference[] =
    "{\"Content\":\"{\\\"SessionId\\\":\\\"alice-0a1b2c3d4e5f6a7b8\\\","
    "\\\"DocumentName\\\":\\\"SSM-SessionManagerRunShell\\\","
    "\\\"RunAsUser\\\":\\\"bob\\\",\\\"SessionOwner\\\":"
    "\\\"arn:aws:iam::111122223333:user/alice\\\",\\\"Parameters\\\":{},"
    "\\\"DocumentContent\\\":{\\\"schemaVersion\\\":\\\"1.0\\\","
    "\\\"sessionType\\\":\\\"Standard_Stream\\\",\\\"inputs\\\":{"
    "\\\"s3BucketName\\\":\\\"logs\\\",\\\"s3KeyPrefix\\\":\\\"ssm\\\","
    "\\\"s3EncryptionEnabled\\\":true,\\\"cloudWatchLogGroupName\\\":"
    "\\\"/ssm/sessions\\\",\\\"cloudWatchEncryptionEnabled\\\":\\\"true\\\","
    "\\\"cloudWatchStreamingEnabled\\\":true,\\\"kmsKeyId\\\":\\\"alias/k\\\","
    "\\\"runAsEnabled\\\":\\\"false\\\",\\\"runAsDefaultUser\\\":\\\"\\\","
    "\\\"idleSessionTimeout\\\":\\\"20\\\",\\\"maxSessionDuration\\\":60,"
    "\\\"shellProfile\\\":{\\\"linux\\\":\\\"cd ~\\\",\\\"windows\\\":\\\"\\\"}},"
    "\\\"parameters\\\":{},\\\"properties\\\":null}}\","
    "\"TaskId\":\"alice-0a1b2c3d4e5f6a7b8\",\"Topic\":\"t\",\"SchemaVersion\":1}";

static void
test_reference(void **state)
{
	struct ss_task t;
	struct dh_err e;

	assert_int_equal(ss_worker_parse_task(reference, strlen(reference), &t,
	    &e), DH_OK);
	assert_string_equal(t.session_id, "alice-0a1b2c3d4e5f6a7b8");
	assert_string_equal(t.document_name, "SSM-SessionManagerRunShell");
	assert_string_equal(t.run_as_user, "bob");
	assert_string_equal(t.session_type, "Standard_Stream");
	assert_string_equal(t.s3_bucket, "logs");
	assert_string_equal(t.s3_prefix, "ssm");
	assert_int_equal(t.s3_encryption, 1);
	assert_string_equal(t.cw_group, "/ssm/sessions");
	assert_int_equal(t.cw_encryption, 1);
	assert_int_equal(t.cw_streaming, 1);
	assert_string_equal(t.kms_key_id, "alias/k");
	assert_int_equal(t.run_as_enabled, 0);
	assert_int_equal(t.idle_timeout_min, 20);
	assert_int_equal(t.max_duration_min, 60);
	assert_string_equal(t.shell_profile, "cd ~");
}

static void
test_object_lowercase_defaults(void **state)
{
	static const char doc[] =
	    "{\"content\":{\"sessionId\":\"s-1\",\"DataChannelId\":\"x\","
	    "\"documentContent\":{\"inputs\":{\"runAsEnabled\":\"TRUE\","
	    "\"runAsDefaultUser\":\"nobody\"}}}}";
	struct ss_task t;
	struct dh_err e;

	assert_int_equal(ss_worker_parse_task(doc, strlen(doc), &t, &e), DH_OK);
	assert_string_equal(t.session_id, "s-1");
	assert_string_equal(t.session_type, "Standard_Stream");
	assert_int_equal(t.run_as_enabled, 1);
	assert_string_equal(t.run_as_default_user, "nobody");
	assert_string_equal(t.kms_key_id, "");
	assert_int_equal(t.idle_timeout_min, 0);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"{\"Content\":5}",
		"{\"Content\":\"{not json\"}",
		"{\"Content\":{}}",
		"{\"Content\":{\"SessionId\":\"../../etc\"}}",
		"{\"Content\":{\"SessionId\":\"a b\"}}",
		"{\"Content\":{\"SessionId\":\"..\"}}",
		"{\"Content\":{\"SessionId\":\".hidden\"}}",
		"{\"Content\":{\"SessionId\":7}}",
		"{\"Content\":{\"SessionId\":\"s\",\"DocumentContent\":[]}}",
		"{\"Content\":{\"SessionId\":\"s\",\"DocumentContent\":{\"inputs\":"
		"{\"runAsEnabled\":\"maybe\"}}}}",
		"{\"Content\":{\"SessionId\":\"s\",\"DocumentContent\":{\"inputs\":"
		"{\"idleSessionTimeout\":\"20m\"}}}}",
		"{\"Content\":{\"SessionId\":\"s\",\"DocumentContent\":{\"inputs\":"
		"{\"maxSessionDuration\":-1}}}}",
		"{\"Content\":{\"SessionId\":\"s\",\"DocumentContent\":{\"inputs\":"
		"{\"shellProfile\":\"x\"}}}}",
	};
	struct ss_task t;
	struct dh_err e;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ss_worker_parse_task(bad[i], strlen(bad[i]), &t, &e) == DH_OK)
			fail_msg("case %zu accepted: %s", i, bad[i]);
}

static void
test_interactive_command(void **state)
{
	static const struct {
		const char *cmds, *params, *want;
	} t[] = {
		{ "{{command}}", "{\"command\":\"top -b -n 1\"}",
		    "top -b -n 1" },
		{ "{{ command }}", "{\"command\":[\"ls\"]}", "ls" },
		{ "echo {{ a }} {{b}}!", "{\"a\":\"x\",\"b\":[\"1\",\"2\"]}",
		    "echo x 1\n2!" },
		{ "plain", "{}", "plain" },
		{ "{{ missing }}", "{\"command\":\"x\"}", NULL },
		{ "{{command", "{\"command\":\"x\"}", NULL },
		{ "{{}}", "{}", NULL },
		{ "{{ command }}", "{\"command\":\"\"}", NULL },
		{ "{{ command }}", "{\"command\":[1]}", NULL },
		{ "{{ command }}", "{\"command\":7}", NULL },
	};
	char doc[1024];
	struct ss_task task;
	struct dh_err e;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"Content\":{\"SessionId\":"
		    "\"s-1\",\"Parameters\":%s,\"DocumentContent\":{"
		    "\"sessionType\":\"InteractiveCommands\",\"properties\":"
		    "{\"linux\":{\"commands\":\"%s\"}}}}}", t[i].params,
		    t[i].cmds);
		dh_err_clear(&e);
		rc = ss_worker_parse_task(doc, strlen(doc), &task, &e);
		if (t[i].want == NULL) {
			if (rc == DH_OK)
				fail_msg("case %zu accepted: %s", i, doc);
			continue;
		}
		if (rc != DH_OK)
			fail_msg("case %zu: %s", i, e.msg);
		assert_string_equal(task.session_type, "InteractiveCommands");
		assert_string_equal(task.command, t[i].want);
	}
	/* a shell session carries no command */
	assert_int_equal(ss_worker_parse_task(reference, strlen(reference),
	    &task, &e), DH_OK);
	assert_string_equal(task.command, "");
}

static void
test_task_complete(void **state)
{
	struct ss_task t;
	struct dh_buf b;
	struct dh_err e;
	cJSON *j;

	assert_int_equal(ss_worker_parse_task(reference, strlen(reference), &t,
	    &e), DH_OK);
	dh_buf_init(&b, 65536);
	assert_int_equal(ss_worker_task_complete_json(&t, "mi-0123456789abcdef0",
	    "Success", "", &b, &e), DH_OK);
	j = cJSON_Parse(dh_buf_cstr(&b));
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "TaskId")->valuestring,
	    "alice-0a1b2c3d4e5f6a7b8");
	assert_string_equal(cJSON_GetObjectItem(j, "Topic")->valuestring,
	    "agent_task_complete");
	assert_string_equal(cJSON_GetObjectItem(j, "S3UrlSuffix")->valuestring,
	    "ssm/alice-0a1b2c3d4e5f6a7b8.log");
	assert_string_equal(cJSON_GetObjectItem(j, "CwlStream")->valuestring,
	    "alice-0a1b2c3d4e5f6a7b8");
	assert_string_equal(cJSON_GetObjectItem(j, "InstanceId")->valuestring,
	    "mi-0123456789abcdef0");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "IsRoutingFailure")));
	cJSON_Delete(j);
	dh_buf_free(&b);
}

static int
no_send(void *arg, const struct dh_mgs_msg *m)
{
	(void)arg;
	(void)m;
	return DH_OK;
}

/* The manager copies every string of the environment (all of them set, so
 * a copy table that is too short shows up under ASan), on creation and on
 * reload. */
static void
test_mgr_env_copy(void **state)
{
	char strs[10][32];
	struct ss_worker_env env;
	struct ss_worker_mgr *m = NULL;
	struct dh_err e;
	int i;

	for (i = 0; i < 10; i++)
		snprintf(strs[i], sizeof(strs[i]), "value-%d", i);
	memset(&env, 0, sizeof(env));
	env.instance_id = strs[0];
	env.region = strs[1];
	env.mgs_url = strs[2];
	env.kms_url = strs[3];
	env.logs_url = strs[4];
	env.s3_url = strs[5];
	env.ca_file = strs[6];
	env.proxy_addr = strs[7];
	env.spool_dir = strs[8];
	env.agent_version = strs[9];
	assert_int_equal(ss_worker_mgr_new(&env, NULL, no_send, NULL, &m, &e), DH_OK);
	for (i = 0; i < 10; i++)
		snprintf(strs[i], sizeof(strs[i]), "reloaded-%d", i);
	assert_int_equal(ss_worker_mgr_set_env(m, &env, &e), DH_OK);
	assert_int_equal(ss_worker_mgr_count(m), 0);
	ss_worker_mgr_free(m);
}

/* A start request survives encode/decode with every field; every
 * truncation, a bad magic, an oversized credential and trailing bytes are
 * refused with an error (ASan checks that nothing leaks on the way). */
static void
test_start_request(void **state)
{
	struct ss_worker_env env;
	struct ss_worker_req r;
	struct ss_creds c;
	struct dh_buf b, bad;
	struct dh_err e;
	size_t cut;

	memset(&env, 0, sizeof(env));
	env.instance_id = "mi-0123456789abcdef0";
	env.region = "eu-west-1";
	env.mgs_url = "https://127.0.0.1:8443";
	env.ca_file = "/etc/deckhand/ca.pem";
	env.spool_dir = "/var/lib/deckhand-agent/spool";
	env.agent_version = "0.1.0.0";
	env.proxy_addr = "";
	env.proxy_port = 3128;
	env.allow_root = 1;
	env.fail_closed = 1;
	env.max_chunk = 65536;
	memset(&c, 0, sizeof(c));
	snprintf(c.access_key, sizeof(c.access_key), "ASIAEXAMPLE");
	snprintf(c.secret_key, sizeof(c.secret_key), "secret/key");
	memset(c.session_token, 'T', sizeof(c.session_token) - 1);
	dh_buf_init(&b, 1u << 20);
	assert_int_equal(ss_worker_req_encode(&env, &c, reference,
	    strlen(reference), &b, &e), DH_OK);
	assert_int_equal(ss_worker_req_decode(b.d, b.len, &r, &e), DH_OK);
	assert_string_equal(r.env.instance_id, env.instance_id);
	assert_string_equal(r.env.mgs_url, env.mgs_url);
	assert_string_equal(r.env.ca_file, env.ca_file);
	assert_string_equal(r.env.spool_dir, env.spool_dir);
	assert_string_equal(r.env.proxy_addr, "");
	assert_null(r.env.kms_url);
	assert_null(r.env.logs_url);
	assert_int_equal(r.env.proxy_port, 3128);
	assert_int_equal(r.env.allow_root, 1);
	assert_int_equal(r.env.ssm_user_sudo, 0);
	assert_int_equal(r.env.fail_closed, 1);
	assert_int_equal(r.env.max_chunk, 65536);
	assert_string_equal(r.creds.secret_key, "secret/key");
	assert_string_equal(r.creds.session_token, c.session_token);
	assert_string_equal(r.task.session_id, "alice-0a1b2c3d4e5f6a7b8");
	assert_string_equal(r.task.shell_profile, "cd ~");
	ss_worker_req_free(&r);
	for (cut = 0; cut < b.len; cut++) {
		assert_int_not_equal(ss_worker_req_decode(b.d, cut, &r, &e),
		    DH_OK);
		ss_worker_req_free(&r);
	}
	dh_buf_init(&bad, 1u << 20);
	assert_int_equal(dh_buf_put(&bad, b.d, b.len), DH_OK);
	assert_int_equal(dh_buf_put_u8(&bad, 0), DH_OK);
	assert_int_equal(ss_worker_req_decode(bad.d, bad.len, &r, &e),
	    DH_E_FORMAT);
	ss_worker_req_free(&r);
	bad.d[0] = 'X';
	assert_int_equal(ss_worker_req_decode(bad.d, b.len, &r, &e),
	    DH_E_FORMAT);
	ss_worker_req_free(&r);
	/* the access key's length field claims more than its array holds */
	memcpy(bad.d, b.d, b.len);
	{
		size_t off = 4 + 4 + 4 + 8, i;

		for (i = 0; i < 10; i++) {
			uint32_t n = dh_be32(bad.d + off);

			off += 4 + (n == 0xffffffffu ? 0 : n);
		}
		dh_put_be32(bad.d + off, 128);
	}
	assert_int_equal(ss_worker_req_decode(bad.d, b.len, &r, &e),
	    DH_E_TOOBIG);
	ss_worker_req_free(&r);
	dh_buf_free(&bad);
	dh_buf_free(&b);
}

/* Port documents: properties substituted from Parameters or the
 * document's defaults; portNumber checked; host defaults to localhost. */
static void
test_port_document(void **state)
{
	static const struct {
		const char *params, *props, *host, *type;
		int port;
	} t[] = {
		{ "{\"portNumber\":[\"2222\"]}",
		    "{\"portNumber\":\"{{ portNumber }}\"}", "localhost", "",
		    2222 },
		{ "{}", "{\"portNumber\":\"{{ portNumber }}\"}", "localhost",
		    "", 22 },                       /* the default */
		{ "{\"portNumber\":[\"80\"],\"localPortNumber\":[\"0\"]}",
		    "{\"portNumber\":\"{{ portNumber }}\",\"type\":"
		    "\"LocalPortForwarding\",\"localPortNumber\":"
		    "\"{{ localPortNumber }}\"}", "localhost",
		    "LocalPortForwarding", 80 },
		{ "{\"host\":[\"db.internal\"],\"portNumber\":[\"5432\"]}",
		    "{\"host\":\"{{ host }}\",\"portNumber\":"
		    "\"{{ portNumber }}\"}", "db.internal", "", 5432 },
		{ "{\"portNumber\":[\"0\"]}",
		    "{\"portNumber\":\"{{ portNumber }}\"}", NULL, NULL, 0 },
		{ "{\"portNumber\":[\"65536\"]}",
		    "{\"portNumber\":\"{{ portNumber }}\"}", NULL, NULL, 0 },
		{ "{\"portNumber\":[\"22x\"]}",
		    "{\"portNumber\":\"{{ portNumber }}\"}", NULL, NULL, 0 },
		{ "{}", "{\"type\":\"LocalPortForwarding\"}", NULL, NULL, 0 },
		{ "{}", "{\"portNumber\":\"{{ nothere }}\"}", NULL, NULL, 0 },
	};
	char doc[2048];
	struct ss_task task;
	struct dh_err e;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"Content\":{\"SessionId\":"
		    "\"s-1\",\"Parameters\":%s,\"DocumentContent\":{"
		    "\"sessionType\":\"Port\",\"parameters\":{\"portNumber\":"
		    "{\"type\":\"String\",\"default\":\"22\"}},"
		    "\"properties\":%s}}}", t[i].params, t[i].props);
		dh_err_clear(&e);
		rc = ss_worker_parse_task(doc, strlen(doc), &task, &e);
		if (t[i].host == NULL) {
			if (rc == DH_OK)
				fail_msg("case %zu accepted: %s", i, doc);
			continue;
		}
		if (rc != DH_OK)
			fail_msg("case %zu: %s", i, e.msg);
		assert_string_equal(task.session_type, "Port");
		assert_int_equal(task.port_number, t[i].port);
		assert_string_equal(task.port_host, t[i].host);
		assert_string_equal(task.port_type, t[i].type);
		assert_non_null(strstr(task.port_props, "\"portNumber\""));
		assert_null(strstr(task.port_props, "{{"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference),
		cmocka_unit_test(test_object_lowercase_defaults),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_interactive_command),
		cmocka_unit_test(test_task_complete),
		cmocka_unit_test(test_mgr_env_copy),
		cmocka_unit_test(test_start_request),
		cmocka_unit_test(test_port_document),
	};

	return cmocka_run_group_tests_name("ss_worker", tests, NULL, NULL);
}
