/*
 * dh_aws: AWS JSON 1.1 RPC and S3 REST-XML calls over dh_http, signed per
 * attempt with dh_sigv4 (or a custom signer, or not at all), plus the
 * service-error parser and the endpoint resolver (see dh_aws.h).
 */
#include "dh_aws.h"

#include <ctype.h>
#include <expat.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dh_buf.h"
#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_json.h"
#include "dh_time.h"

#define XML_MAX_DEPTH 16
#define XML_TEXT_MAX 1024

/* ---- error parsing ---- */

/* Copy untrusted text into a fixed field: control bytes and DEL become
 * '?', at most outsz - 1 bytes, always NUL-terminated. */
static void
copy_clean(char *out, size_t outsz, const char *s, size_t n)
{
	size_t i;

	if (n > outsz - 1)
		n = outsz - 1;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	out[n] = '\0';
}

static void
trim_copy(char *out, size_t outsz, const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	copy_clean(out, outsz, s, n);
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "HTTP error";
	}
}

/* Code from "__type"-style text: keep what follows the last '#', and drop
 * a ":http..." suffix as in x-amzn-ErrorType. */
static void
set_code(struct dh_aws_error *out, const char *s, size_t n)
{
	const char *colon;
	size_t i;

	for (i = n; i > 0; i--) {
		if (s[i - 1] == '#') {
			s += i;
			n -= i;
			break;
		}
	}
	colon = n > 0 ? memchr(s, ':', n) : NULL;
	if (colon != NULL)
		n = (size_t)(colon - s);
	trim_copy(out->code, sizeof(out->code), s, n);
}

static int
parse_json_error(const void *body, size_t n, struct dh_aws_error *out)
{
	static const char *const msg_keys[] = {
		"message", "Message", "errorMessage",
	};
	cJSON *j = NULL, *t;
	size_t i;
	int found = 0;

	if (dh_json_parse(body, n, DH_AWS_MAX_ERROR_BODY, &j, NULL) != DH_OK)
		return 0;
	if (!cJSON_IsObject(j))
		goto out;
	t = cJSON_GetObjectItemCaseSensitive(j, "__type");
	if (!cJSON_IsString(t))
		t = cJSON_GetObjectItemCaseSensitive(j, "code");
	if (!cJSON_IsString(t))
		t = cJSON_GetObjectItemCaseSensitive(j, "Code");
	if (cJSON_IsString(t) && t->valuestring[0] != '\0') {
		set_code(out, t->valuestring, strlen(t->valuestring));
		found = out->code[0] != '\0';
	}
	for (i = 0; i < sizeof(msg_keys) / sizeof(msg_keys[0]); i++) {
		t = cJSON_GetObjectItemCaseSensitive(j, msg_keys[i]);
		if (cJSON_IsString(t)) {
			trim_copy(out->message, sizeof(out->message),
			    t->valuestring, strlen(t->valuestring));
			break;
		}
	}
out:
	cJSON_Delete(j);
	return found;
}

/* XML walk state: the element stack and the capture of the first <Error>'s
 * Code / Message and any RequestId. */
struct xml_state {
	XML_Parser p;
	int depth;
	int in_error;      /* depth of the open <Error>, 0 when outside */
	int error_done;    /* an <Error> element was closed */
	int capture;       /* 1 code, 2 message, 3 request id, 0 none */
	int capture_depth;
	char text[XML_TEXT_MAX];
	size_t text_len;
	int have_code, have_msg, have_rid;
	struct dh_aws_error *out;
};

/* Local part of a possibly namespaced element name. */
static const char *
local_name(const XML_Char *name)
{
	const char *sep = strrchr(name, '|');

	return sep != NULL ? sep + 1 : name;
}

