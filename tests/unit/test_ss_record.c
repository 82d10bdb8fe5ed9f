/*
 * Unit tests for ss_record: header build/decode round trip, a table of
 * malformed headers, the chain link, and the verifier on intact, modified,
 * removed, reordered, truncated and re-sealed streams (with and without the
 * seal HMAC).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_err.h"
#include "ss_record.h"

static const unsigned char KEY[] = "0123456789abcdef";

/* Build a session stream of n output records, sealed (key optional). */
static void
make_stream(struct dh_buf *out, int n, int seal, const unsigned char *key,
    size_t klen)
{
	unsigned char link[SS_LINK_LEN] = { 0 }, mac[SS_LINK_LEN];
	char hex[2 * SS_LINK_LEN + 1], mhex[2 * SS_LINK_LEN + 1], seal_js[512];
	const char *open = "{\"v\":1,\"session_id\":\"s-1\"}";
	char payload[64];
	uint64_t seq = 1, ob = 0;
	int i, len;

	assert_int_equal(ss_record_append(out, SS_KIND_OPEN, 0, &seq, 1000,
	    link, open, strlen(open), NULL), DH_OK);
	for (i = 0; i < n; i++) {
		len = snprintf(payload, sizeof(payload), "output %d\r\n", i);
		assert_int_equal(ss_record_append(out, SS_KIND_OUTPUT, 0, &seq,
		    2000 + (uint64_t)i, link, payload, (size_t)len, NULL), DH_OK);
		ob += (uint64_t)len;
	}
	if (!seal)
		return;
	dh_hex_encode(link, SS_LINK_LEN, hex);
	mhex[0] = '\0';
	if (key != NULL) {
		ss_record_seal_hmac(key, klen, link, seq, mac);
		dh_hex_encode(mac, SS_LINK_LEN, mhex);
	}
	snprintf(seal_js, sizeof(seal_js), "{\"exit_status\":0,\"records\":%d,"
	    "\"output_bytes\":%llu,\"input_bytes\":0,\"gaps\":0,\"last_link\":"
	    "\"%s\"%s%s%s}", n + 1, (unsigned long long)ob, hex,
	    key ? ",\"hmac\":\"" : "", mhex, key ? "\"" : "");
	assert_int_equal(ss_record_append(out, SS_KIND_SEAL, 0, &seq, 9000,
	    link, seal_js, strlen(seal_js), NULL), DH_OK);
}

/* Offset of the record with sequence seq (1-based) in b. */
static size_t
record_off(const struct dh_buf *b, uint64_t seq)
{
	size_t off = 0, used;
	struct ss_record rec;

	while (off < b->len) {
		assert_int_equal(ss_record_decode(b->d + off, b->len - off,
		    &rec, &used, NULL), DH_OK);
		if (rec.seq == seq)
			return off;
		off += used;
	}
	fail_msg("record %llu not found", (unsigned long long)seq);
	return 0;
}

static int
has_finding(const struct ss_verify *v, const char *needle)
{
	size_t i;

	for (i = 0; i < v->n_findings && i < SS_VERIFY_MAX_FINDINGS; i++)
		if (strstr(v->findings[i], needle) != NULL)
			return 1;
	return 0;
}

static void
test_build_decode(void **state)
{
	unsigned char hdr[SS_RECORD_HDR_LEN], link[SS_LINK_LEN];
	unsigned char zero[SS_LINK_LEN] = { 0 }, buf[SS_RECORD_HDR_LEN + 5];
	struct ss_record rec;
	size_t used;

	assert_int_equal(ss_record_build(SS_KIND_OUTPUT, 0, 7, 123456, zero,
	    "hello", 5, hdr, link), DH_OK);
	assert_memory_equal(hdr, "DHTR", 4);
	assert_memory_equal(hdr + 32, link, SS_LINK_LEN);
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + SS_RECORD_HDR_LEN, "hello", 5);
	assert_int_equal(ss_record_decode(buf, sizeof(buf), &rec, &used, NULL),
	    DH_OK);
	assert_int_equal(used, sizeof(buf));
	assert_int_equal(rec.kind, SS_KIND_OUTPUT);
	assert_int_equal(rec.seq, 7);
	assert_int_equal(rec.time_us, 123456);
	assert_int_equal(rec.len, 5);
	assert_memory_equal(rec.payload, "hello", 5);
	assert_true(ss_record_link_ok(&rec, zero));
	link[0] ^= 1;
	assert_false(ss_record_link_ok(&rec, link));
	assert_int_equal(ss_record_build(99, 0, 1, 1, zero, NULL, 0, hdr, NULL),
	    DH_E_ARG);
	assert_int_equal(ss_record_build(SS_KIND_OUTPUT, 0, 1, 1, zero, "x",
	    SS_RECORD_MAX + 1, hdr, NULL), DH_E_ARG);
	assert_string_equal(ss_record_kind_name(SS_KIND_SEAL), "seal");
	assert_string_equal(ss_record_kind_name(77), "unknown");
}

