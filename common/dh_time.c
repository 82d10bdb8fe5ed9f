/*
 * dh_time: clocks and AWS timestamp formats (see dh_time.h).  Parsers are
 * strict: fixed widths, real calendar dates (no 31 February, no leap
 * seconds), years 1970-9999.  Formatters always write the full fixed-width
 * text, clamping times outside years 0-9999.
 */
#include "dh_time.h"
#include "dh_err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t
dh_time_now_ms(void)
{
	struct timespec ts;
	const char *fake = getenv("DH_FAKE_TIME");
	char *end = NULL;
	long long v;

	/* only a plain non-negative decimal number of seconds counts */
	if (fake != NULL && *fake >= '0' && *fake <= '9') {
		errno = 0;
		v = strtoll(fake, &end, 10);
		if (errno == 0 && *end == '\0' && v <= INT64_MAX / 1000)
			return (int64_t)v * 1000;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

time_t
dh_time_now(void)
{
	return (time_t)(dh_time_now_ms() / 1000);
}

int64_t
dh_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Broken-down UTC time of t, clamped to years 0000-9999. */
static void
utc_fields(time_t t, struct tm *tm)
{
	if (gmtime_r(&t, tm) == NULL || tm->tm_year > 9999 - 1900) {
		memset(tm, 0, sizeof(*tm));
		if (t < 0) {
			tm->tm_year = -1900;
			tm->tm_mday = 1;
			return;
		}
		tm->tm_year = 9999 - 1900;
		tm->tm_mon = 11;
		tm->tm_mday = 31;
		tm->tm_hour = 23;
		tm->tm_min = 59;
		tm->tm_sec = 59;
	} else if (tm->tm_year < -1900) {
		memset(tm, 0, sizeof(*tm));
		tm->tm_year = -1900;
		tm->tm_mday = 1;
	}
}

/* Write v (0 <= v < 10^w) as exactly w decimal digits at p. */
static void
put_digits(char *p, int v, int w)
{
	while (w-- > 0) {
		p[w] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Format t through a pattern where Y, M, D, h, m, s are digit slots. */
static void
format_time(time_t t, const char *pat, char *out)
{
	struct tm tm;
	size_t i;

	utc_fields(t, &tm);
	for (i = 0; pat[i] != '\0'; i++) {
		switch (pat[i]) {
		case 'Y':
			put_digits(out + i, tm.tm_year + 1900, 4);
			i += 3;
			break;
		case 'M':
			put_digits(out + i, tm.tm_mon + 1, 2);
			i++;
			break;
		case 'D':
			put_digits(out + i, tm.tm_mday, 2);
			i++;
			break;
		case 'h':
			put_digits(out + i, tm.tm_hour, 2);
			i++;
			break;
		case 'm':
			put_digits(out + i, tm.tm_min, 2);
			i++;
			break;
		case 's':
			put_digits(out + i, tm.tm_sec, 2);
			i++;
			break;
		default:
			out[i] = pat[i];
		}
	}
	out[i] = '\0';
}

void
dh_time_amz(time_t t, char out[17])
{
	format_time(t, "YYYYMMDDThhmmssZ", out);
}

void
dh_time_iso(time_t t, char out[21])
{
	format_time(t, "YYYY-MM-DDThh:mm:ssZ", out);
}

/* Parse exactly n decimal digits at s into *v; -1 on any other byte. */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int
days_in_month(int y, int mo)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[mo - 1];
}

static int
make_time(int y, int mo, int d, int h, int mi, int se, time_t *t)
{
	struct tm tm;

	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
		return DH_E_FORMAT;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*t = timegm(&tm);
	return DH_OK;
}

int
dh_time_parse_amz(const char *s, time_t *t)
{
	int y, mo, d, h, mi, se;

	if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return DH_E_FORMAT;
	if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) ||
	    digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) ||
	    digits(s + 13, 2, &se))
		return DH_E_FORMAT;
	return make_time(y, mo, d, h, mi, se, t);
}

int
dh_time_parse_iso(const char *s, time_t *t)
{
	int y, mo, d, h, mi, se, dummy;
	size_t n = strlen(s), i = 19;

	if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' &&
	    s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return DH_E_FORMAT;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
	    digits(s + 17, 2, &se))
		return DH_E_FORMAT;
	if (s[i] == '.') {
		i++;
		if (s[i] < '0' || s[i] > '9')
			return DH_E_FORMAT;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (strcmp(s + i, "Z") != 0 && strcmp(s + i, "+00:00") != 0 &&
	    !(n - i == 5 && s[i] == '+' && digits(s + i + 1, 4, &dummy) == 0 &&
	    dummy == 0))
		return DH_E_FORMAT;
	return make_time(y, mo, d, h, mi, se, t);
}