static void XMLCALL
xml_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct xml_state *st = arg;
	const char *ln = local_name(name);

	st->depth++;
	if (st->depth > XML_MAX_DEPTH) {
		XML_StopParser(st->p, XML_FALSE);
		return;
	}
	if (st->capture != 0)
		return;
	if (strcmp(ln, "Error") == 0 && st->in_error == 0 && !st->error_done) {
		st->in_error = st->depth;
		return;
	}
	if (st->in_error != 0 && st->depth == st->in_error + 1) {
		if (strcmp(ln, "Code") == 0 && !st->have_code)
			st->capture = 1;
		else if (strcmp(ln, "Message") == 0 && !st->have_msg)
			st->capture = 2;
	}
	if (st->capture == 0 && strcmp(ln, "RequestId") == 0 && !st->have_rid)
		st->capture = 3;
	if (st->capture != 0) {
		st->capture_depth = st->depth;
		st->text_len = 0;
	}
}

static void XMLCALL
xml_end(void *arg, const XML_Char *name)
{
	struct xml_state *st = arg;
	struct dh_aws_error *out = st->out;

	if (st->capture != 0 && st->depth == st->capture_depth) {
		if (st->capture == 1) {
			trim_copy(out->code, sizeof(out->code), st->text,
			    st->text_len);
			st->have_code = out->code[0] != '\0';
		} else if (st->capture == 2) {
			trim_copy(out->message, sizeof(out->message), st->text,
			    st->text_len);
			st->have_msg = 1;
		} else {
			trim_copy(out->request_id, sizeof(out->request_id),
			    st->text, st->text_len);
			st->have_rid = out->request_id[0] != '\0';
		}
		st->capture = 0;
	}
	if (st->in_error != 0 && st->depth == st->in_error) {
		st->in_error = 0;
		st->error_done = 1;
	}
	st->depth--;
	(void)name;
}

static void XMLCALL
xml_text(void *arg, const XML_Char *s, int len)
{
	struct xml_state *st = arg;
	size_t room;

	if (st->capture == 0 || len <= 0)
		return;
	room = sizeof(st->text) - st->text_len;
	if ((size_t)len < room) {
		memcpy(st->text + st->text_len, s, (size_t)len);
		st->text_len += (size_t)len;
	} else if (room > 0) {
		memcpy(st->text + st->text_len, s, room);
		st->text_len += room;
	}
}

/* Entity declarations (billion laughs and friends) end the parse. */
static void XMLCALL
xml_entity_decl(void *arg, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *system_id, const XML_Char *public_id,
    const XML_Char *notation)
{
	struct xml_state *st = arg;

	XML_StopParser(st->p, XML_FALSE);
}

static int
parse_xml_error(const void *body, size_t n, struct dh_aws_error *out)
{
	struct xml_state st;

	if (n > DH_AWS_MAX_ERROR_BODY || n > (size_t)0x7fffffff)
		return 0;
	memset(&st, 0, sizeof(st));
	st.out = out;
	st.p = XML_ParserCreateNS(NULL, '|');
	if (st.p == NULL)
		return 0;
	XML_SetUserData(st.p, &st);
	XML_SetElementHandler(st.p, xml_start, xml_end);
	XML_SetCharacterDataHandler(st.p, xml_text);
	XML_SetEntityDeclHandler(st.p, xml_entity_decl);
	XML_SetParamEntityParsing(st.p, XML_PARAM_ENTITY_PARSING_NEVER);
	/* A truncated or malformed document still yields what was seen. */
	(void)XML_Parse(st.p, body, (int)n, XML_TRUE);
	XML_ParserFree(st.p);
	if (!st.have_code)
		out->code[0] = '\0';
	return st.have_code;
}

