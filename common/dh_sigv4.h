/*
 * dh_sigv4: AWS Signature Version 4 (AWS4-HMAC-SHA256), both directions.
 *
 * Signing (agent, HTTP client, CLI): given a request (method, raw path, raw
 * query, header list, body or a precomputed payload hash), credentials,
 * region, service and a time, build the canonical request and the
 * string-to-sign exactly as botocore does, derive the HMAC signature and
 * return the headers to add (X-Amz-Date, X-Amz-Security-Token,
 * X-Amz-Content-SHA256, Authorization).  The canonical request and
 * string-to-sign are kept in the result for debugging.  dh_rsasig reuses
 * dh_sigv4_prepare/dh_sigv4_finish for the hybrid-instance RSA-PSS scheme.
 *
 * Verification (gateway): dh_sigv4_verify_begin parses the Authorization
 * header (or presigned X-Amz-* query parameters), checks algorithm, clock
 * skew / expiry and the credential scope, and rebuilds the canonical request
 * from exactly the SignedHeaders.  The caller then looks up the access key id
 * (v.auth.access_key) and calls dh_sigv4_verify_hmac with its secret, or
 * dh_rsasig_verify_sigv4 with an instance public key for "mi-..." ids.
 *
 * Canonical rules: method as given; path normalised (dot segments removed,
 * repeated '/' collapsed, empty -> "/") unless DH_SIGV4_NO_NORMALIZE, then
 * URI-encoded once more with the unreserved set A-Za-z0-9-_.~ plus '/'
 * (so "%20" on the wire becomes "%2520"), unless DH_SIGV4_NO_DOUBLE_ENCODE
 * where the wire path is used verbatim (S3); query split on '&', each key and
 * value percent-decoded then re-encoded with the unreserved set, a missing
 * '=' giving "k=", sorted by encoded key then encoded value; header names
 * lower-cased and sorted, values trimmed with inner whitespace runs collapsed
 * to one space, repeated headers joined with ',' in arrival order; payload
 * hash = the X-Amz-Content-SHA256 header when present, else the caller's
 * payload_hash, else hex SHA-256 of the body.
 *
 * Ownership: every const pointer in the input structs is borrowed for the
 * duration of the call.  Result structs own their buffers; release them with
 * the matching *_free function (which wipes key material).  Secrets are never
 * copied into error messages.
 */
#ifndef DH_SIGV4_H
#define DH_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "dh_buf.h"
#include "dh_err.h"

#define DH_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define DH_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define DH_SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define DH_SIGV4_SKEW_DEFAULT 300  /* seconds; most services */
#define DH_SIGV4_SKEW_S3 900       /* seconds; S3 */
#define DH_SIGV4_PRESIGN_MAX 604800 /* longest X-Amz-Expires accepted */

#define DH_SIGV4_MAX_HEADERS 128       /* header lines in one request */
#define DH_SIGV4_MAX_HEAD (64 * 1024)  /* request line + headers, bytes */
#define DH_SIGV4_MAX_CANON (256 * 1024) /* canonical request, bytes */
#define DH_SIGV4_MAX_SIG 1024          /* signature text (hex or base64) */

/* Flags for dh_sigv4_params.flags and dh_sigv4_verify_opts.flags. */
#define DH_SIGV4_NO_NORMALIZE 0x01     /* keep "." / ".." / "//" in the path */
#define DH_SIGV4_NO_DOUBLE_ENCODE 0x02 /* use the wire path verbatim */
#define DH_SIGV4_ADD_CONTENT_SHA256 0x04 /* sign: add X-Amz-Content-SHA256 */
/* S3 as botocore's S3SigV4Auth: all three of the above. */
#define DH_SIGV4_S3 (DH_SIGV4_NO_NORMALIZE | DH_SIGV4_NO_DOUBLE_ENCODE | \
	DH_SIGV4_ADD_CONTENT_SHA256)

/* One header line.  name/value are NUL-terminated and borrowed. */
struct dh_sigv4_header {
	const char *name;
	const char *value;
};

/*
 * A request to sign or verify (all borrowed).  path is the raw path as on the
 * wire (percent-encoding kept, "" means "/"); query is the raw query without
 * '?' (NULL or "" for none).  headers must include Host (with ":port" when
 * the URL has one).  body may be NULL when body_len is 0.  payload_hash, when
 * non-NULL, replaces hashing the body: a 64-char lowercase hex SHA-256 or a
 * literal such as "UNSIGNED-PAYLOAD".
 */
