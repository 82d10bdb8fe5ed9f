/*
 * gw_s3: the S3 subset the gateway serves (REST-XML, path-style
 * addressing "/bucket/key" as the CLI uses with an IP endpoint):
 * ListBuckets, CreateBucket (optional CreateBucketConfiguration /
 * LocationConstraint, which must name the gateway's region), HeadBucket,
 * DeleteBucket, GetBucketLocation, ListObjectsV2 (prefix, delimiter,
 * max-keys, continuation-token, start-after, encoding-type=url),
 * Put/Get/DeleteBucketEncryption, PutObject (ETag = MD5, Content-MD5
 * checked), GetObject (single Range), HeadObject, DeleteObject and
 * multipart uploads (Create/UploadPart/Complete/Abort; ETag
 * md5-of-part-md5s "-N"; EntityTooSmall for a part under 5 MiB that is not
 * the last).
 *
 * Authentication is S3's own: SigV4 with no path normalisation and no
 * double encoding, a 15-minute skew (RequestTimeTooSkewed), payload hashes
 * UNSIGNED-PAYLOAD, the empty-body hash or the real SHA-256 (checked
 * against the body: XAmzContentSHA256Mismatch), operator keys (IAM policy
 * with actions s3:PutObject, s3:GetObject, s3:ListBucket, ... on
 * arn:aws:s3:::bucket[/key]) and the temporary credentials of managed
 * instances (uploads, HeadBucket, GetBucketEncryption, HeadObject only).
 * Errors are S3 XML (<Error><Code>...) with x-amz-request-id; HEAD errors
 * carry no body.
 *
 * Request paths and queries arrive as libwebsockets delivers them: percent-
 * decoded, with "//", "/./" and "/../" collapsed.  Keys are taken as given
 * and the canonical URI is rebuilt by encoding the path once ('/' kept),
 * which is what clients send; keys containing "//" or dot segments cannot
 * be addressed through this server.
 *
 * Storage: objects are files <state>/s3/<bucket>/<uuid>.obj (parts
 * <uuid>.part), written to <state>/s3/.tmp first, fsync'd and renamed
 * into place, with metadata (key, size, ETag, type, time, file) in the
 * tables s3_buckets, s3_objects, s3_uploads and s3_parts.  Object and part
 * bodies reach the handler through a spool file (gw_s3_spool) that
 * gw_server fills while the body arrives, hashing MD5 and SHA-256 on the
 * way, so bodies up to GW_S3_MAX_BODY never sit in memory.
 *
 * Ownership: a spool is owned by whoever opened it (gw_s3_spool_free);
 * gw_s3_handle takes its file over on success.  Results own params.
 */
#ifndef GW_S3_H
#define GW_S3_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "dh_buf.h"
#include "dh_err.h"
#include "gw_api.h"
#include "gw_auth.h"
#include "gw_store.h"

#define GW_S3_MAX_BODY (64ULL * 1024 * 1024)   /* one PUT / UploadPart */
#define GW_S3_MIN_PART (5ULL * 1024 * 1024)    /* all parts but the last */
#define GW_S3_MAX_PARTS 10000
#define GW_S3_MAX_KEY 1024
#define GW_S3_MAX_SKEW 900                     /* seconds */
#define GW_S3_MAX_XML (1024 * 1024)            /* XML request bodies */

struct gw_s3_spool;

/* Who and where, for one call. */
struct gw_s3_ctx {
	struct gw_store *st;
	const char *state_dir;
	const char *region;
	const char *account;
	int64_t now_ms;
};

/* What one call resolved to (for audit). */
struct gw_s3_result {
	const char *op;             /* static operation name */
	const char *error_code;     /* static S3 code, NULL on success */
	char message[512];
	cJSON *params;              /* owned: bucketName, key, ... */
};

/* 1 when req is signed for the S3 service (credential scope ".../s3/...")
 * in its Authorization header or presigned query, else 0. */
int gw_s3_is_s3(const struct gw_api_req *req);

/* 1 when the head of req is an S3 object upload (PUT /bucket/key, incl.
 * UploadPart) whose body should be spooled to a file, else 0. */
int gw_s3_wants_spool(const struct gw_api_req *req);

/* Open a spool under <state_dir>/s3/.tmp accepting up to max bytes. */
int gw_s3_spool_open(const char *state_dir, uint64_t max,
    struct gw_s3_spool **out, struct dh_err *err);
/* Append body bytes; DH_E_TOOBIG past the limit, DH_E_IO on write errors. */
int gw_s3_spool_write(struct gw_s3_spool *sp, const void *p, size_t n,
    struct dh_err *err);
