/*
 * Fuzz target: dh_aws_parse_error on arbitrary service error bodies (JSON
 * 1.1, S3 and query-style XML, garbage).  The first byte picks the HTTP
 * status and whether an error-type header is present; every field of the
 * result must stay NUL-terminated and free of control bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_aws.h"
#include "dh_err.h"
#include "dh_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_field(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort();
	while (n-- > 0)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_http_hdrs h;
	struct dh_aws_error e;
	int status = 400, rc;

	memset(&h, 0, sizeof(h));
	if (size > 0) {
		status = 300 + data[0] % 300;
		if (data[0] & 0x80)
			(void)dh_http_hdrs_set(&h, "x-amzn-ErrorType",
			    "Fuzzed:http://internal/");
		data++;
		size--;
	}
	rc = dh_aws_parse_error(status, h.n > 0 ? &h : NULL, data, size, &e);
	if (rc != DH_OK && rc != DH_E_FORMAT)
		abort();
	if (e.http_status != status || e.code[0] == '\0')
		abort();
	check_field(e.code, sizeof(e.code));
	check_field(e.message, sizeof(e.message));
	check_field(e.request_id, sizeof(e.request_id));
	dh_http_hdrs_free(&h);
	return 0;
}
