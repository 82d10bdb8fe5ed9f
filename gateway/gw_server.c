/*
 * gw_server: libwebsockets TLS server for the gateway (see gw_server.h).
 * libwebsockets parses request lines and headers; this file copies them
 * into a bounded per-connection header list (every known header token plus
 * the custom headers SigV4 may sign), assembles the body, and writes the
 * response in WRITEABLE callbacks.  libwebsockets does not decode chunked
 * request bodies, so such requests are decoded here and answered with
 * "connection: close" (the connection's framing state is then unknown to
 * libwebsockets).
 */
#include "gw_server.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh_log.h"
#include "dh_time.h"
#include "gw_s3.h"

#define WRITE_CHUNK 16384
#define RELAY_BURST (512u * 1024) /* relay bytes written per writable callback */

enum { CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF,
	CK_TRAILER, CK_TRAILER_LF, CK_END_LF };

struct gw_server {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct gw_api *api;
	struct gw_ctrl *ctrl;
	struct gw_relay *relay;
	lws_sorted_usec_list_t tick;
	lws_sorted_usec_list_t poll_tick;
	lws_sorted_usec_list_t relay_tick;
	int port;
	char addr[64];
};

/* Per-connection state (zeroed by libwebsockets). */
struct pss {
	int inited;
	int dispatched;
	int chunked;
	int close_after;
	int is_ws;
	int headers_sent;
	char method[8];
	char path[GW_SERVER_MAX_PATH];
	char query[GW_SERVER_MAX_PATH];
	char query_enc[3 * GW_SERVER_MAX_PATH]; /* re-encoded for SigV4 */
	char source_ip[64];
	struct dh_sigv4_header hdr[GW_SERVER_MAX_HEADERS];
	size_t n_hdr;
	struct dh_buf hstore;     /* NUL-separated header names and values */
	struct dh_buf body;
	struct gw_server_chunk ck;
	struct gw_s3_spool *spool;  /* body streamed to a file (S3 uploads) */
	struct gw_api_resp resp;
	size_t out_off;
	struct gw_ctrl_conn *conn;
	struct gw_relay_leg *leg;     /* data-channel websocket */
	struct dh_buf msg;        /* websocket message assembly */
};

/* ---------------------------------------------------------- chunked body */

void
gw_server_chunk_init(struct gw_server_chunk *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CK_SIZE;
}

static int
hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
gw_server_chunk_feed(struct gw_server_chunk *c, const void *p, size_t n,
    struct dh_buf *out, size_t *used, struct dh_err *err)
{
	const unsigned char *s = p;
	size_t i = 0, take;
	int v, r;

	*used = 0;
	while (i < n && !c->done) {
		unsigned char ch = s[i];

		switch (c->state) {
		case CK_SIZE:
			v = hexval(ch);
			if (v >= 0) {
				if (c->digits >= 15)
					return dh_err_set(err, DH_E_TOOBIG,
					    "chunk size too large");
				c->remain = c->remain * 16 + (uint64_t)v;
				c->digits++;
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				c->state = CK_EXT;
			} else if (ch == '\r') {
				c->state = CK_SIZE_LF;
			} else if (ch == '\n') {
				c->state = CK_SIZE_LF;
				continue;
			} else
				return dh_err_set(err, DH_E_FORMAT,
				    "bad chunk size byte 0x%02x", ch);
			i++;
			break;
		case CK_EXT:
			if (++c->line > 4096)
				return dh_err_set(err, DH_E_TOOBIG,
				    "chunk extension too long");
			if (ch == '\r')
				c->state = CK_SIZE_LF;
			else if (ch == '\n') {
				c->state = CK_SIZE_LF;
				continue;
			}
			i++;
			break;
		case CK_SIZE_LF:
			if (ch != '\n')
				return dh_err_set(err, DH_E_FORMAT,
				    "chunk size line not ended by LF");
			i++;
			if (c->digits == 0)
				return dh_err_set(err, DH_E_FORMAT,
				    "empty chunk size");
			c->line = 0;
			c->digits = 0;
			c->state = c->remain == 0 ? CK_TRAILER : CK_DATA;
			break;
		case CK_DATA:
			take = n - i;
			if ((uint64_t)take > c->remain)
				take = (size_t)c->remain;
			r = dh_buf_put(out, s + i, take);
			if (r != DH_OK)
				return dh_err_set(err, r, "request body too"
				    " large");
			i += take;
			c->remain -= take;
			if (c->remain == 0)
				c->state = CK_DATA_CR;
			break;
		case CK_DATA_CR:
			if (ch == '\n') {
				c->state = CK_SIZE;
				i++;
				break;
			}
			if (ch != '\r')
				return dh_err_set(err, DH_E_FORMAT,
				    "chunk data not followed by CRLF");
			c->state = CK_DATA_LF;
			i++;
			break;
		case CK_DATA_LF:
			if (ch != '\n')
				return dh_err_set(err, DH_E_FORMAT,
				    "chunk data not followed by CRLF");
			c->state = CK_SIZE;
			i++;
			break;
		case CK_TRAILER:
			i++;
			if (ch == '\r' && c->line == 0) {
				c->state = CK_END_LF;
			} else if (ch == '\n') {
				if (c->line == 0)
					c->done = 1;
				c->line = 0;
			} else if (ch == '\r') {
				c->state = CK_TRAILER_LF;
			} else if (++c->line > 4096)
				return dh_err_set(err, DH_E_TOOBIG,
				    "trailer line too long");
			break;
		case CK_TRAILER_LF:
			if (ch != '\n')
				return dh_err_set(err, DH_E_FORMAT,
				    "trailer not ended by CRLF");
			i++;
			c->line = 0;
			c->state = CK_TRAILER;
			break;
		case CK_END_LF:
			if (ch != '\n')
				return dh_err_set(err, DH_E_FORMAT,
				    "chunked body not ended by CRLF");
			i++;
			c->done = 1;
			break;
		default:
			return dh_err_set(err, DH_E_STATE, "decoder state");
		}
	}
	*used = i;
	return DH_OK;
}

