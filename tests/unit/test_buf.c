/*
 * Unit tests for dh_buf, dh_enc and dh_hash: bounds, big-endian round trips,
 * strict decoders (table-driven), and known SHA-256/HMAC vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_err.h"
#include "dh_hash.h"

static void
test_buf_ceiling(void **state)
{
	struct dh_buf b;

	dh_buf_init(&b, 8);
	assert_int_equal(dh_buf_put(&b, "12345678", 8), DH_OK);
	assert_int_equal(dh_buf_put(&b, "9", 1), DH_E_TOOBIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(dh_buf_cstr(&b), "12345678");
	assert_int_equal(dh_buf_printf(&b, "%d", 1), DH_E_TOOBIG);
	dh_buf_free(&b);
	assert_null(b.d);
}

static void
test_buf_getters(void **state)
{
	struct dh_buf b;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;

	dh_buf_init(&b, 64);
	assert_int_equal(dh_buf_put_u8(&b, 0xab), DH_OK);
	assert_int_equal(dh_buf_put_u32(&b, 0x01020304), DH_OK);
	assert_int_equal(dh_buf_put_u64(&b, 0x1122334455667788ULL), DH_OK);
	assert_int_equal(b.len, 13);
	assert_int_equal(b.d[1], 0x01);
	assert_int_equal(dh_buf_get_u8(&b, &u8), DH_OK);
	assert_int_equal(u8, 0xab);
	assert_int_equal(dh_buf_get_u32(&b, &u32), DH_OK);
	assert_int_equal(u32, 0x01020304);
	assert_int_equal(dh_buf_get_u64(&b, &u64), DH_OK);
	assert_true(u64 == 0x1122334455667788ULL);
	assert_int_equal(dh_buf_avail(&b), 0);
	assert_int_equal(dh_buf_get_u8(&b, &u8), DH_E_SHORT);
	dh_buf_free(&b);
}

static void
test_buf_view_short(void **state)
{
	static const unsigned char raw[3] = { 1, 2, 3 };
	struct dh_buf v;
	uint32_t u32;

	dh_buf_view(&v, raw, sizeof(raw));
	assert_int_equal(dh_buf_get_u32(&v, &u32), DH_E_SHORT);
	assert_int_equal(dh_buf_avail(&v), 3);
	assert_int_equal(dh_buf_put_u8(&v, 1), DH_E_STATE);
	dh_buf_free(&v);
}

static void
test_buf_secret_and_steal(void **state)
{
	struct dh_buf b;
	unsigned char *p;
	size_t n;

	dh_buf_init_secret(&b, 1 << 20);
	for (n = 0; n < 1000; n++)
		assert_int_equal(dh_buf_put(&b, "x", 1), DH_OK);
	p = dh_buf_steal(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 1000);
	assert_int_equal(p[1000], 0);
	free(p);
	assert_null(b.d);
}

struct b64_case {
	const char *plain;
	const char *enc;
};

static const struct b64_case b64_cases[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static const char *const b64_bad[] = {
	"Zg=", "Zg===", "Z===", "Zm9v!A==", "Zh==", "Zm9=", "====", "Zm=v",
};

static void
test_b64_table(void **state)
{
	struct dh_buf b;
	size_t i;

	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		dh_buf_init(&b, 64);
		assert_int_equal(dh_b64_encode(b64_cases[i].plain,
		    strlen(b64_cases[i].plain), &b), DH_OK);
		assert_string_equal(dh_buf_cstr(&b), b64_cases[i].enc);
		dh_buf_reset(&b);
		assert_int_equal(dh_b64_decode(b64_cases[i].enc,
		    strlen(b64_cases[i].enc), &b), DH_OK);
		assert_int_equal(b.len, strlen(b64_cases[i].plain));
		assert_memory_equal(dh_buf_cstr(&b), b64_cases[i].plain, b.len);
		dh_buf_free(&b);
	}
	for (i = 0; i < sizeof(b64_bad) / sizeof(b64_bad[0]); i++) {
		dh_buf_init(&b, 64);
		assert_int_equal(dh_b64_decode(b64_bad[i], strlen(b64_bad[i]),
		    &b), DH_E_FORMAT);
		dh_buf_free(&b);
	}
}

static void
test_hex(void **state)
{
	char out[9];
	struct dh_buf b;

	dh_hex_encode("\x00\xff\x10\xab", 4, out);
	assert_string_equal(out, "00ff10ab");
	dh_buf_init(&b, 16);
	assert_int_equal(dh_hex_decode("00FF10ab", 8, &b), DH_OK);
	assert_memory_equal(b.d, "\x00\xff\x10\xab", 4);
	dh_buf_reset(&b);
	assert_int_equal(dh_hex_decode("0g", 2, &b), DH_E_FORMAT);
	assert_int_equal(dh_hex_decode("abc", 3, &b), DH_E_FORMAT);
	dh_buf_free(&b);
}

static void
test_sha256_hmac(void **state)
{
	char hex[65];
	unsigned char mac[32];
	struct dh_sha256_ctx *c;
	unsigned char md[32];

	dh_sha256_hex("", 0, hex);
	assert_string_equal(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	dh_sha256_hex("ls\r", 3, hex);
	assert_string_equal(hex,
	    "1d887ce0f8672e4914d9000e801cd74ecd805dd9366c0bc42dc16adc0197dc2f");
	/* RFC 4231 test case 2 */
	dh_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
	dh_hex_encode(mac, 32, hex);
	assert_string_equal(hex,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	c = dh_sha256_new();
	assert_non_null(c);
	dh_sha256_update(c, "l", 1);
	dh_sha256_update(c, "s\r", 2);
	dh_sha256_final(c, md);
	dh_hex_encode(md, 32, hex);
	assert_string_equal(hex,
	    "1d887ce0f8672e4914d9000e801cd74ecd805dd9366c0bc42dc16adc0197dc2f");
	dh_sha256_free(c);
	assert_true(dh_ct_equal("abc", "abc", 3));
	assert_false(dh_ct_equal("abc", "abd", 3));
}

