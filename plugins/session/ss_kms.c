/*
 * ss_kms: AES-256-GCM session crypto for KMS-encrypted sessions (see
 * ss_kms.h).
 */
#include "ss_kms.h"

#include <openssl/evp.h>
#include <string.h>

#include "dh_enc.h"
#include "dh_hash.h"

/* Seal with a keyed context under nonce; appends nonce||ct||tag. */
static int
gcm_seal(EVP_CIPHER_CTX *c,
    const unsigned char nonce[SS_KMS_NONCE_LEN], const void *p, size_t n,
    struct dh_buf *out, struct dh_err *err)
{
	size_t before = out->len;
	unsigned char *dst;
	int len = 0, fin = 0, rc;

	if (n > (size_t)INT32_MAX - 64)
		return dh_err_set(err, DH_E_TOOBIG, "payload too large to seal");
	rc = dh_buf_reserve(out, n + SS_KMS_OVERHEAD);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "no room for the sealed payload");
	dst = out->d + out->len;
	memcpy(dst, nonce, SS_KMS_NONCE_LEN);
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(c, dst + SS_KMS_NONCE_LEN, &len, p, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(c, dst + SS_KMS_NONCE_LEN + len, &fin) != 1 ||
	    (size_t)(len + fin) != n ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SS_KMS_TAG_LEN,
	    dst + SS_KMS_NONCE_LEN + n) != 1) {
		dh_wipe(dst, n + SS_KMS_OVERHEAD);
		out->len = before;
		return dh_err_set(err, DH_E_CRYPTO, "AES-GCM encryption failed");
	}
	out->len = before + n + SS_KMS_OVERHEAD;
	out->d[out->len] = 0;
	return DH_OK;
}

static int
gcm_open(EVP_CIPHER_CTX *c, const void *pv, size_t n,
    struct dh_buf *out, struct dh_err *err)
{
	const unsigned char *p = pv;
	size_t before = out->len, ct;
	unsigned char tag[SS_KMS_TAG_LEN];
	unsigned char *dst;
	int len = 0, fin = 0, rc;

	if (n < SS_KMS_OVERHEAD)
		return dh_err_set(err, DH_E_SHORT,
		    "encrypted payload of %zu bytes is shorter than 28", n);
	if (n > (size_t)INT32_MAX - 64)
		return dh_err_set(err, DH_E_TOOBIG, "payload too large to open");
	ct = n - SS_KMS_OVERHEAD;
	rc = dh_buf_reserve(out, ct + 16);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "no room for the opened payload");
	dst = out->d + out->len;
	memcpy(tag, p + n - SS_KMS_TAG_LEN, SS_KMS_TAG_LEN);
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, p) != 1 ||
	    EVP_DecryptUpdate(c, dst, &len, p + SS_KMS_NONCE_LEN, (int)ct) !=
	    1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SS_KMS_TAG_LEN, tag) !=
	    1 ||
	    EVP_DecryptFinal_ex(c, dst + len, &fin) != 1) {
		dh_wipe(dst, ct);
		out->len = before;
		out->d[out->len] = 0;
		return dh_err_set(err, DH_E_INTEGRITY,
		    "encrypted payload failed authentication");
	}
	out->len = before + ct;
	out->d[out->len] = 0;
	return DH_OK;
}

/* A context keyed once with key, so later calls only change the nonce. */
static EVP_CIPHER_CTX *
keyed_ctx(const unsigned char *key, int enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (c == NULL)
		return NULL;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) !=
	    1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, SS_KMS_NONCE_LEN,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

int
ss_kms_init(struct ss_kms *k, int role,
    const unsigned char datakey[SS_KMS_DATAKEY_LEN], struct dh_err *err)
{
	const unsigned char *a2c = datakey, *c2a = datakey + SS_KMS_KEY_LEN;

	memset(k, 0, sizeof(*k));
	if (role != SS_KMS_AGENT && role != SS_KMS_CLIENT)
		return dh_err_set(err, DH_E_ARG, "bad KMS role");
	k->role = role;
	memcpy(k->seal_key, role == SS_KMS_AGENT ? a2c : c2a, SS_KMS_KEY_LEN);
	memcpy(k->open_key, role == SS_KMS_AGENT ? c2a : a2c, SS_KMS_KEY_LEN);
	if (dh_random(k->ctr, sizeof(k->ctr)) != DH_OK) {
		ss_kms_clear(k);
		return dh_err_set(err, DH_E_CRYPTO, "no randomness for nonces");
	}
	k->seal_ctx = keyed_ctx(k->seal_key, 1);
	k->open_ctx = keyed_ctx(k->open_key, 0);
	if (k->seal_ctx == NULL || k->open_ctx == NULL) {
		ss_kms_clear(k);
		return dh_err_set(err, DH_E_CRYPTO, "cannot set up AES-256-GCM");
	}
	return DH_OK;
}

