/*
 * ss_transcript: the audited-session transcript, as seen by the session
 * worker (writer side) and by the agent (shipper side).
 *
 * Writer side.  ss_transcript_open creates the session's spool directory
 * <spool_dir>/<session id>/ and appends an OPEN record holding the session
 * identity and the sink settings (so a shipper started after a crash knows
 * where the backlog goes).  ss_transcript_write appends one framed,
 * hash-chained record (ss_record.h) with write(2) to the current segment
 * file; it never touches the network and never waits for fsync.  A flusher
 * thread owned by the transcript runs fdatasync(2) on the segment when it
 * holds unsynced bytes, at most every fsync_interval_ms (group commit).
 *
 * Durability guarantee (exact):
 *  - a record is in the kernel page cache when ss_transcript_write returns:
 *    killing the writer process (even with SIGKILL) loses nothing that a
 *    completed ss_transcript_write call accepted;
 *  - a record survives power loss / kernel crash once the first fdatasync
 *    started after the write returns (at most fsync_interval_ms later plus
 *    the fsync's own time), or once ss_transcript_sync / ss_transcript_close
 *    return;
 *  - after a power loss the spool keeps a prefix of the records: recovery
 *    truncates a torn tail record and the chain continues from the last
 *    intact record (a RECOVER record marks the restart point).
 * The shipper fdatasyncs a segment before sending what it read from it, so
 * nothing that could still vanish from the spool is ever shipped.
 *
 * Spool cap: the total size of all sessions' segments is bounded by
 * spool_cap_bytes.  With SS_POLICY_FAIL_OPEN (default) a write that would
 * cross the cap is dropped and counted; the next write that fits first
 * appends a GAP record (dropped record and byte counts, time span) so the
 * hole is explicit and verifiable.  With SS_POLICY_FAIL_CLOSED the write
 * returns DH_E_TOOBIG and the caller must end the session.
 *
 * Shipper side.  ss_shipper_start runs a thread that scans <spool_dir>
 * (every session, including ones left by a crashed agent), reads each
 * session's records in sequence order and feeds the sinks named in its
 * OPEN record: CloudWatch Logs streaming (ss_sink_cw.c) and S3 at seal
 * (ss_sink_s3.c).  A segment is deleted only after every sink acknowledged
 * every record in it; acks are persisted per session so a restart resumes
 * (CloudWatch delivery is at-least-once across a crash between a successful
 * PutLogEvents and the ack file update; every event carries its record
 * sequence number so duplicates are identifiable).  Network failures are
 * retried with backoff forever; a session's spool directory is removed once
 * it is sealed and fully acknowledged.
 *
 * Threads: one struct ss_transcript is used by one writer thread at a time
 * (its flusher thread is internal).  The shipper is self-contained; several
 * processes may write different sessions into the same spool_dir while one
 * shipper ships them.  Only one shipper per spool_dir (enforced with a lock
 * file: a second one gets DH_E_STATE).
 */
#ifndef SS_TRANSCRIPT_H
#define SS_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "dh_err.h"
#include "ss_record.h"

#define SS_DEFAULT_SPOOL_CAP (256ull * 1024 * 1024)
#define SS_DEFAULT_FSYNC_MS 5
#define SS_DEFAULT_SEGMENT_BYTES (8u * 1024 * 1024)
#define SS_ID_MAX 128       /* session id, instance id, user (with NUL) */
#define SS_NAME_MAX 512     /* log group/stream, bucket, prefix (with NUL) */

enum ss_policy {
	SS_POLICY_FAIL_OPEN = 0, /* drop + GAP record when the spool is full */
	SS_POLICY_FAIL_CLOSED    /* DH_E_TOOBIG: the session must end */
};

/* Sink settings for one session, from the Session document inputs.  All
 * strings are borrowed for the duration of ss_transcript_open (copied into
 * the OPEN record).  Empty/NULL group disables CloudWatch, empty/NULL bucket
 * disables S3; with neither, records are still spooled and verified, and
 * the shipper deletes them once sealed. */