/* ------------------------------------------------------------- headers */

static int
add_header(struct pss *ps, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < ps->n_hdr; i++)
		if (strcmp(ps->hdr[i].name, name) == 0)
			return 0;
	if (ps->n_hdr == GW_SERVER_MAX_HEADERS)
		return -1;
	/* hstore was reserved to its ceiling, so these pointers stay valid. */
	ps->hdr[ps->n_hdr].name = (const char *)ps->hstore.d + ps->hstore.len;
	if (dh_buf_put(&ps->hstore, name, strlen(name) + 1) != DH_OK)
		return -1;
	ps->hdr[ps->n_hdr].value = (const char *)ps->hstore.d + ps->hstore.len;
	if (dh_buf_put(&ps->hstore, value, strlen(value) + 1) != DH_OK)
		return -1;
	ps->n_hdr++;
	return 0;
}

static int
is_request_line_token(int t)
{
	switch (t) {
	case WSI_TOKEN_GET_URI:
	case WSI_TOKEN_POST_URI:
	case WSI_TOKEN_OPTIONS_URI:
	case WSI_TOKEN_PUT_URI:
	case WSI_TOKEN_PATCH_URI:
	case WSI_TOKEN_DELETE_URI:
	case WSI_TOKEN_HEAD_URI:
	case WSI_TOKEN_CONNECT:
	case WSI_TOKEN_HTTP_URI_ARGS:
	case WSI_TOKEN_HTTP1_0:
	case WSI_TOKEN_HTTP_COLON_AUTHORITY:
	case WSI_TOKEN_HTTP_COLON_METHOD:
	case WSI_TOKEN_HTTP_COLON_PATH:
	case WSI_TOKEN_HTTP_COLON_SCHEME:
	case WSI_TOKEN_HTTP_COLON_STATUS:
		return 1;
	default:
		return 0;
	}
}

/* Names of custom (non-token) headers SigV4 may cover. */
static const char *const custom_names[] = {
	"x-amz-date", "x-amz-security-token", "x-amz-target",
	"x-amz-content-sha256", "x-amz-user-agent", "amz-sdk-invocation-id",
	"amz-sdk-request", "x-amzn-trace-id", "content-md5",
	"x-amz-server-side-encryption",
	"x-amz-server-side-encryption-aws-kms-key-id", "x-amz-copy-source", NULL
};

static int
add_custom(struct lws *wsi, struct pss *ps, const char *name, char *buf,
    int bufsz)
{
	char key[80];
	int n, len;

	n = snprintf(key, sizeof(key), "%s:", name);
	if (n <= 1 || n >= (int)sizeof(key))
		return 0;
	len = lws_hdr_custom_length(wsi, key, n);
	if (len <= 0)
		return 0;
	if (len >= bufsz)
		return -1;
	if (lws_hdr_custom_copy(wsi, buf, bufsz, key, n) < 0)
		return -1;
	return add_header(ps, name, buf);
}

/*
 * libwebsockets hands the query over percent-decoded, one fragment per
 * parameter (split at unencoded '&' or ';', '+' turned into a space, an
 * encoded '=' in a name turned into '_').  SigV4 canonicalises each name and
 * value URI-encoded, so a decoded "%26"/"%3D"/"%20" would no longer match
 * the signature if the fragments were simply joined.  Append fragment
 * frag[0..n) to out (NUL-terminated, joined with '&') as name=value, each
 * side encoded with the SigV4 unreserved set.
 */