struct dh_sigv4_request {
	const char *method;
	const char *path;
	const char *query;
	const struct dh_sigv4_header *headers;
	size_t n_headers;
	const void *body;
	size_t body_len;
	const char *payload_hash;
};

/* Credentials (borrowed).  session_token may be NULL. */
struct dh_sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *session_token;
};

/* Signing parameters.  creds is borrowed; creds->secret_key may be NULL for
 * dh_sigv4_prepare (RSA signing needs no secret). */
struct dh_sigv4_params {
	const struct dh_sigv4_creds *creds;
	const char *region;
	const char *service;
	time_t t;         /* signing time (UTC epoch seconds) */
	unsigned flags;   /* DH_SIGV4_* */
};

#define DH_SIGV4_MAX_ADD 4

/*
 * Result of signing.  add[] lists the headers the caller must send in
 * addition to (or instead of, same name case-insensitively) its own, in this
 * order: X-Amz-Date, [X-Amz-Security-Token], [X-Amz-Content-SHA256],
 * Authorization (the last only after dh_sigv4_finish).  Their strings point
 * into this struct and live until dh_sigv4_signed_free.
 */
struct dh_sigv4_signed {
	char amz_date[17];          /* YYYYMMDDTHHMMSSZ */
	char scope[256];            /* date/region/service/aws4_request */
	char payload_hash[80];      /* value used in the canonical request */
	struct dh_buf canonical_request;
	struct dh_buf string_to_sign;
	struct dh_buf signed_headers;   /* "content-type;host;x-amz-date" */
	struct dh_buf authorization;    /* full Authorization value */
	char signature[DH_SIGV4_MAX_SIG + 1]; /* hex (HMAC) or base64 (RSA) */
	struct dh_sigv4_header add[DH_SIGV4_MAX_ADD];
	size_t n_add;
	char *token_copy;           /* owned copy of the session token, wiped */
};

/*
 * Sign req with HMAC-SHA256: initialises and fills out (release it with
 * dh_sigv4_signed_free even on failure; free before reusing it).  Headers
 * named Authorization, X-Amz-Date, X-Amz-Security-Token (when creds carry a
 * token) and X-Amz-Content-SHA256 (when DH_SIGV4_ADD_CONTENT_SHA256) in req
 * are ignored and replaced by out->add; a Date header is signed as an
 * ordinary header (unlike botocore, which rewrites it), so do not send one;
 * User-Agent, Expect and X-Amzn-Trace-Id are never signed (as botocore).
 * For a websocket upgrade pass GET, the URL path/query and only the Host
 * header: the signed headers become host;x-amz-date[;x-amz-security-token].
 * DH_E_ARG when Host, credentials, region or service are missing.
 */
int dh_sigv4_sign(const struct dh_sigv4_request *req,
    const struct dh_sigv4_params *p, struct dh_sigv4_signed *out,
    struct dh_err *err);

/*
 * First half of dh_sigv4_sign: everything except the signature (canonical
 * request, string-to-sign, scope, add[] without Authorization).  Used by
 * dh_rsasig, which signs out->string_to_sign with RSA-PSS instead.
 */
int dh_sigv4_prepare(const struct dh_sigv4_request *req,
    const struct dh_sigv4_params *p, struct dh_sigv4_signed *out,
    struct dh_err *err);

/*
 * Second half: record signature (hex or base64 text, borrowed) and build
 * "AWS4-HMAC-SHA256 Credential=<access_key>/<scope>, SignedHeaders=...,
 * Signature=..." into out->authorization, appending it to out->add.
 */
int dh_sigv4_finish(struct dh_sigv4_signed *out, const char *access_key,
    const char *signature, struct dh_err *err);

/* Release buffers of a (possibly partly filled) result and wipe it. */
void dh_sigv4_signed_free(struct dh_sigv4_signed *s);

/* Zero-initialise a result so that dh_sigv4_signed_free is always safe
 * (sign/prepare also do this themselves). */
void dh_sigv4_signed_init(struct dh_sigv4_signed *s);

/*
 * Append the canonical request of req to out, signing exactly the header
 * names listed in signed_headers (';'-separated, lower-case, sorted; each
 * must be present in req, else DH_E_AUTH naming it) with payload hash
 * payload_hash.  Low-level piece shared by signer and verifier.
 */
