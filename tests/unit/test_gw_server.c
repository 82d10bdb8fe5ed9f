/*
 * Unit tests for gw_server's chunked request-body decoder: a table of valid
 * and malformed bodies, each fed whole and byte by byte (the decoder must
 * give the same answer however the bytes are split), plus the size ceiling
 * and stopping exactly after the terminating chunk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "gw_server.h"

struct ck_case {
	const char *name;
	const char *in;
	int ok;              /* 1 = decodes and completes */
	const char *body;    /* expected body when ok */
};

static const struct ck_case cases[] = {
	{ "agent", "15\r\n{\"Fingerprint\":\"abc\"}\r\n0\r\n\r\n", 1,
	    "{\"Fingerprint\":\"abc\"}" },
	{ "two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 1, "abcde" },
	{ "upper hex", "A\r\n0123456789\r\n0\r\n\r\n", 1, "0123456789" },
	{ "extension", "3;name=val\r\nabc\r\n0\r\n\r\n", 1, "abc" },
	{ "trailers", "3\r\nabc\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", 1, "abc" },
	{ "bare LF", "3\nabc\n0\n\n", 1, "abc" },
	{ "empty body", "0\r\n\r\n", 1, "" },
	{ "bad hex", "zz\r\nhello\r\n0\r\n\r\n", 0, NULL },
	{ "no size", "\r\nabc\r\n", 0, NULL },
	{ "data overrun", "3\r\nabcd\r\n0\r\n\r\n", 0, NULL },
	{ "size overflow", "ffffffffffffffffff\r\n", 0, NULL },
	{ "bad end", "0\r\n\rX", 0, NULL },
};

static int
feed(const char *in, size_t step, struct dh_buf *out, int *done)
{
	struct gw_server_chunk c;
	struct dh_err e;
	size_t n = strlen(in), off = 0, used, k;
	int r = DH_OK;

	gw_server_chunk_init(&c);
	while (off < n && !c.done) {
		k = step == 0 || n - off < step ? n - off : step;
		r = gw_server_chunk_feed(&c, in + off, k, out, &used, &e);
		if (r != DH_OK)
			break;
		off += used;
		if (used < k)
			break;
	}
	*done = c.done;
	return r;
}

static void
test_table(void **state)
{
	struct dh_buf out;
	size_t i, step;
	int done, r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (step = 0; step <= 1; step++) {
			dh_buf_init(&out, 1 << 20);
			r = feed(cases[i].in, step, &out, &done);
			if (cases[i].ok) {
				if (r != DH_OK || !done)
					fail_msg("%s (step %zu): r=%d done=%d",
					    cases[i].name, step, r, done);
				assert_int_equal(out.len, strlen(cases[i].body));
				assert_memory_equal(dh_buf_cstr(&out),
				    cases[i].body, out.len);
			} else if (r == DH_OK && done) {
				fail_msg("%s (step %zu) accepted", cases[i].name,
				    step);
			}
			dh_buf_free(&out);
		}
	}
}

static void
test_ceiling(void **state)
{
	struct gw_server_chunk c;
	struct dh_buf out;
	struct dh_err e;
	size_t used;
	const char *in = "10\r\n0123456789abcdef\r\n0\r\n\r\n";

	(void)state;
	dh_buf_init(&out, 8);
	gw_server_chunk_init(&c);
	assert_int_equal(gw_server_chunk_feed(&c, in, strlen(in), &out, &used,
	    &e), DH_E_TOOBIG);
	dh_buf_free(&out);
}

static void
test_stops_after_end(void **state)
{
	struct gw_server_chunk c;
	struct dh_buf out;
	struct dh_err e;
	size_t used;
	const char *in = "1\r\na\r\n0\r\n\r\nPOST / HTTP/1.1\r\n";

	(void)state;
	dh_buf_init(&out, 64);
	gw_server_chunk_init(&c);
	assert_int_equal(gw_server_chunk_feed(&c, in, strlen(in), &out, &used,
	    &e), DH_OK);
	assert_true(c.done);
	assert_int_equal(used, strlen("1\r\na\r\n0\r\n\r\n"));
	assert_string_equal(dh_buf_cstr(&out), "a");
	dh_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_stops_after_end),
	};

	return cmocka_run_group_tests_name("gw_server", tests, NULL, NULL);
}