static int
encode_fragment(const char *frag, size_t n, char *out, size_t outsz)
{
	const char *eq = memchr(frag, '=', n);
	size_t have = strlen(out), nl = eq != NULL ? (size_t)(eq - frag) : n;
	struct dh_buf b;
	int r = -1;

	dh_buf_init(&b, outsz);
	if ((have > 0 && dh_buf_put_u8(&b, '&') != DH_OK) ||
	    dh_sigv4_uri_encode(frag, nl, 0, &b) != DH_OK)
		goto done;
	if (eq != NULL && (dh_buf_put_u8(&b, '=') != DH_OK ||
	    dh_sigv4_uri_encode(eq + 1, n - nl - 1, 0, &b) != DH_OK))
		goto done;
	if (have + b.len + 1 > outsz)
		goto done;
	memcpy(out + have, b.d, b.len);
	out[have + b.len] = '\0';
	r = 0;
done:
	dh_buf_free(&b);
	return r;
}

/* Copy method, path, query and headers of the current request. */
static int
collect(struct lws *wsi, struct pss *ps)
{
	static const struct { int tok; const char *m; } methods[] = {
		{ WSI_TOKEN_GET_URI, "GET" }, { WSI_TOKEN_POST_URI, "POST" },
		{ WSI_TOKEN_PUT_URI, "PUT" }, { WSI_TOKEN_DELETE_URI, "DELETE" },
		{ WSI_TOKEN_HEAD_URI, "HEAD" },
		{ WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
		{ WSI_TOKEN_PATCH_URI, "PATCH" },
	};
	char *buf, name[64], frag[1024];
	const unsigned char *tn;
	const char *sh, *p, *e;
	size_t i, qlen = 0;
	int t, n, len, r = -1;

	buf = malloc(GW_SERVER_MAX_HEAD);
	if (buf == NULL)
		return -1;
	dh_buf_init(&ps->hstore, 2 * GW_SERVER_MAX_HEAD);
	if (dh_buf_reserve(&ps->hstore, 2 * GW_SERVER_MAX_HEAD) != DH_OK)
		goto done;
	ps->method[0] = '\0';
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
			snprintf(ps->method, sizeof(ps->method), "%s",
			    methods[i].m);
			if (lws_hdr_copy(wsi, ps->path, sizeof(ps->path),
			    methods[i].tok) < 0)
				goto done;
			break;
		}
	}
	if (ps->method[0] == '\0')
		goto done;
	ps->query[0] = '\0';
	ps->query_enc[0] = '\0';
	for (n = 0; (len = lws_hdr_copy_fragment(wsi, frag, sizeof(frag),
	    WSI_TOKEN_HTTP_URI_ARGS, n)) >= 0; n++) {
		if (len == 0)
			continue;
		if (qlen + (size_t)len + 2 >= sizeof(ps->query) ||
		    encode_fragment(frag, (size_t)len, ps->query_enc,
		    sizeof(ps->query_enc)) != 0)
			goto done;
		if (qlen > 0)
			ps->query[qlen++] = '&';
		memcpy(ps->query + qlen, frag, (size_t)len);
		qlen += (size_t)len;
		ps->query[qlen] = '\0';
	}
	for (t = 0; t < WSI_TOKEN_COUNT; t++) {
		if (is_request_line_token(t))
			continue;
		len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
		if (len <= 0)
			continue;
		tn = (const unsigned char *)lws_token_to_string(
		    (enum lws_token_indexes)t);
		if (tn == NULL || tn[0] == ':' || len >= GW_SERVER_MAX_HEAD)
			continue;
		n = snprintf(name, sizeof(name), "%s", (const char *)tn);
		if (n <= 1 || n >= (int)sizeof(name) || name[n - 1] != ':')
			continue;
		name[n - 1] = '\0';
		if (lws_hdr_copy(wsi, buf, GW_SERVER_MAX_HEAD,
		    (enum lws_token_indexes)t) < 0)
			goto done;
		if (add_header(ps, name, buf) != 0)
			goto done;
	}
	for (i = 0; custom_names[i] != NULL; i++)
		if (add_custom(wsi, ps, custom_names[i], buf,
		    GW_SERVER_MAX_HEAD) != 0)
			goto done;
	/* Any other header named in SignedHeaders. */
	if (lws_hdr_copy(wsi, buf, GW_SERVER_MAX_HEAD,
	    WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
		char *auth = strdup(buf);

		if (auth == NULL)
			goto done;
		sh = strstr(auth, "SignedHeaders=");
		p = sh != NULL ? sh + 14 : NULL;
		while (p != NULL && *p != '\0' && *p != ',' && *p != ' ') {
			e = p + strcspn(p, ";, ");
			if ((size_t)(e - p) < sizeof(name) && e > p) {
				memcpy(name, p, (size_t)(e - p));
				name[e - p] = '\0';
				if (add_custom(wsi, ps, name, buf,
				    GW_SERVER_MAX_HEAD) != 0) {
					free(auth);
					goto done;
				}
			}
			p = *e == ';' ? e + 1 : NULL;
		}
		free(auth);
	}
	lws_get_peer_simple(wsi, ps->source_ip, sizeof(ps->source_ip));
	r = 0;
done:
	free(buf);
	return r;
}

