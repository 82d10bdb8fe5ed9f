/*
 * dh_http: HTTPS client over one reused libcurl easy handle, with bounded
 * response capture, verified TLS only, proxy support and a throttling-aware
 * retry loop (see dh_http.h).  The pure helpers at the top (header lists,
 * backoff, retry decision, curl-code mapping, URL splitting) carry most of
 * the policy and are unit-tested without a network.
 */
#include "dh_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dh_hash.h"
#include "dh_log.h"
#include "dh_tls.h"

#ifndef DH_VERSION
#define DH_VERSION "0"
#endif

#define BACKOFF_CAP_LIMIT_MS (10L * 60 * 1000)
#define EXPECT_100_TIMEOUT_MS 1000L

struct dh_http_client {
	CURL *h;
	char *ca_file;
	char *proxy;
	char *no_proxy;
	char *user_agent;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_body;
	size_t max_headers;
	int max_attempts;
	long backoff_base_ms;
	long backoff_cap_ms;
	uint32_t (*rnd)(void *arg, uint32_t bound);
	void *rnd_arg;
	void (*sleep_ms)(void *arg, long ms);
	void *sleep_arg;
	char errbuf[CURL_ERROR_SIZE];
};

/* Per-attempt capture state shared with the curl callbacks. */
struct capture {
	struct dh_http_response *resp;
	size_t hdr_bytes;
	size_t max_headers;
	int body_toobig;
	int hdr_toobig;
	int hdr_nomem;
};

/* ---- header lists ---- */

static int
hdr_text_ok(const char *s, int is_name)
{
	const unsigned char *p;

	if (s == NULL || (is_name && *s == '\0'))
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			return 0;
		if (is_name && (*p <= ' ' || *p == ':' || *p >= 0x7f))
			return 0;
	}
	return 1;
}

static int
hdrs_append(struct dh_http_hdrs *h, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	struct dh_http_hdr *nv;
	char *n = NULL, *v = NULL;
	size_t ncap;

	if (h->n == h->cap) {
		ncap = h->cap == 0 ? 8 : h->cap * 2;
		nv = realloc(h->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return DH_E_NOMEM;
		h->v = nv;
		h->cap = ncap;
	}
	n = strndup(name, nlen);
	v = strndup(value, vlen);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		return DH_E_NOMEM;
	}
	h->v[h->n].name = n;
	h->v[h->n].value = v;
	h->n++;
	return DH_OK;
}

int
dh_http_hdrs_add(struct dh_http_hdrs *h, const char *name, const char *value)
{
	if (!hdr_text_ok(name, 1) || !hdr_text_ok(value, 0))
		return DH_E_ARG;
	return hdrs_append(h, name, strlen(name), value, strlen(value));
}

int
dh_http_hdrs_set(struct dh_http_hdrs *h, const char *name, const char *value)
{
	char *v;
	size_t i;

	if (!hdr_text_ok(name, 1) || !hdr_text_ok(value, 0))
		return DH_E_ARG;
	for (i = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, name) != 0)
			continue;
		v = strdup(value);
		if (v == NULL)
			return DH_E_NOMEM;
		dh_wipe(h->v[i].value, strlen(h->v[i].value));
		free(h->v[i].value);
		h->v[i].value = v;
		return DH_OK;
	}
	return hdrs_append(h, name, strlen(name), value, strlen(value));
}

void
dh_http_hdrs_del(struct dh_http_hdrs *h, const char *name)
{
	size_t i = 0;

	while (i < h->n) {
		if (strcasecmp(h->v[i].name, name) != 0) {
			i++;
			continue;
		}
		free(h->v[i].name);
		dh_wipe(h->v[i].value, strlen(h->v[i].value));
		free(h->v[i].value);
		memmove(&h->v[i], &h->v[i + 1], (h->n - i - 1) * sizeof(h->v[0]));
		h->n--;
	}
}

const char *
dh_http_hdrs_get(const struct dh_http_hdrs *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	return NULL;
}

void
dh_http_hdrs_free(struct dh_http_hdrs *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].name);
		/* Values may be Authorization or security tokens. */
		dh_wipe(h->v[i].value, strlen(h->v[i].value));
		free(h->v[i].value);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
}

void
dh_http_request_init(struct dh_http_request *r)
{
	memset(r, 0, sizeof(*r));
}

void
dh_http_request_free(struct dh_http_request *r)
{
	dh_http_hdrs_free(&r->headers);
}

