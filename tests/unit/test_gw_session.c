/*
 * Unit tests for gw_session against a temporary store and a real gw_ctrl:
 * preference minutes (table), the interactive_shell payload (double-encoded
 * Content, parameter lists), and the handlers: StartSession refusals
 * (unknown / unconnected target, unknown or non-Session document),
 * SessionId / StreamUrl shapes, interactive_shell on the control channel,
 * DescribeSessions Active/History with filters and paging, ResumeSession
 * (owner only; empty token once ended), TerminateSession, and sessions
 * adopted again after a restart.
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
#include "dh_mgs.h"
#include "gw_auth.h"
#include "gw_ctrl.h"
#include "gw_session.h"
#include "gw_store.h"
#include "gw_testutil.h"

#define T0 1790000000000LL
#define INST "mi-0123456789abcdef0"

struct mcase {
	const char *inputs;
	int64_t dflt, want;
	int ok;
};

static const struct mcase mcases[] = {
	{ "{}", 20, 20, 1 },
	{ "{\"idleSessionTimeout\":\"\"}", 20, 20, 1 },
	{ "{\"idleSessionTimeout\":\"5\"}", 20, 5, 1 },
	{ "{\"idleSessionTimeout\":7}", 20, 7, 1 },
	{ "{\"idleSessionTimeout\":\"x\"}", 20, 20, 0 },
	{ "{\"idleSessionTimeout\":\"5m\"}", 20, 20, 0 },
	{ "{\"idleSessionTimeout\":1.5}", 20, 20, 0 },
	{ "{\"idleSessionTimeout\":\"9999\"}", 20, 20, 0 },
	{ "{\"idleSessionTimeout\":true}", 20, 20, 0 },
};

static void
test_minutes(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		cJSON *in = NULL;
		int64_t v = -1;
		int r;

		assert_int_equal(dh_json_parse(mcases[i].inputs,
		    strlen(mcases[i].inputs), 4096, &in, NULL), DH_OK);
		r = gw_session_minutes(in, "idleSessionTimeout", mcases[i].dflt,
		    &v);
		if ((r == DH_OK) != mcases[i].ok || (r == DH_OK &&
		    v != mcases[i].want))
			fail_msg("case %zu: r=%d v=%lld", i, r, (long long)v);
		cJSON_Delete(in);
	}
}

static void
test_shell_payload(void **state)
{
	const char *params = "{\"portNumber\":[\"22\"],\"cmds\":[\"a\",\"b\"]}";
	cJSON *p = NULL, *doc = NULL, *out = NULL, *inner = NULL;
	const cJSON *ip;
	struct dh_buf b;

	(void)state;
	assert_int_equal(dh_json_parse(params, strlen(params), 4096, &p, NULL),
	    DH_OK);
	assert_int_equal(dh_json_parse("{\"sessionType\":\"Port\"}", 22, 4096,
	    &doc, NULL), DH_OK);
	dh_buf_init(&b, 1 << 16);
	assert_int_equal(gw_session_shell_payload("alice-0123", "AWS-X",
	    "arn:aws:iam::1:user/alice", "", p, doc, &b, NULL), DH_OK);
	assert_int_equal(dh_json_parse(b.d, b.len, 1 << 16, &out, NULL), DH_OK);
	assert_string_equal(cJSON_GetObjectItem(out, "TaskId")->valuestring,
	    "alice-0123");
	assert_int_equal(cJSON_GetObjectItem(out, "SchemaVersion")->valueint, 1);
	ip = cJSON_GetObjectItem(out, "Content");
	assert_true(cJSON_IsString(ip));
	assert_int_equal(dh_json_parse(ip->valuestring, strlen(ip->valuestring),
	    1 << 16, &inner, NULL), DH_OK);
	assert_string_equal(cJSON_GetObjectItem(inner, "SessionId")->valuestring,
	    "alice-0123");
	assert_string_equal(cJSON_GetObjectItem(inner,
	    "SessionOwner")->valuestring, "arn:aws:iam::1:user/alice");
	ip = cJSON_GetObjectItem(inner, "Parameters");
	assert_string_equal(cJSON_GetObjectItem(ip, "portNumber")->valuestring,
	    "22");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ip, "cmds")), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(inner,
	    "DocumentContent"), "sessionType")->valuestring, "Port");
	cJSON_Delete(inner);
	cJSON_Delete(out);
	cJSON_Delete(doc);
	cJSON_Delete(p);
	dh_buf_free(&b);
}

/* ------------------------------------------------------------ handlers */

struct fx {
	char dir[64], db[96];
	struct gw_store *st;
	struct gw_ctrl *ctrl;
	struct gw_ctrl_conn *cconn;
	struct gw_session *sess;
	struct gw_principal who;
	int handle;
};

