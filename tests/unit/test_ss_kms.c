/*
 * Unit tests for ss_kms: the GCM spec's AES-256 test case 15 (no AAD) with
 * the wire layout nonce||ct||tag, agent<->client round trips in both
 * directions with the K[0:32]/K[32:64] split, the agent's little-endian
 * 96-bit counter nonce (carry across words), tampering, truncation and the
 * wrong-direction key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_err.h"
#include "ss_kms.h"

static void
hex(const char *s, struct dh_buf *b)
{
	dh_buf_init(b, 4096);
	assert_int_equal(dh_hex_decode(s, strlen(s), b), DH_OK);
}

static void
test_gcm_vector(void **state)
{
	struct dh_buf key, iv, pt, want, out, back;
	struct dh_err e;

	hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	    &key);
	hex("cafebabefacedbaddecaf888", &iv);
	hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	    &pt);
	hex("cafebabefacedbaddecaf888"
	    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
	    "b094dac5d93471bdec1a502270e3cc6c", &want);
	dh_buf_init(&out, 4096);
	dh_buf_init(&back, 4096);
	assert_int_equal(ss_kms_seal_with(key.d, iv.d, pt.d, pt.len, &out, &e),
	    DH_OK);
	assert_int_equal(out.len, want.len);
	assert_memory_equal(out.d, want.d, want.len);
	assert_int_equal(ss_kms_open_with(key.d, out.d, out.len, &back, &e),
	    DH_OK);
	assert_int_equal(back.len, pt.len);
	assert_memory_equal(back.d, pt.d, pt.len);
	/* empty plaintext: just nonce and tag */
	dh_buf_reset(&out);
	assert_int_equal(ss_kms_seal_with(key.d, iv.d, "", 0, &out, &e), DH_OK);
	assert_int_equal(out.len, SS_KMS_OVERHEAD);
	dh_buf_reset(&back);
	assert_int_equal(ss_kms_open_with(key.d, out.d, out.len, &back, &e),
	    DH_OK);
	assert_int_equal(back.len, 0);
	dh_buf_free(&key);
	dh_buf_free(&iv);
	dh_buf_free(&pt);
	dh_buf_free(&want);
	dh_buf_free(&out);
	dh_buf_free(&back);
}

static void
datakey(unsigned char k[SS_KMS_DATAKEY_LEN])
{
	int i;

	for (i = 0; i < SS_KMS_DATAKEY_LEN; i++)
		k[i] = (unsigned char)(i * 7 + 3);
}

static void
test_round_trip(void **state)
{
	unsigned char dk[SS_KMS_DATAKEY_LEN];
	struct ss_kms agent, client;
	struct dh_buf ct, pt;
	struct dh_err e;
	static const size_t sizes[] = { 0, 1, 5, 1024, 65536 };
	static unsigned char big[65536];
	size_t i;

	datakey(dk);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 31);
	assert_int_equal(ss_kms_init(&agent, SS_KMS_AGENT, dk, &e), DH_OK);
	assert_int_equal(ss_kms_init(&client, SS_KMS_CLIENT, dk, &e), DH_OK);
	dh_buf_init(&ct, 1 << 20);
	dh_buf_init(&pt, 1 << 20);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		dh_buf_reset(&ct);
		dh_buf_reset(&pt);
		assert_int_equal(ss_kms_seal(&agent, big, sizes[i], &ct, &e),
		    DH_OK);
		assert_int_equal(ct.len, sizes[i] + SS_KMS_OVERHEAD);
		assert_int_equal(ss_kms_open(&client, ct.d, ct.len, &pt, &e),
		    DH_OK);
		assert_int_equal(pt.len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(pt.d, big, sizes[i]);
		/* the same direction key cannot open it */
		dh_buf_reset(&pt);
		assert_int_equal(ss_kms_open(&agent, ct.d, ct.len, &pt, &e),
		    DH_E_INTEGRITY);
		dh_buf_reset(&ct);
		dh_buf_reset(&pt);
		assert_int_equal(ss_kms_seal(&client, big, sizes[i], &ct, &e),
		    DH_OK);
		assert_int_equal(ss_kms_open(&agent, ct.d, ct.len, &pt, &e),
		    DH_OK);
		assert_int_equal(pt.len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(pt.d, big, sizes[i]);
	}
	/* "hello" from the client opens with K[32:64] and is 33 bytes */
	dh_buf_reset(&ct);
	dh_buf_reset(&pt);
	assert_int_equal(ss_kms_seal(&client, "hello", 5, &ct, &e), DH_OK);
	assert_int_equal(ct.len, 33);
	assert_int_equal(ss_kms_open_with(dk + 32, ct.d, ct.len, &pt, &e),
	    DH_OK);
	assert_memory_equal(pt.d, "hello", 5);
	dh_buf_reset(&pt);
	assert_int_equal(ss_kms_open_with(dk, ct.d, ct.len, &pt, &e),
	    DH_E_INTEGRITY);
	ss_kms_clear(&agent);
	ss_kms_clear(&client);
	dh_buf_free(&ct);
	dh_buf_free(&pt);
}

