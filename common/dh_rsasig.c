/*
 * dh_rsasig: RSA-2048 key handling and RSASSA-PSS (SHA-256, MGF1-SHA-256,
 * salt 32) signatures for the hybrid-instance SigV4 variant, on OpenSSL 3's
 * EVP layer.  The canonical request and string-to-sign come from dh_sigv4.
 */
#include "dh_rsasig.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

#include "dh_enc.h"

/* Record an OpenSSL failure with its first queued reason. */
static int
ossl_fail(struct dh_err *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_clear_error();
	if (e == 0)
		return dh_err_set(err, DH_E_CRYPTO, "%s failed", what);
	ERR_error_string_n(e, buf, sizeof(buf));
	return dh_err_set(err, DH_E_CRYPTO, "%s failed: %s", what, buf);
}

int
dh_rsasig_generate(struct dh_rsasig_key *k, struct dh_err *err)
{
	EVP_PKEY *pk;

	memset(k, 0, sizeof(*k));
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)DH_RSASIG_BITS);
	if (pk == NULL)
		return ossl_fail(err, "RSA-2048 key generation");
	k->pkey = pk;
	k->has_private = 1;
	return DH_OK;
}

/* Decode base64 key text into der (secret buffer). */
static int
decode_b64(const char *b64, size_t n, struct dh_buf *der, struct dh_err *err)
{
	int r;

	if (b64 == NULL || n == 0)
		return dh_err_set(err, DH_E_FORMAT, "empty key text");
	if (n > DH_RSASIG_MAX_B64)
		return dh_err_set(err, DH_E_TOOBIG, "key text longer than %d",
		    DH_RSASIG_MAX_B64);
	r = dh_b64_decode(b64, n, der);
	if (r != DH_OK)
		return dh_err_set(err, r, "key is not valid base64");
	return DH_OK;
}

int
dh_rsasig_load_private(struct dh_rsasig_key *k, const char *b64, size_t n,
    struct dh_err *err)
{
	struct dh_buf der;
	const unsigned char *p;
	EVP_PKEY *pk = NULL;
	int r;

	memset(k, 0, sizeof(*k));
	dh_buf_init_secret(&der, DH_RSASIG_MAX_B64);
	r = decode_b64(b64, n, &der, err);
	if (r != DH_OK)
		goto out;
	p = der.d;
	pk = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)der.len);
	if (pk == NULL) {
		ERR_clear_error();
		p = der.d;
		pk = d2i_AutoPrivateKey(NULL, &p, (long)der.len);
	}
	if (pk == NULL) {
		r = ossl_fail(err, "parsing the RSA private key (PKCS#1 DER)");
		goto out;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		r = dh_err_set(err, DH_E_CRYPTO, "private key is not RSA");
		EVP_PKEY_free(pk);
		goto out;
	}
	k->pkey = pk;
	k->has_private = 1;
	r = DH_OK;
out:
	dh_buf_free(&der);
	return r;
}

int
dh_rsasig_load_public(struct dh_rsasig_key *k, const char *b64, size_t n,
    struct dh_err *err)
{
	struct dh_buf der;
	const unsigned char *p;
	EVP_PKEY *pk;
	int r;

	memset(k, 0, sizeof(*k));
	dh_buf_init(&der, DH_RSASIG_MAX_B64);
	r = decode_b64(b64, n, &der, err);
	if (r != DH_OK)
		goto out;
	p = der.d;
	pk = d2i_PUBKEY(NULL, &p, (long)der.len);
	if (pk == NULL) {
		r = ossl_fail(err, "parsing the public key (SPKI DER)");
		goto out;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		r = dh_err_set(err, DH_E_CRYPTO, "public key is not RSA");
		goto out;
	}
	if (p != der.d + der.len) {
		EVP_PKEY_free(pk);
		r = dh_err_set(err, DH_E_FORMAT,
		    "trailing bytes after the public key");
		goto out;
	}
	k->pkey = pk;
	k->has_private = 0;
	r = DH_OK;
out:
	dh_buf_free(&der);
	return r;
}

int
dh_rsasig_export_private(const struct dh_rsasig_key *k, struct dh_buf *out,
    struct dh_err *err)
{
	unsigned char *der = NULL;
	int len, r;

	if (k == NULL || k->pkey == NULL || !k->has_private)
		return dh_err_set(err, DH_E_STATE, "no private key loaded");
	/* For RSA, i2d_PrivateKey writes PKCS#1 RSAPrivateKey. */
	len = i2d_PrivateKey(k->pkey, &der);
	if (len <= 0)
		return ossl_fail(err, "encoding the private key");
	r = dh_b64_encode(der, (size_t)len, out);
	OPENSSL_clear_free(der, (size_t)len);
	if (r != DH_OK)
		return dh_err_set(err, r, "base64 of private key: %s",
		    dh_strerror(r));
	return DH_OK;
}

