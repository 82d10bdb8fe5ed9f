/*
 * gw_kms: KMS handlers, key wrapping and the ciphertext blob format of the
 * gateway (see gw_kms.h).  Keys live in kms_keys (wrapped material) and
 * kms_aliases; AES-256-GCM comes from OpenSSL's EVP interface.
 */
#include "gw_kms.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_uuid.h"
#include "gw_res.h"

#define KMS_SRC "kms.amazonaws.com"
#define OPS (GW_SSM_OPERATOR | GW_SSM_INSTANCE)
#define WRAP_AAD "deckhand-kms-key:"
#define MAX_KEY_ID 2048
#define ID_LEN 36

static int op_create_key(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_describe_key(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_list_keys(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_create_alias(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_list_aliases(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_generate(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_generate_np(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_encrypt(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);
static int op_decrypt(const struct gw_ssm_ctx *, const cJSON *,
    struct gw_ssm_result *);

const struct gw_ssm_op gw_kms_ops[] = {
	{ "TrentService.CreateKey", "CreateKey", "kms", KMS_SRC,
	    "kms:CreateKey", GW_SSM_OPERATOR, op_create_key },
	{ "TrentService.DescribeKey", "DescribeKey", "kms", KMS_SRC,
	    "kms:DescribeKey", OPS, op_describe_key },
	{ "TrentService.ListKeys", "ListKeys", "kms", KMS_SRC, "kms:ListKeys",
	    GW_SSM_OPERATOR, op_list_keys },
	{ "TrentService.CreateAlias", "CreateAlias", "kms", KMS_SRC,
	    "kms:CreateAlias", GW_SSM_OPERATOR, op_create_alias },
	{ "TrentService.ListAliases", "ListAliases", "kms", KMS_SRC,
	    "kms:ListAliases", GW_SSM_OPERATOR, op_list_aliases },
	{ "TrentService.GenerateDataKey", "GenerateDataKey", "kms", KMS_SRC,
	    "kms:GenerateDataKey", OPS, op_generate },
	{ "TrentService.GenerateDataKeyWithoutPlaintext",
	    "GenerateDataKeyWithoutPlaintext", "kms", KMS_SRC,
	    "kms:GenerateDataKeyWithoutPlaintext", OPS, op_generate_np },
	{ "TrentService.Encrypt", "Encrypt", "kms", KMS_SRC, "kms:Encrypt", OPS,
	    op_encrypt },
	{ "TrentService.Decrypt", "Decrypt", "kms", KMS_SRC, "kms:Decrypt", OPS,
	    op_decrypt },
};

const size_t gw_kms_n_ops = sizeof(gw_kms_ops) / sizeof(gw_kms_ops[0]);

/* ---------------------------------------------------------------- crypto */

/* AES-256-GCM: seal (enc = 1) pt into ct + tag, or open (enc = 0). */
static int
gcm(int enc, const unsigned char key[GW_KMS_KEY_LEN],
    const unsigned char nonce[GW_KMS_NONCE_LEN], const void *aad,
    size_t aad_len, const unsigned char *in, size_t n, unsigned char *out,
    unsigned char tag[GW_KMS_TAG_LEN])
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int len = 0, ok;

	if (x == NULL)
		return DH_E_NOMEM;
	ok = EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) ==
	    1 && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN,
	    GW_KMS_NONCE_LEN, NULL) == 1 && EVP_CipherInit_ex(x, NULL, NULL,
	    key, nonce, enc) == 1;
	if (ok && aad_len > 0)
		ok = EVP_CipherUpdate(x, NULL, &len, aad, (int)aad_len) == 1;
	if (ok && n > 0)
		ok = EVP_CipherUpdate(x, out, &len, in, (int)n) == 1;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG,
		    GW_KMS_TAG_LEN, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(x, out + len, &len) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG,
		    GW_KMS_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(x);
	if (!ok) {
		if (n > 0)
			dh_wipe(out, n);
		return enc ? DH_E_CRYPTO : DH_E_INTEGRITY;
	}
	return DH_OK;
}

static int
cmp_items(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a;
	const cJSON *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

int
gw_kms_context_aad(const cJSON *ctx, struct dh_buf *out, struct dh_err *err)
{
	const cJSON *items[GW_KMS_MAX_CONTEXT], *it;
	size_t n = 0, i;
	int r = DH_OK;

	if (ctx == NULL || cJSON_IsNull(ctx))
		return DH_OK;
	if (!cJSON_IsObject(ctx))
		return dh_err_set(err, DH_E_FORMAT, "EncryptionContext must be a"
		    " map of strings");
	cJSON_ArrayForEach(it, ctx) {
		if (!cJSON_IsString(it) || it->string == NULL)
			return dh_err_set(err, DH_E_FORMAT, "EncryptionContext"
			    " values must be strings");
		if (n == GW_KMS_MAX_CONTEXT)
			return dh_err_set(err, DH_E_TOOBIG, "EncryptionContext"
			    " has more than %d pairs", GW_KMS_MAX_CONTEXT);
		items[n++] = it;
	}
	qsort(items, n, sizeof(items[0]), cmp_items);
	for (i = 0; i < n && r == DH_OK; i++) {
		if (i > 0 && strcmp(items[i]->string, items[i - 1]->string) == 0)
			return dh_err_set(err, DH_E_FORMAT, "EncryptionContext"
			    " repeats key %s", items[i]->string);
		r = dh_buf_put_u32(out, (uint32_t)strlen(items[i]->string));
		if (r == DH_OK)
			r = dh_buf_put_str(out, items[i]->string);
		if (r == DH_OK)
			r = dh_buf_put_u32(out,
			    (uint32_t)strlen(items[i]->valuestring));
		if (r == DH_OK)
			r = dh_buf_put_str(out, items[i]->valuestring);
	}
	return r == DH_OK ? DH_OK : dh_err_set(err, r, "encryption context too"
	    " large");
}

/* Header ("DHK1" | id_len | id) followed by the context, for the AAD. */
static int
blob_aad(const char *key_id, const cJSON *ctx, struct dh_buf *aad,
    struct dh_err *err)
{
	size_t idl = strlen(key_id);
	int r;

	if (idl == 0 || idl > 255)
		return dh_err_set(err, DH_E_ARG, "key id length");
	r = dh_buf_put(aad, GW_KMS_MAGIC, 4);
	if (r == DH_OK)
		r = dh_buf_put_u8(aad, (uint8_t)idl);
	if (r == DH_OK)
		r = dh_buf_put(aad, key_id, idl);
	if (r != DH_OK)
		return dh_err_set(err, r, "blob header");
	return gw_kms_context_aad(ctx, aad, err);
}

int
gw_kms_seal(const unsigned char key[GW_KMS_KEY_LEN], const char *key_id,
    const cJSON *ctx, const void *pt, size_t n, struct dh_buf *out,
    struct dh_err *err)
{
	unsigned char nonce[GW_KMS_NONCE_LEN], tag[GW_KMS_TAG_LEN], *ct = NULL;
	struct dh_buf aad;
	size_t hdr;
	int r;

	dh_buf_init(&aad, 64 * 1024);
	if (n > GW_KMS_MAX_PLAINTEXT) {
		r = dh_err_set(err, DH_E_TOOBIG, "plaintext too large");
		goto done;
	}
	r = blob_aad(key_id, ctx, &aad, err);
	if (r != DH_OK)
		goto done;
	hdr = 5 + strlen(key_id);
	ct = malloc(n + 1);
	if (ct == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto done;
	}
	if (dh_random(nonce, sizeof(nonce)) != DH_OK) {
		r = dh_err_set(err, DH_E_CRYPTO, "no randomness");
		goto done;
	}
	r = gcm(1, key, nonce, aad.d, aad.len, pt, n, ct, tag);
	if (r != DH_OK) {
		r = dh_err_set(err, r, "AES-GCM seal failed");
		goto done;
	}
	r = dh_buf_put(out, aad.d, hdr);
	if (r == DH_OK)
		r = dh_buf_put(out, nonce, sizeof(nonce));
	if (r == DH_OK)
		r = dh_buf_put(out, ct, n);
	if (r == DH_OK)
		r = dh_buf_put(out, tag, sizeof(tag));
	if (r != DH_OK)
		r = dh_err_set(err, r, "ciphertext blob too large");
done:
	free(ct);
	dh_buf_free(&aad);
	return r;
}

int
gw_kms_blob_key_id(const void *blob, size_t n, char *out, size_t outn)
{
	const unsigned char *b = blob;
	size_t idl, i;

	if (n < 5 || memcmp(b, GW_KMS_MAGIC, 4) != 0)
		return DH_E_FORMAT;
	idl = b[4];
	if (idl == 0 || n < 5 + idl + GW_KMS_NONCE_LEN + GW_KMS_TAG_LEN ||
	    idl >= outn)
		return DH_E_FORMAT;
	for (i = 0; i < idl; i++)
		if (b[5 + i] < 0x21 || b[5 + i] > 0x7e)
			return DH_E_FORMAT;
	memcpy(out, b + 5, idl);
	out[idl] = '\0';
	return DH_OK;
}

int
gw_kms_open(const unsigned char key[GW_KMS_KEY_LEN], const cJSON *ctx,
    const void *blob, size_t n, struct dh_buf *pt, struct dh_err *err)
{
	const unsigned char *b = blob;
	unsigned char tag[GW_KMS_TAG_LEN], *out = NULL;
	char id[256];
	struct dh_buf aad;
	size_t off, ctl;
	int r;

	dh_buf_init(&aad, 64 * 1024);
	if (gw_kms_blob_key_id(blob, n, id, sizeof(id)) != DH_OK) {
		r = dh_err_set(err, DH_E_FORMAT, "not a ciphertext blob");
		goto done;
	}
	r = blob_aad(id, ctx, &aad, err);
	if (r != DH_OK)
		goto done;
	off = 5 + strlen(id);
	ctl = n - off - GW_KMS_NONCE_LEN - GW_KMS_TAG_LEN;
	memcpy(tag, b + n - GW_KMS_TAG_LEN, GW_KMS_TAG_LEN);
	out = malloc(ctl + 1);
	if (out == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto done;
	}
	r = gcm(0, key, b + off, aad.d, aad.len, b + off + GW_KMS_NONCE_LEN,
	    ctl, out, tag);
	if (r != DH_OK) {
		r = dh_err_set(err, DH_E_INTEGRITY, "ciphertext or encryption"
		    " context does not match");
		goto done;
	}
	r = dh_buf_put(pt, out, ctl);
	if (r != DH_OK)
		r = dh_err_set(err, r, "plaintext too large");
done:
	if (out != NULL) {
		dh_wipe(out, ctl);
		free(out);
	}
	dh_buf_free(&aad);
	return r;
}

static int
read_full(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;
	ssize_t k;

	while (got < n) {
		k = read(fd, p + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

int
gw_kms_master_key(const char *state_dir, unsigned char key[GW_KMS_KEY_LEN],
    struct dh_err *err)
{
	char path[4096], tmp[4200];
	unsigned char extra;
	struct stat sb;
	int fd, r = DH_OK;

	if (state_dir == NULL)
		return dh_err_set(err, DH_E_CONFIG, "no state directory for the"
		    " KMS master key");
	if (snprintf(path, sizeof(path), "%s/%s", state_dir,
	    GW_KMS_MASTER_FILE) >= (int)sizeof(path))
		return dh_err_set(err, DH_E_TOOBIG, "state path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		/* First use: write a temporary file, then link it in place so
		 * that a concurrent creator cannot be overwritten. */
		if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
		    (long)getpid()) >= (int)sizeof(tmp))
			return dh_err_set(err, DH_E_TOOBIG, "path too long");
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return dh_err_set(err, DH_E_IO, "create %s: %s", tmp,
			    strerror(errno));
		if (dh_random(key, GW_KMS_KEY_LEN) != DH_OK ||
		    write(fd, key, GW_KMS_KEY_LEN) != GW_KMS_KEY_LEN ||
		    fsync(fd) != 0)
			r = dh_err_set(err, DH_E_IO, "write %s failed", tmp);
		close(fd);
		if (r == DH_OK && link(tmp, path) != 0 && errno != EEXIST)
			r = dh_err_set(err, DH_E_IO, "link %s: %s", path,
			    strerror(errno));
		unlink(tmp);
		dh_wipe(key, GW_KMS_KEY_LEN);
		if (r != DH_OK)
			return r;
		fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			(void)fsync(fd);
			close(fd);
		}
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return dh_err_set(err, DH_E_IO, "open %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (sb.st_mode & 077) != 0) {
		close(fd);
		return dh_err_set(err, DH_E_CONFIG, "%s must be a regular file"
		    " of mode 0600", path);
	}
	if (read_full(fd, key, GW_KMS_KEY_LEN) != 0 || read(fd, &extra, 1) !=
	    0) {
		close(fd);
		dh_wipe(key, GW_KMS_KEY_LEN);
		return dh_err_set(err, DH_E_FORMAT, "%s must hold exactly %d"
		    " bytes", path, GW_KMS_KEY_LEN);
	}
	close(fd);
	return DH_OK;
}

/* -------------------------------------------------------------- helpers */

/* KMS spells its 500 KMSInternalException (not gw_res_internal); returns r. */
static int
internal(struct gw_ssm_result *res, int r, const char *msg)
{
	gw_res_fail(res, 500, "KMSInternalException", "%s", msg);
	return r;
}

static int
db_prep(const struct gw_ssm_ctx *c, sqlite3_stmt **s, const char *sql)
{
	return sqlite3_prepare_v2(gw_store_db(c->st), sql, -1, s, NULL) ==
	    SQLITE_OK ? DH_OK : DH_E_IO;
}

static void
key_arn(const struct gw_ssm_ctx *c, const char *id, char *out, size_t n)
{
	snprintf(out, n, "arn:aws:kms:%s:%s:key/%s", c->region, c->account, id);
}

/* Key id (UUID) of a KeyId argument: id, key ARN, alias name or alias ARN. */
static int
resolve(const struct gw_ssm_ctx *c, const char *arg, char id[ID_LEN + 1])
{
	char prefix[128], alias[300];
	const char *name = arg;
	sqlite3_stmt *s;
	int rc;

	if (arg == NULL || strlen(arg) > MAX_KEY_ID)
		return DH_E_NOTFOUND;
	snprintf(prefix, sizeof(prefix), "arn:aws:kms:%s:%s:", c->region,
	    c->account);
	if (strncmp(arg, prefix, strlen(prefix)) == 0)
		name = arg + strlen(prefix);
	else if (strncmp(arg, "arn:", 4) == 0)
		return DH_E_NOTFOUND;
	if (strncmp(name, "key/", 4) == 0)
		name += 4;
	if (strncmp(name, "alias/", 6) == 0) {
		snprintf(alias, sizeof(alias), "%s", name);
		if (db_prep(c, &s, "SELECT key_id FROM kms_aliases WHERE name ="
		    " ?") != DH_OK)
			return DH_E_IO;
		sqlite3_bind_text(s, 1, alias, -1, SQLITE_STATIC);
	} else {
		if (db_prep(c, &s, "SELECT id FROM kms_keys WHERE id = ?") !=
		    DH_OK)
			return DH_E_IO;
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(id, ID_LEN + 1, "%s", (const char *)
		    sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return DH_OK;
	return rc == SQLITE_DONE ? DH_E_NOTFOUND : DH_E_IO;
}

int
gw_kms_key_arn(const struct gw_ssm_ctx *c, const char *key_id, char *out,
    size_t n)
{
	char id[ID_LEN + 1];
	int r = resolve(c, key_id, id);

	if (r == DH_OK)
		key_arn(c, id, out, n);
	return r;
}

/* Unwrap the material of key id into key (caller wipes). */
static int
load_key(const struct gw_ssm_ctx *c, const char *id,
    unsigned char key[GW_KMS_KEY_LEN], int *enabled, struct dh_err *err)
{
	unsigned char master[GW_KMS_KEY_LEN], tag[GW_KMS_TAG_LEN];
	char aad[64];
	const unsigned char *w;
	sqlite3_stmt *s;
	int r, rc;

	r = gw_kms_master_key(c->state_dir, master, err);
	if (r != DH_OK)
		return r;
	if (db_prep(c, &s, "SELECT wrapped, state FROM kms_keys WHERE id = ?")
	    != DH_OK) {
		dh_wipe(master, sizeof(master));
		return dh_err_set(err, DH_E_IO, "store failure");
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? dh_err_set(err, DH_E_NOTFOUND, "no such"
		    " key") : dh_err_set(err, DH_E_IO, "store failure");
		goto done;
	}
	w = sqlite3_column_blob(s, 0);
	if (w == NULL || sqlite3_column_bytes(s, 0) != GW_KMS_NONCE_LEN +
	    GW_KMS_KEY_LEN + GW_KMS_TAG_LEN) {
		r = dh_err_set(err, DH_E_FORMAT, "wrapped key has a bad size");
		goto done;
	}
	*enabled = strcmp((const char *)sqlite3_column_text(s, 1), "Enabled")
	    == 0;
	snprintf(aad, sizeof(aad), "%s%s", WRAP_AAD, id);
	memcpy(tag, w + GW_KMS_NONCE_LEN + GW_KMS_KEY_LEN, GW_KMS_TAG_LEN);
	r = gcm(0, master, w, aad, strlen(aad), w + GW_KMS_NONCE_LEN,
	    GW_KMS_KEY_LEN, key, tag);
	if (r != DH_OK)
		r = dh_err_set(err, DH_E_INTEGRITY, "key material does not"
		    " unwrap under the master key");
done:
	sqlite3_finalize(s);
	dh_wipe(master, sizeof(master));
	return r;
}

/* KeyMetadata of key id into a new object under out. */
static int
add_metadata(const struct gw_ssm_ctx *c, const char *id, cJSON *out)
{
	cJSON *m = cJSON_AddObjectToObject(out, "KeyMetadata"), *a;
	char arn[256];
	sqlite3_stmt *s;
	int rc, r = DH_E_NOMEM, enabled;

	if (m == NULL)
		return DH_E_NOMEM;
	if (db_prep(c, &s, "SELECT description, created_ms, state FROM"
	    " kms_keys WHERE id = ?") != DH_OK)
		return DH_E_IO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(s);
		return rc == SQLITE_DONE ? DH_E_NOTFOUND : DH_E_IO;
	}
	key_arn(c, id, arn, sizeof(arn));
	enabled = strcmp((const char *)sqlite3_column_text(s, 2), "Enabled") ==
	    0;
	if (cJSON_AddStringToObject(m, "AWSAccountId", c->account) == NULL ||
	    cJSON_AddStringToObject(m, "KeyId", id) == NULL ||
	    cJSON_AddStringToObject(m, "Arn", arn) == NULL ||
	    gw_res_add_time(m, "CreationDate", sqlite3_column_int64(s,
	    1)) != 0 ||
	    cJSON_AddBoolToObject(m, "Enabled", enabled) == NULL ||
	    cJSON_AddStringToObject(m, "Description", (const char *)
	    sqlite3_column_text(s, 0)) == NULL ||
	    cJSON_AddStringToObject(m, "KeyUsage", "ENCRYPT_DECRYPT") == NULL ||
	    cJSON_AddStringToObject(m, "KeyState", (const char *)
	    sqlite3_column_text(s, 2)) == NULL ||
	    cJSON_AddStringToObject(m, "Origin", "AWS_KMS") == NULL ||
	    cJSON_AddStringToObject(m, "KeyManager", "CUSTOMER") == NULL ||
	    cJSON_AddStringToObject(m, "CustomerMasterKeySpec",
	    "SYMMETRIC_DEFAULT") == NULL ||
	    cJSON_AddStringToObject(m, "KeySpec", "SYMMETRIC_DEFAULT") == NULL)
		goto done;
	a = cJSON_AddArrayToObject(m, "EncryptionAlgorithms");
	if (a == NULL || !cJSON_AddItemToArray(a,
	    cJSON_CreateString("SYMMETRIC_DEFAULT")) ||
	    cJSON_AddBoolToObject(m, "MultiRegion", 0) == NULL)
		goto done;
	r = DH_OK;
done:
	sqlite3_finalize(s);
	return r;
}

static const char *
str_arg(const cJSON *in, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, k));
}

static int
not_found(const struct gw_ssm_ctx *c, const char *arg,
    struct gw_ssm_result *res)
{
	char arn[MAX_KEY_ID + 128];

	if (arg == NULL)
		return gw_res_fail(res, 400, "ValidationException",
		    "1 validation"
		    " error detected: Value null at 'keyId' failed to satisfy"
		    " constraint: Member must not be null");
	if (strncmp(arg, "arn:", 4) == 0 || strncmp(arg, "alias/", 6) == 0)
		snprintf(arn, sizeof(arn), "%s", arg);
	else
		key_arn(c, arg, arn, sizeof(arn));
	return gw_res_fail(res, 400, "NotFoundException",
	    "%s '%s' does not exist",
	    strstr(arn, "alias/") != NULL ? "Alias" : "Key", arn);
}

/* ------------------------------------------------------------ operations */

static int
op_create_key(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	unsigned char master[GW_KMS_KEY_LEN], key[GW_KMS_KEY_LEN];
	unsigned char w[GW_KMS_NONCE_LEN + GW_KMS_KEY_LEN + GW_KMS_TAG_LEN];
	const char *desc = str_arg(in, "Description");
	const char *usage = str_arg(in, "KeyUsage");
	const char *spec = str_arg(in, "KeySpec");
	const char *cspec = str_arg(in, "CustomerMasterKeySpec");
	const char *origin = str_arg(in, "Origin");
	char id[ID_LEN + 1], aad[64];
	struct dh_uuid u;
	sqlite3_stmt *s = NULL;
	struct dh_err e;
	cJSON *out;
	int r;

	if (desc != NULL && strlen(desc) > 8192)
		return gw_res_fail(res, 400, "ValidationException",
		    "Description is"
		    " longer than 8192 characters");
	if (usage != NULL && strcmp(usage, "ENCRYPT_DECRYPT") != 0)
		return gw_res_fail(res, 400, "UnsupportedOperationException",
		    "this"
		    " KMS serves ENCRYPT_DECRYPT keys only");
	if ((spec != NULL && strcmp(spec, "SYMMETRIC_DEFAULT") != 0) ||
	    (cspec != NULL && strcmp(cspec, "SYMMETRIC_DEFAULT") != 0))
		return gw_res_fail(res, 400, "UnsupportedOperationException",
		    "this"
		    " KMS serves SYMMETRIC_DEFAULT keys only");
	if (origin != NULL && strcmp(origin, "AWS_KMS") != 0)
		return gw_res_fail(res, 400, "UnsupportedOperationException",
		    "this"
		    " KMS creates its own key material (Origin AWS_KMS)");
	dh_err_clear(&e);
	r = gw_kms_master_key(c->state_dir, master, &e);
	if (r != DH_OK)
		return internal(res, r, e.msg);
	if (dh_uuid_v4(&u) != DH_OK || dh_random(key, sizeof(key)) != DH_OK ||
	    dh_random(w, GW_KMS_NONCE_LEN) != DH_OK) {
		r = internal(res, DH_E_CRYPTO, "no randomness");
		goto done;
	}
	dh_uuid_fmt(&u, id);
	snprintf(aad, sizeof(aad), "%s%s", WRAP_AAD, id);
	r = gcm(1, master, w, aad, strlen(aad), key, GW_KMS_KEY_LEN,
	    w + GW_KMS_NONCE_LEN, w + GW_KMS_NONCE_LEN + GW_KMS_KEY_LEN);
	if (r != DH_OK) {
		r = internal(res, r, "key wrapping failed");
		goto done;
	}
	if (db_prep(c, &s, "INSERT INTO kms_keys (id, description, created_ms,"
	    " state, wrapped) VALUES (?, ?, ?, 'Enabled', ?)") != DH_OK ||
	    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, desc != NULL ? desc : "", -1,
	    SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, c->now_ms) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 4, w, sizeof(w), SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_DONE) {
		r = internal(res, DH_E_IO, "store failure");
		goto done;
	}
	out = cJSON_CreateObject();
	if (out == NULL) {
		r = internal(res, DH_E_NOMEM, "out of memory");
		goto done;
	}
	res->body = out;
	r = add_metadata(c, id, out);
	if (r != DH_OK)
		r = internal(res, r, "cannot describe the new key");
done:
	sqlite3_finalize(s);
	dh_wipe(master, sizeof(master));
	dh_wipe(key, sizeof(key));
	return r;
}

static int
op_describe_key(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *arg = str_arg(in, "KeyId");
	char id[ID_LEN + 1];
	cJSON *out;
	int r;

	r = resolve(c, arg, id);
	if (r == DH_E_NOTFOUND)
		return not_found(c, arg, res);
	if (r != DH_OK)
		return internal(res, r, "store failure");
	out = cJSON_CreateObject();
	if (out == NULL)
		return internal(res, DH_E_NOMEM, "out of memory");
	res->body = out;
	r = add_metadata(c, id, out);
	return r == DH_OK ? DH_OK : internal(res, r, "cannot describe key");
}

static int
op_list_keys(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(in, "Limit");
	const char *marker = str_arg(in, "Marker");
	int64_t limit = 100, n = 0;
	cJSON *out, *arr, *o;
	char arn[256];
	sqlite3_stmt *s;
	int rc;

	if (lim != NULL) {
		if (!cJSON_IsNumber(lim) || lim->valuedouble < 1 ||
		    lim->valuedouble > 1000)
			return gw_res_fail(res, 400, "ValidationException",
			    "Limit must"
			    " be between 1 and 1000");
		limit = (int64_t)lim->valuedouble;
	}
	if (db_prep(c, &s, "SELECT id FROM kms_keys WHERE id > ? ORDER BY id")
	    != DH_OK)
		return internal(res, DH_E_IO, "store failure");
	sqlite3_bind_text(s, 1, marker != NULL ? marker : "", -1,
	    SQLITE_STATIC);
	out = cJSON_CreateObject();
	res->body = out;
	arr = cJSON_AddArrayToObject(out, "Keys");
	if (arr == NULL)
		goto oom;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);

		if (n == limit) {
			if (cJSON_AddStringToObject(out, "NextMarker", id) ==
			    NULL)
				goto oom;
			break;
		}
		key_arn(c, id, arn, sizeof(arn));
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
		    cJSON_AddStringToObject(o, "KeyId", id) == NULL ||
		    cJSON_AddStringToObject(o, "KeyArn", arn) == NULL)
			goto oom;
		n++;
	}
	sqlite3_finalize(s);
	if (cJSON_AddBoolToObject(out, "Truncated", rc == SQLITE_ROW) == NULL)
		return internal(res, DH_E_NOMEM, "out of memory");
	return DH_OK;
oom:
	sqlite3_finalize(s);
	return internal(res, DH_E_NOMEM, "out of memory");
}

static int
valid_alias(const char *a)
{
	size_t i, n = a != NULL ? strlen(a) : 0;

	if (n <= 6 || n > 256 || strncmp(a, "alias/", 6) != 0 ||
	    strncmp(a, "alias/aws/", 10) == 0)
		return 0;
	for (i = 6; i < n; i++)
		if (!((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= 'A' &&
		    a[i] <= 'Z') || (a[i] >= '0' && a[i] <= '9') ||
		    a[i] == '/' || a[i] == '_' || a[i] == '-'))
			return 0;
	return 1;
}

static int
op_create_alias(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *name = str_arg(in, "AliasName");
	const char *target = str_arg(in, "TargetKeyId");
	char id[ID_LEN + 1];
	sqlite3_stmt *s;
	int r, rc;

	if (!valid_alias(name))
		return gw_res_fail(res, 400, "ValidationException",
		    "AliasName must"
		    " look like alias/[a-zA-Z0-9/_-]+ and not start with"
		    " alias/aws/");
	if (target != NULL && strncmp(target, "alias/", 6) == 0)
		return gw_res_fail(res, 400, "ValidationException",
		    "TargetKeyId must"
		    " be a key id or key ARN");
	r = resolve(c, target, id);
	if (r == DH_E_NOTFOUND)
		return not_found(c, target, res);
	if (r != DH_OK)
		return internal(res, r, "store failure");
	if (db_prep(c, &s, "INSERT INTO kms_aliases (name, key_id, created_ms)"
	    " VALUES (?, ?, ?)") != DH_OK)
		return internal(res, DH_E_IO, "store failure");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, c->now_ms);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_CONSTRAINT)
		return gw_res_fail(res, 400, "AlreadyExistsException",
		    "An alias with"
		    " the name arn:aws:kms:%s:%s:%s already exists", c->region,
		    c->account, name);
	if (rc != SQLITE_DONE)
		return internal(res, DH_E_IO, "store failure");
	return DH_OK;
}