static void
test_decode_errors(void **state)
{
	static const struct {
		size_t off;
		unsigned char val;
		size_t n;     /* bytes offered (0 = all) */
		int want;
	} cases[] = {
		{ 0, 'X', 0, DH_E_FORMAT },         /* magic */
		{ 4, 2, 0, DH_E_FORMAT },           /* version */
		{ 5, 0, 0, DH_E_FORMAT },           /* kind 0 */
		{ 5, 9, 0, DH_E_FORMAT },           /* kind 9 */
		{ 12, 1, 0, DH_E_FORMAT },          /* reserved */
		{ 8, 0x7f, 0, DH_E_FORMAT },        /* len > ceiling */
		{ 0, 'D', 10, DH_E_SHORT },         /* header cut */
		{ 0, 'D', SS_RECORD_HDR_LEN + 2, DH_E_SHORT }, /* payload cut */
	};
	unsigned char zero[SS_LINK_LEN] = { 0 };
	unsigned char buf[SS_RECORD_HDR_LEN + 5];
	struct ss_record rec;
	struct dh_err err;
	size_t i, used;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ss_record_build(SS_KIND_OUTPUT, 0, 1, 1, zero,
		    "hello", 5, buf, NULL), DH_OK);
		memcpy(buf + SS_RECORD_HDR_LEN, "hello", 5);
		buf[cases[i].off] = cases[i].val;
		if (ss_record_decode(buf, cases[i].n ? cases[i].n : sizeof(buf),
		    &rec, &used, &err) != cases[i].want)
			fail_msg("case %zu: wrong result", i);
		assert_true(err.msg[0] != '\0');
	}
}

static void
test_verify_intact(void **state)
{
	struct dh_buf b;
	struct ss_verify v;

	dh_buf_init(&b, 1 << 20);
	make_stream(&b, 10, 1, NULL, 0);
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, b.d, b.len), DH_OK);
	assert_true(ss_verify_ok(&v));
	assert_int_equal(v.records, 11);
	assert_int_equal(v.n_findings, 0);
	assert_string_equal(v.session_id, "s-1");
	dh_buf_free(&b);
}

static void
test_verify_modified(void **state)
{
	struct dh_buf b;
	struct ss_verify v;
	size_t off;

	dh_buf_init(&b, 1 << 20);
	make_stream(&b, 10, 1, NULL, 0);
	off = record_off(&b, 5);
	b.d[off + SS_RECORD_HDR_LEN + 1] ^= 0x01;
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, b.d, b.len), DH_E_INTEGRITY);
	assert_true(has_finding(&v, "record 5 (output"));
	assert_int_equal(v.n_findings, 1);
	/* A changed timestamp in the header is caught the same way. */
	b.d[off + SS_RECORD_HDR_LEN + 1] ^= 0x01;
	b.d[off + 31] ^= 0x01;
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, b.d, b.len), DH_E_INTEGRITY);
	assert_true(has_finding(&v, "record 5 (output"));
	dh_buf_free(&b);
}

static void
test_verify_removed_and_reordered(void **state)
{
	struct dh_buf b, c;
	struct ss_verify v;
	size_t a4, a5, a6;

	dh_buf_init(&b, 1 << 20);
	dh_buf_init(&c, 1 << 20);
	make_stream(&b, 10, 1, NULL, 0);
	a4 = record_off(&b, 4);
	a5 = record_off(&b, 5);
	a6 = record_off(&b, 6);
	/* Remove record 4. */
	assert_int_equal(dh_buf_put(&c, b.d, a4), DH_OK);
	assert_int_equal(dh_buf_put(&c, b.d + a5, b.len - a5), DH_OK);
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, c.d, c.len), DH_E_INTEGRITY);
	assert_true(has_finding(&v, "record 5: expected seq 4"));
	assert_true(has_finding(&v, "seal counts"));
	/* Swap records 4 and 5. */
	dh_buf_reset(&c);
	assert_int_equal(dh_buf_put(&c, b.d, a4), DH_OK);
	assert_int_equal(dh_buf_put(&c, b.d + a5, a6 - a5), DH_OK);
	assert_int_equal(dh_buf_put(&c, b.d + a4, a5 - a4), DH_OK);
	assert_int_equal(dh_buf_put(&c, b.d + a6, b.len - a6), DH_OK);
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, c.d, c.len), DH_E_INTEGRITY);
	assert_true(has_finding(&v, "record 5: expected seq 4"));
	assert_true(has_finding(&v, "record 4: expected seq 6"));
	dh_buf_free(&b);
	dh_buf_free(&c);
}

