/*
 * dh_json: bounded cJSON parsing and checked getters (see dh_json.h).
 * cJSON is handed a NUL-terminated private copy of the input, so that no
 * cJSON bug can read past the caller's bytes, and is called under a mutex
 * because cJSON_ParseWithLengthOpts writes a process-wide error record.
 */
#include "dh_json.h"
#include "dh_hash.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t parse_mu = PTHREAD_MUTEX_INITIALIZER;

/* Reject nesting beyond DH_JSON_MAX_DEPTH before cJSON recurses into it
 * (cJSON's own limit is 1000, deep enough to be a stack hazard). */
static int
depth_ok(const unsigned char *p, size_t n)
{
	size_t i;
	int depth = 0, in_str = 0;

	for (i = 0; i < n; i++) {
		if (in_str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_str = 0;
			continue;
		}
		if (p[i] == '"')
			in_str = 1;
		else if (p[i] == '{' || p[i] == '[') {
			if (++depth > DH_JSON_MAX_DEPTH)
				return 0;
		} else if ((p[i] == '}' || p[i] == ']') && depth > 0)
			depth--;
	}
	return 1;
}

int
dh_json_parse(const void *p, size_t n, size_t max, cJSON **out,
    struct dh_err *err)
{
	const char *end = NULL;
	char *copy = NULL;
	cJSON *j = NULL;
	size_t at;
	int r = DH_OK;

	*out = NULL;
	if (n > max)
		return dh_err_set(err, DH_E_TOOBIG,
		    "JSON document of %zu bytes exceeds limit of %zu", n, max);
	if (n == 0)
		return dh_err_set(err, DH_E_FORMAT, "empty JSON document");
	if (memchr(p, '\0', n) != NULL)
		return dh_err_set(err, DH_E_FORMAT, "JSON contains a NUL byte");
	if (!depth_ok(p, n))
		return dh_err_set(err, DH_E_FORMAT,
		    "JSON nested deeper than %d levels", DH_JSON_MAX_DEPTH);
	copy = malloc(n + 1);
	if (copy == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	memcpy(copy, p, n);
	copy[n] = '\0';
	pthread_mutex_lock(&parse_mu);
	j = cJSON_ParseWithLengthOpts(copy, n, &end, 0);
	pthread_mutex_unlock(&parse_mu);
	if (j == NULL) {
		at = end != NULL && end >= copy && end <= copy + n ?
		    (size_t)(end - copy) : 0;
		r = dh_err_set(err, DH_E_FORMAT,
		    "malformed JSON near byte %zu", at);
		goto out;
	}
	while (end != NULL && end < copy + n &&
	    (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
		end++;
	if (end == NULL || end != copy + n) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "trailing data after JSON document");
		goto out;
	}
	*out = j;
	j = NULL;
out:
	cJSON_Delete(j);
	dh_wipe(copy, n);
	free(copy);
	return r;
}

static const cJSON *
member(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

int
dh_json_get_str(const cJSON *obj, const char *key, const char **out,
    struct dh_err *err)
{
	int r;

	r = dh_json_opt_str(obj, key, out, err);
	if (r == DH_OK && *out == NULL)
		return dh_err_set(err, DH_E_FORMAT, "missing string \"%s\"", key);
	return r;
}

int
dh_json_opt_str(const cJSON *obj, const char *key, const char **out,
    struct dh_err *err)
{
	const cJSON *m = member(obj, key);

	*out = NULL;
	if (m == NULL || cJSON_IsNull(m))
		return DH_OK;
	if (!cJSON_IsString(m) || m->valuestring == NULL)
		return dh_err_set(err, DH_E_FORMAT, "\"%s\" must be a string",
		    key);
	*out = m->valuestring;
	return DH_OK;
}

int
dh_json_opt_int(const cJSON *obj, const char *key, int64_t min, int64_t max,
    int64_t *out, int *present, struct dh_err *err)
{
	const cJSON *m = member(obj, key);
	double v;

	*present = 0;
	if (m == NULL || cJSON_IsNull(m))
		return DH_OK;
	if (!cJSON_IsNumber(m))
		return dh_err_set(err, DH_E_FORMAT, "\"%s\" must be a number",
		    key);
	v = m->valuedouble;
	/* 0x1p63 is the first double past INT64_MAX: the cast would overflow */
	if (!isfinite(v) || floor(v) != v || v < (double)min ||
	    v > (double)max || v >= 0x1p63)
		return dh_err_set(err, DH_E_FORMAT,
		    "\"%s\" must be an integer in [%lld, %lld]", key,
		    (long long)min, (long long)max);
	*out = (int64_t)v;
	*present = 1;
	return DH_OK;
}

int
dh_json_get_int(const cJSON *obj, const char *key, int64_t min, int64_t max,
    int64_t *out, struct dh_err *err)
{
	int present, r;

	r = dh_json_opt_int(obj, key, min, max, out, &present, err);
	if (r == DH_OK && !present)
		return dh_err_set(err, DH_E_FORMAT, "missing number \"%s\"", key);
	return r;
}

int
dh_json_opt_bool(const cJSON *obj, const char *key, int *out,
    struct dh_err *err)
{
	const cJSON *m = member(obj, key);

	if (m == NULL || cJSON_IsNull(m))
		return DH_OK;
	if (!cJSON_IsBool(m))
		return dh_err_set(err, DH_E_FORMAT, "\"%s\" must be a boolean",
		    key);
	*out = cJSON_IsTrue(m);
	return DH_OK;
}

int
dh_json_print(const cJSON *item, struct dh_buf *out)
{
	char *s;
	int r;

	s = cJSON_PrintUnformatted(item);
	if (s == NULL)
		return DH_E_NOMEM;
	r = dh_buf_put_str(out, s);
	cJSON_free(s);
	return r;
}

char *
dh_json_print_alloc(const cJSON *item, size_t max)
{
	struct dh_buf b;

	dh_buf_init(&b, max);
	if (dh_json_print(item, &b) != DH_OK || dh_buf_reserve(&b, 1) != DH_OK) {
		dh_buf_free(&b);
		return NULL;
	}
	return (char *)dh_buf_steal(&b, NULL);
}