static int
op_list_aliases(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *want = str_arg(in, "KeyId");
	char wid[ID_LEN + 1], arn[512];
	cJSON *out, *arr, *o;
	sqlite3_stmt *s;
	int r, rc;

	wid[0] = '\0';
	if (want != NULL) {
		r = resolve(c, want, wid);
		if (r == DH_E_NOTFOUND)
			return not_found(c, want, res);
		if (r != DH_OK)
			return internal(res, r, "store failure");
	}
	if (db_prep(c, &s, "SELECT name, key_id FROM kms_aliases ORDER BY"
	    " name") != DH_OK)
		return internal(res, DH_E_IO, "store failure");
	out = cJSON_CreateObject();
	res->body = out;
	arr = cJSON_AddArrayToObject(out, "Aliases");
	if (arr == NULL)
		goto oom;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *kid = (const char *)sqlite3_column_text(s, 1);

		if (wid[0] != '\0' && strcmp(wid, kid) != 0)
			continue;
		snprintf(arn, sizeof(arn), "arn:aws:kms:%s:%s:%s", c->region,
		    c->account, name);
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
		    cJSON_AddStringToObject(o, "AliasName", name) == NULL ||
		    cJSON_AddStringToObject(o, "AliasArn", arn) == NULL ||
		    cJSON_AddStringToObject(o, "TargetKeyId", kid) == NULL)
			goto oom;
	}
	sqlite3_finalize(s);
	if (cJSON_AddBoolToObject(out, "Truncated", 0) == NULL)
		return internal(res, DH_E_NOMEM, "out of memory");
	return DH_OK;