int
dh_rsasig_export_public(const struct dh_rsasig_key *k, struct dh_buf *out,
    struct dh_err *err)
{
	unsigned char *der = NULL;
	int len, r;

	if (k == NULL || k->pkey == NULL)
		return dh_err_set(err, DH_E_STATE, "no key loaded");
	len = i2d_PUBKEY(k->pkey, &der);
	if (len <= 0)
		return ossl_fail(err, "encoding the public key");
	r = dh_b64_encode(der, (size_t)len, out);
	OPENSSL_free(der);
	if (r != DH_OK)
		return dh_err_set(err, r, "base64 of public key: %s",
		    dh_strerror(r));
	return DH_OK;
}

void
dh_rsasig_key_free(struct dh_rsasig_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
	k->has_private = 0;
}

/* Configure PSS / SHA-256 / MGF1-SHA-256 / salt 32 on a digest context. */
static int
set_pss(EVP_PKEY_CTX *pctx)
{
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, DH_RSASIG_SALT_LEN) > 0 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
}

int
dh_rsasig_sign(const struct dh_rsasig_key *k, const void *msg, size_t n,
    struct dh_buf *out, struct dh_err *err)
{
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL;
	size_t slen = 0;
	int r;

	if (k == NULL || k->pkey == NULL || !k->has_private)
		return dh_err_set(err, DH_E_STATE, "no private key to sign with");
	md = EVP_MD_CTX_new();
	if (md == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, k->pkey) != 1 ||
	    !set_pss(pctx) ||
	    EVP_DigestSign(md, NULL, &slen, msg, n) != 1) {
		r = ossl_fail(err, "RSA-PSS signing setup");
		goto out;
	}
	sig = OPENSSL_malloc(slen);
	if (sig == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestSign(md, sig, &slen, msg, n) != 1) {
		r = ossl_fail(err, "RSA-PSS signing");
		goto out;
	}
	r = dh_b64_encode(sig, slen, out);
	if (r != DH_OK)
		r = dh_err_set(err, r, "base64 of signature: %s",
		    dh_strerror(r));
out:
	OPENSSL_free(sig);
	EVP_MD_CTX_free(md);
	return r;
}

int
dh_rsasig_verify(const struct dh_rsasig_key *k, const void *msg, size_t n,
    const char *sig_b64, struct dh_err *err)
{
	struct dh_buf sig;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int r, ok;

	dh_buf_init(&sig, 2048);
	if (k == NULL || k->pkey == NULL) {
		r = dh_err_set(err, DH_E_STATE, "no key to verify with");
		goto out;
	}
	if (sig_b64 == NULL || dh_b64_decode(sig_b64, strlen(sig_b64),
	    &sig) != DH_OK || sig.len == 0) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "RSA signature is not valid base64");
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (md == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
	    k->pkey) != 1 || !set_pss(pctx)) {
		r = ossl_fail(err, "RSA-PSS verify setup");
		goto out;
	}
	ok = EVP_DigestVerify(md, sig.d, sig.len, msg, n);
	ERR_clear_error();
	if (ok != 1) {
		r = dh_err_set(err, DH_E_AUTH,
		    "RSA-PSS signature does not verify");
		goto out;
	}
	r = DH_OK;
out:
	EVP_MD_CTX_free(md);
	dh_buf_free(&sig);
	return r;
}

int
dh_rsasig_sign_request(const struct dh_rsasig_key *k,
    const struct dh_sigv4_request *req, const struct dh_sigv4_params *p,
    struct dh_sigv4_signed *out, struct dh_err *err)
{
	struct dh_buf sig;
	int r;

	dh_buf_init(&sig, DH_SIGV4_MAX_SIG);
	r = dh_sigv4_prepare(req, p, out, err);
	if (r == DH_OK)
		r = dh_rsasig_sign(k, out->string_to_sign.d,
		    out->string_to_sign.len, &sig, err);
	if (r == DH_OK)
		r = dh_sigv4_finish(out, p->creds->access_key,
		    dh_buf_cstr(&sig), err);
	dh_buf_free(&sig);
	return r;
}

int
dh_rsasig_verify_sigv4(struct dh_sigv4_verify *v,
    const struct dh_rsasig_key *k, struct dh_err *err)
{
	int r;

	if (v->string_to_sign.len == 0)
		return dh_err_set(err, DH_E_ARG, "verification not begun");
	r = dh_rsasig_verify(k, v->string_to_sign.d, v->string_to_sign.len,
	    v->auth.signature, err);
	if (r == DH_E_AUTH || r == DH_E_FORMAT) {
		v->fail = DH_SIGV4_FAIL_SIGNATURE;
		return dh_err_set(err, DH_E_AUTH, "%s: RSA-PSS signature of %s "
		    "does not verify", dh_sigv4_fail_name(v->fail),
		    v->auth.access_key);
	}
	if (r == DH_OK)
		v->fail = DH_SIGV4_FAIL_NONE;
	return r;
}
