/*
 * Unit tests for dh_wsc's receive path without sockets: a table of frame
 * headers (lengths at every boundary, refused masks, reserved bits and
 * opcodes, oversized and malformed control frames), and dh_wsc_feed on
 * byte streams fed whole and one byte at a time: messages delivered in
 * order, fragments assembled, pings answered with a masked pong, a close
 * answered and reported, limits enforced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dh_err.h"
#include "dh_wsc.h"
#include "dh_wsq.h"

struct hdr_case {
	const char *name;
	unsigned char in[12];
	size_t n;
	int rc;
	int fin, opcode;
	size_t hdr;
	uint64_t len;
};

static const struct hdr_case HDRS[] = {
	{ "empty", { 0 }, 0, DH_E_SHORT, 0, 0, 0, 0 },
	{ "one byte", { 0x82 }, 1, DH_E_SHORT, 0, 0, 0, 0 },
	{ "binary 5", { 0x82, 5 }, 2, DH_OK, 1, 2, 2, 5 },
	{ "text 125", { 0x81, 125 }, 2, DH_OK, 1, 1, 2, 125 },
	{ "len16 short", { 0x82, 126, 1 }, 3, DH_E_SHORT, 0, 0, 0, 0 },
	{ "len16 126", { 0x82, 126, 0, 126 }, 4, DH_OK, 1, 2, 4, 126 },
	{ "len16 65535", { 0x02, 126, 0xff, 0xff }, 4, DH_OK, 0, 2, 4, 65535 },
	{ "len64 65536", { 0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0 }, 10, DH_OK, 1, 2,
	    10, 65536 },
	{ "len64 short", { 0x82, 127, 0, 0, 0 }, 5, DH_E_SHORT, 0, 0, 0, 0 },
	{ "len64 over max", { 0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 1 }, 10,
	    DH_E_TOOBIG, 0, 0, 0, 0 },
	{ "len64 top bit", { 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1 }, 10,
	    DH_E_FORMAT, 0, 0, 0, 0 },
	{ "masked", { 0x82, 0x85 }, 2, DH_E_FORMAT, 0, 0, 0, 0 },
	{ "rsv1", { 0xc2, 0 }, 2, DH_E_FORMAT, 0, 0, 0, 0 },
	{ "opcode 3", { 0x83, 0 }, 2, DH_E_FORMAT, 0, 0, 0, 0 },
	{ "opcode 0xb", { 0x8b, 0 }, 2, DH_E_FORMAT, 0, 0, 0, 0 },
	{ "ping 125", { 0x89, 125 }, 2, DH_OK, 1, 9, 2, 125 },
	{ "ping 126", { 0x89, 126, 0, 126 }, 4, DH_E_FORMAT, 0, 0, 0, 0 },
	{ "close unfinished", { 0x08, 0 }, 2, DH_E_FORMAT, 0, 0, 0, 0 },
	{ "continuation", { 0x00, 3 }, 2, DH_OK, 0, 0, 2, 3 },
};

static void
test_headers(void **state)
{
	struct dh_wsc_frame f;
	struct dh_err e;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(HDRS) / sizeof(HDRS[0]); i++) {
		memset(&f, 0, sizeof(f));
		dh_err_clear(&e);
		rc = dh_wsc_frame_parse(HDRS[i].in, HDRS[i].n, 1u << 20, &f, &e);
		if (rc != HDRS[i].rc)
			fail_msg("%s: rc %d, want %d", HDRS[i].name, rc,
			    HDRS[i].rc);
		if (rc == DH_OK) {
			assert_int_equal(f.fin, HDRS[i].fin);
			assert_int_equal(f.opcode, HDRS[i].opcode);
			assert_int_equal(f.hdr_len, HDRS[i].hdr);
			assert_int_equal(f.payload_len, HDRS[i].len);
		} else if (rc != DH_E_SHORT && e.msg[0] == '\0')
			fail_msg("%s: no reason given", HDRS[i].name);
	}
}

struct got {
	int n;
	int text[8];
	size_t len[8];
	unsigned char first[8];
};

static void
on_msg(void *arg, int text, const unsigned char *p, size_t n)
{
	struct got *g = arg;

	if (g->n < 8) {
		g->text[g->n] = text;
		g->len[g->n] = n;
		g->first[g->n] = n > 0 ? p[0] : 0;
	}
	g->n++;
}

/* A stream: text "hi", ping "p", binary 300 x 'b' in three fragments,
 * empty binary, then close 1000. */
static size_t
stream(unsigned char *b)
{
	size_t n = 0;

	b[n++] = 0x81; b[n++] = 2; b[n++] = 'h'; b[n++] = 'i';
	b[n++] = 0x89; b[n++] = 1; b[n++] = 'p';
	b[n++] = 0x02; b[n++] = 100; memset(b + n, 'b', 100); n += 100;
	b[n++] = 0x00; b[n++] = 126; b[n++] = 0; b[n++] = 150;
	memset(b + n, 'b', 150); n += 150;
	b[n++] = 0x80; b[n++] = 50; memset(b + n, 'b', 50); n += 50;
	b[n++] = 0x82; b[n++] = 0;
	b[n++] = 0x88; b[n++] = 2; b[n++] = 0x03; b[n++] = 0xe8;
	return n;
}

