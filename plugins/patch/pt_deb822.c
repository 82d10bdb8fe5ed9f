/*
 * pt_deb822: streaming control-file parser (see pt_deb822.h).  The core,
 * parse_region, consumes every complete element (blank line or whole field
 * with its continuation lines) of a contiguous region and reports where the
 * first incomplete one starts; feed keeps that tail in a carry buffer and
 * completes it from the head of the next chunk, so almost every field is
 * handed out in place without copying.
 */
#include "pt_deb822.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64u * 1024)

void
pt_deb822_init(struct pt_deb822 *p, size_t max_field,
    const struct pt_deb822_cb *cb, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->ctx = ctx;
	p->max_field = max_field;
	dh_buf_init(&p->carry, max_field + 2);
}

void
pt_deb822_free(struct pt_deb822 *p)
{
	dh_buf_free(&p->carry);
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
callback_rc(struct pt_deb822 *p, int rc, unsigned long line,
    struct dh_err *err)
{
	if (rc == DH_OK)
		return DH_OK;
	p->done = 1;
	if (rc == PT_DEB822_STOP)
		return PT_DEB822_STOP;
	if (rc > 0)
		rc = DH_E_FORMAT;
	if (err != NULL && err->code == DH_OK)
		dh_err_set(err, rc, "rejected by caller");
	return dh_err_wrap(err, rc, "line %lu", line);
}

static int
end_stanza(struct pt_deb822 *p, unsigned long line, struct dh_err *err)
{
	int rc = DH_OK;

	if (!p->in_stanza)
		return DH_OK;
	p->in_stanza = 0;
	if (p->cb->stanza_end != NULL)
		rc = p->cb->stanza_end(p->ctx, line, err);
	return callback_rc(p, rc, line, err);
}

/* Emit the field whose raw text is [s, e) (first line starts at s). */
static int
emit_field(struct pt_deb822 *p, const char *s, const char *e,
    unsigned long line, struct dh_err *err)
{
	const char *nl, *colon, *q, *v;
	size_t first_len;
	int rc;

	nl = memchr(s, '\n', (size_t)(e - s));
	first_len = nl != NULL ? (size_t)(nl - s) : (size_t)(e - s);
	colon = memchr(s, ':', first_len);
	if (colon == NULL) {
		p->done = 1;
		return dh_err_set(err, DH_E_FORMAT,
		    "line %lu: expected 'Field: value', found no colon", line);
	}
	if (colon == s) {
		p->done = 1;
		return dh_err_set(err, DH_E_FORMAT,
		    "line %lu: empty field name", line);
	}
	for (q = s; q < colon; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q == 0x7f) {
			p->done = 1;
			return dh_err_set(err, DH_E_FORMAT,
			    "line %lu: field name '%.*s' contains a blank or "
			    "control character", line,
			    (int)(colon - s > 64 ? 64 : colon - s), s);
		}
	v = colon + 1;
	while (v < e && is_blank(*v))
		v++;
	while (e > v && is_space(e[-1]))
		e--;
	rc = p->cb->field(p->ctx, s, (size_t)(colon - s), v, (size_t)(e - v),
	    line, err);
	p->in_stanza = 1;
	return callback_rc(p, rc, line, err);
}

/*
 * Consume complete elements of [d, d+n).  terminated says the region ends at
 * a line boundary that is followed by a non-continuation line (or by the end
 * of input), so its last field is complete.  *used gets the bytes consumed.
 */
static int
parse_region(struct pt_deb822 *p, const char *d, size_t n, int terminated,
    size_t *used, struct dh_err *err)
{
	size_t pos = 0;
	int rc;

	*used = 0;
	while (pos < n) {
		const char *s = d + pos, *e = d + n, *nl, *q;
		unsigned long lines;
		size_t flen;

		nl = memchr(s, '\n', (size_t)(e - s));
		if (*s == '\n' || (*s == '\r' && (nl == s + 1 ||
		    (nl == NULL && terminated && e == s + 1)))) {
			if (nl == NULL && !terminated)
				break;
			p->line++;
			rc = end_stanza(p, p->line, err);
			if (rc != DH_OK)
				return rc;
			pos = nl != NULL ? (size_t)(nl + 1 - d) : n;
			*used = pos;
			continue;
		}
		if (is_blank(*s)) {
			p->done = 1;
			return dh_err_set(err, DH_E_FORMAT,
			    "line %lu: continuation line outside a field",
			    p->line + 1);
		}
		if (*s == '\r' && nl == NULL && !terminated)
			break;
		/* A field: its first line, then every continuation line. */
		lines = 1;
		q = nl != NULL ? nl + 1 : e;
		if (nl == NULL && !terminated)
			q = NULL;
		while (q != NULL && q < e && is_blank(*q)) {
			nl = memchr(q, '\n', (size_t)(e - q));
			lines++;
			if (nl == NULL) {
				q = terminated ? e : NULL;
				break;
			}
			q = nl + 1;
		}
		if (q == NULL || (q == e && !terminated)) {
			/* Pending field: measure it as the complete case does,
			 * without the newline that may end it. */
			flen = (size_t)(e - s);
			if (flen > 0 && s[flen - 1] == '\n')
				flen--;
			if (flen > p->max_field) {
				p->done = 1;
				return dh_err_set(err, DH_E_TOOBIG,
				    "line %lu: field longer than %zu bytes",
				    p->line + 1, p->max_field);
			}
			break;
		}
		flen = (size_t)(q - s);
		if (flen > 0 && s[flen - 1] == '\n')
			flen--;
		if (flen > p->max_field) {
			p->done = 1;
			return dh_err_set(err, DH_E_TOOBIG,
			    "line %lu: field longer than %zu bytes",
			    p->line + 1, p->max_field);
		}
		rc = emit_field(p, s, s + flen, p->line + 1, err);
		if (rc != DH_OK)
			return rc;
		p->line += lines;
		pos = (size_t)(q - d);
		*used = pos;
	}
	return DH_OK;
}

static int
check_nul(struct pt_deb822 *p, const char *d, size_t n, struct dh_err *err)
{
	const char *z = memchr(d, '\0', n), *q;
	unsigned long line = p->line + 1;

	if (z == NULL)
		return DH_OK;
	for (q = (const char *)dh_buf_cstr(&p->carry);
	    q < (const char *)dh_buf_cstr(&p->carry) + p->carry.len; q++)
		if (*q == '\n')
			line++;
	for (q = d; q < z; q++)
		if (*q == '\n')
			line++;
	p->done = 1;
	return dh_err_set(err, DH_E_FORMAT, "line %lu: NUL byte in input",
	    line);
}

static int
carry_put(struct pt_deb822 *p, const char *d, size_t n, struct dh_err *err)
{
	if (dh_buf_put(&p->carry, d, n) != DH_OK) {
		p->done = 1;
		return dh_err_set(err, DH_E_TOOBIG,
		    "line %lu: field longer than %zu bytes", p->line + 1,
		    p->max_field);
	}
	return DH_OK;
}

int
pt_deb822_feed(struct pt_deb822 *p, const void *data, size_t n,
    struct dh_err *err)
{
	const char *d = data;
	size_t used, i;
	int rc;

	if (p->done)
		return dh_err_set(err, DH_E_STATE, "parser already finished");
	if (n == 0)
		return DH_OK;
	rc = check_nul(p, d, n, err);
	if (rc != DH_OK)
		return rc;
	if (p->carry.len > 0) {
		/* Find where the carried element ends: the first line start in
		 * d that is not a continuation line. */
		int at_start = p->carry.d[p->carry.len - 1] == '\n';
		const char *nl;

		i = 0;
		for (;;) {
			if (at_start) {
				if (i == n)
					return carry_put(p, d, n, err);
				if (!is_blank(d[i]))
					break;
			}
			nl = memchr(d + i, '\n', n - i);
			if (nl == NULL)
				return carry_put(p, d, n, err);
			i = (size_t)(nl - d) + 1;
			at_start = 1;
		}
		rc = carry_put(p, d, i, err);
		if (rc != DH_OK)
			return rc;
		rc = parse_region(p, (const char *)p->carry.d, p->carry.len, 1,
		    &used, err);
		dh_buf_reset(&p->carry);
		if (rc != DH_OK)
			return rc;
		d += i;
		n -= i;
	}
	rc = parse_region(p, d, n, 0, &used, err);
	if (rc != DH_OK)
		return rc;
	return carry_put(p, d + used, n - used, err);
}

int
pt_deb822_finish(struct pt_deb822 *p, struct dh_err *err)
{
	size_t used;
	int rc;

	if (p->done)
		return dh_err_set(err, DH_E_STATE, "parser already finished");
	if (p->carry.len > 0) {
		rc = parse_region(p, (const char *)p->carry.d, p->carry.len, 1,
		    &used, err);
		dh_buf_reset(&p->carry);
		if (rc != DH_OK)
			return rc;
	}
	rc = end_stanza(p, p->line, err);
	p->done = 1;
	return rc;
}

int
pt_deb822_parse_file(const char *path, size_t max_field,
    const struct pt_deb822_cb *cb, void *ctx, struct dh_err *err)
{
	struct pt_deb822 p;
	char buf[CHUNK];
	ssize_t r;
	int fd, rc = DH_OK;

	pt_deb822_init(&p, max_field, cb, ctx);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = dh_err_set(err, errno == ENOENT ? DH_E_NOTFOUND : DH_E_IO,
		    "%s: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = dh_err_set(err, DH_E_IO, "%s: read: %s", path,
			    strerror(errno));
			goto out_fd;
		}
		if (r == 0)
			break;
		rc = pt_deb822_feed(&p, buf, (size_t)r, err);
		if (rc != DH_OK)
			goto out_rc;
	}
	rc = pt_deb822_finish(&p, err);
out_rc:
	if (rc < 0)
		dh_err_wrap(err, rc, "%s", path);
	if (rc == PT_DEB822_STOP)
		rc = DH_OK;
out_fd:
	close(fd);
out:
	pt_deb822_free(&p);
	return rc;
}
