/*
 * Unit tests for cli_plugin: the session-manager-plugin command line as
 * the aws CLI builds it (JSON response in argv, or in an
 * AWS_SSM_START_SESSION_RESPONSE* variable that is then removed), the
 * no-argument and --version forms, unknown forms, missing members, and the
 * token blanked from argv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli_plugin.h"
#include "dh_err.h"

#define RESP "{\"SessionId\":\"admin-0a1b\",\"TokenValue\":\"tok-123\"," \
	"\"StreamUrl\":\"wss://gw:8443/v1/data-channel/admin-0a1b?role=" \
	"publish_subscribe\",\"ResponseMetadata\":{\"RequestId\":\"r\"}}"
#define PARAMS "{\"Target\":\"mi-0123456789abcdef0\"," \
	"\"DocumentName\":\"SSM-SessionManagerRunShell\"}"

static void
test_forms(void **state)
{
	char *a1[] = { "session-manager-plugin", NULL };
	char *a2[] = { "session-manager-plugin", "--version", NULL };
	char *a3[] = { "session-manager-plugin", "x", "y", NULL };
	char empty[] = "{}";   /* parsed, then blanked: must be writable */
	char *a4[] = { "session-manager-plugin", empty, "us-east-1",
	    "StartSession", NULL };
	char *a7[] = { "session-manager-plugin", "{}", "us-east-1",
	    "Resume", "", PARAMS, "https://x", NULL };
	struct cli_plugin_args a;
	enum cli_plugin_op op;
	struct dh_err e;

	assert_int_equal(cli_plugin_parse(1, a1, &op, &a, NULL), DH_OK);
	assert_int_equal(op, CLI_PLUGIN_INSTALLED);
	assert_int_equal(cli_plugin_parse(2, a2, &op, &a, NULL), DH_OK);
	assert_int_equal(op, CLI_PLUGIN_VERSION);
	dh_err_clear(&e);
	assert_int_equal(cli_plugin_parse(3, a3, &op, &a, &e), DH_E_ARG);
	assert_non_null(strstr(e.msg, "Unknown operation"));
	assert_int_equal(cli_plugin_parse(4, a4, &op, &a, NULL), DH_E_FORMAT);
	assert_int_equal(cli_plugin_parse(7, a7, &op, &a, NULL), DH_E_ARG);
}

static void
test_json_response(void **state)
{
	char resp[] = RESP, params[] = PARAMS;
	char *argv[] = { "session-manager-plugin", resp, "us-east-1",
	    "StartSession", "ops", params, "https://127.0.0.1:8443", NULL };
	struct cli_plugin_args a;
	enum cli_plugin_op op;

	assert_int_equal(cli_plugin_parse(7, argv, &op, &a, NULL), DH_OK);
	assert_int_equal(op, CLI_PLUGIN_START);
	assert_string_equal(a.session_id, "admin-0a1b");
	assert_string_equal(a.token, "tok-123");
	assert_string_equal(a.stream_url, "wss://gw:8443/v1/data-channel/"
	    "admin-0a1b?role=publish_subscribe");
	assert_string_equal(a.region, "us-east-1");
	assert_string_equal(a.profile, "ops");
	assert_string_equal(a.target, "mi-0123456789abcdef0");
	assert_string_equal(a.endpoint, "https://127.0.0.1:8443");
	/* the token no longer shows in argv */
	assert_null(strstr(resp, "tok-123"));
	assert_int_equal(resp[0], '\0');
}

static void
test_env_response(void **state)
{
	char name[] = "AWS_SSM_START_SESSION_RESPONSE_42", params[] = PARAMS;
	char *argv[] = { "session-manager-plugin", name, "eu-west-1",
	    "StartSession", "", params, "", NULL };
	struct cli_plugin_args a;
	enum cli_plugin_op op;

	assert_int_equal(setenv(name, RESP, 1), 0);
	assert_int_equal(cli_plugin_parse(7, argv, &op, &a, NULL), DH_OK);
	assert_string_equal(a.token, "tok-123");
	assert_string_equal(a.region, "eu-west-1");
	assert_string_equal(a.profile, "");
	assert_null(getenv("AWS_SSM_START_SESSION_RESPONSE_42"));
	assert_int_equal(cli_plugin_parse(7, argv, &op, &a, NULL), DH_E_ARG);
}

static void
test_bad_members(void **state)
{
	static const struct { const char *resp, *params, *region; int rc; } t[] = {
		{ "{\"SessionId\":\"s\",\"StreamUrl\":\"u\"}", PARAMS,
		    "us-east-1", DH_E_FORMAT },
		{ "{\"SessionId\":\"s\",\"TokenValue\":\"\",\"StreamUrl\":"
		    "\"u\"}", PARAMS, "us-east-1", DH_E_FORMAT },
		{ "[]", PARAMS, "us-east-1", DH_E_FORMAT },
		{ "{\"SessionId\":", PARAMS, "us-east-1", DH_E_FORMAT },
		{ RESP, "{}", "us-east-1", DH_E_FORMAT },
		{ RESP, "{\"Target\":7}", "us-east-1", DH_E_FORMAT },
		{ RESP, PARAMS, "", DH_E_FORMAT },
	};
	struct cli_plugin_args a;
	enum cli_plugin_op op;
	char resp[512], params[256], region[32];
	char *argv[8];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(resp, sizeof(resp), "%s", t[i].resp);
		snprintf(params, sizeof(params), "%s", t[i].params);
		snprintf(region, sizeof(region), "%s", t[i].region);
		argv[0] = "session-manager-plugin";
		argv[1] = resp;
		argv[2] = region;
		argv[3] = "StartSession";
		argv[4] = "";
		argv[5] = params;
		argv[6] = "https://x";
		argv[7] = NULL;
		assert_int_equal(cli_plugin_parse(7, argv, &op, &a, NULL),
		    t[i].rc);
		assert_string_equal(a.token, "");
	}
}

/* The legacy form: RESPONSE REGION StartSession, nothing after. */
static void
test_legacy_form(void **state)
{
	char resp[] = RESP;
	char *argv[] = { "session-manager-plugin", resp, "ap-south-1",
	    "StartSession", NULL };
	struct cli_plugin_args a;
	enum cli_plugin_op op;

	assert_int_equal(cli_plugin_parse(4, argv, &op, &a, NULL), DH_OK);
	assert_int_equal(op, CLI_PLUGIN_START);
	assert_string_equal(a.session_id, "admin-0a1b");
	assert_string_equal(a.token, "tok-123");
	assert_string_equal(a.region, "ap-south-1");
	assert_string_equal(a.target, "");
	assert_string_equal(a.endpoint, "");
	assert_string_equal(a.profile, "");
	assert_int_equal(resp[0], '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_json_response),
		cmocka_unit_test(test_env_response),
		cmocka_unit_test(test_bad_members),
		cmocka_unit_test(test_legacy_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
