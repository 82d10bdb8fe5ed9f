/*
 * Fuzz target: pt_rpmver on two versions taken from the input (split at the
 * first newline).  Checks the ordering laws every caller relies on: a
 * version equals itself, comparison is antisymmetric, and the counted and
 * NUL-terminated entry points agree; EVR parsing yields spans inside the
 * input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt_rpmver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_span(const char *base, size_t n, const char *p, size_t len)
{
	if (p == NULL || (p == base + n && len == 0))
		return;
	if (strcmp(p, "0") == 0 && len == 1)
		return;
	if (p < base || p + len > base + n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl;
	char *a, *b;
	size_t la, lb;
	struct pt_rpmver_evr pa;
	int ab, ba;

	if (size > 4096)
		return 0;
	nl = memchr(data, '\n', size);
	la = nl != NULL ? (size_t)(nl - data) : size;
	lb = nl != NULL ? size - la - 1 : 0;
	a = malloc(la + 1);
	b = malloc(lb + 1);
	if (a == NULL || b == NULL)
		goto out;
	memcpy(a, data, la);
	a[la] = '\0';
	if (lb > 0)
		memcpy(b, nl + 1, lb);
	b[lb] = '\0';
	/* embedded NULs shorten the C strings; use what strlen sees */
	la = strlen(a);
	lb = strlen(b);

	if (pt_rpmver_cmp(a, a) != 0 || pt_rpmver_evr_cmp(a, a) != 0)
		abort();
	ab = pt_rpmver_cmp(a, b);
	ba = pt_rpmver_cmp(b, a);
	if (ab != -ba || ab < -1 || ab > 1)
		abort();
	if (pt_rpmver_cmpn(a, la, b, lb) != ab)
		abort();
	ab = pt_rpmver_evr_cmp(a, b);
	ba = pt_rpmver_evr_cmp(b, a);
	if (ab != -ba)
		abort();
	pt_rpmver_parse(a, &pa);
	check_span(a, la, pa.e, pa.elen);
	check_span(a, la, pa.v, pa.vlen);
	check_span(a, la, pa.r, pa.rlen);
out:
	free(a);
	free(b);
	return 0;
}
