/*
 * Unit tests for dh_rsasig: RSA-2048 generation and the reference agent's
 * key encodings (PKCS#1 private, 392-char SPKI public), RSA-PSS sign/verify
 * with tamper and wrong-key failures, malformed key text, and the hybrid
 * "mi-..." request signature checked by dh_sigv4's verifier.
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
#include "dh_rsasig.h"
#include "dh_sigv4.h"

struct keys {
	struct dh_rsasig_key k;
	struct dh_buf priv;
	struct dh_buf pub;
};

static int
setup(void **state)
{
	static struct keys ks;
	struct dh_err err;

	dh_buf_init_secret(&ks.priv, 8192);
	dh_buf_init(&ks.pub, 8192);
	if (dh_rsasig_generate(&ks.k, &err) != DH_OK ||
	    dh_rsasig_export_private(&ks.k, &ks.priv, &err) != DH_OK ||
	    dh_rsasig_export_public(&ks.k, &ks.pub, &err) != DH_OK)
		return -1;
	*state = &ks;
	return 0;
}

static int
teardown(void **state)
{
	struct keys *ks = *state;

	dh_rsasig_key_free(&ks->k);
	dh_buf_free(&ks->priv);
	dh_buf_free(&ks->pub);
	return 0;
}

static void
test_encodings(void **state)
{
	struct keys *ks = *state;
	struct dh_buf der, again;
	struct dh_rsasig_key k2;
	struct dh_err err;

	assert_int_equal(ks->pub.len, DH_RSASIG_PUB_B64_LEN);
	assert_memory_equal(ks->pub.d, "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
	    44);
	dh_buf_init_secret(&der, 4096);
	assert_int_equal(dh_b64_decode((const char *)ks->priv.d, ks->priv.len,
	    &der), DH_OK);
	/* PKCS#1 RSAPrivateKey: SEQUENCE (30 82 len) then INTEGER 0. */
	assert_int_equal(der.d[0], 0x30);
	assert_int_equal(der.d[1], 0x82);
	assert_memory_equal(der.d + 4, "\x02\x01\x00", 3);
	dh_buf_free(&der);

	/* Private key reloads and yields the same public key. */
	dh_buf_init(&again, 8192);
	assert_int_equal(dh_rsasig_load_private(&k2, (const char *)ks->priv.d,
	    ks->priv.len, &err), DH_OK);
	assert_int_equal(k2.has_private, 1);
	assert_int_equal(dh_rsasig_export_public(&k2, &again, &err), DH_OK);
	assert_string_equal(dh_buf_cstr(&again), dh_buf_cstr(&ks->pub));
	dh_rsasig_key_free(&k2);

	/* A public key cannot export or sign a private half. */
	assert_int_equal(dh_rsasig_load_public(&k2, (const char *)ks->pub.d,
	    ks->pub.len, &err), DH_OK);
	assert_int_equal(k2.has_private, 0);
	dh_buf_reset(&again);
	assert_int_equal(dh_rsasig_export_private(&k2, &again, &err),
	    DH_E_STATE);
	assert_int_equal(dh_rsasig_sign(&k2, "x", 1, &again, &err), DH_E_STATE);
	dh_rsasig_key_free(&k2);
	dh_buf_free(&again);
}

static void
test_bad_key_text(void **state)
{
	struct keys *ks = *state;
	struct dh_rsasig_key k;
	struct dh_err err;
	char trunc[100];

	assert_int_equal(dh_rsasig_load_public(&k, "!!!", 3, &err),
	    DH_E_FORMAT);
	assert_int_equal(dh_rsasig_load_public(&k, "", 0, &err), DH_E_FORMAT);
	assert_int_equal(dh_rsasig_load_private(&k, "QUJDRA==", 8, &err),
	    DH_E_CRYPTO);
	/* A public key is not a private key and vice versa. */
	assert_int_equal(dh_rsasig_load_private(&k, (const char *)ks->pub.d,
	    ks->pub.len, &err), DH_E_CRYPTO);
	assert_int_equal(dh_rsasig_load_public(&k, (const char *)ks->priv.d,
	    ks->priv.len, &err), DH_E_CRYPTO);
	memcpy(trunc, ks->pub.d, 96);
	assert_int_equal(dh_rsasig_load_public(&k, trunc, 96, &err),
	    DH_E_CRYPTO);
}

