/*
 * Unit tests for gw_kms: the ciphertext blob (round trip, context bound as
 * AAD regardless of member order, wrong context / key / tampered bytes
 * refused, malformed blobs as a table), the master key file (created 0600,
 * stable, refused when group/world readable), and the handlers against a
 * temporary store (CreateKey, GenerateDataKey NumberOfBytes 64 with the
 * Session Manager context, Decrypt, Encrypt, aliases, errors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dh_enc.h"
#include "dh_json.h"
#include "gw_kms.h"
#include "gw_ssm.h"
#include "gw_store.h"
#include "gw_testutil.h"

#define NOW 1790000000000LL
#define KID "0b9c8d1e-2f3a-4b5c-8d7e-6f5a4b3c2d1e"

static cJSON *
js(const char *text)
{
	cJSON *o = NULL;

	assert_int_equal(dh_json_parse(text, strlen(text), 65536, &o, NULL),
	    DH_OK);
	return o;
}

static void
test_blob_roundtrip(void **state)
{
	unsigned char key[GW_KMS_KEY_LEN], key2[GW_KMS_KEY_LEN];
	cJSON *ctx = js("{\"aws:ssm:SessionId\": \"s-1\","
	    " \"aws:ssm:TargetId\": \"mi-1\"}");
	cJSON *swapped = js("{\"aws:ssm:TargetId\": \"mi-1\","
	    " \"aws:ssm:SessionId\": \"s-1\"}");
	cJSON *other = js("{\"aws:ssm:SessionId\": \"s-2\","
	    " \"aws:ssm:TargetId\": \"mi-1\"}");
	struct dh_buf blob, pt;
	char id[64];
	size_t i;

	(void)state;
	memset(key, 7, sizeof(key));
	memset(key2, 8, sizeof(key2));
	dh_buf_init(&blob, GW_KMS_MAX_BLOB);
	dh_buf_init(&pt, GW_KMS_MAX_PLAINTEXT);
	assert_int_equal(gw_kms_seal(key, KID, ctx, "0123456789abcdef0123456789"
	    "abcdef0123456789abcdef0123456789abcdef", 64, &blob, NULL), DH_OK);
	assert_int_equal(blob.len, 4 + 1 + 36 + 12 + 64 + 16);
	assert_memory_equal(blob.d, "DHK1", 4);
	assert_int_equal(gw_kms_blob_key_id(blob.d, blob.len, id, sizeof(id)),
	    DH_OK);
	assert_string_equal(id, KID);
	assert_int_equal(gw_kms_open(key, swapped, blob.d, blob.len, &pt, NULL),
	    DH_OK);
	assert_int_equal(pt.len, 64);
	assert_memory_equal(pt.d, "0123456789abcdef", 16);
	dh_buf_reset(&pt);
	assert_int_equal(gw_kms_open(key, other, blob.d, blob.len, &pt, NULL),
	    DH_E_INTEGRITY);
	assert_int_equal(gw_kms_open(key, NULL, blob.d, blob.len, &pt, NULL),
	    DH_E_INTEGRITY);
	assert_int_equal(gw_kms_open(key2, ctx, blob.d, blob.len, &pt, NULL),
	    DH_E_INTEGRITY);
	/* Every single flipped byte is refused. */
	for (i = 0; i < blob.len; i++) {
		blob.d[i] ^= 0x01;
		dh_buf_reset(&pt);
		assert_int_not_equal(gw_kms_open(key, ctx, blob.d, blob.len,
		    &pt, NULL), DH_OK);
		blob.d[i] ^= 0x01;
	}
	dh_buf_free(&blob);
	dh_buf_free(&pt);
	cJSON_Delete(ctx);
	cJSON_Delete(swapped);
	cJSON_Delete(other);
}

static void
test_blob_malformed(void **state)
{
	static const struct { const char *name; const char *bytes; size_t n; }
	    cases[] = {
		{ "empty", "", 0 },
		{ "magic only", "DHK1", 4 },
		{ "wrong magic", "DHK2\x01x000000000000000000000000000", 33 },
		{ "zero id", "DHK1\x00" "000000000000000000000000000000", 33 },
		{ "id past end", "DHK1\xff" "0000000000", 15 },
		{ "short tail", "DHK1\x01x0000000000000000000000000", 32 },
		{ "control in id", "DHK1\x01\x01" "0000000000000000000000000000",
		    34 },
	};
	unsigned char key[GW_KMS_KEY_LEN];
	struct dh_buf pt;
	char id[64];
	size_t i;

	(void)state;
	memset(key, 1, sizeof(key));
	dh_buf_init(&pt, 64);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (gw_kms_blob_key_id(cases[i].bytes, cases[i].n, id,
		    sizeof(id)) == DH_OK)
			fail_msg("%s: accepted", cases[i].name);
		assert_int_equal(gw_kms_open(key, NULL, cases[i].bytes,
		    cases[i].n, &pt, NULL), DH_E_FORMAT);
	}
	dh_buf_free(&pt);
}

