/*
 * dh_sched: cron/rate/at schedule parsing and next-fire evaluation in an
 * IANA time zone (see dh_sched.h).  Civil-date arithmetic is done on day
 * numbers (days since 1970-01-01, proleptic Gregorian), so only the UTC
 * offset lookup touches the C library's time-zone code.
 */
#include "dh_sched.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define ZONEINFO "/usr/share/zoneinfo/"

/* ------------------------------------------------------------ calendar */

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp, yy;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* 1..7 = SUN..SAT of a day number (1970-01-01 was a Thursday). */
static int
weekday(int64_t day)
{
	int64_t w = (day + 4) % 7;

	return (int)(w < 0 ? w + 7 : w) + 1;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ------------------------------------------------------------- parsing */

static const char *const month_names[] = { "JAN", "FEB", "MAR", "APR",
	"MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL };
static const char *const dow_names[] = { "SUN", "MON", "TUE", "WED", "THU",
	"FRI", "SAT", NULL };

struct field_spec {
	const char *name;
	int lo, hi;
	const char *const *names;  /* names[i] means lo + i */
};

static const struct field_spec f_sec = { "seconds", 0, 59, NULL };
static const struct field_spec f_min = { "minutes", 0, 59, NULL };
static const struct field_spec f_hour = { "hours", 0, 23, NULL };
static const struct field_spec f_dom = { "day-of-month", 1, 31, NULL };
static const struct field_spec f_month = { "month", 1, 12, month_names };
static const struct field_spec f_dow = { "day-of-week", 1, 7, dow_names };
static const struct field_spec f_year = { "year", DH_SCHED_YEAR_MIN,
	DH_SCHED_YEAR_MAX, NULL };

static void
bit_set(uint64_t bits[4], int i)
{
	bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static int
bit_get(const uint64_t bits[4], int i)
{
	return (int)((bits[i / 64] >> (i % 64)) & 1);
}

/* Parse a number or a name at *p (advancing it); -1 when neither. */
static int
parse_value(const char **p, const struct field_spec *f)
{
	const char *s = *p;
	long v = 0;
	size_t i, k;

	if (isdigit((unsigned char)*s)) {
		for (k = 0; isdigit((unsigned char)s[k]); k++) {
			if (k >= 4)
				return -1;
			v = v * 10 + (s[k] - '0');
		}
		*p = s + k;
		return (int)v;
	}
	if (f->names == NULL)
		return -1;
	for (i = 0; f->names[i] != NULL; i++) {
		if (strncasecmp(s, f->names[i], 3) == 0 &&
		    !isalpha((unsigned char)s[3])) {
			*p = s + 3;
			return f->lo + (int)i;
		}
	}
	return -1;
}

/* One list item: '*' | v | a-b, optionally '/step'; bits index v - lo. */
static int
parse_item(const char *s, const char *end, const struct field_spec *f,
    uint64_t bits[4], struct dh_err *err)
{
	const char *p = s;
	int a, b, step = 1, span, i, v, ranged = 0;

	if (*p == '*') {
		a = f->lo;
		b = f->hi;
		p++;
	} else {
		a = parse_value(&p, f);
		if (a < 0)
			goto bad;
		b = a;
		if (p < end && *p == '-') {
			ranged = 1;
			p++;
			b = parse_value(&p, f);
			if (b < 0)
				goto bad;
		}
		if (a < f->lo || a > f->hi || b < f->lo || b > f->hi)
			return dh_err_set(err, DH_E_FORMAT, "%s value out of"
			    " range %d-%d", f->name, f->lo, f->hi);
	}
	if (p < end && *p == '/') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		step = parse_value(&p, &f_sec);
		if (step < 1 || step > f->hi - f->lo + 1)
			return dh_err_set(err, DH_E_FORMAT, "%s step out of"
			    " range", f->name);
		if (s[0] != '*' && !ranged)
			b = f->hi;
	}
	if (p != end)
		goto bad;
	span = f->hi - f->lo + 1;
	/* a > b wraps around (FRI-MON, 22-2). */
	for (i = 0, v = a;; i++) {
		if (i % step == 0)
			bit_set(bits, v - f->lo);
		if (v == b)
			break;
		v = v == f->hi ? f->lo : v + 1;
		if (i > span)
			break;
	}
	return DH_OK;
bad:
	return dh_err_set(err, DH_E_FORMAT, "malformed %s field", f->name);
}

static int
parse_list(const char *s, const struct field_spec *f, uint64_t bits[4],
    struct dh_err *err)
{
	const char *comma;
	int r;

	memset(bits, 0, 4 * sizeof(uint64_t));
	if (*s == '\0')
		return dh_err_set(err, DH_E_FORMAT, "empty %s field", f->name);
	for (;;) {
		comma = strchr(s, ',');
		if (comma == s || (comma != NULL && comma[1] == '\0'))
			return dh_err_set(err, DH_E_FORMAT, "malformed %s field",
			    f->name);
		r = parse_item(s, comma != NULL ? comma : s + strlen(s), f,
		    bits, err);
		if (r != DH_OK || comma == NULL)
			return r;
		s = comma + 1;
	}
}

static int
parse_int_exact(const char *s, int lo, int hi, int *out)
{
	long v = 0;
	size_t k;

	if (*s == '\0')
		return -1;
	for (k = 0; s[k] != '\0'; k++) {
		if (!isdigit((unsigned char)s[k]) || k >= 4)
			return -1;
		v = v * 10 + (s[k] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int
parse_dom(const char *s, struct dh_sched_cron *c, struct dh_err *err)
{
	uint64_t bits[4];
	size_t n = strlen(s);
	char num[8];
	int r;

	if (strcmp(s, "?") == 0) {
		c->dom_any = 1;
		return DH_OK;
	}
	if (strcmp(s, "L") == 0 || strcmp(s, "l") == 0) {
		c->dom_last = 1;
		return DH_OK;
	}
	if ((s[0] == 'L' || s[0] == 'l') && s[1] == '-') {
		if (parse_int_exact(s + 2, 1, 30, &c->dom_last_off) != 0)
			return dh_err_set(err, DH_E_FORMAT,
			    "malformed day-of-month L-n");
		c->dom_last = 1;
		return DH_OK;
	}
	if (strcasecmp(s, "LW") == 0) {
		c->dom_last_weekday = 1;
		return DH_OK;
	}
	if (n >= 2 && n <= 3 && (s[n - 1] == 'W' || s[n - 1] == 'w')) {
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (parse_int_exact(num, 1, 31, &c->dom_weekday) != 0)
			return dh_err_set(err, DH_E_FORMAT,
			    "malformed day-of-month nW");
		return DH_OK;
	}
	r = parse_list(s, &f_dom, bits, err);
	c->dom = (uint32_t)(bits[0] << 1);
	return r;
}

static int
parse_dow(const char *s, struct dh_sched_cron *c, struct dh_err *err)
{
	uint64_t bits[4];
	const char *p = s, *hash;
	size_t n = strlen(s);
	char tmp[8];
	int v, r;

	if (strcmp(s, "?") == 0) {
		c->dow_any = 1;
		return DH_OK;
	}
	if (strcmp(s, "L") == 0 || strcmp(s, "l") == 0) {
		c->dow = (uint8_t)(1u << 7);
		return DH_OK;
	}
	hash = strchr(s, '#');
	if (hash != NULL) {
		v = parse_value(&p, &f_dow);
		if (v < 1 || v > 7 || p != hash ||
		    parse_int_exact(hash + 1, 1, 5, &c->dow_nth) != 0)
			return dh_err_set(err, DH_E_FORMAT,
			    "malformed day-of-week d#k");
		c->dow_nth_day = v;
		return DH_OK;
	}
	if (n >= 2 && n <= 4 && (s[n - 1] == 'L' || s[n - 1] == 'l')) {
		memcpy(tmp, s, n - 1);
		tmp[n - 1] = '\0';
		p = tmp;
		v = parse_value(&p, &f_dow);
		if (v < 1 || v > 7 || *p != '\0')
			return dh_err_set(err, DH_E_FORMAT,
			    "malformed day-of-week nL");
		c->dow_last = v;
		return DH_OK;
	}
	r = parse_list(s, &f_dow, bits, err);
	c->dow = (uint8_t)(bits[0] << 1);
	return r;
}

static int
parse_cron(const char *body, struct dh_sched_cron *c, struct dh_err *err)
{
	char buf[DH_SCHED_EXPR_MAX + 1], *fields[8], *p;
	uint64_t bits[4];
	size_t nf = 0;
	int r, i;

	memset(c, 0, sizeof(*c));
	snprintf(buf, sizeof(buf), "%s", body);
	p = buf;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (nf == 8)
			return dh_err_set(err, DH_E_FORMAT,
			    "cron takes 6 or 7 fields");
		fields[nf++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
	if (nf != 6 && nf != 7)
		return dh_err_set(err, DH_E_FORMAT, "cron takes 6 or 7 fields,"
		    " got %zu", nf);
	i = 0;
	if (nf == 7) {
		r = parse_list(fields[i++], &f_sec, bits, err);
		if (r != DH_OK)
			return r;
		c->sec = bits[0];
	} else
		c->sec = 1;
	r = parse_list(fields[i++], &f_min, bits, err);
	if (r != DH_OK)
		return r;
	c->min = bits[0];
	r = parse_list(fields[i++], &f_hour, bits, err);
	if (r != DH_OK)
		return r;
	c->hour = (uint32_t)bits[0];
	r = parse_dom(fields[i++], c, err);
	if (r != DH_OK)
		return r;
	r = parse_list(fields[i++], &f_month, bits, err);
	if (r != DH_OK)
		return r;
	c->month = (uint16_t)(bits[0] << 1);
	r = parse_dow(fields[i++], c, err);
	if (r != DH_OK)
		return r;
	r = parse_list(fields[i], &f_year, c->year, err);
	if (r != DH_OK)
		return r;
	if (c->dom_any == c->dow_any)
		return dh_err_set(err, DH_E_FORMAT, "exactly one of"
		    " day-of-month and day-of-week must be '?'");
	return DH_OK;
}

static int
parse_rate(const char *body, struct dh_sched *s, struct dh_err *err)
{
	static const struct {
		const char *one, *many;
		int64_t secs;
	} units[] = {
		{ "minute", "minutes", 60 },
		{ "hour", "hours", 3600 },
		{ "day", "days", 86400 },
	};
	const char *p = body;
	int64_t n = 0;
	size_t i, k = 0;

	while (isdigit((unsigned char)p[k])) {
		if (k >= 6)
			return dh_err_set(err, DH_E_FORMAT, "rate value too"
			    " large");
		n = n * 10 + (p[k] - '0');
		k++;
	}
	if (k == 0 || n < 1 || p[k] != ' ')
		return dh_err_set(err, DH_E_FORMAT, "rate needs a positive"
		    " number and a unit");
	p += k + 1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, n == 1 ? units[i].one : units[i].many) == 0) {
			s->rate_s = n * units[i].secs;
			return DH_OK;
		}
	}
	return dh_err_set(err, DH_E_FORMAT, "rate unit must be %s",
	    n == 1 ? "minute, hour or day" : "minutes, hours or days");
}

static int
parse_at(const char *body, struct dh_sched *s, struct dh_err *err)
{
	int y, mo, d, h, mi, sec;
	char tail;

	if (strlen(body) != 19 || body[4] != '-' || body[7] != '-' ||
	    body[10] != 'T' || body[13] != ':' || body[16] != ':' ||
	    sscanf(body, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi,
	    &sec, &tail) != 6)
		return dh_err_set(err, DH_E_FORMAT,
		    "at() takes YYYY-MM-DDTHH:MM:SS");
	if (y < DH_SCHED_YEAR_MIN || y > DH_SCHED_YEAR_MAX || mo < 1 || mo > 12 ||
	    d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 59 || h < 0 || mi < 0 || sec < 0)
		return dh_err_set(err, DH_E_FORMAT, "at() date out of range");
	s->at_y = y;
	s->at_mo = mo;
	s->at_d = d;
	s->at_h = h;
	s->at_mi = mi;
	s->at_s = sec;
	return DH_OK;
}

int
dh_sched_parse(const char *expr, struct dh_sched *out,
    struct dh_err *err)
{
	char body[DH_SCHED_EXPR_MAX + 1];
	size_t n, plen;
	const char *open;

	memset(out, 0, sizeof(*out));
	if (expr == NULL)
		return dh_err_set(err, DH_E_FORMAT, "empty schedule");
	n = strlen(expr);
	if (n == 0 || n > DH_SCHED_EXPR_MAX)
		return dh_err_set(err, DH_E_FORMAT, "schedule must be 1-%d"
		    " characters", DH_SCHED_EXPR_MAX);
	open = strchr(expr, '(');
	if (open == NULL || expr[n - 1] != ')')
		return dh_err_set(err, DH_E_FORMAT, "schedule must be cron(...),"
		    " rate(...) or at(...)");
	plen = (size_t)(open - expr);
	memcpy(body, open + 1, n - plen - 2);
	body[n - plen - 2] = '\0';
	if (strchr(body, '(') != NULL || strchr(body, ')') != NULL)
		return dh_err_set(err, DH_E_FORMAT, "nested parentheses");
	if (plen == 4 && strncmp(expr, "cron", 4) == 0) {
		out->kind = DH_SCHED_CRON;
		return parse_cron(body, &out->cron, err);
	}
	if (plen == 4 && strncmp(expr, "rate", 4) == 0) {
		out->kind = DH_SCHED_RATE;
		return parse_rate(body, out, err);
	}
	if (plen == 2 && strncmp(expr, "at", 2) == 0) {
		out->kind = DH_SCHED_AT;
		return parse_at(body, out, err);
	}
	return dh_err_set(err, DH_E_FORMAT, "schedule must be cron(...),"
	    " rate(...) or at(...)");
}

/* ---------------------------------------------------------- time zones */

int
dh_sched_tz_valid(const char *tz)
{
	char path[sizeof(ZONEINFO) + DH_SCHED_TZ_MAX];
	struct stat sb;
	size_t i, n;

	if (tz == NULL || tz[0] == '\0')
		return 1;
	n = strlen(tz);
	if (n > DH_SCHED_TZ_MAX || tz[0] == '/' || strstr(tz, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)tz[i]) && strchr("_+-/", tz[i]) ==
		    NULL)
			return 0;
	snprintf(path, sizeof(path), "%s%s", ZONEINFO, tz);
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The TZ in force before tz_enter; utc = no zone named, TZ untouched. */
struct tz_save {
	char old[DH_SCHED_TZ_MAX + 2];
	int had;
	int utc;
};

static int
tz_enter(const char *tz, struct tz_save *sv)
{
	char want[DH_SCHED_TZ_MAX + 2];
	const char *cur = getenv("TZ");

	sv->utc = tz == NULL || tz[0] == '\0';
	if (sv->utc)
		return DH_OK;
	if (!dh_sched_tz_valid(tz))
		return DH_E_ARG;
	sv->had = cur != NULL && strlen(cur) < sizeof(sv->old);
	if (sv->had)
		snprintf(sv->old, sizeof(sv->old), "%s", cur);
	snprintf(want, sizeof(want), ":%s", tz);
	if (setenv("TZ", want, 1) != 0)
		return DH_E_NOMEM;
	tzset();
	return DH_OK;
}

static void
tz_leave(const struct tz_save *sv)
{
	if (sv->utc)
		return;
	if (sv->had)
		(void)setenv("TZ", sv->old, 1);
	else
		(void)unsetenv("TZ");
	tzset();
}

/* UTC offset in force at instant u: 0 in UTC, else from localtime_r. */
static int64_t
gmtoff(int utc, int64_t u)
{
	time_t t = (time_t)u;
	struct tm tm;

	if (utc)
		return 0;
	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

/* Wall seconds (days*86400 + time of day, local) -> UTC instant. */
static int64_t
to_utc(int utc, int64_t w)
{
	int64_t offs[3], best = INT64_MAX, u;
	size_t i;

	offs[0] = gmtoff(utc, w - 86400);
	offs[1] = gmtoff(utc, w);
	offs[2] = gmtoff(utc, w + 86400);
	for (i = 0; i < 3; i++) {
		u = w - offs[i];
		if (u + gmtoff(utc, u) == w && u < best)
			best = u;
	}
	if (best != INT64_MAX)
		return best;
	/* Skipped by a forward jump: keep the offset in force before it. */
	return w - offs[0];
}

/* --------------------------------------------------------- evaluation */

static int
day_matches(const struct dh_sched_cron *c, int64_t day, int y, int m, int d)
{
	int md = days_in_month(y, m), wd = weekday(day), t, twd;

	if (c->dom_any) {
		if (c->dow_last)
			return wd == c->dow_last && d + 7 > md;
		if (c->dow_nth > 0)
			return wd == c->dow_nth_day &&
			    (d - 1) / 7 + 1 == c->dow_nth;
		return (c->dow >> wd) & 1;
	}
	if (c->dom_last)
		return d == md - c->dom_last_off;
	if (c->dom_last_weekday) {
		t = md;
		twd = weekday(day + (t - d));
		if (twd == 7)
			t -= 1;
		else if (twd == 1)
			t -= 2;
		return d == t;
	}
	if (c->dom_weekday > 0) {
		t = c->dom_weekday;
		if (t > md)
			return 0;
		twd = weekday(day + (t - d));
		if (twd == 7)
			t = t == 1 ? t + 2 : t - 1;
		else if (twd == 1)
			t = t == md ? t - 2 : t + 1;
		return d == t;
	}
	return (c->dom >> d) & 1;
}

static int
cron_next(const struct dh_sched_cron *c, int utc, int64_t after,
    int64_t *next)
{
	int64_t wall0 = after + 1 + gmtoff(utc, after + 1), day, w, u;
	int64_t last = days_from_civil(DH_SCHED_YEAR_MAX, 12, 31);
	int y, m, d, h, mi, s;

	for (day = floor_div(wall0, 86400) - 1; day <= last; day++) {
		civil_from_days(day, &y, &m, &d);
		if (y < DH_SCHED_YEAR_MIN || !bit_get(c->year, y -
		    DH_SCHED_YEAR_MIN)) {
			day = days_from_civil(y + 1, 1, 1) - 1;
			continue;
		}
		if (!((c->month >> m) & 1)) {
			day += days_in_month(y, m) - d;
			continue;
		}
		if (!day_matches(c, day, y, m, d))
			continue;
		for (h = 0; h < 24; h++) {
			if (!((c->hour >> h) & 1))
				continue;
			w = day * 86400 + h * 3600;
			if (w + 3600 < wall0 - 3 * 3600)
				continue;
			for (mi = 0; mi < 60; mi++) {
				if (!((c->min >> mi) & 1))
					continue;
				for (s = 0; s < 60; s++) {
					if (!((c->sec >> s) & 1))
						continue;
					u = to_utc(utc, w + mi * 60 + s);
					if (u > after) {
						*next = u;
						return DH_OK;
					}
				}
			}
		}
	}
	return DH_E_NOTFOUND;
}

int
dh_sched_next(const struct dh_sched *s, const char *tz, int64_t anchor,
    int64_t after, int64_t *next, struct dh_err *err)
{
	struct tz_save sv;
	int64_t k, u;
	int r;

	*next = 0;
	if (s->kind == DH_SCHED_RATE) {
		if (s->rate_s <= 0)
			return dh_err_set(err, DH_E_ARG, "bad rate");
		k = after < anchor ? 1 : (after - anchor) / s->rate_s + 1;
		*next = anchor + k * s->rate_s;
		return DH_OK;
	}
	r = tz_enter(tz, &sv);
	if (r != DH_OK)
		return dh_err_set(err, r, "unknown time zone %.64s",
		    tz != NULL ? tz : "");
	if (s->kind == DH_SCHED_AT) {
		u = to_utc(sv.utc, days_from_civil(s->at_y, s->at_mo, s->at_d) *
		    86400 + s->at_h * 3600 + s->at_mi * 60 + s->at_s);
		r = u > after ? DH_OK : DH_E_NOTFOUND;
		if (r == DH_OK)
			*next = u;
	} else if (s->kind == DH_SCHED_CRON)
		r = cron_next(&s->cron, sv.utc, after, next);
	else
		r = DH_E_ARG;
	tz_leave(&sv);
	if (r == DH_E_NOTFOUND)
		return dh_err_set(err, r, "the schedule does not fire again");
	if (r != DH_OK)
		return dh_err_set(err, r, "bad schedule");
	return DH_OK;
}
