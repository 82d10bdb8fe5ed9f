/*
 * dh_sigv4: AWS Signature Version 4 signing and verification, plus a bounded
 * raw HTTP/1.x request parser for the CLI and fuzzing (see dh_sigv4.h for
 * the canonical rules).  The canonicaliser is shared by the signer, the
 * verifier and dh_rsasig, so that all three build byte-identical canonical
 * requests; botocore 1.29 is the reference it is tested against.
 */
#include "dh_sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_time.h"

#define STS_MAX 512
#define SIGNED_HEADERS_MAX 4096
#define AUTHZ_MAX 8192

struct qpair {
	size_t key;   /* offset of encoded key in the pair storage */
	size_t value; /* offset of encoded value */
	const char *base;
};

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

static int
is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Whitespace as Python's str.split() sees it in ASCII. */
static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f' || (c >= 0x1c && c <= 0x1f);
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
dh_sigv4_uri_encode(const char *s, size_t n, int keep_slash,
    struct dh_buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c, esc[3];
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			r = dh_buf_put_u8(out, c);
		} else {
			esc[0] = '%';
			esc[1] = (unsigned char)hex[c >> 4];
			esc[2] = (unsigned char)hex[c & 15];
			r = dh_buf_put(out, esc, 3);
		}
		if (r != DH_OK)
			return r;
	}
	return DH_OK;
}

/* Percent-decode s[0..n) into out; a '%' not followed by two hex digits is
 * kept literally (it is then re-encoded as %25). */
static int
uri_decode(const char *s, size_t n, struct dh_buf *out)
{
	size_t i;
	int hi, lo, r;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n) {
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi >= 0 && lo >= 0) {
				r = dh_buf_put_u8(out, (uint8_t)(hi * 16 + lo));
				if (r != DH_OK)
					return r;
				i += 2;
				continue;
			}
		}
		r = dh_buf_put_u8(out, (uint8_t)s[i]);
		if (r != DH_OK)
			return r;
	}
	return DH_OK;
}

int
dh_sigv4_canonical_path(const char *path, unsigned flags, struct dh_buf *out,
    struct dh_err *err)
{
	struct dh_buf norm;
	size_t n, i, start, seg, nseg = 0, maxseg;
	size_t *segs = NULL, *lens = NULL;
	int r = DH_OK, lead, trail;

	dh_buf_init(&norm, DH_SIGV4_MAX_CANON);
	if (path == NULL || path[0] == '\0')
		path = "/";
	n = strlen(path);
	if (n > DH_SIGV4_MAX_CANON) {
		r = dh_err_set(err, DH_E_TOOBIG, "path longer than %d bytes",
		    DH_SIGV4_MAX_CANON);
		goto out;
	}
	if (flags & DH_SIGV4_NO_NORMALIZE) {
		r = dh_buf_put(&norm, path, n);
		if (r != DH_OK)
			goto fail;
	} else {
		/* botocore's remove_dot_segments: drop "" and "." segments,
		 * ".." pops, keep a leading and (non-empty) trailing '/'. */
		maxseg = 1;
		for (i = 0; i < n; i++)
			if (path[i] == '/')
				maxseg++;
		segs = calloc(maxseg, sizeof(*segs));
		lens = calloc(maxseg, sizeof(*lens));
		if (segs == NULL || lens == NULL) {
			r = dh_err_set(err, DH_E_NOMEM, "out of memory");
			goto out;
		}
		start = 0;
		for (i = 0; i <= n; i++) {
			if (i < n && path[i] != '/')
				continue;
			seg = i - start;
			if (seg == 2 && path[start] == '.' &&
			    path[start + 1] == '.') {
				if (nseg > 0)
					nseg--;
			} else if (seg > 0 && !(seg == 1 && path[start] == '.')) {
				segs[nseg] = start;
				lens[nseg] = seg;
				nseg++;
			}
			start = i + 1;
		}
		lead = path[0] == '/';
		trail = path[n - 1] == '/' && nseg > 0;
		if (lead)
			r = dh_buf_put_u8(&norm, '/');
		for (i = 0; r == DH_OK && i < nseg; i++) {
			if (i > 0)
				r = dh_buf_put_u8(&norm, '/');
			if (r == DH_OK)
				r = dh_buf_put(&norm, path + segs[i], lens[i]);
		}
		if (r == DH_OK && trail)
			r = dh_buf_put_u8(&norm, '/');
		if (r != DH_OK)
			goto fail;
	}
	if (flags & DH_SIGV4_NO_DOUBLE_ENCODE)
		r = dh_buf_put(out, norm.d, norm.len);
	else
		r = dh_sigv4_uri_encode((const char *)norm.d, norm.len, 1, out);
	if (r != DH_OK)
		goto fail;
	goto out;
fail:
	r = dh_err_set(err, r, "canonical path: %s", dh_strerror(r));
out:
	free(lens);
	free(segs);
	dh_buf_free(&norm);
	return r;
}

static int
qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c;

	c = strcmp(x->base + x->key, y->base + y->key);
	if (c != 0)
		return c;
	return strcmp(x->base + x->value, y->base + y->value);
}

/* Append decode-then-encode of s[0..n) plus a NUL to store. */
static int
reencode(const char *s, size_t n, struct dh_buf *tmp, struct dh_buf *store)
{
	int r;

	dh_buf_reset(tmp);
	r = uri_decode(s, n, tmp);
	if (r == DH_OK)
		r = dh_sigv4_uri_encode((const char *)tmp->d, tmp->len, 0,
		    store);
	if (r == DH_OK)
		r = dh_buf_put_u8(store, '\0');
	return r;
}

int
dh_sigv4_canonical_query(const char *query, const char *const *skip,
    struct dh_buf *out, struct dh_err *err)
{
	struct dh_buf store, tmp;
	struct qpair *pairs = NULL;
	size_t n, i, j, start, end, eq, np = 0, maxp = 1;
	int r = DH_OK, skipped;