int
dh_aws_parse_error(int http_status, const struct dh_http_hdrs *headers,
    const void *body, size_t n, struct dh_aws_error *out)
{
	const unsigned char *p = body;
	const char *h;
	size_t i = 0;
	int found = 0;

	memset(out, 0, sizeof(*out));
	out->http_status = http_status;
	if (body == NULL)
		n = 0;
	while (i < n && isspace(p[i]))
		i++;
	/* A UTF-8 byte order mark before an XML declaration. */
	if (n - i >= 3 && p[i] == 0xef && p[i + 1] == 0xbb && p[i + 2] == 0xbf)
		i += 3;
	if (i < n && p[i] == '{')
		found = parse_json_error(p + i, n - i, out);
	else if (i < n && p[i] == '<')
		found = parse_xml_error(p + i, n - i, out);
	if (headers != NULL) {
		h = dh_http_hdrs_get(headers, "x-amzn-ErrorType");
		if (!found && h != NULL) {
			set_code(out, h, strlen(h));
			found = out->code[0] != '\0';
		}
		if (out->request_id[0] == '\0') {
			h = dh_http_hdrs_get(headers, "x-amzn-RequestId");
			if (h == NULL)
				h = dh_http_hdrs_get(headers, "x-amz-request-id");
			if (h != NULL)
				trim_copy(out->request_id,
				    sizeof(out->request_id), h, strlen(h));
		}
	}
	if (!found) {
		snprintf(out->code, sizeof(out->code), "%d", http_status);
		if (out->message[0] == '\0')
			snprintf(out->message, sizeof(out->message), "%s",
			    reason_phrase(http_status));
		return DH_E_FORMAT;
	}
	return DH_OK;
}

/* ---- signing per attempt ---- */

struct sign_ctx {
	struct dh_aws_client *c;
	const char *service;
	const char *region;
	unsigned flags;
	const char *payload_hash; /* NULL: hash the body */
};