oom:
	sqlite3_finalize(s);
	return internal(res, DH_E_NOMEM, "out of memory");
}

static int
add_b64(cJSON *o, const char *k, const void *p, size_t n)
{
	struct dh_buf b;
	int r;

	dh_buf_init_secret(&b, dh_b64_encoded_size(n) + 4);
	r = dh_b64_encode(p, n, &b);
	if (r == DH_OK && cJSON_AddStringToObject(o, k, dh_buf_cstr(&b)) ==
	    NULL)
		r = DH_E_NOMEM;
	dh_buf_free(&b);
	return r;
}

/* Seal pt under KeyId with the request's EncryptionContext into a result
 * with CiphertextBlob, KeyId (ARN) and, when show, Plaintext. */
static int
seal_result(const struct gw_ssm_ctx *c, const cJSON *in, const void *pt,
    size_t n, int show, int algo, struct gw_ssm_result *res)
{
	const char *arg = str_arg(in, "KeyId");
	unsigned char key[GW_KMS_KEY_LEN];
	char id[ID_LEN + 1], arn[256];
	struct dh_buf blob;
	struct dh_err e;
	cJSON *out;
	int r, enabled = 0;

	dh_buf_init(&blob, GW_KMS_MAX_BLOB);
	r = resolve(c, arg, id);
	if (r == DH_E_NOTFOUND)
		return not_found(c, arg, res);
	if (r != DH_OK)
		return internal(res, r, "store failure");
	dh_err_clear(&e);
	r = load_key(c, id, key, &enabled, &e);
	if (r != DH_OK)
		return internal(res, r, e.msg);
	if (!enabled) {
		r = gw_res_fail(res, 400, "DisabledException",
		    "arn:aws:kms:%s:%s:key/"
		    "%s is disabled.", c->region, c->account, id);
		goto done;
	}
	r = gw_kms_seal(key, id, cJSON_GetObjectItemCaseSensitive(in,
	    "EncryptionContext"), pt, n, &blob, &e);
	if (r == DH_E_FORMAT || r == DH_E_TOOBIG) {
		r = gw_res_fail(res, 400, "ValidationException", "%s", e.msg);
		goto done;
	}
	if (r != DH_OK) {
		r = internal(res, r, e.msg);
		goto done;
	}
	key_arn(c, id, arn, sizeof(arn));
	out = cJSON_CreateObject();
	res->body = out;
	if (out == NULL || add_b64(out, "CiphertextBlob", blob.d, blob.len) !=
	    DH_OK || (show && add_b64(out, "Plaintext", pt, n) != DH_OK) ||
	    cJSON_AddStringToObject(out, "KeyId", arn) == NULL ||
	    (algo && cJSON_AddStringToObject(out, "EncryptionAlgorithm",
	    "SYMMETRIC_DEFAULT") == NULL))
		r = internal(res, DH_E_NOMEM, "out of memory");
done:
	dh_wipe(key, sizeof(key));
	dh_buf_free(&blob);
	return r;
}