	dh_buf_init(&store, 3 * DH_SIGV4_MAX_CANON + 16);
	dh_buf_init(&tmp, DH_SIGV4_MAX_CANON);
	if (query == NULL || query[0] == '\0')
		goto out;
	n = strlen(query);
	if (n > DH_SIGV4_MAX_CANON) {
		r = dh_err_set(err, DH_E_TOOBIG, "query longer than %d bytes",
		    DH_SIGV4_MAX_CANON);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (query[i] == '&')
			maxp++;
	pairs = calloc(maxp, sizeof(*pairs));
	if (pairs == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	start = 0;
	while (start <= n) {
		end = start;
		while (end < n && query[end] != '&')
			end++;
		if (end > start) {
			eq = start;
			while (eq < end && query[eq] != '=')
				eq++;
			pairs[np].key = store.len;
			r = reencode(query + start, eq - start, &tmp, &store);
			if (r != DH_OK)
				goto fail;
			pairs[np].value = store.len;
			r = eq < end ? reencode(query + eq + 1, end - eq - 1,
			    &tmp, &store) : dh_buf_put_u8(&store, '\0');
			if (r != DH_OK)
				goto fail;
			np++;
		}
		start = end + 1;
	}
	for (i = 0; i < np; i++)
		pairs[i].base = (const char *)store.d;
	qsort(pairs, np, sizeof(*pairs), qpair_cmp);
	skipped = 0;
	for (i = 0; i < np; i++) {
		if (skip != NULL) {
			for (j = 0; skip[j] != NULL; j++)
				if (strcmp(skip[j], pairs[i].base +
				    pairs[i].key) == 0)
					break;
			if (skip[j] != NULL) {
				skipped++;
				continue;
			}
		}
		if (i - (size_t)skipped > 0)
			r = dh_buf_put_u8(out, '&');
		if (r == DH_OK)
			r = dh_buf_printf(out, "%s=%s", pairs[i].base +
			    pairs[i].key, pairs[i].base + pairs[i].value);
		if (r != DH_OK)
			goto fail;
	}
	goto out;
fail:
	r = dh_err_set(err, r, "canonical query: %s", dh_strerror(r));
out:
	free(pairs);
	dh_buf_free(&tmp);
	dh_buf_free(&store);
	return r;
}

/* Append value trimmed, whitespace runs collapsed to one space. */
static int
put_trimmed(const char *v, struct dh_buf *out)
{
	const unsigned char *p = (const unsigned char *)v;
	int r = DH_OK, pending = 0, any = 0;

	for (; *p != '\0' && r == DH_OK; p++) {
		if (is_ws(*p)) {
			pending = any;
			continue;
		}
		if (pending)
			r = dh_buf_put_u8(out, ' ');
		if (r == DH_OK)
			r = dh_buf_put_u8(out, *p);
		pending = 0;
		any = 1;
	}
	return r;
}

const char *
dh_sigv4_header_get(const struct dh_sigv4_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->n_headers; i++)
		if (req->headers[i].name != NULL &&
		    strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value != NULL ?
			    req->headers[i].value : "";
	return NULL;
}

/* Equality of a header name with the signed-header slice name[0..n). */
static int
name_eq(const char *hname, const char *name, size_t n)
{
	return strlen(hname) == n && strncasecmp(hname, name, n) == 0;
}

/* Method, canonical path and canonical query lines, each ending in '\n'. */
static int
canon_head(const char *method, const char *path, const char *query,
    const char *const *skip, unsigned flags, struct dh_buf *out,
    struct dh_err *err)
{
	int r;

	r = dh_buf_printf(out, "%s\n", method);
	if (r != DH_OK)
		return dh_err_set(err, r, "canonical request: %s",
		    dh_strerror(r));
	r = dh_sigv4_canonical_path(path, flags, out, err);
	if (r != DH_OK)
		return r;
	r = dh_buf_put_u8(out, '\n');
	if (r != DH_OK)
		return dh_err_set(err, r, "canonical request: %s",
		    dh_strerror(r));
	r = dh_sigv4_canonical_query(query, skip, out, err);
	if (r != DH_OK)
		return r;
	r = dh_buf_put_u8(out, '\n');
	if (r != DH_OK)
		return dh_err_set(err, r, "canonical request: %s",
		    dh_strerror(r));
	return DH_OK;
}

/* Canonical header lines, blank line, signed header list, payload hash. */
static int
canon_tail(const struct dh_sigv4_request *req, const char *signed_headers,
    const char *payload_hash, struct dh_buf *out, struct dh_err *err)
{
	const char *p, *e;
	size_t i, n;
	int r, found;

	for (p = signed_headers; *p != '\0'; p = *e == ';' ? e + 1 : e) {
		e = strchr(p, ';');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		if (n == 0)
			return dh_err_set(err, DH_E_FORMAT,
			    "empty name in SignedHeaders");
		r = dh_buf_put(out, p, n);
		if (r == DH_OK)
			r = dh_buf_put_u8(out, ':');
		found = 0;
		for (i = 0; r == DH_OK && i < req->n_headers; i++) {
			if (req->headers[i].name == NULL ||
			    !name_eq(req->headers[i].name, p, n))
				continue;
			if (found)
				r = dh_buf_put_u8(out, ',');
			if (r == DH_OK)
				r = put_trimmed(req->headers[i].value != NULL ?
				    req->headers[i].value : "", out);
			found = 1;
		}
		if (r == DH_OK)
			r = dh_buf_put_u8(out, '\n');
		if (r != DH_OK)
			return dh_err_set(err, r, "canonical headers: %s",
			    dh_strerror(r));
		if (!found)
			return dh_err_set(err, DH_E_AUTH,
			    "signed header '%.*s' is not in the request",
			    (int)(n > 64 ? 64 : n), p);
	}
	r = dh_buf_printf(out, "\n%s\n%s", signed_headers, payload_hash);
	if (r != DH_OK)
		return dh_err_set(err, r, "canonical request: %s",
		    dh_strerror(r));
	return DH_OK;
}

int
dh_sigv4_canonical_request(const struct dh_sigv4_request *req,
    const char *signed_headers, const char *payload_hash, unsigned flags,
    struct dh_buf *out, struct dh_err *err)
{
	int r;

	if (req->method == NULL || signed_headers == NULL ||
	    payload_hash == NULL)
		return dh_err_set(err, DH_E_ARG,
		    "canonical request: method, signed headers and payload hash "
		    "are required");
	r = canon_head(req->method, req->path, req->query, NULL, flags, out,
	    err);
	if (r != DH_OK)
		return r;
	return canon_tail(req, signed_headers, payload_hash, out, err);
}

void
dh_sigv4_signing_key(const char *secret, const char *date8,
    const char *region, const char *service, unsigned char key[32])
{
	struct dh_buf k;
	unsigned char a[DH_SHA256_LEN], b[DH_SHA256_LEN];

	dh_buf_init_secret(&k, 4096);
	if (dh_buf_put_str(&k, "AWS4") != DH_OK ||
	    dh_buf_put_str(&k, secret) != DH_OK) {
		/* Oversized secret: derive from a truncated buffer; the
		 * signature simply will not match. */
		dh_buf_reset(&k);
	}
	dh_hmac_sha256(k.d != NULL ? k.d : (const unsigned char *)"", k.len,
	    date8, strlen(date8), a);
	dh_hmac_sha256(a, sizeof(a), region, strlen(region), b);
	dh_hmac_sha256(b, sizeof(b), service, strlen(service), a);
	dh_hmac_sha256(a, sizeof(a), "aws4_request", 12, key);
	dh_wipe(a, sizeof(a));
	dh_wipe(b, sizeof(b));
	dh_buf_free(&k);
}

void
dh_sigv4_hmac_signature(const char *secret, const char *date8,
    const char *region, const char *service, const char *sts, size_t n,
    char hex[65])
{
	unsigned char key[DH_SHA256_LEN], mac[DH_SHA256_LEN];

	dh_sigv4_signing_key(secret, date8, region, service, key);
	dh_hmac_sha256(key, sizeof(key), sts, n, mac);
	dh_hex_encode(mac, sizeof(mac), hex);
	dh_wipe(key, sizeof(key));
}

static int
build_sts(const char *amz_date, const char *scope, const struct dh_buf *creq,
    struct dh_buf *sts)
{
	char hex[2 * DH_SHA256_LEN + 1];

	dh_sha256_hex(creq->d != NULL ? creq->d : (const unsigned char *)"",
	    creq->len, hex);
	return dh_buf_printf(sts, DH_SIGV4_ALGORITHM "\n%s\n%s\n%s", amz_date,
	    scope, hex);
}

void
dh_sigv4_signed_init(struct dh_sigv4_signed *s)
{
	memset(s, 0, sizeof(*s));
	dh_buf_init(&s->canonical_request, DH_SIGV4_MAX_CANON);
	dh_buf_init(&s->string_to_sign, STS_MAX);
	dh_buf_init(&s->signed_headers, SIGNED_HEADERS_MAX);
	dh_buf_init(&s->authorization, AUTHZ_MAX);
}

void
dh_sigv4_signed_free(struct dh_sigv4_signed *s)
{
	dh_buf_free(&s->canonical_request);
	dh_buf_free(&s->string_to_sign);
	dh_buf_free(&s->signed_headers);
	dh_buf_free(&s->authorization);
	if (s->token_copy != NULL) {
		dh_wipe(s->token_copy, strlen(s->token_copy));
		free(s->token_copy);
	}
	dh_wipe(s, sizeof(*s));
}

/* Names the signer never signs (botocore's blacklist). */
static int
never_signed(const char *name)
{
	return strcasecmp(name, "user-agent") == 0 ||
	    strcasecmp(name, "expect") == 0 ||
	    strcasecmp(name, "x-amzn-trace-id") == 0 ||
	    strcasecmp(name, "authorization") == 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
valid_scope_part(const char *s, size_t max)
{
	size_t n = strlen(s);
	size_t i;

	if (n == 0 || n >= max)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* Sorted unique lower-case names of hs[0..n) joined with ';' into out. */
static int
join_names(const struct dh_sigv4_header *hs, size_t n, struct dh_buf *out,
    struct dh_err *err)
{
	struct dh_buf low;
	const char **names = NULL;
	size_t *offs = NULL;
	size_t i, j, k = 0;
	int r = DH_OK;

	dh_buf_init(&low, DH_SIGV4_MAX_HEAD);
	names = calloc(n + 1, sizeof(*names));
	offs = calloc(n + 1, sizeof(*offs));
	if (names == NULL || offs == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n && r == DH_OK; i++) {
		offs[i] = low.len;
		for (j = 0; hs[i].name[j] != '\0' && r == DH_OK; j++)
			r = dh_buf_put_u8(&low,
			    (uint8_t)tolower((unsigned char)hs[i].name[j]));
		if (r == DH_OK)
			r = dh_buf_put_u8(&low, '\0');
	}
	if (r != DH_OK) {
		r = dh_err_set(err, r, "signed headers: %s", dh_strerror(r));
		goto out;
	}
	for (i = 0; i < n; i++)
		names[i] = (const char *)low.d + offs[i];
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && r == DH_OK; i++) {
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		if (k++ > 0)
			r = dh_buf_put_u8(out, ';');
		if (r == DH_OK)
			r = dh_buf_put_str(out, names[i]);
	}
	if (r != DH_OK)
		r = dh_err_set(err, r, "signed headers: %s", dh_strerror(r));
out:
	free(offs);
	free(names);
	dh_buf_free(&low);
	return r;
}

int
dh_sigv4_prepare(const struct dh_sigv4_request *req,
    const struct dh_sigv4_params *p, struct dh_sigv4_signed *out,
    struct dh_err *err)
{
	struct dh_sigv4_header *hs = NULL;
	struct dh_sigv4_request mreq;
	const struct dh_sigv4_creds *c = p->creds;
	const char *name, *cs;
	size_t i, n = 0;
	int r, add_sha = (p->flags & DH_SIGV4_ADD_CONTENT_SHA256) != 0;
	int has_token;

	dh_sigv4_signed_init(out);
	if (req == NULL || req->method == NULL || req->method[0] == '\0')
		return dh_err_set(err, DH_E_ARG, "sigv4: request has no method");
	if (c == NULL || c->access_key == NULL || c->access_key[0] == '\0')
		return dh_err_set(err, DH_E_ARG, "sigv4: no access key id");
	if (p->region == NULL || !valid_scope_part(p->region, 64))
		return dh_err_set(err, DH_E_ARG, "sigv4: missing or invalid region");
	if (p->service == NULL || !valid_scope_part(p->service, 64))
		return dh_err_set(err, DH_E_ARG,
		    "sigv4: missing or invalid service");
	if (dh_sigv4_header_get(req, "host") == NULL)
		return dh_err_set(err, DH_E_ARG, "sigv4: request has no Host header");
	if (req->body == NULL && req->body_len > 0)
		return dh_err_set(err, DH_E_ARG, "sigv4: body_len without body");
	has_token = c->session_token != NULL && c->session_token[0] != '\0';

	dh_time_amz(p->t, out->amz_date);
	if (snprintf(out->scope, sizeof(out->scope), "%.8s/%s/%s/aws4_request",
	    out->amz_date, p->region, p->service) >= (int)sizeof(out->scope))
		return dh_err_set(err, DH_E_ARG, "sigv4: scope too long");
	if (has_token) {
		out->token_copy = strdup(c->session_token);
		if (out->token_copy == NULL)
			return dh_err_set(err, DH_E_NOMEM, "out of memory");
	}

	/* Payload hash: caller's, else an unsent X-Amz-Content-SHA256 header
	 * (botocore uses it when present), else the body's SHA-256. */
	cs = add_sha ? NULL : dh_sigv4_header_get(req, "x-amz-content-sha256");
	if (req->payload_hash != NULL) {
		if (strlen(req->payload_hash) >= sizeof(out->payload_hash))
			return dh_err_set(err, DH_E_ARG,
			    "sigv4: payload hash too long");
		memcpy(out->payload_hash, req->payload_hash,
		    strlen(req->payload_hash) + 1);
	} else {
		dh_sha256_hex(req->body != NULL ? req->body : "", req->body_len,
		    out->payload_hash);
	}
	if (cs != NULL) {
		if (strlen(cs) >= sizeof(out->payload_hash))
			return dh_err_set(err, DH_E_ARG,
			    "sigv4: X-Amz-Content-SHA256 value too long");
		memcpy(out->payload_hash, cs, strlen(cs) + 1);
	}

	hs = calloc(req->n_headers + DH_SIGV4_MAX_ADD, sizeof(*hs));
	if (hs == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	for (i = 0; i < req->n_headers; i++) {
		name = req->headers[i].name;
		if (name == NULL || never_signed(name) ||
		    strcasecmp(name, "x-amz-date") == 0 ||
		    (has_token &&
		    strcasecmp(name, "x-amz-security-token") == 0) ||
		    (add_sha && strcasecmp(name, "x-amz-content-sha256") == 0))
			continue;
		hs[n].name = name;
		hs[n].value = req->headers[i].value != NULL ?
		    req->headers[i].value : "";
		n++;
	}
	out->n_add = 0;
	out->add[out->n_add].name = "X-Amz-Date";
	out->add[out->n_add++].value = out->amz_date;
	if (has_token) {
		out->add[out->n_add].name = "X-Amz-Security-Token";
		out->add[out->n_add++].value = out->token_copy;
	}
	if (add_sha) {
		out->add[out->n_add].name = "X-Amz-Content-SHA256";
		out->add[out->n_add++].value = out->payload_hash;
	}
	for (i = 0; i < out->n_add; i++)
		hs[n++] = out->add[i];

	r = join_names(hs, n, &out->signed_headers, err);
	if (r != DH_OK)
		goto out;
	mreq = *req;
	mreq.headers = hs;
	mreq.n_headers = n;
	r = dh_sigv4_canonical_request(&mreq,
	    dh_buf_cstr(&out->signed_headers), out->payload_hash, p->flags,
	    &out->canonical_request, err);
	if (r != DH_OK)
		goto out;
	r = build_sts(out->amz_date, out->scope, &out->canonical_request,
	    &out->string_to_sign);
	if (r != DH_OK)
		r = dh_err_set(err, r, "string to sign: %s", dh_strerror(r));
out:
	free(hs);
	return r;
}

int
dh_sigv4_finish(struct dh_sigv4_signed *out, const char *access_key,
    const char *signature, struct dh_err *err)
{
	size_t n;
	int r;

	if (access_key == NULL || signature == NULL)
		return dh_err_set(err, DH_E_ARG, "sigv4: no key id or signature");
	n = strlen(signature);
	if (n == 0 || n > DH_SIGV4_MAX_SIG)
		return dh_err_set(err, DH_E_ARG, "sigv4: bad signature length %zu",
		    n);
	if (out->n_add >= DH_SIGV4_MAX_ADD)
		return dh_err_set(err, DH_E_STATE, "sigv4: already finished");
	memcpy(out->signature, signature, n + 1);
	dh_buf_reset(&out->authorization);
	r = dh_buf_printf(&out->authorization,
	    DH_SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, "
	    "Signature=%s", access_key, out->scope,
	    dh_buf_cstr(&out->signed_headers), signature);
	if (r != DH_OK)
		return dh_err_set(err, r, "authorization header: %s",
		    dh_strerror(r));
	out->add[out->n_add].name = "Authorization";
	out->add[out->n_add++].value = dh_buf_cstr(&out->authorization);
	return DH_OK;
}

int
dh_sigv4_sign(const struct dh_sigv4_request *req,
    const struct dh_sigv4_params *p, struct dh_sigv4_signed *out,
    struct dh_err *err)
{
	char hex[2 * DH_SHA256_LEN + 1];
	char date8[9];
	int r;

	if (p->creds == NULL || p->creds->secret_key == NULL)
		return dh_err_set(err, DH_E_ARG, "sigv4: no secret access key");
	r = dh_sigv4_prepare(req, p, out, err);
	if (r != DH_OK)
		return r;
	memcpy(date8, out->amz_date, 8);
	date8[8] = '\0';
	dh_sigv4_hmac_signature(p->creds->secret_key, date8, p->region,
	    p->service, (const char *)out->string_to_sign.d,
	    out->string_to_sign.len, hex);
	return dh_sigv4_finish(out, p->creds->access_key, hex, err);
}

/* ---------------------------------------------------------------- verify */

const char *
dh_sigv4_fail_name(enum dh_sigv4_fail f)
{
	switch (f) {
	case DH_SIGV4_FAIL_NONE: return "None";
	case DH_SIGV4_FAIL_MISSING: return "MissingAuthenticationToken";
	case DH_SIGV4_FAIL_MALFORMED: return "IncompleteSignature";
	case DH_SIGV4_FAIL_ALGORITHM: return "UnsupportedAlgorithm";
	case DH_SIGV4_FAIL_DATE: return "MissingDate";
	case DH_SIGV4_FAIL_SKEW: return "RequestTimeTooSkewed";
	case DH_SIGV4_FAIL_EXPIRED: return "RequestExpired";
	case DH_SIGV4_FAIL_SCOPE_DATE: return "ScopeDateMismatch";
	case DH_SIGV4_FAIL_SCOPE_REGION: return "ScopeRegionMismatch";
	case DH_SIGV4_FAIL_SCOPE_SERVICE: return "ScopeServiceMismatch";
	case DH_SIGV4_FAIL_SCOPE_TERMINATOR: return "ScopeTerminatorInvalid";
	case DH_SIGV4_FAIL_HOST_UNSIGNED: return "HostNotSigned";
	case DH_SIGV4_FAIL_HEADER_MISSING: return "SignedHeaderMissing";
	case DH_SIGV4_FAIL_PAYLOAD: return "XAmzContentSHA256Mismatch";
	case DH_SIGV4_FAIL_SIGNATURE: return "SignatureDoesNotMatch";
	}
	return "Unknown";
}

/* Copy s[0..n) into dst[cap] with a NUL; 0 or -1 when it does not fit. */
static int
copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Split "AK/YYYYMMDD/region/service/aws4_request" into a. */
static int
parse_credential(const char *s, size_t n, struct dh_sigv4_auth *a,
    struct dh_err *err)
{
	const char *parts[5];
	size_t lens[5], i, k = 0, start = 0;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		if (k == 5)
			return dh_err_set(err, DH_E_FORMAT,
			    "Credential has more than 5 '/'-separated parts");
		parts[k] = s + start;
		lens[k++] = i - start;
		start = i + 1;
	}
	if (k != 5)
		return dh_err_set(err, DH_E_FORMAT,
		    "Credential must be AccessKeyId/date/region/service/"
		    "aws4_request");
	for (i = 0; i < 5; i++)
		if (lens[i] == 0)
			return dh_err_set(err, DH_E_FORMAT,
			    "Credential part %zu is empty", i + 1);
	if (copy_field(a->access_key, sizeof(a->access_key), parts[0],
	    lens[0]) != 0)
		return dh_err_set(err, DH_E_FORMAT, "access key id too long");
	if (lens[1] != 8 || copy_field(a->date8, sizeof(a->date8), parts[1],
	    lens[1]) != 0)
		return dh_err_set(err, DH_E_FORMAT,
		    "Credential date must be YYYYMMDD");
	for (i = 0; i < 8; i++)
		if (!isdigit((unsigned char)a->date8[i]))
			return dh_err_set(err, DH_E_FORMAT,
			    "Credential date must be YYYYMMDD");
	if (copy_field(a->region, sizeof(a->region), parts[2], lens[2]) != 0)
		return dh_err_set(err, DH_E_FORMAT, "Credential region too long");
	if (copy_field(a->service, sizeof(a->service), parts[3], lens[3]) != 0)
		return dh_err_set(err, DH_E_FORMAT,
		    "Credential service too long");
	if (copy_field(a->terminator, sizeof(a->terminator), parts[4],
	    lens[4]) != 0)
		return dh_err_set(err, DH_E_FORMAT,
		    "Credential terminator too long");
	return DH_OK;
}

int
dh_sigv4_parse_authorization(const char *value, struct dh_sigv4_auth *a,
    struct dh_err *err)
{
	const char *p, *e, *key, *val;
	size_t klen, vlen, n;
	int have_cred = 0, have_sh = 0, have_sig = 0, r;

	memset(a, 0, sizeof(*a));
	if (value == NULL)
		return dh_err_set(err, DH_E_FORMAT, "no Authorization value");
	p = value;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t");
	if (n == 0)
		return dh_err_set(err, DH_E_FORMAT, "Authorization is empty");
	if (copy_field(a->algorithm, sizeof(a->algorithm), p, n) != 0 ||
	    strcmp(a->algorithm, DH_SIGV4_ALGORITHM) != 0) {
		if (n >= sizeof(a->algorithm))
			n = sizeof(a->algorithm) - 1;
		memcpy(a->algorithm, p, n);
		a->algorithm[n] = '\0';
		return dh_err_set(err, DH_E_AUTH,
		    "unsupported Authorization algorithm (want "
		    DH_SIGV4_ALGORITHM ")");
	}
	p += n;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		e = p + strcspn(p, ",");
		key = p;
		val = memchr(p, '=', (size_t)(e - p));
		if (val == NULL)
			return dh_err_set(err, DH_E_FORMAT,
			    "Authorization component without '='");
		klen = (size_t)(val - key);
		while (klen > 0 && (key[klen - 1] == ' ' || key[klen - 1] == '\t'))
			klen--;
		val++;
		vlen = (size_t)(e - val);
		while (vlen > 0 && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
			vlen--;
		if (klen == 10 && strncmp(key, "Credential", 10) == 0) {
			if (have_cred++)
				return dh_err_set(err, DH_E_FORMAT,
				    "Credential given twice");
			r = parse_credential(val, vlen, a, err);
			if (r != DH_OK)
				return r;
		} else if (klen == 13 && strncmp(key, "SignedHeaders", 13) == 0) {
			if (have_sh++)
				return dh_err_set(err, DH_E_FORMAT,
				    "SignedHeaders given twice");
			if (vlen == 0 || copy_field(a->signed_headers,
			    sizeof(a->signed_headers), val, vlen) != 0)
				return dh_err_set(err, DH_E_FORMAT,
				    "SignedHeaders empty or too long");
		} else if (klen == 9 && strncmp(key, "Signature", 9) == 0) {
			if (have_sig++)
				return dh_err_set(err, DH_E_FORMAT,
				    "Signature given twice");
			if (vlen == 0 || copy_field(a->signature,
			    sizeof(a->signature), val, vlen) != 0)
				return dh_err_set(err, DH_E_FORMAT,
				    "Signature empty or too long");
		} else {
			return dh_err_set(err, DH_E_FORMAT,
			    "unknown Authorization component '%.*s'",
			    (int)(klen > 32 ? 32 : klen), key);
		}
		p = e;
	}
	if (!have_cred)
		return dh_err_set(err, DH_E_FORMAT,
		    "Authorization lacks Credential=");
	if (!have_sh)
		return dh_err_set(err, DH_E_FORMAT,
		    "Authorization lacks SignedHeaders=");
	if (!have_sig)
		return dh_err_set(err, DH_E_FORMAT,
		    "Authorization lacks Signature=");
	return DH_OK;
}

/* Find query parameter key (exact, as on the wire) and decode its value
 * into out (NUL-terminated); 1 found, 0 absent, <0 error. */
static int
query_param(const char *query, const char *key, struct dh_buf *out)
{
	const char *p, *e, *eq;
	size_t klen = strlen(key);
	int r;

	if (query == NULL)
		return 0;
	for (p = query; *p != '\0'; p = *e == '&' ? e + 1 : e) {
		e = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(e - p));
		if (eq == NULL)
			eq = e;
		if ((size_t)(eq - p) != klen || strncmp(p, key, klen) != 0)
			continue;
		dh_buf_reset(out);
		r = eq < e ? uri_decode(eq + 1, (size_t)(e - eq - 1), out) :
		    DH_OK;
		if (r == DH_OK)
			r = dh_buf_put_u8(out, '\0');
		if (r != DH_OK)
			return r;
		out->len--;
		return 1;
	}
	return 0;
}

static int
vfail(struct dh_sigv4_verify *v, enum dh_sigv4_fail f, struct dh_err *err,
    int code, const char *msg, const char *arg)
{
	v->fail = f;
	if (arg != NULL)
		return dh_err_set(err, code, "%s: %s: %.200s",
		    dh_sigv4_fail_name(f), msg, arg);
	return dh_err_set(err, code, "%s: %s", dh_sigv4_fail_name(f), msg);
}

/* Parse presigned X-Amz-* query auth into v->auth. */
static int
parse_presigned(const struct dh_sigv4_request *req,
    struct dh_sigv4_verify *v, struct dh_err *err)
{
	struct dh_sigv4_auth *a = &v->auth;
	struct dh_buf tmp;
	char *end;
	const char *s;
	int r;

	memset(a, 0, sizeof(*a));
	a->presigned = 1;
	dh_buf_init(&tmp, DH_SIGV4_MAX_HEAD);
	r = query_param(req->query, "X-Amz-Algorithm", &tmp);
	if (r < 0)
		goto toobig;
	s = dh_buf_cstr(&tmp);
	if (r == 0 || strcmp(s, DH_SIGV4_ALGORITHM) != 0) {
		r = vfail(v, DH_SIGV4_FAIL_ALGORITHM, err, DH_E_AUTH,
		    "X-Amz-Algorithm must be " DH_SIGV4_ALGORITHM, NULL);
		goto out;
	}
	memcpy(a->algorithm, DH_SIGV4_ALGORITHM, sizeof(DH_SIGV4_ALGORITHM));
	r = query_param(req->query, "X-Amz-Credential", &tmp);
	if (r < 0)
		goto toobig;
	if (r == 0) {
		r = vfail(v, DH_SIGV4_FAIL_MALFORMED, err, DH_E_FORMAT,
		    "presigned request lacks X-Amz-Credential", NULL);
		goto out;
	}
	r = parse_credential((const char *)tmp.d, tmp.len, a, err);
	if (r != DH_OK) {
		v->fail = DH_SIGV4_FAIL_MALFORMED;
		goto out;
	}
	r = query_param(req->query, "X-Amz-Date", &tmp);
	if (r < 0)
		goto toobig;
	if (r == 0 || copy_field(a->amz_date, sizeof(a->amz_date),
	    (const char *)tmp.d, tmp.len) != 0) {
		r = vfail(v, DH_SIGV4_FAIL_DATE, err, DH_E_AUTH,
		    "presigned request lacks a valid X-Amz-Date", NULL);
		goto out;
	}
	r = query_param(req->query, "X-Amz-Expires", &tmp);
	if (r < 0)
		goto toobig;
	errno = 0;
	a->expires = r == 1 && tmp.len > 0 && isdigit(tmp.d[0]) ?
	    strtol((const char *)tmp.d, &end, 10) : -1;
	if (r == 0 || a->expires < 1 || a->expires > DH_SIGV4_PRESIGN_MAX ||
	    errno != 0 || *end != '\0') {
		r = vfail(v, DH_SIGV4_FAIL_MALFORMED, err, DH_E_FORMAT,
		    "X-Amz-Expires must be 1..604800 seconds", NULL);
		goto out;
	}
	r = query_param(req->query, "X-Amz-SignedHeaders", &tmp);
	if (r < 0)
		goto toobig;
	if (r == 0 || tmp.len == 0 || copy_field(a->signed_headers,
	    sizeof(a->signed_headers), (const char *)tmp.d, tmp.len) != 0) {
		r = vfail(v, DH_SIGV4_FAIL_MALFORMED, err, DH_E_FORMAT,
		    "presigned request lacks X-Amz-SignedHeaders", NULL);
		goto out;
	}
	r = query_param(req->query, "X-Amz-Signature", &tmp);
	if (r < 0)
		goto toobig;
	if (r == 0 || tmp.len == 0 || copy_field(a->signature,
	    sizeof(a->signature), (const char *)tmp.d, tmp.len) != 0) {
		r = vfail(v, DH_SIGV4_FAIL_MALFORMED, err, DH_E_FORMAT,
		    "presigned request lacks X-Amz-Signature", NULL);
		goto out;
	}
	r = query_param(req->query, "X-Amz-Security-Token", &v->token_buf);
	if (r < 0)
		goto toobig;
	if (r == 1)
		v->security_token = dh_buf_cstr(&v->token_buf);
	r = DH_OK;
	goto out;
toobig:
	r = vfail(v, DH_SIGV4_FAIL_MALFORMED, err, DH_E_TOOBIG,
	    "presigned query parameter too long", NULL);
out:
	dh_buf_free(&tmp);
	return r;
}

/* SignedHeaders must be lower-case tokens, strictly ascending, include
 * host; each must exist in req. */
static int
check_signed_headers(const struct dh_sigv4_request *req,
    struct dh_sigv4_verify *v, struct dh_err *err)
{
	const char *sh = v->auth.signed_headers, *p, *e, *prev = NULL;
	char name[256];
	size_t n, prevn = 0, i;
	int host = 0, date = 0, c;

	for (p = sh; *p != '\0'; p = *e == ';' ? e + 1 : e) {
		e = p + strcspn(p, ";");
		n = (size_t)(e - p);
		if (n == 0 || n >= sizeof(name))
			return vfail(v, DH_SIGV4_FAIL_MALFORMED, err,
			    DH_E_FORMAT, "SignedHeaders has an empty or "
			    "oversized name", NULL);
		for (i = 0; i < n; i++)
			if (!is_tchar((unsigned char)p[i]) ||
			    isupper((unsigned char)p[i]))
				return vfail(v, DH_SIGV4_FAIL_MALFORMED, err,
				    DH_E_FORMAT, "SignedHeaders names must be "
				    "lower-case header names", NULL);
		if (prev != NULL) {
			c = strncmp(prev, p, prevn < n ? prevn : n);
			if (c > 0 || (c == 0 && prevn >= n))
				return vfail(v, DH_SIGV4_FAIL_MALFORMED, err,
				    DH_E_FORMAT, "SignedHeaders must be sorted "
				    "and unique", NULL);
		}
		memcpy(name, p, n);
		name[n] = '\0';
		if (strcmp(name, "host") == 0)
			host = 1;
		if (strcmp(name, "x-amz-date") == 0)
			date = 1;
		if (dh_sigv4_header_get(req, name) == NULL)
			return vfail(v, DH_SIGV4_FAIL_HEADER_MISSING, err,
			    DH_E_AUTH, "signed header is not in the request",
			    name);
		prev = p;
		prevn = n;
		if (*e == '\0')
			break;
	}
	if (!host)
		return vfail(v, DH_SIGV4_FAIL_HOST_UNSIGNED, err, DH_E_AUTH,
		    "host must be among SignedHeaders", NULL);
	if (!v->auth.presigned && !date)
		return vfail(v, DH_SIGV4_FAIL_DATE, err, DH_E_AUTH,
		    "x-amz-date must be among SignedHeaders", NULL);
	if (*sh != '\0' && sh[strlen(sh) - 1] == ';')
		return vfail(v, DH_SIGV4_FAIL_MALFORMED, err, DH_E_FORMAT,
		    "SignedHeaders ends with ';'", NULL);
	return DH_OK;
}

static int
is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return s[64] == '\0';
}

int
dh_sigv4_verify_begin(const struct dh_sigv4_request *req,
    const struct dh_sigv4_verify_opts *o, struct dh_sigv4_verify *v,
    struct dh_err *err)
{
	static const char *const skip_sig[] = { "X-Amz-Signature", NULL };
	const char *authz, *cs, *d;
	char scope[256], body_hex[2 * DH_SHA256_LEN + 1];
	time_t t;
	long skew, delta;
	int r;

