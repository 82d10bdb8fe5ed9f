/*
 * Fuzz target: the gateway's request-assembly parsers.  The first byte
 * picks a split point; the rest is fed to the chunked-body decoder in two
 * pieces (the result must not depend on the split), and is also tried as a
 * control-channel path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "gw_ctrl.h"
#include "gw_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
decode(const uint8_t *p, size_t n, size_t split, struct dh_buf *out, int *done)
{
	struct gw_server_chunk c;
	size_t used = 0, used2 = 0;
	int r;

	gw_server_chunk_init(&c);
	if (split > n)
		split = n;
	r = gw_server_chunk_feed(&c, p, split, out, &used, NULL);
	if (r == DH_OK && !c.done && used == split)
		r = gw_server_chunk_feed(&c, p + split, n - split, out, &used2,
		    NULL);
	*done = c.done;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_buf a, b;
	char path[256], id[24];
	int ra, rb, da, db;

	if (size < 1)
		return 0;
	dh_buf_init(&a, 1 << 16);
	dh_buf_init(&b, 1 << 16);
	ra = decode(data + 1, size - 1, size - 1, &a, &da);
	rb = decode(data + 1, size - 1, data[0], &b, &db);
	if ((ra == DH_OK) != (rb == DH_OK) || da != db)
		abort();
	if (ra == DH_OK && (a.len != b.len || memcmp(a.d, b.d, a.len) != 0))
		abort();
	dh_buf_free(&a);
	dh_buf_free(&b);
	if (size - 1 < sizeof(path)) {
		memcpy(path, data + 1, size - 1);
		path[size - 1] = '\0';
		if (gw_ctrl_parse_path(path, id, sizeof(id), NULL) == DH_OK &&
		    strncmp(id, "mi-", 3) != 0)
			abort();
	}
	return 0;
}
