/*
 * gw_kms: the KMS subset the gateway serves (AWS JSON 1.1, target prefix
 * "TrentService.", signing name "kms"): CreateKey, DescribeKey, ListKeys,
 * GenerateDataKey, GenerateDataKeyWithoutPlaintext, Encrypt and Decrypt for
 * symmetric keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT).  Session Manager uses
 * GenerateDataKey with NumberOfBytes 64 and an EncryptionContext of
 * aws:ssm:SessionId / aws:ssm:TargetId, then Decrypt with the same context.
 *
 * Key material: every KMS key is 32 random bytes, stored in the kms_keys
 * table only wrapped (AES-256-GCM, AAD "deckhand-kms-key:" + key id) by a
 * gateway master key, 32 random bytes kept in <state>/kms-master.key
 * (mode 0600, created atomically on first use).  A copy of the database
 * alone reveals no key.
 *
 * Ciphertext blob (what CiphertextBlob carries, base64 in JSON):
 *   "DHK1" | u8 id_len | key id (id_len bytes) | nonce (12) | ct | tag (16)
 * sealed with AES-256-GCM under the KMS key; the associated data is
 * "DHK1" | u8 id_len | key id | the canonical encryption context, which is
 * the context's pairs sorted by key (bytewise), each as u32 big-endian key
 * length, key, u32 big-endian value length, value.  A wrong or missing
 * context, another key's blob or any altered byte gives
 * InvalidCiphertextException, as AWS does.
 *
 * Ownership: results own their cJSON body; blob helpers append to the
 * caller's buffers and borrow everything else.
 */
#ifndef GW_KMS_H
#define GW_KMS_H

#include <cJSON.h>
#include <stddef.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "gw_ssm.h"

#define GW_KMS_KEY_LEN 32
#define GW_KMS_NONCE_LEN 12
#define GW_KMS_TAG_LEN 16
#define GW_KMS_MAGIC "DHK1"
#define GW_KMS_MAX_PLAINTEXT 4096
#define GW_KMS_MAX_BLOB 6144
#define GW_KMS_MAX_CONTEXT 64       /* pairs in an EncryptionContext */
#define GW_KMS_MASTER_FILE "kms-master.key"

/* The KMS operation table (gw_kms_n_ops entries), registered in gw_ops.c. */
extern const struct gw_ssm_op gw_kms_ops[];
extern const size_t gw_kms_n_ops;

/* Resolve a key id, key ARN or "alias/..." name of this gateway's KMS into
 * the key ARN out[n]; DH_E_NOTFOUND when there is no such key, DH_E_IO on
 * a store failure. */
int gw_kms_key_arn(const struct gw_ssm_ctx *c, const char *key_id, char *out,
    size_t n);

/* Append the canonical form of an EncryptionContext object (NULL = empty)
 * to out; DH_E_FORMAT when a value is not a string, DH_E_TOOBIG past
 * GW_KMS_MAX_CONTEXT pairs. */
int gw_kms_context_aad(const cJSON *ctx, struct dh_buf *out,
    struct dh_err *err);

/* Seal pt[0..n) for key_id under key with context ctx, appending the
 * ciphertext blob to out. */
int gw_kms_seal(const unsigned char key[GW_KMS_KEY_LEN], const char *key_id,
    const cJSON *ctx, const void *pt, size_t n, struct dh_buf *out,
    struct dh_err *err);

/* The key id a blob names, into out[n]; DH_E_FORMAT when blob is not a
 * ciphertext blob of this format. */
int gw_kms_blob_key_id(const void *blob, size_t n, char *out, size_t outn);

/* Open a ciphertext blob under key with context ctx, appending the
 * plaintext to pt; DH_E_INTEGRITY when authentication fails, DH_E_FORMAT
 * when the blob is malformed. */
int gw_kms_open(const unsigned char key[GW_KMS_KEY_LEN], const cJSON *ctx,
    const void *blob, size_t n, struct dh_buf *pt, struct dh_err *err);

/* Load (creating on first use) the master key of state_dir into key. */
int gw_kms_master_key(const char *state_dir,
    unsigned char key[GW_KMS_KEY_LEN], struct dh_err *err);

#endif
