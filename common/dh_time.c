/*
 * dh_time: clocks and AWS timestamp formats (see dh_time.h).
 */
#include "dh_time.h"
#include "dh_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t
dh_time_now_ms(void)
{
	struct timespec ts;
	const char *fake = getenv("DH_FAKE_TIME");

	if (fake != NULL && *fake != '\0')
		return (int64_t)strtoll(fake, NULL, 10) * 1000;
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

void
dh_time_amz(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void
dh_time_iso(time_t t, char out[21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

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
make_time(int y, int mo, int d, int h, int mi, int se, time_t *t)
{
	struct tm tm;

	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || se > 60)
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
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (strcmp(s + i, "Z") != 0 && strcmp(s + i, "+00:00") != 0 &&
	    !(n - i == 5 && s[i] == '+' && digits(s + i + 1, 4, &dummy) == 0 &&
	    dummy == 0))
		return DH_E_FORMAT;
	return make_time(y, mo, d, h, mi, se, t);
}
