/*
 * dh_log: the one place deckhand writes diagnostics.  Lines go to stderr in
 * a journald-friendly form ("<N>" syslog priority prefix when stderr is the
 * journal, a timestamp otherwise).  Peer-supplied strings are passed through
 * dh_log_escape (length cap, control bytes escaped) before formatting, and
 * every secret registered with dh_log_secret_add is masked in the final line,
 * so a secret never reaches a log even by accident.
 */
#ifndef DH_LOG_H
#define DH_LOG_H

#include <stddef.h>

enum dh_log_level {
	DH_LOG_ERROR = 3,
	DH_LOG_WARN = 4,
	DH_LOG_INFO = 6,
	DH_LOG_DEBUG = 7
};

/* Set the least important level that is still written (default INFO). */
void dh_log_set_level(enum dh_log_level lvl);
/* Parse "error|warn|info|debug"; 0 or DH_E_ARG. */
int dh_log_parse_level(const char *s, enum dh_log_level *lvl);
/* Program name prefixed to every line (pointer kept; use a literal). */
void dh_log_set_ident(const char *ident);
/* Redirect output to fd (default 2); used by tests. */
void dh_log_set_fd(int fd);

/* Write one line at lvl (newline added, control bytes in fmt output escaped). */
void dh_log(enum dh_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define dh_error(...) dh_log(DH_LOG_ERROR, __VA_ARGS__)
#define dh_warn(...) dh_log(DH_LOG_WARN, __VA_ARGS__)
#define dh_info(...) dh_log(DH_LOG_INFO, __VA_ARGS__)
#define dh_debug(...) dh_log(DH_LOG_DEBUG, __VA_ARGS__)

/* Register a secret (>= 4 bytes) to be masked as "****" in every later line;
 * the string is copied.  0, DH_E_ARG (too short) or DH_E_NOMEM/DH_E_TOOBIG. */
int dh_log_secret_add(const char *secret);
/* Forget all registered secrets (wiping the copies). */
void dh_log_secret_clear(void);

/* Escape untrusted bytes p[0..n) for a log line: printable ASCII kept,
 * everything else as \xNN, \n, \r, \t; at most cap input bytes, "..." when
 * cut.  out has room for outsz bytes and is always NUL-terminated.
 * Returns out. */
char *dh_log_escape(const void *p, size_t n, size_t cap, char *out,
    size_t outsz);

#endif
