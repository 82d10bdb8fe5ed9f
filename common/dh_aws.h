/*
 * dh_aws: AWS-style API calls on top of dh_http and dh_sigv4.
 *
 *  - AWS JSON 1.1 RPC (SSM, ec2messages, CloudWatch Logs, KMS): POST to the
 *    endpoint with X-Amz-Target and Content-Type application/x-amz-json-1.1,
 *    signed with SigV4, the RSA hybrid-instance signer (custom hook) or not
 *    at all (RegisterManagedInstance); the answer is parsed with
 *    dh_json_parse under a size ceiling.
 *  - S3 REST-XML: path-style object and bucket requests with query
 *    subresources, UNSIGNED-PAYLOAD or a real payload hash, errors parsed
 *    from the <Error> XML document (with expat), HEAD errors from the status.
 *  - Service error bodies (JSON "__type"/"message", S3 and query-style XML
 *    "<Error><Code>") become a struct dh_aws_error and DH_E_SERVICE.
 *  - A per-service endpoint resolver with config overrides.
 *
 * Requests are re-signed on every retry (X-Amz-Date changes).  Credentials
 * are borrowed and never copied into messages or logs.
 */
#ifndef DH_AWS_H
#define DH_AWS_H

#include <cJSON.h>
#include <stddef.h>

#include "dh_err.h"
#include "dh_http.h"
#include "dh_sigv4.h"

#define DH_AWS_MAX_RESPONSE (8u * 1024 * 1024) /* default response ceiling */
#define DH_AWS_MAX_ERROR_BODY (64u * 1024)     /* error bodies parsed */
#define DH_AWS_JSON_CONTENT_TYPE "application/x-amz-json-1.1"
#define DH_AWS_URL_MAX 4096

/* Call outcome: http_status and attempts are filled by every call that
 * reached the server; code, message and request_id on DH_E_SERVICE.
 * Strings are NUL-terminated, truncated to fit, control bytes replaced. */
struct dh_aws_error {
	int http_status;
	int attempts;         /* HTTP attempts made (retries included) */
	char code[128];       /* "ValidationException", "NoSuchKey", or "404" */
	char message[512];
	char request_id[128];
};

enum dh_aws_auth {
	DH_AWS_AUTH_SIGV4 = 0, /* HMAC SigV4 with creds */
	DH_AWS_AUTH_ANON,      /* no Authorization, no X-Amz-Date */
	DH_AWS_AUTH_CUSTOM     /* the signer hook (e.g. dh_rsasig) */
};

/* Custom signer with the shape of dh_sigv4_sign: fill out (the caller frees
 * it) for req under p; p->creds is the client's creds. */
typedef int (*dh_aws_signer_fn)(void *arg, const struct dh_sigv4_request *req,
    const struct dh_sigv4_params *p, struct dh_sigv4_signed *out,
    struct dh_err *err);

/* A client: plain settings the caller fills after dh_aws_client_init.
 * http and every string are borrowed and must outlive the calls. */
struct dh_aws_client {
	struct dh_http_client *http;
	enum dh_aws_auth auth;
	struct dh_sigv4_creds creds;  /* SIGV4; CUSTOM uses access_key */
	dh_aws_signer_fn signer;      /* CUSTOM */
	void *signer_arg;
	size_t max_response;          /* 0 = DH_AWS_MAX_RESPONSE */
};

/* Zero c and borrow http; auth defaults to DH_AWS_AUTH_SIGV4. */
void dh_aws_client_init(struct dh_aws_client *c, struct dh_http_client *http);

/*
 * JSON 1.1 call: POST request (NULL = "{}") to endpoint (https URL; path
 * "/" when none) with X-Amz-Target target, signing name service, region.
 * On 2xx *response is the parsed reply ({} when empty; caller frees with
 * cJSON_Delete).  A service error gives DH_E_SERVICE with aerr (optional)
 * filled; transport errors as dh_http_do.
 */
