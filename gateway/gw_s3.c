/*
 * gw_s3: S3 REST-XML handlers, authentication, spool files and object
 * storage of the gateway (see gw_s3.h).  XML bodies are parsed with expat
 * into (element path, text) pairs; responses are rendered by hand with
 * escaping.  Every file reaches its final name by fsync + rename + fsync
 * of the directory before its metadata row commits.
 */
#include "gw_s3.h"

#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dh_enc.h"
#include "dh_hash.h"
#include "dh_sigv4.h"
#include "dh_time.h"
#include "dh_uuid.h"
#include "gw_kms.h"
#include "gw_policy.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define PATH_LEN 4096
#define COPY_BUF (1024 * 1024)
#define LIST_MAX 1000
#define SPOOL_BUF (256 * 1024)     /* body bytes gathered per write(2) */

struct gw_s3_spool {
	int fd;
	int taken;
	char path[PATH_LEN];
	uint64_t len, max;
	EVP_MD_CTX *md5;
	struct dh_sha256_ctx *sha;
	int finished;
	unsigned char *buf;         /* SPOOL_BUF bytes not yet written */
	size_t buffered;
	unsigned char md5d[16];
	unsigned char shad[DH_SHA256_LEN];
};

/* ------------------------------------------------------------ pure parts */

static int
hexv(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) into out[on]; plus_space maps '+' to ' '. */
static int
pct_decode(const char *s, size_t n, int plus_space, char *out, size_t on)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return DH_E_FORMAT;
			hi = hexv(s[i + 1]);
			lo = hexv(s[i + 2]);
			if (hi < 0 || lo < 0)
				return DH_E_FORMAT;
			ch = (char)(hi * 16 + lo);
			i += 2;
		} else if (ch == '+' && plus_space)
			ch = ' ';
		if (ch == '\0')
			return DH_E_FORMAT;
		if (o + 1 >= on)
			return DH_E_TOOBIG;
		out[o++] = ch;
	}
	if (on == 0)
		return DH_E_TOOBIG;
	out[o] = '\0';
	return DH_OK;
}

/* Copy (decode = 0) or percent-decode s[0..n) into out[on]. */
static int
take(const char *s, size_t n, int decode, int plus_space, char *out,
    size_t on)
{
	if (decode)
		return pct_decode(s, n, plus_space, out, on);
	if (n >= on)
		return DH_E_TOOBIG;
	if (memchr(s, '\0', n) != NULL)
		return DH_E_FORMAT;
	memcpy(out, s, n);
	out[n] = '\0';
	return DH_OK;
}

static int
split_path(const char *path, int decode, char *bucket, size_t bn, char *key,
    size_t kn)
{
	const char *p, *slash;
	size_t blen;

	if (bn == 0 || kn == 0)
		return DH_E_TOOBIG;
	bucket[0] = key[0] = '\0';
	if (path == NULL || path[0] != '/')
		return DH_E_FORMAT;
	p = path + 1;
	slash = strchr(p, '/');
	blen = slash != NULL ? (size_t)(slash - p) : strlen(p);
	if (take(p, blen, decode, 0, bucket, bn) != DH_OK)
		return DH_E_FORMAT;
	if (slash == NULL)
		return DH_OK;
	return take(slash + 1, strlen(slash + 1), decode, 0, key, kn);
}

int
gw_s3_parse_path(const char *path, char *bucket, size_t bn, char *key,
    size_t kn)
{
	return split_path(path, 1, bucket, bn, key, kn);
}

int
gw_s3_valid_bucket(const char *b)
{
	size_t i, n = strlen(b);
	int dots = 0, digits_only = 1;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = b[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '.' || ch == '-'))
			return 0;
		if (ch == '.') {
			dots++;
			if (i > 0 && b[i - 1] == '.')
				return 0;
		} else if (!(ch >= '0' && ch <= '9'))
			digits_only = 0;
	}
	if (b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-')
		return 0;
	return !(dots == 3 && digits_only);
}

static int
query_get(const char *query, const char *name, int decode, char *out,
    size_t n)
{
	const char *p = query, *amp, *eq;
	size_t nl = strlen(name), klen;

	if (n > 0)
		out[0] = '\0';
	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		klen = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', klen);
		if ((size_t)((eq != NULL ? eq : p + klen) - p) == nl &&
		    strncmp(p, name, nl) == 0) {
			if (eq == NULL)
				return 1;
			return take(eq + 1, klen - nl - 1, decode, 1, out, n) ==
			    DH_OK ? 1 : -1;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

int
gw_s3_query(const char *query, const char *name, char *out, size_t n)
{
	return query_get(query, name, 1, out, n);
}

/* A parameter of a query as libwebsockets delivers it (already decoded). */
static int
qget(const char *query, const char *name, char *out, size_t n)
{
	return query_get(query, name, 0, out, n);
}

int
gw_s3_parse_range(const char *h, uint64_t size, uint64_t *first,
    uint64_t *last)
{
	unsigned long long a = 0, b = 0;
	const char *p;
	char *e = NULL;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 ||
	    strchr(h, ',') != NULL)
		return DH_E_NOTFOUND;
	p = h + 6;
	if (*p == '-') {
		b = strtoull(p + 1, &e, 10);
		if (e == p + 1 || *e != '\0')
			return DH_E_NOTFOUND;
		if (b == 0 || size == 0)
			return DH_E_ARG;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return DH_OK;
	}
	if (*p < '0' || *p > '9')
		return DH_E_NOTFOUND;
	a = strtoull(p, &e, 10);
	if (*e != '-')
		return DH_E_NOTFOUND;
	p = e + 1;
	if (*p == '\0') {
		b = size > 0 ? size - 1 : 0;
	} else {
		if (*p < '0' || *p > '9')
			return DH_E_NOTFOUND;
		b = strtoull(p, &e, 10);
		if (*e != '\0')
			return DH_E_NOTFOUND;
		if (b < a)
			return DH_E_NOTFOUND;
		if (b >= size)
			b = size > 0 ? size - 1 : 0;
	}
	if (a >= size)
		return DH_E_ARG;
	*first = a;
	*last = b;
	return DH_OK;
}

int
gw_s3_xml_escape(const char *s, struct dh_buf *out)
{
	int r = DH_OK;

	for (; *s != '\0' && r == DH_OK; s++) {
		switch (*s) {
		case '<':
			r = dh_buf_put_str(out, "&lt;");
			break;
		case '>':
			r = dh_buf_put_str(out, "&gt;");
			break;
		case '&':
			r = dh_buf_put_str(out, "&amp;");
			break;
		case '"':
			r = dh_buf_put_str(out, "&quot;");
			break;
		case '\'':
			r = dh_buf_put_str(out, "&apos;");
			break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\t' &&
			    *s != '\n' && *s != '\r')
				r = dh_buf_printf(out, "&#x%X;",
				    (unsigned char)*s);
			else
				r = dh_buf_put_u8(out, (uint8_t)*s);
		}
	}
	return r;
}

/* <tag>escaped</tag> */
static int
xml_elem(struct dh_buf *out, const char *tag, const char *text)
{
	int r = dh_buf_printf(out, "<%s>", tag);

	if (r == DH_OK)
		r = gw_s3_xml_escape(text, out);
	if (r == DH_OK)
		r = dh_buf_printf(out, "</%s>", tag);
	return r;
}

int
gw_s3_error_xml(const char *code, const char *msg, const char *resource,
    const char *request_id, struct dh_buf *out)
{
	int r = dh_buf_put_str(out, XML_DECL "<Error>");

	if (r == DH_OK)
		r = xml_elem(out, "Code", code);
	if (r == DH_OK)
		r = xml_elem(out, "Message", msg);
	if (r == DH_OK && resource != NULL)
		r = xml_elem(out, "Resource", resource);
	if (r == DH_OK)
		r = xml_elem(out, "RequestId", request_id);
	if (r == DH_OK)
		r = xml_elem(out, "HostId", request_id);
	if (r == DH_OK)
		r = dh_buf_put_str(out, "</Error>");
	return r;
}

int
gw_s3_multipart_etag(const char *const *etags, size_t n, char *out,
    size_t outn)
{
	unsigned char d[16], all_d[16];
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned int dl = 0;
	size_t i, j;
	int r = DH_E_FORMAT;

	if (m == NULL)
		return DH_E_NOMEM;
	if (EVP_DigestInit_ex(m, EVP_md5(), NULL) != 1 || n == 0)
		goto done;
	for (i = 0; i < n; i++) {
		if (strlen(etags[i]) != 32)
			goto done;
		for (j = 0; j < 16; j++) {
			int hi = hexv(etags[i][2 * j]), lo = hexv(etags[i][2 * j
			    + 1]);

			if (hi < 0 || lo < 0)
				goto done;
			d[j] = (unsigned char)(hi * 16 + lo);
		}
		if (EVP_DigestUpdate(m, d, sizeof(d)) != 1)
			goto done;
	}
	if (EVP_DigestFinal_ex(m, all_d, &dl) != 1 || dl != 16 || outn < 50)
		goto done;
	dh_hex_encode(all_d, 16, out);
	snprintf(out + 32, outn - 32, "-%zu", n);
	r = DH_OK;
done:
	EVP_MD_CTX_free(m);
	return r;
}

/* ------------------------------------------------------------ XML input */

#define XML_MAX_ITEMS 20010
#define XML_MAX_DEPTH 8

struct xml_item {
	char path[160];
	char *text;
};

struct xml_doc {
	XML_Parser p;
	char path[160];
	size_t depth;
	size_t plen[XML_MAX_DEPTH + 1];
	struct dh_buf text;
	struct xml_item *items;
	size_t n, cap;
	int fail;
};

static void XMLCALL
x_start(void *u, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_doc *d = u;
	const char *local = strrchr(name, '|');
	size_t l;

	(void)attrs;
	local = local != NULL ? local + 1 : name;
	if (d->fail)
		return;
	if (d->depth == XML_MAX_DEPTH) {
		d->fail = 1;
		XML_StopParser(d->p, XML_FALSE);
		return;
	}
	d->plen[d->depth] = strlen(d->path);
	l = d->plen[d->depth];
	if (l + strlen(local) + 2 >= sizeof(d->path)) {
		d->fail = 1;
		XML_StopParser(d->p, XML_FALSE);
		return;
	}
	if (l > 0)
		d->path[l++] = '/';
	memcpy(d->path + l, local, strlen(local) + 1);
	d->depth++;
	dh_buf_reset(&d->text);
}

static void XMLCALL
x_end(void *u, const XML_Char *name)
{
	struct xml_doc *d = u;
	struct xml_item *it;

	(void)name;
	if (d->fail || d->depth == 0)
		return;
	if (d->n == d->cap) {
		size_t nc = d->cap == 0 ? 16 : d->cap * 2;
		struct xml_item *ni;

		if (nc > XML_MAX_ITEMS)
			nc = XML_MAX_ITEMS;
		if (d->n == nc) {
			d->fail = 1;
			XML_StopParser(d->p, XML_FALSE);
			return;
		}
		ni = realloc(d->items, nc * sizeof(*ni));
		if (ni == NULL) {
			d->fail = 1;
			XML_StopParser(d->p, XML_FALSE);
			return;
		}
		d->items = ni;
		d->cap = nc;
	}
	it = &d->items[d->n];
	snprintf(it->path, sizeof(it->path), "%s", d->path);
	it->text = strdup(dh_buf_cstr(&d->text));
	if (it->text == NULL) {
		d->fail = 1;
		XML_StopParser(d->p, XML_FALSE);
		return;
	}
	d->n++;
	d->depth--;
	d->path[d->plen[d->depth]] = '\0';
	dh_buf_reset(&d->text);
}

