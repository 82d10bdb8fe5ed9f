/*
 * Unit tests for the Debian scanner (pt_dpkg, pt_apt, pt_scan) on fixture
 * roots written by the test: candidate choice under apt's default pins
 * (security vs newer -updates, arch "all", multi-arch, backports with
 * NotAutomatic+ButAutomaticUpgrades, experimental with NotAutomatic),
 * preferences pins (release, version, origin, negative), the dpkg journal
 * in updates/, status states, clear-signed InRelease, os-release/product,
 * the candidate's arch and installed_security in the model, and malformed
 * status/Packages/Release files failing with clear errors.
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

#include "dh_err.h"
#include "pt_apt.h"
#include "pt_dpkg.h"
#include "pt_model.h"
#include "pt_scan.h"

static char root[256];

static void
put(const char *rel, const char *content, size_t n)
{
	char path[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; *p != '\0'; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, n ? n : strlen(content), f),
	    n ? n : strlen(content));
	fclose(f);
}

static void
rm_rf(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0); /* check-src: allow */
}

#define ST(name, arch, ver, state) \
	"Package: " name "\nStatus: install ok " state "\nPriority: optional\n" \
	"Section: misc\nArchitecture: " arch "\nVersion: " ver "\n" \
	"Description: x\n long\n .\n more\n\n"

static const char status_txt[] =
	ST("dpkg", "amd64", "1.21.22", "installed")
	ST("foo", "amd64", "1.0", "installed")
	ST("bar", "all", "2.0", "installed")
	ST("baz", "amd64", "1.0", "installed")
	ST("baz", "i386", "1.0", "installed")
	ST("bp", "amd64", "1.0", "installed")
	ST("bp2", "amd64", "2.0~bpo12+1", "installed")
	ST("exp", "amd64", "1.0", "installed")
	ST("both", "amd64", "2.0", "installed")
	ST("half", "amd64", "1.0", "half-installed")
	ST("cfg", "amd64", "1.0", "config-files")
	"Package: gone\nStatus: purge ok not-installed\nArchitecture: amd64\n\n"
	"Package: held\nStatus: hold ok installed\nArchitecture: amd64\n"
	"Version: 1.0\nSource: heldsrc (0.9)\n\n";

#define PK(name, arch, ver) \
	"Package: " name "\nVersion: " ver "\nArchitecture: " arch "\n" \
	"Priority: optional\nSection: admin\nFilename: pool/x.deb\n" \
	"Description: d\nDescription-md5: 0123\n\n"

static const char main_pk[] =
	PK("foo", "amd64", "1.0")
	PK("bar", "all", "2.0")
	PK("baz", "i386", "1.0")
	PK("bp", "amd64", "1.0")
	PK("both", "amd64", "3.0")
	PK("notinst", "amd64", "9.9")
	PK("half", "amd64", "1.1")
	PK("held", "amd64", "1.1")
	PK("cfg", "amd64", "2.0");
static const char sec_pk[] =
	PK("foo", "amd64", "1.1")
	PK("bar", "all", "2.1")
	PK("baz", "amd64", "1.1")
	PK("both", "amd64", "3.0");
static const char upd_pk[] = PK("foo", "amd64", "1.2");
static const char bpo_pk[] =
	PK("bp", "amd64", "2.0~bpo12+1")
	PK("bp2", "amd64", "2.1~bpo12+1");
static const char exp_pk[] = PK("exp", "amd64", "9.0");

#define LISTS "var/lib/apt/lists/"
#define DD "deb.debian.org_debian_dists_"

