/*
 * ss_record: the transcript record format and its hash chain.
 *
 * A spool segment file is a plain concatenation of records; a session is
 * the concatenation of its segments in name order.  Every record is a
 * 64-byte header followed by len payload bytes (all integers big-endian):
 *
 *   off  size  field
 *     0     4  magic "DHTR"
 *     4     1  version (1)
 *     5     1  kind (enum ss_kind)
 *     6     2  flags (0; SEAL: SS_SEAL_ABANDONED when the shipper sealed it)
 *     8     4  len: payload bytes, at most SS_RECORD_MAX
 *    12     4  reserved, zero
 *    16     8  seq: 1 for the OPEN record, +1 per record, no holes
 *    24     8  time: wall clock, microseconds since the Unix epoch
 *    32    32  link = SHA-256(prev_link || header[0..32) || payload)
 *
 * prev_link of the first record (seq 1, always OPEN) is 32 zero bytes; the
 * OPEN payload names the session, so the chain is bound to it.  Changing,
 * removing, inserting or reordering any record breaks every later link;
 * seq makes the first broken record nameable.
 *
 * Payloads: OUTPUT/INPUT raw terminal bytes; RESIZE "<cols>x<rows>"; EVENT
 * free text; OPEN, GAP, RECOVER and SEAL carry one JSON object:
 *   OPEN    {"v":1,"session_id","instance_id","user","started_us",
 *            "sinks":{"cw_group","cw_stream","cw_streaming","cw_enc",
 *            "s3_bucket","s3_prefix","s3_enc","region","owner_arn"},
 *            "log_input","policy":"fail-open"|"fail-closed"}
 *   GAP     {"dropped_records","dropped_bytes","first_us","last_us"}
 *   RECOVER {"truncated_bytes","reason"}  (shipper found a torn tail)
 *   SEAL    {"exit_status","records","output_bytes","input_bytes",
 *            "gaps","last_link":hex,"hmac":hex (only when keyed),
 *            "abandoned":true|false}
 * records counts every record before the SEAL, last_link is the link of the
 * record just before it.  The optional HMAC is
 *   HMAC-SHA-256(key, "DHTR-SEAL1" || last_link || seq of SEAL (8 bytes BE))
 * so anyone holding the key can tell a genuine seal from a re-chained
 * forgery (an unkeyed chain only proves internal consistency).
 */
#ifndef SS_RECORD_H
#define SS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"

#define SS_RECORD_MAGIC "DHTR"
#define SS_RECORD_VERSION 1
#define SS_RECORD_HDR_LEN 64
#define SS_LINK_LEN 32
#define SS_RECORD_MAX (1024u * 1024)    /* payload ceiling per record */
#define SS_SEAL_ABANDONED 0x0001

enum ss_kind {
	SS_KIND_OPEN = 1,
	SS_KIND_OUTPUT = 2,
	SS_KIND_INPUT = 3,
	SS_KIND_RESIZE = 4,
	SS_KIND_EVENT = 5,
	SS_KIND_GAP = 6,
	SS_KIND_RECOVER = 7,
	SS_KIND_SEAL = 8
};

/* A decoded record.  payload points into the caller's buffer. */
struct ss_record {
	enum ss_kind kind;
	uint16_t flags;
	uint32_t len;
	uint64_t seq;
	uint64_t time_us;
	unsigned char link[SS_LINK_LEN];
	const unsigned char *payload;
};

/* Static lower-case name of kind ("output", ...), "unknown" otherwise. */
const char *ss_record_kind_name(int kind);

/* Build the header for a record following prev_link into hdr[64], computing
 * its link (also copied to link_out when non-NULL).  DH_E_ARG for a bad kind
 * or len > SS_RECORD_MAX. */
int ss_record_build(enum ss_kind kind, uint16_t flags, uint64_t seq,
    uint64_t time_us, const unsigned char prev_link[SS_LINK_LEN],
    const void *payload, size_t len, unsigned char hdr[SS_RECORD_HDR_LEN],
    unsigned char link_out[SS_LINK_LEN]);

/* Decode the record starting at p[0..n): DH_E_SHORT when n holds less than
 * the header plus payload (a torn tail), DH_E_FORMAT for a bad magic,
 * version, kind, reserved field or length.  On success *used is the record
 * size and rec->payload points into p.  The link is not checked. */
int ss_record_decode(const void *p, size_t n, struct ss_record *rec,
    size_t *used, struct dh_err *err);

/* 1 when rec's link equals SHA-256(prev_link || header || payload). */
int ss_record_link_ok(const struct ss_record *rec,
    const unsigned char prev_link[SS_LINK_LEN]);

/* Seal HMAC as documented above into out[32]. */
void ss_record_seal_hmac(const unsigned char *key, size_t klen,
    const unsigned char last_link[SS_LINK_LEN], uint64_t seal_seq,
    unsigned char out[SS_LINK_LEN]);

/* Chain verifier: feed records in order, then finish. */
#define SS_VERIFY_MAX_FINDINGS 64
struct ss_verify {
	unsigned char link[SS_LINK_LEN]; /* link of the last accepted record */
	uint64_t next_seq;
	uint64_t records;
	uint64_t output_bytes;
	uint64_t input_bytes;
	uint64_t gaps;                   /* GAP records seen */
	uint64_t gap_bytes;              /* bytes they report dropped */
	uint64_t recovers;
	int opened;
	int sealed;
	int abandoned;
	int broken;                      /* a chain/order error was found */
	int seal_key_checked;            /* 1 = HMAC present and verified */
	const unsigned char *key;        /* borrowed seal key or NULL */
	size_t key_len;
	char session_id[128];
	size_t n_findings;               /* may exceed the stored count */
	char findings[SS_VERIFY_MAX_FINDINGS][160];
};

/* Reset v; key (borrowed, may be NULL) enables the seal HMAC check. */
void ss_verify_init(struct ss_verify *v, const unsigned char *key,
    size_t klen);

/* Check one record: seq order, chain link, OPEN first, nothing after SEAL,
 * SEAL contents.  Problems become findings naming the record's seq;
 * returns DH_E_INTEGRITY on the first break (later records are checked
 * against their own predecessor so all damage is listed). */
int ss_verify_feed(struct ss_verify *v, const struct ss_record *rec);

/* Verify a whole byte stream p[0..n) (segments concatenated); a torn tail
 * becomes a finding.  Returns 0 when chain and seal are intact,
 * DH_E_INTEGRITY otherwise (details in v->findings). */
int ss_verify_buffer(struct ss_verify *v, const void *p, size_t n);

/* 1 when the verification found no damage, the session was opened and
 * sealed (and, with a key, the HMAC matched). */
int ss_verify_ok(const struct ss_verify *v);

/* Append one record (header + payload) following *link (updated) to out;
 * convenience for tests and tools.  *seq is used then incremented. */
int ss_record_append(struct dh_buf *out, enum ss_kind kind, uint16_t flags,
    uint64_t *seq, uint64_t time_us, unsigned char link[SS_LINK_LEN],
    const void *payload, size_t len, struct dh_err *err);

#endif
