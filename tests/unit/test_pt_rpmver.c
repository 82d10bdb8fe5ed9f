/*
 * Unit tests for pt_rpmver: the rpmvercmp/EVR vectors of rpm's own
 * tests/rpmvercmp.at (incl. its "oddities": 1b.fc17, non-ASCII), tilde and
 * caret cases, EVR parsing, and a differential test that compares thousands
 * of generated tricky pairs against rpm's Lua rpm.vercmp (rpm --eval, one
 * process for the whole corpus; skipped when /usr/bin/rpm is absent).
 * The expected values in the table were produced by rpm 4.18's rpm.vercmp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "pt_rpmver.h"

struct vec {
	const char *a, *b;
	int r;
};

static const struct vec vecs[] = {
	{ "1.0", "1.0", 0 },
	{ "1.0", "2.0", -1 },
	{ "2.0", "1.0", 1 },
	{ "2.0.1", "2.0.1", 0 },
	{ "2.0", "2.0.1", -1 },
	{ "2.0.1", "2.0", 1 },
	{ "2.0.1a", "2.0.1a", 0 },
	{ "2.0.1a", "2.0.1", 1 },
	{ "2.0.1", "2.0.1a", -1 },
	{ "5.5p1", "5.5p1", 0 },
	{ "5.5p1", "5.5p2", -1 },
	{ "5.5p2", "5.5p1", 1 },
	{ "5.5p10", "5.5p10", 0 },
	{ "5.5p1", "5.5p10", -1 },
	{ "5.5p10", "5.5p1", 1 },
	{ "10xyz", "10.1xyz", -1 },
	{ "10.1xyz", "10xyz", 1 },
	{ "xyz10", "xyz10", 0 },
	{ "xyz10", "xyz10.1", -1 },
	{ "xyz10.1", "xyz10", 1 },
	{ "xyz.4", "xyz.4", 0 },
	{ "xyz.4", "8", -1 },
	{ "8", "xyz.4", 1 },
	{ "xyz.4", "2", -1 },
	{ "2", "xyz.4", 1 },
	{ "5.5p2", "5.6p1", -1 },
	{ "5.6p1", "5.5p2", 1 },
	{ "5.6p1", "6.5p1", -1 },
	{ "6.5p1", "5.6p1", 1 },
	{ "6.0.rc1", "6.0", 1 },
	{ "6.0", "6.0.rc1", -1 },
	{ "10b2", "10a1", 1 },
	{ "10a2", "10b2", -1 },
	{ "1.0aa", "1.0aa", 0 },
	{ "1.0a", "1.0aa", -1 },
	{ "1.0aa", "1.0a", 1 },
	{ "10.0001", "10.0001", 0 },
	{ "10.0001", "10.1", 0 },
	{ "10.1", "10.0001", 0 },
	{ "10.0001", "10.0039", -1 },
	{ "10.0039", "10.0001", 1 },
	{ "4.999.9", "5.0", -1 },
	{ "5.0", "4.999.9", 1 },
	{ "20101121", "20101121", 0 },
	{ "20101121", "20101122", -1 },
	{ "20101122", "20101121", 1 },
	{ "2_0", "2_0", 0 },
	{ "2.0", "2_0", 0 },
	{ "2_0", "2.0", 0 },
	{ "a", "a", 0 },
	{ "a+", "a+", 0 },
	{ "a+", "a_", 0 },
	{ "a_", "a+", 0 },
	{ "+a", "+a", 0 },
	{ "+a", "_a", 0 },
	{ "_a", "+a", 0 },
	{ "+_", "+_", 0 },
	{ "_+", "+_", 0 },
	{ "_+", "_+", 0 },
	{ "+", "_", 0 },
	{ "_", "+", 0 },
	{ "1.0~rc1", "1.0~rc1", 0 },
	{ "1.0~rc1", "1.0", -1 },
	{ "1.0", "1.0~rc1", 1 },
	{ "1.0~rc1", "1.0~rc2", -1 },
	{ "1.0~rc2", "1.0~rc1", 1 },
	{ "1.0~rc1~git123", "1.0~rc1~git123", 0 },
	{ "1.0~rc1~git123", "1.0~rc1", -1 },
	{ "1.0~rc1", "1.0~rc1~git123", 1 },
	{ "1.0^", "1.0^", 0 },
	{ "1.0^", "1.0", 1 },
	{ "1.0", "1.0^", -1 },
	{ "1.0^git1", "1.0^git1", 0 },
	{ "1.0^git1", "1.0", 1 },
	{ "1.0", "1.0^git1", -1 },
	{ "1.0^git1", "1.0^git2", -1 },
	{ "1.0^git2", "1.0^git1", 1 },
	{ "1.0^git1", "1.01", -1 },
	{ "1.01", "1.0^git1", 1 },
	{ "1.0^20160101", "1.0^20160101", 0 },
	{ "1.0^20160101", "1.0.1", -1 },
	{ "1.0.1", "1.0^20160101", 1 },
	{ "1.0^20160101^git1", "1.0^20160101^git1", 0 },
	{ "1.0^20160102", "1.0^20160101^git1", 1 },
	{ "1.0^20160101^git1", "1.0^20160102", -1 },
	{ "1.0~rc1^git1", "1.0~rc1^git1", 0 },
	{ "1.0~rc1^git1", "1.0~rc1", 1 },
	{ "1.0~rc1", "1.0~rc1^git1", -1 },
	{ "1.0^git1~pre", "1.0^git1~pre", 0 },
	{ "1.0^git1", "1.0^git1~pre", 1 },
	{ "1.0^git1~pre", "1.0^git1", -1 },
	{ "1b.fc17", "1b.fc17", 0 },
	{ "1b.fc17", "1.fc17", -1 },
	{ "1.fc17", "1b.fc17", 1 },
	{ "1g.fc17", "1g.fc17", 0 },
	{ "1g.fc17", "1.fc17", 1 },
	{ "1.fc17", "1g.fc17", -1 },
	{ "1.1.α", "1.1.α", 0 },
	{ "1.1.α", "1.1.β", 0 },
	{ "1.1.β", "1.1.α", 0 },
	{ "1.1.αα", "1.1.α", 0 },
	{ "1.1.α", "1.1.ββ", 0 },
	{ "1.1.ββ", "1.1.αα", 0 },
	{ "1.0^", "1.0~", 1 },
	{ "1.0~", "1.0^", -1 },
	{ "1:1.0", "2.0", 1 },
	{ "2.0", "1:1.0", -1 },
	{ "0:1.0", "1.0", 0 },
	{ "1.0-1", "1.0", 1 },
	{ "1.0", "1.0-1", -1 },
	{ "1.0-1", "1.0-2", -1 },
	{ "1.0-10", "1.0-9", 1 },
	{ "01:1.0", "1:1.0", 0 },
	{ "1.0-1.el8", "1.0-1.el8_1", -1 },
	{ "1.0-1.el8_1", "1.0-1.el8.1", 0 },
	{ "1.2.3-4.amzn2", "1.2.3-4.amzn2.0.1", -1 },
	{ "1.2.3-4.amzn2.0.1", "1.2.3-5.amzn2", -1 },
	{ "2:1.0", "1:9.9", 1 },
	{ "a:1", "1", -1 },
	{ "1:", "1", 1 },
	{ "1-2-3", "1-2", 1 },
};

static void
test_vectors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		int got = pt_rpmver_evr_cmp(vecs[i].a, vecs[i].b);

		if (got != vecs[i].r)
			fail_msg("%s vs %s: got %d, want %d", vecs[i].a, vecs[i].b,
			    got, vecs[i].r);
		/* antisymmetry */
		assert_int_equal(pt_rpmver_evr_cmp(vecs[i].b, vecs[i].a), -got);
	}
}