	memset(v, 0, sizeof(*v));
	dh_buf_init(&v->canonical_request, DH_SIGV4_MAX_CANON);
	dh_buf_init(&v->string_to_sign, STS_MAX);
	dh_buf_init_secret(&v->token_buf, DH_SIGV4_MAX_HEAD);
	if (req == NULL || req->method == NULL)
		return dh_err_set(err, DH_E_ARG, "verify: no request");
	skew = o->max_skew > 0 ? o->max_skew : DH_SIGV4_SKEW_DEFAULT;

	authz = dh_sigv4_header_get(req, "authorization");
	if (authz != NULL) {
		r = dh_sigv4_parse_authorization(authz, &v->auth, err);
		if (r != DH_OK) {
			v->fail = r == DH_E_AUTH ? DH_SIGV4_FAIL_ALGORITHM :
			    DH_SIGV4_FAIL_MALFORMED;
			return dh_err_wrap(err, r, "%s",
			    dh_sigv4_fail_name(v->fail));
		}
		d = dh_sigv4_header_get(req, "x-amz-date");
		if (d == NULL || copy_field(v->auth.amz_date,
		    sizeof(v->auth.amz_date), d, strlen(d)) != 0)
			return vfail(v, DH_SIGV4_FAIL_DATE, err, DH_E_AUTH,
			    "X-Amz-Date header missing or malformed", NULL);
		v->security_token = dh_sigv4_header_get(req,
		    "x-amz-security-token");
	} else if (req->query != NULL &&
	    (strstr(req->query, "X-Amz-Signature=") != NULL ||
	    strstr(req->query, "X-Amz-Algorithm=") != NULL)) {
		r = parse_presigned(req, v, err);
		if (r != DH_OK)
			return r;
	} else {
		return vfail(v, DH_SIGV4_FAIL_MISSING, err, DH_E_AUTH,
		    "request carries no Authorization header or X-Amz-Signature",
		    NULL);
	}

