/*
 * dh_buf: bounded byte buffer with checked getters (see dh_buf.h).
 */
#include "dh_buf.h"
#include "dh_err.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char empty_str[1];

void
dh_buf_init(struct dh_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
dh_buf_init_secret(struct dh_buf *b, size_t max)
{
	dh_buf_init(b, max);
	b->secret = 1;
}

void
dh_buf_view(struct dh_buf *b, const void *p, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->d = (unsigned char *)(uintptr_t)p;
	b->len = n;
	b->cap = n;
	b->max = n;
	b->readonly = 1;
}

void
dh_buf_free(struct dh_buf *b)
{
	if (!b->readonly && b->d != NULL) {
		if (b->secret)
			OPENSSL_cleanse(b->d, b->cap + 1);
		free(b->d);
	}
	b->d = NULL;
	b->len = b->off = b->cap = 0;
	b->readonly = 0;
}

void
dh_buf_reset(struct dh_buf *b)
{
	if (b->readonly) {
		b->off = 0;
		return;
	}
	if (b->secret && b->d != NULL)
		OPENSSL_cleanse(b->d, b->cap + 1);
	b->len = b->off = 0;
	if (b->d != NULL)
		b->d[0] = '\0';
}

int
dh_buf_reserve(struct dh_buf *b, size_t n)
{
	size_t want, ncap;
	unsigned char *nd;

	if (b->readonly)
		return DH_E_STATE;
	if (n > b->max || b->len > b->max - n)
		return DH_E_TOOBIG;
	want = b->len + n;
	if (b->d != NULL && want <= b->cap)
		return DH_OK;
	ncap = b->cap < 64 ? 64 : b->cap;
	while (ncap < want)
		ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	if (b->secret) {
		nd = malloc(ncap + 1);
		if (nd == NULL)
			return DH_E_NOMEM;
		if (b->d != NULL) {
			memcpy(nd, b->d, b->len + 1);
			OPENSSL_cleanse(b->d, b->cap + 1);
			free(b->d);
		}
	} else {
		nd = realloc(b->d, ncap + 1);
		if (nd == NULL)
			return DH_E_NOMEM;
	}
	if (b->d == NULL)
		nd[0] = '\0';
	b->d = nd;
	b->cap = ncap;
	return DH_OK;
}

int
dh_buf_put(struct dh_buf *b, const void *p, size_t n)
{
	int r;

	r = dh_buf_reserve(b, n);
	if (r != DH_OK)
		return r;
	if (n > 0)
		memcpy(b->d + b->len, p, n);
	b->len += n;
	b->d[b->len] = '\0';
	return DH_OK;
}

int
dh_buf_put_str(struct dh_buf *b, const char *s)
{
	return dh_buf_put(b, s, strlen(s));
}

int
dh_buf_put_u8(struct dh_buf *b, uint8_t v)
{
	return dh_buf_put(b, &v, 1);
}

int
dh_buf_put_u32(struct dh_buf *b, uint32_t v)
{
	unsigned char p[4];

	dh_put_be32(p, v);
	return dh_buf_put(b, p, sizeof(p));
}

int
dh_buf_put_u64(struct dh_buf *b, uint64_t v)
{
	unsigned char p[8];

	dh_put_be64(p, v);
	return dh_buf_put(b, p, sizeof(p));
}

int
dh_buf_printf(struct dh_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return DH_E_FORMAT;
	r = dh_buf_reserve(b, (size_t)n);
	if (r != DH_OK)
		return r;
	va_start(ap, fmt);
	vsnprintf((char *)b->d + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return DH_OK;
}

size_t
dh_buf_avail(const struct dh_buf *b)
{
	return b->len - b->off;
}

const unsigned char *
dh_buf_ptr(const struct dh_buf *b)
{
	if (b->d == NULL)
		return empty_str;
	return b->d + b->off;
}

const char *
dh_buf_cstr(const struct dh_buf *b)
{
	if (b->d == NULL || b->readonly)
		return b->d == NULL ? (const char *)empty_str : (const char *)b->d;
	return (const char *)b->d;
}

int
dh_buf_get(struct dh_buf *b, void *p, size_t n)
{
	if (n > b->len - b->off)
		return DH_E_SHORT;
	if (p != NULL && n > 0)
		memcpy(p, b->d + b->off, n);
	b->off += n;
	return DH_OK;
}

int
dh_buf_get_u8(struct dh_buf *b, uint8_t *v)
{
	return dh_buf_get(b, v, 1);
}

int
dh_buf_get_u32(struct dh_buf *b, uint32_t *v)
{
	unsigned char p[4];
	int r;

	r = dh_buf_get(b, p, sizeof(p));
	if (r == DH_OK)
		*v = dh_be32(p);
	return r;
}

int
dh_buf_get_u64(struct dh_buf *b, uint64_t *v)
{
	unsigned char p[8];
	int r;

	r = dh_buf_get(b, p, sizeof(p));
	if (r == DH_OK)
		*v = dh_be64(p);
	return r;
}

int
dh_buf_put_ostr(struct dh_buf *b, const char *s)
{
	size_t n;
	int r;

	if (s == NULL)
		return dh_buf_put_u32(b, 0xffffffffu);
	n = strlen(s);
	if (n > DH_BUF_OSTR_MAX)
		return DH_E_TOOBIG;
	r = dh_buf_put_u32(b, (uint32_t)n);
	return r == DH_OK ? dh_buf_put(b, s, n) : r;
}

int
dh_buf_get_ostr(struct dh_buf *b, size_t max, char **out)
{
	uint32_t n;
	char *s;
	int r;

	*out = NULL;
	r = dh_buf_get_u32(b, &n);
	if (r != DH_OK || n == 0xffffffffu)
		return r;
	if (n > max || n > DH_BUF_OSTR_MAX)
		return DH_E_TOOBIG;
	if (dh_buf_avail(b) < n)
		return DH_E_SHORT;
	if (memchr(dh_buf_ptr(b), '\0', n) != NULL)
		return DH_E_FORMAT;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return DH_E_NOMEM;
	(void)dh_buf_get(b, s, n);
	s[n] = '\0';
	*out = s;
	return DH_OK;
}

unsigned char *
dh_buf_steal(struct dh_buf *b, size_t *n)
{
	unsigned char *d;

	if (b->readonly || b->d == NULL) {
		d = malloc(b->len + 1);
		if (d == NULL)
			return NULL;
		if (b->len > 0)
			memcpy(d, b->d, b->len);
		d[b->len] = '\0';
	} else {
		d = b->d;
	}
	if (n != NULL)
		*n = b->len;
	b->d = NULL;
	b->len = b->off = b->cap = 0;
	b->readonly = 0;
	return d;
}

uint32_t
dh_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

uint64_t
dh_be64(const unsigned char *p)
{
	return (uint64_t)dh_be32(p) << 32 | dh_be32(p + 4);
}

void
dh_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void
dh_put_be64(unsigned char *p, uint64_t v)
{
	dh_put_be32(p, (uint32_t)(v >> 32));
	dh_put_be32(p + 4, (uint32_t)v);
}
