/*
 * gw_ssm: the SSM (and ec2messages) JSON 1.1 operations the gateway serves,
 * as functions of (request JSON, store, caller, clock) -> response JSON or
 * an AWS error code.  No sockets, no logging: gw_api does authentication,
 * policy, audit and the HTTP framing around these.
 *
 * Operations: CreateActivation, DescribeActivations, DeleteActivation,
 * RegisterManagedInstance (anonymous), RequestManagedInstanceRoleToken and
 * UpdateManagedInstancePublicKey (instance RSA key), UpdateInstanceInformation,
 * DescribeInstanceInformation (PingStatus Online while the last heartbeat is
 * younger than GW_SSM_PING_LOST_MS, else ConnectionLost),
 * DeregisterManagedInstance, AddTagsToResource / ListTagsForResource /
 * RemoveTagsFromResource (ManagedInstance; instances registered with an
 * activation get a copy of its tags), ListInstanceAssociations (empty) and
 * ec2messages
 * GetMessages (answered at once with no messages) plus its acknowledgement
 * calls.  DescribeActivations and DescribeInstanceInformation page with
 * MaxResults (1-50 / 5-50, default 50) and an HMAC-protected NextToken
 * (InvalidNextToken when forged, edited or from another operation).
 *
 * Ownership: results own their cJSON body (gw_ssm_result_free).
 */
#ifndef GW_SSM_H
#define GW_SSM_H

#include <cJSON.h>
#include <stdint.h>

#include "dh_err.h"
#include "gw_auth.h"
#include "gw_store.h"

#define GW_SSM_TOKEN_TTL_S 1800          /* issued credentials live 30 min */
#define GW_SSM_PING_LOST_MS (10 * 60 * 1000) /* two missed 5-min heartbeats */
#define GW_SSM_ACTIVATION_TTL_S 86400    /* default activation expiry */
#define GW_SSM_ACTIVATION_MAX_S (30 * 86400)
#define GW_SSM_MAX_TAGS 50

/* Who may call an operation (bit flags). */
#define GW_SSM_ANON 0x01      /* unauthenticated (RegisterManagedInstance) */
#define GW_SSM_OPERATOR 0x02  /* operator access keys, policy-checked */
#define GW_SSM_INSTANCE 0x04  /* instance temporary credentials */
#define GW_SSM_KEY 0x08       /* instance RSA registration key */

struct gw_ssm_ctx;
struct gw_ssm_result;
struct gw_session;

/* An operation handler: (context, request object) -> result.  Returns 0, or
 * DH_E_NOMEM / DH_E_IO when the store failed (res then holds an error). */
typedef int (*gw_ssm_handler)(const struct gw_ssm_ctx *c, const cJSON *in,
    struct gw_ssm_result *res);

struct gw_ssm_op {
	const char *target;        /* X-Amz-Target value */
	const char *name;          /* operation name */
	const char *service;       /* SigV4 signing name ("ssm") */
	const char *event_source;  /* "ssm.amazonaws.com" */
	const char *action;        /* IAM action ("ssm:CreateActivation") */
	unsigned who;              /* GW_SSM_* */
	gw_ssm_handler fn;         /* the handler */
};

struct gw_ssm_ctx {
	struct gw_store *st;
	const char *region;
	const char *account;
	const struct gw_principal *who;   /* NULL or kind ANONYMOUS for anon */
	int64_t now_ms;
	const char *state_dir;            /* gateway state dir (KMS master key) */
	struct gw_session *sessions;      /* Session Manager (gw_session.h); may be NULL */
	const char *host;                 /* request Host header; may be NULL */
	int64_t token_ttl_s;              /* issued credential lifetime; 0 = GW_SSM_TOKEN_TTL_S */
};

struct gw_ssm_result {
	int status;                /* HTTP status (200, 400, 500) */
	const char *error_code;    /* static AWS code, NULL on success */
	char message[512];
	cJSON *body;               /* owned; success body */
};

/* The SSM / ec2messages operation table (gw_ssm_n_ops entries); other
 * services' tables are registered in gw_ops.c. */
extern const struct gw_ssm_op gw_ssm_ops[];
extern const size_t gw_ssm_n_ops;

/* Operation by X-Amz-Target across every registered table (gw_ops.c), or
 * NULL when unknown. */
const struct gw_ssm_op *gw_ssm_find(const char *target);

/* Run op with request object in (may be NULL = {}); always fills res
 * (success body or error).  Returns 0, or DH_E_NOMEM / DH_E_IO when the
 * store failed (res then holds InternalServerError). */
int gw_ssm_call(const struct gw_ssm_ctx *c, const struct gw_ssm_op *op,
    const cJSON *in, struct gw_ssm_result *res);

/* Release a result's body and zero it. */
void gw_ssm_result_free(struct gw_ssm_result *res);

/* The ARN an operation acts on, for policy evaluation, into out[n]:
 * managed-instance ARN for InstanceId / ResourceId, else "*". */
void gw_ssm_resource(const struct gw_ssm_ctx *c, const struct gw_ssm_op *op,
    const cJSON *in, char *out, size_t n);

/* PingStatus for an instance whose last heartbeat was last_ping_ms. */
const char *gw_ssm_ping_status(int64_t last_ping_ms, int64_t now_ms);

#endif
