/*
 * Unit tests for gw_policy: table-driven cases from tests/data/policy/<case>/
 * (policy.json plus either "cases", lines of "action resource expected", or
 * "error", a substring the parse error must contain), the wildcard matcher
 * on a table and on backtracking-hostile patterns, and the parse caps.
 * The data directory is found through $DH_ROOT (set by tests/run.sh) or the
 * current directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "gw_policy.h"

#define DATA_MAX (64 * 1024)

static const char *
root_dir(void)
{
	const char *r = getenv("DH_ROOT");

	return (r != NULL && *r != '\0') ? r : ".";
}

/* Read a whole file into b (ceiling DATA_MAX); 0 or -1 when absent. */
static int
slurp(const char *path, struct dh_buf *b)
{
	FILE *f = fopen(path, "rb");
	char chunk[4096];
	size_t n;
	int r = 0;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (dh_buf_put(b, chunk, n) != DH_OK) {
			r = -1;
			break;
		}
	}
	fclose(f);
	return r;
}

static enum gw_decision
decision_of(const char *s)
{
	if (strcmp(s, "Allow") == 0)
		return GW_POLICY_ALLOW;
	if (strcmp(s, "ExplicitDeny") == 0)
		return GW_POLICY_EXPLICIT_DENY;
	if (strcmp(s, "ImplicitDeny") == 0)
		return GW_POLICY_IMPLICIT_DENY;
	fail_msg("unknown expected decision %s", s);
	return GW_POLICY_IMPLICIT_DENY;
}

/* Run one data case; returns the number of checks made. */
static int
run_case(const char *dir, const char *name)
{
	char path[2048], line[4096], action[1024], resource[2048], expect[64];
	struct dh_buf pol, errtxt;
	struct gw_policy *p = NULL;
	struct dh_err err;
	FILE *f;
	int r, checks = 0;

	dh_buf_init(&pol, DATA_MAX);
	dh_buf_init(&errtxt, 1024);
	snprintf(path, sizeof(path), "%s/%s/policy.json", dir, name);
	assert_int_equal(slurp(path, &pol), 0);
	dh_err_clear(&err);
	r = gw_policy_parse((const char *)pol.d, pol.len, &p, &err);
	snprintf(path, sizeof(path), "%s/%s/error", dir, name);
	if (slurp(path, &errtxt) == 0) {
		char *nl = strchr((char *)errtxt.d, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (r == DH_OK)
			fail_msg("%s: parse succeeded, expected error", name);
		assert_null(p);
		if (strstr(err.msg, (const char *)errtxt.d) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"", name, err.msg,
			    (const char *)errtxt.d);
		checks++;
		goto out;
	}
	if (r != DH_OK)
		fail_msg("%s: parse failed: %s", name, err.msg);
	snprintf(path, sizeof(path), "%s/%s/cases", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		enum gw_decision got, want;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%1023s %2047s %63s", action, resource,
		    expect) != 3)
			fail_msg("%s: bad case line: %s", name, line);
		want = decision_of(expect);
		got = gw_policy_eval(p, action, resource);
		if (got != want)
			fail_msg("%s: %s on %s: got %s, want %s", name, action,
			    resource, gw_policy_decision_name(got), expect);
		checks++;
	}
	fclose(f);
out:
	gw_policy_free(p);
	dh_buf_free(&pol);
	dh_buf_free(&errtxt);
	return checks;
}

static void
test_data_cases(void **state)
{
	char dir[1024];
	struct dirent *de;
	DIR *d;
	int cases = 0, checks = 0;

	snprintf(dir, sizeof(dir), "%s/tests/data/policy", root_dir());
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		checks += run_case(dir, de->d_name);
		cases++;
	}
	closedir(d);
	print_message("policy data: %d cases, %d checks\n", cases, checks);
	assert_true(cases >= 20);
}