int dh_sigv4_canonical_request(const struct dh_sigv4_request *req,
    const char *signed_headers, const char *payload_hash, unsigned flags,
    struct dh_buf *out, struct dh_err *err);

/* Append the canonical (normalised unless NO_NORMALIZE, encoded unless
 * NO_DOUBLE_ENCODE) form of a raw wire path to out. */
int dh_sigv4_canonical_path(const char *path, unsigned flags,
    struct dh_buf *out, struct dh_err *err);

/* Append the canonical form of a raw query string (may be NULL) to out,
 * dropping any parameter named in skip (NULL or a NULL-terminated list of
 * exact encoded names, used for presigned X-Amz-Signature). */
int dh_sigv4_canonical_query(const char *query, const char *const *skip,
    struct dh_buf *out, struct dh_err *err);

/* Append the AWS URI encoding of s[0..n) (unreserved A-Za-z0-9-_.~ kept;
 * '/' kept when keep_slash) to out, uppercase hex. */
int dh_sigv4_uri_encode(const char *s, size_t n, int keep_slash,
    struct dh_buf *out);

/* Derive the SigV4 signing key kSigning from secret, date (YYYYMMDD),
 * region and service into key[32]; caller wipes key. */
void dh_sigv4_signing_key(const char *secret, const char *date8,
    const char *region, const char *service, unsigned char key[32]);

/* Hex HMAC-SHA256 signature of the string-to-sign sts[0..n) under secret
 * and scope fields, into hex[65]. */
void dh_sigv4_hmac_signature(const char *secret, const char *date8,
    const char *region, const char *service, const char *sts, size_t n,
    char hex[65]);

/* ---------------------------------------------------------------- verify */

/* Why a verification failed (also in dh_err.msg, in words). */
enum dh_sigv4_fail {
	DH_SIGV4_FAIL_NONE = 0,
	DH_SIGV4_FAIL_MISSING,          /* no Authorization and no X-Amz-Signature */
	DH_SIGV4_FAIL_MALFORMED,        /* Authorization / query auth unparsable */
	DH_SIGV4_FAIL_ALGORITHM,        /* not AWS4-HMAC-SHA256 */
	DH_SIGV4_FAIL_DATE,             /* X-Amz-Date missing or malformed */
	DH_SIGV4_FAIL_SKEW,             /* request time too far from now */
	DH_SIGV4_FAIL_EXPIRED,          /* presigned URL past X-Amz-Expires */
	DH_SIGV4_FAIL_SCOPE_DATE,       /* scope date != X-Amz-Date's date */
	DH_SIGV4_FAIL_SCOPE_REGION,     /* scope region != expected */
	DH_SIGV4_FAIL_SCOPE_SERVICE,    /* scope service != expected */
	DH_SIGV4_FAIL_SCOPE_TERMINATOR, /* scope does not end in aws4_request */
	DH_SIGV4_FAIL_HOST_UNSIGNED,    /* host not among SignedHeaders */
	DH_SIGV4_FAIL_HEADER_MISSING,   /* a SignedHeaders name is absent */
	DH_SIGV4_FAIL_PAYLOAD,          /* X-Amz-Content-SHA256 != body hash */
	DH_SIGV4_FAIL_SIGNATURE         /* signature does not match */
};

/* Static name of a failure reason ("SignatureDoesNotMatch"-like); never NULL. */
const char *dh_sigv4_fail_name(enum dh_sigv4_fail f);

/* Parsed Authorization header or presigned query credentials. */
struct dh_sigv4_auth {
	int presigned;                 /* 1 when from X-Amz-* query parameters */
	char algorithm[32];
	char access_key[129];          /* AKID, ASIA..., or mi-... */
	char date8[9];                 /* scope date YYYYMMDD */
	char region[64];
	char service[64];
	char terminator[16];           /* "aws4_request" */
	char signed_headers[2048];     /* as sent, ';'-separated */
	char signature[DH_SIGV4_MAX_SIG + 1];
	char amz_date[17];             /* X-Amz-Date (header or query) */
	long expires;                  /* X-Amz-Expires, presigned only */
};

/* Parse an Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...", any order, optional spaces) into a.
 * DH_E_FORMAT with the reason on malformed input; DH_E_AUTH for another
 * algorithm. */