static void XMLCALL
x_text(void *u, const XML_Char *s, int len)
{
	struct xml_doc *d = u;

	if (d->fail || len <= 0)
		return;
	if (dh_buf_put(&d->text, s, (size_t)len) != DH_OK) {
		d->fail = 1;
		XML_StopParser(d->p, XML_FALSE);
	}
}

/* Documents with a DTD (entity definitions) are refused outright. */
static void XMLCALL
x_doctype(void *u, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal)
{
	struct xml_doc *d = u;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	d->fail = 1;
	XML_StopParser(d->p, XML_FALSE);
}

static void
xml_free(struct xml_doc *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->items[i].text);
	free(d->items);
	dh_buf_free(&d->text);
	if (d->p != NULL)
		XML_ParserFree(d->p);
	memset(d, 0, sizeof(*d));
}

/* Parse xml into leaf (path, text) items; no DTDs or entities beyond XML's. */
static int
xml_parse(const void *xml, size_t len, struct xml_doc *d, struct dh_err *err)
{
	memset(d, 0, sizeof(*d));
	dh_buf_init(&d->text, 4096);
	if (len > GW_S3_MAX_XML)
		return dh_err_set(err, DH_E_TOOBIG, "XML body too large");
	d->p = XML_ParserCreateNS("UTF-8", '|');
	if (d->p == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	XML_SetUserData(d->p, d);
	XML_SetElementHandler(d->p, x_start, x_end);
	XML_SetCharacterDataHandler(d->p, x_text);
	XML_SetStartDoctypeDeclHandler(d->p, x_doctype);
	if (XML_Parse(d->p, xml, (int)len, XML_TRUE) != XML_STATUS_OK ||
	    d->fail)
		return dh_err_set(err, DH_E_FORMAT, "The XML you provided was"
		    " not well-formed or did not validate against our published"
		    " schema");
	return DH_OK;
}

static const char *
xml_get(const struct xml_doc *d, const char *path)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->items[i].path, path) == 0)
			return d->items[i].text;
	return NULL;
}

static void
unquote(const char *s, char *out, size_t n)
{
	size_t l;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (strncmp(s, "&quot;", 6) == 0)
		s += 6;
	if (*s == '"')
		s++;
	snprintf(out, n, "%s", s);
	l = strlen(out);
	while (l > 0 && (out[l - 1] == '"' || out[l - 1] == ' ' ||
	    out[l - 1] == '\n' || out[l - 1] == '\r' || out[l - 1] == '\t'))
		out[--l] = '\0';
}

int
gw_s3_parse_complete(const void *xml, size_t len, struct gw_s3_part *parts,
    size_t max, size_t *n, struct dh_err *err)
{
	struct xml_doc d;
	int have_num = 0, have_tag = 0, r;
	size_t i, k = 0;

	*n = 0;
	r = xml_parse(xml, len, &d, err);
	if (r != DH_OK)
		goto done;
	for (i = 0; i < d.n; i++) {
		const char *p = d.items[i].path;

		if (strcmp(p, "CompleteMultipartUpload/Part/PartNumber") == 0) {
			char *e = NULL;
			long v = strtol(d.items[i].text, &e, 10);

			if (k == max) {
				r = dh_err_set(err, DH_E_TOOBIG, "too many"
				    " parts");
				goto done;
			}
			if (e == d.items[i].text || *e != '\0' || v < 1 ||
			    v > GW_S3_MAX_PARTS) {
				r = dh_err_set(err, DH_E_FORMAT, "bad"
				    " PartNumber");
				goto done;
			}
			parts[k].number = (int)v;
			have_num = 1;
		} else if (strcmp(p, "CompleteMultipartUpload/Part/ETag") ==
		    0) {
			if (k == max) {
				r = dh_err_set(err, DH_E_TOOBIG, "too many"
				    " parts");
				goto done;
			}
			unquote(d.items[i].text, parts[k].etag,
			    sizeof(parts[k].etag));
			have_tag = 1;
		} else if (strcmp(p, "CompleteMultipartUpload/Part") == 0) {
			if (!have_num || !have_tag) {
				r = dh_err_set(err, DH_E_FORMAT, "a Part needs"
				    " PartNumber and ETag");
				goto done;
			}
			k++;
			have_num = have_tag = 0;
		} else if (strcmp(p, "CompleteMultipartUpload") != 0 &&
		    strncmp(p, "CompleteMultipartUpload/Part/", 29) != 0) {
			r = dh_err_set(err, DH_E_FORMAT, "unexpected element"
			    " %s", p);
			goto done;
		}
	}
	if (k == 0 || xml_get(&d, "CompleteMultipartUpload") == NULL) {
		r = dh_err_set(err, DH_E_FORMAT, "The XML you provided was not"
		    " well-formed or did not validate against our published"
		    " schema");
		goto done;
	}
	*n = k;
done:
	xml_free(&d);
	return r;
}

int
gw_s3_parse_encryption(const void *xml, size_t len, char *algo, size_t an,
    char *kms, size_t kn, int *bucket_key, struct dh_err *err)
{
	static const char base[] = "ServerSideEncryptionConfiguration/Rule/";
	char path[160];
	const char *a, *k, *b;
	struct xml_doc d;
	int r;

	algo[0] = kms[0] = '\0';
	*bucket_key = 0;
	r = xml_parse(xml, len, &d, err);
	if (r != DH_OK)
		goto done;
	snprintf(path, sizeof(path), "%sApplyServerSideEncryptionByDefault/"
	    "SSEAlgorithm", base);
	a = xml_get(&d, path);
	snprintf(path, sizeof(path), "%sApplyServerSideEncryptionByDefault/"
	    "KMSMasterKeyID", base);
	k = xml_get(&d, path);
	snprintf(path, sizeof(path), "%sBucketKeyEnabled", base);
	b = xml_get(&d, path);
	if (a == NULL || (strcmp(a, "AES256") != 0 && strcmp(a, "aws:kms") !=
	    0 && strcmp(a, "aws:kms:dsse") != 0) || strlen(a) >= an) {
		r = dh_err_set(err, DH_E_FORMAT, "SSEAlgorithm must be AES256,"
		    " aws:kms or aws:kms:dsse");
		goto done;
	}
	if (k != NULL && (strcmp(a, "AES256") == 0 || strlen(k) >= kn)) {
		r = dh_err_set(err, DH_E_FORMAT, "KMSMasterKeyID is only valid"
		    " with aws:kms");
		goto done;
	}
	snprintf(algo, an, "%s", a);
	snprintf(kms, kn, "%s", k != NULL ? k : "");
	*bucket_key = b != NULL && strcmp(b, "true") == 0;
done:
	xml_free(&d);
	return r;
}

int
gw_s3_parse_location(const void *xml, size_t len, char *loc, size_t n,
    struct dh_err *err)
{
	struct xml_doc d;
	const char *l;
	int r;

	loc[0] = '\0';
	if (len == 0)
		return DH_OK;
	r = xml_parse(xml, len, &d, err);
	if (r == DH_OK) {
		l = xml_get(&d, "CreateBucketConfiguration/LocationConstraint");
		if (xml_get(&d, "CreateBucketConfiguration") == NULL)
			r = dh_err_set(err, DH_E_FORMAT, "expected"
			    " CreateBucketConfiguration");
		else if (l != NULL && strlen(l) >= n)
			r = dh_err_set(err, DH_E_FORMAT, "LocationConstraint"
			    " too long");
		else
			snprintf(loc, n, "%s", l != NULL ? l : "");
	}
	xml_free(&d);
	return r;
}

/* ------------------------------------------------------------ list page */

void
gw_s3_page_free(struct gw_s3_page *pg)
{
	size_t i;

	for (i = 0; i < pg->n_prefixes; i++)
		free(pg->prefixes[i]);
	free(pg->prefixes);
	free(pg->contents);
	free(pg->next);
	memset(pg, 0, sizeof(*pg));
}

int
gw_s3_list_page(const char *const *keys, size_t n, const char *prefix,
    const char *delimiter, size_t max_keys, const char *after,
    struct gw_s3_page *pg)
{
	size_t i, pl = prefix != NULL ? strlen(prefix) : 0, count = 0;
	size_t dl = delimiter != NULL ? strlen(delimiter) : 0;
	const char *last = NULL;
	char *cp = NULL;

	memset(pg, 0, sizeof(*pg));
	pg->contents = calloc(max_keys + 1, sizeof(size_t));
	pg->prefixes = calloc(max_keys + 1, sizeof(char *));
	if (pg->contents == NULL || pg->prefixes == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		const char *k = keys[i];
		const char *rest, *d;

		if (pl > 0 && strncmp(k, prefix, pl) != 0)
			continue;
		if (after != NULL && strcmp(k, after) <= 0)
			continue;
		if (after != NULL && dl > 0 && strlen(after) >= dl &&
		    strcmp(after + strlen(after) - dl, delimiter) == 0 &&
		    strncmp(k, after, strlen(after)) == 0)
			continue;
		rest = k + pl;
		d = dl > 0 ? strstr(rest, delimiter) : NULL;
		if (d != NULL) {
			size_t cl = (size_t)(d - k) + dl;

			if (pg->n_prefixes > 0 && strlen(pg->prefixes[
			    pg->n_prefixes - 1]) == cl && strncmp(pg->prefixes[
			    pg->n_prefixes - 1], k, cl) == 0)
				continue;
			if (count == max_keys) {
				pg->truncated = 1;
				break;
			}
			cp = malloc(cl + 1);
			if (cp == NULL)
				goto oom;
			memcpy(cp, k, cl);
			cp[cl] = '\0';
			pg->prefixes[pg->n_prefixes++] = cp;
			last = cp;
			cp = NULL;
		} else {
			if (count == max_keys) {
				pg->truncated = 1;
				break;
			}
			pg->contents[pg->n_contents++] = i;
			last = k;
		}
		count++;
	}
	if (pg->truncated && last != NULL) {
		pg->next = strdup(last);
		if (pg->next == NULL)
			goto oom;
	}
	return DH_OK;
oom:
	gw_s3_page_free(pg);
	return DH_E_NOMEM;
}

/* ------------------------------------------------------------ detection */

static const char *
hget(const struct gw_api_req *req, const char *name)
{
	struct dh_sigv4_request sr;

	memset(&sr, 0, sizeof(sr));
	sr.headers = req->headers;
	sr.n_headers = req->n_headers;
	return dh_sigv4_header_get(&sr, name);
}

int
gw_s3_is_s3(const struct gw_api_req *req)
{
	const char *a = hget(req, "authorization");
	char cred[256];

	if (a != NULL)
		return strncmp(a, DH_SIGV4_ALGORITHM " ", 17) == 0 &&
		    strstr(a, "/s3/aws4_request") != NULL;
	if (req->query != NULL && qget(req->query, "X-Amz-Credential", cred,
	    sizeof(cred)) == 1)
		return strstr(cred, "/s3/aws4_request") != NULL ||
		    strstr(cred, "%2Fs3%2Faws4_request") != NULL;
	return 0;
}