static void
test_err(void **state)
{
	struct dh_err e;

	dh_err_clear(&e);
	assert_int_equal(dh_err_set(&e, DH_E_FORMAT, "bad %s", "frame"),
	    DH_E_FORMAT);
	assert_int_equal(dh_err_wrap(&e, DH_E_IO, "reading %d", 3), DH_E_FORMAT);
	assert_string_equal(e.msg, "reading 3: bad frame");
	assert_string_equal(dh_strerror(DH_E_SHORT), "input truncated");
	assert_string_equal(dh_strerror(-999), "unknown error");
}

/* Optional strings: round trip with NULL and "", refusals for over the
 * caller's limit, a NUL inside and a short read. */
static void
test_buf_ostr(void **state)
{
	struct dh_buf b, v;
	char *a = NULL, *n = (char *)1, *e = NULL, *x = NULL;
	static const unsigned char nul[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	static const unsigned char cut[] = { 0, 0, 0, 5, 'a', 'b' };

	(void)state;
	dh_buf_init(&b, 1024);
	assert_int_equal(dh_buf_put_ostr(&b, "abc"), DH_OK);
	assert_int_equal(dh_buf_put_ostr(&b, NULL), DH_OK);
	assert_int_equal(dh_buf_put_ostr(&b, ""), DH_OK);
	assert_int_equal(dh_buf_put_ostr(&b, "toolong"), DH_OK);
	assert_int_equal(dh_buf_get_ostr(&b, 3, &a), DH_OK);
	assert_string_equal(a, "abc");
	assert_int_equal(dh_buf_get_ostr(&b, 3, &n), DH_OK);
	assert_null(n);
	assert_int_equal(dh_buf_get_ostr(&b, 3, &e), DH_OK);
	assert_string_equal(e, "");
	assert_int_equal(dh_buf_get_ostr(&b, 3, &x), DH_E_TOOBIG);
	assert_null(x);
	dh_buf_view(&v, nul, sizeof(nul));
	assert_int_equal(dh_buf_get_ostr(&v, 16, &x), DH_E_FORMAT);
	dh_buf_view(&v, cut, sizeof(cut));
	assert_int_equal(dh_buf_get_ostr(&v, 16, &x), DH_E_SHORT);
	dh_buf_view(&v, cut, 2);
	assert_int_equal(dh_buf_get_ostr(&v, 16, &x), DH_E_SHORT);
	assert_null(x);
	free(a);
	free(e);
	dh_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_ceiling),
		cmocka_unit_test(test_buf_getters),
		cmocka_unit_test(test_buf_ostr),
		cmocka_unit_test(test_buf_view_short),
		cmocka_unit_test(test_buf_secret_and_steal),
		cmocka_unit_test(test_b64_table),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_sha256_hmac),
		cmocka_unit_test(test_err),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
