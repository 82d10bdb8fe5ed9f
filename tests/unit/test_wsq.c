/*
 * Unit tests for dh_wsq: the RFC 6455 section 5.7 masked "Hello" vector,
 * header lengths at the 125/126/65535/65536 boundaries (table), masking of
 * every length 0..200 (the 32-, 8- and 1-byte steps and their tails)
 * against a byte-wise reference, short destination
 * buffers, and queue order, front pushes, byte accounting and fresh masks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dh_err.h"
#include "dh_wsq.h"

static const unsigned char MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };

static void
test_rfc_vector(void **state)
{
	static const unsigned char want[] = { 0x81, 0x85, 0x37, 0xfa, 0x21,
	    0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	unsigned char out[32];
	size_t n = 0;

	assert_int_equal(dh_wsq_encode(out, sizeof(out), DH_WSQ_TEXT, MASK, "Hello", 5,
	    &n), DH_OK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void
test_lengths(void **state)
{
	static const struct { size_t n; size_t hdr; unsigned char b1; } t[] = {
		{ 0, 6, 0x80 }, { 125, 6, 0x80 | 125 }, { 126, 8, 0x80 | 126 },
		{ 65535, 8, 0x80 | 126 }, { 65536, 14, 0x80 | 127 },
		{ 300000, 14, 0x80 | 127 },
	};
	size_t i, j, len;
	unsigned char *in, *out;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		in = calloc(1, t[i].n + 1);
		out = malloc(t[i].n + DH_WSQ_HDR_MAX);
		assert_non_null(in);
		assert_non_null(out);
		for (j = 0; j < t[i].n; j++)
			in[j] = (unsigned char)(j * 7);
		assert_int_equal(dh_wsq_encode(out, t[i].n + DH_WSQ_HDR_MAX, DH_WSQ_BINARY,
		    MASK, in, t[i].n, &len), DH_OK);
		assert_int_equal(len, t[i].hdr + t[i].n);
		assert_int_equal(out[0], 0x82);
		assert_int_equal(out[1], t[i].b1);
		if (t[i].hdr == 8)
			assert_int_equal((out[2] << 8) | out[3], t[i].n);
		if (t[i].hdr == 14)
			for (j = 0; j < 8; j++)
				assert_int_equal(out[2 + j],
				    (unsigned char)((uint64_t)t[i].n >>
				    (56 - 8 * j)));
		assert_memory_equal(out + t[i].hdr - 4, MASK, 4);
		for (j = 0; j < t[i].n; j++)
			assert_int_equal(out[t[i].hdr + j] ^ MASK[j & 3], in[j]);
		assert_int_equal(dh_wsq_encode(out, t[i].hdr + t[i].n - 1, DH_WSQ_BINARY,
		    MASK, in, t[i].n, &len), DH_E_TOOBIG);
		free(in);
		free(out);
	}
}

static void
test_mask_every_length(void **state)
{
	unsigned char in[200], out[200 + DH_WSQ_HDR_MAX];
	size_t n, j, len, h;

	for (j = 0; j < sizeof(in); j++)
		in[j] = (unsigned char)(0xa5 ^ (j * 13));
	for (n = 0; n <= sizeof(in); n++) {
		h = n < 126 ? 6 : 8;
		assert_int_equal(dh_wsq_encode(out, sizeof(out), DH_WSQ_BINARY, MASK, in, n,
		    &len), DH_OK);
		assert_int_equal(len, h + n);
		for (j = 0; j < n; j++)
			assert_int_equal(out[h + j], in[j] ^ MASK[j & 3]);
	}
}

static void
test_queue(void **state)
{
	struct dh_wsq q;
	struct dh_wsq_frame *f;
	unsigned char m1[4];
	size_t h;

	dh_wsq_init(&q, 16, 1);
	assert_null(dh_wsq_head(&q));
	assert_int_equal(dh_wsq_push(&q, DH_WSQ_BINARY, "bbbb", 4, 0), DH_OK);
	assert_int_equal(dh_wsq_push(&q, DH_WSQ_BINARY, "cccccc", 6, 0), DH_OK);
	assert_int_equal(dh_wsq_push(&q, DH_WSQ_TEXT, "a", 1, 1), DH_OK);
	assert_int_equal(q.bytes, 11);
	f = dh_wsq_head(&q);
	assert_int_equal(f->text, 1);
	assert_int_equal(f->wire[0], 0x81);
	assert_int_equal(f->wire_len, 7);
	assert_ptr_equal(f->wire, f->data + 16);
	dh_wsq_pop(&q);
	f = dh_wsq_head(&q);
	h = f->wire_len - f->payload;
	assert_int_equal(h, 6);
	memcpy(m1, f->wire + 2, 4);
	assert_int_equal(f->wire[h] ^ m1[0], 'b');
	dh_wsq_pop(&q);
	f = dh_wsq_head(&q);
	assert_int_equal(f->payload, 6);
	assert_int_equal(q.bytes, 6);
	dh_wsq_pop(&q);
	assert_null(dh_wsq_head(&q));
	assert_int_equal(q.bytes, 0);
	dh_wsq_pop(&q);
	assert_int_equal(dh_wsq_push(&q, DH_WSQ_PONG, "x", 1, 0), DH_OK);
	dh_wsq_clear(&q);
	assert_null(dh_wsq_head(&q));
	assert_int_equal(q.bytes, 0);
}

static void
test_fresh_masks(void **state)
{
	struct dh_wsq q;
	unsigned char seen[64][4];
	int i, j, same = 0;

	dh_wsq_init(&q, 0, 0);
	for (i = 0; i < 64; i++) {
		assert_int_equal(dh_wsq_push(&q, DH_WSQ_BINARY, "z", 1, 0), DH_OK);
		memcpy(seen[i], dh_wsq_head(&q)->wire + 2, 4);
		dh_wsq_pop(&q);
		for (j = 0; j < i; j++)
			same += memcmp(seen[i], seen[j], 4) == 0;
	}
	assert_true(same <= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_vector),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_mask_every_length),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_fresh_masks),
	};

	return cmocka_run_group_tests_name("wsq", tests, NULL, NULL);
}
