/*
 * dh_rsasig: the hybrid-instance ("mi-...") request signature used by the
 * SSM agent after registration.  The canonical request and string-to-sign
 * are ordinary SigV4 (built by dh_sigv4, never duplicated here); instead of
 * the HMAC chain the string-to-sign is signed with RSASSA-PSS, SHA-256,
 * MGF1-SHA-256, salt length 32, using the instance's RSA-2048 registration
 * key, and the standard base64 of the 256-byte signature goes in
 * "Signature=" of an otherwise normal AWS4-HMAC-SHA256 Authorization header
 * whose Credential access-key slot holds the instance id.
 *
 * Key encodings match the reference agent: private key as standard base64
 * of PKCS#1 RSAPrivateKey DER; public key as standard base64 of
 * SubjectPublicKeyInfo DER (392 characters for RSA-2048), the form sent as
 * RegisterManagedInstance's PublicKey.
 *
 * Ownership: struct dh_rsasig_key owns an OpenSSL key; release it with
 * dh_rsasig_key_free.  Exported private-key text is written to a dh_buf the
 * caller owns; use dh_buf_init_secret for it so it is wiped on release.
 */
#ifndef DH_RSASIG_H
#define DH_RSASIG_H

#include <stddef.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_sigv4.h"

#define DH_RSASIG_BITS 2048
#define DH_RSASIG_SALT_LEN 32
#define DH_RSASIG_SIG_LEN 256      /* bytes of an RSA-2048 signature */
#define DH_RSASIG_SIG_B64_LEN 344  /* base64 characters of it */
#define DH_RSASIG_PUB_B64_LEN 392  /* base64 SPKI of an RSA-2048 key */
#define DH_RSASIG_MAX_B64 16384    /* ceiling for key text accepted */

/* An RSA key pair or public key (opaque OpenSSL EVP_PKEY inside). */
struct dh_rsasig_key {
	void *pkey;      /* EVP_PKEY *, owned */
	int has_private; /* 1 when the private half is loaded */
};

/* Generate a fresh RSA-2048 key (e = 65537) into k. */
int dh_rsasig_generate(struct dh_rsasig_key *k, struct dh_err *err);

/* Load a private key from base64 PKCS#1 DER text b64[0..n) (PKCS#8 also
 * accepted); the decoded DER is wiped. */
int dh_rsasig_load_private(struct dh_rsasig_key *k, const char *b64, size_t n,
    struct dh_err *err);

/* Load a public key from base64 SPKI DER text b64[0..n). */
int dh_rsasig_load_public(struct dh_rsasig_key *k, const char *b64, size_t n,
    struct dh_err *err);

/* Append base64 PKCS#1 DER of the private key to out (caller should init out
 * with dh_buf_init_secret); DH_E_STATE if k holds only a public key. */
int dh_rsasig_export_private(const struct dh_rsasig_key *k,
    struct dh_buf *out, struct dh_err *err);

/* Append base64 SPKI DER of the public key to out (392 chars for 2048 bits). */
int dh_rsasig_export_public(const struct dh_rsasig_key *k, struct dh_buf *out,
    struct dh_err *err);

/* Free the key (OpenSSL clears private material) and zero k. */
void dh_rsasig_key_free(struct dh_rsasig_key *k);

/* RSA-PSS-SHA256 (salt 32) sign msg[0..n); append base64 signature to out. */
int dh_rsasig_sign(const struct dh_rsasig_key *k, const void *msg, size_t n,
    struct dh_buf *out, struct dh_err *err);

/* Verify a base64 RSA-PSS-SHA256 (salt 32) signature sig_b64 over
 * msg[0..n); DH_E_AUTH on mismatch, DH_E_FORMAT on bad base64. */
int dh_rsasig_verify(const struct dh_rsasig_key *k, const void *msg, size_t n,
    const char *sig_b64, struct dh_err *err);

/*
 * Sign a request as the hybrid agent does: dh_sigv4_prepare with
 * p (p->creds->access_key = the instance id, secret_key unused), then sign
 * out->string_to_sign with k and dh_sigv4_finish.  out->add then holds
 * X-Amz-Date [, X-Amz-Security-Token] [, X-Amz-Content-SHA256], Authorization.
 * Caller releases out with dh_sigv4_signed_free in all cases.
 */
int dh_rsasig_sign_request(const struct dh_rsasig_key *k,
    const struct dh_sigv4_request *req, const struct dh_sigv4_params *p,
    struct dh_sigv4_signed *out, struct dh_err *err);

/* Step 2 of dh_sigv4_verify_begin for "mi-..." credentials: verify
 * v->auth.signature (base64 RSA-PSS) over v->string_to_sign with the
 * instance public key k; DH_E_AUTH with v->fail = DH_SIGV4_FAIL_SIGNATURE
 * on mismatch. */
int dh_rsasig_verify_sigv4(struct dh_sigv4_verify *v,
    const struct dh_rsasig_key *k, struct dh_err *err);

#endif
