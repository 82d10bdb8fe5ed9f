/*
 * Unit tests for pt_debver: a table of ordering vectors (dpkg/apt-style
 * cases, every one checked with `dpkg --compare-versions` when written) run
 * in both directions and for equality symmetry, the parser's split of
 * epoch/upstream/revision, dpkg's hard errors and soft warnings, and the
 * lenient comparison of invalid strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dh_err.h"
#include "pt_debver.h"

struct cmp_case {
	const char *a, *b;
	int want;
};

static const struct cmp_case cmp_cases[] = {
	{ "1.0~rc1", "1.0", -1 },
	{ "1.0", "1.0+b1", -1 },
	{ "1.0~~", "1.0~", -1 },
	{ "1a", "1.", -1 },
	{ "1.0", "1.00", 0 },
	{ "0:1", "1", 0 },
	{ "1.0", "1.0-0", 0 },
	{ "1.0-0~", "1.0", -1 },
	{ "1:0.1", "2.0", 1 },
	{ "2.0", "1.9.9", 1 },
	{ "1.0a", "1.0", 1 },
	{ "1.0a", "1.0.1", -1 },
	{ "1.0-1", "1.0-2", -1 },
	{ "1.0-1", "1.0-1.1", -1 },
	{ "1:1.0", "1.0", 1 },
	{ "0~", "0", -1 },
	{ "1.0+~", "1.0+", -1 },
	{ "1a", "1b", -1 },
	{ "1.001", "1.1", 0 },
	{ "10", "9", 1 },
	{ "1.0.0", "1.0", 1 },
	{ "1-1", "1-1a", -1 },
	{ "7.6p2-4", "7.6-0", 1 },
	{ "1.0.3-3", "1.0-1", 1 },
	{ "1.3", "1.2.2-2", 1 },
	{ "1.3", "1.2.2", 1 },
	{ "0-pre", "0-pre", 0 },
	{ "0-pre", "0-pree", -1 },
	{ "1.1.6r2-2", "1.1.6r-1", 1 },
	{ "2.6b2-1", "2.6b-2", 1 },
	{ "98.1p5-1", "98.1-pre2-b6-2", -1 },
	{ "0.4a6-2", "0.4-1", 1 },
	{ "1:3.0.5-2", "1:3.0.5.1", -1 },
	{ "1:0.4", "10.3", 1 },
	{ "1:1.25-4", "1:1.25-8", -1 },
	{ "0:1.18.36", "1.18.36", 0 },
	{ "1.18.36", "1.18.35", 1 },
	{ "0:1.18.36", "1.18.35", 1 },
	{ "9:1.18.36:5.4-20", "10:0.5.1-22", -1 },
	{ "9:1.18.36:5.4-20", "9:1.18.36:5.5-1", -1 },
	{ "9:1.18.36:5.4-20", "9:1.18.37:4.3-22", -1 },
	{ "1.18.36-0.17.35-18", "1.18.36-19", 1 },
	{ "1:1.2.13-3", "1:1.2.13-3.1", -1 },
	{ "2.0.7pre1-4", "2.0.7r-1", -1 },
	{ "0.2", "1.0-0", -1 },
	{ "1.0-0", "1.0", 0 },
	{ "1.0~rc1-1", "1.0-1", -1 },
	{ "3.0.15-1~deb12u1", "3.0.15-1", -1 },
	{ "2.4.2-3+deb12u9", "2.4.2-3+deb12u8", 1 },
	{ "1.2.3+dfsg", "1.2.3", 1 },
	{ "1.2.3+dfsg", "1.2.3.1", -1 },
	{ "1.2.3~dfsg", "1.2.3~alpha", 1 },
	{ "A1", "a1", -1 },
	{ "1.0", "1.0.", -1 },
	{ "1.0.a", "1.0.+", -1 },
	{ "1.0+", "1.0.", -1 },
	{ "5:1", "4:9999", 1 },
	{ "1.0-1~bpo1", "1.0-1", -1 },
	{ "1.10", "1.9", 1 },
	{ "1.0-10", "1.0-9", 1 },
	{ "00001", "1", 0 },
	{ "1.00001", "1.1", 0 },
	{ "1.0-A", "1.0-a", -1 },
};

static int
sign(int v)
{
	return v < 0 ? -1 : v > 0;
}

static void
test_ordering_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cmp_cases) / sizeof(cmp_cases[0]); i++) {
		const struct cmp_case *c = &cmp_cases[i];
		int ab = sign(pt_debver_cmp_str(c->a, c->b));
		int ba = sign(pt_debver_cmp_str(c->b, c->a));

		if (ab != c->want || ba != -c->want)
			fail_msg("%s vs %s: got %d/%d want %d", c->a, c->b, ab,
			    ba, c->want);
		assert_int_equal(pt_debver_cmp_str(c->a, c->a), 0);
	}
}

static void
test_explicit_length(void **state)
{
	/* not NUL-terminated: compare only the first bytes */
	assert_int_equal(pt_debver_cmp("1.0XYZ", 3, "1.0", 3), 0);
	assert_true(pt_debver_cmp("1.0~rc", 6, "1.0~", 4) > 0);
	assert_true(pt_debver_cmp_part("1.0", 3, "1.0~", 4) > 0);
	assert_int_equal(pt_debver_cmp_part("", 0, "0", 1), 0);
	assert_true(pt_debver_cmp_part("~", 1, "", 0) < 0);
}

struct parse_case {
	const char *v;
	int rc;
	unsigned int epoch;
	const char *up, *rev;
	int warn;
	const char *msg; /* substring of the error */
};

