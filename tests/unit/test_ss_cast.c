/*
 * Unit tests for ss_cast: a table of escapes (JSON specials, controls,
 * valid UTF-8 kept, every kind of invalid byte as a \u00XX raw-byte
 * escape), exact header and event lines, round trips of random byte
 * strings through escape/unescape and event write/parse, and parser
 * refusals.
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
#include "dh_hash.h"
#include "ss_cast.h"

static void
test_escape_table(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{ "plain", 5, "plain" },
		{ "q\"b\\", 4, "q\\\"b\\\\" },
		{ "\r\n\t\b\f", 5, "\\r\\n\\t\\b\\f" },
		{ "\x1b[0m", 4, "\\u001b[0m" },
		{ "\x00\x7f", 2, "\\u0000\\u007f" },
		{ "caf\xc3\xa9", 5, "caf\xc3\xa9" },
		{ "\xe2\x82\xac\xf0\x9f\x98\x80", 7, "\xe2\x82\xac\xf0\x9f\x98\x80" },
		{ "\xff", 1, "\\u00ff" },
		{ "\x80", 1, "\\u0080" },
		{ "\xe2\x82", 2, "\\u00e2\\u0082" },         /* split char */
		{ "\xc0\xaf", 2, "\\u00c0\\u00af" },         /* overlong */
		{ "\xed\xa0\x80", 3, "\\u00ed\\u00a0\\u0080" }, /* surrogate */
		{ "\xf4\x90\x80\x80", 4, "\\u00f4\\u0090\\u0080\\u0080" },
		{ "\xc3\xa9\xc3", 3, "\xc3\xa9\\u00c3" },
		{ "/", 1, "/" },
	};
	struct dh_buf out, back;
	size_t i;

	dh_buf_init(&out, 4096);
	dh_buf_init(&back, 4096);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dh_buf_reset(&out);
		dh_buf_reset(&back);
		assert_int_equal(ss_cast_escape(&out, cases[i].in, cases[i].n),
		    DH_OK);
		if (out.len != strlen(cases[i].want) ||
		    memcmp(out.d, cases[i].want, out.len) != 0)
			fail_msg("case %zu: got %.*s", i, (int)out.len,
			    (const char *)out.d);
		assert_int_equal(ss_cast_unescape((const char *)out.d, out.len,
		    &back, NULL), DH_OK);
		assert_int_equal(back.len, cases[i].n);
		assert_memory_equal(back.d, cases[i].in, cases[i].n);
	}
	dh_buf_free(&out);
	dh_buf_free(&back);
}

static void
test_lines_exact(void **state)
{
	struct dh_buf out;

	dh_buf_init(&out, 4096);
	assert_int_equal(ss_cast_header(&out, 100, 30, 1700000000123456ull,
	    "s-\"1\"", NULL), DH_OK);
	assert_string_equal(dh_buf_cstr(&out), "{\"version\": 2, \"width\": "
	    "100, \"height\": 30, \"timestamp\": 1700000000, \"env\": "
	    "{\"TERM\": \"xterm-256color\"}, \"title\": \"s-\\\"1\\\"\"}\n");
	dh_buf_reset(&out);
	assert_int_equal(ss_cast_event(&out, 1500001, 'o', "hi\r\n", 4, NULL),
	    DH_OK);
	assert_int_equal(ss_cast_event(&out, 7, 'r', "80x24", 5, NULL), DH_OK);
	assert_string_equal(dh_buf_cstr(&out),
	    "[1.500001, \"o\", \"hi\\r\\n\"]\n[0.000007, \"r\", \"80x24\"]\n");
	assert_int_equal(ss_cast_event(&out, 0, 'x', "", 0, NULL), DH_E_ARG);
	dh_buf_free(&out);
}

static void
test_random_round_trip(void **state)
{
	unsigned char data[300];
	struct dh_buf line;
	struct ss_cast_ev ev;
	size_t n;
	int i;

	dh_buf_init(&line, 1 << 16);
	dh_buf_init(&ev.data, 1 << 16);
	for (i = 0; i < 2000; i++) {
		n = dh_random_uniform(sizeof(data) + 1);
		assert_int_equal(dh_random(data, sizeof(data)), DH_OK);
		if (i % 3 == 0) {
			size_t k;

			/* Mostly-valid UTF-8 with some stray bytes. */
			for (k = 0; k < n; k++)
				if (data[k] >= 0x80 && data[k] < 0xc0 &&
				    k % 5 != 0)
					data[k] = 'a' + (data[k] & 15);
		}
		dh_buf_reset(&line);
		assert_int_equal(ss_cast_event(&line, (uint64_t)i * 1000003,
		    'o', data, n, NULL), DH_OK);
		assert_int_equal(ss_cast_parse_event((const char *)line.d,
		    line.len - 1, &ev, NULL), DH_OK);
		assert_int_equal(ev.code, 'o');
		assert_int_equal(ev.t_us, (uint64_t)i * 1000003);
		assert_int_equal(ev.data.len, n);
		if (n > 0)
			assert_memory_equal(ev.data.d, data, n);
	}
	dh_buf_free(&line);
	dh_buf_free(&ev.data);
}

static void
test_foreign_escapes_and_refusals(void **state)
{
	static const char *bad[] = {
		"", "[", "[1.0]", "[1.0, \"o\"]", "[x, \"o\", \"a\"]",
		"[1.0, \"o\", \"a\\q\"]", "[1.0, \"o\", \"a\\u12\"]",
		"[1.0, \"o\", \"a\"] x", "[-1, \"o\", \"a\"]",
		"[1.0, \"o\", \"tab\traw\"]",
	};
	struct ss_cast_ev ev;
	unsigned w = 0, h = 0;
	size_t i;
	const char *hdr2 = "{\"version\": 2, \"width\": 9, \"height\": 4}";
	const char *hdr1 = "{\"version\": 1, \"width\": 9, \"height\": 4}";
	const char *ok = "[ 2.5 , \"i\" , \"\\u20ac\\ud83d\\ude00\\/\\ud800\" ]";

	dh_buf_init(&ev.data, 4096);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ss_cast_parse_event(bad[i], strlen(bad[i]), &ev, NULL) ==
		    DH_OK)
			fail_msg("accepted %s", bad[i]);
	/* Escapes other writers use decode to UTF-8. */
	assert_int_equal(ss_cast_parse_event(ok, strlen(ok), &ev, NULL), DH_OK);
	assert_int_equal(ev.code, 'i');
	assert_int_equal(ev.t_us, 2500000);
	assert_int_equal(ev.data.len, 3 + 4 + 1 + 3);
	assert_memory_equal(ev.data.d, "\xe2\x82\xac\xf0\x9f\x98\x80/"
	    "\xef\xbf\xbd", 11);
	assert_int_equal(ss_cast_parse_header(hdr2, strlen(hdr2), &w, &h,
	    NULL), DH_OK);
	assert_int_equal(w, 9);
	assert_int_equal(h, 4);
	assert_int_not_equal(ss_cast_parse_header(hdr1, strlen(hdr1), &w, &h,
	    NULL), DH_OK);
	dh_buf_free(&ev.data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_lines_exact),
		cmocka_unit_test(test_random_round_trip),
		cmocka_unit_test(test_foreign_escapes_and_refusals),
	};

	return cmocka_run_group_tests_name("ss_cast", tests, NULL, NULL);
}
