/*
 * Unit tests for pt_deb822: the same input must give the same fields and
 * stanza ends however it is split into chunks (every two-way split and byte
 * by byte), continuation lines and CRLF, early stop, and a table of
 * malformed inputs that must fail with the right code and line number
 * (no colon, continuation before a field, NUL, over-long field, bad names).
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

#include "dh_buf.h"
#include "dh_err.h"
#include "pt_deb822.h"

struct rec {
	struct dh_buf log;
	int stop_after; /* stop after this many fields (0: never) */
	int fail_on;    /* fail on this field number (0: never) */
	int fields;
};

static int
on_field(void *ctx, const char *name, size_t nlen, const char *v,
    size_t vlen, unsigned long line, struct dh_err *err)
{
	struct rec *r = ctx;

	r->fields++;
	dh_buf_printf(&r->log, "F %.*s=[%.*s]@%lu\n", (int)nlen, name,
	    (int)vlen, v, line);
	if (r->fail_on == r->fields)
		return dh_err_set(err, DH_E_FORMAT, "bad value");
	if (r->stop_after == r->fields)
		return PT_DEB822_STOP;
	return 0;
}

static int
on_end(void *ctx, unsigned long line, struct dh_err *err)
{
	struct rec *r = ctx;

	dh_buf_printf(&r->log, "E@%lu\n", line);
	return 0;
}

static const struct pt_deb822_cb cb = { on_field, on_end };

/* Parse text split at the given chunk size (0: one chunk) or split point. */
static int
run(const char *text, size_t n, size_t chunk, size_t split, size_t max,
    struct rec *r, struct dh_err *err)
{
	struct pt_deb822 p;
	size_t off = 0;
	int rc = DH_OK;

	memset(r, 0, sizeof(*r));
	dh_buf_init(&r->log, 1 << 20);
	dh_err_clear(err);
	pt_deb822_init(&p, max, &cb, r);
	if (split > 0) {
		rc = pt_deb822_feed(&p, text, split, err);
		off = split;
	}
	while (rc == DH_OK && off < n) {
		size_t k = chunk == 0 ? n - off : chunk;

		if (k > n - off)
			k = n - off;
		rc = pt_deb822_feed(&p, text + off, k, err);
		off += k;
	}
	if (rc == DH_OK)
		rc = pt_deb822_finish(&p, err);
	pt_deb822_free(&p);
	return rc;
}

static const char sample[] =
	"Package: foo\n"
	"Version: 1.0-1\n"
	"Description: short\n"
	" long line one\n"
	" .\n"
	"\tline three\n"
	"Empty:\n"
	"Spaces:    padded value   \n"
	"\n"
	"\n"
	"Package: bar\r\n"
	"Status: install ok installed\r\n"
	"\r\n"
	"Package: baz\n"
	"Conffiles:\n"
	" /etc/a 0123\n"
	" /etc/b 4567";

static const char sample_log[] =
	"F Package=[foo]@1\n"
	"F Version=[1.0-1]@2\n"
	"F Description=[short\n long line one\n .\n\tline three]@3\n"
	"F Empty=[]@7\n"
	"F Spaces=[padded value]@8\n"
	"E@9\n"
	"F Package=[bar]@11\n"
	"F Status=[install ok installed]@12\n"
	"E@13\n"
	"F Package=[baz]@14\n"
	"F Conffiles=[\n /etc/a 0123\n /etc/b 4567]@15\n"
	"E@17\n";

static void
test_whole(void **state)
{
	struct rec r;
	struct dh_err err;

	assert_int_equal(run(sample, strlen(sample), 0, 0, 4096, &r, &err),
	    DH_OK);
	assert_string_equal(dh_buf_cstr(&r.log), sample_log);
	dh_buf_free(&r.log);
}

static void
test_every_split(void **state)
{
	size_t n = strlen(sample), i;
	struct rec r;
	struct dh_err err;

	for (i = 1; i < n; i++) {
		assert_int_equal(run(sample, n, 0, i, 4096, &r, &err), DH_OK);
		if (strcmp(dh_buf_cstr(&r.log), sample_log) != 0)
			fail_msg("split at %zu:\n%s", i, dh_buf_cstr(&r.log));
		dh_buf_free(&r.log);
	}
	for (i = 1; i <= 7; i++) {
		assert_int_equal(run(sample, n, i, 0, 4096, &r, &err), DH_OK);
		assert_string_equal(dh_buf_cstr(&r.log), sample_log);
		dh_buf_free(&r.log);
	}
}

static void
test_stop(void **state)
{
	struct pt_deb822 p;
	struct rec r;
	struct dh_err err;

	memset(&r, 0, sizeof(r));
	dh_buf_init(&r.log, 4096);
	r.stop_after = 2;
	pt_deb822_init(&p, 4096, &cb, &r);
	assert_int_equal(pt_deb822_feed(&p, sample, strlen(sample), &err),
	    PT_DEB822_STOP);
	assert_int_equal(r.fields, 2);
	/* a stopped parser refuses more input */
	assert_int_equal(pt_deb822_feed(&p, "A: b\n", 5, &err), DH_E_STATE);
	pt_deb822_free(&p);
	dh_buf_free(&r.log);
}