static const struct parse_case parse_cases[] = {
	{ "1.0", DH_OK, 0, "1.0", "", 0, NULL },
	{ "1:2.3-4", DH_OK, 1, "2.3", "4", 0, NULL },
	{ "1.2-3-5", DH_OK, 0, "1.2-3", "5", 0, NULL },
	{ "  7:1.0~rc1+dfsg-2ubuntu1.3  ", DH_OK, 7, "1.0~rc1+dfsg",
	    "2ubuntu1.3", 0, NULL },
	{ "2:1.0:3-1", DH_OK, 2, "1.0:3", "1", 0, NULL },
	{ "0:0", DH_OK, 0, "0", "", 0, NULL },
	{ "+1:2", DH_OK, 1, "2", "", 0, NULL },
	{ "-0:2", DH_OK, 0, "2", "", 0, NULL },
	{ "2147483647:1", DH_OK, 2147483647u, "1", "", 0, NULL },
	{ "a1.0", DH_OK, 0, "a1.0", "", 1, NULL },
	{ "1.0_1", DH_OK, 0, "1.0_1", "", 1, NULL },
	{ "1.0-1_1", DH_OK, 0, "1.0", "1_1", 1, NULL },
	{ "1.0-1:1", DH_E_FORMAT, 0, NULL, NULL, 0, "not number" },
	{ "", DH_E_FORMAT, 0, NULL, NULL, 0, "empty" },
	{ "   ", DH_E_FORMAT, 0, NULL, NULL, 0, "empty" },
	{ "1.0 2", DH_E_FORMAT, 0, NULL, NULL, 0, "embedded spaces" },
	{ ":1.0", DH_E_FORMAT, 0, NULL, NULL, 0, "epoch in version is empty" },
	{ "a:1.0", DH_E_FORMAT, 0, NULL, NULL, 0, "epoch in version is empty" },
	{ "1a:1.0", DH_E_FORMAT, 0, NULL, NULL, 0, "not number" },
	{ "-1:1.0", DH_E_FORMAT, 0, NULL, NULL, 0, "negative" },
	{ "2147483648:1", DH_E_FORMAT, 0, NULL, NULL, 0, "too big" },
	{ "99999999999999999999999:1", DH_E_FORMAT, 0, NULL, NULL, 0,
	    "too big" },
	{ "1:", DH_E_FORMAT, 0, NULL, NULL, 0, "nothing after colon" },
	{ "1.0-", DH_E_FORMAT, 0, NULL, NULL, 0, "revision number is empty" },
	{ "1:-1", DH_E_FORMAT, 0, NULL, NULL, 0, "upstream version is empty" },
	{ "-1", DH_E_FORMAT, 0, NULL, NULL, 0, "upstream version is empty" },
};

static void
test_parse_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct pt_debver v;
		struct dh_err err;
		int warn = -1, rc;

		dh_err_clear(&err);
		rc = pt_debver_parse(c->v, strlen(c->v), &v, &warn, &err);
		if (rc != c->rc)
			fail_msg("'%s': rc %d want %d (%s)", c->v, rc, c->rc,
			    err.msg);
		if (rc != DH_OK) {
			if (strstr(err.msg, c->msg) == NULL)
				fail_msg("'%s': message '%s' lacks '%s'", c->v,
				    err.msg, c->msg);
			continue;
		}
		assert_int_equal(v.epoch, c->epoch);
		assert_int_equal(v.upstream_len, strlen(c->up));
		assert_memory_equal(v.upstream, c->up, v.upstream_len);
		assert_int_equal(v.revision_len, strlen(c->rev));
		assert_memory_equal(v.revision, c->rev, v.revision_len);
		if (warn != c->warn)
			fail_msg("'%s': warning %d want %d", c->v, warn,
			    c->warn);
	}
}

static void
test_nul_and_lenient(void **state)
{
	struct pt_debver v;
	struct dh_err err;

	assert_int_equal(pt_debver_parse("1\0002", 3, &v, NULL, &err),
	    DH_E_FORMAT);
	/* invalid strings still compare deterministically */
	assert_int_equal(pt_debver_cmp_str("1.0-", "1.0-"), 0);
	assert_true(pt_debver_cmp_str("1:", "2:1") < 0);
	assert_true(pt_debver_cmp_str("x:1.0", "1.0") != 0);
	assert_int_equal(pt_debver_cmp_str("", ""), 0);
	assert_true(pt_debver_cmp_str("1.0 2", "1.0 3") < 0);
	assert_int_equal(pt_debver_parse(NULL, 0, &v, NULL, NULL),
	    DH_E_FORMAT);
}

static void
test_sort_list(void **state)
{
	/* a chain that must be strictly increasing */
	static const char *const chain[] = { "0~", "0", "0.1~a", "0.1",
		"0.1a", "0.1+", "0.1.0", "1.0~~", "1.0~", "1.0~rc1", "1.0",
		"1.0-0.1", "1.0-1~", "1.0-1", "1.0-1+b1", "1.0-1.1", "1.0a",
		"1.0+", "1.0.1", "1.10", "2", "1:0", "1:0.1", "2:0~" };
	size_t i, j, n = sizeof(chain) / sizeof(chain[0]);

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			int r = sign(pt_debver_cmp_str(chain[i], chain[j]));
			int want = i < j ? -1 : i > j;

			if (r != want)
				fail_msg("%s vs %s: %d want %d", chain[i],
				    chain[j], r, want);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ordering_table),
		cmocka_unit_test(test_explicit_length),
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_nul_and_lenient),
		cmocka_unit_test(test_sort_list),
	};

	return cmocka_run_group_tests_name("pt_debver", tests, NULL, NULL);
}