static void
test_sign_verify(void **state)
{
	struct keys *ks = *state;
	static const char msg[] = "AWS4-HMAC-SHA256\n20261127T162341Z\n"
	    "20261127/us-east-1/ssm/aws4_request\nabc";
	struct dh_buf s1, s2;
	struct dh_rsasig_key other, pub;
	struct dh_err err;
	char bad[DH_RSASIG_SIG_B64_LEN + 1];

	dh_buf_init(&s1, 4096);
	dh_buf_init(&s2, 4096);
	assert_int_equal(dh_rsasig_sign(&ks->k, msg, strlen(msg), &s1, &err),
	    DH_OK);
	assert_int_equal(s1.len, DH_RSASIG_SIG_B64_LEN);
	/* PSS is randomised: two signatures differ, both verify. */
	assert_int_equal(dh_rsasig_sign(&ks->k, msg, strlen(msg), &s2, &err),
	    DH_OK);
	assert_string_not_equal(dh_buf_cstr(&s1), dh_buf_cstr(&s2));
	assert_int_equal(dh_rsasig_load_public(&pub, (const char *)ks->pub.d,
	    ks->pub.len, &err), DH_OK);
	assert_int_equal(dh_rsasig_verify(&pub, msg, strlen(msg),
	    dh_buf_cstr(&s1), &err), DH_OK);
	assert_int_equal(dh_rsasig_verify(&pub, msg, strlen(msg),
	    dh_buf_cstr(&s2), &err), DH_OK);
	assert_int_equal(dh_rsasig_verify(&pub, msg, strlen(msg) - 1,
	    dh_buf_cstr(&s1), &err), DH_E_AUTH);
	memcpy(bad, s1.d, sizeof(bad));
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	assert_int_equal(dh_rsasig_verify(&pub, msg, strlen(msg), bad, &err),
	    DH_E_AUTH);
	assert_int_equal(dh_rsasig_verify(&pub, msg, strlen(msg), "%%%", &err),
	    DH_E_FORMAT);
	assert_int_equal(dh_rsasig_generate(&other, &err), DH_OK);
	assert_int_equal(dh_rsasig_verify(&other, msg, strlen(msg),
	    dh_buf_cstr(&s1), &err), DH_E_AUTH);
	dh_rsasig_key_free(&other);
	dh_rsasig_key_free(&pub);
	dh_buf_free(&s1);
	dh_buf_free(&s2);
}

static void
test_sign_request_and_verify(void **state)
{
	struct keys *ks = *state;
	static const char body[] = "{\"Fingerprint\":\"1d0987b9\"}";
	struct dh_sigv4_header hs[8] = {
		{ "Host", "127.0.0.1:8443" },
		{ "Content-Type", "application/x-amz-json-1.1" },
		{ "X-Amz-Target", "AmazonSSM.RequestManagedInstanceRoleToken" },
		{ "User-Agent", "deckhand" },
	};
	struct dh_sigv4_request req = { "POST", "/", "", hs, 4, body,
	    sizeof(body) - 1, NULL };
	struct dh_sigv4_creds cr = { "mi-0123456789abcdef0", NULL, NULL };
	struct dh_sigv4_params p = { &cr, "us-east-1", "ssm", 1795796621, 0 };
	struct dh_sigv4_verify_opts o;
	struct dh_sigv4_verify v;
	struct dh_sigv4_signed s;
	struct dh_rsasig_key pub, other;
	struct dh_err err;
	size_t i;

	assert_int_equal(dh_rsasig_sign_request(&ks->k, &req, &p, &s, &err),
	    DH_OK);
	assert_int_equal(s.n_add, 2);
	assert_string_equal(s.add[1].name, "Authorization");
	assert_non_null(strstr(s.add[1].value, "AWS4-HMAC-SHA256 Credential="
	    "mi-0123456789abcdef0/"));
	assert_non_null(strstr(s.add[1].value, "SignedHeaders=content-type;host;"
	    "x-amz-date;x-amz-target, Signature="));
	assert_int_equal(strlen(s.signature), DH_RSASIG_SIG_B64_LEN);
	for (i = 0; i < s.n_add; i++)
		hs[4 + i] = s.add[i];
	req.n_headers = 4 + s.n_add;

	memset(&o, 0, sizeof(o));
	o.now = p.t;
	o.service = "ssm";
	assert_int_equal(dh_rsasig_load_public(&pub, (const char *)ks->pub.d,
	    ks->pub.len, &err), DH_OK);
	assert_int_equal(dh_sigv4_verify_begin(&req, &o, &v, &err), DH_OK);
	assert_string_equal(v.auth.access_key, "mi-0123456789abcdef0");
	assert_string_equal(dh_buf_cstr(&v.string_to_sign),
	    dh_buf_cstr(&s.string_to_sign));
	assert_int_equal(dh_rsasig_verify_sigv4(&v, &pub, &err), DH_OK);
	assert_int_equal(dh_rsasig_generate(&other, &err), DH_OK);
	assert_int_equal(dh_rsasig_verify_sigv4(&v, &other, &err), DH_E_AUTH);
	assert_int_equal(v.fail, DH_SIGV4_FAIL_SIGNATURE);
	dh_sigv4_verify_free(&v);

	/* Tampered body: the rebuilt string-to-sign differs. */
	req.body_len--;
	assert_int_equal(dh_sigv4_verify_begin(&req, &o, &v, &err), DH_OK);
	assert_int_equal(dh_rsasig_verify_sigv4(&v, &pub, &err), DH_E_AUTH);
	dh_sigv4_verify_free(&v);

	dh_rsasig_key_free(&other);
	dh_rsasig_key_free(&pub);
	dh_sigv4_signed_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_bad_key_text),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_sign_request_and_verify),
	};

	return cmocka_run_group_tests_name("dh_rsasig", tests, setup, teardown);
}