static int
sign_hook(void *arg, struct dh_http_request *req, struct dh_err *err)
{
	struct sign_ctx *sc = arg;
	struct dh_aws_client *c = sc->c;
	struct dh_sigv4_header hv[DH_SIGV4_MAX_HEADERS];
	struct dh_sigv4_request sr;
	struct dh_sigv4_params sp;
	struct dh_sigv4_signed sig;
	char host[256];
	char *path = NULL, *query = NULL;
	size_t i, nh = 0;
	int rc;

	dh_sigv4_signed_init(&sig);
	/* Headers of the previous attempt's signature never carry over. */
	dh_http_hdrs_del(&req->headers, "Authorization");
	dh_http_hdrs_del(&req->headers, "X-Amz-Date");
	dh_http_hdrs_del(&req->headers, "X-Amz-Security-Token");
	if (sc->flags & DH_SIGV4_ADD_CONTENT_SHA256)
		dh_http_hdrs_del(&req->headers, "X-Amz-Content-SHA256");
	if (c->auth == DH_AWS_AUTH_ANON)
		return DH_OK;
	path = malloc(DH_AWS_URL_MAX);
	query = malloc(DH_AWS_URL_MAX);
	if (path == NULL || query == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = dh_http_url_split(req->url, host, sizeof(host), path,
	    DH_AWS_URL_MAX, query, DH_AWS_URL_MAX, err);
	if (rc != DH_OK)
		goto out;
	if (req->headers.n > DH_SIGV4_MAX_HEADERS) {
		rc = dh_err_set(err, DH_E_ARG, "too many request headers");
		goto out;
	}
	for (i = 0; i < req->headers.n; i++) {
		hv[nh].name = req->headers.v[i].name;
		hv[nh].value = req->headers.v[i].value;
		nh++;
	}
	memset(&sr, 0, sizeof(sr));
	sr.method = req->method;
	sr.path = path;
	sr.query = query;
	sr.headers = hv;
	sr.n_headers = nh;
	sr.body = req->body;
	sr.body_len = req->body_len;
	sr.payload_hash = sc->payload_hash;
	memset(&sp, 0, sizeof(sp));
	sp.creds = &c->creds;
	sp.region = sc->region;
	sp.service = sc->service;
	sp.t = dh_time_now();
	sp.flags = sc->flags;
	if (c->auth == DH_AWS_AUTH_CUSTOM) {
		if (c->signer == NULL) {
			rc = dh_err_set(err, DH_E_ARG, "custom signer missing");
			goto out;
		}
		rc = c->signer(c->signer_arg, &sr, &sp, &sig, err);
	} else {
		rc = dh_sigv4_sign(&sr, &sp, &sig, err);
	}
	if (rc != DH_OK)
		goto out;
	for (i = 0; i < sig.n_add && rc == DH_OK; i++)
		rc = dh_http_hdrs_set(&req->headers, sig.add[i].name,
		    sig.add[i].value);
	if (rc != DH_OK)
		dh_err_set(err, rc, "adding signature headers failed");
out:
	dh_sigv4_signed_free(&sig);
	free(query);
	free(path);
	return rc;
}

static void
errcode_hook(void *arg, const struct dh_http_response *resp, char *code,
    size_t n)
{
	struct dh_aws_error ae;

	(void)dh_aws_parse_error((int)resp->status, &resp->headers,
	    resp->body.d, resp->body.len, &ae);
	snprintf(code, n, "%s", ae.code);
}

/* ---- calls ---- */

void
dh_aws_client_init(struct dh_aws_client *c, struct dh_http_client *http)
{
	memset(c, 0, sizeof(*c));
	c->http = http;
	c->auth = DH_AWS_AUTH_SIGV4;
}

static int
service_error(const struct dh_http_response *resp, const char *what,
    struct dh_aws_error *aerr, struct dh_err *err)
{
	struct dh_aws_error ae;

	(void)dh_aws_parse_error((int)resp->status, &resp->headers,
	    resp->body.d, resp->body.len, &ae);
	ae.attempts = resp->attempts;
	if (aerr != NULL)
		*aerr = ae;
	return dh_err_set(err, DH_E_SERVICE, "%s: %s (HTTP %d): %s", what,
	    ae.code, ae.http_status, ae.message);
}

static void
note_outcome(struct dh_aws_error *aerr, const struct dh_http_response *resp)
{
	if (aerr == NULL)
		return;
	aerr->http_status = (int)resp->status;
	aerr->attempts = resp->attempts;
}

static int
check_client(const struct dh_aws_client *c, struct dh_err *err)
{
	if (c == NULL || c->http == NULL)
		return dh_err_set(err, DH_E_ARG, "AWS client not initialised");
	if (c->auth == DH_AWS_AUTH_SIGV4 && (c->creds.access_key == NULL ||
	    c->creds.secret_key == NULL))
		return dh_err_set(err, DH_E_ARG, "AWS credentials missing");
	if (c->auth == DH_AWS_AUTH_CUSTOM && (c->signer == NULL ||
	    c->creds.access_key == NULL))
		return dh_err_set(err, DH_E_ARG,
		    "custom signer or its access key missing");
	return DH_OK;
}

int
dh_aws_json_call_raw(struct dh_aws_client *c, const char *endpoint,
    const char *service, const char *region, const char *target,
    const void *body, size_t n, cJSON **response, struct dh_aws_error *aerr,
    struct dh_err *err)
{
	struct dh_http_request req;
	struct dh_http_response resp;
	struct sign_ctx sc;
	struct dh_buf url;
	char host[256];
	char *path = NULL, *query = NULL;
	size_t max;
	int rc;

	*response = NULL;
	if (aerr != NULL)
		memset(aerr, 0, sizeof(*aerr));
	dh_http_request_init(&req);
	dh_http_response_init(&resp);
	dh_buf_init(&url, DH_AWS_URL_MAX);
	rc = check_client(c, err);
	if (rc != DH_OK)
		goto out;
	if (endpoint == NULL || service == NULL || region == NULL ||
	    target == NULL || (body == NULL && n > 0)) {
		rc = dh_err_set(err, DH_E_ARG, "missing JSON call argument");
		goto out;
	}
	path = malloc(DH_AWS_URL_MAX);
	query = malloc(DH_AWS_URL_MAX);
	if (path == NULL || query == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = dh_http_url_split(endpoint, host, sizeof(host), path,
	    DH_AWS_URL_MAX, query, DH_AWS_URL_MAX, err);
	if (rc != DH_OK) {
		dh_err_wrap(err, rc, "endpoint");
		goto out;
	}
	/* "https://host" and "https://host/" both post to "/". */
	rc = dh_buf_put_str(&url, endpoint);
	if (rc == DH_OK && strcspn(endpoint + 8, "/?") == strlen(endpoint + 8))
		rc = dh_buf_put_str(&url, "/");
	if (rc == DH_OK)
		rc = dh_http_hdrs_set(&req.headers, "Host", host);
	if (rc == DH_OK)
		rc = dh_http_hdrs_set(&req.headers, "Content-Type",
		    DH_AWS_JSON_CONTENT_TYPE);
	if (rc == DH_OK)
		rc = dh_http_hdrs_set(&req.headers, "X-Amz-Target", target);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "building request for %s failed", target);
		goto out;
	}
	max = c->max_response > 0 ? c->max_response : DH_AWS_MAX_RESPONSE;
	memset(&sc, 0, sizeof(sc));
	sc.c = c;
	sc.service = service;
	sc.region = region;
	req.method = "POST";
	req.url = dh_buf_cstr(&url);
	req.body = n > 0 ? body : "{}";
	req.body_len = n > 0 ? n : 2;
	req.sign = sign_hook;
	req.sign_arg = &sc;
	req.errcode = errcode_hook;
	req.max_body = max;
	rc = dh_http_do(c->http, &req, &resp, err);
	note_outcome(aerr, &resp);
	if (rc != DH_OK) {
		dh_err_wrap(err, rc, "%s", target);
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		rc = service_error(&resp, target, aerr, err);
		goto out;
	}
	if (resp.body.len == 0)
		rc = dh_json_parse("{}", 2, 2, response, err);
	else
		rc = dh_json_parse(resp.body.d, resp.body.len, max, response,
		    err);
	if (rc != DH_OK)
		dh_err_wrap(err, rc, "%s: response", target);
out:
	free(query);
	free(path);
	dh_buf_free(&url);
	dh_http_response_free(&resp);
	dh_http_request_free(&req);
	return rc;
}

