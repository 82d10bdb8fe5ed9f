/*
 * pt_scan: the scanner entry point.  Looks at a root filesystem ("/" or a
 * chroot, image or fixture directory), reads <root>/etc/os-release (or
 * usr/lib/os-release), decides the package family (dpkg for Debian-like IDs
 * or when var/lib/dpkg/status exists without an RPM-family ID, otherwise
 * rpm) and fills a struct pt_inventory: os fields, AWS PRODUCT value
 * ("Debian12", "Ubuntu22.04"), every installed package with its candidate
 * update, and reboot_required from run/reboot-required.  Debian roots are
 * scanned here (pt_dpkg + pt_apt); RPM roots by pt_rpm_scan.
 *
 * Ownership: the inventory is the caller's (pt_inventory_free); extras
 * returned by pt_scan_root_ex are freed with pt_scan_extra_free.
 */
#ifndef PT_SCAN_H
#define PT_SCAN_H

#include <stddef.h>

#include "dh_err.h"
#include "pt_model.h"

/* Progress: what is being read ("index" file name, or NULL when done),
 * done of total steps.  Called from the scanning thread. */
typedef void (*pt_scan_progress_fn)(void *ctx, const char *what, size_t done,
    size_t total);

/* Debian-only details that struct pt_inventory has no field for, one per
 * inventory package (same order); all NULL/0 for RPM roots. */
struct pt_scan_extra {
	char *archives;  /* Suites carrying the candidate, "a,b" as apt list */
	int pin;         /* the candidate's pin priority */
};

struct pt_scan_stats {
	size_t n_lists;    /* indexes read */
	size_t n_stanzas;  /* index stanzas seen */
	size_t n_records;  /* dpkg records read (installed or not) */
};

/* Scan root (NULL or "/" for this host) into inv, which the caller zeroed;
 * on error inv is left empty.  DH_E_NOTFOUND when the root has neither a
 * dpkg database nor an rpm one. */
int pt_scan_root(const char *root, struct pt_inventory *inv,
    pt_scan_progress_fn progress, void *progress_ctx, struct dh_err *err);

/* As pt_scan_root, also returning per-package extras (*extra owned, n equal
 * to inv->n_pkgs; may be NULL) and stats (may be NULL). */
int pt_scan_root_ex(const char *root, struct pt_inventory *inv,
    struct pt_scan_extra **extra, struct pt_scan_stats *stats,
    pt_scan_progress_fn progress, void *progress_ctx, struct dh_err *err);

/* Free an extras array of n entries (NULL is fine). */
void pt_scan_extra_free(struct pt_scan_extra *extra, size_t n);

/* AWS PRODUCT value for an os-release ID and VERSION_ID ("debian","12" ->
 * "Debian12"); writes at most n bytes to buf.  DH_E_NOTFOUND when unknown. */
int pt_scan_product(const char *os_id, const char *version_id, char *buf,
    size_t n);

#endif