void
dh_http_response_init(struct dh_http_response *r)
{
	memset(r, 0, sizeof(*r));
	dh_buf_init(&r->body, DH_HTTP_DEFAULT_MAX_BODY);
}

void
dh_http_response_free(struct dh_http_response *r)
{
	dh_buf_free(&r->body);
	dh_http_hdrs_free(&r->headers);
	r->status = 0;
}

/* ---- pure policy ---- */

long
dh_http_backoff_ms(int attempt, long base_ms, long cap_ms,
    uint32_t (*rnd)(void *arg, uint32_t bound), void *arg)
{
	long d, half;
	uint32_t j;
	int i;

	if (base_ms <= 0)
		base_ms = DH_HTTP_DEFAULT_BACKOFF_BASE_MS;
	if (cap_ms <= 0)
		cap_ms = DH_HTTP_DEFAULT_BACKOFF_CAP_MS;
	if (cap_ms > BACKOFF_CAP_LIMIT_MS)
		cap_ms = BACKOFF_CAP_LIMIT_MS;
	if (base_ms > cap_ms)
		base_ms = cap_ms;
	d = base_ms;
	for (i = 0; i < attempt && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	half = d / 2;
	j = rnd != NULL ? rnd(arg, (uint32_t)half + 1) :
	    dh_random_uniform((uint32_t)half + 1);
	if ((long)j > half)
		j = (uint32_t)half;
	return d - half + (long)j;
}

int
dh_http_is_throttle_code(const char *code)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException",
		"TransactionInProgressException", "RequestLimitExceeded",
		"BandwidthLimitExceeded", "RequestThrottled", "SlowDown",
		"EC2ThrottledException", "TooManyUpdates",
	};
	size_t i;

	if (code == NULL || *code == '\0')
		return 0;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* Transient, non-throttling service codes that AWS SDKs retry. */
