/*
 * dh_http: a small HTTPS client over one reused libcurl easy handle.
 *
 * TLS peer and host verification are always on; the only TLS knob is the CA
 * bundle (a PEM file; default: the system store).  Only https:// URLs are
 * accepted and redirects are never followed.  A proxy comes from the config or
 * from the standard environment (https_proxy / HTTPS_PROXY, no_proxy), and
 * https traffic goes through it with a CONNECT tunnel.  Response bodies and
 * headers are captured under ceilings: a body crossing its cap aborts the
 * transfer with DH_E_TOOBIG and nothing past the cap is buffered.
 *
 * Retries use jittered exponential backoff and happen only for throttling
 * (429, or a throttling error code reported by the caller's error-code hook),
 * 5xx and connection failures or timeouts; other 4xx are never retried.  A
 * sign hook runs before every attempt, so signatures that cover a timestamp
 * are rebuilt for each try.  Header values are never logged.
 *
 * The pure pieces (backoff schedule, retry decision, curl-code mapping, URL
 * splitting) are exported for unit tests.
 *
 * A client owns one curl handle and is not thread-safe: use one client per
 * thread.  Requests go out as HTTP/1.1 without compression.
 */
#ifndef DH_HTTP_H
#define DH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"

#define DH_HTTP_DEFAULT_CONNECT_MS 10000
#define DH_HTTP_DEFAULT_TIMEOUT_MS 60000
#define DH_HTTP_DEFAULT_MAX_BODY (16u * 1024 * 1024)
#define DH_HTTP_DEFAULT_MAX_HEADERS (64u * 1024)
#define DH_HTTP_MAX_HEADER_COUNT 128
#define DH_HTTP_DEFAULT_ATTEMPTS 4
#define DH_HTTP_MAX_ATTEMPTS 16
#define DH_HTTP_DEFAULT_BACKOFF_BASE_MS 100
#define DH_HTTP_DEFAULT_BACKOFF_CAP_MS 20000
/* Request bodies at least this large go with "Expect: 100-continue". */
#define DH_HTTP_EXPECT_THRESHOLD (1024u * 1024)

/* Client settings; zero values select the defaults above.  Strings are
 * copied by dh_http_client_new. */
struct dh_http_config {
	const char *ca_file;      /* PEM CA bundle; NULL = system store */
	const char *proxy;        /* proxy URL; NULL = https_proxy/HTTPS_PROXY */
	const char *no_proxy;     /* hosts bypassing the proxy; NULL = env */
	const char *user_agent;   /* NULL = "deckhand/<version>" */
	long connect_timeout_ms;
	long timeout_ms;          /* whole transfer, per attempt */
	size_t max_body;          /* response body ceiling */
	size_t max_headers;       /* response header bytes ceiling */
	int max_attempts;         /* 1 = no retry; at most DH_HTTP_MAX_ATTEMPTS */
	long backoff_base_ms;
	long backoff_cap_ms;
	/* Random source for jitter: returns a value in [0, bound); NULL uses
	 * dh_random_uniform.  Tests inject a fixed one. */
	uint32_t (*rnd)(void *arg, uint32_t bound);
	void *rnd_arg;
	/* Sleep hook between attempts (ms); NULL sleeps for real. */
	void (*sleep_ms)(void *arg, long ms);
	void *sleep_arg;
};

/* One header.  Both strings are owned by the list that holds them. */
struct dh_http_hdr {
	char *name;
	char *value;
};

/* An ordered header list (owned strings). */
struct dh_http_hdrs {
	struct dh_http_hdr *v;
	size_t n;
	size_t cap;
};

/* Replace the first header called name (case-insensitive) or append it;
 * copies both strings.  Names/values with CR, LF or NUL are DH_E_ARG. */
int dh_http_hdrs_set(struct dh_http_hdrs *h, const char *name,
    const char *value);
/* Append without replacing (for repeated headers). */
int dh_http_hdrs_add(struct dh_http_hdrs *h, const char *name,
    const char *value);
/* Remove every header called name (case-insensitive). */
void dh_http_hdrs_del(struct dh_http_hdrs *h, const char *name);
/* Value of the first header called name, or NULL (points into the list). */
const char *dh_http_hdrs_get(const struct dh_http_hdrs *h, const char *name);
/* Free every header and the array; the list is left empty and reusable. */
void dh_http_hdrs_free(struct dh_http_hdrs *h);

