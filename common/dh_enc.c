/*
 * dh_enc: hex and base64 codecs (see dh_enc.h).  Written without OpenSSL's
 * BIO layer so that decoding is strict and bounded.
 */
#include "dh_enc.h"
#include "dh_err.h"

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
dh_hex_encode(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[s[i] >> 4];
		out[2 * i + 1] = digits[s[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_val(char c)
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
dh_hex_decode(const char *s, size_t n, struct dh_buf *out)
{
	size_t i;
	int hi, lo, r;

	if (n % 2 != 0)
		return DH_E_FORMAT;
	r = dh_buf_reserve(out, n / 2);
	if (r != DH_OK)
		return r;
	for (i = 0; i < n; i += 2) {
		hi = hex_val(s[i]);
		lo = hex_val(s[i + 1]);
		if (hi < 0 || lo < 0)
			return DH_E_FORMAT;
		r = dh_buf_put_u8(out, (unsigned char)(hi << 4 | lo));
		if (r != DH_OK)
			return r;
	}
	return DH_OK;
}

size_t
dh_b64_encoded_size(size_t n)
{
	return (n + 2) / 3 * 4 + 1;
}

int
dh_b64_encode(const void *p, size_t n, struct dh_buf *out)
{
	const unsigned char *s = p;
	unsigned char q[4];
	size_t i;
	uint32_t v;
	int r;

	r = dh_buf_reserve(out, dh_b64_encoded_size(n) - 1);
	if (r != DH_OK)
		return r;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		q[0] = (unsigned char)b64_alpha[v >> 18];
		q[1] = (unsigned char)b64_alpha[(v >> 12) & 63];
		q[2] = (unsigned char)b64_alpha[(v >> 6) & 63];
		q[3] = (unsigned char)b64_alpha[v & 63];
		dh_buf_put(out, q, 4);
	}
	if (n - i == 1) {
		v = (uint32_t)s[i] << 16;
		q[0] = (unsigned char)b64_alpha[v >> 18];
		q[1] = (unsigned char)b64_alpha[(v >> 12) & 63];
		q[2] = q[3] = '=';
		dh_buf_put(out, q, 4);
	} else if (n - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		q[0] = (unsigned char)b64_alpha[v >> 18];
		q[1] = (unsigned char)b64_alpha[(v >> 12) & 63];
		q[2] = (unsigned char)b64_alpha[(v >> 6) & 63];
		q[3] = '=';
		dh_buf_put(out, q, 4);
	}
	return DH_OK;
}

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
dh_b64_decode(const char *s, size_t n, struct dh_buf *out)
{
	size_t i, pad = 0;
	uint32_t v;
	int a, b, c, d, r;
	unsigned char q[3];

	if (n % 4 != 0)
		return DH_E_FORMAT;
	if (n > 0 && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	r = dh_buf_reserve(out, n / 4 * 3);
	if (r != DH_OK)
		return r;
	for (i = 0; i < n; i += 4) {
		a = b64_val(s[i]);
		b = b64_val(s[i + 1]);
		if (i + 4 == n && pad > 0) {
			c = pad == 2 ? 0 : b64_val(s[i + 2]);
			d = 0;
		} else {
			c = b64_val(s[i + 2]);
			d = b64_val(s[i + 3]);
		}
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return DH_E_FORMAT;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
		    (uint32_t)d;
		q[0] = (unsigned char)(v >> 16);
		q[1] = (unsigned char)(v >> 8);
		q[2] = (unsigned char)v;
		if (i + 4 == n && pad > 0) {
			/* non-canonical trailing bits are rejected */
			if ((pad == 2 && (q[1] != 0)) ||
			    (pad == 1 && (q[2] != 0)))
				return DH_E_FORMAT;
			dh_buf_put(out, q, 3 - pad);
		} else {
			dh_buf_put(out, q, 3);
		}
	}
	return DH_OK;
}