static void
test_segment_cmp(void **state)
{
	/* rpmvercmp alone knows nothing of ':' or '-': both are separators. */
	assert_int_equal(pt_rpmver_cmp("1.0-1", "1.0.1"), 0);
	assert_int_equal(pt_rpmver_cmp("1:2", "1.2"), 0);
	assert_int_equal(pt_rpmver_cmp("", ""), 0);
	assert_int_equal(pt_rpmver_cmp("", "1"), -1);
	assert_int_equal(pt_rpmver_cmp("~", ""), -1);
	assert_int_equal(pt_rpmver_cmp("^", ""), 1);
	assert_int_equal(pt_rpmver_cmp("000", "0"), 0);
	assert_int_equal(pt_rpmver_cmp("18446744073709551616", "18446744073709551615"), 1);
	assert_int_equal(pt_rpmver_cmpn("1.0xyz", 3, "1.0", 3), 0);
	assert_int_equal(pt_rpmver_cmp("A", "a"), -1);
}

struct parse_case {
	const char *s;
	const char *e, *v, *r; /* NULL e/r: absent */
};

static const struct parse_case parses[] = {
	{ "1.0", NULL, "1.0", NULL },
	{ "1.0-1", NULL, "1.0", "1" },
	{ "2:1.0-1.el8", "2", "1.0", "1.el8" },
	{ ":1.0", "0", "1.0", NULL },
	{ "1:", "1", "", NULL },
	{ "1-2-3", NULL, "1-2", "3" },
	{ "a:1-2", NULL, "a:1", "2" },
	{ "12:3:4-5", "12", "3:4", "5" },
	{ "-1", NULL, "", "1" },
	{ "", NULL, "", NULL },
};

