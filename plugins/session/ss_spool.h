/*
 * ss_spool: the on-disk transcript spool.
 *
 * Layout: <spool_dir>/<session id>/ holds append-only segment files
 * "seg-<first seq as 16 hex digits>.dtr" (records as in ss_record.h,
 * concatenated; the session is the segments in name order), a lock file
 * "writer.lock" held (flock LOCK_EX) by the live writer, and the shipper's
 * "acks" file.  A segment is closed for good once the next one exists.
 *
 * Writer: appends with one writev(2) per record; a flusher thread makes
 * them durable with fdatasync(2) at most every fsync_ms (group commit), and
 * fsyncs the directory when a segment was created.  ss_spool_writer_sync
 * waits for everything appended so far.
 *
 * Recovery: ss_spool_recover walks every segment checking structure, seq
 * and chain; in the last segment a torn or broken tail (left by a power
 * loss while the batch was not yet synced) is truncated and the bytes cut
 * are reported, so a writer can continue the chain after the last intact
 * record.  Damage before the last segment's tail is never truncated: it is
 * reported as DH_E_INTEGRITY.
 *
 * Reading: a cursor returns complete records in order across segments;
 * an incomplete record at the end (a writer mid-append) reads as "nothing
 * yet".
 */
#ifndef SS_SPOOL_H
#define SS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "ss_record.h"

#define SS_SPOOL_PATH_MAX 1024
#define SS_SPOOL_SEG_NAME 32

/* 0 when id is a usable session id: 1..127 bytes of [A-Za-z0-9._@=+-],
 * not starting with '.'. */
int ss_spool_check_id(const char *id, struct dh_err *err);

/* <dir>/<id> into out[n]. */
int ss_spool_session_dir(const char *dir, const char *id, char *out,
    size_t n, struct dh_err *err);

/* Total bytes of every segment of every session under dir. */
int ss_spool_usage(const char *dir, uint64_t *bytes, struct dh_err *err);

/* Session ids present under dir, sorted; *ids owned (free()), each entry
 * a NUL-terminated id in a 128-byte slot. */
int ss_spool_list_sessions(const char *dir, char (**ids)[128], size_t *n,
    struct dh_err *err);

/* A segment of a session. */
struct ss_spool_seg {
	char name[SS_SPOOL_SEG_NAME];
	uint64_t first_seq;
	uint64_t size;
};

/* Segments of session directory sdir in seq order; *segs owned (free()). */
int ss_spool_list_segments(const char *sdir, struct ss_spool_seg **segs,
    size_t *n, struct dh_err *err);

/* 1 when a live writer holds sdir's writer lock, 0 when none does. */
int ss_spool_writer_alive(const char *sdir);

struct ss_spool_writer;

/* Open a writer on session directory sdir (created 0700 when create is 1;
 * DH_E_EXISTS then if it exists).  Takes the writer lock (DH_E_STATE when
 * held).  The next record appended has sequence next_seq; a new segment is
 * started for it.  fsync_ms is the group-commit period. *out owned. */
int ss_spool_writer_open(const char *sdir, int create, uint64_t next_seq,
    uint32_t seg_bytes, uint32_t fsync_ms, struct ss_spool_writer **out,
    struct dh_err *err);

/* Append one record (hdr + payload) with sequence seq; starts a new segment
 * first when the current one would pass seg_bytes.  A short write is undone
 * (the file is truncated back) and reported as DH_E_IO. */
int ss_spool_writer_append(struct ss_spool_writer *w,
    const unsigned char hdr[SS_RECORD_HDR_LEN], const void *payload,
    size_t len, uint64_t seq, struct dh_err *err);

/* Wait until everything appended before the call is on stable storage. */
int ss_spool_writer_sync(struct ss_spool_writer *w, struct dh_err *err);

/* Directory fd of the session (borrowed; valid until close): lets the
 * caller create files next to the segments even after a rename. */
int ss_spool_writer_dirfd(const struct ss_spool_writer *w);

/* fdatasync calls made by the flusher so far. */
uint64_t ss_spool_writer_fsyncs(const struct ss_spool_writer *w);

/* Sync, stop the flusher, release the lock and free w (NULL is fine). */
void ss_spool_writer_close(struct ss_spool_writer *w);

/* What recovery found. */
struct ss_spool_tail {
	uint64_t next_seq;                /* seq the next record gets */
	unsigned char link[SS_LINK_LEN];  /* link of the last intact record */
	uint64_t records;                 /* intact non-SEAL records */
	uint64_t output_bytes;
	uint64_t input_bytes;
	uint64_t gaps;
	uint64_t last_time_us;
	uint64_t truncated_bytes;         /* cut from the last segment */
	int sealed;
};

/* Walk session directory sdir as described above; truncate a torn tail
 * only when truncate is 1 (and no writer holds the lock).  DH_E_INTEGRITY
 * for damage that is not a tail, DH_E_NOTFOUND for no segments. */
int ss_spool_recover(const char *sdir, int truncate,
    struct ss_spool_tail *tail, struct dh_err *err);

/* A reading position in one session. */
struct ss_spool_cursor {
	char sdir[SS_SPOOL_PATH_MAX];
	char seg[SS_SPOOL_SEG_NAME];  /* current segment ("" before start) */
	int fd;
	uint64_t off;                 /* offset of the next record */
	uint64_t next_seq;            /* seq the next record must carry */
	struct dh_buf buf;            /* payload of the last record read */
};

/* Position c before the record with sequence seq (>= 1). */
int ss_spool_cursor_open(struct ss_spool_cursor *c, const char *sdir,
    uint64_t seq, struct dh_err *err);

/* Next complete record into rec (payload valid until the next call).
 * DH_E_NOTFOUND when no complete record is available yet; DH_E_INTEGRITY
 * when the record found does not carry the expected seq; DH_E_FORMAT for
 * garbage. */
int ss_spool_cursor_next(struct ss_spool_cursor *c, struct ss_record *rec,
    struct dh_err *err);

/* fdatasync the cursor's current segment (so what was read is durable). */
int ss_spool_cursor_sync(struct ss_spool_cursor *c, struct dh_err *err);

/* Close the cursor's file and buffer. */
void ss_spool_cursor_close(struct ss_spool_cursor *c);

/* Delete every segment whose records all have seq <= acked, keeping the
 * last segment unless keep_last is 0.  *deleted counts removals. */
int ss_spool_delete_acked(const char *sdir, uint64_t acked, int keep_last,
    uint64_t *deleted, struct dh_err *err);

/* Remove session directory sdir and everything in it. */
int ss_spool_remove_session(const char *sdir, struct dh_err *err);

#endif
