/*
 * dh_err: status-code names and the error-detail record (see dh_err.h).
 */
#include "dh_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
dh_err_set(struct dh_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int
dh_err_wrap(struct dh_err *err, int code, const char *fmt, ...)
{
	char ctx[DH_ERR_MSG_MAX];
	char old[DH_ERR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	if (err->code == DH_OK)
		err->code = code;
	memcpy(old, err->msg, sizeof(old));
	/* Truncation of an over-long chain of contexts is acceptable. */
	if (snprintf(err->msg, sizeof(err->msg), "%s: %s", ctx,
	    old[0] != '\0' ? old : dh_strerror(err->code)) < 0)
		err->msg[0] = '\0';
	return err->code;
}

void
dh_err_clear(struct dh_err *err)
{
	if (err == NULL)
		return;
	err->code = DH_OK;
	err->msg[0] = '\0';
}

const char *
dh_strerror(int code)
{
	static const char *const names[] = {
		"success", "out of memory", "input truncated", "size limit exceeded",
		"malformed input", "I/O error", "invalid argument", "crypto failure",
		"network error", "TLS error", "unexpected HTTP status",
		"service error", "authentication failed", "timed out", "not found",
		"already exists", "invalid state", "configuration error",
		"integrity check failed",
	};
	int i = -code;

	if (i < 0 || (size_t)i >= sizeof(names) / sizeof(names[0]))
		return "unknown error";
	return names[i];
}
