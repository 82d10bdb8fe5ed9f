/*
 * ss_cast: asciicast v2 header/event writer and event reader with the
 * byte-exact escaping described in ss_cast.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "dh_json.h"
#include "ss_cast.h"

static const char hexd[] = "0123456789abcdef";

/* Length of a valid shortest-form UTF-8 sequence at p[0..n), 0 if none. */
static size_t
utf8_valid_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && p[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && p[1] >= 0xA0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
		    (p[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && p[1] < 0x90)
			return 0;
		if (c == 0xF4 && p[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

int
ss_cast_escape(struct dh_buf *out, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i = 0, k, run;
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	int rc = DH_OK;

	while (i < n && rc == DH_OK) {
		/* Copy the longest run of bytes needing no escape at once. */
		run = i;
		while (run < n) {
			unsigned char c = b[run];

			if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
				run++;
				continue;
			}
			if (c >= 0x80) {
				k = utf8_valid_len(b + run, n - run);
				if (k > 0) {
					run += k;
					continue;
				}
			}
			break;
		}
		if (run > i) {
			rc = dh_buf_put(out, b + i, run - i);
			i = run;
			continue;
		}
		switch (b[i]) {
		case '"': rc = dh_buf_put(out, "\\\"", 2); break;
		case '\\': rc = dh_buf_put(out, "\\\\", 2); break;
		case '\b': rc = dh_buf_put(out, "\\b", 2); break;
		case '\t': rc = dh_buf_put(out, "\\t", 2); break;
		case '\n': rc = dh_buf_put(out, "\\n", 2); break;
		case '\f': rc = dh_buf_put(out, "\\f", 2); break;
		case '\r': rc = dh_buf_put(out, "\\r", 2); break;
		default:
			esc[4] = hexd[b[i] >> 4];
			esc[5] = hexd[b[i] & 15];
			rc = dh_buf_put(out, esc, 6);
			break;
		}
		i++;
	}
	return rc;
}

int
ss_cast_header(struct dh_buf *out, unsigned width, unsigned height,
    uint64_t start_us, const char *title, struct dh_err *err)
{
	int rc;

	rc = dh_buf_printf(out, "{\"version\": 2, \"width\": %u, "
	    "\"height\": %u, \"timestamp\": %" PRIu64 ", \"env\": "
	    "{\"TERM\": \"xterm-256color\"}", width, height,
	    start_us / 1000000);
	if (rc == DH_OK && title != NULL) {
		rc = dh_buf_put_str(out, ", \"title\": \"");
		if (rc == DH_OK)
			rc = ss_cast_escape(out, title, strlen(title));
		if (rc == DH_OK)
			rc = dh_buf_put_u8(out, '"');
	}
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, "}\n");
	if (rc != DH_OK)
		return dh_err_set(err, rc, "asciicast header does not fit");
	return DH_OK;
}

int
ss_cast_event(struct dh_buf *out, uint64_t rel_us, char code,
    const void *p, size_t n, struct dh_err *err)
{
	int rc;

	if (code != 'o' && code != 'i' && code != 'r' && code != 'm')
		return dh_err_set(err, DH_E_ARG, "bad asciicast event code");
	rc = dh_buf_printf(out, "[%" PRIu64 ".%06" PRIu64 ", \"%c\", \"",
	    rel_us / 1000000, rel_us % 1000000, code);
	if (rc == DH_OK)
		rc = ss_cast_escape(out, p, n);
	if (rc == DH_OK)
		rc = dh_buf_put_str(out, "\"]\n");
	if (rc != DH_OK)
		return dh_err_set(err, rc, "asciicast event does not fit");
	return DH_OK;
}

static int
hex4(const char *s, uint32_t *v)
{
	uint32_t r = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		r <<= 4;
		if (c >= '0' && c <= '9')
			r |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			r |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			r |= (uint32_t)(c - 'A' + 10);
		else
			return DH_E_FORMAT;
	}
	*v = r;
	return DH_OK;
}

static int
put_utf8(struct dh_buf *out, uint32_t cp)
{
	unsigned char o[4];
	size_t n;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		o[0] = (unsigned char)(0xF0 | (cp >> 18));
		o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return dh_buf_put(out, o, n);
}

int
ss_cast_unescape(const char *s, size_t n, struct dh_buf *out,
    struct dh_err *err)
{
	size_t i = 0, run;
	uint32_t cp, lo;
	int rc = DH_OK;

	while (i < n && rc == DH_OK) {
		run = i;
		while (run < n && s[run] != '\\' && s[run] != '"' &&
		    (unsigned char)s[run] >= 0x20)
			run++;
		if (run > i) {
			rc = dh_buf_put(out, s + i, run - i);
			i = run;
			continue;
		}
		if (s[i] != '\\')
			return dh_err_set(err, DH_E_FORMAT, "unescaped control "
			    "or quote in string at %zu", i);
		if (i + 1 >= n)
			return dh_err_set(err, DH_E_FORMAT, "dangling escape");
		switch (s[i + 1]) {
		case '"': rc = dh_buf_put_u8(out, '"'); break;
		case '\\': rc = dh_buf_put_u8(out, '\\'); break;
		case '/': rc = dh_buf_put_u8(out, '/'); break;
		case 'b': rc = dh_buf_put_u8(out, '\b'); break;
		case 'f': rc = dh_buf_put_u8(out, '\f'); break;
		case 'n': rc = dh_buf_put_u8(out, '\n'); break;
		case 'r': rc = dh_buf_put_u8(out, '\r'); break;
		case 't': rc = dh_buf_put_u8(out, '\t'); break;
		case 'u':
			if (i + 6 > n || hex4(s + i + 2, &cp) != DH_OK)
				return dh_err_set(err, DH_E_FORMAT,
				    "bad \\u escape at %zu", i);
			if (cp <= 0xFF) {
				/* Our raw-byte (Latin-1) escapes. */
				rc = dh_buf_put_u8(out, (uint8_t)cp);
				i += 6;
				continue;
			}
			if (cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= n &&
			    s[i + 6] == '\\' && s[i + 7] == 'u' &&
			    hex4(s + i + 8, &lo) == DH_OK && lo >= 0xDC00 &&
			    lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				    (lo - 0xDC00);
				rc = put_utf8(out, cp);
				i += 12;
				continue;
			}
			if (cp >= 0xD800 && cp <= 0xDFFF)
				cp = 0xFFFD; /* lone surrogate */
			rc = put_utf8(out, cp);
			i += 6;
			continue;
		default:
			return dh_err_set(err, DH_E_FORMAT, "bad escape \\%c",
			    s[i + 1]);
		}
		i += 2;
	}
	if (rc != DH_OK)
		return dh_err_set(err, rc, "decoded string does not fit");
	return DH_OK;
}

static size_t
skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	return i;
}