struct ss_sink_config {
	const char *cw_group;          /* cloudWatchLogGroupName */
	const char *cw_stream;         /* NULL/"" = the session id */
	int cw_streaming;              /* cloudWatchStreamingEnabled: 1 = ship
	                                * while the session runs, 0 = at seal */
	int cw_encryption_required;    /* cloudWatchEncryptionEnabled */
	const char *s3_bucket;         /* s3BucketName */
	const char *s3_prefix;         /* s3KeyPrefix (may be NULL) */
	int s3_encryption_required;    /* s3EncryptionEnabled */
	const char *region;            /* awsRegion written in CW events */
	const char *owner_arn;         /* userIdentity.arn in CW events */
};

/* Writer settings.  Strings and the key are borrowed for the call. */
struct ss_transcript_config {
	const char *spool_dir;         /* e.g. /var/lib/deckhand/spool (made 0700) */
	const char *session_id;
	const char *instance_id;       /* mi-... / i-... */
	const char *run_as_user;
	int log_input;                 /* 1: INPUT records are kept, 0: dropped */
	struct ss_sink_config sinks;
	enum ss_policy policy;
	uint64_t spool_cap_bytes;      /* 0 = SS_DEFAULT_SPOOL_CAP */
	uint32_t segment_bytes;        /* 0 = SS_DEFAULT_SEGMENT_BYTES */
	uint32_t fsync_interval_ms;    /* 0 = SS_DEFAULT_FSYNC_MS */
	/* Optional HMAC-SHA-256 key for the seal record (see ss_record.h);
	 * NULL = unkeyed seal.  Copied and wiped on close. */
	const unsigned char *seal_key;
	size_t seal_key_len;
};

struct ss_transcript;

/* Writer statistics (ss_transcript_stats). */
struct ss_transcript_stats {
	uint64_t records;              /* records appended (OPEN/GAP/SEAL included) */
	uint64_t bytes;                /* payload bytes appended */
	uint64_t dropped_records;      /* fail-open drops */
	uint64_t dropped_bytes;
	uint64_t fsyncs;               /* fdatasync calls made */
	uint64_t last_seq;
};

/* Create the session's spool directory and append the OPEN record; *out is
 * owned by the caller (ss_transcript_close or ss_transcript_abandon frees
 * it).  DH_E_EXISTS when the session already has a spool (use a new id),
 * DH_E_TOOBIG when the cap is already reached under FAIL_CLOSED. */
int ss_transcript_open(const struct ss_transcript_config *cfg,
    struct ss_transcript **out, struct dh_err *err);

/* Append one record of kind (SS_KIND_OUTPUT, SS_KIND_INPUT, SS_KIND_RESIZE,
 * SS_KIND_EVENT) with bytes[0..n) at wall-clock time now_us (microseconds
 * since the Unix epoch; 0 = read CLOCK_REALTIME).  RESIZE bytes are
 * "<cols>x<rows>" text; EVENT bytes are free text.  INPUT with log_input off
 * returns 0 without writing.  Never blocks on the network; see the
 * durability and cap rules above. */
int ss_transcript_write(struct ss_transcript *t, enum ss_kind kind,
    const void *bytes, size_t n, uint64_t now_us, struct dh_err *err);

/* Wait until every record appended so far is on stable storage. */
int ss_transcript_sync(struct ss_transcript *t, struct dh_err *err);

/* Append the SEAL record (exit status, counts, final chain link, optional
 * HMAC), fdatasync, stop the flusher and free t (also on error). */
int ss_transcript_close(struct ss_transcript *t, int exit_status,
    uint64_t now_us, struct dh_err *err);

/* Free t without sealing (the worker is going away abnormally); the spool
 * stays and the shipper ships it unsealed, as a crash would leave it. */
void ss_transcript_abandon(struct ss_transcript *t);

/* Copy the writer statistics into *st. */
void ss_transcript_stats(const struct ss_transcript *t,
    struct ss_transcript_stats *st);