static const char *
hdr(const struct pss *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->n_hdr; i++)
		if (strcmp(ps->hdr[i].name, name) == 0)
			return ps->hdr[i].value;
	return NULL;
}

/* ------------------------------------------------------------ responses */

static void
fill_req(struct pss *ps, struct gw_api_req *req)
{
	memset(req, 0, sizeof(*req));
	req->method = ps->method;
	req->path = ps->path;
	req->query = ps->query;
	req->query_enc = ps->query_enc;
	req->headers = ps->hdr;
	req->n_headers = ps->n_hdr;
	req->body = ps->body.d;
	req->body_len = ps->body.len;
	req->source_ip = ps->source_ip;
	req->spool = ps->spool;
}

static void
local_error(struct pss *ps, int status, const char *code, const char *msg)
{
	gw_api_resp_init(&ps->resp);
	ps->resp.status = status;
	snprintf(ps->resp.content_type, sizeof(ps->resp.content_type),
	    "application/x-amz-json-1.1");
	snprintf(ps->resp.request_id, sizeof(ps->resp.request_id),
	    "00000000-0000-0000-0000-000000000000");
	(void)gw_api_error_body(code, msg, &ps->resp.body);
	ps->close_after = 1;
}

static void
dispatch(struct gw_server *s, struct lws *wsi, struct pss *ps)
{
	struct gw_api_req req;

	if (ps->dispatched)
		return;
	ps->dispatched = 1;
	if (ps->resp.status == 0) {
		gw_api_resp_init(&ps->resp);
		fill_req(ps, &req);
		(void)gw_api_handle(s->api, &req, &ps->resp);
	}
	lws_callback_on_writable(wsi);
}