int
gw_s3_wants_spool(const struct gw_api_req *req)
{
	char b[64], k[GW_S3_MAX_KEY + 1];

	return strcmp(req->method, "PUT") == 0 && gw_s3_is_s3(req) &&
	    split_path(req->path, 0, b, sizeof(b), k, sizeof(k)) == DH_OK &&
	    b[0] != '\0' && k[0] != '\0' && (req->query == NULL ||
	    qget(req->query, "tagging", b, sizeof(b)) == 0);
}

/* ------------------------------------------------------------ the spool */

static int
mkdir_p(const char *dir)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return DH_OK;
	return DH_E_IO;
}

static int
s3_dirs(const char *state_dir, struct dh_err *err)
{
	char p[PATH_LEN];

	if (snprintf(p, sizeof(p), "%s/s3", state_dir) >= (int)sizeof(p))
		return dh_err_set(err, DH_E_TOOBIG, "state path too long");
	if (mkdir_p(p) != DH_OK)
		return dh_err_set(err, DH_E_IO, "mkdir %s: %s", p,
		    strerror(errno));
	if (snprintf(p, sizeof(p), "%s/s3/.tmp", state_dir) >= (int)sizeof(p))
		return dh_err_set(err, DH_E_TOOBIG, "state path too long");
	if (mkdir_p(p) != DH_OK)
		return dh_err_set(err, DH_E_IO, "mkdir %s: %s", p,
		    strerror(errno));
	return DH_OK;
}

int
gw_s3_spool_open(const char *state_dir, uint64_t max,
    struct gw_s3_spool **out, struct dh_err *err)
{
	struct gw_s3_spool *sp;
	int r;

	*out = NULL;
	r = s3_dirs(state_dir, err);
	if (r != DH_OK)
		return r;
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	sp->fd = -1;
	sp->max = max;
	if (snprintf(sp->path, sizeof(sp->path), "%s/s3/.tmp/up-XXXXXX",
	    state_dir) >= (int)sizeof(sp->path)) {
		free(sp);
		return dh_err_set(err, DH_E_TOOBIG, "state path too long");
	}
	sp->md5 = EVP_MD_CTX_new();
	sp->sha = dh_sha256_new();
	sp->buf = malloc(SPOOL_BUF);
	if (sp->md5 == NULL || sp->sha == NULL || sp->buf == NULL ||
	    EVP_DigestInit_ex(sp->md5, EVP_md5(), NULL) != 1) {
		r = dh_err_set(err, DH_E_NOMEM, "digest setup failed");
		goto fail;
	}
	sp->fd = mkstemp(sp->path);
	if (sp->fd >= 0)
		(void)fcntl(sp->fd, F_SETFD, FD_CLOEXEC);
	if (sp->fd < 0) {
		r = dh_err_set(err, DH_E_IO, "create spool file: %s",
		    strerror(errno));
		sp->path[0] = '\0';
		goto fail;
	}
	(void)fchmod(sp->fd, 0600);
	*out = sp;
	return DH_OK;
fail:
	gw_s3_spool_free(sp);
	return r;
}

/* Write the buffered bytes to the spool file. */
static int
spool_flush(struct gw_s3_spool *sp)
{
	const unsigned char *b = sp->buf;
	size_t n = sp->buffered;
	ssize_t k;

	while (n > 0) {
		k = write(sp->fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return DH_E_IO;
		b += k;
		n -= (size_t)k;
	}
	sp->buffered = 0;
	return DH_OK;
}

int
gw_s3_spool_write(struct gw_s3_spool *sp, const void *p, size_t n,
    struct dh_err *err)
{
	const unsigned char *b = p;
	size_t take;

	if (sp->finished)
		return dh_err_set(err, DH_E_STATE, "spool already finished");
	if (n > sp->max - sp->len)
		return dh_err_set(err, DH_E_TOOBIG, "object body exceeds %"
		    PRIu64 " bytes", sp->max);
	if (EVP_DigestUpdate(sp->md5, p, n) != 1)
		return dh_err_set(err, DH_E_CRYPTO, "MD5 failed");
	dh_sha256_update(sp->sha, p, n);
	sp->len += n;
	while (n > 0) {
		take = SPOOL_BUF - sp->buffered < n ? SPOOL_BUF - sp->buffered :
		    n;
		memcpy(sp->buf + sp->buffered, b, take);
		sp->buffered += take;
		b += take;
		n -= take;
		if (sp->buffered == SPOOL_BUF && spool_flush(sp) != DH_OK)
			return dh_err_set(err, DH_E_IO, "spool write: %s",
			    strerror(errno));
	}
	return DH_OK;
}

uint64_t
gw_s3_spool_len(const struct gw_s3_spool *sp)
{
	return sp->len;
}

static int
spool_finish(struct gw_s3_spool *sp)
{
	unsigned int dl = 0;

	if (sp->finished)
		return DH_OK;
	if (spool_flush(sp) != DH_OK)
		return DH_E_IO;
	if (EVP_DigestFinal_ex(sp->md5, sp->md5d, &dl) != 1 || dl != 16)
		return DH_E_CRYPTO;
	dh_sha256_final(sp->sha, sp->shad);
	sp->finished = 1;
	return DH_OK;
}

void
gw_s3_spool_free(struct gw_s3_spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	if (!sp->taken && sp->path[0] != '\0')
		unlink(sp->path);
	EVP_MD_CTX_free(sp->md5);
	dh_sha256_free(sp->sha);
	free(sp->buf);
	free(sp);
}

/* ------------------------------------------------------------- handling */

struct s3req {
	const struct gw_s3_ctx *c;
	const struct gw_api_req *req;
	struct gw_api_resp *resp;
	struct gw_s3_result *res;
	struct gw_principal *who;
	char bucket[64];
	char key[GW_S3_MAX_KEY + 1];
	char resource[GW_S3_MAX_KEY + 80];
	int is_head;
	struct gw_s3_spool *own_spool;   /* spool made from an in-memory body */
};

/* Render an S3 error; returns -1 so callers can "return s3_fail(...)". */
static int
s3_fail(struct s3req *q, int status, const char *code, const char *msg)
{
	struct gw_api_resp *resp = q->resp;

	q->res->error_code = code;
	snprintf(q->res->message, sizeof(q->res->message), "%s", msg);
	resp->status = status;
	dh_buf_reset(&resp->body);
	if (resp->has_file) {
		close(resp->file_fd);
		resp->has_file = 0;
	}
	resp->n_hdr = 0;
	gw_api_resp_header(resp, "x-amz-request-id", resp->request_id);
	if (q->is_head) {
		resp->head = 1;
		resp->head_len = 0;
		snprintf(resp->content_type, sizeof(resp->content_type),
		    "application/xml");
		return -1;
	}
	snprintf(resp->content_type, sizeof(resp->content_type),
	    "application/xml");
	if (gw_s3_error_xml(code, msg, q->resource[0] != '\0' ? q->resource :
	    NULL, resp->request_id, &resp->body) != DH_OK)
		dh_buf_reset(&resp->body);
	return -1;
}

static int
internal(struct s3req *q, const char *what)
{
	char m[256];

	snprintf(m, sizeof(m), "We encountered an internal error (%s). Please"
	    " try again.", what);
	return s3_fail(q, 500, "InternalError", m);
}

static void
ok_xml(struct s3req *q)
{
	q->resp->status = 200;
	snprintf(q->resp->content_type, sizeof(q->resp->content_type),
	    "application/xml");
	gw_api_resp_header(q->resp, "x-amz-request-id", q->resp->request_id);
}

static void
ok_empty(struct s3req *q, int status)
{
	q->resp->status = status;
	q->resp->content_type[0] = '\0';
	snprintf(q->resp->content_type, sizeof(q->resp->content_type),
	    "application/xml");
	gw_api_resp_header(q->resp, "x-amz-request-id", q->resp->request_id);
}

static int
map_auth_fail(struct s3req *q, enum dh_sigv4_fail f, const char *detail)
{
	char m[512];

	switch (f) {
	case DH_SIGV4_FAIL_MISSING:
		return s3_fail(q, 403, "AccessDenied", "Access Denied");
	case DH_SIGV4_FAIL_SKEW:
	case DH_SIGV4_FAIL_EXPIRED:
		return s3_fail(q, 403, f == DH_SIGV4_FAIL_SKEW ?
		    "RequestTimeTooSkewed" : "AccessDenied", f ==
		    DH_SIGV4_FAIL_SKEW ? "The difference between the request"
		    " time and the current time is too large." : "Request has"
		    " expired");
	case DH_SIGV4_FAIL_PAYLOAD:
		return s3_fail(q, 400, "XAmzContentSHA256Mismatch", "The"
		    " provided 'x-amz-content-sha256' header does not match what"
		    " was computed.");
	case DH_SIGV4_FAIL_SCOPE_REGION:
		snprintf(m, sizeof(m), "The authorization header is malformed;"
		    " the region is wrong; expecting '%s'", q->c->region);
		return s3_fail(q, 400, "AuthorizationHeaderMalformed", m);
	case DH_SIGV4_FAIL_SIGNATURE:
		return s3_fail(q, 403, "SignatureDoesNotMatch", "The request"
		    " signature we calculated does not match the signature you"
		    " provided. Check your key and signing method.");
	default:
		snprintf(m, sizeof(m), "The authorization header is malformed;"
		    " %s", detail);
		return s3_fail(q, 400, "AuthorizationHeaderMalformed", m);
	}
}

/* SigV4 for S3 against operator keys and instance temporary credentials. */
static int
authenticate(struct s3req *q)
{
	const struct gw_api_req *req = q->req;
	struct dh_sigv4_verify_opts o;
	struct dh_sigv4_request sr;
	struct dh_sigv4_verify v;
	struct gw_store_key k;
	struct gw_store_token t;
	char hash[2 * DH_SHA256_LEN + 1], th[2 * DH_SHA256_LEN + 1];
	struct dh_buf path;
	struct dh_err e;
	int r = -1;

	dh_buf_init(&path, 3 * strlen(req->path) + 16);
	memset(&sr, 0, sizeof(sr));
	memset(&v, 0, sizeof(v));
	memset(&k, 0, sizeof(k));
	memset(&t, 0, sizeof(t));
	sr.method = req->method;
	sr.path = req->path;
	sr.query = req->query_enc != NULL ? req->query_enc : req->query;
	sr.headers = req->headers;
	sr.n_headers = req->n_headers;
	sr.body = req->body;
	sr.body_len = req->body_len;
	/* libwebsockets hands over the path percent-decoded; the canonical
	 * URI is what every S3 client sends for it: encoded once, '/' kept. */
	if (dh_sigv4_uri_encode(req->path, strlen(req->path), 1, &path) !=
	    DH_OK) {
		internal(q, "path");
		goto done;
	}
	sr.path = dh_buf_cstr(&path);
	if (req->spool != NULL) {
		if (spool_finish(req->spool) != DH_OK) {
			internal(q, "digest");
			goto done;
		}
		dh_hex_encode(req->spool->shad, DH_SHA256_LEN, hash);
		sr.payload_hash = hash;
		sr.body = NULL;
		sr.body_len = 0;
	}
	memset(&o, 0, sizeof(o));
	o.region = q->c->region;
	o.service = "s3";
	o.now = (time_t)(q->c->now_ms / 1000);
	o.max_skew = GW_S3_MAX_SKEW;
	o.flags = DH_SIGV4_S3;
	dh_err_clear(&e);
	if (dh_sigv4_verify_begin(&sr, &o, &v, &e) != DH_OK) {
		map_auth_fail(q, v.fail, e.msg);
		goto done;
	}
	snprintf(q->who->access_key, sizeof(q->who->access_key), "%s",
	    v.auth.access_key);
	if (gw_store_key_get(q->c->st, v.auth.access_key, &k, &e) == DH_OK) {
		if (v.security_token != NULL) {
			s3_fail(q, 400, "InvalidToken", "The provided token is"
			    " malformed or otherwise invalid.");
			goto done;
		}
		if (dh_sigv4_verify_hmac(&v, k.secret, &e) != DH_OK) {
			map_auth_fail(q, DH_SIGV4_FAIL_SIGNATURE, "");
			goto done;
		}
		q->who->kind = GW_AUTH_OPERATOR;
		snprintf(q->who->name, sizeof(q->who->name), "%s", k.name);
		q->who->policy = k.policy;
		k.policy = NULL;
		r = 0;
	} else if (gw_store_token_get(q->c->st, v.auth.access_key, &t, &e) ==
	    DH_OK) {
		if (v.security_token == NULL) {
			s3_fail(q, 400, "InvalidToken", "The provided token is"
			    " malformed or otherwise invalid.");
			goto done;
		}
		dh_sha256_hex(v.security_token, strlen(v.security_token), th);
		if (!dh_ct_equal(th, t.token_hash, sizeof(th) - 1)) {
			s3_fail(q, 400, "InvalidToken", "The provided token is"
			    " malformed or otherwise invalid.");
			goto done;
		}
		if (t.expires_ms <= q->c->now_ms) {
			s3_fail(q, 400, "ExpiredToken", "The provided token has"
			    " expired.");
			goto done;
		}
		if (dh_sigv4_verify_hmac(&v, t.secret, &e) != DH_OK) {
			map_auth_fail(q, DH_SIGV4_FAIL_SIGNATURE, "");
			goto done;
		}
		q->who->kind = GW_AUTH_INSTANCE;
		snprintf(q->who->instance_id, sizeof(q->who->instance_id), "%s",
		    t.instance_id);
		snprintf(q->who->name, sizeof(q->who->name), "%s",
		    t.instance_id);
		r = 0;
	} else {
		s3_fail(q, 403, "InvalidAccessKeyId", "The AWS Access Key Id you"
		    " provided does not exist in our records.");
	}
done:
	gw_store_key_clear(&k);
	dh_wipe(&t, sizeof(t));
	dh_sigv4_verify_free(&v);
	dh_buf_free(&path);
	return r;
}

/* Operator policy (action on the bucket or object ARN); instances may only
 * upload and look at what they upload to. */
static int
authorize(struct s3req *q, const char *action, int on_object)
{
	static const char *const instance_ok[] = { "s3:PutObject",
	    "s3:AbortMultipartUpload", "s3:ListBucket",
	    "s3:GetEncryptionConfiguration", "s3:GetObject", NULL };
	struct gw_policy *pol = NULL;
	enum gw_decision d = GW_POLICY_IMPLICIT_DENY;
	char arn[GW_S3_MAX_KEY + 80];
	struct dh_err e;
	size_t i;

	if (q->who->kind == GW_AUTH_INSTANCE) {
		for (i = 0; instance_ok[i] != NULL; i++)
			if (strcmp(instance_ok[i], action) == 0 &&
			    ((strcmp(action, "s3:GetObject") != 0 &&
			    strcmp(action, "s3:ListBucket") != 0) ||
			    q->is_head))
				return 0;
		return s3_fail(q, 403, "AccessDenied", "Access Denied");
	}
	if (q->bucket[0] == '\0')
		snprintf(arn, sizeof(arn), "*");
	else if (on_object)
		snprintf(arn, sizeof(arn), "arn:aws:s3:::%s/%s", q->bucket,
		    q->key);
	else
		snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", q->bucket);
	if (q->who->policy != NULL && gw_policy_parse(q->who->policy,
	    strlen(q->who->policy), &pol, &e) == DH_OK) {
		d = gw_policy_eval(pol, action, arn);
		gw_policy_free(pol);
	}
	if (d == GW_POLICY_ALLOW)
		return 0;
	return s3_fail(q, 403, "AccessDenied", "Access Denied");
}

static sqlite3 *
db(struct s3req *q)
{
	return gw_store_db(q->c->st);
}

/* Bucket row: sse algorithm/key; DH_E_NOTFOUND when absent. */
static int
bucket_get(struct s3req *q, char *algo, size_t an, char *kms, size_t kn,
    int *bucket_key)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db(q), "SELECT sse_algo, sse_kms_key,"
	    " bucket_key FROM s3_buckets WHERE name = ?", -1, &s, NULL) !=
	    SQLITE_OK)
		return DH_E_IO;
	sqlite3_bind_text(s, 1, q->bucket, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *a = sqlite3_column_text(s, 0);
		const unsigned char *k = sqlite3_column_text(s, 1);

		if (algo != NULL)
			snprintf(algo, an, "%s", a != NULL ? (const char *)a :
			    "");
		if (kms != NULL)
			snprintf(kms, kn, "%s", k != NULL ? (const char *)k :
			    "");
		if (bucket_key != NULL)
			*bucket_key = sqlite3_column_int(s, 2);
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return DH_OK;
	return rc == SQLITE_DONE ? DH_E_NOTFOUND : DH_E_IO;
}