	if (dh_time_parse_amz(v->auth.amz_date, &t) != DH_OK)
		return vfail(v, DH_SIGV4_FAIL_DATE, err, DH_E_AUTH,
		    "X-Amz-Date is not YYYYMMDDTHHMMSSZ", v->auth.amz_date);
	delta = (long)(o->now - t);
	if (v->auth.presigned) {
		if (delta < -skew)
			return vfail(v, DH_SIGV4_FAIL_SKEW, err, DH_E_AUTH,
			    "presigned request is not yet valid",
			    v->auth.amz_date);
		if (delta > v->auth.expires)
			return vfail(v, DH_SIGV4_FAIL_EXPIRED, err, DH_E_AUTH,
			    "presigned request has expired", v->auth.amz_date);
	} else if (delta > skew || delta < -skew) {
		return vfail(v, DH_SIGV4_FAIL_SKEW, err, DH_E_AUTH,
		    "request time differs from server time by more than the "
		    "allowed skew", v->auth.amz_date);
	}
	if (strncmp(v->auth.date8, v->auth.amz_date, 8) != 0)
		return vfail(v, DH_SIGV4_FAIL_SCOPE_DATE, err, DH_E_AUTH,
		    "credential scope date does not match X-Amz-Date",
		    v->auth.date8);
	if (o->region != NULL && strcmp(o->region, v->auth.region) != 0)
		return vfail(v, DH_SIGV4_FAIL_SCOPE_REGION, err, DH_E_AUTH,
		    "credential scope region is wrong", v->auth.region);
	if (o->service != NULL && strcmp(o->service, v->auth.service) != 0)
		return vfail(v, DH_SIGV4_FAIL_SCOPE_SERVICE, err, DH_E_AUTH,
		    "credential scope service is wrong", v->auth.service);
	if (strcmp(v->auth.terminator, "aws4_request") != 0)
		return vfail(v, DH_SIGV4_FAIL_SCOPE_TERMINATOR, err, DH_E_AUTH,
		    "credential scope must end in aws4_request",
		    v->auth.terminator);
	r = check_signed_headers(req, v, err);
	if (r != DH_OK)
		return r;