int
dh_aws_json_call(struct dh_aws_client *c, const char *endpoint,
    const char *service, const char *region, const char *target,
    const cJSON *request, cJSON **response, struct dh_aws_error *aerr,
    struct dh_err *err)
{
	struct dh_buf body;
	size_t max;
	int rc;

	*response = NULL;
	if (request == NULL)
		return dh_aws_json_call_raw(c, endpoint, service, region,
		    target, "{}", 2, response, aerr, err);
	max = c != NULL && c->max_response > 0 ? c->max_response :
	    DH_AWS_MAX_RESPONSE;
	dh_buf_init(&body, max);
	rc = dh_json_print(request, &body);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "%s: serialising request failed",
		    target != NULL ? target : "JSON call");
		goto out;
	}
	rc = dh_aws_json_call_raw(c, endpoint, service, region, target,
	    body.d, body.len, response, aerr, err);
out:
	dh_buf_free(&body);
	return rc;
}

static int
put_md5_header(struct dh_http_hdrs *h, const void *body, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct dh_buf b64;
	int rc;

	if (EVP_Digest(n > 0 ? body : "", n, md, &mdlen, EVP_md5(), NULL) != 1)
		return DH_E_CRYPTO;
	dh_buf_init(&b64, 64);
	rc = dh_b64_encode(md, mdlen, &b64);
	if (rc == DH_OK)
		rc = dh_http_hdrs_set(h, "Content-MD5", dh_buf_cstr(&b64));
	dh_buf_free(&b64);
	return rc;
}

