/*
 * ss_sink: transcript sinks behind one small vtable, stacked by the
 * shipper (ss_transcript.c).
 *
 * Contract of a sink:
 *  - open: one-time checks against the service (encryption required,
 *    stream creation).  A refusal (DH_E_AUTH, "encryption is not set up")
 *    keeps the records in the spool: the shipper retries later, nothing is
 *    ever sent to a destination that fails its check.
 *  - write(rec): take one record (seq strictly increasing, every record of
 *    the session from acked+1 on); it may only buffer.  DH_E_TOOBIG means
 *    "buffer full, flush first": the record was not taken and is offered
 *    again after a flush.  s->fed is the last seq taken.
 *  - flush(final): try to deliver what is buffered; on success s->acked
 *    advances to the highest seq such that every record <= it is stored by
 *    the destination (records that produce nothing, e.g. RESIZE for
 *    CloudWatch, are acknowledged together with the data around them).  On
 *    failure the buffered data is kept and the same flush is retried later.
 *    final is set once the SEAL record was taken.
 *  - want_flush(now): 1 when buffered data should go now (age/size).
 *  - close: free everything.
 * A segment may be deleted once every sink's acked covers it.
 *
 * Sinks: CloudWatch Logs (ss_sink_cw.c) and S3 (ss_sink_s3.c).
 */
#ifndef SS_SINK_H
#define SS_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "dh_aws.h"
#include "dh_buf.h"
#include "dh_err.h"
#include "ss_record.h"

#define SS_SINK_MAX 4

/* Session identity and sink settings, as stored in the OPEN record. */
struct ss_session_info {
	char session_id[128];
	char instance_id[128];
	char user[128];
	uint64_t started_us;
	char cw_group[512];
	char cw_stream[512];
	int cw_streaming;
	int cw_enc;
	char s3_bucket[512];
	char s3_prefix[512];
	int s3_enc;
	char region[64];
	char owner_arn[512];
	int log_input;
	int fail_closed;
};

/* Serialise info as the OPEN record JSON (ss_record.h) into out. */
int ss_sink_open_json(const struct ss_session_info *info, struct dh_buf *out,
    struct dh_err *err);

/* Parse an OPEN record payload into info. */
int ss_sink_parse_open(const void *p, size_t n, struct ss_session_info *info,
    struct dh_err *err);

/* What sinks use to reach their service; owned by the shipper, which sets
 * fresh credentials in aws->creds before every open/flush call. */
struct ss_sink_env {
	struct dh_aws_client *aws;
	const char *region;        /* signing region */
	const char *logs_url;      /* CloudWatch Logs base URL */
	const char *s3_url;        /* S3 base URL */
	const char *sdir;          /* the session's spool directory */
};

struct ss_sink;

struct ss_sink_ops {
	const char *name;          /* "cw", "s3": key in the acks file */
	int (*open)(struct ss_sink *s, struct dh_err *err);
	int (*write)(struct ss_sink *s, const struct ss_record *rec,
	    struct dh_err *err);
	int (*flush)(struct ss_sink *s, int final, struct dh_err *err);
	int (*want_flush)(struct ss_sink *s, int64_t now_ms);
	void (*close)(struct ss_sink *s);
};

struct ss_sink {
	const struct ss_sink_ops *ops;
	const struct ss_session_info *info; /* borrowed */
	const struct ss_sink_env *env;      /* borrowed */
	void *impl;                         /* owned by the sink */
	uint64_t acked;
	uint64_t fed;
	int opened;
	uint64_t events;                    /* CW events accepted */
	uint64_t calls;                     /* successful service calls */
	uint64_t objects;                   /* S3 objects stored */
};

/* Create the CloudWatch Logs sink for info (cw_group must be set). */
int ss_sink_cw_new(const struct ss_session_info *info,
    const struct ss_sink_env *env, struct ss_sink **out, struct dh_err *err);

/* Create the S3 sink for info (s3_bucket must be set). */
int ss_sink_s3_new(const struct ss_session_info *info,
    const struct ss_sink_env *env, struct ss_sink **out, struct dh_err *err);

/* Close and free s (NULL is fine). */
void ss_sink_free(struct ss_sink *s);

/* The stacked sinks of one session. */
struct ss_sink_stack {
	struct ss_sink *v[SS_SINK_MAX];
	size_t n;
};

/* Create every sink info asks for (none is valid: records then only need
 * the seal to be deleted). */
int ss_sink_stack_build(const struct ss_session_info *info,
    const struct ss_sink_env *env, struct ss_sink_stack *st,
    struct dh_err *err);

/* Lowest acked over the stack; last_seq when the stack is empty. */
uint64_t ss_sink_stack_acked(const struct ss_sink_stack *st,
    uint64_t last_seq);

/* Lowest fed over the stack; last_seq when the stack is empty. */
uint64_t ss_sink_stack_fed(const struct ss_sink_stack *st, uint64_t last_seq);

/* Free every sink. */
void ss_sink_stack_free(struct ss_sink_stack *st);

/* CloudWatch Logs PutLogEvents limits (see the reference notes). */
#define SS_CW_EVENT_OVERHEAD 26
#define SS_CW_MAX_EVENT (256u * 1024)           /* message + overhead */
#define SS_CW_MAX_BATCH_BYTES 1048576u
#define SS_CW_MAX_BATCH_EVENTS 10000u
#define SS_CW_MAX_SPAN_MS (24ll * 3600 * 1000)  /* last - first < this */

/* An event as the batcher sees it. */
struct ss_cw_event {
	int64_t ts_ms;
	size_t len;                 /* UTF-8 message bytes */
};

/* Number of events from ev[0..n) (chronological) that form the next
 * PutLogEvents call: at most 10,000 events, sum(len + 26) <= 1,048,576,
 * last.ts - first.ts < 24 h; at least 1 when n > 0. */
size_t ss_sink_cw_batch(const struct ss_cw_event *ev, size_t n);

/* The message of one streaming event (reference agent format plus a
 * "deckhand" member with the record range) into out:
 * {"eventVersion":"1.0","eventTime":...,"awsRegion":...,"target":{"id"},
 *  "userIdentity":{"arn"},"runAsUser","sessionId",
 *  "deckhand":{"firstSeq","lastSeq"},"sessionData":[lines]}.
 * lines holds n_lines NUL-separated UTF-8 lines. */
int ss_sink_cw_message(const struct ss_session_info *info, int64_t ts_ms,
    uint64_t first_seq, uint64_t last_seq, const char *lines,
    size_t lines_len, struct dh_buf *out, struct dh_err *err);

#endif