static void
write_root(void)
{
	strcpy(root, "/tmp/test_pt_apt_XXXXXX"); /* check-src: allow */
	assert_non_null(mkdtemp(root));
	put("etc/os-release", "NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\n"
	    "VERSION_CODENAME=bookworm\n", 0);
	put("var/lib/dpkg/status", status_txt, 0);
	put("var/lib/dpkg/info/foo.list", "/usr/bin/foo\n", 0);
	put("var/lib/dpkg/info/baz:i386.list", "/usr/lib/baz\n", 0);
	put(LISTS DD "bookworm_InRelease",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
	    "Origin: Debian\nLabel: Debian\nSuite: oldstable\n"
	    "Codename: bookworm\nVersion: 12.11\nSHA256:\n"
	    " 0123 100 main/binary-amd64/Packages\n"
	    "-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n",
	    0);
	put(LISTS DD "bookworm_main_binary-amd64_Packages", main_pk, 0);
	put("var/lib/apt/lists/deb.debian.org_debian-security_dists_"
	    "bookworm-security_InRelease",
	    "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
	    "- Origin: Debian\nLabel: Debian-Security\n"
	    "Suite: oldstable-security\nCodename: bookworm-security\n"
	    "-----BEGIN PGP SIGNATURE-----\n\nabc\n", 0);
	put("var/lib/apt/lists/deb.debian.org_debian-security_dists_"
	    "bookworm-security_main_binary-amd64_Packages", sec_pk, 0);
	put(LISTS DD "bookworm-updates_Release",
	    "Origin: Debian\nLabel: Debian\nSuite: oldstable-updates\n"
	    "Codename: bookworm-updates\n", 0);
	put(LISTS DD "bookworm-updates_main_binary-amd64_Packages", upd_pk, 0);
	put(LISTS DD "bookworm-backports_InRelease",
	    "Origin: Debian Backports\nLabel: Debian Backports\n"
	    "Suite: bookworm-backports\nCodename: bookworm-backports\n"
	    "NotAutomatic: yes\nButAutomaticUpgrades: yes\n", 0);
	put(LISTS DD "bookworm-backports_main_binary-amd64_Packages", bpo_pk,
	    0);
	put(LISTS DD "experimental_Release",
	    "Origin: Debian\nLabel: Debian\nSuite: experimental\n"
	    "Codename: rc-buggy\nNotAutomatic: yes\n", 0);
	put(LISTS DD "experimental_main_binary-amd64_Packages", exp_pk, 0);
}

static int
setup(void **state)
{
	write_root();
	return 0;
}

static int
teardown(void **state)
{
	rm_rf(root);
	return 0;
}

static const struct pt_pkg *
find(const struct pt_inventory *inv, const char *name, const char *arch)
{
	size_t i;

	for (i = 0; i < inv->n_pkgs; i++)
		if (strcmp(inv->pkgs[i].name, name) == 0 &&
		    strcmp(inv->pkgs[i].arch, arch) == 0)
			return &inv->pkgs[i];
	return NULL;
}

static const char *
cand(const struct pt_inventory *inv, const char *name, const char *arch)
{
	const struct pt_pkg *p = find(inv, name, arch);

	if (p == NULL)
		fail_msg("%s:%s not in inventory", name, arch);
	return p->update != NULL ? p->update->version : "-";
}

static int
sec(const struct pt_inventory *inv, const char *name, const char *arch)
{
	const struct pt_pkg *p = find(inv, name, arch);

	return p != NULL && p->update != NULL && p->update->security;
}

static void
scan(struct pt_inventory *inv, struct pt_scan_extra **ex)
{
	struct dh_err err;
	int rc;

	memset(inv, 0, sizeof(*inv));
	dh_err_clear(&err);
	rc = pt_scan_root_ex(root, inv, ex, NULL, NULL, NULL, &err);
	if (rc != DH_OK)
		fail_msg("scan: %d %s", rc, err.msg);
}

