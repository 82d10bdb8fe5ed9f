/*
 * pt_model: the data model shared by the patch scanners (dpkg/apt and
 * rpm/dnf), the baseline evaluator and the reporters.  A scanner turns a root
 * filesystem into a struct pt_inventory: every installed package, and for
 * each one the candidate update the package manager would pick (if newer),
 * with the metadata baseline rules filter on.  The evaluator turns an
 * inventory plus a baseline into per-patch states.
 *
 * Ownership: an inventory owns every string and array in it (strings are
 * heap copies, NULL when unknown); pt_inventory_free releases everything.
 */
#ifndef PT_MODEL_H
#define PT_MODEL_H

#include <stddef.h>
#include <stdint.h>

enum pt_family {
	PT_FAMILY_DEB = 1, /* dpkg/apt: Debian, Ubuntu, Raspbian */
	PT_FAMILY_RPM = 2  /* rpm/dnf/yum: Amazon Linux, RHEL, Rocky, SLES... */
};

/* One installed package (one per name+arch). */
struct pt_pkg {
	char *name;
	char *arch;        /* "amd64", "all", "x86_64", "noarch" */
	char *version;     /* deb: "[epoch:]upstream[-revision]"; rpm: "[epoch:]version-release" */
	char *source;      /* deb source package name, rpm source rpm; may be NULL */
	char *section;     /* deb Section of the installed stanza */
	char *priority;    /* deb Priority (lower case as in the index) */
	int64_t installed_time; /* epoch seconds, 0 when unknown */
	int held;          /* deb: selection "hold" */
	int installed_security; /* the installed version is in a security pocket
				   (deb) or named by a Security advisory (rpm) */
	char *installed_severity; /* rpm: severity of the Security advisory
				     naming the installed EVR ("Critical"...);
				     NULL when none or unknown, always NULL
				     for deb */

	/* Candidate update, filled when a newer version is available. */
	struct pt_update *update;
};

/* The candidate the package manager would install for a pt_pkg. */
struct pt_update {
	char *version;        /* candidate version (same format as pt_pkg.version) */
	char *arch;           /* candidate architecture (may differ: "all") */
	char *repository;     /* deb: "<origin>:<codename>/<component>"; rpm: repo id */
	char *section;        /* deb Section of the candidate stanza */
	char *priority;       /* deb Priority of the candidate stanza */
	int security;         /* candidate lives in a security pocket / Security advisory */
	char *classification; /* rpm advisory type: Security, Bugfix, Enhancement...; deb: NULL */
	char *severity;       /* rpm advisory severity: Critical, Important...; deb: NULL */
	char *advisory_id;    /* rpm: RHSA-..., ALAS-...; deb: NULL */
	char **cves;          /* CVE ids (n_cves), may be empty */
	size_t n_cves;
	char **bugzilla_ids;  /* rpm advisory Bugzilla ids (n_bugzilla_ids) */
	size_t n_bugzilla_ids;
	int64_t release_time; /* advisory updated/issued or build time, 0 unknown */
	int reboot_suggested;
};

/* Everything a scan found on one root. */
struct pt_inventory {
	enum pt_family family;
	char *os_id;        /* /etc/os-release ID: "debian", "ubuntu", "amzn", "rhel"... */
	char *os_version;   /* VERSION_ID: "12", "22.04", "2023" */
	char *os_codename;  /* VERSION_CODENAME: "bookworm"; may be NULL */
	char *product;      /* AWS PRODUCT value: "Debian12", "Ubuntu22.04", "AmazonLinux2023" */
	struct pt_pkg *pkgs; /* sorted by name, then arch */
	size_t n_pkgs;
	int reboot_required; /* /var/run/reboot-required present */
};

/* Release everything an inventory owns and zero it. */
void pt_inventory_free(struct pt_inventory *inv);

/* Free one update record (and its strings); NULL is fine. */
void pt_update_free(struct pt_update *u);

#endif
