/*
 * Unit tests for cli_creds (credential_process): the splitter against a
 * table whose expected words come from Python's shlex.split, the output
 * parser (valid, optional token, version, missing keys, expiry, limits),
 * and real child processes (/bin/sh printing JSON, a failing command, a
 * missing program, output over the cap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli_creds.h"
#include "dh_err.h"

#define NOW 1800000000 /* 2027-01-15T08:00:00Z */

static void
test_split_like_shlex(void **state)
{
	static const struct {
		const char *cmd;
		const char *words[6];
	} t[] = {
		{ "aws-vault exec prod --json",
		    { "aws-vault", "exec", "prod", "--json" } },
		{ "  /usr/bin/python3   /opt/creds.py  ",
		    { "/usr/bin/python3", "/opt/creds.py" } },
		{ "cmd 'a b' \"c d\"", { "cmd", "a b", "c d" } },
		{ "cmd 'it''s' x", { "cmd", "its", "x" } },
		{ "cmd \"a\\\"b\" \"c\\\\d\" \"e\\xf\"",
		    { "cmd", "a\"b", "c\\d", "e\\xf" } },
		{ "cmd a\\ b \\'q", { "cmd", "a b", "'q" } },
		{ "cmd '' \"\"", { "cmd", "", "" } },
		{ "cmd 'a'\"b\"c", { "cmd", "abc" } },
		{ "cmd\ttab\nnl", { "cmd", "tab", "nl" } },
		{ "cmd '$HOME' \"`x`\"", { "cmd", "$HOME", "`x`" } },
	};
	char buf[256], *argv[8];
	size_t i, j, argc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(cli_creds_split(t[i].cmd, buf, sizeof(buf),
		    argv, 8, &argc, NULL), DH_OK);
		for (j = 0; t[i].words[j] != NULL; j++) {
			assert_true(j < argc);
			assert_string_equal(argv[j], t[i].words[j]);
		}
		assert_int_equal(argc, j);
		assert_null(argv[argc]);
	}
}

static void
test_split_errors(void **state)
{
	static const struct { const char *cmd; int rc; } t[] = {
		{ "cmd 'open", DH_E_FORMAT }, { "cmd \"open", DH_E_FORMAT },
		{ "cmd trailing\\", DH_E_FORMAT }, { "", DH_E_FORMAT },
		{ "   ", DH_E_FORMAT }, { "a b c d e f g h i", DH_E_TOOBIG },
		{ "0123456789012345678901234567890123456789", DH_E_TOOBIG },
	};
	char buf[32], *argv[8];
	size_t i, argc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(cli_creds_split(t[i].cmd, buf, sizeof(buf),
		    argv, 8, &argc, NULL), t[i].rc);
}

static void
test_parse(void **state)
{
	static const struct { const char *json; int rc; const char *token; } t[] = {
		{ "{\"Version\":1,\"AccessKeyId\":\"AKIDEXAMPLE\","
		    "\"SecretAccessKey\":\"s3cr3t\",\"SessionToken\":\"tok\","
		    "\"Expiration\":\"2027-01-15T09:00:00Z\"}", DH_OK, "tok" },
		{ "{\"Version\":1,\"AccessKeyId\":\"AKIDEXAMPLE\","
		    "\"SecretAccessKey\":\"s3cr3t\"}", DH_OK, "" },
		{ "{\"Version\":2,\"AccessKeyId\":\"AKIDEXAMPLE\","
		    "\"SecretAccessKey\":\"s3cr3t\"}", DH_E_FORMAT, NULL },
		{ "{\"AccessKeyId\":\"AKIDEXAMPLE\","
		    "\"SecretAccessKey\":\"s3cr3t\"}", DH_E_FORMAT, NULL },
		{ "{\"Version\":1,\"SecretAccessKey\":\"s3cr3t\"}",
		    DH_E_FORMAT, NULL },
		{ "{\"Version\":1,\"AccessKeyId\":\"AKIDEXAMPLE\","
		    "\"SecretAccessKey\":\"\"}", DH_E_FORMAT, NULL },
		{ "{\"Version\":1,\"AccessKeyId\":\"AKIDEXAMPLE\","
		    "\"SecretAccessKey\":\"s3cr3t\",\"SessionToken\":7}",
		    DH_E_FORMAT, NULL },
		{ "{\"Version\":1,\"AccessKeyId\":\"AKIDEXAMPLE\","
		    "\"SecretAccessKey\":\"s3cr3t\","
		    "\"Expiration\":\"2027-01-15T07:59:59Z\"}", DH_E_AUTH, NULL },
		{ "{\"Version\":1,\"AccessKeyId\":\"AKIDEXAMPLE\","
		    "\"SecretAccessKey\":\"s3cr3t\",\"Expiration\":\"soon\"}",
		    DH_E_FORMAT, NULL },
		{ "[1]", DH_E_FORMAT, NULL },
		{ "{\"Version\":1,", DH_E_FORMAT, NULL },
		{ "", DH_E_FORMAT, NULL },
	};
	struct cli_creds_keys k;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(cli_creds_parse(t[i].json, strlen(t[i].json),
		    NOW, &k, NULL), t[i].rc);
		if (t[i].rc == DH_OK) {
			assert_string_equal(k.access, "AKIDEXAMPLE");
			assert_string_equal(k.secret, "s3cr3t");
			assert_string_equal(k.token, t[i].token);
		} else {
			assert_string_equal(k.secret, "");
		}
	}
}

static void
test_parse_token_too_long(void **state)
{
	struct cli_creds_keys k;
	char *j = malloc(8192);
	int n;

	assert_non_null(j);
	n = snprintf(j, 8192, "{\"Version\":1,\"AccessKeyId\":\"A\","
	    "\"SecretAccessKey\":\"S\",\"SessionToken\":\"%05000d\"}", 0);
	assert_int_equal(cli_creds_parse(j, (size_t)n, NOW, &k, NULL),
	    DH_E_TOOBIG);
	free(j);
}

static void
test_process(void **state)
{
	struct cli_creds_keys k;
	struct dh_err e;

	assert_int_equal(cli_creds_process("/bin/sh -c 'printf \"%s\" "
	    "\"{\\\"Version\\\":1,\\\"AccessKeyId\\\":\\\"AKIDPROC\\\","
	    "\\\"SecretAccessKey\\\":\\\"procsecret\\\"}\"'", NOW, &k, NULL),
	    DH_OK);
	assert_string_equal(k.access, "AKIDPROC");
	assert_string_equal(k.secret, "procsecret");
	dh_err_clear(&e);
	assert_int_equal(cli_creds_process("/bin/sh -c 'exit 3'", NOW, &k,
	    &e), DH_E_IO);
	assert_non_null(strstr(e.msg, "status 3"));
	assert_int_equal(cli_creds_process("/nonexistent/helper --flag", NOW,
	    &k, NULL), DH_E_IO);
	assert_int_equal(cli_creds_process("/bin/sh -c 'head -c 70000 "
	    "/dev/zero'", NOW, &k, NULL), DH_E_TOOBIG);
	assert_int_equal(cli_creds_process("/bin/echo not-json", NOW, &k,
	    NULL), DH_E_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_like_shlex),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_token_too_long),
		cmocka_unit_test(test_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