static int
is_transient_code(const char *code)
{
	static const char *const codes[] = {
		"RequestTimeout", "RequestTimeoutException",
		"PriorRequestNotComplete", "InternalError", "InternalFailure",
		"ServiceUnavailable",
	};
	size_t i;

	if (code == NULL || *code == '\0')
		return 0;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

int
dh_http_should_retry(int rc, long status, const char *code)
{
	if (rc == DH_E_NET || rc == DH_E_TIMEOUT)
		return 1;
	if (rc != DH_OK)
		return 0;
	if (status == 429)
		return 1;
	if (status >= 500 && status <= 599 && status != 501 && status != 505)
		return 1;
	if (status >= 400 &&
	    (dh_http_is_throttle_code(code) || is_transient_code(code)))
		return 1;
	return 0;
}

int
dh_http_map_curl(int curlcode)
{
	switch ((CURLcode)curlcode) {
	case CURLE_OK:
		return DH_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return DH_E_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return DH_E_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return DH_E_TOOBIG;
	case CURLE_OUT_OF_MEMORY:
		return DH_E_NOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_SETOPT_OPTION_SYNTAX:
	case CURLE_NOT_BUILT_IN:
		return DH_E_ARG;
	default:
		return DH_E_NET;
	}
}

int
dh_http_parse_retry_after(const char *v, long *ms)
{
	long s = 0;
	const char *p = v;

	if (v == NULL)
		return DH_E_FORMAT;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!isdigit((unsigned char)*p))
		return DH_E_FORMAT;
	while (isdigit((unsigned char)*p)) {
		if (s > 86400)
			return DH_E_FORMAT;
		s = s * 10 + (*p - '0');
		p++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' || s > 86400)
		return DH_E_FORMAT;
	*ms = s * 1000;
	return DH_OK;
}

static int
copy_part(char *dst, size_t dstsz, const char *p, size_t n)
{
	if (n + 1 > dstsz)
		return DH_E_ARG;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return DH_OK;
}

int
dh_http_url_split(const char *url, char *host, size_t hostsz, char *path,
    size_t pathsz, char *query, size_t querysz, struct dh_err *err)
{
	const char *p, *auth_end, *hp_end, *port = NULL, *q;
	size_t i;

	if (url == NULL || strncasecmp(url, "https://", 8) != 0)
		return dh_err_set(err, DH_E_ARG, "URL must start with https://");
	p = url + 8;
	auth_end = p + strcspn(p, "/?#");
	if (auth_end == p)
		return dh_err_set(err, DH_E_ARG, "URL has no host");
	if (memchr(p, '@', (size_t)(auth_end - p)) != NULL)
		return dh_err_set(err, DH_E_ARG, "URL must not carry userinfo");
	if (strchr(url, '#') != NULL)
		return dh_err_set(err, DH_E_ARG, "URL must not carry a fragment");
	for (q = url; *q != '\0'; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
			return dh_err_set(err, DH_E_ARG,
			    "URL contains a space or non-ASCII byte");
	if (*p == '[') {
		hp_end = memchr(p, ']', (size_t)(auth_end - p));
		if (hp_end == NULL)
			return dh_err_set(err, DH_E_ARG, "unterminated IPv6 host");
		hp_end++;
		if (hp_end < auth_end) {
			if (*hp_end != ':')
				return dh_err_set(err, DH_E_ARG,
				    "junk after IPv6 host");
			port = hp_end + 1;
		}
	} else {
		hp_end = memchr(p, ':', (size_t)(auth_end - p));
		if (hp_end != NULL)
			port = hp_end + 1;
		else
			hp_end = auth_end;
		for (q = p; q < hp_end; q++)
			if (!isalnum((unsigned char)*q) && *q != '-' &&
			    *q != '.' && *q != '_')
				return dh_err_set(err, DH_E_ARG,
				    "invalid character in URL host");
	}
	if (hp_end == p)
		return dh_err_set(err, DH_E_ARG, "URL has no host");
	if (port != NULL) {
		unsigned long pn = 0;

		if (port == auth_end)
			return dh_err_set(err, DH_E_ARG, "empty URL port");
		for (q = port; q < auth_end; q++) {
			if (!isdigit((unsigned char)*q))
				return dh_err_set(err, DH_E_ARG,
				    "invalid URL port");
			pn = pn * 10 + (unsigned long)(*q - '0');
			if (pn > 65535)
				return dh_err_set(err, DH_E_ARG,
				    "URL port out of range");
		}
		if (pn == 0)
			return dh_err_set(err, DH_E_ARG, "URL port out of range");
		if (pn == 443)
			port = NULL;
	}
	if (copy_part(host, hostsz, p,
	    (size_t)((port != NULL ? auth_end : hp_end) - p)) != DH_OK)
		return dh_err_set(err, DH_E_ARG, "URL host too long");
	for (i = 0; host[i] != '\0'; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	q = strchr(auth_end, '?');
	if (*auth_end != '/' && *auth_end != '?' && *auth_end != '\0')
		return dh_err_set(err, DH_E_ARG, "malformed URL");
	if (*auth_end == '/') {
		if (copy_part(path, pathsz, auth_end,
		    q != NULL ? (size_t)(q - auth_end) : strlen(auth_end)) !=
		    DH_OK)
			return dh_err_set(err, DH_E_ARG, "URL path too long");
	} else if (copy_part(path, pathsz, "/", 1) != DH_OK)
		return dh_err_set(err, DH_E_ARG, "URL path too long");
	if (copy_part(query, querysz, q != NULL ? q + 1 : "",
	    q != NULL ? strlen(q + 1) : 0) != DH_OK)
		return dh_err_set(err, DH_E_ARG, "URL query too long");
	return DH_OK;
}

/* ---- client ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void
global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int
dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return DH_OK;
	*out = strdup(s);
	return *out != NULL ? DH_OK : DH_E_NOMEM;
}

int
dh_http_client_new(const struct dh_http_config *cfg,
    struct dh_http_client **out, struct dh_err *err)
{
	static const struct dh_http_config defaults;
	struct dh_http_client *c = NULL;
	int rc;

	*out = NULL;
	if (cfg == NULL)
		cfg = &defaults;
	if (cfg->max_attempts < 0 || cfg->max_attempts > DH_HTTP_MAX_ATTEMPTS ||
	    cfg->connect_timeout_ms < 0 || cfg->timeout_ms < 0 ||
	    cfg->backoff_base_ms < 0 || cfg->backoff_cap_ms < 0)
		return dh_err_set(err, DH_E_ARG, "invalid HTTP client settings");
	if (pthread_once(&global_once, global_init) != 0 ||
	    global_rc != CURLE_OK)
		return dh_err_set(err, DH_E_NET, "libcurl initialisation failed");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	rc = dup_opt(cfg->ca_file, &c->ca_file);
	if (rc == DH_OK)
		rc = dup_opt(cfg->proxy, &c->proxy);
	if (rc == DH_OK)
		rc = dup_opt(cfg->no_proxy, &c->no_proxy);
	if (rc == DH_OK)
		rc = dup_opt(cfg->user_agent != NULL ? cfg->user_agent :
		    "deckhand/" DH_VERSION, &c->user_agent);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "out of memory");
		goto out;
	}
	c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ?
	    cfg->connect_timeout_ms : DH_HTTP_DEFAULT_CONNECT_MS;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms :
	    DH_HTTP_DEFAULT_TIMEOUT_MS;
	c->max_body = cfg->max_body > 0 ? cfg->max_body :
	    DH_HTTP_DEFAULT_MAX_BODY;
	c->max_headers = cfg->max_headers > 0 ? cfg->max_headers :
	    DH_HTTP_DEFAULT_MAX_HEADERS;
	c->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts :
	    DH_HTTP_DEFAULT_ATTEMPTS;
	c->backoff_base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms :
	    DH_HTTP_DEFAULT_BACKOFF_BASE_MS;
	c->backoff_cap_ms = cfg->backoff_cap_ms > 0 ? cfg->backoff_cap_ms :
	    DH_HTTP_DEFAULT_BACKOFF_CAP_MS;
	c->rnd = cfg->rnd;
	c->rnd_arg = cfg->rnd_arg;
	c->sleep_ms = cfg->sleep_ms;
	c->sleep_arg = cfg->sleep_arg;
	c->h = curl_easy_init();
	if (c->h == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "curl_easy_init failed");
		goto out;
	}
	*out = c;
	c = NULL;
	rc = DH_OK;
out:
	dh_http_client_free(c);
	return rc;
}

void
dh_http_client_free(struct dh_http_client *c)
{
	if (c == NULL)
		return;
	if (c->h != NULL)
		curl_easy_cleanup(c->h);
	free(c->user_agent);
	free(c->no_proxy);
	free(c->proxy);
	free(c->ca_file);
	free(c);
}

/* curl calls this with each connection's fresh SSL_CTX: verify against the
 * process's shared trust store instead of a private copy of the bundle. */
static CURLcode
on_ssl_ctx(CURL *h, void *sslctx, void *arg)
{
	const struct dh_http_client *c = arg;

	(void)h;
	return dh_tls_use_store(sslctx, c->ca_file, NULL) == DH_OK ?
	    CURLE_OK : CURLE_SSL_CACERT_BADFILE;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct capture *cap = arg;
	size_t n = size * nmemb;

	if (dh_buf_put(&cap->resp->body, p, n) != DH_OK) {
		cap->body_toobig = 1;
		return 0;
	}
	return n;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct capture *cap = arg;
	struct dh_http_hdrs *h = &cap->resp->headers;
	size_t n = size * nmemb, nl, vs, ve;
	const char *colon;

	cap->hdr_bytes += n;
	if (cap->hdr_bytes > cap->max_headers) {
		cap->hdr_toobig = 1;
		return 0;
	}
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue or a proxy CONNECT):
		 * keep only the headers of the last one. */
		dh_http_hdrs_free(h);
		return n;
	}
	colon = memchr(p, ':', n);
	if (colon == NULL || colon == p || *p == ' ' || *p == '\t')
		return n;
	if (h->n >= DH_HTTP_MAX_HEADER_COUNT) {
		cap->hdr_toobig = 1;
		return 0;
	}
	nl = (size_t)(colon - p);
	vs = nl + 1;
	ve = n;
	while (ve > vs && (p[ve - 1] == '\r' || p[ve - 1] == '\n' ||
	    p[ve - 1] == ' ' || p[ve - 1] == '\t'))
		ve--;
	while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
		vs++;
	if (memchr(p, '\0', n) != NULL)
		return n;
	if (hdrs_append(h, p, nl, p + vs, ve - vs) != DH_OK) {
		cap->hdr_nomem = 1;
		return 0;
	}
	return n;
}

static int
method_ok(const char *m)
{
	size_t i;

	if (m == NULL || *m == '\0' || strlen(m) > 16)
		return 0;
	for (i = 0; m[i] != '\0'; i++)
		if (m[i] < 'A' || m[i] > 'Z')
			return 0;
	return 1;
}

/* Whether the request sends a body (PUT/POST always do, even if empty, so
 * that Content-Length: 0 goes out). */
static int
req_has_body(const struct dh_http_request *req)
{
	return req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0;
}

static int
slist_add(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);

	if (n == NULL)
		return DH_E_NOMEM;
	*l = n;
	return DH_OK;
}

