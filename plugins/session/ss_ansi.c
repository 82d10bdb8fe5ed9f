/*
 * ss_ansi: streaming ANSI/VT escape cleaner with a one-line screen model
 * (CR/BS overwrite, cursor moves, erase in line) producing greppable
 * UTF-8 lines.  Rules in ss_ansi.h.
 */
#include <stdlib.h>
#include <string.h>

#include "ss_ansi.h"

enum {
	ST_GROUND = 0,
	ST_ESC,         /* after ESC */
	ST_ESC_INTER,   /* ESC + intermediates, waiting for the final */
	ST_CSI,         /* ESC [ parameters/intermediates */
	ST_OSC,         /* ESC ] string, ends with BEL or ESC \ */
	ST_STR,         /* DCS/SOS/PM/APC string, ends with ESC \ */
	ST_STR_ESC      /* ESC inside an OSC/string */
};

#define REPLACEMENT 0xFFFDu

void
ss_ansi_init(struct ss_ansi *a, ss_ansi_line_fn fn, void *arg)
{
	a->state = ST_GROUND;
	a->cp = 0;
	a->need = 0;
	a->have = 0;
	a->min_cp = 0;
	a->nparams = 0;
	a->len = 0;
	a->col = 0;
	a->fn = fn;
	a->arg = arg;
}

static size_t
utf8_put(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static int
emit_line(struct ss_ansi *a)
{
	char out[SS_ANSI_LINE_CELLS * 4];
	size_t i, n = 0, end = a->len;
	int rc = 0;

	while (end > 0 && a->cells[end - 1] == ' ')
		end--;
	for (i = 0; i < end; i++)
		n += utf8_put(a->cells[i], out + n);
	if (a->fn != NULL)
		rc = a->fn(a->arg, out, n);
	a->len = 0;
	a->col = 0;
	return rc;
}

static int
put_cell(struct ss_ansi *a, uint32_t cp)
{
	int rc = 0;

	if (a->col >= SS_ANSI_LINE_CELLS) {
		/* Overlong line: emit what we have and continue. */
		rc = emit_line(a);
	}
	while (a->len < a->col)
		a->cells[a->len++] = ' ';
	a->cells[a->col] = cp;
	a->col++;
	if (a->col > a->len)
		a->len = a->col;
	return rc;
}

static unsigned
csi_param(const struct ss_ansi *a, unsigned dflt)
{
	unsigned v = 0;
	size_t i;
	int any = 0;

	for (i = 0; i < a->nparams; i++) {
		char c = a->params[i];

		if (c == ';' || c == ':')
			break;
		if (c < '0' || c > '9')
			return dflt;
		if (v < 100000)
			v = v * 10 + (unsigned)(c - '0');
		any = 1;
	}
	return any && v > 0 ? v : dflt;
}

static void
csi_final(struct ss_ansi *a, unsigned char f)
{
	unsigned n;
	size_t i;

	/* Private or intermediate forms ("?25h", "!p") never move the line. */
	if (a->nparams > 0 && (a->params[0] < '0' || a->params[0] > ';'))
		return;
	switch (f) {
	case 'C': /* cursor forward */
		n = csi_param(a, 1);
		a->col = a->col + n < SS_ANSI_LINE_CELLS ? a->col + n :
		    SS_ANSI_LINE_CELLS - 1;
		break;
	case 'D': /* cursor back */
		n = csi_param(a, 1);
		a->col = a->col > n ? a->col - n : 0;
		break;
	case 'G': /* cursor to column */
		n = csi_param(a, 1);
		a->col = n - 1 < SS_ANSI_LINE_CELLS ? n - 1 :
		    SS_ANSI_LINE_CELLS - 1;
		break;
	case 'K': /* erase in line */
		n = a->nparams == 0 ? 0 : csi_param(a, 0);
		if (a->nparams > 0 && a->params[0] == '0')
			n = 0;
		if (n == 0) {
			if (a->len > a->col)
				a->len = a->col;
		} else if (n == 1) {
			for (i = 0; i <= a->col && i < a->len; i++)
				a->cells[i] = ' ';
		} else if (n == 2) {
			a->len = 0;
		}
		break;
	default:
		break;
	}
}

static int
control(struct ss_ansi *a, unsigned char c)
{
	switch (c) {
	case '\n':
		return emit_line(a);
	case '\r':
		a->col = 0;
		return 0;
	case '\b':
		if (a->col > 0)
			a->col--;
		return 0;
	case '\t':
		return put_cell(a, ' ');
	case 0x1b:
		a->state = ST_ESC;
		return 0;
	default:
		return 0; /* other C0 and DEL dropped */
	}
}

/* A byte that interrupts a partial UTF-8 character: the partial bytes
 * become replacement characters. */
static int
utf8_abort(struct ss_ansi *a)
{
	int i, rc = 0;

	for (i = 0; i <= a->have && rc == 0; i++)
		rc = put_cell(a, REPLACEMENT);
	a->need = 0;
	a->have = 0;
	return rc;
}

static int
ground(struct ss_ansi *a, unsigned char c)
{
	int rc = 0;

	if (a->need > 0) {
		if ((c & 0xC0) == 0x80) {
			a->cp = (a->cp << 6) | (c & 0x3F);
			a->have++;
			if (a->have < a->need)
				return 0;
			a->need = 0;
			if (a->cp < a->min_cp || a->cp > 0x10FFFF ||
			    (a->cp >= 0xD800 && a->cp <= 0xDFFF)) {
				int i;

				/* Overlong, surrogate or too large: one
				 * replacement per byte. */
				for (i = 0; i <= a->have && rc == 0; i++)
					rc = put_cell(a, REPLACEMENT);
				a->have = 0;
				return rc;
			}
			a->have = 0;
			return put_cell(a, a->cp);
		}
		rc = utf8_abort(a);
		if (rc != 0)
			return rc;
	}
	if (c < 0x20 || c == 0x7F)
		return control(a, c);
	if (c < 0x80)
		return put_cell(a, c);
	if (c >= 0xC2 && c <= 0xDF) {
		a->cp = c & 0x1F;
		a->need = 1;
		a->min_cp = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		a->cp = c & 0x0F;
		a->need = 2;
		a->min_cp = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		a->cp = c & 0x07;
		a->need = 3;
		a->min_cp = 0x10000;
	} else {
		return put_cell(a, REPLACEMENT);
	}
	a->have = 0;
	return 0;
}

int
ss_ansi_feed(struct ss_ansi *a, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		unsigned char c = b[i];

		switch (a->state) {
		case ST_GROUND:
			rc = ground(a, c);
			break;
		case ST_ESC:
			if (c == '[') {
				a->state = ST_CSI;
				a->nparams = 0;
			} else if (c == ']') {
				a->state = ST_OSC;
			} else if (c == 'P' || c == 'X' || c == '^' ||
			    c == '_') {
				a->state = ST_STR;
			} else if (c >= 0x20 && c <= 0x2F) {
				a->state = ST_ESC_INTER;
			} else if (c == 0x1b) {
				a->state = ST_ESC;
			} else if (c < 0x20) {
				a->state = ST_GROUND;
				rc = control(a, c);
			} else {
				a->state = ST_GROUND; /* ESC 7, ESC =, ... */
			}
			break;
		case ST_ESC_INTER:
			if (c >= 0x30 && c <= 0x7E)
				a->state = ST_GROUND;
			else if (c == 0x1b)
				a->state = ST_ESC;
			else if (c < 0x20 && c != 0x1b) {
				a->state = ST_GROUND;
				rc = control(a, c);
			}
			break;
		case ST_CSI:
			if (c >= 0x40 && c <= 0x7E) {
				a->state = ST_GROUND;
				csi_final(a, c);
			} else if (c >= 0x20 && c <= 0x3F) {
				if (a->nparams < SS_ANSI_PARAM_MAX)
					a->params[a->nparams++] = (char)c;
			} else if (c == 0x1b) {
				a->state = ST_ESC;
			} else if (c == 0x18 || c == 0x1a) {
				a->state = ST_GROUND; /* CAN/SUB cancel */
			} else if (c < 0x20) {
				rc = control(a, c); /* executed inside CSI */
			} else {
				a->state = ST_GROUND; /* malformed: drop it */
			}
			break;
		case ST_OSC:
			if (c == 0x07)
				a->state = ST_GROUND;
			else if (c == 0x1b)
				a->state = ST_STR_ESC;
			else if (c == 0x18 || c == 0x1a)
				a->state = ST_GROUND;
			break;
		case ST_STR:
			if (c == 0x1b)
				a->state = ST_STR_ESC;
			else if (c == 0x18 || c == 0x1a)
				a->state = ST_GROUND;
			break;
		case ST_STR_ESC:
			if (c == '\\') {
				a->state = ST_GROUND;
			} else if (c == 0x1b) {
				a->state = ST_STR_ESC;
			} else {
				/* ESC not followed by '\': the string ended
				 * and a new escape starts with this byte. */
				a->state = ST_ESC;
				i--;
			}
			break;
		default:
			a->state = ST_GROUND;
			break;
		}
	}
	return rc;
}

