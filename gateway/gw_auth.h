/*
 * gw_auth: who is calling.  Verifies a request's SigV4 Authorization with
 * dh_sigv4 against the gateway's three kinds of credentials:
 *   - operator access keys (HMAC, no session token; the key's IAM policy
 *     is returned for the caller to evaluate),
 *   - temporary credentials issued to managed instances by
 *     RequestManagedInstanceRoleToken (HMAC + X-Amz-Security-Token, checked
 *     against the stored SHA-256 of the token; expired ones refused),
 *   - the instance's registration key ("mi-..." in Credential=, RSA-PSS via
 *     dh_rsasig), accepted only when the caller allows it (the two
 *     key-authenticated operations).
 * Clock skew is limited to GW_AUTH_MAX_SKEW seconds.  Failures come back as
 * an AWS error code (gw_auth_code_name) and a message safe to send to the
 * client (never a secret).
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <time.h>

#include "dh_err.h"
#include "dh_sigv4.h"
#include "gw_store.h"

#define GW_AUTH_MAX_SKEW 300

enum gw_auth_kind {
	GW_AUTH_ANONYMOUS = 0,
	GW_AUTH_OPERATOR,       /* operator access key (policy applies) */
	GW_AUTH_INSTANCE,       /* instance temporary credentials */
	GW_AUTH_INSTANCE_KEY    /* instance RSA registration key */
};

enum gw_auth_code {
	GW_AUTH_OK = 0,
	GW_AUTH_MISSING,        /* MissingAuthenticationTokenException */
	GW_AUTH_INCOMPLETE,     /* IncompleteSignatureException */
	GW_AUTH_UNRECOGNIZED,   /* UnrecognizedClientException */
	GW_AUTH_SIGNATURE,      /* InvalidSignatureException */
	GW_AUTH_EXPIRED,        /* ExpiredTokenException */
	GW_AUTH_DENIED          /* AccessDeniedException */
};

/* The authenticated caller.  policy is owned (free via gw_auth_clear). */
struct gw_principal {
	enum gw_auth_kind kind;
	char access_key[129];
	char name[129];          /* key name, or the instance id */
	char instance_id[24];    /* for instance principals */
	char *policy;            /* operator policy JSON, else NULL */
};

/* Flags for gw_auth_verify. */
#define GW_AUTH_ALLOW_RSA 0x01  /* accept mi- RSA-signed requests */

/* Authenticate req for service in region at time now.  On success fills
 * *p (release with gw_auth_clear) and returns 0; otherwise DH_E_AUTH with
 * *code set and a client-safe message in err. */
int gw_auth_verify(struct gw_store *st, const struct dh_sigv4_request *req,
    const char *region, const char *service, time_t now, unsigned flags,
    struct gw_principal *p, enum gw_auth_code *code, struct dh_err *err);

/* Release what a principal owns and zero it. */
void gw_auth_clear(struct gw_principal *p);

/* AWS error code name for a failure ("InvalidSignatureException"). */
const char *gw_auth_code_name(enum gw_auth_code c);

/* Map a dh_sigv4 verification failure to an auth code. */
enum gw_auth_code gw_auth_code_of(enum dh_sigv4_fail f);

#endif