int dh_sigv4_parse_authorization(const char *value, struct dh_sigv4_auth *a,
    struct dh_err *err);

/* Verification options.  region/service NULL = accept any (the caller reads
 * v.auth.region/service).  now is the server time; max_skew in seconds (0 =
 * DH_SIGV4_SKEW_DEFAULT).  flags: DH_SIGV4_NO_NORMALIZE /
 * DH_SIGV4_NO_DOUBLE_ENCODE as the service signs (DH_SIGV4_S3 for S3, which
 * also makes presigned requests use UNSIGNED-PAYLOAD). */
struct dh_sigv4_verify_opts {
	const char *region;
	const char *service;
	time_t now;
	long max_skew;
	unsigned flags;
};

/* State between dh_sigv4_verify_begin and the signature check. */
struct dh_sigv4_verify {
	struct dh_sigv4_auth auth;
	enum dh_sigv4_fail fail;
	const char *security_token;    /* borrowed from req (header/query), or NULL */
	char payload_hash[80];
	struct dh_buf canonical_request;
	struct dh_buf string_to_sign;
	struct dh_buf token_buf;       /* decoded presigned token storage */
};

/*
 * Step 1 of verification: find and parse the credentials in req (header
 * auth, else presigned query auth), check algorithm, X-Amz-Date, clock skew
 * (presigned: not before date - skew, not after date + expires), scope
 * date/region/service/terminator, that host is signed and every signed header
 * is present, the X-Amz-Content-SHA256 header against the body when both are
 * present and hex, then rebuild canonical request and string-to-sign into v.
 * Returns 0, or DH_E_AUTH / DH_E_FORMAT / DH_E_INTEGRITY with v->fail set and
 * a distinct message.  Release v with dh_sigv4_verify_free in all cases.
 */
int dh_sigv4_verify_begin(const struct dh_sigv4_request *req,
    const struct dh_sigv4_verify_opts *o, struct dh_sigv4_verify *v,
    struct dh_err *err);

/* Step 2 (HMAC): recompute the signature with secret_key (looked up by
 * v->auth.access_key) and compare in constant time; DH_E_AUTH
 * (DH_SIGV4_FAIL_SIGNATURE) on mismatch. */
int dh_sigv4_verify_hmac(struct dh_sigv4_verify *v, const char *secret_key,
    struct dh_err *err);

/* Release a verification state (safe after a failed begin or on zeroed v). */
void dh_sigv4_verify_free(struct dh_sigv4_verify *v);

/* ------------------------------------------------------- raw HTTP parsing */

/*
 * A request parsed from raw HTTP/1.x text.  The head (request line and
 * headers) is copied into owned storage; the body points into the caller's
 * text (which must outlive p) unless it was chunked, in which case it is
 * decoded into owned storage.  req is ready to pass to sign/verify.
 */
struct dh_sigv4_http {
	struct dh_sigv4_request req;
	struct dh_sigv4_header headers[DH_SIGV4_MAX_HEADERS];
	const char *version;           /* "HTTP/1.1" */
	char *head;                    /* owned NUL-separated head copy */
	struct dh_buf chunked;         /* owned decoded chunked body */
};

/*
 * Parse text[0..n) as "METHOD SP target SP HTTP/1.x" CRLF (or LF) headers
 * (obs-fold continuation lines joined with a space) blank line, body.  The
 * target is origin-form "/path[?query]".  The body is Content-Length bytes
 * when that header is present (DH_E_SHORT if fewer), decoded chunks for
 * Transfer-Encoding: chunked, else the rest of the text.  Limits:
 * DH_SIGV4_MAX_HEAD bytes of head, DH_SIGV4_MAX_HEADERS lines; DH_E_FORMAT
 * or DH_E_TOOBIG with the line number on malformed input.  Release with
 * dh_sigv4_http_free in all cases.
 */
int dh_sigv4_parse_http(const void *text, size_t n, struct dh_sigv4_http *p,
    struct dh_err *err);

/* Release a parsed request (safe on a zeroed or failed one). */
void dh_sigv4_http_free(struct dh_sigv4_http *p);

/* First value of header name (case-insensitive) in req, or NULL. */
const char *dh_sigv4_header_get(const struct dh_sigv4_request *req,
    const char *name);

#endif
