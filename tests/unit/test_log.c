/*
 * Unit tests for dh_log: the escape table (control bytes, backslash, UTF-8,
 * input cap and output size with "..."), secret masking on real output
 * captured through a pipe (overlapping secrets, a secret of stars, secrets
 * across the line cut), level filtering, and the journald "<N>" prefix only
 * when JOURNAL_STREAM names the output.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dh_err.h"
#include "dh_log.h"

struct esc_case {
	const char *in;
	size_t n;
	size_t cap;
	size_t outsz;
	const char *want;
};

static const struct esc_case esc_cases[] = {
	{ "plain text", 10, 100, 64, "plain text" },
	{ "a\nb\r\tc", 6, 100, 64, "a\\nb\\r\\tc" },
	{ "back\\slash", 10, 100, 64, "back\\\\slash" },
	{ "\x01\x1b[31m\x7f", 7, 100, 64, "\\x01\\x1b[31m\\x7f" },
	{ "h\xc3\xa9llo", 6, 100, 64, "h\\xc3\\xa9llo" },
	{ "nul\0byte", 8, 100, 64, "nul\\x00byte" },
	{ "\"quotes\" ok", 11, 100, 64, "\"quotes\" ok" },
	{ "abcdef", 6, 3, 64, "abc..." },
	{ "abcdef", 6, 6, 64, "abcdef" },
	{ "abcdef", 6, 0, 64, "..." },
	{ "abcdef", 6, 100, 6, "ab..." },
	{ "abcdef", 6, 100, 7, "abcdef" },
	{ "\x01\x02" "abc", 5, 100, 8, "\\x01..." },
	{ "\x01\x02", 2, 100, 9, "\\x01\\x02" },
	{ "\x01\x02\x03", 3, 100, 9, "\\x01..." },
	{ "abcdef", 6, 100, 3, "" },
	{ "abcdef", 6, 100, 1, "" },
	{ "", 0, 100, 8, "" },
};

static void
test_escape_table(void **state)
{
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		memset(out, 'Z', sizeof(out));
		assert_ptr_equal(dh_log_escape(esc_cases[i].in, esc_cases[i].n,
		    esc_cases[i].cap, out, esc_cases[i].outsz), out);
		if (strcmp(out, esc_cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, out,
			    esc_cases[i].want);
		assert_true(strlen(out) < esc_cases[i].outsz);
	}
	/* outsz 0 writes nothing */
	out[0] = 'Z';
	dh_log_escape("abc", 3, 100, out, 0);
	assert_int_equal(out[0], 'Z');
}

static int pfd[2] = { -1, -1 };

static int
setup_pipe(void **state)
{
	if (pipe(pfd) != 0)
		return -1;
	if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) != 0)
		return -1;
	/* room for the long-message tests */
	fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20);
	unsetenv("JOURNAL_STREAM");
	dh_log_set_fd(pfd[1]);
	dh_log_set_ident("tlog");
	dh_log_set_level(DH_LOG_INFO);
	return 0;
}

static int
teardown_pipe(void **state)
{
	dh_log_set_fd(2);
	dh_log_secret_clear();
	close(pfd[0]);
	close(pfd[1]);
	return 0;
}

/* Everything written to the pipe so far (static buffer). */
static const char *
drain(void)
{
	static char buf[1 << 17];
	size_t n = 0;
	ssize_t r;

	for (;;) {
		r = read(pfd[0], buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return buf;
}

static void
test_line_format(void **state)
{
	const char *out, *p;
	char pid[32];

	(void)drain();
	dh_info("hello %s %d", "world", 42);
	out = drain();
	/* 2024-01-02T03:04:05Z tlog[123] info: hello world 42\n */
	assert_true(strlen(out) > 21);
	assert_int_equal(out[4], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[19], 'Z');
	snprintf(pid, sizeof(pid), " tlog[%d] info: ", (int)getpid());
	p = strstr(out, pid);
	assert_non_null(p);
	assert_string_equal(p + strlen(pid), "hello world 42\n");

	/* control bytes from the formatted text are escaped: one line only */
	dh_warn("peer said \"%s\"", "a\nFAKE LINE\r\x1b[2J\\");
	out = drain();
	assert_non_null(strstr(out,
	    " warn: peer said \"a\\nFAKE LINE\\r\\x1b[2J\\\\\"\n"));
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);

	/* a very long message is cut with "..." and stays one line */
	dh_error("%0*d", 10000, 7);
	out = drain();
	assert_true(strlen(out) < 4096 + 128);
	assert_non_null(strstr(out, "000...\n"));
}

static void
test_levels(void **state)
{
	static const struct {
		const char *name;
		enum dh_log_level lvl;
	} names[] = {
		{ "error", DH_LOG_ERROR }, { "warn", DH_LOG_WARN },
		{ "info", DH_LOG_INFO }, { "debug", DH_LOG_DEBUG },
	};
	enum dh_log_level lvl;
	const char *out;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(dh_log_parse_level(names[i].name, &lvl), DH_OK);
		assert_int_equal(lvl, names[i].lvl);
	}
	assert_int_equal(dh_log_parse_level("verbose", &lvl), DH_E_ARG);
	assert_int_equal(dh_log_parse_level("INFO", &lvl), DH_E_ARG);

	(void)drain();
	dh_log_set_level(DH_LOG_WARN);
	dh_info("hidden-info");
	dh_debug("hidden-debug");
	dh_warn("shown-warn");
	dh_error("shown-error");
	out = drain();
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, " warn: shown-warn\n"));
	assert_non_null(strstr(out, " error: shown-error\n"));

	dh_log_set_level(DH_LOG_DEBUG);
	dh_debug("now-debug");
	out = drain();
	assert_non_null(strstr(out, " debug: now-debug\n"));

	dh_log_set_level(DH_LOG_ERROR);
	dh_warn("hidden-warn");
	assert_string_equal(drain(), "");
	/* out-of-range levels are clamped, never index past the names */
	dh_log_set_level(DH_LOG_DEBUG);
	dh_log((enum dh_log_level)42, "clamped");
	assert_non_null(strstr(drain(), " debug: clamped\n"));
	dh_log_set_level(DH_LOG_INFO);
}

