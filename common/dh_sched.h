/*
 * dh_sched: a pure schedule evaluator for the three SSM expression kinds,
 * shared by the gateway's maintenance windows and the agent's local scan
 * schedule:
 *
 *   cron(min hour dom month dow year) with an optional leading seconds
 *   field (AWS/Quartz syntax: , - * / everywhere, ? in day-of-month or
 *   day-of-week (exactly one of them), L, L-n, nW, LW in day-of-month, L,
 *   nL, d#k in day-of-week, JAN-DEC and SUN-SAT names, years 1970-2199),
 *   rate(n minute|minutes|hour|hours|day|days) (singular unit iff n = 1)
 *   and at(YYYY-MM-DDTHH:MM:SS) -- answering "next fire time after t" in
 *   an IANA time zone.
 *
 * Time-zone approach: the system zoneinfo through glibc.  While
 * evaluating in a named zone, TZ is set to the zone name (validated against
 * /usr/share/zoneinfo, ".." refused), tzset() runs and localtime_r gives
 * wall time and UTC offset; the previous TZ is restored before returning.
 * With no zone (NULL or "") the offset is 0 and TZ is never touched.
 * Local -> UTC is computed without mktime: the candidate offsets in force a
 * day before, at, and a day after the wall time are tried and the earliest
 * instant whose wall time matches wins.  So a wall time repeated when
 * clocks go back fires once (its first occurrence); a wall time skipped
 * when clocks go forward fires at the same distance after the gap (02:30
 * in a 02:00->03:00 jump fires at 03:30).  TZ is process-global: with a
 * named zone call dh_sched_next only from one thread (an event loop) of a
 * process whose other threads do not read the environment or local time
 * meanwhile.
 *
 * rate() fires at anchor + k * period (k >= 1), the anchor being chosen by
 * the caller (a window's StartDate or creation time, the agent's start);
 * at() names a wall time in the given zone (UTC when none) and fires once.
 *
 * Ownership: schedules are plain values (no pointers, copyable); strings
 * passed in are borrowed for the call.
 */
#ifndef DH_SCHED_H
#define DH_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"

#define DH_SCHED_EXPR_MAX 256
#define DH_SCHED_TZ_MAX 64
#define DH_SCHED_YEAR_MIN 1970
#define DH_SCHED_YEAR_MAX 2199

enum dh_sched_kind {
	DH_SCHED_CRON = 1,
	DH_SCHED_RATE,
	DH_SCHED_AT
};

/* A parsed cron expression: bit i set = value i allowed. */
struct dh_sched_cron {
	uint64_t sec;          /* 0..59 (bit 0 only when no seconds field) */
	uint64_t min;          /* 0..59 */
	uint32_t hour;         /* 0..23 */
	uint32_t dom;          /* 1..31 */
	uint16_t month;        /* 1..12 */
	uint8_t dow;           /* 1..7 = SUN..SAT */
	uint64_t year[4];      /* bit (y - 1970) */
	int dom_any;           /* day-of-month is '?' */
	int dow_any;           /* day-of-week is '?' */
	int dom_last;          /* L or L-n: last day minus dom_last_off */
	int dom_last_off;
	int dom_weekday;       /* nW: nearest weekday to dom_weekday (1..31) */
	int dom_last_weekday;  /* LW */
	int dow_last;          /* nL: last such weekday of the month (1..7) */
	int dow_nth_day;       /* d#k: weekday d (1..7) ... */
	int dow_nth;           /* ... k-th (1..5) of the month */
};

struct dh_sched {
	enum dh_sched_kind kind;
	struct dh_sched_cron cron;
	int64_t rate_s;        /* rate period in seconds */
	int at_y, at_mo, at_d, at_h, at_mi, at_s;  /* at() wall time */
};

/* Parse a schedule expression (cron/rate/at, at most DH_SCHED_EXPR_MAX
 * characters) into *out; DH_E_FORMAT with the reason in err. */
int dh_sched_parse(const char *expr, struct dh_sched *out,
    struct dh_err *err);

/* 1 when tz is "" / NULL (UTC) or names a zone file under
 * /usr/share/zoneinfo (no "..", [A-Za-z0-9_+-/] only), else 0. */
int dh_sched_tz_valid(const char *tz);

/* The first fire time strictly after `after` (epoch seconds) into *next.
 * tz: IANA zone (NULL or "" = UTC); anchor: rate() origin (epoch seconds).
 * DH_E_NOTFOUND when the schedule never fires again (at() in the past,
 * cron beyond 2199); DH_E_ARG for an unknown zone. */
int dh_sched_next(const struct dh_sched *s, const char *tz, int64_t anchor,
    int64_t after, int64_t *next, struct dh_err *err);

#endif