static void
test_parse(void **state)
{
	struct pt_rpmver_evr o;
	size_t i;

	for (i = 0; i < sizeof(parses) / sizeof(parses[0]); i++) {
		pt_rpmver_parse(parses[i].s, &o);
		if (parses[i].e == NULL) {
			assert_null(o.e);
		} else {
			assert_non_null(o.e);
			assert_int_equal(o.elen, strlen(parses[i].e));
			assert_memory_equal(o.e, parses[i].e, o.elen);
		}
		assert_int_equal(o.vlen, strlen(parses[i].v));
		assert_memory_equal(o.v, parses[i].v, o.vlen);
		if (parses[i].r == NULL) {
			assert_null(o.r);
		} else {
			assert_non_null(o.r);
			assert_int_equal(o.rlen, strlen(parses[i].r));
			assert_memory_equal(o.r, parses[i].r, o.rlen);
		}
	}
}

static void
test_cmp3(void **state)
{
	assert_int_equal(pt_rpmver_evr_cmp3(NULL, "1.0", "1", "0", "1.0", "1"), 0);
	assert_int_equal(pt_rpmver_evr_cmp3("1", "1.0", "1", NULL, "9.0", "1"), 1);
	assert_int_equal(pt_rpmver_evr_cmp3(NULL, "1.0", NULL, NULL, "1.0", "1"), -1);
	assert_int_equal(pt_rpmver_evr_cmp3(NULL, "1.0", "2", NULL, "1.0", "10"), -1);
	assert_int_equal(pt_rpmver_evr_cmp3(NULL, "1.0~rc1", "1", NULL, "1.0", "1"), -1);
	assert_int_equal(pt_rpmver_evr_cmp3(NULL, "1.0^p1", "1", NULL, "1.0", "9"), 1);
}