struct dh_http_request;

/* Called before every attempt; may set headers (e.g. X-Amz-Date and
 * Authorization).  Returns 0 or a DH_E_* code that ends the call. */
typedef int (*dh_http_sign_fn)(void *arg, struct dh_http_request *req,
    struct dh_err *err);

struct dh_http_response;

/* Writes the service error code (e.g. "ThrottlingException") of an error
 * response into code[0..n) so the retry policy can see throttling codes;
 * leaves code empty when there is none. */
typedef void (*dh_http_errcode_fn)(void *arg,
    const struct dh_http_response *resp, char *code, size_t n);

/* A request.  The caller owns every pointer; headers is owned by the
 * caller too and freed with dh_http_hdrs_free. */
struct dh_http_request {
	const char *method;        /* "GET", "PUT", "POST", "HEAD", "DELETE" */
	const char *url;           /* https://host[:port]/path[?query] */
	struct dh_http_hdrs headers;
	const void *body;          /* may be NULL when body_len is 0 */
	size_t body_len;
	dh_http_sign_fn sign;      /* optional */
	void *sign_arg;
	dh_http_errcode_fn errcode; /* optional */
	void *errcode_arg;
	size_t max_body;           /* 0 = the client's ceiling */
};

/* A response.  body and headers are owned; free with dh_http_response_free. */
struct dh_http_response {
	long status;               /* 0 when no response was received */
	struct dh_buf body;
	struct dh_http_hdrs headers; /* of the final response only */
	int attempts;              /* attempts made (>= 1 once sent) */
};

struct dh_http_client;

/* Create a client; *out owned, free with dh_http_client_free. */
int dh_http_client_new(const struct dh_http_config *cfg,
    struct dh_http_client **out, struct dh_err *err);
/* Close connections and free the client (NULL is fine). */
void dh_http_client_free(struct dh_http_client *c);

/* Zero a request (empty header list). */
void dh_http_request_init(struct dh_http_request *r);
/* Free the request's headers (other pointers are the caller's). */
void dh_http_request_free(struct dh_http_request *r);
/* Zero a response. */
void dh_http_response_init(struct dh_http_response *r);
/* Release the response body and headers. */
void dh_http_response_free(struct dh_http_response *r);

/* Perform req with retries.  Returns 0 whenever an HTTP response arrived
 * (any status: the caller judges it), DH_E_TOOBIG past a ceiling, DH_E_NET,
 * DH_E_TLS, DH_E_TIMEOUT, DH_E_ARG for a bad URL/method, or the sign hook's
 * code.  resp (initialised by the caller) holds the final attempt. */
int dh_http_do(struct dh_http_client *c, struct dh_http_request *req,
    struct dh_http_response *resp, struct dh_err *err);

/* Backoff before retry number attempt (0-based): d = min(cap, base * 2^attempt),
 * result uniformly jittered in [d/2, d] using rnd (NULL = dh_random_uniform). */
long dh_http_backoff_ms(int attempt, long base_ms, long cap_ms,
    uint32_t (*rnd)(void *arg, uint32_t bound), void *arg);

/* 1 when code is an AWS throttling error code (ThrottlingException,
 * TooManyRequestsException, RequestLimitExceeded, SlowDown, ...). */
int dh_http_is_throttle_code(const char *code);

/* Retry decision for one finished attempt: rc is that attempt's result
 * (0 when a response arrived), status its HTTP status and code the service
 * error code or NULL.  1 = retry, 0 = final. */
int dh_http_should_retry(int rc, long status, const char *code);

/* Map a CURLcode (as int) to a DH_E_* code (DH_OK for CURLE_OK). */
int dh_http_map_curl(int curlcode);

/* Parse a Retry-After value given in seconds; *ms set on success.  HTTP
 * dates are not honoured (DH_E_FORMAT). */
int dh_http_parse_retry_after(const char *v, long *ms);

/* Split an https URL into host header value ("host" or "host:port" when the
 * port is not 443), path ("/" when empty, still percent-encoded) and query
 * (without '?', may be empty).  Buffers are caller-owned with the given
 * sizes; DH_E_ARG for other schemes, userinfo, fragments or overflow. */
int dh_http_url_split(const char *url, char *host, size_t hostsz,
    char *path, size_t pathsz, char *query, size_t querysz,
    struct dh_err *err);

#endif