/* Build the curl header list: the request's headers plus the two
 * suppressions (no automatic Expect for small bodies, no form
 * Content-Type for bodies without one). */
static int
build_headers(const struct dh_http_request *req, int has_body,
    struct curl_slist **out)
{
	struct curl_slist *l = NULL;
	struct dh_buf line;
	size_t i;
	int rc = DH_OK;

	*out = NULL;
	dh_buf_init_secret(&line, 64 * 1024);
	for (i = 0; i < req->headers.n && rc == DH_OK; i++) {
		const struct dh_http_hdr *hd = &req->headers.v[i];

		dh_buf_reset(&line);
		/* "Name;" is curl's way to send a header with an empty value. */
		rc = dh_buf_printf(&line, hd->value[0] != '\0' ? "%s: %s" :
		    "%s;", hd->name, hd->value);
		if (rc == DH_OK)
			rc = slist_add(&l, dh_buf_cstr(&line));
	}
	if (rc == DH_OK && dh_http_hdrs_get(&req->headers, "Expect") == NULL &&
	    req->body_len < DH_HTTP_EXPECT_THRESHOLD)
		rc = slist_add(&l, "Expect:");
	if (rc == DH_OK && has_body &&
	    dh_http_hdrs_get(&req->headers, "Content-Type") == NULL)
		rc = slist_add(&l, "Content-Type:");
	if (rc == DH_OK && dh_http_hdrs_get(&req->headers, "Accept") == NULL)
		rc = slist_add(&l, "Accept:");
	dh_buf_free(&line);
	if (rc != DH_OK) {
		curl_slist_free_all(l);
		return rc;
	}
	*out = l;
	return DH_OK;
}