static void
test_default_pins(void **state)
{
	struct pt_inventory inv;
	struct pt_scan_extra *ex = NULL;
	const struct pt_pkg *p;
	size_t i;

	scan(&inv, &ex);
	assert_int_equal(inv.family, PT_FAMILY_DEB);
	assert_string_equal(inv.os_id, "debian");
	assert_string_equal(inv.os_version, "12");
	assert_string_equal(inv.os_codename, "bookworm");
	assert_string_equal(inv.product, "Debian12");
	assert_int_equal(inv.reboot_required, 0);
	/* sorted, installed only (config-files and not-installed dropped) */
	assert_int_equal(inv.n_pkgs, 11);
	for (i = 1; i < inv.n_pkgs; i++)
		assert_true(strcmp(inv.pkgs[i - 1].name, inv.pkgs[i].name) <= 0);
	assert_null(find(&inv, "cfg", "amd64"));
	assert_null(find(&inv, "gone", "amd64"));
	/* -updates is newer than -security: candidate, but not security */
	assert_string_equal(cand(&inv, "foo", "amd64"), "1.2");
	assert_false(sec(&inv, "foo", "amd64"));
	/* arch all */
	assert_string_equal(cand(&inv, "bar", "all"), "2.1");
	assert_true(sec(&inv, "bar", "all"));
	p = find(&inv, "bar", "all");
	assert_string_equal(p->update->repository,
	    "Debian:bookworm-security/main");
	assert_string_equal(p->update->section, "admin");
	assert_string_equal(p->update->priority, "optional");
	/* multi-arch: each arch on its own */
	assert_string_equal(cand(&inv, "baz", "amd64"), "1.1");
	assert_string_equal(cand(&inv, "baz", "i386"), "-");
	/* backports: never over an archive version, but upgrades itself */
	assert_string_equal(cand(&inv, "bp", "amd64"), "-");
	assert_string_equal(cand(&inv, "bp2", "amd64"), "2.1~bpo12+1");
	/* NotAutomatic alone: never */
	assert_string_equal(cand(&inv, "exp", "amd64"), "-");
	/* in two archives: security, both suites listed */
	assert_true(sec(&inv, "both", "amd64"));
	for (i = 0; i < inv.n_pkgs; i++)
		if (strcmp(inv.pkgs[i].name, "both") == 0)
			assert_string_equal(ex[i].archives,
			    "oldstable-security,oldstable");
	/* half-installed counts, hold selection still gets a candidate */
	assert_string_equal(cand(&inv, "half", "amd64"), "1.1");
	p = find(&inv, "held", "amd64");
	assert_true(p->held);
	assert_string_equal(p->source, "heldsrc");
	assert_string_equal(cand(&inv, "held", "amd64"), "1.1");
	/* install time from info/<pkg>.list and info/<pkg>:<arch>.list */
	assert_true(find(&inv, "foo", "amd64")->installed_time > 0);
	assert_true(find(&inv, "baz", "i386")->installed_time > 0);
	assert_int_equal(find(&inv, "bar", "all")->installed_time, 0);
	pt_scan_extra_free(ex, inv.n_pkgs);
	pt_inventory_free(&inv);
}

static void
test_preferences(void **state)
{
	struct pt_inventory inv;

	put("etc/apt/preferences",
	    "# security first for foo\n"
	    "Package: foo\nPin: release n=bookworm-security\n"
	    "Pin-Priority: 990\n\n"
	    "Explanation: keep bar\nPackage: bar\nPin: version 2.0\n"
	    "Pin-Priority: 1001\n", 0);
	put("etc/apt/preferences.d/exp.pref",
	    "Package: *\nPin: release a=experimental\nPin-Priority: 500\n", 0);
	put("etc/apt/preferences.d/no-baz",
	    "Package: baz\nPin: origin deb.debian.org\nPin-Priority: -1\n", 0);
	put("etc/apt/preferences.d/ignored.txt",
	    "Package: half\nPin: version *\nPin-Priority: -1\n", 0);
	scan(&inv, NULL);
	assert_string_equal(cand(&inv, "foo", "amd64"), "1.1");
	assert_true(sec(&inv, "foo", "amd64"));
	assert_string_equal(cand(&inv, "bar", "all"), "-");
	assert_string_equal(cand(&inv, "exp", "amd64"), "9.0");
	assert_string_equal(cand(&inv, "baz", "amd64"), "-");
	assert_string_equal(cand(&inv, "half", "amd64"), "1.1");
	pt_inventory_free(&inv);
	rm_rf(root);
	write_root();
}