static int
need_bucket(struct s3req *q, char *algo, size_t an, char *kms, size_t kn)
{
	int r = bucket_get(q, algo, an, kms, kn, NULL);

	if (r == DH_E_NOTFOUND)
		return s3_fail(q, 404, "NoSuchBucket", "The specified bucket"
		    " does not exist");
	if (r != DH_OK)
		return internal(q, "store");
	return 0;
}

static int
path_of(struct s3req *q, const char *rel, char *out, size_t n)
{
	return snprintf(out, n, "%s/s3/%s", q->c->state_dir, rel) >= (int)n ?
	    DH_E_TOOBIG : DH_OK;
}

static int
fsync_dir(const char *path)
{
	char d[PATH_LEN];
	char *slash;
	int fd, r;

	snprintf(d, sizeof(d), "%s", path);
	slash = strrchr(d, '/');
	if (slash == NULL)
		return DH_E_ARG;
	*slash = '\0';
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return DH_E_IO;
	r = fsync(fd) == 0 ? DH_OK : DH_E_IO;
	close(fd);
	return r;
}

/* Move a finished spool into the bucket as <uuid><ext>; rel[n] gets the
 * path relative to <state>/s3. */
static int
spool_commit(struct s3req *q, struct gw_s3_spool *sp, const char *ext,
    char *rel, size_t n)
{
	char dst[PATH_LEN], dir[PATH_LEN], id[DH_UUID_STRLEN + 1];
	struct dh_uuid u;

	if (dh_uuid_v4(&u) != DH_OK)
		return DH_E_CRYPTO;
	dh_uuid_fmt(&u, id);
	if (snprintf(rel, n, "%s/%s%s", q->bucket, id, ext) >= (int)n ||
	    path_of(q, q->bucket, dir, sizeof(dir)) != DH_OK ||
	    path_of(q, rel, dst, sizeof(dst)) != DH_OK)
		return DH_E_TOOBIG;
	if (mkdir_p(dir) != DH_OK)
		return DH_E_IO;
	if (fsync(sp->fd) != 0 || rename(sp->path, dst) != 0)
		return DH_E_IO;
	sp->taken = 1;
	return fsync_dir(dst);
}

static void
unlink_rel(struct s3req *q, const char *rel)
{
	char p[PATH_LEN];

	if (rel != NULL && rel[0] != '\0' && path_of(q, rel, p, sizeof(p)) ==
	    DH_OK)
		unlink(p);
}

static void
http_date(int64_t ms, char out[40])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void
iso_ms(int64_t ms, char out[32])
{
	char b[21];

	dh_time_iso((time_t)(ms / 1000), b);
	snprintf(out, 32, "%.19s.%03dZ", b, (int)(ms % 1000));
}

/* The spool holding this request's body (making one from memory). */
static struct gw_s3_spool *
body_spool(struct s3req *q)
{
	struct dh_err e;

	if (q->req->spool != NULL)
		return q->req->spool;
	if (gw_s3_spool_open(q->c->state_dir, GW_S3_MAX_BODY, &q->own_spool,
	    &e) != DH_OK)
		return NULL;
	if (q->req->body_len > 0 && gw_s3_spool_write(q->own_spool,
	    q->req->body, q->req->body_len, &e) != DH_OK)
		return NULL;
	if (spool_finish(q->own_spool) != DH_OK)
		return NULL;
	return q->own_spool;
}

/* Content-MD5 against the spool; 0 or an error rendered. */
static int
check_md5(struct s3req *q, struct gw_s3_spool *sp)
{
	const char *cm = hget(q->req, "content-md5");
	struct dh_buf b;
	int ok;

	if (cm == NULL)
		return 0;
	dh_buf_init(&b, 64);
	ok = strlen(cm) <= 32 && dh_b64_decode(cm, strlen(cm), &b) == DH_OK &&
	    b.len == 16;
	if (!ok) {
		dh_buf_free(&b);
		return s3_fail(q, 400, "InvalidDigest", "The Content-MD5 you"
		    " specified was invalid.");
	}
	ok = memcmp(b.d, sp->md5d, 16) == 0;
	dh_buf_free(&b);
	if (!ok)
		return s3_fail(q, 400, "BadDigest", "The Content-MD5 you"
		    " specified did not match what we received.");
	return 0;
}

static void
sse_headers(struct s3req *q, const char *algo, const char *kms)
{
	if (algo == NULL || algo[0] == '\0')
		return;
	gw_api_resp_header(q->resp, "x-amz-server-side-encryption", algo);
	if (kms != NULL && kms[0] != '\0')
		gw_api_resp_header(q->resp,
		    "x-amz-server-side-encryption-aws-kms-key-id", kms);
}

/* Request SSE headers over the bucket default; 0 or error rendered. */
static int
request_sse(struct s3req *q, char *algo, size_t an, char *kms, size_t kn)
{
	const char *a = hget(q->req, "x-amz-server-side-encryption");
	const char *k = hget(q->req,
	    "x-amz-server-side-encryption-aws-kms-key-id");
	struct gw_ssm_ctx kc;
	char arn[256];

	if (a != NULL) {
		if (strcmp(a, "AES256") != 0 && strcmp(a, "aws:kms") != 0)
			return s3_fail(q, 400, "InvalidArgument", "Server Side"
			    " Encryption with this algorithm is not supported.");
		snprintf(algo, an, "%s", a);
		kms[0] = '\0';
	}
	if (k != NULL) {
		if (strcmp(algo, "aws:kms") != 0)
			return s3_fail(q, 400, "InvalidArgument", "a KMS key"
			    " needs x-amz-server-side-encryption aws:kms");
		memset(&kc, 0, sizeof(kc));
		kc.st = q->c->st;
		kc.region = q->c->region;
		kc.account = q->c->account;
		if (gw_kms_key_arn(&kc, k, arn, sizeof(arn)) != DH_OK)
			return s3_fail(q, 400, "KMS.NotFoundException", "Invalid"
			    " keyId");
		snprintf(kms, kn, "%s", arn);
	}
	return 0;
}