static const struct {
	const char *pattern, *text;
	int nocase, want;
} match_cases[] = {
	{ "*", "", 0, 1 },
	{ "", "", 0, 1 },
	{ "", "a", 0, 0 },
	{ "a", "", 0, 0 },
	{ "?", "", 0, 0 },
	{ "?", "x", 0, 1 },
	{ "a*", "a", 0, 1 },
	{ "*a", "ba", 0, 1 },
	{ "*a", "ab", 0, 0 },
	{ "a*b*c", "aXbYc", 0, 1 },
	{ "a*b*c", "aXbYcZ", 0, 0 },
	{ "a*b*c", "abcbc", 0, 1 },
	{ "**a**", "xxa", 0, 1 },
	{ "*?", "", 0, 0 },
	{ "*?", "q", 0, 1 },
	{ "ssm:Describe*", "SSM:describeX", 1, 1 },
	{ "ssm:Describe*", "SSM:describeX", 0, 0 },
	{ "a*aab", "aaaaab", 0, 1 },
	{ "*ab*ab", "xabyabab", 0, 1 },
	{ "mi-*", "mi-", 0, 1 },
	{ "arn:aws:ssm:*:1:managed-instance/*",
	    "arn:aws:ssm:eu-west-1:1:managed-instance/mi-1", 0, 1 },
};

static void
test_wildcard_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		int got = gw_policy_wildcard_match(match_cases[i].pattern,
		    match_cases[i].text, match_cases[i].nocase);

		if (got != match_cases[i].want)
			fail_msg("\"%s\" vs \"%s\": got %d", match_cases[i].pattern,
			    match_cases[i].text, got);
	}
	assert_int_equal(gw_policy_wildcard_match(NULL, "a", 0), 0);
	assert_int_equal(gw_policy_wildcard_match("a", NULL, 0), 0);
}

/* A naive recursive matcher needs ~n^k steps here; ours finishes at once. */
static void
test_wildcard_pathological(void **state)
{
	char pat[256], text[4096];
	size_t i, o = 0;

	for (i = 0; i < 60; i++) {
		pat[o++] = 'a';
		pat[o++] = '*';
	}
	pat[o++] = 'b';
	pat[o] = '\0';
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(gw_policy_wildcard_match(pat, text, 0), 0);
	text[sizeof(text) - 2] = 'b';
	assert_int_equal(gw_policy_wildcard_match(pat, text, 0), 1);
}