	/* Payload hash as the client put it in its canonical request. */
	if (req->payload_hash != NULL) {
		if (strlen(req->payload_hash) >= sizeof(body_hex))
			return dh_err_set(err, DH_E_ARG,
			    "verify: payload hash too long");
		memcpy(body_hex, req->payload_hash,
		    strlen(req->payload_hash) + 1);
	} else {
		dh_sha256_hex(req->body != NULL ? req->body : "", req->body_len,
		    body_hex);
	}
	cs = dh_sigv4_header_get(req, "x-amz-content-sha256");
	if (cs != NULL) {
		if (strlen(cs) >= sizeof(v->payload_hash))
			return vfail(v, DH_SIGV4_FAIL_PAYLOAD, err,
			    DH_E_INTEGRITY, "X-Amz-Content-SHA256 too long",
			    NULL);
		memcpy(v->payload_hash, cs, strlen(cs) + 1);
		if (is_hex64(cs) && is_hex64(body_hex) &&
		    strcasecmp(cs, body_hex) != 0)
			return vfail(v, DH_SIGV4_FAIL_PAYLOAD, err,
			    DH_E_INTEGRITY, "X-Amz-Content-SHA256 does not "
			    "match the body", NULL);
	} else if (v->auth.presigned &&
	    (o->flags & DH_SIGV4_NO_DOUBLE_ENCODE)) {
		memcpy(v->payload_hash, DH_SIGV4_UNSIGNED_PAYLOAD,
		    sizeof(DH_SIGV4_UNSIGNED_PAYLOAD));
	} else {
		memcpy(v->payload_hash, body_hex, sizeof(body_hex));
	}

