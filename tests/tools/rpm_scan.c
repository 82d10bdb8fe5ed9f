/*
 * rpm_scan: test driver for pt_rpm_scan.  `rpm_scan ROOT` scans the RPM
 * root and prints one tab-separated line per installed package:
 *   name arch version candidate repository classification severity
 *   advisory security release_time reboot cves(comma-separated)
 * ("-" for absent values), then on stderr a line
 *   "stats: packages=N updates=N elapsed_ms=N maxrss_kb=N child_maxrss_kb=N"
 * (peak RSS of this process and of the rpm child it spawned).  Exit 0 on
 * success, 2 with the error on stderr otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "dh_err.h"
#include "dh_time.h"
#include "pt_model.h"
#include "pt_rpm.h"

static const char *
s(const char *v)
{
	return v != NULL && *v != '\0' ? v : "-";
}

int
main(int argc, char **argv)
{
	struct pt_inventory inv;
	struct dh_err err;
	struct rusage self, kids;
	int64_t t0, t1;
	size_t i, j, updates = 0;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: rpm_scan ROOT\n");
		return 2;
	}
	dh_err_clear(&err);
	t0 = dh_time_mono_ms();
	rc = pt_rpm_scan(argv[1], &inv, &err);
	t1 = dh_time_mono_ms();
	if (rc != DH_OK) {
		fprintf(stderr, "rpm_scan: %s (%s)\n", err.msg, dh_strerror(rc));
		return 2;
	}
	for (i = 0; i < inv.n_pkgs; i++) {
		const struct pt_pkg *p = &inv.pkgs[i];
		const struct pt_update *u = p->update;

		printf("%s\t%s\t%s", p->name, p->arch, p->version);
		if (u == NULL) {
			printf("\t-\t-\t-\t-\t-\t0\t0\t0\t-\n");
			continue;
		}
		updates++;
		printf("\t%s\t%s\t%s\t%s\t%s\t%d\t%lld\t%d\t", u->version,
		    s(u->repository), s(u->classification), s(u->severity),
		    s(u->advisory_id), u->security, (long long)u->release_time,
		    u->reboot_suggested);
		for (j = 0; j < u->n_cves; j++)
			printf("%s%s", j > 0 ? "," : "", u->cves[j]);
		printf("%s\n", u->n_cves == 0 ? "-" : "");
	}
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	fprintf(stderr, "stats: packages=%zu updates=%zu elapsed_ms=%lld "
	    "maxrss_kb=%ld child_maxrss_kb=%ld product=%s\n", inv.n_pkgs,
	    updates, (long long)(t1 - t0), self.ru_maxrss, kids.ru_maxrss,
	    s(inv.product));
	pt_inventory_free(&inv);
	return 0;
}