static void
test_context_aad(void **state)
{
	cJSON *a = js("{\"b\": \"2\", \"a\": \"1\"}");
	cJSON *bad = js("{\"a\": 1}");
	struct dh_buf out;

	(void)state;
	dh_buf_init(&out, 256);
	assert_int_equal(gw_kms_context_aad(a, &out, NULL), DH_OK);
	assert_int_equal(out.len, 4 + 1 + 4 + 1 + 4 + 1 + 4 + 1);
	assert_memory_equal(out.d, "\0\0\0\x01" "a" "\0\0\0\x01" "1", 10);
	dh_buf_reset(&out);
	assert_int_equal(gw_kms_context_aad(bad, &out, NULL), DH_E_FORMAT);
	dh_buf_reset(&out);
	assert_int_equal(gw_kms_context_aad(NULL, &out, NULL), DH_OK);
	assert_int_equal(out.len, 0);
	dh_buf_free(&out);
	cJSON_Delete(a);
	cJSON_Delete(bad);
}

/* ------------------------------------------------------------ fixture */

struct fx {
	char dir[64];
	char db[96];
	struct gw_store *st;
	struct gw_principal who;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (gw_test_store_open("/tmp/gwkmsXXXXXX", f->dir, f->db, &f->st) != 0)
		return -1;
	f->who.kind = GW_AUTH_OPERATOR;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", f->dir, GW_KMS_MASTER_FILE);
	unlink(p);
	gw_test_store_close(f->st, f->dir, f->db);
	free(f);
	return 0;
}

static void
test_master_key(void **state)
{
	struct fx *f = *state;
	unsigned char a[GW_KMS_KEY_LEN], b[GW_KMS_KEY_LEN];
	struct stat sb;
	char p[128];

	assert_int_equal(gw_kms_master_key(f->dir, a, NULL), DH_OK);
	assert_int_equal(gw_kms_master_key(f->dir, b, NULL), DH_OK);
	assert_memory_equal(a, b, sizeof(a));
	snprintf(p, sizeof(p), "%s/%s", f->dir, GW_KMS_MASTER_FILE);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, GW_KMS_KEY_LEN);
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(gw_kms_master_key(f->dir, b, NULL), DH_E_CONFIG);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(gw_kms_master_key(NULL, b, NULL), DH_E_CONFIG);
}

static struct gw_ssm_result
call(struct fx *f, const char *op, const char *json)
{
	struct gw_ssm_result res;
	struct gw_ssm_ctx c;
	char target[96];
	cJSON *in = js(json);

	snprintf(target, sizeof(target), "TrentService.%s", op);
	gw_test_ctx(&c, f->st, &f->who, NOW);
	c.state_dir = f->dir;
	assert_non_null(gw_ssm_find(target));
	gw_ssm_call(&c, gw_ssm_find(target), in, &res);
	cJSON_Delete(in);
	return res;
}

static const char *
str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void
expect_error(struct fx *f, const char *op, const char *json,
    const char *code)
{
	struct gw_ssm_result r = call(f, op, json);

	if (r.error_code == NULL)
		fail_msg("%s %s: no error", op, json);
	assert_string_equal(r.error_code, code);
	gw_ssm_result_free(&r);
}