void
ss_kms_clear(struct ss_kms *k)
{
	if (k == NULL)
		return;
	EVP_CIPHER_CTX_free(k->seal_ctx);
	EVP_CIPHER_CTX_free(k->open_ctx);
	dh_wipe(k, sizeof(*k));
}

void
ss_kms_next_nonce(struct ss_kms *k, unsigned char nonce[SS_KMS_NONCE_LEN])
{
	int i;

	for (i = 0; i < 3; i++) {
		nonce[4 * i] = (unsigned char)(k->ctr[i] & 0xff);
		nonce[4 * i + 1] = (unsigned char)((k->ctr[i] >> 8) & 0xff);
		nonce[4 * i + 2] = (unsigned char)((k->ctr[i] >> 16) & 0xff);
		nonce[4 * i + 3] = (unsigned char)(k->ctr[i] >> 24);
	}
	for (i = 0; i < 3; i++)
		if (++k->ctr[i] != 0)
			break;
}

int
ss_kms_seal(struct ss_kms *k, const void *p, size_t n, struct dh_buf *out,
    struct dh_err *err)
{
	unsigned char nonce[SS_KMS_NONCE_LEN];

	if (k->seal_ctx == NULL)
		return dh_err_set(err, DH_E_STATE, "session keys not set");
	if (k->role == SS_KMS_AGENT)
		ss_kms_next_nonce(k, nonce);
	else if (dh_random(nonce, sizeof(nonce)) != DH_OK)
		return dh_err_set(err, DH_E_CRYPTO, "no randomness for a nonce");
	return gcm_seal(k->seal_ctx, nonce, p, n, out, err);
}

int
ss_kms_open(struct ss_kms *k, const void *p, size_t n, struct dh_buf *out,
    struct dh_err *err)
{
	if (k->open_ctx == NULL)
		return dh_err_set(err, DH_E_STATE, "session keys not set");
	return gcm_open(k->open_ctx, p, n, out, err);
}

int
ss_kms_seal_with(const unsigned char key[SS_KMS_KEY_LEN],
    const unsigned char nonce[SS_KMS_NONCE_LEN], const void *p, size_t n,
    struct dh_buf *out, struct dh_err *err)
{
	EVP_CIPHER_CTX *c = keyed_ctx(key, 1);
	int rc;

	if (c == NULL)
		return dh_err_set(err, DH_E_CRYPTO, "cannot set up AES-256-GCM");
	rc = gcm_seal(c, nonce, p, n, out, err);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int
ss_kms_open_with(const unsigned char key[SS_KMS_KEY_LEN], const void *p,
    size_t n, struct dh_buf *out, struct dh_err *err)
{
	EVP_CIPHER_CTX *c = keyed_ctx(key, 0);
	int rc;

	if (c == NULL)
		return dh_err_set(err, DH_E_CRYPTO, "cannot set up AES-256-GCM");
	rc = gcm_open(c, p, n, out, err);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int
ss_kms_take_data_key(cJSON *resp, unsigned char key[SS_KMS_DATAKEY_LEN],
    struct dh_err *err)
{
	cJSON *pt = cJSON_GetObjectItem(resp, "Plaintext");
	struct dh_buf plain;
	int rc = DH_OK;

	dh_buf_init_secret(&plain, 256);
	if (!cJSON_IsString(pt) || dh_b64_decode(pt->valuestring,
	    strlen(pt->valuestring), &plain) != DH_OK ||
	    plain.len != SS_KMS_DATAKEY_LEN)
		rc = dh_err_set(err, DH_E_FORMAT,
		    "KMS answer has no 64-byte Plaintext data key");
	else
		memcpy(key, plain.d, SS_KMS_DATAKEY_LEN);
	if (cJSON_IsString(pt))
		dh_wipe(pt->valuestring, strlen(pt->valuestring));
	dh_buf_free(&plain);
	return rc;
}