static void
test_journal_prefix(void **state)
{
	struct stat st;
	char js[64];
	const char *out;

	assert_int_equal(fstat(pfd[1], &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	(void)drain();
	setenv("JOURNAL_STREAM", js, 1);
	dh_warn("to the journal");
	out = drain();
	assert_string_equal(out, "<4>tlog: to the journal\n");
	dh_error("e");
	assert_string_equal(drain(), "<3>tlog: e\n");

	/* inherited variable naming another stream: plain timestamped line */
	setenv("JOURNAL_STREAM", "1:2", 1);
	dh_warn("not the journal");
	out = drain();
	assert_int_not_equal(out[0], '<');
	assert_non_null(strstr(out, " warn: not the journal\n"));
	setenv("JOURNAL_STREAM", "garbage", 1);
	dh_warn("x");
	assert_int_not_equal(drain()[0], '<');
	unsetenv("JOURNAL_STREAM");
}

static void
test_secret_masking(void **state)
{
	static const char key[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	char *big;
	const char *out;
	size_t n;

	assert_int_equal(dh_log_secret_add("abc"), DH_E_ARG);
	assert_int_equal(dh_log_secret_add(key), DH_OK);
	assert_int_equal(dh_log_secret_add(key), DH_OK);
	(void)drain();
	dh_info("signing with %s and again %s.", key, key);
	out = drain();
	assert_null(strstr(out, "wJalr"));
	assert_non_null(strstr(out, "signing with **** and again ****.\n"));

	/* overlapping secrets leave no fragment of either */
	assert_int_equal(dh_log_secret_add("abcdefgh"), DH_OK);
	assert_int_equal(dh_log_secret_add("efghijkl"), DH_OK);
	dh_info("xx%syy", "abcdefghijkl");
	out = drain();
	assert_non_null(strstr(out, " info: xx****yy\n"));

	/* a secret made of stars must not loop forever */
	assert_int_equal(dh_log_secret_add("****"), DH_OK);
	dh_info("a****b");
	assert_non_null(strstr(drain(), " info: a****b\n"));

	/* a secret holding a newline is masked before escaping */
	assert_int_equal(dh_log_secret_add("line1\nline2"), DH_OK);
	dh_info("[%s]", "line1\nline2");
	out = drain();
	assert_non_null(strstr(out, " info: [****]\n"));

	/* a secret straddling the 4 KiB line cut is still masked whole */
	big = malloc(70000 + sizeof(key));
	assert_non_null(big);
	memset(big, 'x', 4090);
	memcpy(big + 4090, key, sizeof(key));
	dh_info("%s", big);
	out = drain();
	assert_null(strstr(out, "wJal"));
	assert_non_null(strstr(out, "xxxx****\n"));

	/* past the 64 KiB masking limit the cut tail is masked as well */
	n = 4095 - 10;
	memset(big, 'y', 70000);
	memcpy(big + n, key, sizeof(key) - 1);
	big[70000] = '\0';
	dh_info("%s", big);
	out = drain();
	assert_null(strstr(out, "wJ"));
	assert_non_null(strstr(out, "yyyy****"));
	free(big);

	/* clearing forgets every secret */
	dh_log_secret_clear();
	dh_info("now %s", "abcdefgh");
	assert_non_null(strstr(drain(), " info: now abcdefgh\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_line_format),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_journal_prefix),
		cmocka_unit_test(test_secret_masking),
	};

	return cmocka_run_group_tests_name("log", tests, setup_pipe,
	    teardown_pipe);
}