/* Bytes spooled so far. */
uint64_t gw_s3_spool_len(const struct gw_s3_spool *sp);
/* Close and unlink (unless taken over) and free; NULL is fine. */
void gw_s3_spool_free(struct gw_s3_spool *sp);

/* Answer one S3 request into resp (always filled: success or XML error),
 * authenticating into *who (caller clears it) and describing the call in
 * *res (caller frees res->params).  Returns 0 or DH_E_NOMEM. */
int gw_s3_handle(const struct gw_s3_ctx *c, const struct gw_api_req *req,
    struct gw_principal *who, struct gw_s3_result *res,
    struct gw_api_resp *resp);

/* ---- pure helpers (unit-tested and fuzzed) ---- */

/* Split a raw path-style path "/bucket[/key]" into bucket[bn] and the
 * percent-decoded key[kn] ("" when absent); DH_E_FORMAT on bad escapes,
 * DH_E_TOOBIG when a part does not fit. */
int gw_s3_parse_path(const char *path, char *bucket, size_t bn, char *key,
    size_t kn);

/* 1 when name is a valid bucket name (3..63 of a-z 0-9 . -, starting and
 * ending with a letter or digit, no "..", not an IPv4 address). */
int gw_s3_valid_bucket(const char *name);

/* Value of query parameter name (percent-decoded) into out[n]; returns 1
 * when present (a bare "name" gives ""), 0 when absent, -1 when malformed
 * or too long. */
int gw_s3_query(const char *query, const char *name, char *out, size_t n);

/* Parse a Range header "bytes=a-b" / "bytes=a-" / "bytes=-n" against an
 * object of size bytes into [*first, *last]; DH_E_NOTFOUND when the header
 * is not a single byte range (serve the whole object), DH_E_ARG when it is
 * unsatisfiable (416 InvalidRange). */
int gw_s3_parse_range(const char *h, uint64_t size, uint64_t *first,
    uint64_t *last);

/* One part named by a CompleteMultipartUpload body. */
struct gw_s3_part {
	int number;
	char etag[80];      /* without quotes */
};

/* Parse a CompleteMultipartUpload XML body into parts[max] / *n;
 * DH_E_FORMAT (MalformedXML) on bad XML, missing or bad fields, DH_E_TOOBIG
 * past max parts. */
int gw_s3_parse_complete(const void *xml, size_t len,
    struct gw_s3_part *parts, size_t max, size_t *n, struct dh_err *err);

/* Parse a ServerSideEncryptionConfiguration body: algo[an] ("AES256",
 * "aws:kms" or "aws:kms:dsse"), kms[kn] ("" when absent), *bucket_key. */
int gw_s3_parse_encryption(const void *xml, size_t len, char *algo, size_t an,
    char *kms, size_t kn, int *bucket_key, struct dh_err *err);

/* Parse an optional CreateBucketConfiguration body: the LocationConstraint
 * into loc[n] ("" when absent or body empty). */
int gw_s3_parse_location(const void *xml, size_t len, char *loc, size_t n,
    struct dh_err *err);

/* A page of ListObjectsV2 over sorted keys. */
struct gw_s3_page {
	size_t *contents;        /* owned: indexes into keys */
	size_t n_contents;
	char **prefixes;         /* owned: common prefixes */
	size_t n_prefixes;
	int truncated;
	char *next;              /* owned: last key or prefix returned, when
	                            truncated (the continuation position) */
};

/* Build a page from keys[0..n) (sorted bytewise, all starting with
 * prefix and after the continuation position) with delimiter (NULL or "")
 * and max_keys (0..1000); *pg released with gw_s3_page_free.  after (NULL
 * = none) is the previous page's position: keys under a common prefix
 * equal to it are skipped. */
int gw_s3_list_page(const char *const *keys, size_t n, const char *prefix,
    const char *delimiter, size_t max_keys, const char *after,
    struct gw_s3_page *pg);
void gw_s3_page_free(struct gw_s3_page *pg);

/* Render an S3 XML error document into out. */
int gw_s3_error_xml(const char *code, const char *msg, const char *resource,
    const char *request_id, struct dh_buf *out);

/* Append s XML-escaped to out. */
int gw_s3_xml_escape(const char *s, struct dh_buf *out);

/* Multipart ETag (hex MD5 of the concatenated binary part MD5s, "-N")
 * from n hex part ETags into out[n]. */
int gw_s3_multipart_etag(const char *const *etags, size_t n, char *out,
    size_t outn);

#endif
