/*
 * dh_buf: a bounded byte buffer with checked big-endian getters and putters,
 * in the style of OpenSSH's sshbuf and curl's dynbuf.  Every buffer has a
 * ceiling (max) fixed at init; a put that would cross it fails with
 * DH_E_TOOBIG and leaves the buffer unchanged.  Getters consume from the read
 * offset and fail with DH_E_SHORT instead of reading past the end.  The data
 * is always NUL-terminated one byte past len, so text can be used as a C
 * string (dh_buf_cstr).
 *
 * Ownership: the buffer owns d; dh_buf_free releases it (wiping it first
 * when the buffer was marked secret).  A view (dh_buf_view) borrows caller
 * memory read-only and owns nothing.
 */
#ifndef DH_BUF_H
#define DH_BUF_H

#include <stddef.h>
#include <stdint.h>

struct dh_buf {
	unsigned char *d; /* owned storage (borrowed for views) */
	size_t len;       /* bytes written */
	size_t off;       /* read position, off <= len */
	size_t cap;       /* allocated bytes, excluding the NUL byte */
	size_t max;       /* ceiling for len */
	int readonly;     /* view over borrowed memory */
	int secret;       /* wipe on free/reset/growth */
};

/* Prepare an empty buffer that may grow to max bytes.  No allocation yet. */
void dh_buf_init(struct dh_buf *b, size_t max);

/* Like dh_buf_init, but contents are wiped whenever storage is released. */
void dh_buf_init_secret(struct dh_buf *b, size_t max);

/* Make b a read-only view of n bytes at p (p must outlive b). */
void dh_buf_view(struct dh_buf *b, const void *p, size_t n);

/* Release storage (wiping it if secret) and leave b empty but reusable. */
void dh_buf_free(struct dh_buf *b);

/* Drop contents, keep storage. */
void dh_buf_reset(struct dh_buf *b);

/* Ensure room for n more bytes; DH_E_TOOBIG past max, DH_E_NOMEM on alloc. */
int dh_buf_reserve(struct dh_buf *b, size_t n);

/* Append n bytes. */
int dh_buf_put(struct dh_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string without its NUL. */
int dh_buf_put_str(struct dh_buf *b, const char *s);
/* Append one byte. */
int dh_buf_put_u8(struct dh_buf *b, uint8_t v);
/* Append big-endian integers. */
int dh_buf_put_u32(struct dh_buf *b, uint32_t v);
int dh_buf_put_u64(struct dh_buf *b, uint64_t v);
/* Append an optional string: u32 length, then the bytes; NULL is the
 * length 0xffffffff.  DH_E_TOOBIG for a string over DH_BUF_OSTR_MAX. */
#define DH_BUF_OSTR_MAX (1u << 20)
int dh_buf_put_ostr(struct dh_buf *b, const char *s);
/* Append printf-formatted text. */
int dh_buf_printf(struct dh_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Bytes left to read. */
size_t dh_buf_avail(const struct dh_buf *b);
/* Pointer to the unread bytes (valid until the next put). */
const unsigned char *dh_buf_ptr(const struct dh_buf *b);
/* Contents from offset 0 as a NUL-terminated string (empty string if none). */
const char *dh_buf_cstr(const struct dh_buf *b);

/* Consume n bytes into p (p may be NULL to skip); DH_E_SHORT if fewer. */
int dh_buf_get(struct dh_buf *b, void *p, size_t n);
int dh_buf_get_u8(struct dh_buf *b, uint8_t *v);
int dh_buf_get_u32(struct dh_buf *b, uint32_t *v);
int dh_buf_get_u64(struct dh_buf *b, uint64_t *v);
/* Consume an optional string (dh_buf_put_ostr) of at most max bytes: *out
 * is NULL or a malloc'd NUL-terminated copy.  DH_E_SHORT, DH_E_TOOBIG past
 * max, DH_E_FORMAT for a NUL inside, DH_E_NOMEM. */
int dh_buf_get_ostr(struct dh_buf *b, size_t max, char **out);

/* Detach storage: returns the NUL-terminated data (caller frees), sets *n. */
unsigned char *dh_buf_steal(struct dh_buf *b, size_t *n);

/* Big-endian helpers on raw memory (caller checked the length). */
uint32_t dh_be32(const unsigned char *p);
uint64_t dh_be64(const unsigned char *p);
void dh_put_be32(unsigned char *p, uint32_t v);
void dh_put_be64(unsigned char *p, uint64_t v);

#endif