	r = canon_head(req->method, req->path, req->query,
	    v->auth.presigned ? skip_sig : NULL, o->flags,
	    &v->canonical_request, err);
	if (r == DH_OK)
		r = canon_tail(req, v->auth.signed_headers, v->payload_hash,
		    &v->canonical_request, err);
	if (r != DH_OK) {
		v->fail = r == DH_E_AUTH ? DH_SIGV4_FAIL_HEADER_MISSING :
		    DH_SIGV4_FAIL_MALFORMED;
		return dh_err_wrap(err, r, "verify");
	}
	if (snprintf(scope, sizeof(scope), "%s/%s/%s/%s", v->auth.date8,
	    v->auth.region, v->auth.service, v->auth.terminator) >=
	    (int)sizeof(scope))
		return vfail(v, DH_SIGV4_FAIL_MALFORMED, err, DH_E_FORMAT,
		    "credential scope too long", NULL);
	r = build_sts(v->auth.amz_date, scope, &v->canonical_request,
	    &v->string_to_sign);
	if (r != DH_OK)
		return dh_err_set(err, r, "verify: string to sign: %s",
		    dh_strerror(r));
	return DH_OK;
}

int
dh_sigv4_verify_hmac(struct dh_sigv4_verify *v, const char *secret_key,
    struct dh_err *err)
{
	char hex[2 * DH_SHA256_LEN + 1];
	int ok;

