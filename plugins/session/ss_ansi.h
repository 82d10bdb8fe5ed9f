/*
 * ss_ansi: turn a raw terminal output stream into greppable text lines.
 *
 * A streaming cleaner (state carries across chunk boundaries, so an escape
 * sequence or UTF-8 character split between two writes is handled):
 *  - CSI (ESC [ ... final 0x40-0x7E), OSC (ESC ] ... BEL or ESC \), DCS /
 *    SOS / PM / APC strings (ESC P/X/^/_ ... ESC \) and two-byte escapes
 *    (ESC, intermediates 0x20-0x2F, final) are removed;
 *  - a line model with a cursor gives overwrite semantics: CR moves to
 *    column 0 and later characters overwrite, BS moves one cell left, the
 *    CSI cursor moves C (right), D (left), G (column) and K (erase in line,
 *    modes 0/1/2) are applied; LF emits the whole line (trailing spaces
 *    trimmed) and starts a new one;
 *  - TAB becomes one space (as the reference agent's CloudWatch stream);
 *    other C0 controls and DEL are dropped;
 *  - valid UTF-8 is kept (one cell per code point); every byte that is not
 *    part of a valid, shortest-form UTF-8 sequence (and surrogates or
 *    values past U+10FFFF) becomes U+FFFD;
 *  - a line longer than SS_ANSI_LINE_CELLS cells is emitted in pieces.
 * Emitted lines are valid UTF-8 without control characters.
 */
#ifndef SS_ANSI_H
#define SS_ANSI_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"

#define SS_ANSI_LINE_CELLS 8192
#define SS_ANSI_PARAM_MAX 32

/* Called with one finished line (n bytes of UTF-8, no LF; not
 * NUL-terminated).  A nonzero return stops the feed and is passed on. */
typedef int (*ss_ansi_line_fn)(void *arg, const char *line, size_t n);

/* Cleaner state (plain data: copying the struct snapshots it). */
struct ss_ansi {
	int state;
	uint32_t cp;                        /* UTF-8 code point being built */
	int need;                           /* continuation bytes still due */
	int have;                           /* continuation bytes seen */
	uint32_t min_cp;                    /* shortest-form lower bound */
	unsigned char pend[4];              /* bytes of the partial char */
	char params[SS_ANSI_PARAM_MAX];     /* CSI parameter bytes */
	size_t nparams;
	uint32_t cells[SS_ANSI_LINE_CELLS]; /* the current line */
	size_t len;                         /* cells in use */
	size_t col;                         /* cursor */
	ss_ansi_line_fn fn;
	void *arg;
};

/* Reset a to an empty line in ground state; fn receives finished lines. */
void ss_ansi_init(struct ss_ansi *a, ss_ansi_line_fn fn, void *arg);

/* Feed p[0..n); returns 0 or the first nonzero value fn returned. */
int ss_ansi_feed(struct ss_ansi *a, const void *p, size_t n);

/* Emit the unfinished line, if it has any cell, and drop a partial
 * escape sequence or character (end of stream). */
int ss_ansi_finish(struct ss_ansi *a);

/* 1 when a partial line (a cell) is buffered. */
int ss_ansi_has_partial(const struct ss_ansi *a);

/* One-shot helper: clean p[0..n) into out, lines joined with '\n' (the
 * last partial line included, without a trailing '\n'). */
int ss_ansi_clean(const void *p, size_t n, struct dh_buf *out,
    struct dh_err *err);

#endif