static const char *
content_type(struct s3req *q)
{
	const char *ct = hget(q->req, "content-type");

	return ct != NULL && ct[0] != '\0' && strlen(ct) < 200 ? ct :
	    "binary/octet-stream";
}

/* ------------------------------------------------------------- buckets */

static int
op_list_buckets(struct s3req *q)
{
	struct dh_buf *b = &q->resp->body;
	sqlite3_stmt *s;
	char t[32];
	int rc;

	if (authorize(q, "s3:ListAllMyBuckets", 0) != 0)
		return -1;
	if (sqlite3_prepare_v2(db(q), "SELECT name, created_ms FROM s3_buckets"
	    " ORDER BY name", -1, &s, NULL) != SQLITE_OK)
		return internal(q, "store");
	dh_buf_printf(b, XML_DECL "<ListAllMyBucketsResult xmlns=\"" S3_NS
	    "\"><Owner><ID>%s</ID><DisplayName>deckhand</DisplayName></Owner>"
	    "<Buckets>", q->c->account);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		iso_ms(sqlite3_column_int64(s, 1), t);
		dh_buf_put_str(b, "<Bucket>");
		xml_elem(b, "Name", (const char *)sqlite3_column_text(s, 0));
		xml_elem(b, "CreationDate", t);
		dh_buf_put_str(b, "</Bucket>");
	}
	sqlite3_finalize(s);
	if (dh_buf_put_str(b, "</Buckets></ListAllMyBucketsResult>") != DH_OK ||
	    rc != SQLITE_DONE)
		return internal(q, "listing");
	ok_xml(q);
	return 0;
}

static int
op_create_bucket(struct s3req *q)
{
	char loc[64], m[256], dir[PATH_LEN];
	struct dh_err e;
	sqlite3_stmt *s;
	int r;

	if (authorize(q, "s3:CreateBucket", 0) != 0)
		return -1;
	if (!gw_s3_valid_bucket(q->bucket))
		return s3_fail(q, 400, "InvalidBucketName", "The specified"
		    " bucket is not valid.");
	dh_err_clear(&e);
	if (gw_s3_parse_location(q->req->body, q->req->body_len, loc,
	    sizeof(loc), &e) != DH_OK)
		return s3_fail(q, 400, "MalformedXML", e.msg);
	if (loc[0] != '\0' && strcmp(loc, q->c->region) != 0) {
		snprintf(m, sizeof(m), "The %s location constraint is"
		    " incompatible for the region specific endpoint this request"
		    " was sent to.", loc);
		return s3_fail(q, 400, "IllegalLocationConstraintException", m);
	}
	r = bucket_get(q, NULL, 0, NULL, 0, NULL);
	if (r == DH_OK)
		return s3_fail(q, 409, "BucketAlreadyOwnedByYou", "Your previous"
		    " request to create the named bucket succeeded and you"
		    " already own it.");
	if (r != DH_E_NOTFOUND)
		return internal(q, "store");
	if (s3_dirs(q->c->state_dir, &e) != DH_OK ||
	    path_of(q, q->bucket, dir, sizeof(dir)) != DH_OK ||
	    mkdir_p(dir) != DH_OK)
		return internal(q, "bucket directory");
	if (sqlite3_prepare_v2(db(q), "INSERT INTO s3_buckets (name, region,"
	    " created_ms, sse_algo) VALUES (?, ?, ?, 'AES256')", -1, &s, NULL)
	    != SQLITE_OK)
		return internal(q, "store");
	sqlite3_bind_text(s, 1, q->bucket, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, q->c->region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, q->c->now_ms);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	if (r != SQLITE_DONE)
		return internal(q, "store");
	snprintf(m, sizeof(m), "/%s", q->bucket);
	ok_empty(q, 200);
	gw_api_resp_header(q->resp, "Location", m);
	return 0;
}

static int
op_head_bucket(struct s3req *q)
{
	if (authorize(q, "s3:ListBucket", 0) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0)
		return -1;
	ok_empty(q, 200);
	q->resp->head = 1;
	gw_api_resp_header(q->resp, "x-amz-bucket-region", q->c->region);
	return 0;
}

static int
op_location(struct s3req *q)
{
	if (authorize(q, "s3:GetBucketLocation", 0) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0)
		return -1;
	dh_buf_printf(&q->resp->body, XML_DECL "<LocationConstraint xmlns=\""
	    S3_NS "\">%s</LocationConstraint>", strcmp(q->c->region,
	    "us-east-1") == 0 ? "" : q->c->region);
	ok_xml(q);
	return 0;
}

static int
count_rows(struct s3req *q, const char *sql, int64_t *n)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db(q), sql, -1, &s, NULL) != SQLITE_OK)
		return DH_E_IO;
	sqlite3_bind_text(s, 1, q->bucket, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? DH_OK : DH_E_IO;
}

static int
op_delete_bucket(struct s3req *q)
{
	char dir[PATH_LEN];
	int64_t n = 0, u = 0;
	sqlite3_stmt *s;
	int rc;

	if (authorize(q, "s3:DeleteBucket", 0) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0)
		return -1;
	if (count_rows(q, "SELECT COUNT(*) FROM s3_objects WHERE bucket = ?",
	    &n) != DH_OK || count_rows(q, "SELECT COUNT(*) FROM s3_uploads"
	    " WHERE bucket = ?", &u) != DH_OK)
		return internal(q, "store");
	if (n > 0 || u > 0)
		return s3_fail(q, 409, "BucketNotEmpty", "The bucket you tried to"
		    " delete is not empty");
	if (sqlite3_prepare_v2(db(q), "DELETE FROM s3_buckets WHERE name = ?",
	    -1, &s, NULL) != SQLITE_OK)
		return internal(q, "store");
	sqlite3_bind_text(s, 1, q->bucket, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return internal(q, "store");
	if (path_of(q, q->bucket, dir, sizeof(dir)) == DH_OK)
		(void)rmdir(dir);
	ok_empty(q, 204);
	return 0;
}

static int
op_get_encryption(struct s3req *q)
{
	char algo[32], kms[256];
	int bk = 0, r;

	if (authorize(q, "s3:GetEncryptionConfiguration", 0) != 0)
		return -1;
	r = bucket_get(q, algo, sizeof(algo), kms, sizeof(kms), &bk);
	if (r == DH_E_NOTFOUND)
		return s3_fail(q, 404, "NoSuchBucket", "The specified bucket"
		    " does not exist");
	if (r != DH_OK)
		return internal(q, "store");
	if (algo[0] == '\0')
		return s3_fail(q, 404,
		    "ServerSideEncryptionConfigurationNotFoundError", "The server"
		    " side encryption configuration was not found");
	dh_buf_printf(&q->resp->body, XML_DECL
	    "<ServerSideEncryptionConfiguration xmlns=\"" S3_NS "\"><Rule>"
	    "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>%s"
	    "</SSEAlgorithm>", algo);
	if (kms[0] != '\0')
		xml_elem(&q->resp->body, "KMSMasterKeyID", kms);
	if (dh_buf_printf(&q->resp->body, "</ApplyServerSideEncryptionByDefault>"
	    "<BucketKeyEnabled>%s</BucketKeyEnabled></Rule>"
	    "</ServerSideEncryptionConfiguration>", bk ? "true" : "false") !=
	    DH_OK)
		return internal(q, "rendering");
	ok_xml(q);
	return 0;
}

static int
op_put_encryption(struct s3req *q, int remove)
{
	char algo[32], kms[256], arn[256];
	struct gw_ssm_ctx kc;
	struct dh_err e;
	sqlite3_stmt *s;
	int bk = 0, rc;

	if (authorize(q, "s3:PutEncryptionConfiguration", 0) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0)
		return -1;
	if (remove) {
		snprintf(algo, sizeof(algo), "AES256");
		kms[0] = '\0';
	} else {
		dh_err_clear(&e);
		if (gw_s3_parse_encryption(q->req->body, q->req->body_len, algo,
		    sizeof(algo), kms, sizeof(kms), &bk, &e) != DH_OK)
			return s3_fail(q, 400, "MalformedXML", e.msg);
	}
	arn[0] = '\0';
	if (kms[0] != '\0') {
		memset(&kc, 0, sizeof(kc));
		kc.st = q->c->st;
		kc.region = q->c->region;
		kc.account = q->c->account;
		if (gw_kms_key_arn(&kc, kms, arn, sizeof(arn)) != DH_OK)
			return s3_fail(q, 400, "InvalidArgument", "The KMS key"
			    " does not exist in this gateway's KMS");
	}
	if (sqlite3_prepare_v2(db(q), "UPDATE s3_buckets SET sse_algo = ?,"
	    " sse_kms_key = ?, bucket_key = ? WHERE name = ?", -1, &s, NULL) !=
	    SQLITE_OK)
		return internal(q, "store");
	sqlite3_bind_text(s, 1, algo, -1, SQLITE_STATIC);
	if (arn[0] != '\0')
		sqlite3_bind_text(s, 2, arn, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	sqlite3_bind_int(s, 3, bk);
	sqlite3_bind_text(s, 4, q->bucket, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return internal(q, "store");
	ok_empty(q, remove ? 204 : 200);
	return 0;
}

/* Append the URL form (encoding-type=url) or the plain key. */
static int
put_key(struct dh_buf *b, const char *tag, const char *k, int url)
{
	struct dh_buf enc;
	int r;

	if (!url)
		return xml_elem(b, tag, k);
	dh_buf_init(&enc, 4 * GW_S3_MAX_KEY + 16);
	r = dh_sigv4_uri_encode(k, strlen(k), 1, &enc);
	if (r == DH_OK)
		r = xml_elem(b, tag, dh_buf_cstr(&enc));
	dh_buf_free(&enc);
	return r;
}

struct obj_rows {
	char **keys;
	char **etags;
	int64_t *sizes, *mtimes;
	size_t n, cap;
};

static void
rows_free(struct obj_rows *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->keys[i]);
		free(o->etags[i]);
	}
	free(o->keys);
	free(o->etags);
	free(o->sizes);
	free(o->mtimes);
	memset(o, 0, sizeof(*o));
}

static int
rows_add(struct obj_rows *o, sqlite3_stmt *s)
{
	if (o->n == o->cap) {
		size_t nc = o->cap == 0 ? 64 : o->cap * 2;
		char **k = realloc(o->keys, nc * sizeof(*k));

		if (k == NULL)
			return DH_E_NOMEM;
		o->keys = k;
		k = realloc(o->etags, nc * sizeof(*k));
		if (k == NULL)
			return DH_E_NOMEM;
		o->etags = k;
		{
			int64_t *a = realloc(o->sizes, nc * sizeof(*a));

			if (a == NULL)
				return DH_E_NOMEM;
			o->sizes = a;
			a = realloc(o->mtimes, nc * sizeof(*a));
			if (a == NULL)
				return DH_E_NOMEM;
			o->mtimes = a;
		}
		o->cap = nc;
	}
	o->keys[o->n] = strdup((const char *)sqlite3_column_text(s, 0));
	o->etags[o->n] = strdup((const char *)sqlite3_column_text(s, 1));
	o->sizes[o->n] = sqlite3_column_int64(s, 2);
	o->mtimes[o->n] = sqlite3_column_int64(s, 3);
	if (o->keys[o->n] == NULL || o->etags[o->n] == NULL) {
		free(o->keys[o->n]);
		free(o->etags[o->n]);
		return DH_E_NOMEM;
	}
	o->n++;
	return DH_OK;
}

static int
op_list_objects(struct s3req *q)
{
	char prefix[GW_S3_MAX_KEY + 1], delim[64], mk[16], enc[16];
	char tok[4 * GW_S3_MAX_KEY], after[GW_S3_MAX_KEY + 1], t[32];
	char sa[GW_S3_MAX_KEY + 1];
	const char *qs = q->req->query;
	struct dh_buf *b = &q->resp->body, raw, tb;
	struct obj_rows rows;
	struct gw_s3_page pg;
	sqlite3_stmt *s;
	long max_keys = LIST_MAX;
	int url, has_tok, has_sa, rc, r = -1;
	size_t i;

	memset(&rows, 0, sizeof(rows));
	memset(&pg, 0, sizeof(pg));
	dh_buf_init(&raw, GW_S3_MAX_KEY + 8);
	dh_buf_init(&tb, 4 * GW_S3_MAX_KEY);
	if (authorize(q, "s3:ListBucket", 0) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0)
		goto done;
	if (qget(qs, "prefix", prefix, sizeof(prefix)) < 0 ||
	    qget(qs, "delimiter", delim, sizeof(delim)) < 0 ||
	    qget(qs, "max-keys", mk, sizeof(mk)) < 0 ||
	    qget(qs, "encoding-type", enc, sizeof(enc)) < 0 ||
	    (has_tok = qget(qs, "continuation-token", tok,
	    sizeof(tok))) < 0 || (has_sa = qget(qs, "start-after", sa,
	    sizeof(sa))) < 0) {
		s3_fail(q, 400, "InvalidArgument", "a query parameter is"
		    " malformed or too long");
		goto done;
	}
	url = strcmp(enc, "url") == 0;
	if (enc[0] != '\0' && !url) {
		s3_fail(q, 400, "InvalidArgument", "Invalid Encoding Method"
		    " specified in Request");
		goto done;
	}
	if (mk[0] != '\0') {
		char *e = NULL;

		max_keys = strtol(mk, &e, 10);
		if (e == mk || *e != '\0' || max_keys < 0) {
			s3_fail(q, 400, "InvalidArgument", "Provided max-keys"
			    " not an integer or within integer range");
			goto done;
		}
		if (max_keys > LIST_MAX)
			max_keys = LIST_MAX;
	}
	after[0] = '\0';
	if (has_tok) {
		if (dh_hex_decode(tok, strlen(tok), &raw) != DH_OK ||
		    raw.len == 0 || memchr(raw.d, '\0', raw.len) != NULL) {
			s3_fail(q, 400, "InvalidArgument", "The continuation"
			    " token provided is incorrect");
			goto done;
		}
		snprintf(after, sizeof(after), "%s", dh_buf_cstr(&raw));
	} else if (has_sa) {
		snprintf(after, sizeof(after), "%s", sa);
	}
	if (sqlite3_prepare_v2(db(q), "SELECT key, etag, size, modified_ms FROM"
	    " s3_objects WHERE bucket = ? AND substr(key, 1, ?) = ? AND key >"
	    " ? ORDER BY key", -1, &s, NULL) != SQLITE_OK) {
		internal(q, "store");
		goto done;
	}
	sqlite3_bind_text(s, 1, q->bucket, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)strlen(prefix));
	sqlite3_bind_text(s, 3, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, after, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (rows_add(&rows, s) != DH_OK)
			break;
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE || gw_s3_list_page((const char *const *)rows.keys,
	    rows.n, prefix, delim, (size_t)max_keys, after[0] != '\0' ? after :
	    NULL, &pg) != DH_OK) {
		internal(q, "listing");
		goto done;
	}
	dh_buf_put_str(b, XML_DECL "<ListBucketResult xmlns=\"" S3_NS "\">");
	xml_elem(b, "Name", q->bucket);
	put_key(b, "Prefix", prefix, url);
	if (delim[0] != '\0')
		put_key(b, "Delimiter", delim, url);
	dh_buf_printf(b, "<MaxKeys>%ld</MaxKeys>", max_keys);
	if (url)
		dh_buf_put_str(b, "<EncodingType>url</EncodingType>");
	dh_buf_printf(b, "<KeyCount>%zu</KeyCount><IsTruncated>%s"
	    "</IsTruncated>", pg.n_contents + pg.n_prefixes, pg.truncated ?
	    "true" : "false");
	if (has_tok)
		xml_elem(b, "ContinuationToken", tok);
	if (pg.truncated && pg.next != NULL) {
		if (dh_buf_reserve(&tb, 2 * strlen(pg.next) + 1) == DH_OK) {
			dh_hex_encode(pg.next, strlen(pg.next), (char *)tb.d);
			tb.len = 2 * strlen(pg.next);
			tb.d[tb.len] = '\0';
		}
		xml_elem(b, "NextContinuationToken", dh_buf_cstr(&tb));
	}
	if (has_sa)
		put_key(b, "StartAfter", sa, url);
	for (i = 0; i < pg.n_contents; i++) {
		size_t k = pg.contents[i];

		iso_ms(rows.mtimes[k], t);
		dh_buf_put_str(b, "<Contents>");
		put_key(b, "Key", rows.keys[k], url);
		xml_elem(b, "LastModified", t);
		dh_buf_printf(b, "<ETag>&quot;%s&quot;</ETag><Size>%" PRId64
		    "</Size><StorageClass>STANDARD</StorageClass></Contents>",
		    rows.etags[k], rows.sizes[k]);
	}
	for (i = 0; i < pg.n_prefixes; i++) {
		dh_buf_put_str(b, "<CommonPrefixes>");
		put_key(b, "Prefix", pg.prefixes[i], url);
		dh_buf_put_str(b, "</CommonPrefixes>");
	}
	if (dh_buf_put_str(b, "</ListBucketResult>") != DH_OK) {
		internal(q, "listing too large");
		goto done;
	}
	ok_xml(q);
	r = 0;
done:
	gw_s3_page_free(&pg);
	rows_free(&rows);
	dh_buf_free(&raw);
	dh_buf_free(&tb);
	return r;
}

