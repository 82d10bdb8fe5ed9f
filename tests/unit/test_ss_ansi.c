/*
 * Unit tests for ss_ansi, driven by the case table in
 * tests/data/ansi/cases.tsv (escape sequences, overwrite semantics, UTF-8
 * handling).  Every case is run in one piece and again fed one byte at a
 * time and in 3-byte chunks, which must give the same text (streaming
 * across chunk boundaries); plus the overlong-line split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "ss_ansi.h"

/* Decode the table's escapes of s[0..n) into out. */
static void
unescape(const char *s, size_t n, struct dh_buf *out)
{
	size_t i;
	unsigned v;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\' && i + 1 < n) {
			i++;
			switch (s[i]) {
			case 'e': c = 0x1b; break;
			case 'a': c = 0x07; break;
			case 'b': c = '\b'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'n': c = '\n'; break;
			case '\\': c = '\\'; break;
			case 'x':
				assert_true(i + 2 < n);
				assert_int_equal(sscanf(s + i + 1, "%2x", &v), 1);
				c = (unsigned char)v;
				i += 2;
				break;
			default:
				fail_msg("bad escape \\%c in the table", s[i]);
			}
		}
		assert_int_equal(dh_buf_put_u8(out, c), DH_OK);
	}
}

struct collect {
	struct dh_buf *out;
};

static int
collect_line(void *arg, const char *line, size_t n)
{
	struct collect *c = arg;

	assert_int_equal(dh_buf_put(c->out, line, n), DH_OK);
	assert_int_equal(dh_buf_put_u8(c->out, '\n'), DH_OK);
	return 0;
}

static int
collect_last(void *arg, const char *line, size_t n)
{
	struct collect *c = arg;

	assert_int_equal(dh_buf_put(c->out, line, n), DH_OK);
	return 0;
}

/* Clean in[0..n) feeding chunk bytes at a time. */
static void
clean_chunked(const unsigned char *in, size_t n, size_t chunk,
    struct dh_buf *out)
{
	struct ss_ansi *a = malloc(sizeof(*a));
	struct collect c = { out };
	size_t i, k;

	assert_non_null(a);
	ss_ansi_init(a, collect_line, &c);
	for (i = 0; i < n; i += k) {
		k = n - i < chunk ? n - i : chunk;
		assert_int_equal(ss_ansi_feed(a, in + i, k), 0);
	}
	a->fn = collect_last;
	assert_int_equal(ss_ansi_finish(a), 0);
	free(a);
}

static void
test_table(void **state)
{
	char path[1024], line[4096];
	const char *root = getenv("DH_ROOT");
	struct dh_buf in, want, got;
	FILE *f;
	char *t1, *t2, *nl;
	int cases = 0;
	size_t chunks[] = { 1, 3, 1 << 20 }, k;

	snprintf(path, sizeof(path), "%s/tests/data/ansi/cases.tsv",
	    root != NULL ? root : ".");
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	dh_buf_init(&in, 1 << 16);
	dh_buf_init(&want, 1 << 16);
	dh_buf_init(&got, 1 << 16);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		t1 = strchr(line, '\t');
		assert_non_null(t1);
		t2 = strchr(t1 + 1, '\t');
		assert_non_null(t2);
		*t1 = *t2 = '\0';
		dh_buf_reset(&in);
		dh_buf_reset(&want);
		unescape(t1 + 1, strlen(t1 + 1), &in);
		unescape(t2 + 1, strlen(t2 + 1), &want);
		for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			dh_buf_reset(&got);
			clean_chunked(in.d, in.len, chunks[k], &got);
			if (got.len != want.len ||
			    memcmp(got.d, want.d, got.len) != 0)
				fail_msg("case %s (chunk %zu): got \"%.*s\" want "
				    "\"%.*s\"", line, chunks[k], (int)got.len,
				    (const char *)got.d, (int)want.len,
				    (const char *)want.d);
		}
		/* The one-shot helper agrees. */
		dh_buf_reset(&got);
		assert_int_equal(ss_ansi_clean(in.d, in.len, &got, NULL), DH_OK);
		assert_int_equal(got.len, want.len);
		cases++;
	}
	fclose(f);
	assert_true(cases >= 40);
	dh_buf_free(&in);
	dh_buf_free(&want);
	dh_buf_free(&got);
}

static void
test_long_line_split(void **state)
{
	struct dh_buf in, out;
	size_t i, lines = 0;

	dh_buf_init(&in, 1 << 20);
	dh_buf_init(&out, 1 << 20);
	for (i = 0; i < SS_ANSI_LINE_CELLS + 10; i++)
		assert_int_equal(dh_buf_put_u8(&in, 'q'), DH_OK);
	assert_int_equal(dh_buf_put_u8(&in, '\n'), DH_OK);
	assert_int_equal(ss_ansi_clean(in.d, in.len, &out, NULL), DH_OK);
	for (i = 0; i < out.len; i++)
		if (out.d[i] == '\n')
			lines++;
	assert_int_equal(lines, 2);
	assert_int_equal(out.len, SS_ANSI_LINE_CELLS + 10 + 2);
	dh_buf_free(&in);
	dh_buf_free(&out);
}

static void
test_partial_state(void **state)
{
	struct ss_ansi *a = malloc(sizeof(*a));

	assert_non_null(a);
	ss_ansi_init(a, NULL, NULL);
	assert_int_equal(ss_ansi_feed(a, "ab", 2), 0);
	assert_true(ss_ansi_has_partial(a));
	assert_int_equal(ss_ansi_feed(a, "\n", 1), 0);
	assert_false(ss_ansi_has_partial(a));
	assert_int_equal(ss_ansi_feed(a, "\xe2\x82", 2), 0);
	assert_true(ss_ansi_has_partial(a));
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_long_line_split),
		cmocka_unit_test(test_partial_state),
	};

	return cmocka_run_group_tests_name("ss_ansi", tests, NULL, NULL);
}
