/*
 * pt_rpmver: RPM version ordering exactly as rpm >= 4.15 (rpmvercmp with
 * `~` sorting before everything and `^` sorting after the base version but
 * before any further segment), plus "[E:]V[-R]" parsing and EVR comparison
 * as rpm's own rpmverCmp (rpm.vercmp in Lua): epoch (missing = "0"), then
 * version, then release, where a missing release sorts before any release.
 * Only ASCII letters and digits form segments; every other byte (including
 * non-ASCII) is a separator.
 */
#ifndef PT_RPMVER_H
#define PT_RPMVER_H

#include <stddef.h>

/* A parsed "[E:]V[-R]": spans into the caller's string (not owned).  e is
 * NULL when no epoch was written, r is NULL when there is no release. */
struct pt_rpmver_evr {
	const char *e;
	size_t elen;
	const char *v;
	size_t vlen;
	const char *r;
	size_t rlen;
};

/* rpmvercmp of two NUL-terminated strings: -1, 0 or 1. */
int pt_rpmver_cmp(const char *a, const char *b);

/* rpmvercmp of two counted strings (no NUL needed): -1, 0 or 1. */
int pt_rpmver_cmpn(const char *a, size_t alen, const char *b, size_t blen);

/* Split s ("[E:]V[-R]") the way rpm's parseEVR does: the epoch is a run of
 * leading digits ended by ':' (an empty run before ':' means "0"), the
 * release is what follows the last '-' after that run.  Never fails. */
void pt_rpmver_parse(const char *s, struct pt_rpmver_evr *out);

/* Compare two parsed EVRs like rpmverCmp: -1, 0 or 1. */
int pt_rpmver_evr_cmp_parsed(const struct pt_rpmver_evr *a,
    const struct pt_rpmver_evr *b);

/* Parse and compare two "[E:]V[-R]" strings (rpm.vercmp): -1, 0 or 1. */
int pt_rpmver_evr_cmp(const char *a, const char *b);

/* Compare (epoch, version, release) triples; any member may be NULL
 * (epoch NULL = "0"; a NULL version or release sorts before a present one). */
int pt_rpmver_evr_cmp3(const char *e1, const char *v1, const char *r1,
    const char *e2, const char *v2, const char *r2);

#endif