/* ---- differential test against rpm's own rpm.vercmp ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const pieces[] = {
	"0", "00", "1", "01", "001", "2", "9", "10", "010", "99", "100",
	"4294967296", "18446744073709551616", "00000000000000000000001",
	"a", "b", "z", "A", "Z", "aa", "ab", "rc", "beta", "git", "p", "fc",
	"el", "amzn", "svn", "pre", "post",
	".", ".", ".", "_", "+", "%", "~", "~", "^", "^", "..", "~~", "^^",
	"\xce\xb1", "\xce\xb2", "\xff", "=", "*",
};

#define NPIECES (sizeof(pieces) / sizeof(pieces[0]))

static void
gen_version(char *out, size_t cap, int allow_evr)
{
	size_t n = 0, k, i, parts = 1 + rnd(6);
	const char *p;

	out[0] = '\0';
	if (allow_evr && rnd(5) == 0) {
		n += (size_t)snprintf(out + n, cap - n, "%u:", rnd(3));
	}
	for (i = 0; i < parts; i++) {
		p = pieces[rnd(NPIECES)];
		k = strlen(p);
		if (n + k + 8 >= cap)
			break;
		memcpy(out + n, p, k);
		n += k;
	}
	if (allow_evr && rnd(3) == 0) {
		out[n++] = '-';
		for (i = 0; i < 1 + rnd(3); i++) {
			p = pieces[rnd(NPIECES)];
			k = strlen(p);
			if (n + k + 2 >= cap)
				break;
			memcpy(out + n, p, k);
			n += k;
		}
	}
	if (n == 0)
		out[n++] = '1';
	out[n] = '\0';
}

/* b derived from a by one small edit, so many pairs are near-equal. */
static void
mutate(const char *a, char *b, size_t cap)
{
	size_t n = strlen(a), pos;
	const char *p = pieces[rnd(NPIECES)];
	size_t k = strlen(p);

	if (n + k + 1 >= cap) {
		memcpy(b, a, n + 1);
		return;
	}
	pos = rnd((unsigned)n + 1);
	switch (rnd(3)) {
	case 0: /* insert */
		memcpy(b, a, pos);
		memcpy(b + pos, p, k);
		memcpy(b + pos + k, a + pos, n - pos + 1);
		break;
	case 1: /* delete one byte */
		if (n <= 1 || pos >= n) {
			memcpy(b, a, n + 1);
			break;
		}
		memcpy(b, a, pos);
		memcpy(b + pos, a + pos + 1, n - pos);
		break;
	default: /* replace one byte */
		memcpy(b, a, n + 1);
		if (pos < n)
			b[pos] = p[0];
		break;
	}
	if (b[0] == '\0') {
		b[0] = '0';
		b[1] = '\0';
	}
}

#define NPAIRS 6000

static void
test_oracle_rpm(void **state)
{
	static char a[NPAIRS][64], b[NPAIRS][64];
	char dir[] = "/tmp/pt_rpmver.XXXXXX", pairs[64], outp[64], script[256];
	FILE *f;
	size_t i, mism = 0, got_n = 0;
	int status, v;
	pid_t pid;

	if (access("/usr/bin/rpm", X_OK) != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(pairs, sizeof(pairs), "%s/pairs", dir);
	snprintf(outp, sizeof(outp), "%s/out", dir);
	for (i = 0; i < NPAIRS; i++) {
		gen_version(a[i], sizeof(a[i]), i % 2 == 0);
		if (rnd(2) == 0)
			mutate(a[i], b[i], sizeof(b[i]));
		else
			gen_version(b[i], sizeof(b[i]), i % 2 == 0);
	}
	f = fopen(pairs, "w");
	assert_non_null(f);
	for (i = 0; i < NPAIRS; i++)
		fprintf(f, "%s\t%s\n", a[i], b[i]);
	fclose(f);
	snprintf(script, sizeof(script),
	    "%%{lua: for l in io.lines(\"%s\") do "
	    "local x, y = l:match(\"^(.-)\\t(.*)$\") "
	    "io.write(rpm.vercmp(x, y), \"\\n\") end}", pairs);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "rpm", "--eval", script, NULL };
		char *envp[] = { "LC_ALL=C", "HOME=/nonexistent", NULL };

		if (freopen(outp, "w", stdout) == NULL)
			_exit(126);
		execve("/usr/bin/rpm", argv, envp);
		_exit(127);
	}
	assert_true(waitpid(pid, &status, 0) == pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	f = fopen(outp, "r");
	assert_non_null(f);
	for (i = 0; i < NPAIRS && fscanf(f, "%d", &v) == 1; i++) {
		got_n++;
		if (pt_rpmver_evr_cmp(a[i], b[i]) != v) {
			if (mism < 10)
				print_message("mismatch: '%s' vs '%s': rpm %d, ours %d\n",
				    a[i], b[i], v, pt_rpmver_evr_cmp(a[i], b[i]));
			mism++;
		}
	}
	fclose(f);
	unlink(pairs);
	unlink(outp);
	rmdir(dir);
	assert_int_equal(got_n, NPAIRS);
	assert_int_equal(mism, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_segment_cmp),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_cmp3),
		cmocka_unit_test(test_oracle_rpm),
	};

	return cmocka_run_group_tests_name("pt_rpmver", tests, NULL, NULL);
}