static void
test_handlers(void **state)
{
	struct fx *f = *state;
	struct gw_ssm_result r;
	char id[64], arn[160], blob[512], json[1024], pt[128];
	struct dh_buf raw;

	r = call(f, "CreateKey", "{\"Description\": \"sessions\"}");
	assert_null(r.error_code);
	snprintf(id, sizeof(id), "%s", str(cJSON_GetObjectItem(r.body,
	    "KeyMetadata"), "KeyId"));
	snprintf(arn, sizeof(arn), "%s", str(cJSON_GetObjectItem(r.body,
	    "KeyMetadata"), "Arn"));
	assert_string_equal(str(cJSON_GetObjectItem(r.body, "KeyMetadata"),
	    "KeyState"), "Enabled");
	gw_ssm_result_free(&r);
	assert_int_equal(strncmp(arn, "arn:aws:kms:us-east-1:123456789012:key/",
	    39), 0);

	snprintf(json, sizeof(json), "{\"KeyId\": \"%s\", \"NumberOfBytes\": 64,"
	    " \"EncryptionContext\": {\"aws:ssm:SessionId\": \"s-1\","
	    " \"aws:ssm:TargetId\": \"mi-0123456789abcdef0\"}}", id);
	r = call(f, "GenerateDataKey", json);
	assert_null(r.error_code);
	assert_string_equal(str(r.body, "KeyId"), arn);
	assert_int_equal(strlen(str(r.body, "Plaintext")), 88);
	snprintf(blob, sizeof(blob), "%s", str(r.body, "CiphertextBlob"));
	snprintf(pt, sizeof(pt), "%s", str(r.body, "Plaintext"));
	gw_ssm_result_free(&r);

	snprintf(json, sizeof(json), "{\"CiphertextBlob\": \"%s\","
	    " \"EncryptionContext\": {\"aws:ssm:TargetId\":"
	    " \"mi-0123456789abcdef0\", \"aws:ssm:SessionId\": \"s-1\"}}", blob);
	r = call(f, "Decrypt", json);
	assert_null(r.error_code);
	assert_string_equal(str(r.body, "Plaintext"), pt);
	assert_string_equal(str(r.body, "KeyId"), arn);
	gw_ssm_result_free(&r);

	snprintf(json, sizeof(json), "{\"CiphertextBlob\": \"%s\","
	    " \"EncryptionContext\": {\"aws:ssm:SessionId\": \"s-1\"}}", blob);
	expect_error(f, "Decrypt", json, "InvalidCiphertextException");
	snprintf(json, sizeof(json), "{\"CiphertextBlob\": \"%s\"}", blob);
	expect_error(f, "Decrypt", json, "InvalidCiphertextException");
	expect_error(f, "Decrypt", "{\"CiphertextBlob\": \"aGVsbG8=\"}",
	    "InvalidCiphertextException");

	snprintf(json, sizeof(json), "{\"KeyId\": \"%s\"}", id);
	expect_error(f, "GenerateDataKey", json, "ValidationException");
	snprintf(json, sizeof(json), "{\"KeyId\": \"%s\", \"NumberOfBytes\":"
	    " 1025}", id);
	expect_error(f, "GenerateDataKey", json, "ValidationException");
	snprintf(json, sizeof(json), "{\"KeyId\": \"%s\", \"KeySpec\":"
	    " \"AES_256\"}", id);
	r = call(f, "GenerateDataKey", json);
	assert_null(r.error_code);
	dh_buf_init(&raw, 64);
	assert_int_equal(dh_b64_decode(str(r.body, "Plaintext"),
	    strlen(str(r.body, "Plaintext")), &raw), DH_OK);
	assert_int_equal(raw.len, 32);
	dh_buf_free(&raw);
	gw_ssm_result_free(&r);
	expect_error(f, "GenerateDataKey", "{\"KeyId\": \"alias/none\","
	    " \"NumberOfBytes\": 32}", "NotFoundException");

	snprintf(json, sizeof(json), "{\"AliasName\": \"alias/sessions\","
	    " \"TargetKeyId\": \"%s\"}", id);
	r = call(f, "CreateAlias", json);
	assert_null(r.error_code);
	gw_ssm_result_free(&r);
	expect_error(f, "CreateAlias", json, "AlreadyExistsException");
	r = call(f, "Encrypt", "{\"KeyId\": \"alias/sessions\", \"Plaintext\":"
	    " \"aGVsbG8=\"}");
	assert_null(r.error_code);
	snprintf(blob, sizeof(blob), "%s", str(r.body, "CiphertextBlob"));
	gw_ssm_result_free(&r);
	snprintf(json, sizeof(json), "{\"CiphertextBlob\": \"%s\", \"KeyId\":"
	    " \"%s\"}", blob, arn);
	r = call(f, "Decrypt", json);
	assert_null(r.error_code);
	assert_string_equal(str(r.body, "Plaintext"), "aGVsbG8=");
	gw_ssm_result_free(&r);

	r = call(f, "CreateKey", "{}");
	gw_ssm_result_free(&r);
	r = call(f, "ListKeys", "{\"Limit\": 1}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.body,
	    "Keys")), 1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r.body, "Truncated")));
	gw_ssm_result_free(&r);
	snprintf(json, sizeof(json), "{\"CiphertextBlob\": \"%s\", \"KeyId\":"
	    " \"alias/none\"}", blob);
	expect_error(f, "Decrypt", json, "NotFoundException");
	expect_error(f, "DescribeKey", "{\"KeyId\": \"nope\"}",
	    "NotFoundException");
	expect_error(f, "CreateKey", "{\"KeyUsage\": \"SIGN_VERIFY\"}",
	    "UnsupportedOperationException");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blob_roundtrip),
		cmocka_unit_test(test_blob_malformed),
		cmocka_unit_test(test_context_aad),
		cmocka_unit_test_setup_teardown(test_master_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_handlers, setup, teardown),
	};

	return cmocka_run_group_tests_name("gw_kms", tests, NULL, NULL);
}
