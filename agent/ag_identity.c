/*
 * ag_identity: parse, format, load and atomically save the instance identity
 * (see ag_identity.h).
 */
#include "ag_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dh_config.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_time.h"

void
ag_identity_init(struct ag_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->similarity = AG_FP_DEFAULT_THRESHOLD;
}

void
ag_identity_clear(struct ag_identity *id)
{
	if (id->private_key != NULL) {
		dh_wipe(id->private_key, strlen(id->private_key));
		free(id->private_key);
	}
	ag_identity_init(id);
}

int
ag_identity_set_key(struct ag_identity *id, const char *b64, size_t n,
    struct dh_err *err)
{
	char *k;

	if (n == 0 || n > AG_KEY_B64_MAX)
		return dh_err_set(err, DH_E_ARG,
		    "private key text of %zu bytes out of range", n);
	k = malloc(n + 1);
	if (k == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	memcpy(k, b64, n);
	k[n] = '\0';
	if (id->private_key != NULL) {
		dh_wipe(id->private_key, strlen(id->private_key));
		free(id->private_key);
	}
	id->private_key = k;
	return DH_OK;
}

/* Copy a string member into dst[dstsz]; required unless opt. */
static int
get_field(const cJSON *j, const char *key, int opt, char *dst, size_t dstsz,
    struct dh_err *err)
{
	const char *s = NULL;
	int rc;

	rc = opt ? dh_json_opt_str(j, key, &s, err) :
	    dh_json_get_str(j, key, &s, err);
	if (rc != DH_OK)
		return rc;
	if (s == NULL) {
		dst[0] = '\0';
		return DH_OK;
	}
	if (strlen(s) >= dstsz)
		return dh_err_set(err, DH_E_TOOBIG,
		    "identity field %s longer than %zu bytes", key, dstsz - 1);
	memcpy(dst, s, strlen(s) + 1);
	return DH_OK;
}

static int
valid_b64(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '+' || *s == '/' ||
		    *s == '='))
			return 0;
	}
	return 1;
}

int
ag_identity_parse(const void *p, size_t n, struct ag_identity *id,
    struct dh_err *err)
{
	cJSON *j = NULL;
	const cJSON *hw, *it;
	const char *key = NULL, *created = NULL;
	int64_t v;
	int present, k, rc;

	rc = dh_json_parse(p, n, AG_IDENTITY_MAX, &j, err);
	if (rc != DH_OK)
		goto out;
	rc = DH_E_FORMAT;
	if (!cJSON_IsObject(j)) {
		dh_err_set(err, rc, "identity is not a JSON object");
		goto out;
	}
	rc = dh_json_get_int(j, "SchemaVersion", 1, 1, &v, err);
	if (rc != DH_OK)
		goto out;
	rc = get_field(j, "InstanceId", 0, id->instance_id,
	    sizeof(id->instance_id), err);
	if (rc == DH_OK)
		rc = get_field(j, "Region", 0, id->region, sizeof(id->region),
		    err);
	if (rc == DH_OK)
		rc = get_field(j, "Endpoint", 1, id->endpoint,
		    sizeof(id->endpoint), err);
	if (rc == DH_OK)
		rc = get_field(j, "CaBundle", 1, id->ca_bundle,
		    sizeof(id->ca_bundle), err);
	if (rc == DH_OK)
		rc = get_field(j, "Fingerprint", 0, id->fingerprint,
		    sizeof(id->fingerprint), err);
	if (rc == DH_OK)
		rc = dh_json_get_str(j, "PrivateKey", &key, err);
	if (rc == DH_OK)
		rc = dh_json_opt_str(j, "PrivateKeyCreatedDate", &created,
		    err);
	if (rc == DH_OK)
		rc = dh_json_opt_int(j, "SimilarityThreshold", -1, 100, &v,
		    &present, err);
	if (rc != DH_OK)
		goto out;
	id->similarity = present ? (int)v : AG_FP_DEFAULT_THRESHOLD;
	rc = DH_E_FORMAT;
	if (strncmp(id->instance_id, "mi-", 3) != 0 ||
	    id->instance_id[3] == '\0') {
		dh_err_set(err, rc, "identity InstanceId is not an mi- id");
		goto out;
	}
	if (id->region[0] == '\0') {
		dh_err_set(err, rc, "identity Region is empty");
		goto out;
	}
	if (!valid_b64(key)) {
		dh_err_set(err, rc, "identity PrivateKey is not base64");
		goto out;
	}
	if (created != NULL && dh_time_parse_iso(created,
	    &id->key_created) != DH_OK) {
		dh_err_set(err, rc,
		    "identity PrivateKeyCreatedDate is not ISO 8601");
		goto out;
	}
	rc = ag_identity_set_key(id, key, strlen(key), err);
	if (rc != DH_OK)
		goto out;
	hw = cJSON_GetObjectItemCaseSensitive(j, "HardwareHash");
	if (hw != NULL && !cJSON_IsObject(hw)) {
		rc = dh_err_set(err, DH_E_FORMAT,
		    "identity HardwareHash is not an object");
		goto out;
	}
	cJSON_ArrayForEach(it, hw) {
		k = it->string != NULL ? ag_fp_key_index(it->string) : -1;
		if (k < 0)
			continue;
		if (!cJSON_IsString(it) ||
		    strlen(it->valuestring) >= AG_HW_VALMAX) {
			rc = dh_err_set(err, DH_E_FORMAT,
			    "identity HardwareHash value %s is not a short"
			    " string", ag_fp_key_name(k));
			goto out;
		}
		(void)ag_fp_set(&id->hw, k, it->valuestring);
	}
	rc = DH_OK;
out:
	if (rc != DH_OK)
		ag_identity_clear(id);
	cJSON_Delete(j);
	return rc;
}