static void
test_dpkg_journal(void **state)
{
	struct pt_dpkg db;
	struct dh_err err;
	long i;

	put("var/lib/dpkg/updates/0001", ST("foo", "amd64", "1.1", "installed"),
	    0);
	put("var/lib/dpkg/updates/0010", ST("foo", "amd64", "1.3", "installed"),
	    0);
	put("var/lib/dpkg/updates/0002",
	    ST("foo", "amd64", "1.2", "installed")
	    ST("new", "amd64", "0.1", "unpacked"), 0);
	put("var/lib/dpkg/updates/tmp.i", "garbage without colon\n", 0);
	assert_int_equal(pt_dpkg_load(root, &db, &err), DH_OK);
	i = pt_dpkg_find(&db, "foo", 3, "amd64", 5);
	assert_true(i >= 0);
	assert_string_equal(db.pkgs[i].version, "1.3");
	assert_true(pt_dpkg_find(&db, "new", 3, "amd64", 5) >= 0);
	/* "all" and the native arch are one key */
	assert_true(pt_dpkg_find(&db, "bar", 3, "amd64", 5) >= 0);
	assert_true(pt_dpkg_find(&db, "foo", 3, "all", 3) >= 0);
	assert_int_equal(pt_dpkg_find(&db, "foo", 3, "i386", 4), -1);
	assert_string_equal(db.native_arch, "amd64");
	pt_dpkg_free(&db);
	rm_rf(root);
	write_root();
}

struct bad_case {
	const char *file;
	const char *content;
	size_t len;
	int rc;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "var/lib/dpkg/status", "Status: install ok installed\n"
	    "Version: 1\n\n", 0, DH_E_FORMAT, "has no Package field" },
	{ "var/lib/dpkg/status", "Package: a\nStatus: install ok\n\n", 0,
	    DH_E_FORMAT, "three words" },
	{ "var/lib/dpkg/status", "Package: a\nStatus: install ok weird\n\n",
	    0, DH_E_FORMAT, "unknown state 'weird'" },
	{ "var/lib/dpkg/status", "Package: a\nStatus: install ok installed\n\n",
	    0, DH_E_FORMAT, "has no Version" },
	{ "var/lib/dpkg/status", "Package: a\nStatus: install ok installed\n"
	    "Version: 1.0-\n\n", 0, DH_E_FORMAT, "revision number is empty" },
	{ "var/lib/dpkg/status", "Package: a\nStatus: install ok installed\n"
	    "Ver\0sion: 1\n", 52, DH_E_FORMAT, "line 3: NUL byte" },
	{ "var/lib/dpkg/status", "Package: a\n\x7f\x45\x4c\x46\x02\x01\n", 0,
	    DH_E_FORMAT, "line 2" },
	{ "var/lib/dpkg/status", "Package: a\nPackage: b\n\n", 0,
	    DH_E_FORMAT, "duplicate Package" },
	{ LISTS DD "bookworm_main_binary-amd64_Packages",
	    "Version: 1\nArchitecture: amd64\n\n", 0, DH_E_FORMAT,
	    "has no Package field" },
	{ LISTS DD "bookworm_main_binary-amd64_Packages",
	    "Package: foo\nArchitecture: amd64\n\n", 0, DH_E_FORMAT,
	    "lacks Version" },
	{ LISTS DD "bookworm_main_binary-amd64_Packages",
	    "Package: foo\nVersion: :1\nArchitecture: amd64\n\n", 0,
	    DH_E_FORMAT, "epoch in version is empty" },
	{ LISTS DD "bookworm_main_binary-amd64_Packages",
	    "Package: foo\nVersion: 1\nArchitecture: amd64\nno colon", 0,
	    DH_E_FORMAT, "_Packages: line 4: expected" },
	{ LISTS DD "bookworm_InRelease", "-----BEGIN PGP SIGNED MESSAGE-----\n"
	    "Hash: SHA512\n\n\x01\x02\x03 junk\n", 0, DH_E_FORMAT,
	    "_InRelease: line" },
	{ "etc/apt/preferences", "Pin: release a=x\nPin-Priority: 5\n", 0,
	    DH_E_FORMAT, "without Package" },
	{ "etc/apt/preferences", "Package: a\nPin: release a=x\n"
	    "Pin-Priority: high\n", 0, DH_E_FORMAT, "bad Pin-Priority" },
};