	if (secret_key == NULL || v->string_to_sign.len == 0)
		return dh_err_set(err, DH_E_ARG,
		    "verify: no secret or verification not begun");
	dh_sigv4_hmac_signature(secret_key, v->auth.date8, v->auth.region,
	    v->auth.service, (const char *)v->string_to_sign.d,
	    v->string_to_sign.len, hex);
	ok = strlen(v->auth.signature) == 64 &&
	    dh_ct_equal(hex, v->auth.signature, 64);
	dh_wipe(hex, sizeof(hex));
	if (!ok)
		return vfail(v, DH_SIGV4_FAIL_SIGNATURE, err, DH_E_AUTH,
		    "the request signature does not match the one computed "
		    "for the access key", v->auth.access_key);
	v->fail = DH_SIGV4_FAIL_NONE;
	return DH_OK;
}

void
dh_sigv4_verify_free(struct dh_sigv4_verify *v)
{
	dh_buf_free(&v->canonical_request);
	dh_buf_free(&v->string_to_sign);
	dh_buf_free(&v->token_buf);
	v->security_token = NULL;
}

/* ------------------------------------------------------- raw HTTP parsing */

void
dh_sigv4_http_free(struct dh_sigv4_http *p)
{
	free(p->head);
	dh_buf_free(&p->chunked);
	memset(p, 0, sizeof(*p));
}

/* Next line of t[*pos..n): sets *ls and *ll (without CR LF) and advances *pos;
 * 0 when no bytes are left. */
static int
next_line(const char *t, size_t n, size_t *pos, const char **ls, size_t *ll)
{
	const char *nl;
	size_t len;

	if (*pos >= n)
		return 0;
	nl = memchr(t + *pos, '\n', n - *pos);
	len = nl != NULL ? (size_t)(nl - (t + *pos)) : n - *pos;
	*ls = t + *pos;
	*pos += len + (nl != NULL ? 1 : 0);
	if (len > 0 && (*ls)[len - 1] == '\r')
		len--;
	*ll = len;
	return 1;
}

static int
bad_text_byte(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int
parse_request_line(const char *l, size_t n, struct dh_buf *st,
    size_t offs[4], struct dh_err *err)
{
	const char *sp1, *sp2, *q;
	size_t i, tlen;
	int r;

	sp1 = memchr(l, ' ', n);
	sp2 = NULL;
	for (i = n; i > 0; i--)
		if (l[i - 1] == ' ') {
			sp2 = l + i - 1;
			break;
		}
	if (sp1 == NULL || sp2 == sp1)
		return dh_err_set(err, DH_E_FORMAT,
		    "line 1: request line must be 'METHOD /target HTTP/1.x'");
	for (i = 0; l + i < sp1; i++)
		if (!is_tchar((unsigned char)l[i]))
			return dh_err_set(err, DH_E_FORMAT,
			    "line 1: invalid character in method");
	if (sp1 == l)
		return dh_err_set(err, DH_E_FORMAT, "line 1: empty method");
	if ((size_t)(l + n - sp2 - 1) != 8 ||
	    (strncmp(sp2 + 1, "HTTP/1.1", 8) != 0 &&
	    strncmp(sp2 + 1, "HTTP/1.0", 8) != 0))
		return dh_err_set(err, DH_E_FORMAT,
		    "line 1: version must be HTTP/1.1 or HTTP/1.0");
	tlen = (size_t)(sp2 - sp1 - 1);
	if (tlen == 0 || sp1[1] != '/')
		return dh_err_set(err, DH_E_FORMAT,
		    "line 1: target must start with '/' (origin form)");
	for (i = 0; i < tlen; i++)
		if (bad_text_byte((unsigned char)sp1[1 + i]))
			return dh_err_set(err, DH_E_FORMAT,
			    "line 1: control character in target");
	q = memchr(sp1 + 1, '?', tlen);
	offs[0] = st->len;
	r = dh_buf_put(st, l, (size_t)(sp1 - l));
	if (r == DH_OK)
		r = dh_buf_put_u8(st, '\0');
	offs[1] = st->len;
	if (r == DH_OK)
		r = dh_buf_put(st, sp1 + 1, q != NULL ? (size_t)(q - sp1 - 1) :
		    tlen);
	if (r == DH_OK)
		r = dh_buf_put_u8(st, '\0');
	offs[2] = st->len;
	if (r == DH_OK && q != NULL)
		r = dh_buf_put(st, q + 1, (size_t)(sp2 - q - 1));
	if (r == DH_OK)
		r = dh_buf_put_u8(st, '\0');
	offs[3] = st->len;
	if (r == DH_OK)
		r = dh_buf_put(st, sp2 + 1, 8);
	if (r == DH_OK)
		r = dh_buf_put_u8(st, '\0');
	if (r != DH_OK)
		return dh_err_set(err, r, "line 1: %s", dh_strerror(r));
	return DH_OK;
}

/* Append s[0..n) with leading/trailing SP/HTAB removed. */
static int
put_ows_trimmed(struct dh_buf *st, const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return dh_buf_put(st, s, n);
}

/* Parse a Content-Length value strictly (digits only). */
static int
parse_length(const char *s, size_t *out)
{
	size_t v = 0, i;

	if (s[0] == '\0')
		return DH_E_FORMAT;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isdigit((unsigned char)s[i]) || i >= 18)
			return DH_E_FORMAT;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*out = v;
	return DH_OK;
}

static int
decode_chunked(const char *t, size_t n, size_t pos, struct dh_buf *out,
    struct dh_err *err)
{
	const char *l;
	size_t ll, i, size;
	int r, d;

