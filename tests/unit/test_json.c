/*
 * Unit tests for dh_json: the size ceiling, the depth limit (64, brackets
 * inside strings ignored), trailing data, NUL bytes, input that is not
 * NUL-terminated, and the typed getters with missing, mistyped and
 * out-of-range members naming the key in the error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_json.h"

struct parse_case {
	const char *in;
	size_t n;   /* 0: strlen(in) */
	int want;
	const char *msg; /* expected error (NULL when want == DH_OK) */
};

static const struct parse_case parse_cases[] = {
	{ "{}", 0, DH_OK, NULL },
	{ " \n{\"a\": [1, 2, {\"b\": null}]}\t\r\n ", 0, DH_OK, NULL },
	{ "\"just a string\"", 0, DH_OK, NULL },
	{ "42", 0, DH_OK, NULL },
	{ "", 0, DH_E_FORMAT, "empty JSON document" },
	{ "   ", 0, DH_E_FORMAT, "malformed JSON near byte 2" },
	{ "{} x", 0, DH_E_FORMAT, "trailing data after JSON document" },
	{ "{}{}", 0, DH_E_FORMAT, "trailing data after JSON document" },
	{ "[1, 2", 0, DH_E_FORMAT, "malformed JSON near byte 4" },
	{ "{\"a\" 1}", 0, DH_E_FORMAT, "malformed JSON near byte 5" },
	{ "{\"a\":1}\0", 8, DH_E_FORMAT, "JSON contains a NUL byte" },
	{ "{\"a\":\"x\0y\"}", 11, DH_E_FORMAT, "JSON contains a NUL byte" },
	{ "{\"a\":\"x\\u0000y\"}", 0, DH_OK, NULL },
	/* only n bytes count: the rest of the literal is outside the input */
	{ "{\"a\":1}GARBAGE", 7, DH_OK, NULL },
	{ "[1]", 2, DH_E_FORMAT, "malformed JSON near byte 1" },
	{ "\"abc\\", 0, DH_E_FORMAT, NULL },
	{ "\"\\u12", 0, DH_E_FORMAT, NULL },
	{ "\"\\ud800\"", 0, DH_E_FORMAT, NULL },
	{ "tru", 0, DH_E_FORMAT, NULL },
	{ "nul", 0, DH_E_FORMAT, NULL },
	{ "-", 0, DH_E_FORMAT, NULL },
	{ "]]]]{}", 0, DH_E_FORMAT, "malformed JSON near byte 0" },
};

static void
test_parse_table(void **state)
{
	struct dh_err err;
	cJSON *j;
	size_t i, n;
	int r;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		n = parse_cases[i].n != 0 ? parse_cases[i].n :
		    strlen(parse_cases[i].in);
		dh_err_clear(&err);
		j = (cJSON *)&err;
		r = dh_json_parse(parse_cases[i].in, n, 1024, &j, &err);
		if (r != parse_cases[i].want)
			fail_msg("case %zu: got %d (%s), want %d", i, r, err.msg,
			    parse_cases[i].want);
		if (r == DH_OK) {
			assert_non_null(j);
			cJSON_Delete(j);
			continue;
		}
		assert_null(j);
		if (parse_cases[i].msg != NULL &&
		    strcmp(err.msg, parse_cases[i].msg) != 0)
			fail_msg("case %zu: message \"%s\", want \"%s\"", i,
			    err.msg, parse_cases[i].msg);
	}
}

static void
test_size_limit(void **state)
{
	struct dh_err err;
	cJSON *j;

	assert_int_equal(dh_json_parse("[1,2,3]", 7, 7, &j, &err), DH_OK);
	cJSON_Delete(j);
	assert_int_equal(dh_json_parse("[1,2,3]", 7, 6, &j, &err),
	    DH_E_TOOBIG);
	assert_string_equal(err.msg,
	    "JSON document of 7 bytes exceeds limit of 6");
	assert_null(j);
}

/* n nested arrays around a 1, optionally with brackets inside a string. */
static char *
nested(int n, const char *inner)
{
	size_t il = strlen(inner), len = 2 * (size_t)n + il;
	char *p = malloc(len + 1);
	int i;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		p[i] = '[';
		p[(size_t)n + il + (size_t)i] = ']';
	}
	memcpy(p + n, inner, il);
	p[len] = '\0';
	return p;
}

static void
test_depth(void **state)
{
	struct dh_err err;
	cJSON *j;
	char *p;

	p = nested(64, "1");
	assert_int_equal(dh_json_parse(p, strlen(p), 1 << 20, &j, &err), DH_OK);
	cJSON_Delete(j);
	free(p);
	p = nested(65, "1");
	assert_int_equal(dh_json_parse(p, strlen(p), 1 << 20, &j, &err),
	    DH_E_FORMAT);
	assert_string_equal(err.msg, "JSON nested deeper than 64 levels");
	free(p);
	/* brackets inside strings (with escaped quotes) do not count */
	p = nested(60, "\"[[[[[[[[[[\\\"[[[[{{{{{{{{\"");
	assert_int_equal(dh_json_parse(p, strlen(p), 1 << 20, &j, &err), DH_OK);
	cJSON_Delete(j);
	free(p);
	/* a huge depth is refused before cJSON recurses */
	p = nested(100000, "1");
	assert_int_equal(dh_json_parse(p, strlen(p), 1 << 20, &j, &err),
	    DH_E_FORMAT);
	free(p);
}

