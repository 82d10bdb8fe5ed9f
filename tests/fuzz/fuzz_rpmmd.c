/*
 * Fuzz target: the RPM repository metadata parsers.  The first input byte
 * picks the parser (primary.xml, updateinfo.xml, repomd.xml, rpm -qa
 * output, or primary and updateinfo separated by a "\n--\n" line); the rest
 * is the document.  Whatever was accepted is then resolved against a small
 * fixed inventory, so candidate choice and advisory inheritance run on
 * hostile data too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "pt_model.h"
#include "pt_rpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const inst[][3] = {
	{ "bash", "x86_64", "5.1-1.el9" },
	{ "glibc", "i686", "2.34-60" },
	{ "glibc", "x86_64", "1:2.34-60" },
	{ "python3-six", "noarch", "1.15-1" },
	{ "a", "x", "1" },
};

static void
resolve(struct pt_rpm_md *md)
{
	struct pt_inventory inv;
	struct dh_err err;
	size_t i, n = sizeof(inst) / sizeof(inst[0]);

	memset(&inv, 0, sizeof(inv));
	inv.family = PT_FAMILY_RPM;
	inv.pkgs = calloc(n, sizeof(*inv.pkgs));
	if (inv.pkgs == NULL)
		return;
	for (i = 0; i < n; i++) {
		inv.pkgs[i].name = strdup(inst[i][0]);
		inv.pkgs[i].arch = strdup(inst[i][1]);
		inv.pkgs[i].version = strdup(inst[i][2]);
		inv.n_pkgs++;
	}
	(void)pt_rpm_md_resolve(md, &inv, &err);
	pt_inventory_free(&inv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_rpm_md *md;
	struct pt_inventory inv;
	struct dh_err err;
	char *ph = NULL, *uh = NULL;
	const uint8_t *doc, *sep;
	size_t n, i;

	if (size < 1)
		return 0;
	doc = data + 1;
	n = size - 1;
	md = pt_rpm_md_new();
	if (md == NULL)
		return 0;
	switch (data[0] % 5) {
	case 0:
		(void)pt_rpm_md_parse_primary(md, "fuzz", doc, n, &err);
		break;
	case 1:
		(void)pt_rpm_md_parse_updateinfo(md, doc, n, &err);
		break;
	case 2:
		if (pt_rpm_md_parse_repomd(doc, n, &ph, &uh, &err) == DH_OK) {
			if ((ph != NULL && strlen(ph) > PT_RPM_MAX_ATTR) ||
			    (uh != NULL && strlen(uh) > PT_RPM_MAX_ATTR))
				abort();
		}
		free(ph);
		free(uh);
		break;
	case 3:
		memset(&inv, 0, sizeof(inv));
		(void)pt_rpm_parse_qa(doc, n, &inv, &err);
		for (i = 0; i < inv.n_pkgs; i++) {
			if (inv.pkgs[i].name == NULL || inv.pkgs[i].version == NULL)
				abort();
		}
		pt_inventory_free(&inv);
		break;
	default:
		sep = NULL;
		for (i = 0; i + 4 <= n; i++) {
			if (memcmp(doc + i, "\n--\n", 4) == 0) {
				sep = doc + i;
				break;
			}
		}
		if (sep == NULL) {
			(void)pt_rpm_md_parse_primary(md, "fuzz", doc, n, &err);
		} else {
			(void)pt_rpm_md_parse_primary(md, "fuzz", doc,
			    (size_t)(sep - doc), &err);
			(void)pt_rpm_md_parse_updateinfo(md, sep + 4,
			    n - (size_t)(sep - doc) - 4, &err);
		}
		break;
	}
	resolve(md);
	pt_rpm_md_free(md);
	return 0;
}