static int
open_ctrl(struct fx *f)
{
	const char *tv, *end;
	struct dh_buf xml;
	char msg[256];

	dh_buf_init(&xml, 4096);
	if (gw_ctrl_create_channel(f->ctrl, INST, NULL, T0, &xml, NULL) !=
	    DH_OK)
		return -1;
	tv = strstr(dh_buf_cstr(&xml), "<TokenValue>") + 12;
	end = strstr(tv, "</TokenValue>");
	snprintf(msg, sizeof(msg), "{\"TokenValue\":\"%.*s\"}", (int)(end - tv),
	    tv);
	dh_buf_free(&xml);
	if (gw_ctrl_ws_attach(f->ctrl, INST, &f->handle, T0, &f->cconn, NULL) !=
	    DH_OK)
		return -1;
	return gw_ctrl_ws_text(f->ctrl, f->cconn, msg, strlen(msg), T0, NULL);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct gw_store_instance *in = calloc(1, sizeof(*in));

	if (in == NULL || gw_test_store_open("/tmp/gwsessXXXXXX", f->dir, f->db,
	    &f->st) != 0 || gw_ctrl_new(f->st, &f->ctrl, NULL) != DH_OK)
		return -1;
	snprintf(in->id, sizeof(in->id), INST);
	in->registered_ms = T0;
	if (gw_store_instance_put(f->st, in, NULL) != DH_OK)
		return -1;
	free(in);
	if (open_ctrl(f) != DH_OK || gw_session_new(f->st, f->ctrl,
	    "us-east-1", "123456789012", T0, &f->sess, NULL) != DH_OK)
		return -1;
	f->who.kind = GW_AUTH_OPERATOR;
	snprintf(f->who.name, sizeof(f->who.name), "alice");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	gw_session_free(f->sess);
	gw_ctrl_free(f->ctrl);
	gw_test_store_close(f->st, f->dir, f->db);
	free(f);
	return 0;
}

static const char *
run(struct fx *f, const char *name, const char *json, int64_t now,
    cJSON **body)
{
	static char code[64];
	struct gw_ssm_result res;
	struct gw_ssm_ctx c;
	cJSON *in = NULL;
	size_t i;

	assert_int_equal(dh_json_parse(json, strlen(json), 1 << 16, &in, NULL),
	    DH_OK);
	gw_test_ctx(&c, f->st, &f->who, now);
	memset(&res, 0, sizeof(res));
	c.sessions = f->sess;
	c.host = "gw.example:8443";
	for (i = 0; i < gw_session_n_ops; i++)
		if (strcmp(gw_session_ops[i].name, name) == 0)
			(void)gw_session_ops[i].fn(&c, in, &res);
	cJSON_Delete(in);
	snprintf(code, sizeof(code), "%s", res.error_code != NULL ?
	    res.error_code : "");
	if (body != NULL) {
		*body = res.body;
		res.body = NULL;
	}
	gw_ssm_result_free(&res);
	return code;
}

static const char *
str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static int
count_sessions(struct fx *f, const char *req)
{
	cJSON *b = NULL;
	int n;

	assert_string_equal(run(f, "DescribeSessions", req, T0, &b), "");
	n = cJSON_GetArraySize(cJSON_GetObjectItem(b, "Sessions"));
	cJSON_Delete(b);
	return n;
}