static int
generate(const struct gw_ssm_ctx *c, const cJSON *in, int show,
    struct gw_ssm_result *res)
{
	const cJSON *nb = cJSON_GetObjectItemCaseSensitive(in, "NumberOfBytes");
	const char *spec = str_arg(in, "KeySpec");
	unsigned char dk[1024];
	size_t n = 0;
	int r;

	if ((nb == NULL) == (spec == NULL))
		return gw_res_fail(res, 400, "ValidationException",
		    "Please specify"
		    " either number of bytes or key spec.");
	if (nb != NULL) {
		if (!cJSON_IsNumber(nb) || nb->valuedouble < 1 ||
		    nb->valuedouble > 1024)
			return gw_res_fail(res, 400, "ValidationException", "1"
			    " validation error detected: Value at"
			    " 'numberOfBytes' failed to satisfy constraint:"
			    " Member must have value between 1 and 1024");
		n = (size_t)nb->valuedouble;
	} else if (strcmp(spec, "AES_256") == 0) {
		n = 32;
	} else if (strcmp(spec, "AES_128") == 0) {
		n = 16;
	} else
		return gw_res_fail(res, 400, "ValidationException",
		    "1 validation"
		    " error detected: Value at 'keySpec' failed to satisfy"
		    " constraint: Member must satisfy enum value set: [AES_256,"
		    " AES_128]");
	if (dh_random(dk, n) != DH_OK)
		return internal(res, DH_E_CRYPTO, "no randomness");
	r = seal_result(c, in, dk, n, show, 0, res);
	dh_wipe(dk, sizeof(dk));
	return r;
}