static void
test_callback_error(void **state)
{
	struct pt_deb822 p;
	struct rec r;
	struct dh_err err;

	memset(&r, 0, sizeof(r));
	dh_buf_init(&r.log, 4096);
	r.fail_on = 4;
	dh_err_clear(&err);
	pt_deb822_init(&p, 4096, &cb, &r);
	assert_int_equal(pt_deb822_feed(&p, sample, strlen(sample), &err),
	    DH_E_FORMAT);
	assert_string_equal(err.msg, "line 7: bad value");
	pt_deb822_free(&p);
	dh_buf_free(&r.log);
}

struct bad_case {
	const char *text;
	size_t len; /* 0: strlen */
	int rc;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "Package: a\nno colon here\n", 0, DH_E_FORMAT, "line 2: expected" },
	{ " leading: continuation\n", 0, DH_E_FORMAT,
	    "line 1: continuation line outside a field" },
	{ "A: b\n\n continuation after blank\n", 0, DH_E_FORMAT,
	    "line 3: continuation" },
	{ ": value\n", 0, DH_E_FORMAT, "line 1: empty field name" },
	{ "Bad Name: x\n", 0, DH_E_FORMAT, "line 1: field name 'Bad Name'" },
	{ "A: b\nC: d\0e\n", 12, DH_E_FORMAT, "line 2: NUL byte" },
	{ "truncated line without colon", 0, DH_E_FORMAT, "line 1: expected" },
	{ "A: b\n\x01\x02\x03\n", 0, DH_E_FORMAT, "line 2" },
};

static void
test_bad_table(void **state)
{
	size_t i, chunk;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t n = c->len ? c->len : strlen(c->text);

		for (chunk = 0; chunk <= 3; chunk++) {
			struct rec r;
			struct dh_err err;
			int rc = run(c->text, n, chunk, 0, 4096, &r, &err);

			if (rc != c->rc || strstr(err.msg, c->msg) == NULL)
				fail_msg("case %zu chunk %zu: rc %d '%s', want "
				    "%d '%s'", i, chunk, rc, err.msg, c->rc,
				    c->msg);
			dh_buf_free(&r.log);
		}
	}
}

static void
test_field_cap(void **state)
{
	size_t n = 10000, i, chunk;
	char *big = malloc(n + 64);
	struct rec r;
	struct dh_err err;
	int len;

	assert_non_null(big);
	len = snprintf(big, 64, "Package: a\nHuge: ");
	for (i = (size_t)len; i < n; i++)
		big[i] = (i % 80 == 0) ? '\n' : 'x';
	for (i = (size_t)len; i < n; i++)
		if (big[i] == '\n')
			big[i + 1] = ' ';
	memcpy(big + n, "\nNext: 1\n", 10);
	for (chunk = 0; chunk <= 1000; chunk += 250) {
		assert_int_equal(run(big, n + 9, chunk, 0, 1000, &r, &err),
		    DH_E_TOOBIG);
		assert_non_null(strstr(err.msg, "line 2: field longer than "
		    "1000 bytes"));
		dh_buf_free(&r.log);
	}
	/* with a larger cap it goes through, continuation lines included */
	assert_int_equal(run(big, n + 9, 333, 0, 1 << 16, &r, &err), DH_OK);
	assert_non_null(strstr(dh_buf_cstr(&r.log), "F Next=[1]@"));
	dh_buf_free(&r.log);
	free(big);
}

static void
test_parse_file(void **state)
{
	char path[] = "/tmp/test_pt_deb822_XXXXXX";
	struct rec r;
	struct dh_err err;
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(sample, f);
	fclose(f);
	memset(&r, 0, sizeof(r));
	dh_buf_init(&r.log, 4096);
	assert_int_equal(pt_deb822_parse_file(path, 4096, &cb, &r, &err),
	    DH_OK);
	assert_string_equal(dh_buf_cstr(&r.log), sample_log);
	dh_buf_free(&r.log);
	unlink(path);
	assert_int_equal(pt_deb822_parse_file(path, 4096, &cb, &r, &err),
	    DH_E_NOTFOUND);
}

static void
test_empty_inputs(void **state)
{
	struct rec r;
	struct dh_err err;

	assert_int_equal(run("", 0, 0, 0, 100, &r, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&r.log), "");
	dh_buf_free(&r.log);
	assert_int_equal(run("\n\n\r\n", 4, 1, 0, 100, &r, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&r.log), "");
	dh_buf_free(&r.log);
	assert_int_equal(run("A:b", 3, 1, 0, 100, &r, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&r.log), "F A=[b]@1\nE@1\n");
	dh_buf_free(&r.log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_field_cap),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_empty_inputs),
	};

	return cmocka_run_group_tests_name("pt_deb822", tests, NULL, NULL);
}
