/*
 * ss_kms: Session Manager session encryption (mgs-protocol.md section 7).
 *
 * The client asks KMS GenerateDataKey for 64 bytes; K[0:32] encrypts
 * agent->client, K[32:64] client->agent.  Every encrypted payload is
 * nonce(12) || AES-256-GCM ciphertext || tag(16), no associated data.  The
 * agent's nonces are a 96-bit counter (three little-endian u32 words,
 * randomly initialised, incremented as one little-endian integer), the
 * client's are 12 fresh random bytes; a receiver always takes the nonce
 * from the first 12 bytes.  Pure crypto on OpenSSL's EVP layer, no I/O.
 *
 * Ownership: struct ss_kms holds the keys and two cipher contexts;
 * ss_kms_clear wipes and frees them.
 */
#ifndef SS_KMS_H
#define SS_KMS_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"

#define SS_KMS_DATAKEY_LEN 64
#define SS_KMS_KEY_LEN 32
#define SS_KMS_NONCE_LEN 12
#define SS_KMS_TAG_LEN 16
#define SS_KMS_OVERHEAD (SS_KMS_NONCE_LEN + SS_KMS_TAG_LEN)

enum ss_kms_role {
	SS_KMS_AGENT = 0,  /* seal with K[0:32], open with K[32:64], counter nonce */
	SS_KMS_CLIENT = 1  /* seal with K[32:64], open with K[0:32], random nonce */
};

struct ss_kms {
	unsigned char seal_key[SS_KMS_KEY_LEN];
	unsigned char open_key[SS_KMS_KEY_LEN];
	uint32_t ctr[3];       /* agent nonce counter (word 0 least significant) */
	int role;
	void *seal_ctx;        /* EVP_CIPHER_CTX, owned */
	void *open_ctx;        /* EVP_CIPHER_CTX, owned */
};

/* Set up k (zeroed or cleared; an initialised k must be cleared first) for
 * role from the 64-byte data key (copied; the caller wipes its copy).  The
 * agent's nonce counter starts at a random value. */
int ss_kms_init(struct ss_kms *k, int role,
    const unsigned char datakey[SS_KMS_DATAKEY_LEN], struct dh_err *err);

/* The 64-byte data key of a KMS GenerateDataKey or Decrypt answer: decode
 * its base64 Plaintext member into key and wipe that member in resp (also
 * when it is unusable).  DH_E_FORMAT unless it is exactly 64 bytes. */
int ss_kms_take_data_key(cJSON *resp, unsigned char key[SS_KMS_DATAKEY_LEN],
    struct dh_err *err);

/* Wipe the keys and free the contexts (safe on a zeroed or cleared k). */
void ss_kms_clear(struct ss_kms *k);

/* Append nonce || ciphertext || tag of p[0..n) to out (n + 28 bytes). */
int ss_kms_seal(struct ss_kms *k, const void *p, size_t n, struct dh_buf *out,
    struct dh_err *err);

/* Append the plaintext of a sealed payload p[0..n) to out; DH_E_SHORT when
 * n < 28, DH_E_INTEGRITY when the tag does not verify (out unchanged). */
int ss_kms_open(struct ss_kms *k, const void *p, size_t n, struct dh_buf *out,
    struct dh_err *err);

/* One-shot seal with an explicit key and nonce (vectors, challenges). */
int ss_kms_seal_with(const unsigned char key[SS_KMS_KEY_LEN],
    const unsigned char nonce[SS_KMS_NONCE_LEN], const void *p, size_t n,
    struct dh_buf *out, struct dh_err *err);

/* One-shot open with an explicit key. */
int ss_kms_open_with(const unsigned char key[SS_KMS_KEY_LEN], const void *p,
    size_t n, struct dh_buf *out, struct dh_err *err);

/* Write the agent's current counter nonce into nonce and advance it. */
void ss_kms_next_nonce(struct ss_kms *k,
    unsigned char nonce[SS_KMS_NONCE_LEN]);

#endif
