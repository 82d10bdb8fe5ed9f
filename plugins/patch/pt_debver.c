/*
 * pt_debver: dpkg version parsing and comparison (see pt_debver.h).  The
 * parser follows dpkg's parseversion message for message so that callers can
 * report the same reasons as "dpkg --compare-versions"; the comparison is
 * dpkg's verrevcmp over explicit-length strings.
 */
#include "pt_debver.h"

#include <limits.h>
#include <string.h>

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/* dpkg's order(): digits and end 0, '~' -1, letters themselves, others +256.
 * c is the byte as dpkg sees it through a (signed) char. */
static int
order(int c)
{
	if (is_digit(c))
		return 0;
	if (is_alpha(c))
		return c;
	if (c == '~')
		return -1;
	if (c != 0)
		return c + 256;
	return 0;
}

static int
at(const char *p, const char *e)
{
	return p < e ? (int)(signed char)*p : 0;
}

int
pt_debver_cmp_part(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *ae = a + alen, *be = b + blen;

	while (a < ae || b < be) {
		int first_diff = 0;

		while ((a < ae && !is_digit(at(a, ae))) ||
		    (b < be && !is_digit(at(b, be)))) {
			int ac = order(at(a, ae));
			int bc = order(at(b, be));

			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		while (a < ae && *a == '0')
			a++;
		while (b < be && *b == '0')
			b++;
		while (a < ae && b < be && is_digit(*a) && is_digit(*b)) {
			if (first_diff == 0)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (a < ae && is_digit(*a))
			return 1;
		if (b < be && is_digit(*b))
			return -1;
		if (first_diff != 0)
			return first_diff;
	}
	return 0;
}

int
pt_debver_cmp_parsed(const struct pt_debver *a, const struct pt_debver *b)
{
	int r;

	if (a->epoch > b->epoch)
		return 1;
	if (a->epoch < b->epoch)
		return -1;
	r = pt_debver_cmp_part(a->upstream, a->upstream_len, b->upstream,
	    b->upstream_len);
	if (r != 0)
		return r;
	return pt_debver_cmp_part(a->revision, a->revision_len, b->revision,
	    b->revision_len);
}

/* Last '-' in [p, e), or NULL. */
static const char *
last_hyphen(const char *p, const char *e)
{
	while (e > p) {
		e--;
		if (*e == '-')
			return e;
	}
	return NULL;
}

int
pt_debver_parse(const char *v, size_t n, struct pt_debver *out,
    int *warning, struct dh_err *err)
{
	const char *p = v, *e = v + n, *end, *colon, *hy, *q;
	unsigned long epoch = 0;
	int warn = 0;

	memset(out, 0, sizeof(*out));
	out->upstream = "";
	out->revision = "";
	if (warning != NULL)
		*warning = 0;
	if (v == NULL || n == 0)
		return dh_err_set(err, DH_E_FORMAT, "version string is empty");
	if (memchr(v, '\0', n) != NULL)
		return dh_err_set(err, DH_E_FORMAT,
		    "version string has embedded NUL");
	while (p < e && is_blank(*p))
		p++;
	if (p == e)
		return dh_err_set(err, DH_E_FORMAT, "version string is empty");
	end = p;
	while (end < e && !is_blank(*end))
		end++;
	for (q = end; q < e; q++)
		if (!is_blank(*q))
			return dh_err_set(err, DH_E_FORMAT,
			    "version string has embedded spaces");
	colon = memchr(p, ':', (size_t)(end - p));
	if (colon != NULL) {
		/* strtol(3) semantics: optional sign, then decimal digits. */
		int neg = 0, big = 0;

		q = p;
		if (q < colon && (*q == '+' || *q == '-')) {
			neg = *q == '-';
			q++;
		}
		if (q == colon || !is_digit(*q))
			return dh_err_set(err, DH_E_FORMAT,
			    "epoch in version is empty");
		for (; q < colon && is_digit(*q); q++) {
			if (epoch > (unsigned long)INT_MAX)
				big = 1;
			else
				epoch = epoch * 10 + (unsigned long)(*q - '0');
		}
		if (q != colon)
			return dh_err_set(err, DH_E_FORMAT,
			    "epoch in version is not number");
		if (neg && epoch != 0)
			return dh_err_set(err, DH_E_FORMAT,
			    "epoch in version is negative");
		if (big || epoch > (unsigned long)INT_MAX)
			return dh_err_set(err, DH_E_FORMAT,
			    "epoch in version is too big");
		if (colon + 1 == end)
			return dh_err_set(err, DH_E_FORMAT,
			    "nothing after colon in version number");
		p = colon + 1;
	}
	out->epoch = (unsigned int)epoch;
	hy = last_hyphen(p, end);
	if (hy != NULL) {
		if (hy + 1 == end)
			return dh_err_set(err, DH_E_FORMAT,
			    "revision number is empty");
		out->revision = hy + 1;
		out->revision_len = (size_t)(end - hy - 1);
		end = hy;
	}
	out->upstream = p;
	out->upstream_len = (size_t)(end - p);
	if (out->upstream_len == 0)
		return dh_err_set(err, DH_E_FORMAT, "upstream version is empty");
	if (!is_digit(*p))
		warn = 1;
	for (q = p; q < end && !warn; q++)
		if (!is_digit(*q) && !is_alpha(*q) && strchr(".-+~:", *q) == NULL)
			warn = 1;
	for (q = out->revision; q < out->revision + out->revision_len && !warn;
	    q++)
		if (!is_digit(*q) && !is_alpha(*q) && strchr(".+~", *q) == NULL)
			warn = 1;
	if (warning != NULL)
		*warning = warn;
	return DH_OK;
}

/* Lenient split for strings pt_debver_parse refuses. */
static void
lenient(const char *v, size_t n, struct pt_debver *out)
{
	const char *p = v, *e = v + n, *q, *colon, *hy;
	unsigned long epoch = 0;

	while (p < e && is_blank(*p))
		p++;
	while (e > p && is_blank(e[-1]))
		e--;
	out->epoch = 0;
	colon = memchr(p, ':', (size_t)(e - p));
	if (colon != NULL && colon > p) {
		for (q = p; q < colon && is_digit(*q) &&
		    epoch <= (unsigned long)INT_MAX; q++)
			epoch = epoch * 10 + (unsigned long)(*q - '0');
		if (q == colon && epoch <= (unsigned long)INT_MAX) {
			out->epoch = (unsigned int)epoch;
			p = colon + 1;
		}
	}
	hy = last_hyphen(p, e);
	out->revision = "";
	out->revision_len = 0;
	if (hy != NULL) {
		out->revision = hy + 1;
		out->revision_len = (size_t)(e - hy - 1);
		e = hy;
	}
	out->upstream = p;
	out->upstream_len = (size_t)(e - p);
}

int
pt_debver_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	struct pt_debver va, vb;

	if (pt_debver_parse(a, alen, &va, NULL, NULL) != DH_OK)
		lenient(a, alen, &va);
	if (pt_debver_parse(b, blen, &vb, NULL, NULL) != DH_OK)
		lenient(b, blen, &vb);
	return pt_debver_cmp_parsed(&va, &vb);
}

int
pt_debver_cmp_str(const char *a, const char *b)
{
	return pt_debver_cmp(a, strlen(a), b, strlen(b));
}