/* End of the JSON string starting after the opening quote at i. */
static int
string_end(const char *s, size_t n, size_t i, size_t *end)
{
	while (i < n) {
		if (s[i] == '\\') {
			i += 2;
			continue;
		}
		if (s[i] == '"') {
			*end = i;
			return DH_OK;
		}
		i++;
	}
	return DH_E_FORMAT;
}

int
ss_cast_parse_event(const char *line, size_t n, struct ss_cast_ev *ev,
    struct dh_err *err)
{
	char num[40];
	size_t i, j, e;
	char *endp;
	double t;
	int rc;

	dh_buf_reset(&ev->data);
	i = skip_ws(line, n, 0);
	if (i >= n || line[i] != '[')
		return dh_err_set(err, DH_E_FORMAT, "event is not an array");
	i = skip_ws(line, n, i + 1);
	for (j = i; j < n && j - i < sizeof(num) - 1 &&
	    strchr("0123456789.eE+-", line[j]) != NULL; j++)
		;
	if (j == i || j - i >= sizeof(num) - 1)
		return dh_err_set(err, DH_E_FORMAT, "bad event time");
	memcpy(num, line + i, j - i);
	num[j - i] = '\0';
	t = strtod(num, &endp);
	if (*endp != '\0' || !(t >= 0) || t > 1e12)
		return dh_err_set(err, DH_E_FORMAT, "bad event time");
	ev->t_us = (uint64_t)(t * 1000000.0 + 0.5);
	i = skip_ws(line, n, j);
	if (i >= n || line[i] != ',')
		return dh_err_set(err, DH_E_FORMAT, "missing ',' after time");
	i = skip_ws(line, n, i + 1);
	if (i + 2 >= n || line[i] != '"' || line[i + 2] != '"')
		return dh_err_set(err, DH_E_FORMAT, "bad event code");
	ev->code = line[i + 1];
	i = skip_ws(line, n, i + 3);
	if (i >= n || line[i] != ',')
		return dh_err_set(err, DH_E_FORMAT, "missing ',' after code");
	i = skip_ws(line, n, i + 1);
	if (i >= n || line[i] != '"' ||
	    string_end(line, n, i + 1, &e) != DH_OK)
		return dh_err_set(err, DH_E_FORMAT, "bad event data");
	rc = ss_cast_unescape(line + i + 1, e - i - 1, &ev->data, err);
	if (rc != DH_OK)
		return rc;
	i = skip_ws(line, n, e + 1);
	if (i >= n || line[i] != ']' || skip_ws(line, n, i + 1) != n)
		return dh_err_set(err, DH_E_FORMAT, "trailing data in event");
	return DH_OK;
}

int
ss_cast_parse_header(const char *line, size_t n, unsigned *width,
    unsigned *height, struct dh_err *err)
{
	cJSON *j = NULL;
	int64_t v = 0, w = 0, h = 0;
	int rc;

	rc = dh_json_parse(line, n, 64 * 1024, &j, err);
	if (rc != DH_OK)
		return rc;
	rc = dh_json_get_int(j, "version", 2, 2, &v, err);
	if (rc == DH_OK)
		rc = dh_json_get_int(j, "width", 1, 10000, &w, err);
	if (rc == DH_OK)
		rc = dh_json_get_int(j, "height", 1, 10000, &h, err);
	cJSON_Delete(j);
	if (rc != DH_OK)
		return rc;
	if (width != NULL)
		*width = (unsigned)w;
	if (height != NULL)
		*height = (unsigned)h;
	return DH_OK;
}
