/*
 * gw_api: one HTTP request in, one response out.  Routes by X-Amz-Target
 * (AWS JSON 1.1: AmazonSSM.*, EC2WindowsMessageDeliveryService.*, CloudTrail
 * LookupEvents) or by path (ssmmessages POST /v1/control-channel/<mi-id>),
 * authenticates with gw_auth (unauthenticated only for
 * RegisterManagedInstance), checks the caller kind the operation allows,
 * evaluates the operator key's IAM policy (gw_policy, action "ssm:<Op>",
 * explicit Deny wins), runs the handler (gw_ssm, gw_ctrl, gw_audit lookup),
 * records every call with gw_audit, and renders AWS errors as
 * {"__type":..,"message":..} with an x-amzn-RequestId.
 *
 * Ownership: gw_api borrows the store, audit trail and control registry
 * given at creation.  Requests are borrowed for the call; responses own
 * their body (gw_api_resp_free).
 */
#ifndef GW_API_H
#define GW_API_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "dh_sigv4.h"
#include "gw_audit.h"
#include "gw_ctrl.h"
#include "gw_relay.h"
#include "gw_store.h"

#define GW_API_MAX_BODY (1024 * 1024)     /* request body ceiling */
#define GW_API_MAX_RESP (8 * 1024 * 1024) /* response body ceiling */

#define GW_API_CLOUDTRAIL_TARGET \
	"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"

#define GW_API_MAX_BODY_LOGS (8 * 1024 * 1024) /* PutLogEvents JSON body */
#define GW_API_MAX_RESP_HEADERS 12

struct gw_api;
struct gw_session;    /* gw_session.h */
struct gw_s3_spool;   /* gw_s3.h */

struct gw_api_config {
	struct gw_store *st;      /* borrowed */
	struct gw_audit *audit;   /* borrowed; NULL disables auditing */
	struct gw_ctrl *ctrl;     /* borrowed */
	const char *region;       /* copied */
	const char *account;      /* copied, 12 digits */
	const char *state_dir;    /* copied; NULL: no KMS master key, no S3 */
	struct gw_session *sessions; /* borrowed; NULL: no Session Manager */
	int64_t token_ttl_s;      /* instance credential lifetime; 0 = default */
};

/* A request as received (all borrowed).  path and query (without '?', ""
 * for none) are as libwebsockets delivers them: percent-decoded, parameters
 * joined with '&'.  query_enc is the same query with each name and value
 * URI-encoded again (what SigV4 canonicalises; "%26", "%3D" survive), or
 * NULL when not available (then query is used for signatures). */
struct gw_api_req {
	const char *method;
	const char *path;
	const char *query;
	const char *query_enc;
	const struct dh_sigv4_header *headers;
	size_t n_headers;
	const void *body;
	size_t body_len;
	const char *source_ip;
	struct gw_s3_spool *spool; /* body spooled to a file (S3 uploads) or NULL;
	                              then body_len is 0 */
};

struct gw_api_resp_header {
	char name[48];
	char value[208];
};

struct gw_api_resp {
	int status;
	char content_type[48];
	char request_id[37];
	struct dh_buf body;
	struct gw_api_resp_header hdr[GW_API_MAX_RESP_HEADERS]; /* extra */
	size_t n_hdr;
	int has_file;             /* body is file_len bytes of file_fd */
	int file_fd;              /* owned when has_file */
	uint64_t file_off, file_len;
	int head;                 /* HEAD: announce head_len, send no body */
	uint64_t head_len;
};

/* New API dispatcher; *out freed with gw_api_free. */
int gw_api_new(const struct gw_api_config *cfg, struct gw_api **out,
    struct dh_err *err);
void gw_api_free(struct gw_api *api);

/* Prepare / release a response. */
void gw_api_resp_init(struct gw_api_resp *r);
void gw_api_resp_free(struct gw_api_resp *r);

/* Add an extra response header (name as sent, e.g. "ETag"); DH_E_TOOBIG
 * when full or too long. */
int gw_api_resp_header(struct gw_api_resp *r, const char *name,
    const char *value);

/* Body ceiling for a request head (before its body arrived): larger for
 * PutLogEvents, GW_API_MAX_BODY otherwise (spooled bodies have their own). */
size_t gw_api_body_limit(const struct gw_api_req *head);

/* For a request head, open a spool file when its body should not be
 * buffered in memory (S3 object uploads); *out is NULL otherwise. */
int gw_api_spool_open(struct gw_api *api, const struct gw_api_req *head,
    struct gw_s3_spool **out, struct dh_err *err);

/* Answer req into resp (always filled: success or AWS error).  Returns 0,
 * or a DH_E_* code when even the error could not be rendered. */
int gw_api_handle(struct gw_api *api, const struct gw_api_req *req,
    struct gw_api_resp *resp);

/* Authorize a control-channel websocket upgrade (GET
 * /v1/control-channel/<mi-id>?role=subscribe&stream=input, SigV4 service
 * ssmmessages with that instance's credentials), audit it and register it
 * in gw_ctrl with the transport handle; *conn belongs to gw_ctrl. */
int gw_api_ws_open(struct gw_api *api, const struct gw_api_req *req,
    void *handle, struct gw_ctrl_conn **conn, struct dh_err *err);

/* Authorize a data-channel websocket upgrade (GET
 * /v1/data-channel/<session-id>?role=publish_subscribe): a SigV4-signed
 * upgrade (service ssmmessages, instance credentials) is the agent leg, an
 * unsigned one the client leg, which proves itself with its token in the
 * first frame.  Audit it and attach it to the relay; *leg belongs to the
 * relay. */
int gw_api_ws_open_data(struct gw_api *api, const struct gw_api_req *req,
    void *handle, struct gw_relay_leg **leg, struct dh_err *err);

/* Render an AWS JSON error body {"__type":code,"message":msg} into out. */
int gw_api_error_body(const char *code, const char *msg, struct dh_buf *out);

/* Periodic housekeeping (audit delivery); now_ms is wall-clock time. */
void gw_api_tick(struct gw_api *api, int64_t now_ms);

/* Fast housekeeping, about once a second: due maintenance windows fire
 * (gw_mw_tick) and pending Run Command jobs go out (gw_cmd_pump). */
void gw_api_poll(struct gw_api *api, int64_t now_ms);

#endif
