/*
 * gw_auth: SigV4 / RSA-PSS request authentication for the gateway (see
 * gw_auth.h).
 */
#include "gw_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_hash.h"
#include "dh_rsasig.h"

const char *
gw_auth_code_name(enum gw_auth_code c)
{
	switch (c) {
	case GW_AUTH_OK:
		return "OK";
	case GW_AUTH_MISSING:
		return "MissingAuthenticationTokenException";
	case GW_AUTH_INCOMPLETE:
		return "IncompleteSignatureException";
	case GW_AUTH_UNRECOGNIZED:
		return "UnrecognizedClientException";
	case GW_AUTH_SIGNATURE:
		return "InvalidSignatureException";
	case GW_AUTH_EXPIRED:
		return "ExpiredTokenException";
	case GW_AUTH_DENIED:
		return "AccessDeniedException";
	}
	return "InvalidSignatureException";
}

enum gw_auth_code
gw_auth_code_of(enum dh_sigv4_fail f)
{
	switch (f) {
	case DH_SIGV4_FAIL_NONE:
		return GW_AUTH_OK;
	case DH_SIGV4_FAIL_MISSING:
		return GW_AUTH_MISSING;
	case DH_SIGV4_FAIL_MALFORMED:
	case DH_SIGV4_FAIL_ALGORITHM:
	case DH_SIGV4_FAIL_DATE:
	case DH_SIGV4_FAIL_HOST_UNSIGNED:
	case DH_SIGV4_FAIL_HEADER_MISSING:
	case DH_SIGV4_FAIL_SCOPE_TERMINATOR:
		return GW_AUTH_INCOMPLETE;
	case DH_SIGV4_FAIL_SKEW:
	case DH_SIGV4_FAIL_EXPIRED:
	case DH_SIGV4_FAIL_SCOPE_DATE:
	case DH_SIGV4_FAIL_SCOPE_REGION:
	case DH_SIGV4_FAIL_SCOPE_SERVICE:
	case DH_SIGV4_FAIL_PAYLOAD:
	case DH_SIGV4_FAIL_SIGNATURE:
		return GW_AUTH_SIGNATURE;
	}
	return GW_AUTH_SIGNATURE;
}

void
gw_auth_clear(struct gw_principal *p)
{
	free(p->policy);
	memset(p, 0, sizeof(*p));
}

static int
fail(enum gw_auth_code *code, enum gw_auth_code c, struct dh_err *err,
    const char *msg)
{
	*code = c;
	return dh_err_set(err, DH_E_AUTH, "%s", msg);
}

static int
verify_rsa(struct gw_store *st, struct dh_sigv4_verify *v, unsigned flags,
    struct gw_principal *p, enum gw_auth_code *code, struct dh_err *err)
{
	struct gw_store_instance *in;
	struct dh_rsasig_key key;
	struct dh_err e2;
	int r;

	memset(&key, 0, sizeof(key));
	if (!(flags & GW_AUTH_ALLOW_RSA))
		return fail(code, GW_AUTH_UNRECOGNIZED, err, "The security token"
		    " included in the request is invalid.");
	in = malloc(sizeof(*in));
	if (in == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	if (gw_store_instance_get(st, v->auth.access_key, in, &e2) != DH_OK) {
		r = fail(code, GW_AUTH_UNRECOGNIZED, err, "The security token"
		    " included in the request is invalid.");
		goto done;
	}
	if (dh_rsasig_load_public(&key, in->public_key,
	    strlen(in->public_key), &e2) != DH_OK ||
	    dh_rsasig_verify_sigv4(v, &key, &e2) != DH_OK) {
		r = fail(code, GW_AUTH_SIGNATURE, err, "The request signature we"
		    " calculated does not match the signature you provided.");
		goto done;
	}
	p->kind = GW_AUTH_INSTANCE_KEY;
	snprintf(p->instance_id, sizeof(p->instance_id), "%s", in->id);
	snprintf(p->name, sizeof(p->name), "%s", in->id);
	r = DH_OK;
done:
	dh_rsasig_key_free(&key);
	free(in);
	return r;
}

static int
verify_operator(struct gw_store_key *k, struct dh_sigv4_verify *v,
    struct gw_principal *p, enum gw_auth_code *code, struct dh_err *err)
{
	struct dh_err e2;