	for (;;) {
		if (!next_line(t, n, &pos, &l, &ll))
			return dh_err_set(err, DH_E_SHORT,
			    "chunked body ends before the last chunk");
		size = 0;
		for (i = 0; i < ll && (d = hexval((unsigned char)l[i])) >= 0;
		    i++) {
			if (i >= 15)
				return dh_err_set(err, DH_E_FORMAT,
				    "chunk size too large");
			size = size * 16 + (size_t)d;
		}
		if (i == 0 || (i < ll && l[i] != ';' && l[i] != ' ' &&
		    l[i] != '\t'))
			return dh_err_set(err, DH_E_FORMAT,
			    "malformed chunk size line");
		if (size == 0)
			break;
		if (size > n - pos)
			return dh_err_set(err, DH_E_SHORT,
			    "chunk of %zu bytes but only %zu left", size,
			    n - pos);
		r = dh_buf_put(out, t + pos, size);
		if (r != DH_OK)
			return dh_err_set(err, r, "chunked body: %s",
			    dh_strerror(r));
		pos += size;
		if (pos < n && t[pos] == '\r')
			pos++;
		if (pos >= n || t[pos] != '\n')
			return dh_err_set(err, DH_E_FORMAT,
			    "chunk data not followed by CRLF");
		pos++;
	}
	/* Trailer fields until an empty line or the end are ignored. */
	while (next_line(t, n, &pos, &l, &ll) && ll > 0)
		;
	return DH_OK;
}

int
dh_sigv4_parse_http(const void *text, size_t n, struct dh_sigv4_http *p,
    struct dh_err *err)
{
	const char *t = text, *l;
	struct dh_buf st;
	size_t pos = 0, ll, i, line = 1, nh = 0, offs[4] = { 0 }, cl = 0, v;
	size_t noff[DH_SIGV4_MAX_HEADERS], voff[DH_SIGV4_MAX_HEADERS];
	int r, have_cl = 0, chunked = 0, ended = 0;
	const char *te;

	memset(p, 0, sizeof(*p));
	dh_buf_init(&p->chunked, n);
	dh_buf_init(&st, 2 * DH_SIGV4_MAX_HEAD);
	if (t == NULL || n == 0) {
		r = dh_err_set(err, DH_E_SHORT, "empty request");
		goto out;
	}
	if (!next_line(t, n, &pos, &l, &ll) || ll == 0) {
		r = dh_err_set(err, DH_E_FORMAT, "line 1: empty request line");
		goto out;
	}
	if (memchr(l, '\0', ll) != NULL || memchr(l, '\r', ll) != NULL) {
		r = dh_err_set(err, DH_E_FORMAT, "line 1: NUL or CR in line");
		goto out;
	}
	if (pos > DH_SIGV4_MAX_HEAD) {
		r = dh_err_set(err, DH_E_TOOBIG, "request head over %d bytes",
		    DH_SIGV4_MAX_HEAD);
		goto out;
	}
	r = parse_request_line(l, ll, &st, offs, err);
	if (r != DH_OK)
		goto out;
	while (next_line(t, n, &pos, &l, &ll)) {
		line++;
		if (pos > DH_SIGV4_MAX_HEAD) {
			r = dh_err_set(err, DH_E_TOOBIG,
			    "request head over %d bytes", DH_SIGV4_MAX_HEAD);
			goto out;
		}
		if (ll == 0) {
			ended = 1;
			break;
		}
		for (i = 0; i < ll; i++)
			if (bad_text_byte((unsigned char)l[i])) {
				r = dh_err_set(err, DH_E_FORMAT,
				    "line %zu: control character in header",
				    line);
				goto out;
			}
		if (l[0] == ' ' || l[0] == '\t') {
			/* obs-fold: continue the previous value. */
			if (nh == 0) {
				r = dh_err_set(err, DH_E_FORMAT,
				    "line %zu: continuation before any header",
				    line);
				goto out;
			}
			st.len--; /* drop the previous value's NUL */
			if (st.len > voff[nh - 1])
				r = dh_buf_put_u8(&st, ' ');
			if (r == DH_OK)
				r = put_ows_trimmed(&st, l, ll);
			if (r == DH_OK)
				r = dh_buf_put_u8(&st, '\0');
			if (r != DH_OK)
				goto toobig;
			continue;
		}
		for (i = 0; i < ll && l[i] != ':'; i++)
			if (!is_tchar((unsigned char)l[i]))
				break;
		if (i == 0 || i == ll || l[i] != ':') {
			r = dh_err_set(err, DH_E_FORMAT,
			    "line %zu: header must be 'Name: value'", line);
			goto out;
		}
		if (nh == DH_SIGV4_MAX_HEADERS) {
			r = dh_err_set(err, DH_E_TOOBIG,
			    "line %zu: more than %d headers", line,
			    DH_SIGV4_MAX_HEADERS);
			goto out;
		}
		noff[nh] = st.len;
		r = dh_buf_put(&st, l, i);
		if (r == DH_OK)
			r = dh_buf_put_u8(&st, '\0');
		voff[nh] = st.len;
		if (r == DH_OK)
			r = put_ows_trimmed(&st, l + i + 1, ll - i - 1);
		if (r == DH_OK)
			r = dh_buf_put_u8(&st, '\0');
		if (r != DH_OK)
			goto toobig;
		nh++;
	}
	(void)ended;

	p->head = (char *)dh_buf_steal(&st, &v);
	if (p->head == NULL) {
		r = dh_err_set(err, DH_E_NOMEM, "out of memory");
		goto out;
	}
	p->req.method = p->head + offs[0];
	p->req.path = p->head + offs[1];
	p->req.query = p->head + offs[2];
	p->version = p->head + offs[3];
	for (i = 0; i < nh; i++) {
		p->headers[i].name = p->head + noff[i];
		p->headers[i].value = p->head + voff[i];
	}
	p->req.headers = p->headers;
	p->req.n_headers = nh;

	te = NULL;
	for (i = 0; i < nh; i++) {
		if (strcasecmp(p->headers[i].name, "content-length") == 0) {
			if (parse_length(p->headers[i].value, &v) != DH_OK ||
			    (have_cl && v != cl)) {
				r = dh_err_set(err, DH_E_FORMAT,
				    "invalid or conflicting Content-Length");
				goto out;
			}
			cl = v;
			have_cl = 1;
		} else if (strcasecmp(p->headers[i].name,
		    "transfer-encoding") == 0) {
			if (te != NULL || strcasecmp(p->headers[i].value,
			    "chunked") != 0) {
				r = dh_err_set(err, DH_E_FORMAT,
				    "unsupported Transfer-Encoding (only a "
				    "single 'chunked' is accepted)");
				goto out;
			}
			te = p->headers[i].value;
			chunked = 1;
		}
	}
	if (chunked && have_cl) {
		r = dh_err_set(err, DH_E_FORMAT,
		    "both Content-Length and Transfer-Encoding given");
		goto out;
	}
	if (chunked) {
		r = decode_chunked(t, n, pos, &p->chunked, err);
		if (r != DH_OK)
			goto out;
		p->req.body = p->chunked.d;
		p->req.body_len = p->chunked.len;
	} else if (have_cl) {
		if (cl > n - pos) {
			r = dh_err_set(err, DH_E_SHORT,
			    "body has %zu bytes, Content-Length says %zu",
			    n - pos, cl);
			goto out;
		}
		p->req.body = cl > 0 ? t + pos : NULL;
		p->req.body_len = cl;
	} else {
		p->req.body = n > pos ? t + pos : NULL;
		p->req.body_len = n - pos;
	}
	r = DH_OK;
	goto out;
toobig:
	r = dh_err_set(err, r, "line %zu: %s", line, dh_strerror(r));
out:
	dh_buf_free(&st);
	return r;
}
