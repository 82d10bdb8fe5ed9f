/*
 * Fuzz target: the websocket client receive path (dh_wsc_frame_parse and
 * dh_wsc_feed) on arbitrary server bytes, fed whole and in uneven pieces
 * with a small message limit.  Every frame header that parses must describe
 * a frame that fits the limit; every delivered message must fit it too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "dh_wsc.h"
#include "dh_wsq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSG 4096

static void
on_msg(void *arg, int text, const unsigned char *p, size_t n)
{
	size_t *count = arg;

	(void)text;
	if (n > MAX_MSG || (n > 0 && p == NULL))
		abort();
	*count += 1;
}

static void
feed(const uint8_t *data, size_t size, size_t step)
{
	struct dh_wsc *c = NULL;
	struct dh_wsq q;
	struct dh_err err;
	size_t off = 0, n, count = 0;

	dh_wsq_init(&q, 0, 0);
	if (dh_wsc_new(MAX_MSG, &c, &err) != DH_OK)
		abort();
	while (off < size) {
		n = size - off < step ? size - off : step;
		if (dh_wsc_feed(c, data + off, n, &q, on_msg, &count, &err) !=
		    DH_OK) {
			if (err.msg[0] == '\0')
				abort();
			break;
		}
		off += n;
	}
	dh_wsq_clear(&q);
	dh_wsc_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_wsc_frame f;
	struct dh_err err;

	if (dh_wsc_frame_parse(data, size, MAX_MSG, &f, &err) == DH_OK &&
	    (f.payload_len > MAX_MSG || f.hdr_len > 10 || f.hdr_len > size))
		abort();
	feed(data, size, size > 0 ? size : 1);
	feed(data, size, 1 + (size % 7));
	return 0;
}
