/*
 * Unit tests for ag_platform: os-release parsing (table-driven: quoting,
 * escapes, comments, CRLF, errors) and collection from a fake root.
 */
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

#include "ag_platform.h"

struct osrel_case {
	const char *text;
	int rc;
	const char *name;
	const char *version;
};

static const struct osrel_case cases[] = {
	{ "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
	  "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
	  DH_OK, "Debian GNU/Linux", "12" },
	{ "NAME=Fedora\nVERSION_ID=39", DH_OK, "Fedora", "39" },
	{ "# comment\n  NAME='Alpine Linux'\r\nVERSION_ID=3.19.1\r\n", DH_OK,
	  "Alpine Linux", "3.19.1" },
	{ "NAME=\"a \\\"quoted\\\" name\"\n", DH_OK, "a \"quoted\" name", "" },
	{ "NAMEX=no\nXNAME=no\n", DH_OK, "", "" },
	{ "NAME=\"unterminated\n", DH_E_FORMAT, "", "" },
	{ "", DH_OK, "", "" },
	{ "garbage without equals\n=\n", DH_OK, "", "" },
};

static void
test_osrelease_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ag_platform pl;
		int rc;

		memset(&pl, 0, sizeof(pl));
		rc = ag_platform_parse_os_release(cases[i].text,
		    strlen(cases[i].text), &pl, NULL);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d", i, rc);
		if (rc == DH_OK) {
			assert_string_equal(pl.name, cases[i].name);
			assert_string_equal(pl.version, cases[i].version);
		}
	}
}

static void
test_osrelease_limits(void **state)
{
	struct ag_platform pl;
	char *big;
	char nul[] = "NAME=a\0b\n";

	memset(&pl, 0, sizeof(pl));
	big = calloc(1, AG_OSREL_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', AG_OSREL_MAX + 1);
	assert_int_equal(ag_platform_parse_os_release(big, AG_OSREL_MAX + 1,
	    &pl, NULL), DH_E_TOOBIG);
	free(big);
	assert_int_equal(ag_platform_parse_os_release(nul, sizeof(nul) - 1,
	    &pl, NULL), DH_E_FORMAT);
}

static void
test_collect(void **state)
{
	char root[] = "/tmp/ag_pl_XXXXXX", p[256];
	struct ag_platform pl;
	FILE *f;

	assert_non_null(mkdtemp(root));
	ag_platform_collect(root, &pl);
	assert_string_equal(pl.name, "Linux");
	snprintf(p, sizeof(p), "%s/etc", root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/etc/os-release", root);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("NAME=\"Test OS\"\nVERSION_ID=\"7\"\n", f);
	fclose(f);
	ag_platform_collect(root, &pl);
	assert_string_equal(pl.name, "Test OS");
	assert_string_equal(pl.version, "7");
	assert_true(pl.hostname[0] != '\0');
	unlink(p);
	snprintf(p, sizeof(p), "%s/etc", root);
	rmdir(p);
	rmdir(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_osrelease_table),
		cmocka_unit_test(test_osrelease_limits),
		cmocka_unit_test(test_collect),
	};

	return cmocka_run_group_tests_name("ag_platform", tests, NULL, NULL);
}
