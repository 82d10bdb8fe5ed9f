/*
 * pt_deb822: a streaming, bounded parser for RFC822-style control files as
 * dpkg and apt write them (dpkg status, apt Packages indexes, Release files,
 * apt preferences): stanzas of "Name: value" fields separated by blank lines,
 * continuation lines starting with a space or tab.
 *
 * Input arrives in chunks of any size (pt_deb822_feed); a field is handed to
 * the caller only once it is complete, as a pointer into the chunk when it
 * lies inside one and otherwise from a small carry buffer, so a file is never
 * held in memory whole.  Every field is bounded by max_field bytes (name,
 * value and continuation lines together).  Errors name the line: a line with
 * no colon, an empty or blank-containing field name, a continuation line
 * before any field, a NUL byte, an over-long field.
 *
 * Ownership: the parser owns its carry buffer (pt_deb822_free).  Field
 * pointers passed to the callbacks are valid only during the callback.
 */
#ifndef PT_DEB822_H
#define PT_DEB822_H

#include <stddef.h>

#include "dh_buf.h"
#include "dh_err.h"

/* A callback returns 0 to go on, PT_DEB822_STOP to end parsing early (the
 * feed then returns PT_DEB822_STOP), or a negative DH_E_* code to fail (the
 * callback should fill err; the parser adds the line number). */
#define PT_DEB822_STOP 1

struct pt_deb822_cb {
	/* One complete field.  name has no colon; value has leading blanks and
	 * trailing whitespace removed and keeps continuation lines verbatim
	 * ("first\n second\n ."); line is the field's first line (1-based). */
	int (*field)(void *ctx, const char *name, size_t name_len,
	    const char *value, size_t value_len, unsigned long line,
	    struct dh_err *err);
	/* End of a stanza that had at least one field (blank line or end of
	 * input); line is the line of the terminating blank line or the last. */
	int (*stanza_end)(void *ctx, unsigned long line, struct dh_err *err);
};

struct pt_deb822 {
	const struct pt_deb822_cb *cb; /* borrowed */
	void *ctx;                     /* borrowed, passed to callbacks */
	size_t max_field;
	struct dh_buf carry;           /* unfinished field between chunks */
	unsigned long line;            /* lines fully consumed so far */
	int in_stanza;                 /* a field was seen since the last blank */
	int done;                      /* stopped, failed or finished */
};

/* Prepare a parser; cb and ctx must outlive it.  max_field bounds one field
 * (a sensible value is 1 MiB for dpkg status, 64 KiB for apt indexes). */
void pt_deb822_init(struct pt_deb822 *p, size_t max_field,
    const struct pt_deb822_cb *cb, void *ctx);

/* Parse the next n bytes.  Returns DH_OK, PT_DEB822_STOP, or DH_E_FORMAT /
 * DH_E_TOOBIG / a callback's code with "line N: ..." in err. */
int pt_deb822_feed(struct pt_deb822 *p, const void *data, size_t n,
    struct dh_err *err);

/* Signal end of input: flushes the last field and stanza.  Same returns. */
int pt_deb822_finish(struct pt_deb822 *p, struct dh_err *err);

/* Release the carry buffer; the parser may be re-initialised afterwards. */
void pt_deb822_free(struct pt_deb822 *p);

/* Convenience: parse a whole file at path (read in 64 KiB chunks). */
int pt_deb822_parse_file(const char *path, size_t max_field,
    const struct pt_deb822_cb *cb, void *ctx, struct dh_err *err);

#endif