static void
test_malformed(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct pt_inventory inv;
		struct dh_err err;
		int rc;

		put(c->file, c->content, c->len);
		memset(&inv, 0, sizeof(inv));
		dh_err_clear(&err);
		rc = pt_scan_root(root, &inv, NULL, NULL, &err);
		if (rc != c->rc || strstr(err.msg, c->msg) == NULL)
			fail_msg("case %zu: rc %d '%s', want %d '%s'", i, rc,
			    err.msg, c->rc, c->msg);
		assert_int_equal(inv.n_pkgs, 0);
		assert_null(inv.pkgs);
		rm_rf(root);
		write_root();
	}
}

static void
test_huge_field(void **state)
{
	size_t n = 5u * 1024 * 1024, i;
	char *big = malloc(n);
	struct pt_inventory inv;
	struct dh_err err;

	assert_non_null(big);
	memcpy(big, "Package: a\nDescription: ", 24);
	for (i = 24; i < n - 1; i++)
		big[i] = 'x';
	big[n - 1] = '\n';
	put("var/lib/dpkg/status", big, n);
	memset(&inv, 0, sizeof(inv));
	assert_int_equal(pt_scan_root(root, &inv, NULL, NULL, &err),
	    DH_E_TOOBIG);
	assert_non_null(strstr(err.msg, "line 2: field longer than"));
	rm_rf(root);
	write_root();
	/* 2 MiB in an index is over its 1 MiB cap as well */
	memcpy(big, "Package: foo\nVersion: 1\nArchitecture: amd64\nX: ", 47);
	put(LISTS DD "bookworm_main_binary-amd64_Packages", big, 2u << 20);
	assert_int_equal(pt_scan_root(root, &inv, NULL, NULL, &err),
	    DH_E_TOOBIG);
	rm_rf(root);
	write_root();
	free(big);
}

static void
test_no_lists_and_reboot(void **state)
{
	struct pt_inventory inv;

	rm_rf(root);
	write_root();
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s/var/lib/apt'", root);
		assert_int_equal(system(cmd), 0); /* check-src: allow */
	}
	put("run/reboot-required", "*** System restart required ***\n", 0);
	scan(&inv, NULL);
	assert_int_equal(inv.n_pkgs, 11);
	assert_string_equal(cand(&inv, "foo", "amd64"), "-");
	assert_int_equal(inv.reboot_required, 1);
	pt_inventory_free(&inv);
	rm_rf(root);
	write_root();
}

/* Model fields: the candidate stanza's arch (an "all" candidate of an
 * amd64 install) and installed_security (the installed name, arch and
 * version carried by a security-pocket index, whether or not a newer
 * candidate exists). */