/* Append "/<bucket>/<key>?<query>" to url. */
static int
s3_target(const struct dh_aws_s3_request *r, struct dh_buf *url)
{
	size_t i;
	int rc = dh_buf_put_str(url, "/");

	if (rc == DH_OK && r->bucket != NULL && r->bucket[0] != '\0') {
		rc = dh_sigv4_uri_encode(r->bucket, strlen(r->bucket), 0, url);
		if (rc == DH_OK && r->key != NULL && r->key[0] != '\0') {
			rc = dh_buf_put_str(url, "/");
			if (rc == DH_OK)
				rc = dh_sigv4_uri_encode(r->key,
				    strlen(r->key), 1, url);
		}
	}
	for (i = 0; rc == DH_OK && i < r->n_query; i++) {
		const struct dh_aws_param *q = &r->query[i];

		if (q->name == NULL || q->name[0] == '\0')
			return DH_E_ARG;
		rc = dh_buf_put_str(url, i == 0 ? "?" : "&");
		if (rc == DH_OK)
			rc = dh_sigv4_uri_encode(q->name, strlen(q->name), 0,
			    url);
		if (rc == DH_OK && q->value != NULL) {
			rc = dh_buf_put_str(url, "=");
			if (rc == DH_OK)
				rc = dh_sigv4_uri_encode(q->value,
				    strlen(q->value), 0, url);
		}
	}
	return rc;
}

int
dh_aws_s3_call(struct dh_aws_client *c, const char *endpoint,
    const char *region, const struct dh_aws_s3_request *r,
    struct dh_http_response *resp, struct dh_aws_error *aerr,
    struct dh_err *err)
{
	struct dh_http_request req;
	struct sign_ctx sc;
	struct dh_buf url;
	char hash[2 * DH_SHA256_LEN + 1];
	char host[256];
	char *path = NULL, *query = NULL;
	size_t i, elen;
	int rc;

