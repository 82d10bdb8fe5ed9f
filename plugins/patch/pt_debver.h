/*
 * pt_debver: Debian package version syntax and ordering, exactly as dpkg
 * (lib/dpkg/version.c, parsehelp.c): "[epoch:]upstream[-revision]", epochs
 * compared numerically, then upstream and revision with dpkg's alternating
 * non-digit/digit algorithm in which '~' sorts before everything (even the
 * end of the string) and letters sort before every other character.
 *
 * All functions take explicit lengths; the input need not be NUL-terminated
 * and is never modified.  Parsed parts point into the caller's string.
 */
#ifndef PT_DEBVER_H
#define PT_DEBVER_H

#include <stddef.h>

#include "dh_err.h"

/* A parsed version; upstream/revision borrow the caller's memory. */
struct pt_debver {
	unsigned int epoch;
	const char *upstream;
	size_t upstream_len;
	const char *revision; /* empty (len 0) when there is no revision */
	size_t revision_len;
};

/* Parse v like dpkg's parseversion.  Hard errors (empty, embedded blanks,
 * bad/negative/huge epoch, nothing after the colon, empty revision or
 * upstream) return DH_E_FORMAT with dpkg's reason in err.  Soft problems
 * (upstream not starting with a digit, characters outside the allowed sets)
 * still return DH_OK and set *warning to 1 (warning may be NULL). */
int pt_debver_parse(const char *v, size_t n, struct pt_debver *out,
    int *warning, struct dh_err *err);

/* Compare two parsed versions: <0, 0 or >0, as dpkg_version_compare. */
int pt_debver_cmp_parsed(const struct pt_debver *a, const struct pt_debver *b);

/* Compare two version strings as dpkg --compare-versions does for valid
 * input (<0, 0, >0).  Strings that fail pt_debver_parse are compared
 * leniently (a leading all-digit "epoch:" if any, the text after the last
 * '-' as revision, the rest as upstream), deterministically and safely. */
int pt_debver_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Compare two NUL-terminated version strings (convenience for pt_debver_cmp). */
int pt_debver_cmp_str(const char *a, const char *b);

/* dpkg's verrevcmp on one part (upstream or revision): <0, 0, >0. */
int pt_debver_cmp_part(const char *a, size_t alen, const char *b, size_t blen);

#endif