	if (v->security_token != NULL)
		return fail(code, GW_AUTH_UNRECOGNIZED, err, "The security token"
		    " included in the request is invalid.");
	if (dh_sigv4_verify_hmac(v, k->secret, &e2) != DH_OK)
		return fail(code, GW_AUTH_SIGNATURE, err, "The request signature"
		    " we calculated does not match the signature you provided."
		    " Check your AWS Secret Access Key and signing method.");
	p->kind = GW_AUTH_OPERATOR;
	snprintf(p->name, sizeof(p->name), "%s", k->name);
	p->policy = k->policy;
	k->policy = NULL;
	return DH_OK;
}

static int
verify_token(struct gw_store_token *t, struct dh_sigv4_verify *v, time_t now,
    struct gw_principal *p, enum gw_auth_code *code, struct dh_err *err)
{
	char hash[2 * DH_SHA256_LEN + 1];
	struct dh_err e2;

	if (v->security_token == NULL)
		return fail(code, GW_AUTH_UNRECOGNIZED, err, "The security token"
		    " included in the request is invalid.");
	dh_sha256_hex(v->security_token, strlen(v->security_token), hash);
	if (!dh_ct_equal(hash, t->token_hash, sizeof(hash) - 1))
		return fail(code, GW_AUTH_UNRECOGNIZED, err, "The security token"
		    " included in the request is invalid.");
	if (t->expires_ms <= (int64_t)now * 1000)
		return fail(code, GW_AUTH_EXPIRED, err, "The security token"
		    " included in the request is expired");
	if (dh_sigv4_verify_hmac(v, t->secret, &e2) != DH_OK)
		return fail(code, GW_AUTH_SIGNATURE, err, "The request signature"
		    " we calculated does not match the signature you provided.");
	p->kind = GW_AUTH_INSTANCE;
	snprintf(p->instance_id, sizeof(p->instance_id), "%s", t->instance_id);
	snprintf(p->name, sizeof(p->name), "%s", t->instance_id);
	return DH_OK;
}

int
gw_auth_verify(struct gw_store *st, const struct dh_sigv4_request *req,
    const char *region, const char *service, time_t now, unsigned flags,
    struct gw_principal *p, enum gw_auth_code *code, struct dh_err *err)
{
	struct dh_sigv4_verify_opts o;
	struct dh_sigv4_verify v;
	struct gw_store_key k;
	struct gw_store_token t;
	struct dh_err e2;
	int r;

	memset(p, 0, sizeof(*p));
	memset(&v, 0, sizeof(v));
	memset(&k, 0, sizeof(k));
	memset(&t, 0, sizeof(t));
	*code = GW_AUTH_OK;
	memset(&o, 0, sizeof(o));
	o.region = region;
	o.service = service;
	o.now = now;
	o.max_skew = GW_AUTH_MAX_SKEW;
	dh_err_clear(&e2);
	if (dh_sigv4_verify_begin(req, &o, &v, &e2) != DH_OK) {
		enum dh_sigv4_fail f = v.fail;

		*code = gw_auth_code_of(f);
		if (*code == GW_AUTH_OK)
			*code = GW_AUTH_INCOMPLETE;
		if (f == DH_SIGV4_FAIL_MISSING)
			r = dh_err_set(err, DH_E_AUTH,
			    "Missing Authentication Token");
		else if (f == DH_SIGV4_FAIL_SKEW)
			r = dh_err_set(err, DH_E_AUTH, "Signature expired: %s is"
			    " outside the %d-second window around the server"
			    " time", v.auth.amz_date, GW_AUTH_MAX_SKEW);
		else
			r = dh_err_set(err, DH_E_AUTH, "%s", e2.msg);
		goto done;
	}
	snprintf(p->access_key, sizeof(p->access_key), "%s", v.auth.access_key);
	if (strncmp(v.auth.access_key, "mi-", 3) == 0)
		r = verify_rsa(st, &v, flags, p, code, err);
	else if (gw_store_key_get(st, v.auth.access_key, &k, &e2) == DH_OK)
		r = verify_operator(&k, &v, p, code, err);
	else if (gw_store_token_get(st, v.auth.access_key, &t, &e2) == DH_OK)
		r = verify_token(&t, &v, now, p, code, err);
	else
		r = fail(code, GW_AUTH_UNRECOGNIZED, err, "The security token"
		    " included in the request is invalid.");
done:
	if (r != DH_OK) {
		gw_auth_clear(p);
		if (*code == GW_AUTH_OK)
			*code = GW_AUTH_SIGNATURE;
		r = DH_E_AUTH;
	}
	gw_store_key_clear(&k);
	dh_wipe(&t, sizeof(t));
	dh_sigv4_verify_free(&v);
	return r;
}
