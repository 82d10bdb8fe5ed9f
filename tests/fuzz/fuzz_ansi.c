/*
 * Fuzz target: the ANSI cleaner and the asciicast string codec on
 * arbitrary bytes.  Cleaned lines must be valid UTF-8 without control
 * bytes and identical whether the input arrives whole or split at an
 * input-chosen point; asciicast escaping must round-trip byte-exactly
 * and an event line built from the input must parse back to it; the
 * input is also offered to the event and header parsers as text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "ss_ansi.h"
#include "ss_cast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ss_ansi ansi;

static void
check_utf8(const unsigned char *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		unsigned char c = p[i];

		if (c < 0x20 || c == 0x7f)
			abort();
		k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (c >= 0x80 && c < 0xc2)
			abort();
		if (i + k > n)
			abort();
		i += k;
	}
}

static int
line_cb(void *arg, const char *line, size_t n)
{
	struct dh_buf *out = arg;

	check_utf8((const unsigned char *)line, n);
	if (dh_buf_put(out, line, n) != DH_OK || dh_buf_put_u8(out, '\n'))
		return 1;
	return 0;
}

static void
clean(const uint8_t *d, size_t n, size_t split, struct dh_buf *out)
{
	ss_ansi_init(&ansi, line_cb, out);
	if (ss_ansi_feed(&ansi, d, split) != 0 ||
	    ss_ansi_feed(&ansi, d + split, n - split) != 0 ||
	    ss_ansi_finish(&ansi) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_buf a, b, esc, back;
	struct ss_cast_ev ev;
	size_t split = size > 0 ? data[0] % (size + 1) : 0;

	dh_buf_init(&a, 1 << 24);
	dh_buf_init(&b, 1 << 24);
	dh_buf_init(&esc, 1 << 24);
	dh_buf_init(&back, 1 << 24);
	dh_buf_init(&ev.data, 1 << 24);
	clean(data, size, size, &a);
	clean(data, size, split, &b);
	if (a.len != b.len || (a.len > 0 && memcmp(a.d, b.d, a.len) != 0))
		abort();
	if (ss_cast_escape(&esc, data, size) != DH_OK ||
	    ss_cast_unescape((const char *)esc.d, esc.len, &back, NULL) !=
	    DH_OK || back.len != size ||
	    (size > 0 && memcmp(back.d, data, size) != 0))
		abort();
	dh_buf_reset(&esc);
	if (ss_cast_event(&esc, 12345, 'o', data, size, NULL) != DH_OK ||
	    ss_cast_parse_event((const char *)esc.d, esc.len - 1, &ev, NULL) !=
	    DH_OK || ev.data.len != size)
		abort();
	(void)ss_cast_parse_event((const char *)data, size, &ev, NULL);
	(void)ss_cast_parse_header((const char *)data, size, NULL, NULL, NULL);
	dh_buf_free(&a);
	dh_buf_free(&b);
	dh_buf_free(&esc);
	dh_buf_free(&back);
	dh_buf_free(&ev.data);
	return 0;
}