static void
run_stream(size_t step)
{
	unsigned char b[512];
	struct dh_wsc *c = NULL;
	struct dh_wsq q;
	struct dh_wsq_frame *f;
	struct dh_err e;
	struct got g;
	size_t n = stream(b), off = 0, k;
	int rc = DH_OK;

	memset(&g, 0, sizeof(g));
	dh_wsq_init(&q, 0, 0);
	assert_int_equal(dh_wsc_new(1024, &c, &e), DH_OK);
	while (off < n && rc == DH_OK) {
		k = n - off < step ? n - off : step;
		rc = dh_wsc_feed(c, b + off, k, &q, on_msg, &g, &e);
		off += k;
	}
	assert_int_equal(rc, DH_E_NET);
	assert_non_null(strstr(e.msg, "code 1000"));
	assert_int_equal(g.n, 3);
	assert_int_equal(g.text[0], 1);
	assert_int_equal(g.len[0], 2);
	assert_int_equal(g.first[0], 'h');
	assert_int_equal(g.text[1], 0);
	assert_int_equal(g.len[1], 300);
	assert_int_equal(g.first[1], 'b');
	assert_int_equal(g.len[2], 0);
	f = dh_wsq_head(&q);
	assert_non_null(f);
	assert_int_equal(f->wire[0], 0x8a);        /* pong, FIN */
	assert_int_equal(f->wire[1], 0x80 | 1);    /* masked, 1 byte */
	assert_int_equal(f->wire[6] ^ f->wire[2], 'p');
	dh_wsq_pop(&q);
	f = dh_wsq_head(&q);
	assert_non_null(f);
	assert_int_equal(f->wire[0], 0x88);        /* close echoed */
	assert_int_equal(f->payload, 2);
	dh_wsq_clear(&q);
	dh_wsc_free(c);
}

static void
test_stream_whole(void **state)
{
	run_stream(4096);
}

static void
test_stream_bytewise(void **state)
{
	run_stream(1);
}

static void
test_stream_errors(void **state)
{
	static const struct { const char *name; unsigned char in[8]; size_t n;
	    int rc; } t[] = {
		{ "continuation first", { 0x80, 1, 'x' }, 3, DH_E_FORMAT },
		{ "new message in fragments", { 0x02, 1, 'a', 0x82, 1, 'b' },
		    6, DH_E_FORMAT },
		{ "assembled over limit", { 0x02, 10, 0 }, 3, DH_OK },
	};
	unsigned char big[40];
	struct dh_wsc *c = NULL;
	struct dh_wsq q;
	struct dh_err e;
	struct got g;
	size_t i;

	dh_wsq_init(&q, 0, 0);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&g, 0, sizeof(g));
		assert_int_equal(dh_wsc_new(16, &c, &e), DH_OK);
		if (dh_wsc_feed(c, t[i].in, t[i].n, &q, on_msg, &g, &e) !=
		    t[i].rc)
			fail_msg("%s", t[i].name);
		dh_wsc_free(c);
	}
	/* 3 fragments of 10 bytes: 30 > 16 */
	memset(big, 'z', sizeof(big));
	big[0] = 0x02; big[1] = 10;
	big[12] = 0x00; big[13] = 10;
	big[24] = 0x80; big[25] = 10;
	assert_int_equal(dh_wsc_new(16, &c, &e), DH_OK);
	assert_int_equal(dh_wsc_feed(c, big, 36, &q, on_msg, &g, &e),
	    DH_E_TOOBIG);
	dh_wsc_free(c);
	dh_wsq_clear(&q);
}

static void
test_env_proxy(void **state)
{
	static const struct { const char *proxy, *no_proxy, *host; int want; }
	    t[] = {
		{ NULL, NULL, "a.example.com", 0 },
		{ "http://p:3128", NULL, "a.example.com", 1 },
		{ "http://p:3128", "*", "a.example.com", 0 },
		{ "http://p:3128", "example.com", "a.example.com", 0 },
		{ "http://p:3128", "example.com", "example.com", 0 },
		{ "http://p:3128", "xample.com", "a.example.com", 1 },
		{ "http://p:3128", ".example.com", "a.example.com", 0 },
		{ "http://p:3128", "other.org, 127.0.0.1", "127.0.0.1", 0 },
		{ "http://p:3128", "other.org,,x", "127.0.0.1", 1 },
		{ "http://p:3128", "EXAMPLE.COM", "a.example.com", 0 },
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsetenv("https_proxy");
		unsetenv("HTTPS_PROXY");
		unsetenv("no_proxy");
		unsetenv("NO_PROXY");
		if (t[i].proxy != NULL)
			setenv(i % 2 ? "https_proxy" : "HTTPS_PROXY", t[i].proxy, 1);
		if (t[i].no_proxy != NULL)
			setenv(i % 2 ? "NO_PROXY" : "no_proxy", t[i].no_proxy, 1);
		if (dh_wsc_env_proxy(t[i].host, out, sizeof(out)) != t[i].want)
			fail_msg("case %zu (%s)", i, t[i].host);
		if (t[i].want)
			assert_string_equal(out, t[i].proxy);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_stream_whole),
		cmocka_unit_test(test_stream_bytewise),
		cmocka_unit_test(test_stream_errors),
		cmocka_unit_test(test_env_proxy),
	};

	return cmocka_run_group_tests_name("wsc", tests, NULL, NULL);
}