static int
write_headers(struct lws *wsi, struct pss *ps)
{
	unsigned char b[LWS_PRE + 4096], *start = &b[LWS_PRE], *p = start,
	    *end = &b[sizeof(b) - 1];
	int n_len;
	const char *rid = ps->resp.request_id;
	char num[24];
	size_t i;

	if (ps->resp.head) {
		/* HEAD: the length of what GET would send, and no body. */
		n_len = snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)ps->resp.head_len);
		if (lws_add_http_header_status(wsi, (unsigned int)
		    ps->resp.status, &p, end) ||
		    lws_add_http_header_by_token(wsi,
		    WSI_TOKEN_HTTP_CONTENT_TYPE, (const unsigned char *)
		    ps->resp.content_type, (int)strlen(ps->resp.content_type),
		    &p, end) || lws_add_http_header_by_token(wsi,
		    WSI_TOKEN_HTTP_CONTENT_LENGTH, (const unsigned char *)num,
		    n_len, &p, end))
			return -1;
	} else if (lws_add_http_common_headers(wsi, (unsigned int)
	    ps->resp.status, ps->resp.content_type, (lws_filepos_t)
	    (ps->resp.has_file ? ps->resp.file_len : ps->resp.body.len), &p,
	    end))
		return -1;
	for (i = 0; i < ps->resp.n_hdr; i++) {
		char hn[52];
		int k = snprintf(hn, sizeof(hn), "%s:", ps->resp.hdr[i].name);

		if (k <= 1 || k >= (int)sizeof(hn) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)hn,
		    (const unsigned char *)ps->resp.hdr[i].value,
		    (int)strlen(ps->resp.hdr[i].value), &p, end))
			return -1;
	}
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)
	    "x-amzn-requestid:", (const unsigned char *)rid, (int)strlen(rid),
	    &p, end))
		return -1;
	if (ps->close_after && lws_add_http_header_by_name(wsi,
	    (const unsigned char *)"connection:", (const unsigned char *)"close",
	    5, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	ps->headers_sent = 1;
	return 0;
}

static int
on_writeable(struct lws *wsi, struct pss *ps)
{
	unsigned char *b;
	uint64_t total;
	ssize_t got;
	size_t n;
	int final, m;

	if (!ps->dispatched)
		return 0;
	total = ps->resp.head ? 0 : ps->resp.has_file ? ps->resp.file_len :
	    ps->resp.body.len;
	if (!ps->headers_sent) {
		if (write_headers(wsi, ps) != 0)
			return -1;
		if (total > 0) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	n = total - ps->out_off > WRITE_CHUNK ? WRITE_CHUNK :
	    (size_t)(total - ps->out_off);
	final = ps->out_off + n == total;
	if (n > 0) {
		b = malloc(LWS_PRE + n);
		if (b == NULL)
			return -1;
		if (ps->resp.has_file) {
			got = pread(ps->resp.file_fd, b + LWS_PRE, n,
			    (off_t)(ps->resp.file_off + ps->out_off));
			if (got != (ssize_t)n) {
				free(b);
				return -1;
			}
		} else
			memcpy(b + LWS_PRE, ps->resp.body.d + ps->out_off, n);
		m = lws_write(wsi, b + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL :
		    LWS_WRITE_HTTP);
		free(b);
		if (m < (int)n)
			return -1;
		ps->out_off += n;
	}
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (ps->close_after || ps->chunked)
		return -1;
	/* Ready for the next request on this connection. */
	gw_api_resp_free(&ps->resp);
	memset(&ps->resp, 0, sizeof(ps->resp));
	dh_buf_free(&ps->body);
	dh_buf_free(&ps->hstore);
	gw_s3_spool_free(ps->spool);
	ps->spool = NULL;
	ps->n_hdr = 0;
	ps->inited = ps->dispatched = ps->headers_sent = 0;
	ps->out_off = 0;
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

static void
release(struct pss *ps)
{
	gw_api_resp_free(&ps->resp);
	dh_buf_free(&ps->body);
	dh_buf_free(&ps->hstore);
	dh_buf_free(&ps->msg);
	gw_s3_spool_free(ps->spool);
	ps->spool = NULL;
	ps->n_hdr = 0;
	ps->inited = 0;
}

/* ------------------------------------------------------------- callbacks */

static int
on_http(struct gw_server *s, struct lws *wsi, struct pss *ps)
{
	const char *cl, *te, *ex;
	char *end = NULL;
	unsigned long long len = 0;
	struct gw_api_req head;
	struct dh_err e;
	size_t limit;

	release(ps);
	memset(&ps->resp, 0, sizeof(ps->resp));
	ps->inited = 1;
	ps->dispatched = ps->headers_sent = ps->chunked = 0;
	ps->out_off = 0;
	dh_buf_init(&ps->body, GW_API_MAX_BODY);
	if (collect(wsi, ps) != 0) {
		local_error(ps, 431, "RequestHeaderFieldsTooLarge",
		    "request head too large or malformed");
		dispatch(s, wsi, ps);
		return 0;
	}
	cl = hdr(ps, "content-length");
	te = hdr(ps, "transfer-encoding");
	ex = hdr(ps, "expect");
	fill_req(ps, &head);
	limit = gw_api_body_limit(&head);
	dh_err_clear(&e);
	if ((te != NULL || (cl != NULL && strcmp(cl, "0") != 0)) &&
	    gw_api_spool_open(s->api, &head, &ps->spool, &e) != DH_OK) {
		local_error(ps, 500, "InternalError", e.msg);
		dispatch(s, wsi, ps);
		return 0;
	}
	if (ps->spool != NULL)
		limit = (size_t)GW_S3_MAX_BODY;
	else
		dh_buf_init(&ps->body, limit);
	if (te != NULL) {
		if (strcasecmp(te, "chunked") != 0) {
			local_error(ps, 501, "NotImplemented",
			    "only chunked transfer-encoding is supported");
			dispatch(s, wsi, ps);
			return 0;
		}
		ps->chunked = 1;
		gw_server_chunk_init(&ps->ck);
	} else if (cl != NULL) {
		len = strtoull(cl, &end, 10);
		if (end == cl || *end != '\0') {
			local_error(ps, 400, "InvalidParameterValue",
			    "bad Content-Length");
			dispatch(s, wsi, ps);
			return 0;
		}
		if (len > limit) {
			local_error(ps, 413, "RequestEntityTooLarge",
			    "request body exceeds the gateway's limit");
			dispatch(s, wsi, ps);
			return 0;
		}
	}
	if (ex != NULL && strcasecmp(ex, "100-continue") == 0 &&
	    (ps->chunked || len > 0)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		unsigned char b[LWS_PRE + sizeof(cont)];

		memcpy(b + LWS_PRE, cont, sizeof(cont) - 1);
		if (lws_write(wsi, b + LWS_PRE, sizeof(cont) - 1,
		    LWS_WRITE_HTTP_HEADERS) < 0)
			return -1;
	}
	if (!ps->chunked && len == 0)
		dispatch(s, wsi, ps);
	return 0;
}

static int
on_body(struct gw_server *s, struct lws *wsi, struct pss *ps, const void *in,
    size_t len)
{
	struct dh_err e;
	size_t used;
	int r;

	if (ps->dispatched)
		return 0;
	if (ps->chunked) {
		r = gw_server_chunk_feed(&ps->ck, in, len, &ps->body, &used, &e);
		if (r != DH_OK) {
			local_error(ps, r == DH_E_TOOBIG ? 413 : 400,
			    r == DH_E_TOOBIG ? "RequestEntityTooLarge" :
			    "SerializationException", e.msg);
			dispatch(s, wsi, ps);
			return 0;
		}
		if (ps->spool != NULL) {
			r = gw_s3_spool_write(ps->spool, ps->body.d,
			    ps->body.len, &e);
			dh_buf_reset(&ps->body);
			if (r != DH_OK) {
				local_error(ps, r == DH_E_TOOBIG ? 413 : 500,
				    r == DH_E_TOOBIG ? "RequestEntityTooLarge" :
				    "InternalError", e.msg);
				dispatch(s, wsi, ps);
				return 0;
			}
		}
		if (ps->ck.done)
			dispatch(s, wsi, ps);
		return 0;
	}
	if (ps->spool != NULL) {
		r = gw_s3_spool_write(ps->spool, in, len, &e);
		if (r != DH_OK) {
			local_error(ps, r == DH_E_TOOBIG ? 413 : 500,
			    r == DH_E_TOOBIG ? "RequestEntityTooLarge" :
			    "InternalError", e.msg);
			dispatch(s, wsi, ps);
		}
		return 0;
	}
	if (dh_buf_put(&ps->body, in, len) != DH_OK) {
		local_error(ps, 413, "RequestEntityTooLarge",
		    "request body exceeds the gateway's limit");
		dispatch(s, wsi, ps);
	}
	return 0;
}

static int
on_ws_filter(struct gw_server *s, struct lws *wsi, struct pss *ps)
{
	struct gw_api_req req;
	struct dh_err e;
	char esc[256];
	int r;

	release(ps);
	memset(&ps->resp, 0, sizeof(ps->resp));
	dh_buf_init(&ps->body, 0);
	if (collect(wsi, ps) != 0)
		return -1;
	fill_req(ps, &req);
	dh_err_clear(&e);
	if (strncmp(ps->path, GW_RELAY_PATH, strlen(GW_RELAY_PATH)) == 0)
		r = s->relay == NULL ? dh_err_set(&e, DH_E_STATE, "no relay") :
		    gw_api_ws_open_data(s->api, &req, wsi, &ps->leg, &e);
	else
		r = gw_api_ws_open(s->api, &req, wsi, &ps->conn, &e);
	if (r != DH_OK) {
		dh_info("websocket from %s refused: %s", ps->source_ip,
		    dh_log_escape(e.msg, strlen(e.msg), 200, esc, sizeof(esc)));
		release(ps);
		return -1;
	}
	ps->is_ws = 1;
	dh_buf_init(&ps->msg, ps->leg != NULL ? GW_RELAY_MAX_FRAME :
	    GW_CTRL_MAX_FRAME);
	return 0;
}

/* A data-channel message (whole, or assembled from fragments). */
static int
on_relay_receive(struct gw_server *s, struct lws *wsi, struct pss *ps,
    const void *in, size_t len)
{
	struct dh_err e;
	char esc[256];
	const void *p = in;
	size_t n = len;
	int r;

	if (!lws_is_first_fragment(wsi) || !lws_is_final_fragment(wsi) ||
	    ps->msg.len > 0) {
		if (dh_buf_put(&ps->msg, in, len) != DH_OK) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
			    NULL, 0);
			return -1;
		}
		if (!lws_is_final_fragment(wsi))
			return 0;
		p = ps->msg.d;
		n = ps->msg.len;
	}
	dh_err_clear(&e);
	r = gw_relay_ws_message(s->relay, ps->leg, !lws_frame_is_binary(wsi),
	    p, n, dh_time_now_ms(), &e);
	dh_buf_reset(&ps->msg);
	if (r != DH_OK) {
		dh_info("data channel from %s closed: %s", ps->source_ip,
		    dh_log_escape(e.msg, strlen(e.msg), 200, esc, sizeof(esc)));
		lws_close_reason(wsi, r == DH_E_TOOBIG ?
		    LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE :
		    LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
		return -1;
	}
	return 0;
}

/* Write the frames queued towards a data-channel leg while the socket takes
 * them (up to RELAY_BURST bytes per callback, so one busy session cannot
 * starve the others), instead of one frame per poll round trip. */
static int
on_relay_writeable(struct gw_server *s, struct lws *wsi, struct pss *ps)
{
	unsigned char *p;
	size_t n, burst = 0;
	int r;

	for (;;) {
		r = gw_relay_ws_peek(s->relay, ps->leg, &p, &n);
		if (r < 0) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		if (r == 0)
			return 0;
		if (lws_write(wsi, p, n, LWS_WRITE_BINARY) < (int)n)
			return -1;
		gw_relay_ws_sent(s->relay, ps->leg);
		burst += n;
		if (burst >= RELAY_BURST || lws_send_pipe_choked(wsi))
			return 0;
	}
}

static void
relay_wake(void *arg, void *handle)
{
	(void)arg;
	lws_callback_on_writable((struct lws *)handle);
}

static void
relay_flow(void *arg, void *handle, int on)
{
	(void)arg;
	lws_rx_flow_control((struct lws *)handle, on);
}

static int
on_ws_receive(struct gw_server *s, struct lws *wsi, struct pss *ps,
    const void *in, size_t len)
{
	struct dh_err e;
	char esc[256];

	if (ps->leg != NULL)
		return on_relay_receive(s, wsi, ps, in, len);
	if (ps->conn == NULL)
		return -1;
	if (dh_buf_put(&ps->msg, in, len) != DH_OK)
		return -1;
	if (!lws_is_final_fragment(wsi))
		return 0;
	if (!lws_frame_is_binary(wsi) && gw_ctrl_ws_text(s->ctrl, ps->conn,
	    ps->msg.d, ps->msg.len, dh_time_now_ms(), &e) != DH_OK) {
		dh_info("control channel from %s closed: %s", ps->source_ip,
		    dh_log_escape(e.msg, strlen(e.msg), 200, esc, sizeof(esc)));
		dh_buf_reset(&ps->msg);
		return -1;
	}
	if (lws_frame_is_binary(wsi) && gw_ctrl_ws_binary(s->ctrl, ps->conn,
	    ps->msg.d, ps->msg.len, dh_time_now_ms(), &e) != DH_OK)
		dh_info("control channel from %s: frame dropped: %s",
		    ps->source_ip, dh_log_escape(e.msg, strlen(e.msg), 200, esc,
		    sizeof(esc)));
	dh_buf_reset(&ps->msg);
	return 0;
}

/* Write the control channel's queued frames (one per callback). */
static int
on_ws_writeable(struct lws *wsi, struct pss *ps)
{
	struct dh_buf f;
	unsigned char *b;
	int m;

	if (ps->conn == NULL)
		return 0;
	dh_buf_init(&f, GW_CTRL_MAX_OUT);
	if (!gw_ctrl_next_out(ps->conn, &f)) {
		dh_buf_free(&f);
		return 0;
	}
	b = malloc(LWS_PRE + f.len);
	if (b == NULL) {
		dh_buf_free(&f);
		return -1;
	}
	memcpy(b + LWS_PRE, f.d, f.len);
	m = lws_write(wsi, b + LWS_PRE, f.len, LWS_WRITE_BINARY);
	free(b);
	if (m < (int)f.len) {
		dh_buf_free(&f);
		return -1;
	}
	dh_buf_free(&f);
	lws_callback_on_writable(wsi);
	return 0;
}

static void
wake_ws(void *handle)
{
	lws_callback_on_writable((struct lws *)handle);
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct gw_server *s = lws_context_user(lws_get_context(wsi));
	struct pss *ps = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(s, wsi, ps);
	case LWS_CALLBACK_HTTP_BODY:
		return on_body(s, wsi, ps, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (ps != NULL && ps->inited)
			dispatch(s, wsi, ps);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return ps != NULL ? on_writeable(wsi, ps) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (ps != NULL && !ps->is_ws)
			release(ps);
		break;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ps != NULL ? on_ws_filter(s, wsi, ps) : -1;
	case LWS_CALLBACK_RECEIVE:
		return on_ws_receive(s, wsi, ps, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (ps != NULL && ps->leg != NULL)
			return on_relay_writeable(s, wsi, ps);
		return ps != NULL ? on_ws_writeable(wsi, ps) : 0;
	case LWS_CALLBACK_CLOSED:
		if (ps != NULL && ps->conn != NULL) {
			gw_ctrl_ws_detach(s->ctrl, ps->conn);
			ps->conn = NULL;
		}
		if (ps != NULL && ps->leg != NULL) {
			gw_relay_ws_detach(s->relay, ps->leg, dh_time_now_ms());
			ps->leg = NULL;
		}
		if (ps != NULL)
			release(ps);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ "deckhand", callback, sizeof(struct pss), 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Ping websockets idle 60 s; hang up when nothing was valid for 150 s. */
static const lws_retry_bo_t retry = {
	.secs_since_valid_ping = 60,
	.secs_since_valid_hangup = 150,
};

static void
tick_cb(lws_sorted_usec_list_t *sul)
{
	struct gw_server *s = lws_container_of(sul, struct gw_server, tick);

	gw_api_tick(s->api, dh_time_now_ms());
	lws_sul_schedule(s->ctx, 0, &s->tick, tick_cb,
	    (lws_usec_t)GW_SERVER_TICK_MS * 1000);
}

/* Maintenance windows and Run Command delivery, once a second. */
static void
poll_cb(lws_sorted_usec_list_t *sul)
{
	struct gw_server *s = lws_container_of(sul, struct gw_server,
	    poll_tick);

	gw_api_poll(s->api, dh_time_now_ms());
	lws_sul_schedule(s->ctx, 0, &s->poll_tick, poll_cb,
	    (lws_usec_t)1000 * 1000);
}

static void
relay_tick_cb(lws_sorted_usec_list_t *sul)
{
	struct gw_server *s = lws_container_of(sul, struct gw_server,
	    relay_tick);

	gw_relay_tick(s->relay, dh_time_now_ms());
	lws_sul_schedule(s->ctx, 0, &s->relay_tick, relay_tick_cb,
	    (lws_usec_t)GW_RELAY_TICK_MS * 1000);
}

static void
lws_to_dh(int level, const char *line)
{
	char esc[512];
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	dh_log(level == LLL_ERR ? DH_LOG_ERROR : DH_LOG_WARN, "lws: %s",
	    dh_log_escape(line, n, 400, esc, sizeof(esc)));
}

int
gw_server_new(const struct gw_server_config *cfg, struct gw_server **out,
    struct dh_err *err)
{
	struct lws_context_creation_info info;
	struct gw_server *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	s->api = cfg->api;
	s->ctrl = cfg->ctrl;
	s->relay = cfg->relay;
	gw_ctrl_set_waker(s->ctrl, wake_ws);
	snprintf(s->addr, sizeof(s->addr), "%s", cfg->addr);
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_to_dh);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
	    LWS_SERVER_OPTION_DISABLE_IPV6;
	info.user = s;
	info.max_http_header_data = GW_SERVER_MAX_HEAD;
	info.max_http_header_pool = 64;
	info.timeout_secs = 30;
	/* socket reads of up to 64 KiB instead of lws' default 4 KiB: a bulk
	 * session relays whole frames with a sixteenth of the calls */
	info.pt_serv_buf_size = 64 * 1024;
	s->ctx = lws_create_context(&info);
	if (s->ctx == NULL) {
		free(s);
		return dh_err_set(err, DH_E_NET, "lws_create_context failed");
	}
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_DISABLE_IPV6;
	info.vhost_name = "deckhand";
	info.port = cfg->port;
	info.iface = s->addr;
	info.protocols = protocols;
	info.ssl_cert_filepath = cfg->cert;
	info.ssl_private_key_filepath = cfg->key;
	info.alpn = "http/1.1";
	info.retry_and_idle_policy = &retry;
	info.keepalive_timeout = 60;
	s->vh = lws_create_vhost(s->ctx, &info);
	if (s->vh == NULL) {
		lws_context_destroy(s->ctx);
		free(s);
		return dh_err_set(err, DH_E_NET, "cannot listen on %s:%d",
		    cfg->addr, cfg->port);
	}
	s->port = lws_get_vhost_listen_port(s->vh);
	lws_sul_schedule(s->ctx, 0, &s->tick, tick_cb,
	    (lws_usec_t)GW_SERVER_TICK_MS * 1000);
	lws_sul_schedule(s->ctx, 0, &s->poll_tick, poll_cb,
	    (lws_usec_t)1000 * 1000);
	if (s->relay != NULL) {
		struct gw_relay_io io;

		memset(&io, 0, sizeof(io));
		io.wake = relay_wake;
		io.rx_flow = relay_flow;
		io.headroom = LWS_PRE;
		io.arg = s;
		gw_relay_set_io(s->relay, &io);
		lws_sul_schedule(s->ctx, 0, &s->relay_tick, relay_tick_cb,
		    (lws_usec_t)GW_RELAY_TICK_MS * 1000);
	}
	*out = s;
	return DH_OK;
}

int
gw_server_port(const struct gw_server *s)
{
	return s->port;
}

int
gw_server_run(struct gw_server *s, volatile sig_atomic_t *stop)
{
	while (!*stop)
		if (lws_service(s->ctx, 0) < 0)
			return DH_E_NET;
	return DH_OK;
}

void
gw_server_wake(struct gw_server *s)
{
	if (s != NULL && s->ctx != NULL)
		lws_cancel_service(s->ctx);
}

void
gw_server_free(struct gw_server *s)
{
	if (s == NULL)
		return;
	lws_sul_cancel(&s->tick);
	lws_sul_cancel(&s->poll_tick);
	lws_sul_cancel(&s->relay_tick);
	lws_context_destroy(s->ctx);
	free(s);
}