/* ------------------------------------------------------------- objects */

struct obj {
	int64_t size, mtime;
	char etag[80];
	char ctype[208];
	char file[PATH_LEN];
	char sse[32];
	char kms[256];
};

static int
obj_get(struct s3req *q, struct obj *o)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db(q), "SELECT size, modified_ms, etag,"
	    " content_type, file, sse_algo, sse_kms_key FROM s3_objects WHERE"
	    " bucket = ? AND key = ?", -1, &s, NULL) != SQLITE_OK)
		return DH_E_IO;
	sqlite3_bind_text(s, 1, q->bucket, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, q->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *a = sqlite3_column_text(s, 5);
		const unsigned char *k = sqlite3_column_text(s, 6);

		o->size = sqlite3_column_int64(s, 0);
		o->mtime = sqlite3_column_int64(s, 1);
		snprintf(o->etag, sizeof(o->etag), "%s",
		    (const char *)sqlite3_column_text(s, 2));
		snprintf(o->ctype, sizeof(o->ctype), "%s",
		    (const char *)sqlite3_column_text(s, 3));
		snprintf(o->file, sizeof(o->file), "%s",
		    (const char *)sqlite3_column_text(s, 4));
		snprintf(o->sse, sizeof(o->sse), "%s", a != NULL ?
		    (const char *)a : "");
		snprintf(o->kms, sizeof(o->kms), "%s", k != NULL ?
		    (const char *)k : "");
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return DH_OK;
	return rc == SQLITE_DONE ? DH_E_NOTFOUND : DH_E_IO;
}

/* Insert or replace an object row inside a transaction the caller runs;
 * old[n] gets the replaced file ("" if none). */
static int
obj_put_row(struct s3req *q, int64_t size, const char *etag,
    const char *ctype, const char *rel, const char *sse, const char *kms,
    char *old, size_t n)
{
	struct obj prev;
	sqlite3_stmt *s;
	int rc;

	old[0] = '\0';
	rc = obj_get(q, &prev);
	if (rc == DH_OK)
		snprintf(old, n, "%s", prev.file);
	else if (rc != DH_E_NOTFOUND)
		return rc;
	if (sqlite3_prepare_v2(db(q), "INSERT OR REPLACE INTO s3_objects"
	    " (bucket, key, size, etag, content_type, modified_ms, file,"
	    " sse_algo, sse_kms_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", -1,
	    &s, NULL) != SQLITE_OK)
		return DH_E_IO;
	sqlite3_bind_text(s, 1, q->bucket, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, q->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, size);
	sqlite3_bind_text(s, 4, etag, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, ctype, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, q->c->now_ms);
	sqlite3_bind_text(s, 7, rel, -1, SQLITE_STATIC);
	if (sse[0] != '\0')
		sqlite3_bind_text(s, 8, sse, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 8);
	if (kms[0] != '\0')
		sqlite3_bind_text(s, 9, kms, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 9);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? DH_OK : DH_E_IO;
}

static int
op_put_object(struct s3req *q)
{
	char algo[32], kms[256], rel[PATH_LEN], old[PATH_LEN], etag[40];
	char quoted[48];
	struct gw_s3_spool *sp;
	struct dh_err e;
	int r;

	if (authorize(q, "s3:PutObject", 1) != 0 ||
	    need_bucket(q, algo, sizeof(algo), kms, sizeof(kms)) != 0 ||
	    request_sse(q, algo, sizeof(algo), kms, sizeof(kms)) != 0)
		return -1;
	if (hget(q->req, "x-amz-copy-source") != NULL)
		return s3_fail(q, 501, "NotImplemented", "CopyObject is not"
		    " served by this gateway");
	sp = body_spool(q);
	if (sp == NULL || spool_finish(sp) != DH_OK)
		return internal(q, "spool");
	if (check_md5(q, sp) != 0)
		return -1;
	dh_hex_encode(sp->md5d, 16, etag);
	if (spool_commit(q, sp, ".obj", rel, sizeof(rel)) != DH_OK)
		return internal(q, "storing the object");
	r = gw_store_begin(q->c->st, &e);
	if (r == DH_OK)
		r = obj_put_row(q, (int64_t)sp->len, etag, content_type(q), rel,
		    algo, kms, old, sizeof(old));
	if (r == DH_OK)
		r = gw_store_commit(q->c->st, &e);
	if (r != DH_OK) {
		gw_store_rollback(q->c->st);
		unlink_rel(q, rel);
		return internal(q, "store");
	}
	if (old[0] != '\0' && strcmp(old, rel) != 0)
		unlink_rel(q, old);
	ok_empty(q, 200);
	snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
	gw_api_resp_header(q->resp, "ETag", quoted);
	sse_headers(q, algo, kms);
	return 0;
}

static int
object_headers(struct s3req *q, const struct obj *o)
{
	char d[40], quoted[96];

	http_date(o->mtime, d);
	snprintf(quoted, sizeof(quoted), "\"%s\"", o->etag);
	gw_api_resp_header(q->resp, "x-amz-request-id", q->resp->request_id);
	gw_api_resp_header(q->resp, "ETag", quoted);
	gw_api_resp_header(q->resp, "Last-Modified", d);
	gw_api_resp_header(q->resp, "Accept-Ranges", "bytes");
	snprintf(q->resp->content_type, sizeof(q->resp->content_type), "%.*s",
	    (int)sizeof(q->resp->content_type) - 1, o->ctype);
	sse_headers(q, o->sse, o->kms);
	return 0;
}

