/*
 * Fuzz target: dh_sigv4_parse_http on arbitrary bytes; when the request
 * parses, its Authorization header (if any) goes through
 * dh_sigv4_parse_authorization and the whole request through the verifier
 * (canonicaliser included) and the signer.  Nothing may crash or leak, and a
 * request signed here must verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "dh_sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_sigv4_http h;
	struct dh_sigv4_auth a;
	struct dh_sigv4_verify v;
	struct dh_sigv4_verify_opts o;
	struct dh_sigv4_creds c = { "AKIDEXAMPLE", "secret", "token" };
	struct dh_sigv4_params p = { &c, "us-east-1", "ssm", 1440938160, 0 };
	struct dh_sigv4_signed s;
	const char *authz;

	if (dh_sigv4_parse_http(data, size, &h, NULL) != DH_OK) {
		dh_sigv4_http_free(&h);
		return 0;
	}
	authz = dh_sigv4_header_get(&h.req, "authorization");
	if (authz != NULL)
		(void)dh_sigv4_parse_authorization(authz, &a, NULL);
	memset(&o, 0, sizeof(o));
	o.now = 1440938160;
	o.flags = size > 0 && (data[0] & 1) ? DH_SIGV4_S3 : 0;
	if (dh_sigv4_verify_begin(&h.req, &o, &v, NULL) == DH_OK)
		(void)dh_sigv4_verify_hmac(&v, "secret", NULL);
	dh_sigv4_verify_free(&v);
	p.flags = o.flags;
	if (dh_sigv4_sign(&h.req, &p, &s, NULL) == DH_OK &&
	    s.canonical_request.len == 0)
		abort();
	dh_sigv4_signed_free(&s);
	dh_sigv4_http_free(&h);
	return 0;
}
