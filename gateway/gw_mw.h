/*
 * gw_mw: maintenance windows.  Two layers:
 *
 * 1. A pure schedule evaluator for the three SSM expression kinds --
 *    cron(min hour dom month dow year) with an optional leading seconds
 *    field (AWS/Quartz syntax: , - * / everywhere, ? in day-of-month or
 *    day-of-week (exactly one of them), L, L-n, nW, LW in day-of-month, L,
 *    nL, d#k in day-of-week, JAN-DEC and SUN-SAT names, years 1970-2199),
 *    rate(n minute|minutes|hour|hours|day|days) (singular unit iff n = 1)
 *    and at(YYYY-MM-DDTHH:MM:SS) -- answering "next fire time after t" in
 *    an IANA time zone.
 *
 *    Time-zone approach: the system zoneinfo through glibc.  While
 *    evaluating, TZ is set to the zone name (validated against
 *    /usr/share/zoneinfo, ".." refused), tzset() runs and localtime_r gives
 *    wall time and UTC offset; the previous TZ is restored before
 *    returning.  Local -> UTC is computed without mktime: the candidate
 *    offsets in force a day before, at, and a day after the wall time are
 *    tried and the earliest instant whose wall time matches wins.  So a
 *    wall time repeated when clocks go back fires once (its first
 *    occurrence); a wall time skipped when clocks go forward fires at the
 *    same distance after the gap (02:30 in a 02:00->03:00 jump fires at
 *    03:30).  TZ is process-global: call these only from one thread (the
 *    gateway's event loop).
 *
 *    rate() fires at anchor + k * period (k >= 1), the anchor being the
 *    window's StartDate or its creation time; at() names a wall time in
 *    the window's ScheduleTimezone (UTC when none) and fires once.
 *
 * 2. The SSM maintenance-window operations over gw_store (CreateMaintenanceWindow,
 *    Get/Describe/Delete, Register/Describe targets and tasks, Describe
 *    executions / execution tasks / task invocations) and the tick that
 *    opens windows when their schedule fires: each RUN_COMMAND task becomes
 *    a command (gw_cmd) whose invocations are delivered to online targets at
 *    once and to targets that reconnect before the window's cutoff.
 *
 * Ownership: schedules are plain values; the operation table is static.
 */
#ifndef GW_MW_H
#define GW_MW_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "gw_ssm.h"

#define GW_MW_EXPR_MAX 256
#define GW_MW_TZ_MAX 64
#define GW_MW_YEAR_MIN 1970
#define GW_MW_YEAR_MAX 2199

enum gw_mw_kind {
	GW_MW_CRON = 1,
	GW_MW_RATE,
	GW_MW_AT
};

/* A parsed cron expression: bit i set = value i allowed. */
struct gw_mw_cron {
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

struct gw_mw_sched {
	enum gw_mw_kind kind;
	struct gw_mw_cron cron;
	int64_t rate_s;        /* rate period in seconds */
	int at_y, at_mo, at_d, at_h, at_mi, at_s;  /* at() wall time */
};

/* Parse a schedule expression (cron/rate/at); DH_E_FORMAT with the reason. */
int gw_mw_sched_parse(const char *expr, struct gw_mw_sched *out,
    struct dh_err *err);

/* 1 when tz is "" / NULL (UTC) or names a zone file under
 * /usr/share/zoneinfo (no "..", [A-Za-z0-9_+-/] only). */
int gw_mw_tz_valid(const char *tz);

/* The first fire time strictly after `after` (epoch seconds) into *next.
 * tz: IANA zone (NULL or "" = UTC); anchor: rate() origin (epoch seconds).
 * DH_E_NOTFOUND when the schedule never fires again (at() in the past,
 * cron beyond 2199); DH_E_ARG for an unknown zone. */
int gw_mw_sched_next(const struct gw_mw_sched *s, const char *tz,
    int64_t anchor, int64_t after, int64_t *next, struct dh_err *err);

/* The maintenance-window operation table (gw_mw_n_ops entries). */
extern const struct gw_ssm_op gw_mw_ops[];
extern const size_t gw_mw_n_ops;

/* Open every window whose schedule fired at or before now_ms: record an
 * execution, turn its tasks into commands (gw_cmd) over the registered
 * targets, and compute the next fire time.  Also closes executions whose
 * window ended.  Returns 0 or a store error. */
int gw_mw_tick(struct gw_store *st, const char *region, const char *account,
    int64_t now_ms, struct dh_err *err);

#endif