static int
op_get_object(struct s3req *q)
{
	char path[PATH_LEN], cr[96];
	uint64_t first = 0, last = 0;
	struct obj o;
	int fd, r, partial = 0;

	if (authorize(q, "s3:GetObject", 1) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0)
		return -1;
	r = obj_get(q, &o);
	if (r == DH_E_NOTFOUND)
		return s3_fail(q, 404, "NoSuchKey", "The specified key does not"
		    " exist.");
	if (r != DH_OK)
		return internal(q, "store");
	r = gw_s3_parse_range(hget(q->req, "range"), (uint64_t)o.size, &first,
	    &last);
	if (r == DH_E_ARG)
		return s3_fail(q, 416, "InvalidRange", "The requested range is"
		    " not satisfiable");
	if (r == DH_OK)
		partial = 1;
	else {
		first = 0;
		last = o.size > 0 ? (uint64_t)o.size - 1 : 0;
	}
	object_headers(q, &o);
	q->resp->status = partial ? 206 : 200;
	if (partial) {
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRId64,
		    first, last, o.size);
		gw_api_resp_header(q->resp, "Content-Range", cr);
	}
	if (q->is_head) {
		q->resp->head = 1;
		q->resp->head_len = o.size == 0 ? 0 : last - first + 1;
		return 0;
	}
	if (o.size == 0)
		return 0;
	if (path_of(q, o.file, path, sizeof(path)) != DH_OK)
		return internal(q, "path");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return internal(q, "object file missing");
	q->resp->has_file = 1;
	q->resp->file_fd = fd;
	q->resp->file_off = first;
	q->resp->file_len = last - first + 1;
	return 0;
}

static int
op_delete_object(struct s3req *q)
{
	sqlite3_stmt *s;
	struct obj o;
	int r, rc;

	if (authorize(q, "s3:DeleteObject", 1) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0)
		return -1;
	r = obj_get(q, &o);
	if (r == DH_OK) {
		if (sqlite3_prepare_v2(db(q), "DELETE FROM s3_objects WHERE"
		    " bucket = ? AND key = ?", -1, &s, NULL) != SQLITE_OK)
			return internal(q, "store");
		sqlite3_bind_text(s, 1, q->bucket, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, q->key, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return internal(q, "store");
		unlink_rel(q, o.file);
	} else if (r != DH_E_NOTFOUND)
		return internal(q, "store");
	ok_empty(q, 204);
	return 0;
}

/* ----------------------------------------------------------- multipart */

struct upload {
	char ctype[208];
	char sse[32];
	char kms[256];
};

static int
upload_get(struct s3req *q, const char *id, struct upload *u)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db(q), "SELECT content_type, sse_algo,"
	    " sse_kms_key FROM s3_uploads WHERE id = ? AND bucket = ? AND key ="
	    " ?", -1, &s, NULL) != SQLITE_OK)
		return internal(q, "store");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, q->bucket, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, q->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *a = sqlite3_column_text(s, 1);
		const unsigned char *k = sqlite3_column_text(s, 2);

		snprintf(u->ctype, sizeof(u->ctype), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		snprintf(u->sse, sizeof(u->sse), "%s", a != NULL ?
		    (const char *)a : "");
		snprintf(u->kms, sizeof(u->kms), "%s", k != NULL ?
		    (const char *)k : "");
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return internal(q, "store");
	return s3_fail(q, 404, "NoSuchUpload", "The specified upload does not"
	    " exist. The upload ID may be invalid, or the upload may have been"
	    " aborted or completed.");
}

static int
op_create_upload(struct s3req *q)
{
	char algo[32], kms[256], id[65];
	unsigned char rnd[32];
	struct dh_buf *b = &q->resp->body;
	sqlite3_stmt *s;
	int rc;

	if (authorize(q, "s3:PutObject", 1) != 0 ||
	    need_bucket(q, algo, sizeof(algo), kms, sizeof(kms)) != 0 ||
	    request_sse(q, algo, sizeof(algo), kms, sizeof(kms)) != 0)
		return -1;
	if (dh_random(rnd, sizeof(rnd)) != DH_OK)
		return internal(q, "randomness");
	dh_hex_encode(rnd, sizeof(rnd), id);
	if (sqlite3_prepare_v2(db(q), "INSERT INTO s3_uploads (id, bucket, key,"
	    " content_type, created_ms, sse_algo, sse_kms_key) VALUES (?, ?, ?,"
	    " ?, ?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
		return internal(q, "store");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, q->bucket, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, q->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, content_type(q), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, q->c->now_ms);
	if (algo[0] != '\0')
		sqlite3_bind_text(s, 6, algo, -1, SQLITE_STATIC);
	if (kms[0] != '\0')
		sqlite3_bind_text(s, 7, kms, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return internal(q, "store");
	dh_buf_put_str(b, XML_DECL "<InitiateMultipartUploadResult xmlns=\""
	    S3_NS "\">");
	xml_elem(b, "Bucket", q->bucket);
	xml_elem(b, "Key", q->key);
	xml_elem(b, "UploadId", id);
	if (dh_buf_put_str(b, "</InitiateMultipartUploadResult>") != DH_OK)
		return internal(q, "rendering");
	ok_xml(q);
	sse_headers(q, algo, kms);
	return 0;
}

static int
op_upload_part(struct s3req *q, const char *id, const char *pn)
{
	char rel[PATH_LEN], old[PATH_LEN], etag[40], quoted[48];
	struct gw_s3_spool *sp;
	struct upload u;
	sqlite3_stmt *s;
	struct dh_err e;
	char *end = NULL;
	long part;
	int r, rc;

	if (authorize(q, "s3:PutObject", 1) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0)
		return -1;
	part = strtol(pn, &end, 10);
	if (end == pn || *end != '\0' || part < 1 || part > GW_S3_MAX_PARTS)
		return s3_fail(q, 400, "InvalidArgument", "Part number must be"
		    " an integer between 1 and 10000, inclusive");
	if (upload_get(q, id, &u) != 0)
		return -1;
	sp = body_spool(q);
	if (sp == NULL || spool_finish(sp) != DH_OK)
		return internal(q, "spool");
	if (check_md5(q, sp) != 0)
		return -1;
	dh_hex_encode(sp->md5d, 16, etag);
	if (spool_commit(q, sp, ".part", rel, sizeof(rel)) != DH_OK)
		return internal(q, "storing the part");
	old[0] = '\0';
	r = gw_store_begin(q->c->st, &e);
	if (r == DH_OK && sqlite3_prepare_v2(db(q), "SELECT file FROM s3_parts"
	    " WHERE upload_id = ? AND part = ?", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, part);
		if (sqlite3_step(s) == SQLITE_ROW)
			snprintf(old, sizeof(old), "%s",
			    (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
	}
	if (r == DH_OK && sqlite3_prepare_v2(db(q), "INSERT OR REPLACE INTO"
	    " s3_parts (upload_id, part, size, etag, file, modified_ms) VALUES"
	    " (?, ?, ?, ?, ?, ?)", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, part);
		sqlite3_bind_int64(s, 3, (int64_t)sp->len);
		sqlite3_bind_text(s, 4, etag, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, rel, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, q->c->now_ms);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			r = DH_E_IO;
	} else if (r == DH_OK)
		r = DH_E_IO;
	if (r == DH_OK)
		r = gw_store_commit(q->c->st, &e);
	if (r != DH_OK) {
		gw_store_rollback(q->c->st);
		unlink_rel(q, rel);
		return internal(q, "store");
	}
	if (old[0] != '\0')
		unlink_rel(q, old);
	ok_empty(q, 200);
	snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
	gw_api_resp_header(q->resp, "ETag", quoted);
	sse_headers(q, u.sse, u.kms);
	return 0;
}

struct stored_part {
	int64_t size;
	char etag[40];
	char file[PATH_LEN];
};

static int
part_get(struct s3req *q, const char *id, int n, struct stored_part *p)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db(q), "SELECT size, etag, file FROM s3_parts"
	    " WHERE upload_id = ? AND part = ?", -1, &s, NULL) != SQLITE_OK)
		return DH_E_IO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, n);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		p->size = sqlite3_column_int64(s, 0);
		snprintf(p->etag, sizeof(p->etag), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		snprintf(p->file, sizeof(p->file), "%s",
		    (const char *)sqlite3_column_text(s, 2));
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return DH_OK;
	return rc == SQLITE_DONE ? DH_E_NOTFOUND : DH_E_IO;
}

static int
copy_file(struct s3req *q, const char *rel, struct gw_s3_spool *dst,
    unsigned char *buf)
{
	char path[PATH_LEN];
	struct dh_err e;
	ssize_t k;
	int fd, r = DH_OK;

	if (path_of(q, rel, path, sizeof(path)) != DH_OK)
		return DH_E_TOOBIG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return DH_E_IO;
	for (;;) {
		k = read(fd, buf, COPY_BUF);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			r = DH_E_IO;
		if (k <= 0)
			break;
		r = gw_s3_spool_write(dst, buf, (size_t)k, &e);
		if (r != DH_OK)
			break;
	}
	close(fd);
	return r;
}

/* Delete an upload's rows (inside the caller's transaction). */
static int
drop_upload_rows(struct s3req *q, const char *id)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db(q), "DELETE FROM s3_parts WHERE upload_id ="
	    " ?", -1, &s, NULL) != SQLITE_OK)
		return DH_E_IO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE || sqlite3_prepare_v2(db(q), "DELETE FROM"
	    " s3_uploads WHERE id = ?", -1, &s, NULL) != SQLITE_OK)
		return DH_E_IO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? DH_OK : DH_E_IO;
}

/* Files of every part of an upload, for unlinking after a commit. */
static int
part_files(struct s3req *q, const char *id, char ***out, size_t *n)
{
	sqlite3_stmt *s;
	char **v = NULL, **nv;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db(q), "SELECT file FROM s3_parts WHERE"
	    " upload_id = ?", -1, &s, NULL) != SQLITE_OK)
		return DH_E_IO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		nv = realloc(v, (k + 1) * sizeof(*v));
		if (nv == NULL)
			break;
		v = nv;
		v[k] = strdup((const char *)sqlite3_column_text(s, 0));
		if (v[k] == NULL)
			break;
		k++;
	}
	sqlite3_finalize(s);
	*out = v;
	*n = k;
	return rc == SQLITE_DONE ? DH_OK : DH_E_NOMEM;
}

static void
files_unlink_free(struct s3req *q, char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unlink_rel(q, v[i]);
		free(v[i]);
	}
	free(v);
}

