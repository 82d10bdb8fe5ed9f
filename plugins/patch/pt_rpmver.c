/*
 * pt_rpmver: rpm's version ordering (rpmvercmp of rpm >= 4.15, with `~` and
 * `^`) and rpmverCmp-style EVR comparison, on counted strings so callers can
 * compare spans of larger buffers without copying.  See pt_rpmver.h.
 */
#include "pt_rpmver.h"

#include <string.h>

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_segment(unsigned char c)
{
	return is_digit(c) || is_alpha(c) || c == '~' || c == '^';
}

int
pt_rpmver_cmpn(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0, si, sj, la, lb, m;
	unsigned char ca, cb;
	int isnum, rc;

	if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
		return 0;
	while (i < alen || j < blen) {
		while (i < alen && !is_segment((unsigned char)a[i]))
			i++;
		while (j < blen && !is_segment((unsigned char)b[j]))
			j++;
		ca = i < alen ? (unsigned char)a[i] : 0;
		cb = j < blen ? (unsigned char)b[j] : 0;

		/* Tilde sorts before everything, even the end of the string. */
		if (ca == '~' || cb == '~') {
			if (ca != '~')
				return 1;
			if (cb != '~')
				return -1;
			i++;
			j++;
			continue;
		}
		/* Caret: like tilde, except that an ended string is older. */
		if (ca == '^' || cb == '^') {
			if (i >= alen)
				return -1;
			if (j >= blen)
				return 1;
			if (ca != '^')
				return 1;
			if (cb != '^')
				return -1;
			i++;
			j++;
			continue;
		}
		if (i >= alen || j >= blen)
			break;

		si = i;
		sj = j;
		if (is_digit(ca)) {
			while (i < alen && is_digit((unsigned char)a[i]))
				i++;
			while (j < blen && is_digit((unsigned char)b[j]))
				j++;
			isnum = 1;
		} else {
			while (i < alen && is_alpha((unsigned char)a[i]))
				i++;
			while (j < blen && is_alpha((unsigned char)b[j]))
				j++;
			isnum = 0;
		}
		/* Segments of different classes: numbers are newer. */
		if (j == sj)
			return isnum ? 1 : -1;
		if (isnum) {
			while (si < i && a[si] == '0')
				si++;
			while (sj < j && b[sj] == '0')
				sj++;
			if (i - si > j - sj)
				return 1;
			if (j - sj > i - si)
				return -1;
		}
		la = i - si;
		lb = j - sj;
		m = la < lb ? la : lb;
		rc = m > 0 ? memcmp(a + si, b + sj, m) : 0;
		if (rc != 0)
			return rc < 0 ? -1 : 1;
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	if (i >= alen && j >= blen)
		return 0;
	return i >= alen ? -1 : 1;
}

int
pt_rpmver_cmp(const char *a, const char *b)
{
	return pt_rpmver_cmpn(a, strlen(a), b, strlen(b));
}

void
pt_rpmver_parse(const char *s, struct pt_rpmver_evr *out)
{
	const char *p = s, *se;

	while (*p != '\0' && is_digit((unsigned char)*p))
		p++;
	se = strrchr(p, '-');
	if (*p == ':') {
		if (p == s) {
			out->e = "0";
			out->elen = 1;
		} else {
			out->e = s;
			out->elen = (size_t)(p - s);
		}
		out->v = p + 1;
	} else {
		out->e = NULL;
		out->elen = 0;
		out->v = s;
	}
	if (se != NULL) {
		out->vlen = (size_t)(se - out->v);
		out->r = se + 1;
		out->rlen = strlen(se + 1);
	} else {
		out->vlen = strlen(out->v);
		out->r = NULL;
		out->rlen = 0;
	}
}

/* rpm's compare_values: a missing value sorts before a present one. */
static int
cmp_opt(const char *a, size_t alen, const char *b, size_t blen)
{
	if (a == NULL && b == NULL)
		return 0;
	if (b == NULL)
		return 1;
	if (a == NULL)
		return -1;
	return pt_rpmver_cmpn(a, alen, b, blen);
}

int
pt_rpmver_evr_cmp_parsed(const struct pt_rpmver_evr *a,
    const struct pt_rpmver_evr *b)
{
	const char *e1 = a->e != NULL ? a->e : "0";
	const char *e2 = b->e != NULL ? b->e : "0";
	size_t l1 = a->e != NULL ? a->elen : 1;
	size_t l2 = b->e != NULL ? b->elen : 1;
	int rc;

	rc = pt_rpmver_cmpn(e1, l1, e2, l2);
	if (rc == 0)
		rc = cmp_opt(a->v, a->vlen, b->v, b->vlen);
	if (rc == 0)
		rc = cmp_opt(a->r, a->rlen, b->r, b->rlen);
	return rc;
}

int
pt_rpmver_evr_cmp(const char *a, const char *b)
{
	struct pt_rpmver_evr pa, pb;

	pt_rpmver_parse(a, &pa);
	pt_rpmver_parse(b, &pb);
	return pt_rpmver_evr_cmp_parsed(&pa, &pb);
}

int
pt_rpmver_evr_cmp3(const char *e1, const char *v1, const char *r1,
    const char *e2, const char *v2, const char *r2)
{
	struct pt_rpmver_evr a, b;

	a.e = e1;
	a.elen = e1 != NULL ? strlen(e1) : 0;
	a.v = v1;
	a.vlen = v1 != NULL ? strlen(v1) : 0;
	a.r = r1;
	a.rlen = r1 != NULL ? strlen(r1) : 0;
	b.e = e2;
	b.elen = e2 != NULL ? strlen(e2) : 0;
	b.v = v2;
	b.vlen = v2 != NULL ? strlen(v2) : 0;
	b.r = r2;
	b.rlen = r2 != NULL ? strlen(r2) : 0;
	return pt_rpmver_evr_cmp_parsed(&a, &b);
}