static int
op_generate(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	return generate(c, in, 1, res);
}

static int
op_generate_np(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	return generate(c, in, 0, res);
}

static int
blob_arg(const cJSON *in, const char *k, size_t max, struct dh_buf *out,
    struct gw_ssm_result *res)
{
	const char *b64 = str_arg(in, k);

	if (b64 == NULL || strlen(b64) == 0) {
		gw_res_fail(res, 400, "ValidationException",
		    "1 validation error"
		    " detected: Value at '%s' failed to satisfy constraint:"
		    " Member must have length greater than or equal to 1", k);
		return -1;
	}
	if (strlen(b64) > dh_b64_encoded_size(max) ||
	    dh_b64_decode(b64, strlen(b64), out) != DH_OK || out->len == 0 ||
	    out->len > max) {
		gw_res_fail(res, 400, "ValidationException",
		    "%s must be base64 of 1 to"
		    " %zu bytes", k, max);
		return -1;
	}
	return 0;
}

static int
op_encrypt(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	struct dh_buf pt;
	int r = DH_OK;

	dh_buf_init_secret(&pt, GW_KMS_MAX_PLAINTEXT + 4);
	if (blob_arg(in, "Plaintext", GW_KMS_MAX_PLAINTEXT, &pt, res) == 0)
		r = seal_result(c, in, pt.d, pt.len, 0, 1, res);
	dh_buf_free(&pt);
	return r;
}