	if (aerr != NULL)
		memset(aerr, 0, sizeof(*aerr));
	dh_http_request_init(&req);
	dh_buf_init(&url, DH_AWS_URL_MAX);
	rc = check_client(c, err);
	if (rc != DH_OK)
		goto out;
	if (endpoint == NULL || region == NULL || r == NULL ||
	    r->method == NULL || (r->body == NULL && r->body_len > 0) ||
	    (r->n_query > 0 && r->query == NULL)) {
		rc = dh_err_set(err, DH_E_ARG, "missing S3 call argument");
		goto out;
	}
	path = malloc(DH_AWS_URL_MAX);
	query = malloc(DH_AWS_URL_MAX);
	if (path == NULL || query == NULL) {
		rc = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	rc = dh_http_url_split(endpoint, host, sizeof(host), path,
	    DH_AWS_URL_MAX, query, DH_AWS_URL_MAX, err);
	if (rc == DH_OK && query[0] != '\0')
		rc = dh_err_set(err, DH_E_ARG, "S3 endpoint has a query");
	if (rc != DH_OK) {
		dh_err_wrap(err, rc, "endpoint");
		goto out;
	}
	elen = strlen(endpoint);
	while (elen > 8 && endpoint[elen - 1] == '/')
		elen--;
	rc = dh_buf_put(&url, endpoint, elen);
	if (rc == DH_OK)
		rc = s3_target(r, &url);
	if (rc != DH_OK) {
		rc = dh_err_set(err, rc == DH_E_TOOBIG ? DH_E_TOOBIG : DH_E_ARG,
		    "S3 URL too long or query parameter without a name");
		goto out;
	}
	if (r->headers != NULL)
		for (i = 0; i < r->headers->n && rc == DH_OK; i++)
			rc = dh_http_hdrs_add(&req.headers,
			    r->headers->v[i].name, r->headers->v[i].value);
	if (rc == DH_OK)
		rc = dh_http_hdrs_set(&req.headers, "Host", host);
	if (rc == DH_OK && r->content_md5)
		rc = put_md5_header(&req.headers, r->body, r->body_len);
	if (rc != DH_OK) {
		dh_err_set(err, rc, "building S3 request headers failed");
		goto out;
	}
	memset(&sc, 0, sizeof(sc));
	sc.c = c;
	sc.service = "s3";
	sc.region = region;
	sc.flags = DH_SIGV4_S3;
	if (r->payload == DH_AWS_PAYLOAD_UNSIGNED) {
		sc.payload_hash = DH_SIGV4_UNSIGNED_PAYLOAD;
	} else {
		dh_sha256_hex(r->body_len > 0 ? r->body : "", r->body_len,
		    hash);
		sc.payload_hash = hash;
	}
	req.method = r->method;
	req.url = dh_buf_cstr(&url);
	req.body = r->body;
	req.body_len = r->body_len;
	req.sign = sign_hook;
	req.sign_arg = &sc;
	req.errcode = errcode_hook;
	req.max_body = r->max_response > 0 ? r->max_response :
	    c->max_response > 0 ? c->max_response : DH_AWS_MAX_RESPONSE;
	rc = dh_http_do(c->http, &req, resp, err);
	note_outcome(aerr, resp);
	if (rc != DH_OK) {
		dh_err_wrap(err, rc, "S3 %s", r->method);
		goto out;
	}
	if (resp->status < 200 || resp->status > 299) {
		char what[64];

		snprintf(what, sizeof(what), "S3 %s", r->method);
		rc = service_error(resp, what, aerr, err);
	}
out:
	free(query);
	free(path);
	dh_buf_free(&url);
	dh_http_request_free(&req);
	return rc;
}

/* ---- endpoints ---- */

static int
label_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 63 || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!(islower((unsigned char)s[i]) ||
		    isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

int
dh_aws_endpoint_url(const struct dh_aws_endpoint *overrides, size_t n,
    const char *service, const char *region, char *out, size_t outsz,
    struct dh_err *err)
{
	char host[256], path[1024], query[16];
	size_t i, len;
	int w;

	if (!label_ok(service))
		return dh_err_set(err, DH_E_ARG, "invalid service name");
	for (i = 0; overrides != NULL && i < n; i++) {
		if (overrides[i].service == NULL || overrides[i].url == NULL ||
		    strcmp(overrides[i].service, service) != 0)
			continue;
		if (dh_http_url_split(overrides[i].url, host, sizeof(host),
		    path, sizeof(path), query, sizeof(query), err) != DH_OK)
			return dh_err_wrap(err, DH_E_ARG,
			    "endpoint override for %s", service);
		if (query[0] != '\0')
			return dh_err_set(err, DH_E_ARG,
			    "endpoint override for %s has a query", service);
		len = strlen(overrides[i].url);
		while (len > 8 && overrides[i].url[len - 1] == '/')
			len--;
		if (len + 1 > outsz)
			return dh_err_set(err, DH_E_ARG,
			    "endpoint override for %s too long", service);
		memcpy(out, overrides[i].url, len);
		out[len] = '\0';
		return DH_OK;
	}
	if (!label_ok(region))
		return dh_err_set(err, DH_E_ARG, "invalid region name");
	w = snprintf(out, outsz, "https://%s.%s.amazonaws.com%s", service,
	    region, strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
	if (w < 0 || (size_t)w >= outsz)
		return dh_err_set(err, DH_E_ARG, "endpoint URL too long");
	return DH_OK;
}

int
dh_aws_sign_json_post(struct dh_http_request *req, const char *host,
    const char *path, const struct dh_sigv4_creds *creds, const char *region,
    const char *service, struct dh_err *err)
{
	struct dh_sigv4_header h[2];
	struct dh_sigv4_request r;
	struct dh_sigv4_params sp;
	struct dh_sigv4_signed s;
	size_t i;
	int rc;

	h[0].name = "Content-Type";
	h[0].value = "application/json";
	h[1].name = "Host";
	h[1].value = host;
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.path = path;
	r.query = "";
	r.headers = h;
	r.n_headers = 2;
	r.body = req->body;
	r.body_len = req->body_len;
	memset(&sp, 0, sizeof(sp));
	sp.creds = creds;
	sp.region = region;
	sp.service = service;
	sp.t = dh_time_now();
	dh_sigv4_signed_init(&s);
	rc = dh_sigv4_sign(&r, &sp, &s, err);
	for (i = 0; rc == DH_OK && i < s.n_add; i++)
		rc = dh_http_hdrs_set(&req->headers, s.add[i].name,
		    s.add[i].value);
	dh_sigv4_signed_free(&s);
	return rc;
}
