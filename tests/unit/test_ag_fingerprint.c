/*
 * Unit tests for ag_fingerprint: collection from a fake root tree and the
 * similarity rule (table-driven), in particular that an IP change alone
 * keeps the identity and a machine-id change never does.
 */
#define _GNU_SOURCE
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
#include <ftw.h>

#include "ag_fingerprint.h"

static void
base_map(struct ag_hwmap *m)
{
	int k;
	char v[32];

	memset(m, 0, sizeof(*m));
	for (k = 0; k < AG_HW_NKEYS; k++) {
		snprintf(v, sizeof(v), "value-%d", k);
		ag_fp_set(m, k, v);
	}
}

struct sim_case {
	const char *name;
	int changed[AG_HW_NKEYS]; /* keys to alter, -1 terminated */
	int threshold;
	int expect;
};

static const struct sim_case sim_cases[] = {
	{ "identical", { -1 }, 40, 1 },
	{ "ip only", { AG_HW_IPADDRESS, -1 }, 40, 1 },
	{ "ip only, strict threshold", { AG_HW_IPADDRESS, -1 }, 100, 1 },
	{ "ip and hostname", { AG_HW_IPADDRESS, AG_HW_HOSTNAME, -1 }, 40, 1 },
	{ "machine-id", { AG_HW_MACHINE_ID, -1 }, 40, 0 },
	{ "machine-id, check off", { AG_HW_MACHINE_ID, -1 }, -1, 1 },
	{ "five changed", { AG_HW_IPADDRESS, AG_HW_HOSTNAME, AG_HW_MACADDR,
	    AG_HW_DISK, AG_HW_PROCESSOR, -1 }, 40, 1 },
	{ "six changed", { AG_HW_IPADDRESS, AG_HW_HOSTNAME, AG_HW_MACADDR,
	    AG_HW_DISK, AG_HW_PROCESSOR, AG_HW_MEMORY, -1 }, 40, 1 },
	{ "seven changed", { AG_HW_IPADDRESS, AG_HW_HOSTNAME, AG_HW_MACADDR,
	    AG_HW_DISK, AG_HW_PROCESSOR, AG_HW_MEMORY, AG_HW_BIOS, -1 }, 40,
	    0 },
	{ "six changed, same ip", { AG_HW_HOSTNAME, AG_HW_MACADDR, AG_HW_DISK,
	    AG_HW_PROCESSOR, AG_HW_MEMORY, AG_HW_BIOS, -1 }, 40, 0 },
	{ "hostname only, threshold 100", { AG_HW_HOSTNAME, -1 }, 100, 0 },
	{ "all but machine-id", { AG_HW_IPADDRESS, AG_HW_HOSTNAME,
	    AG_HW_MACADDR, AG_HW_DISK, AG_HW_PROCESSOR, AG_HW_MEMORY,
	    AG_HW_BIOS, AG_HW_SYSTEM, -1 }, 40, 0 },
};

static void
test_similarity_table(void **state)
{
	size_t i;
	int j;
	char why[256];

	for (i = 0; i < sizeof(sim_cases) / sizeof(sim_cases[0]); i++) {
		struct ag_hwmap a, b;

		base_map(&a);
		base_map(&b);
		for (j = 0; sim_cases[i].changed[j] >= 0; j++)
			ag_fp_set(&b, sim_cases[i].changed[j], "other");
		why[0] = '\0';
		if (ag_fp_similar(&a, &b, sim_cases[i].threshold, why,
		    sizeof(why)) != sim_cases[i].expect)
			fail_msg("case %s", sim_cases[i].name);
		if (!sim_cases[i].expect)
			assert_true(why[0] != '\0');
	}
}

static void
test_key_names(void **state)
{
	int k;

	for (k = 0; k < AG_HW_NKEYS; k++)
		assert_int_equal(ag_fp_key_index(ag_fp_key_name(k)), k);
	assert_null(ag_fp_key_name(AG_HW_NKEYS));
	assert_int_equal(ag_fp_key_index("nope"), -1);
	assert_string_equal(ag_fp_key_name(AG_HW_MACHINE_ID), "machine-id");
	assert_string_equal(ag_fp_key_name(AG_HW_IPADDRESS), "ipaddress-info");
}

static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void
put_file(const char *root, const char *rel, const char *content)
{
	char p[1024], dir[1024], *s;
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", p);
	for (s = dir + strlen(root) + 1; *s != '\0'; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(dir, 0700);
			*s = '/';
		}
	}
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void
test_collect_fake_root(void **state)
{
	char root[] = "/tmp/ag_fp_XXXXXX";
	char cmd[256];
	struct ag_hwmap a, b;

	assert_non_null(mkdtemp(root));
	put_file(root, "/etc/machine-id", "0123456789abcdef\n");
	put_file(root, "/proc/sys/kernel/hostname", "host1\n");
	put_file(root, "/proc/cpuinfo",
	    "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t: 1.0\n");
	put_file(root, "/proc/meminfo", "MemTotal: 1000 kB\nMemFree: 5 kB\n");
	put_file(root, "/sys/class/net/eth0/address", "52:54:00:12:34:56\n");
	put_file(root, "/sys/class/net/lo/address", "00:00:00:00:00:00\n");
	put_file(root, "/sys/class/dmi/id/bios_vendor", "SeaBIOS\n");
	ag_fp_collect(root, &a);
	assert_string_equal(a.v[AG_HW_MACHINE_ID], "0123456789abcdef");
	assert_string_equal(a.v[AG_HW_HOSTNAME], "host1");
	assert_string_equal(a.v[AG_HW_MACADDR], "52:54:00:12:34:56");
	assert_int_equal(strlen(a.v[AG_HW_PROCESSOR]), 32);
	assert_int_equal(strlen(a.v[AG_HW_MEMORY]), 32);
	assert_int_equal(strlen(a.v[AG_HW_BIOS]), 32);
	assert_string_equal(a.v[AG_HW_SYSTEM], "");
	assert_string_equal(a.v[AG_HW_DISK], "");
	/* Volatile values (cpu MHz, MemFree) do not change the hashes. */
	put_file(root, "/proc/cpuinfo",
	    "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t: 2.0\n");
	put_file(root, "/proc/meminfo", "MemTotal: 1000 kB\nMemFree: 9 kB\n");
	ag_fp_collect(root, &b);
	assert_int_equal(ag_fp_matches(&a, &b), AG_HW_NKEYS);
	/* Fallback machine-id location. */
	snprintf(cmd, sizeof(cmd), "%s/etc/machine-id", root);
	unlink(cmd);
	put_file(root, "/var/lib/dbus/machine-id", "feedface\n");
	ag_fp_collect(root, &b);
	assert_string_equal(b.v[AG_HW_MACHINE_ID], "feedface");
	assert_int_equal(ag_fp_similar(&a, &b, 40, NULL, 0), 0);
	assert_int_equal(nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void
test_collect_real(void **state)
{
	struct ag_hwmap a, b;

	ag_fp_collect(NULL, &a);
	ag_fp_collect("", &b);
	assert_int_equal(ag_fp_similar(&a, &b, 100, NULL, 0), 1);
	assert_true(a.v[AG_HW_HOSTNAME][0] != '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_similarity_table),
		cmocka_unit_test(test_key_names),
		cmocka_unit_test(test_collect_fake_root),
		cmocka_unit_test(test_collect_real),
	};

	return cmocka_run_group_tests_name("ag_fingerprint", tests, NULL,
	    NULL);
}