int dh_aws_json_call(struct dh_aws_client *c, const char *endpoint,
    const char *service, const char *region, const char *target,
    const cJSON *request, cJSON **response, struct dh_aws_error *aerr,
    struct dh_err *err);

/* Same with the request body given as JSON text body[0..n) ("{}" is sent
 * when n is 0). */
int dh_aws_json_call_raw(struct dh_aws_client *c, const char *endpoint,
    const char *service, const char *region, const char *target,
    const void *body, size_t n, cJSON **response, struct dh_aws_error *aerr,
    struct dh_err *err);

/* A query parameter; value NULL gives a bare "name" (e.g. "uploads"). */
struct dh_aws_param {
	const char *name;
	const char *value;
};

enum dh_aws_payload {
	DH_AWS_PAYLOAD_SIGNED = 0, /* hex SHA-256 of the body (empty hash if none) */
	DH_AWS_PAYLOAD_UNSIGNED    /* "UNSIGNED-PAYLOAD" (HTTPS only) */
};

/* An S3 request (all borrowed).  bucket NULL/"" addresses the service,
 * key NULL/"" the bucket.  headers may be NULL. */
struct dh_aws_s3_request {
	const char *method;
	const char *bucket;
	const char *key;
	const struct dh_aws_param *query;
	size_t n_query;
	const struct dh_http_hdrs *headers; /* e.g. Content-Type */
	const void *body;
	size_t body_len;
	enum dh_aws_payload payload;
	int content_md5;     /* 1: add Content-MD5 of the body */
	size_t max_response; /* 0 = the client's ceiling */
};

/*
 * S3 call, path style: <endpoint>/<bucket>/<key>?<query>, service "s3",
 * signed with X-Amz-Content-SHA256.  resp (initialised by the caller) holds
 * status, headers (ETag, Content-Length...) and body.  Non-2xx gives
 * DH_E_SERVICE with aerr filled from the error XML, or from the status for
 * bodiless answers (HEAD): code "404", message "Not Found".
 */
int dh_aws_s3_call(struct dh_aws_client *c, const char *endpoint,
    const char *region, const struct dh_aws_s3_request *r,
    struct dh_http_response *resp, struct dh_aws_error *aerr,
    struct dh_err *err);

/*
 * Parse a service error response: JSON ("__type" after its last '#',
 * "message"/"Message"), XML ("<Error><Code>/<Message>/<RequestId>", also
 * nested in <ErrorResponse><Errors>), the x-amzn-ErrorType header, request
 * id headers.  out is always filled; without a code the status becomes the
 * code ("404") and its reason phrase the message.  headers may be NULL.
 * Returns 0 when a code came from the response, DH_E_FORMAT when only the
 * status was usable.
 */
int dh_aws_parse_error(int http_status, const struct dh_http_hdrs *headers,
    const void *body, size_t n, struct dh_aws_error *out);

/* An endpoint override: requests for service go to url (borrowed). */
struct dh_aws_endpoint {
	const char *service;
	const char *url;
};

/*
 * Base URL for service in region into out[outsz]: the matching override if
 * any, else https://<service>.<region>.amazonaws.com (".com.cn" for cn-
 * regions; S3 https://s3.<region>.amazonaws.com), no trailing '/'.
 * DH_E_ARG for a malformed service, region or override URL.
 */
int dh_aws_endpoint_url(const struct dh_aws_endpoint *overrides, size_t n,
    const char *service, const char *region, char *out, size_t outsz,
    struct dh_err *err);

/* Sign req (a POST of req->body to host/path, Content-Type
 * application/json) for service in region with HMAC SigV4 and add the
 * X-Amz-Date, X-Amz-Security-Token and Authorization headers to req; for
 * REST-JSON calls such as ssmmessages Create*Channel. */
int dh_aws_sign_json_post(struct dh_http_request *req, const char *host,
    const char *path, const struct dh_sigv4_creds *creds, const char *region,
    const char *service, struct dh_err *err);

#endif
