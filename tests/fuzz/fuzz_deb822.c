/*
 * Fuzz target: pt_deb822 on arbitrary bytes, once in a single chunk and once
 * in small chunks whose size comes from the first input byte.  Both runs
 * must agree on success or failure and, when they succeed, on every field
 * and stanza end they reported (a digest of the event stream), so chunk boundaries can never
 * change what is parsed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "pt_deb822.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct digest {
	uint64_t h;
	unsigned long n;
};

static void
mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++)
		d->h = (d->h ^ s[i]) * 1099511628211ULL;
	d->n++;
}

static int
on_field(void *ctx, const char *name, size_t nlen, const char *v,
    size_t vlen, unsigned long line, struct dh_err *err)
{
	struct digest *d = ctx;

	mix(d, name, nlen);
	mix(d, "=", 1);
	mix(d, v, vlen);
	mix(d, &line, sizeof(line));
	return 0;
}

static int
on_end(void *ctx, unsigned long line, struct dh_err *err)
{
	struct digest *d = ctx;

	mix(d, "E", 1);
	mix(d, &line, sizeof(line));
	return 0;
}

static int
run(const uint8_t *data, size_t size, size_t chunk, struct digest *d)
{
	static const struct pt_deb822_cb cb = { on_field, on_end };
	struct pt_deb822 p;
	struct dh_err err;
	size_t off = 0;
	int rc = DH_OK;

	memset(d, 0, sizeof(*d));
	d->h = 1469598103934665603ULL;
	pt_deb822_init(&p, 512, &cb, d);
	while (rc == DH_OK && off < size) {
		size_t k = size - off < chunk ? size - off : chunk;

		rc = pt_deb822_feed(&p, data + off, k, &err);
		off += k;
	}
	if (rc == DH_OK)
		rc = pt_deb822_finish(&p, &err);
	pt_deb822_free(&p);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest a, b;
	size_t chunk;
	int ra, rb;

	if (size == 0)
		return 0;
	chunk = (size_t)(data[0] % 17) + 1;
	data++;
	size--;
	ra = run(data, size, size ? size : 1, &a);
	rb = run(data, size, chunk, &b);
	/* with several faults the two runs may name different ones first */
	if ((ra == DH_OK) != (rb == DH_OK))
		abort();
	if (ra == DH_OK && (a.h != b.h || a.n != b.n))
		abort();
	return 0;
}
