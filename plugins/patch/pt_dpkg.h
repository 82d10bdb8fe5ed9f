/*
 * pt_dpkg: the installed package set of a Debian/Ubuntu root, read from
 * <root>/var/lib/dpkg/status plus dpkg's unmerged journal
 * <root>/var/lib/dpkg/updates/NNNN (applied in numeric order, later records
 * replacing earlier ones for the same package and architecture).
 *
 * A package counts as installed when its Status state is anything but
 * not-installed or config-files (apt's rule: unpacked, half-installed,
 * half-configured, triggers-* and installed all have a current version).
 * The install time is the mtime of info/<pkg>:<arch>.list or
 * info/<pkg>.list.  Packages are keyed by name and architecture, with
 * "all" folded into the native architecture as apt does, so an index line
 * for arch "all" finds an installed "amd64" package and vice versa.
 *
 * Ownership: struct pt_dpkg owns every string and array in it.
 */
#ifndef PT_DPKG_H
#define PT_DPKG_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"

struct pt_dpkg_pkg {
	char *name;
	char *arch;     /* as recorded ("amd64", "all", "i386") */
	char *version;
	char *source;   /* Source name without "(version)"; the package name
	                   when the stanza has no Source field */
	char *section;  /* NULL when absent */
	char *priority; /* NULL when absent */
	int held;       /* selection (want) is "hold" */
	int64_t installed_time; /* .list mtime, 0 when unknown */
};

struct pt_dpkg {
	struct pt_dpkg_pkg *pkgs; /* installed packages, sorted by name, arch */
	size_t n;
	size_t n_records;         /* stanzas read, installed or not */
	char native_arch[32];     /* Architecture of the dpkg package, else
	                             the most common non-"all" architecture */
	uint32_t *slots;          /* private: hash index into pkgs (+1) */
	size_t n_slots;
};

/* Read the installed set of root ("/" or a directory).  Missing status file
 * is DH_E_NOTFOUND; malformed input is DH_E_FORMAT/DH_E_TOOBIG with the file
 * and line in err.  On failure db is left empty. */
int pt_dpkg_load(const char *root, struct pt_dpkg *db, struct dh_err *err);

/* Index of the installed package name/arch ("all" equals the native
 * architecture), or -1. */
long pt_dpkg_find(const struct pt_dpkg *db, const char *name, size_t name_len,
    const char *arch, size_t arch_len);

/* Release everything db owns and zero it. */
void pt_dpkg_free(struct pt_dpkg *db);

#endif