static void
test_caps(void **state)
{
	struct dh_buf b;
	struct gw_policy *p = NULL;
	struct dh_err err;
	int i;

	/* Too many statements. */
	dh_buf_init(&b, 1 << 20);
	assert_int_equal(dh_buf_put_str(&b,
	    "{\"Version\":\"2012-10-17\",\"Statement\":["), DH_OK);
	for (i = 0; i <= GW_POLICY_MAX_STATEMENTS; i++)
		assert_int_equal(dh_buf_printf(&b,
		    "%s{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}",
		    i ? "," : ""), DH_OK);
	assert_int_equal(dh_buf_put_str(&b, "]}"), DH_OK);
	assert_int_equal(gw_policy_parse((const char *)b.d, b.len, &p, &err),
	    DH_E_TOOBIG);
	assert_null(p);
	assert_non_null(strstr(err.msg, "statements exceed"));

	/* Exactly at the cap parses. */
	dh_buf_reset(&b);
	assert_int_equal(dh_buf_put_str(&b,
	    "{\"Version\":\"2012-10-17\",\"Statement\":["), DH_OK);
	for (i = 0; i < GW_POLICY_MAX_STATEMENTS; i++)
		assert_int_equal(dh_buf_printf(&b,
		    "%s{\"Effect\":\"Deny\",\"Action\":\"s3:X%d\",\"Resource\":\"*\"}",
		    i ? "," : "", i), DH_OK);
	assert_int_equal(dh_buf_put_str(&b, "]}"), DH_OK);
	assert_int_equal(gw_policy_parse((const char *)b.d, b.len, &p, &err),
	    DH_OK);
	assert_int_equal(gw_policy_statement_count(p), GW_POLICY_MAX_STATEMENTS);
	assert_int_equal(gw_policy_eval(p, "s3:x99", "*"),
	    GW_POLICY_EXPLICIT_DENY);
	assert_int_equal(gw_policy_eval(p, "s3:x100", "*"),
	    GW_POLICY_IMPLICIT_DENY);
	gw_policy_free(p);
	p = NULL;

	/* Byte ceiling. */
	dh_buf_reset(&b);
	assert_int_equal(dh_buf_put_str(&b,
	    "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
	    "\"Action\":\"*\",\"Resource\":\"arn:"), DH_OK);
	for (i = 0; i < GW_POLICY_MAX_BYTES; i++)
		assert_int_equal(dh_buf_put_u8(&b, 'x'), DH_OK);
	assert_int_equal(dh_buf_put_str(&b, "\"}}"), DH_OK);
	assert_int_equal(gw_policy_parse((const char *)b.d, b.len, &p, &err),
	    DH_E_TOOBIG);
	assert_null(p);

	/* Deep nesting is refused by the JSON layer, not the stack. */
	dh_buf_reset(&b);
	for (i = 0; i < 200; i++)
		assert_int_equal(dh_buf_put_u8(&b, '['), DH_OK);
	for (i = 0; i < 200; i++)
		assert_int_equal(dh_buf_put_u8(&b, ']'), DH_OK);
	assert_int_equal(gw_policy_parse((const char *)b.d, b.len, &p, &err),
	    DH_E_FORMAT);
	assert_null(p);

	/* Too many values in one list. */
	dh_buf_reset(&b);
	assert_int_equal(dh_buf_put_str(&b,
	    "{\"Statement\":{\"Effect\":\"Allow\",\"Resource\":\"*\","
	    "\"Action\":["), DH_OK);
	for (i = 0; i <= GW_POLICY_MAX_VALUES; i++)
		assert_int_equal(dh_buf_printf(&b, "%s\"s:a\"", i ? "," : ""),
		    DH_OK);
	assert_int_equal(dh_buf_put_str(&b, "]}}"), DH_OK);
	assert_int_equal(gw_policy_parse((const char *)b.d, b.len, &p, &err),
	    DH_E_TOOBIG);
	assert_non_null(strstr(err.msg, "Statement[0].Action"));
	dh_buf_free(&b);
}

static void
test_eval_edges(void **state)
{
	static const char js[] =
	    "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
	    "\"Action\":\"ssm:*\",\"Resource\":\"*\"}}";
	struct gw_policy *p = NULL;
	struct dh_err err;

	assert_int_equal(gw_policy_parse(js, sizeof(js) - 1, &p, &err), DH_OK);
	assert_int_equal(gw_policy_eval(NULL, "ssm:A", "*"),
	    GW_POLICY_IMPLICIT_DENY);
	assert_int_equal(gw_policy_eval(p, NULL, "*"), GW_POLICY_IMPLICIT_DENY);
	assert_int_equal(gw_policy_eval(p, "ssm:A", NULL),
	    GW_POLICY_IMPLICIT_DENY);
	assert_int_equal(gw_policy_eval(p, "ssm:A", ""),
	    GW_POLICY_IMPLICIT_DENY);
	assert_int_equal(gw_policy_eval(p, "ssm:", "*"),
	    GW_POLICY_IMPLICIT_DENY);
	assert_int_equal(gw_policy_eval(p, ":A", "*"), GW_POLICY_IMPLICIT_DENY);
	assert_int_equal(gw_policy_eval(p, "ssm:A", "*"), GW_POLICY_ALLOW);
	assert_string_equal(gw_policy_decision_name(GW_POLICY_ALLOW), "Allow");
	gw_policy_free(p);
	gw_policy_free(NULL);
	assert_int_equal(gw_policy_parse(NULL, 0, &p, &err), DH_E_ARG);
	assert_null(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_cases),
		cmocka_unit_test(test_wildcard_table),
		cmocka_unit_test(test_wildcard_pathological),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_eval_edges),
	};

	return cmocka_run_group_tests_name("gw_policy", tests, NULL, NULL);
}