static void
test_start_describe_terminate(void **state)
{
	struct fx *f = *state;
	char sid[128], sid2[128], url[256], req[256];
	struct dh_mgs_msg m;
	struct dh_buf fr;
	cJSON *b = NULL, *s;

	assert_string_equal(run(f, "StartSession", "{\"Target\":"
	    "\"mi-00000000000000009\"}", T0, NULL), "TargetNotConnected");
	assert_string_equal(run(f, "StartSession", "{}", T0, NULL),
	    "ValidationException");
	assert_string_equal(run(f, "StartSession", "{\"Target\":\"" INST "\","
	    "\"DocumentName\":\"Nope\"}", T0, NULL), "InvalidDocument");
	assert_string_equal(run(f, "StartSession", "{\"Target\":\"" INST "\","
	    "\"Parameters\":{\"a\":\"notalist\"}}", T0, NULL),
	    "ValidationException");
	assert_string_equal(run(f, "StartSession", "{\"Target\":\"" INST "\","
	    "\"Reason\":\"why\"}", T0, &b), "");
	snprintf(sid, sizeof(sid), "%s", str(b, "SessionId"));
	assert_int_equal(strlen(sid), strlen("alice-") + 17);
	assert_memory_equal(sid, "alice-", 6);
	snprintf(url, sizeof(url), "wss://gw.example:8443/v1/data-channel/%s"
	    "?role=publish_subscribe", sid);
	assert_string_equal(str(b, "StreamUrl"), url);
	assert_int_equal(strlen(str(b, "TokenValue")), 64);
	cJSON_Delete(b);
	/* interactive_shell went to the agent. */
	dh_buf_init(&fr, 1 << 20);
	assert_int_equal(gw_ctrl_next_out(f->cconn, &fr), 1);
	assert_int_equal(dh_mgs_decode(fr.d, fr.len, DH_MGS_DEC_DIGEST, &m,
	    NULL), DH_OK);
	assert_true(dh_mgs_is(&m, DH_MGS_T_INTERACTIVE_SHELL));
	dh_buf_free(&fr);
	assert_string_equal(run(f, "StartSession", "{\"Target\":\"" INST "\","
	    "\"DocumentName\":\"AWS-StartSSHSession\",\"Parameters\":"
	    "{\"portNumber\":[\"2222\"]}}", T0 + 1000, &b), "");
	snprintf(sid2, sizeof(sid2), "%s", str(b, "SessionId"));
	cJSON_Delete(b);
	/* Active, newest first, paging. */
	assert_string_equal(run(f, "DescribeSessions", "{\"State\":\"Active\","
	    "\"MaxResults\":1}", T0, &b), "");
	s = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "Sessions"), 0);
	assert_string_equal(str(s, "SessionId"), sid2);
	assert_string_equal(str(s, "Status"), "Connecting");
	assert_string_equal(str(s, "DocumentName"), "AWS-StartSSHSession");
	assert_string_equal(str(b, "NextToken"), "1");
	cJSON_Delete(b);
	assert_string_equal(run(f, "DescribeSessions", "{\"State\":\"Active\","
	    "\"MaxResults\":1,\"NextToken\":\"1\"}", T0, &b), "");
	s = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "Sessions"), 0);
	assert_string_equal(str(s, "SessionId"), sid);
	assert_string_equal(str(s, "Reason"), "why");
	assert_string_equal(str(s, "Owner"),
	    "arn:aws:iam::123456789012:user/alice");
	assert_null(cJSON_GetObjectItem(b, "NextToken"));
	cJSON_Delete(b);
	assert_int_equal(count_sessions(f, "{\"State\":\"Active\",\"Filters\":"
	    "[{\"key\":\"Target\",\"value\":\"" INST "\"}]}"), 2);
	assert_int_equal(count_sessions(f, "{\"State\":\"Active\",\"Filters\":"
	    "[{\"key\":\"InvokedAfter\",\"value\":\"2026-09-21T12:00:00Z\"}]}"),
	    2);
	assert_int_equal(count_sessions(f, "{\"State\":\"Active\",\"Filters\":"
	    "[{\"key\":\"InvokedBefore\",\"value\":\"2020-01-01T00:00:00Z\"}]}"),
	    0);
	assert_int_equal(count_sessions(f, "{\"State\":\"Active\",\"Filters\":"
	    "[{\"key\":\"Owner\",\"value\":\"arn:aws:iam::1:user/bob\"}]}"), 0);
	assert_string_equal(run(f, "DescribeSessions", "{\"State\":\"Active\","
	    "\"Filters\":[{\"key\":\"Colour\",\"value\":\"x\"}]}", T0, NULL),
	    "InvalidFilterKey");
	assert_string_equal(run(f, "DescribeSessions", "{\"State\":\"Later\"}",
	    T0, NULL), "ValidationException");
	/* Resume: owner only. */
	snprintf(req, sizeof(req), "{\"SessionId\":\"%s\"}", sid);
	assert_string_equal(run(f, "ResumeSession", req, T0, &b), "");
	assert_int_equal(strlen(str(b, "TokenValue")), 64);
	cJSON_Delete(b);
	snprintf(f->who.name, sizeof(f->who.name), "bob");
	assert_string_equal(run(f, "ResumeSession", req, T0, NULL),
	    "AccessDeniedException");
	snprintf(f->who.name, sizeof(f->who.name), "alice");
	assert_string_equal(run(f, "ResumeSession", "{\"SessionId\":\"x-1\"}",
	    T0, NULL), "DoesNotExistException");
	/* Terminate: history; resume then yields an empty token. */
	assert_string_equal(run(f, "TerminateSession", req, T0 + 2000, &b), "");
	assert_string_equal(str(b, "SessionId"), sid);
	cJSON_Delete(b);
	assert_int_equal(count_sessions(f, "{\"State\":\"History\"}"), 1);
	assert_int_equal(count_sessions(f, "{\"State\":\"Active\"}"), 1);
	assert_string_equal(run(f, "ResumeSession", req, T0, &b), "");
	assert_string_equal(str(b, "TokenValue"), "");
	cJSON_Delete(b);
	assert_string_equal(run(f, "DescribeSessions", "{\"State\":\"History\"}",
	    T0, &b), "");
	s = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "Sessions"), 0);
	assert_string_equal(str(s, "Status"), "Terminated");
	assert_non_null(cJSON_GetObjectItem(s, "EndDate"));
	cJSON_Delete(b);
	/* A restart adopts the live session; terminating it still works. */
	gw_session_free(f->sess);
	assert_int_equal(gw_session_new(f->st, f->ctrl, "us-east-1",
	    "123456789012", T0 + 3000, &f->sess, NULL), DH_OK);
	snprintf(req, sizeof(req), "{\"SessionId\":\"%s\"}", sid2);
	assert_string_equal(run(f, "TerminateSession", req, T0 + 4000, NULL),
	    "");
	assert_int_equal(count_sessions(f, "{\"State\":\"History\"}"), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minutes),
		cmocka_unit_test(test_shell_payload),
		cmocka_unit_test_setup_teardown(test_start_describe_terminate,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("gw_session", tests, NULL, NULL);
}