static int
op_complete_upload(struct s3req *q, const char *id)
{
	char rel[PATH_LEN], old[PATH_LEN], etag[64], quoted[72];
	char loc[GW_S3_MAX_KEY + 256], m[256];
	struct gw_s3_part *parts = NULL;
	struct gw_s3_spool *dst = NULL;
	struct stored_part sp;
	const char **etags = NULL;
	char (*tags)[40] = NULL;
	unsigned char *buf = NULL;
	struct dh_buf *b = &q->resp->body;
	char **files = NULL;
	size_t n = 0, i, nf = 0;
	struct upload u;
	struct dh_err e;
	int r = -1, rr;

	if (authorize(q, "s3:PutObject", 1) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0 || upload_get(q, id, &u) != 0)
		return -1;
	parts = calloc(GW_S3_MAX_PARTS, sizeof(*parts));
	etags = calloc(GW_S3_MAX_PARTS, sizeof(*etags));
	tags = calloc(GW_S3_MAX_PARTS, sizeof(*tags));
	buf = malloc(COPY_BUF);
	if (parts == NULL || etags == NULL || tags == NULL || buf == NULL) {
		internal(q, "memory");
		goto done;
	}
	dh_err_clear(&e);
	if (gw_s3_parse_complete(q->req->body, q->req->body_len, parts,
	    GW_S3_MAX_PARTS, &n, &e) != DH_OK) {
		s3_fail(q, 400, "MalformedXML", "The XML you provided was not"
		    " well-formed or did not validate against our published"
		    " schema");
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (i > 0 && parts[i].number <= parts[i - 1].number) {
			s3_fail(q, 400, "InvalidPartOrder", "The list of parts"
			    " was not in ascending order. The parts list must be"
			    " specified in order by part number.");
			goto done;
		}
		rr = part_get(q, id, parts[i].number, &sp);
		if (rr == DH_E_NOTFOUND || (rr == DH_OK &&
		    strcasecmp(sp.etag, parts[i].etag) != 0)) {
			s3_fail(q, 400, "InvalidPart", "One or more of the"
			    " specified parts could not be found. The part may"
			    " not have been uploaded, or the specified entity tag"
			    " may not match the part's entity tag.");
			goto done;
		}
		if (rr != DH_OK) {
			internal(q, "store");
			goto done;
		}
		if (i + 1 < n && (uint64_t)sp.size < GW_S3_MIN_PART) {
			snprintf(m, sizeof(m), "Your proposed upload is smaller"
			    " than the minimum allowed size (part %d is %" PRId64
			    " bytes; the minimum is %llu)", parts[i].number,
			    sp.size, (unsigned long long)GW_S3_MIN_PART);
			s3_fail(q, 400, "EntityTooSmall", m);
			goto done;
		}
		snprintf(tags[i], sizeof(tags[i]), "%s", sp.etag);
		etags[i] = tags[i];
	}
	if (gw_s3_multipart_etag(etags, n, etag, sizeof(etag)) != DH_OK ||
	    gw_s3_spool_open(q->c->state_dir, UINT64_MAX, &dst, &e) != DH_OK) {
		internal(q, "assembly");
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (part_get(q, id, parts[i].number, &sp) != DH_OK ||
		    copy_file(q, sp.file, dst, buf) != DH_OK) {
			internal(q, "assembling parts");
			goto done;
		}
	}
	if (spool_finish(dst) != DH_OK || spool_commit(q, dst, ".obj", rel,
	    sizeof(rel)) != DH_OK) {
		internal(q, "storing the object");
		goto done;
	}
	if (part_files(q, id, &files, &nf) != DH_OK) {
		unlink_rel(q, rel);
		internal(q, "store");
		goto done;
	}
	rr = gw_store_begin(q->c->st, &e);
	if (rr == DH_OK)
		rr = obj_put_row(q, (int64_t)dst->len, etag, u.ctype, rel, u.sse,
		    u.kms, old, sizeof(old));
	if (rr == DH_OK)
		rr = drop_upload_rows(q, id);
	if (rr == DH_OK)
		rr = gw_store_commit(q->c->st, &e);
	if (rr != DH_OK) {
		gw_store_rollback(q->c->st);
		unlink_rel(q, rel);
		internal(q, "store");
		goto done;
	}
	files_unlink_free(q, files, nf);
	files = NULL;
	nf = 0;
	if (old[0] != '\0')
		unlink_rel(q, old);
	snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
	snprintf(loc, sizeof(loc), "/%s/%s", q->bucket, q->key);
	dh_buf_put_str(b, XML_DECL "<CompleteMultipartUploadResult xmlns=\""
	    S3_NS "\">");
	xml_elem(b, "Location", loc);
	xml_elem(b, "Bucket", q->bucket);
	xml_elem(b, "Key", q->key);
	if (xml_elem(b, "ETag", quoted) != DH_OK || dh_buf_put_str(b,
	    "</CompleteMultipartUploadResult>") != DH_OK) {
		internal(q, "rendering");
		goto done;
	}
	ok_xml(q);
	sse_headers(q, u.sse, u.kms);
	r = 0;
done:
	for (i = 0; i < nf; i++)
		free(files[i]);
	free(files);
	gw_s3_spool_free(dst);
	free(buf);
	free(tags);
	free(etags);
	free(parts);
	return r;
}

static int
op_abort_upload(struct s3req *q, const char *id)
{
	struct upload u;
	struct dh_err e;
	char **files = NULL;
	size_t nf = 0;
	int r;

	if (authorize(q, "s3:AbortMultipartUpload", 1) != 0 ||
	    need_bucket(q, NULL, 0, NULL, 0) != 0 || upload_get(q, id, &u) != 0)
		return -1;
	if (part_files(q, id, &files, &nf) != DH_OK) {
		files_unlink_free(q, NULL, 0);
		return internal(q, "store");
	}
	r = gw_store_begin(q->c->st, &e);
	if (r == DH_OK)
		r = drop_upload_rows(q, id);
	if (r == DH_OK)
		r = gw_store_commit(q->c->st, &e);
	if (r != DH_OK) {
		size_t i;

		gw_store_rollback(q->c->st);
		for (i = 0; i < nf; i++)
			free(files[i]);
		free(files);
		return internal(q, "store");
	}
	files_unlink_free(q, files, nf);
	ok_empty(q, 204);
	return 0;
}

/* -------------------------------------------------------------- routing */

static void
set_op(struct s3req *q, const char *op)
{
	q->res->op = op;
}

static void
audit_params(struct s3req *q)
{
	cJSON *p = cJSON_CreateObject();

	if (p == NULL)
		return;
	if (q->bucket[0] != '\0')
		cJSON_AddStringToObject(p, "bucketName", q->bucket);
	if (q->key[0] != '\0')
		cJSON_AddStringToObject(p, "key", q->key);
	cJSON_AddStringToObject(p, "Host", hget(q->req, "host") != NULL ?
	    hget(q->req, "host") : "");
	q->res->params = p;
}

static int
route(struct s3req *q)
{
	const char *m = q->req->method, *qs = q->req->query;
	char id[80], pn[16];
	int has_id, bucket_only = q->key[0] == '\0';

	has_id = qget(qs, "uploadId", id, sizeof(id));
	if (q->bucket[0] == '\0') {
		set_op(q, "ListBuckets");
		if (strcmp(m, "GET") == 0)
			return op_list_buckets(q);
		return s3_fail(q, 405, "MethodNotAllowed", "The specified"
		    " method is not allowed against this resource.");
	}
	if (bucket_only) {
		if (qget(qs, "encryption", pn, sizeof(pn)) == 1) {
			if (strcmp(m, "GET") == 0) {
				set_op(q, "GetBucketEncryption");
				return op_get_encryption(q);
			}
			if (strcmp(m, "PUT") == 0) {
				set_op(q, "PutBucketEncryption");
				return op_put_encryption(q, 0);
			}
			if (strcmp(m, "DELETE") == 0) {
				set_op(q, "DeleteBucketEncryption");
				return op_put_encryption(q, 1);
			}
		} else if (qget(qs, "location", pn, sizeof(pn)) == 1 &&
		    strcmp(m, "GET") == 0) {
			set_op(q, "GetBucketLocation");
			return op_location(q);
		} else if (qs == NULL || qs[0] == '\0' || qget(qs,
		    "list-type", pn, sizeof(pn)) == 1) {
			if (strcmp(m, "PUT") == 0) {
				set_op(q, "CreateBucket");
				return op_create_bucket(q);
			}
			if (strcmp(m, "HEAD") == 0) {
				set_op(q, "HeadBucket");
				return op_head_bucket(q);
			}
			if (strcmp(m, "DELETE") == 0) {
				set_op(q, "DeleteBucket");
				return op_delete_bucket(q);
			}
			if (strcmp(m, "GET") == 0 && strcmp(pn, "2") == 0) {
				set_op(q, "ListObjectsV2");
				return op_list_objects(q);
			}
		}
		set_op(q, "Unsupported");
		return s3_fail(q, 501, "NotImplemented", "A header or query you"
		    " provided implies functionality that is not implemented.");
	}
	if (has_id < 0)
		return s3_fail(q, 400, "InvalidArgument", "bad uploadId");
	if (strcmp(m, "POST") == 0 && qget(qs, "uploads", pn,
	    sizeof(pn)) == 1) {
		set_op(q, "CreateMultipartUpload");
		return op_create_upload(q);
	}
	if (has_id == 1) {
		if (strcmp(m, "PUT") == 0 && qget(qs, "partNumber", pn,
		    sizeof(pn)) == 1) {
			set_op(q, "UploadPart");
			return op_upload_part(q, id, pn);
		}
		if (strcmp(m, "POST") == 0) {
			set_op(q, "CompleteMultipartUpload");
			return op_complete_upload(q, id);
		}
		if (strcmp(m, "DELETE") == 0) {
			set_op(q, "AbortMultipartUpload");
			return op_abort_upload(q, id);
		}
	} else if (qs == NULL || qs[0] == '\0' || qget(qs, "x-id", pn,
	    sizeof(pn)) == 1) {
		if (strcmp(m, "PUT") == 0) {
			set_op(q, "PutObject");
			return op_put_object(q);
		}
		if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
			set_op(q, q->is_head ? "HeadObject" : "GetObject");
			return op_get_object(q);
		}
		if (strcmp(m, "DELETE") == 0) {
			set_op(q, "DeleteObject");
			return op_delete_object(q);
		}
	}
	set_op(q, "Unsupported");
	return s3_fail(q, 501, "NotImplemented", "A header or query you provided"
	    " implies functionality that is not implemented.");
}

int
gw_s3_handle(const struct gw_s3_ctx *c, const struct gw_api_req *req,
    struct gw_principal *who, struct gw_s3_result *res,
    struct gw_api_resp *resp)
{
	struct s3req q;
	int r;

	memset(res, 0, sizeof(*res));
	memset(&q, 0, sizeof(q));
	q.c = c;
	q.req = req;
	q.resp = resp;
	q.res = res;
	q.who = who;
	q.is_head = strcmp(req->method, "HEAD") == 0;
	res->op = "S3Request";
	r = split_path(req->path, 0, q.bucket, sizeof(q.bucket), q.key,
	    sizeof(q.key));
	if (r == DH_E_TOOBIG && q.bucket[0] != '\0' &&
	    strlen(req->path) > GW_S3_MAX_KEY) {
		(void)s3_fail(&q, 400, "KeyTooLongError", "Your key is too"
		    " long");
		goto done;
	}
	if (r != DH_OK) {
		(void)s3_fail(&q, 400, "InvalidURI", "Couldn't parse the"
		    " specified URI.");
		goto done;
	}
	snprintf(q.resource, sizeof(q.resource), "/%s%s%s", q.bucket,
	    q.key[0] != '\0' ? "/" : "", q.key);
	if (c->state_dir == NULL) {
		(void)internal(&q, "no state directory");
		goto done;
	}
	if (authenticate(&q) != 0)
		goto done;
	(void)route(&q);
done:
	audit_params(&q);
	gw_s3_spool_free(q.own_spool);
	return DH_OK;
}