int
ag_identity_format(const struct ag_identity *id, struct dh_buf *out,
    struct dh_err *err)
{
	cJSON *j = NULL, *hw;
	char created[21];
	int k, rc = DH_E_NOMEM;

	if (id->private_key == NULL)
		return dh_err_set(err, DH_E_ARG, "identity has no private key");
	j = cJSON_CreateObject();
	if (j == NULL)
		goto out;
	if (cJSON_AddNumberToObject(j, "SchemaVersion", 1) == NULL ||
	    cJSON_AddStringToObject(j, "InstanceId", id->instance_id) ==
	    NULL ||
	    cJSON_AddStringToObject(j, "Region", id->region) == NULL ||
	    cJSON_AddStringToObject(j, "Endpoint", id->endpoint) == NULL ||
	    cJSON_AddStringToObject(j, "CaBundle", id->ca_bundle) == NULL ||
	    cJSON_AddStringToObject(j, "PrivateKeyType", "Rsa") == NULL ||
	    cJSON_AddStringToObject(j, "PrivateKey", id->private_key) ==
	    NULL ||
	    cJSON_AddStringToObject(j, "Fingerprint", id->fingerprint) ==
	    NULL ||
	    cJSON_AddNumberToObject(j, "SimilarityThreshold",
	    id->similarity) == NULL)
		goto out;
	if (id->key_created > 0) {
		dh_time_iso(id->key_created, created);
		if (cJSON_AddStringToObject(j, "PrivateKeyCreatedDate",
		    created) == NULL)
			goto out;
	}
	hw = cJSON_AddObjectToObject(j, "HardwareHash");
	if (hw == NULL)
		goto out;
	for (k = 0; k < AG_HW_NKEYS; k++)
		if (cJSON_AddStringToObject(hw, ag_fp_key_name(k),
		    id->hw.v[k]) == NULL)
			goto out;
	rc = dh_json_print(j, out);
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, "\n");
out:
	if (rc != DH_OK)
		dh_err_set(err, rc, "cannot format identity: %s",
		    dh_strerror(rc));
	if (j != NULL) {
		/* The printed tree held the key; wipe its copy before free. */
		cJSON *pk = cJSON_GetObjectItemCaseSensitive(j, "PrivateKey");

		if (pk != NULL && cJSON_IsString(pk))
			dh_wipe(pk->valuestring, strlen(pk->valuestring));
		cJSON_Delete(j);
	}
	return rc;
}

static void
identity_path(const char *dir, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", dir, AG_IDENTITY_FILE);
}

int
ag_identity_exists(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	identity_path(dir, path, sizeof(path));
	return stat(path, &st) == 0;
}

int
ag_identity_load(const char *dir, struct ag_identity *id,
    struct dh_err *err)
{
	char path[PATH_MAX];
	struct dh_buf b;
	struct stat st;
	ssize_t r;
	int fd = -1, rc;

	dh_buf_init_secret(&b, AG_IDENTITY_MAX);
	identity_path(dir, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = dh_err_set(err, errno == ENOENT ? DH_E_NOTFOUND : DH_E_IO,
		    "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = dh_err_set(err, DH_E_IO, "%s is not a regular file",
		    path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = dh_err_set(err, DH_E_IO,
		    "%s is accessible by group or others (mode %o); refusing"
		    " to use the private key", path,
		    (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if (st.st_size > AG_IDENTITY_MAX) {
		rc = dh_err_set(err, DH_E_TOOBIG, "%s is larger than %d bytes",
		    path, AG_IDENTITY_MAX);
		goto out;
	}
	rc = dh_buf_reserve(&b, (size_t)st.st_size + 1);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "cannot read %s", path);
		goto out;
	}
	for (;;) {
		unsigned char chunk[4096];

		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = dh_err_set(err, DH_E_IO, "cannot read %s: %s",
			    path, strerror(errno));
			dh_wipe(chunk, sizeof(chunk));
			goto out;
		}
		if (r == 0)
			break;
		rc = dh_buf_put(&b, chunk, (size_t)r);
		dh_wipe(chunk, sizeof(chunk));
		if (rc != DH_OK) {
			dh_err_set(err, rc, "%s is too large", path);
			goto out;
		}
	}
	rc = ag_identity_parse(b.d, b.len, id, err);
	if (rc != DH_OK)
		dh_err_wrap(err, rc, "%s", path);
out:
	if (fd >= 0)
		close(fd);
	dh_buf_free(&b);
	return rc;
}

int
ag_identity_save(const char *dir, const struct ag_identity *id,
    struct dh_err *err)
{
	char path[PATH_MAX];
	struct dh_buf b;
	struct stat st;
	int rc;

	dh_buf_init_secret(&b, AG_IDENTITY_MAX);
	if (stat(dir, &st) != 0) {
		if (mkdir(dir, 0700) != 0) {
			rc = dh_err_set(err, DH_E_IO, "cannot create %s: %s",
			    dir, strerror(errno));
			goto out;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		rc = dh_err_set(err, DH_E_IO, "%s is not a directory", dir);
		goto out;
	}
	rc = ag_identity_format(id, &b, err);
	if (rc != DH_OK)
		goto out;
	identity_path(dir, path, sizeof(path));
	rc = dh_config_write_atomic(path, b.d, b.len, 0600, err);
out:
	dh_buf_free(&b);
	return rc;
}
