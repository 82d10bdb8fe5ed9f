/*
 * dh_hash: SHA-256 / HMAC / randomness wrappers over OpenSSL (see dh_hash.h).
 */
#include "dh_hash.h"
#include "dh_enc.h"
#include "dh_err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

struct dh_sha256_ctx {
	EVP_MD_CTX *md;
};

void
dh_sha256(const void *p, size_t n, unsigned char out[DH_SHA256_LEN])
{
	unsigned int len = DH_SHA256_LEN;

	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void
dh_sha256_hex(const void *p, size_t n, char out[2 * DH_SHA256_LEN + 1])
{
	unsigned char md[DH_SHA256_LEN];

	dh_sha256(p, n, md);
	dh_hex_encode(md, sizeof(md), out);
}

void
dh_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen,
    unsigned char out[DH_SHA256_LEN])
{
	unsigned int len = DH_SHA256_LEN;

	HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &len);
}

struct dh_sha256_ctx *
dh_sha256_new(void)
{
	struct dh_sha256_ctx *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (c->md == NULL || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c->md);
		free(c);
		return NULL;
	}
	return c;
}

void
dh_sha256_update(struct dh_sha256_ctx *c, const void *p, size_t n)
{
	EVP_DigestUpdate(c->md, p, n);
}

void
dh_sha256_final(struct dh_sha256_ctx *c, unsigned char out[DH_SHA256_LEN])
{
	unsigned int len = DH_SHA256_LEN;

	EVP_DigestFinal_ex(c->md, out, &len);
	EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
}

void
dh_sha256_free(struct dh_sha256_ctx *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

int
dh_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int
dh_random(void *p, size_t n)
{
	if (n > (size_t)2147483647 || RAND_bytes(p, (int)n) != 1)
		return DH_E_CRYPTO;
	return DH_OK;
}

uint32_t
dh_random_uniform(uint32_t bound)
{
	uint32_t v, min;

	if (bound < 2)
		return 0;
	min = -bound % bound;
	do {
		if (dh_random(&v, sizeof(v)) != DH_OK)
			v = (uint32_t)rand();
	} while (v < min);
	return v % bound;
}

void
dh_wipe(void *p, size_t n)
{
	if (p != NULL)
		OPENSSL_cleanse(p, n);
}
