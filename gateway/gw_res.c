/*
 * gw_res: shared result / request helpers of the gateway's JSON 1.1
 * handler modules (see gw_res.h).  The messages are the AWS ones the
 * modules produced before they shared this code; keep them byte-identical.
 */
#include "gw_res.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dh_json.h"

static void vfail(struct gw_ssm_result *res, int status, const char *code,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
vfail(struct gw_ssm_result *res, int status, const char *code,
    const char *fmt, va_list ap)
{
	res->status = status;
	res->error_code = code;
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	cJSON_Delete(res->body);
	res->body = NULL;
}

int
gw_res_fail(struct gw_ssm_result *res, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(res, status, code, fmt, ap);
	va_end(ap);
	return DH_OK;
}

int
gw_res_bad(struct gw_ssm_result *res, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(res, status, code, fmt, ap);
	va_end(ap);
	return -1;
}

int
gw_res_internal(struct gw_ssm_result *res, int r, const struct dh_err *e)
{
	(void)gw_res_fail(res, 500, "InternalServerError", "%s",
	    e != NULL && e->msg[0] != '\0' ? e->msg : dh_strerror(r));
	return r;
}

cJSON *
gw_res_ok(struct gw_ssm_result *res)
{
	res->status = 200;
	res->error_code = NULL;
	if (res->body == NULL)
		res->body = cJSON_CreateObject();
	return res->body;
}

int
gw_res_opt_str(const cJSON *in, const char *key, size_t min, size_t max,
    const char **out, struct gw_ssm_result *res)
{
	struct dh_err e;
	size_t n;

	*out = NULL;
	if (in == NULL)
		return 0;
	if (dh_json_opt_str(in, key, out, &e) != DH_OK)
		return gw_res_bad(res, 400, "ValidationException", "%s", e.msg);
	if (*out == NULL)
		return 0;
	n = strlen(*out);
	if (n < min || n > max)
		return gw_res_bad(res, 400, "ValidationException", "Value at"
		    " '%s' failed to satisfy constraint: Member must have"
		    " length between %zu and %zu", key, min, max);
	return 0;
}

int
gw_res_req_str(const cJSON *in, const char *key, size_t min, size_t max,
    const char **out, struct gw_ssm_result *res)
{
	if (gw_res_opt_str(in, key, min, max, out, res) != 0)
		return -1;
	if (*out == NULL)
		return gw_res_bad(res, 400, "ValidationException", "1 validation"
		    " error detected: Value null at '%s' failed to satisfy"
		    " constraint: Member must not be null", key);
	return 0;
}

const cJSON *
gw_res_member(const cJSON *o, const char *k)
{
	const cJSON *m = cJSON_IsObject(o) ?
	    cJSON_GetObjectItemCaseSensitive(o, k) : NULL;

	return cJSON_IsNull(m) ? NULL : m;
}

const char *
gw_res_str_or(const cJSON *o, const char *k, const char *d)
{
	const char *s = cJSON_GetStringValue(gw_res_member(o, k));

	return s != NULL ? s : d;
}

int
gw_res_add_str(cJSON *o, const char *k, const char *v)
{
	return cJSON_AddStringToObject(o, k, v != NULL ? v : "") != NULL ?
	    0 : -1;
}

int
gw_res_add_time(cJSON *o, const char *k, int64_t ms)
{
	return cJSON_AddNumberToObject(o, k, (double)ms / 1000.0) != NULL ?
	    0 : -1;
}