static const char doc[] =
	"{\"s\":\"text\",\"n\":7,\"neg\":-3,\"f\":1.5,\"big\":1e300,"
	"\"b\":true,\"nul\":null,\"arr\":[1],\"obj\":{},"
	"\"max\":9223372036854775807,\"min\":-9223372036854775808}";

static void
test_getters(void **state)
{
	struct dh_err err;
	const char *s;
	int64_t v;
	int present, b;
	cJSON *j;

	assert_int_equal(dh_json_parse(doc, strlen(doc), 4096, &j, &err), DH_OK);

	assert_int_equal(dh_json_get_str(j, "s", &s, &err), DH_OK);
	assert_string_equal(s, "text");
	assert_int_equal(dh_json_get_str(j, "missing", &s, &err), DH_E_FORMAT);
	assert_string_equal(err.msg, "missing string \"missing\"");
	assert_int_equal(dh_json_get_str(j, "n", &s, &err), DH_E_FORMAT);
	assert_string_equal(err.msg, "\"n\" must be a string");
	assert_int_equal(dh_json_get_str(j, "nul", &s, &err), DH_E_FORMAT);
	assert_string_equal(err.msg, "missing string \"nul\"");
	assert_int_equal(dh_json_opt_str(j, "missing", &s, &err), DH_OK);
	assert_null(s);
	assert_int_equal(dh_json_opt_str(j, "nul", &s, &err), DH_OK);
	assert_null(s);
	assert_int_equal(dh_json_opt_str(j, "arr", &s, &err), DH_E_FORMAT);
	assert_string_equal(err.msg, "\"arr\" must be a string");
	/* case-sensitive keys */
	assert_int_equal(dh_json_opt_str(j, "S", &s, &err), DH_OK);
	assert_null(s);

	assert_int_equal(dh_json_get_int(j, "n", 0, 10, &v, &err), DH_OK);
	assert_int_equal(v, 7);
	assert_int_equal(dh_json_get_int(j, "neg", -5, 0, &v, &err), DH_OK);
	assert_int_equal(v, -3);
	assert_int_equal(dh_json_get_int(j, "n", 0, 6, &v, &err), DH_E_FORMAT);
	assert_string_equal(err.msg, "\"n\" must be an integer in [0, 6]");
	assert_int_equal(dh_json_get_int(j, "f", 0, 10, &v, &err),
	    DH_E_FORMAT);
	assert_string_equal(err.msg, "\"f\" must be an integer in [0, 10]");
	assert_int_equal(dh_json_get_int(j, "big", INT64_MIN, INT64_MAX, &v,
	    &err), DH_E_FORMAT);
	assert_int_equal(dh_json_get_int(j, "s", 0, 10, &v, &err), DH_E_FORMAT);
	assert_string_equal(err.msg, "\"s\" must be a number");
	assert_int_equal(dh_json_get_int(j, "gone", 0, 10, &v, &err),
	    DH_E_FORMAT);
	assert_string_equal(err.msg, "missing number \"gone\"");
	/* 2^63 does not fit an int64_t even though it equals (double)MAX */
	assert_int_equal(dh_json_get_int(j, "max", INT64_MIN, INT64_MAX, &v,
	    &err), DH_E_FORMAT);
	assert_int_equal(dh_json_get_int(j, "min", INT64_MIN, INT64_MAX, &v,
	    &err), DH_OK);
	assert_true(v == INT64_MIN);

	v = 99;
	assert_int_equal(dh_json_opt_int(j, "gone", 0, 10, &v, &present, &err),
	    DH_OK);
	assert_int_equal(present, 0);
	assert_int_equal(v, 99);
	assert_int_equal(dh_json_opt_int(j, "nul", 0, 10, &v, &present, &err),
	    DH_OK);
	assert_int_equal(present, 0);
	assert_int_equal(dh_json_opt_int(j, "n", 0, 10, &v, &present, &err),
	    DH_OK);
	assert_int_equal(present, 1);
	assert_int_equal(v, 7);

	b = 42;
	assert_int_equal(dh_json_opt_bool(j, "gone", &b, &err), DH_OK);
	assert_int_equal(b, 42);
	assert_int_equal(dh_json_opt_bool(j, "b", &b, &err), DH_OK);
	assert_int_equal(b, 1);
	assert_int_equal(dh_json_opt_bool(j, "n", &b, &err), DH_E_FORMAT);
	assert_string_equal(err.msg, "\"n\" must be a boolean");

	/* getters on a non-object see every member as missing */
	assert_int_equal(dh_json_get_str(cJSON_GetObjectItem(j, "arr"), "s", &s,
	    &err), DH_E_FORMAT);
	assert_int_equal(dh_json_opt_str(NULL, "s", &s, &err), DH_OK);
	cJSON_Delete(j);
}

static void
test_print(void **state)
{
	struct dh_buf b;
	struct dh_err err;
	cJSON *j;

	assert_int_equal(dh_json_parse("{ \"a\" : [ 1 , \"x\\n\" ] }", 23, 64,
	    &j, &err), DH_OK);
	dh_buf_init(&b, 64);
	assert_int_equal(dh_json_print(j, &b), DH_OK);
	assert_string_equal(dh_buf_cstr(&b), "{\"a\":[1,\"x\\n\"]}");
	dh_buf_free(&b);
	dh_buf_init(&b, 8);
	assert_int_equal(dh_json_print(j, &b), DH_E_TOOBIG);
	assert_int_equal(b.len, 0);
	dh_buf_free(&b);
	cJSON_Delete(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_print),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