int
ss_ansi_finish(struct ss_ansi *a)
{
	int rc = 0;

	if (a->need > 0)
		rc = utf8_abort(a);
	a->state = ST_GROUND;
	if (rc == 0 && a->len > 0)
		rc = emit_line(a);
	a->len = 0;
	a->col = 0;
	return rc;
}

int
ss_ansi_has_partial(const struct ss_ansi *a)
{
	return a->len > 0 || a->need > 0;
}

struct clean_ctx {
	struct dh_buf *out;
	int rc;
};

static int
clean_line(void *arg, const char *line, size_t n)
{
	struct clean_ctx *c = arg;

	c->rc = dh_buf_put(c->out, line, n);
	if (c->rc == DH_OK)
		c->rc = dh_buf_put_u8(c->out, '\n');
	return c->rc;
}

static int
clean_last(void *arg, const char *line, size_t n)
{
	struct clean_ctx *c = arg;

	c->rc = dh_buf_put(c->out, line, n);
	return c->rc;
}

int
ss_ansi_clean(const void *p, size_t n, struct dh_buf *out,
    struct dh_err *err)
{
	struct ss_ansi *a;
	struct clean_ctx c = { out, DH_OK };
	int rc;

	a = malloc(sizeof(*a));
	if (a == NULL)
		return dh_err_set(err, DH_E_NOMEM, "out of memory");
	ss_ansi_init(a, clean_line, &c);
	rc = ss_ansi_feed(a, p, n);
	if (rc == 0) {
		a->fn = clean_last;
		rc = ss_ansi_finish(a);
	}
	free(a);
	if (rc != 0)
		return dh_err_set(err, c.rc ? c.rc : DH_E_TOOBIG,
		    "cleaned text does not fit");
	return DH_OK;
}
