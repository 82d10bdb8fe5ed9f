/*
 * gw_logs: the CloudWatch Logs subset the gateway serves (AWS JSON 1.1,
 * target prefix "Logs_20140328.", signing name "logs"): CreateLogGroup
 * (optional kmsKeyId, which must name a key of the gateway's KMS),
 * DeleteLogGroup, DescribeLogGroups, PutRetentionPolicy, CreateLogStream,
 * DescribeLogStreams, PutLogEvents, GetLogEvents and FilterLogEvents, as
 * functions of (request JSON, store, caller, clock), stored in the
 * gateway's SQLite database.
 *
 * PutLogEvents applies the service's limits: 1..10,000 events, a batch of
 * at most 1,048,576 bytes counted as UTF-8 message bytes plus 26 bytes per
 * event, at most 262,144 bytes per event (same counting), non-empty
 * messages, chronological order and a span of at most 24 hours (all
 * InvalidParameterException).  Events more than 2 hours in the future or
 * more than 14 days old (or older than the group's retention) are skipped
 * and reported in rejectedLogEventsInfo (tooNewLogEventStartIndex,
 * tooOldLogEventEndIndex, expiredLogEventEndIndex).  sequenceToken is
 * optional and otherwise ignored, except that repeating the previous
 * call's token with the identical batch answers DataAlreadyAcceptedException
 * (a retried upload whose answer was lost); nextSequenceToken is returned.
 *
 * GetLogEvents paginates with "f/<ts>/<id>" and "b/<ts>/<id>" cursors
 * (events strictly after / before a position in (timestamp, ingestion
 * order)); at the end of the stream the forward token repeats.
 * FilterLogEvents accepts simple text patterns: space-separated terms that
 * must all occur, "quoted phrases", ?terms of which at least one must occur,
 * and -terms that must not occur (case-sensitive substring matches, as the
 * service does); JSON and space-delimited patterns are refused.
 *
 * Ownership: results own their cJSON body (gw_ssm_result_free).  The pure
 * helpers below borrow their inputs.
 */
#ifndef GW_LOGS_H
#define GW_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "gw_ssm.h"

#define GW_LOGS_MAX_EVENTS 10000
#define GW_LOGS_MAX_BATCH 1048576
#define GW_LOGS_EVENT_OVERHEAD 26
#define GW_LOGS_MAX_EVENT 262144
#define GW_LOGS_MAX_SPAN_MS (24LL * 3600 * 1000)
#define GW_LOGS_MAX_FUTURE_MS (2LL * 3600 * 1000)
#define GW_LOGS_MAX_AGE_MS (14LL * 24 * 3600 * 1000)
#define GW_LOGS_MAX_RESPONSE 1048576   /* message bytes in one answer */
#define GW_LOGS_MAX_TERMS 32
#define GW_LOGS_MAX_PATTERN 1024

/* The Logs operation table (gw_logs_n_ops entries), registered in gw_ops.c. */
extern const struct gw_ssm_op gw_logs_ops[];
extern const size_t gw_logs_n_ops;

/* One event of a batch, as the limit check sees it. */
struct gw_logs_event {
	int64_t ts;        /* milliseconds since the epoch */
	size_t len;        /* UTF-8 message bytes */
};

/* Outcome of gw_logs_check_batch. */
struct gw_logs_verdict {
	const char *error;     /* NULL, or "InvalidParameterException" */
	char message[256];
	long too_new_start;    /* first index too far in the future, or -1 */
	long too_old_end;      /* last index older than 14 days, or -1 */
	long expired_end;      /* last index older than the retention, or -1 */
};

/* Check a batch of n events against the PutLogEvents limits at now_ms with
 * a group retention of retention_days (0 = never expire); fills *v.
 * Returns 0 (v->error says whether the batch is refused). */
int gw_logs_check_batch(const struct gw_logs_event *ev, size_t n,
    int64_t now_ms, int retention_days, struct gw_logs_verdict *v);

/* A compiled filter pattern. */
struct gw_logs_filter {
	char *text;                            /* owned storage for terms */
	const char *term[GW_LOGS_MAX_TERMS];   /* pointers into text */
	char kind[GW_LOGS_MAX_TERMS];          /* '+' all, '?' any, '-' none */
	size_t n;
	size_t n_any;
};

/* Compile pattern (NULL or "" matches everything) into *f (release with
 * gw_logs_filter_free); DH_E_FORMAT on an unterminated quote, JSON or
 * space-delimited patterns, DH_E_TOOBIG past GW_LOGS_MAX_TERMS or
 * GW_LOGS_MAX_PATTERN. */
int gw_logs_filter_parse(const char *pattern, struct gw_logs_filter *f,
    struct dh_err *err);

/* 1 when message matches f, else 0. */
int gw_logs_filter_match(const struct gw_logs_filter *f, const char *msg);

/* Release a compiled filter (safe on a zeroed one). */
void gw_logs_filter_free(struct gw_logs_filter *f);

/* Parse a GetLogEvents token "f/<ts>/<id>" or "b/<ts>/<id>" into *dir
 * ('f' or 'b'), *ts and *id; DH_E_FORMAT otherwise. */
int gw_logs_token_parse(const char *tok, char *dir, int64_t *ts, int64_t *id);

#endif