/* Last chain link (32 bytes) of t into link. */
void ss_transcript_link(const struct ss_transcript *t,
    unsigned char link[SS_LINK_LEN]);

/* Fresh AWS credentials for one batch of calls.  Filled by the callback;
 * the shipper wipes the struct after each use. */
struct ss_creds {
	char access_key[128];
	char secret_key[256];
	char session_token[4096];      /* "" when none */
};

/* Credentials provider: fill *out (zeroed by the caller) with the current
 * credentials; called before every batch because role credentials rotate.
 * Returns 0 or a DH_E_* code (the batch is retried later). */
typedef int (*ss_creds_fn)(void *arg, struct ss_creds *out,
    struct dh_err *err);

/* Shipper settings.  Strings are copied by ss_shipper_start. */
struct ss_shipper_config {
	const char *spool_dir;
	const char *region;            /* signing region, e.g. us-east-1 */
	const char *logs_endpoint;     /* NULL = https://logs.<region>.amazonaws.com */
	const char *s3_endpoint;       /* NULL = https://s3.<region>.amazonaws.com */
	const char *ca_file;           /* PEM bundle; NULL = system store */
	ss_creds_fn creds;             /* required */
	void *creds_arg;               /* borrowed; must outlive the shipper */
	uint32_t poll_ms;              /* spool scan period; 0 = 200 */
	uint32_t retry_max_ms;         /* backoff cap after sink failure; 0 = 30000 */
	/* Optional HMAC key to check sealed sessions with before upload;
	 * NULL = no check.  Copied. */
	const unsigned char *seal_key;
	size_t seal_key_len;
};

/* Shipper counters (ss_shipper_stats). */
struct ss_shipper_stats {
	uint64_t records_shipped;      /* records acknowledged by all sinks */
	uint64_t cw_events;            /* CloudWatch events accepted */
	uint64_t cw_calls;             /* PutLogEvents calls that succeeded */
	uint64_t s3_objects;           /* S3 objects uploaded */
	uint64_t sink_failures;        /* failed sink attempts (retried) */
	uint64_t sessions_done;        /* sealed sessions fully shipped + removed */
	uint64_t segments_deleted;
	char last_error[DH_ERR_MSG_MAX];
};

struct ss_shipper;

/* Start the shipper thread on cfg->spool_dir; *out owned by the caller
 * (ss_shipper_stop frees it).  DH_E_STATE when another shipper holds the
 * spool lock. */
int ss_shipper_start(const struct ss_shipper_config *cfg,
    struct ss_shipper **out, struct dh_err *err);

/* Ship synchronously until the spool is empty of complete work (every
 * sealed session shipped and removed, every open session shipped up to its
 * last record) or timeout_ms passes (DH_E_TIMEOUT). */
int ss_shipper_drain(struct ss_shipper *s, uint32_t timeout_ms,
    struct dh_err *err);

/* Copy the counters into *st (thread-safe). */
void ss_shipper_stats(struct ss_shipper *s, struct ss_shipper_stats *st);

/* Stop the thread (after its current call) and free s; NULL is fine. */
void ss_shipper_stop(struct ss_shipper *s);

/* Up-front check before a shell starts, as AWS does: with the shipper
 * settings cfg (spool_dir unused) run each configured sink's open check
 * for session_id/instance_id with sinks: the CloudWatch group must exist
 * (and carry a kmsKeyId when cw_encryption_required; the stream is created),
 * the bucket must have AES256/aws:kms default encryption when
 * s3_encryption_required.  DH_E_AUTH with "encryption is not set up ..."
 * or DH_E_NOTFOUND for a missing group means the session should fail (or
 * run without that sink); network errors are returned as they are.
 * Blocks on the network: call it before the shell, never per keystroke. */
int ss_transcript_check_sinks(const struct ss_shipper_config *cfg,
    const char *session_id, const char *instance_id,
    const struct ss_sink_config *sinks, struct dh_err *err);

#endif
