/*
 * dh_log: leveled, escaped, secret-masking diagnostics (see dh_log.h).
 * A line is formatted in full (up to LOG_MSG_MAX bytes), every byte inside
 * an occurrence of a registered secret is marked (so overlapping secrets and
 * secrets containing "****" are handled), each marked run becomes "****",
 * and only then is the text escaped and cut to LOG_LINE_MAX.  A message
 * longer than LOG_MSG_MAX is cut before masking; its tail is masked when it
 * begins a secret, so no prefix of a secret survives the cut.
 */
#define _GNU_SOURCE /* memmem */

#include "dh_log.h"
#include "dh_err.h"
#include "dh_hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_MSG_MAX (64 * 1024) /* longest message masked in full */
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
	size_t i, n = strlen(secret);
	int r = DH_OK;

	if (n < 4)
		return DH_E_ARG;
	pthread_mutex_lock(&log_mu);
	for (i = 0; i < nsecrets; i++) {
		if (strcmp(secrets[i], secret) == 0) {
			pthread_mutex_unlock(&log_mu);
			return DH_OK;
		}
	}
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

/* One escaped unit for byte c into u; returns its length (1, 2 or 4). */
static size_t
escape_unit(unsigned char c, char u[4])
{
	static const char digits[] = "0123456789abcdef";

	if (c >= 0x20 && c < 0x7f && c != '\\') {
		u[0] = (char)c;
		return 1;
	}
	u[0] = '\\';
	switch (c) {
	case '\n':
		u[1] = 'n';
		return 2;
	case '\r':
		u[1] = 'r';
		return 2;
	case '\t':
		u[1] = 't';
		return 2;
	case '\\':
		u[1] = '\\';
		return 2;
	default:
		u[1] = 'x';
		u[2] = digits[c >> 4];
		u[3] = digits[c & 15];
		return 4;
	}
}

char *
dh_log_escape(const void *p, size_t n, size_t cap, char *out, size_t outsz)
{
	const unsigned char *s = p;
	size_t i, o = 0, w, lim, starts[3] = { 0, 0, 0 }, ns = 0;
	char u[4];

	if (outsz == 0)
		return out;
	lim = n < cap ? n : cap;
	for (i = 0; i < lim; i++) {
		w = escape_unit(s[i], u);
		if (o + w + 1 > outsz)
			break;
		/* remember where the last three units start, to make room
		 * for "..." without splitting an escape */
		starts[0] = starts[1];
		starts[1] = starts[2];
		starts[2] = o;
		if (ns < 3)
			ns++;
		memcpy(out + o, u, w);
		o += w;
	}
	if (i < n) {
		while (o + 4 > outsz && ns > 0) {
			o = starts[2];
			starts[2] = starts[1];
			starts[1] = starts[0];
			ns--;
		}
		if (o + 4 <= outsz) {
			memcpy(out + o, "...", 3);
			o += 3;
		}
	}
	out[o] = '\0';
	return out;
}

/* Mark in cover[] every byte of m[0..n) inside an occurrence of a
 * registered secret; when the message was cut (truncated), also the longest
 * tail that starts a secret.  Caller holds log_mu. */
static void
cover_secrets(const char *m, size_t n, int truncated, unsigned char *cover)
{
	const char *q, *hit;
	size_t i, k, sl;

	memset(cover, 0, n);
	for (i = 0; i < nsecrets; i++) {
		sl = strlen(secrets[i]);
		for (q = m; (size_t)(m + n - q) >= sl; q = hit + 1) {
			hit = memmem(q, (size_t)(m + n - q), secrets[i], sl);
			if (hit == NULL)
				break;
			memset(cover + (hit - m), 1, sl);
		}
		if (!truncated)
			continue;
		for (k = sl - 1 < n ? sl - 1 : n; k > 0; k--) {
			if (memcmp(m + n - k, secrets[i], k) == 0) {
				memset(cover + n - k, 1, k);
				break;
			}
		}
	}
}

/* Copy m[0..n) to out (room for n + 5 bytes) with each run of covered
 * bytes replaced by "****"; returns the new length. */
static size_t
apply_cover(const char *m, size_t n, const unsigned char *cover, char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (!cover[i]) {
			out[o++] = m[i++];
			continue;
		}
		while (i < n && cover[i])
			i++;
		memcpy(out + o, "****", 4);
		o += 4;
	}
	out[o] = '\0';
	return o;
}

/* 1 when JOURNAL_STREAM names fd's device and inode ("dev:ino"), i.e. the
 * output really is the journal and not a terminal of a child process that
 * inherited the variable. */
static int
is_journal(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char *end = NULL;
	struct stat st;

	if (js == NULL || *js < '0' || *js > '9')
		return 0;
	errno = 0;
	dev = strtoull(js, &end, 10);
	if (errno != 0 || end == NULL || *end != ':' || end[1] < '0' ||
	    end[1] > '9')
		return 0;
	ino = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || fstat(fd, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void
dh_log(enum dh_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "error", "warn", "notice", "info",
		"debug",
	};
	char sbuf[LOG_LINE_MAX], smask[LOG_LINE_MAX + 8];
	unsigned char scover[LOG_LINE_MAX];
	char esc[LOG_LINE_MAX], line[LOG_LINE_MAX + 128], ts[32];
	char *msg = sbuf, *masked = smask, *heap = NULL;
	unsigned char *cover = scover;
	size_t len, heapsz = 0;
	struct tm tm;
	time_t now;
	va_list ap;
	int n, truncated = 0, prio = (int)lvl;

	if (prio < 0)
		prio = 0;
	if (prio > DH_LOG_DEBUG)
		prio = DH_LOG_DEBUG;
	if (prio > (int)log_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(sbuf, sizeof(sbuf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	len = (size_t)n;
	if (len >= sizeof(sbuf) && len < LOG_MSG_MAX) {
		/* format again in full so masking sees every secret whole */
		heapsz = 3 * len + 16;
		heap = malloc(heapsz);
		if (heap != NULL) {
			va_start(ap, fmt);
			n = vsnprintf(heap, len + 1, fmt, ap);
			va_end(ap);
			msg = heap;
			masked = heap + len + 1;
			cover = (unsigned char *)heap + 2 * len + 8;
		}
	}
	if (n < 0)
		goto out;
	if (msg == sbuf && len >= sizeof(sbuf)) {
		len = sizeof(sbuf) - 1;
		truncated = 1;
	}
	/* %c with 0 or "%s" of binary data end the line at the first NUL */
	len = strnlen(msg, len);
	pthread_mutex_lock(&log_mu);
	cover_secrets(msg, len, truncated, cover);
	pthread_mutex_unlock(&log_mu);
	len = apply_cover(msg, len, cover, masked);
	dh_log_escape(masked, len, LOG_LINE_MAX, esc, sizeof(esc));
	len = strlen(esc);
	if (truncated && (len < 3 || strcmp(esc + len - 3, "...") != 0) &&
	    len + 3 < sizeof(esc))
		memcpy(esc + len, "...", 4);
	if (is_journal(log_fd)) {
		n = snprintf(line, sizeof(line), "<%d>%s: %s\n", prio,
		    log_ident, esc);
	} else {
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		n = snprintf(line, sizeof(line), "%s %s[%d] %s: %s\n", ts,
		    log_ident, (int)getpid(), names[prio], esc);
	}
	if (n < 0)
		goto out;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	write_all(log_fd, line, (size_t)n);
out:
	dh_wipe(sbuf, sizeof(sbuf));
	dh_wipe(smask, sizeof(smask));
	if (heap != NULL) {
		dh_wipe(heap, heapsz);
		free(heap);
	}
}
