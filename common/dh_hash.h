/*
 * dh_hash: SHA-256, HMAC-SHA-256, constant-time comparison, secure random
 * bytes and memory wiping, on OpenSSL's EVP layer.  Small wrappers so that
 * no other module touches EVP for these primitives.
 */
#ifndef DH_HASH_H
#define DH_HASH_H

#include <stddef.h>
#include <stdint.h>

#define DH_SHA256_LEN 32

/* SHA-256 of p[0..n) into out[32]. */
void dh_sha256(const void *p, size_t n, unsigned char out[DH_SHA256_LEN]);

/* Lowercase hex SHA-256 of p[0..n) into out[65]. */
void dh_sha256_hex(const void *p, size_t n, char out[2 * DH_SHA256_LEN + 1]);

/* HMAC-SHA-256(key, data) into out[32]. */
void dh_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen,
    unsigned char out[DH_SHA256_LEN]);

/* Incremental SHA-256 (opaque context, caller frees with dh_sha256_free). */
struct dh_sha256_ctx;
/* New context or NULL on allocation failure. */
struct dh_sha256_ctx *dh_sha256_new(void);
void dh_sha256_update(struct dh_sha256_ctx *c, const void *p, size_t n);
/* Write the digest; the context is reset for reuse. */
void dh_sha256_final(struct dh_sha256_ctx *c, unsigned char out[DH_SHA256_LEN]);
void dh_sha256_free(struct dh_sha256_ctx *c);

/* 1 when a[0..n) == b[0..n), in time independent of the contents. */
int dh_ct_equal(const void *a, const void *b, size_t n);

/* Fill p with n cryptographically secure random bytes; 0 or DH_E_CRYPTO. */
int dh_random(void *p, size_t n);

/* Uniform random integer in [0, bound) (bound > 0). */
uint32_t dh_random_uniform(uint32_t bound);

/* Overwrite n bytes at p with zeros in a way the compiler keeps. */
void dh_wipe(void *p, size_t n);

#endif
