/*
 * dh_err: status codes and a small error-detail record shared by every
 * deckhand module.  Functions return 0 (DH_OK) or a negative DH_E_* code and,
 * when the caller passes a struct dh_err, leave a human-readable reason in it.
 * Deep code never prints; only the top level decides how to report (tlog's
 * grc + error stack, OpenSSH's SSH_ERR_*).
 */
#ifndef DH_ERR_H
#define DH_ERR_H

#include <stddef.h>

enum {
	DH_OK = 0,
	DH_E_NOMEM = -1,     /* allocation failed */
	DH_E_SHORT = -2,     /* input ended before a field did */
	DH_E_TOOBIG = -3,    /* a size ceiling would be exceeded */
	DH_E_FORMAT = -4,    /* malformed input */
	DH_E_IO = -5,        /* a system call failed (errno in the message) */
	DH_E_ARG = -6,       /* caller passed an invalid argument */
	DH_E_CRYPTO = -7,    /* OpenSSL failure or bad signature material */
	DH_E_NET = -8,       /* connect/transfer failure */
	DH_E_TLS = -9,       /* certificate or handshake failure */
	DH_E_HTTP = -10,     /* unexpected HTTP status */
	DH_E_SERVICE = -11,  /* the AWS-style service returned an error */
	DH_E_AUTH = -12,     /* signature, credential or permission refused */
	DH_E_TIMEOUT = -13,  /* deadline passed */
	DH_E_NOTFOUND = -14, /* named thing does not exist */
	DH_E_EXISTS = -15,   /* named thing already exists */
	DH_E_STATE = -16,    /* call not valid in the current state */
	DH_E_CONFIG = -17,   /* configuration rejected */
	DH_E_INTEGRITY = -18 /* checksum / digest / hash chain mismatch */
};

#define DH_ERR_MSG_MAX 512

/* Error detail.  code mirrors the returned status; msg is NUL-terminated. */
struct dh_err {
	int code;
	char msg[DH_ERR_MSG_MAX];
};

/* Record code and a printf-style reason in err (err may be NULL); returns code. */
int dh_err_set(struct dh_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the existing reason with context ("ctx: old reason"); returns err->code
 * (or code when err is NULL or empty). */
int dh_err_wrap(struct dh_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset err to DH_OK with an empty message. */
void dh_err_clear(struct dh_err *err);

/* Static English name of a DH_E_* code; never NULL. */
const char *dh_strerror(int code);

#endif