static void
test_counter_nonce(void **state)
{
	unsigned char dk[SS_KMS_DATAKEY_LEN], n[SS_KMS_NONCE_LEN];
	struct ss_kms k;
	struct dh_buf ct;
	struct dh_err e;
	static const unsigned char want1[12] = { 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0x07, 0, 0, 0 };
	static const unsigned char want2[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0x08,
		0, 0, 0 };
	static const unsigned char want3[12] = { 1, 0, 0, 0, 0, 0, 0, 0, 0x08,
		0, 0, 0 };

	datakey(dk);
	assert_int_equal(ss_kms_init(&k, SS_KMS_AGENT, dk, &e), DH_OK);
	k.ctr[0] = 0xffffffffu;
	k.ctr[1] = 0xffffffffu;
	k.ctr[2] = 7;
	ss_kms_next_nonce(&k, n);
	assert_memory_equal(n, want1, 12);
	ss_kms_next_nonce(&k, n);
	assert_memory_equal(n, want2, 12);
	/* seal uses the counter: the wire nonce is the next value */
	dh_buf_init(&ct, 1024);
	assert_int_equal(ss_kms_seal(&k, "x", 1, &ct, &e), DH_OK);
	assert_memory_equal(ct.d, want3, 12);
	dh_buf_free(&ct);
	ss_kms_clear(&k);
}

static void
test_bad_input(void **state)
{
	unsigned char dk[SS_KMS_DATAKEY_LEN];
	struct ss_kms a, c;
	struct dh_buf ct, pt;
	struct dh_err e;
	size_t i;

	datakey(dk);
	assert_int_equal(ss_kms_init(&a, SS_KMS_AGENT, dk, &e), DH_OK);
	assert_int_equal(ss_kms_init(&c, SS_KMS_CLIENT, dk, &e), DH_OK);
	dh_buf_init(&ct, 1024);
	dh_buf_init(&pt, 1024);
	assert_int_equal(ss_kms_seal(&a, "secret bytes", 12, &ct, &e), DH_OK);
	for (i = 0; i < ct.len; i++) {
		ct.d[i] ^= 0x01;
		dh_buf_reset(&pt);
		assert_int_equal(ss_kms_open(&c, ct.d, ct.len, &pt, &e),
		    DH_E_INTEGRITY);
		assert_int_equal(pt.len, 0);
		ct.d[i] ^= 0x01;
	}
	for (i = 0; i < SS_KMS_OVERHEAD; i++)
		assert_int_equal(ss_kms_open(&c, ct.d, i, &pt, &e), DH_E_SHORT);
	assert_int_equal(ss_kms_open(&c, ct.d, ct.len - 1, &pt, &e),
	    DH_E_INTEGRITY);
	ss_kms_clear(&a);
	assert_int_equal(ss_kms_init(&a, 7, dk, &e), DH_E_ARG);
	ss_kms_clear(&a);
	ss_kms_clear(&c);
	/* a cleared object refuses to work */
	assert_int_equal(ss_kms_seal(&c, "x", 1, &ct, &e), DH_E_STATE);
	dh_buf_free(&ct);
	dh_buf_free(&pt);
}

/* Plaintext of a KMS answer: 64 bytes accepted, anything else refused,
 * and the base64 text is wiped in both cases. */
static void
test_take_data_key(void **state)
{
	static const size_t lens[] = { 64, 63, 65, 0 };
	unsigned char raw[80], key[SS_KMS_DATAKEY_LEN];
	struct dh_buf b64;
	struct dh_err e;
	cJSON *resp;
	const char *v;
	size_t i, k;

	for (k = 0; k < sizeof(raw); k++)
		raw[k] = (unsigned char)(k * 7 + 1);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		dh_buf_init(&b64, 256);
		assert_int_equal(dh_b64_encode(raw, lens[i], &b64), DH_OK);
		resp = cJSON_CreateObject();
		assert_non_null(cJSON_AddStringToObject(resp, "Plaintext",
		    dh_buf_cstr(&b64)));
		memset(key, 0, sizeof(key));
		assert_int_equal(ss_kms_take_data_key(resp, key, &e),
		    lens[i] == 64 ? DH_OK : DH_E_FORMAT);
		if (lens[i] == 64)
			assert_memory_equal(key, raw, 64);
		v = cJSON_GetObjectItem(resp, "Plaintext")->valuestring;
		for (k = 0; k < b64.len; k++)
			assert_int_equal(v[k], 0);
		cJSON_Delete(resp);
		dh_buf_free(&b64);
	}
	resp = cJSON_CreateObject();
	assert_int_equal(ss_kms_take_data_key(resp, key, &e), DH_E_FORMAT);
	cJSON_Delete(resp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcm_vector),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_counter_nonce),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_take_data_key),
	};

	return cmocka_run_group_tests_name("ss_kms", tests, NULL, NULL);
}
