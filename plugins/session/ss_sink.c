/*
 * ss_sink: the OPEN record's JSON (session identity + sink settings), and
 * the sink stack the shipper drives.  The individual sinks live in
 * ss_sink_cw.c and ss_sink_s3.c.
 */
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "dh_json.h"
#include "ss_sink.h"

int
ss_sink_open_json(const struct ss_session_info *in, struct dh_buf *out,
    struct dh_err *err)
{
	cJSON *j = NULL, *k;
	int rc = DH_E_NOMEM;

	j = cJSON_CreateObject();
	if (j == NULL)
		goto out;
	k = cJSON_CreateObject();
	if (k == NULL)
		goto out;
	cJSON_AddItemToObject(j, "sinks", k);
	if (cJSON_AddNumberToObject(j, "v", 1) == NULL ||
	    cJSON_AddStringToObject(j, "session_id", in->session_id) == NULL ||
	    cJSON_AddStringToObject(j, "instance_id", in->instance_id) ==
	    NULL ||
	    cJSON_AddStringToObject(j, "user", in->user) == NULL ||
	    cJSON_AddNumberToObject(j, "started_us",
	    (double)in->started_us) == NULL ||
	    cJSON_AddBoolToObject(j, "log_input", in->log_input) == NULL ||
	    cJSON_AddStringToObject(j, "policy", in->fail_closed ?
	    "fail-closed" : "fail-open") == NULL ||
	    cJSON_AddStringToObject(k, "cw_group", in->cw_group) == NULL ||
	    cJSON_AddStringToObject(k, "cw_stream", in->cw_stream) == NULL ||
	    cJSON_AddBoolToObject(k, "cw_streaming", in->cw_streaming) ==
	    NULL ||
	    cJSON_AddBoolToObject(k, "cw_enc", in->cw_enc) == NULL ||
	    cJSON_AddStringToObject(k, "s3_bucket", in->s3_bucket) == NULL ||
	    cJSON_AddStringToObject(k, "s3_prefix", in->s3_prefix) == NULL ||
	    cJSON_AddBoolToObject(k, "s3_enc", in->s3_enc) == NULL ||
	    cJSON_AddStringToObject(k, "region", in->region) == NULL ||
	    cJSON_AddStringToObject(k, "owner_arn", in->owner_arn) == NULL)
		goto out;
	rc = dh_json_print(j, out);
out:
	cJSON_Delete(j);
	if (rc != DH_OK)
		return dh_err_set(err, rc, "cannot build the OPEN record");
	return DH_OK;
}

static int
get_into(const cJSON *o, const char *key, char *dst, size_t n,
    struct dh_err *err)
{
	const char *v = NULL;
	int rc;

	rc = dh_json_get_str(o, key, &v, err);
	if (rc != DH_OK)
		return rc;
	if (strlen(v) >= n)
		return dh_err_set(err, DH_E_FORMAT, "OPEN field %s too long",
		    key);
	memcpy(dst, v, strlen(v) + 1);
	return DH_OK;
}

int
ss_sink_parse_open(const void *p, size_t n, struct ss_session_info *in,
    struct dh_err *err)
{
	cJSON *j = NULL;
	const cJSON *k;
	const char *pol = NULL;
	int64_t v = 0, started = 0;
	int rc;

	memset(in, 0, sizeof(*in));
	rc = dh_json_parse(p, n, 64 * 1024, &j, err);
	if (rc != DH_OK)
		return rc;
	rc = dh_json_get_int(j, "v", 1, 1, &v, err);
	if (rc == DH_OK)
		rc = get_into(j, "session_id", in->session_id,
		    sizeof(in->session_id), err);
	if (rc == DH_OK)
		rc = get_into(j, "instance_id", in->instance_id,
		    sizeof(in->instance_id), err);
	if (rc == DH_OK)
		rc = get_into(j, "user", in->user, sizeof(in->user), err);
	if (rc == DH_OK)
		rc = dh_json_get_int(j, "started_us", 0, INT64_MAX, &started,
		    err);
	if (rc == DH_OK)
		rc = dh_json_opt_bool(j, "log_input", &in->log_input, err);
	if (rc == DH_OK)
		rc = dh_json_opt_str(j, "policy", &pol, err);
	if (rc != DH_OK)
		goto out;
	in->started_us = (uint64_t)started;
	in->fail_closed = pol != NULL && strcmp(pol, "fail-closed") == 0;
	k = cJSON_GetObjectItemCaseSensitive(j, "sinks");
	if (!cJSON_IsObject(k)) {
		rc = dh_err_set(err, DH_E_FORMAT, "OPEN record without sinks");
		goto out;
	}
	rc = get_into(k, "cw_group", in->cw_group, sizeof(in->cw_group), err);
	if (rc == DH_OK)
		rc = get_into(k, "cw_stream", in->cw_stream,
		    sizeof(in->cw_stream), err);
	if (rc == DH_OK)
		rc = get_into(k, "s3_bucket", in->s3_bucket,
		    sizeof(in->s3_bucket), err);
	if (rc == DH_OK)
		rc = get_into(k, "s3_prefix", in->s3_prefix,
		    sizeof(in->s3_prefix), err);
	if (rc == DH_OK)
		rc = get_into(k, "region", in->region, sizeof(in->region), err);
	if (rc == DH_OK)
		rc = get_into(k, "owner_arn", in->owner_arn,
		    sizeof(in->owner_arn), err);
	if (rc == DH_OK)
		rc = dh_json_opt_bool(k, "cw_streaming", &in->cw_streaming, err);
	if (rc == DH_OK)
		rc = dh_json_opt_bool(k, "cw_enc", &in->cw_enc, err);
	if (rc == DH_OK)
		rc = dh_json_opt_bool(k, "s3_enc", &in->s3_enc, err);
out:
	cJSON_Delete(j);
	return rc;
}

void
ss_sink_free(struct ss_sink *s)
{
	if (s != NULL)
		s->ops->close(s);
}

int
ss_sink_stack_build(const struct ss_session_info *info,
    const struct ss_sink_env *env, struct ss_sink_stack *st,
    struct dh_err *err)
{
	int rc = DH_OK;

	memset(st, 0, sizeof(*st));
	if (info->cw_group[0] != '\0') {
		rc = ss_sink_cw_new(info, env, &st->v[st->n], err);
		if (rc != DH_OK)
			goto fail;
		st->n++;
	}
	if (info->s3_bucket[0] != '\0') {
		rc = ss_sink_s3_new(info, env, &st->v[st->n], err);
		if (rc != DH_OK)
			goto fail;
		st->n++;
	}
	return DH_OK;
fail:
	ss_sink_stack_free(st);
	return rc;
}

uint64_t
ss_sink_stack_acked(const struct ss_sink_stack *st, uint64_t last_seq)
{
	uint64_t m = last_seq;
	size_t i;

	for (i = 0; i < st->n; i++)
		if (i == 0 || st->v[i]->acked < m)
			m = st->v[i]->acked;
	return m;
}

uint64_t
ss_sink_stack_fed(const struct ss_sink_stack *st, uint64_t last_seq)
{
	uint64_t m = last_seq;
	size_t i;

	for (i = 0; i < st->n; i++)
		if (i == 0 || st->v[i]->fed < m)
			m = st->v[i]->fed;
	return m;
}

void
ss_sink_stack_free(struct ss_sink_stack *st)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		ss_sink_free(st->v[i]);
	memset(st, 0, sizeof(*st));
}
