/*
 * dh_log: leveled, escaped, secret-masking diagnostics (see dh_log.h).
 */
#include "dh_log.h"
#include "dh_err.h"
#include "dh_hash.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define SECRETS_MAX 32

static enum dh_log_level log_level = DH_LOG_INFO;
static const char *log_ident = "deckhand";
static int log_fd = 2;
static char *secrets[SECRETS_MAX];
static size_t nsecrets;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void
dh_log_set_level(enum dh_log_level lvl)
{
	log_level = lvl;
}

int
dh_log_parse_level(const char *s, enum dh_log_level *lvl)
{
	static const struct {
		const char *name;
		enum dh_log_level lvl;
	} names[] = {
		{ "error", DH_LOG_ERROR }, { "warn", DH_LOG_WARN },
		{ "info", DH_LOG_INFO }, { "debug", DH_LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*lvl = names[i].lvl;
			return DH_OK;
		}
	}
	return DH_E_ARG;
}

void
dh_log_set_ident(const char *ident)
{
	log_ident = ident;
}

void
dh_log_set_fd(int fd)
{
	log_fd = fd;
}

int
dh_log_secret_add(const char *secret)
{
	size_t n = strlen(secret);
	int r = DH_OK;

	if (n < 4)
		return DH_E_ARG;
	pthread_mutex_lock(&log_mu);
	if (nsecrets == SECRETS_MAX) {
		/* oldest secrets are the likeliest to be stale; recycle slot 0 */
		dh_wipe(secrets[0], strlen(secrets[0]));
		free(secrets[0]);
		memmove(secrets, secrets + 1, (SECRETS_MAX - 1) * sizeof(char *));
		nsecrets--;
	}
	secrets[nsecrets] = strdup(secret);
	if (secrets[nsecrets] == NULL)
		r = DH_E_NOMEM;
	else
		nsecrets++;
	pthread_mutex_unlock(&log_mu);
	return r;
}

void
dh_log_secret_clear(void)
{
	size_t i;

	pthread_mutex_lock(&log_mu);
	for (i = 0; i < nsecrets; i++) {
		dh_wipe(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
		secrets[i] = NULL;
	}
	nsecrets = 0;
	pthread_mutex_unlock(&log_mu);
}

char *
dh_log_escape(const void *p, size_t n, size_t cap, char *out, size_t outsz)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t i, o = 0;
	unsigned char c;

	if (outsz == 0)
		return out;
	for (i = 0; i < n && i < cap; i++) {
		c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)c;
			continue;
		}
		if (o + 4 >= outsz)
			break;
		out[o++] = '\\';
		if (c == '\n') {
			out[o++] = 'n';
		} else if (c == '\r') {
			out[o++] = 'r';
		} else if (c == '\t') {
			out[o++] = 't';
		} else if (c == '\\') {
			out[o++] = '\\';
		} else {
			out[o++] = 'x';
			out[o++] = digits[c >> 4];
			out[o++] = digits[c & 15];
		}
	}
	if (i < n && o + 3 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Replace every registered secret inside line with "****" (in place). */
static void
mask_secrets(char *line)
{
	size_t i, sl;
	char *hit;

	for (i = 0; i < nsecrets; i++) {
		sl = strlen(secrets[i]);
		while ((hit = strstr(line, secrets[i])) != NULL) {
			memcpy(hit, "****", 4);
			memmove(hit + 4, hit + sl, strlen(hit + sl) + 1);
		}
	}
}

void
dh_log(enum dh_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {
		"", "", "", "error", "warn", "", "info", "debug",
	};
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 128], esc[LOG_LINE_MAX];
	char ts[32];
	struct tm tm;
	time_t now;
	va_list ap;
	int n;

	if (lvl > log_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	pthread_mutex_lock(&log_mu);
	mask_secrets(msg);
	pthread_mutex_unlock(&log_mu);
	dh_log_escape(msg, strlen(msg), sizeof(msg), esc, sizeof(esc));
	if (getenv("JOURNAL_STREAM") != NULL) {
		n = snprintf(line, sizeof(line), "<%d>%s: %s\n", (int)lvl,
		    log_ident, esc);
	} else {
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		n = snprintf(line, sizeof(line), "%s %s[%d] %s: %s\n", ts,
		    log_ident, (int)getpid(), names[lvl], esc);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	if (write(log_fd, line, (size_t)n) < 0)
		return;
}
