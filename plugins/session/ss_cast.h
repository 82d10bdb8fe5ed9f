/*
 * ss_cast: asciicast v2 lines, byte-exact.
 *
 * Header line: {"version":2,"width":W,"height":H,"timestamp":S,
 * "env":{"TERM":"xterm-256color"},"title":T}.  Event lines:
 * [<seconds since start, 6 decimals>, "o"|"i"|"r"|"m", "<data>"].
 *
 * Data escaping (how arbitrary bytes survive): the data string is JSON.
 * Every byte sequence that is valid shortest-form UTF-8 (no surrogates,
 * at most U+10FFFF) is copied as is, except '"' and '\\' (escaped as \" and
 * \\) and the controls 0x00-0x1F and 0x7F (written \b \t \n \f \r or
 * \u00XX).  Every other byte B >= 0x80 (a stray continuation byte, a lead
 * byte without its continuations — also one split across two events —,
 * overlong forms, surrogates, F5-FF) is written as the escape \u00XX of its
 * value, i.e. read as Latin-1.  Because a valid character U+0080..U+00FF is
 * never escaped (it is written as raw UTF-8), a \u0080..\u00FF escape in
 * our output always means the single raw byte: ss_cast_unescape maps those
 * escapes back to one byte and everything else (raw UTF-8, other \u
 * escapes, surrogate pairs from other writers) to UTF-8, giving back the
 * recorded bytes exactly.  Generic players show such bytes as Latin-1
 * characters, which is how a terminal would show mojibake anyway.
 */
#ifndef SS_CAST_H
#define SS_CAST_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"

/* Append the header line (with '\n').  title may be NULL. */
int ss_cast_header(struct dh_buf *out, unsigned width, unsigned height,
    uint64_t start_us, const char *title, struct dh_err *err);

/* Append one event line (with '\n'): time rel_us microseconds after the
 * start, code 'o', 'i', 'r' or 'm', data p[0..n) escaped as above. */
int ss_cast_event(struct dh_buf *out, uint64_t rel_us, char code,
    const void *p, size_t n, struct dh_err *err);

/* Append the escaped form of p[0..n) (no quotes) to out. */
int ss_cast_escape(struct dh_buf *out, const void *p, size_t n);

/* Decode a JSON string body s[0..n) (no quotes) into bytes as above. */
int ss_cast_unescape(const char *s, size_t n, struct dh_buf *out,
    struct dh_err *err);

/* A parsed event line. */
struct ss_cast_ev {
	uint64_t t_us;
	char code;
	struct dh_buf data; /* decoded bytes (owned; init/free by caller) */
};

/* Parse one event line (without '\n') into ev (ev->data is reset first).
 * DH_E_FORMAT for anything but [number, "c", "string"]. */
int ss_cast_parse_event(const char *line, size_t n, struct ss_cast_ev *ev,
    struct dh_err *err);

/* Parse the header line: width, height (either may be NULL). */
int ss_cast_parse_header(const char *line, size_t n, unsigned *width,
    unsigned *height, struct dh_err *err);

#endif