static void
test_model_fields(void **state)
{
	static const char extra_st[] =
		ST("tool", "amd64", "1.0", "installed")
		ST("secinst", "amd64", "1.5", "installed")
		ST("allsec", "all", "3.0", "installed")
		ST("plain", "amd64", "1.0", "installed");
	static const char contrib_pk[] =
		PK("tool", "all", "1.1")
		PK("secinst", "amd64", "1.5")
		PK("plain", "amd64", "1.0");
	static const char sec_contrib_pk[] =
		PK("secinst", "amd64", "1.5")
		PK("allsec", "all", "3.0")
		PK("plain", "i386", "1.0");
	struct pt_inventory inv;
	struct pt_scan_extra *ex = NULL;
	const struct pt_pkg *p;
	char *st;
	size_t i, n = strlen(status_txt) + strlen(extra_st);

	st = malloc(n + 1);
	assert_non_null(st);
	memcpy(st, status_txt, strlen(status_txt));
	memcpy(st + strlen(status_txt), extra_st, strlen(extra_st) + 1);
	put("var/lib/dpkg/status", st, 0);
	free(st);
	put(LISTS DD "bookworm_contrib_binary-amd64_Packages", contrib_pk, 0);
	put("var/lib/apt/lists/deb.debian.org_debian-security_dists_"
	    "bookworm-security_contrib_binary-amd64_Packages", sec_contrib_pk,
	    0);
	scan(&inv, &ex);
	assert_int_equal(inv.n_pkgs, 15);
	/* an "all" candidate for an amd64 install */
	p = find(&inv, "tool", "amd64");
	assert_non_null(p);
	assert_non_null(p->update);
	assert_string_equal(p->update->version, "1.1");
	assert_string_equal(p->update->arch, "all");
	assert_false(p->installed_security);
	/* every candidate carries its stanza's arch */
	for (i = 0; i < inv.n_pkgs; i++)
		if (inv.pkgs[i].update != NULL)
			assert_non_null(inv.pkgs[i].update->arch);
	assert_string_equal(find(&inv, "baz", "amd64")->update->arch, "amd64");
	assert_string_equal(find(&inv, "bar", "all")->update->arch, "all");
	/* installed version in main and security: security, no candidate */
	p = find(&inv, "secinst", "amd64");
	assert_null(p->update);
	assert_true(p->installed_security);
	/* arch all installed, all in the security pocket */
	assert_true(find(&inv, "allsec", "all")->installed_security);
	/* same name and version in security, but for another arch */
	assert_false(find(&inv, "plain", "amd64")->installed_security);
	/* installed versions only in non-security indexes */
	assert_false(find(&inv, "foo", "amd64")->installed_security);
	assert_false(find(&inv, "bar", "all")->installed_security);
	assert_false(find(&inv, "baz", "i386")->installed_security);
	/* a newer candidate in security does not make the installed one so */
	assert_true(sec(&inv, "baz", "amd64"));
	assert_false(find(&inv, "baz", "amd64")->installed_security);
	pt_scan_extra_free(ex, inv.n_pkgs);
	pt_inventory_free(&inv);
	rm_rf(root);
	write_root();
}

static void
test_not_found(void **state)
{
	struct pt_inventory inv;
	struct dh_err err;

	memset(&inv, 0, sizeof(inv));
	assert_int_equal(pt_scan_root("/nonexistent-root-xyz", &inv, NULL,
	    NULL, &err), DH_E_NOTFOUND);
}

static void
test_product(void **state)
{
	char buf[32];

	assert_int_equal(pt_scan_product("ubuntu", "22.04", buf, sizeof(buf)),
	    DH_OK);
	assert_string_equal(buf, "Ubuntu22.04");
	assert_int_equal(pt_scan_product("debian", "12", buf, sizeof(buf)),
	    DH_OK);
	assert_string_equal(buf, "Debian12");
	assert_int_equal(pt_scan_product("debian", NULL, buf, sizeof(buf)),
	    DH_E_NOTFOUND);
	assert_int_equal(pt_scan_product("plan9", "4", buf, sizeof(buf)),
	    DH_E_NOTFOUND);
	assert_int_equal(pt_scan_product("ubuntu", "22.04", buf, 4),
	    DH_E_TOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_pins),
		cmocka_unit_test(test_preferences),
		cmocka_unit_test(test_dpkg_journal),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_huge_field),
		cmocka_unit_test(test_no_lists_and_reboot),
		cmocka_unit_test(test_model_fields),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_product),
	};

	return cmocka_run_group_tests_name("pt_apt", tests, setup, teardown);
}