static void
test_verify_truncated(void **state)
{
	struct dh_buf b;
	struct ss_verify v;
	size_t off;

	dh_buf_init(&b, 1 << 20);
	make_stream(&b, 10, 1, NULL, 0);
	/* Cut the seal: chain intact but not sealed. */
	off = record_off(&b, 12);
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, b.d, off), DH_E_INTEGRITY);
	assert_false(v.broken);
	assert_false(v.sealed);
	assert_true(has_finding(&v, "not sealed"));
	/* Cut inside a record: a torn tail is named. */
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, b.d, off - 3), DH_E_INTEGRITY);
	assert_true(has_finding(&v, "after record 10"));
	dh_buf_free(&b);
}

static void
test_verify_hmac(void **state)
{
	struct dh_buf b;
	struct ss_verify v;

	dh_buf_init(&b, 1 << 20);
	make_stream(&b, 3, 1, KEY, 16);
	ss_verify_init(&v, KEY, 16);
	assert_int_equal(ss_verify_buffer(&v, b.d, b.len), DH_OK);
	assert_true(v.seal_key_checked);
	ss_verify_init(&v, (const unsigned char *)"wrong key", 9);
	assert_int_equal(ss_verify_buffer(&v, b.d, b.len), DH_E_INTEGRITY);
	assert_true(has_finding(&v, "HMAC does not verify"));
	/* An unkeyed seal fails when a key is required. */
	dh_buf_reset(&b);
	make_stream(&b, 3, 1, NULL, 0);
	ss_verify_init(&v, KEY, 16);
	assert_int_equal(ss_verify_buffer(&v, b.d, b.len), DH_E_INTEGRITY);
	assert_true(has_finding(&v, "no HMAC"));
	dh_buf_free(&b);
}

static void
test_verify_after_seal_and_first(void **state)
{
	struct dh_buf b;
	struct ss_verify v;
	unsigned char link[SS_LINK_LEN] = { 0 };
	uint64_t seq = 1;

	dh_buf_init(&b, 1 << 20);
	make_stream(&b, 2, 1, NULL, 0);
	/* Continue the chain after the seal with a proper link. */
	{
		size_t off = record_off(&b, 4);
		struct ss_record rec;
		size_t used;

		assert_int_equal(ss_record_decode(b.d + off, b.len - off, &rec,
		    &used, NULL), DH_OK);
		memcpy(link, rec.link, SS_LINK_LEN);
		seq = 5;
	}
	assert_int_equal(ss_record_append(&b, SS_KIND_OUTPUT, 0, &seq, 1, link,
	    "x", 1, NULL), DH_OK);
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, b.d, b.len), DH_E_INTEGRITY);
	assert_true(has_finding(&v, "record 5: output record after the seal"));
	/* A stream that starts with something other than OPEN. */
	dh_buf_reset(&b);
	memset(link, 0, sizeof(link));
	seq = 1;
	assert_int_equal(ss_record_append(&b, SS_KIND_OUTPUT, 0, &seq, 1, link,
	    "x", 1, NULL), DH_OK);
	ss_verify_init(&v, NULL, 0);
	assert_int_equal(ss_verify_buffer(&v, b.d, b.len), DH_E_INTEGRITY);
	assert_true(has_finding(&v, "not OPEN"));
	dh_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_decode),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_verify_intact),
		cmocka_unit_test(test_verify_modified),
		cmocka_unit_test(test_verify_removed_and_reordered),
		cmocka_unit_test(test_verify_truncated),
		cmocka_unit_test(test_verify_hmac),
		cmocka_unit_test(test_verify_after_seal_and_first),
	};

	return cmocka_run_group_tests_name("ss_record", tests, NULL, NULL);
}