#define SETOPT(opt, val) do { \
	if (curl_easy_setopt(h, (opt), (val)) != CURLE_OK) \
		goto setopt_fail; \
} while (0)

/* Configure the handle for one attempt of req. */
static int
setup(struct dh_http_client *c, const struct dh_http_request *req,
    struct capture *cap, struct curl_slist *hl, struct dh_err *err)
{
	CURL *h = c->h;
	size_t max_body = req->max_body > 0 ? req->max_body : c->max_body;
	int has_body = req_has_body(req);

	curl_easy_reset(h);
	c->errbuf[0] = '\0';
	SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_CAINFO, (char *)NULL);
	SETOPT(CURLOPT_CAPATH, (char *)NULL);
	SETOPT(CURLOPT_PROXY_CAINFO, (char *)NULL);
	SETOPT(CURLOPT_PROXY_CAPATH, (char *)NULL);
	SETOPT(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	SETOPT(CURLOPT_SSL_CTX_DATA, c);
	if (c->proxy != NULL)
		SETOPT(CURLOPT_PROXY, c->proxy);
	if (c->no_proxy != NULL)
		SETOPT(CURLOPT_NOPROXY, c->no_proxy);
	SETOPT(CURLOPT_HTTPPROXYTUNNEL, 1L);
	SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	SETOPT(CURLOPT_TIMEOUT_MS, c->timeout_ms);
	SETOPT(CURLOPT_EXPECT_100_TIMEOUT_MS, EXPECT_100_TIMEOUT_MS);
	SETOPT(CURLOPT_USERAGENT, c->user_agent);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, cap);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, cap);
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
	SETOPT(CURLOPT_HTTPHEADER, hl);
	if (strcmp(req->method, "GET") == 0 && req->body_len == 0) {
		SETOPT(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "HEAD") == 0) {
		SETOPT(CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SETOPT(CURLOPT_POSTFIELDS,
		    req->body != NULL ? (const char *)req->body : "");
		if (strcmp(req->method, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
	} else {
		SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
	}
	return DH_OK;
setopt_fail:
	return dh_err_set(err, DH_E_ARG, "libcurl rejected an option");
}

#undef SETOPT

/* The host part of a URL, for messages (never the path or query, which can
 * carry presigned credentials). */
static void
url_host(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	size_t len;

	p = p != NULL ? p + 3 : url;
	len = strcspn(p, "/?#");
	if (len >= n)
		len = n - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

static int
perform_once(struct dh_http_client *c, struct dh_http_request *req,
    struct dh_http_response *resp, size_t max_body, struct dh_err *err)
{
	struct capture cap;
	struct curl_slist *hl = NULL;
	char host[256];
	CURLcode cc;
	long status = 0;
	int rc;

	memset(&cap, 0, sizeof(cap));
	cap.resp = resp;
	cap.max_headers = c->max_headers;
	dh_buf_free(&resp->body);
	dh_buf_init(&resp->body, max_body);
	dh_http_hdrs_free(&resp->headers);
	resp->status = 0;
	url_host(req->url, host, sizeof(host));
	rc = build_headers(req, req_has_body(req), &hl);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "building request headers failed");
		goto out;
	}
	rc = setup(c, req, &cap, hl, err);
	if (rc != DH_OK)
		goto out;
	cc = curl_easy_perform(c->h);
	/* Drop header-list pointers from the handle before freeing them. */
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	if (cap.body_toobig || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = dh_err_set(err, DH_E_TOOBIG,
		    "%s: response body exceeds limit of %zu bytes", host,
		    max_body);
		goto out;
	}
	if (cap.hdr_toobig) {
		rc = dh_err_set(err, DH_E_TOOBIG,
		    "%s: response headers exceed limit of %zu bytes / %d lines",
		    host, c->max_headers, DH_HTTP_MAX_HEADER_COUNT);
		goto out;
	}
	if (cap.hdr_nomem) {
		rc = dh_err_set(err, DH_E_NOMEM, "%s: out of memory", host);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = dh_http_map_curl((int)cc);
		dh_err_set(err, rc, "%s %s: %s", req->method, host,
		    c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	resp->status = status;
	rc = DH_OK;
out:
	curl_slist_free_all(hl);
	return rc;
}

static void
do_sleep(struct dh_http_client *c, long ms)
{
	struct timespec ts;

	if (c->sleep_ms != NULL) {
		c->sleep_ms(c->sleep_arg, ms);
		return;
	}
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
dh_http_do(struct dh_http_client *c, struct dh_http_request *req,
    struct dh_http_response *resp, struct dh_err *err)
{
	char code[128];
	char host[256];
	size_t max_body;
	const char *ra;
	long delay, ra_ms;
	int attempt, rc = DH_E_ARG;

	if (c == NULL || req == NULL || resp == NULL || req->url == NULL)
		return dh_err_set(err, DH_E_ARG, "missing HTTP request argument");
	if (!method_ok(req->method))
		return dh_err_set(err, DH_E_ARG, "invalid HTTP method");
	if (req->body_len > 0 && req->body == NULL)
		return dh_err_set(err, DH_E_ARG, "request body missing");
	if (strncasecmp(req->url, "https://", 8) != 0)
		return dh_err_set(err, DH_E_ARG,
		    "only https:// URLs are allowed");
	max_body = req->max_body > 0 ? req->max_body : c->max_body;
	url_host(req->url, host, sizeof(host));
	resp->attempts = 0;
	for (attempt = 0; attempt < c->max_attempts; attempt++) {
		dh_err_clear(err);
		if (req->sign != NULL) {
			rc = req->sign(req->sign_arg, req, err);
			if (rc != DH_OK)
				return rc;
		}
		rc = perform_once(c, req, resp, max_body, err);
		resp->attempts = attempt + 1;
		code[0] = '\0';
		if (rc == DH_OK && resp->status >= 400 && req->errcode != NULL)
			req->errcode(req->errcode_arg, resp, code, sizeof(code));
		if (attempt + 1 >= c->max_attempts ||
		    !dh_http_should_retry(rc, resp->status, code))
			break;
		delay = dh_http_backoff_ms(attempt, c->backoff_base_ms,
		    c->backoff_cap_ms, c->rnd, c->rnd_arg);
		ra = rc == DH_OK ? dh_http_hdrs_get(&resp->headers,
		    "Retry-After") : NULL;
		if (ra != NULL && dh_http_parse_retry_after(ra, &ra_ms) ==
		    DH_OK && ra_ms > delay)
			delay = ra_ms < c->backoff_cap_ms ? ra_ms :
			    c->backoff_cap_ms;
		dh_debug("http: %s %s attempt %d/%d: %s (status %ld%s%s), "
		    "retrying in %ld ms", req->method, host, attempt + 1,
		    c->max_attempts, rc == DH_OK ? "response" : dh_strerror(rc),
		    resp->status, code[0] != '\0' ? ", " : "", code, delay);
		do_sleep(c, delay);
	}
	if (rc != DH_OK && resp->attempts > 1)
		dh_err_wrap(err, rc, "after %d attempts", resp->attempts);
	return rc;
}
