/*
 * pt_apt: the available set of a Debian/Ubuntu root and apt's candidate
 * choice for each installed package.
 *
 * Reads every <root>/var/lib/apt/lists/<name>_Packages[.gz|.xz|.bz2|.lz4|
 * .zst|.lzma] streaming through libarchive (raw format, all filters), never
 * holding an index in memory, and the Release metadata of each index from
 * the *_InRelease (PGP clear-sign armour stripped) or <prefix>_Release file whose
 * name is the longest prefix of the index's name.  A release is a security
 * pocket when its Label is "Debian-Security" or its Codename or Suite ends
 * in "-security".
 *
 * Candidate selection follows apt's policy: each version's pin is the
 * highest priority of the files carrying it (500 by default, 100 for
 * NotAutomatic + ButAutomaticUpgrades, 1 for NotAutomatic alone; the
 * installed version at least 100), overridden by /etc/apt/preferences and
 * preferences.d/ pins of type "release" (a= n= o= l= c= v= keys), "origin"
 * and "version" for "*" or named (glob) packages.  Walking versions from
 * newest to installed, the highest pin wins and ties go to the newer one;
 * a newer candidate exists when some newer version's pin is at least the
 * installed version's.  Downgrade pins (>= 1000 below the installed version)
 * and APT::Default-Release (990) are not considered.  The candidate is a
 * security update when any release carrying that exact version is a
 * security pocket; likewise the installed version is marked as in a
 * security pocket when a security file carries a stanza with the installed
 * name, architecture ("all" standing for the native one) and version
 * (noted while the indexes stream, no second pass).
 *
 * Ownership: struct pt_apt owns all its strings (pt_apt_free).
 */
#ifndef PT_APT_H
#define PT_APT_H

#include <stddef.h>

#include "dh_err.h"
#include "pt_dpkg.h"

/* The newer candidate for one installed package, and what the lists say
 * about the installed version. */
struct pt_apt_cand {
	int installed_security; /* the installed (name, arch, version) has a
	                           stanza in a security pocket; set whether or
	                           not a newer candidate exists */
	char *version;    /* NULL: no newer candidate (the fields below are
	                     unset) */
	char *arch;       /* the candidate stanza's Architecture */
	char *section;    /* NULL when absent */
	char *priority;   /* NULL when absent */
	char *repository; /* "<Origin>:<Codename>/<component>" of the first
	                     security file carrying it, else of the first */
	char *archives;   /* comma-separated Suites carrying it ("a,b") */
	int security;
	int pin;          /* the candidate's pin priority */
};

struct pt_apt {
	struct pt_apt_cand *cands; /* parallel to pt_dpkg.pkgs (n entries) */
	size_t n;
	size_t n_lists;            /* Packages indexes read */
	size_t n_releases;         /* Release files read */
	size_t n_stanzas;          /* index stanzas seen */
};

/* Progress: called before each index is read (done of total). */
typedef void (*pt_apt_progress_fn)(void *ctx, const char *file, size_t done,
    size_t total);

/* Scan root's apt lists against the installed set db.  A root without
 * lists is not an error (no candidates).  Malformed indexes, Release files
 * or preferences fail with DH_E_FORMAT/DH_E_TOOBIG naming the file and
 * line; progress may be NULL. */
int pt_apt_scan(const char *root, const struct pt_dpkg *db, struct pt_apt *out,
    pt_apt_progress_fn progress, void *progress_ctx, struct dh_err *err);

/* Release everything out owns and zero it. */
void pt_apt_free(struct pt_apt *out);

#endif
