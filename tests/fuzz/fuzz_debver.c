/*
 * Fuzz target: pt_debver on two versions taken from the input (split at the
 * first newline).  Parsing must never crash, comparison must be reflexive
 * and antisymmetric (valid or not), and a parsed version's parts must lie
 * inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "pt_debver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
sign(int v)
{
	return v < 0 ? -1 : v > 0;
}

static void
check_parse(const char *s, size_t n)
{
	struct pt_debver v;
	struct dh_err err;
	int warn;

	if (pt_debver_parse(s, n, &v, &warn, &err) != DH_OK)
		return;
	if (v.upstream < s || v.upstream + v.upstream_len > s + n ||
	    v.upstream_len == 0)
		abort();
	if (v.revision_len > 0 && (v.revision < s ||
	    v.revision + v.revision_len > s + n))
		abort();
	if (pt_debver_cmp_parsed(&v, &v) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size);
	size_t alen = nl != NULL ? (size_t)(nl - s) : size;
	const char *b = nl != NULL ? nl + 1 : s + size;
	size_t blen = size - (size_t)(b - s);
	int ab, ba;

	check_parse(s, alen);
	check_parse(b, blen);
	ab = sign(pt_debver_cmp(s, alen, b, blen));
	ba = sign(pt_debver_cmp(b, blen, s, alen));
	if (ab != -ba)
		abort();
	if (pt_debver_cmp(s, alen, s, alen) != 0)
		abort();
	return 0;
}