static int
op_decrypt(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res)
{
	const char *want = str_arg(in, "KeyId");
	const char *algo = str_arg(in, "EncryptionAlgorithm");
	unsigned char key[GW_KMS_KEY_LEN];
	char id[ID_LEN + 1], wid[ID_LEN + 1], arn[256];
	struct dh_buf blob, pt;
	struct dh_err e;
	cJSON *out;
	int r = DH_OK, enabled = 0;

	dh_buf_init(&blob, GW_KMS_MAX_BLOB + 4);
	dh_buf_init_secret(&pt, GW_KMS_MAX_PLAINTEXT + 4);
	memset(key, 0, sizeof(key));
	if (blob_arg(in, "CiphertextBlob", GW_KMS_MAX_BLOB, &blob, res) != 0)
		goto done;
	if (algo != NULL && strcmp(algo, "SYMMETRIC_DEFAULT") != 0) {
		gw_res_fail(res, 400, "InvalidKeyUsageException",
		    "%s is not valid for"
		    " a symmetric key", algo);
		goto done;
	}
	if (gw_kms_blob_key_id(blob.d, blob.len, id, sizeof(id)) != DH_OK ||
	    strlen(id) != ID_LEN) {
		gw_res_fail(res, 400, "InvalidCiphertextException",
		    "The ciphertext"
		    " refers to a customer master key that does not exist, does"
		    " not exist in this region, or you are not allowed to"
		    " access.");
		goto done;
	}
	if (want != NULL) {
		r = resolve(c, want, wid);
		if (r == DH_E_NOTFOUND) {
			r = not_found(c, want, res);
			goto done;
		}
		if (r != DH_OK) {
			r = internal(res, r, "store failure");
			goto done;
		}
		if (strcmp(wid, id) != 0) {
			gw_res_fail(res, 400, "IncorrectKeyException",
			    "The key ID in"
			    " the request does not identify a CMK that can"
			    " perform this operation.");
			goto done;
		}
	}
	dh_err_clear(&e);
	r = load_key(c, id, key, &enabled, &e);
	if (r == DH_E_NOTFOUND) {
		r = gw_res_fail(res, 400, "InvalidCiphertextException", "The"
		    " ciphertext refers to a customer master key that does not"
		    " exist.");
		goto done;
	}
	if (r != DH_OK) {
		r = internal(res, r, e.msg);
		goto done;
	}
	if (!enabled) {
		gw_res_fail(res, 400, "DisabledException",
		    "arn:aws:kms:%s:%s:key/%s"
		    " is disabled.", c->region, c->account, id);
		goto done;
	}
	r = gw_kms_open(key, cJSON_GetObjectItemCaseSensitive(in,
	    "EncryptionContext"), blob.d, blob.len, &pt, &e);
	if (r != DH_OK) {
		r = gw_res_fail(res, 400, "InvalidCiphertextException", "%s",
		    r == DH_E_INTEGRITY ? "" : e.msg);
		goto done;
	}
	key_arn(c, id, arn, sizeof(arn));
	out = cJSON_CreateObject();
	res->body = out;
	if (out == NULL || cJSON_AddStringToObject(out, "KeyId", arn) == NULL ||
	    add_b64(out, "Plaintext", pt.d, pt.len) != DH_OK ||
	    cJSON_AddStringToObject(out, "EncryptionAlgorithm",
	    "SYMMETRIC_DEFAULT") == NULL)
		r = internal(res, DH_E_NOMEM, "out of memory");
done:
	dh_wipe(key, sizeof(key));
	dh_buf_free(&pt);
	dh_buf_free(&blob);
	return r;
}
